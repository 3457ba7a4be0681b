/*
 * archive.h - snapshot archives, the file `cairn snapshot save` writes and
 * GET/PUT /v1/snapshot carry: a gzip'd tar with, in this order,
 *
 *   meta.json    Consul's (hashicorp/raft's) SnapshotMeta as JSON: Version,
 *                ID, Index, Term, Peers, Configuration, ConfigurationIndex,
 *                Size; one line, newline-terminated (Go's json.Encoder)
 *   state.bin    the state store's own encoding (src/state/snapshot.c,
 *                "CNST" + version), Size bytes
 *   SHA256SUMS   "<sha256 hex>  <name>\n" for meta.json and state.bin
 *
 * Consul's layout exactly, so its tools can list and verify one; the bytes
 * of state.bin are cairn's own (docs/storage.md, "Snapshot archives").
 *
 * Both directions stream in bounded memory: the writer pulls state.bin from
 * a read function and pushes compressed bytes to a write function; the
 * reader pulls compressed bytes and hands state.bin out through a read
 * function with state_read_fn's shape, so the state store restores straight
 * from the archive. Integrity comes last in the file (SHA256SUMS follows
 * state.bin), so a reader must treat everything it handed out as unverified
 * until storage_archive_finish returns 0: restore into a scratch store and
 * swap it in only then.
 *
 * Errors are CN_ECORRUPT (anything wrong with the archive), CN_ETOOBIG (a
 * part over the limits below), CN_EUNSUPPORTED (a meta.json Version other
 * than 1) or what a callback returned; err carries Consul's wording, e.g.
 * `failed to read snapshot file: failed checking integrity of snapshot:
 * hash check failed for "state.bin"`. No globals; each object belongs to
 * one thread at a time.
 */
#ifndef CAIRN_STORAGE_ARCHIVE_H
#define CAIRN_STORAGE_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/cn_err.h"

#define STORAGE_ARCHIVE_VERSION     1               /* meta.json "Version" we write and read */
#define STORAGE_ARCHIVE_META_MAX    (64u * 1024)    /* meta.json */
#define STORAGE_ARCHIVE_SUMS_MAX    (4u * 1024)     /* SHA256SUMS */
#define STORAGE_ARCHIVE_STATE_MAX   077777777777ull /* state.bin: what a ustar size field holds */
#define STORAGE_ARCHIVE_SERVERS_MAX 32

/* Pull up to n bytes into p: the count, 0 at the end, or a negative CN_E*
 * (state_read_fn's shape). */
typedef long (*storage_archive_read_fn)(void *ctx, void *p, size_t n);
/* Push n bytes: 0 or a negative CN_E* (state_write_fn's shape). */
typedef int (*storage_archive_write_fn)(void *ctx, const void *p, size_t n);

struct storage_archive_server {
    char id[64];       /* Consul: the server's node ID */
    char address[128]; /* its RPC address */
    bool voter;        /* Suffrage 0 (Voter) or 1 (Nonvoter) */
};

struct storage_archive_meta {
    int version;    /* STORAGE_ARCHIVE_VERSION */
    char id[96];    /* hashicorp/raft's "<term>-<index>-<unix ms>" */
    uint64_t index; /* the state's index (X-Consul-Index of the save) */
    uint64_t term;
    uint64_t size; /* bytes of state.bin */
    uint64_t conf_index;
    size_t n_servers;
    struct storage_archive_server servers[STORAGE_ARCHIVE_SERVERS_MAX];
    int64_t mtime; /* Unix seconds for the tar headers (writer only) */
};

/* Write a whole archive: m->size bytes of state.bin pulled from state (it
 * must hold exactly that many), compressed at gzip level (1..9, or -1 for
 * zlib's default) and pushed to out in pieces of at most 64 KiB. */
int storage_archive_write(const struct storage_archive_meta *m, storage_archive_read_fn state,
                          void *state_ctx, storage_archive_write_fn out, void *out_ctx, int level,
                          struct cn_err *err);

struct storage_archive_reader;

/* Start reading an archive from in: checks the gzip header and reads the
 * entries before state.bin (meta.json), leaving the reader at state.bin's
 * first byte. */
int storage_archive_open(storage_archive_read_fn in, void *in_ctx,
                         struct storage_archive_reader **out, struct cn_err *err);
/* state.bin's bytes in order (unverified until finish): storage_archive_read_fn
 * with the reader as ctx. After an error the reader's message is in
 * storage_archive_error(). */
long storage_archive_read_state(void *rd, void *p, size_t n);
const struct cn_err *storage_archive_error(const struct storage_archive_reader *rd);
/* Read the rest (state.bin bytes nobody read, SHA256SUMS, the end of the
 * tar and of the gzip stream, nothing after it) and verify: every file
 * present once, the sums, meta.json's Version and Size. Fills meta. */
int storage_archive_finish(struct storage_archive_reader *rd, struct storage_archive_meta *meta,
                           struct cn_err *err);
/* Bytes of state.bin that finish drained because the caller had not read
 * them (a restore that stopped early has trailing junk to refuse). */
uint64_t storage_archive_unread(const struct storage_archive_reader *rd);
/* The first bytes of state.bin (up to 8), as seen so far: enough to check
 * the state encoding's magic and version without parsing it. */
size_t storage_archive_state_head(const struct storage_archive_reader *rd, uint8_t out[8]);
void storage_archive_close(struct storage_archive_reader *rd);

/* Open, drain and finish: a full verification (the CLI's save and
 * inspect, the server before it proposes a restore). */
int storage_archive_verify(storage_archive_read_fn in, void *in_ctx,
                           struct storage_archive_meta *meta, struct cn_err *err);

/* A read function over memory, for archives held in a buffer. */
struct storage_archive_mem {
    const uint8_t *p;
    size_t len, pos;
};
long storage_archive_mem_read(void *ctx, void *p, size_t n);

#endif
