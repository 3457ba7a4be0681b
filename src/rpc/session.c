/* session.c - session commands, reads and the Session JSON shape. */
#include <string.h>

#include "lib/cn_common.h"
#include "lib/cn_time.h"
#include "rpc/rpc_int.h"
#include "rpc/rpc_session.h"

void rpc_session_cmd_encode(const struct rpc_session_cmd *c, struct cn_buf *out)
{
    rpc_cmd_begin(out, RPC_CMD_SESSION);
    cn_enc_u8(out, (uint8_t)c->op);
    if (c->op == RPC_SESSION_CREATE)
        state_session_encode(&c->s, out);
    else
        cn_enc_str(out, c->id);
}

int rpc_session_cmd_decode(struct cn_dec *d, struct cn_arena *a, struct rpc_session_cmd *c)
{
    memset(c, 0, sizeof *c);
    c->op = (enum rpc_session_op)cn_dec_u8(d);
    if (c->op == RPC_SESSION_CREATE) {
        if (state_session_decode(d, a, &c->s)) return CN_ECORRUPT;
    } else if (c->op == RPC_SESSION_DESTROY || c->op == RPC_SESSION_RENEW) {
        c->id = cn_dec_bytes(d, 256);
    } else {
        return CN_ECORRUPT;
    }
    return cn_dec_status(d) ? CN_ECORRUPT : 0;
}

int rpc_session_prepare_create(struct rpc *rpc, const struct acl_authz *authz,
                               struct state_session *s, int64_t ttl_min_ns, struct cn_buf *out,
                               struct cn_err *err)
{
    (void)rpc;
    cn_err_clear(err);
    if (s->ttl && *s->ttl) {
        int64_t ttl;
        if (cn_dur_parse(cn_str_from(s->ttl), &ttl))
            return cn_err_set(err, CN_EINVAL,
                              "Session TTL '%s' invalid: time: invalid duration \"%s\"", s->ttl,
                              s->ttl);
        if (ttl != 0 && (ttl < ttl_min_ns || ttl > RPC_SESSION_TTL_MAX_NS)) {
            char lo[32], hi[32];
            cn_dur_format(ttl_min_ns, lo, sizeof lo);
            cn_dur_format(RPC_SESSION_TTL_MAX_NS, hi, sizeof hi);
            return cn_err_set(err, CN_EINVAL, "Invalid Session TTL '%lld', must be between [%s=%s]",
                              (long long)ttl, lo, hi);
        }
    }
    if (s->lock_delay_ns > RPC_SESSION_LOCK_DELAY_MAX_NS)
        s->lock_delay_ns = RPC_SESSION_LOCK_DELAY_MAX_NS;
    if (s->lock_delay_ns < 0) s->lock_delay_ns = 0;
    if (!acl_allow(authz, ACL_R_SESSION, cn_str_from(s->node), ACL_A_WRITE)) return CN_EPERM;
    struct rpc_session_cmd c = {.op = RPC_SESSION_CREATE, .s = *s};
    c.s.id = "";
    rpc_session_cmd_encode(&c, out);
    return 0;
}

int rpc_session_prepare_id(struct rpc *rpc, const struct acl_authz *authz, enum rpc_session_op op,
                           struct cn_str id, struct cn_buf *out)
{
    const struct state_session *s = state_session_get(rpc->st, id, NULL);
    if (s && !acl_allow(authz, ACL_R_SESSION, cn_str_from(s->node), ACL_A_WRITE)) return CN_EPERM;
    struct rpc_session_cmd c = {.op = op, .id = id};
    rpc_session_cmd_encode(&c, out);
    return 0;
}

/* ---- reads ------------------------------------------------------------ */

struct collect {
    struct rpc_query *q;
    struct rpc_session_resp *resp;
    size_t cap;
};

static bool collect(void *ctx, const struct state_session *s)
{
    struct collect *c = ctx;
    struct rpc_session_resp *r = c->resp;
    if (!acl_allow(c->q->authz, ACL_R_SESSION, cn_str_from(s->node), ACL_A_READ)) {
        c->q->meta.filtered_by_acls = true;
        return true;
    }
    if (r->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 8;
        struct state_session **nv = CN_ARENA_ARRAY(&c->q->arena, struct state_session *, ncap);
        if (r->n) memcpy(nv, r->v, r->n * sizeof *nv);
        r->v = nv;
        c->cap = ncap;
    }
    r->v[r->n++] = state_session_copy(&c->q->arena, s);
    return true;
}

int rpc_session_run(struct rpc_query *q, struct state_store *st, struct state_watch_set *ws)
{
    const struct rpc_session_req *req = q->req;
    struct rpc_session_resp *resp = CN_ARENA_NEW(&q->arena, struct rpc_session_resp);
    struct collect c = {.q = q, .resp = resp};
    q->resp = resp;
    switch (req->op) {
    case RPC_SESSION_INFO: {
        const struct state_session *s = state_session_get(st, req->arg, ws);
        if (s) collect(&c, s);
        q->meta.index = state_table_index(st, STATE_T_SESSIONS);
        break;
    }
    case RPC_SESSION_NODE:
        q->meta.index = state_node_sessions(st, req->arg, ws, collect, &c);
        break;
    case RPC_SESSION_LIST:
        q->meta.index = state_sessions_list(st, ws, collect, &c);
        break;
    default:
        return CN_EINVAL;
    }
    if (q->meta.index == 0) q->meta.index = 1;
    return 0;
}

/* ---- JSON ------------------------------------------------------------- */

void rpc_json_session(struct cn_jw *w, const struct state_session *s)
{
    cn_jw_obj_begin(w);
    cn_jw_key_str(w, "ID", s->id);
    cn_jw_key_str(w, "Name", s->name);
    cn_jw_key_str(w, "Node", s->node);
    cn_jw_key_i64(w, "LockDelay", s->lock_delay_ns);
    cn_jw_key_str(w, "Behavior", s->delete_keys ? "delete" : "release");
    cn_jw_key_str(w, "TTL", s->ttl ? s->ttl : "");
    cn_jw_key(w, "NodeChecks");
    cn_jw_arr_begin(w);
    for (size_t i = 0; i < s->nnode_checks; i++)
        cn_jw_str(w, s->node_checks[i]);
    cn_jw_arr_end(w);
    cn_jw_key(w, "ServiceChecks");
    if (s->nservice_checks == 0) {
        cn_jw_null(w);
    } else {
        cn_jw_arr_begin(w);
        for (size_t i = 0; i < s->nservice_checks; i++) {
            cn_jw_obj_begin(w);
            cn_jw_key_str(w, "ID", s->service_checks[i]);
            cn_jw_key_str(w, "Namespace", "");
            cn_jw_obj_end(w);
        }
        cn_jw_arr_end(w);
    }
    cn_jw_key_u64(w, "CreateIndex", s->create_index);
    cn_jw_key_u64(w, "ModifyIndex", s->modify_index);
    cn_jw_obj_end(w);
}
