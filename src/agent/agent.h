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

#endif
