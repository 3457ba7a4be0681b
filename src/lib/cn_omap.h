/*
 * cn_omap.h - an ordered map of entries by byte-string key (a B+tree).
 *
 * The tree stores pointers to the caller's entries and reads each entry's key
 * through key_of, so keys are not stored twice: at a million KV entries the
 * tree costs about 11 bytes per entry. Internal nodes keep copies of separator
 * keys; they stay valid bounds after the entry they came from is deleted.
 * Leaves are chained for ordered scans (prefix listings, snapshots).
 * Entries are the caller's: the tree never frees them.
 * An iterator is invalidated by any insert or delete.
 */
#ifndef CN_OMAP_H
#define CN_OMAP_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/cn_str.h"

typedef struct cn_str (*cn_omap_key_fn)(const void *entry);

struct cn_omap_node;

struct cn_omap {
    struct cn_omap_node *root;
    cn_omap_key_fn key_of;
    size_t count;
    int height; /* 0 = root is a leaf */
};

struct cn_omap_iter {
    struct cn_omap_node *leaf;
    int i;
};

void cn_omap_init(struct cn_omap *t, cn_omap_key_fn key_of);
/* Frees the tree's nodes; entries stay the caller's. */
void cn_omap_release(struct cn_omap *t);

void *cn_omap_get(const struct cn_omap *t, struct cn_str key);
/* Insert entry, or replace the one with an equal key; returns the replaced
 * entry or NULL. */
void *cn_omap_put(struct cn_omap *t, void *entry);
/* Remove by key; returns the removed entry or NULL. */
void *cn_omap_del(struct cn_omap *t, struct cn_str key);
static inline size_t cn_omap_count(const struct cn_omap *t)
{
    return t->count;
}

/* Position at the first entry with key >= key (CN_STR_NULL for the start). */
void cn_omap_seek(const struct cn_omap *t, struct cn_str key, struct cn_omap_iter *it);
/* The entry at the iterator and advance; NULL at the end. */
void *cn_omap_next(struct cn_omap_iter *it);

/* Structural self-check for tests: ordering, counts, leaf chain. */
bool cn_omap_check(const struct cn_omap *t);

#endif
