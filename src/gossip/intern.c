/*
 * intern.c - immutable node records (name, address, tags, versions), shared
 * by content. A member points at one; an alive message that repeats what we
 * know costs no allocation, and cores sharing a table (the simulator) keep
 * one copy of each node between them.
 */
#include <string.h>

#include "gossip/gossip_int.h"
#include "lib/cn_err.h"

struct gossip_intern {
    struct gnode **b;
    size_t cap; /* power of two */
    size_t n;
};

struct gossip_intern *gossip_intern_new(void)
{
    struct gossip_intern *in = CN_NEW(struct gossip_intern);
    in->cap = 64;
    in->b = cn_calloc(in->cap, sizeof *in->b);
    return in;
}

void gossip_intern_free(struct gossip_intern *in)
{
    if (!in) return;
    /* Records still referenced belong to live cores: freeing the table
     * first is a caller bug, but the records are plain memory. */
    for (size_t i = 0; i < in->cap; i++) {
        struct gnode *n = in->b[i];
        while (n) {
            struct gnode *next = n->next;
            cn_free(n);
            n = next;
        }
    }
    cn_free(in->b);
    cn_free(in);
}

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t content_hash(struct cn_str name, const struct gossip_addr *a, struct cn_str tags,
                             const uint8_t vsn[6])
{
    uint64_t h = cn_hash_bytes(name.p, name.len);
    h = mix(h, &a->family, 1);
    h = mix(h, a->ip, 16);
    h = mix(h, &a->port, 2);
    h = mix(h, tags.p, tags.len);
    h = mix(h, vsn, 6);
    return h ^ (h >> 29);
}

static bool same(const struct gnode *n, struct cn_str name, const struct gossip_addr *a,
                 struct cn_str tags, const uint8_t vsn[6])
{
    return n->name_len == name.len && memcmp(n->name, name.p, name.len) == 0 &&
           gossip_addr_eq(&n->addr, a) && n->tags_len == tags.len &&
           (tags.len == 0 || memcmp(n->tags_blob, tags.p, tags.len) == 0) &&
           memcmp(n->vsn, vsn, 6) == 0;
}

static void grow(struct gossip_intern *in)
{
    size_t cap = in->cap * 2;
    struct gnode **b = cn_calloc(cap, sizeof *b);
    for (size_t i = 0; i < in->cap; i++) {
        struct gnode *n = in->b[i];
        while (n) {
            struct gnode *next = n->next;
            size_t j = n->hash & (cap - 1);
            n->next = b[j];
            b[j] = n;
            n = next;
        }
    }
    cn_free(in->b);
    in->b = b;
    in->cap = cap;
}

static struct gnode *build(struct cn_str name, const struct gossip_addr *a, struct cn_str tags,
                           const uint8_t vsn[6], uint64_t hash)
{
    struct gossip_tag parsed[GOSSIP_TAG_PAIRS_MAX];
    char strings[GOSSIP_TAGS_MAX + 2 * GOSSIP_TAG_PAIRS_MAX + 2];
    size_t n_tags = 0;
    if (tags.len > GOSSIP_TAGS_MAX ||
        gw_tags_parse(tags, parsed, GOSSIP_TAG_PAIRS_MAX, strings, &n_tags))
        return NULL;
    size_t strings_len = 0;
    for (size_t i = 0; i < n_tags; i++)
        strings_len += strlen(parsed[i].key) + strlen(parsed[i].value) + 2;
    size_t size = sizeof(struct gnode) + n_tags * sizeof(struct gossip_tag) + name.len + 1 +
                  tags.len + strings_len;
    struct gnode *n = cn_calloc(1, size);
    char *w = n->storage;
    n->tags = (struct gossip_tag *)(void *)w;
    w += n_tags * sizeof(struct gossip_tag);
    memcpy(w, name.p, name.len);
    n->name = w;
    w += name.len + 1;
    if (tags.len) memcpy(w, tags.p, tags.len);
    n->tags_blob = (const uint8_t *)w;
    w += tags.len;
    for (size_t i = 0; i < n_tags; i++) {
        size_t kl = strlen(parsed[i].key) + 1, vl = strlen(parsed[i].value) + 1;
        memcpy(w, parsed[i].key, kl);
        n->tags[i].key = w;
        w += kl;
        memcpy(w, parsed[i].value, vl);
        n->tags[i].value = w;
        w += vl;
    }
    n->refs = 1;
    n->name_len = (uint16_t)name.len;
    n->tags_len = (uint16_t)tags.len;
    n->n_tags = (uint16_t)n_tags;
    memcpy(n->vsn, vsn, 6);
    n->hash = hash;
    n->name_hash = cn_hash_bytes(name.p, name.len);
    n->addr = *a;
    return n;
}

struct gnode *gnode_get(struct gossip_intern *in, struct cn_str name,
                        const struct gossip_addr *addr, struct cn_str tags,
                        const uint8_t vsn[6])
{
    if (name.len == 0 || name.len > GOSSIP_NAME_MAX) return NULL;
    struct gossip_addr a = *addr;
    /* Unused address bytes are zero, so equal addresses hash equally. */
    if (a.family == 4) memset(a.ip + 4, 0, 12);
    uint64_t h = content_hash(name, &a, tags, vsn);
    size_t j = h & (in->cap - 1);
    for (struct gnode *n = in->b[j]; n; n = n->next)
        if (n->hash == h && same(n, name, &a, tags, vsn)) return gnode_ref(n);
    struct gnode *n = build(name, &a, tags, vsn, h);
    if (!n) return NULL;
    if (in->n + 1 > in->cap) {
        grow(in);
        j = h & (in->cap - 1);
    }
    n->next = in->b[j];
    in->b[j] = n;
    in->n++;
    return n;
}

void gnode_unref(struct gossip_intern *in, struct gnode *n)
{
    CN_ASSERT(n->refs > 0);
    if (--n->refs > 0) return;
    struct gnode **pp = &in->b[n->hash & (in->cap - 1)];
    while (*pp != n) {
        CN_ASSERT(*pp != NULL);
        pp = &(*pp)->next;
    }
    *pp = n->next;
    in->n--;
    cn_free(n);
}
