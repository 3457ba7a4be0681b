/*
 * simnet.h - many gossip cores on one simulated network, one thread, a
 * seeded schedule: the harness under sim_gossip and the multi-node unit tests.
 *
 * Time is virtual milliseconds. A binary heap orders deliveries, wake-ups and
 * connection timeouts (FIFO among equal times), so a run is a function of its
 * seed. The network: per-packet latency uniform in [lat_min, lat_max] ms,
 * loss (global, or per link through a callback), partitions (a group per
 * node; packets and streams between groups vanish), killed nodes (packets
 * dropped, connections refused), and CPU-starved nodes whose incoming
 * packets wait a random extra delay before they are processed.
 *
 * Streams (TCP) are reliable but cut by partitions; a refused or timed-out
 * connection is reported to the requester as the real adapter would.
 */
#ifndef SIMNET_H
#define SIMNET_H

#include <stdbool.h>
#include <stdint.h>

#include "gossip/gossip.h"
#include "gossip/gossip_int.h"

struct simnet;

struct simnode {
    struct gossip *g; /* NULL while killed */
    struct gossip_addr addr;
    char name[32];
    uint32_t epoch;    /* incremented at each restart */
    uint32_t group;    /* partition group */
    uint32_t slow_ms;  /* > 0: CPU-starved, packets wait up to this long */
    bool left;         /* finished a graceful leave */
    uint64_t wake_ms;  /* scheduled wake-up, UINT64_MAX if none */
    uint64_t bytes_sent, packets_sent, stream_bytes_sent;
    uint64_t bytes_recv, packets_recv;
};

struct simnet_hooks {
    void *ctx;
    void (*change)(void *ctx, uint32_t node, const struct gossip_member_change *c);
    void (*event)(void *ctx, uint32_t node, const struct gossip_user_event *e);
    void (*join)(void *ctx, uint32_t node, const struct gossip_join_result *r);
    void (*key_result)(void *ctx, uint32_t node, const struct gossip_key_result *r);
    /* Probability that a packet from -> to is lost; NULL = the global loss. */
    double (*loss)(void *ctx, uint32_t from, uint32_t to);
    /* One-way latency from -> to in ms; NULL = uniform [lat_min, lat_max]. */
    uint32_t (*latency)(void *ctx, uint32_t from, uint32_t to);
};

struct simnet_config {
    uint64_t seed;
    struct gossip_timing timing;
    uint32_t lat_min_ms, lat_max_ms;
    double loss;
    double corrupt; /* probability that a delivered packet has one byte flipped */
    bool coordinates;
    const struct gossip_key *keys;
    size_t n_keys;
    bool share_records; /* one struct gossip_intern for all cores */
    bool check_invariants; /* gossip_check_invariants after every step */
    struct simnet_hooks hooks;
    /* Optional tags for node i (written into out, returns count). */
    size_t (*tags)(void *ctx, uint32_t node, struct gossip_tag *out, char *storage, size_t cap);
};

struct simnet *simnet_new(const struct simnet_config *cfg);
void simnet_free(struct simnet *net);

uint64_t simnet_now(const struct simnet *net);
uint32_t simnet_count(const struct simnet *net);
struct simnode *simnet_node(struct simnet *net, uint32_t i);
struct cn_rand *simnet_rng(struct simnet *net);

/* Add a node (named "n<i>", address 10.x.y.z:7946); it starts alone. */
uint32_t simnet_add(struct simnet *net);
/* Make every node know every other as alive (no traffic): a formed cluster. */
void simnet_bootstrap(struct simnet *net);

/* Commands (each is one gossip_step on that node now); return its rc. */
int simnet_join(struct simnet *net, uint32_t i, uint32_t to);
int simnet_leave(struct simnet *net, uint32_t i);
int simnet_fire(struct simnet *net, uint32_t i, const char *name, const char *payload, bool cc);
int simnet_set_tags(struct simnet *net, uint32_t i, const struct gossip_tag *tags, size_t n);
int simnet_force_leave(struct simnet *net, uint32_t i, const char *name, bool prune);
int simnet_key_op(struct simnet *net, uint32_t i, enum gossip_key_op op,
                  const struct gossip_key *key, bool local_only);
int simnet_step(struct simnet *net, uint32_t i, const struct gossip_event *ev);

/* kill -9: the core vanishes, packets to it are dropped. */
void simnet_kill(struct simnet *net, uint32_t i);
/* A fresh core under the same name and address (incarnation starts over). */
void simnet_restart(struct simnet *net, uint32_t i);
void simnet_set_group(struct simnet *net, uint32_t i, uint32_t group);
void simnet_set_loss(struct simnet *net, double loss);
void simnet_set_latency(struct simnet *net, uint32_t (*fn)(void *ctx, uint32_t from, uint32_t to));
void simnet_heal(struct simnet *net);

/* Run the schedule until virtual time t (inclusive). */
void simnet_run_until(struct simnet *net, uint64_t t);
/* Run until pred(ctx) is true or time t; returns true if pred held. Checked
 * every check_ms of virtual time. */
bool simnet_run_while(struct simnet *net, uint64_t t, uint32_t check_ms,
                      bool (*pred)(void *ctx, struct simnet *net), void *ctx);

/* Does node i see node j with this status? */
enum gossip_status simnet_view(struct simnet *net, uint32_t i, uint32_t j);
/* Every live node sees every live node alive (and only those are alive). */
bool simnet_converged(struct simnet *net);

struct simnet_totals {
    uint64_t packets, bytes, stream_bytes, delivered, dropped, corrupted, streams;
};
void simnet_totals(const struct simnet *net, struct simnet_totals *out);

#endif
