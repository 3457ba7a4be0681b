/*
 * rpc_session.h - the session endpoints (Consul's Session.Apply, Get, List,
 * NodeSessions, Renew) and the Session JSON shape.
 *
 * Commands (RPC_CMD_SESSION): create, destroy, and renew. Renew is never
 * proposed: the leader answers it from its TTL timers (server/sessions.c),
 * as Consul's Session.Renew is a leader RPC. A create is encoded without
 * an ID; the leader draws one and re-encodes it before proposing.
 */
#ifndef RPC_SESSION_H
#define RPC_SESSION_H

#include "lib/cn_jw.h"
#include "rpc/rpc.h"
#include "rpc/rpc_cmd.h"

enum rpc_session_op {
    RPC_SESSION_CREATE = 1,
    RPC_SESSION_DESTROY = 2,
    RPC_SESSION_RENEW = 3,
};

struct rpc_session_cmd {
    enum rpc_session_op op;
    struct state_session s; /* CREATE (s.id empty until the leader sets it) */
    struct cn_str id;       /* DESTROY, RENEW */
};

void rpc_session_cmd_encode(const struct rpc_session_cmd *c, struct cn_buf *out);
/* Strings are allocated from the arena or point into the command bytes. */
int rpc_session_cmd_decode(struct cn_dec *d, struct cn_arena *a, struct rpc_session_cmd *c);

/* Session TTL bounds (Consul's session_ttl_min default and SessionTTLMax). */
#define RPC_SESSION_TTL_MIN_NS        (10LL * 1000000000LL)
#define RPC_SESSION_TTL_MAX_NS        (24LL * 3600 * 1000000000LL)
#define RPC_SESSION_LOCK_DELAY_MAX_NS (60LL * 1000000000LL)

/* Validate a create (TTL bounds, lock-delay cap) and the token
 * (session:write on the node), then encode. CN_EPERM, or CN_EINVAL with
 * Consul's text in err (answered 500). ttl_min_ns: session_ttl_min. */
int rpc_session_prepare_create(struct rpc *rpc, const struct acl_authz *authz,
                               struct state_session *s, int64_t ttl_min_ns, struct cn_buf *out,
                               struct cn_err *err);
/* Destroy or renew: session:write on the session's node (looked up in the
 * local store; an unknown session needs no permission). */
int rpc_session_prepare_id(struct rpc *rpc, const struct acl_authz *authz, enum rpc_session_op op,
                           struct cn_str id, struct cn_buf *out);

/* ---- reads ------------------------------------------------------------ */

enum rpc_session_read { RPC_SESSION_INFO = 0, RPC_SESSION_NODE, RPC_SESSION_LIST };

struct rpc_session_req {
    enum rpc_session_read op;
    struct cn_str arg; /* INFO: the ID; NODE: the node */
};

struct rpc_session_resp {
    struct state_session **v; /* arena copies */
    size_t n;
};

int rpc_session_run(struct rpc_query *q, struct state_store *st, struct state_watch_set *ws);

/* ---- JSON ------------------------------------------------------------- */

void rpc_json_session(struct cn_jw *w, const struct state_session *s);

#endif
