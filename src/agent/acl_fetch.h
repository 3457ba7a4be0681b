/*
 * acl_fetch.h - a client agent resolves tokens through its servers
 * (Consul's client-side ACL resolver).
 *
 * A client agent has no ACL tables, so a token it has no fresh answer for
 * (none yet, or older than acl.token_ttl) is asked of a server: GET
 * /v1/internal/cairn/acl-ident?stale with the token itself, through this
 * agent's own HTTP API, which forwards it to a server of the datacenter
 * (rpc_acl_ident.h). The answer is cached in the resolver
 * (acl_cache_remote); "ACL not found" is cached too, so a deleted token
 * stops working within token_ttl. Requests for the same secret share one
 * fetch.
 *
 * When no server answers, the resolver's down_policy decides
 * (acl_resolver_servers_down): extend-cache and async-cache keep using an
 * expired answer (a token never seen gets the default policy), allow and
 * deny do what they say. For a second after a failure the down_policy
 * answers at once instead of trying again, so a partition does not make
 * every request wait out the forwarding timeout. async-cache answers from
 * an expired entry at once and refreshes it in the background.
 *
 * Who waits: HTTP requests that run on the agent (the /v1/agent
 * endpoints), through http_env.token_wait, without blocking the loop.
 * Anti-entropy does not resolve tokens on a client: its writes carry the
 * token to a server, which vets them (ae.c).
 */
#ifndef AGENT_ACL_FETCH_H
#define AGENT_ACL_FETCH_H

#include <stdbool.h>

struct agent;
struct http_req;
struct acl_fetch;
struct acl_fetch_wait;

typedef void (*acl_fetch_done_fn)(void *arg);

/* For a client agent with ACLs on (agent.c); it reaches the HTTP API and
 * the resolver through the agent when it fetches. */
struct acl_fetch *acl_fetch_new(struct agent *a);
/* Shutdown, before the HTTP API and the cluster close: cancel the fetches
 * in flight. Waiters are not called; their owners cancel them. */
void acl_fetch_stop(struct acl_fetch *f);
void acl_fetch_free(struct acl_fetch *f); /* NULL is fine */
/* The agent's fetcher: NULL on servers and with ACLs off. */
struct acl_fetch *agent_acl_fetch(struct agent *a);

/* Before acl_resolve(secret) (NULL or "" = the default token, else
 * anonymous): true when it resolves now without waiting. false: a server
 * is being asked; then, when done is not NULL, done(arg) runs once when the
 * answer or the failure is in (never inside this call), unless
 * acl_fetch_cancel(*wait) ran first. With done NULL it only starts the
 * fetch. */
bool acl_fetch_ready(struct acl_fetch *f, const char *secret, acl_fetch_done_fn done, void *arg,
                     struct acl_fetch_wait **wait);
void acl_fetch_cancel(struct acl_fetch_wait *w);

/* http_env.token_wait (ctx is the struct acl_fetch). */
int acl_fetch_http_wait(void *ctx, struct http_req *r);

#endif
