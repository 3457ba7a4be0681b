/*
 * crypt.c - the keyring and AES-GCM sealing of packets and stream frames.
 *
 * As memberlist's security.go (encryption version 1, no padding): a random
 * 96-bit nonce per message, a 128-bit tag; the header byte and a channel byte
 * ('U' datagram, 'S' stream frame) are authenticated as associated data, so a
 * sealed datagram cannot be replayed as a stream frame. Sealing uses the
 * primary key; opening tries every installed key. OpenSSL's EVP is plain
 * computation here; the nonce comes from the caller-seeded generator.
 */
#include <openssl/evp.h>
#include <string.h>

#include "gossip/gossip_int.h"
#include "lib/cn_base64.h"
#include "lib/cn_err.h"

bool gk_valid_len(size_t len)
{
    return len == 16 || len == 24 || len == 32;
}

static const EVP_CIPHER *cipher_for(size_t len)
{
    return len == 16 ? EVP_aes_128_gcm() : len == 24 ? EVP_aes_192_gcm() : EVP_aes_256_gcm();
}

static EVP_CIPHER_CTX *ctx_of(struct gkeyring *kr)
{
    if (!kr->ctx) {
        kr->ctx = EVP_CIPHER_CTX_new();
        CN_ASSERT(kr->ctx != NULL);
    }
    return kr->ctx;
}

void gk_release(struct gkeyring *kr)
{
    if (kr->ctx) EVP_CIPHER_CTX_free(kr->ctx);
    kr->ctx = NULL;
    memset(kr->keys, 0, sizeof kr->keys);
    kr->n = 0;
}

static int find(const struct gkeyring *kr, const struct gossip_key *k)
{
    for (size_t i = 0; i < kr->n; i++)
        if (kr->keys[i].len == k->len && memcmp(kr->keys[i].bytes, k->bytes, k->len) == 0)
            return (int)i;
    return -1;
}

int gk_install(struct gkeyring *kr, const struct gossip_key *k, struct cn_err *err)
{
    if (!gk_valid_len(k->len))
        return cn_err_set(err, CN_EINVAL, "key size must be 16, 24 or 32 bytes");
    if (find(kr, k) >= 0) return 0; /* installing twice is fine, as in memberlist */
    if (kr->n >= GOSSIP_KEYS_MAX)
        return cn_err_set(err, CN_ETOOBIG, "keyring is full (%d keys)", GOSSIP_KEYS_MAX);
    kr->keys[kr->n++] = *k;
    return 0;
}

int gk_use(struct gkeyring *kr, const struct gossip_key *k, struct cn_err *err)
{
    int i = find(kr, k);
    if (i < 0) return cn_err_set(err, CN_ENOENT, "Requested key is not in the keyring");
    struct gossip_key t = kr->keys[i];
    memmove(&kr->keys[1], &kr->keys[0], (size_t)i * sizeof t);
    kr->keys[0] = t;
    return 0;
}

int gk_remove(struct gkeyring *kr, const struct gossip_key *k, struct cn_err *err)
{
    int i = find(kr, k);
    if (i == 0) return cn_err_set(err, CN_EINVAL, "Removing the primary key is not allowed");
    if (i < 0) return 0; /* memberlist: removing an unknown key is a no-op */
    memmove(&kr->keys[i], &kr->keys[i + 1], (kr->n - (size_t)i - 1) * sizeof kr->keys[0]);
    kr->n--;
    return 0;
}

void gk_seal(struct gkeyring *kr, struct cn_rand *rng, uint8_t aad_kind, const uint8_t *plain,
             size_t n, uint8_t *out)
{
    CN_ASSERT(kr->n > 0);
    const struct gossip_key *k = &kr->keys[0];
    EVP_CIPHER_CTX *c = ctx_of(kr);
    uint8_t aad[2] = {G_HDR_AESGCM, aad_kind};
    out[0] = G_HDR_AESGCM;
    uint8_t *nonce = out + 1;
    uint64_t r0 = cn_rand_u64(rng), r1 = cn_rand_u64(rng);
    memcpy(nonce, &r0, 8);
    memcpy(nonce + 8, &r1, 4);
    int len = 0;
    CN_ASSERT(EVP_EncryptInit_ex(c, cipher_for(k->len), NULL, NULL, NULL) == 1);
    CN_ASSERT(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, G_NONCE_LEN, NULL) == 1);
    CN_ASSERT(EVP_EncryptInit_ex(c, NULL, NULL, k->bytes, nonce) == 1);
    CN_ASSERT(EVP_EncryptUpdate(c, NULL, &len, aad, sizeof aad) == 1);
    uint8_t *ct = out + 1 + G_NONCE_LEN;
    CN_ASSERT(n <= INT32_MAX);
    CN_ASSERT(EVP_EncryptUpdate(c, ct, &len, plain, (int)n) == 1);
    CN_ASSERT((size_t)len == n);
    CN_ASSERT(EVP_EncryptFinal_ex(c, ct + len, &len) == 1);
    CN_ASSERT(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, G_TAG_LEN, ct + n) == 1);
}

static bool open_with(EVP_CIPHER_CTX *c, const struct gossip_key *k, const uint8_t aad[2],
                      const uint8_t *nonce, const uint8_t *ct, size_t n, const uint8_t *tag,
                      uint8_t *out)
{
    int len = 0;
    if (EVP_DecryptInit_ex(c, cipher_for(k->len), NULL, NULL, NULL) != 1) return false;
    if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, G_NONCE_LEN, NULL) != 1) return false;
    if (EVP_DecryptInit_ex(c, NULL, NULL, k->bytes, nonce) != 1) return false;
    if (EVP_DecryptUpdate(c, NULL, &len, aad, 2) != 1) return false;
    if (n && EVP_DecryptUpdate(c, out, &len, ct, (int)n) != 1) return false;
    if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, G_TAG_LEN, (void *)tag) != 1) return false;
    return EVP_DecryptFinal_ex(c, out + n, &len) == 1;
}

long gk_open(struct gkeyring *kr, uint8_t aad_kind, const uint8_t *in, size_t n, uint8_t *out)
{
    if (n < G_ENCRYPT_OVERHEAD || in[0] != G_HDR_AESGCM || kr->n == 0) return CN_ECORRUPT;
    if (n - G_ENCRYPT_OVERHEAD > INT32_MAX) return CN_ECORRUPT;
    uint8_t aad[2] = {G_HDR_AESGCM, aad_kind};
    size_t ct_len = n - G_ENCRYPT_OVERHEAD;
    const uint8_t *nonce = in + 1, *ct = in + 1 + G_NONCE_LEN, *tag = in + n - G_TAG_LEN;
    EVP_CIPHER_CTX *c = ctx_of(kr);
    for (size_t i = 0; i < kr->n; i++)
        if (open_with(c, &kr->keys[i], aad, nonce, ct, ct_len, tag, out)) return (long)ct_len;
    memset(out, 0, ct_len); /* never leave unauthenticated plaintext behind */
    return CN_ECORRUPT;
}

void gossip_keygen(const uint8_t random32[32], char *out, size_t n)
{
    CN_ASSERT(n > GOSSIP_KEY_B64_LEN);
    cn_base64_encode(random32, 32, out);
    out[GOSSIP_KEY_B64_LEN] = 0;
}

int gossip_key_decode(struct cn_str b64, struct gossip_key *out, struct cn_err *err)
{
    uint8_t buf[64];
    memset(out, 0, sizeof *out);
    if (b64.len == 0 || b64.len > 64)
        return cn_err_set(err, CN_EINVAL, "key must be 16, 24 or 32 bytes, base64 encoded");
    long n = cn_base64_decode(b64.p, b64.len, buf);
    if (n < 0) return cn_err_set(err, CN_EINVAL, "key is not valid base64");
    if (!gk_valid_len((size_t)n))
        return cn_err_set(err, CN_EINVAL, "key size must be 16, 24 or 32 bytes (got %ld)", n);
    out->len = (uint8_t)n;
    memcpy(out->bytes, buf, (size_t)n);
    return 0;
}

void gossip_key_encode(const struct gossip_key *k, char *out, size_t n)
{
    CN_ASSERT(n > cn_base64_encoded_len(k->len));
    cn_base64_encode(k->bytes, k->len, out);
    out[cn_base64_encoded_len(k->len)] = 0;
}
