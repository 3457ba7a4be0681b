/*
 * archive.c - snapshot archives (archive.h): tar (ustar) inside gzip, both
 * streamed with zlib, SHA-256 over meta.json and state.bin.
 *
 * The reader is strict where a lenient one would let damage through
 * unnoticed: every header checksum, two zero blocks at the end of the tar,
 * only zero padding after them, the gzip trailer (CRC-32 and length) and
 * nothing after the gzip stream. Error texts follow Consul's
 * snapshot/archive.go and the Go library errors it wraps.
 */
#include "storage/archive.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "lib/cn_buf.h"
#include "lib/cn_common.h"
#include "lib/cn_json.h"
#include "lib/cn_jw.h"
#include "lib/cn_sha256.h"

#define BLOCK    512
#define IO_CHUNK (64 * 1024)
/* Zero bytes a tar writer may add after the end-of-archive blocks (GNU tar
 * pads to 10 KiB records). */
#define END_PADDING_MAX (1u << 20)

#define NAME_META  "meta.json"
#define NAME_STATE "state.bin"
#define NAME_SUMS  "SHA256SUMS"

#define READ_PREFIX "failed to read snapshot file: "
#define TAR_PREFIX  READ_PREFIX "failed reading snapshot: "
#define SUMS_PREFIX READ_PREFIX "failed checking integrity of snapshot: "

long storage_archive_mem_read(void *ctx, void *p, size_t n)
{
    struct storage_archive_mem *m = ctx;
    size_t k = CN_MIN(n, m->len - m->pos);
    if (k) memcpy(p, m->p + m->pos, k);
    m->pos += k;
    return (long)k;
}

static size_t pad_of(uint64_t size)
{
    return (size_t)((BLOCK - size % BLOCK) % BLOCK);
}

/* ======================================================================== */
/* Writing                                                                  */

struct writer {
    z_stream zs;
    storage_archive_write_fn out;
    void *ctx;
    uint8_t obuf[IO_CHUNK];
};

static int deflate_some(struct writer *w, const void *p, size_t n, int flush)
{
    w->zs.next_in = (Bytef *)(uintptr_t)p;
    w->zs.avail_in = (uInt)n;
    for (;;) {
        w->zs.next_out = w->obuf;
        w->zs.avail_out = sizeof w->obuf;
        int zr = deflate(&w->zs, flush);
        if (zr == Z_STREAM_ERROR) return CN_EINVAL;
        size_t have = sizeof w->obuf - w->zs.avail_out;
        if (have) {
            int rc = w->out(w->ctx, w->obuf, have);
            if (rc) return rc;
        }
        if (flush == Z_FINISH) {
            if (zr == Z_STREAM_END) return 0;
        } else if (w->zs.avail_out != 0) {
            return 0;
        }
    }
}

static void tar_header(uint8_t h[BLOCK], const char *name, uint64_t size, int64_t mtime)
{
    unsigned sum = 0;
    memset(h, 0, BLOCK);
    memcpy(h, name, strlen(name));
    memcpy(h + 100, "0000600", 8); /* mode, then uid and gid */
    memcpy(h + 108, "0000000", 8);
    memcpy(h + 116, "0000000", 8);
    snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
    snprintf((char *)h + 136, 12, "%011llo", (unsigned long long)(mtime > 0 ? mtime : 0));
    memset(h + 148, ' ', 8); /* the checksum counts its own field as spaces */
    h[156] = '0';            /* regular file */
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    for (int i = 0; i < BLOCK; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum); /* "%06o\0 " */
}

static int put_file(struct writer *w, const char *name, const void *p, size_t n, int64_t mtime)
{
    static const uint8_t zeros[BLOCK];
    uint8_t h[BLOCK];
    tar_header(h, name, n, mtime);
    int rc = deflate_some(w, h, BLOCK, Z_NO_FLUSH);
    if (!rc) rc = deflate_some(w, p, n, Z_NO_FLUSH);
    if (!rc) rc = deflate_some(w, zeros, pad_of(n), Z_NO_FLUSH);
    return rc;
}

/* meta.json as Go's json.Encoder writes hashicorp/raft's SnapshotMeta. */
static void render_meta(const struct storage_archive_meta *m, struct cn_buf *out)
{
    struct cn_jw w;
    cn_jw_init(&w, out, false);
    cn_jw_obj_begin(&w);
    cn_jw_key_i64(&w, "Version", m->version);
    cn_jw_key_str(&w, "ID", m->id);
    cn_jw_key_u64(&w, "Index", m->index);
    cn_jw_key_u64(&w, "Term", m->term);
    cn_jw_key_null(&w, "Peers");
    cn_jw_key(&w, "Configuration");
    cn_jw_obj_begin(&w);
    cn_jw_key(&w, "Servers");
    cn_jw_arr_begin(&w);
    for (size_t i = 0; i < m->n_servers; i++) {
        cn_jw_obj_begin(&w);
        cn_jw_key_i64(&w, "Suffrage", m->servers[i].voter ? 0 : 1);
        cn_jw_key_str(&w, "ID", m->servers[i].id);
        cn_jw_key_str(&w, "Address", m->servers[i].address);
        cn_jw_obj_end(&w);
    }
    cn_jw_arr_end(&w);
    cn_jw_obj_end(&w);
    cn_jw_key_u64(&w, "ConfigurationIndex", m->conf_index);
    cn_jw_key_u64(&w, "Size", m->size);
    cn_jw_obj_end(&w);
    cn_jw_finish(&w);
    cn_buf_putc(out, '\n');
}

static int copy_state(struct writer *w, const struct storage_archive_meta *m,
                      storage_archive_read_fn state, void *sctx, uint8_t digest[CN_SHA256_LEN],
                      struct cn_err *err)
{
    struct cn_sha256 h;
    uint8_t *buf = cn_malloc(IO_CHUNK);
    uint64_t left = m->size;
    int rc = 0;
    cn_sha256_init(&h);
    while (left && rc == 0) {
        long got = state(sctx, buf, (size_t)CN_MIN(left, (uint64_t)IO_CHUNK));
        if (got <= 0) {
            rc = got < 0 ? (int)got : CN_EIO;
            cn_err_set(err, rc, "failed to write snapshot data: %s after %llu of %llu bytes",
                       got < 0 ? cn_strerror(rc) : "state ended",
                       (unsigned long long)(m->size - left), (unsigned long long)m->size);
            break;
        }
        cn_sha256_update(&h, buf, (size_t)got);
        left -= (uint64_t)got;
        rc = deflate_some(w, buf, (size_t)got, Z_NO_FLUSH);
    }
    free(buf);
    cn_sha256_final(&h, digest);
    return rc;
}

static int write_all(struct writer *w, const struct storage_archive_meta *m,
                     storage_archive_read_fn state, void *sctx, struct cn_err *err)
{
    static const uint8_t zeros[2 * BLOCK];
    struct cn_buf meta, sums;
    uint8_t h[BLOCK], d_meta[CN_SHA256_LEN], d_state[CN_SHA256_LEN];
    char hex[2 * CN_SHA256_LEN + 1];
    cn_buf_init(&meta, CN_BUF_UNLIMITED);
    cn_buf_init(&sums, CN_BUF_UNLIMITED);
    render_meta(m, &meta);
    cn_sha256(meta.data, meta.len, d_meta);
    int rc = put_file(w, NAME_META, meta.data, meta.len, m->mtime);
    if (!rc) {
        tar_header(h, NAME_STATE, m->size, m->mtime);
        rc = deflate_some(w, h, BLOCK, Z_NO_FLUSH);
    }
    if (!rc) rc = copy_state(w, m, state, sctx, d_state, err);
    if (!rc) rc = deflate_some(w, zeros, pad_of(m->size), Z_NO_FLUSH);
    if (!rc) {
        cn_sha256_hex(d_meta, hex);
        cn_buf_putf(&sums, "%s  %s\n", hex, NAME_META);
        cn_sha256_hex(d_state, hex);
        cn_buf_putf(&sums, "%s  %s\n", hex, NAME_STATE);
        rc = put_file(w, NAME_SUMS, sums.data, sums.len, m->mtime);
    }
    if (!rc) rc = deflate_some(w, zeros, sizeof zeros, Z_NO_FLUSH); /* end of archive */
    if (!rc) rc = deflate_some(w, NULL, 0, Z_FINISH);
    cn_buf_release(&meta);
    cn_buf_release(&sums);
    return rc;
}

int storage_archive_write(const struct storage_archive_meta *m, storage_archive_read_fn state,
                          void *state_ctx, storage_archive_write_fn out, void *out_ctx, int level,
                          struct cn_err *err)
{
    cn_err_clear(err);
    if (m->size > STORAGE_ARCHIVE_STATE_MAX)
        return cn_err_set(err, CN_ETOOBIG, "snapshot state of %llu bytes is over the %llu limit",
                          (unsigned long long)m->size, STORAGE_ARCHIVE_STATE_MAX);
    if (m->n_servers > STORAGE_ARCHIVE_SERVERS_MAX)
        return cn_err_set(err, CN_EINVAL, "too many servers");
    struct writer *w = CN_NEW(struct writer);
    w->out = out;
    w->ctx = out_ctx;
    if (deflateInit2(&w->zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(w);
        return cn_err_set(err, CN_EINVAL, "bad compression level %d", level);
    }
    int rc = write_all(w, m, state, state_ctx, err);
    deflateEnd(&w->zs);
    free(w);
    if (rc && !err->msg[0])
        cn_err_set(err, rc, "failed to write snapshot file: %s", cn_strerror(rc));
    return rc;
}

/* ======================================================================== */
/* Reading                                                                  */

struct storage_archive_reader {
    storage_archive_read_fn in;
    void *in_ctx;
    z_stream zs;
    gz_header gzh;
    bool z_end, in_eof, end_seen;
    int failed; /* sticky: the first error */
    struct cn_err err;
    bool have_meta, have_state, have_sums;
    const char *where; /* Consul's prefix for a failure inside the current member */
    uint64_t in_total; /* compressed bytes received */
    struct cn_buf meta_json, sums;
    struct cn_sha256 h_state;
    uint64_t state_size, state_left, unread;
    bool in_state;
    uint8_t head[8];
    size_t nhead;
    uint8_t ibuf[IO_CHUNK];
};

static int fail(struct storage_archive_reader *rd, int code, const char *fmt, ...) CN_PRINTF(3, 4);
static int fail(struct storage_archive_reader *rd, int code, const char *fmt, ...)
{
    if (rd->failed) return rd->failed;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rd->err.msg, sizeof rd->err.msg, fmt, ap);
    va_end(ap);
    rd->err.code = code;
    rd->failed = code;
    return code;
}

static int eof_fail(struct storage_archive_reader *rd)
{
    if (rd->gzh.done != 1)
        return fail(rd, CN_ECORRUPT, "failed to decompress snapshot: %s",
                    rd->in_total ? "unexpected EOF" : "EOF");
    return fail(rd, CN_ECORRUPT,
                "%s"
                "unexpected EOF",
                rd->where);
}

static int zlib_fail(struct storage_archive_reader *rd, int zr)
{
    const char *msg = rd->zs.msg ? rd->zs.msg : zError(zr);
    if (rd->gzh.done != 1) {
        /* Go's gzip.NewReader reads the 10-byte header before it looks at
         * it: shorter input is an EOF, longer a bad header. */
        while (rd->in_total < 10 && !rd->in_eof) {
            long k = rd->in(rd->in_ctx, rd->ibuf, sizeof rd->ibuf);
            if (k <= 0) rd->in_eof = true;
            if (k > 0) rd->in_total += (uint64_t)k;
        }
        if (rd->in_total < 10) return eof_fail(rd);
        return fail(rd, CN_ECORRUPT, "failed to decompress snapshot: gzip: invalid header");
    }
    if (!strcmp(msg, "incorrect data check") || !strcmp(msg, "incorrect length check"))
        return fail(rd, CN_ECORRUPT,
                    "%s"
                    "gzip: invalid checksum",
                    rd->where);
    return fail(rd, CN_ECORRUPT,
                "%s"
                "flate: corrupt input (%s)",
                rd->where, msg);
}

/* Inflate up to n bytes into dst; *got = 0 only at the end of the stream. */
static int zread(struct storage_archive_reader *rd, void *dst, size_t n, size_t *got)
{
    *got = 0;
    if (rd->failed) return rd->failed;
    if (rd->z_end || n == 0) return 0;
    rd->zs.next_out = dst;
    rd->zs.avail_out = (uInt)CN_MIN(n, (size_t)1 << 30);
    uInt want = rd->zs.avail_out;
    while (rd->zs.avail_out > 0) {
        if (rd->zs.avail_in == 0 && !rd->in_eof) {
            long k = rd->in(rd->in_ctx, rd->ibuf, sizeof rd->ibuf);
            if (k < 0) return fail(rd, (int)k, TAR_PREFIX "%s", cn_strerror((int)k));
            if (k == 0) rd->in_eof = true;
            rd->in_total += (uint64_t)k;
            rd->zs.next_in = rd->ibuf;
            rd->zs.avail_in = (uInt)k;
        }
        int zr = inflate(&rd->zs, Z_NO_FLUSH);
        if (zr == Z_STREAM_END) {
            rd->z_end = true;
            break;
        }
        if (zr == Z_BUF_ERROR && rd->zs.avail_in == 0 && rd->in_eof) return eof_fail(rd);
        /* No progress with input and room left would loop forever. */
        if (zr != Z_OK && (zr != Z_BUF_ERROR || rd->zs.avail_in)) return zlib_fail(rd, zr);
    }
    *got = want - rd->zs.avail_out;
    return 0;
}

static int read_exact(struct storage_archive_reader *rd, void *dst, size_t n)
{
    size_t done = 0, got;
    while (done < n) {
        int rc = zread(rd, (uint8_t *)dst + done, n - done, &got);
        if (rc) return rc;
        if (got == 0) return eof_fail(rd);
        done += got;
    }
    return 0;
}

static int skip(struct storage_archive_reader *rd, size_t n)
{
    uint8_t buf[BLOCK];
    while (n) {
        size_t k = CN_MIN(n, sizeof buf);
        int rc = read_exact(rd, buf, k);
        if (rc) return rc;
        n -= k;
    }
    return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

/* An octal ustar number field: digits, optionally surrounded by spaces and
 * NULs. Base-256 (GNU) sizes are refused: we never write them. */
static bool parse_octal(const uint8_t *f, size_t n, uint64_t *out)
{
    size_t i = 0;
    uint64_t v = 0;
    bool digits = false;
    while (i < n && f[i] == ' ')
        i++;
    for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
        if (v >> 60) return false;
        v = v * 8 + (uint64_t)(f[i] - '0');
        digits = true;
    }
    for (; i < n; i++)
        if (f[i] != ' ' && f[i] != '\0') return false;
    *out = v;
    return digits;
}

static bool header_checksum_ok(const uint8_t h[BLOCK])
{
    uint64_t want;
    unsigned usum = 0;
    int ssum = 0;
    if (!parse_octal(h + 148, 8, &want)) return false;
    for (int i = 0; i < BLOCK; i++) {
        uint8_t c = (i >= 148 && i < 156) ? ' ' : h[i];
        usum += c;
        ssum += (signed char)c;
    }
    return want == usum || (int64_t)want == ssum; /* old tars summed signed chars */
}

/* The next header: 1 with a regular file's name and size, 0 at the end. */
static int next_entry(struct storage_archive_reader *rd, char name[101], uint64_t *size)
{
    uint8_t h[BLOCK];
    int rc = read_exact(rd, h, BLOCK);
    if (rc) return rc;
    if (all_zero(h, BLOCK)) {
        if ((rc = read_exact(rd, h, BLOCK))) return rc;
        if (!all_zero(h, BLOCK))
            return fail(rd, CN_ECORRUPT, TAR_PREFIX "archive/tar: invalid tar header");
        rd->end_seen = true;
        return 0;
    }
    if (!header_checksum_ok(h) || !parse_octal(h + 124, 12, size))
        return fail(rd, CN_ECORRUPT, TAR_PREFIX "archive/tar: invalid tar header");
    memcpy(name, h, 100);
    name[100] = '\0';
    /* A ustar name prefix would make a path: none of ours has one. */
    if (!memcmp(h + 257, "ustar", 5) && h[345] != '\0')
        return fail(rd, CN_ECORRUPT, READ_PREFIX "unexpected file %.100s/%s in snapshot",
                    (const char *)h + 345, name);
    if (h[156] != '0' && h[156] != '\0')
        return fail(rd, CN_ECORRUPT,
                    READ_PREFIX "unexpected entry type '%c' for \"%s\" in snapshot",
                    h[156] >= 32 && h[156] < 127 ? h[156] : '?', name);
    return 1;
}

/* A small member (meta.json, SHA256SUMS) read whole. */
static int read_small(struct storage_archive_reader *rd, const char *name, uint64_t size,
                      size_t max, struct cn_buf *out)
{
    char *at;
    if (size > max)
        return fail(rd, CN_ETOOBIG, READ_PREFIX "%s of %llu bytes is over the %zu limit", name,
                    (unsigned long long)size, max);
    if (cn_buf_reserve(out, (size_t)size, &at)) return fail(rd, CN_ETOOBIG, "no room");
    rd->where = out == &rd->meta_json ? READ_PREFIX "failed to read snapshot metadata: "
                                      : READ_PREFIX "failed to read snapshot hashes: ";
    int rc = read_exact(rd, at, (size_t)size);
    rd->where = TAR_PREFIX;
    if (rc) return rc;
    out->len = (size_t)size;
    out->data[out->len] = '\0';
    return skip(rd, pad_of(size));
}

/* Read entries until state.bin's data (returns 1) or the end (0). */
static int read_entries(struct storage_archive_reader *rd)
{
    char name[101];
    uint64_t size = 0;
    for (;;) {
        int rc = next_entry(rd, name, &size);
        if (rc <= 0) return rc;
        bool *have = !strcmp(name, NAME_META)    ? &rd->have_meta
                     : !strcmp(name, NAME_STATE) ? &rd->have_state
                     : !strcmp(name, NAME_SUMS)  ? &rd->have_sums
                                                 : NULL;
        if (!have)
            return fail(rd, CN_ECORRUPT, READ_PREFIX "unexpected file \"%s\" in snapshot", name);
        if (*have)
            return fail(rd, CN_ECORRUPT, READ_PREFIX "duplicate file \"%s\" in snapshot", name);
        *have = true;
        if (have == &rd->have_state) {
            rd->state_size = rd->state_left = size;
            rd->in_state = true;
            return 1;
        }
        rc = have == &rd->have_meta
                 ? read_small(rd, name, size, STORAGE_ARCHIVE_META_MAX, &rd->meta_json)
                 : read_small(rd, name, size, STORAGE_ARCHIVE_SUMS_MAX, &rd->sums);
        if (rc) return rc;
    }
}

int storage_archive_open(storage_archive_read_fn in, void *in_ctx,
                         struct storage_archive_reader **out, struct cn_err *err)
{
    struct storage_archive_reader *rd = CN_NEW(struct storage_archive_reader);
    rd->in = in;
    rd->in_ctx = in_ctx;
    rd->where = TAR_PREFIX;
    cn_buf_init(&rd->meta_json, STORAGE_ARCHIVE_META_MAX + 1);
    cn_buf_init(&rd->sums, STORAGE_ARCHIVE_SUMS_MAX + 1);
    cn_sha256_init(&rd->h_state);
    *out = rd;
    if (inflateInit2(&rd->zs, 15 + 16) != Z_OK) CN_BUG("inflateInit2");
    inflateGetHeader(&rd->zs, &rd->gzh);
    int rc = read_entries(rd);
    if (rc == 0) rc = fail(rd, CN_ECORRUPT, SUMS_PREFIX "file missing for \"" NAME_STATE "\"");
    if (rc < 0) {
        *err = rd->err;
        return rc;
    }
    cn_err_clear(err);
    return 0;
}

const struct cn_err *storage_archive_error(const struct storage_archive_reader *rd)
{
    return &rd->err;
}

long storage_archive_read_state(void *ctx, void *p, size_t n)
{
    struct storage_archive_reader *rd = ctx;
    if (rd->failed) return rd->failed;
    if (!rd->in_state) return 0;
    size_t k = (size_t)CN_MIN((uint64_t)n, rd->state_left);
    k = CN_MIN(k, (size_t)1 << 30);
    if (k) {
        rd->where = READ_PREFIX "failed to read or write snapshot data: ";
        int rc = read_exact(rd, p, k);
        rd->where = TAR_PREFIX;
        if (rc) return rc;
        cn_sha256_update(&rd->h_state, p, k);
        if (rd->nhead < sizeof rd->head) {
            size_t h = CN_MIN(k, sizeof rd->head - rd->nhead);
            memcpy(rd->head + rd->nhead, p, h);
            rd->nhead += h;
        }
        rd->state_left -= k;
    }
    if (rd->state_left == 0) {
        rd->in_state = false;
        int rc = skip(rd, pad_of(rd->state_size));
        if (rc) return rc;
    }
    return (long)k;
}

size_t storage_archive_state_head(const struct storage_archive_reader *rd, uint8_t out[8])
{
    memcpy(out, rd->head, rd->nhead);
    return rd->nhead;
}

uint64_t storage_archive_unread(const struct storage_archive_reader *rd)
{
    return rd->unread;
}

/* After the end-of-archive blocks: zero padding, the gzip trailer, and
 * nothing after the stream. */
static int read_tail(struct storage_archive_reader *rd)
{
    uint8_t buf[BLOCK];
    size_t total = 0, got;
    for (;;) {
        int rc = zread(rd, buf, sizeof buf, &got);
        if (rc) return rc;
        if (got == 0) break;
        total += got;
        if (!all_zero(buf, got) || total > END_PADDING_MAX)
            return fail(rd, CN_ECORRUPT, TAR_PREFIX "data after the end of the archive");
    }
    if (rd->zs.avail_in == 0 && !rd->in_eof) {
        long k = rd->in(rd->in_ctx, rd->ibuf, 1);
        if (k < 0) return fail(rd, (int)k, TAR_PREFIX "%s", cn_strerror((int)k));
        rd->in_total += (uint64_t)k;
        rd->zs.avail_in = (uInt)k;
    }
    if (rd->zs.avail_in)
        return fail(rd, CN_ECORRUPT, TAR_PREFIX "data after the end of the gzip stream");
    return 0;
}

static bool parse_hex(const char *p, uint8_t out[CN_SHA256_LEN])
{
    for (int i = 0; i < 2 * CN_SHA256_LEN; i++) {
        char c = p[i];
        int v = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (v < 0) return false;
        out[i / 2] = (uint8_t)(i % 2 ? out[i / 2] << 4 | v : v);
    }
    return true;
}

/* SHA256SUMS: every line names meta.json or state.bin with its digest; both
 * must be there (Consul's hashList.DecodeAndVerify). */
static int verify_sums(struct storage_archive_reader *rd, const uint8_t d_meta[CN_SHA256_LEN],
                       const uint8_t d_state[CN_SHA256_LEN])
{
    struct cn_str rest = cn_buf_str(&rd->sums), line;
    bool seen_meta = false, seen_state = false;
    while (rest.len) {
        uint8_t want[CN_SHA256_LEN];
        if (!cn_str_cut(&rest, '\n', &line)) {
            line = rest;
            rest = CN_STR_NULL;
        }
        size_t i = 2 * CN_SHA256_LEN;
        if (line.len < i + 2 || !parse_hex(line.p, want) || line.p[i] != ' ')
            return fail(rd, CN_ECORRUPT, SUMS_PREFIX "malformed SHA256SUMS line");
        while (i < line.len && line.p[i] == ' ')
            i++;
        struct cn_str name = cn_str_make(line.p + i, line.len - i);
        const uint8_t *have = cn_str_eq_cstr(name, NAME_META)    ? d_meta
                              : cn_str_eq_cstr(name, NAME_STATE) ? d_state
                                                                 : NULL;
        if (!have)
            return fail(rd, CN_ECORRUPT, SUMS_PREFIX "list missing hash for \"%.*s\"",
                        (int)CN_MIN(name.len, (size_t)100), name.p);
        if (memcmp(want, have, CN_SHA256_LEN))
            return fail(rd, CN_ECORRUPT, SUMS_PREFIX "hash check failed for \"%.*s\"",
                        (int)name.len, name.p);
        *(have == d_meta ? &seen_meta : &seen_state) = true;
    }
    if (!seen_meta || !seen_state)
        return fail(rd, CN_ECORRUPT, SUMS_PREFIX "file missing for \"%s\"",
                    seen_meta ? NAME_STATE : NAME_META);
    return 0;
}

static int parse_servers(struct storage_archive_reader *rd, const json_t *conf,
                         struct storage_archive_meta *m, struct cn_err *e)
{
    const json_t *servers = conf ? cn_json_get(conf, "Servers") : NULL;
    size_t i;
    const json_t *s;
    if (!servers || json_is_null(servers)) return 0;
    if (!json_is_array(servers) || json_array_size(servers) > STORAGE_ARCHIVE_SERVERS_MAX)
        return cn_err_set(e, CN_EINVAL, "bad Configuration.Servers");
    json_array_foreach(servers, i, s)
    {
        const char *id = "", *addr = "";
        int64_t suffrage = 0;
        if (!json_is_object(s) || cn_json_str(s, "ID", &id, e) ||
            cn_json_str(s, "Address", &addr, e) || cn_json_i64(s, "Suffrage", &suffrage, e))
            return cn_err_set(e, CN_EINVAL, "bad Configuration.Servers entry");
        struct storage_archive_server *out = &m->servers[m->n_servers++];
        snprintf(out->id, sizeof out->id, "%s", id);
        snprintf(out->address, sizeof out->address, "%s", addr);
        out->voter = suffrage == 0;
    }
    (void)rd;
    return 0;
}

static int parse_meta(struct storage_archive_reader *rd, struct storage_archive_meta *m)
{
    struct cn_err e;
    int64_t version = 0;
    const char *id = "";
    json_t *v = cn_json_parse(rd->meta_json.data ? rd->meta_json.data : "", rd->meta_json.len, &e);
    memset(m, 0, sizeof *m);
    if (v && !json_is_object(v)) cn_err_set(&e, CN_EINVAL, "not an object");
    int rc = !v || !json_is_object(v) || cn_json_i64(v, "Version", &version, &e) ||
             cn_json_str(v, "ID", &id, &e) || cn_json_u64(v, "Index", &m->index, &e) ||
             cn_json_u64(v, "Term", &m->term, &e) || cn_json_u64(v, "Size", &m->size, &e) ||
             cn_json_u64(v, "ConfigurationIndex", &m->conf_index, &e) ||
             parse_servers(rd, cn_json_get(v, "Configuration"), m, &e);
    if (!rc) {
        m->version = (int)CN_MIN(CN_MAX(version, (int64_t)-1), (int64_t)INT32_MAX);
        snprintf(m->id, sizeof m->id, "%s", id);
    }
    json_decref(v);
    if (rc)
        return fail(rd, CN_ECORRUPT, READ_PREFIX "failed to decode snapshot metadata: %s", e.msg);
    if (m->version != STORAGE_ARCHIVE_VERSION)
        return fail(rd, CN_EUNSUPPORTED, READ_PREFIX "unsupported snapshot version %lld",
                    (long long)version);
    if (m->size != rd->state_size)
        return fail(rd, CN_ECORRUPT,
                    READ_PREFIX
                    "snapshot size mismatch: meta.json says %llu bytes, state.bin has %llu",
                    (unsigned long long)m->size, (unsigned long long)rd->state_size);
    return 0;
}

int storage_archive_finish(struct storage_archive_reader *rd, struct storage_archive_meta *meta,
                           struct cn_err *err)
{
    uint8_t buf[4096], d_meta[CN_SHA256_LEN], d_state[CN_SHA256_LEN];
    while (!rd->failed && rd->in_state) {
        long got = storage_archive_read_state(rd, buf, sizeof buf);
        if (got > 0) rd->unread += (uint64_t)got;
    }
    if (!rd->failed && !rd->end_seen && read_entries(rd) > 0)
        fail(rd, CN_ECORRUPT, READ_PREFIX "duplicate file \"" NAME_STATE "\" in snapshot");
    if (!rd->failed) read_tail(rd);
    if (!rd->failed && !rd->have_meta)
        fail(rd, CN_ECORRUPT, SUMS_PREFIX "file missing for \"" NAME_META "\"");
    if (!rd->failed && !rd->have_sums)
        fail(rd, CN_ECORRUPT, SUMS_PREFIX "file missing for \"" NAME_SUMS "\"");
    if (!rd->failed) {
        cn_sha256(rd->meta_json.data ? rd->meta_json.data : "", rd->meta_json.len, d_meta);
        cn_sha256_final(&rd->h_state, d_state);
        cn_sha256_init(&rd->h_state);
        verify_sums(rd, d_meta, d_state);
    }
    struct storage_archive_meta m;
    if (!rd->failed) parse_meta(rd, &m);
    if (rd->failed) {
        *err = rd->err;
        return rd->failed;
    }
    if (meta) *meta = m;
    cn_err_clear(err);
    return 0;
}

void storage_archive_close(struct storage_archive_reader *rd)
{
    if (!rd) return;
    inflateEnd(&rd->zs);
    cn_buf_release(&rd->meta_json);
    cn_buf_release(&rd->sums);
    free(rd);
}

int storage_archive_verify(storage_archive_read_fn in, void *in_ctx,
                           struct storage_archive_meta *meta, struct cn_err *err)
{
    struct storage_archive_reader *rd;
    int rc = storage_archive_open(in, in_ctx, &rd, err);
    if (rc == 0) rc = storage_archive_finish(rd, meta, err);
    storage_archive_close(rd);
    return rc;
}
