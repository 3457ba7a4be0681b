/*
 * raft_int.h - the core's private state, shared by its files:
 *   raft.c        lifecycle, event dispatch, update assembly, persistence tracking
 *   log.c         the in-memory log (a contiguous deque of entries)
 *   election.c    timers, pre-vote, votes, role changes, lease on the voter side
 *   replicate.c   leader replication (progress, pipelining), follower append, commit
 *   membership.c  configurations in the log, changes, learner promotion, transfer
 *   snapshot.c    snapshots taken locally, InstallSnapshot sending and receiving
 *   readindex.c   read index and leader lease
 *   msg.c         wire codec;  buf.c  refcounted buffers
 * Internal names are raft__<file>_<verb>; nothing here is part of the API.
 */
#ifndef RAFT_INT_H
#define RAFT_INT_H

#include <stdarg.h>

#include "lib/cn_common.h"
#include "lib/cn_err.h"
#include "raft/raft.h"

/* ---- log.c -------------------------------------------------------------- */

/* Entries [first .. first+n-1] live contiguously at e[off .. off+n-1], so
 * updates can point at runs of them without copying. prev_term is the term of
 * entry first-1 (0 when first == 1). The log holds one reference per entry. */
struct raft__log {
    struct raft_entry *e;
    size_t off, n, cap;
    raft_index first;
    raft_term prev_term;
};

void raft__log_init(struct raft__log *l);
void raft__log_release(struct raft__log *l);
static inline raft_index raft__log_last(const struct raft__log *l)
{
    return l->first + l->n - 1;
}
static inline struct raft_entry *raft__log_get(const struct raft__log *l, raft_index i)
{
    if (i < l->first || i > raft__log_last(l)) return NULL;
    return &l->e[l->off + (size_t)(i - l->first)];
}
/* Term of entry i: prev_term for first-1, 0 when unknown (compacted or past
 * the end; every real entry has a term >= 1). */
raft_term raft__log_term(const struct raft__log *l, raft_index i);
raft_term raft__log_last_term(const struct raft__log *l);
/* Append a copy of e at last+1 taking a new reference (copying the data
 * when e->buf is NULL). */
void raft__log_append(struct raft__log *l, const struct raft_entry *e);
/* Drop entries >= i. */
void raft__log_truncate(struct raft__log *l, raft_index i);
/* Drop entries < i (i <= last + 1). */
void raft__log_compact(struct raft__log *l, raft_index i);
/* Drop everything; the log restarts after (index, term). */
void raft__log_reset(struct raft__log *l, raft_index index, raft_term term);
/* First index in [lo, hi] whose term is >= t (hi + 1 if none); terms are
 * nondecreasing along a log, so this is a binary search. */
raft_index raft__log_first_with_term_ge(const struct raft__log *l, raft_term t);
/* Last index whose term is <= t (first - 1 if none). */
raft_index raft__log_last_with_term_le(const struct raft__log *l, raft_term t);

/* ---- the core ----------------------------------------------------------- */

enum raft__pr_state {
    RAFT__PROBE = 0,     /* one AppendEntries at a time until a match is found */
    RAFT__REPLICATE = 1, /* pipelined, up to max_inflight messages */
    RAFT__SNAPSHOT = 2,  /* sending InstallSnapshot chunks */
};

/* The leader's view of one other server (§3.5, etcd's Progress). */
struct raft__progress {
    raft_id id;
    uint8_t role;
    uint8_t state;
    bool probe_sent;
    raft_index match, next;
    uint64_t probe_sent_ms;
    uint64_t last_ack_ms;
    uint64_t hb_due_ms;
    uint64_t acked_seq, acked_ts;
    /* In-flight AppendEntries: the last index of each, oldest first. */
    raft_index *infl;
    uint32_t infl_head, infl_n;
    uint64_t infl_since_ms; /* last ack progress, or send into an empty window */
    /* InstallSnapshot in flight. */
    raft_index snap_index;
    uint64_t snap_offset;
    uint64_t snap_sent_ms;
    /* Promotion of a learner (§4.2.1 catch-up rounds). */
    bool promote;
    uint32_t rounds;
    raft_index round_target;
    uint64_t round_start_ms;
};

struct raft__pending { /* an update handed out whose writes are not yet durable */
    uint64_t seq;
    raft_index last; /* log prefix [1..last] is durable once seq is */
};

struct raft__deferred { /* a message released when seq is durable */
    uint64_t seq;
    struct raft_msg m;
};

struct raft__conf_rec { /* a configuration and the index it takes effect at */
    raft_index index;
    struct raft_config conf;
};

struct raft__readreq {
    uint64_t ctx;
    raft_index index;
    uint64_t seq; /* 0 = waiting for the leader's first commit */
};

/* A growable array with a hard bound on growth checked by its users. */
#define RAFT__VEC(T)                                                                               \
    struct {                                                                                       \
        T *v;                                                                                      \
        size_t n, cap;                                                                             \
    }
#define raft__vec_push(vec)                                                                        \
    (((vec)->n == (vec)->cap ? raft__grow((void **)&(vec)->v, &(vec)->cap, sizeof(*(vec)->v))      \
                             : (void)0),                                                           \
     &(vec)->v[(vec)->n++])
void raft__grow(void **v, size_t *cap, size_t elem);

struct raft {
    struct raft_cfg cfg;
    raft_id id;
    int role;
    raft_term term;
    raft_id vote;
    raft_id leader;
    uint64_t now;

    struct raft__log log;
    raft_index commit;
    raft_index applied; /* handed out in updates done (or being filled) */
    struct raft_snapshot_meta snap;

    /* Configurations: hist.v[0] is the one at or below the snapshot; the last
     * is the latest, in effect as soon as it is in the log (§4.1). */
    RAFT__VEC(struct raft__conf_rec) confs;

    /* Persistence tracking. */
    raft_term hs_term_out; /* hard state as of the last update handed out */
    raft_id hs_vote_out;
    uint64_t seq_done;    /* seq of the last update with writes handed out */
    uint64_t seq_durable; /* highest seq reported durable */
    uint64_t hs_seq;      /* update that last changed the hard state */
    uint64_t install_seq; /* update that installed the last received snapshot */
    RAFT__VEC(struct raft__pending) pend;
    size_t pend_head;
    raft_index persisted_index; /* [1..persisted] durable and as in memory */
    RAFT__VEC(struct raft__deferred) deferred;

    /* Timers and the voter side of the lease. */
    bool booted;
    uint64_t vote_block_until;
    uint64_t election_deadline;
    uint64_t last_leader_contact;
    bool have_contact;

    /* Candidate. */
    raft_id granted[RAFT_SERVERS_MAX];
    uint32_t n_granted;
    raft_id denied[RAFT_SERVERS_MAX];
    uint32_t n_denied;
    bool self_vote_counted;
    bool transfer_campaign;

    /* Leader. */
    struct raft__progress prs[RAFT_SERVERS_MAX];
    uint32_t n_prs;
    raft_index noop_index;
    uint64_t uncommitted_bytes;
    raft_id transfer_target;
    uint64_t transfer_deadline;
    bool transfer_sent;
    raft_term lease_forfeit_term;
    bool step_down_on_commit; /* removed itself: leave once that config commits */

    /* Read index. */
    RAFT__VEC(struct raft__readreq) reads;
    size_t reads_head;
    uint64_t hb_seq;
    bool read_round_wanted;

    /* Follower. */
    raft_index leader_match; /* entries <= this match the current leader's log */
    raft_index ack_sent;
    bool ack_wanted;
    raft_index rcv_index; /* snapshot being received */
    raft_term rcv_term;
    uint64_t rcv_offset;

    /* The update being accumulated. */
    RAFT__VEC(struct raft_msg) msgs;
    RAFT__VEC(struct raft_entry) ents;      /* entries of outgoing messages (refs held) */
    RAFT__VEC(size_t) msg_ent_off;          /* per msg: offset into ents */
    RAFT__VEC(struct raft_config) confbuf;  /* configs of outgoing snapshot messages */
    RAFT__VEC(struct raft_chunk) chunks;    /* refs held */
    RAFT__VEC(struct raft_read) reads_out;  /* completed, waiting for their index */
    RAFT__VEC(struct raft_read) reads_fill; /* the subset handed out in the update */
    raft_index w_from;                      /* first log index to write in this update, 0 = none */
    bool install;
    bool install_keep;
    struct raft_snapshot_meta install_meta;
    bool state_changed;
    raft_index compacted_to;
    bool broadcast_wanted;

    char tracebuf[256];
};

/* raft.c */
void raft__trace(struct raft *r, const char *fmt, ...) CN_PRINTF(2, 3);
#define RAFT_TRACE(r, ...)                                                                         \
    do {                                                                                           \
        if ((r)->cfg.trace) raft__trace((r), __VA_ARGS__);                                         \
    } while (0)
struct raft_msg *raft__msg_new(struct raft *r, int type, raft_id to);
void raft__msg_defer(struct raft *r, const struct raft_msg *m, uint64_t seq);
uint64_t raft__cur_seq(const struct raft *r);
void raft__set_hs(struct raft *r, raft_term term, raft_id vote);
void raft__note_truncate(struct raft *r, raft_index i);
void raft__note_write(struct raft *r, raft_index i);
uint32_t raft__quorum(uint32_t voters);

/* election.c */
void raft__become_follower(struct raft *r, raft_term term, raft_id leader);
void raft__become_leader(struct raft *r);
void raft__campaign(struct raft *r, bool pre, bool transfer);
void raft__reset_election_timer(struct raft *r);
void raft__tick(struct raft *r);
int raft__recv(struct raft *r, const struct raft_msg *m);
void raft__self_vote_durable(struct raft *r);
bool raft__is_voter(const struct raft *r);
bool raft__sole_voter(const struct raft *r);

/* replicate.c */
void raft__pr_reset_all(struct raft *r);
struct raft__progress *raft__pr_find(struct raft *r, raft_id id);
void raft__pr_sync(struct raft *r);
void raft__send_append(struct raft *r, struct raft__progress *p, bool allow_empty);
void raft__broadcast_append(struct raft *r);
void raft__send_heartbeat(struct raft *r, struct raft__progress *p);
void raft__broadcast_heartbeat(struct raft *r);
void raft__leader_tick(struct raft *r);
bool raft__maybe_commit(struct raft *r);
void raft__recv_append(struct raft *r, const struct raft_msg *m);
void raft__recv_append_resp(struct raft *r, const struct raft_msg *m);
void raft__recv_heartbeat(struct raft *r, const struct raft_msg *m);
void raft__recv_heartbeat_resp(struct raft *r, const struct raft_msg *m);
void raft__follower_ack(struct raft *r);
int raft__propose(struct raft *r, const struct raft_proposal *items, size_t n);
void raft__append_local(struct raft *r, uint8_t type, struct raft_buf *buf, const uint8_t *data,
                        uint32_t len);
void raft__pr_acked(struct raft *r, struct raft__progress *p, raft_index match);
void raft__pr_probe(struct raft__progress *p, raft_index next);

/* membership.c */
const struct raft_config *raft__conf(const struct raft *r);
const struct raft_config *raft__conf_committed(const struct raft *r);
raft_index raft__conf_index(const struct raft *r);
void raft__conf_on_append(struct raft *r, const struct raft_entry *e);
void raft__conf_on_truncate(struct raft *r, raft_index i);
void raft__conf_on_compact(struct raft *r, raft_index snap_index);
void raft__conf_reset(struct raft *r, raft_index index, const struct raft_config *c);
const struct raft_config *raft__conf_at(const struct raft *r, raft_index i);
void raft__conf_on_commit(struct raft *r);
int raft__change(struct raft *r, int op, raft_id id);
int raft__transfer(struct raft *r, raft_id target);
void raft__transfer_check(struct raft *r, struct raft__progress *p);
void raft__promote_check(struct raft *r, struct raft__progress *p);
void raft__membership_tick(struct raft *r);

/* snapshot.c */
int raft__snapshot_taken(struct raft *r, raft_index index);
void raft__send_snapshot(struct raft *r, struct raft__progress *p);
void raft__recv_snapshot(struct raft *r, const struct raft_msg *m);
void raft__recv_snapshot_resp(struct raft *r, const struct raft_msg *m);

/* readindex.c */
int raft__read(struct raft *r, uint64_t ctx, bool lease);
void raft__reads_advance(struct raft *r);
void raft__reads_fail(struct raft *r, int err);
bool raft__lease_valid(const struct raft *r);
uint64_t raft__quorum_acked_seq(const struct raft *r);

#endif
