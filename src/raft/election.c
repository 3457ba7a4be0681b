/* election.c - timers, pre-vote, votes and role changes (dissertation ch. 3,
 * §9.6 pre-vote, §6.2 check-quorum), and the voter's half of the lease. */
#include <string.h>

#include "raft/raft_int.h"

bool raft__is_voter(const struct raft *r)
{
    return raft_config_is_voter(raft__conf(r), r->id);
}

bool raft__sole_voter(const struct raft *r)
{
    const struct raft_config *c = raft__conf(r);
    return raft_config_voters(c) == 1 && raft_config_is_voter(c, r->id);
}

/* §3.4: a random timeout in [E, 2E) makes split votes rare. */
void raft__reset_election_timer(struct raft *r)
{
    uint64_t e = r->cfg.election_ms;
    r->election_deadline = r->now + e + cn_rand_below(&r->cfg.rand, e);
}

static void set_role(struct raft *r, int role, raft_id leader)
{
    if (r->role != role || r->leader != leader) r->state_changed = true;
    r->role = role;
    r->leader = leader;
}

void raft__become_follower(struct raft *r, raft_term term, raft_id leader)
{
    bool was_leader = r->role == RAFT_LEADER;
    if (term > r->term) {
        raft__set_hs(r, term, 0);
        r->leader_match = 0;
        r->ack_sent = 0;
    }
    set_role(r, RAFT_FOLLOWER, leader);
    raft__reset_election_timer(r);
    if (was_leader) {
        raft__reads_fail(r, CN_ENOTLEADER);
        r->transfer_target = 0;
        r->uncommitted_bytes = 0;
        r->step_down_on_commit = false;
        r->n_prs = 0;
        RAFT_TRACE(r, "stepped down");
    }
}

static void send_votes(struct raft *r, bool pre)
{
    const struct raft_config *c = raft__conf(r);
    for (uint32_t i = 0; i < c->n; i++) {
        const struct raft_server *s = &c->servers[i];
        if (s->id == r->id || s->role != RAFT_VOTER) continue;
        struct raft_msg m = {.type = pre ? RAFT_MSG_PREVOTE : RAFT_MSG_VOTE,
                             .from = r->id,
                             .to = s->id,
                             .term = pre ? r->term + 1 : r->term};
        m.vote.last_index = raft__log_last(&r->log);
        m.vote.last_term = raft__log_last_term(&r->log);
        m.vote.transfer = r->transfer_campaign;
        if (pre) {
            *raft__msg_new(r, m.type, m.to) = m;
        } else {
            /* §3.8: our own vote must be durable before we ask for others'. */
            raft__msg_defer(r, &m, r->hs_seq);
        }
    }
}

static void tally(struct raft *r);

void raft__campaign(struct raft *r, bool pre, bool transfer)
{
    if (!raft__is_voter(r) || r->role == RAFT_LEADER) return;
    r->n_granted = r->n_denied = 0;
    r->transfer_campaign = transfer;
    raft__reset_election_timer(r);
    if (pre) {
        set_role(r, RAFT_PRECANDIDATE, 0);
        r->granted[r->n_granted++] = r->id;
        RAFT_TRACE(r, "pre-vote for term %llu", (unsigned long long)(r->term + 1));
        send_votes(r, true);
        tally(r);
        return;
    }
    raft__set_hs(r, r->term + 1, r->id);
    r->leader_match = 0;
    r->ack_sent = 0;
    set_role(r, RAFT_CANDIDATE, 0);
    r->self_vote_counted = false;
    RAFT_TRACE(r, "campaign%s", transfer ? " (transfer)" : "");
    send_votes(r, false);
    if (r->hs_seq <= r->seq_durable) raft__self_vote_durable(r);
}

void raft__self_vote_durable(struct raft *r)
{
    r->self_vote_counted = true;
    r->granted[r->n_granted++] = r->id;
    tally(r);
}

static bool listed(const raft_id *ids, uint32_t n, raft_id id)
{
    for (uint32_t i = 0; i < n; i++)
        if (ids[i] == id) return true;
    return false;
}

/* Count the votes of the current voters; win, lose, or keep waiting. */
static void tally(struct raft *r)
{
    const struct raft_config *c = raft__conf(r);
    uint32_t voters = raft_config_voters(c), yes = 0, no = 0;
    for (uint32_t i = 0; i < r->n_granted; i++)
        yes += raft_config_is_voter(c, r->granted[i]);
    for (uint32_t i = 0; i < r->n_denied; i++)
        no += raft_config_is_voter(c, r->denied[i]);
    uint32_t q = raft__quorum(voters);
    if (yes >= q) {
        if (r->role == RAFT_PRECANDIDATE)
            raft__campaign(r, false, r->transfer_campaign);
        else
            raft__become_leader(r);
    } else if (voters - no < q) {
        RAFT_TRACE(r, "lost the election");
        raft__become_follower(r, r->term, 0);
    }
}

static void record_vote(struct raft *r, raft_id from, bool granted)
{
    /* Only voters count; this also bounds the arrays by RAFT_SERVERS_MAX. */
    if (!raft_config_is_voter(raft__conf(r), from) || from == r->id) return;
    if (listed(r->granted, r->n_granted, from) || listed(r->denied, r->n_denied, from)) return;
    CN_ASSERT(r->n_granted + r->n_denied < RAFT_SERVERS_MAX);
    if (granted)
        r->granted[r->n_granted++] = from;
    else
        r->denied[r->n_denied++] = from;
    tally(r);
}

void raft__become_leader(struct raft *r)
{
    set_role(r, RAFT_LEADER, r->id);
    RAFT_TRACE(r, "became leader at last=%llu", (unsigned long long)raft__log_last(&r->log));
    r->transfer_target = 0;
    r->step_down_on_commit = false;
    r->uncommitted_bytes = 0;
    raft__pr_reset_all(r);
    /* §6.4 and §3.6.2: a no-op of the new term lets the leader learn what is
     * committed and serve reads. */
    r->noop_index = raft__log_last(&r->log) + 1;
    raft__append_local(r, RAFT_ENTRY_NOOP, NULL, NULL, 0);
    raft__broadcast_heartbeat(r);
    r->broadcast_wanted = true;
    raft__maybe_commit(r);
}

/* The voter's half of the lease (§6.4.1, and §4.2.3's disruption rule):
 * while we believe a leader is alive we neither vote nor pre-vote for
 * anyone else, so a leader whose heartbeat a quorum acknowledged at t cannot
 * be replaced before t + election_ms. */
static bool in_lease(const struct raft *r)
{
    if (r->role == RAFT_LEADER) return true;
    if (r->now < r->vote_block_until) return true;
    return r->leader != 0 && r->have_contact &&
           r->now - r->last_leader_contact < r->cfg.election_ms;
}

static bool log_ok(const struct raft *r, const struct raft_msg *m)
{
    raft_term lt = raft__log_last_term(&r->log);
    return m->vote.last_term > lt ||
           (m->vote.last_term == lt && m->vote.last_index >= raft__log_last(&r->log));
}

static void reply_vote(struct raft *r, const struct raft_msg *m, bool granted, raft_term term)
{
    struct raft_msg *out = raft__msg_new(
        r, m->type == RAFT_MSG_PREVOTE ? RAFT_MSG_PREVOTE_RESP : RAFT_MSG_VOTE_RESP, m->from);
    out->term = term;
    out->vote_resp.granted = granted;
}

static void recv_vote(struct raft *r, const struct raft_msg *m)
{
    bool can = r->vote == m->from || (r->vote == 0 && r->leader == 0);
    if (!can || !log_ok(r, m)) {
        reply_vote(r, m, false, r->term);
        return;
    }
    raft__set_hs(r, r->term, m->from);
    raft__reset_election_timer(r);
    RAFT_TRACE(r, "vote for %llu", (unsigned long long)m->from);
    struct raft_msg out = {
        .type = RAFT_MSG_VOTE_RESP, .from = r->id, .to = m->from, .term = r->term};
    out.vote_resp.granted = true;
    raft__msg_defer(r, &out, r->hs_seq);
}

static void recv_prevote(struct raft *r, const struct raft_msg *m)
{
    /* §9.6: grant if the candidate could win, without changing our state. */
    if (m->term > r->term && log_ok(r, m))
        reply_vote(r, m, true, m->term);
    else
        reply_vote(r, m, false, r->term);
}

static bool from_leader_type(int type)
{
    return type == RAFT_MSG_APPEND || type == RAFT_MSG_HEARTBEAT || type == RAFT_MSG_SNAPSHOT;
}

/* Terms first (Figure 3.1 "Rules for all servers"), then the message. */
static bool check_term(struct raft *r, const struct raft_msg *m)
{
    bool vote_req = m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PREVOTE;
    if (m->term > r->term) {
        if (vote_req && !m->vote.transfer && in_lease(r)) {
            RAFT_TRACE(r, "ignore %s from %llu: leader lease", raft_msg_type_name(m->type),
                       (unsigned long long)m->from);
            return false;
        }
        if (m->type == RAFT_MSG_PREVOTE) return true;
        if (m->type == RAFT_MSG_PREVOTE_RESP && m->vote_resp.granted) return true;
        raft__become_follower(r, m->term, from_leader_type(m->type) ? m->from : 0);
        return true;
    }
    if (m->term < r->term) {
        /* A deposed leader learns our term from the reply and steps down;
         * without this, pre-vote could leave it stranded (etcd's rule). */
        if (from_leader_type(m->type)) {
            struct raft_msg *out = raft__msg_new(r, RAFT_MSG_APPEND_RESP, m->from);
            out->append_resp.reject = true;
        } else if (m->type == RAFT_MSG_PREVOTE) {
            reply_vote(r, m, false, r->term);
        }
        return false;
    }
    return true;
}

int raft__recv(struct raft *r, const struct raft_msg *m)
{
    if (!check_term(r, m)) return 0;
    if (from_leader_type(m->type) && (r->role != RAFT_FOLLOWER || r->leader != m->from)) {
        if (r->role == RAFT_LEADER) CN_BUG("two leaders in term %llu", (unsigned long long)r->term);
        raft__become_follower(r, r->term, m->from);
    }
    switch (m->type) {
    case RAFT_MSG_APPEND:
        raft__recv_append(r, m);
        break;
    case RAFT_MSG_HEARTBEAT:
        raft__recv_heartbeat(r, m);
        break;
    case RAFT_MSG_SNAPSHOT:
        raft__recv_snapshot(r, m);
        break;
    case RAFT_MSG_APPEND_RESP:
        if (r->role == RAFT_LEADER) raft__recv_append_resp(r, m);
        break;
    case RAFT_MSG_HEARTBEAT_RESP:
        if (r->role == RAFT_LEADER) raft__recv_heartbeat_resp(r, m);
        break;
    case RAFT_MSG_SNAPSHOT_RESP:
        if (r->role == RAFT_LEADER) raft__recv_snapshot_resp(r, m);
        break;
    case RAFT_MSG_VOTE:
        recv_vote(r, m);
        break;
    case RAFT_MSG_PREVOTE:
        recv_prevote(r, m);
        break;
    case RAFT_MSG_VOTE_RESP:
        if (r->role == RAFT_CANDIDATE) record_vote(r, m->from, m->vote_resp.granted);
        break;
    case RAFT_MSG_PREVOTE_RESP:
        if (r->role == RAFT_PRECANDIDATE && (m->term == r->term + 1 || !m->vote_resp.granted))
            record_vote(r, m->from, m->vote_resp.granted);
        break;
    case RAFT_MSG_TIMEOUT_NOW:
        if (r->role == RAFT_FOLLOWER && m->from == r->leader) {
            RAFT_TRACE(r, "timeout-now from %llu", (unsigned long long)m->from);
            raft__campaign(r, false, true);
        }
        break;
    default:
        return CN_EINVAL;
    }
    return 0;
}

void raft__tick(struct raft *r)
{
    if (r->role == RAFT_LEADER) {
        raft__leader_tick(r);
        return;
    }
    if (r->now < r->election_deadline) return;
    if (raft__is_voter(r)) {
        /* A candidate waiting for its own vote to reach disk keeps waiting. */
        if (r->role == RAFT_CANDIDATE && !r->self_vote_counted) {
            raft__reset_election_timer(r);
            return;
        }
        raft__campaign(r, r->cfg.pre_vote, false);
    } else {
        raft__reset_election_timer(r);
    }
}
