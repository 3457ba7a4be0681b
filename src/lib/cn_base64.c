#include "lib/cn_base64.h"

#include <stdbool.h>
#include <stdint.h>

#include "lib/cn_err.h"

static const char enc_table[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t cn_base64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

void cn_base64_encode(const void *src, size_t n, char *dst)
{
    const unsigned char *s = src;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        *dst++ = enc_table[v >> 18];
        *dst++ = enc_table[(v >> 12) & 63];
        *dst++ = enc_table[(v >> 6) & 63];
        *dst++ = enc_table[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)s[i] << 16;
        *dst++ = enc_table[v >> 18];
        *dst++ = enc_table[(v >> 12) & 63];
        *dst++ = '=';
        *dst++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
        *dst++ = enc_table[v >> 18];
        *dst++ = enc_table[(v >> 12) & 63];
        *dst++ = enc_table[(v >> 6) & 63];
        *dst++ = '=';
    }
}

size_t cn_base64_decoded_max(size_t n)
{
    return n / 4 * 3 + 3;
}

static int dec(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

long cn_base64_decode(const char *src, size_t n, void *dst)
{
    const unsigned char *s = (const unsigned char *)src;
    unsigned char *d = dst;
    size_t o = 0;
    if (n % 4) return CN_EINVAL;
    for (size_t i = 0; i < n; i += 4) {
        int a = dec(s[i]), b = dec(s[i + 1]), c, e;
        bool last = i + 4 == n;
        if (a < 0 || b < 0) return CN_EINVAL;
        if (last && s[i + 2] == '=' && s[i + 3] == '=') {
            if (b & 15) return CN_EINVAL;
            d[o++] = (unsigned char)(a << 2 | b >> 4);
            break;
        }
        c = dec(s[i + 2]);
        if (c < 0) return CN_EINVAL;
        if (last && s[i + 3] == '=') {
            if (c & 3) return CN_EINVAL;
            d[o++] = (unsigned char)(a << 2 | b >> 4);
            d[o++] = (unsigned char)(b << 4 | c >> 2);
            break;
        }
        e = dec(s[i + 3]);
        if (e < 0) return CN_EINVAL;
        d[o++] = (unsigned char)(a << 2 | b >> 4);
        d[o++] = (unsigned char)(b << 4 | c >> 2);
        d[o++] = (unsigned char)(c << 6 | e);
    }
    return (long)o;
}
