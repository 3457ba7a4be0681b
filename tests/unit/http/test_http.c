/* The HTTP glue over a real loopback socket: an in-process server on its own
 * loop (the dev server backend behind it) and a blocking client thread. */
#include <arpa/inet.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acl/acl.h"
#include "http/http.h"
#include "http/http_int.h"
#include "rpc/rpc.h"
#include "server/server.h"
#include "state/state.h"
#include "test.h"

struct fixture {
    uv_loop_t loop;
    struct state_store *st;
    struct server *srv;
    struct acl_resolver *acl;
    struct rpc *rpc;
    struct http_server *http;
    int port;
    uv_async_t stop;
};

static void on_stop(uv_async_t *h)
{
    struct fixture *f = h->data;
    http_server_close(f->http);
    server_free(f->srv);
    uv_close((uv_handle_t *)h, NULL);
}

static void setup(struct fixture *f)
{
    struct cn_err err;
    uv_loop_init(&f->loop);
    f->st = state_new();
    struct server_config sc = {.node_name = "t", .node_id = "11111111-2222-3333-4444-555555555555",
                               .datacenter = "dc1", .rpc_addr = "127.0.0.1:8300", .dev = true};
    ASSERT_OK(server_new(&f->loop, &sc, NULL, f->st, &f->srv, &err));
    struct acl_config ac = {.default_allow = true};
    f->acl = acl_resolver_new(&ac);
    struct rpc_config rc = {.datacenter = "dc1"};
    f->rpc = rpc_new(&rc, f->st, server_backend_ops(), f->srv, f->acl);
    struct http_config hc = {.kv_max_value = 1024};
    struct http_env env = {.rpc = f->rpc, .acl = f->acl};
    f->http = http_server_new(&f->loop, &hc, &env);
    ASSERT_OK(http_server_listen(f->http, "127.0.0.1", 0, &err));
    f->port = http_server_port(f->http);
    ASSERT(f->port > 0);
    uv_async_init(&f->loop, &f->stop, on_stop);
    f->stop.data = f;
}

struct client {
    int port;
    const char *send;
    char reply[65536];
    size_t n;
    struct fixture *f;
};

static void *client_main(void *arg)
{
    struct client *c = arg;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        if (write(fd, c->send, strlen(c->send)) < 0) c->n = 0;
        ssize_t got;
        while (c->n < sizeof c->reply - 1 && (got = read(fd, c->reply + c->n, sizeof c->reply - 1 - c->n)) > 0)
            c->n += (size_t)got;
    }
    close(fd);
    c->reply[c->n] = '\0';
    uv_async_send(&c->f->stop);
    return NULL;
}

static void exchange(const char *request, struct client *c)
{
    struct fixture f;
    pthread_t th;
    setup(&f);
    memset(c, 0, sizeof *c);
    c->port = f.port;
    c->send = request;
    c->f = &f;
    pthread_create(&th, NULL, client_main, c);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    pthread_join(th, NULL);
    uv_loop_close(&f.loop);
    rpc_free(f.rpc);
    acl_resolver_free(f.acl);
    state_free(f.st);
}

TEST(http, put_then_get_pipelined_on_one_connection)
{
    struct client c;
    exchange("PUT /v1/kv/k HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
             "GET /v1/kv/k?raw HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
             &c);
    char *second = strstr(c.reply + 1, "HTTP/1.1 200 OK");
    ASSERT(strncmp(c.reply, "HTTP/1.1 200 OK", 15) == 0);
    ASSERT(second != NULL);
    ASSERT(strstr(second, "\r\n\r\nhi") != NULL);
    ASSERT(strstr(second, "Connection: close") != NULL);
}

TEST(http, body_over_the_route_limit_is_413_before_it_is_read)
{
    struct client c;
    exchange("PUT /v1/kv/k HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n", &c);
    ASSERT(strncmp(c.reply, "HTTP/1.1 413 Request Entity Too Large", 37) == 0);
    ASSERT(strstr(c.reply, "max size: 1024 bytes") != NULL);
}

TEST(http, malformed_request_is_400_and_closes)
{
    struct client c;
    exchange("GARBAGE\r\n\r\n", &c);
    ASSERT(strncmp(c.reply, "HTTP/1.1 400", 12) == 0);
}

TEST(http, keep_alive_by_default_for_http11)
{
    struct client c;
    /* two requests; the first must not close the connection */
    exchange("GET /v1/status/leader HTTP/1.1\r\nHost: x\r\n\r\n"
             "GET /v1/status/peers HTTP/1.0\r\n\r\n",
             &c);
    ASSERT(strstr(c.reply, "\"127.0.0.1:8300\"") != NULL);
    ASSERT(strstr(c.reply, "[\"127.0.0.1:8300\"]") != NULL);
}

TEST(http, route_table_lookup)
{
    const struct http_route *r = http_route_find("/v1/kv/a/b");
    ASSERT(r != NULL && strcmp(r->path, "/v1/kv/") == 0);
    ASSERT(http_route_find("/v1/kv") == r);
    ASSERT(http_route_find("/v1/status/leader") != NULL);
    ASSERT(http_route_find("/v1/status/leaderx") == NULL);
    ASSERT(http_route_find("/v2/kv/a") == NULL);
    size_t n;
    const struct http_route *all = http_routes(&n);
    ASSERT(n >= 3);
    for (size_t i = 0; i < n; i++) ASSERT(all[i].handler != NULL && all[i].methods != 0);
}
