/* sim.c - the deterministic Raft simulator (see sim.h). */
#include "sim.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cn_buf.h"
#include "lib/cn_codec.h"
#include "lib/cn_common.h"
#include "lib/cn_err.h"
#include "lib/cn_rand.h"
#include "raft/raft.h"

#define NODES_MAX     12
#define KEYS_MAX      16
#define CLIENTS_MAX   16
#define OP_TIMEOUT_US 1500000
#define SNAP_HDR      16 /* u64 index, u64 chain hash */

/* ------------------------------------------------------------------------ */
/* Events                                                                   */

enum ev_kind {
    EV_DELIVER = 1,
    EV_TICK,
    EV_SYNC,
    EV_CLIENT,
    EV_FAULT,
    EV_RESTART,
    EV_RESUME,
    EV_HEAL_LINK,
    EV_CHURN
};

struct event {
    uint64_t t;   /* global time, us */
    uint64_t seq; /* insertion order: ties replay identically */
    int kind;
    int node;
    uint64_t gen;
    struct raft_buf *frame; /* EV_DELIVER */
};

struct heap {
    struct event *v;
    size_t n, cap;
};

static bool ev_less(const struct event *a, const struct event *b)
{
    return a->t != b->t ? a->t < b->t : a->seq < b->seq;
}

static void heap_push(struct heap *h, struct event e)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 256;
        h->v = cn_realloc(h->v, h->cap * sizeof *h->v);
    }
    size_t i = h->n++;
    while (i > 0 && ev_less(&e, &h->v[(i - 1) / 2])) {
        h->v[i] = h->v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->v[i] = e;
}

static struct event heap_pop(struct heap *h)
{
    struct event top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && ev_less(&h->v[c + 1], &h->v[c])) c++;
        if (!ev_less(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n) h->v[i] = last;
    return top;
}

/* ------------------------------------------------------------------------ */
/* Nodes: a core, its disk and its state machine                            */

enum op_kind { DOP_HS = 1, DOP_APPEND, DOP_INSTALL };

struct dop { /* a write waiting for fsync */
    uint64_t seq;
    int kind;
    raft_term term;
    raft_id vote;
    struct raft_entry *ents;
    size_t n;
    struct raft_snapshot_meta meta;
    bool keep;
    uint8_t *blob;
    size_t blob_len;
};

struct disk {
    raft_term term;
    raft_id vote;
    struct raft_snapshot_meta snap;
    uint8_t *blob; /* snapshot bytes: header + the KV values */
    size_t blob_len;
    struct raft_entry *log; /* entries from log_first, refs held */
    size_t n, cap;
    raft_index log_first;
};

struct node {
    int idx;
    raft_id id;
    bool alive, paused;
    struct raft *r;
    double rate;
    uint64_t offset_us;
    uint64_t tick_gen, tick_at;
    uint64_t resume_gen;
    struct disk disk;
    struct dop *ops;
    size_t n_ops, cap_ops;
    bool sync_busy;
    uint64_t sync_gen;
    /* what storage holds (durable + pending) as chained hashes by index */
    uint64_t *chain;
    raft_term *chain_term;
    size_t chain_cap;
    raft_index chain_base, chain_last; /* chain valid for (base, last], base's hash too */
    /* state machine */
    uint64_t kv[KEYS_MAX];
    raft_index applied;
    /* snapshot being received */
    uint8_t *rcv;
    size_t rcv_len, rcv_cap;
    raft_index rcv_index;
    /* messages that arrived while paused, delivered on resume */
    struct raft_buf **held;
    size_t n_held, cap_held;
    /* clients whose requests wait in the socket of a paused node: served
     * first on resume, before timers run (a GC pause's stale-read window) */
    struct {
        int client, op;
    } held_clients[64];
    int n_held_clients;
    /* for the checks */
    int last_role;
    raft_term last_term;
    raft_index commit_seen;
    bool want_snapshot;
};

struct op {
    int client, key;
    bool write, lease;
    uint64_t value;
    uint64_t call, ret; /* us; ret 0 = no answer */
    int node;
    raft_index idx;
    raft_term term;
    int state;     /* OP_* */
    bool accepted; /* a node took it; waiting for the answer */
};
enum { OP_PENDING = 0, OP_OK, OP_UNKNOWN, OP_DROPPED };

struct client {
    int op; /* current op index or -1 */
    int target;
    uint64_t gen;
};

struct committed_rec {
    raft_term term;
    uint64_t hash;
    uint64_t t;      /* first time any node knew it committed */
    raft_term cterm; /* term of the node that first knew: the committing leader's */
};

struct sim {
    const struct sim_opts *o;
    struct cn_rand rnd;
    uint64_t now; /* us */
    uint64_t evseq;
    struct heap heap;
    bool trace;
    bool failed;
    char *why;
    size_t why_len;
    struct sim_stats *st;
    int n_nodes;
    struct node nodes[NODES_MAX];
    bool link_down[NODES_MAX][NODES_MAX];
    uint64_t clog_until[NODES_MAX][NODES_MAX];
    bool healed;
    double p_drop, p_dup, p_slow;
    /* checks */
    raft_id *leaders; /* by term */
    size_t leaders_cap;
    struct committed_rec *committed; /* by index */
    size_t committed_cap;
    raft_index gcommit;
    struct raft_config last_conf; /* latest committed, for coverage counts */
    /* log matching: (index, term) -> hash */
    struct lm_slot {
        raft_index index;
        raft_term term;
        uint64_t hash;
    } * lm;
    size_t lm_cap, lm_n;
    /* workload */
    struct op *ops;
    size_t n_ops, cap_ops;
    struct client clients[CLIENTS_MAX];
    uint64_t next_value;
    struct cn_buf enc;
};

static void fail(struct sim *s, const char *fmt, ...) CN_PRINTF(2, 3);
static void fail(struct sim *s, const char *fmt, ...)
{
    if (s->failed) return;
    s->failed = true;
    int n = snprintf(s->why, s->why_len, "t=%" PRIu64 "us: ", s->now);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < s->why_len) vsnprintf(s->why + n, s->why_len - (size_t)n, fmt, ap);
    va_end(ap);
    if (s->trace) printf("VIOLATION %s\n", s->why);
}

static void tracef(struct sim *s, const char *fmt, ...) CN_PRINTF(2, 3);
static void tracef(struct sim *s, const char *fmt, ...)
{
    if (!s->trace) return;
    printf("%10.3f ", (double)s->now / 1000.0);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static void core_trace(void *ctx, const char *line)
{
    struct sim *s = ctx;
    printf("%10.3f   | %s\n", (double)s->now / 1000.0, line);
}

static uint64_t rnd_range(struct sim *s, uint64_t lo, uint64_t hi)
{
    return hi <= lo ? lo : lo + cn_rand_below(&s->rnd, hi - lo + 1);
}

static bool chance(struct sim *s, double p)
{
    return p > 0 && cn_rand_double(&s->rnd) < p;
}

static void push(struct sim *s, uint64_t t, int kind, int node, uint64_t gen,
                 struct raft_buf *frame)
{
    heap_push(&s->heap, (struct event){t, s->evseq++, kind, node, gen, frame});
}

/* ------------------------------------------------------------------------ */
/* Clocks                                                                   */

static uint64_t local_ms(const struct sim *s, const struct node *n)
{
    return (uint64_t)((double)s->now * n->rate + (double)n->offset_us) / 1000;
}

static uint64_t global_us_of(const struct node *n, uint64_t ms)
{
    double g = ((double)ms * 1000.0 - (double)n->offset_us) / n->rate;
    return g < 0 ? 0 : (uint64_t)g + 1;
}

/* ------------------------------------------------------------------------ */
/* Hashes and the global checks                                             */

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h *= 0xbf58476d1ce4e5b9ULL;
    return h ^ (h >> 29);
}

static uint64_t entry_hash(uint64_t prev, const struct raft_entry *e)
{
    uint64_t h = mix(mix(prev, e->term), e->type);
    return mix(h, cn_hash_bytes(e->data ? (const void *)e->data : "", e->len));
}

static void *grow_zero(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need < *cap) return p;
    size_t n = *cap ? *cap : 64;
    while (n <= need)
        n *= 2;
    p = cn_realloc(p, n * elem);
    memset((char *)p + *cap * elem, 0, (n - *cap) * elem);
    *cap = n;
    return p;
}

/* Log Matching (§3.5): one (index, term) names one log prefix everywhere. */
static void lm_check(struct sim *s, raft_index i, raft_term t, uint64_t h, int node)
{
    if ((s->lm_n + 1) * 2 > s->lm_cap) {
        struct lm_slot *old = s->lm;
        size_t oc = s->lm_cap;
        s->lm_cap = oc ? oc * 2 : 4096;
        s->lm = cn_calloc(s->lm_cap, sizeof *s->lm);
        s->lm_n = 0;
        for (size_t k = 0; k < oc; k++) {
            if (!old[k].index) continue;
            size_t j = mix(old[k].index, old[k].term) & (s->lm_cap - 1);
            while (s->lm[j].index)
                j = (j + 1) & (s->lm_cap - 1);
            s->lm[j] = old[k];
            s->lm_n++;
        }
        free(old);
    }
    size_t j = mix(i, t) & (s->lm_cap - 1);
    while (s->lm[j].index) {
        if (s->lm[j].index == i && s->lm[j].term == t) {
            if (s->lm[j].hash != h)
                fail(s,
                     "log matching: node %d entry %" PRIu64 " term %" PRIu64
                     " has a different prefix",
                     node + 1, i, t);
            return;
        }
        j = (j + 1) & (s->lm_cap - 1);
    }
    s->lm[j] = (struct lm_slot){i, t, h};
    s->lm_n++;
}

static void chain_reset(struct node *n, raft_index base, uint64_t hash, raft_term term)
{
    n->chain = grow_zero(n->chain, &n->chain_cap, base + 1, sizeof *n->chain);
    n->chain_term = n->chain_cap > 0 ? cn_realloc(n->chain_term, n->chain_cap * sizeof(raft_term))
                                     : n->chain_term;
    n->chain_base = base;
    n->chain_last = base;
    n->chain[base] = hash;
    n->chain_term[base] = term;
}

static void chain_append(struct sim *s, struct node *n, const struct raft_entry *e)
{
    if (e->index <= n->chain_base) return;
    if (e->index > n->chain_last + 1) {
        fail(s, "node %d: storage gap, entry %" PRIu64 " after %" PRIu64, n->idx + 1, e->index,
             n->chain_last);
        return;
    }
    size_t old = n->chain_cap;
    n->chain = grow_zero(n->chain, &n->chain_cap, e->index, sizeof *n->chain);
    if (n->chain_cap != old)
        n->chain_term = cn_realloc(n->chain_term, n->chain_cap * sizeof(raft_term));
    n->chain[e->index] = entry_hash(n->chain[e->index - 1], e);
    n->chain_term[e->index] = e->term;
    n->chain_last = e->index;
    lm_check(s, e->index, e->term, n->chain[e->index], n->idx);
}

static bool chain_has(const struct node *n, raft_index i)
{
    return i >= n->chain_base && i <= n->chain_last;
}

static void check_electable(struct sim *s, struct node *n);

/* Record entries a node knows committed; two nodes must never disagree
 * (State Machine Safety at the log level). */
static void note_committed(struct sim *s, struct node *n, raft_index upto)
{
    s->committed = grow_zero(s->committed, &s->committed_cap, upto + 1, sizeof *s->committed);
    for (raft_index i = n->commit_seen + 1; i <= upto; i++) {
        if (!chain_has(n, i)) continue; /* below a snapshot it installed */
        struct committed_rec *c = &s->committed[i];
        if (c->term == 0) {
            *c = (struct committed_rec){n->chain_term[i], n->chain[i], s->now, raft_term_of(n->r)};
        } else if (c->hash != n->chain[i]) {
            fail(s,
                 "committed entry %" PRIu64 " differs on node %d (term %" PRIu64 " vs %" PRIu64 ")",
                 i, n->idx + 1, n->chain_term[i], c->term);
            return;
        }
    }
    if (upto > n->commit_seen) n->commit_seen = upto;
    if (upto > s->gcommit) {
        s->gcommit = upto;
        for (int i = 0; i < s->n_nodes && !s->failed; i++)
            check_electable(s, &s->nodes[i]);
    }
}

/* The lemma under Leader Completeness: the highest committed entry (k, t)
 * was committed by counting replicas in its own term t (§3.6.2), so every log
 * at least as up to date as (t, k) holds it; a log that is not would let its
 * owner win an election and overwrite a committed entry (Figure 3.7). */
static void check_electable(struct sim *s, struct node *n)
{
    raft_index g = s->gcommit;
    if (!g || !n->alive || g >= s->committed_cap || !s->committed[g].term) return;
    const struct committed_rec *c = &s->committed[g];
    raft_index last = n->chain_last;
    raft_term lt = n->chain_term[last];
    if (lt < c->term || (lt == c->term && last < g)) return;
    if (g < n->chain_base) return; /* a snapshot past it: checked when installed */
    if (!chain_has(n, g) || n->chain[g] != c->hash)
        fail(s,
             "node %d's log (last %" PRIu64 " term %" PRIu64 ") is as up to date as "
             "committed entry %" PRIu64 " (term %" PRIu64 ") but lacks it: it could be elected"
             " and overwrite it",
             n->idx + 1, last, lt, g, c->term);
}

/* Leader Completeness (§3.6.3): the leader of a term holds every entry
 * committed in an earlier term. (A leader elected in a term whose election
 * finished late, after later terms committed more, owes nothing to those.) */
static void check_new_leader(struct sim *s, struct node *n, raft_term term)
{
    s->leaders = grow_zero(s->leaders, &s->leaders_cap, term + 1, sizeof *s->leaders);
    if (s->leaders[term] && s->leaders[term] != n->id) {
        fail(s, "two leaders in term %" PRIu64 ": %" PRIu64 " and %" PRIu64, term, s->leaders[term],
             n->id);
        return;
    }
    if (s->leaders[term] == n->id) return;
    s->leaders[term] = n->id;
    s->st->elections++;
    raft_index g = 0;
    for (raft_index i = s->gcommit; i > 0; i--) {
        if (s->committed[i].term && s->committed[i].cterm < term) {
            g = i;
            break;
        }
    }
    if (g == 0) return;
    raft_index at = g < n->chain_base ? n->chain_base : g;
    if (at > n->chain_last || (at == g && n->chain[g] != s->committed[g].hash)) {
        fail(s,
             "leader completeness: node %d leads term %" PRIu64 " without committed entry %" PRIu64,
             n->idx + 1, term, g);
        return;
    }
    if (at != g && s->committed[at].term && s->committed[at].hash != n->chain[at])
        fail(s, "leader completeness: node %d snapshot disagrees at %" PRIu64, n->idx + 1, at);
}

/* ------------------------------------------------------------------------ */
/* Disk                                                                      */

static void disk_truncate(struct disk *d, raft_index from)
{
    while (d->n && d->log_first + d->n - 1 >= from)
        raft_buf_unref(d->log[--d->n].buf);
}

static void disk_append(struct disk *d, const struct raft_entry *e)
{
    if (d->n == 0) d->log_first = e->index;
    CN_ASSERT(e->index == d->log_first + d->n);
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 64;
        d->log = cn_realloc(d->log, d->cap * sizeof *d->log);
    }
    d->log[d->n++] = *e;
    raft_buf_ref(e->buf);
}

static void disk_drop_upto(struct disk *d, raft_index idx)
{
    size_t k = 0;
    while (k < d->n && d->log_first + k <= idx)
        raft_buf_unref(d->log[k++].buf);
    memmove(d->log, d->log + k, (d->n - k) * sizeof *d->log);
    d->n -= k;
    d->log_first += k;
}

static void dop_apply(struct node *n, struct dop *op)
{
    struct disk *d = &n->disk;
    switch (op->kind) {
    case DOP_HS:
        d->term = op->term;
        d->vote = op->vote;
        break;
    case DOP_APPEND:
        disk_truncate(d, op->ents[0].index);
        if (d->n && d->log_first + d->n != op->ents[0].index) {
            /* A gap is only legal right after a snapshot covering it. */
            CN_ASSERT(op->ents[0].index == d->snap.index + 1);
            disk_truncate(d, 0);
        }
        for (size_t i = 0; i < op->n; i++)
            disk_append(d, &op->ents[i]);
        break;
    case DOP_INSTALL:
        free(d->blob);
        d->blob = op->blob;
        d->blob_len = op->blob_len;
        op->blob = NULL;
        d->snap = op->meta;
        if (op->keep)
            disk_drop_upto(d, op->meta.index);
        else
            disk_truncate(d, 0);
        break;
    }
}

static void dop_free(struct dop *op)
{
    for (size_t i = 0; i < op->n; i++)
        raft_buf_unref(op->ents[i].buf);
    free(op->ents);
    free(op->blob);
}

static struct dop *dop_new(struct node *n, uint64_t seq, int kind)
{
    if (n->n_ops == n->cap_ops) {
        n->cap_ops = n->cap_ops ? n->cap_ops * 2 : 16;
        n->ops = cn_realloc(n->ops, n->cap_ops * sizeof *n->ops);
    }
    struct dop *op = &n->ops[n->n_ops++];
    memset(op, 0, sizeof *op);
    op->seq = seq;
    op->kind = kind;
    return op;
}

static void schedule_sync(struct sim *s, struct node *n)
{
    if (n->sync_busy || n->n_ops == 0) return;
    n->sync_busy = true;
    push(s, s->now + rnd_range(s, s->o->sync_min_us, s->o->sync_max_us), EV_SYNC, n->idx,
         n->sync_gen, NULL);
}

/* ------------------------------------------------------------------------ */
/* Nodes                                                                     */

static void node_drive(struct sim *s, struct node *n);
static void release_held_clients(struct sim *s, struct node *n);

static struct raft_cfg node_cfg(struct sim *s, struct node *n)
{
    struct raft_cfg c;
    raft_cfg_defaults(&c, n->id, s->o->multiplier, cn_rand_u64(&s->rnd));
    if (s->o->election_ms) {
        c.election_ms = s->o->election_ms;
        c.heartbeat_ms = c.election_ms / 10;
        c.lease_ms = c.election_ms * 9 / 10;
        c.retransmit_ms = 2 * c.heartbeat_ms;
    }
    if (s->o->no_check_quorum) c.check_quorum = false;
    if (s->o->max_msg_entries) c.max_msg_entries = s->o->max_msg_entries;
    if (s->o->max_inflight) c.max_inflight = s->o->max_inflight;
    if (s->o->chunk_bytes) c.snapshot_chunk_bytes = s->o->chunk_bytes;
    if (s->o->snapshot_threshold) c.snapshot_threshold = s->o->snapshot_threshold;
    if (s->o->trailing) c.trailing_logs = s->o->trailing;
    c.max_msg_bytes = 4096;
    if (s->trace) {
        c.trace = core_trace;
        c.trace_ctx = s;
    }
    return c;
}

static void fsm_restore(struct sim *s, struct node *n, const uint8_t *blob, size_t len)
{
    if (len != SNAP_HDR + 8 * (size_t)s->o->keys) {
        fail(s, "node %d: snapshot of %zu bytes", n->idx + 1, len);
        return;
    }
    n->applied = cn_get_le64(blob);
    for (int k = 0; k < s->o->keys; k++)
        n->kv[k] = cn_get_le64(blob + SNAP_HDR + 8 * k);
}

static void node_start(struct sim *s, struct node *n)
{
    struct raft_cfg c = node_cfg(s, n);
    int rc = raft_new(&c, &n->r);
    CN_ASSERT(rc == 0);
    struct disk *d = &n->disk;
    struct raft_restore rs = {.term = d->term, .vote = d->vote, .snap = d->snap};
    size_t skip = 0;
    while (skip < d->n && d->log_first + skip <= d->snap.index)
        skip++;
    rs.entries = d->n ? d->log + skip : NULL;
    rs.n_entries = d->n - skip;
    memset(n->kv, 0, sizeof n->kv);
    n->applied = 0;
    if (d->blob) {
        fsm_restore(s, n, d->blob, d->blob_len);
        chain_reset(n, d->snap.index, cn_get_le64(d->blob + 8), d->snap.term);
    } else {
        chain_reset(n, 0, 0, 0);
    }
    for (size_t i = 0; i < rs.n_entries; i++)
        chain_append(s, n, &rs.entries[i]);
    rc = raft_restore(n->r, &rs);
    if (rc) fail(s, "node %d: restore failed: %s", n->idx + 1, cn_strerror(rc));
    n->alive = true;
    n->paused = false;
    n->last_role = RAFT_FOLLOWER;
    n->last_term = raft_term_of(n->r);
    n->commit_seen = d->snap.index;
    n->tick_at = 0;
    n->rcv_len = 0;
    n->rcv_index = 0;
    n->want_snapshot = false;
}

static void node_crash(struct sim *s, struct node *n)
{
    /* A power cut keeps any prefix of the writes not yet synced. */
    size_t keep = (size_t)cn_rand_below(&s->rnd, n->n_ops + 1);
    for (size_t i = 0; i < n->n_ops; i++) {
        if (i < keep) dop_apply(n, &n->ops[i]);
        dop_free(&n->ops[i]);
    }
    tracef(s, "crash node %d (kept %zu of %zu unsynced writes)", n->idx + 1, keep, n->n_ops);
    n->alive = false;
    release_held_clients(s, n);
    for (size_t i = 0; i < n->n_held; i++)
        raft_buf_unref(n->held[i]);
    n->n_held = 0;
    n->n_ops = 0;
    n->sync_busy = false;
    n->sync_gen++;
    raft_free(n->r);
    n->r = NULL;
    n->alive = false;
    n->tick_gen++;
    n->resume_gen++;
    s->st->crashes++;
    /* storage as the restarted node will see it */
    chain_reset(n, 0, 0, 0);
}

static void step(struct sim *s, struct node *n, const struct raft_event *ev, int *rc_out)
{
    int rc = raft_step(n->r, local_ms(s, n), ev, NULL);
    if (rc_out) *rc_out = rc;
    node_drive(s, n);
}

/* ------------------------------------------------------------------------ */
/* The network                                                               */

static void send_msg(struct sim *s, struct node *from, const struct raft_msg *m0)
{
    struct raft_msg m = *m0;
    if (m.type == RAFT_MSG_SNAPSHOT) {
        /* The caller attaches the chunk from its snapshot (raft.h). */
        struct disk *d = &from->disk;
        if (!d->blob || d->snap.index != m.snap.index) return;
        if (m.snap.offset > d->blob_len) return;
        size_t len = CN_MIN((size_t)m.snap.chunk_bytes, d->blob_len - (size_t)m.snap.offset);
        m.snap.data = d->blob + m.snap.offset;
        m.snap.len = (uint32_t)len;
        m.snap.last = m.snap.offset + len == d->blob_len;
        s->st->snapshots_sent++;
    }
    int to = (int)m.to - 1;
    if (to < 0 || to >= s->n_nodes) return;
    s->st->msgs++;
    if (s->link_down[from->idx][to] || chance(s, s->p_drop)) return;
    cn_buf_reset(&s->enc);
    raft_msg_encode(&m, &s->enc);
    struct raft_buf *frame = raft_buf_copy(s->enc.data, s->enc.len);
    int copies = chance(s, s->p_dup) ? 2 : 1;
    for (int c = 0; c < copies; c++) {
        uint64_t d = rnd_range(s, s->o->delay_min_us, s->o->delay_max_us);
        if (chance(s, s->p_slow)) d += rnd_range(s, 0, s->o->slow_max_us);
        if (s->clog_until[from->idx][to] > s->now) d += s->clog_until[from->idx][to] - s->now;
        push(s, s->now + d, EV_DELIVER, to, 0, raft_buf_ref(frame));
    }
    raft_buf_unref(frame);
}

static void submit(struct sim *s, int c);
static void client_next(struct sim *s, int c, uint64_t delay_us);

static void submit_at(struct sim *s, int c, struct node *n);

static void release_held_clients(struct sim *s, struct node *n)
{
    int k = n->n_held_clients;
    n->n_held_clients = 0;
    for (int i = 0; i < k; i++) {
        int c = n->held_clients[i].client, op = n->held_clients[i].op;
        struct client *cl = &s->clients[c];
        /* The request sat in the socket; the client may have moved on. */
        if (cl->op != op || s->ops[op].accepted || s->ops[op].state != OP_PENDING) continue;
        if (n->alive && !n->paused) submit_at(s, c, n);
    }
}

static void release_held(struct sim *s, struct node *n)
{
    for (size_t i = 0; i < n->n_held; i++) {
        if (n->alive) push(s, s->now + 1 + i, EV_DELIVER, n->idx, 0, raft_buf_ref(n->held[i]));
        raft_buf_unref(n->held[i]);
    }
    n->n_held = 0;
}

static void deliver(struct sim *s, struct event *e)
{
    struct node *n = &s->nodes[e->node];
    if (!n->alive) return;
    if (n->paused) { /* queued in the socket until it resumes */
        if (n->n_held == n->cap_held) {
            n->cap_held = n->cap_held ? n->cap_held * 2 : 64;
            n->held = cn_realloc(n->held, n->cap_held * sizeof *n->held);
        }
        n->held[n->n_held++] = raft_buf_ref(e->frame);
        return;
    }
    struct raft_msg m;
    int rc = raft_msg_decode(e->frame->data, e->frame->len, e->frame, &m);
    if (rc) {
        fail(s, "node %d: our own message did not decode", n->idx + 1);
        return;
    }
    int from = (int)m.from - 1;
    if (from >= 0 && from < s->n_nodes && s->link_down[from][e->node]) {
        raft_msg_release(&m);
        return;
    }
    struct raft_event ev = {.type = RAFT_EV_RECV, .recv = &m};
    step(s, n, &ev, NULL);
    raft_msg_release(&m);
}

/* ------------------------------------------------------------------------ */
/* The workload                                                              */

static struct node *alive_node(struct sim *s, int prefer)
{
    if (prefer >= 0 && prefer < s->n_nodes && s->nodes[prefer].alive) return &s->nodes[prefer];
    for (int k = 0; k < 4 * s->n_nodes; k++) {
        struct node *n = &s->nodes[cn_rand_below(&s->rnd, (uint64_t)s->n_nodes)];
        if (n->alive) return n;
    }
    return NULL;
}

static void client_next(struct sim *s, int c, uint64_t delay_us)
{
    struct client *cl = &s->clients[c];
    cl->gen++;
    push(s, s->now + delay_us, EV_CLIENT, c, cl->gen, NULL);
}

static void client_retarget(struct sim *s, struct client *cl, struct node *n)
{
    raft_id hint = n && n->alive && n->r ? raft_leader(n->r) : 0;
    if (hint && hint != n->id && cn_rand_below(&s->rnd, 4) != 0)
        cl->target = (int)hint - 1;
    else
        cl->target = (int)cn_rand_below(&s->rnd, (uint64_t)s->n_nodes);
}

static void op_finish(struct sim *s, struct op *o, int state)
{
    o->state = state;
    if (state == OP_OK) o->ret = s->now;
    struct client *cl = &s->clients[o->client];
    cl->op = -1;
    if (!s->healed) {
        uint64_t think = rnd_range(s, s->o->think_min_ms * 1000ull, s->o->think_max_ms * 1000ull);
        client_next(s, o->client, think);
    }
}

static void submit_at(struct sim *s, int c, struct node *n)
{
    struct client *cl = &s->clients[c];
    struct op *o = &s->ops[cl->op];
    int rc = CN_ENOTLEADER;
    if (n && n->paused) {
        /* Held in its socket until it resumes; meanwhile the client gives
         * up on this attempt and tries elsewhere. */
        if (n->n_held_clients < (int)CN_ARRAY_SIZE(n->held_clients)) {
            n->held_clients[n->n_held_clients].client = c;
            n->held_clients[n->n_held_clients++].op = cl->op;
        }
        cl->target = (int)cn_rand_below(&s->rnd, (uint64_t)s->n_nodes);
        client_next(s, c, rnd_range(s, 50000, 300000));
        return;
    }
    if (n) {
        if (o->write) {
            uint8_t p[32];
            cn_put_le64(p, (uint64_t)cl->op);
            cn_put_le64(p + 8, (uint64_t)o->key);
            cn_put_le64(p + 16, o->value);
            cn_put_le64(p + 24, 0x5157524954455321ULL);
            struct raft_proposal prop = {.data = p, .len = sizeof p};
            struct raft_event ev = {.type = RAFT_EV_PROPOSE};
            ev.propose.items = &prop;
            ev.propose.n = 1;
            rc = raft_step(n->r, local_ms(s, n), &ev, NULL);
            if (rc == 0) {
                o->node = n->idx;
                o->idx = raft_last_index(n->r);
                o->term = raft_term_of(n->r);
            }
        } else {
            struct raft_event ev = {.type = RAFT_EV_READ};
            ev.read.ctx = (uint64_t)cl->op;
            ev.read.lease = o->lease;
            o->node = n->idx;
            rc = raft_step(n->r, local_ms(s, n), &ev, NULL);
        }
    }
    o->accepted = rc == 0;
    if (n) cl->target = n->idx;
    if (rc != 0) {
        client_retarget(s, cl, n);
        client_next(s, c, rnd_range(s, 2000, 20000));
        if (n && n->alive) node_drive(s, n);
        return;
    }
    node_drive(s, n);
    if (cl->op >= 0 && &s->ops[cl->op] == o && o->state == OP_PENDING) {
        cl->gen++;
        push(s, s->now + OP_TIMEOUT_US, EV_CLIENT, c, cl->gen, NULL);
    }
}

static void submit(struct sim *s, int c)
{
    submit_at(s, c, alive_node(s, s->clients[c].target));
}

static void client_event(struct sim *s, struct event *e)
{
    struct client *cl = &s->clients[e->node];
    if (e->gen != cl->gen) return;
    if (cl->op >= 0) {
        struct op *o = &s->ops[cl->op];
        if (o->accepted) {
            /* Timed out waiting for an answer. */
            op_finish(s, o, o->write ? OP_UNKNOWN : OP_DROPPED);
            return;
        }
        submit(s, e->node); /* a retry after a refusal */
        return;
    }
    if (s->healed) return;
    if (s->n_ops == s->cap_ops) {
        s->cap_ops = s->cap_ops ? s->cap_ops * 2 : 256;
        s->ops = cn_realloc(s->ops, s->cap_ops * sizeof *s->ops);
    }
    cl->op = (int)s->n_ops;
    struct op *o = &s->ops[s->n_ops++];
    memset(o, 0, sizeof *o);
    o->client = (int)e->node;
    o->key = (int)cn_rand_below(&s->rnd, (uint64_t)s->o->keys);
    o->write = !chance(s, s->o->p_read);
    o->lease = !o->write && chance(s, s->o->p_lease);
    o->value = o->write ? ++s->next_value : 0;
    o->call = s->now;
    o->node = -1;
    submit(s, e->node);
}

/* A write is answered when the node that took it applies it. */
static void on_apply(struct sim *s, struct node *n, const struct raft_entry *e)
{
    if (e->type != RAFT_ENTRY_NORMAL || e->len != 32) return;
    uint64_t opi = cn_get_le64(e->data), key = cn_get_le64(e->data + 8);
    uint64_t value = cn_get_le64(e->data + 16);
    if (key >= (uint64_t)s->o->keys || opi >= s->n_ops) {
        fail(s, "node %d applied a garbled command at %" PRIu64, n->idx + 1, e->index);
        return;
    }
    n->kv[key] = value;
    struct op *o = &s->ops[opi];
    if (o->state == OP_PENDING && o->node == n->idx && o->idx == e->index && o->term == e->term &&
        s->clients[o->client].op == (int)opi)
        op_finish(s, o, OP_OK);
}

static void on_read(struct sim *s, struct node *n, const struct raft_read *rd)
{
    if (rd->ctx >= s->n_ops) return;
    struct op *o = &s->ops[rd->ctx];
    struct client *cl = &s->clients[o->client];
    if (o->state != OP_PENDING || cl->op != (int)rd->ctx || o->node != n->idx) return;
    if (rd->err) {
        o->accepted = false;
        client_retarget(s, cl, n);
        client_next(s, o->client, rnd_range(s, 2000, 20000));
        return;
    }
    if (n->applied < rd->index) {
        fail(s, "node %d: read at %" PRIu64 " released with applied %" PRIu64, n->idx + 1,
             rd->index, n->applied);
        return;
    }
    o->value = n->kv[o->key];
    if (o->lease) s->st->lease_reads++;
    op_finish(s, o, OP_OK);
}

/* ------------------------------------------------------------------------ */
/* Driving a node: persist, send, apply, done                                */

static void take_snapshot(struct sim *s, struct node *n)
{
    n->want_snapshot = false;
    if (!chain_has(n, n->applied) || n->applied <= n->disk.snap.index) return;
    struct raft_event ev = {.type = RAFT_EV_SNAPSHOT_TAKEN};
    ev.snapshot_taken.index = n->applied;
    int rc = raft_step(n->r, local_ms(s, n), &ev, NULL);
    if (rc) {
        fail(s, "node %d: snapshot at %" PRIu64 " refused: %s", n->idx + 1, n->applied,
             cn_strerror(rc));
        return;
    }
    size_t len = SNAP_HDR + 8 * (size_t)s->o->keys;
    uint8_t *blob = cn_malloc(len);
    cn_put_le64(blob, n->applied);
    cn_put_le64(blob + 8, n->chain[n->applied]);
    for (int k = 0; k < s->o->keys; k++)
        cn_put_le64(blob + SNAP_HDR + 8 * k, n->kv[k]);
    free(n->disk.blob);
    n->disk.blob = blob; /* written and synced before telling the core (sim shortcut) */
    n->disk.blob_len = len;
    n->disk.snap = *raft_snapshot(n->r);
    s->st->snapshots_taken++;
    if (n->disk.snap.index != n->applied) fail(s, "node %d: snapshot meta mismatch", n->idx + 1);
}

static void persist(struct sim *s, struct node *n, const struct raft_update *u)
{
    for (size_t i = 0; i < u->n_chunks; i++) {
        const struct raft_chunk *c = &u->chunks[i];
        if (c->offset == 0) {
            n->rcv_len = 0;
            n->rcv_index = c->index;
        }
        if (c->index != n->rcv_index || c->offset != n->rcv_len) {
            fail(s, "node %d: chunk out of order", n->idx + 1);
            return;
        }
        if (n->rcv_len + c->len > n->rcv_cap) {
            n->rcv_cap = (n->rcv_len + c->len) * 2;
            n->rcv = cn_realloc(n->rcv, n->rcv_cap);
        }
        memcpy(n->rcv + n->rcv_len, c->data, c->len);
        n->rcv_len += c->len;
    }
    if (!u->seq) return;
    if (u->snap_install) {
        if (n->rcv_index != u->snap.index || n->rcv_len < SNAP_HDR) {
            fail(s, "node %d: install of a snapshot never received", n->idx + 1);
            return;
        }
        struct dop *op = dop_new(n, u->seq, DOP_INSTALL);
        op->meta = u->snap;
        op->keep = u->snap_keep_log;
        op->blob = cn_memdup(n->rcv, n->rcv_len);
        op->blob_len = n->rcv_len;
        uint64_t h = cn_get_le64(n->rcv + 8);
        if (u->snap_keep_log && chain_has(n, u->snap.index) && n->chain[u->snap.index] != h)
            fail(s, "node %d: kept a log that disagrees with the snapshot", n->idx + 1);
        raft_index last = n->chain_last;
        if (u->snap_keep_log && last > u->snap.index) {
            /* keep the chain above the snapshot */
            n->chain_base = u->snap.index;
        } else {
            chain_reset(n, u->snap.index, h, u->snap.term);
        }
        if (cn_get_le64(n->rcv) != u->snap.index) fail(s, "node %d: snapshot index", n->idx + 1);
        fsm_restore(s, n, n->rcv, n->rcv_len);
        s->st->installs++;
    }
    if (u->n_entries) {
        struct dop *op = dop_new(n, u->seq, DOP_APPEND);
        op->n = u->n_entries;
        op->ents = cn_malloc(op->n * sizeof *op->ents);
        for (size_t i = 0; i < op->n; i++) {
            op->ents[i] = u->entries[i];
            raft_buf_ref(op->ents[i].buf);
        }
        raft_index f = u->entries[0].index;
        if (f > n->chain_last + 1) {
            fail(s, "node %d: entries from %" PRIu64 " leave a gap after %" PRIu64, n->idx + 1, f,
                 n->chain_last);
            return;
        }
        if (f <= n->chain_base) {
            fail(s, "node %d: entries from %" PRIu64 " rewrite the snapshot at %" PRIu64,
                 n->idx + 1, f, n->chain_base);
            return;
        }
        n->chain_last = f - 1;
        for (size_t i = 0; i < u->n_entries; i++)
            chain_append(s, n, &u->entries[i]);
    }
    if (u->hs_changed) {
        struct dop *op = dop_new(n, u->seq, DOP_HS);
        op->term = u->term;
        op->vote = u->vote;
    }
    schedule_sync(s, n);
}

/* Coverage: what each newly committed configuration changed. */
static void count_change(struct sim *s, const struct raft_entry *e)
{
    struct raft_config c;
    if (raft_config_decode(e->data, e->len, &c) != 0) {
        fail(s, "committed configuration %" PRIu64 " does not decode", e->index);
        return;
    }
    for (uint32_t i = 0; i < c.n; i++) {
        const struct raft_server *old = raft_config_get(&s->last_conf, c.servers[i].id);
        if (!old)
            s->st->conf_adds++;
        else if (old->role == RAFT_LEARNER && c.servers[i].role == RAFT_VOTER)
            s->st->conf_promotions++;
    }
    for (uint32_t i = 0; i < s->last_conf.n; i++)
        if (!raft_config_get(&c, s->last_conf.servers[i].id)) s->st->conf_removals++;
    s->last_conf = c;
}

static void apply(struct sim *s, struct node *n, const struct raft_update *u)
{
    for (size_t i = 0; i < u->n_committed && !s->failed; i++) {
        const struct raft_entry *e = &u->committed[i];
        if (e->index != n->applied + 1) {
            fail(s, "node %d: applies %" PRIu64 " after %" PRIu64, n->idx + 1, e->index,
                 n->applied);
            return;
        }
        if (!chain_has(n, e->index) || n->chain_term[e->index] != e->term) {
            fail(s, "node %d: applies %" PRIu64 " which storage does not hold", n->idx + 1,
                 e->index);
            return;
        }
        s->committed =
            grow_zero(s->committed, &s->committed_cap, e->index + 1, sizeof *s->committed);
        struct committed_rec *c = &s->committed[e->index];
        if (c->term == 0) {
            *c = (struct committed_rec){e->term, n->chain[e->index], s->now, raft_term_of(n->r)};
            if (e->type == RAFT_ENTRY_CONFIG) count_change(s, e);
        } else if (c->hash != n->chain[e->index]) {
            fail(s,
                 "state machine safety: node %d applies a different entry %" PRIu64
                 " (term %" PRIu64 ", committed term %" PRIu64 ")",
                 n->idx + 1, e->index, e->term, c->term);
            return;
        }
        on_apply(s, n, e);
        n->applied = e->index;
    }
}

static void check_node(struct sim *s, struct node *n)
{
    char buf[256];
    if (raft_check_invariants(n->r, buf, sizeof buf) != 0) {
        fail(s, "node %d invariant: %s", n->idx + 1, buf);
        return;
    }
    int role = raft_role(n->r);
    raft_term term = raft_term_of(n->r);
    if (role == RAFT_LEADER && (n->last_role != RAFT_LEADER || n->last_term != term)) {
        tracef(s, "node %d leads term %" PRIu64, n->idx + 1, term);
        check_new_leader(s, n, term);
        if (!s->healed && chance(s, s->o->p_churn))
            push(s, s->now + rnd_range(s, 0, s->o->churn_max_ms * 1000ull), EV_CHURN, n->idx, term,
                 NULL);
    }
    n->last_role = role;
    n->last_term = term;
    raft_index c = raft_commit_index(n->r);
    if (c > n->commit_seen) note_committed(s, n, c);
    check_electable(s, n);
}

static void schedule_tick(struct sim *s, struct node *n)
{
    uint64_t d = raft_next_deadline(n->r);
    uint64_t t = global_us_of(n, d);
    if (t <= s->now) t = s->now + 1;
    if (n->tick_at > s->now && n->tick_at <= t) return;
    n->tick_at = t;
    n->tick_gen++;
    push(s, t, EV_TICK, n->idx, n->tick_gen, NULL);
}

static void node_drive(struct sim *s, struct node *n)
{
    for (int guard = 0; guard < 64 && n->alive && !s->failed; guard++) {
        struct raft_update u;
        if (!raft_ready(n->r, &u)) break;
        persist(s, n, &u);
        for (size_t i = 0; i < u.n_msgs; i++)
            send_msg(s, n, &u.msgs[i]);
        apply(s, n, &u);
        for (size_t i = 0; i < u.n_reads; i++)
            on_read(s, n, &u.reads[i]);
        if (u.snapshot_wanted) n->want_snapshot = true;
        raft_done(n->r, &u);
        if (n->want_snapshot) take_snapshot(s, n);
    }
    if (!n->alive || s->failed) return;
    check_node(s, n);
    schedule_tick(s, n);
}

static void sync_event(struct sim *s, struct event *e)
{
    struct node *n = &s->nodes[e->node];
    if (!n->alive || e->gen != n->sync_gen) return;
    n->sync_busy = false;
    if (n->n_ops == 0) return;
    /* group commit: everything queued so far becomes durable at once */
    uint64_t seq = n->ops[n->n_ops - 1].seq;
    for (size_t i = 0; i < n->n_ops; i++) {
        dop_apply(n, &n->ops[i]);
        dop_free(&n->ops[i]);
    }
    n->n_ops = 0;
    if (n->paused) { /* the completion waits for the thread to run */
        struct raft_event ev = {.type = RAFT_EV_PERSISTED};
        ev.persisted.seq = seq;
        raft_step(n->r, local_ms(s, n), &ev, NULL);
        return;
    }
    struct raft_event ev = {.type = RAFT_EV_PERSISTED};
    ev.persisted.seq = seq;
    step(s, n, &ev, NULL);
}

/* ------------------------------------------------------------------------ */
/* Faults                                                                    */

static struct node *leader_node(struct sim *s)
{
    struct node *best = NULL;
    for (int i = 0; i < s->n_nodes; i++) {
        struct node *n = &s->nodes[i];
        if (n->alive && raft_role(n->r) == RAFT_LEADER &&
            (!best || raft_term_of(n->r) > raft_term_of(best->r)))
            best = n;
    }
    return best;
}

static int alive_count(struct sim *s)
{
    int k = 0;
    for (int i = 0; i < s->n_nodes; i++)
        k += s->nodes[i].alive;
    return k;
}

static void fault_membership(struct sim *s)
{
    struct node *l = leader_node(s);
    if (!l) return;
    const struct raft_config *c = raft_config_latest(l->r);
    struct raft_event ev = {.type = RAFT_EV_CHANGE};
    int pick = (int)cn_rand_below(&s->rnd, (uint64_t)s->n_nodes);
    raft_id id = (raft_id)pick + 1;
    const struct raft_server *sv = raft_config_get(c, id);
    uint32_t voters = raft_config_voters(c);
    if (!sv) {
        ev.change.op = chance(s, 0.5) ? RAFT_ADD_VOTER : RAFT_ADD_LEARNER;
    } else if (sv->role == RAFT_LEARNER && chance(s, 0.6)) {
        ev.change.op = RAFT_ADD_VOTER;
    } else if (voters > 2 || sv->role == RAFT_LEARNER) {
        ev.change.op = RAFT_REMOVE;
    } else {
        return;
    }
    ev.change.id = id;
    int rc;
    step(s, l, &ev, &rc);
    tracef(s, "change op=%d node %d via leader %d: %s", ev.change.op, pick + 1, l->idx + 1,
           cn_strerror(rc));
    if (rc == 0) s->st->changes++;
    if (rc == 0 && ev.change.op == RAFT_REMOVE && id == l->id) s->st->self_removals++;
}

static void fault_partition(struct sim *s)
{
    int n = s->n_nodes;
    int kind = (int)cn_rand_below(&s->rnd, 3);
    if (kind == 0 && s->o->f_partition) { /* symmetric split */
        bool side[NODES_MAX];
        for (int i = 0; i < n; i++)
            side[i] = chance(s, 0.5);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                s->link_down[i][j] = side[i] != side[j];
        tracef(s, "partition");
    } else if (kind == 1 && s->o->f_oneway) { /* one-way links */
        int a = (int)cn_rand_below(&s->rnd, (uint64_t)n),
            b = (int)cn_rand_below(&s->rnd, (uint64_t)n);
        if (a != b) s->link_down[a][b] = true;
        tracef(s, "link %d->%d down", a + 1, b + 1);
    } else if (s->o->f_partition) { /* isolate the leader */
        struct node *l = leader_node(s);
        if (!l) return;
        for (int j = 0; j < n; j++)
            s->link_down[l->idx][j] = s->link_down[j][l->idx] = j != l->idx;
        tracef(s, "isolate leader %d", l->idx + 1);
    }
    uint64_t e_us = (s->o->election_ms ? s->o->election_ms : 500u * s->o->multiplier) * 1000ull;
    push(s, s->now + rnd_range(s, 100000, 3 * e_us), EV_HEAL_LINK, 0, 0, NULL);
}

static void fault_event(struct sim *s)
{
    if (s->healed) return;
    const struct sim_opts *o = s->o;
    int choice = (int)cn_rand_below(&s->rnd, 7);
    if (o->f_member && chance(s, 0.4)) choice = 5;
    struct node *n = &s->nodes[cn_rand_below(&s->rnd, (uint64_t)s->n_nodes)];
    switch (choice) {
    case 0:
        if (o->f_crash && n->alive && alive_count(s) > 1) {
            node_crash(s, n);
            push(s, s->now + rnd_range(s, 50000, 1500000), EV_RESTART, n->idx, 0, NULL);
        }
        break;
    case 1:
        if (o->f_crash && chance(s, 0.5)) { /* the leader, preferably */
            struct node *l = leader_node(s);
            if (l) {
                node_crash(s, l);
                push(s, s->now + rnd_range(s, 50000, 1500000), EV_RESTART, l->idx, 0, NULL);
            }
        }
        break;
    case 2:
        if (o->f_pause && n->alive && !n->paused) {
            n->paused = true;
            n->resume_gen++;
            tracef(s, "pause node %d", n->idx + 1);
            push(s, s->now + rnd_range(s, 20000, 1500000), EV_RESUME, n->idx, n->resume_gen, NULL);
        }
        break;
    case 3:
        if (o->f_partition || o->f_oneway) fault_partition(s);
        break;
    case 4:
        if (o->f_clog) { /* swizzle-clog: slow a random subset of links for a while */
            uint64_t until = s->now + rnd_range(s, 50000, 800000);
            for (int i = 0; i < s->n_nodes; i++)
                for (int j = 0; j < s->n_nodes; j++)
                    if (chance(s, 0.3)) s->clog_until[i][j] = until;
            tracef(s, "clog");
        }
        break;
    case 5:
        if (o->f_member) fault_membership(s);
        break;
    case 6:
        if (o->f_transfer) {
            struct node *l = leader_node(s);
            if (l) {
                struct raft_event ev = {.type = RAFT_EV_TRANSFER};
                int rc;
                step(s, l, &ev, &rc);
                tracef(s, "transfer from %d: %s", l->idx + 1, cn_strerror(rc));
                if (rc == 0) s->st->transfers++;
            }
        }
        break;
    }
    push(s, s->now + rnd_range(s, o->fault_min_ms * 1000ull, o->fault_max_ms * 1000ull), EV_FAULT,
         0, 0, NULL);
}

static void heal(struct sim *s)
{
    tracef(s, "heal");
    s->healed = true;
    s->p_drop = s->p_dup = s->p_slow = 0;
    memset(s->link_down, 0, sizeof s->link_down);
    memset(s->clog_until, 0, sizeof s->clog_until);
    for (int i = 0; i < s->n_nodes; i++) {
        struct node *n = &s->nodes[i];
        if (!n->alive) {
            node_start(s, n);
            node_drive(s, n);
        } else if (n->paused) {
            n->paused = false;
            release_held_clients(s, n);
            node_drive(s, n);
            release_held(s, n);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Liveness and the final checks                                             */

/* After healing: a leader whose last write every member has applied. */
static bool settled(struct sim *s, raft_index target)
{
    struct node *l = leader_node(s);
    if (!l || raft_commit_index(l->r) < target) return false;
    const struct raft_config *c = raft_config_latest(l->r);
    for (uint32_t i = 0; i < c->n; i++) {
        struct node *n = &s->nodes[c->servers[i].id - 1];
        if (!n->alive || n->applied < target) return false;
    }
    return true;
}

static bool lost_write(struct sim *s, raft_index target, raft_term term)
{
    struct node *l = leader_node(s);
    if (!l || raft_term_of(l->r) == term) return false;
    const struct raft_entry *e = raft_entry_at(l->r, target);
    return target > raft_last_index(l->r) || (e && e->term != term);
}

static void check_history(struct sim *s)
{
    struct lin_op *h = cn_malloc((s->n_ops + 1) * sizeof *h);
    for (int k = 0; k < s->o->keys && !s->failed; k++) {
        int n = 0;
        for (size_t i = 0; i < s->n_ops; i++) {
            struct op *o = &s->ops[i];
            if (o->key != k) continue;
            if (o->write && o->state != OP_OK) {
                /* No answer: it took effect iff its entry was committed, and
                 * then no later than the first moment anyone knew that. */
                if (o->idx && o->idx < s->committed_cap && s->committed[o->idx].term == o->term) {
                    o->ret = s->committed[o->idx].t;
                    o->state = OP_OK;
                    s->st->ops_unknown++;
                } else {
                    continue;
                }
            }
            if (o->state != OP_OK) continue;
            if (o->write)
                s->st->writes_ok++;
            else
                s->st->reads_ok++;
            h[n++] = (struct lin_op){o->call, o->ret, o->write, o->value};
        }
        int rc = lin_check(h, n, 2000000, &s->st->lin_states);
        if (rc == 0) fail(s, "history of key %d (%d ops) is not linearizable", k, n);
        if (rc < 0 && s->trace) printf("linearizability search budget exhausted on key %d\n", k);
    }
    free(h);
}

/* ------------------------------------------------------------------------ */

static void sim_free(struct sim *s)
{
    while (s->heap.n) {
        struct event e = heap_pop(&s->heap);
        raft_buf_unref(e.frame);
    }
    free(s->heap.v);
    for (int i = 0; i < s->n_nodes; i++) {
        struct node *n = &s->nodes[i];
        raft_free(n->r);
        for (size_t k = 0; k < n->n_ops; k++)
            dop_free(&n->ops[k]);
        free(n->ops);
        disk_truncate(&n->disk, 0);
        free(n->disk.log);
        free(n->disk.blob);
        free(n->chain);
        free(n->chain_term);
        free(n->rcv);
        for (size_t k = 0; k < n->n_held; k++)
            raft_buf_unref(n->held[k]);
        free(n->held);
    }
    free(s->leaders);
    free(s->committed);
    free(s->lm);
    free(s->ops);
    cn_buf_release(&s->enc);
}

static void run_event(struct sim *s, struct event *e)
{
    struct node *n = &s->nodes[e->node];
    switch (e->kind) {
    case EV_DELIVER:
        deliver(s, e);
        raft_buf_unref(e->frame);
        break;
    case EV_TICK:
        if (!n->alive || e->gen != n->tick_gen) break;
        n->tick_at = 0;
        if (n->paused) break; /* rescheduled on resume */
        step(s, n, &(struct raft_event){.type = RAFT_EV_TICK}, NULL);
        break;
    case EV_SYNC:
        sync_event(s, e);
        break;
    case EV_CLIENT:
        client_event(s, e);
        break;
    case EV_FAULT:
        fault_event(s);
        break;
    case EV_RESTART:
        if (n->alive || s->healed) break;
        tracef(s, "restart node %d", n->idx + 1);
        node_start(s, n);
        node_drive(s, n);
        break;
    case EV_RESUME:
        if (!n->alive || !n->paused || e->gen != n->resume_gen) break;
        tracef(s, "resume node %d", n->idx + 1);
        n->paused = false;
        release_held_clients(s, n);
        node_drive(s, n);
        release_held(s, n);
        break;
    case EV_CHURN:
        if (s->healed || !n->alive || raft_role(n->r) != RAFT_LEADER ||
            raft_term_of(n->r) != e->gen)
            break;
        node_crash(s, n);
        push(s, s->now + rnd_range(s, 1000, 100000), EV_RESTART, n->idx, 0, NULL);
        break;
    case EV_HEAL_LINK:
        if (!s->healed) {
            memset(s->link_down, 0, sizeof s->link_down);
            tracef(s, "links healed");
        }
        break;
    }
}

static void sim_setup(struct sim *s, const struct sim_opts *o)
{
    s->p_drop = o->p_drop;
    s->p_dup = o->p_dup;
    s->p_slow = o->p_slow;
    s->n_nodes = o->voters + o->spares;
    CN_ASSERT(s->n_nodes <= NODES_MAX && o->keys <= KEYS_MAX && o->clients <= CLIENTS_MAX);
    struct raft_config conf = {0};
    for (int i = 0; i < o->voters; i++)
        conf.servers[conf.n++] = (struct raft_server){(raft_id)i + 1, RAFT_VOTER};
    for (int i = 0; i < s->n_nodes; i++) {
        struct node *n = &s->nodes[i];
        n->idx = i;
        n->id = (raft_id)i + 1;
        n->rate = 1.0 + (cn_rand_double(&s->rnd) * 2 - 1) * o->drift;
        n->offset_us = cn_rand_below(&s->rnd, 1000000000ULL);
        node_start(s, n);
        if (i < o->voters) {
            int rc = raft_bootstrap(n->r, &conf);
            CN_ASSERT(rc == 0);
        }
    }
    for (int i = 0; i < s->n_nodes; i++)
        node_drive(s, &s->nodes[i]);
    for (int c = 0; c < o->clients; c++) {
        s->clients[c].op = -1;
        s->clients[c].target = (int)cn_rand_below(&s->rnd, (uint64_t)o->voters);
        client_next(s, c, rnd_range(s, 0, 200000));
    }
    if (o->fault_max_ms) push(s, rnd_range(s, 100000, 400000), EV_FAULT, 0, 0, NULL);
}

/* After healing: propose one write once a leader stands (again, if a newer
 * leader lost it); true once every member has applied it. */
static bool final_write(struct sim *s, raft_index *target, raft_term *target_term)
{
    if (*target && lost_write(s, *target, *target_term)) *target = 0;
    if (*target) return settled(s, *target);
    struct node *l = leader_node(s);
    if (!l) return false;
    struct raft_proposal p = {.data = (const uint8_t *)"final", .len = 5};
    struct raft_event ev = {.type = RAFT_EV_PROPOSE};
    ev.propose.items = &p;
    ev.propose.n = 1;
    int rc;
    step(s, l, &ev, &rc);
    if (rc == 0) {
        *target = raft_last_index(l->r);
        *target_term = raft_term_of(l->r);
    }
    tracef(s, "final write via node %d: %s (index %" PRIu64 ")", l->idx + 1, cn_strerror(rc),
           *target);
    return false;
}

static void dump_state(struct sim *s)
{
    printf("liveness failure; state after %" PRIu64 " ms of healing:\n", s->o->live_ms);
    for (int i = 0; i < s->n_nodes; i++) {
        struct node *n = &s->nodes[i];
        if (!n->alive) continue;
        printf("node %d: %s term=%" PRIu64 " leader=%" PRIu64 " commit=%" PRIu64 " applied=%" PRIu64
               " last=%" PRIu64 " persisted=%" PRIu64 " paused=%d ops=%zu\n",
               i + 1, raft_role_name(raft_role(n->r)), raft_term_of(n->r), raft_leader(n->r),
               raft_commit_index(n->r), n->applied, raft_last_index(n->r),
               raft_persisted_index(n->r), n->paused, n->n_ops);
        struct raft_peer_status ps[16];
        size_t k = raft_peers(n->r, ps, 16);
        for (size_t j = 0; j < k; j++)
            printf("  peer %" PRIu64 " match=%" PRIu64 " next=%" PRIu64 " ack=%" PRIu64 "\n",
                   ps[j].id, ps[j].match, ps[j].next, ps[j].last_ack_ms);
    }
}

/* The fault phase, healing, then the liveness bound; true when live. */
static bool sim_loop(struct sim *s)
{
    uint64_t heal_at = s->o->fault_ms * 1000, deadline = 0;
    raft_index target = 0;
    raft_term target_term = 0;
    while (!s->failed && s->heap.n) {
        struct event e = heap_pop(&s->heap);
        if (!s->healed && e.t >= heal_at) {
            heap_push(&s->heap, e);
            s->now = heal_at;
            heal(s);
            deadline = s->now + s->o->live_ms * 1000;
            continue;
        }
        if (s->healed && e.t > deadline) {
            raft_buf_unref(e.frame);
            return false;
        }
        s->now = e.t;
        s->st->events++;
        run_event(s, &e);
        if (s->healed && !s->failed && final_write(s, &target, &target_term)) return true;
    }
    return false;
}

bool sim_run(const struct sim_opts *o, uint64_t seed, bool trace, struct sim_stats *st, char *why,
             size_t why_len)
{
    struct sim *s = CN_NEW(struct sim);
    struct sim_stats dummy;
    memset(&dummy, 0, sizeof dummy);
    s->o = o;
    s->st = st ? st : &dummy;
    s->trace = trace;
    s->why = why;
    s->why_len = why_len;
    why[0] = 0;
    cn_rand_seed(&s->rnd, seed);
    cn_buf_init(&s->enc, CN_BUF_UNLIMITED);
    sim_setup(s, o);
    bool live = sim_loop(s);
    if (!s->failed && !live) {
        if (s->trace) dump_state(s);
        fail(s,
             "liveness: no leader committed and applied a write everywhere %" PRIu64
             " ms after healing",
             o->live_ms);
    }
    if (!s->failed) check_history(s);
    bool ok = !s->failed;
    sim_free(s);
    free(s);
    return ok;
}
