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

#endif
