/* Token resolution: from the state store on servers (changes seen at once),
 * from a TTL cache with down_policy on clients, and the agent's tokens. */
#include "acl/acl.h"
#include "lib/cn_common.h"
#include "state/state.h"
#include "test.h"

#define S (1000000000LL)

static uint64_t next_index = 10;

static char **strv(const char *a)
{
    char **v = calloc(1, sizeof *v);
    v[0] = strdup(a);
    return v;
}

static void put_policy(struct state_store *st, const char *id, const char *name, const char *rules,
                       const char *dc)
{
    struct state_acl_policy *p = calloc(1, sizeof *p);
    struct cn_err err;
    p->id = strdup(id);
    p->name = strdup(name);
    p->description = strdup("");
    p->rules = strdup(rules);
    p->hash = strdup("");
    if (dc) {
        p->dcs = strv(dc);
        p->ndcs = 1;
    }
    struct state_txn *tx = state_txn_begin(st, next_index++);
    ASSERT_OK(state_acl_policy_set_txn(tx, p, STATE_ACL_UPSERT, &err));
    state_txn_commit(tx);
}

static void put_token(struct state_store *st, const char *accessor, const char *secret,
                      const char *policy, int64_t expires)
{
    struct state_acl_token *t = calloc(1, sizeof *t);
    struct cn_err err;
    t->accessor = strdup(accessor);
    t->secret = strdup(secret);
    t->description = strdup("");
    t->hash = strdup("");
    if (policy) {
        t->policies = strv(policy);
        t->npolicies = 1;
    }
    t->expiration_ns = expires;
    struct state_txn *tx = state_txn_begin(st, next_index++);
    int rc = state_acl_token_set_txn(tx, t, STATE_ACL_UPSERT, &err);
    if (rc) FAIL("token set: %s", err.msg);
    state_txn_commit(tx);
}

static void del_token(struct state_store *st, const char *accessor)
{
    struct state_txn *tx = state_txn_begin(st, next_index++);
    ASSERT_OK(state_acl_token_delete_txn(tx, cn_str_from(accessor)));
    state_txn_commit(tx);
}

static bool may(struct acl_resolver *r, const char *secret, enum acl_resource res,
                const char *name, enum acl_access acc)
{
    const struct acl_authz *a;
    if (acl_resolve(r, secret, 100 * S, &a)) FAIL("resolve %s failed", secret ? secret : "(none)");
    return acl_allow(a, res, cn_str_from(name), acc);
}

static struct acl_resolver *server_resolver(struct state_store *st, const char *default_token)
{
    struct acl_config c = {.enabled = true, .default_allow = false, .st = st,
                           .datacenter = "dc1", .node_name = "node1",
                           .default_token = default_token};
    return acl_resolver_new(&c);
}

TEST(resolver, server_resolution_follows_the_store)
{
    struct state_store *st = state_new();
    struct acl_resolver *r = server_resolver(st, NULL);
    const struct acl_authz *a;
    /* anonymous before any token exists: default deny */
    ASSERT(!may(r, NULL, ACL_R_KEY, "app/x", ACL_A_READ));
    ASSERT_EQ(CN_EACLNOTFOUND, acl_resolve(r, "nope", 100 * S, &a));

    put_policy(st, "p1", "app", "key_prefix \"app/\" { policy = \"write\" }", NULL);
    put_token(st, "a1", "s1", "p1", 0);
    ASSERT(may(r, "s1", ACL_R_KEY, "app/x", ACL_A_WRITE));
    ASSERT(!may(r, "s1", ACL_R_KEY, "other/x", ACL_A_WRITE));
    ASSERT_OK(acl_resolve(r, "s1", 100 * S, &a));
    ASSERT_STR_EQ("a1", acl_authz_accessor(a));
    ASSERT_STR_EQ("s1", acl_authz_secret(a));
    ASSERT(!acl_is_anonymous(a));

    /* a policy change applies at once */
    put_policy(st, "p1", "app", "key_prefix \"app/\" { policy = \"read\" }", NULL);
    ASSERT(!may(r, "s1", ACL_R_KEY, "app/x", ACL_A_WRITE));
    ASSERT(may(r, "s1", ACL_R_KEY, "app/x", ACL_A_READ));

    /* an unrelated change keeps the compiled authorizer */
    ASSERT_OK(acl_resolve(r, "s1", 100 * S, &a));
    const struct acl_authz *before = a;
    put_token(st, "a2", "s2", NULL, 0);
    ASSERT_OK(acl_resolve(r, "s1", 100 * S, &a));
    ASSERT(a == before);

    /* deleted: not found */
    del_token(st, "a1");
    ASSERT_EQ(CN_EACLNOTFOUND, acl_resolve(r, "s1", 100 * S, &a));

    /* the anonymous token's policies apply to requests without a token */
    put_token(st, ACL_ANONYMOUS_ID, ACL_ANONYMOUS_SECRET, "p1", 0);
    ASSERT(may(r, NULL, ACL_R_KEY, "app/x", ACL_A_READ));
    ASSERT_OK(acl_resolve(r, "", 100 * S, &a));
    ASSERT(acl_is_anonymous(a));
    acl_resolver_free(r);
    state_free(st);
}

TEST(resolver, management_expiry_datacenters_default_token)
{
    struct state_store *st = state_new();
    const struct acl_authz *a;
    put_policy(st, ACL_GLOBAL_MANAGEMENT_ID, "global-management", "", NULL);
    put_policy(st, "p-other-dc", "elsewhere", "key_prefix \"\" { policy = \"write\" }", "dc9");
    put_policy(st, "p-here", "here", "key_prefix \"\" { policy = \"read\" }", "dc1");
    put_token(st, "root", "root-secret", ACL_GLOBAL_MANAGEMENT_ID, 0);
    put_token(st, "far", "far-secret", "p-other-dc", 0);
    put_token(st, "near", "near-secret", "p-here", 0);
    put_token(st, "brief", "brief-secret", "p-here", 150 * S);
    struct acl_resolver *r = server_resolver(st, "near-secret");

    ASSERT_OK(acl_resolve(r, "root-secret", 100 * S, &a));
    ASSERT(acl_is_management(a));
    ASSERT(acl_allow(a, ACL_R_ACL, CN_STR_NULL, ACL_A_WRITE));
    ASSERT(!may(r, "far-secret", ACL_R_KEY, "k", ACL_A_READ));
    ASSERT(may(r, "near-secret", ACL_R_KEY, "k", ACL_A_READ));
    /* no token given: the agent's default token */
    ASSERT(may(r, NULL, ACL_R_KEY, "k", ACL_A_READ));
    acl_set_agent_token(r, ACL_TOKEN_DEFAULT, "");
    ASSERT(!may(r, NULL, ACL_R_KEY, "k", ACL_A_READ));
    /* expiry */
    ASSERT_OK(acl_resolve(r, "brief-secret", 100 * S, &a));
    ASSERT_EQ(CN_EACLNOTFOUND, acl_resolve(r, "brief-secret", 151 * S, &a));
    acl_resolver_free(r);
    state_free(st);
}

TEST(resolver, agent_tokens_and_recovery)
{
    struct state_store *st = state_new();
    const struct acl_authz *a;
    put_policy(st, "p", "p", "node_prefix \"\" { policy = \"write\" }", NULL);
    put_token(st, "agent", "agent-secret", "p", 0);
    struct acl_resolver *r = server_resolver(st, NULL);
    ASSERT_EQ(ACL_TOKEN_AGENT_RECOVERY, acl_token_type_parse("agent_master"));
    ASSERT_EQ(ACL_TOKEN_DEFAULT, acl_token_type_parse("acl_token"));
    ASSERT_EQ(ACL_TOKEN_AGENT, acl_token_type_parse("acl_agent_token"));
    ASSERT_EQ(-1, acl_token_type_parse("bogus"));

    /* agent -> default -> anonymous */
    ASSERT_OK(acl_resolve_agent(r, ACL_TOKEN_AGENT, 100 * S, &a));
    ASSERT(acl_is_anonymous(a));
    acl_set_agent_token(r, ACL_TOKEN_AGENT, "agent-secret");
    ASSERT_OK(acl_resolve_agent(r, ACL_TOKEN_AGENT, 100 * S, &a));
    ASSERT(acl_allow(a, ACL_R_NODE, CN_STR("node1"), ACL_A_WRITE));
    ASSERT_OK(acl_resolve_agent(r, ACL_TOKEN_CONFIG_FILE_REGISTRATION, 100 * S, &a));
    ASSERT(acl_allow(a, ACL_R_NODE, CN_STR("node1"), ACL_A_WRITE));
    ASSERT_OK(acl_resolve_agent(r, ACL_TOKEN_DNS, 100 * S, &a));
    ASSERT(acl_is_anonymous(a));
    ASSERT_STR_EQ("agent-secret", acl_agent_token(r, ACL_TOKEN_AGENT));

    /* agent_recovery: this agent's endpoints and node reads, nothing else,
     * without a token row */
    acl_set_agent_token(r, ACL_TOKEN_AGENT_RECOVERY, "recover-me");
    ASSERT_OK(acl_resolve(r, "recover-me", 100 * S, &a));
    ASSERT(acl_allow(a, ACL_R_AGENT, CN_STR("node1"), ACL_A_WRITE));
    ASSERT(!acl_allow(a, ACL_R_AGENT, CN_STR("node2"), ACL_A_READ));
    ASSERT(acl_allow(a, ACL_R_NODE, CN_STR("x"), ACL_A_READ));
    ASSERT(!acl_allow(a, ACL_R_KEY, CN_STR("x"), ACL_A_READ));
    ASSERT_STR_EQ("recover-me", acl_authz_secret(a));
    acl_resolver_free(r);
    state_free(st);
}

TEST(resolver, disabled_allows_everything)
{
    struct acl_config c = {.enabled = false, .default_allow = false};
    struct acl_resolver *r = acl_resolver_new(&c);
    const struct acl_authz *a;
    ASSERT(!acl_enabled(r));
    ASSERT_STR_EQ("deny", acl_default_policy(r));
    ASSERT_OK(acl_resolve(r, "whatever", 0, &a));
    ASSERT(acl_allow(a, ACL_R_KEY, CN_STR("x"), ACL_A_WRITE));
    ASSERT(acl_allow_key_write_prefix(a, CN_STR("")));
    acl_resolver_free(r);
}

TEST(resolver, client_cache_ttl_and_down_policy)
{
    struct acl_rules rules;
    struct cn_err err;
    acl_rules_init(&rules);
    ASSERT_OK(acl_rules_parse("key_prefix \"\" { policy = \"read\" }", 33, 0, &rules, &err));
    const struct acl_rules *pr = &rules;
    struct acl_identity id = {.accessor = "a", .policies = &pr, .npolicies = 1};
    static const int policies[] = {ACL_DOWN_EXTEND_CACHE, ACL_DOWN_ALLOW, ACL_DOWN_DENY,
                                   ACL_DOWN_ASYNC_CACHE};
    for (size_t i = 0; i < 4; i++) {
        struct acl_config c = {.enabled = true, .default_allow = false,
                               .down_policy = (enum acl_down_policy)policies[i]};
        struct acl_resolver *r = acl_resolver_new(&c);
        const struct acl_authz *a;
        /* never seen, servers down */
        ASSERT_OK(acl_resolve(r, "tok", 0, &a));
        ASSERT_EQ(policies[i] == ACL_DOWN_ALLOW, acl_allow(a, ACL_R_KEY, CN_STR("k"), ACL_A_WRITE));
        /* servers answer */
        acl_resolver_servers_down(r, false);
        ASSERT(acl_resolver_needs_fetch(r, "tok", 0));
        acl_cache_remote(r, "tok", true, &id, 0);
        acl_cache_remote(r, "gone", false, NULL, 0);
        ASSERT(!acl_resolver_needs_fetch(r, "tok", 10 * S));
        ASSERT_OK(acl_resolve(r, "tok", 10 * S, &a));
        ASSERT(acl_allow(a, ACL_R_KEY, CN_STR("k"), ACL_A_READ));
        ASSERT(!acl_allow(a, ACL_R_KEY, CN_STR("k"), ACL_A_WRITE));
        ASSERT_EQ(CN_EACLNOTFOUND, acl_resolve(r, "gone", 10 * S, &a));
        /* past token_ttl (30 s) */
        ASSERT(acl_resolver_needs_fetch(r, "tok", 31 * S));
        acl_resolver_servers_down(r, true);
        ASSERT_OK(acl_resolve(r, "tok", 31 * S, &a));
        bool reads = acl_allow(a, ACL_R_KEY, CN_STR("k"), ACL_A_READ);
        bool writes = acl_allow(a, ACL_R_KEY, CN_STR("k"), ACL_A_WRITE);
        switch (policies[i]) {
        case ACL_DOWN_ALLOW: ASSERT(reads && writes); break;
        case ACL_DOWN_DENY: ASSERT(!reads && !writes); break;
        default: ASSERT(reads && !writes); break; /* the cached token, extended */
        }
        acl_resolver_free(r);
    }
    ASSERT_EQ(ACL_DOWN_ASYNC_CACHE, acl_down_policy_parse("async-cache"));
    ASSERT_EQ(-1, acl_down_policy_parse("maybe"));
    acl_rules_release(&rules);
}

TEST(resolver, client_fetch_need)
{
    struct acl_rules rules;
    struct cn_err err;
    acl_rules_init(&rules);
    ASSERT_OK(acl_rules_parse("node_prefix \"\" { policy = \"read\" }", 34, 0, &rules, &err));
    const struct acl_rules *pr = &rules;
    struct acl_identity id = {.accessor = "a", .policies = &pr, .npolicies = 1};
    static const int policies[] = {ACL_DOWN_EXTEND_CACHE, ACL_DOWN_ASYNC_CACHE};
    for (size_t i = 0; i < 2; i++) {
        bool async = policies[i] == ACL_DOWN_ASYNC_CACHE;
        struct acl_config c = {.enabled = true, .node_name = "n1",
                               .down_policy = (enum acl_down_policy)policies[i],
                               .token_ttl_ns = 5 * S};
        struct acl_resolver *r = acl_resolver_new(&c);
        const char *eff;
        /* the secret looked up: given, else the default token, else anonymous */
        ASSERT_STR_EQ(ACL_ANONYMOUS_SECRET, acl_resolve_secret(r, NULL));
        ASSERT_STR_EQ(ACL_ANONYMOUS_SECRET, acl_resolve_secret(r, ""));
        ASSERT_STR_EQ("tok", acl_resolve_secret(r, "tok"));
        acl_set_agent_token(r, ACL_TOKEN_DEFAULT, "dflt");
        ASSERT_STR_EQ("dflt", acl_resolve_secret(r, NULL));
        ASSERT_STR_EQ("tok", acl_resolve_secret(r, "tok"));
        /* servers down (a new client resolver): nothing to fetch */
        ASSERT_EQ(ACL_FETCH_NONE, acl_resolver_fetch_need(r, "tok", 0, &eff));
        acl_resolver_servers_down(r, false);
        ASSERT_EQ(ACL_FETCH_WAIT, acl_resolver_fetch_need(r, "tok", 0, &eff));
        ASSERT_STR_EQ("tok", eff);
        ASSERT_EQ(ACL_FETCH_WAIT, acl_resolver_fetch_need(r, NULL, 0, &eff));
        ASSERT_STR_EQ("dflt", eff);
        /* the recovery token and oversized secrets never go to a server */
        acl_set_agent_token(r, ACL_TOKEN_AGENT_RECOVERY, "rec");
        ASSERT_EQ(ACL_FETCH_NONE, acl_resolver_fetch_need(r, "rec", 0, &eff));
        char big[400];
        memset(big, 'x', sizeof big - 1);
        big[sizeof big - 1] = 0;
        ASSERT_EQ(ACL_FETCH_NONE, acl_resolver_fetch_need(r, big, 0, &eff));
        /* fresh for token_ttl, then fetched again: async-cache in the background */
        acl_cache_remote(r, "tok", true, &id, 0);
        ASSERT_EQ(ACL_FETCH_NONE, acl_resolver_fetch_need(r, "tok", 4 * S, &eff));
        ASSERT_EQ(async ? ACL_FETCH_REFRESH : ACL_FETCH_WAIT,
                  acl_resolver_fetch_need(r, "tok", 5 * S, &eff));
        /* a negative answer expires the same way */
        acl_cache_remote(r, "gone", false, NULL, 0);
        ASSERT_EQ(ACL_FETCH_NONE, acl_resolver_fetch_need(r, "gone", 1 * S, &eff));
        const struct acl_authz *a;
        ASSERT_EQ(CN_EACLNOTFOUND, acl_resolve(r, "gone", 1 * S, &a));
        /* servers down again: down_policy, no fetch */
        acl_resolver_servers_down(r, true);
        ASSERT_EQ(ACL_FETCH_NONE, acl_resolver_fetch_need(r, "tok", 50 * S, &eff));
        ASSERT_OK(acl_resolve(r, "tok", 50 * S, &a));
        ASSERT(acl_allow(a, ACL_R_NODE, CN_STR("x"), ACL_A_READ)); /* extended */
        acl_resolver_free(r);
    }
    /* ACLs off, or a server: never */
    struct acl_config off = {.enabled = false};
    struct acl_resolver *r = acl_resolver_new(&off);
    const char *eff;
    acl_resolver_servers_down(r, false);
    ASSERT_EQ(ACL_FETCH_NONE, acl_resolver_fetch_need(r, "tok", 0, &eff));
    acl_resolver_free(r);
    struct state_store *st = state_new();
    r = server_resolver(st, NULL);
    ASSERT_EQ(ACL_FETCH_NONE, acl_resolver_fetch_need(r, "tok", 0, &eff));
    acl_resolver_free(r);
    state_free(st);
    acl_rules_release(&rules);
}

TEST(resolver, client_down_without_an_answer_follows_the_default_policy)
{
    /* Consul: extend-cache and async-cache fall back to
     * acl.RootAuthorizer(default_policy) for a token never seen; allow and
     * deny say what they say. */
    static const struct {
        int down;
        bool default_allow, allowed;
    } cases[] = {
        {ACL_DOWN_EXTEND_CACHE, true, true},  {ACL_DOWN_EXTEND_CACHE, false, false},
        {ACL_DOWN_ASYNC_CACHE, true, true},   {ACL_DOWN_ASYNC_CACHE, false, false},
        {ACL_DOWN_DENY, true, false},         {ACL_DOWN_ALLOW, false, true},
    };
    for (size_t i = 0; i < CN_ARRAY_SIZE(cases); i++) {
        struct acl_config c = {.enabled = true, .default_allow = cases[i].default_allow,
                               .down_policy = (enum acl_down_policy)cases[i].down};
        struct acl_resolver *r = acl_resolver_new(&c);
        const struct acl_authz *a;
        ASSERT_OK(acl_resolve(r, "never-seen", 0, &a));
        ASSERT_EQ(cases[i].allowed, acl_allow(a, ACL_R_SERVICE, CN_STR("web"), ACL_A_WRITE));
        acl_resolver_free(r);
    }
}

TEST(resolver, retired_authorizers_outlive_a_change)
{
    struct state_store *st = state_new();
    const struct acl_authz *a, *b;
    put_policy(st, "p", "p", "key_prefix \"\" { policy = \"read\" }", NULL);
    put_token(st, "t", "s", "p", 0);
    struct acl_resolver *r = server_resolver(st, NULL);
    ASSERT_OK(acl_resolve(r, "s", 100 * S, &a));
    put_policy(st, "p", "p", "key_prefix \"\" { policy = \"write\" }", NULL);
    ASSERT_OK(acl_resolve(r, "s", 101 * S, &b));
    ASSERT(a != b);
    /* the old one is still readable (retired, not freed) */
    ASSERT(!acl_allow(a, ACL_R_KEY, CN_STR("k"), ACL_A_WRITE));
    ASSERT(acl_allow(b, ACL_R_KEY, CN_STR("k"), ACL_A_WRITE));
    /* long after, a resolve frees it (ASan would flag a leak otherwise) */
    ASSERT_OK(acl_resolve(r, "s", 1000 * S, &b));
    acl_resolver_free(r);
    state_free(st);
}
