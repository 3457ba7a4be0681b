/* Several cores on the simulated network: join, failure, leave, restart,
 * partitions, user events, tags, encryption with keyring rotation, indirect
 * probes and Vivaldi coordinates. */
#include <math.h>
#include <string.h>

#include "gossip/gossip_int.h"
#include "lib/cn_err.h"
#include "simnet.h"
#include "test.h"

#define MAXN 16

struct obs {
    int changes[MAXN][MAXN][5]; /* [observer][subject][kind] */
    int events[MAXN];
    char last_event[MAXN][64];
    int joins_ok, joins_failed;
    struct gossip_key_result keyres;
    bool have_keyres;
    struct gossip_key_count keys[8], primary[8];
    char message0[128]; /* the first per-node message */
};

static struct obs O;

static int node_index(const char *name)
{
    return name[0] == 'n' ? atoi(name + 1) : -1;
}

static void on_change(void *ctx, uint32_t node, const struct gossip_member_change *c)
{
    int j = node_index(c->member.name);
    if (j >= 0 && j < MAXN && node < MAXN) O.changes[node][j][c->kind]++;
}

static void on_event(void *ctx, uint32_t node, const struct gossip_user_event *e)
{
    if (node >= MAXN) return;
    O.events[node]++;
    snprintf(O.last_event[node], 64, "%.*s:%.*s", CN_STR_ARG(e->name), CN_STR_ARG(e->payload));
}

static void on_join(void *ctx, uint32_t node, const struct gossip_join_result *r)
{
    if (r->rc == 0)
        O.joins_ok++;
    else
        O.joins_failed++;
}

static void on_keyres(void *ctx, uint32_t node, const struct gossip_key_result *r)
{
    O.keyres = *r;
    memcpy(O.keys, r->keys, CN_MIN(r->n_keys, 8) * sizeof *r->keys);
    memcpy(O.primary, r->primary, CN_MIN(r->n_primary, 8) * sizeof *r->primary);
    snprintf(O.message0, sizeof O.message0, "%s", r->n_messages ? r->messages[0].message : "");
    O.have_keyres = true;
}

static struct simnet *cluster(uint32_t n, enum gossip_profile p, const struct gossip_key *keys,
                              size_t n_keys)
{
    memset(&O, 0, sizeof O);
    struct simnet_config cfg = {.seed = cn_test_seed(), .lat_min_ms = 1, .lat_max_ms = 5};
    gossip_timing_default(&cfg.timing, p);
    cfg.keys = keys;
    cfg.n_keys = n_keys;
    cfg.coordinates = true;
    cfg.check_invariants = true;
    cfg.hooks = (struct simnet_hooks){.change = on_change, .event = on_event, .join = on_join,
                                      .key_result = on_keyres};
    struct simnet *net = simnet_new(&cfg);
    for (uint32_t i = 0; i < n; i++) simnet_add(net);
    return net;
}

static bool converged(void *ctx, struct simnet *net)
{
    return simnet_converged(net);
}

static void join_all(struct simnet *net)
{
    for (uint32_t i = 1; i < simnet_count(net); i++) ASSERT_OK(simnet_join(net, i, 0));
    /* Most runs converge in a second; with LOCAL's retransmit_mult of 2 a
     * member can miss a join broadcast and wait for a push-pull (15 s). */
    if (!simnet_run_while(net, simnet_now(net) + 60000, 50, converged, NULL)) {
        for (uint32_t i = 0; i < simnet_count(net); i++) {
            fprintf(stderr, "view of n%u:", i);
            for (uint32_t j = 0; j < simnet_count(net); j++) fprintf(stderr, " %d", simnet_view(net, i, j));
            fprintf(stderr, "\n");
        }
    }
    if (!simnet_converged(net))
        FAIL("no convergence after joining (seed %llu)", (unsigned long long)cn_test_seed());
}

TEST(gossip_cluster, join_through_one_member_converges)
{
    struct simnet *net = cluster(8, GOSSIP_PROFILE_LOCAL, NULL, 0);
    join_all(net);
    ASSERT_EQ(7, O.joins_ok);
    for (uint32_t i = 0; i < 8; i++)
        for (uint32_t j = 0; j < 8; j++) ASSERT_EQ(1, O.changes[i][j][GOSSIP_MEMBER_JOIN]);
    simnet_free(net);
}

static bool all_see_failed(void *ctx, struct simnet *net)
{
    uint32_t dead = *(uint32_t *)ctx;
    for (uint32_t i = 0; i < simnet_count(net); i++)
        if (i != dead && simnet_view(net, i, dead) != GOSSIP_STATUS_FAILED) return false;
    return true;
}

TEST(gossip_cluster, failure_detected_then_restart_rejoins)
{
    struct simnet *net = cluster(6, GOSSIP_PROFILE_LOCAL, NULL, 0);
    join_all(net);
    uint32_t victim = 3;
    uint64_t t0 = simnet_now(net);
    simnet_kill(net, victim);
    /* LOCAL: suspicion 3 * max(1, log10 6) s = 3 s (k = 1 confirmation expected,
     * max 18 s); probes reach it within a few seconds. */
    ASSERT(simnet_run_while(net, t0 + 30000, 50, all_see_failed, &victim));
    for (uint32_t i = 0; i < 6; i++)
        if (i != victim) ASSERT_EQ(1, O.changes[i][victim][GOSSIP_MEMBER_FAILED]);
    /* restart: incarnation 1 again, but the cluster knows it dead at 1. Where
     * the join target still gossips about the dead, the push-pull tells it so
     * and it refutes with a higher incarnation; members past
     * gossip-to-the-dead time take incarnation 1 back as memberlist does. */
    simnet_restart(net, victim);
    ASSERT_OK(simnet_join(net, victim, 0));
    ASSERT(simnet_run_while(net, simnet_now(net) + 30000, 50, converged, NULL));
    for (uint32_t i = 0; i < 6; i++)
        if (i != victim) ASSERT(O.changes[i][victim][GOSSIP_MEMBER_JOIN] >= 2);
    simnet_free(net);
}

static bool all_see_left(void *ctx, struct simnet *net)
{
    uint32_t who = *(uint32_t *)ctx;
    for (uint32_t i = 0; i < simnet_count(net); i++)
        if (i != who && simnet_view(net, i, who) != GOSSIP_STATUS_LEFT) return false;
    return simnet_node(net, who)->left;
}

TEST(gossip_cluster, graceful_leave_reaches_everyone)
{
    /* LAN: LOCAL's retransmit_mult of 2 lets a member miss the leave about
     * once in a hundred runs (it then fails the member and learns "left"
     * from the next push-pull). */
    struct simnet *net = cluster(6, GOSSIP_PROFILE_LAN, NULL, 0);
    join_all(net);
    uint32_t who = 2;
    ASSERT_OK(simnet_leave(net, who));
    struct gossip_member me;
    gossip_self(simnet_node(net, who)->g, &me);
    ASSERT_EQ(GOSSIP_STATUS_LEAVING, me.status);
    ASSERT(simnet_run_while(net, simnet_now(net) + 10000, 20, all_see_left, &who));
    for (uint32_t i = 0; i < 6; i++) {
        if (i == who) continue;
        ASSERT_EQ(1, O.changes[i][who][GOSSIP_MEMBER_LEAVE]);
        ASSERT_EQ(0, O.changes[i][who][GOSSIP_MEMBER_FAILED]);
    }
    simnet_free(net);
}

TEST(gossip_cluster, user_events_reach_everyone_once)
{
    /* Piggybacking reaches nearly everyone within a second; a member the
     * epidemic missed gets the event from the next push-pull (30 s here),
     * which carries recent events. */
    struct simnet *net = cluster(10, GOSSIP_PROFILE_LAN, NULL, 0);
    join_all(net);
    ASSERT_OK(simnet_fire(net, 4, "deploy", "v7", false));
    simnet_run_until(net, simnet_now(net) + 65000);
    for (uint32_t i = 0; i < 10; i++) {
        ASSERT_EQ(1, O.events[i]);
        ASSERT_STR_EQ("deploy:v7", O.last_event[i]);
    }
    /* the same name and payload again is a new event (new Lamport time) */
    ASSERT_OK(simnet_fire(net, 5, "deploy", "v7", false));
    simnet_run_until(net, simnet_now(net) + 65000);
    for (uint32_t i = 0; i < 10; i++) ASSERT_EQ(2, O.events[i]);
    /* Lamport clocks moved past both events everywhere */
    struct gossip_stats st;
    gossip_stats(simnet_node(net, 9)->g, &st);
    ASSERT(st.event_ltime >= 3);
    simnet_free(net);
}

TEST(gossip_cluster, coalesced_events_deliver_the_latest)
{
    memset(&O, 0, sizeof O);
    struct simnet_config cfg = {.seed = cn_test_seed(), .lat_min_ms = 1, .lat_max_ms = 5};
    gossip_timing_default(&cfg.timing, GOSSIP_PROFILE_LAN);
    cfg.timing.user_coalesce_ms = 3000;
    cfg.timing.user_quiescent_ms = 1000;
    cfg.hooks = (struct simnet_hooks){.change = on_change, .event = on_event};
    struct simnet *net = simnet_new(&cfg);
    for (int i = 0; i < 5; i++) simnet_add(net);
    join_all(net);
    char payload[8];
    for (int k = 0; k < 5; k++) {
        snprintf(payload, sizeof payload, "v%d", k);
        ASSERT_OK(simnet_fire(net, 1, "roll", payload, true));
        simnet_run_until(net, simnet_now(net) + 50);
    }
    simnet_run_until(net, simnet_now(net) + 6000);
    /* The origin's window is deterministic: one delivery, the latest. */
    ASSERT_EQ(1, O.events[1]);
    ASSERT_STR_EQ("roll:v4", O.last_event[1]);
    /* Elsewhere the window sees what gossip brought in time: far fewer than five. */
    int single = 0;
    for (uint32_t i = 0; i < 5; i++) {
        ASSERT(O.events[i] >= 1 && O.events[i] < 5);
        single += O.events[i] == 1 && strcmp(O.last_event[i], "roll:v4") == 0;
    }
    ASSERT(single >= 3);
    simnet_free(net);
}

static bool tags_everywhere(void *ctx, struct simnet *net)
{
    for (uint32_t i = 0; i < simnet_count(net); i++) {
        struct gossip_member m;
        if (gossip_member_get(simnet_node(net, i)->g, "n1", &m)) return false;
        const char *v = gossip_member_tag(&m, "role");
        if (!v || strcmp(v, "consul") != 0) return false;
    }
    return true;
}

TEST(gossip_cluster, tag_updates_propagate)
{
    struct simnet *net = cluster(6, GOSSIP_PROFILE_LAN, NULL, 0);
    join_all(net);
    struct gossip_tag tags[] = {{"role", "consul"}, {"dc", "dc1"}, {"port", "8300"}};
    ASSERT_OK(simnet_set_tags(net, 1, tags, 3));
    /* gossip, or failing that the next push-pull (30 s) */
    ASSERT(simnet_run_while(net, simnet_now(net) + 65000, 20, tags_everywhere, NULL));
    for (uint32_t i = 0; i < 6; i++) ASSERT_EQ(1, O.changes[i][1][GOSSIP_MEMBER_UPDATE]);
    simnet_free(net);
}

TEST(gossip_cluster, partition_heals_through_reconnect)
{
    struct simnet *net = cluster(6, GOSSIP_PROFILE_LOCAL, NULL, 0);
    join_all(net);
    for (uint32_t i = 0; i < 6; i++) simnet_set_group(net, i, i < 3 ? 1 : 2);
    simnet_run_until(net, simnet_now(net) + 40000);
    ASSERT_EQ(GOSSIP_STATUS_FAILED, simnet_view(net, 0, 4));
    ASSERT_EQ(GOSSIP_STATUS_FAILED, simnet_view(net, 5, 1));
    ASSERT_EQ(GOSSIP_STATUS_ALIVE, simnet_view(net, 0, 1));
    simnet_heal(net);
    /* Serf's reconnect (every 30 s, probability failed/alive = 1 here) */
    ASSERT(simnet_run_while(net, simnet_now(net) + 120000, 100, converged, NULL));
    simnet_free(net);
}

static struct gossip_key key_of(uint8_t fill)
{
    struct gossip_key k = {.len = 32};
    memset(k.bytes, fill, 32);
    return k;
}

static bool keyres_done(void *ctx, struct simnet *net)
{
    return O.have_keyres;
}

TEST(gossip_cluster, encrypted_cluster_and_key_rotation)
{
    struct gossip_key k1 = key_of(1), k2 = key_of(2);
    struct simnet *net = cluster(5, GOSSIP_PROFILE_LAN, &k1, 1);
    join_all(net);
    struct gossip_stats st;
    gossip_stats(simnet_node(net, 0)->g, &st);
    ASSERT(st.encrypted);
    ASSERT_EQ(0, st.rejected_packets);

    /* install k2 everywhere */
    ASSERT_OK(simnet_key_op(net, 0, GOSSIP_KEY_INSTALL, &k2, false));
    ASSERT(simnet_run_while(net, simnet_now(net) + 10000, 10, keyres_done, NULL));
    ASSERT_EQ(5, O.keyres.num_nodes);
    ASSERT_EQ(5, O.keyres.num_resp);
    ASSERT_EQ(0, O.keyres.num_err);
    /* list: both keys on all five, k1 primary */
    O.have_keyres = false;
    ASSERT_OK(simnet_key_op(net, 2, GOSSIP_KEY_LIST, NULL, false));
    ASSERT(simnet_run_while(net, simnet_now(net) + 10000, 10, keyres_done, NULL));
    ASSERT_EQ(2, O.keyres.n_keys);
    ASSERT_EQ(5, O.keys[0].count);
    ASSERT_EQ(5, O.keys[1].count);
    ASSERT_EQ(1, O.keyres.n_primary);
    ASSERT_MEM_EQ(k1.bytes, O.primary[0].key.bytes, 32);
    /* use k2, then remove k1 */
    O.have_keyres = false;
    ASSERT_OK(simnet_key_op(net, 1, GOSSIP_KEY_USE, &k2, false));
    ASSERT(simnet_run_while(net, simnet_now(net) + 10000, 10, keyres_done, NULL));
    ASSERT_EQ(0, O.keyres.num_err);
    ASSERT_EQ(5, O.keyres.num_resp);
    O.have_keyres = false;
    ASSERT_OK(simnet_key_op(net, 1, GOSSIP_KEY_REMOVE, &k2, false)); /* primary: refused */
    ASSERT(simnet_run_while(net, simnet_now(net) + 10000, 10, keyres_done, NULL));
    ASSERT_EQ(5, O.keyres.num_err);
    ASSERT_EQ(CN_EIO, O.keyres.rc);
    ASSERT(O.keyres.n_messages >= 1);
    O.have_keyres = false;
    ASSERT_OK(simnet_key_op(net, 1, GOSSIP_KEY_REMOVE, &k1, false));
    ASSERT(simnet_run_while(net, simnet_now(net) + 10000, 10, keyres_done, NULL));
    ASSERT_EQ(0, O.keyres.num_err);
    for (uint32_t i = 0; i < 5; i++) {
        const struct gossip_key *keys;
        ASSERT_EQ(1, gossip_keyring(simnet_node(net, i)->g, &keys));
        ASSERT_MEM_EQ(k2.bytes, keys[0].bytes, 32);
    }
    /* still one healthy cluster after the rotation */
    simnet_run_until(net, simnet_now(net) + 10000);
    ASSERT(simnet_converged(net));
    simnet_free(net);
}

/* Serf refuses keyring queries on a member without encryption. */
TEST(gossip_cluster, keyring_operations_without_encryption_fail_everywhere)
{
    struct gossip_key k2 = key_of(2);
    struct simnet *net = cluster(3, GOSSIP_PROFILE_LOCAL, NULL, 0);
    join_all(net);
    ASSERT_OK(simnet_key_op(net, 0, GOSSIP_KEY_INSTALL, &k2, false));
    ASSERT(simnet_run_while(net, simnet_now(net) + 10000, 10, keyres_done, NULL));
    ASSERT_EQ(3, O.keyres.num_nodes);
    ASSERT_EQ(3, O.keyres.num_err);
    ASSERT_EQ(3, O.keyres.n_messages);
    ASSERT_STR_EQ("No keyring to modify (encryption not enabled)", O.message0);
    O.have_keyres = false;
    ASSERT_OK(simnet_key_op(net, 1, GOSSIP_KEY_LIST, NULL, false));
    ASSERT(simnet_run_while(net, simnet_now(net) + 10000, 10, keyres_done, NULL));
    ASSERT_EQ(3, O.keyres.num_err);
    ASSERT_EQ(0, O.keyres.n_keys);
    for (uint32_t i = 0; i < 3; i++) {
        const struct gossip_key *keys;
        ASSERT_EQ(0, gossip_keyring(simnet_node(net, i)->g, &keys));
    }
    simnet_free(net);
}

TEST(gossip_cluster, wrong_key_cannot_join_and_plaintext_is_refused)
{
    struct gossip_key k1 = key_of(1);
    struct simnet *net = cluster(3, GOSSIP_PROFILE_LOCAL, &k1, 1);
    join_all(net);
    /* a plaintext core knocks: its join (push-pull) is refused */
    struct gossip_config cfg;
    gossip_config_init(&cfg);
    cfg.name = "intruder";
    cfg.addr = (struct gossip_addr){.family = 4, .ip = {10, 9, 9, 9}, .port = 7946};
    struct cn_err err;
    struct gossip *x = gossip_new(&cfg, simnet_now(net), &err);
    struct gossip_update u;
    struct gossip_event ev = {.type = GOSSIP_EV_JOIN};
    ev.join.addrs = &simnet_node(net, 0)->addr;
    ev.join.n = 1;
    gossip_step(x, simnet_now(net), &ev, &u);
    ASSERT_EQ(1, u.n_streams);
    /* hand its frame to node 0 directly */
    struct gossip_event in = {.type = GOSSIP_EV_STREAM_IN};
    in.stream_in.conn = 99;
    in.stream_in.from = cfg.addr;
    in.stream_in.data = u.streams[0].data;
    in.stream_in.len = u.streams[0].len;
    struct gossip *g0 = simnet_node(net, 0)->g;
    struct gossip_update u0;
    gossip_step(g0, simnet_now(net), &in, &u0);
    ASSERT_EQ(1, u0.n_replies);
    ASSERT_EQ(0, u0.replies[0].len); /* hung up on */
    gossip_done(g0, &u0);
    /* and its plaintext packets change nothing */
    struct gossip_update u1;
    struct gossip_event pk = {.type = GOSSIP_EV_PACKET};
    uint8_t plain[64];
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_buf_putc(&b, G_HDR_PLAIN);
    struct gmsg_accuse d = {9, cn_str_from("n1"), cn_str_from("intruder")};
    gw_accuse(&b, GMSG_DEAD, &d);
    memcpy(plain, b.data, b.len);
    pk.packet.data = plain;
    pk.packet.len = b.len;
    gossip_step(g0, simnet_now(net), &pk, &u1);
    gossip_done(g0, &u1);
    ASSERT_EQ(GOSSIP_STATUS_ALIVE, simnet_view(net, 0, 1));
    gossip_done(x, &u);
    gossip_free(x);
    cn_buf_release(&b);
    simnet_free(net);
}

/* Node 1 and node 2 cannot hear each other at all; the others can. */
static double cut_pair(void *ctx, uint32_t a, uint32_t b)
{
    return ((a == 1 && b == 2) || (a == 2 && b == 1)) ? 1.0 : 0.0;
}

TEST(gossip_cluster, indirect_probes_keep_a_reachable_member_alive)
{
    memset(&O, 0, sizeof O);
    struct simnet_config cfg = {.seed = cn_test_seed(), .lat_min_ms = 1, .lat_max_ms = 5};
    gossip_timing_default(&cfg.timing, GOSSIP_PROFILE_LOCAL);
    cfg.timing.disable_tcp_pings = true; /* indirect probes alone must do it */
    cfg.hooks = (struct simnet_hooks){.change = on_change, .loss = cut_pair};
    struct simnet *net = simnet_new(&cfg);
    for (int i = 0; i < 6; i++) simnet_add(net);
    join_all(net);
    simnet_run_until(net, simnet_now(net) + 60000);
    for (uint32_t i = 0; i < 6; i++)
        for (uint32_t j = 0; j < 6; j++) ASSERT_EQ(0, O.changes[i][j][GOSSIP_MEMBER_FAILED]);
    ASSERT(simnet_converged(net));
    simnet_free(net);
}

/* Two sites 40 ms apart (one way), 2 ms inside a site. */
static uint32_t two_sites(void *ctx, uint32_t a, uint32_t b)
{
    return (a < 4) == (b < 4) ? 2 : 40;
}

TEST(gossip_cluster, vivaldi_coordinates_learn_the_topology)
{
    struct simnet_config cfg = {.seed = cn_test_seed()};
    gossip_timing_default(&cfg.timing, GOSSIP_PROFILE_LOCAL);
    cfg.coordinates = true;
    cfg.hooks = (struct simnet_hooks){.latency = two_sites};
    struct simnet *net = simnet_new(&cfg);
    for (int i = 0; i < 8; i++) simnet_add(net);
    join_all(net);
    simnet_run_until(net, simnet_now(net) + 300000);
    struct gossip_coord c[8];
    for (int i = 0; i < 8; i++) ASSERT(gossip_coord_self(simnet_node(net, i)->g, &c[i]));
    double near = 0, far = 0;
    int nn = 0, nf = 0;
    for (int i = 0; i < 8; i++)
        for (int j = i + 1; j < 8; j++) {
            double d = gossip_coord_distance(&c[i], &c[j]);
            if ((i < 4) == (j < 4)) {
                near += d;
                nn++;
            } else {
                far += d;
                nf++;
            }
        }
    near /= nn;
    far /= nf;
    /* true RTTs: 4 ms near, 80 ms far */
    if (!(far > 0.060 && far < 0.100 && near < 0.020))
        FAIL("estimated near %.4f s, far %.4f s", near, far);
    for (int i = 0; i < 8; i++) ASSERT(c[i].error < 0.5);
    /* others' coordinates were learnt from acks */
    struct gossip_coord other;
    ASSERT(gossip_coord_get(simnet_node(net, 0)->g, "n5", &other));
    simnet_free(net);
}
