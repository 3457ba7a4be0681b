/* Timing profiles are memberlist's and the derived formulas match its. */
#include "gossip/gossip.h"
#include "test.h"

TEST(gossip_timing, profiles_match_memberlist)
{
    struct gossip_timing t;
    gossip_timing_default(&t, GOSSIP_PROFILE_LAN);
    ASSERT_EQ(1000, t.probe_interval_ms);
    ASSERT_EQ(500, t.probe_timeout_ms);
    ASSERT_EQ(200, t.gossip_interval_ms);
    ASSERT_EQ(3, t.gossip_nodes);
    ASSERT_EQ(3, t.indirect_checks);
    ASSERT_EQ(4, t.retransmit_mult);
    ASSERT_EQ(4, t.suspicion_mult);
    ASSERT_EQ(6, t.suspicion_max_timeout_mult);
    ASSERT_EQ(30000, t.push_pull_interval_ms);
    ASSERT_EQ(10000, t.tcp_timeout_ms);
    ASSERT_EQ(8, t.awareness_max_multiplier);
    ASSERT_EQ(30000, t.gossip_to_the_dead_ms);
    ASSERT_EQ(1400, t.udp_buffer_size);
    gossip_timing_default(&t, GOSSIP_PROFILE_WAN);
    ASSERT_EQ(5000, t.probe_interval_ms);
    ASSERT_EQ(3000, t.probe_timeout_ms);
    ASSERT_EQ(500, t.gossip_interval_ms);
    ASSERT_EQ(4, t.gossip_nodes);
    ASSERT_EQ(6, t.suspicion_mult);
    ASSERT_EQ(60000, t.push_pull_interval_ms);
    ASSERT_EQ(30000, t.tcp_timeout_ms);
    ASSERT_EQ(60000, t.gossip_to_the_dead_ms);
    gossip_timing_default(&t, GOSSIP_PROFILE_LOCAL);
    ASSERT_EQ(200, t.probe_timeout_ms);
    ASSERT_EQ(1, t.indirect_checks);
    ASSERT_EQ(2, t.retransmit_mult);
    ASSERT_EQ(3, t.suspicion_mult);
    ASSERT_EQ(15000, t.push_pull_interval_ms);
    ASSERT_EQ(100, t.gossip_interval_ms);
    ASSERT_EQ(1000, t.tcp_timeout_ms);
    gossip_timing_default(&t, GOSSIP_PROFILE_DEV);
    ASSERT_EQ(100, t.probe_interval_ms);
    ASSERT_EQ(100, t.probe_timeout_ms);
    ASSERT_EQ(3, t.suspicion_mult);
    ASSERT_EQ(15000, t.reap_interval_ms);
    ASSERT_U64_EQ(24ull * 3600 * 1000, t.reconnect_timeout_ms);
}

TEST(gossip_timing, derived_values)
{
    /* retransmit: mult * ceil(log10(n + 1)) */
    ASSERT_EQ(4, gossip_retransmit_limit(4, 1));
    ASSERT_EQ(4, gossip_retransmit_limit(4, 9));
    ASSERT_EQ(8, gossip_retransmit_limit(4, 10));
    ASSERT_EQ(12, gossip_retransmit_limit(4, 100));
    ASSERT_EQ(20, gossip_retransmit_limit(4, 10000));
    /* suspicion min: mult * max(1, log10(n)) * interval */
    ASSERT_U64_EQ(4000, gossip_suspicion_min_ms(4, 1, 1000));
    ASSERT_U64_EQ(4000, gossip_suspicion_min_ms(4, 10, 1000));
    ASSERT_U64_EQ(8000, gossip_suspicion_min_ms(4, 100, 1000));
    ASSERT_U64_EQ(16000, gossip_suspicion_min_ms(4, 10000, 1000));
    ASSERT_U64_EQ(30000, gossip_suspicion_min_ms(6, 100, 5000) / 2);
    /* push-pull: x1 up to 32 nodes, then ceil(log2(n) - 5) + 1 */
    ASSERT_U64_EQ(30000, gossip_push_pull_scale_ms(30000, 32));
    ASSERT_U64_EQ(60000, gossip_push_pull_scale_ms(30000, 33));
    ASSERT_U64_EQ(60000, gossip_push_pull_scale_ms(30000, 64));
    ASSERT_U64_EQ(90000, gossip_push_pull_scale_ms(30000, 65));
    ASSERT_U64_EQ(300000, gossip_push_pull_scale_ms(30000, 10000));
}
