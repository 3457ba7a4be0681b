/*
 * gossip_int.h - the core's internals, shared by its files (and read by its
 * unit tests and the simulator). Nothing here is API.
 *
 * Layout of a core:
 *   members  a dense array that is also the probe order (memberlist's
 *            m.nodes): new members go to a random slot, the array is
 *            reshuffled after each full probe round. 24 bytes a member, plus
 *            a uint32 open-addressing index by name, so 10,000 cores of
 *            10,000 members fit in a few GB.
 *   nodes    immutable, refcounted records (name, address, tags, versions)
 *            interned in a table that cores may share; a member points at one.
 *   queue    the transmit-limited broadcast queue (memberlist's), bucketed by
 *            transmit count; one entry per node name (newer supersedes).
 *   timers   plain deadlines; gossip_step runs whatever is due and reports
 *            the earliest next one.
 */
#ifndef GOSSIP_INT_H
#define GOSSIP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gossip/gossip.h"
#include "lib/cn_buf.h"
#include "lib/cn_codec.h"
#include "lib/cn_common.h"
#include "lib/cn_list.h"
#include "lib/cn_map.h"

/* ---- private limits ----------------------------------------------------- */

#define G_RELAYS_MAX 64          /* indirect pings relayed at once */
#define G_EVENT_BUFFER 512       /* Serf's EventBuffer: Lamport slots remembered */
#define G_EVENTS_PER_SLOT 32     /* distinct events at one Lamport time */
#define G_PUSH_EVENTS_MAX 128    /* recent user events carried by a push-pull */
#define G_COALESCE_MAX 128       /* distinct names held in a coalesce window */
#define G_JOINS_MAX 16           /* joins in progress */
#define G_QUERIES_MAX 8          /* keyring operations in progress */
#define G_QUERY_SEEN 128         /* recent query ids remembered */
#define G_QUERY_MSGS_MAX 64      /* per-node error messages kept in a key result */
#define G_SUSPECT_CONF_MAX 16    /* confirmations tracked per suspicion */
#define G_QUEUE_BUCKETS 64       /* transmit counts tracked (limit is far lower) */
#define G_MEMBERS_MAX (1u << 24) /* members in one pool */
#define G_WIRE_VERSION 1
#define G_HDR_PLAIN 0x01          /* wire version 1, plaintext */
#define G_HDR_AESGCM 0x81         /* wire version 1, AES-GCM */
#define G_NONCE_LEN 12
#define G_TAG_LEN 16
#define G_ENCRYPT_OVERHEAD (1 + G_NONCE_LEN + G_TAG_LEN)
#define G_MERGE_BCAST_MAX 32     /* alive re-broadcasts one push-pull merge may queue */

/* ---- wire messages -------------------------------------------------------- */

enum gmsg_type {
    GMSG_PING = 1,
    GMSG_IND_PING = 2,
    GMSG_ACK = 3,
    GMSG_NACK = 4,
    GMSG_SUSPECT = 5,
    GMSG_ALIVE = 6,
    GMSG_DEAD = 7,
    GMSG_USER = 8,
    GMSG_LEAVE_INTENT = 9,
    GMSG_QUERY = 10,
    GMSG_QUERY_RESP = 11,
    GMSG_PUSHPULL = 12,
    GMSG_ERROR = 13,
};

struct gmsg_ping {
    uint32_t seq;
    struct cn_str target;
    struct cn_str src_name;
    struct gossip_addr src;
};

struct gmsg_ind_ping {
    uint32_t seq;
    struct cn_str target;
    struct gossip_addr target_addr;
    bool nack;
    struct cn_str src_name;
    struct gossip_addr src;
};

struct gmsg_ack {
    uint32_t seq;
    bool has_coord;
    struct gossip_coord coord;
};

/* suspect and dead share a shape */
struct gmsg_accuse {
    uint32_t inc;
    struct cn_str node;
    struct cn_str from;
};

struct gmsg_alive {
    uint32_t inc;
    struct cn_str node;
    struct gossip_addr addr;
    struct cn_str tags; /* encoded tag blob */
    uint8_t vsn[6];
};

struct gmsg_user {
    uint64_t ltime;
    struct cn_str name;
    struct cn_str payload;
    bool cc;
};

struct gmsg_leave {
    uint32_t inc;
    struct cn_str node;
    bool prune;
};

struct gmsg_query {
    uint64_t ltime;
    uint32_t id;
    uint8_t op;
    struct cn_str origin;
    struct gossip_addr origin_addr;
    struct cn_str key;
};

struct gmsg_query_resp {
    uint64_t ltime;
    uint32_t id;
    struct cn_str from;
    bool ok;
    struct cn_str message;
    uint32_t n_keys;
    struct cn_str keys[GOSSIP_KEYS_MAX];
    struct cn_str primary;
};

/* One member as a push-pull carries it. */
struct gmsg_pp_node {
    struct cn_str name;
    struct gossip_addr addr;
    struct cn_str tags;
    uint8_t vsn[6];
    uint32_t inc;
    uint8_t state; /* enum gm_state */
};

/* Encoders append one framed message (type, length, body) to b. */
void gw_ping(struct cn_buf *b, const struct gmsg_ping *m);
void gw_ind_ping(struct cn_buf *b, const struct gmsg_ind_ping *m);
void gw_ack(struct cn_buf *b, const struct gmsg_ack *m);
void gw_nack(struct cn_buf *b, uint32_t seq);
void gw_accuse(struct cn_buf *b, uint8_t type, const struct gmsg_accuse *m);
void gw_alive(struct cn_buf *b, const struct gmsg_alive *m);
void gw_user(struct cn_buf *b, const struct gmsg_user *m);
void gw_leave(struct cn_buf *b, const struct gmsg_leave *m);
void gw_query(struct cn_buf *b, const struct gmsg_query *m);
void gw_query_resp(struct cn_buf *b, const struct gmsg_query_resp *m);
void gw_error(struct cn_buf *b, const char *msg);
/* Framing for a message whose body the caller writes: gw_open reserves the
 * header, gw_close fills in the length. */
size_t gw_open(struct cn_buf *b, uint8_t type);
void gw_close(struct cn_buf *b, size_t at);
void gw_addr(struct cn_buf *b, const struct gossip_addr *a);

/* In a push-pull, a tag pair already sent in the same message is sent as a
 * back-reference (Consul's members share most pairs: role, dc, vsn, build):
 * tags = count:uvar (ref:uvar [key:str value:str if ref == 0])*, ref = i + 1
 * names the i-th literal pair of the message. The six version bytes are
 * sent as 0 when equal to the previous entry's, else 1 and the six bytes. */
#define G_PP_PAIRS_MAX 4096
struct gw_pair {
    uint64_t hash;
    uint32_t koff, klen, voff, vlen; /* where the literal sits in the output buffer */
};
struct gw_pairs {
    uint32_t *slot; /* open addressing: index + 1 into pair, 0 = empty */
    uint32_t cap;
    struct gw_pair *pair;
    uint32_t n, pair_cap;
    uint8_t vsn[6]; /* the previous entry's versions: sent as one byte when equal */
    bool have_vsn;
};
void gw_pairs_init(struct gw_pairs *p);
void gw_pairs_release(struct gw_pairs *p);
void gw_pp_node(struct cn_buf *b, const struct gmsg_pp_node *n, struct gw_pairs *pairs);

struct gr_pairs {
    struct cn_str *key, *value;
    uint32_t n, cap;
    uint8_t vsn[6];
    bool have_vsn;
    struct cn_buf blob; /* the current node's tags, rebuilt as the canonical blob */
};
void gr_pairs_init(struct gr_pairs *p);
void gr_pairs_release(struct gr_pairs *p);

/* Decoders read one message body; 0 or CN_ECORRUPT. Views point into the
 * input. Trailing bytes in a body are ignored (fields are only appended). */
int gr_ping(struct cn_str body, struct gmsg_ping *m);
int gr_ind_ping(struct cn_str body, struct gmsg_ind_ping *m);
int gr_ack(struct cn_str body, struct gmsg_ack *m);
int gr_nack(struct cn_str body, uint32_t *seq);
int gr_accuse(struct cn_str body, struct gmsg_accuse *m);
int gr_alive(struct cn_str body, struct gmsg_alive *m);
int gr_user(struct cn_str body, struct gmsg_user *m);
int gr_leave(struct cn_str body, struct gmsg_leave *m);
int gr_query(struct cn_str body, struct gmsg_query *m);
int gr_query_resp(struct cn_str body, struct gmsg_query_resp *m);
void gr_addr(struct cn_dec *d, struct gossip_addr *a);
struct cn_str gr_name(struct cn_dec *d);
/* n->tags points into pairs->blob until the next call. */
void gr_pp_node(struct cn_dec *d, struct gmsg_pp_node *n, struct gr_pairs *pairs);

/* Walk the framed messages of a plaintext packet body. Returns 1 with the
 * next message, 0 at a clean end, CN_ECORRUPT on a broken frame. */
int gw_next(struct cn_dec *d, uint8_t *type, struct cn_str *body);

/* Tags: encode a tag list (sorted, unique keys) as the blob alive messages
 * carry; validate and count a blob. */
int gw_tags_encode(const struct gossip_tag *tags, size_t n, struct cn_buf *out, struct cn_err *err);
int gw_tags_parse(struct cn_str blob, struct gossip_tag *out, size_t max, char *strings,
                  size_t *n_out);

/* ---- node records --------------------------------------------------------- */

struct gnode {
    uint32_t refs;
    uint16_t name_len;
    uint16_t tags_len;
    uint16_t n_tags;
    uint8_t vsn[6];
    uint64_t hash;      /* content hash, for the intern table */
    uint64_t name_hash; /* for the member index */
    struct gossip_addr addr;
    const char *name;          /* NUL-terminated, in storage */
    const uint8_t *tags_blob;  /* wire form, in storage */
    struct gossip_tag *tags;   /* parsed, pointing into storage */
    struct gnode *next;        /* intern chain */
    char storage[];
};

/* A referenced record for this content, or NULL when the tag blob is bad. */
struct gnode *gnode_get(struct gossip_intern *in, struct cn_str name,
                        const struct gossip_addr *addr, struct cn_str tags,
                        const uint8_t vsn[6]);
static inline struct gnode *gnode_ref(struct gnode *n)
{
    n->refs++;
    return n;
}
void gnode_unref(struct gossip_intern *in, struct gnode *n);
static inline struct cn_str gnode_name(const struct gnode *n)
{
    return (struct cn_str){n->name, n->name_len};
}
static inline struct cn_str gnode_tags(const struct gnode *n)
{
    return (struct cn_str){(const char *)n->tags_blob, n->tags_len};
}

/* ---- members ---------------------------------------------------------------- */

enum gm_state {
    GM_ALIVE = 0,
    GM_SUSPECT = 1,
    GM_DEAD = 2,
    GM_LEFT = 3,
};

struct gmember {
    struct gnode *node;
    uint32_t inc;
    uint8_t state;
    uint8_t pad[3];
    uint64_t state_change_ms;
};

#define G_NONE UINT32_MAX

/* ---- suspicion (Lifeguard's dynamic timeout) -------------------------------- */

struct gsusp {
    struct gnode *node;
    uint32_t inc;
    uint32_t k;       /* confirmations that bring the timeout down to min */
    uint32_t n;       /* confirmations so far */
    uint32_t n_from;
    uint64_t from[G_SUSPECT_CONF_MAX]; /* name hashes of accusers */
    uint64_t start_ms;
    uint64_t min_ms, max_ms;
    uint64_t deadline_ms;
    uint64_t state_change_ms; /* of the member when suspicion began */
};

/* ---- broadcast queue ---------------------------------------------------------- */

enum gbcast_flags {
    GB_LEAVE = 1, /* our own leave message: tell g when it is finished */
};

struct gbcast {
    struct cn_list link;
    uint32_t transmits;
    uint32_t len;
    uint32_t flags;
    char *name; /* owned copy for named broadcasts, or NULL */
    uint8_t data[];
};

struct gqueue {
    struct cn_list bucket[G_QUEUE_BUCKETS];
    struct cn_map named; /* name -> struct gbcast */
    uint32_t count;
};

/* ---- probes and relays ---------------------------------------------------------- */

struct gprobe {
    bool active;
    bool indirect;
    bool tcp_ok;
    struct gnode *target; /* referenced while active */
    uint32_t inc;         /* target's incarnation at probe time */
    uint32_t seq;
    uint64_t sent_us;
    uint64_t ack_deadline_ms;
    uint64_t deadline_ms;
    uint32_t expected_nacks;
    uint32_t nacks;
    uint64_t tcp_id;
};

struct grelay {
    uint32_t local_seq;
    uint32_t orig_seq;
    struct gossip_addr requester;
    bool nack;
    uint64_t deadline_ms;
};

/* ---- streams we started ----------------------------------------------------------- */

enum gstream_kind {
    GS_PUSHPULL = 1, /* periodic anti-entropy */
    GS_JOIN = 2,
    GS_RECONNECT = 3,
    GS_TCP_PING = 4,
};

struct gstream {
    uint64_t id;
    uint8_t kind;
    bool ignore_old;
    uint32_t seq;   /* TCP ping */
    uint64_t token; /* join */
};

struct gjoin {
    uint64_t token;
    uint32_t pending;
    uint32_t ok;
    uint32_t failed;
    char error[160];
};

/* ---- user events ---------------------------------------------------------------- */

struct gev_rec {
    uint64_t ltime;
    bool cc;
    uint32_t name_len;
    uint32_t payload_len;
    char data[]; /* name then payload */
};

struct gev_slot {
    uint64_t ltime;
    uint32_t n, cap;
    struct gev_rec **recs;
};

/* ---- keyring queries -------------------------------------------------------------- */

struct gquery {
    uint64_t token;
    uint32_t id;
    uint64_t ltime;
    enum gossip_key_op op;
    struct gossip_key key;
    uint64_t deadline_ms;
    uint64_t retry_ms;
    uint32_t retries;
    uint32_t num_nodes, num_resp, num_err;
    struct cn_map responded; /* node name -> (void *)1 */
    struct gossip_key_count keys[GOSSIP_KEYS_MAX * 4];
    size_t n_keys;
    struct gossip_key_count primary[GOSSIP_KEYS_MAX * 4];
    size_t n_primary;
    char *msg_node[G_QUERY_MSGS_MAX]; /* owned */
    char *msg_text[G_QUERY_MSGS_MAX];
    size_t n_msgs;
};

/* ---- Vivaldi -------------------------------------------------------------------- */

#define G_VIV_ADJ_WINDOW 20
#define G_VIV_LATENCY_FILTER 3

struct gviv_peer {
    struct gossip_coord coord;
    bool has_coord;
    uint32_t n_samples;
    double samples[G_VIV_LATENCY_FILTER];
};

struct gviv {
    struct gossip_coord coord;
    struct gossip_coord origin;
    double adj[G_VIV_ADJ_WINDOW];
    uint32_t adj_i;
    struct cn_map peers; /* name -> struct gviv_peer */
    uint64_t resets;
};

void gviv_init(struct gviv *v);
void gviv_release(struct gviv *v);
/* Update with an RTT (seconds) to a peer at coordinate other; false if the
 * sample or coordinate was refused. */
bool gviv_update(struct gviv *v, struct cn_rand *rng, struct cn_str peer,
                 const struct gossip_coord *other, double rtt_s);
bool gviv_valid(const struct gossip_coord *c);
void gviv_forget(struct gviv *v, struct cn_str peer);

/* ---- keyring ---------------------------------------------------------------------- */

struct gkeyring {
    struct gossip_key keys[GOSSIP_KEYS_MAX];
    size_t n;
    void *ctx; /* EVP_CIPHER_CTX, created on first use */
};

void gk_release(struct gkeyring *kr);
int gk_install(struct gkeyring *kr, const struct gossip_key *k, struct cn_err *err);
int gk_use(struct gkeyring *kr, const struct gossip_key *k, struct cn_err *err);
int gk_remove(struct gkeyring *kr, const struct gossip_key *k, struct cn_err *err);
bool gk_valid_len(size_t len);
/* Seal plain (a whole plaintext packet) into out: header, nonce, ciphertext,
 * tag. aad_kind distinguishes datagrams from stream frames. */
void gk_seal(struct gkeyring *kr, struct cn_rand *rng, uint8_t aad_kind, const uint8_t *plain,
             size_t n, uint8_t *out);
/* Open an encrypted packet with any installed key into out (n - overhead
 * bytes); returns the plaintext length or CN_ECORRUPT. */
long gk_open(struct gkeyring *kr, uint8_t aad_kind, const uint8_t *in, size_t n, uint8_t *out);

/* ---- the core ----------------------------------------------------------------------- */

struct garena_chunk {
    struct garena_chunk *next;
    size_t used, cap;
    uint8_t data[];
};

struct gvec {
    void *p;
    size_t n, cap;
};

struct gossip {
    struct gossip_timing t;
    struct cn_rand rng;
    struct gossip_intern *intern;
    bool own_intern;
    uint8_t vsn[6];

    /* self */
    struct gnode *self;
    uint32_t self_i;
    uint32_t inc;
    bool leaving;
    bool left;            /* leave finished: silent from now on */
    bool leave_bcast_done;
    uint64_t leave_deadline_ms; /* give up waiting for the leave broadcast */
    uint64_t leave_final_ms;    /* then linger this long (propagation delay); 0 = unset */

    /* clock of the current step */
    uint64_t now_ms;
    uint64_t now_us;

    /* members */
    struct gmember *mem;
    uint32_t n_mem, cap_mem;
    uint32_t *idx; /* member index + 1, 0 = empty */
    uint32_t idx_cap;
    uint32_t n_state[4];
    uint32_t probe_i;

    /* timers */
    uint64_t next_probe_ms, next_gossip_ms, next_pushpull_ms, next_reap_ms, next_reconnect_ms;

    /* failure detection */
    struct gprobe probe;
    struct grelay relays[G_RELAYS_MAX];
    uint32_t n_relays;
    uint32_t seq;
    uint32_t awareness;
    struct cn_map susp; /* name -> struct gsusp */

    struct gqueue q;

    /* streams */
    struct gstream streams[GOSSIP_STREAMS_MAX];
    uint32_t n_streams;
    uint64_t stream_id;
    struct gjoin joins[G_JOINS_MAX];
    uint32_t n_joins;

    /* user events */
    uint64_t ev_clock;    /* Lamport: the next event's time */
    uint64_t ev_min_time; /* ignore events before this (join with ignore_old) */
    struct gev_slot *ev_buf; /* G_EVENT_BUFFER slots, allocated on the first event */
    struct gev_rec *coalesce[G_COALESCE_MAX];
    uint32_t n_coalesce;
    uint64_t coalesce_first_ms, coalesce_last_ms;

    /* keyring and queries */
    struct gkeyring kr;
    bool verify_in, verify_out;
    uint64_t q_clock;
    uint32_t q_id;
    struct gquery *queries[G_QUERIES_MAX]; /* NULL = free slot */
    struct {
        uint64_t ltime;
        uint32_t id;
        uint64_t answered_ms;
    } q_seen[G_QUERY_SEEN];
    uint32_t q_seen_i;

    struct gviv *viv; /* NULL when coordinates are off */

    /* the update being built */
    struct garena_chunk *arena;
    struct gvec out_packets, out_streams, out_replies, out_changes, out_events, out_joins,
        out_keyres, out_held;
    bool out_leave_done, out_keyring_changed;
    bool in_step;
    struct cn_buf pkt;     /* plaintext packet being assembled */
    struct cn_buf scratch; /* message encoding */
    struct cn_buf big;     /* stream frames */
    struct cn_buf rx;      /* decrypted input */

    /* Re-broadcasts left for the merge in progress; -1 outside merges. A
     * push-pull that brings thousands of news (a joiner learning the whole
     * cluster) means we were behind, not the others: memberlist queues them
     * all and then spends minutes of piggyback room on them. */
    int32_t merge_budget;

    struct gossip_stats st;
};

/* ---- cross-file functions (gossip__ would be the long form; g_ is short) ---- */

/* gossip.c: output */
void *g_alloc(struct gossip *g, size_t n);
char *g_strdup(struct gossip *g, struct cn_str s);
#define G_VEC_PUSH(g, vec, type) ((type *)g_vec_push((vec), sizeof(type)))
void *g_vec_push(struct gvec *v, size_t size);
/* Send one framed message to addr with as many broadcasts piggybacked as fit. */
void g_send(struct gossip *g, const struct gossip_addr *to, const uint8_t *msg, size_t n);
/* Seal a stream frame from a plaintext body into the arena. */
const uint8_t *g_frame(struct gossip *g, const uint8_t *body, size_t n, size_t *out_len);
uint64_t g_stream_start(struct gossip *g, const struct gossip_addr *to, const uint8_t *body,
                        size_t n, uint32_t timeout_ms, uint8_t kind);
void g_reply(struct gossip *g, uint64_t conn, const uint8_t *body, size_t n);
void g_notify(struct gossip *g, enum gossip_change_kind kind, uint32_t i);
void g_member_view(const struct gossip *g, const struct gmember *m, struct gossip_member *out);
bool g_encrypting(const struct gossip *g);
/* Authenticate and unwrap a datagram ('U') or stream frame ('S') into its
 * run of messages: 0, CN_EPERM (plaintext refused) or CN_ECORRUPT. */
int g_open_input(struct gossip *g, uint8_t kind, const uint8_t *data, size_t len,
                 struct cn_str *msgs);

/* member.c */
int g_find(const struct gossip *g, struct cn_str name);
uint32_t g_est_nodes(const struct gossip *g);
void g_members_init(struct gossip *g);
void g_members_release(struct gossip *g);
void g_members_compact(struct gossip *g);
uint32_t g_insert(struct gossip *g, struct gnode *node, uint32_t inc, uint8_t state);
void g_remove(struct gossip *g, uint32_t i);
void g_shuffle(struct gossip *g);
void g_swap(struct gossip *g, uint32_t i, uint32_t j);
void g_set_state(struct gossip *g, uint32_t i, uint8_t state);
void g_alive(struct gossip *g, const struct gmsg_alive *a, bool bootstrap);
void g_suspect(struct gossip *g, uint32_t inc, struct cn_str node, struct cn_str from);
void g_dead(struct gossip *g, uint32_t inc, struct cn_str node, struct cn_str from);
void g_leave_intent(struct gossip *g, const struct gmsg_leave *m);
void g_refute(struct gossip *g, uint32_t accused);
void g_bcast_self_alive(struct gossip *g);
void g_susp_tick(struct gossip *g);
uint64_t g_susp_next(const struct gossip *g);
void g_susp_drop(struct gossip *g, struct cn_str name);
void g_reap_tick(struct gossip *g);
void g_awareness(struct gossip *g, int delta);
uint64_t g_scale(const struct gossip *g, uint64_t ms);
int g_force_leave(struct gossip *g, struct cn_str name, bool prune, struct cn_err *err);
/* Random member index matching the filter: 0 alive only, 1 alive/suspect/recently dead. */
uint32_t g_random_members(struct gossip *g, uint32_t k, int filter, const struct gnode *skip,
                          uint32_t *out);

/* probe.c */
void g_probe_tick(struct gossip *g);
uint64_t g_probe_next(const struct gossip *g);
void g_on_ping(struct gossip *g, const struct gossip_addr *from, struct cn_str body);
void g_on_ind_ping(struct gossip *g, const struct gossip_addr *from, struct cn_str body);
void g_on_ack(struct gossip *g, struct cn_str body);
void g_on_nack(struct gossip *g, struct cn_str body);
void g_tcp_ping_result(struct gossip *g, const struct gstream *s, int rc, const uint8_t *data,
                       size_t len);
/* A stream frame holding a ping: the ack to send back, or nothing. */
bool g_tcp_ping_answer(struct gossip *g, struct cn_str body, struct cn_buf *out);
void g_probe_release(struct gossip *g);

/* queue.c */
void gq_init(struct gqueue *q);
void gq_release(struct gqueue *q);
/* Queue a framed message; name != NULL supersedes the queued one of that name. */
void gq_push(struct gossip *g, const char *name, size_t name_len, const uint8_t *msg, size_t n,
             uint32_t flags);
/* Append broadcasts to out while they fit in budget bytes; returns how many. */
uint32_t gq_take(struct gossip *g, struct cn_buf *out, size_t budget);
void gq_prune(struct gossip *g, uint32_t max);

/* pushpull.c */
void g_pushpull_tick(struct gossip *g);
void g_reconnect_tick(struct gossip *g);
int g_join(struct gossip *g, const struct gossip_event *ev, struct cn_err *err);
void g_stream_in(struct gossip *g, uint64_t conn, const struct gossip_addr *from,
                 const uint8_t *data, size_t len);
void g_stream_result(struct gossip *g, uint64_t id, int rc, const uint8_t *data, size_t len);
void g_encode_state(struct gossip *g, struct cn_buf *b, bool join);
/* budget: alive re-broadcasts this merge may queue (G_MERGE_BCAST_MAX, or 0
 * for the answer to our own join: the cluster already knows what it told us);
 * quiet: no broadcasts and no notifications at all (simulator bootstrap). */
int g_merge_state(struct gossip *g, struct cn_str body, bool join_ignore_old, int32_t budget,
                  bool quiet);

/* event.c */
void g_events_init(struct gossip *g);
void g_events_release(struct gossip *g);
int g_user_fire(struct gossip *g, const struct gossip_event *ev, struct cn_err *err);
void g_on_user(struct gossip *g, struct cn_str body);
bool g_user_handle(struct gossip *g, const struct gmsg_user *m);
void g_coalesce_tick(struct gossip *g);
uint64_t g_coalesce_next(const struct gossip *g);
void g_encode_events(struct gossip *g, struct cn_buf *b);
void g_merge_events(struct gossip *g, struct cn_dec *d, bool join_ignore_old);

/* query.c */
int g_key_op(struct gossip *g, const struct gossip_event *ev, struct cn_err *err);
void g_on_query(struct gossip *g, struct cn_str body);
void g_on_query_resp(struct gossip *g, struct cn_str body);
void g_query_tick(struct gossip *g);
uint64_t g_query_next(const struct gossip *g);
void g_queries_release(struct gossip *g);

/* Bootstrap for simulators: merge a push-pull body as known state, with no
 * broadcasts and no notifications. */
int gossip__bootstrap(struct gossip *g, uint64_t now_ms, const uint8_t *body, size_t len);
/* Encode a push-pull body listing the given members (all alive, incarnation 1). */
void gossip__encode_members(struct cn_buf *b, const struct gossip_member *m, size_t n);

#endif
