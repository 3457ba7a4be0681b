/*
 * gossip.h - a pure SWIM membership core with Lifeguard, piggybacked
 * dissemination, push-pull state sync, user events with Lamport clocks,
 * keyring encryption and Vivaldi coordinates.
 *
 * What it does (memberlist + the parts of Serf Consul relies on):
 *   - every probe interval, ping one member (round-robin over a shuffled list);
 *     without an ack in the probe timeout, ask k members to ping it (indirect
 *     probe, with nacks) and try a TCP ping; without any ack by the end of the
 *     interval, suspect it. A suspicion becomes "dead" after a timeout that
 *     scales with log10(N) and shrinks as independent confirmations arrive
 *     (Lifeguard); the suspected member refutes with a higher incarnation.
 *   - a local health score (Lifeguard awareness) grows on missed acks/nacks
 *     and refutations and stretches this node's probe interval and timeouts.
 *   - state changes are broadcast by piggybacking on every packet and on a
 *     gossip tick, each sent mult * ceil(log10(N+1)) times; a newer message
 *     about a node supersedes older ones still queued.
 *   - a full-state push-pull over a stream (TCP) on join and periodically
 *     (interval scaled with log2 of cluster size).
 *   - Serf's layer: member status alive/leaving/left/failed, graceful leave,
 *     force-leave, reaping of failed and left members, periodic reconnect
 *     attempts to failed members (heals partitions), user events and
 *     cluster-wide keyring operations (as internal queries).
 *
 * Purity: no sockets, files, clocks, threads or OS randomness. The caller
 * passes now_ms with every step and seeds the random generator (and through
 * it the AES-GCM nonces); src/gossip/io/ is the libuv adapter and
 * tests/sim/gossip runs thousands of cores in one process.
 *
 * Ready-style driving (etcd-io/raft's shape):
 *
 *     struct gossip_update u;
 *     rc = gossip_step(g, now_ms, &ev, &u);   // any event, including TICK
 *     send u.packets, start u.streams, write u.replies,
 *     hand u.changes / u.events / u.joins / u.key_results to the agent;
 *     rearm a timer for u.next_wake_ms;
 *     gossip_done(g, &u);
 *
 * Every pointer in an update (packet bytes, member views, event payloads,
 * strings) is owned by the core and valid until gossip_done. gossip_step must
 * not be called again before gossip_done. Member views returned by the query
 * functions below are valid until the next gossip_step.
 *
 * Thread: one. A core is owned by one loop thread; distinct cores are
 * independent (unless they share a struct gossip_intern, see below).
 *
 * Errors: int returns are 0 or a negative CN_E* (lib/cn_err.h); where a human
 * needs the detail, update.err (or the cn_err argument) carries the message.
 */
#ifndef GOSSIP_H
#define GOSSIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/cn_err.h"
#include "lib/cn_rand.h"
#include "lib/cn_str.h"

/* ---- limits (a bound on every input) ---------------------------------- */

#define GOSSIP_NAME_MAX 256            /* node name bytes */
#define GOSSIP_TAGS_MAX 512            /* encoded tags, memberlist's MetaMaxSize */
#define GOSSIP_TAG_PAIRS_MAX 64
#define GOSSIP_KEYS_MAX 16             /* keys in a keyring */
#define GOSSIP_USER_EVENT_MAX 512      /* name + payload, before and after encoding */
#define GOSSIP_PACKET_MAX 65507        /* largest UDP datagram accepted */
#define GOSSIP_STREAM_MAX (20u << 20)  /* largest stream frame (push-pull), memberlist's */
#define GOSSIP_STREAMS_MAX 128         /* outgoing stream exchanges in flight */
#define GOSSIP_JOIN_ADDRS_MAX 64       /* addresses in one join */
#define GOSSIP_KEY_B64_LEN 44          /* base64 of a 32-byte key, no NUL */

/* ---- addresses ---------------------------------------------------------- */

struct gossip_addr {
    uint8_t family; /* 4 or 6; 0 = none */
    uint8_t ip[16]; /* IPv4 in the first 4 bytes */
    uint16_t port;
};

/* "1.2.3.4", "1.2.3.4:8301", "::1", "[::1]:8301"; default_port when absent.
 * Literal addresses only (name resolution is the adapter's). CN_EINVAL. */
int gossip_addr_parse(struct cn_str s, uint16_t default_port, struct gossip_addr *out);
/* "ip:port" (IPv6 as "[ip]:port"), NUL-terminated; returns length. n >= 48. */
size_t gossip_addr_format(const struct gossip_addr *a, char *out, size_t n);
/* The IP alone ("10.0.0.1", "fe80::1"); returns length. n >= 40. */
size_t gossip_addr_format_ip(const struct gossip_addr *a, char *out, size_t n);
bool gossip_addr_eq(const struct gossip_addr *a, const struct gossip_addr *b);
#define GOSSIP_ADDR_STR_MAX 48

/* ---- timing ------------------------------------------------------------- */

/* memberlist's DefaultLANConfig / DefaultWANConfig / DefaultLocalConfig, with
 * Serf's defaults for its layer; DEV is Consul's -dev gossip (100 ms timers,
 * suspicion_mult 3). Consul's agent config sets gossip_wan.gossip_nodes = 3
 * where memberlist's WAN profile has 4: the agent overrides that field. */
enum gossip_profile {
    GOSSIP_PROFILE_LAN,
    GOSSIP_PROFILE_WAN,
    GOSSIP_PROFILE_LOCAL,
    GOSSIP_PROFILE_DEV,
};

struct gossip_timing {
    /* memberlist */
    uint32_t probe_interval_ms;      /* LAN 1000, WAN 5000, local 1000 */
    uint32_t probe_timeout_ms;       /* LAN 500, WAN 3000, local 200 */
    uint32_t indirect_checks;        /* LAN 3, local 1 */
    uint32_t gossip_interval_ms;     /* LAN 200, WAN 500, local 100 */
    uint32_t gossip_nodes;           /* LAN 3, WAN 4 */
    uint32_t gossip_to_the_dead_ms;  /* LAN 30 s, WAN 60 s, local 15 s */
    uint32_t retransmit_mult;        /* LAN 4, local 2 */
    uint32_t suspicion_mult;         /* LAN 4, WAN 6, local 3 */
    uint32_t suspicion_max_timeout_mult; /* 6; 1 turns dynamic suspicion off */
    uint32_t awareness_max_multiplier;   /* 8; 1 turns local health off */
    uint32_t push_pull_interval_ms;  /* LAN 30 s, WAN 60 s, local 15 s; 0 = off */
    uint32_t tcp_timeout_ms;         /* LAN 10 s, WAN 30 s, local 1 s */
    uint32_t udp_buffer_size;        /* 1400: the largest packet sent */
    bool disable_tcp_pings;
    bool disable_buddy;              /* don't tell a suspect it is suspected */
    /* Serf */
    uint32_t reap_interval_ms;       /* 15 s */
    uint32_t reconnect_interval_ms;  /* 30 s */
    uint64_t reconnect_timeout_ms;   /* 24 h (Consul: 72 h): failed -> reaped */
    uint64_t tombstone_timeout_ms;   /* 24 h: left -> reaped */
    uint32_t leave_propagate_delay_ms; /* 1 s */
    uint32_t broadcast_timeout_ms;   /* 5 s: longest wait for the leave broadcast */
    uint32_t queue_depth_min;        /* 4096: broadcasts kept, at least 2 * N */
    uint32_t user_coalesce_ms;       /* 0 = off; window for coalesced user events */
    uint32_t user_quiescent_ms;      /* flush a coalesce window after this much quiet */
    uint32_t query_timeout_mult;     /* 16: keyring query timeout factor */
};

void gossip_timing_default(struct gossip_timing *t, enum gossip_profile p);

/* Derived values, as memberlist computes them (exposed for tests and docs). */
uint32_t gossip_retransmit_limit(uint32_t mult, uint32_t n);
uint64_t gossip_suspicion_min_ms(uint32_t mult, uint32_t n, uint32_t interval_ms);
uint64_t gossip_push_pull_scale_ms(uint32_t interval_ms, uint32_t n);

/* ---- keys and keyring --------------------------------------------------- */

struct gossip_key {
    uint8_t len; /* 16, 24 or 32 (AES-128/192/256-GCM) */
    uint8_t bytes[32];
};

/* `cairn keygen`: base64 of 32 bytes the caller drew from the OS RNG.
 * out gets GOSSIP_KEY_B64_LEN chars and a NUL (n >= 45). */
void gossip_keygen(const uint8_t random32[32], char *out, size_t n);
/* Decode a base64 key (the `encrypt` config value); CN_EINVAL with a message
 * unless it decodes to 16, 24 or 32 bytes. */
int gossip_key_decode(struct cn_str b64, struct gossip_key *out, struct cn_err *err);
/* Base64 of a key, NUL-terminated (n >= 45). */
void gossip_key_encode(const struct gossip_key *k, char *out, size_t n);

/* ---- node records shared between cores (optional) ----------------------- */

/* Cores in one process may share one table of immutable node records (name,
 * address, tags), so a simulator with 10,000 cores keeps one copy of each
 * node instead of 10,000. Single-threaded: all sharing cores must run on one
 * thread. The table must outlive them. The agent leaves cfg.intern NULL. */
struct gossip_intern;
struct gossip_intern *gossip_intern_new(void);
void gossip_intern_free(struct gossip_intern *in);

/* ---- configuration ------------------------------------------------------ */

struct gossip_tag {
    const char *key;
    const char *value;
};

struct gossip_config {
    const char *name;              /* unique node name, 1..GOSSIP_NAME_MAX bytes */
    struct gossip_addr addr;       /* advertised address and port (UDP and TCP) */
    const struct gossip_tag *tags; /* borrowed for the call; keys unique */
    size_t n_tags;
    struct gossip_timing timing;   /* start from gossip_timing_default */
    const struct gossip_key *keys; /* keyring; keys[0] is primary; none = plaintext */
    size_t n_keys;
    bool verify_incoming;          /* with keys: refuse plaintext (Consul: true) */
    bool verify_outgoing;          /* with keys: encrypt what we send (Consul: true) */
    bool coordinates;              /* compute Vivaldi coordinates from probe RTTs */
    uint8_t vsn[6];                /* protocol min/max/cur, delegate min/max/cur as
                                      reported to /v1/agent/members; zeros = 1,5,2,2,5,4 */
    struct cn_rand rng;            /* seeded by the caller; all 256 bits from the OS
                                      in production (AES-GCM nonces come from it) */
    struct gossip_intern *intern;  /* optional, see above */
};

/* Sets defaults: LAN timing, verify both ways, no keys, coordinates on. */
void gossip_config_init(struct gossip_config *cfg);

struct gossip;

/* Create a core; it starts alone, alive, incarnation 1, with a broadcast of
 * itself queued. Returns NULL with err set on a bad config. */
struct gossip *gossip_new(const struct gossip_config *cfg, uint64_t now_ms, struct cn_err *err);
void gossip_free(struct gossip *g);

/* ---- members ------------------------------------------------------------ */

enum gossip_status {
    GOSSIP_STATUS_NONE = 0,
    GOSSIP_STATUS_ALIVE = 1, /* alive or suspected */
    GOSSIP_STATUS_LEAVING = 2,
    GOSSIP_STATUS_LEFT = 3,
    GOSSIP_STATUS_FAILED = 4,
};
const char *gossip_status_name(enum gossip_status s); /* "alive", "leaving", ... */

struct gossip_member {
    const char *name;
    struct gossip_addr addr;
    const struct gossip_tag *tags; /* sorted by key */
    size_t n_tags;
    enum gossip_status status;
    bool suspect;                  /* alive but currently suspected */
    uint32_t incarnation;
    uint8_t vsn[6];                /* ProtocolMin/Max/Cur, DelegateMin/Max/Cur */
};

/* Value of tag key in m, or NULL. */
const char *gossip_member_tag(const struct gossip_member *m, const char *key);

size_t gossip_num_members(const struct gossip *g); /* every status, self included */
size_t gossip_num_alive(const struct gossip *g);
/* The i-th member (0 <= i < gossip_num_members), in no particular order. */
void gossip_member_at(const struct gossip *g, size_t i, struct gossip_member *out);
/* CN_ENOENT when unknown. */
int gossip_member_get(const struct gossip *g, const char *name, struct gossip_member *out);
void gossip_self(const struct gossip *g, struct gossip_member *out);

/* ---- coordinates (Serf's Vivaldi: 8 dimensions, height, adjustment) ----- */

#define GOSSIP_COORD_DIM 8
struct gossip_coord {
    double vec[GOSSIP_COORD_DIM];
    double error;
    double adjustment;
    double height;
};
/* This node's coordinate; false when coordinates are off. */
bool gossip_coord_self(const struct gossip *g, struct gossip_coord *out);
/* Last coordinate learnt from a member's acks; false when none. */
bool gossip_coord_get(const struct gossip *g, const char *name, struct gossip_coord *out);
/* Estimated RTT between two coordinates, in seconds (Serf's DistanceTo). */
double gossip_coord_distance(const struct gossip_coord *a, const struct gossip_coord *b);

/* ---- statistics (consul info's serf_lan/serf_wan sections) -------------- */

struct gossip_stats {
    uint32_t members, alive, suspect, failed, left;
    uint32_t health_score;         /* Lifeguard awareness, 0 = healthy */
    uint32_t incarnation;
    uint64_t event_ltime, query_ltime;
    uint32_t event_queue, queued_broadcasts;
    bool encrypted;
    uint64_t packets_sent, packets_received, bytes_sent, bytes_received;
    uint64_t streams_sent, streams_received, stream_bytes_sent, stream_bytes_received;
    uint64_t rejected_packets;     /* undecryptable, plaintext when refused, garbage */
    uint64_t probes, probe_failures, refutes, suspicions_started;
};
void gossip_stats(const struct gossip *g, struct gossip_stats *out);

/* ---- events into the core ----------------------------------------------- */

enum gossip_key_op {
    GOSSIP_KEY_LIST,
    GOSSIP_KEY_INSTALL,
    GOSSIP_KEY_USE,
    GOSSIP_KEY_REMOVE,
};

enum gossip_event_type {
    GOSSIP_EV_TICK,          /* time passed (a timer fired) */
    GOSSIP_EV_PACKET,        /* a UDP datagram arrived */
    GOSSIP_EV_STREAM_IN,     /* a request frame arrived on an accepted TCP connection */
    GOSSIP_EV_STREAM_RESULT, /* the answer (or failure) of a stream we asked for */
    GOSSIP_EV_JOIN,          /* push-pull with each address; result in update.joins */
    GOSSIP_EV_LEAVE,         /* graceful leave; update.leave_done when finished */
    GOSSIP_EV_SET_TAGS,      /* replace this node's tags and tell everyone */
    GOSSIP_EV_USER_EVENT,    /* fire a user event */
    GOSSIP_EV_FORCE_LEAVE,   /* mark a failed member left (prune: forget it) */
    GOSSIP_EV_KEY_OP,        /* keyring operation; result in update.key_results */
};

struct gossip_event {
    enum gossip_event_type type;
    /* Optional: the same instant as now_ms at microsecond resolution, for
     * round-trip times (Vivaldi). 0 = now_ms * 1000. */
    uint64_t now_us;
    union {
        struct {
            struct gossip_addr from;
            const uint8_t *data;
            size_t len;
        } packet;
        struct {
            uint64_t conn; /* adapter's id; echoed in update.replies */
            struct gossip_addr from;
            const uint8_t *data;
            size_t len;
        } stream_in;
        struct {
            uint64_t id; /* from update.streams */
            int rc;      /* 0, or CN_EIO / CN_ETIMEDOUT / ... */
            const uint8_t *data;
            size_t len;
        } stream_result;
        struct {
            const struct gossip_addr *addrs;
            size_t n;
            uint64_t token;  /* echoed in update.joins */
            bool ignore_old; /* don't replay user events older than the join (Consul) */
        } join;
        struct {
            const struct gossip_tag *tags;
            size_t n;
        } tags;
        struct {
            struct cn_str name;
            struct cn_str payload;
            bool coalesce;
        } user;
        struct {
            struct cn_str name;
            bool prune;
        } force_leave;
        struct {
            enum gossip_key_op op;
            struct gossip_key key; /* not for LIST */
            bool local_only;       /* this node only, answered in the same update */
            uint64_t token;        /* echoed in update.key_results */
        } key;
    };
};

/* ---- the update out of the core ------------------------------------------ */

struct gossip_packet_out {
    struct gossip_addr to;
    const uint8_t *data;
    size_t len;
};

/* Connect to `to`, send one frame (4-byte little-endian length + data), read
 * one frame back, report it as GOSSIP_EV_STREAM_RESULT(id). Give up after
 * timeout_ms with CN_ETIMEDOUT. */
struct gossip_stream_out {
    uint64_t id;
    struct gossip_addr to;
    const uint8_t *data;
    size_t len;
    uint32_t timeout_ms;
};

/* The answer to GOSSIP_EV_STREAM_IN(conn): write it as one frame and close.
 * len 0: close without answering. */
struct gossip_stream_reply {
    uint64_t conn;
    const uint8_t *data;
    size_t len;
};

enum gossip_change_kind {
    GOSSIP_MEMBER_JOIN,   /* new, or back from failed/left */
    GOSSIP_MEMBER_LEAVE,  /* left gracefully (or force-left) */
    GOSSIP_MEMBER_FAILED, /* declared dead */
    GOSSIP_MEMBER_UPDATE, /* address or tags changed */
    GOSSIP_MEMBER_REAP,   /* forgotten after reconnect/tombstone timeout or prune */
};
const char *gossip_change_name(enum gossip_change_kind k); /* "member-join", ... */

struct gossip_member_change {
    enum gossip_change_kind kind;
    struct gossip_member member;
};

struct gossip_user_event {
    uint64_t ltime;
    struct cn_str name;
    struct cn_str payload;
    bool coalesce;
};

struct gossip_join_result {
    uint64_t token;
    uint32_t contacted; /* addresses that answered the push-pull */
    uint32_t failed;
    int rc;             /* 0 if any answered */
    const char *error;  /* first failure, "" when none */
};

struct gossip_key_count {
    struct gossip_key key;
    uint32_t count; /* members that have it (or have it as primary) */
};

struct gossip_key_message {
    const char *node;
    const char *message;
};

struct gossip_key_result {
    uint64_t token;
    enum gossip_key_op op;
    int rc;              /* 0 when every responding member succeeded */
    uint32_t num_nodes;  /* alive members when the operation started */
    uint32_t num_resp;
    uint32_t num_err;
    const struct gossip_key_count *keys;    /* LIST: installed keys */
    size_t n_keys;
    const struct gossip_key_count *primary; /* LIST: primary keys */
    size_t n_primary;
    const struct gossip_key_message *messages; /* per-node errors */
    size_t n_messages;
};

struct gossip_update {
    struct gossip_packet_out *packets;
    size_t n_packets;
    struct gossip_stream_out *streams;
    size_t n_streams;
    struct gossip_stream_reply *replies;
    size_t n_replies;
    struct gossip_member_change *changes;
    size_t n_changes;
    struct gossip_user_event *events;
    size_t n_events;
    struct gossip_join_result *joins;
    size_t n_joins;
    struct gossip_key_result *key_results;
    size_t n_key_results;
    bool leave_done;      /* graceful leave finished: stop the adapter */
    bool keyring_changed; /* persist gossip_keyring() (local.keyring) */
    uint64_t next_wake_ms; /* step with GOSSIP_EV_TICK at or after this; UINT64_MAX = never */
    struct cn_err err;     /* detail when gossip_step fails */
};

/* Feed one event. Returns 0, or a negative CN_E* for events the caller got
 * wrong (oversized user event, unknown member to force-leave, bad tags...),
 * with u->err set; the update is valid (and must be done) either way.
 * Packets that fail to decode or decrypt are counted and dropped, never an
 * error: the network is not the caller's fault. */
int gossip_step(struct gossip *g, uint64_t now_ms, const struct gossip_event *ev,
                struct gossip_update *u);
void gossip_done(struct gossip *g, struct gossip_update *u);

/* Pre-flight of a user event (the adapter validates before queueing). */
int gossip_user_event_check(struct cn_str name, struct cn_str payload, struct cn_err *err);

/* Installed keys, primary first; valid until the next gossip_step. */
size_t gossip_keyring(const struct gossip *g, const struct gossip_key **keys);

/* Self-check for simulators and tests: CN_BUG on a broken invariant. */
void gossip_check_invariants(const struct gossip *g);

#endif
