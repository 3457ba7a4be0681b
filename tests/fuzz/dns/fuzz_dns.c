/* libFuzzer: a datagram through the DNS core as the listener runs it: parse
 * and classify (UDP and TCP), then build the reply from a fixed set of
 * instances. Checks that a reply respects its transport's size limit, keeps
 * the query's ID and question, and that its names decode. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "state/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct state_pair meta[] = {{"rack", "r1"}, {"a=b `x", "v`"}, {"rfc1035-x", "raw"}};

static const struct dns_inst fixed[] = {
    {.node = {"n1", 2}, .node_addr = {"10.0.0.1", 8}, .svc_addr = {"", 0}, .meta = meta, .nmeta = 3,
     .port = 80, .weight = 1},
    {.node = {"n2", 2}, .node_addr = {"::1", 3}, .svc_addr = {"127.0.0.2", 9}, .port = 81, .weight = 5},
    {.node = {"n3.with.dots", 12}, .node_addr = {"host.example.com", 16}, .svc_addr = {"", 0},
     .port = 82, .weight = 1},
    {.node = {"n4", 2}, .node_addr = {"10.0.0.4", 8}, .svc_addr = {"2001:db8::1", 11}, .port = 83,
     .weight = 0},
    {.node = {"n1", 2}, .node_addr = {"10.0.0.1", 8}, .svc_addr = {"", 0}, .port = 80, .weight = 1},
    {.node = {"bad_name", 8}, .node_addr = {"10.0.0.6", 8}, .svc_addr = {"x..y", 4}, .port = 84,
     .weight = 1},
};

static void check_reply(const uint8_t *q, const uint8_t *p, size_t len, size_t limit)
{
    uint8_t name[DNS_NAME_MAX];
    size_t nlen, next;
    if (len == 0) return;
    if (len < DNS_HEADER_LEN || len > limit || memcmp(p, q, 2) || !(p[2] & 0x80)) abort();
    size_t off = DNS_HEADER_LEN;
    unsigned counts = (unsigned)(p[6] << 8 | p[7]) + (unsigned)(p[8] << 8 | p[9]) +
                      (unsigned)(p[10] << 8 | p[11]);
    if ((p[4] << 8 | p[5]) == 1) {
        if (dns_name_read(p, len, off, name, &nlen, &next)) abort();
        off = next + 4;
    }
    for (unsigned i = 0; i < counts; i++) {
        if (dns_name_read(p, len, off, name, &nlen, &next) || next + 10 > len) abort();
        size_t rdlen = (size_t)(p[next + 8] << 8 | p[next + 9]);
        off = next + 10 + rdlen;
        if (off > len) abort();
    }
    if (off != len) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct dns_config cfg;
    static struct dns_builder *b;
    static uint8_t out[DNS_TCP_MAX + 64];
    struct dns_inst in[sizeof fixed / sizeof *fixed];
    if (!b) {
        dns_config_init(&cfg, "dc1");
        dns_config_set_zone(&cfg, 1, "alt.test");
        dns_config_add_ttl(&cfg, "w*", 5000000000LL);
        b = dns_builder_new(1);
    }
    cfg.recursors = size & 1;
    cfg.enable_truncate = size & 2;
    cfg.disable_compression = (size & 12) == 12;
    for (int tcp = 0; tcp < 2; tcp++) {
        struct dns_req r;
        int need = dns_req_parse(&cfg, data, size, tcp, &r);
        if (need < 0) continue;
        memcpy(in, fixed, sizeof in);
        size_t n = need == DNS_NEED_NONE || need == DNS_NEED_RECURSE ? 0 : sizeof in / sizeof *in;
        size_t len = dns_answer(b, &cfg, &r, DNS_LK_OK, in, n, 1700000000, out, sizeof out);
        size_t limit = tcp ? DNS_TCP_MAX
                           : r.edns && r.edns_size > DNS_UDP_MIN
                                 ? (r.edns_size > DNS_UDP_MAX ? DNS_UDP_MAX : r.edns_size)
                                 : DNS_UDP_MIN;
        check_reply(data, out, len, limit);
        len = dns_answer_rcode(&cfg, &r, DNS_RC_SERVFAIL, true, out, sizeof out);
        check_reply(data, out, len, DNS_TCP_MAX);
    }
    return 0;
}
