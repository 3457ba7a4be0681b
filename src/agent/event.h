/*
 * event.h - user events on an agent (Consul's agent/user_event.go).
 *
 * One path: /v1/event/fire (on a server, after the ACL check) encodes the
 * event and hands it to the LAN gossip pool (cluster_user_event); gossip
 * delivers it to every agent, the sender included, through the cluster's
 * event handler, where each agent applies the receive filters (NodeFilter
 * against its node name, ServiceFilter/TagFilter against its local
 * services) and keeps the last CN_EVENT_BUFFER accepted events in a ring
 * for /v1/event/list, waking list queries blocked on it. Gossip suppresses
 * duplicates (Lamport time + name + payload), so each agent records an
 * event once.
 */
#ifndef AGENT_EVENT_H
#define AGENT_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/cn_err.h"
#include "lib/cn_str.h"
#include "lib/cn_uuid.h"

struct agent;
struct cluster;
struct agent_events;

struct agent_event {
    char id[CN_UUID_LEN + 1];
    const char *name;
    struct cn_str payload;
    const char *node_filter, *service_filter, *tag_filter; /* "" = none */
    uint64_t ltime;
};

/* Start receiving (registers the cluster's event handler). */
struct agent_events *agent_events_start(struct agent *a, struct cluster *cl);
void agent_events_stop(struct agent_events *ev); /* wakes and drops every waiter */
void agent_events_free(struct agent_events *ev);
/* The agent's event module (agent.c keeps it). */
struct agent_events *agent_events(struct agent *a);

/* Validate (filters are regexes, tag needs service, Consul's size limit)
 * and broadcast. e->id is set here. Errors carry Consul's text. */
int agent_events_fire(struct agent_events *ev, struct agent_event *e, struct cn_err *err);

/* The ring, oldest first; fn returns false to stop. */
typedef bool (*agent_event_fn)(void *ctx, const struct agent_event *e);
void agent_events_list(struct agent_events *ev, agent_event_fn fn, void *ctx);
/* Consul's uuidToUint64: XOR of the UUID's two 64-bit halves. */
uint64_t agent_event_index(const char *id);

/* Call fn(arg) once at the next accepted event (or at stop). */
struct agent_event_wait;
struct agent_event_wait *agent_events_wait(struct agent_events *ev, void (*fn)(void *arg),
                                           void *arg);
void agent_events_wait_cancel(struct agent_event_wait *w);

#endif
