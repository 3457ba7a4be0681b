/* acl.c - the resolver; allow-all until the ACL system lands (issue 11). */
#include "acl/acl.h"

#include "lib/cn_common.h"
#include "lib/cn_err.h"

struct acl_authz {
    bool allow_all;
    bool anonymous;
};

struct acl_resolver {
    struct acl_config cfg;
    struct acl_authz allow_all;
};

struct acl_resolver *acl_resolver_new(const struct acl_config *cfg)
{
    struct acl_resolver *r = CN_NEW(struct acl_resolver);
    r->cfg = *cfg;
    r->allow_all.allow_all = true;
    return r;
}

void acl_resolver_free(struct acl_resolver *r)
{
    free(r);
}

bool acl_enabled(const struct acl_resolver *r)
{
    return r->cfg.enabled;
}

const char *acl_default_policy(const struct acl_resolver *r)
{
    return r->cfg.default_allow ? "allow" : "deny";
}

int acl_resolve(struct acl_resolver *r, const char *secret, const struct acl_authz **out)
{
    (void)secret;
    *out = &r->allow_all;
    return 0;
}

bool acl_allow(const struct acl_authz *a, enum acl_resource res, struct cn_str name,
               enum acl_access access)
{
    (void)res;
    (void)name;
    (void)access;
    return a->allow_all;
}

bool acl_is_anonymous(const struct acl_authz *a)
{
    return a->anonymous;
}
