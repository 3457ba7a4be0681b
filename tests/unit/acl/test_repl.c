/* ACL replication: the primary's dump (who may read it, what it holds, its
 * codec) and the secondary's plan (adds, updates, deletes, local tokens). */
#include "rpc/rpc_acl.h"
#include "rpc/rpc_acl_repl.h"
#include "rpc/rpc_cmd.h"
#include "test.h"

static uint64_t next_idx = 10;

static struct state_acl_policy *pol(const char *id, const char *name, const char *hash)
{
    struct state_acl_policy *p = calloc(1, sizeof *p);
    p->id = strdup(id);
    p->name = strdup(name);
    p->description = strdup("");
    p->rules = strdup("key_prefix \"\" { policy = \"read\" }");
    p->hash = strdup(hash);
    return p;
}

static struct state_acl_token *tok(const char *accessor, const char *secret, bool local,
                                   const char *policy, const char *hash)
{
    struct state_acl_token *t = calloc(1, sizeof *t);
    t->accessor = strdup(accessor);
    t->secret = strdup(secret);
    t->description = strdup("d");
    t->hash = strdup(hash);
    t->local = local;
    if (policy) {
        t->policies = calloc(1, sizeof *t->policies);
        t->policies[0] = strdup(policy);
        t->npolicies = 1;
    }
    return t;
}

static void put_policy(struct state_store *st, struct state_acl_policy *p)
{
    struct cn_err err;
    struct state_txn *tx = state_txn_begin(st, next_idx++);
    ASSERT_OK(state_acl_policy_set_txn(tx, p, STATE_ACL_UPSERT, &err));
    state_txn_commit(tx);
}

static void put_token(struct state_store *st, struct state_acl_token *t)
{
    struct cn_err err;
    struct state_txn *tx = state_txn_begin(st, next_idx++);
    ASSERT_OK(state_acl_token_set_txn(tx, t, STATE_ACL_UPSERT, &err));
    state_txn_commit(tx);
}

/* What the FSM does with an RPC_CMD_ACL command (without linking it). */
static int apply(struct state_store *st, const struct cn_buf *cmd)
{
    struct cn_dec d;
    enum rpc_cmd_type type;
    struct rpc_acl_cmd c;
    struct cn_err err;
    int rc = rpc_cmd_open(&d, cmd->data, cmd->len, &type);
    if (rc || type != RPC_CMD_ACL || (rc = rpc_acl_decode(&d, &c))) return rc ? rc : CN_ECORRUPT;
    struct state_txn *tx = state_txn_begin(st, next_idx++);
    switch (c.op) {
    case RPC_ACL_TOKEN_SET:
        rc = state_acl_token_set_txn(tx, c.token, c.mode, &err);
        break;
    case RPC_ACL_POLICY_SET:
        rc = state_acl_policy_set_txn(tx, c.policy, c.mode, &err);
        break;
    case RPC_ACL_TOKEN_DELETE:
        rc = state_acl_token_delete_txn(tx, c.id);
        break;
    case RPC_ACL_POLICY_DELETE:
        rc = state_acl_policy_delete_txn(tx, c.id);
        break;
    default:
        rc = CN_ECORRUPT;
        break;
    }
    if (rc)
        state_txn_abort(tx);
    else
        state_txn_commit(tx);
    return rc;
}

/* The dump of a store as the primary's endpoint makes it, through the codec. */
static int dump_of(struct state_store *st, const struct acl_authz *authz, bool tokens,
                   struct rpc_acl_dump *out)
{
    struct rpc_acl_dump_req req = {.tokens = tokens};
    struct rpc_query q;
    memset(&q, 0, sizeof q);
    cn_arena_init(&q.arena, 1024);
    q.authz = authz;
    q.req = &req;
    int rc = rpc_acl_dump_run(&q, st, NULL);
    if (rc == 0) {
        struct cn_buf b;
        cn_buf_init(&b, CN_BUF_UNLIMITED);
        rpc_acl_dump_encode(q.resp, &b);
        rc = rpc_acl_dump_decode(b.data, b.len, out);
        cn_buf_release(&b);
    }
    cn_arena_release(&q.arena);
    return rc;
}

/* Plan, apply every command in order, and report what the plan held. */
static struct rpc_acl_repl_plan sync_once(struct state_store *local, const struct rpc_acl_dump *d)
{
    struct rpc_acl_repl_plan p, counts;
    rpc_acl_repl_plan(local, d, &p);
    for (size_t i = 0; i < p.ncmds; i++)
        ASSERT_OK(apply(local, &p.cmds[i]));
    counts = p;
    counts.cmds = NULL;
    rpc_acl_repl_plan_release(&p);
    return counts;
}

static void assert_in_sync(struct state_store *local, const struct rpc_acl_dump *d)
{
    struct rpc_acl_repl_plan p;
    rpc_acl_repl_plan(local, d, &p);
    ASSERT_U64_EQ(0, p.ncmds);
    rpc_acl_repl_plan_release(&p);
}

TEST(acl_repl, dump_needs_acl_read_and_write_for_tokens_and_skips_local_tokens)
{
    struct state_store *st = state_new();
    struct acl_authz *all = acl_authz_static(true), *none = acl_authz_static(false);
    struct rpc_acl_dump d;
    put_policy(st, pol("p1", "ops", "h1"));
    put_token(st, tok("a1", "s1", false, "p1", "ha"));
    put_token(st, tok("a2", "s2", true, NULL, "hb"));
    ASSERT_EQ(CN_EPERM, dump_of(st, none, false, &d));
    ASSERT_EQ(CN_EPERM, dump_of(st, none, true, &d));

    /* acl = "read": policies yes, tokens (secrets) no */
    struct acl_rules rules;
    struct cn_err err;
    acl_rules_init(&rules);
    ASSERT_OK(acl_rules_parse("acl = \"read\"", 12, 0, &rules, &err));
    const struct acl_rules *rp = &rules;
    struct acl_identity id = {.accessor = "r", .secret = "r", .policies = &rp, .npolicies = 1};
    struct acl_authz_opts opts = {.default_allow = false};
    struct acl_authz *reader = acl_authz_compile(&id, &opts);
    ASSERT_OK(dump_of(st, reader, false, &d));
    ASSERT_U64_EQ(1, d.npolicies);
    ASSERT_U64_EQ(0, d.ntokens);
    ASSERT(!d.with_tokens);
    rpc_acl_dump_release(&d);
    ASSERT_EQ(CN_EPERM, dump_of(st, reader, true, &d));

    ASSERT_OK(dump_of(st, all, true, &d));
    ASSERT(d.with_tokens);
    ASSERT_U64_EQ(1, d.ntokens);
    ASSERT_STR_EQ("a1", d.tokens[0]->accessor);
    ASSERT_STR_EQ("s1", d.tokens[0]->secret);
    ASSERT_U64_EQ(state_acl_index(st), d.index);
    ASSERT_U64_EQ(state_table_index(st, STATE_T_ACL_POLICIES), d.policies_index);
    ASSERT_U64_EQ(state_table_index(st, STATE_T_ACL_TOKENS), d.tokens_index);
    ASSERT_STR_EQ("ops", d.policies[0]->name);
    rpc_acl_dump_release(&d);
    acl_authz_free(reader);
    acl_rules_release(&rules);
    acl_authz_free(all);
    acl_authz_free(none);
    state_free(st);
}

TEST(acl_repl, dump_decoder_refuses_every_truncation_and_trailing_bytes)
{
    struct state_store *st = state_new();
    struct acl_authz *all = acl_authz_static(true);
    put_policy(st, pol("p1", "ops", "h1"));
    put_token(st, tok("a1", "s1", false, "p1", "ha"));
    struct rpc_acl_dump_req req = {.tokens = true};
    struct rpc_query q;
    memset(&q, 0, sizeof q);
    cn_arena_init(&q.arena, 1024);
    q.authz = all;
    q.req = &req;
    ASSERT_OK(rpc_acl_dump_run(&q, st, NULL));
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    rpc_acl_dump_encode(q.resp, &b);
    struct rpc_acl_dump d;
    for (size_t n = 0; n < b.len; n++) {
        ASSERT_EQ(CN_ECORRUPT, rpc_acl_dump_decode(b.data, n, &d));
        rpc_acl_dump_release(&d);
    }
    cn_buf_putc(&b, 'x');
    ASSERT_EQ(CN_ECORRUPT, rpc_acl_dump_decode(b.data, b.len, &d));
    rpc_acl_dump_release(&d);
    /* tokens in a dump that did not ask for them: refused */
    ((uint8_t *)b.data)[1 + 4] = 0; /* version, 4 one-byte indexes, with_tokens */
    ASSERT_EQ(CN_ECORRUPT, rpc_acl_dump_decode(b.data, b.len - 1, &d));
    rpc_acl_dump_release(&d);
    /* an absurd row count fails before allocating */
    uint8_t huge[] = {1, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f};
    ASSERT_EQ(CN_ECORRUPT, rpc_acl_dump_decode(huge, sizeof huge, &d));
    rpc_acl_dump_release(&d);
    cn_buf_release(&b);
    cn_arena_release(&q.arena);
    acl_authz_free(all);
    state_free(st);
}

TEST(acl_repl, plan_adds_then_converges)
{
    struct state_store *primary = state_new(), *local = state_new();
    struct acl_authz *all = acl_authz_static(true);
    struct rpc_acl_dump d;
    put_policy(primary, pol("p1", "ops", "h1"));
    put_policy(primary, pol("p2", "dev", "h2"));
    put_token(primary, tok("a1", "s1", false, "p1", "ha"));
    ASSERT_OK(dump_of(primary, all, true, &d));
    struct rpc_acl_repl_plan c = sync_once(local, &d);
    ASSERT_U64_EQ(2, c.policy_upserts);
    ASSERT_U64_EQ(1, c.token_upserts);
    ASSERT_U64_EQ(0, c.policy_deletes + c.token_deletes);
    const struct state_acl_token *t = state_acl_token_get(local, CN_STR("a1"), NULL);
    ASSERT(t != NULL);
    ASSERT_STR_EQ("s1", t->secret);
    ASSERT_STR_EQ("ha", t->hash); /* the primary's hash, as Consul keeps it */
    ASSERT(state_acl_token_by_secret(local, CN_STR("s1")) == t);
    assert_in_sync(local, &d);
    rpc_acl_dump_release(&d);
    /* without ?tokens only policies are planned */
    ASSERT_OK(dump_of(primary, all, false, &d));
    assert_in_sync(local, &d);
    rpc_acl_dump_release(&d);
    acl_authz_free(all);
    state_free(primary);
    state_free(local);
}

TEST(acl_repl, plan_updates_changed_rows_and_deletes_vanished_ones)
{
    struct state_store *primary = state_new(), *local = state_new();
    struct acl_authz *all = acl_authz_static(true);
    struct rpc_acl_dump d;
    put_policy(primary, pol("p1", "ops", "h1"));
    put_policy(primary, pol("p2", "dev", "h2"));
    put_token(primary, tok("a1", "s1", false, "p1", "ha"));
    put_token(primary, tok("a2", "s2", false, "p2", "hb"));
    ASSERT_OK(dump_of(primary, all, true, &d));
    sync_once(local, &d);
    rpc_acl_dump_release(&d);

    /* p1 renamed (new hash), p2 deleted, a1 re-linked, a2 deleted, a3 new */
    put_policy(primary, pol("p1", "operators", "h1b"));
    struct state_txn *tx = state_txn_begin(primary, next_idx++);
    ASSERT_OK(state_acl_policy_delete_txn(tx, CN_STR("p2")));
    ASSERT_OK(state_acl_token_delete_txn(tx, CN_STR("a2")));
    state_txn_commit(tx);
    put_token(primary, tok("a1", "s1", false, NULL, "ha2"));
    put_token(primary, tok("a3", "s3", false, "p1", "hc"));
    ASSERT_OK(dump_of(primary, all, true, &d));
    struct rpc_acl_repl_plan c = sync_once(local, &d);
    ASSERT_U64_EQ(1, c.policy_upserts);
    ASSERT_U64_EQ(1, c.policy_deletes);
    ASSERT_U64_EQ(2, c.token_upserts);
    ASSERT_U64_EQ(1, c.token_deletes);
    ASSERT_STR_EQ("operators", state_acl_policy_get(local, CN_STR("p1"), NULL)->name);
    ASSERT(state_acl_policy_get(local, CN_STR("p2"), NULL) == NULL);
    ASSERT(state_acl_token_get(local, CN_STR("a2"), NULL) == NULL);
    ASSERT_U64_EQ(0, state_acl_token_get(local, CN_STR("a1"), NULL)->npolicies);
    ASSERT(state_acl_token_get(local, CN_STR("a3"), NULL) != NULL);
    assert_in_sync(local, &d);
    rpc_acl_dump_release(&d);

    /* same hash, other content (a service identity's datacenters are not in
     * cairn's hash): still replicated */
    struct state_acl_token *t = tok("a3", "s3", false, "p1", "hc");
    t->svc = calloc(1, sizeof *t->svc);
    t->svc[0].name = strdup("web");
    t->nsvc = 1;
    put_token(primary, t);
    ASSERT_OK(dump_of(primary, all, true, &d));
    c = sync_once(local, &d);
    ASSERT_U64_EQ(1, c.token_upserts);
    ASSERT_U64_EQ(1, state_acl_token_get(local, CN_STR("a3"), NULL)->nsvc);
    rpc_acl_dump_release(&d);
    acl_authz_free(all);
    state_free(primary);
    state_free(local);
}

TEST(acl_repl, plan_never_touches_local_tokens_or_built_ins)
{
    struct state_store *primary = state_new(), *local = state_new();
    struct acl_authz *all = acl_authz_static(true);
    struct rpc_acl_dump d;
    put_policy(primary, pol("p1", "ops", "h1"));
    put_token(primary, tok("a1", "s1", false, "p1", "ha"));
    put_token(primary, tok("pl", "spl", true, NULL, "hp")); /* the primary's own local token */
    /* the secondary's: a local token linking a replicated policy, its own
     * built-ins, and a clashing local accessor */
    put_policy(local, pol("p1", "ops", "h1"));
    put_token(local, tok("l1", "sl1", true, "p1", "hl"));
    put_token(local, tok("a1", "other", true, NULL, "hx"));
    put_policy(local, pol(ACL_GLOBAL_MANAGEMENT_ID, "global-management", "hg"));
    put_token(local, tok(ACL_ANONYMOUS_ID, "anonymous", false, NULL, "han"));
    ASSERT_OK(dump_of(primary, all, true, &d));
    ASSERT_U64_EQ(1, d.ntokens); /* "pl" stayed in the primary */
    struct rpc_acl_repl_plan c = sync_once(local, &d);
    ASSERT_U64_EQ(0, c.ncmds);
    ASSERT(state_acl_token_get(local, CN_STR("l1"), NULL) != NULL);
    ASSERT_STR_EQ("other", state_acl_token_get(local, CN_STR("a1"), NULL)->secret);
    ASSERT(state_acl_token_get(local, CN_STR("pl"), NULL) == NULL);
    ASSERT(state_acl_policy_get(local, CN_STR(ACL_GLOBAL_MANAGEMENT_ID), NULL) != NULL);
    ASSERT(state_acl_token_get(local, CN_STR(ACL_ANONYMOUS_ID), NULL) != NULL);
    rpc_acl_dump_release(&d);

    /* the primary deletes p1: the local token keeps its (now empty) link */
    struct state_txn *tx = state_txn_begin(primary, next_idx++);
    ASSERT_OK(state_acl_policy_delete_txn(tx, CN_STR("p1")));
    state_txn_commit(tx);
    ASSERT_OK(dump_of(primary, all, true, &d));
    c = sync_once(local, &d);
    ASSERT_U64_EQ(1, c.policy_deletes);
    ASSERT_U64_EQ(1, c.ncmds);
    ASSERT(state_acl_token_get(local, CN_STR("l1"), NULL) != NULL);
    rpc_acl_dump_release(&d);
    acl_authz_free(all);
    state_free(primary);
    state_free(local);
}

TEST(acl_repl, plan_drops_links_to_policies_the_primary_deleted)
{
    struct state_store *primary = state_new(), *local = state_new();
    struct acl_authz *all = acl_authz_static(true);
    struct rpc_acl_dump d;
    put_policy(primary, pol("p1", "ops", "h1"));
    put_token(primary, tok("a1", "s1", false, "p1", "ha"));
    struct state_txn *tx = state_txn_begin(primary, next_idx++);
    ASSERT_OK(state_acl_policy_delete_txn(tx, CN_STR("p1")));
    state_txn_commit(tx);
    ASSERT_OK(dump_of(primary, all, true, &d));
    struct rpc_acl_repl_plan c = sync_once(local, &d); /* the local table refuses dangling links */
    ASSERT_U64_EQ(1, c.token_upserts);
    ASSERT_U64_EQ(0, state_acl_token_get(local, CN_STR("a1"), NULL)->npolicies);
    assert_in_sync(local, &d);
    rpc_acl_dump_release(&d);
    acl_authz_free(all);
    state_free(primary);
    state_free(local);
}

TEST(acl_repl, plan_orders_deletes_before_reused_names_and_secrets)
{
    struct state_store *primary = state_new(), *local = state_new();
    struct acl_authz *all = acl_authz_static(true);
    struct rpc_acl_dump d;
    put_policy(primary, pol("p1", "x", "h1"));
    put_policy(primary, pol("p2", "y", "h2"));
    put_token(primary, tok("a1", "s1", false, NULL, "ha"));
    ASSERT_OK(dump_of(primary, all, true, &d));
    sync_once(local, &d);
    rpc_acl_dump_release(&d);

    /* the primary swaps the two names (through a third), deletes a1 and
     * re-creates its secret under a new accessor, and reuses a deleted
     * policy's name */
    put_policy(primary, pol("p1", "tmp", "h1b"));
    put_policy(primary, pol("p2", "x", "h2b"));
    put_policy(primary, pol("p1", "y", "h1c"));
    struct state_txn *tx = state_txn_begin(primary, next_idx++);
    ASSERT_OK(state_acl_token_delete_txn(tx, CN_STR("a1")));
    state_txn_commit(tx);
    put_token(primary, tok("a9", "s1", false, "p2", "h9"));
    ASSERT_OK(dump_of(primary, all, true, &d));
    sync_once(local, &d); /* every command applies */
    ASSERT_STR_EQ("y", state_acl_policy_get(local, CN_STR("p1"), NULL)->name);
    ASSERT_STR_EQ("x", state_acl_policy_get(local, CN_STR("p2"), NULL)->name);
    ASSERT_STR_EQ("a9", state_acl_token_by_secret(local, CN_STR("s1"))->accessor);
    assert_in_sync(local, &d);
    rpc_acl_dump_release(&d);

    tx = state_txn_begin(primary, next_idx++);
    ASSERT_OK(state_acl_policy_delete_txn(tx, CN_STR("p2")));
    state_txn_commit(tx);
    put_policy(primary, pol("p3", "x", "h3"));
    ASSERT_OK(dump_of(primary, all, true, &d));
    sync_once(local, &d);
    ASSERT_STR_EQ("p3", state_acl_policy_by_name(local, CN_STR("x"))->id);
    assert_in_sync(local, &d);
    rpc_acl_dump_release(&d);
    acl_authz_free(all);
    state_free(primary);
    state_free(local);
}
