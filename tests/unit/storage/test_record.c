/* The record and segment-header codecs: round trips and every refusal. */
#include "helpers.h"

#include "lib/cn_codec.h"
#include "lib/cn_crc32c.h"
#include "storage/storage_int.h"

static size_t make_record(uint8_t *buf, uint64_t index, uint64_t term, uint64_t durable,
                          const void *data, size_t len)
{
    struct storage_entry e = {index, term, 7, data, len};
    storage__rec_encode(buf, &e, durable);
    memcpy(buf + STORAGE__REC_HDR, data, len);
    size_t sz = storage__rec_size(len);
    memset(buf + STORAGE__REC_HDR + len, 0, sz - STORAGE__REC_HDR - len);
    return sz;
}

TEST(record, round_trip)
{
    uint8_t buf[512], data[100];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)i;
    size_t sz = make_record(buf, 42, 3, 40, data, sizeof data);
    ASSERT_EQ(144, sz); /* 40 + 100 rounded up to 8 */
    struct storage__rec r;
    ASSERT_EQ(STORAGE__REC_OK, storage__rec_decode(buf, sz, 1000, &r));
    ASSERT_U64_EQ(42, r.index);
    ASSERT_U64_EQ(3, r.term);
    ASSERT_U64_EQ(40, r.durable);
    ASSERT_EQ(7, r.type);
    ASSERT_EQ(100, r.len);
}

TEST(record, empty_payload)
{
    uint8_t buf[64];
    struct storage__rec r;
    size_t sz = make_record(buf, 1, 1, 0, "", 0);
    ASSERT_EQ(40, sz);
    ASSERT_EQ(STORAGE__REC_OK, storage__rec_decode(buf, sz, 10, &r));
    ASSERT_EQ(0, r.len);
}

TEST(record, every_truncation_is_short_or_zero)
{
    uint8_t buf[256], data[77];
    memset(data, 0xab, sizeof data);
    size_t sz = make_record(buf, 9, 2, 1, data, sizeof data);
    struct storage__rec r;
    for (size_t n = 0; n < STORAGE__REC_HDR + sizeof data; n++) {
        enum storage__rec_status st = storage__rec_decode(buf, n, 1000, &r);
        ASSERT(st == STORAGE__REC_SHORT || (n == 0 && st == STORAGE__REC_ZERO));
    }
    ASSERT_EQ(STORAGE__REC_OK, storage__rec_decode(buf, sz, 1000, &r));
}

TEST(record, every_bit_flip_is_refused)
{
    uint8_t buf[128], data[30];
    memset(data, 0x5a, sizeof data);
    size_t sz = make_record(buf, 1000, 5, 999, data, sizeof data);
    for (size_t bit = 0; bit < (STORAGE__REC_HDR + sizeof data) * 8; bit++) {
        struct storage__rec r;
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        enum storage__rec_status st = storage__rec_decode(buf, sz, 1000, &r);
        if (st == STORAGE__REC_OK) FAIL("flip of bit %zu not detected", bit);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
}

TEST(record, bad_headers)
{
    uint8_t buf[128];
    struct storage__rec r;
    make_record(buf, 5, 1, 4, "abc", 3);
    ASSERT_EQ(STORAGE__REC_BADHDR, storage__rec_decode(buf, sizeof buf, 2, &r)); /* len > max */
    make_record(buf, 5, 1, 5, "abc", 3); /* durable must be below index */
    ASSERT_EQ(STORAGE__REC_BADHDR, storage__rec_decode(buf, sizeof buf, 10, &r));
    make_record(buf, 5, 0, 0, "abc", 3); /* term 0 */
    ASSERT_EQ(STORAGE__REC_BADHDR, storage__rec_decode(buf, sizeof buf, 10, &r));
    make_record(buf, 5, 1, 0, "abc", 3);
    buf[20] = 1; /* padding must be zero */
    ASSERT_EQ(STORAGE__REC_BADHDR, storage__rec_decode(buf, sizeof buf, 10, &r));
    memset(buf, 0, sizeof buf);
    ASSERT_EQ(STORAGE__REC_ZERO, storage__rec_decode(buf, sizeof buf, 10, &r));
    cn_put_le32(buf + 4, 0xffffffffu); /* huge len never reads past n */
    cn_put_le64(buf + 24, 1);
    cn_put_le64(buf + 32, 1);
    ASSERT_EQ(STORAGE__REC_BADHDR, storage__rec_decode(buf, 48, 10, &r));
    ASSERT_EQ(STORAGE__REC_SHORT, storage__rec_decode(buf, 48, UINT32_MAX, &r));
}

TEST(record, segment_header)
{
    uint8_t h[STORAGE__SEG_HDR];
    struct storage__seg_hdr in = {77, 1234, 1u << 20, 76, 4096}, out;
    storage__seg_hdr_encode(h, &in);
    ASSERT_OK(storage__seg_hdr_decode(h, sizeof h, &out));
    ASSERT_U64_EQ(77, out.seq);
    ASSERT_U64_EQ(1234, out.first);
    ASSERT_U64_EQ(1u << 20, out.size);
    ASSERT_U64_EQ(76, out.prev_seq);
    ASSERT_U64_EQ(4096, out.prev_end);
    ASSERT_EQ(CN_ECORRUPT, storage__seg_hdr_decode(h, sizeof h - 1, &out));
    for (size_t i = 0; i < sizeof h; i++) {
        h[i] ^= 0x10;
        ASSERT(storage__seg_hdr_decode(h, sizeof h, &out) != 0);
        h[i] ^= 0x10;
    }
    cn_put_le32(h + 8, 2); /* a newer version, correctly checksummed */
    uint32_t crc = cn_crc32c(cn_crc32c(0, h, 12), h + 16, STORAGE__SEG_HDR - 16);
    cn_put_le32(h + 12, crc);
    ASSERT_EQ(CN_EUNSUPPORTED, storage__seg_hdr_decode(h, sizeof h, &out));
    /* Well checksummed but impossible: a predecessor newer than the segment. */
    in.prev_seq = 80;
    storage__seg_hdr_encode(h, &in);
    ASSERT_EQ(CN_ECORRUPT, storage__seg_hdr_decode(h, sizeof h, &out));
}

TEST(record, hard_state_codec)
{
    struct cn_buf b;
    struct storage_hard_state in = {9, 3, "meta!", 5}, out;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    storage__hs_encode(&b, &in);
    ASSERT_OK(storage__hs_decode((uint8_t *)b.data, b.len, &out));
    ASSERT_U64_EQ(9, out.term);
    ASSERT_U64_EQ(3, out.vote);
    ASSERT_EQ(5, out.meta_len);
    ASSERT_MEM_EQ("meta!", out.meta, 5);
    for (size_t i = 0; i < b.len; i++) {
        b.data[i] ^= 1;
        ASSERT(storage__hs_decode((uint8_t *)b.data, b.len, &out) != 0);
        b.data[i] ^= 1;
    }
    ASSERT_EQ(CN_ECORRUPT, storage__hs_decode((uint8_t *)b.data, b.len - 1, &out));
    cn_buf_release(&b);
}

TEST(record, all_zero)
{
    uint8_t buf[300] = {0};
    for (size_t off = 0; off < 20; off++)
        for (size_t n = 0; n + off < 200; n += 7) {
            ASSERT(storage__all_zero(buf + off, n));
            if (n) {
                buf[off + n - 1] = 1;
                ASSERT(!storage__all_zero(buf + off, n));
                buf[off + n - 1] = 0;
            }
        }
}
