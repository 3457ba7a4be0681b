/*
 * sim.h - a deterministic simulator for the Raft core (TigerBeetle's VOPR,
 * FoundationDB's simulation): N cores in one process on a simulated network,
 * disk and clock, all driven by one seeded PRNG, so a seed replays exactly.
 *
 * The network drops, duplicates, delays and reorders messages, partitions
 * (symmetric, one-way, swizzle-clog); nodes crash (losing any suffix of their
 * unsynced writes), restart from what their disk kept, pause, and run on
 * clocks whose rates differ by up to `drift`; the cluster changes membership
 * and transfers leadership. Clients run a KV workload whose history is
 * checked for linearizability at the end; safety invariants are checked after
 * every step; after the fault phase everything heals and the cluster must
 * elect a leader and commit a write everywhere within live_ms.
 */
#ifndef SIM_RAFT_H
#define SIM_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sim_opts {
    const char *name;
    int voters; /* initial voters, bootstrapped */
    int spares; /* further nodes, empty, for membership changes */
    unsigned multiplier;
    uint64_t fault_ms; /* length of the fault phase */
    uint64_t live_ms;  /* bound on recovery after healing */

    /* network */
    uint32_t delay_min_us, delay_max_us;
    double p_drop, p_dup, p_slow; /* slow: delayed up to slow_max_us (reorders) */
    uint32_t slow_max_us;

    /* faults: one action every fault_min..fault_max ms */
    uint32_t fault_min_ms, fault_max_ms;
    bool f_crash, f_pause, f_partition, f_oneway, f_clog, f_member, f_transfer;
    double drift; /* clock rates in [1 - drift, 1 + drift] */
    /* leader churn: a new leader crashes within churn_max_ms of its election
     * with this probability (short reigns leave logs half replicated) */
    double p_churn;
    uint32_t churn_max_ms;
    bool no_check_quorum; /* leases must hold without check-quorum's help */

    /* disk: an fsync takes sync_min..sync_max us */
    uint32_t sync_min_us, sync_max_us;

    /* core knobs (0 = default); election_ms overrides the multiplier's timing
     * (heartbeat E/10, lease 9E/10) */
    uint32_t election_ms;
    uint32_t max_msg_entries, max_inflight, chunk_bytes;
    uint64_t snapshot_threshold, trailing;

    /* workload */
    int clients, keys;
    uint32_t think_min_ms, think_max_ms;
    double p_read, p_lease;
};

struct sim_stats {
    uint64_t events, msgs, elections, crashes, changes, transfers, snapshots_sent;
    uint64_t writes_ok, reads_ok, lease_reads, ops_unknown;
    uint64_t lin_states; /* linearizability search states explored */
    uint64_t installs, snapshots_taken, conf_adds, conf_promotions, conf_removals, self_removals;
};

/* Run one simulation; returns true when every check held. On failure why
 * holds a description. trace prints the schedule and the cores' traces. */
bool sim_run(const struct sim_opts *o, uint64_t seed, bool trace, struct sim_stats *st, char *why,
             size_t why_len);

/* lin.c: linearizability of a single register with unique written values
 * (Wing & Gong's search with Lowe's memoization). Times are call and return
 * instants; a read returns value, a write writes it; initial value 0. */
struct lin_op {
    uint64_t call, ret;
    bool write;
    uint64_t value;
};
/* 1 linearizable, 0 not, -1 the search budget ran out. */
int lin_check(const struct lin_op *ops, int n, uint64_t budget, uint64_t *explored);

#endif
