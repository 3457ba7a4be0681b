/*
 * gossip_io.h - the libuv adapter of the gossip core: one UDP socket and one
 * TCP listener on the same address and port, the core's timer, outgoing
 * stream exchanges (push-pull, TCP ping) and accepted ones, all on the
 * caller's uv_loop_t. No thread, no loop of its own.
 *
 *     struct gossip_io_config c;
 *     gossip_io_config_init(&c);
 *     c.core.name = "node-1";  c.core.addr = <advertise ip:port>;
 *     c.core.tags = tags;  c.core.n_tags = n;  c.core.keys = keys;  c.core.n_keys = k;
 *     gossip_timing_default(&c.core.timing, GOSSIP_PROFILE_LAN);
 *     c.bind = <bind ip:port>;            // port 0 = the advertised port
 *     c.cb = (struct gossip_io_callbacks){.ctx = agent, .member = on_member, ...};
 *     gossip_io_start(loop, &c, &io, &err);
 *     gossip_io_join(io, addrs, n, token, true, &err);   // result in cb.join
 *     ... gossip_io_core(io) for member lists (read-only, on the loop thread)
 *     gossip_io_leave(io);                                // cb.left when done
 *     gossip_io_close(io, on_closed, ctx);                // frees in on_closed
 *
 * The core's random generator is seeded from the OS (all 256 bits) unless
 * the caller already seeded cfg.core.rng (any non-zero state is kept).
 *
 * Callbacks run on the loop thread while an update is being applied. They
 * may call gossip_io_* again: such calls are queued and run right after the
 * current update (synchronous checks, e.g. a user event's size, still
 * happen at the call).
 */
#ifndef GOSSIP_IO_H
#define GOSSIP_IO_H

#include <uv.h>

#include "gossip/gossip.h"

struct gossip_io;

struct gossip_io_callbacks {
    void *ctx;
    void (*member)(void *ctx, const struct gossip_member_change *c);
    void (*event)(void *ctx, const struct gossip_user_event *e);
    void (*join)(void *ctx, const struct gossip_join_result *r);
    void (*key_result)(void *ctx, const struct gossip_key_result *r);
    /* The keyring changed (persist it, e.g. data_dir/serf/local.keyring). */
    void (*keyring)(void *ctx, const struct gossip_key *keys, size_t n);
    /* A graceful leave finished: the pool is silent now; close it. */
    void (*left)(void *ctx);
};

struct gossip_io_config {
    struct gossip_config core;
    struct gossip_addr bind; /* IP to bind; port 0 = core.addr.port (0 there too = any) */
    uint16_t default_port;   /* for join addresses without one (Consul: 8301 LAN, 8302 WAN) */
    struct gossip_io_callbacks cb;
};

void gossip_io_config_init(struct gossip_io_config *cfg);

/* Bind, create the core, arm its timer. 0 or CN_E* / negative uv error with err set. */
int gossip_io_start(uv_loop_t *loop, const struct gossip_io_config *cfg, struct gossip_io **out,
                    struct cn_err *err);
/* Close every handle; on_closed(ctx) runs once all are closed, after the
 * core is freed. Pending joins and key operations are dropped. */
void gossip_io_close(struct gossip_io *io, void (*on_closed)(void *ctx), void *ctx);

/* Read access for member lists, coordinates and stats. Valid until the next
 * loop iteration. */
const struct gossip *gossip_io_core(const struct gossip_io *io);
/* The bound port (useful with port 0). */
uint16_t gossip_io_port(const struct gossip_io *io);

/* "ip", "ip:port", "[v6]:port" or "host[:port]" (resolved asynchronously).
 * The outcome comes once, in cb.join with this token. */
int gossip_io_join(struct gossip_io *io, const char *const *addrs, size_t n, uint64_t token,
                   bool ignore_old, struct cn_err *err);
int gossip_io_leave(struct gossip_io *io);
int gossip_io_user_event(struct gossip_io *io, struct cn_str name, struct cn_str payload,
                         bool coalesce, struct cn_err *err);
int gossip_io_set_tags(struct gossip_io *io, const struct gossip_tag *tags, size_t n,
                       struct cn_err *err);
int gossip_io_force_leave(struct gossip_io *io, const char *name, bool prune, struct cn_err *err);
/* Result in cb.key_result with this token (in the same turn when local_only). */
int gossip_io_key_op(struct gossip_io *io, enum gossip_key_op op, const struct gossip_key *key,
                     bool local_only, uint64_t token, struct cn_err *err);

#endif
