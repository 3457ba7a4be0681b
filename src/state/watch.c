/*
 * watch.c - watch sets: what a parked blocking query waits on.
 *
 * Each set holds items (topic, key, exact or prefix). Exact items hang off a
 * per-topic hash map of lists, so a write notifies its exact watchers in O(1);
 * prefix items sit in one list per topic and are matched by scan, which is
 * cheap for the few prefix watches (KV ?recurse) a store holds.
 * Firing is two-phase: first every set to fire is marked and queued (lists
 * are only read), then items are detached and callbacks run, so a callback
 * may free or re-arm its set, or run new queries, without invalidating a
 * list being walked.
 */
#include <string.h>

#include "lib/cn_common.h"
#include "state/state_int.h"

struct state__witem {
    struct cn_list link;
    struct state_watch_set *ws;
    struct cn_list *head; /* exact items: the list they hang on */
    uint8_t topic;
    bool prefix;
    uint32_t klen;
    char *key;
};

struct state_watch_set {
    struct state_store *st;
    state_fire_fn fire;
    void *ctx;
    bool fired;
    bool queued;
    struct cn_list queue_link;
    struct state__witem **items;
    size_t n, cap;
};

void state__watch_init(struct state_store *st)
{
    for (int i = 0; i < STATE_W__COUNT; i++) {
        cn_map_init(&st->topics[i].exact);
        cn_list_init(&st->topics[i].prefix);
    }
}

void state__watch_release(struct state_store *st)
{
    /* Sets still registered belong to their owners, who must free them before
     * the store; detach defensively so nothing dangles. */
    for (int i = 0; i < STATE_W__COUNT; i++) {
        struct cn_map_iter it;
        void *head;
        cn_map_iter_init(&it, &st->topics[i].exact);
        while (cn_map_iter_next(&it, NULL, &head)) {
            struct cn_list *l, *tmp;
            cn_list_foreach_safe(l, tmp, (struct cn_list *)head) cn_list_remove(l);
            free(head);
        }
        cn_map_release(&st->topics[i].exact);
    }
}

struct state_watch_set *state_ws_new(struct state_store *st, state_fire_fn fire, void *ctx)
{
    struct state_watch_set *ws = CN_NEW(struct state_watch_set);
    ws->st = st;
    ws->fire = fire;
    ws->ctx = ctx;
    cn_list_init(&ws->queue_link);
    st->nsets++;
    return ws;
}

static void item_detach(struct state_store *st, struct state__witem *it)
{
    cn_list_remove(&it->link);
    if (!it->prefix && cn_list_empty(it->head)) {
        cn_map_del(&st->topics[it->topic].exact, cn_str_make(it->key, it->klen));
        free(it->head);
    }
    free(it->key);
    free(it);
}

static void detach_all(struct state_watch_set *ws)
{
    for (size_t i = 0; i < ws->n; i++) item_detach(ws->st, ws->items[i]);
    ws->n = 0;
}

void state_ws_reset(struct state_watch_set *ws)
{
    detach_all(ws);
    ws->fired = false;
}

void state_ws_free(struct state_watch_set *ws)
{
    if (!ws) return;
    detach_all(ws);
    cn_list_remove(&ws->queue_link);
    ws->st->nsets--;
    free(ws->items);
    free(ws);
}

bool state_ws_fired(const struct state_watch_set *ws)
{
    return ws->fired;
}

size_t state_ws_count(const struct state_store *st)
{
    return st->nsets;
}

static void add(struct state_watch_set *ws, enum state_topic topic, struct cn_str key, bool prefix)
{
    struct state_store *st = ws->st;
    if (ws->fired) return; /* already due to re-run: more items add nothing */
    struct state__witem *it = CN_NEW(struct state__witem);
    it->ws = ws;
    it->topic = (uint8_t)topic;
    it->prefix = prefix;
    it->klen = (uint32_t)key.len;
    it->key = cn_strndup(key.p ? key.p : "", key.len);
    if (prefix) {
        cn_list_insert_tail(&st->topics[topic].prefix, &it->link);
    } else {
        struct cn_list *head = cn_map_get(&st->topics[topic].exact, key);
        if (!head) {
            head = CN_NEW(struct cn_list);
            cn_list_init(head);
            cn_map_put(&st->topics[topic].exact, key, head);
        }
        it->head = head;
        cn_list_insert_tail(head, &it->link);
    }
    if (ws->n == ws->cap) {
        ws->cap = ws->cap ? ws->cap * 2 : 4;
        ws->items = cn_realloc(ws->items, ws->cap * sizeof *ws->items);
    }
    ws->items[ws->n++] = it;
}

void state_ws_add(struct state_watch_set *ws, enum state_topic topic, struct cn_str key)
{
    add(ws, topic, key, false);
}

void state_ws_add_prefix(struct state_watch_set *ws, enum state_topic topic, struct cn_str prefix)
{
    add(ws, topic, prefix, true);
}

void state_ws_add_table(struct state_watch_set *ws, enum state_table_id t)
{
    add(ws, STATE_W_TABLE, cn_str_from(state_table_name(t)), false);
}

static void queue(struct cn_list *q, struct state_watch_set *ws)
{
    if (ws->queued || ws->fired) return;
    ws->queued = true;
    cn_list_insert_tail(q, &ws->queue_link);
}

static void run_queue(struct cn_list *q)
{
    /* Detach everything first: a callback may free any set in the queue. */
    struct cn_list *l, *tmp;
    cn_list_foreach(l, q)
    {
        struct state_watch_set *ws = cn_list_entry(l, struct state_watch_set, queue_link);
        detach_all(ws);
        ws->fired = true;
    }
    while (!cn_list_empty(q)) {
        l = q->next;
        struct state_watch_set *ws = cn_list_entry(l, struct state_watch_set, queue_link);
        cn_list_remove(l);
        ws->queued = false;
        ws->fire(ws->ctx);
    }
    (void)tmp;
}

void state__watch_dispatch(struct state_store *st, const struct cn_buf *notes)
{
    struct cn_list q;
    struct cn_dec d;
    cn_list_init(&q);
    cn_dec_init(&d, notes->data, notes->len);
    while (cn_dec_left(&d) > 0) {
        uint8_t topic = cn_dec_u8(&d);
        struct cn_str key = cn_dec_bytes(&d, SIZE_MAX);
        CN_ASSERT(cn_dec_status(&d) == 0 && topic < STATE_W__COUNT);
        struct cn_list *head = cn_map_get(&st->topics[topic].exact, key), *l;
        if (head) {
            cn_list_foreach(l, head) queue(&q, cn_list_entry(l, struct state__witem, link)->ws);
        }
        cn_list_foreach(l, &st->topics[topic].prefix)
        {
            struct state__witem *it = cn_list_entry(l, struct state__witem, link);
            if (cn_str_has_prefix(key, cn_str_make(it->key, it->klen))) queue(&q, it->ws);
        }
    }
    run_queue(&q);
}

void state__watch_fire_all(struct state_store *st)
{
    struct cn_list q, *l;
    cn_list_init(&q);
    for (int t = 0; t < STATE_W__COUNT; t++) {
        struct cn_map_iter it;
        void *head;
        cn_map_iter_init(&it, &st->topics[t].exact);
        while (cn_map_iter_next(&it, NULL, &head))
            cn_list_foreach(l, (struct cn_list *)head) queue(&q, cn_list_entry(l, struct state__witem, link)->ws);
        cn_list_foreach(l, &st->topics[t].prefix) queue(&q, cn_list_entry(l, struct state__witem, link)->ws);
    }
    run_queue(&q);
}
