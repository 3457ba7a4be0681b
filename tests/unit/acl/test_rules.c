/* The rule language: HCL subset and JSON, table-driven, with error positions. */
#include "acl/acl.h"
#include "test.h"

/* Rules rendered compactly: "key_prefix:app/=write;operator:=read". */
static void render(const struct acl_rules *r, char *out, size_t n)
{
    size_t off = 0;
    out[0] = '\0';
    for (size_t i = 0; i < r->n; i++) {
        const struct acl_rule *x = &r->v[i];
        off += (size_t)snprintf(out + off, n - off, "%s%s:%s=%s", i ? ";" : "",
                                acl_resource_name(x->res, x->prefix), x->label,
                                acl_level_name(x->level));
        if (off >= n) break;
    }
}

static const struct {
    const char *in;
    unsigned flags;
    const char *want;
} ok_cases[] = {
    {"", 0, ""},
    {"# nothing but a comment\n", 0, ""},
    {"key_prefix \"app/\" { policy = \"write\" }", 0, "key_prefix:app/=write"},
    {"key \"a\" {\n  policy = \"read\"\n}\nkey \"b\" { policy = \"deny\" }", 0,
     "key:a=read;key:b=deny"},
    {"operator = \"read\"\nkeyring = \"write\"\nacl = \"read\"", 0,
     "operator:=read;keyring:=write;acl:=read"},
    {"mesh = \"write\"\npeering = \"read\"", 0, "mesh:=write;peering:=read"},
    {"key_prefix \"\" { policy = \"list\" }", 0, "key_prefix:=list"},
    {"node_prefix \"\" { policy = \"read\" } service \"web\" { policy = \"write\" }", 0,
     "node_prefix:=read;service:web=write"},
    {"service \"web\" { policy = \"read\" intentions = \"write\" }", 0, "service:web=read"},
    {"service \"web\" { intentions = \"read\" }", 0, ""},
    {"session_prefix \"\" { policy = \"write\" }\nevent \"deploy\" { policy = \"write\" }\n"
     "query_prefix \"q\" { policy = \"read\" }\nagent \"n1\" { policy = \"read\" }\n"
     "agent_prefix \"\" { policy = \"deny\" }",
     0, "session_prefix:=write;event:deploy=write;query_prefix:q=read;agent:n1=read;agent_prefix:=deny"},
    /* comments of every style, commas, trailing commas */
    {"// c1\n/* c2\n */ key \"x\" { policy = \"read\", }, # c3\n", 0, "key:x=read"},
    /* HCL object-assignment form */
    {"key_prefix = { \"a/\" = { policy = \"write\" } }", 0, "key_prefix:a/=write"},
    /* JSON forms */
    {"{\"key_prefix\": {\"app/\": {\"policy\": \"write\"}}, \"operator\": \"read\"}", 0,
     "key_prefix:app/=write;operator:=read"},
    {"{\"key\": [{\"a\": {\"policy\": \"read\"}}, {\"b\": [{\"policy\": \"write\"}]}]}", 0,
     "key:a=read;key:b=write"},
    {"{\"service\": {\"w\\u00e9b\": {\"policy\": \"read\"}}}", 0, "service:w\xc3\xa9" "b=read"},
    {"  {  }  ", 0, ""},
    /* legacy: segment rules are prefix rules */
    {"key \"\" { policy = \"read\" }\nkey \"foo/\" { policy = \"write\" }", ACL_PARSE_LEGACY,
     "key_prefix:=read;key_prefix:foo/=write"},
    {"service \"\" { policy = \"write\" } operator = \"read\"", ACL_PARSE_LEGACY,
     "service_prefix:=write;operator:=read"},
    /* escapes in labels */
    {"key \"a\\\"b\\\\c\" { policy = \"read\" }", 0, "key:a\"b\\c=read"},
};

TEST(rules, parses_hcl_and_json_table)
{
    for (size_t i = 0; i < sizeof ok_cases / sizeof ok_cases[0]; i++) {
        struct acl_rules r;
        struct cn_err err;
        char got[1024];
        acl_rules_init(&r);
        const char *in = ok_cases[i].in;
        int rc = acl_rules_parse(in, strlen(in), ok_cases[i].flags, &r, &err);
        if (rc) FAIL("case %zu (%s): %s", i, in, err.msg);
        render(&r, got, sizeof got);
        if (strcmp(got, ok_cases[i].want)) FAIL("case %zu (%s):\n  want %s\n  got  %s", i, in, ok_cases[i].want, got);
        acl_rules_release(&r);
    }
}

static const struct {
    const char *in;
    const char *msg; /* prefix of err.msg */
} bad_cases[] = {
    {"key_prefix \"app/\" { policy = \"wrte\" }", "At 1:30: invalid key_prefix policy \"wrte\""},
    {"foo \"x\" { policy = \"read\" }", "At 1:1: unknown ACL resource \"foo\""},
    {"\n\n  bogus = \"read\"", "At 3:3: unknown ACL resource \"bogus\""},
    {"key \"a\" { policy = \"read\"", "At 1:26: expected '}', got end of input"},
    {"key \"a\" { policy = \"read\" }\nkey \"b\" {\n  polcy = \"read\"\n}",
     "At 3:3: unknown attribute \"polcy\" in key \"b\""},
    {"key \"a\" { }", "At 1:5: key \"a\": missing policy"},
    {"service \"a\" { policy = \"list\" }", "At 1:24: invalid service policy \"list\""},
    {"operator = \"list\"", "At 1:12: invalid operator policy \"list\""},
    {"operator = 3", "At 1:12: operator: policy must be a string"},
    {"key \"a\" { policy = \"read }", "At 1:20: literal not terminated"},
    {"key \"a\" ! { }", "At 1:9: illegal char '!'"},
    {"key \"a\" \"b\" = \"read\"", "At 1:13: expected '{' after block labels"},
    {"key \"a\" { policy = }", "At 1:20: expected a value, got '}'"},
    {"/* open", "At 1:1: comment not terminated"},
    {"{\"key\": {\"a\": {\"policy\": \"read\"}}} extra", "At 1:36: unexpected identifier after"},
    {"{\"key\": \"read\"}", "At 1:9: key must be a block"},
    {"key \"a\" { policy = \"\\q\" }", "At 1:20: invalid escape \\q"},
};

TEST(rules, errors_carry_line_and_column)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        struct acl_rules r;
        struct cn_err err;
        acl_rules_init(&r);
        const char *in = bad_cases[i].in;
        int rc = acl_rules_parse(in, strlen(in), 0, &r, &err);
        if (rc != CN_EINVAL) FAIL("case %zu (%s): expected an error", i, in);
        if (strncmp(err.msg, bad_cases[i].msg, strlen(bad_cases[i].msg)))
            FAIL("case %zu (%s):\n  want %s\n  got  %s", i, in, bad_cases[i].msg, err.msg);
        ASSERT_EQ(0, r.n);
        acl_rules_release(&r);
    }
}

TEST(rules, failed_parse_leaves_existing_rules)
{
    struct acl_rules r;
    struct cn_err err;
    acl_rules_init(&r);
    ASSERT_OK(acl_rules_parse("key \"a\" { policy = \"read\" }", 27, 0, &r, &err));
    ASSERT_EQ(1, r.n);
    const char *bad = "key \"b\" { policy = \"write\" } nope = \"read\"";
    ASSERT(acl_rules_parse(bad, strlen(bad), 0, &r, &err) != 0);
    ASSERT_EQ(1, r.n);
    acl_rules_release(&r);
}

TEST(rules, deep_nesting_and_nul_bytes_are_refused)
{
    struct acl_rules r;
    struct cn_err err;
    char deep[256];
    acl_rules_init(&r);
    memset(deep, '[', sizeof deep);
    ASSERT(acl_rules_parse(deep, sizeof deep, 0, &r, &err) != 0);
    const char nul[] = "key \"a\" {\0 policy = \"read\" }";
    ASSERT(acl_rules_parse(nul, sizeof nul - 1, 0, &r, &err) != 0);
    ASSERT(strstr(err.msg, "illegal char 0x00") != NULL);
    acl_rules_release(&r);
}
