/*
 * cn_arena.h - a per-request bump allocator (nginx pools, h2o mem pools).
 *
 * Everything a request allocates comes from its arena and is freed at once
 * when the request ends, so handlers never free piecemeal and never leak.
 * Allocations are 16-byte aligned; big ones get their own block.
 */
#ifndef CN_ARENA_H
#define CN_ARENA_H

#include <stddef.h>

#include "lib/cn_str.h"

struct cn_arena_block;

struct cn_arena {
    struct cn_arena_block *head;
    size_t block_size;
};

void cn_arena_init(struct cn_arena *a, size_t block_size);
/* Free every block. The arena can be used again afterwards. */
void cn_arena_release(struct cn_arena *a);

void *cn_arena_alloc(struct cn_arena *a, size_t n);
void *cn_arena_zalloc(struct cn_arena *a, size_t n);
char *cn_arena_strndup(struct cn_arena *a, const char *s, size_t n);
char *cn_arena_strdup(struct cn_arena *a, const char *s);
void *cn_arena_memdup(struct cn_arena *a, const void *p, size_t n);
char *cn_arena_printf(struct cn_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline char *cn_arena_str(struct cn_arena *a, struct cn_str s)
{
    return cn_arena_strndup(a, s.p ? s.p : "", s.len);
}

#define CN_ARENA_NEW(a, type) ((type *)cn_arena_zalloc((a), sizeof(type)))
#define CN_ARENA_ARRAY(a, type, n) ((type *)cn_arena_zalloc((a), sizeof(type) * (n)))

#endif
