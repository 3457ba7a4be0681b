#include "helpers.h"
#include "lib/cn_buf.h"
#include "lib/cn_rand.h"
#include "test.h"

static int buf_write(void *ctx, const void *p, size_t n)
{
    return cn_buf_append(ctx, p, n);
}

struct src {
    const char *p;
    size_t len, pos, step;
};

static long src_read(void *ctx, void *p, size_t n)
{
    struct src *s = ctx;
    size_t k = CN_MIN(CN_MIN(n, s->len - s->pos), s->step);
    memcpy(p, s->p + s->pos, k);
    s->pos += k;
    return (long)k;
}

static int nfire;
static void count_fire(void *ctx)
{
    (void)ctx;
    nfire++;
}

TEST(snapshot, round_trip_preserves_everything)
{
    struct state_store *a = state_new(), *b = state_new();
    struct cn_buf out;
    struct cn_err err;
    bool ok;
    cn_buf_init(&out, CN_BUF_UNLIMITED);
    for (int i = 0; i < 5000; i++) {
        char k[32];
        snprintf(k, sizeof k, "key/%05d", i);
        put(a, (uint64_t)i + 2, k, "value-of-some-length");
    }
    del(a, 6000, "key/00042");
    struct state_kv_write w = {.key = CN_STR("lk"), .value = CN_STR("x"), .session = CN_STR("s")};
    struct state_txn *tx = state_txn_begin(a, 6001);
    state_kv_lock_txn(tx, &w, &ok);
    state_txn_commit(tx);
    ASSERT_OK(state_snapshot_write(a, buf_write, &out));

    struct state_watch_set *ws = state_ws_new(b, count_fire, NULL);
    state_kv_get(b, CN_STR("anything"), ws);
    /* feed it in awkward 7-byte pieces */
    struct src s = {out.data, out.len, 0, 7};
    ASSERT_OK(state_snapshot_restore(b, src_read, &s, &err));
    ASSERT_EQ(1, nfire);
    ASSERT_EQ(state_kv_count(a), state_kv_count(b));
    ASSERT_EQ(1, state_tombstone_count(b));
    ASSERT_U64_EQ(state_last_index(a), state_last_index(b));
    ASSERT_U64_EQ(state_kv_index(a), state_kv_index(b));
    const struct state_kv *e = state_kv_get(b, CN_STR("lk"), NULL);
    ASSERT(e && state_kv_lock_index(e) == 1 && !strcmp(state_kv_session(e), "s"));
    e = state_kv_get(b, CN_STR("key/04999"), NULL);
    ASSERT(e && e->modify_index == 5001 && e->create_index == 5001);
    ASSERT(state_check_invariants(b));
    state_ws_free(ws);
    cn_buf_release(&out);
    state_free(a);
    state_free(b);
}

TEST(snapshot, corrupt_input_fails_cleanly)
{
    struct state_store *a = state_new(), *b = state_new();
    struct cn_buf out;
    struct cn_err err;
    struct cn_rand r;
    cn_rand_seed(&r, cn_test_seed());
    cn_buf_init(&out, CN_BUF_UNLIMITED);
    for (int i = 0; i < 200; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        put(a, (uint64_t)i + 2, k, "v");
    }
    ASSERT_OK(state_snapshot_write(a, buf_write, &out));
    for (int round = 0; round < 300; round++) {
        char *copy = cn_memdup(out.data, out.len);
        size_t len = out.len;
        if (round % 2) {
            len = cn_rand_below(&r, out.len);
        } else {
            copy[cn_rand_below(&r, out.len)] ^= (char)(1 + cn_rand_below(&r, 255));
        }
        struct src s = {copy, len, 0, 4096};
        int rc = state_snapshot_restore(b, src_read, &s, &err);
        /* either a clean failure that leaves the store empty, or a success
         * that passed every structural check */
        if (rc) ASSERT_EQ(0, state_kv_count(b));
        ASSERT(state_check_invariants(b));
        free(copy);
    }
    cn_buf_release(&out);
    state_free(a);
    state_free(b);
}
