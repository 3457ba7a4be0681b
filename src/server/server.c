/* server.c - the single-voter server: batching, apply, timers, leader facts. */
#include "server/server.h"

#include <string.h>

#include "lib/cn_common.h"
#include "lib/cn_list.h"
#include "lib/cn_log.h"
#include "lib/cn_rand.h"
#include "rpc/rpc_cmd.h"
#include "server/fsm.h"

struct proposal {
    struct cn_list link;
    rpc_applied_fn applied;
    void *arg;
    size_t len;
    char cmd[];
};

struct server {
    uv_loop_t *loop;
    uv_idle_t idle;
    struct server_config cfg;
    char *rpc_addr;
    struct state_store *st;
    struct cn_list pending;
    uint64_t last_index;
    struct cn_rand rand;
    bool shutting_down;
};

struct rpc_timer {
    uv_timer_t t;
    rpc_timer_fn fn;
    void *arg;
};

static void apply_batch(uv_idle_t *h)
{
    struct server *s = h->data;
    struct cn_list batch;
    cn_list_init(&batch);
    /* Take the whole queue first: callbacks may propose again. */
    while (!cn_list_empty(&s->pending)) {
        struct cn_list *l = s->pending.next;
        cn_list_remove(l);
        cn_list_insert_tail(&batch, l);
    }
    while (!cn_list_empty(&batch)) {
        struct proposal *p = cn_list_entry(batch.next, struct proposal, link);
        struct rpc_result res;
        int rc;
        cn_list_remove(&p->link);
        rc = server_fsm_apply(s->st, ++s->last_index, p->cmd, p->len, &res);
        p->applied(p->arg, rc, &res);
        free(res.text);
        free(p);
    }
    if (cn_list_empty(&s->pending)) uv_idle_stop(&s->idle);
}

static void be_apply(void *be, const void *cmd, size_t len, rpc_applied_fn applied, void *arg)
{
    struct server *s = be;
    if (s->shutting_down) {
        struct rpc_result res = {0};
        applied(arg, CN_ESHUTDOWN, &res);
        return;
    }
    struct proposal *p = cn_malloc(sizeof *p + len);
    p->applied = applied;
    p->arg = arg;
    p->len = len;
    memcpy(p->cmd, cmd, len);
    cn_list_insert_tail(&s->pending, &p->link);
    uv_idle_start(&s->idle, apply_batch);
}

static void be_read_ready(void *be, enum rpc_mode mode, rpc_ready_fn ready, void *arg)
{
    (void)be;
    (void)mode;
    /* A single voter is always the leader with a quorum of itself. */
    ready(arg, 0);
}

static void be_leader_info(void *be, bool *known, uint64_t *last_contact_ms)
{
    (void)be;
    *known = true;
    *last_contact_ms = 0;
}

static const char *be_leader_addr(void *be)
{
    struct server *s = be;
    return s->rpc_addr;
}

static size_t be_peers(void *be, const char **out, size_t max)
{
    struct server *s = be;
    if (max == 0) return 1;
    out[0] = s->rpc_addr;
    return 1;
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

static struct rpc_timer *be_timer_start(void *be, uint64_t ms, rpc_timer_fn fn, void *arg)
{
    struct server *s = be;
    struct rpc_timer *rt = CN_NEW(struct rpc_timer);
    uv_timer_init(s->loop, &rt->t);
    rt->fn = fn;
    rt->arg = arg;
    uv_timer_start(&rt->t, timer_cb, ms, 0);
    return rt;
}

static void be_timer_stop(void *be, struct rpc_timer *t)
{
    (void)be;
    if (!t || !t->fn) return;
    t->fn = NULL;
    uv_timer_stop(&t->t);
    uv_close((uv_handle_t *)&t->t, (uv_close_cb)free);
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
};

const struct rpc_backend_ops *server_backend_ops(void)
{
    return &ops;
}

static void noop_applied(void *arg, int rc, struct rpc_result *res)
{
    (void)arg;
    (void)res;
    if (rc) CN_ERROR("server", "initial entry failed: %s", cn_strerror(rc));
}

struct server *server_new(uv_loop_t *loop, const struct server_config *cfg, struct state_store *st)
{
    struct server *s = CN_NEW(struct server);
    struct cn_buf cmd;
    s->loop = loop;
    s->cfg = *cfg;
    s->rpc_addr = cn_strdup(cfg->rpc_addr ? cfg->rpc_addr : "127.0.0.1:8300");
    s->st = st;
    s->last_index = state_last_index(st);
    cn_list_init(&s->pending);
    cn_rand_seed(&s->rand, cn_rand_os_u64());
    uv_idle_init(loop, &s->idle);
    s->idle.data = s;
    /* Index 1 is the cluster's own first write, so no user-visible state
     * has index 1 (clients treat index 0/1 as "no data yet"). */
    cn_buf_init(&cmd, CN_BUF_UNLIMITED);
    rpc_cmd_begin(&cmd, RPC_CMD_NOOP);
    be_apply(s, cmd.data, cmd.len, noop_applied, NULL);
    cn_buf_release(&cmd);
    CN_INFO("server", "cluster leadership acquired: single server, node=%s", cfg->node_name);
    return s;
}

void server_shutdown(struct server *s)
{
    s->shutting_down = true;
    while (!cn_list_empty(&s->pending)) {
        struct proposal *p = cn_list_entry(s->pending.next, struct proposal, link);
        struct rpc_result res = {0};
        cn_list_remove(&p->link);
        p->applied(p->arg, CN_ESHUTDOWN, &res);
        free(p);
    }
    uv_idle_stop(&s->idle);
}

static void server_closed(uv_handle_t *h)
{
    struct server *s = h->data;
    free(s->rpc_addr);
    free(s);
}

void server_free(struct server *s)
{
    if (!s) return;
    server_shutdown(s);
    /* libuv owns the handle until its close callback: free there. */
    uv_close((uv_handle_t *)&s->idle, server_closed);
}

uint64_t server_applied_index(const struct server *s)
{
    return s->last_index;
}
