/*
 * encode.c - writing a reply: header, question, records with name
 * compression, the OPT record; and the size of a reply without compression
 * (what plain 512-byte UDP replies are measured by, dns.md §8).
 *
 * Compression keeps a table of the name suffixes already written (hash of
 * the suffix -> offset), so each name costs one probe per label instead of
 * a scan of the packet. SRV targets are never compressed (RFC 2782) but are
 * entered in the table, so the A records after them point at them.
 */
#include <string.h>

#include "dns/dns_int.h"

static inline void put(struct enc *e, const void *p, size_t n)
{
    if (e->len + n > e->cap) {
        e->overflow = true;
        return;
    }
    memcpy(e->p + e->len, p, n);
    e->len += n;
}

static inline void put16(struct enc *e, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(e, b, 2);
}

static inline void put32(struct enc *e, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(e, b, 4);
}

size_t dns_wire_len(const uint8_t *name)
{
    const uint8_t *p = name;
    while (*p) p += *p + 1;
    return (size_t)(p - name) + 1;
}

/* Hash of one label chained onto the hash of the suffix after it: the
 * label's length and three of its bytes (first, middle, last), so a name
 * costs one multiply per label and no memory traffic. Collisions are
 * settled by comparing the bytes. */
static inline uint32_t mix(uint32_t h, const uint8_t *label)
{
    uint32_t n = label[0];
    uint32_t v = n | (uint32_t)label[1] << 8 | (uint32_t)label[n] << 16 |
                 (uint32_t)label[(n + 1) / 2] << 24;
    uint64_t x = ((uint64_t)h << 32 | v) * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(x >> 29);
}

static struct ctab_slot *ctab_find(struct dns_builder *b, uint32_t h, const uint8_t *suffix,
                                   size_t len)
{
    for (uint32_t i = h & b->ctab_mask;; i = (i + 1) & b->ctab_mask) {
        struct ctab_slot *s = &b->ctab[i];
        if (s->gen != b->gen) return NULL;
        if (s->hash == h && s->len == len && !memcmp(s->name, suffix, len)) return s;
    }
}

static void ctab_add(struct dns_builder *b, uint32_t h, const uint8_t *suffix, size_t len,
                     size_t off)
{
    if (off >= 0x4000 || b->ctab_used >= (b->ctab_mask + 1) * 3 / 4) return;
    for (uint32_t i = h & b->ctab_mask;; i = (i + 1) & b->ctab_mask) {
        struct ctab_slot *s = &b->ctab[i];
        if (s->gen == b->gen) continue;
        *s = (struct ctab_slot){.gen = b->gen, .hash = h, .name = suffix, .len = (uint16_t)len,
                                .off = (uint16_t)off};
        b->ctab_used++;
        return;
    }
}

/* Names written whole, by address: most owners of ADDITIONAL records are
 * the very name an SRV record just carried, so they are found without
 * hashing. */
static inline struct pcache_slot *pcache_at(struct dns_builder *b, const uint8_t *name)
{
    return &b->pcache[((uintptr_t)name >> 3) & (PCACHE_SLOTS - 1)];
}

/* Write a name (total = its wire length); point into the packet for its
 * longest suffix already written when compress_here (and compression is
 * on), remembering the suffixes it adds. */
static void put_name(struct enc *e, const uint8_t *name, size_t total, bool compress_here)
{
    const uint8_t *lab[DNS_LABELS_MAX];
    uint32_t h[DNS_LABELS_MAX + 1];
    size_t nl = 0;
    if (!name) {
        if (e->compress) {
            put16(e, 0xC000 | DNS_HEADER_LEN);
            return;
        }
        name = e->r->qname;
        total = e->r->qname_len;
    }
    if (!e->compress) {
        put(e, name, total);
        return;
    }
    struct pcache_slot *pc = pcache_at(e->b, name);
    if (compress_here && pc->gen == e->b->gen && pc->name == name) {
        put16(e, (uint16_t)(0xC000 | pc->off));
        return;
    }
    if (!compress_here) {
        /* An SRV target: written whole; only remembered by address, for the
         * records about it that follow (its A/AAAA, the node's TXT). */
        size_t start = e->len;
        put(e, name, total);
        if (!e->overflow && start < 0x4000)
            *pc = (struct pcache_slot){.gen = e->b->gen, .name = name, .off = (uint16_t)start};
        return;
    }
    for (const uint8_t *p = name; *p && nl < DNS_LABELS_MAX; p += *p + 1) lab[nl++] = p;
    h[nl] = 0;
    for (size_t i = nl; i-- > 0;) h[i] = mix(h[i + 1], lab[i]);
    size_t hit = nl; /* first label of the longest suffix already written */
    struct ctab_slot *s = NULL;
    for (size_t i = 0; i < nl; i++)
        if ((s = ctab_find(e->b, h[i], lab[i], total - (size_t)(lab[i] - name)))) {
            hit = i;
            break;
        }
    size_t start = e->len;
    size_t lit = hit < nl ? (size_t)(lab[hit] - name) : total;
    put(e, name, lit);
    if (lit < total) put16(e, (uint16_t)(0xC000 | s->off));
    if (e->overflow) return;
    for (size_t i = 0; i < hit; i++)
        ctab_add(e->b, h[i], lab[i], total - (size_t)(lab[i] - name), start + (size_t)(lab[i] - name));
    if (start < 0x4000 && nl) *pc = (struct pcache_slot){.gen = e->b->gen, .name = name,
                                                         .off = (uint16_t)start};
}

static void put_rr(struct enc *e, const struct rr *x)
{
    put_name(e, x->name, x->name_len, true);
    put16(e, x->type);
    put16(e, DNS_C_IN);
    put32(e, x->ttl);
    size_t at = e->len;
    put16(e, 0);
    switch (x->type) {
    case DNS_T_SRV:
        put(e, x->rd ? x->rd : x->inl, 6);
        put_name(e, x->n1, x->n1_len, false);
        break;
    case DNS_T_NS:
    case DNS_T_CNAME:
    case DNS_T_PTR:
        put_name(e, x->n1, x->n1_len, true);
        break;
    case DNS_T_SOA:
        put_name(e, x->n1, x->n1_len, true);
        put_name(e, x->n2, x->n2_len, true);
        put(e, x->rd, 20);
        break;
    default:
        put(e, x->rd ? x->rd : x->inl, x->rdlen);
        break;
    }
    if (e->overflow) return;
    size_t rdlen = e->len - at - 2;
    e->p[at] = (uint8_t)(rdlen >> 8);
    e->p[at + 1] = (uint8_t)rdlen;
}

static void put_opt(struct enc *e, const struct dns_req *r, int rcode)
{
    uint16_t size = r->edns_size < DNS_UDP_MIN ? DNS_UDP_MIN : r->edns_size;
    put(e, "", 1);
    put16(e, DNS_T_OPT);
    put16(e, size);
    put32(e, (uint32_t)(rcode >> 4) << 24); /* extended RCODE, version 0, no flags */
    if (!r->ecs_len) {
        put16(e, 0);
        return;
    }
    /* RFC 7871: echo the client subnet with scope 0 (a global answer). */
    uint8_t ecs[DNS_ECS_MAX];
    memcpy(ecs, r->ecs, r->ecs_len);
    ecs[3] = 0;
    put16(e, (uint16_t)(4 + r->ecs_len));
    put16(e, DNS_OPT_ECS);
    put16(e, r->ecs_len);
    put(e, ecs, r->ecs_len);
}

size_t dns_opt_size(const struct dns_req *r)
{
    return r->edns ? 11 + (r->ecs_len ? 4 + (size_t)r->ecs_len : 0) : 0;
}

static bool keep_extra(const struct rr *x, size_t nan)
{
    return x->link == DNS_LINK_ALWAYS || x->link < nan;
}

size_t dns_encode(struct dns_builder *b, const struct dns_req *r, const struct dns_msg *m,
                  size_t nan, bool with_ns, bool with_ar, bool compress, uint8_t *out, size_t cap)
{
    struct enc e = {.p = out, .cap = cap, .compress = compress, .b = b, .r = r};
    size_t nar = 0;
    if (!b) { /* a reply without records: nothing to compress against */
        compress = with_ns = with_ar = false;
        e.compress = false;
        nan = 0;
    }
    if (with_ar)
        for (size_t i = 0; i < b->ar.n; i++) nar += keep_extra(&b->ar.v[i], nan);
    if (compress && ++b->gen == 0) {
        memset(b->ctab, 0, sizeof b->ctab);
        memset(b->pcache, 0, sizeof b->pcache);
        b->gen = 1;
    }
    if (compress) {
        /* Room for about 4 suffixes per name written, in as few cache lines. */
        size_t names = 2 + 2 * (nan + (with_ns ? b->ns.n : 0) + nar);
        uint32_t slots = 64;
        while (slots < names * 8 && slots < CTAB_SLOTS) slots <<= 1;
        b->ctab_mask = slots - 1;
        b->ctab_used = 0;
    }
    uint16_t flags = 0x8000 | (uint16_t)(r->opcode & 0xF) << 11 | (m->rcode & 0xF);
    if (m->aa) flags |= 0x0400;
    if (m->tc) flags |= 0x0200;
    if (r->rd) flags |= 0x0100;
    if (m->ra) flags |= 0x0080;
    put16(&e, r->id);
    put16(&e, flags);
    put16(&e, r->has_question ? 1 : 0);
    put16(&e, (uint16_t)nan);
    put16(&e, (uint16_t)(with_ns ? b->ns.n : 0));
    put16(&e, (uint16_t)(nar + (r->edns ? 1 : 0)));
    if (r->has_question) {
        put_name(&e, r->qname, r->qname_len, true);
        put16(&e, r->qtype);
        put16(&e, r->qclass);
    }
    for (size_t i = 0; i < nan; i++) put_rr(&e, &b->an.v[i]);
    if (with_ns)
        for (size_t i = 0; i < b->ns.n; i++) put_rr(&e, &b->ns.v[i]);
    if (with_ar)
        for (size_t i = 0; i < b->ar.n; i++)
            if (keep_extra(&b->ar.v[i], nan)) put_rr(&e, &b->ar.v[i]);
    if (r->edns) put_opt(&e, r, m->rcode);
    return e.overflow ? 0 : e.len;
}

size_t dns_plain_size(struct dns_builder *b, const struct dns_req *r, size_t nan, bool with_ns)
{
    size_t n = DNS_HEADER_LEN + (r->has_question ? r->qname_len + 4u : 0) + dns_opt_size(r);
    for (size_t i = 0; i < nan; i++) n += b->an.v[i].size;
    if (with_ns)
        for (size_t i = 0; i < b->ns.n; i++) n += b->ns.v[i].size;
    for (size_t i = 0; i < b->ar.n; i++)
        if (keep_extra(&b->ar.v[i], nan)) n += b->ar.v[i].size;
    return n;
}
