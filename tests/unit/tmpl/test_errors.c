/* test_errors.c - parse and execution errors: Go's texts, with the line
 * (and for execution the column) Go reports, plus our line/col fields. */
#include <string.h>

#include "helpers.h"
#include "test.h"

static struct fake F;

static const struct tmpl_error *PE(const char *src)
{
    static struct tmpl_error err;
    struct tmpl *t = tmpl_parse(src, strlen(src), NULL, &err);
    if (t) FAIL("template %s parsed but must not", src);
    return &err;
}

static const struct tmpl_error *EE(const char *src)
{
    static struct tmpl_error err;
    fake_haproxy(&F);
    render_err(&F, src, &err);
    return &err;
}

#define PARSE_ERR(M, L, C, src)                                                                    \
    do {                                                                                           \
        const struct tmpl_error *pe_ = PE(src);                                                    \
        ASSERT_STR_EQ(M, pe_->msg);                                                                \
        ASSERT_EQ(L, pe_->line);                                                                   \
        if (C) ASSERT_EQ(C, pe_->col);                                                             \
    } while (0)

#define EXEC_ERR(M, L, C, src)                                                                     \
    do {                                                                                           \
        const struct tmpl_error *ee_ = EE(src);                                                    \
        ASSERT_STR_EQ(M, ee_->msg);                                                                \
        ASSERT_EQ(L, ee_->line);                                                                   \
        ASSERT_EQ(C, ee_->col);                                                                    \
    } while (0)

TEST(parse_errors, functions_and_operands)
{
    PARSE_ERR("template: :1: function \"foo\" not defined", 1, 3, "{{foo}}");
    PARSE_ERR("template: :3: function \"secret\" not defined", 3, 0, "a\nb\n  {{secret \"x\"}}");
    PARSE_ERR("template: :2: unexpected \"}\" in operand", 2, 0, "a\nb{{key \"x\"}");
    PARSE_ERR("template: :1: function \"plugin\" not defined", 1, 0, "{{plugin \"x\"}}");
}

TEST(parse_errors, structure)
{
    PARSE_ERR("template: :1: unexpected EOF", 1, 0, "{{if true}}");
    PARSE_ERR("template: :1: unexpected {{end}}", 1, 0, "{{end}}");
    PARSE_ERR("template: :1: unexpected {{else}}", 1, 0, "x{{else}}");
    PARSE_ERR("template: :1: missing value for if", 1, 0, "{{if}}{{end}}");
    PARSE_ERR("template: :1: missing value for command", 1, 0, "{{}}");
    PARSE_ERR("template: :1: undefined variable \"$x\"", 1, 0, "{{$x}}");
    PARSE_ERR("template: :1: undefined variable \"$y\"", 1, 0,
              "{{if true}}{{$y := 1}}{{end}}{{$y}}");
    PARSE_ERR("template: :1: {{break}} outside {{range}}", 1, 0, "{{break}}");
    PARSE_ERR("template: :1: non executable command in pipeline stage 2", 1, 0, "{{\"x\" | 1}}");
    PARSE_ERR("template: :1: unexpected . after term \"\\\"a\\\"\"", 1, 0, "{{\"a\".x}}");
    PARSE_ERR("template: :1: bad number syntax: \"3.x\"", 1, 0, "{{3.x}}");
    PARSE_ERR("template: :1: template: multiple definition of template \"a\"", 1, 0,
              "{{define \"a\"}}1{{end}}{{define \"a\"}}2{{end}}");
    PARSE_ERR("template: :1: expected end; found {{else}}", 1, 0,
              "{{range .}}{{else}}{{else}}{{end}}");
    PARSE_ERR("template: :1: too many declarations in if", 1, 0, "{{if $a, $b := 1}}{{end}}");
}

TEST(parse_errors, lexer)
{
    PARSE_ERR("template: :1: unclosed action", 1, 0, "{{key");
    PARSE_ERR("template: :2: unterminated quoted string", 2, 0, "\n{{\"abc}}");
    PARSE_ERR("template: :1: unterminated raw quoted string", 1, 0, "{{`abc}}");
    PARSE_ERR("template: :1: unclosed comment", 1, 0, "{{/* x }}");
    PARSE_ERR("template: :1: comment ends before closing delimiter", 1, 0, "{{/* x */ y}}");
    PARSE_ERR("template: :1: bad number syntax: \"3x\"", 1, 0, "{{3x}}");
    PARSE_ERR("template: :1: unclosed left paren", 1, 0, "{{(len \"x\"}}");
    PARSE_ERR("template: :1: unexpected \")\" in command", 1, 0, "{{len \"x\")}}");
    PARSE_ERR("template: :1: integer overflow: \"99999999999999999999\"", 1, 0,
              "{{99999999999999999999}}");
    PARSE_ERR("template: :2: unclosed action started at :1", 2, 0, "{{if\n");
}

TEST(exec_errors, positions_and_messages)
{
    EXEC_ERR("template: :2:4: executing \"\" at <service \"a b\">: error calling service: "
             "health.service: invalid format: \"a b\"",
             2, 5, "x\n  {{service \"a b\"}}");
    EXEC_ERR("template: :1:2: executing \"\" at <eq 1 \"a\">: error calling eq: incompatible types "
             "for comparison",
             1, 3, "{{eq 1 \"a\"}}");
    EXEC_ERR(
        "template: :1:11: executing \"\" at <{{template \"nope\"}}>: template \"nope\" not defined",
        1, 12, "{{template \"nope\"}}");
    EXEC_ERR("template: :1:2: executing \"\" at <nil>: nil is not a command", 1, 3, "{{nil}}");
    EXEC_ERR(
        "template: :1:2: executing \"\" at <parseInt \"x\">: error calling parseInt: parseInt: "
        "strconv.ParseInt: parsing \"x\": invalid syntax",
        1, 3, "{{parseInt \"x\"}}");
    EXEC_ERR("template: :1:14: executing \"\" at <.Node>: can't evaluate field Node in type string",
             1, 15, "{{with \"x\"}}{{.Node}}{{end}}");
}

TEST(exec_errors, inside_define_names_the_template)
{
    const struct tmpl_error *e = EE("{{define \"t\"}}\n{{len 3}}{{end}}{{template \"t\"}}");
    ASSERT_STR_EQ("template: t:2:2: executing \"t\" at <len 3>: error calling len: len of type int",
                  e->msg);
}

TEST(exec_errors, arguments)
{
    ASSERT(strstr(EE("{{key 3}}")->msg, "expected string; found 3"));
    ASSERT(strstr(EE("{{key}}")->msg, "wrong number of args for key: want 1 got 0"));
    ASSERT(strstr(EE("{{toLower .Missing}}")->msg, "invalid value; expected string"));
    ASSERT(strstr(EE("{{toLower (split \",\" \"a\")}}")->msg,
                  "wrong type for value; expected string; got []string"));
    ASSERT(strstr(EE("{{$x := 1}}{{$x 2}}")->msg, "can't give argument to non-function $x"));
}

TEST(exec_errors, missing_key_mode)
{
    struct tmpl_error err;
    const char *src = "{{(parseJSON `{}`).x}}";
    struct tmpl *t = tmpl_parse(src, strlen(src), NULL, &err);
    ASSERT(t);
    struct tmpl_store *s = tmpl_store_new();
    struct tmpl_used u;
    tmpl_used_init(&u);
    struct tmpl_env env = {.missing_key_error = true};
    struct cn_buf out;
    cn_buf_init(&out, CN_BUF_UNLIMITED);
    ASSERT_EQ(CN_EINVAL, tmpl_execute(t, s, &env, &u, &out, &err));
    ASSERT(strstr(err.msg, "map has no entry for key \"x\""));
    cn_buf_release(&out);
    tmpl_used_release(&u);
    tmpl_store_free(s);
    tmpl_free(t);
}

TEST(exec_errors, limits)
{
    ASSERT(strstr(EE("{{range loop 100000000}}{{end}}")->msg, "range too large") ||
           strstr(EE("{{range loop 100000000}}{{end}}")->msg, "too long"));
    ASSERT(strstr(EE("{{define \"r\"}}{{template \"r\"}}{{end}}{{template \"r\"}}")->msg,
                  "exceeded maximum template depth"));
}
