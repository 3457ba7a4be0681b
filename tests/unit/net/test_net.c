/* Framed connections over loopback: echo, ordering, big frames, failures. */
#include <string.h>

#include "lib/cn_common.h"
#include "net/net.h"
#include "test.h"

struct world {
    uv_loop_t loop;
    struct net_listener *l;
    struct net_conn *client;
    int received, closed, connected;
    size_t bytes;
    uint32_t expect_next;
    bool order_ok;
};

/* Server side: echo every frame back with type + 1. */
static void srv_frame(void *ctx, struct net_conn *c, uint8_t type, const uint8_t *p, size_t n)
{
    (void)ctx;
    net_send(c, (uint8_t)(type + 1), p, n);
}

static void srv_close(void *ctx, struct net_conn *c, int status)
{
    (void)ctx;
    (void)c;
    (void)status;
}

static const struct net_handler srv_h = {.on_frame = srv_frame, .on_close = srv_close};

static void cli_frame(void *ctx, struct net_conn *c, uint8_t type, const uint8_t *p, size_t n)
{
    struct world *w = ctx;
    uint32_t seq;
    (void)c;
    if (type != 2 || n < 4) return;
    memcpy(&seq, p, 4);
    if (seq != w->expect_next) w->order_ok = false;
    w->expect_next++;
    w->received++;
    w->bytes += n;
    if (w->received == 1000) {
        net_close(w->client);
        net_listener_close(w->l);
    }
}

static void cli_connect(void *ctx, struct net_conn *c)
{
    struct world *w = ctx;
    (void)c;
    w->connected++;
}

static void cli_close(void *ctx, struct net_conn *c, int status)
{
    struct world *w = ctx;
    (void)c;
    (void)status;
    w->closed++;
}

static const struct net_handler cli_h = {
    .on_frame = cli_frame, .on_connect = cli_connect, .on_close = cli_close};

TEST(net, frames_echo_in_order_including_large_ones)
{
    struct world w = {.order_ok = true};
    struct cn_err err;
    char addr[64];
    uv_loop_init(&w.loop);
    ASSERT_OK(net_listen(&w.loop, "127.0.0.1", 0, &srv_h, &w, &w.l, &err));
    snprintf(addr, sizeof addr, "127.0.0.1:%d", net_listener_port(w.l));
    w.client = net_connect(&w.loop, addr, &cli_h, &w);
    ASSERT(w.client != NULL);
    static uint8_t big[300000];
    for (uint32_t i = 0; i < 1000; i++) {
        size_t n = i % 100 == 0 ? sizeof big : 4 + i % 50;
        memcpy(big, &i, 4);
        ASSERT_OK(net_send(w.client, 1, big, n)); /* queued before connect, then sent */
    }
    uv_run(&w.loop, UV_RUN_DEFAULT);
    ASSERT_EQ(1, w.connected);
    ASSERT_EQ(1000, w.received);
    ASSERT(w.order_ok);
    ASSERT_EQ(1, w.closed);
    ASSERT_OK(uv_loop_close(&w.loop));
}

static void fail_close(void *ctx, struct net_conn *c, int status)
{
    int *st = ctx;
    (void)c;
    *st = status;
}

static const struct net_handler fail_h = {.on_frame = cli_frame, .on_close = fail_close};

TEST(net, connect_failure_reports_close)
{
    uv_loop_t loop;
    int status = 0;
    uv_loop_init(&loop);
    /* port 1 on loopback: refused */
    struct net_conn *c = net_connect(&loop, "127.0.0.1:1", &fail_h, &status);
    ASSERT(c != NULL);
    net_send(c, 1, "x", 1);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ(CN_EIO, status);
    ASSERT(net_connect(&loop, "not an address", &fail_h, &status) == NULL);
    uv_loop_close(&loop);
}

TEST(net, parse_addresses)
{
    struct sockaddr_storage ss;
    ASSERT_OK(net_parse_addr("10.0.0.1:8300", 0, &ss));
    ASSERT_OK(net_parse_addr("10.0.0.1", 8300, &ss));
    ASSERT_OK(net_parse_addr("[::1]:8300", 0, &ss));
    ASSERT_EQ(CN_EINVAL, net_parse_addr("10.0.0.1:99999", 0, &ss));
    ASSERT_EQ(CN_EINVAL, net_parse_addr("host.example:1", 0, &ss));
}
