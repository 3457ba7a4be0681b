/*
 * lookup.c - what a DNS question reads from the state store (servers):
 * service instances as GET /v1/health/service/<s> sees them, minus the
 * critical ones (dns.md §3), a node, or the owner of an address (PTR).
 * Records are borrowed from the store: valid until its next write, so the
 * caller builds the answer in the same callback.
 */
#include <string.h>

#include "acl/acl.h"
#include "dns/dns.h"
#include "state/state.h"

static struct dns_inst inst_of(const struct state_node *n)
{
    return (struct dns_inst){.node = cn_str_from(n->name),
                             .node_addr = cn_str_from(n->address),
                             .meta = n->meta,
                             .nmeta = n->nmeta};
}

struct svc_ctx {
    const struct acl_authz *authz;
    struct dns_insts *out;
};

static bool on_row(void *ctx, const struct state_csn *row)
{
    struct svc_ctx *c = ctx;
    const char *worst = state_checks_worst(row->checks, row->nchecks);
    if (worst && !strcmp(worst, "critical")) return true;
    if (!acl_allow(c->authz, ACL_R_NODE, cn_str_from(row->node->name), ACL_A_READ)) return true;
    const struct state_service *s = row->service;
    struct dns_inst in = inst_of(row->node);
    in.svc_addr = cn_str_from(s->address);
    in.port = (uint16_t)(s->port > 0 && s->port <= 65535 ? s->port : 0);
    in.weight = dns_weight(s->weight_passing, s->weight_warning, worst);
    dns_insts_push(c->out, &in);
    return true;
}

uint64_t dns_lookup_service(struct state_store *st, const struct acl_authz *authz,
                            struct cn_str name, struct cn_str tag, bool only_passing,
                            struct dns_insts *out)
{
    struct svc_ctx c = {.authz = authz, .out = out};
    out->n = 0;
    if (!acl_allow(authz, ACL_R_SERVICE, name, ACL_A_READ))
        return state_service_instances(st, name, NULL, NULL, NULL);
    return state_health_service(st, name, tag.len ? &tag : NULL, tag.len ? 1 : 0, only_passing,
                                NULL, on_row, &c);
}

uint64_t dns_lookup_node(struct state_store *st, const struct acl_authz *authz, struct cn_str name,
                         struct dns_insts *out)
{
    out->n = 0;
    const struct state_node *n = state_node_get(st, name, NULL);
    if (n && acl_allow(authz, ACL_R_NODE, cn_str_from(n->name), ACL_A_READ)) {
        struct dns_inst in = inst_of(n);
        dns_insts_push(out, &in);
    }
    return state_node_index(st, name);
}

struct addr_ctx {
    struct state_store *st;
    const struct acl_authz *authz;
    const uint8_t *addr;
    size_t len;
    struct dns_insts *out;
};

static bool same_ip(const char *text, const uint8_t *addr, size_t len)
{
    uint8_t ip[16];
    return dns_parse_ip(cn_str_from(text), ip) == (int)len && !memcmp(ip, addr, len);
}

static bool on_node(void *ctx, const struct state_node *n)
{
    struct addr_ctx *c = ctx;
    if (!same_ip(n->address, c->addr, c->len) ||
        !acl_allow(c->authz, ACL_R_NODE, cn_str_from(n->name), ACL_A_READ))
        return true;
    struct dns_inst in = inst_of(n);
    dns_insts_push(c->out, &in);
    return false;
}

static bool on_service(void *ctx, const struct state_service *s)
{
    struct addr_ctx *c = ctx;
    if (!s->address[0] || !same_ip(s->address, c->addr, c->len) ||
        !acl_allow(c->authz, ACL_R_SERVICE, cn_str_from(s->name), ACL_A_READ))
        return true;
    struct dns_inst in = {.node = cn_str_from(s->node), .svc_addr = cn_str_from(s->address),
                          .service = cn_str_from(s->name)};
    dns_insts_push(c->out, &in);
    return false;
}

void dns_lookup_addr(struct state_store *st, const struct acl_authz *authz, const uint8_t *addr,
                     size_t addr_len, struct dns_insts *out)
{
    struct addr_ctx c = {.st = st, .authz = authz, .addr = addr, .len = addr_len, .out = out};
    out->n = 0;
    state_nodes_list(st, NULL, on_node, &c);
    if (!out->n) state_services_list(st, NULL, on_service, &c);
}
