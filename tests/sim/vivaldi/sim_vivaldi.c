/*
 * sim_vivaldi - does the gossip core's Vivaldi (src/gossip/vivaldi.c)
 * learn a latency matrix? Seeded and replayable:
 *
 *   sim_vivaldi --seeds N        every scenario with N seeds (CI)
 *   sim_vivaldi --seed S [-v]    one run of each scenario, with its figures
 *
 * Each run places 50 nodes in a made-up network whose true round trips are
 * 1-100 ms, then feeds the pure Vivaldi update (gviv_update) the samples
 * gossip probing would: every round each node probes one random peer, sees
 * that peer's current coordinate (as an ack carries it) and a round trip
 * with noise (+-10 % jitter, and 2 % of samples delayed 1.5-4x, which the
 * per-peer median filter has to absorb). Afterwards every pair's estimate
 * (gossip_coord_distance) is compared with the noise-free truth.
 *
 * Scenarios:
 *   plane     points on a 70 x 70 ms plane plus a per-node height of
 *             0.5-5 ms (an access link), i.e. exactly Vivaldi's model;
 *   clusters  three sites 30-80 ms apart, nodes within 3 ms of their site,
 *             plus heights: the shape of a WAN of LANs, which a plane only
 *             approximates (intra-site distances are small next to the
 *             inter-site ones, so relative errors there are the hard part).
 *
 * Pass: the median relative error |estimate - truth| / truth over all
 * pairs is below the scenario's bound after 200 rounds, no coordinate is
 * ever reset for going non-finite, and the estimate beats the starting
 * point by far. docs/architecture.md records the bounds and the figures.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gossip/gossip_int.h"

#define NODES     50
#define ROUNDS    200
#define RTT_MIN_S 0.001
#define RTT_MAX_S 0.100

struct world {
    double x[NODES], y[NODES], h[NODES]; /* seconds */
    double rtt[NODES][NODES];
};

struct scenario {
    const char *name;
    void (*build)(struct world *w, struct cn_rand *rng);
    double median_bound; /* relative error */
};

static double uniform(struct cn_rand *rng, double lo, double hi)
{
    return lo + (hi - lo) * cn_rand_double(rng);
}

static void fill_rtt(struct world *w)
{
    for (int i = 0; i < NODES; i++)
        for (int j = 0; j < NODES; j++) {
            double d = hypot(w->x[i] - w->x[j], w->y[i] - w->y[j]) + w->h[i] + w->h[j];
            w->rtt[i][j] = i == j ? 0 : fmin(fmax(d, RTT_MIN_S), RTT_MAX_S);
        }
}

static void build_plane(struct world *w, struct cn_rand *rng)
{
    for (int i = 0; i < NODES; i++) {
        w->x[i] = uniform(rng, 0, 0.070);
        w->y[i] = uniform(rng, 0, 0.070);
        w->h[i] = uniform(rng, 0.0005, 0.005);
    }
    fill_rtt(w);
}

static void build_clusters(struct world *w, struct cn_rand *rng)
{
    /* three sites on a triangle with sides of 30-80 ms */
    double sx[3] = {0, uniform(rng, 0.030, 0.060), 0}, sy[3] = {0, 0, 0};
    sx[2] = uniform(rng, 0.010, 0.040);
    sy[2] = uniform(rng, 0.030, 0.060);
    for (int i = 0; i < NODES; i++) {
        int s = i % 3;
        w->x[i] = sx[s] + uniform(rng, -0.0015, 0.0015);
        w->y[i] = sy[s] + uniform(rng, -0.0015, 0.0015);
        w->h[i] = uniform(rng, 0.0003, 0.002);
    }
    fill_rtt(w);
}

static const struct scenario scenarios[] = {
    {"plane", build_plane, 0.10},
    {"clusters", build_clusters, 0.10},
};

/* A measured round trip: the truth with jitter and the odd delayed one. */
static double sample(struct cn_rand *rng, double truth)
{
    double s = truth * uniform(rng, 0.9, 1.1);
    if (cn_rand_below(rng, 100) < 2) s *= uniform(rng, 1.5, 4.0);
    return s;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct result {
    double median, p90, max, start_median;
    uint64_t resets;
};

/* Relative error of every pair's estimate, summarised. */
static void evaluate(const struct world *w, struct gviv *v, double *median, double *p90,
                     double *max)
{
    static double err[NODES * NODES];
    size_t n = 0;
    for (int i = 0; i < NODES; i++)
        for (int j = i + 1; j < NODES; j++) {
            double est = gossip_coord_distance(&v[i].coord, &v[j].coord);
            err[n++] = fabs(est - w->rtt[i][j]) / w->rtt[i][j];
        }
    qsort(err, n, sizeof *err, cmp_double);
    *median = err[n / 2];
    *p90 = err[n * 9 / 10];
    *max = err[n - 1];
}

static void run(const struct scenario *sc, uint64_t seed, bool verbose, struct result *out)
{
    static struct world w;
    struct gviv v[NODES];
    struct cn_rand rng;
    char names[NODES][8];
    double p90, max;
    cn_rand_seed(&rng, seed);
    sc->build(&w, &rng);
    for (int i = 0; i < NODES; i++) {
        gviv_init(&v[i]);
        snprintf(names[i], sizeof names[i], "n%d", i);
    }
    evaluate(&w, v, &out->start_median, &p90, &max);
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < NODES; i++) {
            int j = (int)cn_rand_below(&rng, NODES - 1);
            if (j >= i) j++;
            struct gossip_coord peer = v[j].coord; /* what the ack carries */
            gviv_update(&v[i], &rng, cn_str_from(names[j]), &peer, sample(&rng, w.rtt[i][j]));
        }
        if (verbose && (round + 1) % 25 == 0) {
            double m;
            evaluate(&w, v, &m, &p90, &max);
            printf("# %s round %3d: median %.4f p90 %.4f max %.4f\n", sc->name, round + 1, m, p90,
                   max);
        }
    }
    evaluate(&w, v, &out->median, &out->p90, &out->max);
    out->resets = 0;
    for (int i = 0; i < NODES; i++) {
        out->resets += v[i].resets;
        gviv_release(&v[i]);
    }
}

static bool passes(const struct scenario *sc, const struct result *r, char *why, size_t n)
{
    if (r->resets)
        snprintf(why, n, "%llu coordinate resets", (unsigned long long)r->resets);
    else if (!(r->median < sc->median_bound))
        snprintf(why, n, "median relative error %.4f >= %.2f", r->median, sc->median_bound);
    else if (!(r->median < r->start_median / 5))
        snprintf(why, n, "no real progress: %.4f from %.4f", r->median, r->start_median);
    else
        return true;
    return false;
}

int main(int argc, char **argv)
{
    uint64_t seeds = 100, seed = 0, base = 1;
    bool one = false, verbose = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seeds") && i + 1 < argc) {
            seeds = strtoull(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 10);
            one = true;
        } else if (!strcmp(argv[i], "--base") && i + 1 < argc) {
            base = strtoull(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "-v")) {
            verbose = true;
        } else {
            fprintf(stderr, "usage: sim_vivaldi --seeds N [--base B] | --seed S [-v]\n");
            return 2;
        }
    }
    if (one) {
        base = seed;
        seeds = 1;
    }
    int passed = 0, failed = 0;
    for (size_t s = 0; s < sizeof scenarios / sizeof scenarios[0]; s++) {
        const struct scenario *sc = &scenarios[s];
        double *med = calloc(seeds ? seeds : 1, sizeof *med), worst_p90 = 0, worst_max = 0;
        char why[160] = "";
        uint64_t bad = 0;
        for (uint64_t k = 0; k < seeds; k++) {
            struct result r;
            run(sc, base + k, verbose, &r);
            med[k] = r.median;
            worst_p90 = fmax(worst_p90, r.p90);
            worst_max = fmax(worst_max, r.max);
            if (!passes(sc, &r, why, sizeof why)) {
                bad = base + k + 1;
                break;
            }
        }
        if (bad) {
            printf("not ok %s seed=%llu %s\n", sc->name, (unsigned long long)(bad - 1), why);
            failed++;
        } else {
            qsort(med, seeds, sizeof *med, cmp_double);
            printf("ok %s seeds=%llu bound=%.2f median_rel_err_p50=%.4f worst=%.4f "
                   "pair_p90_worst=%.4f pair_max_worst=%.3f\n",
                   sc->name, (unsigned long long)seeds, sc->median_bound, med[seeds / 2],
                   med[seeds - 1], worst_p90, worst_max);
            passed++;
        }
        free(med);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
