/*
 * http.h - the HTTP API server (Consul's /v1 surface) on a libuv loop.
 *
 * HTTP/1.1 with keep-alive and pipelining: a connection handles one request
 * at a time, in order; bytes of the next request wait, parsed only when the
 * response before it has been written (so a pipelining client can never
 * make the server buffer unbounded work). Idle connections cost a small
 * struct and no buffer. A request whose client goes away while it is parked
 * (a blocking query) is cancelled at once.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "lib/cn_err.h"

struct rpc;
struct agent;
struct acl_resolver;
struct http_server;

struct http_header_kv {
    char *name;
    char *value;
};

struct http_config {
    bool pretty_default;   /* -dev pretty-prints every JSON answer */
    size_t kv_max_value;   /* limits.kv_max_value_size */
    size_t txn_max_req;    /* limits.txn_max_req_len */
    size_t max_conns;      /* whole server */
    size_t max_conns_per_client; /* limits.http_max_conns_per_client */
    const struct http_header_kv *response_headers; /* http_config.response_headers */
    size_t nresponse_headers;
    int64_t discovery_max_stale_ns; /* discovery_max_stale; 0 = off */
};

struct http_req;

/* Where a request runs. The agent's router answers 0 to run it here, or
 * takes it (forwarding it to a server, the leader or another datacenter)
 * and answers it later with http_reply_passthrough; then it returns 1. */
typedef int (*http_route_request_fn)(void *ctx, struct http_req *r);

/* Client agents resolve tokens through servers. Called for a request that
 * runs here, before its token is resolved: 0 = resolve it now; 1 = the
 * token is being fetched: the hook took the request (it set r->cancel) and
 * calls http_dispatch_resume(r) once the token resolves without waiting. */
typedef int (*http_token_wait_fn)(void *ctx, struct http_req *r);

/* What handlers reach: the endpoint layer and the agent's local state. */
struct http_env {
    struct rpc *rpc;
    struct agent *agent;
    struct acl_resolver *acl;
    http_route_request_fn route_request; /* NULL: everything runs here */
    void *route_ctx;
    http_token_wait_fn token_wait; /* NULL: tokens resolve at once (servers) */
    void *token_wait_ctx;
};

/* ---- forwarded requests (the server RPC layer) ------------------------ */

struct http_tunnel;
typedef void (*http_tunnel_done_fn)(void *arg, const void *resp, size_t len);

/* Run one complete raw HTTP request as if a client at remote_ip sent it;
 * hops counts the forwards it has already been through (the router may
 * forward it again, e.g. a follower to the leader, up to a limit it sets).
 * done() gets the raw response bytes, once. Returns a handle for
 * http_tunnel_cancel, or NULL when done() already ran. */
struct http_tunnel *http_server_inject(struct http_server *s, const void *req, size_t len,
                                       const char *remote_ip, int hops, http_tunnel_done_fn done,
                                       void *arg);
/* The requester went away: stop (done() will not run) and free. */
void http_tunnel_cancel(struct http_tunnel *t);

struct http_server;

struct http_server *http_server_new(uv_loop_t *loop, const struct http_config *cfg,
                                    const struct http_env *env);
/* Listen on ip:port (IPv4 or IPv6 literal, or "unix:/path"). */
int http_server_listen(struct http_server *s, const char *ip, int port, struct cn_err *err);
/* Stop listening and close every connection; frees once the loop has run. */
void http_server_close(struct http_server *s);
size_t http_server_conn_count(const struct http_server *s);
/* The TCP port of the first listener (useful after listening on port 0). */
int http_server_port(const struct http_server *s);

#endif
