/*
 * catalog.c - the catalog's records: deep copies, equality, the binary
 * encoding shared by snapshots and Raft commands, and the table plumbing
 * (rows with their secondary-index references, see catalog_int.h).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cn_common.h"
#include "lib/cn_limits.h"
#include "state/catalog_int.h"

#define CAT_COUNT_MAX 65536 /* tags, meta pairs, headers... in one record */
#define CAT_STR_MAX CN_CODEC_FIELD_MAX

/* ---- memory ------------------------------------------------------------ */

/* Copies go either into an arena (query results) or, for rows, into one
 * exact-size block: a first pass into a scratch arena measures, a second
 * packs. A row is then one malloc whatever its shape. */
struct cat_mem {
    struct cn_arena *arena; /* arena or measuring mode */
    char *base;             /* packing mode */
    size_t used, cap;
};

static void *mem_alloc(struct cat_mem *m, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (m->base) {
        CN_ASSERT(m->used + n <= m->cap);
        void *p = m->base + m->used;
        m->used += n;
        memset(p, 0, n);
        return p;
    }
    m->used += n;
    return cn_arena_zalloc(m->arena, n);
}

static char *mem_strdup(struct cat_mem *m, const char *s, size_t len)
{
    char *p = mem_alloc(m, len + 1);
    if (len) memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

#define MEM_ARRAY(m, type, n) ((type *)mem_alloc((m), sizeof(type) * (n)))

/* ---- keys -------------------------------------------------------------- */

void cat_key_init(struct cat_key *k, uint8_t index)
{
    k->p = k->small;
    k->cap = sizeof k->small;
    k->p[0] = (char)index;
    k->len = 1;
    k->started = false;
}

static void key_reserve(struct cat_key *k, size_t more)
{
    if (k->len + more <= k->cap) return;
    size_t cap = (k->len + more) * 2;
    char *p = cn_malloc(cap);
    memcpy(p, k->p, k->len);
    if (k->p != k->small) free(k->p);
    k->p = p;
    k->cap = cap;
}

void cat_key_sep(struct cat_key *k)
{
    key_reserve(k, 1);
    k->p[k->len++] = '\0';
}

void cat_key_add(struct cat_key *k, struct cn_str part)
{
    if (k->started) cat_key_sep(k);
    k->started = true;
    key_reserve(k, part.len);
    for (size_t i = 0; i < part.len; i++) k->p[k->len++] = (char)tolower((unsigned char)part.p[i]);
}

void cat_key_release(struct cat_key *k)
{
    if (k->p != k->small) free(k->p);
    k->p = k->small;
}

static struct cn_str key_keep(struct cat_mem *m, const struct cat_key *k)
{
    return cn_str_make(mem_strdup(m, k->p, k->len), k->len);
}

/* ---- entries ------------------------------------------------------------ */

struct cn_str cat_entry_key(const void *entry)
{
    const struct cat_ref *ref = entry;
    if (ref->kind == CAT_REF) return ref->row->keys[ref->which];
    return ((const struct cat_row *)entry)->keys[0];
}

void cat_entry_free(void *entry)
{
    /* a reference is one malloc, and so is a packed row */
    free(entry);
}

static struct cat_ref *ref_new(struct cat_row *row, uint8_t which)
{
    struct cat_ref *r = cn_malloc(sizeof *r);
    r->kind = CAT_REF;
    r->which = which;
    r->row = row;
    return r;
}

void cat_insert(struct state_txn *tx, struct state_table *t, struct cat_row *row,
                struct cat_row *old)
{
    /* The primary first: abort undoes in reverse, so references (recorded
     * after it) are unfiled while the row they read keys from still lives. */
    state__put(tx, t, row);
    for (uint8_t i = 1; i < CAT_KEYS_MAX; i++) {
        struct cn_str ok = old ? old->keys[i] : CN_STR_NULL, nk = row->keys[i];
        if (ok.len && !cn_str_eq(ok, nk)) state__del(tx, t, ok);
        if (nk.len) state__put(tx, t, ref_new(row, i));
    }
}

void cat_remove(struct state_txn *tx, struct state_table *t, struct cat_row *row)
{
    for (uint8_t i = 1; i < CAT_KEYS_MAX; i++)
        if (row->keys[i].len) state__del(tx, t, row->keys[i]);
    state__del(tx, t, row->keys[0]);
}

void cat_restore_insert(struct state_table *t, struct cat_row *row)
{
    void *old = cn_omap_put(&t->rows, row);
    if (old) cat_entry_free(old); /* a duplicate in a snapshot: last wins */
    for (uint8_t i = 1; i < CAT_KEYS_MAX; i++) {
        if (!row->keys[i].len) continue;
        old = cn_omap_put(&t->rows, ref_new(row, i));
        if (old) cat_entry_free(old);
    }
}

void cat_scan(struct state_table *t, struct cn_str prefix, cat_visit_fn fn, void *ctx)
{
    struct cn_omap_iter it;
    void *e;
    cn_omap_seek(&t->rows, prefix, &it);
    while ((e = cn_omap_next(&it))) {
        struct cn_str k = cat_entry_key(e);
        if (!cn_str_has_prefix(k, prefix)) break;
        struct cat_ref *ref = e;
        struct cat_row *row = ref->kind == CAT_REF ? ref->row : e;
        if (!fn(ctx, row)) break;
    }
}

/* ---- deep copies ------------------------------------------------------- */

static char *dup_s(struct cat_mem *a, const char *s)
{
    return s ? mem_strdup(a, s, strlen(s)) : mem_strdup(a, "", 0);
}

static char **dup_list(struct cat_mem *a, char *const *v, size_t n)
{
    char **out = MEM_ARRAY(a, char *, n + 1);
    for (size_t i = 0; i < n; i++) out[i] = dup_s(a, v[i]);
    return out;
}

/* A NULL map stays NULL (Go's nil map prints null); an empty one stays empty. */
static struct state_pair *dup_pairs(struct cat_mem *a, const struct state_pair *v, size_t n)
{
    if (!v && !n) return NULL;
    struct state_pair *out = MEM_ARRAY(a, struct state_pair, n + 1);
    for (size_t i = 0; i < n; i++) {
        out[i].key = dup_s(a, v[i].key);
        out[i].value = dup_s(a, v[i].value);
    }
    return out;
}

static void node_copy_into(struct cat_mem *a, struct state_node *d, const struct state_node *n)
{
    d->id = dup_s(a, n->id);
    d->name = dup_s(a, n->name);
    d->address = dup_s(a, n->address);
    d->tagged = dup_pairs(a, n->tagged, n->ntagged);
    d->ntagged = n->ntagged;
    d->meta = dup_pairs(a, n->meta, n->nmeta);
    d->nmeta = n->nmeta;
    d->create_index = n->create_index;
    d->modify_index = n->modify_index;
}

static void service_copy_into(struct cat_mem *a, struct state_service *d,
                              const struct state_service *s)
{
    *d = *s;
    d->node = dup_s(a, s->node);
    d->kind = dup_s(a, s->kind);
    d->id = dup_s(a, s->id);
    d->name = dup_s(a, s->name);
    d->tags = dup_list(a, s->tags, s->ntags);
    d->address = dup_s(a, s->address);
    d->tagged = MEM_ARRAY(a, struct state_svc_addr, s->ntagged + 1);
    for (size_t i = 0; i < s->ntagged; i++) {
        d->tagged[i].key = dup_s(a, s->tagged[i].key);
        d->tagged[i].address = dup_s(a, s->tagged[i].address);
        d->tagged[i].port = s->tagged[i].port;
    }
    d->meta = dup_pairs(a, s->meta, s->nmeta);
    d->socket_path = dup_s(a, s->socket_path);
    d->proxy = dup_s(a, s->proxy);
    d->connect = dup_s(a, s->connect);
}

static void def_copy_into(struct cat_mem *a, struct state_check_def *d,
                          const struct state_check_def *s)
{
    *d = *s;
    d->http = dup_s(a, s->http);
    d->method = dup_s(a, s->method);
    d->body = dup_s(a, s->body);
    d->tls_server_name = dup_s(a, s->tls_server_name);
    d->header = MEM_ARRAY(a, struct state_header, s->nheader + 1);
    for (size_t i = 0; i < s->nheader; i++) {
        d->header[i].name = dup_s(a, s->header[i].name);
        d->header[i].values = dup_list(a, s->header[i].values, s->header[i].nvalues);
        d->header[i].nvalues = s->header[i].nvalues;
    }
    d->tcp = dup_s(a, s->tcp);
    d->udp = dup_s(a, s->udp);
    d->grpc = dup_s(a, s->grpc);
    d->script_args = dup_list(a, s->script_args, s->nscript_args);
    d->docker_container_id = dup_s(a, s->docker_container_id);
    d->shell = dup_s(a, s->shell);
    d->alias_node = dup_s(a, s->alias_node);
    d->alias_service = dup_s(a, s->alias_service);
}

static void check_copy_into(struct cat_mem *a, struct state_check *d, const struct state_check *c)
{
    *d = *c;
    d->node = dup_s(a, c->node);
    d->check_id = dup_s(a, c->check_id);
    d->name = dup_s(a, c->name);
    d->status = dup_s(a, c->status);
    d->notes = dup_s(a, c->notes);
    d->output = dup_s(a, c->output);
    d->service_id = dup_s(a, c->service_id);
    d->service_name = dup_s(a, c->service_name);
    d->service_tags = dup_list(a, c->service_tags, c->nservice_tags);
    d->type = dup_s(a, c->type);
    def_copy_into(a, &d->def, &c->def);
}

struct state_node *state_node_copy(struct cn_arena *a, const struct state_node *n)
{
    struct cat_mem m = {.arena = a};
    struct state_node *d = CN_ARENA_NEW(a, struct state_node);
    node_copy_into(&m, d, n);
    return d;
}

struct state_service *state_service_copy(struct cn_arena *a, const struct state_service *s)
{
    struct cat_mem m = {.arena = a};
    struct state_service *d = CN_ARENA_NEW(a, struct state_service);
    service_copy_into(&m, d, s);
    return d;
}

struct state_check *state_check_copy(struct cn_arena *a, const struct state_check *c)
{
    struct cat_mem m = {.arena = a};
    struct state_check *d = CN_ARENA_NEW(a, struct state_check);
    check_copy_into(&m, d, c);
    return d;
}

/* ---- rows ------------------------------------------------------------------ */

/* Build a row twice: measuring into a scratch arena, then packed into one
 * block of the measured size. */
#define PACK(type, build, ...)                                                          \
    do {                                                                                \
        struct cn_arena scratch_;                                                       \
        cn_arena_init(&scratch_, 4096);                                                 \
        struct cat_mem m_ = {.arena = &scratch_};                                        \
        build(&m_, __VA_ARGS__);                                                         \
        size_t need_ = m_.used;                                                         \
        cn_arena_release(&scratch_);                                                    \
        m_ = (struct cat_mem){.base = cn_malloc(need_), .cap = need_};                  \
        return (type *)build(&m_, __VA_ARGS__);                                         \
    } while (0)

static struct cat_node_row *node_row_build(struct cat_mem *m, const struct state_node *n)
{
    struct cat_node_row *r = mem_alloc(m, sizeof *r);
    struct cat_key k;
    node_copy_into(m, &r->n, n);
    r->h.kind = CAT_ROW;
    r->h.nkeys = 2;
    cat_key_init(&k, KEY_PRIMARY);
    cat_key_add(&k, cn_str_from(r->n.name));
    r->h.keys[0] = key_keep(m, &k);
    cat_key_release(&k);
    if (*r->n.id) {
        cat_key_init(&k, KEY_IDX2);
        cat_key_add(&k, cn_str_from(r->n.id));
        r->h.keys[1] = key_keep(m, &k);
        cat_key_release(&k);
    }
    return r;
}

struct cat_node_row *cat_node_row_new(const struct state_node *n)
{
    PACK(struct cat_node_row, node_row_build, n);
}

static struct cat_service_row *service_row_build(struct cat_mem *m, const struct state_service *s,
                                                 struct cn_str node)
{
    struct cat_service_row *r = mem_alloc(m, sizeof *r);
    struct cat_key k;
    service_copy_into(m, &r->s, s);
    r->s.node = mem_strdup(m, node.p ? node.p : "", node.len);
    r->h.kind = CAT_ROW;
    r->h.nkeys = 2;
    cat_key_init(&k, KEY_PRIMARY);
    cat_key_add(&k, node);
    cat_key_add(&k, cn_str_from(r->s.id));
    r->h.keys[0] = key_keep(m, &k);
    cat_key_release(&k);
    cat_key_init(&k, KEY_IDX2);
    cat_key_add(&k, cn_str_from(r->s.name));
    size_t name_end = k.len;
    cat_key_add(&k, node);
    cat_key_add(&k, cn_str_from(r->s.id));
    r->h.keys[1] = key_keep(m, &k);
    r->lname = cn_str_make(r->h.keys[1].p + 1, name_end - 1);
    cat_key_release(&k);
    return r;
}

struct cat_service_row *cat_service_row_new(const struct state_service *s, struct cn_str node)
{
    PACK(struct cat_service_row, service_row_build, s, node);
}

static struct cat_check_row *check_row_build(struct cat_mem *m, const struct state_check *c)
{
    struct cat_check_row *r = mem_alloc(m, sizeof *r);
    struct cat_key k;
    check_copy_into(m, &r->c, c);
    r->h.kind = CAT_ROW;
    r->h.nkeys = 3;
    cat_key_init(&k, KEY_PRIMARY);
    cat_key_add(&k, cn_str_from(r->c.node));
    cat_key_add(&k, cn_str_from(r->c.check_id));
    r->h.keys[0] = key_keep(m, &k);
    cat_key_release(&k);
    cat_key_init(&k, KEY_IDX2);
    cat_key_add(&k, cn_str_from(r->c.node));
    cat_key_add(&k, cn_str_from(r->c.service_id));
    cat_key_add(&k, cn_str_from(r->c.check_id));
    r->h.keys[1] = key_keep(m, &k);
    cat_key_release(&k);
    cat_key_init(&k, KEY_IDX3);
    cat_key_add(&k, cn_str_from(r->c.status));
    cat_key_add(&k, cn_str_from(r->c.node));
    cat_key_add(&k, cn_str_from(r->c.check_id));
    r->h.keys[2] = key_keep(m, &k);
    cat_key_release(&k);
    return r;
}

struct cat_check_row *cat_check_row_new(const struct state_check *c)
{
    PACK(struct cat_check_row, check_row_build, c);
}

/* ---- equality ---------------------------------------------------------- */

static bool s_eq(const char *a, const char *b)
{
    return !strcmp(cat_s(a), cat_s(b));
}

static bool list_eq(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na != nb) return false;
    for (size_t i = 0; i < na; i++)
        if (!s_eq(a[i], b[i])) return false;
    return true;
}

static bool pairs_eq(const struct state_pair *a, size_t na, const struct state_pair *b, size_t nb)
{
    if (na != nb || (!a) != (!b)) return false;
    for (size_t i = 0; i < na; i++)
        if (!s_eq(a[i].key, b[i].key) || !s_eq(a[i].value, b[i].value)) return false;
    return true;
}

bool state_node_same(const struct state_node *a, const struct state_node *b)
{
    return s_eq(a->id, b->id) && s_eq(a->name, b->name) && s_eq(a->address, b->address) &&
           pairs_eq(a->tagged, a->ntagged, b->tagged, b->ntagged) &&
           pairs_eq(a->meta, a->nmeta, b->meta, b->nmeta);
}

bool state_service_same(const struct state_service *a, const struct state_service *b)
{
    if (!s_eq(a->kind, b->kind) || !s_eq(a->id, b->id) || !s_eq(a->name, b->name) ||
        !list_eq(a->tags, a->ntags, b->tags, b->ntags) || !s_eq(a->address, b->address) ||
        !pairs_eq(a->meta, a->nmeta, b->meta, b->nmeta) || a->port != b->port ||
        !s_eq(a->socket_path, b->socket_path) || a->weight_passing != b->weight_passing ||
        a->weight_warning != b->weight_warning ||
        a->enable_tag_override != b->enable_tag_override || !s_eq(a->proxy, b->proxy) ||
        !s_eq(a->connect, b->connect) || a->ntagged != b->ntagged)
        return false;
    for (size_t i = 0; i < a->ntagged; i++)
        if (!s_eq(a->tagged[i].key, b->tagged[i].key) ||
            !s_eq(a->tagged[i].address, b->tagged[i].address) ||
            a->tagged[i].port != b->tagged[i].port)
            return false;
    return true;
}

static bool def_same(const struct state_check_def *a, const struct state_check_def *b)
{
    if (!s_eq(a->http, b->http) || !s_eq(a->method, b->method) || !s_eq(a->body, b->body) ||
        !s_eq(a->tls_server_name, b->tls_server_name) || a->tls_skip_verify != b->tls_skip_verify ||
        a->disable_redirects != b->disable_redirects || !s_eq(a->tcp, b->tcp) ||
        !s_eq(a->udp, b->udp) || !s_eq(a->grpc, b->grpc) || a->grpc_use_tls != b->grpc_use_tls ||
        !list_eq(a->script_args, a->nscript_args, b->script_args, b->nscript_args) ||
        !s_eq(a->docker_container_id, b->docker_container_id) || !s_eq(a->shell, b->shell) ||
        !s_eq(a->alias_node, b->alias_node) || !s_eq(a->alias_service, b->alias_service) ||
        a->interval_ns != b->interval_ns || a->timeout_ns != b->timeout_ns ||
        a->ttl_ns != b->ttl_ns || a->deregister_after_ns != b->deregister_after_ns ||
        a->output_max_size != b->output_max_size || a->nheader != b->nheader)
        return false;
    for (size_t i = 0; i < a->nheader; i++)
        if (!s_eq(a->header[i].name, b->header[i].name) ||
            !list_eq(a->header[i].values, a->header[i].nvalues, b->header[i].values,
                     b->header[i].nvalues))
            return false;
    return true;
}

bool state_check_same(const struct state_check *a, const struct state_check *b)
{
    return s_eq(a->node, b->node) && s_eq(a->check_id, b->check_id) && s_eq(a->name, b->name) &&
           s_eq(a->status, b->status) && s_eq(a->notes, b->notes) &&
           s_eq(a->output, b->output) && s_eq(a->service_id, b->service_id) &&
           s_eq(a->service_name, b->service_name) &&
           list_eq(a->service_tags, a->nservice_tags, b->service_tags, b->nservice_tags) &&
           s_eq(a->type, b->type) && a->exposed_port == b->exposed_port &&
           def_same(&a->def, &b->def);
}

/* ---- encoding ---------------------------------------------------------- */

#define CAT_CODEC_VERSION 1

static void enc_list(struct cn_buf *out, char *const *v, size_t n)
{
    cn_enc_uvar(out, n);
    for (size_t i = 0; i < n; i++) cn_enc_cstr(out, v[i]);
}

/* Count + 1, or 0 for a nil map. */
static void enc_pairs(struct cn_buf *out, const struct state_pair *v, size_t n)
{
    cn_enc_uvar(out, !v && !n ? 0 : n + 1);
    for (size_t i = 0; i < n; i++) {
        cn_enc_cstr(out, v[i].key);
        cn_enc_cstr(out, v[i].value);
    }
}

static char *dec_s(struct cn_dec *d, struct cn_arena *a)
{
    struct cn_str s = cn_dec_bytes(d, CAT_STR_MAX);
    return cn_arena_str(a, s);
}

static size_t dec_count(struct cn_dec *d)
{
    uint64_t n = cn_dec_uvar(d);
    /* Every element takes at least one byte: a count past what is left is
     * corrupt, and refusing it bounds the allocation below. */
    if (n > CAT_COUNT_MAX || n > cn_dec_left(d)) {
        d->err = CN_ECORRUPT;
        return 0;
    }
    return (size_t)n;
}

static char **dec_list(struct cn_dec *d, struct cn_arena *a, size_t *n)
{
    *n = dec_count(d);
    char **v = CN_ARENA_ARRAY(a, char *, *n + 1);
    for (size_t i = 0; i < *n; i++) v[i] = dec_s(d, a);
    return v;
}

static struct state_pair *dec_pairs(struct cn_dec *d, struct cn_arena *a, size_t *n)
{
    *n = 0;
    if (cn_dec_left(d) && d->p[d->pos] == 0) {
        d->pos++;
        return NULL;
    }
    *n = dec_count(d);
    if (*n == 0) {
        d->err = CN_ECORRUPT;
        return NULL;
    }
    (*n)--;
    struct state_pair *v = CN_ARENA_ARRAY(a, struct state_pair, *n + 1);
    for (size_t i = 0; i < *n; i++) {
        v[i].key = dec_s(d, a);
        v[i].value = dec_s(d, a);
    }
    return v;
}

static int dec_version(struct cn_dec *d)
{
    uint8_t v = cn_dec_u8(d);
    if (cn_dec_status(d)) return CN_ECORRUPT;
    return v == CAT_CODEC_VERSION ? 0 : CN_EUNSUPPORTED;
}

void state_node_encode(const struct state_node *n, struct cn_buf *out)
{
    cn_enc_u8(out, CAT_CODEC_VERSION);
    cn_enc_cstr(out, n->id);
    cn_enc_cstr(out, n->name);
    cn_enc_cstr(out, n->address);
    enc_pairs(out, n->tagged, n->ntagged);
    enc_pairs(out, n->meta, n->nmeta);
    cn_enc_uvar(out, n->create_index);
    cn_enc_uvar(out, n->modify_index);
}

int state_node_decode(struct cn_dec *d, struct cn_arena *a, struct state_node *n)
{
    int rc = dec_version(d);
    if (rc) return rc;
    memset(n, 0, sizeof *n);
    n->id = dec_s(d, a);
    n->name = dec_s(d, a);
    n->address = dec_s(d, a);
    n->tagged = dec_pairs(d, a, &n->ntagged);
    n->meta = dec_pairs(d, a, &n->nmeta);
    n->create_index = cn_dec_uvar(d);
    n->modify_index = cn_dec_uvar(d);
    return cn_dec_status(d);
}

void state_service_encode(const struct state_service *s, struct cn_buf *out)
{
    cn_enc_u8(out, CAT_CODEC_VERSION);
    cn_enc_cstr(out, s->node);
    cn_enc_cstr(out, s->kind);
    cn_enc_cstr(out, s->id);
    cn_enc_cstr(out, s->name);
    enc_list(out, s->tags, s->ntags);
    cn_enc_cstr(out, s->address);
    cn_enc_uvar(out, s->ntagged);
    for (size_t i = 0; i < s->ntagged; i++) {
        cn_enc_cstr(out, s->tagged[i].key);
        cn_enc_cstr(out, s->tagged[i].address);
        cn_enc_svar(out, s->tagged[i].port);
    }
    enc_pairs(out, s->meta, s->nmeta);
    cn_enc_svar(out, s->port);
    cn_enc_cstr(out, s->socket_path);
    cn_enc_svar(out, s->weight_passing);
    cn_enc_svar(out, s->weight_warning);
    cn_enc_bool(out, s->enable_tag_override);
    cn_enc_cstr(out, s->proxy);
    cn_enc_cstr(out, s->connect);
    cn_enc_uvar(out, s->create_index);
    cn_enc_uvar(out, s->modify_index);
}

int state_service_decode(struct cn_dec *d, struct cn_arena *a, struct state_service *s)
{
    int rc = dec_version(d);
    if (rc) return rc;
    memset(s, 0, sizeof *s);
    s->node = dec_s(d, a);
    s->kind = dec_s(d, a);
    s->id = dec_s(d, a);
    s->name = dec_s(d, a);
    s->tags = dec_list(d, a, &s->ntags);
    s->address = dec_s(d, a);
    s->ntagged = dec_count(d);
    s->tagged = CN_ARENA_ARRAY(a, struct state_svc_addr, s->ntagged + 1);
    for (size_t i = 0; i < s->ntagged; i++) {
        s->tagged[i].key = dec_s(d, a);
        s->tagged[i].address = dec_s(d, a);
        s->tagged[i].port = cn_dec_svar(d);
    }
    s->meta = dec_pairs(d, a, &s->nmeta);
    s->port = cn_dec_svar(d);
    s->socket_path = dec_s(d, a);
    s->weight_passing = cn_dec_svar(d);
    s->weight_warning = cn_dec_svar(d);
    s->enable_tag_override = cn_dec_bool(d);
    s->proxy = dec_s(d, a);
    s->connect = dec_s(d, a);
    s->create_index = cn_dec_uvar(d);
    s->modify_index = cn_dec_uvar(d);
    return cn_dec_status(d);
}

static void def_encode(const struct state_check_def *f, struct cn_buf *out)
{
    cn_enc_cstr(out, f->http);
    cn_enc_cstr(out, f->method);
    cn_enc_cstr(out, f->body);
    cn_enc_cstr(out, f->tls_server_name);
    cn_enc_uvar(out, f->nheader);
    for (size_t i = 0; i < f->nheader; i++) {
        cn_enc_cstr(out, f->header[i].name);
        enc_list(out, f->header[i].values, f->header[i].nvalues);
    }
    cn_enc_bool(out, f->tls_skip_verify);
    cn_enc_bool(out, f->disable_redirects);
    cn_enc_cstr(out, f->tcp);
    cn_enc_cstr(out, f->udp);
    cn_enc_cstr(out, f->grpc);
    cn_enc_bool(out, f->grpc_use_tls);
    enc_list(out, f->script_args, f->nscript_args);
    cn_enc_cstr(out, f->docker_container_id);
    cn_enc_cstr(out, f->shell);
    cn_enc_cstr(out, f->alias_node);
    cn_enc_cstr(out, f->alias_service);
    cn_enc_svar(out, f->interval_ns);
    cn_enc_svar(out, f->timeout_ns);
    cn_enc_svar(out, f->ttl_ns);
    cn_enc_svar(out, f->deregister_after_ns);
    cn_enc_svar(out, f->output_max_size);
}

static void def_decode(struct cn_dec *d, struct cn_arena *a, struct state_check_def *f)
{
    f->http = dec_s(d, a);
    f->method = dec_s(d, a);
    f->body = dec_s(d, a);
    f->tls_server_name = dec_s(d, a);
    f->nheader = dec_count(d);
    f->header = CN_ARENA_ARRAY(a, struct state_header, f->nheader + 1);
    for (size_t i = 0; i < f->nheader; i++) {
        f->header[i].name = dec_s(d, a);
        f->header[i].values = dec_list(d, a, &f->header[i].nvalues);
    }
    f->tls_skip_verify = cn_dec_bool(d);
    f->disable_redirects = cn_dec_bool(d);
    f->tcp = dec_s(d, a);
    f->udp = dec_s(d, a);
    f->grpc = dec_s(d, a);
    f->grpc_use_tls = cn_dec_bool(d);
    f->script_args = dec_list(d, a, &f->nscript_args);
    f->docker_container_id = dec_s(d, a);
    f->shell = dec_s(d, a);
    f->alias_node = dec_s(d, a);
    f->alias_service = dec_s(d, a);
    f->interval_ns = cn_dec_svar(d);
    f->timeout_ns = cn_dec_svar(d);
    f->ttl_ns = cn_dec_svar(d);
    f->deregister_after_ns = cn_dec_svar(d);
    f->output_max_size = cn_dec_svar(d);
}

void state_check_encode(const struct state_check *c, struct cn_buf *out)
{
    cn_enc_u8(out, CAT_CODEC_VERSION);
    cn_enc_cstr(out, c->node);
    cn_enc_cstr(out, c->check_id);
    cn_enc_cstr(out, c->name);
    cn_enc_cstr(out, c->status);
    cn_enc_cstr(out, c->notes);
    cn_enc_cstr(out, c->output);
    cn_enc_cstr(out, c->service_id);
    cn_enc_cstr(out, c->service_name);
    enc_list(out, c->service_tags, c->nservice_tags);
    cn_enc_cstr(out, c->type);
    cn_enc_svar(out, c->exposed_port);
    def_encode(&c->def, out);
    cn_enc_uvar(out, c->create_index);
    cn_enc_uvar(out, c->modify_index);
}

int state_check_decode(struct cn_dec *d, struct cn_arena *a, struct state_check *c)
{
    int rc = dec_version(d);
    if (rc) return rc;
    memset(c, 0, sizeof *c);
    c->node = dec_s(d, a);
    c->check_id = dec_s(d, a);
    c->name = dec_s(d, a);
    c->status = dec_s(d, a);
    c->notes = dec_s(d, a);
    c->output = dec_s(d, a);
    c->service_id = dec_s(d, a);
    c->service_name = dec_s(d, a);
    c->service_tags = dec_list(d, a, &c->nservice_tags);
    c->type = dec_s(d, a);
    c->exposed_port = cn_dec_svar(d);
    def_decode(d, a, &c->def);
    c->create_index = cn_dec_uvar(d);
    c->modify_index = cn_dec_uvar(d);
    return cn_dec_status(d);
}

/* ---- table operations -------------------------------------------------- */

static void node_encode_row(const void *e, struct cn_buf *out)
{
    const struct cat_row *h = e;
    if (h->kind == CAT_ROW) state_node_encode(&((const struct cat_node_row *)e)->n, out);
}

static void service_encode_row(const void *e, struct cn_buf *out)
{
    const struct cat_row *h = e;
    if (h->kind == CAT_ROW) state_service_encode(&((const struct cat_service_row *)e)->s, out);
}

static void check_encode_row(const void *e, struct cn_buf *out)
{
    const struct cat_row *h = e;
    if (h->kind == CAT_ROW) state_check_encode(&((const struct cat_check_row *)e)->c, out);
}

static int node_restore_row(struct state_store *st, struct cn_dec *d)
{
    struct cn_arena a;
    struct state_node n;
    int rc;
    if (cn_dec_left(d) == 0) return 0; /* a reference: rebuilt from its row */
    cn_arena_init(&a, 1024);
    if ((rc = state_node_decode(d, &a, &n)) == 0)
        cat_restore_insert(&st->tables[STATE_T_NODES], &cat_node_row_new(&n)->h);
    cn_arena_release(&a);
    return rc;
}

static int service_restore_row(struct state_store *st, struct cn_dec *d)
{
    struct cn_arena a;
    struct state_service s;
    int rc;
    if (cn_dec_left(d) == 0) return 0;
    cn_arena_init(&a, 1024);
    if ((rc = state_service_decode(d, &a, &s)) == 0)
        cat_restore_insert(&st->tables[STATE_T_SERVICES],
                           &cat_service_row_new(&s, cn_str_from(s.node))->h);
    cn_arena_release(&a);
    return rc;
}

static int check_restore_row(struct state_store *st, struct cn_dec *d)
{
    struct cn_arena a;
    struct state_check c;
    int rc;
    if (cn_dec_left(d) == 0) return 0;
    cn_arena_init(&a, 1024);
    if ((rc = state_check_decode(d, &a, &c)) == 0)
        cat_restore_insert(&st->tables[STATE_T_CHECKS], &cat_check_row_new(&c)->h);
    cn_arena_release(&a);
    return rc;
}

const struct state_table_ops state__nodes_ops = {"nodes", cat_entry_key, cat_entry_free,
                                                 node_encode_row, node_restore_row};
const struct state_table_ops state__services_ops = {"services", cat_entry_key, cat_entry_free,
                                                    service_encode_row, service_restore_row};
const struct state_table_ops state__checks_ops = {"checks", cat_entry_key, cat_entry_free,
                                                  check_encode_row, check_restore_row};

/* ---- named indexes --------------------------------------------------------- */

struct index_row {
    uint64_t value;
    uint32_t len;
    char name[];
};

static struct cn_str index_key(const void *row)
{
    const struct index_row *r = row;
    return cn_str_make(r->name, r->len);
}

static struct index_row *index_row_new(struct cn_str name, uint64_t value)
{
    struct index_row *r = cn_malloc(sizeof *r + name.len + 1);
    r->value = value;
    r->len = (uint32_t)name.len;
    if (name.len) memcpy(r->name, name.p, name.len);
    r->name[name.len] = '\0';
    return r;
}

static void index_encode(const void *row, struct cn_buf *out)
{
    const struct index_row *r = row;
    cn_enc_str(out, index_key(r));
    cn_enc_uvar(out, r->value);
}

static int index_restore(struct state_store *st, struct cn_dec *d)
{
    struct cn_str name = cn_dec_bytes(d, CAT_STR_MAX);
    uint64_t v = cn_dec_uvar(d);
    if (cn_dec_status(d)) return CN_ECORRUPT;
    void *old = cn_omap_put(&st->tables[STATE_T_INDEXES].rows, index_row_new(name, v));
    free(old);
    return 0;
}

const struct state_table_ops state__indexes_ops = {"index", index_key, free, index_encode,
                                                   index_restore};

uint64_t state__index_get(struct state_store *st, struct cn_str name)
{
    const struct index_row *r = state__get(&st->tables[STATE_T_INDEXES], name);
    return r ? r->value : 0;
}

void state__index_set(struct state_txn *tx, struct cn_str name)
{
    struct state_table *t = &tx->st->tables[STATE_T_INDEXES];
    const struct index_row *r = state__get(t, name);
    if (r && r->value == tx->idx) return;
    state__put(tx, t, index_row_new(name, tx->idx));
    t->index = tx->idx;
}

void state__index_del(struct state_txn *tx, struct cn_str name)
{
    state__del(tx, &tx->st->tables[STATE_T_INDEXES], name);
}

static int pair_cmp(const void *a, const void *b)
{
    return strcmp(((const struct state_pair *)a)->key, ((const struct state_pair *)b)->key);
}

void state_pairs_sort(struct state_pair *v, size_t n)
{
    if (n > 1) qsort(v, n, sizeof *v, pair_cmp);
}
