/* fsm_session.c - applying session commands (Consul's fsm applySessionOperation).
 * A create carries the ID the leader drew; renew never reaches the log. */
#include <string.h>

#include "lib/cn_arena.h"
#include "lib/cn_common.h"
#include "rpc/rpc_session.h"
#include "server/fsm.h"

int server_fsm_session(struct state_txn *tx, struct cn_dec *d, struct rpc_result *res);

int server_fsm_session(struct state_txn *tx, struct cn_dec *d, struct rpc_result *res)
{
    struct cn_arena a;
    struct rpc_session_cmd c;
    struct cn_err err;
    int rc;
    cn_arena_init(&a, 1024);
    cn_err_clear(&err);
    rc = rpc_session_cmd_decode(d, &a, &c);
    if (rc == 0) {
        switch (c.op) {
        case RPC_SESSION_CREATE:
            rc = state_session_create_txn(tx, &c.s, &err);
            if (rc == 0) res->text = cn_strdup(c.s.id);
            break;
        case RPC_SESSION_DESTROY:
            rc = state_session_destroy_txn(tx, c.id);
            break;
        default:
            rc = CN_EINVAL;
            break; /* renew is answered by the leader */
        }
    }
    if (rc && err.msg[0]) res->text = cn_strdup(err.msg);
    res->ok = rc == 0;
    cn_arena_release(&a);
    return rc;
}
