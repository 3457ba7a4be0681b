/*
 * local.c - the agent's own services and checks (Consul's agent.AddService,
 * AddCheck, RemoveService, ... and local.State): records, their changes,
 * the wait lists, and the lifecycle around them.
 */
#include "agent/local_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/cn_common.h"
#include "lib/cn_log.h"
#include "lib/cn_time.h"
#include "lib/cn_version.h"

#define DEFAULT_NODE_MAINT_REASON                                                         \
    "Maintenance mode is enabled for this node, but no reason was provided. This is a "   \
    "default message."
#define DEFAULT_SERVICE_MAINT_REASON                                                      \
    "Maintenance mode is enabled for this service, but no reason was provided. This is a " \
    "default message."

uint64_t local_now_ms(void)
{
    return cn_now_ms();
}

/* ---- records ---------------------------------------------------------------- */

static void service_free(struct local_service *s)
{
    if (!s) return;
    struct cn_arena a = s->arena;
    cn_arena_release(&a);
}

static void defer_closed(uv_handle_t *h)
{
    free(h);
}

/* The checks of each service, so a service's sync does not scan them all. */
static void by_service_link(struct agent_local *l, struct local_check *c)
{
    cn_list_init(&c->by_service);
    if (!*c->hc.service_id) return;
    struct cn_list *head = cn_map_get(&l->checks_by_service, cn_str_from(c->hc.service_id));
    if (!head) {
        head = cn_malloc(sizeof *head);
        cn_list_init(head);
        cn_map_put(&l->checks_by_service, cn_str_from(c->hc.service_id), head);
    }
    cn_list_insert_tail(head, &c->by_service);
}

static void by_service_unlink(struct agent_local *l, struct local_check *c)
{
    if (!cn_list_linked(&c->by_service)) return;
    cn_list_remove(&c->by_service);
    cn_list_init(&c->by_service);
    struct cn_list *head = cn_map_get(&l->checks_by_service, cn_str_from(c->hc.service_id));
    if (head && cn_list_empty(head)) {
        cn_map_del(&l->checks_by_service, cn_str_from(c->hc.service_id));
        free(head);
    }
}

static void check_free(struct local_check *c)
{
    if (!c) return;
    by_service_unlink(c->l, c);
    check_runner_stop(c);
    if (c->defer) {
        uv_timer_stop(c->defer);
        uv_close((uv_handle_t *)c->defer, defer_closed);
        c->defer = NULL;
    }
    struct cn_arena a = c->arena;
    cn_arena_release(&a);
}

struct local_service *local_service_get(struct agent_local *l, const char *id)
{
    return cn_map_get(&l->services, cn_str_from(id));
}

struct local_check *local_check_get(struct agent_local *l, const char *id)
{
    return cn_map_get(&l->checks, cn_str_from(id));
}

static char *sdup(struct cn_arena *a, const char *s)
{
    return cn_arena_strdup(a, s ? s : "");
}

static char **dup_list(struct cn_arena *a, char *const *v, size_t n)
{
    char **out = CN_ARENA_ARRAY(a, char *, n + 1);
    for (size_t i = 0; i < n; i++) out[i] = sdup(a, v[i]);
    return out;
}

/* A deep copy of a check definition (the runner keeps reading it). */
static void def_copy(struct cn_arena *a, struct agent_check_def *d, const struct agent_check_def *s)
{
    struct state_check tmp = {0}, *cp;
    *d = *s;
    d->id = sdup(a, s->id);
    d->name = sdup(a, s->name);
    d->status = sdup(a, s->status);
    d->notes = sdup(a, s->notes);
    d->service_id = sdup(a, s->service_id);
    d->token = sdup(a, s->token);
    tmp.def = s->def;
    cp = state_check_copy(a, &tmp);
    d->def = cp->def;
}

int64_t local_output_max(struct agent_local *l, const struct agent_check_def *d)
{
    int64_t max = agent_config_int(agent_cfg(l->agent), "check_output_max_size", 4096);
    if (max <= 0) max = 4096;
    if (d && d->def.output_max_size > 0 && d->def.output_max_size < max) max = d->def.output_max_size;
    return max;
}

const char *local_sync_token(struct agent_local *l, const char *own)
{
    const struct agent_config *c = agent_cfg(l->agent);
    if (own && *own) return own;
    const char *t = agent_config_str(c, "acl.tokens.agent", agent_config_str(c, "acl_agent_token", NULL));
    if (t && *t) return t;
    return agent_config_str(c, "acl.tokens.default", agent_config_str(c, "acl_token", ""));
}

void local_node_record(struct agent_local *l, struct cn_arena *a, struct state_node *out)
{
    const struct agent_config *c = agent_cfg(l->agent);
    const char *adv = agent_advertise_addr(l->agent);
    const char *wan = c->advertise_addr_wan ? c->advertise_addr_wan : adv;
    bool v6 = strchr(adv, ':') != NULL, wan6 = strchr(wan, ':') != NULL;
    memset(out, 0, sizeof *out);
    out->id = cn_arena_strdup(a, agent_node_id(l->agent));
    out->name = cn_arena_strdup(a, l->node_name);
    out->address = cn_arena_strdup(a, adv);
    struct state_pair *t = CN_ARENA_ARRAY(a, struct state_pair, 4);
    t[0] = (struct state_pair){"lan", (char *)adv};
    t[1] = (struct state_pair){v6 ? "lan_ipv6" : "lan_ipv4", (char *)adv};
    t[2] = (struct state_pair){"wan", (char *)wan};
    t[3] = (struct state_pair){wan6 ? "wan_ipv6" : "wan_ipv4", (char *)wan};
    for (int i = 0; i < 4; i++) t[i].value = cn_arena_strdup(a, t[i].value);
    state_pairs_sort(t, 4);
    out->tagged = t;
    out->ntagged = 4;
    json_t *meta = agent_config_get(c, "node_meta");
    size_t nm = json_is_object(meta) ? json_object_size(meta) : 0, k = 0;
    struct state_pair *m = CN_ARENA_ARRAY(a, struct state_pair, nm + 2);
    const char *key;
    json_t *v;
    if (nm) json_object_foreach(meta, key, v) {
            m[k].key = cn_arena_strdup(a, key);
            m[k].value = cn_arena_strdup(a, json_is_string(v) ? json_string_value(v) : "");
            k++;
        }
    m[k++] = (struct state_pair){"consul-network-segment", ""};
    m[k++] = (struct state_pair){"consul-version", CN_CONSUL_VERSION};
    state_pairs_sort(m, k);
    out->meta = m;
    out->nmeta = k;
}

/* ---- waiting ------------------------------------------------------------------ */

static struct agent_wait *wait_new(struct cn_list *on, void (*done)(void *), void *arg)
{
    struct agent_wait *w = CN_NEW(struct agent_wait);
    w->done = done;
    w->arg = arg;
    w->on = on;
    cn_list_insert_tail(on, &w->link);
    return w;
}

void agent_local_wait_cancel(struct agent_wait *w)
{
    if (!w) return;
    cn_list_remove(&w->link);
    free(w);
}

struct agent_wait *agent_local_sync(struct agent_local *l, void (*done)(void *arg), void *arg)
{
    struct agent_wait *w = wait_new(&l->next_waiters, done, arg);
    ae_kick(l);
    return w;
}

struct agent_wait *agent_local_watch(struct agent_local *l, void (*done)(void *arg), void *arg)
{
    return wait_new(&l->watchers, done, arg);
}

/* Call and free every waiter of a list (a callback may add new ones). */
static void fire_list(struct cn_list *list)
{
    struct cn_list taken;
    cn_list_init(&taken);
    while (!cn_list_empty(list)) {
        struct cn_list *x = list->next;
        cn_list_remove(x);
        cn_list_insert_tail(&taken, x);
    }
    while (!cn_list_empty(&taken)) {
        struct agent_wait *w = cn_list_entry(taken.next, struct agent_wait, link);
        cn_list_remove(&w->link);
        void (*done)(void *) = w->done;
        void *arg = w->arg;
        free(w);
        done(arg);
    }
}

void local_changed(struct agent_local *l)
{
    if (l->stopping) return;
    fire_list(&l->watchers);
    checks_alias_refresh(l);
    ae_kick(l);
}

/* ---- checks' status ------------------------------------------------------------- */

static void defer_fired(uv_timer_t *t)
{
    struct local_check *c = t->data;
    uv_close((uv_handle_t *)t, defer_closed);
    c->defer = NULL;
    c->in_sync = false;
    ae_kick(c->l);
}

void local_check_update(struct agent_local *l, struct local_check *c, const char *status,
                        const char *output)
{
    struct state_check *hc = &c->hc;
    if (!strcmp(status, "critical")) {
        if (!c->critical_since_ms) c->critical_since_ms = local_now_ms();
    } else {
        c->critical_since_ms = 0;
    }
    if (!strcmp(hc->status, status) && !strcmp(hc->output, output)) return;
    int64_t intv = agent_config_dur(agent_cfg(l->agent), "check_update_interval", 5 * 60 * CN_NS_PER_S);
    if (intv > 0 && !strcmp(hc->status, status)) {
        /* Output alone changed: keep it locally, push it later (Consul's
         * check_update_interval); a status change goes out at once. */
        hc->output = cn_arena_strdup(&c->arena, output);
        if (!c->defer) {
            uint64_t ms = (uint64_t)(intv / CN_NS_PER_MS);
            ms = ms / 2 + (uint64_t)rand() % (ms ? ms : 1);
            c->defer = cn_malloc(sizeof *c->defer);
            uv_timer_init(l->loop, c->defer);
            c->defer->data = c;
            uv_timer_start(c->defer, defer_fired, ms, 0);
        }
        fire_list(&l->watchers);
        return;
    }
    CN_DEBUG("agent", "Check status updated: check=%s status=%s", hc->check_id, status);
    hc->status = cn_arena_strdup(&c->arena, status);
    hc->output = cn_arena_strdup(&c->arena, output);
    c->in_sync = false;
    c->gen = ++l->gen_counter;
    local_changed(l);
}

/* ---- permission and script rules ----------------------------------------------- */

static bool can_write_service(const struct acl_authz *authz, const char *name)
{
    return !authz || acl_allow(authz, ACL_R_SERVICE, cn_str_from(name), ACL_A_WRITE);
}

static bool can_write_node(struct agent_local *l, const struct acl_authz *authz)
{
    return !authz || acl_allow(authz, ACL_R_NODE, cn_str_from(l->node_name), ACL_A_WRITE);
}

static int script_allowed(struct agent_local *l, const struct agent_check_def *d,
                          enum local_source src, struct cn_err *err)
{
    const struct agent_config *c = agent_cfg(l->agent);
    if (!d->def.nscript_args && !*d->def.docker_container_id) return 0;
    /* config files answer to enable_local_script_checks alone (it defaults
     * to enable_script_checks), the API and restored checks to
     * enable_script_checks */
    if (src == LOCAL_SRC_FILE) {
        if (c->enable_local_script_checks) return 0;
        return cn_err_set(err, CN_EUNSUPPORTED,
                          "Scripts are disabled on this agent; to enable, configure "
                          "'enable_script_checks' or 'enable_local_script_checks' to true");
    }
    if (c->enable_script_checks) return 0;
    return cn_err_set(err, CN_EUNSUPPORTED,
                      "Scripts are disabled on this agent from remote calls; to enable, "
                      "configure 'enable_script_checks' to true");
}

/* ---- adding --------------------------------------------------------------------- */

/* Consul adds lan_ipv4/wan_ipv4 (or _ipv6) tagged addresses for a service
 * whose address is an IP literal. */
static void default_tagged(struct cn_arena *a, struct state_service *s)
{
    unsigned char buf[16];
    bool v4 = inet_pton(AF_INET, s->address, buf) == 1;
    bool v6 = !v4 && inet_pton(AF_INET6, s->address, buf) == 1;
    if (!v4 && !v6) return;
    const char *want[2] = {v4 ? "lan_ipv4" : "lan_ipv6", v4 ? "wan_ipv4" : "wan_ipv6"};
    struct state_svc_addr *t = CN_ARENA_ARRAY(a, struct state_svc_addr, s->ntagged + 3);
    size_t n = s->ntagged;
    if (n) memcpy(t, s->tagged, n * sizeof *t);
    for (int k = 0; k < 2; k++) {
        bool have = false;
        for (size_t i = 0; i < s->ntagged && !have; i++) have = !strcmp(s->tagged[i].key, want[k]);
        if (!have) t[n++] = (struct state_svc_addr){(char *)want[k], s->address, s->port};
    }
    /* keep them sorted by key, as every map */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(t[j - 1].key, t[j].key) > 0; j--) {
            struct state_svc_addr x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
        }
    s->tagged = t;
    s->ntagged = n;
}

static struct local_check *check_new(struct agent_local *l, const struct agent_check_def *d,
                                     const struct state_service *svc, const char *token,
                                     bool from_file)
{
    struct cn_arena a;
    cn_arena_init(&a, 512);
    struct local_check *c = cn_arena_zalloc(&a, sizeof *c);
    def_copy(&a, &c->def, d);
    struct state_check *hc = &c->hc;
    hc->node = l->node_name;
    hc->check_id = c->def.id;
    hc->name = c->def.name;
    hc->status = *d->status ? c->def.status : "critical";
    hc->notes = c->def.notes;
    hc->output = "";
    hc->service_id = svc ? cn_arena_strdup(&a, svc->id) : "";
    hc->service_name = svc ? cn_arena_strdup(&a, svc->name) : "";
    hc->service_tags = svc ? dup_list(&a, svc->tags, svc->ntags) : NULL;
    hc->nservice_tags = svc ? svc->ntags : 0;
    hc->type = cn_arena_strdup(&a, agent_check_type(d));
    hc->def = c->def.def;
    c->token = cn_arena_strdup(&a, token ? token : "");
    c->from_file = from_file;
    c->l = l;
    cn_list_init(&c->by_service);
    c->gen = ++l->gen_counter;
    if (!strcmp(hc->status, "critical")) c->critical_since_ms = local_now_ms();
    c->arena = a;
    return c;
}

/* Put c in place of any check with its ID, carrying over the previous
 * status and output when asked (a re-registered service keeps its state). */
static void check_install(struct agent_local *l, struct local_check *c, bool keep_state,
                          enum local_source src)
{
    struct local_check *old = cn_map_get(&l->checks, cn_str_from(c->hc.check_id));
    if (old && keep_state) {
        c->hc.status = cn_arena_strdup(&c->arena, old->hc.status);
        c->hc.output = cn_arena_strdup(&c->arena, old->hc.output);
        c->critical_since_ms = old->critical_since_ms;
    }
    if (old) {
        cn_map_del(&l->checks, cn_str_from(old->hc.check_id));
        check_free(old);
    }
    cn_map_del(&l->dead_checks, cn_str_from(c->hc.check_id));
    cn_map_put(&l->checks, cn_str_from(c->hc.check_id), c);
    by_service_link(l, c);
    if (src != LOCAL_SRC_FILE) persist_check(l, c);
    check_runner_start(l, c);
}

int local_add_service(struct agent_local *l, struct agent_service_def *def, bool replace_checks,
                      enum local_source src, struct cn_err *err)
{
    int rc;
    if ((rc = agent_service_def_validate(def, err))) return rc;
    for (size_t i = 0; i < def->nchecks; i++)
        if ((rc = script_allowed(l, &def->checks[i], src, err))) return rc;
    struct cn_arena a;
    cn_arena_init(&a, 512);
    struct local_service *s = cn_arena_zalloc(&a, sizeof *s);
    struct state_service *cp = state_service_copy(&a, &def->svc);
    s->svc = *cp;
    s->svc.node = l->node_name;
    default_tagged(&a, &s->svc);
    s->token = cn_arena_strdup(&a, def->token ? def->token : "");
    s->from_file = src == LOCAL_SRC_FILE;
    s->gen = ++l->gen_counter;
    s->arena = a;
    const char *sid = s->svc.id;
    struct local_service *old = cn_map_get(&l->services, cn_str_from(sid));
    if (old) service_free(cn_map_del(&l->services, cn_str_from(sid)));
    cn_map_del(&l->dead_services, cn_str_from(sid));
    cn_map_put(&l->services, cn_str_from(s->svc.id), s);
    if (src != LOCAL_SRC_FILE) persist_service(l, s);
    /* The embedded checks: IDs service:<id>[:n], names from the service. */
    char **ids = cn_calloc(def->nchecks + 1, sizeof *ids);
    for (size_t i = 0; i < def->nchecks; i++) {
        struct agent_check_def d = def->checks[i];
        char idbuf[512], namebuf[512];
        if (!*d.id) {
            if (def->nchecks > 1)
                snprintf(idbuf, sizeof idbuf, "service:%s:%zu", sid, i + 1);
            else
                snprintf(idbuf, sizeof idbuf, "service:%s", sid);
            d.id = idbuf;
        }
        if (!*d.name) {
            snprintf(namebuf, sizeof namebuf, "Service '%s' check", s->svc.name);
            d.name = namebuf;
        }
        d.service_id = (char *)sid;
        struct local_check *c = check_new(l, &d, &s->svc, d.token && *d.token ? d.token : s->token,
                                          src == LOCAL_SRC_FILE);
        ids[i] = cn_strdup(c->hc.check_id);
        check_install(l, c, true, src);
    }
    /* Checks of this service the new definition no longer lists. */
    if (replace_checks) {
        const struct state_check **cur;
        size_t n = agent_local_service_checks(l, sid, &cur);
        for (size_t i = 0; i < n; i++) {
            bool keep = false;
            for (size_t j = 0; j < def->nchecks && !keep; j++) keep = !strcmp(ids[j], cur[i]->check_id);
            if (!keep) local_remove_check_internal(l, cur[i]->check_id, src != LOCAL_SRC_FILE);
        }
        free(cur);
    }
    for (size_t i = 0; i < def->nchecks; i++) free(ids[i]);
    free(ids);
    local_changed(l);
    return 0;
}

int local_add_check(struct agent_local *l, struct agent_check_def *def, enum local_source src,
                    struct cn_err *err)
{
    int rc;
    if (!*def->id) def->id = def->name;
    if ((rc = agent_check_type_validate(def, err))) return cn_err_wrap(err, "Invalid check");
    struct local_service *svc = NULL;
    if (*def->service_id) {
        svc = local_service_get(l, def->service_id);
        if (!svc)
            return cn_err_set(err, CN_ENOENT, "ServiceID \"%s\" does not exist", def->service_id);
    }
    if ((rc = script_allowed(l, def, src, err))) return rc;
    struct local_check *c = check_new(l, def, svc ? &svc->svc : NULL, def->token,
                                      src == LOCAL_SRC_FILE);
    /* A reload re-adds file checks: they keep their state (Consul's
     * snapshotCheckState); an API re-registration starts afresh. */
    check_install(l, c, src == LOCAL_SRC_FILE, src);
    local_changed(l);
    return 0;
}

/* ---- removing ---------------------------------------------------------------- */

void local_remove_check_internal(struct agent_local *l, const char *id, bool persist)
{
    struct local_check *c = cn_map_del(&l->checks, cn_str_from(id));
    if (!c) return;
    cn_map_put(&l->dead_checks, cn_str_from(id), (void *)1);
    if (persist) persist_check_remove(l, id);
    check_free(c);
}

void local_remove_service_internal(struct agent_local *l, const char *id, bool persist)
{
    const struct state_check **cur;
    size_t n = agent_local_service_checks(l, id, &cur);
    char **ids = cn_calloc(n + 1, sizeof *ids);
    for (size_t i = 0; i < n; i++) ids[i] = cn_strdup(cur[i]->check_id);
    free(cur);
    for (size_t i = 0; i < n; i++) {
        local_remove_check_internal(l, ids[i], persist);
        free(ids[i]);
    }
    free(ids);
    struct local_service *s = cn_map_del(&l->services, cn_str_from(id));
    if (!s) return;
    cn_map_put(&l->dead_services, cn_str_from(id), (void *)1);
    if (persist) persist_service_remove(l, id);
    service_free(s);
}

/* ---- the API --------------------------------------------------------------- */

int agent_local_add_service(struct agent_local *l, const struct acl_authz *authz,
                            struct agent_service_def *def, bool replace_existing_checks,
                            struct cn_err *err)
{
    int rc;
    if ((rc = agent_service_def_validate(def, err))) return rc;
    if (!can_write_service(authz, def->svc.name)) return CN_EPERM;
    /* Overwriting another service's registration needs write on it too. */
    struct local_service *cur = local_service_get(l, def->svc.id);
    if (cur && !can_write_service(authz, cur->svc.name)) return CN_EPERM;
    return local_add_service(l, def, replace_existing_checks, LOCAL_SRC_API, err);
}

static int check_write_allowed(struct agent_local *l, const struct acl_authz *authz,
                               const char *service_id)
{
    if (service_id && *service_id) {
        struct local_service *s = local_service_get(l, service_id);
        if (s && !can_write_service(authz, s->svc.name)) return CN_EPERM;
        return 0;
    }
    return can_write_node(l, authz) ? 0 : CN_EPERM;
}

int agent_local_add_check(struct agent_local *l, const struct acl_authz *authz,
                          struct agent_check_def *def, struct cn_err *err)
{
    int rc = agent_check_def_validate(def, err);
    if (rc) return rc;
    if ((rc = check_write_allowed(l, authz, def->service_id))) return rc;
    return local_add_check(l, def, LOCAL_SRC_API, err);
}

int agent_local_remove_service(struct agent_local *l, const struct acl_authz *authz,
                               const char *id, struct cn_err *err)
{
    struct local_service *s = local_service_get(l, id);
    if (!s)
        return cn_err_set(err, CN_ENOENT,
                          "Unknown service ID \"%s\". Ensure that the service ID is passed, not "
                          "the service name.",
                          id);
    if (!can_write_service(authz, s->svc.name)) return CN_EPERM;
    local_remove_service_internal(l, id, true);
    local_changed(l);
    return 0;
}

static int unknown_check(struct cn_err *err, const char *id)
{
    return cn_err_set(err, CN_ENOENT,
                      "Unknown check ID \"%s\". Ensure that the check ID is passed, not the check "
                      "name.",
                      id);
}

int agent_local_remove_check(struct agent_local *l, const struct acl_authz *authz,
                             const char *id, struct cn_err *err)
{
    struct local_check *c = local_check_get(l, id);
    int rc;
    if (!c) return unknown_check(err, id);
    if ((rc = check_write_allowed(l, authz, c->hc.service_id))) return rc;
    local_remove_check_internal(l, id, true);
    local_changed(l);
    return 0;
}

int agent_local_update_ttl(struct agent_local *l, const struct acl_authz *authz, const char *id,
                           const char *status, const char *output, struct cn_err *err)
{
    struct local_check *c = local_check_get(l, id);
    int rc;
    if (!c) return unknown_check(err, id);
    if ((rc = check_write_allowed(l, authz, c->hc.service_id))) return rc;
    if (c->def.def.ttl_ns <= 0)
        return cn_err_set(err, CN_EUNSUPPORTED, "CheckID \"%s\" does not have associated TTL", id);
    /* Consul's CheckTTL.SetStatus truncation. */
    int64_t max = local_output_max(l, &c->def);
    size_t len = strlen(output);
    char *out = (char *)output;
    if ((int64_t)len > max) {
        out = cn_malloc((size_t)max + 64);
        snprintf(out, (size_t)max + 64, "%.*s ... (captured %lld of %zu bytes)", (int)max, output,
                 (long long)max, len);
    }
    local_check_update(l, c, status, out);
    check_runner_ttl_touch(c);
    if (out != output) free(out);
    return 0;
}

static struct agent_check_def maint_def(const char *id, const char *name, const char *reason,
                                        const char *dflt, const char *service_id)
{
    struct agent_check_def d;
    memset(&d, 0, sizeof d);
    d.id = (char *)id;
    d.name = (char *)name;
    d.status = "critical";
    d.notes = (char *)(reason && *reason ? reason : dflt);
    d.service_id = (char *)(service_id ? service_id : "");
    d.token = "";
    d.failures_before_warning = -1;
    struct state_check_def *f = &d.def;
    f->http = f->method = f->body = f->tls_server_name = f->tcp = f->udp = f->grpc = "";
    f->docker_container_id = f->shell = f->alias_node = f->alias_service = "";
    return d;
}

/* Maintenance checks have no runner and no type fields: add them directly. */
static void add_maint(struct agent_local *l, struct agent_check_def *d, struct local_service *svc)
{
    struct local_check *c = check_new(l, d, svc ? &svc->svc : NULL, "", false);
    c->hc.type = "";
    check_install(l, c, false, LOCAL_SRC_API);
    local_changed(l);
}

int agent_local_service_maintenance(struct agent_local *l, const struct acl_authz *authz,
                                    const char *id, bool enable, const char *reason,
                                    struct cn_err *err)
{
    struct local_service *s = local_service_get(l, id);
    char cid[512];
    if (!s) return cn_err_set(err, CN_ENOENT, "No service registered with ID \"%s\"", id);
    if (!can_write_service(authz, s->svc.name)) return CN_EPERM;
    snprintf(cid, sizeof cid, "%s%s", LOCAL_SERVICE_MAINT_PREFIX, id);
    if (!enable) {
        if (local_check_get(l, cid)) {
            local_remove_check_internal(l, cid, true);
            local_changed(l);
            CN_INFO("agent", "Service left maintenance mode: service=%s", id);
        }
        return 0;
    }
    if (local_check_get(l, cid)) return 0;
    struct agent_check_def d = maint_def(cid, "Service Maintenance Mode", reason,
                                         DEFAULT_SERVICE_MAINT_REASON, id);
    add_maint(l, &d, s);
    CN_INFO("agent", "Service entered maintenance mode: service=%s", id);
    return 0;
}

int agent_local_node_maintenance(struct agent_local *l, const struct acl_authz *authz,
                                 bool enable, const char *reason, struct cn_err *err)
{
    (void)err;
    if (!can_write_node(l, authz)) return CN_EPERM;
    if (!enable) {
        if (local_check_get(l, LOCAL_NODE_MAINT)) {
            local_remove_check_internal(l, LOCAL_NODE_MAINT, true);
            local_changed(l);
            CN_INFO("agent", "Node left maintenance mode");
        }
        return 0;
    }
    if (local_check_get(l, LOCAL_NODE_MAINT)) return 0;
    struct agent_check_def d = maint_def(LOCAL_NODE_MAINT, "Node Maintenance Mode", reason,
                                         DEFAULT_NODE_MAINT_REASON, NULL);
    add_maint(l, &d, NULL);
    CN_INFO("agent", "Node entered maintenance mode");
    return 0;
}

/* ---- reads ----------------------------------------------------------------- */

static int svc_cmp(const void *a, const void *b)
{
    return strcmp((*(const struct state_service *const *)a)->id,
                  (*(const struct state_service *const *)b)->id);
}

static int chk_cmp(const void *a, const void *b)
{
    return strcmp((*(const struct state_check *const *)a)->check_id,
                  (*(const struct state_check *const *)b)->check_id);
}

size_t agent_local_services(struct agent_local *l, const struct state_service ***out)
{
    const struct state_service **v = cn_calloc(cn_map_count(&l->services) + 1, sizeof *v);
    struct cn_map_iter it;
    void *val;
    size_t n = 0;
    cn_map_iter_init(&it, &l->services);
    while (cn_map_iter_next(&it, NULL, &val)) v[n++] = &((struct local_service *)val)->svc;
    qsort(v, n, sizeof *v, svc_cmp);
    *out = v;
    return n;
}

const struct state_service *agent_local_service(struct agent_local *l, const char *id)
{
    struct local_service *s = local_service_get(l, id);
    return s ? &s->svc : NULL;
}

static size_t collect_checks(struct agent_local *l, const char *service_id,
                             const struct state_check ***out)
{
    const struct state_check **v = cn_calloc(cn_map_count(&l->checks) + 1, sizeof *v);
    struct cn_map_iter it;
    void *val;
    size_t n = 0;
    cn_map_iter_init(&it, &l->checks);
    while (cn_map_iter_next(&it, NULL, &val)) {
        const struct state_check *c = &((struct local_check *)val)->hc;
        if (!service_id || !strcmp(c->service_id, service_id)) v[n++] = c;
    }
    qsort(v, n, sizeof *v, chk_cmp);
    *out = v;
    return n;
}

size_t agent_local_checks(struct agent_local *l, const struct state_check ***out)
{
    return collect_checks(l, NULL, out);
}

size_t agent_local_service_checks(struct agent_local *l, const char *service_id,
                                  const struct state_check ***out)
{
    struct cn_list *head = cn_map_get(&l->checks_by_service, cn_str_from(service_id)), *it;
    size_t n = 0;
    if (head) cn_list_foreach(it, head) n++;
    const struct state_check **v = cn_calloc(n + 1, sizeof *v);
    n = 0;
    if (head) cn_list_foreach(it, head) v[n++] = &cn_list_entry(it, struct local_check, by_service)->hc;
    qsort(v, n, sizeof *v, chk_cmp);
    *out = v;
    return n;
}

const struct state_check *agent_local_check(struct agent_local *l, const char *id)
{
    struct local_check *c = local_check_get(l, id);
    return c ? &c->hc : NULL;
}

size_t agent_local_check_count(struct agent_local *l, const char *type)
{
    struct cn_map_iter it;
    void *val;
    size_t n = 0;
    cn_map_iter_init(&it, &l->checks);
    while (cn_map_iter_next(&it, NULL, &val))
        if (!type || !strcmp(((struct local_check *)val)->hc.type, type)) n++;
    return n;
}

/* ---- config files --------------------------------------------------------- */

/* The `services` and `checks` lists of the merged configuration (the
 * loader folds the singular keys into them). */
static int load_files(struct agent_local *l, char ***sids, size_t *nsids, char ***cids,
                      size_t *ncids, struct cn_err *err)
{
    const struct agent_config *cfg = agent_cfg(l->agent);
    json_t *svcs = agent_config_get(cfg, "services"), *chks = agent_config_get(cfg, "checks"), *v;
    size_t i;
    int rc = 0;
    *sids = cn_calloc((json_is_array(svcs) ? json_array_size(svcs) : 0) + 1, sizeof **sids);
    *cids = cn_calloc((json_is_array(chks) ? json_array_size(chks) : 0) + 1, sizeof **cids);
    *nsids = *ncids = 0;
    if (json_is_array(svcs)) json_array_foreach(svcs, i, v) {
            struct cn_arena a;
            struct agent_service_def def;
            cn_arena_init(&a, 4096);
            rc = agent_service_def_decode(v, &a, &def, err);
            if (!rc) rc = local_add_service(l, &def, true, LOCAL_SRC_FILE, err);
            if (!rc)
                (*sids)[(*nsids)++] = cn_strdup(def.svc.id);
            else
                cn_err_wrap(err, "Failed to register service \"%s\"", def.svc.name ? def.svc.name : "");
            cn_arena_release(&a);
            if (rc) return rc;
        }
    if (json_is_array(chks)) json_array_foreach(chks, i, v) {
            struct cn_arena a;
            struct agent_check_def def;
            cn_arena_init(&a, 4096);
            rc = agent_check_def_decode(v, &a, &def, err);
            if (!rc && !*def.name) rc = cn_err_set(err, CN_EINVAL, "Missing check name");
            if (!rc) rc = local_add_check(l, &def, LOCAL_SRC_FILE, err);
            if (!rc)
                (*cids)[(*ncids)++] = cn_strdup(def.id);
            else
                cn_err_wrap(err, "Failed to register check \"%s\"", def.name ? def.name : "");
            cn_arena_release(&a);
            if (rc) return rc;
        }
    return 0;
}

static void free_ids(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

static bool listed(char **v, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i], id)) return true;
    return false;
}

/* File-defined records the files no longer define are removed. */
static void drop_unlisted(struct agent_local *l, char **sids, size_t ns, char **cids, size_t nc)
{
    struct cn_map_iter it;
    struct cn_str key;
    void *val;
    char **gone = cn_calloc(cn_map_count(&l->services) + cn_map_count(&l->checks) + 1, sizeof *gone);
    size_t ng = 0;
    cn_map_iter_init(&it, &l->services);
    while (cn_map_iter_next(&it, &key, &val))
        if (((struct local_service *)val)->from_file && !listed(sids, ns, ((struct local_service *)val)->svc.id))
            gone[ng++] = cn_strdup(((struct local_service *)val)->svc.id);
    for (size_t i = 0; i < ng; i++) local_remove_service_internal(l, gone[i], false);
    free_ids(gone, ng);
    gone = cn_calloc(cn_map_count(&l->checks) + 1, sizeof *gone);
    ng = 0;
    cn_map_iter_init(&it, &l->checks);
    while (cn_map_iter_next(&it, &key, &val)) {
        struct local_check *c = val;
        if (c->from_file && !listed(cids, nc, c->hc.check_id) &&
            !(c->hc.service_id[0] && listed(sids, ns, c->hc.service_id)))
            gone[ng++] = cn_strdup(c->hc.check_id);
    }
    for (size_t i = 0; i < ng; i++) local_remove_check_internal(l, gone[i], false);
    free_ids(gone, ng);
}

/* ---- the reaper --------------------------------------------------------------- */

/* deregister_critical_service_after: a service whose check stayed critical
 * longer than its limit (at least the minimum) is deregistered. */
static void reap(uv_timer_t *t)
{
    struct agent_local *l = t->data;
    struct cn_map_iter it;
    void *val;
    uint64_t now = local_now_ms();
    char **gone = cn_calloc(cn_map_count(&l->checks) + 1, sizeof *gone);
    size_t ng = 0;
    cn_map_iter_init(&it, &l->checks);
    while (cn_map_iter_next(&it, NULL, &val)) {
        struct local_check *c = val;
        int64_t after = c->def.def.deregister_after_ns / CN_NS_PER_MS;
        if (after <= 0 || !*c->hc.service_id || !c->critical_since_ms) continue;
        if (after < l->reap_min_ms) after = l->reap_min_ms;
        if (now - c->critical_since_ms > (uint64_t)after && !listed(gone, ng, c->hc.service_id))
            gone[ng++] = cn_strdup(c->hc.service_id);
    }
    for (size_t i = 0; i < ng; i++) {
        CN_INFO("agent", "Check critical for longer than its limit, deregistering service: service=%s",
                gone[i]);
        local_remove_service_internal(l, gone[i], true);
    }
    if (ng) local_changed(l);
    free_ids(gone, ng);
}

static int64_t env_ms(const char *name, int64_t dflt)
{
    const char *v = getenv(name);
    int64_t ns;
    if (v && *v && !cn_dur_parse(cn_str_from(v), &ns) && ns > 0) return ns / CN_NS_PER_MS;
    return dflt;
}

/* ---- lifecycle ------------------------------------------------------------------ */

int agent_local_start(struct agent *a, struct cn_err *err)
{
    struct agent_local *l = CN_NEW(struct agent_local);
    const struct agent_config *cfg = agent_cfg(a);
    char **sids, **cids;
    size_t ns, nc;
    int rc;
    l->agent = a;
    l->loop = agent_loop(a);
    l->rpc = agent_rpc(a);
    l->node_name = cn_strdup(cfg->node_name);
    l->data_dir = cfg->data_dir && !cfg->dev ? cn_strdup(cfg->data_dir) : NULL;
    cn_map_init(&l->services);
    cn_map_init(&l->checks);
    cn_map_init(&l->checks_by_service);
    cn_map_init(&l->dead_services);
    cn_map_init(&l->dead_checks);
    cn_list_init(&l->next_waiters);
    cn_list_init(&l->watchers);
    /* Test hooks: Consul's reaper minimum (1 m) and interval (30 s). */
    l->reap_min_ms = env_ms("CAIRN_TEST_REAP_MIN", 60 * 1000);
    l->reap_interval_ms = env_ms("CAIRN_TEST_REAP_INTERVAL", 30 * 1000);
    agent_set_local(a, l);
    if ((rc = checks_env_init(l))) return cn_err_set(err, rc, "cannot start check runners");
    ae_init(l);
    if ((rc = persist_load(l, err))) return rc;
    if ((rc = load_files(l, &sids, &ns, &cids, &nc, err))) {
        free_ids(sids, ns);
        free_ids(cids, nc);
        return rc;
    }
    free_ids(sids, ns);
    free_ids(cids, nc);
    uv_timer_init(l->loop, &l->reap);
    l->reap.data = l;
    uv_timer_start(&l->reap, reap, (uint64_t)l->reap_interval_ms, (uint64_t)l->reap_interval_ms);
    l->started = true;
    reconcile_start(l);
    ae_start(l);
    return 0;
}

int agent_local_reload(struct agent_local *l, struct cn_err *err)
{
    char **sids, **cids;
    size_t ns, nc;
    if (!l) return 0;
    int rc = load_files(l, &sids, &ns, &cids, &nc, err);
    if (rc == 0) drop_unlisted(l, sids, ns, cids, nc);
    free_ids(sids, ns);
    free_ids(cids, nc);
    local_changed(l);
    return rc;
}

void agent_local_stop(struct agent_local *l)
{
    struct cn_map_iter it;
    void *val;
    if (!l || l->stopping) return;
    l->stopping = true;
    reconcile_stop(l);
    ae_stop(l);
    if (l->started) uv_close((uv_handle_t *)&l->reap, NULL);
    cn_map_iter_init(&it, &l->checks);
    while (cn_map_iter_next(&it, NULL, &val)) check_free(val);
    cn_map_release(&l->checks);
    cn_map_init(&l->checks);
    checks_env_close(l);
    fire_list(&l->next_waiters);
    fire_list(&l->watchers);
}

void agent_local_free(struct agent_local *l)
{
    struct cn_map_iter it;
    void *val;
    if (!l) return;
    cn_map_iter_init(&it, &l->services);
    while (cn_map_iter_next(&it, NULL, &val)) service_free(val);
    cn_map_release(&l->services);
    cn_map_release(&l->checks);
    cn_map_iter_init(&it, &l->checks_by_service);
    while (cn_map_iter_next(&it, NULL, &val)) free(val);
    cn_map_release(&l->checks_by_service);
    cn_map_release(&l->dead_services);
    cn_map_release(&l->dead_checks);
    free(l->node_name);
    free(l->data_dir);
    free(l);
}
