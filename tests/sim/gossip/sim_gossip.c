/*
 * sim_gossip - gossip cores on a simulated network, seeded and replayable.
 *
 *   sim_gossip --seeds N                 every scenario with N seeds (CI)
 *   sim_gossip --seed S --scenario X -v  replay one run, verbosely
 *   sim_gossip --table [--sizes 100,1000,10000] [--profile lan|wan|local]
 *                                        convergence and bandwidth table
 *   sim_gossip --list                    scenario names
 *
 * Each CI scenario draws its cluster size, latency, loss and victims from the
 * seed, runs the LAN profile (Consul's defaults) and checks:
 *   - a failed member is declared dead by every live member within the bound
 *     the timing implies (each member probes it itself within two rounds of
 *     its shuffled list, then suspicion times out at most at its maximum);
 *   - a live, reachable member is never declared dead for good: after loss,
 *     starved CPUs or partitions end, every live member sees every live
 *     member alive again (it refuted, or was taken back);
 *   - joins, leaves, tags, user events (exactly once everywhere) and key
 *     rotations reach everyone; packets with flipped bytes are refused;
 *   - gossip_check_invariants after every step.
 * A failure prints "not ok <scenario> seed=S <why>"; rerun with --seed S.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gossip/gossip_int.h"
#include "lib/cn_err.h"
#include "simnet.h"

#define MAX_EVENTS 8

/* ---- one run's observations ------------------------------------------------ */

struct watch {
    bool on;
    uint32_t subject;
    enum gossip_change_kind kind;
    uint32_t target;   /* observers needed */
    uint32_t count;
    uint8_t *seen;     /* per observer */
    uint64_t first_ms, done_ms;
};

struct run {
    struct simnet *net;
    uint64_t seed;
    uint32_t n;
    bool verbose;
    struct cn_rand rng;
    struct gossip_timing timing;
    uint8_t *expect_dead;  /* subjects whose FAILED is not a false positive */
    uint64_t false_pos;    /* FAILED notifications about healthy members */
    uint64_t failed_total;
    struct watch w;
    uint32_t events_fired;
    uint8_t *ev_count;     /* [node * MAX_EVENTS + k] deliveries */
    bool ev_dup;
    struct gossip_key_result keyres;
    bool have_keyres;
    char key_msg[160];
    char why[256];
};

static uint32_t subject_of(const char *name)
{
    return (uint32_t)strtoul(name + 1, NULL, 10);
}

static void on_change(void *ctx, uint32_t node, const struct gossip_member_change *c)
{
    struct run *r = ctx;
    uint32_t s = subject_of(c->member.name);
    if (r->verbose)
        printf("# %8.3f n%u: %s %s inc=%u\n", simnet_now(r->net) / 1000.0, node,
               gossip_change_name(c->kind), c->member.name, c->member.incarnation);
    if (c->kind == GOSSIP_MEMBER_FAILED) {
        r->failed_total++;
        if (s < r->n && !r->expect_dead[s]) {
            r->false_pos++;
            if (r->verbose) printf("#   ^ false positive\n");
        }
    }
    struct watch *w = &r->w;
    if (w->on && s == w->subject && c->kind == w->kind && node < r->n && !w->seen[node]) {
        w->seen[node] = 1;
        if (w->count++ == 0) w->first_ms = simnet_now(r->net);
        if (w->count == w->target) w->done_ms = simnet_now(r->net);
    }
}

static void on_event(void *ctx, uint32_t node, const struct gossip_user_event *e)
{
    struct run *r = ctx;
    unsigned k;
    if (e->name.len < 2 || sscanf(e->name.p, "e%u", &k) != 1 || k >= MAX_EVENTS) return;
    uint8_t *c = &r->ev_count[node * MAX_EVENTS + k];
    if (++*c > 1) r->ev_dup = true;
}

static void on_keyres(void *ctx, uint32_t node, const struct gossip_key_result *kr)
{
    struct run *r = ctx;
    r->keyres = *kr;
    r->keyres.messages = NULL; /* valid only until gossip_done */
    r->keyres.keys = r->keyres.primary = NULL;
    if (kr->n_messages)
        snprintf(r->key_msg, sizeof r->key_msg, "%s: %s", kr->messages[0].node, kr->messages[0].message);
    r->have_keyres = true;
}

static void watch(struct run *r, uint32_t subject, enum gossip_change_kind kind, uint32_t target)
{
    free(r->w.seen);
    memset(&r->w, 0, sizeof r->w);
    r->w.on = true;
    r->w.subject = subject;
    r->w.kind = kind;
    r->w.target = target;
    r->w.seen = calloc(r->n, 1);
}

static bool watch_done(void *ctx, struct simnet *net)
{
    struct run *r = ctx;
    return r->w.count >= r->w.target;
}

static bool converged(void *ctx, struct simnet *net)
{
    return simnet_converged(net);
}

struct run_opts {
    uint32_t n;
    double loss;
    uint32_t lat_min, lat_max;
    const struct gossip_key *keys;
    size_t n_keys;
    double corrupt;
    bool coordinates;
    bool formed; /* bootstrap a formed cluster */
    bool shared;
    bool check;
    struct gossip_timing *timing;
};

static void run_init(struct run *r, uint64_t seed, bool verbose, const struct run_opts *o)
{
    memset(r, 0, sizeof *r);
    r->seed = seed;
    r->n = o->n;
    r->verbose = verbose;
    cn_rand_seed(&r->rng, seed ^ 0x5eed);
    if (o->timing)
        r->timing = *o->timing;
    else
        gossip_timing_default(&r->timing, GOSSIP_PROFILE_LAN);
    r->expect_dead = calloc(o->n, 1);
    r->ev_count = calloc((size_t)o->n * MAX_EVENTS, 1);
    struct simnet_config cfg = {
        .seed = seed, .timing = r->timing, .lat_min_ms = o->lat_min, .lat_max_ms = o->lat_max,
        .loss = o->loss, .corrupt = o->corrupt, .coordinates = o->coordinates, .keys = o->keys,
        .n_keys = o->n_keys, .share_records = o->shared, .check_invariants = o->check,
        .hooks = {.ctx = r, .change = on_change, .event = on_event, .key_result = on_keyres},
    };
    r->net = simnet_new(&cfg);
    for (uint32_t i = 0; i < o->n; i++) simnet_add(r->net);
    if (o->formed) simnet_bootstrap(r->net);
}

static void run_free(struct run *r)
{
    simnet_free(r->net);
    free(r->expect_dead);
    free(r->ev_count);
    free(r->w.seen);
}

static int fail(struct run *r, const char *fmt, ...) CN_PRINTF(2, 3);
static int fail(struct run *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
    return 1;
}

static uint32_t pick(struct run *r, uint32_t n)
{
    return (uint32_t)cn_rand_below(&r->rng, n);
}

static uint64_t now(struct run *r)
{
    return simnet_now(r->net);
}

/* The bound on detection the timing implies for a cluster of n (see top). */
static uint64_t detect_bound(const struct gossip_timing *t, uint32_t n)
{
    uint64_t susp_max = (uint64_t)t->suspicion_max_timeout_mult *
                        gossip_suspicion_min_ms(t->suspicion_mult, n, t->probe_interval_ms);
    uint64_t rounds = (2 * (uint64_t)(n - 1) + 1) * t->probe_interval_ms;
    return rounds + t->probe_interval_ms + susp_max;
}

/* ---- statistics over seeds ----------------------------------------------------- */

struct stat {
    double *v;
    size_t n, cap;
};

static void stat_add(struct stat *s, double v)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = v;
}

static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double stat_q(struct stat *s, double q)
{
    if (!s->n) return 0;
    qsort(s->v, s->n, sizeof *s->v, dcmp);
    size_t i = (size_t)(q * (double)(s->n - 1) + 0.5);
    return s->v[i];
}

struct agg {
    struct stat a, b;
    uint64_t fp, suspicions, bytes, member_secs, count;
};

/* ---- scenarios -------------------------------------------------------------------- */

typedef int (*scenario_fn)(struct run *r, uint64_t seed, bool verbose, struct agg *agg);

static int sc_join(struct run *r, uint64_t seed, bool verbose, struct agg *agg)
{
    struct cn_rand pr;
    cn_rand_seed(&pr, seed);
    struct run_opts o = {.n = 3 + (uint32_t)cn_rand_below(&pr, 10), .lat_min = 1, .lat_max = 10};
    o.check = true;
    run_init(r, seed, verbose, &o);
    /* members join one by one through a random earlier member */
    for (uint32_t i = 1; i < r->n; i++) {
        simnet_run_until(r->net, now(r) + pick(r, 500));
        simnet_join(r->net, i, pick(r, i));
    }
    uint64_t t0 = now(r);
    /* gossip spreads joins in about a second; a member the epidemic missed
     * learns at its next push-pull (30 s, staggered) */
    if (!simnet_run_while(r->net, t0 + 65000, 100, converged, NULL))
        return fail(r, "no convergence %.1f s after the last join", (now(r) - t0) / 1000.0);
    stat_add(&agg->a, (now(r) - t0) / 1000.0);
    if (r->verbose) printf("# converged %.2f s after the last join\n", (now(r) - t0) / 1000.0);
    return 0;
}

static int sc_fail(struct run *r, uint64_t seed, bool verbose, struct agg *agg)
{
    struct cn_rand pr;
    cn_rand_seed(&pr, seed);
    struct run_opts o = {.n = 3 + (uint32_t)cn_rand_below(&pr, 10), .lat_min = 1, .lat_max = 10,
                         .formed = true, .check = true};
    run_init(r, seed, verbose, &o);
    simnet_run_until(r->net, 2000 + pick(r, 2000));
    uint32_t v = pick(r, r->n);
    r->expect_dead[v] = 1;
    watch(r, v, GOSSIP_MEMBER_FAILED, r->n - 1);
    uint64_t t0 = now(r);
    simnet_kill(r->net, v);
    uint64_t bound = detect_bound(&r->timing, r->n);
    if (!simnet_run_while(r->net, t0 + bound, 50, watch_done, r))
        return fail(r, "n=%u: %u of %u declared n%u dead within the %.1f s bound", r->n, r->w.count,
                    r->n - 1, v, bound / 1000.0);
    stat_add(&agg->a, (r->w.first_ms - t0) / 1000.0);
    stat_add(&agg->b, (r->w.done_ms - t0) / 1000.0);
    if (r->false_pos) return fail(r, "%llu false positives", (unsigned long long)r->false_pos);
    return 0;
}

static bool left_done(void *ctx, struct simnet *net)
{
    return ((struct simnode *)ctx)->left;
}

static int sc_leave(struct run *r, uint64_t seed, bool verbose, struct agg *agg)
{
    struct cn_rand pr;
    cn_rand_seed(&pr, seed);
    struct run_opts o = {.n = 3 + (uint32_t)cn_rand_below(&pr, 10), .lat_min = 1, .lat_max = 10,
                         .formed = true, .check = true};
    run_init(r, seed, verbose, &o);
    simnet_run_until(r->net, 1000 + pick(r, 2000));
    uint32_t v = pick(r, r->n);
    watch(r, v, GOSSIP_MEMBER_LEAVE, r->n - 1);
    uint64_t t0 = now(r);
    simnet_leave(r->net, v);
    if (!simnet_run_while(r->net, t0 + 10000, 20, watch_done, r))
        return fail(r, "%u of %u saw n%u leave", r->w.count, r->n - 1, v);
    if (!simnet_run_while(r->net, t0 + 10000, 20, left_done, simnet_node(r->net, v)))
        return fail(r, "n%u never finished leaving", v);
    stat_add(&agg->a, (r->w.done_ms - t0) / 1000.0);
    if (r->failed_total) return fail(r, "a leaving member was declared failed");
    return 0;
}

/* Loss, then calm: transient suspicions are fine, deaths for good are not. */
static int sc_loss(struct run *r, uint64_t seed, bool verbose, struct agg *agg)
{
    struct cn_rand pr;
    cn_rand_seed(&pr, seed);
    struct run_opts o = {.n = 4 + (uint32_t)cn_rand_below(&pr, 9), .lat_min = 1, .lat_max = 20,
                         .formed = true, .check = true};
    o.loss = 0.05 + 0.15 * cn_rand_double(&pr);
    /* Half the runs without TCP pings: the simulated TCP is lossless, so
     * with them a lossy UDP path alone never fails anyone. */
    struct gossip_timing t;
    gossip_timing_default(&t, GOSSIP_PROFILE_LAN);
    t.disable_tcp_pings = cn_rand_below(&pr, 2) == 0;
    o.timing = &t;
    run_init(r, seed, verbose, &o);
    simnet_run_until(r->net, 40000);
    simnet_set_loss(r->net, 0);
    uint64_t t0 = now(r);
    if (!simnet_run_while(r->net, t0 + 100000, 200, converged, NULL))
        return fail(r, "loss %.0f%%: a live member still not alive everywhere %.0f s later",
                    o.loss * 100, (now(r) - t0) / 1000.0);
    agg->fp += r->false_pos;
    stat_add(&agg->a, o.loss * 100);
    return 0;
}

/* A CPU-starved member: its incoming packets wait up to 2-5 probe intervals. */
static int sc_slow(struct run *r, uint64_t seed, bool verbose, struct agg *agg)
{
    struct cn_rand pr;
    cn_rand_seed(&pr, seed);
    struct run_opts o = {.n = 4 + (uint32_t)cn_rand_below(&pr, 9), .lat_min = 1, .lat_max = 10,
                         .formed = true, .check = true};
    run_init(r, seed, verbose, &o);
    uint32_t v = pick(r, r->n);
    r->expect_dead[v] = 1; /* failing the starved member itself is not counted */
    simnet_node(r->net, v)->slow_ms = (2 + pick(r, 4)) * r->timing.probe_interval_ms;
    simnet_run_until(r->net, 40000);
    simnet_node(r->net, v)->slow_ms = 0;
    uint64_t t0 = now(r);
    if (!simnet_run_while(r->net, t0 + 100000, 200, converged, NULL))
        return fail(r, "slow n%u: not alive everywhere %.0f s after recovering", v,
                    (now(r) - t0) / 1000.0);
    agg->fp += r->false_pos;
    agg->count += r->failed_total - r->false_pos;
    return 0;
}

static int sc_partition(struct run *r, uint64_t seed, bool verbose, struct agg *agg)
{
    struct cn_rand pr;
    cn_rand_seed(&pr, seed);
    struct run_opts o = {.n = 4 + (uint32_t)cn_rand_below(&pr, 9), .lat_min = 1, .lat_max = 10,
                         .formed = true, .check = true};
    run_init(r, seed, verbose, &o);
    simnet_run_until(r->net, 1000);
    /* two non-empty sides */
    uint32_t cut = 1 + pick(r, r->n - 1);
    for (uint32_t i = 0; i < r->n; i++) {
        simnet_set_group(r->net, i, i < cut ? 1 : 2);
        r->expect_dead[i] = 1; /* each side may fail the other: not false positives */
    }
    simnet_run_until(r->net, now(r) + 10000 + pick(r, 50000));
    simnet_heal(r->net);
    uint64_t t0 = now(r);
    /* Serf reconnect every 30 s (probability failed/alive), or members not yet
     * failed simply keep probing: 3 reconnect periods is generous */
    if (!simnet_run_while(r->net, t0 + 120000, 200, converged, NULL))
        return fail(r, "partition %u|%u not healed %.0f s after the network was", cut, r->n - cut,
                    (now(r) - t0) / 1000.0);
    stat_add(&agg->a, (now(r) - t0) / 1000.0);
    return 0;
}

static int sc_restart(struct run *r, uint64_t seed, bool verbose, struct agg *agg)
{
    struct cn_rand pr;
    cn_rand_seed(&pr, seed);
    struct run_opts o = {.n = 3 + (uint32_t)cn_rand_below(&pr, 10), .lat_min = 1, .lat_max = 10,
                         .formed = true, .check = true};
    run_init(r, seed, verbose, &o);
    simnet_run_until(r->net, 1000 + pick(r, 1000));
    uint32_t v = pick(r, r->n);
    r->expect_dead[v] = 1;
    simnet_kill(r->net, v);
    /* back before, during or after its detection */
    simnet_run_until(r->net, now(r) + pick(r, 40000));
    simnet_restart(r->net, v);
    uint32_t to = pick(r, r->n - 1);
    simnet_join(r->net, v, to >= v ? to + 1 : to);
    uint64_t t0 = now(r);
    if (!simnet_run_while(r->net, t0 + 80000, 200, converged, NULL))
        return fail(r, "restarted n%u not alive everywhere after %.0f s", v, (now(r) - t0) / 1000.0);
    stat_add(&agg->a, (now(r) - t0) / 1000.0);
    return 0;
}

static int sc_events(struct run *r, uint64_t seed, bool verbose, struct agg *agg)
{
    struct cn_rand pr;
    cn_rand_seed(&pr, seed);
    struct run_opts o = {.n = 3 + (uint32_t)cn_rand_below(&pr, 10), .lat_min = 1, .lat_max = 10,
                         .formed = true, .check = true};
    o.loss = 0.05 * cn_rand_double(&pr);
    run_init(r, seed, verbose, &o);
    simnet_run_until(r->net, 1000);
    uint32_t k = 1 + pick(r, MAX_EVENTS);
    char name[8], payload[32];
    for (uint32_t e = 0; e < k; e++) {
        simnet_run_until(r->net, now(r) + pick(r, 1000));
        snprintf(name, sizeof name, "e%u", e);
        snprintf(payload, sizeof payload, "payload-%llu-%u", (unsigned long long)seed, e);
        if (simnet_fire(r->net, pick(r, r->n), name, payload, false)) return fail(r, "fire failed");
    }
    /* push-pull carries recent events to anyone the epidemic missed */
    simnet_run_until(r->net, now(r) + 70000);
    if (r->ev_dup) return fail(r, "an event was delivered twice");
    for (uint32_t i = 0; i < r->n; i++)
        for (uint32_t e = 0; e < k; e++)
            if (r->ev_count[i * MAX_EVENTS + e] != 1)
                return fail(r, "n%u got event e%u %u times", i, e, r->ev_count[i * MAX_EVENTS + e]);
    return 0;
}

static uint64_t agg_missing; /* key-operation answers never received */

static bool keyres(void *ctx, struct simnet *net)
{
    return ((struct run *)ctx)->have_keyres;
}

static int key_step(struct run *r, enum gossip_key_op op, const struct gossip_key *k)
{
    r->have_keyres = false;
    uint32_t origin = pick(r, r->n);
    if (r->verbose) printf("# %8.3f key op %d from n%u\n", now(r) / 1000.0, (int)op, origin);
    if (simnet_key_op(r->net, origin, op, k, false)) return 1;
    if (!simnet_run_while(r->net, now(r) + 20000, 20, keyres, r)) return 1;
    /* An answer can be lost even after the origin asked three times (the
     * packets are being corrupted here); what must hold is that nobody
     * refused, and the keyrings at the end. */
    agg_missing += r->n - r->keyres.num_resp;
    bool bad = r->keyres.num_err != 0;
    if (bad && r->verbose) {
        for (uint32_t i = 0; i < r->n; i++) {
            const struct gossip_key *keys;
            size_t nk = gossip_keyring(simnet_node(r->net, i)->g, &keys);
            struct gossip_stats st;
            gossip_stats(simnet_node(r->net, i)->g, &st);
            printf("# n%u: %zu keys, primary %02x, rejected %llu\n", i, nk, keys[0].bytes[0],
                   (unsigned long long)st.rejected_packets);
        }
    }
    return bad;
}

static struct gossip_key rand_key(struct run *r)
{
    static const uint8_t sizes[3] = {16, 24, 32};
    struct gossip_key k = {.len = sizes[pick(r, 3)]};
    for (int i = 0; i < k.len; i++) k.bytes[i] = (uint8_t)pick(r, 256);
    return k;
}

static int sc_crypto(struct run *r, uint64_t seed, bool verbose, struct agg *agg)
{
    struct cn_rand pr;
    cn_rand_seed(&pr, seed);
    struct gossip_key k1 = {.len = 32};
    for (int i = 0; i < 32; i++) k1.bytes[i] = (uint8_t)cn_rand_u64(&pr);
    struct run_opts o = {.n = 3 + (uint32_t)cn_rand_below(&pr, 5), .lat_min = 1, .lat_max = 10,
                         .formed = true, .check = true, .keys = &k1, .n_keys = 1};
    o.corrupt = 0.005 + 0.025 * cn_rand_double(&pr);
    run_init(r, seed, verbose, &o);
    simnet_run_until(r->net, 2000);
    struct gossip_key k2 = rand_key(r);
    if (key_step(r, GOSSIP_KEY_INSTALL, &k2))
        return fail(r, "install: %u/%u answered, %u errors", r->keyres.num_resp, r->n,
                    r->keyres.num_err);
    if (key_step(r, GOSSIP_KEY_USE, &k2))
        return fail(r, "use: %u/%u answered, %u errors", r->keyres.num_resp, r->n, r->keyres.num_err);
    if (key_step(r, GOSSIP_KEY_REMOVE, &k1))
        return fail(r, "remove: %u/%u answered, %u errors %s", r->keyres.num_resp, r->n,
                    r->keyres.num_err, r->key_msg);
    simnet_run_until(r->net, now(r) + 30000);
    uint64_t rejected = 0;
    for (uint32_t i = 0; i < r->n; i++) {
        const struct gossip_key *keys;
        if (gossip_keyring(simnet_node(r->net, i)->g, &keys) != 1 ||
            memcmp(keys[0].bytes, k2.bytes, k2.len) != 0)
            return fail(r, "n%u did not end with the new key alone", i);
        struct gossip_stats st;
        gossip_stats(simnet_node(r->net, i)->g, &st);
        rejected += st.rejected_packets;
    }
    struct simnet_totals tot;
    simnet_totals(r->net, &tot);
    /* A flipped byte almost always breaks the tag; it could land in a byte
     * the packet never uses only if there were one. There is none. */
    if (tot.corrupted && rejected < tot.corrupted / 2)
        return fail(r, "%llu corrupted packets but only %llu refused",
                    (unsigned long long)tot.corrupted, (unsigned long long)rejected);
    /* corruption is a kind of loss: wait for any flapping to settle */
    if (!simnet_run_while(r->net, now(r) + 100000, 200, converged, NULL))
        return fail(r, "not converged after the rotation");
    agg->count += tot.corrupted;
    agg->fp += rejected;
    return 0;
}

static bool tags_seen(void *ctx, struct simnet *net)
{
    struct run *r = ctx;
    char name[16];
    snprintf(name, sizeof name, "n%u", r->w.subject);
    for (uint32_t i = 0; i < r->n; i++) {
        struct gossip_member m;
        if (gossip_member_get(simnet_node(net, i)->g, name, &m)) return false;
        const char *v = gossip_member_tag(&m, "build");
        if (!v || strcmp(v, "1.2.3:abc") != 0) return false;
    }
    return true;
}

static int sc_tags(struct run *r, uint64_t seed, bool verbose, struct agg *agg)
{
    struct cn_rand pr;
    cn_rand_seed(&pr, seed);
    struct run_opts o = {.n = 3 + (uint32_t)cn_rand_below(&pr, 10), .lat_min = 1, .lat_max = 10,
                         .formed = true, .check = true};
    run_init(r, seed, verbose, &o);
    simnet_run_until(r->net, 1000);
    uint32_t v = pick(r, r->n);
    r->w.subject = v;
    struct gossip_tag tags[] = {{"role", "consul"}, {"dc", "dc1"}, {"build", "1.2.3:abc"},
                                {"port", "8300"}, {"id", "0d5b4c2e-6fd5-4c4b-9ae7-8d1c2d3e4f50"}};
    uint64_t t0 = now(r);
    if (simnet_set_tags(r->net, v, tags, 5)) return fail(r, "set tags failed");
    if (!simnet_run_while(r->net, t0 + 65000, 50, tags_seen, r))
        return fail(r, "new tags of n%u not everywhere", v);
    stat_add(&agg->a, (now(r) - t0) / 1000.0);
    return 0;
}

/* Two sites; coordinates must tell near from far. */
struct sites {
    uint32_t split, near_ms, far_ms;
};
static struct sites g_sites;

static uint32_t site_latency(void *ctx, uint32_t a, uint32_t b)
{
    return (a < g_sites.split) == (b < g_sites.split) ? g_sites.near_ms : g_sites.far_ms;
}

static int sc_vivaldi(struct run *r, uint64_t seed, bool verbose, struct agg *agg)
{
    struct cn_rand pr;
    cn_rand_seed(&pr, seed);
    uint32_t n = 4 + (uint32_t)cn_rand_below(&pr, 5);
    g_sites = (struct sites){2 + (uint32_t)cn_rand_below(&pr, n - 3), 1 + (uint32_t)cn_rand_below(&pr, 4),
                             20 + (uint32_t)cn_rand_below(&pr, 40)};
    struct gossip_timing t;
    gossip_timing_default(&t, GOSSIP_PROFILE_DEV); /* 10 probes a second: a quick run */
    struct run_opts o = {.n = n, .formed = true, .coordinates = true, .timing = &t};
    memset(r, 0, sizeof *r);
    run_init(r, seed, verbose, &o);
    simnet_set_latency(r->net, site_latency);
    simnet_run_until(r->net, 40000);
    /* Far pairs within 30% of the truth, and every near pair clearly nearer
     * than far ones (a two-member site probes its only neighbour rarely, so
     * near estimates are noisier in absolute terms). */
    double worst = 0, near_max = 0;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = i + 1; j < n; j++) {
            struct gossip_coord a, b;
            gossip_coord_self(simnet_node(r->net, i)->g, &a);
            gossip_coord_self(simnet_node(r->net, j)->g, &b);
            double est = gossip_coord_distance(&a, &b) * 1000.0;
            double truth = 2.0 * site_latency(NULL, i, j);
            if (r->verbose) printf("# n%u-n%u true %.1f ms, estimated %.1f ms\n", i, j, truth, est);
            if (truth == 2.0 * g_sites.near_ms) {
                if (est > near_max) near_max = est;
                continue;
            }
            double err = fabs(est - truth) / truth;
            if (err > worst) worst = err;
        }
    stat_add(&agg->a, worst);
    if (worst > 0.3) return fail(r, "far pairs off by %.0f%% (far %u ms)", worst * 100, 2 * g_sites.far_ms);
    if (near_max > g_sites.far_ms)
        return fail(r, "a near pair (%u ms) estimated at %.1f ms, far is %u ms", 2 * g_sites.near_ms,
                    near_max, 2 * g_sites.far_ms);
    return 0;
}

struct scenario {
    const char *name;
    scenario_fn fn;
    const char *stat_a, *stat_b;
};

static const struct scenario scenarios[] = {
    {"join", sc_join, "converged_s", NULL},
    {"fail", sc_fail, "first_s", "all_s"},
    {"leave", sc_leave, "all_s", NULL},
    {"loss", sc_loss, NULL, NULL},
    {"slow", sc_slow, NULL, NULL},
    {"partition", sc_partition, "healed_s", NULL},
    {"restart", sc_restart, "rejoined_s", NULL},
    {"events", sc_events, NULL, NULL},
    {"crypto", sc_crypto, NULL, NULL},
    {"tags", sc_tags, "seen_s", NULL},
    {"vivaldi", sc_vivaldi, "far_err", NULL},
};

/* ---- CI mode ------------------------------------------------------------------------- */

static int run_one(const struct scenario *sc, uint64_t seed, bool verbose, struct agg *agg,
                   char *why, size_t why_len)
{
    struct run r;
    memset(&r, 0, sizeof r);
    int rc = sc->fn(&r, seed, verbose, agg);
    struct simnet_totals tot;
    simnet_totals(r.net, &tot);
    agg->bytes += tot.bytes + tot.stream_bytes;
    agg->member_secs += (uint64_t)r.n * simnet_now(r.net) / 1000;
    snprintf(why, why_len, "%s", r.why);
    run_free(&r);
    return rc;
}

static int ci(uint64_t seeds, uint64_t base, const char *only)
{
    int passed = 0, failed = 0;
    for (size_t s = 0; s < CN_ARRAY_SIZE(scenarios); s++) {
        const struct scenario *sc = &scenarios[s];
        if (only && strcmp(only, sc->name) != 0) continue;
        struct agg agg = {0};
        clock_t c0 = clock();
        uint64_t bad = 0;
        char why[256] = "";
        for (uint64_t i = 0; i < seeds; i++) {
            uint64_t seed = base + i;
            if (run_one(sc, seed, false, &agg, why, sizeof why)) {
                bad = seed + 1;
                break;
            }
        }
        double cpu = (double)(clock() - c0) / CLOCKS_PER_SEC;
        if (bad) {
            printf("not ok %s seed=%llu %s\n", sc->name, (unsigned long long)(bad - 1), why);
            failed++;
            continue;
        }
        printf("ok %s seeds=%llu", sc->name, (unsigned long long)seeds);
        if (sc->stat_a)
            printf(" %s_p50=%.2f p99=%.2f max=%.2f", sc->stat_a, stat_q(&agg.a, 0.5),
                   stat_q(&agg.a, 0.99), stat_q(&agg.a, 1.0));
        if (sc->stat_b)
            printf(" %s_p50=%.2f p99=%.2f max=%.2f", sc->stat_b, stat_q(&agg.b, 0.5),
                   stat_q(&agg.b, 0.99), stat_q(&agg.b, 1.0));
        if (!strcmp(sc->name, "loss") || !strcmp(sc->name, "slow"))
            printf(" transient_false_failures=%llu", (unsigned long long)agg.fp);
        if (!strcmp(sc->name, "slow"))
            printf(" starved_member_failed=%llu", (unsigned long long)agg.count);
        if (!strcmp(sc->name, "crypto"))
            printf(" corrupted=%llu refused=%llu unanswered=%llu", (unsigned long long)agg.count,
                   (unsigned long long)agg.fp, (unsigned long long)agg_missing);
        printf(" bytes_per_member_s=%.0f cpu=%.1fs\n",
               agg.member_secs ? (double)agg.bytes / (double)agg.member_secs : 0.0, cpu);
        fflush(stdout);
        free(agg.a.v);
        free(agg.b.v);
        passed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

/* ---- table mode (bench) ------------------------------------------------------------------ */

#include "sim_table.h"

int main(int argc, char **argv)
{
    uint64_t seeds = 0, seed = 0, base = 1;
    bool have_seed = false, verbose = false;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seeds") && i + 1 < argc) {
            seeds = strtoull(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 10);
            have_seed = true;
        } else if (!strcmp(argv[i], "--base") && i + 1 < argc) {
            base = strtoull(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--scenario") && i + 1 < argc) {
            only = argv[++i];
        } else if (!strcmp(argv[i], "-v")) {
            verbose = true;
        } else if (!strcmp(argv[i], "--table")) {
            return sim_table(argc, argv);
        } else if (!strcmp(argv[i], "--list")) {
            for (size_t s = 0; s < CN_ARRAY_SIZE(scenarios); s++) printf("%s\n", scenarios[s].name);
            return 0;
        } else {
            fprintf(stderr, "usage: sim_gossip --seeds N [--base B] [--scenario X] | --seed S "
                            "--scenario X [-v] | --table [--sizes A,B] [--profile lan]\n");
            return 2;
        }
    }
    if (have_seed) {
        int failed = 0, passed = 0;
        for (size_t s = 0; s < CN_ARRAY_SIZE(scenarios); s++) {
            if (only && strcmp(only, scenarios[s].name) != 0) continue;
            struct agg agg = {0};
            char why[256];
            if (run_one(&scenarios[s], seed, verbose, &agg, why, sizeof why)) {
                printf("not ok %s seed=%llu %s\n", scenarios[s].name, (unsigned long long)seed, why);
                failed++;
            } else {
                printf("ok %s seed=%llu\n", scenarios[s].name, (unsigned long long)seed);
                passed++;
            }
        }
        printf("%d passed, %d failed\n", passed, failed);
        return failed ? 1 : 0;
    }
    return ci(seeds ? seeds : 100, base, only);
}
