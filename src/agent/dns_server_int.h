/* dns_server_int.h - shared by dns_server.c, dns_net.c and dns_recursor.c. */
#ifndef AGENT_DNS_SERVER_INT_H
#define AGENT_DNS_SERVER_INT_H

#include <netinet/in.h>
#include <sys/socket.h>

#include "agent/dns_server.h"
#include "dns/dns.h"
#include "lib/cn_list.h"

#define DNS_RECURSORS_MAX 16
#define DNS_LISTENERS_MAX 8
#define DNS_JOBS_MAX 8192       /* lookups in flight; queries past it are dropped */
#define DNS_BATCH 32            /* datagrams per recvmmsg/sendmmsg */
#define DNS_RX_MAX 4096         /* a UDP query larger than this is dropped */
#define DNS_TX_BUF (256 * 1024) /* replies batched before one sendmmsg */
#define DNS_TCP_CONNS_MAX 1024
#define DNS_TCP_IDLE_MS 10000
#define DNS_TCP_PENDING_MAX 64  /* queries in flight per TCP connection */
#define DNS_TCP_IN_MAX (2 * (2 + 65535) + 8192) /* buffered input per TCP connection */

struct dns_udp;
struct dns_tcp_conn;
struct fwd;

struct dns_recursors {
    struct sockaddr_storage addr[DNS_RECURSORS_MAX];
    socklen_t len[DNS_RECURSORS_MAX];
    size_t n;
    bool random;
    uint64_t timeout_ms;
};

/* One query waiting for data or an upstream. */
struct dns_job {
    struct cn_list link; /* s->jobs while pending, s->free_jobs when idle */
    struct dns_server *s;
    struct dns_req req;
    int need;
    /* where the reply goes */
    struct dns_udp *udp;
    struct sockaddr_storage peer;
    socklen_t peer_len;
    struct dns_tcp_conn *conn;
    /* what it waits on */
    struct rpc_query *q;
    struct http_tunnel *tunnel;
    struct fwd *fwd;
    uint8_t *pkt; /* the query as received (recursion only; heap) */
    size_t pkt_len;
};

struct dns_server {
    uv_loop_t *loop;
    const struct agent_config *acfg;
    struct rpc *rpc;
    struct acl_resolver *acl;
    struct http_server *http;
    bool is_server;
    bool closing;
    int refs; /* the owner, each listener and TCP connection: freed at 0 */
    struct dns_config *cfg; /* swapped whole on reload */
    struct dns_recursors rec;
    struct dns_builder *b;
    struct dns_cache *cache; /* service reads, checked against the store's index */
    struct dns_insts insts;
    struct cn_rand rand;
    struct dns_udp *udp[DNS_LISTENERS_MAX];
    size_t nudp;
    uv_tcp_t *tcp[DNS_LISTENERS_MAX];
    size_t ntcp;
    struct cn_list jobs, free_jobs, conns;
    size_t njobs, nconns;
    struct dns_udp *batching; /* replies to this socket are batched right now */
    uint8_t out[DNS_TCP_MAX + 64]; /* the reply being built */
    size_t out_len;
};

/* dns_server.c */
struct dns_job *dns_job_get(struct dns_server *s);
void dns_job_put(struct dns_job *j);
/* Run one query that arrived (on udp from peer, or on a TCP connection). */
void dns_handle(struct dns_server *s, struct dns_job *j, const uint8_t *pkt, size_t len);

void dns_server_unref(struct dns_server *s);

/* dns_net.c */
int dns_listen(struct dns_server *s, const char *ip, int port, struct cn_err *err);
void dns_net_close(struct dns_server *s);
/* Send a reply for j (batched when its socket is being read right now). */
void dns_reply(struct dns_job *j, const uint8_t *p, size_t len);
/* A TCP connection's job finished or was dropped. */
void dns_conn_unref(struct dns_tcp_conn *c);

/* dns_recursor.c */
int dns_recursors_parse(const char *text, struct sockaddr_storage *out, socklen_t *len);
void dns_forward(struct dns_job *j);
void dns_forward_cancel(struct fwd *f);

#endif
