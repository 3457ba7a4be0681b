/*
 * cluster.h - what connects an agent to the others: the LAN gossip pool
 * (and the WAN pool on servers), the server RPC port, and the routing of
 * requests to the server that must answer them.
 *
 * The server RPC port carries frames (src/net): Raft messages between
 * servers, encoded commands forwarded to the leader (APPLY), and whole HTTP
 * requests forwarded from a client agent to a server or from a follower to
 * the leader, answered with the raw HTTP response (docs/architecture.md,
 * "Forwarding"). Servers find each other through gossip tags (role=consul,
 * dc, id, port); with bootstrap_expect they start Raft once that many
 * servers are visible. Everything runs on the agent's loop.
 */
#ifndef AGENT_CLUSTER_H
#define AGENT_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "gossip/gossip.h"
#include "http/http.h"
#include "rpc/rpc.h"
#include "server/server.h"

struct cluster_config {
    const char *node_name;
    const char *node_id;
    const char *datacenter;
    const char *advertise;     /* IP other nodes reach us at */
    const char *advertise_wan; /* NULL: advertise */
    const char *bind;          /* IP to bind gossip and the RPC port to */
    int serf_lan_port, serf_wan_port, server_port;
    bool server, dev;
    bool bootstrap;
    int bootstrap_expect;
    const char *const *retry_join;
    size_t n_retry_join;
    const char *const *retry_join_wan;
    size_t n_retry_join_wan;
    int64_t retry_interval_ns;
    int retry_max;
    const char *encrypt;       /* base64 gossip key, or NULL */
    bool disable_keyring_file; /* keep the keyring in memory, not in data_dir/serf */
    bool verify_incoming;      /* encrypt_verify_incoming */
    bool verify_outgoing;      /* encrypt_verify_outgoing */
    /* gossip_lan / gossip_wan and reconnect_timeout(_wan); a zero
     * probe_interval_ms means the pool's profile as it is */
    struct gossip_timing timing_lan, timing_wan;
    const char *build;         /* "<version>:<revision>" tag */
    const char *data_dir;      /* NULL: no member snapshot (-dev) */
    bool autopilot_cleanup;    /* autopilot.cleanup_dead_servers (default true) */
    bool disable_coordinates;  /* gossip computes no Vivaldi coordinates */
    int autopilot_min_quorum;  /* autopilot.min_quorum */
    const struct gossip_tag *node_meta; /* as node meta tags? no: kept for members */
    size_t n_node_meta;
    /* ACLs across datacenters (acl_route.h): a secondary's servers send
     * ACL writes to the primary */
    const char *primary_datacenter;
    bool acl_enabled, acl_token_replication;
};

struct cluster;

int cluster_new(uv_loop_t *loop, const struct cluster_config *cfg, struct cluster **out,
                struct cn_err *err);
/* Hooks the server is created with (ctx = the cluster). */
const struct server_hooks *cluster_server_hooks(struct cluster *cl);
/* The backend of a client agent's endpoint layer: writes forwarded to a
 * server; reads are forwarded whole at the HTTP layer instead. */
const struct rpc_backend_ops *cluster_client_ops(void);
/* Wire the server (servers only) and the HTTP server (for forwarded
 * requests), then listen and join. */
int cluster_start(struct cluster *cl, struct server *srv, struct http_server *http,
                  struct cn_err *err);
/* The HTTP router hook (http_env.route_request; ctx = the cluster). */
int cluster_route_request(void *ctx, struct http_req *r);
void cluster_close(struct cluster *cl);

/* ---- membership for the agent endpoints and the CLI ------------------ */

/* Visit the members of the LAN (or WAN) pool. */
typedef void (*cluster_member_fn)(void *ctx, const struct gossip_member *m);
void cluster_members(struct cluster *cl, bool wan, cluster_member_fn fn, void *ctx);
/* Join addresses; done(ctx, contacted, err) runs once. */
typedef void (*cluster_join_fn)(void *ctx, int contacted, int rc, const char *err);
int cluster_join(struct cluster *cl, const char *const *addrs, size_t n, bool wan,
                 cluster_join_fn done, void *ctx, struct cn_err *err);
/* Graceful leave of both pools (servers also leave Raft); done() after. */
int cluster_leave(struct cluster *cl, void (*done)(void *ctx), void *ctx);
int cluster_force_leave(struct cluster *cl, const char *node, bool prune, bool wan,
                        struct cn_err *err);
/* Fire a user event into the LAN pool. */
int cluster_user_event(struct cluster *cl, struct cn_str name, struct cn_str payload,
                       struct cn_err *err);
/* Called for each user event delivered by gossip. */
void cluster_set_event_handler(struct cluster *cl,
                               void (*fn)(void *ctx, const struct gossip_user_event *e),
                               void *ctx);
/* Called for LAN member changes (the leader's reconcile loop). */
void cluster_set_member_handler(struct cluster *cl,
                                void (*fn)(void *ctx, const struct gossip_member_change *c),
                                void *ctx);
/* Called when this server gains (true) or loses leadership. */
void cluster_set_leadership_handler(struct cluster *cl, void (*fn)(void *ctx, bool leader),
                                    void *ctx);
/* What gossip says about the server with this Raft id; false if unknown. */
struct cluster_server {
    const char *name;
    const char *node_id;
    const char *rpc_addr;
};
bool cluster_server_info(struct cluster *cl, raft_id id, struct cluster_server *out);
/* The Raft id of a server given its RPC address or node ID; 0 if unknown. */
raft_id cluster_server_lookup(struct cluster *cl, const char *addr, const char *node_id);
/* Known servers of our datacenter (for /v1/agent/self Stats, clients). */
size_t cluster_known_servers(const struct cluster *cl);

/* Datacenters known through the WAN pool (ours first), nearest first by the
 * median estimated round-trip time to their servers. */
size_t cluster_datacenters(struct cluster *cl, char (*out)[64], size_t max);

/* ---- gossip keyring (cluster_keyring.c) --------------------------------- */

bool cluster_has_pool(const struct cluster *cl, bool wan);
/* A keyring operation across the LAN (or WAN) pool: done(ctx, r) runs once,
 * possibly before this returns; *id cancels it. CN_ENOENT without that pool. */
typedef void (*cluster_key_fn)(void *ctx, const struct gossip_key_result *r);
int cluster_key_op(struct cluster *cl, bool wan, enum gossip_key_op op,
                   const struct gossip_key *key, cluster_key_fn done, void *ctx, uint64_t *id,
                   struct cn_err *err);
/* done() will not run (the operation itself still completes in the pool). */
void cluster_key_cancel(struct cluster *cl, uint64_t id);

/* ---- network coordinates -------------------------------------------------- */

/* This agent's Vivaldi coordinate in the LAN (or WAN) pool; false when the
 * pool or the coordinate is absent. */
bool cluster_coord_self(struct cluster *cl, bool wan, struct gossip_coord *out);
/* The last coordinate heard from a member of the pool (WAN names are
 * "node.dc"); false when none. */
bool cluster_coord_get(struct cluster *cl, bool wan, const char *member, struct gossip_coord *out);

#endif
