/*
 * run.h - the `cairn template` runner: consul-template's configuration and
 * runtime (../shared/spec/templates.md §1-2) around the pure template core.
 *
 * Each dependency of the store is watched by one HTTP blocking query against
 * the agent (libcurl multi driven by libuv: one loop, no thread per query),
 * shared by every template that uses it. Answers feed the store; a render
 * pass then re-executes the templates whose data changed, writes the files
 * atomically when their bytes differ, and runs the commands. The agent going
 * away is retried with backoff and the files keep their last good content.
 *
 * This layer does the I/O the core must not: sockets, files, processes,
 * clocks, signals. The process-wide parts (signals, the loop) make it a
 * one-runner-per-process component.
 */
#ifndef TMPL_RUN_H
#define TMPL_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/cn_err.h"

/* Exit codes (consul-template's). */
enum {
    TR_EXIT_OK = 0,
    TR_EXIT_GENERIC = 11,
    TR_EXIT_KILLED = 12,
    TR_EXIT_FLAGS = 13,
    TR_EXIT_RUNNER = 14,
    TR_EXIT_CONFIG = 15,
};

#define TR_UNSET (-1)

/* One template block. Strings are owned (heap). */
struct tr_template {
    char *source, *contents, *destination;
    char **command; /* argv; one element with white space runs under sh -c */
    size_t ncommand;
    int64_t command_timeout_ns; /* TR_UNSET: 30s */
    int64_t perms;              /* TR_UNSET/0: keep the existing mode, else 0644 */
    int backup;                 /* TR_UNSET: false */
    bool wait_set;
    int64_t wait_min_ns, wait_max_ns;
    char *left_delim, *right_delim;
    int error_on_missing_key; /* TR_UNSET: false */
    int error_fatal;          /* TR_UNSET: true */
    int create_dest_dirs;     /* TR_UNSET: true */
};

struct tr_config {
    char *address, *token, *token_file;
    char *auth_user, *auth_pass;
    int auth_enabled;
    int ssl_enabled, ssl_verify;
    char *ssl_cert, *ssl_key, *ssl_ca_cert, *ssl_ca_path, *ssl_server_name;
    int retry_enabled;
    int64_t retry_attempts, retry_backoff_ns, retry_max_backoff_ns;
    int64_t max_stale_ns, block_query_wait_ns;
    bool wait_set;
    int64_t wait_min_ns, wait_max_ns;
    int once, dry, parse_only;
    char *log_level;
    char *pid_file;
    char *reload_signal, *kill_signal; /* NULL: default; "": disabled */
    int template_error_fatal;          /* TR_UNSET: per template */
    char *default_left_delim, *default_right_delim;
    struct tr_template *templates;
    size_t ntemplates;
};

void tr_config_init(struct tr_config *c);
void tr_config_release(struct tr_config *c);

/* Merge a config file, or every file under a directory (lexical order), into
 * c. CN_EINVAL with err = "<path>: <why>" on a bad file (exit 15). */
int tr_config_load_path(struct tr_config *c, const char *path, struct cn_err *err);
/* Merge HCL/JSON text (CT_LOCAL_CONFIG). */
int tr_config_load_text(struct tr_config *c, const char *text, size_t len, const char *origin,
                        struct cn_err *err);
/* Add a -template "in:out:command" value. */
int tr_config_add_template_flag(struct tr_config *c, const char *value, struct cn_err *err);
/* Parse -wait "min[:max]". */
int tr_parse_wait(const char *s, int64_t *min_ns, int64_t *max_ns, struct cn_err *err);
/* Fill what nothing set: environment fallbacks (CONSUL_HTTP_ADDR, tokens, log
 * level), then defaults; validate templates. CN_EINVAL with err (exit 15). */
int tr_config_finish(struct tr_config *c, struct cn_err *err);
/* A signal name ("SIGHUP", any case) to its number; 0 for "", -1 unknown. */
int tr_signal_parse(const char *name);

/* Builds a fresh configuration (at start and on every reload signal).
 * Returns an exit code: 0 to go on, else stop with that code. */
typedef int (*tr_loader_fn)(void *ctx, struct tr_config *out);

/* Run until -once completes, the kill signal, or a fatal error; returns the
 * exit code. */
int tr_run(tr_loader_fn loader, void *ctx);

/* Logging in consul-template's shape:
 * 2026-11-26T00:57:09.123Z [INFO] (runner) message */
enum tr_level { TR_TRACE, TR_DEBUG, TR_INFO, TR_WARN, TR_ERR };
void tr_log_set_level(enum tr_level l);
int tr_log_level_parse(const char *s); /* -1 when unknown */
void tr_log(enum tr_level l, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
