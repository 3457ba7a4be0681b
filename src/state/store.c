/* store.c - the store, its tables and the transaction undo log. */
#include <stdarg.h>
#include <string.h>

#include "lib/cn_common.h"
#include "state/state_int.h"

static const char *const table_names[STATE_T__COUNT] = {
    "kvs",      "tombstones", "nodes",   "services",  "checks",      "sessions", "acl-tokens",
    "acl-policies", "acl-roles", "prepared-queries", "coordinates", "index", "meta",
};

/* Tables that no module has claimed yet keep an inert schema: an empty
 * table of opaque rows that snapshots skip. */
static struct cn_str opaque_key(const void *row)
{
    return cn_str_from(row);
}
static const struct state_table_ops unused_ops = {"unused", opaque_key, NULL, NULL, NULL};

/* Tables defined in their family's file; weak until that file is built. */
#define TABLE(name) extern const struct state_table_ops name __attribute__((weak));
TABLE(state__nodes_ops)
TABLE(state__services_ops)
TABLE(state__checks_ops)
TABLE(state__sessions_ops)
TABLE(state__acl_tokens_ops)
TABLE(state__acl_policies_ops)
TABLE(state__acl_roles_ops)
TABLE(state__queries_ops)
TABLE(state__coordinates_ops)
TABLE(state__indexes_ops)
TABLE(state__meta_ops)
#undef TABLE

static const struct state_table_ops *table_ops(enum state_table_id t)
{
    const struct state_table_ops *ops = NULL;
    switch (t) {
    case STATE_T_KVS: return &state__kvs_ops;
    case STATE_T_TOMBSTONES: return &state__tombstone_ops;
    case STATE_T_NODES: ops = &state__nodes_ops; break;
    case STATE_T_SERVICES: ops = &state__services_ops; break;
    case STATE_T_CHECKS: ops = &state__checks_ops; break;
    case STATE_T_SESSIONS: ops = &state__sessions_ops; break;
    case STATE_T_ACL_TOKENS: ops = &state__acl_tokens_ops; break;
    case STATE_T_ACL_POLICIES: ops = &state__acl_policies_ops; break;
    case STATE_T_ACL_ROLES: ops = &state__acl_roles_ops; break;
    case STATE_T_QUERIES: ops = &state__queries_ops; break;
    case STATE_T_COORDINATES: ops = &state__coordinates_ops; break;
    case STATE_T_INDEXES: ops = &state__indexes_ops; break;
    case STATE_T_META: ops = &state__meta_ops; break;
    default: break;
    }
    return ops ? ops : &unused_ops;
}

const char *state_table_name(enum state_table_id t)
{
    return (unsigned)t < STATE_T__COUNT ? table_names[t] : "unknown";
}

void state__table_init(struct state_table *t, const struct state_table_ops *ops)
{
    cn_omap_init(&t->rows, ops->key_of);
    t->index = 0;
    t->ops = ops;
}

void state__table_release(struct state_table *t)
{
    if (t->ops->free_row) {
        struct cn_omap_iter it;
        void *row;
        cn_omap_seek(&t->rows, CN_STR_NULL, &it);
        while ((row = cn_omap_next(&it))) t->ops->free_row(row);
    }
    cn_omap_release(&t->rows);
}

struct state_store *state_new(void)
{
    struct state_store *st = CN_NEW(struct state_store);
    for (int i = 0; i < STATE_T__COUNT; i++) state__table_init(&st->tables[i], table_ops(i));
    cn_buf_init(&st->tx.notes, CN_BUF_UNLIMITED);
    state__watch_init(st);
    return st;
}

void state_free(struct state_store *st)
{
    if (!st) return;
    CN_ASSERT(!st->tx_open);
    state__watch_release(st);
    for (int i = 0; i < STATE_T__COUNT; i++) state__table_release(&st->tables[i]);
    free(st->tx.undo);
    cn_buf_release(&st->tx.notes);
    free(st);
}

uint64_t state_last_index(const struct state_store *st)
{
    return st->last_index;
}

uint64_t state_table_index(const struct state_store *st, enum state_table_id t)
{
    return st->tables[t].index;
}

uint64_t state_tables_index(const struct state_store *st, ...)
{
    va_list ap;
    uint64_t max = 0;
    int t;
    va_start(ap, st);
    while ((t = va_arg(ap, int)) >= 0) max = CN_MAX(max, st->tables[t].index);
    va_end(ap);
    return max;
}

struct state_txn *state_txn_begin(struct state_store *st, uint64_t idx)
{
    CN_ASSERT(!st->tx_open);
    CN_ASSERT(idx >= st->last_index);
    struct state_txn *tx = &st->tx;
    tx->st = st;
    tx->idx = idx;
    tx->nundo = 0;
    cn_buf_reset(&tx->notes);
    for (int i = 0; i < STATE_T__COUNT; i++) tx->saved_index[i] = st->tables[i].index;
    st->tx_open = true;
    return tx;
}

uint64_t state_txn_index(const struct state_txn *tx)
{
    return tx->idx;
}

struct state_store *state_txn_store(struct state_txn *tx)
{
    return tx->st;
}

static void record(struct state_txn *tx, struct state_table *t, void *old_row, void *new_row)
{
    if (tx->nundo == tx->cap_undo) {
        tx->cap_undo = tx->cap_undo ? tx->cap_undo * 2 : 64;
        tx->undo = cn_realloc(tx->undo, tx->cap_undo * sizeof *tx->undo);
    }
    tx->undo[tx->nundo++] = (struct state__undo){t, old_row, new_row};
}

void *state__put(struct state_txn *tx, struct state_table *t, void *row)
{
    CN_ASSERT(tx->st->tx_open);
    void *old = cn_omap_put(&t->rows, row);
    /* Re-putting the row already there changes nothing; recording it would
     * free a live row at commit. */
    if (old != row) record(tx, t, old, row);
    return old;
}

void *state__del(struct state_txn *tx, struct state_table *t, struct cn_str key)
{
    CN_ASSERT(tx->st->tx_open);
    void *old = cn_omap_del(&t->rows, key);
    if (old) record(tx, t, old, NULL);
    return old;
}

void state__touch(struct state_txn *tx, enum state_table_id t)
{
    struct state_table *tab = &tx->st->tables[t];
    if (tab->index == tx->idx) return;
    tab->index = tx->idx;
    state__notify(tx, STATE_W_TABLE, cn_str_from(table_names[t]));
}

void state__notify(struct state_txn *tx, enum state_topic topic, struct cn_str key)
{
    cn_enc_u8(&tx->notes, (uint8_t)topic);
    cn_enc_str(&tx->notes, key);
}

void state_txn_commit(struct state_txn *tx)
{
    struct state_store *st = tx->st;
    CN_ASSERT(st->tx_open);
    /* A row replaced twice in one transaction is the "old" of the second
     * record and the "new" of the first: freeing every old row frees each
     * dead row exactly once. */
    for (size_t i = 0; i < tx->nundo; i++) {
        struct state__undo *u = &tx->undo[i];
        if (u->old_row && u->t->ops->free_row) u->t->ops->free_row(u->old_row);
    }
    if (tx->idx > st->last_index) st->last_index = tx->idx;
    st->tx_open = false;
    tx->nundo = 0;
    if (tx->notes.len) state__watch_dispatch(st, &tx->notes);
    cn_buf_reset(&tx->notes);
}

void state_txn_abort(struct state_txn *tx)
{
    struct state_store *st = tx->st;
    CN_ASSERT(st->tx_open);
    for (size_t i = tx->nundo; i-- > 0;) {
        struct state__undo *u = &tx->undo[i];
        if (u->old_row)
            cn_omap_put(&u->t->rows, u->old_row);
        else
            cn_omap_del(&u->t->rows, u->t->ops->key_of(u->new_row));
        if (u->new_row && u->t->ops->free_row) u->t->ops->free_row(u->new_row);
    }
    for (int i = 0; i < STATE_T__COUNT; i++) st->tables[i].index = tx->saved_index[i];
    st->tx_open = false;
    tx->nundo = 0;
    cn_buf_reset(&tx->notes);
}

bool state_check_invariants(struct state_store *st)
{
    for (int i = 0; i < STATE_T__COUNT; i++) {
        if (!cn_omap_check(&st->tables[i].rows)) return false;
        if (st->tables[i].index > st->last_index) return false;
    }
    return true;
}
