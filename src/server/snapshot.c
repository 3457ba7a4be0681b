/* snapshot.c - saving and restoring snapshot archives on a server
 * (snapshot.h). */
#include "server/snapshot.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "lib/cn_common.h"
#include "lib/cn_log.h"
#include "lib/cn_time.h"
#include "server/raftnode.h"
#include "server/server.h"
#include "server/restore.h"
#include "storage/archive.h"

/* One save or restore; the struct rpc_snapshot handed out. */
struct rpc_snapshot {
    uv_work_t work;
    struct server *s;
    struct raftnode *rn;
    bool cancelled;
    rpc_snapshot_fn done;
    void *arg;
    int rc;
    struct cn_err err;
    /* save */
    int fd;
    uint64_t written;
    struct storage_archive_meta meta;
    struct cn_buf out;
    /* restore */
    char *archive;
    size_t len;
};

static void op_free(struct rpc_snapshot *op)
{
    if (op->fd >= 0) close(op->fd);
    cn_buf_release(&op->out);
    free(op->archive);
    free(op);
}

static struct rpc_snapshot *op_new(struct server *s, rpc_snapshot_fn done, void *arg)
{
    struct rpc_snapshot *op = CN_NEW(struct rpc_snapshot);
    op->s = s;
    op->rn = server_raftnode(s);
    op->done = done;
    op->arg = arg;
    op->fd = -1;
    op->work.data = op;
    cn_buf_init(&op->out, CN_BUF_UNLIMITED);
    return op;
}

void server_snapshot_cancel(void *be, struct rpc_snapshot *op)
{
    (void)be;
    if (op) op->cancelled = true; /* freed by the callback still to come */
}

/* Answer once (unless cancelled) and free. */
static void op_finish(struct rpc_snapshot *op, uint64_t index)
{
    if (!op->cancelled) {
        struct rpc_snapshot_result r = {.rc = op->rc,
                                        .error = op->rc ? op->err.msg : NULL,
                                        .archive = &op->out,
                                        .index = index};
        server_backend_ops()->leader_info(op->s, &r.known_leader, &r.last_contact_ms);
        op->done(op->arg, &r);
    }
    op_free(op);
}

/* ---- save ------------------------------------------------------------ */

static int fd_write(void *ctx, const void *p, size_t n)
{
    struct rpc_snapshot *op = ctx;
    while (n) {
        ssize_t k = write(op->fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return -errno;
        p = (const char *)p + k;
        n -= (size_t)k;
        op->written += (uint64_t)k;
    }
    return 0;
}

static long fd_read(void *ctx, void *p, size_t n)
{
    struct rpc_snapshot *op = ctx;
    ssize_t k;
    do
        k = read(op->fd, p, n);
    while (k < 0 && errno == EINTR);
    return k < 0 ? -errno : (long)k;
}

static int buf_write(void *ctx, const void *p, size_t n)
{
    cn_buf_put(ctx, p, n);
    return 0;
}

static void fill_meta(struct rpc_snapshot *op)
{
    struct storage_archive_meta *m = &op->meta;
    uint64_t conf_index;
    const struct raft_config *c = raftnode_applied_config(op->rn, &conf_index);
    int64_t now_ms = cn_wall_ns() / 1000000;
    memset(m, 0, sizeof *m);
    m->version = STORAGE_ARCHIVE_VERSION;
    m->index = state_last_index(raftnode_state(op->rn));
    m->term = raftnode_applied_term(op->rn);
    m->size = op->written;
    m->conf_index = conf_index;
    m->mtime = now_ms / 1000;
    /* hashicorp/raft names its snapshots "<term>-<index>-<unix ms>" */
    snprintf(m->id, sizeof m->id, "%" PRIu64 "-%" PRIu64 "-%" PRId64, m->term, m->index, now_ms);
    for (uint32_t i = 0; i < c->n && m->n_servers < STORAGE_ARCHIVE_SERVERS_MAX; i++) {
        struct storage_archive_server *sv = &m->servers[m->n_servers++];
        const char *addr = server_peer_addr(op->s, c->servers[i].id);
        snprintf(sv->id, sizeof sv->id, "%016" PRIx64, c->servers[i].id);
        snprintf(sv->address, sizeof sv->address, "%s", addr ? addr : "");
        sv->voter = c->servers[i].role == RAFT_VOTER;
    }
}

/* On the loop: the point in time. The file is unlinked at once so a crash
 * leaves nothing behind; it lives until the worker has archived it. */
static int write_state(struct rpc_snapshot *op)
{
    const char *dir = raftnode_data_dir(op->rn);
    char path[4096];
    if (!dir) dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    snprintf(path, sizeof path, "%s/snapshot-save-XXXXXX", dir);
    op->fd = mkstemp(path);
    if (op->fd < 0)
        return cn_err_set(&op->err, -errno, "failed to create snapshot file in %s: %s", dir,
                          strerror(errno));
    unlink(path);
    uint64_t t0 = cn_now_ms();
    int rc = state_snapshot_write(raftnode_state(op->rn), fd_write, op);
    if (rc) return cn_err_set(&op->err, rc, "failed to write snapshot file: %s", cn_strerror(rc));
    fill_meta(op);
    CN_DEBUG("server",
             "snapshot save: state at index %" PRIu64 " written (%" PRIu64 " bytes, %" PRIu64
             " ms)",
             op->meta.index, op->written, cn_now_ms() - t0);
    return 0;
}

static void save_work(uv_work_t *w)
{
    struct rpc_snapshot *op = w->data;
    if (lseek(op->fd, 0, SEEK_SET) < 0) {
        op->rc =
            cn_err_set(&op->err, -errno, "failed to rewind snapshot file: %s", strerror(errno));
        return;
    }
    op->rc = storage_archive_write(&op->meta, fd_read, op, buf_write, &op->out,
                                   SERVER_SNAPSHOT_GZIP_LEVEL, &op->err);
}

static void save_finish(struct rpc_snapshot *op)
{
    op_finish(op, op->meta.index);
}

static void save_after(uv_work_t *w, int status)
{
    struct rpc_snapshot *op = w->data;
    if (status && !op->rc) op->rc = cn_err_set(&op->err, CN_ECANCELED, "snapshot cancelled");
    if (!op->rc)
        CN_INFO("server",
                "snapshot saved: index=%" PRIu64 " state=%" PRIu64 " bytes archive=%zu bytes",
                op->meta.index, op->written, op->out.len);
    save_finish(op);
}

static void save_ready(void *arg, int rc)
{
    struct rpc_snapshot *op = arg;
    if (!op->cancelled && rc)
        op->rc = cn_err_set(&op->err, rc, "%s",
                            rc == CN_ENOLEADER ? "No cluster leader" : cn_strerror(rc));
    if (!op->cancelled && !op->rc) op->rc = write_state(op);
    if (op->cancelled || op->rc) {
        save_finish(op);
        return;
    }
    uv_queue_work(raftnode_loop(op->rn), &op->work, save_work, save_after);
}

static void save(struct rpc_snapshot *op, bool stale)
{
    raftnode_read(op->rn, stale ? RPC_MODE_STALE : RPC_MODE_CONSISTENT, save_ready, op);
}

/* ---- restore --------------------------------------------------------- */

static void restore_finish(struct rpc_snapshot *op, uint64_t index)
{
    op_finish(op, index);
}

static void restore_applied(void *arg, int rc, struct rpc_result *res)
{
    struct rpc_snapshot *op = arg;
    if (rc) {
        const char *text = res && res->text     ? res->text
                           : rc == CN_ENOLEADER ? "No cluster leader"
                                                : cn_strerror(rc);
        op->rc = cn_err_set(&op->err, rc, "%s", text);
    }
    restore_finish(op, res ? res->index : 0);
}

/* A whole decode into a scratch store that is thrown away: a bad archive
 * is refused here, before it costs a log entry. */
static void verify_work(uv_work_t *w)
{
    struct rpc_snapshot *op = w->data;
    struct storage_archive_mem mem = {(const uint8_t *)op->archive, op->len, 0};
    struct state_store *tmp = server_restore_load(storage_archive_mem_read, &mem, &op->err);
    if (!tmp) {
        op->rc = op->err.code ? op->err.code : CN_ECORRUPT;
        return;
    }
    state_free(tmp);
}

static void verify_after(uv_work_t *w, int status)
{
    struct rpc_snapshot *op = w->data;
    if (status && !op->rc) op->rc = cn_err_set(&op->err, CN_ECANCELED, "restore cancelled");
    if (op->cancelled || op->rc) {
        restore_finish(op, 0);
        return;
    }
    if (!raftnode_is_leader(op->rn)) {
        op->rc = cn_err_set(&op->err, CN_ENOLEADER, "No cluster leader");
        restore_finish(op, 0);
        return;
    }
    /* restore_applied may run (and free op) before raftnode_restore returns */
    char *archive = op->archive;
    op->archive = NULL;
    raftnode_restore(op->rn, archive, op->len, restore_applied, op);
    free(archive); /* the proposals hold their own copies */
}

struct rpc_snapshot *server_snapshot(void *be, bool restore, bool stale, char *archive, size_t len,
                                     rpc_snapshot_fn done, void *arg)
{
    struct rpc_snapshot *op = op_new(be, done, arg);
    if (!restore) {
        free(archive);
        save(op, stale);
        return op;
    }
    op->archive = archive;
    op->len = len;
    if (stale) { /* Consul refuses it before looking at the archive */
        op->rc = cn_err_set(&op->err, CN_EINVAL, "stale not allowed for restore");
        restore_finish(op, 0);
        return NULL;
    }
    uv_queue_work(raftnode_loop(op->rn), &op->work, verify_work, verify_after);
    return op;
}
