/*
 * rpc_coordinate.h - network coordinates at the endpoint layer (Consul's
 * Coordinate.ListNodes, Coordinate.Node and Coordinate.Update, and the
 * ?near sorting of agent/consul/rtt.go).
 *
 * Updates do not go to Raft one by one: a server queues the latest update
 * of each node and segment (struct rpc_coord_queue) and its owner flushes
 * the queue every update period as a few RPC_CMD_COORDINATES commands, as
 * Consul's batchUpdate does. The queue is plain data; the owner keeps the
 * timer (src/agent/coord_sync.c).
 */
#ifndef RPC_COORDINATE_H
#define RPC_COORDINATE_H

#include "lib/cn_jw.h"
#include "rpc/rpc.h"
#include "rpc/rpc_catalog.h"
#include "rpc/rpc_health.h"

/* ---- the command ------------------------------------------------------------ */

/* RPC_CMD_COORDINATES: a batch of rows for state_coordinate_batch_txn. */
void rpc_coordinates_encode(const struct state_coordinate *v, size_t n, struct cn_buf *out);
/* Rows allocated from the arena; CN_ECORRUPT on bad input. */
int rpc_coordinates_decode(struct cn_dec *d, struct cn_arena *a, struct state_coordinate **v,
                           size_t *n);

/* ---- pending updates on a server -------------------------------------------- */

struct rpc_coord_queue;
/* At most cap distinct (node, segment) pairs wait at once; an update for a
 * new pair beyond that is dropped (and counted), as Consul discards what
 * exceeds batch size x max batches when it flushes. */
struct rpc_coord_queue *rpc_coord_queue_new(size_t cap);
void rpc_coord_queue_free(struct rpc_coord_queue *q);
/* Keep c (copied) as the pending update of its node and segment, replacing
 * an older one. Returns false when it was dropped. */
bool rpc_coord_queue_put(struct rpc_coord_queue *q, const struct state_coordinate *c);
size_t rpc_coord_queue_len(const struct rpc_coord_queue *q);
/* Updates dropped since the last call. */
size_t rpc_coord_queue_take_dropped(struct rpc_coord_queue *q);
/* Move up to batch_size pending updates into one encoded command (out is
 * reset first). Returns how many rows it holds; 0 when nothing waits. */
size_t rpc_coord_queue_next_batch(struct rpc_coord_queue *q, size_t batch_size, struct cn_buf *out);

/* ---- reads ---------------------------------------------------------------------- */

enum rpc_coord_read {
    RPC_COORD_NODES = 0, /* every row the token may read (node:read) */
    RPC_COORD_NODE,      /* the rows of one node; node:read or CN_EPERM */
};

struct rpc_coord_req {
    enum rpc_coord_read op;
    struct cn_str node; /* RPC_COORD_NODE */
};

struct rpc_coord_resp {
    struct state_coordinate *rows; /* arena copies; NODE rows carry the name as asked */
    size_t n;
};

int rpc_coordinate_run(struct rpc_query *q, struct state_store *st, struct state_watch_set *ws);

/* {"Node", "Segment", "Coord": {"Vec", "Error", "Adjustment", "Height"}} */
void rpc_json_coordinate(struct cn_jw *w, const char *node, const char *segment,
                         const struct state_coord *c);
void rpc_json_coord(struct cn_jw *w, const struct state_coord *c);

/* ---- ?near ------------------------------------------------------------------------ */

/* Consul's sortNodesByDistanceFrom: order rows by the estimated round trip
 * from near's coordinate to each row's node, stably, rows whose node has no
 * coordinate last. Nothing moves when near is NULL or empty or has no
 * coordinate. Catalog: NODES and SERVICE; health: CHECKS, SERVICE, STATE. */
void rpc_near_sort_catalog(struct state_store *st, const char *near, enum rpc_catalog_read op,
                           struct rpc_catalog_resp *r);
void rpc_near_sort_health(struct state_store *st, const char *near, enum rpc_health_read op,
                          struct rpc_health_resp *r);

#endif
