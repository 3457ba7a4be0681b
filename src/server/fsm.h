/*
 * fsm.h - the finite state machine every server runs: a committed command
 * in, a state store transaction out.
 *
 * Deterministic: the same commands at the same indexes leave every server's
 * store identical. No clock, no randomness, no I/O here; anything
 * time-dependent (lock-delay, session TTLs) is decided on the leader before
 * the command is proposed.
 */
#ifndef SERVER_FSM_H
#define SERVER_FSM_H

#include <stddef.h>
#include <stdint.h>

#include "rpc/rpc.h"
#include "state/state.h"

/* Apply one committed command at index. res->ok and res->text carry what
 * the endpoint answers (text is heap-allocated; the caller frees it).
 * Returns 0, or an error for a command that could not be decoded (the
 * index is still consumed, as in Consul). */
int server_fsm_apply(struct state_store *st, uint64_t index, const void *cmd, size_t len,
                     struct rpc_result *res);

#endif
