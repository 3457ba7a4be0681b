/*
 * cluster_int.h - what the cluster's files share: links on the server RPC
 * port, requests waiting for an answer over them, the servers gossip shows.
 * cluster.c owns links, frames, the LAN pool and routing within the
 * datacenter; cluster_wan.c the WAN pool and routing to other datacenters.
 */
#ifndef AGENT_CLUSTER_INT_H
#define AGENT_CLUSTER_INT_H

#include <stdbool.h>
#include <string.h>

#include "agent/cluster.h"
#include "gossip/io/gossip_io.h"
#include "lib/cn_list.h"
#include "lib/cn_map.h"
#include "lib/cn_rand.h"
#include "net/net.h"

enum frame {
    F_PING = 1,
    F_RAFT = 2,
    F_APPLY = 3,
    F_APPLY_RESP = 4,
    F_HTTP = 5,
    F_HTTP_RESP = 6,
    F_HTTP_CANCEL = 7,
};

#define HOPS_MAX 3
/* Link liveness (yamux-style keepalive): every link hears from its peer at
 * least every KEEPALIVE_MS while healthy; one silent for LINK_DEAD_MS is
 * closed and whatever waits on it fails. */
#define KEEPALIVE_MS 2000
#define LINK_DEAD_MS 10000

struct link {
    struct cluster *cl;
    struct net_conn *c;
    bool alive, outbound;
    int refs;
    uint64_t last_rx, last_tx;
    char addr[64];
    struct cn_list node;
};

/* Where a forwarded request may go next if the server it went to fails
 * before answering (Consul's RPC retries on the next server). Once every
 * candidate was tried a new round starts: a live server's connection can
 * fail once (declared dead after a healed partition) while the others are
 * down, and the retry must be able to come back to it. */
#define ROUTE_TRIES_MAX 6
/* Retries stop once the request has waited this long (Consul's
 * rpc_hold_timeout): a server that went silent costs one keepalive
 * timeout, not one per server. */
#define ROUTE_HOLD_MS 7000
struct route_try {
    uint64_t started_ms;
    char dc[64]; /* "" = our own datacenter */
    char tried[ROUTE_TRIES_MAX][64];
    int ntried;
    int round_start; /* tried[round_start..ntried) are this round's */
};

/* Whether addr was tried in this round. */
static inline bool route_tried(const struct route_try *rt, const char *addr)
{
    for (int i = rt ? rt->round_start : 0; rt && i < rt->ntried; i++)
        if (!strcmp(rt->tried[i], addr)) return true;
    return false;
}

/* No untried candidate left: start a new round if the budget allows. */
static inline bool route_new_round(struct route_try *rt)
{
    if (!rt || rt->ntried == rt->round_start || rt->ntried >= ROUTE_TRIES_MAX) return false;
    rt->round_start = rt->ntried;
    return true;
}

struct pending {
    uint64_t id;
    int kind; /* F_APPLY or F_HTTP */
    struct link *lk;
    rpc_applied_fn applied;
    void *arg;
    struct http_req *req;
    struct route_try *rt; /* F_HTTP: NULL = no retry */
    bool sent_unconnected; /* the request never left: safe to send elsewhere */
    struct cn_list node;
};

struct tunnel {
    uint64_t id;
    struct link *lk;
    struct http_tunnel *t;
    struct cn_list node;
};

struct srv_info {
    char name[128];
    char node_id[40];
    char rpc_addr[64];
    raft_id id;
    int expect;
    bool alive;
    enum gossip_status status;
};

struct cluster {
    uv_loop_t *loop;
    struct cluster_config cfg;
    char *strs[10];
    struct server *srv;
    struct http_server *http;
    struct net_listener *listener;
    struct cn_map out_links; /* addr -> link */
    struct cn_list links;
    struct cn_list pendings;
    struct cn_list tunnels;
    uint64_t next_id;
    struct gossip_io *lan, *wan;
    struct cn_map servers; /* node name -> srv_info (our datacenter) */
    uv_timer_t retry, retry_wan;
    int retry_wan_attempts;
    uv_timer_t snap_timer;
    uv_timer_t autopilot;
    bool snap_inited, left;
    uv_timer_t keepalive;
    int retry_attempts;
    bool bootstrap_tried, closing;
    struct server_hooks hooks;
    struct cn_rand rand;
    void (*event_fn)(void *ctx, const struct gossip_user_event *e);
    void *event_ctx;
    void (*member_fn)(void *ctx, const struct gossip_member_change *c);
    void *member_ctx;
    void (*leader_fn)(void *ctx, bool leader);
    void *leader_ctx;
    cluster_join_fn join_done;
    void *join_ctx;
    void (*leave_done)(void *ctx);
    void *leave_ctx;
    /* cluster_keyring.c */
    char *keyring_file[2];   /* LAN, WAN keyring files; NULL: kept in memory only */
    struct cn_list key_waits; /* keyring operations waiting for their pool */
    uint64_t next_key_id;
};

/* ---- cluster.c ------------------------------------------------------ */

/* A live (or connecting) outbound link to addr; NULL for a bad address. */
struct link *cluster__link_to(struct cluster *cl, const char *addr);
/* Send the whole request to the server at addr; its answer is relayed back.
 * rt (taken) lets a failure before the answer try the next server. */
void cluster__forward_http(struct cluster *cl, struct http_req *r, const char *addr,
                           struct route_try *rt);

/* The server of our datacenter with this Raft id, or NULL. */
struct srv_info *cluster__server_by_id(struct cluster *cl, raft_id id);

/* ---- autopilot.c ----------------------------------------------------- */

void cluster__autopilot_start(struct cluster *cl);
void cluster__autopilot_stop(struct cluster *cl);

/* ---- cluster_wan.c -------------------------------------------------- */

/* Route a request for another datacenter (always answers, or forwards). */
void cluster__route_remote(struct cluster *cl, struct http_req *r, struct route_try *rt);
/* -retry-join-wan / -join-wan; the result comes back through the WAN pool's
 * join callback, which hands it to cluster__wan_join_result (true: it was
 * the WAN retry join's). */
void cluster__wan_retry_join(struct cluster *cl);
bool cluster__wan_join_result(struct cluster *cl, const struct gossip_join_result *r);
/* A LAN member changed: join a server of ours missing from the WAN pool. */
void cluster__wan_flood(struct cluster *cl, const struct gossip_member *m);
/* ...every one of them (after any join succeeded). */
void cluster__wan_flood_all(struct cluster *cl);

/* ---- cluster_keyring.c ---------------------------------------------- */

/* The pool's starting keyring: its keyring file (created from `encrypt`
 * when missing), or `encrypt` alone when there is no file to keep. */
int cluster__keyring_load(struct cluster *cl, bool wan, struct gossip_key *keys, size_t *n,
                          struct cn_err *err);
/* gossip_io callbacks (ctx = the cluster): persist, and answer operations. */
void cluster__keyring_changed_lan(void *ctx, const struct gossip_key *keys, size_t n);
void cluster__keyring_changed_wan(void *ctx, const struct gossip_key *keys, size_t n);
void cluster__key_result(void *ctx, const struct gossip_key_result *r);

/* ---- cluster_snap.c ------------------------------------------------- */

/* Join tokens tell whose join a result answers. */
#define CLUSTER_RETRY_JOIN_TOKEN 1
#define CLUSTER_USER_JOIN_TOKEN 2 /* /v1/agent/join, cairn join */
#define CLUSTER_SNAP_JOIN_TOKEN 3
#define CLUSTER_WAN_JOIN_TOKEN 4  /* -retry-join-wan */
#define CLUSTER_FLOOD_JOIN_TOKEN 5
/* Join the members the snapshot files remember (at start). */
void cluster__snap_rejoin(struct cluster *cl);
/* Membership changed: rewrite the files soon. */
void cluster__snap_changed(struct cluster *cl);
/* A graceful leave: remove the files so a restart does not rejoin. */
void cluster__snap_forget(struct cluster *cl);
void cluster__snap_close(struct cluster *cl);

#endif
