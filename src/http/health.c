/* health.c - the /v1/health endpoints (Consul's HealthEndpoint). */
#include <string.h>

#include "http/catalog_int.h"
#include "lib/cn_common.h"
#include "rpc/rpc_health.h"

static void health_done(struct rpc_query *q, int rc)
{
    struct http_req *r = q->arg;
    const struct rpc_health_req *req = q->req;
    const struct rpc_health_resp *o = q->resp;
    struct rpc_filter *filter = http_read_take_filter(r);
    struct cn_jw w;
    http_read_headers(r, q);
    if (rc) {
        http_reply_error(r, rc, q->err.msg);
        http_read_finish(q, filter);
        return;
    }
    http_json_begin(r, &w);
    cn_jw_arr_begin(&w);
    if (req->op == RPC_HEALTH_SERVICE) {
        for (size_t i = 0; i < o->nrows; i++) rpc_json_csn(&w, &o->rows[i], http_datacenter(r));
    } else {
        for (size_t i = 0; i < o->nchecks; i++) rpc_json_health_check(&w, o->checks[i]);
    }
    cn_jw_arr_end(&w);
    http_reply_json(r, 200, &w);
    http_read_finish(q, filter);
}

static void health_read(struct http_req *r, enum rpc_health_read op, const char *missing)
{
    struct rpc_query_opts opts;
    struct rpc_health_req *req = CN_ARENA_NEW(&r->arena, struct rpc_health_req);
    struct rpc_filter *filter;
    if (!http_parse_query_opts(r, &opts)) return;
    req->op = op;
    req->name = cn_str_from(r->suffix);
    if (!req->name.len) {
        http_reply_text(r, 400, "%s", missing);
        return;
    }
    if (op == RPC_HEALTH_SERVICE) {
        /* ?passing alone or with a true value; a false one means no
         * filtering; anything else is refused (Consul's rule). */
        const char *p = http_param(r, "passing");
        if (p) {
            bool b = true;
            if (*p && cn_parse_bool(cn_str_from(p), &b)) {
                http_reply_text(r, 400, "Invalid value for ?passing");
                return;
            }
            req->passing = b;
        }
        http_parse_tags(r, &req->tags, &req->ntags);
    }
    http_parse_node_meta(r, &req->node_meta, &req->nnode_meta);
    req->near = http_param(r, "near"); /* _agent was resolved before routing (coordinate.c) */
    if (!http_parse_filter(r, op == RPC_HEALTH_SERVICE ? rpc_fs_check_service_node : rpc_fs_health_check,
                           &filter))
        return;
    req->filter = filter;
    http_read_start(r, &opts, rpc_health_run, health_done, req, filter);
}

static void http_health_node(struct http_req *r)
{
    health_read(r, RPC_HEALTH_NODE, "Missing node name");
}

static void http_health_checks(struct http_req *r)
{
    health_read(r, RPC_HEALTH_CHECKS, "Missing service name");
}

static void http_health_service(struct http_req *r)
{
    health_read(r, RPC_HEALTH_SERVICE, "Missing service name");
}

static void http_health_state(struct http_req *r)
{
    health_read(r, RPC_HEALTH_STATE, "Missing check state");
}

/* Mesh endpoints: no mesh, no instances. */
static void http_health_empty(struct http_req *r)
{
    struct cn_jw w;
    struct rpc_meta m = {.index = state_last_index(rpc_state(r->env->rpc)), .known_leader = true};
    http_add_meta_headers(r, &m);
    http_json_begin(r, &w);
    cn_jw_arr_begin(&w);
    cn_jw_arr_end(&w);
    http_reply_json(r, 200, &w);
}

const struct http_route http_routes_health[] = {
    {"/v1/health/node/", M_GET, http_health_node, 0, 0},
    {"/v1/health/checks/", M_GET, http_health_checks, 0, 0},
    {"/v1/health/service/", M_GET, http_health_service, 0, 0},
    {"/v1/health/state/", M_GET, http_health_state, 0, 0},
    {"/v1/health/connect/", M_GET, http_health_empty, 0, 0},
    {"/v1/health/ingress/", M_GET, http_health_empty, 0, 0},
    HTTP_ROUTES_END,
};
