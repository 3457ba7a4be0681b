/* Elections (dissertation §3.4, §3.6.1), pre-vote (§9.6), check-quorum (§6.2)
 * and the voter's side of the leader lease. One test per rule. */
#include "fixture.h"
#include "lib/cn_err.h"
#include "test.h"

static int role(struct fx *f, int i)
{
    return raft_role(f->nodes[i].r);
}

static raft_term term(struct fx *f, int i)
{
    return raft_term_of(f->nodes[i].r);
}

static void no_prevote(struct raft_cfg *c)
{
    c->pre_vote = false;
}

/* §3.4: "If a follower receives no communication over a period of time
 * called the election timeout, then it ... begins an election." */
TEST(election, follower_times_out_and_campaigns)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    ASSERT_EQ(RAFT_FOLLOWER, role(&f, 0));
    f.now += 1000; /* past any deadline in [E, 2E) from boot */
    fx_tick(&f, 0);
    ASSERT_EQ(RAFT_PRECANDIDATE, role(&f, 0));
    ASSERT_EQ(1, term(&f, 0)); /* pre-vote does not bump the term */
    fx_deliver_all(&f);
    ASSERT_EQ(RAFT_LEADER, role(&f, 0));
    ASSERT_EQ(2, term(&f, 0));
    fx_release(&f);
}

/* §3.4: "election timeouts are chosen randomly from a fixed interval". */
TEST(election, timeout_is_randomized_in_e_2e)
{
    uint64_t lo = UINT64_MAX, hi = 0;
    for (uint64_t seed = 1; seed <= 200; seed++) {
        struct raft_cfg c;
        raft_cfg_defaults(&c, 1, 1, seed);
        struct raft *r;
        ASSERT_OK(raft_new(&c, &r));
        struct raft_event ev = {.type = RAFT_EV_TICK};
        ASSERT_OK(raft_step(r, 10000, &ev, NULL));
        uint64_t d = raft_next_deadline(r) - 10000;
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
        raft_free(r);
    }
    ASSERT(lo >= 500);
    ASSERT(hi < 1000);
    ASSERT(hi - lo > 300); /* actually spread */
}

/* §3.4: "A candidate wins an election if it receives votes from a majority". */
TEST(election, candidate_wins_with_majority_only)
{
    struct fx f;
    fx_init(&f, 5, 5, no_prevote);
    fx_crash(&f, 3);
    fx_crash(&f, 4);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0)); /* 3 of 5 */
    fx_crash(&f, 2);
    f.now += 2000;
    fx_tick(&f, 1);
    fx_deliver_all(&f);
    ASSERT(role(&f, 1) != RAFT_LEADER); /* 2 of 5 is not enough */
    fx_release(&f);
}

/* §3.4: "Each server will vote for at most one candidate in a given term". */
TEST(election, votes_once_per_term)
{
    struct fx f;
    fx_init(&f, 3, 3, no_prevote);
    fx_step(&f, 0, &(struct raft_event){.type = RAFT_EV_CAMPAIGN});
    fx_step(&f, 1, &(struct raft_event){.type = RAFT_EV_CAMPAIGN});
    ASSERT_EQ(2, term(&f, 0));
    ASSERT_EQ(2, term(&f, 1));
    /* node 3 sees node 1's request first, then node 2's */
    fx_deliver(&f, 0, 2, RAFT_MSG_VOTE);
    fx_deliver(&f, 1, 2, RAFT_MSG_VOTE);
    struct raft_msg m;
    ASSERT(fx_peek(&f, 2, 0, RAFT_MSG_VOTE_RESP, 0, &m));
    ASSERT(m.vote_resp.granted);
    ASSERT(fx_peek(&f, 2, 1, RAFT_MSG_VOTE_RESP, 0, &m));
    ASSERT(!m.vote_resp.granted);
    fx_deliver_all(&f);
    ASSERT_EQ(RAFT_LEADER, role(&f, 0));
    ASSERT(role(&f, 1) != RAFT_LEADER);
    fx_release(&f);
}

/* §3.6.1: "the voter denies its vote if its own log is more up-to-date". */
TEST(election, denies_vote_to_a_less_up_to_date_log)
{
    struct fx f;
    fx_init(&f, 3, 3, no_prevote);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    fx_isolate(&f, 2);
    fx_propose(&f, 0, "a");
    fx_deliver_all(&f);
    fx_heal(&f);
    ASSERT_EQ(3, raft_last_index(f.nodes[1].r));
    ASSERT_EQ(2, raft_last_index(f.nodes[2].r));
    fx_crash(&f, 0);
    f.now += 2000;
    fx_step(&f, 2, &(struct raft_event){.type = RAFT_EV_CAMPAIGN});
    struct raft_msg m;
    fx_deliver(&f, 2, 1, RAFT_MSG_VOTE);
    ASSERT(fx_peek(&f, 1, 2, RAFT_MSG_VOTE_RESP, 0, &m));
    ASSERT(!m.vote_resp.granted);
    fx_deliver_all(&f);
    ASSERT(role(&f, 2) != RAFT_LEADER);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 1));
    fx_release(&f);
}

/* Figure 3.1: "If RPC request or response contains term T > currentTerm:
 * set currentTerm = T, convert to follower". */
TEST(election, higher_term_converts_leader_to_follower)
{
    struct fx f;
    fx_init(&f, 3, 3, no_prevote);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    /* node 2 stops hearing from the leader and, leaseless, campaigns */
    fx_isolate(&f, 1);
    f.now += 2000;
    fx_step(&f, 1, &(struct raft_event){.type = RAFT_EV_CAMPAIGN});
    fx_heal(&f);
    fx_deliver(&f, 1, 0, RAFT_MSG_VOTE); /* leaders ignore votes (lease) ... */
    ASSERT_EQ(RAFT_LEADER, role(&f, 0));
    /* ... but a response carrying a higher term deposes them */
    struct raft_msg hb = {.type = RAFT_MSG_HEARTBEAT_RESP, .from = 2, .to = 1, .term = 9};
    ASSERT_OK(fx_step(&f, 0, &(struct raft_event){.type = RAFT_EV_RECV, .recv = &hb}));
    ASSERT_EQ(RAFT_FOLLOWER, role(&f, 0));
    ASSERT_EQ(9, term(&f, 0));
    ASSERT_EQ(9, f.nodes[0].d_term); /* persisted */
    fx_release(&f);
}

/* §3.4: "If many followers become candidates at the same time, votes could
 * be split ... each candidate will time out and start a new election". */
TEST(election, split_vote_times_out_into_a_new_term)
{
    struct fx f;
    fx_init(&f, 4, 4, no_prevote);
    fx_step(&f, 0, &(struct raft_event){.type = RAFT_EV_CAMPAIGN});
    fx_step(&f, 1, &(struct raft_event){.type = RAFT_EV_CAMPAIGN});
    fx_deliver(&f, 0, 2, RAFT_MSG_VOTE);
    fx_deliver(&f, 1, 3, RAFT_MSG_VOTE);
    fx_deliver_all(&f);
    /* two votes each of four: neither wins, both learn they lost */
    ASSERT(role(&f, 0) != RAFT_LEADER && role(&f, 1) != RAFT_LEADER);
    ASSERT_EQ(2, term(&f, 0));
    ASSERT_EQ(2, term(&f, 1));
    for (int k = 0; k < 40 && fx_leader(&f) < 0; k++) {
        fx_advance(&f, 100);
        fx_deliver_all(&f);
    }
    int l = fx_leader(&f);
    ASSERT(l >= 0);
    ASSERT(term(&f, l) >= 3);
    fx_release(&f);
}

/* §3.8: the vote must be durable before the grant is sent. */
TEST(election, vote_is_durable_before_it_is_granted)
{
    struct fx f;
    fx_init(&f, 3, 3, no_prevote);
    f.nodes[1].auto_persist = false;
    fx_step(&f, 0, &(struct raft_event){.type = RAFT_EV_CAMPAIGN});
    fx_deliver(&f, 0, 1, RAFT_MSG_VOTE);
    ASSERT_EQ(0, fx_count(&f, 1, 0, RAFT_MSG_VOTE_RESP));
    ASSERT_EQ(0, f.nodes[1].d_vote);
    fx_persist(&f, 1);
    ASSERT_EQ(1, f.nodes[1].d_vote);
    ASSERT_EQ(1, fx_count(&f, 1, 0, RAFT_MSG_VOTE_RESP));
    fx_release(&f);
}

/* §3.8: a candidate's own term and vote are durable before it asks. */
TEST(election, candidate_asks_only_after_its_vote_is_durable)
{
    struct fx f;
    fx_init(&f, 3, 3, no_prevote);
    f.nodes[0].auto_persist = false;
    fx_step(&f, 0, &(struct raft_event){.type = RAFT_EV_CAMPAIGN});
    ASSERT_EQ(RAFT_CANDIDATE, role(&f, 0));
    ASSERT_EQ(0, fx_count(&f, 0, -1, RAFT_MSG_VOTE));
    fx_persist(&f, 0);
    ASSERT_EQ(2, fx_count(&f, 0, -1, RAFT_MSG_VOTE));
    fx_release(&f);
}

/* A single voter elects itself at once, after one write of its vote, and
 * commits as soon as its own log is durable (the dev agent's case). */
TEST(election, single_voter_is_leader_after_one_persist)
{
    struct fx f;
    fx_init(&f, 1, 1, NULL);
    ASSERT_EQ(RAFT_LEADER, role(&f, 0));
    ASSERT_EQ(2, term(&f, 0));
    ASSERT_EQ(2, raft_commit_index(f.nodes[0].r)); /* bootstrap + no-op */
    f.nodes[0].auto_persist = false;
    fx_propose(&f, 0, "x");
    ASSERT_EQ(2, raft_commit_index(f.nodes[0].r));
    fx_persist(&f, 0);
    ASSERT_EQ(3, raft_commit_index(f.nodes[0].r));
    ASSERT_EQ(3, f.nodes[0].applied_index);
    fx_release(&f);
}

TEST(election, single_voter_waits_for_its_vote_on_disk)
{
    struct raft_cfg c;
    raft_cfg_defaults(&c, 1, 1, 1);
    struct raft *r;
    ASSERT_OK(raft_new(&c, &r));
    struct raft_config conf = {.n = 1, .servers = {{1, RAFT_VOTER}}};
    ASSERT_OK(raft_bootstrap(r, &conf));
    struct raft_update u;
    ASSERT_OK(raft_step(r, 5, &(struct raft_event){.type = RAFT_EV_TICK}, &u));
    ASSERT_EQ(RAFT_CANDIDATE, raft_role(r));
    ASSERT(u.seq != 0 && u.hs_changed && u.vote == 1);
    uint64_t seq = u.seq;
    raft_done(r, &u);
    struct raft_event ev = {.type = RAFT_EV_PERSISTED};
    ev.persisted.seq = seq;
    ASSERT_OK(raft_step(r, 6, &ev, &u));
    ASSERT_EQ(RAFT_LEADER, raft_role(r));
    ASSERT_EQ(1, u.n_entries); /* the no-op, to persist */
    raft_done(r, &u);
    raft_free(r);
}

/* Figure 3.1: "Reply false if term < currentTerm". */
TEST(election, stale_term_requests_are_refused)
{
    struct fx f;
    fx_init(&f, 3, 3, no_prevote);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    struct raft_msg v = {.type = RAFT_MSG_VOTE, .from = 3, .to = 2, .term = 1};
    v.vote.last_index = 9;
    v.vote.last_term = 1;
    fx_step(&f, 1, &(struct raft_event){.type = RAFT_EV_RECV, .recv = &v});
    ASSERT_EQ(0, fx_count(&f, 1, 2, RAFT_MSG_VOTE_RESP));
    ASSERT_EQ(0, f.nodes[1].d_vote == 3);
    fx_release(&f);
}

/* §3.4: "If the leader's term is at least as large as the candidate's
 * current term, then the candidate recognizes the leader ... and returns
 * to follower state." */
TEST(election, candidate_yields_to_a_leader_of_its_term)
{
    struct fx f;
    fx_init(&f, 3, 3, no_prevote);
    fx_step(&f, 0, &(struct raft_event){.type = RAFT_EV_CAMPAIGN});
    fx_step(&f, 1, &(struct raft_event){.type = RAFT_EV_CAMPAIGN});
    fx_deliver(&f, 0, 2, -1);
    fx_deliver(&f, 2, 0, -1);
    ASSERT_EQ(RAFT_LEADER, role(&f, 0));
    ASSERT_EQ(RAFT_CANDIDATE, role(&f, 1));
    fx_drop(&f, 1, -1, -1);
    fx_deliver(&f, 0, 1, RAFT_MSG_APPEND);
    ASSERT_EQ(RAFT_FOLLOWER, role(&f, 1));
    ASSERT_EQ(1, raft_leader(f.nodes[1].r));
    fx_release(&f);
}

/* §9.6: "a server first ... asks whether it could win; the pre-vote does
 * not increment anyone's term". */
TEST(prevote, does_not_change_terms)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    fx_isolate(&f, 2);
    for (int k = 0; k < 10; k++) {
        fx_advance(&f, 400);
        fx_deliver_all(&f);
    }
    ASSERT_EQ(2, term(&f, 2)); /* it campaigned, but only in pre-votes */
    ASSERT(role(&f, 2) == RAFT_PRECANDIDATE || role(&f, 2) == RAFT_FOLLOWER);
    fx_heal(&f);
    for (int k = 0; k < 5; k++) {
        fx_advance(&f, 50);
        fx_deliver_all(&f);
    }
    /* The partitioned node rejoins without deposing the healthy leader. */
    ASSERT_EQ(RAFT_LEADER, role(&f, 0));
    ASSERT_EQ(2, term(&f, 0));
    ASSERT_EQ(RAFT_FOLLOWER, role(&f, 2));
    fx_release(&f);
}

/* Without pre-vote the same rejoin would have bumped terms: the contrast
 * shows what pre-vote buys (the leader survives thanks to the lease rule). */
TEST(prevote, without_it_a_rejoining_node_inflates_its_term)
{
    struct fx f;
    fx_init(&f, 3, 3, no_prevote);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    fx_isolate(&f, 2);
    for (int k = 0; k < 10; k++) {
        fx_advance(&f, 400);
        fx_deliver_all(&f);
    }
    ASSERT(term(&f, 2) > 3);
    fx_release(&f);
}

TEST(prevote, denied_to_a_log_that_is_behind)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    fx_isolate(&f, 2);
    fx_propose(&f, 0, "a");
    fx_deliver_all(&f);
    fx_crash(&f, 0);
    fx_heal(&f);
    f.now += 2000;
    fx_step(&f, 2, &(struct raft_event){.type = RAFT_EV_CAMPAIGN});
    fx_deliver(&f, 2, 1, RAFT_MSG_PREVOTE);
    struct raft_msg m;
    ASSERT(fx_peek(&f, 1, 2, RAFT_MSG_PREVOTE_RESP, 0, &m));
    ASSERT(!m.vote_resp.granted);
    fx_release(&f);
}

/* §6.2: "a leader steps down if an election timeout elapses without a
 * successful round of heartbeats to a majority of its cluster". */
TEST(checkquorum, leader_without_quorum_steps_down)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    fx_isolate(&f, 0);
    for (int k = 0; k < 6; k++) {
        fx_advance(&f, 100);
        fx_deliver_all(&f);
    }
    ASSERT_EQ(RAFT_FOLLOWER, role(&f, 0));
    ASSERT_EQ(0, raft_leader(f.nodes[0].r));
    fx_release(&f);
}

TEST(checkquorum, leader_with_quorum_stays)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    fx_crash(&f, 2);
    for (int k = 0; k < 40; k++) {
        fx_advance(&f, 50);
        fx_deliver_all(&f);
    }
    ASSERT_EQ(RAFT_LEADER, role(&f, 0));
    fx_release(&f);
}

/* The voter's lease (§4.2.3, §6.4.1): a server that heard from the leader
 * within the minimum election timeout ignores vote requests. */
TEST(lease, follower_ignores_votes_while_the_leader_is_alive)
{
    struct fx f;
    fx_init(&f, 3, 3, no_prevote);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    struct raft_msg v = {.type = RAFT_MSG_VOTE, .from = 3, .to = 2, .term = 7};
    v.vote.last_index = 100;
    v.vote.last_term = 5;
    fx_step(&f, 1, &(struct raft_event){.type = RAFT_EV_RECV, .recv = &v});
    ASSERT_EQ(2, term(&f, 1)); /* not even the term moved */
    ASSERT_EQ(0, fx_count(&f, 1, 2, -1));
    f.now += 600; /* the leader went quiet for longer than E */
    fx_step(&f, 1, &(struct raft_event){.type = RAFT_EV_RECV, .recv = &v});
    ASSERT_EQ(7, term(&f, 1));
    ASSERT_EQ(1, fx_count(&f, 1, 2, RAFT_MSG_VOTE_RESP));
    fx_release(&f);
}

TEST(lease, transfer_votes_override_the_lease)
{
    struct fx f;
    fx_init(&f, 3, 3, no_prevote);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    struct raft_msg v = {.type = RAFT_MSG_VOTE, .from = 3, .to = 2, .term = 3};
    v.vote.last_index = 100;
    v.vote.last_term = 2;
    v.vote.transfer = true;
    fx_step(&f, 1, &(struct raft_event){.type = RAFT_EV_RECV, .recv = &v});
    ASSERT_EQ(3, term(&f, 1));
    ASSERT_EQ(3, f.nodes[1].d_vote);
    fx_release(&f);
}

/* A restarted server may have acknowledged a leader just before it went
 * down: it refuses votes for one election timeout after starting. */
TEST(lease, restarted_server_blocks_votes_for_one_timeout)
{
    struct fx f;
    fx_init(&f, 3, 3, no_prevote);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    fx_crash(&f, 1);
    fx_restart(&f, 1);
    struct raft_msg v = {.type = RAFT_MSG_VOTE, .from = 3, .to = 2, .term = 5};
    v.vote.last_index = 100;
    v.vote.last_term = 2;
    fx_step(&f, 1, &(struct raft_event){.type = RAFT_EV_RECV, .recv = &v});
    ASSERT_EQ(0, fx_count(&f, 1, 2, -1));
    f.now += 501;
    fx_step(&f, 1, &(struct raft_event){.type = RAFT_EV_RECV, .recv = &v});
    ASSERT_EQ(1, fx_count(&f, 1, 2, RAFT_MSG_VOTE_RESP));
    fx_release(&f);
}

/* Learners never campaign. */
TEST(election, learner_never_campaigns)
{
    struct fx f;
    fx_init(&f, 2, 1, NULL);
    ASSERT_EQ(RAFT_LEADER, role(&f, 0));
    ASSERT_OK(fx_change(&f, 0, RAFT_ADD_LEARNER, 2));
    fx_deliver_all(&f);
    fx_crash(&f, 0);
    for (int k = 0; k < 20; k++)
        fx_advance(&f, 200);
    ASSERT_EQ(RAFT_FOLLOWER, role(&f, 1));
    ASSERT_EQ(0, fx_count(&f, 1, -1, -1));
    fx_release(&f);
}

/* Only voters of the configuration count, however many others answer. */
TEST(election, votes_from_non_members_do_not_count)
{
    struct fx f;
    fx_init(&f, 3, 3, no_prevote);
    fx_step(&f, 0, &(struct raft_event){.type = RAFT_EV_CAMPAIGN});
    for (raft_id id = 4; id < 100; id++) {
        struct raft_msg v = {.type = RAFT_MSG_VOTE_RESP, .from = id, .to = 1, .term = 2};
        v.vote_resp.granted = true;
        fx_step(&f, 0, &(struct raft_event){.type = RAFT_EV_RECV, .recv = &v});
    }
    ASSERT_EQ(RAFT_CANDIDATE, role(&f, 0));
    fx_deliver_all(&f);
    ASSERT_EQ(RAFT_LEADER, role(&f, 0));
    fx_release(&f);
}
