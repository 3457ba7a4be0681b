/*
 * net.h - framed TCP connections between agents (the server RPC port).
 *
 * A frame is [u32 little-endian length][u8 type][payload], length counting
 * the type byte. One connection carries many interleaved exchanges (Raft
 * messages, forwarded requests, their answers); the layer above matches
 * answers to requests by its own ids. Frames are delivered whole, in order,
 * on the loop thread. Sending copies the payload into the connection's write
 * queue; a peer too slow to drain a bounded queue is disconnected (Raft and
 * forwarding both retry), so a stuck peer cannot grow our memory.
 * Connections to an address not yet reachable queue frames until connected
 * or failed.
 */
#ifndef NET_H
#define NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <uv.h>

#include "lib/cn_err.h"

#define NET_FRAME_MAX (64u << 20)
#define NET_QUEUE_MAX (256u << 20)

struct net_conn;
struct net_listener;

struct net_handler {
    /* A whole frame arrived. p is valid for the call only. */
    void (*on_frame)(void *ctx, struct net_conn *c, uint8_t type, const uint8_t *p, size_t n);
    /* Connected (outbound only). */
    void (*on_connect)(void *ctx, struct net_conn *c);
    /* Closed or failed; c is freed after this returns. */
    void (*on_close)(void *ctx, struct net_conn *c, int status);
};

int net_listen(uv_loop_t *loop, const char *ip, int port, const struct net_handler *h, void *ctx,
               struct net_listener **out, struct cn_err *err);
void net_listener_close(struct net_listener *l);
int net_listener_port(const struct net_listener *l);

/* Connect to "ip:port" (IPv4, or [v6]:port). Frames sent before the
 * connection is up wait for it. Returns NULL on a malformed address. */
struct net_conn *net_connect(uv_loop_t *loop, const char *addr, const struct net_handler *h,
                             void *ctx);
/* Queue one frame made of the concatenated iov pieces. CN_ECLOSED when the
 * connection is closing; CN_ETOOBIG for a frame over NET_FRAME_MAX. */
int net_sendv(struct net_conn *c, uint8_t type, const struct iovec *iov, int n);
int net_send(struct net_conn *c, uint8_t type, const void *p, size_t n);
/* Close (idempotent); on_close runs later with CN_ECLOSED. */
void net_close(struct net_conn *c);
bool net_is_connected(const struct net_conn *c);
const char *net_peer(const struct net_conn *c); /* "ip:port" */
void net_set_data(struct net_conn *c, void *data);
void *net_get_data(const struct net_conn *c);

/* "ip:port" / "[v6]:port" into a sockaddr; default_port when none given. */
int net_parse_addr(const char *addr, int default_port, struct sockaddr_storage *out);

#endif
