/*
 * resolver.c - from a secret to an authorizer, cached.
 *
 * On a server the tokens and policies are in the local replicated store, so
 * resolution is exact and immediate: a cached authorizer is trusted while
 * the ACL tables' index is unchanged; when it moves, the entry is checked
 * against a fingerprint of the token and its policies' modify indexes and
 * recompiled only if they changed. Parsed policies are cached by ID and
 * modify index, so a token of 20 policies x 50 rules compiles once.
 *
 * A client holds what servers told it (acl_cache_remote) for token_ttl, and
 * past that follows down_policy while no server answers (Consul's
 * extend-cache, async-cache, allow, deny).
 *
 * Authorizers replaced in the cache are retired, not freed: a request that
 * resolved one moments ago may still hold it; they are freed once older
 * than ACL_RETIRE_GRACE_NS.
 */
#include <string.h>

#include "acl/acl_int.h"
#include "lib/cn_common.h"
#include "lib/cn_map.h"
#include "state/state.h"

#define CACHE_MAX 8192
#define POLICY_CACHE_MAX 8192
#define DEFAULT_TTL_NS (30LL * 1000000000LL)
#define ACL_SECRET_MAX 256

struct centry {
    struct acl_authz *authz; /* NULL: the secret names no token */
    uint64_t idx;            /* server: ACL index when last validated */
    uint64_t fp;             /* server: fingerprint of token and policies */
    int64_t fetched_ns;      /* client: when a server answered */
};

struct pentry {
    uint64_t modify_index;
    bool dc_ok;
    struct acl_rules rules;
};

struct retired {
    struct retired *next;
    struct acl_authz *a;
    int64_t at;
};

struct acl_resolver {
    struct acl_config cfg;
    char *dc, *node;
    char *tokens[ACL_TOKEN__COUNT];
    struct acl_authz_opts opts;
    struct acl_authz *allow_all, *deny_all, *recovery;
    struct cn_map cache;  /* secret -> struct centry */
    struct cn_map pcache; /* policy ID -> struct pentry */
    struct retired *retired, **retired_tail;
    bool servers_down;
    int64_t last_now_ns; /* the latest now a caller passed */
};

/* ---- names ---------------------------------------------------------- */

int acl_down_policy_parse(const char *s)
{
    static const char *const names[] = {"extend-cache", "allow", "deny", "async-cache"};
    for (size_t i = 0; s && i < CN_ARRAY_SIZE(names); i++)
        if (!strcmp(s, names[i])) return (int)i;
    return -1;
}

static const struct {
    const char *name;
    enum acl_token_type t;
} token_names[] = {
    {"default", ACL_TOKEN_DEFAULT},
    {"agent", ACL_TOKEN_AGENT},
    {"agent_recovery", ACL_TOKEN_AGENT_RECOVERY},
    {"replication", ACL_TOKEN_REPLICATION},
    {"dns", ACL_TOKEN_DNS},
    {"config_file_service_registration", ACL_TOKEN_CONFIG_FILE_REGISTRATION},
    /* legacy spellings */
    {"agent_master", ACL_TOKEN_AGENT_RECOVERY},
    {"acl_token", ACL_TOKEN_DEFAULT},
    {"acl_agent_token", ACL_TOKEN_AGENT},
    {"acl_agent_master_token", ACL_TOKEN_AGENT_RECOVERY},
    {"acl_replication_token", ACL_TOKEN_REPLICATION},
};

int acl_token_type_parse(const char *name)
{
    for (size_t i = 0; name && i < CN_ARRAY_SIZE(token_names); i++)
        if (!strcmp(name, token_names[i].name)) return (int)token_names[i].t;
    return -1;
}

const char *acl_token_type_name(enum acl_token_type t)
{
    for (size_t i = 0; i < CN_ARRAY_SIZE(token_names); i++)
        if (token_names[i].t == t) return token_names[i].name;
    return "";
}

/* ---- lifecycle ------------------------------------------------------ */

static struct acl_authz *recovery_authz(const char *node, const char *secret)
{
    /* Consul's agent recovery authorizer: this agent's endpoints and reading
     * nodes; nothing else. */
    struct acl_rules rules;
    const struct acl_rules *pr = &rules;
    acl_rules_init(&rules);
    acl_rules_add(&rules, ACL_R_AGENT, false, node, ACL_L_WRITE);
    acl_rules_add(&rules, ACL_R_NODE, true, "", ACL_L_READ);
    struct acl_identity id = {.accessor = "agent-recovery", .secret = secret, .policies = &pr,
                              .npolicies = 1};
    struct acl_authz_opts o = {.default_allow = false};
    struct acl_authz *a = acl_authz_compile(&id, &o);
    acl_rules_release(&rules);
    return a;
}

struct acl_resolver *acl_resolver_new(const struct acl_config *cfg)
{
    struct acl_resolver *r = CN_NEW(struct acl_resolver);
    r->cfg = *cfg;
    r->dc = cn_strdup(cfg->datacenter ? cfg->datacenter : "dc1");
    r->node = cn_strdup(cfg->node_name ? cfg->node_name : "");
    r->cfg.datacenter = r->dc;
    r->cfg.node_name = r->node;
    r->cfg.default_token = NULL;
    if (r->cfg.token_ttl_ns <= 0) r->cfg.token_ttl_ns = DEFAULT_TTL_NS;
    if (r->cfg.policy_ttl_ns <= 0) r->cfg.policy_ttl_ns = DEFAULT_TTL_NS;
    for (int i = 0; i < ACL_TOKEN__COUNT; i++) r->tokens[i] = cn_strdup("");
    acl_set_agent_token(r, ACL_TOKEN_DEFAULT, cfg->default_token);
    r->opts.default_allow = cfg->default_allow;
    r->opts.enable_key_list_policy = cfg->enable_key_list_policy;
    r->allow_all = acl_authz_static(true);
    r->deny_all = acl_authz_static(false);
    r->recovery = recovery_authz(r->node, "");
    cn_map_init(&r->cache);
    cn_map_init(&r->pcache);
    r->retired_tail = &r->retired;
    r->servers_down = cfg->st == NULL;
    return r;
}

static void free_pentry(struct pentry *p)
{
    acl_rules_release(&p->rules);
    free(p);
}

void acl_resolver_free(struct acl_resolver *r)
{
    struct cn_map_iter it;
    struct cn_str k;
    void *v;
    if (!r) return;
    cn_map_iter_init(&it, &r->cache);
    while (cn_map_iter_next(&it, &k, &v)) {
        struct centry *e = v;
        acl_authz_free(e->authz);
        free(e);
    }
    cn_map_release(&r->cache);
    cn_map_iter_init(&it, &r->pcache);
    while (cn_map_iter_next(&it, &k, &v)) free_pentry(v);
    cn_map_release(&r->pcache);
    while (r->retired) {
        struct retired *x = r->retired;
        r->retired = x->next;
        acl_authz_free(x->a);
        free(x);
    }
    acl_authz_free(r->allow_all);
    acl_authz_free(r->deny_all);
    acl_authz_free(r->recovery);
    for (int i = 0; i < ACL_TOKEN__COUNT; i++) free(r->tokens[i]);
    free(r->dc);
    free(r->node);
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

bool acl_key_list_policy(const struct acl_resolver *r)
{
    return r->cfg.enable_key_list_policy;
}

void acl_resolver_set_state(struct acl_resolver *r, struct state_store *st)
{
    r->cfg.st = st;
    r->servers_down = st == NULL;
    acl_resolver_flush(r);
}

/* ---- agent tokens --------------------------------------------------- */

void acl_set_agent_token(struct acl_resolver *r, enum acl_token_type type, const char *secret)
{
    if ((unsigned)type >= ACL_TOKEN__COUNT) return;
    free(r->tokens[type]);
    r->tokens[type] = cn_strdup(secret ? secret : "");
    if (type == ACL_TOKEN_AGENT_RECOVERY && r->recovery)
        acl__authz_set_secret(r->recovery, r->tokens[type]);
}

const char *acl_agent_token(const struct acl_resolver *r, enum acl_token_type type)
{
    return (unsigned)type < ACL_TOKEN__COUNT ? r->tokens[type] : "";
}

/* ---- the cache ------------------------------------------------------ */

static void retire(struct acl_resolver *r, struct acl_authz *a, int64_t now_ns)
{
    if (!a) return;
    struct retired *x = CN_NEW(struct retired);
    x->a = a;
    x->at = now_ns;
    *r->retired_tail = x;
    r->retired_tail = &x->next;
}

static void gc_retired(struct acl_resolver *r, int64_t now_ns)
{
    while (r->retired && now_ns - r->retired->at > ACL_RETIRE_GRACE_NS) {
        struct retired *x = r->retired;
        r->retired = x->next;
        if (!r->retired) r->retired_tail = &r->retired;
        acl_authz_free(x->a);
        free(x);
    }
}

static void flush_at(struct acl_resolver *r, int64_t now_ns)
{
    struct cn_map_iter it;
    struct cn_str k;
    void *v;
    cn_map_iter_init(&it, &r->cache);
    while (cn_map_iter_next(&it, &k, &v)) {
        struct centry *e = v;
        retire(r, e->authz, now_ns);
        free(e);
    }
    cn_map_release(&r->cache);
    cn_map_init(&r->cache);
    cn_map_iter_init(&it, &r->pcache);
    while (cn_map_iter_next(&it, &k, &v)) free_pentry(v);
    cn_map_release(&r->pcache);
    cn_map_init(&r->pcache);
}

void acl_resolver_flush(struct acl_resolver *r)
{
    /* No clock here: the grace period runs from the last resolve's now. */
    flush_at(r, r->last_now_ns);
}

size_t acl_resolver_cached(const struct acl_resolver *r)
{
    return cn_map_count(&r->cache);
}

static struct centry *entry_for(struct acl_resolver *r, const char *secret, int64_t now_ns)
{
    struct centry *e = cn_map_get(&r->cache, cn_str_from(secret));
    if (e) return e;
    if (cn_map_count(&r->cache) >= CACHE_MAX) flush_at(r, now_ns);
    e = CN_NEW(struct centry);
    cn_map_put(&r->cache, cn_str_from(secret), e);
    return e;
}

static void entry_set(struct acl_resolver *r, struct centry *e, struct acl_authz *a, int64_t now_ns)
{
    if (e->authz != a) retire(r, e->authz, now_ns);
    e->authz = a;
}

/* ---- servers: straight from the store ------------------------------- */

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ULL;
    return h;
}

static uint64_t fingerprint(struct state_store *st, const struct state_acl_token *t)
{
    uint64_t h = 0x8a5cd789635d2dffULL;
    if (!t) return h;
    h = mix(h, t->modify_index);
    h = mix(h, cn_hash_bytes(t->accessor, strlen(t->accessor)));
    for (size_t i = 0; i < t->npolicies; i++) {
        const struct state_acl_policy *p = state_acl_policy_get(st, cn_str_from(t->policies[i]), NULL);
        h = mix(h, p ? p->modify_index : 0xdeadULL + i);
    }
    return h;
}

static bool in_dcs(const char *dc, char *const *dcs, size_t n)
{
    if (n == 0) return true;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(dcs[i], dc)) return true;
    return false;
}

/* A policy's parsed rules (NULL when missing or not for this datacenter). */
static const struct acl_rules *policy_rules(struct acl_resolver *r, const char *id)
{
    struct cn_str key = cn_str_from(id);
    const struct state_acl_policy *p = state_acl_policy_get(r->cfg.st, key, NULL);
    struct pentry *pe = cn_map_get(&r->pcache, key);
    if (!p) return NULL;
    if (!pe || pe->modify_index != p->modify_index) {
        struct cn_err err;
        if (!pe) {
            if (cn_map_count(&r->pcache) >= POLICY_CACHE_MAX) return NULL;
            pe = CN_NEW(struct pentry);
            cn_map_put(&r->pcache, key, pe);
        }
        acl_rules_release(&pe->rules);
        /* Rules were checked when written; an unparsable one (an older
         * version's syntax) grants nothing. */
        if (acl_rules_parse(p->rules, strlen(p->rules), 0, &pe->rules, &err))
            acl_rules_release(&pe->rules);
        pe->modify_index = p->modify_index;
        pe->dc_ok = in_dcs(r->dc, p->dcs, p->ndcs);
    }
    return pe->dc_ok ? &pe->rules : NULL;
}

static struct acl_authz *compile_token(struct acl_resolver *r, const struct state_acl_token *t,
                                       const char *secret, bool anonymous)
{
    size_t np = t ? t->npolicies : 0, ns = 0, nn = 0;
    const struct acl_rules **pol = cn_calloc(np + 1, sizeof *pol);
    const char **svc = cn_calloc(t && t->nsvc ? t->nsvc : 1, sizeof *svc);
    const char **nodes = cn_calloc(t && t->nnodes ? t->nnodes : 1, sizeof *nodes);
    struct acl_rules legacy;
    struct cn_err err;
    bool mgmt = false;
    size_t n = 0;
    acl_rules_init(&legacy);
    for (size_t i = 0; i < np; i++) {
        if (!strcmp(t->policies[i], ACL_GLOBAL_MANAGEMENT_ID)) {
            mgmt = true;
            continue;
        }
        const struct acl_rules *rs = policy_rules(r, t->policies[i]);
        if (rs) pol[n++] = rs;
    }
    if (t && t->legacy_type && !strcmp(t->legacy_type, "management")) mgmt = true;
    if (t && t->rules && *t->rules) {
        if (acl_rules_parse(t->rules, strlen(t->rules), ACL_PARSE_LEGACY, &legacy, &err))
            acl_rules_release(&legacy);
        pol[n++] = &legacy;
    }
    for (size_t i = 0; t && i < t->nsvc; i++)
        if (in_dcs(r->dc, t->svc[i].dcs, t->svc[i].ndcs)) svc[ns++] = t->svc[i].name;
    for (size_t i = 0; t && i < t->nnodes; i++)
        if (!t->nodes[i].dc[0] || !strcmp(t->nodes[i].dc, r->dc)) nodes[nn++] = t->nodes[i].name;
    struct acl_identity id = {
        .accessor = t ? t->accessor : ACL_ANONYMOUS_ID,
        .secret = secret,
        .management = mgmt,
        .anonymous = anonymous,
        .policies = pol,
        .npolicies = n,
        .service_identities = svc,
        .nservice_identities = ns,
        .node_identities = nodes,
        .nnode_identities = nn,
        .expires_ns = t ? t->expiration_ns : 0,
    };
    struct acl_authz *a = acl_authz_compile(&id, &r->opts);
    acl_rules_release(&legacy);
    free(pol);
    free(svc);
    free(nodes);
    return a;
}

static bool expired(const struct acl_authz *a, int64_t now_ns)
{
    int64_t exp = acl__authz_expires(a);
    return exp && now_ns >= exp;
}

static int resolve_local(struct acl_resolver *r, const char *secret, int64_t now_ns,
                         const struct acl_authz **out)
{
    struct state_store *st = r->cfg.st;
    uint64_t idx = state_acl_index(st);
    struct centry *e = cn_map_get(&r->cache, cn_str_from(secret));
    if (e && e->idx == idx && idx) {
        if (!e->authz || expired(e->authz, now_ns)) return CN_EACLNOTFOUND;
        *out = e->authz;
        return 0;
    }
    bool anon = !strcmp(secret, ACL_ANONYMOUS_SECRET);
    const struct state_acl_token *t =
        anon ? state_acl_token_get(st, CN_STR(ACL_ANONYMOUS_ID), NULL)
             : state_acl_token_by_secret(st, cn_str_from(secret));
    e = entry_for(r, secret, now_ns);
    e->idx = idx;
    /* The anonymous token exists once a leader created it; before that it
     * is a token without policies. */
    if (!t && !anon) {
        entry_set(r, e, NULL, now_ns);
        return CN_EACLNOTFOUND;
    }
    uint64_t fp = fingerprint(st, t);
    if (!e->authz || e->fp != fp) {
        entry_set(r, e, compile_token(r, t, secret, anon), now_ns);
        e->fp = fp;
    }
    if (expired(e->authz, now_ns)) return CN_EACLNOTFOUND;
    *out = e->authz;
    return 0;
}

/* ---- clients: what servers told us, and down_policy ------------------ */

void acl_cache_remote(struct acl_resolver *r, const char *secret, bool found,
                      const struct acl_identity *id, int64_t now_ns)
{
    struct centry *e = entry_for(r, secret ? secret : "", now_ns);
    struct acl_authz *a = NULL;
    if (found && id) {
        struct acl_identity copy = *id;
        copy.secret = secret;
        a = acl_authz_compile(&copy, &r->opts);
    }
    entry_set(r, e, a, now_ns);
    e->fetched_ns = now_ns;
}

void acl_resolver_servers_down(struct acl_resolver *r, bool down)
{
    r->servers_down = down;
}

bool acl_resolver_needs_fetch(struct acl_resolver *r, const char *secret, int64_t now_ns)
{
    if (r->cfg.st || r->servers_down) return false;
    const struct centry *e = cn_map_get(&r->cache, cn_str_from(secret ? secret : ""));
    return !e || now_ns - e->fetched_ns >= r->cfg.token_ttl_ns;
}

const char *acl_resolve_secret(const struct acl_resolver *r, const char *secret)
{
    if (!secret || !*secret) secret = r->tokens[ACL_TOKEN_DEFAULT];
    return *secret ? secret : ACL_ANONYMOUS_SECRET;
}

enum acl_fetch_need acl_resolver_fetch_need(struct acl_resolver *r, const char *secret,
                                            int64_t now_ns, const char **eff)
{
    secret = acl_resolve_secret(r, secret);
    *eff = secret;
    if (!r->cfg.enabled || r->cfg.st || strlen(secret) > ACL_SECRET_MAX) return ACL_FETCH_NONE;
    const char *recovery = r->tokens[ACL_TOKEN_AGENT_RECOVERY];
    if (*recovery && !strcmp(secret, recovery)) return ACL_FETCH_NONE; /* this agent answers */
    if (!acl_resolver_needs_fetch(r, secret, now_ns)) return ACL_FETCH_NONE;
    /* Consul's async-cache: a stale answer now, a fresh one for the next
     * request; a token never seen waits as under extend-cache. */
    bool cached = cn_map_get(&r->cache, cn_str_from(secret)) != NULL;
    bool async = r->cfg.down_policy == ACL_DOWN_ASYNC_CACHE;
    return cached && async ? ACL_FETCH_REFRESH : ACL_FETCH_WAIT;
}

static int resolve_remote(struct acl_resolver *r, const char *secret, int64_t now_ns,
                          const struct acl_authz **out)
{
    const struct centry *e = cn_map_get(&r->cache, cn_str_from(secret));
    bool fresh = e && now_ns - e->fetched_ns < r->cfg.token_ttl_ns;
    enum acl_down_policy down = r->cfg.down_policy;
    bool use_cache = e && (fresh || !r->servers_down || down == ACL_DOWN_EXTEND_CACHE ||
                           down == ACL_DOWN_ASYNC_CACHE);
    if (use_cache) {
        if (!e->authz || expired(e->authz, now_ns)) return CN_EACLNOTFOUND;
        *out = e->authz;
        return 0;
    }
    /* Nothing usable cached and no server to ask. Consul's resolver: allow
     * and deny say what to do; extend-cache and async-cache fall back to
     * the default policy for a token never seen (acl.RootAuthorizer). */
    bool allow = down == ACL_DOWN_ALLOW || (down != ACL_DOWN_DENY && r->cfg.default_allow);
    *out = allow ? r->allow_all : r->deny_all;
    return 0;
}

/* ---- entry points --------------------------------------------------- */

int acl_resolve(struct acl_resolver *r, const char *secret, int64_t now_ns,
                const struct acl_authz **out)
{
    r->last_now_ns = now_ns;
    if (r->retired) gc_retired(r, now_ns);
    if (!r->cfg.enabled) {
        *out = r->allow_all;
        return 0;
    }
    secret = acl_resolve_secret(r, secret);
    /* Secrets are UUIDs (legacy ones at most 128 bytes): a huge one names
     * nothing and must not take cache room. */
    if (strlen(secret) > ACL_SECRET_MAX) return CN_EACLNOTFOUND;
    if (r->tokens[ACL_TOKEN_AGENT_RECOVERY][0] && !strcmp(secret, r->tokens[ACL_TOKEN_AGENT_RECOVERY])) {
        *out = r->recovery;
        return 0;
    }
    return r->cfg.st ? resolve_local(r, secret, now_ns, out) : resolve_remote(r, secret, now_ns, out);
}

int acl_resolve_agent(struct acl_resolver *r, enum acl_token_type type, int64_t now_ns,
                      const struct acl_authz **out)
{
    const char *s = acl_agent_token(r, type);
    if (!*s && type == ACL_TOKEN_CONFIG_FILE_REGISTRATION) s = r->tokens[ACL_TOKEN_AGENT];
    /* "" falls back to the default token, then anonymous, in acl_resolve. */
    return acl_resolve(r, s, now_ns, out);
}
