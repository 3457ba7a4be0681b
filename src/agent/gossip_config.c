/*
 * gossip_config.c - Consul's gossip tuning keys onto the core's timing.
 *
 * Consul (agent/config/default.go) starts from memberlist's DefaultLANConfig
 * and DefaultWANConfig, except that the WAN pool takes the LAN's
 * gossip_nodes (3, where memberlist's WAN profile has 4) and retransmit_mult
 * (4); -dev sets 100 ms probe and gossip intervals, a 100 ms probe timeout
 * and suspicion_mult 3 in both pools. Serf's reconnect_timeout, 24 h in
 * Serf, is 72 h in Consul for both pools (agent/consul/config.go).
 */
#include "agent/gossip_config.h"

#include <stdint.h>
#include <stdio.h>

#include "lib/cn_common.h"
#include "lib/cn_time.h"

#define RECONNECT_TIMEOUT_DEFAULT_MS (72ull * 3600 * 1000)

static int dur_ms(const struct agent_config *cfg, const char *path, uint32_t *ms,
                  struct cn_err *err)
{
    int64_t ns = agent_config_dur(cfg, path, -1);
    if (!agent_config_get(cfg, path)) return 0;
    if (ns < CN_NS_PER_MS || ns / CN_NS_PER_MS > UINT32_MAX)
        return cn_err_set(err, CN_EINVAL, "%s: must be between 1ms and 1193h", path);
    *ms = (uint32_t)(ns / CN_NS_PER_MS);
    return 0;
}

static int count(const struct agent_config *cfg, const char *path, int64_t min, uint32_t *out,
                 struct cn_err *err)
{
    if (!agent_config_get(cfg, path)) return 0;
    int64_t v = agent_config_int(cfg, path, -1);
    if (v < min || v > 1000)
        return cn_err_set(err, CN_EINVAL, "%s: must be between %lld and 1000", path, (long long)min);
    *out = (uint32_t)v;
    return 0;
}

int agent_gossip_timing(const struct agent_config *cfg, bool wan, struct gossip_timing *t,
                        struct cn_err *err)
{
    const char *pool = wan ? "gossip_wan" : "gossip_lan";
    char p[6][64];
    const char *names[6] = {"gossip_interval", "probe_interval", "probe_timeout",
                            "gossip_nodes",    "suspicion_mult", "retransmit_mult"};
    for (int i = 0; i < 6; i++) snprintf(p[i], sizeof p[i], "%s.%s", pool, names[i]);
    gossip_timing_default(t, wan ? GOSSIP_PROFILE_WAN : GOSSIP_PROFILE_LAN);
    if (wan) t->gossip_nodes = 3;
    if (cfg->dev) {
        t->probe_interval_ms = t->probe_timeout_ms = t->gossip_interval_ms = 100;
        t->suspicion_mult = 3;
    }
    int rc;
    if ((rc = dur_ms(cfg, p[0], &t->gossip_interval_ms, err)) ||
        (rc = dur_ms(cfg, p[1], &t->probe_interval_ms, err)) ||
        (rc = dur_ms(cfg, p[2], &t->probe_timeout_ms, err)) ||
        (rc = count(cfg, p[3], 0, &t->gossip_nodes, err)) ||
        (rc = count(cfg, p[4], 1, &t->suspicion_mult, err)) ||
        (rc = count(cfg, p[5], 1, &t->retransmit_mult, err)))
        return rc;
    const char *rt = wan ? "reconnect_timeout_wan" : "reconnect_timeout";
    int64_t ns = agent_config_dur(cfg, rt, 0);
    t->reconnect_timeout_ms = ns > 0 ? (uint64_t)ns / CN_NS_PER_MS : RECONNECT_TIMEOUT_DEFAULT_MS;
    return 0;
}
