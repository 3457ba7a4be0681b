/*
 * ae.c - anti-entropy (Consul's agent/ae + local.State.SyncChanges /
 * SyncFull): the agent is the authority for its node in the catalog.
 *
 * A round pushes what is out of sync through the ordinary write path
 * (register/deregister commands via rpc -> Raft -> FSM): services with all
 * their checks, lone checks, removals, and the node record. Changes are
 * coalesced into one round per loop turn; a change made while a round is
 * in flight goes out in the next one. Waiters (an HTTP register that
 * answers once the catalog has it) are released when their round ends.
 *
 * A full sync reads the node's catalog entries, marks what differs as out
 * of sync and schedules removal of what the agent does not know (except
 * serfHealth and the consul service, which the leader owns). It runs at
 * start and then every minute, scaled up with cluster size like Consul's.
 *
 * A client agent has no catalog to check a write against (who may register
 * a service depends on what the node already holds) nor ACL tables, so its
 * writes go to a server as HTTP requests carrying the command and the token
 * (PUT /v1/internal/cairn/catalog-sync), and the server vets them, as
 * Consul's servers vet a client's Catalog.Register.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl/acl.h"
#include "agent/local_int.h"
#include "lib/cn_common.h"
#include "lib/cn_log.h"
#include "lib/cn_time.h"
#include "http/http.h"
#include "rpc/rpc_catalog.h"

#define RETRY_MS (15 * 1000)
#define SYNC_INTERVAL_MS (60 * 1000)

enum wkind { W_SERVICE = 1, W_CHECK, W_NODE, W_DEAD_SERVICE, W_DEAD_CHECK };

struct ae_write {
    struct cn_list link;
    struct agent_local *l;
    enum wkind kind;
    char *id;
    uint64_t gen;
    char **check_ids; /* W_SERVICE: the checks sent along */
    uint64_t *check_gens;
    size_t nchecks;
    struct rpc_write *handle;
    struct http_tunnel *tunnel; /* a client's write, on its way to a server */
    bool submitting, finished;  /* done() may run inside the submit call */
};

/* ---- the writes ------------------------------------------------------------------- */

static void write_free(struct ae_write *w)
{
    for (size_t i = 0; i < w->nchecks; i++) free(w->check_ids[i]);
    free(w->check_ids);
    free(w->check_gens);
    free(w->id);
    free(w);
}

static void round_end(struct agent_local *l);

static void mark_synced(struct agent_local *l, struct ae_write *w)
{
    switch (w->kind) {
    case W_SERVICE: {
        struct local_service *s = local_service_get(l, w->id);
        if (s && s->gen == w->gen) s->in_sync = true;
        for (size_t i = 0; i < w->nchecks; i++) {
            struct local_check *c = local_check_get(l, w->check_ids[i]);
            if (c && c->gen == w->check_gens[i]) c->in_sync = true;
        }
        l->node_in_sync = true;
        break;
    }
    case W_CHECK: {
        struct local_check *c = local_check_get(l, w->id);
        if (c && c->gen == w->gen) c->in_sync = true;
        l->node_in_sync = true;
        break;
    }
    case W_NODE: l->node_in_sync = true; break;
    case W_DEAD_SERVICE: cn_map_del(&l->dead_services, cn_str_from(w->id)); break;
    case W_DEAD_CHECK: cn_map_del(&l->dead_checks, cn_str_from(w->id)); break;
    }
}

static void write_done(void *arg, int rc, const struct rpc_result *res)
{
    struct ae_write *w = arg;
    struct agent_local *l = w->l;
    cn_list_remove(&w->link);
    cn_list_init(&w->link);
    if (rc == 0) {
        mark_synced(l, w);
    } else {
        l->ae.round_failed = true;
        CN_WARN("agent", "Syncing %s %s failed: %s",
                w->kind == W_SERVICE || w->kind == W_DEAD_SERVICE ? "service" : w->kind == W_NODE ? "node" : "check",
                w->id ? w->id : "", res && res->text ? res->text : cn_strerror(rc));
    }
    if (w->submitting)
        w->finished = true; /* submit() frees it */
    else
        write_free(w);
    if (--l->ae.inflight == 0) round_end(l);
}

/* ---- a client's writes, vetted by a server ---------------------------------------- */

static bool is_client(struct agent_local *l)
{
    return !agent_cfg(l->agent)->server;
}

static void remote_written(void *arg, const void *resp, size_t len)
{
    struct ae_write *w = arg;
    const char *p = resp, *body = memmem(p, len, "\r\n\r\n", 4);
    int status = len > 12 && !memcmp(p, "HTTP/1.", 7) ? atoi(p + 9) : 0;
    char text[200] = "no answer";
    struct rpc_result res = {.text = text};
    int rc = 0;
    w->tunnel = NULL;
    if (status != 200) {
        size_t blen = body ? len - (size_t)(body + 4 - p) : 0;
        if (body) snprintf(text, sizeof text, "%.*s", (int)CN_MIN(blen, 150), body + 4);
        text[strcspn(text, "\n")] = 0;
        if (status != 403)
            rc = CN_EIO;
        else
            rc = strncmp(text, "ACL not found", 13) ? CN_EPERM : CN_EACLNOTFOUND;
    }
    write_done(w, rc, rc ? &res : NULL);
}

/* Whether a token can travel in a header and mean the same there. */
static bool header_safe(const char *s)
{
    size_t n = strlen(s);
    if (n && (s[0] == ' ' || s[n - 1] == ' ')) return false;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return false;
    return true;
}

/* done() may run before this returns; the tunnel otherwise. */
static struct http_tunnel *remote_write(struct agent_local *l, struct ae_write *w,
                                        const struct cn_buf *cmd, const char *token)
{
    struct http_server *h = agent_http(l->agent);
    struct cn_buf req;
    if (!h) {
        write_done(w, CN_ENOSERVERS, NULL);
        return NULL;
    }
    if (!*token || strlen(token) > 512 || !header_safe(token)) {
        write_done(w, CN_EACLNOTFOUND, NULL); /* no server knows such a secret */
        return NULL;
    }
    char head[768];
    cn_buf_init(&req, CN_BUF_UNLIMITED);
    int n = snprintf(head, sizeof head,
                     "PUT /v1/internal/cairn/catalog-sync HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "X-Consul-Token: %s\r\nContent-Length: %zu\r\n\r\n",
                     token, cmd->len);
    if (cn_buf_append(&req, head, (size_t)n) || cn_buf_append(&req, cmd->data, cmd->len))
        CN_BUG("an unlimited buffer refused an append");
    struct http_tunnel *t =
        http_server_inject(h, req.data, req.len, "127.0.0.1", 0, remote_written, w);
    cn_buf_release(&req);
    return t;
}

static void submit(struct agent_local *l, struct ae_write *w, struct cn_buf *cmd, const char *token)
{
    w->l = l;
    l->ae.inflight++;
    cn_list_insert_tail(&l->ae.writes, &w->link);
    w->submitting = true;
    struct rpc_write *h = NULL;
    struct http_tunnel *t = NULL;
    if (is_client(l)) {
        /* No token at all is the anonymous token (a Consul client's RPC with
         * an empty token), not the default token of the server it reaches. */
        const char *tok = local_sync_token(l, token);
        t = remote_write(l, w, cmd, *tok ? tok : ACL_ANONYMOUS_SECRET);
    } else {
        h = rpc_write_submit(l->rpc, cmd, write_done, w);
    }
    w->submitting = false;
    if (w->finished) {
        write_free(w);
    } else {
        w->handle = h;
        w->tunnel = t;
    }
}

static const struct acl_authz *authz_for(struct agent_local *l, const char *token)
{
    const struct acl_authz *a = NULL;
    /* A client only encodes (and checks the shape of) its writes; the
     * server they go to vets them with the token (remote_write). */
    if (is_client(l)) {
        if (!l->ae.encode_only) l->ae.encode_only = acl_authz_static(true);
        return l->ae.encode_only;
    }
    if (rpc_authorize(l->rpc, local_sync_token(l, token), &a)) return NULL;
    return a;
}

static void fail_prepare(struct agent_local *l, const char *what, const char *id, int rc,
                         const struct cn_err *err)
{
    l->ae.round_failed = true;
    CN_WARN("agent", "Syncing %s %s refused: %s", what, id,
            rc == CN_EPERM ? "Permission denied" : err->msg[0] ? err->msg : cn_strerror(rc));
}

static void send_register(struct agent_local *l, struct state_register *reg, const char *token,
                          struct ae_write *w)
{
    struct cn_buf cmd;
    struct cn_err err;
    const struct acl_authz *authz = authz_for(l, token);
    cn_buf_init(&cmd, CN_BUF_UNLIMITED);
    int rc = authz ? rpc_catalog_prepare_register(l->rpc, authz, reg, &cmd, &err) : CN_EACLNOTFOUND;
    if (rc) {
        cn_err_clear(&err);
        fail_prepare(l, "registration", w->id ? w->id : l->node_name, rc, &err);
        write_free(w);
    } else {
        submit(l, w, &cmd, token);
    }
    cn_buf_release(&cmd);
}

static void send_deregister(struct agent_local *l, enum wkind kind, const char *id)
{
    struct rpc_deregister_cmd c = {cn_str_from(l->node_name), CN_STR_NULL, CN_STR_NULL};
    struct cn_buf cmd;
    struct cn_err err;
    const struct acl_authz *authz = authz_for(l, NULL);
    if (kind == W_DEAD_SERVICE)
        c.service_id = cn_str_from(id);
    else
        c.check_id = cn_str_from(id);
    cn_buf_init(&cmd, CN_BUF_UNLIMITED);
    cn_err_clear(&err);
    int rc = authz ? rpc_catalog_prepare_deregister(l->rpc, authz, &c, &cmd, &err) : CN_EACLNOTFOUND;
    if (rc) {
        fail_prepare(l, "deregistration", id, rc, &err);
    } else {
        struct ae_write *w = CN_NEW(struct ae_write);
        w->kind = kind;
        w->id = cn_strdup(id);
        submit(l, w, &cmd, NULL);
    }
    cn_buf_release(&cmd);
}

static void sync_service(struct agent_local *l, struct local_service *s, struct cn_map *sent)
{
    struct cn_arena a;
    struct state_node node;
    struct state_register reg = {.node = &node, .service = &s->svc};
    struct ae_write *w = CN_NEW(struct ae_write);
    cn_arena_init(&a, 4096);
    local_node_record(l, &a, &node);
    const struct state_check **cur;
    size_t n = agent_local_service_checks(l, s->svc.id, &cur);
    struct state_check *checks = CN_ARENA_ARRAY(&a, struct state_check, n + 1);
    w->check_ids = cn_calloc(n + 1, sizeof *w->check_ids);
    w->check_gens = cn_calloc(n + 1, sizeof *w->check_gens);
    for (size_t i = 0; i < n; i++) {
        struct local_check *c = local_check_get(l, cur[i]->check_id);
        checks[i] = c->hc;
        w->check_ids[i] = cn_strdup(c->hc.check_id);
        w->check_gens[i] = c->gen;
        cn_map_put(sent, cn_str_from(c->hc.check_id), (void *)1);
    }
    free(cur);
    reg.checks = checks;
    reg.nchecks = n;
    w->nchecks = n;
    w->kind = W_SERVICE;
    w->id = cn_strdup(s->svc.id);
    w->gen = s->gen;
    send_register(l, &reg, s->token, w);
    cn_arena_release(&a);
}

static void sync_check(struct agent_local *l, struct local_check *c)
{
    struct cn_arena a;
    struct state_node node;
    struct local_service *s = *c->hc.service_id ? local_service_get(l, c->hc.service_id) : NULL;
    struct state_register reg = {.node = &node, .service = s ? &s->svc : NULL, .checks = &c->hc,
                                 .nchecks = 1};
    struct ae_write *w = CN_NEW(struct ae_write);
    cn_arena_init(&a, 2048);
    local_node_record(l, &a, &node);
    w->kind = W_CHECK;
    w->id = cn_strdup(c->hc.check_id);
    w->gen = c->gen;
    send_register(l, &reg, c->token, w);
    cn_arena_release(&a);
}

static void sync_node(struct agent_local *l)
{
    struct cn_arena a;
    struct state_node node;
    struct state_register reg = {.node = &node};
    struct ae_write *w = CN_NEW(struct ae_write);
    cn_arena_init(&a, 2048);
    local_node_record(l, &a, &node);
    w->kind = W_NODE;
    send_register(l, &reg, NULL, w);
    cn_arena_release(&a);
}

/* ---- rounds ------------------------------------------------------------------------ */

static bool dirty(struct agent_local *l)
{
    struct cn_map_iter it;
    void *v;
    if (!l->node_in_sync || cn_map_count(&l->dead_services) || cn_map_count(&l->dead_checks))
        return true;
    cn_map_iter_init(&it, &l->services);
    while (cn_map_iter_next(&it, NULL, &v))
        if (!((struct local_service *)v)->in_sync) return true;
    cn_map_iter_init(&it, &l->checks);
    while (cn_map_iter_next(&it, NULL, &v))
        if (!((struct local_check *)v)->in_sync) return true;
    return false;
}

static char **map_keys(struct cn_map *m, size_t *n)
{
    struct cn_map_iter it;
    struct cn_str k;
    char **v = cn_calloc(cn_map_count(m) + 1, sizeof *v);
    *n = 0;
    cn_map_iter_init(&it, m);
    while (cn_map_iter_next(&it, &k, NULL)) v[(*n)++] = cn_str_dup(k);
    return v;
}

static void free_keys(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

static void round_start(struct agent_local *l)
{
    struct ae_state *ae = &l->ae;
    struct cn_map sent;
    size_t n;
    char **keys;
    if (l->stopping || ae->round_active) return;
    ae->round_active = true;
    ae->round_failed = false;
    while (!cn_list_empty(&l->next_waiters)) {
        struct cn_list *x = l->next_waiters.next;
        cn_list_remove(x);
        cn_list_insert_tail(&ae->round_waiters, x);
        cn_list_entry(x, struct agent_wait, link)->on = &ae->round_waiters;
    }
    ae->inflight = 1; /* held until every write is submitted */
    keys = map_keys(&l->dead_services, &n);
    for (size_t i = 0; i < n; i++) send_deregister(l, W_DEAD_SERVICE, keys[i]);
    free_keys(keys, n);
    keys = map_keys(&l->dead_checks, &n);
    for (size_t i = 0; i < n; i++) send_deregister(l, W_DEAD_CHECK, keys[i]);
    free_keys(keys, n);
    size_t submitted = ae->inflight;
    /* Syncing never adds or removes local records (a write's answer only
     * flips in_sync flags), so the maps can be walked directly. */
    struct cn_map_iter it;
    void *v;
    cn_map_init(&sent);
    cn_map_iter_init(&it, &l->services);
    while (cn_map_iter_next(&it, NULL, &v))
        if (!((struct local_service *)v)->in_sync) sync_service(l, v, &sent);
    cn_map_iter_init(&it, &l->checks);
    while (cn_map_iter_next(&it, NULL, &v)) {
        struct local_check *c = v;
        if (!c->in_sync && !cn_map_has(&sent, cn_str_from(c->hc.check_id))) sync_check(l, c);
    }
    cn_map_release(&sent);
    if (!l->node_in_sync && ae->inflight == submitted) sync_node(l);
    if (--ae->inflight == 0) round_end(l);
}

static void retry_fired(uv_timer_t *t)
{
    ae_kick(t->data);
}

static void round_end(struct agent_local *l)
{
    struct ae_state *ae = &l->ae;
    ae->round_active = false;
    /* release this round's waiters */
    while (!cn_list_empty(&ae->round_waiters)) {
        struct agent_wait *w = cn_list_entry(ae->round_waiters.next, struct agent_wait, link);
        cn_list_remove(&w->link);
        void (*done)(void *) = w->done;
        void *arg = w->arg;
        free(w);
        done(arg);
    }
    if (l->stopping) return;
    if (ae->round_failed) {
        uv_timer_start(&ae->retry, retry_fired, RETRY_MS, 0);
        /* waiters queued meanwhile are answered now: the writes failed */
        if (!cn_list_empty(&l->next_waiters)) ae_kick(l);
        return;
    }
    if (dirty(l) || !cn_list_empty(&l->next_waiters)) ae_kick(l);
}

static void kick_fired(uv_timer_t *t)
{
    round_start(t->data);
}

void ae_kick(struct agent_local *l)
{
    if (l->stopping || !l->started) return;
    if (l->ae.round_active) return; /* round_end looks again */
    if (!uv_is_active((uv_handle_t *)&l->ae.kick)) uv_timer_start(&l->ae.kick, kick_fired, 0, 0);
}

/* ---- full sync ---------------------------------------------------------------------- */

static bool same_check(const struct state_check *local, const struct state_check *remote)
{
    return state_check_same(local, remote);
}

static void reconcile_with(struct agent_local *l, const struct rpc_node_dump *r)
{
    struct cn_arena a;
    struct state_node mine;
    cn_arena_init(&a, 2048);
    local_node_record(l, &a, &mine);
    l->node_in_sync = r->node && state_node_same(&mine, r->node);
    cn_arena_release(&a);
    bool server = agent_cfg(l->agent)->server;
    for (size_t i = 0; i < r->nservices; i++) {
        const struct state_service *rs = r->services[i];
        struct local_service *ls = local_service_get(l, rs->id);
        if (!ls) {
            /* the consul service belongs to the leader */
            if (!(server && !strcmp(rs->id, "consul")) && !cn_map_has(&l->dead_services, cn_str_from(rs->id)))
                cn_map_put(&l->dead_services, cn_str_from(rs->id), (void *)1);
            continue;
        }
        if (ls->svc.enable_tag_override) {
            /* catalog-side tag edits win for such services */
            ls->svc.tags = CN_ARENA_ARRAY(&ls->arena, char *, rs->ntags + 1);
            for (size_t t = 0; t < rs->ntags; t++) ls->svc.tags[t] = cn_arena_strdup(&ls->arena, rs->tags[t]);
            ls->svc.ntags = rs->ntags;
        }
        ls->in_sync = state_service_same(&ls->svc, rs);
    }
    struct cn_map_iter it;
    void *v;
    cn_map_iter_init(&it, &l->services);
    while (cn_map_iter_next(&it, NULL, &v)) {
        struct local_service *ls = v;
        bool found = false;
        for (size_t i = 0; i < r->nservices && !found; i++) found = !strcmp(r->services[i]->id, ls->svc.id);
        if (!found) ls->in_sync = false;
    }
    for (size_t i = 0; i < r->nchecks; i++) {
        const struct state_check *rc = r->checks[i];
        struct local_check *lc = local_check_get(l, rc->check_id);
        if (!lc) {
            if (strcmp(rc->check_id, LOCAL_SERF_CHECK))
                cn_map_put(&l->dead_checks, cn_str_from(rc->check_id), (void *)1);
            continue;
        }
        lc->in_sync = same_check(&lc->hc, rc);
    }
    cn_map_iter_init(&it, &l->checks);
    while (cn_map_iter_next(&it, NULL, &v)) {
        struct local_check *lc = v;
        bool found = false;
        for (size_t i = 0; i < r->nchecks && !found; i++) found = !strcmp(r->checks[i]->check_id, lc->hc.check_id);
        if (!found) lc->in_sync = false;
    }
}

static int64_t next_full_ms(struct agent_local *l)
{
    size_t nodes = agent_cfg(l->agent)->server ? state_node_count(rpc_state(l->rpc)) : 1;
    int64_t f = 1;
    if (nodes > 128) f = (int64_t)ceil(log2((double)nodes) - log2(128.0)) + 1;
    int64_t base = l->ae.interval_ms;
    return base + (int64_t)((uint64_t)rand() % (uint64_t)(f * base));
}

static void full_fired(uv_timer_t *t)
{
    ae_full_sync(t->data);
}

/* The read ended: rc 0 with the catalog's view, or why not. */
static void full_finish(struct agent_local *l, int rc, const char *msg, const struct rpc_node_dump *r)
{
    if (rc) {
        if (rc == CN_ENOSERVERS)
            CN_DEBUG("agent", "Full sync skipped: %s", cn_strerror(rc));
        else
            CN_WARN("agent", "Syncing the node's catalog entries failed: %s",
                    msg && *msg ? msg : cn_strerror(rc));
        uv_timer_start(&l->ae.full, full_fired, RETRY_MS, 0);
    } else {
        reconcile_with(l, r);
        CN_DEBUG("agent", "Node info in sync");
        uv_timer_start(&l->ae.full, full_fired, (uint64_t)next_full_ms(l), 0);
        ae_kick(l);
    }
    if (l->ae.full_wanted) {
        l->ae.full_wanted = false;
        ae_full_sync(l);
    }
}

static void full_done(struct rpc_query *q, int rc)
{
    struct agent_local *l = q->arg;
    l->ae.fullq = NULL;
    full_finish(l, rc, q->err.msg, q->resp);
    rpc_query_free(q);
}

/* A client agent's read: forwarded through its own HTTP API to a server. */
static void remote_done(void *arg, const void *resp, size_t len)
{
    struct agent_local *l = arg;
    const char *p = resp, *body = memmem(p, len, "\r\n\r\n", 4);
    int status = len > 12 && !memcmp(p, "HTTP/1.", 7) ? atoi(p + 9) : 0;
    struct rpc_node_dump d;
    struct cn_arena a;
    l->ae.tunnel = NULL;
    l->ae.fullq_remote = false;
    cn_arena_init(&a, 4096);
    if (status != 200 || !body) {
        char msg[160] = "";
        if (body) snprintf(msg, sizeof msg, "%.*s", (int)CN_MIN(len - (size_t)(body + 4 - p), 150), body + 4);
        full_finish(l, status == 500 && strstr(msg, "No known Consul servers") ? CN_ENOSERVERS : CN_EIO, msg, NULL);
    } else if (rpc_node_dump_decode(body + 4, len - (size_t)(body + 4 - p), &a, &d)) {
        full_finish(l, CN_ECORRUPT, "malformed node dump", NULL);
    } else {
        full_finish(l, 0, NULL, &d);
    }
    cn_arena_release(&a);
}

static void remote_read(struct agent_local *l)
{
    struct http_server *h = agent_http(l->agent);
    const char *tok = local_sync_token(l, NULL);
    char req[1024], node[512];
    size_t o = 0;
    for (const char *c = l->node_name; *c && o + 4 < sizeof node; c++) {
        unsigned char ch = (unsigned char)*c;
        if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.') node[o++] = (char)ch;
        else o += (size_t)snprintf(node + o, sizeof node - o, "%%%02X", ch);
    }
    node[o] = 0;
    int n = snprintf(req, sizeof req, "GET /v1/internal/cairn/node-dump/%s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s%s\r\n",
                     node, *tok ? "X-Consul-Token: " : "", tok, *tok ? "\r\n" : "");
    if (!h || n < 0 || (size_t)n >= sizeof req) {
        full_finish(l, CN_ENOSERVERS, NULL, NULL);
        return;
    }
    l->ae.fullq_remote = true;
    /* remote_done may run before inject returns */
    struct http_tunnel *t = http_server_inject(h, req, (size_t)n, "127.0.0.1", 0, remote_done, l);
    if (t) l->ae.tunnel = t;
}

void ae_full_sync(struct agent_local *l)
{
    if (l->stopping) return;
    if (l->ae.fullq || l->ae.fullq_remote) {
        l->ae.full_wanted = true;
        return;
    }
    if (!agent_cfg(l->agent)->server) {
        remote_read(l);
        return;
    }
    struct rpc_query *q = rpc_query_new(l->rpc);
    const struct acl_authz *a = authz_for(l, NULL);
    q->authz = a;
    q->opts.token = local_sync_token(l, NULL);
    q->run = rpc_node_dump_run;
    q->req = l->node_name;
    q->done = full_done;
    q->arg = l;
    l->ae.fullq = q;
    rpc_query_start(q);
}

/* ---- lifecycle ------------------------------------------------------------------------- */

void ae_init(struct agent_local *l)
{
    struct ae_state *ae = &l->ae;
    uv_timer_init(l->loop, &ae->kick);
    uv_timer_init(l->loop, &ae->full);
    uv_timer_init(l->loop, &ae->retry);
    ae->kick.data = ae->full.data = ae->retry.data = l;
    cn_list_init(&ae->round_waiters);
    cn_list_init(&ae->writes);
    ae->inited = true;
    const char *v = getenv("CAIRN_TEST_AE_INTERVAL");
    int64_t ns;
    ae->interval_ms = SYNC_INTERVAL_MS;
    if (v && *v && !cn_dur_parse(cn_str_from(v), &ns) && ns >= CN_NS_PER_MS) ae->interval_ms = ns / CN_NS_PER_MS;
}

void ae_start(struct agent_local *l)
{
    ae_full_sync(l);
}

void ae_wait_next_round(struct agent_local *l, struct agent_wait *w)
{
    cn_list_insert_tail(&l->next_waiters, &w->link);
    ae_kick(l);
}

void ae_stop(struct agent_local *l)
{
    struct ae_state *ae = &l->ae;
    struct cn_list *it, *tmp;
    if (!ae->inited) return;
    uv_close((uv_handle_t *)&ae->kick, NULL);
    uv_close((uv_handle_t *)&ae->full, NULL);
    uv_close((uv_handle_t *)&ae->retry, NULL);
    if (ae->fullq) rpc_query_cancel(ae->fullq);
    ae->fullq = NULL;
    if (ae->tunnel) http_tunnel_cancel(ae->tunnel);
    ae->tunnel = NULL;
    /* Writes still in flight: their answers will find nobody. */
    cn_list_foreach_safe(it, tmp, &ae->writes)
    {
        struct ae_write *w = cn_list_entry(it, struct ae_write, link);
        cn_list_remove(&w->link);
        if (w->handle) rpc_write_cancel(w->handle);
        if (w->tunnel) http_tunnel_cancel(w->tunnel);
        write_free(w);
    }
    acl_authz_free(ae->encode_only);
    ae->encode_only = NULL;
}
