/*
 * bench_wal - durable-write figures for bench/wal/run.py. Each mode prints one
 * JSON line.
 *
 *   bench_wal raw --dir D --seconds S
 *       the disk's physical limit: a loop of 256-byte write + fdatasync
 *   bench_wal wal --dir D --appenders N --seconds S [--size 256]
 *       N simulated appenders on one event-loop thread, each waiting for its
 *       entry to be reported durable before appending the next: appends/s,
 *       durable-latency percentiles, fdatasyncs per second
 *   bench_wal snapshot --dir D --mb M
 *       snapshot write (fsync) and verified streaming read, cold (evicted from
 *       the page cache with posix_fadvise) and warm, in MB/s
 *   bench_wal etcd --port P --clients N --seconds S [--size 256]
 *       closed-loop load on etcd's gRPC gateway (POST /v3/kv/put, HTTP/1.1
 *       keep-alive), one request in flight per client: puts/s and latencies
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/cn_base64.h"
#include "lib/cn_log.h"
#include "lib/cn_time.h"
#include "storage/storage.h"

/* ---- latency histogram: 1 us buckets up to 1 s -------------------------------- */

#define HIST_N 1000000
static uint64_t hist[HIST_N + 1], hist_count;

static void hist_add(uint64_t ns)
{
    uint64_t us = ns / 1000;
    hist[us < HIST_N ? us : HIST_N]++;
    hist_count++;
}

static double hist_pct(double p)
{
    uint64_t want = (uint64_t)(p * (double)hist_count), seen = 0;
    for (uint64_t i = 0; i <= HIST_N; i++) {
        seen += hist[i];
        if (seen > want) return (double)i / 1000.0;
    }
    return (double)HIST_N / 1000.0;
}

static void print_lat(void)
{
    printf("\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f", hist_pct(0.50), hist_pct(0.99),
           hist_pct(0.999));
}

/* ---- raw fdatasync ---------------------------------------------------------------- */

static int bench_raw(const char *dir, double seconds)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/raw.dat", dir);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) return perror("open"), 1;
    char buf[256];
    memset(buf, 'r', sizeof buf);
    uint64_t t0 = cn_now_ns(), end = t0 + (uint64_t)(seconds * 1e9), n = 0, now = t0;
    while (now < end) {
        uint64_t a = now;
        if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf || fdatasync(fd) != 0)
            return perror("write/fdatasync"), 1;
        now = cn_now_ns();
        hist_add(now - a);
        n++;
    }
    close(fd);
    unlink(path);
    double s = (double)(now - t0) / 1e9;
    printf("{\"mode\":\"raw\",\"fsyncs_per_s\":%.0f,", (double)n / s);
    print_lat();
    printf("}\n");
    return 0;
}

/* ---- the log ------------------------------------------------------------------------ */

static int efd;

static void on_durable(void *ctx, const struct storage_durable *d)
{
    uint64_t one = 1;
    (void)ctx;
    (void)d;
    if (write(efd, &one, sizeof one) < 0) abort(); /* the loop's wake-up (uv_async_send) */
}

static int bench_wal(const char *dir, int appenders, double seconds, size_t size)
{
    struct storage_options o = {.dir = dir, .on_durable = on_durable};
    struct storage *s;
    struct cn_err err;
    efd = eventfd(0, EFD_CLOEXEC);
    if (storage_open(&o, &s, &err)) return fprintf(stderr, "open: %s\n", err.msg), 1;
    uint8_t *payload = malloc(size);
    memset(payload, 'w', size);
    /* In-flight entries in index order: appender k's entry i started at t[i % cap]. */
    size_t cap = 1u << 16;
    uint64_t *started = calloc(cap, sizeof *started);
    uint64_t next = storage_last_index(s) + 1, base = next, done = 0, wakeups = 0;
    uint64_t term = storage_last_term(s) + 1;
    struct storage_entry e = {0, term, 0, payload, size};
    usleep(200000); /* let the first spare segment be preallocated */
    uint64_t t0 = cn_now_ns(), end = t0 + (uint64_t)(seconds * 1e9), now = t0;
    for (int k = 0; k < appenders; k++) {
        e.index = next;
        started[next % cap] = cn_now_ns();
        if (storage_append(s, &e, 1)) return fprintf(stderr, "append failed\n"), 1;
        next++;
    }
    uint64_t oldest = base;
    while (now < end) {
        uint64_t v;
        if (read(efd, &v, sizeof v) < 0 && errno != EINTR) return perror("read"), 1;
        wakeups++;
        struct storage_durable d;
        storage_durable(s, &d);
        if (d.err) return fprintf(stderr, "log failed: %d\n", d.err), 1;
        now = cn_now_ns();
        /* Each appender whose entry is durable appends its next one. */
        while (oldest <= d.index) {
            hist_add(now - started[oldest % cap]);
            oldest++;
            done++;
            e.index = next;
            started[next % cap] = cn_now_ns();
            int rc = storage_append(s, &e, 1);
            if (rc) return fprintf(stderr, "append failed: %d\n", rc), 1;
            next++;
        }
    }
    double sec = (double)(now - t0) / 1e9;
    printf("{\"mode\":\"wal\",\"appenders\":%d,\"size\":%zu,\"appends_per_s\":%.0f,"
           "\"wakeups_per_s\":%.0f,\"entries_per_wakeup\":%.1f,",
           appenders, size, (double)done / sec, (double)wakeups / sec,
           wakeups ? (double)done / (double)wakeups : 0.0);
    print_lat();
    printf("}\n");
    storage_close(s);
    free(payload);
    free(started);
    return 0;
}

/* ---- snapshots -------------------------------------------------------------------------- */

static double read_all(const char *path, uint64_t *bytes)
{
    struct storage_snapshot_reader *r;
    struct cn_err err;
    uint64_t t0 = cn_now_ns();
    if (storage_snapshot_open(NULL, path, &r, &err)) return fprintf(stderr, "%s\n", err.msg), -1;
    *bytes = 0;
    for (;;) {
        const void *p;
        size_t n;
        if (storage_snapshot_next(r, &p, &n, &err)) return fprintf(stderr, "%s\n", err.msg), -1;
        if (!n) break;
        *bytes += n;
    }
    storage_snapshot_close(r);
    return (double)(cn_now_ns() - t0) / 1e9;
}

static int bench_snapshot(const char *dir, int mb)
{
    struct storage_snap_opts o = {dir, NULL, 1};
    struct storage_snapshot_meta m = {.index = 1000000, .term = 3};
    struct storage_snapshot_writer *w;
    struct cn_err err;
    char path[STORAGE_PATH_MAX];
    if (storage_snapshot_begin(&o, &m, &w, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    uint8_t rec[120]; /* ~ one KV entry of a 1M-key store */
    for (size_t i = 0; i < sizeof rec; i++)
        rec[i] = (uint8_t)(i * 31 + 7);
    uint64_t n = (uint64_t)mb * 1000000 / sizeof rec, t0 = cn_now_ns();
    for (uint64_t i = 0; i < n; i++) {
        memcpy(rec, &i, sizeof i);
        if (storage_snapshot_write(w, rec, sizeof rec)) return 1;
    }
    if (storage_snapshot_commit(w, path, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    double wsec = (double)(cn_now_ns() - t0) / 1e9;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED); /* this file only: not the whole cache */
    close(fd);
    uint64_t bytes;
    double cold = read_all(path, &bytes), warm = read_all(path, &bytes);
    double total = (double)bytes / 1e6;
    printf("{\"mode\":\"snapshot\",\"mb\":%.0f,\"entries\":%" PRIu64 ",\"write_mb_s\":%.0f,"
           "\"read_cold_mb_s\":%.0f,\"read_warm_mb_s\":%.0f,\"read_cold_s\":%.3f}\n",
           total, n, total / wsec, total / cold, total / warm, cold);
    unlink(path);
    return 0;
}

/* ---- etcd load generator ----------------------------------------------------------------- */

struct conn {
    int fd;
    uint64_t started;
    char in[4096];
    size_t in_len;
};

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(0x7f000001)};
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A complete response in c->in? Returns its length, 0 if not yet, -1 on error. */
static long response_len(struct conn *c)
{
    c->in[c->in_len] = '\0';
    char *hdr_end = strstr(c->in, "\r\n\r\n");
    if (!hdr_end) return 0;
    if (strncmp(c->in, "HTTP/1.1 200", 12)) return -1;
    size_t head = (size_t)(hdr_end + 4 - c->in);
    char *cl = strcasestr(c->in, "\r\ncontent-length:");
    if (cl && cl < hdr_end) {
        size_t body = strtoul(cl + 17, NULL, 10);
        return c->in_len >= head + body ? (long)(head + body) : 0;
    }
    char *term = strstr(hdr_end + 4, "\r\n0\r\n\r\n");
    return term ? (long)(term + 7 - c->in) : 0;
}

struct load {
    char value[4096], key64[64], req[8192];
    size_t vlen;
    uint64_t seq;
};

static int send_put(struct load *l, struct conn *c)
{
    char key[32], body[4200];
    snprintf(key, sizeof key, "bench/%" PRIu64, l->seq++ % 100000);
    size_t klen = cn_base64_encoded_len(strlen(key));
    cn_base64_encode(key, strlen(key), l->key64);
    int blen = snprintf(body, sizeof body, "{\"key\":\"%.*s\",\"value\":\"%.*s\"}", (int)klen,
                        l->key64, (int)l->vlen, l->value);
    int n = snprintf(l->req, sizeof l->req,
                     "POST /v3/kv/put HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                     blen, body);
    c->started = cn_now_ns();
    return write(c->fd, l->req, (size_t)n) == n ? 0 : -1;
}

static int bench_etcd(int port, int clients, double seconds, size_t size)
{
    static struct load l;
    uint8_t *raw = malloc(size);
    memset(raw, 'e', size);
    l.vlen = cn_base64_encoded_len(size);
    cn_base64_encode(raw, size, l.value);
    struct conn *cs = calloc((size_t)clients, sizeof *cs);
    struct pollfd *pf = calloc((size_t)clients, sizeof *pf);
    for (int i = 0; i < clients; i++) {
        cs[i].fd = dial(port);
        if (cs[i].fd < 0) return perror("connect"), 1;
    }
    uint64_t done = 0, t0 = cn_now_ns(), end = t0 + (uint64_t)(seconds * 1e9);
    for (int i = 0; i < clients; i++)
        if (send_put(&l, &cs[i])) return perror("write"), 1;
    while (cn_now_ns() < end) {
        for (int i = 0; i < clients; i++)
            pf[i] = (struct pollfd){cs[i].fd, POLLIN, 0};
        if (poll(pf, (nfds_t)clients, 1000) < 0 && errno != EINTR) return perror("poll"), 1;
        for (int i = 0; i < clients; i++) {
            if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            struct conn *c = &cs[i];
            ssize_t r = read(c->fd, c->in + c->in_len, sizeof c->in - 1 - c->in_len);
            if (r <= 0) return fprintf(stderr, "etcd closed the connection\n"), 1;
            c->in_len += (size_t)r;
            long len = response_len(c);
            if (len < 0) return fprintf(stderr, "etcd: %.120s\n", c->in), 1;
            if (len == 0) continue;
            hist_add(cn_now_ns() - c->started);
            done++;
            memmove(c->in, c->in + len, c->in_len - (size_t)len);
            c->in_len -= (size_t)len;
            if (send_put(&l, c)) return perror("write"), 1;
        }
    }
    double sec = (double)(cn_now_ns() - t0) / 1e9;
    printf("{\"mode\":\"etcd\",\"clients\":%d,\"size\":%zu,\"puts_per_s\":%.0f,", clients, size,
           (double)done / sec);
    print_lat();
    printf("}\n");
    for (int i = 0; i < clients; i++)
        close(cs[i].fd);
    free(cs);
    free(pf);
    free(raw);
    return 0;
}

/* ---- main -------------------------------------------------------------------------------------
 */

static const char *arg(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 2; i + 1 < argc; i++)
        if (!strcmp(argv[i], name)) return argv[i + 1];
    return def;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_wal raw|wal|snapshot|etcd [--dir D] [--seconds S] "
                        "[--appenders N] [--clients N] [--size B] [--mb M] [--port P]\n");
        return 2;
    }
    cn_log_set_level(CN_LOG_WARN);
    const char *mode = argv[1], *dir = arg(argc, argv, "--dir", "/tmp");
    double seconds = atof(arg(argc, argv, "--seconds", "3"));
    size_t size = (size_t)atol(arg(argc, argv, "--size", "256"));
    if (size == 0 || size > 3000) return fprintf(stderr, "--size: 1..3000\n"), 2;
    if (!strcmp(mode, "raw")) return bench_raw(dir, seconds);
    if (!strcmp(mode, "wal"))
        return bench_wal(dir, atoi(arg(argc, argv, "--appenders", "1")), seconds, size);
    if (!strcmp(mode, "snapshot")) return bench_snapshot(dir, atoi(arg(argc, argv, "--mb", "120")));
    if (!strcmp(mode, "etcd"))
        return bench_etcd(atoi(arg(argc, argv, "--port", "2379")),
                          atoi(arg(argc, argv, "--clients", "1")), seconds, size);
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
}
