/*
 * event.c - user events (Serf's): a Lamport clock, de-duplication by
 * (ltime, name, payload) over a buffer of recent Lamport times, an optional
 * coalescing window, and the recent events a push-pull carries.
 *
 * Delivery is best effort and at most once per core: an event is handed to
 * the agent the first time this core sees it, then re-broadcast (piggybacked
 * like membership news) so every member sees it.
 */
#include <string.h>

#include "gossip/gossip_int.h"
#include "lib/cn_err.h"

void g_events_init(struct gossip *g)
{
    g->ev_clock = 1; /* Serf starts its clocks at 1 so that 0 means "none" */
    g->q_clock = 1;
}

static void slot_clear(struct gev_slot *s)
{
    for (uint32_t i = 0; i < s->n; i++) cn_free(s->recs[i]);
    s->n = 0;
}

void g_events_release(struct gossip *g)
{
    if (g->ev_buf) {
        for (uint32_t i = 0; i < G_EVENT_BUFFER; i++) {
            slot_clear(&g->ev_buf[i]);
            cn_free(g->ev_buf[i].recs);
        }
        cn_free(g->ev_buf);
        g->ev_buf = NULL;
    }
    for (uint32_t i = 0; i < g->n_coalesce; i++) cn_free(g->coalesce[i]);
    g->n_coalesce = 0;
}

static struct gev_rec *rec_new(const struct gmsg_user *m)
{
    struct gev_rec *r = cn_malloc(sizeof *r + m->name.len + m->payload.len);
    r->ltime = m->ltime;
    r->cc = m->cc;
    r->name_len = (uint32_t)m->name.len;
    r->payload_len = (uint32_t)m->payload.len;
    memcpy(r->data, m->name.p, m->name.len);
    if (m->payload.len) memcpy(r->data + m->name.len, m->payload.p, m->payload.len);
    return r;
}

static struct cn_str rec_name(const struct gev_rec *r)
{
    return (struct cn_str){r->data, r->name_len};
}

static struct cn_str rec_payload(const struct gev_rec *r)
{
    return (struct cn_str){r->data + r->name_len, r->payload_len};
}

static void deliver(struct gossip *g, const struct gev_rec *r)
{
    struct gossip_user_event *e = G_VEC_PUSH(g, &g->out_events, struct gossip_user_event);
    e->ltime = r->ltime;
    e->coalesce = r->cc;
    e->name = (struct cn_str){g_strdup(g, rec_name(r)), r->name_len};
    e->payload = (struct cn_str){g_strdup(g, rec_payload(r)), r->payload_len};
}

/* Serf's user-event coalescer: within a window keep only the latest event
 * of each name; flush when the window ends or after a quiet spell. */
static void coalesce_add(struct gossip *g, const struct gmsg_user *m)
{
    for (uint32_t i = 0; i < g->n_coalesce; i++) {
        struct gev_rec *r = g->coalesce[i];
        if (!cn_str_eq(rec_name(r), m->name)) continue;
        if (r->ltime < m->ltime) {
            cn_free(r);
            g->coalesce[i] = rec_new(m);
        }
        g->coalesce_last_ms = g->now_ms;
        return;
    }
    if (g->n_coalesce >= G_COALESCE_MAX) { /* full: deliver directly rather than drop */
        struct gev_rec *r = rec_new(m);
        deliver(g, r);
        cn_free(r);
        return;
    }
    if (g->n_coalesce == 0) g->coalesce_first_ms = g->now_ms;
    g->coalesce_last_ms = g->now_ms;
    g->coalesce[g->n_coalesce++] = rec_new(m);
}

uint64_t g_coalesce_next(const struct gossip *g)
{
    if (g->n_coalesce == 0) return UINT64_MAX;
    uint64_t t = g->coalesce_first_ms + g->t.user_coalesce_ms;
    if (g->t.user_quiescent_ms) t = CN_MIN(t, g->coalesce_last_ms + g->t.user_quiescent_ms);
    return t;
}

void g_coalesce_tick(struct gossip *g)
{
    if (g->n_coalesce == 0 || g->now_ms < g_coalesce_next(g)) return;
    for (uint32_t i = 0; i < g->n_coalesce; i++) {
        deliver(g, g->coalesce[i]);
        cn_free(g->coalesce[i]);
    }
    g->n_coalesce = 0;
}

/* Serf handleUserEvent: true when the event is new to us. */
bool g_user_handle(struct gossip *g, const struct gmsg_user *m)
{
    if (m->ltime >= g->ev_clock) g->ev_clock = m->ltime + 1; /* witness */
    if (m->ltime < g->ev_min_time) return false;
    if (g->ev_clock > G_EVENT_BUFFER && m->ltime < g->ev_clock - G_EVENT_BUFFER) return false;
    if (!g->ev_buf) g->ev_buf = cn_calloc(G_EVENT_BUFFER, sizeof *g->ev_buf);
    struct gev_slot *s = &g->ev_buf[m->ltime % G_EVENT_BUFFER];
    if (s->ltime != m->ltime) {
        slot_clear(s);
        s->ltime = m->ltime;
    }
    for (uint32_t i = 0; i < s->n; i++)
        if (cn_str_eq(rec_name(s->recs[i]), m->name) &&
            cn_str_eq(rec_payload(s->recs[i]), m->payload))
            return false;
    if (s->n >= G_EVENTS_PER_SLOT) return false;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 2;
        s->recs = cn_realloc(s->recs, s->cap * sizeof *s->recs);
    }
    struct gev_rec *r = rec_new(m);
    s->recs[s->n++] = r;
    if (m->cc && g->t.user_coalesce_ms)
        coalesce_add(g, m);
    else
        deliver(g, r);
    return true;
}

int gossip_user_event_check(struct cn_str name, struct cn_str payload, struct cn_err *err)
{
    if (name.len == 0) return cn_err_set(err, CN_EINVAL, "user event name must not be empty");
    if (name.len + payload.len > GOSSIP_USER_EVENT_MAX)
        return cn_err_set(err, CN_ETOOBIG,
                          "user event exceeds configured limit of %d bytes before encoding",
                          GOSSIP_USER_EVENT_MAX);
    return 0;
}

int g_user_fire(struct gossip *g, const struct gossip_event *ev, struct cn_err *err)
{
    int rc = gossip_user_event_check(ev->user.name, ev->user.payload, err);
    if (rc) return rc;
    struct gmsg_user m = {.ltime = g->ev_clock, .name = ev->user.name,
                          .payload = ev->user.payload, .cc = ev->user.coalesce};
    cn_buf_reset(&g->scratch);
    gw_user(&g->scratch, &m);
    /* The framed message without its type and length is what Serf measures. */
    size_t encoded = g->scratch.len - 1 - (g->scratch.len - 1 > 129 ? 2 : 1);
    if (encoded > GOSSIP_USER_EVENT_MAX)
        return cn_err_set(err, CN_ETOOBIG,
                          "encoded user event exceeds configured limit of %d bytes after encoding",
                          GOSSIP_USER_EVENT_MAX);
    g->ev_clock++;
    g_user_handle(g, &m);
    gq_push(g, NULL, 0, (uint8_t *)g->scratch.data, g->scratch.len, 0);
    return 0;
}

void g_on_user(struct gossip *g, struct cn_str body)
{
    struct gmsg_user m;
    if (gr_user(body, &m)) {
        g->st.rejected_packets++;
        return;
    }
    if (!g_user_handle(g, &m)) return;
    cn_buf_reset(&g->scratch);
    gw_user(&g->scratch, &m);
    gq_push(g, NULL, 0, (uint8_t *)g->scratch.data, g->scratch.len, 0);
}

/* ---- in push-pull ------------------------------------------------------------- */

void g_encode_events(struct gossip *g, struct cn_buf *b)
{
    cn_enc_uvar(b, g->ev_clock);
    uint32_t n = 0;
    uint64_t lo = g->ev_clock > G_EVENT_BUFFER ? g->ev_clock - G_EVENT_BUFFER : 0;
    if (g->ev_buf) {
        for (uint64_t t = g->ev_clock; t-- > lo && n < G_PUSH_EVENTS_MAX;) {
            const struct gev_slot *s = &g->ev_buf[t % G_EVENT_BUFFER];
            if (s->ltime == t) n += CN_MIN(s->n, G_PUSH_EVENTS_MAX - n);
        }
    }
    cn_enc_uvar(b, n);
    uint32_t written = 0;
    for (uint64_t t = g->ev_clock; g->ev_buf && t-- > lo && written < n;) {
        const struct gev_slot *s = &g->ev_buf[t % G_EVENT_BUFFER];
        if (s->ltime != t) continue;
        for (uint32_t i = 0; i < s->n && written < n; i++, written++) {
            const struct gev_rec *r = s->recs[i];
            cn_enc_uvar(b, r->ltime);
            cn_enc_str(b, rec_name(r));
            cn_enc_str(b, rec_payload(r));
            cn_enc_bool(b, r->cc);
        }
    }
}

/* Serf mergeRemoteState: on a join that ignores old events, start after the
 * remote clock; replay the recent events it sent (not re-broadcast); then
 * witness its clock. */
void g_merge_events(struct gossip *g, struct cn_dec *d, bool join_ignore_old)
{
    uint64_t ltime = cn_dec_uvar(d);
    uint64_t n = cn_dec_uvar(d);
    if (d->err || n > 4 * G_PUSH_EVENTS_MAX) return;
    if (join_ignore_old && ltime > g->ev_min_time) g->ev_min_time = ltime;
    for (uint64_t i = 0; i < n; i++) {
        struct gmsg_user m;
        m.ltime = cn_dec_uvar(d);
        m.name = cn_dec_bytes(d, GOSSIP_USER_EVENT_MAX);
        m.payload = cn_dec_bytes(d, GOSSIP_USER_EVENT_MAX);
        m.cc = cn_dec_bool(d);
        if (d->err || m.name.len == 0 || m.name.len + m.payload.len > GOSSIP_USER_EVENT_MAX)
            return;
        g_user_handle(g, &m);
    }
    if (ltime > 0 && ltime - 1 >= g->ev_clock) g->ev_clock = ltime;
}
