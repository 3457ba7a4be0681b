/* kv.c - /v1/kv/<key> (Consul's KVSEndpoint). */
#include <inttypes.h>
#include <string.h>

#include "http/http_int.h"
#include "lib/cn_common.h"
#include "rpc/rpc_kv.h"

/* ---- reads ---------------------------------------------------------- */

static void write_entry(struct cn_jw *w, const struct rpc_kv_entry *e)
{
    cn_jw_obj_begin(w);
    cn_jw_key_u64(w, "LockIndex", e->lock_index);
    cn_jw_key_strn(w, "Key", e->key.p, e->key.len);
    cn_jw_key_u64(w, "Flags", e->flags);
    cn_jw_key(w, "Value");
    cn_jw_base64(w, e->value.p, e->value.len);
    if (e->session) cn_jw_key_str(w, "Session", e->session);
    cn_jw_key_u64(w, "CreateIndex", e->create_index);
    cn_jw_key_u64(w, "ModifyIndex", e->modify_index);
    cn_jw_obj_end(w);
}

static void cancel_query(struct http_req *r)
{
    rpc_query_cancel(r->cancel_arg);
}

static void read_done(struct rpc_query *q, int rc)
{
    struct http_req *r = q->arg;
    const struct rpc_kv_req *req = q->req;
    const struct rpc_kv_resp *resp = q->resp;
    struct cn_jw w;
    http_add_meta_headers(r, &q->meta);
    if (rc) {
        http_reply_error(r, rc, q->err.msg);
        rpc_query_free(q);
        return;
    }
    if (req->op == RPC_KV_KEYS) {
        if (resp->nkeys == 0 && req->key.len) {
            http_reply_empty(r, 404);
        } else {
            http_json_begin(r, &w);
            cn_jw_arr_begin(&w);
            for (size_t i = 0; i < resp->nkeys; i++) cn_jw_strn(&w, resp->keys[i].p, resp->keys[i].len);
            cn_jw_arr_end(&w);
            http_reply_json(r, 200, &w);
        }
    } else if (resp->n == 0) {
        http_reply_empty(r, 404);
    } else if (req->op == RPC_KV_GET && http_has_param(r, "raw")) {
        http_add_header(r, "X-Content-Type-Options", "nosniff");
        http_add_header(r, "Content-Security-Policy", "sandbox");
        http_reply_raw(r, 200, "text/plain", resp->entries[0].value.p, resp->entries[0].value.len);
    } else {
        http_json_begin(r, &w);
        cn_jw_arr_begin(&w);
        for (size_t i = 0; i < resp->n; i++) write_entry(&w, &resp->entries[i]);
        cn_jw_arr_end(&w);
        http_reply_json(r, 200, &w);
    }
    rpc_query_free(q);
}

static void kv_get(struct http_req *r, struct cn_str key)
{
    struct rpc_query *q;
    struct rpc_kv_req *req = CN_ARENA_NEW(&r->arena, struct rpc_kv_req);
    struct rpc_query_opts opts;
    bool recurse = http_has_param(r, "recurse"), keys = http_has_param(r, "keys");
    if (!http_parse_query_opts(r, &opts)) return;
    if (!recurse && !keys && key.len == 0) {
        http_reply_text(r, 400, "Missing key name");
        return;
    }
    req->key = key;
    req->op = keys ? RPC_KV_KEYS : recurse ? RPC_KV_LIST : RPC_KV_GET;
    if (keys) {
        const char *sep = http_param(r, "separator");
        if (!sep) sep = http_param(r, "seperator"); /* the old spelling, still sent */
        req->separator = cn_str_from(sep ? sep : "");
    }
    q = rpc_query_new(r->env->rpc);
    q->opts = opts;
    q->authz = r->authz;
    q->run = rpc_kv_run;
    q->done = read_done;
    q->req = req;
    q->arg = r;
    r->cancel = cancel_query;
    r->cancel_arg = q;
    rpc_query_start(q);
}

/* ---- writes --------------------------------------------------------- */

static void write_done(void *arg, int rc, const struct rpc_result *res)
{
    struct http_req *r = arg;
    struct cn_jw w;
    if (rc) {
        /* The FSM's refusals (an invalid session...) are 500s with its text. */
        if (rc == CN_EPERM || rc == CN_ENOLEADER || rc == CN_ENOPATH || rc == CN_EACLNOTFOUND)
            http_reply_error(r, rc, NULL);
        else
            http_reply_text(r, 500, "%s", res && res->text ? res->text : cn_strerror(rc));
        return;
    }
    http_json_begin(r, &w);
    cn_jw_bool(&w, res->ok);
    http_reply_json(r, 200, &w);
}

static void cancel_write(struct http_req *r)
{
    rpc_write_cancel(r->cancel_arg);
}

static void submit(struct http_req *r, const struct rpc_kvs_cmd *c)
{
    struct cn_buf cmd;
    cn_buf_init(&cmd, CN_BUF_UNLIMITED);
    int rc = rpc_kv_prepare_write(r->env->rpc, r->authz, c, &cmd);
    if (rc) {
        cn_buf_release(&cmd);
        http_reply_error(r, rc, NULL);
        return;
    }
    r->cancel = cancel_write;
    r->cancel_arg = rpc_write_submit(r->env->rpc, &cmd, write_done, r);
    cn_buf_release(&cmd);
}

/* Go's strconv.ParseUint error text, which Consul answers with a 500. */
static bool parse_index_param(struct http_req *r, const char *name, uint64_t *out)
{
    const char *v = http_param(r, name);
    if (!v) return true;
    if (cn_parse_u64(cn_str_from(v), out)) {
        http_reply_text(r, 500, "strconv.ParseUint: parsing \"%s\": invalid syntax", v);
        return false;
    }
    return true;
}

static void kv_put(struct http_req *r, struct cn_str key)
{
    struct rpc_kvs_cmd c = {.op = RPC_KVS_SET, .key = key, .value = cn_buf_str(&r->body)};
    const char *acquire = http_param(r, "acquire"), *release = http_param(r, "release");
    int nflags = http_has_param(r, "cas") + (acquire != NULL) + (release != NULL);
    if (key.len == 0) {
        http_reply_text(r, 400, "Missing key name");
        return;
    }
    if (nflags > 1) {
        http_reply_text(r, 400, "Conflicting flags: %s", http_encoded_query(r));
        return;
    }
    if (!parse_index_param(r, "flags", &c.flags)) return;
    if (http_has_param(r, "cas")) {
        if (!parse_index_param(r, "cas", &c.cas_index)) return;
        c.op = RPC_KVS_CAS;
    }
    if (acquire) {
        c.op = RPC_KVS_LOCK;
        c.session = cn_str_from(acquire);
    } else if (release) {
        c.op = RPC_KVS_UNLOCK;
        c.session = cn_str_from(release);
    }
    if ((acquire || release) && c.session.len == 0) {
        http_reply_text(r, 500, "missing session");
        return;
    }
    submit(r, &c);
}

static void kv_delete(struct http_req *r, struct cn_str key)
{
    struct rpc_kvs_cmd c = {.op = RPC_KVS_DELETE, .key = key};
    bool recurse = http_has_param(r, "recurse");
    if (recurse && http_has_param(r, "cas")) {
        http_reply_text(r, 400, "Conflicting flags: %s", http_encoded_query(r));
        return;
    }
    if (!recurse && key.len == 0) {
        http_reply_text(r, 400, "Missing key name");
        return;
    }
    if (recurse) c.op = RPC_KVS_DELETE_TREE;
    if (http_has_param(r, "cas")) {
        if (!parse_index_param(r, "cas", &c.cas_index)) return;
        c.op = RPC_KVS_DELETE_CAS;
    }
    submit(r, &c);
}

static void http_kv(struct http_req *r)
{
    struct cn_str key = cn_str_from(r->suffix);
    switch (r->method) {
    case M_GET: kv_get(r, key); break;
    case M_PUT: kv_put(r, key); break;
    case M_DELETE: kv_delete(r, key); break;
    default: http_reply_text(r, 405, "method %s not allowed", r->method_name); break;
    }
}

const struct http_route http_routes_kv[] = {
    {"/v1/kv/", M_GET | M_PUT | M_DELETE, http_kv, HTTP_BODY_KV, 0},
    HTTP_ROUTES_END,
};
