/*
 * gossip_node - one gossip member on the real network, for benchmarks and
 * manual poking: the gossip_io adapter on a private uv loop.
 *
 *   gossip_node --name n1 --bind 127.0.0.1:7001 [--advertise IP:PORT]
 *               [--join ADDR]... [--profile lan|wan|local|dev] [--key BASE64]
 *               [--no-coords] [--tag k=v]... [--stats-ms N]
 *
 * Prints one line per happening, prefixed with the wall-clock time in ms
 * (so a driver can compare with when it killed a process):
 *   <ms> member-join <name> <ip:port>
 *   <ms> member-failed|member-leave|member-update|member-reap <name> <ip:port>
 *   <ms> join-done contacted=N failed=M <error>
 *   <ms> event <name> <payload>
 *   <ms> stats bytes_out=B bytes_in=B packets_out=P packets_in=P members=M alive=A rss_kb=K
 *   <ms> left
 * SIGUSR1 prints stats; SIGTERM leaves gracefully and exits; SIGINT exits.
 * The same output as bench/gossip/memberlist_peer, so one driver reads both.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "gossip/io/gossip_io.h"
#include "lib/cn_err.h"

#define MAX_JOINS 16
#define MAX_TAGS 16

static uv_loop_t *loop;
static struct gossip_io *io;
static uv_signal_t sig_term, sig_int, sig_usr1;
static uv_timer_t stats_timer, exit_timer;

static long long wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) v = strtol(line + 6, NULL, 10);
    if (f) fclose(f);
    return v;
}

static void print_stats(void)
{
    if (!io) return;
    struct gossip_stats st;
    gossip_stats(gossip_io_core(io), &st);
    printf("%lld stats bytes_out=%llu bytes_in=%llu packets_out=%llu packets_in=%llu members=%u "
           "alive=%u rss_kb=%ld\n",
           wall_ms(), (unsigned long long)(st.bytes_sent + st.stream_bytes_sent),
           (unsigned long long)(st.bytes_received + st.stream_bytes_received),
           (unsigned long long)(st.packets_sent + st.streams_sent),
           (unsigned long long)(st.packets_received + st.streams_received), st.members,
           st.alive + st.suspect, rss_kb());
}

static void on_member(void *ctx, const struct gossip_member_change *c)
{
    char addr[GOSSIP_ADDR_STR_MAX];
    gossip_addr_format(&c->member.addr, addr, sizeof addr);
    printf("%lld %s %s %s\n", wall_ms(), gossip_change_name(c->kind), c->member.name, addr);
}

static void on_event(void *ctx, const struct gossip_user_event *e)
{
    printf("%lld event %.*s %.*s\n", wall_ms(), CN_STR_ARG(e->name), CN_STR_ARG(e->payload));
}

static void on_join(void *ctx, const struct gossip_join_result *r)
{
    printf("%lld join-done contacted=%u failed=%u %s\n", wall_ms(), r->contacted, r->failed,
           r->error ? r->error : "");
}

static void on_closed(void *ctx)
{
    io = NULL;
    uv_stop(loop);
}

static void on_left(void *ctx)
{
    printf("%lld left\n", wall_ms());
    print_stats();
    gossip_io_close(io, on_closed, NULL);
}

static void on_exit_timer(uv_timer_t *t)
{
    if (io) gossip_io_close(io, on_closed, NULL);
}

static void on_signal(uv_signal_t *s, int signum)
{
    if (signum == SIGUSR1) {
        print_stats();
        return;
    }
    if (signum == SIGTERM && io) {
        gossip_io_leave(io);
        uv_timer_start(&exit_timer, on_exit_timer, 10000, 0);
        return;
    }
    print_stats();
    if (io) gossip_io_close(io, on_closed, NULL);
}

static void on_stats(uv_timer_t *t)
{
    print_stats();
}

static int usage(void)
{
    fprintf(stderr, "usage: gossip_node --name N --bind IP:PORT [--advertise IP:PORT] [--join ADDR]...\n"
                    "       [--profile lan|wan|local|dev] [--key BASE64] [--no-coords] [--tag k=v]...\n"
                    "       [--stats-ms N]\n");
    return 2;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct gossip_io_config cfg;
    gossip_io_config_init(&cfg);
    const char *joins[MAX_JOINS];
    size_t n_joins = 0;
    struct gossip_tag tags[MAX_TAGS];
    size_t n_tags = 0;
    struct gossip_key key;
    long stats_ms = 0;
    enum gossip_profile prof = GOSSIP_PROFILE_LAN;
    struct cn_err err;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--name") && v) {
            cfg.core.name = v;
            i++;
        } else if (!strcmp(a, "--bind") && v) {
            if (gossip_addr_parse(cn_str_from(v), 7946, &cfg.bind)) return usage();
            i++;
        } else if (!strcmp(a, "--advertise") && v) {
            if (gossip_addr_parse(cn_str_from(v), 7946, &cfg.core.addr)) return usage();
            i++;
        } else if (!strcmp(a, "--join") && v && n_joins < MAX_JOINS) {
            joins[n_joins++] = v;
            i++;
        } else if (!strcmp(a, "--profile") && v) {
            prof = !strcmp(v, "wan") ? GOSSIP_PROFILE_WAN
                   : !strcmp(v, "local") ? GOSSIP_PROFILE_LOCAL
                   : !strcmp(v, "dev") ? GOSSIP_PROFILE_DEV
                                       : GOSSIP_PROFILE_LAN;
            i++;
        } else if (!strcmp(a, "--key") && v) {
            if (gossip_key_decode(cn_str_from(v), &key, &err)) {
                fprintf(stderr, "gossip_node: %s\n", err.msg);
                return 2;
            }
            cfg.core.keys = &key;
            cfg.core.n_keys = 1;
            i++;
        } else if (!strcmp(a, "--tag") && v && n_tags < MAX_TAGS) {
            char *eq = strchr(argv[i + 1], '=');
            if (!eq) return usage();
            *eq = 0;
            tags[n_tags++] = (struct gossip_tag){argv[i + 1], eq + 1};
            i++;
        } else if (!strcmp(a, "--no-coords")) {
            cfg.core.coordinates = false;
        } else if (!strcmp(a, "--stats-ms") && v) {
            stats_ms = strtol(v, NULL, 10);
            i++;
        } else {
            return usage();
        }
    }
    if (!cfg.core.name || !cfg.bind.family) return usage();
    gossip_timing_default(&cfg.core.timing, prof);
    cfg.core.tags = tags;
    cfg.core.n_tags = n_tags;
    if (!cfg.core.addr.family) cfg.core.addr = cfg.bind;
    cfg.default_port = cfg.bind.port;
    cfg.cb = (struct gossip_io_callbacks){.member = on_member, .event = on_event, .join = on_join,
                                          .left = on_left};
    loop = uv_default_loop();
    if (gossip_io_start(loop, &cfg, &io, &err)) {
        fprintf(stderr, "gossip_node: %s\n", err.msg);
        return 1;
    }
    uv_signal_init(loop, &sig_term);
    uv_signal_init(loop, &sig_int);
    uv_signal_init(loop, &sig_usr1);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    uv_signal_start(&sig_usr1, on_signal, SIGUSR1);
    uv_timer_init(loop, &stats_timer);
    uv_timer_init(loop, &exit_timer);
    if (stats_ms > 0) uv_timer_start(&stats_timer, on_stats, (uint64_t)stats_ms, (uint64_t)stats_ms);
    if (n_joins && gossip_io_join(io, joins, n_joins, 1, true, &err))
        fprintf(stderr, "gossip_node: join: %s\n", err.msg);
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}
