/*
 * test.h - cairn's small test runner (libuv/munit-shaped).
 *
 *   TEST(kv, cas_zero_creates_once) { ASSERT_EQ(1, 1); }
 *
 * Tests register themselves at load time; main() (in test.c) runs each in a
 * forked child with a timeout, so a crash or hang fails one test, not the run.
 * Output is one line per test and a closing "N passed, N failed" line that the
 * suite runner and CI read. CN_TEST_SEED fixes the seed tests draw from;
 * CN_TEST_TIMEOUT (seconds) changes the per-test limit; an argument filters
 * tests by substring of "suite.name".
 */
#ifndef CN_TEST_H
#define CN_TEST_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*cn_test_fn)(void);
void cn_test_register(const char *suite, const char *name, cn_test_fn fn);
/* The run's seed (from CN_TEST_SEED or the clock, printed on failure). */
uint64_t cn_test_seed(void);
/* A scratch directory unique to the running test, removed afterwards. */
const char *cn_test_tmpdir(void);
__attribute__((noreturn, format(printf, 3, 4))) void cn_test_fail(const char *file, int line,
                                                                   const char *fmt, ...);

#define TEST(suite, name)                                                              \
    static void test_##suite##_##name(void);                                           \
    __attribute__((constructor)) static void reg_##suite##_##name(void)               \
    {                                                                                  \
        cn_test_register(#suite, #name, test_##suite##_##name);                        \
    }                                                                                  \
    static void test_##suite##_##name(void)

#define FAIL(...) cn_test_fail(__FILE__, __LINE__, __VA_ARGS__)

#define ASSERT(cond)                                                                   \
    do {                                                                               \
        if (!(cond)) FAIL("assertion failed: %s", #cond);                              \
    } while (0)

#define ASSERT_EQ(expected, actual)                                                    \
    do {                                                                               \
        long long e_ = (long long)(expected), a_ = (long long)(actual);                \
        if (e_ != a_) FAIL("%s == %s: expected %lld, got %lld", #expected, #actual, e_, a_); \
    } while (0)

#define ASSERT_NE(a, b)                                                                \
    do {                                                                               \
        long long a_ = (long long)(a), b_ = (long long)(b);                            \
        if (a_ == b_) FAIL("%s != %s: both are %lld", #a, #b, a_);                     \
    } while (0)

#define ASSERT_U64_EQ(expected, actual)                                                \
    do {                                                                               \
        uint64_t e_ = (expected), a_ = (actual);                                       \
        if (e_ != a_)                                                                  \
            FAIL("%s == %s: expected %" PRIu64 ", got %" PRIu64, #expected, #actual, e_, a_); \
    } while (0)

#define ASSERT_OK(expr)                                                                \
    do {                                                                               \
        long long r_ = (long long)(expr);                                              \
        if (r_ != 0) FAIL("%s: expected success, got %lld", #expr, r_);                \
    } while (0)

#define ASSERT_STR_EQ(expected, actual)                                                \
    do {                                                                               \
        const char *e_ = (expected), *a_ = (actual);                                   \
        if (!e_ || !a_ || strcmp(e_, a_) != 0)                                         \
            FAIL("%s == %s:\n  expected \"%s\"\n  got      \"%s\"", #expected, #actual, \
                 e_ ? e_ : "(null)", a_ ? a_ : "(null)");                              \
    } while (0)

#define ASSERT_MEM_EQ(expected, actual, n)                                             \
    do {                                                                               \
        if (memcmp((expected), (actual), (n)) != 0)                                    \
            FAIL("%s == %s: %zu bytes differ", #expected, #actual, (size_t)(n));       \
    } while (0)

#endif
