/* wire.c - DNS names on the wire: bounded decoding, text conversion, IP literals. */
#include <arpa/inet.h>
#include <string.h>

#include "dns/dns.h"

static inline uint8_t lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* Compression pointers must point before the start of the label run that
 * contains them: offsets then strictly decrease, so a loop is impossible and
 * the number of jumps is bounded by the packet length. */
int dns_name_read(const uint8_t *pkt, size_t len, size_t off, uint8_t *out, size_t *out_len,
                  size_t *next)
{
    size_t o = 0, pos = off, run_start = off;
    bool jumped = false;
    for (;;) {
        if (pos >= len) return -1;
        uint8_t c = pkt[pos];
        if ((c & 0xC0) == 0xC0) {
            if (pos + 1 >= len) return -1;
            size_t ptr = ((size_t)(c & 0x3F) << 8) | pkt[pos + 1];
            if (!jumped) *next = pos + 2;
            if (ptr >= run_start) return -1;
            jumped = true;
            pos = run_start = ptr;
            continue;
        }
        if (c & 0xC0) return -1; /* extended label types (0x40, 0x80) */
        if (c == 0) {
            out[o++] = 0;
            if (!jumped) *next = pos + 1;
            *out_len = o;
            return 0;
        }
        if (pos + 1 + c > len || o + 1 + c + 1 > DNS_NAME_MAX) return -1;
        memcpy(out + o, pkt + pos, 1 + (size_t)c);
        o += 1 + (size_t)c;
        pos += 1 + (size_t)c;
    }
}

int dns_name_from_text(const char *text, size_t len, uint8_t *out)
{
    size_t o = 0, i = 0;
    if (len && text[len - 1] == '.') len--;
    if (len == 0) {
        out[0] = 0;
        return 1;
    }
    while (i <= len) {
        size_t j = i;
        while (j < len && text[j] != '.') j++;
        size_t l = j - i;
        if (l == 0 || l > DNS_LABEL_MAX || o + 1 + l + 1 > DNS_NAME_MAX) return -1;
        out[o++] = (uint8_t)l;
        memcpy(out + o, text + i, l);
        o += l;
        i = j + 1;
    }
    out[o++] = 0;
    return (int)o;
}

size_t dns_name_to_text(const uint8_t *wire, char *out, size_t cap, bool lower_case)
{
    size_t o = 0;
    if (!cap) return 0;
    if (!wire[0]) {
        if (cap > 1) out[o++] = '.';
        out[o] = '\0';
        return o;
    }
    while (*wire) {
        uint8_t l = *wire++;
        for (uint8_t k = 0; k < l && o + 2 < cap; k++) {
            uint8_t c = wire[k];
            out[o++] = (char)(lower_case ? lower(c) : c);
        }
        wire += l;
        if (o + 1 < cap) out[o++] = '.';
    }
    out[o] = '\0';
    return o;
}

bool dns_name_eq(const uint8_t *a, const uint8_t *b)
{
    for (;;) {
        if (*a != *b) return false;
        uint8_t l = *a;
        if (!l) return true;
        for (uint8_t k = 1; k <= l; k++)
            if (lower(a[k]) != lower(b[k])) return false;
        a += l + 1;
        b += l + 1;
    }
}

int dns_parse_ip(struct cn_str text, uint8_t out[16])
{
    char buf[64];
    if (!text.len || text.len >= sizeof buf) return 0;
    memcpy(buf, text.p, text.len);
    buf[text.len] = '\0';
    if (memchr(buf, ':', text.len)) return inet_pton(AF_INET6, buf, out) == 1 ? 16 : 0;
    return inet_pton(AF_INET, buf, out) == 1 ? 4 : 0;
}
