/*
 * dns_server.c - the agent's DNS interface: configuration, one query's way
 * from parsed question to reply, and the reads behind it.
 *
 * A server agent answers from its own store (an rpc_query in stale mode: the
 * run function reads and builds the whole reply in one callback, so nothing
 * is copied out of the store). Everything else reads through the agent's own
 * HTTP API with an internal request (http_server_inject), which the agent's
 * router forwards to a server as it does for any client read.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl/acl.h"
#include "agent/config.h"
#include "agent/dns_server_int.h"
#include "http/http.h"
#include "lib/cn_arena.h"
#include "lib/cn_common.h"
#include "lib/cn_log.h"
#include "lib/cn_time.h"
#include "rpc/rpc.h"
#include "state/state.h"

/* ---- configuration ---------------------------------------------------------- */

static uint32_t secs(int64_t ns)
{
    return ns > 0 ? (uint32_t)CN_MIN(ns / CN_NS_PER_S, (int64_t)INT32_MAX) : 0;
}

static uint32_t soa_val(const struct agent_config *c, const char *key, int64_t dflt)
{
    int64_t v = agent_config_int(c, key, dflt);
    return v < 0 ? 0 : (uint32_t)CN_MIN(v, (int64_t)INT32_MAX);
}

/* dns_config.* and recursors from the agent's configuration. */
static struct dns_config *load_config(const struct agent_config *c, struct dns_recursors *rec,
                                      struct cn_err *err)
{
    struct dns_config *cfg = CN_NEW(struct dns_config);
    dns_config_init(cfg, c->datacenter);
    const char *alt = agent_config_str(c, "alt_domain", "");
    if (dns_config_set_zone(cfg, 0, c->domain ? c->domain : "consul.") ||
        dns_config_set_zone(cfg, 1, alt)) {
        cn_err_set(err, CN_EINVAL, "DNS domain '%s' or alt_domain '%s' is not a valid name",
                   c->domain, alt);
        free(cfg);
        return NULL;
    }
    cfg->allow_stale = agent_config_bool(c, "dns_config.allow_stale", true);
    cfg->max_stale_ns = agent_config_dur(c, "dns_config.max_stale", cfg->max_stale_ns);
    cfg->node_ttl = secs(agent_config_dur(c, "dns_config.node_ttl", 0));
    cfg->udp_answer_limit = (int)agent_config_int(c, "dns_config.udp_answer_limit", 3);
    cfg->a_record_limit = (int)agent_config_int(c, "dns_config.a_record_limit", 0);
    cfg->enable_truncate = agent_config_bool(c, "dns_config.enable_truncate", false);
    cfg->only_passing = agent_config_bool(c, "dns_config.only_passing", false);
    cfg->disable_compression = agent_config_bool(c, "dns_config.disable_compression", false);
    cfg->node_meta_txt = agent_config_bool(c, "dns_config.enable_additional_node_meta_txt", true);
    cfg->soa_refresh = soa_val(c, "dns_config.soa.refresh", 3600);
    cfg->soa_retry = soa_val(c, "dns_config.soa.retry", 600);
    cfg->soa_expire = soa_val(c, "dns_config.soa.expire", 86400);
    cfg->soa_min_ttl = soa_val(c, "dns_config.soa.min_ttl", 0);
    json_t *ttls = agent_config_get(c, "dns_config.service_ttl"), *v;
    const char *k;
    if (json_is_object(ttls)) {
        json_object_foreach(ttls, k, v) {
            int64_t ns = 0;
            if (json_is_string(v)) cn_dur_parse(cn_str_from(json_string_value(v)), &ns);
            else if (json_is_integer(v)) ns = json_integer_value(v);
            dns_config_add_ttl(cfg, k, ns);
        }
    }
    memset(rec, 0, sizeof *rec);
    const char *strategy = agent_config_str(c, "dns_config.recursor_strategy", "sequential");
    rec->random = !strcmp(strategy, "random");
    int64_t to = agent_config_dur(c, "dns_config.recursor_timeout", 2 * CN_NS_PER_S);
    rec->timeout_ms = to > 0 ? (uint64_t)(to / CN_NS_PER_MS) : 2000;
    if (!rec->timeout_ms) rec->timeout_ms = 1;
    json_t *list = agent_config_get(c, "recursors");
    size_t i;
    json_array_foreach(list, i, v) {
        if (!json_is_string(v) || rec->n == DNS_RECURSORS_MAX) continue;
        if (dns_recursors_parse(json_string_value(v), &rec->addr[rec->n], &rec->len[rec->n])) {
            CN_WARN("dns", "Invalid recursor address: %s", json_string_value(v));
            continue;
        }
        rec->n++;
    }
    cfg->recursors = rec->n > 0;
    return cfg;
}

static void free_config(struct dns_config *cfg)
{
    if (!cfg) return;
    dns_config_release(cfg);
    free(cfg);
}

void dns_server_reload(struct dns_server *s)
{
    struct cn_err err;
    struct dns_recursors rec;
    if (!s) return;
    struct dns_config *cfg = load_config(s->acfg, &rec, &err);
    if (!cfg) {
        CN_ERROR("dns", "Keeping the DNS configuration: %s", err.msg);
        return;
    }
    /* Pending lookups keep no pointer into the old configuration. */
    free_config(s->cfg);
    s->cfg = cfg;
    s->rec = rec;
}

/* ---- jobs ------------------------------------------------------------------- */

struct dns_job *dns_job_get(struct dns_server *s)
{
    struct dns_job *j;
    if (s->closing || s->njobs >= DNS_JOBS_MAX) return NULL;
    if (!cn_list_empty(&s->free_jobs)) {
        j = cn_list_entry(s->free_jobs.next, struct dns_job, link);
        cn_list_remove(&j->link);
    } else {
        j = CN_NEW(struct dns_job);
    }
    j->s = s;
    j->udp = NULL;
    j->conn = NULL;
    j->q = NULL;
    j->tunnel = NULL;
    j->fwd = NULL;
    j->pkt = NULL;
    j->peer_len = 0;
    cn_list_insert_tail(&s->jobs, &j->link);
    s->njobs++;
    return j;
}

void dns_job_put(struct dns_job *j)
{
    struct dns_server *s = j->s;
    cn_list_remove(&j->link);
    s->njobs--;
    free(j->pkt);
    j->pkt = NULL;
    if (j->conn) dns_conn_unref(j->conn);
    j->conn = NULL;
    cn_list_insert_head(&s->free_jobs, &j->link);
}

static uint64_t now_s(void)
{
    return (uint64_t)(cn_wall_ns() / CN_NS_PER_S);
}

static void answer(struct dns_job *j, enum dns_lookup_rc rc, struct dns_inst *in, size_t n)
{
    struct dns_server *s = j->s;
    size_t len = dns_answer(s->b, s->cfg, &j->req, rc, in, n, now_s(), s->out, sizeof s->out);
    if (len) dns_reply(j, s->out, len);
    dns_job_put(j);
}

static void recurse(struct dns_job *j, const uint8_t *pkt, size_t len)
{
    if (!j->pkt) {
        j->pkt = cn_memdup(pkt, len);
        j->pkt_len = len;
    }
    dns_forward(j);
}

/* ---- reads through the HTTP API (client agents, non-stale reads) -------------- */

static size_t url_escape(const char *in, char *out, size_t cap)
{
    static const char hexd[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *in && o + 4 < cap; in++) {
        unsigned char ch = (unsigned char)*in;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            out[o++] = (char)ch;
        } else {
            out[o++] = '%';
            out[o++] = hexd[ch >> 4];
            out[o++] = hexd[ch & 15];
        }
    }
    out[o] = '\0';
    return o;
}

static const char *worst_of(json_t *checks)
{
    int worst = 0;
    size_t i;
    json_t *c;
    json_array_foreach(checks, i, c) {
        const char *st = json_string_value(json_object_get(c, "Status"));
        int rank = !st || !strcmp(st, "passing") ? 0 : !strcmp(st, "warning") ? 1 : 2;
        worst = CN_MAX(worst, rank);
    }
    return worst == 0 ? "passing" : worst == 1 ? "warning" : "critical";
}

static struct cn_str jstr(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return cn_str_from(v ? v : "");
}

static struct dns_inst node_inst(struct cn_arena *a, json_t *node)
{
    struct dns_inst in = {.node = jstr(node, "Node"), .node_addr = jstr(node, "Address")};
    json_t *meta = json_object_get(node, "Meta"), *v;
    const char *k;
    if (json_is_object(meta) && json_object_size(meta)) {
        struct state_pair *p = CN_ARENA_ARRAY(a, struct state_pair, json_object_size(meta));
        json_object_foreach(meta, k, v) {
            if (!json_is_string(v)) continue;
            p[in.nmeta].key = (char *)k;
            p[in.nmeta++].value = (char *)json_string_value(v);
        }
        in.meta = p;
    }
    return in;
}

/* Fill s->insts from an HTTP answer's JSON; false when it is not what we asked for. */
static bool insts_from_json(struct dns_job *j, struct cn_arena *a, json_t *root)
{
    struct dns_server *s = j->s;
    struct dns_insts *l = &s->insts;
    size_t i;
    json_t *row;
    l->n = 0;
    switch (j->need) {
    case DNS_NEED_SERVICE:
    case DNS_NEED_SERVERS:
        if (!json_is_array(root)) return false;
        json_array_foreach(root, i, row) {
            json_t *svc = json_object_get(row, "Service"), *w = json_object_get(svc, "Weights");
            const char *worst = worst_of(json_object_get(row, "Checks"));
            if (!strcmp(worst, "critical") || (s->cfg->only_passing && strcmp(worst, "passing")))
                continue;
            struct dns_inst in = node_inst(a, json_object_get(row, "Node"));
            in.svc_addr = jstr(svc, "Address");
            json_int_t port = json_integer_value(json_object_get(svc, "Port"));
            in.port = (uint16_t)(port > 0 && port <= 65535 ? port : 0);
            in.weight = dns_weight(json_integer_value(json_object_get(w, "Passing")),
                                   json_integer_value(json_object_get(w, "Warning")), worst);
            dns_insts_push(l, &in);
        }
        return true;
    case DNS_NEED_NODE:
        if (json_is_object(root) && json_is_object(json_object_get(root, "Node"))) {
            struct dns_inst in = node_inst(a, json_object_get(root, "Node"));
            dns_insts_push(l, &in);
        }
        return json_is_object(root) || json_is_null(root);
    case DNS_NEED_PTR:
        if (!json_is_array(root)) return false;
        json_array_foreach(root, i, row) {
            struct dns_inst in = node_inst(a, row);
            uint8_t ip[16];
            if (dns_parse_ip(in.node_addr, ip) == j->req.addr_len &&
                !memcmp(ip, j->req.addr, j->req.addr_len)) {
                dns_insts_push(l, &in);
                break;
            }
        }
        return true;
    default:
        return false;
    }
}

static void http_done(void *arg, const void *resp, size_t len)
{
    struct dns_job *j = arg;
    struct dns_server *s = j->s;
    const char *p = resp, *body = memmem(p, len, "\r\n\r\n", 4);
    int status = len > 12 && !memcmp(p, "HTTP/1.", 7) ? atoi(p + 9) : 0;
    j->tunnel = NULL;
    if (status != 200 || !body) {
        CN_DEBUG("dns", "lookup answered HTTP %d", status);
        answer(j, DNS_LK_ERROR, NULL, 0);
        return;
    }
    body += 4;
    json_t *root = json_loadb(body, len - (size_t)(body - p), JSON_DECODE_ANY, NULL);
    struct cn_arena a;
    cn_arena_init(&a, 4096);
    if (!root || !insts_from_json(j, &a, root)) {
        answer(j, DNS_LK_ERROR, NULL, 0);
    } else if (j->need == DNS_NEED_PTR && !s->insts.n && s->cfg->recursors && j->pkt) {
        dns_forward(j);
    } else {
        answer(j, DNS_LK_OK, s->insts.v, s->insts.n);
    }
    cn_arena_release(&a);
    json_decref(root);
}

static void http_lookup(struct dns_job *j, bool stale)
{
    struct dns_server *s = j->s;
    const struct dns_req *r = &j->req;
    char path[1200], a[800], b[800];
    char q[DNS_LABEL_MAX * 3 + 48];
    /* The server that answers a stale read re-asks the leader when its last
     * contact is above max_stale (Consul's DNS does the same from here);
     * default mode is named (?leader) so discovery_max_stale leaves it be. */
    int ql = stale && s->cfg->max_stale_ns > 0
                 ? snprintf(q, sizeof q, "max_stale=%" PRId64 "ns", s->cfg->max_stale_ns)
                 : snprintf(q, sizeof q, "leader");
    if (dns_req_remote_dc(s->cfg, r)) {
        url_escape(r->dc, a, sizeof a);
        snprintf(q + ql, sizeof q - (size_t)ql, "%sdc=%s", ql ? "&" : "", a);
    }
    if (!s->http) {
        CN_WARN("dns", "no HTTP API to read through: answering SERVFAIL");
        answer(j, DNS_LK_ERROR, NULL, 0);
        return;
    }
    switch (j->need) {
    case DNS_NEED_SERVICE:
        url_escape(r->service, a, sizeof a);
        url_escape(r->tag, b, sizeof b);
        snprintf(path, sizeof path, "/v1/health/service/%s?%s%s%s%s", a, q, *b ? "&tag=" : "", b,
                 s->cfg->only_passing ? "&passing" : "");
        break;
    case DNS_NEED_SERVERS:
        snprintf(path, sizeof path, "/v1/health/service/consul?%s", q);
        break;
    case DNS_NEED_NODE:
        url_escape(r->node, a, sizeof a);
        snprintf(path, sizeof path, "/v1/catalog/node/%s?%s", a, q);
        break;
    default: /* PTR: node addresses (service addresses are only searched on servers) */
        snprintf(path, sizeof path, "/v1/catalog/nodes?%s", q);
        break;
    }
    const char *tok = acl_agent_token(s->acl, ACL_TOKEN_DNS);
    if (!*tok) tok = acl_agent_token(s->acl, ACL_TOKEN_DEFAULT);
    char req[2048];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s%s\r\n", path,
                     *tok ? "X-Consul-Token: " : "", tok, *tok ? "\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof req) {
        answer(j, DNS_LK_ERROR, NULL, 0);
        return;
    }
    /* http_done may run before inject returns (an answer from this agent). */
    struct http_tunnel *t = http_server_inject(s->http, req, (size_t)n, "127.0.0.1", 0, http_done, j);
    if (t) j->tunnel = t;
}

/* ---- reads from the local store (servers, stale mode) ------------------------- */

static int run_lookup(struct rpc_query *q, struct state_store *st, struct state_watch_set *ws)
{
    struct dns_job *j = q->arg;
    struct dns_server *s = j->s;
    const struct dns_req *r = &j->req;
    (void)ws;
    s->insts.n = 0;
    switch (j->need) {
    case DNS_NEED_SERVICE:
        q->meta.index = dns_cache_service(s->cache, st, q->authz, cn_str_from(r->service),
                                          cn_str_from(r->tag), s->cfg->only_passing, &s->insts);
        break;
    case DNS_NEED_SERVERS:
        q->meta.index = dns_cache_service(s->cache, st, q->authz, CN_STR("consul"), CN_STR_NULL,
                                          s->cfg->only_passing, &s->insts);
        break;
    case DNS_NEED_NODE:
        q->meta.index = dns_lookup_node(st, q->authz, cn_str_from(r->node), &s->insts);
        break;
    case DNS_NEED_PTR:
        dns_lookup_addr(st, q->authz, r->addr, r->addr_len, &s->insts);
        if (!s->insts.n && s->cfg->recursors) {
            s->out_len = 0; /* forwarded from done */
            return 0;
        }
        break;
    }
    /* Built here: the records are borrowed from the store until its next write. */
    s->out_len = dns_answer(s->b, s->cfg, r, DNS_LK_OK, s->insts.v, s->insts.n, now_s(), s->out,
                            sizeof s->out);
    return 0;
}

static void done_lookup(struct rpc_query *q, int rc)
{
    struct dns_job *j = q->arg;
    struct dns_server *s = j->s;
    uint64_t lc_ms = q->meta.last_contact_ms;
    j->q = NULL;
    rpc_query_free(q);
    if (rc) {
        CN_DEBUG("dns", "lookup failed: %s", cn_strerror(rc));
        answer(j, DNS_LK_ERROR, NULL, 0);
        return;
    }
    if ((int64_t)lc_ms * CN_NS_PER_MS > s->cfg->max_stale_ns) {
        /* Too stale: read again in default mode, through the leader. */
        http_lookup(j, false);
        return;
    }
    if (!s->out_len && j->need == DNS_NEED_PTR) {
        dns_forward(j);
        return;
    }
    if (s->out_len) dns_reply(j, s->out, s->out_len);
    dns_job_put(j);
}

static void local_lookup(struct dns_job *j)
{
    struct dns_server *s = j->s;
    const struct acl_authz *authz;
    int rc = acl_resolve_agent(s->acl, ACL_TOKEN_DNS, cn_wall_ns(), &authz);
    if (rc) {
        CN_WARN("dns", "DNS token: %s", cn_strerror(rc));
        answer(j, DNS_LK_ERROR, NULL, 0);
        return;
    }
    struct rpc_query *q = rpc_query_new(s->rpc);
    q->opts.mode = RPC_MODE_STALE;
    q->opts.max_stale_ns = s->cfg->max_stale_ns;
    q->authz = authz;
    q->run = run_lookup;
    q->done = done_lookup;
    q->arg = j;
    j->q = q;
    rpc_query_start(q);
}

/* ---- one query ------------------------------------------------------------------ */

void dns_handle(struct dns_server *s, struct dns_job *j, const uint8_t *pkt, size_t len)
{
    int need = dns_req_parse(s->cfg, pkt, len, j->conn != NULL, &j->req);
    if (need < 0) {
        dns_job_put(j);
        return;
    }
    j->need = need;
    switch (need) {
    case DNS_NEED_NONE:
        answer(j, DNS_LK_OK, NULL, 0);
        return;
    case DNS_NEED_RECURSE:
        recurse(j, pkt, len);
        return;
    case DNS_NEED_PTR:
        /* kept for forwarding a miss */
        if (s->cfg->recursors) {
            j->pkt = cn_memdup(pkt, len);
            j->pkt_len = len;
        }
        break;
    case DNS_NEED_SERVICE:
    case DNS_NEED_NODE:
        /* another datacenter's answer comes from its servers: the HTTP
         * read carries ?dc= and the router forwards it over the WAN */
        if (dns_req_remote_dc(s->cfg, &j->req)) {
            http_lookup(j, s->cfg->allow_stale);
            return;
        }
        break;
    default:
        break;
    }
    if (s->is_server && s->cfg->allow_stale)
        local_lookup(j);
    else
        http_lookup(j, s->cfg->allow_stale);
}

/* ---- lifecycle ------------------------------------------------------------------ */

int dns_server_start(const struct dns_server_env *env, struct dns_server **out, struct cn_err *err)
{
    const struct agent_config *c = env->cfg;
    *out = NULL;
    if (c->dns_port < 0) return 0;
    struct dns_server *s = CN_NEW(struct dns_server);
    s->loop = env->loop;
    s->acfg = env->cfg;
    s->rpc = env->rpc;
    s->acl = env->acl;
    s->http = env->http;
    s->is_server = c->server;
    cn_list_init(&s->jobs);
    cn_list_init(&s->free_jobs);
    cn_list_init(&s->conns);
    s->cfg = load_config(c, &s->rec, err);
    if (!s->cfg) {
        free(s);
        return CN_EINVAL;
    }
    s->b = dns_builder_new(cn_rand_os_u64());
    s->cache = dns_cache_new();
    cn_rand_seed(&s->rand, cn_rand_os_u64());
    s->refs = 1;
    char addrs[512];
    snprintf(addrs, sizeof addrs, "%s", c->dns_addr ? c->dns_addr : "127.0.0.1");
    char *save = NULL;
    for (char *ip = strtok_r(addrs, " ", &save); ip; ip = strtok_r(NULL, " ", &save)) {
        int rc = dns_listen(s, ip, c->dns_port, err);
        if (rc) {
            dns_server_close(s);
            return rc;
        }
        CN_INFO("agent", "Started DNS server: address=%s:%d network=udp", ip, c->dns_port);
        CN_INFO("agent", "Started DNS server: address=%s:%d network=tcp", ip, c->dns_port);
    }
    *out = s;
    return 0;
}

void dns_server_unref(struct dns_server *s)
{
    if (--s->refs > 0) return;
    while (!cn_list_empty(&s->free_jobs)) {
        struct dns_job *j = cn_list_entry(s->free_jobs.next, struct dns_job, link);
        cn_list_remove(&j->link);
        free(j);
    }
    dns_builder_free(s->b);
    dns_cache_free(s->cache);
    dns_insts_release(&s->insts);
    free_config(s->cfg);
    free(s);
}

void dns_server_close(struct dns_server *s)
{
    if (!s || s->closing) return;
    s->closing = true;
    while (!cn_list_empty(&s->jobs)) {
        struct dns_job *j = cn_list_entry(s->jobs.next, struct dns_job, link);
        if (j->q) rpc_query_cancel(j->q);
        if (j->tunnel) http_tunnel_cancel(j->tunnel);
        if (j->fwd) dns_forward_cancel(j->fwd);
        j->q = NULL;
        j->tunnel = NULL;
        j->fwd = NULL;
        dns_job_put(j);
    }
    dns_net_close(s);
    dns_server_unref(s);
}
