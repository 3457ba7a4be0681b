/*
 * gossip_io.c - the libuv adapter (see gossip_io.h).
 *
 * Every input becomes one gossip_step; the update is applied (datagrams
 * sent, streams opened, answers written, callbacks run), gossip_done, then
 * the timer is rearmed for next_wake_ms. Time is uv_hrtime for both now_ms
 * and now_us, so the two always describe the same instant.
 *
 * Streams are one request frame and one answer frame (4-byte little-endian
 * length, then the bytes): every outgoing stream gets exactly one
 * GOSSIP_EV_STREAM_RESULT (answer, refusal, error or timeout).
 */
#include "gossip/io/gossip_io.h"

#include <stdio.h>
#include <string.h>

#include "lib/cn_buf.h"
#include "lib/cn_common.h"
#include "lib/cn_err.h"
#include "lib/cn_list.h"

#define IO_IN_CONNS_MAX 128 /* memberlist's maxPushPullRequests */
#define IO_DNS_FIX_MAX 16

struct pending_op {
    struct cn_list link;
    struct gossip_event ev;
    char *a, *b;               /* owned strings (names, payloads) */
    struct gossip_tag *tags;   /* owned, with owned strings */
    struct gossip_addr *addrs; /* owned */
};

struct gossip_io {
    uv_loop_t *loop;
    struct gossip *g;
    struct gossip_io_callbacks cb;
    uint16_t default_port;
    uint16_t port;
    uint32_t tcp_timeout_ms;
    uv_udp_t udp;
    uv_tcp_t listener;
    uv_timer_t timer;
    int handles;          /* open handles of the io itself and its streams */
    bool closing, close_requested, dispatching;
    void (*on_closed)(void *ctx);
    void *closed_ctx;
    struct cn_list pending;
    struct cn_list in_conns, out_streams;
    uint32_t n_in_conns;
    uint64_t next_conn;
    struct {
        uint64_t token;
        uint32_t failed;
        char error[160];
    } dns_fix[IO_DNS_FIX_MAX];
    uint8_t rx[GOSSIP_PACKET_MAX + 1];
};

/* ---- addresses ------------------------------------------------------------ */

static void to_sockaddr(const struct gossip_addr *a, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (a->family == 6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        memcpy(&s6->sin6_addr, a->ip, 16);
        s6->sin6_port = htons(a->port);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        memcpy(&s4->sin_addr, a->ip, 4);
        s4->sin_port = htons(a->port);
    }
}

static void from_sockaddr(const struct sockaddr *sa, struct gossip_addr *a)
{
    memset(a, 0, sizeof *a);
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        a->family = 6;
        memcpy(a->ip, &s6->sin6_addr, 16);
        a->port = ntohs(s6->sin6_port);
    } else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        a->family = 4;
        memcpy(a->ip, &s4->sin_addr, 4);
        a->port = ntohs(s4->sin_port);
    }
}

/* ---- stepping the core ----------------------------------------------------- */

static void apply(struct gossip_io *io, struct gossip_update *u);
static void run_pending(struct gossip_io *io);
static void really_close(struct gossip_io *io);
static void on_timer(uv_timer_t *t);

static void arm(struct gossip_io *io, uint64_t wake_ms, uint64_t now_ms)
{
    if (io->closing) return;
    if (wake_ms == UINT64_MAX) {
        uv_timer_stop(&io->timer);
        return;
    }
    uint64_t delay = wake_ms > now_ms ? wake_ms - now_ms : 0;
    uv_timer_start(&io->timer, on_timer, delay, 0);
}

static int io_step(struct gossip_io *io, struct gossip_event *ev, struct cn_err *err)
{
    if (io->closing) return CN_ESHUTDOWN;
    uint64_t hr = uv_hrtime();
    uint64_t now_ms = hr / 1000000;
    ev->now_us = hr / 1000;
    struct gossip_update u;
    io->dispatching = true;
    int rc = gossip_step(io->g, now_ms, ev, &u);
    if (rc && err) *err = u.err;
    apply(io, &u);
    uint64_t wake = u.next_wake_ms;
    gossip_done(io->g, &u);
    io->dispatching = false;
    arm(io, wake, now_ms);
    if (io->close_requested) {
        really_close(io);
        return rc;
    }
    run_pending(io);
    return rc;
}

static void on_timer(uv_timer_t *t)
{
    struct gossip_io *io = t->data;
    struct gossip_event ev = {.type = GOSSIP_EV_TICK};
    io_step(io, &ev, NULL);
}

/* ---- UDP ------------------------------------------------------------------------ */

struct usend {
    uv_udp_send_t req;
    uint8_t data[];
};

static void on_udp_sent(uv_udp_send_t *req, int status)
{
    cn_free(CN_CONTAINER_OF(req, struct usend, req));
}

static void udp_send(struct gossip_io *io, const struct gossip_packet_out *p)
{
    struct sockaddr_storage ss;
    to_sockaddr(&p->to, &ss);
    uv_buf_t b = uv_buf_init((char *)p->data, (unsigned)p->len);
    int r = uv_udp_try_send(&io->udp, &b, 1, (const struct sockaddr *)&ss);
    if (r != UV_EAGAIN && r != UV_ENOSYS) return; /* sent, or dropped like any lost datagram */
    struct usend *s = cn_malloc(sizeof *s + p->len);
    memcpy(s->data, p->data, p->len);
    b = uv_buf_init((char *)s->data, (unsigned)p->len);
    if (uv_udp_send(&s->req, &io->udp, &b, 1, (const struct sockaddr *)&ss, on_udp_sent) != 0)
        cn_free(s);
}

static void on_udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct gossip_io *io = h->data;
    *buf = uv_buf_init((char *)io->rx, sizeof io->rx);
}

static void on_udp_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
                        unsigned flags)
{
    struct gossip_io *io = h->data;
    if (n <= 0 || !from || (flags & UV_UDP_PARTIAL) || n > GOSSIP_PACKET_MAX) return;
    struct gossip_event ev = {.type = GOSSIP_EV_PACKET};
    from_sockaddr(from, &ev.packet.from);
    ev.packet.data = (const uint8_t *)buf->base;
    ev.packet.len = (size_t)n;
    io_step(io, &ev, NULL);
}

/* ---- frames ---------------------------------------------------------------------- */

static uint8_t *frame_copy(const uint8_t *data, size_t len, size_t *out_len)
{
    uint8_t *f = cn_malloc(len + 4);
    f[0] = (uint8_t)len;
    f[1] = (uint8_t)(len >> 8);
    f[2] = (uint8_t)(len >> 16);
    f[3] = (uint8_t)(len >> 24);
    if (len) memcpy(f + 4, data, len);
    *out_len = len + 4;
    return f;
}

/* 1: a whole frame is in b (body at b->data + 4, length *len); 0: need more;
 * <0: oversized. */
static int frame_ready(const struct cn_buf *b, size_t *len)
{
    if (b->len < 4) return 0;
    const uint8_t *p = (const uint8_t *)b->data;
    size_t n = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
    if (n > GOSSIP_STREAM_MAX) return -1;
    if (b->len < n + 4) return 0;
    *len = n;
    return 1;
}

static void on_stream_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct cn_buf *in = h->data;
    char *at;
    size_t want = 64 * 1024;
    if (cn_buf_reserve(in, want, &at) != 0) {
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    *buf = uv_buf_init(at, (unsigned)want);
}

/* ---- outgoing streams ----------------------------------------------------------------- */

struct ostream {
    struct cn_list link;
    struct gossip_io *io;
    uint64_t id;
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    uv_timer_t timer;
    uint8_t *out;
    size_t out_len;
    struct cn_buf in;
    int fail_rc; /* a synchronous failure, reported from the timer */
    bool done;
    int open;
};

static void ostream_closed(uv_handle_t *h)
{
    struct ostream *s = h->type == UV_TCP ? CN_CONTAINER_OF((uv_tcp_t *)h, struct ostream, tcp)
                                          : CN_CONTAINER_OF((uv_timer_t *)h, struct ostream, timer);
    struct gossip_io *io = s->io;
    io->handles--;
    if (--s->open > 0) return;
    cn_buf_release(&s->in);
    cn_free(s->out);
    cn_free(s);
    if (io->closing && io->handles == 0) really_close(io);
}

static void ostream_finish(struct ostream *s, int rc, const uint8_t *data, size_t len)
{
    if (s->done) return;
    s->done = true;
    struct gossip_io *io = s->io;
    cn_list_remove(&s->link);
    if (!io->closing) {
        struct gossip_event ev = {.type = GOSSIP_EV_STREAM_RESULT};
        ev.stream_result.id = s->id;
        ev.stream_result.rc = rc;
        ev.stream_result.data = data;
        ev.stream_result.len = len;
        io_step(io, &ev, NULL);
    }
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->tcp, ostream_closed);
    uv_close((uv_handle_t *)&s->timer, ostream_closed);
}

static void ostream_timeout(uv_timer_t *t)
{
    struct ostream *s = t->data;
    ostream_finish(s, s->fail_rc ? s->fail_rc : CN_ETIMEDOUT, NULL, 0);
}

static void ostream_read(uv_stream_t *h, ssize_t n, const uv_buf_t *buf)
{
    struct ostream *s = CN_CONTAINER_OF((uv_tcp_t *)h, struct ostream, tcp);
    if (n < 0) {
        ostream_finish(s, n == UV_EOF ? CN_EPROTO : CN_EIO, NULL, 0);
        return;
    }
    s->in.len += (size_t)n;
    size_t len;
    int r = frame_ready(&s->in, &len);
    if (r < 0) ostream_finish(s, CN_EPROTO, NULL, 0);
    if (r > 0) {
        uv_read_stop(h);
        ostream_finish(s, len ? 0 : CN_EIO, (const uint8_t *)s->in.data + 4, len);
    }
}

static void ostream_written(uv_write_t *w, int status)
{
    struct ostream *s = CN_CONTAINER_OF(w, struct ostream, write);
    if (status < 0) ostream_finish(s, CN_EIO, NULL, 0);
}

static void ostream_connected(uv_connect_t *c, int status)
{
    struct ostream *s = CN_CONTAINER_OF(c, struct ostream, connect);
    if (s->done) return;
    if (status < 0) {
        ostream_finish(s, CN_EIO, NULL, 0);
        return;
    }
    uv_buf_t b = uv_buf_init((char *)s->out, (unsigned)s->out_len);
    s->tcp.data = &s->in;
    if (uv_write(&s->write, (uv_stream_t *)&s->tcp, &b, 1, ostream_written) != 0 ||
        uv_read_start((uv_stream_t *)&s->tcp, on_stream_alloc, ostream_read) != 0)
        ostream_finish(s, CN_EIO, NULL, 0);
}

static void ostream_start(struct gossip_io *io, const struct gossip_stream_out *o)
{
    struct ostream *s = CN_NEW(struct ostream);
    s->io = io;
    s->id = o->id;
    s->out = frame_copy(o->data, o->len, &s->out_len);
    cn_buf_init(&s->in, GOSSIP_STREAM_MAX + 4);
    cn_list_insert_tail(&io->out_streams, &s->link);
    uv_tcp_init(io->loop, &s->tcp);
    uv_timer_init(io->loop, &s->timer);
    s->tcp.data = &s->in;
    s->timer.data = s;
    s->open = 2;
    io->handles += 2;
    struct sockaddr_storage ss;
    to_sockaddr(&o->to, &ss);
    int r = uv_tcp_connect(&s->connect, &s->tcp, (const struct sockaddr *)&ss, ostream_connected);
    if (r != 0) {
        /* Never report from inside the update being applied: next turn. */
        s->fail_rc = CN_EIO;
        uv_timer_start(&s->timer, ostream_timeout, 0, 0);
        return;
    }
    uv_timer_start(&s->timer, ostream_timeout, o->timeout_ms, 0);
}

/* ---- accepted streams -------------------------------------------------------------------- */

struct iconn {
    struct cn_list link;
    struct gossip_io *io;
    uint64_t id;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t write;
    struct cn_buf in;
    uint8_t *out;
    bool closing;
    int open;
};

static void iconn_closed(uv_handle_t *h)
{
    struct iconn *c = h->type == UV_TCP ? CN_CONTAINER_OF((uv_tcp_t *)h, struct iconn, tcp)
                                        : CN_CONTAINER_OF((uv_timer_t *)h, struct iconn, timer);
    struct gossip_io *io = c->io;
    io->handles--;
    if (--c->open > 0) return;
    cn_buf_release(&c->in);
    cn_free(c->out);
    cn_free(c);
    if (io->closing && io->handles == 0) really_close(io);
}

static void iconn_close(struct iconn *c)
{
    if (c->closing) return;
    c->closing = true;
    cn_list_remove(&c->link);
    c->io->n_in_conns--;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->tcp, iconn_closed);
    uv_close((uv_handle_t *)&c->timer, iconn_closed);
}

static void iconn_timeout(uv_timer_t *t)
{
    iconn_close(t->data);
}

static void iconn_written(uv_write_t *w, int status)
{
    iconn_close(CN_CONTAINER_OF(w, struct iconn, write));
}

static void iconn_read(uv_stream_t *h, ssize_t n, const uv_buf_t *buf)
{
    struct iconn *c = CN_CONTAINER_OF((uv_tcp_t *)h, struct iconn, tcp);
    if (n < 0) {
        iconn_close(c);
        return;
    }
    c->in.len += (size_t)n;
    size_t len;
    int r = frame_ready(&c->in, &len);
    if (r < 0) iconn_close(c);
    if (r <= 0) return;
    uv_read_stop(h);
    struct gossip_event ev = {.type = GOSSIP_EV_STREAM_IN};
    ev.stream_in.conn = c->id;
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0)
        from_sockaddr((struct sockaddr *)&ss, &ev.stream_in.from);
    ev.stream_in.data = (const uint8_t *)c->in.data + 4;
    ev.stream_in.len = len;
    io_step(c->io, &ev, NULL);
}

static void reply(struct gossip_io *io, const struct gossip_stream_reply *r)
{
    struct cn_list *it;
    cn_list_foreach(it, &io->in_conns)
    {
        struct iconn *c = cn_list_entry(it, struct iconn, link);
        if (c->id != r->conn) continue;
        if (r->len == 0) {
            iconn_close(c);
            return;
        }
        size_t n;
        c->out = frame_copy(r->data, r->len, &n);
        uv_buf_t b = uv_buf_init((char *)c->out, (unsigned)n);
        if (uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, iconn_written) != 0) iconn_close(c);
        return;
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    struct gossip_io *io = server->data;
    if (status < 0 || io->closing) return;
    struct iconn *c = CN_NEW(struct iconn);
    c->io = io;
    c->id = ++io->next_conn;
    cn_buf_init(&c->in, GOSSIP_STREAM_MAX + 4);
    uv_tcp_init(io->loop, &c->tcp);
    uv_timer_init(io->loop, &c->timer);
    c->tcp.data = &c->in;
    c->timer.data = c;
    c->open = 2;
    io->handles += 2;
    cn_list_insert_tail(&io->in_conns, &c->link);
    io->n_in_conns++;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 || io->n_in_conns > IO_IN_CONNS_MAX) {
        iconn_close(c);
        return;
    }
    uv_timer_start(&c->timer, iconn_timeout, io->tcp_timeout_ms, 0);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_stream_alloc, iconn_read) != 0) iconn_close(c);
}

/* ---- applying an update ------------------------------------------------------------------- */

static void join_result(struct gossip_io *io, const struct gossip_join_result *r)
{
    struct gossip_join_result fixed = *r;
    for (int i = 0; i < IO_DNS_FIX_MAX; i++) {
        if (io->dns_fix[i].token != r->token || !io->dns_fix[i].failed) continue;
        fixed.failed += io->dns_fix[i].failed;
        if (!fixed.error[0]) fixed.error = io->dns_fix[i].error;
        io->dns_fix[i].failed = 0;
        io->dns_fix[i].token = 0;
    }
    if (io->cb.join) io->cb.join(io->cb.ctx, &fixed);
}

static void apply(struct gossip_io *io, struct gossip_update *u)
{
    const struct gossip_io_callbacks *cb = &io->cb;
    for (size_t i = 0; i < u->n_packets; i++) udp_send(io, &u->packets[i]);
    for (size_t i = 0; i < u->n_streams; i++) ostream_start(io, &u->streams[i]);
    for (size_t i = 0; i < u->n_replies; i++) reply(io, &u->replies[i]);
    for (size_t i = 0; cb->member && i < u->n_changes; i++) cb->member(cb->ctx, &u->changes[i]);
    for (size_t i = 0; cb->event && i < u->n_events; i++) cb->event(cb->ctx, &u->events[i]);
    for (size_t i = 0; i < u->n_joins; i++) join_result(io, &u->joins[i]);
    for (size_t i = 0; cb->key_result && i < u->n_key_results; i++)
        cb->key_result(cb->ctx, &u->key_results[i]);
    if (u->keyring_changed && cb->keyring) {
        const struct gossip_key *keys;
        size_t n = gossip_keyring(io->g, &keys);
        cb->keyring(cb->ctx, keys, n);
    }
    if (u->leave_done && cb->left) cb->left(cb->ctx);
}

/* ---- commands, possibly deferred ----------------------------------------------------------- */

static void op_free(struct pending_op *op)
{
    if (op->tags) {
        for (size_t i = 0; i < op->ev.tags.n; i++) {
            cn_free((char *)op->tags[i].key);
            cn_free((char *)op->tags[i].value);
        }
        cn_free(op->tags);
    }
    cn_free(op->a);
    cn_free(op->b);
    cn_free(op->addrs);
    cn_free(op);
}

/* Run ev now, or (inside a callback) queue a deep copy for after the update. */
static int submit(struct gossip_io *io, struct gossip_event *ev, struct cn_err *err)
{
    if (io->closing || io->close_requested)
        return err ? cn_err_set(err, CN_ESHUTDOWN, "gossip pool is closing") : CN_ESHUTDOWN;
    if (!io->dispatching) return io_step(io, ev, err);
    struct pending_op *op = CN_NEW(struct pending_op);
    op->ev = *ev;
    switch (ev->type) {
    case GOSSIP_EV_USER_EVENT:
        op->a = cn_memdup(ev->user.name.p, ev->user.name.len + 1);
        op->b = cn_memdup(ev->user.payload.p ? ev->user.payload.p : "", ev->user.payload.len + 1);
        op->ev.user.name.p = op->a;
        op->ev.user.payload.p = op->b;
        break;
    case GOSSIP_EV_FORCE_LEAVE:
        op->a = cn_memdup(ev->force_leave.name.p, ev->force_leave.name.len + 1);
        op->ev.force_leave.name.p = op->a;
        break;
    case GOSSIP_EV_SET_TAGS:
        op->tags = cn_calloc(ev->tags.n + 1, sizeof *op->tags);
        for (size_t i = 0; i < ev->tags.n; i++) {
            op->tags[i].key = cn_strdup(ev->tags.tags[i].key ? ev->tags.tags[i].key : "");
            op->tags[i].value = cn_strdup(ev->tags.tags[i].value ? ev->tags.tags[i].value : "");
        }
        op->ev.tags.tags = op->tags;
        break;
    case GOSSIP_EV_JOIN:
        op->addrs = cn_memdup(ev->join.addrs, ev->join.n * sizeof *ev->join.addrs);
        op->ev.join.addrs = op->addrs;
        break;
    default:
        break;
    }
    cn_list_insert_tail(&io->pending, &op->link);
    return 0;
}

static void run_pending(struct gossip_io *io)
{
    while (!cn_list_empty(&io->pending) && !io->closing) {
        struct pending_op *op = cn_list_entry(io->pending.next, struct pending_op, link);
        cn_list_remove(&op->link);
        struct cn_err err;
        int rc = io_step(io, &op->ev, &err);
        if (rc && op->ev.type == GOSSIP_EV_JOIN && io->cb.join) {
            struct gossip_join_result r = {.token = op->ev.join.token, .failed = (uint32_t)op->ev.join.n,
                                           .rc = rc, .error = err.msg};
            io->cb.join(io->cb.ctx, &r);
        }
        op_free(op);
    }
}

int gossip_io_leave(struct gossip_io *io)
{
    struct gossip_event ev = {.type = GOSSIP_EV_LEAVE};
    return submit(io, &ev, NULL);
}

int gossip_io_user_event(struct gossip_io *io, struct cn_str name, struct cn_str payload,
                         bool coalesce, struct cn_err *err)
{
    int rc = gossip_user_event_check(name, payload, err);
    if (rc) return rc;
    struct gossip_event ev = {.type = GOSSIP_EV_USER_EVENT};
    ev.user.name = name;
    ev.user.payload = payload;
    ev.user.coalesce = coalesce;
    return submit(io, &ev, err);
}

int gossip_io_set_tags(struct gossip_io *io, const struct gossip_tag *tags, size_t n,
                       struct cn_err *err)
{
    struct gossip_event ev = {.type = GOSSIP_EV_SET_TAGS};
    ev.tags.tags = tags;
    ev.tags.n = n;
    return submit(io, &ev, err);
}

int gossip_io_force_leave(struct gossip_io *io, const char *name, bool prune, struct cn_err *err)
{
    struct gossip_event ev = {.type = GOSSIP_EV_FORCE_LEAVE};
    ev.force_leave.name = cn_str_from(name);
    ev.force_leave.prune = prune;
    return submit(io, &ev, err);
}

int gossip_io_key_op(struct gossip_io *io, enum gossip_key_op op, const struct gossip_key *key,
                     bool local_only, uint64_t token, struct cn_err *err)
{
    struct gossip_event ev = {.type = GOSSIP_EV_KEY_OP};
    ev.key.op = op;
    if (key) ev.key.key = *key;
    ev.key.local_only = local_only;
    ev.key.token = token;
    return submit(io, &ev, err);
}

/* ---- joins with name resolution ------------------------------------------------------------ */

struct djoin {
    struct gossip_io *io;
    uint64_t token;
    bool ignore_old;
    size_t pending;
    size_t n_ok;
    struct gossip_addr *addrs;
    uint32_t failed;
    char error[160];
};

struct dreq {
    uv_getaddrinfo_t req;
    struct djoin *j;
    uint16_t port;
    char host[256];
};

static void djoin_finish(struct djoin *j)
{
    struct gossip_io *io = j->io;
    if (!io->closing) {
        if (j->n_ok == 0) {
            struct gossip_join_result r = {.token = j->token, .failed = j->failed, .rc = CN_EIO,
                                           .error = j->error};
            if (io->cb.join) io->cb.join(io->cb.ctx, &r);
        } else {
            for (int i = 0; i < IO_DNS_FIX_MAX && j->failed; i++) {
                if (io->dns_fix[i].failed) continue;
                io->dns_fix[i].token = j->token;
                io->dns_fix[i].failed = j->failed;
                snprintf(io->dns_fix[i].error, sizeof io->dns_fix[i].error, "%s", j->error);
                break;
            }
            struct gossip_event ev = {.type = GOSSIP_EV_JOIN};
            ev.join.addrs = j->addrs;
            ev.join.n = j->n_ok;
            ev.join.token = j->token;
            ev.join.ignore_old = j->ignore_old;
            struct cn_err err;
            if (submit(io, &ev, &err) && io->cb.join) {
                struct gossip_join_result r = {.token = j->token, .failed = (uint32_t)j->n_ok,
                                               .rc = CN_EIO, .error = err.msg};
                io->cb.join(io->cb.ctx, &r);
            }
        }
    }
    cn_free(j->addrs);
    cn_free(j);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct dreq *d = CN_CONTAINER_OF(req, struct dreq, req);
    struct djoin *j = d->j;
    bool found = false;
    for (struct addrinfo *ai = res; status == 0 && ai && !found; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
        from_sockaddr(ai->ai_addr, &j->addrs[j->n_ok]);
        j->addrs[j->n_ok++].port = d->port;
        found = true;
    }
    if (!found) {
        j->failed++;
        if (!j->error[0])
            snprintf(j->error, sizeof j->error, "Failed to resolve %s: %s", d->host,
                     status ? uv_strerror(status) : "no address");
    }
    if (res) uv_freeaddrinfo(res);
    cn_free(d);
    if (--j->pending == 0) djoin_finish(j);
}

int gossip_io_join(struct gossip_io *io, const char *const *addrs, size_t n, uint64_t token,
                   bool ignore_old, struct cn_err *err)
{
    if (n == 0 || n > GOSSIP_JOIN_ADDRS_MAX)
        return cn_err_set(err, CN_EINVAL, "join needs 1 to %d addresses", GOSSIP_JOIN_ADDRS_MAX);
    struct djoin *j = CN_NEW(struct djoin);
    j->io = io;
    j->token = token;
    j->ignore_old = ignore_old;
    j->addrs = cn_calloc(n, sizeof *j->addrs);
    j->pending = 1; /* held until every lookup is started */
    for (size_t i = 0; i < n; i++) {
        struct cn_str s = cn_str_from(addrs[i]);
        if (gossip_addr_parse(s, io->default_port, &j->addrs[j->n_ok]) == 0) {
            j->n_ok++;
            continue;
        }
        /* host[:port] */
        struct dreq *d = CN_NEW(struct dreq);
        d->j = j;
        d->port = io->default_port;
        long colon = cn_str_index(s, ':', 0);
        size_t hl = colon >= 0 ? (size_t)colon : s.len;
        uint64_t port;
        if (colon >= 0 && (cn_parse_u64(cn_str_sub(s, (size_t)colon + 1, s.len - (size_t)colon - 1),
                                        &port) || port == 0 || port > 65535)) {
            j->failed++;
            snprintf(j->error, sizeof j->error, "invalid address '%s'", addrs[i]);
            cn_free(d);
            continue;
        }
        if (colon >= 0) d->port = (uint16_t)port;
        snprintf(d->host, sizeof d->host, "%.*s", (int)hl, s.p);
        struct addrinfo hints = {.ai_socktype = SOCK_DGRAM};
        j->pending++;
        if (uv_getaddrinfo(io->loop, &d->req, on_resolved, d->host, NULL, &hints) != 0) {
            j->pending--;
            j->failed++;
            snprintf(j->error, sizeof j->error, "Failed to resolve %s", d->host);
            cn_free(d);
        }
    }
    if (--j->pending == 0) djoin_finish(j);
    return 0;
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

void gossip_io_config_init(struct gossip_io_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    gossip_config_init(&cfg->core);
    cfg->default_port = 8301;
}

const struct gossip *gossip_io_core(const struct gossip_io *io)
{
    return io->g;
}

uint16_t gossip_io_port(const struct gossip_io *io)
{
    return io->port;
}

static int bind_udp(struct gossip_io *io, const struct gossip_addr *a, struct cn_err *err)
{
    struct sockaddr_storage ss;
    to_sockaddr(a, &ss);
    /* No UV_UDP_REUSEADDR: on Linux it lets a second agent share the port. */
    int r = uv_udp_bind(&io->udp, (const struct sockaddr *)&ss, 0);
    if (r) return cn_err_set(err, r, "gossip: bind UDP port %u: %s", a->port, uv_strerror(r));
    return 0;
}

static int bind_tcp(struct gossip_io *io, const struct gossip_addr *a, struct cn_err *err)
{
    struct sockaddr_storage ss;
    to_sockaddr(a, &ss);
    int r = uv_tcp_bind(&io->listener, (const struct sockaddr *)&ss, 0);
    if (r == 0) r = uv_listen((uv_stream_t *)&io->listener, 128, on_connection);
    if (r) return cn_err_set(err, r, "gossip: bind TCP port %u: %s", a->port, uv_strerror(r));
    return 0;
}

/* One port for both. With port 0, let TCP pick it first: TCP ephemeral
 * ports are the busy ones (every outgoing connection takes one). */
static int bind_sockets(struct gossip_io *io, const struct gossip_addr *bind, struct cn_err *err)
{
    struct gossip_addr a = *bind;
    struct sockaddr_storage got;
    int len = sizeof got;
    int rc;
    if (a.port == 0) {
        if ((rc = bind_tcp(io, &a, err))) return rc;
        uv_tcp_getsockname(&io->listener, (struct sockaddr *)&got, &len);
        from_sockaddr((struct sockaddr *)&got, &a);
        if ((rc = bind_udp(io, &a, err))) return rc;
    } else {
        if ((rc = bind_udp(io, &a, err))) return rc;
        if ((rc = bind_tcp(io, &a, err))) return rc;
    }
    io->port = a.port;
    return 0;
}

static void io_handle_closed(uv_handle_t *h)
{
    struct gossip_io *io = h->data;
    io->handles--;
    if (io->handles == 0) really_close(io);
}

int gossip_io_start(uv_loop_t *loop, const struct gossip_io_config *cfg, struct gossip_io **out,
                    struct cn_err *err)
{
    *out = NULL;
    struct gossip_io *io = CN_NEW(struct gossip_io);
    io->loop = loop;
    io->cb = cfg->cb;
    io->default_port = cfg->default_port ? cfg->default_port : 8301;
    io->tcp_timeout_ms = cfg->core.timing.tcp_timeout_ms ? cfg->core.timing.tcp_timeout_ms : 10000;
    cn_list_init(&io->pending);
    cn_list_init(&io->in_conns);
    cn_list_init(&io->out_streams);
    uv_udp_init(loop, &io->udp);
    uv_tcp_init(loop, &io->listener);
    uv_timer_init(loop, &io->timer);
    io->udp.data = io->listener.data = io->timer.data = io;
    io->handles = 3;

    struct gossip_config core = cfg->core;
    struct gossip_addr bind = cfg->bind;
    if (bind.family == 0) bind = core.addr;
    if (bind.port == 0) bind.port = core.addr.port;
    int rc = bind_sockets(io, &bind, err);
    if (rc == 0) {
        if (core.addr.family == 0) core.addr = bind;
        if (core.addr.port == 0) core.addr.port = io->port;
        bool seeded = false;
        for (int i = 0; i < 4; i++) seeded |= core.rng.s[i] != 0;
        if (!seeded) cn_rand_os_bytes(core.rng.s, sizeof core.rng.s);
        io->g = gossip_new(&core, uv_hrtime() / 1000000, err);
        if (!io->g) rc = err->code ? err->code : CN_EINVAL;
    }
    if (rc) {
        io->closing = true;
        uv_close((uv_handle_t *)&io->udp, io_handle_closed);
        uv_close((uv_handle_t *)&io->listener, io_handle_closed);
        uv_close((uv_handle_t *)&io->timer, io_handle_closed);
        return rc; /* io frees itself once its handles are closed */
    }
    uv_timer_start(&io->timer, on_timer, 0, 0);
    uv_udp_recv_start(&io->udp, on_udp_alloc, on_udp_recv);
    *out = io;
    /* First step now: deliver the local join, arm the timer. */
    struct gossip_event ev = {.type = GOSSIP_EV_TICK};
    io_step(io, &ev, NULL);
    return 0;
}

static void really_close(struct gossip_io *io)
{
    if (!io->closing) {
        io->closing = true;
        io->close_requested = false;
        while (!cn_list_empty(&io->pending)) {
            struct pending_op *op = cn_list_entry(io->pending.next, struct pending_op, link);
            cn_list_remove(&op->link);
            op_free(op);
        }
        while (!cn_list_empty(&io->out_streams))
            ostream_finish(cn_list_entry(io->out_streams.next, struct ostream, link), CN_ECANCELED,
                           NULL, 0);
        while (!cn_list_empty(&io->in_conns))
            iconn_close(cn_list_entry(io->in_conns.next, struct iconn, link));
        uv_timer_stop(&io->timer);
        uv_udp_recv_stop(&io->udp);
        uv_close((uv_handle_t *)&io->udp, io_handle_closed);
        uv_close((uv_handle_t *)&io->listener, io_handle_closed);
        uv_close((uv_handle_t *)&io->timer, io_handle_closed);
        return;
    }
    if (io->handles > 0) return;
    gossip_free(io->g);
    void (*cb)(void *) = io->on_closed;
    void *ctx = io->closed_ctx;
    cn_free(io);
    if (cb) cb(ctx);
}

void gossip_io_close(struct gossip_io *io, void (*on_closed)(void *ctx), void *ctx)
{
    if (io->closing || io->close_requested) return;
    io->on_closed = on_closed;
    io->closed_ctx = ctx;
    if (io->dispatching) {
        io->close_requested = true; /* finish applying the update first */
        return;
    }
    really_close(io);
}
