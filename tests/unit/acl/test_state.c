/* The ACL tables: modes, links, bootstrap and its reset index, snapshots. */
#include "state/state.h"
#include "test.h"

static struct state_acl_token *tok(const char *accessor, const char *secret, const char *policy)
{
    struct state_acl_token *t = calloc(1, sizeof *t);
    t->accessor = strdup(accessor);
    t->secret = strdup(secret);
    t->description = strdup("d");
    t->hash = strdup("h");
    if (policy) {
        t->policies = calloc(1, sizeof *t->policies);
        t->policies[0] = strdup(policy);
        t->npolicies = 1;
    }
    return t;
}

static struct state_acl_policy *pol(const char *id, const char *name)
{
    struct state_acl_policy *p = calloc(1, sizeof *p);
    p->id = strdup(id);
    p->name = strdup(name);
    p->description = strdup("");
    p->rules = strdup("operator = \"read\"");
    p->hash = strdup("");
    return p;
}

static int apply_token(struct state_store *st, uint64_t idx, struct state_acl_token *t,
                       enum state_acl_set_mode mode, struct cn_err *err)
{
    struct state_txn *tx = state_txn_begin(st, idx);
    int rc = state_acl_token_set_txn(tx, t, mode, err);
    if (rc) state_txn_abort(tx); else state_txn_commit(tx);
    return rc;
}

TEST(state_acl, modes_links_and_uniqueness)
{
    struct state_store *st = state_new();
    struct cn_err err;
    struct state_txn *tx = state_txn_begin(st, 5);
    ASSERT_OK(state_acl_policy_set_txn(tx, pol("p1", "ops"), STATE_ACL_CREATE, &err));
    state_txn_commit(tx);
    tx = state_txn_begin(st, 6);
    ASSERT_EQ(CN_EEXIST, state_acl_policy_set_txn(tx, pol("p2", "ops"), STATE_ACL_CREATE, &err));
    ASSERT(strstr(err.msg, "already exists") != NULL);
    state_txn_abort(tx);

    ASSERT_EQ(CN_EINVAL, apply_token(st, 7, tok("a1", "s1", "nope"), STATE_ACL_CREATE, &err));
    ASSERT_OK(apply_token(st, 8, tok("a1", "s1", "p1"), STATE_ACL_CREATE, &err));
    ASSERT_EQ(CN_EEXIST, apply_token(st, 9, tok("a1", "s9", NULL), STATE_ACL_CREATE, &err));
    ASSERT_EQ(CN_EEXIST, apply_token(st, 10, tok("a2", "s1", NULL), STATE_ACL_CREATE, &err));
    ASSERT_EQ(CN_ENOENT, apply_token(st, 11, tok("a3", "s3", NULL), STATE_ACL_UPDATE, &err));
    ASSERT_EQ(CN_EINVAL, apply_token(st, 12, tok("a1", "other", NULL), STATE_ACL_UPDATE, &err));
    /* ensure: no-op when the accessor or the secret exists */
    ASSERT_OK(apply_token(st, 13, tok("a9", "s1", NULL), STATE_ACL_ENSURE, &err));
    ASSERT(state_acl_token_get(st, CN_STR("a9"), NULL) == NULL);
    ASSERT_OK(apply_token(st, 14, tok("a1", "s1", NULL), STATE_ACL_UPDATE, &err));
    const struct state_acl_token *t = state_acl_token_get(st, CN_STR("a1"), NULL);
    ASSERT_U64_EQ(8, t->create_index);
    ASSERT_U64_EQ(14, t->modify_index);
    ASSERT(state_acl_token_by_secret(st, CN_STR("s1")) == t);
    ASSERT_U64_EQ(14, state_acl_index(st));
    tx = state_txn_begin(st, 15);
    ASSERT_EQ(CN_ENOENT, state_acl_token_delete_txn(tx, CN_STR("zz")));
    ASSERT_OK(state_acl_token_delete_txn(tx, CN_STR("a1")));
    state_txn_commit(tx);
    ASSERT(state_acl_token_by_secret(st, CN_STR("s1")) == NULL);
    ASSERT(state_check_invariants(st));
    state_free(st);
}

TEST(state_acl, bootstrap_once_then_only_with_the_reset_index)
{
    struct state_store *st = state_new();
    struct cn_err err;
    ASSERT_U64_EQ(0, state_acl_bootstrap_index(st));
    struct state_txn *tx = state_txn_begin(st, 20);
    ASSERT_OK(state_acl_bootstrap_txn(tx, tok("b1", "bs1", NULL), 0, &err));
    state_txn_commit(tx);
    ASSERT_U64_EQ(20, state_acl_bootstrap_index(st));
    tx = state_txn_begin(st, 21);
    ASSERT_EQ(CN_EPERM, state_acl_bootstrap_txn(tx, tok("b2", "bs2", NULL), 0, &err));
    ASSERT_STR_EQ("ACL bootstrap no longer allowed (reset index: 20)", err.msg);
    state_txn_abort(tx);
    tx = state_txn_begin(st, 22);
    ASSERT_EQ(CN_EPERM, state_acl_bootstrap_txn(tx, tok("b2", "bs2", NULL), 19, &err));
    state_txn_abort(tx);
    tx = state_txn_begin(st, 23);
    ASSERT_OK(state_acl_bootstrap_txn(tx, tok("b2", "bs2", NULL), 20, &err));
    state_txn_commit(tx);
    ASSERT_U64_EQ(23, state_acl_bootstrap_index(st));
    state_free(st);
}

struct sbuf {
    char *p;
    size_t n, off;
};

static int wr(void *ctx, const void *p, size_t n)
{
    struct sbuf *b = ctx;
    b->p = realloc(b->p, b->n + n);
    memcpy(b->p + b->n, p, n);
    b->n += n;
    return 0;
}

static long rd(void *ctx, void *p, size_t n)
{
    struct sbuf *b = ctx;
    size_t k = b->n - b->off < n ? b->n - b->off : n;
    memcpy(p, b->p + b->off, k);
    b->off += k;
    return (long)k;
}

TEST(state_acl, snapshot_round_trip)
{
    struct state_store *st = state_new(), *copy = state_new();
    struct cn_err err;
    struct state_txn *tx = state_txn_begin(st, 30);
    ASSERT_OK(state_acl_policy_set_txn(tx, pol("p1", "ops"), STATE_ACL_CREATE, &err));
    struct state_acl_token *t = tok("a1", "s1", "p1");
    t->nsvc = 1;
    t->svc = calloc(1, sizeof *t->svc);
    t->svc[0].name = strdup("web");
    t->nnodes = 1;
    t->nodes = calloc(1, sizeof *t->nodes);
    t->nodes[0].name = strdup("n1");
    t->nodes[0].dc = strdup("dc1");
    t->legacy_type = strdup("client");
    t->rules = strdup("key \"\" { policy = \"read\" }");
    t->expiration_ns = 12345;
    ASSERT_OK(state_acl_token_set_txn(tx, t, STATE_ACL_CREATE, &err));
    ASSERT_OK(state_acl_bootstrap_txn(tx, tok("b", "bs", NULL), 0, &err));
    state_txn_commit(tx);
    struct sbuf b = {0};
    ASSERT_OK(state_snapshot_write(st, wr, &b));
    ASSERT_OK(state_snapshot_restore(copy, rd, &b, &err));
    const struct state_acl_token *r = state_acl_token_get(copy, CN_STR("a1"), NULL);
    ASSERT(r != NULL);
    ASSERT_STR_EQ("s1", r->secret);
    ASSERT_STR_EQ("p1", r->policies[0]);
    ASSERT_STR_EQ("web", r->svc[0].name);
    ASSERT_STR_EQ("dc1", r->nodes[0].dc);
    ASSERT_STR_EQ("client", r->legacy_type);
    ASSERT_EQ(12345, r->expiration_ns);
    ASSERT_U64_EQ(30, r->create_index);
    ASSERT_STR_EQ("ops", state_acl_policy_get(copy, CN_STR("p1"), NULL)->name);
    ASSERT_U64_EQ(30, state_acl_bootstrap_index(copy));
    ASSERT_U64_EQ(30, state_acl_index(copy));
    struct state_acl_token *d = state_acl_token_dup(r);
    ASSERT_STR_EQ(r->rules, d->rules);
    state_acl_token_free(d);
    free(b.p);
    state_free(st);
    state_free(copy);
}
