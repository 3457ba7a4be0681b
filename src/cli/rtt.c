/*
 * rtt.c - `cairn rtt [-wan] node1 [node2]`: the round trip between two
 * nodes estimated from their network coordinates (Consul's command/rtt).
 *
 * LAN: both nodes' rows from /v1/coordinate/nodes (names as given, exact),
 * compared in a common segment; the second node defaults to the agent's.
 * WAN: "node.dc" names looked up in /v1/coordinate/datacenters, compared
 * only within one area; the second defaults to the agent's own server.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/cn_common.h"
#include "lib/cn_json.h"
#include "state/state.h"

int cli_rtt(int argc, char **argv);

#define SYNOPSIS "rtt [options] node1 [node2]"

static void api_error(const char *what, const struct cli_resp *r)
{
    fprintf(stderr, "%s: Unexpected response code: %ld (%.*s)\n", what, r->status, (int)r->body.len,
            r->body.data ? r->body.data : "");
}

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
    if (!v) fprintf(stderr, "%s: %s\n", what, err.msg);
    cli_resp_release(&r);
    return v;
}

static const char *str_of(json_t *obj, const char *k)
{
    json_t *v = json_object_get(obj, k);
    return json_is_string(v) ? json_string_value(v) : "";
}

/* A Coord object; false when it is not one (null, missing). */
static bool parse_coord(json_t *o, struct state_coord *c)
{
    json_t *vec = json_object_get(o, "Vec");
    memset(c, 0, sizeof *c);
    if (!json_is_object(o) || !json_is_array(vec) || json_array_size(vec) != STATE_COORD_DIM)
        return false;
    for (size_t i = 0; i < STATE_COORD_DIM; i++)
        c->vec[i] = json_number_value(json_array_get(vec, i));
    c->error = json_number_value(json_object_get(o, "Error"));
    c->adjustment = json_number_value(json_object_get(o, "Adjustment"));
    c->height = json_number_value(json_object_get(o, "Height"));
    return true;
}

/* ---- the agent's own names ---------------------------------------------------------- */

/* "NodeName", or "NodeName.Datacenter" for -wan (Consul reads agent/self). */
static char *agent_name(struct cli_client *c, bool with_dc)
{
    json_t *self = get_json(c, "/v1/agent/self", "Unable to look up agent info");
    if (!self) return NULL;
    json_t *cfg = json_object_get(self, "Config");
    const char *node = str_of(cfg, "NodeName"), *dc = str_of(cfg, "Datacenter");
    size_t n = strlen(node) + strlen(dc) + 2;
    char *out = cn_malloc(n);
    snprintf(out, n, with_dc ? "%s.%s" : "%s", node, dc);
    json_decref(self);
    return out;
}

/* ---- LAN ------------------------------------------------------------------------------ */

/* A node's coordinates by segment, as lib.CoordinateSet. */
#define SEGS_MAX 16
struct cset {
    const char *seg[SEGS_MAX];
    struct state_coord c[SEGS_MAX];
    size_t n;
};

static void cset_put(struct cset *s, const char *seg, const struct state_coord *c)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->seg[i], seg)) {
            s->c[i] = *c;
            return;
        }
    if (s->n == SEGS_MAX) return;
    s->seg[s->n] = seg;
    s->c[s->n++] = *c;
}

static const struct state_coord *cset_get(const struct cset *s, const char *seg)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->seg[i], seg)) return &s->c[i];
    return NULL;
}

/* lib.CoordinateSet.Intersect: "" unless one side has a single segment. */
static void intersect(const struct cset *a, const struct cset *b, const struct state_coord **ca,
                      const struct state_coord **cb)
{
    const char *seg = "";
    if (a->n == 1) seg = a->seg[0];
    if (b->n == 1) seg = b->seg[0];
    *ca = cset_get(a, seg);
    *cb = cset_get(b, seg);
}

static int lan_coords(struct cli_client *c, char *const nodes[2], struct state_coord out[2],
                      bool found[2], json_t **keep)
{
    struct cset s1 = {0}, s2 = {0};
    json_t *v = get_json(c, "/v1/coordinate/nodes", "Error getting coordinates"), *e;
    size_t i;
    if (!v) return -1;
    json_array_foreach(v, i, e)
    {
        struct state_coord co;
        if (!parse_coord(json_object_get(e, "Coord"), &co)) continue;
        const char *n = str_of(e, "Node"), *seg = str_of(e, "Segment");
        if (!strcmp(n, nodes[0])) cset_put(&s1, seg, &co);
        if (!strcmp(n, nodes[1])) cset_put(&s2, seg, &co);
    }
    const struct state_coord *a, *b;
    intersect(&s1, &s2, &a, &b);
    found[0] = a != NULL;
    found[1] = b != NULL;
    if (a) out[0] = *a;
    if (b) out[1] = *b;
    *keep = v; /* segment names point into it */
    return 0;
}

/* ---- WAN ------------------------------------------------------------------------------ */

/* "node.dc": exactly one dot, as Consul's strings.Split check. */
static bool split_wan(const char *name, char *node, char *dc, size_t cap)
{
    const char *dot = strchr(name, '.');
    if (!dot || strchr(dot + 1, '.') || (size_t)(dot - name) >= cap || strlen(dot + 1) >= cap)
        return false;
    snprintf(node, cap, "%.*s", (int)(dot - name), name);
    snprintf(dc, cap, "%s", dot + 1);
    return true;
}

static int wan_coords(struct cli_client *c, char *const nodes[2], struct state_coord out[2],
                      bool found[2])
{
    char n1[256], d1[256], n2[256], d2[256];
    if (!split_wan(nodes[0], n1, d1, sizeof n1) || !split_wan(nodes[1], n2, d2, sizeof n2)) {
        fprintf(stderr, "Node names must be specified as <node name>.<datacenter> with -wan\n");
        return -1;
    }
    json_t *dcs = get_json(c, "/v1/coordinate/datacenters", "Error getting coordinates"), *dc, *e;
    size_t i, j;
    const char *area1 = "", *area2 = "";
    if (!dcs) return -1;
    found[0] = found[1] = false;
    json_array_foreach(dcs, i, dc)
    {
        json_array_foreach(json_object_get(dc, "Coordinates"), j, e)
        {
            const char *name = str_of(dc, "Datacenter"), *node = str_of(e, "Node");
            if (!strcmp(name, d1) && !strcmp(node, n1)) {
                area1 = str_of(dc, "AreaID");
                found[0] = parse_coord(json_object_get(e, "Coord"), &out[0]);
            }
            if (!strcmp(name, d2) && !strcmp(node, n2)) {
                area2 = str_of(dc, "AreaID");
                found[1] = parse_coord(json_object_get(e, "Coord"), &out[1]);
            }
            if (!strcmp(area1, area2) && found[0] && found[1]) goto done;
        }
    }
    /* Not both in one area: nothing comparable (Consul shows no cross-area RTT). */
    found[0] = found[1] = false;
done:
    json_decref(dcs);
    return 0;
}

/* ---- the command ------------------------------------------------------------------------ */

/* Go's %q for the plain names node names are. */
static void print_quoted_error(const char *name)
{
    fprintf(stderr, "Could not find a coordinate for node \"");
    for (const char *p = name; *p; p++) {
        if (*p == '"' || *p == '\\') fputc('\\', stderr);
        fputc(*p, stderr);
    }
    fprintf(stderr, "\"\n");
}

/* coord.DistanceTo is a time.Duration (whole nanoseconds); Seconds() then
 * splits it the way Go does before printing milliseconds. */
static double go_seconds(double s)
{
    long long ns = (long long)(s * 1e9);
    return (double)(ns / 1000000000LL) + (double)(ns % 1000000000LL) / 1e9;
}

int cli_rtt(int argc, char **argv)
{
    struct cli_http_opts o = {0};
    bool wan = false;
    const struct cli_flag flags[] = {
        {"wan", CF_BOOL, &wan, "Use WAN coordinates instead of LAN coordinates.", NULL},
        CLI_HTTP_FLAGS(&o),
        {0}};
    int i = cli_parse_flags("rtt", flags, argc, argv);
    if (i < 0) return i == -2 ? 0 : 1;
    int nargs = argc - i;
    if (nargs < 1 || nargs > 2) {
        fprintf(stderr, "One or two node names must be specified\n\n");
        cli_print_usage("rtt", SYNOPSIS, flags);
        return 1;
    }
    struct cli_client *c = cli_client_new(&o);
    if (!c) return 1;
    char *nodes[2] = {cn_strdup(argv[i]), nargs == 2 ? cn_strdup(argv[i + 1]) : NULL};
    struct state_coord co[2];
    bool found[2] = {false, false};
    json_t *keep = NULL;
    int rc = 1;
    if (!nodes[1] && !(nodes[1] = agent_name(c, wan))) goto out;
    if ((wan ? wan_coords(c, nodes, co, found) : lan_coords(c, nodes, co, found, &keep))) goto out;
    if (!found[0] || !found[1]) {
        print_quoted_error(nodes[found[0] ? 1 : 0]);
        goto out;
    }
    printf("Estimated %s <-> %s rtt: %.3f ms (using %s coordinates)\n", nodes[0], nodes[1],
           go_seconds(state_coord_distance(&co[0], &co[1])) * 1000.0, wan ? "WAN" : "LAN");
    rc = 0;
out:
    json_decref(keep);
    free(nodes[0]);
    free(nodes[1]);
    cli_client_free(c);
    return rc;
}
