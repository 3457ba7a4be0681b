/* txn.c - PUT /v1/txn (Consul's TxnEndpoint): KV operations all-or-nothing
 * in one Raft entry, or read together when none writes. */
#include <stdio.h>
#include <string.h>

#include "http/http_int.h"
#include "lib/cn_base64.h"
#include "lib/cn_common.h"
#include "lib/cn_json.h"
#include "lib/cn_limits.h"
#include "rpc/rpc_txn.h"

struct txn_req {
    struct rpc_txn_op *ops;
    size_t n;
    struct rpc_txn_out pre; /* errors found before running (verbs, ACL) */
};

/* ---- answers ------------------------------------------------------------ */

static void write_result(struct cn_jw *w, const struct rpc_kv_entry *e, bool has_value)
{
    cn_jw_obj_begin(w);
    cn_jw_key(w, "KV");
    cn_jw_obj_begin(w);
    cn_jw_key_u64(w, "LockIndex", e->lock_index);
    cn_jw_key_strn(w, "Key", e->key.p, e->key.len);
    cn_jw_key_u64(w, "Flags", e->flags);
    cn_jw_key(w, "Value");
    if (has_value && e->value.len)
        cn_jw_base64(w, e->value.p, e->value.len);
    else
        cn_jw_null(w);
    if (e->session && *e->session) cn_jw_key_str(w, "Session", e->session);
    cn_jw_key_u64(w, "CreateIndex", e->create_index);
    cn_jw_key_u64(w, "ModifyIndex", e->modify_index);
    cn_jw_obj_end(w);
    cn_jw_obj_end(w);
}

/* meta: a read-only transaction's QueryMeta, which Consul prints in the body. */
static void reply_out(struct http_req *r, const struct rpc_txn_out *out,
                      const struct rpc_meta *meta)
{
    struct cn_jw w;
    bool failed = out->nerrors > 0;
    http_json_begin(r, &w);
    cn_jw_obj_begin(&w);
    cn_jw_key(&w, "Results");
    if (failed || out->nresults == 0) {
        cn_jw_null(&w);
    } else {
        cn_jw_arr_begin(&w);
        for (size_t i = 0; i < out->nresults; i++)
            write_result(&w, &out->results[i], out->has_value[i]);
        cn_jw_arr_end(&w);
    }
    cn_jw_key(&w, "Errors");
    if (!failed) {
        cn_jw_null(&w);
    } else {
        cn_jw_arr_begin(&w);
        for (size_t i = 0; i < out->nerrors; i++) {
            cn_jw_obj_begin(&w);
            cn_jw_key_u64(&w, "OpIndex", out->errors[i].op_index);
            cn_jw_key_str(&w, "What", out->errors[i].what);
            cn_jw_obj_end(&w);
        }
        cn_jw_arr_end(&w);
    }
    if (meta) {
        cn_jw_key_u64(&w, "Index", 0);
        cn_jw_key_u64(&w, "LastContact", meta->last_contact_ms);
        cn_jw_key_bool(&w, "KnownLeader", meta->known_leader);
        cn_jw_key_str(&w, "ConsistencyLevel", "");
    }
    cn_jw_obj_end(&w);
    http_reply_json(r, failed ? 409 : 200, &w);
}

/* ---- parsing ------------------------------------------------------------- */

static const char *const kv_fields[] = {"Verb",    "Key",       "Value",     "Flags", "Index",
                                        "Session", "Namespace", "Partition", NULL};

/* One {"KV": {...}} op. Returns 0, or an HTTP status after answering. */
static int parse_kv(struct http_req *r, struct txn_req *t, size_t i, json_t *kv)
{
    struct rpc_txn_op *op = &t->ops[i];
    const char *verb = "", *key = "", *value = NULL, *session = "";
    struct cn_err err;
    cn_err_clear(&err);
    if (!json_is_object(kv) || cn_json_check_fields(kv, kv_fields, &err) ||
        cn_json_str(kv, "Verb", &verb, &err) || cn_json_str(kv, "Key", &key, &err) ||
        cn_json_str(kv, "Value", &value, &err) || cn_json_str(kv, "Session", &session, &err) ||
        cn_json_u64(kv, "Flags", &op->flags, &err) || cn_json_u64(kv, "Index", &op->index, &err)) {
        http_reply_text(r, 400, "Failed to parse body: %s", err.msg[0] ? err.msg : "bad KV op");
        return 400;
    }
    op->verb = rpc_txn_verb_parse(verb);
    op->key = cn_str_from(cn_arena_strdup(&r->arena, key));
    op->session = cn_str_from(cn_arena_strdup(&r->arena, session));
    if (value && *value) {
        size_t vlen = strlen(value);
        char *raw = cn_arena_alloc(&r->arena, cn_base64_decoded_max(vlen) + 1);
        long n = cn_base64_decode(value, vlen, raw);
        if (n < 0) {
            http_reply_text(r, 400, "Failed to parse body: illegal base64 data in Value");
            return 400;
        }
        if ((size_t)n > r->cfg->kv_max_value) {
            http_reply_text(r, 413, "Value for key \"%s\" is too large (%ld > %zu bytes)", key, n,
                            r->cfg->kv_max_value);
            return 413;
        }
        op->value = cn_str_make(raw, (size_t)n);
    }
    if (!op->verb) {
        char *what = cn_arena_printf(&r->arena, "unknown KV verb \"%s\"", verb);
        rpc_txn_add_error(&r->arena, &t->pre, i, what);
    }
    return 0;
}

static bool parse(struct http_req *r, struct txn_req *t)
{
    struct cn_err err;
    struct cn_str body = cn_str_trim(cn_buf_str(&r->body));
    json_t *root = cn_json_parse(body.p ? body.p : "", body.len, &err);
    if (!root) {
        http_reply_text(r, 400, "Failed to parse body: %s", err.msg);
        return false;
    }
    if (!json_is_array(root)) {
        http_reply_text(r, 400,
                        "Failed to parse body: json: cannot unmarshal %s into Go value "
                        "of type api.TxnOps",
                        cn_json_type_name(root));
        json_decref(root);
        return false;
    }
    size_t n = json_array_size(root);
    if (n > CN_TXN_OPS_MAX) {
        http_reply_text(r, 413, "Transaction contains too many operations (%zu > %d)", n,
                        CN_TXN_OPS_MAX);
        json_decref(root);
        return false;
    }
    t->ops = CN_ARENA_ARRAY(&r->arena, struct rpc_txn_op, n + 1);
    t->n = n;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(root, i), *kv = cn_json_get(o, "KV");
        if (!json_is_object(o)) {
            http_reply_text(r, 400,
                            "Failed to parse body: json: cannot unmarshal %s into Go "
                            "value of type api.TxnOp",
                            cn_json_type_name(o));
            json_decref(root);
            return false;
        }
        if (kv && !json_is_null(kv)) {
            if (parse_kv(r, t, i, kv)) {
                json_decref(root);
                return false;
            }
            continue;
        }
        const char *kind = cn_json_get(o, "Node")      ? "Node"
                           : cn_json_get(o, "Service") ? "Service"
                           : cn_json_get(o, "Check")   ? "Check"
                                                       : NULL;
        char *what = kind ? cn_arena_printf(&r->arena,
                                            "%s operations are not supported by cairn "
                                            "yet",
                                            kind)
                          : "operation has no KV, Node, Service or Check";
        rpc_txn_add_error(&r->arena, &t->pre, i, what);
    }
    json_decref(root);
    return true;
}

/* ---- running -------------------------------------------------------------- */

static void cancel_query(struct http_req *r)
{
    rpc_query_cancel(r->cancel_arg);
}

static void read_done(struct rpc_query *q, int rc)
{
    struct http_req *r = q->arg;
    http_add_header(r, "X-Consul-Knownleader", "%s", q->meta.known_leader ? "true" : "false");
    http_add_header(r, "X-Consul-Lastcontact", "%llu", (unsigned long long)q->meta.last_contact_ms);
    if (rc)
        http_reply_error(r, rc, q->err.msg);
    else
        reply_out(r, q->resp, &q->meta);
    rpc_query_free(q);
}

static void run_read(struct http_req *r, struct txn_req *t)
{
    struct rpc_query_opts opts;
    if (!http_parse_query_opts(r, &opts)) return;
    opts.min_index = 0; /* read transactions never block */
    struct rpc_txn_req *req = CN_ARENA_NEW(&r->arena, struct rpc_txn_req);
    req->ops = t->ops;
    req->n = t->n;
    struct rpc_query *q = rpc_query_new(r->env->rpc);
    q->opts = opts;
    q->authz = r->authz;
    q->run = rpc_txn_run;
    q->done = read_done;
    q->req = req;
    q->arg = r;
    r->cancel = cancel_query;
    r->cancel_arg = q;
    rpc_query_start(q);
}

static void cancel_write(struct http_req *r)
{
    rpc_write_cancel(r->cancel_arg);
}

static void write_done(void *arg, int rc, const struct rpc_result *res)
{
    struct http_req *r = arg;
    struct rpc_txn_out out;
    if (rc && rc != CN_ECONFLICT) {
        if (rc == CN_EPERM || rc == CN_ENOLEADER || rc == CN_ENOPATH || rc == CN_ENOSERVERS)
            http_reply_error(r, rc, NULL);
        else
            http_reply_text(r, 500, "%s", res && res->text ? res->text : cn_strerror(rc));
        return;
    }
    if (rpc_txn_out_decode(res ? res->text : NULL, &r->arena, &out)) {
        http_reply_text(r, 500, "failed to decode transaction results");
        return;
    }
    reply_out(r, &out, NULL);
}

static void http_txn(struct http_req *r)
{
    struct txn_req *t = CN_ARENA_NEW(&r->arena, struct txn_req);
    const char *dc = http_param(r, "dc");
    const struct rpc_config *c = rpc_config(r->env->rpc);
    if (dc && *dc && c->datacenter && strcmp(dc, c->datacenter)) {
        http_reply_text(r, 500, "No path to datacenter");
        return;
    }
    if (!parse(r, t)) return;
    if (t->pre.nerrors == 0) rpc_txn_vet(r->authz, t->ops, t->n, &r->arena, &t->pre);
    if (t->pre.nerrors) {
        reply_out(r, &t->pre, NULL);
        return;
    }
    bool writes = false;
    for (size_t i = 0; i < t->n; i++)
        writes |= rpc_txn_verb_writes(t->ops[i].verb);
    if (!writes) {
        run_read(r, t);
        return;
    }
    struct cn_buf cmd;
    cn_buf_init(&cmd, CN_BUF_UNLIMITED);
    rpc_txn_encode(t->ops, t->n, &cmd);
    r->cancel = cancel_write;
    r->cancel_arg = rpc_write_submit(r->env->rpc, &cmd, write_done, r);
    cn_buf_release(&cmd);
}

const struct http_route http_routes_txn[] = {
    {"/v1/txn", M_PUT, http_txn, HTTP_BODY_TXN, 0},
    HTTP_ROUTES_END,
};
