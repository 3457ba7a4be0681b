/* cluster.c - gossip membership, the server RPC port, request routing. */
#include "agent/cluster_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "agent/acl_route.h"
#include "http/http_int.h"
#include "lib/cn_codec.h"
#include "lib/cn_common.h"
#include "lib/cn_list.h"
#include "lib/cn_log.h"
#include "lib/cn_map.h"
#include "lib/cn_rand.h"
#include "lib/cn_time.h"
#include "net/net.h"
#include "server/raftnode.h"
#include "gossip/io/gossip_io.h"

/* ---- links ---------------------------------------------------------- */

static void link_unref(struct link *lk)
{
    if (--lk->refs == 0) free(lk);
}

static void fail_pending_of(struct cluster *cl, struct link *lk);
static void cancel_tunnels_of(struct cluster *cl, struct link *lk);
static void on_frame(void *ctx, struct net_conn *c, uint8_t type, const uint8_t *p, size_t n);

static void on_link_close(void *ctx, struct net_conn *c, int status)
{
    struct link *lk = net_get_data(c);
    struct cluster *cl = ctx;
    (void)status;
    if (!lk) return;
    lk->alive = false;
    cn_list_remove(&lk->node);
    if (lk->outbound && cn_map_get(&cl->out_links, cn_str_from(lk->addr)) == lk)
        cn_map_del(&cl->out_links, cn_str_from(lk->addr));
    fail_pending_of(cl, lk);
    cancel_tunnels_of(cl, lk);
    if (lk->outbound && cl->srv && !cl->closing) {
        /* Tell Raft about every peer behind this address. */
        struct cn_map_iter it;
        void *v;
        cn_map_iter_init(&it, &cl->servers);
        while (cn_map_iter_next(&it, NULL, &v)) {
            struct srv_info *si = v;
            if (!strcmp(si->rpc_addr, lk->addr)) server_peer_unreachable(cl->srv, si->id);
        }
    }
    link_unref(lk);
}

static const struct net_handler link_handler = {.on_frame = on_frame, .on_close = on_link_close};

static struct link *link_new(struct cluster *cl, struct net_conn *c, bool outbound)
{
    struct link *lk = CN_NEW(struct link);
    lk->cl = cl;
    lk->c = c;
    lk->alive = true;
    lk->outbound = outbound;
    lk->refs = 1;
    lk->last_rx = lk->last_tx = uv_now(cl->loop);
    snprintf(lk->addr, sizeof lk->addr, "%s", net_peer(c));
    cn_list_insert_tail(&cl->links, &lk->node);
    net_set_data(c, lk);
    return lk;
}

struct link *cluster__link_to(struct cluster *cl, const char *addr)
{
    struct link *lk = cn_map_get(&cl->out_links, cn_str_from(addr));
    if (lk && lk->alive) return lk;
    struct net_conn *c = net_connect(cl->loop, addr, &link_handler, cl);
    if (!c) return NULL;
    lk = link_new(cl, c, true);
    snprintf(lk->addr, sizeof lk->addr, "%s", addr);
    cn_map_put(&cl->out_links, cn_str_from(addr), lk);
    return lk;
}

static void on_accept_frame(void *ctx, struct net_conn *c, uint8_t type, const uint8_t *p, size_t n)
{
    struct cluster *cl = ctx;
    if (!net_get_data(c)) link_new(cl, c, false);
    on_frame(ctx, c, type, p, n);
}

static const struct net_handler accept_handler = {.on_frame = on_accept_frame,
                                                  .on_close = on_link_close};

/* ---- pending requests ----------------------------------------------- */

static struct pending *pending_new(struct cluster *cl, int kind, struct link *lk)
{
    struct pending *pd = CN_NEW(struct pending);
    pd->id = ++cl->next_id;
    pd->kind = kind;
    pd->lk = lk;
    lk->refs++;
    cn_list_insert_tail(&cl->pendings, &pd->node);
    return pd;
}

static void pending_free(struct pending *pd)
{
    free(pd->rt);
    cn_list_remove(&pd->node);
    link_unref(pd->lk);
    free(pd);
}

static struct pending *pending_find(struct cluster *cl, uint64_t id)
{
    struct cn_list *l;
    cn_list_foreach(l, &cl->pendings)
    {
        struct pending *pd = cn_list_entry(l, struct pending, node);
        if (pd->id == id) return pd;
    }
    return NULL;
}

static void route_again(struct cluster *cl, struct http_req *r, struct route_try *rt);

static void fail_pending_of(struct cluster *cl, struct link *lk)
{
    struct cn_list *l, *tmp;
    cn_list_foreach_safe(l, tmp, &cl->pendings)
    {
        struct pending *pd = cn_list_entry(l, struct pending, node);
        if (pd->lk != lk) continue;
        if (pd->kind == F_APPLY) {
            /* The command may or may not have reached the leader's log:
             * say so, unlike a refusal ("No cluster leader"). */
            struct rpc_result res = {.text = "rpc error making call: EOF"};
            pd->applied(pd->arg, CN_EIO, &res);
        } else {
            struct http_req *r = pd->req;
            struct route_try *rt = pd->rt;
            bool again = rt && rt->ntried < ROUTE_TRIES_MAX && !cl->closing &&
                         uv_now(cl->loop) - rt->started_ms < ROUTE_HOLD_MS &&
                         (pd->sent_unconnected || r->method == M_GET || r->method == M_HEAD);
            r->cancel = NULL;
            if (again) {
                pd->rt = NULL;
                pending_free(pd);
                route_again(cl, r, rt);
                continue;
            }
            http_reply_text(r, 500, "rpc error making call: EOF");
        }
        pending_free(pd);
    }
}

/* ---- frames ---------------------------------------------------------- */

static void send_apply_resp(struct link *lk, uint64_t id, int rc, const struct rpc_result *res)
{
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_enc_u64(&b, id);
    cn_enc_svar(&b, rc);
    cn_enc_uvar(&b, res ? res->index : 0);
    cn_enc_bool(&b, res ? res->ok : false);
    cn_enc_cstr(&b, res && res->text ? res->text : "");
    if (lk->alive) net_send(lk->c, F_APPLY_RESP, b.data, b.len);
    cn_buf_release(&b);
}

struct apply_ctx {
    struct link *lk;
    uint64_t id;
};

static void remote_applied(void *arg, int rc, struct rpc_result *res)
{
    struct apply_ctx *a = arg;
    send_apply_resp(a->lk, a->id, rc, res);
    link_unref(a->lk);
    free(a);
}

static void handle_apply(struct cluster *cl, struct link *lk, struct cn_dec *d)
{
    uint64_t id = cn_dec_u64(d);
    struct cn_str cmd = cn_dec_bytes(d, NET_FRAME_MAX);
    if (cn_dec_status(d)) return;
    if (!cl->srv) {
        send_apply_resp(lk, id, CN_ENOLEADER, NULL);
        return;
    }
    struct apply_ctx *a = CN_NEW(struct apply_ctx);
    a->lk = lk;
    a->id = id;
    lk->refs++;
    /* A follower passes it on to the leader it knows. */
    server_apply_local(cl->srv, cmd.p, cmd.len, remote_applied, a);
}

static void handle_apply_resp(struct cluster *cl, struct cn_dec *d)
{
    uint64_t id = cn_dec_u64(d);
    int rc = (int)cn_dec_svar(d);
    struct rpc_result res = {.index = cn_dec_uvar(d)};
    res.ok = cn_dec_bool(d);
    char *text = cn_dec_cstr(d, 65536);
    struct pending *pd = pending_find(cl, id);
    if (!cn_dec_status(d) && pd && pd->kind == F_APPLY) {
        res.text = text && *text ? text : NULL;
        pd->applied(pd->arg, rc, &res);
        pending_free(pd);
    }
    free(text);
}

struct tunnel_done_ctx {
    struct cluster *cl;
    struct tunnel *tn;
};

static void tunnel_done(void *arg, const void *resp, size_t len)
{
    struct tunnel *tn = arg;
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_enc_u64(&b, tn->id);
    cn_enc_bytes(&b, resp, len);
    if (tn->lk->alive && net_send(tn->lk->c, F_HTTP_RESP, b.data, b.len) == CN_ETOOBIG) {
        /* an answer bigger than a frame cannot cross: say so rather than
         * leave the requester waiting */
        static const char msg[] = "answer too large to forward between servers: ask the "
                                  "server that holds the data directly";
        char err[256];
        int n = snprintf(err, sizeof err,
                         "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain; "
                         "charset=utf-8\r\nContent-Length: %zu\r\n\r\n%s",
                         sizeof msg - 1, msg);
        cn_buf_reset(&b);
        cn_enc_u64(&b, tn->id);
        cn_enc_bytes(&b, err, (size_t)n);
        net_send(tn->lk->c, F_HTTP_RESP, b.data, b.len);
    }
    cn_buf_release(&b);
    cn_list_remove(&tn->node);
    link_unref(tn->lk);
    free(tn);
}

static void handle_http(struct cluster *cl, struct link *lk, struct cn_dec *d)
{
    uint64_t id = cn_dec_u64(d);
    int hops = cn_dec_u8(d);
    char *ip = cn_dec_cstr(d, 64);
    struct cn_str req = cn_dec_bytes(d, NET_FRAME_MAX);
    if (cn_dec_status(d) || !cl->http) {
        free(ip);
        return;
    }
    struct tunnel *tn = CN_NEW(struct tunnel);
    tn->id = id;
    tn->lk = lk;
    lk->refs++;
    cn_list_insert_tail(&cl->tunnels, &tn->node);
    /* done() may run before inject returns (a synchronous answer). */
    struct http_tunnel *t = http_server_inject(cl->http, req.p, req.len, ip, hops, tunnel_done, tn);
    if (t) tn->t = t;
    free(ip);
}

static void handle_http_cancel(struct cluster *cl, struct link *lk, struct cn_dec *d)
{
    uint64_t id = cn_dec_u64(d);
    struct cn_list *l;
    if (cn_dec_status(d)) return;
    cn_list_foreach(l, &cl->tunnels)
    {
        struct tunnel *tn = cn_list_entry(l, struct tunnel, node);
        if (tn->id != id || tn->lk != lk) continue;
        if (tn->t) http_tunnel_cancel(tn->t);
        cn_list_remove(&tn->node);
        link_unref(tn->lk);
        free(tn);
        return;
    }
}

static void cancel_tunnels_of(struct cluster *cl, struct link *lk)
{
    struct cn_list *l, *tmp;
    cn_list_foreach_safe(l, tmp, &cl->tunnels)
    {
        struct tunnel *tn = cn_list_entry(l, struct tunnel, node);
        if (tn->lk != lk) continue;
        if (tn->t) http_tunnel_cancel(tn->t);
        cn_list_remove(&tn->node);
        link_unref(tn->lk);
        free(tn);
    }
}

static void handle_http_resp(struct cluster *cl, struct cn_dec *d)
{
    uint64_t id = cn_dec_u64(d);
    struct cn_str resp = cn_dec_bytes(d, NET_FRAME_MAX);
    struct pending *pd = pending_find(cl, id);
    if (cn_dec_status(d) || !pd || pd->kind != F_HTTP) return;
    struct http_req *r = pd->req;
    pending_free(pd);
    r->cancel = NULL;
    http_reply_passthrough(r, resp.p, resp.len);
}

static void on_frame(void *ctx, struct net_conn *c, uint8_t type, const uint8_t *p, size_t n)
{
    struct cluster *cl = ctx;
    struct link *lk = net_get_data(c);
    struct cn_dec d;
    if (cl->closing || !lk) return;
    lk->last_rx = uv_now(cl->loop);
    cn_dec_init(&d, p, n);
    switch (type) {
    case F_PING: break;
    case F_RAFT:
        if (cl->srv) server_raft_recv(cl->srv, p, n);
        break;
    case F_APPLY: handle_apply(cl, lk, &d); break;
    case F_APPLY_RESP: handle_apply_resp(cl, &d); break;
    case F_HTTP: handle_http(cl, lk, &d); break;
    case F_HTTP_RESP: handle_http_resp(cl, &d); break;
    case F_HTTP_CANCEL: handle_http_cancel(cl, lk, &d); break;
    default: CN_DEBUG("cluster", "unknown frame type %u from %s", type, net_peer(c)); break;
    }
}

static void on_keepalive(uv_timer_t *t)
{
    struct cluster *cl = t->data;
    uint64_t now = uv_now(cl->loop);
    struct cn_list *l, *tmp;
    cn_list_foreach_safe(l, tmp, &cl->links)
    {
        struct link *lk = cn_list_entry(l, struct link, node);
        if (!lk->alive) continue;
        if (net_is_connected(lk->c) && now - lk->last_rx > LINK_DEAD_MS) {
            CN_WARN("cluster", "no traffic from %s for %d s: closing the connection", lk->addr,
                    LINK_DEAD_MS / 1000);
            net_close(lk->c);
        } else if (!net_is_connected(lk->c) && now - lk->last_rx > LINK_DEAD_MS) {
            net_close(lk->c); /* still connecting: the address is unreachable */
        } else if (now - lk->last_tx >= KEEPALIVE_MS) {
            lk->last_tx = now;
            net_send(lk->c, F_PING, NULL, 0);
        }
    }
}

/* ---- server hooks --------------------------------------------------- */

struct srv_info *cluster__server_by_id(struct cluster *cl, raft_id id)
{
    struct cn_map_iter it;
    void *v;
    cn_map_iter_init(&it, &cl->servers);
    while (cn_map_iter_next(&it, NULL, &v))
        if (((struct srv_info *)v)->id == id) return v;
    return NULL;
}

static void hook_raft_send(void *ctx, raft_id to, const void *msg, size_t len)
{
    struct cluster *cl = ctx;
    struct srv_info *si = cluster__server_by_id(cl, to);
    if (!si) return; /* unknown address yet: Raft retransmits */
    struct link *lk = cluster__link_to(cl, si->rpc_addr);
    if (lk) net_send(lk->c, F_RAFT, msg, len);
}

static void forward_apply_to(struct cluster *cl, const char *addr, const void *cmd, size_t len,
                             rpc_applied_fn applied, void *arg)
{
    struct link *lk = addr ? cluster__link_to(cl, addr) : NULL;
    if (!lk) {
        struct rpc_result res = {0};
        applied(arg, cl->cfg.server ? CN_ENOLEADER : CN_ENOSERVERS, &res);
        return;
    }
    struct pending *pd = pending_new(cl, F_APPLY, lk);
    pd->applied = applied;
    pd->arg = arg;
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_enc_u64(&b, pd->id);
    cn_enc_bytes(&b, cmd, len);
    net_send(lk->c, F_APPLY, b.data, b.len);
    cn_buf_release(&b);
}

static void hook_forward_apply(void *ctx, raft_id leader, const void *cmd, size_t len,
                               rpc_applied_fn applied, void *arg)
{
    struct cluster *cl = ctx;
    struct srv_info *si = cluster__server_by_id(cl, leader);
    forward_apply_to(cl, si ? si->rpc_addr : NULL, cmd, len, applied, arg);
}

static const char *hook_addr_of(void *ctx, raft_id id)
{
    struct srv_info *si = cluster__server_by_id(ctx, id);
    return si ? si->rpc_addr : NULL;
}

static void leader_reconcile_all(struct cluster *cl);

static void hook_leadership(void *ctx, bool leader)
{
    struct cluster *cl = ctx;
    if (leader) leader_reconcile_all(cl);
    if (cl->leader_fn) cl->leader_fn(cl->leader_ctx, leader);
}

const struct server_hooks *cluster_server_hooks(struct cluster *cl)
{
    cl->hooks = (struct server_hooks){.ctx = cl,
                                      .raft_send = hook_raft_send,
                                      .forward_apply = hook_forward_apply,
                                      .addr_of = hook_addr_of,
                                      .leadership = hook_leadership};
    return &cl->hooks;
}

/* ---- client agent backend ------------------------------------------- */

static struct srv_info *pick_server(struct cluster *cl)
{
    struct srv_info *alive[64];
    size_t n = 0;
    struct cn_map_iter it;
    void *v;
    cn_map_iter_init(&it, &cl->servers);
    while (cn_map_iter_next(&it, NULL, &v) && n < CN_ARRAY_SIZE(alive))
        if (((struct srv_info *)v)->alive) alive[n++] = v;
    return n ? alive[cn_rand_below(&cl->rand, n)] : NULL;
}

static void cli_apply(void *be, const void *cmd, size_t len, rpc_applied_fn applied, void *arg)
{
    struct cluster *cl = be;
    struct srv_info *si = pick_server(cl);
    forward_apply_to(cl, si ? si->rpc_addr : NULL, cmd, len, applied, arg);
}

static void cli_ready(void *be, enum rpc_mode mode, rpc_ready_fn ready, void *arg)
{
    (void)be;
    (void)mode;
    ready(arg, CN_ENOSERVERS);
}

static void cli_leader_info(void *be, bool *known, uint64_t *lc)
{
    struct cluster *cl = be;
    *known = pick_server(cl) != NULL;
    *lc = 0;
}

static const char *cli_leader(void *be)
{
    (void)be;
    return "";
}

static size_t cli_peers(void *be, const char **out, size_t max)
{
    (void)be;
    (void)out;
    (void)max;
    return 0;
}

static struct rpc_timer *cli_timer_start(void *be, uint64_t ms, rpc_timer_fn fn, void *arg)
{
    return server_loop_timer_start(((struct cluster *)be)->loop, ms, fn, arg);
}

static void cli_timer_stop(void *be, struct rpc_timer *t)
{
    (void)be;
    server_loop_timer_stop(t);
}

static uint64_t cli_random(void *be)
{
    struct cluster *cl = be;
    return cn_rand_u64(&cl->rand);
}

static const struct rpc_backend_ops client_ops = {
    .apply = cli_apply,
    .read_ready = cli_ready,
    .leader_info = cli_leader_info,
    .leader_addr = cli_leader,
    .peers = cli_peers,
    .timer_start = cli_timer_start,
    .timer_stop = cli_timer_stop,
    .random = cli_random,
};

const struct rpc_backend_ops *cluster_client_ops(void)
{
    return &client_ops;
}

/* ---- request routing ------------------------------------------------ */

static void cancel_forward(struct http_req *r)
{
    struct pending *pd = r->cancel_arg;
    struct cn_buf b;
    cn_buf_init(&b, 16);
    cn_enc_u64(&b, pd->id);
    if (pd->lk->alive) net_send(pd->lk->c, F_HTTP_CANCEL, b.data, b.len);
    cn_buf_release(&b);
    pending_free(pd);
}

void cluster__forward_http(struct cluster *cl, struct http_req *r, const char *addr,
                           struct route_try *rt)
{
    struct link *lk = cluster__link_to(cl, addr);
    if (!lk) {
        free(rt);
        http_reply_text(r, 500, "rpc error: no route to %s", addr);
        return;
    }
    struct pending *pd = pending_new(cl, F_HTTP, lk);
    pd->req = r;
    pd->rt = rt;
    pd->sent_unconnected = !net_is_connected(lk->c);
    if (rt && rt->ntried < ROUTE_TRIES_MAX)
        snprintf(rt->tried[rt->ntried++], sizeof rt->tried[0], "%s", addr);
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_enc_u64(&b, pd->id);
    cn_enc_u8(&b, (uint8_t)(r->hops + 1));
    cn_enc_cstr(&b, r->remote_ip ? r->remote_ip : "");
    struct cn_buf req;
    cn_buf_init(&req, CN_BUF_UNLIMITED);
    http_request_bytes(r, &req);
    cn_enc_bytes(&b, req.data, req.len);
    cn_buf_release(&req);
    if (net_send(lk->c, F_HTTP, b.data, b.len) == CN_ETOOBIG) {
        pending_free(pd);
        cn_buf_release(&b);
        http_reply_text(r, 413, "Request body too large to forward between servers");
        return;
    }
    r->cancel = cancel_forward;
    r->cancel_arg = pd;
    cn_buf_release(&b);
}

/* A client agent's request: to a server of its datacenter, chosen at random
 * among those gossip shows alive and not yet tried for this request. */
static void route_to_server(struct cluster *cl, struct http_req *r, struct route_try *rt)
{
    struct srv_info *alive[64];
    size_t n = 0;
    struct cn_map_iter it;
    void *v;
    do {
        cn_map_iter_init(&it, &cl->servers);
        while (cn_map_iter_next(&it, NULL, &v) && n < CN_ARRAY_SIZE(alive)) {
            struct srv_info *si = v;
            if (si->alive && !route_tried(rt, si->rpc_addr)) alive[n++] = si;
        }
    } while (!n && route_new_round(rt));
    if (!n) {
        free(rt);
        http_reply_text(r, 500, "No known Consul servers");
        return;
    }
    struct srv_info *si = alive[cn_rand_below(&cl->rand, n)];
    if (rt && rt->ntried) CN_INFO("cluster", "retrying the request on server %s", si->rpc_addr);
    cluster__forward_http(cl, r, si->rpc_addr, rt);
}

static struct route_try *route_try_new(struct cluster *cl)
{
    struct route_try *rt = CN_NEW(struct route_try);
    rt->started_ms = uv_now(cl->loop);
    return rt;
}

static void route_again(struct cluster *cl, struct http_req *r, struct route_try *rt)
{
    if (rt->dc[0])
        cluster__route_remote(cl, r, rt);
    else
        route_to_server(cl, r, rt);
}

/* A stale read this server may answer, unless it carries a max_stale its
 * last contact with the leader exceeds: then, as Consul's catalog, health
 * and prepared-query handlers do (their RETRY_ONCE), it is asked again in
 * default mode, which the leader answers (or which fails with "No cluster
 * leader" when this server knows none). Consul re-asks from the agent the
 * client asked, once the stale answer is back; judging here, before the
 * read, comes to the same for a read answered at once. A blocking read is
 * judged when it starts: one that parks here and is answered after this
 * server lost the leader keeps its stale answer (and its LastContact). */
static bool too_stale(struct cluster *cl, struct http_req *r)
{
    int64_t bound = http_max_stale_bound(r);
    if (!bound) return false;
    uint64_t lc = server_last_contact_ms(cl->srv);
    if (lc <= (uint64_t)bound / CN_NS_PER_MS) return false;
    if (lc == UINT64_MAX)
        CN_DEBUG("cluster", "no contact with a leader yet: %s asked in default mode", r->path);
    else
        CN_DEBUG("cluster", "last contact %" PRIu64 " ms is above max_stale: %s asked in default mode",
                 lc, r->path);
    http_read_in_default_mode(r);
    return true;
}

int cluster_route_request(void *ctx, struct http_req *r)
{
    struct cluster *cl = ctx;
    const char *dc = http_param(r, "dc");
    /* ACL writes of a secondary datacenter belong to the primary */
    if (cl->cfg.server && (!dc || !*dc || !strcmp(dc, cl->cfg.datacenter)) &&
        cluster_acl_route(&cl->cfg, r, &dc) < 0)
        return 1;
    if (dc && *dc && strcmp(dc, cl->cfg.datacenter)) {
        if (r->hops >= HOPS_MAX + 1) { /* datacenters that disagree on names */
            http_reply_text(r, 500, "No path to datacenter");
            return 1;
        }
        struct route_try *rt = route_try_new(cl);
        snprintf(rt->dc, sizeof rt->dc, "%s", dc);
        if (!cl->cfg.server) /* our servers forward it across */
            memset(rt->dc, 0, sizeof rt->dc);
        route_again(cl, r, rt);
        return 1;
    }
    if (r->hops >= HOPS_MAX) return 0;
    if (!cl->cfg.server) {
        route_to_server(cl, r, route_try_new(cl));
        return 1;
    }
    if (http_read_allows_stale(r) && !too_stale(cl, r)) return 0;
    if (server_is_leader(cl->srv)) return 0;
    struct srv_info *leader = cluster__server_by_id(cl, server_leader_id(cl->srv));
    /* No leader known: answer here, which fails with "No cluster leader". */
    if (!leader) return 0;
    cluster__forward_http(cl, r, leader->rpc_addr, NULL);
    return 1;
}

/* ---- gossip ---------------------------------------------------------- */

static void maybe_bootstrap(struct cluster *cl)
{
    raft_id ids[RAFT_SERVERS_MAX];
    size_t n = 0;
    if (!cl->srv || cl->cfg.bootstrap_expect < 2 || cl->bootstrap_tried) return;
    if (server_has_raft_data(cl->srv)) {
        cl->bootstrap_tried = true;
        return;
    }
    struct cn_map_iter it;
    void *v;
    cn_map_iter_init(&it, &cl->servers);
    while (cn_map_iter_next(&it, NULL, &v) && n < RAFT_SERVERS_MAX) {
        struct srv_info *si = v;
        if (si->alive) ids[n++] = si->id;
    }
    if ((int)n < cl->cfg.bootstrap_expect) return;
    cl->bootstrap_tried = true;
    CN_INFO("cluster", "found %zu servers (bootstrap_expect=%d): bootstrapping Raft", n,
            cl->cfg.bootstrap_expect);
    int rc = server_bootstrap(cl->srv, ids, n);
    if (rc) CN_WARN("cluster", "Raft bootstrap: %s", cn_strerror(rc));
}

/* The leader keeps Raft's membership in step with the servers gossip sees:
 * a new server joins as a learner and is promoted once caught up; one that
 * left gracefully is removed. */
static void leader_reconcile_server(struct cluster *cl, const struct gossip_member *m,
                                    struct srv_info *si)
{
    if (!cl->srv || !server_is_leader(cl->srv) || si->id == server_raft_id(cl->srv)) return;
    const struct raft_config *c = server_raft_config(cl->srv);
    const struct raft_server *rs = raft_config_get(c, si->id);
    if (m->status == GOSSIP_STATUS_ALIVE && (!rs || rs->role != RAFT_VOTER)) {
        int rc = server_raft_change(cl->srv, RAFT_ADD_VOTER, si->id);
        if (rc == 0) CN_INFO("cluster", "adding server %s to Raft", m->name);
    } else if (m->status == GOSSIP_STATUS_LEFT && rs) {
        int rc = server_raft_change(cl->srv, RAFT_REMOVE, si->id);
        if (rc == 0) CN_INFO("cluster", "removing server %s from Raft (left)", m->name);
    }
}

static void track_server(struct cluster *cl, const struct gossip_member *m)
{
    const char *role = gossip_member_tag(m, "role"), *dc = gossip_member_tag(m, "dc");
    const char *id = gossip_member_tag(m, "id"), *port = gossip_member_tag(m, "port");
    if (!role || strcmp(role, "consul") || !dc || strcmp(dc, cl->cfg.datacenter) || !id || !port)
        return;
    struct srv_info *si = cn_map_get(&cl->servers, cn_str_from(m->name));
    if (!si) {
        si = CN_NEW(struct srv_info);
        snprintf(si->name, sizeof si->name, "%s", m->name);
        cn_map_put(&cl->servers, cn_str_from(m->name), si);
    }
    char ip[64];
    gossip_addr_format_ip(&m->addr, ip, sizeof ip);
    snprintf(si->rpc_addr, sizeof si->rpc_addr, m->addr.family == 6 ? "[%s]:%s" : "%s:%s", ip, port);
    si->id = raftnode_id_of(id);
    snprintf(si->node_id, sizeof si->node_id, "%s", id);
    const char *expect = gossip_member_tag(m, "expect");
    si->expect = expect ? atoi(expect) : 0;
    bool was_alive = si->alive;
    si->alive = m->status == GOSSIP_STATUS_ALIVE;
    si->status = m->status;
    if (was_alive && !si->alive) {
        /* Gossip gave up on it: requests waiting on its connection would
         * otherwise hang until TCP gives up (minutes). */
        struct link *lk = cn_map_get(&cl->out_links, cn_str_from(si->rpc_addr));
        if (lk && lk->alive) net_close(lk->c);
    }
    maybe_bootstrap(cl);
    leader_reconcile_server(cl, m, si);
}

/* A new leader brings Raft's membership in line with every server gossip
 * knows (one that joined while another server led may be missing). */
static void leader_reconcile_all(struct cluster *cl)
{
    if (!cl->lan) return;
    const struct gossip *g = gossip_io_core(cl->lan);
    size_t n = gossip_num_members(g);
    for (size_t i = 0; i < n; i++) {
        struct gossip_member m;
        gossip_member_at(g, i, &m);
        struct srv_info *si = cn_map_get(&cl->servers, cn_str_from(m.name));
        if (si) leader_reconcile_server(cl, &m, si);
    }
}

static void on_member(void *ctx, const struct gossip_member_change *c)
{
    struct cluster *cl = ctx;
    track_server(cl, &c->member);
    cluster__wan_flood(cl, &c->member);
    cluster__snap_changed(cl);
    if (cl->member_fn) cl->member_fn(cl->member_ctx, c);
}

static void on_wan_member(void *ctx, const struct gossip_member_change *c)
{
    (void)c;
    cluster__snap_changed(ctx);
}

static void on_event(void *ctx, const struct gossip_user_event *e)
{
    struct cluster *cl = ctx;
    if (cl->event_fn) cl->event_fn(cl->event_ctx, e);
}

static void schedule_retry(struct cluster *cl);

static void on_join(void *ctx, const struct gossip_join_result *r)
{
    struct cluster *cl = ctx;
    if (cluster__wan_join_result(cl, r)) return;
    if (r->token == CLUSTER_SNAP_JOIN_TOKEN) {
        if (r->rc == 0) CN_INFO("agent", "rejoined %u members of the previous run", r->contacted);
        return;
    }
    if (r->token == CLUSTER_RETRY_JOIN_TOKEN) {
        if (r->rc == 0) {
            CN_INFO("agent", "Join cluster completed. Synced with %u initial agents", r->contacted);
        } else {
            CN_WARN("agent", "Join cluster failed, will retry: retry_interval=%llds error=%s",
                    (long long)(cl->cfg.retry_interval_ns / CN_NS_PER_S), r->error);
            schedule_retry(cl);
        }
        return;
    }
    if (cl->join_done) {
        cluster_join_fn fn = cl->join_done;
        cl->join_done = NULL;
        fn(cl->join_ctx, (int)r->contacted, r->rc, r->error);
    }
}

static void on_left(void *ctx)
{
    struct cluster *cl = ctx;
    if (cl->leave_done) {
        void (*fn)(void *) = cl->leave_done;
        cl->leave_done = NULL;
        fn(cl->leave_ctx);
    }
}

static void retry_join_now(struct cluster *cl)
{
    struct cn_err err;
    if (!cl->cfg.n_retry_join || !cl->lan) return;
    cl->retry_attempts++;
    CN_INFO("agent", "Joining cluster...: cluster=LAN");
    if (gossip_io_join(cl->lan, cl->cfg.retry_join, cl->cfg.n_retry_join, CLUSTER_RETRY_JOIN_TOKEN,
                       true, &err))
        schedule_retry(cl);
}

static void on_retry(uv_timer_t *t)
{
    retry_join_now(t->data);
}

static void schedule_retry(struct cluster *cl)
{
    if (cl->closing) return;
    if (cl->cfg.retry_max && cl->retry_attempts >= cl->cfg.retry_max) {
        CN_ERROR("agent", "max join retry exhausted, exiting");
        return;
    }
    uint64_t ms = (uint64_t)(cl->cfg.retry_interval_ns / CN_NS_PER_MS);
    uv_timer_start(&cl->retry, on_retry, ms ? ms : 30000, 0);
}

static int start_pool(struct cluster *cl, bool wan, struct cn_err *err)
{
    struct gossip_io_config c;
    struct gossip_tag tags[16];
    size_t n = 0;
    char port[16], expect[16], name[256], wan_port[16];
    gossip_io_config_init(&c);
    snprintf(port, sizeof port, "%d", cl->cfg.server_port);
    snprintf(expect, sizeof expect, "%d", cl->cfg.bootstrap_expect);
    tags[n++] = (struct gossip_tag){"role", cl->cfg.server ? "consul" : "node"};
    tags[n++] = (struct gossip_tag){"dc", cl->cfg.datacenter};
    tags[n++] = (struct gossip_tag){"id", cl->cfg.node_id};
    tags[n++] = (struct gossip_tag){"segment", ""};
    tags[n++] = (struct gossip_tag){"vsn", "2"};
    tags[n++] = (struct gossip_tag){"vsn_min", "2"};
    tags[n++] = (struct gossip_tag){"vsn_max", "3"};
    tags[n++] = (struct gossip_tag){"build", cl->cfg.build ? cl->cfg.build : ""};
    if (cl->cfg.server) {
        tags[n++] = (struct gossip_tag){"port", port};
        tags[n++] = (struct gossip_tag){"raft_vsn", "3"};
        if (cl->cfg.serf_wan_port > 0 && !cl->cfg.dev) {
            snprintf(wan_port, sizeof wan_port, "%d", cl->cfg.serf_wan_port);
            tags[n++] = (struct gossip_tag){"wan_join_port", wan_port};
        }
        if (cl->cfg.bootstrap) tags[n++] = (struct gossip_tag){"bootstrap", "1"};
        if (cl->cfg.bootstrap_expect) tags[n++] = (struct gossip_tag){"expect", expect};
    }
    snprintf(name, sizeof name, wan ? "%s.%s" : "%s", cl->cfg.node_name, cl->cfg.datacenter);
    c.core.name = name;
    c.core.tags = tags;
    c.core.n_tags = n;
    int sport = wan ? cl->cfg.serf_wan_port : cl->cfg.serf_lan_port;
    const char *adv = wan && cl->cfg.advertise_wan ? cl->cfg.advertise_wan : cl->cfg.advertise;
    if (gossip_addr_parse(cn_str_from(adv), (uint16_t)sport, &c.core.addr) ||
        gossip_addr_parse(cn_str_from(cl->cfg.bind), (uint16_t)sport, &c.bind))
        return cn_err_set(err, CN_EINVAL, "bad gossip address %s / %s", adv, cl->cfg.bind);
    c.core.addr.port = (uint16_t)sport;
    c.bind.port = (uint16_t)sport;
    c.default_port = (uint16_t)(wan ? 8302 : 8301);
    const struct gossip_timing *tuned = wan ? &cl->cfg.timing_wan : &cl->cfg.timing_lan;
    if (tuned->probe_interval_ms)
        c.core.timing = *tuned;
    else
        gossip_timing_default(&c.core.timing, wan ? GOSSIP_PROFILE_WAN
                                                  : cl->cfg.dev ? GOSSIP_PROFILE_DEV
                                                                : GOSSIP_PROFILE_LAN);
    struct gossip_key keys[GOSSIP_KEYS_MAX];
    if (cluster__keyring_load(cl, wan, keys, &c.core.n_keys, err)) return err->code;
    c.core.keys = keys;
    c.core.verify_incoming = cl->cfg.verify_incoming;
    c.core.verify_outgoing = cl->cfg.verify_outgoing;
    c.core.coordinates = !cl->cfg.disable_coordinates;
    c.cb = (struct gossip_io_callbacks){
        .ctx = cl, .member = wan ? on_wan_member : on_member, .event = wan ? NULL : on_event,
        .join = on_join, .left = wan ? NULL : on_left, .key_result = cluster__key_result,
        .keyring = wan ? cluster__keyring_changed_wan : cluster__keyring_changed_lan};
    int rc = gossip_io_start(cl->loop, &c, wan ? &cl->wan : &cl->lan, err);
    if (rc) cn_err_wrap(err, "starting the %s gossip pool on port %d", wan ? "WAN" : "LAN", sport);
    return rc;
}

/* ---- lifecycle ------------------------------------------------------ */

static const char *keep(struct cluster *cl, int slot, const char *s)
{
    if (!s) return NULL;
    cl->strs[slot] = cn_strdup(s);
    return cl->strs[slot];
}

int cluster_new(uv_loop_t *loop, const struct cluster_config *cfg, struct cluster **out,
                struct cn_err *err)
{
    struct cluster *cl = CN_NEW(struct cluster);
    (void)err;
    cl->loop = loop;
    cl->cfg = *cfg;
    cl->cfg.node_name = keep(cl, 0, cfg->node_name);
    cl->cfg.node_id = keep(cl, 1, cfg->node_id);
    cl->cfg.datacenter = keep(cl, 2, cfg->datacenter);
    cl->cfg.advertise = keep(cl, 3, cfg->advertise);
    cl->cfg.advertise_wan = keep(cl, 4, cfg->advertise_wan);
    cl->cfg.bind = keep(cl, 5, cfg->bind);
    cl->cfg.encrypt = keep(cl, 6, cfg->encrypt);
    cl->cfg.build = keep(cl, 7, cfg->build);
    cl->cfg.data_dir = keep(cl, 8, cfg->data_dir);
    cl->cfg.primary_datacenter = keep(cl, 9, cfg->primary_datacenter);
    cn_map_init(&cl->out_links);
    cn_map_init(&cl->servers);
    cn_list_init(&cl->links);
    cn_list_init(&cl->pendings);
    cn_list_init(&cl->tunnels);
    cn_list_init(&cl->key_waits);
    cn_rand_seed(&cl->rand, cn_rand_os_u64());
    uv_timer_init(loop, &cl->retry);
    cl->retry.data = cl;
    uv_timer_init(loop, &cl->retry_wan);
    cl->retry_wan.data = cl;
    uv_timer_init(loop, &cl->snap_timer);
    cl->snap_timer.data = cl;
    uv_timer_init(loop, &cl->autopilot);
    cl->autopilot.data = cl;
    uv_timer_init(loop, &cl->keepalive);
    cl->keepalive.data = cl;
    uv_timer_start(&cl->keepalive, on_keepalive, KEEPALIVE_MS / 2, KEEPALIVE_MS / 2);
    *out = cl;
    return 0;
}

int cluster_start(struct cluster *cl, struct server *srv, struct http_server *http,
                  struct cn_err *err)
{
    int rc;
    cl->srv = srv;
    cl->http = http;
    if (srv && (rc = net_listen(cl->loop, cl->cfg.bind, cl->cfg.server_port, &accept_handler, cl,
                                &cl->listener, err)))
        return cn_err_wrap(err, "server RPC port");
    if ((rc = start_pool(cl, false, err))) return rc;
    if (srv && !cl->cfg.dev && cl->cfg.serf_wan_port > 0 && (rc = start_pool(cl, true, err)))
        return rc;
    cluster__snap_rejoin(cl);
    cluster__autopilot_start(cl);
    retry_join_now(cl);
    cluster__wan_retry_join(cl);
    return 0;
}

static void pool_closed(void *ctx)
{
    (void)ctx;
}

void cluster_close(struct cluster *cl)
{
    if (!cl || cl->closing) return;
    cl->closing = true;
    uv_timer_stop(&cl->retry);
    uv_close((uv_handle_t *)&cl->retry, NULL);
    uv_timer_stop(&cl->retry_wan);
    uv_close((uv_handle_t *)&cl->retry_wan, NULL);
    cluster__snap_close(cl);
    cluster__autopilot_stop(cl);
    uv_timer_stop(&cl->keepalive);
    uv_close((uv_handle_t *)&cl->keepalive, NULL);
    if (cl->listener) net_listener_close(cl->listener);
    if (cl->lan) gossip_io_close(cl->lan, pool_closed, cl);
    if (cl->wan) gossip_io_close(cl->wan, pool_closed, cl);
    struct cn_list *l, *tmp;
    cn_list_foreach_safe(l, tmp, &cl->links) net_close(cn_list_entry(l, struct link, node)->c);
    /* NEEDSWORK: the struct itself stays allocated until exit: link close
     * callbacks still reference it after this returns. */
}

/* ---- membership API ------------------------------------------------- */

void cluster_members(struct cluster *cl, bool wan, cluster_member_fn fn, void *ctx)
{
    struct gossip_io *io = wan ? cl->wan : cl->lan;
    if (!io) return;
    const struct gossip *g = gossip_io_core(io);
    size_t n = gossip_num_members(g);
    for (size_t i = 0; i < n; i++) {
        struct gossip_member m;
        gossip_member_at(g, i, &m);
        fn(ctx, &m);
    }
}

bool cluster_coord_self(struct cluster *cl, bool wan, struct gossip_coord *out)
{
    struct gossip_io *io = cl ? (wan ? cl->wan : cl->lan) : NULL;
    return io && gossip_coord_self(gossip_io_core(io), out);
}

bool cluster_coord_get(struct cluster *cl, bool wan, const char *member, struct gossip_coord *out)
{
    struct gossip_io *io = cl ? (wan ? cl->wan : cl->lan) : NULL;
    return io && gossip_coord_get(gossip_io_core(io), member, out);
}

int cluster_join(struct cluster *cl, const char *const *addrs, size_t n, bool wan,
                 cluster_join_fn done, void *ctx, struct cn_err *err)
{
    struct gossip_io *io = wan ? cl->wan : cl->lan;
    if (!io) return cn_err_set(err, CN_EINVAL, wan ? "WAN join requires a server" : "gossip is off");
    cl->join_done = done;
    cl->join_ctx = ctx;
    return gossip_io_join(io, addrs, n, CLUSTER_USER_JOIN_TOKEN, false, err);
}

int cluster_leave(struct cluster *cl, void (*done)(void *ctx), void *ctx)
{
    cl->leave_done = done;
    cl->leave_ctx = ctx;
    cluster__snap_forget(cl);
    if (cl->wan) gossip_io_leave(cl->wan);
    if (!cl->lan) {
        on_left(cl);
        return 0;
    }
    return gossip_io_leave(cl->lan);
}

int cluster_force_leave(struct cluster *cl, const char *node, bool prune, bool wan,
                        struct cn_err *err)
{
    struct gossip_io *io = wan ? cl->wan : cl->lan;
    if (!io) return cn_err_set(err, CN_EINVAL, "gossip is off");
    return gossip_io_force_leave(io, node, prune, err);
}

int cluster_user_event(struct cluster *cl, struct cn_str name, struct cn_str payload,
                       struct cn_err *err)
{
    if (!cl->lan) return cn_err_set(err, CN_EINVAL, "gossip is off");
    return gossip_io_user_event(cl->lan, name, payload, false, err);
}

void cluster_set_event_handler(struct cluster *cl,
                               void (*fn)(void *ctx, const struct gossip_user_event *e), void *ctx)
{
    cl->event_fn = fn;
    cl->event_ctx = ctx;
}

void cluster_set_member_handler(struct cluster *cl,
                                void (*fn)(void *ctx, const struct gossip_member_change *c),
                                void *ctx)
{
    cl->member_fn = fn;
    cl->member_ctx = ctx;
}

void cluster_set_leadership_handler(struct cluster *cl, void (*fn)(void *ctx, bool leader),
                                    void *ctx)
{
    cl->leader_fn = fn;
    cl->leader_ctx = ctx;
}

size_t cluster_known_servers(const struct cluster *cl)
{
    return cn_map_count(&cl->servers);
}

bool cluster_server_info(struct cluster *cl, raft_id id, struct cluster_server *out)
{
    struct srv_info *si = cluster__server_by_id(cl, id);
    if (!si) return false;
    *out = (struct cluster_server){si->name, si->node_id, si->rpc_addr};
    return true;
}

raft_id cluster_server_lookup(struct cluster *cl, const char *addr, const char *node_id)
{
    struct cn_map_iter it;
    void *v;
    cn_map_iter_init(&it, &cl->servers);
    while (cn_map_iter_next(&it, NULL, &v)) {
        struct srv_info *si = v;
        if ((addr && !strcmp(si->rpc_addr, addr)) || (node_id && !strcmp(si->node_id, node_id)))
            return si->id;
    }
    return 0;
}
