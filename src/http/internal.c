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
 *
 * acl-ident: what the request's own token grants (rpc_acl_ident.h), for a
 * client agent resolving a token it has no fresh answer for.
 *
 * catalog-sync: a client agent's anti-entropy write: the register or
 * deregister command its agent encoded, vetted here against this server's
 * catalog with the request's token and submitted (Consul's servers vet a
 * client's Catalog.Register the same way). A client cannot vet it: who may
 * register a service depends on what the catalog already holds.
 */
#include <string.h>

#include "http/catalog_int.h"
#include "lib/cn_buf.h"
#include "lib/cn_common.h"
#include "rpc/rpc_acl_ident.h"
#include "rpc/rpc_acl_repl.h"
#include "rpc/rpc_cmd.h"

/* Answer a read with its result in the binary codecs (encoded in b when
 * rc is 0), or its error. Releases b. */
static void reply_encoded(struct rpc_query *q, int rc, struct cn_buf *b)
{
    struct http_req *r = q->arg;
    http_read_headers(r, q);
    if (rc)
        http_reply_error(r, rc, q->err.msg);
    else
        http_reply_raw(r, 200, "application/octet-stream", b->data, b->len);
    cn_buf_release(b);
    http_read_finish(q, NULL);
}

static void dump_done(struct rpc_query *q, int rc)
{
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    if (!rc) rpc_node_dump_encode(q->resp, &b);
    reply_encoded(q, rc, &b);
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
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    if (!rc) rpc_acl_dump_encode(q->resp, &b);
    reply_encoded(q, rc, &b);
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

static void acl_ident_done(struct rpc_query *q, int rc)
{
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    if (!rc) rpc_acl_ident_encode(q->resp, &b);
    reply_encoded(q, rc, &b);
}

/* No permission needed: the router already refused a secret that names no
 * token (403 ACL not found), and a token may learn what it grants (Consul's
 * TokenRead by secret and PolicyResolve of the token's own policies). The
 * client names the secret it resolves, "anonymous" included; a request
 * without one is refused rather than answered for this server's default
 * token. */
static void http_acl_ident(struct http_req *r)
{
    struct rpc_query_opts opts;
    if (!acl_enabled(rpc_acl(r->env->rpc))) {
        http_reply_error(r, CN_EACLDISABLED, NULL);
        return;
    }
    if (!r->token || !*r->token) {
        http_reply_error(r, CN_EACLNOTFOUND, NULL);
        return;
    }
    if (!http_parse_query_opts(r, &opts)) return;
    struct rpc_acl_ident_req *req = CN_ARENA_NEW(&r->arena, struct rpc_acl_ident_req);
    req->secret = r->token;
    req->datacenter = rpc_config(r->env->rpc)->datacenter;
    http_read_start(r, &opts, rpc_acl_ident_run, acl_ident_done, req, NULL);
}

/* The command decoded from the body and vetted again: 0 with the
 * re-encoded command in out, CN_ECORRUPT, or the vetting's error. */
static int vet_catalog_cmd(struct http_req *r, struct cn_buf *out, struct cn_err *err)
{
    struct cn_dec d;
    enum rpc_cmd_type type;
    int rc = rpc_cmd_open(&d, r->body.data, r->body.len, &type);
    if (rc) return CN_ECORRUPT;
    if (type == RPC_CMD_REGISTER) {
        struct state_register reg;
        if (rpc_register_decode(&d, &r->arena, &reg) || cn_dec_left(&d)) return CN_ECORRUPT;
        return rpc_catalog_prepare_register(r->env->rpc, r->authz, &reg, out, err);
    }
    if (type == RPC_CMD_DEREGISTER) {
        struct rpc_deregister_cmd c;
        if (rpc_deregister_decode(&d, &c) || cn_dec_left(&d)) return CN_ECORRUPT;
        return rpc_catalog_prepare_deregister(r->env->rpc, r->authz, &c, out, err);
    }
    return CN_ECORRUPT;
}

static void http_catalog_sync(struct http_req *r)
{
    struct cn_buf cmd;
    struct cn_err err;
    cn_err_clear(&err);
    cn_buf_init(&cmd, CN_BUF_UNLIMITED);
    int rc = vet_catalog_cmd(r, &cmd, &err);
    if (rc) {
        cn_buf_release(&cmd);
        if (rc == CN_ECORRUPT)
            http_reply_text(r, 400, "Request decode failed: not a catalog command");
        else if (rc == CN_EPERM)
            http_reply_denied(r);
        else
            http_reply_text(r, 500, "%s", err.msg[0] ? err.msg : cn_strerror(rc));
        return;
    }
    http_catalog_submit(r, &cmd);
}

const struct http_route http_routes_internal[] = {
    {"/v1/internal/cairn/node-dump/", M_GET, http_node_dump, 0, 0},
    {"/v1/internal/cairn/acl-dump", M_GET, http_acl_dump, 0, 0},
    {"/v1/internal/cairn/acl-ident", M_GET, http_acl_ident, 0, 0},
    {"/v1/internal/cairn/catalog-sync", M_PUT, http_catalog_sync, 0, 0},
    HTTP_ROUTES_END,
};
