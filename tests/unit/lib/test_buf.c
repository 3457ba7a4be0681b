#include "lib/cn_buf.h"
#include "lib/cn_err.h"
#include "test.h"

TEST(buf, append_keeps_nul_and_len)
{
    struct cn_buf b;
    cn_buf_init(&b, 100);
    ASSERT_OK(cn_buf_append(&b, "abc", 3));
    ASSERT_OK(cn_buf_printf(&b, "-%d-", 42));
    ASSERT_EQ(7, b.len);
    ASSERT_STR_EQ("abc-42-", b.data);
    cn_buf_release(&b);
}

TEST(buf, cap_is_hard_and_leaves_buffer_unchanged)
{
    struct cn_buf b;
    cn_buf_init(&b, 8);
    ASSERT_OK(cn_buf_append(&b, "12345678", 8));
    ASSERT_EQ(CN_ETOOBIG, cn_buf_append(&b, "9", 1));
    ASSERT_EQ(8, b.len);
    ASSERT_STR_EQ("12345678", b.data);
    cn_buf_reset(&b);
    ASSERT_EQ(CN_ETOOBIG, cn_buf_printf(&b, "%s", "far too long for eight"));
    ASSERT_EQ(0, b.len);
    cn_buf_release(&b);
}

TEST(buf, consume_and_take)
{
    struct cn_buf b;
    size_t n;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_buf_puts(&b, "hello world");
    cn_buf_consume(&b, 6);
    ASSERT_STR_EQ("world", b.data);
    char *p = cn_buf_take(&b, &n);
    ASSERT_EQ(5, n);
    ASSERT_STR_EQ("world", p);
    ASSERT_EQ(0, b.len);
    free(p);
}

TEST(buf, large_printf_grows)
{
    struct cn_buf b;
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_buf_putf(&b, "[%s]", big);
    ASSERT_EQ(1001, b.len);
    ASSERT_EQ('x', b.data[500]);
    ASSERT_EQ(']', b.data[1000]);
    cn_buf_release(&b);
}
