/* event.c - /v1/event/fire/:name and /v1/event/list (Consul's EventFire and
 * EventList). Fire runs on a server (the request is forwarded there like
 * any RPC, and event:write is checked there); list is answered by each
 * agent from its own ring (agent/event.h). */
#include <stdlib.h>
#include <string.h>

#include "agent/event.h"
#include "agent/local.h"
#include "http/http_int.h"
#include "lib/cn_common.h"
#include "lib/cn_rand.h"

static struct agent_events *events_of(struct http_req *r)
{
    return r->env->agent ? agent_events(r->env->agent) : NULL;
}

static void write_event(struct cn_jw *w, const struct agent_event *e)
{
    cn_jw_obj_begin(w);
    cn_jw_key_str(w, "ID", e->id);
    cn_jw_key_str(w, "Name", e->name);
    cn_jw_key(w, "Payload");
    cn_jw_base64(w, e->payload.p, e->payload.len);
    cn_jw_key_str(w, "NodeFilter", e->node_filter);
    cn_jw_key_str(w, "ServiceFilter", e->service_filter);
    cn_jw_key_str(w, "TagFilter", e->tag_filter);
    cn_jw_key_u64(w, "Version", 1);
    cn_jw_key_u64(w, "LTime", e->ltime);
    cn_jw_obj_end(w);
}

static const char *param0(struct http_req *r, const char *k)
{
    const char *v = http_param(r, k);
    return v ? v : "";
}

static void http_event_fire(struct http_req *r)
{
    struct agent_event e = {0};
    struct cn_err err;
    struct cn_jw w;
    const char *dc = http_param(r, "dc");
    const struct rpc_config *c = rpc_config(r->env->rpc);
    if (dc && *dc && c->datacenter && strcmp(dc, c->datacenter)) {
        http_reply_text(r, 500, "No path to datacenter");
        return;
    }
    if (!*r->suffix) {
        http_reply_text(r, 400, "Missing name");
        return;
    }
    e.name = r->suffix;
    e.node_filter = param0(r, "node");
    e.service_filter = param0(r, "service");
    e.tag_filter = param0(r, "tag");
    e.payload = cn_buf_str(&r->body);
    if (!acl_allow(r->authz, ACL_R_EVENT, cn_str_from(e.name), ACL_A_WRITE)) {
        http_reply_denied(r);
        return;
    }
    cn_err_clear(&err);
    struct agent_events *ev = events_of(r);
    if (agent_events_fire(ev, &e, &err)) {
        http_reply_text(r, 500, "%s", err.msg);
        return;
    }
    http_json_begin(r, &w);
    e.ltime = 0; /* Consul answers before the event has a Lamport time */
    write_event(&w, &e);
    http_reply_json(r, 200, &w);
}

/* ---- list, blocking on the ring ---------------------------------------- */

struct list_wait {
    struct http_req *r; /* NULL once answered or cancelled */
    uv_timer_t timer;
    bool timer_on;
    struct agent_event_wait *w;
    uint64_t min_index;
    const char *name;
};

struct collect {
    struct http_req *r;
    struct cn_jw *w;
    const char *name;
    const char *last_id;
    bool filtered;
};

static bool visit(void *ctx, const struct agent_event *e)
{
    struct collect *c = ctx;
    if (*c->name && strcmp(c->name, e->name)) return true;
    if (!acl_allow(c->r->authz, ACL_R_EVENT, cn_str_from(e->name), ACL_A_READ)) {
        c->filtered = true;
        return true;
    }
    if (c->w) write_event(c->w, e);
    c->last_id = e->id;
    return true;
}

static uint64_t current_index(struct http_req *r, const char *name)
{
    struct collect c = {.r = r, .name = name};
    agent_events_list(events_of(r), visit, &c);
    return c.last_id ? agent_event_index(c.last_id) : 1;
}

static void answer(struct http_req *r, const char *name)
{
    struct collect c = {.r = r, .name = name};
    struct cn_jw w;
    struct rpc_meta m = {.index = current_index(r, name)};
    const char *leader = rpc_leader(r->env->rpc);
    m.known_leader = leader && *leader;
    http_json_begin(r, &w);
    c.w = &w;
    cn_jw_arr_begin(&w);
    agent_events_list(events_of(r), visit, &c);
    cn_jw_arr_end(&w);
    m.filtered_by_acls = c.filtered && r->token && *r->token;
    http_add_meta_headers(r, &m);
    http_reply_json(r, 200, &w);
}

static void wait_closed(uv_handle_t *h)
{
    free(h->data);
}

static void wait_end(struct list_wait *lw)
{
    lw->r = NULL;
    agent_events_wait_cancel(lw->w);
    lw->w = NULL;
    if (lw->timer_on) {
        uv_timer_stop(&lw->timer);
        uv_close((uv_handle_t *)&lw->timer, wait_closed);
    } else {
        free(lw);
    }
}

static void list_cancel(struct http_req *r)
{
    wait_end(r->cancel_arg);
}

static void on_timeout(uv_timer_t *t)
{
    struct list_wait *lw = t->data;
    struct http_req *r = lw->r;
    const char *name = lw->name;
    r->cancel = NULL;
    wait_end(lw);
    answer(r, name);
}

static void on_event(void *arg)
{
    struct list_wait *lw = arg;
    struct http_req *r = lw->r;
    lw->w = NULL;
    if (current_index(r, lw->name) == lw->min_index) {
        lw->w = agent_events_wait(events_of(r), on_event, lw);
        return;
    }
    const char *name = lw->name;
    r->cancel = NULL;
    wait_end(lw);
    answer(r, name);
}

static void http_event_list(struct http_req *r)
{
    struct rpc_query_opts opts;
    if (!http_parse_query_opts(r, &opts)) return;
    const char *name = param0(r, "name");
    if (!r->env->agent || opts.min_index == 0 || current_index(r, name) != opts.min_index) {
        answer(r, name);
        return;
    }
    const struct rpc_config *c = rpc_config(r->env->rpc);
    int64_t wait = opts.max_wait_ns > 0 ? opts.max_wait_ns : c->default_query_time_ns;
    if (c->max_query_time_ns > 0 && wait > c->max_query_time_ns) wait = c->max_query_time_ns;
    uint64_t ms = (uint64_t)(wait / 1000000);
    ms += ms / 16 ? cn_rand_os_u64() % (ms / 16) : 0;
    struct list_wait *lw = CN_NEW(struct list_wait);
    lw->r = r;
    lw->min_index = opts.min_index;
    lw->name = name;
    uv_timer_init(agent_loop(r->env->agent), &lw->timer);
    lw->timer.data = lw;
    lw->timer_on = true;
    uv_timer_start(&lw->timer, on_timeout, ms ? ms : 1, 0);
    lw->w = agent_events_wait(events_of(r), on_event, lw);
    r->cancel = list_cancel;
    r->cancel_arg = lw;
}

const struct http_route http_routes_event[] = {
    {"/v1/event/fire/", M_PUT, http_event_fire, 0, 0},
    {"/v1/event/list", M_GET, http_event_list, 0, ROUTE_LOCAL},
    HTTP_ROUTES_END,
};
