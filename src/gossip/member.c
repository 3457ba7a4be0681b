/*
 * member.c - the member table and the SWIM state machine over it:
 * alive / suspect / dead / left, incarnation numbers, refutation, Lifeguard's
 * suspicion timeouts and awareness, force-leave and reaping.
 *
 * The rules follow memberlist state.go (aliveNode, suspectNode, deadNode,
 * refute) and Serf for left members, force-leave and reaping. A message
 * about a node wins when its incarnation is higher; at equal incarnation
 * suspect beats alive and dead beats suspect. Only the node itself raises its
 * incarnation, which is how it refutes.
 */
#include <math.h>
#include <string.h>

#include "gossip/gossip_int.h"
#include "lib/cn_err.h"

/* ---- the name index ------------------------------------------------------ */

static bool name_is(const struct gnode *n, uint64_t h, struct cn_str name)
{
    return n->name_hash == h && n->name_len == name.len && memcmp(n->name, name.p, name.len) == 0;
}

int g_find(const struct gossip *g, struct cn_str name)
{
    uint64_t h = cn_hash_bytes(name.p, name.len);
    uint32_t mask = g->idx_cap - 1;
    for (uint32_t s = (uint32_t)h & mask;; s = (s + 1) & mask) {
        uint32_t v = g->idx[s];
        if (v == 0) return -1;
        if (name_is(g->mem[v - 1].node, h, name)) return (int)(v - 1);
    }
}

/* The index slot that holds member i. */
static uint32_t slot_of(const struct gossip *g, uint32_t i)
{
    uint32_t mask = g->idx_cap - 1;
    for (uint32_t s = (uint32_t)g->mem[i].node->name_hash & mask;; s = (s + 1) & mask) {
        CN_ASSERT(g->idx[s] != 0);
        if (g->idx[s] == i + 1) return s;
    }
}

static void idx_place(struct gossip *g, uint32_t i)
{
    uint32_t mask = g->idx_cap - 1;
    uint32_t s = (uint32_t)g->mem[i].node->name_hash & mask;
    while (g->idx[s]) s = (s + 1) & mask;
    g->idx[s] = i + 1;
}

static void idx_grow(struct gossip *g)
{
    cn_free(g->idx);
    g->idx_cap = g->idx_cap ? g->idx_cap * 2 : 16;
    g->idx = cn_calloc(g->idx_cap, sizeof *g->idx);
    for (uint32_t i = 0; i < g->n_mem; i++) idx_place(g, i);
}

/* Backward-shift deletion: no tombstones, lookups stay short after churn. */
static void idx_delete(struct gossip *g, uint32_t hole)
{
    uint32_t mask = g->idx_cap - 1;
    g->idx[hole] = 0;
    for (uint32_t j = (hole + 1) & mask; g->idx[j]; j = (j + 1) & mask) {
        uint32_t home = (uint32_t)g->mem[g->idx[j] - 1].node->name_hash & mask;
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            g->idx[hole] = g->idx[j];
            g->idx[j] = 0;
            hole = j;
        }
    }
}

void g_members_init(struct gossip *g)
{
    g->cap_mem = 16;
    g->mem = cn_calloc(g->cap_mem, sizeof *g->mem);
    g->idx_cap = 32;
    g->idx = cn_calloc(g->idx_cap, sizeof *g->idx);
    cn_map_init(&g->susp);
}

/* After a bulk load (the simulator's bootstrap): drop the doubling slack. */
void g_members_compact(struct gossip *g)
{
    g->cap_mem = g->n_mem + 16;
    g->mem = cn_realloc(g->mem, g->cap_mem * sizeof *g->mem);
}

void g_members_release(struct gossip *g)
{
    struct cn_map_iter it;
    struct cn_str key;
    void *val;
    cn_map_iter_init(&it, &g->susp);
    while (cn_map_iter_next(&it, &key, &val)) {
        struct gsusp *s = val;
        gnode_unref(g->intern, s->node);
        cn_free(s);
    }
    cn_map_release(&g->susp);
    for (uint32_t i = 0; i < g->n_mem; i++) gnode_unref(g->intern, g->mem[i].node);
    cn_free(g->mem);
    cn_free(g->idx);
    g->mem = NULL;
    g->idx = NULL;
    g->n_mem = 0;
}

void g_swap(struct gossip *g, uint32_t i, uint32_t j)
{
    if (i == j) return;
    uint32_t si = slot_of(g, i), sj = slot_of(g, j);
    struct gmember t = g->mem[i];
    g->mem[i] = g->mem[j];
    g->mem[j] = t;
    g->idx[si] = j + 1;
    g->idx[sj] = i + 1;
    if (g->self_i == i)
        g->self_i = j;
    else if (g->self_i == j)
        g->self_i = i;
}

/* memberlist aliveNode: a new node goes to a random slot of the probe order,
 * so that failure detection stays fast on average. Takes the node reference. */
uint32_t g_insert(struct gossip *g, struct gnode *node, uint32_t inc, uint8_t state)
{
    CN_ASSERT(g->n_mem < G_MEMBERS_MAX);
    if (g->n_mem == g->cap_mem) {
        g->cap_mem *= 2;
        g->mem = cn_realloc(g->mem, g->cap_mem * sizeof *g->mem);
    }
    if ((uint64_t)(g->n_mem + 1) * 4 > (uint64_t)g->idx_cap * 3) idx_grow(g); /* load <= 3/4 */
    uint32_t i = g->n_mem++;
    g->mem[i] = (struct gmember){.node = node, .inc = inc, .state = state,
                                 .state_change_ms = g->now_ms};
    idx_place(g, i);
    g->n_state[state]++;
    uint32_t off = (uint32_t)cn_rand_below(&g->rng, i + 1);
    g_swap(g, off, i);
    return off;
}

void g_remove(struct gossip *g, uint32_t i)
{
    CN_ASSERT(i != g->self_i && i < g->n_mem);
    uint32_t last = g->n_mem - 1;
    g_swap(g, i, last);
    idx_delete(g, slot_of(g, last));
    g->n_state[g->mem[last].state]--;
    gnode_unref(g->intern, g->mem[last].node);
    g->n_mem--;
    if (g->probe_i > g->n_mem) g->probe_i = g->n_mem;
}

void g_shuffle(struct gossip *g)
{
    for (uint32_t i = g->n_mem; i > 1; i--) g_swap(g, i - 1, (uint32_t)cn_rand_below(&g->rng, i));
}

void g_set_state(struct gossip *g, uint32_t i, uint8_t state)
{
    struct gmember *m = &g->mem[i];
    g->n_state[m->state]--;
    g->n_state[state]++;
    m->state = state;
    m->state_change_ms = g->now_ms;
}

uint32_t g_est_nodes(const struct gossip *g)
{
    uint32_t n = g->n_state[GM_ALIVE] + g->n_state[GM_SUSPECT];
    return n ? n : 1;
}

/* ---- Lifeguard: local health awareness ------------------------------------ */

void g_awareness(struct gossip *g, int delta)
{
    int max = (int)(g->t.awareness_max_multiplier ? g->t.awareness_max_multiplier : 1) - 1;
    int s = (int)g->awareness + delta;
    g->awareness = (uint32_t)(s < 0 ? 0 : s > max ? max : s);
}

uint64_t g_scale(const struct gossip *g, uint64_t ms)
{
    return ms * (g->awareness + 1);
}

/* ---- broadcasts about members ---------------------------------------------- */

static void bcast_accuse(struct gossip *g, uint8_t type, uint32_t inc, struct cn_str node,
                         struct cn_str from, uint32_t flags)
{
    cn_buf_reset(&g->scratch);
    struct gmsg_accuse m = {inc, node, from};
    gw_accuse(&g->scratch, type, &m);
    gq_push(g, node.p, node.len, (uint8_t *)g->scratch.data, g->scratch.len, flags);
}

static void bcast_alive(struct gossip *g, const struct gnode *n, uint32_t inc)
{
    if (g->merge_budget == 0 && n != g->self) return;
    if (g->merge_budget > 0) g->merge_budget--;
    cn_buf_reset(&g->scratch);
    struct gmsg_alive m = {.inc = inc, .node = gnode_name(n), .addr = n->addr,
                           .tags = gnode_tags(n)};
    memcpy(m.vsn, n->vsn, 6);
    gw_alive(&g->scratch, &m);
    gq_push(g, n->name, n->name_len, (uint8_t *)g->scratch.data, g->scratch.len, 0);
}

void g_bcast_self_alive(struct gossip *g)
{
    bcast_alive(g, g->self, g->inc);
}

/* memberlist refute: beat the accusation's incarnation, count it against our
 * own health (Lifeguard), and tell everyone. */
void g_refute(struct gossip *g, uint32_t accused)
{
    uint32_t inc = g->inc + 1;
    if (accused >= inc) inc = accused + 1;
    g->inc = inc;
    g->mem[g->self_i].inc = inc;
    g->st.refutes++;
    g_awareness(g, 1);
    g_bcast_self_alive(g);
}

/* ---- alive ------------------------------------------------------------------ */

static bool vsn_ok(const uint8_t v[6])
{
    return v[0] != 0 && v[1] != 0 && v[0] <= v[1];
}

static void alive_new(struct gossip *g, const struct gmsg_alive *a, bool quiet)
{
    struct gnode *n = gnode_get(g->intern, a->node, &a->addr, a->tags, a->vsn);
    if (!n) return; /* malformed tags */
    uint32_t i = g_insert(g, n, a->inc, GM_ALIVE);
    if (quiet) return;
    bcast_alive(g, n, a->inc);
    g_notify(g, GOSSIP_MEMBER_JOIN, i);
}

void g_alive(struct gossip *g, const struct gmsg_alive *a, bool quiet)
{
    if (!vsn_ok(a->vsn)) return;
    int found = g_find(g, a->node);
    if (found < 0) {
        alive_new(g, a, quiet);
        return;
    }
    uint32_t i = (uint32_t)found;
    struct gmember *m = &g->mem[i];
    bool is_self = i == g->self_i;
    if (is_self && g->leaving) return; /* a late alive must not undo our leave */
    bool reclaim = false;
    if (!gossip_addr_eq(&m->node->addr, &a->addr)) {
        /* A name with a new address: accept only when the old holder left or
         * has been dead past gossip-to-the-dead time (memberlist's reclaim). */
        reclaim = m->state == GM_LEFT ||
                  (m->state == GM_DEAD &&
                   g->now_ms - m->state_change_ms > g->t.gossip_to_the_dead_ms);
        if (!reclaim || is_self) return;
    }
    /* memberlist forgets a dead node after gossip-to-the-dead time, so any
     * alive message then re-admits it; we keep the entry (Serf's failed
     * member) but accept its own incarnation again. This is how both sides
     * of a healed partition take each other back. */
    bool forgotten = m->state == GM_DEAD &&
                     g->now_ms - m->state_change_ms > g->t.gossip_to_the_dead_ms;
    if (!is_self && !reclaim && a->inc < m->inc) return;
    if (!is_self && !reclaim && !forgotten && a->inc == m->inc) return;
    if (is_self && a->inc < m->inc) return;
    g_susp_drop(g, a->node);
    if (is_self) {
        if (quiet) return;
        /* Someone speaks for us with our incarnation (or a later one, e.g.
         * from before a restart): refute unless it says exactly what we do. */
        if (a->inc == m->inc && a->tags.len == m->node->tags_len &&
            memcmp(a->tags.p, m->node->tags_blob, a->tags.len) == 0 &&
            memcmp(a->vsn, m->node->vsn, 6) == 0)
            return;
        g_refute(g, a->inc);
        return;
    }
    uint8_t old_state = m->state;
    struct gnode *old = m->node;
    bool changed = false;
    if (!(old->tags_len == a->tags.len &&
          memcmp(old->tags_blob, a->tags.p, a->tags.len) == 0 &&
          gossip_addr_eq(&old->addr, &a->addr) && memcmp(old->vsn, a->vsn, 6) == 0)) {
        struct gnode *n = gnode_get(g->intern, a->node, &a->addr, a->tags, a->vsn);
        if (!n) return;
        m->node = n;
        gnode_unref(g->intern, old);
        changed = true;
    }
    m->inc = a->inc;
    if (m->state != GM_ALIVE) g_set_state(g, i, GM_ALIVE);
    if (quiet) return;
    bcast_alive(g, m->node, a->inc);
    if (old_state == GM_DEAD || old_state == GM_LEFT)
        g_notify(g, GOSSIP_MEMBER_JOIN, i);
    else if (changed)
        g_notify(g, GOSSIP_MEMBER_UPDATE, i);
}

/* ---- suspicion -------------------------------------------------------------- */

static bool susp_has_from(const struct gsusp *s, uint64_t h)
{
    for (uint32_t i = 0; i < s->n_from; i++)
        if (s->from[i] == h) return true;
    return false;
}

/* memberlist suspicion.go remainingSuspicionTime: the timeout falls from max
 * towards min as log(n + 1) / log(k + 1), kept to a millisecond. */
static uint64_t susp_timeout(const struct gsusp *s)
{
    if (s->k == 0) return s->min_ms;
    double frac = log((double)s->n + 1.0) / log((double)s->k + 1.0);
    double raw = (double)s->max_ms - frac * (double)(s->max_ms - s->min_ms);
    uint64_t t = raw <= 0 ? 0 : (uint64_t)floor(raw);
    return t < s->min_ms ? s->min_ms : t;
}

/* A new independent accuser: shorten the timeout. True if it was news. */
static bool susp_confirm(struct gsusp *s, struct cn_str from)
{
    if (s->n >= s->k) return false;
    uint64_t h = cn_hash_bytes(from.p, from.len);
    if (susp_has_from(s, h) || s->n_from >= G_SUSPECT_CONF_MAX) return false;
    s->from[s->n_from++] = h;
    s->n++;
    s->deadline_ms = s->start_ms + susp_timeout(s);
    return true;
}

static void susp_start(struct gossip *g, uint32_t i, struct cn_str from)
{
    struct gmember *m = &g->mem[i];
    struct gsusp *s = CN_NEW(struct gsusp);
    uint32_t n = g_est_nodes(g);
    /* memberlist suspectNode: expect suspicion_mult - 2 confirmations, none
     * when the cluster is too small to give them (n - 2 excludes us and the
     * suspect). */
    uint32_t k = g->t.suspicion_mult > 2 ? g->t.suspicion_mult - 2 : 0;
    if (n < k + 2) k = 0;
    s->node = gnode_ref(m->node);
    s->inc = m->inc;
    s->k = k;
    s->from[s->n_from++] = cn_hash_bytes(from.p, from.len);
    s->start_ms = g->now_ms;
    s->min_ms = gossip_suspicion_min_ms(g->t.suspicion_mult, n, g->t.probe_interval_ms);
    s->max_ms = (uint64_t)CN_MAX(g->t.suspicion_max_timeout_mult, 1u) * s->min_ms;
    s->deadline_ms = g->now_ms + (k < 1 ? s->min_ms : s->max_ms);
    s->state_change_ms = m->state_change_ms;
    struct gsusp *old = cn_map_put(&g->susp, gnode_name(m->node), s);
    if (old) {
        gnode_unref(g->intern, old->node);
        cn_free(old);
    }
    g->st.suspicions_started++;
}

void g_susp_drop(struct gossip *g, struct cn_str name)
{
    struct gsusp *s = cn_map_del(&g->susp, name);
    if (!s) return;
    gnode_unref(g->intern, s->node);
    cn_free(s);
}

void g_suspect(struct gossip *g, uint32_t inc, struct cn_str node, struct cn_str from)
{
    int found = g_find(g, node);
    if (found < 0) return;
    uint32_t i = (uint32_t)found;
    struct gmember *m = &g->mem[i];
    if (inc < m->inc) return;
    struct gsusp *s = cn_map_get(&g->susp, node);
    if (s) {
        /* Re-gossip new confirmations so independent ones keep flowing. */
        if (susp_confirm(s, from)) bcast_accuse(g, GMSG_SUSPECT, inc, node, from, 0);
        return;
    }
    if (m->state != GM_ALIVE) return;
    if (i == g->self_i) {
        if (!g->leaving) g_refute(g, inc);
        return;
    }
    bcast_accuse(g, GMSG_SUSPECT, inc, node, from, 0);
    m->inc = inc;
    g_set_state(g, i, GM_SUSPECT);
    susp_start(g, i, from);
}

void g_susp_tick(struct gossip *g)
{
    if (cn_map_count(&g->susp) == 0) return;
    /* Collect first: declaring dead edits the map. */
    struct cn_str due[64];
    char names[64][GOSSIP_NAME_MAX + 1];
    size_t n_due = 0;
    struct cn_map_iter it;
    struct cn_str key;
    void *val;
    cn_map_iter_init(&it, &g->susp);
    while (n_due < 64 && cn_map_iter_next(&it, &key, &val)) {
        struct gsusp *s = val;
        if (s->deadline_ms > g->now_ms) continue;
        memcpy(names[n_due], key.p, key.len);
        due[n_due] = (struct cn_str){names[n_due], key.len};
        n_due++;
    }
    for (size_t d = 0; d < n_due; d++) {
        struct gsusp *s = cn_map_get(&g->susp, due[d]);
        int i = g_find(g, due[d]);
        if (i >= 0 && g->mem[i].state == GM_SUSPECT &&
            g->mem[i].state_change_ms == s->state_change_ms) {
            g_dead(g, g->mem[i].inc, due[d], gnode_name(g->self));
        } else {
            g_susp_drop(g, due[d]);
        }
    }
}

uint64_t g_susp_next(const struct gossip *g)
{
    uint64_t next = UINT64_MAX;
    struct cn_map_iter it;
    struct cn_str key;
    void *val;
    cn_map_iter_init(&it, (struct cn_map *)&g->susp);
    while (cn_map_iter_next(&it, &key, &val)) next = CN_MIN(next, ((struct gsusp *)val)->deadline_ms);
    return next;
}

/* ---- dead and left ------------------------------------------------------------ */

void g_dead(struct gossip *g, uint32_t inc, struct cn_str node, struct cn_str from)
{
    int found = g_find(g, node);
    if (found < 0) return;
    uint32_t i = (uint32_t)found;
    struct gmember *m = &g->mem[i];
    if (inc < m->inc) return;
    g_susp_drop(g, node);
    bool left = cn_str_eq(node, from);
    if (m->state == GM_LEFT) return;
    if (m->state == GM_DEAD) {
        /* Serf: a failed member we then hear left is left, not failed (we
         * may have missed its leave and declared it dead ourselves). */
        if (!left || i == g->self_i) return;
        bcast_accuse(g, GMSG_DEAD, inc, node, from, 0);
        m->inc = inc;
        g_set_state(g, i, GM_LEFT);
        g_notify(g, GOSSIP_MEMBER_LEAVE, i);
        return;
    }
    if (i == g->self_i) {
        if (!g->leaving) {
            g_refute(g, inc);
            return;
        }
        bcast_accuse(g, GMSG_DEAD, inc, node, from, GB_LEAVE);
    } else {
        bcast_accuse(g, GMSG_DEAD, inc, node, from, 0);
    }
    m->inc = inc;
    g_set_state(g, i, left ? GM_LEFT : GM_DEAD);
    g_notify(g, left ? GOSSIP_MEMBER_LEAVE : GOSSIP_MEMBER_FAILED, i);
}

static void forget(struct gossip *g, uint32_t i)
{
    g_notify(g, GOSSIP_MEMBER_REAP, i);
    g_susp_drop(g, gnode_name(g->mem[i].node));
    if (g->viv) gviv_forget(g->viv, gnode_name(g->mem[i].node));
    g_remove(g, i);
}

/* Serf's leave intent, as force-leave sends it: a failed member becomes
 * left; an alive one is left alone (and refutes if it hears of it). */
void g_leave_intent(struct gossip *g, const struct gmsg_leave *lm)
{
    int found = g_find(g, lm->node);
    if (found < 0) return;
    uint32_t i = (uint32_t)found;
    struct gmember *m = &g->mem[i];
    if (lm->inc < m->inc) return;
    if (i == g->self_i) {
        if (!g->leaving) g_refute(g, lm->inc);
        return;
    }
    if (m->state != GM_DEAD && m->state != GM_LEFT) return;
    if (m->state == GM_LEFT && !lm->prune) return;
    cn_buf_reset(&g->scratch);
    gw_leave(&g->scratch, lm);
    gq_push(g, lm->node.p, lm->node.len, (uint8_t *)g->scratch.data, g->scratch.len, 0);
    if (m->state == GM_DEAD) {
        g_set_state(g, i, GM_LEFT);
        g_notify(g, GOSSIP_MEMBER_LEAVE, i);
    }
    if (lm->prune) forget(g, i);
}

int g_force_leave(struct gossip *g, struct cn_str name, bool prune, struct cn_err *err)
{
    int i = g_find(g, name);
    if (i < 0) return cn_err_set(err, CN_ENOENT, "node not found: %.*s", CN_STR_ARG(name));
    if ((uint32_t)i == g->self_i)
        return cn_err_set(err, CN_EINVAL, "cannot force-leave the local node");
    struct gmember *m = &g->mem[i];
    struct gmsg_leave lm = {.inc = m->inc, .node = gnode_name(m->node), .prune = prune};
    if (m->state == GM_ALIVE || m->state == GM_SUSPECT) {
        /* Serf broadcasts the intent anyway; the member refutes it. */
        cn_buf_reset(&g->scratch);
        gw_leave(&g->scratch, &lm);
        gq_push(g, name.p, name.len, (uint8_t *)g->scratch.data, g->scratch.len, 0);
        return 0;
    }
    g_leave_intent(g, &lm);
    return 0;
}

/* Serf reap: forget failed members after reconnect_timeout and left ones
 * after tombstone_timeout. Backwards, since removal moves the last member. */
void g_reap_tick(struct gossip *g)
{
    for (uint32_t i = g->n_mem; i-- > 0;) {
        struct gmember *m = &g->mem[i];
        if (i == g->self_i) continue;
        uint64_t age = g->now_ms - m->state_change_ms;
        if ((m->state == GM_DEAD && age > g->t.reconnect_timeout_ms) ||
            (m->state == GM_LEFT && age > g->t.tombstone_timeout_ms))
            forget(g, i);
    }
}

/* ---- picking peers -------------------------------------------------------------- */

static bool pick_ok(const struct gossip *g, const struct gmember *m, int filter)
{
    if (filter == 0) return m->state == GM_ALIVE;
    if (m->state == GM_ALIVE || m->state == GM_SUSPECT) return true;
    return m->state == GM_DEAD && g->now_ms - m->state_change_ms <= g->t.gossip_to_the_dead_ms;
}

/* memberlist kRandomNodes: up to 3n random draws, so small pools are
 * searched exhaustively and big ones cheaply. */
uint32_t g_random_members(struct gossip *g, uint32_t k, int filter, const struct gnode *skip,
                          uint32_t *out)
{
    uint32_t n = g->n_mem, got = 0;
    for (uint64_t tries = 0; tries < 3ull * n && got < k; tries++) {
        uint32_t i = (uint32_t)cn_rand_below(&g->rng, n);
        const struct gmember *m = &g->mem[i];
        if (i == g->self_i || m->node == skip || !pick_ok(g, m, filter)) continue;
        bool dup = false;
        for (uint32_t j = 0; j < got; j++) dup |= out[j] == i;
        if (!dup) out[got++] = i;
    }
    return got;
}
