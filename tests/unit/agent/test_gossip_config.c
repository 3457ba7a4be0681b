/* gossip_lan, gossip_wan and reconnect_timeout(_wan) onto the gossip timing,
 * with Consul's defaults. */
#include <string.h>

#include "agent/config.h"
#include "agent/gossip_config.h"
#include "test.h"

static void from_json(struct agent_config *c, const char *text, bool dev)
{
    struct cn_err err;
    ASSERT_OK(agent_config_from_json(text, strlen(text), c, &err));
    c->dev = dev; /* agent_config_from_json loads as -dev */
}

TEST(gossip_config, consul_defaults)
{
    struct agent_config c;
    struct gossip_timing t;
    struct cn_err err;
    from_json(&c, "{}", false);
    ASSERT_OK(agent_gossip_timing(&c, false, &t, &err));
    ASSERT_EQ(1000, t.probe_interval_ms);
    ASSERT_EQ(500, t.probe_timeout_ms);
    ASSERT_EQ(200, t.gossip_interval_ms);
    ASSERT_EQ(3, t.gossip_nodes);
    ASSERT_EQ(4, t.suspicion_mult);
    ASSERT_EQ(4, t.retransmit_mult);
    ASSERT_EQ(72ull * 3600 * 1000, t.reconnect_timeout_ms);
    ASSERT_OK(agent_gossip_timing(&c, true, &t, &err));
    ASSERT_EQ(5000, t.probe_interval_ms);
    ASSERT_EQ(3000, t.probe_timeout_ms);
    ASSERT_EQ(500, t.gossip_interval_ms);
    ASSERT_EQ(3, t.gossip_nodes); /* Consul's, not memberlist's 4 */
    ASSERT_EQ(6, t.suspicion_mult);
    ASSERT_EQ(72ull * 3600 * 1000, t.reconnect_timeout_ms);
    agent_config_release(&c);
    from_json(&c, "{}", true);
    ASSERT_OK(agent_gossip_timing(&c, true, &t, &err));
    ASSERT_EQ(100, t.probe_interval_ms);
    ASSERT_EQ(100, t.probe_timeout_ms);
    ASSERT_EQ(100, t.gossip_interval_ms);
    ASSERT_EQ(3, t.suspicion_mult);
    agent_config_release(&c);
}

TEST(gossip_config, keys_override_each_pool)
{
    struct agent_config c;
    struct gossip_timing t;
    struct cn_err err;
    from_json(&c,
              "{\"gossip_lan\": {\"gossip_nodes\": 5, \"gossip_interval\": \"50ms\","
              " \"probe_interval\": \"2s\", \"probe_timeout\": \"1s\", \"suspicion_mult\": 7,"
              " \"retransmit_mult\": 2},"
              " \"gossip_wan\": {\"probe_interval\": \"9s\"},"
              " \"reconnect_timeout\": \"8h\", \"reconnect_timeout_wan\": \"10h\"}",
              false);
    ASSERT_OK(agent_gossip_timing(&c, false, &t, &err));
    ASSERT_EQ(5, t.gossip_nodes);
    ASSERT_EQ(50, t.gossip_interval_ms);
    ASSERT_EQ(2000, t.probe_interval_ms);
    ASSERT_EQ(1000, t.probe_timeout_ms);
    ASSERT_EQ(7, t.suspicion_mult);
    ASSERT_EQ(2, t.retransmit_mult);
    ASSERT_EQ(8ull * 3600 * 1000, t.reconnect_timeout_ms);
    ASSERT_OK(agent_gossip_timing(&c, true, &t, &err));
    ASSERT_EQ(9000, t.probe_interval_ms);
    ASSERT_EQ(3000, t.probe_timeout_ms); /* untouched: the WAN default */
    ASSERT_EQ(10ull * 3600 * 1000, t.reconnect_timeout_ms);
    agent_config_release(&c);
}

TEST(gossip_config, unknown_keys_and_unusable_values_are_errors)
{
    struct agent_config c;
    struct gossip_timing t;
    struct cn_err err;
    const char *bad = "{\"gossip_lan\": {\"probe_intervl\": \"1s\"}}";
    ASSERT_EQ(CN_EINVAL, agent_config_from_json(bad, strlen(bad), &c, &err));
    ASSERT_STR_EQ("invalid config key gossip_lan.probe_intervl", err.msg);
    agent_config_release(&c);
    from_json(&c, "{\"gossip_wan\": {\"gossip_interval\": \"0s\"}}", false);
    ASSERT_OK(agent_gossip_timing(&c, false, &t, &err));
    ASSERT_EQ(CN_EINVAL, agent_gossip_timing(&c, true, &t, &err));
    ASSERT_STR_EQ("gossip_wan.gossip_interval: must be between 1ms and 1193h", err.msg);
    agent_config_release(&c);
    from_json(&c, "{\"gossip_lan\": {\"suspicion_mult\": 0}}", false);
    ASSERT_EQ(CN_EINVAL, agent_gossip_timing(&c, false, &t, &err));
    ASSERT_STR_EQ("gossip_lan.suspicion_mult: must be between 1 and 1000", err.msg);
    agent_config_release(&c);
}
