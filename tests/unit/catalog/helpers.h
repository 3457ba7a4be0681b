#ifndef TEST_CATALOG_HELPERS_H
#define TEST_CATALOG_HELPERS_H
#include <string.h>

#include "state/state.h"
#include "test.h"

static inline struct state_node mk_node(const char *name, const char *addr)
{
    struct state_node n = {0};
    n.name = (char *)name;
    n.address = (char *)addr;
    n.id = "";
    return n;
}

static inline struct state_service mk_svc(const char *id, const char *name, int port)
{
    struct state_service s = {0};
    s.id = (char *)id;
    s.name = (char *)name;
    s.port = port;
    s.weight_passing = 1;
    s.weight_warning = 1;
    return s;
}

static inline struct state_check mk_check(const char *id, const char *svc, const char *status)
{
    struct state_check c = {0};
    c.check_id = (char *)id;
    c.name = (char *)id;
    c.service_id = (char *)(svc ? svc : "");
    c.status = (char *)status;
    return c;
}

/* Register node (+ optional service and checks) at idx; returns rc. */
static inline int reg(struct state_store *st, uint64_t idx, const struct state_node *n,
                      const struct state_service *s, const struct state_check *c, size_t nc)
{
    struct cn_err err;
    struct state_register r = {.node = n, .service = s, .checks = c, .nchecks = nc};
    struct state_txn *tx = state_txn_begin(st, idx);
    int rc = state_catalog_register_txn(tx, &r, &err);
    if (rc)
        state_txn_abort(tx);
    else
        state_txn_commit(tx);
    return rc;
}

static inline int dereg(struct state_store *st, uint64_t idx, const char *node, const char *sid,
                        const char *cid)
{
    struct state_txn *tx = state_txn_begin(st, idx);
    int rc = state_catalog_deregister_txn(tx, cn_str_from(node), cn_str_from(sid ? sid : ""),
                                          cn_str_from(cid ? cid : ""));
    if (rc)
        state_txn_abort(tx);
    else
        state_txn_commit(tx);
    return rc;
}
#endif
