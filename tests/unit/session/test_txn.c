/* /v1/txn through the FSM: all-or-nothing at one index, Consul's error
 * texts, results through the result text; session commands in the FSM. */
#include "lib/cn_arena.h"
#include "rpc/rpc_session.h"
#include "rpc/rpc_txn.h"
#include "server/fsm.h"
#include "session_helpers.h"
#include "test.h"

static int apply_txn(struct state_store *st, uint64_t idx, const struct rpc_txn_op *ops, size_t n,
                     struct cn_arena *a, struct rpc_txn_out *out)
{
    struct cn_buf cmd;
    struct rpc_result res;
    cn_buf_init(&cmd, CN_BUF_UNLIMITED);
    rpc_txn_encode(ops, n, &cmd);
    int rc = server_fsm_apply(st, idx, cmd.data, cmd.len, &res);
    ASSERT_OK(rpc_txn_out_decode(res.text, a, out));
    free(res.text);
    cn_buf_release(&cmd);
    return rc;
}

/* The FSM finds its families through weak symbols, which never pull an
 * object out of a static library: reference them so they link. */
int server_fsm_txn(struct state_txn *tx, struct cn_dec *d, struct rpc_result *res);
int server_fsm_session(struct state_txn *tx, struct cn_dec *d, struct rpc_result *res);
void *unit_session_keep[] = {(void *)server_fsm_txn, (void *)server_fsm_session};

#define OP(v, k, val)                                                                              \
    {                                                                                              \
        .verb = (v), .key = CN_STR(k), .value = CN_STR(val)                                        \
    }

TEST(txn, writes_apply_together_at_one_index)
{
    struct state_store *st = state_new();
    struct cn_arena a;
    struct rpc_txn_out out;
    cn_arena_init(&a, 1024);
    struct rpc_txn_op ops[] = {OP(RPC_TXN_SET, "a", "1"), OP(RPC_TXN_SET, "b", "2"),
                               OP(RPC_TXN_GET, "a", ""), OP(RPC_TXN_DELETE, "zz", "")};
    ASSERT_OK(apply_txn(st, 10, ops, 4, &a, &out));
    ASSERT_EQ(0, (int)out.nerrors);
    ASSERT_EQ(3, (int)out.nresults); /* delete adds none */
    ASSERT(!out.has_value[0]);
    ASSERT(out.has_value[2]);
    ASSERT(cn_str_eq_cstr(out.results[2].value, "1"));
    ASSERT_U64_EQ(10, state_kv_get(st, CN_STR("a"), NULL)->modify_index);
    ASSERT_U64_EQ(10, state_kv_get(st, CN_STR("b"), NULL)->modify_index);
    cn_arena_release(&a);
    state_free(st);
}

TEST(txn, failing_check_index_leaves_nothing)
{
    struct state_store *st = state_new();
    struct cn_arena a;
    struct rpc_txn_out out;
    cn_arena_init(&a, 1024);
    struct rpc_txn_op first[] = {OP(RPC_TXN_SET, "k", "v")};
    ASSERT_OK(apply_txn(st, 5, first, 1, &a, &out));
    struct rpc_txn_op ops[] = {OP(RPC_TXN_SET, "new", "x"), OP(RPC_TXN_DELETE, "k", ""),
                               OP(RPC_TXN_CHECK_INDEX, "k", "")};
    ops[2].index = 4;
    ASSERT_EQ(CN_ECONFLICT, apply_txn(st, 6, ops, 3, &a, &out));
    ASSERT_EQ(1, (int)out.nerrors);
    ASSERT_EQ(2, (int)out.errors[0].op_index);
    ASSERT_STR_EQ("failed to check index, key \"k\" doesn't exist", out.errors[0].what);
    ASSERT(state_kv_get(st, CN_STR("new"), NULL) == NULL);
    ASSERT(state_kv_get(st, CN_STR("k"), NULL) != NULL);
    ASSERT_U64_EQ(5, state_kv_index(st));
    ASSERT_U64_EQ(0, state_tombstone_count(st));
    cn_arena_release(&a);
    state_free(st);
}

TEST(txn, error_texts_match_consul)
{
    struct state_store *st = state_new();
    struct cn_arena a;
    struct rpc_txn_out out;
    cn_arena_init(&a, 1024);
    struct rpc_txn_op first[] = {OP(RPC_TXN_SET, "k", "v")};
    ASSERT_OK(apply_txn(st, 5, first, 1, &a, &out));
    struct {
        struct rpc_txn_op op;
        const char *what;
    } cases[] = {
        {{.verb = RPC_TXN_CAS, .key = CN_STR("k"), .index = 3},
         "failed to set key \"k\", index is stale"},
        {{.verb = RPC_TXN_DELETE_CAS, .key = CN_STR("k"), .index = 3},
         "failed to delete key \"k\", index is stale"},
        {{.verb = RPC_TXN_CHECK_INDEX, .key = CN_STR("k"), .index = 3},
         "failed index check for key \"k\", current modify index 5 != 3"},
        {{.verb = RPC_TXN_CHECK_SESSION, .key = CN_STR("k"), .session = CN_STR("s")},
         "failed session check for key \"k\", current session \"\" != \"s\""},
        {{.verb = RPC_TXN_CHECK_NOT_EXISTS, .key = CN_STR("k")}, "key \"k\" exists"},
        {{.verb = RPC_TXN_GET, .key = CN_STR("nope")}, "key \"nope\" doesn't exist"},
        {{.verb = RPC_TXN_LOCK, .key = CN_STR("k")}, "missing session"},
        {{.verb = RPC_TXN_LOCK, .key = CN_STR("k"), .session = CN_STR("x")},
         "invalid session \"x\""},
        {{.verb = RPC_TXN_UNLOCK, .key = CN_STR("k"), .session = CN_STR("x")},
         "failed to unlock key \"k\", lock isn't held, or is held by another session"},
    };
    for (size_t i = 0; i < CN_ARRAY_SIZE(cases); i++) {
        ASSERT_EQ(CN_ECONFLICT, apply_txn(st, 6 + i, &cases[i].op, 1, &a, &out));
        ASSERT_STR_EQ(cases[i].what, out.errors[0].what);
    }
    cn_arena_release(&a);
    state_free(st);
}

TEST(txn, lock_and_unlock_with_a_session)
{
    struct state_store *st = state_new();
    struct cn_arena a;
    struct rpc_txn_out out;
    struct cn_err err;
    cn_arena_init(&a, 1024);
    node_with_checks(st, 2, "passing");
    struct state_session s = mk_session("s1", "n1"), s2 = mk_session("s2", "n1");
    ASSERT_OK(create(st, 3, &s, &err));
    ASSERT_OK(create(st, 4, &s2, &err));
    struct rpc_txn_op lock = {.verb = RPC_TXN_LOCK, .key = CN_STR("l"), .session = CN_STR("s1")};
    ASSERT_OK(apply_txn(st, 5, &lock, 1, &a, &out));
    ASSERT_U64_EQ(1, out.results[0].lock_index);
    ASSERT_STR_EQ("s1", out.results[0].session);
    lock.session = CN_STR("s2");
    ASSERT_EQ(CN_ECONFLICT, apply_txn(st, 6, &lock, 1, &a, &out));
    ASSERT_STR_EQ("failed to lock key \"l\", lock is already held", out.errors[0].what);
    struct rpc_txn_op unlock = {
        .verb = RPC_TXN_UNLOCK, .key = CN_STR("l"), .session = CN_STR("s1")};
    ASSERT_OK(apply_txn(st, 7, &unlock, 1, &a, &out));
    ASSERT(out.results[0].session == NULL);
    cn_arena_release(&a);
    state_free(st);
}

TEST(txn, read_only_runs_on_the_store)
{
    struct state_store *st = state_new();
    struct cn_arena a;
    struct rpc_txn_out out = {0};
    cn_arena_init(&a, 1024);
    struct rpc_txn_op w[] = {OP(RPC_TXN_SET, "p/a", "1"), OP(RPC_TXN_SET, "p/b", "2")};
    ASSERT_OK(apply_txn(st, 5, w, 2, &a, &out));
    memset(&out, 0, sizeof out);
    struct rpc_txn_op r[] = {OP(RPC_TXN_GET_TREE, "p/", ""), OP(RPC_TXN_GET_OR_EMPTY, "q", "")};
    ASSERT_OK(rpc_txn_exec(NULL, st, r, 2, &a, &out));
    ASSERT_EQ(3, (int)out.nresults);
    ASSERT(cn_str_eq_cstr(out.results[1].value, "2"));
    ASSERT(cn_str_eq_cstr(out.results[2].key, "q"));
    ASSERT_U64_EQ(0, out.results[2].modify_index);
    struct rpc_txn_op bad = OP(RPC_TXN_SET, "x", "1");
    ASSERT(rpc_txn_exec(NULL, st, &bad, 1, &a, &out) != 0); /* no writes without a txn */
    cn_arena_release(&a);
    state_free(st);
}

TEST(txn, session_commands_in_the_fsm)
{
    struct state_store *st = state_new();
    struct cn_buf cmd;
    struct rpc_result res;
    node_with_checks(st, 2, "passing");
    cn_buf_init(&cmd, CN_BUF_UNLIMITED);
    struct rpc_session_cmd c = {.op = RPC_SESSION_CREATE, .s = mk_session("abc", "n1")};
    rpc_session_cmd_encode(&c, &cmd);
    ASSERT_OK(server_fsm_apply(st, 3, cmd.data, cmd.len, &res));
    ASSERT_STR_EQ("abc", res.text);
    free(res.text);
    c = (struct rpc_session_cmd){.op = RPC_SESSION_RENEW, .id = CN_STR("abc")};
    cn_buf_reset(&cmd);
    rpc_session_cmd_encode(&c, &cmd);
    ASSERT(server_fsm_apply(st, 4, cmd.data, cmd.len, &res) != 0); /* the leader answers renew */
    free(res.text);
    c.op = RPC_SESSION_DESTROY;
    cn_buf_reset(&cmd);
    rpc_session_cmd_encode(&c, &cmd);
    ASSERT_OK(server_fsm_apply(st, 5, cmd.data, cmd.len, &res));
    free(res.text);
    ASSERT(!state_session_exists(st, CN_STR("abc")));
    cn_buf_release(&cmd);
    state_free(st);
}
