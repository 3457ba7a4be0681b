/* The log's operations: append, read, terms, truncation, reset, hard state,
 * group commit and durability reports, limits, I/O errors. */
#include "helpers.h"

#include "lib/cn_rand.h"

#include <errno.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#define SEG (64 * 1024)

static char *dir_in(const char *name)
{
    static char buf[STORAGE_PATH_MAX];
    snprintf(buf, sizeof buf, "%s/%s", cn_test_tmpdir(), name);
    return buf;
}

/* ---- a VFS whose syncs are slow (a real disk's fdatasync), counting them ---- */

struct slow_vfs {
    struct storage_vfs v;
    struct storage_vfs *base;
    unsigned sync_us;
    atomic_ulong syncs;
};

#define BASE(v) (((struct slow_vfs *)(v))->base)
static int sl_open(struct storage_vfs *v, const char *p, int fl, struct storage_file **o)
{
    return BASE(v)->open(BASE(v), p, fl, o);
}
static int sl_close(struct storage_vfs *v, struct storage_file *f)
{
    return BASE(v)->close(BASE(v), f);
}
static int sl_pread(struct storage_vfs *v, struct storage_file *f, void *p, size_t n, uint64_t off,
                    size_t *got)
{
    return BASE(v)->pread(BASE(v), f, p, n, off, got);
}
static int sl_pwrite(struct storage_vfs *v, struct storage_file *f, const void *p, size_t n,
                     uint64_t off)
{
    return BASE(v)->pwrite(BASE(v), f, p, n, off);
}
static int sl_sync(struct storage_vfs *v, struct storage_file *f, bool data_only)
{
    struct slow_vfs *sv = (struct slow_vfs *)v;
    usleep(sv->sync_us);
    atomic_fetch_add(&sv->syncs, 1);
    return BASE(v)->sync(BASE(v), f, data_only);
}
static int sl_truncate(struct storage_vfs *v, struct storage_file *f, uint64_t size)
{
    return BASE(v)->truncate(BASE(v), f, size);
}
static int sl_allocate(struct storage_vfs *v, struct storage_file *f, uint64_t size)
{
    return BASE(v)->allocate(BASE(v), f, size);
}
static int sl_size(struct storage_vfs *v, struct storage_file *f, uint64_t *size)
{
    return BASE(v)->size(BASE(v), f, size);
}
static int sl_rename(struct storage_vfs *v, const char *a, const char *b)
{
    return BASE(v)->rename(BASE(v), a, b);
}
static int sl_unlink(struct storage_vfs *v, const char *p)
{
    return BASE(v)->unlink(BASE(v), p);
}
static int sl_sync_dir(struct storage_vfs *v, const char *p)
{
    return BASE(v)->sync_dir(BASE(v), p);
}
static int sl_mkdir(struct storage_vfs *v, const char *p)
{
    return BASE(v)->mkdir(BASE(v), p);
}
static int sl_list(struct storage_vfs *v, const char *p, storage_list_fn fn, void *ctx)
{
    return BASE(v)->list(BASE(v), p, fn, ctx);
}

static void slow_init(struct slow_vfs *sv, struct storage_vfs *base, unsigned sync_us)
{
    sv->v = (struct storage_vfs){sl_open,     sl_close,    sl_pread, sl_pwrite, sl_sync,
                                 sl_truncate, sl_allocate, sl_size,  sl_rename, sl_unlink,
                                 sl_sync_dir, sl_mkdir,    sl_list};
    sv->base = base;
    sv->sync_us = sync_us;
    atomic_init(&sv->syncs, 0);
}

/* ---- basics -------------------------------------------------------------------- */

TEST(wal, empty_open_close_reopen)
{
    struct storage *s = th_open(NULL, dir_in("d"), 0, NULL);
    struct storage_info info;
    storage_get_info(s, &info);
    ASSERT_U64_EQ(0, info.first_index);
    ASSERT_U64_EQ(0, info.last_index);
    ASSERT(!info.has_hard_state);
    ASSERT(!info.torn_tail);
    storage_close(s);
    s = th_open(NULL, dir_in("d"), 0, NULL);
    ASSERT_U64_EQ(0, storage_last_index(s));
    storage_close(s);
}

TEST(wal, append_read_reopen_posix)
{
    struct storage *s = th_open(NULL, dir_in("d"), SEG, NULL);
    for (uint64_t i = 1; i <= 1000; i += 50)
        ASSERT_OK(th_append(s, i, i + 49, 1 + i / 300, 700));
    ASSERT_OK(storage_sync(s));
    struct storage_durable d;
    storage_durable(s, &d);
    ASSERT_U64_EQ(1000, d.index);
    ASSERT_U64_EQ(4, d.term);
    ASSERT_EQ(0, d.err);
    ASSERT_U64_EQ(1000, th_check_log(s, 700));
    struct storage_info info;
    storage_get_info(s, &info);
    ASSERT(info.segments > 5); /* ~380 KB of records in 64 KB segments */
    storage_close(s);

    s = th_open(NULL, dir_in("d"), SEG, NULL);
    ASSERT_U64_EQ(1, storage_first_index(s));
    ASSERT_U64_EQ(1000, storage_last_index(s));
    ASSERT_U64_EQ(4, storage_last_term(s));
    ASSERT_U64_EQ(1000, th_check_log(s, 700));
    storage_durable(s, &d);
    ASSERT_U64_EQ(1000, d.index); /* what was loaded was synced by open */
    ASSERT_OK(th_append(s, 1001, 1010, 4, 700));
    ASSERT_OK(storage_sync(s));
    storage_close(s);
    s = th_open(NULL, dir_in("d"), SEG, NULL);
    ASSERT_U64_EQ(1010, th_check_log(s, 700));
    storage_close(s);
}

TEST(wal, terms_and_lookup)
{
    struct storage_vfs *vfs = storage_fault_new();
    struct storage *s = th_open(vfs, "/d", SEG, NULL);
    uint64_t t;
    ASSERT_EQ(CN_ENOENT, storage_term(s, 1, &t));
    ASSERT_OK(th_append(s, 1, 10, 1, 100));
    ASSERT_OK(th_append(s, 11, 20, 3, 100));
    ASSERT_OK(th_append(s, 21, 21, 7, 100));
    for (uint64_t i = 1; i <= 21; i++) {
        ASSERT_OK(storage_term(s, i, &t));
        ASSERT_U64_EQ(i <= 10 ? 1 : i <= 20 ? 3 : 7, t);
    }
    ASSERT_EQ(CN_ENOENT, storage_term(s, 0, &t));
    ASSERT_EQ(CN_ENOENT, storage_term(s, 22, &t));
    ASSERT_U64_EQ(7, storage_last_term(s));
    storage_close(s);
    storage_fault_free(vfs);
}

TEST(wal, append_validation)
{
    struct storage_vfs *vfs = storage_fault_new();
    struct storage *s = th_open(vfs, "/d", SEG, NULL);
    uint8_t big[SEG];
    struct storage_entry e = {5, 2, 0, "x", 1};
    ASSERT_OK(storage_append(s, &e, 1)); /* an empty log takes any first index */
    e.index = 7;
    ASSERT_EQ(CN_EINVAL, storage_append(s, &e, 1)); /* gap */
    e.index = 5;
    ASSERT_EQ(CN_EINVAL, storage_append(s, &e, 1)); /* repeat */
    e = (struct storage_entry){6, 1, 0, "x", 1};
    ASSERT_EQ(CN_EINVAL, storage_append(s, &e, 1)); /* term goes down */
    e = (struct storage_entry){6, 0, 0, "x", 1};
    ASSERT_EQ(CN_EINVAL, storage_append(s, &e, 1)); /* term 0 */
    e = (struct storage_entry){6, 2, 0, NULL, 3};
    ASSERT_EQ(CN_EINVAL, storage_append(s, &e, 1)); /* no data */
    memset(big, 1, sizeof big);
    e = (struct storage_entry){6, 2, 0, big, sizeof big};
    ASSERT_EQ(CN_ETOOBIG, storage_append(s, &e, 1)); /* larger than a segment holds */
    ASSERT_EQ(CN_EINVAL, storage_append(s, &e, 0));
    ASSERT_EQ(CN_EINVAL, storage_append(s, &e, STORAGE_APPEND_BATCH_MAX + 1));
    /* The largest entry that fits still goes in. */
    e.len = SEG - 4096 - 40 - 8;
    ASSERT_OK(storage_append(s, &e, 1));
    ASSERT_U64_EQ(6, storage_last_index(s));
    storage_close(s);
    storage_fault_free(vfs);
}

TEST(wal, read_limits)
{
    struct storage_vfs *vfs = storage_fault_new();
    struct storage *s = th_open(vfs, "/d", SEG, NULL);
    struct storage_entry out[16];
    struct cn_buf buf;
    struct cn_err err;
    size_t n;
    ASSERT_OK(th_append(s, 1, 500, 1, 300));
    cn_buf_init(&buf, 1u << 20);
    ASSERT_OK(storage_entries(s, 10, 500, SIZE_MAX, out, 16, &n, &buf, &err));
    ASSERT_EQ(16, n); /* max_n */
    for (size_t i = 0; i < n; i++)
        ASSERT(th_valid(&out[i], 300));
    ASSERT_OK(storage_entries(s, 10, 500, 1, out, 16, &n, &buf, &err));
    ASSERT_EQ(1, n); /* max_bytes: at least one */
    ASSERT_OK(storage_entries(s, 10, 12, SIZE_MAX, out, 16, &n, &buf, &err));
    ASSERT_EQ(2, n);
    ASSERT_U64_EQ(11, out[1].index);
    ASSERT_EQ(CN_ENOENT, storage_entries(s, 0, 5, SIZE_MAX, out, 16, &n, &buf, &err));
    ASSERT_EQ(CN_ENOENT, storage_entries(s, 499, 502, SIZE_MAX, out, 16, &n, &buf, &err));
    ASSERT_EQ(CN_EINVAL, storage_entries(s, 5, 5, SIZE_MAX, out, 16, &n, &buf, &err));
    cn_buf_release(&buf);
    /* A small buffer returns what fits, and refuses only when nothing does. */
    cn_buf_init(&buf, 2000);
    ASSERT_OK(storage_entries(s, 1, 500, SIZE_MAX, out, 16, &n, &buf, &err));
    ASSERT(n >= 1 && n < 16);
    for (size_t i = 0; i < n; i++)
        ASSERT(th_valid(&out[i], 300));
    cn_buf_release(&buf);
    cn_buf_init(&buf, 10);
    ASSERT_EQ(CN_ETOOBIG, storage_entries(s, 2, 3, SIZE_MAX, out, 16, &n, &buf, &err));
    cn_buf_release(&buf);
    storage_close(s);
    storage_fault_free(vfs);
}

TEST(wal, read_detects_damage_after_open)
{
    struct storage *s = th_open(NULL, dir_in("d"), SEG, NULL);
    ASSERT_OK(th_append(s, 1, 20, 1, 100));
    ASSERT_OK(storage_sync(s));
    /* Flip a payload byte of entry 5 in the file while the log is open. */
    char path[STORAGE_PATH_MAX], name[64] = "";
    for (int seq = 1; seq < 4 && !name[0]; seq++) { /* the prep thread may own seq 1 */
        snprintf(path, sizeof path, "%s/raft/wal-%016x.seg", dir_in("d"), seq);
        FILE *t = fopen(path, "rb");
        char magic[8] = "";
        if (t && fread(magic, 1, 8, t) == 8 && !memcmp(magic, "CAIRNWAL", 8))
            snprintf(name, sizeof name, "wal-%016x.seg", seq);
        if (t) fclose(t);
    }
    ASSERT(name[0]);
    FILE *f = fopen(path, "r+b");
    ASSERT(f != NULL);
    uint64_t off = 4096;
    for (uint64_t i = 1; i < 5; i++)
        off += (40 + th_len(i, 100) + 7) & ~7ull;
    fseek(f, (long)(off + 24), SEEK_SET); /* the index field */
    fputc(5 ^ 0xff, f);
    fclose(f);
    struct storage_entry out[4];
    struct cn_buf buf;
    struct cn_err err;
    size_t n;
    cn_buf_init(&buf, 1u << 20);
    cn_err_clear(&err);
    ASSERT_EQ(CN_ECORRUPT, storage_entries(s, 4, 7, SIZE_MAX, out, 4, &n, &buf, &err));
    ASSERT(strstr(err.msg, name) != NULL);
    ASSERT_OK(storage_entries(s, 1, 5, SIZE_MAX, out, 4, &n, &buf, &err));
    ASSERT_EQ(4, n);
    cn_buf_release(&buf);
    storage_close(s);
}

/* ---- truncation --------------------------------------------------------------------- */

static uint64_t term_at(struct storage *s, uint64_t i)
{
    uint64_t t = 0;
    ASSERT_OK(storage_term(s, i, &t));
    return t;
}

TEST(wal, truncate_suffix_in_segment)
{
    struct storage *s = th_open(NULL, dir_in("d"), SEG, NULL);
    ASSERT_OK(th_append(s, 1, 100, 1, 50));
    ASSERT_OK(storage_sync(s));
    ASSERT_OK(storage_truncate_suffix(s, 60));
    ASSERT_U64_EQ(59, storage_last_index(s));
    struct storage_durable d;
    storage_durable(s, &d);
    ASSERT_U64_EQ(59, d.index); /* the watermark drops with the log */
    struct storage_entry e = {61, 2, 0, "x", 1};
    ASSERT_EQ(CN_EINVAL, storage_append(s, &e, 1)); /* the next must be 60 */
    ASSERT_OK(th_append(s, 60, 80, 2, 50));
    ASSERT_OK(storage_sync(s));
    storage_close(s);
    s = th_open(NULL, dir_in("d"), SEG, NULL);
    ASSERT_U64_EQ(80, th_check_log(s, 50));
    ASSERT_U64_EQ(1, term_at(s, 59));
    ASSERT_U64_EQ(2, term_at(s, 60));
    ASSERT_U64_EQ(2, term_at(s, 80));
    storage_close(s);
}

TEST(wal, truncate_suffix_across_segments)
{
    struct storage *s = th_open(NULL, dir_in("d"), SEG, NULL);
    ASSERT_OK(th_append(s, 1, 2000, 1, 100));
    ASSERT_OK(storage_sync(s));
    struct storage_info before, after;
    storage_get_info(s, &before);
    ASSERT_OK(storage_truncate_suffix(s, 333));
    ASSERT_OK(storage_sync(s));
    storage_get_info(s, &after);
    ASSERT(after.segments < before.segments);
    ASSERT_OK(th_append(s, 333, 400, 5, 100));
    ASSERT_OK(storage_sync(s));
    storage_close(s);
    s = th_open(NULL, dir_in("d"), SEG, NULL);
    ASSERT_U64_EQ(400, th_check_log(s, 100));
    ASSERT_U64_EQ(1, term_at(s, 332));
    ASSERT_U64_EQ(5, term_at(s, 333));
    storage_close(s);
}

TEST(wal, truncate_without_append_is_durable_after_sync)
{
    struct storage *s = th_open(NULL, dir_in("d"), SEG, NULL);
    ASSERT_OK(th_append(s, 1, 100, 1, 50));
    ASSERT_OK(storage_truncate_suffix(s, 40));
    ASSERT_OK(storage_sync(s));
    storage_close(s);
    s = th_open(NULL, dir_in("d"), SEG, NULL);
    ASSERT_U64_EQ(39, storage_last_index(s));
    ASSERT_U64_EQ(39, th_check_log(s, 50));
    storage_close(s);
}

TEST(wal, truncate_suffix_everything)
{
    struct storage *s = th_open(NULL, dir_in("d"), SEG, NULL);
    ASSERT_OK(th_append(s, 10, 50, 1, 50));
    ASSERT_OK(storage_truncate_suffix(s, 10));
    ASSERT_U64_EQ(0, storage_last_index(s));
    ASSERT_U64_EQ(0, storage_first_index(s));
    ASSERT_OK(th_append(s, 10, 12, 3, 50));
    ASSERT_OK(storage_truncate_suffix(s, 11)); /* twice in a row */
    ASSERT_OK(storage_truncate_suffix(s, 11));
    ASSERT_EQ(CN_EINVAL, storage_truncate_suffix(s, 13));
    ASSERT_OK(th_append(s, 11, 11, 3, 50));
    ASSERT_OK(storage_sync(s));
    storage_close(s);
    s = th_open(NULL, dir_in("d"), SEG, NULL);
    ASSERT_U64_EQ(10, storage_first_index(s));
    ASSERT_U64_EQ(11, storage_last_index(s));
    ASSERT_U64_EQ(2, th_check_log(s, 50));
    storage_close(s);
}

TEST(wal, truncate_prefix_drops_whole_segments)
{
    struct storage *s = th_open(NULL, dir_in("d"), SEG, NULL);
    ASSERT_OK(th_append(s, 1, 3000, 1, 100));
    struct storage_info a, b;
    storage_get_info(s, &a);
    ASSERT_OK(storage_truncate_prefix(s, 1500));
    storage_get_info(s, &b);
    ASSERT(b.segments < a.segments);
    uint64_t first = storage_first_index(s);
    ASSERT(first > 1 && first <= 1500);
    ASSERT_OK(storage_truncate_prefix(s, 1));      /* nothing to drop */
    ASSERT_OK(storage_truncate_prefix(s, 100000)); /* never the newest segment */
    ASSERT(storage_last_index(s) == 3000);
    ASSERT_OK(th_append(s, 3001, 3100, 2, 100));
    ASSERT_OK(storage_sync(s));
    first = storage_first_index(s);
    storage_close(s);
    s = th_open(NULL, dir_in("d"), SEG, NULL);
    ASSERT_U64_EQ(first, storage_first_index(s));
    ASSERT_U64_EQ(3100, storage_last_index(s));
    ASSERT_U64_EQ(3100 - first + 1, th_check_log(s, 100));
    storage_close(s);
}

TEST(wal, reset_starts_over)
{
    struct storage *s = th_open(NULL, dir_in("d"), SEG, NULL);
    ASSERT_OK(th_append(s, 1, 800, 1, 100));
    ASSERT_OK(storage_reset(s, 5000));
    ASSERT_U64_EQ(0, storage_last_index(s));
    struct storage_entry e = {1, 1, 0, "x", 1};
    ASSERT_EQ(CN_EINVAL, storage_append(s, &e, 1));
    ASSERT_OK(th_append(s, 5000, 5010, 9, 100));
    ASSERT_OK(storage_sync(s));
    storage_close(s);
    s = th_open(NULL, dir_in("d"), SEG, NULL);
    ASSERT_U64_EQ(5000, storage_first_index(s));
    ASSERT_U64_EQ(5010, storage_last_index(s));
    ASSERT_U64_EQ(11, th_check_log(s, 100));
    storage_close(s);
}

/* ---- hard state ---------------------------------------------------------------------- */

TEST(wal, hard_state_round_trip)
{
    struct storage *s = th_open(NULL, dir_in("d"), SEG, NULL);
    struct storage_hard_state hs;
    bool has;
    storage_hard_state(s, &hs, &has);
    ASSERT(!has);
    struct storage_hard_state in = {3, 2, "cfg", 3};
    ASSERT_OK(storage_hard_state_save(s, &in));
    struct storage_durable d;
    storage_durable(s, &d);
    ASSERT_U64_EQ(1, d.hard_state_seq);
    uint64_t seq = 0;
    in = (struct storage_hard_state){4, 0, NULL, 0};
    ASSERT_OK(storage_hard_state_set(s, &in, &seq));
    ASSERT_U64_EQ(2, seq);
    storage_hard_state(s, &hs, &has);
    ASSERT(has);
    ASSERT_U64_EQ(4, hs.term);
    ASSERT_OK(storage_sync(s));
    storage_durable(s, &d);
    ASSERT_U64_EQ(2, d.hard_state_seq);
    uint8_t big[STORAGE_HARD_STATE_META_MAX + 1] = {0};
    in = (struct storage_hard_state){5, 1, big, sizeof big};
    ASSERT_EQ(CN_EINVAL, storage_hard_state_set(s, &in, NULL));
    in.meta_len = STORAGE_HARD_STATE_META_MAX;
    memset(big, 0xee, in.meta_len);
    ASSERT_OK(storage_hard_state_save(s, &in));
    storage_close(s);
    s = th_open(NULL, dir_in("d"), SEG, NULL);
    storage_hard_state(s, &hs, &has);
    ASSERT(has);
    ASSERT_U64_EQ(5, hs.term);
    ASSERT_U64_EQ(1, hs.vote);
    ASSERT_EQ(STORAGE_HARD_STATE_META_MAX, hs.meta_len);
    ASSERT_MEM_EQ(big, hs.meta, hs.meta_len);
    storage_close(s);
}

TEST(wal, corrupt_hard_state_refused)
{
    struct storage *s = th_open(NULL, dir_in("d"), SEG, NULL);
    struct storage_hard_state in = {3, 2, "cfg", 3};
    ASSERT_OK(storage_hard_state_save(s, &in));
    storage_close(s);
    char path[STORAGE_PATH_MAX];
    snprintf(path, sizeof path, "%s/raft/hardstate", dir_in("d"));
    FILE *f = fopen(path, "r+b");
    fseek(f, 17, SEEK_SET);
    fputc(0x42, f);
    fclose(f);
    struct storage_options o = {.dir = dir_in("d"), .segment_size = SEG};
    struct cn_err err;
    cn_err_clear(&err);
    ASSERT_EQ(CN_ECORRUPT, storage_open(&o, &s, &err));
    ASSERT(strstr(err.msg, "hardstate") != NULL);
}

/* ---- group commit and reports --------------------------------------------------------------- */

static pthread_t main_thread;
static atomic_int cb_on_main;

static void cb_thread_check(void *ctx, const struct storage_durable *d)
{
    if (pthread_equal(pthread_self(), main_thread)) atomic_store(&cb_on_main, 1);
    th_on_durable(ctx, d);
}

TEST(wal, on_durable_runs_on_sync_thread)
{
    struct storage_vfs *vfs = storage_fault_new();
    struct th_acks acks = {PTHREAD_MUTEX_INITIALIZER, {0}, 0};
    struct storage_options o = {
        .dir = "/d", .vfs = vfs, .segment_size = SEG, .on_durable = cb_thread_check, .ctx = &acks};
    struct storage *s;
    struct cn_err err;
    main_thread = pthread_self();
    ASSERT_OK(storage_open(&o, &s, &err));
    ASSERT_OK(th_append(s, 1, 30, 2, 100));
    for (int i = 0; i < 2000; i++) { /* wait for the report without storage_sync */
        pthread_mutex_lock(&acks.mu);
        uint64_t got = acks.last.index;
        pthread_mutex_unlock(&acks.mu);
        if (got == 30) break;
        usleep(1000);
    }
    ASSERT_U64_EQ(30, acks.last.index);
    ASSERT_U64_EQ(2, acks.last.term);
    ASSERT_EQ(0, atomic_load(&cb_on_main));
    storage_close(s);
    storage_fault_free(vfs);
}

TEST(wal, group_commit_shares_fsyncs)
{
    struct slow_vfs sv;
    struct storage_vfs *mem = storage_fault_new();
    slow_init(&sv, mem, 2000); /* 2 ms per sync */
    struct th_acks acks = {PTHREAD_MUTEX_INITIALIZER, {0}, 0};
    struct storage *s = th_open(&sv.v, "/d", 1u << 20, &acks);
    usleep(20000); /* let the spare segment be made */
    unsigned long before = atomic_load(&sv.syncs);
    /* 2000 single-entry appends as fast as the caller can: never blocked. */
    uint64_t t0 = (uint64_t)clock();
    for (uint64_t i = 1; i <= 2000; i++)
        ASSERT_OK(th_append(s, i, i, 1, 256));
    double cpu_s = (double)((uint64_t)clock() - t0) / CLOCKS_PER_SEC;
    ASSERT_OK(storage_sync(s));
    unsigned long syncs = atomic_load(&sv.syncs) - before;
    ASSERT(syncs < 200); /* >= 10 appends per fdatasync */
    ASSERT(cpu_s < 2.0);
    pthread_mutex_lock(&acks.mu);
    ASSERT_U64_EQ(2000, acks.last.index);
    ASSERT(acks.calls <= syncs + 1);
    pthread_mutex_unlock(&acks.mu);
    storage_close(s);
    storage_fault_free(mem);
}

TEST(wal, pending_limit_says_again)
{
    struct slow_vfs sv;
    struct storage_vfs *mem = storage_fault_new();
    slow_init(&sv, mem, 50000); /* 50 ms per sync */
    struct storage_options o = {
        .dir = "/d", .vfs = &sv.v, .segment_size = SEG, .pending_max = 4096};
    struct storage *s;
    struct cn_err err;
    ASSERT_OK(storage_open(&o, &s, &err));
    int rc = 0;
    uint64_t i = 1;
    for (; i <= 1000 && rc == 0; i++)
        rc = th_append(s, i, i, 1, 500);
    ASSERT_EQ(CN_EAGAIN, rc);
    ASSERT(i < 20);
    ASSERT_OK(storage_sync(s));
    ASSERT_OK(th_append(s, i - 1, i - 1, 1, 500)); /* room again once durable */
    storage_close(s);
    storage_fault_free(mem);
}

TEST(wal, durable_never_claims_truncated_entries)
{
    struct slow_vfs sv;
    struct storage_vfs *mem = storage_fault_new();
    slow_init(&sv, mem, 3000);
    struct storage *s = th_open(&sv.v, "/d", SEG, NULL);
    struct cn_rand r;
    cn_rand_seed(&r, cn_test_seed());
    uint64_t last = 0, term = 1;
    for (int round = 0; round < 300; round++) {
        if (last > 5 && cn_rand_below(&r, 4) == 0) {
            uint64_t cut = last - cn_rand_below(&r, 5);
            ASSERT_OK(storage_truncate_suffix(s, cut));
            last = cut - 1;
            term++;
        }
        ASSERT_OK(th_append(s, last + 1, last + 3, term, 64));
        last += 3;
        struct storage_durable d;
        storage_durable(s, &d);
        ASSERT(d.index <= last);
        if (d.index) ASSERT_U64_EQ(term_at(s, d.index), d.term);
        if (cn_rand_below(&r, 10) == 0) usleep(2000);
    }
    ASSERT_OK(storage_sync(s));
    storage_close(s);
    s = th_open(mem, "/d", SEG, NULL);
    ASSERT_U64_EQ(last, storage_last_index(s));
    ASSERT_U64_EQ(term, storage_last_term(s));
    storage_close(s);
    storage_fault_free(mem);
}

/* ---- read-only ---------------------------------------------------------------------------------
 */

TEST(wal, read_only_open)
{
    struct storage *s = th_open(NULL, dir_in("d"), SEG, NULL);
    ASSERT_OK(th_append(s, 1, 50, 1, 100));
    ASSERT_OK(storage_sync(s));
    storage_close(s);
    struct storage_options o = {.dir = dir_in("d"), .segment_size = SEG, .read_only = true};
    struct cn_err err;
    ASSERT_OK(storage_open(&o, &s, &err));
    ASSERT_U64_EQ(50, th_check_log(s, 100));
    ASSERT_EQ(CN_EPERM, th_append(s, 51, 51, 1, 100));
    ASSERT_EQ(CN_EPERM, storage_truncate_suffix(s, 3));
    storage_close(s);
    o.dir = dir_in("missing");
    ASSERT_OK(storage_open(&o, &s, &err)); /* inspecting nothing is an empty log */
    ASSERT_U64_EQ(0, storage_last_index(s));
    storage_close(s);
}

/* ---- I/O errors
 * ----------------------------------------------------------------------------------- */

TEST(wal, sync_error_fails_the_log)
{
    struct storage_vfs *vfs = storage_fault_new();
    struct th_acks acks = {PTHREAD_MUTEX_INITIALIZER, {0}, 0};
    struct storage *s = th_open(vfs, "/d", SEG, &acks);
    ASSERT_OK(th_append(s, 1, 10, 1, 100));
    ASSERT_OK(storage_sync(s));
    storage_fault_inject(vfs, STORAGE_FAULT_SYNC, 0, -EIO); /* every sync from now on */
    ASSERT_OK(th_append(s, 11, 20, 1, 100));
    ASSERT_EQ(CN_EIO, storage_sync(s));
    struct storage_durable d;
    storage_durable(s, &d);
    ASSERT_U64_EQ(10, d.index);
    ASSERT_EQ(CN_EIO, d.err);
    pthread_mutex_lock(&acks.mu);
    ASSERT_EQ(CN_EIO, acks.last.err);
    pthread_mutex_unlock(&acks.mu);
    /* fsyncgate: the page cache can no longer be trusted; the log stays failed. */
    storage_fault_inject(vfs, STORAGE_FAULT_SYNC, 0, 0);
    ASSERT_EQ(CN_EIO, th_append(s, 21, 21, 1, 100));
    ASSERT_EQ(CN_EIO, storage_sync(s));
    struct storage_hard_state hs = {1, 1, NULL, 0};
    ASSERT_EQ(CN_EIO, storage_hard_state_set(s, &hs, NULL));
    storage_close(s);
    s = th_open(vfs, "/d", SEG, NULL);
    ASSERT(storage_last_index(s) >= 10); /* the unsynced ones may or may not be there */
    storage_close(s);
    storage_fault_free(vfs);
}

TEST(wal, write_error_fails_the_log)
{
    struct storage_vfs *vfs = storage_fault_new();
    struct storage *s = th_open(vfs, "/d", SEG, NULL);
    ASSERT_OK(th_append(s, 1, 10, 1, 100));
    /* Let the sync thread finish its own writes first, or it may take the
     * injected failure and the append below would still succeed. */
    ASSERT_OK(storage_sync(s));
    storage_fault_inject(vfs, STORAGE_FAULT_WRITE, 1, -ENOSPC);
    ASSERT_EQ(CN_EIO, th_append(s, 11, 11, 1, 100));
    ASSERT_EQ(CN_EIO, th_append(s, 11, 11, 1, 100));
    storage_close(s);
    storage_fault_free(vfs);
}

TEST(wal, open_errors_name_the_file)
{
    struct storage_vfs *vfs = storage_fault_new();
    struct storage *s = th_open(vfs, "/d", SEG, NULL);
    ASSERT_OK(th_append(s, 1, 10, 1, 100));
    storage_close(s);
    storage_fault_inject(vfs, STORAGE_FAULT_READ, 2, -EIO);
    struct storage_options o = {.dir = "/d", .vfs = vfs, .segment_size = SEG};
    struct cn_err err;
    cn_err_clear(&err);
    ASSERT_EQ(CN_EIO, storage_open(&o, &s, &err));
    ASSERT(strstr(err.msg, "/d/raft") != NULL);
    storage_fault_inject(vfs, STORAGE_FAULT_READ, 0, 0);
    o.segment_size = 1000; /* out of range */
    ASSERT_EQ(CN_EINVAL, storage_open(&o, &s, &err));
    storage_fault_free(vfs);
}

TEST(wal, preallocation_failure_falls_back)
{
    struct storage_vfs *vfs = storage_fault_new();
    storage_fault_inject(vfs, STORAGE_FAULT_ALLOCATE, 1, -ENOSPC); /* the prep thread's */
    struct storage *s = th_open(vfs, "/d", SEG, NULL);
    for (int i = 0; i < 1000 && storage_fault_count(vfs, STORAGE_FAULT_ALLOCATE) == 0; i++)
        usleep(1000);
    ASSERT_OK(th_append(s, 1, 2000, 1, 100)); /* several segments, made inline if need be */
    ASSERT_OK(storage_sync(s));
    storage_close(s);
    s = th_open(vfs, "/d", SEG, NULL);
    ASSERT_U64_EQ(2000, th_check_log(s, 100));
    storage_close(s);
    storage_fault_free(vfs);
}
