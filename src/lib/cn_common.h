/*
 * cn_common.h - assertions, allocation and small macros every module uses.
 *
 * Out of memory aborts: a daemon has no useful recovery, and the real defence
 * is a hard limit on every input, queue and buffer (lib/cn_limits.h).
 * CN_ASSERT stays on in release builds (TigerStyle): a broken invariant must
 * stop the process before it corrupts replicated state.
 */
#ifndef CN_COMMON_H
#define CN_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CN_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define CN_MIN(a, b) ((a) < (b) ? (a) : (b))
#define CN_MAX(a, b) ((a) > (b) ? (a) : (b))
#define CN_CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#define CN_LIKELY(x) __builtin_expect(!!(x), 1)
#define CN_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define CN_UNUSED(x) ((void)(x))
#define CN_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define CN_NORETURN __attribute__((noreturn))
#define CN_MUST_USE __attribute__((warn_unused_result))

CN_NORETURN void cn__assert_fail(const char *expr, const char *file, int line);
CN_NORETURN CN_PRINTF(3, 4) void cn__bug(const char *file, int line, const char *fmt, ...);
bool cn__never(const char *expr, const char *file, int line);

#define CN_ASSERT(e) (CN_LIKELY(e) ? (void)0 : cn__assert_fail(#e, __FILE__, __LINE__))
#define CN_BUG(...) cn__bug(__FILE__, __LINE__, __VA_ARGS__)
/* Defensive checks (sqlite's NEVER/ALWAYS): abort in debug builds, report and
 * take the safe branch in release. */
#define CN_NEVER(e) (CN_UNLIKELY(e) ? cn__never(#e, __FILE__, __LINE__) : false)
#define CN_ALWAYS(e) (!CN_NEVER(!(e)))

void *cn_malloc(size_t n);
void *cn_calloc(size_t count, size_t size);
void *cn_realloc(void *p, size_t n);
char *cn_strdup(const char *s);
char *cn_strndup(const char *s, size_t n);
void *cn_memdup(const void *p, size_t n);
#define cn_free free
#include <stdlib.h>

#define CN_NEW(type) ((type *)cn_calloc(1, sizeof(type)))

#endif
