/* cn_hcl.c - HCL v1 to a jansson tree (see cn_hcl.h). A scanner and a
 * recursive-descent parser over it, errors as "<line>:<col>: <msg>". */
#include "lib/cn_hcl.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cn_buf.h"
#include "lib/cn_common.h"
#include "lib/cn_json.h"

enum tok {
    T_EOF,
    T_IDENT,
    T_STRING,
    T_HEREDOC,
    T_NUMBER,
    T_FLOAT,
    T_BOOL,
    T_LBRACK,
    T_RBRACK,
    T_LBRACE,
    T_RBRACE,
    T_COMMA,
    T_ASSIGN,
    T_ILLEGAL,
};

static const char *const tok_names[] = {"EOF",    "IDENT", "STRING", "HEREDOC", "NUMBER",
                                        "FLOAT",  "BOOL",  "LBRACK", "RBRACK",  "LBRACE",
                                        "RBRACE", "COMMA", "ASSIGN", "ILLEGAL"};

struct hcl {
    const char *p;
    size_t n, pos;
    int line, col; /* of pos */
    /* current token */
    enum tok t;
    size_t tstart, tend;
    int tline, tcol;
    struct cn_buf sval; /* decoded string/heredoc */
    struct cn_err *err;
    int depth;
};

static bool fail(struct hcl *h, int line, int col, const char *fmt, ...) CN_PRINTF(4, 5);

static bool fail(struct hcl *h, int line, int col, const char *fmt, ...)
{
    if (h->err->code) return false;
    char msg[CN_ERR_MSG_MAX - 32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cn_err_set(h->err, CN_EINVAL, "%d:%d: %s", line, col, msg);
    return false;
}

static int peekc(struct hcl *h, size_t ahead)
{
    return h->pos + ahead < h->n ? (unsigned char)h->p[h->pos + ahead] : -1;
}

static void adv(struct hcl *h)
{
    if (h->pos >= h->n) return;
    if (h->p[h->pos] == '\n') {
        h->line++;
        h->col = 1;
    } else {
        h->col++;
    }
    h->pos++;
}

/* Skip blanks, newlines and comments: HCL v1 items need no separator. */
static bool skip(struct hcl *h)
{
    for (;;) {
        int c = peekc(h, 0);
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            adv(h);
        } else if (c == '#' || (c == '/' && peekc(h, 1) == '/')) {
            while (peekc(h, 0) >= 0 && peekc(h, 0) != '\n')
                adv(h);
        } else if (c == '/' && peekc(h, 1) == '*') {
            int l = h->line, co = h->col;
            adv(h), adv(h);
            while (!(peekc(h, 0) == '*' && peekc(h, 1) == '/')) {
                if (peekc(h, 0) < 0) return fail(h, l, co, "comment not terminated");
                adv(h);
            }
            adv(h), adv(h);
        } else {
            return true;
        }
    }
}

static bool is_ident_start(int c)
{
    return isalpha(c) || c == '_' || c >= 0x80;
}

static bool is_ident(int c)
{
    return isalnum(c) || c == '_' || c == '-' || c == '.' || c == ':' || c >= 0x80;
}

static int hexv(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static void put_utf8(struct cn_buf *b, uint32_t r)
{
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

static bool scan_string(struct hcl *h)
{
    int l = h->line, co = h->col;
    adv(h); /* opening quote */
    int braces = 0;
    for (;;) {
        int c = peekc(h, 0);
        if (c < 0 || (c == '\n' && braces == 0)) return fail(h, l, co, "literal not terminated");
        if (c == '"' && braces == 0) {
            adv(h);
            return true;
        }
        if (c == '$' && peekc(h, 1) == '{') {
            braces++;
            cn_buf_puts(&h->sval, "${");
            adv(h), adv(h);
            continue;
        }
        if (braces > 0) {
            if (c == '}') braces--;
            cn_buf_putc(&h->sval, (char)c);
            adv(h);
            continue;
        }
        if (c != '\\') {
            cn_buf_putc(&h->sval, (char)c);
            adv(h);
            continue;
        }
        int el = h->line, ec = h->col;
        adv(h);
        int e = peekc(h, 0);
        adv(h);
        int digits = 0;
        switch (e) {
        case 'a':
            cn_buf_putc(&h->sval, '\a');
            continue;
        case 'b':
            cn_buf_putc(&h->sval, '\b');
            continue;
        case 'f':
            cn_buf_putc(&h->sval, '\f');
            continue;
        case 'n':
            cn_buf_putc(&h->sval, '\n');
            continue;
        case 'r':
            cn_buf_putc(&h->sval, '\r');
            continue;
        case 't':
            cn_buf_putc(&h->sval, '\t');
            continue;
        case 'v':
            cn_buf_putc(&h->sval, '\v');
            continue;
        case '\\':
            cn_buf_putc(&h->sval, '\\');
            continue;
        case '"':
            cn_buf_putc(&h->sval, '"');
            continue;
        case '\'':
            cn_buf_putc(&h->sval, '\'');
            continue;
        case 'x':
            digits = 2;
            break;
        case 'u':
            digits = 4;
            break;
        case 'U':
            digits = 8;
            break;
        default:
            if (e >= '0' && e <= '7') {
                int v = e - '0';
                for (int k = 0; k < 2; k++) {
                    int d = peekc(h, 0);
                    if (d < '0' || d > '7') return fail(h, el, ec, "illegal char escape");
                    v = v * 8 + d - '0';
                    adv(h);
                }
                if (v > 255) return fail(h, el, ec, "illegal char escape");
                cn_buf_putc(&h->sval, (char)v);
                continue;
            }
            return fail(h, el, ec, "illegal char escape");
        }
        uint32_t v = 0;
        for (int k = 0; k < digits; k++) {
            int d = hexv(peekc(h, 0));
            if (d < 0) return fail(h, el, ec, "illegal char escape");
            v = v * 16 + (uint32_t)d;
            adv(h);
        }
        if (digits == 2)
            cn_buf_putc(&h->sval, (char)v);
        else if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            return fail(h, el, ec, "escape sequence is invalid Unicode code point");
        else
            put_utf8(&h->sval, v);
    }
}

/* <<EOF ... EOF and <<-EOF (closing marker and lines may be indented; the
 * smallest indentation is removed from every line). */
static bool scan_heredoc(struct hcl *h)
{
    int l = h->line, co = h->col;
    adv(h), adv(h);
    bool indent = peekc(h, 0) == '-';
    if (indent) adv(h);
    size_t ms = h->pos;
    while (peekc(h, 0) >= 0 && is_ident(peekc(h, 0)))
        adv(h);
    size_t mlen = h->pos - ms;
    if (mlen == 0) return fail(h, l, co, "zero-length heredoc anchor");
    if (peekc(h, 0) == '\r') adv(h);
    if (peekc(h, 0) != '\n') return fail(h, l, co, "invalid characters in heredoc anchor");
    adv(h);
    const char *marker = h->p + ms;
    size_t body = h->pos;
    /* find the closing line */
    for (;;) {
        if (h->pos >= h->n) return fail(h, l, co, "heredoc not terminated");
        size_t ls = h->pos, le = ls;
        while (le < h->n && h->p[le] != '\n')
            le++;
        size_t ts = ls;
        if (indent)
            while (ts < le && (h->p[ts] == ' ' || h->p[ts] == '\t'))
                ts++;
        size_t te = le;
        if (te > ts && h->p[te - 1] == '\r') te--;
        if (te - ts == mlen && !memcmp(h->p + ts, marker, mlen)) {
            /* body is [body, ls) */
            if (!indent) {
                cn_buf_put(&h->sval, h->p + body, ls - body);
            } else {
                size_t minind = SIZE_MAX;
                for (size_t p = body; p < ls;) {
                    size_t e = p, ind = 0;
                    while (e < ls && h->p[e] != '\n')
                        e++;
                    while (p + ind < e && (h->p[p + ind] == ' ' || h->p[p + ind] == '\t'))
                        ind++;
                    if (p + ind < e && ind < minind) minind = ind;
                    p = e + 1;
                }
                if (minind == SIZE_MAX) minind = 0;
                for (size_t p = body; p < ls;) {
                    size_t e = p;
                    while (e < ls && h->p[e] != '\n')
                        e++;
                    size_t skip_n = CN_MIN(minind, e - p);
                    cn_buf_put(&h->sval, h->p + p + skip_n, e - p - skip_n);
                    if (e < ls) cn_buf_putc(&h->sval, '\n');
                    p = e + 1;
                }
            }
            while (h->pos < le)
                adv(h);
            return true;
        }
        while (h->pos < le)
            adv(h);
        adv(h); /* the newline */
    }
}

static bool scan_number(struct hcl *h, enum tok *t)
{
    *t = T_NUMBER;
    if (peekc(h, 0) == '-') adv(h);
    if (peekc(h, 0) == '0' && (peekc(h, 1) == 'x' || peekc(h, 1) == 'X')) {
        adv(h), adv(h);
        while (hexv(peekc(h, 0)) >= 0)
            adv(h);
        return true;
    }
    while (isdigit(peekc(h, 0)))
        adv(h);
    if (peekc(h, 0) == '.' && isdigit(peekc(h, 1))) {
        *t = T_FLOAT;
        adv(h);
        while (isdigit(peekc(h, 0)))
            adv(h);
    }
    if (peekc(h, 0) == 'e' || peekc(h, 0) == 'E') {
        *t = T_FLOAT;
        adv(h);
        if (peekc(h, 0) == '+' || peekc(h, 0) == '-') adv(h);
        while (isdigit(peekc(h, 0)))
            adv(h);
    }
    return true;
}

static bool next_tok(struct hcl *h)
{
    if (!skip(h)) return false;
    cn_buf_reset(&h->sval);
    h->tstart = h->pos;
    h->tline = h->line;
    h->tcol = h->col;
    int c = peekc(h, 0);
    bool ok = true;
    if (c < 0) {
        h->t = T_EOF;
    } else if (c == '"') {
        h->t = T_STRING;
        ok = scan_string(h);
    } else if (c == '<' && peekc(h, 1) == '<') {
        h->t = T_HEREDOC;
        ok = scan_heredoc(h);
    } else if (isdigit(c) || (c == '-' && isdigit(peekc(h, 1)))) {
        ok = scan_number(h, &h->t);
    } else if (is_ident_start(c)) {
        while (peekc(h, 0) >= 0 && is_ident(peekc(h, 0)))
            adv(h);
        size_t len = h->pos - h->tstart;
        h->t = (len == 4 && !memcmp(h->p + h->tstart, "true", 4)) ||
                       (len == 5 && !memcmp(h->p + h->tstart, "false", 5))
                   ? T_BOOL
                   : T_IDENT;
    } else {
        adv(h);
        switch (c) {
        case '[':
            h->t = T_LBRACK;
            break;
        case ']':
            h->t = T_RBRACK;
            break;
        case '{':
            h->t = T_LBRACE;
            break;
        case '}':
            h->t = T_RBRACE;
            break;
        case ',':
            h->t = T_COMMA;
            break;
        case '=':
            h->t = T_ASSIGN;
            break;
        default:
            h->t = T_ILLEGAL;
            return fail(h, h->tline, h->tcol, "illegal char '%c'", isprint(c) ? c : '?');
        }
    }
    h->tend = h->pos;
    return ok;
}

static json_t *parse_value(struct hcl *h);
static json_t *parse_object_body(struct hcl *h, enum tok end);

static bool expected(struct hcl *h, const char *what)
{
    return fail(h, h->tline, h->tcol, "expected: %s got: %s", what, tok_names[h->t]);
}

static json_t *parse_list(struct hcl *h)
{
    json_t *arr = json_array();
    if (!next_tok(h)) goto bad;
    for (;;) {
        if (h->t == T_RBRACK) break;
        json_t *v = parse_value(h);
        if (!v) goto bad;
        json_array_append_new(arr, v);
        if (h->t == T_COMMA) {
            if (!next_tok(h)) goto bad;
            continue;
        }
        if (h->t != T_RBRACK) {
            expected(h, "COMMA | RBRACK");
            goto bad;
        }
    }
    if (!next_tok(h)) goto bad;
    return arr;
bad:
    json_decref(arr);
    return NULL;
}

static json_t *number(struct hcl *h)
{
    char tmp[64];
    size_t len = h->tend - h->tstart;
    if (len >= sizeof tmp) {
        fail(h, h->tline, h->tcol, "number too long");
        return NULL;
    }
    memcpy(tmp, h->p + h->tstart, len);
    tmp[len] = '\0';
    char *end;
    errno = 0;
    if (h->t == T_FLOAT) {
        double d = strtod(tmp, &end);
        if (*end || errno) goto bad;
        return json_real(d);
    }
    long long v = strtoll(tmp, &end, 0); /* base 0: 0x hex, leading 0 octal */
    if (*end || errno) goto bad;
    return json_integer(v);
bad:
    fail(h, h->tline, h->tcol, "invalid number: %s", tmp);
    return NULL;
}

static json_t *parse_value(struct hcl *h)
{
    json_t *v = NULL;
    switch (h->t) {
    case T_STRING:
    case T_HEREDOC:
        v = json_stringn(h->sval.data ? h->sval.data : "", h->sval.len);
        break;
    case T_NUMBER:
    case T_FLOAT:
        v = number(h);
        break;
    case T_BOOL:
        v = json_boolean(h->p[h->tstart] == 't');
        break;
    case T_LBRACK:
        if (++h->depth > CN_HCL_DEPTH_MAX) {
            fail(h, h->tline, h->tcol, "nesting too deep (max %d)", CN_HCL_DEPTH_MAX);
            return NULL;
        }
        v = parse_list(h);
        h->depth--;
        return v;
    case T_LBRACE:
        if (++h->depth > CN_HCL_DEPTH_MAX) {
            fail(h, h->tline, h->tcol, "nesting too deep (max %d)", CN_HCL_DEPTH_MAX);
            return NULL;
        }
        if (!next_tok(h)) return NULL;
        v = parse_object_body(h, T_RBRACE);
        h->depth--;
        if (v && !next_tok(h)) {
            json_decref(v);
            return NULL;
        }
        return v;
    default:
        expected(h, "value");
        return NULL;
    }
    if (v && !next_tok(h)) {
        json_decref(v);
        return NULL;
    }
    if (!v && !h->err->code) fail(h, h->tline, h->tcol, "invalid value");
    return v;
}

/* Set key in obj; a repeated key turns into an array (multi tracks which
 * arrays came from repetition). */
static void put(json_t *obj, json_t *multi, const char *key, json_t *v)
{
    json_t *old = json_object_get(obj, key);
    if (!old) {
        json_object_set_new(obj, key, v);
        return;
    }
    if (json_object_get(multi, key)) {
        json_array_append_new(old, v);
        return;
    }
    json_t *arr = json_array();
    json_array_append(arr, old);
    json_array_append_new(arr, v);
    json_object_set_new(obj, key, arr);
    json_object_set_new(multi, key, json_true());
}

static char *key_text(struct hcl *h)
{
    if (h->t == T_STRING) return cn_strndup(h->sval.data ? h->sval.data : "", h->sval.len);
    return cn_strndup(h->p + h->tstart, h->tend - h->tstart);
}

static json_t *parse_object_body(struct hcl *h, enum tok end)
{
    json_t *obj = json_object(), *multi = json_object();
    char *keys[16];
    size_t nkeys = 0;
    for (;;) {
        if (h->t == end) break;
        if (h->t == T_EOF) {
            expected(h, "RBRACE");
            goto bad;
        }
        if (h->t != T_IDENT && h->t != T_STRING) {
            expected(h, "IDENT | STRING");
            goto bad;
        }
        int kl = h->tline, kc = h->tcol;
        nkeys = 0;
        while (h->t == T_IDENT || h->t == T_STRING) {
            if (nkeys == CN_ARRAY_SIZE(keys)) {
                fail(h, h->tline, h->tcol, "too many keys");
                goto bad;
            }
            keys[nkeys++] = key_text(h);
            if (!next_tok(h)) goto bad;
        }
        json_t *v;
        if (h->t == T_ASSIGN) {
            if (nkeys > 1) {
                fail(h, kl, kc, "nested object expected: LBRACE got: ASSIGN");
                goto bad;
            }
            if (!next_tok(h)) goto bad;
            v = parse_value(h);
        } else if (h->t == T_LBRACE) {
            v = parse_value(h);
        } else {
            expected(h, "ASSIGN | LBRACE");
            goto bad;
        }
        if (!v) goto bad;
        /* a "b" "c" { } nests the labels */
        for (size_t k = nkeys; k-- > 1;) {
            json_t *wrap = json_object();
            json_object_set_new(wrap, keys[k], v);
            v = wrap;
        }
        put(obj, multi, keys[0], v);
        for (size_t k = 0; k < nkeys; k++)
            free(keys[k]);
        nkeys = 0;
        /* items may be separated by a comma */
        if (h->t == T_COMMA && !next_tok(h)) goto bad;
    }
    json_decref(multi);
    return obj;
bad:
    for (size_t k = 0; k < nkeys; k++)
        free(keys[k]);
    json_decref(multi);
    json_decref(obj);
    return NULL;
}

json_t *cn_hcl_parse(const char *text, size_t len, struct cn_err *err)
{
    cn_err_clear(err);
    size_t i = 0;
    while (i < len && isspace((unsigned char)text[i]))
        i++;
    if (i < len && text[i] == '{') {
        json_t *j = cn_json_parse(text, len, err);
        if (j && !json_is_object(j)) {
            json_decref(j);
            cn_err_set(err, CN_EINVAL, "1:1: JSON document must be an object");
            return NULL;
        }
        return j;
    }
    struct hcl h = {.p = text, .n = len, .line = 1, .col = 1, .err = err};
    cn_buf_init(&h.sval, CN_BUF_UNLIMITED);
    json_t *obj = NULL;
    if (next_tok(&h)) obj = parse_object_body(&h, T_EOF);
    cn_buf_release(&h.sval);
    if (!obj && !err->code) cn_err_set(err, CN_EINVAL, "%d:%d: invalid HCL", h.tline, h.tcol);
    return obj;
}

int cn_hcl_each(json_t *v, int (*fn)(json_t *item, void *ctx), void *ctx)
{
    if (!json_is_array(v)) return fn(v, ctx);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        int rc = fn(e, ctx);
        if (rc) return rc;
    }
    return 0;
}
