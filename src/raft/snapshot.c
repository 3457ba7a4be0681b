/* snapshot.c - log compaction (dissertation ch. 5): snapshots the
 * application takes, InstallSnapshot in chunks to followers that lag behind
 * the compacted log, and installing a received snapshot. Snapshot bytes never
 * pass through the core on the leader: it names (index, offset) and the
 * caller attaches the chunk. */
#include <string.h>

#include "raft/raft_int.h"

int raft__snapshot_taken(struct raft *r, raft_index index)
{
    if (index <= r->snap.index) return 0; /* stale: a newer one was installed */
    if (index > r->applied) return CN_EINVAL;
    raft_term term = raft__log_term(&r->log, index);
    CN_ASSERT(term != 0);
    r->snap.index = index;
    r->snap.term = term;
    r->snap.conf = *raft__conf_at(r, index);
    raft__conf_on_compact(r, index);
    /* Keep trailing_logs entries so slightly lagging followers still get
     * entries, never drop what is not yet durable or not yet handed out. */
    raft_index keep = index > r->cfg.trailing_logs ? index - r->cfg.trailing_logs + 1 : 1;
    keep = CN_MIN(keep, r->persisted_index + 1);
    if (r->w_from) keep = CN_MIN(keep, r->w_from);
    keep = CN_MIN(keep, index + 1);
    if (keep > r->log.first) {
        raft__log_compact(&r->log, keep);
        r->compacted_to = keep;
    }
    RAFT_TRACE(r, "snapshot at %llu, log from %llu", (unsigned long long)index,
               (unsigned long long)r->log.first);
    return 0;
}

/* ---- the leader --------------------------------------------------------- */

void raft__send_snapshot(struct raft *r, struct raft__progress *p)
{
    if (CN_NEVER(r->snap.index == 0)) return;
    if (p->state != RAFT__SNAPSHOT || p->snap_index != r->snap.index) {
        p->state = RAFT__SNAPSHOT;
        p->snap_index = r->snap.index;
        p->snap_offset = 0;
        p->infl_n = 0;
        p->probe_sent = false;
        RAFT_TRACE(r, "send snapshot %llu to %llu", (unsigned long long)r->snap.index,
                   (unsigned long long)p->id);
    }
    struct raft_msg *m = raft__msg_new(r, RAFT_MSG_SNAPSHOT, p->id);
    m->snap.index = r->snap.index;
    m->snap.snap_term = r->snap.term;
    m->snap.offset = p->snap_offset;
    m->snap.chunk_bytes = r->cfg.snapshot_chunk_bytes;
    *raft__vec_push(&r->confbuf) = r->snap.conf;
    r->msg_ent_off.v[r->msg_ent_off.n - 1] = r->confbuf.n - 1;
    p->snap_sent_ms = r->now;
}

void raft__recv_snapshot_resp(struct raft *r, const struct raft_msg *m)
{
    struct raft__progress *p = raft__pr_find(r, m->from);
    if (!p) return;
    p->last_ack_ms = r->now;
    const struct raft_msg_snapshot_resp *s = &m->snap_resp;
    bool current = p->state == RAFT__SNAPSHOT && s->index == p->snap_index;
    if (s->done) {
        if (s->index > raft__log_last(&r->log)) return;
        raft__pr_acked(r, p, s->index);
        if (!current) return;
        raft__pr_probe(p, p->match + 1);
        if (raft__maybe_commit(r)) raft__reads_advance(r);
        if (r->role == RAFT_LEADER) raft__send_append(r, p, true);
        return;
    }
    if (!current) return;
    p->snap_offset = s->next_offset;
    raft__send_snapshot(r, p); /* restarts at 0 if our snapshot changed */
}

/* ---- the follower ------------------------------------------------------- */

static void snap_reply(struct raft *r, const struct raft_msg *m, uint64_t next, bool done)
{
    struct raft_msg *out = raft__msg_new(r, RAFT_MSG_SNAPSHOT_RESP, m->from);
    out->snap_resp.index = m->snap.index;
    out->snap_resp.next_offset = next;
    out->snap_resp.done = done;
}

static void install(struct raft *r, const struct raft_msg_snapshot *s)
{
    raft_index idx = s->index;
    /* §5.3: keep the entries after the snapshot if our log agrees there. */
    bool keep = raft__log_term(&r->log, idx) == s->snap_term;
    RAFT_TRACE(r, "install snapshot %llu (%s log)", (unsigned long long)idx,
               keep ? "keep" : "drop");
    if (keep) {
        raft__log_compact(&r->log, idx + 1);
        if (r->w_from && r->w_from <= idx) r->w_from = idx + 1;
        if (r->w_from > raft__log_last(&r->log)) r->w_from = 0;
    } else {
        /* Only what we had committed is known to agree with the snapshot. */
        raft__note_truncate(r, r->commit + 1);
        raft__log_reset(&r->log, idx, s->snap_term);
        r->w_from = 0;
    }
    r->snap.index = idx;
    r->snap.term = s->snap_term;
    r->snap.conf = *s->conf;
    raft__conf_reset(r, idx, s->conf);
    for (raft_index i = idx + 1; i <= raft__log_last(&r->log); i++)
        raft__conf_on_append(r, raft__log_get(&r->log, i));
    r->commit = CN_MAX(r->commit, idx);
    r->applied = idx; /* the application restores its state from the snapshot */
    if (r->leader_match < idx) r->leader_match = idx;
    r->install = true;
    r->install_keep = keep;
    r->install_meta = r->snap;
    r->install_seq = raft__cur_seq(r);
    r->compacted_to = r->log.first;
    r->rcv_index = 0;
}

void raft__recv_snapshot(struct raft *r, const struct raft_msg *m)
{
    const struct raft_msg_snapshot *s = &m->snap;
    if (CN_NEVER(s->conf == NULL)) return;
    r->last_leader_contact = r->now;
    r->have_contact = true;
    raft__reset_election_timer(r);
    if (s->index <= r->commit) {
        snap_reply(r, m, 0, true); /* we have all it holds already */
        return;
    }
    if (s->offset == 0) {
        r->rcv_index = s->index;
        r->rcv_term = s->snap_term;
        r->rcv_offset = 0;
    } else if (r->rcv_index != s->index || r->rcv_term != s->snap_term ||
               s->offset != r->rcv_offset) {
        snap_reply(r, m, r->rcv_index == s->index ? r->rcv_offset : 0, false);
        return;
    }
    struct raft_chunk *c = raft__vec_push(&r->chunks);
    *c = (struct raft_chunk){.index = s->index,
                             .term = s->snap_term,
                             .offset = s->offset,
                             .last = s->last,
                             .len = s->len,
                             .data = s->data,
                             .buf = s->buf};
    if (c->buf) {
        raft_buf_ref(c->buf);
    } else if (c->len) {
        c->buf = raft_buf_copy(s->data, s->len);
        c->data = c->buf->data;
    }
    r->rcv_offset += s->len;
    if (!s->last) {
        snap_reply(r, m, r->rcv_offset, false);
        return;
    }
    install(r, s);
    /* Acknowledge only once the installed snapshot is durable. */
    struct raft_msg out = {
        .type = RAFT_MSG_SNAPSHOT_RESP, .from = r->id, .to = m->from, .term = r->term};
    out.snap_resp.index = s->index;
    out.snap_resp.next_offset = r->rcv_offset;
    out.snap_resp.done = true;
    raft__msg_defer(r, &out, r->install_seq);
}
