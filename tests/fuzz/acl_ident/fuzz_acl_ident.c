/* fuzz_acl_ident - what a server answers a client agent resolving a token
 * (src/rpc/acl_ident.c), as the client decodes, parses and compiles it.
 *
 * The bytes come from a server over the cluster's RPC port, so any input
 * must decode or be refused without a crash or a leak. What decodes must
 * re-encode to bytes that decode to the same encoding; its rules, parsed
 * and cached in a client resolver (acl_cache_remote), must give an
 * authorizer that answers every question and keeps the core's rules: a
 * management token allows everything, and write implies read. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cn_arena.h"
#include "lib/cn_buf.h"
#include "rpc/rpc_acl_ident.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_authz(const struct rpc_acl_ident *id)
{
    static const char *const names[] = {"", "web", "app/x", "node-a", "x"};
    struct acl_config c = {.enabled = true, .datacenter = "dc1", .node_name = "n"};
    struct acl_resolver *r = acl_resolver_new(&c);
    struct rpc_acl_ident_parsed p;
    const struct acl_authz *a;
    acl_resolver_servers_down(r, false);
    rpc_acl_ident_parse(id, &p);
    acl_cache_remote(r, "secret", true, &p.id, 0);
    rpc_acl_ident_parsed_release(&p);
    int rc = acl_resolve(r, "secret", 1, &a);
    if (rc && !(rc == CN_EACLNOTFOUND && id->expires_ns && id->expires_ns <= 1)) abort();
    for (int res = 0; !rc && res < ACL_R__COUNT; res++) {
        for (size_t n = 0; n < sizeof names / sizeof *names; n++) {
            struct cn_str name = cn_str_from(names[n]);
            bool w = acl_allow(a, res, name, ACL_A_WRITE), rd = acl_allow(a, res, name, ACL_A_READ);
            if (id->management && !w) abort();
            if (w && !rd) abort();
        }
    }
    acl_resolver_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy: ASan catches a read past the end */
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    struct cn_arena a;
    struct rpc_acl_ident id, again;
    cn_arena_init(&a, 1024);
    if (rpc_acl_ident_decode(copy, size, &a, &id) == 0) {
        struct cn_buf b1, b2;
        cn_buf_init(&b1, CN_BUF_UNLIMITED);
        cn_buf_init(&b2, CN_BUF_UNLIMITED);
        rpc_acl_ident_encode(&id, &b1);
        if (rpc_acl_ident_decode(b1.data, b1.len, &a, &again)) abort();
        rpc_acl_ident_encode(&again, &b2);
        if (b1.len != b2.len || memcmp(b1.data, b2.data, b1.len)) abort();
        cn_buf_release(&b1);
        cn_buf_release(&b2);
        check_authz(&id);
    }
    cn_arena_release(&a);
    free(copy);
    return 0;
}
