/*
 * catalog.c - catalog reads (with Consul's index rules, ACL filtering and
 * ?filter) and registration checks before a write is proposed.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/cn_common.h"
#include "lib/cn_uuid.h"
#include "rpc/rpc_catalog.h"
#include "rpc/rpc_coordinate.h"
#include "rpc/rpc_int.h"

static const char *nz(const char *s)
{
    return s ? s : "";
}

bool rpc_node_meta_match(const struct state_node *n, const struct rpc_meta_filter *f, size_t nf)
{
    for (size_t i = 0; i < nf; i++) {
        bool ok = false;
        for (size_t j = 0; j < n->nmeta && !ok; j++)
            ok = !strcmp(n->meta[j].key, f[i].key) && !strcmp(n->meta[j].value, f[i].value);
        if (!ok) return false;
    }
    return true;
}

/* ---- reads ---------------------------------------------------------------- */

struct crun {
    struct rpc_query *q;
    const struct rpc_catalog_req *req;
    struct rpc_catalog_resp *resp;
    struct state_store *st;
    const char *dc;
    size_t cap_nodes, cap_services, cap_names;
};

#define GROW(arena, arr, n, cap)                                                      \
    do {                                                                              \
        if ((n) == (cap)) {                                                           \
            size_t nc_ = (cap) ? (cap) * 2 : 16;                                      \
            void *na_ = cn_arena_zalloc((arena), nc_ * sizeof *(arr));                \
            if (n) memcpy(na_, (arr), (n) * sizeof *(arr));                           \
            (arr) = na_;                                                              \
            (cap) = nc_;                                                              \
        }                                                                             \
    } while (0)

static bool node_readable(struct rpc_query *q, const char *node)
{
    return acl_allow(q->authz, ACL_R_NODE, cn_str_from(node), ACL_A_READ);
}

static bool service_readable(struct rpc_query *q, const char *name)
{
    return acl_allow(q->authz, ACL_R_SERVICE, cn_str_from(name), ACL_A_READ);
}

struct sn_pair {
    const struct state_node *n;
    const struct state_service *s;
    const char *dc;
};

static void write_sn(struct cn_jw *w, const void *obj)
{
    const struct sn_pair *p = obj;
    rpc_json_service_node(w, p->n, p->s, p->dc);
}

static void write_ns(struct cn_jw *w, const void *obj)
{
    rpc_json_node_service(w, obj);
}

static bool on_node(void *ctx, const struct state_node *n)
{
    struct crun *c = ctx;
    struct rpc_catalog_resp *r = c->resp;
    if (!rpc_node_meta_match(n, c->req->node_meta, c->req->nnode_meta)) return true;
    if (!node_readable(c->q, n->name)) {
        c->q->meta.filtered_by_acls = true;
        return true;
    }
    if (c->req->filter) {
        struct cn_buf b;
        struct cn_jw w;
        cn_buf_init(&b, CN_BUF_UNLIMITED);
        cn_jw_init(&w, &b, false);
        rpc_json_node(&w, n, c->dc);
        bool ok = rpc_filter_match_text(c->req->filter, b.data, b.len);
        cn_buf_release(&b);
        if (!ok) return true;
    }
    GROW(&c->q->arena, r->nodes, r->nnodes, c->cap_nodes);
    r->nodes[r->nnodes++] = state_node_copy(&c->q->arena, n);
    return true;
}

/* SERVICE rows and the SERVICES aggregation share the per-row checks. */
static bool service_row_ok(struct crun *c, const struct state_service *s, const struct state_node **np)
{
    const struct state_node *n = state_node_get(c->st, cn_str_from(s->node), NULL);
    *np = n;
    if (!n || !rpc_node_meta_match(n, c->req->node_meta, c->req->nnode_meta)) return false;
    if (!service_readable(c->q, s->name) || !node_readable(c->q, s->node)) {
        c->q->meta.filtered_by_acls = true;
        return false;
    }
    struct sn_pair p = {n, s, c->dc};
    return rpc_filter_match_fn(c->req->filter, write_sn, &p);
}

static bool on_instance(void *ctx, const struct state_service *s)
{
    struct crun *c = ctx;
    struct rpc_catalog_resp *r = c->resp;
    const struct state_node *n;
    if (!state_service_has_tags(s, c->req->tags, c->req->ntags)) return true;
    if (!service_row_ok(c, s, &n)) return true;
    GROW(&c->q->arena, r->services, r->nservices, c->cap_services);
    GROW(&c->q->arena, r->nodes, r->nnodes, c->cap_nodes);
    r->services[r->nservices++] = state_service_copy(&c->q->arena, s);
    r->nodes[r->nnodes++] = state_node_copy(&c->q->arena, n);
    return true;
}

static int tag_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool on_service_for_names(void *ctx, const struct state_service *s)
{
    struct crun *c = ctx;
    struct rpc_catalog_resp *r = c->resp;
    const struct state_node *n;
    if (!service_row_ok(c, s, &n)) return true;
    /* Rows arrive grouped by lowercased name; Consul's map keeps exact
     * spellings apart, so look back through the group for this spelling. */
    struct rpc_service_tags *t = NULL;
    for (size_t i = r->nnames; i-- > 0;) {
        if (strcasecmp(r->names[i].name, s->name)) break;
        if (!strcmp(r->names[i].name, s->name)) {
            t = &r->names[i];
            break;
        }
    }
    if (!t) {
        GROW(&c->q->arena, r->names, r->nnames, c->cap_names);
        t = &r->names[r->nnames++];
        t->name = cn_arena_strdup(&c->q->arena, s->name);
    }
    for (size_t i = 0; i < s->ntags; i++) {
        bool dup = false;
        for (size_t j = 0; j < t->ntags && !dup; j++) dup = !strcmp(t->tags[j], s->tags[i]);
        if (dup) continue;
        const char **nt = CN_ARENA_ARRAY(&c->q->arena, const char *, t->ntags + 1);
        if (t->ntags) memcpy(nt, t->tags, t->ntags * sizeof *nt);
        nt[t->ntags++] = cn_arena_strdup(&c->q->arena, s->tags[i]);
        t->tags = nt;
    }
    return true;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(((const struct rpc_service_tags *)a)->name,
                  ((const struct rpc_service_tags *)b)->name);
}

static bool on_node_service(void *ctx, const struct state_service *s)
{
    struct crun *c = ctx;
    struct rpc_catalog_resp *r = c->resp;
    if (!service_readable(c->q, s->name)) {
        c->q->meta.filtered_by_acls = true;
        return true;
    }
    if (!rpc_filter_match_fn(c->req->filter, write_ns, s)) return true;
    GROW(&c->q->arena, r->services, r->nservices, c->cap_services);
    r->services[r->nservices++] = state_service_copy(&c->q->arena, s);
    return true;
}

static void run_node(struct crun *c, struct state_watch_set *ws)
{
    struct rpc_query *q = c->q;
    const struct state_node *n = state_node_lookup(c->st, c->req->name, ws);
    if (!n) {
        q->meta.index = state_node_index(c->st, c->req->name);
        return;
    }
    q->meta.index = state_node_index(c->st, cn_str_from(n->name));
    if (!node_readable(q, n->name)) {
        q->meta.filtered_by_acls = true;
        return;
    }
    c->resp->node = state_node_copy(&q->arena, n);
    state_node_services(c->st, cn_str_from(n->name), NULL, on_node_service, c);
}

int rpc_catalog_run(struct rpc_query *q, struct state_store *st, struct state_watch_set *ws)
{
    const struct rpc_catalog_req *req = q->req;
    struct rpc_catalog_resp *resp = CN_ARENA_NEW(&q->arena, struct rpc_catalog_resp);
    struct crun c = {.q = q, .req = req, .resp = resp, .st = st,
                     .dc = q->rpc->cfg.datacenter ? q->rpc->cfg.datacenter : "dc1"};
    q->resp = resp;
    switch (req->op) {
    case RPC_CATALOG_NODES:
        q->meta.index = state_nodes_list(st, ws, on_node, &c);
        rpc_near_sort_catalog(st, req->near, req->op, resp);
        return 0;
    case RPC_CATALOG_SERVICES:
        q->meta.index = state_services_list(st, ws, on_service_for_names, &c);
        if (resp->nnames > 1) qsort(resp->names, resp->nnames, sizeof *resp->names, name_cmp);
        for (size_t i = 0; i < resp->nnames; i++)
            if (resp->names[i].ntags > 1)
                qsort(resp->names[i].tags, resp->names[i].ntags, sizeof(char *), tag_cmp);
        return 0;
    case RPC_CATALOG_SERVICE:
        q->meta.index = state_service_instances(st, req->name, ws, on_instance, &c);
        rpc_near_sort_catalog(st, req->near, req->op, resp);
        return 0;
    case RPC_CATALOG_NODE:
    case RPC_CATALOG_NODE_SERVICES:
        run_node(&c, ws);
        return 0;
    }
    return CN_EINVAL;
}

/* ---- writes ---------------------------------------------------------------- */

static bool is_any_addr(const char *a)
{
    return a && (!strcmp(a, "0.0.0.0") || !strcmp(a, "::") || !strcmp(a, "[::]"));
}

/* Consul's vetRegisterWithACL: node:write unless the node is unchanged,
 * service:write on the service (and on one it would overwrite), node:write
 * for node checks, service:write for checks of other services. */
static int vet_register(struct rpc *rpc, const struct acl_authz *authz,
                        const struct state_register *r, struct cn_err *err)
{
    struct state_store *st = rpc->st;
    struct cn_str node = cn_str_from(r->node->name);
    const struct state_node *cur = state_node_get(st, node, NULL);
    bool changes = !cur || (!r->skip_node_update && !state_node_same(cur, r->node));
    if (changes && !acl_allow(authz, ACL_R_NODE, node, ACL_A_WRITE)) return CN_EPERM;
    if (r->service) {
        if (strcmp(r->service->name, "consul") &&
            !acl_allow(authz, ACL_R_SERVICE, cn_str_from(r->service->name), ACL_A_WRITE))
            return CN_EPERM;
        const struct state_service *other = state_service_get(st, node, cn_str_from(r->service->id));
        if (other && !acl_allow(authz, ACL_R_SERVICE, cn_str_from(other->name), ACL_A_WRITE))
            return CN_EPERM;
    }
    for (size_t i = 0; i < r->nchecks; i++) {
        const struct state_check *c = &r->checks[i];
        if (!c->service_id || !*c->service_id) {
            if (!acl_allow(authz, ACL_R_NODE, node, ACL_A_WRITE)) return CN_EPERM;
            continue;
        }
        if (r->service && !strcmp(r->service->id, c->service_id)) continue;
        const struct state_service *other = state_service_get(st, node, cn_str_from(c->service_id));
        if (!other) continue; /* the FSM refuses it: "Missing service registration" */
        if (!acl_allow(authz, ACL_R_SERVICE, cn_str_from(other->name), ACL_A_WRITE)) return CN_EPERM;
    }
    return 0;
}

int rpc_catalog_prepare_register(struct rpc *rpc, const struct acl_authz *authz,
                                 const struct state_register *r, struct cn_buf *out,
                                 struct cn_err *err)
{
    const struct state_node *n = r->node;
    cn_err_clear(err);
    if (!n || !n->name || !*n->name) return cn_err_set(err, CN_EINVAL, "Must provide node");
    if ((!n->address || !*n->address) && !r->skip_node_update)
        return cn_err_set(err, CN_EINVAL, "Must provide address if SkipNodeUpdate is not set");
    if (n->id && *n->id && !cn_uuid_valid(cn_str_from(n->id)))
        return cn_err_set(err, CN_EINVAL, "Bad node ID: uuid string is wrong length");
    if (r->service) {
        const struct state_service *s = r->service;
        if (!s->name || !*s->name)
            return cn_err_set(err, CN_EINVAL, "Must provide service name with ID");
        if (is_any_addr(s->address)) return cn_err_set(err, CN_EINVAL, "Invalid service address");
    }
    for (size_t i = 0; i < r->nchecks; i++) {
        const char *cn = r->checks[i].node;
        if (cn && *cn && strcasecmp(cn, n->name))
            return cn_err_set(err, CN_EINVAL,
                              "Node '%s' for check '%s' doesn't match register request node '%s'",
                              cn, nz(r->checks[i].check_id), n->name);
    }
    int rc = vet_register(rpc, authz, r, err);
    if (rc) return rc;
    rpc_register_encode(r, out);
    return 0;
}

/* Consul's vetDeregisterWithACL: node:write for the node or its checks,
 * service:write for a service or its checks. */
int rpc_catalog_prepare_deregister(struct rpc *rpc, const struct acl_authz *authz,
                                   const struct rpc_deregister_cmd *c, struct cn_buf *out,
                                   struct cn_err *err)
{
    struct state_store *st = rpc->st;
    cn_err_clear(err);
    if (!c->node.len) return cn_err_set(err, CN_EINVAL, "Must provide node");
    if (c->service_id.len) {
        const struct state_service *s = state_service_get(st, c->node, c->service_id);
        if (s && !acl_allow(authz, ACL_R_SERVICE, cn_str_from(s->name), ACL_A_WRITE))
            return CN_EPERM;
    }
    if (c->check_id.len) {
        const struct state_check *k = state_check_get(st, c->node, c->check_id);
        if (k && *k->service_id) {
            if (!acl_allow(authz, ACL_R_SERVICE, cn_str_from(k->service_name), ACL_A_WRITE))
                return CN_EPERM;
        } else if (k && !acl_allow(authz, ACL_R_NODE, c->node, ACL_A_WRITE)) {
            return CN_EPERM;
        }
    }
    if (!c->service_id.len && !c->check_id.len &&
        !acl_allow(authz, ACL_R_NODE, c->node, ACL_A_WRITE))
        return CN_EPERM;
    rpc_deregister_encode(c, out);
    return 0;
}

/* ---- one node's whole record ---------------------------------------------- */

#define NODE_DUMP_VERSION 1
#define NODE_DUMP_MAX 100000 /* entries per kind: far beyond any real node */

struct dump_ctx {
    struct rpc_query *q;
    struct rpc_node_dump *d;
    size_t cap_s, cap_c;
};

static bool dump_service(void *arg, const struct state_service *s)
{
    struct dump_ctx *c = arg;
    struct rpc_node_dump *d = c->d;
    if (!acl_allow(c->q->authz, ACL_R_SERVICE, cn_str_from(s->name), ACL_A_READ)) return true;
    if (d->nservices == c->cap_s) {
        c->cap_s = c->cap_s ? c->cap_s * 2 : 16;
        struct state_service **v = CN_ARENA_ARRAY(&c->q->arena, struct state_service *, c->cap_s);
        if (d->nservices) memcpy(v, d->services, d->nservices * sizeof *v);
        d->services = v;
    }
    d->services[d->nservices++] = state_service_copy(&c->q->arena, s);
    return true;
}

static bool dump_check(void *arg, const struct state_check *k)
{
    struct dump_ctx *c = arg;
    struct rpc_node_dump *d = c->d;
    if (*k->service_id &&
        !acl_allow(c->q->authz, ACL_R_SERVICE, cn_str_from(k->service_name), ACL_A_READ))
        return true;
    if (d->nchecks == c->cap_c) {
        c->cap_c = c->cap_c ? c->cap_c * 2 : 16;
        struct state_check **v = CN_ARENA_ARRAY(&c->q->arena, struct state_check *, c->cap_c);
        if (d->nchecks) memcpy(v, d->checks, d->nchecks * sizeof *v);
        d->checks = v;
    }
    d->checks[d->nchecks++] = state_check_copy(&c->q->arena, k);
    return true;
}

int rpc_node_dump_run(struct rpc_query *q, struct state_store *st, struct state_watch_set *ws)
{
    struct cn_str node = cn_str_from(q->req);
    struct rpc_node_dump *d = CN_ARENA_NEW(&q->arena, struct rpc_node_dump);
    struct dump_ctx c = {.q = q, .d = d};
    q->resp = d;
    /* an agent asks with a token that may read its own node: anything
     * else is refused outright rather than answered with an empty record */
    if (!acl_allow(q->authz, ACL_R_NODE, node, ACL_A_READ)) return CN_EPERM;
    const struct state_node *n = state_node_get(st, node, ws);
    if (n) d->node = state_node_copy(&q->arena, n);
    state_node_services(st, node, ws, dump_service, &c);
    q->meta.index = state_node_checks(st, node, ws, dump_check, &c);
    return 0;
}

void rpc_node_dump_encode(const struct rpc_node_dump *d, struct cn_buf *out)
{
    cn_enc_u8(out, NODE_DUMP_VERSION);
    cn_enc_bool(out, d->node != NULL);
    if (d->node) state_node_encode(d->node, out);
    cn_enc_uvar(out, d->nservices);
    for (size_t i = 0; i < d->nservices; i++) state_service_encode(d->services[i], out);
    cn_enc_uvar(out, d->nchecks);
    for (size_t i = 0; i < d->nchecks; i++) state_check_encode(d->checks[i], out);
}

int rpc_node_dump_decode(const void *p, size_t len, struct cn_arena *a, struct rpc_node_dump *out)
{
    struct cn_dec d;
    memset(out, 0, sizeof *out);
    cn_dec_init(&d, p, len);
    if (cn_dec_u8(&d) != NODE_DUMP_VERSION) return CN_ECORRUPT;
    if (cn_dec_bool(&d)) {
        out->node = CN_ARENA_NEW(a, struct state_node);
        if (state_node_decode(&d, a, out->node)) return CN_ECORRUPT;
    }
    uint64_t n = cn_dec_uvar(&d);
    if (cn_dec_status(&d) || n > NODE_DUMP_MAX || n > cn_dec_left(&d)) return CN_ECORRUPT;
    out->services = CN_ARENA_ARRAY(a, struct state_service *, n + 1);
    for (size_t i = 0; i < n; i++) {
        out->services[i] = CN_ARENA_NEW(a, struct state_service);
        if (state_service_decode(&d, a, out->services[i])) return CN_ECORRUPT;
    }
    out->nservices = (size_t)n;
    n = cn_dec_uvar(&d);
    if (cn_dec_status(&d) || n > NODE_DUMP_MAX || n > cn_dec_left(&d)) return CN_ECORRUPT;
    out->checks = CN_ARENA_ARRAY(a, struct state_check *, n + 1);
    for (size_t i = 0; i < n; i++) {
        out->checks[i] = CN_ARENA_NEW(a, struct state_check);
        if (state_check_decode(&d, a, out->checks[i])) return CN_ECORRUPT;
    }
    out->nchecks = (size_t)n;
    if (cn_dec_status(&d) || cn_dec_left(&d)) return CN_ECORRUPT;
    return 0;
}
