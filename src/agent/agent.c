/* agent.c - start, run and stop the agent. */
#include "agent/agent.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "acl/acl.h"
#include "agent/acl_fetch.h"
#include "agent/acl_repl.h"
#include "agent/cluster.h"
#include "agent/coord_sync.h"
#include "agent/event.h"
#include "agent/gossip_config.h"
#include "agent/watch.h"
#include "agent/dns_server.h"
#include "agent/local.h"
#include "http/http.h"
#include "lib/cn_common.h"
#include "lib/cn_log.h"
#include "lib/cn_rand.h"
#include "lib/cn_time.h"
#include "lib/cn_uuid.h"
#include "lib/cn_version.h"
#include "rpc/rpc.h"
#include "server/server.h"
#include "state/state.h"

struct agent {
    uv_loop_t loop;
    struct agent_config cfg;
    char node_id[CN_UUID_LEN + 1];
    char advertise[INET6_ADDRSTRLEN];
    char rpc_addr[INET6_ADDRSTRLEN + 8];
    int64_t start_ns;
    struct state_store *st;
    struct server *server;
    struct acl_resolver *acl;
    unsigned acl_api_tokens; /* token types set through /v1/agent/token (persisted) */
    struct rpc *rpc;
    struct http_server *http;
    struct agent_local *local; /* services, checks, anti-entropy (local.c) */
    struct cluster *cluster;   /* gossip, server RPC port, forwarding (cluster.c) */
    struct dns_server *dns;    /* the DNS interface (dns_server.c) */
    struct agent_events *events;   /* user events (event.c) */
    struct agent_watches *watches; /* configured watches (watch.c) */
    struct agent_coords *coords;   /* network coordinates (coord_sync.c) */
    struct acl_repl *acl_repl;     /* a secondary's ACL replication (acl_repl.c) */
    struct acl_fetch *acl_fetch;   /* a client's token resolution (acl_fetch.c) */
    const char *joins[64], *joins_wan[64];
    uv_timer_t leave_timer;
    bool leaving, forced;
    uv_signal_t sig_int, sig_term, sig_hup;
    int signals;
    int exit_code;
};

const struct agent_config *agent_cfg(const struct agent *a)
{
    return &a->cfg;
}

struct server *agent_server(struct agent *a)
{
    return a->server;
}

struct cluster *agent_cluster(struct agent *a)
{
    return a->cluster;
}

struct http_server *agent_http(struct agent *a)
{
    return a->http;
}

struct acl_resolver *agent_acl(struct agent *a)
{
    return a->acl;
}

struct agent_coords *agent_coords(struct agent *a)
{
    return a->coords;
}

struct acl_repl *agent_acl_repl(struct agent *a)
{
    return a->acl_repl;
}

struct acl_fetch *agent_acl_fetch(struct agent *a)
{
    return a->acl_fetch;
}

const char *agent_node_id(const struct agent *a)
{
    return a->node_id;
}

const char *agent_advertise_addr(const struct agent *a)
{
    return a->advertise;
}

int64_t agent_start_time_ns(const struct agent *a)
{
    return a->start_ns;
}

/* ---- identity ------------------------------------------------------- */

/* The node ID: configured, else persisted in data_dir/node-id, else new. */
static int load_node_id(struct agent *a, struct cn_err *err)
{
    char path[4096];
    if (a->cfg.node_id) {
        if (!cn_uuid_valid(cn_str_from(a->cfg.node_id)))
            return cn_err_set(err, CN_EINVAL, "node ID '%s' is not a valid UUID", a->cfg.node_id);
        snprintf(a->node_id, sizeof a->node_id, "%s", a->cfg.node_id);
        return 0;
    }
    if (!a->cfg.data_dir) {
        cn_uuid_new(a->node_id);
        return 0;
    }
    snprintf(path, sizeof path, "%s/node-id", a->cfg.data_dir);
    FILE *f = fopen(path, "r");
    if (f) {
        char buf[64] = "";
        if (fgets(buf, sizeof buf, f)) buf[strcspn(buf, "\r\n")] = '\0';
        fclose(f);
        if (cn_uuid_valid(cn_str_from(buf))) {
            snprintf(a->node_id, sizeof a->node_id, "%s", buf);
            return 0;
        }
    }
    cn_uuid_new(a->node_id);
    f = fopen(path, "w");
    if (!f) return cn_err_set(err, CN_EIO, "failed to write NodeID to disk: %s", strerror(errno));
    fprintf(f, "%s", a->node_id);
    fclose(f);
    return 0;
}

/* With bind 0.0.0.0 Consul advertises the host's single private IPv4. */
static void pick_advertise(struct agent *a)
{
    const char *adv = a->cfg.advertise_addr;
    if (!adv && strcmp(a->cfg.bind_addr, "0.0.0.0") && strcmp(a->cfg.bind_addr, "::"))
        adv = a->cfg.bind_addr;
    if (adv) {
        snprintf(a->advertise, sizeof a->advertise, "%s", adv);
        return;
    }
    snprintf(a->advertise, sizeof a->advertise, "127.0.0.1");
    struct ifaddrs *ifs, *i;
    if (getifaddrs(&ifs)) return;
    for (i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
        struct in_addr in = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
        uint32_t h = ntohl(in.s_addr);
        if ((h >> 24) == 127) continue;
        inet_ntop(AF_INET, &in, a->advertise, sizeof a->advertise);
        break;
    }
    freeifaddrs(ifs);
}

/* ---- signals and shutdown ------------------------------------------ */

static void shutdown_agent(struct agent *a)
{
    CN_INFO("agent", "Requesting shutdown");
    agent_events_stop(a->events);
    agent_watches_stop(a->watches);
    a->watches = NULL;
    agent_coords_stop(a->coords); /* before HTTP and the server: it uses both */
    acl_repl_stop(a->acl_repl);   /* the same */
    acl_fetch_stop(a->acl_fetch); /* the same */
    if (a->cluster) cluster_close(a->cluster);
    dns_server_close(a->dns); /* before HTTP: its client-agent lookups ride on it */
    a->dns = NULL;
    if (a->http) http_server_close(a->http);
    a->http = NULL;
    /* before the server: its pending writes must find nobody waiting */
    agent_local_stop(a->local);
    if (a->server) server_free(a->server);
    a->server = NULL;
    uv_close((uv_handle_t *)&a->sig_int, NULL);
    uv_close((uv_handle_t *)&a->sig_term, NULL);
    uv_close((uv_handle_t *)&a->sig_hup, NULL);
}

/* ---- hooks for the agent's local state (local.h) ------------------------ */

struct agent_local *agent_local(struct agent *a)
{
    return a->local;
}

void agent_set_local(struct agent *a, struct agent_local *l)
{
    a->local = l;
}

uv_loop_t *agent_loop(struct agent *a)
{
    return &a->loop;
}

struct agent_events *agent_events(struct agent *a)
{
    return a->events;
}

struct rpc *agent_rpc(struct agent *a)
{
    return a->rpc;
}

static void leave_closed(uv_handle_t *h)
{
    (void)h;
}

static void left_pools(void *ctx)
{
    struct agent *a = ctx;
    CN_INFO("agent", "Graceful leave complete");
    if (a->signals < 2) {
        a->signals = 2; /* a signal from now on forces the exit */
        shutdown_agent(a);
    }
}

static void leave_now(uv_timer_t *t)
{
    struct agent *a = t->data;
    uv_close((uv_handle_t *)t, leave_closed);
    CN_INFO("agent", "Gracefully leaving the cluster");
    /* A leading server hands Raft over by removing itself; a follower's
     * removal is done by the leader when gossip reports it left. */
    if (a->server && server_is_leader(a->server))
        server_raft_change(a->server, RAFT_REMOVE, server_raft_id(a->server));
    if (!a->cluster || cluster_leave(a->cluster, left_pools, a)) left_pools(a);
}

/* PUT /v1/agent/leave: leave the gossip pools (and Raft), then stop, a
 * moment after the answer went out. */
void agent_leave(struct agent *a)
{
    if (a->leaving) return;
    a->leaving = true;
    a->signals = 1; /* a second signal now forces the exit */
    uv_timer_init(&a->loop, &a->leave_timer);
    a->leave_timer.data = a;
    uv_timer_start(&a->leave_timer, leave_now, 100, 0);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct agent *a = h->data;
    if (signum == SIGHUP) {
        struct cn_err err;
        CN_INFO("agent", "Caught signal: hangup");
        if (agent_reload(a, &err)) CN_ERROR("agent", "Failed to reload configs: %s", err.msg);
        return;
    }
    CN_INFO("agent", "Caught signal: %s", signum == SIGINT ? "interrupt" : "terminated");
    if (a->signals) {
        /* A second signal forces the exit (Consul's rule). */
        a->signals++;
        a->forced = true;
        a->exit_code = 1;
        uv_stop(&a->loop);
        return;
    }
    /* Consul's defaults: a client leaves the cluster on either signal, a
     * server on neither (leave_on_terminate = !server,
     * skip_leave_on_interrupt = server). */
    bool server = a->cfg.server;
    bool leave = signum == SIGTERM ? agent_config_bool(&a->cfg, "leave_on_terminate", !server)
                                   : !agent_config_bool(&a->cfg, "skip_leave_on_interrupt", server);
    if (leave && !a->cfg.dev && a->cluster) {
        agent_leave(a);
        return;
    }
    a->signals++;
    shutdown_agent(a);
}

static void reload_acl_tokens(struct agent *a);

int agent_reload(struct agent *a, struct cn_err *err)
{
    struct agent_config fresh;
    if (agent_config_reload(&a->cfg, &fresh, err)) {
        json_decref(fresh.json);
        json_decref(fresh.flags);
        return err->code ? err->code : CN_EINVAL;
    }
    /* Keep the command line's source list with the live configuration. */
    fresh.sources = a->cfg.sources;
    fresh.source_is_dir = a->cfg.source_is_dir;
    fresh.nsources = a->cfg.nsources;
    a->cfg.sources = NULL;
    a->cfg.source_is_dir = NULL;
    a->cfg.nsources = 0;
    /* Pointers into the old tree (node name...) are only read during a
     * callback, so the swap is safe on the loop thread. What needs a restart
     * stays as it was (Consul warns the same way). */
    struct agent_config old = a->cfg;
    a->cfg = fresh;
    cn_log_set_level((enum cn_log_level)cn_log_level_parse(a->cfg.log_level));
    reload_acl_tokens(a);
    dns_server_reload(a->dns);
    agent_config_release(&old);
    /* services and checks defined in files follow the files */
    if (a->local && agent_local_reload(a->local, err)) return err->code ? err->code : CN_EINVAL;
    CN_INFO("agent", "Reloaded configuration");
    return 0;
}

/* ---- ACL ------------------------------------------------------------ */

/* The first set of several spellings (the acl.tokens.* names, then the
 * older ones Consul still reads). */
static const char *cfg_first(const struct agent_config *c, const char *const *paths)
{
    for (; *paths; paths++) {
        const char *v = agent_config_str(c, *paths, NULL);
        if (v && *v) return v;
    }
    return "";
}

static const char *const token_keys[ACL_TOKEN__COUNT][4] = {
    [ACL_TOKEN_DEFAULT] = {"acl.tokens.default", "acl_token", NULL},
    [ACL_TOKEN_AGENT] = {"acl.tokens.agent", "acl_agent_token", NULL},
    [ACL_TOKEN_AGENT_RECOVERY] = {"acl.tokens.agent_recovery", "acl.tokens.agent_master",
                                  "acl_agent_master_token", NULL},
    [ACL_TOKEN_REPLICATION] = {"acl.tokens.replication", "acl_replication_token", NULL},
    [ACL_TOKEN_DNS] = {"acl.tokens.dns", NULL},
    [ACL_TOKEN_CONFIG_FILE_REGISTRATION] = {"acl.tokens.config_file_service_registration", NULL},
};

static const char *const initial_management_keys[] = {"acl.tokens.initial_management",
                                                      "acl.tokens.master", "acl_master_token", NULL};

static bool persist_tokens(const struct agent *a)
{
    return a->cfg.data_dir && agent_config_bool(&a->cfg, "acl.enable_token_persistence", false);
}

/* <data_dir>/acl-tokens.json holds the tokens set through the API (Consul's
 * persisted tokens); they win over the configuration at start. */
static void load_persisted_tokens(struct agent *a)
{
    char path[4096];
    json_error_t jerr;
    if (!persist_tokens(a)) return;
    snprintf(path, sizeof path, "%s/acl-tokens.json", a->cfg.data_dir);
    json_t *root = json_load_file(path, 0, &jerr);
    const char *k;
    json_t *v;
    if (!root) return;
    json_object_foreach(root, k, v) {
        int t = acl_token_type_parse(k);
        if (t < 0 || !json_is_string(v)) continue;
        acl_set_agent_token(a->acl, (enum acl_token_type)t, json_string_value(v));
        a->acl_api_tokens |= 1u << t;
    }
    json_decref(root);
}

static int save_persisted_tokens(struct agent *a, struct cn_err *err)
{
    char path[4096], tmp[4200];
    json_t *root = json_object();
    for (int t = 0; t < ACL_TOKEN__COUNT; t++)
        if (a->acl_api_tokens & (1u << t))
            json_object_set_new(root, acl_token_type_name(t), json_string(acl_agent_token(a->acl, t)));
    snprintf(path, sizeof path, "%s/acl-tokens.json", a->cfg.data_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int rc = json_dump_file(root, tmp, JSON_SORT_KEYS);
    json_decref(root);
    if (rc || chmod(tmp, 0600) || rename(tmp, path))
        return cn_err_set(err, CN_EIO, "Failed to persist tokens - %s", strerror(errno));
    return 0;
}

int agent_set_acl_token(struct agent *a, const char *type, const char *secret, struct cn_err *err)
{
    int t = acl_token_type_parse(type);
    if (t < 0) return cn_err_set(err, CN_ENOENT, "Token \"%s\" is not a recognized token type", type);
    acl_set_agent_token(a->acl, (enum acl_token_type)t, secret);
    a->acl_api_tokens |= 1u << t;
    return persist_tokens(a) ? save_persisted_tokens(a, err) : 0;
}

/* Reload re-reads the configured tokens; those set through the API (and
 * persisted) keep winning, as in Consul. */
static void reload_acl_tokens(struct agent *a)
{
    for (int t = 0; t < ACL_TOKEN__COUNT; t++)
        if (!(a->acl_api_tokens & (1u << t)))
            acl_set_agent_token(a->acl, (enum acl_token_type)t, cfg_first(&a->cfg, token_keys[t]));
}

/* A datacenter other than the primary: its ACLs come from there. */
static bool acl_secondary(const struct agent_config *c)
{
    return c->acl_enabled && strcmp(c->primary_datacenter, c->datacenter) != 0;
}

/* Consul's default: the legacy enable_acl_replication, else whether a
 * legacy acl_replication_token is configured. */
static bool acl_token_replication(const struct agent_config *c)
{
    static const char *const legacy_token[] = {"acl_replication_token", NULL};
    bool legacy = agent_config_bool(c, "enable_acl_replication", *cfg_first(c, legacy_token));
    return agent_config_bool(c, "acl.enable_token_replication", legacy);
}

static int start_acl(struct agent *a, struct cn_err *err)
{
    const struct agent_config *c = &a->cfg;
    const char *down = agent_config_str(c, "acl.down_policy",
                                        agent_config_str(c, "acl_down_policy", "extend-cache"));
    int dp = acl_down_policy_parse(down);
    if (dp < 0)
        return cn_err_set(err, CN_EINVAL, "acl.down_policy must be 'allow', 'deny', "
                                          "'extend-cache' or 'async-cache', not '%s'", down);
    int64_t ttl = agent_config_dur(c, "acl_ttl", 30 * CN_NS_PER_S);
    struct acl_config ac = {
        .enabled = c->acl_enabled,
        .default_allow = c->acl_default_allow,
        .datacenter = c->datacenter,
        .node_name = c->node_name,
        .down_policy = (enum acl_down_policy)dp,
        .enable_key_list_policy = agent_config_bool(
            c, "acl.enable_key_list_policy", agent_config_bool(c, "acl_enable_key_list_policy", false)),
        .token_ttl_ns = agent_config_dur(c, "acl.token_ttl", ttl),
        .policy_ttl_ns = agent_config_dur(c, "acl.policy_ttl", ttl),
        /* Servers resolve from the replicated store; clients from servers. */
        .st = c->server ? a->st : NULL,
    };
    a->acl = acl_resolver_new(&ac);
    for (int t = 0; t < ACL_TOKEN__COUNT; t++)
        acl_set_agent_token(a->acl, (enum acl_token_type)t, cfg_first(c, token_keys[t]));
    load_persisted_tokens(a);
    /* A client has no ACL tables: it asks its servers (acl_fetch.h). */
    if (c->acl_enabled && !c->server) a->acl_fetch = acl_fetch_new(a);
    return 0;
}

/* ---- startup ------------------------------------------------------- */

static void banner(struct agent *a)
{
    const struct agent_config *c = &a->cfg;
    printf("==> Starting Cairn agent...\n");
    printf("==> Cairn agent running!\n");
    printf("           Version: 'v%s'\n", CN_VERSION);
    printf("           Node ID: '%s'\n", a->node_id);
    printf("         Node name: '%s'\n", c->node_name);
    printf("        Datacenter: '%s' (Segment: '%s')\n", c->datacenter, c->server ? "<all>" : "");
    printf("            Server: %s (Bootstrap: %s)\n", c->server ? "true" : "false",
           c->bootstrap ? "true" : "false");
    printf("       Client Addr: [%s] (HTTP: %d, HTTPS: %d, gRPC: %d, DNS: %d)\n", c->client_addr,
           c->http_port, c->https_port, c->grpc_port, c->dns_port);
    printf("      Cluster Addr: %s (LAN: %d, WAN: %d)\n", a->advertise, c->serf_lan_port,
           c->serf_wan_port);
    printf("           Encrypt: Gossip: %s, TLS-Outgoing: false, TLS-Incoming: false, "
           "Auto-Encrypt-TLS: false\n\n",
           agent_config_str(c, "encrypt", NULL) ? "true" : "false");
    printf("==> Log data will now stream in as it occurs:\n\n");
    fflush(stdout);
}

static int write_pid_file(const char *path, struct cn_err *err)
{
    FILE *f = fopen(path, "w");
    if (!f) return cn_err_set(err, CN_EIO, "Could not write PID file: %s", strerror(errno));
    fprintf(f, "%d", (int)getpid());
    fclose(f);
    return 0;
}

static int start_http(struct agent *a, struct cn_err *err)
{
    if (a->cfg.http_port < 0) return 0;
    struct http_config hc = {
        .pretty_default = a->cfg.dev,
        .kv_max_value = a->cfg.kv_max_value_size,
        .txn_max_req = a->cfg.txn_max_req_len,
        .max_conns_per_client = (size_t)a->cfg.http_max_conns_per_client,
        .discovery_max_stale_ns = agent_config_dur(&a->cfg, "discovery_max_stale", 0),
    };
    struct http_env env = {.rpc = a->rpc, .agent = a, .acl = a->acl,
                           .route_request = cluster_route_request, .route_ctx = a->cluster,
                           .token_wait = a->acl_fetch ? acl_fetch_http_wait : NULL,
                           .token_wait_ctx = a->acl_fetch};
    a->http = http_server_new(&a->loop, &hc, &env);
    /* client_addr may list several addresses, space-separated. */
    char addrs[512];
    snprintf(addrs, sizeof addrs, "%s", a->cfg.http_addr);
    char *save = NULL;
    for (char *ip = strtok_r(addrs, " ", &save); ip; ip = strtok_r(NULL, " ", &save)) {
        int rc = http_server_listen(a->http, ip, a->cfg.http_port, err);
        if (rc) return rc;
        CN_INFO("agent", "Started HTTP server: address=%s:%d network=tcp", ip, a->cfg.http_port);
    }
    return 0;
}


/* Strings of a config list (retry_join...) into out; returns how many. */
static size_t config_list(const struct agent_config *c, const char *k1, const char *k2,
                          const char **out, size_t max)
{
    size_t n = 0;
    const char *keys[] = {k1, k2};
    for (int i = 0; i < 2; i++) {
        json_t *arr = agent_config_get(c, keys[i]), *v;
        size_t j;
        if (!json_is_array(arr)) continue;
        json_array_foreach(arr, j, v) if (json_is_string(v) && n < max) out[n++] = json_string_value(v);
    }
    return n;
}

static int start_cluster(struct agent *a, struct cn_err *err)
{
    char build[64];
    snprintf(build, sizeof build, "%s:%s", CN_CONSUL_VERSION, cn_version_revision);
    const char *bind = a->cfg.bind_addr;
    if (!strcmp(bind, "0.0.0.0") || !strcmp(bind, "::")) bind = a->advertise;
    struct cluster_config cc = {
        .node_name = a->cfg.node_name,
        .node_id = a->node_id,
        .datacenter = a->cfg.datacenter,
        .advertise = a->advertise,
        .advertise_wan = a->cfg.advertise_addr_wan,
        .bind = bind,
        .serf_lan_port = a->cfg.serf_lan_port,
        .serf_wan_port = a->cfg.serf_wan_port,
        .server_port = a->cfg.server_port,
        .server = a->cfg.server,
        .dev = a->cfg.dev,
        .bootstrap = a->cfg.bootstrap || a->cfg.dev,
        .bootstrap_expect = a->cfg.bootstrap_expect,
        .data_dir = a->cfg.dev ? NULL : a->cfg.data_dir,
        .autopilot_cleanup = agent_config_bool(&a->cfg, "autopilot.cleanup_dead_servers", true),
        .disable_coordinates = agent_config_bool(&a->cfg, "disable_coordinates", false),
        .autopilot_min_quorum = (int)agent_config_int(&a->cfg, "autopilot.min_quorum", 0),
        .retry_join = a->joins,
        .n_retry_join = config_list(&a->cfg, "retry_join", "start_join", a->joins, 64),
        .retry_join_wan = a->joins_wan,
        .n_retry_join_wan = config_list(&a->cfg, "retry_join_wan", "start_join_wan", a->joins_wan, 64),
        .retry_interval_ns = agent_config_dur(&a->cfg, "retry_interval", 30 * CN_NS_PER_S),
        .retry_max = (int)agent_config_int(&a->cfg, "retry_max", 0),
        .encrypt = agent_config_str(&a->cfg, "encrypt", NULL),
        .disable_keyring_file = agent_config_bool(&a->cfg, "disable_keyring_file", false),
        .verify_incoming = agent_config_bool(&a->cfg, "encrypt_verify_incoming", true),
        .verify_outgoing = agent_config_bool(&a->cfg, "encrypt_verify_outgoing", true),
        .build = build,
        .primary_datacenter = a->cfg.primary_datacenter,
        .acl_enabled = a->cfg.acl_enabled,
        .acl_token_replication = acl_token_replication(&a->cfg),
    };
    int rc;
    if ((rc = agent_gossip_timing(&a->cfg, false, &cc.timing_lan, err)) ||
        (rc = agent_gossip_timing(&a->cfg, true, &cc.timing_wan, err)))
        return rc;
    return cluster_new(&a->loop, &cc, &a->cluster, err);
}

static int start(struct agent *a, struct cn_err *err)
{
    int rc;
    uv_signal_init(&a->loop, &a->sig_int);
    uv_signal_init(&a->loop, &a->sig_term);
    uv_signal_init(&a->loop, &a->sig_hup);
    a->sig_int.data = a->sig_term.data = a->sig_hup.data = a;
    cn_log_set_level((enum cn_log_level)cn_log_level_parse(a->cfg.log_level));
    cn_log_set_json(a->cfg.log_json);
    if (a->cfg.data_dir && mkdir(a->cfg.data_dir, 0700) && errno != EEXIST)
        return cn_err_set(err, CN_EIO, "Error creating data_dir %s: %s", a->cfg.data_dir,
                          strerror(errno));
    if ((rc = load_node_id(a, err))) return rc;
    pick_advertise(a);
    snprintf(a->rpc_addr, sizeof a->rpc_addr, "%s:%d", a->advertise, a->cfg.server_port);
    a->start_ns = cn_wall_ns();
    a->st = state_new();
    if ((rc = start_acl(a, err))) return rc;
    struct rpc_config rc_cfg = {.datacenter = a->cfg.datacenter,
                                .default_query_time_ns = a->cfg.default_query_time_ns,
                                .max_query_time_ns = a->cfg.max_query_time_ns,
                                .data_dir = a->cfg.data_dir};
    if ((rc = start_cluster(a, err))) return rc;
    if (a->cfg.server) {
        /* a secondary's management tokens come from the primary */
        const char *initial_management =
            acl_secondary(&a->cfg) ? "" : cfg_first(&a->cfg, initial_management_keys);
        struct server_config sc = {.node_name = a->cfg.node_name, .datacenter = a->cfg.datacenter,
                                   .node_id = a->node_id, .data_dir = a->cfg.data_dir,
                                   .rpc_addr = a->rpc_addr, .dev = a->cfg.dev,
                                   .bootstrap = a->cfg.bootstrap || a->cfg.bootstrap_expect == 1,
                                   .raft_multiplier = (unsigned)a->cfg.raft_multiplier,
                                   .snapshot_threshold = (uint64_t)agent_config_int(&a->cfg, "raft_snapshot_threshold", 0),
                                   .trailing_logs = (uint64_t)agent_config_int(&a->cfg, "raft_trailing_logs", 0),
                                   .acl_enabled = a->cfg.acl_enabled,
                                   .acl_initial_management = initial_management};
        if ((rc = server_new(&a->loop, &sc, cluster_server_hooks(a->cluster), a->st, &a->server,
                             err)))
            return rc;
        a->rpc = rpc_new(&rc_cfg, a->st, server_backend_ops(), a->server, a->acl);
    } else {
        a->rpc = rpc_new(&rc_cfg, a->st, cluster_client_ops(), a->cluster, a->acl);
    }
    if ((rc = agent_local_start(a, err))) return rc;
    if ((rc = start_http(a, err))) return rc;
    struct dns_server_env dns_env = {.loop = &a->loop, .cfg = &a->cfg, .rpc = a->rpc,
                                     .acl = a->acl, .http = a->http};
    if ((rc = dns_server_start(&dns_env, &a->dns, err))) return rc;
    a->events = agent_events_start(a, a->cluster);
    if ((rc = cluster_start(a->cluster, a->server, a->http, err))) return rc;
    a->coords = agent_coords_start(a, a->cluster);
    if (a->server && acl_secondary(&a->cfg)) {
        struct acl_repl_config rcfg = {.primary_datacenter = a->cfg.primary_datacenter,
                                       .token_replication = acl_token_replication(&a->cfg)};
        a->acl_repl = acl_repl_start(a, &rcfg);
    }
    if ((rc = agent_watches_start(a, &a->watches, err))) return rc;
    if (a->cfg.pid_file && (rc = write_pid_file(a->cfg.pid_file, err))) return rc;
    uv_signal_start(&a->sig_int, on_signal, SIGINT);
    uv_signal_start(&a->sig_term, on_signal, SIGTERM);
    uv_signal_start(&a->sig_hup, on_signal, SIGHUP);
    return 0;
}

int agent_main(int argc, char **argv)
{
    struct agent *a = CN_NEW(struct agent);
    struct cn_err err;
    bool help = false;
    int code;
    cn_err_clear(&err);
    signal(SIGPIPE, SIG_IGN);
    if (agent_config_load(argc, argv, &a->cfg, &help, &err)) {
        fprintf(stderr, "==> %s\n", err.msg);
        agent_config_release(&a->cfg);
        free(a);
        return 1;
    }
    if (help) {
        agent_config_release(&a->cfg);
        free(a);
        return 0;
    }
    uv_loop_init(&a->loop);
    if (start(a, &err)) {
        fprintf(stderr, "==> Error starting agent: %s\n", err.msg);
        a->exit_code = 1;
        shutdown_agent(a);
    } else {
        banner(a);
    }
    uv_run(&a->loop, UV_RUN_DEFAULT);
    code = a->exit_code;
    if (a->forced) return code; /* forced: leave the rest to exit() */
    if (code == 0) CN_INFO("agent", "shutdown complete");
    a->http = NULL;
    a->server = NULL;
    uv_run(&a->loop, UV_RUN_NOWAIT);
    agent_local_free(a->local);
    agent_events_free(a->events);
    agent_coords_free(a->coords);
    acl_repl_free(a->acl_repl);
    acl_fetch_free(a->acl_fetch);
    rpc_free(a->rpc);
    acl_resolver_free(a->acl);
    state_free(a->st);
    if (a->cfg.pid_file) unlink(a->cfg.pid_file);
    agent_config_release(&a->cfg);
    free(a);
    return code;
}
