/*
 * restore.h - a user's snapshot restore (PUT /v1/snapshot) as every server
 * applies it.
 *
 * The leader verifies the archive and proposes it, unchanged, as a run of
 * RPC_CMD_RESTORE commands (chunks of up to SERVER_RESTORE_CHUNK bytes) in
 * one batch, so the run is contiguous in the log. Every server stages the
 * chunks as they are applied (references to the entries' buffers, no copy)
 * and, at the last one, restores the archive into a scratch store, stamps
 * it and swaps it in (state_replace). Being ordinary committed entries, the
 * restore is durable on a quorum before it is applied anywhere, applies at
 * the same log position everywhere, and needs nothing new from Raft; see
 * docs/decisions.md for why this and not hashicorp/raft's Restore.
 *
 * Determinism rules (every server must reach the same verdict):
 *  - a run is chunk 0..n-1 of one restore id in consecutive entries; any
 *    other entry in between (a new leader's no-op after a partial run)
 *    abandons it: its last chunk, if ever applied, fails;
 *  - snapshots are not taken while a run is staged (the staged bytes are
 *    not part of the state a snapshot would carry);
 *  - a restore that fails (a bad archive that slipped past the leader's
 *    check) changes nothing and answers the error.
 *
 * Indexes: the restored store is stamped with
 *     S = max(archive's last index + 1, state index of the last chunk)
 * and from then on the state index of entry i is i + base, base = S - i0
 * for the last chunk's Raft index i0: X-Consul-Index never goes back, even
 * when the archive comes from a cluster whose log was longer (Consul's
 * hashicorp/raft gets there by skipping Raft indexes; we cannot leave
 * holes in the log, so the state index runs ahead of the Raft index
 * instead). base lives in the store's META table ("raft-index-base"), so
 * snapshots carry it.
 */
#ifndef SERVER_RESTORE_H
#define SERVER_RESTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/cn_buf.h"
#include "raft/raft.h"
#include "rpc/rpc.h"
#include "state/state.h"
#include "storage/archive.h"

#define SERVER_RESTORE_CHUNK       (1u << 20)   /* archive bytes per command */
#define SERVER_RESTORE_ARCHIVE_MAX (256u << 20) /* Raft's uncommitted-bytes bound */
#define SERVER_RESTORE_META_BASE   "raft-index-base"

/* Chunk seq of total of restore id, holding p[0..n) of an archive_len-byte
 * archive, as an RPC_CMD_RESTORE command. */
void server_restore_chunk_encode(uint64_t id, uint32_t seq, uint32_t total, uint64_t archive_len,
                                 const void *p, size_t n, struct cn_buf *out);
bool server_restore_is_chunk(const void *cmd, size_t len);

struct server_restore;
struct server_restore *server_restore_new(void);
void server_restore_free(struct server_restore *rs);
/* A run is staged: do not snapshot now. */
bool server_restore_pending(const struct server_restore *rs);
/* Abandon a staged run (another entry was applied, a snapshot installed). */
void server_restore_reset(struct server_restore *rs);

/* Apply the chunk committed at Raft index log_index (buf holds cmd; a
 * reference is kept while staged). On the last chunk the store is replaced
 * and *index_base updated; *restored says so. Returns 0 or an error with
 * res->text set (heap; the caller frees it). res->index is the state index
 * of the entry. */
int server_restore_apply(struct server_restore *rs, struct state_store *st, uint64_t log_index,
                         const void *cmd, size_t len, struct raft_buf *buf, uint64_t *index_base,
                         bool *restored, struct rpc_result *res);

/* Decode a whole archive from in into a new store (not stamped); NULL with
 * err set, in Consul's wording, when any part of it is wrong. Touches no
 * shared state: the leader runs it on a worker thread to check an archive
 * before proposing it. */
struct state_store *server_restore_load(storage_archive_read_fn in, void *in_ctx,
                                        struct cn_err *err);

/* The state-index offset a store carries (0 until a restore set one). */
uint64_t server_restore_index_base(struct state_store *st);

#endif
