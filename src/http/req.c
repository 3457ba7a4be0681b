/*
 * req.c - query parameters, the options every read shares, and building
 * answers with the headers Consul sends.
 *
 * Header names are written in Go's canonical form (X-Consul-Knownleader),
 * byte for byte what Consul puts on the wire; clients read them
 * case-insensitively either way.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http/http_int.h"
#include "lib/cn_common.h"
#include "lib/cn_json.h"
#include "lib/cn_time.h"

bool http__conn_will_close(const struct http_req *r);

const char *http_param(const struct http_req *r, const char *key)
{
    for (size_t i = 0; i < r->nparams; i++)
        if (!strcmp(r->params[i].key, key)) return r->params[i].value;
    return NULL;
}

bool http_has_param(const struct http_req *r, const char *key)
{
    return http_param(r, key) != NULL;
}

static int param_cmp(const void *a, const void *b)
{
    const struct http_param *x = a, *y = b;
    return strcmp(x->key, y->key);
}

static void query_escape(struct cn_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~')
            cn_buf_putc(b, (char)c);
        else if (c == ' ')
            cn_buf_putc(b, '+');
        else {
            cn_buf_putc(b, '%');
            cn_buf_putc(b, hex[c >> 4]);
            cn_buf_putc(b, hex[c & 15]);
        }
    }
}

char *http_encoded_query(struct http_req *r)
{
    struct http_param *sorted = CN_ARENA_ARRAY(&r->arena, struct http_param, r->nparams + 1);
    struct cn_buf b;
    char *out;
    if (r->nparams) memcpy(sorted, r->params, r->nparams * sizeof *sorted);
    qsort(sorted, r->nparams, sizeof *sorted, param_cmp);
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    for (size_t i = 0; i < r->nparams; i++) {
        if (i) cn_buf_putc(&b, '&');
        query_escape(&b, sorted[i].key);
        cn_buf_putc(&b, '=');
        query_escape(&b, sorted[i].value);
    }
    out = cn_arena_strndup(&r->arena, b.data ? b.data : "", b.len);
    cn_buf_release(&b);
    return out;
}

bool http_parse_query_opts(struct http_req *r, struct rpc_query_opts *o)
{
    const char *v;
    memset(o, 0, sizeof *o);
    o->token = r->token;
    o->dc = http_param(r, "dc");
    if ((v = http_param(r, "index")) && *v) {
        if (cn_parse_u64(cn_str_from(v), &o->min_index)) {
            http_reply_text(r, 400, "Invalid index");
            return false;
        }
    }
    if ((v = http_param(r, "wait")) && *v) {
        if (cn_dur_parse(cn_str_from(v), &o->max_wait_ns)) {
            http_reply_text(r, 400, "Invalid wait time");
            return false;
        }
    }
    bool stale = http_has_param(r, "stale"), consistent = http_has_param(r, "consistent");
    if ((v = http_param(r, "max_stale")) && *v) {
        if (cn_dur_parse(cn_str_from(v), &o->max_stale_ns)) {
            http_reply_text(r, 400, "Invalid max_stale value \"%s\"", v);
            return false;
        }
        if (o->max_stale_ns > 0) stale = true;
    }
    if (stale && consistent) {
        http_reply_text(r, 400, "Cannot specify ?stale with ?consistent, conflicting semantics.");
        return false;
    }
    o->mode = stale ? RPC_MODE_STALE : consistent ? RPC_MODE_CONSISTENT : RPC_MODE_DEFAULT;
    return true;
}

/* ---- stale reads across the router (Consul's max_stale) --------------- */

/* ?max_stale as a duration; 0 when absent, empty or unparsable (the
 * handler answers 400 for the last). */
static int64_t max_stale_param(const struct http_req *r)
{
    const char *v = http_param(r, "max_stale");
    int64_t ns;
    if (!v || !*v || cn_dur_parse(cn_str_from(v), &ns)) return 0;
    return ns;
}

bool http_read_allows_stale(const struct http_req *r)
{
    return (r->method == M_GET || r->method == M_HEAD) &&
           (http_has_param(r, "stale") || max_stale_param(r) > 0);
}

/* The reads Consul re-asks in default mode when the stale answer's
 * LastContact exceeds max_stale: the RETRY_ONCE of its catalog, health and
 * prepared-query handlers. Elsewhere ?max_stale only means ?stale. */
static bool retried_when_too_stale(const char *path)
{
    return !strncmp(path, "/v1/catalog/", 12) || !strncmp(path, "/v1/health/", 11) ||
           !strcmp(path, "/v1/query") || !strncmp(path, "/v1/query/", 10);
}

int64_t http_max_stale_bound(const struct http_req *r)
{
    /* ?stale with ?consistent is the handler's 400, wherever it runs */
    if (!http_read_allows_stale(r) || http_has_param(r, "consistent") ||
        !retried_when_too_stale(r->path))
        return 0;
    int64_t ns = max_stale_param(r);
    return ns > 0 ? ns : 0;
}

/* Does this raw "key[=value]" pair's key decode to one of keys[]? */
static bool raw_key_in(struct cn_str part, const char *const *keys, size_t n)
{
    char k[32];
    long eq = cn_str_index(part, '=', 0);
    struct cn_str key = eq < 0 ? part : cn_str_sub(part, 0, (size_t)eq);
    if (key.len >= sizeof k) return false; /* none of ours is that long */
    long kn = cn_url_decode(key, k, true);
    if (kn < 0) return false;
    k[kn] = '\0';
    for (size_t i = 0; i < n; i++)
        if (!strcmp(k, keys[i])) return true;
    return false;
}

static bool key_in(const char *key, const char *const *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(key, keys[i])) return true;
    return false;
}

/* Drop every ?key in drop[] and append key=value (when key is not NULL), in
 * the parameters and in the raw target a forwarded request carries. */
static void query_edit(struct http_req *r, const char *const *drop, size_t ndrop, const char *key,
                       const char *value)
{
    struct cn_str q = cn_str_from(r->raw_query), part;
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    while (q.len) {
        cn_str_cut(&q, '&', &part);
        if (!part.len || raw_key_in(part, drop, ndrop)) continue;
        if (b.len) cn_buf_putc(&b, '&');
        cn_buf_put(&b, part.p, part.len);
    }
    struct http_param *np = CN_ARENA_ARRAY(&r->arena, struct http_param, r->nparams + 1);
    size_t n = 0;
    for (size_t i = 0; i < r->nparams; i++)
        if (!key_in(r->params[i].key, drop, ndrop)) np[n++] = r->params[i];
    if (key) {
        np[n++] = (struct http_param){cn_arena_strdup(&r->arena, key),
                                      cn_arena_strdup(&r->arena, value)};
        if (b.len) cn_buf_putc(&b, '&');
        query_escape(&b, key);
        cn_buf_putc(&b, '=');
        query_escape(&b, value);
    }
    r->params = np;
    r->nparams = n;
    const char *qm = strchr(r->raw_url, '?');
    size_t plen = qm ? (size_t)(qm - r->raw_url) : strlen(r->raw_url);
    r->raw_query = cn_arena_strndup(&r->arena, b.data ? b.data : "", b.len);
    r->raw_url = b.len ? cn_arena_printf(&r->arena, "%.*s?%s", (int)plen, r->raw_url, r->raw_query)
                       : cn_arena_strndup(&r->arena, r->raw_url, plen);
    cn_buf_release(&b);
}

void http_read_in_default_mode(struct http_req *r)
{
    static const char *const drop[] = {"stale", "max_stale"};
    query_edit(r, drop, CN_ARRAY_SIZE(drop), NULL, NULL);
}

void http__apply_discovery_max_stale(struct http_req *r)
{
    static const char *const drop[] = {"max_stale"};
    int64_t ns = r->cfg->discovery_max_stale_ns;
    char v[32];
    if (ns <= 0 || !(r->method & (M_GET | M_HEAD))) return;
    /* Consul's parseConsistency: only when the caller chose no mode, and
     * by path prefix */
    if (strncmp(r->path, "/v1/catalog", 11) && strncmp(r->path, "/v1/health", 10)) return;
    if (http_has_param(r, "stale") || http_has_param(r, "consistent") ||
        http_has_param(r, "leader") || http_has_param(r, "cached") || max_stale_param(r) > 0)
        return;
    snprintf(v, sizeof v, "%" PRId64 "ns", ns);
    query_edit(r, drop, CN_ARRAY_SIZE(drop), "max_stale", v);
}

/* ---- answers --------------------------------------------------------- */

void http_add_header(struct http_req *r, const char *name, const char *fmt, ...)
{
    va_list ap;
    cn_buf_puts(&r->resp_headers, name);
    cn_buf_put(&r->resp_headers, ": ", 2);
    va_start(ap, fmt);
    if (cn_buf_vprintf(&r->resp_headers, fmt, ap)) CN_BUG("header too long");
    va_end(ap);
    cn_buf_put(&r->resp_headers, "\r\n", 2);
}

static void put_u64(struct cn_buf *b, uint64_t v)
{
    char tmp[24];
    cn_buf_put(b, tmp, cn_u64_fmt(v, tmp));
}

void http_add_meta_headers(struct http_req *r, const struct rpc_meta *m)
{
    struct cn_buf *h = &r->resp_headers;
    cn_buf_puts(h, "X-Consul-Index: ");
    put_u64(h, m->index ? m->index : 1);
    cn_buf_puts(h, m->known_leader ? "\r\nX-Consul-Knownleader: true\r\nX-Consul-Lastcontact: "
                                   : "\r\nX-Consul-Knownleader: false\r\nX-Consul-Lastcontact: ");
    put_u64(h, m->last_contact_ms);
    cn_buf_put(h, "\r\n", 2);
    /* Consul sets it only for a non-anonymous token (which may be the
     * agent's default token, not one the request carried). */
    if (m->filtered_by_acls && r->authz && !acl_is_anonymous(r->authz))
        http_add_header(r, "X-Consul-Results-Filtered-By-Acls", "true");
}

static const char *date_header(void)
{
    static char cached[64];
    static time_t cached_sec;
    time_t now = time(NULL);
    if (now != cached_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(cached, sizeof cached, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached_sec = now;
    }
    return cached;
}

static const char *status_line(int status)
{
    switch (status) {
    case 200: return "HTTP/1.1 200 OK\r\n";
    case 404: return "HTTP/1.1 404 Not Found\r\n";
    case 400: return "HTTP/1.1 400 Bad Request\r\n";
    case 403: return "HTTP/1.1 403 Forbidden\r\n";
    case 500: return "HTTP/1.1 500 Internal Server Error\r\n";
    /* Go's reason phrase where http-parser's newer name differs. */
    case 413: return "HTTP/1.1 413 Request Entity Too Large\r\n";
    default: return NULL;
    }
}

/* Headers every answer carries, built once per (policy, extra headers). */
static void common_headers(struct http_req *r, struct cn_buf *h)
{
    cn_buf_puts(h, "Vary: Accept-Encoding\r\nX-Consul-Default-Acl-Policy: ");
    cn_buf_puts(h, r->env->acl ? acl_default_policy(r->env->acl) : "allow");
    cn_buf_put(h, "\r\n", 2);
    for (size_t i = 0; i < r->cfg->nresponse_headers; i++)
        cn_buf_putf(h, "%s: %s\r\n", r->cfg->response_headers[i].name,
                    r->cfg->response_headers[i].value);
}

static void finish(struct http_req *r, int status, const char *content_type)
{
    struct cn_buf h;
    const char *line = status_line(status);
    cn_buf_init(&h, CN_BUF_UNLIMITED);
    if (cn_buf_reserve(&h, 256 + r->resp_headers.len, NULL)) CN_BUG("header buffer");
    if (line)
        cn_buf_puts(&h, line);
    else
        cn_buf_putf(&h, "HTTP/1.1 %d %s\r\n", status, http_status_str((enum http_status)status));
    if (content_type) {
        cn_buf_puts(&h, "Content-Type: ");
        cn_buf_puts(&h, content_type);
        cn_buf_put(&h, "\r\n", 2);
    }
    if (r->resp_headers.len) cn_buf_put(&h, r->resp_headers.data, r->resp_headers.len);
    common_headers(r, &h);
    cn_buf_puts(&h, "Date: ");
    cn_buf_puts(&h, date_header());
    cn_buf_puts(&h, "\r\nContent-Length: ");
    put_u64(&h, r->resp_body.len);
    cn_buf_put(&h, "\r\n", 2);
    if (http__conn_will_close(r) && !strstr(h.data, "\r\nConnection:"))
        cn_buf_puts(&h, "Connection: close\r\n");
    cn_buf_put(&h, "\r\n", 2);
    cn_buf_release(&r->resp_headers);
    r->resp_headers = h;
    r->status = status;
    /* HEAD answers carry the headers of the GET, no body. */
    if (r->method == M_HEAD) cn_buf_reset(&r->resp_body);
    http__conn_respond(r);
}

void http_json_begin(struct http_req *r, struct cn_jw *w)
{
    cn_buf_reset(&r->resp_body);
    if (cn_buf_reserve(&r->resp_body, 1024, NULL)) CN_BUG("response buffer");
    cn_jw_init(w, &r->resp_body, r->pretty || http_has_param(r, "pretty"));
}

void http_reply_json(struct http_req *r, int status, struct cn_jw *w)
{
    cn_jw_finish(w);
    finish(r, status, "application/json");
}

void http_reply_text(struct http_req *r, int status, const char *fmt, ...)
{
    va_list ap;
    cn_buf_reset(&r->resp_body);
    va_start(ap, fmt);
    if (cn_buf_vprintf(&r->resp_body, fmt, ap)) CN_BUG("reply too long");
    va_end(ap);
    finish(r, status, "text/plain; charset=utf-8");
}

void http_reply_raw(struct http_req *r, int status, const char *content_type, const void *p,
                    size_t n)
{
    cn_buf_reset(&r->resp_body);
    cn_buf_put(&r->resp_body, p, n);
    finish(r, status, content_type);
}

void http_reply_take(struct http_req *r, int status, const char *content_type, struct cn_buf *body)
{
    cn_buf_release(&r->resp_body);
    r->resp_body = *body;
    r->resp_body.cap_max = CN_BUF_UNLIMITED;
    cn_buf_init(body, CN_BUF_UNLIMITED);
    finish(r, status, content_type);
}

void http_reply_empty(struct http_req *r, int status)
{
    cn_buf_reset(&r->resp_body);
    finish(r, status, NULL);
}

void http_reply_denied(struct http_req *r)
{
    http_reply_text(r, 403, "Permission denied");
}

void http_reply_error(struct http_req *r, int rc, const char *msg)
{
    switch (rc) {
    case CN_EPERM: http_reply_denied(r); return;
    case CN_EACLNOTFOUND: http_reply_text(r, 403, "ACL not found"); return;
    case CN_EACLDISABLED: http_reply_text(r, 401, "ACL support disabled"); return;
    case CN_ENOLEADER: http_reply_text(r, 500, "No cluster leader"); return;
    case CN_ENOPATH: http_reply_text(r, 500, "No path to datacenter"); return;
    case CN_ENOSERVERS: http_reply_text(r, 500, "No known Consul servers"); return;
    case CN_ENOENT: http_reply_text(r, 404, "%s", msg && *msg ? msg : "Not found"); return;
    case CN_EINVAL: http_reply_text(r, 400, "%s", msg && *msg ? msg : "Bad request"); return;
    case CN_ETOOBIG: http_reply_text(r, 413, "%s", msg && *msg ? msg : "Request too large"); return;
    default: http_reply_text(r, 500, "%s", msg && *msg ? msg : cn_strerror(rc)); return;
    }
}

json_t *http_body_json(struct http_req *r, bool empty_ok)
{
    struct cn_err err;
    struct cn_str body = cn_str_trim(cn_buf_str(&r->body));
    if (body.len == 0) {
        if (empty_ok) return json_object();
        http_reply_text(r, 400, "Request decode failed: EOF");
        return NULL;
    }
    json_t *v = cn_json_parse(body.p, body.len, &err);
    if (!v) http_reply_text(r, 400, "Request decode failed: %s", err.msg);
    return v;
}

void http_reply_passthrough(struct http_req *r, const void *resp, size_t len)
{
    /* The bytes are a whole response already (status line, headers, body). */
    cn_buf_reset(&r->resp_headers);
    cn_buf_put(&r->resp_headers, resp, len);
    cn_buf_reset(&r->resp_body);
    r->status = 200;
    http__conn_respond(r);
}

void http_request_bytes(const struct http_req *r, struct cn_buf *out)
{
    cn_buf_putf(out, "%s %s HTTP/1.1\r\nHost: cairn\r\n", r->method_name, r->raw_url);
    if (r->token && *r->token) cn_buf_putf(out, "X-Consul-Token: %s\r\n", r->token);
    cn_buf_putf(out, "Content-Length: %zu\r\n\r\n", r->body.len);
    if (r->body.len) cn_buf_put(out, r->body.data, r->body.len);
}
