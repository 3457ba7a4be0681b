/* The wire codec and the API surface: configuration checks, bootstrap,
 * restore, buffers. */
#include <string.h>

#include "lib/cn_buf.h"
#include "lib/cn_err.h"
#include "raft/raft.h"
#include "test.h"

static struct raft_config conf3(void)
{
    return (struct raft_config){.n = 3,
                                .servers = {{1, RAFT_VOTER}, {2, RAFT_VOTER}, {3, RAFT_LEARNER}}};
}

static size_t encode(const struct raft_msg *m, struct cn_buf *b)
{
    cn_buf_reset(b);
    raft_msg_encode(m, b);
    return b->len;
}

static void samples(struct raft_msg *out, int *n, struct raft_entry *ents, struct raft_config *c)
{
    static const char *data[] = {"alpha", "", "gamma"};
    for (int i = 0; i < 3; i++)
        ents[i] = (struct raft_entry){.term = 3 + (raft_term)i / 2,
                                      .type = RAFT_ENTRY_NORMAL,
                                      .len = (uint32_t)strlen(data[i]),
                                      .data = (const uint8_t *)data[i]};
    int k = 0;
    struct raft_msg m = {.from = 1, .to = 2, .term = 5};
    m.type = RAFT_MSG_APPEND;
    m.append = (struct raft_msg_append){
        .prev_index = 9, .prev_term = 2, .commit = 8, .n_entries = 3, .entries = ents};
    out[k++] = m;
    m.type = RAFT_MSG_APPEND_RESP;
    m.append_resp = (struct raft_msg_append_resp){true, 11, 7, 2};
    out[k++] = m;
    m.type = RAFT_MSG_VOTE;
    m.vote = (struct raft_msg_vote){12, 4, true};
    out[k++] = m;
    m.type = RAFT_MSG_PREVOTE;
    m.vote = (struct raft_msg_vote){12, 4, false};
    out[k++] = m;
    m.type = RAFT_MSG_VOTE_RESP;
    m.vote_resp.granted = true;
    out[k++] = m;
    m.type = RAFT_MSG_PREVOTE_RESP;
    out[k++] = m;
    m.type = RAFT_MSG_HEARTBEAT;
    m.hb = (struct raft_msg_heartbeat){7, 99, 123456789};
    out[k++] = m;
    m.type = RAFT_MSG_HEARTBEAT_RESP;
    m.hb_resp = (struct raft_msg_heartbeat_resp){99, 123456789, 7};
    out[k++] = m;
    m.type = RAFT_MSG_SNAPSHOT;
    m.snap = (struct raft_msg_snapshot){.index = 40,
                                        .snap_term = 4,
                                        .conf = c,
                                        .offset = 1 << 20,
                                        .last = true,
                                        .len = 4,
                                        .data = (const uint8_t *)"snap"};
    out[k++] = m;
    m.type = RAFT_MSG_SNAPSHOT_RESP;
    m.snap_resp = (struct raft_msg_snapshot_resp){40, 5000, true};
    out[k++] = m;
    m.type = RAFT_MSG_TIMEOUT_NOW;
    out[k++] = m;
    *n = k;
}

TEST(codec, every_message_type_round_trips)
{
    struct raft_msg ms[16];
    struct raft_entry ents[3];
    struct raft_config c = conf3();
    int n;
    samples(ms, &n, ents, &c);
    struct cn_buf b, b2;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_buf_init(&b2, CN_BUF_UNLIMITED);
    for (int i = 0; i < n; i++) {
        encode(&ms[i], &b);
        struct raft_msg d;
        ASSERT_OK(raft_msg_decode(b.data, b.len, NULL, &d));
        ASSERT_EQ(ms[i].type, d.type);
        ASSERT_EQ(5, d.term);
        encode(&d, &b2);
        ASSERT_EQ(b.len, b2.len);
        ASSERT_MEM_EQ(b.data, b2.data, b.len);
        if (d.type == RAFT_MSG_APPEND) {
            ASSERT_EQ(3, d.append.n_entries);
            ASSERT_EQ(10, d.append.entries[0].index);
            ASSERT_EQ(12, d.append.entries[2].index);
            ASSERT_EQ(0, d.append.entries[1].len);
            ASSERT_MEM_EQ("gamma", d.append.entries[2].data, 5);
        }
        if (d.type == RAFT_MSG_SNAPSHOT) ASSERT_EQ(RAFT_LEARNER, d.snap.conf->servers[2].role);
        raft_msg_release(&d);
    }
    cn_buf_release(&b);
    cn_buf_release(&b2);
}

/* Decoding never reads past its input: every strict prefix is refused. */
TEST(codec, every_truncation_is_rejected)
{
    struct raft_msg ms[16];
    struct raft_entry ents[3];
    struct raft_config c = conf3();
    int n;
    samples(ms, &n, ents, &c);
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    for (int i = 0; i < n; i++) {
        size_t len = encode(&ms[i], &b);
        for (size_t cut = 0; cut < len; cut++) {
            struct raft_msg d;
            char *copy = malloc(cut ? cut : 1); /* exact size, so ASan sees overreads */
            memcpy(copy, b.data, cut);
            ASSERT_EQ(CN_ECORRUPT, raft_msg_decode(copy, cut, NULL, &d));
            free(copy);
        }
        /* and trailing bytes too */
        cn_buf_putc(&b, 0);
        struct raft_msg d;
        ASSERT_EQ(CN_ECORRUPT, raft_msg_decode(b.data, b.len, NULL, &d));
    }
    cn_buf_release(&b);
}

static int decode_after(const struct raft_msg *m, size_t at, uint8_t byte)
{
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    raft_msg_encode(m, &b);
    b.data[at] = (char)byte;
    struct raft_msg d;
    int rc = raft_msg_decode(b.data, b.len, NULL, &d);
    if (rc == 0) raft_msg_release(&d);
    cn_buf_release(&b);
    return rc;
}

TEST(codec, garbage_fields_are_rejected)
{
    struct raft_msg m = {.type = RAFT_MSG_HEARTBEAT, .from = 1, .to = 2, .term = 5};
    ASSERT_OK(decode_after(&m, 0, 1));
    ASSERT_EQ(CN_ECORRUPT, decode_after(&m, 0, 2));  /* version */
    ASSERT_EQ(CN_ECORRUPT, decode_after(&m, 1, 0));  /* type */
    ASSERT_EQ(CN_ECORRUPT, decode_after(&m, 1, 99)); /* type */
    ASSERT_EQ(CN_ECORRUPT, decode_after(&m, 3, 0));  /* from = 0 */
    ASSERT_EQ(CN_ECORRUPT, decode_after(&m, 4, 1));  /* to == from */
    /* an entry term above the message's term */
    struct raft_entry e = {.term = 9, .type = RAFT_ENTRY_NORMAL};
    struct raft_msg a = {.type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 5};
    a.append =
        (struct raft_msg_append){.prev_index = 1, .prev_term = 1, .n_entries = 1, .entries = &e};
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    raft_msg_encode(&a, &b);
    struct raft_msg d;
    ASSERT_EQ(CN_ECORRUPT, raft_msg_decode(b.data, b.len, NULL, &d));
    /* terms going backwards */
    struct raft_entry two[2] = {{.term = 4, .type = 1}, {.term = 3, .type = 1}};
    a.append.entries = two;
    a.append.n_entries = 2;
    cn_buf_reset(&b);
    raft_msg_encode(&a, &b);
    ASSERT_EQ(CN_ECORRUPT, raft_msg_decode(b.data, b.len, NULL, &d));
    /* a bad entry type, a bad bool */
    struct raft_entry bad = {.term = 4, .type = 7};
    a.append.entries = &bad;
    a.append.n_entries = 1;
    cn_buf_reset(&b);
    raft_msg_encode(&a, &b);
    ASSERT_EQ(CN_ECORRUPT, raft_msg_decode(b.data, b.len, NULL, &d));
    struct raft_msg v = {.type = RAFT_MSG_VOTE_RESP, .from = 1, .to = 2, .term = 5};
    cn_buf_reset(&b);
    raft_msg_encode(&v, &b);
    b.data[b.len - 1] = 2;
    ASSERT_EQ(CN_ECORRUPT, raft_msg_decode(b.data, b.len, NULL, &d));
    /* a huge entry count is refused before anything is allocated */
    cn_buf_reset(&b);
    uint8_t hdr[] = {1, RAFT_MSG_APPEND, 5, 1, 2, 1, 1, 0, 0xff, 0xff, 0x03};
    cn_buf_put(&b, hdr, sizeof hdr);
    ASSERT_EQ(CN_ECORRUPT, raft_msg_decode(b.data, b.len, NULL, &d));
    cn_buf_release(&b);
}

/* One message, one encoding: padded varints are refused. */
TEST(codec, padded_varints_are_rejected)
{
    uint8_t ok[] = {1, RAFT_MSG_TIMEOUT_NOW, 5, 1, 2};
    uint8_t padded[] = {1, RAFT_MSG_TIMEOUT_NOW, 0x85, 0x00, 1, 2};
    struct raft_msg d;
    ASSERT_OK(raft_msg_decode(ok, sizeof ok, NULL, &d));
    ASSERT_EQ(CN_ECORRUPT, raft_msg_decode(padded, sizeof padded, NULL, &d));
}

TEST(codec, configurations_round_trip_and_reject_duplicates)
{
    struct raft_config c = conf3(), d;
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    raft_config_encode(&c, &b);
    ASSERT_OK(raft_config_decode(b.data, b.len, &d));
    ASSERT_EQ(3, d.n);
    ASSERT_EQ(2, raft_config_voters(&d));
    ASSERT(raft_config_is_voter(&d, 2));
    ASSERT(!raft_config_is_voter(&d, 3));
    ASSERT(raft_config_get(&d, 4) == NULL);
    c.servers[2].id = 1;
    cn_buf_reset(&b);
    raft_config_encode(&c, &b);
    ASSERT_EQ(CN_ECORRUPT, raft_config_decode(b.data, b.len, &d));
    c.servers[2] = (struct raft_server){3, 9};
    cn_buf_reset(&b);
    raft_config_encode(&c, &b);
    ASSERT_EQ(CN_ECORRUPT, raft_config_decode(b.data, b.len, &d));
    cn_buf_release(&b);
}

/* ---- the API -------------------------------------------------------------- */

/* Consul's raft_multiplier scales every timing knob (docs/raft.md). */
TEST(api, timing_follows_the_multiplier)
{
    struct raft_cfg c;
    raft_cfg_defaults(&c, 1, 1, 0);
    ASSERT_EQ(500, c.election_ms);
    ASSERT_EQ(50, c.heartbeat_ms);
    ASSERT_EQ(450, c.lease_ms);
    raft_cfg_defaults(&c, 1, 5, 0);
    ASSERT_EQ(2500, c.election_ms);
    ASSERT_EQ(250, c.heartbeat_ms);
    ASSERT_EQ(2250, c.lease_ms);
    raft_cfg_defaults(&c, 1, 50, 0);
    ASSERT_EQ(5000, c.election_ms);
    ASSERT_EQ(16384, c.snapshot_threshold);
    ASSERT_EQ(10240, c.trailing_logs);
}

TEST(api, nonsense_configurations_are_refused)
{
    struct raft_cfg c;
    struct raft *r;
    raft_cfg_defaults(&c, 0, 1, 0);
    ASSERT_EQ(CN_EINVAL, raft_new(&c, &r));
    raft_cfg_defaults(&c, 1, 1, 0);
    c.lease_ms = c.election_ms;
    ASSERT_EQ(CN_EINVAL, raft_new(&c, &r));
    raft_cfg_defaults(&c, 1, 1, 0);
    c.heartbeat_ms = c.election_ms;
    ASSERT_EQ(CN_EINVAL, raft_new(&c, &r));
    raft_cfg_defaults(&c, 1, 1, 0);
    c.max_msg_entries = RAFT_MSG_ENTRIES_MAX + 1;
    ASSERT_EQ(CN_EINVAL, raft_new(&c, &r));
}

TEST(api, bootstrap_and_restore_checks)
{
    struct raft_cfg c;
    raft_cfg_defaults(&c, 1, 1, 0);
    struct raft *r;
    ASSERT_OK(raft_new(&c, &r));
    struct raft_config none = {0};
    ASSERT_EQ(CN_EINVAL, raft_bootstrap(r, &none));
    struct raft_config conf = conf3();
    ASSERT_OK(raft_bootstrap(r, &conf));
    ASSERT_EQ(CN_EEXIST, raft_bootstrap(r, &conf));
    ASSERT_EQ(1, raft_last_index(r));
    ASSERT_EQ(1, raft_term_of(r));
    raft_free(r);

    ASSERT_OK(raft_new(&c, &r));
    struct raft_entry gap[2] = {{.term = 1, .index = 1, .type = 2},
                                {.term = 1, .index = 3, .type = 2}};
    struct raft_restore rs = {.term = 1, .entries = gap, .n_entries = 2};
    ASSERT_EQ(CN_ECORRUPT, raft_restore(r, &rs));
    struct raft_entry back[2] = {{.term = 2, .index = 1, .type = 2},
                                 {.term = 1, .index = 2, .type = 2}};
    rs.entries = back;
    ASSERT_EQ(CN_ECORRUPT, raft_restore(r, &rs));
    struct raft_entry ok[2] = {{.term = 1, .index = 1, .type = 2},
                               {.term = 3, .index = 2, .type = 2}};
    rs.entries = ok;
    rs.term = 2; /* a crash kept the entries of term 3, not the hard state */
    ASSERT_OK(raft_restore(r, &rs));
    ASSERT_EQ(3, raft_term_of(r));
    raft_free(r);
}

TEST(api, messages_for_someone_else_are_refused)
{
    struct raft_cfg c;
    raft_cfg_defaults(&c, 1, 1, 0);
    struct raft *r;
    ASSERT_OK(raft_new(&c, &r));
    struct raft_msg m = {.type = RAFT_MSG_HEARTBEAT, .from = 2, .to = 3, .term = 1};
    ASSERT_EQ(CN_EINVAL,
              raft_step(r, 1, &(struct raft_event){.type = RAFT_EV_RECV, .recv = &m}, NULL));
    ASSERT_EQ(CN_EINVAL, raft_step(r, 1, &(struct raft_event){.type = 99}, NULL));
    raft_free(r);
}

/* An idle follower needs a tick only by its election deadline; a leader by
 * its next heartbeat. */
TEST(api, next_deadline)
{
    struct raft_cfg c;
    raft_cfg_defaults(&c, 1, 1, 7);
    struct raft *r;
    ASSERT_OK(raft_new(&c, &r));
    struct raft_config conf = {.n = 2, .servers = {{1, RAFT_VOTER}, {2, RAFT_VOTER}}};
    ASSERT_OK(raft_bootstrap(r, &conf));
    struct raft_update u;
    raft_step(r, 1000, &(struct raft_event){.type = RAFT_EV_TICK}, &u);
    raft_done(r, &u);
    uint64_t d = raft_next_deadline(r);
    ASSERT(d >= 1500 && d < 2000);
    raft_free(r);
}

static int freed;
static void count_free(struct raft_buf *b)
{
    (void)b;
    freed++;
}

TEST(api, buffers_are_refcounted)
{
    static char mem[8] = "abc";
    struct raft_buf *b = raft_buf_wrap(mem, 3, count_free, NULL);
    ASSERT(raft_buf_ref(b) == b);
    raft_buf_unref(b);
    ASSERT_EQ(0, freed);
    raft_buf_unref(b);
    ASSERT_EQ(1, freed);
    raft_buf_unref(NULL);
    ASSERT(raft_buf_ref(NULL) == NULL);
    struct raft_buf *c = raft_buf_copy("xyz", 3);
    ASSERT_MEM_EQ("xyz", c->data, 3);
    raft_buf_unref(c);
}

TEST(api, invariants_hold_on_a_fresh_core)
{
    struct raft_cfg c;
    raft_cfg_defaults(&c, 1, 1, 0);
    struct raft *r;
    ASSERT_OK(raft_new(&c, &r));
    char buf[128];
    ASSERT_OK(raft_check_invariants(r, buf, sizeof buf));
    ASSERT_STR_EQ("follower", raft_role_name(raft_role(r)));
    ASSERT_STR_EQ("timeout_now", raft_msg_type_name(RAFT_MSG_TIMEOUT_NOW));
    raft_free(r);
}
