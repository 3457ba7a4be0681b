/*
 * session.c - the sessions table (Consul's state/session.go): sessions,
 * their by-node and by-check indexes, invalidation, and lock-delay records.
 *
 * One ordered map holds four kinds of entries, each under its own first
 * key byte, so every index rides the store's undo log, snapshots and
 * release with no code of its own (the catalog's layout, catalog_int.h):
 *
 *   1 id                       the session row (owns the record)
 *   2 lnode 0 id               by node
 *   3 lnode 0 lcheck 0 id      by bound check (node and service checks)
 *   4 be64(index) key          lock-delay record of an invalidation
 *
 * (l = lowercased: nodes and check IDs match case-insensitively, as the
 * catalog's lowercase indexes do.) A snapshot writes rows; the other
 * entries are empty records: references are rebuilt by restore and
 * lock-delay records are per-process memory, as in Consul.
 */
#include <ctype.h>
#include <string.h>

#include "lib/cn_common.h"
#include "state/state_int.h"

enum { K_ROW = '1', K_NODE = '2', K_CHECK = '3', K_DELAY = '4' };

struct sess_entry {
    struct state_session *s; /* K_ROW: owned */
    int64_t delay_ns;        /* K_DELAY */
    size_t klen;
    char key[];
};

#define SESS_STR_MAX    4096
#define SESS_CHECKS_MAX 1024

static struct cn_str entry_key(const void *row)
{
    const struct sess_entry *e = row;
    return cn_str_make(e->key, e->klen);
}

static void session_free(struct state_session *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->nnode_checks; i++)
        free(s->node_checks[i]);
    for (size_t i = 0; i < s->nservice_checks; i++)
        free(s->service_checks[i]);
    free(s->node_checks);
    free(s->service_checks);
    free(s->id);
    free(s->name);
    free(s->node);
    free(s->ttl);
    free(s);
}

static void entry_free(void *row)
{
    struct sess_entry *e = row;
    session_free(e->s);
    free(e);
}

static char *dup0(const char *s)
{
    return cn_strdup(s ? s : "");
}

static char **dup_list(char *const *v, size_t n)
{
    char **out = n ? cn_calloc(n, sizeof *out) : NULL;
    for (size_t i = 0; i < n; i++)
        out[i] = dup0(v[i]);
    return out;
}

static struct state_session *session_dup(const struct state_session *in)
{
    struct state_session *s = CN_NEW(struct state_session);
    *s = *in;
    s->id = dup0(in->id);
    s->name = dup0(in->name);
    s->node = dup0(in->node);
    s->ttl = dup0(in->ttl);
    s->node_checks = dup_list(in->node_checks, in->nnode_checks);
    s->service_checks = dup_list(in->service_checks, in->nservice_checks);
    return s;
}

/* ---- keys ------------------------------------------------------------ */

static void key_lower(struct cn_buf *b, struct cn_str s)
{
    for (size_t i = 0; i < s.len; i++)
        cn_buf_putc(b, (char)tolower((unsigned char)s.p[i]));
}

static struct sess_entry *entry_new(struct cn_str key)
{
    struct sess_entry *e = cn_calloc(1, sizeof *e + key.len + 1);
    e->klen = key.len;
    if (key.len) memcpy(e->key, key.p, key.len);
    return e;
}

static void row_key(struct cn_buf *b, struct cn_str id)
{
    cn_buf_reset(b);
    cn_buf_putc(b, K_ROW);
    cn_buf_put(b, id.p, id.len);
}

static void node_key(struct cn_buf *b, struct cn_str node)
{
    cn_buf_reset(b);
    cn_buf_putc(b, K_NODE);
    key_lower(b, node);
    cn_buf_putc(b, '\0');
}

static void check_key(struct cn_buf *b, struct cn_str node, struct cn_str check)
{
    cn_buf_reset(b);
    cn_buf_putc(b, K_CHECK);
    key_lower(b, node);
    cn_buf_putc(b, '\0');
    key_lower(b, check);
    cn_buf_putc(b, '\0');
}

/* Every reference key of a session (by node, then by each check). */
typedef void (*ref_fn)(void *ctx, struct cn_str key);
static void each_ref(const struct state_session *s, ref_fn fn, void *ctx)
{
    struct cn_buf b;
    struct cn_str id = cn_str_from(s->id), node = cn_str_from(s->node);
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    node_key(&b, node);
    cn_buf_put(&b, id.p, id.len);
    fn(ctx, cn_buf_str(&b));
    for (size_t i = 0; i < s->nnode_checks + s->nservice_checks; i++) {
        const char *c =
            i < s->nnode_checks ? s->node_checks[i] : s->service_checks[i - s->nnode_checks];
        check_key(&b, node, cn_str_from(c));
        cn_buf_put(&b, id.p, id.len);
        fn(ctx, cn_buf_str(&b));
    }
    cn_buf_release(&b);
}

static struct state_table *tab(struct state_store *st)
{
    return &st->tables[STATE_T_SESSIONS];
}

/* ---- codec and table ops ---------------------------------------------- */

void state_session_encode(const struct state_session *s, struct cn_buf *out)
{
    cn_enc_cstr(out, s->id);
    cn_enc_cstr(out, s->name);
    cn_enc_cstr(out, s->node);
    cn_enc_uvar(out, s->nnode_checks);
    for (size_t i = 0; i < s->nnode_checks; i++)
        cn_enc_cstr(out, s->node_checks[i]);
    cn_enc_uvar(out, s->nservice_checks);
    for (size_t i = 0; i < s->nservice_checks; i++)
        cn_enc_cstr(out, s->service_checks[i]);
    cn_enc_svar(out, s->lock_delay_ns);
    cn_enc_bool(out, s->delete_keys);
    cn_enc_cstr(out, s->ttl);
    cn_enc_uvar(out, s->create_index);
    cn_enc_uvar(out, s->modify_index);
}

static char *dec_str(struct cn_dec *d, struct cn_arena *a)
{
    struct cn_str v = cn_dec_bytes(d, SESS_STR_MAX);
    return cn_arena_strndup(a, v.p ? v.p : "", v.len);
}

static char **dec_list(struct cn_dec *d, struct cn_arena *a, size_t *n)
{
    uint64_t k = cn_dec_uvar(d);
    if (k > SESS_CHECKS_MAX || k > cn_dec_left(d)) {
        *n = 0;
        if (!d->err) d->err = CN_ECORRUPT;
        return NULL;
    }
    char **v = CN_ARENA_ARRAY(a, char *, k + 1);
    for (uint64_t i = 0; i < k; i++)
        v[i] = dec_str(d, a);
    *n = (size_t)k;
    return v;
}

int state_session_decode(struct cn_dec *d, struct cn_arena *a, struct state_session *out)
{
    memset(out, 0, sizeof *out);
    out->id = dec_str(d, a);
    out->name = dec_str(d, a);
    out->node = dec_str(d, a);
    out->node_checks = dec_list(d, a, &out->nnode_checks);
    out->service_checks = dec_list(d, a, &out->nservice_checks);
    out->lock_delay_ns = cn_dec_svar(d);
    out->delete_keys = cn_dec_bool(d);
    out->ttl = dec_str(d, a);
    out->create_index = cn_dec_uvar(d);
    out->modify_index = cn_dec_uvar(d);
    return cn_dec_status(d) ? CN_ECORRUPT : 0;
}

struct state_session *state_session_copy(struct cn_arena *a, const struct state_session *in)
{
    struct state_session *s = CN_ARENA_NEW(a, struct state_session);
    *s = *in;
    s->id = cn_arena_strdup(a, in->id);
    s->name = cn_arena_strdup(a, in->name);
    s->node = cn_arena_strdup(a, in->node);
    s->ttl = cn_arena_strdup(a, in->ttl);
    s->node_checks = CN_ARENA_ARRAY(a, char *, in->nnode_checks + 1);
    for (size_t i = 0; i < in->nnode_checks; i++)
        s->node_checks[i] = cn_arena_strdup(a, in->node_checks[i]);
    s->service_checks = CN_ARENA_ARRAY(a, char *, in->nservice_checks + 1);
    for (size_t i = 0; i < in->nservice_checks; i++)
        s->service_checks[i] = cn_arena_strdup(a, in->service_checks[i]);
    return s;
}

static void encode_row(const void *row, struct cn_buf *out)
{
    const struct sess_entry *e = row;
    if (e->key[0] == K_ROW) state_session_encode(e->s, out);
}

static void restore_ref(void *ctx, struct cn_str key)
{
    struct state_store *st = ctx;
    void *old = cn_omap_put(&tab(st)->rows, entry_new(key));
    if (old) entry_free(old);
}

static int restore_row(struct state_store *st, struct cn_dec *d)
{
    struct cn_arena a;
    struct state_session s;
    struct cn_buf k;
    if (cn_dec_left(d) == 0) return 0; /* a reference or lock-delay record */
    cn_arena_init(&a, 1024);
    int rc = state_session_decode(d, &a, &s);
    if (rc == 0) {
        cn_buf_init(&k, CN_BUF_UNLIMITED);
        row_key(&k, cn_str_from(s.id));
        struct sess_entry *e = entry_new(cn_buf_str(&k));
        e->s = session_dup(&s);
        void *old = cn_omap_put(&tab(st)->rows, e);
        if (old) entry_free(old);
        each_ref(&s, restore_ref, st);
        cn_buf_release(&k);
    }
    cn_arena_release(&a);
    return rc;
}

const struct state_table_ops state__sessions_ops = {"sessions", entry_key, entry_free, encode_row,
                                                    restore_row};

/* ---- reads ------------------------------------------------------------ */

static const struct state_session *lookup(struct state_store *st, struct cn_str id)
{
    struct cn_buf k;
    cn_buf_init(&k, CN_BUF_UNLIMITED);
    row_key(&k, id);
    const struct sess_entry *e = state__get(tab(st), cn_buf_str(&k));
    cn_buf_release(&k);
    return e ? e->s : NULL;
}

bool state_session_exists(struct state_store *st, struct cn_str id)
{
    return id.len && lookup(st, id) != NULL;
}

const struct state_session *state_session_get(struct state_store *st, struct cn_str id,
                                              struct state_watch_set *ws)
{
    if (ws) state_ws_add_table(ws, STATE_T_SESSIONS);
    return id.len ? lookup(st, id) : NULL;
}

uint64_t state_sessions_list(struct state_store *st, struct state_watch_set *ws,
                             state_session_fn fn, void *ctx)
{
    struct cn_omap_iter it;
    const struct sess_entry *e;
    char k = K_ROW;
    if (ws) state_ws_add_table(ws, STATE_T_SESSIONS);
    cn_omap_seek(&tab(st)->rows, cn_str_make(&k, 1), &it);
    while ((e = cn_omap_next(&it)) && e->key[0] == K_ROW)
        if (fn && !fn(ctx, e->s)) break;
    return tab(st)->index;
}

/* IDs at the end of the references under prefix (copied: the caller may
 * delete while it walks them). */
static size_t ref_ids(struct state_store *st, struct cn_str prefix, char ***out)
{
    struct cn_omap_iter it;
    const struct sess_entry *e;
    size_t n = 0, cap = 0;
    char **v = NULL;
    cn_omap_seek(&tab(st)->rows, prefix, &it);
    while ((e = cn_omap_next(&it)) && cn_str_has_prefix(entry_key(e), prefix)) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4;
            v = cn_realloc(v, cap * sizeof *v);
        }
        v[n++] = cn_strndup(e->key + prefix.len, e->klen - prefix.len);
    }
    *out = v;
    return n;
}

static void free_ids(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

uint64_t state_node_sessions(struct state_store *st, struct cn_str node, struct state_watch_set *ws,
                             state_session_fn fn, void *ctx)
{
    struct cn_buf k;
    char **ids;
    if (ws) state_ws_add_table(ws, STATE_T_SESSIONS);
    cn_buf_init(&k, CN_BUF_UNLIMITED);
    node_key(&k, node);
    size_t n = ref_ids(st, cn_buf_str(&k), &ids);
    bool going = true;
    for (size_t i = 0; i < n && going; i++) {
        const struct state_session *s = lookup(st, cn_str_from(ids[i]));
        if (s && fn) going = fn(ctx, s);
    }
    free_ids(ids, n);
    cn_buf_release(&k);
    return tab(st)->index;
}

size_t state_session_count(const struct state_store *st)
{
    struct cn_omap_iter it;
    const struct sess_entry *e;
    size_t n = 0;
    char k = K_ROW;
    cn_omap_seek(&st->tables[STATE_T_SESSIONS].rows, cn_str_make(&k, 1), &it);
    while ((e = cn_omap_next(&it)) && e->key[0] == K_ROW)
        n++;
    return n;
}

/* ---- writes ----------------------------------------------------------- */

static void put_ref(void *ctx, struct cn_str key)
{
    struct state_txn *tx = ctx;
    state__put(tx, tab(tx->st), entry_new(key));
}

static void del_ref(void *ctx, struct cn_str key)
{
    struct state_txn *tx = ctx;
    state__del(tx, tab(tx->st), key);
}

static int vet_check(struct state_txn *tx, struct cn_str node, const char *id, struct cn_err *err)
{
    const struct state_check *c = state_check_get(tx->st, node, cn_str_from(id));
    if (!c) return cn_err_set(err, CN_EINVAL, "Missing check '%s' registration", id);
    if (!strcmp(c->status, "critical"))
        return cn_err_set(err, CN_EINVAL, "Check '%s' is in critical state", id);
    return 0;
}

int state_session_create_txn(struct state_txn *tx, const struct state_session *in,
                             struct cn_err *err)
{
    struct cn_str id = cn_str_from(in->id), node = cn_str_from(in->node);
    struct cn_buf k;
    int rc;
    if (!id.len) return cn_err_set(err, CN_EINVAL, "Missing session ID");
    if (lookup(tx->st, id)) return cn_err_set(err, CN_EEXIST, "Session ID already exists");
    if (!node.len || !state_node_exists(tx->st, node))
        return cn_err_set(err, CN_EINVAL, "Missing node registration");
    for (size_t i = 0; i < in->nnode_checks; i++)
        if ((rc = vet_check(tx, node, in->node_checks[i], err))) return rc;
    for (size_t i = 0; i < in->nservice_checks; i++)
        if ((rc = vet_check(tx, node, in->service_checks[i], err))) return rc;
    cn_buf_init(&k, CN_BUF_UNLIMITED);
    row_key(&k, id);
    struct sess_entry *e = entry_new(cn_buf_str(&k));
    cn_buf_release(&k);
    e->s = session_dup(in);
    e->s->create_index = e->s->modify_index = tx->idx;
    state__put(tx, tab(tx->st), e);
    each_ref(e->s, put_ref, tx);
    state__touch(tx, STATE_T_SESSIONS);
    state__notify(tx, STATE_W_SESSION, id);
    return 0;
}

/* Keys held by the session (copied). NEEDSWORK: a scan of every key, as
 * state_kv_release_session_txn does; a KV by-session index would make
 * invalidation O(keys held). */
static size_t held_keys(struct state_store *st, struct cn_str id, struct cn_str **out)
{
    struct cn_omap_iter it;
    const struct state_kv *e;
    struct cn_str *v = NULL;
    size_t n = 0, cap = 0;
    cn_omap_seek(&st->tables[STATE_T_KVS].rows, CN_STR_NULL, &it);
    while ((e = cn_omap_next(&it))) {
        if (!state_kv_session(e) || !cn_str_eq(cn_str_from(state_kv_session(e)), id)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 4;
            v = cn_realloc(v, cap * sizeof *v);
        }
        struct cn_str key = state_kv_key(e);
        v[n++] = cn_str_make(cn_strndup(key.p, key.len), key.len);
    }
    *out = v;
    return n;
}

/* Lock-delay records of this transaction; older ones were delivered when
 * their transaction committed and are dropped here. */
static void record_delays(struct state_txn *tx, const struct cn_str *keys, size_t n,
                          int64_t delay_ns)
{
    struct state_table *t = tab(tx->st);
    struct cn_omap_iter it;
    const struct sess_entry *e;
    char lo = K_DELAY;
    uint8_t be[8];
    for (;;) {
        cn_omap_seek(&t->rows, cn_str_make(&lo, 1), &it);
        e = cn_omap_next(&it);
        if (!e || e->key[0] != K_DELAY) break;
        uint64_t idx = 0;
        for (int i = 0; i < 8; i++)
            idx = idx << 8 | (uint8_t)e->key[1 + i];
        if (idx >= tx->idx) break;
        state__del(tx, t, entry_key(e));
    }
    if (delay_ns <= 0 || n == 0) return;
    for (int i = 0; i < 8; i++)
        be[i] = (uint8_t)(tx->idx >> (56 - 8 * i));
    struct cn_buf k;
    cn_buf_init(&k, CN_BUF_UNLIMITED);
    for (size_t i = 0; i < n; i++) {
        cn_buf_reset(&k);
        cn_buf_putc(&k, K_DELAY);
        cn_buf_put(&k, be, 8);
        cn_buf_put(&k, keys[i].p, keys[i].len);
        struct sess_entry *d = entry_new(cn_buf_str(&k));
        d->delay_ns = delay_ns;
        state__put(tx, t, d);
    }
    cn_buf_release(&k);
    state__notify(tx, STATE_W_OTHER, CN_STR(STATE_LOCK_DELAY_TOPIC));
}

int state_session_destroy_txn(struct state_txn *tx, struct cn_str id)
{
    struct cn_str *keys;
    const struct state_session *s = id.len ? lookup(tx->st, id) : NULL;
    if (!s) return 0;
    struct cn_buf k;
    cn_buf_init(&k, CN_BUF_UNLIMITED);
    row_key(&k, id);
    /* The row stays valid until commit: removing it first is safe. */
    struct sess_entry *e = state__del(tx, tab(tx->st), cn_buf_str(&k));
    cn_buf_release(&k);
    each_ref(e->s, del_ref, tx);
    size_t n = held_keys(tx->st, id, &keys);
    state_kv_release_session_txn(tx, id, e->s->delete_keys);
    record_delays(tx, keys, n, e->s->lock_delay_ns);
    for (size_t i = 0; i < n; i++)
        free((char *)keys[i].p);
    free(keys);
    state__touch(tx, STATE_T_SESSIONS);
    state__notify(tx, STATE_W_SESSION, id);
    return 0;
}

uint64_t state_lock_delays_since(struct state_store *st, uint64_t after, state_lock_delay_fn fn,
                                 void *ctx)
{
    struct cn_omap_iter it;
    const struct sess_entry *e;
    char lo = K_DELAY;
    uint64_t max = after;
    cn_omap_seek(&tab(st)->rows, cn_str_make(&lo, 1), &it);
    while ((e = cn_omap_next(&it)) && e->key[0] == K_DELAY) {
        uint64_t idx = 0;
        for (int i = 0; i < 8; i++)
            idx = idx << 8 | (uint8_t)e->key[1 + i];
        if (idx <= after) continue;
        max = CN_MAX(max, idx);
        fn(ctx, cn_str_make(e->key + 9, e->klen - 9), e->delay_ns);
    }
    return max;
}

/* ---- invalidation hooks (called by the catalog, state_int.h) ----------- */

static int destroy_all(struct state_txn *tx, struct cn_str prefix)
{
    char **ids;
    size_t n = ref_ids(tx->st, prefix, &ids);
    for (size_t i = 0; i < n; i++)
        state_session_destroy_txn(tx, cn_str_from(ids[i]));
    free_ids(ids, n);
    return 0;
}

int state__sessions_check_critical(struct state_txn *tx, struct cn_str node, struct cn_str check_id)
{
    struct cn_buf k;
    cn_buf_init(&k, CN_BUF_UNLIMITED);
    check_key(&k, node, check_id);
    int rc = destroy_all(tx, cn_buf_str(&k));
    cn_buf_release(&k);
    return rc;
}

int state__sessions_check_deleted(struct state_txn *tx, struct cn_str node, struct cn_str check_id)
{
    return state__sessions_check_critical(tx, node, check_id);
}

int state__sessions_node_deleted(struct state_txn *tx, struct cn_str node)
{
    struct cn_buf k;
    cn_buf_init(&k, CN_BUF_UNLIMITED);
    node_key(&k, node);
    int rc = destroy_all(tx, cn_buf_str(&k));
    cn_buf_release(&k);
    return rc;
}
