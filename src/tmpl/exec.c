/*
 * exec.c - Go text/template's execution (text/template/exec.go, Go 1.19):
 * walking the tree with dot and the variable stack, pipelines, field and
 * map-key access, function calls with Go's argument checks, and Go's error
 * texts `template: :<line>:<col>: executing "<name>" at <<node>>: <msg>`.
 *
 * Errors unwind with longjmp, as Go's exec unwinds with panic: everything an
 * execution allocates lives in its arena, so nothing leaks on the way out.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/cn_common.h"
#include "tmpl/tmpl_int.h"

/* The "no final argument" marker (Go's missingVal). */
static const struct tv missing_val = {.kind = TV_INVALID};
#define MISSING (&missing_val)

enum { W_OK, W_BREAK, W_CONTINUE };

/* ---- errors ---------------------------------------------------------- */

CN_NORETURN static void vfail(struct ex *x, const char *prefix, const char *fmt, va_list ap)
{
    char msg[CN_ERR_MSG_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    struct tmpl_error *e = x->err;
    if (!x->at) {
        snprintf(e->msg, sizeof e->msg, "template: %s: %s%s", x->tname, prefix, msg);
        e->line = e->col = 0;
    } else {
        int line, col;
        tmpl_line_col(x->t->text, x->at->pos, &line, &col);
        struct cn_buf ctx;
        cn_buf_init(&ctx, CN_BUF_UNLIMITED);
        node_string(&ctx, x->at);
        const char *c = ctx.data ? ctx.data : "";
        /* Go truncates the context to 20 bytes */
        snprintf(e->msg, sizeof e->msg, "template: %s:%d:%d: executing \"%s\" at <%.20s%s>: %s%s",
                 x->tname, line, col, x->tname, c, ctx.len > 20 ? "..." : "", prefix, msg);
        cn_buf_release(&ctx);
        e->line = line;
        e->col = col + 1;
    }
    longjmp(x->jb, 1);
}

void ex_fail(struct ex *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(x, "", fmt, ap);
}

void fn_fail(struct ex *x, const char *fmt, ...)
{
    char prefix[96];
    snprintf(prefix, sizeof prefix, "error calling %s: ", x->fname ? x->fname : "function");
    va_list ap;
    va_start(ap, fmt);
    vfail(x, prefix, fmt, ap);
}

/* One more level of C recursion (pipelines, control structures, template
 * calls): bounded, so no template can exhaust the stack. */
void ex_enter(struct ex *x)
{
    if (++x->depth > TMPL_EXEC_DEPTH_MAX)
        ex_fail(x, "template nesting too deep (more than %d levels)", TMPL_EXEC_DEPTH_MAX);
}

void ex_step(struct ex *x, uint64_t n)
{
    x->steps += n;
    if (x->steps > TMPL_STEPS_MAX) {
        x->at = NULL;
        ex_fail(x, "execution too long (more than %llu steps)", (unsigned long long)TMPL_STEPS_MAX);
    }
}

/* ---- temporary buffers -------------------------------------------------- */

/* A heap buffer that an error unwinding past its user still frees. */
struct cn_buf *ex_buf(struct ex *x)
{
    struct ex_tmpbuf *t = CN_ARENA_NEW(x->a, struct ex_tmpbuf);
    cn_buf_init(&t->b, CN_BUF_UNLIMITED);
    t->next = x->tmpbufs;
    x->tmpbufs = t;
    return &t->b;
}

/* ---- variables ------------------------------------------------------- */

static void push_var(struct ex *x, const char *name, const struct tv *v)
{
    if (x->nvars == x->capvars) {
        size_t cap = x->capvars ? x->capvars * 2 : 16;
        struct tvar *vars = cn_arena_alloc(x->a, cap * sizeof *vars);
        if (x->nvars) memcpy(vars, x->vars, x->nvars * sizeof *vars);
        x->vars = vars;
        x->capvars = cap;
    }
    x->vars[x->nvars++] = (struct tvar){name, v};
}

static void set_var(struct ex *x, const char *name, const struct tv *v)
{
    for (size_t i = x->nvars; i-- > 0;)
        if (!strcmp(x->vars[i].name, name)) {
            x->vars[i].val = v;
            return;
        }
    ex_fail(x, "undefined variable: %s", name);
}

static const struct tv *var_value(struct ex *x, const char *name)
{
    for (size_t i = x->nvars; i-- > 0;)
        if (!strcmp(x->vars[i].name, name)) return x->vars[i].val;
    ex_fail(x, "undefined variable: %s", name);
}

/* ---- evaluation ------------------------------------------------------ */

static const struct tv *eval_pipeline(struct ex *x, const struct tv *dot, const struct node *pipe);
static const struct tv *eval_arg(struct ex *x, const struct tv *dot, const struct node *n);
static int walk(struct ex *x, const struct tv *dot, const struct node *n);

static void not_a_function(struct ex *x, const struct node *const *args, size_t nargs,
                           const struct tv *final)
{
    if (nargs > 1 || final != MISSING) {
        struct cn_buf b;
        cn_buf_init(&b, CN_BUF_UNLIMITED);
        node_string(&b, args[0]);
        char s[128];
        snprintf(s, sizeof s, "%s", b.data ? b.data : "");
        cn_buf_release(&b);
        ex_fail(x, "can't give argument to non-function %s", s);
    }
}

static const struct tv *ideal_constant(struct ex *x, const struct node *n)
{
    x->at = n;
    const char *t = n->num.text;
    bool hex_int =
        n->num.tlen > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X') && !strpbrk(t, "pP");
    if (n->num.is_float && !hex_int && !n->num.is_char && strpbrk(t, ".eEpP"))
        return tv_float(x->a, n->num.f);
    if (n->num.is_int) return tv_int(x->a, n->num.i);
    if (n->num.is_uint) ex_fail(x, "%s overflows int", t);
    return &tv_invalid;
}

/* Literal argument for a typed parameter (Go's evalString/evalInteger...). */
static const struct tv *eval_typed_literal(struct ex *x, const struct node *n, uint8_t kind)
{
    struct cn_buf b;
    char s[128];
    x->at = n;
    switch (kind) {
    case A_STR:
        if (n->type == N_STRING) return tv_str_ref(x->a, n->text.s, n->text.len);
        break;
    case A_INT:
        if (n->type == N_NUMBER && n->num.is_int) return tv_int(x->a, n->num.i);
        break;
    case A_BOOL:
        if (n->type == N_BOOL) return tv_bool(n->b);
        break;
    }
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    node_string(&b, n);
    snprintf(s, sizeof s, "%s", b.data ? b.data : "");
    cn_buf_release(&b);
    static const char *const what[] = {"", "string", "integer", "bool"};
    ex_fail(x, "expected %s; found %s", what[kind], s);
}

/* validateType for a parameter of kind k. raw: the function takes
 * reflect.Value (keeps an invalid value); else invalid becomes nil for
 * interface{} parameters. */
static const struct tv *validate(struct ex *x, const struct tv *v, uint8_t k, bool raw)
{
    static const char *const names[] = {"interface {}", "string", "int", "bool"};
    if (v->kind == TV_INVALID) {
        if (k == A_ANY) return raw ? v : &tv_nil;
        ex_fail(x, "invalid value; expected %s", names[k]);
    }
    bool ok = k == A_ANY || (k == A_STR && v->kind == TV_STR) ||
              (k == A_INT && v->kind == TV_INT) || (k == A_BOOL && v->kind == TV_BOOL);
    if (!ok) ex_fail(x, "wrong type for value; expected %s; got %s", names[k], tv_type_name(v));
    return v;
}

static const struct tv *call(struct ex *x, const struct tv *dot, const struct tfunc *f,
                             const struct node *node, const struct node *const *args, size_t nargs,
                             const struct tv *final)
{
    /* args[0] is the function itself */
    size_t nin = nargs - 1 + (final != MISSING);
    bool raw = f->raw;
    if (f->max < 0) {
        if ((int)nin < f->min)
            ex_fail(x, "wrong number of args for %s: want at least %d got %zu", f->name, f->min,
                    nargs - 1);
    } else if ((int)nin < f->min || (int)nin > f->max) {
        ex_fail(x, "wrong number of args for %s: want %d got %zu", f->name, f->max, nin);
    }
    if (f->lazy) {
        /* and/or: evaluate left to right, stop at the deciding value */
        bool is_or = f->name[0] == 'o';
        const struct tv *v = &tv_invalid;
        for (size_t i = 1; i < nargs; i++) {
            v = eval_arg(x, dot, args[i]);
            if (tv_truth(v) == is_or) return v;
        }
        if (final != MISSING) v = final;
        return v;
    }
    const struct tv **argv = cn_arena_alloc(x->a, (nin + 1) * sizeof *argv);
    size_t i = 0;
    for (; i + 1 < nargs; i++) {
        const struct node *a = args[i + 1];
        uint8_t k = i < 4 && (f->max < 0 ? (int)i < f->min : true) ? f->argk[i] : f->vark;
        if (k != A_ANY && (a->type == N_STRING || a->type == N_NUMBER || a->type == N_BOOL))
            argv[i] = eval_typed_literal(x, a, k);
        else
            argv[i] = validate(x, eval_arg(x, dot, a), k, raw);
    }
    if (final != MISSING) {
        uint8_t k = i < 4 && (f->max < 0 ? (int)i < f->min : true) ? f->argk[i] : f->vark;
        x->at = node;
        argv[i++] = validate(x, final, k, raw);
    }
    x->at = node;
    const char *saved = x->fname;
    x->fname = f->name;
    const struct tv *v = f->fn(x, argv, nin);
    x->fname = saved;
    return v;
}

static const struct tv *scratch_method(struct ex *x, const struct tv *dot, const char *name,
                                       const struct node *node, const struct node *const *args,
                                       size_t nargs, const struct tv *final, const struct tv *recv);

static const struct tv *tags_contains(struct ex *x, const struct tv *dot, const struct node *node,
                                      const struct node *const *args, size_t nargs,
                                      const struct tv *final, const struct tv *tags)
{
    size_t nin = (args ? nargs - 1 : 0) + (final != MISSING);
    if (nin != 1) ex_fail(x, "wrong number of args for Contains: want 1 got %zu", nin);
    const struct tv *v = final != MISSING ? final : eval_arg(x, dot, args[1]);
    v = validate(x, v, A_STR, false);
    x->at = node;
    for (size_t i = 0; i < tags->n; i++)
        if (tags->items[i]->n == v->n && !memcmp(tags->items[i]->s, v->s, v->n)) return &tv_true;
    return &tv_false;
}

static const struct tv *eval_field(struct ex *x, const struct tv *dot, const char *name,
                                   const struct node *node, const struct node *const *args,
                                   size_t nargs, const struct tv *final, const struct tv *recv)
{
    if (recv->kind == TV_INVALID) {
        if (x->env->missing_key_error) ex_fail(x, "nil data; no entry for key \"%s\"", name);
        return &tv_invalid;
    }
    bool has_args = nargs > 1 || final != MISSING;
    switch (recv->kind) {
    case TV_SCRATCH:
        return scratch_method(x, dot, name, node, args, nargs, final, recv);
    case TV_LIST:
        /* dependency.ServiceTags has one method: Contains(string) bool */
        if (!strcmp(name, "Contains") && recv->tname &&
            !strcmp(recv->tname, "dependency.ServiceTags"))
            return tags_contains(x, dot, node, args, nargs, final, recv);
        break;
    case TV_STRUCT: {
        const struct tv *f = tv_field(recv, name, strlen(name));
        if (f) {
            if (has_args) ex_fail(x, "%s has arguments but cannot be invoked as function", name);
            return f;
        }
        break;
    }
    case TV_MAP: {
        if (has_args) ex_fail(x, "%s is not a method but has arguments", name);
        const struct tv *v = tv_map_get(recv, cn_str_from(name));
        if (v) return v;
        if (x->env->missing_key_error) ex_fail(x, "map has no entry for key \"%s\"", name);
        return recv->map->zero;
    }
    case TV_NIL:
        if (recv->tname && recv->tname[0] == '*')
            ex_fail(x, "nil pointer evaluating %s.%s", recv->tname, name);
        ex_fail(x, "nil pointer evaluating interface {}.%s", name);
    default:
        break;
    }
    ex_fail(x, "can't evaluate field %s in type %s", name, tv_type_name(recv));
}

static const struct tv *eval_field_chain(struct ex *x, const struct tv *dot, const struct tv *recv,
                                         const struct node *node, const char *const *ids, size_t n,
                                         const struct node *const *args, size_t nargs,
                                         const struct tv *final)
{
    for (size_t i = 0; i + 1 < n; i++)
        recv = eval_field(x, dot, ids[i], node, NULL, 0, MISSING, recv);
    return eval_field(x, dot, ids[n - 1], node, args, nargs, final, recv);
}

static const struct tv *eval_var(struct ex *x, const struct tv *dot, const struct node *n,
                                 const struct node *const *args, size_t nargs,
                                 const struct tv *final)
{
    x->at = n;
    const struct tv *v = var_value(x, n->ids.idents[0]);
    if (n->ids.n == 1) {
        if (args) not_a_function(x, args, nargs, final);
        return v;
    }
    return eval_field_chain(x, dot, v, n, n->ids.idents + 1, n->ids.n - 1, args, nargs, final);
}

static const struct tv *eval_chain(struct ex *x, const struct tv *dot, const struct node *n,
                                   const struct node *const *args, size_t nargs,
                                   const struct tv *final)
{
    x->at = n;
    if (n->ids.node->type == N_NIL) {
        struct cn_buf b;
        cn_buf_init(&b, CN_BUF_UNLIMITED);
        node_string(&b, n);
        char s[128];
        snprintf(s, sizeof s, "%s", b.data);
        cn_buf_release(&b);
        ex_fail(x, "indirection through explicit nil in %s", s);
    }
    const struct tv *recv = eval_arg(x, dot, n->ids.node);
    return eval_field_chain(x, dot, recv, n, n->ids.idents, n->ids.n, args, nargs, final);
}

static const struct tv *eval_function(struct ex *x, const struct tv *dot, const struct node *ident,
                                      const struct node *cmd, const struct node *const *args,
                                      size_t nargs, const struct tv *final)
{
    x->at = ident;
    if (!args) {
        static const struct node *none[1];
        none[0] = ident;
        return call(x, dot, ident->ident.fn, cmd, none, 1, final);
    }
    return call(x, dot, ident->ident.fn, cmd, args, nargs, final);
}

static const struct tv *eval_arg(struct ex *x, const struct tv *dot, const struct node *n)
{
    x->at = n;
    switch (n->type) {
    case N_DOT:
        return dot;
    case N_NIL:
        return &tv_nil;
    case N_FIELD:
        return eval_field_chain(x, dot, dot, n, n->ids.idents, n->ids.n, NULL, 0, MISSING);
    case N_VAR:
        return eval_var(x, dot, n, NULL, 0, MISSING);
    case N_PIPE:
        return eval_pipeline(x, dot, n);
    case N_IDENT: {
        const struct node *self[1] = {n};
        return call(x, dot, n->ident.fn, n, self, 1, MISSING);
    }
    case N_CHAIN:
        return eval_chain(x, dot, n, NULL, 0, MISSING);
    case N_BOOL:
        return tv_bool(n->b);
    case N_NUMBER:
        return ideal_constant(x, n);
    case N_STRING:
        return tv_str_ref(x->a, n->text.s, n->text.len);
    default:
        ex_fail(x, "can't handle argument");
    }
}

static const struct tv *eval_command(struct ex *x, const struct tv *dot, const struct node *cmd,
                                     const struct tv *final)
{
    const struct node *first = cmd->cmd.args[0];
    const struct node *const *args = (const struct node *const *)cmd->cmd.args;
    size_t nargs = cmd->cmd.n;
    ex_step(x, 1);
    switch (first->type) {
    case N_FIELD:
        x->at = first;
        return eval_field_chain(x, dot, dot, first, first->ids.idents, first->ids.n, args, nargs,
                                final);
    case N_CHAIN:
        return eval_chain(x, dot, first, args, nargs, final);
    case N_IDENT:
        return eval_function(x, dot, first, cmd, args, nargs, final);
    case N_PIPE:
        not_a_function(x, args, nargs, final);
        return eval_pipeline(x, dot, first);
    case N_VAR:
        return eval_var(x, dot, first, args, nargs, final);
    default:
        break;
    }
    x->at = first;
    not_a_function(x, args, nargs, final);
    switch (first->type) {
    case N_BOOL:
        return tv_bool(first->b);
    case N_DOT:
        return dot;
    case N_NIL:
        ex_fail(x, "nil is not a command");
    case N_NUMBER:
        return ideal_constant(x, first);
    case N_STRING:
        return tv_str_ref(x->a, first->text.s, first->text.len);
    default:
        ex_fail(x, "can't evaluate command");
    }
}

static const struct tv *eval_pipeline(struct ex *x, const struct tv *dot, const struct node *pipe)
{
    if (!pipe) return &tv_invalid;
    x->at = pipe;
    ex_enter(x);
    const struct tv *v = MISSING;
    for (size_t i = 0; i < pipe->pipe.ncmd; i++) {
        v = eval_command(x, dot, pipe->pipe.cmds[i], v);
        /* an interface{} holding nil digs down to no value, as in Go */
        if (v == &tv_nil) v = &tv_invalid;
    }
    x->depth--;
    if (v == MISSING) v = &tv_invalid;
    for (size_t i = 0; i < pipe->pipe.ndecl; i++) {
        if (pipe->pipe.is_assign)
            set_var(x, pipe->pipe.decl[i], v);
        else
            push_var(x, pipe->pipe.decl[i], v);
    }
    return v;
}

/* ---- walking --------------------------------------------------------- */

static void write_out(struct ex *x, const void *p, size_t n)
{
    if (cn_buf_append(x->out, p, n)) {
        x->at = NULL;
        ex_fail(x, "output too large (max %u bytes)", TMPL_OUTPUT_MAX);
    }
}

static void print_value(struct ex *x, const struct node *n, const struct tv *v)
{
    x->at = n;
    struct cn_buf *b = ex_buf(x);
    tv_print(b, v);
    write_out(x, b->data ? b->data : "", b->len);
    cn_buf_release(b);
}

static int walk_if_or_with(struct ex *x, const struct tv *dot, const struct node *n)
{
    size_t mark = x->nvars;
    const struct tv *v = eval_pipeline(x, dot, n->ctl.pipe);
    int rc = W_OK;
    if (tv_truth(v))
        rc = walk(x, n->type == N_WITH ? v : dot, n->ctl.list);
    else if (n->ctl.else_list)
        rc = walk(x, dot, n->ctl.else_list);
    x->nvars = mark;
    return rc;
}

static int range_one(struct ex *x, const struct node *r, size_t mark, const struct tv *index,
                     const struct tv *elem)
{
    if (r->ctl.pipe->pipe.ndecl > 0) x->vars[x->nvars - 1].val = elem;
    if (r->ctl.pipe->pipe.ndecl > 1) x->vars[x->nvars - 2].val = index;
    ex_step(x, 1);
    int rc = walk(x, elem, r->ctl.list);
    x->nvars = mark;
    return rc;
}

static int walk_range(struct ex *x, const struct tv *dot, const struct node *r)
{
    x->at = r;
    size_t outer = x->nvars;
    const struct tv *v = eval_pipeline(x, dot, r->ctl.pipe);
    size_t mark = x->nvars;
    bool done = false;
    switch (v->kind) {
    case TV_LIST:
        for (size_t i = 0; i < v->n; i++) {
            int rc = range_one(x, r, mark, tv_int(x->a, (int64_t)i), v->items[i]);
            if (rc == W_BREAK) break;
        }
        done = v->n > 0;
        break;
    case TV_MAP:
        for (size_t i = 0; i < v->n; i++) {
            const struct tv *k = tv_str_ref(x->a, v->map->keys[i].p, v->map->keys[i].len);
            int rc = range_one(x, r, mark, k, v->map->vals[i]);
            if (rc == W_BREAK) break;
        }
        done = v->n > 0;
        break;
    case TV_INVALID:
    case TV_NIL:
        break;
    default: {
        x->at = r;
        struct cn_buf b;
        cn_buf_init(&b, CN_BUF_UNLIMITED);
        tv_print(&b, v);
        char s[128];
        snprintf(s, sizeof s, "%s", b.data ? b.data : "");
        cn_buf_release(&b);
        ex_fail(x, "range can't iterate over %s", s);
    }
    }
    int rc = W_OK;
    if (!done && r->ctl.else_list) rc = walk(x, dot, r->ctl.else_list);
    x->nvars = outer;
    return rc;
}

static const struct tdef *find_def(const struct tmpl *t, const char *name)
{
    for (const struct tdef *d = t->defs; d; d = d->next)
        if (!strcmp(d->name, name)) return d;
    return NULL;
}

/* Run a template of the set with a fresh variable stack ($ = dot). */
static void run_def(struct ex *x, const struct tdef *d, const struct tv *dot)
{
    if (x->calls >= TMPL_NEST_MAX)
        ex_fail(x, "exceeded maximum template depth (%d)", TMPL_NEST_MAX);
    struct tvar *vars = x->vars;
    size_t nvars = x->nvars, capvars = x->capvars;
    const char *tname = x->tname;
    x->vars = NULL;
    x->nvars = x->capvars = 0;
    push_var(x, "$", dot);
    x->calls++;
    ex_enter(x);
    x->tname = d->name;
    walk(x, dot, d->root);
    x->tname = tname;
    x->calls--;
    x->depth--;
    x->vars = vars;
    x->nvars = nvars;
    x->capvars = capvars;
}

void ex_template(struct ex *x, const char *name, const struct tv *dot)
{
    const struct tdef *d = find_def(x->t, name);
    if (!d) fn_fail(x, "template: no template \"%s\" associated with template \"\"", name);
    run_def(x, d, dot);
}

static int walk(struct ex *x, const struct tv *dot, const struct node *n)
{
    x->at = n;
    switch (n->type) {
    case N_ACTION: {
        const struct tv *v = eval_pipeline(x, dot, n->ctl.pipe);
        if (n->ctl.pipe->pipe.ndecl == 0) print_value(x, n, v);
        return W_OK;
    }
    case N_BREAK:
        return W_BREAK;
    case N_CONTINUE:
        return W_CONTINUE;
    case N_IF:
    case N_WITH: {
        ex_enter(x);
        int rc = walk_if_or_with(x, dot, n);
        x->depth--;
        return rc;
    }
    case N_LIST:
        for (size_t i = 0; i < n->list.n; i++) {
            int rc = walk(x, dot, n->list.items[i]);
            if (rc != W_OK) return rc;
        }
        return W_OK;
    case N_RANGE: {
        ex_enter(x);
        int rc = walk_range(x, dot, n);
        x->depth--;
        return rc;
    }
    case N_TEMPLATE: {
        const struct tdef *d = find_def(x->t, n->ctl.name);
        if (!d) ex_fail(x, "template \"%s\" not defined", n->ctl.name);
        const struct tv *v = eval_pipeline(x, dot, n->ctl.pipe);
        x->at = n;
        run_def(x, d, v);
        return W_OK;
    }
    case N_TEXT:
        ex_step(x, 1 + n->text.len / 256);
        write_out(x, n->text.s, n->text.len);
        return W_OK;
    default:
        return W_OK;
    }
}

/* ---- scratch --------------------------------------------------------- */

/* A scratch entry: a value, or a map built by MapSet. */
struct sc_entry {
    const struct tv *val;
    struct tv_mapb *map;
};

static const struct tv *sc_map_value(struct ex *x, struct tv_mapb *m)
{
    struct tv_mapb copy;
    tv_mapb_init(&copy, x->a);
    for (size_t i = 0; i < m->n; i++)
        tv_mapb_put(&copy, m->keys[i], m->vals[i]);
    return tv_mapb_done(&copy, &tv_invalid, "map[string]interface {}");
}

static struct sc_entry *sc_get(struct ex *x, const struct tv *k)
{
    const struct tv **slot = tv_mapb_slot(&x->scratch->values, cn_str_make(k->s, k->n));
    return slot ? (struct sc_entry *)(uintptr_t)*slot : NULL;
}

static struct sc_entry *sc_put(struct ex *x, const struct tv *k)
{
    struct sc_entry *e = sc_get(x, k);
    if (!e) {
        e = CN_ARENA_NEW(x->a, struct sc_entry);
        tv_mapb_put(&x->scratch->values, cn_str_make(k->s, k->n), (const struct tv *)(uintptr_t)e);
    }
    return e;
}

static const struct tv *scratch_method(struct ex *x, const struct tv *dot, const char *name,
                                       const struct node *node, const struct node *const *args,
                                       size_t nargs, const struct tv *final, const struct tv *recv)
{
    static const struct {
        const char *name;
        int nargs;
    } methods[] = {{"Key", 1},    {"Get", 1},     {"Set", 2},      {"SetX", 2},
                   {"MapSet", 3}, {"MapSetX", 3}, {"MapValues", 1}};
    int m = -1;
    for (size_t i = 0; i < CN_ARRAY_SIZE(methods); i++)
        if (!strcmp(methods[i].name, name)) m = (int)i;
    if (m < 0) ex_fail(x, "can't evaluate field %s in type *template.Scratch", name);
    (void)recv;
    size_t nin = (args ? nargs - 1 : 0) + (final != MISSING);
    if ((int)nin != methods[m].nargs)
        ex_fail(x, "wrong number of args for %s: want %d got %zu", name, methods[m].nargs, nin);
    const struct tv *av[3];
    size_t i = 0;
    for (; args && i + 1 < nargs; i++) {
        const struct tv *v = eval_arg(x, dot, args[i + 1]);
        av[i] = (i == 0 || (m >= 4 && i == 1)) ? validate(x, v, A_STR, false)
                                               : validate(x, v, A_ANY, false);
    }
    if (final != MISSING) {
        av[i] = (i == 0 || (m >= 4 && i == 1)) ? validate(x, final, A_STR, false)
                                               : validate(x, final, A_ANY, false);
        i++;
    }
    x->at = node;
    struct sc_entry *e = sc_get(x, av[0]);
    switch (m) {
    case 0:
        return tv_bool(e != NULL);
    case 1:
        if (!e) return &tv_invalid;
        return e->map ? sc_map_value(x, e->map) : e->val;
    case 2:
    case 3:
        if (m == 3 && e) return &tv_empty_str;
        e = sc_put(x, av[0]);
        e->val = av[1];
        e->map = NULL;
        return &tv_empty_str;
    case 4:
    case 5:
        e = sc_put(x, av[0]);
        if (!e->map) {
            if (e->val) {
                x->fname = name;
                fn_fail(x, "%s", "scratch: not a map");
            }
            e->map = CN_ARENA_NEW(x->a, struct tv_mapb);
            tv_mapb_init(e->map, x->a);
        }
        if (m == 5 && tv_mapb_slot(e->map, cn_str_make(av[1]->s, av[1]->n))) return &tv_empty_str;
        tv_mapb_put(e->map, cn_str_make(av[1]->s, av[1]->n), av[2]);
        return &tv_empty_str;
    default: {
        if (!e || !e->map) return tv_list(x->a, NULL, 0, "[]interface {}");
        const struct tv **items = cn_arena_alloc(x->a, (e->map->n + 1) * sizeof *items);
        for (size_t k = 0; k < e->map->n; k++)
            items[k] = e->map->vals[k];
        return tv_list(x->a, items, e->map->n, "[]interface {}");
    }
    }
}

/* ---- entry ----------------------------------------------------------- */

int tmpl_execute(const struct tmpl *t, struct tmpl_store *s, const struct tmpl_env *env,
                 struct tmpl_used *used, struct cn_buf *out, struct tmpl_error *err)
{
    struct cn_arena arena;
    cn_arena_init(&arena, 65536);
    struct ex *x = CN_NEW(struct ex);
    struct tscratch scratch;
    tv_mapb_init(&scratch.values, &arena);
    x->t = t;
    x->store = s;
    x->env = env;
    x->used = used;
    x->a = &arena;
    x->out = out;
    x->tname = "";
    x->scratch = &scratch;
    x->err = err;
    memset(err, 0, sizeof *err);
    ex_used_begin(x);
    int rc = 0;
    if (setjmp(x->jb) == 0) {
        push_var(x, "$", &tv_invalid);
        walk(x, &tv_invalid, t->root);
    } else {
        rc = CN_EINVAL;
    }
    ex_used_end(x);
    for (struct ex_tmpbuf *tb = x->tmpbufs; tb; tb = tb->next)
        cn_buf_release(&tb->b);
    free(x);
    cn_arena_release(&arena);
    return rc;
}
