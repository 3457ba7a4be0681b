/*
 * rpc_filter.h - Consul's ?filter= expression language (go-bexpr) for the
 * common selectors:
 *
 *   <Selector> == | != <Value>           <Selector> is empty | is not empty
 *   <Selector> contains | not contains <Value>
 *   <Selector> matches | not matches <Value>   (POSIX extended regex)
 *   <Value> in | not in <Selector>       and, or, not, ( )
 *
 * Values are bare words (dotted words too), "double" or `raw` strings and
 * numbers. A selector is a path of JSON field names of the returned object
 * (Service.Tags, Node.Meta.env, Node.Meta["a.b"], Checks.Status); through
 * a list it means "any element". Each endpoint declares the shape of its
 * objects (a schema) so a bad selector, an operator its field does not
 * support or a value that does not fit the field's type fails when the
 * filter is created, as Consul fails with 400.
 *
 * Pure: parsing and evaluation over jansson values, no I/O.
 */
#ifndef RPC_FILTER_H
#define RPC_FILTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/cn_err.h"

#define RPC_FILTER_MAX_LEN 16384
#define RPC_FILTER_MAX_DEPTH 64

enum rpc_ftype {
    RPC_F_STRING = 1,
    RPC_F_INT,
    RPC_F_UINT,
    RPC_F_FLOAT,
    RPC_F_BOOL,
    RPC_F_STRLIST,    /* []string */
    RPC_F_STRMAP,     /* map[string]string */
    RPC_F_STRUCT,     /* fields */
    RPC_F_STRUCTLIST, /* []struct: a selector through it means "any element" */
    RPC_F_STRUCTMAP,  /* map[string]struct */
};

/* A field of an object shape; fields of a struct end with {NULL}. */
struct rpc_fschema {
    const char *name;
    enum rpc_ftype type;
    const struct rpc_fschema *fields; /* RPC_F_STRUCT* */
};

/* The shapes endpoints filter over (rpc/filter_schema.c). */
extern const struct rpc_fschema rpc_fs_node[];           /* Node */
extern const struct rpc_fschema rpc_fs_service_node[];   /* ServiceNode (catalog rows) */
extern const struct rpc_fschema rpc_fs_node_service[];   /* NodeService */
extern const struct rpc_fschema rpc_fs_health_check[];   /* HealthCheck */
extern const struct rpc_fschema rpc_fs_check_service_node[]; /* CheckServiceNode */
extern const struct rpc_fschema rpc_fs_agent_service[];  /* AgentService */
extern const struct rpc_fschema rpc_fs_member[];         /* Member */

struct rpc_filter;

/* Parse and validate against a shape. NULL on error, with err set to the
 * message Consul answers with 400 (it starts "Failed to create boolean
 * expression evaluator: "). */
struct rpc_filter *rpc_filter_new(const char *expr, const struct rpc_fschema *shape,
                                  struct cn_err *err);
void rpc_filter_free(struct rpc_filter *f);
/* Does the object (the JSON of one result item) match? */
bool rpc_filter_match(const struct rpc_filter *f, const json_t *obj);
/* The same over JSON text (parsed here); false on unparsable text. */
bool rpc_filter_match_text(const struct rpc_filter *f, const char *json, size_t n);

#endif
