/* The register/deregister commands: round trips and bad input. */
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "rpc/rpc_cmd.h"

TEST(cmd_catalog, register_roundtrip)
{
    struct state_node n = mk_node("n1", "10.0.0.1");
    struct state_pair meta[] = {{"a", "b"}};
    n.meta = meta;
    n.nmeta = 1;
    struct state_service s = mk_svc("w1", "web", 80);
    char *tags[] = {"x", "y"};
    s.tags = tags;
    s.ntags = 2;
    struct state_check c = mk_check("c1", "w1", "passing");
    struct state_header h = {"X-A", tags, 2};
    c.def.header = &h;
    c.def.nheader = 1;
    c.def.http = "http://x/";
    c.def.interval_ns = 1000000000;
    struct state_register r = {.node = &n, .service = &s, .checks = &c, .nchecks = 1};
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    rpc_register_encode(&r, &b);
    struct cn_dec d;
    enum rpc_cmd_type type;
    ASSERT_OK(rpc_cmd_open(&d, b.data, b.len, &type));
    ASSERT_EQ(RPC_CMD_REGISTER, type);
    struct cn_arena a;
    cn_arena_init(&a, 1024);
    struct state_register out;
    ASSERT_OK(rpc_register_decode(&d, &a, &out));
    ASSERT(state_node_same(&n, out.node));
    ASSERT(out.service && state_service_same(&s, out.service));
    ASSERT_EQ(1, out.nchecks);
    ASSERT(state_check_same(&c, &out.checks[0]));
    /* every truncation fails cleanly */
    for (size_t len = 0; len < b.len; len++) {
        ASSERT_OK(rpc_cmd_open(&d, b.data, b.len, &type) == 0 ? 0 : 1);
        cn_dec_init(&d, b.data + 2, len > 2 ? len - 2 : 0);
        ASSERT_NE(0, rpc_register_decode(&d, &a, &out));
    }
    cn_arena_release(&a);
    cn_buf_release(&b);
}

TEST(cmd_catalog, deregister_roundtrip)
{
    struct rpc_deregister_cmd c = {CN_STR("n1"), CN_STR("svc"), CN_STR_NULL}, out;
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    rpc_deregister_encode(&c, &b);
    struct cn_dec d;
    enum rpc_cmd_type type;
    ASSERT_OK(rpc_cmd_open(&d, b.data, b.len, &type));
    ASSERT_EQ(RPC_CMD_DEREGISTER, type);
    ASSERT_OK(rpc_deregister_decode(&d, &out));
    ASSERT(cn_str_eq(out.node, c.node));
    ASSERT(cn_str_eq(out.service_id, c.service_id));
    ASSERT_EQ(0, out.check_id.len);
    cn_buf_release(&b);
}
