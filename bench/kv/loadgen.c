/*
 * loadgen - a closed-loop HTTP/1.1 load generator for the benchmarks.
 *
 * N keep-alive connections, each with one request in flight, driven by one
 * epoll thread (the server under test gets the other core). Paths and
 * bodies are templates: {KEY} becomes a key name, {KEY64} its base64,
 * {VAL64} the value's base64, {VAL} the value itself. Prints one JSON line:
 * ops, ops/s, latency percentiles in microseconds, non-2xx answers.
 *
 * -q takes keys in order instead of at random (to populate every key); -n
 * stops after that many answers (with -q -n K -k K: each key written once).
 *
 *   loadgen -p 8500 -c 64 -d 10 -m PUT -u '/v1/kv/bench/{KEY}' -b '{VAL}' -s 100 -k 10000
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 4096
#define BUF 65536

struct conn {
    int fd;
    char out[BUF];
    size_t out_len, out_off;
    char in[BUF];
    size_t in_len;
    uint64_t start_ns;
};

static const char *host = "127.0.0.1", *method = "GET", *path_t = "/", *body_t = "";
static int port = 8500, nconns = 16, duration_s = 10, value_size = 100, nkeys = 1000;
static char *value, *value64;
static uint64_t *lat;
static size_t nlat, cap_lat;
static uint64_t errors, seed = 88172645463325252ULL, next_key;
static int sequential;
static size_t max_ops, issued; /* -n: stop after max_ops answers */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t rnd(void)
{
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
}

static void b64(const unsigned char *s, size_t n, char *out)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i = 0, o = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        out[o++] = t[v >> 18], out[o++] = t[(v >> 12) & 63], out[o++] = t[(v >> 6) & 63], out[o++] = t[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)s[i] << 16;
        out[o++] = t[v >> 18], out[o++] = t[(v >> 12) & 63], out[o++] = '=', out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
        out[o++] = t[v >> 18], out[o++] = t[(v >> 12) & 63], out[o++] = t[(v >> 6) & 63], out[o++] = '=';
    }
    out[o] = 0;
}

/* Expand a template into out; returns length. */
static size_t expand(const char *t, char *out, size_t cap, const char *key)
{
    char key64[256];
    size_t o = 0;
    b64((const unsigned char *)key, strlen(key), key64);
    while (*t && o < cap - 1) {
        const char *rep = NULL;
        size_t skip = 0;
        if (!strncmp(t, "{KEY64}", 7)) rep = key64, skip = 7;
        else if (!strncmp(t, "{KEY}", 5)) rep = key, skip = 5;
        else if (!strncmp(t, "{VAL64}", 7)) rep = value64, skip = 7;
        else if (!strncmp(t, "{VAL}", 5)) rep = value, skip = 5;
        if (rep) {
            size_t n = strlen(rep);
            if (o + n >= cap) break;
            memcpy(out + o, rep, n);
            o += n;
            t += skip;
        } else {
            out[o++] = *t++;
        }
    }
    out[o] = 0;
    return o;
}

static void prepare(struct conn *c)
{
    char key[64], path[1024], body[BUF / 2];
    uint64_t k = sequential ? next_key++ : rnd();
    issued++;
    snprintf(key, sizeof key, "bench/%08d", (int)(k % (uint64_t)nkeys));
    expand(path_t, path, sizeof path, key);
    size_t blen = expand(body_t, body, sizeof body, key);
    c->out_len = (size_t)snprintf(c->out, sizeof c->out,
                                  "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %zu\r\n"
                                  "Content-Type: application/json\r\n\r\n",
                                  method, path, host, blen);
    memcpy(c->out + c->out_len, body, blen);
    c->out_len += blen;
    c->out_off = 0;
    c->in_len = 0;
    c->start_ns = now_ns();
}

/* A complete response in c->in? Returns its status, 0 if incomplete. */
static int complete(struct conn *c)
{
    c->in[c->in_len] = 0;
    char *end = strstr(c->in, "\r\n\r\n");
    if (!end) return 0;
    int status = atoi(c->in + 9);
    size_t head = (size_t)(end - c->in) + 4;
    char *cl = strcasestr(c->in, "\r\ncontent-length:");
    if (cl && cl < end) {
        size_t len = (size_t)strtoul(cl + 17, NULL, 10);
        return c->in_len >= head + len ? status : 0;
    }
    if (strcasestr(c->in, "\r\ntransfer-encoding: chunked") && strstr(end, "\r\n0\r\n\r\n")) return status;
    if (status == 204 || status == 304) return status;
    return 0;
}

static void record(uint64_t ns)
{
    if (nlat == cap_lat) {
        cap_lat = cap_lat ? cap_lat * 2 : 1 << 16;
        lat = realloc(lat, cap_lat * sizeof *lat);
    }
    lat[nlat++] = ns;
}

static int cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int connect_one(int ep, struct conn *c)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &sa.sin_addr);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa)) return -1;
    fcntl(c->fd, F_SETFL, O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    prepare(c);
    return 0;
}

int main(int argc, char **argv)
{
    int opt;
    while ((opt = getopt(argc, argv, "h:p:c:d:m:u:b:s:k:qn:")) != -1) {
        switch (opt) {
        case 'h': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'c': nconns = atoi(optarg); break;
        case 'd': duration_s = atoi(optarg); break;
        case 'm': method = optarg; break;
        case 'u': path_t = optarg; break;
        case 'b': body_t = optarg; break;
        case 's': value_size = atoi(optarg); break;
        case 'k': nkeys = atoi(optarg); break;
        case 'q': sequential = 1; break;
        case 'n': max_ops = (size_t)strtoull(optarg, NULL, 10); break;
        default: fprintf(stderr, "bad option\n"); return 2;
        }
    }
    if (nconns < 1 || nconns > MAX_CONNS) return 2;
    value = malloc((size_t)value_size + 1);
    memset(value, 'v', (size_t)value_size);
    value[value_size] = 0;
    value64 = malloc((size_t)value_size * 2 + 8);
    b64((unsigned char *)value, (size_t)value_size, value64);
    int ep = epoll_create1(0);
    struct conn *conns = calloc((size_t)nconns, sizeof *conns);
    for (int i = 0; i < nconns; i++)
        if (connect_one(ep, &conns[i])) {
            fprintf(stderr, "connect: %s\n", strerror(errno));
            return 1;
        }
    uint64_t start = now_ns(), end = start + (uint64_t)duration_s * 1000000000ULL;
    struct epoll_event evs[256];
    while (now_ns() < end && !(max_ops && nlat >= max_ops)) {
        int n = epoll_wait(ep, evs, 256, 100);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c->out_off < c->out_len && (evs[i].events & EPOLLOUT)) {
                ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
                if (w > 0) c->out_off += (size_t)w;
            }
            if (evs[i].events & EPOLLIN) {
                ssize_t r = read(c->fd, c->in + c->in_len, sizeof c->in - 1 - c->in_len);
                if (r <= 0) {
                    if (r < 0 && errno == EAGAIN) continue;
                    fprintf(stderr, "connection closed by server\n");
                    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                    close(c->fd);
                    errors++;
                    connect_one(ep, c);
                    continue;
                }
                c->in_len += (size_t)r;
                int status = complete(c);
                if (status) {
                    record(now_ns() - c->start_ns);
                    if (status < 200 || status > 299) errors++;
                    if (max_ops && issued >= max_ops) {
                        c->in_len = 0;
                        continue;
                    }
                    prepare(c);
                    ssize_t w = write(c->fd, c->out, c->out_len);
                    if (w > 0) c->out_off = (size_t)w;
                }
            }
        }
    }
    double secs = (double)(now_ns() - start) / 1e9;
    qsort(lat, nlat, sizeof *lat, cmp);
#define PCT(p) (nlat ? lat[(size_t)((double)(nlat - 1) * (p))] / 1000 : 0)
    printf("{\"ops\": %zu, \"ops_per_s\": %.0f, \"p50_us\": %llu, \"p90_us\": %llu, \"p99_us\": %llu, "
           "\"p999_us\": %llu, \"max_us\": %llu, \"errors\": %llu}\n",
           nlat, (double)nlat / secs, (unsigned long long)PCT(0.50), (unsigned long long)PCT(0.90),
           (unsigned long long)PCT(0.99), (unsigned long long)PCT(0.999),
           (unsigned long long)(nlat ? lat[nlat - 1] / 1000 : 0), (unsigned long long)errors);
    return 0;
}
