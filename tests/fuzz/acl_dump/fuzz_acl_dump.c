/* fuzz_acl_dump - the ACL dump a secondary datacenter's leader decodes
 * from the primary's answer (src/rpc/acl_repl.c), and the plan made from it.
 *
 * The bytes cross the WAN from another datacenter's server, so any input
 * must decode or be refused without a crash or a leak. What decodes must
 * re-encode to bytes that decode to the same encoding (nothing is lost or
 * invented), and the plan against a small local store must consist of
 * commands the FSM's decoder accepts; applying them (a hostile dump may
 * hold duplicate IDs, so they may fail) must leave the store consistent.
 *
 * Seeds: CAIRN_FUZZ_WRITE_SEEDS=<dir> ./fuzz_acl_dump -runs=0 writes the
 * encodings of real dumps there (the committed corpus/ came from it). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cn_arena.h"
#include "lib/cn_buf.h"
#include "rpc/rpc_acl.h"
#include "rpc/rpc_acl_repl.h"
#include "rpc/rpc_cmd.h"
#include "state/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* ---- a store with something of each kind --------------------------------- */

static struct state_acl_policy *policy(const char *id, const char *name)
{
    struct state_acl_policy *p = calloc(1, sizeof *p);
    p->id = strdup(id);
    p->name = strdup(name);
    p->description = strdup("");
    p->rules = strdup("key_prefix \"app/\" { policy = \"read\" }");
    p->hash = strdup("aGFzaA==");
    return p;
}

static struct state_acl_token *token(const char *accessor, const char *secret, bool local,
                                     const char *linked)
{
    struct state_acl_token *t = calloc(1, sizeof *t);
    t->accessor = strdup(accessor);
    t->secret = strdup(secret);
    t->description = strdup("fuzz");
    t->hash = strdup("aGFzaA==");
    t->local = local;
    if (linked) {
        t->policies = calloc(1, sizeof *t->policies);
        t->policies[0] = strdup(linked);
        t->npolicies = 1;
    }
    return t;
}

static struct state_store *sample_store(void)
{
    struct state_store *st = state_new();
    struct cn_err err;
    struct state_txn *tx = state_txn_begin(st, 1);
    state_acl_policy_set_txn(tx, policy("p-1", "app"), STATE_ACL_UPSERT, &err);
    state_acl_policy_set_txn(tx, policy("p-2", "ops"), STATE_ACL_UPSERT, &err);
    state_acl_token_set_txn(tx, token("a-1", "s-1", false, "p-1"), STATE_ACL_UPSERT, &err);
    state_acl_token_set_txn(tx, token("a-2", "s-2", true, "p-2"), STATE_ACL_UPSERT, &err);
    state_txn_commit(tx);
    return st;
}

/* ---- the target ---------------------------------------------------------------- */

static void apply(struct state_store *st, uint64_t idx, const struct cn_buf *cmd)
{
    struct cn_dec d;
    enum rpc_cmd_type type;
    struct rpc_acl_cmd c;
    struct cn_err err;
    if (rpc_cmd_open(&d, cmd->data, cmd->len, &type) || type != RPC_CMD_ACL) abort();
    if (rpc_acl_decode(&d, &c)) abort(); /* the plan made a command the FSM refuses */
    struct state_txn *tx = state_txn_begin(st, idx);
    int rc = 0;
    switch (c.op) {
    case RPC_ACL_TOKEN_SET:
        rc = state_acl_token_set_txn(tx, c.token, c.mode, &err);
        break;
    case RPC_ACL_POLICY_SET:
        rc = state_acl_policy_set_txn(tx, c.policy, c.mode, &err);
        break;
    case RPC_ACL_TOKEN_DELETE:
        rc = state_acl_token_delete_txn(tx, c.id);
        break;
    case RPC_ACL_POLICY_DELETE:
        rc = state_acl_policy_delete_txn(tx, c.id);
        break;
    default:
        abort();
    }
    if (rc)
        state_txn_abort(tx);
    else
        state_txn_commit(tx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy: ASan catches a read past the end */
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    struct rpc_acl_dump d, again;
    if (rpc_acl_dump_decode(copy, size, &d) == 0) {
        struct cn_buf b1, b2;
        cn_buf_init(&b1, CN_BUF_UNLIMITED);
        cn_buf_init(&b2, CN_BUF_UNLIMITED);
        rpc_acl_dump_encode(&d, &b1);
        if (rpc_acl_dump_decode(b1.data, b1.len, &again)) abort();
        rpc_acl_dump_encode(&again, &b2);
        if (b1.len != b2.len || memcmp(b1.data, b2.data, b1.len)) abort();
        rpc_acl_dump_release(&again);
        cn_buf_release(&b1);
        cn_buf_release(&b2);

        struct state_store *st = sample_store();
        struct rpc_acl_repl_plan p;
        rpc_acl_repl_plan(st, &d, &p);
        for (size_t i = 0; i < p.ncmds; i++)
            apply(st, 2 + i, &p.cmds[i]);
        rpc_acl_repl_plan_release(&p);
        if (!state_check_invariants(st)) abort();
        state_free(st);
    }
    rpc_acl_dump_release(&d);
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

static void seed(const char *dir, const char *name, struct state_store *st, bool tokens)
{
    struct acl_authz *all = acl_authz_static(true);
    struct rpc_acl_dump_req req = {.tokens = tokens};
    struct rpc_query q;
    struct cn_buf b;
    memset(&q, 0, sizeof q);
    cn_arena_init(&q.arena, 1024);
    q.authz = all;
    q.req = &req;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    if (rpc_acl_dump_run(&q, st, NULL) == 0) {
        rpc_acl_dump_encode(q.resp, &b);
        put_seed(dir, name, &b);
    }
    cn_buf_release(&b);
    cn_arena_release(&q.arena);
    acl_authz_free(all);
}

static void write_seeds(const char *dir)
{
    struct state_store *empty = state_new(), *st = sample_store();
    struct cn_err err;
    seed(dir, "empty", empty, true);
    seed(dir, "policies", st, false);
    seed(dir, "policies_and_tokens", st, true);
    /* the primary moved on: a new token whose policy is then deleted (a
     * dangling link), a renamed policy, a token gone */
    struct state_txn *tx = state_txn_begin(st, 5);
    state_acl_token_set_txn(tx, token("a-3", "s-3", false, "p-2"), STATE_ACL_UPSERT, &err);
    state_acl_policy_delete_txn(tx, CN_STR("p-2"));
    state_acl_policy_set_txn(tx, policy("p-1", "ops"), STATE_ACL_UPSERT, &err);
    state_acl_token_delete_txn(tx, CN_STR("a-1"));
    state_txn_commit(tx);
    seed(dir, "changed", st, true);
    state_free(empty);
    state_free(st);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("CAIRN_FUZZ_WRITE_SEEDS");
    if (dir && *dir) write_seeds(dir);
    return 0;
}
