/* dns_int.h - the builder's insides, shared by answer.c and encode.c. */
#ifndef DNS_INT_H
#define DNS_INT_H

#include "dns/dns.h"

/* One record to write. Names are uncompressed wire names kept in the
 * builder's pool (or the question's: name == NULL). */
struct rr {
    const uint8_t *name; /* owner; NULL = the question name */
    const uint8_t *rd;   /* TXT: all of it; SOA: 5 numbers; NULL: the data is in inl */
    const uint8_t *n1, *n2; /* names inside the rdata (SRV/NS/CNAME/PTR target; SOA mname, rname) */
    uint32_t ttl;
    uint32_t link; /* ADDITIONAL: the answer that brought it (kept while that one is) */
    uint16_t type;
    uint16_t rdlen; /* of rd */
    uint8_t name_len, n1_len, n2_len; /* wire lengths (name: 0 for the question) */
    uint32_t size;  /* uncompressed wire size of the whole record */
    uint8_t inl[16]; /* A/AAAA address; SRV priority, weight, port */
};

#define DNS_LINK_ALWAYS UINT32_MAX

struct rrvec {
    struct rr *v;
    size_t n, cap;
};

struct pool_chunk {
    struct pool_chunk *next;
    size_t cap, used;
    uint8_t data[];
};

#define CTAB_SLOTS 4096
struct ctab_slot {
    uint32_t gen;
    uint32_t hash;
    const uint8_t *name;
    uint16_t len;
    uint16_t off;
};

#define PCACHE_SLOTS 256
struct pcache_slot {
    uint32_t gen;
    uint16_t off;
    const uint8_t *name;
};

#define SEEN_SLOTS 16384
struct seen_slot {
    uint32_t gen;
    uint32_t len;
    uint64_t hash;
    const uint8_t *key;
};

struct dns_builder {
    struct cn_rand rand;
    struct rrvec an, ns, ar;
    struct pool_chunk *pool, *cur;
    uint32_t gen; /* compression table generation */
    size_t ctab_used;
    uint32_t ctab_mask; /* the part of ctab this reply uses */
    uint32_t seen_gen;
    size_t seen_used;
    uint32_t seen_mask;
    struct ctab_slot ctab[CTAB_SLOTS];
    struct pcache_slot pcache[PCACHE_SLOTS];
    struct seen_slot seen[SEEN_SLOTS];
    uint8_t tmp[DNS_TCP_MAX + 1024]; /* trial encodes while trimming */
};

/* Header facts of the reply being built. */
struct dns_msg {
    int rcode;
    bool aa, tc, ra;
};

struct enc {
    uint8_t *p;
    size_t cap, len;
    bool compress, overflow;
    struct dns_builder *b;
    const struct dns_req *r;
};

size_t dns_wire_len(const uint8_t *name);
size_t dns_opt_size(const struct dns_req *r);
/* Encode header, question, the first nan answers, the authority section
 * (with_ns), the additional records linked to kept answers (with_ar), OPT.
 * Returns the length, 0 when it does not fit in cap. */
size_t dns_encode(struct dns_builder *b, const struct dns_req *r, const struct dns_msg *m,
                  size_t nan, bool with_ns, bool with_ar, bool compress, uint8_t *out, size_t cap);
/* The same reply's size without compression. */
size_t dns_plain_size(struct dns_builder *b, const struct dns_req *r, size_t nan, bool with_ns);

#endif
