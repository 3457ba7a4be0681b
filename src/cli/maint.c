/* maint.c - `cairn maint` (Consul's command/maint): list, enable or
 * disable node and service maintenance mode on the local agent. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/cn_common.h"
#include "lib/cn_json.h"

int cli_maint(int argc, char **argv);

static void api_error(const char *what, const struct cli_resp *r)
{
    fprintf(stderr, "%s: Unexpected response code: %ld (%.*s)\n", what, r->status,
            (int)r->body.len, r->body.data ? r->body.data : "");
}

static json_t *get(struct cli_client *c, const char *path, const char *what)
{
    struct cli_resp r;
    struct cn_err err;
    json_t *v = NULL;
    if (cli_http(c, "GET", path, NULL, 0, &r, what)) return NULL;
    if (r.status != 200)
        api_error(what, &r);
    else if (!(v = cn_json_parse(r.body.data ? r.body.data : "", r.body.len, &err)))
        fprintf(stderr, "%s: %s\n", what, err.msg);
    cli_resp_release(&r);
    return v;
}

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : "";
}

static int list(struct cli_client *c)
{
    json_t *self = get(c, "/v1/agent/self", "Error querying agent");
    json_t *checks = self ? get(c, "/v1/agent/checks", "Error listing checks") : NULL;
    if (!checks) {
        json_decref(self);
        return 1;
    }
    const char *node = jstr(json_object_get(self, "Config"), "NodeName");
    json_t *n = json_object_get(checks, "_node_maintenance");
    if (n) {
        printf("Node:\n  Name:   %s\n  Reason: %s\n\n", node, jstr(n, "Notes"));
    }
    /* the agent answers with keys sorted: services in ID order */
    const char *id;
    json_t *v;
    json_object_foreach(checks, id, v)
    {
        if (strncmp(id, "_service_maintenance:", 21)) continue;
        printf("Service:\n  ID:     %s\n  Reason: %s\n\n", jstr(v, "ServiceID"), jstr(v, "Notes"));
    }
    json_decref(checks);
    json_decref(self);
    return 0;
}

/* ?enable=..&reason=.. with the reason escaped. */
static void query(struct cn_buf *b, bool enable, const char *reason)
{
    static const char hex[] = "0123456789ABCDEF";
    cn_buf_putf(b, "?enable=%s", enable ? "true" : "false");
    if (!reason || !*reason) return;
    cn_buf_puts(b, "&reason=");
    for (const unsigned char *p = (const unsigned char *)reason; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            cn_buf_putc(b, (char)*p);
        } else {
            cn_buf_putc(b, '%');
            cn_buf_putc(b, hex[*p >> 4]);
            cn_buf_putc(b, hex[*p & 15]);
        }
    }
}

int cli_maint(int argc, char **argv)
{
    struct cli_http_opts o = {0};
    bool enable = false, disable = false;
    const char *reason = NULL, *service = NULL;
    const struct cli_flag flags[] = {
        {"enable", CF_BOOL, &enable, "enable maintenance mode", NULL},
        {"disable", CF_BOOL, &disable, "disable maintenance mode", NULL},
        {"reason", CF_STR, &reason, "text describing the maintenance reason", NULL},
        {"service", CF_STR, &service, "ID of a service (default: the node)", NULL},
        CLI_HTTP_FLAGS(&o),
        {0}};
    int i = cli_parse_flags("maint", flags, argc, argv), rc = 0;
    if (i < 0) return i == -2 ? 0 : 1;
    if (argc - i > 0) {
        fprintf(stderr, "Too many arguments (expected 0, got %d)\n", argc - i);
        return 1;
    }
    if (enable && disable) {
        fprintf(stderr, "Only one of -enable or -disable may be provided\n");
        return 1;
    }
    if (!enable && reason) {
        fprintf(stderr, "Reason may only be provided with -enable\n");
        return 1;
    }
    if (!enable && !disable && service) {
        fprintf(stderr, "Service requires either -enable or -disable\n");
        return 1;
    }
    struct cli_client *c = cli_client_new(&o);
    if (!enable && !disable) {
        rc = list(c);
        cli_client_free(c);
        return rc;
    }
    struct cn_buf path;
    struct cli_resp r;
    cn_buf_init(&path, CN_BUF_UNLIMITED);
    if (service) {
        char *e = cli_escape_path(service);
        cn_buf_putf(&path, "/v1/agent/service/maintenance/%s", e);
        free(e);
    } else {
        cn_buf_puts(&path, "/v1/agent/maintenance");
    }
    query(&path, enable, reason);
    if (cli_http(c, "PUT", path.data, NULL, 0, &r, "Error toggling maintenance mode")) {
        rc = 1;
    } else if (r.status != 200) {
        api_error(service ? "Error toggling service maintenance" : "Error toggling node maintenance", &r);
        rc = 1;
    } else if (service) {
        printf("Service maintenance is now %s for \"%s\"\n", enable ? "enabled" : "disabled", service);
    } else {
        printf("Node maintenance is now %s\n", enable ? "enabled" : "disabled");
    }
    if (!rc) cli_resp_release(&r);
    cn_buf_release(&path);
    cli_client_free(c);
    return rc;
}
