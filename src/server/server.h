/*
 * server.h - what only servers do: own the replicated state, apply
 * committed commands through the FSM, answer reads in each consistency
 * mode, and (with Raft, issue 9) agree with their peers.
 *
 * The server runs on the caller's libuv loop and gives the endpoint layer
 * its backend (server_backend_ops). Today's server is a single voter: a
 * proposal gets the next index and is applied when the loop next runs
 * its idle phase, so writes made in one loop iteration are applied as
 * one batch: the same write path Raft will drive.
 */
#ifndef SERVER_H
#define SERVER_H

#include <stdbool.h>
#include <uv.h>

#include "rpc/rpc.h"
#include "state/state.h"

struct server_config {
    const char *node_name;
    const char *datacenter;
    const char *rpc_addr; /* advertised "ip:port" of the server RPC port */
    bool dev;
};

struct server;

struct server *server_new(uv_loop_t *loop, const struct server_config *cfg, struct state_store *st);
/* Stop accepting work; pending proposals fail with CN_ESHUTDOWN. */
void server_shutdown(struct server *s);
/* Frees asynchronously: run the loop afterwards to let it finish. */
void server_free(struct server *s);
const struct rpc_backend_ops *server_backend_ops(void);
uint64_t server_applied_index(const struct server *s);

#endif
