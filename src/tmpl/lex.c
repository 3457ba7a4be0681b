/*
 * lex.c - Go text/template's lexer (text/template/parse/lex.go, Go 1.19):
 * the same items, the same trim-marker and comment rules, the same error
 * texts. It runs to the end (or the first error) up front; the parser then
 * walks the item array, which gives the same error order as Go's lazy lexer
 * because an error item ends the stream where Go's would.
 */
#include <string.h>

#include "lib/cn_common.h"
#include "tmpl/lex.h"

static bool is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_alnum(int c)
{
    /* bytes >= 0x80 are taken as letters (Go accepts Unicode letters) */
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c >= 0x80;
}

struct lexer {
    const char *in;
    size_t len;
    const char *ld, *rd;
    size_t ldl, rdl;
    size_t pos, start;
    int line, start_line;
    int paren;
    struct lex_items *out;
};

static void push(struct lexer *l, enum item_type t, size_t from, size_t to, int line)
{
    struct lex_items *o = l->out;
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 64;
        o->items = cn_realloc(o->items, o->cap * sizeof *o->items);
    }
    o->items[o->n++] = (struct item){t, (uint32_t)from, line, l->in + from, to - from};
}

/* Count newlines in [from, to) into the current line. */
static void lines(struct lexer *l, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        if (l->in[i] == '\n') l->line++;
}

static void emit(struct lexer *l, enum item_type t)
{
    push(l, t, l->start, l->pos, l->start_line);
    lines(l, l->start, l->pos);
    l->start = l->pos;
    l->start_line = l->line;
}

static void ignore(struct lexer *l)
{
    lines(l, l->start, l->pos);
    l->start = l->pos;
    l->start_line = l->line;
}

/* An error item carries its message (allocated in items->msgs). */
static bool errorf(struct lexer *l, const char *msg)
{
    struct lex_items *o = l->out;
    snprintf(o->err, sizeof o->err, "%s", msg);
    lines(l, l->start, l->pos);
    push(l, IT_ERROR, l->start, l->start, l->start_line);
    o->items[o->n - 1].s = o->err;
    o->items[o->n - 1].n = strlen(o->err);
    return false;
}

static int peekc(struct lexer *l)
{
    return l->pos < l->len ? (unsigned char)l->in[l->pos] : -1;
}

static bool has_prefix(struct lexer *l, size_t at, const char *p, size_t n)
{
    return at <= l->len && l->len - at >= n && !memcmp(l->in + at, p, n);
}

static bool has_left_trim(struct lexer *l, size_t at)
{
    return at + 2 <= l->len && l->in[at] == '-' && is_space((unsigned char)l->in[at + 1]);
}

static bool has_right_trim(struct lexer *l, size_t at)
{
    return at + 2 <= l->len && is_space((unsigned char)l->in[at]) && l->in[at + 1] == '-';
}

/* At the right delimiter (trim: with " -" before it). */
static bool at_right_delim(struct lexer *l, bool *trim)
{
    if (has_right_trim(l, l->pos) && has_prefix(l, l->pos + 2, l->rd, l->rdl)) {
        *trim = true;
        return true;
    }
    *trim = false;
    return has_prefix(l, l->pos, l->rd, l->rdl);
}

static size_t left_trim_len(struct lexer *l, size_t at)
{
    size_t i = at;
    while (i < l->len && is_space((unsigned char)l->in[i]))
        i++;
    return i - at;
}

static bool at_terminator(struct lexer *l)
{
    int c = peekc(l);
    if (c < 0 || is_space(c)) return true;
    if (c && strchr(".,|:)(", c)) return true;
    return has_prefix(l, l->pos, l->rd, l->rdl);
}

static bool lex_bad_char(struct lexer *l, int c)
{
    char msg[64];
    if (c < 0)
        snprintf(msg, sizeof msg, "bad character U+FFFD '\xef\xbf\xbd'");
    else if (c >= 0x20 && c < 0x7F)
        snprintf(msg, sizeof msg, "bad character U+%04X '%c'", c, c);
    else
        snprintf(msg, sizeof msg, "bad character U+%04X", c);
    return errorf(l, msg);
}

static bool lex_field_or_var(struct lexer *l, enum item_type t)
{
    if (at_terminator(l)) {
        emit(l, t == IT_VARIABLE ? IT_VARIABLE : IT_DOT);
        return true;
    }
    while (l->pos < l->len && is_alnum((unsigned char)l->in[l->pos]))
        l->pos++;
    if (!at_terminator(l)) return lex_bad_char(l, peekc(l));
    emit(l, t);
    return true;
}

static const struct {
    const char *word;
    enum item_type t;
} keywords[] = {
    {".", IT_DOT},
    {"block", IT_BLOCK},
    {"break", IT_BREAK},
    {"continue", IT_CONTINUE},
    {"define", IT_DEFINE},
    {"else", IT_ELSE},
    {"end", IT_END},
    {"if", IT_IF},
    {"range", IT_RANGE},
    {"nil", IT_NIL},
    {"template", IT_TEMPLATE},
    {"with", IT_WITH},
};

static bool lex_identifier(struct lexer *l)
{
    while (l->pos < l->len && is_alnum((unsigned char)l->in[l->pos]))
        l->pos++;
    if (!at_terminator(l)) return lex_bad_char(l, peekc(l));
    const char *w = l->in + l->start;
    size_t n = l->pos - l->start;
    for (size_t i = 0; i < CN_ARRAY_SIZE(keywords); i++) {
        if (strlen(keywords[i].word) == n && !memcmp(keywords[i].word, w, n)) {
            emit(l, keywords[i].t);
            return true;
        }
    }
    if ((n == 4 && !memcmp(w, "true", 4)) || (n == 5 && !memcmp(w, "false", 5)))
        emit(l, IT_BOOL);
    else
        emit(l, IT_IDENTIFIER);
    return true;
}

static bool accept(struct lexer *l, const char *valid)
{
    int c = peekc(l);
    if (c > 0 && strchr(valid, c)) {
        l->pos++;
        return true;
    }
    return false;
}

static void accept_run(struct lexer *l, const char *valid)
{
    while (accept(l, valid)) {
    }
}

static bool lex_number(struct lexer *l)
{
    const char *digits = "0123456789_";
    accept(l, "+-");
    if (accept(l, "0")) {
        if (accept(l, "xX"))
            digits = "0123456789abcdefABCDEF_";
        else if (accept(l, "oO"))
            digits = "01234567_";
        else if (accept(l, "bB"))
            digits = "01_";
    }
    accept_run(l, digits);
    if (accept(l, ".")) accept_run(l, digits);
    if (strlen(digits) == 11 && accept(l, "eE")) {
        accept(l, "+-");
        accept_run(l, "0123456789_");
    }
    if (strlen(digits) == 23 && accept(l, "pP")) {
        accept(l, "+-");
        accept_run(l, "0123456789_");
    }
    accept(l, "i");
    /* a sign right after is Go's complex syntax (1+2i), not supported */
    if (l->pos < l->len &&
        (is_alnum((unsigned char)l->in[l->pos]) || l->in[l->pos] == '+' || l->in[l->pos] == '-')) {
        l->pos++;
        char msg[96];
        snprintf(msg, sizeof msg, "bad number syntax: \"%.*s\"", (int)CN_MIN(l->pos - l->start, 60),
                 l->in + l->start);
        return errorf(l, msg);
    }
    emit(l, IT_NUMBER);
    return true;
}

static bool lex_quote(struct lexer *l)
{
    for (;;) {
        int c = peekc(l);
        if (c == '\\') {
            l->pos++;
            c = peekc(l);
            if (c >= 0 && c != '\n') {
                l->pos++;
                continue;
            }
        }
        if (c < 0 || c == '\n') return errorf(l, "unterminated quoted string");
        l->pos++;
        if (c == '"') break;
    }
    emit(l, IT_STRING);
    return true;
}

static bool lex_raw_quote(struct lexer *l)
{
    const char *end = memchr(l->in + l->pos, '`', l->len - l->pos);
    if (!end) return errorf(l, "unterminated raw quoted string");
    l->pos = (size_t)(end - l->in) + 1;
    emit(l, IT_RAW_STRING);
    return true;
}

static bool lex_char(struct lexer *l)
{
    for (;;) {
        int c = peekc(l);
        if (c == '\\') {
            l->pos++;
            c = peekc(l);
            if (c >= 0 && c != '\n') {
                l->pos++;
                continue;
            }
        }
        if (c < 0 || c == '\n') return errorf(l, "unterminated character constant");
        l->pos++;
        if (c == '\'') break;
    }
    emit(l, IT_CHAR_CONSTANT);
    return true;
}

/* Inside an action, up to and including the right delimiter. */
static bool lex_inside(struct lexer *l)
{
    for (;;) {
        bool trim;
        if (at_right_delim(l, &trim)) {
            if (l->paren) return errorf(l, "unclosed left paren");
            if (trim) {
                l->pos += 2;
                ignore(l);
            }
            l->pos += l->rdl;
            emit(l, IT_RIGHT_DELIM);
            if (trim) {
                l->pos += left_trim_len(l, l->pos);
                ignore(l);
            }
            return true;
        }
        int c = peekc(l);
        if (c < 0) return errorf(l, "unclosed action");
        if (is_space(c)) {
            size_t n = 0;
            while (l->pos < l->len && is_space((unsigned char)l->in[l->pos]))
                l->pos++, n++;
            /* a space may start " -}}": leave it for the delimiter */
            if (has_right_trim(l, l->pos - 1) && has_prefix(l, l->pos + 1, l->rd, l->rdl)) {
                l->pos--;
                if (n == 1) continue;
            }
            emit(l, IT_SPACE);
            continue;
        }
        l->pos++;
        bool ok = true;
        switch (c) {
        case '=':
            emit(l, IT_ASSIGN);
            break;
        case ':':
            if (peekc(l) != '=') return errorf(l, "expected :=");
            l->pos++;
            emit(l, IT_DECLARE);
            break;
        case '|':
            emit(l, IT_PIPE);
            break;
        case '"':
            ok = lex_quote(l);
            break;
        case '`':
            ok = lex_raw_quote(l);
            break;
        case '$':
            ok = lex_field_or_var(l, IT_VARIABLE);
            break;
        case '\'':
            ok = lex_char(l);
            break;
        case '(':
            emit(l, IT_LEFT_PAREN);
            l->paren++;
            break;
        case ')':
            emit(l, IT_RIGHT_PAREN);
            if (--l->paren < 0) return errorf(l, "unexpected right paren U+0029 ')'");
            break;
        default:
            if (c == '.' && (peekc(l) < '0' || peekc(l) > '9')) {
                ok = lex_field_or_var(l, IT_FIELD);
            } else if (c == '.' || c == '+' || c == '-' || (c >= '0' && c <= '9')) {
                l->pos--;
                ok = lex_number(l);
            } else if (is_alnum(c)) {
                l->pos--;
                ok = lex_identifier(l);
            } else if (c < 0x7F && c >= 0x20) {
                emit(l, IT_CHAR);
            } else {
                char msg[80];
                snprintf(msg, sizeof msg, "unrecognized character in action: U+%04X", c);
                return errorf(l, msg);
            }
        }
        if (!ok) return false;
    }
}

static bool lex_comment(struct lexer *l)
{
    l->pos += 2;
    const char *end = NULL;
    for (size_t i = l->pos; i + 1 < l->len; i++)
        if (l->in[i] == '*' && l->in[i + 1] == '/') {
            end = l->in + i;
            break;
        }
    if (!end) return errorf(l, "unclosed comment");
    l->pos = (size_t)(end - l->in) + 2;
    bool trim;
    if (!at_right_delim(l, &trim)) return errorf(l, "comment ends before closing delimiter");
    if (trim) l->pos += 2;
    l->pos += l->rdl;
    if (trim) l->pos += left_trim_len(l, l->pos);
    ignore(l);
    return true;
}

void lex_run(const char *in, size_t len, const char *ld, const char *rd, struct lex_items *out)
{
    struct lexer l = {.in = in,
                      .len = len,
                      .ld = ld,
                      .rd = rd,
                      .ldl = strlen(ld),
                      .rdl = strlen(rd),
                      .line = 1,
                      .start_line = 1,
                      .out = out};
    memset(out, 0, sizeof *out);
    for (;;) {
        /* text up to the next left delimiter */
        const char *p = NULL;
        for (size_t i = l.pos; i + l.ldl <= l.len; i++)
            if (in[i] == ld[0] && !memcmp(in + i, ld, l.ldl)) {
                p = in + i;
                break;
            }
        if (!p) {
            l.pos = l.len;
            if (l.pos > l.start) emit(&l, IT_TEXT);
            push(&l, IT_EOF, l.pos, l.pos, l.line);
            return;
        }
        size_t at = (size_t)(p - in);
        bool trim = has_left_trim(&l, at + l.ldl);
        size_t end = at;
        if (trim)
            while (end > l.start && is_space((unsigned char)in[end - 1]))
                end--;
        l.pos = end;
        if (l.pos > l.start) emit(&l, IT_TEXT);
        l.pos = at;
        ignore(&l);
        /* the left delimiter */
        size_t after = at + l.ldl + (trim ? 2 : 0);
        if (has_prefix(&l, after, "/*", 2)) {
            l.pos = after;
            if (!lex_comment(&l)) return;
            continue;
        }
        l.pos = at + l.ldl;
        emit(&l, IT_LEFT_DELIM);
        l.pos = after;
        ignore(&l);
        l.paren = 0;
        if (!lex_inside(&l)) return;
    }
}

void lex_items_release(struct lex_items *it)
{
    free(it->items);
    it->items = NULL;
}
