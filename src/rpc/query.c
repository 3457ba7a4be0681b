/*
 * query.c - running a read: consistency barrier, evaluation, blocking.
 *
 * A blocking query (?index > 0) evaluates once; if its index has not passed
 * ?index it parks on the watch set its run filled and on a timer of
 * wait + uniform jitter in [0, wait/16) (Consul's rule). A fired watch
 * re-runs it (through the barrier again, so ?consistent re-verifies
 * leadership); the timer runs it one last time and answers whatever it
 * finds. A parked query holds a watch set and a timer, no thread.
 */
#include <string.h>

#include "lib/cn_common.h"
#include "lib/cn_time.h"
#include "rpc/rpc_int.h"

enum {
    Q_NEW = 0,
    Q_READY_WAIT, /* the backend holds on_ready */
    Q_PARKED,     /* watch set and timer armed */
    Q_DONE,
};

static void evaluate(struct rpc_query *q);

struct rpc_query *rpc_query_new(struct rpc *rpc)
{
    struct rpc_query *q = CN_NEW(struct rpc_query);
    q->rpc = rpc;
    cn_arena_init(&q->arena, 4096);
    return q;
}

static void release(struct rpc_query *q)
{
    if (q->timer) q->rpc->ops->timer_stop(q->rpc->be, q->timer);
    q->timer = NULL;
    state_ws_free(q->ws);
    q->ws = NULL;
}

void rpc_query_free(struct rpc_query *q)
{
    if (!q) return;
    CN_ASSERT(q->state == Q_DONE || q->state == Q_NEW);
    release(q);
    cn_arena_release(&q->arena);
    free(q->acl_secret);
    free(q);
}

static void finish(struct rpc_query *q, int rc)
{
    if (q->state == Q_PARKED) q->rpc->parked--;
    if (q->timer) q->rpc->ops->timer_stop(q->rpc->be, q->timer);
    q->timer = NULL;
    if (q->ws) state_ws_reset(q->ws);
    q->state = Q_DONE;
    q->done(q, rc);
}

/* A cancelled query has done == NULL and frees itself at the next event. */
static bool reap_canceled(struct rpc_query *q)
{
    if (q->done) return false;
    if (q->state == Q_PARKED) q->rpc->parked--;
    q->state = Q_DONE;
    rpc_query_free(q);
    return true;
}

static void on_ready(void *arg, int rc)
{
    struct rpc_query *q = arg;
    q->state = Q_NEW;
    if (reap_canceled(q)) return;
    if (rc) {
        cn_err_set(&q->err, rc, "%s", cn_strerror(rc));
        finish(q, rc);
        return;
    }
    evaluate(q);
}

static void wait_ready(struct rpc_query *q)
{
    if (q->state == Q_PARKED) q->rpc->parked--;
    q->state = Q_READY_WAIT;
    q->rpc->ops->read_ready(q->rpc->be, q->opts.mode, on_ready, q);
}

static void on_fire(void *arg)
{
    struct rpc_query *q = arg;
    if (reap_canceled(q)) return;
    wait_ready(q);
}

static void on_timer(void *arg)
{
    struct rpc_query *q = arg;
    q->timer = NULL;
    if (reap_canceled(q)) return;
    q->timed_out = true;
    wait_ready(q);
}

static uint64_t wait_ms(struct rpc_query *q)
{
    const struct rpc_config *cfg = &q->rpc->cfg;
    int64_t wait = q->opts.max_wait_ns;
    if (wait <= 0) wait = cfg->default_query_time_ns;
    if (wait > cfg->max_query_time_ns) wait = cfg->max_query_time_ns;
    uint64_t ms = (uint64_t)(wait / CN_NS_PER_MS);
    uint64_t jitter = ms / 16 ? q->rpc->ops->random(q->rpc->be) % (ms / 16) : 0;
    return ms + jitter;
}

static void evaluate(struct rpc_query *q)
{
    struct rpc *rpc = q->rpc;
    bool blocking = q->opts.min_index > 0 && !q->timed_out;
    int rc;
    cn_arena_release(&q->arena);
    memset(&q->meta, 0, sizeof q->meta);
    if (blocking && !q->ws) q->ws = state_ws_new(rpc->st, on_fire, q);
    if (q->ws) state_ws_reset(q->ws);
    /* Permissions are checked anew at every wake: a changed policy applies
     * and a deleted token fails (the pointer may be stale by now). */
    rc = q->acl_secret && !q->acl_fresh ? rpc_authorize(rpc, q->acl_secret, &q->authz) : 0;
    q->acl_fresh = false;
    if (rc) {
        cn_err_set(&q->err, rc, "ACL not found");
        q->meta.index = 1;
        finish(q, rc);
        return;
    }
    rc = q->run(q, rpc->st, blocking ? q->ws : NULL);
    /* A parked query also wakes when tokens or policies change, so a
     * deleted token ends it at once rather than at its next data change. */
    if (blocking && q->acl_secret && acl_enabled(rpc->acl)) {
        state_ws_add_table(q->ws, STATE_T_ACL_TOKENS);
        state_ws_add_table(q->ws, STATE_T_ACL_POLICIES);
    }
    rpc->ops->leader_info(rpc->be, &q->meta.known_leader, &q->meta.last_contact_ms);
    q->meta.effective = q->opts.mode;
    /* Index 0 is never reported: clients treat 0 as "no blocking support". */
    if (q->meta.index == 0) q->meta.index = 1;
    /* Nor one from before a snapshot restore, which replaced every result
     * (restored KV entries keep their older ModifyIndex). */
    q->meta.index = CN_MAX(q->meta.index, state_restore_index(rpc->st));
    if (rc || !blocking || q->meta.index > q->opts.min_index) {
        finish(q, rc);
        return;
    }
    if (!q->timer) q->timer = rpc->ops->timer_start(rpc->be, wait_ms(q), on_timer, q);
    q->state = Q_PARKED;
    rpc->parked++;
}

void rpc_query_start(struct rpc_query *q)
{
    int rc;
    CN_ASSERT(q->state == Q_NEW && q->run && q->done);
    cn_err_clear(&q->err);
    rc = q->authz ? 0 : rpc_authorize(q->rpc, q->opts.token, &q->authz);
    if (rc) {
        cn_err_set(&q->err, rc, "ACL not found");
        q->state = Q_DONE;
        q->done(q, rc);
        return;
    }
    free(q->acl_secret);
    q->acl_secret = NULL;
    if (acl_enabled(q->rpc->acl)) {
        q->acl_secret = cn_strdup(acl_authz_secret(q->authz));
        q->acl_fresh = true;
    }
    wait_ready(q);
}

void rpc_query_cancel(struct rpc_query *q)
{
    switch (q->state) {
    case Q_READY_WAIT:
        q->done = NULL; /* freed when the backend calls back */
        break;
    case Q_PARKED:
        q->rpc->parked--;
        q->state = Q_DONE;
        rpc_query_free(q);
        break;
    default:
        q->state = Q_DONE;
        rpc_query_free(q);
        break;
    }
}
