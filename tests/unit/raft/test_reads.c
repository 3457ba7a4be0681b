/* Linearizable reads without log writes (§6.4): read index and leader lease. */
#include "fixture.h"
#include "lib/cn_err.h"
#include "test.h"

static void settle(struct fx *f)
{
    fx_deliver_all(f);
}

static void run(struct fx *f, int rounds)
{
    for (int k = 0; k < rounds; k++) {
        fx_advance(f, 50);
        settle(f);
    }
}

static const struct raft_read *read_of(struct fx *f, int i, uint64_t ctx)
{
    for (size_t k = 0; k < f->nodes[i].n_reads; k++)
        if (f->nodes[i].reads[k].ctx == ctx) return &f->nodes[i].reads[k];
    return NULL;
}

/* §6.4 step 1: "If the leader has not yet marked an entry from its current
 * term committed, it waits until it has done so." */
TEST(read, new_leader_waits_for_its_first_commit)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    fx_step(&f, 0, &(struct raft_event){.type = RAFT_EV_CAMPAIGN});
    while (f.nq && raft_role(f.nodes[0].r) != RAFT_LEADER)
        fx_deliver_one(&f);
    ASSERT_EQ(RAFT_LEADER, raft_role(f.nodes[0].r));
    ASSERT_OK(fx_read(&f, 0, 1, false));
    ASSERT_OK(fx_read(&f, 0, 2, true));
    ASSERT(!raft_lease_valid(f.nodes[0].r, f.now));
    ASSERT(read_of(&f, 0, 1) == NULL && read_of(&f, 0, 2) == NULL);
    settle(&f);
    ASSERT(read_of(&f, 0, 1) != NULL);
    ASSERT(read_of(&f, 0, 2) != NULL);
    ASSERT_EQ(2, read_of(&f, 0, 1)->index); /* the no-op */
    ASSERT_EQ(0, read_of(&f, 0, 1)->err);
    fx_release(&f);
}

/* §6.4 steps 2-3: the read index is the commit index, confirmed by a round
 * of heartbeats acknowledged by a majority. */
TEST(read, read_index_needs_a_quorum_round)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    fx_propose(&f, 0, "x");
    settle(&f);
    ASSERT_OK(fx_read(&f, 0, 7, false));
    ASSERT(read_of(&f, 0, 7) == NULL);
    ASSERT_EQ(2, fx_count(&f, 0, -1, RAFT_MSG_HEARTBEAT)); /* sent at once */
    fx_deliver(&f, 0, 1, RAFT_MSG_HEARTBEAT);
    fx_deliver(&f, 1, 0, RAFT_MSG_HEARTBEAT_RESP);
    ASSERT(read_of(&f, 0, 7) != NULL); /* self + one = quorum of 3 */
    ASSERT_EQ(3, read_of(&f, 0, 7)->index);
    fx_release(&f);
}

TEST(read, read_index_fails_without_a_quorum)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    fx_isolate(&f, 0);
    ASSERT_OK(fx_read(&f, 0, 7, false));
    ASSERT_OK(fx_read(&f, 0, 8, true)); /* the lease is still valid here */
    ASSERT(read_of(&f, 0, 8) != NULL);
    run(&f, 12); /* past check-quorum: the leader steps down */
    ASSERT_EQ(RAFT_FOLLOWER, raft_role(f.nodes[0].r));
    const struct raft_read *rd = read_of(&f, 0, 7);
    ASSERT(rd != NULL);
    ASSERT_EQ(CN_ENOTLEADER, rd->err);
    ASSERT_EQ(CN_ENOTLEADER, fx_read(&f, 0, 9, false));
    fx_release(&f);
}

/* Many reads share one heartbeat round. */
TEST(read, reads_are_batched_into_one_round)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    struct raft_event ev = {.type = RAFT_EV_READ};
    for (uint64_t k = 1; k <= 20; k++) {
        ev.read.ctx = k;
        ASSERT_OK(raft_step(f.nodes[0].r, f.now, &ev, NULL));
    }
    fx_tick(&f, 0);
    ASSERT_EQ(2, fx_count(&f, 0, -1, RAFT_MSG_HEARTBEAT));
    settle(&f);
    ASSERT_EQ(20, f.nodes[0].n_reads);
    fx_release(&f);
}

/* §6.4.1: with a valid lease the leader answers at once, no round trip. */
TEST(read, lease_reads_complete_at_once)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    ASSERT(raft_lease_valid(f.nodes[0].r, f.now));
    size_t before = f.nq;
    ASSERT_OK(fx_read(&f, 0, 5, true));
    ASSERT(read_of(&f, 0, 5) != NULL);
    ASSERT_EQ(before, f.nq); /* no messages */
    fx_release(&f);
}

/* The lease runs lease_ms from the send time of the acknowledged
 * heartbeat; without fresh acknowledgements it lapses. */
TEST(read, lease_lapses_without_acknowledgements)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    uint64_t t0 = f.now;
    ASSERT(raft_lease_valid(f.nodes[0].r, t0 + 449));
    ASSERT(!raft_lease_valid(f.nodes[0].r, t0 + 450));
    /* heartbeats acknowledged later extend it */
    run(&f, 4);
    ASSERT(raft_lease_valid(f.nodes[0].r, t0 + 500));
    fx_isolate(&f, 0);
    run(&f, 10);
    ASSERT(!raft_lease_valid(f.nodes[0].r, f.now));
    fx_release(&f);
}

/* An acknowledgement of an old heartbeat extends the lease only from that
 * heartbeat's send time, never from when it arrives. */
TEST(read, late_acknowledgements_count_from_their_send_time)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    uint64_t t0 = f.now;
    fx_advance(&f, 50); /* heartbeats sent at t0 + 50 */
    f.now += 400;       /* ... and acknowledged 400 ms later */
    settle(&f);
    ASSERT(raft_lease_valid(f.nodes[0].r, t0 + 499));
    ASSERT(!raft_lease_valid(f.nodes[0].r, t0 + 500));
    fx_release(&f);
}

/* After TimeoutNow the target may win with votes that override leases, so
 * the old leader forfeits its lease at once. */
TEST(read, transfer_forfeits_the_lease)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    struct raft_event ev = {.type = RAFT_EV_TRANSFER};
    ev.transfer.target = 2;
    ASSERT_OK(fx_step(&f, 0, &ev));
    ASSERT(!raft_lease_valid(f.nodes[0].r, f.now));
    ASSERT_OK(fx_read(&f, 0, 1, true));
    ASSERT(read_of(&f, 0, 1) == NULL); /* fell back to a read-index round */
    fx_release(&f);
}

/* A single voter is its own quorum: reads complete at once. */
TEST(read, single_voter_reads_at_once)
{
    struct fx f;
    fx_init(&f, 1, 1, NULL);
    ASSERT_OK(fx_read(&f, 0, 3, false));
    ASSERT(read_of(&f, 0, 3) != NULL);
    ASSERT_EQ(2, read_of(&f, 0, 3)->index);
    fx_release(&f);
}

/* A read is released only once the entries up to its index have been
 * handed out for applying (possibly in the same update). */
TEST(read, released_only_after_its_index_is_handed_out)
{
    struct raft_cfg c;
    raft_cfg_defaults(&c, 1, 1, 1);
    c.max_apply_entries = 1;
    struct raft *r;
    ASSERT_OK(raft_new(&c, &r));
    struct raft_config conf = {.n = 1, .servers = {{1, RAFT_VOTER}}};
    ASSERT_OK(raft_bootstrap(r, &conf));
    struct raft_update u;
    uint64_t t = 1, seq;
    raft_step(r, t, &(struct raft_event){.type = RAFT_EV_TICK}, &u);
    for (int k = 0; k < 3; k++) { /* vote; no-op; three entries */
        seq = u.seq;
        raft_done(r, &u);
        struct raft_event ev = {.type = RAFT_EV_PERSISTED};
        ev.persisted.seq = seq;
        if (k == 1) {
            struct raft_proposal p[3] = {{(const uint8_t *)"a", 1, NULL},
                                         {(const uint8_t *)"b", 1, NULL},
                                         {(const uint8_t *)"c", 1, NULL}};
            struct raft_event pe = {.type = RAFT_EV_PROPOSE};
            pe.propose.items = p;
            pe.propose.n = 3;
            raft_step(r, ++t, &ev, NULL);
            raft_step(r, ++t, &pe, &u);
        } else {
            raft_step(r, ++t, &ev, &u);
        }
    }
    ASSERT_EQ(5, raft_commit_index(r));
    struct raft_event rd = {.type = RAFT_EV_READ};
    rd.read.ctx = 42;
    raft_step(r, ++t, &rd, &u);
    int seen = 0;
    for (int k = 0; k < 10 && !seen; k++) {
        ASSERT(u.n_committed <= 1);
        for (size_t j = 0; j < u.n_reads; j++) {
            ASSERT_EQ(42, u.reads[j].ctx);
            ASSERT_EQ(5, u.reads[j].index);
            ASSERT_EQ(5, u.committed[u.n_committed - 1].index);
            seen = 1;
        }
        raft_done(r, &u);
        raft_ready(r, &u);
    }
    ASSERT(seen);
    raft_done(r, &u);
    raft_free(r);
}

TEST(read, followers_refuse_reads)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    ASSERT_EQ(CN_ENOTLEADER, fx_read(&f, 1, 1, true));
    ASSERT_EQ(0, raft_last_contact_ms(f.nodes[0].r, f.now));
    ASSERT_EQ(30, raft_last_contact_ms(f.nodes[1].r, f.now + 30));
    fx_release(&f);
}
