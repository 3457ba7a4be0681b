/* catalog.c - `cairn catalog datacenters|nodes|services` (Consul's
 * command/catalog). Tables are laid out like Go's columnize (columns
 * separated by two spaces) and tabwriter (-tags: padding 6). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/cn_common.h"
#include "lib/cn_json.h"

int cli_catalog(int argc, char **argv);

static void api_error(const char *what, const struct cli_resp *r)
{
    fprintf(stderr, "%s: Unexpected response code: %ld (%.*s)\n", what, r->status,
            (int)r->body.len, r->body.data ? r->body.data : "");
}

/* Append "&name=<escaped value>" (query component rules). */
static void add_param(struct cn_buf *b, const char *name, const char *v)
{
    static const char hex[] = "0123456789ABCDEF";
    cn_buf_putf(b, "%c%s=", strchr(b->data ? b->data : "", '?') ? '&' : '?', name);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
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

/* -node-meta key=value (repeatable) -> ?node-meta=key:value. */
static void add_node_meta(struct cn_buf *b, const struct cli_list *meta)
{
    for (size_t i = 0; i < meta->n; i++) {
        char *kv = cn_strdup(meta->items[i]), *eq = strchr(kv, '=');
        if (eq) *eq = ':';
        add_param(b, "node-meta", kv);
        free(kv);
    }
}

static json_t *get_json(struct cli_client *c, const char *path, const char *what, int *rc)
{
    struct cli_resp r;
    struct cn_err err;
    json_t *v = NULL;
    *rc = 1;
    if (cli_http(c, "GET", path, NULL, 0, &r, what)) return NULL;
    if (r.status != 200) {
        api_error(what, &r);
    } else if (!(v = cn_json_parse(r.body.data ? r.body.data : "", r.body.len, &err))) {
        fprintf(stderr, "%s: %s\n", what, err.msg);
    } else {
        *rc = 0;
    }
    cli_resp_release(&r);
    return v;
}

/* ---- columnize ------------------------------------------------------------------ */

struct table {
    char ***rows;
    size_t n, cols;
};

static void table_add(struct table *t, const char *const *cells)
{
    t->rows = cn_realloc(t->rows, (t->n + 1) * sizeof *t->rows);
    t->rows[t->n] = cn_calloc(t->cols, sizeof(char *));
    for (size_t i = 0; i < t->cols; i++) t->rows[t->n][i] = cn_strdup(cells[i] ? cells[i] : "");
    t->n++;
}

/* columnize.SimpleFormat: glue "  ", last column unpadded. */
static void table_print(struct table *t, size_t padding)
{
    size_t *w = cn_calloc(t->cols, sizeof *w);
    for (size_t r = 0; r < t->n; r++)
        for (size_t c = 0; c < t->cols; c++) w[c] = CN_MAX(w[c], strlen(t->rows[r][c]));
    for (size_t r = 0; r < t->n; r++) {
        struct cn_buf line;
        cn_buf_init(&line, CN_BUF_UNLIMITED);
        for (size_t c = 0; c < t->cols; c++) {
            cn_buf_puts(&line, t->rows[r][c]);
            if (c + 1 < t->cols)
                for (size_t k = strlen(t->rows[r][c]); k < w[c] + padding; k++) cn_buf_putc(&line, ' ');
        }
        while (line.len && line.data[line.len - 1] == ' ') line.data[--line.len] = '\0';
        printf("%s\n", line.data ? line.data : "");
        cn_buf_release(&line);
        for (size_t c = 0; c < t->cols; c++) free(t->rows[r][c]);
        free(t->rows[r]);
    }
    free(t->rows);
    free(w);
}

/* "k1=v1, k2=v2" sorted by key (Consul's mapToKV). */
static char *map_kv(json_t *m)
{
    struct cn_buf b;
    const char *k;
    json_t *v;
    size_t n = json_is_object(m) ? json_object_size(m) : 0, i = 0;
    const char **keys = cn_calloc(n + 1, sizeof *keys);
    if (n) json_object_foreach(m, k, v) keys[i++] = k;
    for (size_t a = 1; a < n; a++)
        for (size_t j = a; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
            const char *x = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = x;
        }
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    for (i = 0; i < n; i++) {
        json_t *val = json_object_get(m, keys[i]);
        cn_buf_putf(&b, "%s%s=%s", i ? ", " : "", keys[i], json_is_string(val) ? json_string_value(val) : "");
    }
    free(keys);
    return b.data ? cn_buf_take(&b, &n) : cn_strdup("");
}

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : "";
}

/* ---- subcommands ---------------------------------------------------------------- */

static int catalog_datacenters(int argc, char **argv)
{
    struct cli_http_opts o = {0};
    const struct cli_flag flags[] = {CLI_HTTP_FLAGS(&o), {0}};
    int i = cli_parse_flags("catalog datacenters", flags, argc, argv), rc;
    if (i < 0) return i == -2 ? 0 : 1;
    if (argc - i > 0) {
        fprintf(stderr, "Too many arguments (expected 0, got %d)\n", argc - i);
        return 1;
    }
    struct cli_client *c = cli_client_new(&o);
    json_t *v = get_json(c, "/v1/catalog/datacenters", "Error listing datacenters", &rc);
    size_t k;
    json_t *e;
    if (!rc && json_array_size(v) == 0) {
        fprintf(stderr, "No datacenters found\n");
        rc = 1;
    }
    if (!rc) json_array_foreach(v, k, e) printf("%s\n", json_string_value(e));
    json_decref(v);
    cli_client_free(c);
    return rc;
}

static int catalog_nodes(int argc, char **argv)
{
    struct cli_http_opts o = {0};
    bool detailed = false;
    const char *service = NULL, *near = NULL, *filter = NULL;
    struct cli_list meta = {0};
    const struct cli_flag flags[] = {
        {"detailed", CF_BOOL, &detailed, "output detailed information", NULL},
        {"service", CF_STR, &service, "list nodes providing this service (ID or name)", NULL},
        {"near", CF_STR, &near, "sort by round trip time from this node", NULL},
        {"node-meta", CF_LIST, &meta, "key=value node metadata filter (repeatable)", NULL},
        {"filter", CF_STR, &filter, "filter expression", NULL},
        {"stale", CF_BOOL, &o.stale, "allow any server to answer", NULL},
        CLI_HTTP_FLAGS(&o),
        {0}};
    int i = cli_parse_flags("catalog nodes", flags, argc, argv), rc;
    if (i < 0) return i == -2 ? 0 : 1;
    if (argc - i > 0) {
        fprintf(stderr, "Too many arguments (expected 0, got %d)\n", argc - i);
        return 1;
    }
    struct cn_buf path;
    cn_buf_init(&path, CN_BUF_UNLIMITED);
    if (service) {
        cn_buf_puts(&path, "/v1/catalog/service/");
        char *e = cli_escape_path(service);
        cn_buf_puts(&path, e);
        free(e);
    } else {
        cn_buf_puts(&path, "/v1/catalog/nodes");
    }
    if (near) add_param(&path, "near", near);
    if (filter) add_param(&path, "filter", filter);
    add_node_meta(&path, &meta);
    struct cli_client *c = cli_client_new(&o);
    json_t *v = get_json(c, path.data, "Error listing nodes", &rc);
    cn_buf_release(&path);
    if (!rc && json_array_size(v) == 0) {
        fprintf(stderr, "No nodes match the given query - try expanding your search.\n");
    } else if (!rc) {
        struct table t = {.cols = detailed ? 6 : 4};
        const char *hd[] = {"Node", "ID", "Address", "DC", "TaggedAddresses", "Meta"};
        size_t k;
        json_t *n;
        table_add(&t, hd);
        json_array_foreach(v, k, n)
        {
            /* rows of catalog/service carry NodeMeta instead of Meta */
            json_t *m = json_object_get(n, service ? "NodeMeta" : "Meta");
            char id[64];
            snprintf(id, sizeof id, "%s", jstr(n, "ID"));
            if (!detailed) id[strcspn(id, "-")] = '\0';
            char *tags = map_kv(json_object_get(n, "TaggedAddresses")), *mkv = map_kv(m);
            const char *row[] = {jstr(n, "Node"), id, jstr(n, "Address"), jstr(n, "Datacenter"),
                                 tags, mkv};
            table_add(&t, row);
            free(tags);
            free(mkv);
        }
        table_print(&t, 2);
    }
    json_decref(v);
    cli_client_free(c);
    return rc;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int catalog_services(int argc, char **argv)
{
    struct cli_http_opts o = {0};
    bool tags = false;
    const char *node = NULL, *filter = NULL;
    struct cli_list meta = {0};
    const struct cli_flag flags[] = {
        {"tags", CF_BOOL, &tags, "show the tags of each service", NULL},
        {"node", CF_STR, &node, "list services registered on this node", NULL},
        {"node-meta", CF_LIST, &meta, "key=value node metadata filter (repeatable)", NULL},
        {"filter", CF_STR, &filter, "filter expression", NULL},
        {"stale", CF_BOOL, &o.stale, "allow any server to answer", NULL},
        CLI_HTTP_FLAGS(&o),
        {0}};
    int i = cli_parse_flags("catalog services", flags, argc, argv), rc;
    if (i < 0) return i == -2 ? 0 : 1;
    if (argc - i > 0) {
        fprintf(stderr, "Too many arguments (expected 0, got %d)\n", argc - i);
        return 1;
    }
    struct cn_buf path;
    cn_buf_init(&path, CN_BUF_UNLIMITED);
    if (node) {
        char *e = cli_escape_path(node);
        cn_buf_putf(&path, "/v1/catalog/node/%s", e);
        free(e);
    } else {
        cn_buf_puts(&path, "/v1/catalog/services");
    }
    if (filter) add_param(&path, "filter", filter);
    add_node_meta(&path, &meta);
    struct cli_client *c = cli_client_new(&o);
    json_t *v = get_json(c, path.data, node ? "Error listing services for node" : "Error listing services", &rc);
    cn_buf_release(&path);
    /* name -> tags; for a node, gathered from its services */
    json_t *services = NULL;
    if (!rc && node) {
        services = json_object();
        const char *id;
        json_t *s;
        json_object_foreach(json_object_get(v, "Services"), id, s)
        {
            const char *name = jstr(s, "Service");
            json_t *list = json_object_get(services, name);
            if (!list) json_object_set_new(services, name, list = json_array());
            json_array_extend(list, json_object_get(s, "Tags"));
        }
    } else if (!rc) {
        services = json_incref(v);
    }
    if (!rc && json_object_size(services) == 0) {
        fprintf(stderr, "No services match the given query - try expanding your search.\n");
    } else if (!rc) {
        size_t n = json_object_size(services), k = 0;
        const char **names = cn_calloc(n + 1, sizeof *names), *name;
        json_t *tl;
        json_object_foreach(services, name, tl) names[k++] = name;
        qsort(names, n, sizeof *names, str_cmp);
        struct table t = {.cols = 2};
        for (k = 0; k < n; k++) {
            if (!tags) {
                printf("%s\n", names[k]);
                continue;
            }
            json_t *list = json_object_get(services, names[k]);
            size_t nt = json_array_size(list), j;
            const char **tv = cn_calloc(nt + 1, sizeof *tv);
            json_t *x;
            json_array_foreach(list, j, x) tv[j] = json_string_value(x);
            qsort(tv, nt, sizeof *tv, str_cmp);
            struct cn_buf joined;
            cn_buf_init(&joined, CN_BUF_UNLIMITED);
            for (j = 0; j < nt; j++) cn_buf_putf(&joined, "%s%s", j ? "," : "", tv[j] ? tv[j] : "");
            const char *row[] = {names[k], joined.data ? joined.data : ""};
            table_add(&t, row);
            cn_buf_release(&joined);
            free(tv);
        }
        if (tags) table_print(&t, 6);
        free(names);
    }
    json_decref(services);
    json_decref(v);
    cli_client_free(c);
    return rc;
}

int cli_catalog(int argc, char **argv)
{
    static const char *usage =
        "Usage: cairn catalog <subcommand> [options] [args]\n\n"
        "  Interact with the catalog of nodes and services.\n\n"
        "Subcommands:\n"
        "    datacenters    Lists all known datacenters\n"
        "    nodes          Lists all nodes in the given datacenter\n"
        "    services       Lists all registered services in a datacenter\n";
    if (argc < 1) {
        fputs(usage, stderr);
        return 1;
    }
    if (!strcmp(argv[0], "datacenters")) return catalog_datacenters(argc - 1, argv + 1);
    if (!strcmp(argv[0], "nodes")) return catalog_nodes(argc - 1, argv + 1);
    if (!strcmp(argv[0], "services")) return catalog_services(argc - 1, argv + 1);
    if (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-help")) {
        fputs(usage, stdout);
        return 0;
    }
    fputs(usage, stderr);
    return 1;
}
