/*
 * fuzz_snapshot - the snapshot reader on hostile files: open, stream every
 * chunk, the state_read_fn adapter, inspect. Byte 0 bit 0 asks the harness
 * to repair the checksums it can find (header, chunks, trailer) so that
 * mutations of lengths and fields get past the CRCs into the parser.
 * Nothing may read out of bounds; a file that verifies must stream exactly
 * the body length its trailer states.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cn_codec.h"
#include "lib/cn_crc32c.h"
#include "lib/cn_log.h"
#include "storage/storage_int.h"

static void fix_checksums(uint8_t *p, size_t n)
{
    if (n < 60 + 40) return;
    uint32_t conf = cn_get_le32(p + 40);
    size_t hlen = 56 + (size_t)conf + 4;
    if (conf > STORAGE_SNAP_CONF_MAX || hlen > n - 40) return;
    cn_put_le32(p + 12, (uint32_t)hlen);
    cn_put_le32(p + hlen - 4, cn_crc32c(0, p, hlen - 4));
    uint32_t body = 0;
    uint64_t len = 0, chunks = 0;
    size_t off = hlen;
    while (off + 8 <= n - 32) {
        uint32_t cl = cn_get_le32(p + off);
        if (cl == 0 || cl > n - 32 - off - 8) break;
        cn_put_le32(p + off + 4, cn_crc32c(0, p + off + 8, cl));
        body = cn_crc32c(body, p + off + 8, cl);
        len += cl;
        chunks++;
        off += 8 + (size_t)cl;
    }
    uint8_t *t = p + n - 32;
    memcpy(t, "CNSNPEND", 8);
    cn_put_le64(t + 8, len);
    cn_put_le64(t + 16, chunks);
    cn_put_le32(t + 24, body);
    cn_put_le32(t + 28, cn_crc32c(0, t, 28));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        cn_log_set_level(CN_LOG_OFF);
        init = true;
    }
    if (size < 1 || size > (8u << 20)) return 0;
    uint8_t *img = malloc(size - 1 ? size - 1 : 1);
    memcpy(img, data + 1, size - 1);
    if (data[0] & 1) fix_checksums(img, size - 1);
    struct storage_vfs *vfs = storage_fault_new();
    struct storage_file *f;
    vfs->mkdir(vfs, "/s");
    if (vfs->open(vfs, "/s/x.snap", STORAGE_O_RDWR | STORAGE_O_CREAT, &f) == 0) {
        vfs->pwrite(vfs, f, img, size - 1, 0);
        vfs->close(vfs, f);
    }
    struct storage_snapshot_reader *r;
    struct cn_err err;
    if (storage_snapshot_open(vfs, "/s/x.snap", &r, &err) == 0) {
        uint64_t total = 0, want = storage_snapshot_reader_meta(r)->body_len;
        int rc;
        if (data[0] & 2) {
            uint8_t buf[333];
            long k;
            while ((k = storage_snapshot_read_fn(r, buf, sizeof buf)) > 0)
                total += (uint64_t)k;
            rc = k < 0 ? (int)k : 0;
        } else {
            const void *p;
            size_t n;
            while ((rc = storage_snapshot_next(r, &p, &n, &err)) == 0 && n)
                total += n;
        }
        if (rc == 0 && total != want) abort(); /* verified, yet not what the trailer says */
        storage_snapshot_close(r);
    }
    struct storage_snapshot_meta m;
    if (storage_snapshot_inspect(vfs, "/s/x.snap", &m, &err) == 0) free((void *)m.conf);
    storage_fault_free(vfs);
    free(img);
    return 0;
}
