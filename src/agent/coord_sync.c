/*
 * coord_sync.c - sending this agent's LAN coordinate to the servers, and on
 * a server, batching the updates it receives into Raft commands
 * (coord_sync.h).
 */
#include "agent/coord_sync.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "acl/acl.h"
#include "agent/agent.h"
#include "agent/cluster.h"
#include "agent/local.h"
#include "http/http.h"
#include "lib/cn_common.h"
#include "lib/cn_jw.h"
#include "lib/cn_limits.h"
#include "lib/cn_log.h"
#include "lib/cn_rand.h"
#include "lib/cn_time.h"
#include "rpc/rpc_coordinate.h"

#define INTERVAL_MIN_MS      (15 * 1000) /* sync_coordinate_interval_min */
#define RATE_TARGET          64.0        /* sync_coordinate_rate_target, updates/s */
#define UPDATE_PERIOD_MS     (5 * 1000)  /* consul.coordinate.update_period */
#define UPDATE_PERIOD_DEV_MS 100         /* the same in -dev (Consul's DevConsulSource) */

struct batch {
    struct agent_coords *c;
    struct rpc_write *w;
    bool submitting, finished; /* the backend may answer inside rpc_write_submit */
};

struct agent_coords {
    struct agent *a;
    struct cluster *cl;
    struct cn_rand rng;
    uint64_t interval_min_ms;
    bool sent_once;
    uv_timer_t send_timer;
    struct http_tunnel *tunnel;
    /* servers only */
    struct rpc_coord_queue *queue;
    uint64_t period_ms;
    uv_timer_t flush_timer;
    struct batch *inflight[CN_COORD_MAX_BATCHES]; /* on their way to Raft */
    size_t ninflight;
    bool stopped;
};

_Static_assert(STATE_COORD_DIM == GOSSIP_COORD_DIM, "the store keeps what gossip computes");

void agent_coord_from_gossip(const struct gossip_coord *g, struct state_coord *out)
{
    memcpy(out->vec, g->vec, sizeof out->vec);
    out->error = g->error;
    out->adjustment = g->adjustment;
    out->height = g->height;
}

static uint64_t env_ms(const char *name, uint64_t dflt)
{
    const char *v = getenv(name);
    int64_t ns;
    if (v && *v && !cn_dur_parse(cn_str_from(v), &ns) && ns >= CN_NS_PER_MS)
        return (uint64_t)(ns / CN_NS_PER_MS);
    return dflt;
}

/* ---- sending our coordinate ---------------------------------------------------- */

static void count_member(void *ctx, const struct gossip_member *m)
{
    (void)m;
    (*(size_t *)ctx)++;
}

/* lib.RateScaledInterval: long enough that n agents together send about
 * RATE_TARGET updates a second, never below the minimum. */
static uint64_t scaled_interval_ms(struct agent_coords *c)
{
    size_t n = 0;
    cluster_members(c->cl, false, count_member, &n);
    uint64_t ms = (uint64_t)(1000.0 * (double)n / RATE_TARGET);
    return ms < c->interval_min_ms ? c->interval_min_ms : ms;
}

static void send_now(uv_timer_t *t);

/* Consul waits interval + a random stagger of up to one interval. The
 * first update goes out after the stagger alone, so a new node shows up in
 * /v1/coordinate/nodes within one interval (docs/decisions.md). */
static void schedule_send(struct agent_coords *c)
{
    uint64_t intv = scaled_interval_ms(c);
    uint64_t wait = cn_rand_below(&c->rng, intv) + (c->sent_once ? intv : 0);
    uv_timer_start(&c->send_timer, send_now, wait ? wait : 1, 0);
}

static void send_done(void *arg, const void *resp, size_t len)
{
    struct agent_coords *c = arg;
    const char *p = resp;
    int status = len > 12 && !memcmp(p, "HTTP/1.", 7) ? atoi(p + 9) : 0;
    c->tunnel = NULL;
    if (status == 403) {
        CN_WARN("agent", "Coordinate update blocked by ACLs");
    } else if (status != 200) {
        const char *body = memmem(p, len, "\r\n\r\n", 4);
        int blen = body ? (int)CN_MIN(len - (size_t)(body + 4 - p), 200) : 0;
        CN_ERROR("agent", "Coordinate update error: error=\"%.*s\"", blen, body ? body + 4 : "");
    }
    if (!c->stopped) schedule_send(c);
}

/* The agent token, else the default one (Consul's tokens.AgentToken). */
static const char *agent_token(struct agent_coords *c)
{
    struct acl_resolver *acl = agent_acl(c->a);
    const char *t = acl ? acl_agent_token(acl, ACL_TOKEN_AGENT) : "";
    return *t || !acl ? t : acl_agent_token(acl, ACL_TOKEN_DEFAULT);
}

static void send_now(uv_timer_t *t)
{
    struct agent_coords *c = t->data;
    const struct agent_config *cfg = agent_cfg(c->a);
    struct http_server *h = agent_http(c->a);
    struct gossip_coord gc;
    struct state_coord sc;
    c->sent_once = true;
    if (!h || !cluster_coord_self(c->cl, false, &gc)) {
        schedule_send(c);
        return;
    }
    agent_coord_from_gossip(&gc, &sc);
    struct cn_buf body, req;
    struct cn_jw w;
    cn_buf_init(&body, CN_BUF_UNLIMITED);
    cn_jw_init(&w, &body, false);
    cn_jw_obj_begin(&w);
    cn_jw_key_str(&w, "Datacenter", cfg->datacenter);
    cn_jw_key_str(&w, "Node", cfg->node_name);
    cn_jw_key_str(&w, "Segment", "");
    cn_jw_key(&w, "Coord");
    rpc_json_coord(&w, &sc);
    cn_jw_obj_end(&w);
    const char *tok = agent_token(c);
    cn_buf_init(&req, CN_BUF_UNLIMITED);
    cn_buf_putf(&req, "PUT /v1/coordinate/update HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    if (*tok) cn_buf_putf(&req, "X-Consul-Token: %s\r\n", tok);
    cn_buf_putf(&req, "Content-Length: %zu\r\n\r\n", body.len);
    cn_buf_put(&req, body.data, body.len);
    /* NULL when send_done already ran (a server queues and answers at once) */
    c->tunnel = http_server_inject(h, req.data, req.len, "127.0.0.1", 0, send_done, c);
    cn_buf_release(&req);
    cn_buf_release(&body);
}

/* ---- a server's batches ------------------------------------------------------------ */

static void forget(struct agent_coords *c, struct batch *b)
{
    for (size_t i = 0; i < c->ninflight; i++) {
        if (c->inflight[i] != b) continue;
        c->inflight[i] = c->inflight[--c->ninflight];
        break;
    }
    free(b);
}

static void batch_done(void *arg, int rc, const struct rpc_result *res)
{
    struct batch *b = arg;
    struct agent_coords *c = b->c;
    (void)res;
    if (rc) CN_WARN("agent", "Batch update failed: error=\"%s\"", cn_strerror(rc));
    if (b->submitting) {
        b->finished = true; /* flush_now forgets it once submit returns */
        return;
    }
    forget(c, b);
}

/* Consul's batchApplyUpdates: everything pending, in batches; a period
 * whose batches are still on their way to Raft is skipped rather than
 * stacked behind them. */
static void flush_now(uv_timer_t *t)
{
    struct agent_coords *c = t->data;
    struct cn_buf cmd;
    size_t dropped = rpc_coord_queue_take_dropped(c->queue);
    if (dropped) CN_WARN("agent", "Discarded coordinate updates: number_discarded=%zu", dropped);
    if (c->ninflight) return;
    cn_buf_init(&cmd, CN_BUF_UNLIMITED);
    while (c->ninflight < CN_COORD_MAX_BATCHES &&
           rpc_coord_queue_next_batch(c->queue, CN_COORD_BATCH_SIZE, &cmd)) {
        struct batch *b = CN_NEW(struct batch);
        b->c = c;
        b->submitting = true;
        c->inflight[c->ninflight++] = b;
        struct rpc_write *w = rpc_write_submit(agent_rpc(c->a), &cmd, batch_done, b);
        b->submitting = false;
        if (!b->finished) {
            b->w = w;
            continue;
        }
        forget(c, b); /* refused at once (no leader, shutting down): w is gone */
        break;        /* the rest stays queued for the next period */
    }
    cn_buf_release(&cmd);
}

bool agent_coords_queue(struct agent_coords *c, const struct state_coordinate *u)
{
    if (!c || !c->queue || c->stopped) return false;
    rpc_coord_queue_put(c->queue, u);
    return true;
}

/* ---- lifecycle ------------------------------------------------------------------------ */

struct agent_coords *agent_coords_start(struct agent *a, struct cluster *cl)
{
    const struct agent_config *cfg = agent_cfg(a);
    struct agent_coords *c = CN_NEW(struct agent_coords);
    c->a = a;
    c->cl = cl;
    cn_rand_seed(&c->rng, cn_rand_os_u64());
    c->interval_min_ms = env_ms("CAIRN_TEST_COORD_SYNC_INTERVAL", INTERVAL_MIN_MS);
    uv_timer_init(agent_loop(a), &c->send_timer);
    uv_timer_init(agent_loop(a), &c->flush_timer);
    c->send_timer.data = c->flush_timer.data = c;
    if (cfg->server) {
        c->queue = rpc_coord_queue_new(CN_COORD_BATCH_SIZE * CN_COORD_MAX_BATCHES);
        c->period_ms = env_ms("CAIRN_TEST_COORD_UPDATE_PERIOD",
                              cfg->dev ? UPDATE_PERIOD_DEV_MS : UPDATE_PERIOD_MS);
        uv_timer_start(&c->flush_timer, flush_now, c->period_ms, c->period_ms);
    }
    if (cl && !agent_config_bool(cfg, "disable_coordinates", false)) schedule_send(c);
    return c;
}

void agent_coords_stop(struct agent_coords *c)
{
    if (!c || c->stopped) return;
    c->stopped = true;
    uv_close((uv_handle_t *)&c->send_timer, NULL);
    uv_close((uv_handle_t *)&c->flush_timer, NULL);
    if (c->tunnel) http_tunnel_cancel(c->tunnel);
    c->tunnel = NULL;
    /* Updates still queued are dropped, as a Consul server's are when it stops. */
    for (size_t i = 0; i < c->ninflight; i++) {
        rpc_write_cancel(c->inflight[i]->w);
        free(c->inflight[i]);
    }
    c->ninflight = 0;
}

void agent_coords_free(struct agent_coords *c)
{
    if (!c) return;
    rpc_coord_queue_free(c->queue);
    free(c);
}
