#include "lib/cn_err.h"
#include "lib/cn_str.h"
#include "test.h"

TEST(str, parse_u64_strict)
{
    uint64_t v;
    ASSERT_OK(cn_parse_u64(CN_STR("18446744073709551615"), &v));
    ASSERT(v == UINT64_MAX);
    ASSERT_EQ(CN_EINVAL, cn_parse_u64(CN_STR("18446744073709551616"), &v));
    ASSERT_EQ(CN_EINVAL, cn_parse_u64(CN_STR("12a"), &v));
    ASSERT_EQ(CN_EINVAL, cn_parse_u64(CN_STR(""), &v));
    ASSERT_EQ(CN_EINVAL, cn_parse_u64(CN_STR("-1"), &v));
    ASSERT_OK(cn_parse_u64(CN_STR("0"), &v));
    ASSERT_U64_EQ(0, v);
}

TEST(str, parse_i64_and_bool)
{
    int64_t v;
    bool b;
    ASSERT_OK(cn_parse_i64(CN_STR("-9223372036854775808"), &v));
    ASSERT(v == INT64_MIN);
    ASSERT_EQ(CN_EINVAL, cn_parse_i64(CN_STR("9223372036854775808"), &v));
    ASSERT_OK(cn_parse_bool(CN_STR("True"), &b));
    ASSERT(b);
    ASSERT_OK(cn_parse_bool(CN_STR("0"), &b));
    ASSERT(!b);
    ASSERT_EQ(CN_EINVAL, cn_parse_bool(CN_STR("yes"), &b));
}

TEST(str, url_decode)
{
    char out[64];
    long n = cn_url_decode(CN_STR("a%2Fb+c%20d"), out, true);
    ASSERT_EQ(7, n);
    ASSERT_MEM_EQ("a/b c d", out, 7);
    n = cn_url_decode(CN_STR("a+b"), out, false);
    ASSERT_MEM_EQ("a+b", out, 3);
    ASSERT_EQ(CN_EINVAL, cn_url_decode(CN_STR("bad%2"), out, false));
    ASSERT_EQ(CN_EINVAL, cn_url_decode(CN_STR("bad%zz"), out, false));
    ASSERT_EQ(CN_EINVAL, cn_url_decode(CN_STR("%"), out, false));
}

TEST(str, cut_and_compare)
{
    struct cn_str s = CN_STR("a/b/c"), head;
    ASSERT(cn_str_cut(&s, '/', &head));
    ASSERT(cn_str_eq_cstr(head, "a"));
    ASSERT(cn_str_eq_cstr(s, "b/c"));
    ASSERT(!cn_str_cut(&s, ':', &head));
    ASSERT(cn_str_eq_cstr(head, "b/c"));
    ASSERT_EQ(0, s.len);
    ASSERT(cn_str_cmp(CN_STR("a"), CN_STR("ab")) < 0);
    ASSERT(cn_str_cmp(CN_STR("b"), CN_STR("ab")) > 0);
    ASSERT(cn_str_case_eq_cstr(CN_STR("ServiceID"), "serviceid"));
    ASSERT(cn_str_has_prefix(CN_STR("foo/bar"), CN_STR("foo/")));
}
