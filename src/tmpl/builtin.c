/*
 * builtin.c - Go text/template's predefined functions (funcs.go): and, or,
 * not, len, index, slice, print, printf, println, eq, ne, lt, le, gt, ge,
 * html, js, urlquery; and the lookup over every function table.
 */
#include <string.h>

#include "lib/cn_common.h"
#include "tmpl/tmpl_int.h"

static const struct tv *f_not(struct ex *x, const struct tv **a, size_t n)
{
    (void)x, (void)n;
    return tv_bool(!tv_truth(a[0]));
}

static const struct tv *f_len(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    const struct tv *v = a[0];
    switch (v->kind) {
    case TV_STR:
    case TV_LIST:
    case TV_MAP:
        return tv_int(x->a, (int64_t)v->n);
    case TV_INVALID:
        fn_fail(x, "reflect: call of reflect.Value.Type on zero Value");
    case TV_NIL:
        fn_fail(x, "len of nil pointer");
    default:
        fn_fail(x, "len of type %s", tv_type_name(v));
    }
}

static int64_t index_arg(struct ex *x, const struct tv *i, size_t cap)
{
    int64_t v;
    if (i->kind == TV_INT)
        v = i->i;
    else if (i->kind == TV_UINT)
        v = i->u > INT64_MAX ? -1 : (int64_t)i->u;
    else if (i->kind == TV_INVALID || i->kind == TV_NIL)
        fn_fail(x, "cannot index slice/array with nil");
    else
        fn_fail(x, "cannot index slice/array with type %s", tv_type_name(i));
    if (v < 0 || (uint64_t)v >= cap) fn_fail(x, "index out of range: %lld", (long long)v);
    return v;
}

static const struct tv *f_index(struct ex *x, const struct tv **a, size_t n)
{
    const struct tv *item = a[0];
    if (item->kind == TV_INVALID) fn_fail(x, "index of untyped nil");
    for (size_t k = 1; k < n; k++) {
        const struct tv *i = a[k];
        switch (item->kind) {
        case TV_NIL:
            fn_fail(x, "index of nil pointer");
        case TV_LIST:
            item = item->items[index_arg(x, i, item->n)];
            break;
        case TV_STR:
            item = tv_uint(x->a, (unsigned char)item->s[index_arg(x, i, item->n)]);
            break;
        case TV_MAP: {
            if (i->kind != TV_STR) {
                if (i->kind == TV_INVALID || i->kind == TV_NIL) return item->map->zero;
                fn_fail(x, "value has type %s; should be string", tv_type_name(i));
            }
            const struct tv *v = tv_map_get(item, cn_str_make(i->s, i->n));
            item = v ? v : item->map->zero;
            break;
        }
        default:
            fn_fail(x, "can't index item of type %s", tv_type_name(item));
        }
    }
    return item;
}

static const struct tv *f_slice(struct ex *x, const struct tv **a, size_t n)
{
    const struct tv *item = a[0];
    if (item->kind == TV_INVALID) fn_fail(x, "slice of untyped nil");
    if (n > 4) fn_fail(x, "too many slice indexes: %zu", n - 1);
    if (item->kind != TV_STR && item->kind != TV_LIST)
        fn_fail(x, "can't slice item of type %s", tv_type_name(item));
    if (item->kind == TV_STR && n == 4) fn_fail(x, "cannot 3-index slice a string");
    int64_t idx[3] = {0, (int64_t)item->n, (int64_t)item->n};
    for (size_t k = 1; k < n; k++)
        idx[k - 1] = index_arg(x, a[k], item->n + 1);
    if (idx[0] > idx[1])
        fn_fail(x, "invalid slice index: %lld > %lld", (long long)idx[0], (long long)idx[1]);
    if (n == 4 && idx[1] > idx[2])
        fn_fail(x, "invalid slice index: %lld > %lld", (long long)idx[1], (long long)idx[2]);
    if (item->kind == TV_STR) return tv_str_ref(x->a, item->s + idx[0], (size_t)(idx[1] - idx[0]));
    if (idx[1] == idx[0]) return tv_list(x->a, NULL, 0, item->tname);
    return tv_list(x->a, item->items + idx[0], (size_t)(idx[1] - idx[0]), item->tname);
}

static const struct tv *sprint_value(struct ex *x, const struct tv **a, size_t n, int how)
{
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    if (how == 'f')
        tv_sprintf(&b, a[0]->s, a[0]->n, a + 1, n - 1);
    else
        tv_sprint(&b, a, n, how == 'l');
    const struct tv *v = tv_str(x->a, b.data ? b.data : "", b.len);
    size_t len = b.len;
    cn_buf_release(&b);
    ex_step(x, 1 + len / 256);
    return v;
}

static const struct tv *f_print(struct ex *x, const struct tv **a, size_t n)
{
    return sprint_value(x, a, n, 's');
}

static const struct tv *f_printf(struct ex *x, const struct tv **a, size_t n)
{
    return sprint_value(x, a, n, 'f');
}

static const struct tv *f_println(struct ex *x, const struct tv **a, size_t n)
{
    return sprint_value(x, a, n, 'l');
}

/* ---- comparison ------------------------------------------------------ */

enum bkind { K_INVALID, K_BOOL, K_INT, K_UINT, K_FLOAT, K_STRING, K_OTHER };

static enum bkind basic_kind(const struct tv *v)
{
    switch (v->kind) {
    case TV_BOOL:
        return K_BOOL;
    case TV_INT:
        return K_INT;
    case TV_UINT:
        return K_UINT;
    case TV_FLOAT:
        return K_FLOAT;
    case TV_STR:
        return K_STRING;
    case TV_INVALID:
        return K_INVALID;
    default:
        return K_OTHER;
    }
}

static bool is_nil(const struct tv *v)
{
    return v->kind == TV_NIL || v->kind == TV_INVALID;
}

/* One eq comparison; *err when the kinds cannot be compared. */
static bool eq1(struct ex *x, const struct tv *a, const struct tv *b)
{
    enum bkind k1 = basic_kind(a), k2 = basic_kind(b);
    if (k1 != k2) {
        if (k1 == K_INT && k2 == K_UINT) return a->i >= 0 && (uint64_t)a->i == b->u;
        if (k1 == K_UINT && k2 == K_INT) return b->i >= 0 && a->u == (uint64_t)b->i;
        if (k1 != K_INVALID && k2 != K_INVALID) {
            if (is_nil(a) || is_nil(b)) return is_nil(a) == is_nil(b);
            fn_fail(x, "incompatible types for comparison");
        }
        return false;
    }
    switch (k1) {
    case K_BOOL:
        return a->b == b->b;
    case K_INT:
        return a->i == b->i;
    case K_UINT:
        return a->u == b->u;
    case K_FLOAT:
        return a->f == b->f;
    case K_STRING:
        return a->n == b->n && !memcmp(a->s, b->s, a->n);
    case K_INVALID:
        return true;
    default:
        if (is_nil(a) || is_nil(b)) return is_nil(a) == is_nil(b);
        if (a->kind == TV_LIST || a->kind == TV_MAP || b->kind == TV_LIST || b->kind == TV_MAP)
            fn_fail(x, "non-comparable type %s", tv_type_name(b));
        return a == b;
    }
}

bool tv_equal(struct ex *x, const struct tv *a, const struct tv *b)
{
    return eq1(x, a, b);
}

static const struct tv *f_eq(struct ex *x, const struct tv **a, size_t n)
{
    if (n < 2) fn_fail(x, "missing argument for comparison");
    for (size_t i = 1; i < n; i++)
        if (eq1(x, a[0], a[i])) return &tv_true;
    return &tv_false;
}

static const struct tv *f_ne(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    return tv_bool(!eq1(x, a[0], a[1]));
}

static bool lt1(struct ex *x, const struct tv *a, const struct tv *b)
{
    enum bkind k1 = basic_kind(a), k2 = basic_kind(b);
    if (k1 == K_INVALID || k1 == K_OTHER || k2 == K_INVALID || k2 == K_OTHER)
        fn_fail(x, "invalid type for comparison");
    if (k1 != k2) {
        if (k1 == K_INT && k2 == K_UINT) return a->i < 0 || (uint64_t)a->i < b->u;
        if (k1 == K_UINT && k2 == K_INT) return b->i >= 0 && a->u < (uint64_t)b->i;
        fn_fail(x, "incompatible types for comparison");
    }
    switch (k1) {
    case K_BOOL:
        fn_fail(x, "invalid type for comparison");
    case K_INT:
        return a->i < b->i;
    case K_UINT:
        return a->u < b->u;
    case K_FLOAT:
        return a->f < b->f;
    default: {
        int c = memcmp(a->s, b->s, CN_MIN(a->n, b->n));
        return c < 0 || (c == 0 && a->n < b->n);
    }
    }
}

static const struct tv *f_lt(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    return tv_bool(lt1(x, a[0], a[1]));
}

static const struct tv *f_le(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    return tv_bool(lt1(x, a[0], a[1]) || eq1(x, a[0], a[1]));
}

static const struct tv *f_gt(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    return tv_bool(!(lt1(x, a[0], a[1]) || eq1(x, a[0], a[1])));
}

static const struct tv *f_ge(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    return tv_bool(!lt1(x, a[0], a[1]));
}

/* ---- escapers -------------------------------------------------------- */

/* evalArgs: one string argument as is, else fmt.Sprint of them all. */
static void eval_args(struct cn_buf *b, const struct tv **a, size_t n)
{
    if (n == 1 && a[0]->kind == TV_STR)
        cn_buf_put(b, a[0]->s, a[0]->n);
    else
        tv_sprint(b, a, n, false);
}

static const struct tv *f_html(struct ex *x, const struct tv **a, size_t n)
{
    struct cn_buf in, out;
    cn_buf_init(&in, CN_BUF_UNLIMITED);
    cn_buf_init(&out, CN_BUF_UNLIMITED);
    eval_args(&in, a, n);
    for (size_t i = 0; i < in.len; i++) {
        switch (in.data[i]) {
        case '"':
            cn_buf_puts(&out, "&#34;");
            break;
        case '\'':
            cn_buf_puts(&out, "&#39;");
            break;
        case '&':
            cn_buf_puts(&out, "&amp;");
            break;
        case '<':
            cn_buf_puts(&out, "&lt;");
            break;
        case '>':
            cn_buf_puts(&out, "&gt;");
            break;
        case '\0':
            cn_buf_puts(&out, "\xEF\xBF\xBD");
            break;
        default:
            cn_buf_putc(&out, in.data[i]);
        }
    }
    const struct tv *v = tv_str(x->a, out.data ? out.data : "", out.len);
    cn_buf_release(&in);
    cn_buf_release(&out);
    return v;
}

static const struct tv *f_js(struct ex *x, const struct tv **a, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    struct cn_buf in, out;
    cn_buf_init(&in, CN_BUF_UNLIMITED);
    cn_buf_init(&out, CN_BUF_UNLIMITED);
    eval_args(&in, a, n);
    for (size_t i = 0; i < in.len; i++) {
        unsigned char c = (unsigned char)in.data[i];
        switch (c) {
        case '\\':
            cn_buf_puts(&out, "\\\\");
            break;
        case '\'':
            cn_buf_puts(&out, "\\'");
            break;
        case '"':
            cn_buf_puts(&out, "\\\"");
            break;
        case '<':
            cn_buf_puts(&out, "\\u003C");
            break;
        case '>':
            cn_buf_puts(&out, "\\u003E");
            break;
        case '&':
            cn_buf_puts(&out, "\\u0026");
            break;
        case '=':
            cn_buf_puts(&out, "\\u003D");
            break;
        default:
            if (c < 0x20) {
                cn_buf_puts(&out, "\\u00");
                cn_buf_putc(&out, hex[c >> 4]);
                cn_buf_putc(&out, hex[c & 15]);
            } else {
                cn_buf_putc(&out, (char)c);
            }
        }
    }
    const struct tv *v = tv_str(x->a, out.data ? out.data : "", out.len);
    cn_buf_release(&in);
    cn_buf_release(&out);
    return v;
}

static const struct tv *f_urlquery(struct ex *x, const struct tv **a, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    struct cn_buf in, out;
    cn_buf_init(&in, CN_BUF_UNLIMITED);
    cn_buf_init(&out, CN_BUF_UNLIMITED);
    eval_args(&in, a, n);
    for (size_t i = 0; i < in.len; i++) {
        unsigned char c = (unsigned char)in.data[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            (c && strchr("-_.~", c))) {
            cn_buf_putc(&out, (char)c);
        } else if (c == ' ') {
            cn_buf_putc(&out, '+');
        } else {
            cn_buf_putc(&out, '%');
            cn_buf_putc(&out, hex[c >> 4]);
            cn_buf_putc(&out, hex[c & 15]);
        }
    }
    const struct tv *v = tv_str(x->a, out.data ? out.data : "", out.len);
    cn_buf_release(&in);
    cn_buf_release(&out);
    return v;
}

const struct tfunc tfuncs_builtin[] = {
    {"and", NULL, 1, -1, {0}, A_ANY, true, true},
    {"eq", f_eq, 1, -1, {A_ANY}, A_ANY, false, true},
    {"ge", f_ge, 2, 2, {0}, A_ANY, false, true},
    {"gt", f_gt, 2, 2, {0}, A_ANY, false, true},
    {"html", f_html, 0, -1, {0}, A_ANY, false, false},
    {"index", f_index, 1, -1, {0}, A_ANY, false, true},
    {"js", f_js, 0, -1, {0}, A_ANY, false, false},
    {"le", f_le, 2, 2, {0}, A_ANY, false, true},
    {"len", f_len, 1, 1, {0}, A_ANY, false, true},
    {"lt", f_lt, 2, 2, {0}, A_ANY, false, true},
    {"ne", f_ne, 2, 2, {0}, A_ANY, false, true},
    {"not", f_not, 1, 1, {0}, A_ANY, false, true},
    {"or", NULL, 1, -1, {0}, A_ANY, true, true},
    {"print", f_print, 0, -1, {0}, A_ANY, false, false},
    {"printf", f_printf, 1, -1, {A_STR}, A_ANY, false, false},
    {"println", f_println, 0, -1, {0}, A_ANY, false, false},
    {"slice", f_slice, 1, -1, {0}, A_ANY, false, true},
    {"urlquery", f_urlquery, 0, -1, {0}, A_ANY, false, false},
    {NULL, NULL, 0, 0, {0}, 0, false, false},
};

const struct tfunc *tfunc_find(const char *name, size_t len)
{
    const struct tfunc *tables[] = {tfuncs_builtin, tfuncs_ct, tfuncs_data};
    for (size_t t = 0; t < CN_ARRAY_SIZE(tables); t++)
        for (const struct tfunc *f = tables[t]; f->name; f++)
            if (strlen(f->name) == len && !memcmp(f->name, name, len)) return f;
    return NULL;
}
