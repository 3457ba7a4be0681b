#include "lib/cn_arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/cn_common.h"

struct cn_arena_block {
    struct cn_arena_block *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
};

void cn_arena_init(struct cn_arena *a, size_t block_size)
{
    a->head = NULL;
    a->block_size = block_size ? block_size : 4096;
}

void cn_arena_release(struct cn_arena *a)
{
    struct cn_arena_block *b = a->head;
    while (b) {
        struct cn_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
}

void *cn_arena_alloc(struct cn_arena *a, size_t n)
{
    struct cn_arena_block *b = a->head;
    n = (n + 15) & ~(size_t)15;
    if (b && b->size - b->used >= n) {
        void *p = b->data + b->used;
        b->used += n;
        return p;
    }
    if (n > a->block_size / 4) {
        /* Large: own block, linked behind the current one so the current
         * block keeps serving small allocations. */
        struct cn_arena_block *big = cn_malloc(sizeof *big + n);
        big->used = big->size = n;
        if (b) {
            big->next = b->next;
            b->next = big;
        } else {
            big->next = NULL;
            a->head = big;
        }
        return big->data;
    }
    b = cn_malloc(sizeof *b + a->block_size);
    b->size = a->block_size;
    b->used = n;
    b->next = a->head;
    a->head = b;
    return b->data;
}

void *cn_arena_zalloc(struct cn_arena *a, size_t n)
{
    void *p = cn_arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

char *cn_arena_strndup(struct cn_arena *a, const char *s, size_t n)
{
    char *p = cn_arena_alloc(a, n + 1);
    if (n) memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *cn_arena_strdup(struct cn_arena *a, const char *s)
{
    return cn_arena_strndup(a, s, strlen(s));
}

void *cn_arena_memdup(struct cn_arena *a, const void *p, size_t n)
{
    void *q = cn_arena_alloc(a, n ? n : 1);
    if (n) memcpy(q, p, n);
    return q;
}

char *cn_arena_printf(struct cn_arena *a, const char *fmt, ...)
{
    va_list ap, cp;
    va_start(ap, fmt);
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    char *p = cn_arena_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}
