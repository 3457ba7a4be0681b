/*
 * query.c - cluster-wide keyring operations (Serf's KeyManager), carried by
 * a small internal query: the origin applies the operation, broadcasts a
 * query (ltime, id, op, key) that every member applies and re-broadcasts,
 * and each member answers the origin directly over UDP with its result
 * (and, for LIST, its keys). The origin reports the tally when everyone
 * alive at the start answered or the query times out
 * (query_timeout_mult * ceil(log10(N + 1)) * gossip_interval, Serf's).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gossip/gossip_int.h"
#include "lib/cn_err.h"

static bool key_from(struct cn_str s, struct gossip_key *k)
{
    memset(k, 0, sizeof *k);
    if (!gk_valid_len(s.len)) return false;
    k->len = (uint8_t)s.len;
    memcpy(k->bytes, s.p, s.len);
    return true;
}

/* Apply an operation to our own keyring; a replay (a query we already
 * applied, asked again) only says how it would go now: applying it again
 * could undo a later operation (an install re-applied after the remove
 * that followed it). */
static bool apply(struct gossip *g, enum gossip_key_op op, const struct gossip_key *k,
                  bool replay, struct cn_err *err)
{
    struct gkeyring copy, *kr = &g->kr;
    cn_err_clear(err);
    int rc = 0;
    if (replay) {
        copy = g->kr;
        kr = &copy;
    }
    /* Serf answers every keyring query with an error while encryption is off */
    if (g->kr.n == 0) {
        cn_err_set(err, CN_EINVAL, op == GOSSIP_KEY_LIST
                                       ? "Keyring is empty (encryption not enabled)"
                                       : "No keyring to modify (encryption not enabled)");
        return false;
    }
    switch (op) {
    case GOSSIP_KEY_LIST: return true;
    case GOSSIP_KEY_INSTALL: rc = gk_install(kr, k, err); break;
    case GOSSIP_KEY_USE: rc = gk_use(kr, k, err); break;
    case GOSSIP_KEY_REMOVE: rc = gk_remove(kr, k, err); break;
    }
    if (rc == 0 && !replay) g->out_keyring_changed = true;
    return rc == 0;
}

static void count_key(struct gossip_key_count *arr, size_t *n, size_t max, const struct gossip_key *k)
{
    for (size_t i = 0; i < *n; i++)
        if (arr[i].key.len == k->len && memcmp(arr[i].key.bytes, k->bytes, k->len) == 0) {
            arr[i].count++;
            return;
        }
    if (*n < max) arr[(*n)++] = (struct gossip_key_count){*k, 1};
}

static void tally(struct gquery *q, struct cn_str node, bool ok, const char *msg,
                  const struct gossip_key *keys, size_t n_keys, const struct gossip_key *primary)
{
    q->num_resp++;
    if (!ok) {
        q->num_err++;
        if (q->n_msgs < G_QUERY_MSGS_MAX) {
            q->msg_node[q->n_msgs] = cn_str_dup(node);
            q->msg_text[q->n_msgs] = cn_strdup(msg);
            q->n_msgs++;
        }
    }
    for (size_t i = 0; i < n_keys; i++) count_key(q->keys, &q->n_keys, CN_ARRAY_SIZE(q->keys), &keys[i]);
    if (primary && primary->len)
        count_key(q->primary, &q->n_primary, CN_ARRAY_SIZE(q->primary), primary);
}

static void query_free(struct gquery *q)
{
    for (size_t i = 0; i < q->n_msgs; i++) {
        cn_free(q->msg_node[i]);
        cn_free(q->msg_text[i]);
    }
    cn_map_release(&q->responded);
    cn_free(q);
}

void g_queries_release(struct gossip *g)
{
    for (int i = 0; i < G_QUERIES_MAX; i++) {
        if (g->queries[i]) query_free(g->queries[i]);
        g->queries[i] = NULL;
    }
}

static void report(struct gossip *g, struct gquery *q)
{
    struct gossip_key_result *r = G_VEC_PUSH(g, &g->out_keyres, struct gossip_key_result);
    r->token = q->token;
    r->op = q->op;
    r->num_nodes = q->num_nodes;
    r->num_resp = q->num_resp;
    r->num_err = q->num_err;
    r->rc = q->num_err ? CN_EIO : 0;
    struct gossip_key_count *keys = g_alloc(g, (q->n_keys + q->n_primary + 1) * sizeof *keys);
    memcpy(keys, q->keys, q->n_keys * sizeof *keys);
    memcpy(keys + q->n_keys, q->primary, q->n_primary * sizeof *keys);
    r->keys = keys;
    r->n_keys = q->n_keys;
    r->primary = keys + q->n_keys;
    r->n_primary = q->n_primary;
    struct gossip_key_message *msgs = g_alloc(g, (q->n_msgs + 1) * sizeof *msgs);
    for (size_t i = 0; i < q->n_msgs; i++) {
        msgs[i].node = g_strdup(g, cn_str_from(q->msg_node[i]));
        msgs[i].message = g_strdup(g, cn_str_from(q->msg_text[i]));
    }
    r->messages = msgs;
    r->n_messages = q->n_msgs;
}

static int seen_find(const struct gossip *g, uint64_t ltime, uint32_t id)
{
    for (int i = 0; i < G_QUERY_SEEN; i++)
        if (g->q_seen[i].ltime == ltime && g->q_seen[i].id == id) return i;
    return -1;
}

static void seen_add(struct gossip *g, uint64_t ltime, uint32_t id)
{
    g->q_seen[g->q_seen_i].ltime = ltime;
    g->q_seen[g->q_seen_i].id = id;
    g->q_seen[g->q_seen_i].answered_ms = g->now_ms;
    g->q_seen_i = (g->q_seen_i + 1) % G_QUERY_SEEN;
}

static void query_encode(struct gossip *g, const struct gquery *q)
{
    struct gmsg_query m = {.ltime = q->ltime, .id = q->id, .op = (uint8_t)q->op,
                           .origin = gnode_name(g->self), .origin_addr = g->self->addr,
                           .key = {(const char *)q->key.bytes,
                                   q->op == GOSSIP_KEY_LIST ? 0 : q->key.len}};
    cn_buf_reset(&g->scratch);
    gw_query(&g->scratch, &m);
}

/* At half and three quarters of the timeout, with answers missing: send the
 * query straight to the alive members that have not answered (gossip
 * reaches almost everyone; the origin knows exactly who it missed). A member
 * that already answered answers again, in case its answer was lost. */
#define G_QUERY_RETRY_MAX 64

static void query_retry(struct gossip *g, struct gquery *q)
{
    uint32_t sent = 0;
    for (uint32_t i = 0; i < g->n_mem && sent < G_QUERY_RETRY_MAX; i++) {
        const struct gmember *m = &g->mem[i];
        if (i == g->self_i || (m->state != GM_ALIVE && m->state != GM_SUSPECT)) continue;
        if (cn_map_has(&q->responded, gnode_name(m->node))) continue;
        query_encode(g, q);
        g_send(g, &m->node->addr, (uint8_t *)g->scratch.data, g->scratch.len);
        sent++;
    }
}

int g_key_op(struct gossip *g, const struct gossip_event *ev, struct cn_err *err)
{
    enum gossip_key_op op = ev->key.op;
    if (op > GOSSIP_KEY_REMOVE) return cn_err_set(err, CN_EINVAL, "unknown keyring operation");
    if (op != GOSSIP_KEY_LIST && !gk_valid_len(ev->key.key.len))
        return cn_err_set(err, CN_EINVAL, "key size must be 16, 24 or 32 bytes");
    int slot = -1;
    for (int i = 0; i < G_QUERIES_MAX && slot < 0; i++)
        if (!g->queries[i]) slot = i;
    if (slot < 0) return cn_err_set(err, CN_EAGAIN, "too many keyring operations in progress");
    struct gquery *q = CN_NEW(struct gquery);
    cn_map_init(&q->responded);
    q->token = ev->key.token;
    q->op = op;
    q->key = ev->key.key;
    q->num_nodes = ev->key.local_only ? 1 : (uint32_t)gossip_num_alive(g);
    if (q->num_nodes == 0) q->num_nodes = 1;

    /* Our own answer first: list before the change, so LIST shows what is. */
    struct cn_err local;
    bool ok = apply(g, op, &q->key, false, &local);
    tally(q, gnode_name(g->self), ok, local.msg, g->kr.keys, op == GOSSIP_KEY_LIST ? g->kr.n : 0,
          op == GOSSIP_KEY_LIST && g->kr.n ? &g->kr.keys[0] : NULL);
    cn_map_put(&q->responded, gnode_name(g->self), (void *)1);

    if (ev->key.local_only || q->num_nodes <= 1 || g->left) {
        report(g, q);
        query_free(q);
        return 0;
    }
    q->id = ++g->q_id;
    q->ltime = g->q_clock++;
    uint32_t n = g_est_nodes(g);
    q->deadline_ms = g->now_ms + (uint64_t)g->t.query_timeout_mult *
                                     (uint64_t)ceil(log10((double)n + 1.0)) *
                                     g->t.gossip_interval_ms;
    q->retry_ms = g->now_ms + (q->deadline_ms - g->now_ms) / 2;
    g->queries[slot] = q;
    seen_add(g, q->ltime, q->id ^ (uint32_t)g->self->name_hash);
    query_encode(g, q);
    gq_push(g, NULL, 0, (uint8_t *)g->scratch.data, g->scratch.len, 0);
    return 0;
}

void g_on_query(struct gossip *g, struct cn_str body)
{
    struct gmsg_query m;
    if (gr_query(body, &m)) {
        g->st.rejected_packets++;
        return;
    }
    if (m.ltime >= g->q_clock) g->q_clock = m.ltime + 1;
    uint32_t id = m.id ^ (uint32_t)cn_hash_bytes(m.origin.p, m.origin.len);
    int seen = seen_find(g, m.ltime, id);
    if (seen >= 0) {
        /* Gossip copies arrive close together; a copy well after our answer
         * may be the origin asking again: answer again (from the keyring as
         * it is, without applying the operation twice), don't re-broadcast. */
        if (g->now_ms - g->q_seen[seen].answered_ms < 2ull * g->t.gossip_interval_ms) return;
        g->q_seen[seen].answered_ms = g->now_ms;
    } else {
        seen_add(g, m.ltime, id);
        cn_buf_reset(&g->scratch);
        gw_query(&g->scratch, &m);
        gq_push(g, NULL, 0, (uint8_t *)g->scratch.data, g->scratch.len, 0);
    }

    struct gossip_key k;
    if (!key_from(m.key, &k)) memset(&k, 0, sizeof k);
    struct cn_err err;
    bool ok = apply(g, (enum gossip_key_op)m.op, &k, seen >= 0, &err);
    struct gmsg_query_resp r = {.ltime = m.ltime, .id = m.id, .from = gnode_name(g->self),
                                .ok = ok, .message = cn_str_from(ok ? "" : err.msg)};
    if (m.op == GOSSIP_KEY_LIST) {
        r.n_keys = (uint32_t)g->kr.n;
        for (size_t i = 0; i < g->kr.n; i++)
            r.keys[i] = (struct cn_str){(const char *)g->kr.keys[i].bytes, g->kr.keys[i].len};
        if (g->kr.n) r.primary = r.keys[0];
    }
    cn_buf_reset(&g->scratch);
    gw_query_resp(&g->scratch, &r);
    g_send(g, &m.origin_addr, (uint8_t *)g->scratch.data, g->scratch.len);
}

void g_on_query_resp(struct gossip *g, struct cn_str body)
{
    struct gmsg_query_resp m;
    if (gr_query_resp(body, &m)) {
        g->st.rejected_packets++;
        return;
    }
    for (int i = 0; i < G_QUERIES_MAX; i++) {
        struct gquery *q = g->queries[i];
        if (!q || q->id != m.id || q->ltime != m.ltime) continue;
        if (cn_map_has(&q->responded, m.from)) return;
        cn_map_put(&q->responded, m.from, (void *)1);
        struct gossip_key keys[GOSSIP_KEYS_MAX], primary;
        size_t n = 0;
        for (uint32_t j = 0; j < m.n_keys; j++)
            if (key_from(m.keys[j], &keys[n])) n++;
        bool has_primary = key_from(m.primary, &primary);
        char text[257];
        snprintf(text, sizeof text, "%.*s", (int)m.message.len, m.message.p ? m.message.p : "");
        tally(q, m.from, m.ok, text, keys, n, has_primary ? &primary : NULL);
        if (q->num_resp >= q->num_nodes) {
            report(g, q);
            query_free(q);
            g->queries[i] = NULL;
        }
        return;
    }
}

void g_query_tick(struct gossip *g)
{
    for (int i = 0; i < G_QUERIES_MAX; i++) {
        struct gquery *q = g->queries[i];
        if (!q) continue;
        if (q->retries < 2 && g->now_ms >= q->retry_ms && q->num_resp < q->num_nodes) {
            q->retries++;
            q->retry_ms += (q->deadline_ms - q->retry_ms) / 2;
            query_retry(g, q);
        }
        if (g->now_ms < q->deadline_ms) continue;
        report(g, q);
        query_free(q);
        g->queries[i] = NULL;
    }
}

uint64_t g_query_next(const struct gossip *g)
{
    uint64_t t = UINT64_MAX;
    for (int i = 0; i < G_QUERIES_MAX; i++) {
        const struct gquery *q = g->queries[i];
        if (!q) continue;
        t = CN_MIN(t, q->deadline_ms);
        if (q->retries < 2 && q->num_resp < q->num_nodes) t = CN_MIN(t, q->retry_ms);
    }
    return t;
}
