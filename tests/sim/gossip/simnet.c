/*
 * simnet.c - the simulated network (see simnet.h).
 */
#include "simnet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cn_common.h"
#include "lib/cn_err.h"

enum sev_kind {
    SEV_WAKE,
    SEV_PACKET,
    SEV_STREAM_IN,
    SEV_STREAM_RESULT,
    SEV_CONN_TIMEOUT,
};

struct sev {
    uint64_t t;
    uint64_t seq;
    uint8_t kind;
    uint32_t node;
    uint32_t epoch;
    int rc;
    uint64_t id; /* stream id, conn id */
    struct gossip_addr from;
    uint8_t *data;
    size_t len;
};

struct sconn {
    uint32_t from;
    uint32_t from_epoch;
    uint64_t stream_id;
    uint32_t to;
    bool done;
};

struct simnet {
    struct simnet_config cfg;
    uint64_t now;
    uint64_t seq;
    struct cn_rand rng;
    struct gossip_intern *intern;
    struct simnode *nodes;
    uint32_t n, cap;
    struct sev *heap;
    size_t heap_n, heap_cap;
    struct sconn *conns;
    uint64_t n_conns, cap_conns;
    struct simnet_totals tot;
    bool partitioned;
};

/* ---- heap --------------------------------------------------------------- */

static bool sev_less(const struct sev *a, const struct sev *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void heap_push(struct simnet *net, struct sev e)
{
    e.seq = net->seq++;
    if (net->heap_n == net->heap_cap) {
        net->heap_cap = net->heap_cap ? net->heap_cap * 2 : 1024;
        net->heap = cn_realloc(net->heap, net->heap_cap * sizeof *net->heap);
    }
    size_t i = net->heap_n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!sev_less(&e, &net->heap[p])) break;
        net->heap[i] = net->heap[p];
        i = p;
    }
    net->heap[i] = e;
}

static struct sev heap_pop(struct simnet *net)
{
    struct sev top = net->heap[0];
    struct sev last = net->heap[--net->heap_n];
    size_t i = 0, n = net->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && sev_less(&net->heap[c + 1], &net->heap[c])) c++;
        if (!sev_less(&net->heap[c], &last)) break;
        net->heap[i] = net->heap[c];
        i = c;
    }
    if (n) net->heap[i] = last;
    return top;
}

/* ---- nodes ---------------------------------------------------------------- */

static void addr_of(uint32_t i, struct gossip_addr *a)
{
    memset(a, 0, sizeof *a);
    a->family = 4;
    a->ip[0] = 10;
    a->ip[1] = (uint8_t)((i + 1) >> 16);
    a->ip[2] = (uint8_t)((i + 1) >> 8);
    a->ip[3] = (uint8_t)(i + 1);
    a->port = 7946;
}

static int node_of(const struct simnet *net, const struct gossip_addr *a)
{
    if (a->family != 4 || a->ip[0] != 10 || a->port != 7946) return -1;
    uint32_t i = ((uint32_t)a->ip[1] << 16 | (uint32_t)a->ip[2] << 8 | a->ip[3]) - 1;
    return i < net->n ? (int)i : -1;
}

static void schedule_wake(struct simnet *net, uint32_t i, uint64_t t)
{
    struct simnode *nd = &net->nodes[i];
    if (t == UINT64_MAX) return;
    if (t < net->now) t = net->now;
    if (nd->wake_ms != UINT64_MAX && nd->wake_ms <= t && nd->wake_ms >= net->now) return;
    nd->wake_ms = t;
    heap_push(net, (struct sev){.t = t, .kind = SEV_WAKE, .node = i, .epoch = nd->epoch});
}

static void core_new(struct simnet *net, uint32_t i)
{
    struct simnode *nd = &net->nodes[i];
    struct gossip_config cfg;
    gossip_config_init(&cfg);
    cfg.name = nd->name;
    cfg.addr = nd->addr;
    cfg.timing = net->cfg.timing;
    cfg.keys = net->cfg.keys;
    cfg.n_keys = net->cfg.n_keys;
    cfg.coordinates = net->cfg.coordinates;
    cn_rand_seed(&cfg.rng, cn_rand_u64(&net->rng));
    cfg.intern = net->intern;
    struct gossip_tag tags[GOSSIP_TAG_PAIRS_MAX];
    char storage[1024];
    if (net->cfg.tags) {
        cfg.n_tags = net->cfg.tags(net->cfg.hooks.ctx, i, tags, storage, sizeof storage);
        cfg.tags = tags;
    }
    struct cn_err err;
    nd->g = gossip_new(&cfg, net->now, &err);
    if (!nd->g) CN_BUG("gossip_new: %s", err.msg);
    nd->left = false;
    nd->wake_ms = UINT64_MAX;
    /* Deliver the local join and arm the first timer. */
    struct gossip_event ev = {.type = GOSSIP_EV_TICK};
    simnet_step(net, i, &ev);
}

struct simnet *simnet_new(const struct simnet_config *cfg)
{
    struct simnet *net = CN_NEW(struct simnet);
    net->cfg = *cfg;
    cn_rand_seed(&net->rng, cfg->seed);
    if (cfg->share_records) net->intern = gossip_intern_new();
    return net;
}

void simnet_free(struct simnet *net)
{
    for (uint32_t i = 0; i < net->n; i++) gossip_free(net->nodes[i].g);
    for (size_t i = 0; i < net->heap_n; i++) free(net->heap[i].data);
    free(net->heap);
    free(net->nodes);
    free(net->conns);
    if (net->intern) gossip_intern_free(net->intern);
    free(net);
}

uint64_t simnet_now(const struct simnet *net)
{
    return net->now;
}

uint32_t simnet_count(const struct simnet *net)
{
    return net->n;
}

struct simnode *simnet_node(struct simnet *net, uint32_t i)
{
    return &net->nodes[i];
}

struct cn_rand *simnet_rng(struct simnet *net)
{
    return &net->rng;
}

uint32_t simnet_add(struct simnet *net)
{
    if (net->n == net->cap) {
        net->cap = net->cap ? net->cap * 2 : 16;
        net->nodes = cn_realloc(net->nodes, net->cap * sizeof *net->nodes);
    }
    uint32_t i = net->n++;
    struct simnode *nd = &net->nodes[i];
    memset(nd, 0, sizeof *nd);
    snprintf(nd->name, sizeof nd->name, "n%u", i);
    addr_of(i, &nd->addr);
    core_new(net, i);
    return i;
}

void simnet_bootstrap(struct simnet *net)
{
    struct gossip_member *all = cn_calloc(net->n, sizeof *all);
    for (uint32_t i = 0; i < net->n; i++) gossip_self(net->nodes[i].g, &all[i]);
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    gossip__encode_members(&b, all, net->n);
    for (uint32_t i = 0; i < net->n; i++)
        if (net->nodes[i].g) CN_ASSERT(gossip__bootstrap(net->nodes[i].g, net->now,
                                                         (uint8_t *)b.data, b.len) == 0);
    cn_buf_release(&b);
    free(all);
}

/* ---- the network ----------------------------------------------------------- */

static uint64_t latency_between(struct simnet *net, uint32_t from, uint32_t to)
{
    if (net->cfg.hooks.latency) return net->cfg.hooks.latency(net->cfg.hooks.ctx, from, to);
    uint32_t span = net->cfg.lat_max_ms - net->cfg.lat_min_ms;
    return net->cfg.lat_min_ms + (span ? cn_rand_below(&net->rng, span + 1) : 0);
}

static uint64_t latency(struct simnet *net)
{
    uint32_t span = net->cfg.lat_max_ms - net->cfg.lat_min_ms;
    return net->cfg.lat_min_ms + (span ? cn_rand_below(&net->rng, span + 1) : 0);
}

static bool cut(const struct simnet *net, uint32_t a, uint32_t b)
{
    return net->partitioned && net->nodes[a].group != net->nodes[b].group;
}

static uint64_t slow_delay(struct simnet *net, uint32_t to)
{
    uint32_t s = net->nodes[to].slow_ms;
    return s ? cn_rand_below(&net->rng, s + 1) : 0;
}

static void send_packet(struct simnet *net, uint32_t from, const struct gossip_packet_out *p)
{
    struct simnode *src = &net->nodes[from];
    src->packets_sent++;
    src->bytes_sent += p->len;
    net->tot.packets++;
    net->tot.bytes += p->len;
    int to = node_of(net, &p->to);
    double loss = net->cfg.loss;
    if (to >= 0 && net->cfg.hooks.loss) loss = net->cfg.hooks.loss(net->cfg.hooks.ctx, from, (uint32_t)to);
    bool lost = loss > 0 && cn_rand_double(&net->rng) < loss;
    if (to < 0 || lost || cut(net, from, (uint32_t)to) || !net->nodes[to].g) {
        net->tot.dropped++;
        return;
    }
    uint8_t *copy = cn_malloc(p->len);
    memcpy(copy, p->data, p->len);
    if (net->cfg.corrupt > 0 && cn_rand_double(&net->rng) < net->cfg.corrupt) {
        copy[cn_rand_below(&net->rng, p->len)] ^= (uint8_t)(1 + cn_rand_below(&net->rng, 255));
        net->tot.corrupted++;
    }
    heap_push(net, (struct sev){.t = net->now + latency_between(net, from, (uint32_t)to) +
                                     slow_delay(net, (uint32_t)to),
                                .kind = SEV_PACKET, .node = (uint32_t)to,
                                .epoch = net->nodes[to].epoch, .from = src->addr, .data = copy,
                                .len = p->len});
}

static void stream_result(struct simnet *net, uint32_t node, uint32_t epoch, uint64_t id, int rc,
                          uint64_t at, const uint8_t *data, size_t len)
{
    uint8_t *copy = NULL;
    if (len) {
        copy = cn_malloc(len);
        memcpy(copy, data, len);
    }
    heap_push(net, (struct sev){.t = at, .kind = SEV_STREAM_RESULT, .node = node, .epoch = epoch,
                                .id = id, .rc = rc, .data = copy, .len = len});
}

static void open_stream(struct simnet *net, uint32_t from, const struct gossip_stream_out *s)
{
    struct simnode *src = &net->nodes[from];
    src->stream_bytes_sent += s->len;
    net->tot.stream_bytes += s->len;
    net->tot.streams++;
    int to = node_of(net, &s->to);
    uint64_t rtt = 2 * latency(net);
    if (to < 0 || !net->nodes[to].g) { /* refused */
        stream_result(net, from, src->epoch, s->id, CN_EIO, net->now + rtt, NULL, 0);
        return;
    }
    if (cut(net, from, (uint32_t)to)) {
        stream_result(net, from, src->epoch, s->id, CN_ETIMEDOUT, net->now + s->timeout_ms, NULL, 0);
        return;
    }
    if (net->n_conns == net->cap_conns) {
        net->cap_conns = net->cap_conns ? net->cap_conns * 2 : 256;
        net->conns = cn_realloc(net->conns, net->cap_conns * sizeof *net->conns);
    }
    uint64_t conn = net->n_conns++;
    net->conns[conn] = (struct sconn){from, src->epoch, s->id, (uint32_t)to, false};
    uint8_t *copy = cn_malloc(s->len);
    memcpy(copy, s->data, s->len);
    heap_push(net, (struct sev){.t = net->now + rtt + slow_delay(net, (uint32_t)to),
                                .kind = SEV_STREAM_IN, .node = (uint32_t)to,
                                .epoch = net->nodes[to].epoch, .id = conn, .from = src->addr,
                                .data = copy, .len = s->len});
    heap_push(net, (struct sev){.t = net->now + s->timeout_ms, .kind = SEV_CONN_TIMEOUT,
                                .node = from, .id = conn});
}

static void reply_stream(struct simnet *net, uint32_t from, const struct gossip_stream_reply *r)
{
    if (r->conn >= net->n_conns) return;
    struct sconn *c = &net->conns[r->conn];
    if (c->done) return;
    c->done = true;
    net->nodes[from].stream_bytes_sent += r->len;
    net->tot.stream_bytes += r->len;
    if (cut(net, from, c->from)) {
        c->done = false; /* let the requester time out */
        return;
    }
    stream_result(net, c->from, c->from_epoch, c->stream_id, r->len ? 0 : CN_EIO,
                  net->now + latency(net), r->data, r->len);
}

static void process_update(struct simnet *net, uint32_t i, struct gossip_update *u)
{
    struct simnode *nd = &net->nodes[i];
    const struct simnet_hooks *h = &net->cfg.hooks;
    for (size_t k = 0; k < u->n_packets; k++) send_packet(net, i, &u->packets[k]);
    for (size_t k = 0; k < u->n_streams; k++) open_stream(net, i, &u->streams[k]);
    for (size_t k = 0; k < u->n_replies; k++) reply_stream(net, i, &u->replies[k]);
    for (size_t k = 0; h->change && k < u->n_changes; k++) h->change(h->ctx, i, &u->changes[k]);
    for (size_t k = 0; h->event && k < u->n_events; k++) h->event(h->ctx, i, &u->events[k]);
    for (size_t k = 0; h->join && k < u->n_joins; k++) h->join(h->ctx, i, &u->joins[k]);
    for (size_t k = 0; h->key_result && k < u->n_key_results; k++)
        h->key_result(h->ctx, i, &u->key_results[k]);
    if (u->leave_done) nd->left = true;
}

int simnet_step(struct simnet *net, uint32_t i, const struct gossip_event *ev)
{
    struct simnode *nd = &net->nodes[i];
    if (!nd->g) return CN_ESHUTDOWN;
    struct gossip_update u;
    int rc = gossip_step(nd->g, net->now, ev, &u);
    process_update(net, i, &u);
    uint64_t wake = u.next_wake_ms;
    gossip_done(nd->g, &u);
    if (net->cfg.check_invariants) gossip_check_invariants(nd->g);
    schedule_wake(net, i, wake);
    return rc;
}

/* ---- commands --------------------------------------------------------------------- */

int simnet_join(struct simnet *net, uint32_t i, uint32_t to)
{
    struct gossip_event ev = {.type = GOSSIP_EV_JOIN};
    ev.join.addrs = &net->nodes[to].addr;
    ev.join.n = 1;
    ev.join.token = to;
    ev.join.ignore_old = true;
    return simnet_step(net, i, &ev);
}

int simnet_leave(struct simnet *net, uint32_t i)
{
    struct gossip_event ev = {.type = GOSSIP_EV_LEAVE};
    return simnet_step(net, i, &ev);
}

int simnet_fire(struct simnet *net, uint32_t i, const char *name, const char *payload, bool cc)
{
    struct gossip_event ev = {.type = GOSSIP_EV_USER_EVENT};
    ev.user.name = cn_str_from(name);
    ev.user.payload = cn_str_from(payload);
    ev.user.coalesce = cc;
    return simnet_step(net, i, &ev);
}

int simnet_set_tags(struct simnet *net, uint32_t i, const struct gossip_tag *tags, size_t n)
{
    struct gossip_event ev = {.type = GOSSIP_EV_SET_TAGS};
    ev.tags.tags = tags;
    ev.tags.n = n;
    return simnet_step(net, i, &ev);
}

int simnet_force_leave(struct simnet *net, uint32_t i, const char *name, bool prune)
{
    struct gossip_event ev = {.type = GOSSIP_EV_FORCE_LEAVE};
    ev.force_leave.name = cn_str_from(name);
    ev.force_leave.prune = prune;
    return simnet_step(net, i, &ev);
}

int simnet_key_op(struct simnet *net, uint32_t i, enum gossip_key_op op,
                  const struct gossip_key *key, bool local_only)
{
    struct gossip_event ev = {.type = GOSSIP_EV_KEY_OP};
    ev.key.op = op;
    if (key) ev.key.key = *key;
    ev.key.local_only = local_only;
    ev.key.token = i;
    return simnet_step(net, i, &ev);
}

void simnet_kill(struct simnet *net, uint32_t i)
{
    struct simnode *nd = &net->nodes[i];
    gossip_free(nd->g);
    nd->g = NULL;
    nd->epoch++;
    nd->wake_ms = UINT64_MAX;
}

void simnet_restart(struct simnet *net, uint32_t i)
{
    if (net->nodes[i].g) simnet_kill(net, i);
    core_new(net, i);
}

void simnet_set_group(struct simnet *net, uint32_t i, uint32_t group)
{
    net->nodes[i].group = group;
    net->partitioned = true;
}

void simnet_set_loss(struct simnet *net, double loss)
{
    net->cfg.loss = loss;
}

void simnet_set_latency(struct simnet *net, uint32_t (*fn)(void *ctx, uint32_t from, uint32_t to))
{
    net->cfg.hooks.latency = fn;
}

void simnet_heal(struct simnet *net)
{
    net->partitioned = false;
    for (uint32_t i = 0; i < net->n; i++) net->nodes[i].group = 0;
}

/* ---- running ------------------------------------------------------------------------ */

static void deliver(struct simnet *net, struct sev *e)
{
    struct simnode *nd = &net->nodes[e->node];
    if (e->kind == SEV_CONN_TIMEOUT) {
        struct sconn *c = &net->conns[e->id];
        if (c->done) return;
        c->done = true;
        if (!net->nodes[c->from].g || net->nodes[c->from].epoch != c->from_epoch) return;
        struct gossip_event ev = {.type = GOSSIP_EV_STREAM_RESULT};
        ev.stream_result.id = c->stream_id;
        ev.stream_result.rc = CN_ETIMEDOUT;
        simnet_step(net, c->from, &ev);
        return;
    }
    if (!nd->g || nd->epoch != e->epoch) {
        if (e->kind == SEV_PACKET) net->tot.dropped++;
        return;
    }
    struct gossip_event ev = {.type = GOSSIP_EV_TICK};
    switch (e->kind) {
    case SEV_WAKE:
        if (nd->wake_ms != e->t) return; /* superseded */
        nd->wake_ms = UINT64_MAX;
        break;
    case SEV_PACKET:
        net->tot.delivered++;
        nd->packets_recv++;
        nd->bytes_recv += e->len;
        ev.type = GOSSIP_EV_PACKET;
        ev.packet.from = e->from;
        ev.packet.data = e->data;
        ev.packet.len = e->len;
        break;
    case SEV_STREAM_IN:
        ev.type = GOSSIP_EV_STREAM_IN;
        ev.stream_in.conn = e->id;
        ev.stream_in.from = e->from;
        ev.stream_in.data = e->data;
        ev.stream_in.len = e->len;
        break;
    case SEV_STREAM_RESULT:
        ev.type = GOSSIP_EV_STREAM_RESULT;
        ev.stream_result.id = e->id;
        ev.stream_result.rc = e->rc;
        ev.stream_result.data = e->data;
        ev.stream_result.len = e->len;
        break;
    }
    simnet_step(net, e->node, &ev);
}

void simnet_run_until(struct simnet *net, uint64_t t)
{
    while (net->heap_n > 0 && net->heap[0].t <= t) {
        struct sev e = heap_pop(net);
        if (e.t > net->now) net->now = e.t;
        deliver(net, &e);
        free(e.data);
    }
    if (t > net->now) net->now = t;
}

bool simnet_run_while(struct simnet *net, uint64_t t, uint32_t check_ms,
                      bool (*pred)(void *ctx, struct simnet *net), void *ctx)
{
    while (net->now < t) {
        if (pred(ctx, net)) return true;
        simnet_run_until(net, CN_MIN(t, net->now + check_ms));
    }
    return pred(ctx, net);
}

enum gossip_status simnet_view(struct simnet *net, uint32_t i, uint32_t j)
{
    struct gossip_member m;
    if (!net->nodes[i].g) return GOSSIP_STATUS_NONE;
    if (gossip_member_get(net->nodes[i].g, net->nodes[j].name, &m)) return GOSSIP_STATUS_NONE;
    return m.status;
}

bool simnet_converged(struct simnet *net)
{
    for (uint32_t i = 0; i < net->n; i++) {
        if (!net->nodes[i].g || net->nodes[i].left) continue;
        for (uint32_t j = 0; j < net->n; j++) {
            bool live = net->nodes[j].g && !net->nodes[j].left;
            enum gossip_status s = simnet_view(net, i, j);
            if (live != (s == GOSSIP_STATUS_ALIVE)) return false;
        }
    }
    return true;
}

void simnet_totals(const struct simnet *net, struct simnet_totals *out)
{
    *out = net->tot;
}
