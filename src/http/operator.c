/* operator.c - /v1/operator/raft/configuration and /v1/operator/raft/peer
 * (the agent layer reads and changes Raft: agent/operator.c), and
 * /v1/operator/keyring (the agent runs it across the gossip pools:
 * agent/keyring.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "http/http_int.h"
#include "lib/cn_common.h"
#include "lib/cn_json.h"

#define PEERS_MAX 64

static bool refused(struct http_req *r, int rc)
{
    if (!rc) return false;
    if (rc == CN_ENOSERVERS)
        http_reply_text(r, 500, "No known Consul servers");
    else if (rc == CN_ENOLEADER || rc == CN_ENOTLEADER)
        http_reply_text(r, 500, "No cluster leader");
    else
        http_reply_text(r, 500, "%s", cn_strerror(rc));
    return true;
}

/* GET: the Raft configuration as the answering server knows it (the leader
 * unless ?stale; the router forwarded it there). */
static void raft_configuration(struct http_req *r)
{
    struct agent_raft_peer *p = cn_arena_zalloc(&r->arena, PEERS_MAX * sizeof *p);
    size_t n;
    uint64_t index;
    struct cn_jw w;
    if (!acl_allow(r->authz, ACL_R_OPERATOR, CN_STR_NULL, ACL_A_READ)) {
        http_reply_denied(r);
        return;
    }
    if (refused(r, agent_raft_configuration(r->env->agent, http_has_param(r, "stale"), p,
                                            PEERS_MAX, &n, &index)))
        return;
    http_json_begin(r, &w);
    cn_jw_obj_begin(&w);
    cn_jw_key(&w, "Servers");
    cn_jw_arr_begin(&w);
    for (size_t i = 0; i < n; i++) {
        cn_jw_obj_begin(&w);
        cn_jw_key_str(&w, "ID", p[i].id);
        cn_jw_key_str(&w, "Node", p[i].node);
        cn_jw_key_str(&w, "Address", p[i].address);
        cn_jw_key_bool(&w, "Leader", p[i].leader);
        cn_jw_key_bool(&w, "Voter", p[i].voter);
        cn_jw_key_str(&w, "ProtocolVersion", "3");
        cn_jw_obj_end(&w);
    }
    cn_jw_arr_end(&w);
    cn_jw_key_u64(&w, "Index", index);
    cn_jw_obj_end(&w);
    http_reply_json(r, 200, &w);
}

/* DELETE ?address=ip:port or ?id=<node id>: remove a server from Raft. */
static void raft_peer(struct http_req *r)
{
    const char *addr = http_param(r, "address"), *id = http_param(r, "id");
    if (!acl_allow(r->authz, ACL_R_OPERATOR, CN_STR_NULL, ACL_A_WRITE)) {
        http_reply_denied(r);
        return;
    }
    if ((!addr || !*addr) && (!id || !*id)) {
        http_reply_text(r, 400, "Must specify either ?id with the server's ID or ?address with "
                                "IP:port of peer to remove");
        return;
    }
    int rc = agent_raft_remove_peer(r->env->agent, addr, id);
    if (rc == CN_ENOENT) {
        if (addr && *addr)
            http_reply_text(r, 500, "address \"%s\" was not found in the Raft configuration", addr);
        else
            http_reply_text(r, 500, "id \"%s\" was not found in the Raft configuration", id);
        return;
    }
    if (refused(r, rc)) return;
    http_reply_empty(r, 200);
}

/* ---- keyring ------------------------------------------------------------------------ */

struct keyring_call {
    struct http_req *r;
    struct agent_keyring_req *q;
    bool internal; /* /v1/internal/cairn/keyring: one pool, errors inside */
};

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(((const char(*)[48])a)[0], ((const char(*)[48])b)[0]);
}

/* Go encodes a map's keys sorted. */
static void write_keys(struct cn_jw *w, struct agent_keyring_pool *p)
{
    qsort(p->keys, p->n_keys, sizeof p->keys[0], cmp_keys);
    cn_jw_key(w, "Keys");
    cn_jw_obj_begin(w);
    for (size_t i = 0; i < p->n_keys; i++) {
        cn_jw_key(w, p->keys[i].key);
        cn_jw_u64(w, p->keys[i].count);
    }
    cn_jw_obj_end(w);
}

/* structs.KeyringResponse; Messages and Error are omitempty. */
static void write_pool(struct cn_jw *w, struct agent_keyring_pool *p)
{
    cn_jw_obj_begin(w);
    cn_jw_key_bool(w, "WAN", p->wan);
    cn_jw_key_str(w, "Datacenter", p->datacenter);
    cn_jw_key_str(w, "Segment", "");
    if (p->n_messages) {
        cn_jw_key(w, "Messages");
        cn_jw_obj_begin(w);
        for (size_t i = 0; i < p->n_messages; i++)
            cn_jw_key_str(w, p->messages[i].node, p->messages[i].message);
        cn_jw_obj_end(w);
    }
    write_keys(w, p);
    cn_jw_key_u64(w, "NumNodes", p->num_nodes);
    if (p->error[0]) cn_jw_key_str(w, "Error", p->error);
    cn_jw_obj_end(w);
}

/* keyringErrorsOrNil: every failed pool and its members' messages, as a
 * go-multierror list; false when there is none. */
static bool keyring_errors(const struct agent_keyring_result *res, struct cn_buf *out)
{
    size_t n = 0;
    struct cn_buf list;
    cn_buf_init(&list, CN_BUF_UNLIMITED);
    for (size_t i = 0; i < res->n; i++) {
        const struct agent_keyring_pool *p = &res->pools[i];
        if (!p->error[0]) continue;
        n++;
        if (p->wan)
            cn_buf_putf(&list, "\n\t* WAN error: %s", p->error);
        else
            cn_buf_putf(&list, "\n\t* %s (LAN) error: %s", p->datacenter, p->error);
        for (size_t j = 0; j < p->n_messages; j++, n++)
            cn_buf_putf(&list, "\n\t* %s: %s", p->messages[j].node, p->messages[j].message);
    }
    if (n == 1)
        cn_buf_putf(out, "1 error occurred:%s\n\n", list.data);
    else if (n)
        cn_buf_putf(out, "%zu errors occurred:%s\n\n", n, list.data);
    cn_buf_release(&list);
    return n > 0;
}

static void keyring_done(void *ctx, const struct agent_keyring_result *cres)
{
    struct keyring_call *c = ctx;
    struct http_req *r = c->r;
    bool internal = c->internal;
    struct agent_keyring_result *res = (struct agent_keyring_result *)cres;
    struct cn_buf errs;
    struct cn_jw w;
    free(c);
    r->cancel = NULL;
    if (res->rc) {
        http_reply_text(r, 500, "%s", res->error);
        return;
    }
    cn_buf_init(&errs, CN_BUF_UNLIMITED);
    if (internal) {
        http_json_begin(r, &w);
        write_pool(&w, &res->pools[0]);
        http_reply_json(r, 200, &w);
    } else if (keyring_errors(res, &errs)) {
        http_reply_text(r, 500, "%s", errs.data);
    } else if (r->method != M_GET) {
        http_reply_empty(r, 200);
    } else {
        http_json_begin(r, &w);
        cn_jw_arr_begin(&w);
        for (size_t i = 0; i < res->n; i++) write_pool(&w, &res->pools[i]);
        cn_jw_arr_end(&w);
        http_reply_json(r, 200, &w);
    }
    cn_buf_release(&errs);
}

static void keyring_cancel(struct http_req *r)
{
    struct keyring_call *c = r->cancel_arg;
    agent_keyring_cancel(c->q);
    free(c);
}

/* strconv.ParseBool */
static int go_parse_bool(const char *s, bool *out)
{
    static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < CN_ARRAY_SIZE(t); i++) {
        if (!strcmp(s, t[i])) return *out = true, 0;
        if (!strcmp(s, f[i])) return *out = false, 0;
    }
    return -1;
}

/* ?relay-factor and ?local-only as Consul checks them; false after a 400. */
static bool keyring_params(struct http_req *r, bool *local_only)
{
    const char *rf = http_param(r, "relay-factor"), *lo = http_param(r, "local-only");
    if (rf && *rf) {
        const char *d = rf + (*rf == '+' || *rf == '-');
        bool digits = *d && strspn(d, "0123456789") == strlen(d);
        errno = 0;
        long long n = digits ? strtoll(rf, NULL, 10) : 0;
        if (!digits || errno == ERANGE) {
            http_reply_text(r, 400,
                            "Bad request: Error parsing relay factor: strconv.Atoi: parsing "
                            "\"%s\": %s",
                            rf, digits ? "value out of range" : "invalid syntax");
            return false;
        }
        if (n < 0 || n > 5) {
            http_reply_text(r, 400,
                            "Bad request: Invalid relay-factor: Relay factor must be in range: [0, 5]");
            return false;
        }
    }
    *local_only = false;
    if (lo && *lo) {
        if (go_parse_bool(lo, local_only)) {
            http_reply_text(r, 400,
                            "Bad request: Error parsing local-only: strconv.ParseBool: parsing \"%s\": "
                            "invalid syntax",
                            lo);
            return false;
        }
        if (*local_only && r->method != M_GET) {
            http_reply_text(r, 400, "Bad request: Invalid use of local-only: local-only can only "
                                    "be set for list requests");
            return false;
        }
    }
    return true;
}

/* The {"Key": ...} body of install, use and remove (Consul's keyringArgs,
 * unknown fields refused); a 400 in Consul's BadRequestError form. */
static bool keyring_body(struct http_req *r, const char **key, json_t **body)
{
    static const char *const fields[] = {"Key", "Token", "RelayFactor", "LocalOnly", NULL};
    struct cn_str text = cn_str_trim(cn_buf_str(&r->body));
    struct cn_err err;
    *key = "";
    *body = NULL;
    if (r->method == M_GET) return true;
    cn_err_clear(&err);
    if (text.len == 0) cn_err_set(&err, CN_EINVAL, "EOF");
    if (err.code == 0) *body = cn_json_parse(text.p, text.len, &err);
    if (err.code == 0 && !json_is_object(*body) && !json_is_null(*body))
        cn_err_set(&err, CN_EINVAL,
                   "json: cannot unmarshal %s into Go value of type agent.keyringArgs",
                   cn_json_type_name(*body));
    if (err.code == 0 && json_is_object(*body)) cn_json_check_fields(*body, fields, &err);
    json_t *k = json_is_object(*body) ? cn_json_get(*body, "Key") : NULL;
    if (err.code == 0 && k && !json_is_string(k) && !json_is_null(k))
        cn_err_set(&err, CN_EINVAL,
                   "json: cannot unmarshal %s into Go struct field keyringArgs.Key of type string",
                   cn_json_type_name(k));
    if (err.code == 0 && json_is_string(k)) *key = json_string_value(k);
    if (err.code) {
        http_reply_text(r, 400, "Bad request: Request decode failed: %s", err.msg);
        json_decref(*body);
        *body = NULL;
        return false;
    }
    return true;
}

static void keyring_run(struct http_req *r, enum agent_keyring_op op, const char *key,
                        unsigned flags)
{
    struct keyring_call *c = CN_NEW(struct keyring_call);
    c->r = r;
    c->internal = flags & AGENT_KEYRING_LAN_ONLY;
    r->cancel = keyring_cancel;
    r->cancel_arg = c;
    /* keyring_done may answer (and free c) before this returns */
    int rc = agent_keyring_start(r->env->agent, op, key, r->token, flags, keyring_done, c, &c->q);
    if (rc) {
        free(c);
        r->cancel = NULL;
        http_reply_text(r, 500, "keyring operations must run against a server node");
    }
}

static enum agent_keyring_op keyring_op_of(unsigned method)
{
    return method == M_POST  ? AGENT_KEYRING_INSTALL
           : method == M_PUT ? AGENT_KEYRING_USE
           : method == M_DELETE ? AGENT_KEYRING_REMOVE
                                : AGENT_KEYRING_LIST;
}

/* GET list, POST install, PUT use, DELETE remove. Answered by the server
 * that receives it (a client agent refuses, as Consul's does). */
static void keyring(struct http_req *r)
{
    const char *key;
    json_t *body;
    bool local_only;
    if (!keyring_body(r, &key, &body)) return;
    if (!keyring_params(r, &local_only)) {
        json_decref(body);
        return;
    }
    enum agent_keyring_op op = keyring_op_of(r->method);
    if (!agent_cfg(r->env->agent)->server) {
        http_reply_text(r, 500, "keyring operations must run against a server node");
    } else if (!acl_allow(r->authz, ACL_R_KEYRING, CN_STR_NULL,
                          op == AGENT_KEYRING_LIST ? ACL_A_READ : ACL_A_WRITE)) {
        /* Consul's texts, and a 500: they lack "Permission denied" */
        http_reply_text(r, 500, op == AGENT_KEYRING_LIST ? "Reading keyring denied by ACLs"
                                                         : "Modifying keyring denied due to ACLs");
    } else {
        /* ?local-only is checked, then (Consul 1.7's agent.ListKeys drops
         * it) every pool is listed anyway */
        (void)local_only;
        keyring_run(r, op, cn_arena_strdup(&r->arena, key), 0);
    }
    json_decref(body);
}

/* PUT ?op=list|install|use|remove {"Key"}: another datacenter's server asks
 * for our LAN pool's part (Consul's forwarded Internal.KeyringOperation). */
static void keyring_internal(struct http_req *r)
{
    static const char *const ops[] = {"list", "install", "use", "remove"};
    const char *key, *opname = http_param(r, "op");
    json_t *body;
    int op = -1;
    for (int i = 0; i < 4 && opname; i++)
        if (!strcmp(opname, ops[i])) op = i;
    if (op < 0) {
        http_reply_text(r, 400, "unknown keyring operation");
        return;
    }
    if (!keyring_body(r, &key, &body)) return;
    if (!acl_allow(r->authz, ACL_R_KEYRING, CN_STR_NULL,
                   op == AGENT_KEYRING_LIST ? ACL_A_READ : ACL_A_WRITE)) {
        http_reply_text(r, 500, op == AGENT_KEYRING_LIST ? "Reading keyring denied by ACLs"
                                                         : "Modifying keyring denied due to ACLs");
    } else {
        keyring_run(r, (enum agent_keyring_op)op, cn_arena_strdup(&r->arena, key),
                    AGENT_KEYRING_LAN_ONLY);
    }
    json_decref(body);
}

const struct http_route http_routes_operator[] = {
    {"/v1/operator/raft/configuration", M_GET, raft_configuration, 0, 0},
    {"/v1/operator/raft/peer", M_DELETE, raft_peer, 0, 0},
    {"/v1/operator/keyring", M_GET | M_POST | M_PUT | M_DELETE, keyring, 0, ROUTE_LOCAL},
    {"/v1/internal/cairn/keyring", M_PUT, keyring_internal, 0, ROUTE_LOCAL},
    HTTP_ROUTES_END,
};
