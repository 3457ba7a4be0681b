/*
 * recover.c - opening the log: load the hard state, scan every segment,
 * cut a torn tail, refuse corruption.
 *
 * THE TORN-TAIL RULE (docs/storage.md has the long form). The log is the
 * longest valid prefix: activated segments in sequence order, records
 * checksummed, indexes consecutive, terms never decreasing. Where the prefix
 * stops at offset X of segment G (a record that is not valid, or non-zero
 * bytes where the zero tail should be), the rest is discarded as a torn tail
 * only if all of these hold:
 *   a. G is the newest activated segment (a later activated segment proves G
 *      was fully synced before it: rule 1 in wal.c);
 *   b. the damage looks like an incomplete write: the record header is all
 *      zero, or the record runs past the end of the file, or one of the
 *      512-byte sectors the record touches is all zero from X on (a sector
 *      that never reached the disk reads as the zeros the segment was
 *      preallocated with). A complete record with a bad checksum, or a valid
 *      record with the wrong index, is not what a crash leaves;
 *   c. no checksum-valid record after X (in G or in later, never-activated
 *      segments) carries a durable watermark >= D, the index the damaged
 *      record should have had: such a record would prove D had been reported
 *      durable, so cutting it would lose an acknowledged entry.
 * Otherwise open fails with CN_ECORRUPT naming the file and offset.
 *
 * Before the newest segment, nothing is judged: each activated segment must
 * hold valid records exactly up to the prev_end its successor's header names
 * (the successor also names it as prev_seq), have the size its own header
 * says, and start at the index after its predecessor's last. Any deviation is
 * corruption. Never-activated segments (no valid header) are discarded after
 * rule c, and must be all zero when an activated segment follows them.
 */
#include "storage/wal_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "lib/cn_codec.h"
#include "lib/cn_log.h"

struct listing {
    uint64_t *seqs;
    size_t n, cap;
    char **tmps;
    size_t ntmps;
    int rc;
};

static bool parse_hex16(const char *p, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = p[i];
        if (c >= '0' && c <= '9')
            v = v << 4 | (uint64_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = v << 4 | (uint64_t)(c - 'a' + 10);
        else
            return false;
    }
    *out = v;
    return true;
}

static int list_cb(void *ctx, const char *name)
{
    struct listing *l = ctx;
    size_t n = strlen(name);
    uint64_t seq;
    if (n == 24 && !strncmp(name, "wal-", 4) && !strcmp(name + 20, ".seg") &&
        parse_hex16(name + 4, &seq)) {
        if (l->n == STORAGE_SEGMENTS_MAX) return CN_ETOOBIG;
        if (l->n == l->cap) {
            l->cap = l->cap ? l->cap * 2 : 64;
            l->seqs = cn_realloc(l->seqs, l->cap * sizeof *l->seqs);
        }
        l->seqs[l->n++] = seq;
    } else if (n > 4 && !strcmp(name + n - 4, ".tmp") && l->ntmps < 64) {
        l->tmps = cn_realloc(l->tmps, (l->ntmps + 1) * sizeof *l->tmps);
        l->tmps[l->ntmps++] = cn_strdup(name);
    }
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int io_err(struct cn_err *err, int rc, const char *what, const char *path)
{
    return cn_err_set(err, storage__errcode(rc), "%s %s: %s", what, path, cn_strerror(rc));
}

/* ---- hard state ----------------------------------------------------------- */

static int load_hard_state(struct storage *s, struct cn_err *err)
{
    struct storage_file *f;
    int rc = s->vfs->open(s->vfs, s->hs_path, STORAGE_O_RDONLY, &f);
    if (rc == -ENOENT) return 0;
    if (rc < 0) return io_err(err, rc, "cannot open", s->hs_path);
    uint64_t size = 0;
    rc = s->vfs->size(s->vfs, f, &size);
    uint8_t *p = NULL;
    if (!rc && size > 32 + STORAGE_HARD_STATE_META_MAX + 4) rc = CN_ECORRUPT;
    if (!rc) {
        p = cn_malloc(size ? size : 1);
        rc = storage__read_full(s->vfs, f, p, size, 0);
    }
    s->vfs->close(s->vfs, f);
    struct storage_hard_state hs;
    if (!rc) rc = storage__hs_decode(p, size, &hs);
    if (rc) {
        cn_free(p);
        return cn_err_set(err, rc == CN_EUNSUPPORTED ? rc : CN_ECORRUPT,
                          "%s: %s (the hard state is replaced atomically: this is not a tear)",
                          s->hs_path, cn_strerror(rc));
    }
    s->hs_meta = hs.meta_len ? cn_memdup(hs.meta, hs.meta_len) : NULL;
    s->hs = (struct storage_hard_state){hs.term, hs.vote, s->hs_meta, hs.meta_len};
    s->has_hs = true;
    cn_free(p);
    return 0;
}

/* ---- scanning ---------------------------------------------------------------- */

struct scan {
    uint64_t end; /* where the valid records stop */
    bool damaged; /* something other than zeros follows */
    enum storage__rec_status st;
    bool short_hdr; /* fewer than 40 bytes were left */
    bool bad_seq;   /* a valid record with the wrong index or term */
    struct storage__rec r;
};

static int rest_zero(struct storage__win *w, uint64_t off, bool *zero)
{
    *zero = true;
    while (off < w->file_size) {
        const uint8_t *p;
        size_t got;
        int rc = storage__win_get(w, off, 1u << 20, &p, &got);
        if (rc < 0) return rc;
        if (got == 0) break;
        if (!storage__all_zero(p, got)) {
            *zero = false;
            return 0;
        }
        off += got;
    }
    return 0;
}

/* Decode the record at off, fetching its payload through the window. */
static int decode_at(struct storage *s, struct storage__win *w, uint64_t off,
                     enum storage__rec_status *st, struct storage__rec *r, size_t *got)
{
    const uint8_t *p;
    int rc = storage__win_get(w, off, STORAGE__REC_HDR, &p, got);
    if (rc < 0) return rc;
    *st = storage__rec_decode(p, *got, s->entry_max, r);
    if (*st == STORAGE__REC_SHORT && *got == STORAGE__REC_HDR) {
        size_t all;
        rc = storage__win_get(w, off, STORAGE__REC_HDR + (size_t)r->len, &p, &all);
        if (rc < 0) return rc;
        *st = storage__rec_decode(p, all, s->entry_max, r);
    }
    return 0;
}

/* Load g's records from the start up to limit (where the next segment says
 * the log leaves g; UINT64_MAX for the newest: up to the zero tail or the
 * damage). expected and prev_term carry across segments. */
static int scan_seg(struct storage *s, struct storage__win *w, struct storage__seg *g,
                    uint64_t limit, uint64_t *expected, uint64_t *prev_term, struct scan *sc)
{
    uint64_t off = STORAGE__SEG_DATA;
    memset(sc, 0, sizeof *sc);
    while (off < limit) {
        size_t got;
        int rc = decode_at(s, w, off, &sc->st, &sc->r, &got);
        if (rc < 0) return rc;
        if (got == 0) break; /* end of file */
        if (sc->st == STORAGE__REC_ZERO && limit == UINT64_MAX) {
            bool zero;
            rc = rest_zero(w, off, &zero);
            if (rc < 0) return rc;
            sc->damaged = !zero;
            break;
        }
        if (sc->st != STORAGE__REC_OK) {
            sc->damaged = true;
            sc->short_hdr = got < STORAGE__REC_HDR;
            break;
        }
        if (sc->r.index != *expected || sc->r.term < *prev_term) {
            sc->damaged = sc->bad_seq = true;
            break;
        }
        storage__seg_push(g, off, sc->r.term);
        off += storage__rec_size(sc->r.len);
        (*expected)++;
        *prev_term = sc->r.term;
    }
    if (limit != UINT64_MAX && off != limit && !sc->damaged) {
        sc->damaged = true; /* the last record crosses the end the next segment names */
        sc->st = STORAGE__REC_BADHDR;
        if (g->count) {
            off = g->offs[--g->count];
            (*expected)--;
        }
    }
    sc->end = off;
    return 0;
}

/* Rule b: does the damage at x look like a write that did not finish? */
static int looks_torn(struct storage *s, struct storage__win *w, uint64_t x, const struct scan *sc,
                      bool *torn)
{
    uint64_t span;
    *torn = false;
    switch (sc->st) {
    case STORAGE__REC_ZERO:
        *torn = true; /* the header's sector was lost, later ones were not */
        return 0;
    case STORAGE__REC_SHORT:
        /* Past the end of a file that has its full preallocated size: no
         * writer puts a record there, so its length field is damaged. */
        return 0;
    case STORAGE__REC_BADHDR:
        span = STORAGE__REC_HDR;
        break;
    case STORAGE__REC_BADCRC:
        span = STORAGE__REC_HDR + (uint64_t)sc->r.len;
        break;
    default:
        return 0; /* a valid record out of sequence */
    }
    if (sc->bad_seq) return 0;
    /* A sector that never reached the disk reads as zeros over all of its
     * bytes from x on, including any that follow the record: checking whole
     * sectors (not just the record's piece of one) keeps zero runs inside a
     * payload, or a zero last byte, from passing for a lost sector. */
    for (uint64_t off = x; off < x + span && off < w->file_size;) {
        uint64_t sec_end = (off / STORAGE__SECTOR + 1) * STORAGE__SECTOR;
        const uint8_t *p;
        size_t got;
        int rc = storage__win_get(w, off, (size_t)(sec_end - off), &p, &got);
        if (rc < 0) return rc;
        if (got && storage__all_zero(p, got)) {
            *torn = true;
            return 0;
        }
        off = sec_end;
    }
    return 0;
}

struct proof {
    bool found;
    uint64_t off, index, durable;
    char path[STORAGE_PATH_MAX];
};

/* Rule c: a valid record from `from` on whose watermark reaches d. */
static int find_proof(struct storage *s, struct storage__win *w, const char *path, uint64_t from,
                      uint64_t d, struct proof *pr)
{
    for (uint64_t off = (from + 7) & ~7ull; off + STORAGE__REC_HDR <= w->file_size; off += 8) {
        const uint8_t *p;
        size_t got;
        int rc = storage__win_get(w, off, STORAGE__REC_HDR, &p, &got);
        if (rc < 0) return rc;
        if (got < STORAGE__REC_HDR) break;
        if (storage__all_zero(p, 8)) continue;
        struct storage__rec r;
        enum storage__rec_status st;
        rc = decode_at(s, w, off, &st, &r, &got);
        if (rc < 0) return rc;
        if (st == STORAGE__REC_OK && r.durable >= d) {
            *pr = (struct proof){true, off, r.index, r.durable, ""};
            snprintf(pr->path, sizeof pr->path, "%s", path);
            return 0;
        }
    }
    return 0;
}

/* ---- the load ----------------------------------------------------------------- */

struct loadseg {
    struct storage__seg *g;
    uint64_t size;
    bool drop; /* never activated: removed after the checks */
};

static int open_seg(struct storage *s, struct loadseg *ls, uint64_t seq, struct cn_err *err)
{
    struct storage__seg *g = storage__seg_new(s, seq);
    ls->g = g;
    int rc = s->vfs->open(s->vfs, g->path, s->read_only ? STORAGE_O_RDONLY : STORAGE_O_RDWR, &g->f);
    if (!rc) rc = s->vfs->size(s->vfs, g->f, &ls->size);
    if (rc < 0) return io_err(err, rc, "cannot open", g->path);
    uint8_t hdr[STORAGE__SEG_HDR];
    size_t got = 0;
    rc = s->vfs->pread(s->vfs, g->f, hdr, sizeof hdr, 0, &got);
    if (rc < 0) return io_err(err, rc, "cannot read", g->path);
    struct storage__seg_hdr h;
    rc = storage__seg_hdr_decode(hdr, got, &h);
    if (rc == CN_EUNSUPPORTED)
        return cn_err_set(err, rc, "%s: segment format version %u is newer than this build",
                          g->path, (unsigned)cn_get_le32(hdr + 8));
    if (rc == 0 && h.seq == seq) {
        g->activated = g->dir_synced = true;
        g->first = h.first;
        g->size = h.size;
        g->prev_seq = h.prev_seq;
        g->prev_end = h.prev_end;
    }
    return 0;
}

static int corrupt(struct cn_err *err, const char *path, uint64_t off, const char *fmt, ...)
    CN_PRINTF(4, 5);
static int corrupt(struct cn_err *err, const char *path, uint64_t off, const char *fmt, ...)
{
    char why[CN_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return cn_err_set(err, CN_ECORRUPT, "corrupt log: %s at offset %" PRIu64 ": %s", path, off,
                      why);
}

static const char *damage_str(const struct scan *sc)
{
    if (sc->bad_seq) return "record out of sequence";
    if (sc->st == STORAGE__REC_ZERO) return "zero header followed by data";
    return storage__rec_status_str(sc->st);
}

/* Decide about the newest activated segment's end and the never-activated
 * segments after it (rules a-c); on a torn tail fill info and *cut. */
static int judge_tail(struct storage *s, struct loadseg *ls, size_t n, ssize_t la,
                      const struct scan *sc, uint64_t d, uint64_t *cut, struct cn_err *err)
{
    struct proof pr = {0};
    *cut = UINT64_MAX;
    for (size_t i = la < 0 ? 0 : (size_t)la; i < n && !pr.found; i++) {
        struct storage__seg *g = ls[i].g;
        bool newest = la >= 0 && i == (size_t)la;
        if (newest && !sc->damaged) continue;
        struct storage__win w;
        storage__win_init(&w, s->vfs, g->f, ls[i].size);
        int rc = find_proof(s, &w, g->path, newest ? sc->end + 8 : STORAGE__SEG_DATA, d, &pr);
        storage__win_release(&w);
        if (rc < 0) return io_err(err, rc, "cannot read", g->path);
    }
    const char *path = la >= 0 ? ls[la].g->path : pr.path;
    uint64_t x = la >= 0 ? sc->end : 0;
    if (pr.found)
        return corrupt(err, path, x,
                       "%s, but record %" PRIu64 " in %s at offset %" PRIu64
                       " shows entries up to %" PRIu64
                       " were durable: refusing to drop acknowledged entries",
                       la >= 0 && sc->damaged ? damage_str(sc) : "log ends", pr.index, pr.path,
                       pr.off, pr.durable);
    if (la < 0 || !sc->damaged) return 0;
    struct storage__seg *g = ls[la].g;
    struct storage__win w;
    bool torn;
    storage__win_init(&w, s->vfs, g->f, ls[la].size);
    int rc = looks_torn(s, &w, x, sc, &torn);
    storage__win_release(&w);
    if (rc < 0) return io_err(err, rc, "cannot read", g->path);
    if (!torn)
        return corrupt(err, g->path, x,
                       "%s (expected index %" PRIu64
                       "); not an incomplete write, refusing to skip it",
                       damage_str(sc), d);
    *cut = x;
    s->info.torn_tail = true;
    snprintf(s->info.torn_file, sizeof s->info.torn_file, "%s", g->path);
    s->info.torn_offset = x;
    s->info.torn_bytes = ls[la].size - x;
    CN_WARN("storage",
            "torn tail in %s at offset %" PRIu64 " (%s, expected index %" PRIu64
            "): the log ends there; the %" PRIu64 " bytes after it are dead",
            g->path, x, damage_str(sc), d, ls[la].size - x);
    return 0;
}

/* Scan activated segments in order; returns the index of the newest one. */
static int load_segments(struct storage *s, struct loadseg *ls, size_t n, ssize_t *la_out,
                         struct scan *sc, uint64_t *d, struct cn_err *err)
{
    ssize_t la = -1;
    for (size_t i = 0; i < n; i++)
        if (ls[i].g->activated) la = (ssize_t)i;
    uint64_t expected = 0, prev_term = 0;
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        struct storage__seg *g = ls[i].g;
        struct storage__win w;
        storage__win_init(&w, s->vfs, g->f, ls[i].size);
        int rc = 0;
        if (!g->activated) {
            bool zero = true;
            if ((ssize_t)i < la) rc = rest_zero(&w, 0, &zero);
            storage__win_release(&w);
            if (rc < 0) return io_err(err, rc, "cannot read", g->path);
            if (!zero)
                return corrupt(err, g->path, 0,
                               "no valid segment header, but later segment %s is active",
                               ls[la].g->path);
            ls[i].drop = true;
            continue;
        }
        if (ls[i].size != g->size) {
            storage__win_release(&w);
            return corrupt(err, g->path, 0,
                           "the file is %" PRIu64 " bytes but segments never change size and "
                           "its header says %" PRIu64 " (truncated or extended?)",
                           ls[i].size, g->size);
        }
        if (any && g->first != expected) {
            storage__win_release(&w);
            return corrupt(err, g->path, 0,
                           "segment starts at index %" PRIu64
                           " but the log before it ends at %" PRIu64,
                           g->first, expected - 1);
        }
        uint64_t limit = UINT64_MAX;
        size_t next = i + 1;
        while (next < n && !ls[next].g->activated)
            next++;
        if (next < n) {
            if (ls[next].g->prev_seq != g->seq) {
                storage__win_release(&w);
                return corrupt(err, ls[next].g->path, 40,
                               "it continues the log from segment %" PRIu64 ", but %s precedes it",
                               ls[next].g->prev_seq, g->path);
            }
            limit = ls[next].g->prev_end;
        }
        any = true;
        expected = g->first;
        rc = scan_seg(s, &w, g, limit, &expected, &prev_term, sc);
        storage__win_release(&w);
        if (rc < 0) return io_err(err, rc, "cannot read", g->path);
        g->end = sc->end;
        if (sc->damaged && (ssize_t)i != la)
            return corrupt(err, g->path, sc->end,
                           "%s (expected index %" PRIu64 "), but later segment %s is active",
                           damage_str(sc), expected, ls[la].g->path);
    }
    if (la < 0) memset(sc, 0, sizeof *sc);
    *d = any ? expected : 1;
    s->last_term = prev_term;
    *la_out = la;
    return 0;
}

/* Remove never-activated segments (not read-only). */
static int repair(struct storage *s, struct loadseg *ls, size_t n, struct cn_err *err)
{
    /* The torn bytes stay where they are, dead: the next segment's header
     * will say the log leaves this one at `cut` (rule 3 in wal.c). */
    int rc = 0;
    bool removed = false;
    for (size_t i = 0; i < n; i++) {
        if (!ls[i].drop) continue;
        s->info.discarded_segments++;
        s->vfs->close(s->vfs, ls[i].g->f);
        ls[i].g->f = NULL;
        rc = s->vfs->unlink(s->vfs, ls[i].g->path);
        if (rc < 0 && rc != -ENOENT) return io_err(err, rc, "cannot remove", ls[i].g->path);
        removed = true;
    }
    rc = 0;
    if (removed) rc = s->vfs->sync_dir(s->vfs, s->dir);
    if (rc < 0) return io_err(err, rc, "cannot sync", s->dir);
    return 0;
}

static int load_log(struct storage *s, struct cn_err *err)
{
    struct listing l = {0};
    int rc = s->vfs->list(s->vfs, s->dir, list_cb, &l);
    if (rc == -ENOENT && s->read_only) rc = 0;
    if (rc == CN_ETOOBIG)
        rc = cn_err_set(err, rc, "%s: more than %d segments", s->dir, STORAGE_SEGMENTS_MAX);
    else if (rc < 0)
        rc = io_err(err, rc, "cannot list", s->dir);
    for (size_t i = 0; i < l.ntmps; i++) {
        char p[STORAGE_PATH_MAX];
        if (!rc && !s->read_only && storage__path(p, s->dir, l.tmps[i]) == 0)
            s->vfs->unlink(s->vfs, p);
        cn_free(l.tmps[i]);
    }
    cn_free(l.tmps);
    if (l.n) qsort(l.seqs, l.n, sizeof *l.seqs, cmp_u64);
    struct loadseg *ls = cn_calloc(l.n ? l.n : 1, sizeof *ls);
    for (size_t i = 0; i < l.n && !rc; i++) {
        rc = open_seg(s, &ls[i], l.seqs[i], err);
        if (l.seqs[i] > s->max_seq) s->max_seq = l.seqs[i];
    }
    ssize_t la = -1;
    struct scan sc = {0};
    uint64_t d = 1, cut = UINT64_MAX;
    if (!rc) rc = load_segments(s, ls, l.n, &la, &sc, &d, err);
    if (!rc) rc = judge_tail(s, ls, l.n, la, &sc, d, &cut, err);
    if (!rc && !s->read_only) rc = repair(s, ls, l.n, err);
    for (size_t i = 0; i < l.n; i++) {
        if (!ls[i].g) continue;
        if (!rc && !ls[i].drop) {
            CN_ASSERT(s->nsegs < STORAGE_SEGMENTS_MAX);
            if (s->nsegs == s->segs_cap) {
                s->segs_cap = s->segs_cap ? s->segs_cap * 2 : 16;
                s->segs = cn_realloc(s->segs, s->segs_cap * sizeof *s->segs);
            }
            s->segs[s->nsegs++] = ls[i].g;
        } else {
            storage__seg_free(s, ls[i].g);
        }
    }
    cn_free(ls);
    cn_free(l.seqs);
    if (rc) return rc;
    s->cur_seq = s->max_seq;
    s->need_new_segment = s->nsegs == 0 || cut != UINT64_MAX;
    uint64_t last = storage_last_index(s);
    s->next_index = last ? last + 1 : 0;
    if (!last) s->last_term = 0;
    return 0;
}

/* What was read may still sit only in the page cache (the previous process
 * was killed before its flush): make it durable before calling it durable.
 * Only the newest segment can hold such bytes: an activated successor proves
 * every earlier one was synced (rule 1 in wal.c). */
static int sync_loaded(struct storage *s, struct cn_err *err)
{
    if (s->nsegs) {
        struct storage__seg *g = s->segs[s->nsegs - 1];
        int rc = s->vfs->sync(s->vfs, g->f, true);
        if (rc < 0) return io_err(err, rc, "cannot sync", g->path);
    }
    int rc = s->vfs->sync_dir(s->vfs, s->dir);
    if (rc < 0) return io_err(err, rc, "cannot sync", s->dir);
    return 0;
}

static int clean_snapshot_temps_cb(void *ctx, const char *name)
{
    struct storage *s = ctx;
    size_t n = strlen(name);
    char p[STORAGE_PATH_MAX];
    if (n > 4 && !strcmp(name + n - 4, ".tmp") && storage__path(p, s->snapdir, name) == 0)
        s->vfs->unlink(s->vfs, p);
    return 0;
}

static int setup(struct storage *s, const struct storage_options *o, struct cn_err *err)
{
    s->o = *o;
    s->vfs = o->vfs ? o->vfs : storage_vfs_posix();
    s->read_only = o->read_only;
    s->segment_size = o->segment_size ? o->segment_size : STORAGE_SEGMENT_SIZE_DEFAULT;
    if (s->segment_size < STORAGE_SEGMENT_SIZE_MIN || s->segment_size > STORAGE_SEGMENT_SIZE_MAX)
        return cn_err_set(err, CN_EINVAL, "segment size %" PRIu64 " outside [%llu, %llu]",
                          s->segment_size, STORAGE_SEGMENT_SIZE_MIN, STORAGE_SEGMENT_SIZE_MAX);
    /* An entry must fit a segment with its header and padding. */
    uint64_t fit = s->segment_size - STORAGE__SEG_DATA - STORAGE__REC_HDR - STORAGE__ALIGN;
    s->entry_max =
        o->entry_max && o->entry_max < STORAGE_ENTRY_MAX ? o->entry_max : STORAGE_ENTRY_MAX;
    if (s->entry_max > fit) s->entry_max = (size_t)fit;
    s->pending_max = o->pending_max ? o->pending_max : STORAGE_PENDING_MAX_DEFAULT;
    if (!o->dir || !o->dir[0]) return cn_err_set(err, CN_EINVAL, "no data directory");
    if (snprintf(s->dir, sizeof s->dir, "%s/raft", o->dir) >= (int)sizeof s->dir ||
        storage__path(s->snapdir, s->dir, "snapshots") ||
        storage__path(s->hs_path, s->dir, "hardstate") ||
        storage__path(s->hs_tmp, s->dir, "hardstate.tmp"))
        return cn_err_set(err, CN_ETOOBIG, "data directory path too long");
    s->o.dir = NULL; /* borrowed: not kept */
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->sync_cv, NULL);
    pthread_cond_init(&s->done_cv, NULL);
    pthread_cond_init(&s->prep_cv, NULL);
    return 0;
}

int storage_open(const struct storage_options *o, struct storage **out, struct cn_err *err)
{
    *out = NULL;
    struct storage *s = CN_NEW(struct storage);
    int rc = setup(s, o, err);
    if (rc) {
        cn_free(s);
        return rc;
    }
    if (!s->read_only) {
        rc = storage__mkdirs(s->vfs, s->dir);
        if (rc < 0) rc = io_err(err, rc, "cannot create", s->dir);
    }
    if (!rc) rc = load_hard_state(s, err);
    if (!rc) rc = load_log(s, err);
    if (!rc && !s->read_only) {
        rc = sync_loaded(s, err);
        s->vfs->list(s->vfs, s->snapdir, clean_snapshot_temps_cb, s);
    }
    uint64_t last = storage_last_index(s);
    s->written_index = s->durable.index = last;
    s->written_term = s->durable.term = last ? s->last_term : 0;
    if (!rc && !s->read_only) {
        rc = storage__start_threads(s);
        if (rc) cn_err_set(err, rc, "cannot start storage threads");
    }
    if (rc) {
        storage_close(s);
        return rc;
    }
    storage_get_info(s, &s->info);
    *out = s;
    return 0;
}
