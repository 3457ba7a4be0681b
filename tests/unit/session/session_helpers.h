#ifndef TEST_SESSION_HELPERS_H
#define TEST_SESSION_HELPERS_H
#include <string.h>

#include "helpers.h" /* tests/unit/catalog: nodes, checks, reg(), dereg() */
#include "state/state.h"

static inline struct state_session mk_session(const char *id, const char *node)
{
    static char *serf[] = {"serfHealth"};
    struct state_session s = {0};
    s.id = (char *)id;
    s.name = "";
    s.node = (char *)node;
    s.node_checks = serf;
    s.nnode_checks = 1;
    s.lock_delay_ns = 15000000000LL;
    s.ttl = "";
    return s;
}

static inline int create(struct state_store *st, uint64_t idx, const struct state_session *s,
                         struct cn_err *err)
{
    struct state_txn *tx = state_txn_begin(st, idx);
    int rc = state_session_create_txn(tx, s, err);
    if (rc)
        state_txn_abort(tx);
    else
        state_txn_commit(tx);
    return rc;
}

static inline void destroy(struct state_store *st, uint64_t idx, const char *id)
{
    struct state_txn *tx = state_txn_begin(st, idx);
    state_session_destroy_txn(tx, cn_str_from(id));
    state_txn_commit(tx);
}

static inline bool lock_key(struct state_store *st, uint64_t idx, const char *key, const char *sid)
{
    bool ok = false;
    struct state_kv_write w = {
        .key = cn_str_from(key), .value = CN_STR("v"), .session = cn_str_from(sid)};
    struct state_txn *tx = state_txn_begin(st, idx);
    state_kv_lock_txn(tx, &w, &ok);
    state_txn_commit(tx);
    return ok;
}

/* A node "n1" with serfHealth passing and a check "web-check" in status. */
static inline void node_with_checks(struct state_store *st, uint64_t idx, const char *status)
{
    struct state_node n = mk_node("n1", "10.0.0.1");
    struct state_check c[2] = {mk_check("serfHealth", NULL, "passing"),
                               mk_check("web-check", NULL, status)};
    ASSERT_OK(reg(st, idx, &n, NULL, c, 2));
}
#endif
