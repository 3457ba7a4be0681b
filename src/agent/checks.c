/*
 * checks.c - check runners on the agent's loop (Consul's agent/checks):
 * ttl, tcp, script (argv or the legacy shell string), alias; http lives in
 * check_http.c. A runner turns each run's result into a status through
 * Consul's thresholds (success_before_passing, failures_before_warning,
 * failures_before_critical) and hands it to the local state. Nothing here
 * blocks the loop: connects, child processes and HTTP requests are all
 * asynchronous, each bounded by the check's timeout.
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "agent/local_int.h"
#include "lib/cn_common.h"
#include "lib/cn_log.h"
#include "lib/cn_time.h"
#include "rpc/rpc_health.h"

#define MIN_INTERVAL_MS 1000
#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_SCRIPT_TIMEOUT_MS 30000

enum runner_kind { R_TTL = 1, R_HTTP, R_TCP, R_SCRIPT, R_ALIAS };

struct check_env {
    struct cn_list alias_runners;
    bool alias_busy, alias_again;
};

struct check_runner {
    struct cn_list alias_link;
    struct agent_local *l;
    struct local_check *c; /* NULL once stopped */
    enum runner_kind kind;
    uv_timer_t *timer;
    int64_t successes, failures;
    int refs; /* the owner + each operation in flight */
    void *op;
    /* remote alias: a blocking query on the aliased node's checks */
    struct rpc_query *aq;
    uint64_t alias_index;
    bool alias_remote;
};

static void runner_unref(struct check_runner *r)
{
    if (--r->refs == 0) free(r);
}

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

/* ---- results ------------------------------------------------------------------- */

/* Consul's StatusHandler. */
static void runner_result(struct check_runner *r, const char *status, const char *output)
{
    struct local_check *c = r->c;
    if (!c) return;
    const struct agent_check_def *d = &c->def;
    int64_t fbc = d->failures_before_critical;
    int64_t fbw = d->failures_before_warning >= 0 ? d->failures_before_warning : fbc;
    if (!strcmp(status, "passing") || !strcmp(status, "warning")) {
        r->successes++;
        r->failures = 0;
        if (r->successes >= d->success_before_passing) {
            local_check_update(r->l, c, status, output);
            return;
        }
        CN_WARN("agent", "Check passed but has not reached success threshold: check=%s "
                         "success_count=%lld success_threshold=%lld",
                c->hc.check_id, (long long)r->successes, (long long)d->success_before_passing);
        return;
    }
    r->failures++;
    r->successes = 0;
    if (r->failures >= fbc) {
        local_check_update(r->l, c, "critical", output);
        return;
    }
    if (r->failures >= fbw) {
        local_check_update(r->l, c, "warning", output);
        return;
    }
    CN_WARN("agent", "Check failed but has not reached failure threshold: check=%s "
                     "failure_count=%lld failure_threshold=%lld",
            c->hc.check_id, (long long)r->failures, (long long)fbc);
}

static int64_t interval_ms(const struct local_check *c)
{
    int64_t ms = c->def.def.interval_ns / CN_NS_PER_MS;
    return ms < MIN_INTERVAL_MS ? MIN_INTERVAL_MS : ms;
}

static int64_t timeout_ms(const struct local_check *c, int64_t dflt)
{
    int64_t ms = c->def.def.timeout_ns / CN_NS_PER_MS;
    return c->def.def.timeout_ns > 0 ? (ms > 0 ? ms : 1) : dflt;
}

static void run_once(uv_timer_t *t);

static void schedule(struct check_runner *r, uint64_t ms)
{
    if (!r->c || !r->timer) return;
    uv_timer_start(r->timer, run_once, ms, 0);
}

/* An operation finished: report, then run again after the interval. */
static void op_done(struct check_runner *r, const char *status, const char *output)
{
    r->op = NULL;
    if (r->c) {
        runner_result(r, status, output);
        if (r->c) schedule(r, (uint64_t)interval_ms(r->c));
    }
    runner_unref(r);
}

/* ---- tcp ------------------------------------------------------------------------ */

struct tcp_op {
    struct check_runner *r;
    uv_getaddrinfo_t gai;
    uv_tcp_t tcp;
    uv_connect_t conn;
    uv_timer_t timeout;
    struct addrinfo *res, *cur;
    char target[256];
    char err[512];
    bool tcp_open, finished, canceled;
    int handles; /* open handles to close before freeing */
};

static void tcp_handle_closed(uv_handle_t *h)
{
    struct tcp_op *op = h->data;
    if (--op->handles == 0) {
        if (op->res) uv_freeaddrinfo(op->res);
        free(op);
    }
}

static void tcp_finish(struct tcp_op *op, const char *status, const char *output)
{
    if (op->finished) return;
    op->finished = true;
    uv_timer_stop(&op->timeout);
    uv_close((uv_handle_t *)&op->timeout, tcp_handle_closed);
    if (op->tcp_open) uv_close((uv_handle_t *)&op->tcp, tcp_handle_closed);
    op->tcp_open = false;
    struct check_runner *r = op->r;
    if (op->canceled)
        runner_unref(r);
    else
        op_done(r, status, output);
}

static void addr_str(const struct sockaddr *sa, char *out, size_t n)
{
    char ip[64] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        uv_ip4_name((const struct sockaddr_in *)sa, ip, sizeof ip);
        port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
        snprintf(out, n, "%s:%d", ip, port);
    } else {
        uv_ip6_name((const struct sockaddr_in6 *)sa, ip, sizeof ip);
        port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
        snprintf(out, n, "[%s]:%d", ip, port);
    }
}

static void tcp_try_next(struct tcp_op *op);

static void tcp_old_closed(uv_handle_t *h)
{
    struct tcp_op *op = h->data;
    op->handles--;
    if (op->finished) {
        if (op->handles == 0) {
            if (op->res) uv_freeaddrinfo(op->res);
            free(op);
        }
        return;
    }
    tcp_try_next(op);
}

static void tcp_connected(uv_connect_t *req, int status)
{
    struct tcp_op *op = req->data;
    char out[600];
    if (op->finished) return;
    if (status == 0) {
        snprintf(out, sizeof out, "TCP connect %s: Success", op->target);
        tcp_finish(op, "passing", out);
        return;
    }
    char a[128];
    addr_str(op->cur->ai_addr, a, sizeof a);
    snprintf(op->err, sizeof op->err, "dial tcp %s: connect: %s", a,
             status == UV_ECANCELED ? "operation was canceled" : uv_strerror(status));
    op->cur = op->cur->ai_next;
    op->tcp_open = false;
    uv_close((uv_handle_t *)&op->tcp, tcp_old_closed);
}

static void tcp_try_next(struct tcp_op *op)
{
    while (op->cur && op->cur->ai_family != AF_INET && op->cur->ai_family != AF_INET6)
        op->cur = op->cur->ai_next;
    if (!op->cur) {
        tcp_finish(op, "critical", op->err[0] ? op->err : "dial tcp: no addresses");
        return;
    }
    uv_tcp_init(op->r->l->loop, &op->tcp);
    op->tcp.data = op;
    op->tcp_open = true;
    op->handles++;
    op->conn.data = op;
    int rc = uv_tcp_connect(&op->conn, &op->tcp, op->cur->ai_addr, tcp_connected);
    if (rc) tcp_connected(&op->conn, rc);
}

static void tcp_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct tcp_op *op = req->data;
    op->res = res;
    if (op->finished) {
        if (--op->handles == 0) {
            if (res) uv_freeaddrinfo(res);
            free(op);
        }
        return;
    }
    op->handles--; /* the resolver no longer refers to op */
    if (status) {
        snprintf(op->err, sizeof op->err, "dial tcp: lookup %s: %s", op->target, uv_strerror(status));
        tcp_finish(op, "critical", op->err);
        return;
    }
    op->cur = res;
    tcp_try_next(op);
}

static void tcp_timed_out(uv_timer_t *t)
{
    struct tcp_op *op = t->data;
    snprintf(op->err, sizeof op->err, "dial tcp %s: i/o timeout", op->target);
    tcp_finish(op, "critical", op->err);
}

/* "host:port" or "[v6]:port". */
static bool split_hostport(const char *s, char *host, size_t hn, char *port, size_t pn)
{
    const char *colon = strrchr(s, ':');
    if (!colon || !colon[1]) return false;
    size_t len = (size_t)(colon - s);
    if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
        s++;
        len -= 2;
    }
    if (len >= hn) return false;
    memcpy(host, s, len);
    host[len] = '\0';
    snprintf(port, pn, "%s", colon + 1);
    return true;
}

static void run_tcp(struct check_runner *r)
{
    struct tcp_op *op = CN_NEW(struct tcp_op);
    char host[256], port[32];
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    op->r = r;
    snprintf(op->target, sizeof op->target, "%s", r->c->def.def.tcp);
    r->refs++;
    r->op = op;
    uv_timer_init(r->l->loop, &op->timeout);
    op->timeout.data = op;
    op->handles = 1;
    uv_timer_start(&op->timeout, tcp_timed_out, (uint64_t)timeout_ms(r->c, DEFAULT_TIMEOUT_MS), 0);
    if (!split_hostport(op->target, host, sizeof host, port, sizeof port)) {
        snprintf(op->err, sizeof op->err, "dial tcp %s: missing port in address", op->target);
        tcp_finish(op, "critical", op->err);
        return;
    }
    op->gai.data = op;
    op->handles++;
    int rc = uv_getaddrinfo(r->l->loop, &op->gai, tcp_resolved, host, port, &hints);
    if (rc) {
        op->handles--;
        snprintf(op->err, sizeof op->err, "dial tcp: lookup %s: %s", host, uv_strerror(rc));
        tcp_finish(op, "critical", op->err);
    }
}

static void cancel_tcp(struct tcp_op *op)
{
    if (op->finished) return;
    op->canceled = true;
    if (!op->tcp_open && op->handles > 1) uv_cancel((uv_req_t *)&op->gai);
    tcp_finish(op, "critical", "canceled");
}

/* ---- script ----------------------------------------------------------------------- */

struct script_op {
    struct check_runner *r;
    uv_process_t proc;
    uv_pipe_t out;
    uv_timer_t timeout;
    char *ring; /* the last `cap` bytes of output (Consul's circbuf) */
    size_t cap, start, len, total;
    int handles;
    bool exited, eof, finished, canceled, timed_out;
    int64_t exit_status;
    int term_signal;
    int64_t timeout_ms;
};

static void script_closed(uv_handle_t *h)
{
    struct script_op *op = h->data;
    if (--op->handles == 0) {
        free(op->ring);
        free(op);
    }
}

static void ring_add(struct script_op *op, const char *p, size_t n)
{
    op->total += n;
    for (size_t i = 0; i < n; i++) {
        if (op->len < op->cap) {
            op->ring[(op->start + op->len++) % op->cap] = p[i];
        } else {
            op->ring[op->start] = p[i];
            op->start = (op->start + 1) % op->cap;
        }
    }
}

static void script_finish(struct script_op *op)
{
    if (op->finished) return;
    op->finished = true;
    uv_timer_stop(&op->timeout);
    uv_close((uv_handle_t *)&op->timeout, script_closed);
    if (!uv_is_closing((uv_handle_t *)&op->out)) uv_close((uv_handle_t *)&op->out, script_closed);
    uv_close((uv_handle_t *)&op->proc, script_closed);
    struct check_runner *r = op->r;
    if (op->canceled) {
        runner_unref(r);
        return;
    }
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    const char *status;
    if (op->timed_out) {
        char d[CN_DUR_STR_MAX];
        cn_buf_putf(&b, "Timed out (%s) running check",
                    cn_dur_format(op->timeout_ms * CN_NS_PER_MS, d, sizeof d));
        status = "critical";
    } else {
        if (op->total > op->cap)
            cn_buf_putf(&b, "Captured %zu of %zu bytes\n...\n", op->cap, op->total);
        for (size_t i = 0; i < op->len; i++) cn_buf_putc(&b, op->ring[(op->start + i) % op->cap]);
        status = op->exit_status == 0 && !op->term_signal   ? "passing"
                 : op->exit_status == 1 && !op->term_signal ? "warning"
                                                            : "critical";
    }
    op_done(r, status, b.data ? b.data : "");
    cn_buf_release(&b);
}

static void script_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    static char chunk[16384];
    *buf = uv_buf_init(chunk, sizeof chunk);
}

static void script_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct script_op *op = s->data;
    if (n > 0) ring_add(op, buf->base, (size_t)n);
    if (n < 0) {
        op->eof = true;
        if (!uv_is_closing((uv_handle_t *)s)) uv_close((uv_handle_t *)s, script_closed);
        if (op->exited) script_finish(op);
    }
}

static void script_grace_over(uv_timer_t *t)
{
    script_finish(t->data);
}

/* The exit can arrive before the last output is read: wait for the end of
 * the pipe, but not for long (a grandchild may hold it open). */
static void script_exited(uv_process_t *p, int64_t exit_status, int term_signal)
{
    struct script_op *op = p->data;
    op->exited = true;
    op->exit_status = exit_status;
    op->term_signal = term_signal;
    if (op->eof) {
        script_finish(op);
        return;
    }
    uv_timer_start(&op->timeout, script_grace_over, 250, 0);
}

static void script_kill(struct script_op *op)
{
    /* The child leads its own process group: take its children too. */
    if (op->proc.pid > 0) kill(-op->proc.pid, SIGKILL);
}

static void script_timed_out(uv_timer_t *t)
{
    struct script_op *op = t->data;
    op->timed_out = true;
    CN_WARN("agent", "Check timed out: check=%s", op->r->c ? op->r->c->hc.check_id : "?");
    script_kill(op);
}

static void run_script(struct check_runner *r)
{
    struct local_check *c = r->c;
    const struct state_check_def *d = &c->def.def;
    struct script_op *op = CN_NEW(struct script_op);
    uv_process_options_t o;
    uv_stdio_container_t stdio[3];
    op->r = r;
    op->cap = (size_t)local_output_max(r->l, &c->def);
    op->ring = cn_malloc(op->cap);
    op->timeout_ms = timeout_ms(c, DEFAULT_SCRIPT_TIMEOUT_MS);
    r->refs++;
    r->op = op;
    uv_pipe_init(r->l->loop, &op->out, 0);
    op->out.data = op;
    uv_timer_init(r->l->loop, &op->timeout);
    op->timeout.data = op;
    op->proc.data = op;
    op->handles = 3;
    memset(&o, 0, sizeof o);
    /* stdout and stderr into one pipe: Consul captures both together */
    uv_file fds[2] = {-1, -1};
    int prc = uv_pipe(fds, UV_NONBLOCK_PIPE, 0);
    if (prc == 0) prc = uv_pipe_open(&op->out, fds[0]);
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = fds[1];
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = fds[1];
    o.file = d->script_args[0];
    o.args = d->script_args;
    o.stdio = stdio;
    o.stdio_count = 3;
    o.exit_cb = script_exited;
    o.flags = UV_PROCESS_DETACHED; /* setsid: a process group we can kill whole */
    int rc = prc ? prc : uv_spawn(r->l->loop, &op->proc, &o);
    if (fds[1] >= 0) close(fds[1]); /* the child holds the write end now */
    if (rc && fds[0] >= 0 && prc) close(fds[0]);
    if (rc) {
        char msg[512];
        snprintf(msg, sizeof msg, "fork/exec %s: %s", d->script_args[0], uv_strerror(rc));
        uv_close((uv_handle_t *)&op->proc, script_closed);
        uv_close((uv_handle_t *)&op->out, script_closed);
        uv_close((uv_handle_t *)&op->timeout, script_closed);
        op->finished = true;
        op_done(r, "critical", msg);
        return;
    }
    uv_read_start((uv_stream_t *)&op->out, script_alloc, script_read);
    uv_timer_start(&op->timeout, script_timed_out, (uint64_t)op->timeout_ms, 0);
}

static void cancel_script(struct script_op *op)
{
    if (op->finished) return;
    op->canceled = true;
    script_kill(op);
    /* finishes when the exit arrives */
}

/* ---- http (the request itself is in check_http.c) ------------------------------ */

static void http_done(void *arg, const char *status, const char *output)
{
    op_done(arg, status, output);
}

static void run_http(struct check_runner *r)
{
    r->refs++;
    r->op = check_http_run(r->l, &r->c->def, local_output_max(r->l, &r->c->def), http_done, r);
}

/* ---- ttl --------------------------------------------------------------------------- */

static void ttl_expired(uv_timer_t *t)
{
    struct check_runner *r = t->data;
    if (!r->c) return;
    CN_WARN("agent", "Check missed TTL, is now critical: check=%s", r->c->hc.check_id);
    local_check_update(r->l, r->c, "critical", "TTL expired");
}

void check_runner_ttl_touch(struct local_check *c)
{
    struct check_runner *r = c->runner;
    int64_t ttl = c->def.def.ttl_ns / CN_NS_PER_MS;
    if (!r || r->kind != R_TTL) return;
    uv_timer_start(r->timer, ttl_expired, (uint64_t)(ttl > 0 ? ttl : 1), 0);
    persist_check_state(r->l, c, cn_wall_ns() + c->def.def.ttl_ns);
}

/* ---- alias ---------------------------------------------------------------------- */

/* Consul's CheckAlias.processChecks over the aliased node's checks. */
static void alias_process(struct check_runner *r, const struct state_check *const *checks,
                          size_t n, bool service_exists)
{
    struct local_check *c = r->c;
    const char *node = c->def.def.alias_node, *sid = c->def.def.alias_service;
    const char *health = "passing";
    char msg[1024] = "No checks found.";
    bool found = false;
    for (size_t i = 0; i < n; i++) {
        const struct state_check *k = checks[i];
        if (!strcmp(k->check_id, c->hc.check_id) && !strcasecmp(k->node, r->l->node_name))
            continue; /* never alias oneself */
        if (*node && strcasecmp(node, k->node)) continue;
        bool match = *sid && !strcmp(sid, k->service_id);
        if (*k->service_id && !match) continue;
        if (*k->service_id) found = true;
        if (!strcmp(k->status, "critical") || !strcmp(k->status, "warning")) {
            health = !strcmp(k->status, "critical") ? "critical" : "warning";
            snprintf(msg, sizeof msg, "Aliased check \"%s\" failing: %s", k->name, k->output);
            if (!strcmp(health, "critical")) break;
        } else if (!strcmp(health, "passing")) {
            snprintf(msg, sizeof msg, "All checks passing.");
        }
    }
    if (*sid && !found && !service_exists) {
        health = "critical";
        snprintf(msg, sizeof msg, "Service %s could not be found on node %s", sid, node);
    }
    local_check_update(r->l, c, health, msg);
}

static void alias_local(struct check_runner *r)
{
    const struct state_check **v;
    size_t n = agent_local_checks(r->l, &v);
    const char *sid = r->c->def.def.alias_service;
    alias_process(r, v, n, *sid && agent_local_service(r->l, sid) != NULL);
    free(v);
}

static void alias_query_done(struct rpc_query *q, int rc);

static void alias_query(struct check_runner *r)
{
    struct rpc_health_req *req;
    struct rpc_query *q = rpc_query_new(r->l->rpc);
    req = cn_calloc(1, sizeof *req);
    req->op = RPC_HEALTH_NODE;
    req->name = cn_str_from(r->c->def.def.alias_node);
    q->opts.token = local_sync_token(r->l, r->c->token);
    q->opts.min_index = r->alias_index;
    q->opts.max_wait_ns = 5 * 60 * CN_NS_PER_S;
    q->run = rpc_health_run;
    q->done = alias_query_done;
    q->req = req;
    q->arg = r;
    r->aq = q;
    r->refs++;
    rpc_query_start(q);
}

static void alias_retry(uv_timer_t *t)
{
    struct check_runner *r = t->data;
    if (r->c) alias_query(r);
}

static void alias_query_done(struct rpc_query *q, int rc)
{
    struct check_runner *r = q->arg;
    const struct rpc_health_resp *o = q->resp;
    r->aq = NULL;
    if (r->c) {
        if (rc) {
            local_check_update(r->l, r->c, "critical", q->err.msg[0] ? q->err.msg : cn_strerror(rc));
            uv_timer_start(r->timer, alias_retry, 1000, 0);
        } else {
            /* A reset index (restore, new leader) restarts from 0. */
            r->alias_index = q->meta.index < r->alias_index ? 0 : q->meta.index;
            const char *sid = r->c->def.def.alias_service;
            bool exists = false;
            for (size_t i = 0; i < o->nchecks && !exists; i++) exists = !strcmp(o->checks[i]->service_id, sid);
            if (*sid && !exists)
                exists = state_service_get(rpc_state(r->l->rpc), cn_str_from(r->c->def.def.alias_node),
                                           cn_str_from(sid)) != NULL;
            alias_process(r, (const struct state_check *const *)o->checks, o->nchecks, exists);
            alias_query(r);
        }
    }
    free(q->req);
    rpc_query_free(q);
    runner_unref(r);
}

/* An alias update is itself a local change: re-evaluate in a bounded loop
 * rather than recursively (aliases of aliases could otherwise chase each
 * other's output forever). */
#define ALIAS_ROUNDS_MAX 8
void checks_alias_refresh(struct agent_local *l)
{
    struct cn_list *it, *tmp;
    struct check_env *env = l->env;
    if (!env) return;
    if (env->alias_busy) {
        env->alias_again = true;
        return;
    }
    env->alias_busy = true;
    for (int round = 0; round < ALIAS_ROUNDS_MAX; round++) {
        env->alias_again = false;
        cn_list_foreach_safe(it, tmp, &env->alias_runners)
        {
            struct check_runner *r = cn_list_entry(it, struct check_runner, alias_link);
            if (r->c && !r->alias_remote) alias_local(r);
        }
        if (!env->alias_again) break;
    }
    env->alias_busy = false;
}

/* ---- the runner ---------------------------------------------------------------------- */

static void run_once(uv_timer_t *t)
{
    struct check_runner *r = t->data;
    if (!r->c || r->op) return;
    switch (r->kind) {
    case R_HTTP: run_http(r); break;
    case R_TCP: run_tcp(r); break;
    case R_SCRIPT: run_script(r); break;
    default: break;
    }
}

static void alias_first(uv_timer_t *t)
{
    struct check_runner *r = t->data;
    if (!r->c) return;
    if (r->alias_remote)
        alias_query(r);
    else
        alias_local(r);
}

void check_runner_start(struct agent_local *l, struct local_check *c)
{
    const struct state_check_def *d = &c->def.def;
    const char *type = agent_check_type(&c->def);
    enum runner_kind kind = 0;
    if (!strcmp(type, "ttl")) kind = R_TTL;
    else if (!strcmp(type, "http")) kind = R_HTTP;
    else if (!strcmp(type, "tcp")) kind = R_TCP;
    else if (!strcmp(type, "script")) kind = R_SCRIPT;
    else if (!strcmp(type, "alias")) kind = R_ALIAS;
    if (!kind) {
        if (*type) CN_WARN("agent", "Check type not supported, status stays as registered: check=%s type=%s",
                           c->hc.check_id, type);
        return;
    }
    struct check_runner *r = CN_NEW(struct check_runner);
    r->l = l;
    r->c = c;
    r->kind = kind;
    r->refs = 1;
    r->timer = cn_malloc(sizeof *r->timer);
    uv_timer_init(l->loop, r->timer);
    r->timer->data = r;
    cn_list_init(&r->alias_link);
    c->runner = r;
    switch (kind) {
    case R_TTL: {
        int64_t remaining = d->ttl_ns / CN_NS_PER_MS;
        if (persist_check_state_load(l, c, &remaining) == 0 && remaining <= 0) remaining = 1;
        uv_timer_start(r->timer, ttl_expired, (uint64_t)(remaining > 0 ? remaining : 1), 0);
        break;
    }
    case R_ALIAS:
        r->alias_remote = *d->alias_node && strcasecmp(d->alias_node, l->node_name);
        cn_list_insert_tail(&l->env->alias_runners, &r->alias_link);
        uv_timer_start(r->timer, alias_first, 0, 0);
        break;
    default: {
        /* Consul staggers the first run over the interval; a short pause
         * spreads a burst of registrations without delaying the first
         * answer by a whole interval. */
        uint64_t first = (uint64_t)rand() % (uint64_t)CN_MIN(interval_ms(c), 500);
        uv_timer_start(r->timer, run_once, first, 0);
        break;
    }
    }
}

void check_runner_stop(struct local_check *c)
{
    struct check_runner *r = c->runner;
    if (!r) return;
    c->runner = NULL;
    r->c = NULL;
    cn_list_remove(&r->alias_link);
    cn_list_init(&r->alias_link);
    uv_timer_stop(r->timer);
    uv_close((uv_handle_t *)r->timer, timer_closed);
    r->timer = NULL;
    void *op = r->op;
    struct rpc_query *q = r->aq;
    int drop = 1; /* the owner's reference */
    r->op = NULL;
    r->aq = NULL;
    if (op) {
        switch (r->kind) {
        case R_TCP: cancel_tcp(op); break;       /* drops its reference when closed */
        case R_SCRIPT: cancel_script(op); break; /* drops it when the child exits */
        case R_HTTP:
            check_http_cancel(op);
            drop++;
            break;
        default: break;
        }
    }
    if (q) {
        free(q->req);
        rpc_query_cancel(q);
        drop++;
    }
    r->refs -= drop - 1;
    runner_unref(r);
}

int checks_env_init(struct agent_local *l)
{
    l->env = CN_NEW(struct check_env);
    cn_list_init(&l->env->alias_runners);
    return 0; /* the HTTP check environment waits for the first HTTP check */
}

void checks_env_close(struct agent_local *l)
{
    if (!l->env) return;
    check_http_env_close(l);
    free(l->env);
    l->env = NULL;
}
