/*
 * coordinate.c - the /v1/coordinate endpoints (Consul's agent/
 * coordinate_endpoint.go) and what the receiving agent settles before a
 * request is routed: ?near=_agent names it, and disable_coordinates makes
 * it refuse the coordinate endpoints itself, as Consul's HTTP layer does
 * before any RPC.
 */
#include <string.h>

#include "agent/agent.h"
#include "agent/cluster.h"
#include "agent/coord_sync.h"
#include "http/catalog_int.h"
#include "lib/cn_common.h"
#include "lib/cn_json.h"
#include "lib/cn_limits.h"
#include "rpc/rpc_coordinate.h"

bool http__pre_route_coordinate(struct http_req *r);
void http__resolve_near_agent(struct http_req *r, const char *node);

static bool coordinates_disabled(const struct http_req *r)
{
    return r->env->agent &&
           agent_config_bool(agent_cfg(r->env->agent), "disable_coordinates", false);
}

/* ---- before routing ---------------------------------------------------------------- */

static void query_escape(struct cn_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            cn_buf_putc(b, (char)c);
        } else {
            cn_buf_putc(b, '%');
            cn_buf_putc(b, hex[c >> 4]);
            cn_buf_putc(b, hex[c & 15]);
        }
    }
}

/* Does this raw "k=v" pair decode to near=_agent? */
static bool is_near_agent(struct cn_str part)
{
    char k[8], v[16];
    long eq = cn_str_index(part, '=', 0);
    if (eq < 0 || (size_t)eq >= sizeof k || part.len - (size_t)eq - 1 >= sizeof v) return false;
    long kn = cn_url_decode(cn_str_sub(part, 0, (size_t)eq), k, true);
    long vn = cn_url_decode(cn_str_sub(part, (size_t)eq + 1, SIZE_MAX), v, true);
    return kn == 4 && vn == 6 && !memcmp(k, "near", 4) && !memcmp(v, "_agent", 6);
}

/* Consul's parseSource: near=_agent means the agent the client asked. The
 * name goes into the parameters and the raw target, which is what a
 * forwarded request carries, so the server that answers sorts from here.
 * (Exported for the HTTP fuzzer, which feeds it raw queries.) */
void http__resolve_near_agent(struct http_req *r, const char *node)
{
    struct cn_str q = cn_str_from(r->raw_query), part;
    struct cn_buf b;
    bool changed = false;
    for (size_t i = 0; i < r->nparams; i++) {
        if (strcmp(r->params[i].key, "near") || strcmp(r->params[i].value, "_agent")) continue;
        r->params[i].value = cn_arena_strdup(&r->arena, node);
        changed = true;
    }
    if (!changed) return;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    while (q.len) {
        cn_str_cut(&q, '&', &part);
        if (b.len) cn_buf_putc(&b, '&');
        if (is_near_agent(part)) {
            cn_buf_puts(&b, "near=");
            query_escape(&b, node);
        } else {
            cn_buf_put(&b, part.p, part.len);
        }
    }
    const char *qm = strchr(r->raw_url, '?');
    size_t plen = qm ? (size_t)(qm - r->raw_url) : strlen(r->raw_url);
    r->raw_query = cn_arena_strndup(&r->arena, b.data ? b.data : "", b.len);
    r->raw_url = cn_arena_printf(&r->arena, "%.*s?%s", (int)plen, r->raw_url, r->raw_query);
    cn_buf_release(&b);
}

/* Called by the router for requests a client sent to this agent (not for
 * ones forwarded to it). True when it answered. */
bool http__pre_route_coordinate(struct http_req *r)
{
    if (!strncmp(r->path, "/v1/coordinate/", 15) && coordinates_disabled(r)) {
        http_reply_text(r, 401, "Coordinate support disabled");
        return true;
    }
    const char *near = http_param(r, "near");
    if (near && !strcmp(near, "_agent") && r->env->agent)
        http__resolve_near_agent(r, agent_cfg(r->env->agent)->node_name);
    return false;
}

/* ---- reads -------------------------------------------------------------------------- */

static void coord_done(struct rpc_query *q, int rc)
{
    struct http_req *r = q->arg;
    const struct rpc_coord_req *req = q->req;
    const struct rpc_coord_resp *o = q->resp;
    /* ?segment filters on this side (Consul's filterCoordinates) */
    const char *seg = http_param(r, "segment");
    struct cn_jw w;
    size_t shown = 0;
    if (!rc)
        for (size_t i = 0; i < o->n; i++)
            shown += !seg || !strcmp(o->rows[i].segment, seg);
    if (!rc && req->op == RPC_COORD_NODE && !shown) {
        /* Consul writes the 404 before its deferred index headers */
        http_reply_empty(r, 404);
        http_read_finish(q, NULL);
        return;
    }
    http_read_headers(r, q);
    if (rc) {
        http_reply_error(r, rc, q->err.msg);
        http_read_finish(q, NULL);
        return;
    }
    http_json_begin(r, &w);
    cn_jw_arr_begin(&w);
    for (size_t i = 0; i < o->n; i++)
        if (!seg || !strcmp(o->rows[i].segment, seg))
            rpc_json_coordinate(&w, o->rows[i].node, o->rows[i].segment, &o->rows[i].coord);
    cn_jw_arr_end(&w);
    http_reply_json(r, 200, &w);
    http_read_finish(q, NULL);
}

static void coord_read(struct http_req *r, enum rpc_coord_read op)
{
    struct rpc_query_opts opts;
    struct rpc_coord_req *req = CN_ARENA_NEW(&r->arena, struct rpc_coord_req);
    if (coordinates_disabled(r)) {
        http_reply_text(r, 401, "Coordinate support disabled");
        return;
    }
    if (!http_parse_query_opts(r, &opts)) return;
    req->op = op;
    req->node = cn_str_from(r->suffix);
    http_read_start(r, &opts, rpc_coordinate_run, coord_done, req, NULL);
}

static void http_coordinate_nodes(struct http_req *r)
{
    coord_read(r, RPC_COORD_NODES);
}

static void http_coordinate_node(struct http_req *r)
{
    coord_read(r, RPC_COORD_NODE);
}

/* ---- datacenters -------------------------------------------------------------------- */

struct wan_entry {
    const char *dc, *node;
    bool local; /* this datacenter: listed first */
    struct state_coord coord;
};

struct wan_list {
    struct http_req *r;
    struct cluster *cl;
    struct wan_entry *v;
    size_t n, cap;
};

static void add_entry(struct wan_list *l, const char *dc, const char *node,
                      const struct gossip_coord *gc)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct wan_entry *v = CN_ARENA_ARRAY(&l->r->arena, struct wan_entry, cap);
        if (l->n) memcpy(v, l->v, l->n * sizeof *v);
        l->v = v;
        l->cap = cap;
    }
    struct wan_entry *e = &l->v[l->n++];
    e->dc = cn_arena_strdup(&l->r->arena, dc);
    e->local = !strcmp(dc, http_datacenter(l->r));
    e->node = cn_arena_strdup(&l->r->arena, node);
    agent_coord_from_gossip(gc, &e->coord);
}

/* Consul's GetDatacenterMaps: servers of the WAN pool that have not left
 * and whose coordinate is known (ours included), named without ".dc". */
static void visit_wan(void *ctx, const struct gossip_member *m)
{
    struct wan_list *l = ctx;
    const char *role = gossip_member_tag(m, "role"), *dc = gossip_member_tag(m, "dc");
    struct gossip_coord gc;
    if (!role || strcmp(role, "consul") || !dc || m->status == GOSSIP_STATUS_LEFT) return;
    if (!cluster_coord_get(l->cl, true, m->name, &gc)) return;
    size_t nl = strlen(m->name), dl = strlen(dc);
    char *node = cn_arena_strdup(&l->r->arena, m->name);
    if (nl > dl + 1 && node[nl - dl - 1] == '.' && !strcmp(node + nl - dl, dc))
        node[nl - dl - 1] = 0;
    add_entry(l, dc, node, &gc);
}

/* This datacenter first, then the others by name; nodes by name within
 * (Consul's order is Go's map order: any order is as compatible). */
static int entry_cmp(const void *a, const void *b)
{
    const struct wan_entry *x = a, *y = b;
    if (x->local != y->local) return x->local ? -1 : 1;
    int c = strcmp(x->dc, y->dc);
    return c ? c : strcmp(x->node, y->node);
}

static void write_dcs(struct http_req *r, struct wan_entry *v, size_t n)
{
    struct cn_jw w;
    if (n > 1) qsort(v, n, sizeof *v, entry_cmp);
    http_json_begin(r, &w);
    cn_jw_arr_begin(&w);
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(v[i].dc, v[i - 1].dc)) {
            if (i) {
                cn_jw_arr_end(&w);
                cn_jw_obj_end(&w);
            }
            cn_jw_obj_begin(&w);
            cn_jw_key_str(&w, "Datacenter", v[i].dc);
            cn_jw_key_str(&w, "AreaID", "wan"); /* types.AreaWAN, lowercase on the wire */
            cn_jw_key(&w, "Coordinates");
            cn_jw_arr_begin(&w);
        }
        rpc_json_coordinate(&w, v[i].node, "", &v[i].coord);
    }
    if (n) {
        cn_jw_arr_end(&w);
        cn_jw_obj_end(&w);
    }
    cn_jw_arr_end(&w);
    http_reply_json(r, 200, &w);
}

static void http_coordinate_datacenters(struct http_req *r)
{
    struct agent *a = r->env->agent;
    struct wan_list l = {.r = r, .cl = a ? agent_cluster(a) : NULL};
    struct gossip_coord self;
    if (coordinates_disabled(r)) {
        http_reply_text(r, 401, "Coordinate support disabled");
        return;
    }
    if (l.cl && cluster_coord_self(l.cl, true, &self)) {
        cluster_members(l.cl, true, visit_wan, &l);
    } else if (a && agent_cfg(a)->server) {
        /* No WAN pool (-dev): Consul's -dev server is alone in its WAN pool,
         * at the coordinate a new one starts from. */
        struct gossip_coord origin = {.error = 1.5, .height = 10.0e-6};
        add_entry(&l, http_datacenter(r), agent_cfg(a)->node_name, &origin);
    }
    write_dcs(r, l.v, l.n);
}

/* ---- update ----------------------------------------------------------------------------- */

static int type_err(struct cn_err *err, const json_t *v, const char *field, const char *want)
{
    return cn_err_set(err, CN_EINVAL,
                      "json: cannot unmarshal %s into Go struct field %s of type %s",
                      cn_json_type_name(v), field, want);
}

/* Coord: Go decodes into a *coordinate.Coordinate; *dim gets len(Vec). */
static int decode_coord(const json_t *c, struct state_coord *out, size_t *dim, struct cn_err *err)
{
    static const char *const known[] = {"Vec", "Error", "Adjustment", "Height", NULL};
    static const char *const scalars[] = {"Error", "Adjustment", "Height"};
    double *dst[] = {&out->error, &out->adjustment, &out->height};
    int rc = cn_json_check_fields(c, known, err);
    if (rc) return rc;
    json_t *vec = cn_json_get(c, "Vec"), *x;
    size_t i;
    *dim = 0;
    if (vec && !json_is_null(vec)) {
        if (!json_is_array(vec)) return type_err(err, vec, "Coordinate.Coord.Vec", "[]float64");
        json_array_foreach(vec, i, x)
        {
            if (!json_is_number(x)) return type_err(err, x, "Coordinate.Coord.Vec", "float64");
            if (i < STATE_COORD_DIM) out->vec[i] = json_number_value(x);
        }
        *dim = json_array_size(vec);
    }
    for (i = 0; i < 3; i++) {
        json_t *v = cn_json_get(c, scalars[i]);
        if (!v || json_is_null(v)) continue;
        char field[64];
        snprintf(field, sizeof field, "Coordinate.Coord.%s", scalars[i]);
        if (!json_is_number(v)) return type_err(err, v, field, "float64");
        *dst[i] = json_number_value(v);
    }
    return 0;
}

/* CoordinateUpdateRequest: Datacenter, Node, Segment, Coord and the
 * embedded WriteRequest's Token (accepted, then replaced by the request's
 * token as Consul's parseToken does). *has_coord is false for a missing or
 * null Coord, which Consul dereferences and crashes on. */
static int decode_update(const json_t *body, struct state_coordinate *u, const char **dc,
                         size_t *dim, bool *has_coord, struct cn_err *err)
{
    static const char *const known[] = {"Datacenter", "Node", "Segment", "Coord", "Token", NULL};
    static const char *const strs[] = {"Datacenter", "Node", "Segment", "Token"};
    const char *vals[4] = {"", "", "", ""};
    *has_coord = false;
    *dc = "";
    u->node = u->segment = "";
    if (json_is_null(body)) return 0; /* Go decodes null into the zero request */
    if (!json_is_object(body))
        return cn_err_set(err, CN_EINVAL,
                          "json: cannot unmarshal %s into Go value of type "
                          "structs.CoordinateUpdateRequest",
                          cn_json_type_name(body));
    int rc = cn_json_check_fields(body, known, err);
    for (int i = 0; i < 4 && rc == 0; i++) {
        json_t *v = cn_json_get(body, strs[i]);
        char field[64];
        snprintf(field, sizeof field, "CoordinateUpdateRequest.%s", strs[i]);
        if (v && !json_is_null(v) && !json_is_string(v))
            rc = type_err(err, v, field, "string");
        else if (v && json_is_string(v))
            vals[i] = json_string_value(v);
    }
    if (rc) return rc;
    *dc = vals[0];
    u->node = (char *)vals[1];
    u->segment = (char *)vals[2];
    json_t *c = cn_json_get(body, "Coord");
    if (!c || json_is_null(c)) return 0;
    if (!json_is_object(c))
        return type_err(err, c, "CoordinateUpdateRequest.Coord", "coordinate.Coordinate");
    *has_coord = true;
    return decode_coord(c, &u->coord, dim, err);
}

static void update_done(void *arg, int rc, const struct rpc_result *res)
{
    struct http_req *r = arg;
    if (rc == CN_EPERM || rc == CN_ENOLEADER || rc == CN_ENOPATH || rc == CN_ENOSERVERS)
        http_reply_error(r, rc, NULL);
    else if (rc)
        http_reply_text(r, 500, "%s", res && res->text ? res->text : cn_strerror(rc));
    else
        http_reply_empty(r, 200);
}

static void cancel_update(struct http_req *r)
{
    rpc_write_cancel(r->cancel_arg);
}

/* Consul's Coordinate.Update: checks, then queue (answered at once); the
 * batch reaches Raft within an update period. */
static void http_coordinate_update(struct http_req *r)
{
    struct state_coordinate u = {0};
    const char *dc = "";
    size_t dim = 0;
    bool has_coord;
    struct cn_err err;
    if (coordinates_disabled(r)) {
        http_reply_text(r, 401, "Coordinate support disabled");
        return;
    }
    json_t *body = http_body_json(r, false);
    if (!body) return;
    cn_err_clear(&err);
    int rc = decode_update(body, &u, &dc, &dim, &has_coord, &err);
    if (rc == 0) {
        /* the strings live in body: copy before it goes */
        u.node = cn_arena_strdup(&r->arena, u.node);
        u.segment = cn_arena_strdup(&r->arena, u.segment);
        dc = cn_arena_strdup(&r->arena, dc);
    }
    json_decref(body);
    /* a name the command codec refuses would sink the whole batch it rides in */
    if (rc == 0 && (strlen(u.node) > CN_COORD_NAME_MAX || strlen(u.segment) > CN_COORD_NAME_MAX))
        rc = cn_err_set(&err, CN_EINVAL, "Node or Segment longer than %d bytes", CN_COORD_NAME_MAX);
    if (rc) {
        http_reply_text(r, 400, "Request decode failed: %s", err.msg);
        return;
    }
    const char *qdc = http_param(r, "dc");
    if (qdc && *qdc) dc = qdc;
    if (*dc && strcmp(dc, http_datacenter(r))) {
        http_reply_text(r, 500, "No path to datacenter");
        return;
    }
    if (!has_coord || !state_coord_valid(&u.coord)) {
        http_reply_text(r, 500, "invalid coordinate");
        return;
    }
    if (dim != STATE_COORD_DIM) {
        http_reply_text(r, 500, "incompatible coordinate");
        return;
    }
    if (!acl_allow(r->authz, ACL_R_NODE, cn_str_from(u.node), ACL_A_WRITE)) {
        http_reply_denied(r);
        return;
    }
    if (r->env->agent && agent_coords_queue(agent_coords(r->env->agent), &u)) {
        http_reply_empty(r, 200);
        return;
    }
    /* No queue here (no agent): apply it as a batch of one. */
    struct cn_buf cmd;
    cn_buf_init(&cmd, CN_BUF_UNLIMITED);
    rpc_coordinates_encode(&u, 1, &cmd);
    r->cancel = cancel_update;
    r->cancel_arg = rpc_write_submit(r->env->rpc, &cmd, update_done, r);
    cn_buf_release(&cmd);
}

const struct http_route http_routes_coordinate[] = {
    {"/v1/coordinate/datacenters", M_GET, http_coordinate_datacenters, 0, ROUTE_NO_ACL},
    {"/v1/coordinate/nodes", M_GET, http_coordinate_nodes, 0, 0},
    {"/v1/coordinate/node/", M_GET, http_coordinate_node, 0, 0},
    {"/v1/coordinate/update", M_PUT, http_coordinate_update, 0, 0},
    HTTP_ROUTES_END,
};
