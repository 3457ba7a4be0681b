/* fsm_catalog.c - applying register and deregister commands (Consul's
 * fsm applyRegister / applyDeregister). */
#include <string.h>

#include "lib/cn_arena.h"
#include "lib/cn_common.h"
#include "rpc/rpc_cmd.h"
#include "server/fsm.h"

int server_fsm_register(struct state_txn *tx, struct cn_dec *d, struct rpc_result *res);
int server_fsm_deregister(struct state_txn *tx, struct cn_dec *d, struct rpc_result *res);

int server_fsm_register(struct state_txn *tx, struct cn_dec *d, struct rpc_result *res)
{
    struct cn_arena a;
    struct state_register r;
    struct cn_err err;
    int rc;
    cn_arena_init(&a, 4096);
    cn_err_clear(&err);
    rc = rpc_register_decode(d, &a, &r);
    if (rc == 0) rc = state_catalog_register_txn(tx, &r, &err);
    if (rc && err.msg[0]) res->text = cn_strdup(err.msg);
    res->ok = rc == 0;
    cn_arena_release(&a);
    return rc;
}

int server_fsm_deregister(struct state_txn *tx, struct cn_dec *d, struct rpc_result *res)
{
    struct rpc_deregister_cmd c;
    int rc = rpc_deregister_decode(d, &c);
    if (rc == 0) rc = state_catalog_deregister_txn(tx, c.node, c.service_id, c.check_id);
    res->ok = rc == 0;
    return rc;
}
