/*
 * cn_rand.h - a seeded PRNG (xoshiro256**) and the OS's CSPRNG.
 *
 * Pure cores take a struct cn_rand from their caller and never seed it
 * themselves, so a simulator run is a function of its seed. IDs and keys that
 * must be unguessable (session IDs, ACL secrets, gossip keys) come from
 * cn_rand_os_bytes instead.
 */
#ifndef CN_RAND_H
#define CN_RAND_H

#include <stddef.h>
#include <stdint.h>

struct cn_rand {
    uint64_t s[4];
};

void cn_rand_seed(struct cn_rand *r, uint64_t seed);
uint64_t cn_rand_u64(struct cn_rand *r);
/* Uniform in [0, n); n == 0 returns 0. */
uint64_t cn_rand_below(struct cn_rand *r, uint64_t n);
/* Uniform in [0, 1). */
double cn_rand_double(struct cn_rand *r);

/* Fill from getrandom(2); aborts if the kernel cannot provide entropy. */
void cn_rand_os_bytes(void *p, size_t n);
uint64_t cn_rand_os_u64(void);

#endif
