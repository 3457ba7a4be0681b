/*
 * rpc_acl.h - the ACL endpoints (Consul's ACL.* RPCs): token and policy
 * reads, the leader's checks before a write, bootstrap, and the RPC_CMD_ACL
 * commands the FSM applies.
 *
 * Writes: the HTTP layer turns a JSON body into a state_acl_token or
 * state_acl_policy (links by policy ID; it resolves names), then a
 * *_prepare call checks the caller's token (acl:write), applies Consul's
 * rules for the operation (generated IDs, immutable fields, the built-in
 * objects), stamps what only the leader may decide (create time, hash) and
 * encodes the command. After commit the endpoint reads the row back.
 */
#ifndef RPC_ACL_H
#define RPC_ACL_H

#include "rpc/rpc.h"
#include "rpc/rpc_cmd.h"

enum rpc_acl_op {
    RPC_ACL_TOKEN_SET = 1,
    RPC_ACL_TOKEN_DELETE,
    RPC_ACL_POLICY_SET,
    RPC_ACL_POLICY_DELETE,
    RPC_ACL_BOOTSTRAP,
};

/* ---- commands ------------------------------------------------------- */

void rpc_acl_token_set_encode(const struct state_acl_token *t, enum state_acl_set_mode mode,
                              struct cn_buf *out);
void rpc_acl_token_delete_encode(const char *accessor, struct cn_buf *out);
void rpc_acl_policy_set_encode(const struct state_acl_policy *p, enum state_acl_set_mode mode,
                               struct cn_buf *out);
void rpc_acl_policy_delete_encode(const char *id, struct cn_buf *out);
void rpc_acl_bootstrap_encode(const struct state_acl_token *t, uint64_t reset_index,
                              struct cn_buf *out);

struct rpc_acl_cmd {
    enum rpc_acl_op op;
    enum state_acl_set_mode mode;
    uint64_t reset_index;
    struct state_acl_token *token;   /* heap, taken by whoever applies it */
    struct state_acl_policy *policy; /* heap */
    struct cn_str id;                /* deletes: a view into the command */
};
/* Decode the body after rpc_cmd_open; on error nothing is allocated. */
int rpc_acl_decode(struct cn_dec *d, struct rpc_acl_cmd *c);

/* ---- leader-side preparation ---------------------------------------- */

enum rpc_acl_token_kind {
    RPC_ACL_CREATE = 1, /* PUT /v1/acl/token: IDs generated unless given */
    RPC_ACL_UPDATE,     /* PUT /v1/acl/token/:id: the row must exist */
    RPC_ACL_LEGACY,     /* /v1/acl/create|update: upsert by secret */
};

/* Check and encode a token write; t is taken. now_ns is the leader's wall
 * clock (CreateTime, ExpirationTTL). err->msg says what is wrong:
 * CN_EPERM (403), CN_EINVAL (400), CN_ENOENT (404). On success the
 * command's AccessorID is copied into accessor_out (37+ bytes). */
int rpc_acl_token_prepare(struct rpc *rpc, const struct acl_authz *authz,
                          enum rpc_acl_token_kind kind, struct state_acl_token *t,
                          int64_t expiration_ttl_ns, int64_t now_ns, struct cn_buf *out,
                          char *accessor_out, struct cn_err *err);
/* Clone: a new token with the source's links and identities. */
int rpc_acl_token_clone_prepare(struct rpc *rpc, const struct acl_authz *authz,
                                const char *accessor, const char *description, int64_t now_ns,
                                struct cn_buf *out, char *accessor_out, struct cn_err *err);
int rpc_acl_token_delete_prepare(struct rpc *rpc, const struct acl_authz *authz,
                                 const char *accessor, struct cn_buf *out, struct cn_err *err);
/* create: p->id must be "" (generated); update: p->id from the URL. */
int rpc_acl_policy_prepare(struct rpc *rpc, const struct acl_authz *authz, bool create,
                           struct state_acl_policy *p, struct cn_buf *out, char *id_out,
                           struct cn_err *err);
int rpc_acl_policy_delete_prepare(struct rpc *rpc, const struct acl_authz *authz, const char *id,
                                  struct cn_buf *out, struct cn_err *err);
/* Bootstrap: allowed once; afterwards only when <data_dir>/acl-bootstrap-reset
 * (rpc_config.data_dir, read here on the leader) holds the reset index.
 * reset_file_out gets the path to remove after success ("" when none).
 * CN_EPERM with "ACL bootstrap no longer allowed (reset index: <n>)". */
int rpc_acl_bootstrap_prepare(struct rpc *rpc, const char *secret, int64_t now_ns,
                              struct cn_buf *out, char *accessor_out, char *reset_file_out,
                              size_t reset_file_len, struct cn_err *err);

/* The leader's duty on gaining leadership: the global-management policy,
 * the anonymous token and acl.tokens.initial_management (as bootstrap when
 * it has not happened). Appends commands, one per element of cmds
 * (each a fresh buffer the caller releases); returns how many. */
#define RPC_ACL_INIT_CMDS 3
size_t rpc_acl_leader_init_cmds(struct state_store *st, const char *initial_management,
                                int64_t now_ns, struct cn_buf cmds[RPC_ACL_INIT_CMDS]);

/* ---- reads ---------------------------------------------------------- */

enum rpc_acl_read {
    RPC_ACL_READ_TOKEN = 0, /* by AccessorID */
    RPC_ACL_READ_TOKEN_SELF,
    RPC_ACL_READ_TOKENS,
    RPC_ACL_READ_POLICY, /* by ID */
    RPC_ACL_READ_POLICY_NAME,
    RPC_ACL_READ_POLICIES,
    RPC_ACL_READ_LEGACY_INFO, /* by secret */
    RPC_ACL_READ_LEGACY_LIST,
};

struct rpc_acl_req {
    enum rpc_acl_read op;
    const char *id; /* accessor, policy ID or name, legacy secret */
    /* GET /v1/acl/tokens filters */
    const char *policy, *role, *authmethod, *servicename;
};

/* Rows are borrowed from the store: format them in the query's done()
 * callback, before anything else runs. */
struct rpc_acl_resp {
    const struct state_acl_token **tokens;
    size_t ntokens;
    const struct state_acl_policy **policies;
    size_t npolicies;
    bool show_secrets; /* the caller has acl:write */
};

/* Run function for a struct rpc_query with req rpc_acl_req. CN_EPERM
 * without acl:read (token self needs none), CN_ENOENT when the one row
 * asked for is missing. */
int rpc_acl_run(struct rpc_query *q, struct state_store *st, struct state_watch_set *ws);

/* A policy's name for a link, "" when it no longer exists. */
const char *rpc_acl_policy_name(struct state_store *st, const char *id);

#endif
