/*
 * coord_sync.h - network coordinates between an agent and the servers
 * (Consul's agent.sendCoordinate and the server's Coordinate.batchUpdate).
 *
 * Every agent sends its LAN coordinate to the servers periodically, through
 * its own HTTP API (PUT /v1/coordinate/update as an internal request), so a
 * client agent's update is forwarded like any other write. The interval is
 * Consul's: sync_coordinate_interval_min (15 s) or longer in big clusters,
 * so the whole cluster sends about sync_coordinate_rate_target (64) updates
 * a second, plus a random stagger of up to one interval.
 *
 * A server does not apply updates one by one: the PUT handler queues the
 * latest one of each node (agent_coords_queue) and answers at once; every
 * update period (5 s; 100 ms in -dev) the queue goes to Raft as up to
 * CN_COORD_MAX_BATCHES commands of CN_COORD_BATCH_SIZE rows.
 *
 * disable_coordinates turns the sender off (and the /v1/coordinate
 * endpoints answer 401, see src/http/coordinate.c). For tests,
 * CAIRN_TEST_COORD_SYNC_INTERVAL replaces the 15 s minimum and
 * CAIRN_TEST_COORD_UPDATE_PERIOD the server's period (Go durations).
 */
#ifndef AGENT_COORD_SYNC_H
#define AGENT_COORD_SYNC_H

#include <stdbool.h>

#include "gossip/gossip.h"
#include "state/state.h"

struct agent;
struct cluster;
struct agent_coords;

/* Start after the HTTP API and the cluster layer (agent.c keeps it). */
struct agent_coords *agent_coords_start(struct agent *a, struct cluster *cl);
/* Stop timers and drop in-flight work (shutdown, before the HTTP API). */
void agent_coords_stop(struct agent_coords *c);
void agent_coords_free(struct agent_coords *c);
/* The agent's coordinate module (agent.c); NULL before it starts. */
struct agent_coords *agent_coords(struct agent *a);

/* The gossip core's coordinate as the store and the API hold it. */
void agent_coord_from_gossip(const struct gossip_coord *g, struct state_coord *out);

/* Queue a checked update on a server; it reaches Raft with the next batch.
 * False when this agent keeps no queue (a client agent, or stopped): the
 * caller applies the update itself. */
bool agent_coords_queue(struct agent_coords *c, const struct state_coordinate *u);

#endif
