/*
 * record.c - the log record and segment-header codecs, and the small file
 * helpers the rest of the module shares. The decoders take untrusted bytes
 * (whatever a crash or a bad disk left) and never read past what they are
 * given; tests/fuzz/wal_record drives them.
 */
#include "storage/storage_int.h"

#include <errno.h>
#include <string.h>

#include "lib/cn_codec.h"
#include "lib/cn_crc32c.h"

void storage__rec_encode(uint8_t *hdr, const struct storage_entry *e, uint64_t durable)
{
    memset(hdr, 0, STORAGE__REC_HDR);
    cn_put_le32(hdr + 4, (uint32_t)e->len);
    cn_put_le64(hdr + 8, durable);
    hdr[16] = e->type;
    cn_put_le64(hdr + 24, e->index);
    cn_put_le64(hdr + 32, e->term);
    uint32_t crc = cn_crc32c(0, hdr + 4, STORAGE__REC_HDR - 4);
    if (e->len) crc = cn_crc32c(crc, e->data, e->len);
    cn_put_le32(hdr, crc);
}

enum storage__rec_status storage__rec_decode(const uint8_t *p, size_t n, size_t entry_max,
                                             struct storage__rec *r)
{
    if (n < STORAGE__REC_HDR)
        return storage__all_zero(p, n) ? STORAGE__REC_ZERO : STORAGE__REC_SHORT;
    if (storage__all_zero(p, STORAGE__REC_HDR)) return STORAGE__REC_ZERO;
    r->crc = cn_get_le32(p);
    r->len = cn_get_le32(p + 4);
    r->durable = cn_get_le64(p + 8);
    r->type = p[16];
    r->index = cn_get_le64(p + 24);
    r->term = cn_get_le64(p + 32);
    if (r->len > entry_max || r->index == 0 || r->term == 0 || r->durable >= r->index ||
        !storage__all_zero(p + 17, 7))
        return STORAGE__REC_BADHDR;
    if (n - STORAGE__REC_HDR < r->len) return STORAGE__REC_SHORT;
    uint32_t crc = cn_crc32c(0, p + 4, STORAGE__REC_HDR - 4 + (size_t)r->len);
    return crc == r->crc ? STORAGE__REC_OK : STORAGE__REC_BADCRC;
}

const char *storage__rec_status_str(enum storage__rec_status st)
{
    switch (st) {
    case STORAGE__REC_OK:
        return "valid";
    case STORAGE__REC_ZERO:
        return "zero header";
    case STORAGE__REC_SHORT:
        return "record runs past the end of the file";
    case STORAGE__REC_BADHDR:
        return "malformed record header";
    case STORAGE__REC_BADCRC:
        return "checksum mismatch";
    }
    return "?";
}

void storage__seg_hdr_encode(uint8_t *p, const struct storage__seg_hdr *h)
{
    memset(p, 0, STORAGE__SEG_HDR);
    memcpy(p, STORAGE__SEG_MAGIC, 8);
    cn_put_le32(p + 8, STORAGE__SEG_VERSION);
    cn_put_le64(p + 16, h->seq);
    cn_put_le64(p + 24, h->first);
    cn_put_le64(p + 32, h->size);
    cn_put_le64(p + 40, h->prev_seq);
    cn_put_le64(p + 48, h->prev_end);
    uint32_t crc = cn_crc32c(cn_crc32c(0, p, 12), p + 16, STORAGE__SEG_HDR - 16);
    cn_put_le32(p + 12, crc);
}

int storage__seg_hdr_decode(const uint8_t *p, size_t n, struct storage__seg_hdr *h)
{
    if (n < STORAGE__SEG_HDR || memcmp(p, STORAGE__SEG_MAGIC, 8) != 0) return CN_ECORRUPT;
    uint32_t crc = cn_crc32c(cn_crc32c(0, p, 12), p + 16, STORAGE__SEG_HDR - 16);
    if (crc != cn_get_le32(p + 12)) return CN_ECORRUPT;
    if (cn_get_le32(p + 8) != STORAGE__SEG_VERSION) return CN_EUNSUPPORTED;
    h->seq = cn_get_le64(p + 16);
    h->first = cn_get_le64(p + 24);
    h->size = cn_get_le64(p + 32);
    h->prev_seq = cn_get_le64(p + 40);
    h->prev_end = cn_get_le64(p + 48);
    if (h->first == 0 || h->size < STORAGE_SEGMENT_SIZE_MIN || h->size > STORAGE_SEGMENT_SIZE_MAX ||
        h->prev_seq >= h->seq || (h->prev_seq && h->prev_end < STORAGE__SEG_DATA) ||
        h->prev_end % STORAGE__ALIGN)
        return CN_ECORRUPT;
    return 0;
}

bool storage__all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n && ((uintptr_t)b & 7)) {
        if (*b) return false;
        b++;
        n--;
    }
    while (n >= 32) {
        uint64_t w[4];
        memcpy(w, b, 32);
        if (w[0] | w[1] | w[2] | w[3]) return false;
        b += 32;
        n -= 32;
    }
    while (n--)
        if (*b++) return false;
    return true;
}

int storage__errcode(int rc)
{
    if (rc >= 0) return 0;
    if (rc > CN__FIRST && rc < CN__LAST) return rc; /* already a CN_E* code */
    switch (-rc) {
    case ENOENT:
        return CN_ENOENT;
    case EEXIST:
        return CN_EEXIST;
    case EACCES:
    case EPERM:
    case EROFS:
        return CN_EPERM;
    case ENOMEM:
        return CN_ENOMEM;
    case EFBIG:
        return CN_ETOOBIG;
    default:
        return CN_EIO;
    }
}

int storage__path(char *out, const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    if (dl + 1 + nl + 1 > STORAGE_PATH_MAX) return CN_ETOOBIG;
    memcpy(out, dir, dl);
    out[dl] = '/';
    memcpy(out + dl + 1, name, nl + 1);
    return 0;
}

int storage__mkdirs(struct storage_vfs *v, const char *path)
{
    char tmp[STORAGE_PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp) return CN_EINVAL;
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0') continue;
        char c = tmp[i];
        tmp[i] = '\0';
        int rc = v->mkdir(v, tmp);
        tmp[i] = c;
        if (rc < 0) return rc;
    }
    return 0;
}

int storage__read_full(struct storage_vfs *v, struct storage_file *f, void *p, size_t n,
                       uint64_t off)
{
    size_t got = 0;
    int rc = v->pread(v, f, p, n, off, &got);
    if (rc < 0) return rc;
    return got == n ? 0 : CN_ECORRUPT;
}

/* ---- read window ------------------------------------------------------------ */

#define WIN_MIN (4u * 1024 * 1024)

void storage__win_init(struct storage__win *w, struct storage_vfs *v, struct storage_file *f,
                       uint64_t file_size)
{
    memset(w, 0, sizeof *w);
    w->vfs = v;
    w->f = f;
    w->file_size = file_size;
}

void storage__win_release(struct storage__win *w)
{
    cn_free(w->buf);
    w->buf = NULL;
}

int storage__win_get(struct storage__win *w, uint64_t off, size_t n, const uint8_t **p, size_t *got)
{
    if (off >= w->file_size) {
        *p = w->buf;
        *got = 0;
        return 0;
    }
    uint64_t avail = w->file_size - off;
    size_t want = n < avail ? n : (size_t)avail;
    if (off >= w->off && off + want <= w->off + w->len) {
        *p = w->buf + (off - w->off);
        *got = want;
        return 0;
    }
    size_t cap = (size_t)CN_MIN((uint64_t)WIN_MIN, w->file_size), keep = 0;
    if (cap < want) cap = want;
    if (cap > w->cap) {
        w->buf = cn_realloc(w->buf, cap);
        w->cap = cap;
    }
    /* Sequential readers ask for what straddles the window's end: keep the
     * part already read instead of reading it again. */
    if (off >= w->off && off < w->off + w->len) {
        keep = (size_t)(w->off + w->len - off);
        memmove(w->buf, w->buf + (off - w->off), keep);
    }
    size_t rd = w->cap < avail ? w->cap : (size_t)avail, have = 0;
    int rc = w->vfs->pread(w->vfs, w->f, w->buf + keep, rd - keep, off + keep, &have);
    if (rc < 0) {
        w->len = 0;
        return rc;
    }
    w->off = off;
    w->len = keep + have;
    have = w->len;
    *p = w->buf;
    *got = have < want ? have : want;
    return 0;
}
