#include "lib/cn_str.h"

#include <string.h>
#include <strings.h>

#include "lib/cn_common.h"
#include "lib/cn_err.h"

struct cn_str cn_str_from(const char *cstr)
{
    return (struct cn_str){cstr, cstr ? strlen(cstr) : 0};
}

struct cn_str cn_str_make(const void *p, size_t len)
{
    return (struct cn_str){p, len};
}

bool cn_str_eq(struct cn_str a, struct cn_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

bool cn_str_eq_cstr(struct cn_str a, const char *b)
{
    return cn_str_eq(a, cn_str_from(b));
}

bool cn_str_case_eq(struct cn_str a, struct cn_str b)
{
    return a.len == b.len && (a.len == 0 || strncasecmp(a.p, b.p, a.len) == 0);
}

bool cn_str_case_eq_cstr(struct cn_str a, const char *b)
{
    return cn_str_case_eq(a, cn_str_from(b));
}

bool cn_str_has_prefix(struct cn_str s, struct cn_str prefix)
{
    return s.len >= prefix.len && (prefix.len == 0 || memcmp(s.p, prefix.p, prefix.len) == 0);
}

int cn_str_cmp(struct cn_str a, struct cn_str b)
{
    size_t n = CN_MIN(a.len, b.len);
    int c = n ? memcmp(a.p, b.p, n) : 0;
    if (c) return c;
    return a.len < b.len ? -1 : a.len > b.len;
}

struct cn_str cn_str_sub(struct cn_str s, size_t from, size_t len)
{
    if (from > s.len) from = s.len;
    if (len > s.len - from) len = s.len - from;
    return (struct cn_str){s.p + from, len};
}

long cn_str_index(struct cn_str s, char c, size_t from)
{
    for (size_t i = from; i < s.len; i++)
        if (s.p[i] == c) return (long)i;
    return -1;
}

struct cn_str cn_str_trim(struct cn_str s)
{
    while (s.len && (s.p[0] == ' ' || s.p[0] == '\t' || s.p[0] == '\r' || s.p[0] == '\n')) {
        s.p++;
        s.len--;
    }
    while (s.len && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t' ||
                     s.p[s.len - 1] == '\r' || s.p[s.len - 1] == '\n'))
        s.len--;
    return s;
}

bool cn_str_cut(struct cn_str *s, char sep, struct cn_str *head)
{
    long i = cn_str_index(*s, sep, 0);
    if (i < 0) {
        *head = *s;
        s->p += s->len;
        s->len = 0;
        return false;
    }
    *head = (struct cn_str){s->p, (size_t)i};
    s->p += i + 1;
    s->len -= (size_t)i + 1;
    return true;
}

char *cn_str_dup(struct cn_str s)
{
    return cn_strndup(s.p ? s.p : "", s.len);
}

int cn_parse_u64(struct cn_str s, uint64_t *out)
{
    uint64_t v = 0;
    if (s.len == 0 || s.len > 20) return CN_EINVAL;
    for (size_t i = 0; i < s.len; i++) {
        unsigned d = (unsigned char)s.p[i] - '0';
        if (d > 9) return CN_EINVAL;
        if (v > (UINT64_MAX - d) / 10) return CN_EINVAL;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int cn_parse_i64(struct cn_str s, int64_t *out)
{
    bool neg = false;
    uint64_t v;
    if (s.len && (s.p[0] == '-' || s.p[0] == '+')) {
        neg = s.p[0] == '-';
        s.p++;
        s.len--;
    }
    if (cn_parse_u64(s, &v)) return CN_EINVAL;
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1) return CN_EINVAL;
        *out = (int64_t)(0 - v);
    } else {
        if (v > INT64_MAX) return CN_EINVAL;
        *out = (int64_t)v;
    }
    return 0;
}

int cn_parse_bool(struct cn_str s, bool *out)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < CN_ARRAY_SIZE(yes); i++) {
        if (cn_str_eq_cstr(s, yes[i])) return *out = true, 0;
        if (cn_str_eq_cstr(s, no[i])) return *out = false, 0;
    }
    return CN_EINVAL;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long cn_url_decode(struct cn_str src, char *dst, bool plus_as_space)
{
    size_t o = 0;
    for (size_t i = 0; i < src.len; i++) {
        char c = src.p[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= src.len) return CN_EINVAL;
            hi = hexval(src.p[i + 1]);
            lo = hexval(src.p[i + 2]);
            if (hi < 0 || lo < 0) return CN_EINVAL;
            dst[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_as_space) {
            dst[o++] = ' ';
        } else {
            dst[o++] = c;
        }
    }
    return (long)o;
}

uint64_t cn_hash_bytes(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    return h;
}

size_t cn_u64_fmt(uint64_t v, char *out)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    return n;
}
