/*
 * acl_repl.c - ACL replication's dump and plan (rpc_acl_repl.h).
 *
 * Consul's replicator lists the remote objects, diffs IDs and hashes against
 * the local table, fetches what changed and applies batches. Here one dump
 * carries whole rows (policies and tokens are small, and one consistent read
 * of the primary keeps a token and the policies it links in step), and the
 * diff compares whole rows, so a change the Hash does not cover (a service
 * identity's datacenters) still replicates.
 */
#include <string.h>

#include "lib/cn_common.h"
#include "lib/cn_map.h"
#include "rpc/rpc_acl.h"
#include "rpc/rpc_acl_repl.h"

#define DUMP_VERSION 1

/* ---- the primary's side ------------------------------------------------ */

struct dump_ctx {
    struct rpc_query *q;
    struct rpc_acl_dump *d;
    size_t cap_p, cap_t;
};

/* Grow an arena array of pointers (old contents copied; the arena frees). */
static const void **grow(struct cn_arena *a, const void **v, size_t n, size_t *cap)
{
    *cap = *cap ? *cap * 2 : 16;
    const void **nv = CN_ARENA_ARRAY(a, const void *, *cap);
    if (n) memcpy(nv, v, n * sizeof *nv);
    return nv;
}

static bool dump_policy(void *arg, const struct state_acl_policy *p)
{
    struct dump_ctx *c = arg;
    struct rpc_acl_dump *d = c->d;
    if (d->npolicies == RPC_ACL_DUMP_ROWS_MAX) return false;
    if (d->npolicies == c->cap_p)
        d->policies = (const struct state_acl_policy **)grow(
            &c->q->arena, (const void **)d->policies, d->npolicies, &c->cap_p);
    d->policies[d->npolicies++] = p;
    return true;
}

static bool dump_token(void *arg, const struct state_acl_token *t)
{
    struct dump_ctx *c = arg;
    struct rpc_acl_dump *d = c->d;
    if (t->local) return true; /* local tokens stay in their datacenter */
    if (d->ntokens == RPC_ACL_DUMP_ROWS_MAX) return false;
    if (d->ntokens == c->cap_t)
        d->tokens = (const struct state_acl_token **)grow(&c->q->arena, (const void **)d->tokens,
                                                          d->ntokens, &c->cap_t);
    d->tokens[d->ntokens++] = t;
    return true;
}

int rpc_acl_dump_run(struct rpc_query *q, struct state_store *st, struct state_watch_set *ws)
{
    const struct rpc_acl_dump_req *req = q->req;
    struct rpc_acl_dump *d = CN_ARENA_NEW(&q->arena, struct rpc_acl_dump);
    struct dump_ctx c = {.q = q, .d = d};
    q->resp = d;
    q->meta.index = d->index = state_acl_index(st);
    if (ws) {
        state_ws_add_table(ws, STATE_T_ACL_TOKENS);
        state_ws_add_table(ws, STATE_T_ACL_POLICIES);
        state_ws_add_table(ws, STATE_T_ACL_ROLES);
    }
    /* Consul's replication reads: PolicyList needs acl:read; tokens carry
     * secrets, which only acl:write may see unredacted. */
    enum acl_access need = req->tokens ? ACL_A_WRITE : ACL_A_READ;
    if (!acl_allow(q->authz, ACL_R_ACL, CN_STR_NULL, need))
        return cn_err_set(&q->err, CN_EPERM, "Permission denied");
    d->policies_index = state_table_index(st, STATE_T_ACL_POLICIES);
    d->tokens_index = state_table_index(st, STATE_T_ACL_TOKENS);
    d->roles_index = state_table_index(st, STATE_T_ACL_ROLES);
    d->with_tokens = req->tokens;
    state_acl_policy_list(st, NULL, dump_policy, &c);
    if (req->tokens) state_acl_token_list(st, NULL, dump_token, &c);
    return 0;
}

void rpc_acl_dump_encode(const struct rpc_acl_dump *d, struct cn_buf *out)
{
    cn_enc_u8(out, DUMP_VERSION);
    cn_enc_uvar(out, d->index);
    cn_enc_uvar(out, d->policies_index);
    cn_enc_uvar(out, d->tokens_index);
    cn_enc_uvar(out, d->roles_index);
    cn_enc_bool(out, d->with_tokens);
    cn_enc_uvar(out, d->npolicies);
    for (size_t i = 0; i < d->npolicies; i++)
        state_acl_policy_encode(d->policies[i], out);
    cn_enc_uvar(out, d->ntokens);
    for (size_t i = 0; i < d->ntokens; i++)
        state_acl_token_encode(d->tokens[i], out);
}

/* ---- decoding ------------------------------------------------------------ */

/* A row count: bounded, and each row takes at least one byte. */
static size_t dec_count(struct cn_dec *dec)
{
    uint64_t n = cn_dec_uvar(dec);
    if (cn_dec_status(dec) || n > RPC_ACL_DUMP_ROWS_MAX || n > cn_dec_left(dec)) {
        dec->err = CN_ECORRUPT;
        return 0;
    }
    return (size_t)n;
}

int rpc_acl_dump_decode(const void *p, size_t len, struct rpc_acl_dump *out)
{
    struct cn_dec dec;
    memset(out, 0, sizeof *out);
    cn_dec_init(&dec, p, len);
    if (cn_dec_u8(&dec) != DUMP_VERSION) return CN_ECORRUPT;
    out->index = cn_dec_uvar(&dec);
    out->policies_index = cn_dec_uvar(&dec);
    out->tokens_index = cn_dec_uvar(&dec);
    out->roles_index = cn_dec_uvar(&dec);
    out->with_tokens = cn_dec_bool(&dec);
    size_t n = dec_count(&dec);
    if (n) out->policies = cn_calloc(n, sizeof *out->policies);
    for (size_t i = 0; i < n; i++) {
        struct state_acl_policy *row;
        if (state_acl_policy_decode(&dec, &row)) return CN_ECORRUPT;
        out->policies[out->npolicies++] = row;
    }
    n = dec_count(&dec);
    if (n && !out->with_tokens) return CN_ECORRUPT;
    if (n) out->tokens = cn_calloc(n, sizeof *out->tokens);
    for (size_t i = 0; i < n; i++) {
        struct state_acl_token *row;
        if (state_acl_token_decode(&dec, &row)) return CN_ECORRUPT;
        out->tokens[out->ntokens++] = row;
    }
    if (cn_dec_status(&dec) || cn_dec_left(&dec)) return CN_ECORRUPT;
    return 0;
}

void rpc_acl_dump_release(struct rpc_acl_dump *d)
{
    /* decoded rows are heap copies: the const is for the borrowed kind */
    for (size_t i = 0; i < d->npolicies; i++)
        state_acl_policy_free((struct state_acl_policy *)d->policies[i]);
    for (size_t i = 0; i < d->ntokens; i++)
        state_acl_token_free((struct state_acl_token *)d->tokens[i]);
    free(d->policies);
    free(d->tokens);
    memset(d, 0, sizeof *d);
}

/* ---- the plan ------------------------------------------------------------ */

/* Rows are equal when their encodings are, leaving out what each
 * datacenter's own FSM stamps: Raft indexes, and a token's create time
 * (kept from the existing row on update, so it could never converge). */
static bool same_policy(const struct state_acl_policy *a, const struct state_acl_policy *b)
{
    struct state_acl_policy x = *a, y = *b;
    struct cn_buf ea, eb;
    x.create_index = x.modify_index = y.create_index = y.modify_index = 0;
    cn_buf_init(&ea, CN_BUF_UNLIMITED);
    cn_buf_init(&eb, CN_BUF_UNLIMITED);
    state_acl_policy_encode(&x, &ea);
    state_acl_policy_encode(&y, &eb);
    bool same = ea.len == eb.len && !memcmp(ea.data, eb.data, ea.len);
    cn_buf_release(&ea);
    cn_buf_release(&eb);
    return same;
}

static bool same_token(const struct state_acl_token *a, const struct state_acl_token *b)
{
    struct state_acl_token x = *a, y = *b;
    struct cn_buf ea, eb;
    x.create_index = x.modify_index = y.create_index = y.modify_index = 0;
    x.create_time_ns = y.create_time_ns = 0;
    cn_buf_init(&ea, CN_BUF_UNLIMITED);
    cn_buf_init(&eb, CN_BUF_UNLIMITED);
    state_acl_token_encode(&x, &ea);
    state_acl_token_encode(&y, &eb);
    bool same = ea.len == eb.len && !memcmp(ea.data, eb.data, ea.len);
    cn_buf_release(&ea);
    cn_buf_release(&eb);
    return same;
}

struct planner {
    struct rpc_acl_repl_plan *p;
    size_t cap;
    struct cn_map remote_policies; /* ID -> row of the dump */
    struct cn_map remote_tokens;   /* AccessorID -> row of the dump */
    /* Policy names as the plan leaves them so far (name -> ID), and the
     * local policies the plan deletes: names are unique at every step, so
     * a rename onto a name another policy still holds (two policies that
     * swapped names in the primary) deletes that one first; its own upsert
     * then re-creates it under its new name. */
    struct cn_map names;
    struct cn_map deleted;
};

static struct cn_buf *next_cmd(struct planner *pl)
{
    struct rpc_acl_repl_plan *p = pl->p;
    if (p->ncmds == pl->cap) {
        pl->cap = pl->cap ? pl->cap * 2 : 16;
        p->cmds = cn_realloc(p->cmds, pl->cap * sizeof *p->cmds);
    }
    struct cn_buf *b = &p->cmds[p->ncmds++];
    cn_buf_init(b, CN_BUF_UNLIMITED);
    return b;
}

static void delete_policy(struct planner *pl, const char *id)
{
    rpc_acl_policy_delete_encode(id, next_cmd(pl));
    cn_map_put(&pl->deleted, cn_str_from(id), (void *)id);
    pl->p->policy_deletes++;
}

static bool stale_policy(void *arg, const struct state_acl_policy *p)
{
    struct planner *pl = arg;
    if (!strcmp(p->id, ACL_GLOBAL_MANAGEMENT_ID) || /* built in */
        cn_map_has(&pl->remote_policies, cn_str_from(p->id))) {
        cn_map_put(&pl->names, cn_str_from(p->name), (void *)p->id);
        return true;
    }
    delete_policy(pl, p->id);
    return true;
}

static bool stale_token(void *arg, const struct state_acl_token *t)
{
    struct planner *pl = arg;
    if (t->local || !strcmp(t->accessor, ACL_ANONYMOUS_ID)) return true;
    if (cn_map_has(&pl->remote_tokens, cn_str_from(t->accessor))) return true;
    rpc_acl_token_delete_encode(t->accessor, next_cmd(pl));
    pl->p->token_deletes++;
    return true;
}

/* The token as this datacenter will hold it: links to policies the
 * primary no longer has are dropped. */
static struct state_acl_token *wanted_token(struct planner *pl, const struct state_acl_token *t)
{
    struct state_acl_token *w = state_acl_token_dup(t);
    size_t n = 0;
    for (size_t i = 0; i < w->npolicies; i++) {
        const char *id = w->policies[i];
        if (!strcmp(id, ACL_GLOBAL_MANAGEMENT_ID) ||
            cn_map_has(&pl->remote_policies, cn_str_from(id)))
            w->policies[n++] = w->policies[i];
        else
            free(w->policies[i]);
    }
    w->npolicies = n;
    return w;
}

static void plan_policies(struct planner *pl, struct state_store *st, const struct rpc_acl_dump *d)
{
    state_acl_policy_list(st, NULL, stale_policy, pl);
    for (size_t i = 0; i < d->npolicies; i++) {
        const struct state_acl_policy *want = d->policies[i];
        const struct state_acl_policy *have = state_acl_policy_get(st, cn_str_from(want->id), NULL);
        if (have && cn_map_has(&pl->deleted, cn_str_from(have->id))) have = NULL;
        if (have && same_policy(have, want)) continue;
        const char *owner = cn_map_get(&pl->names, cn_str_from(want->name));
        if (owner && strcmp(owner, want->id) && strcmp(owner, ACL_GLOBAL_MANAGEMENT_ID)) {
            cn_map_del(&pl->names, cn_str_from(want->name));
            delete_policy(pl, owner);
        }
        if (have && cn_map_get(&pl->names, cn_str_from(have->name)) == (void *)have->id)
            cn_map_del(&pl->names, cn_str_from(have->name));
        cn_map_put(&pl->names, cn_str_from(want->name), (void *)want->id);
        rpc_acl_policy_set_encode(want, STATE_ACL_UPSERT, next_cmd(pl));
        pl->p->policy_upserts++;
    }
}

static void plan_tokens(struct planner *pl, struct state_store *st, const struct rpc_acl_dump *d)
{
    state_acl_token_list(st, NULL, stale_token, pl);
    for (size_t i = 0; i < d->ntokens; i++) {
        const struct state_acl_token *t = d->tokens[i];
        if (t->local) continue; /* never sent; never trusted either */
        const struct state_acl_token *have =
            state_acl_token_get(st, cn_str_from(t->accessor), NULL);
        if (have && have->local) continue; /* an accessor clash: ours stays */
        struct state_acl_token *want = wanted_token(pl, t);
        if (!have || !same_token(have, want)) {
            rpc_acl_token_set_encode(want, STATE_ACL_UPSERT, next_cmd(pl));
            pl->p->token_upserts++;
        }
        state_acl_token_free(want);
    }
}

void rpc_acl_repl_plan(struct state_store *st, const struct rpc_acl_dump *d,
                       struct rpc_acl_repl_plan *out)
{
    struct planner pl = {.p = out};
    memset(out, 0, sizeof *out);
    cn_map_init(&pl.remote_policies);
    cn_map_init(&pl.remote_tokens);
    cn_map_init(&pl.names);
    cn_map_init(&pl.deleted);
    for (size_t i = 0; i < d->npolicies; i++)
        cn_map_put(&pl.remote_policies, cn_str_from(d->policies[i]->id), (void *)d->policies[i]);
    for (size_t i = 0; i < d->ntokens; i++)
        cn_map_put(&pl.remote_tokens, cn_str_from(d->tokens[i]->accessor), (void *)d->tokens[i]);
    plan_policies(&pl, st, d);
    if (d->with_tokens) plan_tokens(&pl, st, d);
    cn_map_release(&pl.remote_policies);
    cn_map_release(&pl.remote_tokens);
    cn_map_release(&pl.names);
    cn_map_release(&pl.deleted);
}

void rpc_acl_repl_plan_release(struct rpc_acl_repl_plan *p)
{
    for (size_t i = 0; i < p->ncmds; i++)
        cn_buf_release(&p->cmds[i]);
    free(p->cmds);
    memset(p, 0, sizeof *p);
}
