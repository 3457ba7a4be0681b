/* operator.c - /v1/operator/raft/configuration and /v1/operator/raft/peer
 * (the agent layer reads and changes Raft: agent/operator.c). */
#include <string.h>

#include "agent/agent.h"
#include "http/http_int.h"
#include "lib/cn_common.h"

#define PEERS_MAX 64

static bool refused(struct http_req *r, int rc)
{
    if (!rc) return false;
    if (rc == CN_ENOSERVERS)
        http_reply_text(r, 500, "No known Consul servers");
    else if (rc == CN_ENOLEADER || rc == CN_ENOTLEADER)
        http_reply_text(r, 500, "No cluster leader");
    else
        http_reply_text(r, 500, "%s", cn_strerror(rc));
    return true;
}

/* GET: the Raft configuration as the answering server knows it (the leader
 * unless ?stale; the router forwarded it there). */
static void raft_configuration(struct http_req *r)
{
    struct agent_raft_peer *p = cn_arena_zalloc(&r->arena, PEERS_MAX * sizeof *p);
    size_t n;
    uint64_t index;
    struct cn_jw w;
    if (!acl_allow(r->authz, ACL_R_OPERATOR, CN_STR_NULL, ACL_A_READ)) {
        http_reply_denied(r);
        return;
    }
    if (refused(r, agent_raft_configuration(r->env->agent, http_has_param(r, "stale"), p,
                                            PEERS_MAX, &n, &index)))
        return;
    http_json_begin(r, &w);
    cn_jw_obj_begin(&w);
    cn_jw_key(&w, "Servers");
    cn_jw_arr_begin(&w);
    for (size_t i = 0; i < n; i++) {
        cn_jw_obj_begin(&w);
        cn_jw_key_str(&w, "ID", p[i].id);
        cn_jw_key_str(&w, "Node", p[i].node);
        cn_jw_key_str(&w, "Address", p[i].address);
        cn_jw_key_bool(&w, "Leader", p[i].leader);
        cn_jw_key_bool(&w, "Voter", p[i].voter);
        cn_jw_key_str(&w, "ProtocolVersion", "3");
        cn_jw_obj_end(&w);
    }
    cn_jw_arr_end(&w);
    cn_jw_key_u64(&w, "Index", index);
    cn_jw_obj_end(&w);
    http_reply_json(r, 200, &w);
}

/* DELETE ?address=ip:port or ?id=<node id>: remove a server from Raft. */
static void raft_peer(struct http_req *r)
{
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
    int rc = agent_raft_remove_peer(r->env->agent, addr, id);
    if (rc == CN_ENOENT) {
        if (addr && *addr)
            http_reply_text(r, 500, "address \"%s\" was not found in the Raft configuration", addr);
        else
            http_reply_text(r, 500, "id \"%s\" was not found in the Raft configuration", id);
        return;
    }
    if (refused(r, rc)) return;
    http_reply_empty(r, 200);
}

const struct http_route http_routes_operator[] = {
    {"/v1/operator/raft/configuration", M_GET, raft_configuration, 0, 0},
    {"/v1/operator/raft/peer", M_DELETE, raft_peer, 0, 0},
    HTTP_ROUTES_END,
};
