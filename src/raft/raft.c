/* raft.c - lifecycle, event dispatch, update assembly and the bookkeeping of
 * what is durable (see the persistence contract in raft.h). */
#include <stdio.h>
#include <string.h>

#include "lib/cn_buf.h"
#include "raft/raft_int.h"

/* ---- small helpers ------------------------------------------------------ */

void raft__grow(void **v, size_t *cap, size_t elem)
{
    size_t n = *cap ? *cap * 2 : 16;
    *v = cn_realloc(*v, n * elem);
    *cap = n;
}

uint32_t raft__quorum(uint32_t voters)
{
    return voters / 2 + 1;
}

void raft__trace(struct raft *r, const char *fmt, ...)
{
    int n = snprintf(r->tracebuf, sizeof r->tracebuf,
                     "%llu %llu t%llu %s: ", (unsigned long long)r->now, (unsigned long long)r->id,
                     (unsigned long long)r->term, raft_role_name(r->role));
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof r->tracebuf)
        vsnprintf(r->tracebuf + n, sizeof r->tracebuf - (size_t)n, fmt, ap);
    va_end(ap);
    r->cfg.trace(r->cfg.trace_ctx, r->tracebuf);
}

const char *raft_role_name(int role)
{
    switch (role) {
    case RAFT_FOLLOWER:
        return "follower";
    case RAFT_PRECANDIDATE:
        return "precandidate";
    case RAFT_CANDIDATE:
        return "candidate";
    case RAFT_LEADER:
        return "leader";
    default:
        return "?";
    }
}

/* ---- configuration ------------------------------------------------------ */

void raft_cfg_defaults(struct raft_cfg *c, raft_id id, unsigned multiplier, uint64_t seed)
{
    if (multiplier < 1) multiplier = 1;
    if (multiplier > 10) multiplier = 10;
    memset(c, 0, sizeof *c);
    c->id = id;
    cn_rand_seed(&c->rand, seed);
    c->election_ms = 500 * multiplier;
    c->heartbeat_ms = c->election_ms / 10;
    c->lease_ms = c->election_ms * 9 / 10;
    c->retransmit_ms = 2 * c->heartbeat_ms;
    c->pre_vote = true;
    c->check_quorum = true;
    c->max_msg_bytes = 1u << 20;
    c->max_msg_entries = 1024;
    c->max_inflight = 64;
    c->max_uncommitted_bytes = 256u << 20;
    c->max_apply_entries = 4096;
    c->snapshot_threshold = 16384;
    c->trailing_logs = 10240;
    c->snapshot_chunk_bytes = 1u << 20;
    c->promote_rounds_max = 10;
}

static int cfg_check(const struct raft_cfg *c)
{
    if (c->id == 0 || c->election_ms == 0 || c->heartbeat_ms == 0) return CN_EINVAL;
    if (c->heartbeat_ms >= c->election_ms || c->lease_ms >= c->election_ms) return CN_EINVAL;
    if (c->retransmit_ms == 0 || c->max_msg_bytes == 0 || c->max_msg_entries == 0) return CN_EINVAL;
    if (c->max_msg_entries > RAFT_MSG_ENTRIES_MAX || c->max_inflight == 0) return CN_EINVAL;
    if (c->max_inflight > 4096 || c->max_apply_entries == 0) return CN_EINVAL;
    if (c->snapshot_chunk_bytes == 0 || c->snapshot_chunk_bytes > RAFT_CHUNK_MAX) return CN_EINVAL;
    return 0;
}

/* ---- lifecycle ---------------------------------------------------------- */

int raft_new(const struct raft_cfg *cfg, struct raft **out)
{
    int rc = cfg_check(cfg);
    if (rc) return rc;
    struct raft *r = CN_NEW(struct raft);
    r->cfg = *cfg;
    r->id = cfg->id;
    r->role = RAFT_FOLLOWER;
    raft__log_init(&r->log);
    for (int i = 0; i < RAFT_SERVERS_MAX; i++)
        r->prs[i].infl = cn_calloc(cfg->max_inflight, sizeof(raft_index));
    raft__conf_reset(r, 0, &(struct raft_config){0});
    *out = r;
    return 0;
}

static void release_update_refs(struct raft *r)
{
    for (size_t i = 0; i < r->ents.n; i++)
        raft_buf_unref(r->ents.v[i].buf);
    for (size_t i = 0; i < r->chunks.n; i++)
        raft_buf_unref(r->chunks.v[i].buf);
    r->ents.n = 0;
    r->chunks.n = 0;
}

void raft_free(struct raft *r)
{
    if (!r) return;
    release_update_refs(r);
    raft__log_release(&r->log);
    for (int i = 0; i < RAFT_SERVERS_MAX; i++)
        cn_free(r->prs[i].infl);
    cn_free(r->confs.v);
    cn_free(r->pend.v);
    cn_free(r->deferred.v);
    cn_free(r->reads.v);
    cn_free(r->msgs.v);
    cn_free(r->ents.v);
    cn_free(r->msg_ent_off.v);
    cn_free(r->confbuf.v);
    cn_free(r->chunks.v);
    cn_free(r->reads_out.v);
    cn_free(r->reads_fill.v);
    cn_free(r);
}

int raft_restore(struct raft *r, const struct raft_restore *rs)
{
    if (r->booted || raft__log_last(&r->log) != 0) return CN_EINVAL;
    raft_index prev = rs->snap.index;
    raft_term prev_term = rs->snap.term;
    if ((prev == 0) != (prev_term == 0)) return CN_ECORRUPT;
    for (size_t i = 0; i < rs->n_entries; i++) {
        const struct raft_entry *e = &rs->entries[i];
        if (e->index != prev + 1 + i || e->term < prev_term || e->term == 0) return CN_ECORRUPT;
        if (e->type < RAFT_ENTRY_NORMAL || e->type > RAFT_ENTRY_CONFIG) return CN_ECORRUPT;
        struct raft_config c;
        if (e->type == RAFT_ENTRY_CONFIG && raft_config_decode(e->data, e->len, &c) != 0)
            return CN_ECORRUPT;
        prev_term = e->term;
    }
    r->snap = rs->snap;
    raft__log_reset(&r->log, rs->snap.index, rs->snap.term);
    raft__conf_reset(r, rs->snap.index, &rs->snap.conf);
    for (size_t i = 0; i < rs->n_entries; i++) {
        raft__log_append(&r->log, &rs->entries[i]);
        raft__conf_on_append(r, raft__log_get(&r->log, rs->entries[i].index));
    }
    /* A crash may have kept entries of a term whose hard state was lost. */
    r->term = CN_MAX(rs->term, raft__log_last_term(&r->log));
    r->vote = rs->term == r->term ? rs->vote : 0;
    r->hs_term_out = rs->term;
    r->hs_vote_out = rs->vote;
    if (r->term != rs->term) r->hs_seq = raft__cur_seq(r);
    r->commit = r->applied = rs->snap.index;
    r->persisted_index = raft__log_last(&r->log);
    RAFT_TRACE(r, "restored snap=%llu last=%llu", (unsigned long long)rs->snap.index,
               (unsigned long long)raft__log_last(&r->log));
    return 0;
}

int raft_bootstrap(struct raft *r, const struct raft_config *conf)
{
    if (raft__log_last(&r->log) != 0 || r->snap.index != 0 || r->term != 0) return CN_EEXIST;
    if (conf->n == 0 || conf->n > RAFT_SERVERS_MAX || raft_config_voters(conf) == 0)
        return CN_EINVAL;
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    raft_config_encode(conf, &b);
    struct raft_config check;
    int rc = raft_config_decode(b.data, b.len, &check);
    if (rc) {
        cn_buf_release(&b);
        return CN_EINVAL;
    }
    raft__set_hs(r, 1, 0);
    struct raft_buf *buf = raft_buf_copy(b.data, b.len);
    cn_buf_release(&b);
    struct raft_entry e = {.term = 1,
                           .type = RAFT_ENTRY_CONFIG,
                           .len = (uint32_t)buf->len,
                           .data = buf->data,
                           .buf = buf};
    raft__log_append(&r->log, &e);
    raft_buf_unref(buf);
    raft__note_write(r, 1);
    raft__conf_on_append(r, raft__log_get(&r->log, 1));
    return 0;
}

/* ---- outgoing messages -------------------------------------------------- */

struct raft_msg *raft__msg_new(struct raft *r, int type, raft_id to)
{
    struct raft_msg *m = raft__vec_push(&r->msgs);
    memset(m, 0, sizeof *m);
    m->type = (uint8_t)type;
    m->from = r->id;
    m->to = to;
    m->term = r->term;
    *raft__vec_push(&r->msg_ent_off) = SIZE_MAX;
    return m;
}

/* Send m once the writes of update seq are durable. */
void raft__msg_defer(struct raft *r, const struct raft_msg *m, uint64_t seq)
{
    CN_ASSERT(m->type != RAFT_MSG_APPEND && m->type != RAFT_MSG_SNAPSHOT);
    if (seq <= r->seq_durable) {
        struct raft_msg *d = raft__msg_new(r, m->type, m->to);
        *d = *m;
        return;
    }
    struct raft__deferred *d = raft__vec_push(&r->deferred);
    d->seq = seq;
    d->m = *m;
}

/* ---- persistence bookkeeping -------------------------------------------- */

/* The seq the update being accumulated will carry if it has writes. */
uint64_t raft__cur_seq(const struct raft *r)
{
    return r->seq_done + 1;
}

void raft__set_hs(struct raft *r, raft_term term, raft_id vote)
{
    CN_ASSERT(term >= r->term);
    if (term == r->term && vote == r->vote) return;
    r->term = term;
    r->vote = vote;
    r->hs_seq = raft__cur_seq(r);
    r->state_changed = true;
}

/* Entries >= i are about to be replaced: what was durable there no longer
 * describes the log in memory. */
void raft__note_truncate(struct raft *r, raft_index i)
{
    if (r->persisted_index >= i) r->persisted_index = i - 1;
    for (size_t k = r->pend_head; k < r->pend.n; k++)
        if (r->pend.v[k].last >= i) r->pend.v[k].last = i - 1;
}

/* Entries from i on must be written by this update. */
void raft__note_write(struct raft *r, raft_index i)
{
    if (r->w_from == 0 || i < r->w_from) r->w_from = i;
}

static void persisted(struct raft *r, uint64_t seq)
{
    if (seq > r->seq_done) seq = r->seq_done; /* never past what was handed out */
    if (seq <= r->seq_durable) return;
    r->seq_durable = seq;
    while (r->pend_head < r->pend.n && r->pend.v[r->pend_head].seq <= seq) {
        raft_index last = r->pend.v[r->pend_head++].last;
        if (last > r->persisted_index) r->persisted_index = last;
    }
    if (r->pend_head == r->pend.n) {
        r->pend_head = r->pend.n = 0;
    } else if (r->pend_head > 64 && r->pend_head * 2 > r->pend.n) {
        r->pend.n -= r->pend_head;
        memmove(r->pend.v, r->pend.v + r->pend_head, r->pend.n * sizeof *r->pend.v);
        r->pend_head = 0;
    }
    CN_ASSERT(r->persisted_index <= raft__log_last(&r->log));
    size_t keep = 0;
    for (size_t i = 0; i < r->deferred.n; i++) {
        struct raft__deferred *d = &r->deferred.v[i];
        if (d->seq <= seq) {
            struct raft_msg *m = raft__msg_new(r, d->m.type, d->m.to);
            *m = d->m;
        } else {
            r->deferred.v[keep++] = *d;
        }
    }
    r->deferred.n = keep;
    switch (r->role) {
    case RAFT_LEADER:
        if (raft__maybe_commit(r)) raft__reads_advance(r);
        break;
    case RAFT_CANDIDATE:
        if (!r->self_vote_counted && r->hs_seq <= r->seq_durable) raft__self_vote_durable(r);
        break;
    default:
        raft__follower_ack(r);
        break;
    }
}

/* ---- events ------------------------------------------------------------- */

static void boot(struct raft *r)
{
    r->booted = true;
    /* We may have acknowledged a leader just before a crash: honour its
     * lease as if we had heard from it now (see Reads in raft.h). */
    r->vote_block_until = r->now + r->cfg.election_ms;
    raft__reset_election_timer(r);
}

static void unreachable(struct raft *r, raft_id peer)
{
    if (r->role != RAFT_LEADER) return;
    struct raft__progress *p = raft__pr_find(r, peer);
    if (!p || p->state != RAFT__REPLICATE) return;
    p->state = RAFT__PROBE;
    p->next = p->match + 1;
    p->probe_sent = false;
    p->infl_n = 0;
}

/* Work that follows any event: a sole voter elects itself at once. */
static void after_event(struct raft *r)
{
    if (r->role == RAFT_FOLLOWER && raft__sole_voter(r)) raft__campaign(r, false, false);
}

/* Sends that batch: new entries and read rounds go out when the update is
 * collected, so every proposal and read stepped before then shares one
 * AppendEntries per follower and one heartbeat round. */
static void flush(struct raft *r)
{
    if (r->role != RAFT_LEADER) {
        r->read_round_wanted = r->broadcast_wanted = false;
        return;
    }
    if (r->read_round_wanted) {
        r->read_round_wanted = false;
        r->hb_seq++;
        for (size_t i = r->reads_head; i < r->reads.n; i++)
            if (r->reads.v[i].seq == 0 && r->reads.v[i].index != 0) r->reads.v[i].seq = r->hb_seq;
        raft__broadcast_heartbeat(r);
        raft__reads_advance(r);
    }
    if (r->broadcast_wanted) {
        r->broadcast_wanted = false;
        raft__broadcast_append(r);
    }
}

int raft_step(struct raft *r, uint64_t now_ms, const struct raft_event *ev, struct raft_update *u)
{
    if (now_ms > r->now) r->now = now_ms;
    if (!r->booted) boot(r);
    int rc = 0;
    switch (ev->type) {
    case RAFT_EV_TICK:
        raft__tick(r);
        break;
    case RAFT_EV_RECV:
        if (!ev->recv || ev->recv->to != r->id || ev->recv->from == r->id) {
            rc = CN_EINVAL;
            break;
        }
        rc = raft__recv(r, ev->recv);
        break;
    case RAFT_EV_PERSISTED:
        persisted(r, ev->persisted.seq);
        break;
    case RAFT_EV_PROPOSE:
        rc = raft__propose(r, ev->propose.items, ev->propose.n);
        break;
    case RAFT_EV_READ:
        rc = raft__read(r, ev->read.ctx, ev->read.lease);
        break;
    case RAFT_EV_SNAPSHOT_TAKEN:
        rc = raft__snapshot_taken(r, ev->snapshot_taken.index);
        break;
    case RAFT_EV_TRANSFER:
        rc = raft__transfer(r, ev->transfer.target);
        break;
    case RAFT_EV_CHANGE:
        rc = raft__change(r, ev->change.op, ev->change.id);
        break;
    case RAFT_EV_UNREACHABLE:
        unreachable(r, ev->unreachable.peer);
        break;
    case RAFT_EV_CAMPAIGN:
        if (r->role != RAFT_LEADER && raft__is_voter(r)) raft__campaign(r, r->cfg.pre_vote, false);
        break;
    default:
        rc = CN_EINVAL;
        break;
    }
    after_event(r);
    if (u) raft_ready(r, u);
    return rc;
}

/* ---- updates ------------------------------------------------------------ */

static bool read_ready(const struct raft_read *rd, raft_index applied)
{
    return rd->err != 0 || rd->index <= applied;
}

bool raft_ready(struct raft *r, struct raft_update *u)
{
    flush(r);
    memset(u, 0, sizeof *u);
    raft_index last = raft__log_last(&r->log);
    u->hs_changed = r->term != r->hs_term_out || r->vote != r->hs_vote_out;
    u->term = r->term;
    u->vote = r->vote;
    if (r->install) {
        u->snap_install = true;
        u->snap_keep_log = r->install_keep;
        u->snap = r->install_meta;
    }
    u->chunks = r->chunks.v;
    u->n_chunks = r->chunks.n;
    if (r->w_from && r->w_from <= last) {
        CN_ASSERT(r->w_from >= r->log.first);
        u->entries = raft__log_get(&r->log, r->w_from);
        u->n_entries = (size_t)(last - r->w_from + 1);
    }
    if (u->hs_changed || u->snap_install || u->n_chunks || u->n_entries) u->seq = raft__cur_seq(r);

    for (size_t i = 0; i < r->msgs.n; i++) {
        struct raft_msg *m = &r->msgs.v[i];
        size_t off = r->msg_ent_off.v[i];
        if (off == SIZE_MAX) continue;
        if (m->type == RAFT_MSG_APPEND) m->append.entries = &r->ents.v[off];
        if (m->type == RAFT_MSG_SNAPSHOT) m->snap.conf = &r->confbuf.v[off];
    }
    u->msgs = r->msgs.v;
    u->n_msgs = r->msgs.n;

    raft_index applied = r->applied;
    raft_index upto = CN_MIN(r->commit, r->applied + r->cfg.max_apply_entries);
    if (upto > applied) {
        u->committed = raft__log_get(&r->log, applied + 1);
        CN_ASSERT(u->committed != NULL);
        u->n_committed = (size_t)(upto - applied);
        applied = upto;
    }
    r->reads_fill.n = 0;
    for (size_t i = 0; i < r->reads_out.n; i++)
        if (read_ready(&r->reads_out.v[i], applied))
            *raft__vec_push(&r->reads_fill) = r->reads_out.v[i];
    u->reads = r->reads_fill.v;
    u->n_reads = r->reads_fill.n;

    u->snapshot_wanted = applied - r->snap.index >= r->cfg.snapshot_threshold;
    u->compacted_to = r->compacted_to;
    u->state_changed = r->state_changed;
    u->role = r->role;
    u->leader = r->leader;
    return u->seq || u->n_msgs || u->n_committed || u->n_reads || u->state_changed ||
           u->compacted_to;
}

void raft_done(struct raft *r, struct raft_update *u)
{
    if (u->seq) {
        CN_ASSERT(u->seq == raft__cur_seq(r));
        struct raft__pending *p = raft__vec_push(&r->pend);
        p->seq = u->seq;
        p->last = raft__log_last(&r->log);
        r->seq_done = u->seq;
        r->hs_term_out = u->term;
        r->hs_vote_out = u->vote;
    }
    if (u->n_committed) {
        raft_index last = u->committed[u->n_committed - 1].index;
        if (last > r->applied) r->applied = last;
    }
    size_t keep = 0;
    for (size_t i = 0; i < r->reads_out.n; i++)
        if (!read_ready(&r->reads_out.v[i], r->applied)) r->reads_out.v[keep++] = r->reads_out.v[i];
    r->reads_out.n = keep;
    release_update_refs(r);
    r->msgs.n = 0;
    r->msg_ent_off.n = 0;
    r->confbuf.n = 0;
    r->w_from = 0;
    r->install = false;
    r->state_changed = false;
    r->compacted_to = 0;
}

/* ---- queries ------------------------------------------------------------ */

int raft_role(const struct raft *r)
{
    return r->role;
}
raft_id raft_id_of(const struct raft *r)
{
    return r->id;
}
raft_id raft_leader(const struct raft *r)
{
    return r->leader;
}
raft_term raft_term_of(const struct raft *r)
{
    return r->term;
}
raft_index raft_commit_index(const struct raft *r)
{
    return r->commit;
}
raft_index raft_applied_index(const struct raft *r)
{
    return r->applied;
}
raft_index raft_last_index(const struct raft *r)
{
    return raft__log_last(&r->log);
}
raft_term raft_last_term(const struct raft *r)
{
    return raft__log_last_term(&r->log);
}
raft_index raft_first_index(const struct raft *r)
{
    return r->log.first;
}
raft_index raft_persisted_index(const struct raft *r)
{
    return r->persisted_index;
}
const struct raft_snapshot_meta *raft_snapshot(const struct raft *r)
{
    return &r->snap;
}
const struct raft_config *raft_config_latest(const struct raft *r)
{
    return raft__conf(r);
}
const struct raft_entry *raft_entry_at(const struct raft *r, raft_index index)
{
    return raft__log_get(&r->log, index);
}

uint64_t raft_last_contact_ms(const struct raft *r, uint64_t now_ms)
{
    if (r->role == RAFT_LEADER) return 0;
    if (!r->have_contact) return UINT64_MAX;
    return now_ms > r->last_leader_contact ? now_ms - r->last_leader_contact : 0;
}

uint64_t raft_next_deadline(const struct raft *r)
{
    if (r->role != RAFT_LEADER) return r->election_deadline;
    uint64_t d = r->now + r->cfg.heartbeat_ms;
    for (uint32_t i = 0; i < r->n_prs; i++) {
        const struct raft__progress *p = &r->prs[i];
        d = CN_MIN(d, p->hb_due_ms);
        if (p->state == RAFT__PROBE && p->probe_sent)
            d = CN_MIN(d, p->probe_sent_ms + r->cfg.heartbeat_ms);
        if (p->state == RAFT__REPLICATE && p->infl_n)
            d = CN_MIN(d, p->infl_since_ms + r->cfg.retransmit_ms);
    }
    if (r->transfer_target) d = CN_MIN(d, r->transfer_deadline);
    return d;
}

size_t raft_peers(const struct raft *r, struct raft_peer_status *out, size_t max)
{
    if (r->role != RAFT_LEADER) return 0;
    size_t n = 0;
    for (uint32_t i = 0; i < r->n_prs && n < max; i++) {
        const struct raft__progress *p = &r->prs[i];
        out[n++] = (struct raft_peer_status){p->id, p->role, p->match, p->next, p->last_ack_ms};
    }
    return n;
}

/* ---- invariants --------------------------------------------------------- */

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            snprintf(buf, len, __VA_ARGS__);                                                       \
            return CN_EINVAL;                                                                      \
        }                                                                                          \
    } while (0)

int raft_check_invariants(const struct raft *r, char *buf, size_t len)
{
    raft_index last = raft__log_last(&r->log);
    CHECK(r->applied <= r->commit, "applied %llu > commit %llu", (unsigned long long)r->applied,
          (unsigned long long)r->commit);
    CHECK(r->commit <= last, "commit %llu > last %llu", (unsigned long long)r->commit,
          (unsigned long long)last);
    CHECK(r->persisted_index <= last, "persisted %llu > last",
          (unsigned long long)r->persisted_index);
    CHECK(r->snap.index <= r->applied, "snapshot %llu > applied",
          (unsigned long long)r->snap.index);
    CHECK(r->log.first <= r->snap.index + 1, "log starts at %llu past snapshot %llu",
          (unsigned long long)r->log.first, (unsigned long long)r->snap.index);
    CHECK(r->applied + 1 >= r->log.first, "applied %llu below the memory log",
          (unsigned long long)r->applied);
    raft_term prev = r->log.prev_term;
    for (raft_index i = r->log.first; i <= last; i++) {
        const struct raft_entry *e = raft__log_get(&r->log, i);
        CHECK(e->index == i, "entry %llu has index %llu", (unsigned long long)i,
              (unsigned long long)e->index);
        CHECK(e->term >= prev && e->term <= r->term, "entry %llu term %llu out of order",
              (unsigned long long)i, (unsigned long long)e->term);
        prev = e->term;
        if (last - i > 64 && i - r->log.first > 64) i = last - 64; /* ends only: stay O(1) */
    }
    CHECK(r->confs.n >= 1, "no configuration record");
    CHECK(r->confs.v[r->confs.n - 1].index <= last, "configuration past the log");
    if (r->role == RAFT_LEADER) {
        CHECK(r->leader == r->id, "leader %llu is not self", (unsigned long long)r->leader);
        CHECK(r->vote == r->id, "leader did not vote for itself");
        for (uint32_t i = 0; i < r->n_prs; i++) {
            const struct raft__progress *p = &r->prs[i];
            CHECK(p->match < p->next, "peer %llu match %llu next %llu", (unsigned long long)p->id,
                  (unsigned long long)p->match, (unsigned long long)p->next);
            CHECK(p->next <= last + 1, "peer %llu next %llu past last %llu",
                  (unsigned long long)p->id, (unsigned long long)p->next, (unsigned long long)last);
            CHECK(p->infl_n <= r->cfg.max_inflight, "peer inflight overflow");
        }
    }
    if (r->role == RAFT_CANDIDATE) CHECK(r->vote == r->id, "candidate did not vote for itself");
    return 0;
}
