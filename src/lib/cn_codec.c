#include "lib/cn_codec.h"

#include <string.h>

#include "lib/cn_err.h"

void cn_enc_u8(struct cn_buf *b, uint8_t v)
{
    cn_buf_putc(b, (char)v);
}

void cn_enc_u16(struct cn_buf *b, uint16_t v)
{
    uint8_t t[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    cn_buf_put(b, t, 2);
}

void cn_enc_u32(struct cn_buf *b, uint32_t v)
{
    uint8_t t[4];
    cn_put_le32(t, v);
    cn_buf_put(b, t, 4);
}

void cn_enc_u64(struct cn_buf *b, uint64_t v)
{
    uint8_t t[8];
    cn_put_le64(t, v);
    cn_buf_put(b, t, 8);
}

void cn_enc_uvar(struct cn_buf *b, uint64_t v)
{
    uint8_t t[10];
    int n = 0;
    while (v >= 0x80) {
        t[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    t[n++] = (uint8_t)v;
    cn_buf_put(b, t, (size_t)n);
}

void cn_enc_svar(struct cn_buf *b, int64_t v)
{
    cn_enc_uvar(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void cn_enc_bool(struct cn_buf *b, bool v)
{
    cn_enc_u8(b, v ? 1 : 0);
}

void cn_enc_double(struct cn_buf *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    cn_enc_u64(b, u);
}

void cn_enc_bytes(struct cn_buf *b, const void *p, size_t n)
{
    cn_enc_uvar(b, n);
    if (n) cn_buf_put(b, p, n);
}

void cn_enc_str(struct cn_buf *b, struct cn_str s)
{
    cn_enc_bytes(b, s.p, s.len);
}

void cn_enc_cstr(struct cn_buf *b, const char *s)
{
    cn_enc_bytes(b, s, s ? strlen(s) : 0);
}

void cn_dec_init(struct cn_dec *d, const void *p, size_t len)
{
    d->p = p;
    d->len = len;
    d->pos = 0;
    d->err = 0;
}

static bool need(struct cn_dec *d, size_t n)
{
    if (d->err) return false;
    if (n > d->len - d->pos) {
        d->err = CN_ECORRUPT;
        return false;
    }
    return true;
}

uint8_t cn_dec_u8(struct cn_dec *d)
{
    if (!need(d, 1)) return 0;
    return d->p[d->pos++];
}

uint16_t cn_dec_u16(struct cn_dec *d)
{
    if (!need(d, 2)) return 0;
    uint16_t v = (uint16_t)(d->p[d->pos] | d->p[d->pos + 1] << 8);
    d->pos += 2;
    return v;
}

uint32_t cn_dec_u32(struct cn_dec *d)
{
    if (!need(d, 4)) return 0;
    uint32_t v = cn_get_le32(d->p + d->pos);
    d->pos += 4;
    return v;
}

uint64_t cn_dec_u64(struct cn_dec *d)
{
    if (!need(d, 8)) return 0;
    uint64_t v = cn_get_le64(d->p + d->pos);
    d->pos += 8;
    return v;
}

uint64_t cn_dec_uvar(struct cn_dec *d)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (!need(d, 1)) return 0;
        uint8_t c = d->p[d->pos++];
        if (shift == 63 && c > 1) break;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) return v;
    }
    d->err = CN_ECORRUPT;
    return 0;
}

int64_t cn_dec_svar(struct cn_dec *d)
{
    uint64_t u = cn_dec_uvar(d);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

bool cn_dec_bool(struct cn_dec *d)
{
    uint8_t v = cn_dec_u8(d);
    if (v > 1 && !d->err) d->err = CN_ECORRUPT;
    return v == 1;
}

double cn_dec_double(struct cn_dec *d)
{
    uint64_t u = cn_dec_u64(d);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

struct cn_str cn_dec_bytes(struct cn_dec *d, size_t max_len)
{
    uint64_t n = cn_dec_uvar(d);
    if (d->err) return CN_STR_NULL;
    if (n > max_len) {
        d->err = CN_ECORRUPT;
        return CN_STR_NULL;
    }
    if (!need(d, (size_t)n)) return CN_STR_NULL;
    struct cn_str s = {(const char *)d->p + d->pos, (size_t)n};
    d->pos += (size_t)n;
    return s;
}

char *cn_dec_cstr(struct cn_dec *d, size_t max_len)
{
    struct cn_str s = cn_dec_bytes(d, max_len);
    if (d->err) return NULL;
    return cn_str_dup(s);
}
