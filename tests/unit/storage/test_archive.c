/*
 * Snapshot archives (storage/archive.h): round trips at tar block
 * boundaries and in awkward read sizes, every truncation and most byte
 * flips refused, and hand-built archives that break one rule each (wrong or
 * missing sums, unexpected or duplicate files, size and version mismatch,
 * data after the end) refused with Consul's wording.
 */
#include <zlib.h>

#include "lib/cn_buf.h"
#include "lib/cn_rand.h"
#include "lib/cn_sha256.h"
#include "storage/archive.h"
#include "test.h"

static int buf_out(void *ctx, const void *p, size_t n)
{
    return cn_buf_append(ctx, p, n);
}

/* A read function that hands out at most step bytes per call. */
struct src {
    const uint8_t *p;
    size_t len, pos, step;
};

static long src_read(void *ctx, void *p, size_t n)
{
    struct src *s = ctx;
    size_t k = CN_MIN(CN_MIN(n, s->len - s->pos), s->step);
    memcpy(p, s->p + s->pos, k);
    s->pos += k;
    return (long)k;
}

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
    struct cn_rand r;
    cn_rand_seed(&r, seed);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)cn_rand_u64(&r);
}

static void make_meta(struct storage_archive_meta *m, uint64_t size)
{
    memset(m, 0, sizeof *m);
    m->version = STORAGE_ARCHIVE_VERSION;
    snprintf(m->id, sizeof m->id, "2-%llu-1700000000000", 1000ull + size);
    m->index = 1000 + size;
    m->term = 2;
    m->size = size;
    m->conf_index = 1;
    m->n_servers = 1;
    snprintf(m->servers[0].id, sizeof m->servers[0].id, "0123456789abcdef");
    snprintf(m->servers[0].address, sizeof m->servers[0].address, "127.0.0.1:8300");
    m->servers[0].voter = true;
    m->mtime = 1700000000;
}

/* Archive `size` pseudo-random state bytes into out. */
static void make_archive(struct cn_buf *out, uint8_t *state, size_t size)
{
    struct storage_archive_meta m;
    struct cn_err err;
    fill(state, size, size);
    make_meta(&m, size);
    struct src s = {state, size, 0, 4000};
    cn_buf_init(out, CN_BUF_UNLIMITED);
    ASSERT_OK(storage_archive_write(&m, src_read, &s, buf_out, out, -1, &err));
}

static int verify_buf(const void *p, size_t n, struct storage_archive_meta *m, struct cn_err *err)
{
    struct storage_archive_mem mem = {p, n, 0};
    return storage_archive_verify(storage_archive_mem_read, &mem, m, err);
}

TEST(archive, round_trip_at_block_boundaries)
{
    static const size_t sizes[] = {0, 1, 511, 512, 513, 1024, 65535, 65536, 65537, 300000};
    for (size_t i = 0; i < CN_ARRAY_SIZE(sizes); i++) {
        size_t size = sizes[i];
        uint8_t *state = cn_malloc(size + 1), *back = cn_malloc(size + 1);
        struct cn_buf a;
        struct cn_err err;
        struct storage_archive_meta m, want;
        struct storage_archive_reader *rd;
        make_archive(&a, state, size);
        make_meta(&want, size);
        /* read the state back in 7-byte requests over a 13-byte input feed */
        struct src in = {(const uint8_t *)a.data, a.len, 0, 13};
        ASSERT_OK(storage_archive_open(src_read, &in, &rd, &err));
        size_t got = 0;
        long k;
        while ((k = storage_archive_read_state(rd, back + got, CN_MIN((size_t)7, size + 1 - got))) >
               0)
            got += (size_t)k;
        ASSERT_EQ(0, k);
        ASSERT_EQ(size, got);
        ASSERT(size == 0 || !memcmp(state, back, size));
        ASSERT_OK(storage_archive_finish(rd, &m, &err));
        ASSERT_U64_EQ(0, storage_archive_unread(rd));
        storage_archive_close(rd);
        ASSERT_EQ(1, m.version);
        ASSERT_STR_EQ(want.id, m.id);
        ASSERT_U64_EQ(want.index, m.index);
        ASSERT_U64_EQ(2, m.term);
        ASSERT_U64_EQ(size, m.size);
        ASSERT_U64_EQ(1, m.conf_index);
        ASSERT_EQ(1, m.n_servers);
        ASSERT_STR_EQ("127.0.0.1:8300", m.servers[0].address);
        ASSERT(m.servers[0].voter);
        free(state);
        free(back);
        cn_buf_release(&a);
    }
}

TEST(archive, meta_json_is_consuls_shape)
{
    uint8_t state[10];
    struct cn_buf a, plain;
    make_archive(&a, state, sizeof state);
    /* gunzip and look at the first tar member */
    cn_buf_init(&plain, CN_BUF_UNLIMITED);
    z_stream zs = {0};
    ASSERT_EQ(Z_OK, inflateInit2(&zs, 16 + 15));
    char out[8192];
    zs.next_in = (Bytef *)a.data;
    zs.avail_in = (uInt)a.len;
    zs.next_out = (Bytef *)out;
    zs.avail_out = sizeof out;
    ASSERT_EQ(Z_STREAM_END, inflate(&zs, Z_FINISH));
    inflateEnd(&zs);
    ASSERT_STR_EQ("meta.json", out);
    ASSERT_MEM_EQ("ustar\0"
                  "00",
                  out + 257, 8);
    const char *json = out + 512;
    const char *want = "{\"Version\":1,\"ID\":\"2-1010-1700000000000\",\"Index\":1010,\"Term\":2,"
                       "\"Peers\":null,\"Configuration\":{\"Servers\":[{\"Suffrage\":0,"
                       "\"ID\":\"0123456789abcdef\",\"Address\":\"127.0.0.1:8300\"}]},"
                       "\"ConfigurationIndex\":1,\"Size\":10}\n";
    ASSERT_MEM_EQ(want, json, strlen(want));
    /* state.bin follows, then SHA256SUMS with both digests */
    size_t off = 512 + ((strlen(want) + 511) / 512) * 512;
    ASSERT_STR_EQ("state.bin", out + off);
    off += 1024;
    ASSERT_STR_EQ("SHA256SUMS", out + off);
    uint8_t d[CN_SHA256_LEN];
    char hex[65], line[128];
    cn_sha256(state, sizeof state, d);
    cn_sha256_hex(d, hex);
    snprintf(line, sizeof line, "%s  state.bin\n", hex);
    ASSERT(strstr(out + off + 512, line) != NULL);
    cn_buf_release(&a);
    cn_buf_release(&plain);
}

TEST(archive, every_truncation_is_refused)
{
    uint8_t state[3000];
    struct cn_buf a;
    make_archive(&a, state, sizeof state);
    for (size_t n = 0; n < a.len; n++) {
        struct cn_err err;
        int rc = verify_buf(a.data, n, NULL, &err);
        if (rc == 0) FAIL("truncation to %zu of %zu bytes was accepted", n, a.len);
        ASSERT(err.msg[0] != '\0');
    }
    struct cn_err err;
    ASSERT_EQ(CN_ECORRUPT, verify_buf(a.data, 0, NULL, &err));
    ASSERT_STR_EQ("failed to decompress snapshot: EOF", err.msg);
    ASSERT_EQ(CN_ECORRUPT, verify_buf(a.data, a.len - 1, NULL, &err));
    ASSERT_STR_EQ("failed to read snapshot file: failed reading snapshot: unexpected EOF", err.msg);
    cn_buf_release(&a);
}

/* The decompressed bytes of a gzip stream (the tar), or false if zlib
 * refuses it. */
static bool gunzip(const void *p, size_t n, struct cn_buf *out)
{
    z_stream zs = {0};
    char buf[65536];
    int zr = Z_OK;
    cn_buf_reset(out);
    if (inflateInit2(&zs, 16 + 15) != Z_OK) return false;
    zs.next_in = (Bytef *)p;
    zs.avail_in = (uInt)n;
    while (zr == Z_OK) {
        zs.next_out = (Bytef *)buf;
        zs.avail_out = sizeof buf;
        zr = inflate(&zs, Z_NO_FLUSH);
        cn_buf_put(out, buf, sizeof buf - zs.avail_out);
    }
    inflateEnd(&zs);
    return zr == Z_STREAM_END;
}

TEST(archive, byte_flips_are_refused)
{
    /* A flip must be refused unless it changes nothing the archive says:
     * gzip's MTIME, XFL and OS bytes, the unused bits at the end of the last
     * deflate byte and code lengths of symbols the data never uses are
     * covered by no checksum, and are harmless (typically 7-10 of ~5500). */
    uint8_t state[5000];
    struct cn_buf a, want, got;
    struct cn_rand r;
    size_t accepted = 0;
    cn_rand_seed(&r, cn_test_seed());
    make_archive(&a, state, sizeof state);
    cn_buf_init(&want, CN_BUF_UNLIMITED);
    cn_buf_init(&got, CN_BUF_UNLIMITED);
    ASSERT(gunzip(a.data, a.len, &want));
    uint8_t *copy = cn_malloc(a.len);
    for (size_t pos = 0; pos < a.len; pos++) {
        memcpy(copy, a.data, a.len);
        copy[pos] ^= (uint8_t)(1u << cn_rand_below(&r, 8));
        struct cn_err err;
        if (verify_buf(copy, a.len, NULL, &err) != 0) continue;
        accepted++;
        if (!gunzip(copy, a.len, &got) || got.len != want.len ||
            memcmp(got.data, want.data, got.len))
            FAIL("flip at byte %zu of %zu changed the content and was accepted", pos, a.len);
    }
    if (accepted * 100 > a.len) FAIL("%zu of %zu flips accepted", accepted, a.len);
    free(copy);
    cn_buf_release(&a);
    cn_buf_release(&want);
    cn_buf_release(&got);
}

TEST(archive, garbage_is_not_gzip)
{
    /* Consul 1.7's answers, byte for byte (Go reads gzip's 10-byte header
     * before checking it) */
    struct cn_err err;
    ASSERT_EQ(CN_ECORRUPT, verify_buf("this is not a snapshot", 22, NULL, &err));
    ASSERT_STR_EQ("failed to decompress snapshot: gzip: invalid header", err.msg);
    ASSERT_EQ(CN_ECORRUPT, verify_buf("garbage", 7, NULL, &err));
    ASSERT_STR_EQ("failed to decompress snapshot: unexpected EOF", err.msg);
}

TEST(archive, truncation_inside_state_bin_names_it)
{
    uint8_t state[300000];
    struct cn_buf a;
    struct cn_err err;
    make_archive(&a, state, sizeof state); /* random bytes: barely compressible */
    ASSERT_EQ(CN_ECORRUPT, verify_buf(a.data, a.len / 2, NULL, &err));
    ASSERT_STR_EQ("failed to read snapshot file: failed to read or write snapshot data: "
                  "unexpected EOF",
                  err.msg);
    cn_buf_release(&a);
}

/* ---- hand-built archives ---------------------------------------------- */

struct member {
    const char *name;
    const char *data; /* NULL: the sums of the members before (SHA256SUMS) */
    size_t len;
    char type;
};

static void tar_member(struct cn_buf *tar, const char *name, const void *p, size_t n, char type)
{
    uint8_t h[512] = {0};
    unsigned sum = 0;
    memcpy(h, name, strlen(name));
    memcpy(h + 100, "0000600", 8);
    snprintf((char *)h + 124, 12, "%011zo", n);
    memset(h + 148, ' ', 8);
    h[156] = (uint8_t)type;
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    for (int i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    cn_buf_put(tar, h, 512);
    cn_buf_put(tar, p, n);
    static const char zeros[512];
    cn_buf_put(tar, zeros, (512 - n % 512) % 512);
}

static void gzip_buf(const void *p, size_t n, struct cn_buf *out)
{
    z_stream zs = {0};
    ASSERT_EQ(Z_OK, deflateInit2(&zs, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY));
    char *at;
    size_t cap = deflateBound(&zs, (uLong)n) + 64;
    ASSERT_OK(cn_buf_reserve(out, cap, &at));
    zs.next_in = (Bytef *)p;
    zs.avail_in = (uInt)n;
    zs.next_out = (Bytef *)at;
    zs.avail_out = (uInt)cap;
    ASSERT_EQ(Z_STREAM_END, deflate(&zs, Z_FINISH));
    out->len += cap - zs.avail_out;
    deflateEnd(&zs);
}

static const char META[] = "{\"Version\":1,\"ID\":\"1-5-0\",\"Index\":5,\"Term\":1,\"Size\":5}\n";

static void sum_line(struct cn_buf *b, const char *name, const void *p, size_t n)
{
    uint8_t d[CN_SHA256_LEN];
    char hex[65];
    cn_sha256(p, n, d);
    cn_sha256_hex(d, hex);
    cn_buf_putf(b, "%s  %s\n", hex, name);
}

/* meta.json + state.bin ("hello") + sums (given, or correct when NULL),
 * extra members before the sums, then the end blocks and gzip. */
static int build_and_verify(const char *meta, const char *sums, const struct member *extra,
                            size_t nextra, const char *after_end, size_t after_len,
                            struct cn_err *err)
{
    struct cn_buf tar, gz, s;
    cn_buf_init(&tar, CN_BUF_UNLIMITED);
    cn_buf_init(&gz, CN_BUF_UNLIMITED);
    cn_buf_init(&s, CN_BUF_UNLIMITED);
    tar_member(&tar, "meta.json", meta, strlen(meta), '0');
    tar_member(&tar, "state.bin", "hello", 5, '0');
    for (size_t i = 0; i < nextra; i++)
        tar_member(&tar, extra[i].name, extra[i].data, extra[i].len, extra[i].type);
    if (sums) {
        cn_buf_puts(&s, sums);
    } else {
        sum_line(&s, "meta.json", meta, strlen(meta));
        sum_line(&s, "state.bin", "hello", 5);
    }
    tar_member(&tar, "SHA256SUMS", s.data, s.len, '0');
    static const char zeros[1024];
    cn_buf_put(&tar, zeros, sizeof zeros);
    gzip_buf(tar.data, tar.len, &gz);
    if (after_end) cn_buf_put(&gz, after_end, after_len);
    int rc = verify_buf(gz.data, gz.len, NULL, err);
    cn_buf_release(&tar);
    cn_buf_release(&gz);
    cn_buf_release(&s);
    return rc;
}

#define INTEGRITY "failed to read snapshot file: failed checking integrity of snapshot: "

TEST(archive, hand_built_valid_archive_is_accepted)
{
    struct cn_err err;
    ASSERT_OK(build_and_verify(META, NULL, NULL, 0, NULL, 0, &err));
}

TEST(archive, wrong_or_missing_sums_are_refused)
{
    struct cn_err err;
    struct cn_buf s;
    cn_buf_init(&s, CN_BUF_UNLIMITED);
    sum_line(&s, "meta.json", META, strlen(META));
    sum_line(&s, "state.bin", "hellO", 5);
    ASSERT_EQ(CN_ECORRUPT, build_and_verify(META, s.data, NULL, 0, NULL, 0, &err));
    ASSERT_STR_EQ(INTEGRITY "hash check failed for \"state.bin\"", err.msg);

    cn_buf_reset(&s);
    sum_line(&s, "meta.json", META, strlen(META));
    ASSERT_EQ(CN_ECORRUPT, build_and_verify(META, s.data, NULL, 0, NULL, 0, &err));
    ASSERT_STR_EQ(INTEGRITY "file missing for \"state.bin\"", err.msg);

    cn_buf_reset(&s);
    sum_line(&s, "meta.json", META, strlen(META));
    sum_line(&s, "state.bin", "hello", 5);
    sum_line(&s, "other.bin", "x", 1);
    ASSERT_EQ(CN_ECORRUPT, build_and_verify(META, s.data, NULL, 0, NULL, 0, &err));
    ASSERT_STR_EQ(INTEGRITY "list missing hash for \"other.bin\"", err.msg);

    ASSERT_EQ(CN_ECORRUPT, build_and_verify(META, "not a sums line\n", NULL, 0, NULL, 0, &err));
    cn_buf_release(&s);
}

TEST(archive, unexpected_duplicate_and_odd_members_are_refused)
{
    struct cn_err err;
    struct member other = {"other.txt", "x", 1, '0'};
    ASSERT_EQ(CN_ECORRUPT, build_and_verify(META, NULL, &other, 1, NULL, 0, &err));
    ASSERT_STR_EQ("failed to read snapshot file: unexpected file \"other.txt\" in snapshot",
                  err.msg);
    struct member dup = {"state.bin", "hello", 5, '0'};
    ASSERT_EQ(CN_ECORRUPT, build_and_verify(META, NULL, &dup, 1, NULL, 0, &err));
    ASSERT_STR_EQ("failed to read snapshot file: duplicate file \"state.bin\" in snapshot",
                  err.msg);
    struct member link = {"meta.json", "", 0, '2'};
    ASSERT_EQ(CN_ECORRUPT, build_and_verify(META, NULL, &link, 1, NULL, 0, &err));
}

TEST(archive, meta_json_is_checked)
{
    struct cn_err err;
    const char *v2 = "{\"Version\":2,\"ID\":\"x\",\"Index\":5,\"Term\":1,\"Size\":5}\n";
    ASSERT_EQ(CN_EUNSUPPORTED, build_and_verify(v2, NULL, NULL, 0, NULL, 0, &err));
    ASSERT_STR_EQ("failed to read snapshot file: unsupported snapshot version 2", err.msg);
    const char *sz = "{\"Version\":1,\"ID\":\"x\",\"Index\":5,\"Term\":1,\"Size\":6}\n";
    ASSERT_EQ(CN_ECORRUPT, build_and_verify(sz, NULL, NULL, 0, NULL, 0, &err));
    ASSERT_STR_EQ("failed to read snapshot file: snapshot size mismatch: meta.json says 6 bytes, "
                  "state.bin has 5",
                  err.msg);
    ASSERT_EQ(CN_ECORRUPT, build_and_verify("{\"Version\":", NULL, NULL, 0, NULL, 0, &err));
    ASSERT(strstr(err.msg, "failed to decode snapshot metadata: ") != NULL);
    const char *ty = "{\"Version\":1,\"Index\":\"five\",\"Size\":5}\n";
    ASSERT_EQ(CN_ECORRUPT, build_and_verify(ty, NULL, NULL, 0, NULL, 0, &err));
}

TEST(archive, data_after_the_end_is_refused)
{
    struct cn_err err;
    ASSERT_EQ(CN_ECORRUPT, build_and_verify(META, NULL, NULL, 0, "junk", 4, &err));
    ASSERT_STR_EQ("failed to read snapshot file: failed reading snapshot: data after the end of "
                  "the gzip stream",
                  err.msg);
}

TEST(archive, reader_reports_unread_state)
{
    uint8_t state[2000], buf[100];
    struct cn_buf a;
    struct cn_err err;
    struct storage_archive_reader *rd;
    make_archive(&a, state, sizeof state);
    struct storage_archive_mem mem = {(const uint8_t *)a.data, a.len, 0};
    ASSERT_OK(storage_archive_open(storage_archive_mem_read, &mem, &rd, &err));
    ASSERT_EQ(100, storage_archive_read_state(rd, buf, sizeof buf));
    uint8_t head[8];
    ASSERT_EQ(8, storage_archive_state_head(rd, head));
    ASSERT_MEM_EQ(state, head, 8);
    ASSERT_OK(storage_archive_finish(rd, NULL, &err));
    ASSERT_U64_EQ(1900, storage_archive_unread(rd));
    storage_archive_close(rd);
    cn_buf_release(&a);
}

TEST(archive, a_short_state_source_fails_the_write)
{
    struct storage_archive_meta m;
    struct cn_buf out;
    struct cn_err err;
    make_meta(&m, 100);
    struct src s = {(const uint8_t *)"only ten b", 10, 0, 100};
    cn_buf_init(&out, CN_BUF_UNLIMITED);
    ASSERT_NE(0, storage_archive_write(&m, src_read, &s, buf_out, &out, 1, &err));
    ASSERT(strstr(err.msg, "after 10 of 100 bytes") != NULL);
    cn_buf_release(&out);
}
