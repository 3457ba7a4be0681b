/* cn_list.h - an intrusive circular doubly-linked list (nginx's ngx_queue):
 * the links live inside the element, so queuing never allocates. */
#ifndef CN_LIST_H
#define CN_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/cn_common.h"

struct cn_list {
    struct cn_list *prev, *next;
};

static inline void cn_list_init(struct cn_list *h)
{
    h->prev = h->next = h;
}
static inline bool cn_list_empty(const struct cn_list *h)
{
    return h->next == h;
}
static inline void cn_list_insert_tail(struct cn_list *h, struct cn_list *x)
{
    x->prev = h->prev;
    x->next = h;
    h->prev->next = x;
    h->prev = x;
}
static inline void cn_list_insert_head(struct cn_list *h, struct cn_list *x)
{
    x->next = h->next;
    x->prev = h;
    h->next->prev = x;
    h->next = x;
}
/* Unlink x; x becomes a valid empty list, so removing twice is harmless. */
static inline void cn_list_remove(struct cn_list *x)
{
    x->prev->next = x->next;
    x->next->prev = x->prev;
    x->prev = x->next = x;
}
static inline bool cn_list_linked(const struct cn_list *x)
{
    return x->next != x;
}

#define cn_list_entry(ptr, type, member) CN_CONTAINER_OF(ptr, type, member)
#define cn_list_foreach(it, head) for ((it) = (head)->next; (it) != (head); (it) = (it)->next)
#define cn_list_foreach_safe(it, tmp, head)                                            \
    for ((it) = (head)->next, (tmp) = (it)->next; (it) != (head); (it) = (tmp), (tmp) = (it)->next)

#endif
