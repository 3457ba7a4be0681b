/* The slab against a model: random allocations and frees of every size
 * class (and of malloc-sized objects), each object filled with its own
 * pattern and checked before it is freed, so an object handed out twice or
 * overlapping another shows up as a damaged pattern. */
#include <string.h>

#include "lib/cn_common.h"
#include "lib/cn_rand.h"
#include "lib/cn_slab.h"
#include "test.h"

struct obj {
    unsigned char *p;
    size_t size;
    unsigned char fill;
};

static bool intact(const struct obj *o)
{
    for (size_t i = 0; i < o->size; i++)
        if (o->p[i] != o->fill) return false;
    return true;
}

TEST(slab, random_alloc_free_against_a_model)
{
    struct cn_slab s = {0};
    struct cn_rand r;
    cn_rand_seed(&r, cn_test_seed());
    enum { SLOTS = 2000 };
    struct obj *objs = cn_calloc(SLOTS, sizeof *objs);
    for (int step = 0; step < 200000; step++) {
        struct obj *o = &objs[cn_rand_below(&r, SLOTS)];
        if (o->p) {
            ASSERT(intact(o));
            cn_slab_free(&s, o->p, o->size);
            o->p = NULL;
            continue;
        }
        o->size = 1 + cn_rand_below(&r, cn_rand_below(&r, 8) ? CN_SLAB_MAX : 4 * CN_SLAB_MAX);
        o->fill = (unsigned char)cn_rand_u64(&r);
        o->p = cn_slab_alloc(&s, o->size);
        ASSERT(((uintptr_t)o->p & 7) == 0);
        memset(o->p, o->fill, o->size);
    }
    size_t live = 0;
    for (int i = 0; i < SLOTS; i++) {
        if (!objs[i].p) continue;
        ASSERT(intact(&objs[i]));
        live++;
    }
    ASSERT_U64_EQ(live, s.live);
    for (int i = 0; i < SLOTS; i++)
        if (objs[i].p) cn_slab_free(&s, objs[i].p, objs[i].size);
    ASSERT_U64_EQ(0, s.live);
    cn_slab_release_all(&s);
    free(objs);
}

TEST(slab, a_freed_object_is_reused_by_its_size_class)
{
    struct cn_slab s = {0};
    void *a = cn_slab_alloc(&s, 134);
    void *b = cn_slab_alloc(&s, 134);
    ASSERT(a != b);
    cn_slab_free(&s, a, 134);
    void *c = cn_slab_alloc(&s, 136); /* same 8-byte class */
#ifndef CN_SLAB_BYPASS
    ASSERT(c == a);
    ASSERT(s.chunk_bytes == 256 * 1024);
#endif
    cn_slab_free(&s, b, 134);
    cn_slab_free(&s, c, 136);
    cn_slab_release_all(&s);
}
