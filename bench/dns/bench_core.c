/* bench_core: the DNS core's cost per query without the network: parse a
 * query, read a 10-instance service from a state store, build the reply.
 * usage: bench_core [iterations] [edns_size] -> ns per query per stage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acl/acl.h"
#include "dns/dns.h"
#include "state/state.h"

static double now(void)
{
    struct timespec ts;
    /* CPU time: the machine is shared, wall time would measure the neighbours */
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void reg(struct state_store *st, uint64_t idx, int i)
{
    char node[32], addr[32];
    snprintf(node, sizeof node, "web-%d", i);
    snprintf(addr, sizeof addr, "10.0.0.%d", i + 1);
    struct state_node n = {.id = "", .name = node, .address = addr};
    struct state_service s = {.id = "web", .name = "web", .port = 8080 + i, .weight_passing = 1,
                              .weight_warning = 1, .address = "", .kind = "", .socket_path = "",
                              .proxy = "", .connect = ""};
    struct state_check c = {.check_id = "serfHealth", .name = "Serf Health Status",
                            .status = "passing", .service_id = "", .notes = "", .output = "",
                            .service_name = "", .type = ""};
    struct state_register r = {.node = &n, .service = &s, .checks = &c, .nchecks = 1};
    struct cn_err err;
    struct state_txn *tx = state_txn_begin(st, idx);
    if (state_catalog_register_txn(tx, &r, &err)) {
        fprintf(stderr, "register: %s\n", err.msg);
        exit(1);
    }
    state_txn_commit(tx);
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 500000;
    int edns = argc > 2 ? atoi(argv[2]) : 1232;
    struct state_store *st = state_new();
    for (int i = 0; i < 10; i++) reg(st, (uint64_t)(10 + i), i);
    struct acl_authz *all = acl_authz_static(true);
    struct dns_config cfg;
    dns_config_init(&cfg, "dc1");
    struct dns_builder *b = dns_builder_new(42);
    struct dns_insts l = {0};
    struct dns_cache *cache = getenv("NOCACHE") ? NULL : dns_cache_new();
    static uint8_t q[512], out[DNS_TCP_MAX + 64];
    /* web.service.consul SRV, EDNS */
    size_t ql = 12;
    memset(q, 0, 12);
    q[0] = 0xab;
    q[5] = 1;
    q[11] = edns ? 1 : 0;
    int wl = dns_name_from_text("web.service.consul", 18, q + ql);
    ql += (size_t)wl;
    const uint8_t tail[] = {0, 33, 0, 1};
    memcpy(q + ql, tail, 4);
    ql += 4;
    if (edns) {
        const uint8_t opt[] = {0, 0, 41, (uint8_t)(edns >> 8), (uint8_t)edns, 0, 0, 0, 0, 0, 0};
        memcpy(q + ql, opt, sizeof opt);
        ql += sizeof opt;
    }
    struct dns_req r;
    size_t total = 0;
    double t0 = now();
    for (long i = 0; i < iters; i++) dns_req_parse(&cfg, q, ql, false, &r);
    double t1 = now();
    for (long i = 0; i < iters; i++)
        dns_cache_service(cache, st, all, cn_str_from(r.service), cn_str_from(r.tag), false, &l);
    double t2 = now();
    for (long i = 0; i < iters; i++)
        total += dns_answer(b, &cfg, &r, DNS_LK_OK, l.v, l.n, 1700000000, out, sizeof out);
    double t3 = now();
    double t_parse = t1 - t0, t_lookup = t2 - t1, t_answer = t3 - t2;
    printf("instances %zu reply %zu bytes\n", l.n, total / (size_t)iters);
    printf("ns/query: parse %.0f lookup %.0f answer %.0f total %.0f\n", t_parse / (double)iters,
           t_lookup / (double)iters, t_answer / (double)iters,
           (t_parse + t_lookup + t_answer) / (double)iters);
    dns_insts_release(&l);
    dns_cache_free(cache);
    dns_builder_free(b);
    acl_authz_free(all);
    state_free(st);
    return 0;
}
