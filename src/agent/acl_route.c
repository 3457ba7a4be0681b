/*
 * acl_route.c - ACL requests of a secondary datacenter that belong to the
 * primary (acl_route.h). Decided before the token is resolved, like
 * Consul's forward() at the top of each ACL endpoint: the primary judges
 * the token, and answers.
 */
#include "agent/acl_route.h"

#include <stdio.h>
#include <string.h>

#include "acl/acl.h"
#include "http/http_int.h"
#include "lib/cn_json.h"

enum verdict { HERE, PRIMARY, ANSWERED };

static bool starts(const char *s, const char *prefix)
{
    return !strncmp(s, prefix, strlen(prefix));
}

static bool ends(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

static const struct state_acl_token *local_token(struct http_req *r, const char *accessor)
{
    return state_acl_token_get(rpc_state(r->env->rpc), cn_str_from(accessor), NULL);
}

/* PUT /v1/acl/token[/<id>]: where the body's Local flag sends it. */
static enum verdict token_set(struct http_req *r, bool local_tokens)
{
    json_error_t jerr;
    json_t *body = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, &jerr);
    if (!body) return HERE; /* the handler answers the decode error */
    json_t *local = json_is_object(body) ? cn_json_get(body, "Local") : NULL;
    bool is_local = local && json_is_true(local);
    json_decref(body);
    if (!is_local) return PRIMARY;
    if (local_tokens) return HERE;
    http_reply_text(r, 500, "Local tokens are disabled");
    return ANSWERED;
}

/* /v1/acl/token/..., /v1/acl/tokens */
static enum verdict token_route(struct http_req *r, const char *rest, bool local_tokens)
{
    const char *id = rest[5] == '/' ? rest + 6 : "";
    bool clone = r->method == M_PUT && ends(id, "/clone");
    /* create and update: by the token's Local flag, whatever else holds */
    if (r->method == M_PUT && !clone) return token_set(r, local_tokens);
    /* without local tokens this datacenter holds no token of its own */
    if (r->method == M_GET || !strcmp(rest, "tokens") || !local_tokens)
        return local_tokens ? HERE : PRIMARY;
    if (clone) {
        char acc[128];
        snprintf(acc, sizeof acc, "%.*s", (int)(strlen(id) - 6), id);
        const struct state_acl_token *t = local_token(r, acc);
        return t && !t->local ? PRIMARY : HERE;
    }
    /* DELETE: here only for a local token this datacenter holds */
    const struct state_acl_token *t = local_token(r, id);
    return t && t->local ? HERE : PRIMARY;
}

static enum verdict decide(struct http_req *r, const char *rest, bool local_tokens)
{
    if (!strcmp(rest, "bootstrap")) {
        /* Consul 1.7: acl.ErrDisabled from the RPC, which the HTTP layer
         * answers as any unclassified error */
        http_reply_text(r, 500, "ACL support disabled");
        return ANSWERED;
    }
    if (!strcmp(rest, "policy") || starts(rest, "policy/"))
        return r->method == M_GET ? HERE : PRIMARY;
    if (!strcmp(rest, "token") || starts(rest, "token/") || !strcmp(rest, "tokens"))
        return token_route(r, rest, local_tokens);
    static const char *const legacy[] = {"create", "update", "destroy/", "clone/", "info/", "list"};
    for (size_t i = 0; i < sizeof legacy / sizeof legacy[0]; i++)
        if (ends(legacy[i], "/") ? starts(rest, legacy[i]) : !strcmp(rest, legacy[i]))
            return PRIMARY;
    return HERE;
}

int cluster_acl_route(const struct cluster_config *cfg, struct http_req *r, const char **dc)
{
    const char *primary = cfg->primary_datacenter;
    if (!cfg->acl_enabled || !primary || !*primary || !strcmp(primary, cfg->datacenter)) return 0;
    if (!starts(r->path, "/v1/acl/") || !r->env->rpc) return 0;
    const char *tok = r->env->acl ? acl_agent_token(r->env->acl, ACL_TOKEN_REPLICATION) : "";
    bool local_tokens = cfg->acl_token_replication && *tok;
    switch (decide(r, r->path + 8, local_tokens)) {
    case PRIMARY:
        *dc = primary;
        return 1;
    case ANSWERED:
        return -1;
    case HERE:
        break;
    }
    return 0;
}
