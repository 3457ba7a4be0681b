/* Power cuts in the fault VFS: random workloads (appends, syncs, truncations
 * of both ends, hard state) cut at random moments, each unsynced sector and
 * directory change kept or lost at random. After every cut the log must open
 * and hold everything that was reported durable, exactly, and nothing that
 * was never written. */
#include "helpers.h"

#include <time.h>
#include <unistd.h>

#include "lib/cn_rand.h"
#include "lib/cn_time.h"

#define SEG    (64 * 1024)
#define PMAX   300
#define MAXIDX 200000

struct model {
    uint64_t *term;         /* current lineage: term of each index */
    uint8_t *written;       /* bit t%8 set when (index, term) was ever written */
    uint64_t req, req_term; /* everything <= req is durable */
    uint64_t pfx;           /* a prefix truncation asked for entries < pfx to go */
    uint64_t hs_durable, hs_set;
    uint64_t term_now;
};

static void mark(struct model *m, uint64_t i, uint64_t t)
{
    m->term[i] = t;
    m->written[i] |= (uint8_t)(1u << (t % 8));
}

static void poll_durable(struct storage *s, struct model *m)
{
    struct storage_durable d;
    storage_durable(s, &d);
    if (d.index) {
        ASSERT_U64_EQ(m->term[d.index], d.term);
        m->req = d.index;
        m->req_term = d.term;
    }
    if (d.hard_state_seq) m->hs_durable = d.hard_state_seq;
}

/* Check the reopened log against the model, then adopt it. */
static void verify(struct storage *s, struct model *m)
{
    uint64_t first = storage_first_index(s), last = storage_last_index(s);
    if (m->req) {
        if (last < m->req) FAIL("lost durable entries: last %" PRIu64 " < %" PRIu64, last, m->req);
        if (first > CN_MAX(m->pfx, 1)) FAIL("first %" PRIu64 " > prefix %" PRIu64, first, m->pfx);
    }
    th_check_log(s, PMAX); /* payload of every entry matches its (index, term) */
    for (uint64_t i = first; last && i <= last; i++) {
        uint64_t t;
        ASSERT_OK(storage_term(s, i, &t));
        if (i <= m->req && t != m->term[i])
            FAIL("durable entry %" PRIu64 " has term %" PRIu64 ", not %" PRIu64, i, t, m->term[i]);
        if (!(m->written[i] & (1u << (t % 8))))
            FAIL("entry %" PRIu64 " term %" PRIu64 " was never written", i, t);
        m->term[i] = t;
    }
    struct storage_hard_state hs;
    bool has;
    storage_hard_state(s, &hs, &has);
    if (m->hs_durable && (!has || hs.term < m->hs_durable))
        FAIL("hard state %" PRIu64 " older than durable %" PRIu64, has ? hs.term : 0,
             m->hs_durable);
    if (has && hs.term > m->hs_set) FAIL("hard state from the future");
    if (has) ASSERT_U64_EQ(hs.term * 7, hs.vote);
    m->req = last;
    m->req_term = storage_last_term(s);
    m->hs_durable = has ? hs.term : 0;
    m->hs_set = m->hs_durable;
    if (storage_last_term(s) > m->term_now) m->term_now = storage_last_term(s);
}

static void workload(struct storage *s, struct model *m, struct cn_rand *r, int steps)
{
    for (int k = 0; k < steps; k++) {
        uint64_t first = storage_first_index(s), last = storage_last_index(s);
        unsigned op = (unsigned)cn_rand_below(r, 100);
        if (op < 6 && last > first + 2) {
            uint64_t x = last - cn_rand_below(r, CN_MIN(last - first, 40));
            ASSERT_OK(storage_truncate_suffix(s, x));
            if (m->req >= x) {
                m->req = x - 1;
                m->req_term = m->term[x - 1];
            }
            m->term_now++;
        } else if (op < 9 && last > 10) {
            uint64_t p = first + cn_rand_below(r, last - first);
            ASSERT_OK(storage_truncate_prefix(s, p));
            m->pfx = CN_MAX(m->pfx, p);
        } else if (op < 13) {
            m->hs_set++;
            struct storage_hard_state hs = {m->hs_set, m->hs_set * 7, "meta", 4};
            ASSERT_OK(storage_hard_state_set(s, &hs, NULL));
        } else if (op < 17) {
            ASSERT_OK(storage_sync(s));
        } else {
            uint64_t n = 1 + cn_rand_below(r, 12), from = last ? last + 1 : m->req + 1;
            if (!last && from < first) from = first;
            if (from + n >= MAXIDX) return;
            int rc = th_append(s, from, from + n - 1, m->term_now, PMAX);
            if (rc == CN_EINVAL && !last) { /* after a reset-like cut: the required next index */
                continue;
            }
            ASSERT_OK(rc);
            for (uint64_t i = from; i < from + n; i++)
                mark(m, i, m->term_now);
        }
        poll_durable(s, m);
        if (cn_rand_below(r, 6) == 0) usleep((unsigned)cn_rand_below(r, 400));
    }
}

static char last_refusal[CN_ERR_MSG_MAX];

static struct storage *reopen(struct storage_vfs *vfs, int *rc_out)
{
    struct storage_options o = {.dir = "/d", .vfs = vfs, .segment_size = SEG};
    struct storage *s = NULL;
    struct cn_err err;
    cn_err_clear(&err);
    *rc_out = storage_open(&o, &s, &err);
    if (*rc_out && *rc_out != CN_ECORRUPT) FAIL("open: %d %s", *rc_out, err.msg);
    if (*rc_out) snprintf(last_refusal, sizeof last_refusal, "%s", err.msg);
    return s;
}

static void run_powercuts(unsigned garble, int *cuts, int *refused, uint64_t budget_ns)
{
    struct cn_rand r;
    struct model m = {0};
    uint64_t t0 = cn_now_ns();
    cn_rand_seed(&r, cn_test_seed() ^ garble);
    m.term = cn_calloc(MAXIDX + 1, sizeof *m.term);
    m.written = cn_calloc(MAXIDX + 1, 1);
    for (int iter = 0; iter < 120 && cn_now_ns() - t0 < budget_ns; iter++) {
        struct storage_vfs *vfs = storage_fault_new();
        memset(m.term, 0, (MAXIDX + 1) * sizeof *m.term);
        memset(m.written, 0, MAXIDX + 1);
        m.req = m.req_term = m.pfx = m.hs_durable = m.hs_set = 0;
        m.term_now = 1;
        for (int life = 0; life < 4; life++) {
            int rc;
            struct storage *s = reopen(vfs, &rc);
            if (rc) {
                if (!garble)
                    FAIL("open refused after a plain power cut (iter %d): %s", iter, last_refusal);
                (*refused)++;
                break;
            }
            verify(s, &m);
            m.term_now++;
            workload(s, &m, &r, 20 + (int)cn_rand_below(&r, 80));
            unsigned keep[] = {0, 30, 70, 100};
            struct storage_crash_opts co = {cn_rand_u64(&r), keep[cn_rand_below(&r, 4)], garble};
            storage_fault_crash(vfs, &co);
            storage_close(s); /* its threads fail against the dead VFS */
            storage_fault_restart(vfs);
            (*cuts)++;
        }
        storage_fault_free(vfs);
    }
    cn_free(m.term);
    cn_free(m.written);
}

TEST(powercut, lost_and_torn_writes)
{
    int cuts = 0, refused = 0;
    run_powercuts(0, &cuts, &refused, 8 * CN_NS_PER_S);
    printf("    %d power cuts, all recovered\n", cuts);
    ASSERT(cuts >= 40);
}

/* Lost sectors that come back as garbage are not what a crash leaves on the
 * disks this log assumes (docs/storage.md): recovery may refuse, loudly, but
 * must never hand back wrong entries. */
TEST(powercut, garbled_sectors_never_yield_wrong_entries)
{
    int cuts = 0, refused = 0;
    run_powercuts(50, &cuts, &refused, 5 * CN_NS_PER_S);
    printf("    %d power cuts with garbage, %d refused loudly\n", cuts, refused);
    ASSERT(cuts >= 20);
}
