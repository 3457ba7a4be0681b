/*
 * internal.c - endpoints agents use among themselves, under
 * /v1/internal/cairn/ (Consul keeps its own under /v1/internal/ too).
 *
 * node-dump/<node>: a node's whole catalog record in the state codecs, for a
 * client agent's full anti-entropy sync. A client has no store of its own,
 * so it asks through its HTTP API like any other read and the router
 * forwards the request to a server.
 *
 * acl-dump[?tokens]: the ACL tables for a secondary datacenter's
 * replication (rpc_acl_repl.h), fetched from the primary with ?dc.
 */
#include <string.h>

#include "http/catalog_int.h"
#include "lib/cn_buf.h"
#include "lib/cn_common.h"
#include "rpc/rpc_acl_repl.h"

static void dump_done(struct rpc_query *q, int rc)
{
    struct http_req *r = q->arg;
    http_read_headers(r, q);
    if (rc) {
        http_reply_error(r, rc, q->err.msg);
    } else {
        struct cn_buf b;
        cn_buf_init(&b, CN_BUF_UNLIMITED);
        rpc_node_dump_encode(q->resp, &b);
        http_reply_raw(r, 200, "application/octet-stream", b.data, b.len);
        cn_buf_release(&b);
    }
    http_read_finish(q, NULL);
}

static void http_node_dump(struct http_req *r)
{
    struct rpc_query_opts opts;
    if (!http_parse_query_opts(r, &opts)) return;
    if (!*r->suffix) {
        http_reply_text(r, 400, "Missing node name");
        return;
    }
    http_read_start(r, &opts, rpc_node_dump_run, dump_done,
                    cn_arena_strdup(&r->arena, r->suffix), NULL);
}

static void acl_dump_done(struct rpc_query *q, int rc)
{
    struct http_req *r = q->arg;
    http_read_headers(r, q);
    if (rc) {
        http_reply_error(r, rc, q->err.msg);
    } else {
        struct cn_buf b;
        cn_buf_init(&b, CN_BUF_UNLIMITED);
        rpc_acl_dump_encode(q->resp, &b);
        http_reply_raw(r, 200, "application/octet-stream", b.data, b.len);
        cn_buf_release(&b);
    }
    http_read_finish(q, NULL);
}

static void http_acl_dump(struct http_req *r)
{
    struct rpc_query_opts opts;
    if (!acl_enabled(rpc_acl(r->env->rpc))) {
        http_reply_error(r, CN_EACLDISABLED, NULL);
        return;
    }
    if (!http_parse_query_opts(r, &opts)) return;
    struct rpc_acl_dump_req *req = CN_ARENA_NEW(&r->arena, struct rpc_acl_dump_req);
    req->tokens = http_has_param(r, "tokens");
    http_read_start(r, &opts, rpc_acl_dump_run, acl_dump_done, req, NULL);
}

const struct http_route http_routes_internal[] = {
    {"/v1/internal/cairn/node-dump/", M_GET, http_node_dump, 0, 0},
    {"/v1/internal/cairn/acl-dump", M_GET, http_acl_dump, 0, 0},
    HTTP_ROUTES_END,
};
