/*
 * storage_int.h - internals shared by the files of src/storage (not part of
 * the module's API): the record and segment-header codecs, file helpers,
 * and a read window over a file used by recovery.
 */
#ifndef CAIRN_STORAGE_INT_H
#define CAIRN_STORAGE_INT_H

#include "storage/storage.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- log record --------------------------------------------------------- */

/*
 *   0  u32 crc      CRC32C of bytes [4, 40 + len): the rest of the header and the payload
 *   4  u32 len      payload length
 *   8  u64 durable  the log's durable index when this record was written (< index)
 *  16  u8  type
 *  17  u8  pad[7]   zero
 *  24  u64 index    (>= 1: the header's last two words are never zero, which
 *  32  u64 term      keeps a written header distinguishable from a lost sector)
 *  40  payload, then zero padding to a multiple of 8
 */
#define STORAGE__REC_HDR 40u
#define STORAGE__ALIGN   8u
#define STORAGE__SECTOR  512u

struct storage__rec {
    uint32_t crc, len;
    uint64_t index, term, durable;
    uint8_t type;
};

enum storage__rec_status {
    STORAGE__REC_OK = 0,
    STORAGE__REC_ZERO,   /* the header is all zero bytes */
    STORAGE__REC_SHORT,  /* header or payload runs past the bytes given */
    STORAGE__REC_BADHDR, /* a header no writer produces (len, index, term, pad) */
    STORAGE__REC_BADCRC, /* well-formed header, checksum mismatch */
};

static inline uint64_t storage__rec_size(uint64_t len)
{
    return (STORAGE__REC_HDR + len + STORAGE__ALIGN - 1) & ~(uint64_t)(STORAGE__ALIGN - 1);
}

/* Encode a record header for e (durable watermark w) into hdr[40]. */
void storage__rec_encode(uint8_t *hdr, const struct storage_entry *e, uint64_t durable);
/* Decode the record at p (n bytes available). Never reads past p + n. On OK
 * and on BADCRC, r is filled; on OK the record occupies rec_size(r->len). */
enum storage__rec_status storage__rec_decode(const uint8_t *p, size_t n, size_t entry_max,
                                             struct storage__rec *r);
const char *storage__rec_status_str(enum storage__rec_status st);

/* ---- segment header --------------------------------------------------------- */

/*
 *   0  "CAIRNWAL"  magic
 *   8  u32 version (1)
 *  12  u32 crc       CRC32C of bytes [0, 12) and [16, 56)
 *  16  u64 seq       equals the number in the file name
 *  24  u64 first     index of the segment's first record
 *  32  u64 size      the file's size: segments are preallocated whole and never
 *                    shrink, so a shorter file was truncated behind our back
 *  40  u64 prev_seq  the segment the log continues from (0: none)
 *  48  u64 prev_end  where the log ends in prev_seq: bytes after it there are
 *                    dead (a truncated suffix, a cut torn tail)
 */
#define STORAGE__SEG_HDR 56u
/* The first record starts here: the header's block is written once, at
 * activation, and never shares a sector with later writes, so a sector torn
 * or garbled by an interrupted append can never take the header with it. */
#define STORAGE__SEG_DATA    4096u
#define STORAGE__SEG_VERSION 1u
#define STORAGE__SEG_MAGIC   "CAIRNWAL"

struct storage__seg_hdr {
    uint64_t seq, first, size, prev_seq, prev_end;
};

void storage__seg_hdr_encode(uint8_t *p, const struct storage__seg_hdr *h);
/* 0, CN_ECORRUPT (bad magic/crc/fields) or CN_EUNSUPPORTED (newer version). */
int storage__seg_hdr_decode(const uint8_t *p, size_t n, struct storage__seg_hdr *h);

/* ---- helpers ------------------------------------------------------------- */

bool storage__all_zero(const void *p, size_t n);
/* Map a VFS result (negative errno or CN_E*) onto a CN_E* code. */
int storage__errcode(int rc);
/* Join into out (STORAGE_PATH_MAX); CN_ETOOBIG if it does not fit. */
int storage__path(char *out, const char *dir, const char *name);
/* mkdir -p through the VFS. */
int storage__mkdirs(struct storage_vfs *v, const char *path);
/* pread exactly n bytes or fail (CN_ECORRUPT on a short file). */
int storage__read_full(struct storage_vfs *v, struct storage_file *f, void *p, size_t n,
                       uint64_t off);

/* A read window over a file: recovery scans segments through it. */
struct storage__win {
    struct storage_vfs *vfs;
    struct storage_file *f;
    uint64_t file_size;
    uint8_t *buf;
    size_t cap;
    uint64_t off; /* file offset of buf[0] */
    size_t len;   /* valid bytes in buf */
};

void storage__win_init(struct storage__win *w, struct storage_vfs *v, struct storage_file *f,
                       uint64_t file_size);
void storage__win_release(struct storage__win *w);
/* Point *p at bytes [off, off + n) of the file, fewer (*got < n) at EOF. */
int storage__win_get(struct storage__win *w, uint64_t off, size_t n, const uint8_t **p,
                     size_t *got);

/* Hard state file codec (hardstate.c). */
void storage__hs_encode(struct cn_buf *b, const struct storage_hard_state *hs);
int storage__hs_decode(const uint8_t *p, size_t n, struct storage_hard_state *hs);

#endif
