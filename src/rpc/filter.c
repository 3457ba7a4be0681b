/*
 * filter.c - the ?filter= language: a recursive-descent parser following
 * go-bexpr's grammar, validation against an endpoint's object shape, and
 * evaluation over the JSON of each result item.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cn_arena.h"
#include "lib/cn_buf.h"
#include "lib/cn_common.h"
#include "lib/cn_str.h"
#include "rpc/rpc_filter.h"

enum op { OP_EQ = 1, OP_NE, OP_IN, OP_NOT_IN, OP_EMPTY, OP_NOT_EMPTY, OP_MATCHES, OP_NOT_MATCHES };
enum kind { N_AND = 1, N_OR, N_NOT, N_MATCH };

struct node {
    enum kind kind;
    struct node *left, *right; /* N_AND, N_OR; N_NOT uses left */
    /* N_MATCH */
    char **parts;
    size_t nparts;
    enum op op;
    char *raw; /* the value as written (NULL for is [not] empty) */
    enum rpc_ftype type; /* of the selected field */
    const struct rpc_fschema *fields; /* of the root shape */
    int64_t ival;
    uint64_t uval;
    double fval;
    bool bval;
    regex_t *re;
};

struct rpc_filter {
    struct cn_arena arena;
    struct node *root;
    const struct rpc_fschema *shape;
    regex_t **regexes;
    size_t nregex;
};

static const char *op_name(enum op op)
{
    switch (op) {
    case OP_EQ: return "==";
    case OP_NE: return "!=";
    case OP_IN: return "in";
    case OP_NOT_IN: return "not in";
    case OP_EMPTY: return "is empty";
    case OP_NOT_EMPTY: return "is not empty";
    case OP_MATCHES: return "matches";
    case OP_NOT_MATCHES: return "not matches";
    }
    return "?";
}

/* ---- parsing ------------------------------------------------------------ */

struct parser {
    const char *s;
    size_t n, pos;
    struct rpc_filter *f;
    struct cn_err *err;
    int depth;
    bool failed;
};

static void *fail(struct parser *p, size_t at, const char *msg)
{
    if (p->failed) return NULL;
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at && i < p->n; i++) {
        if (p->s[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    cn_err_set(p->err, CN_EINVAL, "%zu:%zu (%zu): %s", line, col, at, msg);
    p->failed = true;
    return NULL;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool skip_ws(struct parser *p)
{
    size_t start = p->pos;
    while (p->pos < p->n && is_ws(p->s[p->pos])) p->pos++;
    return p->pos > start;
}

static bool ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* A keyword at pos, not followed by an identifier character. */
static bool at_kw(struct parser *p, const char *kw)
{
    size_t n = strlen(kw);
    if (p->n - p->pos < n || memcmp(p->s + p->pos, kw, n)) return false;
    return p->pos + n == p->n || !ident_char(p->s[p->pos + n]);
}

/* ws kw ws (whitespace required on both sides); restores on failure. */
static bool sp_kw_sp(struct parser *p, const char *kw)
{
    size_t save = p->pos;
    if (skip_ws(p) && at_kw(p, kw)) {
        p->pos += strlen(kw);
        if (skip_ws(p)) return true;
    }
    p->pos = save;
    return false;
}

/* ws "not" ws kw ws; restores on failure. */
static bool sp_not_kw_sp(struct parser *p, const char *kw)
{
    size_t save = p->pos;
    if (sp_kw_sp(p, "not") && at_kw(p, kw)) {
        p->pos += strlen(kw);
        if (skip_ws(p)) return true;
    }
    p->pos = save;
    return false;
}

static char *ident(struct parser *p)
{
    size_t start = p->pos;
    if (p->pos >= p->n || !isalpha((unsigned char)p->s[p->pos])) return NULL;
    while (p->pos < p->n && ident_char(p->s[p->pos])) p->pos++;
    return cn_arena_strndup(&p->f->arena, p->s + start, p->pos - start);
}

/* Go's strconv.Unquote for "..." (common escapes) and `...`. */
static char *string_lit(struct parser *p)
{
    char q = p->s[p->pos];
    size_t start = p->pos++;
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    while (p->pos < p->n && p->s[p->pos] != q) {
        char c = p->s[p->pos++];
        if (q == '"' && c == '\\') {
            if (p->pos >= p->n) break;
            char e = p->s[p->pos++];
            switch (e) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case '\\': c = '\\'; break;
            case '"': c = '"'; break;
            case '\'': c = '\''; break;
            case 'a': c = '\a'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'v': c = '\v'; break;
            default:
                cn_buf_release(&b);
                return fail(p, start, "invalid syntax");
            }
        }
        cn_buf_putc(&b, c);
    }
    if (p->pos >= p->n) {
        cn_buf_release(&b);
        return fail(p, start, "Unterminated string literal");
    }
    p->pos++;
    char *out = cn_arena_strndup(&p->f->arena, b.data ? b.data : "", b.len);
    cn_buf_release(&b);
    return out;
}

/* Selector <- Identifier ("." Identifier / "[" StringLiteral "]")* */
static bool selector(struct parser *p, char ***parts, size_t *nparts)
{
    char *v[RPC_FILTER_MAX_DEPTH];
    size_t n = 0;
    char *first = ident(p);
    if (!first) return false;
    v[n++] = first;
    for (;;) {
        if (p->pos < p->n && p->s[p->pos] == '.' && p->pos + 1 < p->n &&
            isalpha((unsigned char)p->s[p->pos + 1])) {
            p->pos++;
            if (n == RPC_FILTER_MAX_DEPTH) return fail(p, p->pos, "selector too long"), false;
            v[n++] = ident(p);
        } else if (p->pos < p->n && p->s[p->pos] == '[') {
            size_t at = p->pos++;
            skip_ws(p);
            if (p->pos >= p->n || (p->s[p->pos] != '"' && p->s[p->pos] != '`'))
                return fail(p, at, "Invalid index"), false;
            char *lit = string_lit(p);
            if (!lit) return false;
            skip_ws(p);
            if (p->pos >= p->n || p->s[p->pos] != ']')
                return fail(p, at, "Unclosed index expression"), false;
            p->pos++;
            if (n == RPC_FILTER_MAX_DEPTH) return fail(p, p->pos, "selector too long"), false;
            v[n++] = lit;
        } else {
            break;
        }
    }
    *parts = cn_arena_memdup(&p->f->arena, v, n * sizeof *v);
    *nparts = n;
    return true;
}

static char *joined(struct parser *p, char **parts, size_t n)
{
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    for (size_t i = 0; i < n; i++) {
        if (i) cn_buf_putc(&b, '.');
        cn_buf_puts(&b, parts[i]);
    }
    char *out = cn_arena_strndup(&p->f->arena, b.data ? b.data : "", b.len);
    cn_buf_release(&b);
    return out;
}

static char *number_lit(struct parser *p)
{
    size_t start = p->pos;
    if (p->s[p->pos] == '-') p->pos++;
    if (p->pos >= p->n || !isdigit((unsigned char)p->s[p->pos]))
        return fail(p, start, "Invalid number literal");
    if (p->s[p->pos] == '0') {
        p->pos++;
    } else {
        while (p->pos < p->n && isdigit((unsigned char)p->s[p->pos])) p->pos++;
    }
    if (p->pos + 1 < p->n && p->s[p->pos] == '.' && isdigit((unsigned char)p->s[p->pos + 1])) {
        p->pos++;
        while (p->pos < p->n && isdigit((unsigned char)p->s[p->pos])) p->pos++;
    }
    if (p->pos < p->n && !is_ws(p->s[p->pos]) && p->s[p->pos] != ')')
        return fail(p, start, "Invalid number literal");
    return cn_arena_strndup(&p->f->arena, p->s + start, p->pos - start);
}

/* Value <- Selector / NumberLiteral / StringLiteral */
static char *value(struct parser *p)
{
    if (p->pos >= p->n) return fail(p, p->pos, "no match found, expected: value");
    char c = p->s[p->pos];
    if (c == '"' || c == '`') return string_lit(p);
    if (c == '-' || isdigit((unsigned char)c)) return number_lit(p);
    char **parts;
    size_t n;
    if (selector(p, &parts, &n)) return joined(p, parts, n);
    return fail(p, p->pos, "no match found, expected: value");
}

static struct node *match_node(struct parser *p, char **parts, size_t n, enum op op, char *raw)
{
    struct node *m = CN_ARENA_NEW(&p->f->arena, struct node);
    m->kind = N_MATCH;
    m->parts = parts;
    m->nparts = n;
    m->op = op;
    m->raw = raw;
    return m;
}

static struct node *match_expr(struct parser *p)
{
    size_t at = p->pos;
    if (p->pos >= p->n) return fail(p, at, "no match found, expected: selector or value");
    char c = p->s[p->pos];
    if (c == '"' || c == '`' || c == '-' || isdigit((unsigned char)c)) {
        /* Value (in | not in) Selector */
        char *raw = value(p);
        if (!raw) return NULL;
        enum op op;
        if (sp_kw_sp(p, "in"))
            op = OP_IN;
        else if (sp_not_kw_sp(p, "in"))
            op = OP_NOT_IN;
        else
            return fail(p, p->pos, "no match found, expected: \"in\" or \"not in\"");
        char **parts;
        size_t n;
        if (!selector(p, &parts, &n)) return fail(p, p->pos, "Invalid selector");
        return match_node(p, parts, n, op, raw);
    }
    char **parts;
    size_t n;
    if (!selector(p, &parts, &n))
        return fail(p, at, "no match found, expected: \"(\", \"not\", selector or value");
    size_t save = p->pos;
    skip_ws(p);
    if (p->pos + 1 < p->n && (!memcmp(p->s + p->pos, "==", 2) || !memcmp(p->s + p->pos, "!=", 2))) {
        enum op op = p->s[p->pos] == '=' ? OP_EQ : OP_NE;
        p->pos += 2;
        skip_ws(p);
        char *raw = value(p);
        return raw ? match_node(p, parts, n, op, raw) : NULL;
    }
    p->pos = save;
    if (sp_kw_sp(p, "is")) {
        if (at_kw(p, "empty")) {
            p->pos += 5;
            return match_node(p, parts, n, OP_EMPTY, NULL);
        }
        if (at_kw(p, "not")) {
            p->pos += 3;
            if (skip_ws(p) && at_kw(p, "empty")) {
                p->pos += 5;
                return match_node(p, parts, n, OP_NOT_EMPTY, NULL);
            }
        }
        return fail(p, p->pos, "no match found, expected: \"empty\" or \"not empty\"");
    }
    static const struct {
        const char *kw;
        enum op op;
        bool value_first;
    } ops[] = {{"contains", OP_IN, false}, {"matches", OP_MATCHES, false}, {"in", OP_IN, true}};
    for (size_t i = 0; i < 2 * CN_ARRAY_SIZE(ops); i++) {
        bool negated = i >= CN_ARRAY_SIZE(ops);
        size_t k = i % CN_ARRAY_SIZE(ops);
        if (!(negated ? sp_not_kw_sp(p, ops[k].kw) : sp_kw_sp(p, ops[k].kw))) continue;
        enum op op = ops[k].op;
        if (negated) op = op == OP_IN ? OP_NOT_IN : OP_NOT_MATCHES;
        if (ops[k].value_first) {
            /* what we read as a selector was the value */
            char *raw = joined(p, parts, n);
            char **sp;
            size_t sn;
            if (!selector(p, &sp, &sn)) return fail(p, p->pos, "Invalid selector");
            return match_node(p, sp, sn, op, raw);
        }
        char *raw = value(p);
        return raw ? match_node(p, parts, n, op, raw) : NULL;
    }
    return fail(p, save, "no match found, expected: \"!=\", \"==\", \"contains\", \"in\", "
                         "\"is\", \"matches\" or \"not\"");
}

static struct node *or_expr(struct parser *p);

static struct node *paren_expr(struct parser *p)
{
    if (p->pos < p->n && p->s[p->pos] == '(') {
        size_t at = p->pos++;
        skip_ws(p);
        struct node *e = or_expr(p);
        if (!e) return NULL;
        skip_ws(p);
        if (p->pos >= p->n || p->s[p->pos] != ')') return fail(p, at, "Unmatched parentheses");
        p->pos++;
        return e;
    }
    return match_expr(p);
}

static struct node *not_expr(struct parser *p)
{
    size_t save = p->pos;
    if (at_kw(p, "not")) {
        p->pos += 3;
        if (skip_ws(p)) {
            if (++p->depth > RPC_FILTER_MAX_DEPTH) return fail(p, p->pos, "expression too deep");
            struct node *e = not_expr(p);
            p->depth--;
            if (!e) return NULL;
            if (e->kind == N_NOT) return e->left; /* not not x == x */
            struct node *n = CN_ARENA_NEW(&p->f->arena, struct node);
            n->kind = N_NOT;
            n->left = e;
            return n;
        }
        p->pos = save;
    }
    return paren_expr(p);
}

static struct node *binary(struct parser *p, enum kind kind, struct node *l, struct node *r)
{
    struct node *n = CN_ARENA_NEW(&p->f->arena, struct node);
    n->kind = kind;
    n->left = l;
    n->right = r;
    return n;
}

static struct node *and_expr(struct parser *p)
{
    struct node *l = not_expr(p);
    if (!l) return NULL;
    if (!sp_kw_sp(p, "and")) return l;
    if (++p->depth > RPC_FILTER_MAX_DEPTH) return fail(p, p->pos, "expression too deep");
    struct node *r = and_expr(p);
    p->depth--;
    return r ? binary(p, N_AND, l, r) : NULL;
}

static struct node *or_expr(struct parser *p)
{
    if (++p->depth > RPC_FILTER_MAX_DEPTH) return fail(p, p->pos, "expression too deep");
    struct node *l = and_expr(p);
    struct node *out = l;
    if (l && sp_kw_sp(p, "or")) {
        struct node *r = or_expr(p);
        out = r ? binary(p, N_OR, l, r) : NULL;
    }
    p->depth--;
    return out;
}

/* ---- validation ------------------------------------------------------------ */

static const struct rpc_fschema *field(const struct rpc_fschema *fields, const char *name)
{
    for (; fields && fields->name; fields++)
        if (!strcmp(fields->name, name)) return fields;
    return NULL;
}

static bool op_supported(enum rpc_ftype t, enum op op)
{
    switch (t) {
    case RPC_F_STRING: return true;
    case RPC_F_INT:
    case RPC_F_UINT:
    case RPC_F_FLOAT:
    case RPC_F_BOOL: return op == OP_EQ || op == OP_NE;
    case RPC_F_STRLIST:
    case RPC_F_STRMAP:
    case RPC_F_STRUCTMAP:
        return op == OP_IN || op == OP_NOT_IN || op == OP_EMPTY || op == OP_NOT_EMPTY;
    case RPC_F_STRUCTLIST: return op == OP_EMPTY || op == OP_NOT_EMPTY;
    default: return false;
    }
}

static const char *sel_str(struct rpc_filter *f, struct node *m, size_t upto)
{
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    for (size_t i = 0; i < upto; i++) {
        if (i) cn_buf_putc(&b, '.');
        cn_buf_puts(&b, m->parts[i]);
    }
    char *out = cn_arena_strndup(&f->arena, b.data ? b.data : "", b.len);
    cn_buf_release(&b);
    return out;
}

static int coerce(struct rpc_filter *f, struct node *m, struct cn_err *err)
{
    const char *v = m->raw;
    char *end;
    errno = 0;
    switch (m->type) {
    case RPC_F_INT:
        m->ival = strtoll(v, &end, 0);
        if (!*v || *end || errno)
            return cn_err_set(err, CN_EINVAL,
                              "Failed to coerce value \"%s\" for selector \"%s\": strconv.ParseInt: "
                              "parsing \"%s\": invalid syntax",
                              v, sel_str(f, m, m->nparts), v);
        return 0;
    case RPC_F_UINT:
        m->uval = strtoull(v, &end, 0);
        if (!*v || *end || errno || *v == '-')
            return cn_err_set(err, CN_EINVAL,
                              "Failed to coerce value \"%s\" for selector \"%s\": strconv.ParseUint: "
                              "parsing \"%s\": invalid syntax",
                              v, sel_str(f, m, m->nparts), v);
        return 0;
    case RPC_F_FLOAT:
        m->fval = strtod(v, &end);
        if (!*v || *end)
            return cn_err_set(err, CN_EINVAL,
                              "Failed to coerce value \"%s\" for selector \"%s\": strconv.ParseFloat: "
                              "parsing \"%s\": invalid syntax",
                              v, sel_str(f, m, m->nparts), v);
        return 0;
    case RPC_F_BOOL:
        if (cn_parse_bool(cn_str_from(v), &m->bval))
            return cn_err_set(err, CN_EINVAL,
                              "Failed to coerce value \"%s\" for selector \"%s\": strconv.ParseBool: "
                              "parsing \"%s\": invalid syntax",
                              v, sel_str(f, m, m->nparts), v);
        return 0;
    default: return 0;
    }
}

/* glibc's regcomp grows exponentially on stacked quantifiers ("a+++...")
 * and multiplies nested bounded repeats: refuse what Go's regexp refuses
 * (nested repetition operators, counts above 1000) and cap the expansion,
 * so no filter can make the agent allocate without bound. */
#define REGEX_MAX_LEN 1024
#define REGEX_MAX_EXPANSION 10000
static const char *regex_guard(const char *re)
{
    uint64_t weight[RPC_FILTER_MAX_DEPTH + 1] = {1}, last = 1;
    int depth = 0;
    bool after_quant = false, have_atom = false;
    if (strlen(re) > REGEX_MAX_LEN) return "expression too long";
    for (const char *p = re; *p; p++) {
        char c = *p;
        if (c == '*' || c == '+' || c == '?' || c == '{') {
            if (after_quant) return "invalid nested repetition operator";
            uint64_t times = 1;
            if (c == '{') {
                char *end;
                unsigned long lo = strtoul(p + 1, &end, 10), hi = lo;
                if (*end == ',') hi = isdigit((unsigned char)end[1]) ? strtoul(end + 1, &end, 10) : lo + 1;
                else if (*end != '}') return "invalid repeat count";
                if (*end != '}' || lo > 1000 || hi > 1000) return "invalid repeat count";
                p = end;
                times = hi ? hi : 1;
            }
            if (have_atom && last * times > weight[depth]) weight[depth] = last * times;
            if (weight[depth] > REGEX_MAX_EXPANSION) return "expression too large";
            after_quant = true;
            continue;
        }
        after_quant = false;
        have_atom = true;
        last = 1;
        if (c == '\\') {
            if (p[1]) p++;
        } else if (c == '[') {
            p++;
            if (*p == '^') p++;
            if (*p == ']') p++;
            while (*p && *p != ']') p++;
            if (!*p) return "missing closing ]";
        } else if (c == '(') {
            if (depth == RPC_FILTER_MAX_DEPTH) return "expression nests too deeply";
            weight[++depth] = 1;
            have_atom = false;
        } else if (c == ')') {
            if (depth == 0) return "unexpected )";
            last = weight[depth--];
            if (last > weight[depth]) weight[depth] = last;
        }
    }
    return NULL;
}

static int validate_match(struct rpc_filter *f, struct node *m, struct cn_err *err)
{
    enum rpc_ftype t = RPC_F_STRUCT;
    const struct rpc_fschema *fields = f->shape;
    for (size_t i = 0; i < m->nparts; i++) {
        if (t == RPC_F_STRUCT || t == RPC_F_STRUCTLIST) {
            const struct rpc_fschema *fs = field(fields, m->parts[i]);
            if (!fs)
                return cn_err_set(err, CN_EINVAL, "Selector \"%s\" is not valid",
                                  sel_str(f, m, i + 1));
            t = fs->type;
            fields = fs->fields;
        } else if (t == RPC_F_STRMAP) {
            t = RPC_F_STRING;
        } else if (t == RPC_F_STRUCTMAP) {
            t = RPC_F_STRUCT;
        } else {
            return cn_err_set(err, CN_EINVAL, "Selector \"%s\" is not valid", sel_str(f, m, i + 1));
        }
    }
    m->type = t;
    if (!op_supported(t, m->op))
        return cn_err_set(err, CN_EINVAL, "Invalid match operator \"%s\" for selector \"%s\"",
                          op_name(m->op), sel_str(f, m, m->nparts));
    int rc = coerce(f, m, err);
    if (rc) return rc;
    if (m->op == OP_MATCHES || m->op == OP_NOT_MATCHES) {
        const char *why = regex_guard(m->raw);
        if (why)
            return cn_err_set(err, CN_EINVAL, "Failed to compile regular expression \"%s\": "
                                              "error parsing regexp: %s", m->raw, why);
        regex_t *re = cn_malloc(sizeof *re);
        int e = regcomp(re, m->raw, REG_EXTENDED | REG_NOSUB);
        if (e) {
            char msg[256];
            regerror(e, re, msg, sizeof msg);
            free(re);
            return cn_err_set(err, CN_EINVAL, "Failed to compile regular expression \"%s\": %s",
                              m->raw, msg);
        }
        f->regexes = cn_realloc(f->regexes, (f->nregex + 1) * sizeof *f->regexes);
        f->regexes[f->nregex++] = re;
        m->re = re;
    }
    return 0;
}

static int validate(struct rpc_filter *f, struct node *n, struct cn_err *err)
{
    switch (n->kind) {
    case N_AND:
    case N_OR: {
        int rc = validate(f, n->left, err);
        return rc ? rc : validate(f, n->right, err);
    }
    case N_NOT: return validate(f, n->left, err);
    case N_MATCH: return validate_match(f, n, err);
    }
    return CN_EINVAL;
}

struct rpc_filter *rpc_filter_new(const char *expr, const struct rpc_fschema *shape,
                                  struct cn_err *err)
{
    struct rpc_filter *f = CN_NEW(struct rpc_filter);
    struct parser p = {.s = expr, .n = strlen(expr), .f = f, .err = err};
    cn_err_clear(err);
    cn_arena_init(&f->arena, 2048);
    f->shape = shape;
    if (p.n > RPC_FILTER_MAX_LEN) {
        cn_err_set(err, CN_EINVAL, "filter expression longer than %d bytes", RPC_FILTER_MAX_LEN);
    } else {
        skip_ws(&p);
        f->root = or_expr(&p);
        skip_ws(&p);
        if (f->root && p.pos != p.n) {
            fail(&p, p.pos, "no match found, expected: \"and\", \"or\" or end of input");
            f->root = NULL;
        }
        if (f->root) validate(f, f->root, err);
    }
    if (err->code) {
        cn_err_wrap(err, "Failed to create boolean expression evaluator");
        rpc_filter_free(f);
        return NULL;
    }
    return f;
}

void rpc_filter_free(struct rpc_filter *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->nregex; i++) {
        regfree(f->regexes[i]);
        free(f->regexes[i]);
    }
    free(f->regexes);
    cn_arena_release(&f->arena);
    free(f);
}

/* ---- evaluation ---------------------------------------------------------- */

static const char *jstr(const json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : "";
}

static size_t jlen(const json_t *v)
{
    if (json_is_string(v)) return json_string_length(v);
    if (json_is_array(v)) return json_array_size(v);
    if (json_is_object(v)) return json_object_size(v);
    return 0;
}

static bool equal(const struct node *m, const json_t *v)
{
    switch (m->type) {
    case RPC_F_STRING: return !strcmp(jstr(v), m->raw);
    case RPC_F_INT: return (json_is_integer(v) ? (int64_t)json_integer_value(v) : 0) == m->ival;
    case RPC_F_UINT: return (json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0) == m->uval;
    case RPC_F_FLOAT: return (json_is_number(v) ? json_number_value(v) : 0.0) == m->fval;
    case RPC_F_BOOL: return json_is_true(v) == m->bval;
    default: return false;
    }
}

static bool contains(const struct node *m, const json_t *v)
{
    switch (m->type) {
    case RPC_F_STRING: return strstr(jstr(v), m->raw) != NULL;
    case RPC_F_STRLIST: {
        size_t i;
        json_t *e;
        if (!json_is_array(v)) return false;
        json_array_foreach((json_t *)v, i, e) if (!strcmp(jstr(e), m->raw)) return true;
        return false;
    }
    case RPC_F_STRMAP:
    case RPC_F_STRUCTMAP: return json_is_object(v) && json_object_get(v, m->raw) != NULL;
    default: return false;
    }
}

static bool apply(const struct node *m, const json_t *v)
{
    switch (m->op) {
    case OP_EQ: return equal(m, v);
    case OP_NE: return !equal(m, v);
    case OP_IN: return contains(m, v);
    case OP_NOT_IN: return !contains(m, v);
    case OP_EMPTY: return jlen(v) == 0;
    case OP_NOT_EMPTY: return jlen(v) != 0;
    case OP_MATCHES: return regexec(m->re, jstr(v), 0, NULL, 0) == 0;
    case OP_NOT_MATCHES: return regexec(m->re, jstr(v), 0, NULL, 0) != 0;
    }
    return false;
}

/* go-bexpr: a map key that is absent satisfies only the negative forms. */
static bool missing_key(enum op op)
{
    return !(op == OP_EQ || op == OP_NOT_EMPTY || op == OP_IN || op == OP_MATCHES);
}

static bool eval_path(const struct node *m, size_t i, const json_t *v, enum rpc_ftype t,
                      const struct rpc_fschema *fields)
{
    if (i == m->nparts) return apply(m, v);
    switch (t) {
    case RPC_F_STRUCT: {
        const struct rpc_fschema *fs = field(fields, m->parts[i]);
        if (!fs) return false;
        const json_t *child = json_is_object(v) ? json_object_get(v, fs->name) : NULL;
        return eval_path(m, i + 1, child, fs->type, fs->fields);
    }
    case RPC_F_STRUCTLIST: {
        size_t k;
        json_t *e;
        if (!json_is_array(v)) return false;
        json_array_foreach((json_t *)v, k, e) if (eval_path(m, i, e, RPC_F_STRUCT, fields)) return true;
        return false;
    }
    case RPC_F_STRMAP:
    case RPC_F_STRUCTMAP: {
        const json_t *child = json_is_object(v) ? json_object_get(v, m->parts[i]) : NULL;
        if (!child) return missing_key(m->op);
        return eval_path(m, i + 1, child, t == RPC_F_STRMAP ? RPC_F_STRING : RPC_F_STRUCT, fields);
    }
    default: return false;
    }
}

static bool eval(const struct rpc_filter *f, const struct node *n, const json_t *obj)
{
    switch (n->kind) {
    case N_AND: return eval(f, n->left, obj) && eval(f, n->right, obj);
    case N_OR: return eval(f, n->left, obj) || eval(f, n->right, obj);
    case N_NOT: return !eval(f, n->left, obj);
    case N_MATCH: return eval_path(n, 0, obj, RPC_F_STRUCT, f->shape);
    }
    return false;
}

bool rpc_filter_match(const struct rpc_filter *f, const json_t *obj)
{
    return !f || eval(f, f->root, obj);
}

bool rpc_filter_match_text(const struct rpc_filter *f, const char *json, size_t n)
{
    if (!f) return true;
    json_t *v = json_loadb(json, n, JSON_DECODE_ANY, NULL);
    if (!v) return false;
    bool ok = eval(f, f->root, v);
    json_decref(v);
    return ok;
}
