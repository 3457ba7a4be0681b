#include "lib/cn_codec.h"
#include "lib/cn_err.h"
#include "lib/cn_rand.h"
#include "test.h"

TEST(codec, round_trip)
{
    struct cn_buf b;
    struct cn_dec d;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_enc_u8(&b, 7);
    cn_enc_u32(&b, 0xdeadbeef);
    cn_enc_u64(&b, UINT64_MAX);
    cn_enc_uvar(&b, 300);
    cn_enc_uvar(&b, UINT64_MAX);
    cn_enc_svar(&b, -5);
    cn_enc_cstr(&b, "key/x");
    cn_enc_bool(&b, true);
    cn_enc_double(&b, 1.5);
    cn_dec_init(&d, b.data, b.len);
    ASSERT_EQ(7, cn_dec_u8(&d));
    ASSERT(cn_dec_u32(&d) == 0xdeadbeef);
    ASSERT(cn_dec_u64(&d) == UINT64_MAX);
    ASSERT_U64_EQ(300, cn_dec_uvar(&d));
    ASSERT(cn_dec_uvar(&d) == UINT64_MAX);
    ASSERT_EQ(-5, cn_dec_svar(&d));
    struct cn_str s = cn_dec_bytes(&d, 100);
    ASSERT(cn_str_eq_cstr(s, "key/x"));
    ASSERT(cn_dec_bool(&d));
    ASSERT(cn_dec_double(&d) == 1.5);
    ASSERT_OK(cn_dec_status(&d));
    ASSERT_EQ(0, cn_dec_left(&d));
    cn_buf_release(&b);
}

TEST(codec, short_input_fails_and_sticks)
{
    struct cn_buf b;
    struct cn_dec d;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_enc_cstr(&b, "hello");
    cn_dec_init(&d, b.data, b.len - 1);
    struct cn_str s = cn_dec_bytes(&d, 100);
    ASSERT(s.p == NULL);
    ASSERT_EQ(CN_ECORRUPT, cn_dec_status(&d));
    ASSERT_EQ(0, cn_dec_u32(&d));
    ASSERT_EQ(CN_ECORRUPT, cn_dec_status(&d));
    /* a length over the field limit is corrupt, not an allocation */
    cn_dec_init(&d, b.data, b.len);
    cn_dec_bytes(&d, 3);
    ASSERT_EQ(CN_ECORRUPT, cn_dec_status(&d));
    cn_buf_release(&b);
}

TEST(codec, overlong_varint_rejected)
{
    uint8_t bad[11];
    struct cn_dec d;
    memset(bad, 0xff, sizeof bad);
    cn_dec_init(&d, bad, sizeof bad);
    cn_dec_uvar(&d);
    ASSERT_EQ(CN_ECORRUPT, cn_dec_status(&d));
}

TEST(codec, random_varints)
{
    struct cn_rand r;
    struct cn_buf b;
    struct cn_dec d;
    uint64_t vals[1000];
    cn_rand_seed(&r, cn_test_seed());
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    for (int i = 0; i < 1000; i++) {
        vals[i] = cn_rand_u64(&r) >> cn_rand_below(&r, 64);
        cn_enc_uvar(&b, vals[i]);
    }
    cn_dec_init(&d, b.data, b.len);
    for (int i = 0; i < 1000; i++) ASSERT_U64_EQ(vals[i], cn_dec_uvar(&d));
    ASSERT_OK(cn_dec_status(&d));
    cn_buf_release(&b);
}
