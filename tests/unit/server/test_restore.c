/*
 * A user's snapshot restore as every server applies it (server/restore.h):
 * a run of chunk commands staged and applied at its last chunk, atomically,
 * with indexes that never go back; interrupted runs, bad archives and
 * malformed commands change nothing, the same way on every server.
 */
#include "../state/helpers.h"
#include "lib/cn_buf.h"
#include "server/restore.h"
#include "storage/archive.h"
#include "test.h"

static int buf_write(void *ctx, const void *p, size_t n)
{
    return cn_buf_append(ctx, p, n);
}

/* The archive of a store, as GET /v1/snapshot would make it. */
static void archive_of_bytes(const struct cn_buf *state, uint64_t index, struct cn_buf *out)
{
    struct storage_archive_meta m = {
        .version = STORAGE_ARCHIVE_VERSION, .index = index, .term = 1, .size = state->len};
    struct storage_archive_mem src = {(const uint8_t *)state->data, state->len, 0};
    struct cn_err err;
    snprintf(m.id, sizeof m.id, "1-%llu-0", (unsigned long long)index);
    cn_buf_init(out, CN_BUF_UNLIMITED);
    ASSERT_OK(storage_archive_write(&m, storage_archive_mem_read, &src, buf_write, out, 1, &err));
}

static void archive_of(struct state_store *st, struct cn_buf *out)
{
    struct cn_buf state;
    cn_buf_init(&state, CN_BUF_UNLIMITED);
    ASSERT_OK(state_snapshot_write(st, buf_write, &state));
    archive_of_bytes(&state, state_last_index(st), out);
    cn_buf_release(&state);
}

/* A server's side: a store, its staging and its index base. */
struct server {
    struct state_store *st;
    struct server_restore *rs;
    uint64_t base;
};

static void server_init(struct server *s)
{
    s->st = state_new();
    s->rs = server_restore_new();
    s->base = 0;
    for (int i = 1; i <= 20; i++) {
        char k[16];
        snprintf(k, sizeof k, "live/%02d", i);
        put(s->st, (uint64_t)i, k, "x");
    }
}

static void server_release(struct server *s)
{
    server_restore_free(s->rs);
    state_free(s->st);
}

struct applied {
    int rc;
    bool restored;
    struct rpc_result res;
};

static struct applied apply_chunk(struct server *s, uint64_t index, uint64_t id, uint32_t seq,
                                  uint32_t total, const struct cn_buf *a, size_t off, size_t n)
{
    struct cn_buf cmd;
    struct applied out;
    cn_buf_init(&cmd, CN_BUF_UNLIMITED);
    server_restore_chunk_encode(id, seq, total, a->len, a->data + off, n, &cmd);
    ASSERT(server_restore_is_chunk(cmd.data, cmd.len));
    struct raft_buf *b = raft_buf_copy(cmd.data, cmd.len);
    out.rc = server_restore_apply(s->rs, s->st, index, b->data, b->len, b, &s->base, &out.restored,
                                  &out.res);
    raft_buf_unref(b); /* staging holds its own reference */
    cn_buf_release(&cmd);
    return out;
}

/* Apply the archive in pieces of piece bytes at Raft indexes from first. */
static struct applied apply_run(struct server *s, uint64_t first, uint64_t id,
                                const struct cn_buf *a, size_t piece)
{
    uint32_t total = (uint32_t)((a->len + piece - 1) / piece);
    struct applied r = {0};
    for (uint32_t i = 0; i < total; i++) {
        free(r.res.text);
        size_t off = (size_t)i * piece;
        r = apply_chunk(s, first + i, id, i, total, a, off, CN_MIN(piece, a->len - off));
        if (i + 1 < total) {
            ASSERT_OK(r.rc);
            ASSERT(!r.restored);
            ASSERT(server_restore_pending(s->rs)); /* no snapshot while staged */
        }
    }
    ASSERT(!server_restore_pending(s->rs));
    return r;
}

static void snapshot_bytes(struct state_store *st, struct cn_buf *out)
{
    cn_buf_init(out, CN_BUF_UNLIMITED);
    ASSERT_OK(state_snapshot_write(st, buf_write, out));
}

/* An archive of a store whose history ran to index 500. */
static void long_history_archive(struct cn_buf *a)
{
    struct state_store *src = state_new();
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 300; i++) {
        char k[16], v[40];
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* incompressible values: several chunks */
        snprintf(k, sizeof k, "saved/%03d", i);
        snprintf(v, sizeof v, "%016llx%016llx", (unsigned long long)x, (unsigned long long)~x);
        put(src, 200 + (uint64_t)i, k, v);
    }
    put(src, 500, "saved/last", "v");
    archive_of(src, a);
    state_free(src);
}

TEST(restore, a_complete_run_replaces_the_store_above_every_index)
{
    struct server s;
    struct cn_buf a;
    server_init(&s);
    long_history_archive(&a);
    ASSERT(a.len > 3000);
    /* the log is at 20; the archive's history reached 500 */
    struct applied r = apply_run(&s, 21, 7, &a, 1000);
    ASSERT_OK(r.rc);
    ASSERT(r.restored);
    uint64_t last_raft = 21 + (a.len + 999) / 1000 - 1;
    ASSERT_U64_EQ(501, r.res.index);
    ASSERT_U64_EQ(501 - last_raft, s.base);
    ASSERT_U64_EQ(s.base, server_restore_index_base(s.st));
    ASSERT(get(s.st, "live/01") == NULL);
    ASSERT(get(s.st, "saved/042") != NULL);
    ASSERT_U64_EQ(242, get(s.st, "saved/042")->modify_index);
    ASSERT_U64_EQ(501, state_last_index(s.st));
    ASSERT_U64_EQ(501, state_kv_index(s.st));
    ASSERT_U64_EQ(501, state_restore_index(s.st));
    free(r.res.text);
    cn_buf_release(&a);
    server_release(&s);
}

TEST(restore, an_older_archive_lands_at_the_current_index)
{
    struct server s;
    struct cn_buf a;
    struct state_store *src = state_new();
    server_init(&s);
    put(src, 3, "old", "v");
    archive_of(src, &a);
    s.base = 5; /* an earlier restore already moved it */
    struct applied r = apply_run(&s, 40, 9, &a, 100000);
    ASSERT_OK(r.rc);
    ASSERT_U64_EQ(45, r.res.index); /* never below what the log had reached */
    ASSERT_U64_EQ(5, s.base);
    ASSERT(get(s.st, "old") != NULL);
    state_free(src);
    cn_buf_release(&a);
    server_release(&s);
}

TEST(restore, every_server_ends_with_the_same_bytes)
{
    struct server s1, s2;
    struct cn_buf a, b1, b2;
    server_init(&s1);
    server_init(&s2);
    long_history_archive(&a);
    struct applied r1 = apply_run(&s1, 21, 3, &a, 700), r2 = apply_run(&s2, 21, 3, &a, 700);
    ASSERT_OK(r1.rc);
    ASSERT_OK(r2.rc);
    snapshot_bytes(s1.st, &b1);
    snapshot_bytes(s2.st, &b2);
    ASSERT_EQ(b1.len, b2.len);
    ASSERT_MEM_EQ(b1.data, b2.data, b1.len);
    cn_buf_release(&a);
    cn_buf_release(&b1);
    cn_buf_release(&b2);
    server_release(&s1);
    server_release(&s2);
}

TEST(restore, an_interrupted_run_fails_and_changes_nothing)
{
    /* A new leader's no-op after a partial run: the raft node resets the
     * staging on any other entry, and the rest of the run never applies. */
    struct server s;
    struct cn_buf a, before, after;
    server_init(&s);
    long_history_archive(&a);
    snapshot_bytes(s.st, &before);
    uint32_t total = (uint32_t)((a.len + 999) / 1000);
    ASSERT(total >= 3);
    struct applied r = apply_chunk(&s, 21, 5, 0, total, &a, 0, 1000);
    ASSERT_OK(r.rc);
    server_restore_reset(s.rs);
    ASSERT(!server_restore_pending(s.rs));
    r = apply_chunk(&s, 23, 5, 1, total, &a, 1000, 1000);
    ASSERT_EQ(CN_ECANCELED, r.rc);
    ASSERT(strstr(r.res.text, "interrupted") != NULL);
    free(r.res.text);
    /* out of order and foreign ids are refused the same way */
    r = apply_chunk(&s, 24, 5, 0, total, &a, 0, 1000);
    ASSERT_OK(r.rc);
    r = apply_chunk(&s, 25, 5, 2, total, &a, 2000, 1000);
    ASSERT_EQ(CN_ECANCELED, r.rc);
    free(r.res.text);
    r = apply_chunk(&s, 26, 5, 0, total, &a, 0, 1000);
    r = apply_chunk(&s, 27, 6, 1, total, &a, 1000, 1000);
    ASSERT_EQ(CN_ECANCELED, r.rc);
    free(r.res.text);
    snapshot_bytes(s.st, &after);
    ASSERT_EQ(before.len, after.len);
    ASSERT_MEM_EQ(before.data, after.data, before.len);
    ASSERT_U64_EQ(0, s.base);
    cn_buf_release(&a);
    cn_buf_release(&before);
    cn_buf_release(&after);
    server_release(&s);
}

TEST(restore, a_bad_archive_in_the_log_changes_nothing)
{
    /* Valid sums around a state.bin that is not a state: every server
     * refuses it at the last chunk with the same message. */
    struct server s;
    struct cn_buf a, junk, before, after;
    server_init(&s);
    cn_buf_init(&junk, CN_BUF_UNLIMITED);
    cn_buf_puts(&junk, "CNST this is not what it claims to be");
    archive_of_bytes(&junk, 9, &a);
    snapshot_bytes(s.st, &before);
    struct applied r = apply_run(&s, 21, 1, &a, 100);
    ASSERT_NE(0, r.rc);
    ASSERT(!r.restored);
    ASSERT(strncmp(r.res.text, "failed to restore snapshot: ", 28) == 0);
    free(r.res.text);
    snapshot_bytes(s.st, &after);
    ASSERT_EQ(before.len, after.len);
    ASSERT_MEM_EQ(before.data, after.data, before.len);
    /* a damaged archive names the damage, not the state decoder's symptom */
    long_history_archive(&a);
    a.data[a.len / 2] ^= 0x40;
    r = apply_run(&s, 40, 2, &a, 1000);
    ASSERT_NE(0, r.rc);
    ASSERT(strncmp(r.res.text, "failed to read snapshot file: ", 30) == 0);
    free(r.res.text);
    cn_buf_release(&a);
    cn_buf_release(&junk);
    cn_buf_release(&before);
    cn_buf_release(&after);
    server_release(&s);
}

TEST(restore, malformed_commands_are_refused)
{
    struct server s;
    struct applied r;
    server_init(&s);
    static const uint8_t junk[] = {11, 1, 0xff, 0xff};
    r.rc =
        server_restore_apply(s.rs, s.st, 21, junk, sizeof junk, NULL, &s.base, &r.restored, &r.res);
    ASSERT_EQ(CN_ECORRUPT, r.rc);
    ASSERT(!server_restore_is_chunk("\x01\x01", 2));
    free(r.res.text);
    server_release(&s);
}
