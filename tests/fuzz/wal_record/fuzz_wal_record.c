/*
 * fuzz_wal_record - the log's decoders on hostile bytes: the record, segment
 * header and hard state codecs directly, then recovery (a read-only open of a
 * log directory) over segment images built from the input, then reads.
 *
 * Input: byte 0 selects the layout. Bit 0: give the first segment a valid
 * header (so mutations reach the records); bit 1: split the rest into two
 * segments. Everything must be refused or loaded without reading out of
 * bounds; whatever loads must read back with valid checksums.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cn_log.h"
#include "storage/storage_int.h"

static void put_seg(struct storage_vfs *vfs, const char *path, const uint8_t *p, size_t n,
                    bool header, uint64_t seq, uint64_t first, uint64_t prev)
{
    static uint8_t img[STORAGE_SEGMENT_SIZE_MIN];
    size_t off = 0;
    memset(img, 0, sizeof img);
    if (header) {
        struct storage__seg_hdr h = {seq, first, sizeof img, prev, prev ? STORAGE__SEG_DATA : 0};
        storage__seg_hdr_encode(img, &h);
        off = STORAGE__SEG_DATA;
    }
    if (n > sizeof img - off) n = sizeof img - off;
    memcpy(img + off, p, n);
    struct storage_file *f;
    if (vfs->open(vfs, path, STORAGE_O_RDWR | STORAGE_O_CREAT, &f)) return;
    vfs->pwrite(vfs, f, img, sizeof img, 0);
    vfs->sync(vfs, f, false);
    vfs->close(vfs, f);
}

static void codecs(const uint8_t *p, size_t n)
{
    struct storage__rec r;
    struct storage__seg_hdr h;
    struct storage_hard_state hs;
    storage__rec_decode(p, n, n ? p[0] * 1000u : 0, &r);
    storage__rec_decode(p, n, STORAGE_ENTRY_MAX, &r);
    storage__seg_hdr_decode(p, n, &h);
    storage__hs_decode(p, n, &hs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        cn_log_set_level(CN_LOG_OFF);
        init = true;
    }
    codecs(data, size);
    if (size < 9) return 0;
    uint8_t mode = data[0];
    uint64_t first = 1 + (data[1] | (uint64_t)data[2] << 8);
    data += 3;
    size -= 3;
    struct storage_vfs *vfs = storage_fault_new();
    vfs->mkdir(vfs, "/f");
    vfs->mkdir(vfs, "/f/raft");
    size_t cut = (mode & 2) ? size / 2 : size;
    put_seg(vfs, "/f/raft/wal-0000000000000001.seg", data, cut, mode & 1, 1, first, 0);
    if (mode & 2)
        put_seg(vfs, "/f/raft/wal-0000000000000002.seg", data + cut, size - cut, mode & 4, 2,
                first + (mode >> 4), 1);
    struct storage_options o = {
        .dir = "/f", .vfs = vfs, .read_only = true, .segment_size = STORAGE_SEGMENT_SIZE_MIN};
    struct storage *s;
    struct cn_err err;
    if (storage_open(&o, &s, &err) == 0) {
        uint64_t lo = storage_first_index(s), hi = storage_last_index(s);
        struct storage_entry out[64];
        struct cn_buf buf;
        size_t got;
        cn_buf_init(&buf, 1u << 20);
        for (uint64_t i = lo; hi && i <= hi; i += got) {
            if (storage_entries(s, i, hi + 1, SIZE_MAX, out, 64, &got, &buf, &err) || !got)
                abort(); /* loaded entries must read back */
        }
        cn_buf_release(&buf);
        storage_close(s);
    }
    storage_fault_free(vfs);
    return 0;
}
