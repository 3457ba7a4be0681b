/*
 * cli.h - cairn's command-line client: Consul's CLI over the agent's HTTP
 * API. One file per command family; this header holds what they share:
 * Go-style flag parsing, the common HTTP options and a small HTTP client.
 *
 * Output and exit codes follow Consul's CLI: data on stdout, errors on
 * stderr, 0 on success, 1 on any error (2 where a command says so).
 */
#ifndef CLI_H
#define CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/cn_buf.h"

/* ---- flags ----------------------------------------------------------- */

enum cli_flag_kind { CF_BOOL, CF_STR, CF_INT, CF_UINT, CF_LIST };

struct cli_list {
    char **items;
    size_t n;
};

struct cli_flag {
    const char *name;
    enum cli_flag_kind kind;
    void *dst; /* bool *, const char **, int64_t *, uint64_t *, struct cli_list * */
    const char *usage;
    bool *seen; /* optional: set when the flag was given */
};

/* Parse flags Go's way (-f=v, -f v, --f, booleans -f or -f=false; stop at
 * the first non-flag or "--"). Returns the index of the first positional
 * argument, or -1 after printing the error (or usage for -h, which returns
 * -2). */
int cli_parse_flags(const char *cmd, const struct cli_flag *flags, int argc, char **argv);
void cli_print_usage(const char *cmd, const char *synopsis, const struct cli_flag *flags);

/* ---- HTTP ------------------------------------------------------------ */

struct cli_http_opts {
    const char *addr; /* -http-addr */
    const char *token;
    const char *token_file;
    const char *datacenter;
    const char *ca_file, *ca_path, *client_cert, *client_key, *tls_server_name;
    bool stale;
};

/* The common HTTP flags, to append to a command's own table. */
#define CLI_HTTP_FLAGS(o)                                                               \
    {"http-addr", CF_STR, &(o)->addr, "agent HTTP address (CONSUL_HTTP_ADDR)", NULL},   \
        {"token", CF_STR, &(o)->token, "ACL token (CONSUL_HTTP_TOKEN)", NULL},          \
        {"token-file", CF_STR, &(o)->token_file, "file holding the ACL token", NULL},   \
        {"datacenter", CF_STR, &(o)->datacenter, "datacenter to query", NULL},          \
        {"ca-file", CF_STR, &(o)->ca_file, "CA file for TLS", NULL},                    \
        {"ca-path", CF_STR, &(o)->ca_path, "CA directory for TLS", NULL},               \
        {"client-cert", CF_STR, &(o)->client_cert, "client certificate", NULL},         \
        {"client-key", CF_STR, &(o)->client_key, "client key", NULL},                   \
        {"tls-server-name", CF_STR, &(o)->tls_server_name, "TLS server name", NULL}

struct cli_resp {
    long status;
    struct cn_buf body;
    uint64_t index; /* X-Consul-Index, 0 when absent */
    char content_hash[80];
};

struct cli_client;

/* Build a client from the flags and the environment (flags win). NULL after
 * printing the error. */
struct cli_client *cli_client_new(const struct cli_http_opts *o);
void cli_client_free(struct cli_client *c);
/* path_query starts with "/v1/"; the client appends dc, token and stale.
 * Returns 0 when a response arrived (any status), else prints
 * "Error ...: <curl error>" under what and returns -1. */
int cli_http(struct cli_client *c, const char *method, const char *path_query, const void *body,
             size_t len, struct cli_resp *resp, const char *what);
/* The agent address in use (for messages). */
const char *cli_client_addr(const struct cli_client *c);
void cli_resp_release(struct cli_resp *r);
/* URL-escape a path segment (keeps '/'), heap string. */
char *cli_escape_path(const char *s);
/* Read a data argument: "@file", "-" (stdin) or the literal. Heap buffer. */
int cli_read_data(const char *arg, struct cn_buf *out);

/* ---- commands -------------------------------------------------------- */
int cli_kv(int argc, char **argv);
int cli_version(int argc, char **argv);

/* Dispatch `cairn <command> ...`; returns the exit code. */
int cli_main(int argc, char **argv);

#endif
