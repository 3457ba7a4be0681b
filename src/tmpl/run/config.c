/*
 * config.c - consul-template's configuration (Go, config/): the HCL/JSON
 * file keys, directories of files, -template splitting, -wait parsing,
 * precedence (files < CT_LOCAL_CONFIG < flags < environment fallbacks for
 * what is still unset) and the defaults.
 */
#include <ctype.h>
#include <stdarg.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "lib/cn_common.h"
#include "lib/cn_hcl.h"
#include "lib/cn_json.h"
#include "lib/cn_limits.h"
#include "lib/cn_str.h"
#include "lib/cn_time.h"
#include "tmpl/run/run.h"

static void template_init(struct tr_template *t)
{
    memset(t, 0, sizeof *t);
    t->command_timeout_ns = TR_UNSET;
    t->perms = TR_UNSET;
    t->backup = TR_UNSET;
    t->error_on_missing_key = TR_UNSET;
    t->error_fatal = TR_UNSET;
    t->create_dest_dirs = TR_UNSET;
}

static void template_release(struct tr_template *t)
{
    free(t->source);
    free(t->contents);
    free(t->destination);
    for (size_t i = 0; i < t->ncommand; i++)
        free(t->command[i]);
    free(t->command);
    free(t->left_delim);
    free(t->right_delim);
}

void tr_config_init(struct tr_config *c)
{
    memset(c, 0, sizeof *c);
    c->auth_enabled = c->ssl_enabled = c->ssl_verify = TR_UNSET;
    c->retry_enabled = TR_UNSET;
    c->retry_attempts = c->retry_backoff_ns = c->retry_max_backoff_ns = TR_UNSET;
    c->max_stale_ns = c->block_query_wait_ns = TR_UNSET;
    c->once = c->dry = c->parse_only = TR_UNSET;
    c->template_error_fatal = TR_UNSET;
}

void tr_config_release(struct tr_config *c)
{
    char **strs[] = {&c->address,
                     &c->token,
                     &c->token_file,
                     &c->auth_user,
                     &c->auth_pass,
                     &c->ssl_cert,
                     &c->ssl_key,
                     &c->ssl_ca_cert,
                     &c->ssl_ca_path,
                     &c->ssl_server_name,
                     &c->log_level,
                     &c->pid_file,
                     &c->reload_signal,
                     &c->kill_signal,
                     &c->default_left_delim,
                     &c->default_right_delim};
    for (size_t i = 0; i < CN_ARRAY_SIZE(strs); i++)
        free(*strs[i]);
    for (size_t i = 0; i < c->ntemplates; i++)
        template_release(&c->templates[i]);
    free(c->templates);
    tr_config_init(c);
}

static struct tr_template *add_template(struct tr_config *c)
{
    c->templates = cn_realloc(c->templates, (c->ntemplates + 1) * sizeof *c->templates);
    struct tr_template *t = &c->templates[c->ntemplates++];
    template_init(t);
    return t;
}

/* ---- value readers --------------------------------------------------- */

struct ctx {
    const char *origin;
    struct cn_err *err;
};

static int bad(struct ctx *x, const char *fmt, ...) CN_PRINTF(2, 3);

static int bad(struct ctx *x, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cn_err_set(x->err, CN_EINVAL, "%s: %s", x->origin, msg);
}

static int get_str(struct ctx *x, json_t *v, const char *key, char **out)
{
    if (json_is_null(v)) return 0;
    if (!json_is_string(v))
        return bad(x, "'%s' expected type 'string', got '%s'", key, cn_json_type_name(v));
    free(*out);
    *out = cn_strdup(json_string_value(v));
    return 0;
}

static int get_bool(struct ctx *x, json_t *v, const char *key, int *out)
{
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    bool b;
    if (json_is_string(v) && !cn_parse_bool(cn_str_from(json_string_value(v)), &b)) {
        *out = b;
        return 0;
    }
    return bad(x, "'%s' expected type 'bool', got '%s'", key, cn_json_type_name(v));
}

static int get_int(struct ctx *x, json_t *v, const char *key, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        int64_t i;
        if (!cn_parse_i64(cn_str_from(json_string_value(v)), &i)) {
            *out = i;
            return 0;
        }
    }
    return bad(x, "'%s' expected type 'int', got '%s'", key, cn_json_type_name(v));
}

static int get_dur(struct ctx *x, json_t *v, const char *key, int64_t *out)
{
    if (json_is_integer(v)) { /* nanoseconds, as mapstructure reads a number */
        *out = json_integer_value(v);
        return 0;
    }
    if (json_is_string(v) && !cn_dur_parse(cn_str_from(json_string_value(v)), out)) return 0;
    return bad(x, "'%s' time: invalid duration \"%s\"", key,
               json_is_string(v) ? json_string_value(v) : cn_json_type_name(v));
}

/* One object of a block given once or repeated (last wins). */
static json_t *one(json_t *v)
{
    return json_is_array(v) && json_array_size(v) ? json_array_get(v, json_array_size(v) - 1) : v;
}

static int check_keys(struct ctx *x, json_t *obj, const char *const *known, const char *where)
{
    if (!json_is_object(obj))
        return bad(x, "'%s' expected a map, got '%s'", where, cn_json_type_name(obj));
    const char *k;
    json_t *v;
    char unknown[300] = "";
    json_object_foreach(obj, k, v)
    {
        bool ok = false;
        for (size_t i = 0; known[i]; i++)
            if (!strcmp(known[i], k)) ok = true;
        if (!ok) {
            size_t l = strlen(unknown);
            snprintf(unknown + l, sizeof unknown - l, "%s%s", l ? ", " : "", k);
        }
    }
    if (*unknown) return bad(x, "'%s' has invalid keys: %s", where, unknown);
    return 0;
}

/* wait { min, max } or "min:max". */
static int get_wait(struct ctx *x, json_t *v, bool *set, int64_t *min, int64_t *max)
{
    v = one(v);
    if (json_is_string(v)) {
        if (tr_parse_wait(json_string_value(v), min, max, x->err))
            return cn_err_wrap(x->err, "%s", x->origin);
        *set = true;
        return 0;
    }
    static const char *const keys[] = {"min", "max", "enabled", NULL};
    if (check_keys(x, v, keys, "wait")) return CN_EINVAL;
    int64_t mn = 0, mx = TR_UNSET;
    json_t *e;
    if ((e = json_object_get(v, "min")) && get_dur(x, e, "wait.min", &mn)) return CN_EINVAL;
    if ((e = json_object_get(v, "max")) && get_dur(x, e, "wait.max", &mx)) return CN_EINVAL;
    if (mx == TR_UNSET) mx = mn * 4;
    if (mn < 0 || mx < 0) return bad(x, "wait: cannot be negative");
    if (mx < mn) return bad(x, "wait: min must be less than max");
    *set = true;
    *min = mn;
    *max = mx;
    return 0;
}

static int get_command(struct ctx *x, json_t *v, struct tr_template *t)
{
    for (size_t i = 0; i < t->ncommand; i++)
        free(t->command[i]);
    free(t->command);
    t->command = NULL;
    t->ncommand = 0;
    if (json_is_string(v)) {
        if (!*json_string_value(v)) return 0;
        t->command = cn_malloc(sizeof *t->command);
        t->command[0] = cn_strdup(json_string_value(v));
        t->ncommand = 1;
        return 0;
    }
    if (!json_is_array(v)) return bad(x, "'command' expected a string or a list");
    size_t i;
    json_t *e;
    t->command = cn_calloc(json_array_size(v) + 1, sizeof *t->command);
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e)) return bad(x, "'command' list must hold strings");
        t->command[t->ncommand++] = cn_strdup(json_string_value(e));
    }
    return 0;
}

static int get_perms(struct ctx *x, json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
    } else if (json_is_string(v)) {
        char *end;
        errno = 0;
        long p = strtol(json_string_value(v), &end, 8);
        if (*end || errno || !*json_string_value(v))
            return bad(x, "'perms' invalid file mode \"%s\"", json_string_value(v));
        *out = p;
    } else {
        return bad(x, "'perms' expected a file mode");
    }
    if (*out < 0 || *out > 07777) return bad(x, "'perms' invalid file mode %lld", (long long)*out);
    return 0;
}

/* ---- blocks ---------------------------------------------------------- */

static int load_template(struct ctx *x, json_t *o, struct tr_config *c)
{
    static const char *const keys[] = {"source",
                                       "contents",
                                       "destination",
                                       "command",
                                       "command_timeout",
                                       "exec",
                                       "perms",
                                       "backup",
                                       "wait",
                                       "left_delimiter",
                                       "right_delimiter",
                                       "error_on_missing_key",
                                       "error_fatal",
                                       "create_dest_dirs",
                                       "user",
                                       "group",
                                       "function_denylist",
                                       "function_blacklist",
                                       "sandbox_path",
                                       "uid",
                                       "gid",
                                       "mode",
                                       NULL};
    if (check_keys(x, o, keys, "template")) return CN_EINVAL;
    struct tr_template *t = add_template(c);
    json_t *v;
    int rc = 0;
#define STR(k, f)                                                                                  \
    if (!rc && (v = json_object_get(o, k))) rc = get_str(x, v, k, &t->f)
#define BOOL(k, f)                                                                                 \
    if (!rc && (v = json_object_get(o, k))) rc = get_bool(x, v, k, &t->f)
    STR("source", source);
    STR("contents", contents);
    STR("destination", destination);
    STR("left_delimiter", left_delim);
    STR("right_delimiter", right_delim);
    BOOL("backup", backup);
    BOOL("error_on_missing_key", error_on_missing_key);
    BOOL("error_fatal", error_fatal);
    BOOL("create_dest_dirs", create_dest_dirs);
#undef STR
#undef BOOL
    if (!rc && (v = json_object_get(o, "command"))) rc = get_command(x, v, t);
    if (!rc && (v = json_object_get(o, "command_timeout")))
        rc = get_dur(x, v, "command_timeout", &t->command_timeout_ns);
    if (!rc && (v = json_object_get(o, "exec"))) {
        json_t *e = one(v);
        static const char *const ek[] = {"command", "timeout", "env", NULL};
        rc = check_keys(x, e, ek, "template.exec");
        json_t *ev;
        if (!rc && (ev = json_object_get(e, "command"))) rc = get_command(x, ev, t);
        if (!rc && (ev = json_object_get(e, "timeout")))
            rc = get_dur(x, ev, "exec.timeout", &t->command_timeout_ns);
    }
    if (!rc && (v = json_object_get(o, "perms"))) rc = get_perms(x, v, &t->perms);
    if (!rc && (v = json_object_get(o, "wait")))
        rc = get_wait(x, v, &t->wait_set, &t->wait_min_ns, &t->wait_max_ns);
    if (!rc && (json_object_get(o, "user") || json_object_get(o, "group") ||
                json_object_get(o, "function_denylist") || json_object_get(o, "sandbox_path")))
        tr_log(TR_WARN, "config",
               "%s: template user/group/function_denylist/sandbox_path are not "
               "supported by cairn and are ignored",
               x->origin);
    return rc;
}

static int load_consul(struct ctx *x, json_t *o, struct tr_config *c)
{
    if (json_is_string(o)) { /* legacy consul = "addr" */
        tr_log(TR_WARN, "config",
               "%s: consul = \"...\" is deprecated; use consul { address = ... }", x->origin);
        return get_str(x, o, "consul", &c->address);
    }
    o = one(o);
    static const char *const keys[] = {"address", "token", "token_file", "namespace", "auth",
                                       "ssl",     "retry", "transport",  NULL};
    if (check_keys(x, o, keys, "consul")) return CN_EINVAL;
    json_t *v;
    int rc = 0;
    if ((v = json_object_get(o, "address"))) rc = get_str(x, v, "address", &c->address);
    if (!rc && (v = json_object_get(o, "token"))) rc = get_str(x, v, "token", &c->token);
    if (!rc && (v = json_object_get(o, "token_file")))
        rc = get_str(x, v, "token_file", &c->token_file);
    if (!rc && (v = json_object_get(o, "auth"))) {
        json_t *a = one(v);
        static const char *const ak[] = {"enabled", "username", "password", NULL};
        rc = check_keys(x, a, ak, "consul.auth");
        json_t *e;
        if (!rc && (e = json_object_get(a, "enabled")))
            rc = get_bool(x, e, "enabled", &c->auth_enabled);
        if (!rc && (e = json_object_get(a, "username")))
            rc = get_str(x, e, "username", &c->auth_user);
        if (!rc && (e = json_object_get(a, "password")))
            rc = get_str(x, e, "password", &c->auth_pass);
    }
    if (!rc && (v = json_object_get(o, "ssl"))) {
        json_t *s = one(v);
        static const char *const sk[] = {"enabled", "verify",  "cert",        "key",
                                         "ca_cert", "ca_path", "server_name", NULL};
        rc = check_keys(x, s, sk, "consul.ssl");
        json_t *e;
        if (!rc && (e = json_object_get(s, "enabled")))
            rc = get_bool(x, e, "enabled", &c->ssl_enabled);
        if (!rc && (e = json_object_get(s, "verify")))
            rc = get_bool(x, e, "verify", &c->ssl_verify);
        if (!rc && (e = json_object_get(s, "cert"))) rc = get_str(x, e, "cert", &c->ssl_cert);
        if (!rc && (e = json_object_get(s, "key"))) rc = get_str(x, e, "key", &c->ssl_key);
        if (!rc && (e = json_object_get(s, "ca_cert")))
            rc = get_str(x, e, "ca_cert", &c->ssl_ca_cert);
        if (!rc && (e = json_object_get(s, "ca_path")))
            rc = get_str(x, e, "ca_path", &c->ssl_ca_path);
        if (!rc && (e = json_object_get(s, "server_name")))
            rc = get_str(x, e, "server_name", &c->ssl_server_name);
    }
    if (!rc && (v = json_object_get(o, "retry"))) {
        json_t *r = one(v);
        static const char *const rk[] = {"enabled", "attempts", "backoff", "max_backoff", NULL};
        rc = check_keys(x, r, rk, "consul.retry");
        json_t *e;
        if (!rc && (e = json_object_get(r, "enabled")))
            rc = get_bool(x, e, "enabled", &c->retry_enabled);
        if (!rc && (e = json_object_get(r, "attempts")))
            rc = get_int(x, e, "attempts", &c->retry_attempts);
        if (!rc && (e = json_object_get(r, "backoff")))
            rc = get_dur(x, e, "backoff", &c->retry_backoff_ns);
        if (!rc && (e = json_object_get(r, "max_backoff")))
            rc = get_dur(x, e, "max_backoff", &c->retry_max_backoff_ns);
    }
    return rc;
}

static int load_template_cb(json_t *item, void *ctx)
{
    void **a = ctx;
    return load_template(a[0], item, a[1]);
}

static int load_object(struct ctx *x, json_t *root, struct tr_config *c)
{
    static const char *const keys[] = {"consul",
                                       "template",
                                       "log_level",
                                       "max_stale",
                                       "block_query_wait",
                                       "wait",
                                       "once",
                                       "pid_file",
                                       "reload_signal",
                                       "kill_signal",
                                       "template_error_fatal",
                                       "err_on_failed_lookup",
                                       "exec",
                                       "default_delimiters",
                                       "vault",
                                       "nomad",
                                       "deduplicate",
                                       "syslog",
                                       "log_file",
                                       "dedup",
                                       NULL};
    if (check_keys(x, root, keys, "")) return CN_EINVAL;
    json_t *v;
    int rc = 0;
    if ((v = json_object_get(root, "consul"))) rc = load_consul(x, v, c);
    if (!rc && (v = json_object_get(root, "log_level")))
        rc = get_str(x, v, "log_level", &c->log_level);
    if (!rc && (v = json_object_get(root, "max_stale")))
        rc = get_dur(x, v, "max_stale", &c->max_stale_ns);
    if (!rc && (v = json_object_get(root, "block_query_wait")))
        rc = get_dur(x, v, "block_query_wait", &c->block_query_wait_ns);
    if (!rc && (v = json_object_get(root, "wait")))
        rc = get_wait(x, v, &c->wait_set, &c->wait_min_ns, &c->wait_max_ns);
    if (!rc && (v = json_object_get(root, "once"))) rc = get_bool(x, v, "once", &c->once);
    if (!rc && (v = json_object_get(root, "pid_file")))
        rc = get_str(x, v, "pid_file", &c->pid_file);
    if (!rc && (v = json_object_get(root, "reload_signal")))
        rc = json_is_null(v) ? (free(c->reload_signal), c->reload_signal = cn_strdup(""), 0)
                             : get_str(x, v, "reload_signal", &c->reload_signal);
    if (!rc && (v = json_object_get(root, "kill_signal")))
        rc = json_is_null(v) ? (free(c->kill_signal), c->kill_signal = cn_strdup(""), 0)
                             : get_str(x, v, "kill_signal", &c->kill_signal);
    if (!rc && (v = json_object_get(root, "template_error_fatal")))
        rc = get_bool(x, v, "template_error_fatal", &c->template_error_fatal);
    if (!rc && (v = json_object_get(root, "default_delimiters"))) {
        json_t *d = one(v);
        static const char *const dk[] = {"left", "right", NULL};
        rc = check_keys(x, d, dk, "default_delimiters");
        json_t *e;
        if (!rc && (e = json_object_get(d, "left")))
            rc = get_str(x, e, "left", &c->default_left_delim);
        if (!rc && (e = json_object_get(d, "right")))
            rc = get_str(x, e, "right", &c->default_right_delim);
    }
    if (!rc && json_object_get(root, "exec"))
        rc = bad(x, "exec mode (supervising a child process) is not supported by cairn template");
    if (!rc && (v = json_object_get(root, "template"))) {
        void *a[2] = {x, c};
        rc = cn_hcl_each(v, load_template_cb, a);
    }
    static const char *const ignored[] = {"vault",    "nomad", "deduplicate",          "syslog",
                                          "log_file", "dedup", "err_on_failed_lookup", NULL};
    for (size_t i = 0; !rc && ignored[i]; i++)
        if (json_object_get(root, ignored[i]))
            tr_log(TR_WARN, "config", "%s: '%s' is not supported by cairn template; ignored",
                   x->origin, ignored[i]);
    return rc;
}

int tr_config_load_text(struct tr_config *c, const char *text, size_t len, const char *origin,
                        struct cn_err *err)
{
    struct ctx x = {origin, err};
    json_t *root = cn_hcl_parse(text, len, err);
    if (!root) return cn_err_wrap(err, "error decoding config at \"%s\"", origin);
    int rc = load_object(&x, root, c);
    json_decref(root);
    return rc;
}

static int load_file(struct tr_config *c, const char *path, struct cn_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return cn_err_set(err, CN_EINVAL, "%s: %s", path, strerror(errno));
    char *buf = cn_malloc(CN_CONFIG_FILE_MAX + 1);
    size_t n = fread(buf, 1, CN_CONFIG_FILE_MAX + 1, f);
    fclose(f);
    int rc;
    if (n > CN_CONFIG_FILE_MAX)
        rc = cn_err_set(err, CN_EINVAL, "%s: file too large (max %d bytes)", path,
                        CN_CONFIG_FILE_MAX);
    else
        rc = tr_config_load_text(c, buf, n, path, err);
    free(buf);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_dir(struct tr_config *c, const char *dir, struct cn_err *err, int depth)
{
    if (depth > 16) return cn_err_set(err, CN_EINVAL, "%s: directories nested too deep", dir);
    DIR *d = opendir(dir);
    if (!d) return cn_err_set(err, CN_EINVAL, "%s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < CN_CONFIG_FILES_MAX) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        names = cn_realloc(names, (n + 1) * sizeof *names);
        names[n++] = cn_strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_names);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char *p = NULL;
        if (!rc) {
            p = cn_malloc(strlen(dir) + strlen(names[i]) + 2);
            sprintf(p, "%s/%s", dir, names[i]);
            struct stat st;
            if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
                rc = load_dir(c, p, err, depth + 1);
            else
                rc = load_file(c, p, err);
        }
        free(p);
        free(names[i]);
    }
    free(names);
    return rc;
}

int tr_config_load_path(struct tr_config *c, const char *path, struct cn_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0) return cn_err_set(err, CN_EINVAL, "%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) return load_dir(c, path, err, 0);
    return load_file(c, path, err);
}

/* ---- flags' value syntaxes --------------------------------------------- */

int tr_config_add_template_flag(struct tr_config *c, const char *s, struct cn_err *err)
{
    if (!*s) return cn_err_set(err, CN_EINVAL, "template: cannot be empty");
    /* pieces: ([a-zA-Z]:)?[^:]+, leftmost, as Go's FindAllString finds them */
    char *pieces[64];
    size_t np = 0;
    size_t i = 0, n = strlen(s);
    while (i < n && np < CN_ARRAY_SIZE(pieces)) {
        size_t start = i;
        if (isalpha((unsigned char)s[i]) && i + 2 < n + 1 && s[i + 1] == ':' && i + 2 < n &&
            s[i + 2] != ':') {
            i += 2;
        } else if (s[i] == ':') {
            i++;
            continue;
        }
        while (i < n && s[i] != ':')
            i++;
        pieces[np++] = cn_strndup(s + start, i - start);
    }
    struct tr_template *t = add_template(c);
    if (np >= 1) t->source = cn_strdup(pieces[0]);
    if (np >= 2) t->destination = cn_strdup(pieces[1]);
    if (np >= 3) {
        size_t len = 0;
        for (size_t k = 2; k < np; k++)
            len += strlen(pieces[k]) + 1;
        char *cmd = cn_malloc(len + 1);
        cmd[0] = '\0';
        for (size_t k = 2; k < np; k++) {
            if (k > 2) strcat(cmd, ":");
            strcat(cmd, pieces[k]);
        }
        t->command = cn_malloc(sizeof *t->command);
        t->command[0] = cmd;
        t->ncommand = 1;
    }
    for (size_t k = 0; k < np; k++)
        free(pieces[k]);
    return 0;
}

int tr_parse_wait(const char *s, int64_t *min_ns, int64_t *max_ns, struct cn_err *err)
{
    const char *colon = strchr(s, ':');
    if (colon && strchr(colon + 1, ':')) return cn_err_set(err, CN_EINVAL, "wait: invalid format");
    struct cn_str a = cn_str_make(s, colon ? (size_t)(colon - s) : strlen(s));
    int64_t mn, mx;
    if (cn_dur_parse(cn_str_trim(a), &mn))
        return cn_err_set(err, CN_EINVAL, "wait: time: invalid duration \"%.*s\"", (int)a.len, a.p);
    if (colon) {
        if (cn_dur_parse(cn_str_trim(cn_str_from(colon + 1)), &mx))
            return cn_err_set(err, CN_EINVAL, "wait: time: invalid duration \"%s\"", colon + 1);
    } else {
        mx = mn * 4;
    }
    if (mn < 0 || mx < 0) return cn_err_set(err, CN_EINVAL, "wait: cannot be negative");
    if (mx < mn) return cn_err_set(err, CN_EINVAL, "wait: min must be less than max");
    *min_ns = mn;
    *max_ns = mx;
    return 0;
}

int tr_signal_parse(const char *name)
{
    static const struct {
        const char *name;
        int sig;
    } sigs[] = {{"SIGHUP", SIGHUP},     {"SIGINT", SIGINT},   {"SIGQUIT", SIGQUIT},
                {"SIGTERM", SIGTERM},   {"SIGUSR1", SIGUSR1}, {"SIGUSR2", SIGUSR2},
                {"SIGKILL", SIGKILL},   {"SIGCONT", SIGCONT}, {"SIGSTOP", SIGSTOP},
                {"SIGWINCH", SIGWINCH}, {"SIGALRM", SIGALRM}, {"SIGCHLD", SIGCHLD},
                {"SIGPIPE", SIGPIPE},   {"SIGTSTP", SIGTSTP}};
    if (!name || !*name) return 0;
    for (size_t i = 0; i < CN_ARRAY_SIZE(sigs); i++)
        if (!strcasecmp(sigs[i].name, name)) return sigs[i].sig;
    return -1;
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static void set_default_str(char **dst, const char *v)
{
    if (!*dst && v) *dst = cn_strdup(v);
}

int tr_config_finish(struct tr_config *c, struct cn_err *err)
{
    cn_err_clear(err);
    set_default_str(&c->address, env_nonempty("CONSUL_HTTP_ADDR"));
    set_default_str(&c->token, env_nonempty("CONSUL_TOKEN"));
    set_default_str(&c->token, env_nonempty("CONSUL_HTTP_TOKEN"));
    set_default_str(&c->token_file, env_nonempty("CONSUL_TOKEN_FILE"));
    set_default_str(&c->token_file, env_nonempty("CONSUL_HTTP_TOKEN_FILE"));
    set_default_str(&c->log_level, env_nonempty("CT_LOG"));
    set_default_str(&c->log_level, env_nonempty("CONSUL_TEMPLATE_LOG"));
    set_default_str(&c->log_level, env_nonempty("CONSUL_TEMPLATE_LOG_LEVEL"));
    set_default_str(&c->address, "127.0.0.1:8500");
    set_default_str(&c->log_level, "WARN");
    set_default_str(&c->reload_signal, "SIGHUP");
    set_default_str(&c->kill_signal, "SIGINT");
    if (c->ssl_enabled == TR_UNSET) {
        const char *s = env_nonempty("CONSUL_HTTP_SSL");
        bool b = false;
        c->ssl_enabled = s && !cn_parse_bool(cn_str_from(s), &b) && b;
    }
    if (c->ssl_verify == TR_UNSET) {
        const char *s = env_nonempty("CONSUL_HTTP_SSL_VERIFY");
        bool b = true;
        c->ssl_verify = s ? (!cn_parse_bool(cn_str_from(s), &b) ? b : true) : true;
    }
    if (!c->token && c->token_file) {
        FILE *f = fopen(c->token_file, "r");
        if (!f)
            return cn_err_set(err, CN_EINVAL, "consul.token_file: %s: %s", c->token_file,
                              strerror(errno));
        char buf[512] = "";
        if (!fgets(buf, sizeof buf, f)) buf[0] = '\0';
        fclose(f);
        c->token = cn_str_dup(cn_str_trim(cn_str_from(buf)));
    }
    if (tr_log_level_parse(c->log_level) < 0)
        return cn_err_set(err, CN_EINVAL, "invalid log level: %s", c->log_level);
    if (tr_signal_parse(c->reload_signal) < 0)
        return cn_err_set(err, CN_EINVAL, "reload_signal: invalid signal \"%s\"", c->reload_signal);
    if (tr_signal_parse(c->kill_signal) < 0)
        return cn_err_set(err, CN_EINVAL, "kill_signal: invalid signal \"%s\"", c->kill_signal);
    if (c->retry_enabled == TR_UNSET) c->retry_enabled = true;
    if (c->retry_attempts == TR_UNSET) c->retry_attempts = 12;
    if (c->retry_backoff_ns == TR_UNSET) c->retry_backoff_ns = 250 * CN_NS_PER_MS;
    if (c->retry_max_backoff_ns == TR_UNSET) c->retry_max_backoff_ns = 60 * CN_NS_PER_S;
    if (c->max_stale_ns == TR_UNSET) c->max_stale_ns = 2 * CN_NS_PER_S;
    if (c->block_query_wait_ns == TR_UNSET) c->block_query_wait_ns = 60 * CN_NS_PER_S;
    if (c->block_query_wait_ns > CN_QUERY_MAX_WAIT_MS * CN_NS_PER_MS)
        c->block_query_wait_ns = CN_QUERY_MAX_WAIT_MS * CN_NS_PER_MS;
    if (c->block_query_wait_ns < CN_NS_PER_MS) c->block_query_wait_ns = CN_NS_PER_MS;
    if (c->once == TR_UNSET) c->once = false;
    if (c->dry == TR_UNSET) c->dry = false;
    if (c->parse_only == TR_UNSET) c->parse_only = false;
    for (size_t i = 0; i < c->ntemplates; i++) {
        struct tr_template *t = &c->templates[i];
        if (t->source && *t->source && t->contents && *t->contents)
            return cn_err_set(err, CN_EINVAL,
                              "template: cannot specify both 'source' and 'contents'");
        if (!(t->source && *t->source) && !(t->contents && *t->contents))
            return cn_err_set(err, CN_EINVAL,
                              "template: must specify exactly one of 'source' or 'contents'");
        if (t->command_timeout_ns == TR_UNSET) t->command_timeout_ns = 30 * CN_NS_PER_S;
        if (t->backup == TR_UNSET) t->backup = false;
        if (t->error_on_missing_key == TR_UNSET) t->error_on_missing_key = false;
        if (c->template_error_fatal != TR_UNSET) t->error_fatal = c->template_error_fatal;
        if (t->error_fatal == TR_UNSET) t->error_fatal = true;
        if (t->create_dest_dirs == TR_UNSET) t->create_dest_dirs = true;
        if (!t->left_delim && c->default_left_delim)
            t->left_delim = cn_strdup(c->default_left_delim);
        if (!t->right_delim && c->default_right_delim)
            t->right_delim = cn_strdup(c->default_right_delim);
        if (!t->wait_set && c->wait_set) {
            t->wait_set = true;
            t->wait_min_ns = c->wait_min_ns;
            t->wait_max_ns = c->wait_max_ns;
        }
    }
    return 0;
}
