/*
 * coordinate.c - the coordinates table (Consul's state/coordinate.go): the
 * LAN Vivaldi coordinate each node last reported, one row per (node,
 * segment).
 *
 * Key: lowercased node, NUL, lowercased segment, as Consul's compound
 * "id" index lowercases both, so a node's rows are the keys under
 * "lnode\0" and a listing comes out ordered by node. A row is one
 * allocation: the key, then the node and segment as given.
 *
 * Which table index a read reports and when watchers fire follow Consul:
 * every batch moves the index (even one whose rows were all skipped), but
 * only a written row wakes blocking queries.
 */
#include <ctype.h>
#include <math.h>
#include <string.h>

#include "lib/cn_common.h"
#include "lib/cn_limits.h"
#include "state/state_int.h"

struct coord_row {
    struct state_coordinate c; /* strings point into data */
    size_t klen;
    char data[]; /* key, node NUL, segment NUL */
};

static struct cn_str row_key(const void *row)
{
    const struct coord_row *r = row;
    return cn_str_make(r->data, r->klen);
}

static struct state_table *tab(struct state_store *st)
{
    return &st->tables[STATE_T_COORDINATES];
}

/* "lnode\0lsegment" into b (reset first). */
static void make_key(struct cn_buf *b, struct cn_str node, struct cn_str segment)
{
    cn_buf_reset(b);
    for (size_t i = 0; i < node.len; i++)
        cn_buf_putc(b, (char)tolower((unsigned char)node.p[i]));
    cn_buf_putc(b, '\0');
    for (size_t i = 0; i < segment.len; i++)
        cn_buf_putc(b, (char)tolower((unsigned char)segment.p[i]));
}

static struct coord_row *row_new(const struct state_coordinate *in)
{
    struct cn_str node = cn_str_from(in->node ? in->node : "");
    struct cn_str seg = cn_str_from(in->segment ? in->segment : "");
    struct cn_buf k;
    cn_buf_init(&k, CN_BUF_UNLIMITED);
    make_key(&k, node, seg);
    struct coord_row *r = cn_malloc(sizeof *r + k.len + node.len + 1 + seg.len + 1);
    r->klen = k.len;
    memcpy(r->data, k.data, k.len);
    char *p = r->data + k.len;
    memcpy(p, node.p, node.len);
    p[node.len] = '\0';
    r->c.node = p;
    p += node.len + 1;
    memcpy(p, seg.p, seg.len);
    p[seg.len] = '\0';
    r->c.segment = p;
    r->c.coord = in->coord;
    cn_buf_release(&k);
    return r;
}

/* ---- Serf's coordinate arithmetic ------------------------------------------ */

bool state_coord_valid(const struct state_coord *c)
{
    for (int i = 0; i < STATE_COORD_DIM; i++)
        if (!isfinite(c->vec[i])) return false;
    return isfinite(c->error) && isfinite(c->adjustment) && isfinite(c->height);
}

/* The same formula as gossip_coord_distance (src/gossip/vivaldi.c); the
 * store cannot include the gossip core, and the two must agree. */
double state_coord_distance(const struct state_coord *a, const struct state_coord *b)
{
    double sum = 0;
    for (int i = 0; i < STATE_COORD_DIM; i++) {
        double d = a->vec[i] - b->vec[i];
        sum += d * d;
    }
    double dist = sqrt(sum) + a->height + b->height;
    double adjusted = dist + a->adjustment + b->adjustment;
    return adjusted > 0.0 ? adjusted : dist;
}

/* ---- codec and table ops ----------------------------------------------------- */

void state_coordinate_encode(const struct state_coordinate *c, struct cn_buf *out)
{
    cn_enc_cstr(out, c->node ? c->node : "");
    cn_enc_cstr(out, c->segment ? c->segment : "");
    for (int i = 0; i < STATE_COORD_DIM; i++)
        cn_enc_double(out, c->coord.vec[i]);
    cn_enc_double(out, c->coord.error);
    cn_enc_double(out, c->coord.adjustment);
    cn_enc_double(out, c->coord.height);
}

int state_coordinate_decode(struct cn_dec *d, struct cn_arena *a, struct state_coordinate *out)
{
    struct cn_str node = cn_dec_bytes(d, CN_COORD_NAME_MAX);
    struct cn_str seg = cn_dec_bytes(d, CN_COORD_NAME_MAX);
    memset(out, 0, sizeof *out);
    for (int i = 0; i < STATE_COORD_DIM; i++)
        out->coord.vec[i] = cn_dec_double(d);
    out->coord.error = cn_dec_double(d);
    out->coord.adjustment = cn_dec_double(d);
    out->coord.height = cn_dec_double(d);
    if (cn_dec_status(d)) return CN_ECORRUPT;
    out->node = cn_arena_str(a, node);
    out->segment = cn_arena_str(a, seg);
    return 0;
}

static void encode_row(const void *row, struct cn_buf *out)
{
    state_coordinate_encode(&((const struct coord_row *)row)->c, out);
}

/* Consul's Restore.Coordinates skips invalid rows a bad client once got in. */
static int restore_row(struct state_store *st, struct cn_dec *d)
{
    struct cn_arena a;
    struct state_coordinate c;
    cn_arena_init(&a, 256);
    int rc = state_coordinate_decode(d, &a, &c);
    if (rc == 0 && state_coord_valid(&c.coord)) free(cn_omap_put(&tab(st)->rows, row_new(&c)));
    cn_arena_release(&a);
    return rc;
}

const struct state_table_ops state__coordinates_ops = {"coordinates", row_key, free, encode_row,
                                                       restore_row};

/* ---- reads ------------------------------------------------------------------- */

static void visit_prefix(struct state_store *st, struct cn_str prefix, state_coordinate_fn fn,
                         void *ctx)
{
    struct cn_omap_iter it;
    const struct coord_row *r;
    cn_omap_seek(&tab(st)->rows, prefix, &it);
    while ((r = cn_omap_next(&it)) && cn_str_has_prefix(row_key(r), prefix))
        if (fn && !fn(ctx, &r->c)) break;
}

uint64_t state_coordinates_list(struct state_store *st, struct state_watch_set *ws,
                                state_coordinate_fn fn, void *ctx)
{
    if (ws) state_ws_add_table(ws, STATE_T_COORDINATES);
    visit_prefix(st, CN_STR_NULL, fn, ctx);
    return tab(st)->index;
}

uint64_t state_node_coordinates(struct state_store *st, struct cn_str node,
                                struct state_watch_set *ws, state_coordinate_fn fn, void *ctx)
{
    struct cn_buf k;
    if (ws) state_ws_add_table(ws, STATE_T_COORDINATES);
    cn_buf_init(&k, CN_BUF_UNLIMITED);
    make_key(&k, node, CN_STR_NULL); /* "lnode\0": exactly this node's rows */
    visit_prefix(st, cn_buf_str(&k), fn, ctx);
    cn_buf_release(&k);
    return tab(st)->index;
}

size_t state_coordinate_count(const struct state_store *st)
{
    return cn_omap_count(&st->tables[STATE_T_COORDINATES].rows);
}

/* ---- writes ------------------------------------------------------------------ */

int state_coordinate_batch_txn(struct state_txn *tx, const struct state_coordinate *v, size_t n)
{
    struct state_store *st = tx->st;
    bool wrote = false;
    for (size_t i = 0; i < n; i++) {
        if (!state_coord_valid(&v[i].coord)) continue;
        if (!v[i].node || !state_node_exists(st, cn_str_from(v[i].node))) continue;
        state__put(tx, tab(st), row_new(&v[i]));
        wrote = true;
    }
    if (wrote)
        state__touch(tx, STATE_T_COORDINATES);
    else
        tab(st)->index = tx->idx; /* restored by an abort like every table index */
    return 0;
}

/* Keys of the node's rows, copied: deleting while iterating is not safe. */
int state__coordinates_node_deleted(struct state_txn *tx, struct cn_str node)
{
    struct cn_buf k;
    struct cn_omap_iter it;
    const struct coord_row *r;
    char **keys = NULL;
    size_t *lens = NULL, nk = 0, cap = 0;
    cn_buf_init(&k, CN_BUF_UNLIMITED);
    make_key(&k, node, CN_STR_NULL);
    struct cn_str prefix = cn_buf_str(&k);
    cn_omap_seek(&tab(tx->st)->rows, prefix, &it);
    while ((r = cn_omap_next(&it)) && cn_str_has_prefix(row_key(r), prefix)) {
        if (nk == cap) {
            cap = cap ? cap * 2 : 4;
            keys = cn_realloc(keys, cap * sizeof *keys);
            lens = cn_realloc(lens, cap * sizeof *lens);
        }
        keys[nk] = cn_memdup(r->data, r->klen);
        lens[nk++] = r->klen;
    }
    for (size_t i = 0; i < nk; i++) {
        state__del(tx, tab(tx->st), cn_str_make(keys[i], lens[i]));
        free(keys[i]);
    }
    if (nk) state__touch(tx, STATE_T_COORDINATES);
    free(keys);
    free(lens);
    cn_buf_release(&k);
    return 0;
}
