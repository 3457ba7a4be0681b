/*
 * acl.h - Consul's ACL system as a pure core: the rule language, compiled
 * authorizers, and token resolution with a cache.
 *
 * How endpoints use it. Every request resolves its token once
 * (X-Consul-Token, ?token=, Authorization: Bearer, else the agent's default
 * token, else anonymous) through acl_resolve, then asks acl_allow for each
 * resource it touches. http_dispatch does the resolving for every route not
 * flagged ROUTE_NO_ACL (r->authz); rpc queries re-resolve at every
 * evaluation (q->authz), so a blocking query that wakes after its token was
 * deleted answers 403 "ACL not found" and a changed policy applies at once.
 *
 *   if (!acl_allow(r->authz, ACL_R_KEY, key, ACL_A_WRITE)) -> 403
 *   lists: drop rows acl_allow(.., ACL_A_READ) refuses, set
 *          meta.filtered_by_acls (the HTTP layer adds the header when the
 *          token was not anonymous)
 *   KV ?recurse delete: acl_allow_key_write_prefix(a, prefix)
 *   KV ?recurse / ?keys: acl_allow_key_list(a, prefix) first (it is true
 *          unless acl.enable_key_list_policy is on), then filter by read
 *   acl endpoints: acl_allow(a, ACL_R_ACL, CN_STR_NULL, ACL_A_READ/WRITE)
 *
 * Agent-side identities (anti-entropy, DNS): acl_resolve_agent(r,
 * ACL_TOKEN_AGENT, now, &a) resolves acl.tokens.agent (else default, else
 * anonymous); acl_resolve_agent(r, ACL_TOKEN_DNS, ...) is what DNS answers
 * with (dns -> default -> anonymous): a name DNS may answer needs
 * service:read / node:read / query:read under that authorizer.
 *
 * Lifetimes. An authorizer returned by a resolve call is owned by the
 * resolver's cache. It stays valid for the rest of the current event-loop
 * callback and at least ACL_RETIRE_GRACE_NS after the ACL tables change
 * under it; code that parks across callbacks re-resolves (rpc queries do,
 * from acl_authz_secret) rather than keeping the pointer.
 *
 * Purity: no clock, no I/O. Callers pass now_ns (wall clock, Unix ns: it
 * is compared with token expiration times too). A server's resolver reads
 * its state store directly and notices changes through the ACL tables'
 * index; a client's resolver (no authoritative store) answers from tokens
 * the servers resolved for it (acl_cache_remote), with Consul's token_ttl
 * and down_policy.
 */
#ifndef ACL_H
#define ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/cn_err.h"
#include "lib/cn_str.h"

struct state_store;

enum acl_resource {
    ACL_R_KEY = 0,
    ACL_R_NODE,
    ACL_R_SERVICE,
    ACL_R_SESSION,
    ACL_R_EVENT,
    ACL_R_QUERY,
    ACL_R_AGENT,
    ACL_R_KEYRING,
    ACL_R_OPERATOR,
    ACL_R_ACL,
    ACL_R_MESH,
    ACL_R_PEERING,
    ACL_R__COUNT
};

enum acl_access {
    ACL_A_READ = 1,
    ACL_A_LIST = 2,
    ACL_A_WRITE = 3,
};

/* A rule's disposition. Numeric order is the merge order between policies
 * of one token: deny > write > list > read. */
enum acl_level {
    ACL_L_NONE = 0,
    ACL_L_READ = 1,
    ACL_L_LIST = 2,
    ACL_L_WRITE = 3,
    ACL_L_DENY = 4,
};

/* Limits on what a policy may hold (inputs are bounded everywhere). */
#define ACL_RULES_TEXT_MAX (256 * 1024)
#define ACL_RULES_MAX 8192
#define ACL_LABEL_MAX 1024
#define ACL_NEST_MAX 16

/* ---- the rule language (rules.c) ------------------------------------- */

struct acl_rule {
    uint8_t res;        /* enum acl_resource */
    bool prefix;        /* key_prefix & co (legacy segment rules too) */
    uint8_t level;      /* enum acl_level */
    uint8_t intentions; /* service rules: parsed, not enforced */
    char *label;        /* "" for the unlabeled resources */
};

struct acl_rules {
    struct acl_rule *v;
    size_t n, cap;
};

enum acl_parse_flags {
    /* Legacy (pre-1.4, /v1/acl/create) syntax: `key "a" {..}` and the other
     * segment rules are prefix rules. */
    ACL_PARSE_LEGACY = 1 << 0,
};

void acl_rules_init(struct acl_rules *r);
void acl_rules_release(struct acl_rules *r);
/* Append a rule (label copied). */
void acl_rules_add(struct acl_rules *r, enum acl_resource res, bool prefix, const char *label,
                   enum acl_level level);
/* Parse Consul rules, HCL (`key_prefix "app/" { policy = "write" }`,
 * `operator = "read"`, comments) or JSON (`{"key_prefix": {"app/": {"policy":
 * "write"}}}`), appending to out. Empty text is an empty policy. On error:
 * CN_EINVAL with err->msg "At <line>:<col>: <what>" (1-based) and out left
 * as it was. */
int acl_rules_parse(const char *text, size_t len, unsigned flags, struct acl_rules *out,
                    struct cn_err *err);
/* "key_prefix", "operator"...; NULL for an unknown resource. */
const char *acl_resource_name(enum acl_resource res, bool prefix);
const char *acl_level_name(enum acl_level l); /* "read", "list", "write", "deny" */
const char *acl_access_name(enum acl_access a);

/* ---- authorizers (authz.c) ------------------------------------------- */

struct acl_authz;

/* What an authorizer is compiled from: a token's merged policies plus the
 * synthetic rules of its identities. */
struct acl_identity {
    const char *accessor; /* AccessorID, for messages; may be NULL */
    const char *secret;   /* what re-resolves it (acl_authz_secret) */
    bool management;      /* linked to global-management: everything */
    bool anonymous;
    const struct acl_rules *const *policies;
    size_t npolicies;
    const char *const *service_identities; /* ServiceName of each */
    size_t nservice_identities;
    const char *const *node_identities; /* NodeName of each */
    size_t nnode_identities;
    int64_t expires_ns; /* 0 = never */
};

struct acl_authz_opts {
    bool default_allow;          /* acl.default_policy */
    bool enable_key_list_policy; /* acl.enable_key_list_policy */
};

struct acl_authz *acl_authz_compile(const struct acl_identity *id,
                                    const struct acl_authz_opts *opts);
/* An authorizer that allows everything (ACLs disabled) or nothing. */
struct acl_authz *acl_authz_static(bool allow);
void acl_authz_free(struct acl_authz *a);

/* The decision for one resource: exact rule > longest prefix rule > default
 * policy (the acl resource defaults to deny unless management). */
bool acl_allow(const struct acl_authz *a, enum acl_resource res, struct cn_str name,
               enum acl_access access);
/* KV ?recurse delete: write on the prefix and no rule under it that would
 * not grant write (Consul's KeyWritePrefix). */
bool acl_allow_key_write_prefix(const struct acl_authz *a, struct cn_str prefix);
/* KV ?recurse / ?keys: true unless acl.enable_key_list_policy is on and the
 * prefix lacks list (or write). */
bool acl_allow_key_list(const struct acl_authz *a, struct cn_str prefix);
/* Linked to global-management (or ACLs are off). */
bool acl_is_management(const struct acl_authz *a);
/* True when the token is anonymous (no secret and no default token): list
 * filtering then does not set X-Consul-Results-Filtered-By-ACLs. */
bool acl_is_anonymous(const struct acl_authz *a);
/* AccessorID ("" when none) and the secret the authorizer was resolved
 * from ("" for anonymous): what a parked query re-resolves. */
const char *acl_authz_accessor(const struct acl_authz *a);
const char *acl_authz_secret(const struct acl_authz *a);

/* ---- resolution (resolver.c) ----------------------------------------- */

enum acl_down_policy {
    ACL_DOWN_EXTEND_CACHE = 0,
    ACL_DOWN_ALLOW,
    ACL_DOWN_DENY,
    ACL_DOWN_ASYNC_CACHE,
};
/* "allow", "deny", "extend-cache", "async-cache"; -1 when unknown. */
int acl_down_policy_parse(const char *s);

/* The agent's own tokens (acl.tokens.*, /v1/agent/token/<type>). */
enum acl_token_type {
    ACL_TOKEN_DEFAULT = 0,
    ACL_TOKEN_AGENT,
    ACL_TOKEN_AGENT_RECOVERY,
    ACL_TOKEN_REPLICATION,
    ACL_TOKEN_DNS,
    ACL_TOKEN_CONFIG_FILE_REGISTRATION,
    ACL_TOKEN__COUNT
};
/* The URL/config name of a type, legacy spellings accepted
 * ("acl_token", "acl_agent_token", "agent_master"...); -1 when unknown. */
int acl_token_type_parse(const char *name);
const char *acl_token_type_name(enum acl_token_type t); /* canonical */

struct acl_config {
    bool enabled;
    bool default_allow; /* acl.default_policy */
    const char *default_token; /* acl.tokens.default (copied) */
    /* the rest is optional (zero = Consul's defaults) */
    const char *datacenter;    /* policies with Datacenters apply only here */
    const char *node_name;     /* agent_recovery grants agent:write on it */
    bool enable_key_list_policy;
    enum acl_down_policy down_policy;
    int64_t token_ttl_ns;  /* client cache, 30 s */
    int64_t policy_ttl_ns; /* client cache, 30 s */
    /* A server's replicated state (authoritative); NULL on a client. */
    struct state_store *st;
};

struct acl_resolver;

struct acl_resolver *acl_resolver_new(const struct acl_config *cfg);
void acl_resolver_free(struct acl_resolver *r);
bool acl_enabled(const struct acl_resolver *r);
/* "allow" or "deny", for X-Consul-Default-ACL-Policy. */
const char *acl_default_policy(const struct acl_resolver *r);
bool acl_key_list_policy(const struct acl_resolver *r);
/* Give a client's resolver its authoritative store later (NULL detaches). */
void acl_resolver_set_state(struct acl_resolver *r, struct state_store *st);

/* Resolve a secret (NULL or "" = none given: the default token, else
 * anonymous). CN_EACLNOTFOUND when the secret names no token (or an expired
 * one). With ACLs disabled every secret resolves to allow-all. */
int acl_resolve(struct acl_resolver *r, const char *secret, int64_t now_ns,
                const struct acl_authz **out);
/* Resolve one of the agent's own tokens, falling back as Consul does:
 * agent -> default -> anonymous, dns -> default -> anonymous,
 * config_file_service_registration -> agent -> default -> anonymous. */
int acl_resolve_agent(struct acl_resolver *r, enum acl_token_type type, int64_t now_ns,
                      const struct acl_authz **out);

/* Agent tokens: set (copied; NULL/"" clears) and read ("" when unset). */
void acl_set_agent_token(struct acl_resolver *r, enum acl_token_type type, const char *secret);
const char *acl_agent_token(const struct acl_resolver *r, enum acl_token_type type);

/* Drop every cached authorizer now (tests; config reload). */
void acl_resolver_flush(struct acl_resolver *r);
/* Cached authorizers (for metrics and tests). */
size_t acl_resolver_cached(const struct acl_resolver *r);

/* Client agents: record what a server answered for a secret (the token's
 * rules already merged, found=false for "ACL not found"), fetched at now_ns.
 * acl_resolve then answers from it for token_ttl, and after that as
 * down_policy says while acl_resolver_servers_down(r, true). */
void acl_cache_remote(struct acl_resolver *r, const char *secret, bool found,
                      const struct acl_identity *id, int64_t now_ns);
void acl_resolver_servers_down(struct acl_resolver *r, bool down);
/* A client's cached entry is stale and the servers are up: the caller
 * should fetch it again (async-cache refreshes in the background). secret
 * is what acl_resolve would look up (acl_resolve_secret). */
bool acl_resolver_needs_fetch(struct acl_resolver *r, const char *secret, int64_t now_ns);

/* What a client agent does before acl_resolve(r, secret, now_ns):
 *   ACL_FETCH_NONE    resolve now (a server, ACLs off, the recovery token,
 *                     a fresh entry, or servers down: down_policy applies);
 *   ACL_FETCH_WAIT    ask a server for *eff, acl_cache_remote the answer
 *                     (or acl_resolver_servers_down), then resolve;
 *   ACL_FETCH_REFRESH async-cache with a stale entry: resolve now from it
 *                     and ask a server for *eff in the background.
 * *eff is the secret acl_resolve looks up (the default token for none,
 * else "anonymous"), borrowed from secret or the resolver. */
enum acl_fetch_need {
    ACL_FETCH_NONE = 0,
    ACL_FETCH_WAIT,
    ACL_FETCH_REFRESH,
};
enum acl_fetch_need acl_resolver_fetch_need(struct acl_resolver *r, const char *secret,
                                            int64_t now_ns, const char **eff);
/* The secret acl_resolve looks up for what a request carried: secret, else
 * the default token, else ACL_ANONYMOUS_SECRET. Borrowed. */
const char *acl_resolve_secret(const struct acl_resolver *r, const char *secret);

#define ACL_RETIRE_GRACE_NS (120LL * 1000000000LL)

/* Built-in objects. */
#define ACL_GLOBAL_MANAGEMENT_ID "00000000-0000-0000-0000-000000000001"
#define ACL_GLOBAL_MANAGEMENT_NAME "global-management"
#define ACL_ANONYMOUS_ID "00000000-0000-0000-0000-000000000002"
#define ACL_ANONYMOUS_SECRET "anonymous"

#endif
