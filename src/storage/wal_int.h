/*
 * wal_int.h - the log's private structures, shared by wal.c (running log)
 * and recover.c (open and recovery).
 *
 * Ownership: the caller's thread owns struct storage's segment array and every
 * segment in it. A segment leaves the array only by being handed to the sync
 * thread inside an UNLINK op, which closes and frees it. Fields marked
 * "sync thread" are touched only there (or in open, before threads start);
 * fields marked "mu" only with the mutex held.
 */
#ifndef CAIRN_STORAGE_WAL_INT_H
#define CAIRN_STORAGE_WAL_INT_H

#include "storage/storage_int.h"

#include <pthread.h>

#include "lib/cn_common.h"

struct storage__seg {
    uint64_t seq;
    uint64_t first;  /* index of its first record (from the header) */
    uint64_t count;  /* records */
    uint32_t *offs;  /* record k starts at offs[k] */
    uint64_t *terms; /* and has term terms[k] */
    size_t cap;
    uint64_t end;                /* offset just past the last record */
    uint64_t size;               /* the file's size, from the header: records stay below it */
    uint64_t prev_seq, prev_end; /* from the header (recovery) */
    struct storage_file *f;
    char path[STORAGE_PATH_MAX];
    bool activated;  /* sync thread: header written and synced */
    bool dir_synced; /* sync thread: its directory entry is durable */
    bool dirty;      /* mu: written since the last sync round captured it */
    struct storage__seg *dirty_next;
};

enum storage__op_kind {
    STORAGE__OP_ACTIVATE,   /* write the header, fdatasync */
    STORAGE__OP_UNLINK,     /* close, unlink, fsync dir, free the segment */
    STORAGE__OP_DISCARD,    /* an unused spare: close, unlink, free */
    STORAGE__OP_HARD_STATE, /* write temp, fsync, rename, fsync dir */
};

struct storage__op {
    enum storage__op_kind kind;
    struct storage__seg *seg;
    uint64_t size;
    uint8_t hdr[STORAGE__SEG_HDR];
    uint8_t *buf;
    size_t len;
    uint64_t seq;
    struct storage__op *next;
};

struct storage {
    struct storage_options o;
    struct storage_vfs *vfs;
    char dir[STORAGE_PATH_MAX]; /* <data_dir>/raft */
    char snapdir[STORAGE_PATH_MAX];
    char hs_path[STORAGE_PATH_MAX], hs_tmp[STORAGE_PATH_MAX];
    uint64_t segment_size, pending_max;
    size_t entry_max;
    bool read_only;

    /* caller's thread */
    struct storage__seg **segs;
    size_t nsegs, segs_cap;
    bool need_new_segment; /* the next append starts a segment */
    uint64_t next_index;   /* index the next append must carry (0: any) */
    uint64_t last_term;
    uint8_t *wbuf;
    size_t wcap;
    struct storage_info info;
    struct storage_hard_state hs;
    uint8_t *hs_meta;
    bool has_hs;

    /* shared */
    pthread_mutex_t mu;
    pthread_cond_t sync_cv, done_cv, prep_cv;
    struct storage__op *ops_head, *ops_tail; /* mu */
    struct storage__seg *dirty_head;         /* mu */
    uint64_t written_index, written_term;    /* mu: last entry in the page cache */
    uint64_t epoch;                          /* mu: bumped by every truncation */
    uint64_t pending_bytes;                  /* mu: written, not yet synced */
    struct storage_durable durable;          /* mu */
    uint64_t sync_req, sync_done;            /* mu */
    uint64_t hs_issued;                      /* mu */
    int err;                                 /* mu: sticky */
    bool closing, rerun;                     /* mu */
    struct storage__seg *spare;              /* mu: preallocated next segment */
    bool prep_wanted;                        /* mu */
    uint64_t max_seq;                        /* mu: highest segment number handed out */
    uint64_t cur_seq;                        /* mu: segment appends go to */
    pthread_t sync_thr, prep_thr;
    bool threads;
};

void storage__seg_name(char *out, size_t n, uint64_t seq);
struct storage__seg *storage__seg_new(struct storage *s, uint64_t seq);
void storage__seg_free(struct storage *s, struct storage__seg *g);
void storage__seg_push(struct storage__seg *g, uint64_t off, uint64_t term);
struct storage__seg *storage__seg_find(const struct storage *s, uint64_t index);
int storage__start_threads(struct storage *s);

#endif
