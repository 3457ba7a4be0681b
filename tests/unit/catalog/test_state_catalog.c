/* The catalog tables: registration semantics, indexes, watches, snapshots. */
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

static bool count_svc(void *ctx, const struct state_service *s)
{
    (void)s;
    (*(int *)ctx)++;
    return true;
}

static bool count_chk(void *ctx, const struct state_check *c)
{
    (void)c;
    (*(int *)ctx)++;
    return true;
}

TEST(catalog, register_node_service_check)
{
    struct state_store *st = state_new();
    struct state_node n = mk_node("n1", "10.0.0.1");
    struct state_service s = mk_svc("web1", "web", 80);
    struct state_check c = mk_check("c1", "web1", "passing");
    ASSERT_OK(reg(st, 5, &n, &s, &c, 1));
    const struct state_node *gn = state_node_get(st, CN_STR("N1"), NULL);
    ASSERT(gn);
    ASSERT_STR_EQ("n1", gn->name);
    ASSERT_U64_EQ(5, gn->create_index);
    const struct state_service *gs = state_service_get(st, CN_STR("n1"), CN_STR("WEB1"));
    ASSERT(gs);
    ASSERT_EQ(80, gs->port);
    const struct state_check *gc = state_check_get(st, CN_STR("n1"), CN_STR("c1"));
    ASSERT(gc);
    ASSERT_STR_EQ("web", gc->service_name);
    ASSERT_STR_EQ("passing", gc->status);
    ASSERT_EQ(1, state_node_count(st));
    ASSERT_EQ(1, state_service_count(st));
    ASSERT_EQ(1, state_check_count(st));
    ASSERT(state_check_invariants(st));
    state_free(st);
}

TEST(catalog, identical_rewrite_keeps_modify_index)
{
    struct state_store *st = state_new();
    struct state_node n = mk_node("n1", "10.0.0.1");
    struct state_service s = mk_svc("web1", "web", 80);
    ASSERT_OK(reg(st, 5, &n, &s, NULL, 0));
    ASSERT_OK(reg(st, 6, &n, &s, NULL, 0));
    ASSERT_U64_EQ(5, state_service_get(st, CN_STR("n1"), CN_STR("web1"))->modify_index);
    ASSERT_U64_EQ(5, state_service_instances(st, CN_STR("web"), NULL, NULL, NULL));
    s.port = 81;
    ASSERT_OK(reg(st, 7, &n, &s, NULL, 0));
    const struct state_service *gs = state_service_get(st, CN_STR("n1"), CN_STR("web1"));
    ASSERT_U64_EQ(5, gs->create_index);
    ASSERT_U64_EQ(7, gs->modify_index);
    ASSERT_U64_EQ(7, state_service_instances(st, CN_STR("WEB"), NULL, NULL, NULL));
    state_free(st);
}

TEST(catalog, missing_node_and_service_refused)
{
    struct state_store *st = state_new();
    struct state_node n = mk_node("n1", "a");
    struct state_check c = mk_check("c1", "nosvc", "passing");
    ASSERT_EQ(CN_EINVAL, reg(st, 3, &n, NULL, &c, 1));
    /* aborted: the node is not there either */
    ASSERT(!state_node_exists(st, CN_STR("n1")));
    ASSERT(state_check_invariants(st));
    state_free(st);
}

TEST(catalog, per_service_index_and_extinction)
{
    struct state_store *st = state_new();
    struct state_node n = mk_node("n1", "a");
    struct state_service web = mk_svc("web", "web", 80), db = mk_svc("db", "db", 5432);
    ASSERT_OK(reg(st, 5, &n, &web, NULL, 0));
    ASSERT_OK(reg(st, 6, &n, &db, NULL, 0));
    ASSERT_U64_EQ(5, state_service_instances(st, CN_STR("web"), NULL, NULL, NULL));
    ASSERT_U64_EQ(6, state_service_instances(st, CN_STR("db"), NULL, NULL, NULL));
    ASSERT_OK(dereg(st, 9, "n1", "db", NULL));
    ASSERT_U64_EQ(9, state_service_instances(st, CN_STR("db"), NULL, NULL, NULL));
    ASSERT_U64_EQ(9, state_service_instances(st, CN_STR("never"), NULL, NULL, NULL));
    ASSERT_U64_EQ(5, state_service_instances(st, CN_STR("web"), NULL, NULL, NULL));
    /* a node-level check touches every service of the node */
    struct state_check c = mk_check("maint", NULL, "critical");
    ASSERT_OK(reg(st, 10, &n, NULL, &c, 1));
    ASSERT_U64_EQ(10, state_service_instances(st, CN_STR("web"), NULL, NULL, NULL));
    ASSERT_U64_EQ(10, state_node_index(st, CN_STR("n1")));
    state_free(st);
}

struct fired {
    int n;
};

static void on_fire(void *ctx)
{
    ((struct fired *)ctx)->n++;
}

TEST(catalog, service_watch_wakes_only_for_its_service)
{
    struct state_store *st = state_new();
    struct state_node n1 = mk_node("n1", "a"), n2 = mk_node("n2", "b");
    struct state_service web = mk_svc("web", "web", 80), db = mk_svc("db", "db", 1);
    ASSERT_OK(reg(st, 5, &n1, &web, NULL, 0));
    ASSERT_OK(reg(st, 6, &n2, &db, NULL, 0));
    struct fired f = {0};
    struct state_watch_set *ws = state_ws_new(st, on_fire, &f);
    state_health_service(st, CN_STR("web"), NULL, 0, false, ws, NULL, NULL);
    /* another service on another node, a KV write: nothing */
    struct state_check c = mk_check("dbc", "db", "critical");
    ASSERT_OK(reg(st, 7, &n2, NULL, &c, 1));
    struct state_txn *tx = state_txn_begin(st, 8);
    struct state_kv_write w = {.key = CN_STR("k"), .value = CN_STR("v")};
    state_kv_set_txn(tx, &w);
    state_txn_commit(tx);
    ASSERT_EQ(0, f.n);
    /* a check on web's instance: fires */
    struct state_check wc = mk_check("webc", "web", "passing");
    ASSERT_OK(reg(st, 9, &n1, NULL, &wc, 1));
    ASSERT_EQ(1, f.n);
    state_ws_reset(ws);
    state_health_service(st, CN_STR("web"), NULL, 0, false, ws, NULL, NULL);
    /* node-level check on web's node: fires */
    struct state_check nc = mk_check("serfHealth", NULL, "passing");
    ASSERT_OK(reg(st, 10, &n1, NULL, &nc, 1));
    ASSERT_EQ(2, f.n);
    state_ws_reset(ws);
    state_health_service(st, CN_STR("web"), NULL, 0, false, ws, NULL, NULL);
    /* an identical rewrite: nothing */
    ASSERT_OK(reg(st, 11, &n1, NULL, &nc, 1));
    ASSERT_EQ(2, f.n);
    /* deregistering the last instance: fires */
    ASSERT_OK(dereg(st, 12, "n1", "web", NULL));
    ASSERT_EQ(3, f.n);
    state_ws_free(ws);
    state_free(st);
}

struct rows {
    int n;
    int nchecks[8];
    char status[8][16];
};

static bool collect_csn(void *ctx, const struct state_csn *row)
{
    struct rows *r = ctx;
    r->nchecks[r->n] = (int)row->nchecks;
    snprintf(r->status[r->n], sizeof r->status[0], "%s",
             state_checks_worst(row->checks, row->nchecks));
    r->n++;
    return true;
}

TEST(catalog, health_service_passing_and_tags)
{
    struct state_store *st = state_new();
    struct state_node n1 = mk_node("n1", "a"), n2 = mk_node("n2", "b");
    struct state_service w1 = mk_svc("w", "web", 80), w2 = mk_svc("w", "web", 81);
    char *tags1[] = {"Primary", "v1"};
    w1.tags = tags1;
    w1.ntags = 2;
    struct state_check ok = mk_check("c", "w", "passing"), bad = mk_check("c", "w", "critical");
    struct state_check serf = mk_check("serfHealth", NULL, "passing");
    ASSERT_OK(reg(st, 5, &n1, &w1, &ok, 1));
    ASSERT_OK(reg(st, 6, &n2, &w2, &bad, 1));
    ASSERT_OK(reg(st, 7, &n1, NULL, &serf, 1));
    struct rows r = {0};
    state_health_service(st, CN_STR("web"), NULL, 0, false, NULL, collect_csn, &r);
    ASSERT_EQ(2, r.n);
    ASSERT_EQ(2, r.nchecks[0]); /* serfHealth + c */
    ASSERT_STR_EQ("passing", r.status[0]);
    ASSERT_STR_EQ("critical", r.status[1]);
    memset(&r, 0, sizeof r);
    state_health_service(st, CN_STR("web"), NULL, 0, true, NULL, collect_csn, &r);
    ASSERT_EQ(1, r.n);
    struct cn_str t[] = {CN_STR("primary")};
    memset(&r, 0, sizeof r);
    state_health_service(st, CN_STR("web"), t, 1, false, NULL, collect_csn, &r);
    ASSERT_EQ(1, r.n);
    int nst = 0;
    state_checks_in_state(st, "critical", NULL, count_chk, &nst);
    ASSERT_EQ(1, nst);
    nst = 0;
    state_checks_in_state(st, "any", NULL, count_chk, &nst);
    ASSERT_EQ(3, nst);
    state_free(st);
}

TEST(catalog, deregister_node_removes_everything)
{
    struct state_store *st = state_new();
    struct state_node n1 = mk_node("n1", "a");
    struct state_service w = mk_svc("w", "web", 80);
    struct state_check c[2] = {mk_check("c", "w", "passing"), mk_check("n", NULL, "passing")};
    ASSERT_OK(reg(st, 5, &n1, &w, c, 2));
    ASSERT_OK(dereg(st, 8, "N1", NULL, NULL));
    ASSERT_EQ(0, state_node_count(st));
    ASSERT_EQ(0, state_service_count(st));
    ASSERT_EQ(0, state_check_count(st));
    ASSERT_U64_EQ(8, state_node_index(st, CN_STR("n1")));
    ASSERT_U64_EQ(8, state_service_instances(st, CN_STR("web"), NULL, NULL, NULL));
    /* deregistering something absent is a no-op */
    ASSERT_OK(dereg(st, 9, "n1", "w", NULL));
    ASSERT(state_check_invariants(st));
    state_free(st);
}

TEST(catalog, service_and_check_deregistration)
{
    struct state_store *st = state_new();
    struct state_node n1 = mk_node("n1", "a");
    struct state_service w = mk_svc("w", "web", 80);
    struct state_check c[2] = {mk_check("c", "w", "passing"), mk_check("n", NULL, "passing")};
    ASSERT_OK(reg(st, 5, &n1, &w, c, 2));
    ASSERT_OK(dereg(st, 6, "n1", NULL, "n"));
    ASSERT_EQ(1, state_check_count(st));
    ASSERT_OK(dereg(st, 7, "n1", "w", NULL));
    ASSERT_EQ(0, state_check_count(st));
    ASSERT_EQ(1, state_node_count(st));
    int ns = 0;
    ASSERT_U64_EQ(7, state_node_services(st, CN_STR("n1"), NULL, count_svc, &ns));
    ASSERT_EQ(0, ns);
    state_free(st);
}

TEST(catalog, abort_restores_rows_and_indexes)
{
    struct state_store *st = state_new();
    struct state_node n1 = mk_node("n1", "a");
    struct state_service w = mk_svc("w", "web", 80);
    struct state_check c = mk_check("c", "w", "passing");
    ASSERT_OK(reg(st, 5, &n1, &w, &c, 1));
    struct state_txn *tx = state_txn_begin(st, 6);
    struct cn_err err;
    struct state_service w2 = mk_svc("w", "web2", 90);
    struct state_check c2 = mk_check("c", "w", "critical");
    struct state_register r = {.node = &n1, .service = &w2, .checks = &c2, .nchecks = 1};
    ASSERT_OK(state_catalog_register_txn(tx, &r, &err));
    ASSERT_OK(state_catalog_deregister_txn(tx, CN_STR("n1"), CN_STR_NULL, CN_STR_NULL));
    state_txn_abort(tx);
    ASSERT(state_check_invariants(st));
    const struct state_service *gs = state_service_get(st, CN_STR("n1"), CN_STR("w"));
    ASSERT(gs);
    ASSERT_STR_EQ("web", gs->name);
    ASSERT_STR_EQ("passing", state_check_get(st, CN_STR("n1"), CN_STR("c"))->status);
    ASSERT_U64_EQ(5, state_service_instances(st, CN_STR("web"), NULL, NULL, NULL));
    int n = 0;
    state_service_instances(st, CN_STR("web2"), NULL, count_svc, &n);
    ASSERT_EQ(0, n);
    n = 0;
    state_checks_in_state(st, "passing", NULL, count_chk, &n);
    ASSERT_EQ(1, n);
    state_free(st);
}

TEST(catalog, node_id_rename_and_clash)
{
    struct state_store *st = state_new();
    struct state_node a = mk_node("a", "1"), b = mk_node("b", "2");
    a.id = "11111111-1111-1111-1111-111111111111";
    b.id = "22222222-2222-2222-2222-222222222222";
    ASSERT_OK(reg(st, 5, &a, NULL, NULL, 0));
    ASSERT_OK(reg(st, 6, &b, NULL, NULL, 0));
    /* b's name with a's id: refused */
    struct state_node x = mk_node("b", "3");
    x.id = a.id;
    ASSERT_EQ(CN_EINVAL, reg(st, 7, &x, NULL, NULL, 0));
    /* a's id under a new free name: a rename */
    struct state_node y = mk_node("c", "3");
    y.id = a.id;
    ASSERT_OK(reg(st, 8, &y, NULL, NULL, 0));
    ASSERT(!state_node_exists(st, CN_STR("a")));
    ASSERT(state_node_lookup(st, cn_str_from(a.id), NULL));
    ASSERT_STR_EQ("c", state_node_lookup(st, cn_str_from(a.id), NULL)->name);
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
    size_t left = s->b.len - s->pos;
    if (n > left) n = left;
    memcpy(p, s->b.data + s->pos, n);
    s->pos += n;
    return (long)n;
}

TEST(catalog, snapshot_roundtrip)
{
    struct state_store *st = state_new(), *st2 = state_new();
    struct state_node n1 = mk_node("n1", "a");
    struct state_pair meta[] = {{"env", "prod"}};
    n1.meta = meta;
    n1.nmeta = 1;
    n1.id = "11111111-1111-1111-1111-111111111111";
    struct state_service w = mk_svc("w", "web", 80);
    char *args[] = {"/bin/true"};
    struct state_check c = mk_check("c", "w", "passing");
    c.def.script_args = args;
    c.def.nscript_args = 1;
    c.def.interval_ns = 10000000000LL;
    ASSERT_OK(reg(st, 5, &n1, &w, &c, 1));
    ASSERT_OK(dereg(st, 6, "gone", NULL, NULL));
    struct snapbuf sb = {0};
    cn_buf_init(&sb.b, CN_BUF_UNLIMITED);
    ASSERT_OK(state_snapshot_write(st, snap_write, &sb));
    struct cn_err err;
    ASSERT_OK(state_snapshot_restore(st2, snap_read, &sb, &err));
    ASSERT(state_check_invariants(st2));
    const struct state_check *gc = state_check_get(st2, CN_STR("n1"), CN_STR("c"));
    ASSERT(gc);
    ASSERT_STR_EQ("/bin/true", gc->def.script_args[0]);
    ASSERT(state_check_same(gc, state_check_get(st, CN_STR("n1"), CN_STR("c"))));
    ASSERT(state_node_same(state_node_get(st2, CN_STR("n1"), NULL), &n1));
    ASSERT(state_node_lookup(st2, cn_str_from(n1.id), NULL));
    ASSERT_U64_EQ(5, state_service_instances(st2, CN_STR("web"), NULL, NULL, NULL));
    ASSERT_EQ(1, state_service_count(st2));
    cn_buf_release(&sb.b);
    state_free(st);
    state_free(st2);
}

TEST(catalog, codec_rejects_garbage)
{
    struct cn_arena a;
    cn_arena_init(&a, 512);
    uint8_t junk[64];
    for (int seed = 0; seed < 2000; seed++) {
        srand((unsigned)seed);
        for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)rand();
        junk[0] = 1; /* right version: exercise the body */
        struct cn_dec d;
        struct state_check c;
        struct state_service s;
        cn_dec_init(&d, junk, (size_t)(seed % (int)sizeof junk));
        (void)state_check_decode(&d, &a, &c);
        cn_dec_init(&d, junk, sizeof junk);
        (void)state_service_decode(&d, &a, &s);
        cn_arena_release(&a);
    }
}
