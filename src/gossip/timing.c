/*
 * timing.c - timing profiles and the formulas memberlist derives from them.
 *
 * Values: memberlist config.go DefaultLANConfig / DefaultWANConfig /
 * DefaultLocalConfig; Serf config.go DefaultConfig for reap, reconnect,
 * tombstone, leave propagation and queue depth; Consul's -dev gossip for DEV.
 */
#include "gossip/gossip.h"

#include <math.h>

#define SEC 1000u
#define HOUR (3600ull * 1000ull)

static void serf_defaults(struct gossip_timing *t)
{
    t->reap_interval_ms = 15 * SEC;
    t->reconnect_interval_ms = 30 * SEC;
    t->reconnect_timeout_ms = 24 * HOUR;
    t->tombstone_timeout_ms = 24 * HOUR;
    t->leave_propagate_delay_ms = 1 * SEC;
    t->broadcast_timeout_ms = 5 * SEC;
    t->queue_depth_min = 4096;
    t->user_coalesce_ms = 0;
    t->user_quiescent_ms = 0;
    t->query_timeout_mult = 16;
}

void gossip_timing_default(struct gossip_timing *t, enum gossip_profile p)
{
    *t = (struct gossip_timing){
        .probe_interval_ms = 1 * SEC,
        .probe_timeout_ms = 500,
        .indirect_checks = 3,
        .gossip_interval_ms = 200,
        .gossip_nodes = 3,
        .gossip_to_the_dead_ms = 30 * SEC,
        .retransmit_mult = 4,
        .suspicion_mult = 4,
        .suspicion_max_timeout_mult = 6,
        .awareness_max_multiplier = 8,
        .push_pull_interval_ms = 30 * SEC,
        .tcp_timeout_ms = 10 * SEC,
        .udp_buffer_size = 1400,
    };
    serf_defaults(t);
    switch (p) {
    case GOSSIP_PROFILE_LAN:
        break;
    case GOSSIP_PROFILE_WAN:
        t->tcp_timeout_ms = 30 * SEC;
        t->suspicion_mult = 6;
        t->push_pull_interval_ms = 60 * SEC;
        t->probe_timeout_ms = 3 * SEC;
        t->probe_interval_ms = 5 * SEC;
        t->gossip_nodes = 4;
        t->gossip_interval_ms = 500;
        t->gossip_to_the_dead_ms = 60 * SEC;
        break;
    case GOSSIP_PROFILE_LOCAL:
        t->tcp_timeout_ms = 1 * SEC;
        t->indirect_checks = 1;
        t->retransmit_mult = 2;
        t->suspicion_mult = 3;
        t->push_pull_interval_ms = 15 * SEC;
        t->probe_timeout_ms = 200;
        t->probe_interval_ms = 1 * SEC;
        t->gossip_interval_ms = 100;
        t->gossip_to_the_dead_ms = 15 * SEC;
        break;
    case GOSSIP_PROFILE_DEV:
        /* Consul -dev: gossip_lan/gossip_wan probe_interval, probe_timeout and
         * gossip_interval 100 ms, suspicion_mult 3, on top of the LAN profile. */
        t->probe_interval_ms = 100;
        t->probe_timeout_ms = 100;
        t->gossip_interval_ms = 100;
        t->suspicion_mult = 3;
        break;
    }
}

/* memberlist util.go retransmitLimit: mult * ceil(log10(n + 1)). */
uint32_t gossip_retransmit_limit(uint32_t mult, uint32_t n)
{
    double scale = ceil(log10((double)n + 1.0));
    return mult * (uint32_t)scale;
}

/* memberlist util.go suspicionTimeout: mult * max(1, log10(max(1, n))) * interval,
 * kept to a millisecond. */
uint64_t gossip_suspicion_min_ms(uint32_t mult, uint32_t n, uint32_t interval_ms)
{
    double scale = fmax(1.0, log10(fmax(1.0, (double)n)));
    return (uint64_t)mult * (uint64_t)(scale * 1000.0) * interval_ms / 1000u;
}

/* memberlist util.go pushPullScale: beyond 32 nodes, multiply the interval by
 * ceil(log2(n) - log2(32)) + 1. */
uint64_t gossip_push_pull_scale_ms(uint32_t interval_ms, uint32_t n)
{
    if (n <= 32) return interval_ms;
    double mult = ceil(log2((double)n) - log2(32.0)) + 1.0;
    return (uint64_t)mult * interval_ms;
}
