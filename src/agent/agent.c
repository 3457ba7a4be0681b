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
    struct rpc *rpc;
    struct http_server *http;
    uv_signal_t sig_int, sig_term, sig_hup;
    int signals;
    int exit_code;
};

const struct agent_config *agent_cfg(const struct agent *a)
{
    return &a->cfg;
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

/* ---- a client agent's backend until servers are reachable (issue 9) -- */

static void nos_apply(void *be, const void *cmd, size_t len, rpc_applied_fn applied, void *arg)
{
    struct rpc_result res = {0};
    (void)be;
    (void)cmd;
    (void)len;
    applied(arg, CN_ENOSERVERS, &res);
}

static void nos_ready(void *be, enum rpc_mode mode, rpc_ready_fn ready, void *arg)
{
    (void)be;
    (void)mode;
    ready(arg, CN_ENOSERVERS);
}

static void nos_leader_info(void *be, bool *known, uint64_t *lc)
{
    (void)be;
    *known = false;
    *lc = 0;
}

static const char *nos_leader(void *be)
{
    (void)be;
    return "";
}

static size_t nos_peers(void *be, const char **out, size_t max)
{
    (void)be;
    (void)out;
    (void)max;
    return 0;
}

/* ---- signals and shutdown ------------------------------------------ */

static void shutdown_agent(struct agent *a)
{
    CN_INFO("agent", "Requesting shutdown");
    if (a->http) http_server_close(a->http);
    a->http = NULL;
    if (a->server) server_free(a->server);
    a->server = NULL;
    uv_close((uv_handle_t *)&a->sig_int, NULL);
    uv_close((uv_handle_t *)&a->sig_term, NULL);
    uv_close((uv_handle_t *)&a->sig_hup, NULL);
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
    if (a->signals++) {
        /* A second signal forces the exit (Consul's rule). */
        a->exit_code = 1;
        uv_stop(&a->loop);
        return;
    }
    shutdown_agent(a);
}

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
    agent_config_release(&old);
    CN_INFO("agent", "Reloaded configuration");
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
    };
    struct http_env env = {.rpc = a->rpc, .agent = a, .acl = a->acl};
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

static const struct rpc_backend_ops *client_ops(void)
{
    /* Timers and randomness come from the server implementation's helpers;
     * everything that needs a server fails with "No known Consul servers". */
    static struct rpc_backend_ops ops;
    ops = *server_backend_ops();
    ops.apply = nos_apply;
    ops.read_ready = nos_ready;
    ops.leader_info = nos_leader_info;
    ops.leader_addr = nos_leader;
    ops.peers = nos_peers;
    return &ops;
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
    struct acl_config ac = {.enabled = a->cfg.acl_enabled, .default_allow = a->cfg.acl_default_allow};
    a->acl = acl_resolver_new(&ac);
    struct rpc_config rc_cfg = {.datacenter = a->cfg.datacenter,
                                .default_query_time_ns = a->cfg.default_query_time_ns,
                                .max_query_time_ns = a->cfg.max_query_time_ns};
    if (a->cfg.server) {
        struct server_config sc = {.node_name = a->cfg.node_name, .datacenter = a->cfg.datacenter,
                                   .rpc_addr = a->rpc_addr, .dev = a->cfg.dev};
        a->server = server_new(&a->loop, &sc, a->st);
        a->rpc = rpc_new(&rc_cfg, a->st, server_backend_ops(), a->server, a->acl);
    } else {
        /* NEEDSWORK: forward to servers found through gossip (issue 9). */
        a->rpc = rpc_new(&rc_cfg, a->st, client_ops(), NULL, a->acl);
    }
    if ((rc = start_http(a, err))) return rc;
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
    if (a->signals > 1) return code; /* forced: leave the rest to exit() */
    if (code == 0) CN_INFO("agent", "shutdown complete");
    a->http = NULL;
    a->server = NULL;
    uv_run(&a->loop, UV_RUN_NOWAIT);
    rpc_free(a->rpc);
    acl_resolver_free(a->acl);
    state_free(a->st);
    if (a->cfg.pid_file) unlink(a->cfg.pid_file);
    agent_config_release(&a->cfg);
    free(a);
    return code;
}
