/* fsm.c - one apply function per command type (Consul's fsm/commands). */
#include "server/fsm.h"

#include <stdio.h>
#include <string.h>

#include "lib/cn_common.h"
#include "lib/cn_log.h"
#include "rpc/rpc_cmd.h"

static int apply_kvs(struct state_txn *tx, struct cn_dec *d, struct rpc_result *res)
{
    struct rpc_kvs_cmd c;
    struct state_kv_write w;
    int rc = rpc_kvs_decode(d, &c);
    if (rc) return rc;
    w = (struct state_kv_write){.key = c.key, .value = c.value, .flags = c.flags,
                                .session = c.session, .cas_index = c.cas_index};
    res->ok = true;
    switch (c.op) {
    case RPC_KVS_SET: return state_kv_set_txn(tx, &w);
    case RPC_KVS_CAS: return state_kv_cas_txn(tx, &w, &res->ok);
    case RPC_KVS_DELETE: return state_kv_delete_txn(tx, c.key);
    case RPC_KVS_DELETE_CAS: return state_kv_delete_cas_txn(tx, c.key, c.cas_index, &res->ok);
    case RPC_KVS_DELETE_TREE: return state_kv_delete_tree_txn(tx, c.key);
    case RPC_KVS_LOCK:
        if (!state_session_exists(state_txn_store(tx), c.session)) {
            res->text = cn_malloc(c.session.len + 32);
            sprintf(res->text, "invalid session \"%.*s\"", (int)c.session.len, c.session.p);
            return CN_EINVAL;
        }
        return state_kv_lock_txn(tx, &w, &res->ok);
    case RPC_KVS_UNLOCK: return state_kv_unlock_txn(tx, &w, &res->ok);
    }
    return CN_ECORRUPT;
}

static int apply_reap(struct state_txn *tx, struct cn_dec *d)
{
    uint64_t upto = cn_dec_uvar(d);
    if (cn_dec_status(d)) return CN_ECORRUPT;
    return state_tombstone_reap_txn(tx, upto);
}

/* Command families applied in their own files (fsm_<family>.c). A family
 * not built yet is a weak NULL and its commands are refused. */
typedef int (*fsm_apply_fn)(struct state_txn *tx, struct cn_dec *d, struct rpc_result *res);
#define FSM_FAMILY(name)                                                                \
    int name(struct state_txn *tx, struct cn_dec *d, struct rpc_result *res)            \
        __attribute__((weak));
FSM_FAMILY(server_fsm_register)
FSM_FAMILY(server_fsm_deregister)
FSM_FAMILY(server_fsm_session)
FSM_FAMILY(server_fsm_txn)
FSM_FAMILY(server_fsm_acl)
FSM_FAMILY(server_fsm_prepared_query)
FSM_FAMILY(server_fsm_coordinates)
FSM_FAMILY(server_fsm_autopilot)
#undef FSM_FAMILY

static fsm_apply_fn family(enum rpc_cmd_type type)
{
    switch (type) {
    case RPC_CMD_REGISTER: return server_fsm_register;
    case RPC_CMD_DEREGISTER: return server_fsm_deregister;
    case RPC_CMD_SESSION: return server_fsm_session;
    case RPC_CMD_TXN: return server_fsm_txn;
    case RPC_CMD_ACL: return server_fsm_acl;
    case RPC_CMD_PREPARED_QUERY: return server_fsm_prepared_query;
    case RPC_CMD_COORDINATES: return server_fsm_coordinates;
    case RPC_CMD_AUTOPILOT: return server_fsm_autopilot;
    default: return NULL;
    }
}

int server_fsm_apply(struct state_store *st, uint64_t index, const void *cmd, size_t len,
                     struct rpc_result *res)
{
    struct cn_dec d;
    enum rpc_cmd_type type;
    int rc;
    memset(res, 0, sizeof *res);
    res->index = index;
    rc = rpc_cmd_open(&d, cmd, len, &type);
    if (rc) {
        CN_ERROR("fsm", "cannot decode command at index %llu: %s", (unsigned long long)index,
                 cn_strerror(rc));
        return rc;
    }
    struct state_txn *tx = state_txn_begin(st, index);
    switch (type) {
    case RPC_CMD_NOOP: rc = 0; break;
    case RPC_CMD_KVS: rc = apply_kvs(tx, &d, res); break;
    case RPC_CMD_TOMBSTONE_REAP: rc = apply_reap(tx, &d); break;
    default: {
        fsm_apply_fn fn = family(type);
        rc = fn ? fn(tx, &d, res) : CN_EUNSUPPORTED;
        break;
    }
    }
    if (rc) {
        state_txn_abort(tx);
        if (!res->text) res->text = cn_strdup(cn_strerror(rc));
        return rc;
    }
    state_txn_commit(tx);
    return 0;
}
