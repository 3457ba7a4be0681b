/*
 * local.h - the agent's own services and checks (Consul's agent/local
 * State plus the agent's AddService/AddCheck): what the /v1/agent
 * endpoints change and read, what the check runners update, and what
 * anti-entropy pushes into the catalog.
 *
 * Sources: the HTTP API (persisted in data_dir and restored on restart)
 * and config files (re-applied on reload, never persisted). Everything
 * runs on the agent's loop thread.
 *
 * Errors come back as CN_EINVAL (400), CN_ENOENT (404), CN_EPERM (403) or
 * anything else (500), with Consul's text in err->msg.
 */
#ifndef AGENT_LOCAL_H
#define AGENT_LOCAL_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "acl/acl.h"
#include "agent/defs.h"
#include "lib/cn_err.h"
#include "rpc/rpc.h"
#include "state/state.h"

struct agent;
struct agent_local;

struct agent_local *agent_local(struct agent *a);
void agent_set_local(struct agent *a, struct agent_local *l);
struct rpc *agent_rpc(struct agent *a);
uv_loop_t *agent_loop(struct agent *a);
/* Answer, then leave: stop the agent as SIGTERM would (no gossip yet). */
void agent_leave(struct agent *a);

/* Lifecycle (agent.c): start after the RPC layer exists, reload after the
 * configuration was swapped, stop at shutdown. */
int agent_local_start(struct agent *a, struct cn_err *err);
int agent_local_reload(struct agent_local *l, struct cn_err *err);
void agent_local_stop(struct agent_local *l);
void agent_local_free(struct agent_local *l);

/* ---- changes (HTTP API; authz is the request's) -------------------------- */

int agent_local_add_service(struct agent_local *l, const struct acl_authz *authz,
                            struct agent_service_def *def, bool replace_existing_checks,
                            struct cn_err *err);
int agent_local_remove_service(struct agent_local *l, const struct acl_authz *authz,
                               const char *id, struct cn_err *err);
int agent_local_add_check(struct agent_local *l, const struct acl_authz *authz,
                          struct agent_check_def *def, struct cn_err *err);
int agent_local_remove_check(struct agent_local *l, const struct acl_authz *authz,
                             const char *id, struct cn_err *err);
/* pass/warn/fail/update of a TTL check. */
int agent_local_update_ttl(struct agent_local *l, const struct acl_authz *authz, const char *id,
                           const char *status, const char *output, struct cn_err *err);
int agent_local_service_maintenance(struct agent_local *l, const struct acl_authz *authz,
                                    const char *id, bool enable, const char *reason,
                                    struct cn_err *err);
int agent_local_node_maintenance(struct agent_local *l, const struct acl_authz *authz,
                                 bool enable, const char *reason, struct cn_err *err);

/* ---- reads ----------------------------------------------------------------- */

/* Services / checks sorted by ID (array borrowed until the next change;
 * free the array itself with free()). */
size_t agent_local_services(struct agent_local *l, const struct state_service ***out);
const struct state_service *agent_local_service(struct agent_local *l, const char *id);
size_t agent_local_checks(struct agent_local *l, const struct state_check ***out);
const struct state_check *agent_local_check(struct agent_local *l, const char *id);
/* Checks of one local service (node-level ones excluded). */
size_t agent_local_service_checks(struct agent_local *l, const char *service_id,
                                  const struct state_check ***out);
size_t agent_local_check_count(struct agent_local *l, const char *type);

/* ---- waiting --------------------------------------------------------------- */

/* Call done(arg) once everything changed so far reached the catalog (or
 * the attempt failed: anti-entropy retries, the HTTP answer does not
 * wait). Cancel if the waiter goes away first. */
struct agent_wait;
struct agent_wait *agent_local_sync(struct agent_local *l, void (*done)(void *arg), void *arg);
/* Call done(arg) at the next change of local services or checks. */
struct agent_wait *agent_local_watch(struct agent_local *l, void (*done)(void *arg), void *arg);
void agent_local_wait_cancel(struct agent_wait *w);

#endif
