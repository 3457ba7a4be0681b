/*
 * agent_local.c - /v1/agent endpoints over the agent's own services and
 * checks (Consul's agent_endpoint.go): registration, TTL updates,
 * maintenance, the local views, reload, join/leave stand-ins and metrics.
 *
 * Writes answer once anti-entropy pushed the change into the catalog (or
 * failed to: Consul only warns then), so a client that registers and then
 * reads the catalog sees its service.
 */
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent/agent.h"
#include "agent/cluster.h"
#include "agent/local.h"
#include "http/agent_int.h"
#include "http/catalog_int.h"
#include "lib/cn_common.h"
#include "lib/cn_json.h"
#include "lib/cn_rand.h"
#include "lib/cn_time.h"
#include "lib/cn_version.h"

static struct agent_local *local_of(struct http_req *r)
{
    return agent_local(r->env->agent);
}

/* Map a local-state error to Consul's answer. */
static void reply_local_error(struct http_req *r, int rc, const struct cn_err *err)
{
    const char *msg = err->msg[0] ? err->msg : cn_strerror(rc);
    switch (rc) {
    case CN_EPERM: http_reply_denied(r); break;
    case CN_EINVAL: http_reply_text(r, 400, "%s", msg); break;
    case CN_ENOENT: http_reply_text(r, 404, "%s", msg); break;
    default: http_reply_text(r, 500, "%s", msg); break;
    }
}

/* ---- waiting for the catalog ------------------------------------------------ */

static void synced(void *arg)
{
    struct http_req *r = arg;
    r->cancel = NULL;
    http_reply_empty(r, 200);
}

static void cancel_wait(struct http_req *r)
{
    agent_local_wait_cancel(r->cancel_arg);
}

static void answer_after_sync(struct http_req *r)
{
    r->cancel = cancel_wait;
    r->cancel_arg = agent_local_sync(local_of(r), synced, r);
}

/* ---- JSON ------------------------------------------------------------------------ */

static void write_agent_service(struct cn_jw *w, const struct state_service *s, const char *dc,
                                const char *hash)
{
    cn_jw_obj_begin(w);
    if (*s->kind) cn_jw_key_str(w, "Kind", s->kind);
    cn_jw_key_str(w, "ID", s->id);
    cn_jw_key_str(w, "Service", s->name);
    cn_jw_key(w, "Tags");
    cn_jw_arr_begin(w);
    for (size_t i = 0; i < s->ntags; i++) cn_jw_str(w, s->tags[i]);
    cn_jw_arr_end(w);
    cn_jw_key(w, "Meta");
    rpc_json_pairs(w, s->meta, s->nmeta, true);
    cn_jw_key_i64(w, "Port", s->port);
    cn_jw_key_str(w, "Address", s->address);
    if (*s->socket_path) cn_jw_key_str(w, "SocketPath", s->socket_path);
    if (s->ntagged) {
        cn_jw_key(w, "TaggedAddresses");
        rpc_json_svc_addrs(w, s->tagged, s->ntagged);
    }
    cn_jw_key(w, "Weights");
    cn_jw_obj_begin(w);
    cn_jw_key_i64(w, "Passing", s->weight_passing);
    cn_jw_key_i64(w, "Warning", s->weight_warning);
    cn_jw_obj_end(w);
    cn_jw_key_bool(w, "EnableTagOverride", s->enable_tag_override);
    if (hash) cn_jw_key_str(w, "ContentHash", hash);
    cn_jw_key_str(w, "Datacenter", dc);
    cn_jw_obj_end(w);
}

struct svc_ctx {
    const struct state_service *s;
    const char *dc;
};

static void write_svc_for_filter(struct cn_jw *w, const void *obj)
{
    const struct svc_ctx *c = obj;
    write_agent_service(w, c->s, c->dc, NULL);
}

static void write_check_for_filter(struct cn_jw *w, const void *obj)
{
    rpc_json_health_check(w, obj);
}

static bool check_readable(struct http_req *r, const struct state_check *c)
{
    if (*c->service_id) return acl_allow(r->authz, ACL_R_SERVICE, cn_str_from(c->service_name), ACL_A_READ);
    return acl_allow(r->authz, ACL_R_NODE, cn_str_from(c->node), ACL_A_READ);
}

/* ---- reads ------------------------------------------------------------------------- */

void http_agent_services(struct http_req *r)
{
    const struct state_service **v;
    struct rpc_filter *f;
    struct cn_jw w;
    if (!http_parse_filter(r, rpc_fs_agent_service, &f)) return;
    size_t n = agent_local_services(local_of(r), &v);
    bool filtered = false;
    http_json_begin(r, &w);
    cn_jw_obj_begin(&w);
    for (size_t i = 0; i < n; i++) {
        if (!acl_allow(r->authz, ACL_R_SERVICE, cn_str_from(v[i]->name), ACL_A_READ)) {
            filtered = true;
            continue;
        }
        struct svc_ctx c = {v[i], http_datacenter(r)};
        if (!rpc_filter_match_fn(f, write_svc_for_filter, &c)) continue;
        cn_jw_key(&w, v[i]->id);
        write_agent_service(&w, v[i], http_datacenter(r), NULL);
    }
    cn_jw_obj_end(&w);
    free(v);
    rpc_filter_free(f);
    if (filtered && r->token && *r->token) http_add_header(r, "X-Consul-Results-Filtered-By-Acls", "true");
    http_reply_json(r, 200, &w);
}

void http_agent_checks(struct http_req *r)
{
    const struct state_check **v;
    struct rpc_filter *f;
    struct cn_jw w;
    if (!http_parse_filter(r, rpc_fs_health_check, &f)) return;
    size_t n = agent_local_checks(local_of(r), &v);
    bool filtered = false;
    http_json_begin(r, &w);
    cn_jw_obj_begin(&w);
    for (size_t i = 0; i < n; i++) {
        if (!check_readable(r, v[i])) {
            filtered = true;
            continue;
        }
        if (!rpc_filter_match_fn(f, write_check_for_filter, v[i])) continue;
        cn_jw_key(&w, v[i]->check_id);
        rpc_json_health_check(&w, v[i]);
    }
    cn_jw_obj_end(&w);
    free(v);
    rpc_filter_free(f);
    if (filtered && r->token && *r->token) http_add_header(r, "X-Consul-Results-Filtered-By-Acls", "true");
    http_reply_json(r, 200, &w);
}

/* ---- GET service/:id with hash blocking ------------------------------------------- */

/* The hash of what the endpoint shows (without the hash itself). */
static void service_hash(const struct state_service *s, const char *dc, char out[17])
{
    struct cn_buf b;
    struct cn_jw w;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_jw_init(&w, &b, false);
    write_agent_service(&w, s, dc, NULL);
    snprintf(out, 17, "%016" PRIx64, cn_hash_bytes(b.data, b.len));
    cn_buf_release(&b);
}

struct svc_wait {
    struct http_req *r;
    struct agent_wait *watch;
    uv_timer_t *timer;
    char *id;
    char hash[17];
};

static void timer_freed(uv_handle_t *h)
{
    free(h);
}

static void svc_wait_release(struct svc_wait *sw)
{
    if (sw->watch) agent_local_wait_cancel(sw->watch);
    sw->watch = NULL;
    if (sw->timer) {
        uv_timer_stop(sw->timer);
        uv_close((uv_handle_t *)sw->timer, timer_freed);
        sw->timer = NULL;
    }
}

static void answer_service(struct http_req *r, const struct state_service *s)
{
    char hash[17];
    struct cn_jw w;
    service_hash(s, http_datacenter(r), hash);
    http_add_header(r, "X-Consul-Contenthash", "%s", hash);
    http_json_begin(r, &w);
    write_agent_service(&w, s, http_datacenter(r), hash);
    http_reply_json(r, 200, &w);
}

static void svc_wait_answer(struct svc_wait *sw)
{
    struct http_req *r = sw->r;
    const struct state_service *s = agent_local_service(local_of(r), sw->id);
    svc_wait_release(sw);
    r->cancel = NULL;
    if (!s) {
        http_reply_text(r, 404, "unknown service ID: %s", sw->id);
        return;
    }
    answer_service(r, s);
}

static void svc_changed(void *arg)
{
    struct svc_wait *sw = arg;
    char hash[17];
    sw->watch = NULL;
    const struct state_service *s = agent_local_service(local_of(sw->r), sw->id);
    if (s) service_hash(s, http_datacenter(sw->r), hash);
    if (!s || strcmp(hash, sw->hash)) {
        svc_wait_answer(sw);
        return;
    }
    sw->watch = agent_local_watch(local_of(sw->r), svc_changed, sw);
}

static void svc_timeout(uv_timer_t *t)
{
    svc_wait_answer(t->data);
}

static void svc_wait_cancel(struct http_req *r)
{
    svc_wait_release(r->cancel_arg);
}

void http_agent_service(struct http_req *r)
{
    struct rpc_query_opts opts;
    const char *id = r->suffix, *want = http_param(r, "hash");
    if (!http_parse_query_opts(r, &opts)) return;
    const struct state_service *s = agent_local_service(local_of(r), id);
    if (!s) {
        http_reply_text(r, 404, "unknown service ID: %s", id);
        return;
    }
    if (!acl_allow(r->authz, ACL_R_SERVICE, cn_str_from(s->name), ACL_A_READ)) {
        http_reply_denied(r);
        return;
    }
    char hash[17];
    service_hash(s, http_datacenter(r), hash);
    if (!want || !*want || strcmp(want, hash)) {
        answer_service(r, s);
        return;
    }
    /* Same hash: wait for a change or ?wait (default 5 m, at most 10 m,
     * plus up to 1/16 jitter), like index blocking. */
    int64_t wait = opts.max_wait_ns > 0 ? opts.max_wait_ns : 300 * CN_NS_PER_S;
    if (wait > 600 * CN_NS_PER_S) wait = 600 * CN_NS_PER_S;
    uint64_t ms = (uint64_t)(wait / CN_NS_PER_MS);
    ms += ms / 16 ? cn_rand_os_u64() % (ms / 16) : 0;
    struct svc_wait *sw = CN_ARENA_NEW(&r->arena, struct svc_wait);
    sw->r = r;
    sw->id = cn_arena_strdup(&r->arena, id);
    memcpy(sw->hash, hash, sizeof hash);
    sw->timer = cn_malloc(sizeof *sw->timer);
    uv_timer_init(agent_loop(r->env->agent), sw->timer);
    sw->timer->data = sw;
    uv_timer_start(sw->timer, svc_timeout, ms, 0);
    sw->watch = agent_local_watch(local_of(r), svc_changed, sw);
    r->cancel = svc_wait_cancel;
    r->cancel_arg = sw;
}

/* ---- services and checks ----------------------------------------------------- */

static bool flag_param(struct http_req *r, const char *name)
{
    const char *v = http_param(r, name);
    return v && (!*v || !strcmp(v, "true"));
}

void http_agent_service_register(struct http_req *r)
{
    struct agent_service_def def;
    struct cn_err err;
    json_t *body = http_body_json(r, false);
    if (!body) return;
    cn_err_clear(&err);
    int rc = agent_service_def_decode(body, &r->arena, &def, &err);
    json_decref(body);
    if (rc) {
        http_reply_text(r, 400, "Request decode failed: %s", err.msg);
        return;
    }
    /* The request's token syncs the service (Consul's AddService(token)). */
    if (r->token && *r->token) def.token = cn_arena_strdup(&r->arena, r->token);
    rc = agent_local_add_service(local_of(r), r->authz, &def,
                                 flag_param(r, "replace-existing-checks"), &err);
    if (rc) {
        reply_local_error(r, rc, &err);
        return;
    }
    answer_after_sync(r);
}

void http_agent_service_deregister(struct http_req *r)
{
    struct cn_err err;
    cn_err_clear(&err);
    int rc = agent_local_remove_service(local_of(r), r->authz, r->suffix, &err);
    if (rc) {
        reply_local_error(r, rc, &err);
        return;
    }
    answer_after_sync(r);
}

/* ?enable=<bool> (required) and ?reason=. */
static bool parse_enable(struct http_req *r, bool *enable)
{
    const char *v = http_param(r, "enable");
    if (!v) {
        http_reply_text(r, 400, "Missing value for enable");
        return false;
    }
    if (cn_parse_bool(cn_str_from(v), enable)) {
        http_reply_text(r, 400, "Invalid value for enable: \"%s\"", v);
        return false;
    }
    return true;
}

void http_agent_service_maintenance(struct http_req *r)
{
    struct cn_err err;
    bool enable;
    if (!*r->suffix) {
        http_reply_text(r, 400, "Missing service ID");
        return;
    }
    if (!parse_enable(r, &enable)) return;
    cn_err_clear(&err);
    int rc = agent_local_service_maintenance(local_of(r), r->authz, r->suffix, enable,
                                             http_param(r, "reason"), &err);
    if (rc) {
        reply_local_error(r, rc, &err);
        return;
    }
    answer_after_sync(r);
}

void http_agent_maintenance(struct http_req *r)
{
    struct cn_err err;
    bool enable;
    if (!parse_enable(r, &enable)) return;
    cn_err_clear(&err);
    int rc = agent_local_node_maintenance(local_of(r), r->authz, enable, http_param(r, "reason"),
                                          &err);
    if (rc) {
        reply_local_error(r, rc, &err);
        return;
    }
    answer_after_sync(r);
}

void http_agent_check_register(struct http_req *r)
{
    struct agent_check_def def;
    struct cn_err err;
    json_t *body = http_body_json(r, false);
    if (!body) return;
    cn_err_clear(&err);
    int rc = agent_check_def_decode(body, &r->arena, &def, &err);
    json_decref(body);
    if (rc) {
        http_reply_text(r, 400, "Request decode failed: %s", err.msg);
        return;
    }
    if (r->token && *r->token) def.token = cn_arena_strdup(&r->arena, r->token);
    rc = agent_local_add_check(local_of(r), r->authz, &def, &err);
    if (rc) {
        reply_local_error(r, rc, &err);
        return;
    }
    answer_after_sync(r);
}

void http_agent_check_deregister(struct http_req *r)
{
    struct cn_err err;
    cn_err_clear(&err);
    int rc = agent_local_remove_check(local_of(r), r->authz, r->suffix, &err);
    if (rc) {
        reply_local_error(r, rc, &err);
        return;
    }
    answer_after_sync(r);
}

static void ttl_update(struct http_req *r, const char *status, const char *output)
{
    struct cn_err err;
    cn_err_clear(&err);
    int rc = agent_local_update_ttl(local_of(r), r->authz, r->suffix, status, output, &err);
    if (rc) {
        reply_local_error(r, rc, &err);
        return;
    }
    answer_after_sync(r);
}

void http_agent_check_pass(struct http_req *r)
{
    const char *note = http_param(r, "note");
    ttl_update(r, "passing", note ? note : "");
}

void http_agent_check_warn(struct http_req *r)
{
    const char *note = http_param(r, "note");
    ttl_update(r, "warning", note ? note : "");
}

void http_agent_check_fail(struct http_req *r)
{
    const char *note = http_param(r, "note");
    ttl_update(r, "critical", note ? note : "");
}

void http_agent_check_update(struct http_req *r)
{
    static const char *const known[] = {"Status", "Output", NULL};
    struct cn_err err;
    const char *status = "", *output = "";
    json_t *body = http_body_json(r, false);
    if (!body) return;
    cn_err_clear(&err);
    if (!json_is_object(body) || cn_json_check_fields(body, known, &err) ||
        cn_json_str(body, "Status", &status, &err) || cn_json_str(body, "Output", &output, &err)) {
        if (!err.msg[0])
            cn_err_set(&err, CN_EINVAL, "json: cannot unmarshal %s into Go value of type "
                                        "agent.checkUpdate", cn_json_type_name(body));
        http_reply_text(r, 400, "Request decode failed: %s", err.msg);
        json_decref(body);
        return;
    }
    if (strcmp(status, "passing") && strcmp(status, "warning") && strcmp(status, "critical")) {
        http_reply_text(r, 400, "Invalid check status: '%s'", status);
        json_decref(body);
        return;
    }
    char *st = cn_arena_strdup(&r->arena, status), *out = cn_arena_strdup(&r->arena, output);
    json_decref(body);
    ttl_update(r, st, out);
}

/* ---- agent health by service (P2) -------------------------------------------- */

static const char *aggregate(const struct state_check *const *v, size_t n)
{
    bool warn = false, crit = false;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(v[i]->check_id, "_node_maintenance") ||
            !strncmp(v[i]->check_id, "_service_maintenance:", 21))
            return "maintenance";
        if (!strcmp(v[i]->status, "critical")) crit = true;
        if (!strcmp(v[i]->status, "warning")) warn = true;
    }
    return crit ? "critical" : warn ? "warning" : "passing";
}

static int status_code(const char *agg)
{
    if (!strcmp(agg, "passing")) return 200;
    if (!strcmp(agg, "warning")) return 429;
    return 503;
}

static bool want_text(struct http_req *r)
{
    const char *f = http_param(r, "format");
    return f && !strcmp(f, "text");
}

static void write_service_health(struct http_req *r, struct cn_jw *w, const struct state_service *s,
                                 const struct state_check *const *v, size_t n, const char *agg)
{
    cn_jw_obj_begin(w);
    cn_jw_key_str(w, "AggregatedStatus", agg);
    cn_jw_key(w, "Service");
    write_agent_service(w, s, http_datacenter(r), NULL);
    cn_jw_key(w, "Checks");
    cn_jw_arr_begin(w);
    for (size_t i = 0; i < n; i++) rpc_json_health_check(w, v[i]);
    cn_jw_arr_end(w);
    cn_jw_obj_end(w);
}

void http_agent_health_service_id(struct http_req *r)
{
    struct cn_jw w;
    const struct state_check **v;
    const struct state_service *s = agent_local_service(local_of(r), r->suffix);
    if (!s) {
        if (want_text(r)) {
            http_reply_text(r, 404, "ServiceId %s not found", r->suffix);
            return;
        }
        http_json_begin(r, &w);
        cn_jw_str(&w, "ServiceId not found");
        http_reply_json(r, 404, &w);
        return;
    }
    if (!acl_allow(r->authz, ACL_R_SERVICE, cn_str_from(s->name), ACL_A_READ)) {
        http_reply_denied(r);
        return;
    }
    size_t n = agent_local_service_checks(local_of(r), s->id, &v);
    const char *agg = aggregate(v, n);
    if (want_text(r)) {
        free(v);
        http_reply_text(r, status_code(agg), "%s", agg);
        return;
    }
    http_json_begin(r, &w);
    write_service_health(r, &w, s, v, n, agg);
    free(v);
    http_reply_json(r, status_code(agg), &w);
}

void http_agent_health_service_name(struct http_req *r)
{
    struct cn_jw w;
    const struct state_service **svcs;
    size_t ns = agent_local_services(local_of(r), &svcs), found = 0;
    int code = 404;
    const char *worst = "passing";
    http_json_begin(r, &w);
    cn_jw_arr_begin(&w);
    for (size_t i = 0; i < ns; i++) {
        if (strcmp(svcs[i]->name, r->suffix)) continue;
        if (!acl_allow(r->authz, ACL_R_SERVICE, cn_str_from(svcs[i]->name), ACL_A_READ)) continue;
        const struct state_check **v;
        size_t n = agent_local_service_checks(local_of(r), svcs[i]->id, &v);
        const char *agg = aggregate(v, n);
        write_service_health(r, &w, svcs[i], v, n, agg);
        free(v);
        found++;
        int c = status_code(agg);
        if (code == 404 || c > code) {
            code = c;
            worst = agg;
        }
    }
    cn_jw_arr_end(&w);
    free(svcs);
    if (want_text(r)) {
        if (!found)
            http_reply_text(r, 404, "ServiceName %s Not Found", r->suffix);
        else
            http_reply_text(r, code, "%s", worst);
        return;
    }
    http_reply_json(r, code, &w);
}

/* ---- agent operations ---------------------------------------------------------- */

static bool agent_write_ok(struct http_req *r)
{
    const struct agent_config *c = agent_cfg(r->env->agent);
    if (acl_allow(r->authz, ACL_R_AGENT, cn_str_from(c->node_name), ACL_A_WRITE)) return true;
    http_reply_denied(r);
    return false;
}

void http_agent_reload(struct http_req *r)
{
    struct cn_err err;
    if (!agent_write_ok(r)) return;
    cn_err_clear(&err);
    if (agent_reload(r->env->agent, &err)) {
        http_reply_text(r, 500, "%s", err.msg[0] ? err.msg : "reload failed");
        return;
    }
    answer_after_sync(r);
}

/* PUT /v1/agent/join/<addr> (?wan): gossip push-pull with that address. */
struct join_ctx {
    struct http_req *r; /* NULL once the client went away */
    char addr[256];
};

static void join_done(void *ctx, int contacted, int rc, const char *err)
{
    struct join_ctx *j = ctx;
    (void)contacted;
    if (j->r) {
        j->r->cancel = NULL;
        if (rc)
            http_reply_text(j->r, 500, "1 error occurred:\n\t* Failed to join %s: %s\n\n", j->addr,
                            err && *err ? err : cn_strerror(rc));
        else
            http_reply_empty(j->r, 200);
    }
    free(j);
}

static void join_cancel(struct http_req *r)
{
    struct join_ctx *j = r->cancel_arg;
    j->r = NULL; /* join_done frees it when the join finishes */
}

void http_agent_join(struct http_req *r)
{
    struct cn_err err;
    if (!agent_write_ok(r)) return;
    const char *wan = http_param(r, "wan");
    bool want_wan = wan && *wan && strcmp(wan, "0") && strcmp(wan, "false");
    struct cluster *cl = agent_cluster(r->env->agent);
    struct join_ctx *j = CN_NEW(struct join_ctx);
    const char *addrs[1] = {j->addr};
    j->r = r;
    snprintf(j->addr, sizeof j->addr, "%s", r->suffix);
    cn_err_clear(&err);
    if (!cl || cluster_join(cl, addrs, 1, want_wan, join_done, j, &err)) {
        http_reply_text(r, 500, "1 error occurred:\n\t* Failed to join %s: %s\n\n", j->addr,
                        err.msg[0] ? err.msg : "gossip is not running");
        free(j);
        return;
    }
    r->cancel = join_cancel;
    r->cancel_arg = j;
}

void http_agent_leave(struct http_req *r)
{
    if (!agent_write_ok(r)) return;
    http_reply_empty(r, 200);
    agent_leave(r->env->agent);
}

/* PUT /v1/agent/force-leave/<node> (?prune, ?wan): a failed member to left. */
void http_agent_force_leave(struct http_req *r)
{
    struct cn_err err;
    if (!acl_allow(r->authz, ACL_R_OPERATOR, CN_STR_NULL, ACL_A_WRITE)) {
        http_reply_denied(r);
        return;
    }
    const char *wan = http_param(r, "wan");
    bool want_wan = wan && *wan && strcmp(wan, "0") && strcmp(wan, "false");
    struct cluster *cl = agent_cluster(r->env->agent);
    cn_err_clear(&err);
    if (!cl || cluster_force_leave(cl, r->suffix, http_has_param(r, "prune"), want_wan, &err)) {
        http_reply_text(r, 500, "agent: No node found with name '%s'", r->suffix);
        return;
    }
    http_reply_empty(r, 200);
}

/* ---- metrics ------------------------------------------------------------------------ */

struct metric {
    const char *name;
    double value;
};

static size_t gather(struct http_req *r, struct metric *m, size_t max)
{
    struct state_store *st = rpc_state(r->env->rpc);
    struct agent_local *l = local_of(r);
    size_t n = 0;
    long rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        long size;
        if (fscanf(f, "%ld %ld", &size, &rss) != 2) rss = 0;
        fclose(f);
    }
#define M(nm, v)                                                                          \
    do {                                                                                  \
        if (n < max) m[n++] = (struct metric){nm, (double)(v)};                           \
    } while (0)
    M("consul.runtime.alloc_bytes", (double)rss * 4096.0);
    M("consul.runtime.num_goroutines", 1);
    M("consul.state.nodes", state_node_count(st));
    M("consul.state.services", state_service_count(st));
    M("consul.state.checks", state_check_count(st));
    M("consul.state.kv_entries", state_kv_count(st));
    M("consul.raft.applied_index", state_last_index(st));
    M("consul.rpc.queries_blocking", rpc_parked_count(r->env->rpc));
    const struct state_service **svcs = NULL;
    M("consul.agent.local.services", l ? agent_local_services(l, &svcs) : 0);
    free(svcs);
    M("consul.agent.local.checks", l ? agent_local_check_count(l, NULL) : 0);
#undef M
    return n;
}

static void metrics_json(struct http_req *r, const struct metric *m, size_t n)
{
    struct cn_jw w;
    char ts[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S +0000 UTC", &tm);
    http_json_begin(r, &w);
    cn_jw_obj_begin(&w);
    cn_jw_key_str(&w, "Timestamp", ts);
    cn_jw_key(&w, "Gauges");
    cn_jw_arr_begin(&w);
    for (size_t i = 0; i < n; i++) {
        cn_jw_obj_begin(&w);
        cn_jw_key_str(&w, "Name", m[i].name);
        cn_jw_key(&w, "Value");
        cn_jw_double(&w, m[i].value);
        cn_jw_key(&w, "Labels");
        cn_jw_obj_begin(&w);
        cn_jw_obj_end(&w);
        cn_jw_obj_end(&w);
    }
    cn_jw_arr_end(&w);
    cn_jw_key(&w, "Points");
    cn_jw_arr_begin(&w);
    cn_jw_arr_end(&w);
    cn_jw_key(&w, "Counters");
    cn_jw_arr_begin(&w);
    cn_jw_arr_end(&w);
    cn_jw_key(&w, "Samples");
    cn_jw_arr_begin(&w);
    cn_jw_arr_end(&w);
    cn_jw_obj_end(&w);
    http_reply_json(r, 200, &w);
}

static void metrics_prometheus(struct http_req *r, const struct metric *m, size_t n)
{
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    for (size_t i = 0; i < n; i++) {
        char name[128];
        snprintf(name, sizeof name, "%s", m[i].name);
        for (char *p = name; *p; p++)
            if (*p == '.' || *p == '-') *p = '_';
        cn_buf_putf(&b, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, m[i].name, name, name,
                    m[i].value);
    }
    http_reply_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.data ? b.data : "", b.len);
    cn_buf_release(&b);
}

void http_agent_metrics(struct http_req *r)
{
    const struct agent_config *c = agent_cfg(r->env->agent);
    struct metric m[32];
    if (!acl_allow(r->authz, ACL_R_AGENT, cn_str_from(c->node_name), ACL_A_READ)) {
        http_reply_denied(r);
        return;
    }
    const char *format = http_param(r, "format");
    bool prom = format && !strcmp(format, "prometheus");
    if (prom) {
        int64_t retention = agent_config_dur(c, "telemetry.prometheus_retention_time", 0);
        if (retention <= 0) {
            http_reply_text(r, 415, "Prometheus is not enabled since its retention time is not positive");
            return;
        }
    }
    size_t n = gather(r, m, CN_ARRAY_SIZE(m));
    if (prom)
        metrics_prometheus(r, m, n);
    else
        metrics_json(r, m, n);
}
