/* The real thing: a writer process on the real file system, killed with
 * SIGKILL at random moments, many times over the same directory. The writer
 * reports what storage_durable() says is durable (and what it is about to
 * truncate) to the parent over a pipe; after each kill the parent reopens the
 * log and checks that every acknowledged entry is there, intact, with the
 * acknowledged term, and that every entry present is intact.
 *
 * CN_STORAGE_CRASH_ITERS and CN_STORAGE_CRASH_SECONDS bound the loop (default
 * 2000 kills or 15 s, whichever comes first). */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cn_rand.h"
#include "lib/cn_time.h"

#define SEG  (64 * 1024)
#define PMAX 300

struct msg {
    char kind; /* R ready, A ack (index, term), T truncating to (index, term), P prefix, H hard
                  state */
    uint64_t a, b;
};

static void send_msg(int fd, char kind, uint64_t a, uint64_t b)
{
    struct msg m = {kind, a, b};
    while (write(fd, &m, sizeof m) < 0 && errno == EINTR) {
    }
}

static CN_NORETURN void writer(const char *dir, int fd, uint64_t seed)
{
    struct cn_rand r;
    cn_rand_seed(&r, seed);
    struct storage_options o = {.dir = dir, .segment_size = SEG};
    struct storage *s;
    struct cn_err err;
    if (storage_open(&o, &s, &err)) {
        fprintf(stderr, "writer: open: %s\n", err.msg);
        _exit(3);
    }
    struct storage_hard_state hs;
    bool has;
    storage_hard_state(s, &hs, &has);
    uint64_t hs_term = has ? hs.term : 0, hs_seq = 0, hs_sent = 0, acked = 0;
    uint64_t term = storage_last_term(s) + cn_rand_below(&r, 2);
    if (!term) term = 1;
    send_msg(fd, 'R', storage_last_index(s), 0);
    for (;;) {
        uint64_t first = storage_first_index(s), last = storage_last_index(s);
        unsigned op = (unsigned)cn_rand_below(&r, 100);
        int rc = 0;
        if (op < 3 && last > first + 10) {
            uint64_t x = last - cn_rand_below(&r, 10), t;
            if (storage_term(s, x - 1, &t) == 0) {
                send_msg(fd, 'T', x - 1, t); /* before: the parent lowers its bar first */
                rc = storage_truncate_suffix(s, x);
                term++;
            }
        } else if (op < 5 && last > first + 3000) {
            uint64_t p = last - 2000;
            send_msg(fd, 'P', p, 0);
            rc = storage_truncate_prefix(s, p);
        } else if (op < 7) {
            hs_term++;
            struct storage_hard_state h = {hs_term, hs_term * 3, "x", 1};
            rc = storage_hard_state_set(s, &h, &hs_seq);
        } else {
            uint64_t from = last ? last + 1 : 1, n = 1 + cn_rand_below(&r, 16);
            rc = th_append(s, from, from + n - 1, term, PMAX);
            if (rc == CN_EAGAIN) rc = 0;
        }
        if (rc) {
            fprintf(stderr, "writer: op %u failed: %d\n", op, rc);
            _exit(4);
        }
        struct storage_durable d;
        storage_durable(s, &d);
        if (d.index != acked) {
            send_msg(fd, 'A', d.index, d.term);
            acked = d.index;
        }
        if (hs_seq && d.hard_state_seq >= hs_seq && hs_sent != hs_term) {
            send_msg(fd, 'H', hs_term, 0);
            hs_sent = hs_term;
        }
        if (cn_rand_below(&r, 16) == 0) usleep((unsigned)cn_rand_below(&r, 300));
    }
}

struct bar {
    uint64_t index, term, pfx, hs;
};

static void apply(struct bar *b, const struct msg *m)
{
    switch (m->kind) {
    case 'A':
        b->index = m->a;
        b->term = m->b;
        break;
    case 'T':
        if (b->index > m->a) {
            b->index = m->a;
            b->term = m->b;
        }
        break;
    case 'P':
        if (m->a > b->pfx) b->pfx = m->a;
        break;
    case 'H':
        b->hs = m->a;
        break;
    }
}

static void check(const char *dir, const struct bar *b, int iter)
{
    struct storage_options o = {.dir = dir, .segment_size = SEG};
    struct storage *s;
    struct cn_err err;
    cn_err_clear(&err);
    int rc = storage_open(&o, &s, &err);
    if (rc) FAIL("iteration %d: open after kill -9: %d %s", iter, rc, err.msg);
    uint64_t first = storage_first_index(s), last = storage_last_index(s), t;
    if (b->index) {
        if (last < b->index)
            FAIL("iteration %d: acknowledged %" PRIu64 " but the log ends at %" PRIu64, iter,
                 b->index, last);
        if (first > CN_MAX(b->pfx, 1))
            FAIL("iteration %d: log starts at %" PRIu64 " after prefix %" PRIu64, iter, first,
                 b->pfx);
        ASSERT_OK(storage_term(s, b->index, &t));
        if (t != b->term)
            FAIL("iteration %d: entry %" PRIu64 " has term %" PRIu64 ", acknowledged %" PRIu64,
                 iter, b->index, t, b->term);
    }
    th_check_log(s, PMAX); /* every entry present is intact */
    struct storage_hard_state hs;
    bool has;
    storage_hard_state(s, &hs, &has);
    if (b->hs && (!has || hs.term < b->hs))
        FAIL("iteration %d: hard state %" PRIu64 " < acknowledged %" PRIu64, iter,
             has ? hs.term : 0, b->hs);
    storage_close(s);
}

static uint64_t env_u64(const char *name, uint64_t def)
{
    const char *v = getenv(name);
    return v && *v ? strtoull(v, NULL, 10) : def;
}

TEST(crash, kill9_writer_at_random_points)
{
    char dir[STORAGE_PATH_MAX];
    snprintf(dir, sizeof dir, "%s/crash", cn_test_tmpdir());
    uint64_t iters = env_u64("CN_STORAGE_CRASH_ITERS", 2000);
    uint64_t budget = env_u64("CN_STORAGE_CRASH_SECONDS", 15) * CN_NS_PER_S;
    uint64_t t0 = cn_now_ns(), msgs = 0;
    struct cn_rand r;
    cn_rand_seed(&r, cn_test_seed());
    struct bar b = {0};
    uint64_t i = 0;
    for (; i < iters && cn_now_ns() - t0 < budget; i++) {
        int p[2];
        ASSERT_OK(pipe(p));
        pid_t pid = fork();
        ASSERT(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            writer(dir, p[1], cn_rand_u64(&r) ^ i);
        }
        close(p[1]);
        struct msg m;
        /* Mostly after the writer is running; sometimes during its recovery. */
        if (cn_rand_below(&r, 8)) {
            if (read(p[0], &m, sizeof m) != sizeof m) FAIL("writer died before ready");
            ASSERT_EQ('R', m.kind);
        }
        usleep((unsigned)cn_rand_below(&r, 6000));
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        if (!WIFSIGNALED(st)) FAIL("writer exited by itself (status %d)", st);
        while (read(p[0], &m, sizeof m) == sizeof m) {
            apply(&b, &m);
            msgs++;
        }
        close(p[0]);
        check(dir, &b, (int)i);
    }
    printf("    %" PRIu64 " kills, %" PRIu64 " messages, last acknowledged %" PRIu64 "\n", i, msgs,
           b.index);
    ASSERT(i >= 50);
    ASSERT(b.index > 0);
}
