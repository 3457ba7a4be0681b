/*
 * acl_fetch.c - a client agent's token resolution through its servers
 * (acl_fetch.h). One flight per secret being fetched; whoever needs that
 * secret meanwhile waits on the flight.
 */
#include "agent/acl_fetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "acl/acl.h"
#include "agent/agent.h"
#include "agent/local.h"
#include "http/http_int.h"
#include "lib/cn_common.h"
#include "lib/cn_list.h"
#include "lib/cn_log.h"
#include "lib/cn_map.h"
#include "lib/cn_time.h"
#include "rpc/rpc_acl_ident.h"

#define SUBSYS "agent.client"
/* After a failed fetch, down_policy answers at once for this long. */
#define HOLD_DOWN_MS 1000
/* Distinct secrets fetched at once; beyond it a request resolves at once
 * from what is cached (or down_policy), as if the servers were down. */
#define FLIGHTS_MAX 1024

struct acl_fetch_wait {
    struct cn_list link;
    acl_fetch_done_fn done;
    void *arg;
};

struct flight {
    struct acl_fetch *f;
    char *secret;
    struct http_tunnel *tunnel;
    struct cn_list waiters;
    bool starting, finished; /* the answer may come inside http_server_inject */
};

struct acl_fetch {
    struct agent *a;
    struct cn_map flights; /* secret -> struct flight */
    bool stopping;
    bool down;             /* the last fetch failed: down_policy applies ... */
    uint64_t down_until_ms; /* ... until then (loop time) */
};

struct acl_fetch *acl_fetch_new(struct agent *a)
{
    struct acl_fetch *f = CN_NEW(struct acl_fetch);
    f->a = a;
    cn_map_init(&f->flights);
    /* A client's resolver starts out with no server to ask: there is one
     * now, or the fetch will say otherwise. */
    acl_resolver_servers_down(agent_acl(a), false);
    return f;
}

static void flight_free(struct flight *fl)
{
    while (!cn_list_empty(&fl->waiters)) {
        struct cn_list *x = fl->waiters.next;
        cn_list_remove(x);
        free(cn_list_entry(x, struct acl_fetch_wait, link));
    }
    free(fl->secret);
    free(fl);
}

void acl_fetch_stop(struct acl_fetch *f)
{
    struct cn_map_iter it;
    void *v;
    if (!f || f->stopping) return;
    f->stopping = true;
    cn_map_iter_init(&it, &f->flights);
    while (cn_map_iter_next(&it, NULL, &v)) {
        struct flight *fl = v;
        if (fl->tunnel) http_tunnel_cancel(fl->tunnel);
        fl->tunnel = NULL;
    }
}

void acl_fetch_free(struct acl_fetch *f)
{
    struct cn_map_iter it;
    void *v;
    if (!f) return;
    acl_fetch_stop(f);
    cn_map_iter_init(&it, &f->flights);
    while (cn_map_iter_next(&it, NULL, &v)) flight_free(v);
    cn_map_release(&f->flights);
    free(f);
}

/* ---- the answer -------------------------------------------------------- */

static int status_of(const char *p, size_t len)
{
    return len > 12 && !memcmp(p, "HTTP/1.", 7) ? atoi(p + 9) : 0;
}

static void servers_up(struct acl_fetch *f)
{
    if (f->down) CN_INFO(SUBSYS, "ACL tokens resolve through the servers again");
    f->down = false;
    acl_resolver_servers_down(agent_acl(f->a), false);
}

static void servers_down(struct acl_fetch *f, const char *why)
{
    if (!f->down)
        CN_WARN(SUBSYS, "Error resolving token: %s (acl down_policy applies)", why);
    f->down = true;
    f->down_until_ms = uv_now(agent_loop(f->a)) + HOLD_DOWN_MS;
    acl_resolver_servers_down(agent_acl(f->a), true);
}

/* Cache what the server said about fl->secret; false when it said nothing
 * usable (why is set). */
static bool record(struct flight *fl, const char *p, size_t len, char *why, size_t whylen)
{
    struct acl_resolver *acl = agent_acl(fl->f->a);
    const char *body = memmem(p, len, "\r\n\r\n", 4);
    int status = status_of(p, len);
    size_t blen = body ? len - (size_t)(body + 4 - p) : 0;
    if (!body) {
        snprintf(why, whylen, "no answer");
        return false;
    }
    body += 4;
    if (status == 403 && blen >= 13 && !memcmp(body, "ACL not found", 13)) {
        acl_cache_remote(acl, fl->secret, false, NULL, cn_wall_ns());
        return true;
    }
    struct cn_arena a;
    struct rpc_acl_ident id;
    bool ok = false;
    cn_arena_init(&a, 1024);
    if (status != 200) {
        snprintf(why, whylen, "%d %.*s", status, (int)CN_MIN(blen, 150), body);
    } else if (rpc_acl_ident_decode(body, blen, &a, &id)) {
        snprintf(why, whylen, "malformed answer from the server");
    } else {
        struct rpc_acl_ident_parsed parsed;
        rpc_acl_ident_parse(&id, &parsed);
        acl_cache_remote(acl, fl->secret, true, &parsed.id, cn_wall_ns());
        rpc_acl_ident_parsed_release(&parsed);
        ok = true;
    }
    cn_arena_release(&a);
    return ok;
}

static void fetched(void *arg, const void *resp, size_t len)
{
    struct flight *fl = arg;
    struct acl_fetch *f = fl->f;
    char why[200];
    fl->tunnel = NULL;
    if (record(fl, resp, len, why, sizeof why))
        servers_up(f);
    else
        servers_down(f, why);
    cn_map_del(&f->flights, cn_str_from(fl->secret));
    if (fl->starting) { /* inside http_server_inject: nobody waits yet */
        fl->finished = true;
        return;
    }
    /* A waiter's done() may start other fetches or cancel other waiters:
     * take them one at a time from the head. */
    while (!cn_list_empty(&fl->waiters)) {
        struct acl_fetch_wait *w = cn_list_entry(fl->waiters.next, struct acl_fetch_wait, link);
        acl_fetch_done_fn done = w->done;
        void *warg = w->arg;
        cn_list_remove(&w->link);
        free(w);
        done(warg);
    }
    flight_free(fl);
}

/* ---- asking ------------------------------------------------------------ */

/* Whether a secret can travel in a header and mean the same there: no
 * control bytes, no blanks the parser would trim. */
static bool header_safe(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || s[0] == ' ' || s[n - 1] == ' ') return false;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return false;
    return true;
}

/* Start fetching secret; NULL when the answer is already in (it came
 * synchronously, or the secret cannot name a token). */
static struct flight *start(struct acl_fetch *f, const char *secret)
{
    struct http_server *h = agent_http(f->a);
    char req[640];
    if (!header_safe(secret)) {
        acl_cache_remote(agent_acl(f->a), secret, false, NULL, cn_wall_ns());
        return NULL;
    }
    int n = snprintf(req, sizeof req,
                     "GET /v1/internal/cairn/acl-ident?stale HTTP/1.1\r\n"
                     "Host: 127.0.0.1\r\nX-Consul-Token: %s\r\n\r\n",
                     secret);
    if (!h || n < 0 || (size_t)n >= sizeof req) {
        servers_down(f, h ? "token too long" : "no HTTP API");
        return NULL;
    }
    struct flight *fl = CN_NEW(struct flight);
    fl->f = f;
    fl->secret = cn_strdup(secret);
    cn_list_init(&fl->waiters);
    cn_map_put(&f->flights, cn_str_from(secret), fl);
    fl->starting = true;
    struct http_tunnel *t = http_server_inject(h, req, (size_t)n, "127.0.0.1", 0, fetched, fl);
    fl->starting = false;
    if (fl->finished) {
        flight_free(fl);
        return NULL;
    }
    fl->tunnel = t;
    return fl;
}

bool acl_fetch_ready(struct acl_fetch *f, const char *secret, acl_fetch_done_fn done, void *arg,
                     struct acl_fetch_wait **wait)
{
    struct acl_resolver *acl = agent_acl(f->a);
    const char *eff;
    if (wait) *wait = NULL;
    if (f->stopping) return true;
    if (f->down && uv_now(agent_loop(f->a)) >= f->down_until_ms)
        acl_resolver_servers_down(acl, false); /* time to try again */
    enum acl_fetch_need need = acl_resolver_fetch_need(acl, secret, cn_wall_ns(), &eff);
    if (need == ACL_FETCH_NONE) return true;
    struct flight *fl = cn_map_get(&f->flights, cn_str_from(eff));
    if (!fl) {
        if (cn_map_count(&f->flights) >= FLIGHTS_MAX) return true;
        fl = start(f, eff);
        if (!fl) return true; /* answered already */
    }
    if (need == ACL_FETCH_REFRESH) return true; /* async-cache: the stale answer now */
    if (done) {
        struct acl_fetch_wait *w = CN_NEW(struct acl_fetch_wait);
        w->done = done;
        w->arg = arg;
        cn_list_insert_tail(&fl->waiters, &w->link);
        if (wait) *wait = w;
    }
    return false;
}

void acl_fetch_cancel(struct acl_fetch_wait *w)
{
    if (!w) return;
    cn_list_remove(&w->link);
    free(w);
}

/* ---- HTTP requests that run on this agent --------------------------------- */

static void http_resume(void *arg)
{
    struct http_req *r = arg;
    r->cancel = NULL;
    r->cancel_arg = NULL;
    http_dispatch_resume(r);
}

static void http_cancel(struct http_req *r)
{
    acl_fetch_cancel(r->cancel_arg);
}

int acl_fetch_http_wait(void *ctx, struct http_req *r)
{
    struct acl_fetch_wait *w;
    if (acl_fetch_ready(ctx, r->token, http_resume, r, &w)) return 0;
    r->cancel = http_cancel;
    r->cancel_arg = w;
    return 1;
}
