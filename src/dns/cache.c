/*
 * cache.c - service instances as DNS reads them, kept between queries and
 * checked against the store on every use.
 *
 * The catalog stamps a per-service index (`service.<name>`) on every change
 * to the service's instances, their checks, or their nodes' records and
 * checks; that is what a blocking health query waits on. An entry here is
 * the health-filtered instance list read at that index, so when the index
 * is unchanged a fresh read would return the same rows: the entry is
 * used, otherwise it is read again. ACLs are applied on every use (the
 * token's rules may change without the service changing). Reading the
 * index costs two B-tree lookups instead of one lookup per instance and per
 * check.
 */
#include <string.h>

#include "acl/acl.h"
#include "dns/dns.h"
#include "lib/cn_arena.h"
#include "lib/cn_common.h"
#include "state/state.h"

#define CACHE_SLOTS 256
#define CACHE_INSTS_MAX 4096 /* larger services are read every time */

struct entry {
    uint64_t index; /* 0 = empty */
    char *key;      /* name \0 tag \0 passing-flag, lowercase */
    size_t klen;
    struct dns_inst *v;
    size_t n, cap;
    struct cn_arena mem; /* the instances' strings and meta */
};

struct dns_cache {
    struct entry slot[CACHE_SLOTS];
    uint64_t hits, misses;
};

struct dns_cache *dns_cache_new(void)
{
    struct dns_cache *c = cn_calloc(1, sizeof *c);
    for (size_t i = 0; i < CACHE_SLOTS; i++) cn_arena_init(&c->slot[i].mem, 4096);
    return c;
}

static void entry_clear(struct entry *e)
{
    cn_arena_release(&e->mem);
    free(e->key);
    e->key = NULL;
    e->index = 0;
    e->n = 0;
}

void dns_cache_free(struct dns_cache *c)
{
    if (!c) return;
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        entry_clear(&c->slot[i]);
        free(c->slot[i].v);
    }
    free(c);
}

void dns_cache_stats(const struct dns_cache *c, uint64_t *hits, uint64_t *misses)
{
    *hits = c->hits;
    *misses = c->misses;
}

static size_t make_key(char *out, struct cn_str name, struct cn_str tag, bool only_passing)
{
    size_t o = 0;
    for (size_t i = 0; i < name.len; i++) {
        char ch = name.p[i];
        out[o++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    out[o++] = 0;
    for (size_t i = 0; i < tag.len; i++) {
        char ch = tag.p[i];
        out[o++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    out[o++] = 0;
    out[o++] = only_passing ? '1' : '0';
    return o;
}

struct fill {
    struct entry *e;
    bool too_big;
};

static struct cn_str keep(struct cn_arena *a, const char *s)
{
    size_t n = strlen(s);
    return (struct cn_str){cn_arena_memdup(a, s, n + 1), n};
}

static bool on_row(void *ctx, const struct state_csn *row)
{
    struct fill *f = ctx;
    struct entry *e = f->e;
    const char *worst = state_checks_worst(row->checks, row->nchecks);
    if (worst && !strcmp(worst, "critical")) return true;
    if (e->n == CACHE_INSTS_MAX) {
        f->too_big = true;
        return false;
    }
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 16;
        e->v = cn_realloc(e->v, e->cap * sizeof *e->v);
    }
    const struct state_node *n = row->node;
    const struct state_service *s = row->service;
    struct dns_inst *in = &e->v[e->n++];
    *in = (struct dns_inst){
        .node = keep(&e->mem, n->name),
        .node_addr = keep(&e->mem, n->address),
        .svc_addr = keep(&e->mem, s->address),
        .port = (uint16_t)(s->port > 0 && s->port <= 65535 ? s->port : 0),
        .weight = dns_weight(s->weight_passing, s->weight_warning, worst),
    };
    dns_inst_ip(in);
    uint8_t wire[DNS_NAME_MAX];
    int wl = dns_name_from_text(in->node.p, in->node.len, wire);
    if (wl > 1) {
        in->node_labels = cn_arena_memdup(&e->mem, wire, (size_t)wl - 1);
        in->node_labels_len = (uint8_t)(wl - 1);
    }
    if (n->nmeta) {
        struct state_pair *m = CN_ARENA_ARRAY(&e->mem, struct state_pair, n->nmeta);
        for (size_t i = 0; i < n->nmeta; i++) {
            m[i].key = cn_arena_strdup(&e->mem, n->meta[i].key);
            m[i].value = cn_arena_strdup(&e->mem, n->meta[i].value);
        }
        in->meta = m;
        in->nmeta = n->nmeta;
    }
    return true;
}

uint64_t dns_cache_service(struct dns_cache *c, struct state_store *st,
                           const struct acl_authz *authz, struct cn_str name, struct cn_str tag,
                           bool only_passing, struct dns_insts *out)
{
    char key[2 * DNS_NAME_MAX + 8];
    out->n = 0;
    if (name.len > DNS_NAME_MAX || tag.len > DNS_NAME_MAX || !c)
        return dns_lookup_service(st, authz, name, tag, only_passing, out);
    uint64_t idx = state_service_instances(st, name, NULL, NULL, NULL);
    if (!acl_allow(authz, ACL_R_SERVICE, name, ACL_A_READ)) return idx;
    size_t klen = make_key(key, name, tag, only_passing);
    uint64_t h = cn_hash_bytes(key, klen);
    struct entry *e = &c->slot[h & (CACHE_SLOTS - 1)];
    if (!idx || e->index != idx || e->klen != klen || memcmp(e->key, key, klen)) {
        c->misses++;
        entry_clear(e);
        struct fill f = {.e = e};
        idx = state_health_service(st, name, tag.len ? &tag : NULL, tag.len ? 1 : 0, only_passing,
                                   NULL, on_row, &f);
        if (f.too_big || !idx) {
            entry_clear(e);
            return dns_lookup_service(st, authz, name, tag, only_passing, out);
        }
        e->index = idx;
        e->key = cn_memdup(key, klen);
        e->klen = klen;
    } else {
        c->hits++;
    }
    for (size_t i = 0; i < e->n; i++)
        if (acl_allow(authz, ACL_R_NODE, e->v[i].node, ACL_A_READ)) dns_insts_push(out, &e->v[i]);
    return idx;
}
