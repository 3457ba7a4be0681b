/*
 * bench_raft - figures for the pure Raft core (src/raft):
 *
 *   elections  time from cold start to the first leader, and from a leader's
 *              crash to its successor, over many seeded runs of a simulated
 *              LAN (0.1-0.5 ms one way, 0.5-2 ms fsync), at a raft_multiplier;
 *              p50/p99/max in ms and in heartbeat ticks (E/10).
 *   commits    entries committed per second of CPU by a 3-server cluster in
 *              one process (every message encoded and decoded, storage
 *              instant), for a batch size: what the core costs per entry.
 *
 *   bench_raft elections [--mult M] [--servers N] [--runs R]
 *   bench_raft commits [--batch B] [--entries N] [--size BYTES] [--servers N]
 *
 * Output is `key value` lines that bench/raft/run.py tabulates.
 */
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/cn_buf.h"
#include "lib/cn_common.h"
#include "lib/cn_rand.h"
#include "raft/raft.h"

#define MAXN 7

/* ---- a tiny event-driven cluster ------------------------------------------ */

struct ev {
    uint64_t t, seq;
    int kind, node;
    uint64_t gen;
    struct raft_buf *frame;
};
enum { E_MSG = 1, E_TICK, E_SYNC };

struct cluster {
    int n;
    uint64_t now, evseq; /* us */
    struct cn_rand rnd;
    struct ev *heap;
    size_t hn, hcap;
    struct raft *r[MAXN];
    bool up[MAXN];
    uint64_t tick_gen[MAXN], tick_at[MAXN];
    uint64_t pending[MAXN]; /* highest seq written, not yet synced */
    bool syncing[MAXN];
    struct cn_buf enc;
    uint64_t applied;
    bool timed; /* latencies on (elections) or everything instant (commits) */
};

static bool lt(const struct ev *a, const struct ev *b)
{
    return a->t != b->t ? a->t < b->t : a->seq < b->seq;
}

static void push(struct cluster *c, struct ev e)
{
    if (c->hn == c->hcap) {
        c->hcap = c->hcap ? 2 * c->hcap : 1024;
        c->heap = cn_realloc(c->heap, c->hcap * sizeof *c->heap);
    }
    e.seq = c->evseq++;
    size_t i = c->hn++;
    while (i && lt(&e, &c->heap[(i - 1) / 2])) {
        c->heap[i] = c->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    c->heap[i] = e;
}

static struct ev pop(struct cluster *c)
{
    struct ev top = c->heap[0], last = c->heap[--c->hn];
    size_t i = 0;
    for (;;) {
        size_t k = 2 * i + 1;
        if (k >= c->hn) break;
        if (k + 1 < c->hn && lt(&c->heap[k + 1], &c->heap[k])) k++;
        if (!lt(&c->heap[k], &last)) break;
        c->heap[i] = c->heap[k];
        i = k;
    }
    if (c->hn) c->heap[i] = last;
    return top;
}

static uint64_t range(struct cluster *c, uint64_t lo, uint64_t hi)
{
    return lo + cn_rand_below(&c->rnd, hi - lo + 1);
}

static void drive(struct cluster *c, int i);

static void schedule_tick(struct cluster *c, int i)
{
    uint64_t t = raft_next_deadline(c->r[i]) * 1000;
    if (t <= c->now) t = c->now + 1;
    if (c->tick_at[i] > c->now && c->tick_at[i] <= t) return;
    c->tick_at[i] = t;
    push(c, (struct ev){.t = t, .kind = E_TICK, .node = i, .gen = ++c->tick_gen[i]});
}

static void step(struct cluster *c, int i, const struct raft_event *ev)
{
    raft_step(c->r[i], c->now / 1000, ev, NULL);
    drive(c, i);
}

static void sync_done(struct cluster *c, int i)
{
    c->syncing[i] = false;
    struct raft_event ev = {.type = RAFT_EV_PERSISTED};
    ev.persisted.seq = c->pending[i];
    step(c, i, &ev);
}

static void drive(struct cluster *c, int i)
{
    for (int guard = 0; guard < 16; guard++) {
        struct raft_update u;
        if (!raft_ready(c->r[i], &u)) break;
        for (size_t k = 0; k < u.n_msgs; k++) {
            const struct raft_msg *m = &u.msgs[k];
            int to = (int)m->to - 1;
            if (to < 0 || to >= c->n || !c->up[to]) continue;
            cn_buf_reset(&c->enc);
            raft_msg_encode(m, &c->enc);
            struct raft_buf *f = raft_buf_copy(c->enc.data, c->enc.len);
            uint64_t d = c->timed ? range(c, 100, 500) : 0;
            push(c, (struct ev){.t = c->now + d, .kind = E_MSG, .node = to, .frame = f});
        }
        c->applied += u.n_committed;
        uint64_t seq = u.seq;
        bool snap = u.snapshot_wanted;
        raft_done(c->r[i], &u);
        if (snap) { /* the application snapshots (instantly here) and the log compacts */
            struct raft_event ev = {.type = RAFT_EV_SNAPSHOT_TAKEN};
            ev.snapshot_taken.index = raft_applied_index(c->r[i]);
            raft_step(c->r[i], c->now / 1000, &ev, NULL);
        }
        if (seq) {
            c->pending[i] = seq;
            if (!c->timed) {
                struct raft_event ev = {.type = RAFT_EV_PERSISTED};
                ev.persisted.seq = seq;
                raft_step(c->r[i], c->now / 1000, &ev, NULL);
            } else if (!c->syncing[i]) {
                c->syncing[i] = true;
                push(c, (struct ev){.t = c->now + range(c, 500, 2000), .kind = E_SYNC, .node = i});
            }
        }
    }
    if (c->timed) schedule_tick(c, i);
}

static void start(struct cluster *c, int i, uint64_t seed, unsigned mult)
{
    struct raft_cfg cfg;
    raft_cfg_defaults(&cfg, (raft_id)i + 1, mult, seed * 131 + (uint64_t)i);
    CN_ASSERT(raft_new(&cfg, &c->r[i]) == 0);
    struct raft_config conf = {.n = (uint32_t)c->n};
    for (int k = 0; k < c->n; k++)
        conf.servers[k] = (struct raft_server){(raft_id)k + 1, RAFT_VOTER};
    CN_ASSERT(raft_bootstrap(c->r[i], &conf) == 0);
    c->up[i] = true;
    step(c, i, &(struct raft_event){.type = RAFT_EV_TICK});
}

static void cluster_init(struct cluster *c, int n, uint64_t seed, unsigned mult, bool timed)
{
    memset(c, 0, sizeof *c);
    c->n = n;
    c->timed = timed;
    c->now = 1000000;
    cn_rand_seed(&c->rnd, seed);
    cn_buf_init(&c->enc, CN_BUF_UNLIMITED);
    for (int i = 0; i < n; i++)
        start(c, i, seed, mult);
}

static void cluster_free(struct cluster *c)
{
    for (size_t k = 0; k < c->hn; k++)
        raft_buf_unref(c->heap[k].frame);
    for (int i = 0; i < c->n; i++)
        raft_free(c->r[i]);
    free(c->heap);
    cn_buf_release(&c->enc);
}

static void run_event(struct cluster *c, struct ev *e)
{
    int i = e->node;
    c->now = e->t;
    if (!c->up[i]) {
        raft_buf_unref(e->frame);
        return;
    }
    if (e->kind == E_TICK) {
        if (e->gen != c->tick_gen[i]) return;
        c->tick_at[i] = 0;
        step(c, i, &(struct raft_event){.type = RAFT_EV_TICK});
    } else if (e->kind == E_SYNC) {
        sync_done(c, i);
    } else {
        struct raft_msg m;
        if (raft_msg_decode(e->frame->data, e->frame->len, e->frame, &m) == 0) {
            step(c, i, &(struct raft_event){.type = RAFT_EV_RECV, .recv = &m});
            raft_msg_release(&m);
        }
        raft_buf_unref(e->frame);
    }
}

static int leader(struct cluster *c)
{
    for (int i = 0; i < c->n; i++)
        if (c->up[i] && raft_role(c->r[i]) == RAFT_LEADER) return i;
    return -1;
}

/* Run until a live leader other than `not` exists; returns its time (us). */
static uint64_t until_leader(struct cluster *c, int not, uint64_t limit_us)
{
    uint64_t end = c->now + limit_us;
    while (c->hn && c->now < end) {
        int l = leader(c);
        if (l >= 0 && l != not ) return c->now;
        struct ev e = pop(c);
        run_event(c, &e);
    }
    return 0;
}

static void run_for(struct cluster *c, uint64_t us)
{
    uint64_t end = c->now + us;
    while (c->hn && c->heap[0].t <= end) {
        struct ev e = pop(c);
        run_event(c, &e);
    }
    c->now = end;
}

/* ---- elections ------------------------------------------------------------ */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *v, int n, double tick_ms)
{
    qsort(v, (size_t)n, sizeof *v, cmp_u64);
    double p50 = (double)v[n / 2] / 1000.0, p99 = (double)v[n * 99 / 100] / 1000.0;
    double mx = (double)v[n - 1] / 1000.0;
    printf("%s_p50_ms %.1f\n%s_p99_ms %.1f\n%s_max_ms %.1f\n", what, p50, what, p99, what, mx);
    printf("%s_p50_ticks %.1f\n%s_p99_ticks %.1f\n", what, p50 / tick_ms, what, p99 / tick_ms);
}

static int elections(unsigned mult, int servers, int runs)
{
    uint64_t *boot = cn_calloc((size_t)runs, sizeof *boot);
    uint64_t *fail = cn_calloc((size_t)runs, sizeof *fail);
    int nb = 0, nf = 0;
    for (int k = 0; k < runs; k++) {
        struct cluster c;
        cluster_init(&c, servers, (uint64_t)k + 1, mult, true);
        uint64_t t0 = c.now;
        uint64_t t = until_leader(&c, -1, 60000000);
        if (t) boot[nb++] = t - t0;
        /* steady state for a while, then the leader dies at a random moment */
        run_for(&c, range(&c, 200000, 1200000) * mult);
        int l = leader(&c);
        if (l >= 0 && servers > 1) { /* a lone server has no successor */
            c.up[l] = false;
            uint64_t crash = c.now;
            t = until_leader(&c, l, 60000000);
            if (t) fail[nf++] = t - crash;
        }
        cluster_free(&c);
    }
    struct raft_cfg cfg;
    raft_cfg_defaults(&cfg, 1, mult, 0);
    printf("multiplier %u\nservers %d\nruns %d\nelection_ms %u\nheartbeat_ms %u\nlease_ms %u\n",
           mult, servers, runs, cfg.election_ms, cfg.heartbeat_ms, cfg.lease_ms);
    if (nb) report("boot", boot, nb, cfg.heartbeat_ms);
    if (nf) report("failover", fail, nf, cfg.heartbeat_ms);
    int expected = servers > 1 ? 2 * runs : runs;
    printf("failed_runs %d\n", expected - nb - nf);
    free(boot);
    free(fail);
    return nb + nf == expected ? 0 : 1;
}

/* ---- commits -------------------------------------------------------------- */

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int commits(int batch, uint64_t entries, size_t size, int servers)
{
    struct cluster c;
    cluster_init(&c, servers, 7, 1, false);
    /* elect node 1 the quick way: advance past the boot-time vote block */
    c.now += 1000000;
    step(&c, 0, &(struct raft_event){.type = RAFT_EV_CAMPAIGN});
    while (c.hn) {
        struct ev e = pop(&c);
        run_event(&c, &e);
    }
    if (leader(&c) != 0) {
        fprintf(stderr, "bench_raft: no leader\n");
        return 1;
    }
    uint8_t *payload = cn_malloc(size);
    memset(payload, 'x', size);
    struct raft_buf *buf = raft_buf_copy(payload, size);
    struct raft_proposal *props = cn_calloc((size_t)batch, sizeof *props);
    for (int k = 0; k < batch; k++)
        props[k] = (struct raft_proposal){buf->data, (uint32_t)size, buf};
    uint64_t start_applied = c.applied, proposed = 0;
    double t0 = cpu_s();
    while (c.applied - start_applied < entries * (uint64_t)servers) {
        if (proposed < entries && raft_commit_index(c.r[0]) + 4096 > raft_last_index(c.r[0])) {
            struct raft_event ev = {.type = RAFT_EV_PROPOSE};
            ev.propose.items = props;
            ev.propose.n = (size_t)batch;
            if (raft_step(c.r[0], c.now / 1000, &ev, NULL) == 0) proposed += (uint64_t)batch;
            drive(&c, 0);
        }
        if (c.hn) {
            struct ev e = pop(&c);
            run_event(&c, &e);
        } else if (proposed >= entries) {
            /* followers learn the last commit index from a heartbeat */
            c.now += 60000;
            step(&c, 0, &(struct raft_event){.type = RAFT_EV_TICK});
        }
    }
    double dt = cpu_s() - t0;
    printf("servers %d\nbatch %d\npayload_bytes %zu\nentries %" PRIu64 "\ncpu_s %.3f\n"
           "commits_per_s %.0f\nns_per_entry %.0f\n",
           servers, batch, size, entries, dt, (double)entries / dt, dt * 1e9 / (double)entries);
    raft_buf_unref(buf);
    free(props);
    free(payload);
    cluster_free(&c);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) goto usage;
    /* Frames of large batches would otherwise be mmapped and unmapped one by
     * one: the harness's cost, not the core's. */
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    unsigned mult = 1;
    int servers = 3, runs = 1000, batch = 64;
    uint64_t entries = 2000000;
    size_t size = 100;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--mult"))
            mult = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--servers"))
            servers = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--runs"))
            runs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch"))
            batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--entries"))
            entries = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--size"))
            size = (size_t)atoi(argv[i + 1]);
        else
            goto usage;
    }
    if (servers < 1 || servers > MAXN || runs < 1 || batch < 1) goto usage;
    if (!strcmp(argv[1], "elections")) return elections(mult, servers, runs);
    if (!strcmp(argv[1], "commits")) return commits(batch, entries, size, servers);
usage:
    fprintf(stderr, "usage: bench_raft elections [--mult M] [--servers N] [--runs R]\n"
                    "       bench_raft commits [--batch B] [--entries N] [--size BYTES]"
                    " [--servers N]\n");
    return 2;
}
