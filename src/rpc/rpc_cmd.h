/*
 * rpc_cmd.h - commands: the writes that go through Raft.
 *
 * A command is [u8 type][u8 version][body] in cn_codec encoding. It is what
 * the leader proposes, what the log stores and what every server's FSM
 * applies, so the encoding is part of the on-disk format: type numbers are
 * append-only and a decoder rejects a version it does not know.
 */
#ifndef RPC_CMD_H
#define RPC_CMD_H

#include "lib/cn_buf.h"
#include "lib/cn_codec.h"
#include "lib/cn_str.h"
#include "state/state.h"

enum rpc_cmd_type {
    RPC_CMD_NOOP = 0,
    RPC_CMD_KVS = 1,
    RPC_CMD_TOMBSTONE_REAP = 2,
    RPC_CMD_REGISTER = 3,
    RPC_CMD_DEREGISTER = 4,
    RPC_CMD_SESSION = 5,
    RPC_CMD_TXN = 6,
    RPC_CMD_ACL = 7,
    RPC_CMD_PREPARED_QUERY = 8,
    RPC_CMD_COORDINATES = 9,
    RPC_CMD_AUTOPILOT = 10,
    RPC_CMD_RESTORE = 11, /* a chunk of a user's snapshot archive (server/restore.h) */
    RPC_CMD__COUNT
};

#define RPC_CMD_VERSION 1

/* Start a command of a type: writes the type and version bytes. */
void rpc_cmd_begin(struct cn_buf *out, enum rpc_cmd_type type);
/* Read the type and version; the decoder is left at the body. */
int rpc_cmd_open(struct cn_dec *d, const void *cmd, size_t len, enum rpc_cmd_type *type);

enum rpc_kvs_op {
    RPC_KVS_SET = 1,
    RPC_KVS_CAS,
    RPC_KVS_DELETE,
    RPC_KVS_DELETE_CAS,
    RPC_KVS_DELETE_TREE,
    RPC_KVS_LOCK,
    RPC_KVS_UNLOCK,
};

struct rpc_kvs_cmd {
    enum rpc_kvs_op op;
    struct cn_str key;
    struct cn_str value;
    uint64_t flags;
    uint64_t cas_index;
    struct cn_str session;
};

void rpc_kvs_encode(const struct rpc_kvs_cmd *c, struct cn_buf *out);
/* Views into the command bytes: valid while they are. */
int rpc_kvs_decode(struct cn_dec *d, struct rpc_kvs_cmd *c);

void rpc_tombstone_reap_encode(uint64_t upto, struct cn_buf *out);

/* ---- catalog (cmd_catalog.c) ------------------------------------------ */

/* RPC_CMD_REGISTER: a state_register (node, optional service, checks). */
void rpc_register_encode(const struct state_register *r, struct cn_buf *out);
/* Records are allocated from the arena (views stay valid while it lives). */
int rpc_register_decode(struct cn_dec *d, struct cn_arena *a, struct state_register *out);

/* RPC_CMD_DEREGISTER: empty service_id and check_id = the whole node. */
struct rpc_deregister_cmd {
    struct cn_str node;
    struct cn_str service_id;
    struct cn_str check_id;
};
void rpc_deregister_encode(const struct rpc_deregister_cmd *c, struct cn_buf *out);
int rpc_deregister_decode(struct cn_dec *d, struct rpc_deregister_cmd *c);

#endif
