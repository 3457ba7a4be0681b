/*
 * acl.c - `cairn acl bootstrap|token|policy|set-agent-token` (Consul's
 * command/acl): an HTTP client of /v1/acl/... with Consul's pretty and JSON
 * output.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "http/http_int.h"
#include "lib/cn_common.h"
#include "lib/cn_json.h"

int cli_acl(int argc, char **argv);

/* ---- plumbing ------------------------------------------------------- */

static void api_error(const char *what, const struct cli_resp *r)
{
    size_t n = r->body.len;
    while (n && (r->body.data[n - 1] == '\n' || r->body.data[n - 1] == '\r')) n--;
    fprintf(stderr, "%s: Unexpected response code: %ld (%.*s)\n", what, r->status, (int)n,
            r->body.data ? r->body.data : "");
}

/* One request; the parsed JSON answer on 200, else NULL after the error. */
static json_t *call(struct cli_client *c, const char *method, const char *path, json_t *body,
                    const char *what)
{
    struct cli_resp resp = {0};
    struct cn_err err;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_t *out = NULL;
    cn_buf_init(&resp.body, CN_BUF_UNLIMITED);
    int rc = cli_http(c, method, path, text, text ? strlen(text) : 0, &resp, what);
    free(text);
    if (rc == 0 && resp.status != 200) {
        api_error(what, &resp);
    } else if (rc == 0) {
        out = cn_json_parse(resp.body.data ? resp.body.data : "", resp.body.len, &err);
        if (!out) out = json_null();
    }
    cli_resp_release(&resp);
    return out;
}

static void print_json(json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
    printf("%s\n", s ? s : "null");
    free(s);
}

static const char *jstr(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static json_t *strv_json(const struct cli_list *l)
{
    json_t *a = json_array();
    for (size_t i = 0; i < l->n; i++) json_array_append_new(a, json_string(l->items[i]));
    return a;
}

/* Go's time.Time %v for an RFC 3339 UTC string: "2006-01-02 15:04:05.999 +0000 UTC". */
static void print_time(const char *label, const char *rfc3339)
{
    char buf[80];
    size_t n = strlen(rfc3339);
    snprintf(buf, sizeof buf, "%s", rfc3339);
    if (n > 10 && buf[10] == 'T') buf[10] = ' ';
    if (n && buf[n - 1] == 'Z') {
        buf[n - 1] = '\0';
        printf("%s%s +0000 UTC\n", label, buf);
    } else {
        printf("%s%s\n", label, buf);
    }
}

static bool bad_format(const char *format)
{
    if (!strcmp(format, "pretty") || !strcmp(format, "json")) return false;
    fprintf(stderr, "Invalid format: %s\n", format);
    return true;
}

/* ---- tokens --------------------------------------------------------- */

static void print_token(json_t *t, bool list)
{
    json_t *v;
    size_t i;
    printf("AccessorID:       %s\n", jstr(t, "AccessorID"));
    printf("SecretID:         %s\n", jstr(t, "SecretID"));
    printf("Description:      %s\n", jstr(t, "Description"));
    printf("Local:            %s\n", json_is_true(json_object_get(t, "Local")) ? "true" : "false");
    print_time("Create Time:      ", jstr(t, "CreateTime"));
    if (*jstr(t, "ExpirationTime")) print_time("Expiration Time:  ", jstr(t, "ExpirationTime"));
    if (list) printf("Legacy:           false\n");
    json_t *pol = json_object_get(t, "Policies");
    if (json_array_size(pol)) {
        printf("Policies:\n");
        json_array_foreach(pol, i, v) printf("   %s - %s\n", jstr(v, "ID"), jstr(v, "Name"));
    }
    json_t *svc = json_object_get(t, "ServiceIdentities");
    if (json_array_size(svc)) {
        printf("Service Identities:\n");
        json_array_foreach(svc, i, v) {
            json_t *dcs = json_object_get(v, "Datacenters");
            printf("   %s (Datacenters: ", jstr(v, "ServiceName"));
            if (!json_array_size(dcs)) printf("all");
            for (size_t j = 0; j < json_array_size(dcs); j++)
                printf("%s%s", j ? ", " : "", json_string_value(json_array_get(dcs, j)));
            printf(")\n");
        }
    }
    json_t *nodes = json_object_get(t, "NodeIdentities");
    if (json_array_size(nodes)) {
        printf("Node Identities:\n");
        json_array_foreach(nodes, i, v)
            printf("   %s (Datacenter: %s)\n", jstr(v, "NodeName"), jstr(v, "Datacenter"));
    }
    if (*jstr(t, "Rules")) printf("Rules:\n%s\n", jstr(t, "Rules"));
}

static void show_token(json_t *t, const char *format)
{
    if (!strcmp(format, "json"))
        print_json(t);
    else
        print_token(t, false);
}

static int acl_bootstrap(int argc, char **argv)
{
    struct cli_http_opts o = {0};
    const char *format = "pretty";
    const struct cli_flag flags[] = {
        {"format", CF_STR, &format, "output format: pretty or json", NULL}, CLI_HTTP_FLAGS(&o), {0}};
    int i = cli_parse_flags("acl bootstrap", flags, argc, argv);
    if (i < 0) return i == -2 ? 0 : 1;
    if (bad_format(format)) return 1;
    struct cli_client *c = cli_client_new(&o);
    if (!c) return 1;
    json_t *t = call(c, "PUT", "/v1/acl/bootstrap", NULL, "Failed ACL bootstrapping");
    cli_client_free(c);
    if (!t) return 1;
    json_object_del(t, "ID");
    show_token(t, format);
    json_decref(t);
    return 0;
}

struct token_flags {
    struct cli_http_opts o;
    const char *id, *description, *format, *secret, *accessor, *expires_ttl;
    struct cli_list policy_ids, policy_names, role_ids, role_names, svc_ids, node_ids;
    bool local, self, merge_policies, merge_svc, merge_nodes, expanded;
    bool seen_description;
};

static void free_token_flags(struct token_flags *f)
{
    free(f->policy_ids.items);
    free(f->policy_names.items);
    free(f->role_ids.items);
    free(f->role_names.items);
    free(f->svc_ids.items);
    free(f->node_ids.items);
}

/* -service-identity=svc[:dc1,dc2] and -node-identity=node:dc */
static int add_identities(json_t *t, const struct token_flags *f, bool merge_svc, bool merge_nodes)
{
    json_t *svc = merge_svc ? json_object_get(t, "ServiceIdentities") : NULL;
    json_t *nodes = merge_nodes ? json_object_get(t, "NodeIdentities") : NULL;
    svc = svc ? json_incref(svc) : json_array();
    nodes = nodes ? json_incref(nodes) : json_array();
    for (size_t i = 0; i < f->svc_ids.n; i++) {
        char *spec = cn_strdup(f->svc_ids.items[i]), *colon = strchr(spec, ':');
        json_t *e = json_object();
        if (colon) *colon = '\0';
        json_object_set_new(e, "ServiceName", json_string(spec));
        if (colon) {
            json_t *dcs = json_array();
            for (char *save = NULL, *dc = strtok_r(colon + 1, ",", &save); dc; dc = strtok_r(NULL, ",", &save))
                json_array_append_new(dcs, json_string(dc));
            json_object_set_new(e, "Datacenters", dcs);
        }
        json_array_append_new(svc, e);
        free(spec);
    }
    for (size_t i = 0; i < f->node_ids.n; i++) {
        const char *spec = f->node_ids.items[i], *colon = strchr(spec, ':');
        if (!colon) {
            fprintf(stderr, "Malformed -node-identity argument: \"%s\"\n", spec);
            json_decref(svc);
            json_decref(nodes);
            return -1;
        }
        json_t *e = json_object();
        json_object_set_new(e, "NodeName", json_stringn(spec, (size_t)(colon - spec)));
        json_object_set_new(e, "Datacenter", json_string(colon + 1));
        json_array_append_new(nodes, e);
    }
    json_object_set_new(t, "ServiceIdentities", svc);
    json_object_set_new(t, "NodeIdentities", nodes);
    return 0;
}

static void add_policies(json_t *t, const struct token_flags *f, bool merge)
{
    json_t *pol = merge ? json_object_get(t, "Policies") : NULL;
    pol = pol ? json_incref(pol) : json_array();
    for (size_t i = 0; i < f->policy_ids.n; i++)
        json_array_append_new(pol, json_pack("{ss}", "ID", f->policy_ids.items[i]));
    for (size_t i = 0; i < f->policy_names.n; i++)
        json_array_append_new(pol, json_pack("{ss}", "Name", f->policy_names.items[i]));
    json_object_set_new(t, "Policies", pol);
}

#define TOKEN_COMMON_FLAGS(f)                                                                 \
    {"format", CF_STR, &(f)->format, "output format: pretty or json", NULL},                  \
        {"description", CF_STR, &(f)->description, "token description",                     \
         &(f)->seen_description},                                                             \
        {"policy-id", CF_LIST, &(f)->policy_ids, "policy ID to link (repeatable)", NULL},     \
        {"policy-name", CF_LIST, &(f)->policy_names, "policy name to link (repeatable)", NULL}, \
        {"role-id", CF_LIST, &(f)->role_ids, "role ID to link (not supported)", NULL},         \
        {"role-name", CF_LIST, &(f)->role_names, "role name to link (not supported)", NULL},   \
        {"service-identity", CF_LIST, &(f)->svc_ids, "svc[:dc1,dc2] (repeatable)", NULL},      \
        {"node-identity", CF_LIST, &(f)->node_ids, "node:dc (repeatable)", NULL},              \
        CLI_HTTP_FLAGS(&(f)->o)

static int token_create(int argc, char **argv)
{
    struct token_flags f = {.format = "pretty"};
    const struct cli_flag flags[] = {
        TOKEN_COMMON_FLAGS(&f),
        {"local", CF_BOOL, &f.local, "create a datacenter-local token", NULL},
        {"expires-ttl", CF_STR, &f.expires_ttl, "duration until the token expires", NULL},
        {"secret", CF_STR, &f.secret, "the SecretID (default: generated)", NULL},
        {"accessor", CF_STR, &f.accessor, "the AccessorID (default: generated)", NULL},
        {0}};
    int i = cli_parse_flags("acl token create", flags, argc, argv), rc = 1;
    if (i < 0) return i == -2 ? 0 : 1;
    if (bad_format(f.format)) goto out;
    if (f.role_ids.n || f.role_names.n) {
        fprintf(stderr, "ACL roles are not supported\n");
        goto out;
    }
    json_t *t = json_object();
    json_object_set_new(t, "Description", json_string(f.description ? f.description : ""));
    json_object_set_new(t, "Local", json_boolean(f.local));
    if (f.secret) json_object_set_new(t, "SecretID", json_string(f.secret));
    if (f.accessor) json_object_set_new(t, "AccessorID", json_string(f.accessor));
    if (f.expires_ttl) json_object_set_new(t, "ExpirationTTL", json_string(f.expires_ttl));
    add_policies(t, &f, false);
    if (add_identities(t, &f, false, false) == 0) {
        struct cli_client *c = cli_client_new(&f.o);
        json_t *out = c ? call(c, "PUT", "/v1/acl/token", t, "Failed to create new token") : NULL;
        if (out) {
            show_token(out, f.format);
            json_decref(out);
            rc = 0;
        }
        cli_client_free(c);
    }
    json_decref(t);
out:
    free_token_flags(&f);
    return rc;
}

static json_t *get_token(struct cli_client *c, const char *id, bool self)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/acl/token/%s", self ? "self" : id);
    return call(c, "GET", path, NULL, "Error reading token");
}

static int token_read(int argc, char **argv)
{
    struct token_flags f = {.format = "pretty"};
    const struct cli_flag flags[] = {
        {"id", CF_STR, &f.id, "the AccessorID of the token", NULL},
        {"self", CF_BOOL, &f.self, "read the token in use", NULL},
        {"expanded", CF_BOOL, &f.expanded, "show linked objects in full (ignored)", NULL},
        {"format", CF_STR, &f.format, "output format: pretty or json", NULL},
        CLI_HTTP_FLAGS(&f.o), {0}};
    int i = cli_parse_flags("acl token read", flags, argc, argv);
    if (i < 0) return i == -2 ? 0 : 1;
    if (bad_format(f.format)) return 1;
    if (!f.self && (!f.id || !*f.id)) {
        fprintf(stderr, "Must specify the -id parameter\n");
        return 1;
    }
    struct cli_client *c = cli_client_new(&f.o);
    if (!c) return 1;
    json_t *t = get_token(c, f.id, f.self);
    cli_client_free(c);
    if (!t) return 1;
    show_token(t, f.format);
    json_decref(t);
    return 0;
}

static int token_update(int argc, char **argv)
{
    struct token_flags f = {.format = "pretty"};
    const struct cli_flag flags[] = {
        {"id", CF_STR, &f.id, "the AccessorID of the token", NULL},
        {"merge-policies", CF_BOOL, &f.merge_policies, "keep the linked policies", NULL},
        {"merge-service-identities", CF_BOOL, &f.merge_svc, "keep the service identities", NULL},
        {"merge-node-identities", CF_BOOL, &f.merge_nodes, "keep the node identities", NULL},
        TOKEN_COMMON_FLAGS(&f), {0}};
    int i = cli_parse_flags("acl token update", flags, argc, argv), rc = 1;
    struct cli_client *c = NULL;
    json_t *t = NULL, *out = NULL;
    if (i < 0) return i == -2 ? 0 : 1;
    if (bad_format(f.format)) goto done;
    if (!f.id || !*f.id) {
        fprintf(stderr, "Cannot update a token without specifying the -id parameter\n");
        goto done;
    }
    if (!(c = cli_client_new(&f.o)) || !(t = get_token(c, f.id, false))) goto done;
    if (f.seen_description) json_object_set_new(t, "Description", json_string(f.description));
    /* Given links replace the token's unless asked to merge. */
    if (f.policy_ids.n || f.policy_names.n) add_policies(t, &f, f.merge_policies);
    if (add_identities(t, &f, f.merge_svc || !f.svc_ids.n, f.merge_nodes || !f.node_ids.n)) goto done;
    json_object_del(t, "CreateTime");
    json_object_del(t, "Hash");
    char path[256];
    snprintf(path, sizeof path, "/v1/acl/token/%s", f.id);
    if ((out = call(c, "PUT", path, t, "Failed to update token"))) {
        printf("%s", !strcmp(f.format, "json") ? "" : "Token updated successfully.\n");
        show_token(out, f.format);
        rc = 0;
    }
done:
    json_decref(t);
    json_decref(out);
    cli_client_free(c);
    free_token_flags(&f);
    return rc;
}

static int token_delete(int argc, char **argv)
{
    struct token_flags f = {0};
    const struct cli_flag flags[] = {
        {"id", CF_STR, &f.id, "the AccessorID of the token", NULL}, CLI_HTTP_FLAGS(&f.o), {0}};
    int i = cli_parse_flags("acl token delete", flags, argc, argv);
    if (i < 0) return i == -2 ? 0 : 1;
    if (!f.id || !*f.id) {
        fprintf(stderr, "Must specify the -id parameter\n");
        return 1;
    }
    struct cli_client *c = cli_client_new(&f.o);
    if (!c) return 1;
    char path[256];
    snprintf(path, sizeof path, "/v1/acl/token/%s", f.id);
    json_t *out = call(c, "DELETE", path, NULL, "Error deleting token");
    cli_client_free(c);
    if (!out) return 1;
    json_decref(out);
    printf("Token \"%s\" deleted successfully\n", f.id);
    return 0;
}

static int token_list(int argc, char **argv)
{
    struct token_flags f = {.format = "pretty"};
    const struct cli_flag flags[] = {
        {"format", CF_STR, &f.format, "output format: pretty or json", NULL},
        CLI_HTTP_FLAGS(&f.o), {0}};
    int i = cli_parse_flags("acl token list", flags, argc, argv);
    if (i < 0) return i == -2 ? 0 : 1;
    if (bad_format(f.format)) return 1;
    struct cli_client *c = cli_client_new(&f.o);
    if (!c) return 1;
    json_t *list = call(c, "GET", "/v1/acl/tokens", NULL, "Failed to retrieve the token list");
    cli_client_free(c);
    if (!list) return 1;
    if (!strcmp(f.format, "json")) {
        print_json(list);
    } else {
        size_t k;
        json_t *t;
        json_array_foreach(list, k, t) {
            if (k) printf("\n");
            print_token(t, true);
        }
    }
    json_decref(list);
    return 0;
}

static int token_clone(int argc, char **argv)
{
    struct token_flags f = {.format = "pretty"};
    const struct cli_flag flags[] = {
        {"id", CF_STR, &f.id, "the AccessorID of the token to clone", NULL},
        {"description", CF_STR, &f.description, "description of the new token", NULL},
        {"format", CF_STR, &f.format, "output format: pretty or json", NULL},
        CLI_HTTP_FLAGS(&f.o), {0}};
    int i = cli_parse_flags("acl token clone", flags, argc, argv);
    if (i < 0) return i == -2 ? 0 : 1;
    if (bad_format(f.format)) return 1;
    if (!f.id || !*f.id) {
        fprintf(stderr, "Cannot clone a token without specifying the -id parameter\n");
        return 1;
    }
    struct cli_client *c = cli_client_new(&f.o);
    if (!c) return 1;
    char path[256];
    snprintf(path, sizeof path, "/v1/acl/token/%s/clone", f.id);
    json_t *body = json_pack("{ss}", "Description", f.description ? f.description : "");
    json_t *t = call(c, "PUT", path, body, "Failed to clone token");
    json_decref(body);
    cli_client_free(c);
    if (!t) return 1;
    printf("%s", !strcmp(f.format, "json") ? "" : "Token cloned successfully.\n");
    show_token(t, f.format);
    json_decref(t);
    return 0;
}

/* ---- policies ------------------------------------------------------- */

static void print_policy(json_t *p)
{
    json_t *dcs = json_object_get(p, "Datacenters");
    printf("ID:           %s\n", jstr(p, "ID"));
    printf("Name:         %s\n", jstr(p, "Name"));
    printf("Description:  %s\n", jstr(p, "Description"));
    printf("Datacenters:  ");
    for (size_t j = 0; j < json_array_size(dcs); j++)
        printf("%s%s", j ? ", " : "", json_string_value(json_array_get(dcs, j)));
    printf("\nRules:\n%s\n", jstr(p, "Rules"));
}

static void show_policy(json_t *p, const char *format)
{
    if (!strcmp(format, "json"))
        print_json(p);
    else
        print_policy(p);
}

struct policy_flags {
    struct cli_http_opts o;
    const char *id, *name, *description, *rules, *format;
    struct cli_list dcs;
    bool seen_description, seen_rules, seen_name;
};

#define POLICY_WRITE_FLAGS(f)                                                                 \
    {"name", CF_STR, &(f)->name, "the policy name", &(f)->seen_name},                         \
        {"description", CF_STR, &(f)->description, "policy description",                     \
         &(f)->seen_description},                                                             \
        {"rules", CF_STR, &(f)->rules, "rules: text, @file or - (stdin)", &(f)->seen_rules},   \
        {"valid-datacenter", CF_LIST, &(f)->dcs, "datacenter where the policy applies", NULL}, \
        {"format", CF_STR, &(f)->format, "output format: pretty or json", NULL},               \
        CLI_HTTP_FLAGS(&(f)->o)

/* -rules=<text|@file|-> */
static int read_rules(const char *arg, json_t *p)
{
    struct cn_buf b;
    cn_buf_init(&b, 4 * 1024 * 1024);
    if (cli_read_data(arg, &b)) {
        cn_buf_release(&b);
        return -1;
    }
    json_object_set_new(p, "Rules", json_stringn(b.data ? b.data : "", b.len));
    cn_buf_release(&b);
    return 0;
}

static int policy_create(int argc, char **argv)
{
    struct policy_flags f = {.format = "pretty"};
    const struct cli_flag flags[] = {POLICY_WRITE_FLAGS(&f), {0}};
    int i = cli_parse_flags("acl policy create", flags, argc, argv), rc = 1;
    json_t *p = NULL, *out = NULL;
    struct cli_client *c = NULL;
    if (i < 0) return i == -2 ? 0 : 1;
    if (bad_format(f.format)) goto done;
    if (!f.name || !*f.name) {
        fprintf(stderr, "Missing required '-name' flag\n");
        goto done;
    }
    p = json_object();
    json_object_set_new(p, "Name", json_string(f.name));
    json_object_set_new(p, "Description", json_string(f.description ? f.description : ""));
    json_object_set_new(p, "Datacenters", strv_json(&f.dcs));
    if (f.rules && read_rules(f.rules, p)) goto done;
    if (!(c = cli_client_new(&f.o))) goto done;
    if ((out = call(c, "PUT", "/v1/acl/policy", p, "Failed to create new policy"))) {
        show_policy(out, f.format);
        rc = 0;
    }
done:
    json_decref(p);
    json_decref(out);
    cli_client_free(c);
    free(f.dcs.items);
    return rc;
}

static json_t *get_policy(struct cli_client *c, const char *id, const char *name)
{
    char path[512];
    if (id && *id)
        snprintf(path, sizeof path, "/v1/acl/policy/%s", id);
    else
        snprintf(path, sizeof path, "/v1/acl/policy/name/%s", name);
    return call(c, "GET", path, NULL, "Error reading policy");
}

static int policy_read(int argc, char **argv)
{
    struct policy_flags f = {.format = "pretty"};
    const struct cli_flag flags[] = {
        {"id", CF_STR, &f.id, "the policy ID", NULL},
        {"name", CF_STR, &f.name, "the policy name", NULL},
        {"format", CF_STR, &f.format, "output format: pretty or json", NULL},
        CLI_HTTP_FLAGS(&f.o), {0}};
    int i = cli_parse_flags("acl policy read", flags, argc, argv);
    if (i < 0) return i == -2 ? 0 : 1;
    if (bad_format(f.format)) return 1;
    if ((!f.id || !*f.id) && (!f.name || !*f.name)) {
        fprintf(stderr, "Must specify either the -id or -name parameters\n");
        return 1;
    }
    struct cli_client *c = cli_client_new(&f.o);
    if (!c) return 1;
    json_t *p = get_policy(c, f.id, f.name);
    cli_client_free(c);
    if (!p) return 1;
    show_policy(p, f.format);
    json_decref(p);
    return 0;
}

static int policy_update(int argc, char **argv)
{
    struct policy_flags f = {.format = "pretty"};
    const struct cli_flag flags[] = {{"id", CF_STR, &f.id, "the policy ID", NULL},
                                     POLICY_WRITE_FLAGS(&f), {0}};
    int i = cli_parse_flags("acl policy update", flags, argc, argv), rc = 1;
    json_t *p = NULL, *out = NULL;
    struct cli_client *c = NULL;
    if (i < 0) return i == -2 ? 0 : 1;
    if (bad_format(f.format)) goto done;
    if ((!f.id || !*f.id) && (!f.name || !*f.name)) {
        fprintf(stderr, "Cannot update a policy without specifying the -id or -name parameter\n");
        goto done;
    }
    if (!(c = cli_client_new(&f.o))) goto done;
    /* -id picks the policy (and -name renames it); -name alone picks it. */
    if (!(p = get_policy(c, f.id, f.id && *f.id ? NULL : f.name))) goto done;
    if (f.id && *f.id && f.seen_name) json_object_set_new(p, "Name", json_string(f.name));
    if (f.seen_description) json_object_set_new(p, "Description", json_string(f.description));
    if (f.dcs.n) json_object_set_new(p, "Datacenters", strv_json(&f.dcs));
    if (f.seen_rules && read_rules(f.rules, p)) goto done;
    json_object_del(p, "Hash");
    char path[256];
    snprintf(path, sizeof path, "/v1/acl/policy/%s", jstr(p, "ID"));
    if ((out = call(c, "PUT", path, p, "Failed to update policy"))) {
        printf("%s", !strcmp(f.format, "json") ? "" : "Policy updated successfully.\n");
        show_policy(out, f.format);
        rc = 0;
    }
done:
    json_decref(p);
    json_decref(out);
    cli_client_free(c);
    free(f.dcs.items);
    return rc;
}

static int policy_delete(int argc, char **argv)
{
    struct policy_flags f = {0};
    const struct cli_flag flags[] = {{"id", CF_STR, &f.id, "the policy ID", NULL},
                                     {"name", CF_STR, &f.name, "the policy name", NULL},
                                     CLI_HTTP_FLAGS(&f.o), {0}};
    int i = cli_parse_flags("acl policy delete", flags, argc, argv), rc = 1;
    if (i < 0) return i == -2 ? 0 : 1;
    if ((!f.id || !*f.id) && (!f.name || !*f.name)) {
        fprintf(stderr, "Must specify either the -id or -name parameters\n");
        return 1;
    }
    struct cli_client *c = cli_client_new(&f.o);
    if (!c) return 1;
    char *id = f.id && *f.id ? cn_strdup(f.id) : NULL;
    if (!id) {
        json_t *p = get_policy(c, NULL, f.name);
        if (p) id = cn_strdup(jstr(p, "ID"));
        json_decref(p);
    }
    if (id) {
        char path[256];
        snprintf(path, sizeof path, "/v1/acl/policy/%s", id);
        json_t *out = call(c, "DELETE", path, NULL, "Error deleting policy");
        if (out) {
            printf("Policy \"%s\" deleted successfully\n", id);
            rc = 0;
        }
        json_decref(out);
    }
    free(id);
    cli_client_free(c);
    return rc;
}

static int policy_list(int argc, char **argv)
{
    struct policy_flags f = {.format = "pretty"};
    const struct cli_flag flags[] = {
        {"format", CF_STR, &f.format, "output format: pretty or json", NULL},
        CLI_HTTP_FLAGS(&f.o), {0}};
    int i = cli_parse_flags("acl policy list", flags, argc, argv);
    if (i < 0) return i == -2 ? 0 : 1;
    if (bad_format(f.format)) return 1;
    struct cli_client *c = cli_client_new(&f.o);
    if (!c) return 1;
    json_t *list = call(c, "GET", "/v1/acl/policies", NULL, "Failed to retrieve the policy list");
    cli_client_free(c);
    if (!list) return 1;
    if (!strcmp(f.format, "json")) {
        print_json(list);
    } else {
        size_t k;
        json_t *p;
        json_array_foreach(list, k, p) {
            json_t *dcs = json_object_get(p, "Datacenters");
            printf("%s:\n   ID:           %s\n   Description:  %s\n   Datacenters:  ",
                   jstr(p, "Name"), jstr(p, "ID"), jstr(p, "Description"));
            for (size_t j = 0; j < json_array_size(dcs); j++)
                printf("%s%s", j ? ", " : "", json_string_value(json_array_get(dcs, j)));
            printf("\n");
        }
    }
    json_decref(list);
    return 0;
}

/* ---- agent tokens --------------------------------------------------- */

static int set_agent_token(int argc, char **argv)
{
    struct cli_http_opts o = {0};
    const struct cli_flag flags[] = {CLI_HTTP_FLAGS(&o), {0}};
    int i = cli_parse_flags("acl set-agent-token", flags, argc, argv);
    if (i < 0) return i == -2 ? 0 : 1;
    if (argc - i != 2) {
        fprintf(stderr, "Missing TYPE and TOKEN arguments\n");
        return 1;
    }
    const char *type = argv[i], *secret = argv[i + 1];
    /* The CLI's names for the agent_recovery token. */
    const char *api = !strcmp(type, "recovery") || !strcmp(type, "master") ? "agent_recovery" : type;
    static const char *const known[] = {"default", "agent", "agent_recovery", "replication", "dns",
                                        "config_file_service_registration", NULL};
    bool ok = false;
    for (size_t k = 0; known[k]; k++) ok |= !strcmp(api, known[k]);
    if (!ok) {
        fprintf(stderr, "Unknown token type: %s\n", type);
        return 1;
    }
    struct cli_client *c = cli_client_new(&o);
    if (!c) return 1;
    char path[256];
    snprintf(path, sizeof path, "/v1/agent/token/%s", api);
    json_t *body = json_pack("{ss}", "Token", secret);
    json_t *out = call(c, "PUT", path, body, "Failed to set ACL token");
    json_decref(body);
    cli_client_free(c);
    if (!out) return 1;
    json_decref(out);
    printf("ACL token \"%s\" set successfully\n", type);
    return 0;
}

/* `cairn acl routes` (not in the usage): the HTTP route table compiled into
 * this binary, "<methods> <path> <acl|no-acl>", for the route-coverage
 * probe in tests/integration/test_acl_probe.py. */
static int list_routes(void)
{
    size_t n;
    const struct http_route *rt = http_routes(&n);
    static const struct {
        unsigned bit;
        const char *name;
    } m[] = {{M_GET, "GET"}, {M_PUT, "PUT"}, {M_POST, "POST"}, {M_DELETE, "DELETE"}};
    for (size_t i = 0; i < n; i++) {
        const char *sep = "";
        for (size_t k = 0; k < CN_ARRAY_SIZE(m); k++) {
            if (!(rt[i].methods & m[k].bit)) continue;
            printf("%s%s", sep, m[k].name);
            sep = ",";
        }
        printf(" %s %s\n", rt[i].path, rt[i].flags & ROUTE_NO_ACL ? "no-acl" : "acl");
    }
    return 0;
}

/* ---- dispatch ------------------------------------------------------- */

struct sub {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *synopsis;
};

static const struct sub token_subs[] = {
    {"clone", token_clone, "Clone an ACL token"},
    {"create", token_create, "Create an ACL token"},
    {"delete", token_delete, "Delete an ACL token"},
    {"list", token_list, "List ACL tokens"},
    {"read", token_read, "Read an ACL token"},
    {"update", token_update, "Update an ACL token"},
    {NULL, NULL, NULL},
};

static const struct sub policy_subs[] = {
    {"create", policy_create, "Create an ACL policy"},
    {"delete", policy_delete, "Delete an ACL policy"},
    {"list", policy_list, "Lists ACL policies"},
    {"read", policy_read, "Read an ACL policy"},
    {"update", policy_update, "Update an ACL policy"},
    {NULL, NULL, NULL},
};

static int dispatch(const char *family, const struct sub *subs, int argc, char **argv)
{
    if (argc >= 1)
        for (const struct sub *s = subs; s->name; s++)
            if (!strcmp(s->name, argv[0])) return s->run(argc - 1, argv + 1);
    if (argc >= 1) fprintf(stderr, "Unknown acl %s subcommand: %s\n\n", family, argv[0]);
    fprintf(stderr, "Usage: cairn acl %s <subcommand> [options] [args]\n\nSubcommands:\n", family);
    for (const struct sub *s = subs; s->name; s++) fprintf(stderr, "    %-8s %s\n", s->name, s->synopsis);
    return 1;
}

int cli_acl(int argc, char **argv)
{
    const char *sub = argc ? argv[0] : "";
    if (!strcmp(sub, "bootstrap")) return acl_bootstrap(argc - 1, argv + 1);
    if (!strcmp(sub, "token")) return dispatch("token", token_subs, argc - 1, argv + 1);
    if (!strcmp(sub, "policy")) return dispatch("policy", policy_subs, argc - 1, argv + 1);
    if (!strcmp(sub, "set-agent-token")) return set_agent_token(argc - 1, argv + 1);
    if (!strcmp(sub, "routes")) return list_routes();
    if (*sub) fprintf(stderr, "Unknown acl subcommand: %s\n\n", sub);
    fprintf(stderr, "Usage: cairn acl <subcommand> [options] [args]\n\nSubcommands:\n"
                    "    bootstrap          Bootstrap Consul's ACL system\n"
                    "    policy             Manage Consul's ACL policies\n"
                    "    set-agent-token    Assign tokens for the Consul agent's usage\n"
                    "    token              Manage Consul's ACL tokens\n");
    return 1;
}
