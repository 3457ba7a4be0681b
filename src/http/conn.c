/*
 * conn.c - listeners and connections: bytes in, requests out, responses
 * written in order.
 *
 * http-parser is fed straight from libuv's read buffer; its callbacks copy
 * what they need into the request being parsed, so no input is buffered
 * and an idle connection holds no buffer at all. Parsed requests queue per
 * connection (pipelining) and are handled one at a time, in order; reading
 * pauses while the queue is full. A body over its route's limit is refused
 * from its Content-Length before it is read; a malformed request gets a 400
 * and the connection closes after it.
 */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http/http_int.h"
#include "lib/cn_common.h"
#include "lib/cn_limits.h"
#include "lib/cn_log.h"

#define PIPELINE_MAX 16

struct http_server {
    uv_loop_t *loop;
    struct http_config cfg;
    struct http_env env;
    struct cn_list listeners;
    struct cn_list conns;
    size_t nconns;
    bool closing;
    int pending_closes;
};

struct listener {
    union {
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;
    struct http_server *srv;
    struct cn_list link;
};

enum reject { REJ_NONE = 0, REJ_TOO_BIG, REJ_BAD, REJ_HEADERS_TOO_BIG };

struct pending {
    struct cn_list link;
    struct http_req *req;
    enum reject reject;
};

struct http_conn {
    uv_tcp_t tcp;
    struct http_server *srv;
    struct cn_list link;
    http_parser parser;
    struct http_req *parsing;  /* request being parsed */
    struct cn_buf hfield, hvalue, url;
    bool in_value;
    size_t body_limit;
    uint64_t claimed_len; /* Content-Length of a refused body */
    enum reject reject;
    struct cn_list queue; /* struct pending, parsed and waiting */
    size_t nqueued;
    struct http_req *active;  /* being handled */
    struct http_req *writing; /* answered, bytes in flight */
    bool reading, eof, closing, close_after;
    bool linger;          /* refused mid-body: drain before closing */
    bool detached;        /* no socket: the fuzzer's parse-only connection */
    /* A virtual connection runs one request injected by the server RPC layer
     * (a request forwarded from another agent) and hands back its answer. */
    bool virt, in_inject, virt_answered;
    http_tunnel_done_fn virt_done;
    void *virt_arg;
    uv_timer_t *linger_timer;
    size_t drained;
    uv_shutdown_t shutdown_req;
    uv_write_t wreq;
    char remote_ip[INET6_ADDRSTRLEN];
};

static void conn_close(struct http_conn *c);
static void run_next(struct http_conn *c);
static void start_reading(struct http_conn *c);

/* ---- requests ------------------------------------------------------- */

static struct http_req *req_new(struct http_conn *c)
{
    struct http_req *r = CN_NEW(struct http_req);
    r->conn = c;
    r->srv = c->srv;
    r->env = &c->srv->env;
    r->cfg = &c->srv->cfg;
    cn_arena_init(&r->arena, 2048);
    cn_buf_init(&r->body, CN_HTTP_BODY_MAX);
    cn_buf_init(&r->resp_headers, CN_BUF_UNLIMITED);
    cn_buf_init(&r->resp_body, CN_BUF_UNLIMITED);
    r->remote_ip = c->remote_ip;
    r->pretty = c->srv->cfg.pretty_default;
    return r;
}

static void req_free(struct http_req *r)
{
    if (!r) return;
    cn_arena_release(&r->arena);
    cn_buf_release(&r->body);
    cn_buf_release(&r->resp_headers);
    cn_buf_release(&r->resp_body);
    free(r);
}

/* ---- parser callbacks ------------------------------------------------ */

static int on_message_begin(http_parser *p)
{
    struct http_conn *c = p->data;
    if (!c->parsing) c->parsing = req_new(c);
    cn_buf_reset(&c->url);
    cn_buf_reset(&c->hfield);
    cn_buf_reset(&c->hvalue);
    c->in_value = false;
    c->reject = REJ_NONE;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    if (cn_buf_append(&c->url, at, n)) {
        c->reject = REJ_HEADERS_TOO_BIG;
        return -1;
    }
    return 0;
}

static bool header_is(struct cn_buf *b, const char *name)
{
    return b->len == strlen(name) && !strncasecmp(b->data, name, b->len);
}

static void header_done(struct http_conn *c)
{
    struct http_req *r = c->parsing;
    if (!c->hfield.len) return;
    if (header_is(&c->hfield, "X-Consul-Token")) {
        if (c->hvalue.len) r->token = cn_arena_strndup(&r->arena, c->hvalue.data, c->hvalue.len);
    } else if (header_is(&c->hfield, "Authorization")) {
        /* "Bearer <token>", scheme case-insensitive; only when no
         * X-Consul-Token came first (Consul's order). */
        struct cn_str v = cn_str_trim(cn_buf_str(&c->hvalue)), scheme;
        if (cn_str_cut(&v, ' ', &scheme) && cn_str_case_eq_cstr(scheme, "bearer") && !r->token) {
            v = cn_str_trim(v);
            long sp = cn_str_index(v, ' ', 0);
            if (sp >= 0) v.len = (size_t)sp;
            if (v.len) r->token = cn_arena_str(&r->arena, v);
        }
    } else if (header_is(&c->hfield, "Accept-Encoding")) {
        r->accept_gzip = c->hvalue.data && strstr(c->hvalue.data, "gzip") != NULL;
    }
    cn_buf_reset(&c->hfield);
    cn_buf_reset(&c->hvalue);
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    if (c->in_value) {
        header_done(c);
        c->in_value = false;
    }
    return cn_buf_append(&c->hfield, at, n) ? -1 : 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    c->in_value = true;
    return cn_buf_append(&c->hvalue, at, n) ? -1 : 0;
}

static unsigned method_bit(unsigned m, const char **name)
{
    *name = http_method_str((enum http_method)m);
    switch (m) {
    case HTTP_GET: return M_GET;
    case HTTP_PUT: return M_PUT;
    case HTTP_POST: return M_POST;
    case HTTP_DELETE: return M_DELETE;
    case HTTP_HEAD: return M_HEAD;
    case HTTP_OPTIONS: return M_OPTIONS;
    default: return 0;
    }
}

/* Split the target into decoded path and raw query; false when the path is
 * not acceptable (bad escapes, non-printable bytes even when escaped). */
static bool parse_target(struct http_req *r, const char *url, size_t len)
{
    const char *q = memchr(url, '?', len);
    size_t plen = q ? (size_t)(q - url) : len;
    char *path = cn_arena_alloc(&r->arena, plen + 1);
    long n = cn_url_decode(cn_str_make(url, plen), path, false);
    if (n < 0) return false;
    path[n] = '\0';
    for (long i = 0; i < n; i++)
        if ((unsigned char)path[i] < 0x20 || path[i] == 0x7f) return false;
    r->path = path;
    r->raw_query = cn_arena_strndup(&r->arena, q ? q + 1 : "", q ? len - plen - 1 : 0);
    return true;
}

static void parse_params(struct http_req *r)
{
    struct cn_str q = cn_str_from(r->raw_query), part;
    size_t cap = 0;
    while (q.len && r->nparams < CN_HTTP_QUERY_PARAMS_MAX) {
        cn_str_cut(&q, '&', &part);
        if (!part.len) continue;
        struct cn_str k = part, v = CN_STR("");
        long eq = cn_str_index(part, '=', 0);
        if (eq >= 0) {
            k = cn_str_sub(part, 0, (size_t)eq);
            v = cn_str_sub(part, (size_t)eq + 1, SIZE_MAX);
        }
        char *kd = cn_arena_alloc(&r->arena, k.len + 1), *vd = cn_arena_alloc(&r->arena, v.len + 1);
        long kn = cn_url_decode(k, kd, true), vn = cn_url_decode(v, vd, true);
        if (kn < 0 || vn < 0) continue; /* Go drops undecodable pairs */
        kd[kn] = vd[vn] = '\0';
        if (r->nparams == cap) {
            cap = cap ? cap * 2 : 8;
            struct http_param *np = CN_ARENA_ARRAY(&r->arena, struct http_param, cap);
            if (r->nparams) memcpy(np, r->params, r->nparams * sizeof *np);
            r->params = np;
        }
        r->params[r->nparams++] = (struct http_param){kd, vd};
    }
}

static size_t body_limit_of(const struct http_conn *c, const struct http_route *rt)
{
    if (!rt || rt->body_max == 0) return CN_HTTP_BODY_MAX;
    if (rt->body_max == HTTP_BODY_KV) return c->srv->cfg.kv_max_value;
    if (rt->body_max == HTTP_BODY_TXN) return c->srv->cfg.txn_max_req;
    return rt->body_max;
}

static int on_headers_complete(http_parser *p)
{
    struct http_conn *c = p->data;
    struct http_req *r = c->parsing;
    if (c->in_value) header_done(c);
    r->method = method_bit(p->method, &r->method_name);
    if (!parse_target(r, c->url.data ? c->url.data : "", c->url.len)) {
        c->reject = REJ_BAD;
        return -1;
    }
    parse_params(r);
    r->raw_url = cn_arena_strndup(&r->arena, c->url.data ? c->url.data : "", c->url.len);
    const char *tok = http_param(r, "token");
    if (tok && *tok) r->token = (char *)tok;
    r->route = http_route_find(r->path);
    c->body_limit = body_limit_of(c, r->route);
    /* The route's limit, not the generic one, caps the body (a snapshot
     * restore is tens of MB). */
    r->body.cap_max = c->body_limit;
    /* Refuse an oversized body before reading it (Consul checks
     * Content-Length the same way). */
    if (p->content_length != ULLONG_MAX && p->content_length > c->body_limit) {
        c->reject = REJ_TOO_BIG;
        c->claimed_len = p->content_length;
        return -1;
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    struct http_req *r = c->parsing;
    if (r->body.len + n > c->body_limit || cn_buf_append(&r->body, at, n)) {
        c->reject = REJ_TOO_BIG;
        c->claimed_len = r->body.len + n;
        return -1;
    }
    return 0;
}

static void enqueue(struct http_conn *c, enum reject rej)
{
    struct pending *pd = CN_NEW(struct pending);
    pd->req = c->parsing;
    pd->reject = rej;
    c->parsing = NULL;
    cn_list_insert_tail(&c->queue, &pd->link);
    c->nqueued++;
}

static int on_message_complete(http_parser *p)
{
    struct http_conn *c = p->data;
    c->parsing->method = c->parsing->method ? c->parsing->method : 0;
    if (!http_should_keep_alive(p)) c->close_after = true;
    enqueue(c, REJ_NONE);
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- reading --------------------------------------------------------- */

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    /* One loop thread: a single shared buffer serves every connection,
     * because the parser copies out what it keeps. */
    static char shared[64 * 1024];
    (void)h;
    (void)hint;
    buf->base = shared;
    buf->len = sizeof shared;
}

static void parse_failed_detached(struct http_conn *c)
{
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    enum reject rej = c->reject;
    if (rej == REJ_NONE) rej = e == HPE_HEADER_OVERFLOW ? REJ_HEADERS_TOO_BIG : REJ_BAD;
    if (!c->parsing) c->parsing = req_new(c);
    enqueue(c, rej);
}

static void parse_failed(struct http_conn *c)
{
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    enum reject rej = c->reject;
    if (rej == REJ_NONE) rej = e == HPE_HEADER_OVERFLOW ? REJ_HEADERS_TOO_BIG : REJ_BAD;
    if (!c->parsing) c->parsing = req_new(c);
    enqueue(c, rej);
    c->close_after = true;
    /* The client may still be sending the body we refused: let it finish
     * (discarding it) so it can read our answer instead of a reset. */
    c->linger = rej == REJ_TOO_BIG || rej == REJ_HEADERS_TOO_BIG;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct http_conn *c = s->data;
    if (n < 0) {
        c->eof = true;
        uv_read_stop(s);
        c->reading = false;
        if (c->active) {
            /* A parked request whose client left: stop it now (Go's
             * CloseNotify). Every handler that answers later sets a cancel
             * hook; after it the handler never answers, and the request
             * dies with the connection. */
            CN_ASSERT(c->active->cancel != NULL);
            c->active->cancel(c->active);
            c->active->cancel = NULL;
            conn_close(c);
        } else if (n != UV_EOF || (!c->writing && cn_list_empty(&c->queue))) {
            conn_close(c);
        }
        /* else: a half-closed client still gets the answers it asked for;
         * write_cb closes once they are out. */
        return;
    }
    if (n == 0) return;
    size_t done = http_parser_execute(&c->parser, &settings, buf->base, (size_t)n);
    if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK || done != (size_t)n) parse_failed(c);
    if (c->nqueued >= PIPELINE_MAX && c->reading) {
        uv_read_stop(s);
        c->reading = false;
    }
    run_next(c);
}

static void start_reading(struct http_conn *c)
{
    if (c->reading || c->eof || c->closing || c->close_after) return;
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0) c->reading = true;
}

/* ---- lingering close ------------------------------------------------- */

#define LINGER_MS 2000
#define LINGER_BYTES (16 * 1024 * 1024)

static void drain_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct http_conn *c = s->data;
    (void)buf;
    if (n < 0 || (c->drained += (size_t)n) > LINGER_BYTES) conn_close(c);
}

static void linger_expired(uv_timer_t *t)
{
    conn_close(t->data);
}

static void linger_shut(uv_shutdown_t *req, int status)
{
    struct http_conn *c = req->data;
    if (status < 0 || c->closing) {
        conn_close(c);
        return;
    }
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, drain_read_cb);
}

/* Go's lingering close: FIN our side, read and drop what the client still
 * sends for a while, then close. */
static void linger_close(struct http_conn *c)
{
    c->linger_timer = CN_NEW(uv_timer_t);
    uv_timer_init(c->srv->loop, c->linger_timer);
    c->linger_timer->data = c;
    uv_timer_start(c->linger_timer, linger_expired, LINGER_MS, 0);
    c->shutdown_req.data = c;
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, linger_shut)) conn_close(c);
}

/* ---- handling and writing ------------------------------------------- */

static void reply_rejected(struct http_req *r, enum reject rej)
{
    switch (rej) {
    case REJ_TOO_BIG:
        http_add_header(r, "Connection", "close");
        http_reply_text(r, 413,
                        "Request body(%zu bytes) too large, max size: %zu bytes. See "
                        "https://www.consul.io/docs/agent/options.html#kv_max_value_size.",
                        (size_t)r->conn->claimed_len, r->conn->body_limit);
        break;
    case REJ_HEADERS_TOO_BIG:
        http_reply_text(r, 431, "431 Request Header Fields Too Large");
        break;
    default:
        http_reply_raw(r, 400, NULL, "", 0);
        break;
    }
}

static void run_next(struct http_conn *c)
{
    /* One request at a time: the next waits until the last one's bytes
     * are written (one uv_write_t per connection, answers in order). */
    while (!c->active && !c->writing && !cn_list_empty(&c->queue) && !c->closing) {
        struct pending *pd = cn_list_entry(c->queue.next, struct pending, link);
        struct http_req *r = pd->req;
        enum reject rej = pd->reject;
        cn_list_remove(&pd->link);
        c->nqueued--;
        free(pd);
        c->active = r;
        if (rej != REJ_NONE)
            reply_rejected(r, rej);
        else
            http_dispatch(r);
        /* A synchronous answer was written: the write callback moves on. */
        return;
    }
    if (!c->active && !c->writing && !c->closing) {
        if (c->close_after || c->eof)
            conn_close(c);
        else
            start_reading(c);
    }
}

static void write_cb(uv_write_t *w, int status)
{
    struct http_conn *c = w->data;
    req_free(c->writing);
    c->writing = NULL;
    if (status < 0 || c->closing) {
        conn_close(c);
        return;
    }
    if (c->close_after && cn_list_empty(&c->queue)) {
        if (c->linger && !c->eof)
            linger_close(c);
        else
            conn_close(c);
        return;
    }
    run_next(c);
}

static void virt_free(struct http_conn *c)
{
    while (!cn_list_empty(&c->queue)) {
        struct pending *pd = cn_list_entry(c->queue.next, struct pending, link);
        cn_list_remove(&pd->link);
        req_free(pd->req);
        free(pd);
    }
    req_free(c->parsing);
    req_free(c->active);
    cn_buf_release(&c->url);
    cn_buf_release(&c->hfield);
    cn_buf_release(&c->hvalue);
    free(c);
}

static void virt_answer(struct http_conn *c, struct http_req *r)
{
    struct cn_buf all;
    cn_buf_init(&all, CN_BUF_UNLIMITED);
    cn_buf_put(&all, r->resp_headers.data, r->resp_headers.len);
    if (r->resp_body.len) cn_buf_put(&all, r->resp_body.data, r->resp_body.len);
    req_free(r);
    c->virt_answered = true;
    c->virt_done(c->virt_arg, all.data, all.len);
    cn_buf_release(&all);
    if (!c->in_inject) virt_free(c);
}

void http__conn_respond(struct http_req *r)
{
    struct http_conn *c = r->conn;
    uv_buf_t bufs[2];
    CN_ASSERT(c->active == r && !r->responded);
    r->responded = true;
    r->cancel = NULL;
    c->active = NULL;
    if (c->virt) {
        virt_answer(c, r);
        return;
    }
    if (c->closing || c->detached) {
        req_free(r);
        return;
    }
    c->writing = r;
    bufs[0] = uv_buf_init(r->resp_headers.data, (unsigned)r->resp_headers.len);
    bufs[1] = uv_buf_init(r->resp_body.data ? r->resp_body.data : "", (unsigned)r->resp_body.len);
    c->wreq.data = c;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, bufs, r->resp_body.len ? 2 : 1, write_cb)) {
        c->writing = NULL;
        req_free(r);
        conn_close(c);
    }
}

/* ---- connection lifecycle ------------------------------------------- */

static void conn_closed(uv_handle_t *h)
{
    struct http_conn *c = h->data;
    struct http_server *s = c->srv;
    while (!cn_list_empty(&c->queue)) {
        struct pending *pd = cn_list_entry(c->queue.next, struct pending, link);
        cn_list_remove(&pd->link);
        req_free(pd->req);
        free(pd);
    }
    req_free(c->parsing);
    if (c->active) req_free(c->active); /* cancelled, never to be answered */
    cn_buf_release(&c->url);
    cn_buf_release(&c->hfield);
    cn_buf_release(&c->hvalue);
    free(c);
    s->pending_closes--;
    if (s->closing && s->pending_closes == 0) free(s);
}

static void conn_close(struct http_conn *c)
{
    if (c->closing) return;
    c->closing = true;
    cn_list_remove(&c->link);
    c->srv->nconns--;
    /* A request being written is freed by write_cb, which libuv calls with
     * UV_ECANCELED before the close callback; an unanswered one was
     * cancelled and is freed in conn_closed. */
    if (c->linger_timer) {
        uv_timer_stop(c->linger_timer);
        uv_close((uv_handle_t *)c->linger_timer, (uv_close_cb)free);
        c->linger_timer = NULL;
    }
    uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

static void on_connection(uv_stream_t *ls, int status)
{
    struct listener *l = ls->data;
    struct http_server *s = l->srv;
    if (status < 0) return;
    struct http_conn *c = CN_NEW(struct http_conn);
    c->srv = s;
    cn_list_init(&c->queue);
    cn_buf_init(&c->url, CN_HTTP_HEADER_MAX);
    cn_buf_init(&c->hfield, CN_HTTP_HEADER_MAX);
    cn_buf_init(&c->hvalue, CN_HTTP_HEADER_MAX);
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    s->pending_closes++;
    cn_list_insert_tail(&s->conns, &c->link);
    s->nconns++;
    if (uv_accept(ls, (uv_stream_t *)&c->tcp) || s->nconns > s->cfg.max_conns) {
        conn_close(c);
        return;
    }
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6)
            uv_ip6_name((struct sockaddr_in6 *)&ss, c->remote_ip, sizeof c->remote_ip);
        else
            uv_ip4_name((struct sockaddr_in *)&ss, c->remote_ip, sizeof c->remote_ip);
    }
    uv_tcp_nodelay(&c->tcp, 1);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    start_reading(c);
}

/* ---- server ---------------------------------------------------------- */

struct http_server *http_server_new(uv_loop_t *loop, const struct http_config *cfg,
                                    const struct http_env *env)
{
    struct http_server *s = CN_NEW(struct http_server);
    s->loop = loop;
    s->cfg = *cfg;
    if (!s->cfg.max_conns) s->cfg.max_conns = CN_HTTP_CONNS_MAX;
    if (!s->cfg.kv_max_value) s->cfg.kv_max_value = CN_KV_VALUE_MAX_DEFAULT;
    if (!s->cfg.txn_max_req) s->cfg.txn_max_req = CN_TXN_REQ_MAX_DEFAULT;
    s->env = *env;
    cn_list_init(&s->listeners);
    cn_list_init(&s->conns);
    s->pending_closes = 1; /* the server's own reference */
    return s;
}

int http_server_listen(struct http_server *s, const char *ip, int port, struct cn_err *err)
{
    struct sockaddr_storage ss;
    int rc;
    struct listener *l = CN_NEW(struct listener);
    l->srv = s;
    if (!strncmp(ip, "unix:", 5)) {
        uv_pipe_init(s->loop, &l->h.pipe, 0);
        rc = uv_pipe_bind(&l->h.pipe, ip + 5);
    } else {
        if (uv_ip4_addr(ip, port, (struct sockaddr_in *)&ss) &&
            uv_ip6_addr(ip, port, (struct sockaddr_in6 *)&ss)) {
            free(l);
            return cn_err_set(err, CN_EINVAL, "invalid HTTP address \"%s\"", ip);
        }
        uv_tcp_init(s->loop, &l->h.tcp);
        rc = uv_tcp_bind(&l->h.tcp, (struct sockaddr *)&ss, 0);
    }
    l->h.tcp.data = l;
    if (rc == 0) rc = uv_listen((uv_stream_t *)&l->h.tcp, 1024, on_connection);
    if (rc) {
        uv_close((uv_handle_t *)&l->h.tcp, (uv_close_cb)free);
        return cn_err_set(err, CN_EIO, "error starting HTTP server on %s:%d: %s", ip, port,
                          uv_strerror(rc));
    }
    s->pending_closes++;
    cn_list_insert_tail(&s->listeners, &l->link);
    return 0;
}

static void listener_closed(uv_handle_t *h)
{
    struct listener *l = h->data;
    struct http_server *s = l->srv;
    free(l);
    s->pending_closes--;
    if (s->closing && s->pending_closes == 0) free(s);
}

void http_server_close(struct http_server *s)
{
    s->closing = true;
    while (!cn_list_empty(&s->listeners)) {
        struct listener *l = cn_list_entry(s->listeners.next, struct listener, link);
        cn_list_remove(&l->link);
        uv_close((uv_handle_t *)&l->h.tcp, listener_closed);
    }
    while (!cn_list_empty(&s->conns)) {
        struct http_conn *c = cn_list_entry(s->conns.next, struct http_conn, link);
        if (c->active && !c->active->responded) {
            CN_ASSERT(c->active->cancel != NULL);
            c->active->cancel(c->active);
            c->active->cancel = NULL;
        }
        conn_close(c);
    }
    if (--s->pending_closes == 0) free(s);
}

int http_server_port(const struct http_server *s)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (cn_list_empty(&s->listeners)) return -1;
    struct listener *l = cn_list_entry(s->listeners.next, struct listener, link);
    if (uv_tcp_getsockname(&l->h.tcp, (struct sockaddr *)&ss, &len)) return -1;
    return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
}

size_t http_server_conn_count(const struct http_server *s)
{
    return s->nconns;
}

bool http__conn_will_close(const struct http_req *r);
bool http__conn_will_close(const struct http_req *r)
{
    return r->conn->close_after && cn_list_empty(&r->conn->queue);
}

/* Parse a byte stream as requests on a connection with no socket, then run
 * each through routing and the shared parameter parsing (not the handlers).
 * The libFuzzer harness drives the network-facing parsing through this. */
int http__fuzz_parse(const void *data, size_t n, const struct http_config *cfg,
                     const struct http_env *env);
void http__resolve_near_agent(struct http_req *r, const char *node) __attribute__((weak));
int http__fuzz_parse(const void *data, size_t n, const struct http_config *cfg,
                     const struct http_env *env)
{
    struct http_server srv = {0};
    struct http_conn c = {0};
    int count = 0;
    srv.cfg = *cfg;
    srv.env = *env;
    cn_list_init(&srv.conns);
    c.srv = &srv;
    c.detached = true;
    cn_list_init(&c.queue);
    cn_buf_init(&c.url, CN_HTTP_HEADER_MAX);
    cn_buf_init(&c.hfield, CN_HTTP_HEADER_MAX);
    cn_buf_init(&c.hvalue, CN_HTTP_HEADER_MAX);
    http_parser_init(&c.parser, HTTP_REQUEST);
    c.parser.data = &c;
    size_t done = http_parser_execute(&c.parser, &settings, data, n);
    if (HTTP_PARSER_ERRNO(&c.parser) != HPE_OK || done != n) parse_failed_detached(&c);
    while (!cn_list_empty(&c.queue)) {
        struct pending *pd = cn_list_entry(c.queue.next, struct pending, link);
        struct http_req *r = pd->req;
        cn_list_remove(&pd->link);
        c.active = r;
        if (pd->reject == REJ_NONE && r->path) {
            struct rpc_query_opts o;
            r->route = http_route_find(r->path);
            if (http_parse_query_opts(r, &o)) {
                json_t *j = http_body_json(r, true);
                if (j) {
                    json_decref(j);
                    http_encoded_query(r);
                    /* the rewrites of a raw query: coordinate.c's ?near=_agent */
                    if (http__resolve_near_agent) http__resolve_near_agent(r, "fuzz node/é");
                    /* and the router's, for stale reads (req.c) */
                    http__apply_discovery_max_stale(r);
                    if (http_max_stale_bound(r) || http_read_allows_stale(r))
                        http_read_in_default_mode(r);
                    http_reply_empty(r, 200);
                }
            }
        } else {
            reply_rejected(r, pd->reject);
        }
        free(pd);
        count++;
    }
    req_free(c.parsing);
    cn_buf_release(&c.url);
    cn_buf_release(&c.hfield);
    cn_buf_release(&c.hvalue);
    return count;
}

struct http_tunnel *http_server_inject(struct http_server *s, const void *req, size_t len,
                                       const char *remote_ip, int hops, http_tunnel_done_fn done,
                                       void *arg)
{
    struct http_conn *c = CN_NEW(struct http_conn);
    c->srv = s;
    c->virt = true;
    c->in_inject = true;
    c->virt_done = done;
    c->virt_arg = arg;
    snprintf(c->remote_ip, sizeof c->remote_ip, "%s", remote_ip ? remote_ip : "");
    cn_list_init(&c->queue);
    cn_list_init(&c->link);
    cn_buf_init(&c->url, CN_HTTP_HEADER_MAX);
    cn_buf_init(&c->hfield, CN_HTTP_HEADER_MAX);
    cn_buf_init(&c->hvalue, CN_HTTP_HEADER_MAX);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    size_t used = http_parser_execute(&c->parser, &settings, req, len);
    if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK || used != len || cn_list_empty(&c->queue))
        parse_failed_detached(c);
    struct pending *pd = cn_list_entry(c->queue.next, struct pending, link);
    cn_list_remove(&pd->link);
    c->nqueued--;
    c->active = pd->req;
    pd->req->hops = hops;
    if (pd->reject != REJ_NONE)
        reply_rejected(pd->req, pd->reject);
    else
        http_dispatch(pd->req);
    free(pd);
    c->in_inject = false;
    if (c->virt_answered) {
        virt_free(c);
        return NULL;
    }
    return (struct http_tunnel *)c;
}

void http_tunnel_cancel(struct http_tunnel *t)
{
    struct http_conn *c = (struct http_conn *)t;
    if (c->active && !c->active->responded) {
        CN_ASSERT(c->active->cancel != NULL);
        c->active->cancel(c->active);
        c->active->cancel = NULL;
    }
    virt_free(c);
}
