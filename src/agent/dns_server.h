/*
 * dns_server.h - the agent's DNS interface on ports.dns (8600), UDP and TCP
 * (shared/spec/dns.md). The pure core is src/dns; this is its I/O side:
 * sockets, the endpoint-layer reads, forwarding to recursors.
 *
 * Reads: a server agent answers from its own store through an rpc_query in
 * stale mode (dns_config.allow_stale, the default), building the reply in
 * the query's run function. Otherwise (a client agent, allow_stale off, or
 * an answer older than max_stale) the lookup is an internal HTTP request to
 * the agent's own API (GET /v1/health/service/...), which the agent's
 * router forwards to a server like any other read. A stale one carries
 * ?max_stale=<dns_config.max_stale>: the server that answers re-asks the
 * leader when its last contact is older than that.
 */
#ifndef AGENT_DNS_SERVER_H
#define AGENT_DNS_SERVER_H

#include <stdbool.h>
#include <uv.h>

#include "lib/cn_err.h"

struct agent_config;
struct rpc;
struct acl_resolver;
struct http_server;
struct dns_server;

struct dns_server_env {
    uv_loop_t *loop;
    const struct agent_config *cfg; /* the agent's live configuration (re-read on reload) */
    struct rpc *rpc;
    struct acl_resolver *acl;
    struct http_server *http; /* internal lookups on client agents; may be NULL */
};

/* Listen on addresses.dns (else client_addr) : ports.dns, UDP and TCP.
 * ports.dns < 0: nothing is started and *out stays NULL. */
int dns_server_start(const struct dns_server_env *env, struct dns_server **out,
                     struct cn_err *err);
/* Re-read dns_config and recursors (SIGHUP, /v1/agent/reload). */
void dns_server_reload(struct dns_server *s);
/* Stop listening, cancel every pending lookup; frees once the loop has run. */
void dns_server_close(struct dns_server *s);

#endif
