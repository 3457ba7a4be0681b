/* libFuzzer: ?filter= expressions. The first byte picks the object shape,
 * the rest is the expression; one that parses is evaluated against a
 * sample object of that shape and against junk JSON values. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/rpc_filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const samples[] = {
    "{\"Node\":{\"Node\":\"n1\",\"Meta\":{\"env\":\"prod\"},\"TaggedAddresses\":null},"
    "\"Service\":{\"ID\":\"w\",\"Service\":\"web\",\"Tags\":[\"a\",\"b\"],\"Port\":80,"
    "\"Weights\":{\"Passing\":1,\"Warning\":1},\"TaggedAddresses\":{\"lan\":{\"Address\":\"x\","
    "\"Port\":1}}},\"Checks\":[{\"Status\":\"passing\",\"ServiceTags\":[]},{\"Status\":7}]}",
    "[1,2,3]",
    "null",
    "{\"Node\":[],\"Service\":\"x\",\"Checks\":{}}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct rpc_fschema *const shapes[] = {
        rpc_fs_node, rpc_fs_service_node, rpc_fs_node_service, rpc_fs_health_check,
        rpc_fs_check_service_node, rpc_fs_agent_service, rpc_fs_member};
    struct cn_err err;
    if (size < 1) return 0;
    const struct rpc_fschema *shape = shapes[data[0] % (sizeof shapes / sizeof shapes[0])];
    char *expr = malloc(size);
    memcpy(expr, data + 1, size - 1);
    expr[size - 1] = '\0';
    struct rpc_filter *f = rpc_filter_new(expr, shape, &err);
    if (f) {
        for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++)
            (void)rpc_filter_match_text(f, samples[i], strlen(samples[i]));
        rpc_filter_free(f);
    }
    free(expr);
    return 0;
}
