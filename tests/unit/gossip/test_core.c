/* One core fed crafted packets: the SWIM rules, Lifeguard's suspicion
 * timeouts, refutation, leave, reaping, force-leave and user events. */
#include <string.h>

#include "gossip/gossip_int.h"
#include "lib/cn_err.h"
#include "test.h"

struct seen {
    int n_changes;
    enum gossip_change_kind kind[64];
    char who[64][32];
    enum gossip_status status[64];
    int n_packets;
    struct gossip_addr to[64];
    uint8_t data[64][1500];
    size_t len[64];
    int n_events;
    char event[16][64];
    uint64_t next_wake;
    int rc;
    char err[CN_ERR_MSG_MAX];
};

static struct seen S;

static void collect(struct gossip *g, struct gossip_update *u)
{
    for (size_t i = 0; i < u->n_changes && S.n_changes < 64; i++) {
        S.kind[S.n_changes] = u->changes[i].kind;
        snprintf(S.who[S.n_changes], 32, "%s", u->changes[i].member.name);
        S.status[S.n_changes] = u->changes[i].member.status;
        S.n_changes++;
    }
    for (size_t i = 0; i < u->n_packets && S.n_packets < 64; i++) {
        S.to[S.n_packets] = u->packets[i].to;
        S.len[S.n_packets] = u->packets[i].len;
        memcpy(S.data[S.n_packets], u->packets[i].data, u->packets[i].len);
        S.n_packets++;
    }
    for (size_t i = 0; i < u->n_events && S.n_events < 16; i++)
        snprintf(S.event[S.n_events++], 64, "%.*s:%.*s", CN_STR_ARG(u->events[i].name),
                 CN_STR_ARG(u->events[i].payload));
    S.next_wake = u->next_wake_ms;
    snprintf(S.err, sizeof S.err, "%s", u->err.msg);
    gossip_done(g, u);
}

static int step(struct gossip *g, uint64_t now, const struct gossip_event *ev)
{
    struct gossip_update u;
    S.rc = gossip_step(g, now, ev, &u);
    collect(g, &u);
    return S.rc;
}

static void tick(struct gossip *g, uint64_t now)
{
    struct gossip_event ev = {.type = GOSSIP_EV_TICK};
    step(g, now, &ev);
}

/* Run ticks at every wake-up up to `until`. */
static void run(struct gossip *g, uint64_t from, uint64_t until)
{
    uint64_t t = from;
    tick(g, t);
    while (S.next_wake <= until) {
        t = S.next_wake > t ? S.next_wake : t + 1;
        tick(g, t);
    }
}

static struct gossip_addr addr(int i)
{
    struct gossip_addr a = {.family = 4, .ip = {10, 0, 0, (uint8_t)i}, .port = 7946};
    return a;
}

static struct gossip *core(const char *name, enum gossip_profile p)
{
    struct gossip_config cfg;
    gossip_config_init(&cfg);
    cfg.name = name;
    cfg.addr = addr(1);
    gossip_timing_default(&cfg.timing, p);
    cn_rand_seed(&cfg.rng, 7);
    struct gossip_tag tags[] = {{"role", "node"}, {"dc", "dc1"}};
    cfg.tags = tags;
    cfg.n_tags = 2;
    struct cn_err err;
    struct gossip *g = gossip_new(&cfg, 0, &err);
    if (!g) FAIL("gossip_new: %s", err.msg);
    memset(&S, 0, sizeof S);
    tick(g, 0);
    return g;
}

/* Deliver a plaintext packet holding the messages in b. */
static void feed(struct gossip *g, uint64_t now, struct cn_buf *b, int from)
{
    uint8_t pkt[4096];
    pkt[0] = G_HDR_PLAIN;
    memcpy(pkt + 1, b->data, b->len);
    struct gossip_event ev = {.type = GOSSIP_EV_PACKET};
    ev.packet.from = addr(from);
    ev.packet.data = pkt;
    ev.packet.len = b->len + 1;
    step(g, now, &ev);
    cn_buf_reset(b);
}

static void put_alive(struct cn_buf *b, const char *name, int ip, uint32_t inc, const char *role)
{
    struct gossip_tag tags[] = {{"role", role}};
    struct cn_buf t;
    struct cn_err err;
    cn_buf_init(&t, CN_BUF_UNLIMITED);
    CN_ASSERT(gw_tags_encode(tags, 1, &t, &err) == 0);
    struct gmsg_alive a = {.inc = inc, .node = cn_str_from(name), .addr = addr(ip),
                           .tags = cn_buf_str(&t)};
    memcpy(a.vsn, "\1\5\2\2\5\4", 6);
    gw_alive(b, &a);
    cn_buf_release(&t);
}

static void put_accuse(struct cn_buf *b, uint8_t type, const char *node, uint32_t inc,
                       const char *from)
{
    struct gmsg_accuse m = {inc, cn_str_from(node), cn_str_from(from)};
    gw_accuse(b, type, &m);
}

static int last_change(const char *who)
{
    for (int i = S.n_changes - 1; i >= 0; i--)
        if (strcmp(S.who[i], who) == 0) return (int)S.kind[i];
    return -1;
}

static struct gossip_member member(struct gossip *g, const char *name)
{
    struct gossip_member m;
    if (gossip_member_get(g, name, &m)) FAIL("no member %s", name);
    return m;
}

TEST(gossip_core, new_core_is_alone_alive_and_reports_itself)
{
    struct gossip *g = core("self", GOSSIP_PROFILE_LAN);
    ASSERT_EQ(1, S.n_changes);
    ASSERT_EQ(GOSSIP_MEMBER_JOIN, S.kind[0]);
    ASSERT_STR_EQ("self", S.who[0]);
    struct gossip_member m;
    gossip_self(g, &m);
    ASSERT_EQ(GOSSIP_STATUS_ALIVE, m.status);
    ASSERT_EQ(1, m.incarnation);
    ASSERT_STR_EQ("node", gossip_member_tag(&m, "role"));
    ASSERT_EQ(5, m.vsn[1]);
    ASSERT_EQ(1, gossip_num_members(g));
    run(g, 0, 10000);
    ASSERT_EQ(0, S.n_packets); /* nobody to talk to */
    gossip_check_invariants(g);
    gossip_free(g);
}

TEST(gossip_core, bad_configs_are_refused)
{
    struct gossip_config cfg;
    struct cn_err err;
    gossip_config_init(&cfg);
    cfg.addr = addr(1);
    ASSERT(gossip_new(&cfg, 0, &err) == NULL);
    ASSERT(strstr(err.msg, "node name") != NULL);
    cfg.name = "x";
    cfg.addr.port = 0;
    ASSERT(gossip_new(&cfg, 0, &err) == NULL);
    cfg.addr = addr(1);
    struct gossip_key k = {.len = 17};
    cfg.keys = &k;
    cfg.n_keys = 1;
    ASSERT(gossip_new(&cfg, 0, &err) == NULL);
    ASSERT(strstr(err.msg, "16, 24 or 32") != NULL);
}

TEST(gossip_core, alive_join_update_and_stale_incarnations)
{
    struct gossip *g = core("self", GOSSIP_PROFILE_LAN);
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    S.n_changes = 0;
    put_alive(&b, "a", 2, 1, "node");
    feed(g, 10, &b, 2);
    ASSERT_EQ(GOSSIP_MEMBER_JOIN, last_change("a"));
    ASSERT_EQ(2, gossip_num_members(g));
    S.n_changes = 0;
    put_alive(&b, "a", 2, 1, "node"); /* old news */
    feed(g, 20, &b, 2);
    ASSERT_EQ(0, S.n_changes);
    put_alive(&b, "a", 2, 3, "consul"); /* newer, tags changed */
    feed(g, 30, &b, 2);
    ASSERT_EQ(GOSSIP_MEMBER_UPDATE, last_change("a"));
    struct gossip_member m = member(g, "a");
    ASSERT_STR_EQ("consul", gossip_member_tag(&m, "role"));
    ASSERT_EQ(3, m.incarnation);
    S.n_changes = 0;
    put_alive(&b, "a", 2, 2, "node"); /* lower incarnation */
    feed(g, 40, &b, 2);
    ASSERT_EQ(0, S.n_changes);
    put_alive(&b, "a", 9, 4, "consul"); /* same name, another address, while alive */
    feed(g, 50, &b, 9);
    m = member(g, "a");
    ASSERT_EQ(2, m.addr.ip[3]);
    gossip_check_invariants(g);
    cn_buf_release(&b);
    gossip_free(g);
}

TEST(gossip_core, suspicion_times_out_to_failed)
{
    struct gossip *g = core("self", GOSSIP_PROFILE_LOCAL);
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    put_alive(&b, "a", 2, 1, "node");
    feed(g, 0, &b, 2);
    S.n_changes = 0;
    put_accuse(&b, GMSG_SUSPECT, "a", 1, "other");
    feed(g, 1000, &b, 3);
    struct gossip_member m = member(g, "a");
    ASSERT_EQ(GOSSIP_STATUS_ALIVE, m.status);
    ASSERT(m.suspect);
    /* n = 2: no confirmations expected, so the timeout is the minimum,
     * suspicion_mult(3) * max(1, log10(2)) * 1 s = 3 s. */
    ASSERT_U64_EQ(4000, g_susp_next(g));
    run(g, 1000, 3999);
    ASSERT_EQ(-1, last_change("a"));
    run(g, 3999, 4000);
    ASSERT_EQ(GOSSIP_MEMBER_FAILED, last_change("a"));
    ASSERT_EQ(GOSSIP_STATUS_FAILED, member(g, "a").status);
    /* back from the dead with a higher incarnation: a join */
    put_alive(&b, "a", 2, 2, "node");
    feed(g, 5000, &b, 2);
    ASSERT_EQ(GOSSIP_MEMBER_JOIN, last_change("a"));
    gossip_check_invariants(g);
    cn_buf_release(&b);
    gossip_free(g);
}

TEST(gossip_core, confirmations_shrink_the_timeout)
{
    struct gossip *g = core("self", GOSSIP_PROFILE_LAN);
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    char name[16];
    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof name, "m%d", i);
        put_alive(&b, name, 10 + i, 1, "node");
    }
    feed(g, 0, &b, 10);
    ASSERT_EQ(11, gossip_num_alive(g));
    /* n = 11: min = 4 * log10(11) s = 4.164 s (memberlist keeps 3 decimals of
     * the scale), max = 6 * min, k = 2. */
    uint64_t min = gossip_suspicion_min_ms(4, 11, 1000);
    ASSERT_U64_EQ(4164, min);
    put_accuse(&b, GMSG_SUSPECT, "m3", 1, "m1");
    feed(g, 100, &b, 11);
    ASSERT_U64_EQ(100 + 6 * min, g_susp_next(g));
    put_accuse(&b, GMSG_SUSPECT, "m3", 1, "m1"); /* same accuser: no change */
    feed(g, 200, &b, 11);
    ASSERT_U64_EQ(100 + 6 * min, g_susp_next(g));
    put_accuse(&b, GMSG_SUSPECT, "m3", 1, "m2"); /* one of two: max - log2/log3 (max - min) */
    feed(g, 300, &b, 12);
    uint64_t one = 100 + (uint64_t)(6 * min - 0.6309297535714574 * (5 * min));
    ASSERT(g_susp_next(g) >= one - 1 && g_susp_next(g) <= one + 1);
    put_accuse(&b, GMSG_SUSPECT, "m3", 1, "m4");
    feed(g, 400, &b, 14);
    ASSERT_U64_EQ(100 + min, g_susp_next(g));
    cn_buf_release(&b);
    gossip_free(g);
}

static bool sent_alive_about(const char *who, uint32_t *inc)
{
    for (int p = 0; p < S.n_packets; p++) {
        struct cn_dec d;
        cn_dec_init(&d, S.data[p] + 1, S.len[p] - 1);
        uint8_t type;
        struct cn_str body;
        while (gw_next(&d, &type, &body) == 1) {
            struct gmsg_alive a;
            if (type == GMSG_ALIVE && gr_alive(body, &a) == 0 && cn_str_eq(a.node, cn_str_from(who))) {
                *inc = a.inc;
                return true;
            }
        }
    }
    return false;
}

TEST(gossip_core, accusations_about_self_are_refuted)
{
    struct gossip *g = core("self", GOSSIP_PROFILE_LAN);
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    put_alive(&b, "a", 2, 1, "node");
    feed(g, 0, &b, 2);
    put_accuse(&b, GMSG_SUSPECT, "self", 1, "a");
    feed(g, 10, &b, 2);
    struct gossip_member me;
    gossip_self(g, &me);
    ASSERT_EQ(GOSSIP_STATUS_ALIVE, me.status);
    ASSERT_EQ(2, me.incarnation);
    struct gossip_stats st;
    gossip_stats(g, &st);
    ASSERT_EQ(1, st.refutes);
    ASSERT_EQ(1, st.health_score); /* refuting costs health */
    put_accuse(&b, GMSG_DEAD, "self", 7, "a"); /* a later incarnation: beat it */
    feed(g, 20, &b, 2);
    gossip_self(g, &me);
    ASSERT_EQ(8, me.incarnation);
    /* our refutation goes out with the next packets */
    S.n_packets = 0;
    run(g, 20, 3000);
    uint32_t inc = 0;
    ASSERT(sent_alive_about("self", &inc));
    ASSERT_EQ(8, inc);
    /* someone speaks for us with different tags at our incarnation: refute */
    put_alive(&b, "self", 1, 8, "impostor");
    feed(g, 3100, &b, 2);
    gossip_self(g, &me);
    ASSERT_EQ(9, me.incarnation);
    ASSERT_STR_EQ("node", gossip_member_tag(&me, "role"));
    gossip_check_invariants(g);
    cn_buf_release(&b);
    gossip_free(g);
}

TEST(gossip_core, left_reaped_and_force_leave)
{
    struct gossip *g = core("self", GOSSIP_PROFILE_LOCAL);
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    put_alive(&b, "a", 2, 1, "node");
    put_alive(&b, "b", 3, 1, "node");
    put_alive(&b, "c", 4, 1, "node");
    feed(g, 0, &b, 2);
    put_accuse(&b, GMSG_DEAD, "a", 1, "a"); /* a leaves */
    put_accuse(&b, GMSG_DEAD, "b", 1, "c"); /* b declared dead by c */
    feed(g, 100, &b, 4);
    ASSERT_EQ(GOSSIP_MEMBER_LEAVE, last_change("a"));
    ASSERT_EQ(GOSSIP_STATUS_LEFT, member(g, "a").status);
    ASSERT_EQ(GOSSIP_MEMBER_FAILED, last_change("b"));
    struct gossip_event fl = {.type = GOSSIP_EV_FORCE_LEAVE};
    fl.force_leave.name = cn_str_from("nobody");
    ASSERT_EQ(CN_ENOENT, step(g, 200, &fl));
    ASSERT(strstr(S.err, "nobody") != NULL);
    fl.force_leave.name = cn_str_from("b");
    ASSERT_OK(step(g, 200, &fl));
    ASSERT_EQ(GOSSIP_MEMBER_LEAVE, last_change("b"));
    ASSERT_EQ(GOSSIP_STATUS_LEFT, member(g, "b").status);
    fl.force_leave.prune = true;
    ASSERT_OK(step(g, 300, &fl));
    ASSERT_EQ(GOSSIP_MEMBER_REAP, last_change("b"));
    struct gossip_member m;
    ASSERT_EQ(CN_ENOENT, gossip_member_get(g, "b", &m));
    /* left members are reaped after the tombstone timeout (24 h here) */
    run(g, 300, 23ull * 3600 * 1000);
    ASSERT_EQ(GOSSIP_STATUS_LEFT, member(g, "a").status);
    run(g, 23ull * 3600 * 1000, 24ull * 3600 * 1000 + 20000);
    ASSERT_EQ(GOSSIP_MEMBER_REAP, last_change("a"));
    ASSERT_EQ(CN_ENOENT, gossip_member_get(g, "a", &m));
    gossip_check_invariants(g);
    cn_buf_release(&b);
    gossip_free(g);
}

TEST(gossip_core, pings_are_acked_to_their_source)
{
    struct gossip *g = core("self", GOSSIP_PROFILE_LAN);
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    struct gmsg_ping p = {.seq = 41, .target = cn_str_from("self"), .src_name = cn_str_from("x"),
                          .src = addr(5)};
    gw_ping(&b, &p);
    S.n_packets = 0;
    feed(g, 10, &b, 6);
    ASSERT_EQ(1, S.n_packets);
    ASSERT_EQ(5, S.to[0].ip[3]);
    struct cn_dec d;
    cn_dec_init(&d, S.data[0] + 1, S.len[0] - 1);
    uint8_t type;
    struct cn_str body;
    ASSERT_EQ(1, gw_next(&d, &type, &body));
    ASSERT_EQ(GMSG_ACK, type);
    struct gmsg_ack ack;
    ASSERT_OK(gr_ack(body, &ack));
    ASSERT_EQ(41, ack.seq);
    ASSERT(ack.has_coord);
    p.target = cn_str_from("someone-else"); /* a restart under another name */
    gw_ping(&b, &p);
    S.n_packets = 0;
    feed(g, 20, &b, 6);
    ASSERT_EQ(0, S.n_packets);
    cn_buf_release(&b);
    gossip_free(g);
}

TEST(gossip_core, unanswered_probe_suspects_and_hurts_health)
{
    struct gossip *g = core("self", GOSSIP_PROFILE_LAN);
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    put_alive(&b, "a", 2, 1, "node");
    feed(g, 0, &b, 2);
    run(g, 0, 2500); /* a probe, the indirect phase (no peers), the deadline */
    struct gossip_member m = member(g, "a");
    ASSERT(m.suspect);
    struct gossip_stats st;
    gossip_stats(g, &st);
    ASSERT(st.probes >= 1);
    ASSERT(st.probe_failures >= 1);
    ASSERT_EQ(1, st.health_score); /* nobody could nack: blame ourselves */
    cn_buf_release(&b);
    gossip_free(g);
}

TEST(gossip_core, user_events_limits_and_local_delivery)
{
    struct gossip *g = core("self", GOSSIP_PROFILE_LAN);
    struct gossip_event ev = {.type = GOSSIP_EV_USER_EVENT};
    ev.user.name = cn_str_from("deploy");
    ev.user.payload = cn_str_from("v1");
    ASSERT_OK(step(g, 10, &ev));
    ASSERT_EQ(1, S.n_events);
    ASSERT_STR_EQ("deploy:v1", S.event[0]);
    char big[600];
    memset(big, 'p', sizeof big);
    ev.user.payload = (struct cn_str){big, 507}; /* 6 + 507 > 512 */
    ASSERT_EQ(CN_ETOOBIG, step(g, 20, &ev));
    ASSERT_STR_EQ("user event exceeds configured limit of 512 bytes before encoding", S.err);
    ev.user.payload = (struct cn_str){big, 506}; /* fits raw, not encoded */
    ASSERT_EQ(CN_ETOOBIG, step(g, 30, &ev));
    ASSERT(strstr(S.err, "after encoding") != NULL);
    ev.user.payload = (struct cn_str){big, 490};
    ASSERT_OK(step(g, 40, &ev));
    ev.user.name = cn_str_from("");
    ASSERT_EQ(CN_EINVAL, step(g, 50, &ev));
    struct gossip_stats st;
    gossip_stats(g, &st);
    ASSERT_EQ(3, st.event_ltime); /* two events fired: 1 and 2 */
    gossip_free(g);
}

TEST(gossip_core, encryption_refuses_plaintext_and_garbage)
{
    struct gossip_config cfg;
    gossip_config_init(&cfg);
    cfg.name = "self";
    cfg.addr = addr(1);
    struct gossip_key k = {.len = 32};
    cfg.keys = &k;
    cfg.n_keys = 1;
    struct cn_err err;
    struct gossip *g = gossip_new(&cfg, 0, &err);
    ASSERT(g != NULL);
    memset(&S, 0, sizeof S);
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    put_alive(&b, "a", 2, 1, "node");
    feed(g, 10, &b, 2); /* plaintext */
    ASSERT_EQ(1, gossip_num_members(g));
    uint8_t junk[100] = {G_HDR_AESGCM};
    struct gossip_event ev = {.type = GOSSIP_EV_PACKET};
    ev.packet.from = addr(2);
    ev.packet.data = junk;
    ev.packet.len = sizeof junk;
    step(g, 20, &ev);
    struct gossip_stats st;
    gossip_stats(g, &st);
    ASSERT_EQ(2, st.rejected_packets);
    ASSERT(st.encrypted);
    cn_buf_release(&b);
    gossip_free(g);
}

static void put_key_query(struct cn_buf *b, uint64_t ltime, uint32_t id, enum gossip_key_op op,
                          const struct gossip_key *k)
{
    struct gmsg_query m = {.ltime = ltime, .id = id, .op = (uint8_t)op,
                           .origin = cn_str_from("origin"), .origin_addr = addr(9),
                           .key = {(const char *)k->bytes, k->len}};
    gw_query(b, &m);
}

/* A keyring query asked again (the origin's retry, a late gossip copy) is
 * answered again but not applied again: an install replayed after the
 * remove that followed it must not bring the key back. */
TEST(gossip_core, a_replayed_key_query_is_answered_not_applied_again)
{
    struct gossip_config cfg;
    gossip_config_init(&cfg);
    cfg.name = "self";
    cfg.addr = addr(1);
    cfg.verify_incoming = false; /* the test speaks plaintext */
    struct gossip_key k1 = {.len = 32}, k2 = {.len = 16};
    memset(k2.bytes, 2, 16);
    cfg.keys = &k1;
    cfg.n_keys = 1;
    struct cn_err err;
    struct gossip *g = gossip_new(&cfg, 0, &err);
    ASSERT(g != NULL);
    memset(&S, 0, sizeof S);
    const struct gossip_key *keys;
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    put_key_query(&b, 1, 7, GOSSIP_KEY_INSTALL, &k2);
    feed(g, 10, &b, 9);
    ASSERT_EQ(2, gossip_keyring(g, &keys));
    put_key_query(&b, 2, 8, GOSSIP_KEY_REMOVE, &k2);
    feed(g, 20, &b, 9);
    ASSERT_EQ(1, gossip_keyring(g, &keys));
    put_key_query(&b, 1, 7, GOSSIP_KEY_INSTALL, &k2); /* seconds later */
    S.n_packets = 0;
    feed(g, 5000, &b, 9);
    ASSERT_EQ(1, gossip_keyring(g, &keys));
    ASSERT(S.n_packets >= 1); /* answered again */
    cn_buf_release(&b);
    gossip_free(g);
}

TEST(gossip_core, tags_change_bumps_incarnation_and_notifies)
{
    struct gossip *g = core("self", GOSSIP_PROFILE_LAN);
    struct gossip_tag tags[] = {{"role", "consul"}, {"port", "8300"}};
    struct gossip_event ev = {.type = GOSSIP_EV_SET_TAGS};
    ev.tags.tags = tags;
    ev.tags.n = 2;
    S.n_changes = 0;
    ASSERT_OK(step(g, 10, &ev));
    ASSERT_EQ(GOSSIP_MEMBER_UPDATE, last_change("self"));
    struct gossip_member me;
    gossip_self(g, &me);
    ASSERT_EQ(2, me.incarnation);
    ASSERT_STR_EQ("8300", gossip_member_tag(&me, "port"));
    ASSERT(gossip_member_tag(&me, "dc") == NULL);
    struct gossip_tag dup[] = {{"a", "1"}, {"a", "2"}};
    ev.tags.tags = dup;
    ASSERT_EQ(CN_EINVAL, step(g, 20, &ev));
    gossip_check_invariants(g);
    gossip_free(g);
}

TEST(gossip_core, shared_records_between_cores)
{
    struct gossip_intern *in = gossip_intern_new();
    struct gossip *g[3];
    for (int i = 0; i < 3; i++) {
        struct gossip_config cfg;
        gossip_config_init(&cfg);
        char name[8];
        snprintf(name, sizeof name, "c%d", i);
        cfg.name = name;
        cfg.addr = addr(i + 1);
        cfg.intern = in;
        struct cn_err err;
        g[i] = gossip_new(&cfg, 0, &err);
        struct gossip_update u;
        struct gossip_event ev = {.type = GOSSIP_EV_TICK};
        gossip_step(g[i], 0, &ev, &u);
        gossip_done(g[i], &u);
    }
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    put_alive(&b, "shared", 9, 1, "node");
    for (int i = 0; i < 3; i++) {
        cn_buf_reset(&b);
        put_alive(&b, "shared", 9, 1, "node");
        feed(g[i], 10, &b, 9);
    }
    struct gossip_member m0, m2;
    ASSERT_OK(gossip_member_get(g[0], "shared", &m0));
    ASSERT_OK(gossip_member_get(g[2], "shared", &m2));
    ASSERT(m0.name == m2.name); /* one record */
    for (int i = 0; i < 3; i++) gossip_free(g[i]);
    gossip_intern_free(in);
    cn_buf_release(&b);
}
