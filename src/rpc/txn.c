/* txn.c - /v1/txn operations (Consul's state/txn.go txnKVS). */
#include <string.h>

#include "lib/cn_base64.h"
#include "lib/cn_common.h"
#include "lib/cn_limits.h"
#include "rpc/rpc_int.h"
#include "rpc/rpc_txn.h"

static const char *const verb_names[RPC_TXN__VERB_END] = {
    [RPC_TXN_SET] = "set",
    [RPC_TXN_DELETE] = "delete",
    [RPC_TXN_DELETE_CAS] = "delete-cas",
    [RPC_TXN_DELETE_TREE] = "delete-tree",
    [RPC_TXN_CAS] = "cas",
    [RPC_TXN_LOCK] = "lock",
    [RPC_TXN_UNLOCK] = "unlock",
    [RPC_TXN_GET] = "get",
    [RPC_TXN_GET_OR_EMPTY] = "get-or-empty",
    [RPC_TXN_GET_TREE] = "get-tree",
    [RPC_TXN_CHECK_INDEX] = "check-index",
    [RPC_TXN_CHECK_SESSION] = "check-session",
    [RPC_TXN_CHECK_NOT_EXISTS] = "check-not-exists",
};

enum rpc_txn_verb rpc_txn_verb_parse(const char *s)
{
    for (int v = RPC_TXN_SET; v < RPC_TXN__VERB_END; v++)
        if (s && !strcmp(s, verb_names[v])) return (enum rpc_txn_verb)v;
    return 0;
}

bool rpc_txn_verb_writes(enum rpc_txn_verb v)
{
    return v >= RPC_TXN_SET && v <= RPC_TXN_UNLOCK;
}

/* ---- command ---------------------------------------------------------- */

void rpc_txn_encode(const struct rpc_txn_op *ops, size_t n, struct cn_buf *out)
{
    rpc_cmd_begin(out, RPC_CMD_TXN);
    cn_enc_uvar(out, n);
    for (size_t i = 0; i < n; i++) {
        cn_enc_u8(out, (uint8_t)ops[i].verb);
        cn_enc_str(out, ops[i].key);
        cn_enc_str(out, ops[i].value);
        cn_enc_uvar(out, ops[i].flags);
        cn_enc_uvar(out, ops[i].index);
        cn_enc_str(out, ops[i].session);
    }
}

int rpc_txn_decode(struct cn_dec *d, struct cn_arena *a, struct rpc_txn_op **ops, size_t *n)
{
    uint64_t k = cn_dec_uvar(d);
    if (cn_dec_status(d) || k > CN_TXN_OPS_MAX) return CN_ECORRUPT;
    struct rpc_txn_op *v = CN_ARENA_ARRAY(a, struct rpc_txn_op, k + 1);
    for (uint64_t i = 0; i < k; i++) {
        v[i].verb = (enum rpc_txn_verb)cn_dec_u8(d);
        v[i].key = cn_dec_bytes(d, CN_KV_KEY_MAX);
        v[i].value = cn_dec_bytes(d, CN_CODEC_FIELD_MAX);
        v[i].flags = cn_dec_uvar(d);
        v[i].index = cn_dec_uvar(d);
        v[i].session = cn_dec_bytes(d, 256);
        if (v[i].verb < RPC_TXN_SET || v[i].verb >= RPC_TXN__VERB_END) return CN_ECORRUPT;
    }
    if (cn_dec_status(d)) return CN_ECORRUPT;
    *ops = v;
    *n = (size_t)k;
    return 0;
}

/* ---- execution -------------------------------------------------------- */

void rpc_txn_add_error(struct cn_arena *a, struct rpc_txn_out *out, size_t op_index,
                       const char *what)
{
    if (out->nerrors == out->ecap) {
        size_t ncap = out->ecap ? out->ecap * 2 : 4;
        struct rpc_txn_error *ne = CN_ARENA_ARRAY(a, struct rpc_txn_error, ncap);
        if (out->nerrors) memcpy(ne, out->errors, out->nerrors * sizeof *ne);
        out->errors = ne;
        out->ecap = ncap;
    }
    out->errors[out->nerrors++] = (struct rpc_txn_error){op_index, cn_arena_strdup(a, what)};
}

static struct rpc_kv_entry *add_result(struct cn_arena *a, struct rpc_txn_out *out, bool value)
{
    if (out->nresults == out->cap) {
        size_t ncap = out->cap ? out->cap * 2 : 8;
        struct rpc_kv_entry *nr = CN_ARENA_ARRAY(a, struct rpc_kv_entry, ncap);
        bool *nh = CN_ARENA_ARRAY(a, bool, ncap);
        if (out->nresults) {
            memcpy(nr, out->results, out->nresults * sizeof *nr);
            memcpy(nh, out->has_value, out->nresults * sizeof *nh);
        }
        out->results = nr;
        out->has_value = nh;
        out->cap = ncap;
    }
    out->has_value[out->nresults] = value;
    return &out->results[out->nresults++];
}

static void result_of(struct cn_arena *a, struct rpc_txn_out *out, const struct state_kv *e,
                      bool value)
{
    struct rpc_kv_entry *r = add_result(a, out, value);
    struct cn_str k = state_kv_key(e), v = state_kv_value(e);
    r->key = cn_str_make(cn_arena_memdup(a, k.p, k.len), k.len);
    r->value = value && v.len ? cn_str_make(cn_arena_memdup(a, v.p, v.len), v.len) : CN_STR_NULL;
    r->flags = state_kv_flags(e);
    r->create_index = e->create_index;
    r->modify_index = e->modify_index;
    r->lock_index = state_kv_lock_index(e);
    r->session = state_kv_session(e) ? cn_arena_strdup(a, state_kv_session(e)) : NULL;
}

struct tree_ctx {
    struct cn_arena *a;
    struct rpc_txn_out *out;
};

static bool tree_visit(void *ctx, const struct state_kv *e)
{
    struct tree_ctx *t = ctx;
    result_of(t->a, t->out, e, true);
    return true;
}

#define QK(op) (int)(op)->key.len, (op)->key.p

/* One write op on the open transaction; *msg gets Consul's error text. */
static int exec_write(struct state_txn *tx, const struct rpc_txn_op *op, struct cn_arena *a,
                      const char **msg)
{
    struct state_kv_write w = {.key = op->key,
                               .value = op->value,
                               .flags = op->flags,
                               .session = op->session,
                               .cas_index = op->index};
    bool ok = true;
    int rc = 0;
    switch (op->verb) {
    case RPC_TXN_SET:
        rc = state_kv_set_txn(tx, &w);
        break;
    case RPC_TXN_DELETE:
        return state_kv_delete_txn(tx, op->key);
    case RPC_TXN_DELETE_TREE:
        return state_kv_delete_tree_txn(tx, op->key);
    case RPC_TXN_DELETE_CAS:
        rc = state_kv_delete_cas_txn(tx, op->key, op->index, &ok);
        if (!rc && !ok)
            *msg = cn_arena_printf(a, "failed to delete key \"%.*s\", index is stale", QK(op));
        return rc ? rc : ok ? 0 : CN_ECONFLICT;
    case RPC_TXN_CAS:
        rc = state_kv_cas_txn(tx, &w, &ok);
        if (!rc && !ok)
            *msg = cn_arena_printf(a, "failed to set key \"%.*s\", index is stale", QK(op));
        break;
    case RPC_TXN_LOCK:
        if (!op->session.len) {
            *msg = "missing session";
            return CN_ECONFLICT;
        }
        if (!state_session_exists(state_txn_store(tx), op->session)) {
            *msg =
                cn_arena_printf(a, "invalid session \"%.*s\"", (int)op->session.len, op->session.p);
            return CN_ECONFLICT;
        }
        rc = state_kv_lock_txn(tx, &w, &ok);
        if (!rc && !ok)
            *msg = cn_arena_printf(a, "failed to lock key \"%.*s\", lock is already held", QK(op));
        break;
    case RPC_TXN_UNLOCK:
        rc = state_kv_unlock_txn(tx, &w, &ok);
        if (!rc && !ok)
            *msg = cn_arena_printf(a,
                                   "failed to unlock key \"%.*s\", lock isn't held, or is "
                                   "held by another session",
                                   QK(op));
        break;
    default:
        return CN_EINVAL;
    }
    if (rc == CN_ETOOBIG) *msg = cn_arena_printf(a, "key \"%.*s\" is too long", QK(op));
    return rc ? rc : ok ? 0 : CN_ECONFLICT;
}

static int exec_read(struct state_store *st, const struct rpc_txn_op *op, struct cn_arena *a,
                     struct rpc_txn_out *out, const char **msg)
{
    const struct state_kv *e = NULL;
    if (op->verb == RPC_TXN_GET_TREE) {
        struct tree_ctx t = {a, out};
        state_kv_list(st, op->key, NULL, tree_visit, &t, NULL);
        return 0;
    }
    e = state_kv_get(st, op->key, NULL);
    switch (op->verb) {
    case RPC_TXN_GET_OR_EMPTY:
        if (!e) {
            struct rpc_kv_entry *r = add_result(a, out, false);
            memset(r, 0, sizeof *r);
            r->key = cn_str_make(cn_arena_memdup(a, op->key.p, op->key.len), op->key.len);
            return 0;
        }
        break;
    case RPC_TXN_CHECK_NOT_EXISTS:
        if (e) {
            *msg = cn_arena_printf(a, "key \"%.*s\" exists", QK(op));
            return CN_ECONFLICT;
        }
        return 0;
    default:
        if (e) break;
        if (op->verb == RPC_TXN_CHECK_INDEX)
            *msg = cn_arena_printf(a, "failed to check index, key \"%.*s\" doesn't exist", QK(op));
        else if (op->verb == RPC_TXN_CHECK_SESSION)
            *msg =
                cn_arena_printf(a, "failed to check session, key \"%.*s\" doesn't exist", QK(op));
        else
            *msg = cn_arena_printf(a, "key \"%.*s\" doesn't exist", QK(op));
        return CN_ECONFLICT;
    }
    if (op->verb == RPC_TXN_CHECK_INDEX && e->modify_index != op->index) {
        *msg = cn_arena_printf(a,
                               "failed index check for key \"%.*s\", current modify index "
                               "%llu != %llu",
                               QK(op), (unsigned long long)e->modify_index,
                               (unsigned long long)op->index);
        return CN_ECONFLICT;
    }
    if (op->verb == RPC_TXN_CHECK_SESSION &&
        !cn_str_eq(cn_str_from(state_kv_session(e) ? state_kv_session(e) : ""), op->session)) {
        *msg = cn_arena_printf(a,
                               "failed session check for key \"%.*s\", current session "
                               "\"%s\" != \"%.*s\"",
                               QK(op), state_kv_session(e) ? state_kv_session(e) : "", (int)op->session.len,
                               op->session.p);
        return CN_ECONFLICT;
    }
    result_of(a, out, e, op->verb == RPC_TXN_GET);
    return 0;
}

int rpc_txn_exec(struct state_txn *tx, struct state_store *st, const struct rpc_txn_op *ops,
                 size_t n, struct cn_arena *a, struct rpc_txn_out *out)
{
    for (size_t i = 0; i < n; i++) {
        const struct rpc_txn_op *op = &ops[i];
        const char *msg = NULL;
        int rc;
        if (rpc_txn_verb_writes(op->verb)) {
            if (!tx) return CN_EINVAL;
            rc = exec_write(tx, op, a, &msg);
            if (rc == 0 && op->verb != RPC_TXN_DELETE && op->verb != RPC_TXN_DELETE_TREE &&
                op->verb != RPC_TXN_DELETE_CAS) {
                const struct state_kv *e = state_kv_get(state_txn_store(tx), op->key, NULL);
                if (e) result_of(a, out, e, false);
            }
        } else {
            rc = exec_read(tx ? state_txn_store(tx) : st, op, a, out, &msg);
        }
        if (rc) {
            rpc_txn_add_error(a, out, i, msg ? msg : cn_strerror(rc));
            return CN_ECONFLICT;
        }
    }
    return 0;
}

/* ---- results through the FSM result text ------------------------------ */

char *rpc_txn_out_encode(const struct rpc_txn_out *out)
{
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_enc_uvar(&b, out->nresults);
    for (size_t i = 0; i < out->nresults; i++) {
        const struct rpc_kv_entry *r = &out->results[i];
        cn_enc_str(&b, r->key);
        cn_enc_bool(&b, out->has_value[i]);
        cn_enc_str(&b, r->value);
        cn_enc_uvar(&b, r->flags);
        cn_enc_uvar(&b, r->lock_index);
        cn_enc_cstr(&b, r->session ? r->session : "");
        cn_enc_uvar(&b, r->create_index);
        cn_enc_uvar(&b, r->modify_index);
    }
    cn_enc_uvar(&b, out->nerrors);
    for (size_t i = 0; i < out->nerrors; i++) {
        cn_enc_uvar(&b, out->errors[i].op_index);
        cn_enc_cstr(&b, out->errors[i].what);
    }
    char *text = cn_malloc(cn_base64_encoded_len(b.len) + 1);
    cn_base64_encode(b.data, b.len, text);
    text[cn_base64_encoded_len(b.len)] = '\0';
    cn_buf_release(&b);
    return text;
}

int rpc_txn_out_decode(const char *text, struct cn_arena *a, struct rpc_txn_out *out)
{
    size_t tlen = text ? strlen(text) : 0;
    char *raw = cn_arena_alloc(a, cn_base64_decoded_max(tlen) + 1);
    long n = cn_base64_decode(text ? text : "", tlen, raw);
    struct cn_dec d;
    memset(out, 0, sizeof *out);
    if (n < 0) return CN_ECORRUPT;
    cn_dec_init(&d, raw, (size_t)n);
    uint64_t nr = cn_dec_uvar(&d);
    if (nr > (uint64_t)n) return CN_ECORRUPT;
    for (uint64_t i = 0; i < nr && !cn_dec_status(&d); i++) {
        struct cn_str key = cn_dec_bytes(&d, CN_KV_KEY_MAX);
        bool hv = cn_dec_bool(&d);
        struct rpc_kv_entry *r = add_result(a, out, hv);
        r->key = key;
        r->value = cn_dec_bytes(&d, CN_CODEC_FIELD_MAX);
        r->flags = cn_dec_uvar(&d);
        r->lock_index = cn_dec_uvar(&d);
        struct cn_str s = cn_dec_bytes(&d, 256);
        r->session = s.len ? cn_arena_strndup(a, s.p, s.len) : NULL;
        r->create_index = cn_dec_uvar(&d);
        r->modify_index = cn_dec_uvar(&d);
    }
    uint64_t ne = cn_dec_uvar(&d);
    if (ne > (uint64_t)n) return CN_ECORRUPT;
    for (uint64_t i = 0; i < ne && !cn_dec_status(&d); i++) {
        uint64_t idx = cn_dec_uvar(&d);
        struct cn_str w = cn_dec_bytes(&d, 4096);
        rpc_txn_add_error(a, out, (size_t)idx, cn_arena_strndup(a, w.p ? w.p : "", w.len));
    }
    return cn_dec_status(&d) ? CN_ECORRUPT : 0;
}

/* ---- ACL -------------------------------------------------------------- */

bool rpc_txn_vet(const struct acl_authz *authz, const struct rpc_txn_op *ops, size_t n,
                 struct cn_arena *a, struct rpc_txn_out *out)
{
    bool all = true;
    for (size_t i = 0; i < n; i++) {
        const struct rpc_txn_op *op = &ops[i];
        bool ok;
        if (op->verb == RPC_TXN_DELETE_TREE)
            ok = acl_allow_key_write_prefix(authz, op->key);
        else if (rpc_txn_verb_writes(op->verb))
            ok = acl_allow(authz, ACL_R_KEY, op->key, ACL_A_WRITE);
        else if (op->verb == RPC_TXN_GET_TREE)
            ok = true; /* results are filtered */
        else
            ok = acl_allow(authz, ACL_R_KEY, op->key, ACL_A_READ);
        if (!ok) {
            rpc_txn_add_error(a, out, i, "Permission denied");
            all = false;
        }
    }
    return all;
}

void rpc_txn_filter_results(const struct acl_authz *authz, struct rpc_txn_out *out)
{
    size_t k = 0;
    for (size_t i = 0; i < out->nresults; i++) {
        if (!acl_allow(authz, ACL_R_KEY, out->results[i].key, ACL_A_READ)) continue;
        out->results[k] = out->results[i];
        out->has_value[k] = out->has_value[i];
        k++;
    }
    out->nresults = k;
}

int rpc_txn_run(struct rpc_query *q, struct state_store *st, struct state_watch_set *ws)
{
    const struct rpc_txn_req *req = q->req;
    struct rpc_txn_out *out = CN_ARENA_NEW(&q->arena, struct rpc_txn_out);
    (void)ws;
    q->resp = out;
    rpc_txn_exec(NULL, st, req->ops, req->n, &q->arena, out);
    rpc_txn_filter_results(q->authz, out);
    q->meta.index = state_last_index(st);
    if (q->meta.index == 0) q->meta.index = 1;
    return 0;
}
