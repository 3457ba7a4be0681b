/*
 * keyring.c - Consul's keyring operations (agent/keyring.go and
 * Internal.KeyringOperation) over the gossip pools.
 *
 * A server answers: first its WAN pool, then the LAN pool of its own
 * datacenter, then the LAN pool of every other datacenter the WAN pool
 * knows, asked through one of that datacenter's servers with an internal
 * request (/v1/internal/cairn/keyring, which runs the LAN part only). Each
 * pool's operation is one gossip query every alive member answers
 * (cluster_key_op); a pool whose members failed or did not all answer
 * carries Serf's error ("2/3 nodes reported failure"), which the HTTP layer
 * turns into Consul's error text. A client agent refuses, as Consul's does.
 *
 * Keys are read the way Serf reads them: Go's base64 (its error names the
 * offending byte), and a key of the wrong size is still sent to every
 * member, each of which refuses it; the core only carries valid keys, so
 * those answers are written here from the member list instead.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/cluster.h"
#include "http/http.h"
#include "lib/cn_buf.h"
#include "lib/cn_common.h"
#include "lib/cn_json.h"
#include "lib/cn_log.h"

#define TOKEN_MAX 512

struct sub {
    struct agent_keyring_req *q;
    int slot;
    bool wan;
    bool running;
    uint64_t op_id;            /* cluster_key_op */
    struct http_tunnel *tunnel; /* another datacenter */
};

struct agent_keyring_req {
    struct agent *a;
    enum agent_keyring_op op;
    unsigned flags;
    struct gossip_key key;
    size_t key_len;       /* decoded length (may exceed 32: then key is unused) */
    long key_bad_at;      /* >= 0: not base64, at this input byte */
    char key_b64[128];
    char token[TOKEN_MAX];
    agent_keyring_fn done;
    void *ctx;
    int pending;
    bool starting;
    struct sub subs[AGENT_KEYRING_POOLS_MAX];
    struct agent_keyring_result res;
};

/* ---- keys as Serf reads them ----------------------------------------------------- */

static int b64_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

static size_t skip_newlines(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == '\n' || s[i] == '\r')) i++;
    return i;
}

/* Go's base64.StdEncoding.DecodeString (decodeQuantum): the decoded length
 * (bytes past max are counted, not stored), or -1 with *bad_at set to the
 * offset Go's CorruptInputError names. */
static long go_b64_decode(const char *s, size_t n, uint8_t *out, size_t max, long *bad_at)
{
    size_t si = 0, len = 0;
    for (;;) {
        uint8_t q[4] = {0};
        int dlen = 4;
        for (int j = 0; j < 4; j++) {
            if (si == n) {
                if (j == 0) return (long)len;
                *bad_at = (long)(si - (size_t)j);
                return -1;
            }
            unsigned char c = (unsigned char)s[si++];
            int v = b64_val(c);
            if (v >= 0) {
                q[j] = (uint8_t)v;
                continue;
            }
            if (c == '\n' || c == '\r') {
                j--;
                continue;
            }
            if (c != '=' || j < 2) {
                *bad_at = (long)(si - 1);
                return -1;
            }
            if (j == 2) { /* "==" expected, the first '=' consumed */
                si = skip_newlines(s, n, si);
                if (si == n) {
                    *bad_at = (long)n;
                    return -1;
                }
                if (s[si] != '=') {
                    *bad_at = (long)(si - 1);
                    return -1;
                }
                si++;
            }
            si = skip_newlines(s, n, si);
            if (si < n) { /* trailing garbage */
                *bad_at = (long)si;
                return -1;
            }
            dlen = j;
            break;
        }
        uint32_t v = (uint32_t)q[0] << 18 | (uint32_t)q[1] << 12 | (uint32_t)q[2] << 6 | q[3];
        uint8_t b[3] = {(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
        for (int k = 0; k < dlen - 1; k++, len++)
            if (len < max) out[len] = b[k];
        if (dlen < 4) return (long)len;
    }
}

/* ---- finishing ----------------------------------------------------------------------- */

static void finish(struct agent_keyring_req *q)
{
    q->done(q->ctx, &q->res);
    free(q);
}

static void sub_done(struct sub *s)
{
    struct agent_keyring_req *q = s->q;
    s->running = false;
    s->tunnel = NULL;
    if (--q->pending == 0 && !q->starting) finish(q);
}

static struct agent_keyring_pool *pool_of(struct sub *s)
{
    return &s->q->res.pools[s->slot];
}

/* Serf's KeyManager verdict on a pool's tally. */
static void pool_verdict(struct agent_keyring_pool *p, uint32_t num_resp, uint32_t num_err)
{
    if (num_err)
        snprintf(p->error, sizeof p->error, "%u/%u nodes reported failure", num_err, p->num_nodes);
    else if (num_resp != p->num_nodes)
        snprintf(p->error, sizeof p->error, "%u/%u nodes reported success", num_resp, p->num_nodes);
}

static void add_message(struct agent_keyring_pool *p, const char *node, const char *msg)
{
    if (p->n_messages >= AGENT_KEYRING_MSGS_MAX) return;
    snprintf(p->messages[p->n_messages].node, sizeof p->messages[0].node, "%s", node);
    snprintf(p->messages[p->n_messages].message, sizeof p->messages[0].message, "%s", msg);
    p->n_messages++;
}

static void on_pool_result(void *ctx, const struct gossip_key_result *r)
{
    struct sub *s = ctx;
    struct agent_keyring_pool *p = pool_of(s);
    p->num_nodes = r->num_nodes;
    for (size_t i = 0; i < r->n_keys && p->n_keys < AGENT_KEYRING_KEYS_MAX; i++) {
        gossip_key_encode(&r->keys[i].key, p->keys[p->n_keys].key, sizeof p->keys[0].key);
        p->keys[p->n_keys++].count = r->keys[i].count;
    }
    for (size_t i = 0; i < r->n_messages; i++)
        add_message(p, r->messages[i].node, r->messages[i].message);
    pool_verdict(p, r->num_resp, r->num_err);
    sub_done(s);
}

/* ---- a key of the wrong size: every member refuses it (or ignores it) ------------- */

struct refusal {
    struct agent_keyring_pool *p;
    const char *msg;
    uint32_t alive;
};

static void refuse_member(void *ctx, const struct gossip_member *m)
{
    struct refusal *f = ctx;
    if (m->status != GOSSIP_STATUS_ALIVE) return;
    f->alive++;
    if (f->msg) add_message(f->p, m->name, f->msg);
}

static void bad_size(struct sub *s)
{
    struct agent_keyring_req *q = s->q;
    struct refusal f = {.p = pool_of(s)};
    /* memberlist: AddKey validates; UseKey finds no such key; RemoveKey of a
     * key it does not hold does nothing */
    if (q->op == AGENT_KEYRING_INSTALL) f.msg = "key size must be 16, 24 or 32 bytes";
    if (q->op == AGENT_KEYRING_USE) f.msg = "Requested key is not in the keyring";
    cluster_members(agent_cluster(q->a), s->wan, refuse_member, &f);
    f.p->num_nodes = f.alive;
    pool_verdict(f.p, f.alive, f.msg ? f.alive : 0);
}

/* ---- our own pools ------------------------------------------------------------------- */

static const enum gossip_key_op gossip_op[] = {GOSSIP_KEY_LIST, GOSSIP_KEY_INSTALL, GOSSIP_KEY_USE,
                                               GOSSIP_KEY_REMOVE};

static void start_pool(struct sub *s)
{
    struct agent_keyring_req *q = s->q;
    struct agent_keyring_pool *p = pool_of(s);
    struct cn_err err;
    if (q->op != AGENT_KEYRING_LIST && q->key_bad_at >= 0) {
        snprintf(p->error, sizeof p->error, "illegal base64 data at input byte %ld", q->key_bad_at);
        return;
    }
    if (q->op != AGENT_KEYRING_LIST && q->key.len == 0) {
        bad_size(s);
        return;
    }
    s->running = true;
    q->pending++;
    int rc = cluster_key_op(agent_cluster(q->a), s->wan, gossip_op[q->op], &q->key,
                            on_pool_result, s, &s->op_id, &err);
    if (rc) {
        snprintf(p->error, sizeof p->error, "%s", err.msg);
        sub_done(s);
    }
}

/* ---- another datacenter's LAN pool ------------------------------------------------- */

static const char *const op_names[] = {"list", "install", "use", "remove"};

/* Consul's globalRPC: one datacenter's error is the whole operation's. */
static void remote_failed(struct sub *s, const char *text, size_t n)
{
    struct agent_keyring_result *res = &s->q->res;
    if (!res->rc) {
        res->rc = CN_EIO;
        snprintf(res->error, sizeof res->error, "%.*s", (int)CN_MIN(n, sizeof res->error - 1), text);
    }
}

/* The answer is one pool in Consul's JSON, plus its Error and Messages. */
static void read_remote_pool(struct sub *s, json_t *v)
{
    struct agent_keyring_pool *p = pool_of(s);
    json_t *x;
    const char *k;
    if ((x = json_object_get(v, "Datacenter")) && json_is_string(x))
        snprintf(p->datacenter, sizeof p->datacenter, "%s", json_string_value(x));
    if ((x = json_object_get(v, "Error")) && json_is_string(x))
        snprintf(p->error, sizeof p->error, "%s", json_string_value(x));
    p->num_nodes = (uint32_t)json_integer_value(json_object_get(v, "NumNodes"));
    json_object_foreach(json_object_get(v, "Keys"), k, x)
    {
        if (p->n_keys >= AGENT_KEYRING_KEYS_MAX) break;
        snprintf(p->keys[p->n_keys].key, sizeof p->keys[0].key, "%s", k);
        p->keys[p->n_keys++].count = (uint32_t)json_integer_value(x);
    }
    json_object_foreach(json_object_get(v, "Messages"), k, x)
        add_message(p, k, json_is_string(x) ? json_string_value(x) : "");
}

static void remote_done(void *arg, const void *resp, size_t len)
{
    struct sub *s = arg;
    const char *p = resp, *body = len > 12 ? memmem(p, len, "\r\n\r\n", 4) : NULL;
    int status = len > 12 && !memcmp(p, "HTTP/1.", 7) ? atoi(p + 9) : 0;
    size_t blen = body ? len - (size_t)(body + 4 - p) : 0;
    struct cn_err err;
    if (!body) {
        remote_failed(s, "no answer from the datacenter", SIZE_MAX);
    } else if (status != 200) {
        while (blen && (body[4 + blen - 1] == '\n' || body[4 + blen - 1] == '\r')) blen--;
        remote_failed(s, body + 4, CN_MIN(blen, 200));
    } else {
        json_t *v = cn_json_parse(body + 4, blen, &err);
        if (json_is_object(v))
            read_remote_pool(s, v);
        else
            remote_failed(s, "malformed keyring answer", SIZE_MAX);
        json_decref(v);
    }
    sub_done(s);
}

static bool header_safe(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return false;
    return true;
}

static void start_remote(struct sub *s, const char *dc)
{
    struct agent_keyring_req *q = s->q;
    struct http_server *h = agent_http(q->a);
    struct agent_keyring_pool *p = pool_of(s);
    snprintf(p->datacenter, sizeof p->datacenter, "%s", dc);
    if (!h) {
        remote_failed(s, "no HTTP API to reach other datacenters", SIZE_MAX);
        return;
    }
    struct cn_buf body, req;
    cn_buf_init(&body, CN_BUF_UNLIMITED);
    cn_buf_init(&req, CN_BUF_UNLIMITED);
    cn_buf_puts(&body, "{\"Key\":");
    json_t *k = json_string(q->key_b64);
    char *ks = json_dumps(k, JSON_ENCODE_ANY);
    cn_buf_puts(&body, ks ? ks : "\"\"");
    cn_buf_puts(&body, "}");
    free(ks);
    json_decref(k);
    cn_buf_putf(&req, "PUT /v1/internal/cairn/keyring?dc=%s&op=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                dc, op_names[q->op]);
    if (q->token[0]) cn_buf_putf(&req, "X-Consul-Token: %s\r\n", q->token);
    cn_buf_putf(&req, "Content-Length: %zu\r\n\r\n", body.len);
    cn_buf_put(&req, body.data, body.len);
    s->running = true;
    q->pending++;
    /* remote_done may run before inject returns */
    struct http_tunnel *t = http_server_inject(h, req.data, req.len, "127.0.0.1", 0, remote_done, s);
    if (s->running) s->tunnel = t;
    cn_buf_release(&body);
    cn_buf_release(&req);
}

/* ---- the operation -------------------------------------------------------------------- */

static void decode_key(struct agent_keyring_req *q, const char *key_b64)
{
    uint8_t buf[32];
    size_t n = strlen(key_b64);
    snprintf(q->key_b64, sizeof q->key_b64, "%s", key_b64);
    q->key_bad_at = -1;
    long len = go_b64_decode(key_b64, n, buf, sizeof buf, &q->key_bad_at);
    if (len < 0) return;
    q->key_len = (size_t)len;
    if (len == 16 || len == 24 || len == 32) {
        q->key.len = (uint8_t)len;
        memcpy(q->key.bytes, buf, (size_t)len);
    }
}

static struct sub *add_pool(struct agent_keyring_req *q, bool wan, const char *dc)
{
    struct agent_keyring_result *res = &q->res;
    if (res->n >= AGENT_KEYRING_POOLS_MAX) return NULL;
    struct sub *s = &q->subs[res->n];
    struct agent_keyring_pool *p = &res->pools[res->n];
    s->q = q;
    s->slot = (int)res->n++;
    s->wan = wan;
    p->wan = wan;
    snprintf(p->datacenter, sizeof p->datacenter, "%s", dc);
    return s;
}

int agent_keyring_start(struct agent *a, enum agent_keyring_op op, const char *key_b64,
                        const char *token, unsigned flags, agent_keyring_fn done, void *ctx,
                        struct agent_keyring_req **out)
{
    struct cluster *cl = agent_cluster(a);
    const char *own = agent_cfg(a)->datacenter;
    *out = NULL;
    if (!agent_cfg(a)->server || !cl) return CN_ENOSERVERS;
    struct agent_keyring_req *q = CN_NEW(struct agent_keyring_req);
    q->a = a;
    q->op = op;
    q->flags = flags;
    q->done = done;
    q->ctx = ctx;
    q->starting = true;
    if (token && strlen(token) < TOKEN_MAX && header_safe(token))
        snprintf(q->token, sizeof q->token, "%s", token);
    decode_key(q, op == AGENT_KEYRING_LIST ? "" : key_b64 ? key_b64 : "");
    bool global = !(flags & AGENT_KEYRING_LAN_ONLY);
    struct sub *s;
    if (global && cluster_has_pool(cl, true) && (s = add_pool(q, true, own))) start_pool(s);
    if ((s = add_pool(q, false, own))) start_pool(s);
    if (global && cluster_has_pool(cl, true)) {
        char dcs[AGENT_KEYRING_POOLS_MAX][64];
        size_t n = cluster_datacenters(cl, dcs, AGENT_KEYRING_POOLS_MAX);
        for (size_t i = 0; i < n; i++)
            if (strcmp(dcs[i], own) && (s = add_pool(q, false, dcs[i]))) start_remote(s, dcs[i]);
    }
    q->starting = false;
    if (q->pending == 0) {
        finish(q);
        return 0;
    }
    *out = q;
    return 0;
}

void agent_keyring_cancel(struct agent_keyring_req *q)
{
    if (!q) return;
    for (size_t i = 0; i < q->res.n; i++) {
        struct sub *s = &q->subs[i];
        if (!s->running) continue;
        if (s->tunnel) http_tunnel_cancel(s->tunnel);
        else cluster_key_cancel(agent_cluster(q->a), s->op_id);
    }
    free(q);
}
