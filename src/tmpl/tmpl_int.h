/*
 * tmpl_int.h - the template core's insides: values, the parse tree, the
 * execution state and the function table. Private to src/tmpl.
 *
 * Values model the Go values consul-template hands to text/template
 * (strings, int64/uint64/float64, bools, slices, string-keyed maps, the
 * dependency structs, the scratch object) closely enough that printing,
 * truth, comparison, field access and index behave as Go's do. Values are
 * immutable once built and live in an arena: a dependency's arena while
 * its data is current, the execution's arena for temporaries.
 */
#ifndef TMPL_INT_H
#define TMPL_INT_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/cn_arena.h"
#include "lib/cn_buf.h"
#include "tmpl/tmpl.h"

/* ---- values ---------------------------------------------------------- */

enum tv_kind {
    TV_INVALID, /* Go's invalid reflect.Value: prints "<no value>", false */
    TV_NIL,     /* nil pointer / nil interface: prints "<nil>", false */
    TV_BOOL,
    TV_INT, /* int, int64 */
    TV_UINT,
    TV_FLOAT,
    TV_STR,
    TV_LIST,
    TV_MAP, /* string keys, sorted */
    TV_STRUCT,
    TV_SCRATCH,
};

/* A struct type: name as Go's errors print it and field names in order. */
struct tv_type {
    const char *name;
    size_t n;
    const char *const *fields;
    bool ptr; /* values are pointers (*T): printed "&{...}" inside lists */
};

struct tv;

struct tv_map {
    struct cn_str *keys; /* sorted byte-wise, unique */
    const struct tv **vals;
    const struct tv *zero; /* what a missing key reads as in "zero" mode */
};

struct tv {
    uint8_t kind;
    size_t n;          /* bytes of a string; items of a list, map or struct */
    const char *tname; /* Go type for errors/%T: "[]string", "map[string]string"... */
    union {
        bool b;
        int64_t i;
        uint64_t u;
        double f;
        const char *s;
        const struct tv **items; /* list items; struct fields */
        const struct tv_map *map;
        struct tscratch *scratch;
    };
    const struct tv_type *type; /* TV_STRUCT */
};

extern const struct tv tv_invalid, tv_nil, tv_true, tv_false, tv_empty_str, tv_zero_int;

/* Constructors allocate in a; strings are copied. */
const struct tv *tv_str(struct cn_arena *a, const char *s, size_t n);
const struct tv *tv_cstr(struct cn_arena *a, const char *s);
/* A string that points at bytes which outlive the value (no copy). */
const struct tv *tv_str_ref(struct cn_arena *a, const char *s, size_t n);
const struct tv *tv_int(struct cn_arena *a, int64_t i);
const struct tv *tv_uint(struct cn_arena *a, uint64_t u);
const struct tv *tv_float(struct cn_arena *a, double f);
const struct tv *tv_bool(bool b);
/* items is taken as is (allocate it in the same arena). */
const struct tv *tv_list(struct cn_arena *a, const struct tv **items, size_t n, const char *tname);
const struct tv *tv_struct(struct cn_arena *a, const struct tv_type *t, const struct tv **fields);
/* A struct field by name; NULL when the type has none. */
const struct tv *tv_field(const struct tv *v, const char *name, size_t len);

/* Map builder: insert or replace, then freeze (keys sorted). */
struct tv_mapb {
    struct cn_arena *a;
    struct cn_str *keys;
    const struct tv **vals;
    size_t n, cap;
};
void tv_mapb_init(struct tv_mapb *b, struct cn_arena *a);
/* Existing slot for key or NULL. */
const struct tv **tv_mapb_slot(struct tv_mapb *b, struct cn_str key);
void tv_mapb_put(struct tv_mapb *b, struct cn_str key, const struct tv *v);
const struct tv *tv_mapb_done(struct tv_mapb *b, const struct tv *zero, const char *tname);
const struct tv *tv_map_get(const struct tv *m, struct cn_str key); /* NULL if absent */

/* List builder. */
struct tv_listb {
    struct cn_arena *a;
    const struct tv **items;
    size_t n, cap;
};
void tv_listb_init(struct tv_listb *b, struct cn_arena *a);
void tv_listb_push(struct tv_listb *b, const struct tv *v);
const struct tv *tv_listb_done(struct tv_listb *b, const char *tname);

/* Go's truth (isTrue): ok=false for values that have none (funcs). */
bool tv_truth(const struct tv *v);
/* Go type name for messages ("string", "int", "[]interface {}"...). */
const char *tv_type_name(const struct tv *v);
/* Go fmt %v into b (top level: as text/template prints an action). */
void tv_print(struct cn_buf *b, const struct tv *v);
/* fmt.Sprint semantics over several operands. */
void tv_sprint(struct cn_buf *b, const struct tv *const *args, size_t n, bool ln);
/* Go fmt.Sprintf; never fails (bad verbs print %!v(...) as Go does). */
void tv_sprintf(struct cn_buf *b, const char *fmt, size_t flen, const struct tv *const *args,
                size_t n);
/* strconv.FormatFloat(f, fmt, prec, 64); prec -1 = shortest. */
void go_ftoa(struct cn_buf *b, double f, char fmt, int prec);
/* strconv.Quote. */
void go_quote(struct cn_buf *b, const char *s, size_t n, bool ascii_only);

/* JSON: Go encoding/json of a value (indent NULL = compact). */
void tv_json(struct cn_buf *b, const struct tv *v, const char *indent, bool escape_html);
/* JSON text -> value as Go's json.Unmarshal into interface{}; NULL on error. */
const struct tv *tv_from_json_text(struct cn_arena *a, const char *s, size_t n, char *err,
                                   size_t errlen);

/* ---- parse tree ------------------------------------------------------ */

enum node_type {
    N_TEXT,
    N_ACTION,
    N_IF,
    N_RANGE,
    N_WITH,
    N_TEMPLATE,
    N_BREAK,
    N_CONTINUE,
    N_LIST,
    N_PIPE,
    N_CMD,
    N_FIELD,
    N_VAR,
    N_IDENT,
    N_DOT,
    N_NIL,
    N_BOOL,
    N_NUMBER,
    N_STRING,
    N_CHAIN,
    N_COMMENT,
};

struct tfunc;

struct node {
    uint8_t type;
    uint32_t pos; /* byte offset of the node's first token */
    union {
        struct { /* N_TEXT, N_STRING (s = unquoted; quoted = source form), N_COMMENT */
            const char *s;
            size_t len;
            const char *quoted;
            size_t qlen;
        } text;
        struct { /* N_LIST */
            struct node **items;
            size_t n;
        } list;
        struct { /* N_ACTION, N_IF, N_RANGE, N_WITH, N_TEMPLATE */
            struct node *pipe;
            struct node *list, *else_list;
            const char *name; /* N_TEMPLATE */
        } ctl;
        struct {               /* N_PIPE */
            const char **decl; /* "$x" names */
            size_t ndecl;
            bool is_assign;
            struct node **cmds;
            size_t ncmd;
        } pipe;
        struct { /* N_CMD */
            struct node **args;
            size_t n;
        } cmd;
        struct { /* N_FIELD (.a.b: a, b), N_VAR ($x.a: $x, a), N_CHAIN (node + fields) */
            const char **idents;
            size_t n;
            struct node *node; /* N_CHAIN */
        } ids;
        struct { /* N_IDENT */
            const char *name;
            const struct tfunc *fn;
        } ident;
        bool b;  /* N_BOOL */
        struct { /* N_NUMBER */
            bool is_int, is_uint, is_float, is_char;
            int64_t i;
            uint64_t u;
            double f;
            const char *text;
            size_t tlen;
        } num;
    };
};

/* A named template of the set (define/block); the main one is "". */
struct tdef {
    const char *name;
    struct node *root;
    struct tdef *next;
};

struct tmpl {
    struct cn_arena arena; /* every node and string of the tree */
    char *text;            /* the source, owned */
    size_t len;
    struct node *root;
    struct tdef *defs;
    char *name;
};

/* Node text as Go's String() gives it (error context). */
void node_string(struct cn_buf *b, const struct node *n);
/* 1-based line and 0-based column of a byte offset. */
void tmpl_line_col(const char *text, size_t pos, int *line, int *col);

/* ---- execution ------------------------------------------------------- */

struct tvar {
    const char *name;
    const struct tv *val;
};

struct tscratch {
    struct tv_mapb values;
};

struct ex_tmpbuf {
    struct cn_buf b;
    struct ex_tmpbuf *next;
};

struct ex {
    const struct tmpl *t;
    struct tmpl_store *store;
    const struct tmpl_env *env;
    struct tmpl_used *used;
    struct cn_arena *a; /* temporaries */
    struct cn_buf *out;
    const struct node *at; /* for error positions */
    const char *tname;     /* template being executed (name in messages) */
    struct tvar *vars;
    size_t nvars, capvars;
    int depth; /* C recursion: pipelines, control structures, calls */
    int calls; /* template calls (Go's "maximum template depth") */
    uint64_t steps;
    const char *fname; /* function being called, for "error calling X" */
    struct tscratch *scratch;
    struct tmpl_error *err;
    struct tmpl_used next_used; /* being recorded */
    struct ex_tmpbuf *tmpbufs;  /* freed at the end, even after an error */
    uint64_t serial;
    jmp_buf jb;
};

/* Fail execution with Go's message shape; never returns. */
CN_NORETURN void ex_fail(struct ex *x, const char *fmt, ...) CN_PRINTF(2, 3);
/* Fail inside a function: "error calling <fn>: <msg>". */
CN_NORETURN void fn_fail(struct ex *x, const char *fmt, ...) CN_PRINTF(2, 3);
/* A temporary heap buffer released when the execution ends (errors unwind
 * with longjmp, so a function's own buffer would leak). */
struct cn_buf *ex_buf(struct ex *x);
/* Execute a named template of the set into the current output. */
void ex_template(struct ex *x, const char *name, const struct tv *dot);
/* Enter one more level of recursion (fails past TMPL_EXEC_DEPTH_MAX). */
void ex_enter(struct ex *x);
/* Charge work against the step budget (defence against `loop 1e12`). */
void ex_step(struct ex *x, uint64_t n);

/* ---- functions ------------------------------------------------------- */

enum targ { A_ANY, A_STR, A_INT, A_BOOL };

typedef const struct tv *(*tfunc_fn)(struct ex *x, const struct tv **args, size_t n);

struct tfunc {
    const char *name;
    tfunc_fn fn;
    int8_t min, max; /* max -1: variadic */
    uint8_t argk[4]; /* kinds of the fixed parameters (then A_ANY) */
    uint8_t vark;    /* kind of the variadic ones */
    bool lazy;       /* and/or: args evaluated by the function */
    bool raw;        /* takes reflect.Value: a missing value stays invalid */
};

const struct tfunc *tfunc_find(const char *name, size_t len);
extern const struct tfunc tfuncs_builtin[];
extern const struct tfunc tfuncs_ct[];
extern const struct tfunc tfuncs_data[];

/* Builtins shared with consul-template helpers. */
bool tv_equal(struct ex *x, const struct tv *a, const struct tv *b);

/* ---- dependencies (store.c, data.c) ------------------------------------ */

/* Look a dependency up (created without data when new) and record its use by
 * the running execution. */
struct tmpl_dep *ex_dep(struct ex *x, enum tmpl_dep_kind kind, const char *id, const char *path,
                        const char *query, const char *arg);
/* Its value, or NULL when it has no data yet (then the use counts as missing). */
const struct tv *ex_dep_value(struct ex *x, struct tmpl_dep *d);
void ex_dep_missing(struct ex *x, struct tmpl_dep *d);
/* Start and finish recording an execution's dependencies into x->used. */
void ex_used_begin(struct ex *x);
void ex_used_end(struct ex *x);

/* Struct types of the dependency data. */
extern const struct tv_type tt_keypair, tt_health_service, tt_health_check, tt_catalog_snippet,
    tt_node, tt_catalog_node, tt_catalog_node_service, tt_weights, tt_service_address;

#endif
