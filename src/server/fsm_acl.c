/* fsm_acl.c - applying RPC_CMD_ACL: token and policy writes, bootstrap. */
#include "lib/cn_common.h"
#include "rpc/rpc_acl.h"
#include "server/fsm.h"

int server_fsm_acl(struct state_txn *tx, struct cn_dec *d, struct rpc_result *res);

int server_fsm_acl(struct state_txn *tx, struct cn_dec *d, struct rpc_result *res)
{
    struct rpc_acl_cmd c;
    struct cn_err err;
    int rc = rpc_acl_decode(d, &c);
    if (rc) return rc;
    cn_err_clear(&err);
    res->ok = true;
    /* The ID of what was written, for the endpoint to read back. */
    const char *id = c.token ? c.token->accessor : c.policy ? c.policy->id : NULL;
    char *written = id ? cn_strdup(id) : cn_str_dup(c.id);
    switch (c.op) {
    case RPC_ACL_TOKEN_SET: rc = state_acl_token_set_txn(tx, c.token, c.mode, &err); break;
    case RPC_ACL_BOOTSTRAP: rc = state_acl_bootstrap_txn(tx, c.token, c.reset_index, &err); break;
    case RPC_ACL_POLICY_SET: rc = state_acl_policy_set_txn(tx, c.policy, c.mode, &err); break;
    case RPC_ACL_TOKEN_DELETE: rc = state_acl_token_delete_txn(tx, c.id); break;
    case RPC_ACL_POLICY_DELETE: rc = state_acl_policy_delete_txn(tx, c.id); break;
    default: rc = CN_ECORRUPT; break;
    }
    if (rc) {
        free(written);
        res->ok = false;
        res->text = cn_strdup(err.msg[0] ? err.msg : cn_strerror(rc));
        return rc;
    }
    res->text = written;
    return 0;
}
