/* rpc_int.h - internals shared by the files of src/rpc. */
#ifndef RPC_INT_H
#define RPC_INT_H

#include "rpc/rpc.h"

struct rpc {
    struct rpc_config cfg;
    char *datacenter, *data_dir; /* owned copies behind cfg's pointers */
    struct state_store *st;
    const struct rpc_backend_ops *ops;
    void *be;
    struct acl_resolver *acl;
    size_t parked;
};

#endif
