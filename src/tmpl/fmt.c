/*
 * fmt.c - Go's fmt for template values: %v printing (what an action
 * prints), print/println, printf with the verbs templates use, and
 * strconv's float formatting and quoting.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cn_common.h"
#include "tmpl/tmpl_int.h"

/* ---- UTF-8 ----------------------------------------------------------- */

/* Decode one rune; invalid input gives rune -1 and length 1. */
static size_t utf8_dec(const unsigned char *s, size_t n, int32_t *r)
{
    unsigned c = s[0];
    if (c < 0x80) {
        *r = (int32_t)c;
        return 1;
    }
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (len == 0 || len > n || c > 0xF4) goto bad;
    int32_t v = (int32_t)(c & (0x7F >> len));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) goto bad;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
        (v >= 0xD800 && v <= 0xDFFF))
        goto bad;
    *r = v;
    return len;
bad:
    *r = -1;
    return 1;
}

static void utf8_put(struct cn_buf *b, int32_t r)
{
    if (r < 0 || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) r = 0xFFFD;
    if (r < 0x80) {
        cn_buf_putc(b, (char)r);
    } else if (r < 0x800) {
        cn_buf_putc(b, (char)(0xC0 | (r >> 6)));
        cn_buf_putc(b, (char)(0x80 | (r & 0x3F)));
    } else if (r < 0x10000) {
        cn_buf_putc(b, (char)(0xE0 | (r >> 12)));
        cn_buf_putc(b, (char)(0x80 | ((r >> 6) & 0x3F)));
        cn_buf_putc(b, (char)(0x80 | (r & 0x3F)));
    } else {
        cn_buf_putc(b, (char)(0xF0 | (r >> 18)));
        cn_buf_putc(b, (char)(0x80 | ((r >> 12) & 0x3F)));
        cn_buf_putc(b, (char)(0x80 | ((r >> 6) & 0x3F)));
        cn_buf_putc(b, (char)(0x80 | (r & 0x3F)));
    }
}

static size_t rune_count(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; c++) {
        int32_t r;
        i += utf8_dec((const unsigned char *)s + i, n - i, &r);
    }
    return c;
}

/* ---- strconv --------------------------------------------------------- */

void go_quote(struct cn_buf *b, const char *s, size_t n, bool ascii_only)
{
    static const char hex[] = "0123456789abcdef";
    cn_buf_putc(b, '"');
    for (size_t i = 0; i < n;) {
        int32_t r;
        size_t l = utf8_dec((const unsigned char *)s + i, n - i, &r);
        unsigned char c = (unsigned char)s[i];
        i += l;
        if (r < 0) {
            cn_buf_putf(b, "\\x%c%c", hex[c >> 4], hex[c & 15]);
            continue;
        }
        switch (r) {
        case '"':
            cn_buf_puts(b, "\\\"");
            continue;
        case '\\':
            cn_buf_puts(b, "\\\\");
            continue;
        case '\a':
            cn_buf_puts(b, "\\a");
            continue;
        case '\b':
            cn_buf_puts(b, "\\b");
            continue;
        case '\f':
            cn_buf_puts(b, "\\f");
            continue;
        case '\n':
            cn_buf_puts(b, "\\n");
            continue;
        case '\r':
            cn_buf_puts(b, "\\r");
            continue;
        case '\t':
            cn_buf_puts(b, "\\t");
            continue;
        case '\v':
            cn_buf_puts(b, "\\v");
            continue;
        }
        if (r < 0x20 || r == 0x7F)
            cn_buf_putf(b, "\\x%c%c", hex[r >> 4], hex[r & 15]);
        else if (r < 0x80 || !ascii_only)
            cn_buf_put(b, s + i - l, l);
        else if (r < 0x10000)
            cn_buf_putf(b, "\\u%04x", (unsigned)r);
        else
            cn_buf_putf(b, "\\U%08x", (unsigned)r);
    }
    cn_buf_putc(b, '"');
}

/* Shortest decimal digits that read back as f (f finite, > 0): digits in
 * d (NUL-terminated, no trailing zeros), value = 0.d * 10^dp. */
static void shortest(double f, char *d, int *dp)
{
    char tmp[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, f);
        if (strtod(tmp, NULL) == f) break;
    }
    /* tmp is "D.DDDDe[+-]XX" */
    char *e = strchr(tmp, 'e');
    int exp10 = atoi(e + 1);
    size_t nd = 0;
    for (char *p = tmp; p < e; p++)
        if (*p != '.') d[nd++] = *p;
    while (nd > 1 && d[nd - 1] == '0')
        nd--;
    d[nd] = '\0';
    *dp = exp10 + 1;
}

static void put_exp(struct cn_buf *b, char e, int exp)
{
    cn_buf_putc(b, e);
    cn_buf_putc(b, exp < 0 ? '-' : '+');
    if (exp < 0) exp = -exp;
    if (exp < 10) cn_buf_putc(b, '0');
    cn_buf_putf(b, "%d", exp);
}

void go_ftoa(struct cn_buf *b, double f, char fmt, int prec)
{
    if (isnan(f)) {
        cn_buf_puts(b, "NaN");
        return;
    }
    if (isinf(f)) {
        cn_buf_puts(b, f > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (prec >= 0) {
        char spec[16], tmp[512];
        if (prec > 300) prec = 300;
        snprintf(spec, sizeof spec, "%%.%d%c", prec, fmt);
        snprintf(tmp, sizeof tmp, spec, f);
        cn_buf_puts(b, tmp);
        return;
    }
    if (signbit(f)) {
        cn_buf_putc(b, '-');
        f = -f;
    }
    char d[24];
    int dp;
    if (f == 0) {
        strcpy(d, "0");
        dp = 1;
    } else {
        shortest(f, d, &dp);
    }
    int nd = (int)strlen(d);
    bool use_e = fmt == 'e' || fmt == 'E';
    if (fmt == 'g' || fmt == 'G') {
        int exp = dp - 1;
        use_e = f != 0 && (exp < -4 || exp >= 6); /* shortest: precision 6 decides */
    }
    if (use_e) {
        cn_buf_putc(b, d[0]);
        if (nd > 1) {
            cn_buf_putc(b, '.');
            cn_buf_puts(b, d + 1);
        }
        put_exp(b, (fmt == 'E' || fmt == 'G') ? 'E' : 'e', f == 0 ? 0 : dp - 1);
        return;
    }
    if (dp <= 0) {
        cn_buf_puts(b, "0.");
        for (int i = 0; i < -dp; i++)
            cn_buf_putc(b, '0');
        cn_buf_puts(b, d);
    } else if (dp >= nd) {
        cn_buf_puts(b, d);
        for (int i = nd; i < dp; i++)
            cn_buf_putc(b, '0');
    } else {
        cn_buf_put(b, d, (size_t)dp);
        cn_buf_putc(b, '.');
        cn_buf_puts(b, d + dp);
    }
}

/* strconv.QuoteRune: 'a', '\'', '"'. */
static void quote_rune(struct cn_buf *b, int32_t r)
{
    struct cn_buf q, t;
    cn_buf_init(&q, CN_BUF_UNLIMITED);
    cn_buf_init(&t, CN_BUF_UNLIMITED);
    utf8_put(&q, r);
    go_quote(&t, q.data, q.len, false);
    cn_buf_putc(b, '\'');
    if (r == '\'')
        cn_buf_puts(b, "\\'");
    else if (r == '"')
        cn_buf_putc(b, '"');
    else
        cn_buf_put(b, t.data + 1, t.len - 2);
    cn_buf_putc(b, '\'');
    cn_buf_release(&q);
    cn_buf_release(&t);
}

/* strchr that does not match the terminator. */
static bool in_set(const char *set, int c)
{
    return c > 0 && c < 0x80 && strchr(set, c) != NULL;
}

/* ---- %v printing ----------------------------------------------------- */

struct fspec {
    bool minus, plus, sharp, space, zero;
    int width, prec; /* -1 when absent */
};

static void print_value(struct cn_buf *b, const struct tv *v, char verb, const struct fspec *sp,
                        int depth);

static void print_plain(struct cn_buf *b, const struct tv *v, int depth, bool plus)
{
    struct fspec sp = {.width = -1, .prec = -1, .plus = plus};
    print_value(b, v, 'v', &sp, depth);
}

/* Composite values: Go applies the verb to each element. */
static void print_composite(struct cn_buf *b, const struct tv *v, char verb, const struct fspec *sp,
                            int depth)
{
    switch (v->kind) {
    case TV_LIST:
        cn_buf_putc(b, '[');
        for (size_t i = 0; i < v->n; i++) {
            if (i) cn_buf_putc(b, ' ');
            print_value(b, v->items[i], verb, sp, depth + 1);
        }
        cn_buf_putc(b, ']');
        break;
    case TV_MAP:
        cn_buf_puts(b, "map[");
        for (size_t i = 0; i < v->n; i++) {
            if (i) cn_buf_putc(b, ' ');
            struct cn_str k = v->map->keys[i];
            struct tv kv = {.kind = TV_STR, .s = k.p, .n = k.len, .tname = "string"};
            print_value(b, &kv, verb, sp, depth + 1);
            cn_buf_putc(b, ':');
            print_value(b, v->map->vals[i], verb, sp, depth + 1);
        }
        cn_buf_putc(b, ']');
        break;
    case TV_STRUCT:
        if (depth > 0 && v->type->ptr) cn_buf_putc(b, '&');
        cn_buf_putc(b, '{');
        for (size_t i = 0; i < v->n; i++) {
            if (i) cn_buf_putc(b, ' ');
            if (sp->plus && verb == 'v') {
                cn_buf_puts(b, v->type->fields[i]);
                cn_buf_putc(b, ':');
            }
            print_value(b, v->items[i], verb, sp, depth + 1);
        }
        cn_buf_putc(b, '}');
        break;
    default:
        break;
    }
}

static void pad(struct cn_buf *b, const struct fspec *sp, const char *s, size_t n, bool num)
{
    size_t w = sp->width > 0 ? (size_t)sp->width : 0, runes = rune_count(s, n);
    if (runes >= w) {
        cn_buf_put(b, s, n);
        return;
    }
    size_t fill = w - runes;
    if (sp->minus) {
        cn_buf_put(b, s, n);
        for (size_t i = 0; i < fill; i++)
            cn_buf_putc(b, ' ');
    } else if (sp->zero) {
        /* zeros go after a sign */
        if (num && n && (s[0] == '-' || s[0] == '+' || s[0] == ' ')) {
            cn_buf_putc(b, s[0]);
            s++;
            n--;
        }
        for (size_t i = 0; i < fill; i++)
            cn_buf_putc(b, '0');
        cn_buf_put(b, s, n);
    } else {
        for (size_t i = 0; i < fill; i++)
            cn_buf_putc(b, ' ');
        cn_buf_put(b, s, n);
    }
}

static void fmt_int(struct cn_buf *b, const struct fspec *sp, char verb, bool neg, uint64_t u)
{
    struct cn_buf t;
    cn_buf_init(&t, CN_BUF_UNLIMITED);
    char digits[80];
    int base = 10;
    const char *alpha = "0123456789abcdef";
    switch (verb) {
    case 'x':
        base = 16;
        break;
    case 'X':
        base = 16, alpha = "0123456789ABCDEF";
        break;
    case 'o':
    case 'O':
        base = 8;
        break;
    case 'b':
        base = 2;
        break;
    }
    size_t nd = 0;
    do {
        digits[nd++] = alpha[u % (unsigned)base];
        u /= (unsigned)base;
    } while (u);
    int prec = sp->prec;
    if (prec == 0 && nd == 1 && digits[0] == '0') nd = 0;
    if (neg)
        cn_buf_putc(&t, '-');
    else if (sp->plus)
        cn_buf_putc(&t, '+');
    else if (sp->space)
        cn_buf_putc(&t, ' ');
    if (verb == 'O') cn_buf_puts(&t, "0o");
    if (sp->sharp) {
        if (verb == 'x') cn_buf_puts(&t, "0x");
        if (verb == 'X') cn_buf_puts(&t, "0X");
        if (verb == 'b') cn_buf_puts(&t, "0b");
        if (verb == 'o' && !(nd && digits[nd - 1] == '0')) cn_buf_putc(&t, '0');
    }
    for (int i = (int)nd; i < prec; i++)
        cn_buf_putc(&t, '0');
    while (nd)
        cn_buf_putc(&t, digits[--nd]);
    struct fspec s2 = *sp;
    if (prec >= 0) s2.zero = false;
    pad(b, &s2, t.data ? t.data : "", t.len, true);
    cn_buf_release(&t);
}

static void fmt_float(struct cn_buf *b, const struct fspec *sp, char verb, double f)
{
    struct cn_buf t;
    cn_buf_init(&t, CN_BUF_UNLIMITED);
    char v = verb == 'v' ? 'g' : verb == 'F' ? 'f' : verb;
    int prec = sp->prec;
    if (prec < 0 && (v == 'e' || v == 'E' || v == 'f')) prec = 6;
    if ((sp->plus || sp->space) && !signbit(f) && !isnan(f)) cn_buf_putc(&t, sp->plus ? '+' : ' ');
    go_ftoa(&t, f, v, prec);
    if (isinf(f) && !sp->plus && t.data[0] == '+') cn_buf_consume(&t, 1);
    struct fspec s2 = *sp;
    if (isinf(f) || isnan(f)) s2.zero = false;
    pad(b, &s2, t.data, t.len, true);
    cn_buf_release(&t);
}

static void fmt_str(struct cn_buf *b, const struct fspec *sp, char verb, const char *s, size_t n)
{
    struct cn_buf t;
    cn_buf_init(&t, CN_BUF_UNLIMITED);
    if (sp->prec >= 0 && (verb == 's' || verb == 'v' || verb == 'q')) {
        /* precision truncates to that many runes */
        size_t i = 0;
        for (int r = 0; r < sp->prec && i < n; r++) {
            int32_t ru;
            i += utf8_dec((const unsigned char *)s + i, n - i, &ru);
        }
        n = i;
    }
    if (verb == 'q') {
        if (sp->sharp && !memchr(s, '`', n)) {
            cn_buf_putc(&t, '`');
            cn_buf_put(&t, s, n);
            cn_buf_putc(&t, '`');
        } else {
            go_quote(&t, s, n, sp->plus);
        }
    } else if (verb == 'x' || verb == 'X') {
        const char *hx = verb == 'x' ? "0123456789abcdef" : "0123456789ABCDEF";
        for (size_t i = 0; i < n; i++) {
            if (i && sp->space) cn_buf_putc(&t, ' ');
            if (sp->sharp && (i == 0 || sp->space)) cn_buf_puts(&t, verb == 'x' ? "0x" : "0X");
            cn_buf_putc(&t, hx[(unsigned char)s[i] >> 4]);
            cn_buf_putc(&t, hx[(unsigned char)s[i] & 15]);
        }
    } else {
        cn_buf_put(&t, s, n);
    }
    pad(b, sp, t.data ? t.data : "", t.len, false);
    cn_buf_release(&t);
}

static void bad_verb(struct cn_buf *b, char verb, const struct tv *v)
{
    cn_buf_putf(b, "%%!%c(", verb);
    if (v->kind == TV_INVALID || v->kind == TV_NIL) {
        cn_buf_puts(b, "<nil>");
    } else {
        cn_buf_puts(b, tv_type_name(v));
        cn_buf_putc(b, '=');
        print_plain(b, v, 0, false);
    }
    cn_buf_putc(b, ')');
}

static void print_value(struct cn_buf *b, const struct tv *v, char verb, const struct fspec *sp,
                        int depth)
{
    if (verb == 'T') {
        fmt_str(b, sp, 's', tv_type_name(v), strlen(tv_type_name(v)));
        return;
    }
    switch (v->kind) {
    case TV_INVALID:
    case TV_NIL:
        if (verb == 'v' || verb == 's')
            pad(b, sp, "<nil>", 5, false);
        else
            bad_verb(b, verb, v);
        return;
    case TV_BOOL:
        if (verb == 'v' || verb == 't')
            fmt_str(b, sp, 's', v->b ? "true" : "false", v->b ? 4 : 5);
        else
            bad_verb(b, verb, v);
        return;
    case TV_INT:
    case TV_UINT: {
        bool neg = v->kind == TV_INT && v->i < 0;
        uint64_t u = v->kind == TV_UINT ? v->u
                     : neg              ? (uint64_t)0 - (uint64_t)v->i
                                        : (uint64_t)v->i;
        if (in_set("vdxXobO", verb)) {
            fmt_int(b, sp, verb == 'v' ? 'd' : verb, neg, u);
        } else if (verb == 'c' || verb == 'q' || verb == 'U') {
            struct cn_buf t;
            cn_buf_init(&t, CN_BUF_UNLIMITED);
            int32_t r = (int32_t)(neg || u > 0x10FFFF ? 0xFFFD : u);
            if (verb == 'U') {
                cn_buf_putf(&t, "U+%04X", (unsigned)r);
            } else if (verb == 'c') {
                utf8_put(&t, r);
            } else {
                quote_rune(&t, r);
            }
            pad(b, sp, t.data, t.len, false);
            cn_buf_release(&t);
        } else if (in_set("eEfFgG", verb)) {
            bad_verb(b, verb, v);
        } else {
            bad_verb(b, verb, v);
        }
        return;
    }
    case TV_FLOAT:
        if (in_set("veEfFgG", verb))
            fmt_float(b, sp, verb, v->f);
        else
            bad_verb(b, verb, v);
        return;
    case TV_STR:
        if (in_set("vsqxX", verb))
            fmt_str(b, sp, verb, v->s, v->n);
        else
            bad_verb(b, verb, v);
        return;
    case TV_LIST:
    case TV_MAP:
    case TV_STRUCT:
        print_composite(b, v, verb, sp, depth);
        return;
    case TV_SCRATCH:
        if (depth > 0)
            cn_buf_puts(b, "&{}");
        else
            cn_buf_puts(b, "{}");
        return;
    }
}

void tv_print(struct cn_buf *b, const struct tv *v)
{
    if (v->kind == TV_INVALID) {
        cn_buf_puts(b, "<no value>");
        return;
    }
    print_plain(b, v, 0, false);
}

void tv_sprint(struct cn_buf *b, const struct tv *const *args, size_t n, bool ln)
{
    bool prev_str = false;
    for (size_t i = 0; i < n; i++) {
        bool is_str = args[i]->kind == TV_STR;
        if (i > 0 && (ln || (!is_str && !prev_str))) cn_buf_putc(b, ' ');
        print_plain(b, args[i], 0, false);
        prev_str = is_str;
    }
    if (ln) cn_buf_putc(b, '\n');
}

static int parse_num(const char *f, size_t n, size_t *i)
{
    int v = 0;
    while (*i < n && f[*i] >= '0' && f[*i] <= '9') {
        if (v < 1000000) v = v * 10 + (f[*i] - '0');
        (*i)++;
    }
    return v;
}

void tv_sprintf(struct cn_buf *b, const char *f, size_t flen, const struct tv *const *args,
                size_t n)
{
    size_t argi = 0;
    for (size_t i = 0; i < flen;) {
        if (f[i] != '%') {
            size_t j = i;
            while (j < flen && f[j] != '%')
                j++;
            cn_buf_put(b, f + i, j - i);
            i = j;
            continue;
        }
        i++;
        struct fspec sp = {.width = -1, .prec = -1};
        for (; i < flen; i++) {
            char c = f[i];
            if (c == '-')
                sp.minus = true, sp.zero = false;
            else if (c == '+')
                sp.plus = true;
            else if (c == '#')
                sp.sharp = true;
            else if (c == ' ')
                sp.space = true;
            else if (c == '0')
                sp.zero = !sp.minus;
            else
                break;
        }
        if (i < flen && f[i] == '*') {
            i++;
            if (argi < n && args[argi]->kind == TV_INT) {
                sp.width = (int)CN_MIN(CN_MAX(args[argi]->i, -1000000), 1000000);
                if (sp.width < 0) sp.minus = true, sp.width = -sp.width, sp.zero = false;
            } else {
                cn_buf_puts(b, "%!(BADWIDTH)");
            }
            argi++;
        } else if (i < flen && f[i] >= '0' && f[i] <= '9') {
            sp.width = parse_num(f, flen, &i);
        }
        if (i < flen && f[i] == '.') {
            i++;
            if (i < flen && f[i] == '*') {
                i++;
                if (argi < n && args[argi]->kind == TV_INT && args[argi]->i >= 0)
                    sp.prec = (int)CN_MIN(args[argi]->i, 1000000);
                else
                    cn_buf_puts(b, "%!(BADPREC)");
                argi++;
            } else {
                sp.prec = parse_num(f, flen, &i);
            }
        }
        if (i >= flen) {
            cn_buf_puts(b, "%!(NOVERB)");
            break;
        }
        int32_t verb;
        i += utf8_dec((const unsigned char *)f + i, flen - i, &verb);
        if (verb == '%') {
            cn_buf_putc(b, '%');
            continue;
        }
        if (argi >= n) {
            cn_buf_puts(b, "%!");
            utf8_put(b, verb);
            cn_buf_puts(b, "(MISSING)");
            continue;
        }
        const struct tv *v = args[argi++];
        if (verb == 'w') verb = 'v';
        if (!in_set("vTtbcdoOqxXUeEfFgGsp", (int)verb)) {
            cn_buf_puts(b, "%!");
            utf8_put(b, verb);
            cn_buf_putc(b, '(');
            if (v->kind == TV_INVALID || v->kind == TV_NIL) {
                cn_buf_puts(b, "<nil>");
            } else {
                cn_buf_puts(b, tv_type_name(v));
                cn_buf_putc(b, '=');
                print_plain(b, v, 0, false);
            }
            cn_buf_putc(b, ')');
            continue;
        }
        print_value(b, v, (char)verb, &sp, 0);
    }
    if (argi < n) {
        cn_buf_puts(b, "%!(EXTRA ");
        for (size_t k = argi; k < n; k++) {
            if (k > argi) cn_buf_puts(b, ", ");
            if (args[k]->kind == TV_INVALID || args[k]->kind == TV_NIL) {
                cn_buf_puts(b, "<nil>");
                continue;
            }
            cn_buf_puts(b, tv_type_name(args[k]));
            cn_buf_putc(b, '=');
            print_plain(b, args[k], 0, false);
        }
        cn_buf_putc(b, ')');
    }
}
