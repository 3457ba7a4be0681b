/*
 * acl.c - /v1/acl/... (Consul's ACLEndpoint): bootstrap, tokens, policies,
 * the legacy API python3-consul 0.7.1 calls, and /v1/agent/token/<type>.
 *
 * JSON in and out lives here; who may do what and the rules of each
 * operation are in src/rpc/acl.c. With ACLs off every route answers 401
 * "ACL support disabled".
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent/acl_repl.h"
#include "agent/agent.h"
#include "http/http_int.h"
#include "lib/cn_common.h"
#include "lib/cn_json.h"
#include "lib/cn_time.h"
#include "lib/cn_uuid.h"
#include "rpc/rpc_acl.h"

void http_acl_agent_token(struct http_req *r);

static bool acl_off(struct http_req *r)
{
    if (acl_enabled(rpc_acl(r->env->rpc))) return false;
    http_reply_error(r, CN_EACLDISABLED, NULL);
    return true;
}

static struct state_store *store(struct http_req *r)
{
    return rpc_state(r->env->rpc);
}

/* Errors of the ACL operations: what Consul answers for each. */
static void reply_acl_error(struct http_req *r, int rc, const char *msg)
{
    if (!msg || !*msg) msg = cn_strerror(rc);
    switch (rc) {
    case CN_EPERM:
        if (!strncmp(msg, "Permission denied", 17))
            http_reply_text(r, 403, "%s", msg);
        else
            http_reply_text(r, 403, "Permission denied: %s", msg);
        return;
    case CN_EACLNOTFOUND: http_reply_text(r, 403, "ACL not found"); return;
    case CN_EINVAL:
    case CN_EEXIST: http_reply_text(r, 400, "%s", msg); return;
    case CN_ENOENT: http_reply_text(r, 404, "%s", msg); return;
    default: http_reply_error(r, rc, msg); return;
    }
}

/* ---- output --------------------------------------------------------- */

static void key_time(struct cn_jw *w, const char *key, int64_t ns)
{
    char buf[64];
    cn_jw_key_str(w, key, cn_time_format_rfc3339(ns, buf, sizeof buf));
}

static void write_links(struct cn_jw *w, struct state_store *st, const struct state_acl_token *t)
{
    size_t shown = 0;
    for (size_t i = 0; i < t->npolicies; i++) {
        const char *name = rpc_acl_policy_name(st, t->policies[i]);
        if (!*name) continue; /* a deleted policy no longer applies */
        if (shown++ == 0) {
            cn_jw_key(w, "Policies");
            cn_jw_arr_begin(w);
        }
        cn_jw_obj_begin(w);
        cn_jw_key_str(w, "ID", t->policies[i]);
        cn_jw_key_str(w, "Name", name);
        cn_jw_obj_end(w);
    }
    if (shown) cn_jw_arr_end(w);
}

static void write_identities(struct cn_jw *w, const struct state_acl_token *t)
{
    if (t->nsvc) {
        cn_jw_key(w, "ServiceIdentities");
        cn_jw_arr_begin(w);
        for (size_t i = 0; i < t->nsvc; i++) {
            cn_jw_obj_begin(w);
            cn_jw_key_str(w, "ServiceName", t->svc[i].name);
            if (t->svc[i].ndcs) {
                cn_jw_key(w, "Datacenters");
                cn_jw_arr_begin(w);
                for (size_t j = 0; j < t->svc[i].ndcs; j++) cn_jw_str(w, t->svc[i].dcs[j]);
                cn_jw_arr_end(w);
            }
            cn_jw_obj_end(w);
        }
        cn_jw_arr_end(w);
    }
    if (t->nnodes) {
        cn_jw_key(w, "NodeIdentities");
        cn_jw_arr_begin(w);
        for (size_t i = 0; i < t->nnodes; i++) {
            cn_jw_obj_begin(w);
            cn_jw_key_str(w, "NodeName", t->nodes[i].name);
            cn_jw_key_str(w, "Datacenter", t->nodes[i].dc);
            cn_jw_obj_end(w);
        }
        cn_jw_arr_end(w);
    }
}

enum token_form { TF_FULL, TF_STUB, TF_BOOTSTRAP };

static void write_token(struct cn_jw *w, struct state_store *st, const struct state_acl_token *t,
                        bool show_secret, enum token_form form)
{
    cn_jw_obj_begin(w);
    if (form == TF_BOOTSTRAP) cn_jw_key_str(w, "ID", t->secret); /* legacy field */
    cn_jw_key_str(w, "AccessorID", t->accessor);
    cn_jw_key_str(w, "SecretID", show_secret ? t->secret : "<hidden>");
    cn_jw_key_str(w, "Description", t->description);
    write_links(w, st, t);
    write_identities(w, t);
    if (form != TF_STUB && t->rules && *t->rules) cn_jw_key_str(w, "Rules", t->rules);
    cn_jw_key_bool(w, "Local", t->local);
    if (t->expiration_ns) key_time(w, "ExpirationTime", t->expiration_ns);
    key_time(w, "CreateTime", t->create_time_ns);
    cn_jw_key_str(w, "Hash", t->hash);
    cn_jw_key_u64(w, "CreateIndex", t->create_index);
    cn_jw_key_u64(w, "ModifyIndex", t->modify_index);
    if (form == TF_STUB) cn_jw_key_bool(w, "Legacy", false);
    cn_jw_obj_end(w);
}

static void write_policy(struct cn_jw *w, const struct state_acl_policy *p, bool stub)
{
    cn_jw_obj_begin(w);
    cn_jw_key_str(w, "ID", p->id);
    cn_jw_key_str(w, "Name", p->name);
    cn_jw_key_str(w, "Description", p->description);
    if (!stub) cn_jw_key_str(w, "Rules", p->rules);
    if (p->ndcs) {
        cn_jw_key(w, "Datacenters");
        cn_jw_arr_begin(w);
        for (size_t i = 0; i < p->ndcs; i++) cn_jw_str(w, p->dcs[i]);
        cn_jw_arr_end(w);
    }
    cn_jw_key_str(w, "Hash", p->hash);
    cn_jw_key_u64(w, "CreateIndex", p->create_index);
    cn_jw_key_u64(w, "ModifyIndex", p->modify_index);
    cn_jw_obj_end(w);
}

static bool is_management(const struct state_acl_token *t)
{
    for (size_t i = 0; i < t->npolicies; i++)
        if (!strcmp(t->policies[i], ACL_GLOBAL_MANAGEMENT_ID)) return true;
    return t->legacy_type && !strcmp(t->legacy_type, "management");
}

/* The legacy ACL shape: the secret is the ID. */
static void write_legacy(struct cn_jw *w, const struct state_acl_token *t)
{
    cn_jw_obj_begin(w);
    cn_jw_key_u64(w, "CreateIndex", t->create_index);
    cn_jw_key_u64(w, "ModifyIndex", t->modify_index);
    cn_jw_key_str(w, "ID", t->secret);
    cn_jw_key_str(w, "Name", t->description);
    cn_jw_key_str(w, "Type", is_management(t) ? "management" : "client");
    cn_jw_key_str(w, "Rules", t->rules ? t->rules : "");
    cn_jw_obj_end(w);
}

static void reply_id(struct http_req *r, const char *id)
{
    struct cn_jw w;
    http_json_begin(r, &w);
    cn_jw_obj_begin(&w);
    cn_jw_key_str(&w, "ID", id);
    cn_jw_obj_end(&w);
    http_reply_json(r, 200, &w);
}

static void reply_bool(struct http_req *r, bool v)
{
    struct cn_jw w;
    http_json_begin(r, &w);
    cn_jw_bool(&w, v);
    http_reply_json(r, 200, &w);
}

/* ---- reads ---------------------------------------------------------- */

static void cancel_query(struct http_req *r)
{
    rpc_query_cancel(r->cancel_arg);
}

static void read_done(struct rpc_query *q, int rc)
{
    struct http_req *r = q->arg;
    const struct rpc_acl_req *req = q->req;
    const struct rpc_acl_resp *resp = q->resp;
    struct state_store *st = store(r);
    struct cn_jw w;
    http_add_meta_headers(r, &q->meta);
    if (rc) {
        reply_acl_error(r, rc, q->err.msg);
        rpc_query_free(q);
        return;
    }
    http_json_begin(r, &w);
    switch (req->op) {
    case RPC_ACL_READ_TOKEN:
    case RPC_ACL_READ_TOKEN_SELF:
        write_token(&w, st, resp->tokens[0], resp->show_secrets, TF_FULL);
        break;
    case RPC_ACL_READ_TOKENS:
        cn_jw_arr_begin(&w);
        for (size_t i = 0; i < resp->ntokens; i++)
            write_token(&w, st, resp->tokens[i], resp->show_secrets, TF_STUB);
        cn_jw_arr_end(&w);
        break;
    case RPC_ACL_READ_POLICY:
    case RPC_ACL_READ_POLICY_NAME:
        write_policy(&w, resp->policies[0], false);
        break;
    case RPC_ACL_READ_POLICIES:
        cn_jw_arr_begin(&w);
        for (size_t i = 0; i < resp->npolicies; i++) write_policy(&w, resp->policies[i], true);
        cn_jw_arr_end(&w);
        break;
    case RPC_ACL_READ_LEGACY_INFO:
    case RPC_ACL_READ_LEGACY_LIST:
        cn_jw_arr_begin(&w);
        for (size_t i = 0; i < resp->ntokens; i++) write_legacy(&w, resp->tokens[i]);
        cn_jw_arr_end(&w);
        break;
    }
    http_reply_json(r, 200, &w);
    rpc_query_free(q);
}

static void start_read(struct http_req *r, enum rpc_acl_read op, const char *id)
{
    struct rpc_query_opts opts;
    if (!http_parse_query_opts(r, &opts)) return;
    struct rpc_acl_req *req = CN_ARENA_NEW(&r->arena, struct rpc_acl_req);
    req->op = op;
    req->id = id;
    if (op == RPC_ACL_READ_TOKENS) {
        req->policy = http_param(r, "policy");
        req->role = http_param(r, "role");
        req->authmethod = http_param(r, "authmethod");
        req->servicename = http_param(r, "servicename");
    }
    struct rpc_query *q = rpc_query_new(r->env->rpc);
    q->opts = opts;
    q->authz = r->authz;
    q->run = rpc_acl_run;
    q->done = read_done;
    q->req = req;
    q->arg = r;
    r->cancel = cancel_query;
    r->cancel_arg = q;
    rpc_query_start(q);
}

/* ---- writes --------------------------------------------------------- */

enum wkind { W_TOKEN, W_POLICY, W_TRUE, W_LEGACY_ID, W_BOOTSTRAP };

struct acl_write {
    struct http_req *r;
    enum wkind kind;
    char id[CN_UUID_LEN + 1];
    char reset_file[4096];
};

static void cancel_write(struct http_req *r)
{
    rpc_write_cancel(r->cancel_arg);
}

static void write_done(void *arg, int rc, const struct rpc_result *res)
{
    struct acl_write *aw = arg;
    struct http_req *r = aw->r;
    struct state_store *st = store(r);
    struct cn_jw w;
    if (rc) {
        reply_acl_error(r, rc, res && res->text ? res->text : NULL);
        return;
    }
    if (aw->reset_file[0]) remove(aw->reset_file); /* used up, as Consul does */
    if (aw->kind == W_TRUE) {
        reply_bool(r, true);
        return;
    }
    if (aw->kind == W_POLICY) {
        const struct state_acl_policy *p = state_acl_policy_get(st, cn_str_from(aw->id), NULL);
        if (!p) {
            http_reply_text(r, 500, "policy %s vanished after its write", aw->id);
            return;
        }
        http_json_begin(r, &w);
        write_policy(&w, p, false);
        http_reply_json(r, 200, &w);
        return;
    }
    const struct state_acl_token *t = state_acl_token_get(st, cn_str_from(aw->id), NULL);
    if (!t) {
        http_reply_text(r, 500, "token %s vanished after its write", aw->id);
        return;
    }
    if (aw->kind == W_LEGACY_ID) {
        reply_id(r, t->secret);
        return;
    }
    http_json_begin(r, &w);
    write_token(&w, st, t, true, aw->kind == W_BOOTSTRAP ? TF_BOOTSTRAP : TF_FULL);
    http_reply_json(r, 200, &w);
}

static struct acl_write *new_write(struct http_req *r, enum wkind kind)
{
    struct acl_write *aw = CN_ARENA_NEW(&r->arena, struct acl_write);
    aw->r = r;
    aw->kind = kind;
    return aw;
}

/* Submit a prepared command, or answer the preparation's error. */
static void submit(struct http_req *r, struct acl_write *aw, int rc, struct cn_buf *cmd,
                   const struct cn_err *err)
{
    if (rc) {
        reply_acl_error(r, rc, err->msg);
    } else {
        r->cancel = cancel_write;
        r->cancel_arg = rpc_write_submit(r->env->rpc, cmd, write_done, aw);
    }
    cn_buf_release(cmd);
}

/* ---- JSON bodies ---------------------------------------------------- */

/* RFC 3339 ("2006-01-02T15:04:05.999999999Z07:00") to Unix nanoseconds. */
static int parse_time(const char *s, int64_t *ns)
{
    struct tm tm = {0};
    int frac_digits = 0;
    long frac = 0;
    char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end) return CN_EINVAL;
    if (*end == '.') {
        for (end++; *end >= '0' && *end <= '9'; end++)
            if (frac_digits < 9) frac = frac * 10 + (*end - '0'), frac_digits++;
    }
    for (int i = frac_digits; i < 9; i++) frac *= 10;
    long off = 0;
    if (*end == 'Z' || *end == 'z') {
        end++;
    } else if (*end == '+' || *end == '-') {
        int hh, mm;
        if (sscanf(end + 1, "%2d:%2d", &hh, &mm) != 2) return CN_EINVAL;
        off = (hh * 3600L + mm * 60L) * (*end == '-' ? -1 : 1);
        end += 6;
    } else {
        return CN_EINVAL;
    }
    if (*end) return CN_EINVAL;
    *ns = ((int64_t)timegm(&tm) - off) * CN_NS_PER_S + frac;
    return 0;
}

static int strv_field(json_t *o, const char *field, char ***out, size_t *n, struct cn_err *err)
{
    json_t *a = cn_json_get(o, field);
    *out = NULL;
    *n = 0;
    if (!a || json_is_null(a)) return 0;
    if (!json_is_array(a)) return cn_err_set(err, CN_EINVAL, "%s must be a list of strings", field);
    *out = cn_calloc(json_array_size(a) + 1, sizeof **out);
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_string(v)) return cn_err_set(err, CN_EINVAL, "%s must be a list of strings", field);
        (*out)[(*n)++] = cn_strdup(json_string_value(v));
    }
    return 0;
}

static char *str_or_empty(json_t *o, const char *field, struct cn_err *err)
{
    const char *v = NULL;
    cn_json_str(o, field, &v, err);
    return cn_strdup(v ? v : "");
}

static int token_links(struct http_req *r, json_t *body, struct state_acl_token *t,
                       struct cn_err *err)
{
    json_t *pol = cn_json_get(body, "Policies");
    if (!pol || json_is_null(pol)) return 0;
    if (!json_is_array(pol)) return cn_err_set(err, CN_EINVAL, "Policies must be a list");
    t->policies = cn_calloc(json_array_size(pol) + 1, sizeof *t->policies);
    for (size_t i = 0; i < json_array_size(pol); i++) {
        json_t *l = json_array_get(pol, i);
        const char *id = NULL, *name = NULL;
        if (!json_is_object(l)) return cn_err_set(err, CN_EINVAL, "Policies must be a list of objects");
        if (cn_json_str(l, "ID", &id, err) || cn_json_str(l, "Name", &name, err)) return err->code;
        if ((!id || !*id) && name && *name) {
            const struct state_acl_policy *p = state_acl_policy_by_name(store(r), cn_str_from(name));
            if (!p) return cn_err_set(err, CN_EINVAL, "No such ACL policy with name \"%s\"", name);
            id = p->id;
        }
        if (!id || !*id) return cn_err_set(err, CN_EINVAL, "Policy link has neither an ID nor a Name");
        t->policies[t->npolicies++] = cn_strdup(id);
    }
    return 0;
}

static int token_identities(json_t *body, struct state_acl_token *t, struct cn_err *err)
{
    json_t *svc = cn_json_get(body, "ServiceIdentities"), *nodes = cn_json_get(body, "NodeIdentities");
    if (svc && json_is_array(svc)) {
        t->svc = cn_calloc(json_array_size(svc) + 1, sizeof *t->svc);
        for (size_t i = 0; i < json_array_size(svc); i++) {
            json_t *s = json_array_get(svc, i);
            struct state_acl_service_identity *x = &t->svc[t->nsvc++];
            x->name = str_or_empty(s, "ServiceName", err);
            if (strv_field(s, "Datacenters", &x->dcs, &x->ndcs, err)) return err->code;
        }
    } else if (svc && !json_is_null(svc)) {
        return cn_err_set(err, CN_EINVAL, "ServiceIdentities must be a list");
    }
    if (nodes && json_is_array(nodes)) {
        t->nodes = cn_calloc(json_array_size(nodes) + 1, sizeof *t->nodes);
        for (size_t i = 0; i < json_array_size(nodes); i++) {
            json_t *n = json_array_get(nodes, i);
            struct state_acl_node_identity *x = &t->nodes[t->nnodes++];
            x->name = str_or_empty(n, "NodeName", err);
            x->dc = str_or_empty(n, "Datacenter", err);
        }
    } else if (nodes && !json_is_null(nodes)) {
        return cn_err_set(err, CN_EINVAL, "NodeIdentities must be a list");
    }
    return err->code;
}

static const char *const token_fields[] = {
    "AccessorID", "SecretID", "Description", "Policies", "Roles", "ServiceIdentities",
    "NodeIdentities", "TemplatedPolicies", "Local", "ExpirationTime", "ExpirationTTL",
    "CreateTime", "Hash", "CreateIndex", "ModifyIndex", "AuthMethod", "Legacy", "Rules",
    "Namespace", "Partition", "AuthMethodNamespace", NULL};

/* A token from a request body; NULL after answering 400. */
static struct state_acl_token *token_from_body(struct http_req *r, json_t *body, int64_t *ttl)
{
    struct cn_err err;
    struct state_acl_token *t = CN_NEW(struct state_acl_token);
    json_t *roles = cn_json_get(body, "Roles");
    const char *exp = NULL;
    cn_err_clear(&err);
    *ttl = 0;
    t->accessor = str_or_empty(body, "AccessorID", &err);
    t->secret = str_or_empty(body, "SecretID", &err);
    t->description = str_or_empty(body, "Description", &err);
    if (err.code == 0) cn_json_check_fields(body, token_fields, &err);
    if (err.code == 0) cn_json_bool(body, "Local", &t->local, &err);
    if (err.code == 0) cn_json_dur(body, "ExpirationTTL", ttl, &err);
    if (err.code == 0) cn_json_str(body, "ExpirationTime", &exp, &err);
    if (err.code == 0 && exp && *exp && parse_time(exp, &t->expiration_ns))
        cn_err_set(&err, CN_EINVAL, "invalid ExpirationTime \"%s\"", exp);
    if (err.code == 0 && roles && json_is_array(roles) && json_array_size(roles))
        cn_err_set(&err, CN_EINVAL, "ACL roles are not supported by this server");
    if (err.code == 0) token_links(r, body, t, &err);
    if (err.code == 0) token_identities(body, t, &err);
    if (err.code) {
        state_acl_token_free(t);
        http_reply_text(r, 400, "Request decode failed: %s", err.msg);
        return NULL;
    }
    t->hash = cn_strdup("");
    return t;
}

static const char *const policy_fields[] = {"ID", "Name", "Description", "Rules", "Datacenters",
                                            "Hash", "CreateIndex", "ModifyIndex", "Namespace",
                                            "Partition", NULL};

static struct state_acl_policy *policy_from_body(struct http_req *r, json_t *body)
{
    struct cn_err err;
    struct state_acl_policy *p = CN_NEW(struct state_acl_policy);
    cn_err_clear(&err);
    p->id = str_or_empty(body, "ID", &err);
    p->name = str_or_empty(body, "Name", &err);
    p->description = str_or_empty(body, "Description", &err);
    p->rules = str_or_empty(body, "Rules", &err);
    p->hash = cn_strdup("");
    if (err.code == 0) cn_json_check_fields(body, policy_fields, &err);
    if (err.code == 0) strv_field(body, "Datacenters", &p->dcs, &p->ndcs, &err);
    if (err.code) {
        state_acl_policy_free(p);
        http_reply_text(r, 400, "Request decode failed: %s", err.msg);
        return NULL;
    }
    return p;
}

/* ---- bootstrap ------------------------------------------------------ */

static void h_bootstrap(struct http_req *r)
{
    struct cn_err err;
    struct cn_buf cmd;
    const char *secret = NULL;
    if (acl_off(r)) return;
    json_t *body = http_body_json(r, true);
    if (!body) return;
    cn_err_clear(&err);
    cn_json_str(body, "BootstrapSecret", &secret, &err);
    struct acl_write *aw = new_write(r, W_BOOTSTRAP);
    cn_buf_init(&cmd, CN_BUF_UNLIMITED);
    int rc = err.code ? err.code
                      : rpc_acl_bootstrap_prepare(r->env->rpc, secret, cn_wall_ns(), &cmd, aw->id,
                                                  aw->reset_file, sizeof aw->reset_file, &err);
    submit(r, aw, rc, &cmd, &err);
    json_decref(body);
}

/* ---- tokens --------------------------------------------------------- */

static void token_write(struct http_req *r, enum rpc_acl_token_kind kind, const char *accessor)
{
    struct cn_err err;
    struct cn_buf cmd;
    int64_t ttl;
    json_t *body = http_body_json(r, kind == RPC_ACL_CREATE);
    if (!body) return;
    struct state_acl_token *t = token_from_body(r, body, &ttl);
    json_decref(body);
    if (!t) return;
    if (kind == RPC_ACL_UPDATE) {
        if (t->accessor[0] && strcmp(t->accessor, accessor)) {
            state_acl_token_free(t);
            http_reply_text(r, 400, "Token Accessor ID in URL and payload do not match");
            return;
        }
        free(t->accessor);
        t->accessor = cn_strdup(accessor);
    }
    struct acl_write *aw = new_write(r, W_TOKEN);
    cn_buf_init(&cmd, CN_BUF_UNLIMITED);
    int rc = rpc_acl_token_prepare(r->env->rpc, r->authz, kind, t, ttl, cn_wall_ns(), &cmd,
                                   aw->id, &err);
    submit(r, aw, rc, &cmd, &err);
}

static void token_clone(struct http_req *r, const char *accessor)
{
    struct cn_err err;
    struct cn_buf cmd;
    const char *desc = NULL;
    json_t *body = http_body_json(r, true);
    if (!body) return;
    cn_err_clear(&err);
    cn_json_str(body, "Description", &desc, &err);
    struct acl_write *aw = new_write(r, W_TOKEN);
    cn_buf_init(&cmd, CN_BUF_UNLIMITED);
    int rc = err.code ? err.code
                      : rpc_acl_token_clone_prepare(r->env->rpc, r->authz, accessor, desc,
                                                    cn_wall_ns(), &cmd, aw->id, &err);
    submit(r, aw, rc, &cmd, &err);
    json_decref(body);
}

static void token_delete(struct http_req *r, const char *accessor)
{
    struct cn_err err;
    struct cn_buf cmd;
    struct acl_write *aw = new_write(r, W_TRUE);
    cn_buf_init(&cmd, CN_BUF_UNLIMITED);
    int rc = rpc_acl_token_delete_prepare(r->env->rpc, r->authz, accessor, &cmd, &err);
    submit(r, aw, rc, &cmd, &err);
}

/* /v1/acl/token, /v1/acl/token/<accessor>, .../self, .../<accessor>/clone */
static void h_token(struct http_req *r)
{
    char *id = r->suffix;
    if (acl_off(r)) return;
    size_t n = strlen(id);
    if (!*id) {
        if (r->method == M_PUT)
            token_write(r, RPC_ACL_CREATE, "");
        else
            http_reply_text(r, 400, "Missing token ID");
        return;
    }
    if (n > 6 && !strcmp(id + n - 6, "/clone")) {
        if (r->method != M_PUT) {
            http_reply_text(r, 405, "method %s not allowed", r->method_name);
            return;
        }
        token_clone(r, cn_arena_strndup(&r->arena, id, n - 6));
        return;
    }
    if (!strcmp(id, "self") && r->method == M_GET) {
        start_read(r, RPC_ACL_READ_TOKEN_SELF, NULL);
        return;
    }
    switch (r->method) {
    case M_GET: start_read(r, RPC_ACL_READ_TOKEN, id); break;
    case M_PUT: token_write(r, RPC_ACL_UPDATE, id); break;
    default: token_delete(r, id); break;
    }
}

static void h_tokens(struct http_req *r)
{
    if (acl_off(r)) return;
    start_read(r, RPC_ACL_READ_TOKENS, NULL);
}

/* ---- policies ------------------------------------------------------- */

static void policy_write(struct http_req *r, bool create, const char *id)
{
    struct cn_err err;
    struct cn_buf cmd;
    json_t *body = http_body_json(r, false);
    if (!body) return;
    struct state_acl_policy *p = policy_from_body(r, body);
    json_decref(body);
    if (!p) return;
    if (create && p->id[0]) {
        state_acl_policy_free(p);
        http_reply_text(r, 400, "Cannot specify the ID when creating a new policy");
        return;
    }
    if (!create) {
        if (p->id[0] && strcmp(p->id, id)) {
            state_acl_policy_free(p);
            http_reply_text(r, 400, "Policy ID in URL and payload do not match");
            return;
        }
        free(p->id);
        p->id = cn_strdup(id);
    }
    struct acl_write *aw = new_write(r, W_POLICY);
    cn_buf_init(&cmd, CN_BUF_UNLIMITED);
    int rc = rpc_acl_policy_prepare(r->env->rpc, r->authz, create, p, &cmd, aw->id, &err);
    submit(r, aw, rc, &cmd, &err);
}

/* /v1/acl/policy, /v1/acl/policy/<id>, /v1/acl/policy/name/<name> */
static void h_policy(struct http_req *r)
{
    char *id = r->suffix;
    if (acl_off(r)) return;
    if (!*id) {
        if (r->method == M_PUT)
            policy_write(r, true, "");
        else
            http_reply_text(r, 400, "Missing policy ID");
        return;
    }
    if (!strncmp(id, "name/", 5) && r->method == M_GET) {
        start_read(r, RPC_ACL_READ_POLICY_NAME, id + 5);
        return;
    }
    switch (r->method) {
    case M_GET: start_read(r, RPC_ACL_READ_POLICY, id); break;
    case M_PUT: policy_write(r, false, id); break;
    default: {
        struct cn_err err;
        struct cn_buf cmd;
        struct acl_write *aw = new_write(r, W_TRUE);
        cn_buf_init(&cmd, CN_BUF_UNLIMITED);
        int rc = rpc_acl_policy_delete_prepare(r->env->rpc, r->authz, id, &cmd, &err);
        submit(r, aw, rc, &cmd, &err);
        break;
    }
    }
}

static void h_policies(struct http_req *r)
{
    if (acl_off(r)) return;
    start_read(r, RPC_ACL_READ_POLICIES, NULL);
}

/* ---- the legacy API (removed upstream in 1.11; python3-consul 0.7.1) -- */

static const char *const legacy_fields[] = {"ID", "Name", "Type", "Rules", NULL};

static void legacy_write(struct http_req *r, bool update)
{
    struct cn_err err;
    struct cn_buf cmd;
    json_t *body = http_body_json(r, !update);
    const char *id = NULL, *name = NULL, *type = NULL, *rules = NULL;
    if (!body) return;
    cn_err_clear(&err);
    if (!cn_json_check_fields(body, legacy_fields, &err) && !cn_json_str(body, "ID", &id, &err) &&
        !cn_json_str(body, "Name", &name, &err) && !cn_json_str(body, "Type", &type, &err))
        cn_json_str(body, "Rules", &rules, &err);
    if (!err.code && update && (!id || !*id)) cn_err_set(&err, CN_EINVAL, "ACL ID must be set");
    if (err.code) {
        json_decref(body);
        http_reply_text(r, 400, "Request decode failed: %s", err.msg);
        return;
    }
    struct state_acl_token *t = CN_NEW(struct state_acl_token);
    t->accessor = cn_strdup("");
    t->secret = cn_strdup(id ? id : "");
    t->description = cn_strdup(name ? name : "");
    t->hash = cn_strdup("");
    t->legacy_type = cn_strdup(type && *type ? type : "client");
    t->rules = cn_strdup(rules ? rules : "");
    json_decref(body);
    struct acl_write *aw = new_write(r, W_LEGACY_ID);
    cn_buf_init(&cmd, CN_BUF_UNLIMITED);
    int rc = rpc_acl_token_prepare(r->env->rpc, r->authz, RPC_ACL_LEGACY, t, 0, cn_wall_ns(),
                                   &cmd, aw->id, &err);
    submit(r, aw, rc, &cmd, &err);
}

static void h_legacy_create(struct http_req *r)
{
    if (!acl_off(r)) legacy_write(r, false);
}

static void h_legacy_update(struct http_req *r)
{
    if (!acl_off(r)) legacy_write(r, true);
}

static const char *accessor_of_secret(struct http_req *r, const char *secret)
{
    const struct state_acl_token *t = state_acl_token_by_secret(store(r), cn_str_from(secret));
    return t ? cn_arena_strdup(&r->arena, t->accessor) : NULL;
}

static void h_legacy_destroy(struct http_req *r)
{
    struct cn_err err;
    struct cn_buf cmd;
    if (acl_off(r)) return;
    const char *acc = accessor_of_secret(r, r->suffix);
    if (!acl_allow(r->authz, ACL_R_ACL, CN_STR_NULL, ACL_A_WRITE)) {
        http_reply_denied(r);
        return;
    }
    if (!acc) { /* destroying what is not there succeeds */
        reply_bool(r, true);
        return;
    }
    struct acl_write *aw = new_write(r, W_TRUE);
    cn_buf_init(&cmd, CN_BUF_UNLIMITED);
    int rc = rpc_acl_token_delete_prepare(r->env->rpc, r->authz, acc, &cmd, &err);
    submit(r, aw, rc, &cmd, &err);
}

static void h_legacy_clone(struct http_req *r)
{
    struct cn_err err;
    struct cn_buf cmd;
    if (acl_off(r)) return;
    const char *acc = accessor_of_secret(r, r->suffix);
    struct acl_write *aw = new_write(r, W_LEGACY_ID);
    cn_buf_init(&cmd, CN_BUF_UNLIMITED);
    int rc = rpc_acl_token_clone_prepare(r->env->rpc, r->authz, acc ? acc : "", NULL,
                                         cn_wall_ns(), &cmd, aw->id, &err);
    submit(r, aw, rc, &cmd, &err);
}

static void h_legacy_info(struct http_req *r)
{
    if (!acl_off(r)) start_read(r, RPC_ACL_READ_LEGACY_INFO, r->suffix);
}

static void h_legacy_list(struct http_req *r)
{
    if (!acl_off(r)) start_read(r, RPC_ACL_READ_LEGACY_LIST, NULL);
}

/* ---- /v1/agent/token/<type> (routed from http_routes_agent) --------- */

void http_acl_agent_token(struct http_req *r)
{
    struct cn_err err;
    const char *tok = NULL;
    if (acl_off(r)) return;
    if (!acl_allow(r->authz, ACL_R_ACL, CN_STR_NULL, ACL_A_WRITE)) {
        http_reply_denied(r);
        return;
    }
    json_t *body = http_body_json(r, false);
    if (!body) return;
    cn_err_clear(&err);
    if (cn_json_str(body, "Token", &tok, &err)) {
        json_decref(body);
        http_reply_text(r, 400, "Request decode failed: %s", err.msg);
        return;
    }
    int rc = r->env->agent ? agent_set_acl_token(r->env->agent, r->suffix, tok, &err)
                           : cn_err_set(&err, CN_EUNSUPPORTED, "no agent");
    json_decref(body);
    if (rc == CN_ENOENT)
        http_reply_text(r, 404, "%s", err.msg);
    else if (rc)
        http_reply_text(r, 500, "%s", err.msg);
    else
        http_reply_empty(r, 200);
}

/* ---- /v1/acl/replication ------------------------------------------- */

/* A Go time.Time in JSON, for the whole-second UTC times of the status;
 * Go's zero time when it never happened. */
static void key_utc(struct cn_jw *w, const char *key, int64_t ns)
{
    char buf[32] = "0001-01-01T00:00:00Z";
    if (ns) {
        time_t sec = (time_t)(ns / CN_NS_PER_S);
        struct tm tm;
        gmtime_r(&sec, &tm);
        strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    cn_jw_key_str(w, key, buf);
}

/* No ACL check (Consul: it leaks nothing and health checks poll it); the
 * router sends it to the leader, which runs the replication. */
static void h_replication(struct http_req *r)
{
    struct acl_repl_status s;
    struct cn_jw w;
    if (acl_off(r)) return;
    acl_repl_status(r->env->agent ? agent_acl_repl(r->env->agent) : NULL, &s);
    http_json_begin(r, &w);
    cn_jw_obj_begin(&w);
    cn_jw_key_bool(&w, "Enabled", s.enabled);
    cn_jw_key_bool(&w, "Running", s.running);
    cn_jw_key_str(&w, "SourceDatacenter", s.source_datacenter);
    cn_jw_key_str(&w, "ReplicationType", s.replication_type);
    cn_jw_key_u64(&w, "ReplicatedIndex", s.replicated_index);
    cn_jw_key_u64(&w, "ReplicatedRoleIndex", s.replicated_role_index);
    cn_jw_key_u64(&w, "ReplicatedTokenIndex", s.replicated_token_index);
    key_utc(&w, "LastSuccess", s.last_success_ns);
    key_utc(&w, "LastError", s.last_error_ns);
    cn_jw_obj_end(&w);
    http_reply_json(r, 200, &w);
}

const struct http_route http_routes_acl[] = {
    /* bootstrap needs no token: it is how the first one is made */
    {"/v1/acl/bootstrap", M_PUT, h_bootstrap, 0, ROUTE_NO_ACL},
    {"/v1/acl/token/", M_GET | M_PUT | M_DELETE, h_token, 0, 0},
    {"/v1/acl/tokens", M_GET, h_tokens, 0, 0},
    {"/v1/acl/policy/", M_GET | M_PUT | M_DELETE, h_policy, 0, 0},
    {"/v1/acl/policies", M_GET, h_policies, 0, 0},
    {"/v1/acl/create", M_PUT, h_legacy_create, 0, 0},
    {"/v1/acl/update", M_PUT, h_legacy_update, 0, 0},
    {"/v1/acl/destroy/", M_PUT, h_legacy_destroy, 0, 0},
    {"/v1/acl/info/", M_GET, h_legacy_info, 0, 0},
    {"/v1/acl/clone/", M_PUT, h_legacy_clone, 0, 0},
    {"/v1/acl/list", M_GET, h_legacy_list, 0, 0},
    {"/v1/acl/replication", M_GET, h_replication, 0, ROUTE_NO_ACL},
    HTTP_ROUTES_END,
};
