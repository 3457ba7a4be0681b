#include "lib/cn_time.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/cn_err.h"

uint64_t cn_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t cn_now_ms(void)
{
    return cn_now_ns() / 1000000ULL;
}

int64_t cn_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int unit_of(struct cn_str u, uint64_t *mult)
{
    static const struct {
        const char *name;
        uint64_t ns;
    } units[] = {{"ns", 1},
                 {"us", 1000},
                 {"\xc2\xb5s", 1000},
                 {"\xce\xbcs", 1000},
                 {"ms", 1000000},
                 {"s", 1000000000ULL},
                 {"m", 60000000000ULL},
                 {"h", 3600000000000ULL}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (cn_str_eq_cstr(u, units[i].name)) return *mult = units[i].ns, 0;
    return CN_EINVAL;
}

int cn_dur_parse(struct cn_str s, int64_t *out)
{
    const uint64_t max = (uint64_t)INT64_MAX;
    uint64_t total = 0;
    bool neg = false;
    size_t i = 0;
    if (s.len && (s.p[0] == '-' || s.p[0] == '+')) neg = s.p[i++] == '-';
    if (s.len - i == 1 && s.p[i] == '0') return *out = 0, 0;
    if (i == s.len) return CN_EINVAL;
    while (i < s.len) {
        uint64_t whole = 0, frac = 0, scale = 1, mult;
        bool pre = false, post = false;
        while (i < s.len && s.p[i] >= '0' && s.p[i] <= '9') {
            if (whole > (max - 9) / 10) return CN_EINVAL;
            whole = whole * 10 + (uint64_t)(s.p[i++] - '0');
            pre = true;
        }
        if (i < s.len && s.p[i] == '.') {
            i++;
            while (i < s.len && s.p[i] >= '0' && s.p[i] <= '9') {
                /* Digits past 1e18 precision are dropped, as Go does. */
                if (scale < 1000000000000000000ULL) {
                    frac = frac * 10 + (uint64_t)(s.p[i] - '0');
                    scale *= 10;
                }
                i++;
                post = true;
            }
        }
        if (!pre && !post) return CN_EINVAL;
        size_t u0 = i;
        while (i < s.len && s.p[i] != '.' && (s.p[i] < '0' || s.p[i] > '9')) i++;
        if (u0 == i || unit_of(cn_str_make(s.p + u0, i - u0), &mult)) return CN_EINVAL;
        if (whole > max / mult) return CN_EINVAL;
        uint64_t v = whole * mult;
        if (frac) v += (uint64_t)((long double)frac * (long double)mult / (long double)scale);
        if (v > max - total) return CN_EINVAL;
        total += v;
    }
    *out = neg ? -(int64_t)total : (int64_t)total;
    return 0;
}

/* Go's fmtFrac: print v/10^prec's fractional digits, trimming trailing zeros. */
static int fmt_frac(char *buf, int w, uint64_t *v, int prec)
{
    bool print = false;
    for (int i = 0; i < prec; i++) {
        int digit = (int)(*v % 10);
        print = print || digit != 0;
        if (print) buf[--w] = (char)('0' + digit);
        *v /= 10;
    }
    if (print) buf[--w] = '.';
    return w;
}

static int fmt_int(char *buf, int w, uint64_t v)
{
    if (v == 0) {
        buf[--w] = '0';
        return w;
    }
    while (v > 0) {
        buf[--w] = (char)('0' + v % 10);
        v /= 10;
    }
    return w;
}

char *cn_dur_format(int64_t d, char *out, size_t n)
{
    char buf[32];
    int w = sizeof buf;
    uint64_t u = d < 0 ? (uint64_t)0 - (uint64_t)d : (uint64_t)d;
    bool neg = d < 0;
    if (u < 1000000000ULL) {
        int prec;
        w--;
        buf[w] = 's';
        w--;
        if (u == 0) {
            snprintf(out, n, "0s");
            return out;
        } else if (u < 1000) {
            prec = 0;
            buf[w] = 'n';
        } else if (u < 1000000) {
            prec = 3;
            /* U+00B5 micro sign, as Go prints it. */
            buf[w] = '\xb5';
            buf[--w] = '\xc2';
        } else {
            prec = 6;
            buf[w] = 'm';
        }
        w = fmt_frac(buf, w, &u, prec);
        w = fmt_int(buf, w, u);
    } else {
        buf[--w] = 's';
        w = fmt_frac(buf, w, &u, 9);
        w = fmt_int(buf, w, u % 60);
        u /= 60;
        if (u > 0) {
            buf[--w] = 'm';
            w = fmt_int(buf, w, u % 60);
            u /= 60;
            if (u > 0) {
                buf[--w] = 'h';
                w = fmt_int(buf, w, u);
            }
        }
    }
    if (neg) buf[--w] = '-';
    snprintf(out, n, "%.*s", (int)sizeof buf - w, buf + w);
    return out;
}

char *cn_time_format_rfc3339(int64_t wall_ns, char *out, size_t n)
{
    time_t sec = (time_t)(wall_ns / 1000000000LL);
    long nsec = (long)(wall_ns % 1000000000LL);
    struct tm tm;
    char frac[16] = "";
    char zone[8];
    localtime_r(&sec, &tm);
    if (nsec) {
        int len = snprintf(frac, sizeof frac, ".%09ld", nsec);
        while (len > 1 && frac[len - 1] == '0') frac[--len] = '\0';
    }
    strftime(zone, sizeof zone, "%z", &tm);
    if (!strcmp(zone, "+0000"))
        strcpy(zone, "Z");
    else {
        /* +hhmm -> +hh:mm */
        zone[6] = '\0';
        zone[5] = zone[4];
        zone[4] = zone[3];
        zone[3] = ':';
    }
    snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d%s%s", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac, zone);
    return out;
}
