/* operator.c - /v1/operator/raft/configuration and /v1/operator/raft/peer. */
#include <inttypes.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/cluster.h"
#include "http/http_int.h"
#include "lib/cn_common.h"
#include "server/server.h"

/* GET: the Raft configuration as the answering server knows it (the leader
 * unless ?stale; the router forwarded it there). */
static void raft_configuration(struct http_req *r)
{
    struct agent *a = r->env->agent;
    struct server *s = agent_server(a);
    struct cn_jw w;
    if (!acl_allow(r->authz, ACL_R_OPERATOR, CN_STR_NULL, ACL_A_READ)) {
        http_reply_denied(r);
        return;
    }
    if (!s) {
        http_reply_text(r, 500, "No known Consul servers");
        return;
    }
    raft_id leader = server_leader_id(s);
    if (!leader && !http_has_param(r, "stale")) {
        http_reply_text(r, 500, "No cluster leader");
        return;
    }
    const struct raft_config *c = server_raft_config(s);
    http_json_begin(r, &w);
    cn_jw_obj_begin(&w);
    cn_jw_key(&w, "Servers");
    cn_jw_arr_begin(&w);
    for (uint32_t i = 0; i < c->n; i++) {
        struct cluster_server info = {0};
        char fallback[24];
        bool known = agent_cluster(a) && cluster_server_info(agent_cluster(a), c->servers[i].id, &info);
        if (c->servers[i].id == server_raft_id(s)) {
            info.name = agent_cfg(a)->node_name;
            info.node_id = agent_node_id(a);
            known = true;
        }
        snprintf(fallback, sizeof fallback, "%016" PRIx64, c->servers[i].id);
        cn_jw_obj_begin(&w);
        cn_jw_key_str(&w, "ID", known ? info.node_id : fallback);
        cn_jw_key_str(&w, "Node", known ? info.name : "(unknown)");
        if (c->servers[i].id == server_raft_id(s)) info.rpc_addr = server_rpc_addr(s);
        cn_jw_key_str(&w, "Address", info.rpc_addr ? info.rpc_addr : "");
        cn_jw_key_bool(&w, "Leader", c->servers[i].id == leader);
        cn_jw_key_bool(&w, "Voter", c->servers[i].role == RAFT_VOTER);
        cn_jw_key_str(&w, "ProtocolVersion", "3");
        cn_jw_obj_end(&w);
    }
    cn_jw_arr_end(&w);
    cn_jw_key_u64(&w, "Index", server_raft_commit_index(s));
    cn_jw_obj_end(&w);
    http_reply_json(r, 200, &w);
}

/* DELETE ?address=ip:port or ?id=<node id>: remove a server from Raft. */
static void raft_peer(struct http_req *r)
{
    struct agent *a = r->env->agent;
    struct server *s = agent_server(a);
    const char *addr = http_param(r, "address"), *id = http_param(r, "id");
    if (!acl_allow(r->authz, ACL_R_OPERATOR, CN_STR_NULL, ACL_A_WRITE)) {
        http_reply_denied(r);
        return;
    }
    if ((!addr || !*addr) && (!id || !*id)) {
        http_reply_text(r, 400, "Must specify either ?id with the server's ID or ?address with "
                                "IP:port of peer to remove");
        return;
    }
    if (!s) {
        http_reply_text(r, 500, "No known Consul servers");
        return;
    }
    raft_id target = agent_cluster(a) ? cluster_server_lookup(agent_cluster(a), addr, id) : 0;
    if (!target && id && !strcmp(id, agent_node_id(a))) target = server_raft_id(s);
    if (!target || !raft_config_get(server_raft_config(s), target)) {
        if (addr && *addr)
            http_reply_text(r, 500, "address \"%s\" was not found in the Raft configuration", addr);
        else
            http_reply_text(r, 500, "id \"%s\" was not found in the Raft configuration", id);
        return;
    }
    int rc = server_raft_change(s, RAFT_REMOVE, target);
    if (rc) {
        http_reply_text(r, 500, "%s", rc == CN_ENOTLEADER ? "No cluster leader" : cn_strerror(rc));
        return;
    }
    http_reply_empty(r, 200);
}

const struct http_route http_routes_operator[] = {
    {"/v1/operator/raft/configuration", M_GET, raft_configuration, 0, 0},
    {"/v1/operator/raft/peer", M_DELETE, raft_peer, 0, 0},
    HTTP_ROUTES_END,
};
