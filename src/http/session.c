/* session.c - the /v1/session endpoints (Consul's SessionEndpoint). */
#include <string.h>

#include "agent/agent.h"
#include "http/http_int.h"
#include "lib/cn_common.h"
#include "lib/cn_json.h"
#include "lib/cn_time.h"
#include "rpc/rpc_session.h"

#define NS_PER_S 1000000000LL

static const char *agent_node(struct http_req *r)
{
    return r->env->agent ? agent_cfg(r->env->agent)->node_name : "";
}

static bool dc_ok(struct http_req *r)
{
    const char *dc = http_param(r, "dc");
    const struct rpc_config *c = rpc_config(r->env->rpc);
    if (dc && *dc && c->datacenter && strcmp(dc, c->datacenter)) {
        http_reply_text(r, 500, "No path to datacenter");
        return false;
    }
    return true;
}

/* ---- writes ------------------------------------------------------------ */

static void cancel_write(struct http_req *r)
{
    rpc_write_cancel(r->cancel_arg);
}

static void write_failed(struct http_req *r, int rc, const struct rpc_result *res)
{
    if (rc == CN_EPERM || rc == CN_ENOLEADER || rc == CN_ENOPATH || rc == CN_EACLNOTFOUND ||
        rc == CN_ENOSERVERS)
        http_reply_error(r, rc, NULL);
    else
        http_reply_text(r, 500, "%s", res && res->text ? res->text : cn_strerror(rc));
}

static void submit(struct http_req *r, struct cn_buf *cmd, rpc_write_done_fn done)
{
    r->cancel = cancel_write;
    r->cancel_arg = rpc_write_submit(r->env->rpc, cmd, done, r);
    cn_buf_release(cmd);
}

static void create_done(void *arg, int rc, const struct rpc_result *res)
{
    struct http_req *r = arg;
    struct cn_jw w;
    if (rc) {
        write_failed(r, rc, res);
        return;
    }
    http_json_begin(r, &w);
    cn_jw_obj_begin(&w);
    cn_jw_key_str(&w, "ID", res && res->text ? res->text : "");
    cn_jw_obj_end(&w);
    http_reply_json(r, 200, &w);
}

/* A list of check IDs (strings) into an arena array, appended to v. */
static int check_list(struct http_req *r, json_t *arr, const char *field, char ***v, size_t *n,
                      struct cn_err *err)
{
    size_t i;
    json_t *e;
    if (!arr || json_is_null(arr)) return 0;
    if (!json_is_array(arr))
        return cn_err_set(err, CN_EINVAL,
                          "json: cannot unmarshal %s into Go struct field "
                          "Session.%s of type []string",
                          cn_json_type_name(arr), field);
    char **nv = CN_ARENA_ARRAY(&r->arena, char *, *n + json_array_size(arr) + 1);
    if (*n) memcpy(nv, *v, *n * sizeof *nv);
    json_array_foreach(arr, i, e)
    {
        const char *id = NULL;
        if (json_is_object(e)) { /* ServiceChecks: {"ID", "Namespace"} */
            json_t *f = cn_json_get(e, "ID");
            id = json_is_string(f) ? json_string_value(f) : NULL;
        } else if (json_is_string(e)) {
            id = json_string_value(e);
        }
        if (!id)
            return cn_err_set(err, CN_EINVAL,
                              "json: cannot unmarshal %s into Go struct field "
                              "Session.%s",
                              cn_json_type_name(e), field);
        bool dup = false;
        for (size_t k = 0; k < *n; k++)
            dup |= !strcmp(nv[k], id);
        if (!dup) nv[(*n)++] = cn_arena_strdup(&r->arena, id);
    }
    *v = nv;
    return 0;
}

/* Consul's FixupLockDelay: a number below 1000 means seconds. */
static int lock_delay(json_t *v, int64_t *ns, struct cn_err *err)
{
    if (!v || json_is_null(v)) return 0;
    if (json_is_number(v)) {
        double d = json_number_value(v);
        *ns = d < 1000 ? (int64_t)(d * NS_PER_S) : (int64_t)d;
        return 0;
    }
    return cn_json_dur_value(v, "LockDelay", ns, err);
}

static const char *const session_fields[] = {
    "ID",     "Name",          "Node",        "LockDelay",   "Behavior",  "TTL",       "NodeChecks",
    "Checks", "ServiceChecks", "CreateIndex", "ModifyIndex", "Namespace", "Partition", NULL,
};

static int decode_create(struct http_req *r, json_t *body, struct state_session *s,
                         const char **behavior, struct cn_err *err)
{
    const char *name = "", *node = agent_node(r), *ttl = "";
    int rc;
    if (!json_is_object(body))
        return cn_err_set(err, CN_EINVAL,
                          "json: cannot unmarshal %s into Go value of type "
                          "structs.Session",
                          cn_json_type_name(body));
    if ((rc = cn_json_check_fields(body, session_fields, err)) ||
        (rc = cn_json_str(body, "Name", &name, err)) ||
        (rc = cn_json_str(body, "Node", &node, err)) ||
        (rc = cn_json_str(body, "Behavior", behavior, err)) ||
        (rc = cn_json_str(body, "TTL", &ttl, err)))
        return rc;
    memset(s, 0, sizeof *s);
    s->lock_delay_ns = 15 * NS_PER_S;
    if ((rc = lock_delay(cn_json_get(body, "LockDelay"), &s->lock_delay_ns, err))) return rc;
    json_t *nc = cn_json_get(body, "NodeChecks"), *legacy = cn_json_get(body, "Checks");
    if (!nc && !legacy) {
        s->node_checks = CN_ARENA_ARRAY(&r->arena, char *, 1);
        s->node_checks[0] = "serfHealth";
        s->nnode_checks = 1;
    }
    if ((rc = check_list(r, nc, "NodeChecks", &s->node_checks, &s->nnode_checks, err)) ||
        (rc = check_list(r, legacy, "Checks", &s->node_checks, &s->nnode_checks, err)) ||
        (rc = check_list(r, cn_json_get(body, "ServiceChecks"), "ServiceChecks", &s->service_checks,
                         &s->nservice_checks, err)))
        return rc;
    s->id = "";
    s->name = cn_arena_strdup(&r->arena, name);
    s->node = cn_arena_strdup(&r->arena, node && *node ? node : agent_node(r));
    s->ttl = cn_arena_strdup(&r->arena, ttl);
    return 0;
}

static void http_session_create(struct http_req *r)
{
    struct state_session s;
    const char *behavior = "";
    struct cn_err err;
    struct cn_buf cmd;
    if (!dc_ok(r)) return;
    json_t *body = http_body_json(r, true);
    if (!body) return;
    cn_err_clear(&err);
    int rc = decode_create(r, body, &s, &behavior, &err);
    behavior = cn_arena_strdup(&r->arena, behavior ? behavior : "");
    json_decref(body);
    if (rc) {
        http_reply_text(r, 400, "Request decode failed: %s", err.msg);
        return;
    }
    if (*behavior && strcmp(behavior, "release") && strcmp(behavior, "delete")) {
        http_reply_text(r, 500, "Invalid Behavior setting '%s'", behavior);
        return;
    }
    s.delete_keys = !strcmp(behavior, "delete");
    int64_t ttl_min = RPC_SESSION_TTL_MIN_NS;
    if (r->env->agent)
        ttl_min = agent_config_dur(agent_cfg(r->env->agent), "session_ttl_min", ttl_min);
    cn_buf_init(&cmd, CN_BUF_UNLIMITED);
    rc = rpc_session_prepare_create(r->env->rpc, r->authz, &s, ttl_min, &cmd, &err);
    if (rc) {
        cn_buf_release(&cmd);
        if (rc == CN_EPERM)
            http_reply_denied(r);
        else
            http_reply_text(r, 500, "%s", err.msg[0] ? err.msg : cn_strerror(rc));
        return;
    }
    submit(r, &cmd, create_done);
}

static void destroy_done(void *arg, int rc, const struct rpc_result *res)
{
    struct http_req *r = arg;
    struct cn_jw w;
    if (rc) {
        write_failed(r, rc, res);
        return;
    }
    http_json_begin(r, &w);
    cn_jw_bool(&w, true);
    http_reply_json(r, 200, &w);
}

static void renew_done(void *arg, int rc, const struct rpc_result *res)
{
    struct http_req *r = arg;
    struct cn_jw w;
    if (rc == CN_ENOENT) {
        http_reply_text(r, 404, "%s", res && res->text ? res->text : "Session not found");
        return;
    }
    if (rc) {
        write_failed(r, rc, res);
        return;
    }
    const struct state_session *s =
        state_session_get(rpc_state(r->env->rpc), cn_str_from(r->suffix), NULL);
    http_json_begin(r, &w);
    cn_jw_arr_begin(&w);
    if (s) rpc_json_session(&w, s);
    cn_jw_arr_end(&w);
    http_reply_json(r, 200, &w);
}

static void by_id(struct http_req *r, enum rpc_session_op op, rpc_write_done_fn done)
{
    struct cn_buf cmd;
    if (!dc_ok(r)) return;
    if (!*r->suffix) {
        http_reply_text(r, 400, "Missing session");
        return;
    }
    cn_buf_init(&cmd, CN_BUF_UNLIMITED);
    int rc = rpc_session_prepare_id(r->env->rpc, r->authz, op, cn_str_from(r->suffix), &cmd);
    if (rc) {
        cn_buf_release(&cmd);
        http_reply_error(r, rc, NULL);
        return;
    }
    submit(r, &cmd, done);
}

static void http_session_destroy(struct http_req *r)
{
    by_id(r, RPC_SESSION_DESTROY, destroy_done);
}

static void http_session_renew(struct http_req *r)
{
    by_id(r, RPC_SESSION_RENEW, renew_done);
}

/* ---- reads ------------------------------------------------------------- */

static void cancel_query(struct http_req *r)
{
    rpc_query_cancel(r->cancel_arg);
}

static void read_done(struct rpc_query *q, int rc)
{
    struct http_req *r = q->arg;
    const struct rpc_session_resp *resp = q->resp;
    struct cn_jw w;
    http_add_meta_headers(r, &q->meta);
    if (rc) {
        http_reply_error(r, rc, q->err.msg);
        rpc_query_free(q);
        return;
    }
    http_json_begin(r, &w);
    cn_jw_arr_begin(&w);
    for (size_t i = 0; resp && i < resp->n; i++)
        rpc_json_session(&w, resp->v[i]);
    cn_jw_arr_end(&w);
    http_reply_json(r, 200, &w);
    rpc_query_free(q);
}

static void session_read(struct http_req *r, enum rpc_session_read op)
{
    struct rpc_query_opts opts;
    struct rpc_session_req *req = CN_ARENA_NEW(&r->arena, struct rpc_session_req);
    if (!http_parse_query_opts(r, &opts)) return;
    if (op == RPC_SESSION_INFO && !*r->suffix) {
        http_reply_text(r, 400, "Missing session");
        return;
    }
    if (op == RPC_SESSION_NODE && !*r->suffix) {
        http_reply_text(r, 400, "Missing node name");
        return;
    }
    req->op = op;
    req->arg = cn_str_from(r->suffix);
    struct rpc_query *q = rpc_query_new(r->env->rpc);
    q->opts = opts;
    q->authz = r->authz;
    q->run = rpc_session_run;
    q->done = read_done;
    q->req = req;
    q->arg = r;
    r->cancel = cancel_query;
    r->cancel_arg = q;
    rpc_query_start(q);
}

static void http_session_info(struct http_req *r)
{
    session_read(r, RPC_SESSION_INFO);
}

static void http_session_node(struct http_req *r)
{
    session_read(r, RPC_SESSION_NODE);
}

static void http_session_list(struct http_req *r)
{
    session_read(r, RPC_SESSION_LIST);
}

/* create runs on the receiving agent: the session's default node is that
 * agent's, so it is filled in there and only the command travels on. */
const struct http_route http_routes_session[] = {
    {"/v1/session/create", M_PUT, http_session_create, 0, ROUTE_LOCAL},
    {"/v1/session/destroy/", M_PUT, http_session_destroy, 0, 0},
    {"/v1/session/renew/", M_PUT, http_session_renew, 0, 0},
    {"/v1/session/info/", M_GET, http_session_info, 0, 0},
    {"/v1/session/node/", M_GET, http_session_node, 0, 0},
    {"/v1/session/list", M_GET, http_session_list, 0, 0},
    HTTP_ROUTES_END,
};
