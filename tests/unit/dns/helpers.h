/* Test helpers: build query packets, decode replies into plain structs. */
#ifndef TEST_DNS_HELPERS_H
#define TEST_DNS_HELPERS_H

#include <stdio.h>
#include <string.h>

#include "dns/dns.h"
#include "test.h"

/* A query for name (text) and type; edns_size 0 = no OPT record. */
static inline size_t mkquery(uint8_t *p, const char *name, uint16_t type, uint16_t edns_size)
{
    size_t o = 0;
    memset(p, 0, 12);
    p[0] = 0x12;
    p[1] = 0x34;
    p[2] = 0x01; /* RD */
    p[5] = 1;
    p[11] = edns_size ? 1 : 0;
    o = 12;
    int wl = dns_name_from_text(name, strlen(name), p + o);
    if (wl < 0) return 0;
    o += (size_t)wl;
    p[o++] = (uint8_t)(type >> 8);
    p[o++] = (uint8_t)type;
    p[o++] = 0;
    p[o++] = 1;
    if (edns_size) {
        p[o++] = 0;
        p[o++] = 0;
        p[o++] = 41;
        p[o++] = (uint8_t)(edns_size >> 8);
        p[o++] = (uint8_t)edns_size;
        memset(p + o, 0, 6);
        o += 6;
    }
    return o;
}

struct drr {
    char name[300];
    uint16_t type;
    uint32_t ttl;
    char data[600]; /* A/AAAA: address text; SRV: "prio weight port target"; NS/CNAME/PTR: target;
                       TXT: strings joined by '|'; SOA: "mname rname serial ..." */
};

struct dmsg {
    uint16_t id, flags;
    int rcode;
    bool aa, tc, ra;
    int qd, an, ns, ar;
    char qname[300];
    struct drr rr[3][512];
    bool opt;
    uint16_t opt_size;
    uint8_t opt_data[64];
    size_t opt_len;
    bool compressed; /* a compression pointer was seen */
};

static inline int dname(const uint8_t *p, size_t len, size_t off, char *out, size_t *next,
                        struct dmsg *m)
{
    uint8_t w[DNS_NAME_MAX];
    size_t wl;
    if (dns_name_read(p, len, off, w, &wl, next)) return -1;
    for (size_t o = off; o < len; o += 1u + p[o]) {
        if ((p[o] & 0xC0) == 0xC0) {
            m->compressed = true;
            break;
        }
        if (!p[o]) break;
    }
    dns_name_to_text(w, out, 300, false);
    return 0;
}

static inline uint16_t g16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* Decode a reply; returns 0 or -1. */
static inline int decode(const uint8_t *p, size_t len, struct dmsg *m)
{
    size_t off = 12;
    memset(m, 0, sizeof *m);
    if (len < 12) return -1;
    m->id = g16(p);
    m->flags = g16(p + 2);
    m->rcode = m->flags & 0xF;
    m->aa = m->flags & 0x0400;
    m->tc = m->flags & 0x0200;
    m->ra = m->flags & 0x0080;
    m->qd = g16(p + 4);
    int cnt[3] = {g16(p + 6), g16(p + 8), g16(p + 10)};
    for (int i = 0; i < m->qd; i++) {
        if (dname(p, len, off, m->qname, &off, m)) return -1;
        off += 4;
    }
    for (int s = 0; s < 3; s++) {
        for (int i = 0; i < cnt[s]; i++) {
            struct drr x = {0};
            if (dname(p, len, off, x.name, &off, m) || off + 10 > len) return -1;
            x.type = g16(p + off);
            x.ttl = (uint32_t)g16(p + off + 4) << 16 | g16(p + off + 6);
            uint16_t cls = g16(p + off + 2), rdlen = g16(p + off + 8);
            off += 10;
            if (off + rdlen > len) return -1;
            const uint8_t *rd = p + off;
            size_t nx;
            char t1[300], t2[300];
            switch (x.type) {
            case DNS_T_A: snprintf(x.data, sizeof x.data, "%d.%d.%d.%d", rd[0], rd[1], rd[2], rd[3]); break;
            case DNS_T_AAAA: {
                size_t o = 0;
                for (int k = 0; k < 16; k += 2) o += (size_t)snprintf(x.data + o, sizeof x.data - o, "%s%x", k ? ":" : "", g16(rd + k));
                break;
            }
            case DNS_T_SRV:
                if (dname(p, len, off + 6, t1, &nx, m)) return -1;
                snprintf(x.data, sizeof x.data, "%u %u %u %s", g16(rd), g16(rd + 2), g16(rd + 4), t1);
                break;
            case DNS_T_NS:
            case DNS_T_CNAME:
            case DNS_T_PTR:
                if (dname(p, len, off, x.data, &nx, m)) return -1;
                break;
            case DNS_T_SOA:
                if (dname(p, len, off, t1, &nx, m) || dname(p, len, nx, t2, &nx, m)) return -1;
                snprintf(x.data, sizeof x.data, "%s %s %u %u %u %u %u", t1, t2,
                         (uint32_t)g16(p + nx) << 16 | g16(p + nx + 2),
                         (uint32_t)g16(p + nx + 4) << 16 | g16(p + nx + 6),
                         (uint32_t)g16(p + nx + 8) << 16 | g16(p + nx + 10),
                         (uint32_t)g16(p + nx + 12) << 16 | g16(p + nx + 14),
                         (uint32_t)g16(p + nx + 16) << 16 | g16(p + nx + 18));
                break;
            case DNS_T_TXT: {
                size_t o = 0;
                for (size_t k = 0; k < rdlen && o < sizeof x.data - 2;) {
                    uint8_t l = rd[k++];
                    if (o) x.data[o++] = '|';
                    for (uint8_t q = 0; q < l && k < rdlen && o < sizeof x.data - 2; q++) x.data[o++] = (char)rd[k++];
                }
                x.data[o] = '\0';
                break;
            }
            case DNS_T_OPT:
                m->opt = true;
                m->opt_size = cls;
                m->opt_len = rdlen < sizeof m->opt_data ? rdlen : sizeof m->opt_data;
                memcpy(m->opt_data, rd, m->opt_len);
                m->rcode |= p[off - 6] << 4;
                break;
            }
            off += rdlen;
            if (x.type == DNS_T_OPT) continue;
            int *n = s == 0 ? &m->an : s == 1 ? &m->ns : &m->ar;
            if (*n < 512) m->rr[s][(*n)++] = x;
        }
    }
    return off == len ? 0 : -1;
}

#endif
