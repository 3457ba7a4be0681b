/* The libuv adapter on real loopback sockets: three pools on one loop join,
 * exchange a user event (fired from inside a callback, so deferred), one
 * leaves gracefully, a stranger with the wrong key is refused, all close. */
#include <string.h>
#include <uv.h>

#include "gossip/io/gossip_io.h"
#include "lib/cn_err.h"
#include "test.h"

#define N 3

struct node {
    struct gossip_io *io;
    int members_alive;
    int events;
    int joined;
    int join_failed;
    bool left;
    bool closed;
    bool fired;
};

static struct node nodes[N + 1];
static uv_loop_t loop;

static void on_member(void *ctx, const struct gossip_member_change *c)
{
    struct node *n = ctx;
    if (c->kind == GOSSIP_MEMBER_JOIN) n->members_alive++;
    if (c->kind == GOSSIP_MEMBER_LEAVE || c->kind == GOSSIP_MEMBER_FAILED) n->members_alive--;
    /* re-entrant use: fire an event from inside a callback, once everyone is in */
    if (n == &nodes[0] && n->members_alive == N && !n->fired) {
        n->fired = true;
        struct cn_err err;
        if (gossip_io_user_event(n->io, cn_str_from("hello"), cn_str_from("world"), false, &err))
            FAIL("deferred user event: %s", err.msg);
    }
}

static void on_event(void *ctx, const struct gossip_user_event *e)
{
    struct node *n = ctx;
    if (cn_str_eq(e->name, cn_str_from("hello"))) n->events++;
}

static void on_join(void *ctx, const struct gossip_join_result *r)
{
    struct node *n = ctx;
    if (r->rc == 0)
        n->joined++;
    else
        n->join_failed++;
}

static void on_left(void *ctx)
{
    ((struct node *)ctx)->left = true;
}

static void on_closed(void *ctx)
{
    ((struct node *)ctx)->closed = true;
}

static struct gossip_key key_of(uint8_t b)
{
    struct gossip_key k = {.len = 16};
    memset(k.bytes, b, 16);
    return k;
}

static void start(int i, const struct gossip_key *key)
{
    struct gossip_io_config cfg;
    gossip_io_config_init(&cfg);
    char name[16];
    snprintf(name, sizeof name, "io%d", i);
    cfg.core.name = name;
    ASSERT_OK(gossip_addr_parse(cn_str_from("127.0.0.1"), 1, &cfg.bind));
    cfg.bind.port = 0; /* any free port; the advertised one follows */
    cfg.core.addr = cfg.bind;
    gossip_timing_default(&cfg.core.timing, GOSSIP_PROFILE_DEV);
    cfg.core.keys = key;
    cfg.core.n_keys = 1;
    cfg.cb = (struct gossip_io_callbacks){.ctx = &nodes[i], .member = on_member, .event = on_event,
                                          .join = on_join, .left = on_left};
    struct cn_err err;
    if (gossip_io_start(&loop, &cfg, &nodes[i].io, &err)) FAIL("start: %s", err.msg);
    ASSERT(gossip_io_port(nodes[i].io) != 0);
}

static bool run_until(bool (*done)(void), uint64_t ms)
{
    uint64_t end = uv_now(&loop) + ms;
    while (!done() && uv_now(&loop) < end) uv_run(&loop, UV_RUN_ONCE);
    return done();
}

static bool all_joined(void)
{
    for (int i = 0; i < N; i++)
        if (nodes[i].members_alive != N) return false;
    return true;
}

static bool all_got_event(void)
{
    for (int i = 0; i < N; i++)
        if (nodes[i].events != 1) return false;
    return true;
}

static bool stranger_done(void)
{
    return nodes[N].join_failed + nodes[N].joined > 0;
}

static bool two_left(void)
{
    return nodes[2].left && nodes[0].members_alive == N - 1 && nodes[1].members_alive == N - 1;
}

static bool all_closed(void)
{
    for (int i = 0; i <= N; i++)
        if (!nodes[i].closed) return false;
    return true;
}

static uv_timer_t tick;
static void on_tick(uv_timer_t *t)
{
}

TEST(gossip_io, pools_on_loopback)
{
    memset(nodes, 0, sizeof nodes);
    ASSERT_OK(uv_loop_init(&loop));
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 10, 10); /* keep UV_RUN_ONCE from blocking long */
    struct gossip_key k = key_of(7), wrong = key_of(8);
    for (int i = 0; i < N; i++) start(i, &k);
    char seed[32];
    snprintf(seed, sizeof seed, "127.0.0.1:%u", gossip_io_port(nodes[0].io));
    const char *addrs[] = {seed, "localhost:1"}; /* a name, resolved; nobody listens there */
    struct cn_err err;
    for (int i = 1; i < N; i++) ASSERT_OK(gossip_io_join(nodes[i].io, addrs, 2, 1, true, &err));
    ASSERT(run_until(all_joined, 5000));
    ASSERT_EQ(1, nodes[1].joined); /* one of two answered: a success */
    ASSERT(run_until(all_got_event, 5000));

    /* a member with another key cannot join */
    start(N, &wrong);
    const char *one[] = {seed};
    ASSERT_OK(gossip_io_join(nodes[N].io, one, 1, 2, true, &err));
    ASSERT(run_until(stranger_done, 5000));
    ASSERT_EQ(1, nodes[N].join_failed);
    struct gossip_stats st;
    gossip_stats(gossip_io_core(nodes[0].io), &st);
    ASSERT(st.rejected_packets >= 1);

    ASSERT_OK(gossip_io_leave(nodes[2].io));
    ASSERT(run_until(two_left, 5000));
    for (int i = 0; i <= N; i++) gossip_io_close(nodes[i].io, on_closed, &nodes[i]);
    ASSERT(run_until(all_closed, 5000));
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_OK(uv_loop_close(&loop));
}
