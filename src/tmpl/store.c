/*
 * store.c - the dependency store: one entry per distinct dependency id,
 * shared by every template, holding the latest data converted to template
 * values (consul-template's Brain), the per-template usage records, and the
 * conversion of the agent's JSON answers into consul-template's structs
 * (dependency/ (Go): KeyPair, HealthService with the aggregate status filter
 * and node/ID order, CatalogSnippet, Node, CatalogNode).
 */
#include <jansson.h>
#include <string.h>

#include "lib/cn_base64.h"
#include "lib/cn_common.h"
#include "lib/cn_map.h"
#include "tmpl/store_int.h"

/* ---- struct types ---------------------------------------------------- */

#define FIELDS(...) ((const char *const[]){__VA_ARGS__})
#define NF(...)     (sizeof(FIELDS(__VA_ARGS__)) / sizeof(const char *))
#define TYPE(var, name_, ptr_, ...)                                                                \
    const struct tv_type var = {                                                                   \
        .name = name_, .n = NF(__VA_ARGS__), .fields = FIELDS(__VA_ARGS__), .ptr = ptr_}

TYPE(tt_keypair, "*dependency.KeyPair", true, "Path", "Key", "Value", "Exists", "CreateIndex",
     "ModifyIndex", "LockIndex", "Flags", "Session");
TYPE(tt_health_service, "*dependency.HealthService", true, "Node", "NodeID", "Kind", "NodeAddress",
     "NodeDatacenter", "NodeTaggedAddresses", "NodeMeta", "ServiceMeta", "Address",
     "ServiceTaggedAddresses", "ID", "Name", "Tags", "Checks", "Status", "Port", "Weights",
     "Namespace", "Partition");
TYPE(tt_health_check, "*api.HealthCheck", true, "Node", "CheckID", "Name", "Status", "Notes",
     "Output", "ServiceID", "ServiceName", "ServiceTags", "Type", "Namespace", "Partition",
     "ExposedPort", "Definition", "CreateIndex", "ModifyIndex");
TYPE(tt_weights, "api.AgentWeights", false, "Passing", "Warning");
TYPE(tt_service_address, "api.ServiceAddress", false, "Address", "Port");
TYPE(tt_catalog_snippet, "*dependency.CatalogSnippet", true, "Name", "Tags");
TYPE(tt_node, "*dependency.Node", true, "ID", "Node", "Address", "Datacenter", "TaggedAddresses",
     "Meta");
TYPE(tt_catalog_node, "*dependency.CatalogNode", true, "Node", "Services");
TYPE(tt_catalog_node_service, "*dependency.CatalogNodeService", true, "ID", "Service", "Tags",
     "Meta", "Port", "Address", "EnableTagOverride");

/* ---- the store ------------------------------------------------------- */

struct tmpl_store *tmpl_store_new(void)
{
    struct tmpl_store *s = CN_NEW(struct tmpl_store);
    cn_map_init(&s->by_id);
    return s;
}

static void dep_free(struct tmpl_dep *d)
{
    cn_arena_release(&d->arena);
    free(d->id);
    free(d->path);
    free(d->query);
    free(d->arg);
    free(d->digest);
    free(d);
}

void tmpl_store_free(struct tmpl_store *s)
{
    if (!s) return;
    for (struct tmpl_dep *d = s->head, *n; d; d = n) {
        n = d->next;
        dep_free(d);
    }
    cn_map_release(&s->by_id);
    free(s);
}

const char *tmpl_dep_id(const struct tmpl_dep *d)
{
    return d->id;
}
enum tmpl_dep_kind tmpl_dep_kind(const struct tmpl_dep *d)
{
    return d->kind;
}
const char *tmpl_dep_path(const struct tmpl_dep *d)
{
    return d->path;
}
const char *tmpl_dep_query(const struct tmpl_dep *d)
{
    return d->query;
}
bool tmpl_dep_has_data(const struct tmpl_dep *d)
{
    return d->has_data;
}
size_t tmpl_dep_refs(const struct tmpl_dep *d)
{
    return d->refs;
}
void *tmpl_dep_user(const struct tmpl_dep *d)
{
    return d->user;
}
void tmpl_dep_set_user(struct tmpl_dep *d, void *user)
{
    d->user = user;
}
size_t tmpl_store_count(const struct tmpl_store *s)
{
    return s->count;
}

bool tmpl_dep_blocking(const struct tmpl_dep *d)
{
    return d->kind != TMPL_DEP_CATALOG_DATACENTERS && d->kind != TMPL_DEP_FILE;
}

struct tmpl_dep *tmpl_store_next(struct tmpl_store *s, struct tmpl_dep *prev)
{
    return prev ? prev->next : s->head;
}

void tmpl_store_remove(struct tmpl_store *s, struct tmpl_dep *d)
{
    CN_ASSERT(d->refs == 0);
    cn_map_del(&s->by_id, cn_str_from(d->id));
    if (d->prev)
        d->prev->next = d->next;
    else
        s->head = d->next;
    if (d->next)
        d->next->prev = d->prev;
    else
        s->tail = d->prev;
    s->count--;
    dep_free(d);
}

struct tmpl_dep *store_get(struct tmpl_store *s, enum tmpl_dep_kind kind, const char *id,
                           const char *path, const char *query, const char *arg)
{
    struct tmpl_dep *d = cn_map_get(&s->by_id, cn_str_from(id));
    if (d) return d;
    d = CN_NEW(struct tmpl_dep);
    d->kind = kind;
    d->id = cn_strdup(id);
    d->path = cn_strdup(path);
    d->query = cn_strdup(query ? query : "");
    d->arg = cn_strdup(arg ? arg : "");
    cn_arena_init(&d->arena, 4096);
    cn_map_put(&s->by_id, cn_str_from(d->id), d);
    d->prev = s->tail;
    if (s->tail)
        s->tail->next = d;
    else
        s->head = d;
    s->tail = d;
    s->count++;
    return d;
}

/* ---- usage records --------------------------------------------------- */

void tmpl_used_init(struct tmpl_used *u)
{
    memset(u, 0, sizeof *u);
}

void tmpl_used_release(struct tmpl_used *u)
{
    for (size_t i = 0; i < u->n; i++) {
        CN_ASSERT(u->deps[i]->refs > 0);
        u->deps[i]->refs--;
    }
    free(u->deps);
    free(u->versions);
    tmpl_used_init(u);
}

bool tmpl_used_changed(const struct tmpl_used *u)
{
    for (size_t i = 0; i < u->n; i++)
        if (u->deps[i]->version != u->versions[i]) return true;
    return false;
}

void ex_used_begin(struct ex *x)
{
    x->serial = ++x->store->serial;
    tmpl_used_init(&x->next_used);
}

void ex_used_end(struct ex *x)
{
    /* the new references are taken before the old ones are dropped, so a
     * dependency used both times never reaches zero */
    tmpl_used_release(x->used);
    *x->used = x->next_used;
}

struct tmpl_dep *ex_dep(struct ex *x, enum tmpl_dep_kind kind, const char *id, const char *path,
                        const char *query, const char *arg)
{
    struct tmpl_dep *d = store_get(x->store, kind, id, path, query, arg);
    struct tmpl_used *u = &x->next_used;
    if (d->seen != x->serial) {
        d->seen = x->serial;
        if (u->n == u->cap) {
            u->cap = u->cap ? u->cap * 2 : 4;
            u->deps = cn_realloc(u->deps, u->cap * sizeof *u->deps);
            u->versions = cn_realloc(u->versions, u->cap * sizeof *u->versions);
        }
        u->deps[u->n] = d;
        u->versions[u->n] = d->version;
        u->n++;
        d->refs++;
    }
    return d;
}

void ex_dep_missing(struct ex *x, struct tmpl_dep *d)
{
    if (d->missing_seen != x->serial) {
        d->missing_seen = x->serial;
        x->next_used.missing++;
    }
}

const struct tv *ex_dep_value(struct ex *x, struct tmpl_dep *d)
{
    if (d->has_data) return d->value;
    ex_dep_missing(x, d);
    return NULL;
}

/* ---- JSON to values -------------------------------------------------- */

static const struct tv *jstr(struct cn_arena *a, json_t *o, const char *k)
{
    json_t *v = o ? json_object_get(o, k) : NULL;
    if (!json_is_string(v)) return &tv_empty_str;
    return tv_str(a, json_string_value(v), json_string_length(v));
}

static const char *jcstr(json_t *o, const char *k)
{
    json_t *v = o ? json_object_get(o, k) : NULL;
    return json_is_string(v) ? json_string_value(v) : "";
}

static const struct tv *jint(struct cn_arena *a, json_t *o, const char *k)
{
    json_t *v = o ? json_object_get(o, k) : NULL;
    return tv_int(a, json_is_integer(v) ? json_integer_value(v)
                     : json_is_real(v)  ? (int64_t)json_real_value(v)
                                        : 0);
}

static const struct tv *juint(struct cn_arena *a, json_t *o, const char *k)
{
    json_t *v = o ? json_object_get(o, k) : NULL;
    return tv_uint(a, json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0);
}

static const struct tv *jbool(json_t *o, const char *k)
{
    json_t *v = o ? json_object_get(o, k) : NULL;
    return tv_bool(json_is_true(v));
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* []string, optionally sorted (consul-template copies and sorts tags). */
static const struct tv *jstrlist(struct cn_arena *a, json_t *v, bool sort, const char *tname)
{
    size_t n = json_is_array(v) ? json_array_size(v) : 0;
    const char **tmp = cn_arena_alloc(a, (n + 1) * sizeof *tmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        if (json_is_string(e)) tmp[k++] = json_string_value(e);
    }
    if (sort) qsort(tmp, k, sizeof *tmp, cmp_cstr);
    const struct tv **items = cn_arena_alloc(a, (k + 1) * sizeof *items);
    for (size_t i = 0; i < k; i++)
        items[i] = tv_cstr(a, tmp[i]);
    return tv_list(a, items, k, tname);
}

/* map[string]string: missing keys read as "". */
static const struct tv *jstrmap(struct cn_arena *a, json_t *v)
{
    struct tv_mapb mb;
    tv_mapb_init(&mb, a);
    const char *k;
    json_t *e;
    if (json_is_object(v)) {
        json_object_foreach(v, k, e)
        {
            if (json_is_string(e))
                tv_mapb_put(&mb, cn_str_from(k),
                            tv_str(a, json_string_value(e), json_string_length(e)));
        }
    }
    return tv_mapb_done(&mb, &tv_empty_str, "map[string]string");
}

/* Any JSON (Definition and the like) as parseJSON would give it, but with
 * integers kept as integers. */
static const struct tv *jany(struct cn_arena *a, json_t *j)
{
    if (!j) return &tv_nil;
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        struct tv_mapb mb;
        tv_mapb_init(&mb, a);
        const char *k;
        json_t *e;
        json_object_foreach(j, k, e)
        {
            tv_mapb_put(&mb, cn_str_from(k), jany(a, e));
        }
        return tv_mapb_done(&mb, &tv_invalid, "map[string]interface {}");
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        const struct tv **items = cn_arena_alloc(a, (n + 1) * sizeof *items);
        for (size_t i = 0; i < n; i++)
            items[i] = jany(a, json_array_get(j, i));
        return tv_list(a, items, n, "[]interface {}");
    }
    case JSON_STRING:
        return tv_str(a, json_string_value(j), json_string_length(j));
    case JSON_INTEGER:
        return tv_int(a, json_integer_value(j));
    case JSON_REAL:
        return tv_float(a, json_real_value(j));
    case JSON_TRUE:
        return &tv_true;
    case JSON_FALSE:
        return &tv_false;
    default:
        return &tv_nil;
    }
}

static const struct tv **fields_of(struct cn_arena *a, const struct tv_type *t)
{
    return cn_arena_alloc(a, t->n * sizeof(const struct tv *));
}

/* Decode a DirEntry's base64 Value (null -> ""). */
static const struct tv *kv_value(struct cn_arena *a, json_t *e, bool *ok)
{
    json_t *v = json_object_get(e, "Value");
    *ok = true;
    if (!json_is_string(v)) return &tv_empty_str;
    size_t n = json_string_length(v);
    char *buf = cn_arena_alloc(a, cn_base64_decoded_max(n) + 1);
    long len = cn_base64_decode(json_string_value(v), n, buf);
    if (len < 0) {
        *ok = false;
        return &tv_empty_str;
    }
    buf[len] = '\0';
    return tv_str_ref(a, buf, (size_t)len);
}

static const struct tv *conv_kv_list(struct cn_arena *a, json_t *j, const char *prefix, bool *ok)
{
    size_t n = json_array_size(j), plen = strlen(prefix);
    const struct tv **items = cn_arena_alloc(a, (n + 1) * sizeof *items);
    *ok = true;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(j, i);
        const char *full = jcstr(e, "Key");
        const char *rel = strncmp(full, prefix, plen) == 0 ? full + plen : full;
        while (*rel == '/')
            rel++;
        const struct tv **f = fields_of(a, &tt_keypair);
        f[0] = tv_cstr(a, full);
        f[1] = tv_cstr(a, rel);
        f[2] = kv_value(a, e, ok);
        f[3] = &tv_true;
        f[4] = juint(a, e, "CreateIndex");
        f[5] = juint(a, e, "ModifyIndex");
        f[6] = juint(a, e, "LockIndex");
        f[7] = juint(a, e, "Flags");
        f[8] = jstr(a, e, "Session");
        items[i] = tv_struct(a, &tt_keypair, f);
    }
    return tv_list(a, items, n, "[]*dependency.KeyPair");
}

/* api.HealthChecks.AggregatedStatus. */
static const char *aggregate_status(json_t *checks)
{
    bool passing = false, warning = false, critical = false, maint = false;
    for (size_t i = 0; i < json_array_size(checks); i++) {
        json_t *c = json_array_get(checks, i);
        const char *id = jcstr(c, "CheckID"), *st = jcstr(c, "Status");
        if (!strcmp(id, "_node_maintenance") || !strncmp(id, "_service_maintenance:", 21)) {
            maint = true;
            continue;
        }
        if (!strcmp(st, "passing"))
            passing = true;
        else if (!strcmp(st, "warning"))
            warning = true;
        else if (!strcmp(st, "critical"))
            critical = true;
        else
            return "";
    }
    (void)passing;
    return maint ? "maintenance" : critical ? "critical" : warning ? "warning" : "passing";
}

static const struct tv *conv_check(struct cn_arena *a, json_t *c)
{
    const struct tv **f = fields_of(a, &tt_health_check);
    static const char *const strs[] = {"Node",  "CheckID", "Name",      "Status",
                                       "Notes", "Output",  "ServiceID", "ServiceName"};
    for (size_t i = 0; i < CN_ARRAY_SIZE(strs); i++)
        f[i] = jstr(a, c, strs[i]);
    f[8] = jstrlist(a, json_object_get(c, "ServiceTags"), false, "[]string");
    f[9] = jstr(a, c, "Type");
    f[10] = jstr(a, c, "Namespace");
    f[11] = jstr(a, c, "Partition");
    f[12] = jint(a, c, "ExposedPort");
    f[13] = jany(a, json_object_get(c, "Definition"));
    f[14] = juint(a, c, "CreateIndex");
    f[15] = juint(a, c, "ModifyIndex");
    return tv_struct(a, &tt_health_check, f);
}

static const struct tv *conv_weights(struct cn_arena *a, json_t *w)
{
    const struct tv **f = fields_of(a, &tt_weights);
    f[0] = jint(a, w, "Passing");
    f[1] = jint(a, w, "Warning");
    return tv_struct(a, &tt_weights, f);
}

static const struct tv *conv_tagged_addresses(struct cn_arena *a, json_t *v)
{
    struct tv_mapb mb;
    tv_mapb_init(&mb, a);
    const char *k;
    json_t *e;
    if (json_is_object(v)) {
        json_object_foreach(v, k, e)
        {
            const struct tv **f = fields_of(a, &tt_service_address);
            json_t *addr = json_object_get(e, "Address");
            if (!addr) addr = json_object_get(e, "address");
            json_t *port = json_object_get(e, "Port");
            if (!port) port = json_object_get(e, "port");
            f[0] = json_is_string(addr) ? tv_cstr(a, json_string_value(addr)) : &tv_empty_str;
            f[1] = tv_int(a, json_is_integer(port) ? json_integer_value(port) : 0);
            tv_mapb_put(&mb, cn_str_from(k), tv_struct(a, &tt_service_address, f));
        }
    }
    const struct tv **zf = fields_of(a, &tt_service_address);
    zf[0] = &tv_empty_str;
    zf[1] = &tv_zero_int;
    return tv_mapb_done(&mb, tv_struct(a, &tt_service_address, zf),
                        "map[string]api.ServiceAddress");
}

static int cmp_by_node_id(const void *pa, const void *pb)
{
    const struct tv *a = *(const struct tv *const *)pa, *b = *(const struct tv *const *)pb;
    int c = cn_str_cmp(cn_str_make(a->items[0]->s, a->items[0]->n),
                       cn_str_make(b->items[0]->s, b->items[0]->n));
    if (c) return c;
    return cn_str_cmp(cn_str_make(a->items[10]->s, a->items[10]->n),
                      cn_str_make(b->items[10]->s, b->items[10]->n));
}

/* Stable sort: qsort with the original index as the last key. */
struct sortable {
    const struct tv *v;
    size_t i;
    int (*cmp)(const void *, const void *);
};

static int cmp_stable(const void *pa, const void *pb)
{
    const struct sortable *a = pa, *b = pb;
    int c = a->cmp(&a->v, &b->v);
    if (c) return c;
    return a->i < b->i ? -1 : a->i > b->i;
}

static void stable_sort(const struct tv **items, size_t n, int (*cmp)(const void *, const void *))
{
    if (n < 2) return;
    struct sortable *s = cn_malloc(n * sizeof *s);
    for (size_t i = 0; i < n; i++)
        s[i] = (struct sortable){items[i], i, cmp};
    qsort(s, n, sizeof *s, cmp_stable);
    for (size_t i = 0; i < n; i++)
        items[i] = s[i].v;
    free(s);
}

static const struct tv *conv_health(struct cn_arena *a, json_t *j, unsigned filters, bool near)
{
    size_t n = json_array_size(j), k = 0;
    const struct tv **items = cn_arena_alloc(a, (n + 1) * sizeof *items);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(j, i);
        json_t *node = json_object_get(e, "Node"), *svc = json_object_get(e, "Service");
        json_t *checks = json_object_get(e, "Checks");
        const char *status = aggregate_status(checks);
        if (!(filters & DEP_F_ANY) && !(filters & status_bit(status))) continue;
        const struct tv **f = fields_of(a, &tt_health_service);
        f[0] = jstr(a, node, "Node");
        f[1] = jstr(a, node, "ID");
        f[2] = jstr(a, svc, "Kind");
        f[3] = jstr(a, node, "Address");
        f[4] = jstr(a, node, "Datacenter");
        f[5] = jstrmap(a, json_object_get(node, "TaggedAddresses"));
        f[6] = jstrmap(a, json_object_get(node, "Meta"));
        f[7] = jstrmap(a, json_object_get(svc, "Meta"));
        f[8] = *jcstr(svc, "Address") ? jstr(a, svc, "Address") : f[3];
        f[9] = conv_tagged_addresses(a, json_object_get(svc, "TaggedAddresses"));
        f[10] = jstr(a, svc, "ID");
        f[11] = jstr(a, svc, "Service");
        f[12] = jstrlist(a, json_object_get(svc, "Tags"), true, "dependency.ServiceTags");
        size_t nc = json_array_size(checks);
        const struct tv **cs = cn_arena_alloc(a, (nc + 1) * sizeof *cs);
        for (size_t c = 0; c < nc; c++)
            cs[c] = conv_check(a, json_array_get(checks, c));
        f[13] = tv_list(a, cs, nc, "api.HealthChecks");
        f[14] = tv_cstr(a, status);
        f[15] = jint(a, svc, "Port");
        f[16] = conv_weights(a, json_object_get(svc, "Weights"));
        f[17] = jstr(a, svc, "Namespace");
        f[18] = jstr(a, svc, "Partition");
        items[k++] = tv_struct(a, &tt_health_service, f);
    }
    if (!near) stable_sort(items, k, cmp_by_node_id);
    return tv_list(a, items, k, "[]*dependency.HealthService");
}

static int cmp_first_field(const void *pa, const void *pb)
{
    const struct tv *a = *(const struct tv *const *)pa, *b = *(const struct tv *const *)pb;
    return cn_str_cmp(cn_str_make(a->items[0]->s, a->items[0]->n),
                      cn_str_make(b->items[0]->s, b->items[0]->n));
}

static const struct tv *conv_services(struct cn_arena *a, json_t *j)
{
    size_t n = json_object_size(j), k = 0;
    const struct tv **items = cn_arena_alloc(a, (n + 1) * sizeof *items);
    const char *name;
    json_t *tags;
    json_object_foreach(j, name, tags)
    {
        const struct tv **f = fields_of(a, &tt_catalog_snippet);
        f[0] = tv_cstr(a, name);
        f[1] = jstrlist(a, tags, true, "dependency.ServiceTags");
        items[k++] = tv_struct(a, &tt_catalog_snippet, f);
    }
    stable_sort(items, k, cmp_first_field);
    return tv_list(a, items, k, "[]*dependency.CatalogSnippet");
}

static const struct tv *conv_node(struct cn_arena *a, json_t *e)
{
    const struct tv **f = fields_of(a, &tt_node);
    f[0] = jstr(a, e, "ID");
    f[1] = jstr(a, e, "Node");
    f[2] = jstr(a, e, "Address");
    f[3] = jstr(a, e, "Datacenter");
    f[4] = jstrmap(a, json_object_get(e, "TaggedAddresses"));
    f[5] = jstrmap(a, json_object_get(e, "Meta"));
    return tv_struct(a, &tt_node, f);
}

static int cmp_node_addr(const void *pa, const void *pb)
{
    const struct tv *a = *(const struct tv *const *)pa, *b = *(const struct tv *const *)pb;
    int c = cn_str_cmp(cn_str_make(a->items[1]->s, a->items[1]->n),
                       cn_str_make(b->items[1]->s, b->items[1]->n));
    if (c) return c;
    return cn_str_cmp(cn_str_make(a->items[2]->s, a->items[2]->n),
                      cn_str_make(b->items[2]->s, b->items[2]->n));
}

static const struct tv *conv_nodes(struct cn_arena *a, json_t *j, bool near)
{
    size_t n = json_array_size(j);
    const struct tv **items = cn_arena_alloc(a, (n + 1) * sizeof *items);
    for (size_t i = 0; i < n; i++)
        items[i] = conv_node(a, json_array_get(j, i));
    if (!near) stable_sort(items, n, cmp_node_addr);
    return tv_list(a, items, n, "[]*dependency.Node");
}

static int cmp_service_id(const void *pa, const void *pb)
{
    const struct tv *a = *(const struct tv *const *)pa, *b = *(const struct tv *const *)pb;
    int c = cn_str_cmp(cn_str_make(a->items[1]->s, a->items[1]->n),
                       cn_str_make(b->items[1]->s, b->items[1]->n));
    if (c) return c;
    return cn_str_cmp(cn_str_make(a->items[0]->s, a->items[0]->n),
                      cn_str_make(b->items[0]->s, b->items[0]->n));
}

static const struct tv *conv_node_service(struct cn_arena *a, json_t *s)
{
    const struct tv **sf = fields_of(a, &tt_catalog_node_service);
    sf[0] = jstr(a, s, "ID");
    sf[1] = jstr(a, s, "Service");
    sf[2] = jstrlist(a, json_object_get(s, "Tags"), true, "dependency.ServiceTags");
    sf[3] = jstrmap(a, json_object_get(s, "Meta"));
    sf[4] = jint(a, s, "Port");
    sf[5] = jstr(a, s, "Address");
    sf[6] = jbool(s, "EnableTagOverride");
    return tv_struct(a, &tt_catalog_node_service, sf);
}

static const struct tv *conv_catalog_node(struct cn_arena *a, json_t *j)
{
    const struct tv **f = fields_of(a, &tt_catalog_node);
    json_t *node = json_is_object(j) ? json_object_get(j, "Node") : NULL;
    json_t *svcs = json_is_object(j) ? json_object_get(j, "Services") : NULL;
    static const struct tv nil_node = {.kind = TV_NIL, .tname = "*dependency.Node"};
    f[0] = json_is_object(node) ? conv_node(a, node) : &nil_node;
    size_t n = json_is_object(svcs)  ? json_object_size(svcs)
               : json_is_array(svcs) ? json_array_size(svcs)
                                     : 0;
    size_t k = 0;
    const struct tv **items = cn_arena_alloc(a, (n + 1) * sizeof *items);
    if (json_is_object(svcs)) {
        const char *id;
        json_t *sv;
        json_object_foreach(svcs, id, sv)
        {
            items[k++] = conv_node_service(a, sv);
        }
    } else {
        for (size_t i = 0; i < n; i++)
            items[k++] = conv_node_service(a, json_array_get(svcs, i));
    }
    stable_sort(items, k, cmp_service_id);
    f[1] = tv_list(a, items, k, "[]*dependency.CatalogNodeService");
    return tv_struct(a, &tt_catalog_node, f);
}

static const struct tv *conv_datacenters(struct cn_arena *a, json_t *j)
{
    return jstrlist(a, j, true, "[]string");
}

/* ---- updates --------------------------------------------------------- */

/* Install v (allocated in arena a) if it differs from the current data. */
static int install(struct tmpl_dep *d, struct cn_arena *a, const struct tv *v)
{
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    tv_json(&b, v, NULL, false);
    if (d->has_data && b.len == d->digest_len && !memcmp(b.data, d->digest, b.len)) {
        cn_buf_release(&b);
        cn_arena_release(a);
        return 0;
    }
    cn_arena_release(&d->arena);
    d->arena = *a;
    d->value = v;
    free(d->digest);
    d->digest = cn_buf_take(&b, &d->digest_len);
    d->has_data = true;
    d->version++;
    return 1;
}

int tmpl_dep_set_file(struct tmpl_store *s, struct tmpl_dep *d, const char *data, size_t len)
{
    (void)s;
    struct cn_arena a;
    cn_arena_init(&a, len + 256);
    return install(d, &a, tv_str(&a, data, len));
}

int tmpl_dep_update(struct tmpl_store *s, struct tmpl_dep *d, int status, const char *body,
                    size_t len, struct cn_err *err)
{
    (void)s;
    struct cn_arena a;
    const struct tv *v = NULL;
    json_t *j = NULL;
    bool ok = true;
    if (status == 404) {
        if (d->kind == TMPL_DEP_KV_BLOCK) return 0; /* keep waiting / keep the last value */
        cn_arena_init(&a, 1024);
        if (d->kind == TMPL_DEP_KV_GET)
            v = &tv_nil;
        else if (d->kind == TMPL_DEP_KV_LIST)
            v = tv_list(&a, NULL, 0, "[]*dependency.KeyPair");
        else {
            cn_arena_release(&a);
            return cn_err_set(err, CN_EPROTO, "Unexpected response code: 404 (%.*s)",
                              (int)CN_MIN(len, 200), body ? body : "");
        }
        return install(d, &a, v);
    }
    if (status != 200)
        return cn_err_set(err, CN_EPROTO, "Unexpected response code: %d (%.*s)", status,
                          (int)CN_MIN(len, 200), body ? body : "");
    json_error_t je;
    j = json_loadb(body ? body : "", len, JSON_DECODE_ANY, &je);
    if (!j) return cn_err_set(err, CN_EPROTO, "invalid JSON in response: %s", je.text);
    cn_arena_init(&a, len + 4096);
    switch (d->kind) {
    case TMPL_DEP_KV_BLOCK:
    case TMPL_DEP_KV_GET:
        if (!json_is_array(j) || json_array_size(j) == 0) {
            v = d->kind == TMPL_DEP_KV_GET ? &tv_nil : NULL;
            if (!v) {
                json_decref(j);
                cn_arena_release(&a);
                return 0;
            }
        } else {
            v = kv_value(&a, json_array_get(j, 0), &ok);
        }
        break;
    case TMPL_DEP_KV_LIST:
        if (!json_is_array(j))
            ok = false;
        else
            v = conv_kv_list(&a, j, d->arg, &ok);
        break;
    case TMPL_DEP_HEALTH_SERVICE:
        if (!json_is_array(j))
            ok = false;
        else
            v = conv_health(&a, j, d->filters, d->near);
        break;
    case TMPL_DEP_CATALOG_SERVICES:
        if (!json_is_object(j))
            ok = false;
        else
            v = conv_services(&a, j);
        break;
    case TMPL_DEP_CATALOG_NODES:
        if (!json_is_array(j))
            ok = false;
        else
            v = conv_nodes(&a, j, d->near);
        break;
    case TMPL_DEP_CATALOG_NODE:
        v = conv_catalog_node(&a, j);
        break;
    case TMPL_DEP_CATALOG_DATACENTERS:
        if (!json_is_array(j))
            ok = false;
        else
            v = conv_datacenters(&a, j);
        break;
    case TMPL_DEP_FILE:
        ok = false;
        break;
    }
    json_decref(j);
    if (!ok) {
        cn_arena_release(&a);
        return cn_err_set(err, CN_EPROTO, "%s: unexpected response shape", d->id);
    }
    return install(d, &a, v);
}
