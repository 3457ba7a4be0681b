/*
 * wal.c - the segmented log: append on the caller's thread, group commit on
 * the sync thread, preallocation on the prep thread; truncation, reads, the
 * hard state. Recovery (open) lives in recover.c.
 *
 * The ordering rules that make recovery decidable (docs/storage.md):
 *  1. A segment's header is written by the sync thread only after every
 *     earlier segment was fully synced and every earlier truncation and
 *     removal was made durable ("activation"). So a valid header proves all
 *     that precedes it was durable; records the caller wrote into a segment
 *     before its activation are unreported until the activation's fdatasync.
 *  2. Every record carries the durable watermark seen when it was written, so
 *     a record found past damage proves (or not) that the damaged record had
 *     been durable: recovery's torn-tail test.
 *  3. No byte of a segment is ever rewritten and no segment ever shrinks
 *     (they are allocated whole: a short one was truncated behind our back).
 *     A truncation of the suffix, or a torn tail cut at open, starts a fresh
 *     segment whose header names its predecessor and the offset where the
 *     log ends in it (prev_seq, prev_end); the bytes after that offset are
 *     dead. Removals of later segments are durable before that header is
 *     written (rule 1), so a crash leaves either the old log or the new one.
 */
#include "storage/wal_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lib/cn_log.h"

/* ---- segments ------------------------------------------------------------ */

void storage__seg_name(char *out, size_t n, uint64_t seq)
{
    snprintf(out, n, "wal-%016" PRIx64 ".seg", seq);
}

struct storage__seg *storage__seg_new(struct storage *s, uint64_t seq)
{
    struct storage__seg *g = CN_NEW(struct storage__seg);
    char name[64];
    g->seq = seq;
    storage__seg_name(name, sizeof name, seq);
    CN_ASSERT(storage__path(g->path, s->dir, name) == 0);
    return g;
}

void storage__seg_free(struct storage *s, struct storage__seg *g)
{
    if (!g) return;
    if (g->f) s->vfs->close(s->vfs, g->f);
    cn_free(g->offs);
    cn_free(g->terms);
    cn_free(g);
}

void storage__seg_push(struct storage__seg *g, uint64_t off, uint64_t term)
{
    if (g->count == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 256;
        g->offs = cn_realloc(g->offs, g->cap * sizeof *g->offs);
        g->terms = cn_realloc(g->terms, g->cap * sizeof *g->terms);
    }
    g->offs[g->count] = (uint32_t)off;
    g->terms[g->count] = term;
    g->count++;
}

/* Create a segment file (the prep thread preallocates and syncs it; the
 * caller's fallback does neither, and its activation syncs the directory). */
static int seg_create(struct storage *s, struct storage__seg *g, bool prealloc)
{
    int rc =
        s->vfs->open(s->vfs, g->path, STORAGE_O_RDWR | STORAGE_O_CREAT | STORAGE_O_EXCL, &g->f);
    if (rc < 0) return rc;
    if (prealloc) {
        rc = s->vfs->allocate(s->vfs, g->f, s->segment_size);
        if (!rc) rc = s->vfs->sync(s->vfs, g->f, false);
        if (!rc) rc = s->vfs->sync_dir(s->vfs, s->dir);
        if (!rc) g->dir_synced = true;
    }
    return rc;
}

static void seg_discard_file(struct storage *s, struct storage__seg *g)
{
    if (g->f) s->vfs->close(s->vfs, g->f);
    g->f = NULL;
    s->vfs->unlink(s->vfs, g->path);
    storage__seg_free(s, g);
}

/* ---- the sync thread ------------------------------------------------------ */

static void op_push_locked(struct storage *s, struct storage__op *op)
{
    if (s->ops_tail)
        s->ops_tail->next = op;
    else
        s->ops_head = op;
    s->ops_tail = op;
}

static void dirty_locked(struct storage *s, struct storage__seg *g)
{
    if (g->dirty) return;
    g->dirty = true;
    g->dirty_next = s->dirty_head;
    s->dirty_head = g;
}

static bool has_work_locked(struct storage *s)
{
    return s->ops_head || s->dirty_head || s->rerun || s->sync_req > s->sync_done;
}

static int op_hard_state(struct storage *s, struct storage__op *op)
{
    struct storage_file *f = NULL;
    int rc =
        s->vfs->open(s->vfs, s->hs_tmp, STORAGE_O_RDWR | STORAGE_O_CREAT | STORAGE_O_TRUNC, &f);
    if (rc < 0) return rc;
    rc = s->vfs->pwrite(s->vfs, f, op->buf, op->len, 0);
    if (!rc) rc = s->vfs->sync(s->vfs, f, false);
    s->vfs->close(s->vfs, f);
    if (!rc) rc = s->vfs->rename(s->vfs, s->hs_tmp, s->hs_path);
    if (!rc) rc = s->vfs->sync_dir(s->vfs, s->dir);
    return rc;
}

/* Run one queued operation on the sync thread; frees what the op owns. */
static int op_run(struct storage *s, struct storage__op *op, int rc)
{
    struct storage__seg *g = op->seg;
    switch (op->kind) {
    case STORAGE__OP_ACTIVATE:
        if (!rc && !g->dir_synced) {
            /* Made inline by the caller: give it its full size first, so an
             * activated segment is always exactly as long as its header says. */
            rc = s->vfs->allocate(s->vfs, g->f, g->size);
            if (!rc) rc = s->vfs->sync(s->vfs, g->f, false);
            if (!rc) rc = s->vfs->sync_dir(s->vfs, s->dir);
        }
        if (!rc) g->dir_synced = true;
        if (!rc) rc = s->vfs->pwrite(s->vfs, g->f, op->hdr, STORAGE__SEG_HDR, 0);
        if (!rc) rc = s->vfs->sync(s->vfs, g->f, true);
        if (!rc) g->activated = true;
        break;
    case STORAGE__OP_UNLINK: {
        /* Newest first for suffixes, oldest first for prefixes: a directory
         * sync after each keeps what a crash leaves a contiguous log. */
        s->vfs->close(s->vfs, g->f);
        g->f = NULL;
        if (!rc) {
            rc = s->vfs->unlink(s->vfs, g->path);
            if (rc == -ENOENT) rc = 0;
        }
        if (!rc) rc = s->vfs->sync_dir(s->vfs, s->dir);
        storage__seg_free(s, g);
        break;
    }
    case STORAGE__OP_DISCARD:
        seg_discard_file(s, g);
        break;
    case STORAGE__OP_HARD_STATE:
        if (!rc) rc = op_hard_state(s, op);
        break;
    }
    cn_free(op->buf);
    cn_free(op);
    return rc;
}

static void sync_fail_locked(struct storage *s, int rc)
{
    if (s->err) return;
    s->err = storage__errcode(rc);
    s->durable.err = s->err;
    CN_ERROR("storage", "log failed, no further writes: %s (%d)", cn_strerror(rc), rc);
}

/* One group commit: everything written before the capture shares it. */
static void sync_round(struct storage *s)
{
    struct storage__op *ops = s->ops_head;
    struct storage__seg *dirty = s->dirty_head;
    uint64_t target = s->written_index, tterm = s->written_term, epoch = s->epoch;
    uint64_t req = s->sync_req, pend = s->pending_bytes, hs_seq = 0;
    int rc = s->err;
    /* Copy the dirty list: once unlocked, the caller may mark a segment dirty
     * again, which relinks dirty_next under our feet. */
    size_t ndirty = 0;
    for (struct storage__seg *g = dirty; g; g = g->dirty_next)
        ndirty++;
    struct storage__seg **segs = cn_malloc((ndirty ? ndirty : 1) * sizeof *segs);
    ndirty = 0;
    for (struct storage__seg *g = dirty; g; g = g->dirty_next) {
        g->dirty = false;
        segs[ndirty++] = g;
    }
    s->ops_head = s->ops_tail = NULL;
    s->dirty_head = NULL;
    s->rerun = false;
    pthread_mutex_unlock(&s->mu);

    for (size_t i = 0; i < ndirty && !rc; i++)
        if (segs[i]->activated) rc = s->vfs->sync(s->vfs, segs[i]->f, true);
    cn_free(segs);
    for (struct storage__op *op = ops, *nx; op; op = nx) {
        nx = op->next;
        if (op->kind == STORAGE__OP_HARD_STATE) hs_seq = op->seq;
        rc = op_run(s, op, rc);
    }

    pthread_mutex_lock(&s->mu);
    bool changed = false;
    if (rc) {
        changed = !s->err;
        sync_fail_locked(s, rc);
    } else {
        s->pending_bytes -= pend < s->pending_bytes ? pend : s->pending_bytes;
        if (epoch != s->epoch) {
            s->rerun = true; /* truncated meanwhile: this target may name dropped entries */
        } else if (target != s->durable.index) {
            s->durable.index = target;
            s->durable.term = tterm;
            changed = true;
        }
        if (hs_seq > s->durable.hard_state_seq) {
            s->durable.hard_state_seq = hs_seq;
            changed = true;
        }
    }
    struct storage_durable report = s->durable;
    if (changed && s->o.on_durable) {
        pthread_mutex_unlock(&s->mu);
        s->o.on_durable(s->o.ctx, &report);
        pthread_mutex_lock(&s->mu);
    }
    /* After the report: when storage_sync returns, on_durable has seen it. */
    s->sync_done = req;
    pthread_cond_broadcast(&s->done_cv);
}

static void *sync_main(void *arg)
{
    struct storage *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!has_work_locked(s) && !s->closing)
            pthread_cond_wait(&s->sync_cv, &s->mu);
        if (!has_work_locked(s)) break;
        sync_round(s);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- the preallocation thread ------------------------------------------------ */

static void *prep_main(void *arg)
{
    struct storage *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->closing && (s->spare || !s->prep_wanted))
            pthread_cond_wait(&s->prep_cv, &s->mu);
        if (s->closing) break;
        uint64_t seq = ++s->max_seq;
        pthread_mutex_unlock(&s->mu);
        struct storage__seg *g = storage__seg_new(s, seq);
        int rc = seg_create(s, g, true);
        pthread_mutex_lock(&s->mu);
        if (rc < 0) {
            /* The caller falls back to creating segments itself; retry at the next roll. */
            CN_WARN("storage", "cannot preallocate %s: %s", g->path, cn_strerror(rc));
            s->prep_wanted = false;
        } else if (s->closing || seq <= s->cur_seq) {
            rc = 1; /* overtaken by a segment the caller made itself */
        } else {
            s->spare = g;
            g = NULL;
        }
        if (g) {
            pthread_mutex_unlock(&s->mu);
            seg_discard_file(s, g);
            pthread_mutex_lock(&s->mu);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int storage__start_threads(struct storage *s)
{
    s->prep_wanted = true;
    if (pthread_create(&s->sync_thr, NULL, sync_main, s) != 0) return CN_ENOMEM;
    if (pthread_create(&s->prep_thr, NULL, prep_main, s) != 0) {
        pthread_mutex_lock(&s->mu);
        s->closing = true;
        pthread_cond_broadcast(&s->sync_cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->sync_thr, NULL);
        return CN_ENOMEM;
    }
    s->threads = true;
    return 0;
}

/* ---- caller side: appends ------------------------------------------------------ */

static int segs_add(struct storage *s, struct storage__seg *g)
{
    if (s->nsegs == STORAGE_SEGMENTS_MAX) return CN_ETOOBIG;
    if (s->nsegs == s->segs_cap) {
        s->segs_cap = s->segs_cap ? s->segs_cap * 2 : 16;
        s->segs = cn_realloc(s->segs, s->segs_cap * sizeof *s->segs);
    }
    s->segs[s->nsegs++] = g;
    return 0;
}

/* Start the segment whose first record will be first_index: take the
 * preallocated spare, or make one now if the prep thread is behind. */
static int roll(struct storage *s, uint64_t first_index)
{
    struct storage__seg *prev = s->nsegs ? s->segs[s->nsegs - 1] : NULL, *g, *stale = NULL;
    uint64_t seq = 0;
    if (s->nsegs == STORAGE_SEGMENTS_MAX) return CN_ETOOBIG;
    pthread_mutex_lock(&s->mu);
    g = s->spare;
    s->spare = NULL;
    if (g && g->seq <= s->cur_seq) {
        stale = g;
        g = NULL;
    }
    if (!g) seq = ++s->max_seq;
    s->cur_seq = g ? g->seq : seq;
    s->prep_wanted = true;
    pthread_cond_signal(&s->prep_cv);
    pthread_mutex_unlock(&s->mu);
    if (stale) seg_discard_file(s, stale);
    if (!g) {
        g = storage__seg_new(s, seq);
        int rc = seg_create(s, g, false);
        if (rc < 0) {
            storage__seg_free(s, g);
            return storage__errcode(rc);
        }
        CN_DEBUG("storage", "no preallocated segment ready; created %s inline", g->path);
    }
    g->first = first_index;
    g->end = STORAGE__SEG_DATA;
    g->size = s->segment_size;
    struct storage__op *op = CN_NEW(struct storage__op);
    op->kind = STORAGE__OP_ACTIVATE;
    op->seg = g;
    struct storage__seg_hdr h = {g->seq, first_index, g->size, prev ? prev->seq : 0,
                                 prev ? prev->end : 0};
    storage__seg_hdr_encode(op->hdr, &h);
    pthread_mutex_lock(&s->mu);
    /* The previous segment is complete: its last writes must be synced before
     * this activation, so mark it in the same breath as queuing the op. */
    if (prev) dirty_locked(s, prev);
    op_push_locked(s, op);
    pthread_cond_signal(&s->sync_cv);
    pthread_mutex_unlock(&s->mu);
    CN_ASSERT(segs_add(s, g) == 0);
    s->need_new_segment = false;
    return 0;
}

static int check_batch(struct storage *s, const struct storage_entry *e, size_t n, uint64_t *bytes)
{
    uint64_t prev_index = s->next_index ? s->next_index - 1 : 0, prev_term = s->last_term;
    *bytes = 0;
    if (n == 0 || n > STORAGE_APPEND_BATCH_MAX) return CN_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (e[i].len > s->entry_max) return CN_ETOOBIG;
        if (e[i].len && !e[i].data) return CN_EINVAL;
        if (e[i].index == 0 || e[i].term == 0 || e[i].term < prev_term) return CN_EINVAL;
        if ((i > 0 || s->next_index) && e[i].index != prev_index + 1) return CN_EINVAL;
        prev_index = e[i].index;
        prev_term = e[i].term;
        *bytes += storage__rec_size(e[i].len);
    }
    return 0;
}

static void wbuf_reserve(struct storage *s, size_t n)
{
    if (n <= s->wcap) return;
    size_t cap = s->wcap ? s->wcap : 64 * 1024;
    while (cap < n)
        cap *= 2;
    cn_free(s->wbuf);
    s->wbuf = cn_malloc(cap);
    s->wcap = cap;
}

/* Write e[i..j) into the current segment with one pwrite. */
static int write_run(struct storage *s, struct storage__seg *g, const struct storage_entry *e,
                     size_t i, size_t j, uint64_t durable)
{
    size_t bytes = 0;
    for (size_t k = i; k < j; k++)
        bytes += storage__rec_size(e[k].len);
    wbuf_reserve(s, bytes);
    uint8_t *p = s->wbuf;
    for (size_t k = i; k < j; k++) {
        size_t sz = storage__rec_size(e[k].len);
        storage__rec_encode(p, &e[k], durable);
        if (e[k].len) memcpy(p + STORAGE__REC_HDR, e[k].data, e[k].len);
        memset(p + STORAGE__REC_HDR + e[k].len, 0, sz - STORAGE__REC_HDR - e[k].len);
        p += sz;
    }
    int rc = s->vfs->pwrite(s->vfs, g->f, s->wbuf, bytes, g->end);
    if (rc < 0) return rc;
    for (size_t k = i; k < j; k++) {
        storage__seg_push(g, g->end, e[k].term);
        g->end += storage__rec_size(e[k].len);
    }
    return 0;
}

int storage_append(struct storage *s, const struct storage_entry *e, size_t n)
{
    uint64_t bytes;
    if (s->read_only) return CN_EPERM;
    int rc = check_batch(s, e, n, &bytes);
    if (rc) return rc;
    pthread_mutex_lock(&s->mu);
    rc = s->err;
    uint64_t durable = s->durable.index, pending = s->pending_bytes;
    pthread_mutex_unlock(&s->mu);
    if (rc) return rc;
    if (pending && pending + bytes > s->pending_max) return CN_EAGAIN;

    size_t first_touched = s->nsegs;
    for (size_t i = 0; i < n;) {
        struct storage__seg *g = s->nsegs && !s->need_new_segment ? s->segs[s->nsegs - 1] : NULL;
        if (!g || g->end + storage__rec_size(e[i].len) > g->size) {
            rc = roll(s, e[i].index);
            if (rc && i > 0) {
                /* Part of the batch is written and cannot be taken back. */
                pthread_mutex_lock(&s->mu);
                sync_fail_locked(s, rc);
                pthread_mutex_unlock(&s->mu);
            }
            if (rc) return rc; /* with i == 0 nothing was written: the caller may retry */
            g = s->segs[s->nsegs - 1];
        }
        if (s->nsegs - 1 < first_touched) first_touched = s->nsegs - 1;
        size_t j = i;
        uint64_t end = g->end;
        while (j < n && end + storage__rec_size(e[j].len) <= g->size)
            end += storage__rec_size(e[j++].len);
        rc = write_run(s, g, e, i, j, durable);
        if (rc < 0) {
            /* The page cache may now hold part of a batch: fail the log. */
            pthread_mutex_lock(&s->mu);
            sync_fail_locked(s, rc);
            pthread_mutex_unlock(&s->mu);
            return s->err;
        }
        s->next_index = e[j - 1].index + 1;
        s->last_term = e[j - 1].term;
        i = j;
    }
    pthread_mutex_lock(&s->mu);
    for (size_t k = first_touched; k < s->nsegs; k++)
        dirty_locked(s, s->segs[k]);
    s->written_index = e[n - 1].index;
    s->written_term = e[n - 1].term;
    s->pending_bytes += bytes;
    pthread_cond_signal(&s->sync_cv);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* ---- caller side: lookups and reads ----------------------------------------------- */

/* The segment holding index, or NULL. */
struct storage__seg *storage__seg_find(const struct storage *s, uint64_t index)
{
    size_t lo = 0, hi = s->nsegs;
    while (lo < hi) { /* first segment with first > index */
        size_t mid = lo + (hi - lo) / 2;
        if (s->segs[mid]->first <= index)
            lo = mid + 1;
        else
            hi = mid;
    }
    while (lo > 0) {
        struct storage__seg *g = s->segs[--lo];
        if (index >= g->first && index < g->first + g->count) return g;
        if (g->count) return NULL;
    }
    return NULL;
}

uint64_t storage_first_index(const struct storage *s)
{
    for (size_t i = 0; i < s->nsegs; i++)
        if (s->segs[i]->count) return s->segs[i]->first;
    return 0;
}

uint64_t storage_last_index(const struct storage *s)
{
    for (size_t i = s->nsegs; i > 0; i--) {
        const struct storage__seg *g = s->segs[i - 1];
        if (g->count) return g->first + g->count - 1;
    }
    return 0;
}

uint64_t storage_last_term(const struct storage *s)
{
    return storage_last_index(s) ? s->last_term : 0;
}

int storage_term(const struct storage *s, uint64_t index, uint64_t *term)
{
    const struct storage__seg *g = storage__seg_find(s, index);
    if (!g) return CN_ENOENT;
    *term = g->terms[index - g->first];
    return 0;
}

static uint64_t rec_span(const struct storage__seg *g, uint64_t k)
{
    return (k + 1 < g->count ? g->offs[k + 1] : g->end) - g->offs[k];
}

/* Read records [k0, k1) of g into buf and check each one again. */
static int read_run(struct storage *s, struct storage__seg *g, uint64_t k0, uint64_t k1,
                    struct cn_buf *buf, size_t *pos, struct storage_entry *out, struct cn_err *err)
{
    uint64_t off = g->offs[k0], span = (k1 < g->count ? g->offs[k1] : g->end) - off;
    char *at;
    int rc = cn_buf_reserve(buf, (size_t)span, &at);
    if (rc) return rc;
    size_t base = buf->len;
    rc = storage__read_full(s->vfs, g->f, at, (size_t)span, off);
    if (rc)
        return cn_err_set(err, storage__errcode(rc), "%s: read at offset %" PRIu64 ": %s", g->path,
                          off, cn_strerror(rc));
    buf->len += (size_t)span;
    buf->data[buf->len] = '\0';
    const uint8_t *p = (const uint8_t *)buf->data + base;
    for (uint64_t k = k0; k < k1; k++) {
        size_t rel = (size_t)(g->offs[k] - off);
        struct storage__rec r;
        enum storage__rec_status st =
            storage__rec_decode(p + rel, (size_t)(span - rel), s->entry_max, &r);
        if (st != STORAGE__REC_OK || r.index != g->first + k || r.term != g->terms[k])
            return cn_err_set(err, CN_ECORRUPT, "%s: record at offset %" PRIu64 ": %s", g->path,
                              (uint64_t)g->offs[k],
                              st == STORAGE__REC_OK ? "unexpected index or term"
                                                    : storage__rec_status_str(st));
        out[*pos] =
            (struct storage_entry){r.index, r.term, r.type,
                                   (const void *)(uintptr_t)(base + rel + STORAGE__REC_HDR), r.len};
        (*pos)++;
    }
    return 0;
}

int storage_entries(struct storage *s, uint64_t lo, uint64_t hi, size_t max_bytes,
                    struct storage_entry *out, size_t max_n, size_t *n, struct cn_buf *buf,
                    struct cn_err *err)
{
    *n = 0;
    cn_buf_reset(buf);
    if (lo >= hi || max_n == 0) return CN_EINVAL;
    uint64_t first = storage_first_index(s), last = storage_last_index(s);
    if (!last || lo < first || hi > last + 1)
        return cn_err_set(err, CN_ENOENT, "entries [%" PRIu64 ", %" PRIu64 ") not in the log", lo,
                          hi);
    size_t pos = 0;
    uint64_t bytes = 0, idx = lo;
    while (idx < hi && pos < max_n) {
        struct storage__seg *g = storage__seg_find(s, idx);
        if (CN_NEVER(!g)) return CN_ECORRUPT;
        uint64_t k0 = idx - g->first, k1 = k0, stop = CN_MIN(hi - g->first, g->count);
        while (k1 < stop && pos + (k1 - k0) < max_n) {
            uint64_t sz = rec_span(g, k1) - STORAGE__REC_HDR;
            if ((pos || k1 > k0) && bytes + sz > max_bytes) break;
            bytes += sz;
            k1++;
        }
        if (k1 == k0) break;
        int rc = read_run(s, g, k0, k1, buf, &pos, out, err);
        while (rc == CN_ETOOBIG && k1 - k0 > 1) { /* the caller's buffer: what fits */
            k1 = k0 + (k1 - k0) / 2;
            rc = read_run(s, g, k0, k1, buf, &pos, out, err);
        }
        if (rc == CN_ETOOBIG && pos) break;
        if (rc) return rc;
        idx = g->first + k1;
        if (k1 < stop) break;
    }
    for (size_t i = 0; i < pos; i++)
        out[i].data = buf->data + (uintptr_t)out[i].data;
    *n = pos;
    return 0;
}

/* ---- caller side: truncation ------------------------------------------------------- */

/* Queue removal of segs[from..] (newest first) and forget them. */
static void drop_tail_segments_locked(struct storage *s, size_t from)
{
    for (size_t i = s->nsegs; i > from; i--) {
        struct storage__op *op = CN_NEW(struct storage__op);
        op->kind = STORAGE__OP_UNLINK;
        op->seg = s->segs[i - 1];
        op_push_locked(s, op);
    }
    s->nsegs = from;
}

static void after_truncate_locked(struct storage *s, uint64_t keep_last)
{
    uint64_t t = 0;
    if (keep_last && storage_term(s, keep_last, &t) != 0) keep_last = 0;
    s->written_index = keep_last;
    s->written_term = t;
    if (s->durable.index > keep_last) {
        s->durable.index = keep_last;
        s->durable.term = t;
    }
    s->epoch++;
    s->need_new_segment = true;
    pthread_cond_signal(&s->sync_cv);
}

int storage_truncate_suffix(struct storage *s, uint64_t index)
{
    if (s->read_only) return CN_EPERM;
    uint64_t first = storage_first_index(s), last = storage_last_index(s);
    if (index == 0 || (last && index > last + 1) ||
        (!last && s->next_index && index > s->next_index))
        return CN_EINVAL;
    if (last == 0 || index > last) return 0;
    pthread_mutex_lock(&s->mu);
    int rc = s->err;
    if (!rc) {
        size_t keep = s->nsegs;
        while (keep > 0 && s->segs[keep - 1]->first >= index)
            keep--;
        drop_tail_segments_locked(s, keep);
        if (keep > 0 && index < s->segs[keep - 1]->first + s->segs[keep - 1]->count) {
            /* The records after the cut stay in the file, dead: the next
             * segment's header names this one and the offset where it ends. */
            struct storage__seg *g = s->segs[keep - 1];
            g->count = index - g->first;
            g->end = g->offs[g->count];
        }
        after_truncate_locked(s, index > first ? index - 1 : 0);
        s->next_index = index;
        s->last_term = storage_last_index(s) ? s->written_term : 0;
    }
    pthread_mutex_unlock(&s->mu);
    /* Start the next segment now: its activation is what makes the cut
     * durable, so the next sync round settles it even before an append. */
    return rc ? rc : roll(s, index);
}

int storage_truncate_prefix(struct storage *s, uint64_t index)
{
    if (s->read_only) return CN_EPERM;
    pthread_mutex_lock(&s->mu);
    int rc = s->err;
    size_t drop = 0;
    /* Never the newest segment: it is the one appends go to. */
    while (!rc && drop + 1 < s->nsegs && s->segs[drop]->first + s->segs[drop]->count <= index &&
           s->segs[drop + 1]->first <= index) {
        struct storage__op *op = CN_NEW(struct storage__op);
        op->kind = STORAGE__OP_UNLINK;
        op->seg = s->segs[drop++];
        op_push_locked(s, op);
    }
    if (drop) {
        memmove(s->segs, s->segs + drop, (s->nsegs - drop) * sizeof *s->segs);
        s->nsegs -= drop;
        pthread_cond_signal(&s->sync_cv);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int storage_reset(struct storage *s, uint64_t next_index)
{
    if (s->read_only) return CN_EPERM;
    if (next_index == 0) return CN_EINVAL;
    pthread_mutex_lock(&s->mu);
    int rc = s->err;
    if (!rc) {
        drop_tail_segments_locked(s, 0);
        after_truncate_locked(s, 0);
        s->next_index = next_index;
        s->last_term = 0;
    }
    pthread_mutex_unlock(&s->mu);
    return rc ? rc : roll(s, next_index);
}

/* ---- caller side: durability, hard state ---------------------------------------------- */

void storage_durable(struct storage *s, struct storage_durable *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->durable;
    pthread_mutex_unlock(&s->mu);
}

int storage_sync(struct storage *s)
{
    if (s->read_only) return 0;
    pthread_mutex_lock(&s->mu);
    uint64_t req = ++s->sync_req;
    pthread_cond_signal(&s->sync_cv);
    while (s->sync_done < req)
        pthread_cond_wait(&s->done_cv, &s->mu);
    int rc = s->err;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void storage_hard_state(const struct storage *s, struct storage_hard_state *out, bool *has)
{
    *out = s->hs;
    *has = s->has_hs;
}

int storage_hard_state_set(struct storage *s, const struct storage_hard_state *hs, uint64_t *seq)
{
    if (s->read_only) return CN_EPERM;
    if (hs->meta_len > STORAGE_HARD_STATE_META_MAX || (hs->meta_len && !hs->meta)) return CN_EINVAL;
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    storage__hs_encode(&b, hs);
    struct storage__op *op = CN_NEW(struct storage__op);
    op->kind = STORAGE__OP_HARD_STATE;
    op->buf = (uint8_t *)cn_buf_take(&b, &op->len);
    pthread_mutex_lock(&s->mu);
    int rc = s->err;
    if (!rc) {
        op->seq = ++s->hs_issued;
        op_push_locked(s, op);
        pthread_cond_signal(&s->sync_cv);
        if (seq) *seq = op->seq;
    }
    pthread_mutex_unlock(&s->mu);
    if (rc) {
        cn_free(op->buf);
        cn_free(op);
        return rc;
    }
    cn_free(s->hs_meta);
    s->hs_meta = hs->meta_len ? cn_memdup(hs->meta, hs->meta_len) : NULL;
    s->hs = (struct storage_hard_state){hs->term, hs->vote, s->hs_meta, hs->meta_len};
    s->has_hs = true;
    return 0;
}

int storage_hard_state_save(struct storage *s, const struct storage_hard_state *hs)
{
    int rc = storage_hard_state_set(s, hs, NULL);
    return rc ? rc : storage_sync(s);
}

/* ---- close ------------------------------------------------------------------------ */

void storage_close(struct storage *s)
{
    if (!s) return;
    if (s->threads) {
        pthread_mutex_lock(&s->mu);
        s->closing = true;
        pthread_cond_broadcast(&s->sync_cv);
        pthread_cond_broadcast(&s->prep_cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->prep_thr, NULL);
        pthread_join(s->sync_thr, NULL);
    }
    for (struct storage__op *op = s->ops_head, *nx; op; op = nx) { /* read-only or failed */
        nx = op->next;
        op_run(s, op, CN_ECLOSED);
    }
    if (s->spare) storage__seg_free(s, s->spare); /* the zero file stays; open removes it */
    for (size_t i = 0; i < s->nsegs; i++)
        storage__seg_free(s, s->segs[i]);
    cn_free(s->segs);
    cn_free(s->wbuf);
    cn_free(s->hs_meta);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->sync_cv);
    pthread_cond_destroy(&s->done_cv);
    pthread_cond_destroy(&s->prep_cv);
    cn_free(s);
}

void storage_get_info(const struct storage *s, struct storage_info *out)
{
    *out = s->info;
    out->first_index = storage_first_index(s);
    out->last_index = storage_last_index(s);
    out->last_term = storage_last_term(s);
    out->segments = (unsigned)s->nsegs;
    out->has_hard_state = s->has_hs;
}

const char *storage_snapshot_dir(const struct storage *s)
{
    return s->snapdir;
}
