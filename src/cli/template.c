/*
 * template.c - `cairn template`: consul-template's command line (cli.go) on
 * top of the runner in src/tmpl/run. Flags are parsed once (exit 13 on an
 * error); the configuration (files, CT_LOCAL_CONFIG, then the flags, then
 * environment fallbacks) is rebuilt from them at start and on every reload
 * signal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/cn_common.h"
#include "lib/cn_time.h"
#include "lib/cn_version.h"
#include "tmpl/run/run.h"

#define CT_VERSION "v0.42.1"

/* Found by main.c through a weak symbol; cli.h is not ours to extend. */
int cli_template(int argc, char **argv);

struct tflags {
    struct cli_list templates, configs;
    const char *consul_addr, *http_addr, *consul_token, *token, *token_file, *consul_auth;
    const char *wait, *log_level, *max_stale, *reload_signal, *kill_signal, *pid_file;
    const char *retry_backoff, *retry_max_backoff, *retry, *left_delim, *right_delim;
    const char *ssl_cert, *ssl_key, *ssl_ca_cert, *ssl_ca_path, *ssl_server_name;
    const char *ignored_str;
    int64_t retry_attempts;
    bool once, dry, parse_only, version, tef, consul_retry, ssl, ssl_verify, ignored_bool;
    bool seen_once, seen_dry, seen_parse_only, seen_tef, seen_retry_attempts, seen_consul_retry,
        seen_ssl, seen_ssl_verify, seen_ignored, seen_ignored_b, seen_version;
};

static struct cli_flag *flag_table(struct tflags *f)
{
    static struct cli_flag t[80];
    size_t n = 0;
#define S(name, dst, use) t[n++] = (struct cli_flag){name, CF_STR, dst, use, NULL}
#define B(name, dst, seen, use)                                                                    \
    t[n++] = (struct cli_flag)                                                                     \
    {                                                                                              \
        name, CF_BOOL, dst, use, seen                                                              \
    }
    t[n++] = (struct cli_flag){"template", CF_LIST, &f->templates,
                               "\"in:out[:command]\" template to render (repeatable)", NULL};
    t[n++] = (struct cli_flag){"config", CF_LIST, &f->configs,
                               "config file or directory (repeatable)", NULL};
    B("once", &f->once, &f->seen_once, "render every template once, run commands, exit");
    B("dry", &f->dry, &f->seen_dry, "print renders to stdout instead of writing files");
    B("parse-only", &f->parse_only, &f->seen_parse_only, "parse templates and exit");
    S("wait", &f->wait, "quiescence \"min[:max]\" (Go durations)");
    S("consul-addr", &f->consul_addr, "agent address (CONSUL_HTTP_ADDR)");
    S("http-addr", &f->http_addr, "agent address (cairn spelling of -consul-addr)");
    S("consul-token", &f->consul_token, "ACL token (CONSUL_HTTP_TOKEN)");
    S("token", &f->token, "ACL token (cairn spelling of -consul-token)");
    S("consul-token-file", &f->token_file, "file holding the ACL token");
    S("token-file", &f->token_file, "file holding the ACL token");
    S("consul-auth", &f->consul_auth, "\"user[:pass]\" HTTP basic auth");
    B("consul-ssl", &f->ssl, &f->seen_ssl, "use HTTPS");
    B("consul-ssl-verify", &f->ssl_verify, &f->seen_ssl_verify, "verify the agent's certificate");
    S("consul-ssl-cert", &f->ssl_cert, "client certificate");
    S("consul-ssl-key", &f->ssl_key, "client key");
    S("consul-ssl-ca-cert", &f->ssl_ca_cert, "CA certificate");
    S("consul-ssl-ca-path", &f->ssl_ca_path, "CA directory");
    S("consul-ssl-server-name", &f->ssl_server_name, "TLS server name");
    B("consul-retry", &f->consul_retry, &f->seen_consul_retry, "retry failed requests");
    t[n++] = (struct cli_flag){"consul-retry-attempts", CF_INT, &f->retry_attempts,
                               "retries before giving up (0 = forever)", &f->seen_retry_attempts};
    S("consul-retry-backoff", &f->retry_backoff, "first retry delay");
    S("consul-retry-max-backoff", &f->retry_max_backoff, "longest retry delay");
    S("retry", &f->retry, "first retry delay (old spelling)");
    S("log-level", &f->log_level, "trace, debug, info, warn, err (default warn)");
    S("max-stale", &f->max_stale, "accept stale reads this old (default 2s; 0 disables)");
    S("reload-signal", &f->reload_signal, "signal that reloads (default SIGHUP)");
    S("kill-signal", &f->kill_signal, "signal that stops (default SIGINT)");
    S("pid-file", &f->pid_file, "write the process id here");
    B("template-error-fatal", &f->tef, &f->seen_tef,
      "template errors stop the process (default true)");
    S("default-left-delimiter", &f->left_delim, "left delimiter for every template");
    S("default-right-delimiter", &f->right_delim, "right delimiter for every template");
    B("v", &f->version, &f->seen_version, "print the version");
    B("version", &f->version, &f->seen_version, "print the version");
    /* accepted and ignored (with a warning) */
    static const char *const ignored_str[] = {"log-file",
                                              "syslog-facility",
                                              "syslog-name",
                                              "vault-addr",
                                              "vault-token",
                                              "consul-transport-dial-keep-alive",
                                              "consul-transport-dial-timeout",
                                              "consul-transport-idle-conn-timeout",
                                              "consul-transport-max-idle-conns-per-host",
                                              "consul-transport-tls-handshake-timeout",
                                              "vault-renew-token",
                                              NULL};
    for (size_t i = 0; ignored_str[i]; i++)
        t[n++] =
            (struct cli_flag){ignored_str[i], CF_STR, &f->ignored_str, "ignored", &f->seen_ignored};
    static const char *const ignored_bool[] = {
        "syslog", "dedup", "consul-transport-disable-keep-alives", "vault-ssl", NULL};
    for (size_t i = 0; ignored_bool[i]; i++)
        t[n++] = (struct cli_flag){ignored_bool[i], CF_BOOL, &f->ignored_bool, "ignored",
                                   &f->seen_ignored_b};
    static const char *const exec_flags[] = {
        "exec",       "exec-kill-signal",   "exec-kill-timeout", "exec-reload-signal",
        "exec-splay", "exec-env-allowlist", "exec-env-denylist", "exec-env-custom",
        NULL};
    static const char *exec_dummy;
    static bool exec_seen;
    for (size_t i = 0; exec_flags[i]; i++)
        t[n++] = (struct cli_flag){exec_flags[i], CF_STR, &exec_dummy, "not supported", &exec_seen};
    t[n] = (struct cli_flag){0};
#undef S
#undef B
    CN_ASSERT(n < CN_ARRAY_SIZE(t));
    return t;
}

static bool exec_requested(const struct cli_flag *t)
{
    for (; t->name; t++)
        if (!strncmp(t->name, "exec", 4) && t->seen && *t->seen) return true;
    return false;
}

static void usage(const struct cli_flag *t)
{
    printf("Usage: cairn template [options]\n\n"
           "  Watches the agent and renders templates (consul-template's flags, config and\n"
           "  language), e.g.\n\n"
           "    cairn template -template \"in.ctmpl:/etc/haproxy/haproxy.cfg:systemctl reload "
           "haproxy\"\n\n"
           "Options:\n\n");
    for (; t->name; t++) {
        if (!strcmp(t->usage, "ignored") || !strcmp(t->usage, "not supported")) continue;
        printf("  -%s%s\n      %s\n", t->name, t->kind == CF_BOOL ? "" : "=<value>", t->usage);
    }
}

static char *dupz(const char *s)
{
    return s ? cn_strdup(s) : NULL;
}

static int dur_flag(const char *name, const char *v, int64_t *out)
{
    if (!v) return 0;
    if (cn_dur_parse(cn_str_from(v), out)) {
        fprintf(stderr, "invalid value \"%s\" for flag -%s: parse error\n", v, name);
        return -1;
    }
    return 0;
}

/* Flags over whatever the files said. */
static int apply_flags(struct tflags *f, struct tr_config *c, struct cn_err *err)
{
    const char *addr = f->consul_addr ? f->consul_addr : f->http_addr;
    const char *tok = f->consul_token ? f->consul_token : f->token;
    if (addr) free(c->address), c->address = dupz(addr);
    if (tok) free(c->token), c->token = dupz(tok);
    if (f->token_file) free(c->token_file), c->token_file = dupz(f->token_file);
    if (f->consul_auth) {
        const char *colon = strchr(f->consul_auth, ':');
        free(c->auth_user);
        free(c->auth_pass);
        c->auth_user = colon ? cn_strndup(f->consul_auth, (size_t)(colon - f->consul_auth))
                             : dupz(f->consul_auth);
        c->auth_pass = colon ? dupz(colon + 1) : NULL;
        c->auth_enabled = 1;
    }
    if (f->seen_ssl) c->ssl_enabled = f->ssl;
    if (f->seen_ssl_verify) c->ssl_verify = f->ssl_verify;
#define SETS(field, v)                                                                             \
    if (v) free(c->field), c->field = dupz(v)
    SETS(ssl_cert, f->ssl_cert);
    SETS(ssl_key, f->ssl_key);
    SETS(ssl_ca_cert, f->ssl_ca_cert);
    SETS(ssl_ca_path, f->ssl_ca_path);
    SETS(ssl_server_name, f->ssl_server_name);
    SETS(log_level, f->log_level);
    SETS(reload_signal, f->reload_signal);
    SETS(kill_signal, f->kill_signal);
    SETS(pid_file, f->pid_file);
    SETS(default_left_delim, f->left_delim);
    SETS(default_right_delim, f->right_delim);
#undef SETS
    if (f->seen_consul_retry) c->retry_enabled = f->consul_retry;
    if (f->seen_retry_attempts) c->retry_attempts = f->retry_attempts;
    if (dur_flag("consul-retry-backoff", f->retry_backoff, &c->retry_backoff_ns) ||
        dur_flag("retry", f->retry, &c->retry_backoff_ns) ||
        dur_flag("consul-retry-max-backoff", f->retry_max_backoff, &c->retry_max_backoff_ns) ||
        dur_flag("max-stale", f->max_stale, &c->max_stale_ns))
        return TR_EXIT_FLAGS;
    if (f->seen_once) c->once = f->once;
    if (f->seen_dry) c->dry = f->dry;
    if (f->seen_parse_only) c->parse_only = f->parse_only;
    if (f->seen_tef) c->template_error_fatal = f->tef;
    if (f->wait) {
        if (tr_parse_wait(f->wait, &c->wait_min_ns, &c->wait_max_ns, err)) {
            fprintf(stderr, "%s\n", err->msg);
            return TR_EXIT_FLAGS;
        }
        c->wait_set = true;
    }
    for (size_t i = 0; i < f->templates.n; i++)
        if (tr_config_add_template_flag(c, f->templates.items[i], err)) {
            fprintf(stderr, "%s\n", err->msg);
            return TR_EXIT_FLAGS;
        }
    return 0;
}

static int loader(void *ctx, struct tr_config *c)
{
    struct tflags *f = ctx;
    struct cn_err err;
    for (size_t i = 0; i < f->configs.n; i++)
        if (tr_config_load_path(c, f->configs.items[i], &err)) {
            tr_log(TR_ERR, "cli", "%s", err.msg);
            return TR_EXIT_CONFIG;
        }
    const char *local = getenv("CT_LOCAL_CONFIG");
    if (local && *local && tr_config_load_text(c, local, strlen(local), "CT_LOCAL_CONFIG", &err)) {
        tr_log(TR_ERR, "cli", "%s", err.msg);
        return TR_EXIT_CONFIG;
    }
    int rc = apply_flags(f, c, &err);
    if (rc) return rc;
    if (tr_config_finish(c, &err)) {
        tr_log(TR_ERR, "cli", "%s", err.msg);
        return TR_EXIT_CONFIG;
    }
    return 0;
}

int cli_template(int argc, char **argv)
{
    struct tflags *f = CN_NEW(struct tflags);
    f->tef = f->ssl_verify = f->consul_retry = true;
    struct cli_flag *t = flag_table(f);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-') break;
        if (!strcmp(a, "--")) break;
        a += a[1] == '-' ? 2 : 1;
        if (!strcmp(a, "h") || !strcmp(a, "help")) {
            usage(t);
            free(f);
            return TR_EXIT_OK;
        }
    }
    int first = cli_parse_flags("template", t, argc, argv);
    int rc;
    if (first < 0) {
        rc = TR_EXIT_FLAGS;
    } else if (first < argc) {
        fprintf(stderr, "cli: extra args: [");
        for (int i = first; i < argc; i++)
            fprintf(stderr, "%s%s", i > first ? " " : "", argv[i]);
        fprintf(stderr, "]\n");
        rc = TR_EXIT_FLAGS;
    } else if (f->version) {
        printf("consul-template %s (cairn %s %s)\n", CT_VERSION, CN_VERSION, cn_version_revision);
        rc = TR_EXIT_OK;
    } else if (exec_requested(t)) {
        fprintf(stderr, "cli: exec mode (-exec) is not supported by cairn template\n");
        rc = TR_EXIT_FLAGS;
    } else {
        if (f->seen_ignored || f->seen_ignored_b)
            tr_log(TR_WARN, "cli",
                   "some flags (syslog, log-file, vault, dedup, transport) are "
                   "accepted but ignored by cairn template");
        rc = tr_run(loader, f);
    }
    free(f->templates.items);
    free(f->configs.items);
    free(f);
    return rc;
}
