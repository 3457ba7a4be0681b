/*
 * state_int.h - internals shared by the files of src/state. Not for other
 * modules.
 *
 * A table is an ordered map of rows plus the highest index that modified it.
 * Primary tables own their rows (ops->free_row); secondary indexes are tables
 * that point at rows owned elsewhere. Every mutation goes through
 * state__put/state__del inside the open transaction, which records it in
 * the undo log: abort replays the log backwards, commit frees the rows that
 * were replaced or deleted. So a module adding a table writes no rollback
 * code of its own.
 */
#ifndef STATE_INT_H
#define STATE_INT_H

#include "lib/cn_buf.h"
#include "lib/cn_codec.h"
#include "lib/cn_list.h"
#include "lib/cn_map.h"
#include "lib/cn_omap.h"
#include "state/state.h"

struct state_table_ops {
    const char *name;
    cn_omap_key_fn key_of;
    void (*free_row)(void *row); /* NULL: the table does not own its rows */
    /* Snapshot: encode one row; restore decodes one and inserts it with every
     * index it belongs to (no transaction is open during a restore). */
    void (*encode_row)(const void *row, struct cn_buf *out);
    int (*restore_row)(struct state_store *st, struct cn_dec *d);
};

struct state_table {
    struct cn_omap rows;
    uint64_t index;
    const struct state_table_ops *ops;
};

struct state__undo {
    struct state_table *t;
    void *old_row;
    void *new_row;
};

struct state_txn {
    struct state_store *st;
    uint64_t idx;
    uint64_t saved_index[STATE_T__COUNT];
    struct state__undo *undo;
    size_t nundo, cap_undo;
    struct cn_buf notes; /* (u8 topic, uvar len, key bytes)... */
};

struct state__topic {
    struct cn_map exact;  /* key -> struct cn_list * of struct state__witem */
    struct cn_list prefix;
};

struct state_store {
    struct state_table tables[STATE_T__COUNT];
    uint64_t last_index;
    struct state_txn tx;
    bool tx_open;
    struct state__topic topics[STATE_W__COUNT];
    size_t nsets;
};

/* Table helpers. */
void state__table_init(struct state_table *t, const struct state_table_ops *ops);
void state__table_release(struct state_table *t);
static inline void *state__get(struct state_table *t, struct cn_str key)
{
    return cn_omap_get(&t->rows, key);
}
/* Insert or replace row (keyed by ops->key_of); recorded for undo. Returns
 * the replaced row, which stays valid until commit. */
void *state__put(struct state_txn *tx, struct state_table *t, void *row);
/* Remove by key; recorded for undo. Returns the removed row or NULL. */
void *state__del(struct state_txn *tx, struct state_table *t, struct cn_str key);
/* Stamp a primary table with the transaction's index and notify its
 * table-wide watchers. */
void state__touch(struct state_txn *tx, enum state_table_id t);
/* Queue a notification delivered at commit. */
void state__notify(struct state_txn *tx, enum state_topic topic, struct cn_str key);

/* Watches: called by store.c at commit and on restore. */
void state__watch_init(struct state_store *st);
void state__watch_release(struct state_store *st);
void state__watch_dispatch(struct state_store *st, const struct cn_buf *notes);
void state__watch_fire_all(struct state_store *st);

/* Catalog (catalog*.c): named fine-grained indexes kept in the index table
 * (STATE_T_INDEXES), e.g. "service.<lowercase name>", "node.<lowercase
 * name>", "service_last_extinction", "node_last_extinction". */
uint64_t state__index_get(struct state_store *st, struct cn_str name);
void state__index_set(struct state_txn *tx, struct cn_str name);
void state__index_del(struct state_txn *tx, struct cn_str name);

/* Hooks the sessions table implements (weak until it does). The catalog
 * calls them inside its transaction: a check stored with status critical,
 * a check deleted, a node deleted. Sessions bound to them are invalidated
 * in the same transaction (Consul's checkSessionsTxn). Return 0 or an
 * error that aborts the write. */
int state__sessions_check_critical(struct state_txn *tx, struct cn_str node,
                                   struct cn_str check_id) __attribute__((weak));
int state__sessions_check_deleted(struct state_txn *tx, struct cn_str node,
                                  struct cn_str check_id) __attribute__((weak));
int state__sessions_node_deleted(struct state_txn *tx, struct cn_str node) __attribute__((weak));

/* Coordinates (coordinate.c): a node deleted from the catalog takes its
 * coordinates with it in the same transaction (Consul's deleteNodeTxn). */
int state__coordinates_node_deleted(struct state_txn *tx, struct cn_str node);

/* Table operations of each family, registered in store.c. */
extern const struct state_table_ops state__kvs_ops;
extern const struct state_table_ops state__tombstone_ops;

#endif
