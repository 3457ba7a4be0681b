/* main.c - sim_raft: the scenarios and the command line.
 *
 *   sim_raft --seeds N              run N seeds of every scenario
 *   sim_raft --seed S --scenario X  replay one run (add --trace to see it)
 *   sim_raft --list
 *
 * Prints `ok <scenario> (N seeds)` or `not ok <scenario> seed=S: why` per
 * scenario and a closing `P passed, F failed`; exits 1 on any failure.
 * Built with -DSIM_EXPECT_BUG against the core with an injected bug, the
 * same program succeeds only if some run catches the bug.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

/* The workload and network every scenario starts from. */
static struct sim_opts base(const char *name, int voters)
{
    return (struct sim_opts){.name = name,
                             .voters = voters,
                             .multiplier = 1,
                             .fault_ms = 4000,
                             .live_ms = 10000,
                             .delay_min_us = 100,
                             .delay_max_us = 2000,
                             .p_drop = 0.02,
                             .p_dup = 0.02,
                             .p_slow = 0.05,
                             .slow_max_us = 60000,
                             .fault_min_ms = 80,
                             .fault_max_ms = 400,
                             .sync_min_us = 200,
                             .sync_max_us = 4000,
                             .clients = 4,
                             .keys = 3,
                             .think_min_ms = 5,
                             .think_max_ms = 40,
                             .p_read = 0.4,
                             .p_lease = 0.5};
}

#define N_SCENARIOS 9
static struct sim_opts scenarios[N_SCENARIOS];

static void init_scenarios(void)
{
    struct sim_opts *o = scenarios;
    /* Network faults only: drops, duplicates, delays, reordering. */
    *o = base("net3", 3);
    o->fault_min_ms = o->fault_max_ms = 0;
    o->p_drop = o->p_dup = 0.05;
    o->p_slow = 0.1;
    /* Crashes that lose unsynced writes, restarts, pauses. */
    *++o = base("crash3", 3);
    o->f_crash = o->f_pause = true;
    o->drift = 0.02;
    /* Symmetric and one-way partitions, swizzle-clog, drifting clocks. */
    *++o = base("partition5", 5);
    o->f_partition = o->f_oneway = o->f_clog = true;
    o->drift = 0.03;
    /* Everything but membership on five servers. */
    *++o = base("chaos5", 5);
    o->f_crash = o->f_pause = o->f_partition = o->f_oneway = o->f_clog = o->f_transfer = true;
    o->drift = 0.03;
    /* Adding learners and voters, removing servers (the leader too), transfers. */
    *++o = base("member", 3);
    o->spares = 3;
    o->f_crash = o->f_partition = o->f_member = o->f_transfer = true;
    o->fault_min_ms = 50;
    o->fault_max_ms = 250;
    /* Tiny snapshot threshold and chunks: InstallSnapshot all the time. */
    *++o = base("snapshot", 3);
    o->spares = 2;
    o->f_crash = o->f_pause = o->f_partition = o->f_member = true;
    o->snapshot_threshold = 24;
    o->trailing = 6;
    o->chunk_bytes = 16;
    o->max_msg_entries = 4;
    /* Lease reads under pauses, partitions and clocks 4.5% apart. */
    *++o = base("lease", 3);
    o->f_pause = o->f_partition = o->f_oneway = o->f_transfer = true;
    o->drift = 0.045;
    o->p_read = 0.7;
    o->p_lease = 0.9;
    o->no_check_quorum = true;
    o->fault_ms = 8000;
    o->clients = 8;
    o->keys = 2;
    /* Seven servers, all faults. */
    *++o = base("seven", 7);
    o->f_crash = o->f_pause = o->f_partition = o->f_oneway = o->f_clog = o->f_transfer = true;
    o->drift = 0.02;
    /* Many leader crashes with one entry per message: Figure 3.7's ground. */
    *++o = base("figure8", 3);
    o->f_partition = true;
    o->max_msg_entries = 1;
    o->fault_min_ms = 30;
    o->fault_max_ms = 200;
    o->p_read = 0.2;
    o->p_churn = 0.9;
    o->churn_max_ms = 25;
    o->sync_max_us = 10000;
    o->election_ms = 100;
    o->p_drop = 0.3;
    o->p_slow = 0.3;
    o->slow_max_us = 30000;
    o->fault_ms = 15000;
}

static uint64_t mix_seed(uint64_t seed, const char *name)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = name; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    return h ^ (seed * 0x9e3779b97f4a7c15ULL);
}

static const struct sim_opts *find(const char *name)
{
    for (int i = 0; i < N_SCENARIOS; i++)
        if (!strcmp(scenarios[i].name, name)) return &scenarios[i];
    return NULL;
}

static int usage(void)
{
    fprintf(stderr, "usage: sim_raft [--seeds N] [--first S] [--seed S --scenario X [--trace]]"
                    " [--list] [--stats]\n");
    return 2;
}

#ifdef SIM_EXPECT_BUG
/* Succeeds when some seed of some scenario catches the injected bug. */
static int hunt(uint64_t seeds, uint64_t first, const char *only)
{
    char why[512];
    if (getenv("SIM_HUNT_COUNT")) { /* tuning aid: how many seeds catch it */
        uint64_t caught = 0;
        for (uint64_t k = 0; k < seeds; k++)
            for (int i = 0; i < N_SCENARIOS; i++)
                if ((!only || !strcmp(scenarios[i].name, only)) &&
                    !sim_run(&scenarios[i], mix_seed(first + k, scenarios[i].name), false, NULL,
                             why, sizeof why))
                    caught++;
        printf("# caught in %" PRIu64 " of %" PRIu64 " seeds\n", caught, seeds);
    }
    for (uint64_t k = 0; k < seeds; k++) {
        for (int i = 0; i < N_SCENARIOS; i++) {
            const struct sim_opts *o = &scenarios[i];
            if (only && strcmp(o->name, only)) continue;
            if (!sim_run(o, mix_seed(first + k, o->name), false, NULL, why, sizeof why)) {
                printf("ok injected_bug_commit_prior_term caught by %s seed=%" PRIu64
                       " after %" PRIu64 " seeds: %s\n",
                       o->name, first + k, k + 1, why);
                printf("1 passed, 0 failed\n");
                return 0;
            }
        }
    }
    printf("not ok injected_bug_commit_prior_term not caught in %" PRIu64 " seeds\n", seeds);
    printf("0 passed, 1 failed\n");
    return 1;
}
#endif

struct args {
    uint64_t seeds, first, one;
    const char *only;
    bool trace, have_one, stats, list;
};

static int parse(int argc, char **argv, struct args *a)
{
    *a = (struct args){.seeds = 100, .first = 1};
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(k, "--trace")) {
            a->trace = true;
        } else if (!strcmp(k, "--stats")) {
            a->stats = true;
        } else if (!strcmp(k, "--list")) {
            a->list = true;
        } else if (!v) {
            return usage();
        } else if (!strcmp(k, "--seeds")) {
            a->seeds = strtoull(argv[++i], NULL, 10);
        } else if (!strcmp(k, "--first")) {
            a->first = strtoull(argv[++i], NULL, 10);
        } else if (!strcmp(k, "--seed")) {
            a->one = strtoull(argv[++i], NULL, 10);
            a->have_one = true;
        } else if (!strcmp(k, "--scenario")) {
            a->only = argv[++i];
        } else {
            return usage();
        }
    }
    if (a->only && !find(a->only)) {
        fprintf(stderr, "sim_raft: no scenario '%s'\n", a->only);
        return 2;
    }
    return 0;
}

static void print_stats(const struct sim_opts *o, const struct sim_stats *st, double cpu)
{
    printf("# %s: %.2fs events=%" PRIu64 " msgs=%" PRIu64 " elections=%" PRIu64 " crashes=%" PRIu64
           " changes=%" PRIu64 " transfers=%" PRIu64 " snap_chunks=%" PRIu64 " writes=%" PRIu64
           " (unanswered %" PRIu64 ") reads=%" PRIu64 " lease=%" PRIu64 " lin_states=%" PRIu64 "\n"
           "#   snapshots=%" PRIu64 " installs=%" PRIu64 " adds=%" PRIu64 " promotions=%" PRIu64
           " removals=%" PRIu64 " self_removals=%" PRIu64 "\n",
           o->name, cpu, st->events, st->msgs, st->elections, st->crashes, st->changes,
           st->transfers, st->snapshots_sent, st->writes_ok, st->ops_unknown, st->reads_ok,
           st->lease_reads, st->lin_states, st->snapshots_taken, st->installs, st->conf_adds,
           st->conf_promotions, st->conf_removals, st->self_removals);
}

/* Seeds [first, first + seeds) of one scenario; true when all pass. */
static bool run_scenario(const struct sim_opts *o, const struct args *a)
{
    char why[512];
    struct sim_stats st = {0};
    clock_t t0 = clock();
    bool ok = true;
    uint64_t s = a->have_one ? a->one : a->first;
    uint64_t end = a->have_one ? a->one + 1 : a->first + a->seeds;
    for (; s < end && ok; s++)
        ok = sim_run(o, mix_seed(s, o->name), a->trace, &st, why, sizeof why);
    if (ok && a->have_one) {
        printf("ok %s (seed %" PRIu64 ")\n", o->name, a->one);
    } else if (ok) {
        printf("ok %s (%" PRIu64 " seeds)\n", o->name, a->seeds);
    } else {
        printf("not ok %s seed=%" PRIu64 ": %s\n", o->name, s - 1, why);
        printf("#   replay: sim_raft --seed %" PRIu64 " --scenario %s --trace\n", s - 1, o->name);
    }
    if (a->stats) print_stats(o, &st, (double)(clock() - t0) / CLOCKS_PER_SEC);
    return ok;
}

int main(int argc, char **argv)
{
    init_scenarios();
    struct args a;
    int rc = parse(argc, argv, &a);
    if (rc) return rc;
    if (a.list) {
        for (int k = 0; k < N_SCENARIOS; k++)
            printf("%s\n", scenarios[k].name);
        return 0;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
#ifdef SIM_EXPECT_BUG
    if (!a.have_one) return hunt(a.seeds, a.first, a.only);
#endif
    int passed = 0, failed = 0;
    for (int i = 0; i < N_SCENARIOS; i++) {
        if (a.only && strcmp(scenarios[i].name, a.only)) continue;
        if (run_scenario(&scenarios[i], &a))
            passed++;
        else
            failed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
