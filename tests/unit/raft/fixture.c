/* fixture.c - see fixture.h. */
#include "fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cn_buf.h"
#include "lib/cn_common.h"
#include "lib/cn_err.h"

static void ents_unref(struct raft_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        raft_buf_unref(e[i].buf);
}

static void d_truncate(struct fx_node *n, raft_index from)
{
    while (n->d_n && n->d_log[n->d_n - 1].index >= from)
        raft_buf_unref(n->d_log[--n->d_n].buf);
}

static void d_append(struct fx_node *n, const struct raft_entry *e)
{
    if (n->d_n == n->d_cap) {
        n->d_cap = n->d_cap ? n->d_cap * 2 : 32;
        n->d_log = cn_realloc(n->d_log, n->d_cap * sizeof *n->d_log);
    }
    n->d_log[n->d_n++] = *e;
    raft_buf_ref(e->buf);
}

static void pend_apply(struct fx_node *n, struct fx_pend *p)
{
    if (p->install) {
        n->d_snap = p->snap;
        if (!p->keep) {
            d_truncate(n, 0);
        } else {
            size_t k = 0;
            while (k < n->d_n && n->d_log[k].index <= p->snap.index)
                raft_buf_unref(n->d_log[k++].buf);
            memmove(n->d_log, n->d_log + k, (n->d_n - k) * sizeof *n->d_log);
            n->d_n -= k;
        }
    }
    if (p->n) {
        d_truncate(n, p->ents[0].index);
        for (size_t i = 0; i < p->n; i++)
            d_append(n, &p->ents[i]);
    }
    n->d_term = p->term;
    n->d_vote = p->vote;
}

static void pend_free(struct fx_pend *p)
{
    ents_unref(p->ents, p->n);
    free(p->ents);
}

static void queue_msg(struct fx *f, int from, const struct raft_msg *m0)
{
    struct fx_node *n = &f->nodes[from];
    struct raft_msg m = *m0;
    if (m.type == RAFT_MSG_SNAPSHOT) {
        if (n->d_snap.index != m.snap.index || m.snap.offset > n->blob_len) return;
        size_t len = CN_MIN((size_t)m.snap.chunk_bytes, n->blob_len - (size_t)m.snap.offset);
        m.snap.data = (const uint8_t *)n->blob + m.snap.offset;
        m.snap.len = (uint32_t)len;
        m.snap.last = m.snap.offset + len == n->blob_len;
    }
    int to = (int)m.to - 1;
    if (to < 0 || to >= f->n) return;
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    raft_msg_encode(&m, &b);
    if (f->nq == f->capq) {
        f->capq = f->capq ? f->capq * 2 : 64;
        f->q = cn_realloc(f->q, f->capq * sizeof *f->q);
    }
    size_t len;
    uint8_t *bytes = (uint8_t *)cn_buf_take(&b, &len);
    f->q[f->nq++] = (struct fx_msg){from, to, m.type, bytes, len};
}

static void take_update(struct fx *f, int i, struct raft_update *u)
{
    struct fx_node *n = &f->nodes[i];
    for (size_t k = 0; k < u->n_chunks; k++) {
        const struct raft_chunk *c = &u->chunks[k];
        if (c->offset == 0) n->rcv_len = 0;
        CN_ASSERT(c->offset == n->rcv_len && n->rcv_len + c->len <= sizeof n->rcv);
        memcpy(n->rcv + n->rcv_len, c->data, c->len);
        n->rcv_len += c->len;
    }
    if (u->seq) {
        if (n->n_pend == n->cap_pend) {
            n->cap_pend = n->cap_pend ? n->cap_pend * 2 : 16;
            n->pend = cn_realloc(n->pend, n->cap_pend * sizeof *n->pend);
        }
        struct fx_pend *p = &n->pend[n->n_pend++];
        memset(p, 0, sizeof *p);
        p->seq = u->seq;
        p->term = u->term;
        p->vote = u->vote;
        p->install = u->snap_install;
        p->snap = u->snap;
        p->keep = u->snap_keep_log;
        p->n = u->n_entries;
        p->ents = p->n ? cn_malloc(p->n * sizeof *p->ents) : NULL;
        for (size_t k = 0; k < p->n; k++) {
            p->ents[k] = u->entries[k];
            raft_buf_ref(p->ents[k].buf);
        }
        n->pending_seq = u->seq;
        if (u->snap_install) {
            memcpy(n->blob, n->rcv, n->rcv_len);
            n->blob_len = n->rcv_len;
            n->applied_index = u->snap.index;
            n->snapshots_installed++;
        }
    }
    for (size_t k = 0; k < u->n_msgs; k++)
        queue_msg(f, i, &u->msgs[k]);
    for (size_t k = 0; k < u->n_committed; k++) {
        const struct raft_entry *e = &u->committed[k];
        CN_ASSERT(e->index == n->applied_index + 1);
        if (n->n_applied == n->cap_applied) {
            n->cap_applied = n->cap_applied ? n->cap_applied * 2 : 32;
            n->applied = cn_realloc(n->applied, n->cap_applied * sizeof *n->applied);
        }
        struct fx_applied *a = &n->applied[n->n_applied++];
        memset(a, 0, sizeof *a);
        a->index = e->index;
        a->term = e->term;
        a->type = e->type;
        memcpy(a->data, e->data ? (const char *)e->data : "", CN_MIN(e->len, sizeof a->data - 1));
        n->applied_index = e->index;
    }
    for (size_t k = 0; k < u->n_reads && n->n_reads < CN_ARRAY_SIZE(n->reads); k++)
        n->reads[n->n_reads++] = u->reads[k];
}

static void drive(struct fx *f, int i)
{
    struct fx_node *n = &f->nodes[i];
    for (int guard = 0; guard < 32 && n->up; guard++) {
        struct raft_update u;
        if (!raft_ready(n->r, &u)) break;
        take_update(f, i, &u);
        raft_done(n->r, &u);
        if (n->auto_persist && n->n_pend)
            fx_persist(f, i);
        else
            break;
    }
    char buf[256];
    if (n->up && raft_check_invariants(n->r, buf, sizeof buf) != 0) {
        fprintf(stderr, "node %d: %s\n", i + 1, buf);
        abort();
    }
}

int fx_step(struct fx *f, int i, const struct raft_event *ev)
{
    struct fx_node *n = &f->nodes[i];
    if (!n->up) return CN_ECLOSED;
    int rc = raft_step(n->r, f->now, ev, NULL);
    drive(f, i);
    return rc;
}

void fx_persist(struct fx *f, int i)
{
    struct fx_node *n = &f->nodes[i];
    if (!n->up || n->n_pend == 0) return;
    uint64_t seq = n->pend[n->n_pend - 1].seq;
    for (size_t k = 0; k < n->n_pend; k++) {
        pend_apply(n, &n->pend[k]);
        pend_free(&n->pend[k]);
    }
    n->n_pend = 0;
    struct raft_event ev = {.type = RAFT_EV_PERSISTED};
    ev.persisted.seq = seq;
    raft_step(n->r, f->now, &ev, NULL);
    drive(f, i);
}

static struct raft_cfg cfg_for(struct fx *f, int i)
{
    struct raft_cfg c;
    raft_cfg_defaults(&c, (raft_id)i + 1, 1, 1000 + (uint64_t)i);
    if (f->tweak) f->tweak(&c);
    return c;
}

static void start(struct fx *f, int i)
{
    struct fx_node *n = &f->nodes[i];
    struct raft_cfg c = cfg_for(f, i);
    CN_ASSERT(raft_new(&c, &n->r) == 0);
    size_t skip = 0;
    while (skip < n->d_n && n->d_log[skip].index <= n->d_snap.index)
        skip++;
    struct raft_restore rs = {.term = n->d_term,
                              .vote = n->d_vote,
                              .snap = n->d_snap,
                              .entries = n->d_n ? n->d_log + skip : NULL,
                              .n_entries = n->d_n - skip};
    CN_ASSERT(raft_restore(n->r, &rs) == 0);
    n->up = true;
    n->applied_index = n->d_snap.index;
}

void fx_init(struct fx *f, int n, int voters, void (*tweak)(struct raft_cfg *c))
{
    memset(f, 0, sizeof *f);
    f->n = n;
    f->tweak = tweak;
    f->now = 1000;
    struct raft_config conf = {0};
    for (int i = 0; i < voters; i++)
        conf.servers[conf.n++] = (struct raft_server){(raft_id)i + 1, RAFT_VOTER};
    for (int i = 0; i < n; i++) {
        struct fx_node *nd = &f->nodes[i];
        nd->id = (raft_id)i + 1;
        nd->auto_persist = true;
        start(f, i);
        if (i < voters) CN_ASSERT(raft_bootstrap(nd->r, &conf) == 0);
        fx_tick(f, i);
    }
    /* Past the boot-time vote block (raft.h, Reads) but before any election
     * timer (they run from [E, 2E) after boot). */
    f->now += 500;
}

void fx_release(struct fx *f)
{
    for (int i = 0; i < f->n; i++) {
        struct fx_node *n = &f->nodes[i];
        raft_free(n->r);
        for (size_t k = 0; k < n->n_pend; k++)
            pend_free(&n->pend[k]);
        free(n->pend);
        d_truncate(n, 0);
        free(n->d_log);
        free(n->applied);
    }
    for (size_t k = 0; k < f->nq; k++)
        free(f->q[k].bytes);
    free(f->q);
}

void fx_tick(struct fx *f, int i)
{
    fx_step(f, i, &(struct raft_event){.type = RAFT_EV_TICK});
}

void fx_advance(struct fx *f, uint64_t ms)
{
    f->now += ms;
    for (int i = 0; i < f->n; i++)
        if (f->nodes[i].up) fx_tick(f, i);
}

static bool match(const struct fx_msg *m, int from, int to, int type)
{
    return (from < 0 || m->from == from) && (to < 0 || m->to == to) &&
           (type < 0 || m->type == type);
}

static void remove_at(struct fx *f, size_t k)
{
    free(f->q[k].bytes);
    memmove(f->q + k, f->q + k + 1, (f->nq - k - 1) * sizeof *f->q);
    f->nq--;
}

static void free_bytes(struct raft_buf *b)
{
    free(b->data);
}

static void deliver_at(struct fx *f, size_t k)
{
    struct fx_msg m = f->q[k];
    memmove(f->q + k, f->q + k + 1, (f->nq - k - 1) * sizeof *f->q);
    f->nq--;
    struct fx_node *n = &f->nodes[m.to];
    /* The frame lives as long as any entry the core kept references it. */
    struct raft_buf *frame = raft_buf_wrap(m.bytes, m.len, free_bytes, NULL);
    if (n->up && !f->cut[m.from][m.to]) {
        struct raft_msg msg;
        CN_ASSERT(raft_msg_decode(m.bytes, m.len, frame, &msg) == 0);
        struct raft_event ev = {.type = RAFT_EV_RECV, .recv = &msg};
        fx_step(f, m.to, &ev);
        raft_msg_release(&msg);
    }
    raft_buf_unref(frame);
}

bool fx_deliver_one(struct fx *f)
{
    if (f->nq == 0) return false;
    deliver_at(f, 0);
    return true;
}

int fx_deliver_all(struct fx *f)
{
    int k = 0;
    while (f->nq && k < 100000) {
        deliver_at(f, 0);
        k++;
    }
    return k;
}

int fx_deliver(struct fx *f, int from, int to, int type)
{
    int k = 0;
    for (size_t i = 0; i < f->nq;) {
        if (match(&f->q[i], from, to, type)) {
            deliver_at(f, i);
            k++;
        } else {
            i++;
        }
    }
    return k;
}

int fx_drop(struct fx *f, int from, int to, int type)
{
    int k = 0;
    for (size_t i = 0; i < f->nq;) {
        if (match(&f->q[i], from, to, type)) {
            remove_at(f, i);
            k++;
        } else {
            i++;
        }
    }
    return k;
}

size_t fx_count(const struct fx *f, int from, int to, int type)
{
    size_t k = 0;
    for (size_t i = 0; i < f->nq; i++)
        k += match(&f->q[i], from, to, type);
    return k;
}

bool fx_peek(const struct fx *f, int from, int to, int type, size_t k, struct raft_msg *m)
{
    for (size_t i = 0; i < f->nq; i++) {
        if (!match(&f->q[i], from, to, type)) continue;
        if (k-- == 0) return raft_msg_decode(f->q[i].bytes, f->q[i].len, NULL, m) == 0;
    }
    return false;
}

void fx_isolate(struct fx *f, int i)
{
    for (int j = 0; j < f->n; j++)
        f->cut[i][j] = f->cut[j][i] = i != j;
}

void fx_heal(struct fx *f)
{
    memset(f->cut, 0, sizeof f->cut);
}

void fx_crash(struct fx *f, int i)
{
    struct fx_node *n = &f->nodes[i];
    for (size_t k = 0; k < n->n_pend; k++)
        pend_free(&n->pend[k]);
    n->n_pend = 0;
    raft_free(n->r);
    n->r = NULL;
    n->up = false;
    fx_drop(f, -1, i, -1);
}

void fx_restart(struct fx *f, int i)
{
    struct fx_node *n = &f->nodes[i];
    n->n_applied = 0;
    start(f, i);
    fx_tick(f, i);
}

int fx_snapshot(struct fx *f, int i)
{
    struct fx_node *n = &f->nodes[i];
    struct raft_event ev = {.type = RAFT_EV_SNAPSHOT_TAKEN};
    ev.snapshot_taken.index = n->applied_index;
    int rc = fx_step(f, i, &ev);
    if (rc == 0) {
        n->d_snap = *raft_snapshot(n->r);
        n->blob_len = (size_t)snprintf(n->blob, sizeof n->blob, "snapshot@%llu",
                                       (unsigned long long)n->d_snap.index);
    }
    return rc;
}

int fx_elect(struct fx *f, int i)
{
    fx_step(f, i, &(struct raft_event){.type = RAFT_EV_CAMPAIGN});
    fx_deliver_all(f);
    return f->nodes[i].up ? raft_role(f->nodes[i].r) : 0;
}

int fx_propose(struct fx *f, int i, const char *data)
{
    struct raft_proposal p = {.data = (const uint8_t *)data, .len = (uint32_t)strlen(data)};
    struct raft_event ev = {.type = RAFT_EV_PROPOSE};
    ev.propose.items = &p;
    ev.propose.n = 1;
    return fx_step(f, i, &ev);
}

int fx_read(struct fx *f, int i, uint64_t ctx, bool lease)
{
    struct raft_event ev = {.type = RAFT_EV_READ};
    ev.read.ctx = ctx;
    ev.read.lease = lease;
    return fx_step(f, i, &ev);
}

int fx_change(struct fx *f, int i, int op, raft_id id)
{
    struct raft_event ev = {.type = RAFT_EV_CHANGE};
    ev.change.op = op;
    ev.change.id = id;
    return fx_step(f, i, &ev);
}

int fx_leader(const struct fx *f)
{
    int best = -1;
    for (int i = 0; i < f->n; i++) {
        const struct fx_node *n = &f->nodes[i];
        if (!n->up || raft_role(n->r) != RAFT_LEADER) continue;
        if (best < 0 || raft_term_of(n->r) > raft_term_of(f->nodes[best].r)) best = i;
    }
    return best;
}
