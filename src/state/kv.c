/*
 * kv.c - the KV table and its tombstones, following Consul's state/kvs.go:
 * Session and LockIndex survive a plain write (see docs/compatibility.md),
 * an identical rewrite changes nothing, deletes leave tombstones so a
 * listing's index never goes backwards.
 */
#include <string.h>

#include "lib/cn_common.h"
#include "lib/cn_limits.h"
#include "lib/cn_slab.h"
#include "state/state_int.h"

struct tombstone {
    uint64_t index;
    uint32_t key_len;
    char key[];
};

static struct cn_str kv_key_of(const void *row)
{
    return state_kv_key(row);
}

static struct cn_str tomb_key_of(const void *row)
{
    const struct tombstone *t = row;
    return cn_str_make(t->key, t->key_len);
}

/* Every store's rows, in one slab (lib/cn_slab.h says why): stores are
 * only touched from the loop thread, and tests run several at once. */
static struct cn_slab rows_slab;

static size_t uvar_len(size_t v);

static size_t row_size(size_t klen, size_t vlen, bool ext)
{
    return sizeof(struct state_kv) + 1 + uvar_len(klen) + uvar_len(vlen) + klen + 1 + vlen +
           (ext ? sizeof(struct state_kv_ext *) : 0);
}

static void kv_free(void *row)
{
    const struct state_kv *e = row;
    size_t kl, vl;
    state__kv_body(e, &kl, &vl);
    free((void *)state_kv_ext(e));
    cn_slab_free(&rows_slab, row, row_size(kl, vl, e->packed[0] & STATE_KV_HAS_EXT));
}

/* The rare fields: an extension only when one of them is set. */
static struct state_kv_ext *ext_new(uint64_t flags, uint64_t lock_index, const char *session)
{
    size_t slen = session ? strlen(session) : 0;
    if (!flags && !lock_index && !slen) return NULL;
    struct state_kv_ext *x = cn_malloc(sizeof *x + slen + 1);
    x->flags = flags;
    x->lock_index = lock_index;
    memcpy(x->session, session ? session : "", slen + 1);
    return x;
}

static unsigned char *put_uvar(unsigned char *p, size_t v)
{
    while (v >= 0x80) {
        *p++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (unsigned char)v;
    return p;
}

static size_t uvar_len(size_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* A packed row (layout in state.h); takes ownership of x. */
static struct state_kv *kv_new(struct cn_str key, struct cn_str value, struct state_kv_ext *x)
{
    struct state_kv *e = cn_slab_alloc(&rows_slab, row_size(key.len, value.len, x != NULL));
    e->create_index = e->modify_index = 0;
    e->packed[0] = x ? STATE_KV_HAS_EXT : 0;
    unsigned char *p = put_uvar(put_uvar(e->packed + 1, key.len), value.len);
    if (key.len) memcpy(p, key.p, key.len);
    p += key.len;
    *p++ = '\0';
    if (value.len) memcpy(p, value.p, value.len);
    p += value.len;
    if (x) memcpy(p, &x, sizeof x);
    return e;
}

static void kv_encode(const void *row, struct cn_buf *out)
{
    const struct state_kv *e = row;
    cn_enc_str(out, state_kv_key(e));
    cn_enc_str(out, state_kv_value(e));
    cn_enc_uvar(out, state_kv_flags(e));
    cn_enc_uvar(out, e->create_index);
    cn_enc_uvar(out, e->modify_index);
    cn_enc_uvar(out, state_kv_lock_index(e));
    cn_enc_cstr(out, state_kv_session(e));
}

static int kv_restore(struct state_store *st, struct cn_dec *d)
{
    struct cn_str key = cn_dec_bytes(d, CN_KV_KEY_MAX);
    struct cn_str val = cn_dec_bytes(d, CN_CODEC_FIELD_MAX);
    uint64_t flags = cn_dec_uvar(d), ci = cn_dec_uvar(d), mi = cn_dec_uvar(d), li = cn_dec_uvar(d);
    struct cn_str sess = cn_dec_bytes(d, 64);
    if (cn_dec_status(d)) return cn_dec_status(d);
    char *s = sess.len ? cn_str_dup(sess) : NULL;
    struct state_kv *e = kv_new(key, val, ext_new(flags, li, s));
    free(s);
    e->create_index = ci;
    e->modify_index = mi;
    void *old = cn_omap_put(&st->tables[STATE_T_KVS].rows, e);
    if (old) kv_free(old);
    return 0;
}

static void tomb_encode(const void *row, struct cn_buf *out)
{
    const struct tombstone *t = row;
    cn_enc_str(out, tomb_key_of(t));
    cn_enc_uvar(out, t->index);
}

static struct tombstone *tomb_new(struct cn_str key, uint64_t index)
{
    struct tombstone *t = cn_malloc(sizeof *t + key.len + 1);
    t->index = index;
    t->key_len = (uint32_t)key.len;
    if (key.len) memcpy(t->key, key.p, key.len);
    t->key[key.len] = '\0';
    return t;
}

static int tomb_restore(struct state_store *st, struct cn_dec *d)
{
    struct cn_str key = cn_dec_bytes(d, CN_KV_KEY_MAX);
    uint64_t index = cn_dec_uvar(d);
    if (cn_dec_status(d)) return cn_dec_status(d);
    void *old = cn_omap_put(&st->tables[STATE_T_TOMBSTONES].rows, tomb_new(key, index));
    free(old);
    return 0;
}

const struct state_table_ops state__kvs_ops = {"kvs", kv_key_of, kv_free, kv_encode, kv_restore};
const struct state_table_ops state__tombstone_ops = {"tombstones", tomb_key_of, free, tomb_encode,
                                                     tomb_restore};

/* ---- reads ---------------------------------------------------------- */

const struct state_kv *state_kv_get(struct state_store *st, struct cn_str key,
                                    struct state_watch_set *ws)
{
    if (ws) state_ws_add(ws, STATE_W_KV, key);
    return state__get(&st->tables[STATE_T_KVS], key);
}

uint64_t state_kv_index(const struct state_store *st)
{
    return CN_MAX(st->tables[STATE_T_KVS].index, st->tables[STATE_T_TOMBSTONES].index);
}

size_t state_kv_count(const struct state_store *st)
{
    return cn_omap_count(&st->tables[STATE_T_KVS].rows);
}

size_t state_tombstone_count(const struct state_store *st)
{
    return cn_omap_count(&st->tables[STATE_T_TOMBSTONES].rows);
}

void state_kv_list(struct state_store *st, struct cn_str prefix, struct state_watch_set *ws,
                   state_kv_visit_fn fn, void *ctx, uint64_t *index)
{
    struct cn_omap_iter it;
    const struct state_kv *e;
    const struct tombstone *t;
    uint64_t max = 0;
    bool visiting = true;
    if (ws) state_ws_add_prefix(ws, STATE_W_KV, prefix);
    cn_omap_seek(&st->tables[STATE_T_KVS].rows, prefix, &it);
    while ((e = cn_omap_next(&it)) && cn_str_has_prefix(state_kv_key(e), prefix)) {
        max = CN_MAX(max, e->modify_index);
        if (visiting && fn) visiting = fn(ctx, e);
    }
    cn_omap_seek(&st->tables[STATE_T_TOMBSTONES].rows, prefix, &it);
    while ((t = cn_omap_next(&it)) && cn_str_has_prefix(tomb_key_of(t), prefix))
        max = CN_MAX(max, t->index);
    if (index) *index = max ? max : state_kv_index(st);
}

/* ---- writes --------------------------------------------------------- */

static void changed(struct state_txn *tx, struct cn_str key)
{
    state__touch(tx, STATE_T_KVS);
    state__notify(tx, STATE_W_KV, key);
}

/* A write clears any tombstone of the key: the key lives again. */
static void clear_tombstone(struct state_txn *tx, struct cn_str key)
{
    struct state_table *tt = &tx->st->tables[STATE_T_TOMBSTONES];
    if (state__get(tt, key)) state__del(tx, tt, key);
}

/* Insert e (a fresh row) unless it equals existing; consumes e either way. */
static void store_row(struct state_txn *tx, struct state_kv *e, const struct state_kv *existing)
{
    if (existing && state_kv_flags(existing) == state_kv_flags(e) &&
        state_kv_lock_index(existing) == state_kv_lock_index(e) &&
        cn_str_eq(state_kv_value(existing), state_kv_value(e)) &&
        cn_str_eq(cn_str_from(state_kv_session(existing)), cn_str_from(state_kv_session(e)))) {
        kv_free(e);
        return;
    }
    e->modify_index = tx->idx;
    e->create_index = existing ? existing->create_index : tx->idx;
    state__put(tx, &tx->st->tables[STATE_T_KVS], e);
    if (!existing) clear_tombstone(tx, state_kv_key(e));
    changed(tx, state_kv_key(e));
}

static struct state_kv *row_from(const struct state_kv_write *w, const char *session,
                                 uint64_t lock_index)
{
    return kv_new(w->key, w->value, ext_new(w->flags, lock_index, session));
}

int state_kv_set_txn(struct state_txn *tx, const struct state_kv_write *w)
{
    const struct state_kv *ex = state__get(&tx->st->tables[STATE_T_KVS], w->key);
    if (w->key.len > CN_KV_KEY_MAX) return CN_ETOOBIG;
    store_row(tx, row_from(w, ex ? state_kv_session(ex) : NULL, ex ? state_kv_lock_index(ex) : 0),
              ex);
    return 0;
}

int state_kv_cas_txn(struct state_txn *tx, const struct state_kv_write *w, bool *ok)
{
    const struct state_kv *ex = state__get(&tx->st->tables[STATE_T_KVS], w->key);
    *ok = false;
    if (w->cas_index == 0 ? ex != NULL : (!ex || ex->modify_index != w->cas_index)) return 0;
    *ok = true;
    return state_kv_set_txn(tx, w);
}

int state_kv_lock_txn(struct state_txn *tx, const struct state_kv_write *w, bool *ok)
{
    const struct state_kv *ex = state__get(&tx->st->tables[STATE_T_KVS], w->key);
    char *sess = cn_str_dup(w->session);
    uint64_t lock_index = 1;
    *ok = false;
    if (ex) {
        const char *holder = state_kv_session(ex);
        if (holder && !strcmp(holder, sess)) {
            lock_index = state_kv_lock_index(ex);
        } else if (holder) {
            free(sess);
            return 0;
        } else {
            lock_index = state_kv_lock_index(ex) + 1;
        }
    }
    store_row(tx, row_from(w, sess, lock_index), ex);
    free(sess);
    *ok = true;
    return 0;
}

int state_kv_unlock_txn(struct state_txn *tx, const struct state_kv_write *w, bool *ok)
{
    const struct state_kv *ex = state__get(&tx->st->tables[STATE_T_KVS], w->key);
    *ok = false;
    if (!ex || !state_kv_session(ex) || !cn_str_eq(cn_str_from(state_kv_session(ex)), w->session))
        return 0;
    store_row(tx, row_from(w, NULL, state_kv_lock_index(ex)), ex);
    *ok = true;
    return 0;
}

static void delete_row(struct state_txn *tx, struct cn_str key)
{
    struct state_table *tt = &tx->st->tables[STATE_T_TOMBSTONES];
    struct state_kv *gone = state__del(tx, &tx->st->tables[STATE_T_KVS], key);
    if (!gone) return;
    /* The key's bytes live in the deleted row until commit, still readable. */
    state__put(tx, tt, tomb_new(key, tx->idx));
    state__touch(tx, STATE_T_TOMBSTONES);
    changed(tx, key);
}

int state_kv_delete_txn(struct state_txn *tx, struct cn_str key)
{
    delete_row(tx, key);
    return 0;
}

int state_kv_delete_cas_txn(struct state_txn *tx, struct cn_str key, uint64_t cas_index, bool *ok)
{
    const struct state_kv *ex = state__get(&tx->st->tables[STATE_T_KVS], key);
    *ok = true;
    if (!ex) return 0;
    if (ex->modify_index != cas_index) {
        *ok = false;
        return 0;
    }
    delete_row(tx, key);
    return 0;
}

int state_kv_delete_tree_txn(struct state_txn *tx, struct cn_str prefix)
{
    struct cn_omap *rows = &tx->st->tables[STATE_T_KVS].rows;
    for (;;) {
        struct cn_omap_iter it;
        const struct state_kv *e;
        cn_omap_seek(rows, prefix, &it);
        e = cn_omap_next(&it);
        if (!e || !cn_str_has_prefix(state_kv_key(e), prefix)) break;
        delete_row(tx, state_kv_key(e));
    }
    return 0;
}

size_t state_kv_release_session_txn(struct state_txn *tx, struct cn_str session, bool delete_keys)
{
    /* NEEDSWORK: a scan of every key; a by-session index would make session
     * invalidation O(keys held) when sessions land. */
    struct cn_omap *rows = &tx->st->tables[STATE_T_KVS].rows;
    struct cn_omap_iter it;
    const struct state_kv *e;
    struct cn_str *held = NULL;
    size_t n = 0, cap = 0;
    cn_omap_seek(rows, CN_STR_NULL, &it);
    while ((e = cn_omap_next(&it))) {
        if (!state_kv_session(e) || !cn_str_eq(cn_str_from(state_kv_session(e)), session)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            held = cn_realloc(held, cap * sizeof *held);
        }
        held[n++] = state_kv_key(e);
    }
    for (size_t i = 0; i < n; i++) {
        const struct state_kv *ex = state__get(&tx->st->tables[STATE_T_KVS], held[i]);
        if (delete_keys) {
            delete_row(tx, held[i]);
        } else {
            struct state_kv_write w = {.key = held[i], .value = state_kv_value(ex),
                                       .flags = state_kv_flags(ex)};
            store_row(tx, row_from(&w, NULL, state_kv_lock_index(ex)), ex);
        }
    }
    free(held);
    return n;
}

int state_tombstone_reap_txn(struct state_txn *tx, uint64_t upto)
{
    struct state_table *tt = &tx->st->tables[STATE_T_TOMBSTONES];
    struct cn_omap_iter it;
    const struct tombstone *t;
    struct cn_str *dead = NULL;
    size_t n = 0, cap = 0;
    cn_omap_seek(&tt->rows, CN_STR_NULL, &it);
    while ((t = cn_omap_next(&it))) {
        if (t->index > upto) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            dead = cn_realloc(dead, cap * sizeof *dead);
        }
        dead[n++] = tomb_key_of(t);
    }
    for (size_t i = 0; i < n; i++) state__del(tx, tt, dead[i]);
    if (n) state__touch(tx, STATE_T_TOMBSTONES);
    free(dead);
    return 0;
}
