/*
 * acl.c - the ACL endpoints: commands, the leader's checks, reads.
 *
 * Consul's rules, in one place: who may write (acl:write), what is generated
 * (AccessorID, SecretID as UUIDs), what is immutable on update (SecretID,
 * Local, ExpirationTime), the built-in objects (global-management cannot be
 * renamed, re-ruled or deleted; the anonymous token cannot be deleted; a
 * token cannot delete itself), bootstrap once with its reset file.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/cn_base64.h"
#include "lib/cn_common.h"
#include "lib/cn_uuid.h"
#include "rpc/rpc_acl.h"
#include "rpc/rpc_int.h"

#define GM_RULES                                                                           \
    "acl = \"write\"\nagent_prefix \"\" {\n  policy = \"write\"\n}\n"                      \
    "event_prefix \"\" {\n  policy = \"write\"\n}\nkey_prefix \"\" {\n  policy = \"write\"\n}\n" \
    "keyring = \"write\"\nnode_prefix \"\" {\n  policy = \"write\"\n}\n"                   \
    "operator = \"write\"\nmesh = \"write\"\npeering = \"write\"\n"                         \
    "query_prefix \"\" {\n  policy = \"write\"\n}\nservice_prefix \"\" {\n  policy = \"write\"\n"  \
    "  intentions = \"write\"\n}\nsession_prefix \"\" {\n  policy = \"write\"\n}"
#define TTL_MIN_NS (60LL * 1000000000LL)
#define TTL_MAX_NS (24LL * 3600 * 1000000000LL)

/* ---- commands ------------------------------------------------------- */

static void cmd_begin(struct cn_buf *out, enum rpc_acl_op op, unsigned mode)
{
    rpc_cmd_begin(out, RPC_CMD_ACL);
    cn_enc_u8(out, (uint8_t)op);
    cn_enc_u8(out, (uint8_t)mode);
}

void rpc_acl_token_set_encode(const struct state_acl_token *t, enum state_acl_set_mode mode,
                              struct cn_buf *out)
{
    cmd_begin(out, RPC_ACL_TOKEN_SET, mode);
    state_acl_token_encode(t, out);
}

void rpc_acl_token_delete_encode(const char *accessor, struct cn_buf *out)
{
    cmd_begin(out, RPC_ACL_TOKEN_DELETE, 0);
    cn_enc_cstr(out, accessor);
}

void rpc_acl_policy_set_encode(const struct state_acl_policy *p, enum state_acl_set_mode mode,
                               struct cn_buf *out)
{
    cmd_begin(out, RPC_ACL_POLICY_SET, mode);
    state_acl_policy_encode(p, out);
}

void rpc_acl_policy_delete_encode(const char *id, struct cn_buf *out)
{
    cmd_begin(out, RPC_ACL_POLICY_DELETE, 0);
    cn_enc_cstr(out, id);
}

void rpc_acl_bootstrap_encode(const struct state_acl_token *t, uint64_t reset_index,
                              struct cn_buf *out)
{
    cmd_begin(out, RPC_ACL_BOOTSTRAP, STATE_ACL_CREATE);
    cn_enc_uvar(out, reset_index);
    state_acl_token_encode(t, out);
}

int rpc_acl_decode(struct cn_dec *d, struct rpc_acl_cmd *c)
{
    memset(c, 0, sizeof *c);
    c->op = (enum rpc_acl_op)cn_dec_u8(d);
    c->mode = (enum state_acl_set_mode)cn_dec_u8(d);
    if (cn_dec_status(d)) return CN_ECORRUPT;
    switch (c->op) {
    case RPC_ACL_TOKEN_SET:
    case RPC_ACL_BOOTSTRAP:
        if (c->op == RPC_ACL_BOOTSTRAP) c->reset_index = cn_dec_uvar(d);
        if (c->mode < STATE_ACL_CREATE || c->mode > STATE_ACL_UPSERT) return CN_ECORRUPT;
        return state_acl_token_decode(d, &c->token);
    case RPC_ACL_POLICY_SET:
        if (c->mode < STATE_ACL_CREATE || c->mode > STATE_ACL_UPSERT) return CN_ECORRUPT;
        return state_acl_policy_decode(d, &c->policy);
    case RPC_ACL_TOKEN_DELETE:
    case RPC_ACL_POLICY_DELETE:
        c->id = cn_dec_bytes(d, 128);
        return cn_dec_status(d) ? CN_ECORRUPT : 0;
    }
    return CN_ECORRUPT;
}

/* ---- helpers -------------------------------------------------------- */

static int denied(struct cn_err *err)
{
    return cn_err_set(err, CN_EPERM, "Permission denied");
}

static bool may_write(const struct acl_authz *a)
{
    return acl_allow(a, ACL_R_ACL, CN_STR_NULL, ACL_A_WRITE);
}

/* Consul's Hash: a digest of what the token or policy grants, base64. Ours
 * is four salted 64-bit FNV runs over the encoded fields. */
static char *digest(const struct cn_buf *b)
{
    uint8_t out[32];
    char *tmp = cn_malloc(b->len + 1), *enc;
    if (b->len) memcpy(tmp + 1, b->data, b->len);
    for (int k = 0; k < 4; k++) {
        tmp[0] = (char)(0xa5 + k);
        uint64_t h = cn_hash_bytes(tmp, b->len + 1);
        for (int i = 0; i < 8; i++) out[k * 8 + i] = (uint8_t)(h >> (8 * i));
    }
    free(tmp);
    enc = cn_malloc(cn_base64_encoded_len(sizeof out) + 1);
    cn_base64_encode(out, sizeof out, enc);
    enc[cn_base64_encoded_len(sizeof out)] = '\0';
    return enc;
}

static void token_hash(struct state_acl_token *t)
{
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_enc_cstr(&b, t->description);
    for (size_t i = 0; i < t->npolicies; i++) cn_enc_cstr(&b, t->policies[i]);
    for (size_t i = 0; i < t->nsvc; i++) cn_enc_cstr(&b, t->svc[i].name);
    for (size_t i = 0; i < t->nnodes; i++) cn_enc_cstr(&b, t->nodes[i].name);
    cn_enc_bool(&b, t->local);
    cn_enc_cstr(&b, t->rules);
    cn_enc_cstr(&b, t->legacy_type);
    free(t->hash);
    t->hash = digest(&b);
    cn_buf_release(&b);
}

static void policy_hash(struct state_acl_policy *p)
{
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_enc_cstr(&b, p->name);
    cn_enc_cstr(&b, p->description);
    cn_enc_cstr(&b, p->rules);
    for (size_t i = 0; i < p->ndcs; i++) cn_enc_cstr(&b, p->dcs[i]);
    free(p->hash);
    p->hash = digest(&b);
    cn_buf_release(&b);
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = cn_strdup(v ? v : "");
}

static void new_uuid(char **dst)
{
    char id[CN_UUID_LEN + 1];
    cn_uuid_new(id);
    set_str(dst, id);
}

/* Drop repeated policy links (Consul de-duplicates them). */
static void dedupe_links(struct state_acl_token *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->npolicies; i++) {
        bool dup = false;
        for (size_t j = 0; j < n && !dup; j++) dup = !strcmp(t->policies[j], t->policies[i]);
        if (dup)
            free(t->policies[i]);
        else
            t->policies[n++] = t->policies[i];
    }
    t->npolicies = n;
}

static int check_links(struct state_store *st, const struct state_acl_token *t, struct cn_err *err)
{
    for (size_t i = 0; i < t->npolicies; i++) {
        if (!strcmp(t->policies[i], ACL_GLOBAL_MANAGEMENT_ID)) continue;
        if (!state_acl_policy_get(st, cn_str_from(t->policies[i]), NULL))
            return cn_err_set(err, CN_EINVAL, "No such ACL policy with ID \"%s\"", t->policies[i]);
    }
    for (size_t i = 0; i < t->nsvc; i++)
        if (!t->svc[i].name[0])
            return cn_err_set(err, CN_EINVAL, "Service identity is missing the service name field on this token");
    for (size_t i = 0; i < t->nnodes; i++)
        if (!t->nodes[i].name[0] || !t->nodes[i].dc[0])
            return cn_err_set(err, CN_EINVAL, "Node identity is missing the node name or datacenter field on this token");
    return 0;
}

static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x21 || (unsigned char)*s == 0x7f) return false;
    return true;
}

/* ---- token writes --------------------------------------------------- */

static int prepare_create(struct state_store *st, struct state_acl_token *t, int64_t ttl,
                          int64_t now_ns, struct cn_err *err)
{
    if (!t->accessor[0]) {
        new_uuid(&t->accessor);
    } else if (!cn_uuid_valid(cn_str_from(t->accessor))) {
        return cn_err_set(err, CN_EINVAL, "Invalid Token: AccessorID is not a valid UUID");
    } else if (state_acl_token_get(st, cn_str_from(t->accessor), NULL)) {
        return cn_err_set(err, CN_EINVAL, "Invalid Token: AccessorID is already in use");
    }
    if (!t->secret[0]) {
        new_uuid(&t->secret);
    } else if (!cn_uuid_valid(cn_str_from(t->secret))) {
        return cn_err_set(err, CN_EINVAL, "Invalid Token: SecretID is not a valid UUID");
    }
    if (state_acl_token_by_secret(st, cn_str_from(t->secret)))
        return cn_err_set(err, CN_EINVAL, "Invalid Token: SecretID is already in use");
    if (ttl && t->expiration_ns)
        return cn_err_set(err, CN_EINVAL, "Token Expiration TTL and Expiration Time cannot both be set");
    if (ttl) {
        if (ttl < TTL_MIN_NS || ttl > TTL_MAX_NS)
            return cn_err_set(err, CN_EINVAL, "Token Expiration TTL must be between 1m0s and 24h0m0s");
        t->expiration_ns = now_ns + ttl;
    } else if (t->expiration_ns && t->expiration_ns <= now_ns) {
        return cn_err_set(err, CN_EINVAL, "Token Expiration Time cannot be in the past");
    }
    t->create_time_ns = now_ns;
    return 0;
}

static int prepare_update(struct state_store *st, struct state_acl_token *t, int64_t ttl,
                          struct cn_err *err)
{
    const struct state_acl_token *ex = state_acl_token_get(st, cn_str_from(t->accessor), NULL);
    if (!ex) return cn_err_set(err, CN_ENOENT, "Cannot find token %s", t->accessor);
    if (!t->secret[0]) set_str(&t->secret, ex->secret);
    if (strcmp(t->secret, ex->secret))
        return cn_err_set(err, CN_EINVAL, "Changing a token's SecretID is not permitted");
    if (t->local != ex->local)
        return cn_err_set(err, CN_EINVAL, "Cannot toggle local mode of %s", t->accessor);
    if (ttl || (t->expiration_ns && t->expiration_ns != ex->expiration_ns))
        return cn_err_set(err, CN_EINVAL, "Cannot change expiration time of %s", t->accessor);
    t->expiration_ns = ex->expiration_ns;
    t->create_time_ns = ex->create_time_ns;
    if (!t->legacy_type && ex->legacy_type) t->legacy_type = cn_strdup(ex->legacy_type);
    if (!t->rules && ex->rules) t->rules = cn_strdup(ex->rules);
    return 0;
}

/* /v1/acl/create and update: the ID is the secret; upsert by it. */
static int prepare_legacy(struct state_store *st, struct state_acl_token *t, int64_t now_ns,
                          enum state_acl_set_mode *mode, struct cn_err *err)
{
    struct acl_rules rules;
    int rc;
    if (!t->legacy_type) t->legacy_type = cn_strdup("client");
    if (strcmp(t->legacy_type, "client") && strcmp(t->legacy_type, "management"))
        return cn_err_set(err, CN_EINVAL, "Invalid ACL Type");
    acl_rules_init(&rules);
    rc = acl_rules_parse(t->rules ? t->rules : "", t->rules ? strlen(t->rules) : 0,
                         ACL_PARSE_LEGACY, &rules, err);
    acl_rules_release(&rules);
    if (rc) return cn_err_wrap(err, "ACL rule compilation failed");
    for (size_t i = 0; i < t->npolicies; i++) free(t->policies[i]);
    t->npolicies = 0;
    if (!strcmp(t->legacy_type, "management")) {
        t->policies = cn_realloc(t->policies, sizeof *t->policies);
        t->policies[t->npolicies++] = cn_strdup(ACL_GLOBAL_MANAGEMENT_ID);
    }
    if (!t->secret[0]) new_uuid(&t->secret);
    if (strlen(t->secret) > 128 || !printable(t->secret))
        return cn_err_set(err, CN_EINVAL, "Invalid ACL ID");
    const struct state_acl_token *ex = state_acl_token_by_secret(st, cn_str_from(t->secret));
    if (ex) {
        set_str(&t->accessor, ex->accessor);
        t->create_time_ns = ex->create_time_ns;
        t->local = ex->local;
        t->expiration_ns = ex->expiration_ns;
        *mode = STATE_ACL_UPDATE;
    } else {
        new_uuid(&t->accessor);
        t->create_time_ns = now_ns;
        *mode = STATE_ACL_CREATE;
    }
    return 0;
}

int rpc_acl_token_prepare(struct rpc *rpc, const struct acl_authz *authz,
                          enum rpc_acl_token_kind kind, struct state_acl_token *t,
                          int64_t expiration_ttl_ns, int64_t now_ns, struct cn_buf *out,
                          char *accessor_out, struct cn_err *err)
{
    struct state_store *st = rpc->st;
    enum state_acl_set_mode mode = kind == RPC_ACL_UPDATE ? STATE_ACL_UPDATE : STATE_ACL_CREATE;
    int rc;
    cn_err_clear(err);
    if (!may_write(authz)) {
        rc = denied(err);
    } else if (kind == RPC_ACL_LEGACY) {
        rc = prepare_legacy(st, t, now_ns, &mode, err);
    } else {
        dedupe_links(t);
        rc = kind == RPC_ACL_CREATE ? prepare_create(st, t, expiration_ttl_ns, now_ns, err)
                                    : prepare_update(st, t, expiration_ttl_ns, err);
    }
    if (rc == 0) rc = check_links(st, t, err);
    if (rc == 0) {
        token_hash(t);
        snprintf(accessor_out, CN_UUID_LEN + 1, "%s", t->accessor);
        rpc_acl_token_set_encode(t, mode, out);
    }
    state_acl_token_free(t);
    return rc;
}

int rpc_acl_token_clone_prepare(struct rpc *rpc, const struct acl_authz *authz,
                                const char *accessor, const char *description, int64_t now_ns,
                                struct cn_buf *out, char *accessor_out, struct cn_err *err)
{
    cn_err_clear(err);
    if (!may_write(authz)) return denied(err);
    const struct state_acl_token *src = state_acl_token_get(rpc->st, cn_str_from(accessor), NULL);
    if (!src) return cn_err_set(err, CN_ENOENT, "Cannot find token to clone");
    if (src->expiration_ns && src->expiration_ns <= now_ns)
        return cn_err_set(err, CN_ENOENT, "Cannot find token to clone");
    struct state_acl_token *t = state_acl_token_dup(src);
    new_uuid(&t->accessor);
    new_uuid(&t->secret);
    if (description && *description) set_str(&t->description, description);
    t->create_time_ns = now_ns;
    t->create_index = t->modify_index = 0;
    token_hash(t);
    snprintf(accessor_out, CN_UUID_LEN + 1, "%s", t->accessor);
    rpc_acl_token_set_encode(t, STATE_ACL_CREATE, out);
    state_acl_token_free(t);
    return 0;
}

int rpc_acl_token_delete_prepare(struct rpc *rpc, const struct acl_authz *authz,
                                 const char *accessor, struct cn_buf *out, struct cn_err *err)
{
    cn_err_clear(err);
    if (!may_write(authz)) return denied(err);
    if (!strcmp(accessor, ACL_ANONYMOUS_ID))
        return cn_err_set(err, CN_EINVAL, "Delete operation not permitted on the anonymous token");
    if (!state_acl_token_get(rpc->st, cn_str_from(accessor), NULL))
        return cn_err_set(err, CN_ENOENT, "Cannot find token to delete");
    if (!strcmp(acl_authz_accessor(authz), accessor))
        return cn_err_set(err, CN_EINVAL,
                          "Deletion of the request's authorization token is not permitted");
    rpc_acl_token_delete_encode(accessor, out);
    return 0;
}

/* ---- policy writes -------------------------------------------------- */

static bool valid_policy_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128) return false;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

static int check_builtin(const struct state_acl_policy *ex, const struct state_acl_policy *p,
                         struct cn_err *err)
{
    if (strcmp(p->id, ACL_GLOBAL_MANAGEMENT_ID) || !ex) return 0;
    if (strcmp(p->name, ex->name))
        return cn_err_set(err, CN_EINVAL, "Changing the Name for the builtin global-management policy is not permitted");
    if (strcmp(p->rules, ex->rules))
        return cn_err_set(err, CN_EINVAL, "Changing the Rules for the builtin global-management policy is not permitted");
    if (p->ndcs)
        return cn_err_set(err, CN_EINVAL, "Changing the Datacenters of the builtin global-management policy is not permitted");
    return 0;
}

int rpc_acl_policy_prepare(struct rpc *rpc, const struct acl_authz *authz, bool create,
                           struct state_acl_policy *p, struct cn_buf *out, char *id_out,
                           struct cn_err *err)
{
    struct state_store *st = rpc->st;
    struct acl_rules rules;
    int rc = 0;
    cn_err_clear(err);
    acl_rules_init(&rules);
    const struct state_acl_policy *ex =
        create ? NULL : state_acl_policy_get(st, cn_str_from(p->id), NULL);
    const struct state_acl_policy *named = state_acl_policy_by_name(st, cn_str_from(p->name));
    if (!may_write(authz))
        rc = denied(err);
    else if (!create && !ex)
        rc = cn_err_set(err, CN_ENOENT, "Cannot find policy %s", p->id);
    else if (!valid_policy_name(p->name))
        rc = cn_err_set(err, CN_EINVAL, "Invalid Policy: invalid Name. Only alphanumeric characters, '-' and '_' are allowed");
    else if (named && named != ex)
        rc = cn_err_set(err, CN_EINVAL, "Invalid Policy: A Policy with Name \"%s\" already exists", p->name);
    else if ((rc = check_builtin(ex, p, err)))
        ;
    else if ((rc = acl_rules_parse(p->rules, strlen(p->rules), 0, &rules, err)))
        cn_err_wrap(err, "Invalid Policy: Failed to parse ACL rules");
    acl_rules_release(&rules);
    if (rc == 0) {
        if (create) new_uuid(&p->id);
        policy_hash(p);
        snprintf(id_out, CN_UUID_LEN + 1, "%s", p->id);
        rpc_acl_policy_set_encode(p, create ? STATE_ACL_CREATE : STATE_ACL_UPDATE, out);
    }
    state_acl_policy_free(p);
    return rc;
}

int rpc_acl_policy_delete_prepare(struct rpc *rpc, const struct acl_authz *authz, const char *id,
                                  struct cn_buf *out, struct cn_err *err)
{
    cn_err_clear(err);
    if (!may_write(authz)) return denied(err);
    if (!strcmp(id, ACL_GLOBAL_MANAGEMENT_ID))
        return cn_err_set(err, CN_EINVAL, "Deletion of the builtin global-management policy is not permitted");
    if (!state_acl_policy_get(rpc->st, cn_str_from(id), NULL))
        return cn_err_set(err, CN_ENOENT, "Cannot find policy to delete");
    rpc_acl_policy_delete_encode(id, out);
    return 0;
}

/* ---- bootstrap and leadership --------------------------------------- */

static struct state_acl_token *management_token(const char *secret, const char *description,
                                                int64_t now_ns)
{
    struct state_acl_token *t = CN_NEW(struct state_acl_token);
    new_uuid(&t->accessor);
    if (secret && *secret)
        set_str(&t->secret, secret);
    else
        new_uuid(&t->secret);
    set_str(&t->description, description);
    t->policies = cn_malloc(sizeof *t->policies);
    t->policies[0] = cn_strdup(ACL_GLOBAL_MANAGEMENT_ID);
    t->npolicies = 1;
    t->create_time_ns = now_ns;
    token_hash(t);
    return t;
}

/* The reset index an operator wrote into <data_dir>/acl-bootstrap-reset. */
static bool read_reset_file(const char *path, uint64_t *idx)
{
    char buf[64] = "";
    FILE *f = fopen(path, "r");
    if (!f) return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return cn_parse_u64(cn_str_trim(cn_str_from(buf)), idx) == 0;
}

int rpc_acl_bootstrap_prepare(struct rpc *rpc, const char *secret, int64_t now_ns,
                              struct cn_buf *out, char *accessor_out, char *reset_file_out,
                              size_t reset_file_len, struct cn_err *err)
{
    uint64_t done = state_acl_bootstrap_index(rpc->st), reset = 0;
    cn_err_clear(err);
    reset_file_out[0] = '\0';
    if (done) {
        uint64_t want = 0;
        char path[4096];
        snprintf(path, sizeof path, "%s/acl-bootstrap-reset",
                 rpc->cfg.data_dir ? rpc->cfg.data_dir : ".");
        if (!rpc->cfg.data_dir || !read_reset_file(path, &want) || want != done)
            return cn_err_set(err, CN_EPERM, "ACL bootstrap no longer allowed (reset index: %llu)",
                              (unsigned long long)done);
        reset = done;
        snprintf(reset_file_out, reset_file_len, "%s", path);
    }
    if (secret && *secret && !cn_uuid_valid(cn_str_from(secret)))
        return cn_err_set(err, CN_EINVAL, "Invalid Token: SecretID is not a valid UUID");
    if (secret && *secret && state_acl_token_by_secret(rpc->st, cn_str_from(secret)))
        return cn_err_set(err, CN_EINVAL, "Invalid Token: SecretID is already in use");
    struct state_acl_token *t = management_token(secret, "Bootstrap Token (Global Management)", now_ns);
    snprintf(accessor_out, CN_UUID_LEN + 1, "%s", t->accessor);
    rpc_acl_bootstrap_encode(t, reset, out);
    state_acl_token_free(t);
    return 0;
}

size_t rpc_acl_leader_init_cmds(struct state_store *st, const char *initial_management,
                                int64_t now_ns, struct cn_buf cmds[RPC_ACL_INIT_CMDS])
{
    size_t n = 0;
    if (!state_acl_policy_get(st, CN_STR(ACL_GLOBAL_MANAGEMENT_ID), NULL)) {
        struct state_acl_policy *p = CN_NEW(struct state_acl_policy);
        set_str(&p->id, ACL_GLOBAL_MANAGEMENT_ID);
        set_str(&p->name, ACL_GLOBAL_MANAGEMENT_NAME);
        set_str(&p->description, "Builtin Policy that grants unlimited access");
        set_str(&p->rules, GM_RULES);
        policy_hash(p);
        cn_buf_init(&cmds[n], CN_BUF_UNLIMITED);
        rpc_acl_policy_set_encode(p, STATE_ACL_ENSURE, &cmds[n++]);
        state_acl_policy_free(p);
    }
    if (!state_acl_token_get(st, CN_STR(ACL_ANONYMOUS_ID), NULL)) {
        struct state_acl_token *t = CN_NEW(struct state_acl_token);
        set_str(&t->accessor, ACL_ANONYMOUS_ID);
        set_str(&t->secret, ACL_ANONYMOUS_SECRET);
        set_str(&t->description, "Anonymous Token");
        t->create_time_ns = now_ns;
        token_hash(t);
        cn_buf_init(&cmds[n], CN_BUF_UNLIMITED);
        rpc_acl_token_set_encode(t, STATE_ACL_ENSURE, &cmds[n++]);
        state_acl_token_free(t);
    }
    if (initial_management && *initial_management &&
        !state_acl_token_by_secret(st, cn_str_from(initial_management))) {
        struct state_acl_token *t =
            management_token(initial_management, "Initial Management Token", now_ns);
        cn_buf_init(&cmds[n], CN_BUF_UNLIMITED);
        /* As bootstrap when it has not happened, so /v1/acl/bootstrap then
         * refuses (Consul's initializeManagementToken). */
        if (!state_acl_bootstrap_index(st))
            rpc_acl_bootstrap_encode(t, 0, &cmds[n++]);
        else
            rpc_acl_token_set_encode(t, STATE_ACL_ENSURE, &cmds[n++]);
        state_acl_token_free(t);
    }
    return n;
}

/* ---- reads ---------------------------------------------------------- */

struct gather {
    struct rpc_query *q;
    const struct rpc_acl_req *req;
    size_t cap;
    int64_t now_ns;
};

static bool has_link(const struct state_acl_token *t, const char *policy)
{
    for (size_t i = 0; i < t->npolicies; i++)
        if (!strcmp(t->policies[i], policy)) return true;
    return false;
}

static bool has_service(const struct state_acl_token *t, const char *svc)
{
    for (size_t i = 0; i < t->nsvc; i++)
        if (!strcmp(t->svc[i].name, svc)) return true;
    return false;
}

static void push_token(struct gather *g, const struct state_acl_token *t)
{
    struct rpc_acl_resp *r = g->q->resp;
    if (r->ntokens == g->cap) {
        size_t ncap = g->cap ? g->cap * 2 : 16;
        const struct state_acl_token **nv = CN_ARENA_ARRAY(&g->q->arena, const struct state_acl_token *, ncap);
        if (r->ntokens) memcpy(nv, r->tokens, r->ntokens * sizeof *nv);
        r->tokens = nv;
        g->cap = ncap;
    }
    r->tokens[r->ntokens++] = t;
}

static bool gather_token(void *ctx, const struct state_acl_token *t)
{
    struct gather *g = ctx;
    const struct rpc_acl_req *req = g->req;
    if (req->policy && *req->policy && !has_link(t, req->policy)) return true;
    if ((req->role && *req->role) || (req->authmethod && *req->authmethod)) return true;
    if (req->servicename && *req->servicename && !has_service(t, req->servicename)) return true;
    push_token(g, t);
    return true;
}

static bool gather_policy(void *ctx, const struct state_acl_policy *p)
{
    struct gather *g = ctx;
    struct rpc_acl_resp *r = g->q->resp;
    if (r->npolicies == g->cap) {
        size_t ncap = g->cap ? g->cap * 2 : 16;
        const struct state_acl_policy **nv = CN_ARENA_ARRAY(&g->q->arena, const struct state_acl_policy *, ncap);
        if (r->npolicies) memcpy(nv, r->policies, r->npolicies * sizeof *nv);
        r->policies = nv;
        g->cap = ncap;
    }
    r->policies[r->npolicies++] = p;
    return true;
}

static int one_token(struct rpc_query *q, const struct state_acl_token *t, const char *missing)
{
    if (!t) return cn_err_set(&q->err, CN_ENOENT, "%s", missing);
    struct gather g = {.q = q, .req = q->req};
    push_token(&g, t);
    return 0;
}

int rpc_acl_run(struct rpc_query *q, struct state_store *st, struct state_watch_set *ws)
{
    const struct rpc_acl_req *req = q->req;
    struct rpc_acl_resp *resp = CN_ARENA_NEW(&q->arena, struct rpc_acl_resp);
    struct gather g = {.q = q, .req = req};
    struct cn_str id = cn_str_from(req->id ? req->id : "");
    q->resp = resp;
    q->meta.index = state_acl_index(st);
    if (ws) {
        state_ws_add_table(ws, STATE_T_ACL_TOKENS);
        state_ws_add_table(ws, STATE_T_ACL_POLICIES);
    }
    resp->show_secrets = may_write(q->authz);
    if (req->op == RPC_ACL_READ_TOKEN_SELF) {
        /* Any token may read itself, secret included. */
        const char *acc = acl_authz_accessor(q->authz);
        resp->show_secrets = true;
        return one_token(q, *acc ? state_acl_token_get(st, cn_str_from(acc), NULL) : NULL,
                         "Supplied token does not exist");
    }
    bool need_write = req->op == RPC_ACL_READ_LEGACY_LIST;
    if (!acl_allow(q->authz, ACL_R_ACL, CN_STR_NULL, need_write ? ACL_A_WRITE : ACL_A_READ))
        return cn_err_set(&q->err, CN_EPERM, "Permission denied");
    switch (req->op) {
    case RPC_ACL_READ_TOKEN:
        return one_token(q, state_acl_token_get(st, id, NULL), "ACL not found");
    case RPC_ACL_READ_LEGACY_INFO: {
        const struct state_acl_token *t = state_acl_token_by_secret(st, id);
        if (t) push_token(&g, t);
        resp->show_secrets = true;
        return 0;
    }
    case RPC_ACL_READ_TOKENS:
    case RPC_ACL_READ_LEGACY_LIST:
        state_acl_token_list(st, NULL, gather_token, &g);
        return 0;
    case RPC_ACL_READ_POLICY:
    case RPC_ACL_READ_POLICY_NAME: {
        const struct state_acl_policy *p = req->op == RPC_ACL_READ_POLICY
                                               ? state_acl_policy_get(st, id, NULL)
                                               : state_acl_policy_by_name(st, id);
        if (!p) return cn_err_set(&q->err, CN_ENOENT, "ACL policy not found");
        gather_policy(&g, p);
        return 0;
    }
    case RPC_ACL_READ_POLICIES:
        state_acl_policy_list(st, NULL, gather_policy, &g);
        return 0;
    default:
        return CN_EINVAL;
    }
}

const char *rpc_acl_policy_name(struct state_store *st, const char *id)
{
    const struct state_acl_policy *p = state_acl_policy_get(st, cn_str_from(id), NULL);
    if (p) return p->name;
    return !strcmp(id, ACL_GLOBAL_MANAGEMENT_ID) ? ACL_GLOBAL_MANAGEMENT_NAME : "";
}
