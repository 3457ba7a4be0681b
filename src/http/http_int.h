/*
 * http_int.h - what the endpoint files of src/http share: the request, the
 * route table, parameter parsing and response helpers.
 *
 * A handler receives a parsed request and must answer it exactly once with
 * one of the http_reply_* functions, either before returning or later (a
 * blocking query): nothing else is needed for the connection to move on.
 * All request memory comes from r->arena and dies with the request.
 */
#ifndef HTTP_INT_H
#define HTTP_INT_H

#include <http_parser.h>
#include <jansson.h>

#include "http/http.h"
#include "lib/cn_arena.h"
#include "lib/cn_buf.h"
#include "lib/cn_jw.h"
#include "lib/cn_list.h"
#include "lib/cn_str.h"
#include "rpc/rpc.h"

enum http_method_mask {
    M_GET = 1 << 0,
    M_PUT = 1 << 1,
    M_POST = 1 << 2,
    M_DELETE = 1 << 3,
    M_HEAD = 1 << 4,
    M_OPTIONS = 1 << 5,
};

struct http_req;
typedef void (*http_handler_fn)(struct http_req *r);

struct http_route {
    const char *path;  /* exact path, or a prefix when it ends with '/' */
    unsigned methods;  /* M_* accepted */
    http_handler_fn handler;
    size_t body_max;   /* 0 = CN_HTTP_BODY_MAX; HTTP_BODY_KV, HTTP_BODY_TXN */
    unsigned flags;    /* ROUTE_* */
};

enum route_flags {
    /* Answered without resolving the token (Consul's /v1/status endpoints). Every
     * other route resolves it once, in http_dispatch, before its handler. */
    ROUTE_NO_ACL = 1 << 0,
    /* Answered by the receiving agent from its own state (the /v1/agent
     * endpoints, event list...): never forwarded to a server. */
    ROUTE_LOCAL = 1 << 1,
};

#define HTTP_BODY_KV ((size_t)-1)
#define HTTP_BODY_TXN ((size_t)-2)

struct http_param {
    char *key;
    char *value; /* "" when given without '=' */
};

struct http_conn;

struct http_req {
    struct http_conn *conn;
    struct http_server *srv;
    const struct http_env *env;
    const struct http_config *cfg;
    struct cn_arena arena;
    unsigned method;     /* one M_* bit */
    const char *method_name;
    char *path;          /* decoded */
    char *raw_query;     /* as sent, without '?' */
    char *raw_url;       /* the request target as sent */
    struct http_param *params;
    size_t nparams;
    const struct http_route *route;
    char *suffix;        /* decoded path after a prefix route ("" if none) */
    char *token;         /* from ?token=, X-Consul-Token, Authorization: Bearer */
    const struct acl_authz *authz; /* the token, resolved by http_dispatch */
    char *remote_ip;
    int hops;            /* forwards this request has been through */
    bool accept_gzip;
    bool pretty;
    struct cn_buf body;
    /* async plumbing */
    void (*cancel)(struct http_req *r); /* called if the client goes away */
    void *cancel_arg;
    bool responded;
    /* response */
    int status;
    struct cn_buf resp_headers;
    struct cn_buf resp_body;
};

/* ---- parameters ------------------------------------------------------ */
/* The value of ?key (first occurrence), or NULL when absent. */
const char *http_param(const struct http_req *r, const char *key);
bool http_has_param(const struct http_req *r, const char *key);
/* Go's url.Values.Encode of the query: sorted by key, re-escaped. */
char *http_encoded_query(struct http_req *r);

/* Parse ?index ?wait ?stale ?consistent ?leader ?max_stale ?dc into opts.
 * On a bad value the 400 answer has been sent and false is returned. */
bool http_parse_query_opts(struct http_req *r, struct rpc_query_opts *opts);

/* Stale reads and the router (Consul's max_stale, spec
 * blocking-and-consistency.md section 6). A GET with ?stale or ?max_stale > 0 may
 * be answered by any server. */
bool http_read_allows_stale(const struct http_req *r);
/* The max_stale such a read carries, in ns, on the reads Consul re-asks in
 * default mode when the stale answer's LastContact is above it (catalog,
 * health, prepared queries); 0 = none. */
int64_t http_max_stale_bound(const struct http_req *r);
/* Make the read a default-mode one (drop ?stale and ?max_stale), so the
 * server it is forwarded to, or this one, answers as the leader would. */
void http_read_in_default_mode(struct http_req *r);
/* discovery_max_stale: a catalog or health read that chose no mode gets
 * ?max_stale=<it> (the router calls it on the agent the client asked). */
void http__apply_discovery_max_stale(struct http_req *r);

/* ---- responses ------------------------------------------------------- */
void http_add_header(struct http_req *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Index, KnownLeader, LastContact (and effective consistency). */
void http_add_meta_headers(struct http_req *r, const struct rpc_meta *m);
/* A JSON writer into the response body, pretty when asked. */
void http_json_begin(struct http_req *r, struct cn_jw *w);
void http_reply_json(struct http_req *r, int status, struct cn_jw *w);
void http_reply_text(struct http_req *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void http_reply_raw(struct http_req *r, int status, const char *content_type, const void *p,
                    size_t n);
/* Like http_reply_raw, taking body's bytes instead of copying them (large
 * answers: a snapshot archive); body is left empty. */
void http_reply_take(struct http_req *r, int status, const char *content_type, struct cn_buf *body);
/* 200 with an empty body (agent writes). */
void http_reply_empty(struct http_req *r, int status);
/* Map an rpc/state error to Consul's status and text. */
void http_reply_error(struct http_req *r, int rc, const char *msg);
/* The common bodies: 403 "Permission denied", 405, 404 unknown route. */
void http_reply_denied(struct http_req *r);

/* ---- JSON bodies ----------------------------------------------------- */
/* Parse the body as JSON; on failure the 400 `Request decode failed: ...`
 * has been sent and NULL returned. An empty body gives an empty object when
 * empty_ok. The caller json_decref()s the result. */
json_t *http_body_json(struct http_req *r, bool empty_ok);

/* Answer with a complete raw HTTP response produced elsewhere (a forwarded
 * request's answer). */
void http_reply_passthrough(struct http_req *r, const void *resp, size_t len);
/* The request re-serialised for forwarding: method, target, token, body. */
void http_request_bytes(const struct http_req *r, struct cn_buf *out);

/* ---- routing ---------------------------------------------------------- */
void http_dispatch(struct http_req *r);
/* Dispatch without asking the router where to run (forwarded requests). */
void http_dispatch_here(struct http_req *r);
/* Resolve the token and run the handler of a request the env's token_wait
 * hook took (r->cancel cleared first by the hook). */
void http_dispatch_resume(struct http_req *r);
/* Route for a method/path (NULL when none matches any method); used by the
 * connection for body limits before the body arrives. */
const struct http_route *http_route_find(const char *path);
/* Every route, for the ACL probe test. */
const struct http_route *http_routes(size_t *n);

/* Called by the connection when the handler answered. */
void http__conn_respond(struct http_req *r);

/* Endpoint groups: one file each, each exporting its routes as a table
 * ending with a {NULL} entry. The router joins the tables listed in
 * router.c; a family whose file is not built yet is a weak NULL symbol
 * there, so adding a family touches only its own file and meson.build. */
#define HTTP_ROUTES_END {NULL, 0, NULL, 0, 0}
extern const struct http_route http_routes_kv[];
extern const struct http_route http_routes_status[];
extern const struct http_route http_routes_agent[];
extern const struct http_route http_routes_catalog[];
extern const struct http_route http_routes_health[];
extern const struct http_route http_routes_session[];
extern const struct http_route http_routes_event[];
extern const struct http_route http_routes_txn[];
extern const struct http_route http_routes_acl[];
extern const struct http_route http_routes_query[];
extern const struct http_route http_routes_coordinate[];
extern const struct http_route http_routes_operator[];
extern const struct http_route http_routes_snapshot[];
extern const struct http_route http_routes_internal[];

#endif
