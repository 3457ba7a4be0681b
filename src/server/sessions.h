/*
 * sessions.h - the leader's session duties (Consul's session_ttl.go and the
 * lock-delay check of KVS.Apply): everything about sessions that depends on
 * a clock, kept out of the FSM.
 *
 *  - TTL timers: one per session with a TTL, firing after 2 x TTL (Consul's
 *    grace factor) unless renewed; a fired timer proposes the session's
 *    destroy. Armed from the store when leadership is gained, stopped when
 *    it is lost.
 *  - Commands on their way to Raft (server_sessions_filter, called by the
 *    leader before proposing): a session create gets its random ID here; a
 *    renew is answered here and never proposed; an ?acquire on a key inside
 *    its lock-delay window is answered false without proposing.
 *  - Lock-delay deadlines: every server turns the store's lock-delay records
 *    (state_lock_delays_since) into deadlines on its own monotonic clock as
 *    invalidations commit, so a new leader usually knows them too (Consul
 *    keeps them per server the same way; lost on restart, which the spec
 *    accepts).
 */
#ifndef SERVER_SESSIONS_H
#define SERVER_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "rpc/rpc.h"
#include "state/state.h"

struct server;
struct server_sessions;

/* Proposals of its own (TTL expiry) go through server_apply_local. */
struct server_sessions *server_sessions_new(uv_loop_t *loop, struct state_store *st,
                                            struct server *srv);
/* Stops every timer; frees once the loop has run. */
void server_sessions_free(struct server_sessions *ss);
/* Leadership gained (arm a timer per stored session with a TTL) or lost. */
void server_sessions_leader(struct server_sessions *ss, bool leader);
/* On the leader, before proposing. Returns true when it answered the
 * command itself (applied() runs later, once); otherwise it may have
 * replaced what is proposed (*cmd, *len) and the callback (*applied,
 * *arg) with its own, which calls the original once. ss may be NULL. */
bool server_sessions_filter(struct server_sessions *ss, const void **cmd, size_t *len,
                            rpc_applied_fn *applied, void **arg);
/* Armed TTL timers and tracked lock-delay keys (tests, metrics). */
size_t server_sessions_timers(const struct server_sessions *ss);
size_t server_sessions_lock_delays(struct server_sessions *ss);

#endif
