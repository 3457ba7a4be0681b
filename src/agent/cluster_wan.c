/*
 * cluster_wan.c - the WAN pool: servers of every datacenter, and requests
 * for another datacenter routed to one of its servers.
 *
 * Nothing about remote servers is cached: the WAN pool's member list is
 * the truth and is read for each request (a handful of servers per
 * datacenter), so a server gossip declares failed stops being chosen the
 * moment gossip says so. Within a datacenter the nearest server by Vivaldi
 * WAN coordinates goes first; a request whose server fails before answering
 * moves to the next (reads always; writes only if they never left).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cluster_int.h"
#include "http/http_int.h"
#include "lib/cn_common.h"
#include "lib/cn_log.h"
#include "lib/cn_time.h"

#define CANDIDATES_MAX 64

struct candidate {
    char addr[64];
    double rtt; /* seconds; INFINITY when either coordinate is unknown */
};

/* The RPC address of a server in the WAN pool, or false for anything else. */
static bool server_addr(const struct gossip_member *m, char *addr, size_t n)
{
    const char *role = gossip_member_tag(m, "role"), *port = gossip_member_tag(m, "port");
    if (!role || strcmp(role, "consul") || !port || !*port) return false;
    char ip[64];
    gossip_addr_format_ip(&m->addr, ip, sizeof ip);
    snprintf(addr, n, m->addr.family == 6 ? "[%s]:%s" : "%s:%s", ip, port);
    return true;
}

static double rtt_to(struct cluster *cl, const struct gossip_coord *self, bool have_self,
                     const char *member)
{
    struct gossip_coord c;
    if (!have_self || !cluster_coord_get(cl, true, member, &c)) return INFINITY;
    return gossip_coord_distance(self, &c);
}

static int by_rtt(const void *a, const void *b)
{
    const struct candidate *x = a, *y = b;
    if (x->rtt < y->rtt) return -1;
    if (x->rtt > y->rtt) return 1;
    return 0;
}

void cluster__route_remote(struct cluster *cl, struct http_req *r, struct route_try *rt)
{
    struct candidate v[CANDIDATES_MAX];
    size_t n = 0;
    struct gossip_coord self;
    bool have_self = cluster_coord_self(cl, true, &self);
    if (cl->wan && r->hops < 4) {
        const struct gossip *g = gossip_io_core(cl->wan);
        size_t total = gossip_num_members(g);
        do {
            for (size_t i = 0; i < total && n < CANDIDATES_MAX; i++) {
                struct gossip_member m;
                gossip_member_at(g, i, &m);
                const char *dc = gossip_member_tag(&m, "dc");
                if (!dc || strcmp(dc, rt->dc) || m.status != GOSSIP_STATUS_ALIVE) continue;
                if (!server_addr(&m, v[n].addr, sizeof v[n].addr)) continue;
                if (route_tried(rt, v[n].addr)) continue;
                v[n].rtt = rtt_to(cl, &self, have_self, m.name);
                n++;
            }
        } while (!n && route_new_round(rt));
    }
    if (!n) {
        free(rt);
        http_reply_text(r, 500, "No path to datacenter");
        return;
    }
    /* equal (unknown) distances keep a random order: spread the load */
    for (size_t i = n; i > 1; i--) {
        size_t j = cn_rand_below(&cl->rand, i);
        struct candidate t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
    qsort(v, n, sizeof v[0], by_rtt);
    if (rt->ntried)
        CN_INFO("cluster", "retrying the request for datacenter %s on server %s", rt->dc, v[0].addr);
    cluster__forward_http(cl, r, v[0].addr, rt);
}

/* ---- datacenters ------------------------------------------------------------- */

struct dc_rtts {
    char name[64];
    double rtt[CANDIDATES_MAX];
    size_t n;
};

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(struct dc_rtts *d)
{
    if (!d->n) return INFINITY;
    qsort(d->rtt, d->n, sizeof d->rtt[0], dbl_cmp);
    return d->rtt[d->n / 2];
}

struct dc_order {
    const char *name;
    double rtt;
};

static int by_order(const void *a, const void *b)
{
    const struct dc_order *x = a, *y = b;
    if (x->rtt != y->rtt) return x->rtt < y->rtt ? -1 : 1;
    return strcmp(x->name, y->name);
}

size_t cluster_datacenters(struct cluster *cl, char (*out)[64], size_t max)
{
    struct dc_rtts *dcs = calloc(CANDIDATES_MAX, sizeof *dcs);
    struct dc_order order[CANDIDATES_MAX];
    size_t ndc = 0;
    struct gossip_coord self;
    bool have_self = cluster_coord_self(cl, true, &self);
    snprintf(dcs[ndc++].name, sizeof dcs[0].name, "%s", cl->cfg.datacenter);
    if (cl->wan) {
        const struct gossip *g = gossip_io_core(cl->wan);
        size_t total = gossip_num_members(g);
        for (size_t i = 0; i < total; i++) {
            struct gossip_member m;
            gossip_member_at(g, i, &m);
            const char *dc = gossip_member_tag(&m, "dc");
            char addr[64];
            if (!dc || m.status == GOSSIP_STATUS_LEFT || !server_addr(&m, addr, sizeof addr))
                continue;
            size_t k = 0;
            while (k < ndc && strcmp(dcs[k].name, dc)) k++;
            if (k == ndc) {
                if (ndc == CANDIDATES_MAX) continue;
                snprintf(dcs[ndc++].name, sizeof dcs[0].name, "%s", dc);
            }
            double d = rtt_to(cl, &self, have_self, m.name);
            if (isfinite(d) && dcs[k].n < CANDIDATES_MAX) dcs[k].rtt[dcs[k].n++] = d;
        }
    }
    for (size_t k = 0; k < ndc; k++) {
        order[k].name = dcs[k].name;
        /* our own datacenter is where we are: nearest by definition */
        order[k].rtt = k == 0 ? -1 : median(&dcs[k]);
    }
    qsort(order, ndc, sizeof order[0], by_order);
    size_t n = CN_MIN(ndc, max);
    for (size_t k = 0; k < n; k++) snprintf(out[k], 64, "%s", order[k].name);
    free(dcs);
    return n;
}

/* ---- joining ----------------------------------------------------------------- */

/* Consul's WAN flood join: a server of our datacenter that gossip shows on
 * the LAN but that is not in the WAN pool is joined to it, so joining one
 * server of a datacenter to the WAN brings all of them. */
void cluster__wan_flood(struct cluster *cl, const struct gossip_member *m)
{
    const char *role = gossip_member_tag(m, "role"), *dc = gossip_member_tag(m, "dc");
    const char *port = gossip_member_tag(m, "wan_join_port");
    if (!cl->wan || cl->closing || m->status != GOSSIP_STATUS_ALIVE || !role ||
        strcmp(role, "consul") || !dc || strcmp(dc, cl->cfg.datacenter) || !port || !*port)
        return;
    char wan_name[300], ip[64], addr[96];
    snprintf(wan_name, sizeof wan_name, "%s.%s", m->name, dc);
    struct gossip_member w;
    if (gossip_member_get(gossip_io_core(cl->wan), wan_name, &w) == 0 &&
        w.status == GOSSIP_STATUS_ALIVE)
        return;
    gossip_addr_format_ip(&m->addr, ip, sizeof ip);
    snprintf(addr, sizeof addr, m->addr.family == 6 ? "[%s]:%s" : "%s:%s", ip, port);
    const char *addrs[] = {addr};
    struct cn_err err;
    CN_DEBUG("cluster", "flood-joining %s to the WAN pool at %s", m->name, addr);
    if (gossip_io_join(cl->wan, addrs, 1, CLUSTER_FLOOD_JOIN_TOKEN, true, &err))
        CN_DEBUG("cluster", "WAN flood join of %s: %s", m->name, err.msg);
}

static void on_wan_retry(uv_timer_t *t)
{
    cluster__wan_retry_join(t->data);
}

static void schedule_wan_retry(struct cluster *cl)
{
    if (cl->closing) return;
    if (cl->cfg.retry_max && cl->retry_wan_attempts >= cl->cfg.retry_max) {
        CN_ERROR("agent", "max join -wan retry exhausted, giving up on the WAN join");
        return;
    }
    uint64_t ms = (uint64_t)(cl->cfg.retry_interval_ns / CN_NS_PER_MS);
    uv_timer_start(&cl->retry_wan, on_wan_retry, ms ? ms : 30000, 0);
}

void cluster__wan_retry_join(struct cluster *cl)
{
    struct cn_err err;
    if (!cl->cfg.n_retry_join_wan || !cl->wan || cl->closing) return;
    cl->retry_wan_attempts++;
    CN_INFO("agent", "Joining cluster...: cluster=WAN");
    if (gossip_io_join(cl->wan, cl->cfg.retry_join_wan, cl->cfg.n_retry_join_wan, CLUSTER_WAN_JOIN_TOKEN,
                       true, &err))
        schedule_wan_retry(cl);
}

void cluster__wan_flood_all(struct cluster *cl)
{
    if (!cl->wan || !cl->lan) return;
    const struct gossip *g = gossip_io_core(cl->lan);
    size_t n = gossip_num_members(g);
    for (size_t i = 0; i < n; i++) {
        struct gossip_member m;
        gossip_member_at(g, i, &m);
        cluster__wan_flood(cl, &m);
    }
}

bool cluster__wan_join_result(struct cluster *cl, const struct gossip_join_result *r)
{
    if (r->rc == 0 && r->token != CLUSTER_FLOOD_JOIN_TOKEN) cluster__wan_flood_all(cl);
    if (r->token == CLUSTER_FLOOD_JOIN_TOKEN) return true; /* the next member change retries */
    if (r->token != CLUSTER_WAN_JOIN_TOKEN) return false;
    if (r->rc == 0) {
        CN_INFO("agent", "Join cluster completed. Synced with %u initial agents: cluster=WAN",
                r->contacted);
    } else {
        CN_WARN("agent", "Join cluster failed, will retry: cluster=WAN retry_interval=%llds error=%s",
                (long long)(cl->cfg.retry_interval_ns / CN_NS_PER_S), r->error);
        schedule_wan_retry(cl);
    }
    return true;
}
