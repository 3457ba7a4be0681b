/*
 * addr.c - literal IPv4/IPv6 addresses: parse and print without libc's
 * resolver (a pure core includes no socket headers).
 */
#include "gossip/gossip.h"

#include <stdio.h>
#include <string.h>

#include "lib/cn_common.h"
#include "lib/cn_err.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int parse_v4(struct cn_str s, uint8_t out[4])
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= s.len || s.p[i] != '.') return CN_EINVAL;
            i++;
        }
        unsigned v = 0;
        size_t digits = 0;
        while (i < s.len && s.p[i] >= '0' && s.p[i] <= '9') {
            v = v * 10 + (unsigned)(s.p[i] - '0');
            if (++digits > 3 || v > 255) return CN_EINVAL;
            i++;
        }
        if (digits == 0) return CN_EINVAL;
        out[part] = (uint8_t)v;
    }
    return i == s.len ? 0 : CN_EINVAL;
}

/* RFC 4291 text forms, including "::" and a trailing dotted quad. */
static int parse_v6(struct cn_str s, uint8_t out[16])
{
    uint16_t words[8] = {0};
    int n = 0, gap = -1;
    size_t i = 0;
    if (s.len >= 2 && s.p[0] == ':' && s.p[1] == ':') {
        gap = 0;
        i = 2;
    } else if (s.len > 0 && s.p[0] == ':') {
        return CN_EINVAL;
    }
    while (i < s.len) {
        if (n >= 8) return CN_EINVAL;
        size_t start = i;
        unsigned v = 0;
        while (i < s.len && hexval(s.p[i]) >= 0 && i - start < 4) v = v * 16 + (unsigned)hexval(s.p[i++]);
        if (i < s.len && s.p[i] == '.') { /* embedded IPv4 in the last 32 bits */
            uint8_t v4[4];
            if (n > 6 || parse_v4(cn_str_sub(s, start, s.len - start), v4)) return CN_EINVAL;
            words[n++] = (uint16_t)(v4[0] << 8 | v4[1]);
            words[n++] = (uint16_t)(v4[2] << 8 | v4[3]);
            i = s.len;
            break;
        }
        if (i == start) return CN_EINVAL;
        words[n++] = (uint16_t)v;
        if (i == s.len) break;
        if (s.p[i] != ':') return CN_EINVAL;
        i++;
        if (i < s.len && s.p[i] == ':') {
            if (gap >= 0) return CN_EINVAL;
            gap = n;
            i++;
        } else if (i == s.len) {
            return CN_EINVAL;
        }
    }
    if (gap < 0 && n != 8) return CN_EINVAL;
    if (gap >= 0 && n > 7) return CN_EINVAL;
    uint16_t full[8] = {0};
    if (gap < 0) {
        memcpy(full, words, sizeof full);
    } else {
        int tail = n - gap;
        for (int k = 0; k < gap; k++) full[k] = words[k];
        for (int k = 0; k < tail; k++) full[8 - tail + k] = words[gap + k];
    }
    for (int k = 0; k < 8; k++) {
        out[2 * k] = (uint8_t)(full[k] >> 8);
        out[2 * k + 1] = (uint8_t)full[k];
    }
    return 0;
}

static int parse_port(struct cn_str s, uint16_t *port)
{
    uint64_t v;
    if (cn_parse_u64(s, &v) || v == 0 || v > 65535) return CN_EINVAL;
    *port = (uint16_t)v;
    return 0;
}

int gossip_addr_parse(struct cn_str s, uint16_t default_port, struct gossip_addr *out)
{
    memset(out, 0, sizeof *out);
    out->port = default_port;
    if (s.len == 0) return CN_EINVAL;
    if (s.p[0] == '[') {
        long close = cn_str_index(s, ']', 1);
        if (close < 0) return CN_EINVAL;
        struct cn_str host = cn_str_sub(s, 1, (size_t)close - 1);
        struct cn_str rest = cn_str_sub(s, (size_t)close + 1, s.len - (size_t)close - 1);
        if (parse_v6(host, out->ip)) return CN_EINVAL;
        out->family = 6;
        if (rest.len == 0) return out->port ? 0 : CN_EINVAL;
        if (rest.p[0] != ':') return CN_EINVAL;
        return parse_port(cn_str_sub(rest, 1, rest.len - 1), &out->port);
    }
    long colon = cn_str_index(s, ':', 0);
    if (colon >= 0 && cn_str_index(s, ':', (size_t)colon + 1) >= 0) {
        if (parse_v6(s, out->ip)) return CN_EINVAL; /* bare IPv6, no port */
        out->family = 6;
        return out->port ? 0 : CN_EINVAL;
    }
    struct cn_str host = colon >= 0 ? cn_str_sub(s, 0, (size_t)colon) : s;
    if (parse_v4(host, out->ip)) return CN_EINVAL;
    out->family = 4;
    if (colon >= 0) return parse_port(cn_str_sub(s, (size_t)colon + 1, s.len - (size_t)colon - 1), &out->port);
    return out->port ? 0 : CN_EINVAL;
}

size_t gossip_addr_format_ip(const struct gossip_addr *a, char *out, size_t n)
{
    int len = 0;
    if (a->family == 4) {
        len = snprintf(out, n, "%u.%u.%u.%u", a->ip[0], a->ip[1], a->ip[2], a->ip[3]);
    } else if (a->family == 6) {
        uint16_t w[8];
        for (int k = 0; k < 8; k++) w[k] = (uint16_t)(a->ip[2 * k] << 8 | a->ip[2 * k + 1]);
        /* RFC 5952: compress the longest run (>= 2) of zero words, first wins. */
        int best = -1, best_len = 0;
        for (int k = 0; k < 8;) {
            if (w[k] != 0) {
                k++;
                continue;
            }
            int j = k;
            while (j < 8 && w[j] == 0) j++;
            if (j - k > best_len && j - k >= 2) {
                best = k;
                best_len = j - k;
            }
            k = j;
        }
        char buf[48];
        int p = 0;
        for (int k = 0; k < 8; k++) {
            if (k == best) {
                p += snprintf(buf + p, sizeof buf - (size_t)p, "::");
                k += best_len - 1;
                continue;
            }
            if (p > 0 && buf[p - 1] != ':') buf[p++] = ':';
            p += snprintf(buf + p, sizeof buf - (size_t)p, "%x", w[k]);
        }
        buf[p] = 0;
        len = snprintf(out, n, "%s", buf);
    } else {
        len = snprintf(out, n, "%s", "");
    }
    return len < 0 ? 0 : CN_MIN((size_t)len, n ? n - 1 : 0);
}

size_t gossip_addr_format(const struct gossip_addr *a, char *out, size_t n)
{
    char ip[48];
    gossip_addr_format_ip(a, ip, sizeof ip);
    int len = a->family == 6 ? snprintf(out, n, "[%s]:%u", ip, a->port)
                             : snprintf(out, n, "%s:%u", ip, a->port);
    return len < 0 ? 0 : CN_MIN((size_t)len, n ? n - 1 : 0);
}

bool gossip_addr_eq(const struct gossip_addr *a, const struct gossip_addr *b)
{
    if (a->family != b->family || a->port != b->port) return false;
    return memcmp(a->ip, b->ip, a->family == 4 ? 4 : 16) == 0;
}
