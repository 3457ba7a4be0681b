/*
 * acl_ident.c - what a token grants, as a server tells a client agent
 * (rpc_acl_ident.h).
 *
 * The server sends rules as text rather than compiled rules: the text is
 * what the tables hold, the client already has the parser, and the answer
 * stays small. Datacenter scoping (policy Datacenters, identity
 * datacenters) is applied here, on the server, the same way the server's
 * own resolver applies it (src/acl/resolver.c), so both sides grant alike.
 */
#include <string.h>

#include "lib/cn_codec.h"
#include "lib/cn_common.h"
#include "rpc/rpc_acl_ident.h"

#define IDENT_VERSION 1

/* ---- the server's side -------------------------------------------------- */

static bool in_dcs(const char *dc, char *const *dcs, size_t n)
{
    if (n == 0) return true;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(dcs[i], dc)) return true;
    return false;
}

static void add_policies(struct rpc_query *q, struct state_store *st, const char *dc,
                         const struct state_acl_token *t, struct rpc_acl_ident *id)
{
    id->rules = CN_ARENA_ARRAY(&q->arena, const char *, t->npolicies + 1);
    for (size_t i = 0; i < t->npolicies && id->nrules < RPC_ACL_IDENT_LIST_MAX; i++) {
        if (!strcmp(t->policies[i], ACL_GLOBAL_MANAGEMENT_ID)) {
            id->management = true;
            continue;
        }
        const struct state_acl_policy *p =
            state_acl_policy_get(st, cn_str_from(t->policies[i]), NULL);
        if (p && in_dcs(dc, p->dcs, p->ndcs)) id->rules[id->nrules++] = p->rules;
    }
}

static void add_identities(struct rpc_query *q, const char *dc, const struct state_acl_token *t,
                           struct rpc_acl_ident *id)
{
    id->services = CN_ARENA_ARRAY(&q->arena, const char *, t->nsvc + 1);
    for (size_t i = 0; i < t->nsvc && id->nservices < RPC_ACL_IDENT_LIST_MAX; i++)
        if (in_dcs(dc, t->svc[i].dcs, t->svc[i].ndcs))
            id->services[id->nservices++] = t->svc[i].name;
    id->nodes = CN_ARENA_ARRAY(&q->arena, const char *, t->nnodes + 1);
    for (size_t i = 0; i < t->nnodes && id->nnodes < RPC_ACL_IDENT_LIST_MAX; i++)
        if (!t->nodes[i].dc[0] || !strcmp(t->nodes[i].dc, dc))
            id->nodes[id->nnodes++] = t->nodes[i].name;
}

int rpc_acl_ident_run(struct rpc_query *q, struct state_store *st, struct state_watch_set *ws)
{
    const struct rpc_acl_ident_req *req = q->req;
    const char *dc = req->datacenter ? req->datacenter : "dc1";
    bool anon = !strcmp(req->secret, ACL_ANONYMOUS_SECRET);
    struct rpc_acl_ident *id = CN_ARENA_NEW(&q->arena, struct rpc_acl_ident);
    (void)ws; /* never blocks: a client asks again after token_ttl */
    q->resp = id;
    q->meta.index = state_acl_index(st);
    const struct state_acl_token *t =
        anon ? state_acl_token_get(st, CN_STR(ACL_ANONYMOUS_ID), NULL)
             : state_acl_token_by_secret(st, cn_str_from(req->secret));
    /* The anonymous token exists once a leader created it; before that it
     * is a token without policies (as the server's resolver has it). */
    if (!t && !anon) return cn_err_set(&q->err, CN_EACLNOTFOUND, "ACL not found");
    id->anonymous = anon;
    id->accessor = t ? t->accessor : ACL_ANONYMOUS_ID;
    id->legacy_rules = "";
    if (!t) return 0;
    add_policies(q, st, dc, t, id);
    add_identities(q, dc, t, id);
    if (t->legacy_type && !strcmp(t->legacy_type, "management")) id->management = true;
    if (t->rules) id->legacy_rules = t->rules;
    id->expires_ns = t->expiration_ns;
    return 0;
}

static void enc_list(struct cn_buf *out, const char *const *v, size_t n)
{
    cn_enc_uvar(out, n);
    for (size_t i = 0; i < n; i++) cn_enc_cstr(out, v[i]);
}

void rpc_acl_ident_encode(const struct rpc_acl_ident *id, struct cn_buf *out)
{
    cn_enc_u8(out, IDENT_VERSION);
    cn_enc_cstr(out, id->accessor ? id->accessor : "");
    cn_enc_bool(out, id->management);
    cn_enc_bool(out, id->anonymous);
    cn_enc_svar(out, id->expires_ns);
    enc_list(out, id->rules, id->nrules);
    cn_enc_cstr(out, id->legacy_rules ? id->legacy_rules : "");
    enc_list(out, id->services, id->nservices);
    enc_list(out, id->nodes, id->nnodes);
}

/* ---- the client's side -------------------------------------------------- */

static char *dec_str(struct cn_dec *d, struct cn_arena *a, size_t max)
{
    struct cn_str s = cn_dec_bytes(d, max);
    if (cn_dec_status(d)) return NULL;
    /* a NUL inside would make the text mean less than it says */
    if (s.len && memchr(s.p, '\0', s.len)) {
        d->err = CN_ECORRUPT;
        return NULL;
    }
    return cn_arena_str(a, s);
}

/* A list: bounded, and each entry takes at least one byte. */
static const char **dec_list(struct cn_dec *d, struct cn_arena *a, size_t max_len, size_t *n)
{
    uint64_t count = cn_dec_uvar(d);
    *n = 0;
    if (cn_dec_status(d) || count > RPC_ACL_IDENT_LIST_MAX || count > cn_dec_left(d)) {
        d->err = CN_ECORRUPT;
        return NULL;
    }
    const char **v = CN_ARENA_ARRAY(a, const char *, count + 1);
    for (size_t i = 0; i < count; i++) {
        v[i] = dec_str(d, a, max_len);
        if (!v[i]) return NULL;
    }
    *n = (size_t)count;
    return v;
}

int rpc_acl_ident_decode(const void *p, size_t len, struct cn_arena *a, struct rpc_acl_ident *out)
{
    struct cn_dec d;
    memset(out, 0, sizeof *out);
    cn_dec_init(&d, p, len);
    if (cn_dec_u8(&d) != IDENT_VERSION) return CN_ECORRUPT;
    out->accessor = dec_str(&d, a, RPC_ACL_IDENT_NAME_MAX);
    out->management = cn_dec_bool(&d);
    out->anonymous = cn_dec_bool(&d);
    out->expires_ns = cn_dec_svar(&d);
    out->rules = dec_list(&d, a, ACL_RULES_TEXT_MAX, &out->nrules);
    if (!cn_dec_status(&d)) out->legacy_rules = dec_str(&d, a, ACL_RULES_TEXT_MAX);
    if (!cn_dec_status(&d))
        out->services = dec_list(&d, a, RPC_ACL_IDENT_NAME_MAX, &out->nservices);
    if (!cn_dec_status(&d)) out->nodes = dec_list(&d, a, RPC_ACL_IDENT_NAME_MAX, &out->nnodes);
    if (cn_dec_status(&d) || cn_dec_left(&d) || out->expires_ns < 0) {
        memset(out, 0, sizeof *out);
        return CN_ECORRUPT;
    }
    return 0;
}

void rpc_acl_ident_parse(const struct rpc_acl_ident *in, struct rpc_acl_ident_parsed *out)
{
    size_t n = 0;
    struct cn_err err;
    memset(out, 0, sizeof *out);
    out->rules = cn_calloc(in->nrules + 1, sizeof *out->rules);
    out->ptrs = cn_calloc(in->nrules + 1, sizeof *out->ptrs);
    out->nrules = in->nrules + 1;
    for (size_t i = 0; i <= in->nrules; i++) {
        bool legacy = i == in->nrules;
        const char *text = legacy ? in->legacy_rules : in->rules[i];
        struct acl_rules *r = &out->rules[i];
        acl_rules_init(r);
        if (!text || !*text) continue;
        /* The server checked the rules when they were written; one in a
         * syntax this version does not read grants nothing. */
        if (acl_rules_parse(text, strlen(text), legacy ? ACL_PARSE_LEGACY : 0, r, &err))
            acl_rules_release(r);
        else
            out->ptrs[n++] = r;
    }
    out->id = (struct acl_identity){
        .accessor = in->accessor,
        .management = in->management,
        .anonymous = in->anonymous,
        .policies = out->ptrs,
        .npolicies = n,
        .service_identities = in->services,
        .nservice_identities = in->nservices,
        .node_identities = in->nodes,
        .nnode_identities = in->nnodes,
        .expires_ns = in->expires_ns,
    };
}

void rpc_acl_ident_parsed_release(struct rpc_acl_ident_parsed *p)
{
    for (size_t i = 0; p->rules && i < p->nrules; i++) acl_rules_release(&p->rules[i]);
    free(p->rules);
    free(p->ptrs);
    memset(p, 0, sizeof *p);
}
