#include "lib/cn_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cn__assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "cairn: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}

void cn__bug(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "cairn: BUG at %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

bool cn__never(const char *expr, const char *file, int line)
{
#ifndef NDEBUG
    cn__assert_fail(expr, file, line);
#else
    fprintf(stderr, "cairn: defensive check hit: %s (%s:%d)\n", expr, file, line);
    return true;
#endif
}

static void oom(size_t n)
{
    fprintf(stderr, "cairn: out of memory allocating %zu bytes\n", n);
    abort();
}

void *cn_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *cn_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) oom(count * size);
    return p;
}

void *cn_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *cn_strdup(const char *s)
{
    return cn_memdup(s, strlen(s) + 1);
}

char *cn_strndup(const char *s, size_t n)
{
    char *p = cn_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void *cn_memdup(const void *p, size_t n)
{
    void *q = cn_malloc(n);
    if (n) memcpy(q, p, n);
    return q;
}
