/* libFuzzer: bytes from the network as a stream of HTTP requests, through
 * http-parser, our callbacks, URL/query decoding, routing and the shared
 * parameter and JSON-body parsing. */
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "http/http_int.h"
#include "lib/cn_log.h"

int http__fuzz_parse(const void *data, size_t n, const struct http_config *cfg,
                     const struct http_env *env);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct acl_resolver *acl;
    if (!acl) {
        struct acl_config ac = {.default_allow = true};
        acl = acl_resolver_new(&ac);
        cn_log_set_level(CN_LOG_OFF);
    }
    struct http_config cfg = {.kv_max_value = 4096, .txn_max_req = 4096,
                              .discovery_max_stale_ns = 2000000000};
    struct http_env env = {.acl = acl};
    http__fuzz_parse(data, size, &cfg, &env);
    return 0;
}
