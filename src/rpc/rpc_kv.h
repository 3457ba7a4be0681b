/*
 * rpc_kv.h - the KV endpoints (Consul's KVS.Get, KVS.List, KVS.ListKeys,
 * KVS.Apply).
 */
#ifndef RPC_KV_H
#define RPC_KV_H

#include "rpc/rpc.h"
#include "rpc/rpc_cmd.h"

enum rpc_kv_read { RPC_KV_GET = 0, RPC_KV_LIST, RPC_KV_KEYS };

struct rpc_kv_req {
    enum rpc_kv_read op;
    struct cn_str key; /* key or prefix */
    struct cn_str separator; /* RPC_KV_KEYS; empty = none */
};

struct rpc_kv_entry {
    struct cn_str key;
    struct cn_str value;
    uint64_t flags, create_index, modify_index, lock_index;
    const char *session; /* NULL when none */
};

struct rpc_kv_resp {
    struct rpc_kv_entry *entries; /* GET, LIST */
    size_t n;
    struct cn_str *keys; /* KEYS */
    size_t nkeys;
    bool denied; /* single-key read without key:read */
};

/* The run function for a struct rpc_query whose req is a rpc_kv_req and
 * whose resp (set by run) is a rpc_kv_resp. */
int rpc_kv_run(struct rpc_query *q, struct state_store *st, struct state_watch_set *ws);

/* Check the token for a KV write and encode the command. CN_EPERM when the
 * token may not write (all keys under the prefix for a delete-tree). */
int rpc_kv_prepare_write(struct rpc *rpc, const struct acl_authz *authz,
                         const struct rpc_kvs_cmd *c, struct cn_buf *out);

#endif
