/* status.c - /v1/status/leader and /v1/status/peers (no ACL, as Consul). */
#include "http/http_int.h"
#include "lib/cn_common.h"

static void http_status_leader(struct http_req *r)
{
    struct cn_jw w;
    http_json_begin(r, &w);
    cn_jw_str(&w, rpc_leader(r->env->rpc));
    http_reply_json(r, 200, &w);
}

static void http_status_peers(struct http_req *r)
{
    const char *peers[16];
    struct cn_jw w;
    size_t n = rpc_peers(r->env->rpc, peers, CN_ARRAY_SIZE(peers));
    http_json_begin(r, &w);
    cn_jw_arr_begin(&w);
    for (size_t i = 0; i < n && i < CN_ARRAY_SIZE(peers); i++) cn_jw_str(&w, peers[i]);
    cn_jw_arr_end(&w);
    http_reply_json(r, 200, &w);
}

const struct http_route http_routes_status[] = {
    {"/v1/status/leader", M_GET, http_status_leader, 0, ROUTE_NO_ACL},
    {"/v1/status/peers", M_GET, http_status_peers, 0, ROUTE_NO_ACL},
    HTTP_ROUTES_END,
};
