/* Answers: record choice, SRV targets, negative answers, TTLs, compression,
 * EDNS, and truncation decisions. */
#include <stdlib.h>

#include "helpers.h"
#include "state/state.h"

static struct dns_config cfg;
static struct dns_builder *b;
static uint8_t out[DNS_TCP_MAX + 64];
static struct dmsg m;

static void setup(void)
{
    dns_config_init(&cfg, "dc1");
    if (!b) b = dns_builder_new(cn_test_seed());
}

/* Ask name/type (edns_size 0: plain; tcp) about the given instances; decode into m. */
static size_t ask(const char *name, uint16_t type, uint16_t edns, bool tcp, struct dns_inst *in,
                  size_t n)
{
    uint8_t q[512];
    struct dns_req r;
    size_t ql = mkquery(q, name, type, edns);
    int need = dns_req_parse(&cfg, q, ql, tcp, &r);
    ASSERT(need >= 0);
    size_t len = dns_answer(b, &cfg, &r, DNS_LK_OK, in, n, 1700000000, out, sizeof out);
    ASSERT(len > 0);
    if (decode(out, len, &m)) FAIL("reply does not decode (%zu bytes)", len);
    ASSERT_EQ(0x1234, m.id);
    return len;
}

static struct state_pair meta1[] = {{"rack", "r1"}, {"rfc1035-raw", "v=spf1"}};

static struct dns_inst inst(const char *node, const char *naddr, const char *saddr, int port)
{
    return (struct dns_inst){.node = cn_str_from(node), .node_addr = cn_str_from(naddr),
                             .svc_addr = cn_str_from(saddr), .port = (uint16_t)port, .weight = 1};
}

static int find(int sec, uint16_t type, const char *data)
{
    int n = sec == 0 ? m.an : sec == 1 ? m.ns : m.ar;
    for (int i = 0; i < n; i++)
        if (m.rr[sec][i].type == type && (!data || !strcmp(m.rr[sec][i].data, data))) return i;
    return -1;
}

TEST(answer, srv_targets_and_additional)
{
    setup();
    struct dns_inst in[3] = {inst("n1", "10.0.0.1", "", 80), inst("n2", "10.0.0.2", "127.0.0.1", 81),
                             inst("n3", "10.0.0.3", "db.example.com", 82)};
    in[0].meta = meta1;
    in[0].nmeta = 2;
    in[1].weight = 7;
    ask("web.service.consul", DNS_T_SRV, 4096, false, in, 3);
    ASSERT_EQ(DNS_RC_NOERROR, m.rcode);
    ASSERT(m.aa);
    ASSERT(!m.ra);
    ASSERT_EQ(3, m.an);
    ASSERT(find(0, DNS_T_SRV, "1 1 80 n1.node.dc1.consul.") >= 0);
    ASSERT(find(0, DNS_T_SRV, "1 7 81 7f000001.addr.dc1.consul.") >= 0);
    ASSERT(find(0, DNS_T_SRV, "1 1 82 db.example.com.") >= 0);
    ASSERT_STR_EQ("web.service.consul.", m.rr[0][0].name);
    int a = find(2, DNS_T_A, "10.0.0.1");
    ASSERT(a >= 0);
    ASSERT_STR_EQ("n1.node.dc1.consul.", m.rr[2][a].name);
    a = find(2, DNS_T_A, "127.0.0.1");
    ASSERT(a >= 0);
    ASSERT_STR_EQ("7f000001.addr.dc1.consul.", m.rr[2][a].name);
    ASSERT(find(2, DNS_T_TXT, "rack=r1") >= 0);
    ASSERT(find(2, DNS_T_TXT, "v=spf1") >= 0);
    ASSERT(m.opt);
    ASSERT_EQ(4096, m.opt_size);
    ASSERT(m.compressed);
    /* without node meta in ADDITIONAL */
    cfg.node_meta_txt = false;
    ask("web.service.consul", DNS_T_SRV, 4096, false, in, 3);
    ASSERT_EQ(-1, find(2, DNS_T_TXT, NULL));
}

TEST(answer, ipv6_targets_and_dc_in_names)
{
    setup();
    struct dns_inst in[2] = {inst("n1", "10.0.0.1", "2001:db8::1", 80), inst("n2", "::2", "", 81)};
    ask("web.service.dc1.consul", DNS_T_SRV, 4096, false, in, 2);
    ASSERT(find(0, DNS_T_SRV, "1 1 80 20010db8000000000000000000000001.addr.dc1.consul.") >= 0);
    ASSERT(find(0, DNS_T_SRV, "1 1 81 n2.node.dc1.consul.") >= 0);
    ASSERT(find(2, DNS_T_AAAA, "2001:db8:0:0:0:0:0:1") >= 0);
    ask("web.service.consul", DNS_T_AAAA, 0, false, in, 2);
    ASSERT_EQ(2, m.an);
    ask("web.service.consul", DNS_T_A, 0, false, in, 2);
    ASSERT_EQ(0, m.an); /* the service address wins over the node's */
    ASSERT_EQ(DNS_RC_NOERROR, m.rcode);
    ASSERT_EQ(DNS_T_SOA, m.rr[1][0].type);
}

TEST(answer, a_aaaa_any_cname_dedup_and_limit)
{
    setup();
    struct dns_inst in[5] = {inst("n1", "10.0.0.1", "", 80), inst("n1", "10.0.0.1", "", 81),
                             inst("n2", "10.0.0.2", "", 80), inst("n3", "::3", "", 80),
                             inst("n4", "10.0.0.4", "web.example.com", 80)};
    ask("web.service.consul", DNS_T_A, 4096, false, in, 5);
    ASSERT_EQ(3, m.an); /* 10.0.0.1 once, 10.0.0.2, and the CNAME */
    ASSERT(find(0, DNS_T_CNAME, "web.example.com.") >= 0);
    ask("web.service.consul", DNS_T_ANY, 4096, false, in, 5);
    ASSERT_EQ(4, m.an);
    ASSERT(find(0, DNS_T_AAAA, NULL) >= 0);
    cfg.a_record_limit = 1;
    struct dns_inst two[2] = {inst("n1", "10.0.0.1", "", 80), inst("n2", "10.0.0.2", "", 80)};
    ask("web.service.consul", DNS_T_A, 4096, false, two, 2);
    ASSERT_EQ(1, m.an);
    cfg.a_record_limit = 0;
    /* SRV dedup is by node, address and port */
    struct dns_inst three[3] = {inst("n1", "10.0.0.1", "", 80), inst("n1", "10.0.0.1", "", 81),
                                inst("n2", "10.0.0.2", "", 80)};
    ask("web.service.consul", DNS_T_SRV, 4096, false, three, 3);
    ASSERT_EQ(3, m.an);
    struct dns_inst dup[2] = {inst("n1", "10.0.0.1", "", 80), inst("n1", "10.0.0.1", "", 80)};
    ask("web.service.consul", DNS_T_SRV, 4096, false, dup, 2);
    ASSERT_EQ(1, m.an);
    /* the same target twice: one A record in ADDITIONAL */
    struct dns_inst same[2] = {inst("n1", "10.0.0.1", "", 80), inst("n1", "10.0.0.1", "", 81)};
    ask("web.service.consul", DNS_T_SRV, 4096, false, same, 2);
    ASSERT_EQ(2, m.an);
    ASSERT_EQ(1, m.ar);
}

TEST(answer, negative_answers_carry_the_soa)
{
    setup();
    ask("nosuch.service.consul", DNS_T_SRV, 0, false, NULL, 0);
    ASSERT_EQ(DNS_RC_NXDOMAIN, m.rcode);
    ASSERT(m.aa);
    ASSERT_EQ(0, m.an);
    ASSERT_EQ(1, m.ns);
    ASSERT_EQ(DNS_T_SOA, m.rr[1][0].type);
    ASSERT_STR_EQ("consul.", m.rr[1][0].name);
    ASSERT_STR_EQ("ns.consul. hostmaster.consul. 1700000000 3600 600 86400 0", m.rr[1][0].data);
    struct dns_inst in[1] = {inst("n1", "10.0.0.1", "", 80)};
    ask("web.service.consul", DNS_T_AAAA, 0, false, in, 1);
    ASSERT_EQ(DNS_RC_NOERROR, m.rcode);
    ASSERT_EQ(1, m.ns);
    ask("web.service.consul", DNS_T_TXT, 0, false, in, 1);
    ASSERT_EQ(DNS_RC_NOERROR, m.rcode);
    ASSERT_EQ(0, m.an);
    ask("q.query.consul", DNS_T_A, 0, false, NULL, 0);
    ASSERT_EQ(DNS_RC_NXDOMAIN, m.rcode);
    ask("bad.addr.consul", DNS_T_A, 0, false, NULL, 0);
    ASSERT_EQ(DNS_RC_NXDOMAIN, m.rcode);
    cfg.soa_min_ttl = 7;
    ask("x.y.consul", DNS_T_A, 0, false, NULL, 0);
    ASSERT_EQ(DNS_RC_NXDOMAIN, m.rcode);
    ASSERT_EQ(7, m.rr[1][0].ttl);
    /* out of zone without recursors: REFUSED, not authoritative */
    ask("example.com", DNS_T_A, 0, false, NULL, 0);
    ASSERT_EQ(DNS_RC_REFUSED, m.rcode);
    ASSERT(!m.aa);
    ASSERT_EQ(0, m.ns);
    /* the alt domain answers with its own SOA */
    dns_config_set_zone(&cfg, 1, "alt.example");
    ask("nosuch.service.ALT.example", DNS_T_A, 0, false, NULL, 0);
    ASSERT_STR_EQ("alt.example.", m.rr[1][0].name);
}

TEST(answer, node_and_addr)
{
    setup();
    static struct state_pair meta[] = {{"a=b", "x`y"}, {" lead", "v"}};
    struct dns_inst n = inst("node1", "10.1.1.1", "", 0);
    n.meta = meta;
    n.nmeta = 2;
    cfg.node_ttl = 9;
    ask("node1.node.consul", DNS_T_A, 0, false, &n, 1);
    ASSERT_EQ(1, m.an);
    ASSERT_STR_EQ("10.1.1.1", m.rr[0][0].data);
    ASSERT_EQ(9, m.rr[0][0].ttl);
    ASSERT_EQ(2, m.ar); /* meta TXT in ADDITIONAL */
    ASSERT(find(2, DNS_T_TXT, "a`=b=x``y") >= 0);
    ASSERT(find(2, DNS_T_TXT, "` lead=v") >= 0);
    ask("NODE1.node.consul", DNS_T_TXT, 0, false, &n, 1);
    ASSERT_EQ(2, m.an);
    ASSERT_STR_EQ("NODE1.node.consul.", m.rr[0][0].name);
    ask("node1.node.consul", DNS_T_ANY, 0, false, &n, 1);
    ASSERT_EQ(3, m.an);
    ask("node1.node.consul", DNS_T_AAAA, 0, false, &n, 1);
    ASSERT_EQ(0, m.an);
    ASSERT_EQ(DNS_RC_NOERROR, m.rcode);
    ASSERT_EQ(1, m.ns);
    ASSERT_EQ(0, m.ar);
    ask("node1.node.consul", DNS_T_SRV, 0, false, &n, 1);
    ASSERT_EQ(DNS_RC_NOERROR, m.rcode);
    ASSERT_EQ(0, m.an);
    ask("node1.node.consul", DNS_T_A, 0, false, NULL, 0);
    ASSERT_EQ(DNS_RC_NXDOMAIN, m.rcode);
    struct dns_inst h = inst("node2", "host.example.com", "", 0);
    ask("node2.node.consul", DNS_T_A, 0, false, &h, 1);
    ASSERT_EQ(DNS_T_CNAME, m.rr[0][0].type);
    ask("c0a80001.addr.consul", DNS_T_A, 0, false, NULL, 0);
    ASSERT_EQ(1, m.an);
    ASSERT_STR_EQ("192.168.0.1", m.rr[0][0].data);
    ASSERT_EQ(9, m.rr[0][0].ttl);
    ask("c0a80001.addr.consul", DNS_T_SRV, 0, false, NULL, 0);
    ASSERT_EQ(0, m.an);
    ASSERT_EQ(1, m.ar);
    ASSERT_EQ(DNS_RC_NOERROR, m.rcode);
    ask("20010db8000000000000000000000001.addr.consul", DNS_T_AAAA, 0, false, NULL, 0);
    ASSERT_STR_EQ("2001:db8:0:0:0:0:0:1", m.rr[0][0].data);
}

TEST(answer, soa_and_ns_at_the_apex)
{
    setup();
    struct dns_inst s[5] = {inst("s1", "10.0.0.1", "", 8300), inst("s2", "10.0.0.2", "", 8300),
                            inst("bad_name", "10.0.0.9", "", 8300), inst("s3", "10.0.0.3", "", 8300),
                            inst("s4", "10.0.0.4", "", 8300)};
    cfg.node_ttl = 4;
    ask("consul", DNS_T_NS, 0, false, s, 5);
    ASSERT_EQ(3, m.an);
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(DNS_T_NS, m.rr[0][i].type);
        ASSERT_STR_EQ("consul.", m.rr[0][i].name);
        ASSERT_EQ(4, m.rr[0][i].ttl);
        ASSERT(strstr(m.rr[0][i].data, ".node.dc1.consul."));
        ASSERT(!strstr(m.rr[0][i].data, "bad_name"));
    }
    ASSERT_EQ(3, m.ar);
    struct dns_inst two[2] = {inst("s1", "10.0.0.1", "", 8300), inst("s2", "10.0.0.2", "", 8300)};
    ask("web.service.consul", DNS_T_SOA, 0, false, two, 2);
    ASSERT_EQ(1, m.an);
    ASSERT_EQ(DNS_T_SOA, m.rr[0][0].type);
    ASSERT_EQ(2, m.ns);
    ASSERT_EQ(2, m.ar);
}

TEST(answer, udp_limits_and_truncation)
{
    setup();
    struct dns_inst in[30];
    char names[30][16], addrs[30][16];
    for (int i = 0; i < 30; i++) {
        snprintf(names[i], sizeof names[i], "node-%02d", i);
        snprintf(addrs[i], sizeof addrs[i], "10.0.1.%d", i + 1);
        in[i] = inst(names[i], addrs[i], "", 8000 + i);
    }
    /* plain UDP: at most udp_answer_limit answers, silently */
    size_t len = ask("web.service.consul", DNS_T_SRV, 0, false, in, 30);
    ASSERT_EQ(3, m.an);
    ASSERT_EQ(3, m.ar);
    ASSERT(!m.tc);
    ASSERT(len <= 512);
    cfg.enable_truncate = true;
    ask("web.service.consul", DNS_T_SRV, 0, false, in, 30);
    ASSERT_EQ(3, m.an);
    ASSERT(m.tc);
    cfg.udp_answer_limit = 20; /* capped at 8 */
    ask("web.service.consul", DNS_T_A, 0, false, in, 30);
    ASSERT_EQ(8, m.an);
    /* EDNS: no count cap, the advertised size bounds the reply */
    len = ask("web.service.consul", DNS_T_SRV, 4096, false, in, 30);
    ASSERT_EQ(30, m.an);
    ASSERT_EQ(30, m.ar);
    ASSERT(!m.tc);
    len = ask("web.service.consul", DNS_T_SRV, 700, false, in, 30);
    ASSERT(len <= 700 - 8);
    ASSERT(m.an < 30 && m.an >= 1);
    ASSERT(m.tc);
    /* ADDITIONAL follows the answers kept */
    ASSERT_EQ(m.an, m.ar);
    for (int i = 0; i < m.an; i++) {
        char target[300];
        sscanf(m.rr[0][i].data, "%*u %*u %*u %299s", target);
        bool has = false;
        for (int k = 0; k < m.ar; k++) has |= !strcmp(m.rr[2][k].name, target);
        ASSERT(has);
    }
    /* EDNS sizes below 512 count as 512 */
    len = ask("web.service.consul", DNS_T_SRV, 100, false, in, 30);
    ASSERT(len <= 512);
    ASSERT(m.an >= 1);
    /* TCP: everything */
    cfg.enable_truncate = false;
    len = ask("web.service.consul", DNS_T_SRV, 0, true, in, 30);
    ASSERT_EQ(30, m.an);
    ASSERT(!m.tc);
}

TEST(answer, plain_udp_measured_uncompressed)
{
    setup();
    /* Long names: compressed they would fit 3 in 512 bytes, uncompressed not. */
    struct dns_inst in[3];
    char names[3][70];
    for (int i = 0; i < 3; i++) {
        memset(names[i], 'a' + i, 60);
        names[i][60] = '\0';
        in[i] = inst(names[i], "10.0.0.1", "", 80);
    }
    ask("a-rather-long-service-name-to-fill-the-packet.service.consul", DNS_T_SRV, 0, false, in, 3);
    ASSERT(m.an < 3);
    ASSERT(m.an >= 1);
    ask("a-rather-long-service-name-to-fill-the-packet.service.consul", DNS_T_SRV, 512, false, in,
        3);
    ASSERT_EQ(3, m.an);
}

TEST(answer, service_ttl_and_compression_off)
{
    setup();
    dns_config_add_ttl(&cfg, "web*", 15 * 1000000000LL);
    struct dns_inst in[2] = {inst("n1", "10.0.0.1", "", 80), inst("n2", "10.0.0.2", "", 80)};
    size_t with = ask("web.service.consul", DNS_T_SRV, 4096, false, in, 2);
    ASSERT_EQ(15, m.rr[0][0].ttl);
    ASSERT_EQ(15, m.rr[2][0].ttl);
    cfg.disable_compression = true;
    size_t without = ask("web.service.consul", DNS_T_SRV, 4096, false, in, 2);
    ASSERT(!m.compressed);
    ASSERT(without > with);
    dns_config_release(&cfg);
}

TEST(answer, shuffled)
{
    setup();
    struct dns_inst in[8];
    char names[8][8];
    for (int i = 0; i < 8; i++) {
        snprintf(names[i], sizeof names[i], "n%d", i);
        in[i] = inst(names[i], "10.0.0.1", "", 80 + i);
    }
    char first[300];
    ask("web.service.consul", DNS_T_SRV, 4096, false, in, 8);
    snprintf(first, sizeof first, "%s", m.rr[0][0].data);
    bool differs = false;
    for (int k = 0; k < 20 && !differs; k++) {
        ask("web.service.consul", DNS_T_SRV, 4096, false, in, 8);
        differs = strcmp(first, m.rr[0][0].data) != 0;
    }
    ASSERT(differs);
}

TEST(answer, rcode_replies_and_ecs_echo)
{
    setup();
    uint8_t q[512];
    struct dns_req r;
    size_t ql = mkquery(q, "example.com", DNS_T_A, 1232);
    /* append an ECS option: IPv4 /24 10.1.2.0 */
    const uint8_t ecs[] = {0, 8, 0, 7, 0, 1, 24, 5, 10, 1, 2};
    memcpy(q + ql, ecs, sizeof ecs);
    q[ql - 1] = sizeof ecs;
    ql += sizeof ecs;
    cfg.recursors = true;
    ASSERT_EQ(DNS_NEED_RECURSE, dns_req_parse(&cfg, q, ql, false, &r));
    size_t len = dns_answer_rcode(&cfg, &r, DNS_RC_SERVFAIL, true, out, sizeof out);
    ASSERT_EQ(0, decode(out, len, &m));
    ASSERT_EQ(DNS_RC_SERVFAIL, m.rcode);
    ASSERT(m.ra);
    ASSERT_STR_EQ("example.com.", m.qname);
    ASSERT(m.opt);
    ASSERT_EQ(11, m.opt_len);
    ASSERT_EQ(0, m.opt_data[7]); /* scope 0 */
    ASSERT_EQ(24, m.opt_data[6]);
    /* BADVERS: the extended RCODE rides in OPT */
    q[ql - sizeof ecs - 5] = 1;
    dns_req_parse(&cfg, q, ql, false, &r);
    len = dns_answer(b, &cfg, &r, DNS_LK_OK, NULL, 0, 0, out, sizeof out);
    ASSERT_EQ(0, decode(out, len, &m));
    ASSERT_EQ(DNS_RC_BADVERS, m.rcode);
    /* a lookup error is SERVFAIL */
    ql = mkquery(q, "web.service.consul", DNS_T_A, 0);
    dns_req_parse(&cfg, q, ql, false, &r);
    len = dns_answer(b, &cfg, &r, DNS_LK_ERROR, NULL, 0, 0, out, sizeof out);
    ASSERT_EQ(0, decode(out, len, &m));
    ASSERT_EQ(DNS_RC_SERVFAIL, m.rcode);
    /* FORMERR without a question */
    q[5] = 0;
    dns_req_parse(&cfg, q, ql, false, &r);
    len = dns_answer(b, &cfg, &r, DNS_LK_OK, NULL, 0, 0, out, sizeof out);
    ASSERT_EQ(0, decode(out, len, &m));
    ASSERT_EQ(DNS_RC_FORMERR, m.rcode);
    ASSERT_EQ(0, m.qd);
}

TEST(answer, weights)
{
    ASSERT_EQ(1, dns_weight(0, 0, "passing"));
    ASSERT_EQ(10, dns_weight(10, 1, "passing"));
    ASSERT_EQ(1, dns_weight(10, 1, "warning"));
    ASSERT_EQ(0, dns_weight(10, 0, "warning"));
    ASSERT_EQ(65535, dns_weight(100000, 1, "passing"));
}

TEST(answer, oversized_records_over_plain_udp)
{
    setup();
    static char big[501];
    memset(big, 'v', 500);
    static struct state_pair meta[3] = {{"a", big}, {"b", big}, {"c", "small"}};
    struct dns_inst n = inst("node1", "10.1.1.1", "", 0);
    n.meta = meta;
    n.nmeta = 3;
    /* A: the answer fits, its TXT companions do not: ADDITIONAL goes */
    size_t len = ask("node1.node.consul", DNS_T_A, 0, false, &n, 1);
    ASSERT(len <= 512);
    ASSERT_EQ(1, m.an);
    ASSERT(!m.tc);
    /* TXT: the first record alone is over 512 bytes: nothing fits, TC */
    n.nmeta = 1;
    len = ask("node1.node.consul", DNS_T_TXT, 0, false, &n, 1);
    ASSERT(len <= 512);
    ASSERT_EQ(0, m.an);
    ASSERT(m.tc);
    len = ask("node1.node.consul", DNS_T_TXT, 0, true, &n, 1);
    ASSERT_EQ(1, m.an);
    /* "a=" + value in two character-strings (255 + 247), joined by the decoder with "|" */
    ASSERT_EQ(500 + 2 + 1, strlen(m.rr[0][0].data));
}
