/*
 * rpc_txn.h - /v1/txn (Consul's Txn.Apply and Txn.Read): KV operations
 * applied all-or-nothing in one Raft entry, or read together.
 *
 * The same executor runs a write transaction inside the FSM (on an open
 * state transaction, which the FSM aborts on any error, so nothing of a
 * failed transaction is left) and a read-only one on the store. Results and
 * errors travel back from the FSM in the write result's text, encoded with
 * rpc_txn_out_encode (binary, base64).
 */
#ifndef RPC_TXN_H
#define RPC_TXN_H

#include "rpc/rpc.h"
#include "rpc/rpc_cmd.h"
#include "rpc/rpc_kv.h"

enum rpc_txn_verb {
    RPC_TXN_SET = 1,
    RPC_TXN_DELETE,
    RPC_TXN_DELETE_CAS,
    RPC_TXN_DELETE_TREE,
    RPC_TXN_CAS,
    RPC_TXN_LOCK,
    RPC_TXN_UNLOCK,
    RPC_TXN_GET,
    RPC_TXN_GET_OR_EMPTY,
    RPC_TXN_GET_TREE,
    RPC_TXN_CHECK_INDEX,
    RPC_TXN_CHECK_SESSION,
    RPC_TXN_CHECK_NOT_EXISTS,
    RPC_TXN__VERB_END
};

/* "set", "delete-tree", ... -> verb; 0 when unknown. */
enum rpc_txn_verb rpc_txn_verb_parse(const char *s);
bool rpc_txn_verb_writes(enum rpc_txn_verb v);

struct rpc_txn_op {
    enum rpc_txn_verb verb;
    struct cn_str key;
    struct cn_str value;
    uint64_t flags;
    uint64_t index;
    struct cn_str session;
};

struct rpc_txn_error {
    size_t op_index;
    const char *what;
};

/* Results (KV entries: value kept only for get and get-tree) and errors,
 * arena-allocated. */
struct rpc_txn_out {
    struct rpc_kv_entry *results;
    bool *has_value;
    size_t nresults, cap;
    struct rpc_txn_error *errors;
    size_t nerrors, ecap;
};

/* RPC_CMD_TXN. Decoded ops point into the command bytes. */
void rpc_txn_encode(const struct rpc_txn_op *ops, size_t n, struct cn_buf *out);
int rpc_txn_decode(struct cn_dec *d, struct cn_arena *a, struct rpc_txn_op **ops, size_t *n);

/* Run ops in order. tx NULL: read-only on st. Stops at the first failing
 * op; returns CN_ECONFLICT when an op failed (out->errors says which). */
int rpc_txn_exec(struct state_txn *tx, struct state_store *st, const struct rpc_txn_op *ops,
                 size_t n, struct cn_arena *a, struct rpc_txn_out *out);

/* Results and errors as a NUL-terminated text (heap) and back. */
char *rpc_txn_out_encode(const struct rpc_txn_out *out);
int rpc_txn_out_decode(const char *text, struct cn_arena *a, struct rpc_txn_out *out);

void rpc_txn_add_error(struct cn_arena *a, struct rpc_txn_out *out, size_t op_index,
                       const char *what);

/* ACL per op: key:read for reads, key:write for writes (delete-tree: on the
 * whole prefix). Adds "Permission denied" errors; true when all pass. */
bool rpc_txn_vet(const struct acl_authz *authz, const struct rpc_txn_op *ops, size_t n,
                 struct cn_arena *a, struct rpc_txn_out *out);
/* Drop get-tree results the token may not read (after a read). */
void rpc_txn_filter_results(const struct acl_authz *authz, struct rpc_txn_out *out);

/* A read-only transaction as a query: req is a struct rpc_txn_req, resp
 * (set by run) a struct rpc_txn_out. */
struct rpc_txn_req {
    const struct rpc_txn_op *ops;
    size_t n;
};
int rpc_txn_run(struct rpc_query *q, struct state_store *st, struct state_watch_set *ws);

#endif
