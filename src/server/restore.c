/* restore.c - staging and applying a user's snapshot restore (restore.h). */
#include "server/restore.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/cn_common.h"
#include "lib/cn_log.h"
#include "lib/cn_time.h"
#include "rpc/rpc_cmd.h"
#include "storage/archive.h"

#define CHUNKS_MAX (SERVER_RESTORE_ARCHIVE_MAX / SERVER_RESTORE_CHUNK + 1)

struct piece {
    struct raft_buf *buf; /* holds p */
    const uint8_t *p;
    size_t n;
};

struct server_restore {
    bool open;
    uint64_t id;
    uint32_t total, next;
    uint64_t len, have;
    struct piece *pieces;
    size_t npieces, cap;
};

struct chunk {
    uint64_t id;
    uint32_t seq, total;
    uint64_t len;
    struct cn_str data;
};

void server_restore_chunk_encode(uint64_t id, uint32_t seq, uint32_t total, uint64_t archive_len,
                                 const void *p, size_t n, struct cn_buf *out)
{
    rpc_cmd_begin(out, RPC_CMD_RESTORE);
    cn_enc_u64(out, id);
    cn_enc_uvar(out, seq);
    cn_enc_uvar(out, total);
    cn_enc_uvar(out, archive_len);
    cn_enc_bytes(out, p, n);
}

bool server_restore_is_chunk(const void *cmd, size_t len)
{
    return len >= 2 && ((const uint8_t *)cmd)[0] == RPC_CMD_RESTORE;
}

static int chunk_decode(const void *cmd, size_t len, struct chunk *c)
{
    struct cn_dec d;
    enum rpc_cmd_type type;
    int rc = rpc_cmd_open(&d, cmd, len, &type);
    if (rc) return rc;
    if (type != RPC_CMD_RESTORE) return CN_EINVAL;
    c->id = cn_dec_u64(&d);
    uint64_t seq = cn_dec_uvar(&d), total = cn_dec_uvar(&d);
    c->len = cn_dec_uvar(&d);
    c->data = cn_dec_bytes(&d, SERVER_RESTORE_CHUNK);
    if (cn_dec_status(&d) || cn_dec_left(&d)) return CN_ECORRUPT;
    if (total == 0 || total > CHUNKS_MAX || seq >= total || c->len > SERVER_RESTORE_ARCHIVE_MAX)
        return CN_ECORRUPT;
    c->seq = (uint32_t)seq;
    c->total = (uint32_t)total;
    return 0;
}

struct server_restore *server_restore_new(void)
{
    return CN_NEW(struct server_restore);
}

void server_restore_reset(struct server_restore *rs)
{
    for (size_t i = 0; i < rs->npieces; i++)
        raft_buf_unref(rs->pieces[i].buf);
    rs->npieces = 0;
    rs->open = false;
    rs->have = rs->len = 0;
    rs->next = rs->total = 0;
}

void server_restore_free(struct server_restore *rs)
{
    if (!rs) return;
    server_restore_reset(rs);
    free(rs->pieces);
    free(rs);
}

bool server_restore_pending(const struct server_restore *rs)
{
    return rs && rs->open;
}

uint64_t server_restore_index_base(struct state_store *st)
{
    uint64_t base = 0;
    return state_meta_get(st, SERVER_RESTORE_META_BASE, &base, NULL) ? base : 0;
}

static int fail(struct rpc_result *res, int rc, const char *fmt, ...) CN_PRINTF(3, 4);
static int fail(struct rpc_result *res, int rc, const char *fmt, ...)
{
    va_list ap;
    char msg[CN_ERR_MSG_MAX];
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    free(res->text);
    res->text = cn_strdup(msg);
    return rc;
}

/* The staged pieces as one byte stream. */
struct pieces_src {
    const struct server_restore *rs;
    size_t i, off;
};

static long pieces_read(void *ctx, void *p, size_t n)
{
    struct pieces_src *s = ctx;
    while (s->i < s->rs->npieces && s->off == s->rs->pieces[s->i].n) {
        s->i++;
        s->off = 0;
    }
    if (s->i == s->rs->npieces) return 0;
    const struct piece *pc = &s->rs->pieces[s->i];
    size_t k = CN_MIN(n, pc->n - s->off);
    memcpy(p, pc->p + s->off, k);
    s->off += k;
    return (long)k;
}

struct state_store *server_restore_load(storage_archive_read_fn in, void *in_ctx,
                                        struct cn_err *err)
{
    struct storage_archive_reader *rd;
    struct storage_archive_meta meta;
    struct state_store *tmp = NULL;
    int rc = storage_archive_open(in, in_ctx, &rd, err);
    if (rc == 0) {
        tmp = state_new();
        rc = state_snapshot_restore(tmp, storage_archive_read_state, rd, err);
        /* A failure underneath the state decoder is the archive's to tell;
         * so is one the sums at the end explain (a damaged file rather than
         * a state encoding we cannot read). */
        struct cn_err verdict;
        if (rc && storage_archive_error(rd)->code)
            *err = *storage_archive_error(rd);
        else if (rc && storage_archive_finish(rd, NULL, &verdict))
            *err = verdict;
        else if (rc)
            cn_err_wrap(err, "failed to restore snapshot");
    }
    if (rc == 0) rc = storage_archive_finish(rd, &meta, err);
    if (rc == 0 && storage_archive_unread(rd))
        rc = cn_err_set(err, CN_ECORRUPT,
                        "failed to restore snapshot: %llu bytes after the end of "
                        "the state in state.bin",
                        (unsigned long long)storage_archive_unread(rd));
    storage_archive_close(rd);
    if (rc) {
        state_free(tmp);
        return NULL;
    }
    return tmp;
}

static int restore_now(struct server_restore *rs, struct state_store *st, uint64_t log_index,
                       uint64_t *index_base, struct rpc_result *res)
{
    struct cn_err err;
    struct pieces_src src = {rs, 0, 0};
    uint64_t t0 = cn_now_ms();
    struct state_store *tmp = server_restore_load(pieces_read, &src, &err);
    if (!tmp) {
        CN_WARN("server", "snapshot restore at index %" PRIu64 " refused: %s", log_index, err.msg);
        return fail(res, err.code ? err.code : CN_ECORRUPT, "%s", err.msg);
    }
    uint64_t archive_index = state_last_index(tmp);
    uint64_t here = log_index + *index_base;
    uint64_t index = CN_MAX(archive_index + 1, here);
    state_restore_stamp(tmp, index);
    struct state_txn *tx = state_txn_begin(tmp, index);
    state_meta_set_txn(tx, SERVER_RESTORE_META_BASE, index - log_index, CN_STR_NULL);
    state_txn_commit(tx);
    state_replace(st, tmp);
    *index_base = index - log_index;
    res->index = index;
    res->ok = true;
    CN_INFO("server",
            "restored a snapshot of index %" PRIu64 " at index %" PRIu64 " (%" PRIu64
            " bytes, %" PRIu64 " ms)",
            archive_index, index, rs->len, cn_now_ms() - t0);
    return 0;
}

int server_restore_apply(struct server_restore *rs, struct state_store *st, uint64_t log_index,
                         const void *cmd, size_t len, struct raft_buf *buf, uint64_t *index_base,
                         bool *restored, struct rpc_result *res)
{
    struct chunk c;
    memset(res, 0, sizeof *res);
    res->index = log_index + *index_base;
    *restored = false;
    int rc = chunk_decode(cmd, len, &c);
    if (rc) {
        server_restore_reset(rs);
        return fail(res, CN_ECORRUPT, "malformed snapshot restore command");
    }
    if (c.seq == 0) {
        server_restore_reset(rs);
        *rs = (struct server_restore){.open = true,
                                      .id = c.id,
                                      .total = c.total,
                                      .len = c.len,
                                      .pieces = rs->pieces,
                                      .cap = rs->cap};
    } else if (!rs->open || rs->id != c.id || rs->next != c.seq) {
        server_restore_reset(rs);
        return fail(res, CN_ECANCELED,
                    "snapshot restore interrupted: part of the archive never "
                    "reached the log (leader change?)");
    }
    if (rs->have + c.data.len > rs->len) {
        server_restore_reset(rs);
        return fail(res, CN_ECORRUPT, "malformed snapshot restore command");
    }
    if (rs->npieces == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 16;
        rs->pieces = cn_realloc(rs->pieces, rs->cap * sizeof *rs->pieces);
    }
    struct piece *pc = &rs->pieces[rs->npieces++];
    pc->buf = buf ? raft_buf_ref(buf) : raft_buf_copy(c.data.p, c.data.len);
    pc->p = buf ? (const uint8_t *)c.data.p : pc->buf->data;
    pc->n = c.data.len;
    rs->have += c.data.len;
    rs->next++;
    if (rs->next < rs->total) return 0;
    if (rs->have != rs->len) {
        server_restore_reset(rs);
        return fail(res, CN_ECORRUPT, "malformed snapshot restore command");
    }
    rc = restore_now(rs, st, log_index, index_base, res);
    server_restore_reset(rs);
    *restored = rc == 0;
    return rc;
}
