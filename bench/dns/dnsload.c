/*
 * dnsload - a small UDP DNS load generator with latency percentiles
 * (dnsperf reports only averages). One thread, one connected socket,
 * sendmmsg/recvmmsg; keeps -c queries outstanding (closed loop), or sends
 * at -r queries/s (open loop, for latency at a given load).
 *
 * usage: dnsload -p port [-s 127.0.0.1] [-n web.service.consul] [-t 33]
 *                [-e edns_size|0] [-c 100] [-r rate] [-d seconds] [-w warmup]
 * prints one JSON object: qps, p50/p90/p99/p999 in microseconds, lost,
 * bad (wrong RCODE or answer count), answers per reply.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SLOTS 65536
#define BATCH 64
#define HIST_US 1000000 /* 1 us buckets up to 1 s */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static size_t mkquery(uint8_t *p, const char *name, int type, int edns)
{
    size_t o = 12;
    memset(p, 0, 12);
    p[2] = 0x01;
    p[5] = 1;
    p[11] = edns ? 1 : 0;
    for (const char *s = name; *s;) {
        const char *dot = strchr(s, '.');
        size_t l = dot ? (size_t)(dot - s) : strlen(s);
        p[o++] = (uint8_t)l;
        memcpy(p + o, s, l);
        o += l;
        s += l + (dot ? 1 : 0);
    }
    p[o++] = 0;
    p[o++] = (uint8_t)(type >> 8);
    p[o++] = (uint8_t)type;
    p[o++] = 0;
    p[o++] = 1;
    if (edns) {
        const uint8_t opt[] = {0, 0, 41, (uint8_t)(edns >> 8), (uint8_t)edns, 0, 0, 0, 0, 0, 0};
        memcpy(p + o, opt, sizeof opt);
        o += sizeof opt;
    }
    return o;
}

static uint64_t sent_at[SLOTS];
static uint32_t *hist;

static double pct(uint64_t total, double q)
{
    uint64_t want = (uint64_t)((double)total * q), acc = 0;
    if (!total) return 0;
    for (uint32_t i = 0; i < HIST_US; i++) {
        acc += hist[i];
        if (acc > want) return i;
    }
    return HIST_US;
}

int main(int argc, char **argv)
{
    const char *server = "127.0.0.1", *name = "web.service.consul";
    int port = 53, type = 33, edns = 1232, conc = 100, opt;
    double rate = 0, secs = 5, warm = 1;
    while ((opt = getopt(argc, argv, "s:p:n:t:e:c:r:d:w:")) != -1) {
        switch (opt) {
        case 's': server = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'n': name = optarg; break;
        case 't': type = atoi(optarg); break;
        case 'e': edns = atoi(optarg); break;
        case 'c': conc = atoi(optarg); break;
        case 'r': rate = atof(optarg); break;
        case 'd': secs = atof(optarg); break;
        case 'w': warm = atof(optarg); break;
        default: fprintf(stderr, "bad option\n"); return 2;
        }
    }
    if (conc < 1 || conc > 30000) conc = 100;
    hist = calloc(HIST_US + 1, sizeof *hist);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    int buf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, server, &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
        perror("connect");
        return 1;
    }
    static uint8_t q[BATCH][512], r[BATCH][4096];
    size_t qlen = mkquery(q[0], name, type, edns);
    for (int i = 1; i < BATCH; i++) memcpy(q[i], q[0], qlen);
    struct mmsghdr tx[BATCH], rx[BATCH];
    struct iovec txio[BATCH], rxio[BATCH];
    memset(tx, 0, sizeof tx);
    memset(rx, 0, sizeof rx);
    for (int i = 0; i < BATCH; i++) {
        txio[i] = (struct iovec){q[i], qlen};
        tx[i].msg_hdr.msg_iov = &txio[i];
        tx[i].msg_hdr.msg_iovlen = 1;
        rxio[i] = (struct iovec){r[i], sizeof r[i]};
        rx[i].msg_hdr.msg_iov = &rxio[i];
        rx[i].msg_hdr.msg_iovlen = 1;
    }
    uint64_t start = now_ns(), measure_from = start + (uint64_t)(warm * 1e9),
             end = measure_from + (uint64_t)(secs * 1e9);
    uint64_t done = 0, lost = 0, bad = 0, answers = 0, sent = 0, outstanding = 0;
    uint16_t next_id = 0;
    int first_ancount = -1;
    double credit = 0;
    uint64_t last_pace = start, last_sweep = start;
    for (;;) {
        uint64_t t = now_ns();
        if (t >= end) break;
        /* how many to send now */
        int want;
        if (rate > 0) {
            credit += (double)(t - last_pace) * rate / 1e9;
            last_pace = t;
            if (credit > BATCH) credit = BATCH;
            want = (int)credit;
            if (outstanding + (uint64_t)want > SLOTS / 2) want = 0;
        } else {
            want = conc - (int)outstanding;
        }
        if (want > BATCH) want = BATCH;
        int k = 0;
        for (; k < want; k++) {
            uint16_t id = next_id++;
            while (sent_at[id]) id = next_id++; /* still outstanding */
            q[k][0] = (uint8_t)(id >> 8);
            q[k][1] = (uint8_t)id;
            sent_at[id] = t | 1;
        }
        if (k > 0) {
            int n = sendmmsg(fd, tx, (unsigned)k, 0);
            if (n < 0) n = 0;
            for (int i = n; i < k; i++) sent_at[q[i][0] << 8 | q[i][1]] = 0;
            sent += (uint64_t)n;
            outstanding += (uint64_t)n;
            if (rate > 0) credit -= n;
        }
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, rate > 0 ? 0 : 1) <= 0 && rate <= 0) continue;
        int n = recvmmsg(fd, rx, BATCH, MSG_DONTWAIT, NULL);
        t = now_ns();
        for (int i = 0; i < n; i++) {
            uint8_t *p = r[i];
            if (rx[i].msg_len < 12) continue;
            uint16_t id = (uint16_t)(p[0] << 8 | p[1]);
            if (!sent_at[id]) continue;
            uint64_t lat = (t - (sent_at[id] & ~1ull)) / 1000;
            bool measure = (sent_at[id] & ~1ull) >= measure_from;
            sent_at[id] = 0;
            outstanding--;
            int rcode = p[3] & 15, an = p[6] << 8 | p[7];
            if (first_ancount < 0) first_ancount = an;
            if (!measure) continue;
            done++;
            answers += (uint64_t)an;
            if (rcode || an != first_ancount) bad++;
            hist[lat < HIST_US ? lat : HIST_US]++;
        }
        /* queries unanswered for a second are lost */
        if (t - last_sweep > 100000000ull) {
            last_sweep = t;
            for (uint32_t id = 0; id < SLOTS; id++)
                if (sent_at[id] && t - (sent_at[id] & ~1ull) > 1000000000ull) {
                    sent_at[id] = 0;
                    outstanding--;
                    lost++;
                }
        }
    }
    printf("{\"qps\": %.0f, \"p50_us\": %.0f, \"p90_us\": %.0f, \"p99_us\": %.0f, "
           "\"p999_us\": %.0f, \"completed\": %llu, \"lost\": %llu, \"bad\": %llu, "
           "\"answers\": %.1f, \"sent\": %llu}\n",
           (double)done / secs, pct(done, 0.50), pct(done, 0.90), pct(done, 0.99),
           pct(done, 0.999), (unsigned long long)done, (unsigned long long)lost,
           (unsigned long long)bad, done ? (double)answers / (double)done : 0.0,
           (unsigned long long)sent);
    return 0;
}
