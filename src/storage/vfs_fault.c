/*
 * vfs_fault.c - an in-memory VFS that can lose power (sqlite's test6.c idea).
 *
 * Each file (an inode) keeps the image that survived the last sync and the
 * list of changes since (writes, truncations, allocations); the namespace
 * keeps the entries that survived the last directory sync beside the current
 * ones. A crash rebuilds every inode from its durable image, replaying each
 * unsynced write sector by sector, every sector kept, lost (old bytes) or
 * garbled at random, and every unsynced truncation and directory change kept
 * or lost at random. That covers writeback in any order, torn writes and
 * lost metadata: what a disk may show after a power cut.
 *
 * One mutex guards everything: the storage threads call in concurrently.
 */
#include "storage/storage_int.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "lib/cn_common.h"
#include "lib/cn_rand.h"

enum pend_kind { PEND_WRITE, PEND_TRUNCATE };

struct pend {
    enum pend_kind kind;
    uint64_t off, len; /* write: range; truncate: new size in off */
    uint8_t *data;
    struct pend *next;
};

struct inode {
    uint8_t *cur; /* what reads see */
    size_t cur_len, cur_cap;
    uint8_t *dur; /* what survived the last sync */
    size_t dur_len;
    struct pend *pend_head, *pend_tail;
    uint64_t unsynced; /* bytes in pending writes */
    struct inode *all_next;
};

struct dent {
    char *path;
    struct inode *node;
};

struct ns {
    struct dent *v;
    size_t n, cap;
};

struct fault_file {
    struct inode *node;
    uint64_t gen;
    bool writable;
};

struct fault_vfs {
    struct storage_vfs vfs; /* first: the public handle */
    pthread_mutex_t mu;
    struct ns cur, dur;
    char **dirs;
    size_t ndirs;
    struct inode *all;
    uint64_t gen;
    bool off; /* powered off: every call fails until storage_fault_restart */
    uint64_t calls[STORAGE_FAULT_OPS_];
    uint64_t fail_at[STORAGE_FAULT_OPS_];
    bool fail_sticky[STORAGE_FAULT_OPS_];
    int fail_err[STORAGE_FAULT_OPS_];
};

#define FV(v) ((struct fault_vfs *)(v))
#define FF(f) ((struct fault_file *)(f))

/* ---- small helpers (mutex held) ------------------------------------------ */

static int fault_hit(struct fault_vfs *fv, enum storage_fault_op op)
{
    uint64_t n = ++fv->calls[op];
    if (fv->off) return -EIO;
    if (!fv->fail_err[op]) return 0;
    if (fv->fail_sticky[op] || n == fv->fail_at[op]) return fv->fail_err[op];
    return 0;
}

static void parent_of(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (n >= cap) n = cap - 1;
    memcpy(out, path, n);
    out[n] = '\0';
}

static bool dir_exists(struct fault_vfs *fv, const char *path)
{
    if (!path[0]) return true;
    for (size_t i = 0; i < fv->ndirs; i++)
        if (!strcmp(fv->dirs[i], path)) return true;
    return false;
}

static struct dent *ns_find(struct ns *ns, const char *path)
{
    for (size_t i = 0; i < ns->n; i++)
        if (!strcmp(ns->v[i].path, path)) return &ns->v[i];
    return NULL;
}

static void ns_set(struct ns *ns, const char *path, struct inode *node)
{
    struct dent *d = ns_find(ns, path);
    if (d) {
        d->node = node;
        return;
    }
    if (ns->n == ns->cap) {
        ns->cap = ns->cap ? ns->cap * 2 : 16;
        ns->v = cn_realloc(ns->v, ns->cap * sizeof *ns->v);
    }
    ns->v[ns->n++] = (struct dent){cn_strdup(path), node};
}

static void ns_del(struct ns *ns, const char *path)
{
    struct dent *d = ns_find(ns, path);
    if (!d) return;
    cn_free(d->path);
    *d = ns->v[--ns->n];
}

static void ns_free(struct ns *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        cn_free(ns->v[i].path);
    cn_free(ns->v);
    memset(ns, 0, sizeof *ns);
}

static void node_reserve(struct inode *in, size_t n)
{
    if (n <= in->cur_cap) return;
    size_t cap = in->cur_cap ? in->cur_cap : 4096;
    while (cap < n)
        cap *= 2;
    in->cur = cn_realloc(in->cur, cap);
    in->cur_cap = cap;
}

static void node_resize(struct inode *in, size_t n)
{
    node_reserve(in, n);
    if (n > in->cur_len) memset(in->cur + in->cur_len, 0, n - in->cur_len);
    in->cur_len = n;
}

static void pend_add(struct inode *in, enum pend_kind k, uint64_t off, uint64_t len,
                     const void *data)
{
    struct pend *p = CN_NEW(struct pend);
    p->kind = k;
    p->off = off;
    p->len = len;
    if (data) p->data = cn_memdup(data, len);
    if (in->pend_tail)
        in->pend_tail->next = p;
    else
        in->pend_head = p;
    in->pend_tail = p;
    if (k == PEND_WRITE) in->unsynced += len;
}

static void pend_clear(struct inode *in)
{
    for (struct pend *p = in->pend_head, *nx; p; p = nx) {
        nx = p->next;
        cn_free(p->data);
        cn_free(p);
    }
    in->pend_head = in->pend_tail = NULL;
    in->unsynced = 0;
}

static void node_sync(struct inode *in)
{
    in->dur = cn_realloc(in->dur, in->cur_len ? in->cur_len : 1);
    if (in->cur_len) memcpy(in->dur, in->cur, in->cur_len);
    in->dur_len = in->cur_len;
    pend_clear(in);
}

static struct inode *node_new(struct fault_vfs *fv)
{
    struct inode *in = CN_NEW(struct inode);
    in->all_next = fv->all;
    fv->all = in;
    return in;
}

static int file_check(struct fault_vfs *fv, struct storage_file *f)
{
    return FF(f)->gen == fv->gen && !fv->off ? 0 : -EIO; /* a handle from before a crash */
}

/* ---- the vtable ------------------------------------------------------------- */

static int fv_open(struct storage_vfs *v, const char *path, int flags, struct storage_file **out)
{
    struct fault_vfs *fv = FV(v);
    char parent[STORAGE_PATH_MAX];
    pthread_mutex_lock(&fv->mu);
    int rc = fault_hit(fv, STORAGE_FAULT_OPEN);
    struct dent *d = rc ? NULL : ns_find(&fv->cur, path);
    parent_of(path, parent, sizeof parent);
    if (rc) {
    } else if (d && (flags & STORAGE_O_CREAT) && (flags & STORAGE_O_EXCL)) {
        rc = -EEXIST;
    } else if (!d && !(flags & STORAGE_O_CREAT)) {
        rc = -ENOENT;
    } else if (!d && !dir_exists(fv, parent)) {
        rc = -ENOENT;
    } else {
        struct inode *in = d ? d->node : node_new(fv);
        if (!d) ns_set(&fv->cur, path, in);
        if ((flags & STORAGE_O_TRUNC) && in->cur_len) {
            node_resize(in, 0);
            pend_add(in, PEND_TRUNCATE, 0, 0, NULL);
        }
        struct fault_file *ff = CN_NEW(struct fault_file);
        ff->node = in;
        ff->gen = fv->gen;
        ff->writable = flags & STORAGE_O_RDWR;
        *out = (struct storage_file *)ff;
    }
    pthread_mutex_unlock(&fv->mu);
    return rc;
}

static int fv_close(struct storage_vfs *v, struct storage_file *f)
{
    cn_free(f);
    return 0;
}

static int fv_pread(struct storage_vfs *v, struct storage_file *f, void *p, size_t n, uint64_t off,
                    size_t *got)
{
    struct fault_vfs *fv = FV(v);
    pthread_mutex_lock(&fv->mu);
    int rc = fault_hit(fv, STORAGE_FAULT_READ);
    if (!rc) rc = file_check(fv, f);
    *got = 0;
    if (!rc) {
        struct inode *in = FF(f)->node;
        if (off < in->cur_len) {
            size_t k = in->cur_len - off < n ? (size_t)(in->cur_len - off) : n;
            memcpy(p, in->cur + off, k);
            *got = k;
        }
    }
    pthread_mutex_unlock(&fv->mu);
    return rc;
}

static int fv_pwrite(struct storage_vfs *v, struct storage_file *f, const void *p, size_t n,
                     uint64_t off)
{
    struct fault_vfs *fv = FV(v);
    pthread_mutex_lock(&fv->mu);
    int rc = fault_hit(fv, STORAGE_FAULT_WRITE);
    if (!rc) rc = file_check(fv, f);
    if (!rc && !FF(f)->writable) rc = -EBADF;
    if (!rc && n) {
        struct inode *in = FF(f)->node;
        if (off + n > in->cur_len) node_resize(in, off + n);
        memcpy(in->cur + off, p, n);
        pend_add(in, PEND_WRITE, off, n, p);
    }
    pthread_mutex_unlock(&fv->mu);
    return rc;
}

static int fv_sync(struct storage_vfs *v, struct storage_file *f, bool data_only)
{
    struct fault_vfs *fv = FV(v);
    pthread_mutex_lock(&fv->mu);
    int rc = fault_hit(fv, STORAGE_FAULT_SYNC);
    if (!rc) rc = file_check(fv, f);
    if (!rc) node_sync(FF(f)->node);
    pthread_mutex_unlock(&fv->mu);
    return rc;
}

static int fv_truncate(struct storage_vfs *v, struct storage_file *f, uint64_t size)
{
    struct fault_vfs *fv = FV(v);
    pthread_mutex_lock(&fv->mu);
    int rc = fault_hit(fv, STORAGE_FAULT_TRUNCATE);
    if (!rc) rc = file_check(fv, f);
    if (!rc) {
        node_resize(FF(f)->node, size);
        pend_add(FF(f)->node, PEND_TRUNCATE, size, 0, NULL);
    }
    pthread_mutex_unlock(&fv->mu);
    return rc;
}

static int fv_allocate(struct storage_vfs *v, struct storage_file *f, uint64_t size)
{
    struct fault_vfs *fv = FV(v);
    pthread_mutex_lock(&fv->mu);
    int rc = fault_hit(fv, STORAGE_FAULT_ALLOCATE);
    if (!rc) rc = file_check(fv, f);
    if (!rc && size > FF(f)->node->cur_len) {
        node_resize(FF(f)->node, size);
        pend_add(FF(f)->node, PEND_TRUNCATE, size, 0, NULL);
    }
    pthread_mutex_unlock(&fv->mu);
    return rc;
}

static int fv_size(struct storage_vfs *v, struct storage_file *f, uint64_t *size)
{
    struct fault_vfs *fv = FV(v);
    pthread_mutex_lock(&fv->mu);
    int rc = file_check(fv, f);
    if (!rc) *size = FF(f)->node->cur_len;
    pthread_mutex_unlock(&fv->mu);
    return rc;
}

static int fv_rename(struct storage_vfs *v, const char *from, const char *to)
{
    struct fault_vfs *fv = FV(v);
    pthread_mutex_lock(&fv->mu);
    int rc = fault_hit(fv, STORAGE_FAULT_RENAME);
    struct dent *d = rc ? NULL : ns_find(&fv->cur, from);
    if (!rc && !d) rc = -ENOENT;
    if (!rc) {
        struct inode *in = d->node;
        ns_del(&fv->cur, from);
        ns_set(&fv->cur, to, in);
    }
    pthread_mutex_unlock(&fv->mu);
    return rc;
}

static int fv_unlink(struct storage_vfs *v, const char *path)
{
    struct fault_vfs *fv = FV(v);
    pthread_mutex_lock(&fv->mu);
    int rc = fault_hit(fv, STORAGE_FAULT_UNLINK);
    if (!rc && !ns_find(&fv->cur, path)) rc = -ENOENT;
    if (!rc) ns_del(&fv->cur, path);
    pthread_mutex_unlock(&fv->mu);
    return rc;
}

static bool in_dir(const char *path, const char *dir)
{
    char parent[STORAGE_PATH_MAX];
    parent_of(path, parent, sizeof parent);
    return !strcmp(parent, dir);
}

static int fv_sync_dir(struct storage_vfs *v, const char *path)
{
    struct fault_vfs *fv = FV(v);
    pthread_mutex_lock(&fv->mu);
    int rc = fault_hit(fv, STORAGE_FAULT_SYNC_DIR);
    if (!rc && !dir_exists(fv, path)) rc = -ENOENT;
    if (!rc) {
        for (size_t i = 0; i < fv->dur.n;) {
            if (in_dir(fv->dur.v[i].path, path))
                ns_del(&fv->dur, fv->dur.v[i].path);
            else
                i++;
        }
        for (size_t i = 0; i < fv->cur.n; i++)
            if (in_dir(fv->cur.v[i].path, path))
                ns_set(&fv->dur, fv->cur.v[i].path, fv->cur.v[i].node);
    }
    pthread_mutex_unlock(&fv->mu);
    return rc;
}

static int fv_mkdir(struct storage_vfs *v, const char *path)
{
    struct fault_vfs *fv = FV(v);
    pthread_mutex_lock(&fv->mu);
    if (fv->off) {
        pthread_mutex_unlock(&fv->mu);
        return -EIO;
    }
    if (!dir_exists(fv, path)) {
        fv->dirs = cn_realloc(fv->dirs, (fv->ndirs + 1) * sizeof *fv->dirs);
        fv->dirs[fv->ndirs++] = cn_strdup(path);
    }
    pthread_mutex_unlock(&fv->mu);
    return 0;
}

static int fv_list(struct storage_vfs *v, const char *path, storage_list_fn fn, void *ctx)
{
    struct fault_vfs *fv = FV(v);
    pthread_mutex_lock(&fv->mu);
    int rc = fault_hit(fv, STORAGE_FAULT_LIST);
    if (!rc && !dir_exists(fv, path)) rc = -ENOENT;
    char **names = NULL;
    size_t n = 0;
    for (size_t i = 0; !rc && i < fv->cur.n; i++) {
        if (!in_dir(fv->cur.v[i].path, path)) continue;
        names = cn_realloc(names, (n + 1) * sizeof *names);
        names[n++] = cn_strdup(strrchr(fv->cur.v[i].path, '/') + 1);
    }
    pthread_mutex_unlock(&fv->mu);
    /* Callbacks run unlocked: they may call back into the VFS. */
    for (size_t i = 0; i < n; i++) {
        if (!rc) rc = fn(ctx, names[i]);
        cn_free(names[i]);
    }
    cn_free(names);
    return rc;
}

/* ---- control ------------------------------------------------------------------ */

struct storage_vfs *storage_fault_new(void)
{
    struct fault_vfs *fv = CN_NEW(struct fault_vfs);
    fv->vfs = (struct storage_vfs){
        .open = fv_open,
        .close = fv_close,
        .pread = fv_pread,
        .pwrite = fv_pwrite,
        .sync = fv_sync,
        .truncate = fv_truncate,
        .allocate = fv_allocate,
        .size = fv_size,
        .rename = fv_rename,
        .unlink = fv_unlink,
        .sync_dir = fv_sync_dir,
        .mkdir = fv_mkdir,
        .list = fv_list,
    };
    pthread_mutex_init(&fv->mu, NULL);
    return &fv->vfs;
}

void storage_fault_free(struct storage_vfs *v)
{
    struct fault_vfs *fv = FV(v);
    if (!v) return;
    ns_free(&fv->cur);
    ns_free(&fv->dur);
    for (size_t i = 0; i < fv->ndirs; i++)
        cn_free(fv->dirs[i]);
    cn_free(fv->dirs);
    for (struct inode *in = fv->all, *nx; in; in = nx) {
        nx = in->all_next;
        pend_clear(in);
        cn_free(in->cur);
        cn_free(in->dur);
        cn_free(in);
    }
    pthread_mutex_destroy(&fv->mu);
    cn_free(fv);
}

void storage_fault_inject(struct storage_vfs *v, enum storage_fault_op op, uint64_t nth, int err)
{
    struct fault_vfs *fv = FV(v);
    CN_ASSERT(op < STORAGE_FAULT_OPS_);
    pthread_mutex_lock(&fv->mu);
    fv->fail_err[op] = err;
    fv->fail_sticky[op] = nth == 0;
    fv->fail_at[op] = fv->calls[op] + nth;
    pthread_mutex_unlock(&fv->mu);
}

uint64_t storage_fault_count(struct storage_vfs *v, enum storage_fault_op op)
{
    struct fault_vfs *fv = FV(v);
    pthread_mutex_lock(&fv->mu);
    uint64_t n = fv->calls[op];
    pthread_mutex_unlock(&fv->mu);
    return n;
}

static bool chance(struct cn_rand *r, unsigned pct)
{
    return cn_rand_below(r, 100) < pct;
}

/* Rebuild one inode as a disk would show it: the durable image plus, for
 * each 512-byte sector, some prefix of the unsynced writes that touched it
 * (a disk writes a sector as the page held it at some moment: a later write
 * to a sector never lands without the earlier ones). Sectors are independent
 * of each other (writeback in any order). A sector that stops short of all
 * its writes may instead come back garbled. */
static void node_crash(struct inode *in, struct cn_rand *r, const struct storage_crash_opts *o)
{
    size_t nsec = 1;
    for (struct pend *p = in->pend_head; p; p = p->next)
        if (p->kind == PEND_WRITE)
            nsec = CN_MAX(nsec, (size_t)((p->off + p->len) / STORAGE__SECTOR + 1));
    uint32_t *total = cn_calloc(nsec, sizeof *total), *keep = cn_calloc(nsec, sizeof *keep),
             *seen = cn_calloc(nsec, sizeof *seen);
    for (struct pend *p = in->pend_head; p; p = p->next)
        if (p->kind == PEND_WRITE && p->len)
            for (uint64_t sct = p->off / STORAGE__SECTOR;
                 sct <= (p->off + p->len - 1) / STORAGE__SECTOR; sct++)
                total[sct]++;
    for (size_t i = 0; i < nsec; i++)
        keep[i] = chance(r, o->keep_percent) ? total[i] : (uint32_t)cn_rand_below(r, total[i] + 1);
    in->cur_len = 0;
    node_resize(in, in->dur_len);
    if (in->dur_len) memcpy(in->cur, in->dur, in->dur_len);
    for (struct pend *p = in->pend_head; p; p = p->next) {
        if (p->kind == PEND_TRUNCATE) {
            if (chance(r, o->keep_percent)) node_resize(in, p->off);
            continue;
        }
        uint64_t off = p->off, end = p->off + p->len;
        while (off < end) {
            uint64_t sct = off / STORAGE__SECTOR, sec_end = (sct + 1) * STORAGE__SECTOR;
            uint64_t piece = (sec_end < end ? sec_end : end) - off;
            if (seen[sct]++ < keep[sct]) {
                if (off + piece > in->cur_len) node_resize(in, off + piece);
                memcpy(in->cur + off, p->data + (off - p->off), piece);
            }
            off += piece;
        }
    }
    for (size_t i = 0; i < nsec; i++) {
        uint64_t from = (uint64_t)i * STORAGE__SECTOR;
        if (keep[i] == total[i] || from >= in->cur_len || !chance(r, o->garble_percent)) continue;
        uint64_t to = CN_MIN(from + STORAGE__SECTOR, (uint64_t)in->cur_len);
        for (uint64_t k = from; k < to; k++)
            in->cur[k] = (uint8_t)cn_rand_u64(r);
    }
    cn_free(total);
    cn_free(keep);
    cn_free(seen);
    node_sync(in);
}

void storage_fault_crash(struct storage_vfs *v, const struct storage_crash_opts *o)
{
    struct fault_vfs *fv = FV(v);
    struct cn_rand r;
    cn_rand_seed(&r, o->seed);
    pthread_mutex_lock(&fv->mu);
    /* Namespace: each entry that differs from the durable one is kept or lost. */
    struct ns next = {0};
    for (size_t i = 0; i < fv->dur.n; i++) {
        struct dent *c = ns_find(&fv->cur, fv->dur.v[i].path);
        struct inode *in = fv->dur.v[i].node;
        if (c && c->node == in) {
            ns_set(&next, fv->dur.v[i].path, in);
        } else if (!chance(&r, o->keep_percent)) {
            ns_set(&next, fv->dur.v[i].path, in); /* the change is lost */
        } else if (c) {
            ns_set(&next, fv->dur.v[i].path, c->node);
        }
    }
    for (size_t i = 0; i < fv->cur.n; i++) {
        if (ns_find(&fv->dur, fv->cur.v[i].path)) continue;
        if (chance(&r, o->keep_percent)) ns_set(&next, fv->cur.v[i].path, fv->cur.v[i].node);
    }
    ns_free(&fv->cur);
    ns_free(&fv->dur);
    fv->cur = next;
    for (size_t i = 0; i < next.n; i++)
        ns_set(&fv->dur, next.v[i].path, next.v[i].node);
    for (struct inode *in = fv->all; in; in = in->all_next)
        node_crash(in, &r, o);
    fv->gen++;
    fv->off = true;
    pthread_mutex_unlock(&fv->mu);
}

void storage_fault_restart(struct storage_vfs *v)
{
    struct fault_vfs *fv = FV(v);
    pthread_mutex_lock(&fv->mu);
    fv->off = false;
    pthread_mutex_unlock(&fv->mu);
}

int storage_fault_read_file(struct storage_vfs *v, const char *path, struct cn_buf *out)
{
    struct fault_vfs *fv = FV(v);
    pthread_mutex_lock(&fv->mu);
    struct dent *d = ns_find(&fv->cur, path);
    int rc = d ? 0 : CN_ENOENT;
    if (d) {
        cn_buf_reset(out);
        rc = cn_buf_append(out, d->node->cur, d->node->cur_len);
    }
    pthread_mutex_unlock(&fv->mu);
    return rc;
}

int storage_fault_write_file(struct storage_vfs *v, const char *path, const void *p, size_t n)
{
    struct fault_vfs *fv = FV(v);
    pthread_mutex_lock(&fv->mu);
    struct dent *d = ns_find(&fv->cur, path);
    if (d) {
        node_resize(d->node, 0);
        node_resize(d->node, n);
        if (n) memcpy(d->node->cur, p, n);
        node_sync(d->node);
    }
    pthread_mutex_unlock(&fv->mu);
    return d ? 0 : CN_ENOENT;
}

uint64_t storage_fault_unsynced(struct storage_vfs *v)
{
    struct fault_vfs *fv = FV(v);
    uint64_t n = 0;
    pthread_mutex_lock(&fv->mu);
    for (struct inode *in = fv->all; in; in = in->all_next)
        n += in->unsynced;
    pthread_mutex_unlock(&fv->mu);
    return n;
}
