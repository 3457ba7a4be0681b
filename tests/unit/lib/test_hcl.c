/* test_hcl.c - the HCL v1 reader: syntax, the JSON mapping, errors. */
#include <stdlib.h>
#include <string.h>

#include "lib/cn_hcl.h"
#include "test.h"

/* Parse and dump compactly with sorted keys. */
static const char *H(const char *src)
{
    static char out[4096];
    struct cn_err err;
    json_t *j = cn_hcl_parse(src, strlen(src), &err);
    if (!j) FAIL("parse failed: %s\n%s", err.msg, src);
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    snprintf(out, sizeof out, "%s", s);
    free(s);
    json_decref(j);
    return out;
}

static const char *HERR(const char *src)
{
    static struct cn_err err;
    json_t *j = cn_hcl_parse(src, strlen(src), &err);
    if (j) FAIL("parse must fail:\n%s", src);
    return err.msg;
}

TEST(hcl, assignments_and_types)
{
    ASSERT_STR_EQ("{}", H(""));
    ASSERT_STR_EQ("{\"a\":\"x\",\"b\":3,\"c\":true,\"d\":false,\"e\":1.5,\"f\":-2}",
                  H("a = \"x\"\nb = 3\nc = true\nd = false\ne = 1.5\nf = -2\n"));
    ASSERT_STR_EQ("{\"a\":1,\"b\":2}", H("a = 1 b = 2"));
    ASSERT_STR_EQ("{\"a\":1,\"b\":2}", H("a = 1, b = 2"));
}

TEST(hcl, numbers_octal_like_hcl1)
{
    ASSERT_STR_EQ("{\"hex\":255,\"perms\":416}", H("perms = 0640\nhex = 0xff"));
    ASSERT_STR_EQ("{\"x\":100000.0}", H("x = 1e5"));
}

TEST(hcl, strings_and_escapes)
{
    ASSERT_STR_EQ("{\"a\":\"tab\\there \\\"q\\\" \xc3\xa9 ${var.x} ${\\\"in\\\"}\"}",
                  H("a = \"tab\\there \\\"q\\\" \\u00e9 ${var.x} ${\"in\"}\""));
    ASSERT_STR_EQ("{\"quoted key\":1}", H("\"quoted key\" = 1"));
    ASSERT_STR_EQ("{\"a.b-c:d\":1}", H("a.b-c:d = 1"));
}

TEST(hcl, heredocs)
{
    ASSERT_STR_EQ("{\"c\":\"line 1\\n  line 2\\n\"}", H("c = <<EOF\nline 1\n  line 2\nEOF\n"));
    ASSERT_STR_EQ("{\"c\":\"a\\n  b\\n\",\"d\":1}",
                  H("c = <<-EOT\n    a\n      b\n    EOT\nd = 1\n"));
    ASSERT_STR_EQ("{\"c\":\"\"}", H("c = <<EOF\nEOF"));
}

TEST(hcl, comments)
{
    ASSERT_STR_EQ("{\"a\":1,\"b\":2,\"c\":3}",
                  H("# one\na = 1 // two\n/* three\n */ b = 2 /* x */ c = 3\n"));
}

TEST(hcl, lists)
{
    ASSERT_STR_EQ("{\"l\":[1,\"a\",[true],{\"k\":\"v\"}]}",
                  H("l = [1, \"a\", [true], {k = \"v\"},]"));
    ASSERT_STR_EQ("{\"l\":[]}", H("l = [\n]\n"));
    ASSERT_STR_EQ("{\"l\":[\"x\",\"y\"]}", H("l = [\n  \"x\",\n  \"y\"\n]"));
}

TEST(hcl, blocks_labels_and_repeats)
{
    ASSERT_STR_EQ("{\"consul\":{\"address\":\"127.0.0.1:8500\",\"retry\":{\"attempts\":3}}}",
                  H("consul {\n  address = \"127.0.0.1:8500\"\n  retry { attempts = 3 }\n}"));
    ASSERT_STR_EQ("{\"wait\":{\"max\":\"10s\",\"min\":\"5s\"}}",
                  H("wait { min = \"5s\" max = \"10s\" }"));
    ASSERT_STR_EQ("{\"wait\":{\"min\":\"5s\"}}", H("wait = { min = \"5s\" }"));
    ASSERT_STR_EQ("{\"template\":[{\"source\":\"a\"},{\"source\":\"b\"},{\"source\":\"c\"}]}",
                  H("template { source = \"a\" }\ntemplate { source = \"b\" }\ntemplate {\n source "
                    "= \"c\"\n}"));
    ASSERT_STR_EQ("{\"key\":{\"foo/\":{\"policy\":\"read\"}}}",
                  H("key \"foo/\" { policy = \"read\" }"));
    ASSERT_STR_EQ("{\"key\":[{\"a\":{\"policy\":\"read\"}},{\"b\":{\"policy\":\"write\"}}]}",
                  H("key \"a\" {\n policy = \"read\"\n}\nkey \"b\" {\n policy = \"write\"\n}"));
    ASSERT_STR_EQ("{\"service\":{\"web\":{\"x\":{\"p\":1}}}}", H("service web \"x\" { p = 1 }"));
}

TEST(hcl, json_input)
{
    ASSERT_STR_EQ("{\"template\":[{\"source\":\"a\"}]}",
                  H("  {\"template\": [{\"source\": \"a\"}]}"));
    ASSERT(strlen(HERR("{\"a\": }")) > 0);
    ASSERT(strstr(HERR("[1]"), "expected"));
}

TEST(hcl, errors_name_line_and_column)
{
    ASSERT_STR_EQ("2:5: expected: ASSIGN | LBRACE got: NUMBER", HERR("a = 1\nb c 3"));
    ASSERT_STR_EQ("1:5: literal not terminated", HERR("a = \"abc\nb = 1"));
    ASSERT_STR_EQ("1:1: expected: IDENT | STRING got: ASSIGN", HERR("= 1"));
    ASSERT_STR_EQ("2:1: expected: RBRACE got: EOF", HERR("a {\n"));
    ASSERT_STR_EQ("1:5: heredoc not terminated", HERR("a = <<EOF\nabc\n"));
    ASSERT_STR_EQ("1:3: illegal char '@'", HERR("a @ 1"));
    ASSERT_STR_EQ("1:6: illegal char escape", HERR("a = \"\\q\""));
    ASSERT_STR_EQ("1:1: nested object expected: LBRACE got: ASSIGN", HERR("a \"b\" = 1"));
    ASSERT_STR_EQ("1:5: expected: value got: RBRACK", HERR("a = ]"));
    ASSERT(strstr(HERR("/* open"), "comment not terminated"));
}

TEST(hcl, depth_limit)
{
    char buf[1024];
    size_t n = 0;
    n += (size_t)snprintf(buf + n, sizeof buf - n, "a = ");
    for (int i = 0; i < 100; i++)
        buf[n++] = '[';
    buf[n] = '\0';
    ASSERT(strstr(HERR(buf), "nesting too deep"));
}

static int count_cb(json_t *item, void *ctx)
{
    (void)item;
    (*(int *)ctx)++;
    return 0;
}

TEST(hcl, each_one_or_many)
{
    struct cn_err err;
    const char *src = "template { a = 1 }\nconsul { b = 2 }\ntemplate { a = 2 }";
    json_t *j = cn_hcl_parse(src, strlen(src), &err);
    ASSERT(j);
    int n = 0;
    cn_hcl_each(json_object_get(j, "template"), count_cb, &n);
    ASSERT_EQ(2, n);
    n = 0;
    cn_hcl_each(json_object_get(j, "consul"), count_cb, &n);
    ASSERT_EQ(1, n);
    json_decref(j);
}
