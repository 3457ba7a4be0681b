/*
 * acl.h - the one authorizer call every endpoint makes.
 *
 * Endpoints resolve the request's token (X-Consul-Token, ?token=,
 * Authorization: Bearer, else the agent's default token, else anonymous)
 * through acl_resolve once, then ask acl_allow for each resource they touch.
 * Until ACLs are enabled the resolver hands out an authorizer that allows
 * everything, so no endpoint has a path that skips the check.
 */
#ifndef ACL_H
#define ACL_H

#include <stdbool.h>

#include "lib/cn_str.h"

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
    ACL_R__COUNT
};

enum acl_access {
    ACL_A_READ = 1,
    ACL_A_LIST = 2,
    ACL_A_WRITE = 3,
};

struct acl_authz;
struct acl_resolver;

struct acl_config {
    bool enabled;
    bool default_allow; /* acl.default_policy */
    const char *default_token; /* acl.tokens.default */
};

struct acl_resolver *acl_resolver_new(const struct acl_config *cfg);
void acl_resolver_free(struct acl_resolver *r);
bool acl_enabled(const struct acl_resolver *r);
/* "allow" or "deny", for X-Consul-Default-ACL-Policy. */
const char *acl_default_policy(const struct acl_resolver *r);

/* Resolve a secret (NULL or "" = none given). The authorizer is borrowed
 * from the resolver, valid until the next call that changes ACL state.
 * CN_EACLNOTFOUND when the secret names no token. */
int acl_resolve(struct acl_resolver *r, const char *secret, const struct acl_authz **out);
bool acl_allow(const struct acl_authz *a, enum acl_resource res, struct cn_str name,
               enum acl_access access);
/* True when the token is anonymous (no secret and no default token): list
 * filtering then does not set X-Consul-Results-Filtered-By-ACLs. */
bool acl_is_anonymous(const struct acl_authz *a);

#endif
