#ifndef TEST_COORD_HELPERS_H
#define TEST_COORD_HELPERS_H
#include <math.h>

#include "helpers.h" /* tests/unit/catalog: mk_node, reg, dereg */
#include "state/state.h"

/* A coordinate at x on the first axis (seconds), Serf's fresh height. */
static inline struct state_coord at(double x)
{
    struct state_coord c = {.error = 0.5, .height = 10.0e-6};
    c.vec[0] = x;
    return c;
}

static inline struct state_coordinate row(const char *node, const char *seg, struct state_coord c)
{
    struct state_coordinate r = {.node = (char *)node, .segment = (char *)seg, .coord = c};
    return r;
}

static inline void batch(struct state_store *st, uint64_t idx, const struct state_coordinate *v,
                         size_t n)
{
    struct state_txn *tx = state_txn_begin(st, idx);
    ASSERT_OK(state_coordinate_batch_txn(tx, v, n));
    state_txn_commit(tx);
}

static inline void add_node(struct state_store *st, uint64_t idx, const char *name)
{
    struct state_node n = mk_node(name, "10.0.0.1");
    ASSERT_OK(reg(st, idx, &n, NULL, NULL, 0));
}

struct seen {
    int n;
    char nodes[16][32];
    char segs[16][32];
    struct state_coord c[16];
};

static inline bool collect_fn(void *ctx, const struct state_coordinate *c)
{
    struct seen *s = ctx;
    if (s->n < 16) {
        snprintf(s->nodes[s->n], 32, "%s", c->node);
        snprintf(s->segs[s->n], 32, "%s", c->segment);
        s->c[s->n] = c->coord;
    }
    s->n++;
    return true;
}
#endif
