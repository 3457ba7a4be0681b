/*
 * cn_hcl.h - an HCL v1 reader (hashicorp/hcl v1, as consul-template
 * configs, Consul agent configs and ACL rules are written) into a jansson
 * tree, so every HCL consumer validates one JSON shape and JSON input works
 * through the same code.
 *
 * Syntax: `key = value` and `key { ... }` items separated by newlines or
 * commas; keys are identifiers (letters, digits, _ - . :) or quoted strings;
 * block labels `key "a" "b" { ... }`; values are strings ("..." with Go/HCL
 * escapes; ${...} kept verbatim), heredocs (<<EOF / <<-EOF), numbers
 * (decimal, 0x hex, leading-0 octal as HCL v1 reads them: `perms = 0640` is
 * 416), floats, true/false, lists [a, b,] and nested objects; comments #,
 * // and slash-star.
 *
 * Mapping: an object body becomes a JSON object; a labelled block
 * `a "b" "c" { x = 1 }` becomes {"a": {"b": {"c": {"x": 1}}}}. A key given
 * once maps to its value; a key given more than once (repeated blocks, as
 * `template { } template { }`) maps to an array of the values in order, as
 * HCL v1 decodes them into a list. Text whose first non-blank character is
 * '{' is JSON (HCL v1 accepts JSON the same way).
 */
#ifndef CN_HCL_H
#define CN_HCL_H

#include <jansson.h>
#include <stddef.h>

#include "lib/cn_err.h"

#define CN_HCL_DEPTH_MAX 64

/* Parse a document. NULL with err set to "<line>:<col>: <message>". */
json_t *cn_hcl_parse(const char *text, size_t len, struct cn_err *err);

/* Visit v as "one or many": each element of an array, else v itself
 * (a block given once or repeated). Stops at the first non-zero return. */
int cn_hcl_each(json_t *v, int (*fn)(json_t *item, void *ctx), void *ctx);

#endif
