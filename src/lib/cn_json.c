#include "lib/cn_json.h"

#include <math.h>
#include <string.h>
#include <strings.h>

#include "lib/cn_buf.h"
#include "lib/cn_time.h"

/* jansson stores integers as int64 and refuses larger ones, but Consul's
 * KV Flags are uint64 (cairn lock's flags use the top bit). Such integers
 * are rewritten as strings carrying a marker no JSON text can produce (a
 * leading NUL), which cn_json_u64 recognises. Returns NULL when nothing
 * needed rewriting. */
#define BIG_MARK "\\u0000u64:"

static char *quote_big_integers(const char *p, size_t n, size_t *out_len)
{
    struct cn_buf b;
    bool in_str = false, esc = false, changed = false;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (in_str) {
            cn_buf_putc(&b, c);
            if (esc) esc = false;
            else if (c == '\\') esc = true;
            else if (c == '"') in_str = false;
            continue;
        }
        if (c == '"') {
            in_str = true;
            cn_buf_putc(&b, c);
            continue;
        }
        bool starts = (c >= '0' && c <= '9') || (c == '-' && i + 1 < n && p[i + 1] >= '0' && p[i + 1] <= '9');
        bool after_ident = i > 0 && ((p[i - 1] >= 'a' && p[i - 1] <= 'z') || (p[i - 1] >= '0' && p[i - 1] <= '9') || p[i - 1] == '.');
        if (!starts || after_ident) {
            cn_buf_putc(&b, c);
            continue;
        }
        size_t j = i + (c == '-');
        while (j < n && p[j] >= '0' && p[j] <= '9') j++;
        bool integer = j >= n || (p[j] != '.' && p[j] != 'e' && p[j] != 'E');
        uint64_t v;
        if (integer && c != '-' && cn_parse_u64(cn_str_make(p + i, j - i), &v) == 0 && v > INT64_MAX) {
            cn_buf_puts(&b, "\"" BIG_MARK);
            cn_buf_put(&b, p + i, j - i);
            cn_buf_putc(&b, '"');
            changed = true;
        } else {
            cn_buf_put(&b, p + i, j - i);
        }
        i = j - 1;
    }
    if (!changed) {
        cn_buf_release(&b);
        return NULL;
    }
    return cn_buf_take(&b, out_len);
}

json_t *cn_json_parse(const char *p, size_t n, struct cn_err *err)
{
    json_error_t je;
    json_t *v = json_loadb(p, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!v && strstr(je.text, "too big integer")) {
        size_t len;
        char *q = quote_big_integers(p, n, &len);
        if (q) {
            v = json_loadb(q, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
            free(q);
        }
    }
    if (!v) {
        if (n == 0 || je.position >= (int)n)
            cn_err_set(err, CN_EINVAL, "unexpected EOF");
        else
            cn_err_set(err, CN_EINVAL, "%s at line %d column %d", je.text, je.line, je.column);
    }
    return v;
}

json_t *cn_json_get(const json_t *obj, const char *field)
{
    const char *k;
    json_t *v;
    if (!json_is_object(obj)) return NULL;
    v = json_object_get(obj, field);
    if (v) return v;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (!strcasecmp(k, field)) return v;
    }
    return NULL;
}

json_t *cn_json_get_any(const json_t *obj, const char *const *names)
{
    for (; *names; names++) {
        json_t *v = cn_json_get(obj, *names);
        if (v) return v;
    }
    return NULL;
}

int cn_json_check_fields(const json_t *obj, const char *const *known, struct cn_err *err)
{
    const char *k;
    json_t *v;
    if (!json_is_object(obj)) return 0;
    json_object_foreach((json_t *)obj, k, v)
    {
        const char *const *f = known;
        for (; *f; f++)
            if (!strcasecmp(k, *f)) break;
        if (!*f) return cn_err_set(err, CN_EINVAL, "json: unknown field \"%s\"", k);
    }
    return 0;
}

const char *cn_json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER:
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "bool";
    default: return "null";
    }
}

static int type_err(struct cn_err *err, const json_t *v, const char *field, const char *want)
{
    return cn_err_set(err, CN_EINVAL, "json: cannot unmarshal %s into Go struct field %s of type %s",
                      cn_json_type_name(v), field, want);
}

int cn_json_str(const json_t *obj, const char *field, const char **out, struct cn_err *err)
{
    json_t *v = cn_json_get(obj, field);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v)) return type_err(err, v, field, "string");
    *out = json_string_value(v);
    return 0;
}

int cn_json_u64(const json_t *obj, const char *field, uint64_t *out, struct cn_err *err)
{
    json_t *v = cn_json_get(obj, field);
    if (!v || json_is_null(v)) return 0;
    if (json_is_string(v) && json_string_length(v) > 5 && !memcmp(json_string_value(v), "\0u64:", 5) &&
        cn_parse_u64(cn_str_make(json_string_value(v) + 5, json_string_length(v) - 5), out) == 0)
        return 0; /* an integer above INT64_MAX, see cn_json_parse */
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) == floor(json_real_value(v)) &&
        json_real_value(v) < 18446744073709551616.0) {
        *out = (uint64_t)json_real_value(v);
        return 0;
    }
    return type_err(err, v, field, "uint64");
}

int cn_json_i64(const json_t *obj, const char *field, int64_t *out, struct cn_err *err)
{
    json_t *v = cn_json_get(obj, field);
    if (!v || json_is_null(v)) return 0;
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return 0;
    }
    if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v))) {
        *out = (int64_t)json_real_value(v);
        return 0;
    }
    return type_err(err, v, field, "int");
}

int cn_json_bool(const json_t *obj, const char *field, bool *out, struct cn_err *err)
{
    json_t *v = cn_json_get(obj, field);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v)) return type_err(err, v, field, "bool");
    *out = json_is_true(v);
    return 0;
}

int cn_json_double(const json_t *obj, const char *field, double *out, struct cn_err *err)
{
    json_t *v = cn_json_get(obj, field);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_number(v)) return type_err(err, v, field, "float64");
    *out = json_number_value(v);
    return 0;
}

int cn_json_dur_value(const json_t *v, const char *what, int64_t *ns, struct cn_err *err)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (cn_dur_parse(cn_str_make(s, json_string_length(v)), ns))
            return cn_err_set(err, CN_EINVAL, "time: invalid duration \"%s\"", s);
        return 0;
    }
    if (json_is_integer(v)) {
        *ns = (int64_t)json_integer_value(v);
        return 0;
    }
    if (json_is_real(v)) {
        *ns = (int64_t)json_real_value(v);
        return 0;
    }
    return type_err(err, v, what, "time.Duration");
}

int cn_json_dur(const json_t *obj, const char *field, int64_t *ns, struct cn_err *err)
{
    json_t *v = cn_json_get(obj, field);
    if (!v || json_is_null(v)) return 0;
    return cn_json_dur_value(v, field, ns, err);
}
