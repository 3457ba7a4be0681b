/*
 * rpc_catalog.h - the catalog endpoints (Consul's Catalog.Register,
 * Catalog.Deregister, Catalog.ListNodes, ListServices, ServiceNodes,
 * NodeServices) and the JSON shapes of catalog records, shared by every
 * endpoint that prints them and by ?filter (which evaluates the same JSON).
 */
#ifndef RPC_CATALOG_H
#define RPC_CATALOG_H

#include "lib/cn_jw.h"
#include "rpc/rpc.h"
#include "rpc/rpc_cmd.h"
#include "rpc/rpc_filter.h"

/* ?node-meta=key:value (value may be empty); several are AND-ed. */
struct rpc_meta_filter {
    const char *key;
    const char *value;
};
bool rpc_node_meta_match(const struct state_node *n, const struct rpc_meta_filter *f, size_t nf);

enum rpc_catalog_read {
    RPC_CATALOG_NODES = 0,    /* [Node] */
    RPC_CATALOG_SERVICES,     /* name -> tags */
    RPC_CATALOG_SERVICE,      /* [ServiceNode] of one service */
    RPC_CATALOG_NODE,         /* {Node, Services{id: NodeService}} */
    RPC_CATALOG_NODE_SERVICES /* {Node, Services[NodeService]} */
};

struct rpc_catalog_req {
    enum rpc_catalog_read op;
    struct cn_str name;      /* service, or node name/ID */
    const struct cn_str *tags; /* RPC_CATALOG_SERVICE: AND, case-insensitive */
    size_t ntags;
    const struct rpc_meta_filter *node_meta;
    size_t nnode_meta;
    const struct rpc_filter *filter; /* NULL = none; shape per op */
    const char *near; /* ?near (NODES, SERVICE): node to sort by RTT from; NULL = none */
};

struct rpc_service_tags {
    const char *name;
    const char **tags; /* deduplicated, sorted */
    size_t ntags;
};

/* Arena copies, valid as long as the query. */
struct rpc_catalog_resp {
    struct state_node **nodes; /* NODES; SERVICE: the node of each service row */
    size_t nnodes;
    struct rpc_service_tags *names; /* SERVICES, sorted by name */
    size_t nnames;
    struct state_service **services; /* SERVICE, NODE, NODE_SERVICES */
    size_t nservices;
    struct state_node *node; /* NODE, NODE_SERVICES: NULL when unknown */
};

int rpc_catalog_run(struct rpc_query *q, struct state_store *st, struct state_watch_set *ws);

/* ---- one node's whole record (anti-entropy) ----------------------------- */

/* What a full sync compares the agent's local state against (Consul's
 * NodeServices and NodeChecks, read at one index). Crosses the wire in the
 * state codecs rather than JSON, so a client agent sees exactly the fields
 * a server holds and compares them without loss. */
struct rpc_node_dump {
    struct state_node *node; /* NULL: not registered (or not readable) */
    struct state_service **services;
    size_t nservices;
    struct state_check **checks;
    size_t nchecks;
};
/* q->req is the node name (const char *); q->resp a struct rpc_node_dump.
 * Needs node:read (else CN_EPERM); services and service checks are
 * filtered by service:read. */
int rpc_node_dump_run(struct rpc_query *q, struct state_store *st, struct state_watch_set *ws);
void rpc_node_dump_encode(const struct rpc_node_dump *d, struct cn_buf *out);
/* CN_ECORRUPT on a malformed or truncated dump. */
int rpc_node_dump_decode(const void *p, size_t len, struct cn_arena *a, struct rpc_node_dump *out);

/* Check the token for a registration and encode the command (Consul's
 * Catalog.Register checks: node, address, service name and address). err
 * carries the text for a refusal: CN_EINVAL (answered 500 as Consul does
 * for RPC errors) or CN_EPERM. */
int rpc_catalog_prepare_register(struct rpc *rpc, const struct acl_authz *authz,
                                 const struct state_register *r, struct cn_buf *out,
                                 struct cn_err *err);
int rpc_catalog_prepare_deregister(struct rpc *rpc, const struct acl_authz *authz,
                                   const struct rpc_deregister_cmd *c, struct cn_buf *out,
                                   struct cn_err *err);

/* ---- JSON shapes (shared/spec/http-api.md §2) ---------------------------- */

void rpc_json_node(struct cn_jw *w, const struct state_node *n, const char *dc);
void rpc_json_service_node(struct cn_jw *w, const struct state_node *n,
                           const struct state_service *s, const char *dc);
void rpc_json_node_service(struct cn_jw *w, const struct state_service *s);
void rpc_json_health_check(struct cn_jw *w, const struct state_check *c);
void rpc_json_check_definition(struct cn_jw *w, const struct state_check_def *d);
/* A string map (nil -> null), or {} for NULL when empty_object. */
void rpc_json_pairs(struct cn_jw *w, const struct state_pair *v, size_t n, bool empty_object);
/* Service tagged addresses {"lan": {"Address": ..., "Port": ...}}. */
void rpc_json_svc_addrs(struct cn_jw *w, const struct state_svc_addr *v, size_t n);

/* Does the object (written by write(ctx, jw)) pass the filter? */
bool rpc_filter_match_fn(const struct rpc_filter *f, void (*write)(struct cn_jw *, const void *),
                         const void *obj);

#endif
