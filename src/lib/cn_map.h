/*
 * cn_map.h - a hash map from byte-string keys to pointers.
 *
 * Open addressing with linear probing and backward-shift deletion (no
 * tombstones, so lookups never slow down after churn). The map copies keys it
 * stores and frees them; values are the caller's. Iteration order is
 * unspecified; do not insert or delete while iterating except through
 * cn_map_iter_remove.
 */
#ifndef CN_MAP_H
#define CN_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/cn_str.h"

struct cn_map_slot {
    char *key;
    uint32_t klen;
    uint32_t hash32;
    void *val;
};

struct cn_map {
    struct cn_map_slot *slots;
    size_t cap; /* power of two, or 0 */
    size_t count;
};

void cn_map_init(struct cn_map *m);
/* Frees the keys and the table, not the values. */
void cn_map_release(struct cn_map *m);

void *cn_map_get(const struct cn_map *m, struct cn_str key);
bool cn_map_has(const struct cn_map *m, struct cn_str key);
/* Insert or replace; returns the previous value (or NULL). */
void *cn_map_put(struct cn_map *m, struct cn_str key, void *val);
/* Remove; returns the removed value (or NULL). */
void *cn_map_del(struct cn_map *m, struct cn_str key);
static inline size_t cn_map_count(const struct cn_map *m)
{
    return m->count;
}

struct cn_map_iter {
    struct cn_map *m;
    size_t i;
};
void cn_map_iter_init(struct cn_map_iter *it, struct cn_map *m);
/* Next entry; false at the end. key is valid until the entry is removed. */
bool cn_map_iter_next(struct cn_map_iter *it, struct cn_str *key, void **val);

#endif
