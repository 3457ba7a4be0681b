/* The leader's side (server/sessions.c): session IDs drawn before proposing,
 * renew answered without proposing, lock-delay refusals from the store's
 * lock-delay records, TTL timers armed from the store. */
#include <uv.h>

#include "lib/cn_arena.h"
#include "lib/cn_uuid.h"
#include "rpc/rpc_session.h"
#include "server/sessions.h"
#include "session_helpers.h"
#include "test.h"

struct answer {
    int calls, rc;
    bool ok;
    char text[128];
};

static void on_applied(void *arg, int rc, struct rpc_result *res)
{
    struct answer *a = arg;
    a->calls++;
    a->rc = rc;
    a->ok = res->ok;
    snprintf(a->text, sizeof a->text, "%s", res->text ? res->text : "");
}

static bool filter(struct server_sessions *ss, struct cn_buf *cmd, const void **out, size_t *outlen,
                   rpc_applied_fn *fn, void **arg, struct answer *a)
{
    *out = cmd->data;
    *outlen = cmd->len;
    *fn = on_applied;
    *arg = a;
    return server_sessions_filter(ss, out, outlen, fn, arg);
}

TEST(leader, lock_delay_refuses_acquire_until_the_deadline)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct state_store *st = state_new();
    struct server_sessions *ss = server_sessions_new(&loop, st, NULL);
    struct cn_err err;
    node_with_checks(st, 2, "passing");
    struct state_session s = mk_session("s1", "n1");
    s.lock_delay_ns = 300 * 1000000LL;
    ASSERT_OK(create(st, 3, &s, &err));
    ASSERT(lock_key(st, 4, "k", "s1"));
    destroy(st, 5, "s1"); /* commits: the lock-delay watch records k */
    ASSERT_EQ(1, (int)server_sessions_lock_delays(ss));
    struct cn_buf cmd;
    cn_buf_init(&cmd, CN_BUF_UNLIMITED);
    struct rpc_kvs_cmd kc = {.op = RPC_KVS_LOCK, .key = CN_STR("k"), .session = CN_STR("s2")};
    rpc_kvs_encode(&kc, &cmd);
    struct answer a = {0};
    const void *out;
    size_t len;
    rpc_applied_fn fn;
    void *arg;
    ASSERT(filter(ss, &cmd, &out, &len, &fn, &arg, &a));
    ASSERT_EQ(0, a.calls); /* answered from the loop, never inside the submit */
    uv_run(&loop, UV_RUN_NOWAIT);
    ASSERT_EQ(1, a.calls);
    ASSERT(!a.ok);
    kc.key = CN_STR("other"); /* another key is not delayed */
    cn_buf_reset(&cmd);
    rpc_kvs_encode(&kc, &cmd);
    ASSERT(!filter(ss, &cmd, &out, &len, &fn, &arg, &a));
    uv_sleep(350);
    kc.key = CN_STR("k");
    cn_buf_reset(&cmd);
    rpc_kvs_encode(&kc, &cmd);
    ASSERT(!filter(ss, &cmd, &out, &len, &fn, &arg, &a)); /* past the deadline */
    server_sessions_free(ss);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_OK(uv_loop_close(&loop));
    cn_buf_release(&cmd);
    state_free(st);
}

TEST(leader, create_gets_an_id_and_renew_is_answered)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct state_store *st = state_new();
    struct server_sessions *ss = server_sessions_new(&loop, st, NULL);
    struct cn_err err;
    node_with_checks(st, 2, "passing");
    server_sessions_leader(ss, true);
    struct cn_buf cmd;
    cn_buf_init(&cmd, CN_BUF_UNLIMITED);
    struct rpc_session_cmd c = {.op = RPC_SESSION_CREATE, .s = mk_session("", "n1")};
    c.s.ttl = "10s";
    rpc_session_cmd_encode(&c, &cmd);
    struct answer a = {0};
    const void *out;
    size_t len;
    rpc_applied_fn fn;
    void *arg;
    ASSERT(!filter(ss, &cmd, &out, &len, &fn, &arg, &a)); /* replaced, to be proposed */
    ASSERT(fn != on_applied);
    struct cn_dec d;
    struct cn_arena ar;
    enum rpc_cmd_type type;
    struct rpc_session_cmd got;
    cn_arena_init(&ar, 512);
    ASSERT_OK(rpc_cmd_open(&d, out, len, &type));
    ASSERT_OK(rpc_session_cmd_decode(&d, &ar, &got));
    ASSERT(cn_uuid_valid(cn_str_from(got.s.id)));
    /* what the FSM would do, then the wrapped callback arms the timer */
    ASSERT_OK(create(st, 3, &got.s, &err));
    struct rpc_result res = {.ok = true, .text = got.s.id};
    fn(arg, 0, &res);
    ASSERT_EQ(1, a.calls);
    ASSERT_EQ(1, (int)server_sessions_timers(ss));
    /* renew of it: answered, not proposed */
    struct rpc_session_cmd r = {.op = RPC_SESSION_RENEW, .id = cn_str_from(got.s.id)};
    cn_buf_reset(&cmd);
    rpc_session_cmd_encode(&r, &cmd);
    struct answer b = {0};
    ASSERT(filter(ss, &cmd, &out, &len, &fn, &arg, &b));
    uv_run(&loop, UV_RUN_NOWAIT);
    ASSERT_EQ(0, b.rc);
    r.id = CN_STR("nope");
    cn_buf_reset(&cmd);
    rpc_session_cmd_encode(&r, &cmd);
    ASSERT(filter(ss, &cmd, &out, &len, &fn, &arg, &b));
    uv_run(&loop, UV_RUN_NOWAIT);
    ASSERT_EQ(CN_ENOENT, b.rc);
    ASSERT_STR_EQ("Session id 'nope' not found", b.text);
    /* losing leadership stops the timers; gaining it re-arms from the store */
    server_sessions_leader(ss, false);
    ASSERT_EQ(0, (int)server_sessions_timers(ss));
    server_sessions_leader(ss, true);
    ASSERT_EQ(1, (int)server_sessions_timers(ss));
    server_sessions_free(ss);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_OK(uv_loop_close(&loop));
    cn_arena_release(&ar);
    cn_buf_release(&cmd);
    state_free(st);
}
