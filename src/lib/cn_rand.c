#include "lib/cn_rand.h"

#include <errno.h>
#include <sys/random.h>

#include "lib/cn_common.h"

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void cn_rand_seed(struct cn_rand *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t cn_rand_u64(struct cn_rand *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t cn_rand_below(struct cn_rand *r, uint64_t n)
{
    if (n == 0) return 0;
    /* Lemire's multiply-shift; the bias is below 2^-64 * n, irrelevant here. */
    return (uint64_t)(((unsigned __int128)cn_rand_u64(r) * n) >> 64);
}

double cn_rand_double(struct cn_rand *r)
{
    return (double)(cn_rand_u64(r) >> 11) * 0x1.0p-53;
}

void cn_rand_os_bytes(void *p, size_t n)
{
    char *c = p;
    while (n > 0) {
        ssize_t got = getrandom(c, n, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            CN_BUG("getrandom failed: errno %d", errno);
        }
        c += got;
        n -= (size_t)got;
    }
}

uint64_t cn_rand_os_u64(void)
{
    uint64_t v;
    cn_rand_os_bytes(&v, sizeof v);
    return v;
}
