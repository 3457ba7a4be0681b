/*
 * raft.h - a pure Raft consensus core (Ongaro's dissertation, "Consensus:
 * Bridging Theory and Practice", 2014), driven Ready-style (etcd-io/raft).
 *
 * The core does no I/O: no sockets, files, threads, clock or OS randomness.
 * The caller feeds it events (ticks, received messages, persistence
 * completions, proposals, reads, snapshots taken, membership and leadership
 * commands) and takes from it an update: hard state and entries to persist,
 * messages to send, committed entries to apply, reads now safe to serve.
 *
 *     struct raft_update u;
 *     raft_step(r, now_ms, &ev, NULL); // any number of events: outputs accumulate
 *     raft_ready(r, &u);               // (or pass &u to the last raft_step)
 *     persist(&u);     // u.hs, u.snap_install, u.chunks, u.entries; async ok
 *     send(&u);        // u.msgs: all may go out now, in any order
 *     apply(&u);       // u.committed, in order; then serve u.reads
 *     raft_done(r, &u);
 *     ...later, when the writes of updates up to seq S are durable:
 *     ev.type = RAFT_EV_PERSISTED; ev.persisted.seq = S; raft_step(...);
 *
 * Batching: new entries and read-index rounds are sent when the update is
 * collected, so every proposal and read stepped before raft_ready shares one
 * AppendEntries per follower and one heartbeat round. Proposals carry many
 * entries per event too. A TICK is due by raft_next_deadline() at the latest.
 *
 * ## Persistence contract (what must be durable before what)
 *
 * The core itself holds back every message whose sending requires durable
 * state, and releases it only after the RAFT_EV_PERSISTED event covering that
 * state. Hence the caller may send every message of an update at once, before,
 * during or after persisting the update. What the core waits for:
 *   - a RequestVote of a candidate: its own (term, vote) durable (§3.8);
 *   - a granted vote: the voter's (term, vote) durable;
 *   - a candidate counts its own vote only once durable, so a single-voter
 *     cluster becomes leader after one PERSISTED event;
 *   - an AppendEntries success response: the acknowledged entries durable;
 *   - the final InstallSnapshot response: the installed snapshot durable.
 * The leader sends AppendEntries for entries it has not yet made durable
 * (§10.2.1: the leader writes its log in parallel with replicating it), but
 * counts itself toward a commit quorum only for durable entries.
 *
 * Storage obligations, per update with u.seq != 0, in this order:
 *   1. if u.snap_install: the received snapshot (all u.chunks of earlier and
 *      this update for u.snap.index) becomes the current snapshot with meta
 *      u.snap; stored log entries <= u.snap.index are dropped, and if
 *      !u.snap_keep_log every stored entry is dropped;
 *   2. if u.n_entries: every stored entry with index >= u.entries[0].index is
 *      dropped, then u.entries are appended (u.entries[0].index is at most one
 *      past the last stored index, or one past u.snap.index after a install);
 *   3. if u.hs_changed: (u.term, u.vote) is stored.
 * Writes of updates land in seq order. RAFT_EV_PERSISTED{seq = S} says that
 * everything of every update with seq <= S is durable (group commit: report
 * only the highest). A crash may keep any prefix of the unreported writes.
 * (Completions name updates, not log indexes, because a truncation makes "up
 * to index i" ambiguous: the core maps seqs to the durable log prefix.)
 * The commit index is not part of the hard state: it is relearned from the
 * leader (a single-voter cluster recommits its log on restart at once).
 *
 * ## Ownership
 * Payloads are refcounted struct raft_buf (atomic counts: a WAL thread may hold
 * and release them). An entry's data is a view into its buf; one buf may back
 * many entries (a received frame). Everything an update points to is the
 * core's and valid until the next call into the core on r: to keep an entry
 * past that (an asynchronous WAL writer), take a reference on entry.buf.
 * Events are borrowed for the call; the core takes its own references to any
 * buf it keeps (entries whose buf is NULL are copied).
 *
 * ## Reads (dissertation §6.4)
 * RAFT_EV_READ completes in u.reads with an index: serve the read from state
 * that has applied at least that index. The core releases a read only after
 * it has handed out the committed entries up to its index, so the caller may
 * serve u.reads right after applying u.committed. A leader completes no read
 * before an entry of its own term is committed. With lease set the read
 * completes at once while raft_lease_valid() holds; otherwise (or when
 * lease is off) it waits for one heartbeat round acknowledged by a quorum.
 * Lease: a follower refuses votes (and pre-votes) for election_ms after it
 * last heard from the leader and for election_ms after it starts; the
 * leader's lease runs lease_ms from the send time of the heartbeat whose
 * acknowledgement completed a quorum, lease_ms = election_ms * 9 / 10 by
 * default, which stays safe while clocks run at rates within +-5% of each
 * other. A leadership transfer forfeits the lease for the rest of the term.
 *
 * ## Thread
 * A struct raft is used by one thread at a time; nothing in it blocks.
 * Errors: 0 or a negative CN_E* (lib/cn_err.h).
 */
#ifndef RAFT_H
#define RAFT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/cn_rand.h"

typedef uint64_t raft_id; /* server id, never 0 */
typedef uint64_t raft_index;
typedef uint64_t raft_term;

/* Limits (TigerStyle: a bound on everything that comes from outside). */
#define RAFT_SERVERS_MAX     32          /* voters + learners in a configuration */
#define RAFT_MSG_ENTRIES_MAX 4096        /* entries in one AppendEntries */
#define RAFT_ENTRY_DATA_MAX  (64u << 20) /* one entry's payload */
#define RAFT_CHUNK_MAX       (16u << 20) /* one InstallSnapshot chunk */
#define RAFT_READS_MAX       65536       /* read requests queued on a leader */

/* ------------------------------------------------------------------------ */
/* Refcounted payload buffers                                                */

struct raft_buf {
    atomic_uint refs;
    uint32_t flags; /* private */
    size_t len;
    uint8_t *data;
    void (*free_fn)(struct raft_buf *b); /* for raft_buf_wrap */
    void *ctx;                           /* the caller's, for free_fn */
};

/* A new buffer of len bytes (uninitialised, the caller fills it) with one
 * reference owned by the caller. */
struct raft_buf *raft_buf_new(size_t len);
/* A new buffer holding a copy of p[0..len). */
struct raft_buf *raft_buf_copy(const void *p, size_t len);
/* Wrap the caller's memory: free_fn(b) runs when the last reference goes and
 * must release data (b itself is then freed by the core). */
struct raft_buf *raft_buf_wrap(void *data, size_t len, void (*free_fn)(struct raft_buf *b),
                               void *ctx);
struct raft_buf *raft_buf_ref(struct raft_buf *b); /* NULL-safe; returns b */
void raft_buf_unref(struct raft_buf *b);           /* NULL-safe */

/* ------------------------------------------------------------------------ */
/* Entries and configurations                                                */

enum raft_entry_type {
    RAFT_ENTRY_NORMAL = 1, /* the application's command */
    RAFT_ENTRY_NOOP = 2,   /* appended by each new leader (§6.4) */
    RAFT_ENTRY_CONFIG = 3, /* a struct raft_config, raft_config_encode()d */
};

struct raft_entry {
    raft_term term;
    raft_index index;
    uint8_t type; /* enum raft_entry_type */
    uint32_t len;
    const uint8_t *data; /* view into buf; NULL when len == 0 */
    struct raft_buf *buf;
};

enum raft_server_role {
    RAFT_VOTER = 1,
    RAFT_LEARNER = 2, /* non-voter: receives the log, never votes or counts */
};

struct raft_server {
    raft_id id;
    uint8_t role; /* enum raft_server_role */
};

/* A membership configuration. Addresses are not part of it: the caller keeps
 * its own id -> address book (Consul learns server addresses from gossip). */
struct raft_config {
    uint32_t n;
    struct raft_server servers[RAFT_SERVERS_MAX];
};

const struct raft_server *raft_config_get(const struct raft_config *c, raft_id id);
bool raft_config_is_voter(const struct raft_config *c, raft_id id);
uint32_t raft_config_voters(const struct raft_config *c);
/* The payload of a RAFT_ENTRY_CONFIG entry and of snapshot metadata. */
struct cn_buf;
void raft_config_encode(const struct raft_config *c, struct cn_buf *out);
/* CN_ECORRUPT on anything malformed (duplicate or zero ids, bad roles). */
int raft_config_decode(const void *p, size_t len, struct raft_config *out);

struct raft_snapshot_meta {
    raft_index index;        /* last entry the snapshot covers; 0 = no snapshot */
    raft_term term;          /* that entry's term */
    struct raft_config conf; /* configuration as of index */
};

/* ------------------------------------------------------------------------ */
/* Messages (encoded by raft_msg_encode, see "Wire format" below)            */

enum raft_msg_type {
    RAFT_MSG_APPEND = 1, /* AppendEntries with entries (or a probe) */
    RAFT_MSG_APPEND_RESP = 2,
    RAFT_MSG_VOTE = 3, /* RequestVote */
    RAFT_MSG_VOTE_RESP = 4,
    RAFT_MSG_PREVOTE = 5, /* §9.6; term is the term the sender would use */
    RAFT_MSG_PREVOTE_RESP = 6,
    RAFT_MSG_HEARTBEAT = 7, /* no log check: commit, lease and read rounds */
    RAFT_MSG_HEARTBEAT_RESP = 8,
    RAFT_MSG_SNAPSHOT = 9, /* one InstallSnapshot chunk */
    RAFT_MSG_SNAPSHOT_RESP = 10,
    RAFT_MSG_TIMEOUT_NOW = 11, /* leadership transfer: campaign now (§3.10) */
};
#define RAFT_MSG_TYPE_MAX 11

struct raft_msg_append {
    raft_index prev_index;
    raft_term prev_term;
    raft_index commit;
    uint32_t n_entries;
    struct raft_entry *entries; /* indexes prev_index+1 .. prev_index+n */
};

struct raft_msg_append_resp {
    bool reject;
    raft_index index;      /* success: last index known to match; reject: prev_index */
    raft_index hint_index; /* reject: first index of hint_term in the follower's log,
                              or its last index + 1 when hint_term is 0 */
    raft_term hint_term;
};

struct raft_msg_vote { /* VOTE and PREVOTE */
    raft_index last_index;
    raft_term last_term;
    bool transfer; /* sent because of TimeoutNow: overrides the lease */
};

struct raft_msg_vote_resp {
    bool granted;
};

struct raft_msg_heartbeat {
    raft_index commit; /* min(follower's match, leader's commit) */
    uint64_t seq;      /* read-index round */
    uint64_t ts;       /* leader's clock at send (lease), echoed back */
};

struct raft_msg_heartbeat_resp {
    uint64_t seq;
    uint64_t ts;
    raft_index match; /* follower's durable, leader-verified last index */
};

/* A chunk of a snapshot. On the leader the core emits it without data: the
 * caller reads up to chunk_bytes at offset from its snapshot `index`, sets
 * data, len, buf (may be NULL) and last before encoding; if it no longer holds
 * that snapshot it drops the message (the core retries with its newest). */
struct raft_msg_snapshot {
    raft_index index;
    raft_term snap_term;
    const struct raft_config *conf;
    uint64_t offset;
    bool last;
    uint32_t len;
    const uint8_t *data;
    struct raft_buf *buf;
    uint32_t chunk_bytes; /* leader's request to its caller; not encoded */
};

struct raft_msg_snapshot_resp {
    raft_index index;
    uint64_t next_offset; /* the next byte the follower expects */
    bool done;            /* installed and durable (or no longer needed) */
};

struct raft_msg {
    uint8_t type; /* enum raft_msg_type */
    raft_id from, to;
    raft_term term;
    union {
        struct raft_msg_append append;
        struct raft_msg_append_resp append_resp;
        struct raft_msg_vote vote;
        struct raft_msg_vote_resp vote_resp;
        struct raft_msg_heartbeat hb;
        struct raft_msg_heartbeat_resp hb_resp;
        struct raft_msg_snapshot snap;
        struct raft_msg_snapshot_resp snap_resp;
    };
};

/*
 * Wire format, version 1: u8 version, u8 type, uvar term, uvar from, uvar to,
 * then the body of the type (uvars, u8 flags, length-prefixed bytes; see
 * msg.c). Entries carry their term and type; indexes are implicit.
 *
 * raft_msg_encode appends to out. raft_msg_decode reads len bytes at p and
 * never past them; any malformation (unknown version or type, counts or
 * lengths beyond the limits above, trailing bytes, zero ids) is CN_ECORRUPT.
 * Decoded entries and chunk data are views into p: pass frame = the raft_buf
 * holding p to let the core keep them without copying (their buf is set to
 * frame, unreferenced), or NULL to have the core copy what it keeps.
 * raft_msg_release frees what the decoder allocated (the entries array, a
 * snapshot's configuration); use it only on decoded messages.
 */
void raft_msg_encode(const struct raft_msg *m, struct cn_buf *out);
int raft_msg_decode(const void *p, size_t len, struct raft_buf *frame, struct raft_msg *out);
void raft_msg_release(struct raft_msg *m);
const char *raft_msg_type_name(int type);

/* ------------------------------------------------------------------------ */
/* Configuration of a core                                                   */

typedef void (*raft_trace_fn)(void *ctx, const char *line);

struct raft_cfg {
    raft_id id;
    struct cn_rand rand; /* seeded by the caller; the core's only randomness */

    /* Timing, in milliseconds; raft_cfg_defaults derives them from a Consul
     * raft_multiplier m (1..10): election_ms = 500 m (followers time out after
     * a random [E, 2E)), heartbeat_ms = E / 10, lease_ms = 9 E / 10. */
    uint32_t election_ms;
    uint32_t heartbeat_ms;
    uint32_t lease_ms;
    uint32_t retransmit_ms; /* resend when a pipeline makes no progress: 2 H */

    bool pre_vote;     /* §9.6, default on */
    bool check_quorum; /* §6.2 leader steps down without a quorum; default on */

    /* Replication. */
    uint32_t max_msg_bytes;         /* payload bytes per AppendEntries: 1 MiB */
    uint32_t max_msg_entries;       /* entries per AppendEntries: 1024 */
    uint32_t max_inflight;          /* AppendEntries in flight per follower: 64 */
    uint64_t max_uncommitted_bytes; /* proposals beyond this: CN_EAGAIN; 256 MiB */
    uint32_t max_apply_entries;     /* committed entries per update: 4096 */

    /* Snapshots and compaction (Consul: raft_snapshot_threshold 16384,
     * raft_trailing_logs 10240). */
    uint64_t snapshot_threshold;   /* u.snapshot_wanted once applied - snap >= this */
    uint64_t trailing_logs;        /* entries kept in memory behind a snapshot */
    uint32_t snapshot_chunk_bytes; /* 1 MiB */

    /* Membership: a learner asked to become a voter is promoted once a
     * catch-up round (reach the leader's last index as of the round's start)
     * takes less than election_ms; after promote_rounds_max rounds it stays a
     * learner. */
    uint32_t promote_rounds_max; /* 10 */

    raft_trace_fn trace; /* optional: one line per notable transition */
    void *trace_ctx;
};

/* Fill every knob for server id with raft_multiplier m (clamped to 1..10);
 * rand is seeded from seed. */
void raft_cfg_defaults(struct raft_cfg *c, raft_id id, unsigned multiplier, uint64_t seed);

/* ------------------------------------------------------------------------ */
/* Lifecycle                                                                 */

struct raft;

/* A core with an empty log, term 0 and no configuration: it never campaigns
 * until a configuration naming it a voter reaches its log. CN_EINVAL on a
 * nonsensical cfg (id 0, heartbeat >= election, lease > election, ...). */
int raft_new(const struct raft_cfg *cfg, struct raft **out);
void raft_free(struct raft *r);

/* What storage recovered after a restart; feed it once, before the first
 * raft_step. entries follow snap.index contiguously (the caller has dropped
 * any entries at or before the snapshot); the core takes references (copies
 * when buf is NULL). The application has restored its state machine from the
 * snapshot, so the applied index starts at snap.index. */
struct raft_restore {
    raft_term term;
    raft_id vote;
    struct raft_snapshot_meta snap;
    const struct raft_entry *entries;
    size_t n_entries;
};
int raft_restore(struct raft *r, const struct raft_restore *rs);

/* A brand-new cluster: every initial server calls this with the same conf
 * on an empty log. It appends the configuration as entry 1 of term 1 (so all
 * initial servers hold the identical entry) and sets the term to 1; the first
 * update persists both. CN_EEXIST when the log is not empty. */
int raft_bootstrap(struct raft *r, const struct raft_config *conf);

/* ------------------------------------------------------------------------ */
/* Events                                                                    */

enum raft_event_type {
    RAFT_EV_TICK = 1,       /* time passed (call by raft_next_deadline at the latest) */
    RAFT_EV_RECV,           /* a message from a peer (any order, duplicates ok) */
    RAFT_EV_PERSISTED,      /* updates up to seq are durable */
    RAFT_EV_PROPOSE,        /* leader: append entries; CN_ENOTLEADER, CN_EAGAIN */
    RAFT_EV_READ,           /* leader: a read request (ctx is echoed) */
    RAFT_EV_SNAPSHOT_TAKEN, /* the application durably snapshotted its state at index */
    RAFT_EV_TRANSFER,       /* leader: hand leadership to target (0 = best voter) */
    RAFT_EV_CHANGE,         /* leader: a single-server membership change */
    RAFT_EV_UNREACHABLE,    /* the transport lost its connection to peer */
    RAFT_EV_CAMPAIGN,       /* act as if the election timer fired (pre-vote first) */
};

enum raft_change_op {
    RAFT_ADD_LEARNER = 1, /* add a non-voter */
    RAFT_ADD_VOTER,       /* add as learner, promote once caught up; or promote */
    RAFT_REMOVE,          /* remove a learner or voter, the leader itself included */
};

/* One proposal: type RAFT_ENTRY_NORMAL (or CONFIG is refused), data/len a
 * view into buf (the core takes its own reference; buf NULL = copy). */
struct raft_proposal {
    const uint8_t *data;
    uint32_t len;
    struct raft_buf *buf;
};

struct raft_event {
    int type; /* enum raft_event_type */
    union {
        const struct raft_msg *recv;
        struct {
            uint64_t seq;
        } persisted;
        struct { /* entries get raft_last_index()-n+1 .. raft_last_index() */
            const struct raft_proposal *items;
            size_t n;
        } propose;
        struct {
            uint64_t ctx;
            bool lease;
        } read;
        struct {
            raft_index index;
        } snapshot_taken;
        struct {
            raft_id target;
        } transfer;
        struct {
            int op; /* enum raft_change_op */
            raft_id id;
        } change;
        struct {
            raft_id peer;
        } unreachable;
    };
};

/* ------------------------------------------------------------------------ */
/* Updates                                                                   */

enum raft_role {
    RAFT_FOLLOWER = 1,
    RAFT_PRECANDIDATE,
    RAFT_CANDIDATE,
    RAFT_LEADER,
};

struct raft_read {
    uint64_t ctx;
    raft_index index; /* serve from state that has applied >= index */
    int err;          /* 0, or CN_ENOTLEADER / CN_EAGAIN: the read failed */
};

/* A received InstallSnapshot chunk to store at offset of snapshot index. */
struct raft_chunk {
    raft_index index;
    raft_term term;
    uint64_t offset;
    bool last;
    uint32_t len;
    const uint8_t *data;
    struct raft_buf *buf;
};

struct raft_update {
    uint64_t seq; /* nonzero: this update has writes; report via RAFT_EV_PERSISTED */

    bool hs_changed;
    raft_term term; /* hard state to store */
    raft_id vote;

    bool snap_install; /* follower: install the received snapshot */
    bool snap_keep_log;
    struct raft_snapshot_meta snap;
    const struct raft_chunk *chunks;
    size_t n_chunks;

    const struct raft_entry *entries; /* to append (see the contract) */
    size_t n_entries;

    const struct raft_msg *msgs; /* to send now */
    size_t n_msgs;

    const struct raft_entry *committed; /* to apply, in order */
    size_t n_committed;
    const struct raft_read *reads; /* completed or failed reads */
    size_t n_reads;

    bool snapshot_wanted;    /* applied - snapshot index >= snapshot_threshold */
    raft_index compacted_to; /* nonzero: entries below this left the memory log
                                (storage may drop them once covered by a snapshot) */

    bool state_changed; /* role, leader or term changed since the last update */
    int role;           /* enum raft_role, current */
    raft_id leader;     /* current known leader, 0 if none */
};

/*
 * Feed one event at now_ms (the caller's monotonic clock; never decreasing).
 * Outputs accumulate until raft_done: if u is non-NULL it is filled with all of
 * them (as raft_ready would). Returns 0, or for PROPOSE/READ/TRANSFER/CHANGE
 * a refusal: CN_ENOTLEADER, CN_EAGAIN (transfer in flight, config change
 * pending, too much uncommitted data), CN_EEXIST / CN_ENOENT (change),
 * CN_EINVAL; RECV returns CN_EINVAL for a message not addressed to r.
 */
int raft_step(struct raft *r, uint64_t now_ms, const struct raft_event *ev, struct raft_update *u);
/* Fill u with the accumulated outputs; false when there are none. u stays
 * valid until the next call into r. */
bool raft_ready(struct raft *r, struct raft_update *u);
/* The caller has taken everything in u (the latest fill): its writes are
 * queued in order, its messages sent, its committed entries applied and its
 * reads answered. */
void raft_done(struct raft *r, struct raft_update *u);

/* ------------------------------------------------------------------------ */
/* Queries                                                                   */

int raft_role(const struct raft *r);
const char *raft_role_name(int role);
raft_id raft_id_of(const struct raft *r);
raft_id raft_leader(const struct raft *r);
raft_term raft_term_of(const struct raft *r);
raft_index raft_commit_index(const struct raft *r);
raft_index raft_applied_index(const struct raft *r); /* handed out in updates */
raft_index raft_last_index(const struct raft *r);
raft_term raft_last_term(const struct raft *r);
raft_index raft_first_index(const struct raft *r); /* first entry in memory */
raft_index raft_persisted_index(const struct raft *r);
const struct raft_snapshot_meta *raft_snapshot(const struct raft *r);
const struct raft_config *raft_config_latest(const struct raft *r);
/* The entry at index if still in memory, else NULL. */
const struct raft_entry *raft_entry_at(const struct raft *r, raft_index index);
/* Leader: a lease read at now_ms would be linearizable (see Reads). */
bool raft_lease_valid(const struct raft *r, uint64_t now_ms);
/* Milliseconds since this server last heard from a leader (0 on the leader;
 * UINT64_MAX if never): Consul's X-Consul-LastContact. */
uint64_t raft_last_contact_ms(const struct raft *r, uint64_t now_ms);
/* The latest time by which the caller must deliver a TICK. */
uint64_t raft_next_deadline(const struct raft *r);

struct raft_peer_status {
    raft_id id;
    uint8_t role;
    raft_index match, next;
    uint64_t last_ack_ms; /* leader's clock of the last response, 0 = never */
};
/* Leader: replication state per peer (Consul's operator raft / autopilot). */
size_t raft_peers(const struct raft *r, struct raft_peer_status *out, size_t max);

/* Internal consistency (for simulators and tests): 0, or CN_EINVAL with a
 * description in buf. */
int raft_check_invariants(const struct raft *r, char *buf, size_t len);

#endif
