/*
 * cn_slab.h - size classes for many small, long-lived objects.
 *
 * A million KV rows from malloc cost an 8-byte chunk header and 16-byte
 * rounding each, and rows freed by overwrites leave holes between the
 * short-lived allocations around them (Raft entries, request buffers) that
 * malloc cannot give back: 40 MB at a million keys. A slab hands out
 * 8-byte-granular objects from 256 KiB chunks, with one free list per
 * size, so a freed row is reused by the next row of its size and nothing
 * else fragments the rows' pages. Chunks are kept until cn_slab_release_all.
 *
 * Not thread-safe. Objects over CN_SLAB_MAX go to malloc. Under
 * AddressSanitizer every object goes to malloc so use-after-free and
 * overflows are still caught.
 */
#ifndef CN_SLAB_H
#define CN_SLAB_H

#include <stddef.h>

/* Defined when objects bypass the slab (AddressSanitizer builds). */
#if defined(__SANITIZE_ADDRESS__)
#define CN_SLAB_BYPASS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CN_SLAB_BYPASS 1
#endif
#endif

#define CN_SLAB_GRAIN 8
#define CN_SLAB_MAX 1024

struct cn_slab_chunk;

struct cn_slab {
    void *free[CN_SLAB_MAX / CN_SLAB_GRAIN]; /* by class: (size - 1) / GRAIN */
    char *cur;                               /* bump pointer in the newest chunk */
    size_t left;
    struct cn_slab_chunk *chunks;
    size_t chunk_bytes; /* memory held in chunks */
    size_t live;        /* objects handed out and not released */
};

/* A zeroed struct cn_slab is ready to use. size > 0. */
void *cn_slab_alloc(struct cn_slab *s, size_t size);
/* size must be the size given to cn_slab_alloc. */
void cn_slab_free(struct cn_slab *s, void *p, size_t size);
/* Frees every chunk; objects still out become invalid. */
void cn_slab_release_all(struct cn_slab *s);

#endif
