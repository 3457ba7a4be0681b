/*
 * acl_repl.h - ACL replication into a secondary datacenter (Consul's
 * leader_acl replication routines), run by each server of a datacenter
 * whose primary_datacenter is another one, doing work only while it leads.
 *
 * While leader: fetch the primary's ACL tables with the replication token
 * (acl.tokens.replication, or /v1/agent/token/replication) through this
 * agent's own HTTP API, GET /v1/internal/cairn/acl-dump?dc=<primary>&stale
 * [&tokens], plan the differences (rpc_acl_repl_plan) and submit them one
 * command at a time through the ordinary write path. Policies always
 * replicate; non-local tokens too with acl.enable_token_replication.
 *
 * Rounds follow each other as blocking queries on the primary's ACL index
 * (?index=<last>&wait=30s): a change in the primary reaches the secondary
 * one WAN round trip and a few local commits later, and an idle wait that
 * times out still compares everything, so local drift is repaired within
 * 30 s. A failed round is retried after 2, 4, ... 64 s (Consul's backoff),
 * or at once when the replication token changes.
 */
#ifndef AGENT_ACL_REPL_H
#define AGENT_ACL_REPL_H

#include <stdbool.h>
#include <stdint.h>

struct agent;
struct acl_repl;

struct acl_repl_config {
    const char *primary_datacenter; /* copied */
    bool token_replication;         /* acl.enable_token_replication */
};

/* Start after the HTTP API and the server exist (agent.c keeps it). */
struct acl_repl *acl_repl_start(struct agent *a, const struct acl_repl_config *cfg);
/* Stop: cancel the fetch or write in flight (shutdown, before the HTTP API). */
void acl_repl_stop(struct acl_repl *r);
/* Free after the loop has run once more (the timer's close). NULL is fine. */
void acl_repl_free(struct acl_repl *r);
/* The agent's replicator (agent.c); NULL unless this is a secondary's server. */
struct acl_repl *agent_acl_repl(struct agent *a);

/* GET /v1/acl/replication (Consul's structs.ACLReplicationStatus). */
struct acl_repl_status {
    bool enabled, running;
    char source_datacenter[64];
    const char *replication_type; /* "policies", "tokens"; "" before the first start */
    uint64_t replicated_index, replicated_role_index, replicated_token_index;
    int64_t last_success_ns, last_error_ns; /* wall clock, whole seconds; 0 = never */
};
/* r may be NULL (the primary, a client agent): nothing is replicating. */
void acl_repl_status(const struct acl_repl *r, struct acl_repl_status *out);

#endif
