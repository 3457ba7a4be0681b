/*
 * catalog_int.h - what the catalog files of src/state share: row layouts,
 * secondary-index entries and key building.
 *
 * The nodes, services and checks tables hold two kinds of entries in one
 * ordered map. Rows (CAT_ROW) own their record and keep every key they are
 * filed under; references (CAT_REF) are small secondary-index entries that
 * point at a row of the same table. Each key starts with a byte naming its
 * index (1 = primary, 2.. = secondary), so the indexes occupy disjoint
 * ranges of the map and ride the store's undo log, snapshot and release
 * paths with no code of their own. A snapshot writes rows; references are
 * written as empty records and rebuilt by restore.
 *
 *   nodes:    1 lname | 2 lid
 *   services: 1 lnode 0 lid | 2 lname 0 lnode 0 lid
 *   checks:   1 lnode 0 lcheck | 2 lnode 0 lservice 0 lcheck | 3 status 0 lnode 0 lcheck
 *
 * (l = lowercased; node-level checks have an empty lservice, so "2 lnode 0
 * 0" prefixes exactly the node's own checks.)
 */
#ifndef STATE_CATALOG_INT_H
#define STATE_CATALOG_INT_H

#include "lib/cn_arena.h"
#include "state/state_int.h"

enum { CAT_ROW = 1, CAT_REF = 2 };
#define CAT_KEYS_MAX 3

struct cat_row {
    uint8_t kind; /* CAT_ROW */
    uint8_t nkeys;
    struct cn_str keys[CAT_KEYS_MAX]; /* the row is one block: these point into it */ /* keys[i].len == 0: not filed under index i */
};

struct cat_ref {
    uint8_t kind; /* CAT_REF */
    uint8_t which;
    struct cat_row *row;
};

struct cat_node_row {
    struct cat_row h;
    struct state_node n;
};

struct cat_service_row {
    struct cat_row h;
    struct cn_str lname; /* inside keys[1]: the service name, lowercased */
    struct state_service s;
};

struct cat_check_row {
    struct cat_row h;
    struct state_check c;
};

enum { KEY_PRIMARY = 1, KEY_IDX2 = 2, KEY_IDX3 = 3 };

/* Lowercased key built from parts separated by NUL, prefixed by the index
 * byte. Small keys live in the struct; long ones on the heap. */
struct cat_key {
    char small[256];
    char *p;
    size_t len, cap;
    bool started;
};
void cat_key_init(struct cat_key *k, uint8_t index);
void cat_key_add(struct cat_key *k, struct cn_str part); /* lowercased, NUL before it unless first */
void cat_key_sep(struct cat_key *k);                       /* a bare NUL */
static inline struct cn_str cat_key_str(const struct cat_key *k)
{
    return cn_str_make(k->p, k->len);
}
void cat_key_release(struct cat_key *k);

/* Entry plumbing shared by the three tables. */
struct cn_str cat_entry_key(const void *entry);
void cat_entry_free(void *entry);
/* Put a new row (replacing old, which may be NULL) and file its references. */
void cat_insert(struct state_txn *tx, struct state_table *t, struct cat_row *row,
                struct cat_row *old);
/* Remove a row and its references. */
void cat_remove(struct state_txn *tx, struct state_table *t, struct cat_row *row);
/* The same, outside a transaction (snapshot restore). */
void cat_restore_insert(struct state_table *t, struct cat_row *row);

/* Rows built from caller records (deep copies; keys computed). */
struct cat_node_row *cat_node_row_new(const struct state_node *n);
struct cat_service_row *cat_service_row_new(const struct state_service *s, struct cn_str node);
struct cat_check_row *cat_check_row_new(const struct state_check *c);

/* Visit rows whose key under one index starts with prefix. fn returns
 * false to stop. */
typedef bool (*cat_visit_fn)(void *ctx, struct cat_row *row);
void cat_scan(struct state_table *t, struct cn_str prefix, cat_visit_fn fn, void *ctx);

static inline const char *cat_s(const char *s)
{
    return s ? s : "";
}

#endif
