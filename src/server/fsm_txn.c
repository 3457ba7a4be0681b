/* fsm_txn.c - applying /v1/txn (Consul's fsm applyTxn): every op in one
 * state transaction at one index; the first failing op makes the FSM
 * abort it, so nothing of the transaction is left. Results and errors go
 * back in the result text (rpc_txn_out_encode). */
#include "lib/cn_arena.h"
#include "lib/cn_common.h"
#include "rpc/rpc_txn.h"
#include "server/fsm.h"

int server_fsm_txn(struct state_txn *tx, struct cn_dec *d, struct rpc_result *res);

int server_fsm_txn(struct state_txn *tx, struct cn_dec *d, struct rpc_result *res)
{
    struct cn_arena a;
    struct rpc_txn_op *ops;
    struct rpc_txn_out out = {0};
    size_t n;
    cn_arena_init(&a, 4096);
    int rc = rpc_txn_decode(d, &a, &ops, &n);
    if (rc == 0) {
        rc = rpc_txn_exec(tx, state_txn_store(tx), ops, n, &a, &out);
        res->text = rpc_txn_out_encode(&out);
    }
    res->ok = rc == 0;
    cn_arena_release(&a);
    return rc;
}
