/* DNS names on the wire, and query parsing/classification (every name form). */
#include "helpers.h"
#include "lib/cn_err.h"

TEST(wire, name_read_plain_and_compressed)
{
    /* header, then "a.example." at 12, then "b" + pointer to "example." at 14 */
    uint8_t p[64] = {0};
    size_t o = 12;
    const uint8_t n1[] = {1, 'a', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0};
    memcpy(p + o, n1, sizeof n1);
    o += sizeof n1;
    size_t second = o;
    p[o++] = 1;
    p[o++] = 'b';
    p[o++] = 0xC0;
    p[o++] = 14;
    uint8_t out[DNS_NAME_MAX];
    size_t len, next;
    ASSERT_EQ(0, dns_name_read(p, o, 12, out, &len, &next));
    ASSERT_EQ(sizeof n1, len);
    ASSERT_EQ(12 + sizeof n1, next);
    ASSERT_EQ(0, dns_name_read(p, o, second, out, &len, &next));
    ASSERT_EQ(o, next);
    char text[300];
    dns_name_to_text(out, text, sizeof text, false);
    ASSERT_STR_EQ("b.example.", text);
}

TEST(wire, name_read_rejects_loops_forward_pointers_and_overlong)
{
    uint8_t out[DNS_NAME_MAX];
    size_t len, next;
    uint8_t self[16] = {0};
    self[12] = 0xC0;
    self[13] = 12; /* points at itself */
    ASSERT_EQ(-1, dns_name_read(self, 14, 12, out, &len, &next));
    uint8_t fwd[20] = {0};
    fwd[12] = 0xC0;
    fwd[13] = 16; /* forward */
    fwd[16] = 0;
    ASSERT_EQ(-1, dns_name_read(fwd, 17, 12, out, &len, &next));
    /* two pointers bouncing between each other */
    uint8_t loop[20] = {0};
    loop[12] = 1;
    loop[13] = 'a';
    loop[14] = 0xC0;
    loop[15] = 16;
    loop[16] = 0xC0;
    loop[17] = 12;
    ASSERT_EQ(-1, dns_name_read(loop, 18, 16, out, &len, &next));
    /* truncated label, extended label type, missing terminator */
    uint8_t tr[16] = {0};
    tr[12] = 5;
    tr[13] = 'a';
    ASSERT_EQ(-1, dns_name_read(tr, 14, 12, out, &len, &next));
    tr[12] = 0x41;
    ASSERT_EQ(-1, dns_name_read(tr, 16, 12, out, &len, &next));
    /* 5 labels of 63 bytes: longer than 255 */
    uint8_t big[12 + 5 * 64 + 1];
    memset(big, 'x', sizeof big);
    for (int i = 0; i < 5; i++) big[12 + i * 64] = 63;
    big[sizeof big - 1] = 0;
    ASSERT_EQ(-1, dns_name_read(big, sizeof big, 12, out, &len, &next));
}

TEST(wire, text_conversions_and_equality)
{
    uint8_t w[DNS_NAME_MAX], v[DNS_NAME_MAX];
    ASSERT_EQ(12, dns_name_from_text("web.Consul.", 11, w));
    ASSERT_EQ(12, dns_name_from_text("WEB.consul", 10, v));
    ASSERT(dns_name_eq(w, v));
    ASSERT_EQ(1, dns_name_from_text(".", 1, w));
    ASSERT_EQ(-1, dns_name_from_text("a..b", 4, w));
    char l64[70];
    memset(l64, 'a', 64);
    l64[64] = '\0';
    ASSERT_EQ(-1, dns_name_from_text(l64, 64, w));
    char text[300];
    dns_name_from_text("Web.Consul", 10, w);
    dns_name_to_text(w, text, sizeof text, true);
    ASSERT_STR_EQ("web.consul.", text);
    uint8_t ip[16];
    ASSERT_EQ(4, dns_parse_ip(CN_STR("10.1.2.3"), ip));
    ASSERT_EQ(10, ip[0]);
    ASSERT_EQ(16, dns_parse_ip(CN_STR("::1"), ip));
    ASSERT_EQ(0, dns_parse_ip(CN_STR("db.example.com"), ip));
    ASSERT_EQ(0, dns_parse_ip(CN_STR(""), ip));
}

/* ---- parsing ------------------------------------------------------------------ */

static struct dns_config cfg;

static void setup(void)
{
    dns_config_init(&cfg, "dc1");
}

static int parse(const char *name, uint16_t type, struct dns_req *r)
{
    uint8_t p[512];
    size_t n = mkquery(p, name, type, 0);
    return dns_req_parse(&cfg, p, n, false, r);
}

TEST(parse, header_rules)
{
    setup();
    struct dns_req r;
    uint8_t p[512];
    size_t n = mkquery(p, "web.service.consul", DNS_T_A, 0);
    ASSERT_EQ(-1, dns_req_parse(&cfg, p, 11, false, &r));
    p[2] |= 0x80; /* a response */
    ASSERT_EQ(-1, dns_req_parse(&cfg, p, n, false, &r));
    p[2] &= 0x7F;
    ASSERT_EQ(DNS_NEED_SERVICE, dns_req_parse(&cfg, p, n, false, &r));
    ASSERT_EQ(0x1234, r.id);
    ASSERT(r.rd);
    p[5] = 0; /* no question */
    ASSERT_EQ(DNS_NEED_NONE, dns_req_parse(&cfg, p, n, false, &r));
    ASSERT_EQ(DNS_K_ERROR, r.kind);
    ASSERT_EQ(DNS_RC_FORMERR, r.rcode);
    p[5] = 1;
    p[2] |= 4 << 3; /* opcode NOTIFY */
    dns_req_parse(&cfg, p, n, false, &r);
    ASSERT_EQ(DNS_RC_NOTIMP, r.rcode);
    n = mkquery(p, "consul", DNS_T_AXFR, 0);
    dns_req_parse(&cfg, p, n, true, &r);
    ASSERT_EQ(DNS_RC_NOTIMP, r.rcode);
    /* a truncated question */
    n = mkquery(p, "web.service.consul", DNS_T_A, 0);
    dns_req_parse(&cfg, p, n - 2, false, &r);
    ASSERT_EQ(DNS_RC_FORMERR, r.rcode);
    /* an answer count with nothing behind it */
    p[7] = 3;
    dns_req_parse(&cfg, p, n, false, &r);
    ASSERT_EQ(DNS_RC_FORMERR, r.rcode);
    /* class CHAOS */
    n = mkquery(p, "version.bind", DNS_T_TXT, 0);
    p[n - 1] = 3;
    dns_req_parse(&cfg, p, n, false, &r);
    ASSERT_EQ(DNS_RC_REFUSED, r.rcode);
}

static size_t with_opt(uint8_t *p, const char *name, const uint8_t *opts, size_t olen,
                       uint8_t version)
{
    size_t n = mkquery(p, name, DNS_T_SRV, 1232);
    p[n - 5] = version;
    p[n - 2] = (uint8_t)(olen >> 8);
    p[n - 1] = (uint8_t)olen;
    memcpy(p + n, opts, olen);
    return n + olen;
}

TEST(parse, edns_cookie_ecs_badvers)
{
    setup();
    struct dns_req r;
    uint8_t p[512];
    /* dig's COOKIE option (10) is ignored */
    const uint8_t cookie[] = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
    size_t n = with_opt(p, "web.service.consul", cookie, sizeof cookie, 0);
    ASSERT_EQ(DNS_NEED_SERVICE, dns_req_parse(&cfg, p, n, false, &r));
    ASSERT(r.edns);
    ASSERT_EQ(1232, r.edns_size);
    ASSERT_EQ(0, r.ecs_len);
    const uint8_t ecs[] = {0, 8, 0, 7, 0, 1, 24, 0, 10, 1, 2};
    n = with_opt(p, "web.service.consul", ecs, sizeof ecs, 0);
    ASSERT_EQ(DNS_NEED_SERVICE, dns_req_parse(&cfg, p, n, false, &r));
    ASSERT_EQ(7, r.ecs_len);
    const uint8_t bad_ecs[] = {0, 8, 0, 6, 0, 1, 24, 0, 10, 1}; /* 24 bits need 3 bytes */
    n = with_opt(p, "web.service.consul", bad_ecs, sizeof bad_ecs, 0);
    dns_req_parse(&cfg, p, n, false, &r);
    ASSERT_EQ(DNS_RC_FORMERR, r.rcode);
    const uint8_t overrun[] = {0, 10, 0, 9, 1};
    n = with_opt(p, "web.service.consul", overrun, sizeof overrun, 0);
    dns_req_parse(&cfg, p, n, false, &r);
    ASSERT_EQ(DNS_RC_FORMERR, r.rcode);
    n = with_opt(p, "web.service.consul", cookie, sizeof cookie, 1);
    dns_req_parse(&cfg, p, n, false, &r);
    ASSERT_EQ(DNS_RC_BADVERS, r.rcode);
    ASSERT(r.edns);
    /* two OPT records */
    n = mkquery(p, "web.service.consul", DNS_T_SRV, 1232);
    memcpy(p + n, p + n - 11, 11);
    p[11] = 2;
    dns_req_parse(&cfg, p, n + 11, false, &r);
    ASSERT_EQ(DNS_RC_FORMERR, r.rcode);
}

TEST(parse, service_forms)
{
    setup();
    struct dns_req r;
    ASSERT_EQ(DNS_NEED_SERVICE, parse("web.service.consul", DNS_T_A, &r));
    ASSERT_STR_EQ("web", r.service);
    ASSERT_STR_EQ("", r.tag);
    ASSERT_STR_EQ("", r.dc);
    parse("V1.Web.SERVICE.Consul.", DNS_T_A, &r);
    ASSERT_EQ(DNS_K_SERVICE, r.kind);
    ASSERT_STR_EQ("web", r.service);
    ASSERT_STR_EQ("v1", r.tag);
    parse("a.b.web.service.consul", DNS_T_A, &r);
    ASSERT_STR_EQ("a.b", r.tag);
    parse("_web._tcp.service.consul", DNS_T_SRV, &r);
    ASSERT_STR_EQ("web", r.service);
    ASSERT_STR_EQ("", r.tag);
    parse("_web._v1.service.dc1.consul", DNS_T_SRV, &r);
    ASSERT_STR_EQ("web", r.service);
    ASSERT_STR_EQ("v1", r.tag);
    ASSERT_STR_EQ("dc1", r.dc);
    parse("_web._udp.service.consul", DNS_T_SRV, &r);
    ASSERT_STR_EQ("udp", r.tag);
    /* SRV may leave `service` out */
    ASSERT_EQ(DNS_NEED_SERVICE, parse("_web._tcp.consul", DNS_T_SRV, &r));
    ASSERT_STR_EQ("web", r.service);
    ASSERT_STR_EQ("", r.tag);
    parse("_web._tcp.dc2.consul", DNS_T_SRV, &r);
    ASSERT_EQ(DNS_K_SERVICE, r.kind);
    ASSERT_STR_EQ("dc2", r.dc);
    ASSERT(dns_req_remote_dc(&cfg, &r));
    parse("_web._tcp.consul", DNS_T_A, &r);
    ASSERT_EQ(DNS_K_INVALID, r.kind);
    parse("web.service.dc1.dc.consul", DNS_T_A, &r);
    ASSERT_EQ(DNS_K_SERVICE, r.kind);
    ASSERT_STR_EQ("dc1", r.dc);
    ASSERT(!dns_req_remote_dc(&cfg, &r));
    parse("web.service.DC1.consul", DNS_T_A, &r);
    ASSERT(!dns_req_remote_dc(&cfg, &r));
    parse("web.service.dc1.stuff.consul", DNS_T_A, &r);
    ASSERT_EQ(DNS_K_INVALID, r.kind);
    parse("web.service.a.b.c.consul", DNS_T_A, &r);
    ASSERT_EQ(DNS_K_INVALID, r.kind);
    ASSERT_EQ(DNS_NEED_NONE, parse("service.consul", DNS_T_A, &r));
    ASSERT_EQ(DNS_K_INVALID, r.kind);
    parse("web.connect.consul", DNS_T_A, &r);
    ASSERT_EQ(DNS_K_INVALID, r.kind);
}

TEST(parse, node_query_addr_forms)
{
    setup();
    struct dns_req r;
    ASSERT_EQ(DNS_NEED_NODE, parse("Node1.node.consul", DNS_T_A, &r));
    ASSERT_STR_EQ("node1", r.node);
    parse("a.b.node.dc1.consul", DNS_T_TXT, &r);
    ASSERT_STR_EQ("a.b", r.node);
    parse("node.consul", DNS_T_A, &r);
    ASSERT_EQ(DNS_K_INVALID, r.kind);
    ASSERT_EQ(DNS_NEED_NONE, parse("q.query.consul", DNS_T_A, &r));
    ASSERT_EQ(DNS_K_QUERY, r.kind);
    parse("_q._tcp.query.consul", DNS_T_SRV, &r);
    ASSERT_EQ(DNS_K_QUERY, r.kind);
    ASSERT_EQ(DNS_NEED_NONE, parse("7F000001.addr.dc1.consul", DNS_T_A, &r));
    ASSERT_EQ(DNS_K_ADDR, r.kind);
    ASSERT_EQ(4, r.addr_len);
    ASSERT_EQ(0x7f, r.addr[0]);
    ASSERT_EQ(1, r.addr[3]);
    parse("20010db8000000000000000000000001.addr.consul", DNS_T_AAAA, &r);
    ASSERT_EQ(16, r.addr_len);
    ASSERT_EQ(0x20, r.addr[0]);
    parse("7f00001.addr.consul", DNS_T_A, &r);
    ASSERT_EQ(DNS_K_INVALID, r.kind);
    parse("7f00000g.addr.consul", DNS_T_A, &r);
    ASSERT_EQ(DNS_K_INVALID, r.kind);
    parse("x.7f000001.addr.consul", DNS_T_A, &r);
    ASSERT_EQ(DNS_K_INVALID, r.kind);
}

TEST(parse, zones_apex_outside_ptr)
{
    setup();
    struct dns_req r;
    ASSERT_EQ(DNS_NEED_SERVERS, parse("consul", DNS_T_SOA, &r));
    ASSERT_EQ(DNS_K_SOA, r.kind);
    ASSERT_EQ(DNS_NEED_SERVERS, parse("anything.here.consul", DNS_T_NS, &r));
    ASSERT_EQ(DNS_K_NS, r.kind);
    parse("consul", DNS_T_A, &r);
    ASSERT_EQ(DNS_K_INVALID, r.kind);
    ASSERT_EQ(DNS_NEED_NONE, parse("example.com", DNS_T_A, &r));
    ASSERT_EQ(DNS_K_OUTSIDE, r.kind);
    parse("consul.example.com", DNS_T_A, &r);
    ASSERT_EQ(DNS_K_OUTSIDE, r.kind);
    parse("notconsul", DNS_T_A, &r);
    ASSERT_EQ(DNS_K_OUTSIDE, r.kind);
    cfg.recursors = true;
    ASSERT_EQ(DNS_NEED_RECURSE, parse("example.com", DNS_T_A, &r));
    ASSERT_EQ(DNS_NEED_PTR, parse("1.0.0.127.in-addr.arpa", DNS_T_PTR, &r));
    ASSERT_EQ(4, r.addr_len);
    ASSERT_EQ(127, r.addr[0]);
    ASSERT_EQ(1, r.addr[3]);
    ASSERT_EQ(DNS_NEED_RECURSE, parse("0.127.in-addr.arpa", DNS_T_PTR, &r));
    ASSERT_EQ(DNS_NEED_PTR, parse("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
                                  DNS_T_PTR, &r));
    ASSERT_EQ(16, r.addr_len);
    ASSERT_EQ(0x20, r.addr[0]);
    ASSERT_EQ(1, r.addr[15]);
    /* alt domain, nested under the domain: the longer one wins */
    ASSERT_EQ(0, dns_config_set_zone(&cfg, 1, "Alt.Consul"));
    parse("web.service.alt.consul", DNS_T_A, &r);
    ASSERT_EQ(1, r.zone);
    ASSERT_EQ(DNS_K_SERVICE, r.kind);
    parse("web.service.consul", DNS_T_A, &r);
    ASSERT_EQ(0, r.zone);
    ASSERT_EQ(0, dns_config_set_zone(&cfg, 0, "cairn.example."));
    parse("web.service.cairn.example", DNS_T_A, &r);
    ASSERT_EQ(DNS_K_SERVICE, r.kind);
    ASSERT_EQ(CN_EINVAL, dns_config_set_zone(&cfg, 0, "a..b"));
}

TEST(config, service_ttl_selection)
{
    setup();
    dns_config_add_ttl(&cfg, "*", 5 * 1000000000LL);
    dns_config_add_ttl(&cfg, "web", 30 * 1000000000LL);
    dns_config_add_ttl(&cfg, "db-*", 10 * 1000000000LL);
    dns_config_add_ttl(&cfg, "db-prim*", 20500 * 1000000LL); /* 20.5 s: whole seconds */
    ASSERT_EQ(30, dns_service_ttl(&cfg, CN_STR("web")));
    ASSERT_EQ(30, dns_service_ttl(&cfg, CN_STR("WEB")));
    ASSERT_EQ(5, dns_service_ttl(&cfg, CN_STR("web2")));
    ASSERT_EQ(10, dns_service_ttl(&cfg, CN_STR("db-x")));
    ASSERT_EQ(20, dns_service_ttl(&cfg, CN_STR("db-primary")));
    ASSERT_EQ(5, dns_service_ttl(&cfg, CN_STR("db")));
    dns_config_release(&cfg);
    setup();
    ASSERT_EQ(0, dns_service_ttl(&cfg, CN_STR("web")));
}
