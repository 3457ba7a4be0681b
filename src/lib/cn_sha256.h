/* cn_sha256.h - SHA-256 (FIPS 180-4), the digest of snapshot archives'
 * SHA256SUMS (Consul writes the same file). Portable C, no dependency:
 * pure cores and fuzz harnesses can use it; about 200-300 MB/s, which is
 * well below the gzip stream it always runs next to. */
#ifndef CN_SHA256_H
#define CN_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define CN_SHA256_LEN 32

struct cn_sha256 {
    uint32_t h[8];
    uint64_t total; /* bytes hashed so far */
    uint8_t block[64];
    size_t used; /* bytes waiting in block */
};

void cn_sha256_init(struct cn_sha256 *s);
void cn_sha256_update(struct cn_sha256 *s, const void *p, size_t n);
/* Write the digest; s must be re-initialised before it is used again. */
void cn_sha256_final(struct cn_sha256 *s, uint8_t out[CN_SHA256_LEN]);
/* One-shot digest of p[0..n). */
void cn_sha256(const void *p, size_t n, uint8_t out[CN_SHA256_LEN]);
/* Lowercase hex of a digest, NUL-terminated (Go's "%x"). */
void cn_sha256_hex(const uint8_t d[CN_SHA256_LEN], char out[2 * CN_SHA256_LEN + 1]);

#endif
