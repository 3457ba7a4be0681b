/*
 * fuzz_gossip_msg - hostile bytes into the gossip core: as a UDP datagram,
 * as an accepted stream frame (push-pull merges), into an encrypted core,
 * and through every message decoder directly. The first input byte picks
 * the path. Invariants are checked after each input; the cores are rebuilt
 * every few thousand inputs so fuzz-made members don't pile up.
 */
#include <stdint.h>
#include <string.h>

#include "gossip/gossip_int.h"
#include "lib/cn_err.h"

static struct gossip *plain, *sealed;
static uint64_t now_ms, runs;

static struct gossip *make(const char *name, bool keyed)
{
    struct gossip_config cfg;
    gossip_config_init(&cfg);
    cfg.name = name;
    cfg.addr = (struct gossip_addr){.family = 4, .ip = {10, 0, 0, 1}, .port = 7946};
    gossip_timing_default(&cfg.timing, GOSSIP_PROFILE_LAN);
    static const struct gossip_key k = {.len = 16, .bytes = "0123456789abcdef"};
    if (keyed) {
        cfg.keys = &k;
        cfg.n_keys = 1;
    }
    cn_rand_seed(&cfg.rng, 1);
    struct cn_err err;
    struct gossip *g = gossip_new(&cfg, now_ms, &err);
    if (!g) __builtin_trap();
    return g;
}

static void step(struct gossip *g, struct gossip_event *ev)
{
    struct gossip_update u;
    (void)gossip_step(g, now_ms, ev, &u);
    gossip_done(g, &u);
    gossip_check_invariants(g);
}

static void decoders(const uint8_t *data, size_t size)
{
    struct cn_str s = {(const char *)data, size};
    struct gmsg_ping p;
    struct gmsg_ind_ping ip;
    struct gmsg_ack a;
    struct gmsg_accuse acc;
    struct gmsg_alive al;
    struct gmsg_user u;
    struct gmsg_leave l;
    struct gmsg_query q;
    struct gmsg_query_resp qr;
    uint32_t seq;
    (void)gr_ping(s, &p);
    (void)gr_ind_ping(s, &ip);
    (void)gr_ack(s, &a);
    (void)gr_nack(s, &seq);
    (void)gr_accuse(s, &acc);
    (void)gr_alive(s, &al);
    (void)gr_user(s, &u);
    (void)gr_leave(s, &l);
    (void)gr_query(s, &q);
    (void)gr_query_resp(s, &qr);
    struct gossip_tag tags[GOSSIP_TAG_PAIRS_MAX];
    char strings[GOSSIP_TAGS_MAX + 2 * GOSSIP_TAG_PAIRS_MAX + 2];
    size_t n;
    if (size <= GOSSIP_TAGS_MAX) (void)gw_tags_parse(s, tags, GOSSIP_TAG_PAIRS_MAX, strings, &n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!plain || ++runs % 4096 == 0) {
        gossip_free(plain);
        gossip_free(sealed);
        plain = make("fuzz", false);
        sealed = make("fuzz-sealed", true);
    }
    if (size == 0) return 0;
    uint8_t mode = data[0] % 5;
    data++;
    size--;
    now_ms += 37;
    struct gossip_addr from = {.family = 4, .ip = {10, 0, 0, 2}, .port = 7946};
    struct gossip_event ev = {.type = GOSSIP_EV_PACKET};
    ev.packet.from = from;
    switch (mode) {
    case 0:
    case 3:
        ev.packet.data = data;
        ev.packet.len = size;
        step(mode == 0 ? plain : sealed, &ev);
        break;
    case 1:
        ev.type = GOSSIP_EV_STREAM_IN;
        ev.stream_in.conn = runs;
        ev.stream_in.from = from;
        ev.stream_in.data = data;
        ev.stream_in.len = size;
        step(plain, &ev);
        break;
    case 2:
        decoders(data, size);
        break;
    case 4: {
        /* time passes: probes, suspicion timeouts, reaping of what came in */
        struct gossip_event tick = {.type = GOSSIP_EV_TICK};
        now_ms += 1000u * (size ? data[0] : 1);
        step(plain, &tick);
        break;
    }
    }
    return 0;
}
