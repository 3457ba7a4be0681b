/*
 * funcs.c - consul-template's helper functions (template/funcs.go,
 * template/math.go, template/scratch.go): strings, collections, parsing,
 * JSON, time, math, base64, env, executeTemplate and scratch. Pipe-friendly
 * argument order as consul-template has it: the piped value comes last.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cn_base64.h"
#include "lib/cn_common.h"
#include "tmpl/tmpl_int.h"

static const struct tv *str_result(struct ex *x, struct cn_buf *b)
{
    const struct tv *v = tv_str(x->a, b->data ? b->data : "", b->len);
    size_t len = b->len;
    cn_buf_release(b);
    ex_step(x, 1 + len / 256);
    return v;
}

static struct cn_str S(const struct tv *v) {
    return cn_str_make(v->s, v->n);
}

/* Find needle in hay from pos; -1 if absent. */
static long
find(struct cn_str hay, struct cn_str needle, size_t pos)
{
    if (needle.len == 0) return (long)pos;
    if (needle.len > hay.len) return -1;
    for (size_t i = pos; i + needle.len <= hay.len; i++)
        if (hay.p[i] == needle.p[0] && !memcmp(hay.p + i, needle.p, needle.len)) return (long)i;
    return -1;
}

static size_t rune_len(const char *s, size_t n)
{
    unsigned char c = (unsigned char)s[0];
    size_t l = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return l > n ? 1 : l;
}

/* ---- env ------------------------------------------------------------- */

static const char *getenv_(struct ex *x, const struct tv *name)
{
    if (!x->env->getenv) return NULL;
    char *k = cn_arena_strndup(x->a, name->s, name->n);
    return x->env->getenv(x->env->env_ctx, k);
}

static const struct tv *f_env(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    const char *v = getenv_(x, a[0]);
    return v ? tv_cstr(x->a, v) : &tv_empty_str;
}

static const struct tv *f_env_or_default(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    const char *v = getenv_(x, a[0]);
    return v ? tv_cstr(x->a, v) : a[1];
}

static const struct tv *f_must_env(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    const char *v = getenv_(x, a[0]);
    if (!v || !*v)
        fn_fail(x, "mustEnv: environment variable \"%.*s\" is not set or is empty", (int)a[0]->n,
                a[0]->s);
    return tv_cstr(x->a, v);
}

/* ---- collections ----------------------------------------------------- */

/* consul-template's in(l, v). */
static bool in_(const struct tv *l, const struct tv *v)
{
    if (l->kind == TV_LIST) {
        for (size_t i = 0; i < l->n; i++) {
            const struct tv *e = l->items[i];
            if (e->kind == TV_INT && v->kind == TV_INT && e->i == v->i) return true;
            if (e->kind == TV_FLOAT && v->kind == TV_FLOAT && e->f == v->f) return true;
            if (e->kind == TV_STR && v->kind == TV_STR && e->n == v->n && !memcmp(e->s, v->s, v->n))
                return true;
        }
        return false;
    }
    if (l->kind == TV_STR && v->kind == TV_STR) return find(S(l), S(v), 0) >= 0;
    return false;
}

static const struct tv *f_in(struct ex *x, const struct tv **a, size_t n)
{
    (void)x, (void)n;
    return tv_bool(in_(a[0], a[1]));
}

static const struct tv *f_contains(struct ex *x, const struct tv **a, size_t n)
{
    (void)x, (void)n;
    return tv_bool(in_(a[1], a[0]));
}

static const struct tv *contains_some(struct ex *x, const struct tv **a, bool all, bool want)
{
    if (a[0]->kind != TV_LIST)
        fn_fail(x, "wrong type for value; expected []interface {}; got %s", tv_type_name(a[0]));
    for (size_t i = 0; i < a[0]->n; i++) {
        bool found = in_(a[1], a[0]->items[i]);
        if (all && !found) return tv_bool(!want);
        if (!all && found) return tv_bool(want);
    }
    return tv_bool(all ? want : !want);
}

static const struct tv *f_contains_all(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    return contains_some(x, a, true, true);
}

static const struct tv *f_contains_any(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    return contains_some(x, a, false, true);
}

static const struct tv *f_contains_none(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    return contains_some(x, a, false, false);
}

static const struct tv *f_contains_not_all(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    return contains_some(x, a, true, false);
}

static const struct tv *f_join(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    const struct tv *l = a[1];
    if (l->kind == TV_NIL) return &tv_empty_str;
    if (l->kind != TV_LIST) fn_fail(x, "join: wrong argument type %s", tv_type_name(l));
    struct cn_buf *b = ex_buf(x);
    for (size_t i = 0; i < l->n; i++) {
        if (l->items[i]->kind != TV_STR)
            fn_fail(x, "join: wrong element type %s (a list of strings is required)",
                    tv_type_name(l->items[i]));
        if (i) cn_buf_put(b, a[0]->s, a[0]->n);
        cn_buf_put(b, l->items[i]->s, l->items[i]->n);
    }
    return str_result(x, b);
}

static bool is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* strings.TrimSpace (ASCII space, U+0085, U+00A0). */
static struct cn_str trim_space(struct cn_str s)
{
    for (;;) {
        if (s.len && is_space((unsigned char)s.p[0]))
            s.p++, s.len--;
        else if (s.len >= 2 && (unsigned char)s.p[0] == 0xC2 &&
                 ((unsigned char)s.p[1] == 0x85 || (unsigned char)s.p[1] == 0xA0))
            s.p += 2, s.len -= 2;
        else
            break;
    }
    for (;;) {
        if (s.len && is_space((unsigned char)s.p[s.len - 1]))
            s.len--;
        else if (s.len >= 2 && (unsigned char)s.p[s.len - 2] == 0xC2 &&
                 ((unsigned char)s.p[s.len - 1] == 0x85 || (unsigned char)s.p[s.len - 1] == 0xA0))
            s.len -= 2;
        else
            break;
    }
    return s;
}

/* strings.Split (sep "" splits into runes); n = -1. */
static const struct tv *split(struct ex *x, struct cn_str s, struct cn_str sep)
{
    struct tv_listb lb;
    tv_listb_init(&lb, x->a);
    if (sep.len == 0) {
        for (size_t i = 0; i < s.len;) {
            size_t l = rune_len(s.p + i, s.len - i);
            tv_listb_push(&lb, tv_str_ref(x->a, s.p + i, l));
            i += l;
        }
    } else {
        size_t pos = 0;
        for (;;) {
            long at = find(s, sep, pos);
            if (at < 0) break;
            tv_listb_push(&lb, tv_str_ref(x->a, s.p + pos, (size_t)at - pos));
            pos = (size_t)at + sep.len;
        }
        tv_listb_push(&lb, tv_str_ref(x->a, s.p + pos, s.len - pos));
    }
    ex_step(x, lb.n);
    return tv_listb_done(&lb, "[]string");
}

static const struct tv *f_split(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    struct cn_str s = trim_space(S(a[1]));
    if (s.len == 0) return tv_list(x->a, NULL, 0, "[]string");
    return split(x, s, S(a[0]));
}

static const struct tv *f_split_to_map(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    struct tv_mapb mb;
    tv_mapb_init(&mb, x->a);
    struct cn_str s = trim_space(S(a[2]));
    if (s.len) {
        const struct tv *items = split(x, s, S(a[0]));
        for (size_t i = 0; i < items->n; i++) {
            const struct tv *kv = split(x, S(items->items[i]), S(a[1]));
            if (kv->n < 2)
                fn_fail(x, "splitToMap: invalid key/value separator in \"%.*s\"",
                        (int)items->items[i]->n, items->items[i]->s);
            /* the value keeps any further separators */
            const struct tv *k = kv->items[0];
            size_t off = k->n + a[1]->n;
            tv_mapb_put(&mb, S(k),
                        tv_str_ref(x->a, items->items[i]->s + off, items->items[i]->n - off));
        }
    }
    return tv_mapb_done(&mb, &tv_empty_str, "map[string]string");
}

/* strings.Replace(s, old, new, -1). */
static const struct tv *f_replace_all(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    struct cn_str s = S(a[2]), old = S(a[0]), rep = S(a[1]);
    struct cn_buf *b = ex_buf(x);
    if (old.len == 0) {
        cn_buf_put(b, rep.p, rep.len);
        for (size_t i = 0; i < s.len;) {
            size_t l = rune_len(s.p + i, s.len - i);
            cn_buf_put(b, s.p + i, l);
            cn_buf_put(b, rep.p, rep.len);
            i += l;
        }
        return str_result(x, b);
    }
    size_t pos = 0;
    for (;;) {
        long at = find(s, old, pos);
        if (at < 0) break;
        cn_buf_put(b, s.p + pos, (size_t)at - pos);
        cn_buf_put(b, rep.p, rep.len);
        pos = (size_t)at + old.len;
        ex_step(x, 1);
    }
    cn_buf_put(b, s.p + pos, s.len - pos);
    return str_result(x, b);
}

static const struct tv *map_ascii(struct ex *x, const struct tv *s, int mode)
{
    struct cn_buf *b = ex_buf(x);
    bool prev_sep = true;
    for (size_t i = 0; i < s->n; i++) {
        unsigned char c = (unsigned char)s->s[i];
        if (mode == 'l' && c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + 32);
        else if (mode == 'u' && c >= 'a' && c <= 'z')
            c = (unsigned char)(c - 32);
        else if (mode == 't') {
            bool sep = !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                         (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80);
            if (prev_sep && c >= 'a' && c <= 'z') c = (unsigned char)(c - 32);
            prev_sep = sep;
        }
        cn_buf_putc(b, (char)c);
    }
    return str_result(x, b);
}

static const struct tv *f_to_lower(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    return map_ascii(x, a[0], 'l');
}

static const struct tv *f_to_upper(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    return map_ascii(x, a[0], 'u');
}

static const struct tv *f_to_title(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    return map_ascii(x, a[0], 't');
}

static const struct tv *f_trim_space(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    struct cn_str s = trim_space(S(a[0]));
    return tv_str_ref(x->a, s.p, s.len);
}

static bool in_cutset(struct cn_str cut, const char *p, size_t l)
{
    for (size_t i = 0; i < cut.len;) {
        size_t cl = rune_len(cut.p + i, cut.len - i);
        if (cl == l && !memcmp(cut.p + i, p, l)) return true;
        i += cl;
    }
    return false;
}

static const struct tv *f_trim(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    struct cn_str cut = S(a[0]), s = S(a[1]);
    while (s.len) {
        size_t l = rune_len(s.p, s.len);
        if (!in_cutset(cut, s.p, l)) break;
        s.p += l, s.len -= l;
    }
    while (s.len) {
        size_t st = s.len - 1;
        while (st > 0 && ((unsigned char)s.p[st] & 0xC0) == 0x80 && s.len - st < 4)
            st--;
        size_t l = s.len - st;
        if (rune_len(s.p + st, l) != l) st = s.len - 1, l = 1;
        if (!in_cutset(cut, s.p + st, l)) break;
        s.len -= l;
    }
    return tv_str_ref(x->a, s.p, s.len);
}

static const struct tv *f_trim_prefix(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    struct cn_str p = S(a[0]), s = S(a[1]);
    if (cn_str_has_prefix(s, p)) s.p += p.len, s.len -= p.len;
    return tv_str_ref(x->a, s.p, s.len);
}

static const struct tv *f_trim_suffix(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    struct cn_str p = S(a[0]), s = S(a[1]);
    if (s.len >= p.len && !memcmp(s.p + s.len - p.len, p.p, p.len)) s.len -= p.len;
    return tv_str_ref(x->a, s.p, s.len);
}

static const struct tv *f_indent(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    if (a[0]->i < 0) fn_fail(x, "indent value must be a positive integer");
    if (a[0]->i > 100000) fn_fail(x, "indent value too large");
    struct cn_buf *b = ex_buf(x);
    bool sp = true;
    for (size_t i = 0; i < a[1]->n; i++) {
        char c = a[1]->s[i];
        if (sp && c != '\n')
            for (int64_t k = 0; k < a[0]->i; k++)
                cn_buf_putc(b, ' ');
        cn_buf_putc(b, c);
        sp = c == '\n';
    }
    ex_step(x, b->len / 64);
    return str_result(x, b);
}

/* ---- parsing --------------------------------------------------------- */

static const struct tv *f_parse_int(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    int64_t v;
    if (a[0]->n == 0) return &tv_zero_int;
    int rc = cn_parse_i64(S(a[0]), &v);
    if (rc) {
        /* strconv: out of range vs invalid syntax */
        bool digits = a[0]->n > 0;
        for (size_t i = 0; i < a[0]->n; i++) {
            char c = a[0]->s[i];
            if (!((c >= '0' && c <= '9') || (i == 0 && (c == '-' || c == '+')))) digits = false;
        }
        fn_fail(x, "parseInt: strconv.ParseInt: parsing \"%.*s\": %s", (int)CN_MIN(a[0]->n, 200),
                a[0]->s, digits && a[0]->n > 1 ? "value out of range" : "invalid syntax");
    }
    return tv_int(x->a, v);
}

static const struct tv *f_parse_uint(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    uint64_t v;
    if (a[0]->n == 0) return tv_uint(x->a, 0);
    if (cn_parse_u64(S(a[0]), &v))
        fn_fail(x, "parseUint: strconv.ParseUint: parsing \"%.*s\": invalid syntax",
                (int)CN_MIN(a[0]->n, 200), a[0]->s);
    return tv_uint(x->a, v);
}

static const struct tv *f_parse_float(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    if (a[0]->n == 0) return tv_float(x->a, 0);
    char *s = cn_arena_strndup(x->a, a[0]->s, a[0]->n), *end;
    errno = 0;
    double v = strtod(s, &end);
    bool bad =
        *end != '\0' || a[0]->n != strlen(s) || is_space((unsigned char)s[0]) || strpbrk(s, "xX(");
    if (bad)
        fn_fail(x, "parseFloat: strconv.ParseFloat: parsing \"%.*s\": invalid syntax",
                (int)CN_MIN(a[0]->n, 200), a[0]->s);
    if (errno == ERANGE && isinf(v))
        fn_fail(x, "parseFloat: strconv.ParseFloat: parsing \"%.*s\": value out of range",
                (int)CN_MIN(a[0]->n, 200), a[0]->s);
    return tv_float(x->a, v);
}

static const struct tv *f_parse_bool(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    bool b;
    if (a[0]->n == 0) return &tv_false;
    if (cn_parse_bool(S(a[0]), &b))
        fn_fail(x, "parseBool: strconv.ParseBool: parsing \"%.*s\": invalid syntax",
                (int)CN_MIN(a[0]->n, 200), a[0]->s);
    return tv_bool(b);
}

static const struct tv *f_parse_json(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    if (a[0]->n == 0) {
        struct tv_mapb mb;
        tv_mapb_init(&mb, x->a);
        return tv_mapb_done(&mb, &tv_invalid, "map[string]interface {}");
    }
    char err[200];
    const struct tv *v = tv_from_json_text(x->a, a[0]->s, a[0]->n, err, sizeof err);
    if (!v) fn_fail(x, "%s", err);
    ex_step(x, a[0]->n / 64);
    return v;
}

static const struct tv *to_json(struct ex *x, const struct tv *v, bool pretty, bool html)
{
    struct cn_buf *b = ex_buf(x);
    tv_json(b, v, pretty ? "  " : NULL, html);
    return str_result(x, b);
}

static const struct tv *f_to_json(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    return to_json(x, a[0], false, true);
}

static const struct tv *f_to_json_pretty(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    return to_json(x, a[0], true, true);
}

static const struct tv *f_to_unescaped_json(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    return to_json(x, a[0], false, false);
}

static const struct tv *f_to_unescaped_json_pretty(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    return to_json(x, a[0], true, false);
}

/* ---- byTag / byKey / explode ----------------------------------------- */

static const struct tv *f_by_tag(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    const struct tv *l = a[0];
    struct tv_mapb mb;
    tv_mapb_init(&mb, x->a);
    if (l->kind != TV_NIL) {
        if (l->kind != TV_LIST) fn_fail(x, "byTag: wrong argument type %s", tv_type_name(l));
        for (size_t i = 0; i < l->n; i++) {
            const struct tv *tags = tv_field(l->items[i], "Tags", 4);
            if (!tags) fn_fail(x, "byTag: wrong argument type %s", tv_type_name(l));
            for (size_t t = 0; t < tags->n; t++) {
                struct cn_str tag = S(tags->items[t]);
                const struct tv **slot = tv_mapb_slot(&mb, tag);
                const struct tv *prev = slot ? *slot : NULL;
                size_t pn = prev ? prev->n : 0;
                const struct tv **items = cn_arena_alloc(x->a, (pn + 1) * sizeof *items);
                if (pn) memcpy(items, prev->items, pn * sizeof *items);
                items[pn] = l->items[i];
                tv_mapb_put(&mb, tag, tv_list(x->a, items, pn + 1, "[]interface {}"));
                ex_step(x, 1);
            }
        }
    }
    static const struct tv nil_list = {.kind = TV_LIST, .tname = "[]interface {}"};
    return tv_mapb_done(&mb, &nil_list, "map[string][]interface {}");
}

static const struct tv *pairs_arg(struct ex *x, const struct tv *l, const char *fn)
{
    if (l->kind == TV_NIL) return tv_list(x->a, NULL, 0, "[]*dependency.KeyPair");
    if (l->kind != TV_LIST) fn_fail(x, "%s: wrong argument type %s", fn, tv_type_name(l));
    for (size_t i = 0; i < l->n; i++)
        if (l->items[i]->kind != TV_STRUCT || l->items[i]->type != &tt_keypair)
            fn_fail(x, "%s: wrong argument type %s", fn, tv_type_name(l));
    return l;
}

static const struct tv *f_by_key(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    const struct tv *l = pairs_arg(x, a[0], "byKey");
    static const struct tv nil_pair = {.kind = TV_NIL, .tname = "*dependency.KeyPair"};
    /* build nested builders, then freeze */
    struct tv_mapb top;
    tv_mapb_init(&top, x->a);
    for (size_t i = 0; i < l->n; i++) {
        const struct tv *p = l->items[i];
        struct cn_str key = S(p->items[1]);
        const char *slash = memchr(key.p, '/', key.len);
        if (!slash) continue;
        struct cn_str t = cn_str_make(key.p, (size_t)(slash - key.p));
        struct cn_str rest = cn_str_make(slash + 1, key.len - t.len - 1);
        if (rest.len == 0) continue;
        const struct tv **slot = tv_mapb_slot(&top, t);
        struct tv_mapb *inner;
        if (slot) {
            inner = (struct tv_mapb *)(uintptr_t)*slot;
        } else {
            inner = CN_ARENA_NEW(x->a, struct tv_mapb);
            tv_mapb_init(inner, x->a);
            tv_mapb_put(&top, t, (const struct tv *)(uintptr_t)inner);
        }
        const struct tv **f = cn_arena_alloc(x->a, tt_keypair.n * sizeof *f);
        memcpy(f, p->items, tt_keypair.n * sizeof *f);
        f[1] = tv_str_ref(x->a, rest.p, rest.len);
        tv_mapb_put(inner, rest, tv_struct(x->a, &tt_keypair, f));
        ex_step(x, 1);
    }
    for (size_t i = 0; i < top.n; i++) {
        struct tv_mapb *inner = (struct tv_mapb *)(uintptr_t)top.vals[i];
        top.vals[i] = tv_mapb_done(inner, &nil_pair, "map[string]*dependency.KeyPair");
    }
    static const struct tv nil_map = {.kind = TV_MAP, .tname = "map[string]*dependency.KeyPair"};
    return tv_mapb_done(&top, &nil_map, "map[string]map[string]*dependency.KeyPair");
}

/* explode: nested maps built with builders (a builder pointer stands in
 * for a nested map until the end, marked by the sentinel kind). */
struct xnode {
    struct tv_mapb m;
};

static const struct tv xmark = {.kind = TV_SCRATCH};

static void explode_put(struct ex *x, struct xnode *node, struct cn_str k, const struct tv *v,
                        struct cn_str path)
{
    const char *slash = memchr(k.p, '/', k.len);
    if (!slash) {
        if (k.len) tv_mapb_put(&node->m, k, v);
        return;
    }
    struct cn_str top = cn_str_make(k.p, (size_t)(slash - k.p));
    struct cn_str rest = cn_str_make(slash + 1, k.len - top.len - 1);
    const struct tv **slot = tv_mapb_slot(&node->m, top);
    struct xnode *child;
    if (!slot) {
        child = CN_ARENA_NEW(x->a, struct xnode);
        tv_mapb_init(&child->m, x->a);
        struct tv *holder = CN_ARENA_NEW(x->a, struct tv);
        *holder = xmark;
        holder->scratch = (struct tscratch *)(void *)child;
        tv_mapb_put(&node->m, top, holder);
    } else if ((*slot)->kind == TV_SCRATCH && (*slot)->tname == NULL) {
        child = (struct xnode *)(void *)(*slot)->scratch;
    } else {
        fn_fail(x, "explode: not a map: \"%.*s\": \"%.*s\" already has value \"%.*s\"",
                (int)path.len, path.p, (int)top.len, top.p, (int)(*slot)->n,
                (*slot)->kind == TV_STR ? (*slot)->s : "");
    }
    explode_put(x, child, rest, v, k);
}

static const struct tv *explode_freeze(struct ex *x, struct xnode *node)
{
    for (size_t i = 0; i < node->m.n; i++) {
        const struct tv *v = node->m.vals[i];
        if (v->kind == TV_SCRATCH && v->tname == NULL)
            node->m.vals[i] = explode_freeze(x, (struct xnode *)(void *)v->scratch);
    }
    return tv_mapb_done(&node->m, &tv_invalid, "map[string]interface {}");
}

static const struct tv *f_explode(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    const struct tv *l = pairs_arg(x, a[0], "explode");
    struct xnode root;
    tv_mapb_init(&root.m, x->a);
    for (size_t i = 0; i < l->n; i++) {
        const struct tv *p = l->items[i];
        explode_put(x, &root, S(p->items[1]), p->items[2], S(p->items[1]));
        ex_step(x, 1);
    }
    return explode_freeze(x, &root);
}

/* ---- time ------------------------------------------------------------ */

static void civil(int64_t days, int64_t *y, int *m, int *d)
{
    /* Howard Hinnant's civil_from_days */
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static const char *const months[] = {"January",   "February", "March",    "April",
                                     "May",       "June",     "July",     "August",
                                     "September", "October",  "November", "December"};
static const char *const days_[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                    "Thursday", "Friday", "Saturday"};

static bool lower_at(const char *s, size_t i, size_t n)
{
    return i < n && s[i] >= 'a' && s[i] <= 'z';
}

/* Go's Time.Format in UTC. */
static void go_time_format(struct cn_buf *b, int64_t ns, const char *l, size_t n)
{
    int64_t secs = ns >= 0 ? ns / 1000000000 : (ns - 999999999) / 1000000000;
    int64_t frac = ns - secs * 1000000000;
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int64_t sod = secs - days * 86400;
    int64_t year;
    int mon, mday;
    civil(days, &year, &mon, &mday);
    int hour = (int)(sod / 3600), min = (int)(sod / 60 % 60), sec = (int)(sod % 60);
    int wday = (int)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday */
    int64_t jan1 = days;
    {
        /* day of year: days since Jan 1 of year */
        int64_t y = year - 1;
        int64_t d1 =
            365 * (y - 1969) + (y / 4 - 1969 / 4) - (y / 100 - 1969 / 100) + (y / 400 - 1969 / 400);
        jan1 = days - d1;
    }
    int yday = (int)jan1 + 1;
    for (size_t i = 0; i < n;) {
        const char *p = l + i;
        size_t left = n - i;
#define HAS(s) (left >= sizeof(s) - 1 && !memcmp(p, s, sizeof(s) - 1))
        if (HAS("January")) {
            cn_buf_puts(b, months[mon - 1]);
            i += 7;
            continue;
        }
        if (HAS("Jan") && !lower_at(l, i + 3, n)) {
            cn_buf_put(b, months[mon - 1], 3);
            i += 3;
            continue;
        }
        if (HAS("Monday")) {
            cn_buf_puts(b, days_[wday]);
            i += 6;
            continue;
        }
        if (HAS("Mon") && !lower_at(l, i + 3, n)) {
            cn_buf_put(b, days_[wday], 3);
            i += 3;
            continue;
        }
        if (HAS("MST")) {
            cn_buf_puts(b, "UTC");
            i += 3;
            continue;
        }
        if (HAS("01")) {
            cn_buf_putf(b, "%02d", mon);
            i += 2;
            continue;
        }
        if (HAS("02")) {
            cn_buf_putf(b, "%02d", mday);
            i += 2;
            continue;
        }
        if (HAS("03")) {
            cn_buf_putf(b, "%02d", hour % 12 ? hour % 12 : 12);
            i += 2;
            continue;
        }
        if (HAS("04")) {
            cn_buf_putf(b, "%02d", min);
            i += 2;
            continue;
        }
        if (HAS("05")) {
            cn_buf_putf(b, "%02d", sec);
            i += 2;
            continue;
        }
        if (HAS("06")) {
            cn_buf_putf(b, "%02d", (int)(year % 100));
            i += 2;
            continue;
        }
        if (HAS("002")) {
            cn_buf_putf(b, "%03d", yday);
            i += 3;
            continue;
        }
        if (HAS("15")) {
            cn_buf_putf(b, "%02d", hour);
            i += 2;
            continue;
        }
        if (HAS("1")) {
            cn_buf_putf(b, "%d", mon);
            i += 1;
            continue;
        }
        if (HAS("2006")) {
            cn_buf_putf(b, "%04lld", (long long)year);
            i += 4;
            continue;
        }
        if (HAS("2")) {
            cn_buf_putf(b, "%d", mday);
            i += 1;
            continue;
        }
        if (HAS("_2006")) {
            cn_buf_putf(b, "_%04lld", (long long)year);
            i += 5;
            continue;
        }
        if (HAS("_2")) {
            cn_buf_putf(b, "%2d", mday);
            i += 2;
            continue;
        }
        if (HAS("__2")) {
            cn_buf_putf(b, "%3d", yday);
            i += 3;
            continue;
        }
        if (HAS("3")) {
            cn_buf_putf(b, "%d", hour % 12 ? hour % 12 : 12);
            i += 1;
            continue;
        }
        if (HAS("4")) {
            cn_buf_putf(b, "%d", min);
            i += 1;
            continue;
        }
        if (HAS("5")) {
            cn_buf_putf(b, "%d", sec);
            i += 1;
            continue;
        }
        if (HAS("PM")) {
            cn_buf_puts(b, hour >= 12 ? "PM" : "AM");
            i += 2;
            continue;
        }
        if (HAS("pm")) {
            cn_buf_puts(b, hour >= 12 ? "pm" : "am");
            i += 2;
            continue;
        }
        if (HAS("-070000")) {
            cn_buf_puts(b, "+000000");
            i += 7;
            continue;
        }
        if (HAS("-07:00:00")) {
            cn_buf_puts(b, "+00:00:00");
            i += 9;
            continue;
        }
        if (HAS("-0700")) {
            cn_buf_puts(b, "+0000");
            i += 5;
            continue;
        }
        if (HAS("-07:00")) {
            cn_buf_puts(b, "+00:00");
            i += 6;
            continue;
        }
        if (HAS("-07")) {
            cn_buf_puts(b, "+00");
            i += 3;
            continue;
        }
        if (HAS("Z070000")) {
            cn_buf_putc(b, 'Z');
            i += 7;
            continue;
        }
        if (HAS("Z07:00:00")) {
            cn_buf_putc(b, 'Z');
            i += 9;
            continue;
        }
        if (HAS("Z0700")) {
            cn_buf_putc(b, 'Z');
            i += 5;
            continue;
        }
        if (HAS("Z07:00")) {
            cn_buf_putc(b, 'Z');
            i += 6;
            continue;
        }
        if (HAS("Z07")) {
            cn_buf_putc(b, 'Z');
            i += 3;
            continue;
        }
#undef HAS
        if ((*p == '.' || *p == ',') && left > 1 && (p[1] == '0' || p[1] == '9')) {
            size_t j = 1;
            while (j < left && p[j] == p[1])
                j++;
            if (!(j < left && p[j] >= '0' && p[j] <= '9')) {
                size_t digits = CN_MIN(j - 1, (size_t)9);
                char fr[16];
                snprintf(fr, sizeof fr, "%09lld", (long long)frac);
                fr[digits] = '\0';
                if (p[1] == '9') {
                    size_t k = digits;
                    while (k > 0 && fr[k - 1] == '0')
                        k--;
                    fr[k] = '\0';
                    if (k) {
                        cn_buf_putc(b, *p);
                        cn_buf_puts(b, fr);
                    }
                } else {
                    cn_buf_putc(b, *p);
                    cn_buf_puts(b, fr);
                }
                i += j;
                continue;
            }
        }
        cn_buf_putc(b, *p);
        i++;
    }
}

static const struct tv *f_timestamp(struct ex *x, const struct tv **a, size_t n)
{
    struct cn_buf *b = ex_buf(x);
    if (n == 0) {
        go_time_format(b, x->env->now_ns, "2006-01-02T15:04:05Z07:00", 25);
    } else if (n == 1 && a[0]->n == 4 && !memcmp(a[0]->s, "unix", 4)) {
        int64_t ns = x->env->now_ns;
        cn_buf_putf(b, "%lld",
                    (long long)(ns >= 0 ? ns / 1000000000 : (ns - 999999999) / 1000000000));
    } else if (n == 1) {
        go_time_format(b, x->env->now_ns, a[0]->s, a[0]->n);
    } else {
        cn_buf_putf(b, "timestamp: wrong number of arguments, expected 0 or 1, got %zu", n);
    }
    return str_result(x, b);
}

/* ---- math ------------------------------------------------------------ */

static const struct tv *math_op(struct ex *x, const struct tv *bv, const struct tv *av, char op)
{
    static const char *const names[] = {"add",    "subtract", "multiply", "divide",
                                        "modulo", "minimum",  "maximum"};
    const char *ops = "+-*/%<>";
    const char *name = names[strchr(ops, op) - ops];
    bool ai = av->kind == TV_INT, au = av->kind == TV_UINT, af = av->kind == TV_FLOAT;
    bool bi = bv->kind == TV_INT, bu = bv->kind == TV_UINT, bf = bv->kind == TV_FLOAT;
    if (!ai && !au && !af) fn_fail(x, "%s: unknown type for %s", name, tv_type_name(av));
    if (!bi && !bu && !bf) fn_fail(x, "%s: unknown type for %s", name, tv_type_name(bv));
    if (af || bf) {
        double a = af ? av->f : ai ? (double)av->i : (double)av->u;
        double b = bf ? bv->f : bi ? (double)bv->i : (double)bv->u;
        double r;
        switch (op) {
        case '+':
            r = a + b;
            break;
        case '-':
            r = a - b;
            break;
        case '*':
            r = a * b;
            break;
        case '/':
            r = a / b;
            break;
        case '%':
            r = fmod(a, b);
            break;
        case '<':
            r = a < b ? a : b;
            break;
        default:
            r = a > b ? a : b;
            break;
        }
        return tv_float(x->a, r);
    }
    if (ai) {
        int64_t a = av->i, b = bi ? bv->i : (int64_t)bv->u, r;
        if ((op == '/' || op == '%') && b == 0) fn_fail(x, "runtime error: integer divide by zero");
        switch (op) {
        case '+':
            r = (int64_t)((uint64_t)a + (uint64_t)b);
            break;
        case '-':
            r = (int64_t)((uint64_t)a - (uint64_t)b);
            break;
        case '*':
            r = (int64_t)((uint64_t)a * (uint64_t)b);
            break;
        case '/':
            r = (a == INT64_MIN && b == -1) ? a : a / b;
            break;
        case '%':
            r = (a == INT64_MIN && b == -1) ? 0 : a % b;
            break;
        case '<':
            r = a < b ? a : b;
            break;
        default:
            r = a > b ? a : b;
            break;
        }
        return tv_int(x->a, r);
    }
    uint64_t a = av->u, b = bu ? bv->u : (uint64_t)bv->i, r;
    if ((op == '/' || op == '%') && b == 0) fn_fail(x, "runtime error: integer divide by zero");
    switch (op) {
    case '+':
        r = a + b;
        break;
    case '-':
        r = a - b;
        break;
    case '*':
        r = a * b;
        break;
    case '/':
        r = a / b;
        break;
    case '%':
        r = a % b;
        break;
    case '<':
        r = a < b ? a : b;
        break;
    default:
        r = a > b ? a : b;
        break;
    }
    return tv_uint(x->a, r);
}

#define MATH(fname, op)                                                                            \
    static const struct tv *fname(struct ex *x, const struct tv **a, size_t n)                     \
    {                                                                                              \
        (void)n;                                                                                   \
        return math_op(x, a[0], a[1], op);                                                         \
    }
MATH(f_add, '+')
MATH(f_subtract, '-')
MATH(f_multiply, '*')
MATH(f_divide, '/')
MATH(f_modulo, '%')
MATH(f_minimum, '<')
MATH(f_maximum, '>')

static int64_t loop_arg(struct ex *x, const struct tv *v)
{
    if (v->kind == TV_INT) return v->i;
    if (v->kind == TV_UINT) return (int64_t)v->u;
    if (v->kind == TV_STR) {
        int64_t i = 0;
        if (v->n && cn_parse_i64(S(v), &i))
            fn_fail(x, "parseInt: strconv.ParseInt: parsing \"%.*s\": invalid syntax", (int)v->n,
                    v->s);
        return i;
    }
    fn_fail(x, "loop: bad argument type: %s", tv_type_name(v));
}

static const struct tv *f_loop(struct ex *x, const struct tv **a, size_t n)
{
    if (n != 1 && n != 2)
        fn_fail(x, "loop: wrong number of arguments, expected 1 or 2, but got %zu", n);
    int64_t from = n == 2 ? loop_arg(x, a[0]) : 0, to = loop_arg(x, a[n - 1]);
    if (to <= from) return tv_list(x->a, NULL, 0, "[]int64");
    if ((uint64_t)to - (uint64_t)from > TMPL_STEPS_MAX) fn_fail(x, "loop: range too large");
    size_t cnt = (size_t)(to - from);
    ex_step(x, cnt);
    const struct tv **items = cn_arena_alloc(x->a, cnt * sizeof *items);
    for (size_t i = 0; i < cnt; i++)
        items[i] = tv_int(x->a, from + (int64_t)i);
    return tv_list(x->a, items, cnt, "[]int64");
}

/* ---- base64 ---------------------------------------------------------- */

static const struct tv *b64(struct ex *x, const struct tv *s, bool url, bool enc)
{
    if (enc) {
        size_t len = cn_base64_encoded_len(s->n);
        char *out = cn_arena_alloc(x->a, len + 1);
        cn_base64_encode(s->s, s->n, out);
        out[len] = '\0';
        if (url)
            for (size_t i = 0; i < len; i++)
                out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
        return tv_str_ref(x->a, out, len);
    }
    char *in = cn_arena_strndup(x->a, s->s, s->n);
    if (url)
        for (size_t i = 0; i < s->n; i++)
            in[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
    char *out = cn_arena_alloc(x->a, cn_base64_decoded_max(s->n) + 1);
    long len = cn_base64_decode(in, s->n, out);
    if (len < 0) fn_fail(x, "%s: illegal base64 data", url ? "base64URLDecode" : "base64Decode");
    out[len] = '\0';
    return tv_str_ref(x->a, out, (size_t)len);
}

static const struct tv *f_b64enc(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    return b64(x, a[0], false, true);
}

static const struct tv *f_b64dec(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    return b64(x, a[0], false, false);
}

static const struct tv *f_b64urlenc(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    return b64(x, a[0], true, true);
}

static const struct tv *f_b64urldec(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    return b64(x, a[0], true, false);
}

/* ---- regexp ---------------------------------------------------------- */

/* RE2 syntax to POSIX ERE (glibc, with its GNU \w \s \b operators):
 * \d and friends, (?:...) and (?P<name>...) groups, (?i), \A \z. Group
 * numbers are mapped back so $1 means what it means to Go. */
struct rx {
    regex_t re;
    int map[32]; /* Go group number -> POSIX group number */
    char *names[32];
    int ngroups;
};

/* RE2's limits before glibc sees the pattern: no nested repetition
 * operators (`a**`), counted repetitions nesting to at most 1000, a bounded
 * size; glibc would otherwise build huge automata from them. */
static bool rx_check(const char *s, size_t n, char *err, size_t errlen)
{
    enum { P_NONE, P_ATOM, P_GROUP, P_QUANT } prev = P_NONE;
    int64_t prod[64] = {1}, last_group = 1;
    int depth = 0;
    if (n > 8192) {
        snprintf(err, errlen, "expression too large");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\') {
            i++;
            prev = P_ATOM;
        } else if (c == '[') {
            size_t j = i + 1;
            if (j < n && s[j] == '^') j++;
            if (j < n && s[j] == ']') j++;
            while (j < n && s[j] != ']')
                j += s[j] == '\\' ? 2 : 1;
            i = j;
            prev = P_ATOM;
        } else if (c == '(') {
            if (depth == 63) {
                snprintf(err, errlen, "expression nests too deeply");
                return false;
            }
            prod[++depth] = 1;
            if (i + 1 < n && s[i + 1] == '?') {
                while (i + 1 < n && s[i + 1] != ':' && s[i + 1] != '>' && s[i + 1] != ')')
                    i++;
                if (i + 1 < n && s[i + 1] == ')') { /* (?i) */
                    i++;
                    depth--;
                } else if (i + 1 < n) {
                    i++;
                }
            }
            prev = P_NONE;
        } else if (c == ')') {
            if (depth > 0) {
                last_group = prod[depth--];
                if (last_group > prod[depth]) prod[depth] = last_group;
            }
            prev = P_GROUP;
        } else if (c == '*' || c == '+' || c == '?' || c == '{') {
            int64_t lo = 0, hi = 0;
            size_t j = i;
            bool counted = false;
            if (c == '{') {
                j = i + 1;
                size_t d0 = j;
                while (j < n && s[j] >= '0' && s[j] <= '9' && lo <= 100000)
                    lo = lo * 10 + (s[j++] - '0');
                bool ok = j > d0;
                hi = lo;
                if (ok && j < n && s[j] == ',') {
                    j++;
                    size_t d1 = j;
                    hi = 0;
                    while (j < n && s[j] >= '0' && s[j] <= '9' && hi <= 100000)
                        hi = hi * 10 + (s[j++] - '0');
                    if (j == d1) hi = lo;
                }
                if (!ok || j >= n || s[j] != '}') {
                    prev = P_ATOM; /* a literal '{' */
                    continue;
                }
                counted = true;
            }
            if (prev == P_QUANT) {
                snprintf(err, errlen, "invalid nested repetition operator: `%.*s`",
                         (int)CN_MIN(j - i + 2, (size_t)20), s + i - 1);
                return false;
            }
            if (prev == P_NONE) {
                snprintf(err, errlen, "missing argument to repetition operator: `%c`", c);
                return false;
            }
            if (counted) {
                int64_t p = (prev == P_GROUP ? last_group : 1) * (hi > lo ? hi : lo);
                if (hi > 1000 || lo > 1000 || p > 1000) {
                    snprintf(err, errlen, "invalid repeat count: `%.*s`", (int)(j - i + 1), s + i);
                    return false;
                }
                if (p > prod[depth]) prod[depth] = p;
                i = j;
            }
            prev = P_QUANT;
        } else if (c == '|') {
            prev = P_NONE;
        } else {
            prev = P_ATOM;
        }
    }
    return true;
}

static bool rx_compile(struct ex *x, const char *src, size_t n, struct rx *r, char *err,
                       size_t errlen)
{
    if (!rx_check(src, n, err, errlen)) return false;
    struct cn_buf *b = ex_buf(x);
    int flags = REG_EXTENDED;
    int posix = 0;
    memset(r->map, 0, sizeof r->map);
    memset(r->names, 0, sizeof r->names);
    r->ngroups = 0;
    bool in_class = false;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        if (c == '\\' && i + 1 < n) {
            char e = src[++i];
            const char *rep = NULL;
            switch (e) {
            case 'd':
                rep = in_class ? "0-9" : "[0-9]";
                break;
            case 'D':
                rep = in_class ? NULL : "[^0-9]";
                break;
            case 'w':
                rep = in_class ? "0-9A-Za-z_" : "[0-9A-Za-z_]";
                break;
            case 'W':
                rep = in_class ? NULL : "[^0-9A-Za-z_]";
                break;
            case 's':
                rep = in_class ? " \t\n\f\r" : "[ \t\n\f\r]";
                break;
            case 'S':
                rep = in_class ? NULL : "[^ \t\n\f\r]";
                break;
            case 'A':
                rep = "^";
                break;
            case 'z':
                rep = "$";
                break;
            case 'n':
                rep = "\n";
                break;
            case 't':
                rep = "\t";
                break;
            case 'r':
                rep = "\r";
                break;
            case 'f':
                rep = "\f";
                break;
            case 'b':
            case 'B':
                rep = in_class ? NULL : (e == 'b' ? "\\b" : "\\B");
                break;
            default:
                if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9')) {
                    snprintf(err, errlen, "unsupported escape sequence: `\\%c`", e);
                    goto fail;
                }
                if (in_class || !e || !strchr(".[]()*+?{}|^$\\", e)) {
                    char lit[3] = {e, 0, 0};
                    if (in_class && (e == ']' || e == '\\' || e == '^' || e == '-')) {
                        snprintf(err, errlen, "unsupported escape inside a character class: `\\%c`",
                                 e);
                        goto fail;
                    }
                    cn_buf_puts(b, lit);
                    continue;
                }
                cn_buf_putc(b, '\\');
                cn_buf_putc(b, e);
                continue;
            }
            if (!rep) {
                snprintf(err, errlen, "unsupported escape inside a character class: `\\%c`", e);
                goto fail;
            }
            cn_buf_puts(b, rep);
            continue;
        }
        if (in_class) {
            if (c == ']' && !(i > 0 && (src[i - 1] == '[' ||
                                        (src[i - 1] == '^' && i > 1 && src[i - 2] == '['))))
                in_class = false;
            cn_buf_putc(b, c);
            continue;
        }
        if (c == '[') {
            in_class = true;
            cn_buf_putc(b, c);
            if (i + 1 < n && src[i + 1] == '^') cn_buf_putc(b, src[++i]);
            if (i + 1 < n && src[i + 1] == ']') cn_buf_putc(b, src[++i]);
            continue;
        }
        if ((c == '*' || c == '+' || c == '?' || c == '}') && i + 1 < n && src[i + 1] == '?') {
            snprintf(err, errlen, "non-greedy repetition (`%c?`) is not supported", c);
            goto fail;
        }
        if (c == '(') {
            if (i + 1 < n && src[i + 1] == '?') {
                if (i + 2 < n && src[i + 2] == ':') {
                    posix++;
                    cn_buf_putc(b, '(');
                    i += 2;
                    continue;
                }
                if (i + 3 < n && src[i + 2] == 'i' && src[i + 3] == ')' && b->len == 0) {
                    flags |= REG_ICASE;
                    i += 3;
                    continue;
                }
                size_t k = i + 2;
                if (k < n && src[k] == 'P') k++;
                if (k < n && src[k] == '<') {
                    const char *gt = memchr(src + k, '>', n - k);
                    if (gt) {
                        posix++;
                        if (r->ngroups < 31) {
                            r->ngroups++;
                            r->map[r->ngroups] = posix;
                            r->names[r->ngroups] =
                                cn_arena_strndup(x->a, src + k + 1, (size_t)(gt - src - k - 1));
                        }
                        cn_buf_putc(b, '(');
                        i = (size_t)(gt - src);
                        continue;
                    }
                }
                snprintf(err, errlen, "invalid or unsupported Perl syntax: `%.*s`",
                         (int)CN_MIN(n - i, 4), src + i);
                goto fail;
            }
            posix++;
            if (r->ngroups < 31) {
                r->ngroups++;
                r->map[r->ngroups] = posix;
            }
        }
        cn_buf_putc(b, c);
    }
    int rc = regcomp(&r->re, b->data ? b->data : "", flags);
    if (rc) {
        regerror(rc, &r->re, err, errlen);
        regfree(&r->re);
        goto fail;
    }
    cn_buf_release(b);
    return true;
fail:
    cn_buf_release(b);
    return false;
}

static struct rx *rx_get(struct ex *x, const struct tv *re, const char *fn)
{
    struct rx *r = CN_ARENA_NEW(x->a, struct rx);
    char err[200];
    if (!rx_compile(x, re->s, re->n, r, err, sizeof err))
        fn_fail(x, "%s: error parsing regexp: %s: `%.*s`", fn, err, (int)CN_MIN(re->n, 200), re->s);
    return r;
}

static const struct tv *f_regex_match(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    struct rx *r = rx_get(x, a[0], "regexMatch");
    char *s = cn_arena_strndup(x->a, a[1]->s, a[1]->n);
    bool m = regexec(&r->re, s, 0, NULL, 0) == 0;
    regfree(&r->re);
    ex_step(x, 1 + a[1]->n / 64);
    return tv_bool(m);
}

/* Go's Regexp.Expand template: $1 ${1} $name ${name} $$. */
static void expand(struct cn_buf *b, struct cn_str tmpl, const char *s, const regmatch_t *m,
                   const struct rx *r)
{
    for (size_t i = 0; i < tmpl.len; i++) {
        char c = tmpl.p[i];
        if (c != '$' || i + 1 >= tmpl.len) {
            cn_buf_putc(b, c);
            continue;
        }
        if (tmpl.p[i + 1] == '$') {
            cn_buf_putc(b, '$');
            i++;
            continue;
        }
        size_t start = i + 1, end;
        bool brace = tmpl.p[start] == '{';
        if (brace) start++;
        end = start;
        while (end < tmpl.len && (isalnum((unsigned char)tmpl.p[end]) || tmpl.p[end] == '_'))
            end++;
        if (end == start || (brace && (end >= tmpl.len || tmpl.p[end] != '}'))) {
            cn_buf_putc(b, c); /* malformed: keep the $ */
            continue;
        }
        int g = -1;
        bool num = true;
        for (size_t k = start; k < end; k++)
            if (!isdigit((unsigned char)tmpl.p[k])) num = false;
        if (num) {
            g = 0;
            for (size_t k = start; k < end && g < 1000; k++)
                g = g * 10 + (tmpl.p[k] - '0');
        } else {
            for (int k = 1; k <= r->ngroups; k++)
                if (r->names[k] && strlen(r->names[k]) == end - start &&
                    !memcmp(r->names[k], tmpl.p + start, end - start))
                    g = k;
        }
        if (g == 0 || (g > 0 && g <= r->ngroups)) {
            int pg = g == 0 ? 0 : r->map[g];
            if (pg <= 32 && m[pg].rm_so >= 0)
                cn_buf_put(b, s + m[pg].rm_so, (size_t)(m[pg].rm_eo - m[pg].rm_so));
        }
        i = brace ? end : end - 1;
    }
}

static const struct tv *f_regex_replace_all(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    struct rx *r = rx_get(x, a[0], "regexReplaceAll");
    const char *s = cn_arena_strndup(x->a, a[2]->s, a[2]->n);
    size_t len = strlen(s);
    regmatch_t m[33];
    struct cn_buf *b = ex_buf(x);
    size_t search = 0, last_end = 0;
    while (search <= len) {
        if (regexec(&r->re, s + search, 33, m, search ? REG_NOTBOL : 0) != 0) break;
        for (int k = 0; k < 33; k++)
            if (m[k].rm_so >= 0) m[k].rm_so += (regoff_t)search, m[k].rm_eo += (regoff_t)search;
        size_t ms = (size_t)m[0].rm_so, me = (size_t)m[0].rm_eo;
        cn_buf_put(b, s + last_end, ms - last_end);
        if (me > last_end || ms == 0) {
            /* regexec reports offsets relative to the whole string now */
            expand(b, S(a[1]), s, m, r);
        }
        last_end = me;
        size_t w = search < len ? rune_len(s + search, len - search) : 1;
        if (search + w > me)
            search += w;
        else
            search = me;
        ex_step(x, 1);
    }
    cn_buf_put(b, s + last_end, len - last_end);
    regfree(&r->re);
    return str_result(x, b);
}

/* ---- executeTemplate, scratch ---------------------------------------- */

static const struct tv *f_execute_template(struct ex *x, const struct tv **a, size_t n)
{
    if (n > 2)
        fn_fail(x, "executeTemplate: wrong number of arguments, expected 1 or 2, but got %zu", n);
    /* render at the end of the output, then take those bytes back out */
    size_t mark = x->out->len;
    const char *saved_fn = x->fname;
    const struct node *at = x->at;
    ex_template(x, cn_arena_strndup(x->a, a[0]->s, a[0]->n), n == 2 ? a[1] : &tv_nil);
    x->fname = saved_fn;
    x->at = at;
    const struct tv *v = tv_str(x->a, x->out->data ? x->out->data + mark : "", x->out->len - mark);
    x->out->len = mark;
    if (x->out->data) x->out->data[mark] = '\0';
    return v;
}

static const struct tv *f_scratch(struct ex *x, const struct tv **a, size_t n)
{
    (void)a, (void)n;
    struct tv *v = CN_ARENA_NEW(x->a, struct tv);
    v->kind = TV_SCRATCH;
    v->tname = "*template.Scratch";
    v->scratch = x->scratch;
    return v;
}

const struct tfunc tfuncs_ct[] = {
    {"add", f_add, 2, 2, {0}, A_ANY, false, false},
    {"base64Decode", f_b64dec, 1, 1, {A_STR}, A_ANY, false, false},
    {"base64Encode", f_b64enc, 1, 1, {A_STR}, A_ANY, false, false},
    {"base64URLDecode", f_b64urldec, 1, 1, {A_STR}, A_ANY, false, false},
    {"base64URLEncode", f_b64urlenc, 1, 1, {A_STR}, A_ANY, false, false},
    {"byKey", f_by_key, 1, 1, {0}, A_ANY, false, false},
    {"byTag", f_by_tag, 1, 1, {0}, A_ANY, false, false},
    {"contains", f_contains, 2, 2, {0}, A_ANY, false, false},
    {"containsAll", f_contains_all, 2, 2, {0}, A_ANY, false, false},
    {"containsAny", f_contains_any, 2, 2, {0}, A_ANY, false, false},
    {"containsNone", f_contains_none, 2, 2, {0}, A_ANY, false, false},
    {"containsNotAll", f_contains_not_all, 2, 2, {0}, A_ANY, false, false},
    {"divide", f_divide, 2, 2, {0}, A_ANY, false, false},
    {"env", f_env, 1, 1, {A_STR}, A_ANY, false, false},
    {"envOrDefault", f_env_or_default, 2, 2, {A_STR, A_STR}, A_ANY, false, false},
    {"executeTemplate", f_execute_template, 1, -1, {A_STR}, A_ANY, false, false},
    {"explode", f_explode, 1, 1, {0}, A_ANY, false, false},
    {"in", f_in, 2, 2, {0}, A_ANY, false, false},
    {"indent", f_indent, 2, 2, {A_INT, A_STR}, A_ANY, false, false},
    {"join", f_join, 2, 2, {A_STR, A_ANY}, A_ANY, false, false},
    {"loop", f_loop, 0, -1, {0}, A_ANY, false, false},
    {"maximum", f_maximum, 2, 2, {0}, A_ANY, false, false},
    {"minimum", f_minimum, 2, 2, {0}, A_ANY, false, false},
    {"modulo", f_modulo, 2, 2, {0}, A_ANY, false, false},
    {"multiply", f_multiply, 2, 2, {0}, A_ANY, false, false},
    {"mustEnv", f_must_env, 1, 1, {A_STR}, A_ANY, false, false},
    {"parseBool", f_parse_bool, 1, 1, {A_STR}, A_ANY, false, false},
    {"parseFloat", f_parse_float, 1, 1, {A_STR}, A_ANY, false, false},
    {"parseInt", f_parse_int, 1, 1, {A_STR}, A_ANY, false, false},
    {"parseJSON", f_parse_json, 1, 1, {A_STR}, A_ANY, false, false},
    {"parseUint", f_parse_uint, 1, 1, {A_STR}, A_ANY, false, false},
    {"regexMatch", f_regex_match, 2, 2, {A_STR, A_STR}, A_ANY, false, false},
    {"regexReplaceAll", f_regex_replace_all, 3, 3, {A_STR, A_STR, A_STR}, A_ANY, false, false},
    {"replaceAll", f_replace_all, 3, 3, {A_STR, A_STR, A_STR}, A_ANY, false, false},
    {"scratch", f_scratch, 0, 0, {0}, A_ANY, false, false},
    {"split", f_split, 2, 2, {A_STR, A_STR}, A_ANY, false, false},
    {"splitToMap", f_split_to_map, 3, 3, {A_STR, A_STR, A_STR}, A_ANY, false, false},
    {"subtract", f_subtract, 2, 2, {0}, A_ANY, false, false},
    {"timestamp", f_timestamp, 0, -1, {0}, A_STR, false, false},
    {"toJSON", f_to_json, 1, 1, {0}, A_ANY, false, false},
    {"toJSONPretty", f_to_json_pretty, 1, 1, {0}, A_ANY, false, false},
    {"toLower", f_to_lower, 1, 1, {A_STR}, A_ANY, false, false},
    {"toTitle", f_to_title, 1, 1, {A_STR}, A_ANY, false, false},
    {"toUnescapedJSON", f_to_unescaped_json, 1, 1, {0}, A_ANY, false, false},
    {"toUnescapedJSONPretty", f_to_unescaped_json_pretty, 1, 1, {0}, A_ANY, false, false},
    {"toUpper", f_to_upper, 1, 1, {A_STR}, A_ANY, false, false},
    {"trim", f_trim, 2, 2, {A_STR, A_STR}, A_ANY, false, false},
    {"trimPrefix", f_trim_prefix, 2, 2, {A_STR, A_STR}, A_ANY, false, false},
    {"trimSpace", f_trim_space, 1, 1, {A_STR}, A_ANY, false, false},
    {"trimSuffix", f_trim_suffix, 2, 2, {A_STR, A_STR}, A_ANY, false, false},
    {NULL, NULL, 0, 0, {0}, 0, false, false},
};
