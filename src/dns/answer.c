/*
 * answer.c - replies from looked-up data (dns.md §3-8): record choice per
 * question type, SRV targets, node meta TXT, SOA/NS, negative answers, then
 * trimming to the transport's size.
 *
 * Records are collected first (struct rr, names and rdata in the builder's
 * pool), then encoded; trimming re-encodes with fewer answers, and the
 * additional records follow the answers that brought them (rr.link).
 */
#include <string.h>
#include <strings.h>

#include "dns/dns_int.h"
#include "lib/cn_common.h"
#include "state/state.h"

/* ---- builder memory --------------------------------------------------------- */

struct dns_builder *dns_builder_new(uint64_t seed)
{
    struct dns_builder *b = cn_calloc(1, sizeof *b);
    cn_rand_seed(&b->rand, seed);
    return b;
}

void dns_builder_free(struct dns_builder *b)
{
    if (!b) return;
    free(b->an.v);
    free(b->ns.v);
    free(b->ar.v);
    for (struct pool_chunk *c = b->pool, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(b);
}

static void *pool_alloc(struct dns_builder *b, size_t n)
{
    struct pool_chunk *c = b->cur;
    while (c && c->used + n > c->cap) {
        if (!c->next) {
            size_t cap = CN_MAX(n, (size_t)32768);
            struct pool_chunk *nc = cn_malloc(sizeof *nc + cap);
            nc->next = NULL;
            nc->cap = cap;
            nc->used = 0;
            c->next = nc;
        }
        c = c->next;
        c->used = 0;
    }
    if (!c) {
        size_t cap = CN_MAX(n, (size_t)32768);
        c = cn_malloc(sizeof *c + cap);
        c->next = NULL;
        c->cap = cap;
        c->used = 0;
        b->pool = c;
    }
    b->cur = c;
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

/* The smallest power of two >= n, within [min, max]. */
static uint32_t pow2_at_least(size_t n, uint32_t min, uint32_t max)
{
    uint32_t v = min;
    while (v < n && v < max) v <<= 1;
    return v;
}

/* Size the dedup table for about `keys` keys: a small reply touches a few
 * cache lines, not the whole table. */
static void builder_reset(struct dns_builder *b, size_t keys)
{
    b->seen_mask = pow2_at_least(keys * 2, 64, SEEN_SLOTS) - 1;
    b->an.n = b->ns.n = b->ar.n = 0;
    b->cur = b->pool;
    if (b->pool) b->pool->used = 0;
    if (++b->seen_gen == 0) {
        memset(b->seen, 0, sizeof b->seen);
        b->seen_gen = 1;
    }
    b->seen_used = 0;
}

static struct rr *rr_add(struct dns_builder *b, struct rrvec *v)
{
    if (b->an.n + b->ns.n + b->ar.n >= DNS_RECORDS_MAX) return NULL;
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 32;
        v->v = cn_realloc(v->v, v->cap * sizeof *v->v);
    }
    struct rr *x = &v->v[v->n++];
    memset(x, 0, sizeof *x);
    x->link = DNS_LINK_ALWAYS;
    return x;
}

/* 8 bytes at a time; collisions are settled by comparing keys. */
static uint64_t key_hash(const uint8_t *p, size_t n)
{
    uint64_t h = 0x243F6A8885A308D3ull ^ n;
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0x9E3779B97F4A7C15ull;
        h ^= h >> 29;
    }
    if (n) {
        uint64_t w = 0;
        memcpy(&w, p, n);
        h = (h ^ w) * 0x9E3779B97F4A7C15ull;
        h ^= h >> 29;
    }
    return h ^ (h >> 32);
}

/* Was this key seen before in this reply? (Inserts it when not.) */
static bool seen(struct dns_builder *b, const void *key, size_t len)
{
    uint64_t h = key_hash(key, len);
    for (uint32_t i = (uint32_t)h & b->seen_mask;; i = (i + 1) & b->seen_mask) {
        struct seen_slot *s = &b->seen[i];
        if (s->gen == b->seen_gen) {
            if (s->hash == h && s->len == len && !memcmp(s->key, key, len)) return true;
            continue;
        }
        if (b->seen_used >= (b->seen_mask + 1) * 3 / 4) return false;
        uint8_t *k = pool_alloc(b, len);
        memcpy(k, key, len);
        *s = (struct seen_slot){.gen = b->seen_gen, .len = (uint32_t)len, .hash = h, .key = k};
        b->seen_used++;
        return false;
    }
}

/* ---- names ------------------------------------------------------------------ */

struct nb {
    uint8_t buf[DNS_NAME_MAX];
    size_t len;
    bool bad;
};

/* Append dotted text as labels (no empty labels; a final dot is allowed). */
static void nb_text(struct nb *n, const char *s, size_t len, bool lower)
{
    if (len && s[len - 1] == '.') len--;
    if (!len) n->bad = true;
    for (size_t i = 0; i < len && !n->bad;) {
        size_t j = i;
        while (j < len && s[j] != '.') j++;
        size_t l = j - i;
        if (l == 0 || l > DNS_LABEL_MAX || n->len + 1 + l + 1 > DNS_NAME_MAX) {
            n->bad = true;
            return;
        }
        n->buf[n->len++] = (uint8_t)l;
        for (size_t k = 0; k < l; k++) {
            char ch = s[i + k];
            n->buf[n->len++] = (uint8_t)(lower && ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
        }
        i = j + 1;
    }
}

static void nb_wire(struct nb *n, const uint8_t *wire)
{
    size_t l = dns_wire_len(wire);
    if (n->bad || n->len + l > DNS_NAME_MAX) {
        n->bad = true;
        return;
    }
    memcpy(n->buf + n->len, wire, l);
    n->len += l;
}

/* Names in the pool carry their wire length in the byte before them. */
static uint8_t *pool_name(struct dns_builder *b, size_t len)
{
    uint8_t *p = pool_alloc(b, len + 1);
    p[0] = (uint8_t)len;
    return p + 1;
}

static const uint8_t *nb_done(struct dns_builder *b, struct nb *n)
{
    if (n->bad) return NULL;
    uint8_t *p = pool_name(b, n->len);
    memcpy(p, n->buf, n->len);
    return p;
}

/* ---- reply context ---------------------------------------------------------- */

struct bctx {
    struct dns_builder *b;
    const struct dns_config *cfg;
    const struct dns_req *r;
    const struct dns_zone *zone;
    const char *dc;
    uint32_t ttl;
    uint64_t now_s;
    size_t max_an; /* answers built at most */
    bool more;     /* answers were left out at max_an */
    struct dns_msg m;
    struct nb sfx[3]; /* node., addr., service.<dc>.<zone> */
    const struct dns_zone *sfx_zone[3];
    const char *sfx_dc[3];
};

/* `<kind>.<dc>.<zone>` in wire form, built once per reply. */
static const struct nb *kind_suffix(struct bctx *c, const char *kind)
{
    int k = kind[0] == 'n' ? 0 : kind[0] == 'a' ? 1 : 2; /* node, addr, service */
    struct nb *n = &c->sfx[k];
    if (!c->sfx_zone[k] || c->sfx_zone[k] != c->zone || c->sfx_dc[k] != c->dc) {
        n->len = 0;
        n->bad = false;
        nb_text(n, kind, strlen(kind), false);
        nb_text(n, c->dc, strlen(c->dc), false);
        nb_wire(n, c->zone->wire);
        c->sfx_zone[k] = c->zone;
        c->sfx_dc[k] = c->dc;
    }
    return n;
}

/* `<prefix>.<kind>.<dc>.<zone>`, e.g. web1.node.dc1.consul. */
static const uint8_t *zone_name(struct bctx *c, const char *prefix, size_t plen, const char *kind,
                                bool lower)
{
    struct nb n = {.len = 0};
    const struct nb *sfx;
    nb_text(&n, prefix, plen, lower);
    sfx = kind_suffix(c, kind);
    if (sfx->bad || n.bad || n.len + sfx->len > DNS_NAME_MAX) return NULL;
    uint8_t *p = pool_name(c->b, n.len + sfx->len);
    memcpy(p, n.buf, n.len);
    memcpy(p + n.len, sfx->buf, sfx->len);
    return p;
}

/* `<node>.node.<dc>.<zone>`, from the node's prepared labels when it has them. */
static const uint8_t *node_target(struct bctx *c, const struct dns_inst *in)
{
    if (!in->node_labels_len)
        return zone_name(c, in->node.p, in->node.len, "node", false);
    const struct nb *sfx = kind_suffix(c, "node");
    size_t n = in->node_labels_len;
    if (sfx->bad || n + sfx->len > DNS_NAME_MAX) return NULL;
    uint8_t *p = pool_name(c->b, n + sfx->len);
    memcpy(p, in->node_labels, n);
    memcpy(p + n, sfx->buf, sfx->len);
    return p;
}

static const uint8_t *host_name(struct bctx *c, struct cn_str host)
{
    struct nb n = {.len = 0};
    nb_text(&n, host.p, host.len, false);
    nb_wire(&n, (const uint8_t *)"");
    return nb_done(c->b, &n);
}

static struct rr *rec(struct bctx *c, struct rrvec *v, const uint8_t *name, uint16_t type,
                      uint32_t ttl, uint32_t link)
{
    struct rr *x = rr_add(c->b, v);
    if (!x) return NULL;
    x->name = name;
    x->type = type;
    x->ttl = ttl;
    x->link = link;
    return x;
}

/* The wire length of a name held by this reply: the question's, a zone's,
 * or one from the pool (length in the byte before it). */
static uint8_t name_len(const struct bctx *c, const uint8_t *n)
{
    if (!n) return 0;
    for (int z = 0; z < 2; z++)
        if (n == c->cfg->zone[z].wire) return c->cfg->zone[z].wire_len;
    return n[-1];
}

static void done_rr(struct bctx *c, struct rr *x)
{
    x->name_len = x->name ? name_len(c, x->name) : c->r->qname_len;
    x->n1_len = name_len(c, x->n1);
    x->n2_len = name_len(c, x->n2);
    x->size = (uint32_t)((size_t)x->name_len + 10 + x->rdlen + x->n1_len + x->n2_len);
}

static struct rr *rr_ip(struct bctx *c, struct rrvec *v, const uint8_t *name, const uint8_t *ip,
                        int iplen, uint32_t ttl, uint32_t link)
{
    struct rr *x = rec(c, v, name, iplen == 4 ? DNS_T_A : DNS_T_AAAA, ttl, link);
    if (!x) return NULL;
    memcpy(x->inl, ip, (size_t)iplen);
    x->rdlen = (uint16_t)iplen;
    done_rr(c, x);
    return x;
}

static struct rr *rr_target(struct bctx *c, struct rrvec *v, const uint8_t *name, uint16_t type,
                            const uint8_t *target, uint32_t ttl, uint32_t link)
{
    struct rr *x = rec(c, v, name, type, ttl, link);
    if (!x) return NULL;
    x->n1 = target;
    done_rr(c, x);
    return x;
}

static struct rr *rr_txt(struct bctx *c, struct rrvec *v, const uint8_t *name, const char *text,
                         size_t len, uint32_t ttl, uint32_t link)
{
    if (len > 60000) return NULL; /* cannot be one record */
    struct rr *x = rec(c, v, name, DNS_T_TXT, ttl, link);
    if (!x) return NULL;
    size_t nchunks = len ? (len + 254) / 255 : 1;
    uint8_t *rd = pool_alloc(c->b, len + nchunks), *o = rd;
    for (size_t i = 0; i < nchunks; i++) {
        size_t l = CN_MIN((size_t)255, len - i * 255);
        *o++ = (uint8_t)l;
        memcpy(o, text + i * 255, l);
        o += l;
    }
    x->rd = rd;
    x->rdlen = (uint16_t)(o - rd);
    done_rr(c, x);
    return x;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void rr_soa(struct bctx *c, struct rrvec *v)
{
    const struct dns_config *cfg = c->cfg;
    struct nb mn = {.len = 0}, rn = {.len = 0};
    nb_text(&mn, "ns", 2, false);
    nb_wire(&mn, c->zone->wire);
    nb_text(&rn, "hostmaster", 10, false);
    nb_wire(&rn, c->zone->wire);
    struct rr *x = rec(c, v, c->zone->wire, DNS_T_SOA, cfg->soa_min_ttl, DNS_LINK_ALWAYS);
    if (!x) return;
    x->n1 = nb_done(c->b, &mn);
    x->n2 = nb_done(c->b, &rn);
    uint8_t *rd = pool_alloc(c->b, 20);
    wr32(rd, (uint32_t)c->now_s);
    wr32(rd + 4, cfg->soa_refresh);
    wr32(rd + 8, cfg->soa_retry);
    wr32(rd + 12, cfg->soa_expire);
    wr32(rd + 16, cfg->soa_min_ttl);
    x->rd = rd;
    x->rdlen = 20;
    if (!x->n1 || !x->n2) { /* a zone too long for the prefixes: no SOA */
        v->n--;
        return;
    }
    done_rr(c, x);
}

/* NXDOMAIN, or NOERROR with no data: the SOA goes in AUTHORITY. */
static void negative(struct bctx *c, int rcode)
{
    c->m.rcode = rcode;
    c->b->an.n = 0;
    c->b->ar.n = 0;
    c->b->ns.n = 0;
    rr_soa(c, &c->b->ns);
}

/* ---- node meta as TXT (RFC 1464) ------------------------------------------------ */

static size_t meta_text(const struct state_pair *p, char *out)
{
    size_t o = 0, klen = strlen(p->key);
    if (!strncasecmp(p->key, "rfc1035-", 8)) {
        size_t vl = strlen(p->value);
        memcpy(out, p->value, vl);
        return vl;
    }
    size_t lead = 0, trail = 0;
    while (lead < klen && p->key[lead] == ' ') lead++;
    while (trail < klen - lead && p->key[klen - 1 - trail] == ' ') trail++;
    for (size_t i = 0; i < klen; i++) {
        char ch = p->key[i];
        if (ch == '`' || ch == '=' || (ch == ' ' && (i < lead || i >= klen - trail))) out[o++] = '`';
        out[o++] = ch;
    }
    out[o++] = '=';
    for (const char *v = p->value; *v; v++) {
        if (*v == '`') out[o++] = '`';
        out[o++] = *v;
    }
    return o;
}

static void meta_records(struct bctx *c, struct rrvec *v, const uint8_t *name,
                         const struct dns_inst *in, uint32_t ttl, uint32_t link)
{
    for (size_t i = 0; i < in->nmeta; i++) {
        const struct state_pair *p = &in->meta[i];
        char *text = pool_alloc(c->b, 2 * (strlen(p->key) + strlen(p->value)) + 2);
        size_t len = meta_text(p, text);
        if (!rr_txt(c, v, name, text, len, ttl, link)) return;
    }
}

/* ---- services (§3) ------------------------------------------------------------- */

static void shuffle(struct bctx *c, struct dns_inst *in, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)cn_rand_below(&c->b->rand, i);
        struct dns_inst t = in[i - 1];
        in[i - 1] = in[j];
        in[j] = t;
    }
}

static void hex(const uint8_t *ip, int len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < len; i++) {
        out[2 * i] = digits[ip[i] >> 4];
        out[2 * i + 1] = digits[ip[i] & 15];
    }
}

int dns_inst_ip(struct dns_inst *in)
{
    if (!in->addr_fam) {
        struct cn_str a = in->svc_addr.len ? in->svc_addr : in->node_addr;
        int fam = dns_parse_ip(a, in->ip);
        in->addr_fam = (uint8_t)(fam ? fam : 1);
    }
    return in->addr_fam == 1 ? 0 : in->addr_fam;
}

/* Dedup of ADDITIONAL records by owner and data (the hash-set path). */
static bool extra_seen(struct bctx *c, char tag, const uint8_t *owner, const void *data, size_t dl)
{
    uint8_t key[1 + DNS_NAME_MAX + 16];
    size_t ol = dns_wire_len(owner);
    key[0] = (uint8_t)tag;
    memcpy(key + 1, owner, ol);
    memcpy(key + 1 + ol, data, CN_MIN(dl, (size_t)16));
    return seen(c->b, key, 1 + ol + CN_MIN(dl, (size_t)16));
}

/* String equality that rejects on the length and the last byte before
 * calling memcmp (names in one service mostly differ at the end). */
static inline bool same_str(struct cn_str a, struct cn_str b)
{
    return a.len == b.len && (a.len == 0 || (a.p[a.len - 1] == b.p[a.len - 1] &&
                                             memcmp(a.p, b.p, a.len) == 0));
}

/* Deduplication: a linear scan over what was kept while that is short,
 * a hash set (seen) beyond. */
#define DEDUP_LINEAR 32

static bool srv_key_seen(struct bctx *c, const struct dns_inst *in, const struct dns_inst **kept,
                         size_t nkept, bool linear)
{
    if (linear) {
        for (size_t i = 0; i < nkept; i++)
            if (kept[i]->port == in->port && same_str(kept[i]->node, in->node) &&
                same_str(kept[i]->svc_addr, in->svc_addr))
                return true;
        return false;
    }
    char key[3 * DNS_NAME_MAX + 8];
    size_t nl = CN_MIN(in->node.len, (size_t)DNS_NAME_MAX),
           al = CN_MIN(in->svc_addr.len, (size_t)DNS_NAME_MAX), o = 0;
    key[o++] = 'S';
    memcpy(key + o, in->node.p, nl);
    o += nl;
    key[o++] = 0;
    memcpy(key + o, in->svc_addr.p, al);
    o += al;
    key[o++] = 0;
    key[o++] = (char)(in->port >> 8);
    key[o++] = (char)in->port;
    return seen(c->b, key, o);
}

/* Does an SRV record kept earlier have the same target? (Then the target's
 * records are in ADDITIONAL already.) */
static const uint8_t *same_target(const struct dns_inst *in, const struct dns_inst **kept,
                                  const uint8_t **targets, size_t nkept)
{
    for (size_t i = 0; i < nkept; i++) {
        const struct dns_inst *k = kept[i];
        if (!targets[i] || k->addr_fam != in->addr_fam) continue;
        bool svc_ip = in->svc_addr.len && in->addr_fam != 1;
        if (svc_ip != (k->svc_addr.len && k->addr_fam != 1)) continue;
        if (svc_ip ? !memcmp(k->ip, in->ip, in->addr_fam)
                   : same_str(k->node, in->node) && same_str(k->node_addr, in->node_addr) &&
                         same_str(k->svc_addr, in->svc_addr))
            return targets[i];
    }
    return NULL;
}

static void srv_one(struct bctx *c, struct dns_inst *in, const uint8_t *target, bool linear)
{
    struct dns_builder *b = c->b;
    int fam = dns_inst_ip(in);
    bool new_target = !target;
    const uint8_t *ntarget = NULL;
    if (!target) {
        struct cn_str addr = in->svc_addr.len ? in->svc_addr : in->node_addr;
        if (in->svc_addr.len && fam) {
            char h[32];
            hex(in->ip, fam, h);
            target = zone_name(c, h, (size_t)fam * 2, "addr", false);
        } else if (fam) {
            target = ntarget = node_target(c, in);
        } else {
            target = host_name(c, addr);
        }
    }
    if (!target) return; /* a name DNS cannot carry */
    uint32_t idx = (uint32_t)b->an.n;
    struct rr *x = rec(c, &b->an, NULL, DNS_T_SRV, c->ttl, DNS_LINK_ALWAYS);
    if (!x) return;
    uint8_t *rd = x->inl;
    rd[0] = 0;
    rd[1] = 1; /* priority */
    rd[2] = (uint8_t)(in->weight >> 8);
    rd[3] = (uint8_t)in->weight;
    rd[4] = (uint8_t)(in->port >> 8);
    rd[5] = (uint8_t)in->port;
    x->rdlen = 6;
    x->n1 = target;
    done_rr(c, x);
    if (!new_target) return;
    if (fam && (linear || !extra_seen(c, 'A', target, in->ip, (size_t)fam)))
        rr_ip(c, &b->ar, target, in->ip, fam, c->ttl, idx);
    if (c->cfg->node_meta_txt && in->nmeta) {
        if (!ntarget) ntarget = node_target(c, in);
        if (ntarget && (linear || !extra_seen(c, 'T', ntarget, "", 0)))
            meta_records(c, &b->ar, ntarget, in, c->ttl, idx);
    }
}

static void service_srv(struct bctx *c, struct dns_inst *in, size_t n)
{
    bool linear = n <= DEDUP_LINEAR;
    const struct dns_inst *kept[DEDUP_LINEAR];
    const uint8_t *targets[DEDUP_LINEAR];
    size_t nkept = 0;
    for (size_t i = 0; i < n; i++) {
        if (srv_key_seen(c, &in[i], kept, nkept, linear)) continue;
        if (c->b->an.n >= c->max_an) {
            c->more = true;
            return;
        }
        dns_inst_ip(&in[i]);
        const uint8_t *t = linear ? same_target(&in[i], kept, targets, nkept) : NULL;
        size_t before = c->b->an.n;
        srv_one(c, &in[i], t, linear);
        if (linear) {
            kept[nkept] = &in[i];
            targets[nkept++] = c->b->an.n > before ? c->b->an.v[before].n1 : NULL;
        }
    }
}

/* A, AAAA, ANY for a service: one record per distinct address. */
static void service_addrs(struct bctx *c, struct dns_inst *in, size_t n)
{
    struct dns_builder *b = c->b;
    uint16_t qt = c->r->qtype;
    size_t naddr = 0, limit = c->cfg->a_record_limit > 0 ? (size_t)c->cfg->a_record_limit : SIZE_MAX;
    for (size_t i = 0; i < n && naddr < limit; i++) {
        uint8_t ipbuf[16];
        const uint8_t *ip = in[i].ip;
        struct cn_str addr = in[i].svc_addr.len ? in[i].svc_addr : in[i].node_addr;
        int fam = dns_inst_ip(&in[i]);
        const uint8_t *host = NULL;
        if (!fam) {
            host = host_name(c, addr);
            /* A service address naming the question itself: use the node's. */
            if (host && dns_name_eq(host, c->r->qname)) {
                addr = in[i].node_addr;
                fam = dns_parse_ip(addr, ipbuf);
                ip = ipbuf;
                host = fam ? NULL : host_name(c, addr);
            }
        }
        bool want = fam == 4 ? qt == DNS_T_A || qt == DNS_T_ANY
                             : fam == 16 ? qt == DNS_T_AAAA || qt == DNS_T_ANY : host != NULL;
        if (!want) continue;
        char key[DNS_NAME_MAX + 2];
        size_t kl = 1;
        key[0] = 'H';
        if (fam) {
            memcpy(key + 1, ip, (size_t)fam);
            kl += (size_t)fam;
        } else {
            kl += CN_MIN(addr.len, (size_t)DNS_NAME_MAX);
            memcpy(key + 1, addr.p, kl - 1);
        }
        if (seen(b, key, kl)) continue;
        if (b->an.n >= c->max_an) {
            c->more = true;
            return;
        }
        if (fam) {
            rr_ip(c, &b->an, NULL, ip, fam, c->ttl, DNS_LINK_ALWAYS);
            naddr++;
        } else {
            rr_target(c, &b->an, NULL, DNS_T_CNAME, host, c->ttl, DNS_LINK_ALWAYS);
        }
    }
}

static void service_answer(struct bctx *c, struct dns_inst *in, size_t n)
{
    if (n == 0) {
        negative(c, DNS_RC_NXDOMAIN);
        return;
    }
    shuffle(c, in, n);
    c->ttl = dns_service_ttl(c->cfg, cn_str_from(c->r->service));
    switch (c->r->qtype) {
    case DNS_T_SRV: service_srv(c, in, n); break;
    case DNS_T_A:
    case DNS_T_AAAA:
    case DNS_T_ANY: service_addrs(c, in, n); break;
    default: break;
    }
    if (c->b->an.n == 0) negative(c, DNS_RC_NOERROR);
}

/* ---- nodes and addr (§4) -------------------------------------------------------- */

static void node_answer(struct bctx *c, const struct dns_inst *in, size_t n)
{
    struct dns_builder *b = c->b;
    uint16_t qt = c->r->qtype;
    if (n == 0) {
        negative(c, DNS_RC_NXDOMAIN);
        return;
    }
    c->ttl = c->cfg->node_ttl;
    uint8_t ip[16];
    int fam = dns_parse_ip(in->node_addr, ip);
    bool addr_q = qt == DNS_T_A || qt == DNS_T_AAAA || qt == DNS_T_ANY;
    if (addr_q && fam && (qt == DNS_T_ANY || (fam == 4) == (qt == DNS_T_A)))
        rr_ip(c, &b->an, NULL, ip, fam, c->ttl, DNS_LINK_ALWAYS);
    else if ((addr_q || qt == DNS_T_CNAME) && !fam && in->node_addr.len) {
        const uint8_t *host = host_name(c, in->node_addr);
        if (host) rr_target(c, &b->an, NULL, DNS_T_CNAME, host, c->ttl, DNS_LINK_ALWAYS);
    }
    if (qt == DNS_T_ANY || qt == DNS_T_TXT)
        meta_records(c, &b->an, NULL, in, c->ttl, DNS_LINK_ALWAYS);
    else if (addr_q && c->cfg->node_meta_txt && b->an.n)
        meta_records(c, &b->ar, NULL, in, c->ttl, 0);
    if (b->an.n == 0) negative(c, DNS_RC_NOERROR);
}

static void addr_answer(struct bctx *c)
{
    const struct dns_req *r = c->r;
    uint16_t type = r->addr_len == 4 ? DNS_T_A : DNS_T_AAAA;
    bool in_answer = r->qtype == type || r->qtype == DNS_T_ANY;
    c->ttl = c->cfg->node_ttl;
    rr_ip(c, in_answer ? &c->b->an : &c->b->ar, NULL, r->addr, r->addr_len, c->ttl,
          DNS_LINK_ALWAYS);
    if (!in_answer) rr_soa(c, &c->b->ns);
}

/* ---- apex: SOA and NS (§5) ------------------------------------------------------ */

static bool dns_safe(struct cn_str s)
{
    if (!s.len || s.len > DNS_LABEL_MAX) return false;
    for (size_t i = 0; i < s.len; i++) {
        char ch = s.p[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-'))
            return false;
    }
    return true;
}

/* Up to 3 NS records for the servers, with their glue. */
static void nameservers(struct bctx *c, struct rrvec *v, struct dns_inst *in, size_t n)
{
    const char *dc = c->dc;
    c->dc = c->cfg->dc;
    shuffle(c, in, n);
    size_t added = 0;
    for (size_t i = 0; i < n && added < DNS_SOA_MAX; i++) {
        if (!dns_safe(in[i].node)) continue;
        if (seen(c->b, in[i].node.p, in[i].node.len)) continue;
        const uint8_t *target = zone_name(c, in[i].node.p, in[i].node.len, "node", true);
        if (!target) continue;
        uint32_t idx = (uint32_t)v->n;
        if (!rr_target(c, v, c->zone->wire, DNS_T_NS, target, c->cfg->node_ttl, DNS_LINK_ALWAYS))
            break;
        added++;
        uint8_t ip[16];
        int fam = dns_parse_ip(in[i].node_addr, ip);
        if (fam)
            rr_ip(c, &c->b->ar, target, ip, fam, c->cfg->node_ttl,
                  v == &c->b->an ? idx : DNS_LINK_ALWAYS);
    }
    c->dc = dc;
}

static void apex_answer(struct bctx *c, struct dns_inst *in, size_t n)
{
    struct dns_builder *b = c->b;
    if (c->r->kind == DNS_K_SOA) {
        rr_soa(c, &b->an);
        nameservers(c, &b->ns, in, n);
        return;
    }
    nameservers(c, &b->an, in, n);
    if (b->an.n == 0) negative(c, DNS_RC_NOERROR);
}

/* ---- PTR ------------------------------------------------------------------------- */

static void ptr_answer(struct bctx *c, const struct dns_inst *in, size_t n)
{
    c->zone = &c->cfg->zone[0]; /* PTR answers always use the domain */
    c->dc = c->cfg->dc;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *t = in[i].service.len
                               ? zone_name(c, in[i].service.p, in[i].service.len, "service", false)
                               : zone_name(c, in[i].node.p, in[i].node.len, "node", false);
        if (!t) continue;
        uint32_t ttl = in[i].service.len ? dns_service_ttl(c->cfg, in[i].service) : c->cfg->node_ttl;
        rr_target(c, &c->b->an, NULL, DNS_T_PTR, t, ttl, DNS_LINK_ALWAYS);
        return;
    }
    negative(c, DNS_RC_NXDOMAIN);
}

/* ---- size and truncation (§8) ---------------------------------------------------- */

static bool fits(struct bctx *c, size_t nan, bool with_ns, bool plain, size_t limit)
{
    struct dns_builder *b = c->b;
    if (plain) return dns_plain_size(b, c->r, nan, with_ns) <= limit;
    return dns_encode(b, c->r, &c->m, nan, with_ns, true, !c->cfg->disable_compression, b->tmp,
                      limit) != 0;
}

static size_t finish(struct bctx *c, uint8_t *out, size_t cap)
{
    struct dns_builder *b = c->b;
    const struct dns_req *r = c->r;
    bool compress = !c->cfg->disable_compression;
    size_t hard, limit;
    if (r->tcp) {
        hard = DNS_TCP_MAX;
        limit = DNS_TCP_TRIM;
    } else {
        hard = r->edns ? CN_MIN(CN_MAX((size_t)r->edns_size, (size_t)DNS_UDP_MIN), (size_t)DNS_UDP_MAX)
                       : DNS_UDP_MIN;
        limit = hard - 8; /* the UDP header */
    }
    hard = CN_MIN(hard, cap);
    limit = CN_MIN(limit, hard);
    bool plain = !r->tcp && !r->edns, with_ns = true, trimmed = c->more;
    size_t nan = b->an.n, len;
    c->m.tc = trimmed && c->cfg->enable_truncate;
    /* The common case: everything fits, and the first encoding is the reply. */
    if (plain ? dns_plain_size(b, r, nan, true) <= limit
              : (len = dns_encode(b, r, &c->m, nan, true, true, compress, out, limit)) != 0) {
        if (plain) len = dns_encode(b, r, &c->m, nan, true, true, compress, out, hard);
        if (len) return len;
    }
    if (!fits(c, nan, with_ns, plain, limit)) {
        with_ns = false;
        if (nan > 1 && !fits(c, nan, with_ns, plain, limit)) {
            size_t lo = 1, hi = nan - 1, best = 1;
            while (lo <= hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (fits(c, mid, with_ns, plain, limit)) {
                    best = mid;
                    lo = mid + 1;
                } else {
                    hi = mid - 1;
                }
            }
            nan = best;
            trimmed = true;
        }
    }
    c->m.tc = trimmed && c->cfg->enable_truncate;
    len = dns_encode(b, r, &c->m, nan, with_ns, true, compress, out, hard);
    if (!len) len = dns_encode(b, r, &c->m, nan, false, false, compress, out, hard);
    if (!len) {
        /* Not even one record fits: say so, and let the client retry over TCP. */
        c->m.tc = true;
        len = dns_encode(b, r, &c->m, 0, false, false, compress, out, hard);
    }
    return len;
}

/* ---- entry points ---------------------------------------------------------------- */

size_t dns_answer_rcode(const struct dns_config *cfg, const struct dns_req *r, int rcode, bool ra,
                        uint8_t *out, size_t cap)
{
    /* No records: a header, the question and OPT; no builder needed. */
    struct dns_msg m = {.rcode = rcode, .ra = ra};
    (void)cfg;
    return dns_encode(NULL, r, &m, 0, false, false, false, out, cap);
}

size_t dns_answer(struct dns_builder *b, const struct dns_config *cfg, const struct dns_req *r,
                  enum dns_lookup_rc lrc, struct dns_inst *inst, size_t ninst, uint64_t now_s,
                  uint8_t *out, size_t cap)
{
    struct bctx c = {.b = b, .cfg = cfg, .r = r, .zone = &cfg->zone[r->zone], .now_s = now_s,
                     .dc = r->dc[0] ? r->dc : cfg->dc, .max_an = DNS_TCP_RR_MAX};
    c.m.ra = cfg->recursors;
    builder_reset(b, 2 * ninst + 8);
    if (!c.zone->wire_len) c.zone = &cfg->zone[0];
    switch (r->kind) {
    case DNS_K_ERROR: return dns_answer_rcode(cfg, r, r->rcode, c.m.ra, out, cap);
    case DNS_K_OUTSIDE: return dns_answer_rcode(cfg, r, DNS_RC_REFUSED, c.m.ra, out, cap);
    default: break;
    }
    if (lrc == DNS_LK_ERROR) return dns_answer_rcode(cfg, r, DNS_RC_SERVFAIL, c.m.ra, out, cap);
    c.m.aa = true;
    switch (r->kind) {
    case DNS_K_SERVICE:
        if (r->tcp)
            c.max_an = r->qtype == DNS_T_SRV ? DNS_TCP_SRV_MAX : DNS_TCP_RR_MAX;
        else if (!r->edns)
            c.max_an = (size_t)CN_MAX(1, CN_MIN(cfg->udp_answer_limit, DNS_UDP_ANSWERS_MAX));
        service_answer(&c, inst, ninst);
        break;
    case DNS_K_NODE: node_answer(&c, inst, ninst); break;
    case DNS_K_ADDR: addr_answer(&c); break;
    case DNS_K_SOA:
    case DNS_K_NS: apex_answer(&c, inst, ninst); break;
    case DNS_K_PTR: ptr_answer(&c, inst, ninst); break;
    default: negative(&c, DNS_RC_NXDOMAIN); break;
    }
    return finish(&c, out, cap);
}

/* ---- instance lists ------------------------------------------------------------- */

void dns_insts_push(struct dns_insts *l, const struct dns_inst *in)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = cn_realloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = *in;
}

void dns_insts_release(struct dns_insts *l)
{
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

uint16_t dns_weight(int64_t passing, int64_t warning, const char *worst)
{
    if (passing <= 0 && warning <= 0) return 1;
    int64_t w = worst && !strcmp(worst, "warning") ? warning : passing;
    return (uint16_t)CN_MIN(CN_MAX(w, (int64_t)0), (int64_t)65535);
}
