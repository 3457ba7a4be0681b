/*
 * autopilot.c - Consul's autopilot dead-server cleanup, run by the leader.
 *
 * A server gossip declares failed stays a Raft voter until someone removes
 * it, and a cluster that lost one of three servers for good then needs
 * both survivors for every commit. Every AUTOPILOT_MS the leader looks at
 * the Raft configuration: failed servers (a failed learner at once) are
 * force-left in gossip, which the reconciliation turns into a Raft removal;
 * servers Raft lists but gossip does not know at all ("stale") are removed
 * from Raft directly. Only while the dead are a minority that the cluster
 * can lose without going under min_quorum (Consul's canRemoveServers).
 */
#include <stdio.h>
#include <string.h>

#include "agent/cluster_int.h"
#include "lib/cn_common.h"
#include "lib/cn_log.h"

#define AUTOPILOT_MS 10000

static bool can_remove(int peers, int min_quorum, int dead)
{
    if (peers - dead < min_quorum) return false;
    /* a failure tolerance of F needs 2F+1 servers */
    return dead <= (peers - 1) / 2;
}

static void prune(struct cluster *cl)
{
    const struct raft_config *c = server_raft_config(cl->srv);
    struct srv_info *failed[RAFT_SERVERS_MAX];
    raft_id stale[RAFT_SERVERS_MAX];
    int nfailed = 0, nstale = 0;
    struct cn_err err;
    for (uint32_t i = 0; i < c->n; i++) {
        raft_id id = c->servers[i].id;
        if (id == server_raft_id(cl->srv)) continue;
        struct srv_info *si = cluster__server_by_id(cl, id);
        if (!si || si->status == GOSSIP_STATUS_LEFT) {
            stale[nstale++] = id;
        } else if (si->status == GOSSIP_STATUS_FAILED) {
            if (c->servers[i].role != RAFT_VOTER) {
                CN_INFO("autopilot", "Attempting removal of failed server node: name=%s", si->name);
                gossip_io_force_leave(cl->lan, si->name, false, &err);
            } else {
                failed[nfailed++] = si;
            }
        }
    }
    int dead = nfailed + nstale;
    if (!dead) return;
    if (!can_remove((int)c->n, cl->cfg.autopilot_min_quorum, dead)) {
        CN_DEBUG("autopilot", "not removing %d dead of %u servers: not a safe minority", dead, c->n);
        return;
    }
    for (int i = 0; i < nfailed; i++) {
        char wan[256];
        CN_INFO("autopilot", "Attempting removal of failed server node: name=%s", failed[i]->name);
        gossip_io_force_leave(cl->lan, failed[i]->name, false, &err);
        snprintf(wan, sizeof wan, "%s.%s", failed[i]->name, cl->cfg.datacenter);
        if (cl->wan) gossip_io_force_leave(cl->wan, wan, false, &err);
    }
    for (int i = 0; i < nstale; i++) {
        CN_INFO("autopilot", "Attempting removal of stale server: id=%016llx",
                (unsigned long long)stale[i]);
        server_raft_change(cl->srv, RAFT_REMOVE, stale[i]);
    }
}

static void on_tick(uv_timer_t *t)
{
    struct cluster *cl = t->data;
    if (cl->closing || !cl->srv || !cl->lan || !server_is_leader(cl->srv)) return;
    if (!cl->cfg.autopilot_cleanup) return;
    prune(cl);
}

void cluster__autopilot_start(struct cluster *cl)
{
    if (cl->srv && !cl->cfg.dev) uv_timer_start(&cl->autopilot, on_tick, AUTOPILOT_MS, AUTOPILOT_MS);
}

void cluster__autopilot_stop(struct cluster *cl)
{
    uv_timer_stop(&cl->autopilot);
    uv_close((uv_handle_t *)&cl->autopilot, NULL);
}
