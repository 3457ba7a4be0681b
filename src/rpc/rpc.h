/*
 * rpc.h - the endpoint layer: what every HTTP or DNS request turns into.
 *
 * Reads are queries: the caller fills a struct rpc_query (options, a run
 * function that reads the state store, a done callback) and starts it. This
 * layer makes the read safe for its consistency mode (asking the backend:
 * lease, read index, or nothing for stale), runs it, and if the request is a
 * blocking one (?index > 0) parks it on the watch set the run filled until
 * the result's index passes ?index or ?wait (plus jitter) runs out. No
 * thread is held while parked.
 *
 * Writes are encoded commands: the caller encodes one (rpc_cmd.h), submits
 * it, and gets the FSM's result once the command is committed and applied.
 *
 * Everything runs on the event-loop thread that owns the state store. The
 * backend (struct rpc_backend_ops) is what a server provides: Raft apply,
 * read barriers, leader facts, timers. Client agents will provide a
 * forwarding backend (issue 9).
 */
#ifndef RPC_H
#define RPC_H

#include <stdbool.h>
#include <stdint.h>

#include "acl/acl.h"
#include "lib/cn_arena.h"
#include "lib/cn_buf.h"
#include "lib/cn_err.h"
#include "state/state.h"

enum rpc_mode {
    RPC_MODE_DEFAULT = 0, /* the leader, under its lease */
    RPC_MODE_CONSISTENT,  /* the leader after a read-index round */
    RPC_MODE_STALE,       /* any server */
};

const char *rpc_mode_name(enum rpc_mode m); /* "leader", "consistent", "stale" */

struct rpc_query_opts {
    const char *dc;    /* NULL or "" = the agent's */
    const char *token; /* NULL = none given */
    enum rpc_mode mode;
    uint64_t min_index; /* ?index; 0 = do not block */
    int64_t max_wait_ns; /* ?wait; <= 0 = default_query_time */
    int64_t max_stale_ns;
};

/* Facts every read reports (X-Consul-Index, -KnownLeader, -LastContact). */
struct rpc_meta {
    uint64_t index; /* never 0 once a query completes */
    uint64_t last_contact_ms;
    bool known_leader;
    enum rpc_mode effective;
    bool filtered_by_acls;
};

/* Result of a write, as the FSM returned it. */
struct rpc_result {
    uint64_t index;  /* the Raft index the command was applied at */
    bool ok;         /* e.g. KV PUT true/false */
    char *text;      /* an ID or an error message (heap, freed by rpc) */
};

struct rpc_timer;
typedef void (*rpc_timer_fn)(void *arg);
typedef void (*rpc_ready_fn)(void *arg, int rc);
typedef void (*rpc_applied_fn)(void *arg, int rc, struct rpc_result *res);

/* Snapshots (GET/PUT /v1/snapshot): the backend's answer, once. */
struct rpc_snapshot_result {
    int rc;
    const char *error;      /* when rc != 0: Consul's wording */
    struct cn_buf *archive; /* save: the gzip'd archive (the callee may take its bytes) */
    uint64_t index;         /* save: the state index captured; restore: the index after it */
    bool known_leader;
    uint64_t last_contact_ms;
};
typedef void (*rpc_snapshot_fn)(void *arg, const struct rpc_snapshot_result *r);
struct rpc_snapshot;

struct rpc_backend_ops {
    /* Propose an encoded command (copied). applied() runs once, later, after
     * commit and FSM apply (or with an error such as CN_ENOLEADER). */
    void (*apply)(void *be, const void *cmd, size_t len, rpc_applied_fn applied, void *arg);
    /* Call ready() once a read in this mode may run on the local store. */
    void (*read_ready)(void *be, enum rpc_mode mode, rpc_ready_fn ready, void *arg);
    void (*leader_info)(void *be, bool *known_leader, uint64_t *last_contact_ms);
    /* "ip:port" of the leader ("" when none) and the voters. */
    const char *(*leader_addr)(void *be);
    size_t (*peers)(void *be, const char **out, size_t max);
    struct rpc_timer *(*timer_start)(void *be, uint64_t ms, rpc_timer_fn fn, void *arg);
    void (*timer_stop)(void *be, struct rpc_timer *t);
    uint64_t (*random)(void *be);
    /* Save a snapshot archive (stale: no read barrier) or restore one
     * (archive taken, freed by the backend). done() runs once
     * unless snapshot_cancel ran first. NULL on a backend without state. */
    struct rpc_snapshot *(*snapshot)(void *be, bool restore, bool stale, char *archive, size_t len,
                                     rpc_snapshot_fn done, void *arg);
    void (*snapshot_cancel)(void *be, struct rpc_snapshot *op);
};

struct rpc_config {
    const char *datacenter;
    int64_t default_query_time_ns; /* 300 s */
    int64_t max_query_time_ns;     /* 600 s */
    const char *data_dir;          /* leader-side files (acl-bootstrap-reset); NULL in -dev */
};

struct rpc;

struct rpc *rpc_new(const struct rpc_config *cfg, struct state_store *st,
                    const struct rpc_backend_ops *ops, void *be, struct acl_resolver *acl);
void rpc_free(struct rpc *rpc);
struct state_store *rpc_state(struct rpc *rpc);
struct acl_resolver *rpc_acl(struct rpc *rpc);
const struct rpc_config *rpc_config(struct rpc *rpc);
const char *rpc_leader(struct rpc *rpc);
size_t rpc_peers(struct rpc *rpc, const char **out, size_t max);
/* The backend's snapshot save/restore (see rpc_backend_ops.snapshot); a
 * backend without one answers "No known Consul servers" at once (NULL). */
struct rpc_snapshot *rpc_snapshot_start(struct rpc *rpc, bool restore, bool stale, char *archive,
                                        size_t len, rpc_snapshot_fn done, void *arg);
void rpc_snapshot_cancel(struct rpc *rpc, struct rpc_snapshot *op);
/* Queries parked right now (for metrics and benchmarks). */
size_t rpc_parked_count(struct rpc *rpc);

/* ---- queries --------------------------------------------------------- */

struct rpc_query;
/* Read the store into the query's result (allocated from q->arena), adding
 * what it read to ws, and set q->meta.index. Return 0 or a CN_E* error. */
typedef int (*rpc_run_fn)(struct rpc_query *q, struct state_store *st,
                          struct state_watch_set *ws);
typedef void (*rpc_done_fn)(struct rpc_query *q, int rc);

struct rpc_query {
    /* set by the caller */
    struct rpc_query_opts opts;
    rpc_run_fn run;
    rpc_done_fn done;
    void *req;  /* endpoint request */
    void *resp; /* endpoint response, filled by run from arena */
    void *arg;  /* caller's context */
    /* filled in */
    struct rpc_meta meta;
    const struct acl_authz *authz; /* set by the caller, or resolved from opts.token; re-resolved
                                    * (same secret) before every run, so a blocking query that
                                    * wakes after its token was deleted fails "ACL not found" */
    struct cn_arena arena;         /* reset before each run; freed by rpc_query_free */
    struct cn_err err;             /* message for a failing rc */
    /* private */
    struct rpc *rpc;
    struct state_watch_set *ws;
    struct rpc_timer *timer;
    int state;
    bool timed_out;
    char *acl_secret; /* what authz was resolved from: re-resolved at every later evaluation */
    bool acl_fresh;   /* authz was resolved for this request: the first evaluation uses it */
};

/* Allocate a query (freed with rpc_query_free, never while running). */
struct rpc_query *rpc_query_new(struct rpc *rpc);
/* Run it; done() is called exactly once, possibly before this returns
 * (a non-blocking read whose barrier is already satisfied). */
void rpc_query_start(struct rpc_query *q);
/* The client went away: no done() call; the query frees itself when safe. */
void rpc_query_cancel(struct rpc_query *q);
void rpc_query_free(struct rpc_query *q);

/* ---- writes ---------------------------------------------------------- */

struct rpc_write;
typedef void (*rpc_write_done_fn)(void *arg, int rc, const struct rpc_result *res);

/* Submit an encoded command on behalf of a caller whose token was already
 * checked. done() runs once, later, unless cancelled.
 * Returns a handle for rpc_write_cancel, valid until done or cancel. */
struct rpc_write *rpc_write_submit(struct rpc *rpc, const struct cn_buf *cmd,
                                   rpc_write_done_fn done, void *arg);
void rpc_write_cancel(struct rpc_write *w);

/* Resolve a token for an endpoint. CN_EACLNOTFOUND for an unknown secret. */
int rpc_authorize(struct rpc *rpc, const char *token, const struct acl_authz **out);

#endif
