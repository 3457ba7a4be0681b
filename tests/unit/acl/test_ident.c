/* A client agent's token resolution through a server (rpc_acl_ident.h):
 * what the server answers for a secret, the codec, and that the client's
 * resolver then grants exactly what the server's own resolver grants. */
#include "lib/cn_common.h"
#include "rpc/rpc_acl_ident.h"
#include "state/state.h"
#include "test.h"

#define S (1000000000LL)

static uint64_t next_idx = 10;

static char **strv(const char *a)
{
    char **v = calloc(1, sizeof *v);
    v[0] = strdup(a);
    return v;
}

static void put_policy(struct state_store *st, const char *id, const char *rules, const char *dc)
{
    struct state_acl_policy *p = calloc(1, sizeof *p);
    struct cn_err err;
    p->id = strdup(id);
    p->name = strdup(id);
    p->description = strdup("");
    p->rules = strdup(rules);
    p->hash = strdup("");
    if (dc) {
        p->dcs = strv(dc);
        p->ndcs = 1;
    }
    struct state_txn *tx = state_txn_begin(st, next_idx++);
    ASSERT_OK(state_acl_policy_set_txn(tx, p, STATE_ACL_UPSERT, &err));
    state_txn_commit(tx);
}

static struct state_acl_token *new_token(const char *accessor, const char *secret)
{
    struct state_acl_token *t = calloc(1, sizeof *t);
    t->accessor = strdup(accessor);
    t->secret = strdup(secret);
    t->description = strdup("");
    t->hash = strdup("");
    t->rules = strdup("");
    return t;
}

static void put_token(struct state_store *st, struct state_acl_token *t)
{
    struct cn_err err;
    struct state_txn *tx = state_txn_begin(st, next_idx++);
    int rc = state_acl_token_set_txn(tx, t, STATE_ACL_UPSERT, &err);
    if (rc) FAIL("token set: %s", err.msg);
    state_txn_commit(tx);
}

/* A store with policies for dc1 and dc2, and tokens using them. */
static struct state_store *sample_store(void)
{
    struct state_store *st = state_new();
    put_policy(st, "p-web", "service \"web\" { policy = \"write\" }", NULL);
    put_policy(st, "p-kv", "key_prefix \"app/\" { policy = \"write\" }", "dc1");
    put_policy(st, "p-dc2", "node_prefix \"\" { policy = \"write\" }", "dc2");

    struct state_acl_token *t = new_token("a-web", "s-web");
    t->policies = calloc(4, sizeof *t->policies);
    t->policies[t->npolicies++] = strdup("p-web");
    t->policies[t->npolicies++] = strdup("p-kv");
    t->policies[t->npolicies++] = strdup("p-dc2");
    t->svc = calloc(2, sizeof *t->svc);
    t->svc[0].name = strdup("api");
    t->svc[1].name = strdup("dc2-only");
    t->svc[1].dcs = strv("dc2");
    t->svc[1].ndcs = 1;
    t->nsvc = 2;
    t->nodes = calloc(2, sizeof *t->nodes);
    t->nodes[0].name = strdup("node-a");
    t->nodes[0].dc = strdup("dc1");
    t->nodes[1].name = strdup("node-b");
    t->nodes[1].dc = strdup("dc2");
    t->nnodes = 2;
    t->expiration_ns = 500 * S;
    put_token(st, t);

    t = new_token("a-mgmt", "s-mgmt");
    t->policies = strv(ACL_GLOBAL_MANAGEMENT_ID);
    t->npolicies = 1;
    put_token(st, t);

    t = new_token("a-legacy", "s-legacy");
    t->legacy_type = strdup("client");
    free(t->rules);
    t->rules = strdup("key \"leg/\" { policy = \"write\" }");
    put_token(st, t);
    return st;
}

/* What the server's endpoint sends for secret, decoded as the client does. */
static int ask(struct state_store *st, const char *secret, struct cn_arena *a,
               struct rpc_acl_ident *out)
{
    struct rpc_acl_ident_req req = {.secret = secret, .datacenter = "dc1"};
    struct rpc_query q;
    memset(&q, 0, sizeof q);
    cn_arena_init(&q.arena, 1024);
    q.req = &req;
    int rc = rpc_acl_ident_run(&q, st, NULL);
    if (rc == 0) {
        struct cn_buf b;
        cn_buf_init(&b, CN_BUF_UNLIMITED);
        rpc_acl_ident_encode(q.resp, &b);
        rc = rpc_acl_ident_decode(b.data, b.len, a, out);
        cn_buf_release(&b);
    }
    cn_arena_release(&q.arena);
    return rc;
}

TEST(acl_ident, the_answer_holds_what_applies_here)
{
    struct state_store *st = sample_store();
    struct cn_arena a;
    struct rpc_acl_ident id;
    cn_arena_init(&a, 1024);
    ASSERT_OK(ask(st, "s-web", &a, &id));
    ASSERT_STR_EQ("a-web", id.accessor);
    ASSERT(!id.management && !id.anonymous);
    ASSERT_EQ(2u, id.nrules); /* p-dc2 applies only in dc2 */
    ASSERT(strstr(id.rules[0], "web") && strstr(id.rules[1], "app/"));
    ASSERT_STR_EQ("", id.legacy_rules);
    ASSERT_EQ(1u, id.nservices);
    ASSERT_STR_EQ("api", id.services[0]);
    ASSERT_EQ(1u, id.nnodes);
    ASSERT_STR_EQ("node-a", id.nodes[0]);
    ASSERT(id.expires_ns == 500 * S);

    ASSERT_OK(ask(st, "s-mgmt", &a, &id));
    ASSERT(id.management);
    ASSERT_EQ(0u, id.nrules);
    ASSERT_OK(ask(st, "s-legacy", &a, &id));
    ASSERT(strstr(id.legacy_rules, "leg/") != NULL);

    /* unknown: not found; anonymous before a leader created it: no rules */
    ASSERT_EQ(CN_EACLNOTFOUND, ask(st, "nope", &a, &id));
    ASSERT_OK(ask(st, ACL_ANONYMOUS_SECRET, &a, &id));
    ASSERT(id.anonymous);
    ASSERT_STR_EQ(ACL_ANONYMOUS_ID, id.accessor);
    ASSERT_EQ(0u, id.nrules);
    cn_arena_release(&a);
    state_free(st);
}

/* Feed the answer to a client resolver as acl_fetch.c does. */
static void cache_on_client(struct acl_resolver *client, struct state_store *st, const char *secret)
{
    struct cn_arena a;
    struct rpc_acl_ident id;
    cn_arena_init(&a, 1024);
    int rc = ask(st, secret, &a, &id);
    if (rc == CN_EACLNOTFOUND) {
        acl_cache_remote(client, secret, false, NULL, 0);
    } else {
        ASSERT_OK(rc);
        struct rpc_acl_ident_parsed p;
        rpc_acl_ident_parse(&id, &p);
        acl_cache_remote(client, secret, true, &p.id, 0);
        rpc_acl_ident_parsed_release(&p);
    }
    cn_arena_release(&a);
}

TEST(acl_ident, a_client_grants_what_the_server_grants)
{
    struct state_store *st = sample_store();
    struct acl_config sc = {.enabled = true, .st = st, .datacenter = "dc1", .node_name = "srv"};
    struct acl_config cc = {.enabled = true, .datacenter = "dc1", .node_name = "cli"};
    struct acl_resolver *server = acl_resolver_new(&sc), *client = acl_resolver_new(&cc);
    static const char *const secrets[] = {"s-web", "s-mgmt", "s-legacy", "nope",
                                          ACL_ANONYMOUS_SECRET};
    static const char *const names[] = {"web", "api", "app/x", "leg/x", "node-a", "node-b", "x",
                                        ""};
    acl_resolver_servers_down(client, false);
    for (size_t i = 0; i < CN_ARRAY_SIZE(secrets); i++) {
        const struct acl_authz *as, *ac;
        cache_on_client(client, st, secrets[i]);
        int rs = acl_resolve(server, secrets[i], 10 * S, &as);
        int rcl = acl_resolve(client, secrets[i], 10 * S, &ac);
        ASSERT_EQ(rs, rcl);
        if (rs) continue;
        ASSERT_STR_EQ(acl_authz_accessor(as), acl_authz_accessor(ac));
        ASSERT_EQ(acl_is_management(as), acl_is_management(ac));
        ASSERT_EQ(acl_is_anonymous(as), acl_is_anonymous(ac));
        for (int res = 0; res < ACL_R__COUNT; res++)
            for (size_t n = 0; n < CN_ARRAY_SIZE(names); n++)
                for (int acc = ACL_A_READ; acc <= ACL_A_WRITE; acc++)
                    ASSERT_EQ(acl_allow(as, res, cn_str_from(names[n]), acc),
                              acl_allow(ac, res, cn_str_from(names[n]), acc));
    }
    /* expiry travels: the token stops resolving at its expiration time */
    const struct acl_authz *a;
    ASSERT_EQ(CN_EACLNOTFOUND, acl_resolve(client, "s-web", 501 * S, &a));
    acl_resolver_free(server);
    acl_resolver_free(client);
    state_free(st);
}

TEST(acl_ident, the_decoder_refuses_anything_but_one_whole_answer)
{
    struct state_store *st = sample_store();
    struct rpc_acl_ident_req req = {.secret = "s-web", .datacenter = "dc1"};
    struct rpc_query q;
    struct cn_buf b;
    struct cn_arena a;
    struct rpc_acl_ident id;
    memset(&q, 0, sizeof q);
    cn_arena_init(&q.arena, 1024);
    cn_arena_init(&a, 1024);
    q.req = &req;
    ASSERT_OK(rpc_acl_ident_run(&q, st, NULL));
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    rpc_acl_ident_encode(q.resp, &b);
    for (size_t n = 0; n < b.len; n++)
        ASSERT_EQ(CN_ECORRUPT, rpc_acl_ident_decode(b.data, n, &a, &id));
    ASSERT_OK(cn_buf_append(&b, "x", 1));
    ASSERT_EQ(CN_ECORRUPT, rpc_acl_ident_decode(b.data, b.len, &a, &id));
    ((uint8_t *)b.data)[0] = 99; /* another version */
    ASSERT_EQ(CN_ECORRUPT, rpc_acl_ident_decode(b.data, b.len - 1, &a, &id));
    /* a count larger than the input */
    static const uint8_t huge[] = {1, 0, 0, 0, 0, 0xff, 0xff, 0x03};
    ASSERT_EQ(CN_ECORRUPT, rpc_acl_ident_decode(huge, sizeof huge, &a, &id));
    cn_buf_release(&b);
    cn_arena_release(&a);
    cn_arena_release(&q.arena);
    state_free(st);
}

TEST(acl_ident, unparsable_rules_grant_nothing)
{
    static const char *rules[] = {"service \"web\" { policy = \"write\" }", "this is not HCL {"};
    struct rpc_acl_ident id = {.accessor = "a", .rules = rules, .nrules = 2, .legacy_rules = ""};
    struct rpc_acl_ident_parsed p;
    rpc_acl_ident_parse(&id, &p);
    ASSERT_EQ(1u, p.id.npolicies);
    struct acl_config cc = {.enabled = true};
    struct acl_resolver *r = acl_resolver_new(&cc);
    const struct acl_authz *a;
    acl_resolver_servers_down(r, false);
    acl_cache_remote(r, "s", true, &p.id, 0);
    rpc_acl_ident_parsed_release(&p);
    ASSERT_OK(acl_resolve(r, "s", 1, &a));
    ASSERT(acl_allow(a, ACL_R_SERVICE, CN_STR("web"), ACL_A_WRITE));
    ASSERT(!acl_allow(a, ACL_R_SERVICE, CN_STR("db"), ACL_A_READ));
    acl_resolver_free(r);
}
