/* readindex.c - linearizable reads without log writes (dissertation §6.4):
 * read index confirmed by a quorum heartbeat round, and the leader lease
 * (§6.4.1) for reads without a round trip. A new leader serves neither kind
 * before an entry of its own term is committed: until then it does not know
 * which entries are committed. */
#include <string.h>

#include "raft/raft_int.h"

static bool own_term_committed(const struct raft *r)
{
    return r->role == RAFT_LEADER && r->commit >= r->noop_index;
}

/* The quorum-th largest of v[] over the voters of c; self counts as self_v. */
static uint64_t quorum_of(const struct raft *r, const struct raft_config *c, uint64_t self_v,
                          bool want_ts)
{
    uint64_t v[RAFT_SERVERS_MAX];
    uint32_t k = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        const struct raft_server *s = &c->servers[i];
        if (s->role != RAFT_VOTER) continue;
        uint64_t x = 0;
        if (s->id == r->id) {
            x = self_v;
        } else {
            for (uint32_t j = 0; j < r->n_prs; j++)
                if (r->prs[j].id == s->id) x = want_ts ? r->prs[j].acked_ts : r->prs[j].acked_seq;
        }
        uint32_t pos = k++;
        while (pos > 0 && v[pos - 1] < x) {
            v[pos] = v[pos - 1];
            pos--;
        }
        v[pos] = x;
    }
    return k ? v[raft__quorum(k) - 1] : 0;
}

/* Acknowledgements must form a quorum of the latest configuration and of the
 * committed one: during a change a rival could be elected under either. */
static uint64_t quorum_both(const struct raft *r, uint64_t self_v, bool want_ts)
{
    uint64_t a = quorum_of(r, raft__conf(r), self_v, want_ts);
    uint64_t b = quorum_of(r, raft__conf_committed(r), self_v, want_ts);
    return CN_MIN(a, b);
}

uint64_t raft__quorum_acked_seq(const struct raft *r)
{
    return quorum_both(r, UINT64_MAX, false);
}

static bool lease_valid_at(const struct raft *r, uint64_t now)
{
    if (!own_term_committed(r) || r->lease_forfeit_term == r->term) return false;
    /* The heartbeat sent at ts that a quorum acknowledged keeps every voter
     * of that quorum from voting for anyone else until ts + election_ms of
     * its clock; lease_ms < election_ms absorbs the clocks' drift. */
    uint64_t ts = quorum_both(r, now, true);
    return ts != 0 && ts + r->cfg.lease_ms > now;
}

bool raft__lease_valid(const struct raft *r)
{
    return lease_valid_at(r, r->now);
}

bool raft_lease_valid(const struct raft *r, uint64_t now_ms)
{
    return lease_valid_at(r, now_ms > r->now ? now_ms : r->now);
}

static void complete(struct raft *r, uint64_t ctx, raft_index index, int err)
{
    struct raft_read *o = raft__vec_push(&r->reads_out);
    o->ctx = ctx;
    o->index = index;
    o->err = err;
}

int raft__read(struct raft *r, uint64_t ctx, bool lease)
{
    if (r->role != RAFT_LEADER) return CN_ENOTLEADER;
    if (r->reads.n - r->reads_head >= RAFT_READS_MAX) return CN_EAGAIN;
    if (own_term_committed(r) && (raft__sole_voter(r) || (lease && raft__lease_valid(r)))) {
        complete(r, ctx, r->commit, 0);
        return 0;
    }
    struct raft__readreq *q = raft__vec_push(&r->reads);
    q->ctx = ctx;
    q->index = own_term_committed(r) ? r->commit : 0;
    q->seq = 0;
    if (q->index) r->read_round_wanted = true;
    return 0;
}

/* Complete the reads whose heartbeat round a quorum has acknowledged. */
void raft__reads_advance(struct raft *r)
{
    if (r->role != RAFT_LEADER || r->reads_head == r->reads.n) return;
    if (own_term_committed(r)) {
        for (size_t i = r->reads_head; i < r->reads.n; i++) {
            if (r->reads.v[i].index == 0) {
                r->reads.v[i].index = r->commit;
                r->read_round_wanted = true;
            }
        }
    }
    uint64_t acked = raft__quorum_acked_seq(r);
    while (r->reads_head < r->reads.n) {
        struct raft__readreq *q = &r->reads.v[r->reads_head];
        if (q->seq == 0 || q->seq > acked) break;
        complete(r, q->ctx, q->index, 0);
        r->reads_head++;
    }
    if (r->reads_head == r->reads.n) {
        r->reads_head = r->reads.n = 0;
    } else if (r->reads_head > 64 && r->reads_head * 2 > r->reads.n) {
        r->reads.n -= r->reads_head;
        memmove(r->reads.v, r->reads.v + r->reads_head, r->reads.n * sizeof *r->reads.v);
        r->reads_head = 0;
    }
}

void raft__reads_fail(struct raft *r, int err)
{
    for (size_t i = r->reads_head; i < r->reads.n; i++)
        complete(r, r->reads.v[i].ctx, 0, err);
    r->reads_head = r->reads.n = 0;
    r->read_round_wanted = false;
}
