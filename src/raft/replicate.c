/* replicate.c - log replication (dissertation §3.5, §10.2): the leader's
 * per-follower progress with probing, pipelining and flow control, fast
 * conflict backtracking, the commit rule, and the follower's side of
 * AppendEntries and heartbeats. */
#include <string.h>

#include "raft/raft_int.h"

/* Term of entry i, also when i is the snapshot's last entry. */
static raft_term term_at(const struct raft *r, raft_index i)
{
    raft_term t = raft__log_term(&r->log, i);
    if (t == 0 && i != 0 && i == r->snap.index) t = r->snap.term;
    return t;
}

/* ---- progress ----------------------------------------------------------- */

static void pr_init(struct raft *r, struct raft__progress *p, const struct raft_server *s)
{
    raft_index *infl = p->infl;
    memset(p, 0, sizeof *p);
    p->infl = infl;
    p->id = s->id;
    p->role = s->role;
    p->state = RAFT__PROBE;
    p->next = raft__log_last(&r->log) + 1;
    p->last_ack_ms = r->now; /* a grace window for check-quorum */
    p->hb_due_ms = r->now;
}

struct raft__progress *raft__pr_find(struct raft *r, raft_id id)
{
    for (uint32_t i = 0; i < r->n_prs; i++)
        if (r->prs[i].id == id) return &r->prs[i];
    return NULL;
}

void raft__pr_reset_all(struct raft *r)
{
    r->n_prs = 0;
    raft__pr_sync(r);
}

/* Make the progress set match the latest configuration (every server but us). */
void raft__pr_sync(struct raft *r)
{
    const struct raft_config *c = raft__conf(r);
    for (uint32_t i = 0; i < r->n_prs;) {
        const struct raft_server *s = raft_config_get(c, r->prs[i].id);
        if (s) {
            r->prs[i].role = s->role;
            i++;
            continue;
        }
        struct raft__progress tmp = r->prs[i]; /* swap so each infl array survives */
        r->prs[i] = r->prs[r->n_prs - 1];
        r->prs[--r->n_prs] = tmp;
    }
    for (uint32_t i = 0; i < c->n; i++) {
        const struct raft_server *s = &c->servers[i];
        if (s->id == r->id || raft__pr_find(r, s->id)) continue;
        CN_ASSERT(r->n_prs < RAFT_SERVERS_MAX);
        pr_init(r, &r->prs[r->n_prs++], s);
    }
}

static void infl_push(struct raft *r, struct raft__progress *p, raft_index last)
{
    CN_ASSERT(p->infl_n < r->cfg.max_inflight);
    if (p->infl_n == 0) p->infl_since_ms = r->now;
    p->infl[(p->infl_head + p->infl_n) % r->cfg.max_inflight] = last;
    p->infl_n++;
}

static void infl_free_to(struct raft *r, struct raft__progress *p, raft_index upto)
{
    while (p->infl_n && p->infl[p->infl_head] <= upto) {
        p->infl_head = (p->infl_head + 1) % r->cfg.max_inflight;
        p->infl_n--;
    }
}

void raft__pr_probe(struct raft__progress *p, raft_index next)
{
    p->state = RAFT__PROBE;
    p->next = CN_MAX(next, p->match + 1);
    p->probe_sent = false;
    p->infl_n = 0;
    p->infl_head = 0;
}

static void become_replicate(struct raft__progress *p)
{
    p->state = RAFT__REPLICATE;
    p->next = p->match + 1;
    p->probe_sent = false;
    p->infl_n = 0;
    p->infl_head = 0;
}

void raft__pr_acked(struct raft *r, struct raft__progress *p, raft_index match)
{
    if (match <= p->match) return;
    p->match = match;
    if (p->next <= match) p->next = match + 1;
    infl_free_to(r, p, match);
    p->infl_since_ms = r->now;
}

/* ---- the leader sends --------------------------------------------------- */

/* One AppendEntries from p->next: as many entries as the byte and count caps
 * allow (always at least one). Returns false when nothing could be sent. */
static bool send_one(struct raft *r, struct raft__progress *p, bool allow_empty)
{
    raft_index prev = p->next - 1, last = raft__log_last(&r->log);
    raft_term prev_term = term_at(r, prev);
    if (p->next < r->log.first || (prev != 0 && prev_term == 0)) {
        raft__send_snapshot(r, p); /* §5: what it needs was compacted */
        return false;
    }
    if (p->next > last && !allow_empty) return false;
    struct raft_msg *m = raft__msg_new(r, RAFT_MSG_APPEND, p->id);
    m->append.prev_index = prev;
    m->append.prev_term = prev_term;
    m->append.commit = r->commit;
    size_t off = r->ents.n, bytes = 0;
    uint32_t n = 0;
    for (raft_index i = p->next; i <= last && n < r->cfg.max_msg_entries; i++) {
        const struct raft_entry *e = raft__log_get(&r->log, i);
        if (n > 0 && bytes + e->len > r->cfg.max_msg_bytes) break;
        struct raft_entry *d = raft__vec_push(&r->ents);
        *d = *e;
        raft_buf_ref(d->buf);
        bytes += e->len;
        n++;
    }
    m->append.n_entries = n;
    r->msg_ent_off.v[r->msg_ent_off.n - 1] = n ? off : SIZE_MAX;
    if (p->state == RAFT__PROBE) {
        p->probe_sent = true;
        p->probe_sent_ms = r->now;
    } else if (n) {
        p->next = prev + n + 1;
        infl_push(r, p, prev + n);
    }
    return true;
}

void raft__send_append(struct raft *r, struct raft__progress *p, bool allow_empty)
{
    switch (p->state) {
    case RAFT__SNAPSHOT:
        return;
    case RAFT__PROBE:
        /* A probe goes out even when empty: it is how we learn where the
         * follower's log stands (a server just added has next = last + 1). */
        if (!p->probe_sent) send_one(r, p, true);
        return;
    case RAFT__REPLICATE:
        /* §10.2 pipelining: keep sending while the window has room. */
        while (p->state == RAFT__REPLICATE && p->infl_n < r->cfg.max_inflight &&
               p->next <= raft__log_last(&r->log))
            if (!send_one(r, p, false)) break;
        return;
    }
}

void raft__broadcast_append(struct raft *r)
{
    for (uint32_t i = 0; i < r->n_prs; i++)
        raft__send_append(r, &r->prs[i], false);
}

void raft__send_heartbeat(struct raft *r, struct raft__progress *p)
{
    struct raft_msg *m = raft__msg_new(r, RAFT_MSG_HEARTBEAT, p->id);
    /* Only what the follower is known to hold may be declared committed. */
    m->hb.commit = CN_MIN(p->match, r->commit);
    m->hb.seq = r->hb_seq;
    m->hb.ts = r->now;
    p->hb_due_ms = r->now + r->cfg.heartbeat_ms;
}

void raft__broadcast_heartbeat(struct raft *r)
{
    for (uint32_t i = 0; i < r->n_prs; i++)
        raft__send_heartbeat(r, &r->prs[i]);
}

/* The quorum-th largest of the voters' values (self included as self_val). */
static raft_index quorum_value(const struct raft *r, const struct raft_config *c,
                               raft_index self_val, const struct raft__progress *prs, uint32_t n)
{
    raft_index v[RAFT_SERVERS_MAX];
    uint32_t k = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        const struct raft_server *s = &c->servers[i];
        if (s->role != RAFT_VOTER) continue;
        raft_index x = 0;
        if (s->id == r->id) {
            x = self_val;
        } else {
            for (uint32_t j = 0; j < n; j++)
                if (prs[j].id == s->id) x = prs[j].match;
        }
        uint32_t pos = k++; /* insertion sort, descending */
        while (pos > 0 && v[pos - 1] < x) {
            v[pos] = v[pos - 1];
            pos--;
        }
        v[pos] = x;
    }
    if (k == 0) return 0;
    return v[raft__quorum(k) - 1];
}

/* §3.6.2: commit the highest index a quorum has made durable, but only by
 * counting replicas of an entry of the current term. */
bool raft__maybe_commit(struct raft *r)
{
    raft_index n = quorum_value(r, raft__conf(r), r->persisted_index, r->prs, r->n_prs);
    if (n <= r->commit) return false;
#ifndef RAFT_INJECT_BUG_COMMIT_PRIOR_TERM
    if (term_at(r, n) != r->term) return false;
#endif
    for (raft_index i = r->commit + 1; i <= n; i++) {
        const struct raft_entry *e = raft__log_get(&r->log, i);
        if (e && e->term == r->term) {
            uint64_t len = e->len;
            r->uncommitted_bytes -= CN_MIN(len, r->uncommitted_bytes);
        }
    }
    r->commit = n;
    raft__conf_on_commit(r);
    return true;
}

/* ---- the leader receives ------------------------------------------------ */

static raft_index backtrack(struct raft *r, const struct raft_msg *m)
{
    /* etcd's findConflictByTerm: the largest index <= hint_index whose term
     * in our log is <= hint_term; one round trip skips a whole term. */
    raft_index idx = m->append_resp.hint_index;
    if (m->append_resp.hint_term != 0) {
        raft_index le = raft__log_last_with_term_le(&r->log, m->append_resp.hint_term);
        if (le < idx) idx = le;
    }
    return idx + 1;
}

void raft__recv_append_resp(struct raft *r, const struct raft_msg *m)
{
    struct raft__progress *p = raft__pr_find(r, m->from);
    if (!p) return;
    p->last_ack_ms = r->now;
    const struct raft_msg_append_resp *a = &m->append_resp;
    if (a->reject) {
        if (a->index == 0 && a->hint_index == 0) return; /* a stale leader's rebuff */
        if (p->state == RAFT__REPLICATE && a->index <= p->match) return;
        if (p->state == RAFT__PROBE && a->index + 1 != p->next) return;
        if (p->state == RAFT__SNAPSHOT) return;
        raft_index next = CN_MIN(backtrack(r, m), a->index);
        RAFT_TRACE(r, "peer %llu rejected %llu, next %llu", (unsigned long long)p->id,
                   (unsigned long long)a->index, (unsigned long long)CN_MAX(next, p->match + 1));
        raft__pr_probe(p, next);
        raft__send_append(r, p, true);
        return;
    }
    if (a->index > raft__log_last(&r->log)) return; /* cannot be: not from our term */
    bool progressed = a->index > p->match;
    raft__pr_acked(r, p, a->index);
    if (p->state == RAFT__PROBE)
        become_replicate(p);
    else if (p->state == RAFT__SNAPSHOT && p->match >= p->snap_index)
        raft__pr_probe(p, p->match + 1);
    if (progressed && raft__maybe_commit(r)) raft__reads_advance(r);
    if (r->role != RAFT_LEADER) return; /* the commit removed us */
    raft__transfer_check(r, p);
    raft__promote_check(r, p);
    raft__send_append(r, p, false);
}

void raft__recv_heartbeat_resp(struct raft *r, const struct raft_msg *m)
{
    struct raft__progress *p = raft__pr_find(r, m->from);
    if (!p) return;
    p->last_ack_ms = r->now;
    if (m->hb_resp.seq > p->acked_seq) p->acked_seq = m->hb_resp.seq;
    if (m->hb_resp.ts > p->acked_ts && m->hb_resp.ts <= r->now) p->acked_ts = m->hb_resp.ts;
    if (m->hb_resp.match > p->match && m->hb_resp.match <= raft__log_last(&r->log)) {
        raft__pr_acked(r, p, m->hb_resp.match);
        if (p->state == RAFT__PROBE) become_replicate(p);
        if (raft__maybe_commit(r) && r->role != RAFT_LEADER) return;
    }
    if (p->state == RAFT__PROBE) p->probe_sent = false;
    raft__reads_advance(r);
    raft__transfer_check(r, p);
    raft__send_append(r, p, false);
}

void raft__leader_tick(struct raft *r)
{
    uint64_t now = r->now;
    for (uint32_t i = 0; i < r->n_prs; i++) {
        struct raft__progress *p = &r->prs[i];
        if (now >= p->hb_due_ms) raft__send_heartbeat(r, p);
        if (p->state == RAFT__PROBE && p->probe_sent &&
            now - p->probe_sent_ms >= r->cfg.heartbeat_ms) {
            p->probe_sent = false;
            raft__send_append(r, p, true);
        } else if (p->state == RAFT__REPLICATE && p->infl_n &&
                   now - p->infl_since_ms >= r->cfg.retransmit_ms) {
            /* Something was lost: resume from what the follower has. */
            raft__pr_probe(p, p->match + 1);
            raft__send_append(r, p, true);
        } else if (p->state == RAFT__SNAPSHOT && now - p->snap_sent_ms >= r->cfg.election_ms) {
            raft__send_snapshot(r, p);
        }
    }
    if (r->cfg.check_quorum) {
        /* §6.2: a leader that has not heard from a quorum within an election
         * timeout steps down, so clients find the real leader. */
        struct raft__progress acks[RAFT_SERVERS_MAX];
        for (uint32_t i = 0; i < r->n_prs; i++) {
            acks[i] = r->prs[i];
            acks[i].match = r->prs[i].last_ack_ms;
        }
        raft_index newest = quorum_value(r, raft__conf(r), now, acks, r->n_prs);
        if (raft_config_voters(raft__conf(r)) > 0 && now - newest >= r->cfg.election_ms) {
            RAFT_TRACE(r, "check-quorum failed");
            raft__become_follower(r, r->term, 0);
            return;
        }
    }
    if (r->transfer_target && now >= r->transfer_deadline) {
        RAFT_TRACE(r, "transfer to %llu timed out", (unsigned long long)r->transfer_target);
        r->transfer_target = 0;
    }
    raft__membership_tick(r);
}

/* ---- proposals ---------------------------------------------------------- */

void raft__append_local(struct raft *r, uint8_t type, struct raft_buf *buf, const uint8_t *data,
                        uint32_t len)
{
    struct raft_entry e = {.term = r->term, .type = type, .len = len, .data = data, .buf = buf};
    raft_index i = raft__log_last(&r->log) + 1;
    raft__log_append(&r->log, &e);
    raft__note_write(r, i);
    if (type == RAFT_ENTRY_CONFIG) raft__conf_on_append(r, raft__log_get(&r->log, i));
    r->uncommitted_bytes += len;
    r->broadcast_wanted = true;
}

int raft__propose(struct raft *r, const struct raft_proposal *items, size_t n)
{
    if (r->role != RAFT_LEADER) return CN_ENOTLEADER;
    if (r->transfer_target) return CN_EAGAIN;
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (items[i].len > RAFT_ENTRY_DATA_MAX) return CN_EINVAL;
        if (items[i].len && !items[i].data) return CN_EINVAL;
        bytes += items[i].len;
    }
    if (r->uncommitted_bytes + bytes > r->cfg.max_uncommitted_bytes && r->uncommitted_bytes > 0)
        return CN_EAGAIN;
    for (size_t i = 0; i < n; i++)
        raft__append_local(r, RAFT_ENTRY_NORMAL, items[i].buf, items[i].data, items[i].len);
    return 0;
}

/* ---- the follower ------------------------------------------------------- */

static void touch_leader(struct raft *r)
{
    r->last_leader_contact = r->now;
    r->have_contact = true;
    raft__reset_election_timer(r);
}

static void reject(struct raft *r, const struct raft_msg *m)
{
    const struct raft_msg_append *a = &m->append;
    raft_index hint = CN_MIN(a->prev_index, raft__log_last(&r->log));
    raft_index le = raft__log_last_with_term_le(&r->log, a->prev_term);
    if (le < hint) hint = le;
    if (hint < r->commit) hint = r->commit; /* everything up to commit matches */
    struct raft_msg *out = raft__msg_new(r, RAFT_MSG_APPEND_RESP, m->from);
    out->append_resp.reject = true;
    out->append_resp.index = a->prev_index;
    out->append_resp.hint_index = hint;
    out->append_resp.hint_term = term_at(r, hint);
}

static raft_index ack_value(const struct raft *r)
{
    return CN_MIN(r->leader_match, r->persisted_index);
}

static void send_ack(struct raft *r, raft_index v)
{
    struct raft_msg *out = raft__msg_new(r, RAFT_MSG_APPEND_RESP, r->leader);
    out->append_resp.index = v;
    r->ack_sent = CN_MAX(r->ack_sent, v);
}

/* Acknowledge what has become durable (persistence contract). */
void raft__follower_ack(struct raft *r)
{
    if (r->role != RAFT_FOLLOWER || r->leader == 0) return;
    raft_index v = ack_value(r);
    if (v > r->ack_sent) send_ack(r, v);
}

/* Append the entries of m that we lack, truncating a conflicting suffix. */
static void merge(struct raft *r, const struct raft_msg_append *a, uint32_t skip)
{
    raft_index last = raft__log_last(&r->log);
    for (uint32_t k = skip; k < a->n_entries; k++) {
        const struct raft_entry *e = &a->entries[k];
        raft_index i = a->prev_index + 1 + k;
        if (i <= last) {
            if (raft__log_term(&r->log, i) == e->term) continue;
            CN_ASSERT(i > r->commit); /* Leader Completeness */
            RAFT_TRACE(r, "conflict at %llu: truncate", (unsigned long long)i);
            raft__note_truncate(r, i);
            raft__log_truncate(&r->log, i);
            raft__conf_on_truncate(r, i);
            last = i - 1;
        }
        struct raft_entry copy = *e;
        copy.index = i;
        raft__log_append(&r->log, &copy);
        raft__note_write(r, i);
        if (e->type == RAFT_ENTRY_CONFIG) raft__conf_on_append(r, raft__log_get(&r->log, i));
        last = i;
    }
}

void raft__recv_append(struct raft *r, const struct raft_msg *m)
{
    const struct raft_msg_append *a = &m->append;
    touch_leader(r);
    raft_index end = a->prev_index + a->n_entries;
    uint32_t skip = 0;
    if (a->prev_index < r->commit) {
        /* Entries up to our commit index match any leader's (§3.6.3); this
         * also covers a prev_index compacted into our snapshot. */
        skip = (uint32_t)CN_MIN((raft_index)a->n_entries, r->commit - a->prev_index);
    } else if (term_at(r, a->prev_index) != a->prev_term) {
        reject(r, m);
        return;
    }
    merge(r, a, skip);
    if (end > r->leader_match) r->leader_match = end;
    if (r->leader_match < r->commit) r->leader_match = r->commit;
    raft_index c = CN_MIN(a->commit, end);
    if (c > r->commit) r->commit = CN_MIN(c, raft__log_last(&r->log));
    raft_index v = ack_value(r);
    if (v >= end) send_ack(r, v); /* durable already: answer duplicates and probes too */
}

void raft__recv_heartbeat(struct raft *r, const struct raft_msg *m)
{
    touch_leader(r);
    raft_index c = CN_MIN(m->hb.commit, raft__log_last(&r->log));
    if (c > r->commit) r->commit = c;
    struct raft_msg *out = raft__msg_new(r, RAFT_MSG_HEARTBEAT_RESP, m->from);
    out->hb_resp.seq = m->hb.seq;
    out->hb_resp.ts = m->hb.ts;
    out->hb_resp.match = ack_value(r);
}
