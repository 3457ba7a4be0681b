/* Keys, keyring operations and AES-GCM sealing: round trips with every key
 * size, any installed key opens, tampering and wrong keys are refused. */
#include <string.h>

#include "gossip/gossip_int.h"
#include "lib/cn_err.h"
#include "test.h"

static struct gossip_key mk(uint8_t len, uint8_t fill)
{
    struct gossip_key k = {.len = len};
    for (int i = 0; i < len; i++) k.bytes[i] = (uint8_t)(fill + i);
    return k;
}

TEST(gossip_crypt, keygen_and_decode)
{
    uint8_t rnd[32];
    for (int i = 0; i < 32; i++) rnd[i] = (uint8_t)(i * 7);
    char b64[64];
    gossip_keygen(rnd, b64, sizeof b64);
    ASSERT_EQ(44, strlen(b64));
    struct gossip_key k;
    struct cn_err err;
    ASSERT_OK(gossip_key_decode(cn_str_from(b64), &k, &err));
    ASSERT_EQ(32, k.len);
    ASSERT_MEM_EQ(rnd, k.bytes, 32);
    char again[64];
    gossip_key_encode(&k, again, sizeof again);
    ASSERT_STR_EQ(b64, again);
    ASSERT_OK(gossip_key_decode(cn_str_from("AAECAwQFBgcICQoLDA0ODw=="), &k, &err)); /* 16 */
    ASSERT_EQ(16, k.len);
    ASSERT_EQ(CN_EINVAL, gossip_key_decode(cn_str_from("AAECAwQFBgcICQoLDA0O"), &k, &err));
    ASSERT(strstr(err.msg, "16, 24 or 32") != NULL);
    ASSERT_EQ(CN_EINVAL, gossip_key_decode(cn_str_from("not base64!"), &k, &err));
}

TEST(gossip_crypt, keyring_operations)
{
    struct gkeyring kr = {0};
    struct cn_err err;
    struct gossip_key a = mk(32, 1), b = mk(16, 2), c = mk(24, 3);
    ASSERT_OK(gk_install(&kr, &a, &err));
    ASSERT_OK(gk_install(&kr, &b, &err));
    ASSERT_OK(gk_install(&kr, &b, &err)); /* idempotent */
    ASSERT_EQ(2, kr.n);
    ASSERT_EQ(CN_ENOENT, gk_use(&kr, &c, &err));
    ASSERT_OK(gk_use(&kr, &b, &err));
    ASSERT_MEM_EQ(b.bytes, kr.keys[0].bytes, 16);
    ASSERT_EQ(CN_EINVAL, gk_remove(&kr, &b, &err)); /* primary */
    ASSERT(strstr(err.msg, "primary") != NULL);
    ASSERT_OK(gk_remove(&kr, &a, &err));
    ASSERT_EQ(1, kr.n);
    struct gossip_key bad = mk(20, 0);
    ASSERT_EQ(CN_EINVAL, gk_install(&kr, &bad, &err));
    gk_release(&kr);
}

TEST(gossip_crypt, seal_open_every_key_size_and_refuse_tampering)
{
    struct cn_rand rng;
    cn_rand_seed(&rng, 1);
    uint8_t plain[300], sealed[400], out[400];
    for (int i = 0; i < 300; i++) plain[i] = (uint8_t)i;
    plain[0] = G_HDR_PLAIN;
    uint8_t sizes[] = {16, 24, 32};
    for (int s = 0; s < 3; s++) {
        struct gkeyring tx = {0}, rx = {0};
        struct cn_err err;
        struct gossip_key k = mk(sizes[s], 9), other = mk(32, 50);
        ASSERT_OK(gk_install(&tx, &k, &err));
        ASSERT_OK(gk_install(&rx, &other, &err)); /* rx's primary differs */
        ASSERT_OK(gk_install(&rx, &k, &err));
        gk_seal(&tx, &rng, 'U', plain, sizeof plain, sealed);
        size_t n = sizeof plain + G_ENCRYPT_OVERHEAD;
        ASSERT_EQ(G_HDR_AESGCM, sealed[0]);
        ASSERT_EQ((long)sizeof plain, gk_open(&rx, 'U', sealed, n, out));
        ASSERT_MEM_EQ(plain, out, sizeof plain);
        /* the same bytes as a stream frame: different associated data */
        ASSERT_EQ(CN_ECORRUPT, gk_open(&rx, 'S', sealed, n, out));
        /* flip each byte in turn */
        for (size_t i = 0; i < n; i++) {
            sealed[i] ^= 0x20;
            if (gk_open(&rx, 'U', sealed, n, out) >= 0) FAIL("tampered byte %zu accepted", i);
            sealed[i] ^= 0x20;
        }
        ASSERT_EQ(CN_ECORRUPT, gk_open(&rx, 'U', sealed, n - 1, out)); /* truncated */
        struct gkeyring stranger = {0};
        ASSERT_OK(gk_install(&stranger, &other, &err));
        ASSERT_EQ(CN_ECORRUPT, gk_open(&stranger, 'U', sealed, n, out));
        /* two seals of one plaintext differ (fresh nonce) */
        uint8_t again[400];
        gk_seal(&tx, &rng, 'U', plain, sizeof plain, again);
        ASSERT(memcmp(again, sealed, n) != 0);
        gk_release(&tx);
        gk_release(&rx);
        gk_release(&stranger);
    }
}
