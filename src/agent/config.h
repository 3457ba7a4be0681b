/*
 * config.h - the agent's configuration: Consul's JSON keys and flags.
 *
 * Sources merge in Consul's order: built-in defaults, the -dev overlay, each
 * -config-file / -config-dir in command-line order (a directory's *.json
 * sorted by name), then flags. Scalars: last wins; lists: appended; objects:
 * merged key by key. Every key is checked against one schema table, so an
 * unknown key fails the load with its path named.
 *
 * The merged, validated JSON tree is kept (agent_config_get) so a module can
 * read its own section without this file knowing its fields; the fields
 * everyone needs are decoded into struct agent_config.
 */
#ifndef AGENT_CONFIG_H
#define AGENT_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/cn_err.h"

struct agent_config {
    json_t *json; /* merged tree, owned */
    bool dev;
    bool server;
    bool bootstrap;
    int bootstrap_expect;
    const char *node_name;
    const char *node_id;
    const char *datacenter;
    const char *primary_datacenter;
    const char *data_dir;
    const char *bind_addr;
    const char *advertise_addr;
    const char *advertise_addr_wan;
    const char *client_addr; /* first of the space-separated list */
    const char *http_addr;   /* addresses.http or client_addr */
    const char *dns_addr;    /* addresses.dns or client_addr */
    int http_port, https_port, dns_port, server_port, serf_lan_port, serf_wan_port, grpc_port;
    const char *log_level;
    bool log_json;
    const char *domain;
    int raft_multiplier;
    int64_t session_ttl_min_ns;
    int64_t default_query_time_ns;
    int64_t max_query_time_ns;
    uint64_t kv_max_value_size;
    uint64_t txn_max_req_len;
    int http_max_conns_per_client;
    bool acl_enabled;
    bool acl_default_allow;
    const char *pid_file;
    bool enable_script_checks;
    bool enable_local_script_checks;
    bool ui;
    /* the command line's -config-file/-config-dir in order, for reload */
    char **sources;
    bool *source_is_dir;
    int nsources;
    json_t *flags; /* flag overrides, re-applied on reload */
};

/* Parse `cairn agent` arguments and load every source. On error err says
 * what failed; *help is set when -h was asked for (usage already printed). */
int agent_config_load(int argc, char **argv, struct agent_config *cfg, bool *help,
                      struct cn_err *err);
/* Load from one JSON document as if given with `-dev -config-file`: for the
 * fuzzer and tests. */
int agent_config_from_json(const char *text, size_t len, struct agent_config *cfg,
                           struct cn_err *err);
/* Reload the files with the original command line (SIGHUP). */
int agent_config_reload(const struct agent_config *old, struct agent_config *fresh,
                        struct cn_err *err);
void agent_config_release(struct agent_config *cfg);

/* A value of the merged tree by dotted path ("dns_config.only_passing"); NULL when unset. */
json_t *agent_config_get(const struct agent_config *cfg, const char *path);
bool agent_config_bool(const struct agent_config *cfg, const char *path, bool dflt);
int64_t agent_config_int(const struct agent_config *cfg, const char *path, int64_t dflt);
const char *agent_config_str(const struct agent_config *cfg, const char *path, const char *dflt);
/* Go duration at path (string or ns number), or dflt. */
int64_t agent_config_dur(const struct agent_config *cfg, const char *path, int64_t dflt);

/* Merge src into dst with Consul's rules (used by loading and tests). */
void agent_config_merge(json_t *dst, const json_t *src);
/* Check a tree against the schema; err names the first bad key. */
int agent_config_validate(const json_t *tree, struct cn_err *err);

#endif
