/* acl_int.h - what the files of src/acl share. Not for other modules. */
#ifndef ACL_INT_H
#define ACL_INT_H

#include "acl/acl.h"

/* Expiry of a compiled token (0 = never). */
int64_t acl__authz_expires(const struct acl_authz *a);
/* Re-point an authorizer the resolver owns at a new secret. */
void acl__authz_set_secret(struct acl_authz *a, const char *secret);

#endif
