/*
 * storage.h - durable storage for a Raft server: the segmented write-ahead
 * log with group commit, the hard state (term, vote, metadata), snapshot
 * files, crash recovery, and the VFS every file access goes through.
 *
 * On-disk format, fsync policy and the torn-tail rule: docs/storage.md.
 *
 *   <data_dir>/raft/wal-<seq:016x>.seg      log segments (preallocated, rolled)
 *   <data_dir>/raft/hardstate               term, vote, metadata (atomic replace)
 *   <data_dir>/raft/snapshots/snap-<index:016x>-<term:016x>.snap
 *
 * THREADING CONTRACT (the log, struct storage)
 * - One caller thread (the agent's event loop) makes every storage_* call on
 *   a struct storage. Nothing here is safe to call from two threads at once.
 * - storage_append writes records into the page cache on the caller's thread
 *   and returns; it never waits for a disk flush (nor does any other call
 *   except storage_sync, storage_hard_state_save, storage_open and
 *   storage_close, which block by design: startup, shutdown, tests, tools).
 * - A sync thread owned by the storage runs fdatasync covering everything
 *   written so far; appends that arrive while one fdatasync is in flight share
 *   the next one (group commit). A second thread preallocates the next
 *   segment off the hot path.
 * - opts.on_durable is invoked ON THE SYNC THREAD after each flush that made
 *   progress. It must be quick and must not call back into the storage: hop
 *   to the loop (uv_async_send) and read the authoritative watermark there
 *   with storage_durable(). uv_async_send coalesces wake-ups, which is fine:
 *   the watermark only grows (except through the caller's own truncations).
 *
 * DURABILITY (what "durable" means when reported)
 * - An entry is reported durable only after fdatasync of its segment returned
 *   and, if the segment is new, after its directory entry was fsynced and
 *   every earlier segment was fully synced. Truncations and segment removals
 *   are fsynced (file and directory) before any later entry is reported.
 * - Raft's contract maps onto this: acknowledge appended entries only once
 *   storage_durable().index >= their index with a matching term; send a vote
 *   or act in a new term only after the hard state holding it is durable
 *   (storage_durable().hard_state_seq >= the seq storage_hard_state_set
 *   returned, or use storage_hard_state_save, which blocks). A leader may
 *   send entries before its own flush and count itself once they are durable.
 *
 * SNAPSHOTS are independent of struct storage (they are written on a worker
 * thread): each writer or reader object belongs to one thread at a time.
 *
 * Errors: 0 or a negative CN_E* (CN_EIO, CN_ECORRUPT, CN_ENOENT, CN_EINVAL,
 * CN_ETOOBIG, CN_EAGAIN, CN_ECLOSED). Calls that take a struct cn_err fill it
 * with a message naming the file (and offset, for corruption).
 */
#ifndef CAIRN_STORAGE_H
#define CAIRN_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/cn_buf.h"
#include "lib/cn_err.h"

/* ---- limits ---------------------------------------------------------- */

#define STORAGE_ENTRY_MAX            (16u * 1024 * 1024) /* one entry's payload */
#define STORAGE_SEGMENT_SIZE_DEFAULT (64ull * 1024 * 1024)
#define STORAGE_SEGMENT_SIZE_MIN     (64ull * 1024)
#define STORAGE_SEGMENT_SIZE_MAX     (1ull << 30)
#define STORAGE_SEGMENTS_MAX         65536                  /* refuse to open more */
#define STORAGE_APPEND_BATCH_MAX     4096                   /* entries per storage_append */
#define STORAGE_PENDING_MAX_DEFAULT  (256ull * 1024 * 1024) /* written, not yet durable */
#define STORAGE_HARD_STATE_META_MAX  (64 * 1024)
#define STORAGE_SNAP_CONF_MAX        (1024 * 1024) /* configuration blob */
#define STORAGE_SNAP_CHUNK_MAX       (1024 * 1024) /* body chunk on disk */
#define STORAGE_SNAP_RETAIN_DEFAULT  2             /* Consul keeps 2 */
#define STORAGE_SNAP_FILES_MAX       4096          /* listed per directory */
#define STORAGE_PATH_MAX             1024

/* ---- VFS --------------------------------------------------------------- */

/*
 * Every file access of this module goes through a storage_vfs, so tests and
 * simulators can hold unsynced writes apart and cut power (sqlite's test6.c).
 * All functions return 0 or a negative errno (-ENOENT, -EIO, ...). A VFS must
 * be safe to call from several threads at once (the caller's thread, the sync
 * thread and the preallocation thread share it).
 */
struct storage_file; /* a VFS's own handle */

enum storage_open_flags {
    STORAGE_O_RDONLY = 0,
    STORAGE_O_RDWR = 1,
    STORAGE_O_CREAT = 2, /* create if missing */
    STORAGE_O_EXCL = 4,  /* with CREAT: fail with -EEXIST if it exists */
    STORAGE_O_TRUNC = 8,
};

typedef int (*storage_list_fn)(void *ctx, const char *name);

struct storage_vfs {
    int (*open)(struct storage_vfs *v, const char *path, int flags, struct storage_file **out);
    int (*close)(struct storage_vfs *v, struct storage_file *f);
    /* Reads up to n bytes at off; *got < n only at end of file. */
    int (*pread)(struct storage_vfs *v, struct storage_file *f, void *p, size_t n, uint64_t off,
                 size_t *got);
    /* Writes all n bytes at off (into the page cache: not durable). */
    int (*pwrite)(struct storage_vfs *v, struct storage_file *f, const void *p, size_t n,
                  uint64_t off);
    /* fdatasync (data and the size) when data_only, else fsync. */
    int (*sync)(struct storage_vfs *v, struct storage_file *f, bool data_only);
    int (*truncate)(struct storage_vfs *v, struct storage_file *f, uint64_t size);
    /* Make the file at least size bytes long, reading as zeros (fallocate). */
    int (*allocate)(struct storage_vfs *v, struct storage_file *f, uint64_t size);
    int (*size)(struct storage_vfs *v, struct storage_file *f, uint64_t *size);
    int (*rename)(struct storage_vfs *v, const char *from, const char *to);
    int (*unlink)(struct storage_vfs *v, const char *path);
    /* fsync of a directory: makes creations, renames and unlinks in it durable. */
    int (*sync_dir)(struct storage_vfs *v, const char *path);
    /* Create one directory level; an existing one is success. */
    int (*mkdir)(struct storage_vfs *v, const char *path);
    /* Call fn for each entry name (not "." or ".."); a nonzero return stops
     * the walk and is returned. -ENOENT if the directory is missing. */
    int (*list)(struct storage_vfs *v, const char *path, storage_list_fn fn, void *ctx);
};

/* The real file system (open(2), pwrite(2), fdatasync(2), ...). */
struct storage_vfs *storage_vfs_posix(void);

/*
 * A fault-injecting in-memory VFS for tests and simulators. It keeps, for each
 * file, the durable image and the list of writes, truncations and directory
 * changes made since the last sync. storage_fault_crash simulates a power cut:
 * each 512-byte sector shows the unsynced writes that touched it up to a
 * random point (all of them, none, or the first few: a disk writes a sector
 * as the page cache held it at some moment; sectors land in any order), and
 * one that stops short may come back garbled; unsynced truncations and
 * directory changes (create, rename, unlink) are kept or lost at random. Open handles become
 * stale: close them (storage_close) after the crash, then restart the VFS and
 * reopen on it.
 */
enum storage_fault_op {
    STORAGE_FAULT_OPEN,
    STORAGE_FAULT_READ,
    STORAGE_FAULT_WRITE,
    STORAGE_FAULT_SYNC,
    STORAGE_FAULT_TRUNCATE,
    STORAGE_FAULT_ALLOCATE,
    STORAGE_FAULT_RENAME,
    STORAGE_FAULT_UNLINK,
    STORAGE_FAULT_SYNC_DIR,
    STORAGE_FAULT_LIST,
    STORAGE_FAULT_OPS_
};

struct storage_crash_opts {
    uint64_t seed;
    unsigned keep_percent;   /* chance a sector keeps all its unsynced writes, and
                              * a metadata change survives (else: a random prefix) */
    unsigned garble_percent; /* chance a sector short of its writes holds random bytes */
};

struct storage_vfs *storage_fault_new(void);
void storage_fault_free(struct storage_vfs *v);
/* Fail the nth (1-based, counted from now) call of op with err (e.g. -EIO);
 * sticky: when nth is 0 every later call fails. err 0 clears. */
void storage_fault_inject(struct storage_vfs *v, enum storage_fault_op op, uint64_t nth, int err);
/* Calls of op so far (tests use it to pick an injection point). */
uint64_t storage_fault_count(struct storage_vfs *v, enum storage_fault_op op);
/* Power cut: the files become what a disk would show after reboot, and the
 * VFS stays off (every call fails with -EIO, so threads still running on it
 * change nothing) until storage_fault_restart. */
void storage_fault_crash(struct storage_vfs *v, const struct storage_crash_opts *o);
void storage_fault_restart(struct storage_vfs *v);
/* Direct access to a file's current contents (tests flip bytes with it). */
int storage_fault_read_file(struct storage_vfs *v, const char *path, struct cn_buf *out);
int storage_fault_write_file(struct storage_vfs *v, const char *path, const void *p, size_t n);
/* Bytes written but not yet synced, over all files (tests and simulators). */
uint64_t storage_fault_unsynced(struct storage_vfs *v);

/* ---- the log ----------------------------------------------------------- */

/* One log entry. data is borrowed for the duration of the call that takes it. */
struct storage_entry {
    uint64_t index; /* >= 1, consecutive within the log */
    uint64_t term;  /* >= 1, never decreasing along the log */
    uint8_t type;   /* opaque to storage (Raft's entry kind) */
    const void *data;
    size_t len; /* <= opts.entry_max */
};

/* Raft's hard state. meta is an opaque blob for whatever else must survive
 * with term and vote (<= STORAGE_HARD_STATE_META_MAX). */
struct storage_hard_state {
    uint64_t term;
    uint64_t vote; /* 0: none */
    const void *meta;
    size_t meta_len;
};

/* A durability report: what is on stable storage now. */
struct storage_durable {
    uint64_t index;          /* every entry <= index in the log is durable (0: none) */
    uint64_t term;           /* term of entry `index` (0 with index 0) */
    uint64_t hard_state_seq; /* the last storage_hard_state_set made durable */
    int err;                 /* 0, or the I/O error that failed the log (sticky) */
};

/* Called on the SYNC THREAD; see the threading contract at the top. */
typedef void (*storage_durable_fn)(void *ctx, const struct storage_durable *d);

struct storage_options {
    const char *dir;               /* data_dir: the log lives in <dir>/raft/ (created if missing) */
    struct storage_vfs *vfs;       /* NULL: storage_vfs_posix() */
    uint64_t segment_size;         /* 0: STORAGE_SEGMENT_SIZE_DEFAULT */
    size_t entry_max;              /* 0: STORAGE_ENTRY_MAX; at most that */
    uint64_t pending_max;          /* 0: STORAGE_PENDING_MAX_DEFAULT */
    storage_durable_fn on_durable; /* may be NULL (poll storage_durable) */
    void *ctx;
    /* Tools (inspect): load and verify only. No threads, no repair of a torn
     * tail (it is reported in storage_info), every write call fails. */
    bool read_only;
};

/* What open found (and repaired). */
struct storage_info {
    uint64_t first_index, last_index, last_term; /* 0,0,0 for an empty log */
    unsigned segments;
    bool has_hard_state;
    bool torn_tail; /* a torn tail was found: the log ends before it */
    char torn_file[STORAGE_PATH_MAX];
    uint64_t torn_offset;        /* where the log ends in torn_file */
    uint64_t torn_bytes;         /* the rest of that file, now dead */
    unsigned discarded_segments; /* never-activated segments removed */
};

struct storage;

/*
 * Open (creating if needed) and recover the log in <dir>/raft/. A torn tail is
 * cut and logged at WARN; damage that a crash cannot explain (a complete
 * record with a bad checksum, a checksum mismatch followed by records proving
 * the damaged one was durable, a bad record in a segment followed by an
 * activated one, a gap between segments, a segment file of the wrong size)
 * fails with CN_ECORRUPT and err naming the file and byte offset. The rule is
 * spelled out in docs/storage.md and recover.c. Blocks (startup).
 */
int storage_open(const struct storage_options *o, struct storage **out, struct cn_err *err);
/* Flush what was written (blocking), stop the threads, close everything. */
void storage_close(struct storage *s);
void storage_get_info(const struct storage *s, struct storage_info *out);

/* First and last index in the log (0 when empty) and the last entry's term. */
uint64_t storage_first_index(const struct storage *s);
uint64_t storage_last_index(const struct storage *s);
uint64_t storage_last_term(const struct storage *s);
/* Term of the entry at index; CN_ENOENT outside [first, last]. */
int storage_term(const struct storage *s, uint64_t index, uint64_t *term);

/*
 * Append n entries (1 <= n <= STORAGE_APPEND_BATCH_MAX). The first index must
 * be last_index + 1 (any index >= 1 when the log is empty, e.g. after reset),
 * indexes consecutive, terms >= the previous entry's. Data is copied into the
 * page cache before returning; durability comes later through on_durable.
 * CN_EAGAIN: more than opts.pending_max bytes are waiting for a flush (retry
 * after on_durable); CN_ETOOBIG: an entry exceeds entry_max; CN_EIO (or the
 * sticky error): the log has failed and the server must stop.
 */
int storage_append(struct storage *s, const struct storage_entry *e, size_t n);

/*
 * Read entries [lo, hi) into out (at most max_n of them), stopping early once
 * max_bytes of payload were read (at least one entry is always returned).
 * Payloads are copied into buf (reset first, owned by the caller); out[i].data
 * points into buf and stays valid until buf changes. Each record's checksum is
 * verified again (CN_ECORRUPT, with err naming the file and offset).
 */
int storage_entries(struct storage *s, uint64_t lo, uint64_t hi, size_t max_bytes,
                    struct storage_entry *out, size_t max_n, size_t *n, struct cn_buf *buf,
                    struct cn_err *err);

/* Remove entries >= index (Raft: conflicting entries). The next append must
 * be at index. The durable watermark drops to index - 1 at once. The removal
 * is durable once a later storage_durable() report (or storage_sync) covers
 * it; after a crash before that, the log holds some prefix of the old log at
 * least index - 1 long. No byte is rewritten: a new segment starts here and
 * its header says where the log ends in the old one. */
int storage_truncate_suffix(struct storage *s, uint64_t index);
/* Drop whole segments whose entries are all < index (after a snapshot at
 * index - 1). Entries >= index are kept, and so may be a few older ones that
 * share a segment with them: first_index tells. */
int storage_truncate_prefix(struct storage *s, uint64_t index);
/* Drop every entry; the next append must be at next_index (Raft: a snapshot
 * was installed that the log does not match). After a crash before this is
 * durable the log may hold a prefix of the old one: compare with the snapshot
 * on startup. */
int storage_reset(struct storage *s, uint64_t next_index);

/* The authoritative durability watermark (caller's thread). */
void storage_durable(struct storage *s, struct storage_durable *out);
/* Block until everything appended and set so far is durable (tests, tools,
 * shutdown). Returns the log's sticky error if it has failed. */
int storage_sync(struct storage *s);

/* The hard state as loaded or last set (meta points into storage memory,
 * valid until the next set). has is false when none was ever saved. */
void storage_hard_state(const struct storage *s, struct storage_hard_state *out, bool *has);
/* Queue an atomic replacement of the hard state (write temp, fsync, rename,
 * fsync dir) on the sync thread; *seq (may be NULL) is the number that
 * storage_durable().hard_state_seq reaches once it is durable. */
int storage_hard_state_set(struct storage *s, const struct storage_hard_state *hs, uint64_t *seq);
/* The same, blocking until durable. */
int storage_hard_state_save(struct storage *s, const struct storage_hard_state *hs);

/* "<dir>/raft/snapshots": where this server's snapshots live. */
const char *storage_snapshot_dir(const struct storage *s);

/* ---- snapshots ----------------------------------------------------------- */

/*
 * A snapshot file: a versioned header (magic, version, index, term, creation
 * time, an opaque configuration blob), the body as checksummed chunks, and a
 * trailer with the body's length and total checksum. The body is streamed in:
 * begin -> write(piece)... -> commit (fsync, atomic rename, fsync dir, then
 * retention of the newest `retain`) or abort. Nothing is ever built whole in
 * memory; the reader streams it back at disk speed, verifying as it goes.
 */
struct storage_snap_opts {
    const char *dir;         /* the snapshot folder (created if missing) */
    struct storage_vfs *vfs; /* NULL: posix */
    unsigned retain;         /* snapshots kept after a commit; 0: 2 */
};

struct storage_snapshot_meta {
    uint32_t version;   /* format version read (inspect); ignored by begin */
    uint64_t index;     /* last log index the snapshot covers */
    uint64_t term;      /* its term */
    int64_t created_ns; /* wall clock, Unix epoch ns (begin: 0 means now) */
    const void *conf;   /* opaque (Raft configuration), <= STORAGE_SNAP_CONF_MAX */
    size_t conf_len;
    /* Filled by inspect/open (ignored by begin): */
    uint64_t body_len;
    uint32_t body_crc;
    uint64_t chunks;
    uint64_t file_size;
};

struct storage_snapshot_writer;
struct storage_snapshot_reader;

int storage_snapshot_begin(const struct storage_snap_opts *o, const struct storage_snapshot_meta *m,
                           struct storage_snapshot_writer **out, struct cn_err *err);
/* Append a piece of the body (any size; buffered into chunks). */
int storage_snapshot_write(struct storage_snapshot_writer *w, const void *p, size_t n);
/* Adapter with state_write_fn's shape: ctx is the writer. */
int storage_snapshot_write_fn(void *ctx, const void *p, size_t n);
/* Finish: trailer, fsync, rename into place, fsync dir, drop old snapshots.
 * Frees w whatever the outcome; on failure the temp file is removed. The
 * final path is copied to path_out (STORAGE_PATH_MAX) when not NULL. */
int storage_snapshot_commit(struct storage_snapshot_writer *w, char *path_out, struct cn_err *err);
/* Give up: remove the temp file, free w. */
void storage_snapshot_abort(struct storage_snapshot_writer *w);

/* Open one snapshot file: header and trailer are checked now, the body as it
 * is read. meta (may be NULL) points into the reader (conf included). */
int storage_snapshot_open(struct storage_vfs *vfs, const char *path,
                          struct storage_snapshot_reader **out, struct cn_err *err);
/* Open the newest snapshot in o->dir whose header and trailer are valid
 * (invalid ones are logged and skipped: an older one is still a snapshot).
 * CN_ENOENT when there is none. */
int storage_snapshot_open_latest(const struct storage_snap_opts *o,
                                 struct storage_snapshot_reader **out, struct cn_err *err);
const struct storage_snapshot_meta *
storage_snapshot_reader_meta(const struct storage_snapshot_reader *r);
const char *storage_snapshot_reader_path(const struct storage_snapshot_reader *r);
/*
 * Next verified chunk of the body: *p points into the reader until the next
 * call. *n == 0 means the end, reached only after the trailer's length and
 * total checksum matched. A restore must treat its input as bad unless it
 * saw that end: CN_ECORRUPT may come after earlier chunks were handed out.
 */
int storage_snapshot_next(struct storage_snapshot_reader *r, const void **p, size_t *n,
                          struct cn_err *err);
/* Adapter with state_read_fn's shape: copies up to n bytes, 0 at the
 * verified end, negative on error (details via storage_snapshot_error). */
long storage_snapshot_read_fn(void *ctx, void *p, size_t n);
const struct cn_err *storage_snapshot_error(const struct storage_snapshot_reader *r);
void storage_snapshot_close(struct storage_snapshot_reader *r);

/* Read and verify a whole snapshot file, filling meta (conf is a heap copy
 * the caller frees with free()). `cairn snapshot inspect`. */
int storage_snapshot_inspect(struct storage_vfs *vfs, const char *path,
                             struct storage_snapshot_meta *meta, struct cn_err *err);

/* Snapshots in a directory, newest first (by index, then term). */
struct storage_snapshot_file {
    uint64_t index, term;
    char name[64];
};
int storage_snapshot_list(const struct storage_snap_opts *o, struct storage_snapshot_file *out,
                          size_t max, size_t *n, struct cn_err *err);

#endif
