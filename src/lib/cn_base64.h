/* cn_base64.h - standard base64 with padding (RFC 4648 section 4), as Go's
 * encoding/base64.StdEncoding reads and writes it. */
#ifndef CN_BASE64_H
#define CN_BASE64_H

#include <stddef.h>

size_t cn_base64_encoded_len(size_t n);
/* Writes exactly cn_base64_encoded_len(n) bytes, no NUL. */
void cn_base64_encode(const void *src, size_t n, char *dst);
/* Upper bound of decoded bytes for n input characters. */
size_t cn_base64_decoded_max(size_t n);
/* Strict: padding required, no whitespace. Returns bytes written or CN_EINVAL. */
long cn_base64_decode(const char *src, size_t n, void *dst);

#endif
