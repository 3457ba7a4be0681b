/*
 * snapshot.h - what a server does for GET and PUT /v1/snapshot.
 *
 * Save: after the read barrier of the request's mode (consistent on the
 * leader, none with ?stale), the state store is written to an unlinked
 * temporary file on the loop (the store has no other consistent view: this
 * is the point in time), then archived and compressed on a libuv worker
 * thread (storage/archive.h). Memory: the compressed archive; the
 * uncompressed state only passes through the page cache.
 *
 * Restore: the archive is verified on a worker thread (sums, meta.json and a
 * full decode of state.bin into a scratch store that is thrown away), then
 * proposed through Raft (server/restore.h); the answer comes once the
 * restore is applied here, i.e. committed on a quorum's disks.
 *
 * Both run on the server's loop. The HTTP layer reaches them through the
 * rpc backend (rpc_snapshot_start).
 */
#ifndef SERVER_SNAPSHOT_H
#define SERVER_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc/rpc.h"

/* zlib's default (6), as Go's gzip.NewWriter in Consul: on state-like data it is
 * ~20% slower than level 1 and up to twice as small, which matters with the
 * forwarding limit (http/snapshot.c). */
#define SERVER_SNAPSHOT_GZIP_LEVEL (-1)

/* The backend's rpc_backend_ops.snapshot and .snapshot_cancel (be is the
 * struct server): save (stale: no read barrier), or restore archive
 * (taken). done() runs exactly once unless cancelled;
 * after a cancel, work in flight (a worker thread, proposed entries)
 * completes and is discarded. */
struct rpc_snapshot *server_snapshot(void *be, bool restore, bool stale, char *archive, size_t len,
                                     rpc_snapshot_fn done, void *arg);
void server_snapshot_cancel(void *be, struct rpc_snapshot *op);

#endif
