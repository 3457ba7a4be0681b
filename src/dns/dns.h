/*
 * dns.h - the DNS interface's pure core: wire codec, query-name rules and
 * answer building (shared/spec/dns.md). No I/O, no clock, no OS RNG: the
 * listener (src/agent/dns_server.c) passes the time and owns the sockets.
 *
 * A query goes through three steps:
 *
 *   1. dns_req_parse: the packet is parsed with hard bounds (compression
 *      pointers only backwards, 255-byte names, 63-byte labels, section
 *      counts checked against the bytes present) and its question
 *      classified: which zone, which name form, and what data the answer
 *      needs (enum dns_need). struct dns_req owns copies of everything, so
 *      an asynchronous lookup can keep it.
 *   2. the caller fetches that data: the instances of a service, a node, or
 *      the servers (the `consul` service) for SOA/NS; from the state store
 *      with dns_lookup_* (servers), or from the HTTP API (client agents);
 *      or forwards the packet to a recursor.
 *   3. dns_answer builds the reply: health filtering is already done, the
 *      builder shuffles, deduplicates, picks record types, TTLs and SRV
 *      targets, compresses names and trims to the transport's limit.
 *
 * The builder (struct dns_builder) keeps its buffers between queries, so the
 * steady state allocates nothing.
 */
#ifndef DNS_H
#define DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/cn_rand.h"
#include "lib/cn_str.h"

struct state_store;
struct state_pair;
struct acl_authz;

/* ---- limits -------------------------------------------------------------- */

#define DNS_NAME_MAX 255          /* wire length of a name, root label included */
#define DNS_LABEL_MAX 63
#define DNS_LABELS_MAX 128
#define DNS_HEADER_LEN 12
#define DNS_UDP_MIN 512           /* plain DNS over UDP */
#define DNS_UDP_MAX 65467         /* largest EDNS0 payload we honour */
#define DNS_TCP_MAX 65535
#define DNS_TCP_TRIM 65523        /* room left under 64 KiB for the TCP answers */
#define DNS_UDP_ANSWERS_MAX 8     /* cap on udp_answer_limit */
#define DNS_TCP_SRV_MAX 1024      /* answers kept before trimming a TCP reply */
#define DNS_TCP_RR_MAX 4096
#define DNS_RECORDS_MAX 16384     /* records one reply may be built from */
#define DNS_ECS_MAX 20            /* family(2) source(1) scope(1) address(16) */
#define DNS_SOA_MAX 3             /* NS records in an answer */

/* ---- wire constants ------------------------------------------------------ */

enum {
    DNS_T_A = 1,
    DNS_T_NS = 2,
    DNS_T_CNAME = 5,
    DNS_T_SOA = 6,
    DNS_T_PTR = 12,
    DNS_T_MX = 15,
    DNS_T_TXT = 16,
    DNS_T_AAAA = 28,
    DNS_T_SRV = 33,
    DNS_T_OPT = 41,
    DNS_T_IXFR = 251,
    DNS_T_AXFR = 252,
    DNS_T_ANY = 255,
};

enum { DNS_C_IN = 1, DNS_C_ANY = 255 };

enum {
    DNS_RC_NOERROR = 0,
    DNS_RC_FORMERR = 1,
    DNS_RC_SERVFAIL = 2,
    DNS_RC_NXDOMAIN = 3,
    DNS_RC_NOTIMP = 4,
    DNS_RC_REFUSED = 5,
    DNS_RC_BADVERS = 16, /* extended: needs an OPT record */
};

#define DNS_OPT_ECS 8

/* ---- configuration (dns_config.*, domain, alt_domain, recursors) -------- */

struct dns_ttl_rule {
    char *key;    /* service name, or prefix when the configured key ended in '*' */
    size_t klen;
    bool prefix;
    uint32_t ttl; /* seconds */
};

struct dns_zone {
    char text[DNS_NAME_MAX + 1]; /* lowercase, trailing dot: "consul." */
    uint8_t wire[DNS_NAME_MAX];  /* the same in wire form */
    uint8_t wire_len;
    uint8_t nlabels;
};

struct dns_config {
    struct dns_zone zone[2]; /* domain, alt_domain (zone[1].wire_len == 0: none) */
    char dc[DNS_LABEL_MAX + 1]; /* the agent's datacenter, lowercase */
    bool allow_stale;
    int64_t max_stale_ns;
    uint32_t node_ttl;
    struct dns_ttl_rule *service_ttl; /* owned */
    size_t nservice_ttl;
    int udp_answer_limit;
    int a_record_limit; /* 0 = none */
    bool enable_truncate;
    bool only_passing;
    bool disable_compression;
    bool node_meta_txt;
    bool recursors; /* some are configured: RA=1, out-of-zone questions are forwarded */
    uint32_t soa_refresh, soa_retry, soa_expire, soa_min_ttl;
};

/* Defaults of dns.md §11 (domain "consul.", datacenter dc). */
void dns_config_init(struct dns_config *c, const char *dc);
/* Set the domain (i = 0) or alt domain (i = 1) from text ("consul",
 * "consul.", "Example.COM."); "" clears the alt domain. CN_EINVAL when it is
 * not a valid name. */
int dns_config_set_zone(struct dns_config *c, int i, const char *text);
/* Add a service_ttl entry ("web", "db-*", "*"). */
void dns_config_add_ttl(struct dns_config *c, const char *key, int64_t ttl_ns);
void dns_config_release(struct dns_config *c);
/* service_ttl for a service: exact name first, then the longest matching
 * prefix rule ("*" matches all); 0 when none. Case-insensitive. */
uint32_t dns_service_ttl(const struct dns_config *c, struct cn_str service);

/* ---- a parsed, classified question -------------------------------------- */

enum dns_need {
    DNS_NEED_NONE = 0, /* the answer follows from the question alone */
    DNS_NEED_SERVICE,  /* instances of r->service (tag r->tag) */
    DNS_NEED_NODE,     /* the node r->node */
    DNS_NEED_SERVERS,  /* instances of the `consul` service (SOA, NS) */
    DNS_NEED_PTR,      /* the node or service instance with address r->addr */
    DNS_NEED_RECURSE,  /* out of zone: forward the packet to the recursors */
};

enum dns_kind {
    DNS_K_ERROR = 0, /* r->rcode says what (FORMERR, NOTIMP, BADVERS, REFUSED) */
    DNS_K_INVALID,   /* a name in the zone that names nothing: NXDOMAIN */
    DNS_K_SERVICE,
    DNS_K_NODE,
    DNS_K_QUERY,     /* prepared queries: NXDOMAIN until they exist */
    DNS_K_ADDR,
    DNS_K_SOA,       /* SOA question, any name in the zone */
    DNS_K_NS,        /* NS question, any name in the zone */
    DNS_K_PTR,       /* in-addr.arpa / ip6.arpa */
    DNS_K_OUTSIDE,   /* outside every zone */
};

struct dns_req {
    uint16_t id;
    uint8_t opcode;
    bool rd, cd;
    bool tcp;
    uint8_t qname[DNS_NAME_MAX]; /* wire form, as asked (case kept) */
    uint8_t qname_len;
    uint16_t qtype, qclass;
    bool has_question;
    bool edns;
    uint16_t edns_size;  /* as the client advertised it */
    uint8_t ecs[DNS_ECS_MAX];
    uint8_t ecs_len;     /* 0: no client-subnet option */
    uint8_t rcode;       /* DNS_K_ERROR */
    enum dns_kind kind;
    uint8_t zone;        /* which of cfg->zone the name is in */
    char dc[DNS_LABEL_MAX + 1]; /* "" = the agent's */
    char service[DNS_NAME_MAX + 1];
    char tag[DNS_NAME_MAX + 1];
    char node[DNS_NAME_MAX + 1];
    uint8_t addr[16];
    uint8_t addr_len; /* 4 or 16 (DNS_K_ADDR, DNS_K_PTR) */
};

/* Parse a query. Returns -1 when the packet gets no answer at all (shorter
 * than a header, or a response), else the enum dns_need of the question;
 * malformed queries come back as DNS_NEED_NONE with kind DNS_K_ERROR and
 * rcode FORMERR. */
int dns_req_parse(const struct dns_config *cfg, const uint8_t *pkt, size_t len, bool tcp,
                  struct dns_req *r);
/* Is r->dc another datacenter than the agent's? (The multi-DC work forwards
 * those; until then they answer as an unknown datacenter: NXDOMAIN.) */
bool dns_req_remote_dc(const struct dns_config *cfg, const struct dns_req *r);

/* ---- data a lookup yields ------------------------------------------------ */

/* One service instance (or one node: port 0, svc_addr empty). Strings are
 * borrowed from the store or from the caller's arena. */
struct dns_inst {
    struct cn_str node;
    struct cn_str node_addr;
    struct cn_str svc_addr; /* "" = the node's address */
    struct cn_str service;  /* PTR answers */
    const struct state_pair *meta; /* node meta, sorted by key */
    size_t nmeta;
    uint16_t port;
    uint16_t weight;
    /* The address answers use (svc_addr, else node_addr), parsed once:
     * 0 = not parsed yet, 1 = a hostname, 4 or 16 = ip holds it. */
    uint8_t addr_fam;
    uint8_t ip[16];
    /* The node name as wire labels (no root), when the reader prepared it. */
    const uint8_t *node_labels;
    uint8_t node_labels_len;
};
/* Parse in->ip / in->addr_fam if not done yet; returns 4, 16 or 0 (a hostname). */
int dns_inst_ip(struct dns_inst *in);

struct dns_insts {
    struct dns_inst *v;
    size_t n, cap;
};
void dns_insts_push(struct dns_insts *l, const struct dns_inst *in);
void dns_insts_release(struct dns_insts *l);

/* SRV weight of an instance: Weights.Passing, or Weights.Warning when the
 * worst of its checks is warning; both 0 (no Weights) means 1. */
uint16_t dns_weight(int64_t passing, int64_t warning, const char *worst_status);

/* Server-side lookups (lookup.c), read from the state store with the DNS
 * token's authorizer: instances the token may not read are left out, as are
 * instances with a critical check (service or node level) and, with
 * only_passing, those with a warning. Return the store's index for the
 * read; *found tells a service/node that exists apart from filtering. */
uint64_t dns_lookup_service(struct state_store *st, const struct acl_authz *authz,
                            struct cn_str name, struct cn_str tag, bool only_passing,
                            struct dns_insts *out);
uint64_t dns_lookup_node(struct state_store *st, const struct acl_authz *authz, struct cn_str name,
                         struct dns_insts *out);
/* The same read through a cache of health-filtered instance lists, each
 * checked against the service's index (which the catalog bumps for every
 * change to the instances, their checks or their nodes) before use; ACLs
 * are applied on every use. Strings stay valid until the next call. */
struct dns_cache;
struct dns_cache *dns_cache_new(void);
void dns_cache_free(struct dns_cache *c);
uint64_t dns_cache_service(struct dns_cache *c, struct state_store *st,
                           const struct acl_authz *authz, struct cn_str name, struct cn_str tag,
                           bool only_passing, struct dns_insts *out);
void dns_cache_stats(const struct dns_cache *c, uint64_t *hits, uint64_t *misses);
/* PTR: the nodes whose address is addr, else the service instances with
 * that service address. */
void dns_lookup_addr(struct state_store *st, const struct acl_authz *authz, const uint8_t *addr,
                     size_t addr_len, struct dns_insts *out);

/* ---- building answers ---------------------------------------------------- */

enum dns_lookup_rc {
    DNS_LK_OK = 0,    /* the instances given are the data (possibly none) */
    DNS_LK_ERROR,     /* the read failed: SERVFAIL */
};

struct dns_builder;

struct dns_builder *dns_builder_new(uint64_t seed);
void dns_builder_free(struct dns_builder *b);

/* Build the reply to r from the looked-up instances (which the builder may
 * reorder: it shuffles them). now_s is the Unix time (the SOA serial).
 * Returns the reply's length in out (cap >= DNS_TCP_MAX), 0 = send nothing. */
size_t dns_answer(struct dns_builder *b, const struct dns_config *cfg, const struct dns_req *r,
                  enum dns_lookup_rc lrc, struct dns_inst *inst, size_t ninst, uint64_t now_s,
                  uint8_t *out, size_t cap);
/* A reply with no records and this RCODE (SERVFAIL when every recursor
 * failed: ra = true). */
size_t dns_answer_rcode(const struct dns_config *cfg, const struct dns_req *r, int rcode, bool ra,
                        uint8_t *out, size_t cap);

/* ---- wire helpers (shared with the recursor client and the tests) -------- */

/* Decode the name at off (following compression pointers only backwards).
 * Writes the uncompressed wire form to out (>= DNS_NAME_MAX bytes) and the
 * offset just past the name in the packet. -1 when malformed. */
int dns_name_read(const uint8_t *pkt, size_t len, size_t off, uint8_t *out, size_t *out_len,
                  size_t *next);
/* "a.b.c." (or without the final dot) to wire form; -1 when a label is
 * empty or too long, or the name is too long. Returns the wire length. */
int dns_name_from_text(const char *text, size_t len, uint8_t *out);
/* Wire form to dotted text, lowercase or as is; returns the text length. */
size_t dns_name_to_text(const uint8_t *wire, char *out, size_t cap, bool lower);
/* Case-insensitive equality of two uncompressed wire names. */
bool dns_name_eq(const uint8_t *a, const uint8_t *b);
/* An IP literal (IPv4 dotted quad or IPv6) into 4 or 16 bytes; 0 when the
 * text is not one (a hostname). */
int dns_parse_ip(struct cn_str text, uint8_t out[16]);

#endif
