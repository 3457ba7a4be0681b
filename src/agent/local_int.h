/*
 * local_int.h - what the agent-local files share: local.c (the records
 * and their changes), checks.c / check_http.c (runners), ae.c
 * (anti-entropy), persist.c (data_dir), reconcile.c (self-registration).
 */
#ifndef AGENT_LOCAL_INT_H
#define AGENT_LOCAL_INT_H

#include "lib/cn_curl.h"

#include "agent/agent.h"
#include "agent/local.h"
#include "lib/cn_arena.h"
#include "lib/cn_list.h"
#include "lib/cn_map.h"
#include "rpc/rpc.h"

#define LOCAL_SERF_CHECK "serfHealth"
#define LOCAL_NODE_MAINT "_node_maintenance"
#define LOCAL_SERVICE_MAINT_PREFIX "_service_maintenance:"

struct check_runner;

struct local_service {
    struct cn_arena arena; /* owns the record */
    struct state_service svc;
    char *token;
    bool from_file;
    bool in_sync;
    uint64_t gen; /* bumped on every change; a sync marks in_sync only if unchanged */
};

struct local_check {
    struct cn_arena arena;
    struct state_check hc; /* what the catalog gets */
    struct agent_check_def def;
    char *token;
    bool from_file;
    bool in_sync;
    uint64_t gen;
    uint64_t critical_since_ms; /* monotonic ms it turned critical; 0 otherwise */
    uv_timer_t *defer;          /* pending push of an output-only change */
    struct cn_list by_service;  /* on its service's list (checks_by_service) */
    struct check_runner *runner;
    struct agent_local *l;
};

struct agent_wait {
    struct cn_list link;
    void (*done)(void *arg);
    void *arg;
    struct cn_list *on; /* the list it hangs on */
};

struct http_tunnel;

struct acl_authz;

struct ae_state {
    uv_timer_t kick;      /* 0 ms: coalesce changes into one round */
    uv_timer_t full;      /* periodic full sync */
    uv_timer_t retry;     /* after a failed round */
    bool inited;
    bool round_active;
    bool round_failed;
    size_t inflight;
    struct cn_list round_waiters; /* answered when the running round ends */
    struct cn_list writes;        /* struct ae_write in flight */
    struct rpc_query *fullq;      /* a full sync reading the catalog (servers) */
    struct http_tunnel *tunnel;   /* ... or through the HTTP API (clients) */
    bool fullq_remote;
    bool full_wanted;
    int64_t interval_ms;
    struct acl_authz *encode_only; /* a client encodes writes with it; servers vet them */
};

struct http_tunnel;
struct check_env;      /* check runners' shared state (checks.c) */
struct check_http_env; /* the curl multi handle on the loop (check_http.c) */

struct agent_local {
    struct agent *agent;
    uv_loop_t *loop;
    struct rpc *rpc;
    char *node_name; /* fixed for the agent's life */
    char *data_dir;  /* NULL: nothing persisted (-dev) */
    struct cn_map services; /* id -> struct local_service * */
    struct cn_map checks;   /* id -> struct local_check * */
    struct cn_map checks_by_service; /* service id -> struct cn_list * of by_service links */
    struct cn_map dead_services, dead_checks; /* ids to remove from the catalog */
    bool node_in_sync;
    uint64_t gen_counter;
    struct cn_list next_waiters; /* sync waiters for the next round */
    struct cn_list watchers;     /* fired at the next local change */
    struct ae_state ae;
    struct check_env *env;
    struct check_http_env *http_env;
    uv_timer_t reap;
    int64_t reap_min_ms, reap_interval_ms;
    uv_timer_t reconcile;
    uint64_t reconcile_since_ms; /* when this server started reconciling */
    bool started, stopping;
};

/* ---- local.c ------------------------------------------------------------- */

struct local_service *local_service_get(struct agent_local *l, const char *id);
struct local_check *local_check_get(struct agent_local *l, const char *id);
/* A runner's result (after its success/failure thresholds): Consul's
 * State.UpdateCheck (status change -> push now; output only -> deferred). */
void local_check_update(struct agent_local *l, struct local_check *c, const char *status,
                        const char *output);
/* Something local changed: wake watchers, schedule a push. */
void local_changed(struct agent_local *l);
/* Remove a service and its checks (the reaper, reload). */
void local_remove_service_internal(struct agent_local *l, const char *id, bool persist);
void local_remove_check_internal(struct agent_local *l, const char *id, bool persist);
/* The node record this agent asserts in the catalog. */
void local_node_record(struct agent_local *l, struct cn_arena *a, struct state_node *out);
/* The token for syncing (per-object token, else acl.tokens.agent, else default). */
const char *local_sync_token(struct agent_local *l, const char *own);
int64_t local_output_max(struct agent_local *l, const struct agent_check_def *d);
uint64_t local_now_ms(void);

/* ---- checks.c / check_http.c --------------------------------------------- */

int checks_env_init(struct agent_local *l);
void checks_env_close(struct agent_local *l);
/* Start the runner matching c->def (none for checks without one). */
void check_runner_start(struct agent_local *l, struct local_check *c);
void check_runner_stop(struct local_check *c);
/* TTL checks: a pass/warn/fail resets the timer. */
void check_runner_ttl_touch(struct local_check *c);
/* Alias checks re-evaluate after any local change. */
void checks_alias_refresh(struct agent_local *l);
/* HTTP checks (check_http.c), on the env's curl multi handle. */
struct check_http_op;
struct check_http_op *check_http_run(struct agent_local *l, const struct agent_check_def *d,
                                     int64_t output_max,
                                     void (*done)(void *arg, const char *status, const char *out),
                                     void *arg);
void check_http_cancel(struct check_http_op *op);
int check_http_env_init(struct agent_local *l);
void check_http_env_close(struct agent_local *l);

/* ---- ae.c ------------------------------------------------------------------- */

void ae_init(struct agent_local *l);
void ae_start(struct agent_local *l);
void ae_stop(struct agent_local *l);
/* Push pending changes soon (coalesced into one round). */
void ae_kick(struct agent_local *l);
/* Read the catalog and reconcile it with local state now. */
void ae_full_sync(struct agent_local *l);
void ae_wait_next_round(struct agent_local *l, struct agent_wait *w);

/* ---- persist.c ------------------------------------------------------------- */

void persist_service(struct agent_local *l, const struct local_service *s);
void persist_service_remove(struct agent_local *l, const char *id);
void persist_check(struct agent_local *l, const struct local_check *c);
void persist_check_remove(struct agent_local *l, const char *id);
/* TTL check status/output with its expiry. */
void persist_check_state(struct agent_local *l, const struct local_check *c, int64_t expires_wall_ns);
/* Restore into the local state (services, then checks). */
int persist_load(struct agent_local *l, struct cn_err *err);
/* A restored TTL check's state, if still valid: 0 when applied. */
int persist_check_state_load(struct agent_local *l, struct local_check *c, int64_t *remaining_ms);

/* ---- reconcile.c ------------------------------------------------------------ */

/* Stand-in for the leader's member reconciliation (issue 9 replaces it
 * with gossip): register this node with serfHealth and, on servers, the
 * consul service. */
void reconcile_start(struct agent_local *l);
void reconcile_stop(struct agent_local *l);
/* This server just became the leader: reconcile every member now. */
void reconcile_leadership(struct agent_local *l);

/* ---- internal add paths shared by API, files and restore ------------------- */

enum local_source { LOCAL_SRC_API = 0, LOCAL_SRC_FILE, LOCAL_SRC_RESTORE };
int local_add_service(struct agent_local *l, struct agent_service_def *def, bool replace_checks,
                      enum local_source src, struct cn_err *err);
int local_add_check(struct agent_local *l, struct agent_check_def *def, enum local_source src,
                    struct cn_err *err);

#endif
