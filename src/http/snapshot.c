/*
 * snapshot.c - /v1/snapshot: GET saves a point-in-time archive of the
 * server state, PUT restores one (Consul's agent/snapshot_endpoint.go and
 * agent/consul/snapshot_endpoint.go). The work is the backend's
 * (rpc_snapshot_start; server/snapshot.h on a server); the router has
 * already sent the request to the leader, or, for a GET with ?stale, kept
 * it on the server it reached.
 *
 * ACL: Consul allows snapshots only to tokens with acl = "write" (reading
 * a snapshot yields every token, so there is no read-only sense).
 */
#include "http/http_int.h"
#include "lib/cn_common.h"
#include "net/net.h"

/* A request or answer that crosses servers travels in one RPC frame (the
 * router forwards the HTTP request itself), so archives stay below it.
 * NEEDSWORK: streaming forwarding would lift this (docs/storage.md). */
#define SNAPSHOT_FORWARD_MAX ((size_t)NET_FRAME_MAX - (1u << 20))

static void cancel_op(struct http_req *r)
{
    rpc_snapshot_cancel(r->env->rpc, r->cancel_arg);
}

static void on_saved(void *arg, const struct rpc_snapshot_result *res)
{
    struct http_req *r = arg;
    if (res->rc) {
        http_reply_text(r, 500, "%s", res->error);
        return;
    }
    if (r->hops > 0 && res->archive->len > SNAPSHOT_FORWARD_MAX) {
        http_reply_text(r, 500,
                        "snapshot archive of %zu bytes is too large to forward between "
                        "servers (limit %zu); ask the leader's HTTP API directly",
                        res->archive->len, SNAPSHOT_FORWARD_MAX);
        return;
    }
    struct rpc_meta m = {.index = res->index,
                         .known_leader = res->known_leader,
                         .last_contact_ms = res->last_contact_ms};
    http_add_meta_headers(r, &m);
    /* Go's net/http sniffs gzip data as application/x-gzip: what Consul sends. */
    http_reply_take(r, 200, "application/x-gzip", res->archive);
}

static void on_restored(void *arg, const struct rpc_snapshot_result *res)
{
    struct http_req *r = arg;
    if (res->rc)
        http_reply_text(r, 500, "%s",
                        res->error && *res->error ? res->error : cn_strerror(res->rc));
    else
        http_reply_empty(r, 200);
}

static void http_snapshot(struct http_req *r)
{
    if (!acl_allow(r->authz, ACL_R_ACL, CN_STR_NULL, ACL_A_WRITE)) {
        http_reply_denied(r);
        return;
    }
    bool stale = http_has_param(r, "stale"), restore = r->method == M_PUT;
    size_t len = 0;
    char *archive = restore ? cn_buf_take(&r->body, &len) : NULL; /* the backend's now */
    struct rpc_snapshot *op = rpc_snapshot_start(r->env->rpc, restore, stale, archive, len,
                                                 restore ? on_restored : on_saved, r);
    if (r->responded) return; /* answered at once (no leader, stale restore) */
    r->cancel = cancel_op;
    r->cancel_arg = op;
}

const struct http_route http_routes_snapshot[] = {
    {"/v1/snapshot", M_GET | M_PUT, http_snapshot, SNAPSHOT_FORWARD_MAX, 0},
    HTTP_ROUTES_END,
};
