/*
 * sim_table.c - sim_gossip --table: the convergence and bandwidth table for
 * bench/gossip (N = 100, 1,000, 10,000 by default) and the Lifeguard table
 * (false failures under loss and CPU-starved members, with and without it).
 *
 * Each row: a formed cluster of N on a LAN-like network (1-5 ms one way, no
 * loss), realistic Consul tags, all cores sharing node records. Measured in
 * virtual time: idle bandwidth; a join (time until every member knows the
 * newcomer); a kill -9 (first and last declaration of failure, against the
 * bound the timing implies); a graceful leave; bytes and packets per member
 * per second in each phase.
 */
#include "sim_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gossip/gossip_int.h"
#include "simnet.h"

struct track {
    uint32_t subject;
    enum gossip_change_kind kind;
    uint32_t target, count;
    uint8_t *seen;
    uint64_t first_ms, done_ms;
    uint32_t cap;
    struct simnet *net;
    /* Lifeguard runs */
    uint8_t *healthy;   /* never slow, never killed */
    uint64_t fp_healthy, fp_other;
};

static void t_change(void *ctx, uint32_t node, const struct gossip_member_change *c)
{
    struct track *t = ctx;
    uint32_t s = (uint32_t)strtoul(c->member.name + 1, NULL, 10);
    if (c->kind == GOSSIP_MEMBER_FAILED && t->healthy && s < t->cap) {
        if (t->healthy[s])
            t->fp_healthy++;
        else
            t->fp_other++;
    }
    if (!t->seen || s != t->subject || node == s || c->kind != t->kind || node >= t->cap ||
        t->seen[node])
        return;
    t->seen[node] = 1;
    if (t->count++ == 0) t->first_ms = simnet_now(t->net);
    if (t->count == t->target) t->done_ms = simnet_now(t->net);
}

static void t_watch(struct track *t, uint32_t subject, enum gossip_change_kind kind, uint32_t target)
{
    memset(t->seen, 0, t->cap);
    t->subject = subject;
    t->kind = kind;
    t->target = target;
    t->count = 0;
    t->first_ms = t->done_ms = 0;
}

static bool t_done(void *ctx, struct simnet *net)
{
    struct track *t = ctx;
    return t->count >= t->target;
}

/* Consul-shaped client tags, ~150 bytes encoded. */
static size_t consul_tags(void *ctx, uint32_t node, struct gossip_tag *out, char *storage, size_t cap)
{
    snprintf(storage, cap, "%08x-%04x-%04x-%04x-%012x", node * 2654435761u, node & 0xffff, 0x4000,
             0x8000 | (node & 0xfff), node);
    static const struct gossip_tag fixed[] = {
        {"build", "1.17.0:cairn"}, {"dc", "dc1"}, {"role", "node"}, {"segment", ""},
        {"vsn", "2"}, {"vsn_max", "3"}, {"vsn_min", "2"}, {"wan_join_port", "8302"},
    };
    size_t n = 0;
    out[n++] = (struct gossip_tag){"id", storage};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) out[n++] = fixed[i];
    return n;
}

static long rss_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    size_t fl = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, fl) == 0) v = strtol(line + fl, NULL, 10);
    fclose(f);
    return v;
}

struct window {
    struct simnet_totals t0;
    uint64_t ms0;
};

static void win_start(struct simnet *net, struct window *w)
{
    simnet_totals(net, &w->t0);
    w->ms0 = simnet_now(net);
}

/* bytes and packets per member per second since win_start */
static void win_rate(struct simnet *net, const struct window *w, uint32_t members, double *bps,
                     double *pps)
{
    struct simnet_totals t;
    simnet_totals(net, &t);
    double secs = (double)(simnet_now(net) - w->ms0) / 1000.0;
    if (secs <= 0) secs = 1e-3;
    *bps = (double)(t.bytes + t.stream_bytes - w->t0.bytes - w->t0.stream_bytes) / members / secs;
    *pps = (double)(t.packets - w->t0.packets + t.streams - w->t0.streams) / members / secs;
}

static uint64_t detect_bound(const struct gossip_timing *t, uint32_t n)
{
    uint64_t susp_max = (uint64_t)t->suspicion_max_timeout_mult *
                        gossip_suspicion_min_ms(t->suspicion_mult, n, t->probe_interval_ms);
    return (2 * (uint64_t)(n - 1) + 2) * t->probe_interval_ms + susp_max;
}

static void row(uint32_t n, enum gossip_profile prof, uint64_t seed)
{
    clock_t c0 = clock();
    struct track t = {0};
    t.cap = n + 1;
    t.seen = calloc(t.cap, 1);
    struct simnet_config cfg = {.seed = seed, .lat_min_ms = 1, .lat_max_ms = 5,
                                .share_records = true, .tags = consul_tags};
    gossip_timing_default(&cfg.timing, prof);
    cfg.hooks = (struct simnet_hooks){.ctx = &t, .change = t_change};
    struct simnet *net = simnet_new(&cfg);
    t.net = net;
    for (uint32_t i = 0; i < n; i++) simnet_add(net);
    simnet_bootstrap(net);
    struct cn_rand rng;
    cn_rand_seed(&rng, seed);
    /* Idle: after every member's first push-pull (staggered over the first
     * interval, as memberlist does), over one whole scaled push-pull period,
     * so the full-state exchanges are counted at their steady rate. */
    simnet_run_until(net, cfg.timing.push_pull_interval_ms + 15000);
    struct window w;
    double idle_bps, idle_pps, join_bps, join_pps, fail_bps, fail_pps, leave_bps, leave_pps;
    uint64_t idle_ms = gossip_push_pull_scale_ms(cfg.timing.push_pull_interval_ms, n);
    if (idle_ms < 60000) idle_ms = 60000;
    win_start(net, &w);
    simnet_run_until(net, simnet_now(net) + idle_ms);
    win_rate(net, &w, n, &idle_bps, &idle_pps);

    /* join: a new member through a random one; until all n know it */
    uint32_t j = simnet_add(net);
    t_watch(&t, j, GOSSIP_MEMBER_JOIN, n);
    win_start(net, &w);
    uint64_t t0 = simnet_now(net);
    simnet_join(net, j, (uint32_t)cn_rand_below(&rng, n));
    simnet_run_while(net, t0 + 300000, 50, t_done, &t);
    double join_s = t.count == t.target ? (t.done_ms - t0) / 1000.0 : -1;
    simnet_run_until(net, t0 + 20000 > simnet_now(net) ? t0 + 20000 : simnet_now(net));
    win_rate(net, &w, n + 1, &join_bps, &join_pps);
    simnet_run_until(net, simnet_now(net) + 10000);

    /* kill -9 a random old member; until all others declare it failed */
    uint32_t v = (uint32_t)cn_rand_below(&rng, n);
    t_watch(&t, v, GOSSIP_MEMBER_FAILED, n);
    win_start(net, &w);
    t0 = simnet_now(net);
    simnet_kill(net, v);
    uint64_t bound = detect_bound(&cfg.timing, n + 1);
    simnet_run_while(net, t0 + bound + 60000, 50, t_done, &t);
    double fail_first = t.count ? (t.first_ms - t0) / 1000.0 : -1;
    double fail_all = t.count == t.target ? (t.done_ms - t0) / 1000.0 : -1;
    win_rate(net, &w, n, &fail_bps, &fail_pps);
    simnet_run_until(net, simnet_now(net) + 10000);

    /* graceful leave of another */
    uint32_t l = (v + 1 + (uint32_t)cn_rand_below(&rng, n - 1)) % n;
    t_watch(&t, l, GOSSIP_MEMBER_LEAVE, n - 1);
    win_start(net, &w);
    t0 = simnet_now(net);
    simnet_leave(net, l);
    simnet_run_while(net, t0 + 120000, 50, t_done, &t);
    double leave_s = t.count == t.target ? (t.done_ms - t0) / 1000.0 : -1;
    if (getenv("SIM_DEBUG") && t.count != t.target)
        for (uint32_t i = 0; i <= n; i++)
            if (!t.seen[i] && i != v && i != l)
                fprintf(stderr, "n%u missed the leave of n%u: sees it as %s\n", i, l,
                        gossip_status_name(simnet_view(net, i, l)));
    win_rate(net, &w, n - 1, &leave_bps, &leave_pps);

    double cpu = (double)(clock() - c0) / CLOCKS_PER_SEC;
    uint64_t smin = gossip_suspicion_min_ms(cfg.timing.suspicion_mult, n, cfg.timing.probe_interval_ms);
    char susp[32];
    snprintf(susp, sizeof susp, "%.0f-%.0f", smin / 1000.0,
             smin * cfg.timing.suspicion_max_timeout_mult / 1000.0);
    if (fail_all < 0 || fail_all * 1000 > (double)bound) susp[0] = '!'; /* bound broken */
    printf("| %6u | %7.2f | %7.2f | %7.2f | %8s | %6.2f | %8.0f | %6.1f | %8.0f | %8.0f | %8.0f | %7ld | %6.0f |\n",
           n, join_s, fail_first, fail_all, susp, leave_s, idle_bps, idle_pps, join_bps,
           fail_bps, leave_bps, rss_kb("VmHWM:") / 1024, cpu);
    fflush(stdout);
    simnet_free(net);
    free(t.seen);
}

static double lg_run(uint32_t n, bool lifeguard, bool slow, uint64_t seed, uint64_t *fp_healthy,
                     uint64_t *fp_other)
{
    struct track t = {0};
    t.cap = n;
    t.healthy = calloc(n, 1);
    struct simnet_config cfg = {.seed = seed, .lat_min_ms = 1, .lat_max_ms = 5,
                                .share_records = true};
    gossip_timing_default(&cfg.timing, GOSSIP_PROFILE_LAN);
    if (!lifeguard) {
        cfg.timing.awareness_max_multiplier = 1;
        cfg.timing.suspicion_max_timeout_mult = 1;
        cfg.timing.disable_buddy = true;
    }
    /* The simulated TCP is lossless: with TCP pings on, UDP loss alone
     * never fails anyone. Off here, so the UDP machinery carries it all. */
    cfg.timing.disable_tcp_pings = true;
    cfg.loss = slow ? 0.05 : 0.20;
    cfg.hooks = (struct simnet_hooks){.ctx = &t, .change = t_change};
    struct simnet *net = simnet_new(&cfg);
    t.net = net;
    for (uint32_t i = 0; i < n; i++) simnet_add(net);
    simnet_bootstrap(net);
    struct cn_rand rng;
    cn_rand_seed(&rng, seed);
    for (uint32_t i = 0; i < n; i++) {
        t.healthy[i] = 1;
        /* 10% of members starved: packets wait up to 10 s before processing
         * (and 5% loss for everyone) */
        if (slow && cn_rand_below(&rng, 100) < 10) {
            simnet_node(net, i)->slow_ms = 10000;
            t.healthy[i] = 0;
        }
    }
    simnet_run_until(net, 300000);
    simnet_set_loss(net, 0);
    for (uint32_t i = 0; i < n; i++) simnet_node(net, i)->slow_ms = 0;
    simnet_run_until(net, 420000);
    bool ok = simnet_converged(net);
    *fp_healthy = t.fp_healthy;
    *fp_other = t.fp_other;
    simnet_free(net);
    free(t.healthy);
    return ok ? 1 : 0;
}

int sim_table(int argc, char **argv)
{
    const char *sizes = "100,1000,10000";
    const char *lg_sizes = "100";
    enum gossip_profile prof = GOSSIP_PROFILE_LAN;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--sizes") && i + 1 < argc) sizes = argv[++i];
        else if (!strcmp(argv[i], "--lifeguard-sizes") && i + 1 < argc) lg_sizes = argv[++i];
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--profile") && i + 1 < argc) {
            const char *p = argv[++i];
            prof = !strcmp(p, "wan") ? GOSSIP_PROFILE_WAN
                   : !strcmp(p, "local") ? GOSSIP_PROFILE_LOCAL
                                         : GOSSIP_PROFILE_LAN;
        }
    }
    printf("## convergence and bandwidth (virtual time, seed %llu)\n\n", (unsigned long long)seed);
    printf("| N      | join s  | fail 1st| fail all| susp s   | leave s| idle B/s | idle p/s | join B/s | fail B/s | leave B/s| peak MB | cpu s  |\n");
    printf("|--------|---------|---------|---------|----------|--------|----------|----------|----------|----------|----------|---------|--------|\n");
    char *list = strdup(sizes);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ","))
        row((uint32_t)strtoul(tok, NULL, 10), prof, seed);
    free(list);
    if (!*lg_sizes) return 0;
    printf("\n## Lifeguard: false failures in 300 s (LAN timing)\n\n");
    printf("| N     | condition                      | lifeguard | healthy failed | starved failed | converged after |\n");
    printf("|-------|--------------------------------|-----------|----------------|----------------|-----------------|\n");
    list = strdup(lg_sizes);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        uint32_t n = (uint32_t)strtoul(tok, NULL, 10);
        for (int slow = 0; slow < 2; slow++)
            for (int lg = 1; lg >= 0; lg--) {
                uint64_t h, o;
                double ok = lg_run(n, lg, slow, seed, &h, &o);
                char starved[24] = "-";
                if (slow) snprintf(starved, sizeof starved, "%llu", (unsigned long long)o);
                printf("| %5u | %-30s | %-9s | %14llu | %14s | %-15s |\n", n,
                       slow ? "10% starved (<=10 s), 5% loss" : "20% loss, no TCP pings", lg ? "on" : "off",
                       (unsigned long long)h, starved, ok ? "yes" : "NO");
                fflush(stdout);
            }
    }
    free(list);
    return 0;
}
