/*
 * acl_route.h - which ACL requests a secondary datacenter's servers send to
 * the primary datacenter (Consul's acl_endpoint.go forwarding rules).
 *
 * With ACLs enabled and primary_datacenter naming another datacenter:
 *   - policy create/update/delete: the primary (PolicySet, PolicyDelete);
 *   - token create/update with Local false: the primary ("Global token
 *     creation/modification always goes to the ACL DC"); Local true needs
 *     local tokens, else 500 "Local tokens are disabled";
 *   - token delete and clone: the primary for a global token or one this
 *     datacenter does not have; here for a local one;
 *   - token reads and lists: the primary unless local tokens are enabled;
 *   - the legacy /v1/acl/create|update|destroy|clone|info|list: the primary
 *     (Consul's HTTP layer sends them to the ACL datacenter);
 *   - bootstrap: 500 "ACL support disabled" (BootstrapTokens outside the
 *     ACL datacenter).
 * Local tokens are enabled when acl.enable_token_replication is on and a
 * replication token is set (Consul's LocalTokensEnabled). Policy reads stay
 * here: policies always replicate.
 */
#ifndef AGENT_ACL_ROUTE_H
#define AGENT_ACL_ROUTE_H

#include "agent/cluster.h"

/* For a request a server is about to route within its own datacenter:
 * 0 = none of these rules' business; 1 = *dc now names the primary (route
 * it like ?dc=<primary>); -1 = answered here with Consul's error. */
int cluster_acl_route(const struct cluster_config *cfg, struct http_req *r, const char **dc);

#endif
