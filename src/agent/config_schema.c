/*
 * config_schema.c - every agent configuration key cairn accepts, with its
 * type. A key not listed here is an error naming its path, as in Consul.
 * T_ANY keys hold definitions validated by their owners (services, checks,
 * watches) or option families cairn accepts without using (telemetry sinks,
 * connect, tls details).
 */
#include <string.h>

#include "agent/config_int.h"

const struct config_key config_schema[] = {
    /* identity and roles */
    {"datacenter", T_STR}, {"primary_datacenter", T_STR}, {"acl_datacenter", T_STR},
    {"node_name", T_STR}, {"node_id", T_STR}, {"node_meta", T_MAP}, {"data_dir", T_STR},
    {"server", T_BOOL}, {"bootstrap", T_BOOL}, {"bootstrap_expect", T_INT},
    {"server_name", T_STR}, {"segment", T_STR}, {"segments", T_ANY},
    {"disable_host_node_id", T_BOOL}, {"protocol", T_INT}, {"raft_protocol", T_INT},
    /* addresses and ports */
    {"bind_addr", T_STR}, {"advertise_addr", T_STR}, {"advertise_addr_wan", T_STR},
    {"advertise_addr_ipv4", T_STR}, {"advertise_addr_ipv6", T_STR},
    {"serf_lan", T_STR}, {"serf_wan", T_STR}, {"client_addr", T_STR},
    {"addresses", T_OBJ}, {"addresses.dns", T_STR}, {"addresses.http", T_STR},
    {"addresses.https", T_STR}, {"addresses.grpc", T_STR}, {"addresses.grpc_tls", T_STR},
    {"ports", T_OBJ}, {"ports.dns", T_INT}, {"ports.http", T_INT}, {"ports.https", T_INT},
    {"ports.grpc", T_INT}, {"ports.grpc_tls", T_INT}, {"ports.serf_lan", T_INT},
    {"ports.serf_wan", T_INT}, {"ports.server", T_INT}, {"ports.sidecar_min_port", T_INT},
    {"ports.sidecar_max_port", T_INT}, {"ports.expose_min_port", T_INT},
    {"ports.expose_max_port", T_INT}, {"unix_sockets", T_ANY},
    /* joining */
    {"retry_join", T_LIST}, {"retry_interval", T_DUR}, {"retry_max", T_INT},
    {"retry_join_wan", T_LIST}, {"retry_interval_wan", T_DUR}, {"retry_max_wan", T_INT},
    {"start_join", T_LIST}, {"start_join_wan", T_LIST}, {"rejoin_after_leave", T_BOOL},
    {"leave_on_terminate", T_BOOL}, {"skip_leave_on_interrupt", T_BOOL},
    {"reconnect_timeout", T_DUR}, {"reconnect_timeout_wan", T_DUR},
    {"translate_wan_addrs", T_BOOL}, {"gossip_lan", T_OBJ}, {"gossip_lan.gossip_nodes", T_INT},
    {"gossip_lan.gossip_interval", T_DUR}, {"gossip_lan.probe_interval", T_DUR},
    {"gossip_lan.probe_timeout", T_DUR}, {"gossip_lan.suspicion_mult", T_INT},
    {"gossip_lan.retransmit_mult", T_INT}, {"gossip_wan", T_OBJ}, {"gossip_wan.gossip_nodes", T_INT},
    {"gossip_wan.gossip_interval", T_DUR}, {"gossip_wan.probe_interval", T_DUR},
    {"gossip_wan.probe_timeout", T_DUR}, {"gossip_wan.suspicion_mult", T_INT},
    {"gossip_wan.retransmit_mult", T_INT},
    /* gossip encryption */
    {"encrypt", T_STR}, {"encrypt_verify_incoming", T_BOOL}, {"encrypt_verify_outgoing", T_BOOL},
    {"disable_keyring_file", T_BOOL},
    /* ACL */
    {"acl", T_OBJ}, {"acl.enabled", T_BOOL}, {"acl.default_policy", T_STR},
    {"acl.down_policy", T_STR}, {"acl.enable_token_persistence", T_BOOL},
    {"acl.enable_key_list_policy", T_BOOL}, {"acl.enable_token_replication", T_BOOL},
    {"acl.token_ttl", T_DUR}, {"acl.policy_ttl", T_DUR}, {"acl.role_ttl", T_DUR},
    {"acl.disabled_ttl", T_DUR}, {"acl.msp_disable_bootstrap", T_BOOL},
    {"acl.tokens", T_OBJ}, {"acl.tokens.initial_management", T_STR},
    {"acl.tokens.master", T_STR}, {"acl.tokens.agent", T_STR},
    {"acl.tokens.agent_recovery", T_STR}, {"acl.tokens.agent_master", T_STR},
    {"acl.tokens.default", T_STR}, {"acl.tokens.dns", T_STR}, {"acl.tokens.replication", T_STR},
    {"acl.tokens.config_file_service_registration", T_STR},
    {"acl_master_token", T_STR}, {"acl_token", T_STR}, {"acl_agent_token", T_STR},
    {"acl_agent_master_token", T_STR}, {"acl_replication_token", T_STR},
    {"acl_default_policy", T_STR}, {"acl_down_policy", T_STR}, {"acl_ttl", T_DUR},
    {"acl_enforce_version_8", T_BOOL}, {"acl_enable_key_list_policy", T_BOOL},
    {"enable_acl_replication", T_BOOL},
    /* services, checks, watches */
    {"service", T_ANY}, {"services", T_ANY}, {"check", T_ANY}, {"checks", T_ANY},
    {"watches", T_ANY}, {"enable_script_checks", T_BOOL}, {"enable_local_script_checks", T_BOOL},
    {"disable_remote_exec", T_BOOL}, {"check_output_max_size", T_INT},
    {"check_update_interval", T_DUR}, {"enable_central_service_config", T_BOOL},
    {"config_entries", T_ANY},
    /* logging */
    {"log_level", T_STR}, {"log_json", T_BOOL}, {"log_file", T_STR}, {"log_rotate_bytes", T_INT},
    {"log_rotate_duration", T_DUR}, {"log_rotate_max_files", T_INT}, {"syslog_facility", T_STR},
    {"enable_syslog", T_BOOL}, {"enable_debug", T_BOOL},
    /* DNS */
    {"domain", T_STR}, {"alt_domain", T_STR}, {"recursors", T_LIST}, {"dns_config", T_OBJ},
    {"dns_config.allow_stale", T_BOOL}, {"dns_config.max_stale", T_DUR},
    {"dns_config.node_ttl", T_DUR}, {"dns_config.service_ttl", T_MAP},
    {"dns_config.enable_truncate", T_BOOL}, {"dns_config.only_passing", T_BOOL},
    {"dns_config.udp_answer_limit", T_INT}, {"dns_config.a_record_limit", T_INT},
    {"dns_config.recursor_timeout", T_DUR}, {"dns_config.recursor_strategy", T_STR},
    {"dns_config.disable_compression", T_BOOL},
    {"dns_config.enable_additional_node_meta_txt", T_BOOL}, {"dns_config.soa", T_OBJ},
    {"dns_config.soa.expire", T_INT}, {"dns_config.soa.min_ttl", T_INT},
    {"dns_config.soa.refresh", T_INT}, {"dns_config.soa.retry", T_INT},
    {"dns_config.use_cache", T_BOOL}, {"dns_config.cache_max_age", T_DUR},
    {"dns_config.prefer_namespace", T_BOOL},
    /* performance and Raft */
    {"performance", T_OBJ}, {"performance.raft_multiplier", T_INT},
    {"performance.rpc_hold_timeout", T_DUR}, {"performance.leave_drain_time", T_DUR},
    {"raft_snapshot_threshold", T_INT}, {"raft_snapshot_interval", T_DUR},
    {"raft_trailing_logs", T_INT}, {"autopilot", T_ANY},
    /* queries and sessions */
    {"session_ttl_min", T_DUR}, {"default_query_time", T_DUR}, {"max_query_time", T_DUR},
    {"discovery_max_stale", T_DUR},
    /* HTTP */
    {"limits", T_OBJ}, {"limits.http_max_conns_per_client", T_INT},
    {"limits.kv_max_value_size", T_INT}, {"limits.txn_max_req_len", T_INT},
    {"limits.rpc_rate", T_NUM}, {"limits.rpc_max_burst", T_INT},
    {"limits.rpc_max_conns_per_client", T_INT}, {"limits.https_handshake_timeout", T_DUR},
    {"limits.rpc_handshake_timeout", T_DUR},
    {"http_config", T_OBJ}, {"http_config.response_headers", T_MAP},
    {"http_config.allow_write_http_from", T_LIST}, {"http_config.block_endpoints", T_LIST},
    {"http_config.use_cache", T_BOOL},
    /* UI */
    {"ui", T_BOOL}, {"ui_dir", T_STR}, {"ui_content_path", T_STR}, {"ui_config", T_OBJ},
    {"ui_config.enabled", T_BOOL}, {"ui_config.dir", T_STR}, {"ui_config.content_path", T_STR},
    {"ui_config.metrics_provider", T_STR}, {"ui_config.metrics_proxy", T_ANY},
    {"ui_config.dashboard_url_templates", T_ANY},
    /* TLS (HTTPS listener off until it lands) */
    {"tls", T_ANY}, {"verify_incoming", T_BOOL}, {"verify_outgoing", T_BOOL},
    {"verify_server_hostname", T_BOOL}, {"ca_file", T_STR}, {"ca_path", T_STR},
    {"cert_file", T_STR}, {"key_file", T_STR}, {"auto_encrypt", T_ANY}, {"connect", T_ANY},
    /* misc */
    {"telemetry", T_ANY}, {"pid_file", T_STR}, {"disable_update_check", T_BOOL},
    {"disable_anonymous_signature", T_BOOL}, {"disable_coordinates", T_BOOL},
    {NULL, 0},
};

const struct config_key *config_schema_find(const char *path)
{
    for (const struct config_key *k = config_schema; k->path; k++)
        if (!strcmp(k->path, path)) return k;
    return NULL;
}
