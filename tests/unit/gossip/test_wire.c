/* Wire format: addresses, tags, every message type round-trips, and hostile
 * bytes are rejected without reading out of bounds. */
#include <string.h>

#include "gossip/gossip_int.h"
#include "lib/cn_err.h"
#include "lib/cn_rand.h"
#include "test.h"

static struct cn_str S(const char *s)
{
    return cn_str_from(s);
}

TEST(gossip_addr, parse_and_format)
{
    struct gossip_addr a;
    char buf[GOSSIP_ADDR_STR_MAX];
    ASSERT_OK(gossip_addr_parse(S("10.0.0.1:8301"), 0, &a));
    ASSERT_EQ(4, a.family);
    ASSERT_EQ(8301, a.port);
    gossip_addr_format(&a, buf, sizeof buf);
    ASSERT_STR_EQ("10.0.0.1:8301", buf);
    ASSERT_OK(gossip_addr_parse(S("192.168.1.20"), 8301, &a));
    ASSERT_EQ(8301, a.port);
    ASSERT_OK(gossip_addr_parse(S("[::1]:7946"), 0, &a));
    ASSERT_EQ(6, a.family);
    gossip_addr_format(&a, buf, sizeof buf);
    ASSERT_STR_EQ("[::1]:7946", buf);
    ASSERT_OK(gossip_addr_parse(S("fe80::1:2"), 1, &a));
    gossip_addr_format_ip(&a, buf, sizeof buf);
    ASSERT_STR_EQ("fe80::1:2", buf);
    ASSERT_OK(gossip_addr_parse(S("[2001:db8:0:0:1:0:0:1]:1"), 0, &a));
    gossip_addr_format_ip(&a, buf, sizeof buf);
    ASSERT_STR_EQ("2001:db8::1:0:0:1", buf);
    ASSERT_OK(gossip_addr_parse(S("[::ffff:10.1.2.3]:5"), 0, &a));
    ASSERT_EQ(10, a.ip[12]);
    ASSERT_EQ(3, a.ip[15]);
    const char *bad[] = {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4:", "1.2.3.4:0",
                         "1.2.3.4:65536", "[::1", "[::1]x", ":::", "1::2::3", "a.b.c.d",
                         "1.2.3.4:8x", "12345::", "1:2:3:4:5:6:7:8:9"};
    for (size_t i = 0; i < CN_ARRAY_SIZE(bad); i++)
        if (gossip_addr_parse(S(bad[i]), 1, &a) == 0) FAIL("accepted '%s'", bad[i]);
    ASSERT_EQ(CN_EINVAL, gossip_addr_parse(S("1.2.3.4"), 0, &a)); /* no port at all */
}

TEST(gossip_wire, tags_encode_sorted_and_parse)
{
    struct gossip_tag in[] = {{"role", "consul"}, {"dc", "dc1"}, {"port", "8300"}, {"id", ""}};
    struct cn_buf b;
    struct cn_err err;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    ASSERT_OK(gw_tags_encode(in, 4, &b, &err));
    struct gossip_tag out[8];
    char strings[600];
    size_t n;
    ASSERT_OK(gw_tags_parse(cn_buf_str(&b), out, 8, strings, &n));
    ASSERT_EQ(4, n);
    ASSERT_STR_EQ("dc", out[0].key);
    ASSERT_STR_EQ("dc1", out[0].value);
    ASSERT_STR_EQ("id", out[1].key);
    ASSERT_STR_EQ("", out[1].value);
    ASSERT_STR_EQ("role", out[3].key);
    struct gossip_tag dup[] = {{"a", "1"}, {"a", "2"}};
    ASSERT_EQ(CN_EINVAL, gw_tags_encode(dup, 2, &b, &err));
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    struct gossip_tag huge[] = {{"k", big}};
    ASSERT_EQ(CN_ETOOBIG, gw_tags_encode(huge, 1, &b, &err));
    ASSERT(strstr(err.msg, "limit 512") != NULL);
    /* unsorted blob is refused */
    struct cn_buf raw;
    cn_buf_init(&raw, CN_BUF_UNLIMITED);
    cn_enc_uvar(&raw, 2);
    cn_enc_cstr(&raw, "b");
    cn_enc_cstr(&raw, "1");
    cn_enc_cstr(&raw, "a");
    cn_enc_cstr(&raw, "2");
    ASSERT_EQ(CN_ECORRUPT, gw_tags_parse(cn_buf_str(&raw), out, 8, strings, &n));
    cn_buf_release(&raw);
    cn_buf_release(&b);
}

static struct cn_str only_body(struct cn_buf *b, uint8_t want)
{
    struct cn_dec d;
    cn_dec_init(&d, b->data, b->len);
    uint8_t type;
    struct cn_str body;
    if (gw_next(&d, &type, &body) != 1 || type != want) FAIL("bad frame");
    if (cn_dec_left(&d) != 0) FAIL("trailing bytes after one message");
    return body;
}

TEST(gossip_wire, messages_round_trip)
{
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    struct gossip_addr a;
    ASSERT_OK(gossip_addr_parse(S("10.1.2.3:7946"), 0, &a));

    struct gmsg_ping p = {77, S("target"), S("source"), a}, p2;
    gw_ping(&b, &p);
    ASSERT_OK(gr_ping(only_body(&b, GMSG_PING), &p2));
    ASSERT_EQ(77, p2.seq);
    ASSERT(cn_str_eq(p2.target, S("target")) && gossip_addr_eq(&p2.src, &a));

    cn_buf_reset(&b);
    struct gmsg_ind_ping ip = {5, S("t"), a, true, S("s"), a}, ip2;
    gw_ind_ping(&b, &ip);
    ASSERT_OK(gr_ind_ping(only_body(&b, GMSG_IND_PING), &ip2));
    ASSERT(ip2.nack && ip2.seq == 5 && gossip_addr_eq(&ip2.target_addr, &a));

    cn_buf_reset(&b);
    struct gmsg_ack ack = {.seq = 9, .has_coord = true}, ack2;
    ack.coord.vec[3] = 0.25;
    ack.coord.error = 1.5;
    ack.coord.height = 1e-5;
    gw_ack(&b, &ack);
    ASSERT_OK(gr_ack(only_body(&b, GMSG_ACK), &ack2));
    ASSERT(ack2.has_coord && ack2.coord.vec[3] == 0.25 && ack2.coord.height == (double)1e-5f);

    cn_buf_reset(&b);
    struct gmsg_accuse s = {3, S("n1"), S("n2")}, s2;
    gw_accuse(&b, GMSG_DEAD, &s);
    ASSERT_OK(gr_accuse(only_body(&b, GMSG_DEAD), &s2));
    ASSERT(s2.inc == 3 && cn_str_eq(s2.from, S("n2")));

    cn_buf_reset(&b);
    struct gmsg_alive al = {.inc = 12, .node = S("n1"), .addr = a, .tags = {"\0", 1}}, al2;
    memcpy(al.vsn, "\1\5\2\2\5\4", 6);
    gw_alive(&b, &al);
    ASSERT_OK(gr_alive(only_body(&b, GMSG_ALIVE), &al2));
    ASSERT(al2.inc == 12 && al2.vsn[1] == 5 && gossip_addr_eq(&al2.addr, &a));

    cn_buf_reset(&b);
    struct gmsg_user u = {42, S("deploy"), S("v1.2"), true}, u2;
    gw_user(&b, &u);
    ASSERT_OK(gr_user(only_body(&b, GMSG_USER), &u2));
    ASSERT(u2.ltime == 42 && u2.cc && cn_str_eq(u2.payload, S("v1.2")));

    cn_buf_reset(&b);
    struct gmsg_query q = {.ltime = 4, .id = 8, .op = GOSSIP_KEY_INSTALL, .origin = S("o"),
                           .origin_addr = a, .key = S("0123456789abcdef")},
                      q2;
    gw_query(&b, &q);
    ASSERT_OK(gr_query(only_body(&b, GMSG_QUERY), &q2));
    ASSERT(q2.op == GOSSIP_KEY_INSTALL && q2.key.len == 16);
    cn_buf_release(&b);
}

TEST(gossip_wire, large_frames_get_long_length)
{
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    size_t at = gw_open(&b, GMSG_PUSHPULL);
    for (int i = 0; i < (3 << 20); i++) cn_buf_putc(&b, (char)i);
    gw_close(&b, at);
    struct cn_dec d;
    cn_dec_init(&d, b.data, b.len);
    uint8_t type;
    struct cn_str body;
    ASSERT_EQ(1, gw_next(&d, &type, &body));
    ASSERT_EQ(3 << 20, body.len);
    ASSERT_EQ((char)5, body.p[5]);
    cn_buf_release(&b);
}

TEST(gossip_wire, truncations_and_garbage_are_rejected)
{
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    struct gossip_addr a;
    ASSERT_OK(gossip_addr_parse(S("10.1.2.3:7946"), 0, &a));
    struct gmsg_alive al = {.inc = 1, .node = S("node-name"), .addr = a, .tags = {"\0", 1}};
    memcpy(al.vsn, "\1\5\2\2\5\4", 6);
    gw_alive(&b, &al);
    struct cn_str body = only_body(&b, GMSG_ALIVE);
    for (size_t cut = 0; cut < body.len; cut++) {
        struct gmsg_alive out;
        if (gr_alive((struct cn_str){body.p, cut}, &out) == 0) FAIL("accepted %zu of %zu bytes", cut, body.len);
    }
    /* Random bytes through every decoder: must fail or succeed, never crash. */
    struct cn_rand r;
    cn_rand_seed(&r, cn_test_seed());
    uint8_t junk[300];
    for (int i = 0; i < 20000; i++) {
        size_t n = cn_rand_below(&r, sizeof junk);
        for (size_t k = 0; k < n; k++) junk[k] = (uint8_t)cn_rand_u64(&r);
        struct cn_str s = {(const char *)junk, n};
        struct gmsg_ping p;
        struct gmsg_ind_ping ip;
        struct gmsg_ack ac;
        struct gmsg_accuse acc;
        struct gmsg_user u;
        struct gmsg_leave l;
        struct gmsg_query q;
        struct gmsg_query_resp qr;
        uint32_t seq;
        (void)gr_ping(s, &p);
        (void)gr_ind_ping(s, &ip);
        (void)gr_ack(s, &ac);
        (void)gr_nack(s, &seq);
        (void)gr_accuse(s, &acc);
        (void)gr_alive(s, &al);
        (void)gr_user(s, &u);
        (void)gr_leave(s, &l);
        (void)gr_query(s, &q);
        (void)gr_query_resp(s, &qr);
        struct cn_dec d;
        cn_dec_init(&d, junk, n);
        uint8_t type;
        struct cn_str bd;
        while (gw_next(&d, &type, &bd) == 1) {
        }
    }
    cn_buf_release(&b);
}

TEST(gossip_wire, push_pull_shares_repeated_tag_pairs)
{
    struct gossip_addr a = {.family = 4, .ip = {10, 0, 0, 9}, .port = 7946};
    struct gossip_tag common[] = {{"build", "1.17.0:cairn"}, {"dc", "dc1"}, {"role", "node"},
                                  {"vsn", "2"}, {"id", "x"}};
    struct gossip_member m[40];
    char ids[40][8];
    struct gossip_tag tags[40][5];
    for (int i = 0; i < 40; i++) {
        memcpy(tags[i], common, sizeof common);
        snprintf(ids[i], sizeof ids[i], "id-%d", i);
        tags[i][4].value = ids[i];
        char *name = malloc(8);
        snprintf(name, 8, "m%d", i);
        m[i] = (struct gossip_member){.name = name, .addr = a, .tags = tags[i], .n_tags = 5};
        memcpy(m[i].vsn, "\1\5\2\2\5\4", 6);
    }
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    gossip__encode_members(&b, m, 40);
    /* 40 x ~75 bytes of tags without references; with them, one copy plus refs */
    ASSERT(b.len < 40 * 40);
    struct gossip_config cfg;
    gossip_config_init(&cfg);
    cfg.name = "reader";
    cfg.addr = a;
    struct cn_err err;
    struct gossip *g = gossip_new(&cfg, 0, &err);
    ASSERT_OK(gossip__bootstrap(g, 0, (uint8_t *)b.data, b.len));
    ASSERT_EQ(41, gossip_num_members(g));
    struct gossip_member got;
    ASSERT_OK(gossip_member_get(g, "m37", &got));
    ASSERT_EQ(5, got.n_tags);
    ASSERT_STR_EQ("id-37", gossip_member_tag(&got, "id"));
    ASSERT_STR_EQ("1.17.0:cairn", gossip_member_tag(&got, "build"));
    /* a reference past the pairs sent so far is refused */
    struct cn_buf bad;
    cn_buf_init(&bad, CN_BUF_UNLIMITED);
    size_t at = gw_open(&bad, GMSG_PUSHPULL);
    cn_enc_bool(&bad, false);
    cn_enc_uvar(&bad, 1);
    cn_enc_cstr(&bad, "z");
    gw_addr(&bad, &a);
    cn_enc_uvar(&bad, 1); /* one pair */
    cn_enc_uvar(&bad, 3); /* ref to pair #3: none sent */
    cn_enc_u8(&bad, 1);
    cn_buf_put(&bad, "\1\5\2\2\5\4", 6);
    cn_enc_uvar(&bad, 1);
    cn_enc_u8(&bad, 0);
    gw_close(&bad, at);
    ASSERT_EQ(CN_ECORRUPT, gossip__bootstrap(g, 0, (uint8_t *)bad.data, bad.len));
    ASSERT_EQ(41, gossip_num_members(g));
    gossip_check_invariants(g);
    gossip_free(g);
    for (int i = 0; i < 40; i++) free((char *)m[i].name);
    cn_buf_release(&b);
    cn_buf_release(&bad);
}
