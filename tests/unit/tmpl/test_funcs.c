/* test_funcs.c - every consul-template function the contract marks P0/P1:
 * data functions against the fake agent (values, ids, requests) and the
 * helpers (strings, collections, parsing, JSON, time, math, scratch). */
#include <string.h>

#include "helpers.h"
#include "test.h"

static struct fake F;

static const char *R(const char *src)
{
    fake_haproxy(&F);
    F.files[0][0] = "/etc/motd";
    F.files[0][1] = "hello file\n";
    return render(&F, src);
}

#define EXPECT(out, src) ASSERT_STR_EQ(out, R(src))

static const char *ERR(const char *src)
{
    static struct tmpl_error err;
    fake_haproxy(&F);
    return render_err(&F, src, &err);
}

/* ---- data ------------------------------------------------------------ */

TEST(data, key)
{
    EXPECT("4096|4096|",
           "{{key \"service/haproxy/maxconn\"}}|{{key \"/service/haproxy/maxconn\"}}|{{key \"\"}}");
    ASSERT_STR_EQ("/v1/kv/service/haproxy/maxconn", F.last_path);
    EXPECT("4096", "{{key \"service/haproxy/maxconn@dc2\"}}");
    ASSERT_STR_EQ("dc=dc2", F.last_query);
}

TEST(data, key_escaping_and_raw_bytes)
{
    fake_haproxy(&F);
    fake_kv(&F, "odd key/%x", "  spaced\nvalue ");
    ASSERT_STR_EQ("[  spaced\nvalue ]", render(&F, "[{{key \"odd key/%x\"}}]"));
    ASSERT_STR_EQ("/v1/kv/odd%20key/%25x", F.last_path);
}

TEST(data, key_exists_and_default)
{
    fake_haproxy(&F);
    fake_kv(&F, "empty", "");
    ASSERT_STR_EQ("true false",
                  render(&F, "{{keyExists \"service/haproxy/mode\"}} {{keyExists \"nope\"}}"));
    ASSERT_STR_EQ("http d d d",
                  render(&F, "{{keyOrDefault \"service/haproxy/mode\" \"d\"}} "
                             "{{keyOrDefault \"nope\" \"d\"}} {{keyOrDefault \"empty\" \"d\"}} "
                             "{{keyOrDefault \"\" \"d\"}}"));
}

TEST(data, ls_and_tree)
{
    EXPECT("client=50s connect=5s server=50s ",
           "{{range ls \"service/haproxy/timeouts\"}}{{.Key}}={{.Value}} {{end}}");
    ASSERT_STR_EQ("recurse=", F.last_query);
    EXPECT("client connect server ", "{{range ls \"service/haproxy/timeouts/\"}}{{.Key}} {{end}}");
    EXPECT("client connect extra/queue server ",
           "{{range tree \"service/haproxy/timeouts\"}}{{.Key}} {{end}}");
    EXPECT("service/haproxy/timeouts/extra/queue true",
           "{{range tree \"service/haproxy/timeouts/extra\"}}{{.Path}} {{.Exists}}{{end}}");
    EXPECT("", "{{range ls \"\"}}x{{end}}");
    EXPECT("none", "{{range ls \"absent/\"}}x{{else}}none{{end}}");
}

TEST(data, safe_ls_waits_on_empty)
{
    struct tmpl_error err;
    bool complete;
    fake_haproxy(&F);
    ASSERT(render_ex(&F, "{{range safeLs \"absent/\"}}x{{end}}", &complete, &err));
    ASSERT(!complete);
    ASSERT(render_ex(&F, "{{range safeTree \"absent/\"}}x{{end}}", &complete, &err));
    ASSERT(!complete);
    ASSERT_STR_EQ("client connect server ",
                  render(&F, "{{range safeLs \"service/haproxy/timeouts\"}}{{.Key}} {{end}}"));
}

TEST(data, service_filters)
{
    EXPECT("web-2 web-3 web-1 ", "{{range service \"web\" \"any\"}}{{.ID}} {{end}}");
    ASSERT_STR_EQ("", F.last_query);
    EXPECT("web-2:critical ", "{{range service \"web|critical\"}}{{.ID}}:{{.Status}} {{end}}");
    EXPECT("web-3 web-1 ", "{{range service \"web\" \"passing,warning\"}}{{.ID}} {{end}}");
    EXPECT("web-3 web-1 ", "{{range service \"web\"}}{{.ID}} {{end}}");
    ASSERT_STR_EQ("passing=1", F.last_query);
    EXPECT("web-3 web-1 ", "{{range service \"web|passing\"}}{{.ID}} {{end}}");
    ASSERT_STR_EQ("passing=1", F.last_query);
    EXPECT("10.1.0.11 10.0.0.12 10.0.0.13 ",
           "{{range service \"web\" \"any\"}}{{.Address}} {{end}}");
    EXPECT("10.0.0.11 ", "{{range service \"web|critical\"}}{{.NodeAddress}} {{end}}");
    EXPECT("", "{{range service \"\"}}x{{end}}");
}

TEST(data, service_request_params)
{
    EXPECT("", "{{range service \"v2.web@dc2~_agent|any\"}}{{end}}");
    ASSERT_STR_EQ("/v1/health/service/web", F.last_path);
    ASSERT_STR_EQ("dc=dc2&near=_agent&tag=v2", F.last_query);
    EXPECT("", "{{range service \"a.b.web?ns=x\"}}{{end}}");
    ASSERT_STR_EQ("ns=x&passing=1&tag=a.b", F.last_query);
}

TEST(data, services_nodes_node_datacenters)
{
    EXPECT("consul:[] web:[release v2] ", "{{range services}}{{.Name}}:{{.Tags}} {{end}}");
    EXPECT("node-a node-b node-c ", "{{range nodes}}{{.Node}} {{end}}");
    EXPECT("10.0.0.11 web-2 8081", "{{with node \"node-a\"}}{{.Node.Address}}{{range .Services}} "
                                   "{{.ID}} {{.Port}}{{end}}{{end}}");
    EXPECT("<nil>", "{{with node \"ghost\"}}{{.Node}}{{end}}");
    EXPECT("[dc1 dc2]", "{{datacenters}}");
    EXPECT("[release v2]", "{{range services}}{{if eq .Name \"web\"}}{{.Tags}}{{end}}{{end}}");
}

TEST(data, file)
{
    EXPECT("hello file\n", "{{file \"/etc/motd\"}}");
    EXPECT("", "{{file \"\"}}");
}

TEST(data, dependency_ids_are_shared)
{
    fake_haproxy(&F);
    F.requests = 0;
    render(&F, "{{key \"service/haproxy/mode\"}}{{key \"/service/haproxy/mode\"}}"
               "{{range service \"web\"}}{{end}}{{range service \"web|passing\"}}{{end}}");
    ASSERT_EQ(2, F.requests);
    /* keyExists is a separate watch from key */
    F.requests = 0;
    render(&F, "{{key \"service/haproxy/mode\"}}{{keyExists \"service/haproxy/mode\"}}");
    ASSERT_EQ(2, F.requests);
}

TEST(data, nested_lookups_discovered_pass_by_pass)
{
    EXPECT("consul:0 web:2 ", "{{range services}}{{.Name}}:{{len (service .Name)}} {{end}}");
}

/* ---- env ------------------------------------------------------------- */

TEST(helpers, env)
{
    EXPECT("hello||d|", "{{env \"TEST_VAR\"}}|{{env \"UNSET\"}}|{{envOrDefault \"UNSET\" \"d\"}}|"
                        "{{envOrDefault \"EMPTY_VAR\" \"d\"}}");
    EXPECT("hello", "{{mustEnv \"TEST_VAR\"}}");
    ASSERT(strstr(ERR("{{mustEnv \"EMPTY_VAR\"}}"), "error calling mustEnv"));
}

/* ---- strings and collections ------------------------------------------ */

TEST(helpers, contains_in)
{
    EXPECT("true true false",
           "{{\"a,b\" | split \",\" | contains \"b\"}} {{\"hello\" | contains \"ell\"}} "
           "{{contains \"z\" (split \",\" \"a,b\")}}");
    EXPECT("true false", "{{in (split \",\" \"a,b\") \"a\"}} {{in \"abc\" \"x\"}}");
    EXPECT("true", "{{range service \"release.web\"}}{{.Tags | contains \"release\"}}{{end}}");
    EXPECT("true false", "{{range service \"release.web\"}}{{.Tags.Contains \"release\"}} "
                         "{{.Tags.Contains \"v2\"}}{{end}}");
}

TEST(helpers, contains_all_any_none_notall)
{
    const char *l = "(split \",\" \"a,b,c\")";
    char src[512];
    snprintf(
        src, sizeof src,
        "{{containsAll (split \",\" \"a,b\") %s}} {{containsAll (split \",\" \"a,z\") %s}} "
        "{{containsAny (split \",\" \"z,b\") %s}} {{containsAny (split \",\" \"y,z\") %s}} "
        "{{containsNone (split \",\" \"y,z\") %s}} {{containsNone (split \",\" \"a\") %s}} "
        "{{containsNotAll (split \",\" \"a,z\") %s}} {{containsNotAll (split \",\" \"a\") %s}}",
        l, l, l, l, l, l, l, l);
    EXPECT("true false true false true false true false", src);
}

TEST(helpers, join_split_split_to_map)
{
    EXPECT("a-b-c", "{{join \"-\" (split \",\" \"a,b,c\")}}");
    EXPECT("[a b]", "{{split \",\" \"  a,b \\n\"}}");
    EXPECT("[a b c]", "{{split \"\" \"abc\"}}");
    EXPECT("map[a:1 b:2=x]", "{{splitToMap \",\" \"=\" \"a=1,b=2=x\"}}");
    EXPECT("map[]", "{{splitToMap \",\" \"=\" \"\"}}");
}

TEST(helpers, replace_and_regex)
{
    EXPECT("a_b_c", "{{replaceAll \".\" \"_\" \"a.b.c\"}}");
    EXPECT("-a-b-", "{{replaceAll \"\" \"-\" \"ab\"}}");
    EXPECT("host at joe", "{{regexReplaceAll `(\\w+)@(\\w+)` \"$2 at $1\" \"joe@host\"}}");
    EXPECT("aNbNc", "{{regexReplaceAll `\\d+` \"N\" \"a1b22c\"}}");
    EXPECT("-b-c-", "{{regexReplaceAll \"a*\" \"-\" \"baaac\"}}");
    EXPECT("x-y", "{{regexReplaceAll `(?P<first>\\w)(?:\\.)(\\w)` \"${first}-$2\" \"x.y\"}}");
    EXPECT("$1", "{{regexReplaceAll \"a\" \"$$1\" \"a\"}}");
    EXPECT("true false",
           "{{regexMatch \"^web-[0-9]+$\" \"web-12\"}} {{regexMatch `^\\d$` \"ab\"}}");
    EXPECT("true", "{{regexMatch \"(?i)^WEB\" \"web\"}}");
    /* RE2's limits hold before glibc sees the pattern */
    ASSERT(strstr(ERR("{{regexMatch \"a**\" \"a\"}}"), "invalid nested repetition operator"));
    ASSERT(strstr(ERR("{{regexMatch \"((a{100}){100})\" \"a\"}}"), "invalid repeat count"));
    ASSERT(strstr(ERR("{{regexMatch \"a*?\" \"a\"}}"), "error calling regexMatch"));
}

TEST(helpers, case_and_trim)
{
    EXPECT("abc ABC Hello World-Foo_bar",
           "{{toLower \"aBc\"}} {{toUpper \"aBc\"}} {{toTitle \"hello world-foo_bar\"}}");
    EXPECT("[a b]", "[{{trimSpace \"  a b \\n\"}}]");
    EXPECT("a", "{{trim \"xy\" \"xxaxyy\"}}");
    EXPECT("b.c a.b", "{{trimPrefix \"a.\" \"a.b.c\"}} {{trimSuffix \".c\" \"a.b.c\"}}");
    EXPECT("  a\n\n  b", "{{indent 2 \"a\\n\\nb\"}}");
}

TEST(helpers, parse)
{
    EXPECT("42 0 -7 18446744073709551615 1.5 true false",
           "{{parseInt \"42\"}} {{parseInt \"\"}} {{parseInt \"-7\"}} {{parseUint "
           "\"18446744073709551615\"}} "
           "{{parseFloat \"1.5\"}} {{parseBool \"true\"}} {{parseBool \"\"}}");
    EXPECT("4097", "{{add 1 (key \"service/haproxy/maxconn\" | parseInt)}}");
    EXPECT("map[]", "{{parseJSON \"\"}}");
}

TEST(helpers, json)
{
    const char *j = "(parseJSON `{\"b\":[1,\"<x>\",2.5],\"a\":null,\"c\":{}}`)";
    char src[256];
    snprintf(src, sizeof src, "{{toJSON %s}}", j);
    EXPECT("{\"a\":null,\"b\":[1,\"\\u003cx\\u003e\",2.5],\"c\":{}}", src);
    snprintf(src, sizeof src, "{{toUnescapedJSON %s}}", j);
    EXPECT("{\"a\":null,\"b\":[1,\"<x>\",2.5],\"c\":{}}", src);
    snprintf(src, sizeof src, "{{toJSONPretty %s}}", j);
    EXPECT("{\n  \"a\": null,\n  \"b\": [\n    1,\n    \"\\u003cx\\u003e\",\n    2.5\n  ],\n  "
           "\"c\": {}\n}",
           src);
    EXPECT(
        "{\"client\":\"50s\",\"connect\":\"5s\",\"extra\":{\"queue\":\"10s\"},\"server\":\"50s\"}",
        "{{tree \"service/haproxy/timeouts\" | explode | toJSON}}");
    EXPECT("[\"a\",\"b\"]", "{{split \",\" \"a,b\" | toJSON}}");
}

TEST(helpers, by_key_by_tag_explode)
{
    EXPECT("timeouts:client=50s,connect=5s,extra/queue=10s,server=50s,;",
           "{{range $k, $v := tree \"service/haproxy\" | byKey}}{{$k}}:{{range $k2, $p := $v}}"
           "{{$k2}}={{$p.Value}},{{end}};{{end}}");
    EXPECT("release=web-2,web-1,;v2=web-2,;",
           "{{range $tag, $s := service \"web\" \"any\" | byTag}}{{$tag}}={{range "
           "$s}}{{.ID}},{{end}};{{end}}");
    EXPECT("release v2 web-2",
           "{{range $tag, $s := services | byTag}}{{$tag}} {{end}}"
           "{{with index (service \"web\" \"any\" | byTag) \"v2\"}}{{(index . 0).ID}}{{end}}");
    EXPECT("10s", "{{(tree \"service/haproxy/timeouts\" | explode).extra.queue}}");
}

TEST(helpers, timestamp)
{
    EXPECT("2026-11-26T00:57:09Z", "{{timestamp}}");
    EXPECT("1795654629", "{{timestamp \"unix\"}}");
    EXPECT("2026-11-26 00:57:09.123 Thu Nov 26 330 12AM UTC +0000 Z 26/11/26 Thursday November",
           "{{timestamp \"2006-01-02 15:04:05.000 Mon Jan _2 002 3PM MST -0700 Z07:00 02/01/06 "
           "Monday January\"}}");
    EXPECT("09.123456789 09.123456", "{{timestamp \"05.999999999\"}} {{timestamp \"05.000000\"}}");
}

TEST(helpers, loop_and_math)
{
    EXPECT("012 234 01", "{{range loop 3}}{{.}}{{end}} {{range loop 2 5}}{{.}}{{end}} {{range loop "
                         "\"2\"}}{{.}}{{end}}");
    EXPECT("3 3.5 3 12 5 1 3 10",
           "{{add 1 2}} {{add 1.5 2}} {{subtract 2 5}} {{multiply 3 4}} {{divide 2 10}} "
           "{{modulo 3 10}} {{minimum 3 10}} {{maximum 3 10}}");
    EXPECT("7", "{{10 | subtract 3}}");
    ASSERT(strstr(ERR("{{divide 0 1}}"),
                  "error calling divide: runtime error: integer divide by zero"));
}

TEST(helpers, base64)
{
    EXPECT("aGVsbG8= hello -_8= \xfb\xff",
           "{{base64Encode \"hello\"}} {{base64Decode \"aGVsbG8=\"}} "
           "{{base64URLEncode \"\\xfb\\xff\"}} {{base64URLDecode \"-_8=\"}}");
}

TEST(helpers, scratch)
{
    EXPECT(
        "1true1[1 2]false<no value>",
        "{{scratch.Set \"a\" 1}}{{scratch.Get \"a\"}}{{scratch.Key \"a\"}}{{scratch.SetX \"a\" 2}}"
        "{{scratch.Get \"a\"}}{{scratch.MapSet \"m\" \"b\" 2}}{{scratch.MapSet \"m\" \"a\" 1}}"
        "{{scratch.MapValues \"m\"}}{{scratch.Key \"z\"}}{{scratch.Get \"z\"}}");
    EXPECT("x", "{{scratch.MapSetX \"m\" \"k\" \"x\"}}{{scratch.MapSetX \"m\" \"k\" \"y\"}}{{index "
                "(scratch.Get \"m\") \"k\"}}");
}
