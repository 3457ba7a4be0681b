/*
 * watch.c - one blocking query per dependency, all on one libuv loop via
 * libcurl's multi-socket API (uv_poll per socket, one uv_timer for curl's
 * timeouts): consul-template's view loop (§2.2): first request without
 * index, then index=<X-Consul-Index>, wait=<block_query_wait>ms, stale=
 * while max_stale > 0 (repeated at once without it when LastContact is too
 * old), index going backwards resets to 0, the same index is no news,
 * requests at least 100 ms (+0-20 ms) apart, and failures retried with
 * exponential backoff until retry.attempts is exhausted.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/cn_common.h"
#include "lib/cn_str.h"
#include "lib/cn_time.h"
#include "tmpl/run/run_int.h"

struct sock {
    uv_poll_t poll;
    curl_socket_t fd;
    struct runner *r;
    struct sock *prev, *next;
};

static void sock_unlink(struct sock *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        s->r->socks = s->next;
    if (s->next) s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

static void check_done(struct runner *r);

/* ---- curl <-> libuv ---------------------------------------------------- */

static void on_poll_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct sock *s = p->data;
    int flags = 0, running;
    if (status < 0) flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    struct runner *r = s->r;
    curl_multi_socket_action(r->multi, s->fd, flags, &running);
    check_done(r);
}

static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)e;
    struct runner *r = userp;
    struct sock *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            sock_unlink(s);
            uv_poll_stop(&s->poll);
            uv_close((uv_handle_t *)&s->poll, on_poll_closed);
            if (r->multi) curl_multi_assign(r->multi, fd, NULL);
        }
        return 0;
    }
    if (!s) {
        s = CN_NEW(struct sock);
        s->fd = fd;
        s->r = r;
        if (uv_poll_init_socket(r->loop, &s->poll, fd)) {
            free(s);
            return -1;
        }
        s->poll.data = s;
        s->next = r->socks;
        if (r->socks) ((struct sock *)r->socks)->prev = s;
        r->socks = s;
        curl_multi_assign(r->multi, fd, s);
    }
    int ev = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) ev |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) ev |= UV_WRITABLE;
    uv_poll_start(&s->poll, ev, on_poll);
    return 0;
}

static void on_curl_timer(uv_timer_t *t)
{
    struct runner *r = t->data;
    int running;
    curl_multi_socket_action(r->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(r);
}

static int on_timeout(CURLM *m, long ms, void *userp)
{
    (void)m;
    struct runner *r = userp;
    if (r->stopping) return 0;
    if (ms < 0)
        uv_timer_stop(&r->curl_timer);
    else
        uv_timer_start(&r->curl_timer, on_curl_timer, (uint64_t)ms, 0);
    return 0;
}

int http_init(struct runner *r, struct cn_err *err)
{
    const char *addr = r->cfg.address;
    if (!strncmp(addr, "unix://", 7)) {
        r->unix_path = cn_strdup(addr + 7);
        r->base = cn_strdup("http://localhost");
    } else if (strstr(addr, "://")) {
        r->base = cn_strdup(addr);
    } else {
        r->base = cn_malloc(strlen(addr) + 16);
        sprintf(r->base, "%s://%s", r->cfg.ssl_enabled ? "https" : "http", addr);
    }
    size_t bl = strlen(r->base);
    while (bl && r->base[bl - 1] == '/')
        r->base[--bl] = '\0';
    if (r->cfg.token && *r->cfg.token) {
        char *h = cn_malloc(strlen(r->cfg.token) + 32);
        sprintf(h, "X-Consul-Token: %s", r->cfg.token);
        r->headers = curl_slist_append(r->headers, h);
        free(h);
    }
    r->multi = curl_multi_init();
    if (!r->multi) return cn_err_set(err, CN_EIO, "curl_multi_init failed");
    curl_multi_setopt(r->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(r->multi, CURLMOPT_SOCKETDATA, r);
    curl_multi_setopt(r->multi, CURLMOPT_TIMERFUNCTION, on_timeout);
    curl_multi_setopt(r->multi, CURLMOPT_TIMERDATA, r);
    /* every held query needs its own connection (HTTP/1.1) */
    curl_multi_setopt(r->multi, CURLMOPT_MAXCONNECTS, 2048L);
    uv_timer_init(r->loop, &r->curl_timer);
    r->curl_timer.data = r;
    return 0;
}

static void on_watch_timer_closed(uv_handle_t *h)
{
    struct watch *w = h->data;
    cn_buf_release(&w->body);
    free(w->url);
    free(w->node_name);
    free(w);
}

void watch_stop(struct watch *w)
{
    struct runner *r = w->r;
    if (w->stopped) return;
    w->stopped = true;
    if (w->in_flight) {
        curl_multi_remove_handle(r->multi, w->easy);
        w->in_flight = false;
    }
    if (w->easy) curl_easy_cleanup(w->easy);
    w->easy = NULL;
    if (w->dep) tmpl_dep_set_user(w->dep, NULL);
    w->dep = NULL;
    if (w->prev)
        w->prev->next = w->next;
    else
        r->watches = w->next;
    if (w->next) w->next->prev = w->prev;
    r->nwatches--;
    uv_timer_stop(&w->timer);
    uv_close((uv_handle_t *)&w->timer, on_watch_timer_closed);
}

void http_close(struct runner *r)
{
    while (r->watches)
        watch_stop(r->watches);
    /* stop polling while the sockets are still open, then let curl close
     * them, then close what curl did not report */
    for (struct sock *s = r->socks; s; s = s->next)
        uv_poll_stop(&s->poll);
    if (r->multi) curl_multi_cleanup(r->multi);
    r->multi = NULL;
    while (r->socks) {
        struct sock *s = r->socks;
        sock_unlink(s);
        uv_close((uv_handle_t *)&s->poll, on_poll_closed);
    }
    curl_slist_free_all(r->headers);
    r->headers = NULL;
    free(r->base);
    free(r->unix_path);
    r->base = r->unix_path = NULL;
    if (!uv_is_closing((uv_handle_t *)&r->curl_timer))
        uv_close((uv_handle_t *)&r->curl_timer, NULL);
}

/* ---- requests -------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct watch *w = ud;
    if (cn_buf_append(&w->body, p, size * n)) return 0;
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct watch *w = ud;
    struct cn_str line = cn_str_make(p, size * n), name;
    if (cn_str_cut(&line, ':', &name)) {
        line = cn_str_trim(line);
        uint64_t v;
        if (cn_str_case_eq_cstr(name, "X-Consul-Index") && !cn_parse_u64(line, &v)) {
            w->hdr_index = v;
            w->hdr_has_index = true;
        } else if (cn_str_case_eq_cstr(name, "X-Consul-LastContact") && !cn_parse_u64(line, &v)) {
            w->hdr_last_contact_ms = v;
        }
    }
    return size * n;
}

static int cmp_param(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    size_t lx = strcspn(x, "="), ly = strcspn(y, "=");
    int c = strncmp(x, y, CN_MIN(lx, ly));
    return c ? c : (lx < ly ? -1 : lx > ly);
}

/* URL: base + path + the dependency's params + index/stale/wait, sorted as
 * Go's url.Values encodes them. */
static char *build_url(struct watch *w, bool blocking)
{
    struct runner *r = w->r;
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_buf_puts(&b, r->base);
    if (w->want_self) {
        cn_buf_puts(&b, "/v1/agent/self");
        return cn_buf_take(&b, NULL);
    }
    cn_buf_puts(&b, tmpl_dep_path(w->dep));
    if (w->node_name) {
        char *esc = curl_easy_escape(NULL, w->node_name, 0);
        cn_buf_puts(&b, esc ? esc : "");
        curl_free(esc);
    }
    const char *params[16];
    size_t np = 0;
    char *own = cn_strdup(tmpl_dep_query(w->dep));
    for (char *tok = own, *next; tok && *tok && np < 12; tok = next) {
        next = strchr(tok, '&');
        if (next) *next++ = '\0';
        params[np++] = tok;
    }
    char index[40], wait[40];
    if (blocking) {
        if (w->index) {
            snprintf(index, sizeof index, "index=%llu", (unsigned long long)w->index);
            params[np++] = index;
        }
        if (w->stale) params[np++] = "stale=";
        snprintf(wait, sizeof wait, "wait=%lldms",
                 (long long)(r->cfg.block_query_wait_ns / CN_NS_PER_MS));
        params[np++] = wait;
    }
    qsort(params, np, sizeof *params, cmp_param);
    for (size_t i = 0; i < np; i++) {
        cn_buf_putc(&b, i ? '&' : '?');
        cn_buf_puts(&b, params[i]);
    }
    free(own);
    return cn_buf_take(&b, NULL);
}

static void start_request(struct watch *w)
{
    struct runner *r = w->r;
    bool blocking = tmpl_dep_blocking(w->dep) && !w->want_self;
    free(w->url);
    w->url = build_url(w, blocking);
    if (!w->easy) w->easy = curl_easy_init();
    CURL *e = w->easy;
    curl_easy_reset(e);
    cn_buf_reset(&w->body);
    w->hdr_index = 0;
    w->hdr_has_index = false;
    w->hdr_last_contact_ms = 0;
    curl_easy_setopt(e, CURLOPT_URL, w->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, w);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, w);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, w);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "consul-template/cairn");
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    /* the agent adds up to wait/16 of jitter to a blocking query */
    long timeout = (long)(r->cfg.block_query_wait_ns / CN_NS_PER_MS);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, blocking ? timeout + timeout / 16 + 10000 : 60000L);
    if (r->headers) curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    if (r->unix_path) curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, r->unix_path);
    if (r->cfg.auth_enabled == 1 || (r->cfg.auth_enabled == TR_UNSET && r->cfg.auth_user)) {
        curl_easy_setopt(e, CURLOPT_USERNAME, r->cfg.auth_user ? r->cfg.auth_user : "");
        curl_easy_setopt(e, CURLOPT_PASSWORD, r->cfg.auth_pass ? r->cfg.auth_pass : "");
    }
    if (!r->cfg.ssl_verify) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (r->cfg.ssl_ca_cert) curl_easy_setopt(e, CURLOPT_CAINFO, r->cfg.ssl_ca_cert);
    if (r->cfg.ssl_ca_path) curl_easy_setopt(e, CURLOPT_CAPATH, r->cfg.ssl_ca_path);
    if (r->cfg.ssl_cert) curl_easy_setopt(e, CURLOPT_SSLCERT, r->cfg.ssl_cert);
    if (r->cfg.ssl_key) curl_easy_setopt(e, CURLOPT_SSLKEY, r->cfg.ssl_key);
    w->last_start_ms = runner_now_ms(r);
    w->in_flight = true;
    tr_log(TR_TRACE, "view", "%s: GET %s", tmpl_dep_id(w->dep), w->url);
    curl_multi_add_handle(r->multi, e);
}

/* ---- files ----------------------------------------------------------- */

static void poll_file(struct watch *w)
{
    struct runner *r = w->r;
    const char *path = tmpl_dep_path(w->dep);
    struct stat st;
    if (stat(path, &st) != 0) {
        runner_fatal(r, TR_EXIT_RUNNER, "file(%s): stat %s: %s", path, path, strerror(errno));
        return;
    }
    int64_t mtime = (int64_t)st.st_mtim.tv_sec * CN_NS_PER_S + st.st_mtim.tv_nsec;
    if (w->file_seen && st.st_size == w->file_size && mtime == w->file_mtime_ns) return;
    FILE *f = fopen(path, "rb");
    if (!f) {
        runner_fatal(r, TR_EXIT_RUNNER, "file(%s): open %s: %s", path, path, strerror(errno));
        return;
    }
    struct cn_buf b;
    cn_buf_init(&b, TR_FILE_MAX);
    char tmp[65536];
    size_t n;
    bool too_big = false;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        if (cn_buf_append(&b, tmp, n)) {
            too_big = true;
            break;
        }
    fclose(f);
    if (too_big) {
        cn_buf_release(&b);
        runner_fatal(r, TR_EXIT_RUNNER, "file(%s): larger than %u bytes", path, TR_FILE_MAX);
        return;
    }
    w->file_seen = true;
    w->file_size = st.st_size;
    w->file_mtime_ns = mtime;
    if (tmpl_dep_set_file(r->store, w->dep, b.data ? b.data : "", b.len) > 0)
        runner_schedule_pass(r);
    cn_buf_release(&b);
}

/* ---- the loop of one watch --------------------------------------------- */

static void on_watch_timer(uv_timer_t *t)
{
    struct watch *w = t->data;
    if (w->stopped || w->r->stopping) return;
    if (tmpl_dep_kind(w->dep) == TMPL_DEP_FILE) {
        poll_file(w);
        if (!w->stopped && !w->r->stopping && !(w->r->cfg.once && tmpl_dep_has_data(w->dep)))
            uv_timer_start(&w->timer, on_watch_timer, TR_FILE_POLL_MS, 0);
        return;
    }
    start_request(w);
}

static void schedule(struct watch *w, uint64_t delay_ms)
{
    uv_timer_start(&w->timer, on_watch_timer, delay_ms, 0);
}

void watch_start(struct runner *r, struct tmpl_dep *d)
{
    struct watch *w = CN_NEW(struct watch);
    w->r = r;
    w->dep = d;
    cn_buf_init(&w->body, TR_BODY_MAX);
    w->stale = r->cfg.max_stale_ns > 0;
    w->want_self =
        tmpl_dep_kind(d) == TMPL_DEP_CATALOG_NODE && !strcmp(tmpl_dep_path(d), "/v1/catalog/node/");
    uv_timer_init(r->loop, &w->timer);
    w->timer.data = w;
    w->next = r->watches;
    if (r->watches) r->watches->prev = w;
    r->watches = w;
    r->nwatches++;
    tmpl_dep_set_user(d, w);
    tr_log(TR_DEBUG, "watcher", "add %s", tmpl_dep_id(d));
    schedule(w, 0);
}

static void retry(struct watch *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void retry(struct watch *w, const char *fmt, ...)
{
    struct runner *r = w->r;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    w->failures++;
    if (!r->cfg.retry_enabled ||
        (r->cfg.retry_attempts > 0 && w->failures > (unsigned)r->cfg.retry_attempts)) {
        tr_log(TR_ERR, "view", "%s (exceeded maximum retries)", msg);
        runner_fatal(r, TR_EXIT_RUNNER, "%s (exceeded maximum retries)", msg);
        return;
    }
    int64_t sleep = r->cfg.retry_backoff_ns;
    for (unsigned i = 1; i < w->failures && sleep < r->cfg.retry_max_backoff_ns; i++)
        sleep *= 2;
    if (sleep > r->cfg.retry_max_backoff_ns) sleep = r->cfg.retry_max_backoff_ns;
    char d[CN_DUR_STR_MAX];
    tr_log(TR_WARN, "view", "%s (retry attempt %u after \"%s\")", msg, w->failures,
           cn_dur_format(sleep, d, sizeof d));
    schedule(w, (uint64_t)(sleep / CN_NS_PER_MS));
}

static void next_request(struct watch *w)
{
    struct runner *r = w->r;
    if (r->cfg.once && tmpl_dep_has_data(w->dep)) return; /* -once: one answer is enough */
    if (!tmpl_dep_blocking(w->dep)) {
        schedule(w, TR_DC_POLL_MS);
        return;
    }
    uint64_t due = w->last_start_ms + TR_MIN_INTERVAL_MS + runner_rand(r, 21),
             now = runner_now_ms(r);
    schedule(w, due > now ? due - now : 0);
}

static void on_self(struct watch *w)
{
    json_error_t je;
    json_t *j = json_loadb(w->body.data ? w->body.data : "", w->body.len, 0, &je);
    json_t *name = json_object_get(json_object_get(j, "Config"), "NodeName");
    if (!json_is_string(name)) {
        json_decref(j);
        retry(w, "%s: agent/self: no Config.NodeName in the answer", tmpl_dep_id(w->dep));
        return;
    }
    free(w->node_name);
    w->node_name = cn_strdup(json_string_value(name));
    json_decref(j);
    w->want_self = false;
    start_request(w);
}

static void watch_done(struct watch *w, CURLcode res)
{
    struct runner *r = w->r;
    const char *id = tmpl_dep_id(w->dep);
    w->in_flight = false;
    if (res != CURLE_OK) {
        retry(w, "%s: Get \"%s\": %s", id, w->url, curl_easy_strerror(res));
        return;
    }
    curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &w->status);
    if (w->want_self) {
        if (w->status != 200) {
            retry(w, "%s: Unexpected response code: %ld (%.*s)", id, w->status,
                  (int)CN_MIN(w->body.len, 200), w->body.data ? w->body.data : "");
            return;
        }
        on_self(w);
        return;
    }
    bool blocking = tmpl_dep_blocking(w->dep);
    if (w->status != 200 && !(w->status == 404 && (tmpl_dep_kind(w->dep) == TMPL_DEP_KV_BLOCK ||
                                                   tmpl_dep_kind(w->dep) == TMPL_DEP_KV_GET ||
                                                   tmpl_dep_kind(w->dep) == TMPL_DEP_KV_LIST))) {
        retry(w, "%s: Unexpected response code: %ld (%.*s)", id, w->status,
              (int)CN_MIN(w->body.len, 200), w->body.data ? w->body.data : "");
        return;
    }
    /* a stale answer from a server too far behind: ask the leader at once */
    if (w->stale && w->hdr_last_contact_ms * CN_NS_PER_MS > (uint64_t)r->cfg.max_stale_ns) {
        tr_log(TR_DEBUG, "view",
               "%s: stale data (last contact %llums exceeded max_stale), "
               "retrying with consistent read",
               id, (unsigned long long)w->hdr_last_contact_ms);
        w->stale = false;
        start_request(w);
        return;
    }
    w->stale = r->cfg.max_stale_ns > 0;
    w->failures = 0;
    uint64_t idx = w->hdr_has_index ? w->hdr_index : 0;
    bool process = true;
    if (blocking) {
        if (idx && idx == w->index && tmpl_dep_has_data(w->dep)) {
            process = false; /* no new data */
        } else if (idx < w->index) {
            w->index = 0; /* the index went backwards: start over */
        } else {
            w->index = idx;
        }
    }
    if (process) {
        struct cn_err err;
        int rc = tmpl_dep_update(r->store, w->dep, (int)w->status, w->body.data, w->body.len, &err);
        if (rc < 0) {
            retry(w, "%s: %s", id, err.msg);
            return;
        }
        if (rc > 0) {
            tr_log(TR_DEBUG, "view", "%s: received data", id);
            runner_schedule_pass(r);
        }
    }
    next_request(w);
}

static void check_done(struct runner *r)
{
    CURLMsg *m;
    int pending;
    while (r->multi && (m = curl_multi_info_read(r->multi, &pending))) {
        if (m->msg != CURLMSG_DONE) continue;
        CURL *e = m->easy_handle;
        CURLcode res = m->data.result;
        struct watch *w = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&w);
        curl_multi_remove_handle(r->multi, e);
        if (w && !w->stopped && !r->stopping) watch_done(w, res);
    }
}
