/* catalog_int.h - request helpers shared by the catalog, health and agent
 * endpoint files (catalog.c defines them). */
#ifndef HTTP_CATALOG_INT_H
#define HTTP_CATALOG_INT_H

#include "http/http_int.h"
#include "rpc/rpc_catalog.h"
#include "rpc/rpc_filter.h"

/* Every ?name=value of a repeatable parameter, in order (arena array). */
size_t http_params_all(struct http_req *r, const char *name, const char ***out);
/* ?node-meta=key:value (repeatable). */
void http_parse_node_meta(struct http_req *r, const struct rpc_meta_filter **out, size_t *n);
/* ?tag=... (repeatable) as slices. */
void http_parse_tags(struct http_req *r, const struct cn_str **out, size_t *n);
/* ?filter=: false after answering 400 with the parse error. *out is NULL
 * without the parameter; free it with rpc_filter_free. */
bool http_parse_filter(struct http_req *r, const struct rpc_fschema *shape,
                       struct rpc_filter **out);

/* A catalog/health read in flight: the query and the filter it owns. A
 * client that leaves cancels the query and frees the filter. */
struct http_read {
    struct rpc_query *q;
    struct rpc_filter *filter;
};
struct http_read *http_read_start(struct http_req *r, const struct rpc_query_opts *opts,
                                  rpc_run_fn run, rpc_done_fn done, void *req,
                                  struct rpc_filter *filter);
/* In done(): headers for the answer (index, leader, consistency). */
void http_read_headers(struct http_req *r, struct rpc_query *q);
/* In done(), before answering (the answer may free the request): take the
 * filter; after answering, release it with the query. */
struct rpc_filter *http_read_take_filter(struct http_req *r);
void http_read_finish(struct rpc_query *q, struct rpc_filter *filter);

/* Submit a vetted catalog command and answer as /v1/catalog/register does
 * (true, or the write's error); cmd is released. */
void http_catalog_submit(struct http_req *r, struct cn_buf *cmd);

/* The agent's datacenter (the Datacenter field of nodes). */
const char *http_datacenter(struct http_req *r);

#endif
