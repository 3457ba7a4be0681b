/*
 * vivaldi.c - network coordinates as Serf's coordinate package computes them
 * (Dabek et al., "Vivaldi: A Decentralized Network Coordinate System", with
 * Serf's height vector, adjustment term, gravity and a per-peer median latency
 * filter). Configuration is Serf's DefaultConfig: 8 dimensions, error max
 * 1.5, ce = cc = 0.25, adjustment window 20, height min 10 us, latency
 * filter 3, gravity rho 150.
 */
#include <math.h>
#include <string.h>

#include "gossip/gossip_int.h"

#define V_ERROR_MAX 1.5
#define V_CE 0.25
#define V_CC 0.25
#define V_HEIGHT_MIN 10.0e-6
#define V_GRAVITY_RHO 150.0
#define V_ZERO 1.0e-6
#define V_RTT_MAX 10.0 /* seconds: Serf refuses longer samples */

static void coord_new(struct gossip_coord *c)
{
    memset(c, 0, sizeof *c);
    c->error = V_ERROR_MAX;
    c->height = V_HEIGHT_MIN;
}

void gviv_init(struct gviv *v)
{
    memset(v, 0, sizeof *v);
    coord_new(&v->coord);
    coord_new(&v->origin);
    cn_map_init(&v->peers);
}

void gviv_release(struct gviv *v)
{
    struct cn_map_iter it;
    struct cn_str key;
    void *val;
    cn_map_iter_init(&it, &v->peers);
    while (cn_map_iter_next(&it, &key, &val)) cn_free(val);
    cn_map_release(&v->peers);
}

void gviv_forget(struct gviv *v, struct cn_str peer)
{
    cn_free(cn_map_del(&v->peers, peer));
}

bool gviv_valid(const struct gossip_coord *c)
{
    for (int i = 0; i < GOSSIP_COORD_DIM; i++)
        if (!isfinite(c->vec[i])) return false;
    return isfinite(c->error) && isfinite(c->adjustment) && isfinite(c->height);
}

static double raw_distance(const struct gossip_coord *a, const struct gossip_coord *b)
{
    double sum = 0;
    for (int i = 0; i < GOSSIP_COORD_DIM; i++) {
        double d = a->vec[i] - b->vec[i];
        sum += d * d;
    }
    return sqrt(sum) + a->height + b->height;
}

double gossip_coord_distance(const struct gossip_coord *a, const struct gossip_coord *b)
{
    double dist = raw_distance(a, b);
    double adjusted = dist + a->adjustment + b->adjustment;
    return adjusted > 0.0 ? adjusted : dist;
}

/* Serf ApplyForce: move c along the unit vector from other by force; a
 * random direction when the two coincide. */
static void apply_force(struct gossip_coord *c, struct cn_rand *rng, double force,
                        const struct gossip_coord *other)
{
    double unit[GOSSIP_COORD_DIM], mag = 0;
    for (int i = 0; i < GOSSIP_COORD_DIM; i++) {
        unit[i] = c->vec[i] - other->vec[i];
        mag += unit[i] * unit[i];
    }
    mag = sqrt(mag);
    if (mag > V_ZERO) {
        for (int i = 0; i < GOSSIP_COORD_DIM; i++) unit[i] /= mag;
    } else {
        double m2 = 0;
        for (int i = 0; i < GOSSIP_COORD_DIM; i++) {
            unit[i] = cn_rand_double(rng) - 0.5;
            m2 += unit[i] * unit[i];
        }
        m2 = sqrt(m2);
        if (m2 > V_ZERO) {
            for (int i = 0; i < GOSSIP_COORD_DIM; i++) unit[i] /= m2;
        } else {
            memset(unit, 0, sizeof unit);
            unit[0] = 1.0;
        }
        mag = 0.0;
    }
    for (int i = 0; i < GOSSIP_COORD_DIM; i++) c->vec[i] += unit[i] * force;
    if (mag > V_ZERO) {
        c->height = (c->height + other->height) * force / mag + c->height;
        c->height = fmax(c->height, V_HEIGHT_MIN);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Serf latencyFilter: the median of the last few samples of this peer. */
static double latency_filter(struct gviv_peer *p, double rtt)
{
    if (p->n_samples == G_VIV_LATENCY_FILTER) {
        memmove(p->samples, p->samples + 1, (G_VIV_LATENCY_FILTER - 1) * sizeof(double));
        p->n_samples--;
    }
    p->samples[p->n_samples++] = rtt;
    double sorted[G_VIV_LATENCY_FILTER];
    memcpy(sorted, p->samples, p->n_samples * sizeof(double));
    qsort(sorted, p->n_samples, sizeof(double), cmp_double);
    return sorted[p->n_samples / 2];
}

bool gviv_update(struct gviv *v, struct cn_rand *rng, struct cn_str peer,
                 const struct gossip_coord *other, double rtt_s)
{
    if (!gviv_valid(other) || rtt_s < 0 || rtt_s > V_RTT_MAX) return false;
    struct gviv_peer *p = cn_map_get(&v->peers, peer);
    if (!p) {
        p = CN_NEW(struct gviv_peer);
        cn_map_put(&v->peers, peer, p);
    }
    p->coord = *other;
    p->has_coord = true;
    double rtt = latency_filter(p, rtt_s);

    /* updateVivaldi */
    double dist = gossip_coord_distance(&v->coord, other);
    if (rtt < V_ZERO) rtt = V_ZERO;
    double wrongness = fabs(dist - rtt) / rtt;
    double total = v->coord.error + other->error;
    if (total < V_ZERO) total = V_ZERO;
    double weight = v->coord.error / total;
    v->coord.error = V_CE * weight * wrongness + v->coord.error * (1.0 - V_CE * weight);
    if (v->coord.error > V_ERROR_MAX) v->coord.error = V_ERROR_MAX;
    apply_force(&v->coord, rng, V_CC * weight * (rtt - dist), other);

    /* updateAdjustment */
    v->adj[v->adj_i] = rtt - raw_distance(&v->coord, other);
    v->adj_i = (v->adj_i + 1) % G_VIV_ADJ_WINDOW;
    double sum = 0;
    for (int i = 0; i < G_VIV_ADJ_WINDOW; i++) sum += v->adj[i];
    v->coord.adjustment = sum / (2.0 * G_VIV_ADJ_WINDOW);

    /* updateGravity: a weak pull towards the origin keeps coordinates from drifting */
    double od = gossip_coord_distance(&v->origin, &v->coord);
    apply_force(&v->coord, rng, -1.0 * pow(od / V_GRAVITY_RHO, 2.0), &v->origin);

    if (!gviv_valid(&v->coord)) {
        coord_new(&v->coord);
        v->resets++;
        return false;
    }
    return true;
}

bool gossip_coord_self(const struct gossip *g, struct gossip_coord *out)
{
    if (!g->viv) return false;
    *out = g->viv->coord;
    return true;
}

bool gossip_coord_get(const struct gossip *g, const char *name, struct gossip_coord *out)
{
    if (!g->viv) return false;
    if (strcmp(name, g->self->name) == 0) return gossip_coord_self(g, out);
    const struct gviv_peer *p = cn_map_get(&g->viv->peers, cn_str_from(name));
    if (!p || !p->has_coord) return false;
    *out = p->coord;
    return true;
}
