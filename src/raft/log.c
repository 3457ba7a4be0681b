/* log.c - the in-memory log: a contiguous deque of entries.
 *
 * Appends are amortised O(1); compaction from the front only advances off and
 * slides the live entries down once the dead prefix outgrows them, so runs of
 * entries stay contiguous and an update can hand out pointers into e[]
 * instead of copies. */
#include <string.h>

#include "raft/raft_int.h"

void raft__log_init(struct raft__log *l)
{
    memset(l, 0, sizeof *l);
    l->first = 1;
}

static void unref_range(struct raft__log *l, size_t from, size_t to)
{
    for (size_t k = from; k < to; k++)
        raft_buf_unref(l->e[l->off + k].buf);
}

void raft__log_release(struct raft__log *l)
{
    unref_range(l, 0, l->n);
    cn_free(l->e);
    raft__log_init(l);
}

raft_term raft__log_term(const struct raft__log *l, raft_index i)
{
    if (i == 0) return 0;
    if (i + 1 == l->first) return l->prev_term;
    const struct raft_entry *e = raft__log_get(l, i);
    return e ? e->term : 0;
}

raft_term raft__log_last_term(const struct raft__log *l)
{
    return l->n ? l->e[l->off + l->n - 1].term : l->prev_term;
}

void raft__log_append(struct raft__log *l, const struct raft_entry *e)
{
    if (l->off + l->n == l->cap) {
        if (l->off > l->n) {
            memmove(l->e, l->e + l->off, l->n * sizeof *l->e);
            l->off = 0;
        } else {
            l->cap = l->cap ? l->cap * 2 : 64;
            l->e = cn_realloc(l->e, l->cap * sizeof *l->e);
        }
    }
    struct raft_entry *d = &l->e[l->off + l->n];
    *d = *e;
    d->index = l->first + l->n;
    if (e->buf) {
        raft_buf_ref(e->buf);
    } else {
        d->buf = raft_buf_copy(e->data, e->len);
        d->data = d->len ? d->buf->data : NULL;
    }
    if (d->len == 0) d->data = NULL;
    l->n++;
}

void raft__log_truncate(struct raft__log *l, raft_index i)
{
    if (i > raft__log_last(l)) return;
    CN_ASSERT(i >= l->first);
    size_t keep = (size_t)(i - l->first);
    unref_range(l, keep, l->n);
    l->n = keep;
}

void raft__log_compact(struct raft__log *l, raft_index i)
{
    if (i <= l->first) return;
    CN_ASSERT(i <= raft__log_last(l) + 1);
    size_t drop = (size_t)(i - l->first);
    l->prev_term = raft__log_term(l, i - 1);
    unref_range(l, 0, drop);
    l->off += drop;
    l->n -= drop;
    l->first = i;
    if (l->n == 0) l->off = 0;
}

void raft__log_reset(struct raft__log *l, raft_index index, raft_term term)
{
    unref_range(l, 0, l->n);
    l->off = 0;
    l->n = 0;
    l->first = index + 1;
    l->prev_term = term;
}

raft_index raft__log_first_with_term_ge(const struct raft__log *l, raft_term t)
{
    size_t lo = 0, hi = l->n; /* answer in [lo, hi] */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->e[l->off + mid].term >= t)
            hi = mid;
        else
            lo = mid + 1;
    }
    return l->first + lo;
}

raft_index raft__log_last_with_term_le(const struct raft__log *l, raft_term t)
{
    return raft__log_first_with_term_ge(l, t + 1) - 1;
}
