/* value.c - template values: constructors, builders, truth, type names. */
#include <string.h>

#include "lib/cn_common.h"
#include "tmpl/tmpl_int.h"

const struct tv tv_invalid = {.kind = TV_INVALID};
const struct tv tv_nil = {.kind = TV_NIL, .tname = "<nil>"};
const struct tv tv_true = {.kind = TV_BOOL, .b = true, .tname = "bool"};
const struct tv tv_false = {.kind = TV_BOOL, .b = false, .tname = "bool"};
const struct tv tv_empty_str = {.kind = TV_STR, .s = "", .n = 0, .tname = "string"};
const struct tv tv_zero_int = {.kind = TV_INT, .i = 0, .tname = "int"};

static struct tv *new_tv(struct cn_arena *a, uint8_t kind, const char *tname)
{
    struct tv *v = CN_ARENA_NEW(a, struct tv);
    v->kind = kind;
    v->tname = tname;
    return v;
}

const struct tv *tv_str_ref(struct cn_arena *a, const char *s, size_t n)
{
    if (n == 0) return &tv_empty_str;
    struct tv *v = new_tv(a, TV_STR, "string");
    v->s = s;
    v->n = n;
    return v;
}

const struct tv *tv_str(struct cn_arena *a, const char *s, size_t n)
{
    if (n == 0) return &tv_empty_str;
    return tv_str_ref(a, cn_arena_strndup(a, s, n), n);
}

const struct tv *tv_cstr(struct cn_arena *a, const char *s)
{
    return tv_str(a, s, strlen(s));
}

const struct tv *tv_int(struct cn_arena *a, int64_t i)
{
    if (i == 0) return &tv_zero_int;
    struct tv *v = new_tv(a, TV_INT, "int");
    v->i = i;
    return v;
}

const struct tv *tv_uint(struct cn_arena *a, uint64_t u)
{
    struct tv *v = new_tv(a, TV_UINT, "uint64");
    v->u = u;
    return v;
}

const struct tv *tv_float(struct cn_arena *a, double f)
{
    struct tv *v = new_tv(a, TV_FLOAT, "float64");
    v->f = f;
    return v;
}

const struct tv *tv_bool(bool b)
{
    return b ? &tv_true : &tv_false;
}

const struct tv *tv_list(struct cn_arena *a, const struct tv **items, size_t n, const char *tname)
{
    struct tv *v = new_tv(a, TV_LIST, tname ? tname : "[]interface {}");
    v->items = items;
    v->n = n;
    return v;
}

const struct tv *tv_struct(struct cn_arena *a, const struct tv_type *t, const struct tv **fields)
{
    struct tv *v = new_tv(a, TV_STRUCT, t->name);
    v->type = t;
    v->items = fields;
    v->n = t->n;
    return v;
}

const struct tv *tv_field(const struct tv *v, const char *name, size_t len)
{
    if (v->kind != TV_STRUCT) return NULL;
    for (size_t i = 0; i < v->type->n; i++)
        if (strlen(v->type->fields[i]) == len && !memcmp(v->type->fields[i], name, len))
            return v->items[i];
    return NULL;
}

/* ---- builders -------------------------------------------------------- */

void tv_listb_init(struct tv_listb *b, struct cn_arena *a)
{
    memset(b, 0, sizeof *b);
    b->a = a;
}

void tv_listb_push(struct tv_listb *b, const struct tv *v)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 8;
        const struct tv **items = cn_arena_alloc(b->a, cap * sizeof *items);
        if (b->n) memcpy(items, b->items, b->n * sizeof *items);
        b->items = items;
        b->cap = cap;
    }
    b->items[b->n++] = v;
}

const struct tv *tv_listb_done(struct tv_listb *b, const char *tname)
{
    return tv_list(b->a, b->items, b->n, tname);
}

void tv_mapb_init(struct tv_mapb *b, struct cn_arena *a)
{
    memset(b, 0, sizeof *b);
    b->a = a;
}

/* Binary search: index of key, or where it would go (found tells which). */
static size_t map_search(const struct cn_str *keys, size_t n, struct cn_str key, bool *found)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cn_str_cmp(keys[mid], key);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

const struct tv **tv_mapb_slot(struct tv_mapb *b, struct cn_str key)
{
    bool found;
    size_t i = map_search(b->keys, b->n, key, &found);
    return found ? &b->vals[i] : NULL;
}

void tv_mapb_put(struct tv_mapb *b, struct cn_str key, const struct tv *v)
{
    bool found;
    size_t i = map_search(b->keys, b->n, key, &found);
    if (found) {
        b->vals[i] = v;
        return;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 8;
        struct cn_str *keys = cn_arena_alloc(b->a, cap * sizeof *keys);
        const struct tv **vals = cn_arena_alloc(b->a, cap * sizeof *vals);
        if (b->n) {
            memcpy(keys, b->keys, b->n * sizeof *keys);
            memcpy(vals, b->vals, b->n * sizeof *vals);
        }
        b->keys = keys;
        b->vals = vals;
        b->cap = cap;
    }
    memmove(&b->keys[i + 1], &b->keys[i], (b->n - i) * sizeof *b->keys);
    memmove(&b->vals[i + 1], &b->vals[i], (b->n - i) * sizeof *b->vals);
    b->keys[i] = cn_str_make(cn_arena_strndup(b->a, key.p ? key.p : "", key.len), key.len);
    b->vals[i] = v;
    b->n++;
}

const struct tv *tv_mapb_done(struct tv_mapb *b, const struct tv *zero, const char *tname)
{
    struct tv_map *m = CN_ARENA_NEW(b->a, struct tv_map);
    struct tv *v = new_tv(b->a, TV_MAP, tname ? tname : "map[string]interface {}");
    m->keys = b->keys;
    m->vals = b->vals;
    m->zero = zero ? zero : &tv_invalid;
    v->map = m;
    v->n = b->n;
    return v;
}

const struct tv *tv_map_get(const struct tv *m, struct cn_str key)
{
    bool found;
    if (m->kind != TV_MAP || m->n == 0) return NULL;
    size_t i = map_search(m->map->keys, m->n, key, &found);
    return found ? m->map->vals[i] : NULL;
}

/* ---- truth and types ------------------------------------------------- */

bool tv_truth(const struct tv *v)
{
    switch (v->kind) {
    case TV_INVALID:
    case TV_NIL:
        return false;
    case TV_BOOL:
        return v->b;
    case TV_INT:
        return v->i != 0;
    case TV_UINT:
        return v->u != 0;
    case TV_FLOAT:
        return v->f != 0;
    case TV_STR:
    case TV_LIST:
    case TV_MAP:
        return v->n != 0;
    default:
        return true;
    }
}

const char *tv_type_name(const struct tv *v)
{
    if (v->kind == TV_INVALID) return "<nil>";
    if (v->kind == TV_SCRATCH) return "*template.Scratch";
    if (v->kind == TV_STRUCT) return v->type->ptr ? v->tname : v->tname + (v->tname[0] == '*');
    return v->tname ? v->tname : "interface {}";
}
