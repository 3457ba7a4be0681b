/*
 * fuzz_snapshot_archive - the snapshot archive reader (storage/archive.h)
 * on hostile input: what PUT /v1/snapshot, `cairn snapshot inspect` and
 * every server applying a restore feed it.
 *
 * Byte 0 picks how the rest is used:
 *   bit 0 clear: the bytes are the archive (gzip'd tar) as sent;
 *   bit 0 set:   the bytes describe members, "<u8 name len><name><u16 LE
 *                size><data>" repeated, which the harness packs into a
 *                valid tar (checksums right) and gzips, so mutations reach
 *                the member rules, meta.json, SHA256SUMS and the sums;
 *                bit 1 then also appends a correct SHA256SUMS, so accepted
 *                archives are reachable.
 * Byte 1 is the read size (1..256) for the input and for state.bin.
 * Invariants: never a read out of bounds or a leak; an archive that
 * finishes without error streamed exactly the Size its meta.json states,
 * and the one-shot verifier agrees with the streaming reader.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "lib/cn_buf.h"
#include "lib/cn_log.h"
#include "lib/cn_sha256.h"
#include "storage/archive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct src {
    const uint8_t *p;
    size_t len, pos, step;
};

static long src_read(void *ctx, void *p, size_t n)
{
    struct src *s = ctx;
    size_t k = n < s->step ? n : s->step;
    if (k > s->len - s->pos) k = s->len - s->pos;
    memcpy(p, s->p + s->pos, k);
    s->pos += k;
    return (long)k;
}

static void tar_member(struct cn_buf *tar, const char *name, size_t nlen, const void *p, size_t n)
{
    uint8_t h[512] = {0};
    unsigned sum = 0;
    memcpy(h, name, nlen < 100 ? nlen : 100);
    memcpy(h + 100, "0000600", 8);
    snprintf((char *)h + 124, 12, "%011zo", n);
    memset(h + 148, ' ', 8);
    h[156] = '0';
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    for (int i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    static const uint8_t zeros[512];
    cn_buf_put(tar, h, 512);
    cn_buf_put(tar, p, n);
    cn_buf_put(tar, zeros, (512 - n % 512) % 512);
}

static void sum_line(struct cn_buf *sums, const char *name, const void *p, size_t n)
{
    uint8_t d[CN_SHA256_LEN];
    char hex[2 * CN_SHA256_LEN + 1];
    cn_sha256(p, n, d);
    cn_sha256_hex(d, hex);
    cn_buf_putf(sums, "%s  %s\n", hex, name);
}

/* Members described by the input, packed into a tar and gzipped. */
static void build(const uint8_t *p, size_t n, bool add_sums, struct cn_buf *out)
{
    struct cn_buf tar, sums;
    cn_buf_init(&tar, CN_BUF_UNLIMITED);
    cn_buf_init(&sums, CN_BUF_UNLIMITED);
    size_t i = 0;
    while (i < n) {
        size_t nlen = p[i++];
        if (nlen > n - i) break;
        char name[256];
        memcpy(name, p + i, nlen);
        name[nlen] = '\0';
        i += nlen;
        if (n - i < 2) break;
        size_t len = p[i] | (size_t)p[i + 1] << 8;
        i += 2;
        if (len > n - i) len = n - i;
        tar_member(&tar, name, nlen, p + i, len);
        if (add_sums && strlen(name) == nlen) sum_line(&sums, name, p + i, len);
        i += len;
    }
    if (add_sums) tar_member(&tar, "SHA256SUMS", 10, sums.data ? sums.data : "", sums.len);
    static const uint8_t zeros[1024];
    cn_buf_put(&tar, zeros, sizeof zeros);
    z_stream zs = {0};
    deflateInit2(&zs, 1, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY);
    char *at;
    size_t cap = deflateBound(&zs, (uLong)tar.len) + 64;
    if (cn_buf_reserve(out, cap, &at) == 0) {
        zs.next_in = (Bytef *)tar.data;
        zs.avail_in = (uInt)tar.len;
        zs.next_out = (Bytef *)at;
        zs.avail_out = (uInt)cap;
        deflate(&zs, Z_FINISH);
        out->len += cap - zs.avail_out;
    }
    deflateEnd(&zs);
    cn_buf_release(&tar);
    cn_buf_release(&sums);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        cn_log_set_level(CN_LOG_OFF);
        init = true;
    }
    if (size < 2 || size > (1u << 20)) return 0;
    struct cn_buf built;
    cn_buf_init(&built, CN_BUF_UNLIMITED);
    const uint8_t *archive = data + 2;
    size_t len = size - 2, step = (size_t)data[1] + 1;
    if (data[0] & 1) {
        build(data + 2, size - 2, data[0] & 2, &built);
        archive = (const uint8_t *)built.data;
        len = built.len;
    }
    struct src in = {archive, len, 0, step};
    struct storage_archive_reader *rd;
    struct storage_archive_meta m;
    struct cn_err err;
    int rc = storage_archive_open(src_read, &in, &rd, &err);
    uint64_t streamed = 0;
    if (rc == 0) {
        uint8_t buf[256];
        long k;
        /* read part of state.bin only, sometimes: finish drains the rest */
        size_t stop = data[0] & 4 ? 300 : SIZE_MAX;
        while (streamed < stop && (k = storage_archive_read_state(rd, buf, step)) > 0)
            streamed += (uint64_t)k;
        rc = storage_archive_finish(rd, &m, &err);
        if (rc == 0 && streamed + storage_archive_unread(rd) != m.size) abort();
    }
    storage_archive_close(rd);
    struct storage_archive_mem mem = {archive, len, 0};
    int rc2 = storage_archive_verify(storage_archive_mem_read, &mem, NULL, &err);
    if ((rc == 0) != (rc2 == 0)) abort();
    cn_buf_release(&built);
    return 0;
}
