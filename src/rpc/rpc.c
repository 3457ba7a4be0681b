/* rpc.c - the endpoint layer's object and its write path. */
#include <string.h>

#include "lib/cn_common.h"
#include "lib/cn_time.h"
#include "rpc/rpc_int.h"

struct rpc *rpc_new(const struct rpc_config *cfg, struct state_store *st,
                    const struct rpc_backend_ops *ops, void *be, struct acl_resolver *acl)
{
    struct rpc *rpc = CN_NEW(struct rpc);
    rpc->cfg = *cfg;
    /* Own copies: the agent's configuration tree is replaced on reload. */
    rpc->cfg.datacenter = rpc->datacenter = cn_strdup(cfg->datacenter ? cfg->datacenter : "dc1");
    rpc->cfg.data_dir = rpc->data_dir = cfg->data_dir ? cn_strdup(cfg->data_dir) : NULL;
    if (rpc->cfg.default_query_time_ns <= 0) rpc->cfg.default_query_time_ns = 300 * CN_NS_PER_S;
    if (rpc->cfg.max_query_time_ns <= 0) rpc->cfg.max_query_time_ns = 600 * CN_NS_PER_S;
    rpc->st = st;
    rpc->ops = ops;
    rpc->be = be;
    rpc->acl = acl;
    return rpc;
}

void rpc_free(struct rpc *rpc)
{
    if (!rpc) return;
    free(rpc->datacenter);
    free(rpc->data_dir);
    free(rpc);
}

struct state_store *rpc_state(struct rpc *rpc)
{
    return rpc->st;
}

struct acl_resolver *rpc_acl(struct rpc *rpc)
{
    return rpc->acl;
}

const struct rpc_config *rpc_config(struct rpc *rpc)
{
    return &rpc->cfg;
}

const char *rpc_leader(struct rpc *rpc)
{
    return rpc->ops->leader_addr(rpc->be);
}

size_t rpc_peers(struct rpc *rpc, const char **out, size_t max)
{
    return rpc->ops->peers(rpc->be, out, max);
}

struct rpc_snapshot *rpc_snapshot_start(struct rpc *rpc, bool restore, bool stale, char *archive,
                                        size_t len, rpc_snapshot_fn done, void *arg)
{
    if (!rpc->ops->snapshot) {
        struct rpc_snapshot_result r = {.rc = CN_ENOSERVERS, .error = "No known Consul servers"};
        free(archive);
        done(arg, &r);
        return NULL;
    }
    return rpc->ops->snapshot(rpc->be, restore, stale, archive, len, done, arg);
}

void rpc_snapshot_cancel(struct rpc *rpc, struct rpc_snapshot *op)
{
    if (op && rpc->ops->snapshot_cancel) rpc->ops->snapshot_cancel(rpc->be, op);
}

size_t rpc_parked_count(struct rpc *rpc)
{
    return rpc->parked;
}

const char *rpc_mode_name(enum rpc_mode m)
{
    switch (m) {
    case RPC_MODE_CONSISTENT: return "consistent";
    case RPC_MODE_STALE: return "stale";
    default: return "leader";
    }
}

int rpc_authorize(struct rpc *rpc, const char *token, const struct acl_authz **out)
{
    return acl_resolve(rpc->acl, token, cn_wall_ns(), out);
}

/* ---- writes --------------------------------------------------------- */

struct rpc_write {
    rpc_write_done_fn done;
    void *arg;
    bool canceled;
    /* A backend may answer inside apply() (no leader, shutting down, a
     * forward that cannot be sent): the caller has no handle yet, and its
     * done() may free what the caller goes on to use (an HTTP request
     * answered at once). Such an answer is kept and delivered from a timer. */
    bool submitting, early, early_has_res;
    int early_rc;
    struct rpc_result early_res;
};

static void write_free(struct rpc_write *w)
{
    free(w->early_res.text);
    free(w);
}

static void write_applied(void *arg, int rc, struct rpc_result *res)
{
    struct rpc_write *w = arg;
    if (w->submitting) {
        w->early = true;
        w->early_rc = rc;
        if (res) {
            w->early_has_res = true;
            w->early_res.index = res->index;
            w->early_res.ok = res->ok;
            w->early_res.text = res->text ? cn_strdup(res->text) : NULL; /* the backend's */
        }
        return;
    }
    if (!w->canceled) w->done(w->arg, rc, res);
    write_free(w);
}

static void write_answer_early(void *arg)
{
    struct rpc_write *w = arg;
    if (!w->canceled) w->done(w->arg, w->early_rc, w->early_has_res ? &w->early_res : NULL);
    write_free(w);
}

struct rpc_write *rpc_write_submit(struct rpc *rpc, const struct cn_buf *cmd,
                                   rpc_write_done_fn done, void *arg)
{
    struct rpc_write *w = CN_NEW(struct rpc_write);
    w->done = done;
    w->arg = arg;
    w->submitting = true;
    rpc->ops->apply(rpc->be, cmd->data, cmd->len, write_applied, w);
    w->submitting = false;
    /* done() runs later, as rpc.h promises, even when the backend answered */
    if (w->early) rpc->ops->timer_start(rpc->be, 0, write_answer_early, w);
    return w;
}

void rpc_write_cancel(struct rpc_write *w)
{
    /* The backend (or the timer of an early answer) still holds w; it is
     * freed when the command completes. */
    w->canceled = true;
}
