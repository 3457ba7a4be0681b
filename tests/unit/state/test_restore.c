/* Replacing a store wholesale (state_restore_stamp, state_replace): the
 * snapshot restore path of PUT /v1/snapshot. */
#include "../catalog/helpers.h"
#include "helpers.h"
#include "test.h"

static int nfired;
static void on_fire(void *ctx)
{
    (void)ctx;
    nfired++;
}

static bool noop_service(void *ctx, const struct state_service *s)
{
    (void)ctx;
    (void)s;
    return true;
}

TEST(restore, stamp_raises_every_index_to_the_restore_index)
{
    struct state_store *st = state_new();
    struct state_node n = mk_node("n1", "10.0.0.1");
    struct state_service s = mk_svc("web1", "web", 80);
    put(st, 5, "a", "1");
    ASSERT_OK(reg(st, 7, &n, &s, NULL, 0));
    put(st, 9, "b", "2");
    ASSERT_U64_EQ(0, state_restore_index(st));
    ASSERT_U64_EQ(7, state_service_instances(st, CN_STR("web"), NULL, noop_service, NULL));
    state_restore_stamp(st, 50);
    ASSERT_U64_EQ(50, state_last_index(st));
    ASSERT_U64_EQ(50, state_restore_index(st)); /* the floor of every query's index */
    ASSERT_U64_EQ(50, state_kv_index(st));
    for (int t = 0; t < STATE_T__COUNT; t++)
        ASSERT_U64_EQ(50, state_table_index(st, t));
    /* the fine-grained index a blocking health query reads moved too */
    ASSERT_U64_EQ(50, state_service_instances(st, CN_STR("web"), NULL, noop_service, NULL));
    /* the records themselves keep their own indexes */
    ASSERT_U64_EQ(5, get(st, "a")->modify_index);
    ASSERT(state_check_invariants(st));
    put(st, 51, "c", "3"); /* later writes continue above it */
    ASSERT_U64_EQ(51, state_kv_index(st));
    state_free(st);
}

TEST(restore, replace_swaps_contents_and_wakes_every_watch)
{
    struct state_store *st = state_new(), *scratch = state_new();
    put(st, 3, "old", "x");
    put(scratch, 2, "new", "y");
    state_restore_stamp(scratch, 10);
    struct state_watch_set *ws = state_ws_new(st, on_fire, NULL);
    state_kv_get(st, CN_STR("unrelated"), ws);
    nfired = 0;
    state_replace(st, scratch); /* frees scratch */
    ASSERT_EQ(1, nfired);
    ASSERT(get(st, "old") == NULL);
    ASSERT(get(st, "new") != NULL);
    ASSERT_U64_EQ(10, state_last_index(st));
    ASSERT(state_check_invariants(st));
    state_ws_free(ws);
    state_free(st);
}
