/* server.c - the server: the endpoint layer's backend over a Raft node. */
#include "server/server.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lib/cn_common.h"
#include "lib/cn_log.h"
#include "lib/cn_rand.h"
#include "lib/cn_time.h"
#include "rpc/rpc_acl.h"
#include "rpc/rpc_cmd.h"
#include "server/raftnode.h"
#include "server/sessions.h"
#include "server/snapshot.h"

struct server {
    uv_loop_t *loop;
    struct server_config cfg;
    struct server_hooks hooks;
    char *rpc_addr, *acl_initial_management, *node_id, *node_name, *data_dir;
    struct state_store *st;
    struct raftnode *rn;
    struct server_sessions *sess; /* TTL timers, lock-delay (sessions.c) */
    struct cn_rand rand;
    bool shutting_down;
    char leader_addr[128];
    const char *peer_addrs[RAFT_SERVERS_MAX];
    char peer_buf[RAFT_SERVERS_MAX][128];
};

struct rpc_timer {
    uv_timer_t t;
    rpc_timer_fn fn;
    void *arg;
};

/* ---- backend -------------------------------------------------------- */

static void be_apply(void *be, const void *cmd, size_t len, rpc_applied_fn applied, void *arg)
{
    struct server *s = be;
    if (s->shutting_down) {
        struct rpc_result res = {0};
        applied(arg, CN_ESHUTDOWN, &res);
        return;
    }
    if (raftnode_is_leader(s->rn) || !s->hooks.forward_apply) {
        if (server_sessions_filter(s->sess, &cmd, &len, &applied, &arg)) return;
        raftnode_propose(s->rn, cmd, len, applied, arg);
        return;
    }
    raft_id leader = raftnode_leader(s->rn);
    if (!leader) {
        struct rpc_result res = {0};
        applied(arg, CN_ENOLEADER, &res);
        return;
    }
    s->hooks.forward_apply(s->hooks.ctx, leader, cmd, len, applied, arg);
}

static void be_read_ready(void *be, enum rpc_mode mode, rpc_ready_fn ready, void *arg)
{
    struct server *s = be;
    raftnode_read(s->rn, mode, ready, arg);
}

static void be_leader_info(void *be, bool *known, uint64_t *last_contact_ms)
{
    struct server *s = be;
    *known = raftnode_leader(s->rn) != 0;
    uint64_t lc = raftnode_last_contact_ms(s->rn);
    *last_contact_ms = raftnode_is_leader(s->rn) || lc == UINT64_MAX ? 0 : lc;
}

static const char *addr_of(struct server *s, raft_id id)
{
    if (id == raftnode_id(s->rn)) return s->rpc_addr;
    return s->hooks.addr_of ? s->hooks.addr_of(s->hooks.ctx, id) : NULL;
}

static const char *be_leader_addr(void *be)
{
    struct server *s = be;
    raft_id leader = raftnode_leader(s->rn);
    const char *a = leader ? addr_of(s, leader) : NULL;
    snprintf(s->leader_addr, sizeof s->leader_addr, "%s", a ? a : "");
    return s->leader_addr;
}

static size_t be_peers(void *be, const char **out, size_t max)
{
    struct server *s = be;
    const struct raft_config *c = raftnode_config(s->rn);
    size_t n = 0;
    for (uint32_t i = 0; i < c->n && n < RAFT_SERVERS_MAX; i++) {
        if (c->servers[i].role != RAFT_VOTER) continue;
        const char *a = addr_of(s, c->servers[i].id);
        if (!a) continue;
        snprintf(s->peer_buf[n], sizeof s->peer_buf[n], "%s", a);
        if (n < max) out[n] = s->peer_buf[n];
        n++;
    }
    return CN_MIN(n, max);
}

static void timer_cb(uv_timer_t *t)
{
    struct rpc_timer *rt = CN_CONTAINER_OF(t, struct rpc_timer, t);
    rpc_timer_fn fn = rt->fn;
    void *arg = rt->arg;
    rt->fn = NULL;
    uv_close((uv_handle_t *)t, (uv_close_cb)free);
    fn(arg);
}

struct rpc_timer *server_loop_timer_start(uv_loop_t *loop, uint64_t ms, rpc_timer_fn fn,
                                          void *arg)
{
    struct rpc_timer *rt = CN_NEW(struct rpc_timer);
    uv_timer_init(loop, &rt->t);
    rt->fn = fn;
    rt->arg = arg;
    uv_timer_start(&rt->t, timer_cb, ms, 0);
    return rt;
}

void server_loop_timer_stop(struct rpc_timer *t)
{
    if (!t || !t->fn) return;
    t->fn = NULL;
    uv_timer_stop(&t->t);
    uv_close((uv_handle_t *)&t->t, (uv_close_cb)free);
}

static struct rpc_timer *be_timer_start(void *be, uint64_t ms, rpc_timer_fn fn, void *arg)
{
    return server_loop_timer_start(((struct server *)be)->loop, ms, fn, arg);
}

static void be_timer_stop(void *be, struct rpc_timer *t)
{
    (void)be;
    server_loop_timer_stop(t);
}

static uint64_t be_random(void *be)
{
    struct server *s = be;
    return cn_rand_u64(&s->rand);
}

static const struct rpc_backend_ops ops = {
    .apply = be_apply,
    .read_ready = be_read_ready,
    .leader_info = be_leader_info,
    .leader_addr = be_leader_addr,
    .peers = be_peers,
    .timer_start = be_timer_start,
    .timer_stop = be_timer_stop,
    .random = be_random,
    .snapshot = server_snapshot,
    .snapshot_cancel = server_snapshot_cancel,
};

const struct rpc_backend_ops *server_backend_ops(void)
{
    return &ops;
}

/* ---- leadership ----------------------------------------------------- */

static void acl_init_applied(void *arg, int rc, struct rpc_result *res)
{
    (void)arg;
    if (rc) CN_WARN("server", "ACL initialization: %s", res && res->text ? res->text : cn_strerror(rc));
}

void server_establish_leadership(struct server *s)
{
    struct cn_buf cmds[RPC_ACL_INIT_CMDS];
    if (!s->cfg.acl_enabled) return;
    size_t n = rpc_acl_leader_init_cmds(s->st, s->cfg.acl_initial_management, cn_wall_ns(), cmds);
    for (size_t i = 0; i < n; i++) {
        raftnode_propose(s->rn, cmds[i].data, cmds[i].len, acl_init_applied, NULL);
        cn_buf_release(&cmds[i]);
    }
    if (n) CN_INFO("server", "ACL initialization: %zu object(s) to create", n);
}

static void on_leadership(void *ctx, bool leader)
{
    struct server *s = ctx;
    if (leader) server_establish_leadership(s);
    server_sessions_leader(s->sess, leader);
    if (s->hooks.leadership) s->hooks.leadership(s->hooks.ctx, leader);
}

/* A snapshot restore replaced the store: redo what the leader derives from
 * it (Consul's reassertLeaderCh after a restore). */
static void on_restored(void *ctx)
{
    struct server *s = ctx;
    if (!raftnode_is_leader(s->rn)) return;
    server_sessions_leader(s->sess, false);
    server_sessions_leader(s->sess, true);
    server_establish_leadership(s);
}

static void on_raft_send(void *ctx, raft_id to, const void *msg, size_t len)
{
    struct server *s = ctx;
    if (s->hooks.raft_send) s->hooks.raft_send(s->hooks.ctx, to, msg, len);
}

/* ---- lifecycle ------------------------------------------------------ */

static char *dup_or_null(const char *p)
{
    return p ? cn_strdup(p) : NULL;
}

int server_new(uv_loop_t *loop, const struct server_config *cfg, const struct server_hooks *hooks,
               struct state_store *st, struct server **out, struct cn_err *err)
{
    struct server *s = CN_NEW(struct server);
    s->loop = loop;
    s->cfg = *cfg;
    s->hooks = hooks ? *hooks : (struct server_hooks){0};
    s->rpc_addr = cn_strdup(cfg->rpc_addr ? cfg->rpc_addr : "127.0.0.1:8300");
    s->acl_initial_management = cn_strdup(cfg->acl_initial_management ? cfg->acl_initial_management : "");
    s->node_id = dup_or_null(cfg->node_id);
    s->node_name = cn_strdup(cfg->node_name ? cfg->node_name : "");
    s->data_dir = dup_or_null(cfg->data_dir);
    s->cfg.rpc_addr = s->rpc_addr;
    s->cfg.acl_initial_management = s->acl_initial_management;
    s->cfg.node_id = s->node_id;
    s->cfg.node_name = s->node_name;
    s->cfg.data_dir = s->data_dir;
    s->st = st;
    cn_rand_seed(&s->rand, cn_rand_os_u64());
    struct raftnode_config rc = {
        .node_id = s->node_id,
        .node_name = s->node_name,
        .data_dir = cfg->dev ? NULL : s->data_dir,
        .raft_multiplier = cfg->raft_multiplier,
        .bootstrap = cfg->bootstrap || cfg->dev,
        .snapshot_threshold = cfg->snapshot_threshold,
        .trailing_logs = cfg->trailing_logs,
    };
    struct raftnode_hooks rh = {.ctx = s, .send = on_raft_send, .leadership = on_leadership,
                                .restored = on_restored};
    s->sess = server_sessions_new(loop, st, s);
    *out = s;
    return raftnode_new(loop, &rc, &rh, st, &s->rn, err);
}

void server_shutdown(struct server *s)
{
    s->shutting_down = true;
}

void server_free(struct server *s)
{
    if (!s) return;
    s->shutting_down = true;
    server_sessions_free(s->sess);
    raftnode_free(s->rn);
    free(s->rpc_addr);
    free(s->acl_initial_management);
    free(s->node_id);
    free(s->node_name);
    free(s->data_dir);
    free(s);
}

uint64_t server_applied_index(const struct server *s)
{
    return raftnode_applied_index(s->rn);
}

void server_raft_recv(struct server *s, const void *msg, size_t len)
{
    raftnode_recv(s->rn, msg, len);
}

void server_peer_unreachable(struct server *s, raft_id peer)
{
    raftnode_unreachable(s->rn, peer);
}

int server_bootstrap(struct server *s, const raft_id *voters, size_t n)
{
    return raftnode_bootstrap(s->rn, voters, n);
}

bool server_has_raft_data(const struct server *s)
{
    return raftnode_has_data(s->rn);
}

bool server_is_leader(const struct server *s)
{
    return raftnode_is_leader(s->rn);
}

raft_id server_leader_id(const struct server *s)
{
    return raftnode_leader(s->rn);
}

uint64_t server_last_contact_ms(const struct server *s)
{
    return raftnode_last_contact_ms(s->rn);
}

raft_id server_raft_id(const struct server *s)
{
    return raftnode_id(s->rn);
}

const struct raft_config *server_raft_config(const struct server *s)
{
    return raftnode_config(s->rn);
}

int server_raft_change(struct server *s, int op, raft_id id)
{
    return raftnode_change(s->rn, op, id);
}

size_t server_raft_peers(const struct server *s, struct raft_peer_status *out, size_t max)
{
    return raftnode_peers(s->rn, out, max);
}

uint64_t server_raft_term(const struct server *s)
{
    return raftnode_term(s->rn);
}

uint64_t server_raft_commit_index(const struct server *s)
{
    return raftnode_commit_index(s->rn);
}

uint64_t server_raft_last_index(const struct server *s)
{
    return raftnode_last_index(s->rn);
}

void server_apply_local(struct server *s, const void *cmd, size_t len, rpc_applied_fn applied,
                        void *arg)
{
    be_apply(s, cmd, len, applied, arg);
}

const char *server_rpc_addr(const struct server *s)
{
    return s->rpc_addr;
}

struct raftnode *server_raftnode(const struct server *s)
{
    return s->rn;
}

const char *server_peer_addr(struct server *s, raft_id id)
{
    return addr_of(s, id);
}
