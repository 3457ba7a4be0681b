/* cluster.c - `cairn members|join|leave|force-leave|operator|reload|keygen|info`. */
#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/cn_base64.h"
#include "lib/cn_common.h"
#include "lib/cn_json.h"
#include "lib/cn_rand.h"

int cli_members(int argc, char **argv);
int cli_join(int argc, char **argv);
int cli_leave(int argc, char **argv);
int cli_force_leave(int argc, char **argv);
int cli_operator(int argc, char **argv);
int cli_reload(int argc, char **argv);
int cli_keygen(int argc, char **argv);
int cli_info(int argc, char **argv);

static void api_error(const char *what, const struct cli_resp *r)
{
    fprintf(stderr, "%s: Unexpected response code: %ld (%.*s)\n", what, r->status,
            (int)r->body.len, r->body.data ? r->body.data : "");
}

/* GET path and parse the JSON answer; NULL after printing the error. */
static json_t *get_json(struct cli_client *c, const char *path, const char *what)
{
    struct cli_resp r;
    struct cn_err err;
    if (cli_http(c, "GET", path, NULL, 0, &r, what)) return NULL;
    if (r.status != 200) {
        api_error(what, &r);
        cli_resp_release(&r);
        return NULL;
    }
    json_t *v = cn_json_parse(r.body.data ? r.body.data : "", r.body.len, &err);
    if (!v) fprintf(stderr, "%s: bad answer: %s\n", what, err.msg);
    cli_resp_release(&r);
    return v;
}

/* columnize with two spaces of glue, as Consul's CLI prints tables. */
struct table {
    char **cells;
    size_t ncols, nrows, cap;
};

static void table_add(struct table *t, const char *const *row)
{
    if (t->nrows == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->cells = cn_realloc(t->cells, t->cap * t->ncols * sizeof *t->cells);
    }
    for (size_t i = 0; i < t->ncols; i++) t->cells[t->nrows * t->ncols + i] = cn_strdup(row[i] ? row[i] : "");
    t->nrows++;
}

static void table_print(struct table *t)
{
    size_t w[16] = {0};
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) w[c] = CN_MAX(w[c], strlen(t->cells[r * t->ncols + c]));
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            if (c + 1 < t->ncols)
                printf("%-*s  ", (int)w[c], cell);
            else
                printf("%s", cell);
            free((void *)cell);
        }
        printf("\n");
    }
    free(t->cells);
}

static const char *tag(json_t *m, const char *k)
{
    json_t *v = json_object_get(json_object_get(m, "Tags"), k);
    return json_is_string(v) ? json_string_value(v) : "";
}

static const char *status_name(json_int_t s)
{
    switch (s) {
    case 1: return "alive";
    case 2: return "leaving";
    case 3: return "left";
    case 4: return "failed";
    default: return "none";
    }
}

static int cmp_members(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    bool sx = !strcmp(tag(x, "role"), "consul"), sy = !strcmp(tag(y, "role"), "consul");
    if (sx != sy) return sx ? -1 : 1;
    return strcmp(json_string_value(json_object_get(x, "Name")),
                  json_string_value(json_object_get(y, "Name")));
}

int cli_members(int argc, char **argv)
{
    struct cli_http_opts o = {0};
    bool detailed = false, wan = false;
    const char *status = ".*", *segment = NULL;
    const struct cli_flag flags[] = {
        {"detailed", CF_BOOL, &detailed, "show all tags", NULL},
        {"wan", CF_BOOL, &wan, "list the WAN pool", NULL},
        {"status", CF_STR, &status, "regular expression on the member status", NULL},
        {"segment", CF_STR, &segment, "segment (accepted)", NULL},
        CLI_HTTP_FLAGS(&o),
        {0}};
    int i = cli_parse_flags("members", flags, argc, argv);
    if (i < 0) return i == -2 ? 0 : 1;
    regex_t re;
    if (regcomp(&re, status, REG_EXTENDED | REG_NOSUB)) {
        fprintf(stderr, "Failed to compile status regexp %s\n", status);
        return 1;
    }
    struct cli_client *c = cli_client_new(&o);
    json_t *arr = get_json(c, wan ? "/v1/agent/members?wan=1" : "/v1/agent/members",
                           "Error retrieving members");
    cli_client_free(c);
    if (!arr) {
        regfree(&re);
        return 1;
    }
    size_t n = json_array_size(arr), k = 0;
    json_t **ms = cn_calloc(n + 1, sizeof *ms);
    for (size_t j = 0; j < n; j++) {
        json_t *m = json_array_get(arr, j);
        if (!regexec(&re, status_name(json_integer_value(json_object_get(m, "Status"))), 0, NULL, 0))
            ms[k++] = m;
    }
    qsort(ms, k, sizeof *ms, cmp_members);
    struct table t = {.ncols = detailed ? 4 : 9};
    if (detailed) {
        const char *head[] = {"Node", "Address", "Status", "Tags"};
        table_add(&t, head);
    } else {
        const char *head[] = {"Node", "Address", "Status", "Type", "Build", "Protocol", "DC",
                              "Partition", "Segment"};
        table_add(&t, head);
    }
    for (size_t j = 0; j < k; j++) {
        json_t *m = ms[j];
        char addr[96], build[64];
        snprintf(addr, sizeof addr, "%s:%lld", json_string_value(json_object_get(m, "Addr")),
                 (long long)json_integer_value(json_object_get(m, "Port")));
        const char *st = status_name(json_integer_value(json_object_get(m, "Status")));
        if (detailed) {
            char tags[2048] = "";
            const char *key;
            json_t *v;
            size_t used = 0;
            json_object_foreach(json_object_get(m, "Tags"), key, v)
            {
                used += (size_t)snprintf(tags + used, sizeof tags - CN_MIN(used, sizeof tags), "%s%s=%s",
                                         used ? "," : "", key, json_string_value(v));
                if (used >= sizeof tags) break;
            }
            const char *row[] = {json_string_value(json_object_get(m, "Name")), addr, st, tags};
            table_add(&t, row);
        } else {
            snprintf(build, sizeof build, "%s", tag(m, "build"));
            char *colon = strchr(build, ':');
            if (colon) *colon = '\0';
            const char *row[] = {json_string_value(json_object_get(m, "Name")), addr, st,
                                 !strcmp(tag(m, "role"), "consul") ? "server" : "client", build,
                                 tag(m, "vsn"), tag(m, "dc"), "default", tag(m, "segment")};
            table_add(&t, row);
        }
    }
    table_print(&t);
    free(ms);
    json_decref(arr);
    regfree(&re);
    return k ? 0 : 2;
}

int cli_join(int argc, char **argv)
{
    struct cli_http_opts o = {0};
    bool wan = false;
    const struct cli_flag flags[] = {{"wan", CF_BOOL, &wan, "join the WAN pool", NULL},
                                     CLI_HTTP_FLAGS(&o), {0}};
    int i = cli_parse_flags("join", flags, argc, argv);
    if (i < 0) return i == -2 ? 0 : 1;
    if (i >= argc) {
        fprintf(stderr, "At least one address to join must be specified.\n");
        return 1;
    }
    struct cli_client *c = cli_client_new(&o);
    int joined = 0;
    for (; i < argc; i++) {
        struct cli_resp r;
        char *e = cli_escape_path(argv[i]), path[1024];
        snprintf(path, sizeof path, "/v1/agent/join/%s%s", e, wan ? "?wan=1" : "");
        free(e);
        if (cli_http(c, "PUT", path, NULL, 0, &r, "Error joining address") == 0) {
            if (r.status == 200)
                joined++;
            else
                fprintf(stderr, "Error joining address '%s': %.*s\n", argv[i], (int)r.body.len,
                        r.body.data ? r.body.data : "");
            cli_resp_release(&r);
        }
    }
    cli_client_free(c);
    if (!joined) {
        fprintf(stderr, "Failed to join any nodes.\n");
        return 1;
    }
    printf("Successfully joined cluster by contacting %d nodes.\n", joined);
    return 0;
}

/* PUT a path, expect 200; print ok on success. */
static int simple_put(int argc, char **argv, const char *cmd, const char *method, const char *path,
                      const char *ok, const char *what)
{
    struct cli_http_opts o = {0};
    const struct cli_flag flags[] = {CLI_HTTP_FLAGS(&o), {0}};
    int i = cli_parse_flags(cmd, flags, argc, argv), rc = 1;
    if (i < 0) return i == -2 ? 0 : 1;
    struct cli_client *c = cli_client_new(&o);
    struct cli_resp r;
    if (cli_http(c, method, path, NULL, 0, &r, what) == 0) {
        if (r.status == 200) {
            if (ok) printf("%s\n", ok);
            rc = 0;
        } else {
            api_error(what, &r);
        }
        cli_resp_release(&r);
    }
    cli_client_free(c);
    return rc;
}

int cli_leave(int argc, char **argv)
{
    return simple_put(argc, argv, "leave", "PUT", "/v1/agent/leave", "Graceful leave complete",
                      "Error leaving");
}

int cli_reload(int argc, char **argv)
{
    return simple_put(argc, argv, "reload", "PUT", "/v1/agent/reload",
                      "Configuration reload triggered", "Error reloading");
}

int cli_force_leave(int argc, char **argv)
{
    struct cli_http_opts o = {0};
    bool prune = false, wan = false;
    const struct cli_flag flags[] = {{"prune", CF_BOOL, &prune, "remove from the member list", NULL},
                                     {"wan", CF_BOOL, &wan, "the WAN pool", NULL},
                                     CLI_HTTP_FLAGS(&o), {0}};
    int i = cli_parse_flags("force-leave", flags, argc, argv), rc = 1;
    if (i < 0) return i == -2 ? 0 : 1;
    if (argc - i != 1) {
        fprintf(stderr, "A single node name must be specified to force leave.\n");
        return 1;
    }
    struct cli_client *c = cli_client_new(&o);
    struct cli_resp r;
    char *e = cli_escape_path(argv[i]), path[1024];
    snprintf(path, sizeof path, "/v1/agent/force-leave/%s%s%s", e, prune ? "?prune=1" : "",
             wan ? (prune ? "&wan=1" : "?wan=1") : "");
    free(e);
    if (cli_http(c, "PUT", path, NULL, 0, &r, "Error force leaving") == 0) {
        if (r.status == 200)
            rc = 0;
        else
            fprintf(stderr, "Error force leaving: %.*s\n", (int)r.body.len, r.body.data ? r.body.data : "");
        cli_resp_release(&r);
    }
    cli_client_free(c);
    return rc;
}

static int raft_list_peers(int argc, char **argv)
{
    struct cli_http_opts o = {0};
    const struct cli_flag flags[] = {{"stale", CF_BOOL, &o.stale, "allow any server", NULL},
                                     CLI_HTTP_FLAGS(&o), {0}};
    int i = cli_parse_flags("operator raft list-peers", flags, argc, argv);
    if (i < 0) return i == -2 ? 0 : 1;
    struct cli_client *c = cli_client_new(&o);
    json_t *v = get_json(c, "/v1/operator/raft/configuration", "Failed to retrieve raft configuration");
    cli_client_free(c);
    if (!v) return 1;
    struct table t = {.ncols = 6};
    const char *head[] = {"Node", "ID", "Address", "State", "Voter", "RaftProtocol"};
    table_add(&t, head);
    json_t *s;
    size_t k;
    json_array_foreach(json_object_get(v, "Servers"), k, s)
    {
        const char *row[] = {json_string_value(json_object_get(s, "Node")),
                             json_string_value(json_object_get(s, "ID")),
                             json_string_value(json_object_get(s, "Address")),
                             json_is_true(json_object_get(s, "Leader")) ? "leader" : "follower",
                             json_is_true(json_object_get(s, "Voter")) ? "true" : "false",
                             json_string_value(json_object_get(s, "ProtocolVersion"))};
        table_add(&t, row);
    }
    table_print(&t);
    json_decref(v);
    return 0;
}

static int raft_remove_peer(int argc, char **argv)
{
    struct cli_http_opts o = {0};
    const char *address = NULL, *id = NULL;
    const struct cli_flag flags[] = {{"address", CF_STR, &address, "ip:port of the peer", NULL},
                                     {"id", CF_STR, &id, "ID of the peer", NULL},
                                     CLI_HTTP_FLAGS(&o), {0}};
    int i = cli_parse_flags("operator raft remove-peer", flags, argc, argv), rc = 1;
    if (i < 0) return i == -2 ? 0 : 1;
    if (!!address == !!id) {
        fprintf(stderr, "Exactly one of -address and -id must be given\n");
        return 1;
    }
    struct cli_client *c = cli_client_new(&o);
    struct cli_resp r;
    char *e = cli_escape_path(address ? address : id), path[1024];
    snprintf(path, sizeof path, "/v1/operator/raft/peer?%s=%s", address ? "address" : "id", e);
    free(e);
    if (cli_http(c, "DELETE", path, NULL, 0, &r, "Error removing peer") == 0) {
        if (r.status == 200) {
            printf("Removed peer with %s \"%s\"\n", address ? "address" : "id", address ? address : id);
            rc = 0;
        } else {
            fprintf(stderr, "Error removing peer: %.*s\n", (int)r.body.len, r.body.data ? r.body.data : "");
        }
        cli_resp_release(&r);
    }
    cli_client_free(c);
    return rc;
}

int cli_operator(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[0], "raft")) {
        if (!strcmp(argv[1], "list-peers")) return raft_list_peers(argc - 2, argv + 2);
        if (!strcmp(argv[1], "remove-peer")) return raft_remove_peer(argc - 2, argv + 2);
    }
    fprintf(stderr, "Usage: cairn operator raft <list-peers|remove-peer> [options]\n");
    return 1;
}

int cli_keygen(int argc, char **argv)
{
    unsigned char key[32];
    char out[64];
    (void)argc;
    (void)argv;
    cn_rand_os_bytes(key, sizeof key);
    cn_base64_encode(key, sizeof key, out);
    out[cn_base64_encoded_len(sizeof key)] = '\0';
    printf("%s\n", out);
    return 0;
}

int cli_info(int argc, char **argv)
{
    struct cli_http_opts o = {0};
    const struct cli_flag flags[] = {CLI_HTTP_FLAGS(&o), {0}};
    int i = cli_parse_flags("info", flags, argc, argv);
    if (i < 0) return i == -2 ? 0 : 1;
    struct cli_client *c = cli_client_new(&o);
    json_t *v = get_json(c, "/v1/agent/self", "Error querying agent");
    cli_client_free(c);
    if (!v) return 1;
    const char *sec;
    json_t *kv;
    json_object_foreach(json_object_get(v, "Stats"), sec, kv)
    {
        printf("%s:\n", sec);
        const char *k;
        json_t *val;
        json_object_foreach(kv, k, val) printf("\t%s = %s\n", k, json_is_string(val) ? json_string_value(val) : "");
    }
    json_decref(v);
    return 0;
}
