/* config.c - loading, merging and validating the agent configuration. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/config_int.h"
#include "lib/cn_buf.h"
#include "lib/cn_common.h"
#include "lib/cn_json.h"
#include "lib/cn_limits.h"
#include "lib/cn_log.h"
#include "lib/cn_time.h"

/* ---- merge and validate --------------------------------------------- */

void agent_config_merge(json_t *dst, const json_t *src)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)src, k, v)
    {
        json_t *cur = json_object_get(dst, k);
        if (cur && json_is_object(cur) && json_is_object(v)) {
            agent_config_merge(cur, v);
        } else if (cur && json_is_array(cur) && json_is_array(v)) {
            json_array_extend(cur, v);
        } else {
            json_object_set_new(dst, k, json_deep_copy(v));
        }
    }
}

/* "service" and "check" are spelled singular or plural; fold the singular
 * into the list so later sources append to it. */
static void normalize_plurals(json_t *tree)
{
    static const char *const pairs[][2] = {{"service", "services"}, {"check", "checks"}};
    for (size_t i = 0; i < CN_ARRAY_SIZE(pairs); i++) {
        json_t *one = json_object_get(tree, pairs[i][0]);
        if (!one) continue;
        json_t *many = json_object_get(tree, pairs[i][1]);
        if (!many || !json_is_array(many)) {
            many = json_array();
            json_object_set_new(tree, pairs[i][1], many);
        }
        if (json_is_array(one))
            json_array_extend(many, one);
        else
            json_array_append(many, one);
        json_object_del(tree, pairs[i][0]);
    }
}

static const char *type_word(enum config_type t)
{
    switch (t) {
    case T_STR: return "string";
    case T_INT: return "int";
    case T_NUM: return "number";
    case T_BOOL: return "bool";
    case T_DUR: return "duration";
    case T_LIST: return "list";
    case T_MAP:
    case T_OBJ: return "object";
    default: return "any";
    }
}

static bool type_ok(enum config_type t, const json_t *v)
{
    int64_t ns;
    uint64_t u;
    switch (t) {
    case T_STR: return json_is_string(v);
    case T_INT:
        if (json_is_integer(v)) return true;
        if (json_is_string(v)) {
            int64_t i;
            return cn_parse_i64(cn_str_from(json_string_value(v)), &i) == 0;
        }
        return false;
    case T_NUM: return json_is_number(v);
    case T_BOOL:
        if (json_is_boolean(v)) return true;
        if (json_is_string(v)) {
            bool b;
            return cn_parse_bool(cn_str_from(json_string_value(v)), &b) == 0;
        }
        return false;
    case T_DUR:
        if (json_is_integer(v)) return true;
        return json_is_string(v) && cn_dur_parse(cn_str_from(json_string_value(v)), &ns) == 0;
    case T_LIST: return json_is_array(v);
    case T_MAP: return json_is_object(v);
    case T_OBJ: return json_is_object(v);
    default: (void)u; return true;
    }
}

static int validate_at(const json_t *obj, const char *prefix, struct cn_err *err)
{
    const char *k;
    json_t *v;
    char path[256];
    json_object_foreach((json_t *)obj, k, v)
    {
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", k);
        const struct config_key *key = config_schema_find(path);
        if (!key) return cn_err_set(err, CN_EINVAL, "invalid config key %s", path);
        if (json_is_null(v)) continue;
        if (!type_ok(key->type, v))
            return cn_err_set(err, CN_EINVAL, "'%s' expected type '%s', got unconvertible type '%s'",
                              path, type_word(key->type), cn_json_type_name(v));
        if (key->type == T_OBJ) {
            int rc = validate_at(v, path, err);
            if (rc) return rc;
        }
    }
    return 0;
}

int agent_config_validate(const json_t *tree, struct cn_err *err)
{
    if (!json_is_object(tree)) return cn_err_set(err, CN_EINVAL, "config must be a JSON object");
    return validate_at(tree, "", err);
}

/* ---- sources -------------------------------------------------------- */

static int load_file(json_t *tree, const char *path, struct cn_err *err)
{
    FILE *f = fopen(path, "rb");
    struct cn_buf b;
    char chunk[8192];
    size_t n;
    int rc = 0;
    if (!f) return cn_err_set(err, CN_EIO, "Error reading '%s': %s", path, strerror(errno));
    cn_buf_init(&b, CN_CONFIG_FILE_MAX);
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (cn_buf_append(&b, chunk, n)) {
            rc = cn_err_set(err, CN_ETOOBIG, "Error reading '%s': file too large", path);
            break;
        }
    }
    fclose(f);
    if (rc == 0) {
        const char *ext = strrchr(path, '.');
        if (ext && !strcmp(ext, ".hcl")) {
            rc = cn_err_set(err, CN_EUNSUPPORTED,
                            "Error parsing %s: HCL configuration is not supported yet; use JSON",
                            path);
        } else {
            struct cn_err jerr;
            json_t *v = cn_json_parse(b.data ? b.data : "", b.len, &jerr);
            if (!v) {
                rc = cn_err_set(err, CN_EINVAL, "Error parsing %s: %s", path, jerr.msg);
            } else if (!json_is_object(v)) {
                rc = cn_err_set(err, CN_EINVAL, "Error parsing %s: not a JSON object", path);
            } else {
                normalize_plurals(v);
                if ((rc = agent_config_validate(v, err)))
                    cn_err_wrap(err, "Error parsing %s", path);
                else
                    agent_config_merge(tree, v);
            }
            json_decref(v);
        }
    }
    cn_buf_release(&b);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_dir(json_t *tree, const char *dir, struct cn_err *err)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    if (!d) return cn_err_set(err, CN_EIO, "Error reading '%s': %s", dir, strerror(errno));
    while ((e = readdir(d)) && n < CN_CONFIG_FILES_MAX) {
        const char *ext = strrchr(e->d_name, '.');
        if (e->d_name[0] == '.' || !ext || (strcmp(ext, ".json") && strcmp(ext, ".hcl"))) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            names = cn_realloc(names, cap * sizeof *names);
        }
        names[n++] = cn_strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (rc == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode)) rc = load_file(tree, path, err);
        free(names[i]);
    }
    free(names);
    return rc;
}

/* ---- flags ---------------------------------------------------------- */

enum flag_kind { F_BOOL, F_STR, F_INT, F_LIST, F_META, F_FILE, F_DIR, F_FORMAT, F_HCL };

struct flag {
    const char *name;
    enum flag_kind kind;
    const char *path; /* config key it sets */
};

static const struct flag flags[] = {
    {"dev", F_BOOL, NULL},
    {"server", F_BOOL, "server"},
    {"bootstrap", F_BOOL, "bootstrap"},
    {"bootstrap-expect", F_INT, "bootstrap_expect"},
    {"data-dir", F_STR, "data_dir"},
    {"config-file", F_FILE, NULL},
    {"config-dir", F_DIR, NULL},
    {"config-format", F_FORMAT, NULL},
    {"hcl", F_HCL, NULL},
    {"node", F_STR, "node_name"},
    {"node-id", F_STR, "node_id"},
    {"node-meta", F_META, "node_meta"},
    {"datacenter", F_STR, "datacenter"},
    {"bind", F_STR, "bind_addr"},
    {"serf-lan-bind", F_STR, "serf_lan"},
    {"serf-wan-bind", F_STR, "serf_wan"},
    {"advertise", F_STR, "advertise_addr"},
    {"advertise-wan", F_STR, "advertise_addr_wan"},
    {"client", F_STR, "client_addr"},
    {"http-port", F_INT, "ports.http"},
    {"https-port", F_INT, "ports.https"},
    {"dns-port", F_INT, "ports.dns"},
    {"grpc-port", F_INT, "ports.grpc"},
    {"serf-lan-port", F_INT, "ports.serf_lan"},
    {"serf-wan-port", F_INT, "ports.serf_wan"},
    {"server-port", F_INT, "ports.server"},
    {"join", F_LIST, "start_join"},
    {"retry-join", F_LIST, "retry_join"},
    {"retry-interval", F_STR, "retry_interval"},
    {"retry-max", F_INT, "retry_max"},
    {"join-wan", F_LIST, "start_join_wan"},
    {"retry-join-wan", F_LIST, "retry_join_wan"},
    {"retry-interval-wan", F_STR, "retry_interval_wan"},
    {"retry-max-wan", F_INT, "retry_max_wan"},
    {"rejoin", F_BOOL, "rejoin_after_leave"},
    {"encrypt", F_STR, "encrypt"},
    {"disable-keyring-file", F_BOOL, "disable_keyring_file"},
    {"ui", F_BOOL, "ui_config.enabled"},
    {"ui-dir", F_STR, "ui_config.dir"},
    {"ui-content-path", F_STR, "ui_config.content_path"},
    {"domain", F_STR, "domain"},
    {"alt-domain", F_STR, "alt_domain"},
    {"recursor", F_LIST, "recursors"},
    {"log-level", F_STR, "log_level"},
    {"log-json", F_BOOL, "log_json"},
    {"log-file", F_STR, "log_file"},
    {"syslog", F_BOOL, "enable_syslog"},
    {"pid-file", F_STR, "pid_file"},
    {"enable-script-checks", F_BOOL, "enable_script_checks"},
    {"enable-local-script-checks", F_BOOL, "enable_local_script_checks"},
    {"default-query-time", F_STR, "default_query_time"},
    {"max-query-time", F_STR, "max_query_time"},
    {"protocol", F_INT, "protocol"},
    {"raft-protocol", F_INT, "raft_protocol"},
    {"disable-host-node-id", F_BOOL, "disable_host_node_id"},
    {"segment", F_STR, "segment"},
    {"primary-datacenter", F_STR, "primary_datacenter"},
};

/* Set a dotted path in tree, creating objects on the way. */
static void set_path(json_t *tree, const char *path, json_t *v)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    char *dot, *seg = buf;
    json_t *obj = tree;
    while ((dot = strchr(seg, '.'))) {
        *dot = '\0';
        json_t *next = json_object_get(obj, seg);
        if (!json_is_object(next)) {
            next = json_object();
            json_object_set_new(obj, seg, next);
        }
        obj = next;
        seg = dot + 1;
    }
    json_t *cur = json_object_get(obj, seg);
    if (json_is_array(cur) && json_is_array(v)) {
        json_array_extend(cur, v);
        json_decref(v);
    } else if (json_is_object(cur) && json_is_object(v)) {
        json_object_update(cur, v);
        json_decref(v);
    } else {
        json_object_set_new(obj, seg, v);
    }
}

static void usage(void)
{
    printf("Usage: cairn agent [options]\n\n"
           "  Starts the cairn agent and runs until an interrupt is received. The\n"
           "  agent represents a single node in a cluster.\n\nOptions:\n\n");
    for (size_t i = 0; i < CN_ARRAY_SIZE(flags); i++)
        printf("  -%s%s\n", flags[i].name, flags[i].kind == F_BOOL ? "" : "=<value>");
}

struct sources {
    char **files;
    int nfiles;
    bool *is_dir;
    bool dev;
};

static int apply_flag(const struct flag *f, const char *val, json_t *ov, struct sources *src,
                      struct cn_err *err)
{
    bool b;
    int64_t i;
    switch (f->kind) {
    case F_BOOL:
        if (cn_parse_bool(cn_str_from(val), &b))
            return cn_err_set(err, CN_EINVAL, "invalid boolean value \"%s\" for -%s", val, f->name);
        if (!f->path)
            src->dev = b;
        else
            set_path(ov, f->path, json_boolean(b));
        return 0;
    case F_INT:
        if (cn_parse_i64(cn_str_from(val), &i))
            return cn_err_set(err, CN_EINVAL, "invalid value \"%s\" for flag -%s: parse error", val,
                              f->name);
        set_path(ov, f->path, json_integer(i));
        return 0;
    case F_STR: set_path(ov, f->path, json_string(val)); return 0;
    case F_LIST: {
        json_t *a = json_array();
        json_array_append_new(a, json_string(val));
        set_path(ov, f->path, a);
        return 0;
    }
    case F_META: {
        const char *colon = strchr(val, ':');
        json_t *m = json_object();
        if (colon) {
            char *k = cn_strndup(val, (size_t)(colon - val));
            json_object_set_new(m, k, json_string(colon + 1));
            free(k);
        } else {
            json_object_set_new(m, val, json_string(""));
        }
        set_path(ov, f->path, m);
        return 0;
    }
    case F_FILE:
    case F_DIR:
        src->files = cn_realloc(src->files, (size_t)(src->nfiles + 1) * sizeof *src->files);
        src->is_dir = cn_realloc(src->is_dir, (size_t)(src->nfiles + 1) * sizeof *src->is_dir);
        src->files[src->nfiles] = cn_strdup(val);
        src->is_dir[src->nfiles++] = f->kind == F_DIR;
        return 0;
    case F_FORMAT:
        if (strcmp(val, "json") && strcmp(val, "hcl"))
            return cn_err_set(err, CN_EINVAL, "-config-format must be 'json' or 'hcl'");
        if (!strcmp(val, "hcl"))
            return cn_err_set(err, CN_EUNSUPPORTED, "HCL configuration is not supported yet");
        return 0;
    case F_HCL:
        return cn_err_set(err, CN_EUNSUPPORTED, "-hcl is not supported yet; use -config-file");
    }
    return 0;
}

/* Go flag syntax: -f=v, -f v, --f=v; booleans -f or -f=true|false; stop at
 * the first non-flag. */
static int parse_flags(int argc, char **argv, json_t *ov, struct sources *src, bool *help,
                       struct cn_err *err)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !a[1])
            return cn_err_set(err, CN_EINVAL, "unexpected argument: %s", a);
        a += a[1] == '-' ? 2 : 1;
        if (!strcmp(a, "h") || !strcmp(a, "help")) {
            usage();
            *help = true;
            return 0;
        }
        char name[64];
        const char *eq = strchr(a, '='), *val = NULL;
        snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
        const struct flag *f = NULL;
        for (size_t k = 0; k < CN_ARRAY_SIZE(flags); k++)
            if (!strcmp(flags[k].name, name)) f = &flags[k];
        if (!f) return cn_err_set(err, CN_EINVAL, "flag provided but not defined: -%s", name);
        if (eq)
            val = eq + 1;
        else if (f->kind == F_BOOL)
            val = "true";
        else if (i + 1 < argc)
            val = argv[++i];
        else
            return cn_err_set(err, CN_EINVAL, "flag needs an argument: -%s", name);
        int rc = apply_flag(f, val, ov, src, err);
        if (rc) return rc;
    }
    return 0;
}

/* ---- typed reads ---------------------------------------------------- */

json_t *agent_config_get(const struct agent_config *cfg, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *v = cfg->json;
    char *save = NULL;
    for (char *seg = strtok_r(buf, ".", &save); seg && v; seg = strtok_r(NULL, ".", &save))
        v = json_is_object(v) ? json_object_get(v, seg) : NULL;
    return json_is_null(v) ? NULL : v;
}

bool agent_config_bool(const struct agent_config *cfg, const char *path, bool dflt)
{
    json_t *v = agent_config_get(cfg, path);
    bool b;
    if (json_is_boolean(v)) return json_is_true(v);
    if (json_is_string(v) && !cn_parse_bool(cn_str_from(json_string_value(v)), &b)) return b;
    return dflt;
}

int64_t agent_config_int(const struct agent_config *cfg, const char *path, int64_t dflt)
{
    json_t *v = agent_config_get(cfg, path);
    int64_t i;
    if (json_is_integer(v)) return (int64_t)json_integer_value(v);
    if (json_is_real(v)) return (int64_t)json_real_value(v);
    if (json_is_string(v) && !cn_parse_i64(cn_str_from(json_string_value(v)), &i)) return i;
    return dflt;
}

const char *agent_config_str(const struct agent_config *cfg, const char *path, const char *dflt)
{
    json_t *v = agent_config_get(cfg, path);
    return json_is_string(v) ? json_string_value(v) : dflt;
}

int64_t agent_config_dur(const struct agent_config *cfg, const char *path, int64_t dflt)
{
    json_t *v = agent_config_get(cfg, path);
    int64_t ns;
    if (json_is_integer(v)) return (int64_t)json_integer_value(v);
    if (json_is_string(v) && !cn_dur_parse(cn_str_from(json_string_value(v)), &ns)) return ns;
    return dflt;
}

/* ---- decoding ------------------------------------------------------- */

static const char *dev_overlay =
    "{\"server\": true, \"bootstrap\": true, \"bind_addr\": \"127.0.0.1\","
    " \"client_addr\": \"127.0.0.1\", \"log_level\": \"DEBUG\","
    " \"ui_config\": {\"enabled\": true}, \"ports\": {\"grpc\": 8502},"
    " \"performance\": {\"raft_multiplier\": 1}, \"disable_anonymous_signature\": true}";

static int decode(struct agent_config *c, struct cn_err *err)
{
    static char host[256];
    if (!host[0] && gethostname(host, sizeof host - 1)) snprintf(host, sizeof host, "cairn");
    c->server = agent_config_bool(c, "server", false);
    c->bootstrap = agent_config_bool(c, "bootstrap", false);
    c->bootstrap_expect = (int)agent_config_int(c, "bootstrap_expect", 0);
    c->node_name = agent_config_str(c, "node_name", host);
    c->node_id = agent_config_str(c, "node_id", NULL);
    c->datacenter = agent_config_str(c, "datacenter", "dc1");
    c->primary_datacenter =
        agent_config_str(c, "primary_datacenter", agent_config_str(c, "acl_datacenter", c->datacenter));
    c->data_dir = agent_config_str(c, "data_dir", NULL);
    c->bind_addr = agent_config_str(c, "bind_addr", "0.0.0.0");
    c->advertise_addr = agent_config_str(c, "advertise_addr", NULL);
    c->advertise_addr_wan = agent_config_str(c, "advertise_addr_wan", c->advertise_addr);
    c->client_addr = agent_config_str(c, "client_addr", "127.0.0.1");
    c->http_addr = agent_config_str(c, "addresses.http", c->client_addr);
    c->dns_addr = agent_config_str(c, "addresses.dns", c->client_addr);
    c->http_port = (int)agent_config_int(c, "ports.http", 8500);
    c->https_port = (int)agent_config_int(c, "ports.https", -1);
    c->dns_port = (int)agent_config_int(c, "ports.dns", 8600);
    c->server_port = (int)agent_config_int(c, "ports.server", 8300);
    c->serf_lan_port = (int)agent_config_int(c, "ports.serf_lan", 8301);
    c->serf_wan_port = (int)agent_config_int(c, "ports.serf_wan", 8302);
    c->grpc_port = (int)agent_config_int(c, "ports.grpc", -1);
    c->log_level = agent_config_str(c, "log_level", "INFO");
    c->log_json = agent_config_bool(c, "log_json", false);
    c->domain = agent_config_str(c, "domain", "consul.");
    c->raft_multiplier = (int)agent_config_int(c, "performance.raft_multiplier", 5);
    c->session_ttl_min_ns = agent_config_dur(c, "session_ttl_min", 10 * CN_NS_PER_S);
    c->default_query_time_ns = agent_config_dur(c, "default_query_time", 300 * CN_NS_PER_S);
    c->max_query_time_ns = agent_config_dur(c, "max_query_time", 600 * CN_NS_PER_S);
    c->kv_max_value_size = (uint64_t)agent_config_int(c, "limits.kv_max_value_size", CN_KV_VALUE_MAX_DEFAULT);
    c->txn_max_req_len = (uint64_t)agent_config_int(c, "limits.txn_max_req_len", CN_TXN_REQ_MAX_DEFAULT);
    c->http_max_conns_per_client = (int)agent_config_int(c, "limits.http_max_conns_per_client", 200);
    /* the legacy acl_datacenter implies ACLs, as in Consul */
    c->acl_enabled =
        agent_config_bool(c, "acl.enabled", agent_config_get(c, "acl_datacenter") != NULL);
    const char *pol = agent_config_str(c, "acl.default_policy", agent_config_str(c, "acl_default_policy", "allow"));
    c->acl_default_allow = strcmp(pol, "deny") != 0;
    c->pid_file = agent_config_str(c, "pid_file", NULL);
    c->enable_script_checks = agent_config_bool(c, "enable_script_checks", false);
    /* Consul: defaults to enable_script_checks; an explicit false wins */
    c->enable_local_script_checks =
        agent_config_bool(c, "enable_local_script_checks", c->enable_script_checks);
    c->ui = agent_config_bool(c, "ui_config.enabled", agent_config_bool(c, "ui", false));

    /* Consul's consistency checks on the merged result. */
    if (c->bootstrap && c->bootstrap_expect)
        return cn_err_set(err, CN_EINVAL, "'bootstrap_expect > 0' and 'bootstrap = true' are mutually exclusive");
    if (c->bootstrap_expect && !c->server)
        return cn_err_set(err, CN_EINVAL, "'bootstrap_expect > 0' requires 'server = true'");
    if (!c->dev && !c->data_dir)
        return cn_err_set(err, CN_EINVAL, "data_dir cannot be empty");
    if (c->raft_multiplier < 1 || c->raft_multiplier > 10)
        return cn_err_set(err, CN_EINVAL, "performance.raft_multiplier cannot be %d. Must be between 1 and 10",
                          c->raft_multiplier);
    if (strcmp(pol, "allow") && strcmp(pol, "deny"))
        return cn_err_set(err, CN_EINVAL, "acl.default_policy must be 'allow' or 'deny', not '%s'", pol);
    if (c->http_port > 0 && c->http_port == c->dns_port && !strcmp(c->http_addr, c->dns_addr))
        return cn_err_set(err, CN_EINVAL, "HTTP address already configured for DNS");
    if (cn_log_level_parse(c->log_level) < 0)
        return cn_err_set(err, CN_EINVAL, "Invalid log level: %s", c->log_level);
    return 0;
}

static int build(struct agent_config *c, struct sources *src, struct cn_err *err)
{
    int rc = 0;
    c->json = json_object();
    if (c->dev) {
        json_t *dev = json_loads(dev_overlay, 0, NULL);
        agent_config_merge(c->json, dev);
        json_decref(dev);
    }
    for (int i = 0; i < src->nfiles && rc == 0; i++)
        rc = src->is_dir[i] ? load_dir(c->json, src->files[i], err)
                            : load_file(c->json, src->files[i], err);
    if (rc) return rc;
    if ((rc = agent_config_validate(c->flags, err))) return rc;
    agent_config_merge(c->json, c->flags);
    return decode(c, err);
}

int agent_config_load(int argc, char **argv, struct agent_config *c, bool *help, struct cn_err *err)
{
    struct sources src = {0};
    int rc;
    memset(c, 0, sizeof *c);
    *help = false;
    c->flags = json_object();
    rc = parse_flags(argc, argv, c->flags, &src, help, err);
    c->dev = src.dev;
    c->sources = src.files;
    c->source_is_dir = src.is_dir;
    c->nsources = src.nfiles;
    if (rc || *help) return rc;
    return build(c, &src, err);
}

int agent_config_from_json(const char *text, size_t len, struct agent_config *c,
                           struct cn_err *err)
{
    struct cn_err jerr;
    memset(c, 0, sizeof *c);
    c->dev = true;
    c->flags = json_object();
    c->json = json_loads(dev_overlay, 0, NULL);
    json_t *v = cn_json_parse(text, len, &jerr);
    if (!v || !json_is_object(v)) {
        json_decref(v);
        return cn_err_set(err, CN_EINVAL, "Error parsing config: %s", v ? "not an object" : jerr.msg);
    }
    normalize_plurals(v);
    int rc = agent_config_validate(v, err);
    if (rc == 0) {
        agent_config_merge(c->json, v);
        rc = decode(c, err);
    }
    json_decref(v);
    return rc;
}

int agent_config_reload(const struct agent_config *old, struct agent_config *fresh,
                        struct cn_err *err)
{
    struct sources src = {.files = old->sources, .nfiles = old->nsources,
                          .is_dir = old->source_is_dir, .dev = old->dev};
    memset(fresh, 0, sizeof *fresh);
    fresh->dev = old->dev;
    fresh->flags = json_deep_copy(old->flags);
    int rc = build(fresh, &src, err);
    /* the file list stays owned by the original configuration */
    return rc;
}

void agent_config_release(struct agent_config *c)
{
    json_decref(c->json);
    json_decref(c->flags);
    for (int i = 0; i < c->nsources; i++) free(c->sources[i]);
    free(c->sources);
    free(c->source_is_dir);
    memset(c, 0, sizeof *c);
}
