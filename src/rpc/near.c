/*
 * near.c - ?near=<node>: results ordered by estimated round trip from a node
 * (Consul's agent/consul/rtt.go and lib.CoordinateSet.Intersect).
 *
 * The answering server reads the coordinates from its store: the source
 * node's and each row's. A row whose node has no coordinate compatible with
 * the source's sorts as +Inf, i.e. last, and the sort is stable, so equal
 * distances keep the endpoint's own order. Coordinates are read without
 * adding to the watch set, as Consul does: a blocking query wakes for its
 * data, not for nodes moving in the coordinate space.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cn_common.h"
#include "rpc/rpc_coordinate.h"

/* A node's coordinates by segment; Consul keeps at most one per segment. */
#define SEGMENTS_MAX 8
struct coord_set {
    const char *segment[SEGMENTS_MAX];
    struct state_coord coord[SEGMENTS_MAX];
    size_t n;
};

static bool collect(void *ctx, const struct state_coordinate *c)
{
    struct coord_set *s = ctx;
    if (s->n == SEGMENTS_MAX) return false;
    s->segment[s->n] = c->segment;
    s->coord[s->n++] = c->coord;
    return true;
}

static const struct state_coord *segment_coord(const struct coord_set *s, const char *seg)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->segment[i], seg)) return &s->coord[i];
    return NULL;
}

/* Intersect: the empty segment by default; a set of one segment (a client)
 * makes that segment the one to compare in. */
static double distance(const struct coord_set *src, const struct coord_set *other)
{
    const char *seg = "";
    if (src->n == 1) seg = src->segment[0];
    if (other->n == 1) seg = other->segment[0];
    const struct state_coord *a = segment_coord(src, seg), *b = segment_coord(other, seg);
    return a && b ? state_coord_distance(a, b) : INFINITY;
}

struct keyed {
    double d;
    size_t i;
};

static int keyed_cmp(const void *x, const void *y)
{
    const struct keyed *a = x, *b = y;
    if (a->d != b->d) return a->d < b->d ? -1 : 1; /* +Inf == +Inf falls through */
    return a->i < b->i ? -1 : a->i > b->i;
}

typedef const char *(*node_at_fn)(const void *rows, size_t i);

/* The stable order of n rows by distance from near, or NULL when there is
 * nothing to sort by (the caller frees it). */
static size_t *near_order(struct state_store *st, const char *near, const void *rows, size_t n,
                          node_at_fn node_at)
{
    struct coord_set src = {0};
    if (!near || !*near || n < 2) return NULL;
    state_node_coordinates(st, cn_str_from(near), NULL, collect, &src);
    if (!src.n) return NULL;
    struct keyed *k = cn_malloc(n * sizeof *k);
    for (size_t i = 0; i < n; i++) {
        struct coord_set other = {0};
        state_node_coordinates(st, cn_str_from(node_at(rows, i)), NULL, collect, &other);
        k[i] = (struct keyed){distance(&src, &other), i};
    }
    qsort(k, n, sizeof *k, keyed_cmp);
    size_t *order = cn_malloc(n * sizeof *order);
    for (size_t i = 0; i < n; i++)
        order[i] = k[i].i;
    free(k);
    return order;
}

/* Reorder an array of n elements of size bytes: out[i] = in[order[i]]. */
static void permute(void *base, size_t size, size_t n, const size_t *order)
{
    char *copy = cn_memdup(base, n * size);
    for (size_t i = 0; i < n; i++)
        memcpy((char *)base + i * size, copy + order[i] * size, size);
    free(copy);
}

static const char *node_of_node(const void *rows, size_t i)
{
    return ((struct state_node *const *)rows)[i]->name;
}

static const char *node_of_service(const void *rows, size_t i)
{
    return ((struct state_service *const *)rows)[i]->node;
}

static const char *node_of_check(const void *rows, size_t i)
{
    return ((struct state_check *const *)rows)[i]->node;
}

static const char *node_of_csn(const void *rows, size_t i)
{
    return ((const struct rpc_csn *)rows)[i].node->name;
}

void rpc_near_sort_catalog(struct state_store *st, const char *near, enum rpc_catalog_read op,
                           struct rpc_catalog_resp *r)
{
    size_t *order;
    switch (op) {
    case RPC_CATALOG_NODES:
        if (!(order = near_order(st, near, r->nodes, r->nnodes, node_of_node))) return;
        permute(r->nodes, sizeof *r->nodes, r->nnodes, order);
        break;
    case RPC_CATALOG_SERVICE: /* services[i] runs on nodes[i] */
        if (!(order = near_order(st, near, r->services, r->nservices, node_of_service))) return;
        permute(r->services, sizeof *r->services, r->nservices, order);
        permute(r->nodes, sizeof *r->nodes, r->nnodes, order);
        break;
    default:
        return;
    }
    free(order);
}

void rpc_near_sort_health(struct state_store *st, const char *near, enum rpc_health_read op,
                          struct rpc_health_resp *r)
{
    size_t *order;
    switch (op) {
    case RPC_HEALTH_CHECKS:
    case RPC_HEALTH_STATE:
        if (!(order = near_order(st, near, r->checks, r->nchecks, node_of_check))) return;
        permute(r->checks, sizeof *r->checks, r->nchecks, order);
        break;
    case RPC_HEALTH_SERVICE:
        if (!(order = near_order(st, near, r->rows, r->nrows, node_of_csn))) return;
        permute(r->rows, sizeof *r->rows, r->nrows, order);
        break;
    default:
        return;
    }
    free(order);
}
