/*
 * router.c - the one route table, method checks, and the token resolution
 * every route goes through.
 */
#include <string.h>

#include "http/http_int.h"
#include "lib/cn_common.h"
#include "lib/cn_map.h"

/* The route families; those not built yet resolve to NULL. */
#define FAMILY(name) extern const struct http_route name[] __attribute__((weak));
FAMILY(http_routes_kv)
FAMILY(http_routes_status)
FAMILY(http_routes_agent)
FAMILY(http_routes_catalog)
FAMILY(http_routes_health)
FAMILY(http_routes_session)
FAMILY(http_routes_event)
FAMILY(http_routes_txn)
FAMILY(http_routes_acl)
FAMILY(http_routes_query)
FAMILY(http_routes_coordinate)
FAMILY(http_routes_operator)
FAMILY(http_routes_snapshot)
FAMILY(http_routes_internal)
#undef FAMILY

/* What the receiving agent settles before routing (coordinate.c: ?near=_agent
 * names this agent, disable_coordinates answers here); true = answered. */
bool http__pre_route_coordinate(struct http_req *r) __attribute__((weak));

static const struct http_route *const families[] = {
    http_routes_kv,      http_routes_status,     http_routes_agent,    http_routes_catalog,
    http_routes_health,  http_routes_session,    http_routes_event,    http_routes_txn,
    http_routes_acl,     http_routes_query,      http_routes_coordinate, http_routes_operator,
    http_routes_snapshot, http_routes_internal,
};

#define ROUTES_MAX 512
static struct http_route table[ROUTES_MAX];
static size_t ntable;
/* Exact paths and prefixes (ending in '/') in two hash maps: a lookup costs
 * one probe per '/' in the path, whatever the number of routes. */
static struct cn_map exact, prefixes;

static void build_table(void)
{
    if (ntable) return;
    cn_map_init(&exact);
    cn_map_init(&prefixes);
    for (size_t f = 0; f < CN_ARRAY_SIZE(families); f++) {
        if (!families[f]) continue;
        for (const struct http_route *rt = families[f]; rt->path; rt++) {
            CN_ASSERT(ntable < ROUTES_MAX);
            table[ntable] = *rt;
            struct cn_str p = cn_str_from(rt->path);
            cn_map_put(p.p[p.len - 1] == '/' ? &prefixes : &exact, p, &table[ntable]);
            ntable++;
        }
    }
}

const struct http_route *http_routes(size_t *n)
{
    build_table();
    *n = ntable;
    return table;
}

/* Longest matching route: an exact path, else the longest prefix route. */
const struct http_route *http_route_find(const char *path)
{
    size_t len = strlen(path);
    const struct http_route *rt;
    build_table();
    if ((rt = cn_map_get(&exact, cn_str_make(path, len)))) return rt;
    /* "/v1/kv" without its slash still reaches the KV handler (empty key). */
    if (len < 255 && len && path[len - 1] != '/') {
        char with[256];
        memcpy(with, path, len);
        with[len] = '/';
        if ((rt = cn_map_get(&prefixes, cn_str_make(with, len + 1)))) return rt;
    }
    for (size_t i = len; i-- > 0;) {
        if (path[i] != '/') continue;
        if ((rt = cn_map_get(&prefixes, cn_str_make(path, i + 1)))) return rt;
    }
    return NULL;
}

static void allow_header(struct http_req *r, unsigned methods)
{
    static const struct {
        unsigned bit;
        const char *name;
    } order[] = {{M_GET, "GET"}, {M_PUT, "PUT"}, {M_POST, "POST"}, {M_DELETE, "DELETE"}};
    char buf[64] = "OPTIONS";
    for (size_t i = 0; i < CN_ARRAY_SIZE(order); i++) {
        if (!(methods & order[i].bit)) continue;
        strcat(buf, ",");
        strcat(buf, order[i].name);
    }
    http_add_header(r, "Allow", "%s", buf);
}

static void dispatch(struct http_req *r, bool may_forward)
{
    const struct http_route *rt = r->route ? r->route : http_route_find(r->path);
    if (!rt) {
        if (!strcmp(r->path, "/") && r->method == M_GET) {
            http_reply_text(r, 200, "Consul Agent: UI disabled. To enable, set "
                                    "ui_config.enabled=true in the agent configuration and "
                                    "restart.");
        } else if (!strncmp(r->path, "/v1/", 4)) {
            http_reply_text(r, 404, "Invalid URL path: not a recognized HTTP API endpoint\n");
        } else {
            http_reply_text(r, 404, "Invalid URL path: if attempting to use the HTTP API, "
                                    "ensure the path starts with '/v1/'\n");
        }
        return;
    }
    r->route = rt;
    if (r->method == M_OPTIONS) {
        allow_header(r, rt->methods);
        http_reply_empty(r, 200);
        return;
    }
    if (!(r->method & rt->methods)) {
        allow_header(r, rt->methods);
        http_reply_text(r, 405, "method %s not allowed", r->method_name);
        return;
    }
    size_t n = strlen(rt->path);
    r->suffix = rt->path[n - 1] == '/' && strlen(r->path) >= n ? r->path + n : "";
    if (r->hops == 0 && http__pre_route_coordinate && http__pre_route_coordinate(r)) return;
    if (r->hops == 0) http__apply_discovery_max_stale(r);
    /* Every /v1/agent endpoint is the receiving agent's own business. */
    bool agent = !strncmp(r->path, "/v1/agent/", 10);
    bool local = (rt->flags & ROUTE_LOCAL) || agent;
    /* ...but a write for another datacenter (session create) is that
     * datacenter's business; local reads (event list) ignore ?dc as in Consul. */
    if (local && !agent && r->method != M_GET && r->env->rpc) {
        const char *dc = http_param(r, "dc"), *own = rpc_config(r->env->rpc)->datacenter;
        if (dc && *dc && strcmp(dc, own ? own : "dc1")) local = false;
    }
    if (may_forward && !local && r->env->route_request &&
        r->env->route_request(r->env->route_ctx, r))
        return; /* forwarded; answered later */
    if (!(rt->flags & ROUTE_NO_ACL) && r->env->token_wait &&
        r->env->token_wait(r->env->token_wait_ctx, r))
        return; /* a client agent asks a server; resumes in http_dispatch_resume */
    http_dispatch_resume(r);
}

void http_dispatch_resume(struct http_req *r)
{
    const struct http_route *rt = r->route;
    if (!(rt->flags & ROUTE_NO_ACL)) {
        int rc = rpc_authorize(r->env->rpc, r->token, &r->authz);
        if (rc) {
            http_reply_error(r, rc, NULL);
            return;
        }
    }
    rt->handler(r);
}

void http_dispatch(struct http_req *r)
{
    dispatch(r, true);
}

void http_dispatch_here(struct http_req *r)
{
    dispatch(r, false);
}
