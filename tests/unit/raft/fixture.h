/*
 * fixture.h - a hand-driven cluster for unit tests (canonical/raft's fixture):
 * cores on an in-memory network whose messages wait in one queue until a test
 * delivers, drops or reorders them, a fake clock, and per-node storage whose
 * writes become durable when the test says so (or at once with auto_persist).
 * Every message goes through the wire codec.
 */
#ifndef RAFT_FIXTURE_H
#define RAFT_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "raft/raft.h"

#define FX_NODES 8

struct fx_msg {
    int from, to; /* node slots */
    int type;
    uint8_t *bytes;
    size_t len;
};

struct fx_applied {
    raft_index index;
    raft_term term;
    uint8_t type;
    char data[64];
};

struct fx_node {
    raft_id id;
    struct raft *r;
    bool up;
    bool auto_persist;
    uint64_t pending_seq; /* highest seq handed out, not yet durable */
    /* durable storage */
    raft_term d_term;
    raft_id d_vote;
    struct raft_snapshot_meta d_snap;
    struct raft_entry *d_log;
    size_t d_n, d_cap;
    /* writes not yet durable, as (seq, snapshot of what storage would be) */
    struct fx_pend {
        uint64_t seq;
        raft_term term;
        raft_id vote;
        bool install;
        struct raft_snapshot_meta snap;
        bool keep;
        struct raft_entry *ents;
        size_t n;
    } * pend;
    size_t n_pend, cap_pend;
    /* the application */
    struct fx_applied *applied;
    size_t n_applied, cap_applied;
    raft_index applied_index;
    struct raft_read reads[64];
    size_t n_reads;
    int snapshots_installed;
    char blob[64]; /* the local snapshot's bytes (its index, in text) */
    size_t blob_len;
    char rcv[64]; /* a snapshot being received */
    size_t rcv_len;
};

struct fx {
    int n;
    uint64_t now;
    struct fx_node nodes[FX_NODES];
    struct fx_msg *q;
    size_t nq, capq;
    bool cut[FX_NODES][FX_NODES]; /* messages i -> j are dropped */
    void (*tweak)(struct raft_cfg *c);
};

/* n nodes; the first `voters` are bootstrapped as voters, the rest empty. */
void fx_init(struct fx *f, int n, int voters, void (*tweak)(struct raft_cfg *c));
void fx_release(struct fx *f);

/* Step node i with ev at f->now, then take its update (persist, queue
 * messages, apply). Returns raft_step's result. */
int fx_step(struct fx *f, int i, const struct raft_event *ev);
void fx_tick(struct fx *f, int i);
/* Advance the clock by ms and tick every live node. */
void fx_advance(struct fx *f, uint64_t ms);
/* Make pending writes of node i durable and report them. */
void fx_persist(struct fx *f, int i);
/* Deliver queued messages (FIFO) until the queue drains or max rounds. */
int fx_deliver_all(struct fx *f);
/* Deliver only the oldest queued message; false if none. */
bool fx_deliver_one(struct fx *f);
/* Deliver or drop queued messages matching (from, to, type); -1 = any. */
int fx_deliver(struct fx *f, int from, int to, int type);
int fx_drop(struct fx *f, int from, int to, int type);
size_t fx_count(const struct fx *f, int from, int to, int type);
/* Decode the k-th queued message matching the filter into m (release it). */
bool fx_peek(const struct fx *f, int from, int to, int type, size_t k, struct raft_msg *m);

/* The application snapshots node i at its applied index. */
int fx_snapshot(struct fx *f, int i);
void fx_isolate(struct fx *f, int i);
void fx_heal(struct fx *f);
void fx_crash(struct fx *f, int i); /* pending writes lost */
void fx_restart(struct fx *f, int i);

/* Campaign on node i and deliver until quiet; returns its role after. */
int fx_elect(struct fx *f, int i);
int fx_propose(struct fx *f, int i, const char *data);
int fx_read(struct fx *f, int i, uint64_t ctx, bool lease);
int fx_change(struct fx *f, int i, int op, raft_id id);
int fx_leader(const struct fx *f); /* slot of the highest-term live leader, -1 */

#endif
