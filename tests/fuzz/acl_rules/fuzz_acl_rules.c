/* libFuzzer: ACL rules text through the parser (HCL subset and JSON, both
 * flag sets), then the authorizer built from it. Checks that a failed parse
 * leaves nothing behind, and that an exact rule decides for its own label
 * (merged across duplicates: deny > write > list > read). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acl/acl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool allowed(uint8_t level, enum acl_access acc)
{
    switch (level) {
    case ACL_L_WRITE: return true;
    case ACL_L_LIST: return acc != ACL_A_WRITE;
    case ACL_L_READ: return acc == ACL_A_READ;
    default: return false;
    }
}

static void check(const struct acl_rules *r)
{
    const struct acl_rules *p = r;
    struct acl_identity id = {.accessor = "fuzz", .policies = &p, .npolicies = 1};
    struct acl_authz_opts o = {.default_allow = r->n & 1, .enable_key_list_policy = true};
    struct acl_authz *a = acl_authz_compile(&id, &o);
    for (size_t i = 0; i < r->n; i++) {
        const struct acl_rule *x = &r->v[i];
        struct cn_str label = cn_str_from(x->label);
        if (strlen(x->label) > ACL_LABEL_MAX) abort();
        (void)acl_allow_key_write_prefix(a, label);
        (void)acl_allow_key_list(a, label);
        if (x->prefix || x->res > ACL_R_AGENT) continue;
        uint8_t merged = 0;
        for (size_t j = 0; j < r->n; j++)
            if (!r->v[j].prefix && r->v[j].res == x->res && !strcmp(r->v[j].label, x->label) &&
                r->v[j].level > merged)
                merged = r->v[j].level;
        for (int acc = ACL_A_READ; acc <= ACL_A_WRITE; acc++)
            if (acl_allow(a, x->res, label, acc) != allowed(merged, acc)) abort();
    }
    acl_authz_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (unsigned flags = 0; flags <= ACL_PARSE_LEGACY; flags++) {
        struct acl_rules r;
        struct cn_err err;
        acl_rules_init(&r);
        int rc = acl_rules_parse((const char *)data, size, flags, &r, &err);
        if (rc) {
            if (r.n != 0 || strncmp(err.msg, "At ", 3)) abort();
        } else {
            check(&r);
        }
        acl_rules_release(&r);
    }
    return 0;
}
