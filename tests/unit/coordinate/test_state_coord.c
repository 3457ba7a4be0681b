/* The coordinates table: Consul's CoordinateBatchUpdate rules, its index
 * and watch behaviour, deletion with the node, snapshots, and Serf's
 * distance formula. */
#include "coord_helpers.h"
#include "lib/cn_buf.h"
#include "test.h"

static int nfire;
static void count_fire(void *ctx)
{
    (void)ctx;
    nfire++;
}

TEST(coord_state, batch_skips_unknown_nodes_and_invalid_coordinates)
{
    struct state_store *st = state_new();
    add_node(st, 2, "n1");
    add_node(st, 3, "n2");
    struct state_coord bad = at(0.01);
    bad.vec[3] = NAN;
    struct state_coordinate v[] = {row("n1", "", at(0.01)), row("ghost", "", at(0.02)),
                                   row("n2", "", bad)};
    batch(st, 4, v, 3);
    struct seen s = {0};
    ASSERT_U64_EQ(4, state_coordinates_list(st, NULL, collect_fn, &s));
    ASSERT_EQ(1, s.n);
    ASSERT_STR_EQ("n1", s.nodes[0]);
    ASSERT(s.c[0].vec[0] == 0.01 && s.c[0].error == 0.5);
    ASSERT_EQ(1, state_coordinate_count(st));
    ASSERT(state_check_invariants(st));
    state_free(st);
}

TEST(coord_state, upsert_is_keyed_by_node_and_segment_case_insensitively)
{
    struct state_store *st = state_new();
    add_node(st, 2, "Web-1");
    add_node(st, 3, "db");
    struct state_coordinate v[] = {row("web-1", "", at(0.01)), row("db", "", at(0.03)),
                                   row("Web-1", "Alpha", at(0.05))};
    batch(st, 4, v, 3);
    struct state_coordinate again[] = {row("WEB-1", "", at(0.02)), row("web-1", "alpha", at(0.06))};
    batch(st, 5, again, 2);
    struct seen s = {0};
    state_coordinates_list(st, NULL, collect_fn, &s);
    ASSERT_EQ(3, s.n); /* ordered by lowercased node, then segment */
    ASSERT_STR_EQ("db", s.nodes[0]);
    ASSERT_STR_EQ("WEB-1", s.nodes[1]); /* the latest write's spelling */
    ASSERT_STR_EQ("", s.segs[1]);
    ASSERT(s.c[1].vec[0] == 0.02);
    ASSERT_STR_EQ("alpha", s.segs[2]);
    ASSERT(s.c[2].vec[0] == 0.06);
    struct seen one = {0};
    ASSERT_U64_EQ(5, state_node_coordinates(st, CN_STR("wEb-1"), NULL, collect_fn, &one));
    ASSERT_EQ(2, one.n);
    struct seen none = {0};
    state_node_coordinates(st, CN_STR("web"), NULL, collect_fn, &none); /* no prefix match */
    ASSERT_EQ(0, none.n);
    state_free(st);
}

TEST(coord_state, index_moves_on_every_batch_but_only_writes_fire)
{
    struct state_store *st = state_new();
    add_node(st, 2, "n1");
    struct state_watch_set *ws = state_ws_new(st, count_fire, NULL);
    nfire = 0;
    state_coordinates_list(st, ws, NULL, NULL);
    struct state_coordinate ghost = row("ghost", "", at(0.01));
    batch(st, 3, &ghost, 1);
    ASSERT_U64_EQ(3, state_table_index(st, STATE_T_COORDINATES));
    ASSERT_EQ(0, nfire);
    struct state_coordinate real = row("n1", "", at(0.01));
    batch(st, 4, &real, 1);
    ASSERT_EQ(1, nfire);
    ASSERT_U64_EQ(4, state_table_index(st, STATE_T_COORDINATES));
    /* an aborted batch leaves rows and index as they were */
    struct state_coordinate moved = row("n1", "", at(0.09));
    struct state_txn *tx = state_txn_begin(st, 5);
    ASSERT_OK(state_coordinate_batch_txn(tx, &moved, 1));
    state_txn_abort(tx);
    struct seen s = {0};
    ASSERT_U64_EQ(4, state_coordinates_list(st, NULL, collect_fn, &s));
    ASSERT(s.c[0].vec[0] == 0.01);
    state_ws_free(ws);
    state_free(st);
}

TEST(coord_state, deleting_a_node_deletes_its_coordinates)
{
    struct state_store *st = state_new();
    add_node(st, 2, "n1");
    add_node(st, 3, "n10");
    struct state_coordinate v[] = {row("n1", "", at(0.01)), row("n1", "s2", at(0.02)),
                                   row("n10", "", at(0.03))};
    batch(st, 4, v, 3);
    struct state_watch_set *ws = state_ws_new(st, count_fire, NULL);
    nfire = 0;
    state_coordinates_list(st, ws, NULL, NULL);
    ASSERT_OK(dereg(st, 5, "N1", NULL, NULL));
    ASSERT_EQ(1, nfire);
    ASSERT_U64_EQ(5, state_table_index(st, STATE_T_COORDINATES));
    struct seen s = {0};
    state_coordinates_list(st, NULL, collect_fn, &s);
    ASSERT_EQ(1, s.n);
    ASSERT_STR_EQ("n10", s.nodes[0]);
    /* a node without coordinates leaves the index alone */
    add_node(st, 6, "n3");
    ASSERT_OK(dereg(st, 7, "n3", NULL, NULL));
    ASSERT_U64_EQ(5, state_table_index(st, STATE_T_COORDINATES));
    ASSERT(state_check_invariants(st));
    state_ws_free(ws);
    state_free(st);
}

static int buf_write(void *ctx, const void *p, size_t n)
{
    return cn_buf_append(ctx, p, n);
}

struct src {
    const char *p;
    size_t len, pos;
};

static long src_read(void *ctx, void *p, size_t n)
{
    struct src *s = ctx;
    size_t k = CN_MIN(n, s->len - s->pos);
    memcpy(p, s->p + s->pos, k);
    s->pos += k;
    return (long)k;
}

TEST(coord_state, snapshot_round_trip_keeps_rows_and_index)
{
    struct state_store *a = state_new(), *b = state_new();
    struct cn_buf out;
    struct cn_err err;
    add_node(a, 2, "n1");
    add_node(a, 3, "n2");
    struct state_coord odd = at(-0.0123456789);
    odd.adjustment = -1e-7;
    odd.height = 3.5e-4;
    struct state_coordinate v[] = {row("n1", "", odd), row("N2", "seg", at(0.5))};
    batch(a, 4, v, 2);
    cn_buf_init(&out, CN_BUF_UNLIMITED);
    ASSERT_OK(state_snapshot_write(a, buf_write, &out));
    struct src s = {out.data, out.len, 0};
    ASSERT_OK(state_snapshot_restore(b, src_read, &s, &err));
    ASSERT_U64_EQ(4, state_table_index(b, STATE_T_COORDINATES));
    struct seen x = {0}, y = {0};
    state_coordinates_list(a, NULL, collect_fn, &x);
    state_coordinates_list(b, NULL, collect_fn, &y);
    ASSERT_EQ(2, y.n);
    for (int i = 0; i < 2; i++) {
        ASSERT_STR_EQ(x.nodes[i], y.nodes[i]);
        ASSERT_STR_EQ(x.segs[i], y.segs[i]);
        ASSERT_MEM_EQ(&x.c[i], &y.c[i], sizeof x.c[i]);
    }
    /* and the restored rows still go with their node */
    ASSERT_OK(dereg(b, 5, "n2", NULL, NULL));
    ASSERT_EQ(1, state_coordinate_count(b));
    cn_buf_release(&out);
    state_free(a);
    state_free(b);
}

TEST(coord_state, distance_is_serfs)
{
    struct state_coord a = {.height = 0.1}, b = {.height = 0.2};
    a.vec[0] = 3.0;
    b.vec[1] = 4.0;
    ASSERT(fabs(state_coord_distance(&a, &b) - 5.3) < 1e-12); /* |3,4| + heights */
    a.adjustment = -0.1;
    b.adjustment = -0.2;
    ASSERT(fabs(state_coord_distance(&a, &b) - 5.0) < 1e-12); /* adjusted */
    a.adjustment = b.adjustment = -3.0;
    ASSERT(fabs(state_coord_distance(&a, &b) - 5.3) < 1e-12); /* negative: raw distance */
    ASSERT(state_coord_valid(&a));
    a.height = INFINITY;
    ASSERT(!state_coord_valid(&a));
}
