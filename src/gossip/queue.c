/*
 * queue.c - the transmit-limited broadcast queue (memberlist queue.go).
 *
 * Each broadcast is sent to retransmit_mult * ceil(log10(N + 1)) peers, a
 * few per packet, fewest-transmitted first and, among equals, newest first.
 * Membership messages are named by node: queueing news about a node drops
 * whatever older news about it is still queued. The queue is bucketed by
 * transmit count (the limit is small: 4 * 5 at 10,000 nodes), and pruned
 * to max(queue_depth_min, 2N) as Serf prunes, oldest-most-sent first.
 */
#include <string.h>

#include "gossip/gossip_int.h"

void gq_init(struct gqueue *q)
{
    for (int i = 0; i < G_QUEUE_BUCKETS; i++) cn_list_init(&q->bucket[i]);
    cn_map_init(&q->named);
    q->count = 0;
}

static void finish(struct gossip *g, struct gbcast *b)
{
    cn_list_remove(&b->link);
    if (b->name) {
        cn_map_del(&g->q.named, cn_str_from(b->name));
        cn_free(b->name);
    }
    if (b->flags & GB_LEAVE) g->leave_bcast_done = true;
    g->q.count--;
    cn_free(b);
}

void gq_release(struct gqueue *q)
{
    for (int i = 0; i < G_QUEUE_BUCKETS; i++) {
        struct cn_list *it, *tmp;
        cn_list_foreach_safe(it, tmp, &q->bucket[i])
        {
            struct gbcast *b = cn_list_entry(it, struct gbcast, link);
            cn_list_remove(&b->link);
            cn_free(b->name);
            cn_free(b);
        }
    }
    cn_map_release(&q->named);
    q->count = 0;
}

void gq_push(struct gossip *g, const char *name, size_t name_len, const uint8_t *msg, size_t n,
             uint32_t flags)
{
    struct gbcast *b = cn_malloc(sizeof *b + n);
    b->transmits = 0;
    b->len = (uint32_t)n;
    b->flags = flags;
    b->name = NULL;
    memcpy(b->data, msg, n);
    if (name) {
        struct cn_str key = {name, name_len};
        struct gbcast *old = cn_map_get(&g->q.named, key);
        if (old) finish(g, old);
        b->name = cn_strndup(name, name_len);
        cn_map_put(&g->q.named, cn_str_from(b->name), b);
    }
    cn_list_insert_head(&g->q.bucket[0], &b->link);
    g->q.count++;
    uint32_t depth = CN_MAX(g->t.queue_depth_min, 2 * g->n_mem);
    if (g->q.count > depth) gq_prune(g, depth);
}

/* Drop the most-transmitted, oldest broadcasts until max remain. */
void gq_prune(struct gossip *g, uint32_t max)
{
    for (int t = G_QUEUE_BUCKETS - 1; t >= 0 && g->q.count > max; t--) {
        while (g->q.count > max && !cn_list_empty(&g->q.bucket[t])) {
            struct gbcast *b = cn_list_entry(g->q.bucket[t].prev, struct gbcast, link);
            finish(g, b);
        }
    }
}

uint32_t gq_take(struct gossip *g, struct cn_buf *out, size_t budget)
{
    if (g->q.count == 0) return 0;
    uint32_t limit = gossip_retransmit_limit(g->t.retransmit_mult, g_est_nodes(g));
    if (limit == 0) limit = 1;
    struct cn_list sent;
    cn_list_init(&sent);
    uint32_t taken = 0;
    size_t used = 0;
    for (int t = 0; t < G_QUEUE_BUCKETS && used < budget; t++) {
        struct cn_list *it, *tmp;
        cn_list_foreach_safe(it, tmp, &g->q.bucket[t])
        {
            struct gbcast *b = cn_list_entry(it, struct gbcast, link);
            if (b->len > budget - used) continue;
            cn_buf_put(out, b->data, b->len);
            used += b->len;
            taken++;
            b->transmits++;
            cn_list_remove(&b->link);
            /* Our own leave gets three times the usual budget: a member that
             * misses it would declare us failed instead of left. */
            uint32_t mine = b->flags & GB_LEAVE ? 3 * limit : limit;
            if (b->transmits >= mine || b->transmits >= G_QUEUE_BUCKETS - 1) {
                cn_list_insert_tail(&sent, &b->link); /* finished below */
                b->transmits = UINT32_MAX;
            } else {
                cn_list_insert_tail(&sent, &b->link);
            }
            if (budget - used < 8) break;
        }
    }
    /* Reinsert after the walk, so one packet never carries a message twice. */
    struct cn_list *it, *tmp;
    cn_list_foreach_safe(it, tmp, &sent)
    {
        struct gbcast *b = cn_list_entry(it, struct gbcast, link);
        cn_list_remove(&b->link);
        if (b->transmits == UINT32_MAX) {
            cn_list_insert_head(&g->q.bucket[0], &b->link); /* linked, so finish can unlink */
            finish(g, b);
        } else {
            cn_list_insert_head(&g->q.bucket[b->transmits], &b->link);
        }
    }
    return taken;
}
