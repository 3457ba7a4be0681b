/*
 * restore.c - replacing the whole store at once: a user's snapshot restore
 * (PUT /v1/snapshot) builds a scratch store from the archive, stamps it and
 * swaps it in, so readers see either the old state or the new one and a
 * restore that fails half-way changes nothing (Consul's FSM.Restore builds
 * a new memdb and swaps it in the same way).
 */
#include <string.h>

#include "lib/cn_common.h"
#include "state/state_int.h"

/* META row naming the index of the last restore; snapshots carry it. */
#define RESTORE_INDEX "restore-index"

void state_restore_stamp(struct state_store *st, uint64_t index)
{
    struct state_table *idx = &st->tables[STATE_T_INDEXES];
    size_t n = cn_omap_count(&idx->rows), i = 0;
    CN_ASSERT(index >= st->last_index);
    /* Copy the names out first: re-stamping replaces the rows under the
     * iterator. */
    char **names = cn_calloc(n ? n : 1, sizeof *names);
    struct cn_omap_iter it;
    const void *row;
    cn_omap_seek(&idx->rows, CN_STR_NULL, &it);
    while (i < n && (row = cn_omap_next(&it))) {
        struct cn_str name = idx->ops->key_of(row);
        names[i] = cn_malloc(name.len + 1);
        memcpy(names[i], name.p, name.len);
        names[i++][name.len] = '\0';
    }
    struct state_txn *tx = state_txn_begin(st, index);
    for (size_t k = 0; k < i; k++) {
        state__index_set(tx, cn_str_from(names[k]));
        free(names[k]);
    }
    free(names);
    state_meta_set_txn(tx, RESTORE_INDEX, index, CN_STR_NULL);
    for (int t = 0; t < STATE_T__COUNT; t++)
        state__touch(tx, (enum state_table_id)t);
    state_txn_commit(tx);
}

uint64_t state_restore_index(struct state_store *st)
{
    uint64_t index = 0;
    return state_meta_get(st, RESTORE_INDEX, &index, NULL) ? index : 0;
}

void state_replace(struct state_store *st, struct state_store *from)
{
    CN_ASSERT(!st->tx_open && !from->tx_open);
    CN_ASSERT(from->nsets == 0);
    for (int t = 0; t < STATE_T__COUNT; t++) {
        struct state_table tmp = st->tables[t];
        st->tables[t] = from->tables[t];
        from->tables[t] = tmp;
    }
    uint64_t last = st->last_index;
    st->last_index = from->last_index;
    from->last_index = last;
    state_free(from); /* the old contents */
    state__watch_fire_all(st);
}
