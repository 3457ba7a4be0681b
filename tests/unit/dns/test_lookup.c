/* Lookups from the state store: health filtering, tags, ACLs, nodes, addresses. */
#include <stdlib.h>

#include "acl/acl.h"
#include "helpers.h"
#include "state/state.h"

static struct state_node mk_node(const char *name, const char *addr)
{
    struct state_node n = {0};
    n.name = (char *)name;
    n.address = (char *)addr;
    n.id = "";
    return n;
}

static struct state_service mk_svc(const char *id, const char *name, int port, const char *addr)
{
    struct state_service s = {0};
    s.id = (char *)id;
    s.name = (char *)name;
    s.port = port;
    s.address = (char *)addr;
    s.weight_passing = 3;
    s.weight_warning = 1;
    return s;
}

static struct state_check mk_check(const char *id, const char *svc, const char *status)
{
    struct state_check c = {0};
    c.check_id = (char *)id;
    c.name = (char *)id;
    c.service_id = (char *)(svc ? svc : "");
    c.status = (char *)status;
    return c;
}

static uint64_t idx = 10;

static void reg(struct state_store *st, const struct state_node *n, const struct state_service *s,
                const struct state_check *c, size_t nc)
{
    struct cn_err err;
    struct state_register r = {.node = n, .service = s, .checks = c, .nchecks = nc};
    struct state_txn *tx = state_txn_begin(st, ++idx);
    ASSERT_OK(state_catalog_register_txn(tx, &r, &err));
    state_txn_commit(tx);
}

/* web on n1 (passing), n2 (warning), n3 (critical), n4 (passing, node critical) */
static struct state_store *fixture(void)
{
    struct state_store *st = state_new();
    struct state_node n1 = mk_node("n1", "10.0.0.1"), n2 = mk_node("n2", "10.0.0.2"),
                      n3 = mk_node("n3", "10.0.0.3"), n4 = mk_node("n4", "10.0.0.4");
    struct state_service w1 = mk_svc("web1", "web", 80, ""), w2 = mk_svc("web2", "web", 81, ""),
                         w3 = mk_svc("web3", "web", 82, ""), w4 = mk_svc("web4", "web", 83, "");
    char *tags[] = {"v1", "Primary"};
    w1.tags = tags;
    w1.ntags = 2;
    struct state_check c1 = mk_check("c1", "web1", "passing"), c2 = mk_check("c2", "web2", "warning"),
                       c3 = mk_check("c3", "web3", "critical"), c4 = mk_check("c4", "web4", "passing"),
                       nodec = mk_check("serfHealth", NULL, "critical");
    reg(st, &n1, &w1, &c1, 1);
    reg(st, &n2, &w2, &c2, 1);
    reg(st, &n3, &w3, &c3, 1);
    reg(st, &n4, &w4, &c4, 1);
    reg(st, &n4, NULL, &nodec, 1);
    struct state_service db = mk_svc("db1", "db", 5432, "192.168.5.5");
    reg(st, &n1, &db, NULL, 0);
    return st;
}

TEST(lookup, health_filtering)
{
    struct state_store *st = fixture();
    struct acl_authz *all = acl_authz_static(true);
    struct dns_insts l = {0};
    dns_lookup_service(st, all, CN_STR("web"), CN_STR_NULL, false, &l);
    ASSERT_EQ(2, l.n); /* critical service check and critical node check dropped */
    bool saw1 = false, saw2 = false;
    for (size_t i = 0; i < l.n; i++) {
        if (cn_str_eq_cstr(l.v[i].node, "n1")) {
            saw1 = true;
            ASSERT_EQ(3, l.v[i].weight);
            ASSERT_EQ(80, l.v[i].port);
        }
        if (cn_str_eq_cstr(l.v[i].node, "n2")) {
            saw2 = true;
            ASSERT_EQ(1, l.v[i].weight); /* Weights.Warning */
        }
    }
    ASSERT(saw1 && saw2);
    dns_lookup_service(st, all, CN_STR("WEB"), CN_STR_NULL, true, &l);
    ASSERT_EQ(1, l.n);
    ASSERT(cn_str_eq_cstr(l.v[0].node, "n1"));
    dns_lookup_service(st, all, CN_STR("web"), CN_STR("primary"), false, &l);
    ASSERT_EQ(1, l.n);
    dns_lookup_service(st, all, CN_STR("web"), CN_STR("v2"), false, &l);
    ASSERT_EQ(0, l.n);
    dns_lookup_service(st, all, CN_STR("nosuch"), CN_STR_NULL, false, &l);
    ASSERT_EQ(0, l.n);
    dns_lookup_service(st, all, CN_STR("db"), CN_STR_NULL, false, &l);
    ASSERT_EQ(1, l.n);
    ASSERT(cn_str_eq_cstr(l.v[0].svc_addr, "192.168.5.5"));
    dns_insts_release(&l);
    acl_authz_free(all);
    state_free(st);
}

TEST(lookup, acl_hides_what_the_token_cannot_read)
{
    struct state_store *st = fixture();
    struct acl_authz *none = acl_authz_static(false);
    struct dns_insts l = {0};
    dns_lookup_service(st, none, CN_STR("web"), CN_STR_NULL, false, &l);
    ASSERT_EQ(0, l.n);
    dns_lookup_node(st, none, CN_STR("n1"), &l);
    ASSERT_EQ(0, l.n);
    /* service:read on web but node:read only on n2 */
    struct acl_rules rules;
    acl_rules_init(&rules);
    acl_rules_add(&rules, ACL_R_SERVICE, false, "web", ACL_L_READ);
    acl_rules_add(&rules, ACL_R_NODE, false, "n2", ACL_L_READ);
    const struct acl_rules *pol = &rules;
    struct acl_identity id = {.accessor = "t", .policies = &pol, .npolicies = 1};
    struct acl_authz_opts o = {.default_allow = false};
    struct acl_authz *some = acl_authz_compile(&id, &o);
    dns_lookup_service(st, some, CN_STR("web"), CN_STR_NULL, false, &l);
    ASSERT_EQ(1, l.n);
    ASSERT(cn_str_eq_cstr(l.v[0].node, "n2"));
    acl_authz_free(some);
    acl_rules_release(&rules);
    acl_authz_free(none);
    dns_insts_release(&l);
    state_free(st);
}

TEST(lookup, nodes_and_addresses)
{
    struct state_store *st = fixture();
    struct acl_authz *all = acl_authz_static(true);
    struct dns_insts l = {0};
    dns_lookup_node(st, all, CN_STR("N3"), &l);
    ASSERT_EQ(1, l.n); /* node answers do not filter on health */
    ASSERT(cn_str_eq_cstr(l.v[0].node_addr, "10.0.0.3"));
    dns_lookup_node(st, all, CN_STR("nosuch"), &l);
    ASSERT_EQ(0, l.n);
    uint8_t a[4] = {10, 0, 0, 2};
    dns_lookup_addr(st, all, a, 4, &l);
    ASSERT_EQ(1, l.n);
    ASSERT(cn_str_eq_cstr(l.v[0].node, "n2"));
    ASSERT_EQ(0, l.v[0].service.len);
    uint8_t b[4] = {192, 168, 5, 5};
    dns_lookup_addr(st, all, b, 4, &l);
    ASSERT_EQ(1, l.n);
    ASSERT(cn_str_eq_cstr(l.v[0].service, "db"));
    uint8_t c[4] = {1, 2, 3, 4};
    dns_lookup_addr(st, all, c, 4, &l);
    ASSERT_EQ(0, l.n);
    dns_insts_release(&l);
    acl_authz_free(all);
    state_free(st);
}

/* From the store to the wire in one go, as a server answers. */
TEST(lookup, end_to_end_srv)
{
    struct state_store *st = fixture();
    struct acl_authz *all = acl_authz_static(true);
    struct dns_insts l = {0};
    struct dns_config cfg;
    dns_config_init(&cfg, "dc1");
    struct dns_builder *b = dns_builder_new(1);
    uint8_t q[512], out[DNS_TCP_MAX];
    struct dns_req r;
    size_t ql = mkquery(q, "_web._tcp.service.consul", DNS_T_SRV, 1232);
    ASSERT_EQ(DNS_NEED_SERVICE, dns_req_parse(&cfg, q, ql, false, &r));
    dns_lookup_service(st, all, cn_str_from(r.service), cn_str_from(r.tag), cfg.only_passing, &l);
    size_t len = dns_answer(b, &cfg, &r, DNS_LK_OK, l.v, l.n, 1, out, sizeof out);
    struct dmsg *m = calloc(1, sizeof *m);
    ASSERT_EQ(0, decode(out, len, m));
    ASSERT_EQ(2, m->an);
    ASSERT_EQ(2, m->ar);
    free(m);
    dns_builder_free(b);
    dns_config_release(&cfg);
    dns_insts_release(&l);
    acl_authz_free(all);
    state_free(st);
}

/* The cache answers what a fresh read would: every change to the service's
 * instances, their checks or their nodes is seen at once. */
TEST(cache, follows_every_change_to_the_service)
{
    struct state_store *st = fixture();
    struct acl_authz *all = acl_authz_static(true);
    struct dns_cache *c = dns_cache_new();
    struct dns_insts l = {0};
    uint64_t hits, misses;
    dns_cache_service(c, st, all, CN_STR("web"), CN_STR_NULL, false, &l);
    ASSERT_EQ(2, l.n);
    dns_cache_service(c, st, all, CN_STR("web"), CN_STR_NULL, false, &l);
    ASSERT_EQ(2, l.n);
    dns_cache_stats(c, &hits, &misses);
    ASSERT_U64_EQ(1, hits);
    ASSERT_U64_EQ(1, misses);
    /* a check turns critical */
    struct state_node n2 = mk_node("n2", "10.0.0.2");
    struct state_check c2 = mk_check("c2", "web2", "critical");
    reg(st, &n2, NULL, &c2, 1);
    dns_cache_service(c, st, all, CN_STR("web"), CN_STR_NULL, false, &l);
    ASSERT_EQ(1, l.n);
    ASSERT(cn_str_eq_cstr(l.v[0].node, "n1"));
    /* the node's address changes (nothing else) */
    struct state_node n1 = mk_node("n1", "10.0.0.99");
    reg(st, &n1, NULL, NULL, 0);
    dns_cache_service(c, st, all, CN_STR("WEB"), CN_STR_NULL, false, &l);
    ASSERT_EQ(1, l.n);
    ASSERT(cn_str_eq_cstr(l.v[0].node_addr, "10.0.0.99"));
    ASSERT_EQ(4, dns_inst_ip(&l.v[0]));
    ASSERT_EQ(99, l.v[0].ip[3]);
    /* a node-level check on n1 turns critical */
    struct state_check nodec = mk_check("serfHealth", NULL, "critical");
    reg(st, &n1, NULL, &nodec, 1);
    dns_cache_service(c, st, all, CN_STR("web"), CN_STR_NULL, false, &l);
    ASSERT_EQ(0, l.n);
    /* a new instance, tags and only_passing are keys of their own */
    struct state_node n5 = mk_node("n5", "10.0.0.5");
    struct state_service w5 = mk_svc("web5", "web", 85, "");
    reg(st, &n5, &w5, NULL, 0);
    dns_cache_service(c, st, all, CN_STR("web"), CN_STR_NULL, false, &l);
    ASSERT_EQ(1, l.n);
    ASSERT(cn_str_eq_cstr(l.v[0].node, "n5"));
    dns_cache_service(c, st, all, CN_STR("web"), CN_STR("primary"), false, &l);
    ASSERT_EQ(0, l.n);
    /* deregistration */
    struct state_txn *tx = state_txn_begin(st, ++idx);
    ASSERT_OK(state_catalog_deregister_txn(tx, CN_STR("n5"), CN_STR("web5"), CN_STR_NULL));
    state_txn_commit(tx);
    dns_cache_service(c, st, all, CN_STR("web"), CN_STR_NULL, false, &l);
    ASSERT_EQ(0, l.n);
    /* db1 lives on n1, whose node check is critical now */
    dns_cache_service(c, st, all, CN_STR("db"), CN_STR_NULL, false, &l);
    ASSERT_EQ(0, l.n);
    /* ACLs apply on every use, hit or not */
    struct state_service api = mk_svc("api1", "api", 90, "");
    reg(st, &n5, &api, NULL, 0);
    struct acl_authz *none = acl_authz_static(false);
    dns_cache_service(c, st, all, CN_STR("api"), CN_STR_NULL, false, &l);
    ASSERT_EQ(1, l.n);
    dns_cache_service(c, st, none, CN_STR("api"), CN_STR_NULL, false, &l);
    ASSERT_EQ(0, l.n);
    dns_cache_service(c, st, all, CN_STR("api"), CN_STR_NULL, false, &l);
    ASSERT_EQ(1, l.n);
    acl_authz_free(none);
    dns_insts_release(&l);
    dns_cache_free(c);
    acl_authz_free(all);
    state_free(st);
}

/* Cached reads and direct reads give the same instances. */
TEST(cache, same_as_direct_read)
{
    struct state_store *st = fixture();
    struct acl_authz *all = acl_authz_static(true);
    struct dns_cache *c = dns_cache_new();
    struct dns_insts a = {0}, b = {0};
    const char *names[] = {"web", "db", "nosuch"};
    for (int pass = 0; pass < 2; pass++)
        for (size_t k = 0; k < 3; k++)
            for (int op = 0; op < 2; op++) {
                dns_lookup_service(st, all, cn_str_from(names[k]), CN_STR_NULL, op, &a);
                dns_cache_service(c, st, all, cn_str_from(names[k]), CN_STR_NULL, op, &b);
                ASSERT_EQ(a.n, b.n);
                for (size_t i = 0; i < a.n; i++) {
                    ASSERT(cn_str_eq(a.v[i].node, b.v[i].node));
                    ASSERT(cn_str_eq(a.v[i].node_addr, b.v[i].node_addr));
                    ASSERT(cn_str_eq(a.v[i].svc_addr, b.v[i].svc_addr));
                    ASSERT_EQ(a.v[i].port, b.v[i].port);
                    ASSERT_EQ(a.v[i].weight, b.v[i].weight);
                    ASSERT_EQ(a.v[i].nmeta, b.v[i].nmeta);
                }
            }
    dns_insts_release(&a);
    dns_insts_release(&b);
    dns_cache_free(c);
    acl_authz_free(all);
    state_free(st);
}
