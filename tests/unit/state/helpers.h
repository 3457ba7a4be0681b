#ifndef TEST_STATE_HELPERS_H
#define TEST_STATE_HELPERS_H
#include "state/state.h"

static inline void put(struct state_store *st, uint64_t idx, const char *k, const char *v)
{
    struct state_txn *tx = state_txn_begin(st, idx);
    struct state_kv_write w = {.key = cn_str_from(k), .value = cn_str_from(v)};
    state_kv_set_txn(tx, &w);
    state_txn_commit(tx);
}

static inline void del(struct state_store *st, uint64_t idx, const char *k)
{
    struct state_txn *tx = state_txn_begin(st, idx);
    state_kv_delete_txn(tx, cn_str_from(k));
    state_txn_commit(tx);
}

static inline const struct state_kv *get(struct state_store *st, const char *k)
{
    return state_kv_get(st, cn_str_from(k), NULL);
}
#endif
