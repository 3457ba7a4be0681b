/*
 * dns_recursor.c - questions outside the zones, forwarded to `recursors`
 * (dns.md §9): over the transport the query came on, to each recursor in
 * turn (config order, or shuffled with recursor_strategy "random") with
 * recursor_timeout each; the first reply with NOERROR or NXDOMAIN (or the
 * TC bit) is relayed as is under the client's ID. All failed: SERVFAIL.
 *
 * One struct fwd per forwarded query; each try has its own socket (a
 * connected UDP socket or a TCP connection) so a late answer to an abandoned
 * try can never be taken for the current one.
 */
#include <stdlib.h>
#include <string.h>

#include "agent/dns_server_int.h"
#include "lib/cn_common.h"
#include "lib/cn_log.h"

struct fwd;

struct attempt {
    struct fwd *f;
    bool tcp;
    union {
        uv_udp_t udp;
        uv_tcp_t tcp;
    } h;
    uv_connect_t creq;
    uv_write_t wreq;
    uint8_t lenbuf[2];
    uint8_t *buf;
    size_t len, cap;
};

struct fwd {
    struct dns_job *j; /* NULL once finished or cancelled */
    uv_loop_t *loop;
    struct dns_recursors rec;
    size_t order[DNS_RECURSORS_MAX];
    size_t next;
    bool tcp;
    uint8_t *pkt; /* the client's query under our ID */
    size_t len;
    uint16_t client_id;
    struct attempt *cur;
    uv_timer_t timer;
    int open; /* handles not yet closed (timer, attempts) */
};

int dns_recursors_parse(const char *text, struct sockaddr_storage *out, socklen_t *len)
{
    char host[128];
    int port = 53;
    const char *colon = strrchr(text, ':');
    memset(out, 0, sizeof *out);
    if (text[0] == '[') { /* [v6]:port */
        const char *end = strchr(text, ']');
        if (!end || (size_t)(end - text - 1) >= sizeof host) return -1;
        memcpy(host, text + 1, (size_t)(end - text - 1));
        host[end - text - 1] = '\0';
        if (end[1] == ':') port = atoi(end + 2);
    } else if (colon && strchr(text, ':') == colon) { /* v4:port */
        if ((size_t)(colon - text) >= sizeof host) return -1;
        memcpy(host, text, (size_t)(colon - text));
        host[colon - text] = '\0';
        port = atoi(colon + 1);
    } else {
        snprintf(host, sizeof host, "%s", text);
    }
    if (port <= 0 || port > 65535) return -1;
    if (!uv_ip4_addr(host, port, (struct sockaddr_in *)out)) {
        *len = sizeof(struct sockaddr_in);
        return 0;
    }
    if (!uv_ip6_addr(host, port, (struct sockaddr_in6 *)out)) {
        *len = sizeof(struct sockaddr_in6);
        return 0;
    }
    return -1;
}

static void fwd_maybe_free(struct fwd *f)
{
    if (f->open > 0 || f->j) return;
    free(f->pkt);
    free(f);
}

static void attempt_closed(uv_handle_t *h)
{
    struct attempt *a = h->data;
    struct fwd *f = a->f;
    free(a->buf);
    free(a);
    f->open--;
    fwd_maybe_free(f);
}

static void attempt_end(struct fwd *f)
{
    struct attempt *a = f->cur;
    if (!a) return;
    f->cur = NULL;
    uv_close((uv_handle_t *)&a->h, attempt_closed);
}

static void timer_closed(uv_handle_t *h)
{
    struct fwd *f = h->data;
    f->open--;
    fwd_maybe_free(f);
}

static void finish(struct fwd *f, uint8_t *reply, size_t len)
{
    struct dns_job *j = f->j;
    uv_timer_stop(&f->timer);
    attempt_end(f);
    f->j = NULL;
    uv_close((uv_handle_t *)&f->timer, timer_closed);
    if (!j) return;
    j->fwd = NULL;
    struct dns_server *s = j->s;
    if (reply) {
        reply[0] = (uint8_t)(f->client_id >> 8);
        reply[1] = (uint8_t)f->client_id;
        dns_reply(j, reply, len);
    } else {
        size_t n = dns_answer_rcode(s->cfg, &j->req, DNS_RC_SERVFAIL, true, s->out, sizeof s->out);
        if (n) dns_reply(j, s->out, n);
    }
    dns_job_put(j);
}

static void next_attempt(struct fwd *f);

/* Is this the answer to our question? Then relay it if its RCODE allows. */
static void on_reply(struct fwd *f, uint8_t *p, size_t len)
{
    uint8_t qa[DNS_NAME_MAX], qb[DNS_NAME_MAX];
    size_t la, lb, na, nb;
    if (len < DNS_HEADER_LEN || memcmp(p, f->pkt, 2) || !(p[2] & 0x80)) return; /* not ours */
    bool same_q = (p[4] << 8 | p[5]) == 1 &&
                  !dns_name_read(p, len, DNS_HEADER_LEN, qa, &la, &na) &&
                  !dns_name_read(f->pkt, f->len, DNS_HEADER_LEN, qb, &lb, &nb) &&
                  na + 4 <= len && nb + 4 <= f->len && dns_name_eq(qa, qb) &&
                  !memcmp(p + na, f->pkt + nb, 4);
    if (!same_q) return;
    int rcode = p[3] & 0xF;
    bool tc = p[2] & 0x02;
    if (rcode == DNS_RC_NOERROR || rcode == DNS_RC_NXDOMAIN || tc) {
        finish(f, p, len);
        return;
    }
    attempt_end(f);
    next_attempt(f);
}

static void udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct attempt *a = h->data;
    (void)suggested;
    if (!a->buf) {
        a->cap = 65536;
        a->buf = cn_malloc(a->cap);
    }
    *buf = uv_buf_init((char *)a->buf, (unsigned)a->cap);
}

static void udp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *from,
                     unsigned flags)
{
    struct attempt *a = h->data;
    (void)buf;
    (void)from;
    if (a->f->cur != a || nread == 0 || (flags & UV_UDP_PARTIAL)) return;
    if (nread < 0) { /* e.g. ECONNREFUSED: nobody listens there */
        attempt_end(a->f);
        next_attempt(a->f);
        return;
    }
    on_reply(a->f, a->buf, (size_t)nread);
}

static void tcp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct attempt *a = h->data;
    (void)suggested;
    if (a->cap - a->len < 4096) {
        a->cap = a->cap ? a->cap * 2 : 8192;
        if (a->cap > 2 + DNS_TCP_MAX + 4096) a->cap = 2 + DNS_TCP_MAX + 4096;
        a->buf = cn_realloc(a->buf, a->cap);
    }
    *buf = uv_buf_init((char *)a->buf + a->len, (unsigned)(a->cap - a->len));
}

static void tcp_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct attempt *a = st->data;
    struct fwd *f = a->f;
    (void)buf;
    if (f->cur != a) return;
    if (nread < 0 || (a->len += (size_t)nread) >= a->cap) {
        attempt_end(f);
        next_attempt(f);
        return;
    }
    if (a->len < 2) return;
    size_t mlen = (size_t)a->buf[0] << 8 | a->buf[1];
    if (a->len < 2 + mlen) return;
    on_reply(f, a->buf + 2, mlen);
    if (f->cur == a) { /* not an answer to us: give up on this one */
        attempt_end(f);
        next_attempt(f);
    }
}

static void tcp_written(uv_write_t *req, int status)
{
    struct attempt *a = req->data;
    if (status < 0 && a->f->cur == a) {
        attempt_end(a->f);
        next_attempt(a->f);
    }
}

static void tcp_connected(uv_connect_t *req, int status)
{
    struct attempt *a = req->data;
    struct fwd *f = a->f;
    if (f->cur != a) return;
    if (status < 0) {
        attempt_end(f);
        next_attempt(f);
        return;
    }
    a->lenbuf[0] = (uint8_t)(f->len >> 8);
    a->lenbuf[1] = (uint8_t)f->len;
    uv_buf_t bufs[2] = {uv_buf_init((char *)a->lenbuf, 2), uv_buf_init((char *)f->pkt, (unsigned)f->len)};
    a->wreq.data = a;
    uv_write(&a->wreq, (uv_stream_t *)&a->h.tcp, bufs, 2, tcp_written);
    uv_read_start((uv_stream_t *)&a->h.tcp, tcp_alloc, tcp_read);
}

static void on_timeout(uv_timer_t *t)
{
    struct fwd *f = t->data;
    attempt_end(f);
    next_attempt(f);
}

static void next_attempt(struct fwd *f)
{
    if (!f->j) return;
    if (f->next >= f->rec.n) {
        finish(f, NULL, 0);
        return;
    }
    size_t idx = f->order[f->next++];
    const struct sockaddr *addr = (const struct sockaddr *)&f->rec.addr[idx];
    struct attempt *a = CN_NEW(struct attempt);
    a->f = f;
    a->tcp = f->tcp;
    f->cur = a;
    f->open++;
    uv_timer_start(&f->timer, on_timeout, f->rec.timeout_ms, 0);
    int rc;
    if (a->tcp) {
        uv_tcp_init(f->loop, &a->h.tcp);
        a->h.tcp.data = a;
        a->creq.data = a;
        rc = uv_tcp_connect(&a->creq, &a->h.tcp, addr, tcp_connected);
    } else {
        uv_udp_init(f->loop, &a->h.udp);
        a->h.udp.data = a;
        uv_buf_t b = uv_buf_init((char *)f->pkt, (unsigned)f->len);
        rc = uv_udp_connect(&a->h.udp, addr);
        if (!rc) rc = uv_udp_recv_start(&a->h.udp, udp_alloc, udp_recv);
        if (!rc) rc = uv_udp_try_send(&a->h.udp, &b, 1, NULL) < 0;
    }
    if (rc) {
        /* Unreachable right away: the next one, on the next loop turn. */
        uv_timer_start(&f->timer, on_timeout, 0, 0);
    }
}

void dns_forward(struct dns_job *j)
{
    struct dns_server *s = j->s;
    if (!j->pkt || j->pkt_len < DNS_HEADER_LEN || !s->rec.n) {
        size_t n = dns_answer_rcode(s->cfg, &j->req,
                                    s->rec.n ? DNS_RC_SERVFAIL : DNS_RC_REFUSED, s->rec.n > 0,
                                    s->out, sizeof s->out);
        if (n) dns_reply(j, s->out, n);
        dns_job_put(j);
        return;
    }
    struct fwd *f = CN_NEW(struct fwd);
    f->j = j;
    j->fwd = f;
    f->loop = s->loop;
    f->rec = s->rec;
    f->tcp = j->conn != NULL;
    for (size_t i = 0; i < f->rec.n; i++) f->order[i] = i;
    if (f->rec.random)
        for (size_t i = f->rec.n; i > 1; i--) {
            size_t k = (size_t)cn_rand_below(&s->rand, i), t = f->order[i - 1];
            f->order[i - 1] = f->order[k];
            f->order[k] = t;
        }
    f->pkt = cn_memdup(j->pkt, j->pkt_len);
    f->len = j->pkt_len;
    f->client_id = (uint16_t)(f->pkt[0] << 8 | f->pkt[1]);
    uint16_t id = (uint16_t)cn_rand_u64(&s->rand);
    f->pkt[0] = (uint8_t)(id >> 8);
    f->pkt[1] = (uint8_t)id;
    uv_timer_init(s->loop, &f->timer);
    f->timer.data = f;
    f->open = 1;
    next_attempt(f);
}

void dns_forward_cancel(struct fwd *f)
{
    uv_timer_stop(&f->timer);
    attempt_end(f);
    if (f->j) {
        f->j->fwd = NULL;
        f->j = NULL;
        uv_close((uv_handle_t *)&f->timer, timer_closed);
    }
}
