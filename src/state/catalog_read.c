/*
 * catalog_read.c - catalog reads and the index each one reports
 * (shared/spec/blocking-and-consistency.md §2), with the watches that
 * wake a blocking query only for changes to what it read.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "lib/cn_common.h"
#include "state/catalog_int.h"

static struct state_table *tab(struct state_store *st, enum state_table_id t)
{
    return &st->tables[t];
}

static struct cat_row *lookup(struct state_store *st, enum state_table_id t, uint8_t index,
                              struct cn_str a, struct cn_str b)
{
    struct cat_key k;
    cat_key_init(&k, index);
    cat_key_add(&k, a);
    if (b.p) cat_key_add(&k, b);
    struct cat_row *r = state__get(tab(st, t), cat_key_str(&k));
    cat_key_release(&k);
    if (r && r->kind == CAT_REF) r = ((struct cat_ref *)r)->row;
    return r;
}

/* Watch keys are lowercased names (what the writers notify). */
static void watch_lower(struct state_watch_set *ws, enum state_topic topic, struct cn_str name)
{
    struct cat_key k;
    if (!ws) return;
    cat_key_init(&k, 0);
    cat_key_add(&k, name);
    state_ws_add(ws, topic, cn_str_sub(cat_key_str(&k), 1, SIZE_MAX));
    cat_key_release(&k);
}

static uint64_t named_index(struct state_store *st, const char *prefix, struct cn_str name)
{
    struct cat_key k;
    struct cn_buf b;
    uint64_t v;
    cat_key_init(&k, 0);
    cat_key_add(&k, name);
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_buf_puts(&b, prefix);
    cn_buf_put(&b, k.p + 1, k.len - 1);
    v = state__index_get(st, cn_buf_str(&b));
    cn_buf_release(&b);
    cat_key_release(&k);
    return v;
}

/* ---- single records ------------------------------------------------------ */

const struct state_node *state_node_get(struct state_store *st, struct cn_str name,
                                        struct state_watch_set *ws)
{
    watch_lower(ws, STATE_W_NODE, name);
    struct cat_row *r = lookup(st, STATE_T_NODES, KEY_PRIMARY, name, CN_STR_NULL);
    return r ? &((struct cat_node_row *)r)->n : NULL;
}

const struct state_node *state_node_lookup(struct state_store *st, struct cn_str name_or_id,
                                           struct state_watch_set *ws)
{
    const struct state_node *n = state_node_get(st, name_or_id, ws);
    if (n || !name_or_id.len) return n;
    struct cat_row *r = lookup(st, STATE_T_NODES, KEY_IDX2, name_or_id, CN_STR_NULL);
    if (!r) return NULL;
    n = &((struct cat_node_row *)r)->n;
    watch_lower(ws, STATE_W_NODE, cn_str_from(n->name));
    return n;
}

bool state_node_exists(struct state_store *st, struct cn_str name)
{
    return lookup(st, STATE_T_NODES, KEY_PRIMARY, name, CN_STR_NULL) != NULL;
}

const struct state_service *state_service_get(struct state_store *st, struct cn_str node,
                                              struct cn_str service_id)
{
    struct cat_row *r = lookup(st, STATE_T_SERVICES, KEY_PRIMARY, node, service_id);
    return r ? &((struct cat_service_row *)r)->s : NULL;
}

const struct state_check *state_check_get(struct state_store *st, struct cn_str node,
                                          struct cn_str check_id)
{
    struct cat_row *r = lookup(st, STATE_T_CHECKS, KEY_PRIMARY, node, check_id);
    return r ? &((struct cat_check_row *)r)->c : NULL;
}

/* ---- scans ------------------------------------------------------------------ */

struct visit {
    void *fn;
    void *ctx;
};

static bool visit_node(void *ctx, struct cat_row *row)
{
    struct visit *v = ctx;
    return ((state_node_fn)v->fn)(v->ctx, &((struct cat_node_row *)row)->n);
}

static bool visit_service(void *ctx, struct cat_row *row)
{
    struct visit *v = ctx;
    return ((state_service_fn)v->fn)(v->ctx, &((struct cat_service_row *)row)->s);
}

static bool visit_check(void *ctx, struct cat_row *row)
{
    struct visit *v = ctx;
    return ((state_check_fn)v->fn)(v->ctx, &((struct cat_check_row *)row)->c);
}

/* Scan index `index` under the lowercased parts (each followed by NUL). */
static void scan(struct state_store *st, enum state_table_id t, uint8_t index, struct cn_str a,
                 struct cn_str b, bool b_empty_part, cat_visit_fn fn, void *ctx)
{
    struct cat_key k;
    cat_key_init(&k, index);
    cat_key_add(&k, a);
    if (b.p || b_empty_part) cat_key_add(&k, b);
    cat_key_sep(&k);
    cat_scan(tab(st, t), cat_key_str(&k), fn, ctx);
    cat_key_release(&k);
}

uint64_t state_nodes_list(struct state_store *st, struct state_watch_set *ws, state_node_fn fn,
                          void *ctx)
{
    struct visit v = {(void *)fn, ctx};
    if (ws) {
        state_ws_add_table(ws, STATE_T_NODES);
        state_ws_add_table(ws, STATE_T_SERVICES);
    }
    if (fn) cat_scan(tab(st, STATE_T_NODES), CN_STR("\x01"), visit_node, &v);
    return state_tables_index(st, STATE_T_NODES, STATE_T_SERVICES, -1);
}

uint64_t state_services_list(struct state_store *st, struct state_watch_set *ws,
                             state_service_fn fn, void *ctx)
{
    struct visit v = {(void *)fn, ctx};
    if (ws) state_ws_add_table(ws, STATE_T_SERVICES);
    if (fn) cat_scan(tab(st, STATE_T_SERVICES), CN_STR("\x02"), visit_service, &v);
    return state_table_index(st, STATE_T_SERVICES);
}

struct first {
    bool any;
    struct visit v;
};

static bool visit_instance(void *ctx, struct cat_row *row)
{
    struct first *f = ctx;
    f->any = true;
    return f->v.fn ? visit_service(&f->v, row) : false;
}

uint64_t state_service_instances(struct state_store *st, struct cn_str name,
                                 struct state_watch_set *ws, state_service_fn fn, void *ctx)
{
    struct first f = {false, {(void *)fn, ctx}};
    watch_lower(ws, STATE_W_SERVICE, name);
    scan(st, STATE_T_SERVICES, KEY_IDX2, name, CN_STR_NULL, false, visit_instance, &f);
    uint64_t idx = 0;
    if (f.any) idx = named_index(st, "service.", name);
    else idx = state__index_get(st, CN_STR("service_last_extinction"));
    return idx ? idx : state_tables_index(st, STATE_T_SERVICES, STATE_T_CHECKS, -1);
}

uint64_t state_node_index(struct state_store *st, struct cn_str node)
{
    uint64_t idx;
    if (state_node_exists(st, node))
        idx = named_index(st, "node.", node);
    else
        idx = state__index_get(st, CN_STR("node_last_extinction"));
    return idx ? idx : state_table_index(st, STATE_T_NODES);
}

uint64_t state_node_services(struct state_store *st, struct cn_str node,
                             struct state_watch_set *ws, state_service_fn fn, void *ctx)
{
    struct visit v = {(void *)fn, ctx};
    watch_lower(ws, STATE_W_NODE, node);
    if (fn) scan(st, STATE_T_SERVICES, KEY_PRIMARY, node, CN_STR_NULL, false, visit_service, &v);
    return state_node_index(st, node);
}

void state_node_level_checks(struct state_store *st, struct cn_str node, state_check_fn fn,
                             void *ctx)
{
    struct visit v = {(void *)fn, ctx};
    scan(st, STATE_T_CHECKS, KEY_IDX2, node, CN_STR(""), true, visit_check, &v);
}

void state_service_checks(struct state_store *st, struct cn_str node, struct cn_str service_id,
                          state_check_fn fn, void *ctx)
{
    struct visit v = {(void *)fn, ctx};
    if (!service_id.len) return;
    scan(st, STATE_T_CHECKS, KEY_IDX2, node, service_id, true, visit_check, &v);
}

uint64_t state_node_checks(struct state_store *st, struct cn_str node, struct state_watch_set *ws,
                           state_check_fn fn, void *ctx)
{
    struct visit v = {(void *)fn, ctx};
    /* The node's topic fires for each of its checks: a finer watch than
     * the checks table, reporting the table's index as Consul does. */
    watch_lower(ws, STATE_W_NODE, node);
    if (fn) scan(st, STATE_T_CHECKS, KEY_PRIMARY, node, CN_STR_NULL, false, visit_check, &v);
    return state_table_index(st, STATE_T_CHECKS);
}

uint64_t state_checks_in_state(struct state_store *st, const char *status,
                               struct state_watch_set *ws, state_check_fn fn, void *ctx)
{
    struct visit v = {(void *)fn, ctx};
    if (ws) state_ws_add_table(ws, STATE_T_CHECKS);
    if (!fn) return state_table_index(st, STATE_T_CHECKS);
    if (!status || !strcmp(status, "any")) {
        /* Consul walks the status index for "any" too: by node, then ID. */
        cat_scan(tab(st, STATE_T_CHECKS), CN_STR("\x01"), visit_check, &v);
    } else {
        scan(st, STATE_T_CHECKS, KEY_IDX3, cn_str_from(status), CN_STR_NULL, false, visit_check,
             &v);
    }
    return state_table_index(st, STATE_T_CHECKS);
}

/* ---- health ----------------------------------------------------------------- */

bool state_service_has_tags(const struct state_service *s, const struct cn_str *tags, size_t ntags)
{
    for (size_t t = 0; t < ntags; t++) {
        bool found = false;
        for (size_t i = 0; i < s->ntags && !found; i++)
            found = cn_str_case_eq(cn_str_from(s->tags[i]), tags[t]);
        if (!found) return false;
    }
    return true;
}

static int status_rank(const char *s)
{
    if (!strcmp(s, "passing")) return 0;
    if (!strcmp(s, "warning")) return 1;
    return 2;
}

const char *state_checks_worst(const struct state_check *const *checks, size_t n)
{
    int worst = 0;
    for (size_t i = 0; i < n; i++) worst = CN_MAX(worst, status_rank(checks[i]->status));
    return worst == 0 ? "passing" : worst == 1 ? "warning" : "critical";
}

struct hs {
    struct state_store *st;
    const struct cn_str *tags;
    size_t ntags;
    bool passing_only;
    state_csn_fn fn;
    void *ctx;
    const struct state_check **checks;
    size_t n, cap;
    bool stop;
};

static bool hs_add_check(void *ctx, const struct state_check *c)
{
    struct hs *h = ctx;
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 8;
        h->checks = cn_realloc(h->checks, h->cap * sizeof *h->checks);
    }
    h->checks[h->n++] = c;
    return true;
}

static bool hs_instance(void *ctx, const struct state_service *s)
{
    struct hs *h = ctx;
    if (!state_service_has_tags(s, h->tags, h->ntags)) return true;
    const struct state_node *n = state_node_get(h->st, cn_str_from(s->node), NULL);
    if (!n) return true; /* cannot happen: services need their node */
    h->n = 0;
    state_node_level_checks(h->st, cn_str_from(s->node), hs_add_check, h);
    state_service_checks(h->st, cn_str_from(s->node), cn_str_from(s->id), hs_add_check, h);
    if (h->passing_only)
        for (size_t i = 0; i < h->n; i++)
            if (strcmp(h->checks[i]->status, "passing")) return true;
    struct state_csn row = {n, s, h->checks, h->n};
    return h->fn(h->ctx, &row);
}

uint64_t state_health_service(struct state_store *st, struct cn_str name, const struct cn_str *tags,
                              size_t ntags, bool passing_only, struct state_watch_set *ws,
                              state_csn_fn fn, void *ctx)
{
    struct hs h = {st, tags, ntags, passing_only, fn, ctx, NULL, 0, 0, false};
    uint64_t idx = state_service_instances(st, name, ws, fn ? hs_instance : NULL, &h);
    free(h.checks);
    return idx;
}

/* ---- counts ------------------------------------------------------------------ */

static bool count_row(void *ctx, struct cat_row *row)
{
    (void)row;
    (*(size_t *)ctx)++;
    return true;
}

static size_t count_rows(const struct state_store *st, enum state_table_id t)
{
    size_t n = 0;
    cat_scan((struct state_table *)&st->tables[t], CN_STR("\x01"), count_row, &n);
    return n;
}

size_t state_node_count(const struct state_store *st)
{
    return count_rows(st, STATE_T_NODES);
}

size_t state_service_count(const struct state_store *st)
{
    return count_rows(st, STATE_T_SERVICES);
}

size_t state_check_count(const struct state_store *st)
{
    return count_rows(st, STATE_T_CHECKS);
}
