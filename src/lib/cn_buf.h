/*
 * cn_buf.h - a growable byte buffer with a hard cap (curl's dynbuf).
 *
 * Invariants: data is always NUL-terminated (data[len] == 0) once anything was
 * appended; len <= cap_max. An append that would pass cap_max fails with
 * CN_ETOOBIG and leaves the buffer unchanged, so a hostile peer can never
 * grow one past the limit it was created with. Memory is the buffer's own;
 * cn_buf_release frees it, cn_buf_take hands it to the caller.
 */
#ifndef CN_BUF_H
#define CN_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/cn_common.h"
#include "lib/cn_str.h"

struct cn_buf {
    char *data;
    size_t len;
    size_t alloc;
    size_t cap_max;
};

void cn_buf_init(struct cn_buf *b, size_t cap_max);
void cn_buf_release(struct cn_buf *b);
/* Keep the allocation, forget the contents. */
void cn_buf_reset(struct cn_buf *b);
/* Hand the bytes to the caller (who frees them); the buffer is reset. */
char *cn_buf_take(struct cn_buf *b, size_t *len);

CN_MUST_USE int cn_buf_append(struct cn_buf *b, const void *p, size_t n);
CN_MUST_USE int cn_buf_append_str(struct cn_buf *b, const char *s);
CN_MUST_USE int cn_buf_append_byte(struct cn_buf *b, char c);
CN_MUST_USE int cn_buf_printf(struct cn_buf *b, const char *fmt, ...) CN_PRINTF(2, 3);
CN_MUST_USE int cn_buf_vprintf(struct cn_buf *b, const char *fmt, va_list ap);
/* Ensure room for n more bytes (plus the NUL); returns a pointer to write at. */
CN_MUST_USE int cn_buf_reserve(struct cn_buf *b, size_t n, char **at);
/* Drop the first n bytes (for consumed input). */
void cn_buf_consume(struct cn_buf *b, size_t n);

/* Unlimited-buffer convenience for output built by the program itself: these
 * abort rather than fail, because hitting the cap there is a bug, not input. */
void cn_buf_put(struct cn_buf *b, const void *p, size_t n);
void cn_buf_puts(struct cn_buf *b, const char *s);
void cn_buf_putc(struct cn_buf *b, char c);
void cn_buf_putf(struct cn_buf *b, const char *fmt, ...) CN_PRINTF(2, 3);

static inline struct cn_str cn_buf_str(const struct cn_buf *b)
{
    return (struct cn_str){b->data ? b->data : "", b->len};
}

#define CN_BUF_UNLIMITED SIZE_MAX

#endif
