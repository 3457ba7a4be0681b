/*
 * server.h - what only servers do: own the replicated state, agree on every
 * write through Raft (server/raftnode.h), apply committed commands through
 * the FSM, answer reads in each consistency mode, and carry the leader's
 * duties.
 *
 * The server runs on the caller's libuv loop and gives the endpoint layer
 * its backend (server_backend_ops). Everything that crosses the network
 * (Raft messages, writes forwarded to the leader, addresses of peers) goes
 * through the hooks the agent's cluster layer provides, so this module
 * knows nothing of sockets. -dev is a one-server cluster on the same path
 * with its log in memory.
 */
#ifndef SERVER_H
#define SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "raft/raft.h"
#include "rpc/rpc.h"
#include "state/state.h"

struct server_hooks {
    void *ctx;
    /* Send an encoded Raft message to a peer. */
    void (*raft_send)(void *ctx, raft_id to, const void *msg, size_t len);
    /* Not the leader: hand an encoded command to the leader; applied() once. */
    void (*forward_apply)(void *ctx, raft_id leader, const void *cmd, size_t len,
                          rpc_applied_fn applied, void *arg);
    /* "ip:port" of a server's RPC port, or NULL when unknown. */
    const char *(*addr_of)(void *ctx, raft_id id);
    /* Leadership gained or lost (after the leader's own duties ran). */
    void (*leadership)(void *ctx, bool leader);
};

struct server_config {
    const char *node_name;
    const char *node_id;   /* UUID; the Raft id derives from it */
    const char *datacenter;
    const char *rpc_addr;  /* advertised "ip:port" of the server RPC port */
    const char *data_dir;  /* NULL: in memory (-dev) */
    bool dev;
    bool bootstrap;        /* -dev or -bootstrap: a one-server cluster */
    unsigned raft_multiplier;
    uint64_t snapshot_threshold, trailing_logs;
    bool acl_enabled;
    const char *acl_initial_management; /* acl.tokens.initial_management (copied) */
};

struct server;

int server_new(uv_loop_t *loop, const struct server_config *cfg, const struct server_hooks *hooks,
               struct state_store *st, struct server **out, struct cn_err *err);
/* Stop accepting work; pending proposals fail with CN_ESHUTDOWN. */
void server_shutdown(struct server *s);
/* Frees asynchronously: run the loop afterwards to let it finish. */
void server_free(struct server *s);
const struct rpc_backend_ops *server_backend_ops(void);
uint64_t server_applied_index(const struct server *s);

/* The cluster layer feeds Raft traffic and asks for membership actions. */
void server_raft_recv(struct server *s, const void *msg, size_t len);
void server_peer_unreachable(struct server *s, raft_id peer);
int server_bootstrap(struct server *s, const raft_id *voters, size_t n);
bool server_has_raft_data(const struct server *s);
bool server_is_leader(const struct server *s);
raft_id server_leader_id(const struct server *s);
/* Milliseconds since this server last heard from a leader (what reads
 * report as X-Consul-LastContact): 0 on the leader, UINT64_MAX before
 * any contact. */
uint64_t server_last_contact_ms(const struct server *s);
raft_id server_raft_id(const struct server *s);
const struct raft_config *server_raft_config(const struct server *s);
int server_raft_change(struct server *s, int op, raft_id id);
size_t server_raft_peers(const struct server *s, struct raft_peer_status *out, size_t max);
uint64_t server_raft_term(const struct server *s);
const char *server_rpc_addr(const struct server *s); /* our advertised RPC address */
/* "ip:port" of a server's RPC port (ours included), NULL when unknown. */
const char *server_peer_addr(struct server *s, raft_id id);
/* The Raft replica (snapshot save and restore, server/snapshot.h). */
struct raftnode *server_raftnode(const struct server *s);
uint64_t server_raft_commit_index(const struct server *s);
uint64_t server_raft_last_index(const struct server *s);
/* Propose as the leader would (the cluster layer's APPLY frames). */
void server_apply_local(struct server *s, const void *cmd, size_t len, rpc_applied_fn applied,
                        void *arg);

/* The leader's duties on gaining leadership (Consul's establishLeadership):
 * with ACLs on, propose the global-management policy, the anonymous token
 * and acl.tokens.initial_management when missing. Called on every
 * leadership gain, once the leader's own no-op is committed. */
void server_establish_leadership(struct server *s);

/* The backends' one-shot timers on a libuv loop (rpc_backend_ops
 * timer_start / timer_stop), shared with the client agent's backend. */
struct rpc_timer *server_loop_timer_start(uv_loop_t *loop, uint64_t ms, rpc_timer_fn fn,
                                          void *arg);
void server_loop_timer_stop(struct rpc_timer *t);

#endif
