/*
 * rules.c - Consul's ACL rule language: the small HCL v1 subset policies use,
 * and its JSON form, with line:column positions in every error.
 *
 * One grammar reads both. HCL's `key_prefix "app/" { policy = "write" }` is
 * sugar for `key_prefix = { "app/" = { policy = "write" } }`; JSON's
 * `{"key_prefix": {"app/": {"policy": "write"}}}` is the same tree with ':'
 * for '=' and braces around the whole. So the parser builds one small tree
 * (objects keep repeated keys, as HCL's blocks repeat) and a second pass
 * turns it into rules. Everything lives in an arena that dies with the call.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "acl/acl.h"
#include "lib/cn_arena.h"
#include "lib/cn_common.h"

/* ---- resources ------------------------------------------------------ */

struct resdef {
    const char *name;
    enum acl_resource res;
    bool prefix;
    bool labeled;
};

static const struct resdef resdefs[] = {
    {"key", ACL_R_KEY, false, true},          {"key_prefix", ACL_R_KEY, true, true},
    {"node", ACL_R_NODE, false, true},        {"node_prefix", ACL_R_NODE, true, true},
    {"service", ACL_R_SERVICE, false, true},  {"service_prefix", ACL_R_SERVICE, true, true},
    {"session", ACL_R_SESSION, false, true},  {"session_prefix", ACL_R_SESSION, true, true},
    {"event", ACL_R_EVENT, false, true},      {"event_prefix", ACL_R_EVENT, true, true},
    {"query", ACL_R_QUERY, false, true},      {"query_prefix", ACL_R_QUERY, true, true},
    {"agent", ACL_R_AGENT, false, true},      {"agent_prefix", ACL_R_AGENT, true, true},
    {"keyring", ACL_R_KEYRING, false, false}, {"operator", ACL_R_OPERATOR, false, false},
    {"acl", ACL_R_ACL, false, false},         {"mesh", ACL_R_MESH, false, false},
    {"peering", ACL_R_PEERING, false, false},
};

const char *acl_resource_name(enum acl_resource res, bool prefix)
{
    for (size_t i = 0; i < CN_ARRAY_SIZE(resdefs); i++)
        if (resdefs[i].res == res && resdefs[i].prefix == prefix) return resdefs[i].name;
    return NULL;
}

const char *acl_level_name(enum acl_level l)
{
    switch (l) {
    case ACL_L_READ: return "read";
    case ACL_L_LIST: return "list";
    case ACL_L_WRITE: return "write";
    case ACL_L_DENY: return "deny";
    default: return "";
    }
}

const char *acl_access_name(enum acl_access a)
{
    switch (a) {
    case ACL_A_READ: return "read";
    case ACL_A_LIST: return "list";
    default: return "write";
    }
}

void acl_rules_init(struct acl_rules *r)
{
    memset(r, 0, sizeof *r);
}

void acl_rules_release(struct acl_rules *r)
{
    for (size_t i = 0; i < r->n; i++) free(r->v[i].label);
    free(r->v);
    memset(r, 0, sizeof *r);
}

void acl_rules_add(struct acl_rules *r, enum acl_resource res, bool prefix, const char *label,
                   enum acl_level level)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->v = cn_realloc(r->v, r->cap * sizeof *r->v);
    }
    r->v[r->n++] = (struct acl_rule){.res = (uint8_t)res, .prefix = prefix,
                                     .level = (uint8_t)level, .label = cn_strdup(label ? label : "")};
}

/* ---- lexer ---------------------------------------------------------- */

enum tok {
    T_EOF = 0, T_IDENT, T_STRING, T_NUMBER, T_LBRACE, T_RBRACE, T_LBRACK, T_RBRACK,
    T_EQ, T_COLON, T_COMMA,
};

struct token {
    enum tok t;
    char *s; /* identifiers, numbers and decoded strings (arena) */
    size_t n;
    int line, col;
};

struct parser {
    const char *p, *end;
    int line, col;
    struct token tok; /* the current token */
    struct cn_arena *arena;
    struct cn_err *err;
    bool failed;
    int depth;
};

CN_PRINTF(4, 5) static int fail_at(struct parser *ps, int line, int col, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    if (ps->failed) return CN_EINVAL;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ps->failed = true;
    return cn_err_set(ps->err, CN_EINVAL, "At %d:%d: %s", line, col, msg);
}

static void advance_char(struct parser *ps)
{
    if (*ps->p == '\n') {
        ps->line++;
        ps->col = 1;
    } else {
        ps->col++;
    }
    ps->p++;
}

/* Whitespace and the three comment styles. */
static int skip_space(struct parser *ps)
{
    while (ps->p < ps->end) {
        char c = *ps->p;
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            advance_char(ps);
        } else if (c == '#' || (c == '/' && ps->p + 1 < ps->end && ps->p[1] == '/')) {
            while (ps->p < ps->end && *ps->p != '\n') advance_char(ps);
        } else if (c == '/' && ps->p + 1 < ps->end && ps->p[1] == '*') {
            int line = ps->line, col = ps->col;
            advance_char(ps);
            advance_char(ps);
            while (ps->p + 1 < ps->end && !(ps->p[0] == '*' && ps->p[1] == '/')) advance_char(ps);
            if (ps->p + 1 >= ps->end) return fail_at(ps, line, col, "comment not terminated");
            advance_char(ps);
            advance_char(ps);
        } else {
            break;
        }
    }
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    o[0] = (char)(0xe0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
}

/* A double-quoted string with JSON/HCL escapes, decoded into the arena. */
static int lex_string(struct parser *ps)
{
    int line = ps->line, col = ps->col;
    advance_char(ps); /* the opening quote */
    const char *start = ps->p;
    while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\n') {
        if (*ps->p == '\\' && ps->p + 1 < ps->end) advance_char(ps);
        advance_char(ps);
    }
    if (ps->p >= ps->end || *ps->p != '"') return fail_at(ps, line, col, "literal not terminated");
    size_t raw = (size_t)(ps->p - start);
    char *out = cn_arena_alloc(ps->arena, raw + 1);
    size_t n = 0;
    for (const char *s = start; s < ps->p; s++) {
        if (*s != '\\') {
            out[n++] = *s;
            continue;
        }
        char e = *++s;
        switch (e) {
        case 'n': out[n++] = '\n'; break;
        case 't': out[n++] = '\t'; break;
        case 'r': out[n++] = '\r'; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case '"': case '\\': case '/': out[n++] = e; break;
        case 'u': {
            unsigned cp = 0;
            for (int i = 1; i <= 4; i++) {
                int h = s + i < ps->p ? hexval(s[i]) : -1;
                if (h < 0) return fail_at(ps, line, col, "invalid unicode escape");
                cp = cp << 4 | (unsigned)h;
            }
            s += 4;
            if (cp == 0) return fail_at(ps, line, col, "NUL in string");
            n += put_utf8(out + n, cp);
            break;
        }
        default: return fail_at(ps, line, col, "invalid escape \\%c", e);
        }
    }
    out[n] = '\0';
    advance_char(ps); /* the closing quote */
    ps->tok = (struct token){T_STRING, out, n, line, col};
    return 0;
}

static bool ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool ident_char(char c)
{
    return ident_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

static int next(struct parser *ps)
{
    int rc = skip_space(ps);
    if (rc) return rc;
    int line = ps->line, col = ps->col;
    if (ps->p >= ps->end) {
        ps->tok = (struct token){T_EOF, NULL, 0, line, col};
        return 0;
    }
    char c = *ps->p;
    static const char punct[] = "{}[]=:,";
    static const enum tok ptok[] = {T_LBRACE, T_RBRACE, T_LBRACK, T_RBRACK, T_EQ, T_COLON, T_COMMA};
    const char *hit = c ? strchr(punct, c) : NULL;
    if (hit) {
        advance_char(ps);
        ps->tok = (struct token){ptok[hit - punct], NULL, 0, line, col};
        return 0;
    }
    if (c == '"') return lex_string(ps);
    if (ident_start(c) || (c >= '0' && c <= '9') || c == '-') {
        const char *s = ps->p;
        bool num = !ident_start(c);
        while (ps->p < ps->end && (ident_char(*ps->p) || (num && *ps->p == '+')))
            advance_char(ps);
        size_t n = (size_t)(ps->p - s);
        ps->tok = (struct token){num ? T_NUMBER : T_IDENT, cn_arena_strndup(ps->arena, s, n), n,
                                 line, col};
        return 0;
    }
    if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
        return fail_at(ps, line, col, "illegal char 0x%02x", (unsigned char)c);
    return fail_at(ps, line, col, "illegal char '%c'", c);
}

/* ---- tree ----------------------------------------------------------- */

enum nkind { N_STR, N_OBJ, N_LIST, N_SCALAR };

struct node;
struct member {
    const char *key;
    int line, col;
    struct node *val;
    struct member *next;
};

struct node {
    enum nkind k;
    int line, col;
    const char *s; /* N_STR, N_SCALAR */
    struct member *first, *last; /* N_OBJ */
    struct node **items;         /* N_LIST */
    size_t nitems;
};

static struct node *new_node(struct parser *ps, enum nkind k, int line, int col)
{
    struct node *n = CN_ARENA_NEW(ps->arena, struct node);
    n->k = k;
    n->line = line;
    n->col = col;
    return n;
}

static void add_member(struct parser *ps, struct node *obj, const struct token *key, struct node *v)
{
    struct member *m = CN_ARENA_NEW(ps->arena, struct member);
    m->key = key->s;
    m->line = key->line;
    m->col = key->col;
    m->val = v;
    if (obj->last)
        obj->last->next = m;
    else
        obj->first = m;
    obj->last = m;
}

static int parse_members(struct parser *ps, struct node *obj, enum tok closing);

static const char *tok_desc(const struct token *t)
{
    switch (t->t) {
    case T_EOF: return "end of input";
    case T_LBRACE: return "'{'";
    case T_RBRACE: return "'}'";
    case T_LBRACK: return "'['";
    case T_RBRACK: return "']'";
    case T_EQ: return "'='";
    case T_COLON: return "':'";
    case T_COMMA: return "','";
    case T_STRING: return "string";
    case T_NUMBER: return "number";
    default: return "identifier";
    }
}

static int parse_value(struct parser *ps, struct node **out)
{
    struct token t = ps->tok;
    int rc;
    if (++ps->depth > ACL_NEST_MAX) return fail_at(ps, t.line, t.col, "nesting too deep");
    switch (t.t) {
    case T_STRING:
    case T_NUMBER:
    case T_IDENT:
        *out = new_node(ps, t.t == T_STRING ? N_STR : N_SCALAR, t.line, t.col);
        (*out)->s = t.s;
        rc = next(ps);
        break;
    case T_LBRACE:
        *out = new_node(ps, N_OBJ, t.line, t.col);
        if ((rc = next(ps))) break;
        if ((rc = parse_members(ps, *out, T_RBRACE))) break;
        rc = next(ps); /* past '}' */
        break;
    case T_LBRACK: {
        struct node *l = *out = new_node(ps, N_LIST, t.line, t.col);
        size_t cap = 0;
        if ((rc = next(ps))) break;
        while (ps->tok.t != T_RBRACK) {
            struct node *item;
            if ((rc = parse_value(ps, &item))) goto done;
            if (l->nitems == cap) {
                cap = cap ? cap * 2 : 4;
                struct node **ni = CN_ARENA_ARRAY(ps->arena, struct node *, cap);
                if (l->nitems) memcpy(ni, l->items, l->nitems * sizeof *ni);
                l->items = ni;
            }
            l->items[l->nitems++] = item;
            if (ps->tok.t == T_COMMA) {
                if ((rc = next(ps))) goto done;
            } else if (ps->tok.t != T_RBRACK) {
                rc = fail_at(ps, ps->tok.line, ps->tok.col, "expected ',' or ']', got %s",
                             tok_desc(&ps->tok));
                goto done;
            }
        }
        rc = next(ps);
        break;
    }
    default:
        rc = fail_at(ps, t.line, t.col, "expected a value, got %s", tok_desc(&t));
        break;
    }
done:
    ps->depth--;
    return rc;
}

/* One member: key [label...] ( '=' value | ':' value | object ). Labels nest
 * as objects: a "b" { } is a = { "b" = { } }. */
static int parse_member(struct parser *ps, struct node *obj)
{
    struct token keys[ACL_NEST_MAX];
    size_t nkeys = 0;
    int rc;
    while (ps->tok.t == T_IDENT || ps->tok.t == T_STRING) {
        if (nkeys == ACL_NEST_MAX) return fail_at(ps, ps->tok.line, ps->tok.col, "too many labels");
        keys[nkeys++] = ps->tok;
        if ((rc = next(ps))) return rc;
    }
    if (nkeys == 0)
        return fail_at(ps, ps->tok.line, ps->tok.col, "expected a key, got %s", tok_desc(&ps->tok));
    struct node *v;
    if (ps->tok.t == T_EQ || ps->tok.t == T_COLON) {
        if (nkeys > 1)
            return fail_at(ps, ps->tok.line, ps->tok.col, "expected '{' after block labels");
        if ((rc = next(ps))) return rc;
        if ((rc = parse_value(ps, &v))) return rc;
    } else if (ps->tok.t == T_LBRACE) {
        if ((rc = parse_value(ps, &v))) return rc;
    } else {
        return fail_at(ps, ps->tok.line, ps->tok.col, "expected '=' or '{' after key \"%s\", got %s",
                       keys[nkeys - 1].s, tok_desc(&ps->tok));
    }
    for (size_t i = nkeys; i-- > 1;) {
        struct node *wrap = new_node(ps, N_OBJ, keys[i].line, keys[i].col);
        add_member(ps, wrap, &keys[i], v);
        v = wrap;
    }
    add_member(ps, obj, &keys[0], v);
    return 0;
}

static int parse_members(struct parser *ps, struct node *obj, enum tok closing)
{
    int rc;
    while (ps->tok.t != closing) {
        if (ps->tok.t == T_EOF)
            return fail_at(ps, ps->tok.line, ps->tok.col, "expected '}', got end of input");
        if ((rc = parse_member(ps, obj))) return rc;
        if (ps->tok.t == T_COMMA && (rc = next(ps))) return rc;
    }
    return 0;
}

static int parse_document(struct parser *ps, struct node **root)
{
    int rc = next(ps);
    if (rc) return rc;
    if (ps->tok.t == T_LBRACE) {
        /* The JSON form: one object around everything. */
        if ((rc = parse_value(ps, root))) return rc;
        if (ps->tok.t != T_EOF)
            return fail_at(ps, ps->tok.line, ps->tok.col, "unexpected %s after the top-level object",
                           tok_desc(&ps->tok));
        return 0;
    }
    *root = new_node(ps, N_OBJ, 1, 1);
    return parse_members(ps, *root, T_EOF);
}

/* ---- semantics ------------------------------------------------------ */

static const struct resdef *find_res(const char *name)
{
    for (size_t i = 0; i < CN_ARRAY_SIZE(resdefs); i++)
        if (!strcmp(resdefs[i].name, name)) return &resdefs[i];
    return NULL;
}

static int parse_level(struct parser *ps, const struct node *v, const struct resdef *d,
                       const char *what, enum acl_level *out)
{
    if (v->k != N_STR) return fail_at(ps, v->line, v->col, "%s: policy must be a string", what);
    static const char *const names[] = {"read", "list", "write", "deny"};
    static const enum acl_level lv[] = {ACL_L_READ, ACL_L_LIST, ACL_L_WRITE, ACL_L_DENY};
    for (size_t i = 0; i < CN_ARRAY_SIZE(names); i++) {
        if (strcmp(v->s, names[i])) continue;
        if (lv[i] == ACL_L_LIST && d->res != ACL_R_KEY) break;
        *out = lv[i];
        return 0;
    }
    return fail_at(ps, v->line, v->col, "invalid %s policy \"%s\"", what, v->s);
}

/* Visit the objects of a value that is an object or a list of objects
 * (HCL's JSON form sometimes wraps blocks in lists). */
typedef int (*obj_fn)(struct parser *ps, const struct node *obj, void *ctx);
static int each_object(struct parser *ps, const struct node *v, const char *what, obj_fn fn,
                       void *ctx)
{
    if (v->k == N_OBJ) return fn(ps, v, ctx);
    if (v->k == N_LIST) {
        for (size_t i = 0; i < v->nitems; i++) {
            int rc = each_object(ps, v->items[i], what, fn, ctx);
            if (rc) return rc;
        }
        return 0;
    }
    return fail_at(ps, v->line, v->col, "%s must be a block", what);
}

struct block_ctx {
    const struct resdef *d;
    const char *label;
    int line, col;
    bool have_policy;
    enum acl_level level;
    struct acl_rules *out;
    unsigned flags;
};

static int block_attrs(struct parser *ps, const struct node *obj, void *arg)
{
    struct block_ctx *b = arg;
    char what[64];
    snprintf(what, sizeof what, "%s", b->d->name);
    for (const struct member *m = obj->first; m; m = m->next) {
        enum acl_level l;
        int rc;
        if (!strcmp(m->key, "policy")) {
            if ((rc = parse_level(ps, m->val, b->d, what, &l))) return rc;
            b->level = l;
            b->have_policy = true;
        } else if (!strcmp(m->key, "intentions") && b->d->res == ACL_R_SERVICE) {
            if ((rc = parse_level(ps, m->val, b->d, "intentions", &l))) return rc;
        } else {
            return fail_at(ps, m->line, m->col, "unknown attribute \"%s\" in %s \"%s\"", m->key,
                           b->d->name, b->label);
        }
    }
    return 0;
}

static int labeled_rules(struct parser *ps, const struct node *obj, void *arg)
{
    struct block_ctx *proto = arg;
    for (const struct member *m = obj->first; m; m = m->next) {
        struct block_ctx b = *proto;
        int rc;
        b.label = m->key;
        b.line = m->line;
        b.col = m->col;
        if (strlen(m->key) > ACL_LABEL_MAX)
            return fail_at(ps, m->line, m->col, "%s label too long", b.d->name);
        if ((rc = each_object(ps, m->val, b.d->name, block_attrs, &b))) return rc;
        if (!b.have_policy) {
            /* service "x" { intentions = "read" } alone is valid and grants nothing. */
            if (b.d->res == ACL_R_SERVICE) continue;
            return fail_at(ps, m->line, m->col, "%s \"%s\": missing policy", b.d->name, b.label);
        }
        if (b.out->n >= ACL_RULES_MAX) return fail_at(ps, m->line, m->col, "too many rules");
        bool prefix = b.d->prefix || (b.flags & ACL_PARSE_LEGACY);
        acl_rules_add(b.out, b.d->res, prefix, b.label, b.level);
    }
    return 0;
}

static int semantics(struct parser *ps, const struct node *root, unsigned flags,
                     struct acl_rules *out)
{
    for (const struct member *m = root->first; m; m = m->next) {
        const struct resdef *d = find_res(m->key);
        int rc;
        if (!d) return fail_at(ps, m->line, m->col, "unknown ACL resource \"%s\"", m->key);
        if (d->labeled) {
            struct block_ctx b = {.d = d, .out = out, .flags = flags};
            if ((rc = each_object(ps, m->val, d->name, labeled_rules, &b))) return rc;
            continue;
        }
        enum acl_level l;
        if ((rc = parse_level(ps, m->val, d, d->name, &l))) return rc;
        if (out->n >= ACL_RULES_MAX) return fail_at(ps, m->line, m->col, "too many rules");
        acl_rules_add(out, d->res, false, "", l);
    }
    return 0;
}

int acl_rules_parse(const char *text, size_t len, unsigned flags, struct acl_rules *out,
                    struct cn_err *err)
{
    struct cn_arena arena;
    size_t before = out->n;
    int rc;
    cn_err_clear(err);
    if (len > ACL_RULES_TEXT_MAX) return cn_err_set(err, CN_EINVAL, "At 1:1: rules too large");
    cn_arena_init(&arena, 4096);
    struct parser ps = {.p = text ? text : "", .end = (text ? text : "") + len, .line = 1,
                        .col = 1, .arena = &arena, .err = err};
    struct node *root = NULL;
    rc = parse_document(&ps, &root);
    if (rc == 0) rc = semantics(&ps, root, flags, out);
    if (rc) {
        /* Leave out as it was. */
        for (size_t i = before; i < out->n; i++) free(out->v[i].label);
        out->n = before;
    }
    cn_arena_release(&arena);
    return rc;
}
