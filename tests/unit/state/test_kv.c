#include "helpers.h"
#include "lib/cn_limits.h"
#include "lib/cn_map.h"
#include "lib/cn_rand.h"
#include "test.h"

TEST(kv, set_get_and_indexes)
{
    struct state_store *st = state_new();
    put(st, 5, "a", "1");
    const struct state_kv *e = get(st, "a");
    ASSERT(e != NULL);
    ASSERT_U64_EQ(5, e->create_index);
    ASSERT_U64_EQ(5, e->modify_index);
    ASSERT(cn_str_eq_cstr(state_kv_value(e), "1"));
    put(st, 6, "a", "2");
    e = get(st, "a");
    ASSERT_U64_EQ(5, e->create_index);
    ASSERT_U64_EQ(6, e->modify_index);
    ASSERT_U64_EQ(6, state_kv_index(st));
    ASSERT_U64_EQ(6, state_last_index(st));
    state_free(st);
}

TEST(kv, identical_rewrite_changes_nothing)
{
    struct state_store *st = state_new();
    put(st, 5, "a", "1");
    put(st, 6, "a", "1");
    ASSERT_U64_EQ(5, get(st, "a")->modify_index);
    ASSERT_U64_EQ(5, state_table_index(st, STATE_T_KVS));
    state_free(st);
}

TEST(kv, cas_zero_creates_once_and_index_must_match)
{
    struct state_store *st = state_new();
    bool ok;
    struct state_kv_write w = {.key = CN_STR("k"), .value = CN_STR("v"), .cas_index = 0};
    struct state_txn *tx = state_txn_begin(st, 2);
    ASSERT_OK(state_kv_cas_txn(tx, &w, &ok));
    state_txn_commit(tx);
    ASSERT(ok);
    tx = state_txn_begin(st, 3);
    ASSERT_OK(state_kv_cas_txn(tx, &w, &ok));
    state_txn_commit(tx);
    ASSERT(!ok);
    w.cas_index = 7;
    tx = state_txn_begin(st, 4);
    state_kv_cas_txn(tx, &w, &ok);
    state_txn_commit(tx);
    ASSERT(!ok);
    w.cas_index = 2;
    w.value = CN_STR("v2");
    tx = state_txn_begin(st, 5);
    state_kv_cas_txn(tx, &w, &ok);
    state_txn_commit(tx);
    ASSERT(ok);
    ASSERT_U64_EQ(5, get(st, "k")->modify_index);
    state_free(st);
}

TEST(kv, delete_leaves_tombstone_and_index_never_goes_back)
{
    struct state_store *st = state_new();
    uint64_t idx;
    put(st, 2, "dir/a", "1");
    put(st, 3, "dir/b", "1");
    put(st, 4, "other", "1");
    del(st, 5, "dir/b");
    ASSERT(get(st, "dir/b") == NULL);
    ASSERT_EQ(1, state_tombstone_count(st));
    state_kv_list(st, CN_STR("dir/"), NULL, NULL, NULL, &idx);
    ASSERT_U64_EQ(5, idx);
    state_kv_list(st, CN_STR("other"), NULL, NULL, NULL, &idx);
    ASSERT_U64_EQ(4, idx);
    /* no entries and no tombstones under the prefix: the KV space index */
    state_kv_list(st, CN_STR("zzz"), NULL, NULL, NULL, &idx);
    ASSERT_U64_EQ(5, idx);
    /* deleting an absent key is fine and changes nothing */
    del(st, 6, "nope");
    ASSERT_U64_EQ(5, state_kv_index(st));
    struct state_txn *tx = state_txn_begin(st, 7);
    state_tombstone_reap_txn(tx, 5);
    state_txn_commit(tx);
    ASSERT_EQ(0, state_tombstone_count(st));
    state_free(st);
}

TEST(kv, delete_cas_and_tree)
{
    struct state_store *st = state_new();
    bool ok;
    put(st, 2, "t/a", "1");
    put(st, 3, "t/b", "1");
    put(st, 4, "t/c/d", "1");
    put(st, 5, "u", "1");
    struct state_txn *tx = state_txn_begin(st, 6);
    state_kv_delete_cas_txn(tx, CN_STR("t/a"), 9, &ok);
    ASSERT(!ok);
    state_kv_delete_cas_txn(tx, CN_STR("t/a"), 2, &ok);
    ASSERT(ok);
    state_kv_delete_cas_txn(tx, CN_STR("missing"), 2, &ok);
    ASSERT(ok);
    state_txn_commit(tx);
    tx = state_txn_begin(st, 7);
    state_kv_delete_tree_txn(tx, CN_STR("t/"));
    state_txn_commit(tx);
    ASSERT_EQ(1, state_kv_count(st));
    ASSERT(get(st, "u") != NULL);
    state_free(st);
}

TEST(kv, lock_unlock_and_session_release)
{
    struct state_store *st = state_new();
    bool ok;
    struct state_kv_write w = {.key = CN_STR("lk"), .value = CN_STR("v"), .session = CN_STR("s1")};
    struct state_txn *tx = state_txn_begin(st, 2);
    state_kv_lock_txn(tx, &w, &ok);
    state_txn_commit(tx);
    ASSERT(ok);
    ASSERT_U64_EQ(1, state_kv_lock_index(get(st, "lk")));
    ASSERT_STR_EQ("s1", state_kv_session(get(st, "lk")));
    /* same session again: no new acquisition */
    tx = state_txn_begin(st, 3);
    state_kv_lock_txn(tx, &w, &ok);
    state_txn_commit(tx);
    ASSERT(ok);
    ASSERT_U64_EQ(1, state_kv_lock_index(get(st, "lk")));
    /* another session is refused */
    w.session = CN_STR("s2");
    tx = state_txn_begin(st, 4);
    state_kv_lock_txn(tx, &w, &ok);
    state_kv_unlock_txn(tx, &w, &ok);
    state_txn_commit(tx);
    ASSERT(!ok);
    /* a plain write keeps the holder */
    put(st, 5, "lk", "plain");
    ASSERT_STR_EQ("s1", state_kv_session(get(st, "lk")));
    ASSERT_U64_EQ(1, state_kv_lock_index(get(st, "lk")));
    /* invalidation releases, keeps value and LockIndex */
    tx = state_txn_begin(st, 6);
    ASSERT_EQ(1, state_kv_release_session_txn(tx, CN_STR("s1"), false));
    state_txn_commit(tx);
    ASSERT(state_kv_session(get(st, "lk")) == NULL);
    ASSERT(cn_str_eq_cstr(state_kv_value(get(st, "lk")), "plain"));
    /* re-acquire bumps LockIndex */
    tx = state_txn_begin(st, 7);
    state_kv_lock_txn(tx, &w, &ok);
    state_txn_commit(tx);
    ASSERT_U64_EQ(2, state_kv_lock_index(get(st, "lk")));
    tx = state_txn_begin(st, 8);
    ASSERT_EQ(1, state_kv_release_session_txn(tx, CN_STR("s2"), true));
    state_txn_commit(tx);
    ASSERT(get(st, "lk") == NULL);
    state_free(st);
}

/* Rows are packed (state.h): lengths as varints, the rare fields behind an
 * optional pointer. Every length class and every field must come back. */
TEST(kv, packed_rows_keep_every_length_and_field)
{
    static const size_t lens[] = {0, 1, 127, 128, 16383, 16384, 70000};
    struct state_store *st = state_new();
    uint64_t idx = 1;
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        for (size_t j = 0; j < sizeof lens / sizeof *lens; j++) {
            size_t kl = lens[i] ? CN_MIN(lens[i], (size_t)CN_KV_KEY_MAX) : 1, vl = lens[j];
            char *k = cn_malloc(kl), *v = cn_malloc(vl + 1);
            memset(k, 'a' + (int)(i % 26), kl);
            k[kl - 1] = (char)('0' + (int)j);
            memset(v, 'x', vl);
            struct state_kv_write w = {.key = cn_str_make(k, kl), .value = cn_str_make(v, vl),
                                       .flags = j == 3 ? UINT64_MAX : 0};
            struct state_txn *tx = state_txn_begin(st, ++idx);
            ASSERT_OK(state_kv_set_txn(tx, &w));
            state_txn_commit(tx);
            const struct state_kv *e = state_kv_get(st, w.key, NULL);
            ASSERT(e != NULL);
            ASSERT(cn_str_eq(state_kv_key(e), w.key));
            ASSERT(cn_str_eq(state_kv_value(e), w.value));
            ASSERT_U64_EQ(j == 3 ? UINT64_MAX : 0, state_kv_flags(e));
            ASSERT(state_kv_session(e) == NULL);
            ASSERT_U64_EQ(0, state_kv_lock_index(e));
            free(k);
            free(v);
        }
    }
    state_free(st);
}

TEST(kv, abort_undoes_everything)
{
    struct state_store *st = state_new();
    put(st, 2, "a", "1");
    put(st, 3, "b", "1");
    struct state_txn *tx = state_txn_begin(st, 4);
    struct state_kv_write w = {.key = CN_STR("a"), .value = CN_STR("changed")};
    state_kv_set_txn(tx, &w);
    w.key = CN_STR("new");
    state_kv_set_txn(tx, &w);
    w.value = CN_STR("twice");
    state_kv_set_txn(tx, &w);
    state_kv_delete_txn(tx, CN_STR("b"));
    state_kv_delete_tree_txn(tx, CN_STR(""));
    state_txn_abort(tx);
    ASSERT(cn_str_eq_cstr(state_kv_value(get(st, "a")), "1"));
    ASSERT(get(st, "b") != NULL);
    ASSERT(get(st, "new") == NULL);
    ASSERT_EQ(0, state_tombstone_count(st));
    ASSERT_U64_EQ(3, state_kv_index(st));
    ASSERT_U64_EQ(3, state_last_index(st));
    ASSERT(state_check_invariants(st));
    state_free(st);
}

/* Random transactions, some aborted, checked against a model map. */
TEST(kv, random_txns_against_model)
{
    struct state_store *st = state_new();
    struct cn_map model;
    struct cn_rand r;
    uint64_t idx = 1;
    cn_rand_seed(&r, cn_test_seed());
    cn_map_init(&model);
    for (int round = 0; round < 2000; round++) {
        struct state_txn *tx = state_txn_begin(st, ++idx);
        bool commit = cn_rand_below(&r, 4) != 0;
        struct { char k[8]; int v; bool del; } ops[4];
        int nops = 1 + (int)cn_rand_below(&r, 4);
        for (int i = 0; i < nops; i++) {
            snprintf(ops[i].k, sizeof ops[i].k, "k%u", (unsigned)cn_rand_below(&r, 50));
            ops[i].v = (int)cn_rand_below(&r, 1000);
            ops[i].del = cn_rand_below(&r, 3) == 0;
            if (ops[i].del) {
                state_kv_delete_txn(tx, cn_str_from(ops[i].k));
            } else {
                char v[8];
                snprintf(v, sizeof v, "%d", ops[i].v);
                struct state_kv_write w = {.key = cn_str_from(ops[i].k), .value = cn_str_from(v)};
                state_kv_set_txn(tx, &w);
            }
        }
        if (!commit) {
            state_txn_abort(tx);
            continue;
        }
        state_txn_commit(tx);
        for (int i = 0; i < nops; i++) {
            if (ops[i].del)
                cn_map_del(&model, cn_str_from(ops[i].k));
            else
                cn_map_put(&model, cn_str_from(ops[i].k), (void *)(intptr_t)(ops[i].v + 1));
        }
    }
    ASSERT(state_check_invariants(st));
    ASSERT_EQ(cn_map_count(&model), state_kv_count(st));
    for (int k = 0; k < 50; k++) {
        char key[8];
        snprintf(key, sizeof key, "k%d", k);
        void *mv = cn_map_get(&model, cn_str_from(key));
        const struct state_kv *e = get(st, key);
        ASSERT((mv == NULL) == (e == NULL));
        if (e) {
            char v[8];
            snprintf(v, sizeof v, "%d", (int)(intptr_t)mv - 1);
            ASSERT(cn_str_eq_cstr(state_kv_value(e), v));
        }
    }
    cn_map_release(&model);
    state_free(st);
}
