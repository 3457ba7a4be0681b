/*
 * defs.c - decoding and validating service and check definitions, and
 * catalog registration bodies, the way Consul's Go decoders and
 * validators do (agent/structs: ServiceDefinition, CheckType,
 * RegisterRequest). See defs.h.
 */
#include "agent/defs.h"

#include <ctype.h>
#include <string.h>

#include "lib/cn_common.h"
#include "lib/cn_json.h"
#include "lib/cn_limits.h"
#include "lib/cn_time.h"

#define LIST_MAX 4096 /* tags, args, header values, map pairs in one definition */

/* ---- field readers ------------------------------------------------------ */

/* The first spelling present (exact, else case-insensitive), or NULL. */
static const char *present(const json_t *o, const char *const *names)
{
    for (; *names; names++)
        if (cn_json_get(o, *names)) return *names;
    return NULL;
}

#define NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})

static int rd_str(const json_t *o, const char *const *names, struct cn_arena *a, char **out,
                  struct cn_err *err)
{
    const char *k = present(o, names), *v = NULL;
    int rc;
    if (!k) return 0;
    if ((rc = cn_json_str(o, k, &v, err))) return rc;
    if (v) *out = cn_arena_strdup(a, v);
    return 0;
}

static int rd_i64(const json_t *o, const char *const *names, int64_t *out, struct cn_err *err)
{
    const char *k = present(o, names);
    return k ? cn_json_i64(o, k, out, err) : 0;
}

static int rd_bool(const json_t *o, const char *const *names, bool *out, struct cn_err *err)
{
    const char *k = present(o, names);
    return k ? cn_json_bool(o, k, out, err) : 0;
}

static int rd_dur(const json_t *o, const char *const *names, int64_t *out, struct cn_err *err)
{
    const char *k = present(o, names);
    return k ? cn_json_dur(o, k, out, err) : 0;
}

static int type_error(struct cn_err *err, const char *field, const json_t *v, const char *want)
{
    return cn_err_set(err, CN_EINVAL, "json: cannot unmarshal %s into Go struct field .%s of type %s",
                      cn_json_type_name(v), field, want);
}

static int rd_strlist(const json_t *o, const char *const *names, struct cn_arena *a, char ***out,
                      size_t *n, struct cn_err *err)
{
    const char *k = present(o, names);
    json_t *v = k ? cn_json_get(o, k) : NULL, *e;
    size_t i;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_array(v) || json_array_size(v) > LIST_MAX) return type_error(err, k, v, "[]string");
    char **list = CN_ARENA_ARRAY(a, char *, json_array_size(v) + 1);
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e)) return type_error(err, k, e, "string");
        list[i] = cn_arena_strdup(a, json_string_value(e));
    }
    *out = list;
    *n = json_array_size(v);
    return 0;
}

/* A string map; absent or null stays NULL (Go's nil map). */
static int rd_pairs(const json_t *o, const char *const *names, struct cn_arena *a,
                    struct state_pair **out, size_t *n, struct cn_err *err)
{
    const char *k = present(o, names), *key;
    json_t *v = k ? cn_json_get(o, k) : NULL, *e;
    size_t i = 0;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_object(v) || json_object_size(v) > LIST_MAX)
        return type_error(err, k, v, "map[string]string");
    struct state_pair *p = CN_ARENA_ARRAY(a, struct state_pair, json_object_size(v) + 1);
    json_object_foreach(v, key, e)
    {
        if (!json_is_string(e)) return type_error(err, k, e, "string");
        p[i].key = cn_arena_strdup(a, key);
        p[i].value = cn_arena_strdup(a, json_string_value(e));
        i++;
    }
    state_pairs_sort(p, i);
    *out = p;
    *n = i;
    return 0;
}

static int svc_addr_cmp(const void *x, const void *y)
{
    return strcmp(((const struct state_svc_addr *)x)->key, ((const struct state_svc_addr *)y)->key);
}

/* TaggedAddresses of a service: {"lan": {"Address": .., "Port": ..}}. */
static int rd_svc_addrs(const json_t *o, const char *const *names, struct cn_arena *a,
                        struct state_svc_addr **out, size_t *n, struct cn_err *err)
{
    static const char *const known[] = {"Address", "Port", NULL};
    const char *k = present(o, names), *key;
    json_t *v = k ? cn_json_get(o, k) : NULL, *e;
    size_t i = 0;
    int rc;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_object(v) || json_object_size(v) > LIST_MAX)
        return type_error(err, k, v, "map[string]structs.ServiceAddress");
    struct state_svc_addr *p = CN_ARENA_ARRAY(a, struct state_svc_addr, json_object_size(v) + 1);
    json_object_foreach(v, key, e)
    {
        if (!json_is_object(e)) return type_error(err, k, e, "structs.ServiceAddress");
        if ((rc = cn_json_check_fields(e, known, err))) return rc;
        p[i].key = cn_arena_strdup(a, key);
        p[i].address = "";
        if ((rc = rd_str(e, NAMES("Address"), a, &p[i].address, err))) return rc;
        if ((rc = rd_i64(e, NAMES("Port"), &p[i].port, err))) return rc;
        i++;
    }
    if (i > 1) qsort(p, i, sizeof *p, svc_addr_cmp);
    *out = p;
    *n = i;
    return 0;
}

static int header_cmp(const void *x, const void *y)
{
    return strcmp(((const struct state_header *)x)->name, ((const struct state_header *)y)->name);
}

/* Header: {"Name": ["v1", "v2"]}. */
static int rd_header(const json_t *o, const char *const *names, struct cn_arena *a,
                     struct state_check_def *d, struct cn_err *err)
{
    const char *k = present(o, names), *key;
    json_t *v = k ? cn_json_get(o, k) : NULL, *e, *x;
    size_t i = 0, j;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_object(v) || json_object_size(v) > LIST_MAX)
        return type_error(err, k, v, "map[string][]string");
    d->header = CN_ARENA_ARRAY(a, struct state_header, json_object_size(v) + 1);
    json_object_foreach(v, key, e)
    {
        if (!json_is_array(e) || json_array_size(e) > LIST_MAX)
            return type_error(err, k, e, "[]string");
        struct state_header *h = &d->header[i++];
        h->name = cn_arena_strdup(a, key);
        h->values = CN_ARENA_ARRAY(a, char *, json_array_size(e) + 1);
        json_array_foreach(e, j, x)
        {
            if (!json_is_string(x)) return type_error(err, k, x, "string");
            h->values[j] = cn_arena_strdup(a, json_string_value(x));
        }
        h->nvalues = json_array_size(e);
    }
    if (i > 1) qsort(d->header, i, sizeof *d->header, header_cmp);
    d->nheader = i;
    return 0;
}

/* Opaque JSON kept as text (Proxy, Connect). */
static int rd_raw(const json_t *o, const char *const *names, struct cn_arena *a, char **out)
{
    const char *k = present(o, names);
    json_t *v = k ? cn_json_get(o, k) : NULL;
    if (!v || json_is_null(v)) return 0;
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s) {
        *out = cn_arena_strdup(a, s);
        free(s);
    }
    return 0;
}

static int check_object(const json_t *v, const char *what, struct cn_err *err)
{
    if (json_is_object(v)) return 0;
    return cn_err_set(err, CN_EINVAL, "json: cannot unmarshal %s into Go value of type %s",
                      cn_json_type_name(v), what);
}

/* ---- checks --------------------------------------------------------------- */

static const char *const check_fields[] = {
    "ID", "CheckID", "check_id", "Name", "Notes", "ServiceID", "service_id", "Token", "Status",
    "ScriptArgs", "Args", "script_args", "Script", "HTTP", "Header", "Method", "Body",
    "DisableRedirects", "disable_redirects", "TCP", "UDP", "Interval", "AliasNode", "alias_node",
    "AliasService", "alias_service", "DockerContainerID", "docker_container_id", "Shell", "GRPC",
    "GRPCUseTLS", "grpc_use_tls", "TLSServerName", "tls_server_name", "TLSSkipVerify",
    "tls_skip_verify", "Timeout", "TTL", "SuccessBeforePassing", "success_before_passing",
    "FailuresBeforeWarning", "failures_before_warning", "FailuresBeforeCritical",
    "failures_before_critical", "DeregisterCriticalServiceAfter",
    "deregister_critical_service_after", "OutputMaxSize", "output_max_size", "H2PING",
    "H2PingUseTLS", "h2ping_use_tls", "TCPUseTLS", "OSService", "ProxyHTTP", "ProxyGRPC",
    "Namespace", "Partition", NULL};

static void check_defaults(struct agent_check_def *c)
{
    memset(c, 0, sizeof *c);
    c->id = c->name = c->status = c->notes = c->service_id = c->token = "";
    struct state_check_def *d = &c->def;
    d->http = d->method = d->body = d->tls_server_name = d->tcp = d->udp = d->grpc = "";
    d->docker_container_id = d->shell = d->alias_node = d->alias_service = "";
    c->failures_before_warning = -1;
}

int agent_check_def_decode(const json_t *v, struct cn_arena *a, struct agent_check_def *c,
                           struct cn_err *err)
{
    struct state_check_def *d = &c->def;
    char *script = "";
    int rc;
    check_defaults(c);
    if ((rc = check_object(v, "structs.CheckType", err))) return rc;
    if ((rc = cn_json_check_fields(v, check_fields, err))) return rc;
    if ((rc = rd_str(v, NAMES("ID", "CheckID", "check_id"), a, &c->id, err)) ||
        (rc = rd_str(v, NAMES("Name"), a, &c->name, err)) ||
        (rc = rd_str(v, NAMES("Notes"), a, &c->notes, err)) ||
        (rc = rd_str(v, NAMES("ServiceID", "service_id"), a, &c->service_id, err)) ||
        (rc = rd_str(v, NAMES("Token"), a, &c->token, err)) ||
        (rc = rd_str(v, NAMES("Status"), a, &c->status, err)) ||
        (rc = rd_strlist(v, NAMES("ScriptArgs", "Args", "script_args"), a, &d->script_args,
                         &d->nscript_args, err)) ||
        (rc = rd_str(v, NAMES("Script"), a, &script, err)) ||
        (rc = rd_str(v, NAMES("HTTP"), a, &d->http, err)) ||
        (rc = rd_header(v, NAMES("Header"), a, d, err)) ||
        (rc = rd_str(v, NAMES("Method"), a, &d->method, err)) ||
        (rc = rd_str(v, NAMES("Body"), a, &d->body, err)) ||
        (rc = rd_bool(v, NAMES("DisableRedirects", "disable_redirects"), &d->disable_redirects,
                      err)) ||
        (rc = rd_str(v, NAMES("TCP"), a, &d->tcp, err)) ||
        (rc = rd_str(v, NAMES("UDP"), a, &d->udp, err)) ||
        (rc = rd_dur(v, NAMES("Interval"), &d->interval_ns, err)) ||
        (rc = rd_str(v, NAMES("AliasNode", "alias_node"), a, &d->alias_node, err)) ||
        (rc = rd_str(v, NAMES("AliasService", "alias_service"), a, &d->alias_service, err)) ||
        (rc = rd_str(v, NAMES("DockerContainerID", "docker_container_id"), a,
                     &d->docker_container_id, err)) ||
        (rc = rd_str(v, NAMES("Shell"), a, &d->shell, err)) ||
        (rc = rd_str(v, NAMES("GRPC"), a, &d->grpc, err)) ||
        (rc = rd_bool(v, NAMES("GRPCUseTLS", "grpc_use_tls"), &d->grpc_use_tls, err)) ||
        (rc = rd_str(v, NAMES("TLSServerName", "tls_server_name"), a, &d->tls_server_name, err)) ||
        (rc = rd_bool(v, NAMES("TLSSkipVerify", "tls_skip_verify"), &d->tls_skip_verify, err)) ||
        (rc = rd_dur(v, NAMES("Timeout"), &d->timeout_ns, err)) ||
        (rc = rd_dur(v, NAMES("TTL"), &d->ttl_ns, err)) ||
        (rc = rd_i64(v, NAMES("SuccessBeforePassing", "success_before_passing"),
                     &c->success_before_passing, err)) ||
        (rc = rd_i64(v, NAMES("FailuresBeforeWarning", "failures_before_warning"),
                     &c->failures_before_warning, err)) ||
        (rc = rd_i64(v, NAMES("FailuresBeforeCritical", "failures_before_critical"),
                     &c->failures_before_critical, err)) ||
        (rc = rd_dur(v, NAMES("DeregisterCriticalServiceAfter", "deregister_critical_service_after"),
                     &d->deregister_after_ns, err)) ||
        (rc = rd_i64(v, NAMES("OutputMaxSize", "output_max_size"), &d->output_max_size, err)))
        return rc;
    if (*script && !d->nscript_args) {
        /* python3-consul 0.7.1's legacy "script": run by the shell. */
        d->script_args = CN_ARENA_ARRAY(a, char *, 4);
        d->script_args[0] = "/bin/sh";
        d->script_args[1] = "-c";
        d->script_args[2] = script;
        d->nscript_args = 3;
        c->script_legacy = true;
    }
    return 0;
}

const char *agent_check_type(const struct agent_check_def *c)
{
    const struct state_check_def *d = &c->def;
    if (*d->grpc && d->interval_ns > 0) return "grpc";
    if (*d->http && d->interval_ns > 0) return "http";
    if (d->ttl_ns > 0) return "ttl";
    if (*d->tcp && d->interval_ns > 0) return "tcp";
    if (*d->udp && d->interval_ns > 0) return "udp";
    if (*d->alias_node || *d->alias_service) return "alias";
    if (*d->docker_container_id && d->interval_ns > 0) return "docker";
    if (d->nscript_args && d->interval_ns > 0) return "script";
    return "";
}

int agent_check_type_validate(const struct agent_check_def *c, struct cn_err *err)
{
    const struct state_check_def *d = &c->def;
    bool interval_check = d->nscript_args || *d->http || *d->tcp || *d->udp || *d->grpc;
    bool alias = *d->alias_node || *d->alias_service;
    if (d->interval_ns > 0 && d->ttl_ns > 0)
        return cn_err_set(err, CN_EINVAL, "Interval and TTL cannot both be specified");
    if (interval_check && d->interval_ns <= 0)
        return cn_err_set(err, CN_EINVAL, "Interval must be > 0 for Script, HTTP, H2PING, TCP, "
                                          "UDP or OSService checks");
    if (interval_check && alias)
        return cn_err_set(err, CN_EINVAL, "Interval cannot be set for Alias checks");
    if (alias && d->ttl_ns > 0)
        return cn_err_set(err, CN_EINVAL, "TTL must be not be set for Alias checks");
    if (!interval_check && !alias && d->ttl_ns <= 0)
        return cn_err_set(err, CN_EINVAL, "TTL must be > 0 for TTL checks");
    if (d->output_max_size < 0)
        return cn_err_set(err, CN_EINVAL, "MaxOutputMaxSize must be positive");
    if (c->failures_before_warning > c->failures_before_critical &&
        c->failures_before_warning >= 0)
        return cn_err_set(err, CN_EINVAL, "FailuresBeforeWarning must be less than or equal to "
                                          "FailuresBeforeCritical");
    if (c->success_before_passing < 0 || c->failures_before_critical < 0)
        return cn_err_set(err, CN_EINVAL, "SuccessBeforePassing and FailuresBeforeCritical must "
                                          "not be negative");
    return 0;
}

static bool valid_status(const char *s)
{
    return !strcmp(s, "passing") || !strcmp(s, "warning") || !strcmp(s, "critical");
}

int agent_check_def_validate(struct agent_check_def *c, struct cn_err *err)
{
    if (!*c->name) return cn_err_set(err, CN_EINVAL, "Missing check name");
    if (*c->status && !valid_status(c->status))
        return cn_err_set(err, CN_EINVAL, "Bad check status");
    if (agent_check_type_validate(c, err)) return cn_err_wrap(err, "Invalid check");
    return 0;
}

/* ---- services ------------------------------------------------------------ */

static const char *const service_fields[] = {
    "Kind", "ID", "Name", "Tags", "Address", "TaggedAddresses", "tagged_addresses", "Meta",
    "Port", "SocketPath", "socket_path", "Weights", "Check", "Checks", "Token",
    "EnableTagOverride", "enable_tag_override", "Proxy", "Connect", "Namespace", "Partition",
    "Locality", NULL};

static int decode_weights(const json_t *o, struct state_service *s, bool *given,
                          struct cn_err *err)
{
    static const char *const known[] = {"Passing", "Warning", NULL};
    json_t *w = cn_json_get(o, "Weights");
    int rc;
    s->weight_passing = 1;
    s->weight_warning = 1;
    if (!w || json_is_null(w)) return 0;
    if (!json_is_object(w)) return type_error(err, "Weights", w, "structs.Weights");
    if ((rc = cn_json_check_fields(w, known, err))) return rc;
    *given = true;
    s->weight_passing = 0;
    s->weight_warning = 0;
    if ((rc = cn_json_i64(w, "Passing", &s->weight_passing, err))) return rc;
    return cn_json_i64(w, "Warning", &s->weight_warning, err);
}

static void service_defaults(struct state_service *s)
{
    memset(s, 0, sizeof *s);
    s->node = s->kind = s->id = s->name = s->address = s->socket_path = "";
    s->proxy = s->connect = "";
    s->weight_passing = s->weight_warning = 1;
}

int agent_service_def_decode(const json_t *v, struct cn_arena *a, struct agent_service_def *out,
                             struct cn_err *err)
{
    struct state_service *s = &out->svc;
    int rc;
    memset(out, 0, sizeof *out);
    service_defaults(s);
    out->token = "";
    if ((rc = check_object(v, "structs.ServiceDefinition", err))) return rc;
    if ((rc = cn_json_check_fields(v, service_fields, err))) return rc;
    if ((rc = rd_str(v, NAMES("Kind"), a, &s->kind, err)) ||
        (rc = rd_str(v, NAMES("ID"), a, &s->id, err)) ||
        (rc = rd_str(v, NAMES("Name"), a, &s->name, err)) ||
        (rc = rd_strlist(v, NAMES("Tags"), a, &s->tags, &s->ntags, err)) ||
        (rc = rd_str(v, NAMES("Address"), a, &s->address, err)) ||
        (rc = rd_svc_addrs(v, NAMES("TaggedAddresses", "tagged_addresses"), a, &s->tagged,
                           &s->ntagged, err)) ||
        (rc = rd_pairs(v, NAMES("Meta"), a, &s->meta, &s->nmeta, err)) ||
        (rc = rd_i64(v, NAMES("Port"), &s->port, err)) ||
        (rc = rd_str(v, NAMES("SocketPath", "socket_path"), a, &s->socket_path, err)) ||
        (rc = decode_weights(v, s, &out->weights_given, err)) ||
        (rc = rd_str(v, NAMES("Token"), a, &out->token, err)) ||
        (rc = rd_bool(v, NAMES("EnableTagOverride", "enable_tag_override"),
                      &s->enable_tag_override, err)) ||
        (rc = rd_raw(v, NAMES("Proxy"), a, &s->proxy)) ||
        (rc = rd_raw(v, NAMES("Connect"), a, &s->connect)))
        return rc;
    json_t *one = cn_json_get(v, "Check"), *many = cn_json_get(v, "Checks"), *e;
    size_t n = 0, i;
    if (many && !json_is_null(many) && !json_is_array(many))
        return type_error(err, "Checks", many, "structs.CheckTypes");
    if (many && json_array_size(many) > LIST_MAX) return cn_err_set(err, CN_EINVAL, "too many checks");
    n = (one && !json_is_null(one) ? 1 : 0) + (json_is_array(many) ? json_array_size(many) : 0);
    out->checks = CN_ARENA_ARRAY(a, struct agent_check_def, n + 1);
    if (one && !json_is_null(one)) {
        if ((rc = agent_check_def_decode(one, a, &out->checks[out->nchecks], err))) return rc;
        out->nchecks++;
    }
    if (json_is_array(many)) {
        json_array_foreach(many, i, e)
        {
            if ((rc = agent_check_def_decode(e, a, &out->checks[out->nchecks], err))) return rc;
            out->nchecks++;
        }
    }
    return 0;
}

int agent_meta_validate(const struct state_pair *m, size_t n, bool allow_consul_prefix,
                        struct cn_err *err)
{
    if (n > CN_NODE_META_MAX_PAIRS)
        return cn_err_set(err, CN_EINVAL,
                          "Node metadata cannot contain more than %d key/value pairs",
                          CN_NODE_META_MAX_PAIRS);
    for (size_t i = 0; i < n; i++) {
        const char *k = m[i].key;
        if (!*k) return cn_err_set(err, CN_EINVAL, "Key cannot be blank");
        for (const char *p = k; *p; p++)
            if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
                return cn_err_set(err, CN_EINVAL, "Key contains invalid characters");
        if (strlen(k) > CN_META_KEY_MAX)
            return cn_err_set(err, CN_EINVAL, "Key is too long (limit: %d characters)",
                              CN_META_KEY_MAX);
        if (!allow_consul_prefix && !strncmp(k, "consul-", 7))
            return cn_err_set(err, CN_EINVAL, "Key prefix 'consul-' is reserved for internal use");
        if (strlen(m[i].value) > CN_META_VALUE_MAX)
            return cn_err_set(err, CN_EINVAL, "Value is too long (limit: %d characters)",
                              CN_META_VALUE_MAX);
    }
    return 0;
}

static bool is_any_addr(const char *a)
{
    return !strcmp(a, "0.0.0.0") || !strcmp(a, "::") || !strcmp(a, "[::]");
}

int agent_service_def_validate(struct agent_service_def *def, struct cn_err *err)
{
    struct state_service *s = &def->svc;
    if (!*s->name) return cn_err_set(err, CN_EINVAL, "Missing service name");
    if (!*s->id) s->id = s->name;
    if (is_any_addr(s->address)) return cn_err_set(err, CN_EINVAL, "Invalid service address");
    if (def->weights_given) {
        const char *why = NULL;
        if (s->weight_passing < 1)
            why = "Passing must be greater than 0";
        else if (s->weight_warning < 0)
            why = "Warning must be greater or equal than 0";
        else if (s->weight_passing > 65535 || s->weight_warning > 65535)
            why = "DNS Weight must be between 0 and 65535";
        if (why) return cn_err_set(err, CN_EINVAL, "Invalid Weights: %s", why);
    }
    if (agent_meta_validate(s->meta, s->nmeta, false, err))
        return cn_err_wrap(err, "Invalid Service Meta");
    for (size_t i = 0; i < def->nchecks; i++)
        if (agent_check_type_validate(&def->checks[i], err)) return cn_err_wrap(err, "Invalid check");
    for (size_t i = 0; i < def->nchecks; i++)
        if (*def->checks[i].status && !valid_status(def->checks[i].status))
            return cn_err_set(err, CN_EINVAL,
                              "Status for checks must 'passing', 'warning', 'critical'");
    return 0;
}

/* ---- back to JSON ------------------------------------------------------------ */

static void key_list(struct cn_jw *w, const char *key, char *const *v, size_t n)
{
    cn_jw_key(w, key);
    cn_jw_arr_begin(w);
    for (size_t i = 0; i < n; i++) cn_jw_str(w, v[i]);
    cn_jw_arr_end(w);
}

static void key_dur(struct cn_jw *w, const char *key, int64_t ns)
{
    char d[CN_DUR_STR_MAX];
    if (ns > 0) cn_jw_key_str(w, key, cn_dur_format(ns, d, sizeof d));
}

static void key_str_nz(struct cn_jw *w, const char *key, const char *v)
{
    if (v && *v) cn_jw_key_str(w, key, v);
}

void agent_service_def_json(struct cn_jw *w, const struct state_service *s, const char *token)
{
    cn_jw_obj_begin(w);
    key_str_nz(w, "Kind", s->kind);
    cn_jw_key_str(w, "ID", s->id);
    cn_jw_key_str(w, "Name", s->name);
    key_list(w, "Tags", s->tags, s->ntags);
    cn_jw_key_str(w, "Address", s->address);
    if (s->ntagged) {
        cn_jw_key(w, "TaggedAddresses");
        cn_jw_obj_begin(w);
        for (size_t i = 0; i < s->ntagged; i++) {
            cn_jw_key(w, s->tagged[i].key);
            cn_jw_obj_begin(w);
            cn_jw_key_str(w, "Address", s->tagged[i].address);
            cn_jw_key_i64(w, "Port", s->tagged[i].port);
            cn_jw_obj_end(w);
        }
        cn_jw_obj_end(w);
    }
    if (s->meta) {
        cn_jw_key(w, "Meta");
        cn_jw_obj_begin(w);
        for (size_t i = 0; i < s->nmeta; i++) cn_jw_key_str(w, s->meta[i].key, s->meta[i].value);
        cn_jw_obj_end(w);
    }
    cn_jw_key_i64(w, "Port", s->port);
    key_str_nz(w, "SocketPath", s->socket_path);
    cn_jw_key(w, "Weights");
    cn_jw_obj_begin(w);
    cn_jw_key_i64(w, "Passing", s->weight_passing);
    cn_jw_key_i64(w, "Warning", s->weight_warning);
    cn_jw_obj_end(w);
    cn_jw_key_bool(w, "EnableTagOverride", s->enable_tag_override);
    if (s->proxy && *s->proxy) {
        cn_jw_key(w, "Proxy");
        cn_jw_raw(w, s->proxy, strlen(s->proxy));
    }
    if (s->connect && *s->connect) {
        cn_jw_key(w, "Connect");
        cn_jw_raw(w, s->connect, strlen(s->connect));
    }
    key_str_nz(w, "Token", token);
    cn_jw_obj_end(w);
}

void agent_check_def_json(struct cn_jw *w, const struct agent_check_def *c)
{
    const struct state_check_def *d = &c->def;
    cn_jw_obj_begin(w);
    cn_jw_key_str(w, "ID", c->id);
    cn_jw_key_str(w, "Name", c->name);
    key_str_nz(w, "Status", c->status);
    key_str_nz(w, "Notes", c->notes);
    key_str_nz(w, "ServiceID", c->service_id);
    key_str_nz(w, "Token", c->token);
    if (d->nscript_args) key_list(w, "ScriptArgs", d->script_args, d->nscript_args);
    key_str_nz(w, "HTTP", d->http);
    if (d->nheader) {
        cn_jw_key(w, "Header");
        cn_jw_obj_begin(w);
        for (size_t i = 0; i < d->nheader; i++)
            key_list(w, d->header[i].name, d->header[i].values, d->header[i].nvalues);
        cn_jw_obj_end(w);
    }
    key_str_nz(w, "Method", d->method);
    key_str_nz(w, "Body", d->body);
    if (d->disable_redirects) cn_jw_key_bool(w, "DisableRedirects", true);
    key_str_nz(w, "TCP", d->tcp);
    key_str_nz(w, "UDP", d->udp);
    key_str_nz(w, "GRPC", d->grpc);
    if (d->grpc_use_tls) cn_jw_key_bool(w, "GRPCUseTLS", true);
    key_str_nz(w, "TLSServerName", d->tls_server_name);
    if (d->tls_skip_verify) cn_jw_key_bool(w, "TLSSkipVerify", true);
    key_str_nz(w, "AliasNode", d->alias_node);
    key_str_nz(w, "AliasService", d->alias_service);
    key_str_nz(w, "DockerContainerID", d->docker_container_id);
    key_str_nz(w, "Shell", d->shell);
    key_dur(w, "Interval", d->interval_ns);
    key_dur(w, "Timeout", d->timeout_ns);
    key_dur(w, "TTL", d->ttl_ns);
    key_dur(w, "DeregisterCriticalServiceAfter", d->deregister_after_ns);
    if (c->success_before_passing)
        cn_jw_key_i64(w, "SuccessBeforePassing", c->success_before_passing);
    if (c->failures_before_warning >= 0)
        cn_jw_key_i64(w, "FailuresBeforeWarning", c->failures_before_warning);
    if (c->failures_before_critical)
        cn_jw_key_i64(w, "FailuresBeforeCritical", c->failures_before_critical);
    if (d->output_max_size) cn_jw_key_i64(w, "OutputMaxSize", d->output_max_size);
    cn_jw_obj_end(w);
}

/* ---- catalog registration bodies ------------------------------------------- */

static const char *const node_service_fields[] = {
    "Kind", "ID", "Service", "Tags", "Address", "TaggedAddresses", "Meta", "Port", "SocketPath",
    "Weights", "EnableTagOverride", "Proxy", "Connect", "CreateIndex", "ModifyIndex", "PeerName",
    "Locality", "Namespace", "Partition", "LocallyRegisteredAsSidecar", NULL};

static int decode_node_service(const json_t *v, struct cn_arena *a, struct state_service *s,
                               struct cn_err *err)
{
    bool given = false;
    int rc;
    service_defaults(s);
    if ((rc = check_object(v, "structs.NodeService", err))) return rc;
    if ((rc = cn_json_check_fields(v, node_service_fields, err))) return rc;
    if ((rc = rd_str(v, NAMES("Kind"), a, &s->kind, err)) ||
        (rc = rd_str(v, NAMES("ID"), a, &s->id, err)) ||
        (rc = rd_str(v, NAMES("Service"), a, &s->name, err)) ||
        (rc = rd_strlist(v, NAMES("Tags"), a, &s->tags, &s->ntags, err)) ||
        (rc = rd_str(v, NAMES("Address"), a, &s->address, err)) ||
        (rc = rd_svc_addrs(v, NAMES("TaggedAddresses"), a, &s->tagged, &s->ntagged, err)) ||
        (rc = rd_pairs(v, NAMES("Meta"), a, &s->meta, &s->nmeta, err)) ||
        (rc = rd_i64(v, NAMES("Port"), &s->port, err)) ||
        (rc = rd_str(v, NAMES("SocketPath"), a, &s->socket_path, err)) ||
        (rc = decode_weights(v, s, &given, err)) ||
        (rc = rd_bool(v, NAMES("EnableTagOverride"), &s->enable_tag_override, err)) ||
        (rc = rd_raw(v, NAMES("Proxy"), a, &s->proxy)) ||
        (rc = rd_raw(v, NAMES("Connect"), a, &s->connect)))
        return rc;
    if (!*s->id) s->id = s->name;
    return 0;
}

static const char *const definition_fields[] = {
    "HTTP", "TLSServerName", "TLSSkipVerify", "Header", "Method", "Body", "DisableRedirects",
    "TCP", "TCPUseTLS", "UDP", "H2PING", "H2PingUseTLS", "OSService", "Interval", "OutputMaxSize",
    "Timeout", "DeregisterCriticalServiceAfter", "ScriptArgs", "DockerContainerID", "Shell",
    "GRPC", "GRPCUseTLS", "AliasNode", "AliasService", "TTL", NULL};

static int decode_definition(const json_t *v, struct cn_arena *a, struct state_check_def *d,
                             struct cn_err *err)
{
    int rc;
    if (!v || json_is_null(v)) return 0;
    if ((rc = check_object(v, "structs.HealthCheckDefinition", err))) return rc;
    if ((rc = cn_json_check_fields(v, definition_fields, err))) return rc;
    if ((rc = rd_str(v, NAMES("HTTP"), a, &d->http, err)) ||
        (rc = rd_str(v, NAMES("TLSServerName"), a, &d->tls_server_name, err)) ||
        (rc = rd_bool(v, NAMES("TLSSkipVerify"), &d->tls_skip_verify, err)) ||
        (rc = rd_header(v, NAMES("Header"), a, d, err)) ||
        (rc = rd_str(v, NAMES("Method"), a, &d->method, err)) ||
        (rc = rd_str(v, NAMES("Body"), a, &d->body, err)) ||
        (rc = rd_bool(v, NAMES("DisableRedirects"), &d->disable_redirects, err)) ||
        (rc = rd_str(v, NAMES("TCP"), a, &d->tcp, err)) ||
        (rc = rd_str(v, NAMES("UDP"), a, &d->udp, err)) ||
        (rc = rd_dur(v, NAMES("Interval"), &d->interval_ns, err)) ||
        (rc = rd_i64(v, NAMES("OutputMaxSize"), &d->output_max_size, err)) ||
        (rc = rd_dur(v, NAMES("Timeout"), &d->timeout_ns, err)) ||
        (rc = rd_dur(v, NAMES("DeregisterCriticalServiceAfter"), &d->deregister_after_ns, err)) ||
        (rc = rd_strlist(v, NAMES("ScriptArgs"), a, &d->script_args, &d->nscript_args, err)) ||
        (rc = rd_str(v, NAMES("DockerContainerID"), a, &d->docker_container_id, err)) ||
        (rc = rd_str(v, NAMES("Shell"), a, &d->shell, err)) ||
        (rc = rd_str(v, NAMES("GRPC"), a, &d->grpc, err)) ||
        (rc = rd_bool(v, NAMES("GRPCUseTLS"), &d->grpc_use_tls, err)) ||
        (rc = rd_str(v, NAMES("AliasNode"), a, &d->alias_node, err)) ||
        (rc = rd_str(v, NAMES("AliasService"), a, &d->alias_service, err)) ||
        (rc = rd_dur(v, NAMES("TTL"), &d->ttl_ns, err)))
        return rc;
    return 0;
}

static const char *const health_check_fields[] = {
    "Node", "CheckID", "Name", "Status", "Notes", "Output", "ServiceID", "ServiceName",
    "ServiceTags", "Type", "Interval", "Timeout", "ExposedPort", "Definition", "CreateIndex",
    "ModifyIndex", "PeerName", "Namespace", "Partition", NULL};

static int decode_health_check(const json_t *v, struct cn_arena *a, struct state_check *c,
                               struct cn_err *err)
{
    struct agent_check_def tmp;
    char *interval = "", *timeout = "";
    int rc;
    check_defaults(&tmp);
    memset(c, 0, sizeof *c);
    c->def = tmp.def;
    c->node = c->check_id = c->name = c->status = c->notes = c->output = "";
    c->service_id = c->service_name = c->type = "";
    if ((rc = check_object(v, "structs.HealthCheck", err))) return rc;
    if ((rc = cn_json_check_fields(v, health_check_fields, err))) return rc;
    if ((rc = rd_str(v, NAMES("Node"), a, &c->node, err)) ||
        (rc = rd_str(v, NAMES("CheckID"), a, &c->check_id, err)) ||
        (rc = rd_str(v, NAMES("Name"), a, &c->name, err)) ||
        (rc = rd_str(v, NAMES("Status"), a, &c->status, err)) ||
        (rc = rd_str(v, NAMES("Notes"), a, &c->notes, err)) ||
        (rc = rd_str(v, NAMES("Output"), a, &c->output, err)) ||
        (rc = rd_str(v, NAMES("ServiceID"), a, &c->service_id, err)) ||
        (rc = rd_str(v, NAMES("Type"), a, &c->type, err)) ||
        (rc = rd_str(v, NAMES("Interval"), a, &interval, err)) ||
        (rc = rd_str(v, NAMES("Timeout"), a, &timeout, err)) ||
        (rc = rd_i64(v, NAMES("ExposedPort"), &c->exposed_port, err)) ||
        (rc = decode_definition(cn_json_get(v, "Definition"), a, &c->def, err)))
        return rc;
    int64_t ns;
    if (*interval && !c->def.interval_ns && !cn_dur_parse(cn_str_from(interval), &ns))
        c->def.interval_ns = ns;
    if (*timeout && !c->def.timeout_ns && !cn_dur_parse(cn_str_from(timeout), &ns))
        c->def.timeout_ns = ns;
    /* Consul's checkPreApply: the ID defaults to the name. */
    if (!*c->check_id) c->check_id = c->name;
    if (!*c->type) {
        tmp.def = c->def;
        c->type = (char *)agent_check_type(&tmp);
    }
    return 0;
}

static const char *const register_fields[] = {
    "Datacenter", "ID", "Node", "Address", "TaggedAddresses", "NodeMeta", "Service", "Check",
    "Checks", "SkipNodeUpdate", "Token", "WriteRequest", "PeerName", "Locality", "Namespace",
    "Partition", NULL};

static int rd_token(const json_t *v, struct cn_arena *a, const char **token, struct cn_err *err)
{
    char *t = "";
    int rc;
    json_t *wr = cn_json_get(v, "WriteRequest");
    if ((rc = rd_str(v, NAMES("Token"), a, &t, err))) return rc;
    if (json_is_object(wr) && !*t && (rc = rd_str(wr, NAMES("Token"), a, &t, err))) return rc;
    *token = t;
    return 0;
}

int agent_catalog_register_decode(const json_t *v, struct cn_arena *a, struct state_register *out,
                                  const char **token, struct cn_err *err)
{
    struct state_node *n = CN_ARENA_NEW(a, struct state_node);
    int rc;
    memset(out, 0, sizeof *out);
    n->id = n->name = n->address = "";
    if ((rc = check_object(v, "structs.RegisterRequest", err))) return rc;
    if ((rc = cn_json_check_fields(v, register_fields, err))) return rc;
    if ((rc = rd_str(v, NAMES("ID"), a, &n->id, err)) ||
        (rc = rd_str(v, NAMES("Node"), a, &n->name, err)) ||
        (rc = rd_str(v, NAMES("Address"), a, &n->address, err)) ||
        (rc = rd_pairs(v, NAMES("TaggedAddresses"), a, &n->tagged, &n->ntagged, err)) ||
        (rc = rd_pairs(v, NAMES("NodeMeta"), a, &n->meta, &n->nmeta, err)) ||
        (rc = rd_bool(v, NAMES("SkipNodeUpdate"), &out->skip_node_update, err)) ||
        (rc = rd_token(v, a, token, err)))
        return rc;
    out->node = n;
    json_t *svc = cn_json_get(v, "Service");
    if (svc && !json_is_null(svc)) {
        struct state_service *s = CN_ARENA_NEW(a, struct state_service);
        if ((rc = decode_node_service(svc, a, s, err))) return rc;
        out->service = s;
    }
    json_t *one = cn_json_get(v, "Check"), *many = cn_json_get(v, "Checks"), *e;
    size_t i, n_checks;
    if (many && !json_is_null(many) && (!json_is_array(many) || json_array_size(many) > LIST_MAX))
        return type_error(err, "Checks", many, "structs.HealthChecks");
    n_checks = (one && !json_is_null(one)) + (json_is_array(many) ? json_array_size(many) : 0);
    struct state_check *checks = CN_ARENA_ARRAY(a, struct state_check, n_checks + 1);
    size_t k = 0;
    if (json_is_array(many))
        json_array_foreach(many, i, e) if ((rc = decode_health_check(e, a, &checks[k++], err))) return rc;
    /* Consul appends the single Check after Checks. */
    if (one && !json_is_null(one) && (rc = decode_health_check(one, a, &checks[k++], err)))
        return rc;
    out->checks = checks;
    out->nchecks = k;
    return 0;
}

int agent_catalog_deregister_decode(const json_t *v, struct cn_arena *a, const char **node,
                                    const char **service_id, const char **check_id,
                                    const char **token, struct cn_err *err)
{
    static const char *const known[] = {"Datacenter", "Node", "ServiceID", "CheckID", "Token",
                                        "WriteRequest", "PeerName", "Namespace", "Partition", NULL};
    char *nd = "", *sid = "", *cid = "";
    int rc;
    if ((rc = check_object(v, "structs.DeregisterRequest", err))) return rc;
    if ((rc = cn_json_check_fields(v, known, err))) return rc;
    if ((rc = rd_str(v, NAMES("Node"), a, &nd, err)) ||
        (rc = rd_str(v, NAMES("ServiceID"), a, &sid, err)) ||
        (rc = rd_str(v, NAMES("CheckID"), a, &cid, err)) || (rc = rd_token(v, a, token, err)))
        return rc;
    *node = nd;
    *service_id = sid;
    *check_id = cid;
    return 0;
}
