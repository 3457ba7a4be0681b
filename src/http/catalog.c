/* catalog.c - the /v1/catalog endpoints (Consul's CatalogEndpoint) and the read helpers
 * the health and agent files share (catalog_int.h). */
#include <string.h>

#include "agent/defs.h"
#include "agent/agent.h"
#include "agent/cluster.h"
#include "http/catalog_int.h"
#include "lib/cn_common.h"
#include "lib/cn_json.h"

/* ---- shared helpers ------------------------------------------------------- */

size_t http_params_all(struct http_req *r, const char *name, const char ***out)
{
    size_t n = 0;
    const char **v = CN_ARENA_ARRAY(&r->arena, const char *, r->nparams + 1);
    for (size_t i = 0; i < r->nparams; i++)
        if (!strcmp(r->params[i].key, name)) v[n++] = r->params[i].value;
    *out = v;
    return n;
}

void http_parse_node_meta(struct http_req *r, const struct rpc_meta_filter **out, size_t *n)
{
    const char **v;
    size_t k = http_params_all(r, "node-meta", &v);
    struct rpc_meta_filter *f = CN_ARENA_ARRAY(&r->arena, struct rpc_meta_filter, k + 1);
    for (size_t i = 0; i < k; i++) {
        const char *colon = strchr(v[i], ':');
        f[i].key = colon ? cn_arena_strndup(&r->arena, v[i], (size_t)(colon - v[i])) : v[i];
        f[i].value = colon ? colon + 1 : "";
    }
    *out = f;
    *n = k;
}

void http_parse_tags(struct http_req *r, const struct cn_str **out, size_t *n)
{
    const char **v;
    size_t k = http_params_all(r, "tag", &v);
    struct cn_str *t = CN_ARENA_ARRAY(&r->arena, struct cn_str, k + 1);
    for (size_t i = 0; i < k; i++) t[i] = cn_str_from(v[i]);
    *out = t;
    *n = k;
}

bool http_parse_filter(struct http_req *r, const struct rpc_fschema *shape,
                       struct rpc_filter **out)
{
    const char *expr = http_param(r, "filter");
    struct cn_err err;
    *out = NULL;
    if (!expr || !*expr) return true;
    *out = rpc_filter_new(expr, shape, &err);
    if (!*out) {
        http_reply_text(r, 400, "%s", err.msg);
        return false;
    }
    return true;
}

const char *http_datacenter(struct http_req *r)
{
    const struct rpc_config *c = rpc_config(r->env->rpc);
    return c->datacenter ? c->datacenter : "dc1";
}

static void read_cancel(struct http_req *r)
{
    struct http_read *hr = r->cancel_arg;
    rpc_query_cancel(hr->q);
    rpc_filter_free(hr->filter);
    hr->filter = NULL;
}

struct http_read *http_read_start(struct http_req *r, const struct rpc_query_opts *opts,
                                  rpc_run_fn run, rpc_done_fn done, void *req,
                                  struct rpc_filter *filter)
{
    struct http_read *hr = CN_ARENA_NEW(&r->arena, struct http_read);
    struct rpc_query *q = rpc_query_new(r->env->rpc);
    hr->q = q;
    hr->filter = filter;
    q->opts = *opts;
    q->authz = r->authz;
    q->run = run;
    q->done = done;
    q->req = req;
    q->arg = r;
    r->cancel = read_cancel;
    r->cancel_arg = hr;
    rpc_query_start(q);
    return hr;
}

void http_read_headers(struct http_req *r, struct rpc_query *q)
{
    http_add_meta_headers(r, &q->meta);
    http_add_header(r, "X-Consul-Effective-Consistency", "%s", rpc_mode_name(q->meta.effective));
}

struct rpc_filter *http_read_take_filter(struct http_req *r)
{
    struct http_read *hr = r->cancel_arg;
    struct rpc_filter *f = hr->filter;
    hr->filter = NULL;
    return f;
}

void http_read_finish(struct rpc_query *q, struct rpc_filter *filter)
{
    rpc_filter_free(filter);
    rpc_query_free(q);
}

/* ---- reads ------------------------------------------------------------------ */

static void write_node_block(struct http_req *r, struct cn_jw *w, const struct rpc_catalog_resp *o,
                             bool as_map)
{
    if (!o->node) {
        cn_jw_null(w);
        return;
    }
    cn_jw_obj_begin(w);
    cn_jw_key(w, "Node");
    rpc_json_node(w, o->node, http_datacenter(r));
    cn_jw_key(w, "Services");
    if (as_map) {
        /* Go map: keys sorted bytewise; the store orders IDs case-insensitively. */
        size_t n = o->nservices;
        const struct state_service **v = CN_ARENA_ARRAY(&r->arena, const struct state_service *, n + 1);
        for (size_t i = 0; i < n; i++) {
            size_t j = i;
            while (j > 0 && strcmp(v[j - 1]->id, o->services[i]->id) > 0) {
                v[j] = v[j - 1];
                j--;
            }
            v[j] = o->services[i];
        }
        cn_jw_obj_begin(w);
        for (size_t i = 0; i < n; i++) {
            cn_jw_key(w, v[i]->id);
            rpc_json_node_service(w, v[i]);
        }
        cn_jw_obj_end(w);
    } else {
        cn_jw_arr_begin(w);
        for (size_t i = 0; i < o->nservices; i++) rpc_json_node_service(w, o->services[i]);
        cn_jw_arr_end(w);
    }
    cn_jw_obj_end(w);
}

static void catalog_done(struct rpc_query *q, int rc)
{
    struct http_req *r = q->arg;
    const struct rpc_catalog_req *req = q->req;
    const struct rpc_catalog_resp *o = q->resp;
    struct rpc_filter *filter = http_read_take_filter(r);
    struct cn_jw w;
    http_read_headers(r, q);
    if (rc) {
        http_reply_error(r, rc, q->err.msg);
        http_read_finish(q, filter);
        return;
    }
    http_json_begin(r, &w);
    switch (req->op) {
    case RPC_CATALOG_NODES:
        cn_jw_arr_begin(&w);
        for (size_t i = 0; i < o->nnodes; i++) rpc_json_node(&w, o->nodes[i], http_datacenter(r));
        cn_jw_arr_end(&w);
        break;
    case RPC_CATALOG_SERVICES:
        cn_jw_obj_begin(&w);
        for (size_t i = 0; i < o->nnames; i++) {
            cn_jw_key(&w, o->names[i].name);
            cn_jw_arr_begin(&w);
            for (size_t j = 0; j < o->names[i].ntags; j++) cn_jw_str(&w, o->names[i].tags[j]);
            cn_jw_arr_end(&w);
        }
        cn_jw_obj_end(&w);
        break;
    case RPC_CATALOG_SERVICE:
        cn_jw_arr_begin(&w);
        for (size_t i = 0; i < o->nservices; i++)
            rpc_json_service_node(&w, o->nodes[i], o->services[i], http_datacenter(r));
        cn_jw_arr_end(&w);
        break;
    case RPC_CATALOG_NODE: write_node_block(r, &w, o, true); break;
    case RPC_CATALOG_NODE_SERVICES: write_node_block(r, &w, o, false); break;
    }
    http_reply_json(r, 200, &w);
    http_read_finish(q, filter);
}

static const struct rpc_fschema *catalog_shape(enum rpc_catalog_read op)
{
    switch (op) {
    case RPC_CATALOG_NODES: return rpc_fs_node;
    case RPC_CATALOG_SERVICES:
    case RPC_CATALOG_SERVICE: return rpc_fs_service_node;
    default: return rpc_fs_node_service;
    }
}

static void catalog_read(struct http_req *r, enum rpc_catalog_read op, const char *missing)
{
    struct rpc_query_opts opts;
    struct rpc_catalog_req *req = CN_ARENA_NEW(&r->arena, struct rpc_catalog_req);
    struct rpc_filter *filter;
    if (!http_parse_query_opts(r, &opts)) return;
    req->op = op;
    req->name = cn_str_from(r->suffix);
    if (missing && !req->name.len) {
        http_reply_text(r, 400, "%s", missing);
        return;
    }
    http_parse_tags(r, &req->tags, &req->ntags);
    http_parse_node_meta(r, &req->node_meta, &req->nnode_meta);
    req->near = http_param(r, "near"); /* _agent was resolved before routing (coordinate.c) */
    if (!http_parse_filter(r, catalog_shape(op), &filter)) return;
    req->filter = filter;
    http_read_start(r, &opts, rpc_catalog_run, catalog_done, req, filter);
}

static void http_catalog_nodes(struct http_req *r)
{
    catalog_read(r, RPC_CATALOG_NODES, NULL);
}

static void http_catalog_services(struct http_req *r)
{
    catalog_read(r, RPC_CATALOG_SERVICES, NULL);
}

static void http_catalog_service(struct http_req *r)
{
    catalog_read(r, RPC_CATALOG_SERVICE, "Missing service name");
}

static void http_catalog_node(struct http_req *r)
{
    catalog_read(r, RPC_CATALOG_NODE, "Missing node name");
}

static void http_catalog_node_services(struct http_req *r)
{
    catalog_read(r, RPC_CATALOG_NODE_SERVICES, "Missing node name");
}

/* Every datacenter the WAN pool knows, nearest first (a client agent's
 * request was forwarded to a server, which has the WAN pool). */
static void http_catalog_datacenters(struct http_req *r)
{
    struct cn_jw w;
    struct cluster *cl = r->env->agent ? agent_cluster(r->env->agent) : NULL;
    char (*dcs)[64] = cn_arena_zalloc(&r->arena, 256 * sizeof *dcs);
    size_t n = cl ? cluster_datacenters(cl, dcs, 256) : 0;
    http_json_begin(r, &w);
    cn_jw_arr_begin(&w);
    if (!n) cn_jw_str(&w, http_datacenter(r));
    for (size_t i = 0; i < n; i++) cn_jw_str(&w, dcs[i]);
    cn_jw_arr_end(&w);
    http_reply_json(r, 200, &w);
}

/* Mesh endpoints: no mesh, no instances. */
static void http_catalog_empty_list(struct http_req *r)
{
    struct cn_jw w;
    struct rpc_meta m = {.index = state_last_index(rpc_state(r->env->rpc)), .known_leader = true};
    http_add_meta_headers(r, &m);
    http_json_begin(r, &w);
    cn_jw_arr_begin(&w);
    cn_jw_arr_end(&w);
    http_reply_json(r, 200, &w);
}

/* ---- writes ----------------------------------------------------------------- */

static void write_done(void *arg, int rc, const struct rpc_result *res)
{
    struct http_req *r = arg;
    struct cn_jw w;
    if (rc) {
        if (rc == CN_EPERM || rc == CN_ENOLEADER || rc == CN_ENOPATH || rc == CN_EACLNOTFOUND ||
            rc == CN_ENOSERVERS)
            http_reply_error(r, rc, NULL);
        else
            http_reply_text(r, 500, "%s", res && res->text ? res->text : cn_strerror(rc));
        return;
    }
    http_json_begin(r, &w);
    cn_jw_bool(&w, true);
    http_reply_json(r, 200, &w);
}

static void cancel_write(struct http_req *r)
{
    rpc_write_cancel(r->cancel_arg);
}

/* The request's token, else the body's WriteRequest.Token (python3-consul). */
static bool write_authz(struct http_req *r, const char *body_token, const struct acl_authz **out)
{
    *out = r->authz;
    if ((r->token && *r->token) || !body_token || !*body_token) return true;
    int rc = rpc_authorize(r->env->rpc, body_token, out);
    if (rc) http_reply_error(r, rc, NULL);
    return rc == 0;
}

static bool dc_ok(struct http_req *r, const json_t *body)
{
    const char *dc = http_param(r, "dc");
    json_t *v = cn_json_get(body, "Datacenter");
    if ((!dc || !*dc) && json_is_string(v)) dc = json_string_value(v);
    if (dc && *dc && strcmp(dc, http_datacenter(r))) {
        http_reply_text(r, 500, "No path to datacenter");
        return false;
    }
    return true;
}

static void submit(struct http_req *r, struct cn_buf *cmd)
{
    r->cancel = cancel_write;
    r->cancel_arg = rpc_write_submit(r->env->rpc, cmd, write_done, r);
    cn_buf_release(cmd);
}

void http_catalog_submit(struct http_req *r, struct cn_buf *cmd)
{
    submit(r, cmd);
}

static void http_catalog_register(struct http_req *r)
{
    struct state_register reg;
    const char *token = "";
    const struct acl_authz *authz;
    struct cn_err err;
    struct cn_buf cmd;
    json_t *body = http_body_json(r, false);
    if (!body) return;
    cn_err_clear(&err);
    int rc = agent_catalog_register_decode(body, &r->arena, &reg, &token, &err);
    bool dc = rc == 0 && dc_ok(r, body);
    json_decref(body);
    if (rc) {
        http_reply_text(r, 400, "Request decode failed: %s", err.msg);
        return;
    }
    if (!dc || !write_authz(r, token, &authz)) return;
    cn_buf_init(&cmd, CN_BUF_UNLIMITED);
    rc = rpc_catalog_prepare_register(r->env->rpc, authz, &reg, &cmd, &err);
    if (rc) {
        cn_buf_release(&cmd);
        if (rc == CN_EPERM)
            http_reply_denied(r);
        else
            http_reply_text(r, 500, "%s", err.msg[0] ? err.msg : cn_strerror(rc));
        return;
    }
    submit(r, &cmd);
}

static void http_catalog_deregister(struct http_req *r)
{
    const char *node, *sid, *cid, *token = "";
    const struct acl_authz *authz;
    struct cn_err err;
    struct cn_buf cmd;
    json_t *body = http_body_json(r, false);
    if (!body) return;
    cn_err_clear(&err);
    int rc = agent_catalog_deregister_decode(body, &r->arena, &node, &sid, &cid, &token, &err);
    bool dc = rc == 0 && dc_ok(r, body);
    json_decref(body);
    if (rc) {
        http_reply_text(r, 400, "Request decode failed: %s", err.msg);
        return;
    }
    if (!dc || !write_authz(r, token, &authz)) return;
    struct rpc_deregister_cmd c = {cn_str_from(node), cn_str_from(sid), cn_str_from(cid)};
    cn_buf_init(&cmd, CN_BUF_UNLIMITED);
    rc = rpc_catalog_prepare_deregister(r->env->rpc, authz, &c, &cmd, &err);
    if (rc) {
        cn_buf_release(&cmd);
        if (rc == CN_EPERM)
            http_reply_denied(r);
        else
            http_reply_text(r, 500, "%s", err.msg[0] ? err.msg : cn_strerror(rc));
        return;
    }
    submit(r, &cmd);
}

const struct http_route http_routes_catalog[] = {
    {"/v1/catalog/register", M_PUT, http_catalog_register, 0, 0},
    {"/v1/catalog/deregister", M_PUT, http_catalog_deregister, 0, 0},
    {"/v1/catalog/datacenters", M_GET, http_catalog_datacenters, 0, ROUTE_NO_ACL},
    {"/v1/catalog/nodes", M_GET, http_catalog_nodes, 0, 0},
    {"/v1/catalog/services", M_GET, http_catalog_services, 0, 0},
    {"/v1/catalog/service/", M_GET, http_catalog_service, 0, 0},
    {"/v1/catalog/node/", M_GET, http_catalog_node, 0, 0},
    {"/v1/catalog/node-services/", M_GET, http_catalog_node_services, 0, 0},
    {"/v1/catalog/connect/", M_GET, http_catalog_empty_list, 0, 0},
    {"/v1/catalog/gateway-services/", M_GET, http_catalog_empty_list, 0, 0},
    HTTP_ROUTES_END,
};
