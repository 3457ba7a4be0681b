/*
 * hardstate.c - the hard state file codec.
 *
 *   0  "CAIRNHST"  magic
 *   8  u32 version (1)
 *  12  u32 meta_len (<= STORAGE_HARD_STATE_META_MAX)
 *  16  u64 term
 *  24  u64 vote
 *  32  meta
 *   .  u32 CRC32C of everything before
 *
 * The file is replaced atomically (write hardstate.tmp, fsync, rename over
 * hardstate, fsync the directory: wal.c's sync thread does it), so a reader
 * sees the old or the new one whole; a bad checksum is corruption, not a tear.
 */
#include "storage/storage_int.h"

#include <string.h>

#include "lib/cn_codec.h"
#include "lib/cn_crc32c.h"

#define HS_MAGIC   "CAIRNHST"
#define HS_VERSION 1u
#define HS_FIXED   32u

void storage__hs_encode(struct cn_buf *b, const struct storage_hard_state *hs)
{
    uint8_t h[HS_FIXED];
    memcpy(h, HS_MAGIC, 8);
    cn_put_le32(h + 8, HS_VERSION);
    cn_put_le32(h + 12, (uint32_t)hs->meta_len);
    cn_put_le64(h + 16, hs->term);
    cn_put_le64(h + 24, hs->vote);
    cn_buf_reset(b);
    cn_buf_put(b, h, sizeof h);
    if (hs->meta_len) cn_buf_put(b, hs->meta, hs->meta_len);
    uint8_t c[4];
    cn_put_le32(c, cn_crc32c(0, b->data, b->len));
    cn_buf_put(b, c, 4);
}

int storage__hs_decode(const uint8_t *p, size_t n, struct storage_hard_state *hs)
{
    if (n < HS_FIXED + 4 || memcmp(p, HS_MAGIC, 8) != 0) return CN_ECORRUPT;
    uint32_t meta_len = cn_get_le32(p + 12);
    if (meta_len > STORAGE_HARD_STATE_META_MAX || n != HS_FIXED + (size_t)meta_len + 4)
        return CN_ECORRUPT;
    if (cn_crc32c(0, p, n - 4) != cn_get_le32(p + n - 4)) return CN_ECORRUPT;
    if (cn_get_le32(p + 8) != HS_VERSION) return CN_EUNSUPPORTED;
    hs->term = cn_get_le64(p + 16);
    hs->vote = cn_get_le64(p + 24);
    hs->meta = p + HS_FIXED;
    hs->meta_len = meta_len;
    return 0;
}
