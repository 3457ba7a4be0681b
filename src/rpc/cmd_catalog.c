/* cmd_catalog.c - the register and deregister commands. Records use the
 * state store's own encodings, so a command and a snapshot row agree. */
#include <string.h>

#include "lib/cn_common.h"
#include "lib/cn_err.h"
#include "lib/cn_limits.h"
#include "rpc/rpc_cmd.h"

#define REGISTER_CHECKS_MAX 4096

void rpc_register_encode(const struct state_register *r, struct cn_buf *out)
{
    rpc_cmd_begin(out, RPC_CMD_REGISTER);
    state_node_encode(r->node, out);
    cn_enc_bool(out, r->skip_node_update);
    cn_enc_bool(out, r->service != NULL);
    if (r->service) state_service_encode(r->service, out);
    cn_enc_uvar(out, r->nchecks);
    for (size_t i = 0; i < r->nchecks; i++) state_check_encode(&r->checks[i], out);
}

int rpc_register_decode(struct cn_dec *d, struct cn_arena *a, struct state_register *out)
{
    struct state_node *n = CN_ARENA_NEW(a, struct state_node);
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = state_node_decode(d, a, n))) return rc;
    out->node = n;
    out->skip_node_update = cn_dec_bool(d);
    if (cn_dec_bool(d)) {
        struct state_service *s = CN_ARENA_NEW(a, struct state_service);
        if ((rc = state_service_decode(d, a, s))) return rc;
        out->service = s;
    }
    uint64_t nc = cn_dec_uvar(d);
    if (cn_dec_status(d) || nc > REGISTER_CHECKS_MAX || nc > cn_dec_left(d)) return CN_ECORRUPT;
    struct state_check *checks = CN_ARENA_ARRAY(a, struct state_check, nc + 1);
    for (size_t i = 0; i < nc; i++)
        if ((rc = state_check_decode(d, a, &checks[i]))) return rc;
    out->checks = checks;
    out->nchecks = (size_t)nc;
    return cn_dec_status(d);
}

void rpc_deregister_encode(const struct rpc_deregister_cmd *c, struct cn_buf *out)
{
    rpc_cmd_begin(out, RPC_CMD_DEREGISTER);
    cn_enc_str(out, c->node);
    cn_enc_str(out, c->service_id);
    cn_enc_str(out, c->check_id);
}

int rpc_deregister_decode(struct cn_dec *d, struct rpc_deregister_cmd *c)
{
    c->node = cn_dec_bytes(d, CN_CODEC_FIELD_MAX);
    c->service_id = cn_dec_bytes(d, CN_CODEC_FIELD_MAX);
    c->check_id = cn_dec_bytes(d, CN_CODEC_FIELD_MAX);
    return cn_dec_status(d) ? CN_ECORRUPT : 0;
}
