/*
 * snapshot.c - snapshot files: streamed writer, verifying reader, retention.
 *
 * Layout (all integers little-endian):
 *   header   0  "CAIRNSNP"
 *            8  u32 version (1)
 *           12  u32 header_len = 56 + conf_len + 4
 *           16  u64 index
 *           24  u64 term
 *           32  i64 created_ns (Unix epoch)
 *           40  u32 conf_len (<= STORAGE_SNAP_CONF_MAX)
 *           44  u32 chunk_max the writer used
 *           48  u64 reserved (0)
 *           56  conf bytes
 *            .  u32 CRC32C of the header before it
 *   body     chunks: u32 len (1..STORAGE_SNAP_CHUNK_MAX), u32 CRC32C(data), data
 *   end      u32 0, u32 0
 *   trailer  "CNSNPEND", u64 body_len, u64 chunks, u32 CRC32C(whole body), u32 CRC32C of
 *            the 28 trailer bytes before it; the trailer ends the file.
 *
 * A snapshot is written as snap-<index>-<term>.snap.tmp, fsynced, renamed into
 * place and the directory fsynced, so a visible .snap is always complete; the
 * checksums catch what the disk did to it since.
 */
#include "storage/storage_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cn_codec.h"
#include "lib/cn_crc32c.h"
#include "lib/cn_log.h"
#include "lib/cn_time.h"

#define SNAP_MAGIC     "CAIRNSNP"
#define SNAP_END_MAGIC "CNSNPEND"
#define SNAP_VERSION   1u
#define SNAP_FIXED     56u
#define SNAP_TRAILER   32u
#define CHUNK_HDR      8u

struct storage_snapshot_writer {
    struct storage_vfs *vfs;
    char dir[STORAGE_PATH_MAX], tmp[STORAGE_PATH_MAX], final[STORAGE_PATH_MAX];
    unsigned retain;
    struct storage_file *f;
    uint64_t off;
    uint8_t *buf; /* CHUNK_HDR + STORAGE_SNAP_CHUNK_MAX */
    size_t fill;
    uint64_t body_len, chunks;
    uint32_t body_crc;
    int err;
};

struct storage_snapshot_reader {
    struct storage_vfs *vfs;
    struct storage_file *f;
    char path[STORAGE_PATH_MAX];
    struct storage_snapshot_meta meta;
    uint8_t *conf;
    struct storage__win win;
    uint64_t pos, trailer_off;
    uint64_t body_len, chunks; /* running */
    uint32_t body_crc;
    bool done;
    struct cn_err err;
    const uint8_t *cur; /* read_fn's unread part of the current chunk */
    size_t cur_n;
};

static int vfs_err(struct cn_err *err, int rc, const char *what, const char *path)
{
    return cn_err_set(err, storage__errcode(rc), "%s %s: %s", what, path, cn_strerror(rc));
}

static void snap_name(char *out, size_t n, uint64_t index, uint64_t term)
{
    snprintf(out, n, "snap-%016" PRIx64 "-%016" PRIx64 ".snap", index, term);
}

static bool parse_snap_name(const char *name, uint64_t *index, uint64_t *term)
{
    char idx[17], trm[17];
    if (strlen(name) != 43 || strncmp(name, "snap-", 5) || name[21] != '-' ||
        strcmp(name + 38, ".snap"))
        return false;
    memcpy(idx, name + 5, 16);
    memcpy(trm, name + 22, 16);
    idx[16] = trm[16] = '\0';
    for (int i = 0; i < 16; i++)
        if (!strchr("0123456789abcdef", idx[i]) || !strchr("0123456789abcdef", trm[i]))
            return false;
    *index = strtoull(idx, NULL, 16);
    *term = strtoull(trm, NULL, 16);
    return true;
}

/* ---- listing and retention ----------------------------------------------------- */

struct snap_list {
    struct storage_snapshot_file *v;
    size_t n, cap;
};

static int list_cb(void *ctx, const char *name)
{
    struct snap_list *l = ctx;
    uint64_t index, term;
    if (!parse_snap_name(name, &index, &term)) return 0;
    if (l->n == STORAGE_SNAP_FILES_MAX) return CN_ETOOBIG;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = cn_realloc(l->v, l->cap * sizeof *l->v);
    }
    struct storage_snapshot_file *f = &l->v[l->n++];
    f->index = index;
    f->term = term;
    snprintf(f->name, sizeof f->name, "%s", name);
    return 0;
}

static int cmp_newest_first(const void *a, const void *b)
{
    const struct storage_snapshot_file *x = a, *y = b;
    if (x->index != y->index) return x->index > y->index ? -1 : 1;
    if (x->term != y->term) return x->term > y->term ? -1 : 1;
    return 0;
}

static int list_dir(struct storage_vfs *vfs, const char *dir, struct snap_list *l,
                    struct cn_err *err)
{
    int rc = vfs->list(vfs, dir, list_cb, l);
    if (rc == -ENOENT) rc = 0;
    if (rc == CN_ETOOBIG)
        return cn_err_set(err, rc, "%s: more than %d snapshots", dir, STORAGE_SNAP_FILES_MAX);
    if (rc < 0) return vfs_err(err, rc, "cannot list", dir);
    if (l->n) qsort(l->v, l->n, sizeof *l->v, cmp_newest_first);
    return 0;
}

int storage_snapshot_list(const struct storage_snap_opts *o, struct storage_snapshot_file *out,
                          size_t max, size_t *n, struct cn_err *err)
{
    struct snap_list l = {0};
    struct storage_vfs *vfs = o->vfs ? o->vfs : storage_vfs_posix();
    *n = 0;
    int rc = list_dir(vfs, o->dir, &l, err);
    for (size_t i = 0; !rc && i < l.n && i < max; i++)
        out[(*n)++] = l.v[i];
    cn_free(l.v);
    return rc;
}

static int retain(struct storage_vfs *vfs, const char *dir, unsigned keep, struct cn_err *err)
{
    struct snap_list l = {0};
    int rc = list_dir(vfs, dir, &l, err);
    bool removed = false;
    for (size_t i = keep; !rc && i < l.n; i++) {
        char p[STORAGE_PATH_MAX];
        if (storage__path(p, dir, l.v[i].name)) continue;
        int u = vfs->unlink(vfs, p);
        if (u < 0 && u != -ENOENT)
            CN_WARN("storage", "cannot remove old snapshot %s: %s", p, cn_strerror(u));
        removed = true;
    }
    cn_free(l.v);
    if (!rc && removed) {
        int s = vfs->sync_dir(vfs, dir);
        if (s < 0) rc = vfs_err(err, s, "cannot sync", dir);
    }
    return rc;
}

/* ---- writer -------------------------------------------------------------------- */

int storage_snapshot_begin(const struct storage_snap_opts *o, const struct storage_snapshot_meta *m,
                           struct storage_snapshot_writer **out, struct cn_err *err)
{
    char name[64];
    *out = NULL;
    if (m->index == 0 || m->conf_len > STORAGE_SNAP_CONF_MAX || (m->conf_len && !m->conf))
        return cn_err_set(err, CN_EINVAL, "bad snapshot metadata");
    struct storage_snapshot_writer *w = CN_NEW(struct storage_snapshot_writer);
    w->vfs = o->vfs ? o->vfs : storage_vfs_posix();
    w->retain = o->retain ? o->retain : STORAGE_SNAP_RETAIN_DEFAULT;
    snap_name(name, sizeof name, m->index, m->term);
    int rc = 0;
    if (snprintf(w->dir, sizeof w->dir, "%s", o->dir) >= (int)sizeof w->dir ||
        storage__path(w->final, w->dir, name) ||
        snprintf(w->tmp, sizeof w->tmp, "%s.tmp", w->final) >= (int)sizeof w->tmp)
        rc = cn_err_set(err, CN_ETOOBIG, "snapshot path too long");
    if (!rc && (rc = storage__mkdirs(w->vfs, w->dir)) < 0)
        rc = vfs_err(err, rc, "cannot create", w->dir);
    if (!rc && (rc = w->vfs->open(w->vfs, w->tmp,
                                  STORAGE_O_RDWR | STORAGE_O_CREAT | STORAGE_O_TRUNC, &w->f)) < 0)
        rc = vfs_err(err, rc, "cannot create", w->tmp);
    if (rc) {
        cn_free(w);
        return rc;
    }
    size_t hlen = SNAP_FIXED + m->conf_len + 4;
    uint8_t *h = cn_calloc(1, hlen);
    memcpy(h, SNAP_MAGIC, 8);
    cn_put_le32(h + 8, SNAP_VERSION);
    cn_put_le32(h + 12, (uint32_t)hlen);
    cn_put_le64(h + 16, m->index);
    cn_put_le64(h + 24, m->term);
    cn_put_le64(h + 32, (uint64_t)(m->created_ns ? m->created_ns : cn_wall_ns()));
    cn_put_le32(h + 40, (uint32_t)m->conf_len);
    cn_put_le32(h + 44, STORAGE_SNAP_CHUNK_MAX);
    if (m->conf_len) memcpy(h + SNAP_FIXED, m->conf, m->conf_len);
    cn_put_le32(h + hlen - 4, cn_crc32c(0, h, hlen - 4));
    rc = w->vfs->pwrite(w->vfs, w->f, h, hlen, 0);
    cn_free(h);
    if (rc < 0) {
        vfs_err(err, rc, "cannot write", w->tmp);
        storage_snapshot_abort(w);
        return storage__errcode(rc);
    }
    w->off = hlen;
    w->buf = cn_malloc(CHUNK_HDR + STORAGE_SNAP_CHUNK_MAX);
    *out = w;
    return 0;
}

static int flush_chunk(struct storage_snapshot_writer *w)
{
    if (!w->fill) return 0;
    uint8_t *data = w->buf + CHUNK_HDR;
    cn_put_le32(w->buf, (uint32_t)w->fill);
    cn_put_le32(w->buf + 4, cn_crc32c(0, data, w->fill));
    w->body_crc = cn_crc32c(w->body_crc, data, w->fill);
    int rc = w->vfs->pwrite(w->vfs, w->f, w->buf, CHUNK_HDR + w->fill, w->off);
    if (rc < 0) return w->err = storage__errcode(rc);
    w->off += CHUNK_HDR + w->fill;
    w->body_len += w->fill;
    w->chunks++;
    w->fill = 0;
    return 0;
}

int storage_snapshot_write(struct storage_snapshot_writer *w, const void *p, size_t n)
{
    const uint8_t *b = p;
    if (w->err) return w->err;
    while (n) {
        size_t k = CN_MIN(n, STORAGE_SNAP_CHUNK_MAX - w->fill);
        memcpy(w->buf + CHUNK_HDR + w->fill, b, k);
        w->fill += k;
        b += k;
        n -= k;
        if (w->fill == STORAGE_SNAP_CHUNK_MAX) {
            int rc = flush_chunk(w);
            if (rc) return rc;
        }
    }
    return 0;
}

int storage_snapshot_write_fn(void *ctx, const void *p, size_t n)
{
    return storage_snapshot_write(ctx, p, n);
}

static void writer_free(struct storage_snapshot_writer *w)
{
    if (w->f) w->vfs->close(w->vfs, w->f);
    cn_free(w->buf);
    cn_free(w);
}

void storage_snapshot_abort(struct storage_snapshot_writer *w)
{
    if (!w) return;
    if (w->f) w->vfs->close(w->vfs, w->f);
    w->f = NULL;
    w->vfs->unlink(w->vfs, w->tmp);
    writer_free(w);
}

int storage_snapshot_commit(struct storage_snapshot_writer *w, char *path_out, struct cn_err *err)
{
    uint8_t tail[CHUNK_HDR + SNAP_TRAILER] = {0};
    int rc = flush_chunk(w);
    if (rc || w->err) {
        rc = w->err ? w->err : rc;
        cn_err_set(err, rc, "cannot write %s: %s", w->tmp, cn_strerror(rc));
        storage_snapshot_abort(w);
        return rc;
    }
    uint8_t *t = tail + CHUNK_HDR; /* after the zero end-of-body chunk header */
    memcpy(t, SNAP_END_MAGIC, 8);
    cn_put_le64(t + 8, w->body_len);
    cn_put_le64(t + 16, w->chunks);
    cn_put_le32(t + 24, w->body_crc);
    cn_put_le32(t + 28, cn_crc32c(0, t, 28));
    const char *what = "cannot write";
    rc = w->vfs->pwrite(w->vfs, w->f, tail, sizeof tail, w->off);
    if (!rc) {
        what = "cannot sync";
        rc = w->vfs->sync(w->vfs, w->f, false);
    }
    if (!rc) {
        w->vfs->close(w->vfs, w->f);
        w->f = NULL;
        what = "cannot rename";
        rc = w->vfs->rename(w->vfs, w->tmp, w->final);
    }
    if (!rc) {
        what = "cannot sync directory of";
        rc = w->vfs->sync_dir(w->vfs, w->dir);
    }
    if (rc) {
        vfs_err(err, rc, what, w->tmp);
        storage_snapshot_abort(w);
        return storage__errcode(rc);
    }
    CN_INFO("storage", "snapshot saved: path=%s body=%" PRIu64 " bytes", w->final, w->body_len);
    if (path_out) snprintf(path_out, STORAGE_PATH_MAX, "%s", w->final);
    rc = retain(w->vfs, w->dir, w->retain, err);
    writer_free(w);
    return rc;
}

/* ---- reader -------------------------------------------------------------------- */

static int snap_corrupt(struct cn_err *err, const char *path, uint64_t off, const char *why)
{
    return cn_err_set(err, CN_ECORRUPT, "corrupt snapshot: %s at offset %" PRIu64 ": %s", path, off,
                      why ? why : "unreadable");
}

static int read_header(struct storage_snapshot_reader *r, uint64_t size, struct cn_err *err)
{
    uint8_t h[SNAP_FIXED];
    if (size < SNAP_FIXED + 4 + CHUNK_HDR + SNAP_TRAILER)
        return snap_corrupt(err, r->path, 0, "too short to be a snapshot");
    int rc = storage__read_full(r->vfs, r->f, h, sizeof h, 0);
    if (rc) return vfs_err(err, rc, "cannot read", r->path);
    if (memcmp(h, SNAP_MAGIC, 8)) return snap_corrupt(err, r->path, 0, "not a snapshot file");
    uint32_t version = cn_get_le32(h + 8), hlen = cn_get_le32(h + 12);
    uint32_t conf_len = cn_get_le32(h + 40);
    if (version != SNAP_VERSION)
        return cn_err_set(err, CN_EUNSUPPORTED, "%s: snapshot format version %u unsupported",
                          r->path, version);
    if (conf_len > STORAGE_SNAP_CONF_MAX || hlen != SNAP_FIXED + conf_len + 4 ||
        hlen + CHUNK_HDR + SNAP_TRAILER > size)
        return snap_corrupt(err, r->path, 12, "bad header length");
    uint8_t *conf = cn_malloc(conf_len + 4);
    rc = storage__read_full(r->vfs, r->f, conf, conf_len + 4, SNAP_FIXED);
    uint32_t crc = cn_crc32c(cn_crc32c(0, h, sizeof h), conf, conf_len);
    if (rc || crc != cn_get_le32(conf + conf_len)) {
        cn_free(conf);
        return rc ? vfs_err(err, rc, "cannot read", r->path)
                  : snap_corrupt(err, r->path, 0, "header checksum mismatch");
    }
    r->conf = conf;
    r->meta = (struct storage_snapshot_meta){
        .version = version,
        .index = cn_get_le64(h + 16),
        .term = cn_get_le64(h + 24),
        .created_ns = (int64_t)cn_get_le64(h + 32),
        .conf = conf,
        .conf_len = conf_len,
        .file_size = size,
    };
    r->pos = hlen;
    return 0;
}

static int read_trailer(struct storage_snapshot_reader *r, uint64_t size, struct cn_err *err)
{
    uint8_t t[SNAP_TRAILER];
    r->trailer_off = size - SNAP_TRAILER;
    int rc = storage__read_full(r->vfs, r->f, t, sizeof t, r->trailer_off);
    if (rc) return vfs_err(err, rc, "cannot read", r->path);
    if (memcmp(t, SNAP_END_MAGIC, 8) || cn_crc32c(0, t, 28) != cn_get_le32(t + 28))
        return snap_corrupt(err, r->path, r->trailer_off,
                            "no valid trailer (incomplete or damaged file)");
    r->meta.body_len = cn_get_le64(t + 8);
    r->meta.chunks = cn_get_le64(t + 16);
    r->meta.body_crc = cn_get_le32(t + 24);
    return 0;
}

int storage_snapshot_open(struct storage_vfs *vfs, const char *path,
                          struct storage_snapshot_reader **out, struct cn_err *err)
{
    *out = NULL;
    if (!vfs) vfs = storage_vfs_posix();
    struct storage_snapshot_reader *r = CN_NEW(struct storage_snapshot_reader);
    r->vfs = vfs;
    if (snprintf(r->path, sizeof r->path, "%s", path) >= (int)sizeof r->path) {
        cn_free(r);
        return cn_err_set(err, CN_ETOOBIG, "snapshot path too long");
    }
    uint64_t size = 0;
    int rc = vfs->open(vfs, path, STORAGE_O_RDONLY, &r->f);
    if (rc < 0) {
        cn_free(r);
        return vfs_err(err, rc, "cannot open", path);
    }
    rc = vfs->size(vfs, r->f, &size);
    if (rc < 0) rc = vfs_err(err, rc, "cannot stat", path);
    if (!rc) rc = read_header(r, size, err);
    if (!rc) rc = read_trailer(r, size, err);
    if (rc) {
        storage_snapshot_close(r);
        return rc;
    }
    storage__win_init(&r->win, vfs, r->f, r->trailer_off);
    *out = r;
    return 0;
}

int storage_snapshot_open_latest(const struct storage_snap_opts *o,
                                 struct storage_snapshot_reader **out, struct cn_err *err)
{
    struct snap_list l = {0};
    struct storage_vfs *vfs = o->vfs ? o->vfs : storage_vfs_posix();
    *out = NULL;
    int rc = list_dir(vfs, o->dir, &l, err);
    for (size_t i = 0; !rc && i < l.n; i++) {
        char p[STORAGE_PATH_MAX];
        struct cn_err e;
        cn_err_clear(&e);
        if (storage__path(p, o->dir, l.v[i].name)) continue;
        if (storage_snapshot_open(vfs, p, out, &e) == 0) break;
        CN_WARN("storage", "skipping snapshot: %s", e.msg);
    }
    cn_free(l.v);
    if (!rc && !*out) rc = cn_err_set(err, CN_ENOENT, "no valid snapshot in %s", o->dir);
    return rc;
}

const struct storage_snapshot_meta *
storage_snapshot_reader_meta(const struct storage_snapshot_reader *r)
{
    return &r->meta;
}

const char *storage_snapshot_reader_path(const struct storage_snapshot_reader *r)
{
    return r->path;
}

const struct cn_err *storage_snapshot_error(const struct storage_snapshot_reader *r)
{
    return &r->err;
}

static int reader_fail(struct storage_snapshot_reader *r, struct cn_err *err, int rc, uint64_t off,
                       const char *why)
{
    if (rc == CN_ECORRUPT)
        snap_corrupt(&r->err, r->path, off, why);
    else
        vfs_err(&r->err, rc, "cannot read", r->path);
    if (err) *err = r->err;
    return r->err.code;
}

static int end_of_body(struct storage_snapshot_reader *r, const uint8_t *h, struct cn_err *err)
{
    if (cn_get_le32(h + 4) != 0 || r->pos + CHUNK_HDR != r->trailer_off)
        return reader_fail(r, err, CN_ECORRUPT, r->pos, "data after the end of the body");
    if (r->body_len != r->meta.body_len || r->chunks != r->meta.chunks)
        return reader_fail(r, err, CN_ECORRUPT, r->trailer_off,
                           "body length does not match the trailer");
    if (r->body_crc != r->meta.body_crc)
        return reader_fail(r, err, CN_ECORRUPT, r->trailer_off, "body checksum mismatch");
    r->done = true;
    return 0;
}

int storage_snapshot_next(struct storage_snapshot_reader *r, const void **p, size_t *n,
                          struct cn_err *err)
{
    const uint8_t *h;
    size_t got;
    *p = NULL;
    *n = 0;
    if (r->err.code) {
        if (err) *err = r->err;
        return r->err.code;
    }
    if (r->done) return 0;
    int rc = storage__win_get(&r->win, r->pos, CHUNK_HDR, &h, &got);
    if (rc < 0) return reader_fail(r, err, rc, r->pos, NULL);
    if (got < CHUNK_HDR) return reader_fail(r, err, CN_ECORRUPT, r->pos, "body ends early");
    uint32_t len = cn_get_le32(h), crc = cn_get_le32(h + 4);
    if (len == 0) return end_of_body(r, h, err);
    if (len > STORAGE_SNAP_CHUNK_MAX)
        return reader_fail(r, err, CN_ECORRUPT, r->pos, "chunk length out of range");
    rc = storage__win_get(&r->win, r->pos, CHUNK_HDR + len, &h, &got);
    if (rc < 0) return reader_fail(r, err, rc, r->pos, NULL);
    if (got < CHUNK_HDR + len)
        return reader_fail(r, err, CN_ECORRUPT, r->pos, "chunk runs into the trailer");
    if (cn_crc32c(0, h + CHUNK_HDR, len) != crc)
        return reader_fail(r, err, CN_ECORRUPT, r->pos, "chunk checksum mismatch");
    r->body_crc = cn_crc32c(r->body_crc, h + CHUNK_HDR, len);
    r->body_len += len;
    r->chunks++;
    r->pos += CHUNK_HDR + len;
    *p = h + CHUNK_HDR;
    *n = len;
    return 0;
}

long storage_snapshot_read_fn(void *ctx, void *p, size_t n)
{
    struct storage_snapshot_reader *r = ctx;
    if (!r->cur_n) {
        const void *c;
        int rc = storage_snapshot_next(r, &c, &r->cur_n, NULL);
        if (rc) return rc;
        r->cur = c;
        if (!r->cur_n) return 0;
    }
    size_t k = CN_MIN(n, r->cur_n);
    memcpy(p, r->cur, k);
    r->cur += k;
    r->cur_n -= k;
    return (long)k;
}

void storage_snapshot_close(struct storage_snapshot_reader *r)
{
    if (!r) return;
    storage__win_release(&r->win);
    if (r->f) r->vfs->close(r->vfs, r->f);
    cn_free(r->conf);
    cn_free(r);
}

int storage_snapshot_inspect(struct storage_vfs *vfs, const char *path,
                             struct storage_snapshot_meta *meta, struct cn_err *err)
{
    struct storage_snapshot_reader *r;
    int rc = storage_snapshot_open(vfs, path, &r, err);
    if (rc) return rc;
    for (;;) {
        const void *p;
        size_t n;
        rc = storage_snapshot_next(r, &p, &n, err);
        if (rc || n == 0) break;
    }
    if (!rc) {
        *meta = r->meta;
        meta->conf = r->meta.conf_len ? cn_memdup(r->conf, r->meta.conf_len) : NULL;
    }
    storage_snapshot_close(r);
    return rc;
}
