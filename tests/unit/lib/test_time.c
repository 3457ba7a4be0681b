#include "lib/cn_err.h"
#include "lib/cn_time.h"
#include "test.h"

static int64_t dur(const char *s)
{
    int64_t ns = -12345;
    if (cn_dur_parse(cn_str_from(s), &ns)) return -12345;
    return ns;
}

TEST(time, parse_go_durations)
{
    ASSERT(dur("10s") == 10 * CN_NS_PER_S);
    ASSERT(dur("9.994s") == 9994 * CN_NS_PER_MS);
    ASSERT(dur("0.001s") == CN_NS_PER_MS);
    ASSERT(dur("15.0s") == 15 * CN_NS_PER_S);
    ASSERT(dur("120000ms") == 120 * CN_NS_PER_S);
    ASSERT(dur("1h30m") == 90 * 60 * CN_NS_PER_S);
    ASSERT(dur("1.5h") == 90 * 60 * CN_NS_PER_S);
    ASSERT(dur("300us") == 300 * CN_NS_PER_US);
    ASSERT(dur("300\xc2\xb5s") == 300 * CN_NS_PER_US);
    ASSERT(dur("0") == 0);
    ASSERT(dur("-5s") == -5 * CN_NS_PER_S);
    ASSERT(dur("") == -12345);
    ASSERT(dur("10") == -12345);
    ASSERT(dur("s") == -12345);
    ASSERT(dur("10x") == -12345);
    ASSERT(dur(".s") == -12345);
    ASSERT(dur("9999999999h") == -12345);
}

TEST(time, format_like_go)
{
    char b[CN_DUR_STR_MAX];
    ASSERT_STR_EQ("0s", cn_dur_format(0, b, sizeof b));
    ASSERT_STR_EQ("10s", cn_dur_format(10 * CN_NS_PER_S, b, sizeof b));
    ASSERT_STR_EQ("1m30s", cn_dur_format(90 * CN_NS_PER_S, b, sizeof b));
    ASSERT_STR_EQ("1h0m0s", cn_dur_format(3600 * CN_NS_PER_S, b, sizeof b));
    ASSERT_STR_EQ("1.5s", cn_dur_format(1500 * CN_NS_PER_MS, b, sizeof b));
    ASSERT_STR_EQ("300ms", cn_dur_format(300 * CN_NS_PER_MS, b, sizeof b));
    ASSERT_STR_EQ("1\xc2\xb5s", cn_dur_format(1000, b, sizeof b));
    ASSERT_STR_EQ("15ns", cn_dur_format(15, b, sizeof b));
    ASSERT_STR_EQ("-2s", cn_dur_format(-2 * CN_NS_PER_S, b, sizeof b));
    ASSERT_STR_EQ("72h0m0s", cn_dur_format(72 * 3600 * CN_NS_PER_S, b, sizeof b));
}
