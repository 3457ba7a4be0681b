/* Sessions table: create validation, indexes, invalidation by the catalog,
 * release/delete of held keys, lock-delay records, snapshots. */
#include "lib/cn_arena.h"
#include "session_helpers.h"
#include "test.h"

static bool count_fn(void *ctx, const struct state_session *s)
{
    (void)s;
    (*(int *)ctx)++;
    return true;
}

static int node_count(struct state_store *st, const char *node)
{
    int n = 0;
    state_node_sessions(st, cn_str_from(node), NULL, count_fn, &n);
    return n;
}

TEST(session, create_validates_node_and_checks)
{
    struct state_store *st = state_new();
    struct cn_err err;
    struct state_session s = mk_session("s1", "n1");
    ASSERT_EQ(CN_EINVAL, create(st, 2, &s, &err));
    ASSERT_STR_EQ("Missing node registration", err.msg);
    node_with_checks(st, 3, "critical");
    char *bad[] = {"serfHealth", "nope"};
    s.node_checks = bad;
    s.nnode_checks = 2;
    ASSERT_EQ(CN_EINVAL, create(st, 4, &s, &err));
    ASSERT_STR_EQ("Missing check 'nope' registration", err.msg);
    char *crit[] = {"web-check"};
    s.node_checks = crit;
    s.nnode_checks = 1;
    ASSERT_EQ(CN_EINVAL, create(st, 5, &s, &err));
    ASSERT_STR_EQ("Check 'web-check' is in critical state", err.msg);
    ASSERT_U64_EQ(0, state_session_count(st));
    ASSERT_U64_EQ(0, state_table_index(st, STATE_T_SESSIONS));
    s = mk_session("s1", "N1"); /* node names match case-insensitively */
    ASSERT_OK(create(st, 6, &s, &err));
    ASSERT(state_session_exists(st, CN_STR("s1")));
    ASSERT_EQ(CN_EEXIST, create(st, 7, &s, &err));
    const struct state_session *g = state_session_get(st, CN_STR("s1"), NULL);
    ASSERT_U64_EQ(6, g->create_index);
    ASSERT_U64_EQ(6, state_table_index(st, STATE_T_SESSIONS));
    ASSERT_EQ(1, node_count(st, "n1"));
    ASSERT(state_check_invariants(st));
    state_free(st);
}

TEST(session, destroy_releases_or_deletes_held_keys)
{
    struct state_store *st = state_new();
    struct cn_err err;
    node_with_checks(st, 2, "passing");
    struct state_session rel = mk_session("rel", "n1"), del = mk_session("del", "n1");
    del.delete_keys = true;
    ASSERT_OK(create(st, 3, &rel, &err));
    ASSERT_OK(create(st, 4, &del, &err));
    ASSERT(lock_key(st, 5, "a", "rel"));
    ASSERT(!lock_key(st, 6, "a", "del")); /* held by another */
    ASSERT(lock_key(st, 7, "b", "del"));
    destroy(st, 8, "rel");
    const struct state_kv *a = state_kv_get(st, CN_STR("a"), NULL);
    ASSERT(a && state_kv_session(a) == NULL);
    ASSERT_U64_EQ(1, state_kv_lock_index(a));
    ASSERT_U64_EQ(8, a->modify_index);
    destroy(st, 9, "del");
    ASSERT(state_kv_get(st, CN_STR("b"), NULL) == NULL);
    ASSERT_U64_EQ(0, state_session_count(st));
    ASSERT_EQ(0, node_count(st, "n1"));
    destroy(st, 10, "never-existed"); /* idempotent */
    ASSERT(state_check_invariants(st));
    state_free(st);
}

struct delays {
    int n;
    char key[8][16];
    int64_t ns[8];
};

static void take(void *ctx, struct cn_str key, int64_t ns)
{
    struct delays *d = ctx;
    if (d->n < 8) {
        snprintf(d->key[d->n], sizeof d->key[d->n], "%.*s", (int)key.len, key.p);
        d->ns[d->n++] = ns;
    }
}

TEST(session, lock_delay_records_follow_invalidations)
{
    struct state_store *st = state_new();
    struct cn_err err;
    node_with_checks(st, 2, "passing");
    struct state_session s = mk_session("s1", "n1"), z = mk_session("s0", "n1");
    s.lock_delay_ns = 2000000000LL;
    z.lock_delay_ns = 0;
    ASSERT_OK(create(st, 3, &s, &err));
    ASSERT_OK(create(st, 4, &z, &err));
    ASSERT(lock_key(st, 5, "k1", "s1"));
    ASSERT(lock_key(st, 6, "k2", "s1"));
    ASSERT(lock_key(st, 7, "k3", "s0"));
    destroy(st, 8, "s1");
    struct delays d = {0};
    uint64_t seen = state_lock_delays_since(st, 0, take, &d);
    ASSERT_U64_EQ(8, seen);
    ASSERT_EQ(2, d.n);
    ASSERT_STR_EQ("k1", d.key[0]);
    ASSERT_STR_EQ("k2", d.key[1]);
    ASSERT(d.ns[0] == 2000000000LL);
    memset(&d, 0, sizeof d);
    ASSERT_U64_EQ(8, state_lock_delays_since(st, seen, take, &d));
    ASSERT_EQ(0, d.n);
    destroy(st, 9, "s0"); /* LockDelay 0: no record, and the old ones go */
    ASSERT_U64_EQ(0, state_lock_delays_since(st, 0, take, &d));
    ASSERT_EQ(0, d.n);
    state_free(st);
}

TEST(session, aborted_invalidation_leaves_no_record)
{
    struct state_store *st = state_new();
    struct cn_err err;
    node_with_checks(st, 2, "passing");
    struct state_session s = mk_session("s1", "n1");
    ASSERT_OK(create(st, 3, &s, &err));
    ASSERT(lock_key(st, 4, "k", "s1"));
    struct state_txn *tx = state_txn_begin(st, 5);
    state_session_destroy_txn(tx, CN_STR("s1"));
    state_txn_abort(tx);
    struct delays d = {0};
    ASSERT_U64_EQ(0, state_lock_delays_since(st, 0, take, &d));
    ASSERT(state_session_exists(st, CN_STR("s1")));
    ASSERT_STR_EQ("s1", state_kv_session(state_kv_get(st, CN_STR("k"), NULL)));
    ASSERT_EQ(1, node_count(st, "n1"));
    ASSERT(state_check_invariants(st));
    state_free(st);
}

TEST(session, critical_check_invalidates_bound_sessions_only)
{
    struct state_store *st = state_new();
    struct cn_err err;
    node_with_checks(st, 2, "passing");
    char *web[] = {"Web-Check"}; /* check IDs match case-insensitively */
    struct state_session bound = mk_session("bound", "n1"), other = mk_session("other", "n1");
    bound.node_checks = web;
    other.nnode_checks = 0;
    ASSERT_OK(create(st, 3, &bound, &err));
    ASSERT_OK(create(st, 4, &other, &err));
    ASSERT(lock_key(st, 5, "leader", "bound"));
    node_with_checks(st, 6, "warning"); /* not critical: nothing happens */
    ASSERT(state_session_exists(st, CN_STR("bound")));
    node_with_checks(st, 7, "critical");
    ASSERT(!state_session_exists(st, CN_STR("bound")));
    ASSERT(state_session_exists(st, CN_STR("other")));
    const struct state_kv *e = state_kv_get(st, CN_STR("leader"), NULL);
    ASSERT(e && !state_kv_session(e));
    ASSERT_U64_EQ(7, e->modify_index);
    ASSERT_U64_EQ(7, state_table_index(st, STATE_T_SESSIONS));
    state_free(st);
}

TEST(session, deregistering_check_or_node_invalidates)
{
    struct state_store *st = state_new();
    struct cn_err err;
    node_with_checks(st, 2, "passing");
    struct state_session a = mk_session("a", "n1"), b = mk_session("b", "n1");
    char *web[] = {"web-check"};
    b.node_checks = web;
    ASSERT_OK(create(st, 3, &a, &err));
    ASSERT_OK(create(st, 4, &b, &err));
    ASSERT_OK(dereg(st, 5, "n1", NULL, "web-check"));
    ASSERT(!state_session_exists(st, CN_STR("b")));
    ASSERT(state_session_exists(st, CN_STR("a")));
    ASSERT_OK(dereg(st, 6, "N1", NULL, NULL));
    ASSERT(!state_session_exists(st, CN_STR("a")));
    ASSERT_U64_EQ(0, state_session_count(st));
    ASSERT(state_check_invariants(st));
    state_free(st);
}

TEST(session, service_checks_bind_too)
{
    struct state_store *st = state_new();
    struct cn_err err;
    struct state_node n = mk_node("n1", "10.0.0.1");
    struct state_service svc = mk_svc("web", "web", 80);
    struct state_check c = mk_check("svc-check", "web", "passing");
    ASSERT_OK(reg(st, 2, &n, &svc, &c, 1));
    struct state_session s = mk_session("s", "n1");
    char *sc[] = {"svc-check"};
    s.nnode_checks = 0;
    s.service_checks = sc;
    s.nservice_checks = 1;
    ASSERT_OK(create(st, 3, &s, &err));
    ASSERT_OK(dereg(st, 4, "n1", "web", NULL)); /* the service and its check go */
    ASSERT(!state_session_exists(st, CN_STR("s")));
    state_free(st);
}

struct snapbuf {
    struct cn_buf b;
    size_t pos;
};

static int snap_write(void *ctx, const void *p, size_t n)
{
    cn_buf_put(&((struct snapbuf *)ctx)->b, p, n);
    return 0;
}

static long snap_read(void *ctx, void *p, size_t n)
{
    struct snapbuf *s = ctx;
    size_t k = CN_MIN(n, s->b.len - s->pos);
    memcpy(p, s->b.data + s->pos, k);
    s->pos += k;
    return (long)k;
}

TEST(session, snapshot_round_trip_rebuilds_indexes)
{
    struct state_store *st = state_new(), *st2 = state_new();
    struct cn_err err;
    node_with_checks(st, 2, "passing");
    struct state_session s = mk_session("s1", "n1");
    s.ttl = "10.0s";
    s.name = "patroni";
    s.delete_keys = true;
    ASSERT_OK(create(st, 3, &s, &err));
    ASSERT(lock_key(st, 4, "k", "s1"));
    struct snapbuf sb = {0};
    cn_buf_init(&sb.b, CN_BUF_UNLIMITED);
    ASSERT_OK(state_snapshot_write(st, snap_write, &sb));
    ASSERT_OK(state_snapshot_restore(st2, snap_read, &sb, &err));
    const struct state_session *g = state_session_get(st2, CN_STR("s1"), NULL);
    ASSERT(g != NULL);
    ASSERT_STR_EQ("10.0s", g->ttl);
    ASSERT_STR_EQ("patroni", g->name);
    ASSERT(g->delete_keys);
    ASSERT_EQ(1, node_count(st2, "n1"));
    node_with_checks(st2, 5, "critical"); /* the by-check index came back too */
    ASSERT(state_session_exists(st2, CN_STR("s1")));
    ASSERT_OK(dereg(st2, 6, "n1", NULL, "serfHealth"));
    ASSERT(!state_session_exists(st2, CN_STR("s1")));
    ASSERT(state_kv_get(st2, CN_STR("k"), NULL) == NULL);
    cn_buf_release(&sb.b);
    state_free(st);
    state_free(st2);
}

TEST(session, codec_round_trip)
{
    struct cn_buf b;
    struct cn_arena a;
    struct cn_dec d;
    struct state_session s = mk_session("id", "node"), out;
    char *sc[] = {"x", "y"};
    s.service_checks = sc;
    s.nservice_checks = 2;
    s.create_index = 7;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_arena_init(&a, 256);
    state_session_encode(&s, &b);
    cn_dec_init(&d, b.data, b.len);
    ASSERT_OK(state_session_decode(&d, &a, &out));
    ASSERT_STR_EQ("node", out.node);
    ASSERT_EQ(2, (int)out.nservice_checks);
    ASSERT_STR_EQ("y", out.service_checks[1]);
    ASSERT_U64_EQ(7, out.create_index);
    cn_dec_init(&d, b.data, b.len / 2);
    ASSERT(state_session_decode(&d, &a, &out) != 0);
    cn_arena_release(&a);
    cn_buf_release(&b);
}
