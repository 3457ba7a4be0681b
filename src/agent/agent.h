/*
 * agent.h - the cairn agent process: configuration, the server (when it is
 * one), the HTTP API, signals, shutdown.
 *
 * One libuv loop thread owns everything. `cairn agent ...` ends up in
 * agent_main; the HTTP endpoints under /v1/agent read the agent through the
 * accessors below.
 */
#ifndef AGENT_H
#define AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/config.h"

struct agent;

/* Run `cairn agent` with the arguments after "agent"; returns the exit code. */
int agent_main(int argc, char **argv);

const struct agent_config *agent_cfg(const struct agent *a);
const char *agent_node_id(const struct agent *a);
/* The address other nodes reach this one at (advertise_addr, or the bind
 * address, or the host's private IPv4). */
const char *agent_advertise_addr(const struct agent *a);
int64_t agent_start_time_ns(const struct agent *a);
/* Ask the agent to re-read its configuration (SIGHUP, /v1/agent/reload). */
int agent_reload(struct agent *a, struct cn_err *err);
/* Set one of the agent's ACL tokens by its /v1/agent/token/<type> name
 * (legacy names accepted); persisted in data_dir/acl-tokens.json when
 * acl.enable_token_persistence is on. CN_ENOENT for an unknown type. */
int agent_set_acl_token(struct agent *a, const char *type, const char *secret, struct cn_err *err);

struct server;
struct cluster;
/* The agent's server (NULL on a client agent) and its cluster layer. */
struct server *agent_server(struct agent *a);
struct cluster *agent_cluster(struct agent *a);
/* The agent's HTTP API (NULL before it is up): internal reads go through it. */
struct http_server *agent_http(struct agent *a);
struct acl_resolver;
/* The agent's token resolver (its own tokens: acl_agent_token). */
struct acl_resolver *agent_acl(struct agent *a);

/* ---- /v1/operator/raft (operator.c) ------------------------------------- */

struct agent_raft_peer {
    char id[40];      /* node ID, or the Raft id in hex when gossip does not know it */
    char node[128];   /* node name, "(unknown)" likewise */
    char address[64]; /* server RPC address */
    bool leader, voter;
};
/* The Raft configuration as this server knows it. CN_ENOSERVERS on a client;
 * CN_ENOLEADER when no leader is known and not stale. */
int agent_raft_configuration(struct agent *a, bool stale, struct agent_raft_peer *out,
                             size_t max, size_t *n, uint64_t *index);
/* Remove the server with this RPC address or node ID from Raft: CN_ENOENT
 * when the configuration has no such server, CN_ENOTLEADER off the leader. */
int agent_raft_remove_peer(struct agent *a, const char *addr, const char *id);

/* ---- /v1/operator/keyring (keyring.c) ------------------------------------ */

/* Consul's Internal.KeyringOperation: on a server, the operation runs in
 * the WAN pool, then in the LAN pool of every datacenter (ours here, the
 * others through one of their servers), each as a gossip query that every
 * alive member answers. */
enum agent_keyring_op {
    AGENT_KEYRING_LIST,
    AGENT_KEYRING_INSTALL,
    AGENT_KEYRING_USE,
    AGENT_KEYRING_REMOVE,
};
enum agent_keyring_flags {
    AGENT_KEYRING_LAN_ONLY = 1 << 0, /* our LAN pool only: asked by another datacenter */
};

#define AGENT_KEYRING_POOLS_MAX 16
#define AGENT_KEYRING_KEYS_MAX 32
#define AGENT_KEYRING_MSGS_MAX 16

/* One pool's answer (Consul's structs.KeyringResponse). */
struct agent_keyring_pool {
    bool wan;
    char datacenter[64];
    char error[128]; /* "" when every member answered and none failed */
    uint32_t num_nodes;
    size_t n_keys;
    struct {
        char key[48]; /* base64 */
        uint32_t count;
    } keys[AGENT_KEYRING_KEYS_MAX];
    size_t n_messages; /* members that failed, and why */
    struct {
        char node[128];
        char message[128];
    } messages[AGENT_KEYRING_MSGS_MAX];
};

struct agent_keyring_result {
    int rc;          /* not 0: the operation failed as a whole; error says why */
    char error[256];
    size_t n;
    struct agent_keyring_pool pools[AGENT_KEYRING_POOLS_MAX];
};

struct agent_keyring_req;
typedef void (*agent_keyring_fn)(void *ctx, const struct agent_keyring_result *res);

/* Start an operation; key_b64 is the base64 key (ignored for LIST), token
 * goes with the requests to other datacenters. done(ctx, res) runs once,
 * possibly before this returns (then *out is NULL); res is valid during the
 * call. CN_ENOSERVERS on a client agent (done does not run). */
int agent_keyring_start(struct agent *a, enum agent_keyring_op op, const char *key_b64,
                        const char *token, unsigned flags, agent_keyring_fn done, void *ctx,
                        struct agent_keyring_req **out);
/* The requester went away: done will not run. */
void agent_keyring_cancel(struct agent_keyring_req *q);

#endif
