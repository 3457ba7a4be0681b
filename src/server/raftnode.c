/* raftnode.c - driving the Raft core: persist, send, apply, answer. */
#include "server/raftnode.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cn_buf.h"
#include "lib/cn_common.h"
#include "lib/cn_list.h"
#include "lib/cn_log.h"
#include "lib/cn_rand.h"
#include "lib/cn_uuid.h"
#include "server/fsm.h"
#include "server/restore.h"
#include "storage/storage.h"

struct pend_write {
    uint64_t seq;
    uint64_t last_index; /* 0: no entries */
    uint64_t hs_seq;     /* 0: no hard state */
};

struct prop {
    struct cn_list link;
    rpc_applied_fn cb;
    void *arg;
    uint64_t index, term;
    /* The command, shared with the core's log entry: one copy per write
     * (a snapshot restore proposes tens of MB). */
    struct raft_buf *cmd;
};

static void prop_free(struct prop *p)
{
    raft_buf_unref(p->cmd);
    free(p);
}

struct readreq {
    struct cn_list link;
    uint64_t ctx;
    bool lease;
    rpc_ready_fn cb;
    void *arg;
};

struct raftnode {
    uv_loop_t *loop;
    struct raftnode_config cfg;
    char *data_dir, *node_name;
    struct raftnode_hooks hooks;
    struct state_store *st;
    struct raft *raft;
    raft_id id;
    struct storage *log; /* NULL: in memory */
    struct storage_snap_opts snapopts;
    uv_timer_t tick;
    uv_idle_t kick;
    uv_async_t durable;
    int open_handles;
    bool kicking, closing;
    struct pend_write *pw;
    size_t pw_head, pw_len, pw_cap;
    struct cn_list to_propose, proposed, to_read, reads;
    size_t n_to_propose;
    uint64_t next_read_ctx;
    bool leader, leader_ready;
    uint64_t applied_index, applied_term;
    struct raft_config applied_conf;
    uint64_t applied_conf_index;
    /* A user's snapshot restore being applied (server/restore.h): the run
     * of chunks staged so far, and the state index's offset from the Raft
     * index that a restore of a longer history leaves behind. */
    struct server_restore *restore;
    uint64_t index_base;
    bool snapshot_soon; /* a restore replaced the store: snapshot it */
    char snap_path[STORAGE_PATH_MAX];
    uint64_t snap_index, snap_term;
    int recv_fd;
    uint64_t recv_index, recv_term;
    char recv_tmp[STORAGE_PATH_MAX];
};

static void drive(struct raftnode *rn);
static void on_tick(uv_timer_t *t);

raft_id raftnode_id_of(const char *node_id)
{
    uint8_t b[16];
    uint64_t id = 0;
    if (node_id && cn_uuid_parse(cn_str_from(node_id), b) == 0) {
        for (int i = 0; i < 8; i++) id = id << 8 | b[i];
    } else if (node_id) {
        id = cn_hash_bytes(node_id, strlen(node_id));
    }
    return id ? id : 1;
}

static void fatal(struct raftnode *rn, const char *what, int rc)
{
    /* The log is the product's durability: a server that cannot write it
     * must stop rather than acknowledge what it has not stored. */
    CN_ERROR("raft", "%s: %s; stopping the server", what, cn_strerror(rc));
    (void)rn;
    fflush(NULL);
    _exit(1);
}

static uint64_t now_ms(struct raftnode *rn)
{
    return uv_now(rn->loop);
}

static void step(struct raftnode *rn, const struct raft_event *ev, int *rc_out)
{
    int rc = raft_step(rn->raft, now_ms(rn), ev, NULL);
    if (rc_out) *rc_out = rc;
}

/* ---- persistence --------------------------------------------------- */

static void push_pending(struct raftnode *rn, struct pend_write p)
{
    if (rn->pw_len == rn->pw_cap) {
        size_t ncap = rn->pw_cap ? rn->pw_cap * 2 : 64;
        struct pend_write *n = cn_malloc(ncap * sizeof *n);
        for (size_t i = 0; i < rn->pw_len; i++) n[i] = rn->pw[(rn->pw_head + i) % rn->pw_cap];
        free(rn->pw);
        rn->pw = n;
        rn->pw_cap = ncap;
        rn->pw_head = 0;
    }
    rn->pw[(rn->pw_head + rn->pw_len++) % rn->pw_cap] = p;
}

/* Report to the core every queued update whose writes are now durable. */
static void check_durable(struct raftnode *rn)
{
    struct storage_durable d;
    uint64_t best = 0;
    storage_durable(rn->log, &d);
    if (d.err) fatal(rn, "write-ahead log failed", d.err);
    while (rn->pw_len) {
        struct pend_write *p = &rn->pw[rn->pw_head];
        if (p->last_index && d.index < p->last_index) break;
        if (p->hs_seq && d.hard_state_seq < p->hs_seq) break;
        best = p->seq;
        rn->pw_head = (rn->pw_head + 1) % rn->pw_cap;
        rn->pw_len--;
    }
    if (best) {
        struct raft_event ev = {.type = RAFT_EV_PERSISTED, .persisted.seq = best};
        step(rn, &ev, NULL);
        drive(rn);
    }
}

static void on_durable_async(uv_async_t *h)
{
    struct raftnode *rn = h->data;
    if (!rn->closing) check_durable(rn);
}

/* Runs on the WAL's sync thread: only wake the loop. */
static void on_durable(void *ctx, const struct storage_durable *d)
{
    struct raftnode *rn = ctx;
    (void)d;
    uv_async_send(&rn->durable);
}

static void append_entries(struct raftnode *rn, const struct raft_entry *e, size_t n)
{
    struct storage_entry batch[256];
    if (e[0].index <= storage_last_index(rn->log) && storage_last_index(rn->log)) {
        int rc = storage_truncate_suffix(rn->log, e[0].index);
        if (rc) fatal(rn, "truncating the log", rc);
    }
    for (size_t i = 0; i < n;) {
        size_t k = 0;
        for (; k < CN_ARRAY_SIZE(batch) && i + k < n; k++)
            batch[k] = (struct storage_entry){e[i + k].index, e[i + k].term, e[i + k].type,
                                              e[i + k].data, e[i + k].len};
        int rc = storage_append(rn->log, batch, k);
        if (rc == CN_EAGAIN) {
            /* Too much waiting for a flush: wait for it here (rare). */
            if ((rc = storage_sync(rn->log))) fatal(rn, "flushing the log", rc);
            continue;
        }
        if (rc) fatal(rn, "appending to the log", rc);
        i += k;
    }
}

static void write_chunk(struct raftnode *rn, const struct raft_chunk *c)
{
    if (rn->recv_fd >= 0 && (rn->recv_index != c->index || rn->recv_term != c->term)) {
        close(rn->recv_fd);
        unlink(rn->recv_tmp);
        rn->recv_fd = -1;
    }
    if (rn->recv_fd < 0) {
        snprintf(rn->recv_tmp, sizeof rn->recv_tmp, "%s/recv-%016" PRIx64 ".tmp",
                 rn->snapopts.dir, c->index);
        mkdir(rn->snapopts.dir, 0700);
        rn->recv_fd = open(rn->recv_tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (rn->recv_fd < 0) fatal(rn, "creating a received snapshot", -errno);
        rn->recv_index = c->index;
        rn->recv_term = c->term;
    }
    if (c->len && pwrite(rn->recv_fd, c->data, c->len, (off_t)c->offset) != (ssize_t)c->len)
        fatal(rn, "writing a received snapshot", -errno);
}

static int restore_state(struct raftnode *rn, const char *path, struct cn_err *err)
{
    struct storage_snapshot_reader *rd;
    int rc = storage_snapshot_open(NULL, path, &rd, err);
    if (rc) return rc;
    rc = state_snapshot_restore(rn->st, storage_snapshot_read_fn, rd, err);
    storage_snapshot_close(rd);
    return rc;
}

/* The follower's side of InstallSnapshot: the received file becomes the
 * newest snapshot and the state store is rebuilt from it. */
static void install_snapshot(struct raftnode *rn, const struct raft_update *u)
{
    struct cn_err err;
    char path[STORAGE_PATH_MAX + 64], dir[STORAGE_PATH_MAX];
    if (rn->recv_fd < 0 || rn->recv_index != u->snap.index) fatal(rn, "snapshot without data", CN_EPROTO);
    if (fsync(rn->recv_fd)) fatal(rn, "syncing a received snapshot", -errno);
    close(rn->recv_fd);
    rn->recv_fd = -1;
    snprintf(path, sizeof path, "%s/snap-%016" PRIx64 "-%016" PRIx64 ".snap", rn->snapopts.dir,
             u->snap.index, u->snap.term);
    if (rename(rn->recv_tmp, path)) fatal(rn, "installing a received snapshot", -errno);
    snprintf(dir, sizeof dir, "%s", rn->snapopts.dir);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    if (restore_state(rn, path, &err)) {
        CN_ERROR("raft", "received snapshot is unusable: %s", err.msg);
        fatal(rn, "restoring a received snapshot", err.code ? err.code : CN_ECORRUPT);
    }
    int rc = u->snap_keep_log ? storage_truncate_prefix(rn->log, u->snap.index + 1)
                              : storage_reset(rn->log, u->snap.index + 1);
    if (rc || (rc = storage_sync(rn->log))) fatal(rn, "resetting the log after a snapshot", rc);
    snprintf(rn->snap_path, sizeof rn->snap_path, "%s", path);
    rn->snap_index = u->snap.index;
    rn->snap_term = u->snap.term;
    rn->applied_index = u->snap.index;
    rn->applied_term = u->snap.term;
    rn->applied_conf = u->snap.conf;
    rn->applied_conf_index = u->snap.index;
    rn->index_base = server_restore_index_base(rn->st);
    server_restore_reset(rn->restore);
    CN_INFO("raft", "installed snapshot from the leader: index=%" PRIu64 " term=%" PRIu64,
            u->snap.index, u->snap.term);
}

static void persist(struct raftnode *rn, const struct raft_update *u)
{
    struct pend_write p = {.seq = u->seq};
    if (!rn->log) return; /* memory: durable as soon as it is taken */
    for (size_t i = 0; i < u->n_chunks; i++) write_chunk(rn, &u->chunks[i]);
    if (u->snap_install) install_snapshot(rn, u);
    if (u->n_entries) {
        append_entries(rn, u->entries, u->n_entries);
        p.last_index = u->entries[u->n_entries - 1].index;
    }
    if (u->hs_changed) {
        struct storage_hard_state hs = {.term = u->term, .vote = u->vote};
        int rc = storage_hard_state_set(rn->log, &hs, &p.hs_seq);
        if (rc) fatal(rn, "saving the hard state", rc);
    }
    if (u->seq) push_pending(rn, p);
}

/* ---- messages ------------------------------------------------------ */

/* The leader fills an InstallSnapshot chunk from its snapshot file. */
static bool fill_chunk(struct raftnode *rn, struct raft_msg *m, struct cn_buf *data)
{
    struct raft_msg_snapshot *s = &m->snap;
    if (s->index != rn->snap_index || !rn->snap_path[0]) return false;
    int fd = open(rn->snap_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct stat stt;
    fstat(fd, &stt);
    uint64_t size = (uint64_t)stt.st_size;
    uint32_t want = s->chunk_bytes ? s->chunk_bytes : (1u << 20);
    uint64_t n = s->offset >= size ? 0 : CN_MIN((uint64_t)want, size - s->offset);
    char *at;
    cn_buf_reset(data);
    if (cn_buf_reserve(data, (size_t)n, &at)) CN_BUG("chunk buffer");
    ssize_t got = n ? pread(fd, at, (size_t)n, (off_t)s->offset) : 0;
    close(fd);
    if (got != (ssize_t)n) return false;
    data->len = (size_t)n;
    s->data = (const uint8_t *)data->data;
    s->len = (uint32_t)n;
    s->buf = NULL;
    s->last = s->offset + n >= size;
    return true;
}

static void send_msgs(struct raftnode *rn, const struct raft_update *u)
{
    struct cn_buf out, chunk;
    if (!u->n_msgs || !rn->hooks.send) return;
    cn_buf_init(&out, CN_BUF_UNLIMITED);
    cn_buf_init(&chunk, CN_BUF_UNLIMITED);
    for (size_t i = 0; i < u->n_msgs; i++) {
        struct raft_msg m = u->msgs[i];
        if (m.type == RAFT_MSG_SNAPSHOT && !m.snap.data && !fill_chunk(rn, &m, &chunk)) continue;
        cn_buf_reset(&out);
        raft_msg_encode(&m, &out);
        rn->hooks.send(rn->hooks.ctx, m.to, out.data, out.len);
    }
    cn_buf_release(&out);
    cn_buf_release(&chunk);
}

/* ---- applying ------------------------------------------------------ */

static void complete(struct raftnode *rn, uint64_t index, uint64_t term, bool ours_possible,
                     int rc, struct rpc_result *res)
{
    while (!cn_list_empty(&rn->proposed)) {
        struct prop *p = cn_list_entry(rn->proposed.next, struct prop, link);
        if (p->index > index) return;
        cn_list_remove(&p->link);
        if (p->index == index && p->term == term && ours_possible) {
            p->cb(p->arg, rc, res);
        } else {
            /* Another leader's entry took this index: ours is lost. */
            struct rpc_result lost = {.index = p->index};
            p->cb(p->arg, CN_ENOLEADER, &lost);
        }
        prop_free(p);
    }
}

static int apply_restore_chunk(struct raftnode *rn, const struct raft_entry *e,
                               struct rpc_result *res)
{
    bool restored;
    int rc = server_restore_apply(rn->restore, rn->st, e->index, e->data, e->len, e->buf,
                                  &rn->index_base, &restored, res);
    if (restored) {
        rn->snapshot_soon = true;
        if (rn->hooks.restored) rn->hooks.restored(rn->hooks.ctx);
    }
    return rc;
}

static void apply(struct raftnode *rn, const struct raft_update *u)
{
    for (size_t i = 0; i < u->n_committed; i++) {
        const struct raft_entry *e = &u->committed[i];
        struct rpc_result res = {.index = e->index + rn->index_base};
        int rc = 0;
        bool chunk = e->type == RAFT_ENTRY_NORMAL && server_restore_is_chunk(e->data, e->len);
        if (!chunk) server_restore_reset(rn->restore); /* a run is contiguous or abandoned */
        if (chunk) {
            rc = apply_restore_chunk(rn, e, &res);
        } else if (e->type == RAFT_ENTRY_NORMAL) {
            rc = server_fsm_apply(rn->st, e->index + rn->index_base, e->data, e->len, &res);
        } else if (e->type == RAFT_ENTRY_CONFIG) {
            struct raft_config c;
            if (raft_config_decode(e->data, e->len, &c) == 0) {
                rn->applied_conf = c;
                rn->applied_conf_index = e->index;
                if (rn->hooks.config) rn->hooks.config(rn->hooks.ctx, &c);
            }
        }
        rn->applied_index = e->index;
        rn->applied_term = e->term;
        if (rn->leader && !rn->leader_ready && e->term == raft_term_of(rn->raft)) {
            /* Our own-term entry is committed and applied: reads and the
             * leader's duties may start (dissertation §6.4). */
            rn->leader_ready = true;
            CN_INFO("raft", "cluster leadership established: term=%" PRIu64, e->term);
            if (rn->hooks.leadership) rn->hooks.leadership(rn->hooks.ctx, true);
        }
        complete(rn, e->index, e->term, e->type == RAFT_ENTRY_NORMAL, rc, &res);
        free(res.text);
    }
}

static void answer_reads(struct raftnode *rn, const struct raft_update *u)
{
    for (size_t i = 0; i < u->n_reads; i++) {
        const struct raft_read *rd = &u->reads[i];
        struct cn_list *l;
        cn_list_foreach(l, &rn->reads)
        {
            struct readreq *q = cn_list_entry(l, struct readreq, link);
            if (q->ctx != rd->ctx) continue;
            cn_list_remove(&q->link);
            q->cb(q->arg, rd->err ? CN_ENOLEADER : 0);
            free(q);
            break;
        }
    }
}

static void fail_queued(struct raftnode *rn, int rc)
{
    while (!cn_list_empty(&rn->to_propose)) {
        struct prop *p = cn_list_entry(rn->to_propose.next, struct prop, link);
        struct rpc_result res = {0};
        cn_list_remove(&p->link);
        p->cb(p->arg, rc, &res);
        prop_free(p);
    }
    rn->n_to_propose = 0;
    while (!cn_list_empty(&rn->to_read)) {
        struct readreq *q = cn_list_entry(rn->to_read.next, struct readreq, link);
        cn_list_remove(&q->link);
        q->cb(q->arg, rc);
        free(q);
    }
}

static void notice_state(struct raftnode *rn, const struct raft_update *u)
{
    if (!u->state_changed) return;
    bool leader = u->role == RAFT_LEADER;
    if (leader && !rn->leader) {
        rn->leader = true;
        rn->leader_ready = false;
        CN_INFO("raft", "entering leader state: term=%" PRIu64, raft_term_of(rn->raft));
    } else if (!leader && rn->leader) {
        bool was_ready = rn->leader_ready;
        rn->leader = rn->leader_ready = false;
        CN_INFO("raft", "lost leadership: term=%" PRIu64 " leader=%016" PRIx64,
                raft_term_of(rn->raft), u->leader);
        fail_queued(rn, CN_ENOLEADER);
        if (was_ready && rn->hooks.leadership) rn->hooks.leadership(rn->hooks.ctx, false);
    }
}

/* ---- snapshots ----------------------------------------------------- */

static void take_snapshot(struct raftnode *rn)
{
    struct raft_event ev = {.type = RAFT_EV_SNAPSHOT_TAKEN};
    /* Staged restore chunks are not in the store yet: a snapshot now would
     * lose them for anyone restarting or installing from it (restore.h). */
    if (server_restore_pending(rn->restore)) return;
    rn->snapshot_soon = false;
    ev.snapshot_taken.index = rn->applied_index;
    if (rn->log) {
        struct cn_buf conf;
        struct cn_err err;
        struct storage_snapshot_writer *w;
        char path[STORAGE_PATH_MAX];
        cn_buf_init(&conf, CN_BUF_UNLIMITED);
        raft_config_encode(&rn->applied_conf, &conf);
        struct storage_snapshot_meta m = {.index = rn->applied_index, .term = rn->applied_term,
                                          .conf = conf.data, .conf_len = conf.len};
        /* NEEDSWORK: written on the loop thread; a million keys block it for
         * a fraction of a second every snapshot_threshold writes. */
        int rc = storage_snapshot_begin(&rn->snapopts, &m, &w, &err);
        if (rc == 0) {
            rc = state_snapshot_write(rn->st, storage_snapshot_write_fn, w);
            if (rc)
                storage_snapshot_abort(w);
            else
                rc = storage_snapshot_commit(w, path, &err);
        }
        cn_buf_release(&conf);
        if (rc) {
            CN_ERROR("raft", "snapshot at index %" PRIu64 " failed: %s", rn->applied_index,
                     err.msg[0] ? err.msg : cn_strerror(rc));
            return;
        }
        snprintf(rn->snap_path, sizeof rn->snap_path, "%s", path);
        rn->snap_index = rn->applied_index;
        rn->snap_term = rn->applied_term;
        CN_INFO("raft", "snapshot complete: index=%" PRIu64, rn->applied_index);
    }
    step(rn, &ev, NULL);
}

/* ---- the drive loop ------------------------------------------------ */

static void arm_tick(struct raftnode *rn)
{
    if (rn->closing) return;
    uint64_t deadline = raft_next_deadline(rn->raft), now = now_ms(rn);
    uv_timer_start(&rn->tick, on_tick, deadline > now ? deadline - now : 0, 0);
}

static void drive(struct raftnode *rn)
{
    struct raft_update u;
    while (!rn->closing && raft_ready(rn->raft, &u)) {
        persist(rn, &u);
        send_msgs(rn, &u);
        apply(rn, &u);
        answer_reads(rn, &u);
        notice_state(rn, &u);
        bool snap = u.snapshot_wanted;
        raft_index compacted = u.compacted_to;
        uint64_t seq = u.seq;
        raft_done(rn->raft, &u);
        if (compacted && rn->log && compacted <= rn->snap_index + 1)
            storage_truncate_prefix(rn->log, compacted);
        if (seq && !rn->log) {
            struct raft_event ev = {.type = RAFT_EV_PERSISTED, .persisted.seq = seq};
            step(rn, &ev, NULL);
        }
        if (snap || rn->snapshot_soon) take_snapshot(rn);
    }
    if (rn->log) {
        /* A flush may already cover what we just queued. */
        struct storage_durable d;
        storage_durable(rn->log, &d);
        if (rn->pw_len && d.index >= rn->pw[rn->pw_head].last_index &&
            d.hard_state_seq >= rn->pw[rn->pw_head].hs_seq)
            uv_async_send(&rn->durable);
    }
    arm_tick(rn);
}

static void on_tick(uv_timer_t *t)
{
    struct raftnode *rn = t->data;
    struct raft_event ev = {.type = RAFT_EV_TICK};
    step(rn, &ev, NULL);
    drive(rn);
}

/* Proposals and reads of one loop iteration go to the core together. */
static void on_kick(uv_idle_t *h)
{
    struct raftnode *rn = h->data;
    uv_idle_stop(h);
    rn->kicking = false;
    if (rn->n_to_propose) {
        size_t n = rn->n_to_propose, i = 0;
        struct raft_proposal *items = cn_malloc(n * sizeof *items);
        struct cn_list *l;
        cn_list_foreach(l, &rn->to_propose)
        {
            struct prop *p = cn_list_entry(l, struct prop, link);
            items[i++] = (struct raft_proposal){p->cmd->data, (uint32_t)p->cmd->len, p->cmd};
        }
        struct raft_event ev = {.type = RAFT_EV_PROPOSE, .propose = {items, n}};
        int rc;
        step(rn, &ev, &rc);
        free(items);
        if (rc) {
            fail_queued(rn, rc == CN_ENOTLEADER ? CN_ENOLEADER : rc);
        } else {
            uint64_t last = raft_last_index(rn->raft), term = raft_term_of(rn->raft);
            uint64_t index = last - n + 1;
            while (!cn_list_empty(&rn->to_propose)) {
                struct prop *p = cn_list_entry(rn->to_propose.next, struct prop, link);
                cn_list_remove(&p->link);
                p->index = index++;
                p->term = term;
                cn_list_insert_tail(&rn->proposed, &p->link);
            }
            rn->n_to_propose = 0;
        }
    }
    while (!cn_list_empty(&rn->to_read)) {
        struct readreq *q = cn_list_entry(rn->to_read.next, struct readreq, link);
        struct raft_event ev = {.type = RAFT_EV_READ, .read = {q->ctx, q->lease}};
        int rc;
        cn_list_remove(&q->link);
        step(rn, &ev, &rc);
        if (rc) {
            q->cb(q->arg, CN_ENOLEADER);
            free(q);
        } else {
            cn_list_insert_tail(&rn->reads, &q->link);
        }
    }
    drive(rn);
}

static void kick(struct raftnode *rn)
{
    if (rn->kicking || rn->closing) return;
    rn->kicking = true;
    uv_idle_start(&rn->kick, on_kick);
}

void raftnode_propose(struct raftnode *rn, const void *cmd, size_t len, rpc_applied_fn applied,
                      void *arg)
{
    if (rn->closing || !rn->leader) {
        struct rpc_result res = {0};
        applied(arg, rn->closing ? CN_ESHUTDOWN : CN_ENOLEADER, &res);
        return;
    }
    struct prop *p = CN_NEW(struct prop);
    p->cb = applied;
    p->arg = arg;
    p->cmd = raft_buf_copy(cmd, len);
    cn_list_insert_tail(&rn->to_propose, &p->link);
    rn->n_to_propose++;
    kick(rn);
}

void raftnode_read(struct raftnode *rn, enum rpc_mode mode, rpc_ready_fn ready, void *arg)
{
    if (mode == RPC_MODE_STALE) {
        ready(arg, 0);
        return;
    }
    if (!rn->leader || !rn->leader_ready) {
        ready(arg, CN_ENOLEADER);
        return;
    }
    /* Default mode under a valid lease, with every committed entry applied:
     * no other leader can exist and our state is current, so answer now
     * without a trip through the core (the common, hot case). */
    if (mode == RPC_MODE_DEFAULT && raft_lease_valid(rn->raft, now_ms(rn)) &&
        raft_applied_index(rn->raft) == raft_commit_index(rn->raft)) {
        ready(arg, 0);
        return;
    }
    struct readreq *q = CN_NEW(struct readreq);
    q->ctx = ++rn->next_read_ctx;
    q->lease = mode == RPC_MODE_DEFAULT;
    q->cb = ready;
    q->arg = arg;
    cn_list_insert_tail(&rn->to_read, &q->link);
    kick(rn);
}

void raftnode_recv(struct raftnode *rn, const void *msg, size_t len)
{
    struct raft_msg m;
    if (rn->closing) return;
    if (raft_msg_decode(msg, len, NULL, &m)) {
        CN_WARN("raft", "dropping a malformed message (%zu bytes)", len);
        return;
    }
    struct raft_event ev = {.type = RAFT_EV_RECV, .recv = &m};
    step(rn, &ev, NULL);
    raft_msg_release(&m);
    drive(rn);
}

void raftnode_unreachable(struct raftnode *rn, raft_id peer)
{
    struct raft_event ev = {.type = RAFT_EV_UNREACHABLE, .unreachable.peer = peer};
    if (rn->closing) return;
    step(rn, &ev, NULL);
    drive(rn);
}

int raftnode_bootstrap(struct raftnode *rn, const raft_id *voters, size_t n)
{
    struct raft_config c = {0};
    if (n == 0 || n > RAFT_SERVERS_MAX) return CN_EINVAL;
    for (size_t i = 0; i < n; i++) c.servers[c.n++] = (struct raft_server){voters[i], RAFT_VOTER};
    int rc = raft_bootstrap(rn->raft, &c);
    if (rc) return rc;
    CN_INFO("raft", "bootstrapping a new cluster with %zu voter(s)", n);
    if (n == 1 && voters[0] == rn->id) {
        /* Alone: no need to wait out an election timeout. */
        struct raft_event ev = {.type = RAFT_EV_CAMPAIGN};
        step(rn, &ev, NULL);
    }
    drive(rn);
    return 0;
}

int raftnode_change(struct raftnode *rn, int op, raft_id id)
{
    struct raft_event ev = {.type = RAFT_EV_CHANGE, .change = {op, id}};
    int rc;
    step(rn, &ev, &rc);
    drive(rn);
    return rc;
}

int raftnode_transfer(struct raftnode *rn, raft_id target)
{
    struct raft_event ev = {.type = RAFT_EV_TRANSFER, .transfer.target = target};
    int rc;
    step(rn, &ev, &rc);
    drive(rn);
    return rc;
}

/* ---- a user's snapshot restore ------------------------------------ */

/* One restore's chunks answer as one: the last chunk's result, or the
 * first failure. */
struct restore_run {
    rpc_applied_fn cb;
    void *arg;
    size_t left;
    int rc;
    char *text;
    uint64_t index;
};

static void restore_chunk_applied(void *arg, int rc, struct rpc_result *res)
{
    struct restore_run *run = arg;
    if (rc && !run->rc) {
        run->rc = rc;
        run->text = res && res->text ? cn_strdup(res->text) : NULL;
    }
    if (!rc && res) run->index = res->index;
    if (--run->left) return;
    struct rpc_result out = {.index = run->index, .ok = run->rc == 0, .text = run->text};
    run->cb(run->arg, run->rc, &out);
    free(run->text);
    free(run);
}

void raftnode_restore(struct raftnode *rn, const void *archive, size_t len, rpc_applied_fn applied,
                      void *arg)
{
    if (rn->closing || !rn->leader || len == 0 || len > SERVER_RESTORE_ARCHIVE_MAX) {
        struct rpc_result res = {0};
        applied(arg, rn->closing ? CN_ESHUTDOWN : !rn->leader ? CN_ENOLEADER : CN_ETOOBIG, &res);
        return;
    }
    size_t total = (len + SERVER_RESTORE_CHUNK - 1) / SERVER_RESTORE_CHUNK;
    struct restore_run *run = CN_NEW(struct restore_run);
    struct cn_buf cmd;
    uint64_t id = cn_rand_os_u64();
    run->cb = applied;
    run->arg = arg;
    run->left = total;
    cn_buf_init(&cmd, CN_BUF_UNLIMITED);
    /* Queued back to back in one loop turn: on_kick proposes them as one
     * batch, so they are contiguous in the log (restore.h). */
    for (size_t i = 0; i < total; i++) {
        size_t off = i * SERVER_RESTORE_CHUNK, n = CN_MIN((size_t)SERVER_RESTORE_CHUNK, len - off);
        cn_buf_reset(&cmd);
        server_restore_chunk_encode(id, (uint32_t)i, (uint32_t)total, len,
                                    (const uint8_t *)archive + off, n, &cmd);
        raftnode_propose(rn, cmd.data, cmd.len, restore_chunk_applied, run);
    }
    cn_buf_release(&cmd);
    CN_INFO("raft", "proposing a snapshot restore: %zu bytes in %zu entries", len, total);
}

/* ---- start and stop ------------------------------------------------ */

static int load_entries(struct raftnode *rn, uint64_t from, struct raft_entry **out, size_t *n,
                        struct cn_buf *data, struct cn_err *err)
{
    uint64_t last = storage_last_index(rn->log);
    *out = NULL;
    *n = 0;
    if (last < from) return 0;
    size_t total = (size_t)(last - from + 1), got = 0;
    struct storage_entry *se = cn_malloc(total * sizeof *se);
    while (got < total) {
        size_t k = 0;
        struct cn_buf part;
        cn_buf_init(&part, CN_BUF_UNLIMITED);
        int rc = storage_entries(rn->log, from + got, last + 1, 64u << 20, se + got, total - got, &k,
                                 &part, err);
        if (rc) {
            cn_buf_release(&part);
            free(se);
            return rc;
        }
        /* Keep the payload: copy it after what earlier batches loaded. */
        size_t base = data->len;
        cn_buf_put(data, part.data ? part.data : "", part.len);
        for (size_t i = got; i < got + k; i++)
            se[i].data = (const char *)(uintptr_t)((const char *)se[i].data - part.data + base);
        cn_buf_release(&part);
        got += k;
    }
    struct raft_entry *re = cn_calloc(total, sizeof *re);
    for (size_t i = 0; i < total; i++)
        re[i] = (struct raft_entry){.term = se[i].term, .index = se[i].index, .type = se[i].type,
                                    .len = (uint32_t)se[i].len,
                                    .data = se[i].len ? (const uint8_t *)data->data + (uintptr_t)se[i].data
                                                      : NULL};
    free(se);
    *out = re;
    *n = total;
    return 0;
}

static int recover(struct raftnode *rn, struct cn_err *err)
{
    struct storage_snapshot_reader *rd;
    struct raft_restore rs = {0};
    struct storage_hard_state hs;
    bool has_hs;
    int rc = storage_snapshot_open_latest(&rn->snapopts, &rd, err);
    if (rc == 0) {
        const struct storage_snapshot_meta *m = storage_snapshot_reader_meta(rd);
        rs.snap.index = m->index;
        rs.snap.term = m->term;
        /* m and the path belong to rd: use them before closing it */
        snprintf(rn->snap_path, sizeof rn->snap_path, "%s", storage_snapshot_reader_path(rd));
        if (raft_config_decode(m->conf, m->conf_len, &rs.snap.conf)) {
            storage_snapshot_close(rd);
            return cn_err_set(err, CN_ECORRUPT, "snapshot %s: bad configuration", rn->snap_path);
        }
        rc = state_snapshot_restore(rn->st, storage_snapshot_read_fn, rd, err);
        storage_snapshot_close(rd);
        if (rc) return rc;
        rn->snap_index = rn->applied_index = rs.snap.index;
        rn->snap_term = rn->applied_term = rs.snap.term;
        rn->applied_conf = rs.snap.conf;
        rn->applied_conf_index = rs.snap.index;
        rn->index_base = server_restore_index_base(rn->st);
        CN_INFO("raft", "restored from snapshot: index=%" PRIu64, rs.snap.index);
    } else if (rc != CN_ENOENT) {
        return rc;
    }
    storage_hard_state(rn->log, &hs, &has_hs);
    if (has_hs) {
        rs.term = hs.term;
        rs.vote = hs.vote;
    }
    struct cn_buf data;
    cn_buf_init(&data, CN_BUF_UNLIMITED);
    struct raft_entry *entries = NULL;
    size_t n = 0;
    uint64_t from = CN_MAX(storage_first_index(rn->log), rs.snap.index + 1);
    if (storage_last_index(rn->log) && (rc = load_entries(rn, from, &entries, &n, &data, err))) {
        cn_buf_release(&data);
        return rc;
    }
    rs.entries = entries;
    rs.n_entries = n;
    rc = raft_restore(rn->raft, &rs);
    free(entries);
    cn_buf_release(&data);
    if (rc) return cn_err_set(err, rc, "restoring the Raft state");
    if (n || rs.snap.index)
        CN_INFO("raft", "recovered %zu log entries after index %" PRIu64, n, rs.snap.index);
    return 0;
}

int raftnode_new(uv_loop_t *loop, const struct raftnode_config *cfg,
                 const struct raftnode_hooks *hooks, struct state_store *st,
                 struct raftnode **out, struct cn_err *err)
{
    struct raftnode *rn = CN_NEW(struct raftnode);
    struct raft_cfg rc_cfg;
    int rc;
    rn->loop = loop;
    rn->cfg = *cfg;
    rn->data_dir = cfg->data_dir ? cn_strdup(cfg->data_dir) : NULL;
    rn->node_name = cn_strdup(cfg->node_name ? cfg->node_name : "");
    rn->hooks = *hooks;
    rn->st = st;
    rn->recv_fd = -1;
    rn->restore = server_restore_new();
    rn->id = raftnode_id_of(cfg->node_id);
    cn_list_init(&rn->to_propose);
    cn_list_init(&rn->proposed);
    cn_list_init(&rn->to_read);
    cn_list_init(&rn->reads);
    raft_cfg_defaults(&rc_cfg, rn->id, cfg->raft_multiplier ? cfg->raft_multiplier : 5,
                      cn_rand_os_u64());
    if (cfg->snapshot_threshold) rc_cfg.snapshot_threshold = cfg->snapshot_threshold;
    if (cfg->trailing_logs) rc_cfg.trailing_logs = cfg->trailing_logs;
    if ((rc = raft_new(&rc_cfg, &rn->raft))) {
        free(rn);
        return cn_err_set(err, rc, "invalid Raft configuration");
    }
    uv_timer_init(loop, &rn->tick);
    uv_idle_init(loop, &rn->kick);
    uv_async_init(loop, &rn->durable, on_durable_async);
    rn->tick.data = rn->kick.data = rn->durable.data = rn;
    rn->open_handles = 3;
    if (rn->data_dir) {
        struct storage_options so = {.dir = rn->data_dir, .on_durable = on_durable, .ctx = rn};
        if ((rc = storage_open(&so, &rn->log, err)) == 0) {
            rn->snapopts.dir = storage_snapshot_dir(rn->log);
            rc = recover(rn, err);
        }
        if (rc) {
            *out = rn;
            return rc;
        }
    }
    *out = rn;
    if (cfg->bootstrap && !raftnode_has_data(rn)) {
        raft_id self = rn->id;
        if ((rc = raftnode_bootstrap(rn, &self, 1))) return cn_err_set(err, rc, "bootstrap failed");
    } else if (raftnode_has_data(rn)) {
        const struct raft_config *c = raft_config_latest(rn->raft);
        if (c->n == 1 && c->servers[0].id == rn->id) {
            struct raft_event ev = {.type = RAFT_EV_CAMPAIGN};
            step(rn, &ev, NULL);
        }
        drive(rn);
    } else {
        arm_tick(rn);
    }
    return 0;
}

static void handle_closed(uv_handle_t *h)
{
    struct raftnode *rn = h->data;
    if (--rn->open_handles) return;
    raft_free(rn->raft);
    server_restore_free(rn->restore);
    free(rn->pw);
    free(rn->data_dir);
    free(rn->node_name);
    free(rn);
}

void raftnode_free(struct raftnode *rn)
{
    if (!rn || rn->closing) return;
    rn->closing = true;
    fail_queued(rn, CN_ESHUTDOWN);
    while (!cn_list_empty(&rn->proposed)) {
        struct prop *p = cn_list_entry(rn->proposed.next, struct prop, link);
        struct rpc_result res = {0};
        cn_list_remove(&p->link);
        p->cb(p->arg, CN_ESHUTDOWN, &res);
        prop_free(p);
    }
    while (!cn_list_empty(&rn->reads)) {
        struct readreq *q = cn_list_entry(rn->reads.next, struct readreq, link);
        cn_list_remove(&q->link);
        q->cb(q->arg, CN_ESHUTDOWN);
        free(q);
    }
    if (rn->log) storage_close(rn->log);
    rn->log = NULL;
    if (rn->recv_fd >= 0) {
        close(rn->recv_fd);
        unlink(rn->recv_tmp);
    }
    uv_timer_stop(&rn->tick);
    uv_idle_stop(&rn->kick);
    uv_close((uv_handle_t *)&rn->tick, handle_closed);
    uv_close((uv_handle_t *)&rn->kick, handle_closed);
    uv_close((uv_handle_t *)&rn->durable, handle_closed);
}

/* ---- queries ------------------------------------------------------- */

raft_id raftnode_id(const struct raftnode *rn)
{
    return rn->id;
}

bool raftnode_is_leader(const struct raftnode *rn)
{
    return rn->leader && rn->leader_ready;
}

raft_id raftnode_leader(const struct raftnode *rn)
{
    return raft_leader(rn->raft);
}

uint64_t raftnode_last_contact_ms(const struct raftnode *rn)
{
    return raft_last_contact_ms(rn->raft, uv_now(rn->loop));
}

uint64_t raftnode_applied_index(const struct raftnode *rn)
{
    return rn->applied_index;
}

uint64_t raftnode_applied_term(const struct raftnode *rn)
{
    return rn->applied_term;
}

const struct raft_config *raftnode_applied_config(const struct raftnode *rn, uint64_t *index)
{
    if (index) *index = rn->applied_conf_index;
    return &rn->applied_conf;
}

uv_loop_t *raftnode_loop(const struct raftnode *rn)
{
    return rn->loop;
}

struct state_store *raftnode_state(const struct raftnode *rn)
{
    return rn->st;
}

const char *raftnode_data_dir(const struct raftnode *rn)
{
    return rn->data_dir;
}

bool raftnode_has_data(const struct raftnode *rn)
{
    return raft_last_index(rn->raft) > 0 || raft_snapshot(rn->raft)->index > 0;
}

const struct raft_config *raftnode_config(const struct raftnode *rn)
{
    return raft_config_latest(rn->raft);
}

uint64_t raftnode_term(const struct raftnode *rn)
{
    return raft_term_of(rn->raft);
}

uint64_t raftnode_commit_index(const struct raftnode *rn)
{
    return raft_commit_index(rn->raft);
}

uint64_t raftnode_last_index(const struct raftnode *rn)
{
    return raft_last_index(rn->raft);
}

size_t raftnode_peers(const struct raftnode *rn, struct raft_peer_status *out, size_t max)
{
    return raft_peers(rn->raft, out, max);
}
