/*
 * dns_net.c - the DNS listeners.
 *
 * UDP bypasses libuv's per-datagram callbacks: the socket is polled for
 * readability, then drained with recvmmsg in batches of DNS_BATCH; every
 * query that can be answered at once (the common case on a server) has its
 * reply appended to a batch that goes out with one sendmmsg. Replies that
 * come later (reads through the HTTP API, recursors) use sendto.
 *
 * TCP: two-byte length-prefixed messages, several per connection, answered
 * as they complete (RFC 7766 allows any order); bounded input, a bounded
 * number of queries in flight per connection, and an idle timeout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "agent/dns_server_int.h"
#include "lib/cn_common.h"
#include "lib/cn_log.h"

struct dns_udp {
    struct dns_server *s;
    uv_poll_t poll;
    int fd;
    struct mmsghdr rx[DNS_BATCH];
    struct iovec rxio[DNS_BATCH];
    struct sockaddr_storage rxaddr[DNS_BATCH];
    struct mmsghdr tx[DNS_BATCH];
    struct iovec txio[DNS_BATCH];
    struct sockaddr_storage txaddr[DNS_BATCH];
    size_t ntx, txused;
    uint8_t txbuf[DNS_TX_BUF];
    uint8_t rxbuf[DNS_BATCH][DNS_RX_MAX];
};

struct dns_tcp_conn {
    struct cn_list link;
    struct dns_server *s;
    uv_tcp_t h;
    uv_timer_t idle;
    uint8_t *in;
    size_t in_len, in_cap;
    int refs;    /* open handles (1 for both), queries in flight, writes in flight */
    int pending; /* queries in flight */
    int handles;
    bool closing, reading;
};

struct tcp_write {
    uv_write_t req;
    struct dns_tcp_conn *c;
    uint8_t data[];
};

/* ---- UDP ------------------------------------------------------------------------ */

static void udp_flush(struct dns_udp *u)
{
    size_t off = 0;
    while (off < u->ntx) {
        int k = sendmmsg(u->fd, u->tx + off, (unsigned)(u->ntx - off), MSG_DONTWAIT);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break; /* a full socket buffer drops the rest, as UDP may */
        off += (size_t)k;
    }
    u->ntx = 0;
    u->txused = 0;
}

static void udp_queue(struct dns_udp *u, const struct dns_job *j, const uint8_t *p, size_t len)
{
    if (u->ntx == DNS_BATCH || u->txused + len > sizeof u->txbuf) udp_flush(u);
    size_t i = u->ntx++;
    memcpy(u->txbuf + u->txused, p, len);
    memcpy(&u->txaddr[i], &j->peer, j->peer_len);
    u->txio[i] = (struct iovec){.iov_base = u->txbuf + u->txused, .iov_len = len};
    u->tx[i].msg_hdr = (struct msghdr){.msg_name = &u->txaddr[i], .msg_namelen = j->peer_len,
                                       .msg_iov = &u->txio[i], .msg_iovlen = 1};
    u->txused += len;
}

static void udp_readable(uv_poll_t *h, int status, int events)
{
    struct dns_udp *u = h->data;
    struct dns_server *s = u->s;
    (void)events;
    if (status < 0) return;
    /* A few rounds at most, so other work on the loop is not starved. */
    for (int round = 0; round < 8; round++) {
        for (int i = 0; i < DNS_BATCH; i++) {
            u->rxio[i] = (struct iovec){.iov_base = u->rxbuf[i], .iov_len = DNS_RX_MAX};
            u->rx[i].msg_hdr = (struct msghdr){.msg_name = &u->rxaddr[i],
                                               .msg_namelen = sizeof u->rxaddr[i],
                                               .msg_iov = &u->rxio[i], .msg_iovlen = 1};
        }
        int n = recvmmsg(u->fd, u->rx, DNS_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) break;
        s->batching = u;
        for (int i = 0; i < n && !s->closing; i++) {
            if (u->rx[i].msg_hdr.msg_flags & MSG_TRUNC) continue;
            struct dns_job *j = dns_job_get(s);
            if (!j) continue; /* overloaded: drop, the client retries */
            j->udp = u;
            j->peer_len = u->rx[i].msg_hdr.msg_namelen;
            memcpy(&j->peer, &u->rxaddr[i], j->peer_len);
            dns_handle(s, j, u->rxbuf[i], u->rx[i].msg_len);
        }
        s->batching = NULL;
        udp_flush(u);
        if (n < DNS_BATCH || s->closing) break;
    }
}

static void udp_closed(uv_handle_t *h)
{
    struct dns_udp *u = h->data;
    struct dns_server *s = u->s;
    close(u->fd);
    free(u);
    dns_server_unref(s);
}

static int sockaddr_of(const char *ip, int port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (strchr(ip, ':')) return uv_ip6_addr(ip, port, (struct sockaddr_in6 *)ss);
    return uv_ip4_addr(ip, port, (struct sockaddr_in *)ss);
}

static int udp_listen(struct dns_server *s, const struct sockaddr_storage *ss, struct cn_err *err)
{
    int fam = ss->ss_family, one = 1, bufsz = 4 << 20;
    int fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return cn_err_set(err, CN_EIO, "dns: udp socket: %s", strerror(errno));
    /* No SO_REUSEADDR: for UDP it would let a second agent share the port. */
    if (fam == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof bufsz);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof bufsz);
    socklen_t len = fam == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (bind(fd, (const struct sockaddr *)ss, len)) {
        int e = errno;
        close(fd);
        return cn_err_set(err, CN_EIO, "Error starting DNS server: listen udp: %s", strerror(e));
    }
    struct dns_udp *u = CN_NEW(struct dns_udp);
    u->s = s;
    u->fd = fd;
    uv_poll_init_socket(s->loop, &u->poll, fd);
    u->poll.data = u;
    uv_poll_start(&u->poll, UV_READABLE, udp_readable);
    s->udp[s->nudp++] = u;
    s->refs++;
    return 0;
}

/* ---- TCP ------------------------------------------------------------------------ */

static void conn_unref(struct dns_tcp_conn *c)
{
    if (--c->refs > 0) return;
    struct dns_server *s = c->s;
    free(c->in);
    free(c);
    dns_server_unref(s);
}

static void conn_handle_closed(uv_handle_t *h)
{
    struct dns_tcp_conn *c = h->data;
    if (--c->handles > 0) return;
    cn_list_remove(&c->link);
    c->s->nconns--;
    conn_unref(c);
}

static void conn_close(struct dns_tcp_conn *c)
{
    if (c->closing) return;
    c->closing = true;
    uv_close((uv_handle_t *)&c->h, conn_handle_closed);
    uv_close((uv_handle_t *)&c->idle, conn_handle_closed);
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct dns_tcp_conn *c = h->data;
    (void)suggested;
    if (c->in_cap - c->in_len < 4096) {
        /* Bounded: one partial message (< 64 KiB) plus what came with it. */
        c->in_cap = CN_MIN(c->in_cap ? c->in_cap * 2 : 8192, (size_t)DNS_TCP_IN_MAX);
        c->in = cn_realloc(c->in, c->in_cap);
    }
    if (c->in_cap == c->in_len) { /* full and no complete message in it */
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    *buf = uv_buf_init((char *)c->in + c->in_len, (unsigned)(c->in_cap - c->in_len));
}

static void conn_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

static void conn_resume(struct dns_tcp_conn *c)
{
    if (c->closing || c->reading || c->pending >= DNS_TCP_PENDING_MAX) return;
    c->reading = true;
    uv_read_start((uv_stream_t *)&c->h, conn_alloc, conn_read);
}

static void conn_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct dns_tcp_conn *c = st->data;
    struct dns_server *s = c->s;
    (void)buf;
    if (nread < 0 || (nread == 0 && c->in_len == c->in_cap)) {
        conn_close(c);
        return;
    }
    c->in_len += (size_t)nread;
    uv_timer_again(&c->idle);
    c->refs++; /* the connection outlives the queries answered below */
    size_t off = 0;
    while (!c->closing && c->in_len - off >= 2 && c->pending < DNS_TCP_PENDING_MAX) {
        size_t mlen = (size_t)c->in[off] << 8 | c->in[off + 1];
        if (c->in_len - off < 2 + mlen) break;
        struct dns_job *j = mlen ? dns_job_get(s) : NULL;
        if (!j) {
            conn_close(c);
            break;
        }
        j->conn = c;
        c->refs++;
        c->pending++;
        dns_handle(s, j, c->in + off + 2, mlen);
        off += 2 + mlen;
    }
    if (off) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    if (!c->closing && c->pending >= DNS_TCP_PENDING_MAX && c->reading) {
        uv_read_stop((uv_stream_t *)&c->h);
        c->reading = false;
    }
    conn_unref(c);
}

void dns_conn_unref(struct dns_tcp_conn *c)
{
    c->pending--;
    conn_resume(c);
    conn_unref(c);
}

static void conn_idle(uv_timer_t *t)
{
    struct dns_tcp_conn *c = t->data;
    if (c->pending == 0) conn_close(c);
}

static void tcp_written(uv_write_t *req, int status)
{
    struct tcp_write *w = CN_CONTAINER_OF(req, struct tcp_write, req);
    struct dns_tcp_conn *c = w->c;
    free(w);
    if (status < 0) conn_close(c);
    conn_unref(c);
}

static void tcp_send(struct dns_tcp_conn *c, const uint8_t *p, size_t len)
{
    if (c->closing || len > DNS_TCP_MAX) return;
    struct tcp_write *w = cn_malloc(sizeof *w + 2 + len);
    w->c = c;
    w->data[0] = (uint8_t)(len >> 8);
    w->data[1] = (uint8_t)len;
    memcpy(w->data + 2, p, len);
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)(2 + len));
    c->refs++;
    if (uv_write(&w->req, (uv_stream_t *)&c->h, &b, 1, tcp_written)) {
        free(w);
        c->refs--;
        conn_close(c);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    struct dns_server *s = server->data;
    if (status < 0 || s->closing) return;
    struct dns_tcp_conn *c = CN_NEW(struct dns_tcp_conn);
    c->s = s;
    uv_tcp_init(s->loop, &c->h);
    uv_timer_init(s->loop, &c->idle);
    c->h.data = c->idle.data = c;
    c->handles = 2;
    c->refs = 1;
    s->refs++;
    cn_list_insert_tail(&s->conns, &c->link);
    s->nconns++;
    if (uv_accept(server, (uv_stream_t *)&c->h) || s->nconns > DNS_TCP_CONNS_MAX) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->h, 1);
    uv_timer_start(&c->idle, conn_idle, DNS_TCP_IDLE_MS, DNS_TCP_IDLE_MS);
    conn_resume(c);
}

static void listener_closed(uv_handle_t *h)
{
    struct dns_server *s = h->data;
    free(h);
    dns_server_unref(s);
}

static int tcp_listen(struct dns_server *s, const struct sockaddr_storage *ss, struct cn_err *err)
{
    uv_tcp_t *t = CN_NEW(uv_tcp_t);
    uv_tcp_init(s->loop, t);
    t->data = s;
    s->tcp[s->ntcp++] = t;
    s->refs++;
    int rc = uv_tcp_bind(t, (const struct sockaddr *)ss, ss->ss_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
    if (!rc) rc = uv_listen((uv_stream_t *)t, 128, on_connection);
    if (rc) return cn_err_set(err, CN_EIO, "Error starting DNS server: listen tcp: %s", uv_strerror(rc));
    return 0;
}

int dns_listen(struct dns_server *s, const char *ip, int port, struct cn_err *err)
{
    struct sockaddr_storage ss;
    if (s->nudp == DNS_LISTENERS_MAX) return 0;
    if (sockaddr_of(ip, port, &ss))
        return cn_err_set(err, CN_EINVAL, "Error starting DNS server: bad address %s", ip);
    int rc = udp_listen(s, &ss, err);
    return rc ? rc : tcp_listen(s, &ss, err);
}

void dns_net_close(struct dns_server *s)
{
    for (size_t i = 0; i < s->nudp; i++) {
        uv_poll_stop(&s->udp[i]->poll);
        uv_close((uv_handle_t *)&s->udp[i]->poll, udp_closed);
    }
    s->nudp = 0;
    for (size_t i = 0; i < s->ntcp; i++) uv_close((uv_handle_t *)s->tcp[i], listener_closed);
    s->ntcp = 0;
    struct cn_list *it, *tmp;
    cn_list_foreach_safe(it, tmp, &s->conns) conn_close(cn_list_entry(it, struct dns_tcp_conn, link));
}

void dns_reply(struct dns_job *j, const uint8_t *p, size_t len)
{
    struct dns_server *s = j->s;
    if (j->conn) {
        tcp_send(j->conn, p, len);
        return;
    }
    if (!j->udp) return;
    if (s->batching == j->udp) {
        udp_queue(j->udp, j, p, len);
        return;
    }
    sendto(j->udp->fd, p, len, MSG_DONTWAIT, (const struct sockaddr *)&j->peer, j->peer_len);
}
