/* RPC_CMD_COORDINATES through its codec and the FSM, the server's queue of
 * pending updates, and ?near ordering of catalog and health rows. */
#include "coord_helpers.h"
#include "lib/cn_arena.h"
#include "rpc/rpc_cmd.h"
#include "rpc/rpc_coordinate.h"
#include "server/fsm.h"
#include "test.h"

static int apply(struct state_store *st, uint64_t idx, const struct cn_buf *cmd)
{
    struct rpc_result res = {0};
    int rc = server_fsm_apply(st, idx, cmd->data, cmd->len, &res);
    free(res.text);
    return rc;
}

TEST(coord_cmd, codec_round_trip_and_refusals)
{
    struct state_coord c = at(0.25);
    c.adjustment = -0.001;
    struct state_coordinate v[] = {row("n1", "", c), row("n2", "seg", at(1e-9))};
    struct cn_buf b;
    struct cn_dec d;
    struct cn_arena a;
    struct state_coordinate *out;
    size_t n;
    enum rpc_cmd_type type;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_arena_init(&a, 1024);
    rpc_coordinates_encode(v, 2, &b);
    ASSERT_OK(rpc_cmd_open(&d, b.data, b.len, &type));
    ASSERT_EQ(RPC_CMD_COORDINATES, type);
    ASSERT_OK(rpc_coordinates_decode(&d, &a, &out, &n));
    ASSERT_EQ(2, n);
    ASSERT_STR_EQ("n2", out[1].node);
    ASSERT_STR_EQ("seg", out[1].segment);
    ASSERT_MEM_EQ(&c, &out[0].coord, sizeof c);
    ASSERT_EQ(0, cn_dec_left(&d));
    /* every truncation is refused, never read past */
    for (size_t cut = 2; cut < b.len; cut++) {
        ASSERT_OK(rpc_cmd_open(&d, b.data, cut, &type));
        ASSERT_EQ(CN_ECORRUPT, rpc_coordinates_decode(&d, &a, &out, &n));
    }
    /* a count the bytes cannot hold is refused before anything is allocated */
    cn_buf_reset(&b);
    rpc_cmd_begin(&b, RPC_CMD_COORDINATES);
    cn_enc_uvar(&b, 1u << 30);
    ASSERT_OK(rpc_cmd_open(&d, b.data, b.len, &type));
    ASSERT_EQ(CN_ECORRUPT, rpc_coordinates_decode(&d, &a, &out, &n));
    cn_arena_release(&a);
    cn_buf_release(&b);
}

TEST(coord_cmd, fsm_applies_a_batch_and_refuses_garbage)
{
    struct state_store *st = state_new();
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    add_node(st, 2, "n1");
    struct state_coordinate v[] = {row("n1", "", at(0.004)), row("unknown", "", at(0.005))};
    rpc_coordinates_encode(v, 2, &b);
    ASSERT_OK(apply(st, 3, &b));
    struct seen s = {0};
    ASSERT_U64_EQ(3, state_coordinates_list(st, NULL, collect_fn, &s));
    ASSERT_EQ(1, s.n); /* Consul drops updates for nodes not in the catalog */
    ASSERT(s.c[0].vec[0] == 0.004);
    /* trailing bytes and a cut body: the whole command is refused */
    cn_buf_putc(&b, 'x');
    ASSERT_NE(0, apply(st, 4, &b));
    b.len -= 10;
    ASSERT_NE(0, apply(st, 5, &b));
    struct seen after = {0};
    ASSERT_U64_EQ(3, state_coordinates_list(st, NULL, collect_fn, &after));
    ASSERT_EQ(1, after.n);
    ASSERT(state_check_invariants(st));
    cn_buf_release(&b);
    state_free(st);
}

/* Decode an encoded batch from the queue. */
static size_t batch_rows(const struct cn_buf *b, struct cn_arena *a, struct state_coordinate **v)
{
    struct cn_dec d;
    enum rpc_cmd_type type;
    size_t n = 0;
    ASSERT_OK(rpc_cmd_open(&d, b->data, b->len, &type));
    ASSERT_EQ(RPC_CMD_COORDINATES, type);
    ASSERT_OK(rpc_coordinates_decode(&d, a, v, &n));
    return n;
}

TEST(coord_queue, latest_update_per_node_and_segment_wins)
{
    struct rpc_coord_queue *q = rpc_coord_queue_new(640);
    struct state_coordinate u[] = {row("n1", "", at(0.1)), row("n2", "", at(0.2)),
                                   row("n1", "", at(0.3)), row("n1", "s", at(0.4)),
                                   row("N1", "", at(0.5))};
    for (int i = 0; i < 5; i++)
        ASSERT(rpc_coord_queue_put(q, &u[i]));
    /* "N1" is its own key here (Consul's map is case-sensitive; the store folds) */
    ASSERT_EQ(4, rpc_coord_queue_len(q));
    struct cn_buf b;
    struct cn_arena a;
    struct state_coordinate *v;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_arena_init(&a, 1024);
    ASSERT_EQ(4, rpc_coord_queue_next_batch(q, 128, &b));
    size_t n = batch_rows(&b, &a, &v);
    ASSERT_EQ(4, n);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i].node, "n1") && !*v[i].segment) ASSERT(v[i].coord.vec[0] == 0.3);
    ASSERT_EQ(0, rpc_coord_queue_len(q));
    ASSERT_EQ(0, rpc_coord_queue_next_batch(q, 128, &b));
    ASSERT_EQ(0, b.len);
    cn_arena_release(&a);
    cn_buf_release(&b);
    rpc_coord_queue_free(q);
}

TEST(coord_queue, bounded_and_drained_in_batches)
{
    struct rpc_coord_queue *q = rpc_coord_queue_new(10);
    char names[12][8];
    for (int i = 0; i < 12; i++) {
        snprintf(names[i], sizeof names[i], "n%02d", i);
        struct state_coordinate u = row(names[i], "", at(i * 0.001));
        ASSERT_EQ(i < 10, rpc_coord_queue_put(q, &u));
    }
    ASSERT_EQ(10, rpc_coord_queue_len(q));
    ASSERT_EQ(2, rpc_coord_queue_take_dropped(q));
    ASSERT_EQ(0, rpc_coord_queue_take_dropped(q));
    /* a full queue still takes a newer update of a node it holds */
    struct state_coordinate again = row("n03", "", at(0.9));
    ASSERT(rpc_coord_queue_put(q, &again));
    struct cn_buf b;
    struct cn_arena a;
    struct state_coordinate *v;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_arena_init(&a, 1024);
    size_t sizes[3], total = 0;
    bool saw_update = false;
    for (int k = 0; k < 3; k++) {
        sizes[k] = rpc_coord_queue_next_batch(q, 4, &b);
        if (!sizes[k]) continue;
        size_t n = batch_rows(&b, &a, &v);
        ASSERT_EQ(sizes[k], n);
        for (size_t i = 0; i < n; i++)
            saw_update |= !strcmp(v[i].node, "n03") && v[i].coord.vec[0] == 0.9;
        total += n;
    }
    ASSERT_EQ(4, sizes[0]);
    ASSERT_EQ(4, sizes[1]);
    ASSERT_EQ(2, sizes[2]);
    ASSERT_EQ(10, total);
    ASSERT(saw_update);
    /* freeing a non-empty queue releases what waits */
    struct state_coordinate late = row("late", "", at(0.1));
    rpc_coord_queue_put(q, &late);
    cn_arena_release(&a);
    cn_buf_release(&b);
    rpc_coord_queue_free(q);
}

/* ---- ?near --------------------------------------------------------------------------- */

/* Nodes a..e; a at 0, b at 30 ms, c at 10 ms, d at 25 ms; e has none. */
static struct state_store *near_store(void)
{
    struct state_store *st = state_new();
    const char *names[] = {"a", "b", "c", "d", "e"};
    for (int i = 0; i < 5; i++)
        add_node(st, (uint64_t)i + 2, names[i]);
    struct state_coordinate v[] = {row("a", "", at(0)), row("b", "", at(0.030)),
                                   row("c", "", at(0.010)), row("d", "", at(0.025))};
    batch(st, 10, v, 4);
    return st;
}

static void order_of_nodes(struct rpc_catalog_resp *r, char *out)
{
    for (size_t i = 0; i < r->nnodes; i++)
        out[i] = r->nodes[i]->name[0];
    out[r->nnodes] = 0;
}

TEST(coord_near, catalog_nodes_sorted_by_rtt_missing_last)
{
    struct state_store *st = near_store();
    struct state_node n[5];
    struct state_node *p[5];
    const char *names[] = {"a", "b", "c", "d", "e"};
    char got[8];
    for (int i = 0; i < 5; i++) {
        n[i] = mk_node(names[i], "10.0.0.1");
        p[i] = &n[i];
    }
    struct rpc_catalog_resp r = {.nodes = p, .nnodes = 5};
    rpc_near_sort_catalog(st, "d", RPC_CATALOG_NODES, &r);
    order_of_nodes(&r, got);
    ASSERT_STR_EQ("dbcae", got);
    rpc_near_sort_catalog(st, "A", RPC_CATALOG_NODES, &r); /* node names fold */
    order_of_nodes(&r, got);
    ASSERT_STR_EQ("acdbe", got);
    /* no coordinate for the source (or none given): untouched */
    rpc_near_sort_catalog(st, "e", RPC_CATALOG_NODES, &r);
    rpc_near_sort_catalog(st, "", RPC_CATALOG_NODES, &r);
    rpc_near_sort_catalog(st, NULL, RPC_CATALOG_NODES, &r);
    order_of_nodes(&r, got);
    ASSERT_STR_EQ("acdbe", got);
    state_free(st);
}

TEST(coord_near, service_rows_keep_their_nodes)
{
    struct state_store *st = near_store();
    struct state_node n[3] = {mk_node("b", "1"), mk_node("e", "2"), mk_node("c", "3")};
    struct state_service s[3] = {mk_svc("web1", "web", 1), mk_svc("web2", "web", 2),
                                 mk_svc("web3", "web", 3)};
    s[0].node = "b";
    s[1].node = "e";
    s[2].node = "c";
    struct state_node *np[3] = {&n[0], &n[1], &n[2]};
    struct state_service *sp[3] = {&s[0], &s[1], &s[2]};
    struct rpc_catalog_resp r = {.nodes = np, .nnodes = 3, .services = sp, .nservices = 3};
    rpc_near_sort_catalog(st, "a", RPC_CATALOG_SERVICE, &r);
    ASSERT_STR_EQ("web3", r.services[0]->id);
    ASSERT_STR_EQ("c", r.nodes[0]->name);
    ASSERT_STR_EQ("web1", r.services[1]->id);
    ASSERT_STR_EQ("b", r.nodes[1]->name);
    ASSERT_STR_EQ("web2", r.services[2]->id);
    ASSERT_STR_EQ("e", r.nodes[2]->name);
    state_free(st);
}

TEST(coord_near, health_checks_and_rows)
{
    struct state_store *st = near_store();
    struct state_check c[4] = {mk_check("x", NULL, "passing"), mk_check("y", NULL, "passing"),
                               mk_check("z", NULL, "passing"), mk_check("w", NULL, "passing")};
    c[0].node = "b";
    c[1].node = "a";
    c[2].node = "e";
    c[3].node = "d";
    struct state_check *cp[4] = {&c[0], &c[1], &c[2], &c[3]};
    struct rpc_health_resp r = {.checks = cp, .nchecks = 4};
    rpc_near_sort_health(st, "c", RPC_HEALTH_STATE, &r);
    ASSERT_STR_EQ("y", r.checks[0]->check_id);          /* a: 10 ms */
    ASSERT_STR_EQ("w", r.checks[1]->check_id);          /* d: 15 ms */
    ASSERT_STR_EQ("x", r.checks[2]->check_id);          /* b: 20 ms */
    ASSERT_STR_EQ("z", r.checks[3]->check_id);          /* e: none */
    rpc_near_sort_health(st, "b", RPC_HEALTH_NODE, &r); /* Consul does not sort node checks */
    ASSERT_STR_EQ("y", r.checks[0]->check_id);
    struct state_node n[2] = {mk_node("a", "1"), mk_node("b", "2")};
    struct rpc_csn rows[2] = {{.node = &n[0]}, {.node = &n[1]}};
    struct rpc_health_resp h = {.rows = rows, .nrows = 2};
    rpc_near_sort_health(st, "b", RPC_HEALTH_SERVICE, &h);
    ASSERT_STR_EQ("b", h.rows[0].node->name);
    ASSERT_STR_EQ("a", h.rows[1].node->name);
    state_free(st);
}

TEST(coord_near, equal_distances_keep_endpoint_order)
{
    struct state_store *st = state_new();
    const char *names[] = {"p", "q", "r", "s"};
    for (int i = 0; i < 4; i++)
        add_node(st, (uint64_t)i + 2, names[i]);
    /* q, r and s all sit at the same spot */
    struct state_coordinate v[] = {row("p", "", at(0)), row("q", "", at(0.005)),
                                   row("r", "", at(0.005)), row("s", "", at(0.005))};
    batch(st, 10, v, 4);
    struct state_node n[4] = {mk_node("s", "1"), mk_node("q", "2"), mk_node("p", "3"),
                              mk_node("r", "4")};
    struct state_node *p[4] = {&n[0], &n[1], &n[2], &n[3]};
    struct rpc_catalog_resp r = {.nodes = p, .nnodes = 4};
    char got[8];
    rpc_near_sort_catalog(st, "p", RPC_CATALOG_NODES, &r);
    order_of_nodes(&r, got);
    ASSERT_STR_EQ("psqr", got);
    state_free(st);
}
