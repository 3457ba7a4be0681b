/*
 * health.c - health reads: checks by node, by service, by state, and the
 * CheckServiceNode rows of a service, with ACL filtering (node:read and
 * service:read on each row) and ?filter applied after it.
 */
#include <string.h>

#include "lib/cn_common.h"
#include "rpc/rpc_coordinate.h"
#include "rpc/rpc_health.h"
#include "rpc/rpc_int.h"

void rpc_json_csn(struct cn_jw *w, const struct rpc_csn *row, const char *dc)
{
    cn_jw_obj_begin(w);
    cn_jw_key(w, "Node");
    rpc_json_node(w, row->node, dc);
    cn_jw_key(w, "Service");
    rpc_json_node_service(w, row->service);
    cn_jw_key(w, "Checks");
    cn_jw_arr_begin(w);
    for (size_t i = 0; i < row->nchecks; i++) rpc_json_health_check(w, row->checks[i]);
    cn_jw_arr_end(w);
    cn_jw_obj_end(w);
}

struct hrun {
    struct rpc_query *q;
    const struct rpc_health_req *req;
    struct rpc_health_resp *resp;
    struct state_store *st;
    const char *dc;
    size_t cap;
};

static void write_check(struct cn_jw *w, const void *obj)
{
    rpc_json_health_check(w, obj);
}

struct csn_ctx {
    const struct rpc_csn *row;
    const char *dc;
};

static void write_csn(struct cn_jw *w, const void *obj)
{
    const struct csn_ctx *c = obj;
    rpc_json_csn(w, c->row, c->dc);
}

/* Consul's filterHealthChecks: node:read, and service:read for a
 * service's check. */
static bool check_readable(struct rpc_query *q, const struct state_check *c)
{
    if (!acl_allow(q->authz, ACL_R_NODE, cn_str_from(c->node), ACL_A_READ)) return false;
    return !*c->service_id ||
           acl_allow(q->authz, ACL_R_SERVICE, cn_str_from(c->service_name), ACL_A_READ);
}

static bool meta_ok(struct hrun *h, const char *node)
{
    if (!h->req->nnode_meta) return true;
    const struct state_node *n = state_node_get(h->st, cn_str_from(node), NULL);
    return n && rpc_node_meta_match(n, h->req->node_meta, h->req->nnode_meta);
}

static bool on_check(void *ctx, const struct state_check *c)
{
    struct hrun *h = ctx;
    struct rpc_health_resp *r = h->resp;
    if (!meta_ok(h, c->node)) return true;
    if (!check_readable(h->q, c)) {
        h->q->meta.filtered_by_acls = true;
        return true;
    }
    if (!rpc_filter_match_fn(h->req->filter, write_check, c)) return true;
    if (r->nchecks == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        struct state_check **v = CN_ARENA_ARRAY(&h->q->arena, struct state_check *, cap);
        if (r->nchecks) memcpy(v, r->checks, r->nchecks * sizeof *v);
        r->checks = v;
        h->cap = cap;
    }
    r->checks[r->nchecks++] = state_check_copy(&h->q->arena, c);
    return true;
}

static bool on_instance_checks(void *ctx, const struct state_service *s)
{
    struct hrun *h = ctx;
    state_service_checks(h->st, cn_str_from(s->node), cn_str_from(s->id), on_check, h);
    return true;
}

static bool on_csn(void *ctx, const struct state_csn *row)
{
    struct hrun *h = ctx;
    struct rpc_health_resp *r = h->resp;
    struct rpc_query *q = h->q;
    if (!rpc_node_meta_match(row->node, h->req->node_meta, h->req->nnode_meta)) return true;
    if (!acl_allow(q->authz, ACL_R_NODE, cn_str_from(row->node->name), ACL_A_READ) ||
        !acl_allow(q->authz, ACL_R_SERVICE, cn_str_from(row->service->name), ACL_A_READ)) {
        q->meta.filtered_by_acls = true;
        return true;
    }
    struct rpc_csn out;
    out.node = state_node_copy(&q->arena, row->node);
    out.service = state_service_copy(&q->arena, row->service);
    out.nchecks = row->nchecks;
    out.checks = CN_ARENA_ARRAY(&q->arena, struct state_check *, row->nchecks + 1);
    for (size_t i = 0; i < row->nchecks; i++)
        out.checks[i] = state_check_copy(&q->arena, row->checks[i]);
    struct csn_ctx cc = {&out, h->dc};
    if (!rpc_filter_match_fn(h->req->filter, write_csn, &cc)) return true;
    if (r->nrows == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        struct rpc_csn *v = CN_ARENA_ARRAY(&q->arena, struct rpc_csn, cap);
        if (r->nrows) memcpy(v, r->rows, r->nrows * sizeof *v);
        r->rows = v;
        h->cap = cap;
    }
    r->rows[r->nrows++] = out;
    return true;
}

int rpc_health_run(struct rpc_query *q, struct state_store *st, struct state_watch_set *ws)
{
    const struct rpc_health_req *req = q->req;
    struct rpc_health_resp *resp = CN_ARENA_NEW(&q->arena, struct rpc_health_resp);
    struct hrun h = {.q = q, .req = req, .resp = resp, .st = st,
                     .dc = q->rpc->cfg.datacenter ? q->rpc->cfg.datacenter : "dc1"};
    q->resp = resp;
    switch (req->op) {
    case RPC_HEALTH_NODE:
        q->meta.index = state_node_checks(st, req->name, ws, on_check, &h);
        return 0;
    case RPC_HEALTH_CHECKS:
        /* The service's topic covers its instances' checks; the index
         * reported is the checks table's (Consul's rule). */
        state_service_instances(st, req->name, ws, on_instance_checks, &h);
        q->meta.index = state_table_index(st, STATE_T_CHECKS);
        rpc_near_sort_health(st, req->near, req->op, resp);
        return 0;
    case RPC_HEALTH_SERVICE:
        q->meta.index = state_health_service(st, req->name, req->tags, req->ntags, req->passing,
                                             ws, on_csn, &h);
        rpc_near_sort_health(st, req->near, req->op, resp);
        return 0;
    case RPC_HEALTH_STATE: {
        char status[16];
        snprintf(status, sizeof status, "%.*s", (int)req->name.len, req->name.p);
        q->meta.index = state_checks_in_state(st, status, ws, on_check, &h);
        rpc_near_sort_health(st, req->near, req->op, resp);
        return 0;
    }
    }
    return CN_EINVAL;
}
