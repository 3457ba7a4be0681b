/* Log replication (§3.5), the commit rule (§3.6.2), pipelining and flow
 * control (§10.2), and the persistence contract. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "lib/cn_err.h"
#include "test.h"

static void small_msgs(struct raft_cfg *c)
{
    c->max_msg_entries = 1;
}

static void settle(struct fx *f)
{
    fx_deliver_all(f);
}

static const struct raft_entry *entry(struct fx *f, int i, raft_index idx)
{
    return raft_entry_at(f->nodes[i].r, idx);
}

/* §3.6.2 / §6.4: "each leader commits a blank no-op entry at the start of
 * its term". */
TEST(replicate, leader_appends_a_noop_on_election)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    const struct raft_entry *e = entry(&f, 0, 2);
    ASSERT(e != NULL);
    ASSERT_EQ(RAFT_ENTRY_NOOP, e->type);
    ASSERT_EQ(2, e->term);
    ASSERT_EQ(2, raft_commit_index(f.nodes[0].r));
    fx_release(&f);
}

/* §3.5: the leader appends the command, replicates it, and once it is
 * committed every server applies it in log order. */
TEST(replicate, entries_commit_and_apply_everywhere_in_order)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    char buf[16];
    for (int k = 0; k < 20; k++) {
        snprintf(buf, sizeof buf, "cmd%d", k);
        ASSERT_OK(fx_propose(&f, 0, buf));
    }
    settle(&f);
    fx_advance(&f, 60); /* a heartbeat carries the commit index */
    settle(&f);
    for (int i = 0; i < 3; i++) {
        struct fx_node *n = &f.nodes[i];
        ASSERT_EQ(22, n->applied_index);
        ASSERT_EQ(22, n->n_applied);
        for (int k = 0; k < 20; k++) {
            snprintf(buf, sizeof buf, "cmd%d", k);
            ASSERT_STR_EQ(buf, n->applied[k + 2].data);
        }
    }
    fx_release(&f);
}

/* Figure 3.1 AppendEntries: "Reply false if log doesn't contain an entry at
 * prevLogIndex whose term matches prevLogTerm". */
TEST(replicate, follower_rejects_a_mismatched_prev_entry)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    struct raft_msg m = {.type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 2};
    m.append.prev_index = 7;
    m.append.prev_term = 2;
    fx_step(&f, 1, &(struct raft_event){.type = RAFT_EV_RECV, .recv = &m});
    struct raft_msg r;
    ASSERT(fx_peek(&f, 1, 0, RAFT_MSG_APPEND_RESP, 0, &r));
    ASSERT(r.append_resp.reject);
    ASSERT_EQ(7, r.append_resp.index);
    ASSERT_EQ(2, r.append_resp.hint_index); /* its last entry */
    ASSERT_EQ(2, r.append_resp.hint_term);
    fx_release(&f);
}

/* Figure 3.1: "If an existing entry conflicts with a new one (same index
 * but different terms), delete the existing entry and all that follow". */
TEST(replicate, conflicting_suffix_is_replaced)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    fx_isolate(&f, 0);
    for (int k = 0; k < 5; k++)
        fx_propose(&f, 0, "lost");
    fx_drop(&f, -1, -1, -1);
    ASSERT_EQ(7, raft_last_index(f.nodes[0].r));
    fx_heal(&f);
    fx_isolate(&f, 0);
    f.now += 2000;
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 1));
    fx_propose(&f, 1, "kept");
    settle(&f);
    fx_heal(&f);
    for (int k = 0; k < 4; k++) {
        fx_advance(&f, 60);
        settle(&f);
    }
    ASSERT_EQ(RAFT_FOLLOWER, raft_role(f.nodes[0].r));
    ASSERT_EQ(4, raft_last_index(f.nodes[0].r));
    ASSERT_EQ(3, entry(&f, 0, 3)->term);
    ASSERT_EQ(0, memcmp(entry(&f, 0, 4)->data, "kept", 4));
    ASSERT_EQ(4, f.nodes[0].d_n); /* storage replaced them too */
    fx_release(&f);
}

/* Fast backtracking: a follower whose divergent suffix spans many entries of
 * one term is brought back in a couple of round trips, not one per entry. */
TEST(replicate, backtracking_skips_whole_terms)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    fx_isolate(&f, 0);
    for (int k = 0; k < 200; k++)
        fx_propose(&f, 0, "stale");
    fx_drop(&f, -1, -1, -1);
    fx_heal(&f);
    fx_isolate(&f, 0);
    f.now += 2000;
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 1));
    for (int k = 0; k < 50; k++)
        fx_propose(&f, 1, "fresh");
    settle(&f);
    fx_heal(&f);
    fx_crash(&f, 2); /* only node 1 and node 0 talk now */
    int rejects = 0;
    for (int k = 0; k < 20 && raft_last_index(f.nodes[0].r) != 53; k++) {
        fx_advance(&f, 60);
        while (f.nq) {
            struct raft_msg m;
            if (fx_peek(&f, -1, -1, -1, 0, &m) && m.type == RAFT_MSG_APPEND_RESP && m.from == 1 &&
                m.append_resp.reject && m.append_resp.hint_index)
                rejects++;
            raft_msg_release(&m);
            fx_deliver_one(&f);
        }
    }
    ASSERT_EQ(53, raft_last_index(f.nodes[0].r));
    ASSERT(rejects <= 3);
    fx_release(&f);
}

/* §10.2.1: many proposals travel in one AppendEntries. */
TEST(replicate, proposals_are_batched_into_few_messages)
{
    struct fx f;
    fx_init(&f, 2, 2, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    struct raft_proposal p[100];
    for (int k = 0; k < 100; k++)
        p[k] = (struct raft_proposal){(const uint8_t *)"v", 1, NULL};
    struct raft_event ev = {.type = RAFT_EV_PROPOSE};
    ev.propose.items = p;
    ev.propose.n = 100;
    ASSERT_OK(fx_step(&f, 0, &ev));
    ASSERT_EQ(1, fx_count(&f, 0, 1, RAFT_MSG_APPEND));
    struct raft_msg m;
    ASSERT(fx_peek(&f, 0, 1, RAFT_MSG_APPEND, 0, &m));
    ASSERT_EQ(100, m.append.n_entries);
    raft_msg_release(&m);
    settle(&f);
    ASSERT_EQ(102, raft_commit_index(f.nodes[0].r));
    fx_release(&f);
}

static void tiny_window(struct raft_cfg *c)
{
    c->max_msg_entries = 1;
    c->max_inflight = 4;
}

/* §10.2.2 pipelining with a bound: at most max_inflight messages wait for
 * acknowledgement, then the leader holds back. */
TEST(replicate, pipeline_stops_at_the_inflight_window)
{
    struct fx f;
    fx_init(&f, 2, 2, tiny_window);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    for (int k = 0; k < 10; k++)
        fx_propose(&f, 0, "x");
    ASSERT_EQ(4, fx_count(&f, 0, 1, RAFT_MSG_APPEND));
    fx_deliver(&f, 0, 1, RAFT_MSG_APPEND);
    fx_deliver(&f, 1, 0, RAFT_MSG_APPEND_RESP); /* frees the window */
    ASSERT_EQ(4, fx_count(&f, 0, 1, RAFT_MSG_APPEND));
    settle(&f);
    ASSERT_EQ(12, raft_commit_index(f.nodes[0].r));
    fx_release(&f);
}

static void byte_cap(struct raft_cfg *c)
{
    c->max_msg_bytes = 10;
}

TEST(replicate, byte_cap_splits_messages)
{
    struct fx f;
    fx_init(&f, 2, 2, byte_cap);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    for (int k = 0; k < 6; k++)
        fx_propose(&f, 0, "abcd"); /* 4 bytes each */
    settle(&f);
    ASSERT_EQ(8, raft_commit_index(f.nodes[0].r));
    /* one oversized entry still goes, alone */
    fx_propose(&f, 0, "this entry is longer than the cap");
    struct raft_msg m;
    ASSERT(fx_peek(&f, 0, 1, RAFT_MSG_APPEND, 0, &m));
    ASSERT_EQ(1, m.append.n_entries);
    raft_msg_release(&m);
    settle(&f);
    ASSERT_EQ(9, raft_commit_index(f.nodes[0].r));
    fx_release(&f);
}

/* A lost message stalls the pipeline; after retransmit_ms the leader
 * resumes from what the follower holds. */
TEST(replicate, lost_append_is_retransmitted)
{
    struct fx f;
    fx_init(&f, 2, 2, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    fx_propose(&f, 0, "lost");
    ASSERT_EQ(1, fx_drop(&f, 0, 1, RAFT_MSG_APPEND));
    fx_advance(&f, 60); /* heartbeat: the follower still has nothing new */
    settle(&f);
    ASSERT_EQ(2, raft_commit_index(f.nodes[0].r));
    fx_advance(&f, 60);
    settle(&f);
    fx_advance(&f, 60);
    settle(&f);
    ASSERT_EQ(3, raft_commit_index(f.nodes[0].r));
    fx_release(&f);
}

/* Persistence contract: a follower acknowledges only durable entries. */
TEST(persist, follower_acks_only_durable_entries)
{
    struct fx f;
    fx_init(&f, 2, 2, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    f.nodes[1].auto_persist = false;
    fx_propose(&f, 0, "x");
    fx_deliver(&f, 0, 1, RAFT_MSG_APPEND);
    ASSERT_EQ(0, fx_count(&f, 1, 0, RAFT_MSG_APPEND_RESP));
    fx_persist(&f, 1);
    ASSERT_EQ(1, fx_count(&f, 1, 0, RAFT_MSG_APPEND_RESP));
    struct raft_msg m;
    ASSERT(fx_peek(&f, 1, 0, RAFT_MSG_APPEND_RESP, 0, &m));
    ASSERT(!m.append_resp.reject);
    ASSERT_EQ(3, m.append_resp.index);
    settle(&f);
    ASSERT_EQ(3, raft_commit_index(f.nodes[0].r));
    fx_release(&f);
}

/* §10.2.1: the leader sends entries before they are durable locally, but
 * counts itself only once they are. */
TEST(persist, leader_sends_early_and_counts_itself_late)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    fx_crash(&f, 2);
    f.nodes[0].auto_persist = false;
    fx_propose(&f, 0, "x");
    ASSERT_EQ(1, fx_count(&f, 0, 1, RAFT_MSG_APPEND)); /* out before the write */
    settle(&f);
    ASSERT_EQ(2, raft_commit_index(f.nodes[0].r)); /* 1 of 2 needed is durable */
    fx_persist(&f, 0);
    ASSERT_EQ(3, raft_commit_index(f.nodes[0].r));
    fx_release(&f);
}

/* With two followers durable, the leader commits without its own write
 * (a quorum of durable copies exists elsewhere). */
TEST(persist, quorum_of_followers_commits_without_the_leader)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    f.nodes[0].auto_persist = false;
    fx_propose(&f, 0, "x");
    settle(&f);
    ASSERT_EQ(3, raft_commit_index(f.nodes[0].r));
    fx_release(&f);
}

/* Group commit: one PERSISTED event covers every earlier update. */
TEST(persist, one_event_covers_all_earlier_updates)
{
    struct fx f;
    fx_init(&f, 1, 1, NULL);
    f.nodes[0].auto_persist = false;
    for (int k = 0; k < 5; k++)
        fx_propose(&f, 0, "x");
    ASSERT_EQ(5, f.nodes[0].n_pend);
    ASSERT_EQ(2, raft_commit_index(f.nodes[0].r));
    fx_persist(&f, 0);
    ASSERT_EQ(7, raft_commit_index(f.nodes[0].r));
    fx_release(&f);
}

/* A truncation makes the durable prefix shrink until the new entries are
 * written: an acknowledgement never covers replaced entries. */
TEST(persist, truncation_shrinks_the_durable_prefix)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    fx_isolate(&f, 0);
    for (int k = 0; k < 3; k++)
        fx_propose(&f, 0, "old");
    fx_drop(&f, -1, -1, -1);
    fx_heal(&f);
    fx_isolate(&f, 0);
    f.now += 2000;
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 1));
    fx_heal(&f);
    ASSERT_EQ(5, raft_persisted_index(f.nodes[0].r));
    f.nodes[0].auto_persist = false;
    for (int k = 0; k < 4; k++) {
        fx_advance(&f, 60);
        settle(&f);
    }
    ASSERT_EQ(3, raft_last_index(f.nodes[0].r));
    ASSERT_EQ(2, raft_persisted_index(f.nodes[0].r));
    fx_persist(&f, 0);
    ASSERT_EQ(3, raft_persisted_index(f.nodes[0].r));
    fx_release(&f);
}

/* Duplicated and reordered AppendEntries are harmless: a stale message
 * never truncates entries that match. */
TEST(replicate, reordered_appends_do_not_truncate)
{
    struct fx f;
    fx_init(&f, 2, 2, small_msgs);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    for (int k = 0; k < 5; k++)
        fx_propose(&f, 0, "x");
    size_t n = fx_count(&f, 0, 1, RAFT_MSG_APPEND);
    ASSERT(n >= 5);
    /* deliver newest first */
    while (fx_count(&f, 0, 1, RAFT_MSG_APPEND)) {
        size_t last = f.nq - 1;
        while (f.q[last].type != RAFT_MSG_APPEND)
            last--;
        struct fx_msg m = f.q[last];
        memmove(f.q + 1, f.q, last * sizeof *f.q);
        f.q[0] = m;
        fx_deliver_one(&f);
    }
    settle(&f);
    fx_advance(&f, 300);
    settle(&f);
    ASSERT_EQ(7, raft_last_index(f.nodes[1].r));
    ASSERT_EQ(7, raft_commit_index(f.nodes[0].r));
    fx_release(&f);
}

/* §3.6.2, Figure 3.7: "Raft never commits log entries from previous terms
 * by counting replicas." S1 re-elected in term 4 replicates its term-2
 * entry to a majority; it is not committed until the term-4 no-op is, so
 * S5 (holding a term-3 entry there) may still win and overwrite it safely. */
TEST(commit, prior_term_entries_are_not_committed_by_counting)
{
    struct fx f;
    fx_init(&f, 5, 5, small_msgs);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0)); /* term 2 */
    fx_propose(&f, 0, "x");                  /* (3, t2) */
    fx_deliver(&f, 0, 1, RAFT_MSG_APPEND);   /* only S2 gets it */
    fx_drop(&f, 0, -1, -1);
    settle(&f);
    fx_crash(&f, 0);
    f.now += 1100;
    fx_step(&f, 4, &(struct raft_event){.type = RAFT_EV_CAMPAIGN}); /* S5, votes of S3 S4 */
    fx_drop(&f, 4, 1, -1);
    while (f.nq && raft_role(f.nodes[4].r) != RAFT_LEADER) {
        fx_drop(&f, 4, 1, -1);
        fx_deliver_one(&f);
    }
    ASSERT_EQ(RAFT_LEADER, raft_role(f.nodes[4].r)); /* term 3, (3, t3) local */
    fx_crash(&f, 4);
    fx_drop(&f, -1, -1, -1);
    fx_restart(&f, 0);
    f.now += 1100;
    for (int k = 0; k < 2 && raft_role(f.nodes[0].r) != RAFT_LEADER; k++) {
        fx_step(&f, 0, &(struct raft_event){.type = RAFT_EV_CAMPAIGN});
        while (f.nq) {
            struct raft_msg m;
            fx_peek(&f, -1, -1, -1, 0, &m);
            /* S4 and S5 hear nothing; S3 gets (3, t2) but not (4, t4) */
            bool hold = m.to == 4 || m.to == 5 ||
                        (m.type == RAFT_MSG_APPEND && m.to == 3 && m.append.prev_index >= 3 &&
                         raft_last_index(f.nodes[2].r) >= 3);
            raft_msg_release(&m);
            if (hold) {
                free(f.q[0].bytes);
                memmove(f.q, f.q + 1, (f.nq - 1) * sizeof *f.q);
                f.nq--;
            } else {
                fx_deliver_one(&f);
            }
        }
    }
    ASSERT_EQ(RAFT_LEADER, raft_role(f.nodes[0].r)); /* term 4 */
    ASSERT_EQ(3, raft_last_index(f.nodes[2].r));     /* majority holds (3, t2) */
    ASSERT_EQ(0, raft_commit_index(f.nodes[0].r));   /* but it is not committed */
    fx_crash(&f, 0);
    fx_drop(&f, -1, -1, -1);
    fx_restart(&f, 4);
    f.now += 1100;
    for (int k = 0; k < 2; k++) {
        fx_step(&f, 4, &(struct raft_event){.type = RAFT_EV_CAMPAIGN});
        settle(&f);
    }
    ASSERT_EQ(RAFT_LEADER, raft_role(f.nodes[4].r));
    fx_advance(&f, 60);
    settle(&f);
    ASSERT_EQ(3, f.nodes[2].applied[2].term); /* (3, t3) won, and nothing else was applied */
    fx_release(&f);
}

/* Followers learn the commit index from heartbeats, capped by what the
 * leader knows they hold. */
TEST(commit, followers_learn_commit_from_heartbeats)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    fx_propose(&f, 0, "x");
    settle(&f);
    ASSERT_EQ(3, raft_commit_index(f.nodes[0].r));
    ASSERT_EQ(2, raft_commit_index(f.nodes[1].r));
    fx_advance(&f, 60);
    struct raft_msg m;
    ASSERT(fx_peek(&f, 0, 1, RAFT_MSG_HEARTBEAT, 0, &m));
    ASSERT_EQ(3, m.hb.commit);
    settle(&f);
    ASSERT_EQ(3, raft_commit_index(f.nodes[1].r));
    ASSERT_EQ(3, f.nodes[1].applied_index);
    fx_release(&f);
}

TEST(commit, heartbeat_commit_is_capped_by_the_followers_match)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    fx_isolate(&f, 2);
    fx_propose(&f, 0, "x");
    settle(&f);
    fx_heal(&f);
    fx_drop(&f, -1, -1, -1);
    fx_advance(&f, 60);
    struct raft_msg m;
    ASSERT(fx_peek(&f, 0, 2, RAFT_MSG_HEARTBEAT, 0, &m));
    ASSERT_EQ(2, m.hb.commit);
    fx_release(&f);
}

/* Proposals to a follower are refused; too much uncommitted data pushes
 * back with CN_EAGAIN. */
TEST(replicate, propose_refusals)
{
    struct fx f;
    fx_init(&f, 3, 3, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    ASSERT_EQ(CN_ENOTLEADER, fx_propose(&f, 1, "x"));
    fx_release(&f);
}

static void small_uncommitted(struct raft_cfg *c)
{
    c->max_uncommitted_bytes = 16;
}

TEST(replicate, uncommitted_bytes_apply_backpressure)
{
    struct fx f;
    fx_init(&f, 3, 3, small_uncommitted);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    fx_isolate(&f, 0);
    ASSERT_OK(fx_propose(&f, 0, "0123456789"));
    ASSERT_EQ(CN_EAGAIN, fx_propose(&f, 0, "0123456789"));
    fx_heal(&f);
    settle(&f);
    fx_advance(&f, 300);
    settle(&f);
    ASSERT_OK(fx_propose(&f, 0, "0123456789"));
    fx_release(&f);
}

/* The core takes its own references: a proposal's buffer may be dropped by
 * the caller at once, and a decoded frame's entries live on without copies. */
TEST(replicate, payload_buffers_are_shared_not_copied)
{
    struct fx f;
    fx_init(&f, 2, 2, NULL);
    ASSERT_EQ(RAFT_LEADER, fx_elect(&f, 0));
    struct raft_buf *b = raft_buf_copy("payload", 7);
    struct raft_proposal p = {b->data, 7, b};
    struct raft_event ev = {.type = RAFT_EV_PROPOSE};
    ev.propose.items = &p;
    ev.propose.n = 1;
    ASSERT_OK(fx_step(&f, 0, &ev));
    const struct raft_entry *e = entry(&f, 0, 3);
    ASSERT(e->buf == b);
    ASSERT(e->data == b->data);
    raft_buf_unref(b);
    settle(&f);
    ASSERT_EQ(0, memcmp(entry(&f, 1, 3)->data, "payload", 7));
    ASSERT_EQ(0, memcmp(entry(&f, 0, 3)->data, "payload", 7));
    fx_release(&f);
}
