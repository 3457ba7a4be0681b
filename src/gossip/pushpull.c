/*
 * pushpull.c - full state exchange over a stream: join, periodic
 * anti-entropy (memberlist pushPull), Serf's reconnect to failed members,
 * and the stream requests we answer (push-pull and TCP ping).
 *
 * A push-pull carries every member we know (dead ones only while
 * gossip-to-the-dead time lasts), then the user-event clock and recent
 * events. Merging treats a remote "dead" as "suspect" (memberlist: let the
 * node refute before we believe it) and a remote "left" as left.
 */
#include <stdio.h>
#include <string.h>

#include "gossip/gossip_int.h"
#include "lib/cn_err.h"

/* Dead members only while gossip-to-the-dead lasts (memberlist forgets them
 * then); left ones until reaped, so late joiners and members that missed the
 * leave still learn it. */
static bool pp_include(const struct gossip *g, const struct gmember *m)
{
    if (m->state != GM_DEAD) return true;
    return g->now_ms - m->state_change_ms <= g->t.gossip_to_the_dead_ms;
}

void g_encode_state(struct gossip *g, struct cn_buf *b, bool join)
{
    size_t at = gw_open(b, GMSG_PUSHPULL);
    cn_enc_bool(b, join);
    uint32_t n = 0;
    for (uint32_t i = 0; i < g->n_mem; i++) n += pp_include(g, &g->mem[i]);
    cn_enc_uvar(b, n);
    struct gw_pairs pairs;
    gw_pairs_init(&pairs);
    for (uint32_t i = 0; i < g->n_mem; i++) {
        const struct gmember *m = &g->mem[i];
        if (!pp_include(g, m)) continue;
        struct gmsg_pp_node pn = {.name = gnode_name(m->node), .addr = m->node->addr,
                                  .tags = gnode_tags(m->node), .inc = m->inc,
                                  .state = m->state};
        memcpy(pn.vsn, m->node->vsn, 6);
        gw_pp_node(b, &pn, &pairs);
    }
    gw_pairs_release(&pairs);
    g_encode_events(g, b);
    gw_close(b, at);
}

void gossip__encode_members(struct cn_buf *b, const struct gossip_member *m, size_t n)
{
    size_t at = gw_open(b, GMSG_PUSHPULL);
    cn_enc_bool(b, false);
    cn_enc_uvar(b, n);
    struct cn_buf tags;
    cn_buf_init(&tags, CN_BUF_UNLIMITED);
    struct gw_pairs pairs;
    gw_pairs_init(&pairs);
    for (size_t i = 0; i < n; i++) {
        struct cn_err err;
        CN_ASSERT(gw_tags_encode(m[i].tags, m[i].n_tags, &tags, &err) == 0);
        struct gmsg_pp_node pn = {.name = cn_str_from(m[i].name), .addr = m[i].addr,
                                  .tags = cn_buf_str(&tags), .inc = 1, .state = GM_ALIVE};
        memcpy(pn.vsn, m[i].vsn, 6);
        gw_pp_node(b, &pn, &pairs);
    }
    gw_pairs_release(&pairs);
    cn_buf_release(&tags);
    cn_enc_uvar(b, 1); /* event clock */
    cn_enc_uvar(b, 0); /* no events */
    gw_close(b, at);
}

/* Validate the whole body before applying any of it. */
static int pp_validate(struct cn_str body, uint64_t *count)
{
    struct cn_dec d;
    cn_dec_init(&d, body.p, body.len);
    (void)cn_dec_bool(&d);
    uint64_t n = cn_dec_uvar(&d);
    if (d.err || n > G_MEMBERS_MAX || n > cn_dec_left(&d) / 8) return CN_ECORRUPT;
    struct gr_pairs pairs;
    gr_pairs_init(&pairs);
    for (uint64_t i = 0; i < n && !d.err; i++) {
        struct gmsg_pp_node pn;
        gr_pp_node(&d, &pn, &pairs);
    }
    gr_pairs_release(&pairs);
    *count = n;
    return cn_dec_status(&d);
}

int g_merge_state(struct gossip *g, struct cn_str body, bool join_ignore_old, int32_t budget,
                  bool quiet)
{
    uint64_t n;
    if (pp_validate(body, &n)) return CN_ECORRUPT;
    struct cn_dec d;
    cn_dec_init(&d, body.p, body.len);
    (void)cn_dec_bool(&d);
    (void)cn_dec_uvar(&d);
    struct cn_str self_name = gnode_name(g->self);
    g->merge_budget = budget;
    struct gr_pairs pairs;
    gr_pairs_init(&pairs);
    for (uint64_t i = 0; i < n; i++) {
        struct gmsg_pp_node pn;
        gr_pp_node(&d, &pn, &pairs);
        if (quiet && pn.state != GM_ALIVE) continue;
        switch (pn.state) {
        case GM_ALIVE: {
            struct gmsg_alive a = {.inc = pn.inc, .node = pn.name, .addr = pn.addr,
                                   .tags = pn.tags};
            memcpy(a.vsn, pn.vsn, 6);
            g_alive(g, &a, quiet);
            break;
        }
        case GM_LEFT: g_dead(g, pn.inc, pn.name, pn.name); break;
        default: g_suspect(g, pn.inc, pn.name, self_name); break;
        }
    }
    gr_pairs_release(&pairs);
    g->merge_budget = -1;
    if (cn_dec_left(&d) > 0) g_merge_events(g, &d, join_ignore_old);
    return 0;
}

int gossip__bootstrap(struct gossip *g, uint64_t now_ms, const uint8_t *body, size_t len)
{
    if (now_ms > g->now_ms) g->now_ms = now_ms;
    struct cn_dec d;
    cn_dec_init(&d, body, len);
    uint8_t type;
    struct cn_str msg;
    if (gw_next(&d, &type, &msg) != 1 || type != GMSG_PUSHPULL) return CN_ECORRUPT;
    int rc = g_merge_state(g, msg, false, 0, true);
    g_members_compact(g);
    return rc;
}

/* ---- streams we start ------------------------------------------------------------ */

static struct gstream *stream_by_id(struct gossip *g, uint64_t id, struct gstream *copy)
{
    for (uint32_t i = 0; i < g->n_streams; i++) {
        if (g->streams[i].id != id) continue;
        *copy = g->streams[i];
        g->streams[i] = g->streams[--g->n_streams];
        return copy;
    }
    return NULL;
}

static uint64_t pushpull_to(struct gossip *g, const struct gossip_addr *to, bool join, uint8_t kind)
{
    cn_buf_reset(&g->big);
    g_encode_state(g, &g->big, join);
    return g_stream_start(g, to, (uint8_t *)g->big.data, g->big.len, g->t.tcp_timeout_ms, kind);
}

void g_pushpull_tick(struct gossip *g)
{
    g->next_pushpull_ms = g->now_ms + gossip_push_pull_scale_ms(g->t.push_pull_interval_ms,
                                                                g_est_nodes(g));
    if (g->leaving) return;
    uint32_t peer;
    if (g_random_members(g, 1, 0, NULL, &peer) == 1)
        pushpull_to(g, &g->mem[peer].node->addr, false, GS_PUSHPULL);
}

/* Serf reconnect: with probability failed / alive, push-pull with a random
 * failed member, so that partitions heal once the network does. */
void g_reconnect_tick(struct gossip *g)
{
    g->next_reconnect_ms = g->now_ms + g->t.reconnect_interval_ms;
    uint32_t failed = g->n_state[GM_DEAD];
    if (failed == 0 || g->leaving) return;
    uint32_t alive = g->n_state[GM_ALIVE] + g->n_state[GM_SUSPECT];
    double prob = (double)failed / (double)(alive ? alive : 1);
    if (cn_rand_double(&g->rng) > prob) return;
    uint32_t pick = (uint32_t)cn_rand_below(&g->rng, failed);
    for (uint32_t i = 0; i < g->n_mem; i++) {
        if (g->mem[i].state != GM_DEAD) continue;
        if (pick-- == 0) {
            pushpull_to(g, &g->mem[i].node->addr, false, GS_RECONNECT);
            return;
        }
    }
}

static void join_report(struct gossip *g, struct gjoin *j)
{
    struct gossip_join_result *r = G_VEC_PUSH(g, &g->out_joins, struct gossip_join_result);
    r->token = j->token;
    r->contacted = j->ok;
    r->failed = j->failed;
    r->rc = j->ok ? 0 : CN_EIO;
    r->error = g_strdup(g, cn_str_from(j->error));
    *j = g->joins[--g->n_joins];
}

int g_join(struct gossip *g, const struct gossip_event *ev, struct cn_err *err)
{
    size_t n = ev->join.n;
    if (n == 0 || n > GOSSIP_JOIN_ADDRS_MAX)
        return cn_err_set(err, CN_EINVAL, "join needs 1 to %d addresses", GOSSIP_JOIN_ADDRS_MAX);
    if (g->leaving) return cn_err_set(err, CN_ESHUTDOWN, "cannot join while leaving");
    if (g->n_joins >= G_JOINS_MAX) return cn_err_set(err, CN_EAGAIN, "too many joins in progress");
    struct gjoin *j = &g->joins[g->n_joins++];
    memset(j, 0, sizeof *j);
    j->token = ev->join.token;
    cn_buf_reset(&g->big);
    g_encode_state(g, &g->big, true);
    for (size_t i = 0; i < n; i++) {
        uint64_t id = g_stream_start(g, &ev->join.addrs[i], (uint8_t *)g->big.data, g->big.len,
                                     g->t.tcp_timeout_ms, GS_JOIN);
        if (!id) {
            j->failed++;
            if (!j->error[0]) snprintf(j->error, sizeof j->error, "too many streams in flight");
            continue;
        }
        struct gstream *s = &g->streams[g->n_streams - 1];
        s->token = j->token;
        s->ignore_old = ev->join.ignore_old;
        j->pending++;
    }
    if (j->pending == 0) join_report(g, j);
    return 0;
}

/* memberlist leaves a joiner's arrival to gossip alone, and makes up for
 * misses by having the joiner re-broadcast everything it learnt (thousands of
 * messages nobody needs). An epidemic with retransmit limit L misses a given
 * member with probability about e^-L, and L is 4 below 10 members and 8
 * below 100: in a pool of a hundred some pair is missed in most joins and
 * waits for a push-pull (90 s at 128 members). So a joiner tells every member
 * it found directly, once, up to 512 of them (beyond that L >= 16 makes
 * misses negligible): one datagram each, carrying whatever else is queued.
 * Every pair is then covered: a member that joined before us learns of us
 * from us; one that joins after learns of us from its join's push-pull. */
#define G_ANNOUNCE_MAX 512

static void announce(struct gossip *g)
{
    if (g->n_mem > G_ANNOUNCE_MAX) return;
    struct gmsg_alive a = {.inc = g->inc, .node = gnode_name(g->self), .addr = g->self->addr,
                           .tags = gnode_tags(g->self)};
    memcpy(a.vsn, g->self->vsn, 6);
    for (uint32_t i = 0; i < g->n_mem; i++) {
        const struct gmember *m = &g->mem[i];
        if (i == g->self_i || (m->state != GM_ALIVE && m->state != GM_SUSPECT)) continue;
        cn_buf_reset(&g->scratch);
        gw_alive(&g->scratch, &a);
        g_send(g, &m->node->addr, (uint8_t *)g->scratch.data, g->scratch.len);
    }
}

static struct gjoin *join_by_token(struct gossip *g, uint64_t token)
{
    for (uint32_t i = 0; i < g->n_joins; i++)
        if (g->joins[i].token == token) return &g->joins[i];
    return NULL;
}

/* The first push-pull (or error) in a stream frame's messages. */
static int pp_body(struct cn_str msgs, struct cn_str *body, char *error, size_t error_len)
{
    struct cn_dec d;
    cn_dec_init(&d, msgs.p, msgs.len);
    uint8_t type;
    struct cn_str b;
    while (gw_next(&d, &type, &b) == 1) {
        if (type == GMSG_PUSHPULL) {
            *body = b;
            return 0;
        }
        if (type == GMSG_ERROR) {
            struct cn_dec e;
            cn_dec_init(&e, b.p, b.len);
            struct cn_str text = cn_dec_bytes(&e, 200);
            snprintf(error, error_len, "remote error: %.*s", (int)text.len, text.p ? text.p : "");
            return CN_EPROTO;
        }
    }
    snprintf(error, error_len, "no state in the answer");
    return CN_EPROTO;
}

void g_stream_result(struct gossip *g, uint64_t id, int rc, const uint8_t *data, size_t len)
{
    struct gstream s;
    if (!stream_by_id(g, id, &s)) return; /* late or unknown: ignore */
    char error[160] = "";
    struct cn_str msgs = CN_STR_NULL;
    if (rc == 0) {
        g->st.stream_bytes_received += len;
        int orc = g_open_input(g, 'S', data, len, &msgs);
        if (orc) {
            rc = orc == CN_EPERM ? CN_EPERM : CN_EPROTO;
            snprintf(error, sizeof error, "%s",
                     orc == CN_EPERM ? "remote answered without encryption"
                                     : "could not authenticate the answer (wrong key?)");
            g->st.rejected_packets++;
        }
    } else {
        snprintf(error, sizeof error, "%s", cn_strerror(rc));
    }
    if (s.kind == GS_TCP_PING) {
        g_tcp_ping_result(g, &s, rc, (const uint8_t *)msgs.p, msgs.len);
        return;
    }
    if (rc == 0) {
        struct cn_str body;
        rc = pp_body(msgs, &body, error, sizeof error);
        /* A lone joiner need not repeat what it learnt (announce() covers
         * it), but one already in a pool must: its pool-mates learn the
         * other side from it, or two pools that merge (a datacenter joining
         * the WAN) stay half-split until a push-pull, a minute on the WAN. */
        bool alone = gossip_num_alive(g) <= 1;
        int32_t budget = s.kind == GS_JOIN && alone ? 0 : G_MERGE_BCAST_MAX;
        if (rc == 0 && g_merge_state(g, body, s.kind == GS_JOIN && s.ignore_old, budget, false)) {
            rc = CN_EPROTO;
            snprintf(error, sizeof error, "malformed state");
        }
    }
    if (s.kind != GS_JOIN) return;
    struct gjoin *j = join_by_token(g, s.token);
    if (!j) return;
    if (rc == 0) {
        if (j->ok++ == 0) announce(g);
    } else {
        j->failed++;
        if (!j->error[0]) snprintf(j->error, sizeof j->error, "%s", error);
    }
    if (--j->pending == 0) join_report(g, j);
}

/* ---- streams others start -------------------------------------------------------- */

void g_stream_in(struct gossip *g, uint64_t conn, const struct gossip_addr *from,
                 const uint8_t *data, size_t len)
{
    (void)from;
    g->st.streams_received++;
    g->st.stream_bytes_received += len;
    struct cn_str msgs;
    if (g->left || len > GOSSIP_STREAM_MAX || g_open_input(g, 'S', data, len, &msgs)) {
        if (!g->left) g->st.rejected_packets++;
        g_reply(g, conn, NULL, 0);
        return;
    }
    struct cn_dec d;
    cn_dec_init(&d, msgs.p, msgs.len);
    uint8_t type;
    struct cn_str body;
    if (gw_next(&d, &type, &body) != 1) {
        g->st.rejected_packets++;
        g_reply(g, conn, NULL, 0);
        return;
    }
    cn_buf_reset(&g->big);
    if (type == GMSG_PUSHPULL) {
        /* Answer with what we knew before their state, as memberlist does. */
        g_encode_state(g, &g->big, false);
        g_reply(g, conn, (uint8_t *)g->big.data, g->big.len);
        if (g_merge_state(g, body, false, G_MERGE_BCAST_MAX, false)) g->st.rejected_packets++;
        return;
    }
    if (type == GMSG_PING && g_tcp_ping_answer(g, body, &g->big)) {
        g_reply(g, conn, (uint8_t *)g->big.data, g->big.len);
        return;
    }
    gw_error(&g->big, "unexpected message");
    g_reply(g, conn, (uint8_t *)g->big.data, g->big.len);
}
