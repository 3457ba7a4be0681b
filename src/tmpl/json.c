/*
 * json.c - template values to and from JSON the way Go's encoding/json
 * does it for consul-template's toJSON/toJSONPretty/toUnescapedJSON and
 * parseJSON: map keys sorted, struct fields in declaration order, floats as
 * encoding/json prints them, HTML-safe escapes unless asked otherwise, and
 * every JSON number read back as float64.
 */
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "lib/cn_common.h"
#include "tmpl/tmpl_int.h"

static void quote(struct cn_buf *b, const char *s, size_t n, bool html)
{
    static const char hex[] = "0123456789abcdef";
    cn_buf_putc(b, '"');
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            i++;
            if (c == '"' || c == '\\') {
                cn_buf_putc(b, '\\');
                cn_buf_putc(b, (char)c);
            } else if (c == '\n') {
                cn_buf_puts(b, "\\n");
            } else if (c == '\r') {
                cn_buf_puts(b, "\\r");
            } else if (c == '\t') {
                cn_buf_puts(b, "\\t");
            } else if (c == '\b') {
                cn_buf_puts(b, "\\b");
            } else if (c == '\f') {
                cn_buf_puts(b, "\\f");
            } else if (c < 0x20 || (html && (c == '<' || c == '>' || c == '&'))) {
                cn_buf_puts(b, "\\u00");
                cn_buf_putc(b, hex[c >> 4]);
                cn_buf_putc(b, hex[c & 15]);
            } else {
                cn_buf_putc(b, (char)c);
            }
            continue;
        }
        /* multi-byte: validate, escape U+2028/2029, replace invalid with U+FFFD */
        size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
        bool ok = len && i + len <= n && c <= 0xF4;
        uint32_t r = c & (0x7Fu >> len);
        for (size_t k = 1; ok && k < len; k++) {
            if (((unsigned char)s[i + k] & 0xC0) != 0x80) ok = false;
            r = (r << 6) | ((unsigned char)s[i + k] & 0x3F);
        }
        if (ok && ((len == 3 && r < 0x800) || (len == 4 && (r < 0x10000 || r > 0x10FFFF)) ||
                   (r >= 0xD800 && r <= 0xDFFF)))
            ok = false;
        if (!ok) {
            cn_buf_puts(b, "\\ufffd");
            i++;
            continue;
        }
        if (r == 0x2028 || r == 0x2029)
            cn_buf_putf(b, "\\u%04x", (unsigned)r);
        else
            cn_buf_put(b, s + i, len);
        i += len;
    }
    cn_buf_putc(b, '"');
}

static void newline(struct cn_buf *b, const char *indent, int depth)
{
    if (!indent) return;
    cn_buf_putc(b, '\n');
    for (int i = 0; i < depth; i++)
        cn_buf_puts(b, indent);
}

static void json_float(struct cn_buf *b, double f)
{
    double a = fabs(f);
    char fmt = (a != 0 && (a < 1e-6 || a >= 1e21)) ? 'e' : 'f';
    struct cn_buf t;
    cn_buf_init(&t, CN_BUF_UNLIMITED);
    go_ftoa(&t, f, fmt, -1);
    /* e-09 -> e-9 */
    if (fmt == 'e' && t.len >= 4 && t.data[t.len - 4] == 'e' && t.data[t.len - 3] == '-' &&
        t.data[t.len - 2] == '0') {
        t.data[t.len - 2] = t.data[t.len - 1];
        t.len--;
        t.data[t.len] = '\0';
    }
    cn_buf_put(b, t.data, t.len);
    cn_buf_release(&t);
}

static void enc(struct cn_buf *b, const struct tv *v, const char *indent, bool html, int depth)
{
    switch (v->kind) {
    case TV_INVALID:
    case TV_NIL:
        cn_buf_puts(b, "null");
        return;
    case TV_BOOL:
        cn_buf_puts(b, v->b ? "true" : "false");
        return;
    case TV_INT:
        cn_buf_putf(b, "%lld", (long long)v->i);
        return;
    case TV_UINT:
        cn_buf_putf(b, "%llu", (unsigned long long)v->u);
        return;
    case TV_FLOAT:
        json_float(b, isfinite(v->f) ? v->f : 0);
        return;
    case TV_STR:
        quote(b, v->s, v->n, html);
        return;
    case TV_LIST:
        cn_buf_putc(b, '[');
        for (size_t i = 0; i < v->n; i++) {
            if (i) cn_buf_putc(b, ',');
            newline(b, indent, depth + 1);
            enc(b, v->items[i], indent, html, depth + 1);
        }
        if (v->n) newline(b, indent, depth);
        cn_buf_putc(b, ']');
        return;
    case TV_MAP:
    case TV_STRUCT:
    case TV_SCRATCH: {
        size_t n = v->kind == TV_SCRATCH ? 0 : v->n;
        cn_buf_putc(b, '{');
        for (size_t i = 0; i < n; i++) {
            if (i) cn_buf_putc(b, ',');
            newline(b, indent, depth + 1);
            if (v->kind == TV_MAP) {
                quote(b, v->map->keys[i].p, v->map->keys[i].len, html);
            } else {
                quote(b, v->type->fields[i], strlen(v->type->fields[i]), html);
            }
            cn_buf_putc(b, ':');
            if (indent) cn_buf_putc(b, ' ');
            enc(b, v->kind == TV_MAP ? v->map->vals[i] : v->items[i], indent, html, depth + 1);
        }
        if (n) newline(b, indent, depth);
        cn_buf_putc(b, '}');
        return;
    }
    }
}

void tv_json(struct cn_buf *b, const struct tv *v, const char *indent, bool escape_html)
{
    enc(b, v, indent, escape_html, 0);
}

static const struct tv *from_json(struct cn_arena *a, json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        struct tv_mapb mb;
        tv_mapb_init(&mb, a);
        const char *k;
        json_t *val;
        void *it = json_object_iter(j);
        for (; it; it = json_object_iter_next(j, it)) {
            k = json_object_iter_key(it);
            val = json_object_iter_value(it);
            tv_mapb_put(&mb, cn_str_make(k, json_object_iter_key_len(it)), from_json(a, val));
        }
        return tv_mapb_done(&mb, &tv_invalid, "map[string]interface {}");
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        const struct tv **items = cn_arena_alloc(a, (n + 1) * sizeof *items);
        for (size_t i = 0; i < n; i++)
            items[i] = from_json(a, json_array_get(j, i));
        return tv_list(a, items, n, "[]interface {}");
    }
    case JSON_STRING:
        return tv_str(a, json_string_value(j), json_string_length(j));
    case JSON_INTEGER:
        return tv_float(a, (double)json_integer_value(j));
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

const struct tv *tv_from_json_text(struct cn_arena *a, const char *s, size_t n, char *err,
                                   size_t errlen)
{
    json_error_t je;
    json_t *j = json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &je);
    if (!j) {
        snprintf(err, errlen, "%s", je.text);
        return NULL;
    }
    const struct tv *v = from_json(a, j);
    json_decref(j);
    return v;
}
