/* SHA-256 against FIPS 180-4's examples and the NIST long-message vector,
 * and incremental hashing in arbitrary pieces against the one-shot digest. */
#include "lib/cn_common.h"
#include "lib/cn_rand.h"
#include "lib/cn_sha256.h"
#include "test.h"

static void check(const char *msg, size_t len, const char *want)
{
    uint8_t d[CN_SHA256_LEN];
    char hex[2 * CN_SHA256_LEN + 1];
    cn_sha256(msg, len, d);
    cn_sha256_hex(d, hex);
    ASSERT_STR_EQ(want, hex);
}

TEST(sha256, fips_180_examples)
{
    check("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check(two, strlen(two), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *four =
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqk"
        "lmnopqrlmnopqrsmnopqrstnopqrstu";
    check(four, strlen(four), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

TEST(sha256, padding_boundaries)
{
    /* 55, 56, 64 and 129 bytes: the length field fits, does not fit, a whole
     * block of padding (values from Python's hashlib). */
    char a[130];
    memset(a, 'a', sizeof a);
    check(a, 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
    check(a, 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
    check(a, 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
    check(a, 129, "c12cb024a2e5551cca0e08fce8f1c5e314555cc3fef6329ee994a3db752166ae");
}

TEST(sha256, one_million_a_in_pieces)
{
    struct cn_sha256 s;
    uint8_t d[CN_SHA256_LEN];
    char hex[2 * CN_SHA256_LEN + 1], chunk[1000];
    memset(chunk, 'a', sizeof chunk);
    cn_sha256_init(&s);
    for (int i = 0; i < 1000; i++)
        cn_sha256_update(&s, chunk, sizeof chunk);
    cn_sha256_final(&s, d);
    cn_sha256_hex(d, hex);
    ASSERT_STR_EQ("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", hex);
}

TEST(sha256, random_splits_match_one_shot)
{
    struct cn_rand r;
    uint8_t buf[4096], want[CN_SHA256_LEN], got[CN_SHA256_LEN];
    cn_rand_seed(&r, cn_test_seed());
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)cn_rand_u64(&r);
    for (int round = 0; round < 200; round++) {
        size_t len = cn_rand_below(&r, sizeof buf + 1), pos = 0;
        struct cn_sha256 s;
        cn_sha256(buf, len, want);
        cn_sha256_init(&s);
        while (pos < len) {
            size_t k = cn_rand_below(&r, CN_MIN(len - pos, (size_t)150) + 1);
            cn_sha256_update(&s, buf + pos, k);
            pos += k;
        }
        cn_sha256_final(&s, got);
        ASSERT_MEM_EQ(want, got, CN_SHA256_LEN);
    }
}
