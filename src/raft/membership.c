/* membership.c - configurations as log entries (dissertation ch. 4):
 * single-server changes, learners that catch up before promotion (§4.2.1),
 * removal of the leader itself (§4.2.2) and leadership transfer (§3.10). */
#include <string.h>

#include "lib/cn_buf.h"
#include "raft/raft_int.h"

/* ---- the configuration history ------------------------------------------ */

const struct raft_config *raft__conf(const struct raft *r)
{
    return &r->confs.v[r->confs.n - 1].conf;
}

raft_index raft__conf_index(const struct raft *r)
{
    return r->confs.v[r->confs.n - 1].index;
}

const struct raft_config *raft__conf_at(const struct raft *r, raft_index i)
{
    for (size_t k = r->confs.n; k-- > 1;)
        if (r->confs.v[k].index <= i) return &r->confs.v[k].conf;
    return &r->confs.v[0].conf;
}

const struct raft_config *raft__conf_committed(const struct raft *r)
{
    return raft__conf_at(r, r->commit);
}

void raft__conf_reset(struct raft *r, raft_index index, const struct raft_config *c)
{
    r->confs.n = 0;
    struct raft__conf_rec *rec = raft__vec_push(&r->confs);
    rec->index = index;
    rec->conf = *c;
}

/* §4.1: a server uses the latest configuration in its log, committed or not. */
void raft__conf_on_append(struct raft *r, const struct raft_entry *e)
{
    if (e->type != RAFT_ENTRY_CONFIG) return;
    struct raft__conf_rec *rec = raft__vec_push(&r->confs);
    rec->index = e->index;
    int rc = raft_config_decode(e->data, e->len, &rec->conf);
    CN_ASSERT(rc == 0); /* checked by the decoder, restore and change */
    RAFT_TRACE(r, "configuration at %llu: %u servers, %u voters", (unsigned long long)e->index,
               rec->conf.n, raft_config_voters(&rec->conf));
    if (r->role == RAFT_LEADER) raft__pr_sync(r);
}

void raft__conf_on_truncate(struct raft *r, raft_index i)
{
    while (r->confs.n > 1 && r->confs.v[r->confs.n - 1].index >= i)
        r->confs.n--;
}

void raft__conf_on_compact(struct raft *r, raft_index snap_index)
{
    size_t k = 0;
    while (k + 1 < r->confs.n && r->confs.v[k + 1].index <= snap_index)
        k++;
    if (k == 0) return;
    memmove(r->confs.v, r->confs.v + k, (r->confs.n - k) * sizeof *r->confs.v);
    r->confs.n -= k;
}

/* ---- changes ------------------------------------------------------------ */

static bool own_term_committed(const struct raft *r)
{
    return r->commit >= r->noop_index;
}

/* One change at a time, and only after the leader has committed an entry of
 * its term (the fix to single-server changes Ongaro posted to raft-dev). */
static int change_allowed(const struct raft *r)
{
    if (r->role != RAFT_LEADER) return CN_ENOTLEADER;
    if (r->transfer_target) return CN_EAGAIN;
    if (raft__conf_index(r) > r->commit || !own_term_committed(r)) return CN_EAGAIN;
    return 0;
}

static void append_conf(struct raft *r, const struct raft_config *c)
{
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    raft_config_encode(c, &b);
    struct raft_buf *buf = raft_buf_copy(b.data, b.len);
    cn_buf_release(&b);
    raft__append_local(r, RAFT_ENTRY_CONFIG, buf, buf->data, (uint32_t)buf->len);
    raft_buf_unref(buf);
}

static void start_round(struct raft *r, struct raft__progress *p)
{
    p->round_target = raft__log_last(&r->log);
    p->round_start_ms = r->now;
}

int raft__change(struct raft *r, int op, raft_id id)
{
    int rc = change_allowed(r);
    if (rc) return rc;
    if (id == 0) return CN_EINVAL;
    struct raft_config c = *raft__conf(r);
    struct raft_server *s = (struct raft_server *)raft_config_get(&c, id);
    switch (op) {
    case RAFT_ADD_LEARNER:
        if (s) return CN_EEXIST;
        if (c.n == RAFT_SERVERS_MAX) return CN_ETOOBIG;
        c.servers[c.n++] = (struct raft_server){id, RAFT_LEARNER};
        append_conf(r, &c);
        return 0;
    case RAFT_ADD_VOTER: {
        if (s && s->role == RAFT_VOTER) return CN_EEXIST;
        if (!s) {
            if (c.n == RAFT_SERVERS_MAX) return CN_ETOOBIG;
            c.servers[c.n++] = (struct raft_server){id, RAFT_LEARNER};
            append_conf(r, &c);
        }
        struct raft__progress *p = raft__pr_find(r, id);
        CN_ASSERT(p != NULL);
        p->promote = true;
        p->rounds = 0;
        start_round(r, p);
        return 0;
    }
    case RAFT_REMOVE:
        if (!s) return CN_ENOENT;
        if (s->role == RAFT_VOTER && raft_config_voters(&c) == 1) return CN_EINVAL;
        *s = c.servers[--c.n];
        if (id == r->id) r->step_down_on_commit = true;
        append_conf(r, &c);
        return 0;
    default:
        return CN_EINVAL;
    }
}

/* §4.2.1: promote a learner once a round of catching up (reaching the
 * leader's last index as of the round's start) takes under an election
 * timeout, so adding it cannot stall commits. */
void raft__promote_check(struct raft *r, struct raft__progress *p)
{
    if (!p->promote || r->role != RAFT_LEADER) return;
    if (p->match < p->round_target) {
        if (r->now - p->round_start_ms < r->cfg.election_ms) return;
    } else if (r->now - p->round_start_ms < r->cfg.election_ms) {
        if (change_allowed(r) != 0) return; /* retried on tick */
        struct raft_config c = *raft__conf(r);
        struct raft_server *s = (struct raft_server *)raft_config_get(&c, p->id);
        p->promote = false;
        if (!s || s->role == RAFT_VOTER) return;
        s->role = RAFT_VOTER;
        RAFT_TRACE(r, "promote %llu after %u rounds", (unsigned long long)p->id, p->rounds + 1);
        append_conf(r, &c);
        return;
    }
    if (++p->rounds >= r->cfg.promote_rounds_max) {
        RAFT_TRACE(r, "learner %llu did not catch up", (unsigned long long)p->id);
        p->promote = false;
        return;
    }
    start_round(r, p);
}

void raft__membership_tick(struct raft *r)
{
    for (uint32_t i = 0; i < r->n_prs && r->role == RAFT_LEADER; i++)
        raft__promote_check(r, &r->prs[i]);
}

static void send_timeout_now(struct raft *r, struct raft__progress *p)
{
    raft__msg_new(r, RAFT_MSG_TIMEOUT_NOW, p->id);
    /* The target will campaign with votes that override leases, ours
     * included: no lease read may be served for the rest of this term. */
    r->lease_forfeit_term = r->term;
}

/* A committed configuration that excludes the leader ends its leadership
 * (§4.2.2); hand over to the most up-to-date voter to shorten the gap. */
void raft__conf_on_commit(struct raft *r)
{
    if (r->role != RAFT_LEADER || !r->step_down_on_commit) return;
    if (raft__conf_index(r) > r->commit) return;
    struct raft__progress *best = NULL;
    for (uint32_t i = 0; i < r->n_prs; i++) {
        struct raft__progress *p = &r->prs[i];
        if (p->role == RAFT_VOTER && (!best || p->match > best->match)) best = p;
    }
    if (best && best->match == raft__log_last(&r->log)) send_timeout_now(r, best);
    RAFT_TRACE(r, "removed from the configuration: step down");
    raft__become_follower(r, r->term, 0);
}

/* ---- leadership transfer ------------------------------------------------ */

int raft__transfer(struct raft *r, raft_id target)
{
    if (r->role != RAFT_LEADER) return CN_ENOTLEADER;
    if (r->transfer_target) return CN_EAGAIN;
    if (target == r->id) return 0;
    struct raft__progress *p = NULL;
    if (target == 0) {
        for (uint32_t i = 0; i < r->n_prs; i++)
            if (r->prs[i].role == RAFT_VOTER && (!p || r->prs[i].match > p->match)) p = &r->prs[i];
        if (!p) return CN_ENOENT;
    } else {
        p = raft__pr_find(r, target);
        if (!p) return CN_ENOENT;
        if (p->role != RAFT_VOTER) return CN_EINVAL;
    }
    r->transfer_target = p->id;
    r->transfer_sent = false;
    r->transfer_deadline = r->now + r->cfg.election_ms;
    RAFT_TRACE(r, "transfer to %llu", (unsigned long long)p->id);
    raft__transfer_check(r, p);
    if (r->transfer_target) raft__send_append(r, p, false);
    return 0;
}

/* §3.10: once the target's log is up to date, tell it to campaign now.
 * Proposals stay refused until the deadline (or the target wins). */
void raft__transfer_check(struct raft *r, struct raft__progress *p)
{
    if (r->transfer_target != p->id || r->transfer_sent) return;
    if (p->match != raft__log_last(&r->log)) return;
    send_timeout_now(r, p);
    r->transfer_sent = true;
}
