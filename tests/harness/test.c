#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TESTS_MAX 4096

struct test {
    const char *suite, *name;
    cn_test_fn fn;
};

static struct test tests[TESTS_MAX];
static int ntests;
static uint64_t seed;
static char tmpdir[256];

void cn_test_register(const char *suite, const char *name, cn_test_fn fn)
{
    if (ntests == TESTS_MAX) {
        fprintf(stderr, "too many tests\n");
        abort();
    }
    tests[ntests++] = (struct test){suite, name, fn};
}

uint64_t cn_test_seed(void)
{
    return seed;
}

const char *cn_test_tmpdir(void)
{
    return tmpdir;
}

void cn_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n    (CN_TEST_SEED=%" PRIu64 ")\n", seed);
    fflush(stderr);
    _exit(1);
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Run one test in a child; returns 0 when it passed. */
static int run_one(const struct test *t, int timeout_s, double *ms)
{
    double start = now_ms();
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cairn-test-%d-%s.%s", (int)getpid(), t->suite, t->name);
    mkdir(tmpdir, 0700);
    fflush(stdout);
    fflush(stderr);
    /* The child's stderr (logs, failure details) goes to a file that is
     * shown only when the test fails, so passing runs stay readable. */
    char errpath[300];
    snprintf(errpath, sizeof errpath, "%s.stderr", tmpdir);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        setpgid(0, 0);
        alarm((unsigned)timeout_s);
        t->fn();
        fflush(stdout);
        _exit(0);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    kill(-pid, SIGKILL); /* helpers the test forked */
    *ms = now_ms() - start;
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok || getenv("CN_TEST_VERBOSE")) {
        /* the last 64 KiB of what the test wrote */
        FILE *f = fopen(errpath, "r");
        if (f) {
            char buf[4096];
            size_t n;
            fseek(f, 0, SEEK_END);
            long size = ftell(f);
            fseek(f, size > 65536 ? size - 65536 : 0, SEEK_SET);
            while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stderr);
            fclose(f);
        }
    }
    unlink(errpath);
    if (ok) return 0;
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        fprintf(stderr, "    %s (CN_TEST_SEED=%" PRIu64 ")\n",
                sig == SIGALRM ? "timed out" : strsignal(sig), seed);
    }
    return 1;
}

int main(int argc, char **argv)
{
    const char *filter = NULL;
    int timeout_s = 60, passed = 0, failed = 0, n = 0;
    char full[256];
    bool list = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--list"))
            list = true;
        else
            filter = argv[i];
    }
    if (getenv("CN_TEST_TIMEOUT")) timeout_s = atoi(getenv("CN_TEST_TIMEOUT"));
    if (getenv("CN_TEST_SEED")) {
        seed = strtoull(getenv("CN_TEST_SEED"), NULL, 10);
    } else {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        seed = (uint64_t)tv.tv_sec * 1000003u ^ (uint64_t)tv.tv_usec ^ (uint64_t)getpid();
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < ntests; i++) {
        double ms = 0;
        snprintf(full, sizeof full, "%s.%s", tests[i].suite, tests[i].name);
        if (filter && !strstr(full, filter)) continue;
        if (list) {
            printf("%s\n", full);
            continue;
        }
        n++;
        if (run_one(&tests[i], timeout_s, &ms) == 0) {
            passed++;
            printf("ok %d %s (%.0f ms)\n", n, full, ms);
        } else {
            failed++;
            printf("not ok %d %s (%.0f ms)\n", n, full, ms);
        }
    }
    if (!list) printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
