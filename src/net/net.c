/* net.c - framed TCP connections on libuv. */
#include "net/net.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "lib/cn_buf.h"
#include "lib/cn_codec.h"
#include "lib/cn_common.h"
#include "lib/cn_log.h"

struct net_listener {
    uv_tcp_t tcp;
    const struct net_handler *h;
    void *ctx;
};

struct net_conn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    const struct net_handler *h;
    void *ctx;
    void *data;
    struct cn_buf in;
    bool connected, closing, outbound;
    size_t queued; /* bytes waiting in libuv's write queue or ours */
    struct wreq *pending_head, *pending_tail; /* frames queued before connect */
    char peer[64];
    int close_status;
};

struct wreq {
    uv_write_t w;
    struct net_conn *c;
    struct wreq *next;
    size_t len;
    uint8_t data[];
};

int net_parse_addr(const char *addr, int default_port, struct sockaddr_storage *out)
{
    char host[128];
    int port = default_port;
    const char *colon;
    memset(out, 0, sizeof *out);
    if (addr[0] == '[') {
        const char *end = strchr(addr, ']');
        if (!end || (size_t)(end - addr - 1) >= sizeof host) return CN_EINVAL;
        snprintf(host, sizeof host, "%.*s", (int)(end - addr - 1), addr + 1);
        if (end[1] == ':') port = atoi(end + 2);
        return uv_ip6_addr(host, port, (struct sockaddr_in6 *)out) ? CN_EINVAL : 0;
    }
    colon = strrchr(addr, ':');
    if (colon && strchr(addr, ':') == colon) {
        snprintf(host, sizeof host, "%.*s", (int)(colon - addr), addr);
        port = atoi(colon + 1);
    } else if (colon) {
        return uv_ip6_addr(addr, port, (struct sockaddr_in6 *)out) ? CN_EINVAL : 0;
    } else {
        snprintf(host, sizeof host, "%s", addr);
    }
    if (port < 0 || port > 65535) return CN_EINVAL; /* 0: any port, for bind */
    return uv_ip4_addr(host, port, (struct sockaddr_in *)out) ? CN_EINVAL : 0;
}

static void peer_name(struct net_conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        } else {
            uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        }
    }
    snprintf(c->peer, sizeof c->peer, "%s:%d", ip, port);
}

static void closed_cb(uv_handle_t *h)
{
    struct net_conn *c = h->data;
    struct wreq *w = c->pending_head;
    while (w) {
        struct wreq *next = w->next;
        free(w);
        w = next;
    }
    if (c->h->on_close) c->h->on_close(c->ctx, c, c->close_status ? c->close_status : CN_ECLOSED);
    cn_buf_release(&c->in);
    free(c);
}

static void shut(struct net_conn *c, int status)
{
    if (c->closing) return;
    c->closing = true;
    c->close_status = status;
    uv_close((uv_handle_t *)&c->tcp, closed_cb);
}

void net_close(struct net_conn *c)
{
    shut(c, CN_ECLOSED);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    static char shared[64 * 1024];
    (void)h;
    (void)hint;
    buf->base = shared;
    buf->len = sizeof shared;
}

/* Deliver every whole frame in [p, p+n); returns bytes consumed. */
static size_t deliver(struct net_conn *c, const uint8_t *p, size_t n)
{
    size_t off = 0;
    while (!c->closing && n - off >= 5) {
        uint32_t len = cn_get_le32(p + off);
        if (len == 0 || len > NET_FRAME_MAX) {
            CN_WARN("net", "bad frame length %u from %s", len, c->peer);
            shut(c, CN_EPROTO);
            return n;
        }
        if (n - off - 4 < len) break;
        c->h->on_frame(c->ctx, c, p[off + 4], p + off + 5, len - 1);
        off += 4 + len;
    }
    return off;
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct net_conn *c = s->data;
    if (nread < 0) {
        shut(c, nread == UV_EOF ? CN_ECLOSED : CN_EIO);
        return;
    }
    if (nread == 0) return;
    /* Fast path: nothing buffered, parse straight from the read buffer. */
    if (c->in.len == 0) {
        size_t used = deliver(c, (const uint8_t *)buf->base, (size_t)nread);
        if (c->closing || used == (size_t)nread) return;
        if (cn_buf_append(&c->in, buf->base + used, (size_t)nread - used)) shut(c, CN_ETOOBIG);
        return;
    }
    if (cn_buf_append(&c->in, buf->base, (size_t)nread)) {
        shut(c, CN_ETOOBIG);
        return;
    }
    size_t used = deliver(c, (const uint8_t *)c->in.data, c->in.len);
    if (!c->closing) cn_buf_consume(&c->in, used);
}

static void write_cb(uv_write_t *w, int status)
{
    struct wreq *r = CN_CONTAINER_OF(w, struct wreq, w);
    struct net_conn *c = r->c;
    c->queued -= r->len;
    free(r);
    if (status < 0) shut(c, CN_EIO);
}

static int submit(struct net_conn *c, struct wreq *r)
{
    uv_buf_t b = uv_buf_init((char *)r->data, (unsigned)r->len);
    r->w.data = c;
    if (uv_write(&r->w, (uv_stream_t *)&c->tcp, &b, 1, write_cb)) {
        c->queued -= r->len;
        free(r);
        shut(c, CN_EIO);
        return CN_EIO;
    }
    return 0;
}

int net_sendv(struct net_conn *c, uint8_t type, const struct iovec *iov, int n)
{
    size_t len = 0;
    if (c->closing) return CN_ECLOSED;
    for (int i = 0; i < n; i++) len += iov[i].iov_len;
    if (len + 1 > NET_FRAME_MAX) return CN_ETOOBIG;
    if (c->queued + len + 5 > NET_QUEUE_MAX) {
        CN_WARN("net", "peer %s not draining its queue; disconnecting", c->peer);
        shut(c, CN_EAGAIN);
        return CN_ECLOSED;
    }
    struct wreq *r = cn_malloc(sizeof *r + len + 5);
    r->c = c;
    r->next = NULL;
    r->len = len + 5;
    cn_put_le32(r->data, (uint32_t)(len + 1));
    r->data[4] = type;
    size_t off = 5;
    for (int i = 0; i < n; i++) {
        if (iov[i].iov_len) memcpy(r->data + off, iov[i].iov_base, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    c->queued += r->len;
    if (!c->connected) {
        if (c->pending_tail)
            c->pending_tail->next = r;
        else
            c->pending_head = r;
        c->pending_tail = r;
        return 0;
    }
    return submit(c, r);
}

int net_send(struct net_conn *c, uint8_t type, const void *p, size_t n)
{
    struct iovec iov = {(void *)p, n};
    return net_sendv(c, type, &iov, 1);
}

static struct net_conn *conn_new(uv_loop_t *loop, const struct net_handler *h, void *ctx)
{
    struct net_conn *c = CN_NEW(struct net_conn);
    c->h = h;
    c->ctx = ctx;
    cn_buf_init(&c->in, NET_FRAME_MAX + 8);
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
    return c;
}

static void connect_cb(uv_connect_t *req, int status)
{
    struct net_conn *c = req->data;
    if (c->closing) return;
    if (status < 0) {
        shut(c, CN_EIO);
        return;
    }
    c->connected = true;
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
    struct wreq *w = c->pending_head;
    c->pending_head = c->pending_tail = NULL;
    while (w && !c->closing) {
        struct wreq *next = w->next;
        submit(c, w);
        w = next;
    }
    while (w) { /* closed mid-flush */
        struct wreq *next = w->next;
        free(w);
        w = next;
    }
    if (!c->closing && c->h->on_connect) c->h->on_connect(c->ctx, c);
}

struct net_conn *net_connect(uv_loop_t *loop, const char *addr, const struct net_handler *h,
                             void *ctx)
{
    struct sockaddr_storage ss;
    if (net_parse_addr(addr, 8300, &ss)) return NULL;
    struct net_conn *c = conn_new(loop, h, ctx);
    c->outbound = true;
    snprintf(c->peer, sizeof c->peer, "%s", addr);
    c->creq.data = c;
    if (uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&ss, connect_cb)) shut(c, CN_EIO);
    return c;
}

static void on_accept(uv_stream_t *s, int status)
{
    struct net_listener *l = s->data;
    if (status < 0) return;
    struct net_conn *c = conn_new(s->loop, l->h, l->ctx);
    if (uv_accept(s, (uv_stream_t *)&c->tcp)) {
        shut(c, CN_EIO);
        return;
    }
    c->connected = true;
    uv_tcp_nodelay(&c->tcp, 1);
    peer_name(c);
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
}

int net_listen(uv_loop_t *loop, const char *ip, int port, const struct net_handler *h, void *ctx,
               struct net_listener **out, struct cn_err *err)
{
    struct sockaddr_storage ss;
    char addr[128];
    snprintf(addr, sizeof addr, strchr(ip, ':') ? "[%s]:%d" : "%s:%d", ip, port);
    if (net_parse_addr(addr, port, &ss)) return cn_err_set(err, CN_EINVAL, "invalid address %s", ip);
    struct net_listener *l = CN_NEW(struct net_listener);
    l->h = h;
    l->ctx = ctx;
    uv_tcp_init(loop, &l->tcp);
    l->tcp.data = l;
    int rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0);
    if (!rc) rc = uv_listen((uv_stream_t *)&l->tcp, 512, on_accept);
    if (rc) {
        uv_close((uv_handle_t *)&l->tcp, (uv_close_cb)free);
        return cn_err_set(err, CN_EIO, "listen on %s: %s", addr, uv_strerror(rc));
    }
    *out = l;
    return 0;
}

void net_listener_close(struct net_listener *l)
{
    uv_close((uv_handle_t *)&l->tcp, (uv_close_cb)free);
}

int net_listener_port(const struct net_listener *l)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &len)) return -1;
    return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
}

bool net_is_connected(const struct net_conn *c)
{
    return c->connected && !c->closing;
}

const char *net_peer(const struct net_conn *c)
{
    return c->peer;
}

void net_set_data(struct net_conn *c, void *data)
{
    c->data = data;
}

void *net_get_data(const struct net_conn *c)
{
    return c->data;
}
