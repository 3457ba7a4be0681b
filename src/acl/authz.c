/*
 * authz.c - compiled authorizers: a token's policies merged into one sorted
 * table per resource, answering in O(log rules) per check.
 *
 * Consul keeps each resource's rules in a radix tree and walks the path of
 * the name: an exact rule for the name decides, else the longest prefix rule
 * on the path, else the default. Here each resource's labels are one sorted
 * array; every entry knows its nearest ancestor that carries a prefix rule
 * (`parent`). For a name, the largest label <= name is found by binary
 * search; every label that is a prefix of the name is a prefix of that one
 * too (anything sorting between a prefix p of name and name starts with p),
 * so the answer is the first entry on its ancestor chain no longer than
 * their common prefix. Merging policies of one token keeps, per label and
 * kind, the highest level: deny > write > list > read.
 */
#include <stdlib.h>
#include <string.h>

#include "acl/acl_int.h"
#include "lib/cn_common.h"

struct entry {
    char *label;
    uint32_t len;
    uint8_t exact;  /* enum acl_level of the exact rule, or NONE */
    uint8_t prefix; /* of the prefix rule, or NONE */
    int32_t parent; /* nearest entry whose label is a proper prefix and has a prefix rule */
};

struct table {
    struct entry *e;
    size_t n;
};

enum kind { K_COMPILED = 0, K_ALLOW_ALL, K_DENY_ALL };

struct acl_authz {
    uint8_t kind;
    bool management;
    bool anonymous;
    bool default_allow;
    bool key_list;
    uint8_t flat[ACL_R__COUNT]; /* keyring, operator, acl, mesh, peering */
    struct table tabs[ACL_R__COUNT];
    char *accessor;
    char *secret;
    int64_t expires_ns;
};

static bool labeled(enum acl_resource r)
{
    return r <= ACL_R_AGENT;
}

static int label_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c) return c;
    return alen < blen ? -1 : alen > blen;
}

/* ---- compiling ------------------------------------------------------ */

struct raw {
    const char *label;
    uint32_t len;
    bool prefix;
    uint8_t level;
};

static int raw_cmp(const void *a, const void *b)
{
    const struct raw *x = a, *y = b;
    return label_cmp(x->label, x->len, y->label, y->len);
}

static void build_table(struct table *t, struct raw *raw, size_t n)
{
    if (n) qsort(raw, n, sizeof *raw, raw_cmp);
    t->e = n ? cn_calloc(n, sizeof *t->e) : NULL;
    t->n = 0;
    for (size_t i = 0; i < n; i++) {
        struct entry *e = t->n ? &t->e[t->n - 1] : NULL;
        if (!e || label_cmp(e->label, e->len, raw[i].label, raw[i].len)) {
            e = &t->e[t->n++];
            e->label = cn_strndup(raw[i].label, raw[i].len);
            e->len = raw[i].len;
        }
        uint8_t *slot = raw[i].prefix ? &e->prefix : &e->exact;
        if (raw[i].level > *slot) *slot = raw[i].level;
    }
    /* Ancestors in sorted order: a stack of the prefix-rule entries that are
     * prefixes of the current label. */
    int32_t *stack = t->n ? cn_malloc(t->n * sizeof *stack) : NULL;
    size_t depth = 0;
    for (size_t i = 0; i < t->n; i++) {
        struct entry *e = &t->e[i];
        while (depth) {
            struct entry *top = &t->e[stack[depth - 1]];
            if (top->len <= e->len && !memcmp(top->label, e->label, top->len)) break;
            depth--;
        }
        e->parent = depth ? stack[depth - 1] : -1;
        if (e->prefix) stack[depth++] = (int32_t)i;
    }
    free(stack);
}

struct collect {
    struct raw *v[ACL_R__COUNT];
    size_t n[ACL_R__COUNT], cap[ACL_R__COUNT];
};

static void collect_add(struct collect *c, struct acl_authz *a, enum acl_resource res,
                        bool prefix, const char *label, uint8_t level)
{
    if (level == ACL_L_NONE || res >= ACL_R__COUNT) return;
    if (!labeled(res)) {
        if (level > a->flat[res]) a->flat[res] = level;
        return;
    }
    if (c->n[res] == c->cap[res]) {
        c->cap[res] = c->cap[res] ? c->cap[res] * 2 : 16;
        c->v[res] = cn_realloc(c->v[res], c->cap[res] * sizeof *c->v[res]);
    }
    c->v[res][c->n[res]++] = (struct raw){label, (uint32_t)strlen(label), prefix, level};
}

/* The synthetic rules of identities (Consul's ServiceIdentity/NodeIdentity). */
static void identity_rules(struct collect *c, struct acl_authz *a, const struct acl_identity *id,
                           char ***scratch, size_t *nscratch)
{
    for (size_t i = 0; i < id->nservice_identities; i++) {
        const char *svc = id->service_identities[i];
        size_t n = strlen(svc);
        char *sidecar = cn_malloc(n + sizeof "-sidecar-proxy");
        memcpy(sidecar, svc, n);
        memcpy(sidecar + n, "-sidecar-proxy", sizeof "-sidecar-proxy");
        *scratch = cn_realloc(*scratch, (*nscratch + 1) * sizeof **scratch);
        (*scratch)[(*nscratch)++] = sidecar;
        collect_add(c, a, ACL_R_SERVICE, false, svc, ACL_L_WRITE);
        collect_add(c, a, ACL_R_SERVICE, false, sidecar, ACL_L_WRITE);
        collect_add(c, a, ACL_R_SERVICE, true, "", ACL_L_READ);
        collect_add(c, a, ACL_R_NODE, true, "", ACL_L_READ);
    }
    for (size_t i = 0; i < id->nnode_identities; i++) {
        collect_add(c, a, ACL_R_NODE, false, id->node_identities[i], ACL_L_WRITE);
        collect_add(c, a, ACL_R_SERVICE, true, "", ACL_L_READ);
    }
}

struct acl_authz *acl_authz_compile(const struct acl_identity *id,
                                    const struct acl_authz_opts *opts)
{
    struct acl_authz *a = CN_NEW(struct acl_authz);
    struct collect c;
    char **scratch = NULL;
    size_t nscratch = 0;
    memset(&c, 0, sizeof c);
    a->kind = K_COMPILED;
    a->management = id->management;
    a->anonymous = id->anonymous;
    a->default_allow = opts->default_allow;
    a->key_list = opts->enable_key_list_policy;
    a->accessor = cn_strdup(id->accessor ? id->accessor : "");
    a->secret = cn_strdup(id->secret ? id->secret : "");
    a->expires_ns = id->expires_ns;
    for (size_t p = 0; p < id->npolicies; p++) {
        const struct acl_rules *rs = id->policies[p];
        for (size_t i = 0; rs && i < rs->n; i++)
            collect_add(&c, a, rs->v[i].res, rs->v[i].prefix, rs->v[i].label, rs->v[i].level);
    }
    identity_rules(&c, a, id, &scratch, &nscratch);
    for (int r = 0; r < ACL_R__COUNT; r++) {
        if (labeled(r)) build_table(&a->tabs[r], c.v[r], c.n[r]);
        free(c.v[r]);
    }
    for (size_t i = 0; i < nscratch; i++) free(scratch[i]);
    free(scratch);
    return a;
}

struct acl_authz *acl_authz_static(bool allow)
{
    struct acl_authz *a = CN_NEW(struct acl_authz);
    a->kind = allow ? K_ALLOW_ALL : K_DENY_ALL;
    a->management = allow;
    a->default_allow = allow;
    a->accessor = cn_strdup("");
    a->secret = cn_strdup("");
    return a;
}

void acl_authz_free(struct acl_authz *a)
{
    if (!a) return;
    for (int r = 0; r < ACL_R__COUNT; r++) {
        for (size_t i = 0; i < a->tabs[r].n; i++) free(a->tabs[r].e[i].label);
        free(a->tabs[r].e);
    }
    free(a->accessor);
    free(a->secret);
    free(a);
}

/* ---- deciding ------------------------------------------------------- */

/* Index of the largest label <= name, or -1. */
static long floor_index(const struct table *t, struct cn_str name)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (label_cmp(t->e[mid].label, t->e[mid].len, name.p ? name.p : "", name.len) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (long)lo - 1;
}

/* The level that decides for name: exact, else longest prefix, else NONE. */
static uint8_t lookup(const struct table *t, struct cn_str name, bool exact_ok)
{
    long i = floor_index(t, name);
    if (i < 0) return ACL_L_NONE;
    const struct entry *c = &t->e[i];
    size_t lcp = 0, max = CN_MIN(c->len, name.len);
    while (lcp < max && c->label[lcp] == name.p[lcp]) lcp++;
    if (exact_ok && c->exact && lcp == c->len && c->len == name.len) return c->exact;
    long k = c->prefix ? i : c->parent;
    while (k >= 0 && t->e[k].len > lcp) k = t->e[k].parent;
    return k >= 0 ? t->e[k].prefix : ACL_L_NONE;
}

static bool enforce(uint8_t level, enum acl_access acc)
{
    switch (level) {
    case ACL_L_WRITE: return true;
    case ACL_L_LIST: return acc != ACL_A_WRITE;
    case ACL_L_READ: return acc == ACL_A_READ;
    default: return false;
    }
}

static bool by_default(const struct acl_authz *a, enum acl_resource res)
{
    /* ACL management is never granted by the default policy (Consul's
     * static authorizers gate it on management, not on default allow). */
    return res == ACL_R_ACL ? false : a->default_allow;
}

bool acl_allow(const struct acl_authz *a, enum acl_resource res, struct cn_str name,
               enum acl_access access)
{
    if (CN_UNLIKELY(a->kind != K_COMPILED)) return a->kind == K_ALLOW_ALL;
    if (a->management) return true;
    if ((unsigned)res >= ACL_R__COUNT) return false;
    uint8_t level = labeled(res) ? lookup(&a->tabs[res], name, true) : a->flat[res];
    return level == ACL_L_NONE ? by_default(a, res) : enforce(level, access);
}

bool acl_allow_key_write_prefix(const struct acl_authz *a, struct cn_str prefix)
{
    if (a->kind != K_COMPILED) return a->kind == K_ALLOW_ALL;
    if (a->management) return true;
    const struct table *t = &a->tabs[ACL_R_KEY];
    /* Every rule at or under the prefix must grant write. */
    long i = floor_index(t, prefix);
    size_t start = (size_t)(i + 1);
    if (i >= 0 && t->e[i].len == prefix.len && !memcmp(t->e[i].label, prefix.p, prefix.len))
        start = (size_t)i;
    for (size_t j = start; j < t->n; j++) {
        const struct entry *e = &t->e[j];
        if (e->len < prefix.len || memcmp(e->label, prefix.p, prefix.len)) break;
        if (e->exact && e->exact != ACL_L_WRITE) return false;
        if (e->prefix && e->prefix != ACL_L_WRITE) return false;
    }
    uint8_t level = lookup(t, prefix, false);
    return level == ACL_L_NONE ? a->default_allow : level == ACL_L_WRITE;
}

bool acl_allow_key_list(const struct acl_authz *a, struct cn_str prefix)
{
    /* Without the list policy, listing is filtered by read alone. */
    if (a->kind != K_COMPILED || !a->key_list) return true;
    return acl_allow(a, ACL_R_KEY, prefix, ACL_A_LIST);
}

bool acl_is_management(const struct acl_authz *a)
{
    return a->kind == K_ALLOW_ALL || (a->kind == K_COMPILED && a->management);
}

bool acl_is_anonymous(const struct acl_authz *a)
{
    return a->anonymous;
}

const char *acl_authz_accessor(const struct acl_authz *a)
{
    return a->accessor;
}

const char *acl_authz_secret(const struct acl_authz *a)
{
    return a->secret;
}

int64_t acl__authz_expires(const struct acl_authz *a)
{
    return a->expires_ns;
}

void acl__authz_set_secret(struct acl_authz *a, const char *secret)
{
    free(a->secret);
    a->secret = cn_strdup(secret ? secret : "");
}
