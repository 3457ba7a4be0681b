#include "lib/cn_buf.h"

#include <stdio.h>
#include <string.h>

#include "lib/cn_err.h"

void cn_buf_init(struct cn_buf *b, size_t cap_max)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap_max = cap_max;
}

void cn_buf_release(struct cn_buf *b)
{
    free(b->data);
    cn_buf_init(b, b->cap_max);
}

void cn_buf_reset(struct cn_buf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

char *cn_buf_take(struct cn_buf *b, size_t *len)
{
    char *p = b->data;
    if (len) *len = b->len;
    if (!p) p = cn_calloc(1, 1);
    cn_buf_init(b, b->cap_max);
    return p;
}

int cn_buf_reserve(struct cn_buf *b, size_t n, char **at)
{
    size_t need;
    if (n > b->cap_max - b->len) return CN_ETOOBIG;
    need = b->len + n + 1;
    if (need > b->alloc) {
        size_t a = b->alloc ? b->alloc : 64;
        while (a < need) a = a < (SIZE_MAX / 2) ? a * 2 : need;
        b->data = cn_realloc(b->data, a);
        b->alloc = a;
    }
    if (at) *at = b->data + b->len;
    return 0;
}

int cn_buf_append(struct cn_buf *b, const void *p, size_t n)
{
    char *at;
    int rc = cn_buf_reserve(b, n, &at);
    if (rc) return rc;
    if (n) memcpy(at, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int cn_buf_append_str(struct cn_buf *b, const char *s)
{
    return cn_buf_append(b, s, strlen(s));
}

int cn_buf_append_byte(struct cn_buf *b, char c)
{
    return cn_buf_append(b, &c, 1);
}

int cn_buf_vprintf(struct cn_buf *b, const char *fmt, va_list ap)
{
    char small[256], *at;
    va_list cp;
    int n, rc;
    va_copy(cp, ap);
    n = vsnprintf(small, sizeof small, fmt, cp);
    va_end(cp);
    if (n < 0) return CN_EINVAL;
    if ((size_t)n < sizeof small) return cn_buf_append(b, small, (size_t)n);
    rc = cn_buf_reserve(b, (size_t)n, &at);
    if (rc) return rc;
    vsnprintf(at, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int cn_buf_printf(struct cn_buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = cn_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void cn_buf_consume(struct cn_buf *b, size_t n)
{
    if (n >= b->len) {
        cn_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

void cn_buf_put(struct cn_buf *b, const void *p, size_t n)
{
    if (cn_buf_append(b, p, n)) CN_BUG("cn_buf_put past cap %zu", b->cap_max);
}

void cn_buf_puts(struct cn_buf *b, const char *s)
{
    cn_buf_put(b, s, strlen(s));
}

void cn_buf_putc(struct cn_buf *b, char c)
{
    if (CN_LIKELY(b->len + 2 <= b->alloc)) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
        return;
    }
    cn_buf_put(b, &c, 1);
}

void cn_buf_putf(struct cn_buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = cn_buf_vprintf(b, fmt, ap);
    va_end(ap);
    if (rc) CN_BUG("cn_buf_putf past cap %zu", b->cap_max);
}
