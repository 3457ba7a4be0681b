/* cmd.c - command framing and the KV commands. */
#include "rpc/rpc_cmd.h"

#include "lib/cn_err.h"
#include "lib/cn_limits.h"

void rpc_cmd_begin(struct cn_buf *out, enum rpc_cmd_type type)
{
    cn_enc_u8(out, (uint8_t)type);
    cn_enc_u8(out, RPC_CMD_VERSION);
}

int rpc_cmd_open(struct cn_dec *d, const void *cmd, size_t len, enum rpc_cmd_type *type)
{
    cn_dec_init(d, cmd, len);
    uint8_t t = cn_dec_u8(d), v = cn_dec_u8(d);
    if (cn_dec_status(d)) return CN_ECORRUPT;
    if (t >= RPC_CMD__COUNT || v != RPC_CMD_VERSION) return CN_EUNSUPPORTED;
    *type = (enum rpc_cmd_type)t;
    return 0;
}

void rpc_kvs_encode(const struct rpc_kvs_cmd *c, struct cn_buf *out)
{
    rpc_cmd_begin(out, RPC_CMD_KVS);
    cn_enc_u8(out, (uint8_t)c->op);
    cn_enc_str(out, c->key);
    cn_enc_str(out, c->value);
    cn_enc_uvar(out, c->flags);
    cn_enc_uvar(out, c->cas_index);
    cn_enc_str(out, c->session);
}

int rpc_kvs_decode(struct cn_dec *d, struct rpc_kvs_cmd *c)
{
    c->op = (enum rpc_kvs_op)cn_dec_u8(d);
    c->key = cn_dec_bytes(d, CN_KV_KEY_MAX);
    c->value = cn_dec_bytes(d, CN_CODEC_FIELD_MAX);
    c->flags = cn_dec_uvar(d);
    c->cas_index = cn_dec_uvar(d);
    c->session = cn_dec_bytes(d, 128);
    if (cn_dec_status(d)) return CN_ECORRUPT;
    if (c->op < RPC_KVS_SET || c->op > RPC_KVS_UNLOCK) return CN_ECORRUPT;
    return 0;
}

void rpc_tombstone_reap_encode(uint64_t upto, struct cn_buf *out)
{
    rpc_cmd_begin(out, RPC_CMD_TOMBSTONE_REAP);
    cn_enc_uvar(out, upto);
}
