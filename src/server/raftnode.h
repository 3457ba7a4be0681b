/*
 * raftnode.h - one server's Raft replica: the pure core (src/raft) driven on
 * the agent's libuv loop, its log and hard state on disk (src/storage) or in
 * memory (-dev), committed commands applied through the FSM to the state
 * store, snapshots taken, shipped and installed.
 *
 * The drive loop follows raft.h's contract: take an update, queue its writes
 * (the WAL's sync thread makes them durable and we feed RAFT_EV_PERSISTED
 * back), send its messages, apply its committed entries, answer its reads,
 * raft_done. Proposals made during one loop iteration go to the core as one
 * batch (group commit). A proposal is answered when the entry at its index
 * is applied: with the FSM's result if that entry is ours (same term), with
 * CN_ENOLEADER if another leader's entry took its place.
 */
#ifndef SERVER_RAFTNODE_H
#define SERVER_RAFTNODE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "raft/raft.h"
#include "rpc/rpc.h"
#include "state/state.h"

struct raftnode_config {
    const char *node_id;   /* the agent's UUID: the Raft id derives from it */
    const char *node_name;
    const char *data_dir;  /* NULL: everything in memory (-dev) */
    unsigned raft_multiplier;
    bool bootstrap;        /* start a one-server cluster if there is no log yet */
    uint64_t snapshot_threshold; /* 0: Consul's 16384 */
    uint64_t trailing_logs;      /* 0: Consul's 10240 */
};

struct raftnode_hooks {
    void *ctx;
    /* Send an encoded Raft message to a peer (the cluster transport). */
    void (*send)(void *ctx, raft_id to, const void *msg, size_t len);
    /* Leadership gained (true) or lost (false). */
    void (*leadership)(void *ctx, bool leader);
    /* A configuration entry was applied. */
    void (*config)(void *ctx, const struct raft_config *c);
    /* A user's snapshot restore replaced the store (every server, when it
     * applies it): leader-maintained state (session timers, ACL objects)
     * must be re-established. */
    void (*restored)(void *ctx);
};

struct raftnode;

int raftnode_new(uv_loop_t *loop, const struct raftnode_config *cfg,
                 const struct raftnode_hooks *hooks, struct state_store *st,
                 struct raftnode **out, struct cn_err *err);
/* Flush, stop timers and the WAL's threads; frees once the loop runs. */
void raftnode_free(struct raftnode *rn);

/* Leader: propose an encoded command; applied() runs once (CN_ENOTLEADER
 * at once when not the leader). */
void raftnode_propose(struct raftnode *rn, const void *cmd, size_t len, rpc_applied_fn applied,
                      void *arg);
/* Leader: propose a verified snapshot archive (copied) as a run of restore
 * commands (server/restore.h); applied() runs once, when the last one is
 * applied here, with res->index the state index after the restore, or the
 * first error (the archive's message in res->text). */
void raftnode_restore(struct raftnode *rn, const void *archive, size_t len, rpc_applied_fn applied,
                      void *arg);
/* Make a read safe: stale at once; default under the leader lease;
 * consistent after a read-index round. ready() runs once. */
void raftnode_read(struct raftnode *rn, enum rpc_mode mode, rpc_ready_fn ready, void *arg);
/* A message from a peer (an encoded raft_msg). */
void raftnode_recv(struct raftnode *rn, const void *msg, size_t len);
/* The transport lost its connection to peer. */
void raftnode_unreachable(struct raftnode *rn, raft_id peer);
/* Start a new cluster with these voters (bootstrap_expect), if the log is empty. */
int raftnode_bootstrap(struct raftnode *rn, const raft_id *voters, size_t n);
/* Leader: membership changes (Consul's autopilot/operator raft). */
int raftnode_change(struct raftnode *rn, int op, raft_id id);
int raftnode_transfer(struct raftnode *rn, raft_id target);

raft_id raftnode_id(const struct raftnode *rn);
bool raftnode_is_leader(const struct raftnode *rn);
raft_id raftnode_leader(const struct raftnode *rn);
uint64_t raftnode_last_contact_ms(const struct raftnode *rn);
uint64_t raftnode_applied_index(const struct raftnode *rn);
uint64_t raftnode_applied_term(const struct raftnode *rn);
/* The configuration as of the applied index, and the Raft index of its entry. */
const struct raft_config *raftnode_applied_config(const struct raftnode *rn, uint64_t *index);
uv_loop_t *raftnode_loop(const struct raftnode *rn);
struct state_store *raftnode_state(const struct raftnode *rn);
const char *raftnode_data_dir(const struct raftnode *rn); /* NULL in -dev */
bool raftnode_has_data(const struct raftnode *rn); /* any log or snapshot */
const struct raft_config *raftnode_config(const struct raftnode *rn);
uint64_t raftnode_term(const struct raftnode *rn);
uint64_t raftnode_commit_index(const struct raftnode *rn);
uint64_t raftnode_last_index(const struct raftnode *rn);
size_t raftnode_peers(const struct raftnode *rn, struct raft_peer_status *out, size_t max);

/* The Raft id of a node ID (first 8 bytes of the UUID; never 0). */
raft_id raftnode_id_of(const char *node_id);

#endif
