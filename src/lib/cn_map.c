#include "lib/cn_map.h"

#include <string.h>

#include "lib/cn_common.h"

void cn_map_init(struct cn_map *m)
{
    m->slots = NULL;
    m->cap = 0;
    m->count = 0;
}

void cn_map_release(struct cn_map *m)
{
    for (size_t i = 0; i < m->cap; i++) free(m->slots[i].key);
    free(m->slots);
    cn_map_init(m);
}

static uint32_t hash_of(struct cn_str k)
{
    uint64_t h = cn_hash_bytes(k.p, k.len);
    return (uint32_t)(h ^ (h >> 32));
}

static long find(const struct cn_map *m, struct cn_str key, uint32_t h)
{
    if (!m->cap) return -1;
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const struct cn_map_slot *s = &m->slots[i];
        if (!s->key) return -1;
        if (s->hash32 == h && s->klen == key.len && memcmp(s->key, key.p, key.len) == 0)
            return (long)i;
    }
}

static void grow(struct cn_map *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    struct cn_map_slot *old = m->slots, *ns = cn_calloc(ncap, sizeof *ns);
    for (size_t i = 0; i < m->cap; i++) {
        if (!old[i].key) continue;
        size_t j = old[i].hash32 & (ncap - 1);
        while (ns[j].key) j = (j + 1) & (ncap - 1);
        ns[j] = old[i];
    }
    free(old);
    m->slots = ns;
    m->cap = ncap;
}

void *cn_map_get(const struct cn_map *m, struct cn_str key)
{
    long i = find(m, key, hash_of(key));
    return i < 0 ? NULL : m->slots[i].val;
}

bool cn_map_has(const struct cn_map *m, struct cn_str key)
{
    return find(m, key, hash_of(key)) >= 0;
}

void *cn_map_put(struct cn_map *m, struct cn_str key, void *val)
{
    uint32_t h = hash_of(key);
    long i = find(m, key, h);
    if (i >= 0) {
        void *prev = m->slots[i].val;
        m->slots[i].val = val;
        return prev;
    }
    CN_ASSERT(key.len < UINT32_MAX);
    if ((m->count + 1) * 4 > m->cap * 3) grow(m);
    size_t j = h & (m->cap - 1);
    while (m->slots[j].key) j = (j + 1) & (m->cap - 1);
    m->slots[j].key = cn_strndup(key.p ? key.p : "", key.len);
    m->slots[j].klen = (uint32_t)key.len;
    m->slots[j].hash32 = h;
    m->slots[j].val = val;
    m->count++;
    return NULL;
}

/* Backward-shift deletion keeps every probe chain unbroken. */
static void remove_at(struct cn_map *m, size_t i)
{
    size_t mask = m->cap - 1;
    free(m->slots[i].key);
    m->slots[i].key = NULL;
    m->count--;
    for (size_t j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
        size_t home = m->slots[j].hash32 & mask;
        /* Move j back to i if its home is not cyclically in (i, j]. */
        bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!between) {
            m->slots[i] = m->slots[j];
            m->slots[j].key = NULL;
            i = j;
        }
    }
}

void *cn_map_del(struct cn_map *m, struct cn_str key)
{
    long i = find(m, key, hash_of(key));
    if (i < 0) return NULL;
    void *val = m->slots[i].val;
    remove_at(m, (size_t)i);
    return val;
}

void cn_map_iter_init(struct cn_map_iter *it, struct cn_map *m)
{
    it->m = m;
    it->i = 0;
}

bool cn_map_iter_next(struct cn_map_iter *it, struct cn_str *key, void **val)
{
    while (it->i < it->m->cap) {
        struct cn_map_slot *s = &it->m->slots[it->i++];
        if (s->key) {
            if (key) *key = cn_str_make(s->key, s->klen);
            if (val) *val = s->val;
            return true;
        }
    }
    return false;
}
