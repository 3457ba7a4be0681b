/*
 * cn_codec.h - the binary encoding of Raft commands, RPC frames, snapshots
 * and gossip messages: little-endian fixed ints, LEB128 varints and
 * length-prefixed byte strings.
 *
 * Encoding appends to a cn_buf. Decoding walks a cursor over borrowed bytes
 * and never reads past its end: every getter fails with CN_ECORRUPT once the
 * input runs short, and the failure sticks (dec->err), so a decoder can read a
 * whole record and check once at the end (curl's strparse idea).
 */
#ifndef CN_CODEC_H
#define CN_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/cn_buf.h"
#include "lib/cn_str.h"

void cn_enc_u8(struct cn_buf *b, uint8_t v);
void cn_enc_u16(struct cn_buf *b, uint16_t v);
void cn_enc_u32(struct cn_buf *b, uint32_t v);
void cn_enc_u64(struct cn_buf *b, uint64_t v);
void cn_enc_uvar(struct cn_buf *b, uint64_t v);
void cn_enc_svar(struct cn_buf *b, int64_t v);
void cn_enc_bool(struct cn_buf *b, bool v);
void cn_enc_double(struct cn_buf *b, double v);
/* varint length then bytes */
void cn_enc_bytes(struct cn_buf *b, const void *p, size_t n);
void cn_enc_str(struct cn_buf *b, struct cn_str s);
void cn_enc_cstr(struct cn_buf *b, const char *s);

struct cn_dec {
    const uint8_t *p;
    size_t len;
    size_t pos;
    int err;
};

void cn_dec_init(struct cn_dec *d, const void *p, size_t len);
uint8_t cn_dec_u8(struct cn_dec *d);
uint16_t cn_dec_u16(struct cn_dec *d);
uint32_t cn_dec_u32(struct cn_dec *d);
uint64_t cn_dec_u64(struct cn_dec *d);
uint64_t cn_dec_uvar(struct cn_dec *d);
int64_t cn_dec_svar(struct cn_dec *d);
bool cn_dec_bool(struct cn_dec *d);
double cn_dec_double(struct cn_dec *d);
/* A view into the input (no copy); length bounded by max_len. */
struct cn_str cn_dec_bytes(struct cn_dec *d, size_t max_len);
/* A NUL-terminated heap copy (caller frees); NULL on error. */
char *cn_dec_cstr(struct cn_dec *d, size_t max_len);
static inline size_t cn_dec_left(const struct cn_dec *d)
{
    return d->len - d->pos;
}
/* 0 when everything decoded so far fit, else CN_ECORRUPT. */
static inline int cn_dec_status(const struct cn_dec *d)
{
    return d->err;
}

/* Little-endian helpers for fixed layouts (record headers). */
static inline void cn_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline uint32_t cn_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void cn_put_le64(uint8_t *p, uint64_t v)
{
    cn_put_le32(p, (uint32_t)v);
    cn_put_le32(p + 4, (uint32_t)(v >> 32));
}
static inline uint64_t cn_get_le64(const uint8_t *p)
{
    return (uint64_t)cn_get_le32(p) | (uint64_t)cn_get_le32(p + 4) << 32;
}

#endif
