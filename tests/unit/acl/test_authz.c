/* The authorizer: rule sets x resources x access -> decision. */
#include "acl/acl.h"
#include "test.h"

#define R ACL_A_READ
#define L ACL_A_LIST
#define W ACL_A_WRITE

struct probe {
    enum acl_resource res;
    const char *name;
    enum acl_access acc;
    bool want;
};

/* Compile policies (NULL-terminated rule texts) into an authorizer. */
static struct acl_authz *make(const char *const *texts, bool default_allow, bool key_list)
{
    struct acl_rules rules[8];
    const struct acl_rules *ptrs[8];
    size_t n = 0;
    struct cn_err err;
    for (; texts && texts[n]; n++) {
        acl_rules_init(&rules[n]);
        if (acl_rules_parse(texts[n], strlen(texts[n]), 0, &rules[n], &err))
            FAIL("rules %zu: %s", n, err.msg);
        ptrs[n] = &rules[n];
    }
    struct acl_identity id = {.accessor = "acc", .secret = "sec", .policies = ptrs, .npolicies = n};
    struct acl_authz_opts o = {.default_allow = default_allow, .enable_key_list_policy = key_list};
    struct acl_authz *a = acl_authz_compile(&id, &o);
    for (size_t i = 0; i < n; i++) acl_rules_release(&rules[i]);
    return a;
}

static void check(const char *what, const struct acl_authz *a, const struct probe *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bool got = acl_allow(a, p[i].res, cn_str_from(p[i].name), p[i].acc);
        if (got != p[i].want)
            FAIL("%s: probe %zu (%s \"%s\" %s): want %s", what, i,
                 acl_resource_name(p[i].res, false), p[i].name, acl_access_name(p[i].acc),
                 p[i].want ? "allow" : "deny");
    }
}

TEST(authz, exact_beats_longest_prefix_beats_default)
{
    const char *pol[] = {"key_prefix \"\" { policy = \"read\" }\n"
                         "key_prefix \"app/\" { policy = \"write\" }\n"
                         "key_prefix \"app/secret/\" { policy = \"deny\" }\n"
                         "key \"app/secret/ok\" { policy = \"read\" }\n"
                         "key \"app\" { policy = \"deny\" }",
                         NULL};
    struct acl_authz *a = make(pol, false, false);
    const struct probe p[] = {
        {ACL_R_KEY, "other/x", R, true},      {ACL_R_KEY, "other/x", W, false},
        {ACL_R_KEY, "app/x", W, true},        {ACL_R_KEY, "app/x", R, true},
        {ACL_R_KEY, "app/", W, true},         {ACL_R_KEY, "app", R, false},
        {ACL_R_KEY, "app/secret/x", R, false}, {ACL_R_KEY, "app/secret/ok", R, true},
        {ACL_R_KEY, "app/secret/ok", W, false}, {ACL_R_KEY, "app/secret/okay", R, false},
        {ACL_R_KEY, "app/secre", W, true},    {ACL_R_KEY, "", R, true},
        {ACL_R_KEY, "apple", R, true},        {ACL_R_KEY, "apple", W, false},
        /* other resources fall to the default (deny) */
        {ACL_R_SERVICE, "web", R, false},     {ACL_R_OPERATOR, "", R, false},
    };
    check("prefix", a, p, sizeof p / sizeof p[0]);
    acl_authz_free(a);
}

TEST(authz, default_allow_and_the_acl_resource)
{
    const char *pol[] = {"key \"locked\" { policy = \"deny\" }", NULL};
    struct acl_authz *a = make(pol, true, false);
    const struct probe p[] = {
        {ACL_R_KEY, "anything", W, true}, {ACL_R_KEY, "locked", R, false},
        {ACL_R_SERVICE, "x", W, true},    {ACL_R_OPERATOR, "", W, true},
        {ACL_R_KEYRING, "", R, true},
        /* ACL management is never granted by default */
        {ACL_R_ACL, "", R, false},        {ACL_R_ACL, "", W, false},
    };
    check("default allow", a, p, sizeof p / sizeof p[0]);
    acl_authz_free(a);
}

TEST(authz, deny_wins_between_policies_and_write_implies_read)
{
    const char *pol[] = {"key_prefix \"a/\" { policy = \"write\" }\nservice \"web\" { policy = \"write\" }",
                         "key_prefix \"a/\" { policy = \"deny\" }\nservice \"web\" { policy = \"read\" }\n"
                         "node \"n1\" { policy = \"read\" }",
                         "node \"n1\" { policy = \"write\" }\noperator = \"read\"", NULL};
    struct acl_authz *a = make(pol, false, false);
    const struct probe p[] = {
        {ACL_R_KEY, "a/x", R, false},   {ACL_R_KEY, "a/x", W, false},
        {ACL_R_SERVICE, "web", W, true}, {ACL_R_SERVICE, "web", R, true},
        {ACL_R_NODE, "n1", W, true},    {ACL_R_OPERATOR, "", R, true},
        {ACL_R_OPERATOR, "", W, false},
    };
    check("merge", a, p, sizeof p / sizeof p[0]);
    acl_authz_free(a);
}

TEST(authz, flat_resources_and_every_labeled_family)
{
    const char *pol[] = {"acl = \"read\"\nkeyring = \"write\"\noperator = \"deny\"\n"
                         "node_prefix \"web-\" { policy = \"write\" }\n"
                         "session \"n1\" { policy = \"write\" }\n"
                         "event_prefix \"\" { policy = \"read\" }\n"
                         "query \"q1\" { policy = \"write\" }\n"
                         "agent_prefix \"\" { policy = \"read\" }\nagent \"n1\" { policy = \"write\" }",
                         NULL};
    struct acl_authz *a = make(pol, true, false);
    const struct probe p[] = {
        {ACL_R_ACL, "", R, true},         {ACL_R_ACL, "", W, false},
        {ACL_R_KEYRING, "", W, true},     {ACL_R_OPERATOR, "", R, false},
        {ACL_R_NODE, "web-1", W, true},   {ACL_R_NODE, "db-1", W, true},
        {ACL_R_SESSION, "n1", W, true},   {ACL_R_EVENT, "deploy", W, false},
        {ACL_R_EVENT, "deploy", R, true}, {ACL_R_QUERY, "q1", W, true},
        {ACL_R_AGENT, "n1", W, true},     {ACL_R_AGENT, "n2", W, false},
        {ACL_R_AGENT, "n2", R, true},
    };
    check("families", a, p, sizeof p / sizeof p[0]);
    acl_authz_free(a);
}

TEST(authz, list_policy_for_key_prefixes)
{
    const char *pol[] = {"key_prefix \"logs/\" { policy = \"list\" }\n"
                         "key_prefix \"app/\" { policy = \"read\" }\n"
                         "key_prefix \"w/\" { policy = \"write\" }", NULL};
    struct acl_authz *on = make(pol, false, true), *off = make(pol, false, false);
    const struct probe p[] = {
        {ACL_R_KEY, "logs/a", R, true},  {ACL_R_KEY, "logs/a", L, true},
        {ACL_R_KEY, "logs/a", W, false}, {ACL_R_KEY, "app/a", L, false},
        {ACL_R_KEY, "w/a", L, true},
    };
    check("list", on, p, sizeof p / sizeof p[0]);
    ASSERT(acl_allow_key_list(on, CN_STR("logs/")));
    ASSERT(!acl_allow_key_list(on, CN_STR("app/")));
    ASSERT(!acl_allow_key_list(on, CN_STR("other/")));
    /* Without enable_key_list_policy listing is filtered by read alone. */
    ASSERT(acl_allow_key_list(off, CN_STR("app/")));
    ASSERT(acl_allow_key_list(off, CN_STR("other/")));
    acl_authz_free(on);
    acl_authz_free(off);
}

TEST(authz, recursive_delete_needs_write_on_everything_below)
{
    const char *pol[] = {"key_prefix \"app/\" { policy = \"write\" }\n"
                         "key_prefix \"app/ro/\" { policy = \"read\" }\n"
                         "key \"app/x/locked\" { policy = \"deny\" }\n"
                         "key \"app/y/fine\" { policy = \"write\" }", NULL};
    struct acl_authz *a = make(pol, false, false);
    ASSERT(acl_allow_key_write_prefix(a, CN_STR("app/y/")));
    ASSERT(acl_allow_key_write_prefix(a, CN_STR("app/z")));
    ASSERT(!acl_allow_key_write_prefix(a, CN_STR("app/")));   /* app/ro/ is read */
    ASSERT(!acl_allow_key_write_prefix(a, CN_STR("app/x/"))); /* a deny below */
    ASSERT(!acl_allow_key_write_prefix(a, CN_STR("app/ro/")));
    ASSERT(!acl_allow_key_write_prefix(a, CN_STR("other/")));  /* default deny */
    ASSERT(!acl_allow_key_write_prefix(a, CN_STR("")));
    acl_authz_free(a);
    const char *allow[] = {"key_prefix \"keep/\" { policy = \"read\" }", NULL};
    a = make(allow, true, false);
    ASSERT(acl_allow_key_write_prefix(a, CN_STR("other/")));
    ASSERT(!acl_allow_key_write_prefix(a, CN_STR("")));
    ASSERT(!acl_allow_key_write_prefix(a, CN_STR("ke")));
    acl_authz_free(a);
}

TEST(authz, identities_management_and_statics)
{
    const char *svc[] = {"web"}, *nodes[] = {"n1"};
    struct acl_identity id = {.accessor = "a", .service_identities = svc,
                              .nservice_identities = 1, .node_identities = nodes,
                              .nnode_identities = 1};
    struct acl_authz_opts o = {.default_allow = false};
    struct acl_authz *a = acl_authz_compile(&id, &o);
    const struct probe p[] = {
        {ACL_R_SERVICE, "web", W, true}, {ACL_R_SERVICE, "web-sidecar-proxy", W, true},
        {ACL_R_SERVICE, "db", R, true},  {ACL_R_SERVICE, "db", W, false},
        {ACL_R_NODE, "n1", W, true},     {ACL_R_NODE, "n2", R, true},
        {ACL_R_NODE, "n2", W, false},    {ACL_R_KEY, "k", R, false},
    };
    check("identities", a, p, sizeof p / sizeof p[0]);
    ASSERT(!acl_is_management(a));
    acl_authz_free(a);

    id = (struct acl_identity){.accessor = "m", .management = true};
    a = acl_authz_compile(&id, &o);
    ASSERT(acl_is_management(a));
    ASSERT(acl_allow(a, ACL_R_ACL, CN_STR_NULL, W));
    ASSERT(acl_allow_key_write_prefix(a, CN_STR("")));
    acl_authz_free(a);

    struct acl_authz *all = acl_authz_static(true), *none = acl_authz_static(false);
    ASSERT(acl_allow(all, ACL_R_ACL, CN_STR_NULL, W) && acl_is_management(all));
    ASSERT(!acl_allow(none, ACL_R_KEY, CN_STR("k"), R) && !acl_is_management(none));
    ASSERT(!acl_allow_key_write_prefix(none, CN_STR("")));
    acl_authz_free(all);
    acl_authz_free(none);
}

/* A brute-force reference for the sorted-table lookup: random labels over a
 * tiny alphabet, every name checked against a linear scan. */
TEST(authz, lookup_matches_a_linear_reference)
{
    uint64_t s = cn_test_seed() | 1;
    for (int round = 0; round < 200; round++) {
        struct acl_rules rules;
        acl_rules_init(&rules);
        int nr = 1 + (int)(s % 12);
        for (int i = 0; i < nr; i++) {
            char label[6];
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            int len = (int)(s % 5);
            for (int j = 0; j < len; j++) label[j] = "ab"[(s >> (8 + j)) & 1];
            label[len] = '\0';
            acl_rules_add(&rules, ACL_R_KEY, (s >> 20) & 1, label, (enum acl_level)(1 + (s >> 24) % 4));
        }
        const struct acl_rules *pr = &rules;
        struct acl_identity id = {.policies = &pr, .npolicies = 1};
        struct acl_authz_opts o = {.default_allow = (s >> 30) & 1};
        struct acl_authz *a = acl_authz_compile(&id, &o);
        for (int len = 0; len <= 5; len++) {
            for (int bits = 0; bits < (1 << len); bits++) {
                char name[6];
                for (int j = 0; j < len; j++) name[j] = "ab"[(bits >> j) & 1];
                name[len] = '\0';
                /* reference: exact max level, else longest prefix max level */
                int exact = 0, best_len = -1, best = 0;
                for (size_t i = 0; i < rules.n; i++) {
                    const struct acl_rule *x = &rules.v[i];
                    size_t ll = strlen(x->label);
                    if (!x->prefix && !strcmp(x->label, name) && x->level > exact) exact = x->level;
                    if (x->prefix && !strncmp(x->label, name, ll)) {
                        if ((int)ll > best_len) best_len = (int)ll, best = x->level;
                        else if ((int)ll == best_len && x->level > best) best = x->level;
                    }
                }
                int level = exact ? exact : best;
                bool want_r = level ? (level != ACL_L_DENY) : o.default_allow;
                bool want_w = level ? (level == ACL_L_WRITE) : o.default_allow;
                if (acl_allow(a, ACL_R_KEY, cn_str_from(name), R) != want_r ||
                    acl_allow(a, ACL_R_KEY, cn_str_from(name), W) != want_w)
                    FAIL("round %d name \"%s\": level %d", round, name, level);
            }
        }
        acl_authz_free(a);
        acl_rules_release(&rules);
    }
}
