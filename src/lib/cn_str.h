/*
 * cn_str.h - borrowed byte slices and strict number parsing.
 *
 * A struct cn_str views bytes it does not own (nginx's ngx_str_t, h2o's iovec):
 * valid as long as the owner keeps them. Parsing functions never read past
 * len and never accept trailing junk, so every parser built on them stays
 * within the input it was given.
 */
#ifndef CN_STR_H
#define CN_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cn_str {
    const char *p;
    size_t len;
};

#define CN_STR(lit) ((struct cn_str){(lit), sizeof(lit) - 1})
#define CN_STR_NULL ((struct cn_str){NULL, 0})
#define CN_STR_FMT "%.*s"
#define CN_STR_ARG(s) (int)(s).len, (s).p

struct cn_str cn_str_from(const char *cstr);
struct cn_str cn_str_make(const void *p, size_t len);
bool cn_str_eq(struct cn_str a, struct cn_str b);
bool cn_str_eq_cstr(struct cn_str a, const char *b);
bool cn_str_case_eq(struct cn_str a, struct cn_str b);
bool cn_str_case_eq_cstr(struct cn_str a, const char *b);
bool cn_str_has_prefix(struct cn_str s, struct cn_str prefix);
int cn_str_cmp(struct cn_str a, struct cn_str b);
struct cn_str cn_str_sub(struct cn_str s, size_t from, size_t len);
/* Index of the first c at or after from, or -1. */
long cn_str_index(struct cn_str s, char c, size_t from);
struct cn_str cn_str_trim(struct cn_str s);
/* Split at the first sep: head gets what precedes it, s keeps what follows.
 * Returns false (head = whole s, s emptied) when sep is absent. */
bool cn_str_cut(struct cn_str *s, char sep, struct cn_str *head);
/* Allocated NUL-terminated copy. */
char *cn_str_dup(struct cn_str s);

/* Strict decimal parsers: the whole slice must be the number. */
int cn_parse_u64(struct cn_str s, uint64_t *out);
int cn_parse_i64(struct cn_str s, int64_t *out);
int cn_parse_bool(struct cn_str s, bool *out); /* Go strconv.ParseBool spellings */

/* Percent-decoding of a URL component into dst (dst may alias src.p).
 * plus_as_space for query strings. Returns decoded length or CN_EINVAL. */
long cn_url_decode(struct cn_str src, char *dst, bool plus_as_space);

/* Decimal text of v into out (at least 21 bytes); returns its length. No
 * NUL. Hot paths use it instead of printf. */
size_t cn_u64_fmt(uint64_t v, char *out);

/* FNV-1a, for hash tables. */
uint64_t cn_hash_bytes(const void *p, size_t n);

#endif
