/* kv.c - KV reads (with Consul's index rules) and write preparation. */
#include <string.h>

#include "lib/cn_common.h"
#include "rpc/rpc_int.h"
#include "rpc/rpc_kv.h"

struct collect {
    struct rpc_query *q;
    struct rpc_kv_resp *resp;
    size_t cap;
    struct cn_str prefix;
    struct cn_str sep;
};

static bool readable(struct rpc_query *q, struct cn_str key)
{
    return acl_allow(q->authz, ACL_R_KEY, key, ACL_A_READ);
}

static void copy_entry(struct cn_arena *a, struct rpc_kv_entry *out, const struct state_kv *e)
{
    struct cn_str k = state_kv_key(e), v = state_kv_value(e);
    out->key = cn_str_make(cn_arena_memdup(a, k.p, k.len), k.len);
    out->value = cn_str_make(v.len ? cn_arena_memdup(a, v.p, v.len) : NULL, v.len);
    out->flags = state_kv_flags(e);
    out->create_index = e->create_index;
    out->modify_index = e->modify_index;
    out->lock_index = state_kv_lock_index(e);
    out->session = state_kv_session(e) ? cn_arena_strdup(a, state_kv_session(e)) : NULL;
}

static bool collect_entry(void *ctx, const struct state_kv *e)
{
    struct collect *c = ctx;
    struct rpc_kv_resp *r = c->resp;
    if (!readable(c->q, state_kv_key(e))) {
        c->q->meta.filtered_by_acls = true;
        return true;
    }
    if (r->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 16;
        struct rpc_kv_entry *ne = CN_ARENA_ARRAY(&c->q->arena, struct rpc_kv_entry, ncap);
        if (r->n) memcpy(ne, r->entries, r->n * sizeof *ne);
        r->entries = ne;
        c->cap = ncap;
    }
    copy_entry(&c->q->arena, &r->entries[r->n++], e);
    return true;
}

/* ?keys with a separator folds everything past the first separator after
 * the prefix into one "folder" key, deduplicated (keys arrive sorted, so a
 * repeat is always the previous key). */
static bool collect_key(void *ctx, const struct state_kv *e)
{
    struct collect *c = ctx;
    struct rpc_kv_resp *r = c->resp;
    struct cn_str k = state_kv_key(e);
    if (!readable(c->q, k)) {
        c->q->meta.filtered_by_acls = true;
        return true;
    }
    if (c->sep.len) {
        struct cn_str rest = cn_str_sub(k, c->prefix.len, SIZE_MAX);
        const char *hit = memmem(rest.p, rest.len, c->sep.p, c->sep.len);
        if (hit) k.len = (size_t)(hit - k.p) + c->sep.len;
    }
    if (r->nkeys && cn_str_eq(r->keys[r->nkeys - 1], k)) return true;
    if (r->nkeys == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 32;
        struct cn_str *nk = CN_ARENA_ARRAY(&c->q->arena, struct cn_str, ncap);
        if (r->nkeys) memcpy(nk, r->keys, r->nkeys * sizeof *nk);
        r->keys = nk;
        c->cap = ncap;
    }
    r->keys[r->nkeys++] = cn_str_make(cn_arena_memdup(&c->q->arena, k.p, k.len), k.len);
    return true;
}

int rpc_kv_run(struct rpc_query *q, struct state_store *st, struct state_watch_set *ws)
{
    const struct rpc_kv_req *req = q->req;
    struct rpc_kv_resp *resp = CN_ARENA_NEW(&q->arena, struct rpc_kv_resp);
    struct collect c = {.q = q, .resp = resp, .prefix = req->key, .sep = req->separator};
    q->resp = resp;
    switch (req->op) {
    case RPC_KV_GET: {
        if (!readable(q, req->key)) {
            resp->denied = true;
            q->meta.index = state_kv_index(st);
            return CN_EPERM;
        }
        const struct state_kv *e = state_kv_get(st, req->key, ws);
        if (e) {
            resp->entries = CN_ARENA_NEW(&q->arena, struct rpc_kv_entry);
            resp->n = 1;
            copy_entry(&q->arena, resp->entries, e);
            q->meta.index = e->modify_index;
        } else {
            q->meta.index = state_kv_index(st);
        }
        return 0;
    }
    case RPC_KV_LIST:
    case RPC_KV_KEYS:
        /* acl.enable_key_list_policy: listing needs list on the prefix;
         * the rows are then filtered by read as always. */
        if (!acl_allow_key_list(q->authz, req->key)) {
            q->meta.index = state_kv_index(st);
            return CN_EPERM;
        }
        state_kv_list(st, req->key, ws, req->op == RPC_KV_LIST ? collect_entry : collect_key, &c,
                      &q->meta.index);
        return 0;
    }
    return CN_EINVAL;
}

/* DELETE ?recurse needs write on the prefix and no rule under it that
 * would not grant write (Consul's KeyWritePrefix): decided from the rules
 * alone, so keys written later are covered too. */
static bool tree_writable(struct rpc *rpc, const struct acl_authz *authz, struct cn_str prefix)
{
    (void)rpc;
    return acl_allow_key_write_prefix(authz, prefix);
}

int rpc_kv_prepare_write(struct rpc *rpc, const struct acl_authz *authz,
                         const struct rpc_kvs_cmd *c, struct cn_buf *out)
{
    bool ok = c->op == RPC_KVS_DELETE_TREE ? tree_writable(rpc, authz, c->key)
                                            : acl_allow(authz, ACL_R_KEY, c->key, ACL_A_WRITE);
    if (!ok) return CN_EPERM;
    rpc_kvs_encode(c, out);
    return 0;
}
