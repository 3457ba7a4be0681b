#include "lib/cn_common.h"
#include "lib/cn_map.h"
#include "lib/cn_omap.h"
#include "lib/cn_rand.h"
#include "test.h"

struct ent {
    char key[24];
    size_t len;
};

static struct cn_str key_of(const void *e)
{
    const struct ent *x = e;
    return cn_str_make(x->key, x->len);
}

static struct ent *mk(const char *fmt, unsigned v)
{
    struct ent *e = CN_NEW(struct ent);
    e->len = (size_t)snprintf(e->key, sizeof e->key, fmt, v);
    return e;
}

TEST(omap, sequential_insert_scan_delete)
{
    struct cn_omap t;
    struct cn_omap_iter it;
    cn_omap_init(&t, key_of);
    for (unsigned i = 0; i < 10000; i++) ASSERT(cn_omap_put(&t, mk("k%06u", i)) == NULL);
    ASSERT_EQ(10000, cn_omap_count(&t));
    ASSERT(cn_omap_check(&t));
    cn_omap_seek(&t, CN_STR("k005000"), &it);
    struct ent *e = cn_omap_next(&it);
    ASSERT(e && !strcmp(e->key, "k005000"));
    for (unsigned i = 0; i < 10000; i += 2) {
        char k[24];
        int n = snprintf(k, sizeof k, "k%06u", i);
        e = cn_omap_del(&t, cn_str_make(k, (size_t)n));
        ASSERT(e != NULL);
        free(e);
    }
    ASSERT(cn_omap_check(&t));
    ASSERT_EQ(5000, cn_omap_count(&t));
    ASSERT(cn_omap_get(&t, CN_STR("k000002")) == NULL);
    ASSERT(cn_omap_get(&t, CN_STR("k000003")) != NULL);
    cn_omap_seek(&t, CN_STR_NULL, &it);
    while ((e = cn_omap_next(&it))) free(e);
    cn_omap_release(&t);
}

/* Random operations checked against a hash map as the model. */
TEST(omap, random_against_model)
{
    struct cn_omap t;
    struct cn_map model;
    struct cn_rand r;
    cn_rand_seed(&r, cn_test_seed());
    cn_omap_init(&t, key_of);
    cn_map_init(&model);
    for (int step = 0; step < 50000; step++) {
        unsigned k = (unsigned)cn_rand_below(&r, 3000);
        char key[24];
        int n = snprintf(key, sizeof key, "%u", k);
        struct cn_str ks = cn_str_make(key, (size_t)n);
        if (cn_rand_below(&r, 3) == 0) {
            struct ent *a = cn_omap_del(&t, ks), *b = cn_map_del(&model, ks);
            ASSERT(a == b);
            free(a);
        } else {
            struct ent *e = mk("%u", k);
            struct ent *old = cn_omap_put(&t, e), *mold = cn_map_put(&model, ks, e);
            ASSERT(old == mold);
            free(old);
        }
        if (step % 5000 == 0) ASSERT(cn_omap_check(&t));
    }
    ASSERT(cn_omap_check(&t));
    ASSERT_EQ(cn_map_count(&model), cn_omap_count(&t));
    struct cn_omap_iter it;
    struct ent *e;
    cn_omap_seek(&t, CN_STR_NULL, &it);
    while ((e = cn_omap_next(&it))) {
        ASSERT(cn_map_get(&model, key_of(e)) == e);
        free(e);
    }
    cn_omap_release(&t);
    cn_map_release(&model);
}

TEST(omap, prefix_seek)
{
    struct cn_omap t;
    struct cn_omap_iter it;
    const char *keys[] = {"a", "foo", "foo/", "foo/bar", "foo/baz", "foo0", "fop"};
    cn_omap_init(&t, key_of);
    for (size_t i = 0; i < CN_ARRAY_SIZE(keys); i++) cn_omap_put(&t, mk(keys[i], 0));
    cn_omap_seek(&t, CN_STR("foo/"), &it);
    int n = 0;
    struct ent *e;
    while ((e = cn_omap_next(&it)) && cn_str_has_prefix(key_of(e), CN_STR("foo/"))) n++;
    ASSERT_EQ(3, n);
    cn_omap_seek(&t, CN_STR("zzz"), &it);
    ASSERT(cn_omap_next(&it) == NULL);
    cn_omap_seek(&t, CN_STR_NULL, &it);
    while ((e = cn_omap_next(&it))) free(e);
    cn_omap_release(&t);
}
