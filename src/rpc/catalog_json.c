/*
 * catalog_json.c - catalog records as Consul prints them, field for field
 * in its struct order (shared/spec/http-api.md §2).
 */
#include <stdlib.h>
#include <string.h>

#include "lib/cn_common.h"
#include "lib/cn_time.h"
#include "rpc/rpc_catalog.h"

void rpc_json_pairs(struct cn_jw *w, const struct state_pair *v, size_t n, bool empty_object)
{
    if (!v && !empty_object) {
        cn_jw_null(w);
        return;
    }
    cn_jw_obj_begin(w);
    for (size_t i = 0; i < n; i++) cn_jw_key_str(w, v[i].key, v[i].value);
    cn_jw_obj_end(w);
}

void rpc_json_svc_addrs(struct cn_jw *w, const struct state_svc_addr *v, size_t n)
{
    cn_jw_obj_begin(w);
    for (size_t i = 0; i < n; i++) {
        cn_jw_key(w, v[i].key);
        cn_jw_obj_begin(w);
        cn_jw_key_str(w, "Address", v[i].address);
        cn_jw_key_i64(w, "Port", v[i].port);
        cn_jw_obj_end(w);
    }
    cn_jw_obj_end(w);
}

static void str_list(struct cn_jw *w, char *const *v, size_t n)
{
    cn_jw_arr_begin(w);
    for (size_t i = 0; i < n; i++) cn_jw_str(w, v[i]);
    cn_jw_arr_end(w);
}

static void weights(struct cn_jw *w, const struct state_service *s)
{
    cn_jw_obj_begin(w);
    cn_jw_key_i64(w, "Passing", s->weight_passing);
    cn_jw_key_i64(w, "Warning", s->weight_warning);
    cn_jw_obj_end(w);
}

/* Proxy/Connect are opaque JSON kept as registered; without one Consul
 * prints its zero values. */
static void opaque(struct cn_jw *w, const char *json, const char *dflt)
{
    if (json && *json)
        cn_jw_raw(w, json, strlen(json));
    else
        cn_jw_raw(w, dflt, strlen(dflt));
}

void rpc_json_node(struct cn_jw *w, const struct state_node *n, const char *dc)
{
    cn_jw_obj_begin(w);
    cn_jw_key_str(w, "ID", n->id);
    cn_jw_key_str(w, "Node", n->name);
    cn_jw_key_str(w, "Address", n->address);
    cn_jw_key_str(w, "Datacenter", dc);
    cn_jw_key(w, "TaggedAddresses");
    rpc_json_pairs(w, n->tagged, n->ntagged, false);
    cn_jw_key(w, "Meta");
    rpc_json_pairs(w, n->meta, n->nmeta, false);
    cn_jw_key_u64(w, "CreateIndex", n->create_index);
    cn_jw_key_u64(w, "ModifyIndex", n->modify_index);
    cn_jw_obj_end(w);
}

void rpc_json_service_node(struct cn_jw *w, const struct state_node *n,
                           const struct state_service *s, const char *dc)
{
    cn_jw_obj_begin(w);
    cn_jw_key_str(w, "ID", n->id);
    cn_jw_key_str(w, "Node", n->name);
    cn_jw_key_str(w, "Address", n->address);
    cn_jw_key_str(w, "Datacenter", dc);
    cn_jw_key(w, "TaggedAddresses");
    rpc_json_pairs(w, n->tagged, n->ntagged, false);
    cn_jw_key(w, "NodeMeta");
    rpc_json_pairs(w, n->meta, n->nmeta, false);
    cn_jw_key_str(w, "ServiceKind", s->kind);
    cn_jw_key_str(w, "ServiceID", s->id);
    cn_jw_key_str(w, "ServiceName", s->name);
    cn_jw_key(w, "ServiceTags");
    str_list(w, s->tags, s->ntags);
    cn_jw_key_str(w, "ServiceAddress", s->address);
    if (s->ntagged) {
        cn_jw_key(w, "ServiceTaggedAddresses");
        rpc_json_svc_addrs(w, s->tagged, s->ntagged);
    }
    cn_jw_key(w, "ServiceWeights");
    weights(w, s);
    cn_jw_key(w, "ServiceMeta");
    rpc_json_pairs(w, s->meta, s->nmeta, true);
    cn_jw_key_i64(w, "ServicePort", s->port);
    cn_jw_key_str(w, "ServiceSocketPath", s->socket_path);
    cn_jw_key_bool(w, "ServiceEnableTagOverride", s->enable_tag_override);
    cn_jw_key(w, "ServiceProxy");
    opaque(w, s->proxy, "{\"MeshGateway\":{},\"Expose\":{}}");
    cn_jw_key(w, "ServiceConnect");
    opaque(w, s->connect, "{}");
    cn_jw_key_u64(w, "CreateIndex", s->create_index);
    cn_jw_key_u64(w, "ModifyIndex", s->modify_index);
    cn_jw_obj_end(w);
}

void rpc_json_node_service(struct cn_jw *w, const struct state_service *s)
{
    cn_jw_obj_begin(w);
    if (s->kind && *s->kind) cn_jw_key_str(w, "Kind", s->kind);
    cn_jw_key_str(w, "ID", s->id);
    cn_jw_key_str(w, "Service", s->name);
    cn_jw_key(w, "Tags");
    str_list(w, s->tags, s->ntags);
    cn_jw_key_str(w, "Address", s->address);
    if (s->ntagged) {
        cn_jw_key(w, "TaggedAddresses");
        rpc_json_svc_addrs(w, s->tagged, s->ntagged);
    }
    cn_jw_key(w, "Meta");
    rpc_json_pairs(w, s->meta, s->nmeta, false);
    cn_jw_key_i64(w, "Port", s->port);
    if (s->socket_path && *s->socket_path) cn_jw_key_str(w, "SocketPath", s->socket_path);
    cn_jw_key(w, "Weights");
    weights(w, s);
    cn_jw_key_bool(w, "EnableTagOverride", s->enable_tag_override);
    cn_jw_key(w, "Proxy");
    opaque(w, s->proxy, "{\"MeshGateway\":{},\"Expose\":{}}");
    cn_jw_key(w, "Connect");
    opaque(w, s->connect, "{}");
    cn_jw_key_str(w, "PeerName", "");
    cn_jw_key_u64(w, "CreateIndex", s->create_index);
    cn_jw_key_u64(w, "ModifyIndex", s->modify_index);
    cn_jw_obj_end(w);
}

static void key_dur(struct cn_jw *w, const char *key, int64_t ns)
{
    char d[CN_DUR_STR_MAX];
    if (ns > 0) cn_jw_key_str(w, key, cn_dur_format(ns, d, sizeof d));
}

static void key_nonempty(struct cn_jw *w, const char *key, const char *v)
{
    if (v && *v) cn_jw_key_str(w, key, v);
}

/* HealthCheckDefinition.MarshalJSON: the durations as strings first, then
 * the struct's other non-zero fields in order (TTL stays nanoseconds). */
void rpc_json_check_definition(struct cn_jw *w, const struct state_check_def *d)
{
    cn_jw_obj_begin(w);
    key_dur(w, "Interval", d->interval_ns);
    key_dur(w, "Timeout", d->timeout_ns);
    key_dur(w, "DeregisterCriticalServiceAfter", d->deregister_after_ns);
    key_nonempty(w, "HTTP", d->http);
    key_nonempty(w, "TLSServerName", d->tls_server_name);
    if (d->tls_skip_verify) cn_jw_key_bool(w, "TLSSkipVerify", true);
    if (d->nheader) {
        cn_jw_key(w, "Header");
        cn_jw_obj_begin(w);
        for (size_t i = 0; i < d->nheader; i++) {
            cn_jw_key(w, d->header[i].name);
            str_list(w, d->header[i].values, d->header[i].nvalues);
        }
        cn_jw_obj_end(w);
    }
    key_nonempty(w, "Method", d->method);
    key_nonempty(w, "Body", d->body);
    if (d->disable_redirects) cn_jw_key_bool(w, "DisableRedirects", true);
    key_nonempty(w, "TCP", d->tcp);
    key_nonempty(w, "UDP", d->udp);
    if (d->output_max_size > 0) cn_jw_key_i64(w, "OutputMaxSize", d->output_max_size);
    if (d->nscript_args) {
        cn_jw_key(w, "ScriptArgs");
        str_list(w, d->script_args, d->nscript_args);
    }
    key_nonempty(w, "DockerContainerID", d->docker_container_id);
    key_nonempty(w, "Shell", d->shell);
    key_nonempty(w, "GRPC", d->grpc);
    if (d->grpc_use_tls) cn_jw_key_bool(w, "GRPCUseTLS", true);
    key_nonempty(w, "AliasNode", d->alias_node);
    key_nonempty(w, "AliasService", d->alias_service);
    if (d->ttl_ns > 0) cn_jw_key_i64(w, "TTL", d->ttl_ns);
    cn_jw_obj_end(w);
}

void rpc_json_health_check(struct cn_jw *w, const struct state_check *c)
{
    char d[CN_DUR_STR_MAX];
    cn_jw_obj_begin(w);
    cn_jw_key_str(w, "Node", c->node);
    cn_jw_key_str(w, "CheckID", c->check_id);
    cn_jw_key_str(w, "Name", c->name);
    cn_jw_key_str(w, "Status", c->status);
    cn_jw_key_str(w, "Notes", c->notes);
    cn_jw_key_str(w, "Output", c->output);
    cn_jw_key_str(w, "ServiceID", c->service_id);
    cn_jw_key_str(w, "ServiceName", c->service_name);
    cn_jw_key(w, "ServiceTags");
    str_list(w, c->service_tags, c->nservice_tags);
    cn_jw_key_str(w, "Type", c->type);
    cn_jw_key_str(w, "Interval",
                  c->def.interval_ns > 0 ? cn_dur_format(c->def.interval_ns, d, sizeof d) : "");
    cn_jw_key_str(w, "Timeout",
                  c->def.timeout_ns > 0 ? cn_dur_format(c->def.timeout_ns, d, sizeof d) : "");
    cn_jw_key_i64(w, "ExposedPort", c->exposed_port);
    cn_jw_key(w, "Definition");
    rpc_json_check_definition(w, &c->def);
    cn_jw_key_u64(w, "CreateIndex", c->create_index);
    cn_jw_key_u64(w, "ModifyIndex", c->modify_index);
    cn_jw_obj_end(w);
}

bool rpc_filter_match_fn(const struct rpc_filter *f, void (*write)(struct cn_jw *, const void *),
                         const void *obj)
{
    struct cn_buf b;
    struct cn_jw w;
    if (!f) return true;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_jw_init(&w, &b, false);
    write(&w, obj);
    bool ok = rpc_filter_match_text(f, b.data, b.len);
    cn_buf_release(&b);
    return ok;
}
