/*
 * defs.h - service and check definitions as users write them: the body of
 * PUT /v1/agent/service/register and /v1/agent/check/register, and the
 * `services`/`checks` entries of config files (PascalCase or snake_case,
 * keys matched case-insensitively like Go; unknown keys refused). Also the
 * JSON decoding of catalog registrations (PUT /v1/catalog/register), which
 * shares the field readers.
 *
 * Everything decoded is allocated from the caller's arena. Errors carry
 * Consul's 400 texts ("Missing service name", "Invalid check: ...").
 */
#ifndef AGENT_DEFS_H
#define AGENT_DEFS_H

#include <jansson.h>

#include "lib/cn_arena.h"
#include "lib/cn_err.h"
#include "lib/cn_jw.h"
#include "state/state.h"

/* A check definition (Consul's CheckType + CheckDefinition). */
struct agent_check_def {
    char *id;       /* "" = derived (Name, or service:<id>[:n]) */
    char *name;
    char *status;   /* "" = critical */
    char *notes;
    char *service_id;
    char *token;
    struct state_check_def def;
    int64_t success_before_passing;
    int64_t failures_before_warning; /* -1 = same as failures_before_critical */
    int64_t failures_before_critical;
    bool script_legacy; /* came as "Script": run through /bin/sh -c */
};

/* A service definition with its embedded checks. */
struct agent_service_def {
    struct state_service svc; /* node unset */
    bool weights_given;
    struct agent_check_def *checks;
    size_t nchecks;
    char *token;
};

/* Decode; err->msg is the 400 text (e.g. `Request decode failed: json:
 * unknown field "x"`). */
int agent_service_def_decode(const json_t *v, struct cn_arena *a, struct agent_service_def *out,
                             struct cn_err *err);
int agent_check_def_decode(const json_t *v, struct cn_arena *a, struct agent_check_def *out,
                           struct cn_err *err);
/* Consul's checks after decoding, in its order: name, address, weights,
 * meta, embedded checks (err->msg: "Missing service name", "Invalid
 * Weights: ...", "Invalid check: ...", "Status for checks must ..."). */
int agent_service_def_validate(struct agent_service_def *s, struct cn_err *err);
/* A standalone check: "Missing check name", "Bad check status", "Invalid
 * check: ...". */
int agent_check_def_validate(struct agent_check_def *c, struct cn_err *err);
/* CheckType.Validate() alone ("Interval must be > 0 ...", ...). */
int agent_check_type_validate(const struct agent_check_def *c, struct cn_err *err);
/* Consul's CheckType.Type(): "http", "ttl", "tcp", "script", "alias", ... */
const char *agent_check_type(const struct agent_check_def *c);
/* Node/service meta rules (ValidateMetadata): err->msg without prefix. */
int agent_meta_validate(const struct state_pair *m, size_t n, bool allow_consul_prefix,
                        struct cn_err *err);

/* Definitions back to JSON (data_dir persistence), readable by the
 * decoders above. */
void agent_service_def_json(struct cn_jw *w, const struct state_service *s, const char *token);
void agent_check_def_json(struct cn_jw *w, const struct agent_check_def *c);

/* PUT /v1/catalog/register body -> registration. *token gets
 * WriteRequest.Token or Token ("" if none). */
int agent_catalog_register_decode(const json_t *v, struct cn_arena *a, struct state_register *out,
                                  const char **token, struct cn_err *err);
/* PUT /v1/catalog/deregister body. */
int agent_catalog_deregister_decode(const json_t *v, struct cn_arena *a, const char **node,
                                    const char **service_id, const char **check_id,
                                    const char **token, struct cn_err *err);

#endif
