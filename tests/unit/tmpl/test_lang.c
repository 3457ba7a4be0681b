/* test_lang.c - Go text/template syntax and semantics: text and trim
 * markers, literals, pipelines, variables, control structures, builtins,
 * printing. Expected strings are what Go 1.19's text/template prints. */
#include <string.h>

#include "helpers.h"
#include "test.h"

static struct fake F;

static const char *R(const char *src)
{
    fake_haproxy(&F);
    return render(&F, src);
}

#define EXPECT(out, src) ASSERT_STR_EQ(out, R(src))

TEST(text, copied_verbatim)
{
    EXPECT("", "");
    EXPECT("plain\r\n\ttext  \n", "plain\r\n\ttext  \n");
    EXPECT("a}}b{c", "a}}b{c");
}

TEST(text, comments)
{
    EXPECT("ab", "a{{/* a comment */}}b");
    EXPECT("ab", "a  \n{{- /* trimmed */ -}}\n  b");
    EXPECT("a\nb", "a\n{{/* multi\nline */}}b");
}

TEST(text, trim_markers)
{
    EXPECT("a1b", "a  \n\t{{- 1 -}} \r\n b");
    EXPECT("a 1b", "a {{1 -}}   b");
    EXPECT("a1 b", "a   {{- 1}} b");
    /* the dash needs a space on its inner side */
    EXPECT("a -3 b", "a {{-3}} b");
    EXPECT("a-3b", "a {{- -3 -}} b");
    /* trim stops at non-space */
    EXPECT("x\n.1", "x\n.  {{- 1}}");
    /* newlines inside actions are allowed */
    EXPECT("3", "{{ len\n  \"abc\" }}");
}

TEST(literals, numbers)
{
    EXPECT("42 -3 16 8 5 1000 97", "{{42}} {{-3}} {{0x10}} {{0o10}} {{0b101}} {{1_000}} {{'a'}}");
    EXPECT("1 0.5 3.25 1e+06 1e+21 1.23456789e+08 123456",
           "{{1.0}} {{.5}} {{3.25}} {{1e6}} {{1e21}} {{123456789.0}} {{123456.0}}");
    EXPECT("1e-05 0.0001", "{{0.00001}} {{0.0001}}");
    EXPECT("8", "{{010}}");
}

TEST(literals, strings_and_bools)
{
    EXPECT("a\tb\xc3\xa9\"", "{{\"a\\tb\\u00e9\\\"\"}}");
    EXPECT("raw \\n\nline", "{{`raw \\n\nline`}}");
    EXPECT("A", "{{\"\\x41\"}}");
    EXPECT("true false", "{{true}} {{false}}");
}

TEST(print, values)
{
    EXPECT("<no value>", "{{.}}");
    EXPECT("<no value>", "{{.Foo}}");
    EXPECT("<no value>", "{{$}}");
    EXPECT("<nil>", "{{print nil}}");
    EXPECT("[a b c]", "{{split \",\" \"a,b,c\"}}");
    EXPECT("map[a:1 b:x]", "{{parseJSON `{\"b\":\"x\",\"a\":1}`}}");
    EXPECT("[]", "{{split \",\" \"\"}}");
}

TEST(vars, declare_assign_scope)
{
    EXPECT("12", "{{$x := 1}}{{$x}}{{$x = 2}}{{$x}}");
    EXPECT("2", "{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}");
    EXPECT("1", "{{$x := 1}}{{if true}}{{$x := 2}}{{end}}{{$x}}");
    EXPECT("ab", "{{$a := \"a\"}}{{with $b := \"b\"}}{{$a}}{{$b}}{{end}}");
}

TEST(control, if_else_if)
{
    EXPECT("b", "{{if eq 1 2}}a{{else if eq 1 1}}b{{else}}c{{end}}");
    EXPECT("c", "{{if false}}a{{else if false}}b{{else}}c{{end}}");
    EXPECT("yes", "{{if \"x\"}}yes{{end}}");
    EXPECT(
        "",
        "{{if 0}}no{{end}}{{if \"\"}}no{{end}}{{if .}}no{{end}}{{if (split \",\" \"\")}}no{{end}}");
}

TEST(control, with)
{
    EXPECT("y", "{{with \"\"}}x{{else}}y{{end}}");
    EXPECT("a", "{{with \"a\"}}{{.}}{{end}}");
    EXPECT("node-c", "{{with service \"release.web\"}}{{(index . 0).Node}}{{end}}");
}

TEST(control, range)
{
    EXPECT("0=a;1=b;", "{{range $i, $e := split \",\" \"a,b\"}}{{$i}}={{$e}};{{end}}");
    EXPECT("a2b1", "{{range $k, $v := parseJSON `{\"b\":1,\"a\":2}`}}{{$k}}{{$v}}{{end}}");
    EXPECT("empty", "{{range ls \"nope/\"}}x{{else}}empty{{end}}");
    EXPECT("ab", "{{range split \",\" \"a,b\"}}{{.}}{{end}}");
    EXPECT("x", "{{range $v := split \",\" \"x\"}}{{$v}}{{end}}");
    EXPECT("012", "{{range loop 5}}{{if eq . 3}}{{break}}{{end}}{{.}}{{end}}");
    EXPECT("0124", "{{range loop 5}}{{if eq . 3}}{{continue}}{{end}}{{.}}{{end}}");
    EXPECT("", "{{range .}}x{{end}}");
}

TEST(templates, define_template_block)
{
    EXPECT("A1", "{{define \"a\"}}A{{.}}{{end}}{{template \"a\" 1}}");
    EXPECT("B2", "{{block \"b\" 2}}B{{.}}{{end}}");
    EXPECT("[<no value>]", "{{define \"x\"}}[{{.}}]{{end}}{{template \"x\"}}");
    EXPECT("[5]", "{{define \"x\"}}[{{.}}]{{end}}{{executeTemplate \"x\" 5}}");
    /* a define may use functions and nest templates */
    EXPECT("<4096>",
           "{{define \"k\"}}<{{key .}}>{{end}}{{template \"k\" \"service/haproxy/maxconn\"}}");
}

TEST(pipes, pipelines)
{
    EXPECT("abc!", "{{\"abc\" | printf \"%s!\"}}");
    EXPECT("a-b", "{{\"a,b\" | split \",\" | join \"-\"}}");
    EXPECT("2", "{{len (split \",\" \"a,b\")}}");
    EXPECT("node-c", "{{with service \"release.web\"}}{{(index . 0).Node}}{{end}}");
    EXPECT("3", "{{5 | subtract 2}}");
}

TEST(builtins, and_or_not)
{
    EXPECT("dflt", "{{or (env \"UNSET\") \"dflt\"}}");
    EXPECT("0 2 1", "{{and 1 0 2}} {{and 1 2}} {{or 0 1 2}}");
    EXPECT("", "{{or 0 \"\"}}");
    EXPECT("true false", "{{not \"\"}} {{not 1}}");
    /* short circuit: the failing call is never made */
    EXPECT("1", "{{or 1 (index \"x\" 5)}}");
}

TEST(builtins, len_index_slice)
{
    EXPECT("6 3 2", "{{len \"h\xc3\xa9llo\"}} {{len (split \",\" \"a,b,c\")}} {{len (parseJSON "
                    "`{\"a\":1,\"b\":2}`)}}");
    EXPECT("b", "{{index (split \",\" \"a,b,c\") 1}}");
    EXPECT("<no value>", "{{index (parseJSON `{}`) \"x\"}}");
    EXPECT("99", "{{index \"abc\" 2}}");
    EXPECT("3", "{{index (parseJSON `{\"a\":{\"b\":3}}`) \"a\" \"b\"}}");
    EXPECT("bc [b c]", "{{slice \"abcdef\" 1 3}} {{slice (split \",\" \"a,b,c\") 1}}");
}

TEST(builtins, comparisons)
{
    EXPECT("true true false", "{{eq 2 1 2 3}} {{eq \"a\" \"a\"}} {{eq true false}}");
    EXPECT("true", "{{eq (parseUint \"5\") 5}}");
    EXPECT("true true false", "{{lt 1 2}} {{lt \"a\" \"b\"}} {{lt 2 1}}");
    EXPECT("true true true true", "{{le 2 2}} {{gt 3 2}} {{ge 3 3}} {{ne 1 2}}");
    EXPECT("true", "{{lt -1 (parseUint \"0\")}}");
    EXPECT("false", "{{eq .Missing \"x\"}}");
}

TEST(builtins, print_printf_println)
{
    EXPECT("1 2ab3", "{{print 1 2 \"a\" \"b\" 3}}");
    EXPECT("1 a\n", "{{println 1 \"a\"}}");
    EXPECT("5-a-true-\"q\"- 3.14|ab  |0042|ff|FF|101|17",
           "{{printf \"%d-%s-%v-%q-%5.2f|%-4s|%04d|%x|%X|%b|%o\" 5 \"a\" true \"q\" 3.14159 \"ab\" "
           "42 255 255 5 15}}");
    EXPECT("%!d(string=x) %!s(int=5) %!d(MISSING) 100%", "{{printf \"%d %s %d 100%%\" \"x\" 5}}");
    EXPECT("a%!(EXTRA int=1)", "{{printf \"a\" 1}}");
    EXPECT("[a b] map[k:v] 'x' 3.5 +7 0x1f 61",
           "{{printf \"%v %v %q %g %+d %#x %x\" (split \",\" \"a,b\") (parseJSON `{\"k\":\"v\"}`) "
           "120 3.5 7 31 \"a\"}}");
    EXPECT("  abc|abc  |   42|1.500000e+00|1.5",
           "{{printf \"%5s|%-5s|%5d|%e|%g\" \"abc\" \"abc\" 42 1.5 1.5}}");
    EXPECT("string int float64 bool []string",
           "{{printf \"%T %T %T %T %T\" \"a\" 1 1.5 true (split \",\" \"a\")}}");
}

TEST(builtins, html_js_urlquery)
{
    EXPECT("&lt;a href=&#34;x&#34;&gt;&amp;&#39;", "{{html `<a href=\"x\">&'`}}");
    EXPECT("\\u003Cb\\u003E \\'x\\' \\\"y\\\" \\u0026 \\u003D", "{{js `<b> 'x' \"y\" & =`}}");
    EXPECT("a+b%26c%3Dd%2F", "{{urlquery \"a b&c=d/\"}}");
}

TEST(delims, custom)
{
    fake_haproxy(&F);
    struct tmpl_parse_opts o = {"[[", "]]"};
    struct tmpl_error err;
    const char *src = "[[ key \"service/haproxy/maxconn\" ]] {{x}} [[- \" y\" -]] z";
    struct tmpl *t = tmpl_parse(src, strlen(src), &o, &err);
    ASSERT(t);
    struct tmpl_store *s = tmpl_store_new();
    struct tmpl_used u;
    tmpl_used_init(&u);
    struct tmpl_env env = {0};
    struct cn_buf out, body;
    cn_buf_init(&out, CN_BUF_UNLIMITED);
    for (int pass = 0; pass < 2; pass++) {
        cn_buf_reset(&out);
        ASSERT_OK(tmpl_execute(t, s, &env, &u, &out, &err));
        for (struct tmpl_dep *d = tmpl_store_next(s, NULL); d; d = tmpl_store_next(s, d)) {
            cn_buf_init(&body, CN_BUF_UNLIMITED);
            int st = fake_answer(&F, tmpl_dep_path(d), tmpl_dep_query(d), &body);
            struct cn_err e;
            tmpl_dep_update(s, d, st, body.data, body.len, &e);
            cn_buf_release(&body);
        }
    }
    ASSERT_STR_EQ("4096 {{x}} yz", out.data);
    cn_buf_release(&out);
    tmpl_used_release(&u);
    tmpl_store_free(s);
    tmpl_free(t);
}

TEST(fields, structs_and_maps)
{
    /* map[string]string: a missing key is "" */
    EXPECT("[]", "{{range service \"web\" \"any\"}}{{if eq .ID "
                 "\"web-1\"}}[{{.ServiceMeta.missing}}]{{end}}{{end}}");
    EXPECT("a", "{{range service \"web\" \"any\"}}{{if eq .ID "
                "\"web-2\"}}{{.ServiceMeta.zone}}{{end}}{{end}}");
    /* map[string]interface{} (parseJSON): a missing key is <no value> */
    EXPECT("<no value>", "{{(parseJSON `{}`).x}}");
    EXPECT("2", "{{(parseJSON `{\"a\":{\"b\":2}}`).a.b}}");
    EXPECT("{1 1}", "{{range service \"release.web\"}}{{.Weights}}{{end}}");
    EXPECT("passing critical ", "{{range service \"web\" \"any\"}}{{if eq .ID \"web-2\"}}"
                                "{{range .Checks}}{{.Status}} {{end}}{{end}}{{end}}");
}
