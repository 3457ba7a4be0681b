/* lin.c - a linearizability checker for one register (Wing & Gong 1993 with
 * Lowe's memoization, as in porcupine): walk the history's call and return
 * events in time order, linearize a pending call when the register allows it,
 * backtrack at a return whose call could not be linearized, and never revisit
 * a (set of linearized ops, register value) pair. */
#include <stdlib.h>
#include <string.h>

#include "lib/cn_common.h"
#include "sim.h"

struct ev {
    uint64_t t;
    int op;
    bool ret;
    struct ev *prev, *next, *match; /* match: a call's return event */
};

static int ev_cmp(const void *a, const void *b)
{
    const struct ev *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    if (x->ret != y->ret) return x->ret ? 1 : -1; /* calls first: touching ops overlap */
    return x->op - y->op;
}

/* A hash set of (bitset, value) states. */
struct memo {
    uint64_t *keys; /* slots of words+1 u64 each; all-zero slot = empty marker via used[] */
    uint8_t *used;
    size_t cap, n, words;
};

static uint64_t memo_hash(const uint64_t *k, size_t words)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i <= words; i++) {
        h ^= k[i];
        h *= 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 31;
    }
    return h;
}

static void memo_grow(struct memo *m);

/* Insert; false when already present. */
static bool memo_add(struct memo *m, const uint64_t *k)
{
    if ((m->n + 1) * 2 > m->cap) memo_grow(m);
    size_t w = m->words + 1;
    size_t i = memo_hash(k, m->words) & (m->cap - 1);
    while (m->used[i]) {
        if (memcmp(&m->keys[i * w], k, w * 8) == 0) return false;
        i = (i + 1) & (m->cap - 1);
    }
    m->used[i] = 1;
    memcpy(&m->keys[i * w], k, w * 8);
    m->n++;
    return true;
}

static void memo_grow(struct memo *m)
{
    struct memo old = *m;
    m->cap = old.cap ? old.cap * 2 : 1024;
    m->keys = cn_calloc(m->cap * (m->words + 1), 8);
    m->used = cn_calloc(m->cap, 1);
    m->n = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.used[i]) memo_add(m, &old.keys[i * (old.words + 1)]);
    free(old.keys);
    free(old.used);
}

static void lift(struct ev *e)
{
    e->prev->next = e->next;
    if (e->next) e->next->prev = e->prev;
    struct ev *r = e->match;
    r->prev->next = r->next;
    if (r->next) r->next->prev = r->prev;
}

static void unlift(struct ev *e)
{
    struct ev *r = e->match;
    r->prev->next = r;
    if (r->next) r->next->prev = r;
    e->prev->next = e;
    if (e->next) e->next->prev = e;
}

int lin_check(const struct lin_op *ops, int n, uint64_t budget, uint64_t *explored)
{
    if (n == 0) return 1;
    struct ev *evs = cn_calloc((size_t)(2 * n + 1), sizeof *evs);
    struct ev *head = &evs[2 * n]; /* sentinel */
    for (int i = 0; i < n; i++) {
        evs[2 * i] = (struct ev){.t = ops[i].call, .op = i};
        evs[2 * i + 1] = (struct ev){.t = ops[i].ret, .op = i, .ret = true};
    }
    qsort(evs, (size_t)(2 * n), sizeof *evs, ev_cmp);
    struct ev *call_of[4096];
    struct ev **calls = n <= 4096 ? call_of : cn_calloc((size_t)n, sizeof *calls);
    for (int i = 0; i < 2 * n; i++)
        if (!evs[i].ret) calls[evs[i].op] = &evs[i];
    for (int i = 0; i < 2 * n; i++)
        if (evs[i].ret) calls[evs[i].op]->match = &evs[i];
    head->prev = NULL;
    head->next = &evs[0];
    for (int i = 0; i < 2 * n; i++) {
        evs[i].prev = i ? &evs[i - 1] : head;
        evs[i].next = i + 1 < 2 * n ? &evs[i + 1] : NULL;
    }

    struct memo memo = {.words = ((size_t)n + 63) / 64};
    uint64_t *key = cn_calloc(memo.words + 1, 8); /* bitset words, then the value */
    struct frame {
        struct ev *e;
        uint64_t state;
    } *stack = cn_calloc((size_t)n + 1, sizeof *stack);
    int sp = 0, result = 1;
    uint64_t state = 0, steps = 0;
    struct ev *e = head->next;
    while (head->next) {
        if (++steps > budget) {
            result = -1;
            break;
        }
        if (!e->ret) {
            const struct lin_op *o = &ops[e->op];
            bool ok = o->write || o->value == state;
            uint64_t next = o->write ? o->value : state;
            if (ok) {
                key[e->op / 64] |= 1ULL << (e->op % 64);
                key[memo.words] = next;
                if (memo_add(&memo, key)) {
                    stack[sp++] = (struct frame){e, state};
                    state = next;
                    lift(e);
                    e = head->next;
                    continue;
                }
                key[e->op / 64] &= ~(1ULL << (e->op % 64));
            }
            e = e->next;
        } else {
            if (sp == 0) {
                result = 0;
                break;
            }
            struct frame f = stack[--sp];
            state = f.state;
            key[f.e->op / 64] &= ~(1ULL << (f.e->op % 64));
            unlift(f.e);
            e = f.e->next;
        }
    }
    if (explored) *explored += steps;
    free(memo.keys);
    free(memo.used);
    free(key);
    free(stack);
    if (calls != call_of) free(calls);
    free(evs);
    return result;
}
