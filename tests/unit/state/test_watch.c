#include "helpers.h"
#include "test.h"

static int fired;
static void on_fire(void *ctx)
{
    (*(int *)ctx)++;
    fired++;
}

TEST(watch, exact_key_fires_only_for_that_key)
{
    struct state_store *st = state_new();
    int n = 0;
    struct state_watch_set *ws = state_ws_new(st, on_fire, &n);
    state_kv_get(st, CN_STR("a"), ws);
    put(st, 2, "b", "1");
    ASSERT_EQ(0, n);
    put(st, 3, "a", "1");
    ASSERT_EQ(1, n);
    ASSERT(state_ws_fired(ws));
    put(st, 4, "a", "2"); /* one-shot: detached after firing */
    ASSERT_EQ(1, n);
    state_ws_reset(ws);
    state_kv_get(st, CN_STR("a"), ws);
    del(st, 5, "a");
    ASSERT_EQ(2, n);
    state_ws_free(ws);
    ASSERT_EQ(0, state_ws_count(st));
    state_free(st);
}

TEST(watch, prefix_fires_for_keys_beneath)
{
    struct state_store *st = state_new();
    int n = 0;
    struct state_watch_set *ws = state_ws_new(st, on_fire, &n);
    state_kv_list(st, CN_STR("dir/"), ws, NULL, NULL, NULL);
    put(st, 2, "dir", "1");
    put(st, 3, "dirx/a", "1");
    ASSERT_EQ(0, n);
    put(st, 4, "dir/sub/x", "1");
    ASSERT_EQ(1, n);
    state_ws_free(ws);
    state_free(st);
}

TEST(watch, aborted_txn_fires_nothing_and_many_sets_fire_once)
{
    struct state_store *st = state_new();
    int n = 0;
    struct state_watch_set *sets[100];
    for (int i = 0; i < 100; i++) {
        sets[i] = state_ws_new(st, on_fire, &n);
        state_kv_get(st, CN_STR("k"), sets[i]);
        state_kv_list(st, CN_STR(""), sets[i], NULL, NULL, NULL);
        state_ws_add_table(sets[i], STATE_T_KVS);
    }
    struct state_txn *tx = state_txn_begin(st, 2);
    struct state_kv_write w = {.key = CN_STR("k"), .value = CN_STR("v")};
    state_kv_set_txn(tx, &w);
    state_txn_abort(tx);
    ASSERT_EQ(0, n);
    put(st, 3, "k", "v");
    ASSERT_EQ(100, n);
    for (int i = 0; i < 100; i++) state_ws_free(sets[i]);
    state_free(st);
}

/* A callback that frees another set still queued must not crash. */
static struct state_watch_set *victim;
static void free_victim(void *ctx)
{
    (void)ctx;
    if (victim) {
        state_ws_free(victim);
        victim = NULL;
    }
}

TEST(watch, callback_may_free_other_sets)
{
    struct state_store *st = state_new();
    struct state_watch_set *a = state_ws_new(st, free_victim, NULL);
    victim = state_ws_new(st, free_victim, NULL);
    state_kv_get(st, CN_STR("k"), a);
    state_kv_get(st, CN_STR("k"), victim);
    put(st, 2, "k", "v");
    ASSERT(victim == NULL);
    state_ws_free(a);
    ASSERT_EQ(0, state_ws_count(st));
    state_free(st);
}
