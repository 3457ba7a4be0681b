/* filter_schema.c - the object shapes ?filter= selectors are checked
 * against: the fields of Consul's structs, as their JSON names. */
#include "rpc/rpc_filter.h"

#define END {NULL, 0, NULL}

static const struct rpc_fschema weights[] = {
    {"Passing", RPC_F_INT, NULL},
    {"Warning", RPC_F_INT, NULL},
    END,
};

static const struct rpc_fschema service_address[] = {
    {"Address", RPC_F_STRING, NULL},
    {"Port", RPC_F_INT, NULL},
    END,
};

const struct rpc_fschema rpc_fs_node[] = {
    {"ID", RPC_F_STRING, NULL},
    {"Node", RPC_F_STRING, NULL},
    {"Address", RPC_F_STRING, NULL},
    {"Datacenter", RPC_F_STRING, NULL},
    {"TaggedAddresses", RPC_F_STRMAP, NULL},
    {"Meta", RPC_F_STRMAP, NULL},
    END,
};

const struct rpc_fschema rpc_fs_service_node[] = {
    {"ID", RPC_F_STRING, NULL},
    {"Node", RPC_F_STRING, NULL},
    {"Address", RPC_F_STRING, NULL},
    {"Datacenter", RPC_F_STRING, NULL},
    {"TaggedAddresses", RPC_F_STRMAP, NULL},
    {"NodeMeta", RPC_F_STRMAP, NULL},
    {"ServiceKind", RPC_F_STRING, NULL},
    {"ServiceID", RPC_F_STRING, NULL},
    {"ServiceName", RPC_F_STRING, NULL},
    {"ServiceTags", RPC_F_STRLIST, NULL},
    {"ServiceAddress", RPC_F_STRING, NULL},
    {"ServiceTaggedAddresses", RPC_F_STRUCTMAP, service_address},
    {"ServiceWeights", RPC_F_STRUCT, weights},
    {"ServiceMeta", RPC_F_STRMAP, NULL},
    {"ServicePort", RPC_F_INT, NULL},
    {"ServiceSocketPath", RPC_F_STRING, NULL},
    {"ServiceEnableTagOverride", RPC_F_BOOL, NULL},
    END,
};

const struct rpc_fschema rpc_fs_node_service[] = {
    {"Kind", RPC_F_STRING, NULL},
    {"ID", RPC_F_STRING, NULL},
    {"Service", RPC_F_STRING, NULL},
    {"Tags", RPC_F_STRLIST, NULL},
    {"Address", RPC_F_STRING, NULL},
    {"TaggedAddresses", RPC_F_STRUCTMAP, service_address},
    {"Meta", RPC_F_STRMAP, NULL},
    {"Port", RPC_F_INT, NULL},
    {"SocketPath", RPC_F_STRING, NULL},
    {"Weights", RPC_F_STRUCT, weights},
    {"EnableTagOverride", RPC_F_BOOL, NULL},
    {"PeerName", RPC_F_STRING, NULL},
    END,
};

const struct rpc_fschema rpc_fs_health_check[] = {
    {"Node", RPC_F_STRING, NULL},
    {"CheckID", RPC_F_STRING, NULL},
    {"Name", RPC_F_STRING, NULL},
    {"Status", RPC_F_STRING, NULL},
    {"Notes", RPC_F_STRING, NULL},
    {"Output", RPC_F_STRING, NULL},
    {"ServiceID", RPC_F_STRING, NULL},
    {"ServiceName", RPC_F_STRING, NULL},
    {"ServiceTags", RPC_F_STRLIST, NULL},
    {"Type", RPC_F_STRING, NULL},
    {"Interval", RPC_F_STRING, NULL},
    {"Timeout", RPC_F_STRING, NULL},
    {"ExposedPort", RPC_F_INT, NULL},
    END,
};

const struct rpc_fschema rpc_fs_check_service_node[] = {
    {"Node", RPC_F_STRUCT, rpc_fs_node},
    {"Service", RPC_F_STRUCT, rpc_fs_node_service},
    {"Checks", RPC_F_STRUCTLIST, rpc_fs_health_check},
    END,
};

const struct rpc_fschema rpc_fs_agent_service[] = {
    {"Kind", RPC_F_STRING, NULL},
    {"ID", RPC_F_STRING, NULL},
    {"Service", RPC_F_STRING, NULL},
    {"Tags", RPC_F_STRLIST, NULL},
    {"Meta", RPC_F_STRMAP, NULL},
    {"Port", RPC_F_INT, NULL},
    {"Address", RPC_F_STRING, NULL},
    {"SocketPath", RPC_F_STRING, NULL},
    {"TaggedAddresses", RPC_F_STRUCTMAP, service_address},
    {"Weights", RPC_F_STRUCT, weights},
    {"EnableTagOverride", RPC_F_BOOL, NULL},
    {"Datacenter", RPC_F_STRING, NULL},
    END,
};

const struct rpc_fschema rpc_fs_member[] = {
    {"Name", RPC_F_STRING, NULL},
    {"Addr", RPC_F_STRING, NULL},
    {"Port", RPC_F_UINT, NULL},
    {"Tags", RPC_F_STRMAP, NULL},
    {"Status", RPC_F_INT, NULL},
    {"ProtocolMin", RPC_F_UINT, NULL},
    {"ProtocolMax", RPC_F_UINT, NULL},
    {"ProtocolCur", RPC_F_UINT, NULL},
    {"DelegateMin", RPC_F_UINT, NULL},
    {"DelegateMax", RPC_F_UINT, NULL},
    {"DelegateCur", RPC_F_UINT, NULL},
    END,
};
