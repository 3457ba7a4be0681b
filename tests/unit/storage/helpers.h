/*
 * helpers.h - shared by the storage unit tests: deterministic payloads (a
 * function of index and term, so any entry can be checked on its own), and
 * small wrappers that fail the test on error.
 */
#ifndef CAIRN_TEST_STORAGE_HELPERS_H
#define CAIRN_TEST_STORAGE_HELPERS_H

#include "test.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "storage/storage.h"

#define TH_PAYLOAD_MAX 4096

static inline size_t th_len(uint64_t index, size_t max)
{
    return max ? (size_t)((index * 2654435761u) % (max + 1)) : 0;
}

static inline void th_fill(uint8_t *p, size_t n, uint64_t index, uint64_t term)
{
    uint64_t x = index * 0x9E3779B97F4A7C15ull ^ (term << 32) ^ n;
    for (size_t i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (uint8_t)(x >> 56);
    }
}

/* Does e hold the payload th_fill makes for its index and term? */
static inline bool th_valid(const struct storage_entry *e, size_t max)
{
    uint8_t buf[TH_PAYLOAD_MAX];
    if (e->len != th_len(e->index, max) || e->len > sizeof buf) return false;
    th_fill(buf, e->len, e->index, e->term);
    return memcmp(buf, e->data, e->len) == 0 && e->type == (uint8_t)(e->index & 3);
}

/* Append [from, to] with term and payloads up to max bytes (one call). */
static inline int th_append(struct storage *s, uint64_t from, uint64_t to, uint64_t term,
                            size_t max)
{
    static struct storage_entry es[64];
    static uint8_t bufs[64][TH_PAYLOAD_MAX];
    size_t n = (size_t)(to - from + 1);
    if (n > 64) { /* big ranges: in slices, reusing 64 buffers */
        for (uint64_t i = from; i <= to; i += 64) {
            int rc = th_append(s, i, CN_MIN(to, i + 63), term, max);
            if (rc) return rc;
        }
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t idx = from + i;
        size_t len = th_len(idx, max);
        th_fill(bufs[i], len, idx, term);
        es[i] = (struct storage_entry){idx, term, (uint8_t)(idx & 3), bufs[i], len};
    }
    return storage_append(s, es, n);
}

/* Read every entry of the log one call at a time and check payloads;
 * returns the number checked. term_of may be NULL. */
static inline uint64_t th_check_log(struct storage *s, size_t max)
{
    struct storage_entry out[128];
    struct cn_buf buf;
    struct cn_err err;
    uint64_t first = storage_first_index(s), last = storage_last_index(s), n = 0, prev = 0;
    cn_buf_init(&buf, 64u << 20);
    for (uint64_t i = first; last && i <= last;) {
        size_t got = 0;
        cn_err_clear(&err);
        int rc = storage_entries(s, i, last + 1, 1u << 20, out, 128, &got, &buf, &err);
        if (rc) FAIL("read %" PRIu64 ": %d %s", i, rc, err.msg);
        ASSERT(got > 0);
        for (size_t k = 0; k < got; k++) {
            if (out[k].index != i + k) FAIL("index %" PRIu64 " != %" PRIu64, out[k].index, i + k);
            if (!th_valid(&out[k], max)) FAIL("bad payload at %" PRIu64, out[k].index);
            if (out[k].term < prev) FAIL("term goes down at %" PRIu64, out[k].index);
            prev = out[k].term;
        }
        i += got;
        n += got;
    }
    cn_buf_release(&buf);
    return n;
}

/* Records every durability report (called on the sync thread). */
struct th_acks {
    pthread_mutex_t mu;
    struct storage_durable last;
    uint64_t calls;
};

static inline void th_on_durable(void *ctx, const struct storage_durable *d)
{
    struct th_acks *a = ctx;
    pthread_mutex_lock(&a->mu);
    a->last = *d;
    a->calls++;
    pthread_mutex_unlock(&a->mu);
}

static inline struct storage *th_open(struct storage_vfs *vfs, const char *dir, uint64_t segsize,
                                      struct th_acks *acks)
{
    struct storage_options o = {.dir = dir, .vfs = vfs, .segment_size = segsize};
    struct storage *s = NULL;
    struct cn_err err;
    cn_err_clear(&err);
    if (acks) {
        o.on_durable = th_on_durable;
        o.ctx = acks;
    }
    int rc = storage_open(&o, &s, &err);
    if (rc) FAIL("storage_open: %d %s", rc, err.msg);
    return s;
}

#endif
