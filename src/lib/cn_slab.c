/*
 * cn_slab.c - size-class allocator for small long-lived objects (why:
 * cn_slab.h).
 */
#include "lib/cn_slab.h"

#include <stdlib.h>
#include <string.h>

#include "lib/cn_common.h"

#define CHUNK_SIZE (256 * 1024)

struct cn_slab_chunk {
    struct cn_slab_chunk *next;
    /* objects follow, 8-aligned */
};

#ifndef CN_SLAB_BYPASS
static size_t round_up(size_t size)
{
    return (size + CN_SLAB_GRAIN - 1) / CN_SLAB_GRAIN * CN_SLAB_GRAIN;
}
#endif

void *cn_slab_alloc(struct cn_slab *s, size_t size)
{
    s->live++;
#ifdef CN_SLAB_BYPASS
    return cn_malloc(size);
#else
    if (size > CN_SLAB_MAX) return cn_malloc(size);
    size = round_up(size);
    void **head = &s->free[size / CN_SLAB_GRAIN - 1];
    if (*head) {
        void *p = *head;
        memcpy(head, p, sizeof(void *));
        return p;
    }
    if (s->left < size) {
        /* The old chunk's tail (< CN_SLAB_MAX) is left unused. */
        struct cn_slab_chunk *c = cn_malloc(CHUNK_SIZE);
        c->next = s->chunks;
        s->chunks = c;
        s->chunk_bytes += CHUNK_SIZE;
        s->cur = (char *)c + round_up(sizeof *c);
        s->left = CHUNK_SIZE - round_up(sizeof *c);
    }
    void *p = s->cur;
    s->cur += size;
    s->left -= size;
    return p;
#endif
}

void cn_slab_free(struct cn_slab *s, void *p, size_t size)
{
    if (!p) return;
    s->live--;
#ifdef CN_SLAB_BYPASS
    (void)size;
    free(p);
#else
    if (size > CN_SLAB_MAX) {
        free(p);
        return;
    }
    size = round_up(size);
    void **head = &s->free[size / CN_SLAB_GRAIN - 1];
    memcpy(p, head, sizeof(void *));
    *head = p;
#endif
}

void cn_slab_release_all(struct cn_slab *s)
{
    struct cn_slab_chunk *c = s->chunks;
    while (c) {
        struct cn_slab_chunk *next = c->next;
        free(c);
        c = next;
    }
    memset(s, 0, sizeof *s);
}
