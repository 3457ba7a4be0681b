/*
 * rpc_acl_repl.h - ACL replication from the primary datacenter (Consul's
 * acl_replication.go): the dump a secondary's leader fetches from the
 * primary, and the pure plan that brings the local tables in line with it.
 *
 * The primary answers GET /v1/internal/cairn/acl-dump[?tokens] from its
 * store with rpc_acl_dump_run: every policy (the requesting token needs
 * acl:read) and, with ?tokens, every non-local token (acl:write, as Consul's
 * replication token needs: it copies secrets). The answer is the state
 * codecs' encoding of the rows behind a small header (rpc_acl_dump_encode).
 *
 * The secondary's leader decodes it and asks rpc_acl_repl_plan for the
 * RPC_CMD_ACL commands to submit, in order: policy deletes, policy upserts,
 * token deletes, token upserts (a delete first frees a name or a secret an
 * upsert may reuse; policies before the tokens that link them). Rows are
 * compared by ID and content (Hash included, Raft indexes and create time
 * not). Local tokens of the secondary are never touched; the built-in
 * global-management policy and anonymous token are never deleted.
 */
#ifndef RPC_ACL_REPL_H
#define RPC_ACL_REPL_H

#include "rpc/rpc.h"

/* Rows per kind in one dump: far beyond any real ACL system, and a bound
 * on what a decoder allocates for hostile input. */
#define RPC_ACL_DUMP_ROWS_MAX 100000

struct rpc_acl_dump {
    uint64_t index;          /* state_acl_index: what a blocking fetch waits past */
    uint64_t policies_index; /* per-table indexes, for /v1/acl/replication */
    uint64_t tokens_index;
    uint64_t roles_index;
    bool with_tokens; /* tokens were asked for (and are below) */
    const struct state_acl_policy **policies;
    size_t npolicies;
    const struct state_acl_token **tokens; /* non-local tokens only */
    size_t ntokens;
};

/* ---- the primary's side ------------------------------------------------ */

struct rpc_acl_dump_req {
    bool tokens;
};

/* Run function for a struct rpc_query with req rpc_acl_dump_req; q->resp
 * is a struct rpc_acl_dump whose rows are borrowed from the store (encode
 * them in done(), before anything else runs). CN_EPERM without acl:read,
 * or without acl:write when tokens are asked for. */
int rpc_acl_dump_run(struct rpc_query *q, struct state_store *st, struct state_watch_set *ws);

void rpc_acl_dump_encode(const struct rpc_acl_dump *d, struct cn_buf *out);

/* ---- the secondary's side ---------------------------------------------- */

/* Decode an answer; the rows are heap copies owned by out (free them with
 * rpc_acl_dump_release, also after a failure). CN_ECORRUPT for anything
 * but a whole, well-formed dump. */
int rpc_acl_dump_decode(const void *p, size_t len, struct rpc_acl_dump *out);
void rpc_acl_dump_release(struct rpc_acl_dump *d);

struct rpc_acl_repl_plan {
    struct cn_buf *cmds; /* encoded RPC_CMD_ACL commands, to submit in order */
    size_t ncmds;
    size_t policy_deletes, policy_upserts, token_deletes, token_upserts;
};

/* What to write locally so that st holds what d holds. Pure: reads st,
 * allocates the plan. Token links to policies the dump does not hold are
 * dropped from the copy (a link to a deleted policy grants nothing, and the
 * local table refuses dangling links); the primary's Hash is kept. */
void rpc_acl_repl_plan(struct state_store *st, const struct rpc_acl_dump *d,
                       struct rpc_acl_repl_plan *out);
void rpc_acl_repl_plan_release(struct rpc_acl_repl_plan *p);

#endif
