/*
 * cn_json.h - reading JSON request bodies and config files the way Go's
 * encoding/json does, over jansson.
 *
 * Field lookup tries the exact key first, then a case-insensitive match
 * (python3-consul sends "serviceid" for ServiceID). Objects can be checked
 * against the fields a struct knows, failing with Go's text
 * `json: unknown field "<k>"`. Durations accept Go strings or nanosecond
 * numbers. All of this is the only place jansson is touched for input.
 */
#ifndef CN_JSON_H
#define CN_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/cn_err.h"
#include "lib/cn_str.h"

/* Parse a complete document (any JSON value). NULL on error, with err set to
 * a message such as "invalid character 'x' at line 1 column 3". */
json_t *cn_json_parse(const char *p, size_t n, struct cn_err *err);

/* Exact key, else the first case-insensitive match; NULL when absent. */
json_t *cn_json_get(const json_t *obj, const char *field);
/* First present of several spellings (e.g. "ServiceID", "service_id"). */
json_t *cn_json_get_any(const json_t *obj, const char *const *names);

/* Fail with `json: unknown field "<k>"` for a key matching none of known
 * (case-insensitively). known is NULL-terminated. */
int cn_json_check_fields(const json_t *obj, const char *const *known, struct cn_err *err);

/* Typed reads of an optional field: absent or null leaves *out unchanged and
 * returns 0; a wrong type is CN_EINVAL with a Go-like message naming field. */
int cn_json_str(const json_t *obj, const char *field, const char **out, struct cn_err *err);
int cn_json_u64(const json_t *obj, const char *field, uint64_t *out, struct cn_err *err);
int cn_json_i64(const json_t *obj, const char *field, int64_t *out, struct cn_err *err);
int cn_json_bool(const json_t *obj, const char *field, bool *out, struct cn_err *err);
int cn_json_double(const json_t *obj, const char *field, double *out, struct cn_err *err);
/* Go duration: "10s" or a number of nanoseconds. */
int cn_json_dur(const json_t *obj, const char *field, int64_t *ns, struct cn_err *err);
/* A value (not a field) as duration. */
int cn_json_dur_value(const json_t *v, const char *what, int64_t *ns, struct cn_err *err);

/* JSON type name as Go's errors spell it ("string", "number", "object"...). */
const char *cn_json_type_name(const json_t *v);

#endif
