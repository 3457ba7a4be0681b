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

#include "lib/cn_buf.h"
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

/* A KV record. Read-only to callers; session is NULL when unlocked. */
struct state_kv {
    uint64_t create_index;
    uint64_t modify_index;
    uint64_t lock_index;
    uint64_t flags;
    char *session;
    uint32_t key_len;
    uint32_t val_len;
    char data[]; /* key bytes, NUL, value bytes */
};

static inline struct cn_str state_kv_key(const struct state_kv *e)
{
    return (struct cn_str){e->data, e->key_len};
}
static inline struct cn_str state_kv_value(const struct state_kv *e)
{
    return (struct cn_str){e->data + e->key_len + 1, e->val_len};
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

/* ---- sessions -------------------------------------------------------- */

bool state_session_exists(struct state_store *st, struct cn_str id);

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

/* Structural self-check (tests, simulator). */
bool state_check_invariants(struct state_store *st);

#endif
