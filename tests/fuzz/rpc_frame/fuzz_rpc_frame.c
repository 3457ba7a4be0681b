/* fuzz_rpc_frame - the server RPC port's framing under libFuzzer.
 *
 * Each input is written down a real loopback TCP connection into a net
 * listener and the connection is closed. Whatever the bytes, the reader must
 * hand up only whole frames that lie inside the input, in order, refuse a
 * bad length by closing, and always reach on_close (no hang, no leak). The
 * frame bodies' own decoders have their harnesses (raft_msg, command, http). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t loop;
static struct net_listener *listener;
static int port;
static size_t consumed, input_size;
static bool closed;

static void on_frame(void *ctx, struct net_conn *c, uint8_t type, const uint8_t *p, size_t n)
{
    (void)ctx, (void)c, (void)type;
    volatile uint8_t sum = 0;
    for (size_t i = 0; i < n; i++) sum ^= p[i]; /* ASan: the body is readable */
    consumed += 5 + n;
    if (consumed > input_size) abort(); /* a frame that was never sent */
}

static void on_close(void *ctx, struct net_conn *c, int status)
{
    (void)ctx, (void)c, (void)status;
    closed = true;
}

static const struct net_handler handler = {.on_frame = on_frame, .on_close = on_close};

static void setup(void)
{
    struct cn_err err;
    uv_loop_init(&loop);
    if (net_listen(&loop, "127.0.0.1", 0, &handler, NULL, &listener, &err)) abort();
    port = net_listener_port(listener);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!listener) setup();
    consumed = 0;
    input_size = size;
    closed = false;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa)) abort();
    /* inputs are small (libFuzzer's -max_len): the socket buffer holds them */
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0) break; /* the reader refused a bad length and closed */
        off += (size_t)w;
    }
    close(fd);
    for (int i = 0; !closed && i < 100000; i++) uv_run(&loop, UV_RUN_ONCE);
    if (!closed) abort(); /* the connection must end when its peer does */
    return 0;
}
