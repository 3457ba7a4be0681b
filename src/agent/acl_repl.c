/*
 * acl_repl.c - the replication loop of a secondary datacenter's leader
 * (acl_repl.h). One round: fetch the primary's dump, plan, apply the plan
 * one command at a time, record the outcome; then the next round, whose
 * fetch blocks on the primary until something changes there.
 *
 * A 1 s tick watches what can change under the loop: leadership (lost: the
 * fetch is cancelled and the next leader starts from a full compare), the
 * replication token (set later through /v1/agent/token/replication), and
 * the backoff after a failure.
 */
#include "agent/acl_repl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "acl/acl.h"
#include "agent/agent.h"
#include "agent/local.h"
#include "http/http.h"
#include "lib/cn_common.h"
#include "lib/cn_log.h"
#include "lib/cn_time.h"
#include "rpc/rpc.h"
#include "rpc/rpc_acl.h"
#include "rpc/rpc_acl_repl.h"
#include "server/server.h"

#define TICK_MS       1000
#define FETCH_WAIT    "30s"
#define BACKOFF_MAX_S 64 /* Consul's aclReplicationMaxRetryBackoff */
#define TOKEN_MAX     512
#define SUBSYS        "replication.acl"

enum phase { P_IDLE, P_FETCH, P_APPLY };

struct acl_repl {
    struct agent *a;
    uv_timer_t tick;
    char primary[64];
    bool tokens;
    bool stopping, leading;
    enum phase phase;
    struct http_tunnel *tunnel;
    /* the round being applied */
    struct rpc_acl_repl_plan plan;
    size_t next;
    struct rpc_write *write;
    bool write_pending, in_submit;
    uint64_t dump_index, policies_index, tokens_index, roles_index;
    /* between rounds */
    uint64_t remote_index; /* the primary's ACL index replicated through; 0 = compare at once */
    unsigned failures;
    uint64_t retry_at_ms;
    char failed_token[TOKEN_MAX]; /* a new token retries at once */
    struct acl_repl_status status;
};

static void fetch(struct acl_repl *r);

/* ---- status ---------------------------------------------------------------- */

/* Consul stamps time.Now().Round(time.Second). */
static int64_t now_s_ns(void)
{
    return (cn_wall_ns() + CN_NS_PER_S / 2) / CN_NS_PER_S * CN_NS_PER_S;
}

static uint64_t at_least_1(uint64_t idx)
{
    return idx ? idx : 1; /* a blocking query never reports index 0 */
}

void acl_repl_status(const struct acl_repl *r, struct acl_repl_status *out)
{
    memset(out, 0, sizeof *out);
    out->replication_type = "";
    if (r) *out = r->status;
}

/* ---- a round ends ------------------------------------------------------------ */

static void end_round(struct acl_repl *r)
{
    rpc_acl_repl_plan_release(&r->plan);
    r->next = 0;
    r->phase = P_IDLE;
}

static const char *token(const struct acl_repl *r)
{
    return acl_agent_token(agent_acl(r->a), ACL_TOKEN_REPLICATION);
}

static void fail(struct acl_repl *r, const char *what, const char *msg)
{
    uint64_t now = uv_now(agent_loop(r->a));
    end_round(r);
    r->remote_index = 0;
    r->status.last_error_ns = now_s_ns();
    if ((1u << r->failures) < BACKOFF_MAX_S) r->failures++;
    r->retry_at_ms = now + (1000u << r->failures);
    snprintf(r->failed_token, sizeof r->failed_token, "%s", token(r));
    CN_WARN(SUBSYS, "ACL replication error (will retry if still leader): %s: %s", what, msg);
}

static void succeed(struct acl_repl *r)
{
    struct acl_repl_status *s = &r->status;
    size_t n = r->plan.ncmds;
    if (n)
        CN_INFO(SUBSYS,
                "replicated from %s: policies upserted=%zu deleted=%zu, tokens "
                "upserted=%zu deleted=%zu",
                r->primary, r->plan.policy_upserts, r->plan.policy_deletes, r->plan.token_upserts,
                r->plan.token_deletes);
    end_round(r);
    r->failures = 0;
    r->remote_index = r->dump_index;
    s->last_success_ns = now_s_ns();
    s->replicated_index = at_least_1(r->policies_index);
    s->replicated_role_index = at_least_1(r->roles_index); /* roles ride with policies */
    if (r->tokens) s->replicated_token_index = at_least_1(r->tokens_index);
    CN_DEBUG(SUBSYS, "ACL replication completed through remote index %llu",
             (unsigned long long)r->dump_index);
}

/* ---- applying the plan ---------------------------------------------------- */

static void apply_next(struct acl_repl *r);

static bool is_delete(const struct cn_buf *cmd)
{
    struct cn_dec d;
    enum rpc_cmd_type type;
    if (rpc_cmd_open(&d, cmd->data, cmd->len, &type) || type != RPC_CMD_ACL) return false;
    uint8_t op = cn_dec_u8(&d); /* an RPC_CMD_ACL body starts with its op */
    return op == RPC_ACL_TOKEN_DELETE || op == RPC_ACL_POLICY_DELETE;
}

static void write_done(void *arg, int rc, const struct rpc_result *res)
{
    struct acl_repl *r = arg;
    r->write = NULL;
    r->write_pending = false;
    /* A delete that finds nothing was already done (by a previous leader
     * whose round this one's stale plan repeated). */
    if (rc && !(rc == CN_ENOENT && is_delete(&r->plan.cmds[r->next]))) {
        fail(r, "failed to apply a change", res && res->text ? res->text : cn_strerror(rc));
        return;
    }
    r->next++;
    if (!r->in_submit) apply_next(r);
}

static void apply_next(struct acl_repl *r)
{
    while (r->phase == P_APPLY && !r->write_pending && !r->stopping) {
        if (!r->leading) { /* the next leader plans afresh */
            end_round(r);
            return;
        }
        if (r->next == r->plan.ncmds) {
            succeed(r);
            if (r->leading) fetch(r); /* the next round waits on the primary */
            return;
        }
        r->write_pending = r->in_submit = true;
        struct rpc_write *w =
            rpc_write_submit(agent_rpc(r->a), &r->plan.cmds[r->next], write_done, r);
        r->in_submit = false;
        if (r->write_pending) r->write = w; /* else done() already ran */
    }
}

/* ---- fetching ---------------------------------------------------------------- */

static int status_of(const char *p, size_t len)
{
    return len > 12 && !memcmp(p, "HTTP/1.", 7) ? atoi(p + 9) : 0;
}

static void fetched(void *arg, const void *resp, size_t len)
{
    struct acl_repl *r = arg;
    const char *p = resp, *body = memmem(p, len, "\r\n\r\n", 4);
    int status = status_of(p, len);
    struct rpc_acl_dump d;
    r->tunnel = NULL;
    r->phase = P_IDLE;
    if (r->stopping || !r->leading) return;
    if (status != 200 || !body) {
        char msg[200] = "no answer";
        if (body)
            snprintf(msg, sizeof msg, "%d %.*s", status,
                     (int)CN_MIN(len - (size_t)(body + 4 - p), 150), body + 4);
        fail(r, "failed to retrieve the primary's ACLs", msg);
        return;
    }
    if (rpc_acl_dump_decode(body + 4, len - (size_t)(body + 4 - p), &d)) {
        rpc_acl_dump_release(&d);
        fail(r, "failed to retrieve the primary's ACLs", "malformed ACL dump");
        return;
    }
    if (r->remote_index && d.index < r->remote_index)
        CN_WARN(SUBSYS,
                "ACL replication remote index moved backwards, forcing a full ACL sync: "
                "from=%llu to=%llu",
                (unsigned long long)r->remote_index, (unsigned long long)d.index);
    rpc_acl_repl_plan(rpc_state(agent_rpc(r->a)), &d, &r->plan);
    r->dump_index = d.index;
    r->policies_index = d.policies_index;
    r->tokens_index = d.tokens_index;
    r->roles_index = d.roles_index;
    rpc_acl_dump_release(&d);
    r->phase = P_APPLY;
    r->next = 0;
    apply_next(r);
}

static bool header_safe(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return false;
    return true;
}

static void fetch(struct acl_repl *r)
{
    struct http_server *h = agent_http(r->a);
    const char *tok = token(r);
    char req[1024], index[48] = "";
    if (r->phase != P_IDLE || r->stopping || !*tok) return;
    if (!h || strlen(tok) >= TOKEN_MAX || !header_safe(tok)) {
        fail(r, "cannot fetch",
             h ? "the replication token is not a valid header value" : "no HTTP API");
        return;
    }
    if (r->remote_index)
        snprintf(index, sizeof index, "&index=%llu&wait=" FETCH_WAIT,
                 (unsigned long long)r->remote_index);
    /* ?stale: any server of the primary may answer (Consul's AllowStale) */
    int n = snprintf(req, sizeof req,
                     "GET /v1/internal/cairn/acl-dump?dc=%s&stale%s%s HTTP/1.1\r\n"
                     "Host: 127.0.0.1\r\nX-Consul-Token: %s\r\n\r\n",
                     r->primary, index, r->tokens ? "&tokens" : "", tok);
    if (n < 0 || (size_t)n >= sizeof req) {
        fail(r, "cannot fetch", "request too long");
        return;
    }
    r->phase = P_FETCH;
    /* fetched() may run before inject returns */
    struct http_tunnel *t = http_server_inject(h, req, (size_t)n, "127.0.0.1", 0, fetched, r);
    if (t) r->tunnel = t;
}

/* ---- leadership and the tick ------------------------------------------------ */

static void lead(struct acl_repl *r)
{
    struct acl_repl_status *s = &r->status;
    r->leading = true;
    r->remote_index = 0;
    r->failures = 0;
    r->retry_at_ms = 0;
    s->enabled = s->running = true;
    snprintf(s->source_datacenter, sizeof s->source_datacenter, "%s", r->primary);
    s->replication_type = r->tokens ? "tokens" : "policies";
    CN_INFO(SUBSYS, "started ACL %s replication from %s", r->tokens ? "policy and token" : "policy",
            r->primary);
}

static void step_down(struct acl_repl *r)
{
    r->leading = false;
    r->status.running = false;
    if (r->tunnel) {
        http_tunnel_cancel(r->tunnel);
        r->tunnel = NULL;
        r->phase = P_IDLE;
    }
    /* writes in flight fail on their own: this server no longer leads */
    CN_INFO(SUBSYS, "stopped ACL replication");
}

static void on_tick(uv_timer_t *t)
{
    struct acl_repl *r = t->data;
    struct server *srv = agent_server(r->a);
    bool leader = srv && server_is_leader(srv);
    if (r->stopping) return;
    if (leader != r->leading) {
        if (leader)
            lead(r);
        else
            step_down(r);
    }
    if (!leader || r->phase != P_IDLE) return;
    bool new_token = strcmp(r->failed_token, token(r)) != 0;
    if (uv_now(agent_loop(r->a)) < r->retry_at_ms && !new_token) return;
    fetch(r);
}

/* ---- lifecycle -------------------------------------------------------------------- */

struct acl_repl *acl_repl_start(struct agent *a, const struct acl_repl_config *cfg)
{
    struct acl_repl *r = CN_NEW(struct acl_repl);
    r->a = a;
    snprintf(r->primary, sizeof r->primary, "%s", cfg->primary_datacenter);
    r->tokens = cfg->token_replication;
    r->status.replication_type = "";
    uv_timer_init(agent_loop(a), &r->tick);
    r->tick.data = r;
    uv_timer_start(&r->tick, on_tick, 0, TICK_MS);
    return r;
}

void acl_repl_stop(struct acl_repl *r)
{
    if (!r || r->stopping) return;
    r->stopping = true;
    if (r->tunnel) http_tunnel_cancel(r->tunnel);
    r->tunnel = NULL;
    if (r->write) rpc_write_cancel(r->write);
    r->write = NULL;
    uv_timer_stop(&r->tick);
    uv_close((uv_handle_t *)&r->tick, NULL);
}

void acl_repl_free(struct acl_repl *r)
{
    if (!r) return;
    rpc_acl_repl_plan_release(&r->plan);
    free(r);
}
