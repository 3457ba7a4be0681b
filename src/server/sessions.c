/* sessions.c - the leader's session TTL timers, renew, session IDs and
 * lock-delay refusals (sessions.h). */
#include "server/sessions.h"

#include <stdio.h>
#include <string.h>

#include "lib/cn_common.h"
#include "lib/cn_log.h"
#include "lib/cn_map.h"
#include "lib/cn_time.h"
#include "lib/cn_uuid.h"
#include "rpc/rpc_cmd.h"
#include "rpc/rpc_session.h"
#include "server/server.h"

#define TTL_GRACE      2    /* Consul's SessionTTLMultiplier */
#define DELAY_SWEEP_AT 4096 /* tracked lock-delay keys before expired ones are swept */

struct ttl_timer {
    uv_timer_t t;
    struct server_sessions *ss;
    char *id;
};

struct server_sessions {
    uv_loop_t *loop;
    struct state_store *st;
    struct server *srv;
    bool leader;
    bool closing;
    size_t refs;          /* the owner, pending wrapped proposals, open handles */
    struct cn_map timers; /* session id -> struct ttl_timer */
    struct cn_map delays; /* KV key -> deadline (monotonic ms) */
    struct state_watch_set *ws;
    uint64_t delay_seen; /* highest lock-delay record index taken in */
};

static void unref(struct server_sessions *ss)
{
    CN_ASSERT(ss->refs > 0);
    if (--ss->refs) return;
    cn_map_release(&ss->timers);
    cn_map_release(&ss->delays);
    free(ss);
}

/* ---- TTL timers ------------------------------------------------------- */

static void timer_closed(uv_handle_t *h)
{
    struct ttl_timer *t = h->data;
    struct server_sessions *ss = t->ss;
    free(t->id);
    free(t);
    unref(ss);
}

static void disarm(struct server_sessions *ss, struct cn_str id)
{
    struct ttl_timer *t = cn_map_del(&ss->timers, id);
    if (!t) return;
    uv_timer_stop(&t->t);
    uv_close((uv_handle_t *)&t->t, timer_closed);
}

static void expire_applied(void *arg, int rc, struct rpc_result *res)
{
    char *id = arg;
    if (rc)
        CN_WARN("session", "failed to invalidate expired session %s: %s", id,
                res && res->text ? res->text : cn_strerror(rc));
    free(id);
}

static void on_expire(uv_timer_t *h)
{
    struct ttl_timer *t = h->data;
    struct server_sessions *ss = t->ss;
    char *id = cn_strdup(t->id);
    disarm(ss, cn_str_from(id));
    if (!ss->leader || !state_session_exists(ss->st, cn_str_from(id))) {
        free(id);
        return;
    }
    CN_INFO("session", "session %s expired (TTL not renewed), invalidating", id);
    struct cn_buf cmd;
    cn_buf_init(&cmd, CN_BUF_UNLIMITED);
    struct rpc_session_cmd c = {.op = RPC_SESSION_DESTROY, .id = cn_str_from(id)};
    rpc_session_cmd_encode(&c, &cmd);
    server_apply_local(ss->srv, cmd.data, cmd.len, expire_applied, id);
    cn_buf_release(&cmd);
}

static int64_t ttl_of(const char *ttl)
{
    int64_t ns = 0;
    if (!ttl || !*ttl || cn_dur_parse(cn_str_from(ttl), &ns) || ns <= 0) return 0;
    return ns;
}

/* (Re)start the session's timer: 2 x TTL from now. */
static void arm(struct server_sessions *ss, const char *id, int64_t ttl_ns)
{
    if (ttl_ns <= 0 || ss->closing) return;
    struct ttl_timer *t = cn_map_get(&ss->timers, cn_str_from(id));
    if (!t) {
        t = CN_NEW(struct ttl_timer);
        t->ss = ss;
        t->id = cn_strdup(id);
        uv_timer_init(ss->loop, &t->t);
        t->t.data = t;
        ss->refs++;
        cn_map_put(&ss->timers, cn_str_from(t->id), t);
    }
    uint64_t ms = (uint64_t)(ttl_ns / 1000000) * TTL_GRACE;
    uv_timer_start(&t->t, on_expire, ms ? ms : 1, 0);
}

static bool arm_stored(void *ctx, const struct state_session *s)
{
    arm(ctx, s->id, ttl_of(s->ttl));
    return true;
}

static void disarm_all(struct server_sessions *ss)
{
    struct cn_map_iter it;
    struct cn_str key;
    void *v;
    size_t n = cn_map_count(&ss->timers), k = 0;
    char **ids = cn_calloc(n + 1, sizeof *ids);
    cn_map_iter_init(&it, &ss->timers);
    while (cn_map_iter_next(&it, &key, &v) && k < n)
        ids[k++] = cn_strndup(key.p, key.len);
    for (size_t i = 0; i < k; i++) {
        disarm(ss, cn_str_from(ids[i]));
        free(ids[i]);
    }
    free(ids);
}

void server_sessions_leader(struct server_sessions *ss, bool leader)
{
    if (!ss) return;
    ss->leader = leader;
    if (leader) {
        state_sessions_list(ss->st, NULL, arm_stored, ss);
        CN_INFO("session", "leader: %zu session TTL timer(s) armed", cn_map_count(&ss->timers));
    } else {
        disarm_all(ss);
    }
}

size_t server_sessions_timers(const struct server_sessions *ss)
{
    return ss ? cn_map_count(&ss->timers) : 0;
}

/* ---- lock-delay deadlines ---------------------------------------------- */

static void sweep_delays(struct server_sessions *ss, uint64_t now)
{
    struct cn_map_iter it;
    struct cn_str key;
    void *v;
    size_t n = 0, cap = 0;
    char **dead = NULL;
    cn_map_iter_init(&it, &ss->delays);
    while (cn_map_iter_next(&it, &key, &v)) {
        if ((uint64_t)(uintptr_t)v > now) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            dead = cn_realloc(dead, cap * sizeof *dead);
        }
        dead[n++] = cn_strndup(key.p, key.len);
    }
    for (size_t i = 0; i < n; i++) {
        cn_map_del(&ss->delays, cn_str_from(dead[i]));
        free(dead[i]);
    }
    free(dead);
}

static void take_delay(void *ctx, struct cn_str key, int64_t delay_ns)
{
    struct server_sessions *ss = ctx;
    uint64_t now = cn_now_ms();
    uint64_t deadline = now + (uint64_t)(delay_ns + 999999) / 1000000;
    if (cn_map_count(&ss->delays) >= DELAY_SWEEP_AT) sweep_delays(ss, now);
    cn_map_put(&ss->delays, key, (void *)(uintptr_t)deadline);
}

static void on_delay_records(void *ctx)
{
    struct server_sessions *ss = ctx;
    ss->delay_seen = state_lock_delays_since(ss->st, ss->delay_seen, take_delay, ss);
    state_ws_reset(ss->ws);
    state_ws_add(ss->ws, STATE_W_OTHER, CN_STR(STATE_LOCK_DELAY_TOPIC));
}

static bool in_lock_delay(struct server_sessions *ss, struct cn_str key)
{
    void *v = cn_map_get(&ss->delays, key);
    if (!v) return false;
    if ((uint64_t)(uintptr_t)v > cn_now_ms()) return true;
    cn_map_del(&ss->delays, key);
    return false;
}

size_t server_sessions_lock_delays(struct server_sessions *ss)
{
    if (!ss) return 0;
    sweep_delays(ss, cn_now_ms());
    return cn_map_count(&ss->delays);
}

/* ---- commands on their way to Raft -------------------------------------- */

/* An answer given without proposing, delivered from the loop (never from
 * inside the caller's submit). */
struct answer {
    uv_timer_t t;
    struct server_sessions *ss;
    rpc_applied_fn fn;
    void *arg;
    int rc;
    bool ok;
    char *text;
};

static void answer_closed(uv_handle_t *h)
{
    struct answer *a = h->data;
    struct server_sessions *ss = a->ss;
    free(a->text);
    free(a);
    unref(ss);
}

static void answer_fire(uv_timer_t *h)
{
    struct answer *a = h->data;
    struct rpc_result res = {.index = state_last_index(a->ss->st), .ok = a->ok, .text = a->text};
    a->fn(a->arg, a->rc, &res);
    uv_close((uv_handle_t *)&a->t, answer_closed);
}

static void answer_later(struct server_sessions *ss, rpc_applied_fn fn, void *arg, int rc, bool ok,
                         char *text)
{
    struct answer *a = CN_NEW(struct answer);
    a->ss = ss;
    a->fn = fn;
    a->arg = arg;
    a->rc = rc;
    a->ok = ok;
    a->text = text;
    ss->refs++;
    uv_timer_init(ss->loop, &a->t);
    a->t.data = a;
    uv_timer_start(&a->t, answer_fire, 0, 0);
}

/* A proposal whose outcome the timers follow. */
struct wrap {
    struct server_sessions *ss;
    rpc_applied_fn fn;
    void *arg;
    enum rpc_session_op op;
    char *id;
    int64_t ttl_ns;
    struct cn_buf cmd;
};

static void wrap_applied(void *arg, int rc, struct rpc_result *res)
{
    struct wrap *w = arg;
    struct server_sessions *ss = w->ss;
    if (rc == 0 && !ss->closing) {
        if (w->op == RPC_SESSION_CREATE && ss->leader) arm(ss, w->id, w->ttl_ns);
        if (w->op == RPC_SESSION_DESTROY) disarm(ss, cn_str_from(w->id));
    }
    w->fn(w->arg, rc, res);
    cn_buf_release(&w->cmd);
    free(w->id);
    free(w);
    unref(ss);
}

static struct wrap *wrap_new(struct server_sessions *ss, rpc_applied_fn fn, void *arg,
                             enum rpc_session_op op, struct cn_str id)
{
    struct wrap *w = CN_NEW(struct wrap);
    w->ss = ss;
    w->fn = fn;
    w->arg = arg;
    w->op = op;
    w->id = cn_str_dup(id);
    cn_buf_init(&w->cmd, CN_BUF_UNLIMITED);
    ss->refs++;
    return w;
}

static bool filter_kvs(struct server_sessions *ss, struct cn_dec *d, rpc_applied_fn applied,
                       void *arg)
{
    struct rpc_kvs_cmd c;
    if (rpc_kvs_decode(d, &c) || c.op != RPC_KVS_LOCK || !in_lock_delay(ss, c.key)) return false;
    answer_later(ss, applied, arg, 0, false, NULL);
    return true;
}

static bool filter_session(struct server_sessions *ss, struct cn_dec *d, const void **cmd,
                           size_t *len, rpc_applied_fn *applied, void **arg)
{
    struct cn_arena a;
    struct rpc_session_cmd c;
    bool taken = false;
    cn_arena_init(&a, 1024);
    if (rpc_session_cmd_decode(d, &a, &c)) {
        cn_arena_release(&a);
        return false; /* the FSM refuses it */
    }
    if (c.op == RPC_SESSION_RENEW) {
        const struct state_session *s = state_session_get(ss->st, c.id, NULL);
        if (!s) {
            char *text = cn_malloc(c.id.len + 40);
            sprintf(text, "Session id '%.*s' not found", (int)c.id.len, c.id.p);
            answer_later(ss, *applied, *arg, CN_ENOENT, false, text);
        } else {
            arm(ss, s->id, ttl_of(s->ttl));
            answer_later(ss, *applied, *arg, 0, true, NULL);
        }
        taken = true;
    } else if (c.op == RPC_SESSION_CREATE) {
        char id[CN_UUID_LEN + 1];
        do
            cn_uuid_new(id);
        while (state_session_exists(ss->st, cn_str_from(id)));
        c.s.id = id;
        struct wrap *w = wrap_new(ss, *applied, *arg, c.op, cn_str_from(id));
        w->ttl_ns = ttl_of(c.s.ttl);
        rpc_session_cmd_encode(&c, &w->cmd);
        *cmd = w->cmd.data;
        *len = w->cmd.len;
        *applied = wrap_applied;
        *arg = w;
    } else if (c.op == RPC_SESSION_DESTROY) {
        struct wrap *w = wrap_new(ss, *applied, *arg, c.op, c.id);
        *applied = wrap_applied;
        *arg = w;
    }
    cn_arena_release(&a);
    return taken;
}

bool server_sessions_filter(struct server_sessions *ss, const void **cmd, size_t *len,
                            rpc_applied_fn *applied, void **arg)
{
    struct cn_dec d;
    enum rpc_cmd_type type;
    if (!ss || ss->closing || rpc_cmd_open(&d, *cmd, *len, &type)) return false;
    if (type == RPC_CMD_KVS) return filter_kvs(ss, &d, *applied, *arg);
    if (type == RPC_CMD_SESSION) return filter_session(ss, &d, cmd, len, applied, arg);
    return false;
}

/* ---- lifecycle --------------------------------------------------------- */

struct server_sessions *server_sessions_new(uv_loop_t *loop, struct state_store *st,
                                            struct server *srv)
{
    struct server_sessions *ss = CN_NEW(struct server_sessions);
    ss->loop = loop;
    ss->st = st;
    ss->srv = srv;
    ss->refs = 1;
    cn_map_init(&ss->timers);
    cn_map_init(&ss->delays);
    ss->ws = state_ws_new(st, on_delay_records, ss);
    state_ws_add(ss->ws, STATE_W_OTHER, CN_STR(STATE_LOCK_DELAY_TOPIC));
    return ss;
}

void server_sessions_free(struct server_sessions *ss)
{
    if (!ss) return;
    disarm_all(ss);
    ss->closing = true;
    ss->leader = false;
    state_ws_free(ss->ws);
    ss->ws = NULL;
    unref(ss);
}
