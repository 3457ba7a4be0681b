/*
 * check_http.c - HTTP checks: libcurl's multi interface driven by the
 * agent's libuv loop (curl's multi-uv pattern: a uv_poll per socket curl
 * asks about, one uv_timer for curl's timeouts). No request ever blocks the
 * loop; each is bounded by the check's timeout.
 *
 * Consul's rules (agent/checks CheckHTTP): the method verbatim; User-Agent
 * "Consul Health Check" and Consul's Accept header unless the check sets
 * them; the rest of the request as Go's client sends it (gzip asked for,
 * Connection: close, no Content-Type of its own);
 * 2xx passing, 429 warning, anything else or an error critical; output
 * "HTTP <METHOD> <url>: <status line> Output: <last bytes of the body>".
 * Connections are not reused, so nothing stays open between runs.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/local_int.h"
#include "lib/cn_common.h"
#include "lib/cn_log.h"
#include "lib/cn_time.h"

#define DEFAULT_TIMEOUT_MS 10000

struct check_http_env {
    struct agent_local *l;
    CURLM *multi;
    uv_timer_t timer;
    int running;
};

struct sock_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    struct check_http_env *env;
};

struct check_http_op {
    struct check_http_env *env;
    CURL *easy;
    struct curl_slist *headers;
    void (*done)(void *arg, const char *status, const char *out);
    void *arg;
    char *url;
    char method[32];
    char status_line[256];
    char errbuf[CURL_ERROR_SIZE];
    /* the last `cap` bytes of the body (Consul's circbuf) */
    char *ring;
    size_t cap, start, len, total;
};

static void op_free(struct check_http_op *op)
{
    if (op->easy) curl_easy_cleanup(op->easy);
    curl_slist_free_all(op->headers);
    free(op->url);
    free(op->ring);
    free(op);
}

/* ---- curl callbacks ------------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct check_http_op *op = arg;
    size_t len = size * n;
    op->total += len;
    for (size_t i = 0; i < len && op->cap; i++) {
        if (op->len < op->cap) {
            op->ring[(op->start + op->len++) % op->cap] = p[i];
        } else {
            op->ring[op->start] = p[i];
            op->start = (op->start + 1) % op->cap;
        }
    }
    return len;
}

/* Keep the last status line's "code reason" (after redirects). */
static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct check_http_op *op = arg;
    size_t len = size * n;
    if (len > 5 && !strncmp(p, "HTTP/", 5)) {
        const char *sp = memchr(p, ' ', len);
        if (sp) {
            size_t rest = len - (size_t)(sp + 1 - p);
            while (rest && (sp[rest] == '\r' || sp[rest] == '\n' || sp[rest] == '\0')) rest--;
            snprintf(op->status_line, sizeof op->status_line, "%.*s", (int)rest, sp + 1);
            /* trailing CR/LF */
            size_t k = strlen(op->status_line);
            while (k && (op->status_line[k - 1] == '\r' || op->status_line[k - 1] == '\n'))
                op->status_line[--k] = '\0';
        }
    }
    return len;
}

/* Go's url.Error wording: `Get "<url>": <cause>`. */
static void error_text(struct check_http_op *op, CURLcode rc, struct cn_buf *out)
{
    char op_name[32];
    snprintf(op_name, sizeof op_name, "%s", op->method);
    for (size_t i = 1; op_name[i]; i++) op_name[i] = (char)tolower((unsigned char)op_name[i]);
    cn_buf_putf(out, "%s \"%s\": ", op_name, op->url);
    char *ip = NULL;
    long port = 0, oserr = 0;
    curl_easy_getinfo(op->easy, CURLINFO_PRIMARY_IP, &ip);
    curl_easy_getinfo(op->easy, CURLINFO_PRIMARY_PORT, &port);
    curl_easy_getinfo(op->easy, CURLINFO_OS_ERRNO, &oserr);
    switch (rc) {
    case CURLE_COULDNT_CONNECT: {
        /* curl keeps no primary address after a refused connect: the URL's */
        char *host = NULL, *pstr = NULL;
        CURLU *u = curl_url();
        if (!(ip && *ip) && u && curl_url_set(u, CURLUPART_URL, op->url, 0) == CURLUE_OK) {
            curl_url_get(u, CURLUPART_HOST, &host, 0);
            curl_url_get(u, CURLUPART_PORT, &pstr, CURLU_DEFAULT_PORT);
        }
        if (ip && *ip)
            cn_buf_putf(out, "dial tcp %s:%ld: connect: ", ip, port);
        else
            cn_buf_putf(out, "dial tcp %s:%s: connect: ", host ? host : "?", pstr ? pstr : "?");
        cn_buf_puts(out, oserr ? strerror((int)oserr) : "connection refused");
        curl_free(host);
        curl_free(pstr);
        curl_url_cleanup(u);
        break;
    }
    case CURLE_OPERATION_TIMEDOUT:
        cn_buf_puts(out, "context deadline exceeded (Client.Timeout exceeded while awaiting headers)");
        break;
    case CURLE_COULDNT_RESOLVE_HOST: {
        char *host = NULL;
        CURLU *u = curl_url();
        if (u && curl_url_set(u, CURLUPART_URL, op->url, 0) == CURLUE_OK)
            curl_url_get(u, CURLUPART_HOST, &host, 0);
        cn_buf_putf(out, "dial tcp: lookup %s: no such host", host ? host : "?");
        curl_free(host);
        curl_url_cleanup(u);
        break;
    }
    case CURLE_PEER_FAILED_VERIFICATION: {
        /* OpenSSL's verdict on the chain (other TLS backends report 0 and
         * keep curl's text): an issuer nobody trusts is Go's
         * x509.UnknownAuthorityError. */
        long verify = 0;
        curl_easy_getinfo(op->easy, CURLINFO_SSL_VERIFYRESULT, &verify);
        switch (verify) {
        case 2:  /* X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT */
        case 18: /* X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT */
        case 19: /* X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN */
        case 20: /* X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY */
        case 21: /* X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE */
            cn_buf_puts(out, "x509: certificate signed by unknown authority");
            break;
        default: cn_buf_puts(out, op->errbuf[0] ? op->errbuf : curl_easy_strerror(rc)); break;
        }
        break;
    }
    default: cn_buf_puts(out, op->errbuf[0] ? op->errbuf : curl_easy_strerror(rc)); break;
    }
}

/* strerror starts with a capital; Go's syscall errors do not. */
static void lower_first_after(struct cn_buf *b, const char *marker)
{
    char *p = b->data ? strstr(b->data, marker) : NULL;
    if (p) p[strlen(marker)] = (char)tolower((unsigned char)p[strlen(marker)]);
}

static void finish(struct check_http_op *op, CURLcode rc)
{
    struct cn_buf out;
    const char *status;
    long code = 0;
    cn_buf_init(&out, CN_BUF_UNLIMITED);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(op->easy, CURLINFO_RESPONSE_CODE, &code);
        status = code >= 200 && code <= 299 ? "passing" : code == 429 ? "warning" : "critical";
        if (!op->status_line[0]) snprintf(op->status_line, sizeof op->status_line, "%ld", code);
        cn_buf_putf(&out, "HTTP %s %s: %s Output: ", op->method, op->url, op->status_line);
        for (size_t i = 0; i < op->len; i++) cn_buf_putc(&out, op->ring[(op->start + i) % op->cap]);
    } else {
        status = "critical";
        error_text(op, rc, &out);
        lower_first_after(&out, "connect: ");
    }
    op->done(op->arg, status, out.data ? out.data : "");
    cn_buf_release(&out);
}

static void check_done(struct check_http_env *env)
{
    CURLMsg *msg;
    int pending;
    while ((msg = curl_multi_info_read(env->multi, &pending))) {
        if (msg->msg != CURLMSG_DONE) continue;
        CURL *easy = msg->easy_handle;
        CURLcode rc = msg->data.result;
        struct check_http_op *op = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&op);
        curl_multi_remove_handle(env->multi, easy);
        finish(op, rc);
        op_free(op);
    }
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
    struct sock_ctx *ctx = h->data;
    struct check_http_env *env = ctx->env;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    else {
        if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    }
    curl_multi_socket_action(env->multi, ctx->fd, flags, &env->running);
    check_done(env);
}

static void sock_closed(uv_handle_t *h)
{
    free(h->data);
}

static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct check_http_env *env = userp;
    struct sock_ctx *ctx = socketp;
    (void)e;
    if (what == CURL_POLL_REMOVE) {
        if (ctx) {
            uv_poll_stop(&ctx->poll);
            uv_close((uv_handle_t *)&ctx->poll, sock_closed);
            curl_multi_assign(env->multi, s, NULL);
        }
        return 0;
    }
    if (!ctx) {
        ctx = CN_NEW(struct sock_ctx);
        ctx->fd = s;
        ctx->env = env;
        if (uv_poll_init_socket(env->l->loop, &ctx->poll, s)) {
            free(ctx);
            return -1;
        }
        ctx->poll.data = ctx;
        curl_multi_assign(env->multi, s, ctx);
    }
    int ev = (what & CURL_POLL_IN ? UV_READABLE : 0) | (what & CURL_POLL_OUT ? UV_WRITABLE : 0);
    uv_poll_start(&ctx->poll, ev, poll_cb);
    return 0;
}

static void timer_cb(uv_timer_t *t)
{
    struct check_http_env *env = t->data;
    curl_multi_socket_action(env->multi, CURL_SOCKET_TIMEOUT, 0, &env->running);
    check_done(env);
}

static int timerfn(CURLM *m, long ms, void *userp)
{
    struct check_http_env *env = userp;
    (void)m;
    if (ms < 0)
        uv_timer_stop(&env->timer);
    else
        uv_timer_start(&env->timer, timer_cb, (uint64_t)ms, 0);
    return 0;
}

/* ---- the API ---------------------------------------------------------------------- */

static bool has_header(const struct state_check_def *d, const char *name)
{
    for (size_t i = 0; i < d->nheader; i++)
        if (!strcasecmp(d->header[i].name, name)) return true;
    return false;
}

struct check_http_op *check_http_run(struct agent_local *l, const struct agent_check_def *cd,
                                     int64_t output_max,
                                     void (*done)(void *arg, const char *status, const char *out),
                                     void *arg)
{
    /* Made on the first HTTP check: loading libcurl costs ~4 MB of RSS an
     * agent without HTTP checks need not pay (lib/cn_curl.h). */
    if (!l->http_env && check_http_env_init(l)) {
        done(arg, "critical", "cannot start request: out of memory");
        return NULL;
    }
    struct check_http_env *env = l->http_env;
    const struct state_check_def *d = &cd->def;
    struct check_http_op *op = CN_NEW(struct check_http_op);
    op->env = env;
    op->done = done;
    op->arg = arg;
    op->url = cn_strdup(d->http);
    /* verbatim, as Go's http.NewRequest takes it: "post" goes out as "post" */
    snprintf(op->method, sizeof op->method, "%s", *d->method ? d->method : "GET");
    op->cap = output_max > 0 ? (size_t)output_max : 4096;
    op->ring = cn_malloc(op->cap);
    op->easy = curl_easy_init();
    CURL *e = op->easy;
    int64_t timeout = d->timeout_ns > 0 ? d->timeout_ns / CN_NS_PER_MS : DEFAULT_TIMEOUT_MS;
    curl_easy_setopt(e, CURLOPT_URL, op->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)op);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, op->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, op);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, op);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(timeout > 0 ? timeout : 1));
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, d->disable_redirects ? 0L : 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
    if (d->tls_skip_verify) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    /* Go's request: a body goes with any method; an empty one still gets
     * "Content-Length: 0" on POST, PUT and PATCH (exact spelling). */
    bool head = !strcmp(op->method, "HEAD");
    bool send_body = *d->body || !strcmp(op->method, "POST") || !strcmp(op->method, "PUT") ||
                     !strcmp(op->method, "PATCH");
    if (head)
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    if (send_body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, d->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(d->body));
    }
    if (strcmp(op->method, "GET") || send_body)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, op->method);
    if (!has_header(d, "User-Agent"))
        op->headers = curl_slist_append(op->headers, "User-Agent: Consul Health Check");
    if (!has_header(d, "Accept"))
        op->headers = curl_slist_append(op->headers, "Accept: text/plain, text/*, */*");
    /* curl's form Content-Type for a body: Go sends none the check did not set */
    if (send_body && !has_header(d, "Content-Type"))
        op->headers = curl_slist_append(op->headers, "Content-Type:");
    /* Go's transport asks for gzip (and inflates it) unless the check set
     * Accept-Encoding or Range, or the request is a HEAD */
    if (!head && !has_header(d, "Accept-Encoding") && !has_header(d, "Range"))
        curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "gzip");
    /* keep-alives are off, and Go says so */
    if (!has_header(d, "Connection"))
        op->headers = curl_slist_append(op->headers, "Connection: close");
    /* no "Expect: 100-continue" pause on bodies */
    op->headers = curl_slist_append(op->headers, "Expect:");
    for (size_t i = 0; i < d->nheader; i++) {
        for (size_t j = 0; j < d->header[i].nvalues; j++) {
            char line[4096];
            snprintf(line, sizeof line, "%s: %s", d->header[i].name, d->header[i].values[j]);
            op->headers = curl_slist_append(op->headers, line);
        }
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, op->headers);
    CURLMcode mc = curl_multi_add_handle(env->multi, e);
    if (mc != CURLM_OK) {
        struct cn_buf out;
        cn_buf_init(&out, CN_BUF_UNLIMITED);
        cn_buf_putf(&out, "cannot start request: %s", curl_multi_strerror(mc));
        done(arg, "critical", out.data);
        cn_buf_release(&out);
        op_free(op);
        return NULL;
    }
    return op;
}

void check_http_cancel(struct check_http_op *op)
{
    if (!op) return;
    curl_multi_remove_handle(op->env->multi, op->easy);
    op_free(op);
}

int check_http_env_init(struct agent_local *l)
{
    struct check_http_env *env = CN_NEW(struct check_http_env);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    env->l = l;
    env->multi = curl_multi_init();
    if (!env->multi) {
        free(env);
        return CN_ENOMEM;
    }
    uv_timer_init(l->loop, &env->timer);
    env->timer.data = env;
    curl_multi_setopt(env->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(env->multi, CURLMOPT_SOCKETDATA, env);
    curl_multi_setopt(env->multi, CURLMOPT_TIMERFUNCTION, timerfn);
    curl_multi_setopt(env->multi, CURLMOPT_TIMERDATA, env);
    l->http_env = env;
    return 0;
}

static void env_timer_closed(uv_handle_t *h)
{
    free(h->data);
}

void check_http_env_close(struct agent_local *l)
{
    struct check_http_env *env = l->http_env;
    if (!env) return;
    l->http_env = NULL;
    /* Runners were stopped first, so no transfer is left. */
    curl_multi_cleanup(env->multi);
    uv_timer_stop(&env->timer);
    uv_close((uv_handle_t *)&env->timer, env_timer_closed);
}
