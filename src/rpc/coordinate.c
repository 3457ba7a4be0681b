/*
 * coordinate.c - the coordinate command, the server's queue of pending
 * updates, and the coordinate reads (Consul's coordinate_endpoint.go).
 */
#include <string.h>

#include "lib/cn_common.h"
#include "lib/cn_limits.h"
#include "lib/cn_omap.h"
#include "rpc/rpc_coordinate.h"
#include "rpc/rpc_int.h"

/* The smallest encoded row: two empty strings and eleven doubles. */
#define ROW_MIN_BYTES (2 + (STATE_COORD_DIM + 3) * 8)

/* ---- the command ---------------------------------------------------------------- */

void rpc_coordinates_encode(const struct state_coordinate *v, size_t n, struct cn_buf *out)
{
    rpc_cmd_begin(out, RPC_CMD_COORDINATES);
    cn_enc_uvar(out, n);
    for (size_t i = 0; i < n; i++)
        state_coordinate_encode(&v[i], out);
}

int rpc_coordinates_decode(struct cn_dec *d, struct cn_arena *a, struct state_coordinate **v,
                           size_t *n)
{
    uint64_t k = cn_dec_uvar(d);
    *v = NULL;
    *n = 0;
    if (cn_dec_status(d) || k > cn_dec_left(d) / ROW_MIN_BYTES) return CN_ECORRUPT;
    struct state_coordinate *rows = CN_ARENA_ARRAY(a, struct state_coordinate, k + 1);
    for (uint64_t i = 0; i < k; i++)
        if (state_coordinate_decode(d, a, &rows[i])) return CN_ECORRUPT;
    *v = rows;
    *n = (size_t)k;
    return 0;
}

/* ---- pending updates ----------------------------------------------------------- */

/* Keyed "node\0segment" as given: Consul's map key is "node:segment",
 * case-sensitive, and the store lowercases when it applies. An ordered map
 * makes the batches deterministic (Consul's follow Go's map order). */
struct pending {
    struct state_coordinate c; /* strings point into key */
    size_t klen;
    char key[]; /* node NUL segment NUL */
};

struct rpc_coord_queue {
    struct cn_omap m;
    size_t cap, dropped;
};

static struct cn_str pending_key(const void *e)
{
    const struct pending *p = e;
    return cn_str_make(p->key, p->klen);
}

struct rpc_coord_queue *rpc_coord_queue_new(size_t cap)
{
    struct rpc_coord_queue *q = CN_NEW(struct rpc_coord_queue);
    cn_omap_init(&q->m, pending_key);
    q->cap = cap;
    return q;
}

static void drain(struct rpc_coord_queue *q, size_t max, struct state_coordinate *out,
                  struct pending **taken, size_t *n)
{
    struct cn_omap_iter it;
    struct pending *p;
    *n = 0;
    cn_omap_seek(&q->m, CN_STR_NULL, &it);
    while (*n < max && (p = cn_omap_next(&it))) {
        if (out) out[*n] = p->c;
        taken[(*n)++] = p;
    }
    for (size_t i = 0; i < *n; i++)
        cn_omap_del(&q->m, pending_key(taken[i]));
}

void rpc_coord_queue_free(struct rpc_coord_queue *q)
{
    if (!q) return;
    size_t n = cn_omap_count(&q->m);
    struct pending **all = cn_malloc((n + 1) * sizeof *all);
    drain(q, n, NULL, all, &n);
    for (size_t i = 0; i < n; i++)
        free(all[i]);
    free(all);
    cn_omap_release(&q->m);
    free(q);
}

bool rpc_coord_queue_put(struct rpc_coord_queue *q, const struct state_coordinate *c)
{
    const char *node = c->node ? c->node : "", *seg = c->segment ? c->segment : "";
    size_t ln = strlen(node), ls = strlen(seg);
    struct pending *p = cn_malloc(sizeof *p + ln + 1 + ls + 1);
    memcpy(p->key, node, ln + 1);
    memcpy(p->key + ln + 1, seg, ls + 1);
    p->klen = ln + 1 + ls;
    p->c.node = p->key;
    p->c.segment = p->key + ln + 1;
    p->c.coord = c->coord;
    if (cn_omap_count(&q->m) >= q->cap && !cn_omap_get(&q->m, pending_key(p))) {
        free(p);
        q->dropped++;
        return false;
    }
    free(cn_omap_put(&q->m, p));
    return true;
}

size_t rpc_coord_queue_len(const struct rpc_coord_queue *q)
{
    return cn_omap_count(&q->m);
}

size_t rpc_coord_queue_take_dropped(struct rpc_coord_queue *q)
{
    size_t n = q->dropped;
    q->dropped = 0;
    return n;
}

size_t rpc_coord_queue_next_batch(struct rpc_coord_queue *q, size_t batch_size, struct cn_buf *out)
{
    size_t n, want = CN_MIN(batch_size, cn_omap_count(&q->m));
    cn_buf_reset(out);
    if (!want) return 0;
    struct state_coordinate *rows = cn_malloc(want * sizeof *rows);
    struct pending **taken = cn_malloc(want * sizeof *taken);
    drain(q, want, rows, taken, &n);
    rpc_coordinates_encode(rows, n, out);
    for (size_t i = 0; i < n; i++)
        free(taken[i]);
    free(taken);
    free(rows);
    return n;
}

/* ---- reads ------------------------------------------------------------------------ */

struct crun {
    struct rpc_query *q;
    struct rpc_coord_resp *resp;
    const char *as_asked; /* NODE: answered with the name as requested, its ACL checked once */
    size_t cap;
};

static bool on_row(void *ctx, const struct state_coordinate *c)
{
    struct crun *r = ctx;
    struct rpc_coord_resp *o = r->resp;
    if (!r->as_asked && !acl_allow(r->q->authz, ACL_R_NODE, cn_str_from(c->node), ACL_A_READ)) {
        r->q->meta.filtered_by_acls = true;
        return true;
    }
    if (o->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        struct state_coordinate *v = CN_ARENA_ARRAY(&r->q->arena, struct state_coordinate, cap);
        if (o->n) memcpy(v, o->rows, o->n * sizeof *v);
        o->rows = v;
        r->cap = cap;
    }
    struct state_coordinate *out = &o->rows[o->n++];
    out->node = cn_arena_strdup(&r->q->arena, r->as_asked ? r->as_asked : c->node);
    out->segment = cn_arena_strdup(&r->q->arena, c->segment);
    out->coord = c->coord;
    return true;
}

int rpc_coordinate_run(struct rpc_query *q, struct state_store *st, struct state_watch_set *ws)
{
    const struct rpc_coord_req *req = q->req;
    struct rpc_coord_resp *resp = CN_ARENA_NEW(&q->arena, struct rpc_coord_resp);
    struct crun r = {.q = q, .resp = resp};
    q->resp = resp;
    switch (req->op) {
    case RPC_COORD_NODES:
        q->meta.index = state_coordinates_list(st, ws, on_row, &r);
        return 0;
    case RPC_COORD_NODE:
        /* Consul checks node:read on the name asked for, before reading. */
        if (!acl_allow(q->authz, ACL_R_NODE, req->node, ACL_A_READ)) return CN_EPERM;
        r.as_asked = cn_arena_str(&q->arena, req->node);
        q->meta.index = state_node_coordinates(st, req->node, ws, on_row, &r);
        return 0;
    }
    return CN_EINVAL;
}

void rpc_json_coord(struct cn_jw *w, const struct state_coord *c)
{
    cn_jw_obj_begin(w);
    cn_jw_key(w, "Vec");
    cn_jw_arr_begin(w);
    for (int i = 0; i < STATE_COORD_DIM; i++)
        cn_jw_double(w, c->vec[i]);
    cn_jw_arr_end(w);
    cn_jw_key(w, "Error");
    cn_jw_double(w, c->error);
    cn_jw_key(w, "Adjustment");
    cn_jw_double(w, c->adjustment);
    cn_jw_key(w, "Height");
    cn_jw_double(w, c->height);
    cn_jw_obj_end(w);
}

void rpc_json_coordinate(struct cn_jw *w, const char *node, const char *segment,
                         const struct state_coord *c)
{
    cn_jw_obj_begin(w);
    cn_jw_key_str(w, "Node", node);
    cn_jw_key_str(w, "Segment", segment ? segment : "");
    cn_jw_key(w, "Coord");
    rpc_json_coord(w, c);
    cn_jw_obj_end(w);
}
