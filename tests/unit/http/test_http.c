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

/* ---- stale reads: the query rewriting the router does ---------------------------- */

/* A request as the connection leaves it (inputs need no unescaping). */
static void fake_req(struct http_req *r, const struct http_config *cfg, unsigned method,
                     const char *url)
{
    memset(r, 0, sizeof *r);
    cn_arena_init(&r->arena, 4096);
    r->cfg = cfg;
    r->method = method;
    const char *q = strchr(url, '?');
    r->path = cn_arena_strndup(&r->arena, url, q ? (size_t)(q - url) : strlen(url));
    r->raw_url = cn_arena_strdup(&r->arena, url);
    r->raw_query = cn_arena_strdup(&r->arena, q ? q + 1 : "");
    r->params = CN_ARENA_ARRAY(&r->arena, struct http_param, 16);
    char *rest = cn_arena_strdup(&r->arena, r->raw_query), *save = NULL;
    for (char *kv = strtok_r(rest, "&", &save); kv && r->nparams < 16;
         kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (eq) *eq = '\0';
        r->params[r->nparams++] = (struct http_param){kv, eq ? eq + 1 : ""};
    }
}

TEST(http, discovery_max_stale_names_max_stale_on_catalog_and_health_reads)
{
    struct http_config cfg = {.discovery_max_stale_ns = 2000000000};
    struct http_req r;
    fake_req(&r, &cfg, M_GET, "/v1/health/service/web?passing&max_stale=0");
    http__apply_discovery_max_stale(&r);
    ASSERT_STR_EQ("/v1/health/service/web?passing&max_stale=2000000000ns", r.raw_url);
    ASSERT_STR_EQ("passing&max_stale=2000000000ns", r.raw_query);
    ASSERT_STR_EQ("2000000000ns", http_param(&r, "max_stale"));
    ASSERT_EQ(2, (int)r.nparams);
    ASSERT(http_read_allows_stale(&r));
    ASSERT_EQ(2000000000, http_max_stale_bound(&r));
    cn_arena_release(&r.arena);
    /* a mode the caller chose, another endpoint, a write: left alone */
    const char *kept[] = {"/v1/catalog/nodes?stale", "/v1/catalog/nodes?consistent",
                          "/v1/catalog/nodes?leader", "/v1/catalog/nodes?cached",
                          "/v1/catalog/nodes?max_stale=1s", "/v1/kv/a"};
    for (size_t i = 0; i < CN_ARRAY_SIZE(kept); i++) {
        fake_req(&r, &cfg, M_GET, kept[i]);
        http__apply_discovery_max_stale(&r);
        ASSERT_STR_EQ(kept[i], r.raw_url);
        cn_arena_release(&r.arena);
    }
    fake_req(&r, &cfg, M_PUT, "/v1/catalog/register");
    http__apply_discovery_max_stale(&r);
    ASSERT_STR_EQ("/v1/catalog/register", r.raw_url);
    cn_arena_release(&r.arena);
    cfg.discovery_max_stale_ns = 0;
    fake_req(&r, &cfg, M_GET, "/v1/catalog/nodes");
    http__apply_discovery_max_stale(&r);
    ASSERT_STR_EQ("/v1/catalog/nodes", r.raw_url);
    cn_arena_release(&r.arena);
}

TEST(http, max_stale_bounds_only_the_reads_consul_retries)
{
    struct http_config cfg = {0};
    struct http_req r;
    static const struct {
        unsigned method;
        const char *url;
        bool stale;
        int64_t bound;
    } cases[] = {
        {M_GET, "/v1/catalog/service/web?max_stale=1s", true, 1000000000},
        {M_GET, "/v1/health/node/n1?stale&max_stale=250ms", true, 250000000},
        {M_GET, "/v1/query/q1/execute?max_stale=3s", true, 3000000000},
        {M_GET, "/v1/query?max_stale=3s", true, 3000000000},
        {M_GET, "/v1/catalog/nodes?stale", true, 0},
        {M_GET, "/v1/catalog/nodes?max_stale=0", false, 0},
        {M_GET, "/v1/catalog/nodes?max_stale=zz", false, 0},
        {M_GET, "/v1/kv/a?max_stale=1s", true, 0},   /* Consul: plain ?stale */
        {M_GET, "/v1/catalog/nodes?max_stale=1s&consistent", true, 0}, /* the 400 */
        {M_PUT, "/v1/catalog/register?max_stale=1s", false, 0},
    };
    for (size_t i = 0; i < CN_ARRAY_SIZE(cases); i++) {
        fake_req(&r, &cfg, cases[i].method, cases[i].url);
        ASSERT_EQ(cases[i].stale, http_read_allows_stale(&r));
        ASSERT_EQ(cases[i].bound, http_max_stale_bound(&r));
        cn_arena_release(&r.arena);
    }
}

TEST(http, default_mode_drops_stale_and_max_stale)
{
    struct http_config cfg = {0};
    struct http_req r;
    fake_req(&r, &cfg, M_GET, "/v1/catalog/nodes?max_stale=5s&near=n1&stale&index=7");
    http_read_in_default_mode(&r);
    ASSERT_STR_EQ("/v1/catalog/nodes?near=n1&index=7", r.raw_url);
    ASSERT_EQ(2, (int)r.nparams);
    ASSERT(!http_read_allows_stale(&r));
    ASSERT_STR_EQ("n1", http_param(&r, "near"));
    ASSERT_STR_EQ("7", http_param(&r, "index"));
    cn_arena_release(&r.arena);
    fake_req(&r, &cfg, M_GET, "/v1/health/service/web?stale");
    http_read_in_default_mode(&r);
    ASSERT_STR_EQ("/v1/health/service/web", r.raw_url);
    ASSERT_STR_EQ("", r.raw_query);
    ASSERT_EQ(0, (int)r.nparams);
    cn_arena_release(&r.arena);
}
