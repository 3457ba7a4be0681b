/* fuzz_command - Raft commands and node dumps under libFuzzer.
 *
 * Commands reach a server's FSM from the network (a follower forwards the
 * encoded write; the log replicates it), so any bytes must either apply or
 * be refused, never crash or corrupt the store. Each input is applied twice
 * to a fresh store (the second time meets what the first created) and also
 * read as an anti-entropy node dump, which a client agent decodes from a
 * server's answer.
 *
 * Seeds: CAIRN_FUZZ_WRITE_SEEDS=<dir> ./fuzz_command -runs=0 writes the
 * encodings of real commands there (the committed corpus/ came from it). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cn_arena.h"
#include "lib/cn_buf.h"
#include "rpc/rpc_catalog.h"
#include "rpc/rpc_cmd.h"
#include "rpc/rpc_coordinate.h"
#include "server/fsm.h"
#include "state/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static void apply(struct state_store *st, uint64_t index, const uint8_t *data, size_t size)
{
    struct rpc_result res = {0};
    (void)server_fsm_apply(st, index, data, size, &res);
    free(res.text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy: ASan catches a read past the end */
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    struct state_store *st = state_new();
    apply(st, 1, copy, size);
    apply(st, 2, copy, size);
    state_free(st);
    struct cn_arena a;
    struct rpc_node_dump d;
    cn_arena_init(&a, 1024);
    if (rpc_node_dump_decode(copy, size, &a, &d) == 0) {
        /* what decodes re-encodes (the fields the FSM would compare) */
        struct cn_buf b;
        cn_buf_init(&b, CN_BUF_UNLIMITED);
        rpc_node_dump_encode(&d, &b);
        cn_buf_release(&b);
    }
    cn_arena_release(&a);
    free(copy);
    return 0;
}

/* ---- seeds ------------------------------------------------------------------ */

static void put_seed(const char *dir, const char *name, const struct cn_buf *b)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(b->data, 1, b->len, f);
    fclose(f);
}

static void write_seeds(const char *dir)
{
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    struct rpc_kvs_cmd kv = {.op = RPC_KVS_SET, .key = CN_STR("web/config"), .value = CN_STR("x=1"),
                             .flags = 42};
    rpc_kvs_encode(&kv, &b);
    put_seed(dir, "kvs_set", &b);
    cn_buf_reset(&b);
    kv.op = RPC_KVS_CAS;
    kv.cas_index = 7;
    rpc_kvs_encode(&kv, &b);
    put_seed(dir, "kvs_cas", &b);
    cn_buf_reset(&b);
    kv.op = RPC_KVS_DELETE_TREE;
    kv.key = CN_STR("web/");
    rpc_kvs_encode(&kv, &b);
    put_seed(dir, "kvs_delete_tree", &b);
    cn_buf_reset(&b);
    rpc_tombstone_reap_encode(5, &b);
    put_seed(dir, "tombstone_reap", &b);
    cn_buf_reset(&b);

    char *tags[] = {"v1", "primary"};
    struct state_pair meta = {.key = "rack", .value = "r1"};
    struct state_node n = {.id = "", .name = "n1", .address = "10.0.0.1", .meta = &meta, .nmeta = 1};
    struct state_service s = {.node = "n1", .kind = "", .id = "web1", .name = "web", .tags = tags,
                              .ntags = 2, .address = "", .port = 80, .socket_path = "",
                              .weight_passing = 1, .weight_warning = 1, .proxy = "", .connect = ""};
    struct state_check c = {.node = "n1", .check_id = "service:web1", .name = "web alive",
                            .status = "passing", .notes = "", .output = "ok",
                            .service_id = "web1", .service_name = "web", .service_tags = tags,
                            .nservice_tags = 2, .type = "ttl"};
    struct state_register r = {.node = &n, .service = &s, .checks = &c, .nchecks = 1};
    rpc_register_encode(&r, &b);
    put_seed(dir, "register", &b);
    cn_buf_reset(&b);
    struct rpc_deregister_cmd dr = {.node = CN_STR("n1"), .service_id = CN_STR("web1"),
                                    .check_id = CN_STR_NULL};
    rpc_deregister_encode(&dr, &b);
    put_seed(dir, "deregister", &b);
    cn_buf_reset(&b);

    struct state_service *sv[] = {&s};
    struct state_check *cv[] = {&c};
    struct rpc_node_dump d = {.node = &n, .services = sv, .nservices = 1, .checks = cv,
                              .nchecks = 1};
    rpc_node_dump_encode(&d, &b);
    put_seed(dir, "node_dump", &b);
    cn_buf_reset(&b);

    struct state_coordinate co[2] = {
        {.node = "n1", .segment = "", .coord = {.vec = {0.001, -0.002}, .error = 0.4,
                                                .adjustment = -1e-5, .height = 1e-5}},
        {.node = "n2", .segment = "alpha", .coord = {.error = 1.5, .height = 1e-5}}};
    rpc_coordinates_encode(co, 2, &b);
    put_seed(dir, "coordinates", &b);
    cn_buf_release(&b);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("CAIRN_FUZZ_WRITE_SEEDS");
    if (dir && *dir) write_seeds(dir);
    return 0;
}
