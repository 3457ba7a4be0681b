/*
 * reconcile.c - the leader's member reconciliation (Consul's
 * leader.go reconcileMember): gossip decides who is in the catalog.
 *
 * On every LAN membership change, when leadership is gained and every
 * minute, the leader makes the catalog agree with the pool:
 *   alive  -> node registered, serfHealth passing ("Agent alive and
 *             reachable"), servers with the consul service;
 *   failed -> serfHealth critical ("Agent not live or unreachable"); the
 *             node's services stay, so they drop out of health queries and
 *             DNS, and sessions bound to serfHealth are invalidated;
 *   left   -> node deregistered with everything on it;
 *   gone   -> a catalog node with a serfHealth check that gossip no longer
 *             knows (reaped) is deregistered.
 * Internal writes of the leader itself: no ACL check. Only the leader
 * writes, so followers' views of a flapping member never fight.
 */
#include <string.h>

#include "agent/cluster.h"
#include "agent/local_int.h"
#include "lib/cn_common.h"
#include "lib/cn_log.h"
#include "lib/cn_map.h"
#include "lib/cn_version.h"
#include "rpc/rpc_cmd.h"

#define RECONCILE_MS (60 * 1000)
/* memberlist's LAN push-pull interval: by then gossip has heard of everyone */
#define REAP_GRACE_MS (30 * 1000)
#define SERF_ALIVE "Agent alive and reachable"
#define SERF_DEAD "Agent not live or unreachable"

static void consul_service(const char *node, int port, struct cn_arena *a, struct state_service *s)
{
    static struct state_pair meta[] = {
        {"raft_version", "3"},         {"serf_protocol_current", "2"},
        {"serf_protocol_max", "5"},    {"serf_protocol_min", "1"},
        {"version", CN_CONSUL_VERSION},
    };
    memset(s, 0, sizeof *s);
    s->node = (char *)node;
    s->kind = s->address = s->socket_path = s->proxy = s->connect = "";
    s->id = s->name = "consul";
    s->tags = CN_ARENA_ARRAY(a, char *, 1);
    s->port = port;
    s->weight_passing = s->weight_warning = 1;
    s->meta = meta;
    s->nmeta = CN_ARRAY_SIZE(meta);
}

static void serf_check(const char *node, bool alive, struct state_check *c)
{
    memset(c, 0, sizeof *c);
    c->node = (char *)node;
    c->check_id = LOCAL_SERF_CHECK;
    c->name = "Serf Health Status";
    c->status = alive ? "passing" : "critical";
    c->notes = c->service_id = c->service_name = c->type = "";
    c->output = alive ? SERF_ALIVE : SERF_DEAD;
    struct state_check_def *d = &c->def;
    d->http = d->method = d->body = d->tls_server_name = d->tcp = d->udp = d->grpc = "";
    d->docker_container_id = d->shell = d->alias_node = d->alias_service = "";
}

static void applied(void *arg, int rc, const struct rpc_result *res)
{
    (void)arg;
    if (rc && rc != CN_ENOLEADER)
        CN_WARN("leader", "member reconciliation write failed: %s",
                res && res->text ? res->text : cn_strerror(rc));
}

static bool is_leader(struct agent_local *l)
{
    struct server *s = agent_server(l->agent);
    return s && server_is_leader(s);
}

static void submit_register(struct agent_local *l, const struct state_register *reg)
{
    struct cn_buf cmd;
    cn_buf_init(&cmd, CN_BUF_UNLIMITED);
    rpc_register_encode(reg, &cmd);
    rpc_write_submit(l->rpc, &cmd, applied, NULL);
    cn_buf_release(&cmd);
}

static void alive_member(struct agent_local *l, const struct gossip_member *m, const char *ip,
                         struct cn_arena *a)
{
    struct state_store *st = rpc_state(l->rpc);
    struct cn_str name = cn_str_from(m->name);
    const char *role = gossip_member_tag(m, "role"), *port = gossip_member_tag(m, "port");
    bool server = role && !strcmp(role, "consul");
    const struct state_node *n = state_node_get(st, name, NULL);
    const struct state_check *c = state_check_get(st, name, CN_STR(LOCAL_SERF_CHECK));
    const struct state_service *svc = state_service_get(st, name, CN_STR("consul"));
    int sport = port ? atoi(port) : 8300;
    bool ok = n && !strcmp(n->address, ip) && c && !strcmp(c->status, "passing") &&
              !strcmp(c->output, SERF_ALIVE) && (!server || (svc && svc->port == sport));
    if (ok) return;
    struct state_node node;
    struct state_service cs;
    struct state_check serf;
    if (!strcmp(m->name, l->node_name)) {
        local_node_record(l, a, &node);
    } else {
        static struct state_pair none[1];
        const char *id = gossip_member_tag(m, "id");
        struct state_pair *tagged = CN_ARENA_ARRAY(a, struct state_pair, 4);
        const char *keys[] = {"lan", "lan_ipv4", "wan", "wan_ipv4"};
        for (int i = 0; i < 4; i++) tagged[i] = (struct state_pair){(char *)keys[i], (char *)ip};
        node = (struct state_node){.id = (char *)(id ? id : ""), .name = (char *)m->name,
                                   .address = (char *)ip, .tagged = tagged, .ntagged = 4,
                                   .meta = none, .nmeta = 0};
    }
    serf_check(m->name, true, &serf);
    if (server) consul_service(m->name, sport, a, &cs);
    /* An existing node keeps the details its own anti-entropy wrote unless
     * its address moved. */
    struct state_register reg = {.node = &node,
                                 .skip_node_update = n != NULL && !strcmp(n->address, ip),
                                 .service = server ? &cs : NULL, .checks = &serf, .nchecks = 1};
    submit_register(l, &reg);
    CN_INFO("leader", "member joined, marking health alive: member=%s", m->name);
}

static void failed_member(struct agent_local *l, const struct gossip_member *m, const char *ip,
                          struct cn_arena *a)
{
    struct state_store *st = rpc_state(l->rpc);
    struct cn_str name = cn_str_from(m->name);
    const struct state_check *c = state_check_get(st, name, CN_STR(LOCAL_SERF_CHECK));
    if (c && !strcmp(c->status, "critical")) return;
    const struct state_node *n = state_node_get(st, name, NULL);
    struct state_node node = {.id = "", .name = (char *)m->name, .address = (char *)ip};
    struct state_check serf;
    (void)a;
    serf_check(m->name, false, &serf);
    struct state_register reg = {.node = n ? (struct state_node *)n : &node,
                                 .skip_node_update = n != NULL, .checks = &serf, .nchecks = 1};
    submit_register(l, &reg);
    CN_INFO("leader", "member failed, marking health critical: member=%s", m->name);
}

static void left_member(struct agent_local *l, const char *name)
{
    struct state_store *st = rpc_state(l->rpc);
    if (!state_node_get(st, cn_str_from(name), NULL) || !strcmp(name, l->node_name)) return;
    struct cn_buf cmd;
    struct rpc_deregister_cmd d = {.node = cn_str_from(name)};
    cn_buf_init(&cmd, CN_BUF_UNLIMITED);
    rpc_deregister_encode(&d, &cmd);
    rpc_write_submit(l->rpc, &cmd, applied, NULL);
    cn_buf_release(&cmd);
    CN_INFO("leader", "deregistering member: member=%s reason=left", name);
}

static void reconcile_member(struct agent_local *l, const struct gossip_member *m)
{
    const char *dc = gossip_member_tag(m, "dc");
    char ip[64];
    struct cn_arena a;
    if (dc && strcmp(dc, agent_cfg(l->agent)->datacenter)) return;
    gossip_addr_format_ip(&m->addr, ip, sizeof ip);
    cn_arena_init(&a, 2048);
    switch (m->status) {
    case GOSSIP_STATUS_ALIVE: alive_member(l, m, ip, &a); break;
    case GOSSIP_STATUS_FAILED: failed_member(l, m, ip, &a); break;
    case GOSSIP_STATUS_LEFT: left_member(l, m->name); break;
    default: break;
    }
    cn_arena_release(&a);
}

static void on_member(void *ctx, const struct gossip_member_change *c)
{
    struct agent_local *l = ctx;
    if (is_leader(l)) reconcile_member(l, &c->member);
}

struct sweep {
    struct agent_local *l;
    struct cn_map seen;
};

static void visit_member(void *ctx, const struct gossip_member *m)
{
    struct sweep *sw = ctx;
    cn_map_put(&sw->seen, cn_str_from(m->name), (void *)1);
    reconcile_member(sw->l, m);
}

static bool reaped(void *ctx, const struct state_node *n)
{
    struct sweep *sw = ctx;
    struct state_store *st = rpc_state(sw->l->rpc);
    struct cn_str name = cn_str_from(n->name);
    if (cn_map_has(&sw->seen, name) || !strcmp(n->name, sw->l->node_name)) return true;
    /* Only nodes gossip put there: those with a serfHealth check. */
    if (state_check_get(st, name, CN_STR(LOCAL_SERF_CHECK))) left_member(sw->l, n->name);
    return true;
}

static void reconcile_run(uv_timer_t *t)
{
    struct agent_local *l = t->data;
    struct cluster *cl = agent_cluster(l->agent);
    if (!cl || !is_leader(l)) return;
    struct sweep sw = {.l = l};
    cn_map_init(&sw.seen);
    cluster_members(cl, false, visit_member, &sw);
    /* A server that just started knows few members yet (the member snapshot
     * rejoins them, push-pulls bring the rest): a node gossip has not heard
     * of so soon is not a reaped one. */
    if (uv_now(l->loop) - l->reconcile_since_ms >= REAP_GRACE_MS)
        state_nodes_list(rpc_state(l->rpc), NULL, reaped, &sw);
    cn_map_release(&sw.seen);
}

static void on_leadership(void *ctx, bool leader)
{
    if (leader) reconcile_leadership(ctx);
}

void reconcile_start(struct agent_local *l)
{
    struct cluster *cl = agent_cluster(l->agent);
    if (!agent_cfg(l->agent)->server) return;
    if (cl) {
        cluster_set_member_handler(cl, on_member, l);
        cluster_set_leadership_handler(cl, on_leadership, l);
    }
    uv_timer_init(l->loop, &l->reconcile);
    l->reconcile.data = l;
    l->reconcile_since_ms = uv_now(l->loop);
    /* The first pass runs soon after start (and leadership) is established. */
    uv_timer_start(&l->reconcile, reconcile_run, 200, RECONCILE_MS);
}

void reconcile_leadership(struct agent_local *l)
{
    if (agent_cfg(l->agent)->server) uv_timer_start(&l->reconcile, reconcile_run, 0, RECONCILE_MS);
}

void reconcile_stop(struct agent_local *l)
{
    if (!agent_cfg(l->agent)->server || !l->started) return;
    uv_close((uv_handle_t *)&l->reconcile, NULL);
}
