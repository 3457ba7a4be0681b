/*
 * cn_jw.h - a streaming JSON writer into a cn_buf.
 *
 * Output matches Go's encoding/json byte for byte where clients can see it:
 * compact by default; pretty = json.MarshalIndent with four spaces (empty
 * containers stay "{}" / "[]"); strings escaped as Go does, including the
 * HTML-safe \u003c \u003e \u0026 and U+2028/9, invalid UTF-8 as \ufffd. Field
 * order is the caller's, which is how Consul's struct order is reproduced.
 * Writing into an unlimited buffer cannot fail; the writer has no error path.
 */
#ifndef CN_JW_H
#define CN_JW_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/cn_buf.h"
#include "lib/cn_str.h"

#define CN_JW_DEPTH_MAX 32

struct cn_jw {
    struct cn_buf *out;
    bool pretty;
    const char *indent; /* pretty indent unit: four spaces unless set */
    bool after_key;
    int depth;
    uint32_t count[CN_JW_DEPTH_MAX];
};

void cn_jw_init(struct cn_jw *w, struct cn_buf *out, bool pretty);
/* Pretty output indented with unit (e.g. "\t", as `consul kv export`). */
void cn_jw_set_indent(struct cn_jw *w, const char *unit);
/* Pretty output ends with a newline, as Consul's ?pretty does. */
void cn_jw_finish(struct cn_jw *w);

void cn_jw_obj_begin(struct cn_jw *w);
void cn_jw_obj_end(struct cn_jw *w);
void cn_jw_arr_begin(struct cn_jw *w);
void cn_jw_arr_end(struct cn_jw *w);
void cn_jw_key(struct cn_jw *w, const char *key);
void cn_jw_keyn(struct cn_jw *w, const char *key, size_t n);

void cn_jw_str(struct cn_jw *w, const char *s);
void cn_jw_strn(struct cn_jw *w, const char *s, size_t n);
void cn_jw_cnstr(struct cn_jw *w, struct cn_str s);
void cn_jw_u64(struct cn_jw *w, uint64_t v);
void cn_jw_i64(struct cn_jw *w, int64_t v);
void cn_jw_double(struct cn_jw *w, double v);
void cn_jw_bool(struct cn_jw *w, bool v);
void cn_jw_null(struct cn_jw *w);
/* Bytes as standard base64, or null when n == 0 (Go's []byte(nil)). */
void cn_jw_base64(struct cn_jw *w, const void *p, size_t n);
/* Already-encoded JSON text, re-indented when pretty. */
void cn_jw_raw(struct cn_jw *w, const char *json, size_t n);

void cn_jw_key_str(struct cn_jw *w, const char *key, const char *v);
void cn_jw_key_strn(struct cn_jw *w, const char *key, const char *v, size_t n);
void cn_jw_key_u64(struct cn_jw *w, const char *key, uint64_t v);
void cn_jw_key_i64(struct cn_jw *w, const char *key, int64_t v);
void cn_jw_key_bool(struct cn_jw *w, const char *key, bool v);
void cn_jw_key_null(struct cn_jw *w, const char *key);

/* Append s as a JSON string literal to b (used outside a writer too). */
void cn_json_quote(struct cn_buf *b, const char *s, size_t n);

#endif
