/* agent.c - the /v1/agent endpoints answered from the agent's own state. */
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/cluster.h"
#include "agent/coord_sync.h"
#include "agent/local.h"
#include "http/agent_int.h"
#include "http/catalog_int.h"
#include "http/http_int.h"
#include "lib/cn_common.h"
#include "lib/cn_time.h"
#include "lib/cn_version.h"
#include "rpc/rpc_coordinate.h"

static void write_member(struct cn_jw *w, struct agent *a)
{
    const struct agent_config *c = agent_cfg(a);
    char port[16], build[64];
    snprintf(port, sizeof port, "%d", c->server_port);
    snprintf(build, sizeof build, "%s:%s", CN_CONSUL_VERSION, cn_version_revision);
    cn_jw_obj_begin(w);
    cn_jw_key_str(w, "Name", c->node_name);
    cn_jw_key_str(w, "Addr", agent_advertise_addr(a));
    cn_jw_key_u64(w, "Port", (uint64_t)c->serf_lan_port);
    cn_jw_key(w, "Tags");
    cn_jw_obj_begin(w);
    cn_jw_key_str(w, "build", build);
    cn_jw_key_str(w, "dc", c->datacenter);
    cn_jw_key_str(w, "id", agent_node_id(a));
    if (c->server) {
        if (c->bootstrap) cn_jw_key_str(w, "bootstrap", "1");
        if (c->bootstrap_expect) {
            char e[16];
            snprintf(e, sizeof e, "%d", c->bootstrap_expect);
            cn_jw_key_str(w, "expect", e);
        }
        cn_jw_key_str(w, "port", port);
        cn_jw_key_str(w, "raft_vsn", "3");
    }
    cn_jw_key_str(w, "role", c->server ? "consul" : "node");
    cn_jw_key_str(w, "segment", "");
    cn_jw_key_str(w, "vsn", "2");
    cn_jw_key_str(w, "vsn_max", "3");
    cn_jw_key_str(w, "vsn_min", "2");
    cn_jw_obj_end(w);
    cn_jw_key_u64(w, "Status", 1);
    cn_jw_key_u64(w, "ProtocolMin", CN_PROTOCOL_MIN);
    cn_jw_key_u64(w, "ProtocolMax", CN_PROTOCOL_MAX);
    cn_jw_key_u64(w, "ProtocolCur", CN_PROTOCOL_CUR);
    cn_jw_key_u64(w, "DelegateMin", 2);
    cn_jw_key_u64(w, "DelegateMax", 5);
    cn_jw_key_u64(w, "DelegateCur", 4);
    cn_jw_obj_end(w);
}

static void stats_section(struct cn_jw *w, const char *name, const char *const *kv)
{
    cn_jw_key(w, name);
    cn_jw_obj_begin(w);
    for (; kv[0]; kv += 2) cn_jw_key_str(w, kv[0], kv[1]);
    cn_jw_obj_end(w);
}

static void write_stats(struct cn_jw *w, struct http_req *r, struct agent *a)
{
    const struct agent_config *c = agent_cfg(a);
    char last[32], known[8], checks[24] = "0", services[24] = "0", ttls[24] = "0", monitors[24] = "0";
    struct agent_local *l = agent_local(a);
    if (l) {
        const struct state_service **v = NULL;
        snprintf(services, sizeof services, "%zu", agent_local_services(l, &v));
        free(v);
        snprintf(checks, sizeof checks, "%zu", agent_local_check_count(l, NULL));
        snprintf(ttls, sizeof ttls, "%zu", agent_local_check_count(l, "ttl"));
        snprintf(monitors, sizeof monitors, "%zu", agent_local_check_count(l, "script"));
    }
    struct state_store *st = rpc_state(r->env->rpc);
    snprintf(last, sizeof last, "%llu", (unsigned long long)state_last_index(st));
    snprintf(known, sizeof known, "%s", *rpc_leader(r->env->rpc) ? "true" : "false");
    const char *agent_kv[] = {"check_monitors", monitors, "check_ttls", ttls, "checks", checks,
                              "services", services, NULL};
    const char *consul_kv[] = {"bootstrap", c->bootstrap ? "true" : "false", "known_datacenters",
                               "1", "leader", c->server ? "true" : "false", "leader_addr",
                               rpc_leader(r->env->rpc), "server", c->server ? "true" : "false",
                               "known_servers", c->server ? "1" : "0", NULL};
    const char *raft_kv[] = {"applied_index", last, "commit_index", last, "last_log_index", last,
                             "num_peers", "0", "state", c->server ? "Leader" : "Follower", NULL};
    const char *runtime_kv[] = {"arch", "amd64", "os", "linux", "version", "cairn " CN_VERSION, NULL};
    const char *build_kv[] = {"prerelease", "", "revision", cn_version_revision, "version",
                              CN_CONSUL_VERSION, NULL};
    cn_jw_key(w, "Stats");
    cn_jw_obj_begin(w);
    stats_section(w, "agent", agent_kv);
    stats_section(w, "build", build_kv);
    stats_section(w, "consul", consul_kv);
    stats_section(w, "raft", raft_kv);
    stats_section(w, "runtime", runtime_kv);
    (void)known;
    cn_jw_obj_end(w);
}

/* The agent's LAN coordinate; null with disable_coordinates (Consul). */
static void write_self_coord(struct cn_jw *w, struct agent *a)
{
    struct gossip_coord gc = {.error = 1.5, .height = 10.0e-6}; /* a new node's */
    struct state_coord sc;
    if (agent_config_bool(agent_cfg(a), "disable_coordinates", false)) {
        cn_jw_null(w);
        return;
    }
    if (agent_cluster(a)) cluster_coord_self(agent_cluster(a), false, &gc);
    agent_coord_from_gossip(&gc, &sc);
    rpc_json_coord(w, &sc);
}

static void http_agent_self(struct http_req *r)
{
    struct agent *a = r->env->agent;
    const struct agent_config *c = agent_cfg(a);
    struct cn_jw w;
    json_t *meta = agent_config_get(c, "node_meta");
    if (!acl_allow(r->authz, ACL_R_AGENT, cn_str_from(c->node_name), ACL_A_READ)) {
        http_reply_denied(r);
        return;
    }
    http_json_begin(r, &w);
    cn_jw_obj_begin(&w);
    cn_jw_key(&w, "Config");
    cn_jw_obj_begin(&w);
    cn_jw_key_str(&w, "Datacenter", c->datacenter);
    cn_jw_key_str(&w, "PrimaryDatacenter", c->primary_datacenter);
    cn_jw_key_str(&w, "NodeName", c->node_name);
    cn_jw_key_str(&w, "NodeID", agent_node_id(a));
    cn_jw_key_str(&w, "Revision", cn_version_revision);
    cn_jw_key_bool(&w, "Server", c->server);
    cn_jw_key_str(&w, "Version", CN_CONSUL_VERSION);
    cn_jw_key_i64(&w, "SessionTTLMin", c->session_ttl_min_ns);
    cn_jw_obj_end(&w);
    cn_jw_key(&w, "DebugConfig");
    cn_jw_obj_begin(&w);
    cn_jw_key_str(&w, "Datacenter", c->datacenter);
    cn_jw_key_str(&w, "NodeName", c->node_name);
    cn_jw_key_str(&w, "DataDir", c->data_dir ? c->data_dir : "");
    cn_jw_key_bool(&w, "ServerMode", c->server);
    cn_jw_key_bool(&w, "DevMode", c->dev);
    cn_jw_key_str(&w, "ACLDefaultPolicy", c->acl_default_allow ? "allow" : "deny");
    cn_jw_key_bool(&w, "ACLsEnabled", c->acl_enabled);
    char d[CN_DUR_STR_MAX];
    cn_jw_key_str(&w, "SessionTTLMin", cn_dur_format(c->session_ttl_min_ns, d, sizeof d));
    cn_jw_obj_end(&w);
    cn_jw_key(&w, "Coord");
    write_self_coord(&w, a);
    cn_jw_key(&w, "Member");
    write_member(&w, a);
    write_stats(&w, r, a);
    cn_jw_key(&w, "Meta");
    cn_jw_obj_begin(&w);
    cn_jw_key_str(&w, "consul-network-segment", "");
    const char *k;
    json_t *v;
    if (meta) json_object_foreach(meta, k, v) cn_jw_key_str(&w, k, json_is_string(v) ? json_string_value(v) : "");
    cn_jw_obj_end(&w);
    cn_jw_obj_end(&w);
    http_reply_json(r, 200, &w);
}

/* GET /v1/agent/members (?wan): the agent's view of the gossip pool. */
static void write_gossip_member(struct cn_jw *w, const void *obj)
{
    const struct gossip_member *m = obj;
    char ip[64];
    gossip_addr_format_ip(&m->addr, ip, sizeof ip);
    cn_jw_obj_begin(w);
    cn_jw_key_str(w, "Name", m->name);
    cn_jw_key_str(w, "Addr", ip);
    cn_jw_key_u64(w, "Port", m->addr.port);
    cn_jw_key(w, "Tags");
    cn_jw_obj_begin(w);
    for (size_t i = 0; i < m->n_tags; i++) cn_jw_key_str(w, m->tags[i].key, m->tags[i].value);
    cn_jw_obj_end(w);
    cn_jw_key_u64(w, "Status", (uint64_t)m->status);
    static const char *const vsn[] = {"ProtocolMin", "ProtocolMax", "ProtocolCur",
                                      "DelegateMin", "DelegateMax", "DelegateCur"};
    for (int i = 0; i < 6; i++) cn_jw_key_u64(w, vsn[i], m->vsn[i]);
    cn_jw_obj_end(w);
}

struct members_ctx {
    struct http_req *r;
    struct rpc_filter *f;
    struct cn_jw *w;
    bool filtered; /* a member hidden by the token's node rules */
};

static void visit_member(void *ctx, const struct gossip_member *m)
{
    struct members_ctx *mc = ctx;
    if (!acl_allow(mc->r->authz, ACL_R_NODE, cn_str_from(m->name), ACL_A_READ)) {
        mc->filtered = true;
        return;
    }
    if (rpc_filter_match_fn(mc->f, write_gossip_member, m)) write_gossip_member(mc->w, m);
}

static void http_agent_members(struct http_req *r)
{
    struct agent *a = r->env->agent;
    const char *wan = http_param(r, "wan"), *seg = http_param(r, "segment");
    bool want_wan = wan && *wan && strcmp(wan, "0") && strcmp(wan, "false");
    struct rpc_filter *f;
    struct cn_jw w;
    if (want_wan && seg && *seg) {
        http_reply_text(r, 400, "Cannot provide a segment with wan=true");
        return;
    }
    if (!http_parse_filter(r, rpc_fs_member, &f)) return;
    http_json_begin(r, &w);
    cn_jw_arr_begin(&w);
    struct members_ctx mc = {r, f, &w, false};
    if (agent_cluster(a)) cluster_members(agent_cluster(a), want_wan, visit_member, &mc);
    cn_jw_arr_end(&w);
    rpc_filter_free(f);
    if (mc.filtered && r->authz && !acl_is_anonymous(r->authz))
        http_add_header(r, "X-Consul-Results-Filtered-By-Acls", "true");
    http_reply_json(r, 200, &w);
}

/* PUT /v1/agent/token/<type>: in src/http/acl.c with the other ACL endpoints. */
void http_acl_agent_token(struct http_req *r);

const struct http_route http_routes_agent[] = {
    {"/v1/agent/self", M_GET, http_agent_self, 0, ROUTE_LOCAL},
    {"/v1/agent/token/", M_PUT, http_acl_agent_token, 0, ROUTE_LOCAL},
    /* services, checks and the rest of the agent API (agent_local.c); GET is
     * accepted where python3-consul 0.7.1 sends it (docs/compatibility.md) */
    {"/v1/agent/members", M_GET, http_agent_members, 0, ROUTE_LOCAL},
    {"/v1/agent/services", M_GET, http_agent_services, 0, ROUTE_LOCAL},
    {"/v1/agent/service/", M_GET, http_agent_service, 0, ROUTE_LOCAL},
    {"/v1/agent/service/register", M_PUT, http_agent_service_register, 0, ROUTE_LOCAL},
    {"/v1/agent/service/deregister/", M_PUT | M_GET, http_agent_service_deregister, 0, ROUTE_LOCAL},
    {"/v1/agent/service/maintenance/", M_PUT, http_agent_service_maintenance, 0, ROUTE_LOCAL},
    {"/v1/agent/checks", M_GET, http_agent_checks, 0, ROUTE_LOCAL},
    {"/v1/agent/check/register", M_PUT, http_agent_check_register, 0, ROUTE_LOCAL},
    {"/v1/agent/check/deregister/", M_PUT | M_GET, http_agent_check_deregister, 0, ROUTE_LOCAL},
    {"/v1/agent/check/pass/", M_PUT | M_GET, http_agent_check_pass, 0, ROUTE_LOCAL},
    {"/v1/agent/check/warn/", M_PUT | M_GET, http_agent_check_warn, 0, ROUTE_LOCAL},
    {"/v1/agent/check/fail/", M_PUT | M_GET, http_agent_check_fail, 0, ROUTE_LOCAL},
    {"/v1/agent/check/update/", M_PUT, http_agent_check_update, 0, ROUTE_LOCAL},
    {"/v1/agent/maintenance", M_PUT, http_agent_maintenance, 0, ROUTE_LOCAL},
    {"/v1/agent/reload", M_PUT, http_agent_reload, 0, ROUTE_LOCAL},
    {"/v1/agent/join/", M_PUT | M_GET, http_agent_join, 0, ROUTE_LOCAL},
    {"/v1/agent/leave", M_PUT, http_agent_leave, 0, ROUTE_LOCAL},
    {"/v1/agent/force-leave/", M_PUT | M_GET, http_agent_force_leave, 0, ROUTE_LOCAL},
    {"/v1/agent/metrics", M_GET, http_agent_metrics, 0, ROUTE_LOCAL},
    {"/v1/agent/health/service/id/", M_GET, http_agent_health_service_id, 0, ROUTE_LOCAL},
    {"/v1/agent/health/service/name/", M_GET, http_agent_health_service_name, 0, ROUTE_LOCAL},
    HTTP_ROUTES_END,
};
