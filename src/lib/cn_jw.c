#include "lib/cn_jw.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cn_base64.h"

void cn_jw_init(struct cn_jw *w, struct cn_buf *out, bool pretty)
{
    memset(w, 0, sizeof *w);
    w->out = out;
    w->pretty = pretty;
    w->indent = "    ";
}

void cn_jw_set_indent(struct cn_jw *w, const char *unit)
{
    w->indent = unit;
}

void cn_jw_finish(struct cn_jw *w)
{
    if (w->pretty) cn_buf_putc(w->out, '\n');
}

static void newline(struct cn_jw *w)
{
    cn_buf_putc(w->out, '\n');
    for (int i = 0; i < w->depth; i++) cn_buf_puts(w->out, w->indent);
}

/* Separator and indentation before a value or key at the current depth. */
static void pre_item(struct cn_jw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth > 0) {
        if (w->count[w->depth - 1]++ > 0) cn_buf_putc(w->out, ',');
        if (w->pretty) newline(w);
    }
}

static void open(struct cn_jw *w, char c)
{
    pre_item(w);
    cn_buf_putc(w->out, c);
    CN_ASSERT(w->depth < CN_JW_DEPTH_MAX);
    w->count[w->depth++] = 0;
}

static void close_(struct cn_jw *w, char c)
{
    CN_ASSERT(w->depth > 0);
    w->depth--;
    if (w->pretty && w->count[w->depth] > 0) newline(w);
    cn_buf_putc(w->out, c);
}

void cn_jw_obj_begin(struct cn_jw *w)
{
    open(w, '{');
}

void cn_jw_obj_end(struct cn_jw *w)
{
    close_(w, '}');
}

void cn_jw_arr_begin(struct cn_jw *w)
{
    open(w, '[');
}

void cn_jw_arr_end(struct cn_jw *w)
{
    close_(w, ']');
}

void cn_jw_keyn(struct cn_jw *w, const char *key, size_t n)
{
    pre_item(w);
    cn_json_quote(w->out, key, n);
    if (w->pretty)
        cn_buf_put(w->out, ": ", 2);
    else
        cn_buf_putc(w->out, ':');
    w->after_key = true;
}

void cn_jw_key(struct cn_jw *w, const char *key)
{
    cn_jw_keyn(w, key, strlen(key));
}

/* Length of a valid UTF-8 sequence at p (max n bytes), or 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n, uint32_t *cp)
{
    unsigned char c = p[0];
    size_t len;
    uint32_t v;
    if (c < 0x80) return *cp = c, 1;
    if (c >= 0xc2 && c <= 0xdf) len = 2, v = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) len = 3, v = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, v = c & 0x07;
    else return 0;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        v = v << 6 | (p[i] & 0x3f);
    }
    if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10ffff)) ||
        (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

/* Bytes that copy through unchanged: printable ASCII but for " \\ < > &. */
static const unsigned char plain[256] = {
    [0x20] = 1, [0x21] = 1, [0x23] = 1, [0x24] = 1, [0x25] = 1, [0x27] = 1, [0x28] = 1,
    [0x29] = 1, [0x2a] = 1, [0x2b] = 1, [0x2c] = 1, [0x2d] = 1, [0x2e] = 1, [0x2f] = 1,
    [0x30 ... 0x3b] = 1, [0x3d] = 1, [0x3f ... 0x5b] = 1, [0x5d ... 0x7e] = 1,
};

void cn_json_quote(struct cn_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0;
    cn_buf_putc(b, '"');
    while (i < n) {
        unsigned char c = p[i];
        if (plain[c]) {
            i++;
            run++;
            continue;
        }
        if (run) cn_buf_put(b, s + i - run, run);
        run = 0;
        if (c < 0x80) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            switch (c) {
            case '"': cn_buf_put(b, "\\\"", 2); break;
            case '\\': cn_buf_put(b, "\\\\", 2); break;
            case '\n': cn_buf_put(b, "\\n", 2); break;
            case '\r': cn_buf_put(b, "\\r", 2); break;
            case '\t': cn_buf_put(b, "\\t", 2); break;
            default: cn_buf_put(b, esc, 6); break;
            }
            i++;
            continue;
        }
        uint32_t cp;
        size_t l = utf8_len(p + i, n - i, &cp);
        if (l == 0) {
            cn_buf_put(b, "\\ufffd", 6);
            i++;
        } else if (cp == 0x2028 || cp == 0x2029) {
            cn_buf_put(b, cp == 0x2028 ? "\\u2028" : "\\u2029", 6);
            i += l;
        } else {
            cn_buf_put(b, s + i, l);
            i += l;
        }
    }
    if (run) cn_buf_put(b, s + n - run, run);
    cn_buf_putc(b, '"');
}

void cn_jw_strn(struct cn_jw *w, const char *s, size_t n)
{
    pre_item(w);
    cn_json_quote(w->out, s ? s : "", s ? n : 0);
}

void cn_jw_str(struct cn_jw *w, const char *s)
{
    cn_jw_strn(w, s, s ? strlen(s) : 0);
}

void cn_jw_cnstr(struct cn_jw *w, struct cn_str s)
{
    cn_jw_strn(w, s.p, s.len);
}

void cn_jw_u64(struct cn_jw *w, uint64_t v)
{
    char tmp[24];
    size_t n = cn_u64_fmt(v, tmp);
    pre_item(w);
    cn_buf_put(w->out, tmp, n);
}

void cn_jw_i64(struct cn_jw *w, int64_t v)
{
    char tmp[24];
    size_t n = 0;
    if (v < 0) tmp[n++] = '-';
    n += cn_u64_fmt(v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, tmp + n);
    pre_item(w);
    cn_buf_put(w->out, tmp, n);
}

/* Go's encoding/json float64 text: the shortest digits that read back to
 * the same double (strconv's -1 precision), written without an exponent
 * unless the magnitude is below 1e-6 or at least 1e21, where the exponent
 * has no leading zero ("1e-7", "1e+21"). So 1e-05 prints 0.00001. */
static void put_go_float(struct cn_buf *out, double v)
{
    char tmp[40], digits[24];
    int nd = 0, exp10;
    if (signbit(v)) cn_buf_putc(out, '-');
    v = fabs(v);
    if (v == 0) {
        cn_buf_putc(out, '0');
        return;
    }
    for (int prec = 0; prec <= 16; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec, v);
        if (strtod(tmp, NULL) == v) break;
    }
    /* tmp is d[.ddd]e±XX: collect the digits and the exponent */
    const char *p = tmp;
    for (; *p && *p != 'e'; p++)
        if (*p != '.') digits[nd++] = *p;
    exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    if (v < 1e-6 || v >= 1e21) {
        cn_buf_putc(out, digits[0]);
        if (nd > 1) {
            cn_buf_putc(out, '.');
            cn_buf_put(out, digits + 1, (size_t)nd - 1);
        }
        cn_buf_putf(out, exp10 < 0 ? "e-%d" : "e+%02d", abs(exp10));
    } else if (exp10 < 0) {
        cn_buf_puts(out, "0.");
        for (int i = 0; i < -exp10 - 1; i++) cn_buf_putc(out, '0');
        cn_buf_put(out, digits, (size_t)nd);
    } else if (exp10 >= nd - 1) {
        cn_buf_put(out, digits, (size_t)nd);
        for (int i = 0; i < exp10 - (nd - 1); i++) cn_buf_putc(out, '0');
    } else {
        cn_buf_put(out, digits, (size_t)exp10 + 1);
        cn_buf_putc(out, '.');
        cn_buf_put(out, digits + exp10 + 1, (size_t)(nd - exp10 - 1));
    }
}

void cn_jw_double(struct cn_jw *w, double v)
{
    pre_item(w);
    if (!isfinite(v)) {
        cn_buf_put(w->out, "0", 1);
        return;
    }
    put_go_float(w->out, v);
}

void cn_jw_bool(struct cn_jw *w, bool v)
{
    pre_item(w);
    cn_buf_puts(w->out, v ? "true" : "false");
}

void cn_jw_null(struct cn_jw *w)
{
    pre_item(w);
    cn_buf_put(w->out, "null", 4);
}

void cn_jw_base64(struct cn_jw *w, const void *p, size_t n)
{
    char *at;
    size_t enc;
    if (n == 0) {
        cn_jw_null(w);
        return;
    }
    pre_item(w);
    enc = cn_base64_encoded_len(n);
    cn_buf_putc(w->out, '"');
    if (cn_buf_reserve(w->out, enc, &at)) CN_BUG("json writer past cap");
    cn_base64_encode(p, n, at);
    w->out->len += enc;
    w->out->data[w->out->len] = '\0';
    cn_buf_putc(w->out, '"');
}

/* Re-emit compact JSON text through the writer so pretty output stays indented. */
void cn_jw_raw(struct cn_jw *w, const char *json, size_t n)
{
    if (!w->pretty) {
        pre_item(w);
        cn_buf_put(w->out, json, n);
        return;
    }
    bool in_str = false, esc = false;
    size_t i = 0;
    pre_item(w);
    for (; i < n; i++) {
        char c = json[i];
        if (in_str) {
            cn_buf_putc(w->out, c);
            if (esc) esc = false;
            else if (c == '\\') esc = true;
            else if (c == '"') in_str = false;
            continue;
        }
        switch (c) {
        case '"':
            in_str = true;
            cn_buf_putc(w->out, c);
            break;
        case '{':
        case '[':
            if (i + 1 < n && (json[i + 1] == '}' || json[i + 1] == ']')) {
                cn_buf_putc(w->out, c);
                cn_buf_putc(w->out, json[++i]);
                break;
            }
            cn_buf_putc(w->out, c);
            w->depth++;
            newline(w);
            break;
        case '}':
        case ']':
            w->depth--;
            newline(w);
            cn_buf_putc(w->out, c);
            break;
        case ',':
            cn_buf_putc(w->out, c);
            newline(w);
            break;
        case ':':
            cn_buf_put(w->out, ": ", 2);
            break;
        case ' ':
        case '\n':
        case '\t':
        case '\r':
            break;
        default:
            cn_buf_putc(w->out, c);
        }
    }
}

void cn_jw_key_str(struct cn_jw *w, const char *key, const char *v)
{
    cn_jw_key(w, key);
    cn_jw_str(w, v);
}

void cn_jw_key_strn(struct cn_jw *w, const char *key, const char *v, size_t n)
{
    cn_jw_key(w, key);
    cn_jw_strn(w, v, n);
}

void cn_jw_key_u64(struct cn_jw *w, const char *key, uint64_t v)
{
    cn_jw_key(w, key);
    cn_jw_u64(w, v);
}

void cn_jw_key_i64(struct cn_jw *w, const char *key, int64_t v)
{
    cn_jw_key(w, key);
    cn_jw_i64(w, v);
}

void cn_jw_key_bool(struct cn_jw *w, const char *key, bool v)
{
    cn_jw_key(w, key);
    cn_jw_bool(w, v);
}

void cn_jw_key_null(struct cn_jw *w, const char *key)
{
    cn_jw_key(w, key);
    cn_jw_null(w);
}
