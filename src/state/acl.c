/*
 * acl.c - the ACL tokens and policies tables (Consul's state/acl.go).
 *
 * Tokens are keyed by AccessorID, policies by ID. Links from tokens to
 * policies are by ID only; a deleted policy simply stops applying (Consul
 * resolves links when it reads them). Rows are encoded with one codec for
 * snapshots and for the leader's Raft commands, so what the FSM applies is
 * exactly what the leader validated.
 */
#include <stdio.h>
#include <string.h>

#include "lib/cn_common.h"
#include "state/state_int.h"

#define STR_MAX (64 * 1024)
#define RULES_MAX (512 * 1024)
#define LIST_MAX 4096
/* Built in: linking it never fails, even before a leader wrote its row. */
#define GLOBAL_MANAGEMENT_ID "00000000-0000-0000-0000-000000000001"

/* ---- rows ----------------------------------------------------------- */

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

void state_acl_token_free(struct state_acl_token *t)
{
    if (!t) return;
    free(t->accessor);
    free(t->secret);
    free(t->description);
    free_strv(t->policies, t->npolicies);
    for (size_t i = 0; i < t->nsvc; i++) {
        free(t->svc[i].name);
        free_strv(t->svc[i].dcs, t->svc[i].ndcs);
    }
    free(t->svc);
    for (size_t i = 0; i < t->nnodes; i++) {
        free(t->nodes[i].name);
        free(t->nodes[i].dc);
    }
    free(t->nodes);
    free(t->legacy_type);
    free(t->rules);
    free(t->hash);
    free(t);
}

void state_acl_policy_free(struct state_acl_policy *p)
{
    if (!p) return;
    free(p->id);
    free(p->name);
    free(p->description);
    free(p->rules);
    free_strv(p->dcs, p->ndcs);
    free(p->hash);
    free(p);
}

static void enc_strv(struct cn_buf *out, char *const *v, size_t n)
{
    cn_enc_uvar(out, n);
    for (size_t i = 0; i < n; i++) cn_enc_cstr(out, v[i]);
}

static char **dec_strv(struct cn_dec *d, size_t *n)
{
    uint64_t cnt = cn_dec_uvar(d);
    if (cn_dec_status(d) || cnt > LIST_MAX || cnt > cn_dec_left(d)) {
        d->err = CN_ECORRUPT;
        *n = 0;
        return NULL;
    }
    char **v = cnt ? cn_calloc((size_t)cnt, sizeof *v) : NULL;
    for (size_t i = 0; i < cnt; i++) {
        v[i] = cn_dec_cstr(d, STR_MAX);
        if (!v[i]) v[i] = cn_strdup("");
    }
    *n = (size_t)cnt;
    return v;
}

/* An optional string: "" decodes to NULL. */
static char *dec_opt(struct cn_dec *d, size_t max)
{
    struct cn_str s = cn_dec_bytes(d, max);
    return s.len && !cn_dec_status(d) ? cn_str_dup(s) : NULL;
}

static char *dec_str(struct cn_dec *d, size_t max)
{
    char *s = cn_dec_cstr(d, max);
    return s ? s : cn_strdup("");
}

void state_acl_token_encode(const struct state_acl_token *t, struct cn_buf *out)
{
    cn_enc_cstr(out, t->accessor);
    cn_enc_cstr(out, t->secret);
    cn_enc_cstr(out, t->description);
    enc_strv(out, t->policies, t->npolicies);
    cn_enc_uvar(out, t->nsvc);
    for (size_t i = 0; i < t->nsvc; i++) {
        cn_enc_cstr(out, t->svc[i].name);
        enc_strv(out, t->svc[i].dcs, t->svc[i].ndcs);
    }
    cn_enc_uvar(out, t->nnodes);
    for (size_t i = 0; i < t->nnodes; i++) {
        cn_enc_cstr(out, t->nodes[i].name);
        cn_enc_cstr(out, t->nodes[i].dc);
    }
    cn_enc_bool(out, t->local);
    cn_enc_cstr(out, t->legacy_type);
    cn_enc_cstr(out, t->rules);
    cn_enc_svar(out, t->create_time_ns);
    cn_enc_svar(out, t->expiration_ns);
    cn_enc_cstr(out, t->hash);
    cn_enc_uvar(out, t->create_index);
    cn_enc_uvar(out, t->modify_index);
}

int state_acl_token_decode(struct cn_dec *d, struct state_acl_token **out)
{
    struct state_acl_token *t = CN_NEW(struct state_acl_token);
    t->accessor = dec_str(d, 128);
    t->secret = dec_str(d, STR_MAX);
    t->description = dec_str(d, STR_MAX);
    t->policies = dec_strv(d, &t->npolicies);
    uint64_t n = cn_dec_uvar(d);
    if (!cn_dec_status(d) && n <= LIST_MAX && n <= cn_dec_left(d)) {
        t->svc = n ? cn_calloc((size_t)n, sizeof *t->svc) : NULL;
        t->nsvc = (size_t)n;
        for (size_t i = 0; i < t->nsvc; i++) {
            t->svc[i].name = dec_str(d, STR_MAX);
            t->svc[i].dcs = dec_strv(d, &t->svc[i].ndcs);
        }
    } else {
        d->err = CN_ECORRUPT;
    }
    n = cn_dec_uvar(d);
    if (!cn_dec_status(d) && n <= LIST_MAX && n <= cn_dec_left(d)) {
        t->nodes = n ? cn_calloc((size_t)n, sizeof *t->nodes) : NULL;
        t->nnodes = (size_t)n;
        for (size_t i = 0; i < t->nnodes; i++) {
            t->nodes[i].name = dec_str(d, STR_MAX);
            t->nodes[i].dc = dec_str(d, STR_MAX);
        }
    } else {
        d->err = CN_ECORRUPT;
    }
    t->local = cn_dec_bool(d);
    t->legacy_type = dec_opt(d, 32);
    t->rules = dec_opt(d, RULES_MAX);
    t->create_time_ns = cn_dec_svar(d);
    t->expiration_ns = cn_dec_svar(d);
    t->hash = dec_str(d, 256);
    t->create_index = cn_dec_uvar(d);
    t->modify_index = cn_dec_uvar(d);
    if (cn_dec_status(d) || !t->accessor[0]) {
        state_acl_token_free(t);
        return CN_ECORRUPT;
    }
    *out = t;
    return 0;
}

void state_acl_policy_encode(const struct state_acl_policy *p, struct cn_buf *out)
{
    cn_enc_cstr(out, p->id);
    cn_enc_cstr(out, p->name);
    cn_enc_cstr(out, p->description);
    cn_enc_cstr(out, p->rules);
    enc_strv(out, p->dcs, p->ndcs);
    cn_enc_cstr(out, p->hash);
    cn_enc_uvar(out, p->create_index);
    cn_enc_uvar(out, p->modify_index);
}

int state_acl_policy_decode(struct cn_dec *d, struct state_acl_policy **out)
{
    struct state_acl_policy *p = CN_NEW(struct state_acl_policy);
    p->id = dec_str(d, 128);
    p->name = dec_str(d, 256);
    p->description = dec_str(d, STR_MAX);
    p->rules = dec_str(d, RULES_MAX);
    p->dcs = dec_strv(d, &p->ndcs);
    p->hash = dec_str(d, 256);
    p->create_index = cn_dec_uvar(d);
    p->modify_index = cn_dec_uvar(d);
    if (cn_dec_status(d) || !p->id[0]) {
        state_acl_policy_free(p);
        return CN_ECORRUPT;
    }
    *out = p;
    return 0;
}

struct state_acl_token *state_acl_token_dup(const struct state_acl_token *t)
{
    struct cn_buf b;
    struct cn_dec d;
    struct state_acl_token *copy = NULL;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    state_acl_token_encode(t, &b);
    cn_dec_init(&d, b.data, b.len);
    CN_ASSERT(state_acl_token_decode(&d, &copy) == 0);
    cn_buf_release(&b);
    return copy;
}

struct state_acl_policy *state_acl_policy_dup(const struct state_acl_policy *p)
{
    struct cn_buf b;
    struct cn_dec d;
    struct state_acl_policy *copy = NULL;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    state_acl_policy_encode(p, &b);
    cn_dec_init(&d, b.data, b.len);
    CN_ASSERT(state_acl_policy_decode(&d, &copy) == 0);
    cn_buf_release(&b);
    return copy;
}

/* ---- tables --------------------------------------------------------- */

static struct cn_str token_key(const void *row)
{
    return cn_str_from(((const struct state_acl_token *)row)->accessor);
}

static struct cn_str policy_key(const void *row)
{
    return cn_str_from(((const struct state_acl_policy *)row)->id);
}

static void token_free_row(void *row)
{
    state_acl_token_free(row);
}

static void policy_free_row(void *row)
{
    state_acl_policy_free(row);
}

static void token_encode_row(const void *row, struct cn_buf *out)
{
    state_acl_token_encode(row, out);
}

static void policy_encode_row(const void *row, struct cn_buf *out)
{
    state_acl_policy_encode(row, out);
}

static int token_restore(struct state_store *st, struct cn_dec *d)
{
    struct state_acl_token *t;
    int rc = state_acl_token_decode(d, &t);
    if (rc) return rc;
    state_acl_token_free(cn_omap_put(&st->tables[STATE_T_ACL_TOKENS].rows, t));
    return 0;
}

static int policy_restore(struct state_store *st, struct cn_dec *d)
{
    struct state_acl_policy *p;
    int rc = state_acl_policy_decode(d, &p);
    if (rc) return rc;
    state_acl_policy_free(cn_omap_put(&st->tables[STATE_T_ACL_POLICIES].rows, p));
    return 0;
}

const struct state_table_ops state__acl_tokens_ops = {"acl-tokens", token_key, token_free_row,
                                                      token_encode_row, token_restore};
const struct state_table_ops state__acl_policies_ops = {"acl-policies", policy_key,
                                                        policy_free_row, policy_encode_row,
                                                        policy_restore};

/* ---- reads ---------------------------------------------------------- */

const struct state_acl_token *state_acl_token_get(struct state_store *st, struct cn_str accessor,
                                                  struct state_watch_set *ws)
{
    if (ws) state_ws_add(ws, STATE_W_ACL, accessor);
    return state__get(&st->tables[STATE_T_ACL_TOKENS], accessor);
}

const struct state_acl_token *state_acl_token_by_secret(struct state_store *st,
                                                        struct cn_str secret)
{
    struct cn_omap_iter it;
    const struct state_acl_token *t;
    if (!secret.len) return NULL;
    cn_omap_seek(&st->tables[STATE_T_ACL_TOKENS].rows, CN_STR_NULL, &it);
    while ((t = cn_omap_next(&it)))
        if (cn_str_eq_cstr(secret, t->secret)) return t;
    return NULL;
}

void state_acl_token_list(struct state_store *st, struct state_watch_set *ws,
                          state_acl_token_fn fn, void *ctx)
{
    struct cn_omap_iter it;
    const struct state_acl_token *t;
    if (ws) state_ws_add_table(ws, STATE_T_ACL_TOKENS);
    cn_omap_seek(&st->tables[STATE_T_ACL_TOKENS].rows, CN_STR_NULL, &it);
    while ((t = cn_omap_next(&it)))
        if (!fn(ctx, t)) break;
}

size_t state_acl_token_count(const struct state_store *st)
{
    return cn_omap_count(&st->tables[STATE_T_ACL_TOKENS].rows);
}

const struct state_acl_policy *state_acl_policy_get(struct state_store *st, struct cn_str id,
                                                    struct state_watch_set *ws)
{
    if (ws) state_ws_add(ws, STATE_W_ACL, id);
    return state__get(&st->tables[STATE_T_ACL_POLICIES], id);
}

const struct state_acl_policy *state_acl_policy_by_name(struct state_store *st,
                                                        struct cn_str name)
{
    struct cn_omap_iter it;
    const struct state_acl_policy *p;
    cn_omap_seek(&st->tables[STATE_T_ACL_POLICIES].rows, CN_STR_NULL, &it);
    while ((p = cn_omap_next(&it)))
        if (cn_str_eq_cstr(name, p->name)) return p;
    return NULL;
}

void state_acl_policy_list(struct state_store *st, struct state_watch_set *ws,
                           state_acl_policy_fn fn, void *ctx)
{
    struct cn_omap_iter it;
    const struct state_acl_policy *p;
    if (ws) state_ws_add_table(ws, STATE_T_ACL_POLICIES);
    cn_omap_seek(&st->tables[STATE_T_ACL_POLICIES].rows, CN_STR_NULL, &it);
    while ((p = cn_omap_next(&it)))
        if (!fn(ctx, p)) break;
}

uint64_t state_acl_index(const struct state_store *st)
{
    return state_tables_index(st, STATE_T_ACL_TOKENS, STATE_T_ACL_POLICIES, STATE_T_ACL_ROLES,
                              -1);
}

#define BOOTSTRAP_META "acl-bootstrap"

uint64_t state_acl_bootstrap_index(struct state_store *st)
{
    uint64_t idx = 0;
    return state_meta_get(st, BOOTSTRAP_META, &idx, NULL) ? idx : 0;
}

/* ---- writes --------------------------------------------------------- */

static void token_changed(struct state_txn *tx, const char *accessor)
{
    state__touch(tx, STATE_T_ACL_TOKENS);
    state__notify(tx, STATE_W_ACL, cn_str_from(accessor));
}

static void policy_changed(struct state_txn *tx, const char *id)
{
    state__touch(tx, STATE_T_ACL_POLICIES);
    state__notify(tx, STATE_W_ACL, cn_str_from(id));
}

static int check_links(struct state_store *st, const struct state_acl_token *t, struct cn_err *err)
{
    for (size_t i = 0; i < t->npolicies; i++)
        if (strcmp(t->policies[i], GLOBAL_MANAGEMENT_ID) &&
            !state__get(&st->tables[STATE_T_ACL_POLICIES], cn_str_from(t->policies[i])))
            return cn_err_set(err, CN_EINVAL, "No such ACL policy with ID \"%s\"", t->policies[i]);
    return 0;
}

int state_acl_token_set_txn(struct state_txn *tx, struct state_acl_token *t,
                            enum state_acl_set_mode mode, struct cn_err *err)
{
    struct state_store *st = tx->st;
    struct state_table *tab = &st->tables[STATE_T_ACL_TOKENS];
    const struct state_acl_token *ex = state__get(tab, cn_str_from(t->accessor));
    const struct state_acl_token *by_secret = state_acl_token_by_secret(st, cn_str_from(t->secret));
    int rc = 0;
    cn_err_clear(err);
    if (!t->secret[0]) {
        rc = cn_err_set(err, CN_EINVAL, "Token SecretID is required");
    } else if (mode == STATE_ACL_ENSURE && (ex || by_secret)) {
        state_acl_token_free(t);
        return 0;
    } else if (mode == STATE_ACL_CREATE && ex) {
        rc = cn_err_set(err, CN_EEXIST, "Invalid Token: AccessorID is already in use");
    } else if (by_secret && by_secret != ex) {
        rc = cn_err_set(err, CN_EEXIST, "Invalid Token: SecretID is already in use");
    } else if (mode == STATE_ACL_UPDATE && !ex) {
        rc = cn_err_set(err, CN_ENOENT, "Cannot find token %s", t->accessor);
    } else if (ex && strcmp(ex->secret, t->secret)) {
        rc = cn_err_set(err, CN_EINVAL, "Cannot modify this token's SecretID");
    } else {
        rc = check_links(st, t, err);
    }
    if (rc) {
        state_acl_token_free(t);
        return rc;
    }
    t->create_index = ex ? ex->create_index : tx->idx;
    if (ex) t->create_time_ns = ex->create_time_ns;
    t->modify_index = tx->idx;
    state__put(tx, tab, t);
    token_changed(tx, t->accessor);
    return 0;
}

int state_acl_token_delete_txn(struct state_txn *tx, struct cn_str accessor)
{
    struct state_acl_token *gone = state__del(tx, &tx->st->tables[STATE_T_ACL_TOKENS], accessor);
    if (!gone) return CN_ENOENT;
    token_changed(tx, gone->accessor);
    return 0;
}

int state_acl_policy_set_txn(struct state_txn *tx, struct state_acl_policy *p,
                             enum state_acl_set_mode mode, struct cn_err *err)
{
    struct state_store *st = tx->st;
    struct state_table *tab = &st->tables[STATE_T_ACL_POLICIES];
    const struct state_acl_policy *ex = state__get(tab, cn_str_from(p->id));
    const struct state_acl_policy *named = state_acl_policy_by_name(st, cn_str_from(p->name));
    int rc = 0;
    cn_err_clear(err);
    if (mode == STATE_ACL_ENSURE && ex) {
        state_acl_policy_free(p);
        return 0;
    }
    if (mode == STATE_ACL_CREATE && ex)
        rc = cn_err_set(err, CN_EEXIST, "Invalid Policy: ID is already in use");
    else if (mode == STATE_ACL_UPDATE && !ex)
        rc = cn_err_set(err, CN_ENOENT, "Cannot find policy %s", p->id);
    else if (named && named != ex)
        rc = cn_err_set(err, CN_EEXIST, "Invalid Policy: A Policy with Name \"%s\" already exists",
                        p->name);
    if (rc) {
        state_acl_policy_free(p);
        return rc;
    }
    p->create_index = ex ? ex->create_index : tx->idx;
    p->modify_index = tx->idx;
    state__put(tx, tab, p);
    policy_changed(tx, p->id);
    return 0;
}

int state_acl_policy_delete_txn(struct state_txn *tx, struct cn_str id)
{
    struct state_acl_policy *gone = state__del(tx, &tx->st->tables[STATE_T_ACL_POLICIES], id);
    if (!gone) return CN_ENOENT;
    policy_changed(tx, gone->id);
    return 0;
}

int state_acl_bootstrap_txn(struct state_txn *tx, struct state_acl_token *t, uint64_t reset_index,
                            struct cn_err *err)
{
    uint64_t done = state_acl_bootstrap_index(tx->st);
    int rc;
    if (done && done != reset_index) {
        state_acl_token_free(t);
        return cn_err_set(err, CN_EPERM, "ACL bootstrap no longer allowed (reset index: %llu)",
                          (unsigned long long)done);
    }
    if ((rc = state_acl_token_set_txn(tx, t, STATE_ACL_CREATE, err))) return rc;
    return state_meta_set_txn(tx, BOOTSTRAP_META, tx->idx, CN_STR_NULL);
}
