/*
 * gossip.c - lifecycle, the step function, timers, and the update.
 *
 * gossip_step feeds one event, then runs every timer that is due (probe,
 * gossip, push-pull, suspicion, reap, reconnect, coalesce, queries, leave)
 * and reports the earliest next deadline. Everything the step produces goes
 * into vectors and an arena owned by the core until gossip_done.
 */
#include <string.h>

#include "gossip/gossip_int.h"
#include "lib/cn_err.h"

static const uint8_t default_vsn[6] = {1, 5, 2, 2, 5, 4};

/* ---- output memory -------------------------------------------------------- */

#define G_ARENA_CHUNK 8192

void *g_alloc(struct gossip *g, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    struct garena_chunk *c = g->arena;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > G_ARENA_CHUNK ? n : G_ARENA_CHUNK;
        struct garena_chunk *nc = cn_malloc(sizeof *nc + cap);
        nc->cap = cap;
        nc->used = 0;
        nc->next = c;
        g->arena = c = nc;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

static void arena_reset(struct gossip *g)
{
    struct garena_chunk *c = g->arena;
    if (!c) return;
    /* Keep one ordinary chunk; drop the rest (big push-pull frames). */
    while (c->next) {
        struct garena_chunk *next = c->next;
        if (c->cap > G_ARENA_CHUNK || next->cap == G_ARENA_CHUNK) {
            cn_free(c);
            c = next;
        } else {
            c->next = next->next;
            cn_free(next);
        }
    }
    if (c->cap > G_ARENA_CHUNK) {
        cn_free(c);
        c = NULL;
    } else {
        c->used = 0;
    }
    g->arena = c;
}

char *g_strdup(struct gossip *g, struct cn_str s)
{
    char *p = g_alloc(g, s.len + 1);
    if (s.len) memcpy(p, s.p, s.len);
    p[s.len] = 0;
    return p;
}

void *g_vec_push(struct gvec *v, size_t size)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 8;
        v->p = cn_realloc(v->p, v->cap * size);
    }
    void *e = (char *)v->p + v->n * size;
    memset(e, 0, size);
    v->n++;
    return e;
}

bool g_encrypting(const struct gossip *g)
{
    return g->kr.n > 0 && g->verify_out;
}

static void emit_packet(struct gossip *g, const struct gossip_addr *to, const uint8_t *plain,
                        size_t n)
{
    struct gossip_packet_out *p = G_VEC_PUSH(g, &g->out_packets, struct gossip_packet_out);
    p->to = *to;
    if (g_encrypting(g)) {
        uint8_t *out = g_alloc(g, n + G_ENCRYPT_OVERHEAD);
        gk_seal(&g->kr, &g->rng, 'U', plain, n, out);
        p->data = out;
        p->len = n + G_ENCRYPT_OVERHEAD;
    } else {
        uint8_t *out = g_alloc(g, n);
        memcpy(out, plain, n);
        p->data = out;
        p->len = n;
    }
    g->st.packets_sent++;
    g->st.bytes_sent += p->len;
}

static size_t plain_budget(const struct gossip *g)
{
    size_t max = g->t.udp_buffer_size;
    return g_encrypting(g) ? max - G_ENCRYPT_OVERHEAD : max;
}

void g_send(struct gossip *g, const struct gossip_addr *to, const uint8_t *msg, size_t n)
{
    if (g->left || to->family == 0) return;
    cn_buf_reset(&g->pkt);
    cn_buf_putc(&g->pkt, G_HDR_PLAIN);
    cn_buf_put(&g->pkt, msg, n);
    size_t budget = plain_budget(g);
    if (g->pkt.len < budget) gq_take(g, &g->pkt, budget - g->pkt.len);
    emit_packet(g, to, (uint8_t *)g->pkt.data, g->pkt.len);
}

const uint8_t *g_frame(struct gossip *g, const uint8_t *body, size_t n, size_t *out_len)
{
    size_t plain_len = n + 1;
    if (g_encrypting(g)) {
        uint8_t *plain = cn_malloc(plain_len);
        plain[0] = G_HDR_PLAIN;
        memcpy(plain + 1, body, n);
        uint8_t *out = g_alloc(g, plain_len + G_ENCRYPT_OVERHEAD);
        gk_seal(&g->kr, &g->rng, 'S', plain, plain_len, out);
        cn_free(plain);
        *out_len = plain_len + G_ENCRYPT_OVERHEAD;
        return out;
    }
    uint8_t *out = g_alloc(g, plain_len);
    out[0] = G_HDR_PLAIN;
    memcpy(out + 1, body, n);
    *out_len = plain_len;
    return out;
}

uint64_t g_stream_start(struct gossip *g, const struct gossip_addr *to, const uint8_t *body,
                        size_t n, uint32_t timeout_ms, uint8_t kind)
{
    if (g->left || g->n_streams >= GOSSIP_STREAMS_MAX || to->family == 0) return 0;
    struct gossip_stream_out *s = G_VEC_PUSH(g, &g->out_streams, struct gossip_stream_out);
    s->id = ++g->stream_id;
    s->to = *to;
    s->data = g_frame(g, body, n, &s->len);
    s->timeout_ms = timeout_ms ? timeout_ms : 1;
    struct gstream *gs = &g->streams[g->n_streams++];
    memset(gs, 0, sizeof *gs);
    gs->id = s->id;
    gs->kind = kind;
    g->st.streams_sent++;
    g->st.stream_bytes_sent += s->len;
    return s->id;
}

void g_reply(struct gossip *g, uint64_t conn, const uint8_t *body, size_t n)
{
    struct gossip_stream_reply *r = G_VEC_PUSH(g, &g->out_replies, struct gossip_stream_reply);
    r->conn = conn;
    if (body && n && !g->left) {
        r->data = g_frame(g, body, n, &r->len);
        g->st.stream_bytes_sent += r->len;
    }
}

/* ---- member views ------------------------------------------------------------ */

void g_member_view(const struct gossip *g, const struct gmember *m, struct gossip_member *out)
{
    const struct gnode *n = m->node;
    out->name = n->name;
    out->addr = n->addr;
    out->tags = n->tags;
    out->n_tags = n->n_tags;
    out->incarnation = m->inc;
    out->suspect = m->state == GM_SUSPECT;
    memcpy(out->vsn, n->vsn, 6);
    switch (m->state) {
    case GM_ALIVE:
    case GM_SUSPECT:
        out->status = GOSSIP_STATUS_ALIVE;
        break;
    case GM_DEAD:
        out->status = GOSSIP_STATUS_FAILED;
        break;
    default:
        out->status = GOSSIP_STATUS_LEFT;
        break;
    }
    if (n == g->self && g->leaving && !g->left) out->status = GOSSIP_STATUS_LEAVING;
}

void g_notify(struct gossip *g, enum gossip_change_kind kind, uint32_t i)
{
    struct gossip_member_change *c = G_VEC_PUSH(g, &g->out_changes, struct gossip_member_change);
    c->kind = kind;
    g_member_view(g, &g->mem[i], &c->member);
    /* The view points into the node record: keep it alive until done. */
    struct gnode **held = G_VEC_PUSH(g, &g->out_held, struct gnode *);
    *held = gnode_ref(g->mem[i].node);
}

const char *gossip_member_tag(const struct gossip_member *m, const char *key)
{
    for (size_t i = 0; i < m->n_tags; i++)
        if (strcmp(m->tags[i].key, key) == 0) return m->tags[i].value;
    return NULL;
}

size_t gossip_num_members(const struct gossip *g)
{
    return g->n_mem;
}

size_t gossip_num_alive(const struct gossip *g)
{
    return g->n_state[GM_ALIVE] + g->n_state[GM_SUSPECT];
}

void gossip_member_at(const struct gossip *g, size_t i, struct gossip_member *out)
{
    CN_ASSERT(i < g->n_mem);
    g_member_view(g, &g->mem[i], out);
}

int gossip_member_get(const struct gossip *g, const char *name, struct gossip_member *out)
{
    int i = g_find(g, cn_str_from(name));
    if (i < 0) return CN_ENOENT;
    g_member_view(g, &g->mem[i], out);
    return 0;
}

void gossip_self(const struct gossip *g, struct gossip_member *out)
{
    g_member_view(g, &g->mem[g->self_i], out);
}

const char *gossip_status_name(enum gossip_status s)
{
    switch (s) {
    case GOSSIP_STATUS_ALIVE: return "alive";
    case GOSSIP_STATUS_LEAVING: return "leaving";
    case GOSSIP_STATUS_LEFT: return "left";
    case GOSSIP_STATUS_FAILED: return "failed";
    default: return "none";
    }
}

const char *gossip_change_name(enum gossip_change_kind k)
{
    switch (k) {
    case GOSSIP_MEMBER_JOIN: return "member-join";
    case GOSSIP_MEMBER_LEAVE: return "member-leave";
    case GOSSIP_MEMBER_FAILED: return "member-failed";
    case GOSSIP_MEMBER_UPDATE: return "member-update";
    case GOSSIP_MEMBER_REAP: return "member-reap";
    }
    return "member-unknown";
}

size_t gossip_keyring(const struct gossip *g, const struct gossip_key **keys)
{
    *keys = g->kr.keys;
    return g->kr.n;
}

void gossip_stats(const struct gossip *g, struct gossip_stats *out)
{
    *out = g->st;
    out->members = g->n_mem;
    out->alive = g->n_state[GM_ALIVE];
    out->suspect = g->n_state[GM_SUSPECT];
    out->failed = g->n_state[GM_DEAD];
    out->left = g->n_state[GM_LEFT];
    out->health_score = g->awareness;
    out->incarnation = g->inc;
    out->event_ltime = g->ev_clock;
    out->query_ltime = g->q_clock;
    out->event_queue = g->n_coalesce;
    out->queued_broadcasts = g->q.count;
    out->encrypted = g->kr.n > 0;
}

/* ---- lifecycle --------------------------------------------------------------- */

void gossip_config_init(struct gossip_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    gossip_timing_default(&cfg->timing, GOSSIP_PROFILE_LAN);
    cfg->verify_incoming = true;
    cfg->verify_outgoing = true;
    cfg->coordinates = true;
}

static int check_config(const struct gossip_config *cfg, struct cn_err *err)
{
    size_t nl = cfg->name ? strlen(cfg->name) : 0;
    if (nl == 0 || nl > GOSSIP_NAME_MAX)
        return cn_err_set(err, CN_EINVAL, "node name must be 1 to %d bytes", GOSSIP_NAME_MAX);
    if ((cfg->addr.family != 4 && cfg->addr.family != 6) || cfg->addr.port == 0)
        return cn_err_set(err, CN_EINVAL, "advertise address and port are required");
    const struct gossip_timing *t = &cfg->timing;
    if (!t->probe_interval_ms || !t->probe_timeout_ms || !t->gossip_interval_ms ||
        !t->reap_interval_ms || !t->reconnect_interval_ms || t->retransmit_mult == 0)
        return cn_err_set(err, CN_EINVAL, "gossip timing values must be positive");
    if (t->udp_buffer_size < 512 || t->udp_buffer_size > GOSSIP_PACKET_MAX)
        return cn_err_set(err, CN_EINVAL, "udp_buffer_size must be 512 to %d", GOSSIP_PACKET_MAX);
    if (cfg->n_keys > GOSSIP_KEYS_MAX)
        return cn_err_set(err, CN_ETOOBIG, "at most %d gossip keys", GOSSIP_KEYS_MAX);
    for (size_t i = 0; i < cfg->n_keys; i++)
        if (!gk_valid_len(cfg->keys[i].len))
            return cn_err_set(err, CN_EINVAL, "key size must be 16, 24 or 32 bytes");
    return 0;
}

struct gossip *gossip_new(const struct gossip_config *cfg, uint64_t now_ms, struct cn_err *err)
{
    if (check_config(cfg, err)) return NULL;
    struct cn_buf tags;
    cn_buf_init(&tags, CN_BUF_UNLIMITED);
    if (gw_tags_encode(cfg->tags, cfg->n_tags, &tags, err)) {
        cn_buf_release(&tags);
        return NULL;
    }
    struct gossip *g = CN_NEW(struct gossip);
    g->t = cfg->timing;
    g->rng = cfg->rng;
    g->intern = cfg->intern;
    if (!g->intern) {
        g->intern = gossip_intern_new();
        g->own_intern = true;
    }
    bool vsn_set = false;
    for (int i = 0; i < 6; i++) vsn_set |= cfg->vsn[i] != 0;
    memcpy(g->vsn, vsn_set ? cfg->vsn : default_vsn, 6);
    g->now_ms = now_ms;
    g->now_us = now_ms * 1000;
    g->merge_budget = -1;
    cn_buf_init(&g->pkt, CN_BUF_UNLIMITED);
    cn_buf_init(&g->scratch, CN_BUF_UNLIMITED);
    cn_buf_init(&g->big, CN_BUF_UNLIMITED);
    cn_buf_init(&g->rx, CN_BUF_UNLIMITED);
    gq_init(&g->q);
    g_members_init(g);
    g_events_init(g);

    g->self = gnode_get(g->intern, cn_str_from(cfg->name), &cfg->addr, cn_buf_str(&tags), g->vsn);
    cn_buf_release(&tags);
    CN_ASSERT(g->self != NULL);
    g->inc = 1;
    g->self_i = g_insert(g, gnode_ref(g->self), g->inc, GM_ALIVE);

    for (size_t i = 0; i < cfg->n_keys; i++) CN_ASSERT(gk_install(&g->kr, &cfg->keys[i], err) == 0);
    g->verify_in = cfg->verify_incoming;
    g->verify_out = cfg->verify_outgoing;
    if (cfg->coordinates) {
        g->viv = CN_NEW(struct gviv);
        gviv_init(g->viv);
    }
    /* Random stagger so cores started together do not tick together. */
    g->next_probe_ms = now_ms + cn_rand_below(&g->rng, g->t.probe_interval_ms);
    g->next_gossip_ms = now_ms + cn_rand_below(&g->rng, g->t.gossip_interval_ms);
    g->next_pushpull_ms = g->t.push_pull_interval_ms
                              ? now_ms + cn_rand_below(&g->rng, g->t.push_pull_interval_ms)
                              : UINT64_MAX;
    g->next_reap_ms = now_ms + g->t.reap_interval_ms;
    g->next_reconnect_ms = now_ms + g->t.reconnect_interval_ms;
    g_bcast_self_alive(g);
    g_notify(g, GOSSIP_MEMBER_JOIN, g->self_i); /* Serf reports the local join too */
    return g;
}

static void out_release(struct gossip *g)
{
    struct gnode **held = g->out_held.p;
    for (size_t i = 0; i < g->out_held.n; i++) gnode_unref(g->intern, held[i]);
    g->out_held.n = 0;
    g->out_packets.n = g->out_streams.n = g->out_replies.n = 0;
    g->out_changes.n = g->out_events.n = g->out_joins.n = g->out_keyres.n = 0;
    g->out_leave_done = g->out_keyring_changed = false;
    arena_reset(g);
    /* A push-pull leaves a buffer the size of the whole state behind; at
     * 10,000 members that is megabytes per core. Give it back. */
    if (g->big.alloc > 8 * 1024) {
        cn_buf_release(&g->big);
        cn_buf_init(&g->big, CN_BUF_UNLIMITED);
    }
    if (g->rx.alloc > 8 * 1024) {
        cn_buf_release(&g->rx);
        cn_buf_init(&g->rx, CN_BUF_UNLIMITED);
    }
}

void gossip_free(struct gossip *g)
{
    if (!g) return;
    out_release(g);
    if (g->arena) cn_free(g->arena);
    struct gvec *vecs[] = {&g->out_packets, &g->out_streams, &g->out_replies, &g->out_changes,
                           &g->out_events, &g->out_joins, &g->out_keyres, &g->out_held};
    for (size_t i = 0; i < CN_ARRAY_SIZE(vecs); i++) cn_free(vecs[i]->p);
    g_probe_release(g);
    g_queries_release(g);
    g_events_release(g);
    gq_release(&g->q);
    g_members_release(g);
    gnode_unref(g->intern, g->self);
    if (g->viv) {
        gviv_release(g->viv);
        cn_free(g->viv);
    }
    gk_release(&g->kr);
    cn_buf_release(&g->pkt);
    cn_buf_release(&g->scratch);
    cn_buf_release(&g->big);
    cn_buf_release(&g->rx);
    if (g->own_intern) gossip_intern_free(g->intern);
    cn_free(g);
}

/* ---- incoming packets ----------------------------------------------------------- */

/* Plaintext is refused when we hold keys and verify incoming; sealed input
 * is refused when we have no keys. */
int g_open_input(struct gossip *g, uint8_t kind, const uint8_t *data, size_t len,
                 struct cn_str *msgs)
{
    if (len == 0) return CN_ECORRUPT;
    if (data[0] == G_HDR_PLAIN) {
        if (g->kr.n > 0 && g->verify_in) return CN_EPERM;
        *msgs = (struct cn_str){(const char *)data + 1, len - 1};
        return 0;
    }
    if (data[0] != G_HDR_AESGCM || g->kr.n == 0 || len < G_ENCRYPT_OVERHEAD + 1)
        return CN_ECORRUPT;
    cn_buf_reset(&g->rx);
    char *out;
    CN_ASSERT(cn_buf_reserve(&g->rx, len, &out) == 0);
    long n = gk_open(&g->kr, kind, data, len, (uint8_t *)out);
    if (n < 1 || (uint8_t)out[0] != G_HDR_PLAIN) return CN_ECORRUPT;
    g->rx.len = (size_t)n;
    *msgs = (struct cn_str){out + 1, (size_t)n - 1};
    return 0;
}

static void dispatch(struct gossip *g, const struct gossip_addr *from, uint8_t type,
                     struct cn_str body)
{
    switch (type) {
    case GMSG_PING: g_on_ping(g, from, body); break;
    case GMSG_IND_PING: g_on_ind_ping(g, from, body); break;
    case GMSG_ACK: g_on_ack(g, body); break;
    case GMSG_NACK: g_on_nack(g, body); break;
    case GMSG_SUSPECT:
    case GMSG_DEAD: {
        struct gmsg_accuse m;
        if (gr_accuse(body, &m)) {
            g->st.rejected_packets++;
        } else if (type == GMSG_SUSPECT) {
            g_suspect(g, m.inc, m.node, m.from);
        } else {
            g_dead(g, m.inc, m.node, m.from);
        }
        break;
    }
    case GMSG_ALIVE: {
        struct gmsg_alive m;
        if (gr_alive(body, &m))
            g->st.rejected_packets++;
        else
            g_alive(g, &m, false);
        break;
    }
    case GMSG_USER: g_on_user(g, body); break;
    case GMSG_LEAVE_INTENT: {
        struct gmsg_leave m;
        if (gr_leave(body, &m))
            g->st.rejected_packets++;
        else
            g_leave_intent(g, &m);
        break;
    }
    case GMSG_QUERY: g_on_query(g, body); break;
    case GMSG_QUERY_RESP: g_on_query_resp(g, body); break;
    default: break; /* unknown or stream-only: skip (later versions may add types) */
    }
}

static void on_packet(struct gossip *g, const struct gossip_event *ev)
{
    g->st.packets_received++;
    g->st.bytes_received += ev->packet.len;
    if (g->left) return;
    struct cn_str msgs;
    if (ev->packet.len > GOSSIP_PACKET_MAX ||
        g_open_input(g, 'U', ev->packet.data, ev->packet.len, &msgs)) {
        g->st.rejected_packets++;
        return;
    }
    struct cn_dec d;
    cn_dec_init(&d, msgs.p, msgs.len);
    uint8_t type;
    struct cn_str body;
    int rc;
    while ((rc = gw_next(&d, &type, &body)) == 1) dispatch(g, &ev->packet.from, type, body);
    if (rc < 0) g->st.rejected_packets++;
}

/* ---- commands ------------------------------------------------------------------- */

static int set_tags(struct gossip *g, const struct gossip_event *ev, struct cn_err *err)
{
    struct cn_buf tags;
    cn_buf_init(&tags, CN_BUF_UNLIMITED);
    int rc = gw_tags_encode(ev->tags.tags, ev->tags.n, &tags, err);
    if (rc == 0) {
        struct gnode *n = gnode_get(g->intern, gnode_name(g->self), &g->self->addr,
                                    cn_buf_str(&tags), g->vsn);
        CN_ASSERT(n != NULL);
        struct gmember *me = &g->mem[g->self_i];
        gnode_unref(g->intern, me->node);
        gnode_unref(g->intern, g->self);
        me->node = n;
        g->self = gnode_ref(n);
        g->inc++;
        me->inc = g->inc;
        g_bcast_self_alive(g);
        g_notify(g, GOSSIP_MEMBER_UPDATE, g->self_i);
    }
    cn_buf_release(&tags);
    return rc;
}

static void leave(struct gossip *g)
{
    if (g->leaving) return;
    g->leaving = true;
    /* memberlist Leave: a dead message about ourselves, from ourselves,
     * which everyone reads as "left". */
    g_dead(g, g->inc, gnode_name(g->self), gnode_name(g->self));
    if (gossip_num_alive(g) == 0) g->leave_bcast_done = true;
    g->leave_deadline_ms = g->now_ms + g->t.broadcast_timeout_ms;
}

static void leave_tick(struct gossip *g)
{
    if (!g->leaving || g->left) return;
    if (!g->leave_final_ms && (g->leave_bcast_done || g->now_ms >= g->leave_deadline_ms))
        g->leave_final_ms =
            g->now_ms + (gossip_num_alive(g) ? g->t.leave_propagate_delay_ms : 0);
    if (g->leave_final_ms && g->now_ms >= g->leave_final_ms) {
        g->left = true;
        g->out_leave_done = true;
    }
}

/* ---- timers ----------------------------------------------------------------------- */

static void gossip_tick(struct gossip *g)
{
    g->next_gossip_ms = g->now_ms + g->t.gossip_interval_ms;
    if (g->left || g->q.count == 0) return;
    uint32_t peers[16];
    uint32_t n = g_random_members(g, CN_MIN(g->t.gossip_nodes, 16u), 1, NULL, peers);
    size_t budget = plain_budget(g);
    for (uint32_t i = 0; i < n; i++) {
        cn_buf_reset(&g->pkt);
        cn_buf_putc(&g->pkt, G_HDR_PLAIN);
        if (gq_take(g, &g->pkt, budget - 1) == 0) break;
        emit_packet(g, &g->mem[peers[i]].node->addr, (uint8_t *)g->pkt.data, g->pkt.len);
    }
}

static void run_timers(struct gossip *g)
{
    if (g->left) return;
    g_probe_tick(g);
    g_susp_tick(g);
    if (g->now_ms >= g->next_gossip_ms) gossip_tick(g);
    if (g->now_ms >= g->next_pushpull_ms) g_pushpull_tick(g);
    if (g->now_ms >= g->next_reap_ms) {
        g->next_reap_ms = g->now_ms + g->t.reap_interval_ms;
        g_reap_tick(g);
    }
    if (g->now_ms >= g->next_reconnect_ms) g_reconnect_tick(g);
    g_coalesce_tick(g);
    g_query_tick(g);
    leave_tick(g);
}

static uint64_t next_wake(const struct gossip *g)
{
    if (g->left) return UINT64_MAX;
    uint64_t t = g_probe_next(g);
    t = CN_MIN(t, g_susp_next(g));
    /* The gossip tick only matters with something queued: an idle member
     * wakes once per probe, not five times (memberlist's ticker runs anyway). */
    if (g->q.count > 0) t = CN_MIN(t, g->next_gossip_ms);
    t = CN_MIN(t, g->next_pushpull_ms);
    t = CN_MIN(t, g->next_reap_ms);
    t = CN_MIN(t, g->next_reconnect_ms);
    t = CN_MIN(t, g_coalesce_next(g));
    t = CN_MIN(t, g_query_next(g));
    if (g->leaving) {
        t = CN_MIN(t, g->leave_final_ms ? g->leave_final_ms : g->leave_deadline_ms);
        if (g->leave_bcast_done && !g->leave_final_ms) t = g->now_ms;
    }
    return t;
}

/* ---- step ---------------------------------------------------------------------------- */

static int handle(struct gossip *g, const struct gossip_event *ev, struct gossip_update *u)
{
    switch (ev->type) {
    case GOSSIP_EV_TICK: return 0;
    case GOSSIP_EV_PACKET: on_packet(g, ev); return 0;
    case GOSSIP_EV_STREAM_IN:
        g_stream_in(g, ev->stream_in.conn, &ev->stream_in.from, ev->stream_in.data,
                    ev->stream_in.len);
        return 0;
    case GOSSIP_EV_STREAM_RESULT:
        g_stream_result(g, ev->stream_result.id, ev->stream_result.rc, ev->stream_result.data,
                        ev->stream_result.len);
        return 0;
    case GOSSIP_EV_JOIN: return g_join(g, ev, &u->err);
    case GOSSIP_EV_LEAVE: leave(g); return 0;
    case GOSSIP_EV_SET_TAGS:
        if (g->leaving) return cn_err_set(&u->err, CN_ESHUTDOWN, "leaving the cluster");
        return set_tags(g, ev, &u->err);
    case GOSSIP_EV_USER_EVENT:
        if (g->left) return cn_err_set(&u->err, CN_ESHUTDOWN, "left the cluster");
        return g_user_fire(g, ev, &u->err);
    case GOSSIP_EV_FORCE_LEAVE:
        return g_force_leave(g, ev->force_leave.name, ev->force_leave.prune, &u->err);
    case GOSSIP_EV_KEY_OP: return g_key_op(g, ev, &u->err);
    }
    return cn_err_set(&u->err, CN_EINVAL, "unknown gossip event %d", (int)ev->type);
}

int gossip_step(struct gossip *g, uint64_t now_ms, const struct gossip_event *ev,
                struct gossip_update *u)
{
    CN_ASSERT(!g->in_step);
    g->in_step = true;
    memset(u, 0, sizeof *u);
    if (now_ms > g->now_ms) g->now_ms = now_ms;
    uint64_t us = ev->now_us ? ev->now_us : now_ms * 1000;
    if (us > g->now_us) g->now_us = us;
    int rc = handle(g, ev, u);
    run_timers(g);
    u->packets = g->out_packets.p;
    u->n_packets = g->out_packets.n;
    u->streams = g->out_streams.p;
    u->n_streams = g->out_streams.n;
    u->replies = g->out_replies.p;
    u->n_replies = g->out_replies.n;
    u->changes = g->out_changes.p;
    u->n_changes = g->out_changes.n;
    u->events = g->out_events.p;
    u->n_events = g->out_events.n;
    u->joins = g->out_joins.p;
    u->n_joins = g->out_joins.n;
    u->key_results = g->out_keyres.p;
    u->n_key_results = g->out_keyres.n;
    u->leave_done = g->out_leave_done;
    u->keyring_changed = g->out_keyring_changed;
    u->next_wake_ms = next_wake(g);
    return rc;
}

void gossip_done(struct gossip *g, struct gossip_update *u)
{
    CN_ASSERT(g->in_step);
    out_release(g);
    memset(u, 0, sizeof *u);
    g->in_step = false;
}

/* ---- invariants -------------------------------------------------------------------- */

void gossip_check_invariants(const struct gossip *g)
{
    uint32_t count[4] = {0};
    for (uint32_t i = 0; i < g->n_mem; i++) {
        const struct gmember *m = &g->mem[i];
        if (m->state > GM_LEFT) CN_BUG("member %u has state %u", i, m->state);
        count[m->state]++;
        if (g_find(g, gnode_name(m->node)) != (int)i)
            CN_BUG("index does not find member '%s'", m->node->name);
        if (m->node->refs == 0) CN_BUG("member '%s' has a dead record", m->node->name);
    }
    for (int s = 0; s < 4; s++)
        if (count[s] != g->n_state[s]) CN_BUG("state %d count %u != %u", s, count[s], g->n_state[s]);
    if (g->mem[g->self_i].node != g->self) CN_BUG("self index is stale");
    if (g->mem[g->self_i].inc != g->inc) CN_BUG("self incarnation out of sync");
    if (!g->leaving && g->mem[g->self_i].state != GM_ALIVE)
        CN_BUG("self is not alive without leaving");
    if (g->awareness >= CN_MAX(g->t.awareness_max_multiplier, 1u))
        CN_BUG("awareness %u beyond its maximum", g->awareness);
    if (cn_map_count(&g->susp) > g->n_mem) CN_BUG("more suspicions than members");
    if (g->q.count != 0 && g->q.count > CN_MAX(g->t.queue_depth_min, 2 * g->n_mem))
        CN_BUG("broadcast queue over its bound");
}
