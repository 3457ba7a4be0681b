/* fuzz_json_body - request bodies through the endpoints that decode them.
 *
 * The http harness stops at the generic JSON parse; here the body reaches
 * the endpoint's own field decoding and validation (txn operations, session
 * create, catalog register and deregister, ACL tokens, policies, the
 * legacy ACL API, coordinate updates) and, when it is valid, the write path
 * into a dev server's state store. The first input byte picks the endpoint,
 * the rest is the body. Any input must get an HTTP answer: no crash, no
 * hang, no leak. ACLs are on with a bootstrapped management token so the
 * ACL endpoints run. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl/acl.h"
#include "http/http.h"
#include "lib/cn_log.h"
#include "rpc/rpc.h"
#include "server/server.h"
#include "state/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const paths[] = {
    "/v1/txn",          "/v1/session/create", "/v1/catalog/register", "/v1/catalog/deregister",
    "/v1/acl/policy",   "/v1/acl/token",      "/v1/acl/create",       "/v1/acl/update",
    "/v1/coordinate/update",
};

static struct {
    uv_loop_t loop;
    struct state_store *st;
    struct server *srv;
    struct acl_resolver *acl;
    struct rpc *rpc;
    struct http_server *http;
    char token[64];
} F;

static char reply[1 << 16];
static size_t reply_len;
static bool answered;

static void on_reply(void *arg, const void *resp, size_t len)
{
    (void)arg;
    reply_len = len < sizeof reply - 1 ? len : sizeof reply - 1;
    memcpy(reply, resp, reply_len);
    reply[reply_len] = 0;
    answered = true;
}

static void run(const char *head, const uint8_t *body, size_t n)
{
    size_t hl = strlen(head);
    char *req = malloc(hl + n);
    memcpy(req, head, hl);
    if (n) memcpy(req + hl, body, n);
    answered = false;
    struct http_tunnel *t = http_server_inject(F.http, req, hl + n, "127.0.0.1", 0, on_reply, NULL);
    for (int i = 0; !answered && i < 100000; i++) uv_run(&F.loop, UV_RUN_ONCE);
    if (!answered) abort(); /* every request gets an answer */
    (void)t;
    free(req);
}

static void setup(void)
{
    struct cn_err err;
    cn_log_set_level(CN_LOG_OFF);
    uv_loop_init(&F.loop);
    F.st = state_new();
    struct server_config sc = {.node_name = "fuzz", .node_id = "11111111-2222-3333-4444-555555555555",
                               .datacenter = "dc1", .rpc_addr = "127.0.0.1:8300", .dev = true};
    if (server_new(&F.loop, &sc, NULL, F.st, &F.srv, &err)) abort();
    struct acl_config ac = {.enabled = true, .default_allow = false, .datacenter = "dc1", .st = F.st};
    F.acl = acl_resolver_new(&ac);
    struct rpc_config rc = {.datacenter = "dc1"};
    F.rpc = rpc_new(&rc, F.st, server_backend_ops(), F.srv, F.acl);
    struct http_config hc = {.kv_max_value = 4096, .txn_max_req = 65536};
    struct http_env env = {.rpc = F.rpc, .acl = F.acl};
    F.http = http_server_new(&F.loop, &hc, &env);
    /* let the dev server elect itself, then take the management token */
    for (int i = 0; i < 200 && !server_leader_id(F.srv); i++) uv_run(&F.loop, UV_RUN_ONCE);
    run("PUT /v1/acl/bootstrap HTTP/1.1\r\nContent-Length: 0\r\n\r\n", NULL, 0);
    const char *s = strstr(reply, "\"SecretID\":");
    if (!s || sscanf(s, "\"SecretID\":%*[ ]\"%63[^\"]\"", F.token) != 1) {
        if (!s || sscanf(s, "\"SecretID\":\"%63[^\"]\"", F.token) != 1) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!F.http) setup();
    if (!size) return 0;
    const char *path = paths[data[0] % (sizeof paths / sizeof paths[0])];
    char head[512];
    snprintf(head, sizeof head,
             "PUT %s HTTP/1.1\r\nHost: fuzz\r\nX-Consul-Token: %s\r\nContent-Length: %zu\r\n\r\n",
             path, F.token, size - 1);
    run(head, data + 1, size - 1);
    return 0;
}
