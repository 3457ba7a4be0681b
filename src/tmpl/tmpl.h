/*
 * tmpl.h - consul-template's language, pure: Go text/template syntax and
 * consul-template's functions (../shared/spec/templates.md §3).
 *
 * A template is parsed once into a tree (tmpl_parse) and executed as often as
 * its data changes (tmpl_execute). Data comes from a dependency store the
 * caller owns and fills: executing a template that calls `key "a"` or
 * `service "web"` looks the dependency up in the store, creating it without
 * data if it is new, and records the use. A template whose dependencies do
 * not all have data yet executes anyway (the functions return empty values,
 * as consul-template's do) and reports them missing; the caller fetches
 * every dependency of the store that has no data (tmpl_dep_path/query say
 * what to ask the agent), feeds the answers back with tmpl_dep_update and
 * executes again. Nested lookups (`range services` then `service .Name`) are
 * discovered pass by pass, exactly as in consul-template.
 *
 * Nothing here reads a clock, a file, the environment or a socket: "now", the
 * environment and file contents come from the caller (struct tmpl_env and
 * TMPL_DEP_FILE dependencies). Not thread-safe; one thread drives a store and
 * the templates executing against it.
 */
#ifndef TMPL_H
#define TMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/cn_buf.h"
#include "lib/cn_err.h"

/* Limits (TigerStyle: a bound on every input). */
#define TMPL_SOURCE_MAX     (8u * 1024 * 1024)   /* template text */
#define TMPL_OUTPUT_MAX     (64u * 1024 * 1024)  /* rendered bytes */
#define TMPL_NEST_MAX       256                  /* parse nesting, template calls */
#define TMPL_EXEC_DEPTH_MAX 1000                 /* nested evaluation of all kinds together */
#define TMPL_STEPS_MAX      20000000ull          /* evaluation work units per execution */
#define TMPL_MEM_MAX        (512u * 1024 * 1024) /* temporaries of one execution */

/* An error with its place in the template: line 1-based, col 1-based byte
 * column (0 when unknown). msg is consul-template's text, e.g.
 * `template: :3: function "foo" not defined` or
 * `template: :1:2: executing "" at <.Foo>: ...`. */
struct tmpl_error {
    int line, col;
    char msg[CN_ERR_MSG_MAX];
};

struct tmpl_parse_opts {
    const char *left_delim;  /* "{{" when NULL or "" */
    const char *right_delim; /* "}}" when NULL or "" */
};

struct tmpl;

/* Parse text (len bytes, copied). NULL with err set on a syntax error. */
struct tmpl *tmpl_parse(const char *text, size_t len, const struct tmpl_parse_opts *o,
                        struct tmpl_error *err);
void tmpl_free(struct tmpl *t);

/* ---- dependencies and the store -------------------------------------- */

enum tmpl_dep_kind {
    TMPL_DEP_KV_BLOCK, /* key: waits while the key is absent */
    TMPL_DEP_KV_GET,   /* keyExists, keyOrDefault: absence is data */
    TMPL_DEP_KV_LIST,  /* ls, tree */
    TMPL_DEP_HEALTH_SERVICE,
    TMPL_DEP_CATALOG_SERVICES,
    TMPL_DEP_CATALOG_NODES,
    TMPL_DEP_CATALOG_NODE, /* node; empty name = the agent's own node */
    TMPL_DEP_CATALOG_DATACENTERS,
    TMPL_DEP_FILE,
};

struct tmpl_store;
struct tmpl_dep;

struct tmpl_store *tmpl_store_new(void);
/* Frees every dependency. */
void tmpl_store_free(struct tmpl_store *s);

/* Canonical id, e.g. "kv.block(service/haproxy/maxconn)",
 * "health.service(release.web|passing)" (one watch per distinct id). */
const char *tmpl_dep_id(const struct tmpl_dep *d);
enum tmpl_dep_kind tmpl_dep_kind(const struct tmpl_dep *d);
/* The request: URL path ("/v1/health/service/web", already escaped) and the
 * dependency's own query parameters, sorted, as "passing=1&tag=release" ("" if
 * none); the caller adds index, wait and stale. TMPL_DEP_FILE: path is the file.
 * TMPL_DEP_CATALOG_NODE with an empty node name: path is "/v1/catalog/node/"
 * and the caller appends the agent's node name (GET /v1/agent/self). */
const char *tmpl_dep_path(const struct tmpl_dep *d);
const char *tmpl_dep_query(const struct tmpl_dep *d);
/* Blocking query (false: re-poll, i.e. catalog.datacenters and file). */
bool tmpl_dep_blocking(const struct tmpl_dep *d);
bool tmpl_dep_has_data(const struct tmpl_dep *d);
/* How many templates used it in their latest execution; 0 = stop watching. */
size_t tmpl_dep_refs(const struct tmpl_dep *d);
void *tmpl_dep_user(const struct tmpl_dep *d);
void tmpl_dep_set_user(struct tmpl_dep *d, void *user);

/* Feed an agent answer (status 200 or 404 and the body). Returns 1 when the
 * dependency's data changed (a render is due), 0 when not (same data, or a
 * 404 for `key`, which keeps waiting or keeps the last value), or CN_EPROTO
 * with err set when the body is not what the endpoint returns. */
int tmpl_dep_update(struct tmpl_store *s, struct tmpl_dep *d, int status, const char *body,
                    size_t len, struct cn_err *err);
/* Feed a file's contents (TMPL_DEP_FILE). Same return as above. */
int tmpl_dep_set_file(struct tmpl_store *s, struct tmpl_dep *d, const char *data, size_t len);

/* Iterate: first with prev NULL; NULL at the end. */
struct tmpl_dep *tmpl_store_next(struct tmpl_store *s, struct tmpl_dep *prev);
/* Remove a dependency no template uses any more (refs == 0). */
void tmpl_store_remove(struct tmpl_store *s, struct tmpl_dep *d);
size_t tmpl_store_count(const struct tmpl_store *s);

/* ---- executing ------------------------------------------------------- */

/* What one template read in its latest execution (for the caller: which
 * templates a change touches, and whether all their data is there). */
struct tmpl_used {
    struct tmpl_dep **deps;
    uint64_t *versions;
    size_t n, cap;
    size_t missing; /* dependencies without data (or safeLs/safeTree empty) */
};

void tmpl_used_init(struct tmpl_used *u);
/* Drop the references (refs--) and free. */
void tmpl_used_release(struct tmpl_used *u);
/* True when a dependency read last time has changed since. */
bool tmpl_used_changed(const struct tmpl_used *u);

struct tmpl_env {
    int64_t now_ns; /* wall clock, Unix epoch (timestamp) */
    /* Environment lookup (env, envOrDefault, mustEnv): NULL when unset. */
    const char *(*getenv)(void *ctx, const char *name);
    void *env_ctx;
    bool missing_key_error; /* error_on_missing_key */
};

/* Execute into out (appended). Replaces *used with this execution's
 * dependencies. 0 on success (check used->missing before writing the
 * result anywhere), CN_EINVAL with err set on an execution error. */
int tmpl_execute(const struct tmpl *t, struct tmpl_store *s, const struct tmpl_env *env,
                 struct tmpl_used *used, struct cn_buf *out, struct tmpl_error *err);

#endif
