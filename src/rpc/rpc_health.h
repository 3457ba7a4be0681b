/*
 * rpc_health.h - the health endpoints (Consul's Health.NodeChecks,
 * ServiceChecks, ServiceNodes, ChecksInState). The DNS interface answers
 * service lookups with the same query: RPC_HEALTH_SERVICE with passing
 * set to its only_passing rule and one tag.
 */
#ifndef RPC_HEALTH_H
#define RPC_HEALTH_H

#include "rpc/rpc_catalog.h"

enum rpc_health_read {
    RPC_HEALTH_NODE = 0, /* [HealthCheck] of a node */
    RPC_HEALTH_CHECKS,   /* [HealthCheck] bound to instances of a service */
    RPC_HEALTH_SERVICE,  /* [CheckServiceNode] */
    RPC_HEALTH_STATE,    /* [HealthCheck] in a state (any, passing, warning, critical) */
};

struct rpc_health_req {
    enum rpc_health_read op;
    struct cn_str name; /* node, service or state */
    const struct cn_str *tags; /* RPC_HEALTH_SERVICE: AND, case-insensitive */
    size_t ntags;
    bool passing; /* RPC_HEALTH_SERVICE: only instances whose checks all pass */
    const struct rpc_meta_filter *node_meta;
    size_t nnode_meta;
    const struct rpc_filter *filter; /* NULL = none */
    const char *near; /* ?near (CHECKS, SERVICE, STATE): node to sort by RTT from */
};

/* One CheckServiceNode: node checks first, then the instance's own. */
struct rpc_csn {
    struct state_node *node;
    struct state_service *service;
    struct state_check **checks;
    size_t nchecks;
};

/* Arena copies, valid as long as the query. */
struct rpc_health_resp {
    struct state_check **checks; /* NODE, CHECKS, STATE */
    size_t nchecks;
    struct rpc_csn *rows; /* SERVICE */
    size_t nrows;
};

int rpc_health_run(struct rpc_query *q, struct state_store *st, struct state_watch_set *ws);

void rpc_json_csn(struct cn_jw *w, const struct rpc_csn *row, const char *dc);

#endif
