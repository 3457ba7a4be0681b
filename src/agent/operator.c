/*
 * operator.c - what /v1/operator/raft needs from the server, in plain
 * structs, so the HTTP layer stays above the agent and never reaches into
 * the server or Raft itself.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/cluster.h"
#include "agent/config.h"
#include "lib/cn_common.h"
#include "server/server.h"

int agent_raft_configuration(struct agent *a, bool stale, struct agent_raft_peer *out,
                             size_t max, size_t *n, uint64_t *index)
{
    struct server *s = agent_server(a);
    *n = 0;
    if (!s) return CN_ENOSERVERS;
    raft_id leader = server_leader_id(s);
    if (!leader && !stale) return CN_ENOLEADER;
    const struct raft_config *c = server_raft_config(s);
    for (uint32_t i = 0; i < c->n && *n < max; i++) {
        struct agent_raft_peer *p = &out[(*n)++];
        struct cluster_server info = {0};
        raft_id id = c->servers[i].id;
        bool self = id == server_raft_id(s);
        bool known = agent_cluster(a) && cluster_server_info(agent_cluster(a), id, &info);
        memset(p, 0, sizeof *p);
        if (self) {
            info.name = agent_cfg(a)->node_name;
            info.node_id = agent_node_id(a);
            info.rpc_addr = server_rpc_addr(s);
            known = true;
        }
        if (known) {
            snprintf(p->id, sizeof p->id, "%s", info.node_id ? info.node_id : "");
            snprintf(p->node, sizeof p->node, "%s", info.name ? info.name : "");
        } else {
            snprintf(p->id, sizeof p->id, "%016" PRIx64, id);
            snprintf(p->node, sizeof p->node, "(unknown)");
        }
        snprintf(p->address, sizeof p->address, "%s", info.rpc_addr ? info.rpc_addr : "");
        p->leader = id == leader;
        p->voter = c->servers[i].role == RAFT_VOTER;
    }
    *index = server_raft_commit_index(s);
    return 0;
}

int agent_raft_remove_peer(struct agent *a, const char *addr, const char *id)
{
    struct server *s = agent_server(a);
    if (!s) return CN_ENOSERVERS;
    raft_id target = agent_cluster(a) ? cluster_server_lookup(agent_cluster(a), addr, id) : 0;
    if (!target && id && !strcmp(id, agent_node_id(a))) target = server_raft_id(s);
    if (!target || !raft_config_get(server_raft_config(s), target)) return CN_ENOENT;
    return server_raft_change(s, RAFT_REMOVE, target);
}
