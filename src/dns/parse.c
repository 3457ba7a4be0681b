/*
 * parse.c - a query packet into a struct dns_req: header, the one question,
 * EDNS0, then the question name's form (dns.md §2).
 */
#include <string.h>

#include "dns/dns.h"

static inline uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint8_t lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* Skip one resource record; for an OPT record take the EDNS facts. */
static int skip_rr(struct dns_req *r, const uint8_t *p, size_t len, size_t *off, bool additional,
                   int *nopt)
{
    uint8_t name[DNS_NAME_MAX];
    size_t nlen, pos;
    if (dns_name_read(p, len, *off, name, &nlen, &pos)) return -1;
    if (pos + 10 > len) return -1;
    uint16_t type = rd16(p + pos), cls = rd16(p + pos + 2);
    uint8_t ext_rcode = p[pos + 4], version = p[pos + 5];
    uint16_t rdlen = rd16(p + pos + 8);
    pos += 10;
    if (pos + rdlen > len) return -1;
    *off = pos + rdlen;
    if (type != DNS_T_OPT) return 0;
    /* OPT: only in the additional section, once, owned by the root. */
    if (!additional || nlen != 1 || ++*nopt > 1) return -1;
    (void)ext_rcode;
    r->edns = true;
    r->edns_size = cls;
    if (version != 0) r->rcode = DNS_RC_BADVERS;
    for (size_t o = pos; o < pos + rdlen;) {
        if (o + 4 > pos + rdlen) return -1;
        uint16_t code = rd16(p + o), olen = rd16(p + o + 2);
        o += 4;
        if (o + olen > pos + rdlen) return -1;
        if (code == DNS_OPT_ECS) {
            /* RFC 7871: family, source prefix, scope prefix, address bytes. */
            if (olen < 4 || olen > DNS_ECS_MAX) return -1;
            uint16_t fam = rd16(p + o);
            uint8_t src = p[o + 2];
            if ((fam != 1 || src > 32) && (fam != 2 || src > 128)) return -1;
            if (olen - 4 != (src + 7) / 8) return -1;
            memcpy(r->ecs, p + o, olen);
            r->ecs_len = (uint8_t)olen;
        }
        o += olen; /* unknown options (COOKIE, padding...) are ignored */
    }
    return 0;
}

/* ---- the question name ---------------------------------------------------- */

struct labels {
    const uint8_t *v[DNS_LABELS_MAX]; /* each points at its length byte */
    size_t n;
};

static bool label_is(const uint8_t *l, const char *word)
{
    size_t n = strlen(word);
    if (l[0] != n) return false;
    for (size_t i = 0; i < n; i++)
        if (lower(l[1 + i]) != (uint8_t)word[i]) return false;
    return true;
}

/* Copy labels [from, to) joined by '.', lowercase, into out (cap > 255).
 * False when a label holds a '.' or a NUL (it could not be joined back). */
static bool join(const struct labels *ls, size_t from, size_t to, char *out)
{
    size_t o = 0;
    for (size_t i = from; i < to; i++) {
        const uint8_t *l = ls->v[i];
        if (i > from) out[o++] = '.';
        for (uint8_t k = 1; k <= l[0]; k++) {
            uint8_t c = l[k];
            if (c == '.' || c == 0) return false;
            out[o++] = (char)lower(c);
        }
    }
    out[o] = '\0';
    return true;
}

static int hexval(uint8_t c)
{
    c = lower(c);
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static bool parse_hex_addr(const uint8_t *l, struct dns_req *r)
{
    if (l[0] != 8 && l[0] != 32) return false;
    for (int i = 0; i < l[0] / 2; i++) {
        int hi = hexval(l[1 + 2 * i]), lo = hexval(l[2 + 2 * i]);
        if (hi < 0 || lo < 0) return false;
        r->addr[i] = (uint8_t)(hi << 4 | lo);
    }
    r->addr_len = (uint8_t)(l[0] / 2);
    return true;
}

/* The datacenter suffix: none, `<dc>`, or `<dc>.dc`. */
static bool parse_suffix(const struct labels *ls, size_t from, size_t to, struct dns_req *r)
{
    size_t n = to - from;
    if (n == 0) return true;
    if (n > 2 || (n == 2 && !label_is(ls->v[from + 1], "dc"))) return false;
    return join(ls, from, from + 1, r->dc);
}

static bool ends_with(const struct labels *ls, const char *const *zone, size_t nz)
{
    if (ls->n < nz) return false;
    for (size_t i = 0; i < nz; i++)
        if (!label_is(ls->v[ls->n - nz + i], zone[i])) return false;
    return true;
}

/* <reversed address>.in-addr.arpa / ip6.arpa into r->addr. */
static bool parse_ptr(const struct labels *ls, struct dns_req *r)
{
    static const char *const v4[] = {"in-addr", "arpa"}, *const v6[] = {"ip6", "arpa"};
    if (ends_with(ls, v4, 2) && ls->n == 6) {
        for (size_t i = 0; i < 4; i++) {
            const uint8_t *l = ls->v[3 - i];
            unsigned v = 0;
            if (l[0] < 1 || l[0] > 3) return false;
            for (uint8_t k = 1; k <= l[0]; k++) {
                if (l[k] < '0' || l[k] > '9') return false;
                v = v * 10 + (unsigned)(l[k] - '0');
            }
            if (v > 255) return false;
            r->addr[i] = (uint8_t)v;
        }
        r->addr_len = 4;
        return true;
    }
    if (ends_with(ls, v6, 2) && ls->n == 34) {
        for (size_t i = 0; i < 32; i++) {
            const uint8_t *l = ls->v[31 - i];
            int v = l[0] == 1 ? hexval(l[1]) : -1;
            if (v < 0) return false;
            r->addr[i / 2] = (uint8_t)(i % 2 ? r->addr[i / 2] | v : v << 4);
        }
        r->addr_len = 16;
        return true;
    }
    return false;
}

static const char *const kinds[] = {"service", "node", "query", "addr", "connect", "ingress",
                                    "virtual"};

/* Labels left of the zone, read right to left (dns.md §2): the first kind
 * label decides; labels left of it are the parts, right of it the suffix. */
static enum dns_kind classify_in_zone(const struct labels *ls, size_t n, struct dns_req *r)
{
    size_t kind = 0, np = 0, suffix = 0;
    bool found = false;
    for (size_t i = n; i-- > 0 && !found;) {
        for (size_t k = 0; k < sizeof kinds / sizeof *kinds && !found; k++)
            if (label_is(ls->v[i], kinds[k])) {
                found = true;
                kind = k;
                np = i;
                suffix = i + 1;
            }
        /* SRV questions may leave out `service`: _web._tcp.consul. */
        if (!found && r->qtype == DNS_T_SRV && ls->v[i][0] && ls->v[i][1] == '_') {
            found = true;
            kind = 0;
            np = suffix = i + 1;
        }
    }
    if (!found || !parse_suffix(ls, suffix, n, r)) return DNS_K_INVALID;
    switch (kind) {
    case 0: {
        if (np == 0) return DNS_K_INVALID;
        const uint8_t *a = ls->v[0], *b = np == 2 ? ls->v[1] : NULL;
        if (b && a[0] > 1 && a[1] == '_' && b[0] > 1 && b[1] == '_') {
            /* RFC 2782: _<service>._<tag>; _tcp means no tag. */
            if (!join(ls, 0, 1, r->service) || !join(ls, 1, 2, r->tag)) return DNS_K_INVALID;
            memmove(r->service, r->service + 1, strlen(r->service));
            memmove(r->tag, r->tag + 1, strlen(r->tag));
            if (!strcmp(r->tag, "tcp")) r->tag[0] = '\0';
        } else if (!join(ls, np - 1, np, r->service) || !join(ls, 0, np - 1, r->tag)) {
            return DNS_K_INVALID;
        }
        return r->service[0] ? DNS_K_SERVICE : DNS_K_INVALID;
    }
    case 1:
        return np >= 1 && join(ls, 0, np, r->node) ? DNS_K_NODE : DNS_K_INVALID;
    case 2:
        return np >= 1 ? DNS_K_QUERY : DNS_K_INVALID;
    case 3:
        return np == 1 && parse_hex_addr(ls->v[0], r) ? DNS_K_ADDR : DNS_K_INVALID;
    default: /* connect, ingress, virtual: not served */
        return DNS_K_INVALID;
    }
}

static void classify(const struct dns_config *cfg, struct dns_req *r)
{
    struct labels ls = {.n = 0};
    for (const uint8_t *p = r->qname; *p && ls.n < DNS_LABELS_MAX; p += *p + 1) ls.v[ls.n++] = p;
    /* The longest zone the name is in (domain and alt_domain may nest). */
    int zone = -1;
    for (int z = 0; z < 2; z++) {
        const struct dns_zone *dz = &cfg->zone[z];
        if (!dz->wire_len || ls.n < dz->nlabels) continue;
        if (!dns_name_eq(ls.v[ls.n - dz->nlabels], dz->wire)) continue;
        if (zone < 0 || dz->nlabels > cfg->zone[zone].nlabels) zone = z;
    }
    if (zone < 0) {
        bool ptr = (r->qtype == DNS_T_PTR || r->qtype == DNS_T_ANY) && parse_ptr(&ls, r);
        r->kind = ptr ? DNS_K_PTR : DNS_K_OUTSIDE;
        return;
    }
    r->zone = (uint8_t)zone;
    if (r->qtype == DNS_T_SOA) {
        r->kind = DNS_K_SOA;
        return;
    }
    if (r->qtype == DNS_T_NS) {
        r->kind = DNS_K_NS;
        return;
    }
    r->kind = classify_in_zone(&ls, ls.n - cfg->zone[zone].nlabels, r);
}

static int need_of(const struct dns_config *cfg, const struct dns_req *r)
{
    switch (r->kind) {
    case DNS_K_SERVICE: return DNS_NEED_SERVICE;
    case DNS_K_NODE: return DNS_NEED_NODE;
    case DNS_K_SOA:
    case DNS_K_NS: return DNS_NEED_SERVERS;
    case DNS_K_PTR: return DNS_NEED_PTR;
    case DNS_K_OUTSIDE: return cfg->recursors ? DNS_NEED_RECURSE : DNS_NEED_NONE;
    default: return DNS_NEED_NONE;
    }
}

int dns_req_parse(const struct dns_config *cfg, const uint8_t *p, size_t len, bool tcp,
                  struct dns_req *r)
{
    memset(r, 0, offsetof(struct dns_req, qname));
    r->qname_len = 0;
    r->ecs_len = 0;
    r->dc[0] = r->service[0] = r->tag[0] = r->node[0] = '\0';
    r->addr_len = 0;
    r->tcp = tcp;
    r->has_question = false;
    r->edns = false;
    r->edns_size = 0;
    r->kind = DNS_K_ERROR;
    r->rcode = DNS_RC_NOERROR;
    r->zone = 0;
    if (len < DNS_HEADER_LEN) return -1;
    uint16_t flags = rd16(p + 2);
    if (flags & 0x8000) return -1; /* a response: never answer it */
    r->id = rd16(p);
    r->opcode = (uint8_t)((flags >> 11) & 0xF);
    r->rd = flags & 0x0100;
    r->cd = flags & 0x0010;
    uint16_t qd = rd16(p + 4), an = rd16(p + 6), ns = rd16(p + 8), ar = rd16(p + 10);
    size_t off = DNS_HEADER_LEN, qlen;
    int nopt = 0;
    if (qd != 1) {
        r->rcode = r->opcode ? DNS_RC_NOTIMP : DNS_RC_FORMERR;
        return DNS_NEED_NONE;
    }
    if (dns_name_read(p, len, off, r->qname, &qlen, &off) || off + 4 > len) {
        r->rcode = DNS_RC_FORMERR;
        return DNS_NEED_NONE;
    }
    r->qname_len = (uint8_t)qlen;
    r->qtype = rd16(p + off);
    r->qclass = rd16(p + off + 2);
    r->has_question = true;
    off += 4;
    for (uint32_t i = 0; i < (uint32_t)an + ns + ar; i++) {
        if (skip_rr(r, p, len, &off, i >= (uint32_t)an + ns, &nopt)) {
            r->rcode = DNS_RC_FORMERR;
            r->edns = false;
            return DNS_NEED_NONE;
        }
    }
    if (r->rcode) return DNS_NEED_NONE; /* BADVERS */
    if (r->opcode != 0 || r->qtype == DNS_T_AXFR || r->qtype == DNS_T_IXFR) {
        r->rcode = DNS_RC_NOTIMP;
        return DNS_NEED_NONE;
    }
    if (r->qclass != DNS_C_IN && r->qclass != DNS_C_ANY) {
        r->rcode = DNS_RC_REFUSED;
        return DNS_NEED_NONE;
    }
    classify(cfg, r);
    return need_of(cfg, r);
}

bool dns_req_remote_dc(const struct dns_config *cfg, const struct dns_req *r)
{
    return r->dc[0] && strcmp(r->dc, cfg->dc) != 0;
}
