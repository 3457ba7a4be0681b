/* Snapshots and compaction (ch. 5), membership changes (ch. 4) and
 * leadership transfer (§3.10). */
#include <string.h>

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

static void propose_n(struct fx *f, int i, int n)
{
    for (int k = 0; k < n; k++)
        fx_propose(f, i, "data");
    settle(f);
}

static void snapcfg(struct raft_cfg *c)
{
    c->trailing_logs = 3;
    c->snapshot_threshold = 10;
    c->snapshot_chunk_bytes = 4;
}

/* ---- snapshots ---------------------------------------------------------- */

/* §5.1: the log is compacted behind a snapshot, keeping a trailing window. */
TEST(snapshot, compaction_keeps_the_trailing_window)
{
    struct fx f;
    fx_init(&f, 3, 3, snapcfg);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    propose_n(&f, 0, 20);
    run(&f, 1);
    ASSERT_EQ(22, f.nodes[0].applied_index);
    ASSERT_OK(fx_snapshot(&f, 0));
    ASSERT_EQ(22, raft_snapshot(f.nodes[0].r)->index);
    ASSERT_EQ(2, raft_snapshot(f.nodes[0].r)->term);
    ASSERT_EQ(3, raft_snapshot(f.nodes[0].r)->conf.n);
    ASSERT_EQ(20, raft_first_index(f.nodes[0].r)); /* 20, 21, 22 kept */
    ASSERT(raft_entry_at(f.nodes[0].r, 19) == NULL);
    /* a stale or future snapshot event */
    struct raft_event ev = {.type = RAFT_EV_SNAPSHOT_TAKEN};
    ev.snapshot_taken.index = 99;
    ASSERT_EQ(CN_EINVAL, fx_step(&f, 0, &ev));
    ev.snapshot_taken.index = 5;
    ASSERT_OK(fx_step(&f, 0, &ev));
    fx_release(&f);
}

TEST(snapshot, wanted_once_the_threshold_is_passed)
{
    struct raft_cfg c;
    raft_cfg_defaults(&c, 1, 1, 1);
    c.snapshot_threshold = 5;
    struct raft *r;
    ASSERT_OK(raft_new(&c, &r));
    struct raft_config conf = {.n = 1, .servers = {{1, RAFT_VOTER}}};
    ASSERT_OK(raft_bootstrap(r, &conf));
    struct raft_update u;
    bool wanted = false;
    uint64_t t = 1;
    raft_step(r, t, &(struct raft_event){.type = RAFT_EV_TICK}, &u);
    for (int k = 0; k < 10; k++) {
        wanted = wanted || u.snapshot_wanted;
        uint64_t seq = u.seq;
        raft_done(r, &u);
        struct raft_event ev = {.type = RAFT_EV_PERSISTED};
        ev.persisted.seq = seq;
        raft_step(r, ++t, &ev, NULL);
        struct raft_proposal p = {(const uint8_t *)"x", 1, NULL};
        ev = (struct raft_event){.type = RAFT_EV_PROPOSE};
        ev.propose.items = &p;
        ev.propose.n = 1;
        raft_step(r, ++t, &ev, &u);
    }
    ASSERT(wanted);
    raft_done(r, &u);
    raft_free(r);
}

/* §5.3: "the leader ... sends snapshots to followers that lag behind", in
 * chunks whose bytes the application provides. */
TEST(snapshot, lagging_follower_gets_it_in_chunks)
{
    struct fx f;
    fx_init(&f, 3, 3, snapcfg);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    fx_crash(&f, 2);
    propose_n(&f, 0, 20);
    run(&f, 1);
    ASSERT_OK(fx_snapshot(&f, 0));
    propose_n(&f, 0, 2);
    fx_restart(&f, 2);
    int chunks = 0;
    for (int k = 0; k < 40 && f.nodes[2].applied_index < 24; k++) {
        fx_advance(&f, 50);
        while (f.nq) {
            chunks += f.q[0].type == RAFT_MSG_SNAPSHOT;
            fx_deliver_one(&f);
        }
    }
    ASSERT_EQ(1, f.nodes[2].snapshots_installed);
    ASSERT(chunks >= 3); /* "snapshot@22" in 4-byte chunks */
    ASSERT_EQ(24, f.nodes[2].applied_index);
    ASSERT_EQ(22, f.nodes[2].d_snap.index);
    ASSERT_EQ(0, memcmp(f.nodes[2].blob, "snapshot@22", 11));
    ASSERT_EQ(24, raft_last_index(f.nodes[2].r));
    fx_release(&f);
}

/* The final acknowledgement waits until the installed snapshot is durable. */
TEST(snapshot, install_is_acknowledged_once_durable)
{
    struct fx f;
    fx_init(&f, 3, 3, snapcfg);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    fx_crash(&f, 2);
    propose_n(&f, 0, 20);
    run(&f, 1);
    ASSERT_OK(fx_snapshot(&f, 0));
    fx_restart(&f, 2);
    f.nodes[2].auto_persist = false;
    for (int k = 0; k < 20 && raft_snapshot(f.nodes[2].r)->index == 0; k++) {
        fx_advance(&f, 50);
        settle(&f);
    }
    ASSERT_EQ(22, raft_snapshot(f.nodes[2].r)->index);
    struct raft_msg m;
    for (size_t k = 0; fx_peek(&f, 2, 0, RAFT_MSG_SNAPSHOT_RESP, k, &m); k++)
        ASSERT(!m.snap_resp.done);
    ASSERT_EQ(0, f.nodes[2].d_snap.index);
    fx_persist(&f, 2);
    ASSERT_EQ(22, f.nodes[2].d_snap.index);
    bool done = false;
    for (size_t k = 0; fx_peek(&f, 2, 0, RAFT_MSG_SNAPSHOT_RESP, k, &m); k++)
        done |= m.snap_resp.done;
    ASSERT(done);
    fx_release(&f);
}

/* §5.2 on restart: the snapshot and the log after it come back. */
TEST(snapshot, restart_restores_snapshot_and_log)
{
    struct fx f;
    fx_init(&f, 3, 3, snapcfg);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    propose_n(&f, 0, 10);
    run(&f, 1);
    ASSERT_OK(fx_snapshot(&f, 1));
    propose_n(&f, 0, 3);
    run(&f, 1);
    fx_crash(&f, 1);
    fx_restart(&f, 1);
    ASSERT_EQ(12, raft_snapshot(f.nodes[1].r)->index);
    ASSERT_EQ(15, raft_last_index(f.nodes[1].r));
    ASSERT_EQ(12, raft_applied_index(f.nodes[1].r));
    run(&f, 2);
    ASSERT_EQ(15, f.nodes[1].applied_index);
    fx_release(&f);
}

/* The core never compacts what is not yet durable. */
TEST(snapshot, never_compacts_unpersisted_entries)
{
    struct fx f;
    fx_init(&f, 3, 3, snapcfg);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    f.nodes[0].auto_persist = false;
    propose_n(&f, 0, 10);
    run(&f, 1);
    ASSERT_EQ(12, f.nodes[0].applied_index);          /* committed by the followers */
    ASSERT_EQ(2, raft_persisted_index(f.nodes[0].r)); /* not on our disk yet */
    ASSERT_OK(fx_snapshot(&f, 0));
    ASSERT(raft_first_index(f.nodes[0].r) <= 3);
    fx_release(&f);
}

/* ---- membership --------------------------------------------------------- */

/* §4.2.1: a learner receives the log but neither votes nor counts. */
TEST(member, learner_gets_the_log_without_counting)
{
    struct fx f;
    fx_init(&f, 3, 2, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    ASSERT_OK(fx_change(&f, 0, RAFT_ADD_LEARNER, 3));
    settle(&f);
    run(&f, 2);
    ASSERT_EQ(raft_last_index(f.nodes[0].r), raft_last_index(f.nodes[2].r));
    ASSERT_EQ(RAFT_LEARNER, raft_config_get(raft_config_latest(f.nodes[2].r), 3)->role);
    fx_crash(&f, 1); /* leader + learner are not a quorum of {1, 2} */
    fx_propose(&f, 0, "x");
    run(&f, 3);
    ASSERT(f.nodes[2].n_applied > 0);
    ASSERT(raft_commit_index(f.nodes[0].r) < raft_last_index(f.nodes[0].r));
    fx_release(&f);
}

/* §4.2.1: a new voter catches up as a learner, then is promoted. */
TEST(member, add_voter_promotes_after_catching_up)
{
    struct fx f;
    fx_init(&f, 3, 2, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    propose_n(&f, 0, 30);
    ASSERT_OK(fx_change(&f, 0, RAFT_ADD_VOTER, 3));
    const struct raft_config *c = raft_config_latest(f.nodes[0].r);
    ASSERT_EQ(RAFT_LEARNER, raft_config_get(c, 3)->role);
    run(&f, 6);
    c = raft_config_latest(f.nodes[0].r);
    ASSERT_EQ(RAFT_VOTER, raft_config_get(c, 3)->role);
    ASSERT_EQ(RAFT_VOTER, raft_config_get(raft_config_latest(f.nodes[2].r), 3)->role);
    /* now {1, 3} is a quorum of three */
    fx_crash(&f, 1);
    fx_propose(&f, 0, "x");
    run(&f, 2);
    ASSERT_EQ(raft_last_index(f.nodes[0].r), raft_commit_index(f.nodes[0].r));
    fx_release(&f);
}

TEST(member, a_learner_that_never_catches_up_is_not_promoted)
{
    struct fx f;
    fx_init(&f, 3, 2, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    fx_crash(&f, 2);
    ASSERT_OK(fx_change(&f, 0, RAFT_ADD_VOTER, 3));
    run(&f, 300);
    ASSERT_EQ(RAFT_LEARNER, raft_config_get(raft_config_latest(f.nodes[0].r), 3)->role);
    fx_release(&f);
}

/* §4.1: one change at a time, and not before the leader's own commit. */
TEST(member, one_change_at_a_time)
{
    struct fx f;
    fx_init(&f, 4, 3, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    fx_isolate(&f, 0);
    ASSERT_OK(fx_change(&f, 0, RAFT_ADD_LEARNER, 4));
    ASSERT_EQ(CN_EAGAIN, fx_change(&f, 0, RAFT_REMOVE, 3));
    fx_heal(&f);
    run(&f, 4);
    ASSERT_OK(fx_change(&f, 0, RAFT_REMOVE, 3));
    ASSERT_EQ(CN_ENOTLEADER, fx_change(&f, 1, RAFT_REMOVE, 3));
    ASSERT_EQ(CN_EAGAIN, fx_change(&f, 0, RAFT_ADD_LEARNER, 4));
    fx_release(&f);
}

TEST(member, change_waits_for_the_leaders_first_commit)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    fx_step(&f, 0, &(struct raft_event){.type = RAFT_EV_CAMPAIGN});
    while (f.nq && raft_role(f.nodes[0].r) != RAFT_LEADER)
        fx_deliver_one(&f);
    ASSERT_EQ(RAFT_LEADER, raft_role(f.nodes[0].r));
    ASSERT_EQ(CN_EAGAIN, fx_change(&f, 0, RAFT_REMOVE, 3));
    settle(&f);
    ASSERT_OK(fx_change(&f, 0, RAFT_REMOVE, 3));
    fx_release(&f);
}

TEST(member, argument_errors)
{
    struct fx f;
    fx_init(&f, 2, 1, NULL);
    ASSERT_EQ(CN_EEXIST, fx_change(&f, 0, RAFT_ADD_VOTER, 1));
    ASSERT_EQ(CN_ENOENT, fx_change(&f, 0, RAFT_REMOVE, 7));
    ASSERT_EQ(CN_EINVAL, fx_change(&f, 0, RAFT_REMOVE, 1)); /* the last voter */
    ASSERT_EQ(CN_EINVAL, fx_change(&f, 0, 99, 2));
    f.nodes[0].auto_persist = false; /* keep the next change uncommitted */
    ASSERT_OK(fx_change(&f, 0, RAFT_ADD_LEARNER, 2));
    ASSERT_EQ(CN_EAGAIN, fx_change(&f, 0, RAFT_ADD_LEARNER, 3));
    fx_release(&f);
}

/* §4.1: "a server always uses the latest configuration in its log,
 * regardless of whether the entry is committed". */
TEST(member, configuration_takes_effect_on_append)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    ASSERT_OK(fx_change(&f, 0, RAFT_REMOVE, 3));
    fx_deliver(&f, 0, 1, RAFT_MSG_APPEND);
    ASSERT_EQ(2, raft_config_latest(f.nodes[1].r)->n);
    ASSERT(raft_commit_index(f.nodes[1].r) < raft_last_index(f.nodes[1].r));
    fx_release(&f);
}

/* ... and a configuration entry that is truncated takes its configuration
 * with it. */
TEST(member, truncated_configuration_reverts)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    fx_isolate(&f, 0);
    ASSERT_OK(fx_change(&f, 0, RAFT_REMOVE, 3));
    fx_drop(&f, -1, -1, -1);
    ASSERT_EQ(2, raft_config_latest(f.nodes[0].r)->n);
    f.now += 2000;
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 1));
    fx_heal(&f);
    run(&f, 3);
    ASSERT_EQ(RAFT_FOLLOWER, raft_role(f.nodes[0].r));
    ASSERT_EQ(3, raft_config_latest(f.nodes[0].r)->n);
    ASSERT_EQ(3, raft_entry_at(f.nodes[0].r, 3)->term);
    fx_release(&f);
}

/* §4.2.2: a leader removed from the configuration steps down once the
 * removal is committed, and the rest elect a leader (sooner with
 * TimeoutNow to the most up-to-date voter). */
TEST(member, removing_the_leader)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    ASSERT_OK(fx_change(&f, 0, RAFT_REMOVE, 1));
    ASSERT_EQ(RAFT_LEADER, raft_role(f.nodes[0].r)); /* still leading until committed */
    settle(&f);
    ASSERT_EQ(RAFT_FOLLOWER, raft_role(f.nodes[0].r));
    int l = fx_leader(&f);
    ASSERT(l == 1 || l == 2);
    ASSERT_EQ(2, raft_config_latest(f.nodes[l].r)->n);
    ASSERT_OK(fx_propose(&f, l, "after"));
    run(&f, 2);
    ASSERT_EQ(raft_last_index(f.nodes[l].r), raft_commit_index(f.nodes[l].r));
    /* the removed server never campaigns again */
    for (int k = 0; k < 40; k++)
        fx_advance(&f, 100);
    ASSERT_EQ(RAFT_FOLLOWER, raft_role(f.nodes[0].r));
    fx_release(&f);
}

TEST(member, removing_a_follower)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    ASSERT_OK(fx_change(&f, 0, RAFT_REMOVE, 3));
    settle(&f);
    fx_crash(&f, 2);
    fx_propose(&f, 0, "x"); /* quorum of {1, 2} is both */
    run(&f, 2);
    ASSERT_EQ(raft_last_index(f.nodes[0].r), raft_commit_index(f.nodes[0].r));
    fx_release(&f);
}

/* ---- leadership transfer ------------------------------------------------ */

/* §3.10: the leader brings the target up to date, then sends TimeoutNow;
 * the target campaigns at once (no pre-vote, overriding leases) and wins. */
TEST(transfer, up_to_date_target_wins_at_once)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    struct raft_event ev = {.type = RAFT_EV_TRANSFER};
    ev.transfer.target = 3;
    ASSERT_OK(fx_step(&f, 0, &ev));
    ASSERT_EQ(1, fx_count(&f, 0, 2, RAFT_MSG_TIMEOUT_NOW));
    ASSERT_EQ(CN_EAGAIN, fx_propose(&f, 0, "x")); /* refused during transfer */
    settle(&f);
    ASSERT_EQ(RAFT_LEADER, raft_role(f.nodes[2].r));
    ASSERT_EQ(3, raft_term_of(f.nodes[2].r));
    ASSERT_EQ(RAFT_FOLLOWER, raft_role(f.nodes[0].r));
    fx_release(&f);
}

TEST(transfer, lagging_target_is_caught_up_first)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    fx_isolate(&f, 2);
    propose_n(&f, 0, 5);
    fx_heal(&f);
    struct raft_event ev = {.type = RAFT_EV_TRANSFER};
    ev.transfer.target = 3;
    ASSERT_OK(fx_step(&f, 0, &ev));
    ASSERT_EQ(0, fx_count(&f, 0, 2, RAFT_MSG_TIMEOUT_NOW));
    run(&f, 4);
    ASSERT_EQ(RAFT_LEADER, raft_role(f.nodes[2].r));
    ASSERT_EQ(7, raft_last_index(f.nodes[2].r) - 1); /* its no-op on top */
    fx_release(&f);
}

TEST(transfer, times_out_and_resumes_proposals)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    struct raft_event ev = {.type = RAFT_EV_TRANSFER};
    ev.transfer.target = 2;
    ASSERT_OK(fx_step(&f, 0, &ev));
    ASSERT_EQ(CN_EAGAIN, fx_step(&f, 0, &ev)); /* one at a time */
    fx_drop(&f, 0, 1, RAFT_MSG_TIMEOUT_NOW);
    run(&f, 12);
    ASSERT_EQ(RAFT_LEADER, raft_role(f.nodes[0].r));
    ASSERT_OK(fx_propose(&f, 0, "x"));
    ev.transfer.target = 9;
    ASSERT_EQ(CN_ENOENT, fx_step(&f, 0, &ev));
    fx_release(&f);
}

TEST(transfer, picks_the_most_up_to_date_voter)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    fx_isolate(&f, 1);
    propose_n(&f, 0, 3);
    fx_heal(&f);
    struct raft_event ev = {.type = RAFT_EV_TRANSFER};
    ASSERT_OK(fx_step(&f, 0, &ev));
    ASSERT_EQ(1, fx_count(&f, 0, 2, RAFT_MSG_TIMEOUT_NOW));
    fx_release(&f);
}
