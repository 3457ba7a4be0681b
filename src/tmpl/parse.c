/*
 * parse.c - Go text/template's parser (text/template/parse/parse.go, Go
 * 1.19) over the lexer's items: the same grammar, variable scoping, else-if
 * rewriting, define/block/template, break/continue, function checks and
 * error texts ("template: :<line>: <msg>"; consul-template names its
 * templates "", hence ": :").
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cn_common.h"
#include "tmpl/lex.h"
#include "tmpl/tmpl_int.h"

struct vscope;

/* Internal node types for the ends of lists. */
#define N_END  100
#define N_ELSE 101

struct parser {
    struct tmpl *t;
    struct cn_arena *a;
    struct item *items;
    size_t n, i, hi;
    const char **vars;
    size_t nvars, capvars;
    int range_depth;
    int depth;
    int action_line;
    struct tmpl_error *err;
    struct vscope *outer; /* variables of the enclosing template, while in a define */
    jmp_buf jb;
};

/* ---- errors ---------------------------------------------------------- */

void tmpl_line_col(const char *text, size_t pos, int *line, int *col)
{
    int l = 1;
    size_t last = 0;
    bool nl = false;
    for (size_t i = 0; i < pos; i++)
        if (text[i] == '\n') {
            l++;
            last = i;
            nl = true;
        }
    *line = l;
    *col = (int)(nl ? pos - last - 1 : pos);
}

CN_NORETURN CN_PRINTF(2, 3) static void p_fail(struct parser *p, const char *fmt, ...)
{
    const struct item *it = &p->items[p->hi];
    char msg[CN_ERR_MSG_MAX - 32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(p->err->msg, sizeof p->err->msg, "template: :%d: %s", it->line, msg);
    int line, col;
    tmpl_line_col(p->t->text, it->pos, &line, &col);
    p->err->line = it->line;
    p->err->col = col + 1;
    longjmp(p->jb, 1);
}

/* Go's item String(). */
static void item_str(char *out, size_t outlen, const struct item *it)
{
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    if (it->type == IT_EOF) {
        cn_buf_puts(&b, "EOF");
    } else if (it->type == IT_ERROR) {
        cn_buf_put(&b, it->s, it->n);
    } else if (it->type > IT_KEYWORD) {
        cn_buf_putf(&b, "<%.*s>", (int)it->n, it->s);
    } else if (it->n > 10) {
        /* %.10q: the first ten runes, quoted */
        size_t n = 0;
        for (int r = 0; r < 10 && n < it->n; r++) {
            n++;
            while (n < it->n && ((unsigned char)it->s[n] & 0xC0) == 0x80)
                n++;
        }
        go_quote(&b, it->s, n, false);
        cn_buf_puts(&b, "...");
    } else {
        go_quote(&b, it->s, it->n, false);
    }
    snprintf(out, outlen, "%s", b.data ? b.data : "");
    cn_buf_release(&b);
}

CN_NORETURN static void unexpected(struct parser *p, const struct item *it, const char *context)
{
    char s[128];
    item_str(s, sizeof s, it);
    if (it->type == IT_ERROR) {
        char extra[64] = "";
        if (p->action_line != 0 && p->action_line != it->line) {
            bool action = it->n >= 7 && !memcmp(it->s + it->n - 7, " action", 7);
            snprintf(extra, sizeof extra, "%s started at :%d", action ? "" : " in action",
                     p->action_line);
        }
        p_fail(p, "%s%s", s, extra);
    }
    p_fail(p, "unexpected %s in %s", s, context);
}

/* ---- items ----------------------------------------------------------- */

/* Past the end the last item (EOF or an error) repeats; i still moves so
 * that backup() undoes exactly one next(). */
static const struct item *at_index(struct parser *p, size_t i)
{
    return &p->items[i < p->n ? i : p->n - 1];
}

static const struct item *next(struct parser *p)
{
    const struct item *it = at_index(p, p->i);
    if (p->i > p->hi && p->i < p->n) p->hi = p->i;
    p->i++;
    return it;
}

static void backup(struct parser *p)
{
    p->i--;
}

static const struct item *peek(struct parser *p)
{
    if (p->i > p->hi && p->i < p->n) p->hi = p->i;
    return at_index(p, p->i);
}

static const struct item *next_non_space(struct parser *p)
{
    const struct item *it;
    do {
        it = next(p);
    } while (it->type == IT_SPACE);
    return it;
}

static const struct item *peek_non_space(struct parser *p)
{
    const struct item *it = next_non_space(p);
    backup(p);
    return it;
}

static const struct item *expect(struct parser *p, enum item_type t, const char *context)
{
    const struct item *it = next_non_space(p);
    if (it->type != t) unexpected(p, it, context);
    return it;
}

/* ---- nodes ----------------------------------------------------------- */

static struct node *new_node(struct parser *p, int type, uint32_t pos)
{
    struct node *n = CN_ARENA_NEW(p->a, struct node);
    n->type = (uint8_t)type;
    n->pos = pos;
    return n;
}

struct nodes {
    struct node **items;
    size_t n, cap;
};

static void nodes_push(struct parser *p, struct nodes *l, struct node *n)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        struct node **items = cn_arena_alloc(p->a, cap * sizeof *items);
        if (l->n) memcpy(items, l->items, l->n * sizeof *items);
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n++] = n;
}

static struct node *list_node(struct parser *p, uint32_t pos, struct nodes *l)
{
    struct node *n = new_node(p, N_LIST, pos);
    n->list.items = l->items;
    n->list.n = l->n;
    return n;
}

static const char *dup(struct parser *p, const char *s, size_t n)
{
    return cn_arena_strndup(p->a, s, n);
}

/* ---- variables ------------------------------------------------------- */

static void push_var(struct parser *p, const char *name)
{
    if (p->nvars == p->capvars) {
        p->capvars = p->capvars ? p->capvars * 2 : 16;
        p->vars = cn_realloc(p->vars, p->capvars * sizeof *p->vars);
    }
    p->vars[p->nvars++] = name;
}

/* define and block bodies are new templates: only "$" is in scope. The
 * outer variables are kept aside (freed by tmpl_parse on an error). */
struct vscope {
    const char **vars;
    size_t n, cap;
    struct vscope *prev;
};

static void scope_enter(struct parser *p, struct vscope *saved)
{
    saved->vars = p->vars;
    saved->n = p->nvars;
    saved->cap = p->capvars;
    p->vars = NULL;
    p->nvars = p->capvars = 0;
    push_var(p, "$");
    saved->prev = p->outer;
    p->outer = saved;
}

static void scope_leave(struct parser *p, struct vscope *saved)
{
    free(p->vars);
    p->vars = saved->vars;
    p->nvars = saved->n;
    p->capvars = saved->cap;
    p->outer = saved->prev;
}

/* "$x.a.b" -> idents ["$x", "a", "b"] (also ".a.b" -> ["a", "b"]). */
static void split_idents(struct parser *p, const char *s, size_t n, struct node *node)
{
    struct nodes parts = {0};
    size_t i = 0;
    if (n && s[0] == '.') i = 1;
    while (i <= n) {
        size_t j = i;
        while (j < n && s[j] != '.')
            j++;
        nodes_push(p, &parts, (struct node *)dup(p, s + i, j - i));
        i = j + 1;
    }
    node->ids.idents = (const char **)parts.items;
    node->ids.n = parts.n;
}

static struct node *use_var(struct parser *p, const struct item *it)
{
    struct node *v = new_node(p, N_VAR, it->pos);
    split_idents(p, it->s, it->n, v);
    for (size_t i = p->nvars; i-- > 0;)
        if (!strcmp(p->vars[i], v->ids.idents[0])) return v;
    p_fail(p, "undefined variable \"%s\"", v->ids.idents[0]);
}

/* ---- literals -------------------------------------------------------- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void put_rune(struct cn_buf *b, uint32_t r)
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

/* strconv.UnquoteChar: one (possibly escaped) character of a quoted
 * literal at s[*i]; appends its bytes, returns its rune (-1 on a bad
 * escape). Raw bytes are copied as they are. */
static long unquote_char(const char *s, size_t n, size_t *i, char quote, struct cn_buf *b,
                         bool *multibyte)
{
    unsigned char c = (unsigned char)s[*i];
    *multibyte = false;
    if (c != '\\') {
        size_t start = *i;
        (*i)++;
        if (c >= 0x80) {
            while (*i < n && ((unsigned char)s[*i] & 0xC0) == 0x80)
                (*i)++;
            *multibyte = true;
        }
        cn_buf_put(b, s + start, *i - start);
        return c;
    }
    if (*i + 1 >= n) return -1;
    c = (unsigned char)s[*i + 1];
    *i += 2;
    long v = 0;
    int digits = 0;
    switch (c) {
    case 'a':
        cn_buf_putc(b, '\a');
        return '\a';
    case 'b':
        cn_buf_putc(b, '\b');
        return '\b';
    case 'f':
        cn_buf_putc(b, '\f');
        return '\f';
    case 'n':
        cn_buf_putc(b, '\n');
        return '\n';
    case 'r':
        cn_buf_putc(b, '\r');
        return '\r';
    case 't':
        cn_buf_putc(b, '\t');
        return '\t';
    case 'v':
        cn_buf_putc(b, '\v');
        return '\v';
    case '\\':
        cn_buf_putc(b, '\\');
        return '\\';
    case '\'':
    case '"':
        if (c != (unsigned char)quote) return -1;
        cn_buf_putc(b, (char)c);
        return c;
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
        if (c >= '0' && c <= '7') {
            v = c - '0';
            for (int k = 0; k < 2; k++) {
                if (*i >= n || s[*i] < '0' || s[*i] > '7') return -1;
                v = v * 8 + (s[(*i)++] - '0');
            }
            if (v > 255) return -1;
            cn_buf_putc(b, (char)v);
            return v;
        }
        return -1;
    }
    for (int k = 0; k < digits; k++) {
        if (*i >= n || hexval((unsigned char)s[*i]) < 0) return -1;
        v = v * 16 + hexval((unsigned char)s[(*i)++]);
    }
    if (c == 'x') {
        cn_buf_putc(b, (char)v);
        return v;
    }
    if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return -1;
    put_rune(b, (uint32_t)v);
    *multibyte = true;
    return v;
}

/* strconv.Unquote of a "..." or `...` literal into an arena string. */
static bool unquote(struct parser *p, const struct item *it, const char **out, size_t *outlen)
{
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    const char *s = it->s;
    size_t n = it->n;
    bool ok = n >= 2 && s[0] == s[n - 1];
    if (ok && s[0] == '`') {
        for (size_t i = 1; i + 1 < n; i++)
            if (s[i] != '\r') cn_buf_putc(&b, s[i]);
    } else if (ok) {
        for (size_t i = 1; i + 1 < n && ok;) {
            bool mb;
            if (s[i] == '"')
                ok = false;
            else if (unquote_char(s, n - 1, &i, '"', &b, &mb) < 0)
                ok = false;
        }
    }
    if (ok) {
        *out = dup(p, b.data ? b.data : "", b.len);
        *outlen = b.len;
    }
    cn_buf_release(&b);
    return ok;
}

/* Go's underscoreOK: underscores only between digits (or after a base
 * prefix). */
static bool underscore_ok(const char *s, size_t n)
{
    char saw = '^';
    size_t i = 0;
    bool hex = false;
    if (n && (s[0] == '-' || s[0] == '+')) s++, n--;
    if (n >= 2 && s[0] == '0' && s[1] && strchr("xXbBoO", s[1])) {
        i = 2;
        saw = '0';
        hex = (s[1] | 0x20) == 'x';
    }
    for (; i < n; i++) {
        char c = s[i];
        if ((c >= '0' && c <= '9') || (hex && hexval((unsigned char)c) >= 0)) {
            saw = '0';
        } else if (c == '_') {
            if (saw != '0') return false;
            saw = '_';
        } else {
            if (saw == '_') return false;
            saw = '!';
        }
    }
    return saw != '_';
}

/* strconv.ParseUint/ParseInt with base 0: prefixes 0x 0o 0b, a leading 0
 * for octal, underscores between digits; neg for a leading '-'. */
static bool parse_go_uint(const char *s, size_t n, bool allow_sign, bool *neg, uint64_t *out)
{
    size_t i = 0;
    *neg = false;
    if (!underscore_ok(s, n)) return false;
    if (allow_sign && i < n && (s[i] == '+' || s[i] == '-')) *neg = s[i++] == '-';
    if (i >= n) return false;
    int base = 10;
    bool any = false;
    if (s[i] == '0' && i + 1 < n) {
        char c = (char)(s[i + 1] | 0x20);
        if (c == 'x' || c == 'o' || c == 'b') {
            base = c == 'x' ? 16 : c == 'o' ? 8 : 2;
            i += 2;
        } else {
            base = 8;
            i += 1;
            any = true; /* the leading 0 is a digit */
        }
    }
    uint64_t v = 0;
    for (; i < n; i++) {
        if (s[i] == '_') continue;
        int d = hexval((unsigned char)s[i]);
        if (d < 0 || d >= base) return false;
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) return false;
        v = v * (uint64_t)base + (uint64_t)d;
        any = true;
    }
    if (!any) return false;
    *out = v;
    return true;
}

static struct node *new_number(struct parser *p, const struct item *it)
{
    struct node *n = new_node(p, N_NUMBER, it->pos);
    n->num.text = dup(p, it->s, it->n);
    n->num.tlen = it->n;
    if (it->type == IT_CHAR_CONSTANT) {
        struct cn_buf b;
        cn_buf_init(&b, CN_BUF_UNLIMITED);
        size_t i = 1;
        bool mb;
        long r = it->n >= 3 ? unquote_char(it->s, it->n - 1, &i, '\'', &b, &mb) : -1;
        cn_buf_release(&b);
        if (r < 0) p_fail(p, "invalid syntax");
        if (i != it->n - 1) p_fail(p, "malformed character constant: %.*s", (int)it->n, it->s);
        if (!mb && r >= 0x80) r = 0xFFFD;
        n->num.is_int = n->num.is_uint = n->num.is_float = n->num.is_char = true;
        n->num.i = r;
        n->num.u = (uint64_t)r;
        n->num.f = (double)r;
        return n;
    }
    const char *s = it->s;
    size_t len = it->n;
    bool neg;
    uint64_t u;
    if (parse_go_uint(s, len, false, &neg, &u)) {
        n->num.is_uint = true;
        n->num.u = u;
    }
    if (parse_go_uint(s, len, true, &neg, &u)) {
        if (!neg && u <= INT64_MAX) {
            n->num.is_int = true;
            n->num.i = (int64_t)u;
        } else if (neg && u <= (uint64_t)INT64_MAX + 1) {
            n->num.is_int = true;
            n->num.i = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
            if (u == 0) n->num.is_uint = true, n->num.u = 0;
        }
    }
    if (n->num.is_int) {
        n->num.is_float = true;
        n->num.f = (double)n->num.i;
    } else if (n->num.is_uint) {
        n->num.is_float = true;
        n->num.f = (double)n->num.u;
    } else {
        /* a float: Go allows underscores only between digits */
        char tmp[128];
        size_t k = 0;
        bool bad = len >= sizeof tmp;
        for (size_t i = 0; i < len && !bad; i++)
            if (s[i] != '_') tmp[k++] = s[i];
        tmp[k] = '\0';
        if (!bad && k && strpbrk(tmp, "0123456789") && !strpbrk(tmp, "iInN")) {
            char *end;
            errno = 0;
            double f = strtod(tmp, &end);
            bool hex = strpbrk(tmp, "xX") != NULL;
            if (*end == '\0' && errno == 0 && (!hex || strpbrk(tmp, "pP"))) {
                if (!strpbrk(tmp, ".eEpP")) p_fail(p, "integer overflow: \"%s\"", n->num.text);
                n->num.is_float = true;
                n->num.f = f;
                if (f >= -9.2e18 && f <= 9.2e18 && f == (double)(int64_t)f) {
                    n->num.is_int = true;
                    n->num.i = (int64_t)f;
                }
                if (f >= 0 && f <= 1.8e19 && f == (double)(uint64_t)f) {
                    n->num.is_uint = true;
                    n->num.u = (uint64_t)f;
                }
            } else if (errno == ERANGE && !strpbrk(tmp, ".eEpP")) {
                p_fail(p, "integer overflow: \"%s\"", n->num.text);
            }
        }
    }
    if (!n->num.is_int && !n->num.is_uint && !n->num.is_float)
        p_fail(p, "illegal number syntax: \"%.*s\"", (int)CN_MIN(len, 60), s);
    return n;
}

/* ---- grammar --------------------------------------------------------- */

static struct node *pipeline(struct parser *p, const char *context, enum item_type end);
static struct node *item_list(struct parser *p, struct node **next_out);

static void enter(struct parser *p)
{
    if (++p->depth > TMPL_NEST_MAX) p_fail(p, "template nesting too deep (max %d)", TMPL_NEST_MAX);
}

static struct node *term(struct parser *p)
{
    const struct item *it = next_non_space(p);
    struct node *n;
    switch (it->type) {
    case IT_IDENTIFIER: {
        const struct tfunc *f = tfunc_find(it->s, it->n);
        if (!f) p_fail(p, "function \"%.*s\" not defined", (int)CN_MIN(it->n, 200), it->s);
        n = new_node(p, N_IDENT, it->pos);
        n->ident.name = f->name;
        n->ident.fn = f;
        return n;
    }
    case IT_DOT:
        return new_node(p, N_DOT, it->pos);
    case IT_NIL:
        return new_node(p, N_NIL, it->pos);
    case IT_VARIABLE:
        return use_var(p, it);
    case IT_FIELD:
        n = new_node(p, N_FIELD, it->pos);
        split_idents(p, it->s, it->n, n);
        return n;
    case IT_BOOL:
        n = new_node(p, N_BOOL, it->pos);
        n->b = it->n == 4;
        return n;
    case IT_CHAR_CONSTANT:
    case IT_NUMBER:
        return new_number(p, it);
    case IT_LEFT_PAREN: {
        enter(p);
        n = pipeline(p, "parenthesized pipeline", IT_RIGHT_PAREN);
        p->depth--;
        return n;
    }
    case IT_STRING:
    case IT_RAW_STRING:
        n = new_node(p, N_STRING, it->pos);
        if (!unquote(p, it, &n->text.s, &n->text.len)) p_fail(p, "invalid syntax");
        n->text.quoted = dup(p, it->s, it->n);
        n->text.qlen = it->n;
        return n;
    default:
        backup(p);
        return NULL;
    }
}

static struct node *operand(struct parser *p)
{
    struct node *n = term(p);
    if (!n || peek(p)->type != IT_FIELD) return n;
    struct nodes fields = {0};
    uint32_t pos = peek(p)->pos;
    while (peek(p)->type == IT_FIELD) {
        const struct item *f = next(p);
        nodes_push(p, &fields, (struct node *)dup(p, f->s + 1, f->n - 1));
    }
    switch (n->type) {
    case N_FIELD:
    case N_VAR: {
        /* more fields on the original */
        size_t total = n->ids.n + fields.n;
        const char **ids = cn_arena_alloc(p->a, total * sizeof *ids);
        memcpy(ids, n->ids.idents, n->ids.n * sizeof *ids);
        memcpy(ids + n->ids.n, fields.items, fields.n * sizeof *ids);
        n->ids.idents = ids;
        n->ids.n = total;
        return n;
    }
    case N_BOOL:
    case N_STRING:
    case N_NUMBER:
    case N_NIL:
    case N_DOT: {
        struct cn_buf b;
        cn_buf_init(&b, CN_BUF_UNLIMITED);
        node_string(&b, n);
        char s[128];
        snprintf(s, sizeof s, "%s", b.data ? b.data : "");
        cn_buf_release(&b);
        struct cn_buf q;
        cn_buf_init(&q, CN_BUF_UNLIMITED);
        go_quote(&q, s, strlen(s), false);
        snprintf(s, sizeof s, "%s", q.data);
        cn_buf_release(&q);
        p_fail(p, "unexpected . after term %s", s);
    }
    default: {
        struct node *c = new_node(p, N_CHAIN, pos);
        c->ids.node = n;
        c->ids.idents = (const char **)fields.items;
        c->ids.n = fields.n;
        return c;
    }
    }
}

static struct node *command(struct parser *p)
{
    struct node *cmd = new_node(p, N_CMD, peek_non_space(p)->pos);
    struct nodes args = {0};
    for (;;) {
        peek_non_space(p);
        struct node *o = operand(p);
        if (o) nodes_push(p, &args, o);
        const struct item *it = next(p);
        if (it->type == IT_SPACE) continue;
        if (it->type == IT_RIGHT_DELIM || it->type == IT_RIGHT_PAREN)
            backup(p);
        else if (it->type != IT_PIPE)
            unexpected(p, it, "operand");
        break;
    }
    if (args.n == 0) p_fail(p, "empty command");
    cmd->cmd.args = args.items;
    cmd->cmd.n = args.n;
    return cmd;
}

static void check_pipeline(struct parser *p, struct node *pipe, const char *context)
{
    if (pipe->pipe.ncmd == 0) p_fail(p, "missing value for %s", context);
    for (size_t i = 1; i < pipe->pipe.ncmd; i++) {
        int t = pipe->pipe.cmds[i]->cmd.args[0]->type;
        if (t == N_BOOL || t == N_DOT || t == N_NIL || t == N_NUMBER || t == N_STRING)
            p_fail(p, "non executable command in pipeline stage %zu", i + 1);
    }
}

static struct node *pipeline(struct parser *p, const char *context, enum item_type end)
{
    const struct item *tok = peek_non_space(p);
    struct node *pipe = new_node(p, N_PIPE, tok->pos);
    struct nodes decl = {0}, cmds = {0};
decls:;
    const struct item *v = peek_non_space(p);
    if (v->type == IT_VARIABLE) {
        size_t vi = p->i;
        next(p);
        const struct item *after = peek(p);
        const struct item *nx = peek_non_space(p);
        if (nx->type == IT_ASSIGN || nx->type == IT_DECLARE) {
            pipe->pipe.is_assign = nx->type == IT_ASSIGN;
            next_non_space(p);
            nodes_push(p, &decl, (struct node *)dup(p, v->s, v->n));
            push_var(p, (const char *)decl.items[decl.n - 1]);
        } else if (nx->type == IT_CHAR && nx->n == 1 && nx->s[0] == ',') {
            next_non_space(p);
            nodes_push(p, &decl, (struct node *)dup(p, v->s, v->n));
            push_var(p, (const char *)decl.items[decl.n - 1]);
            if (!strcmp(context, "range") && decl.n < 2) {
                int t = peek_non_space(p)->type;
                if (t == IT_VARIABLE || t == IT_RIGHT_DELIM || t == IT_RIGHT_PAREN) goto decls;
                p_fail(p, "range can only initialize variables");
            }
            p_fail(p, "too many declarations in %s", context);
        } else if (after->type == IT_SPACE) {
            p->i = vi;
        } else {
            p->i = vi;
        }
    }
    pipe->pipe.decl = (const char **)decl.items;
    pipe->pipe.ndecl = decl.n;
    for (;;) {
        const struct item *it = next_non_space(p);
        if (it->type == end) {
            pipe->pipe.cmds = cmds.items;
            pipe->pipe.ncmd = cmds.n;
            check_pipeline(p, pipe, context);
            return pipe;
        }
        switch (it->type) {
        case IT_BOOL:
        case IT_CHAR_CONSTANT:
        case IT_DOT:
        case IT_FIELD:
        case IT_IDENTIFIER:
        case IT_NUMBER:
        case IT_NIL:
        case IT_RAW_STRING:
        case IT_STRING:
        case IT_VARIABLE:
        case IT_LEFT_PAREN:
            backup(p);
            nodes_push(p, &cmds, command(p));
            break;
        default:
            unexpected(p, it, context);
        }
    }
}

/* if/range/with: pipeline, list, optional else list. */
static struct node *control(struct parser *p, int type, bool allow_else_if, const char *context)
{
    size_t mark = p->nvars;
    enter(p);
    struct node *n;
    struct node *pipe = pipeline(p, context, IT_RIGHT_DELIM);
    n = new_node(p, type, pipe->pos);
    n->ctl.pipe = pipe;
    if (type == N_RANGE) p->range_depth++;
    struct node *nx;
    n->ctl.list = item_list(p, &nx);
    if (type == N_RANGE) p->range_depth--;
    if (nx->type == N_ELSE) {
        if (allow_else_if && peek(p)->type == IT_IF) {
            /* {{else if b}} is {{else}}{{if b}}...{{end}}{{end}}: one {{end}} */
            next(p);
            struct nodes l = {0};
            nodes_push(p, &l, control(p, N_IF, true, "if"));
            n->ctl.else_list = list_node(p, nx->pos, &l);
        } else {
            n->ctl.else_list = item_list(p, &nx);
            if (nx->type != N_END) p_fail(p, "expected end; found {{else}}");
        }
    }
    p->nvars = mark;
    p->depth--;
    return n;
}

static const char *template_name(struct parser *p, const struct item *it, const char *context)
{
    if (it->type != IT_STRING && it->type != IT_RAW_STRING) unexpected(p, it, context);
    const char *s;
    size_t n;
    if (!unquote(p, it, &s, &n)) p_fail(p, "invalid syntax");
    return s;
}

static void add_def(struct parser *p, const char *name, struct node *root);

static struct node *action(struct parser *p)
{
    const struct item *it = next_non_space(p);
    struct node *n;
    switch (it->type) {
    case IT_BLOCK: {
        const char *context = "block clause";
        const struct item *nt = next_non_space(p);
        const char *name = template_name(p, nt, context);
        struct node *pipe = pipeline(p, context, IT_RIGHT_DELIM);
        /* the body is a new template with its own variables */
        struct vscope saved;
        int saved_range = p->range_depth;
        scope_enter(p, &saved);
        p->range_depth = 0;
        enter(p);
        struct node *end;
        struct node *body = item_list(p, &end);
        if (end->type != N_END) p_fail(p, "unexpected {{else}} in %s", context);
        p->depth--;
        scope_leave(p, &saved);
        p->range_depth = saved_range;
        add_def(p, name, body);
        n = new_node(p, N_TEMPLATE, nt->pos);
        n->ctl.name = name;
        n->ctl.pipe = pipe;
        return n;
    }
    case IT_BREAK:
    case IT_CONTINUE: {
        const char *what = it->type == IT_BREAK ? "{{break}}" : "{{continue}}";
        n = new_node(p, it->type == IT_BREAK ? N_BREAK : N_CONTINUE, it->pos);
        const struct item *t2 = next_non_space(p);
        if (t2->type != IT_RIGHT_DELIM) unexpected(p, t2, what);
        if (p->range_depth == 0) p_fail(p, "%s outside {{range}}", what);
        return n;
    }
    case IT_ELSE: {
        const struct item *pk = peek_non_space(p);
        if (pk->type == IT_IF) return new_node(p, N_ELSE, pk->pos);
        return new_node(p, N_ELSE, expect(p, IT_RIGHT_DELIM, "else")->pos);
    }
    case IT_END:
        return new_node(p, N_END, expect(p, IT_RIGHT_DELIM, "end")->pos);
    case IT_IF:
        return control(p, N_IF, true, "if");
    case IT_RANGE:
        return control(p, N_RANGE, false, "range");
    case IT_WITH:
        return control(p, N_WITH, false, "with");
    case IT_TEMPLATE: {
        const char *context = "template clause";
        const struct item *nt = next_non_space(p);
        n = new_node(p, N_TEMPLATE, nt->pos);
        n->ctl.name = template_name(p, nt, context);
        if (next_non_space(p)->type != IT_RIGHT_DELIM) {
            backup(p);
            n->ctl.pipe = pipeline(p, context, IT_RIGHT_DELIM);
        }
        return n;
    }
    default:
        break;
    }
    backup(p);
    const struct item *tok = peek(p);
    n = new_node(p, N_ACTION, tok->pos);
    n->ctl.pipe = pipeline(p, "command", IT_RIGHT_DELIM);
    return n;
}

static struct node *text_or_action(struct parser *p)
{
    const struct item *it = next_non_space(p);
    struct node *n;
    switch (it->type) {
    case IT_TEXT:
        n = new_node(p, N_TEXT, it->pos);
        n->text.s = dup(p, it->s, it->n);
        n->text.len = it->n;
        return n;
    case IT_LEFT_DELIM:
        p->action_line = it->line;
        n = action(p);
        p->action_line = 0;
        return n;
    default:
        unexpected(p, it, "input");
    }
}

static struct node *item_list(struct parser *p, struct node **next_out)
{
    struct nodes l = {0};
    uint32_t pos = peek_non_space(p)->pos;
    while (peek_non_space(p)->type != IT_EOF) {
        struct node *n = text_or_action(p);
        if (n->type == N_END || n->type == N_ELSE) {
            *next_out = n;
            return list_node(p, pos, &l);
        }
        nodes_push(p, &l, n);
    }
    p_fail(p, "unexpected EOF");
}

static bool empty_tree(const struct node *n)
{
    if (!n) return true;
    if (n->type == N_LIST) {
        for (size_t i = 0; i < n->list.n; i++)
            if (!empty_tree(n->list.items[i])) return false;
        return true;
    }
    if (n->type == N_TEXT) {
        for (size_t i = 0; i < n->text.len; i++)
            if (!n->text.s[i] || !strchr(" \t\r\n", n->text.s[i])) return false;
        return true;
    }
    return n->type == N_COMMENT;
}

static void add_def(struct parser *p, const char *name, struct node *root)
{
    for (struct tdef *d = p->t->defs; d; d = d->next) {
        if (strcmp(d->name, name)) continue;
        if (empty_tree(d->root)) {
            d->root = root;
            return;
        }
        if (!empty_tree(root)) p_fail(p, "template: multiple definition of template \"%s\"", name);
        return;
    }
    struct tdef *d = CN_ARENA_NEW(p->a, struct tdef);
    d->name = name;
    d->root = root;
    d->next = p->t->defs;
    p->t->defs = d;
}

static void parse_definition(struct parser *p)
{
    const char *context = "define clause";
    const struct item *nt = next_non_space(p);
    if (nt->type != IT_STRING && nt->type != IT_RAW_STRING) unexpected(p, nt, context);
    const char *name = template_name(p, nt, context);
    expect(p, IT_RIGHT_DELIM, context);
    struct vscope saved;
    scope_enter(p, &saved);
    struct node *end;
    struct node *body = item_list(p, &end);
    if (end->type != N_END) p_fail(p, "unexpected {{else}} in %s", context);
    scope_leave(p, &saved);
    add_def(p, name, body);
}

static void parse_top(struct parser *p)
{
    struct nodes l = {0};
    push_var(p, "$");
    while (peek(p)->type != IT_EOF) {
        if (peek(p)->type == IT_LEFT_DELIM) {
            size_t at = p->i;
            next(p);
            if (next_non_space(p)->type == IT_DEFINE) {
                parse_definition(p);
                continue;
            }
            p->i = at;
        }
        struct node *n = text_or_action(p);
        if (n->type == N_END) p_fail(p, "unexpected {{end}}");
        if (n->type == N_ELSE) p_fail(p, "unexpected {{else}}");
        nodes_push(p, &l, n);
    }
    p->t->root = list_node(p, 0, &l);
}

struct tmpl *tmpl_parse(const char *text, size_t len, const struct tmpl_parse_opts *o,
                        struct tmpl_error *err)
{
    struct tmpl *t = CN_NEW(struct tmpl);
    struct lex_items items;
    const char *ld = o && o->left_delim && *o->left_delim ? o->left_delim : "{{";
    const char *rd = o && o->right_delim && *o->right_delim ? o->right_delim : "}}";
    memset(err, 0, sizeof *err);
    cn_arena_init(&t->arena, 16384);
    t->text = cn_malloc(len + 1);
    if (len) memcpy(t->text, text, len);
    t->text[len] = '\0';
    t->len = len;
    t->name = cn_strdup("");
    if (len > TMPL_SOURCE_MAX) {
        snprintf(err->msg, sizeof err->msg, "template: :1: template too large (%zu bytes, max %u)",
                 len, TMPL_SOURCE_MAX);
        err->line = 1;
        tmpl_free(t);
        return NULL;
    }
    lex_run(t->text, len, ld, rd, &items);
    struct parser *p = CN_NEW(struct parser);
    p->t = t;
    p->a = &t->arena;
    p->items = items.items;
    p->n = items.n;
    p->err = err;
    bool ok = true;
    if (setjmp(p->jb) == 0) {
        parse_top(p);
        add_def(p, "", t->root);
    } else {
        ok = false;
    }
    free(p->vars);
    for (struct vscope *v = p->outer; v; v = v->prev)
        free(v->vars);
    free(p);
    lex_items_release(&items);
    if (!ok) {
        tmpl_free(t);
        return NULL;
    }
    return t;
}

void tmpl_free(struct tmpl *t)
{
    if (!t) return;
    cn_arena_release(&t->arena);
    free(t->text);
    free(t->name);
    free(t);
}

/* ---- String() -------------------------------------------------------- */

static void idents_string(struct cn_buf *b, const struct node *n, bool dot_first)
{
    for (size_t i = 0; i < n->ids.n; i++) {
        if (i > 0 || dot_first) cn_buf_putc(b, '.');
        cn_buf_puts(b, n->ids.idents[i]);
    }
}

void node_string(struct cn_buf *b, const struct node *n)
{
    switch (n->type) {
    case N_TEXT:
        cn_buf_put(b, n->text.s, n->text.len);
        break;
    case N_ACTION:
        cn_buf_puts(b, "{{");
        node_string(b, n->ctl.pipe);
        cn_buf_puts(b, "}}");
        break;
    case N_IF:
    case N_RANGE:
    case N_WITH:
        cn_buf_puts(b, n->type == N_IF ? "{{if " : n->type == N_RANGE ? "{{range " : "{{with ");
        node_string(b, n->ctl.pipe);
        cn_buf_puts(b, "}}");
        node_string(b, n->ctl.list);
        if (n->ctl.else_list) {
            cn_buf_puts(b, "{{else}}");
            node_string(b, n->ctl.else_list);
        }
        cn_buf_puts(b, "{{end}}");
        break;
    case N_TEMPLATE:
        cn_buf_puts(b, "{{template ");
        go_quote(b, n->ctl.name, strlen(n->ctl.name), false);
        if (n->ctl.pipe) {
            cn_buf_putc(b, ' ');
            node_string(b, n->ctl.pipe);
        }
        cn_buf_puts(b, "}}");
        break;
    case N_BREAK:
        cn_buf_puts(b, "{{break}}");
        break;
    case N_CONTINUE:
        cn_buf_puts(b, "{{continue}}");
        break;
    case N_LIST:
        for (size_t i = 0; i < n->list.n; i++)
            node_string(b, n->list.items[i]);
        break;
    case N_PIPE:
        for (size_t i = 0; i < n->pipe.ndecl; i++) {
            if (i) cn_buf_puts(b, ", ");
            cn_buf_puts(b, n->pipe.decl[i]);
        }
        if (n->pipe.ndecl) cn_buf_puts(b, n->pipe.is_assign ? " = " : " := ");
        for (size_t i = 0; i < n->pipe.ncmd; i++) {
            if (i) cn_buf_puts(b, " | ");
            node_string(b, n->pipe.cmds[i]);
        }
        break;
    case N_CMD:
        for (size_t i = 0; i < n->cmd.n; i++) {
            if (i) cn_buf_putc(b, ' ');
            const struct node *a = n->cmd.args[i];
            if (a->type == N_PIPE) cn_buf_putc(b, '(');
            node_string(b, a);
            if (a->type == N_PIPE) cn_buf_putc(b, ')');
        }
        break;
    case N_FIELD:
        idents_string(b, n, true);
        break;
    case N_VAR:
        idents_string(b, n, false);
        break;
    case N_IDENT:
        cn_buf_puts(b, n->ident.name);
        break;
    case N_DOT:
        cn_buf_putc(b, '.');
        break;
    case N_NIL:
        cn_buf_puts(b, "nil");
        break;
    case N_BOOL:
        cn_buf_puts(b, n->b ? "true" : "false");
        break;
    case N_NUMBER:
        cn_buf_put(b, n->num.text, n->num.tlen);
        break;
    case N_STRING:
        cn_buf_put(b, n->text.quoted, n->text.qlen);
        break;
    case N_CHAIN:
        if (n->ids.node->type == N_PIPE) cn_buf_putc(b, '(');
        node_string(b, n->ids.node);
        if (n->ids.node->type == N_PIPE) cn_buf_putc(b, ')');
        idents_string(b, n, true);
        break;
    default:
        break;
    }
}
