/* event.c - `cairn event` (Consul's command/event): fire a user event. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/cn_common.h"
#include "lib/cn_json.h"

int cli_event(int argc, char **argv);

static void put_param(struct cn_buf *b, const char *k, const char *v, bool *first)
{
    if (!v || !*v) return;
    char *e = cli_escape_path(v);
    /* a query value: '/' is fine, but '&', '=', '+' and '?' must be escaped */
    cn_buf_putf(b, "%s%s=", *first ? "?" : "&", k);
    for (const char *p = e; *p; p++) {
        if (strchr("&=+?#;", *p))
            cn_buf_putf(b, "%%%02X", (unsigned char)*p);
        else
            cn_buf_putc(b, *p);
    }
    free(e);
    *first = false;
}

int cli_event(int argc, char **argv)
{
    struct cli_http_opts o = {0};
    const char *name = NULL, *node = NULL, *service = NULL, *tag = NULL;
    const struct cli_flag flags[] = {
        {"name", CF_STR, &name, "name of the event (required)", NULL},
        {"node", CF_STR, &node, "regular expression to filter on node names", NULL},
        {"service", CF_STR, &service, "regular expression to filter on service instances", NULL},
        {"tag", CF_STR, &tag, "regular expression to filter on service tags (needs -service)",
         NULL},
        CLI_HTTP_FLAGS(&o),
        {0}};
    int i = cli_parse_flags("event", flags, argc, argv);
    if (i < 0) return i == -2 ? 0 : 1;
    if (!name || !*name) {
        fprintf(stderr, "Event name must be specified\n");
        return 1;
    }
    if (tag && *tag && (!service || !*service)) {
        fprintf(stderr, "Cannot provide tag filter without service filter.\n");
        return 1;
    }
    if (argc - i > 1) {
        fprintf(stderr, "Too many command line arguments.\n");
        return 1;
    }
    const char *payload = argc - i == 1 ? argv[i] : "";
    struct cli_client *c = cli_client_new(&o);
    if (!c) return 1;
    struct cn_buf path;
    struct cli_resp r;
    bool first = true;
    int rc = 1;
    cn_buf_init(&path, CN_BUF_UNLIMITED);
    char *ename = cli_escape_path(name);
    cn_buf_putf(&path, "/v1/event/fire/%s", ename);
    free(ename);
    put_param(&path, "node", node, &first);
    put_param(&path, "service", service, &first);
    put_param(&path, "tag", tag, &first);
    if (cli_http(c, "PUT", path.data, payload, strlen(payload), &r, "Error firing event") == 0) {
        struct cn_err err;
        json_t *v = r.status == 200 ? cn_json_parse(r.body.data, r.body.len, &err) : NULL;
        json_t *id = v ? json_object_get(v, "ID") : NULL;
        if (json_is_string(id)) {
            printf("Event ID: %s\n", json_string_value(id));
            rc = 0;
        } else {
            fprintf(stderr, "Error firing event: Unexpected response code: %ld (%.*s)\n", r.status,
                    (int)r.body.len, r.body.data ? r.body.data : "");
        }
        json_decref(v);
        cli_resp_release(&r);
    }
    cn_buf_release(&path);
    cli_client_free(c);
    return rc;
}
