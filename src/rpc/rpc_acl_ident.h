/*
 * rpc_acl_ident.h - a client agent's token resolution through a server
 * (Consul's client-side ACL.TokenRead and ACL.PolicyResolve, made with the
 * token being resolved).
 *
 * A client agent has no ACL tables. For a secret it has not seen (or whose
 * cached answer is older than acl.token_ttl) it sends
 * GET /v1/internal/cairn/acl-ident?stale with X-Consul-Token: <secret>
 * through its HTTP API, which forwards it to a server of its datacenter.
 * The server resolves the token as for any request (an unknown or expired
 * secret is 403 "ACL not found"; no permission is needed otherwise: any
 * token may learn what it grants, as with /v1/acl/token/self) and answers
 * with rpc_acl_ident_run's identity: the rules of the token's policies that
 * apply in this datacenter, its legacy rules, its service and node
 * identities for this datacenter, management, expiry. The client parses the
 * rules (rpc_acl_ident_parse) and caches the result (acl_cache_remote).
 *
 * ?stale: any server answers, as Consul's resolver reads with AllowStale,
 * so tokens keep resolving while the servers elect a leader.
 */
#ifndef RPC_ACL_IDENT_H
#define RPC_ACL_IDENT_H

#include "acl/acl.h"
#include "rpc/rpc.h"

/* Policies, service identities and node identities in one answer: far more
 * than a token links, and a bound on what a decoder allocates. */
#define RPC_ACL_IDENT_LIST_MAX 4096
#define RPC_ACL_IDENT_NAME_MAX 1024

struct rpc_acl_ident {
    char *accessor;
    bool management; /* linked to global-management, or a legacy management token */
    bool anonymous;
    int64_t expires_ns; /* 0 = never */
    const char **rules; /* rules text of each linked policy that applies here */
    size_t nrules;
    const char *legacy_rules; /* the token's own pre-1.4 rules ("" for none) */
    const char **services;    /* ServiceName of each service identity that applies here */
    size_t nservices;
    const char **nodes; /* NodeName of each node identity of this datacenter */
    size_t nnodes;
};

/* ---- the server's side -------------------------------------------------- */

struct rpc_acl_ident_req {
    const char *secret;     /* "anonymous" for the anonymous token */
    const char *datacenter; /* which policies, service and node identities apply */
};

/* Run function for a struct rpc_query with req rpc_acl_ident_req; q->resp is
 * a struct rpc_acl_ident in q->arena whose strings are borrowed from the
 * store (encode them in done()). CN_EACLNOTFOUND when no token has the
 * secret. */
int rpc_acl_ident_run(struct rpc_query *q, struct state_store *st, struct state_watch_set *ws);
void rpc_acl_ident_encode(const struct rpc_acl_ident *id, struct cn_buf *out);

/* ---- the client's side -------------------------------------------------- */

/* Decode an answer into a (strings in a, which the caller releases).
 * CN_ECORRUPT for anything but one whole, well-formed answer. */
int rpc_acl_ident_decode(const void *p, size_t len, struct cn_arena *a, struct rpc_acl_ident *out);

/* The identity acl_cache_remote compiles: each rules text parsed (a text
 * that does not parse grants nothing, as on servers), the legacy rules with
 * ACL_PARSE_LEGACY. out->id borrows from in and from out; release with
 * rpc_acl_ident_parsed_release. */
struct rpc_acl_ident_parsed {
    struct acl_identity id;
    struct acl_rules *rules; /* one per rules text, the legacy rules last */
    size_t nrules;
    const struct acl_rules **ptrs;
};
void rpc_acl_ident_parse(const struct rpc_acl_ident *in, struct rpc_acl_ident_parsed *out);
void rpc_acl_ident_parsed_release(struct rpc_acl_ident_parsed *p);

#endif
