/* fsm_coordinate.c - applying a batch of coordinate updates (Consul's fsm
 * applyCoordinateBatchUpdate). The rows were checked when they were queued;
 * the store skips invalid ones and nodes the catalog does not know. */
#include "lib/cn_arena.h"
#include "rpc/rpc_coordinate.h"
#include "server/fsm.h"

int server_fsm_coordinates(struct state_txn *tx, struct cn_dec *d, struct rpc_result *res);

int server_fsm_coordinates(struct state_txn *tx, struct cn_dec *d, struct rpc_result *res)
{
    struct cn_arena a;
    struct state_coordinate *v;
    size_t n;
    cn_arena_init(&a, 4096);
    int rc = rpc_coordinates_decode(d, &a, &v, &n);
    if (rc == 0 && cn_dec_left(d) != 0) rc = CN_ECORRUPT;
    if (rc == 0) rc = state_coordinate_batch_txn(tx, v, n);
    res->ok = rc == 0;
    cn_arena_release(&a);
    return rc;
}
