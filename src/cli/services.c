/* services.c - `cairn services register|deregister` (Consul's
 * command/services): definitions from files (the agent config format's
 * `service`/`services`) or from flags, through the local agent's API. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/cn_common.h"
#include "lib/cn_json.h"

int cli_services(int argc, char **argv);

static void api_error(const char *what, const struct cli_resp *r)
{
    fprintf(stderr, "%s: Unexpected response code: %ld (%.*s)\n", what, r->status,
            (int)r->body.len, r->body.data ? r->body.data : "");
}

/* Every service definition of a config file (service: object or list,
 * services: list), appended to out. */
static int load_file(const char *path, json_t *out)
{
    struct cn_buf data;
    struct cn_err err;
    cn_buf_init(&data, CN_BUF_UNLIMITED);
    char at[4096];
    snprintf(at, sizeof at, "@%s", path);
    if (cli_read_data(at, &data)) {
        fprintf(stderr, "Error reading %s\n", path);
        cn_buf_release(&data);
        return -1;
    }
    json_t *root = cn_json_parse(data.data ? data.data : "", data.len, &err);
    cn_buf_release(&data);
    if (!json_is_object(root)) {
        fprintf(stderr, "Error parsing %s: %s\n", path, root ? "not a JSON object" : err.msg);
        json_decref(root);
        return -1;
    }
    static const char *const keys[] = {"service", "services"};
    for (size_t k = 0; k < CN_ARRAY_SIZE(keys); k++) {
        json_t *v = json_object_get(root, keys[k]);
        if (json_is_object(v))
            json_array_append(out, v);
        else if (json_is_array(v))
            json_array_extend(out, v);
    }
    json_decref(root);
    if (json_array_size(out) == 0) {
        fprintf(stderr, "Error: no service definitions in %s\n", path);
        return -1;
    }
    return 0;
}

static const char *field(json_t *o, const char *a, const char *b)
{
    json_t *v = cn_json_get(o, a);
    if (!json_is_string(v) && b) v = cn_json_get(o, b);
    return json_is_string(v) ? json_string_value(v) : "";
}

static int services_register(int argc, char **argv)
{
    struct cli_http_opts o = {0};
    const char *name = NULL, *id = NULL, *address = NULL;
    int64_t port = 0;
    struct cli_list tags = {0}, meta = {0};
    const struct cli_flag flags[] = {
        {"name", CF_STR, &name, "service name", NULL},
        {"id", CF_STR, &id, "service ID (default: the name)", NULL},
        {"address", CF_STR, &address, "service address", NULL},
        {"port", CF_INT, &port, "service port", NULL},
        {"tag", CF_LIST, &tags, "tag (repeatable)", NULL},
        {"meta", CF_LIST, &meta, "key=value metadata (repeatable)", NULL},
        CLI_HTTP_FLAGS(&o),
        {0}};
    int i = cli_parse_flags("services register", flags, argc, argv), rc = 0;
    if (i < 0) return i == -2 ? 0 : 1;
    json_t *defs = json_array();
    if (argc - i > 0) {
        if (name) {
            fprintf(stderr, "Flags and files cannot both be given\n");
            json_decref(defs);
            return 1;
        }
        for (int k = i; k < argc; k++)
            if (load_file(argv[k], defs)) {
                json_decref(defs);
                return 1;
            }
    } else {
        if (!name || !*name) {
            fprintf(stderr, "Service name must be specified via the -name flag or a file\n");
            json_decref(defs);
            return 1;
        }
        json_t *d = json_pack("{s:s}", "Name", name);
        if (id) json_object_set_new(d, "ID", json_string(id));
        if (address) json_object_set_new(d, "Address", json_string(address));
        if (port) json_object_set_new(d, "Port", json_integer(port));
        json_t *t = json_array(), *m = json_object();
        for (size_t k = 0; k < tags.n; k++) json_array_append_new(t, json_string(tags.items[k]));
        for (size_t k = 0; k < meta.n; k++) {
            char *kv = cn_strdup(meta.items[k]), *eq = strchr(kv, '=');
            if (eq) *eq++ = '\0';
            json_object_set_new(m, kv, json_string(eq ? eq : ""));
            free(kv);
        }
        json_object_set_new(d, "Tags", t);
        if (json_object_size(m))
            json_object_set_new(d, "Meta", m);
        else
            json_decref(m);
        json_array_append_new(defs, d);
    }
    struct cli_client *c = cli_client_new(&o);
    size_t k;
    json_t *d;
    json_array_foreach(defs, k, d)
    {
        struct cli_resp r;
        char *body = json_dumps(d, JSON_COMPACT);
        const char *svc = field(d, "Name", NULL);
        if (cli_http(c, "PUT", "/v1/agent/service/register", body, strlen(body), &r,
                     "Error registering service")) {
            free(body);
            rc = 1;
            break;
        }
        free(body);
        if (r.status != 200) {
            char what[512];
            snprintf(what, sizeof what, "Error registering service \"%s\"", svc);
            api_error(what, &r);
            rc = 1;
        } else {
            printf("Registered service: %s\n", svc);
        }
        cli_resp_release(&r);
        if (rc) break;
    }
    json_decref(defs);
    cli_client_free(c);
    return rc;
}

static int services_deregister(int argc, char **argv)
{
    struct cli_http_opts o = {0};
    const char *id = NULL;
    const struct cli_flag flags[] = {
        {"id", CF_STR, &id, "ID of the service to deregister", NULL},
        CLI_HTTP_FLAGS(&o),
        {0}};
    int i = cli_parse_flags("services deregister", flags, argc, argv), rc = 0;
    if (i < 0) return i == -2 ? 0 : 1;
    json_t *ids = json_array();
    if (argc - i > 0) {
        json_t *defs = json_array();
        for (int k = i; k < argc; k++)
            if (load_file(argv[k], defs)) {
                json_decref(defs);
                json_decref(ids);
                return 1;
            }
        size_t k;
        json_t *d;
        json_array_foreach(defs, k, d)
        {
            const char *sid = field(d, "ID", NULL);
            json_array_append_new(ids, json_string(*sid ? sid : field(d, "Name", NULL)));
        }
        json_decref(defs);
    } else if (id && *id) {
        json_array_append_new(ids, json_string(id));
    } else {
        fprintf(stderr, "Either a file or the -id flag must be given\n");
        json_decref(ids);
        return 1;
    }
    struct cli_client *c = cli_client_new(&o);
    size_t k;
    json_t *v;
    json_array_foreach(ids, k, v)
    {
        struct cli_resp r;
        char *e = cli_escape_path(json_string_value(v)), path[4096];
        snprintf(path, sizeof path, "/v1/agent/service/deregister/%s", e);
        free(e);
        if (cli_http(c, "PUT", path, NULL, 0, &r, "Error deregistering service")) {
            rc = 1;
            break;
        }
        if (r.status != 200) {
            char what[512];
            snprintf(what, sizeof what, "Error deregistering service \"%s\"", json_string_value(v));
            api_error(what, &r);
            rc = 1;
        } else {
            printf("Deregistered service: %s\n", json_string_value(v));
        }
        cli_resp_release(&r);
        if (rc) break;
    }
    json_decref(ids);
    cli_client_free(c);
    return rc;
}

int cli_services(int argc, char **argv)
{
    static const char *usage = "Usage: cairn services <subcommand> [options] [args]\n\n"
                               "Subcommands:\n"
                               "    deregister    Deregister services with the local agent\n"
                               "    register      Register services with the local agent\n";
    if (argc < 1) {
        fputs(usage, stderr);
        return 1;
    }
    if (!strcmp(argv[0], "register")) return services_register(argc - 1, argv + 1);
    if (!strcmp(argv[0], "deregister")) return services_deregister(argc - 1, argv + 1);
    if (!strcmp(argv[0], "-h") || !strcmp(argv[0], "-help") || !strcmp(argv[0], "--help")) {
        fputs(usage, stdout);
        return 0;
    }
    fputs(usage, stderr);
    return 1;
}
