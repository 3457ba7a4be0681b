/*
 * fuzz_template.c - libFuzzer harness for the template core: the input is a
 * template (first byte picks the delimiters and the missing-key mode); it is
 * parsed and, when it parses, executed in passes against canned agent
 * answers for every dependency it asks for, so the evaluator, the functions
 * and the JSON conversions all see fuzzed shapes. With the first byte's top
 * bits set the rest is read as an HCL config instead (cn_hcl).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/cn_hcl.h"
#include "tmpl/tmpl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *canned(enum tmpl_dep_kind k)
{
    switch (k) {
    case TMPL_DEP_KV_BLOCK:
    case TMPL_DEP_KV_GET:
        return "[{\"Key\":\"a/"
               "b\",\"Value\":\"NDA5Ng==\",\"Flags\":0,\"CreateIndex\":5,\"ModifyIndex\":6}]";
    case TMPL_DEP_KV_LIST:
        return "[{\"Key\":\"a/b\",\"Value\":\"eA==\"},{\"Key\":\"a/c/d\",\"Value\":null},"
               "{\"Key\":\"a/\",\"Value\":\"\"}]";
    case TMPL_DEP_HEALTH_SERVICE:
        return "[{\"Node\":{\"Node\":\"n1\",\"Address\":\"10.0.0.1\",\"Meta\":{\"k\":\"v\"}},"
               "\"Service\":{\"ID\":\"w1\",\"Service\":\"web\",\"Tags\":[\"b\",\"a\"],\"Port\":80,"
               "\"Meta\":{\"m\":\"1\"},\"TaggedAddresses\":{\"lan\":{\"Address\":\"1.2.3.4\","
               "\"Port\":1}}},"
               "\"Checks\":[{\"CheckID\":\"serfHealth\",\"Status\":\"passing\"}]}]";
    case TMPL_DEP_CATALOG_SERVICES:
        return "{\"consul\":[],\"web\":[\"b\",\"a\"]}";
    case TMPL_DEP_CATALOG_NODES:
        return "[{\"Node\":\"n2\",\"Address\":\"b\"},{\"Node\":\"n1\",\"Address\":\"a\"}]";
    case TMPL_DEP_CATALOG_NODE:
        return "{\"Node\":{\"Node\":\"n1\"},\"Services\":{\"w1\":{\"ID\":\"w1\",\"Service\":"
               "\"web\"}}}";
    case TMPL_DEP_CATALOG_DATACENTERS:
        return "[\"dc2\",\"dc1\"]";
    case TMPL_DEP_FILE:
        return "file contents\n";
    }
    return "null";
}

static const char *fuzz_getenv(void *ctx, const char *name)
{
    (void)ctx;
    return strcmp(name, "HOME") ? NULL : "/root";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t mode = data[0];
    const char *text = (const char *)data + 1;
    size--;
    if ((mode & 0xC0) == 0xC0) {
        struct cn_err err;
        json_t *j = cn_hcl_parse(text, size, &err);
        json_decref(j);
        return 0;
    }
    struct tmpl_parse_opts o = {NULL, NULL};
    if (mode & 1) o = (struct tmpl_parse_opts){"[[", "]]"};
    struct tmpl_error err;
    struct tmpl *t = tmpl_parse(text, size, &o, &err);
    if (!t) return 0;
    struct tmpl_store *s = tmpl_store_new();
    struct tmpl_used used;
    tmpl_used_init(&used);
    struct tmpl_env env = {.now_ns = 1795654629123456789LL,
                           .getenv = fuzz_getenv,
                           .missing_key_error = (mode & 2) != 0};
    struct cn_buf out;
    cn_buf_init(&out, 1u << 22);
    for (int pass = 0; pass < 4; pass++) {
        cn_buf_reset(&out);
        if (tmpl_execute(t, s, &env, &used, &out, &err) || used.missing == 0) break;
        for (struct tmpl_dep *d = tmpl_store_next(s, NULL); d; d = tmpl_store_next(s, d)) {
            if (tmpl_dep_has_data(d)) continue;
            const char *body = canned(tmpl_dep_kind(d));
            struct cn_err e;
            if (tmpl_dep_kind(d) == TMPL_DEP_FILE)
                tmpl_dep_set_file(s, d, body, strlen(body));
            else
                tmpl_dep_update(s, d, (mode & 4) ? 404 : 200, body, strlen(body), &e);
        }
    }
    cn_buf_release(&out);
    tmpl_used_release(&used);
    tmpl_store_free(s);
    tmpl_free(t);
    return 0;
}
