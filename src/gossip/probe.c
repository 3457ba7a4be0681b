/*
 * probe.c - SWIM failure detection with Lifeguard (memberlist probeNode).
 *
 * Once per probe interval (stretched by the awareness score) ping the next
 * member of the shuffled list. No ack within the probe timeout (stretched
 * too, as Lifeguard's LHA-Probe does; memberlist stretches only the
 * interval): ask indirect_checks members to ping it for us and send nacks if
 * they can't, and try a TCP ping. No ack of any kind by the end of the
 * interval: suspect it, and count the missing nacks against our own health
 * (if peers could not even nack, the problem is likely ours).
 *
 * A suspected member is pinged with the suspicion attached (Lifeguard's
 * buddy system), so it learns it must refute from the first prober.
 */
#include <string.h>

#include "gossip/gossip_int.h"
#include "lib/cn_err.h"

static void probe_end(struct gossip *g)
{
    struct gprobe *p = &g->probe;
    if (p->target) gnode_unref(g->intern, p->target);
    memset(p, 0, sizeof *p);
}

void g_probe_release(struct gossip *g)
{
    probe_end(g);
}

static const struct gmember *next_target(struct gossip *g)
{
    for (uint32_t checks = 0; checks <= g->n_mem;) {
        if (g->probe_i >= g->n_mem) {
            g_shuffle(g); /* memberlist resetNodes: a new random order each round */
            g->probe_i = 0;
            checks++;
            continue;
        }
        const struct gmember *m = &g->mem[g->probe_i++];
        checks++;
        if (m->node == g->self || m->state == GM_DEAD || m->state == GM_LEFT) continue;
        return m;
    }
    return NULL;
}

static void self_addr_fields(struct gossip *g, struct gmsg_ping *ping)
{
    ping->src_name = gnode_name(g->self);
    ping->src = g->self->addr;
}

static void start_probe(struct gossip *g)
{
    uint64_t interval = g_scale(g, g->t.probe_interval_ms);
    g->next_probe_ms = g->now_ms + interval;
    const struct gmember *m = next_target(g);
    if (!m) return;
    struct gprobe *p = &g->probe;
    p->active = true;
    p->target = gnode_ref(m->node);
    p->inc = m->inc;
    p->seq = ++g->seq;
    p->sent_us = g->now_us;
    p->ack_deadline_ms = g->now_ms + g_scale(g, g->t.probe_timeout_ms);
    p->deadline_ms = g->now_ms + interval;
    g->st.probes++;

    struct gmsg_ping ping = {.seq = p->seq, .target = gnode_name(m->node)};
    self_addr_fields(g, &ping);
    cn_buf_reset(&g->scratch);
    gw_ping(&g->scratch, &ping);
    if (m->state == GM_SUSPECT && !g->t.disable_buddy) {
        struct gmsg_accuse s = {m->inc, gnode_name(m->node), gnode_name(g->self)};
        gw_accuse(&g->scratch, GMSG_SUSPECT, &s);
    }
    g_send(g, &m->node->addr, (uint8_t *)g->scratch.data, g->scratch.len);
}

static void start_indirect(struct gossip *g)
{
    struct gprobe *p = &g->probe;
    p->indirect = true;
    uint32_t peers[16];
    uint32_t k = CN_MIN(g->t.indirect_checks, 16u);
    uint32_t n = g_random_members(g, k, 0, p->target, peers);
    struct gmsg_ind_ping ind = {.seq = p->seq, .target = gnode_name(p->target),
                                .target_addr = p->target->addr, .nack = true,
                                .src_name = gnode_name(g->self), .src = g->self->addr};
    for (uint32_t i = 0; i < n; i++) {
        cn_buf_reset(&g->scratch);
        gw_ind_ping(&g->scratch, &ind);
        g_send(g, &g->mem[peers[i]].node->addr, (uint8_t *)g->scratch.data, g->scratch.len);
    }
    p->expected_nacks = n;
    /* Also a TCP ping, for members whose UDP is blocked but who are fine:
     * they would otherwise flap (memberlist's fallback). */
    if (!g->t.disable_tcp_pings && p->deadline_ms > g->now_ms) {
        struct gmsg_ping ping = {.seq = p->seq, .target = gnode_name(p->target)};
        self_addr_fields(g, &ping);
        cn_buf_reset(&g->scratch);
        gw_ping(&g->scratch, &ping);
        p->tcp_id = g_stream_start(g, &p->target->addr, (uint8_t *)g->scratch.data,
                                   g->scratch.len, (uint32_t)(p->deadline_ms - g->now_ms),
                                   GS_TCP_PING);
        if (p->tcp_id) {
            for (uint32_t i = 0; i < g->n_streams; i++)
                if (g->streams[i].id == p->tcp_id) g->streams[i].seq = p->seq;
        }
    }
}

static void probe_failed(struct gossip *g)
{
    struct gprobe *p = &g->probe;
    if (p->tcp_ok) { /* reachable over TCP only: a network problem, not a death */
        g_awareness(g, -1);
        probe_end(g);
        return;
    }
    int delta = 1;
    if (p->expected_nacks > 0)
        delta = p->nacks < p->expected_nacks ? (int)(p->expected_nacks - p->nacks) : 0;
    g_awareness(g, delta);
    g->st.probe_failures++;
    struct gnode *t = gnode_ref(p->target);
    uint32_t inc = p->inc;
    probe_end(g);
    g_suspect(g, inc, gnode_name(t), gnode_name(g->self));
    gnode_unref(g->intern, t);
}

static void relay_tick(struct gossip *g)
{
    for (uint32_t i = 0; i < g->n_relays;) {
        struct grelay *r = &g->relays[i];
        if (r->deadline_ms > g->now_ms) {
            i++;
            continue;
        }
        if (r->nack) {
            cn_buf_reset(&g->scratch);
            gw_nack(&g->scratch, r->orig_seq);
            g_send(g, &r->requester, (uint8_t *)g->scratch.data, g->scratch.len);
        }
        g->relays[i] = g->relays[--g->n_relays];
    }
}

void g_probe_tick(struct gossip *g)
{
    struct gprobe *p = &g->probe;
    relay_tick(g);
    if (p->active && !p->indirect && g->now_ms >= p->ack_deadline_ms) start_indirect(g);
    if (p->active && g->now_ms >= p->deadline_ms) probe_failed(g);
    if (!p->active && !g->leaving && g->now_ms >= g->next_probe_ms) start_probe(g);
}

uint64_t g_probe_next(const struct gossip *g)
{
    const struct gprobe *p = &g->probe;
    uint64_t next = UINT64_MAX;
    if (p->active) {
        next = p->deadline_ms;
        if (!p->indirect) next = CN_MIN(next, p->ack_deadline_ms);
    } else if (!g->leaving) {
        next = g->next_probe_ms;
    }
    for (uint32_t i = 0; i < g->n_relays; i++) next = CN_MIN(next, g->relays[i].deadline_ms);
    return next;
}

/* ---- incoming --------------------------------------------------------------- */

static void send_ack(struct gossip *g, const struct gossip_addr *to, uint32_t seq)
{
    struct gmsg_ack ack = {.seq = seq};
    if (g->viv) {
        ack.has_coord = true;
        ack.coord = g->viv->coord;
    }
    cn_buf_reset(&g->scratch);
    gw_ack(&g->scratch, &ack);
    g_send(g, to, (uint8_t *)g->scratch.data, g->scratch.len);
}

void g_on_ping(struct gossip *g, const struct gossip_addr *from, struct cn_str body)
{
    struct gmsg_ping m;
    if (gr_ping(body, &m)) {
        g->st.rejected_packets++;
        return;
    }
    /* A ping for another name reached us (a restart under a new name): stay silent. */
    if (m.target.len && !cn_str_eq(m.target, gnode_name(g->self))) return;
    send_ack(g, m.src.family ? &m.src : from, m.seq);
}

void g_on_ind_ping(struct gossip *g, const struct gossip_addr *from, struct cn_str body)
{
    struct gmsg_ind_ping m;
    if (gr_ind_ping(body, &m)) {
        g->st.rejected_packets++;
        return;
    }
    if (g->n_relays >= G_RELAYS_MAX) return; /* bounded; the requester copes */
    struct grelay *r = &g->relays[g->n_relays++];
    r->local_seq = ++g->seq;
    r->orig_seq = m.seq;
    r->requester = m.src.family ? m.src : *from;
    r->nack = m.nack;
    r->deadline_ms = g->now_ms + g->t.probe_timeout_ms;
    struct gmsg_ping ping = {.seq = r->local_seq, .target = m.target};
    self_addr_fields(g, &ping);
    cn_buf_reset(&g->scratch);
    gw_ping(&g->scratch, &ping);
    g_send(g, &m.target_addr, (uint8_t *)g->scratch.data, g->scratch.len);
}

static void probe_acked(struct gossip *g, const struct gmsg_ack *ack)
{
    struct gprobe *p = &g->probe;
    if (!p->indirect && ack->has_coord && g->viv && g->now_us > p->sent_us) {
        double rtt = (double)(g->now_us - p->sent_us) / 1e6;
        gviv_update(g->viv, &g->rng, gnode_name(p->target), &ack->coord, rtt);
    }
    g_awareness(g, -1);
    probe_end(g);
}

void g_on_ack(struct gossip *g, struct cn_str body)
{
    struct gmsg_ack m;
    if (gr_ack(body, &m)) {
        g->st.rejected_packets++;
        return;
    }
    if (g->probe.active && m.seq == g->probe.seq) {
        probe_acked(g, &m);
        return;
    }
    for (uint32_t i = 0; i < g->n_relays; i++) {
        struct grelay *r = &g->relays[i];
        if (r->local_seq != m.seq) continue;
        struct gossip_addr to = r->requester;
        uint32_t orig = r->orig_seq;
        g->relays[i] = g->relays[--g->n_relays];
        struct gmsg_ack fwd = {.seq = orig};
        cn_buf_reset(&g->scratch);
        gw_ack(&g->scratch, &fwd);
        g_send(g, &to, (uint8_t *)g->scratch.data, g->scratch.len);
        return;
    }
}

void g_on_nack(struct gossip *g, struct cn_str body)
{
    uint32_t seq;
    if (gr_nack(body, &seq)) {
        g->st.rejected_packets++;
        return;
    }
    if (g->probe.active && g->probe.indirect && seq == g->probe.seq) g->probe.nacks++;
}

/* ---- TCP pings ------------------------------------------------------------------ */

void g_tcp_ping_result(struct gossip *g, const struct gstream *s, int rc, const uint8_t *data,
                       size_t len)
{
    struct gprobe *p = &g->probe;
    if (rc || !p->active || p->tcp_id != s->id) return;
    struct cn_dec d;
    cn_dec_init(&d, data, len);
    uint8_t type;
    struct cn_str body;
    while (gw_next(&d, &type, &body) == 1) {
        struct gmsg_ack ack;
        if (type == GMSG_ACK && gr_ack(body, &ack) == 0 && ack.seq == s->seq) p->tcp_ok = true;
    }
}

bool g_tcp_ping_answer(struct gossip *g, struct cn_str body, struct cn_buf *out)
{
    struct gmsg_ping m;
    if (gr_ping(body, &m)) return false;
    if (m.target.len && !cn_str_eq(m.target, gnode_name(g->self))) {
        gw_error(out, "ping for another node");
        return true;
    }
    struct gmsg_ack ack = {.seq = m.seq};
    gw_ack(out, &ack);
    return true;
}
