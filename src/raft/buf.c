/* buf.c - refcounted payload buffers (canonical/raft: one buffer on its way to
 * disk and to N peers at once). Counts are atomic so an asynchronous WAL
 * writer may drop its references from another thread. */
#include "raft/raft.h"

#include <string.h>

#include "lib/cn_common.h"

enum { BUF_INLINE = 1 };

struct raft_buf *raft_buf_new(size_t len)
{
    struct raft_buf *b = cn_malloc(sizeof *b + (len ? len : 1));
    atomic_init(&b->refs, 1);
    b->flags = BUF_INLINE;
    b->len = len;
    b->data = (uint8_t *)(b + 1);
    b->free_fn = NULL;
    b->ctx = NULL;
    return b;
}

struct raft_buf *raft_buf_copy(const void *p, size_t len)
{
    struct raft_buf *b = raft_buf_new(len);
    if (len) memcpy(b->data, p, len);
    return b;
}

struct raft_buf *raft_buf_wrap(void *data, size_t len, void (*free_fn)(struct raft_buf *b),
                               void *ctx)
{
    struct raft_buf *b = cn_malloc(sizeof *b);
    atomic_init(&b->refs, 1);
    b->flags = 0;
    b->len = len;
    b->data = data;
    b->free_fn = free_fn;
    b->ctx = ctx;
    return b;
}

struct raft_buf *raft_buf_ref(struct raft_buf *b)
{
    if (b) atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

void raft_buf_unref(struct raft_buf *b)
{
    if (!b) return;
    unsigned prev = atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel);
    CN_ASSERT(prev > 0);
    if (prev != 1) return;
    if (b->free_fn) b->free_fn(b);
    cn_free(b);
}
