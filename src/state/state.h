/*
 * state.h - the in-memory state store: tables of records stamped with Raft
 * indexes, watch sets for blocking queries, transactions, snapshots.
 *
 * A pure core: no I/O, no clock, no randomness. One thread owns a store;
 * there are no locks. Every write happens inside a transaction opened at a
 * Raft index (state_txn_begin): mutations are recorded in an undo log so an
 * aborted transaction leaves nothing behind (what /v1/txn needs), and the
 * watch sets touched by a committed transaction fire after the commit, never
 * in the middle of one. Records handed to readers are borrowed: valid until
 * the next write to the store.
 *
 * Index rules (../../docs/architecture.md, Consul's blocking semantics):
 * every table remembers the highest index that modified it; deletes leave
 * tombstones (KV) or extinction indexes so a result's index never goes back.
 */
#ifndef STATE_H
#define STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/cn_arena.h"
#include "lib/cn_buf.h"
#include "lib/cn_codec.h"
#include "lib/cn_err.h"
#include "lib/cn_str.h"

struct state_store;
struct state_txn;
struct state_watch_set;

/* Tables. Numbers are part of the snapshot format: append only. */
enum state_table_id {
    STATE_T_KVS = 0,
    STATE_T_TOMBSTONES = 1,
    STATE_T_NODES = 2,
    STATE_T_SERVICES = 3,
    STATE_T_CHECKS = 4,
    STATE_T_SESSIONS = 5,
    STATE_T_ACL_TOKENS = 6,
    STATE_T_ACL_POLICIES = 7,
    STATE_T_ACL_ROLES = 8,
    STATE_T_QUERIES = 9,
    STATE_T_COORDINATES = 10,
    STATE_T_INDEXES = 11, /* named fine-grained indexes (per service, per node...) */
    STATE_T_META = 12,    /* small cluster-wide facts (acl bootstrap, autopilot...) */
    STATE_T__COUNT
};

/* What a watch set can wait on: a topic plus a key, exact or prefix. */
enum state_topic {
    STATE_W_TABLE = 0, /* key: the table's name; fires on any change to it */
    STATE_W_KV,        /* key: KV key (prefix watches for ?recurse/?keys) */
    STATE_W_SERVICE,   /* key: service name */
    STATE_W_NODE,      /* key: node name */
    STATE_W_SESSION,   /* key: session id */
    STATE_W_CHECK,     /* key: node/check id */
    STATE_W_ACL,       /* key: accessor or policy id */
    STATE_W_OTHER,
    STATE_W__COUNT
};

/* ---- the store ------------------------------------------------------- */

struct state_store *state_new(void);
void state_free(struct state_store *st);

/* Highest index any committed transaction was applied at. */
uint64_t state_last_index(const struct state_store *st);
/* Highest index that modified the table (0 when never). */
uint64_t state_table_index(const struct state_store *st, enum state_table_id t);
/* Max of several tables' indexes; list ends with -1. */
uint64_t state_tables_index(const struct state_store *st, ...);
const char *state_table_name(enum state_table_id t);

/* ---- watch sets ------------------------------------------------------ */

/* A watch set fires once, calling fire(ctx) after the committing write that
 * touched one of its items (or a restore). After firing it holds no items;
 * state_ws_reset lets the owner reuse it for the next round. */
typedef void (*state_fire_fn)(void *ctx);

struct state_watch_set *state_ws_new(struct state_store *st, state_fire_fn fire, void *ctx);
void state_ws_free(struct state_watch_set *ws);
void state_ws_reset(struct state_watch_set *ws);
void state_ws_add(struct state_watch_set *ws, enum state_topic topic, struct cn_str key);
void state_ws_add_prefix(struct state_watch_set *ws, enum state_topic topic, struct cn_str prefix);
void state_ws_add_table(struct state_watch_set *ws, enum state_table_id t);
bool state_ws_fired(const struct state_watch_set *ws);
/* Number of watch sets currently registered (for metrics and tests). */
size_t state_ws_count(const struct state_store *st);

/* ---- transactions ---------------------------------------------------- */

/* Open the store's one write transaction at Raft index idx (idx greater than
 * every index applied before, or equal to the last one when a restore sets
 * it). */
struct state_txn *state_txn_begin(struct state_store *st, uint64_t idx);
uint64_t state_txn_index(const struct state_txn *tx);
struct state_store *state_txn_store(struct state_txn *tx);
/* Make every mutation visible for good, then fire the watches touched. */
void state_txn_commit(struct state_txn *tx);
/* Undo every mutation; nothing fires. */
void state_txn_abort(struct state_txn *tx);

/* ---- KV -------------------------------------------------------------- */

/* What most keys never have: flags, a lock index, a holding session. */
struct state_kv_ext {
    uint64_t lock_index;
    uint64_t flags;
    char session[]; /* "" when unlocked */
};

/* A KV record, read-only to callers, packed because a million keys of 100
 * bytes must fit the memory target in docs/benchmarks.md: after the two
 * indexes come one byte (bit 0: an extension pointer follows the value),
 * the key and value lengths as varints, the key, a NUL, the value, then the
 * unaligned state_kv_ext pointer when bit 0 is set. A 16-byte key with a
 * 100-byte value takes one 144-byte malloc chunk instead of 176. Read it
 * through the accessors below. */
struct state_kv {
    uint64_t create_index;
    uint64_t modify_index;
    unsigned char packed[];
};

#define STATE_KV_HAS_EXT 1u

static inline const unsigned char *state__kv_uvar(const unsigned char *p, size_t *v)
{
    size_t x = 0;
    int shift = 0;
    while (*p & 0x80) {
        x |= (size_t)(*p++ & 0x7f) << shift;
        shift += 7;
    }
    *v = x | (size_t)*p++ << shift;
    return p;
}

/* The key's first byte; *klen and *vlen its lengths. */
static inline const char *state__kv_body(const struct state_kv *e, size_t *klen, size_t *vlen)
{
    return (const char *)state__kv_uvar(state__kv_uvar(e->packed + 1, klen), vlen);
}

static inline struct cn_str state_kv_key(const struct state_kv *e)
{
    size_t kl, vl;
    const char *k = state__kv_body(e, &kl, &vl);
    return (struct cn_str){k, kl};
}
static inline struct cn_str state_kv_value(const struct state_kv *e)
{
    size_t kl, vl;
    const char *k = state__kv_body(e, &kl, &vl);
    return (struct cn_str){k + kl + 1, vl};
}
static inline const struct state_kv_ext *state_kv_ext(const struct state_kv *e)
{
    size_t kl, vl;
    const struct state_kv_ext *x = NULL;
    if (!(e->packed[0] & STATE_KV_HAS_EXT)) return NULL;
    const char *k = state__kv_body(e, &kl, &vl);
    memcpy(&x, k + kl + 1 + vl, sizeof x);
    return x;
}
static inline uint64_t state_kv_flags(const struct state_kv *e)
{
    const struct state_kv_ext *x = state_kv_ext(e);
    return x ? x->flags : 0;
}
static inline uint64_t state_kv_lock_index(const struct state_kv *e)
{
    const struct state_kv_ext *x = state_kv_ext(e);
    return x ? x->lock_index : 0;
}
/* NULL when no session holds the key. */
static inline const char *state_kv_session(const struct state_kv *e)
{
    const struct state_kv_ext *x = state_kv_ext(e);
    return x && x->session[0] ? x->session : NULL;
}


/* Reads. ws may be NULL; otherwise the read's dependencies are added to it. */
const struct state_kv *state_kv_get(struct state_store *st, struct cn_str key,
                                    struct state_watch_set *ws);
/* Index of the whole KV space: max of the kvs and tombstones tables. */
uint64_t state_kv_index(const struct state_store *st);

/* Visit entries with the prefix in key order; fn returns false to stop.
 * *index gets the max ModifyIndex over entries and tombstones under the
 * prefix, or the KV space index when there are none (Consul's rule). */
typedef bool (*state_kv_visit_fn)(void *ctx, const struct state_kv *e);
void state_kv_list(struct state_store *st, struct cn_str prefix, struct state_watch_set *ws,
                   state_kv_visit_fn fn, void *ctx, uint64_t *index);

/* Writes, inside a transaction. They follow Consul's kvsSetTxn & co. */
struct state_kv_write {
    struct cn_str key;
    struct cn_str value;
    uint64_t flags;
    struct cn_str session; /* lock, unlock */
    uint64_t cas_index;    /* cas, delete-cas */
};

/* Create or replace; keeps Session and LockIndex; an identical rewrite
 * changes nothing (ModifyIndex stays). */
int state_kv_set_txn(struct state_txn *tx, const struct state_kv_write *w);
/* cas_index 0: only if absent; else only if ModifyIndex == cas_index.
 * *ok tells whether it wrote. */
int state_kv_cas_txn(struct state_txn *tx, const struct state_kv_write *w, bool *ok);
/* Acquire for w->session (which the caller has checked exists): free key or
 * held by the same session -> write (LockIndex+1 on a new acquisition);
 * held by another -> *ok false. */
int state_kv_lock_txn(struct state_txn *tx, const struct state_kv_write *w, bool *ok);
/* Release if held by w->session: clears Session, writes the value. */
int state_kv_unlock_txn(struct state_txn *tx, const struct state_kv_write *w, bool *ok);
/* Delete (absent is fine); leaves a tombstone. */
int state_kv_delete_txn(struct state_txn *tx, struct cn_str key);
/* Delete only if ModifyIndex == cas_index; absent -> *ok true (Consul). */
int state_kv_delete_cas_txn(struct state_txn *tx, struct cn_str key, uint64_t cas_index, bool *ok);
/* Delete every key with the prefix; tombstones for each. */
int state_kv_delete_tree_txn(struct state_txn *tx, struct cn_str prefix);
/* Clear the session of a held key (release) or delete it (behavior delete),
 * as session invalidation does. Returns the number of keys touched. */
size_t state_kv_release_session_txn(struct state_txn *tx, struct cn_str session, bool delete_keys);
/* Drop tombstones with index <= upto (the leader's tombstone GC). */
int state_tombstone_reap_txn(struct state_txn *tx, uint64_t upto);
size_t state_kv_count(const struct state_store *st);
size_t state_tombstone_count(const struct state_store *st);

/* ---- catalog: nodes, services, checks (catalog*.c) ------------------- */

/* Records as Consul's structs hold them (Node, NodeService, HealthCheck).
 * The same structs are what writers pass in (only the fields they mean;
 * indexes and lookup keys are the store's) and what readers get back,
 * borrowed until the next write. Strings are never NULL once stored ("" for
 * unset); maps are arrays sorted by key. Names and IDs are matched
 * case-insensitively, as Consul's lowercase memdb indexes do. A map whose
 * pointer is NULL is Go's nil map (printed null); an empty non-NULL one is
 * {} (state_pairs_sort orders a map parsed from JSON). */
struct state_pair {
    char *key;
    char *value;
};

struct state_svc_addr { /* ServiceTaggedAddresses value */
    char *key;
    char *address;
    int64_t port;
};

struct state_node {
    char *id; /* UUID or "" */
    char *name;
    char *address;
    struct state_pair *tagged; /* TaggedAddresses */
    size_t ntagged;
    struct state_pair *meta;
    size_t nmeta;
    uint64_t create_index, modify_index;
};

struct state_service {
    char *node;
    char *kind; /* "" for a typical service */
    char *id;
    char *name;
    char **tags;
    size_t ntags;
    char *address;
    struct state_svc_addr *tagged;
    size_t ntagged;
    struct state_pair *meta;
    size_t nmeta;
    int64_t port;
    char *socket_path;
    int64_t weight_passing, weight_warning;
    bool enable_tag_override;
    char *proxy;   /* opaque JSON kept as given ("" = none) */
    char *connect; /* opaque JSON kept as given ("" = none) */
    uint64_t create_index, modify_index;
};

struct state_header { /* one HTTP check header with its values */
    char *name;
    char **values;
    size_t nvalues;
};

/* HealthCheckDefinition: how the owning agent runs the check. */
struct state_check_def {
    char *http, *method, *body, *tls_server_name;
    struct state_header *header;
    size_t nheader;
    bool tls_skip_verify, disable_redirects;
    char *tcp, *udp, *grpc;
    bool grpc_use_tls;
    char **script_args;
    size_t nscript_args;
    char *docker_container_id, *shell;
    char *alias_node, *alias_service;
    int64_t interval_ns, timeout_ns, ttl_ns, deregister_after_ns;
    int64_t output_max_size;
};

struct state_check {
    char *node;
    char *check_id;
    char *name;
    char *status; /* "passing", "warning", "critical" */
    char *notes;
    char *output;
    char *service_id; /* "" = node-level check */
    char *service_name;
    char **service_tags;
    size_t nservice_tags;
    char *type; /* "ttl", "http", "tcp", "script", "alias", ... or "" */
    int64_t exposed_port;
    struct state_check_def def;
    uint64_t create_index, modify_index;
};

/* A catalog registration (Consul's RegisterRequest): upsert the node, then
 * optionally a service and checks on it. Identical rewrites change nothing
 * (no ModifyIndex bump, no watch fires). */
struct state_register {
    const struct state_node *node;
    bool skip_node_update; /* keep an existing node's fields */
    const struct state_service *service; /* may be NULL; its node field is ignored */
    const struct state_check *checks;
    size_t nchecks;
};

/* Errors are CN_EINVAL with Consul's text in err ("Missing node
 * registration", "Missing service registration", ...); the caller aborts. */
int state_catalog_register_txn(struct state_txn *tx, const struct state_register *r,
                               struct cn_err *err);
/* Consul's DeregisterRequest: service_id and check_id NULL/"" for "whole
 * node". Deleting something absent is a no-op. */
int state_catalog_deregister_txn(struct state_txn *tx, struct cn_str node, struct cn_str service_id,
                                 struct cn_str check_id);

/* Lookups (ws may be NULL; otherwise the read's dependencies are added). */
const struct state_node *state_node_get(struct state_store *st, struct cn_str name,
                                        struct state_watch_set *ws);
/* By name, else by node ID (catalog node/:node accepts either). */
const struct state_node *state_node_lookup(struct state_store *st, struct cn_str name_or_id,
                                           struct state_watch_set *ws);
bool state_node_exists(struct state_store *st, struct cn_str name);
const struct state_service *state_service_get(struct state_store *st, struct cn_str node,
                                              struct cn_str service_id);
/* The check (node, check id) or NULL: what sessions bind to. */
const struct state_check *state_check_get(struct state_store *st, struct cn_str node,
                                          struct cn_str check_id);

/* Visitors return false to stop. */
typedef bool (*state_node_fn)(void *ctx, const struct state_node *n);
typedef bool (*state_service_fn)(void *ctx, const struct state_service *s);
typedef bool (*state_check_fn)(void *ctx, const struct state_check *c);

/* Every node by name. Returns Consul's index for catalog nodes. */
uint64_t state_nodes_list(struct state_store *st, struct state_watch_set *ws, state_node_fn fn,
                          void *ctx);
/* Every service instance ordered by service name, then node, then ID.
 * Returns the services table index. */
uint64_t state_services_list(struct state_store *st, struct state_watch_set *ws,
                             state_service_fn fn, void *ctx);
/* Instances of one service name (case-insensitive) ordered by node, then
 * ID. Returns the per-service index, or the last service-extinction index
 * when there are none. The watch wakes only for changes that touch this
 * service's instances, their checks or their nodes. */
uint64_t state_service_instances(struct state_store *st, struct cn_str name,
                                 struct state_watch_set *ws, state_service_fn fn, void *ctx);
/* Services of one node, by ID. Returns the per-node index (node record, its
 * services and checks), or the node-extinction index for an unknown node. */
uint64_t state_node_services(struct state_store *st, struct cn_str node,
                             struct state_watch_set *ws, state_service_fn fn, void *ctx);
uint64_t state_node_index(struct state_store *st, struct cn_str node);
/* Node-level checks of a node (no ServiceID), by check ID. */
void state_node_level_checks(struct state_store *st, struct cn_str node, state_check_fn fn,
                             void *ctx);
/* Checks bound to one service instance, by check ID. */
void state_service_checks(struct state_store *st, struct cn_str node, struct cn_str service_id,
                          state_check_fn fn, void *ctx);
/* Every check of a node (node-level and service), by check ID. Returns the
 * checks table index. */
uint64_t state_node_checks(struct state_store *st, struct cn_str node, struct state_watch_set *ws,
                           state_check_fn fn, void *ctx);
/* Checks with a status ("any" or NULL = all), ordered by node then ID.
 * Returns the checks table index. */
uint64_t state_checks_in_state(struct state_store *st, const char *status,
                               struct state_watch_set *ws, state_check_fn fn, void *ctx);

/* CheckServiceNode rows (health/service, DNS): each instance of a service
 * with its node and the node-level checks followed by the instance's own
 * checks. tags (ntags, AND, case-insensitive) filter instances; with
 * passing_only an instance with any non-passing check is skipped. Returns
 * the index state_service_instances reports. */
struct state_csn {
    const struct state_node *node;
    const struct state_service *service;
    const struct state_check *const *checks;
    size_t nchecks;
};
typedef bool (*state_csn_fn)(void *ctx, const struct state_csn *row);
uint64_t state_health_service(struct state_store *st, struct cn_str name, const struct cn_str *tags,
                              size_t ntags, bool passing_only, struct state_watch_set *ws,
                              state_csn_fn fn, void *ctx);
/* Does the service carry every tag (case-insensitive)? */
bool state_service_has_tags(const struct state_service *s, const struct cn_str *tags, size_t ntags);
/* Worst status over checks: "passing" < "warning" < "critical". */
const char *state_checks_worst(const struct state_check *const *checks, size_t n);

size_t state_node_count(const struct state_store *st);
size_t state_service_count(const struct state_store *st);
size_t state_check_count(const struct state_store *st);

/* Binary encodings of the records (snapshots, Raft commands). Decoding
 * allocates from the arena; CN_ECORRUPT on bad input. */
void state_node_encode(const struct state_node *n, struct cn_buf *out);
int state_node_decode(struct cn_dec *d, struct cn_arena *a, struct state_node *out);
void state_service_encode(const struct state_service *s, struct cn_buf *out);
int state_service_decode(struct cn_dec *d, struct cn_arena *a, struct state_service *out);
void state_check_encode(const struct state_check *c, struct cn_buf *out);
int state_check_decode(struct cn_dec *d, struct cn_arena *a, struct state_check *out);
/* Deep copies into an arena (a query's result outlives the next write). */
struct state_node *state_node_copy(struct cn_arena *a, const struct state_node *n);
struct state_service *state_service_copy(struct cn_arena *a, const struct state_service *s);
struct state_check *state_check_copy(struct cn_arena *a, const struct state_check *c);
void state_pairs_sort(struct state_pair *v, size_t n);
/* Field-for-field equality, indexes excluded (Consul's IsSame). */
bool state_node_same(const struct state_node *a, const struct state_node *b);
bool state_service_same(const struct state_service *a, const struct state_service *b);
bool state_check_same(const struct state_check *a, const struct state_check *b);

/* ---- sessions (session.c, issue 5) ------------------------------------ */

/* A session as Consul's structs.Session holds it. Strings are never NULL
 * once stored. */
struct state_session {
    char *id;
    char *name;
    char *node;
    char **node_checks; /* NodeChecks (check IDs on node) */
    size_t nnode_checks;
    char **service_checks; /* ServiceChecks IDs (namespace always "") */
    size_t nservice_checks;
    int64_t lock_delay_ns;
    bool delete_keys; /* Behavior "delete" (else "release") */
    char *ttl;        /* as given, "" = none (the leader parses it) */
    uint64_t create_index, modify_index;
};

bool state_session_exists(struct state_store *st, struct cn_str id);
const struct state_session *state_session_get(struct state_store *st, struct cn_str id,
                                              struct state_watch_set *ws);
typedef bool (*state_session_fn)(void *ctx, const struct state_session *s);
/* Every session by ID; returns the sessions table index. */
uint64_t state_sessions_list(struct state_store *st, struct state_watch_set *ws,
                             state_session_fn fn, void *ctx);
/* Sessions of one node (case-insensitive), by ID; returns the table index. */
uint64_t state_node_sessions(struct state_store *st, struct cn_str node,
                             struct state_watch_set *ws, state_session_fn fn, void *ctx);
size_t state_session_count(const struct state_store *st);

/* Create (Consul's sessionCreateTxn): the node must be registered and every
 * bound check exist and not be critical, else CN_EINVAL with Consul's text
 * ("Missing node registration", "Missing check '<id>' registration",
 * "Check '<id>' is in critical state"); CN_EEXIST for a taken ID. */
int state_session_create_txn(struct state_txn *tx, const struct state_session *s,
                             struct cn_err *err);
/* Destroy or invalidate (absent is fine): the keys it holds are released
 * or deleted per its behavior in the same transaction, and each gets a
 * lock-delay record when its LockDelay is > 0. */
int state_session_destroy_txn(struct state_txn *tx, struct cn_str id);

/* Lock-delay records: which keys a committed invalidation released, with
 * the session's LockDelay. The store has no clock; a server turns them into
 * deadlines as they commit (watch topic STATE_W_OTHER, key
 * STATE_LOCK_DELAY_TOPIC). Visits records written at an index > after and
 * returns the highest index seen (after when none). Records are not
 * snapshotted and are dropped by the next invalidation. */
#define STATE_LOCK_DELAY_TOPIC "session-lock-delay"
typedef void (*state_lock_delay_fn)(void *ctx, struct cn_str key, int64_t delay_ns);
uint64_t state_lock_delays_since(struct state_store *st, uint64_t after, state_lock_delay_fn fn,
                                 void *ctx);

void state_session_encode(const struct state_session *s, struct cn_buf *out);
int state_session_decode(struct cn_dec *d, struct cn_arena *a, struct state_session *out);
struct state_session *state_session_copy(struct cn_arena *a, const struct state_session *s);

/* ---- ACL tokens and policies (src/state/acl.c, issue 11) --------------- */

struct state_acl_service_identity {
    char *name;
    char **dcs;
    size_t ndcs;
};

struct state_acl_node_identity {
    char *name;
    char *dc;
};

/* A token row. Every string is non-NULL ("" when empty) except legacy_type
 * and rules, which only tokens made through the legacy API carry. */
struct state_acl_token {
    char *accessor; /* primary key */
    char *secret;
    char *description;
    char **policies; /* linked policy IDs (names are resolved when read) */
    size_t npolicies;
    struct state_acl_service_identity *svc;
    size_t nsvc;
    struct state_acl_node_identity *nodes;
    size_t nnodes;
    bool local;
    char *legacy_type; /* "client" or "management": made by /v1/acl/create */
    char *rules;       /* legacy rules text */
    int64_t create_time_ns;
    int64_t expiration_ns; /* 0 = never */
    char *hash;            /* base64, computed by the leader */
    uint64_t create_index, modify_index;
};

struct state_acl_policy {
    char *id; /* primary key */
    char *name;
    char *description;
    char *rules;
    char **dcs;
    size_t ndcs;
    char *hash;
    uint64_t create_index, modify_index;
};

enum state_acl_set_mode {
    STATE_ACL_CREATE = 1, /* the ID (and a token's secret, a policy's name) must be new */
    STATE_ACL_UPDATE,     /* the ID must exist; creation index and time are kept */
    STATE_ACL_ENSURE,     /* create unless the ID (or a token's secret) exists */
    STATE_ACL_UPSERT,     /* create or update */
};

/* Reads. Rows are borrowed (valid until the next write). */
const struct state_acl_token *state_acl_token_get(struct state_store *st, struct cn_str accessor,
                                                  struct state_watch_set *ws);
/* NEEDSWORK: a scan of every token; a secret index would make it O(log n). */
const struct state_acl_token *state_acl_token_by_secret(struct state_store *st,
                                                        struct cn_str secret);
typedef bool (*state_acl_token_fn)(void *ctx, const struct state_acl_token *t);
void state_acl_token_list(struct state_store *st, struct state_watch_set *ws,
                          state_acl_token_fn fn, void *ctx);
const struct state_acl_policy *state_acl_policy_get(struct state_store *st, struct cn_str id,
                                                    struct state_watch_set *ws);
const struct state_acl_policy *state_acl_policy_by_name(struct state_store *st,
                                                        struct cn_str name);
typedef bool (*state_acl_policy_fn)(void *ctx, const struct state_acl_policy *p);
void state_acl_policy_list(struct state_store *st, struct state_watch_set *ws,
                           state_acl_policy_fn fn, void *ctx);
/* Max index of the ACL tables: changes whenever a token or policy does. */
uint64_t state_acl_index(const struct state_store *st);
/* Raft index of the ACL bootstrap, 0 while it has not happened. */
uint64_t state_acl_bootstrap_index(struct state_store *st);
size_t state_acl_token_count(const struct state_store *st);

/* Writes (the row is taken: inserted or freed). Errors with a message:
 * CN_EEXIST, CN_ENOENT, CN_EINVAL (a linked policy does not exist). */
int state_acl_token_set_txn(struct state_txn *tx, struct state_acl_token *t,
                            enum state_acl_set_mode mode, struct cn_err *err);
int state_acl_token_delete_txn(struct state_txn *tx, struct cn_str accessor);
int state_acl_policy_set_txn(struct state_txn *tx, struct state_acl_policy *p,
                             enum state_acl_set_mode mode, struct cn_err *err);
int state_acl_policy_delete_txn(struct state_txn *tx, struct cn_str id);
/* Bootstrap: allowed when it never happened or reset_index equals the
 * index it happened at (the leader read it from acl-bootstrap-reset); then
 * creates the token and records this index. Else CN_EPERM with
 * "ACL bootstrap no longer allowed (reset index: <n>)". */
int state_acl_bootstrap_txn(struct state_txn *tx, struct state_acl_token *t, uint64_t reset_index,
                            struct cn_err *err);

/* Row codecs: snapshots and Raft commands share them. */
void state_acl_token_encode(const struct state_acl_token *t, struct cn_buf *out);
int state_acl_token_decode(struct cn_dec *d, struct state_acl_token **out);
struct state_acl_token *state_acl_token_dup(const struct state_acl_token *t);
void state_acl_token_free(struct state_acl_token *t);
void state_acl_policy_encode(const struct state_acl_policy *p, struct cn_buf *out);
int state_acl_policy_decode(struct cn_dec *d, struct state_acl_policy **out);
struct state_acl_policy *state_acl_policy_dup(const struct state_acl_policy *p);
void state_acl_policy_free(struct state_acl_policy *p);

/* ---- meta: small named cluster-wide facts (src/state/acl_meta.c) ------ */

/* A generic name -> (number, bytes) table in STATE_T_META; the ACL
 * bootstrap index is its first user ("acl-bootstrap"). */
bool state_meta_get(struct state_store *st, const char *name, uint64_t *num, struct cn_str *bytes);
int state_meta_set_txn(struct state_txn *tx, const char *name, uint64_t num, struct cn_str bytes);

/* ---- network coordinates (src/state/coordinate.c, issue 13) ----------- */

/* A Vivaldi coordinate as Serf's coordinate.Coordinate holds it; cairn's
 * gossip computes them in 8 dimensions, and updates of any other size are
 * refused before they reach the store. */
#define STATE_COORD_DIM 8
struct state_coord {
    double vec[STATE_COORD_DIM];
    double error;
    double adjustment;
    double height;
};

/* A row (Consul's structs.Coordinate): a node's LAN coordinate in a network
 * segment ("" in OSS). Keyed by (node, segment), both case-insensitive.
 * Coordinates carry no Raft indexes: Consul's rows have none either. */
struct state_coordinate {
    char *node;
    char *segment;
    struct state_coord coord;
};

/* Every component finite (Serf's IsValid). */
bool state_coord_valid(const struct state_coord *c);
/* Estimated round trip in seconds (Serf's DistanceTo, kept in float
 * seconds: callers that print Go's nanosecond Duration truncate it). */
double state_coord_distance(const struct state_coord *a, const struct state_coord *b);

typedef bool (*state_coordinate_fn)(void *ctx, const struct state_coordinate *c);
/* Every row ordered by node, then segment. Returns the table index. */
uint64_t state_coordinates_list(struct state_store *st, struct state_watch_set *ws,
                                state_coordinate_fn fn, void *ctx);
/* The rows of one node (its segments). Returns the table index. */
uint64_t state_node_coordinates(struct state_store *st, struct cn_str node,
                                struct state_watch_set *ws, state_coordinate_fn fn, void *ctx);
size_t state_coordinate_count(const struct state_store *st);

/* Consul's CoordinateBatchUpdate: upsert each row, silently skipping
 * invalid coordinates and nodes the catalog does not know (their
 * coordinate is deleted with the node, so it cannot be stored before it).
 * The table index moves even when every row was skipped, as in Consul;
 * watchers fire only when a row was written. Deleting a node deletes its
 * rows (catalog_write.c calls state__coordinates_node_deleted). */
int state_coordinate_batch_txn(struct state_txn *tx, const struct state_coordinate *v, size_t n);

/* Row codec (snapshots and the RPC_CMD_COORDINATES command share it);
 * decoding allocates strings from the arena. CN_ECORRUPT on bad input. */
void state_coordinate_encode(const struct state_coordinate *c, struct cn_buf *out);
int state_coordinate_decode(struct cn_dec *d, struct cn_arena *a, struct state_coordinate *out);

/* ---- snapshots ------------------------------------------------------- */

/* Stream the whole store; write returns 0 or a negative error that aborts. */
typedef int (*state_write_fn)(void *ctx, const void *p, size_t n);
/* Pull up to n bytes; returns bytes read (0 at end) or a negative error. */
typedef long (*state_read_fn)(void *ctx, void *p, size_t n);

int state_snapshot_write(struct state_store *st, state_write_fn write, void *ctx);
/* Replace the store's contents with a snapshot; every watch fires. On error
 * the store is left empty and err says where the input went wrong. */
int state_snapshot_restore(struct state_store *st, state_read_fn read, void *ctx,
                           struct cn_err *err);

/* A user's snapshot restore (PUT /v1/snapshot): restore the archive into a
 * scratch store with state_snapshot_restore, stamp it, then swap it in.
 * state_restore_stamp(scratch, index) makes index (>= its last index) the
 * index of every table and every fine-grained index, as if one write at
 * index had replaced everything: no table or fine-grained index a client saw
 * before the restore can be above what it sees after. state_replace moves from's
 * contents into st (pointers to st stay valid), frees from and the old
 * contents, and fires every watch on st; from must have no watch sets. */
void state_restore_stamp(struct state_store *st, uint64_t index);
/* The index of the last restore (0: none). A query's index is never below
 * it: the restore changed everything at that index, so a client blocked on
 * an index from before must wake even where the restored records carry
 * older ModifyIndexes (KV). */
uint64_t state_restore_index(struct state_store *st);
void state_replace(struct state_store *st, struct state_store *from);

/* Structural self-check (tests, simulator). */
bool state_check_invariants(struct state_store *st);

#endif
