#include "lib/cn_map.h"
#include "lib/cn_rand.h"
#include "test.h"

TEST(map, put_get_del_with_churn)
{
    struct cn_map m;
    struct cn_rand r;
    static char present[5000];
    cn_rand_seed(&r, cn_test_seed());
    cn_map_init(&m);
    for (int step = 0; step < 100000; step++) {
        unsigned k = (unsigned)cn_rand_below(&r, 5000);
        char key[16];
        int n = snprintf(key, sizeof key, "k%u", k);
        struct cn_str ks = cn_str_make(key, (size_t)n);
        if (cn_rand_below(&r, 2)) {
            cn_map_put(&m, ks, (void *)(uintptr_t)(k + 1));
            present[k] = 1;
        } else {
            void *v = cn_map_del(&m, ks);
            ASSERT(v == (present[k] ? (void *)(uintptr_t)(k + 1) : NULL));
            present[k] = 0;
        }
    }
    size_t count = 0;
    for (unsigned k = 0; k < 5000; k++) {
        char key[16];
        int n = snprintf(key, sizeof key, "k%u", k);
        void *v = cn_map_get(&m, cn_str_make(key, (size_t)n));
        ASSERT(v == (present[k] ? (void *)(uintptr_t)(k + 1) : NULL));
        count += present[k];
    }
    ASSERT_EQ(count, cn_map_count(&m));
    struct cn_map_iter it;
    size_t seen = 0;
    cn_map_iter_init(&it, &m);
    while (cn_map_iter_next(&it, NULL, NULL)) seen++;
    ASSERT_EQ(count, seen);
    cn_map_release(&m);
}
