/*
 * wire.c - cairn's gossip wire format, version 1 (docs/gossip.md has the
 * table). A packet is a header byte and a run of framed messages:
 *
 *     packet  = 0x01 message*                      plaintext
 *             | 0x81 nonce[12] sealed(packet) tag[16]   AES-GCM
 *     message = type:u8 length:uvar body[length]
 *
 * Bodies are cn_codec fields in a fixed order; decoders ignore bytes after
 * the fields they know, so later versions may only append. A packet is a
 * compound message by construction: piggybacked broadcasts are just more
 * messages after the first. Decoding never reads past its input: cn_dec
 * fails sticky on a short read and every length is bounded.
 */
#include <string.h>

#include "gossip/gossip_int.h"
#include "lib/cn_err.h"

/* ---- framing -------------------------------------------------------------- */

/* gw_open reserves three bytes for the length; gw_close writes the minimal
 * varint and moves the body to close the gap (bodies are small, except a
 * push-pull, which may need a longer varint and moves the other way). */
size_t gw_open(struct cn_buf *b, uint8_t type)
{
    uint8_t hdr[4] = {type, 0, 0, 0};
    cn_buf_put(b, hdr, 4);
    return b->len;
}

void gw_close(struct cn_buf *b, size_t at)
{
    size_t n = b->len - at;
    uint8_t t[10];
    size_t k = 0;
    uint64_t v = n;
    while (v >= 0x80) {
        t[k++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    t[k++] = (uint8_t)v;
    if (k > 3) {
        char *unused;
        CN_ASSERT(cn_buf_reserve(b, k - 3, &unused) == 0);
    }
    if (k != 3) memmove(b->data + at - 3 + k, b->data + at, n);
    memcpy(b->data + at - 3, t, k);
    b->len = at - 3 + k + n;
    b->data[b->len] = 0;
}

int gw_next(struct cn_dec *d, uint8_t *type, struct cn_str *body)
{
    if (cn_dec_left(d) == 0) return 0;
    *type = cn_dec_u8(d);
    *body = cn_dec_bytes(d, GOSSIP_STREAM_MAX);
    if (cn_dec_status(d)) return CN_ECORRUPT;
    if (*type == 0) return CN_ECORRUPT;
    return 1;
}

/* ---- fields ---------------------------------------------------------------- */

void gw_addr(struct cn_buf *b, const struct gossip_addr *a)
{
    cn_enc_u8(b, a->family);
    if (a->family == 4) cn_buf_put(b, a->ip, 4);
    if (a->family == 6) cn_buf_put(b, a->ip, 16);
    cn_enc_u16(b, a->port);
}

void gr_addr(struct cn_dec *d, struct gossip_addr *a)
{
    memset(a, 0, sizeof *a);
    a->family = cn_dec_u8(d);
    size_t n = a->family == 4 ? 4 : a->family == 6 ? 16 : 0;
    if (a->family != 0 && n == 0) {
        d->err = CN_ECORRUPT;
        return;
    }
    if (n > cn_dec_left(d)) {
        d->err = CN_ECORRUPT;
        return;
    }
    if (!d->err && n) {
        memcpy(a->ip, d->p + d->pos, n);
        d->pos += n;
    }
    a->port = cn_dec_u16(d);
}

/* A node name: 1..GOSSIP_NAME_MAX bytes, no NUL. */
struct cn_str gr_name(struct cn_dec *d)
{
    struct cn_str s = cn_dec_bytes(d, GOSSIP_NAME_MAX);
    if (!d->err && (s.len == 0 || memchr(s.p, 0, s.len))) d->err = CN_ECORRUPT;
    return s;
}

static struct cn_str gr_opt_name(struct cn_dec *d)
{
    struct cn_str s = cn_dec_bytes(d, GOSSIP_NAME_MAX);
    if (!d->err && memchr(s.p ? s.p : "", 0, s.len)) d->err = CN_ECORRUPT;
    return s;
}

static uint32_t gr_u32var(struct cn_dec *d)
{
    uint64_t v = cn_dec_uvar(d);
    if (v > UINT32_MAX) d->err = CN_ECORRUPT;
    return (uint32_t)v;
}

static void gw_vsn(struct cn_buf *b, const uint8_t vsn[6])
{
    cn_buf_put(b, vsn, 6);
}

static void gr_vsn(struct cn_dec *d, uint8_t vsn[6])
{
    for (int i = 0; i < 6; i++) vsn[i] = cn_dec_u8(d);
}

/* ---- messages ---------------------------------------------------------------- */

void gw_ping(struct cn_buf *b, const struct gmsg_ping *m)
{
    size_t at = gw_open(b, GMSG_PING);
    cn_enc_uvar(b, m->seq);
    cn_enc_str(b, m->target);
    cn_enc_str(b, m->src_name);
    gw_addr(b, &m->src);
    gw_close(b, at);
}

int gr_ping(struct cn_str body, struct gmsg_ping *m)
{
    struct cn_dec d;
    cn_dec_init(&d, body.p, body.len);
    m->seq = gr_u32var(&d);
    m->target = gr_opt_name(&d);
    m->src_name = gr_opt_name(&d);
    gr_addr(&d, &m->src);
    return cn_dec_status(&d);
}

void gw_ind_ping(struct cn_buf *b, const struct gmsg_ind_ping *m)
{
    size_t at = gw_open(b, GMSG_IND_PING);
    cn_enc_uvar(b, m->seq);
    cn_enc_str(b, m->target);
    gw_addr(b, &m->target_addr);
    cn_enc_bool(b, m->nack);
    cn_enc_str(b, m->src_name);
    gw_addr(b, &m->src);
    gw_close(b, at);
}

int gr_ind_ping(struct cn_str body, struct gmsg_ind_ping *m)
{
    struct cn_dec d;
    cn_dec_init(&d, body.p, body.len);
    m->seq = gr_u32var(&d);
    m->target = gr_name(&d);
    gr_addr(&d, &m->target_addr);
    m->nack = cn_dec_bool(&d);
    m->src_name = gr_opt_name(&d);
    gr_addr(&d, &m->src);
    if (!d.err && m->target_addr.family == 0) d.err = CN_ECORRUPT;
    return cn_dec_status(&d);
}

/* Coordinates travel as float32: the values are seconds (1e-6 .. 1e1) and
 * 7 significant digits are far below the noise of any RTT sample; it halves
 * the ack payload Serf would send as float64. */
static void gw_f32(struct cn_buf *b, double v)
{
    float f = (float)v;
    uint32_t u;
    memcpy(&u, &f, 4);
    cn_enc_u32(b, u);
}

static double gr_f32(struct cn_dec *d)
{
    uint32_t u = cn_dec_u32(d);
    float f;
    memcpy(&f, &u, 4);
    return (double)f;
}

static void gw_coord(struct cn_buf *b, const struct gossip_coord *c)
{
    for (int i = 0; i < GOSSIP_COORD_DIM; i++) gw_f32(b, c->vec[i]);
    gw_f32(b, c->error);
    gw_f32(b, c->adjustment);
    gw_f32(b, c->height);
}

static void gr_coord(struct cn_dec *d, struct gossip_coord *c)
{
    for (int i = 0; i < GOSSIP_COORD_DIM; i++) c->vec[i] = gr_f32(d);
    c->error = gr_f32(d);
    c->adjustment = gr_f32(d);
    c->height = gr_f32(d);
}

void gw_ack(struct cn_buf *b, const struct gmsg_ack *m)
{
    size_t at = gw_open(b, GMSG_ACK);
    cn_enc_uvar(b, m->seq);
    cn_enc_bool(b, m->has_coord);
    if (m->has_coord) gw_coord(b, &m->coord);
    gw_close(b, at);
}

int gr_ack(struct cn_str body, struct gmsg_ack *m)
{
    struct cn_dec d;
    cn_dec_init(&d, body.p, body.len);
    m->seq = gr_u32var(&d);
    m->has_coord = cn_dec_bool(&d);
    if (m->has_coord) gr_coord(&d, &m->coord);
    return cn_dec_status(&d);
}

void gw_nack(struct cn_buf *b, uint32_t seq)
{
    size_t at = gw_open(b, GMSG_NACK);
    cn_enc_uvar(b, seq);
    gw_close(b, at);
}

int gr_nack(struct cn_str body, uint32_t *seq)
{
    struct cn_dec d;
    cn_dec_init(&d, body.p, body.len);
    *seq = gr_u32var(&d);
    return cn_dec_status(&d);
}

void gw_accuse(struct cn_buf *b, uint8_t type, const struct gmsg_accuse *m)
{
    size_t at = gw_open(b, type);
    cn_enc_uvar(b, m->inc);
    cn_enc_str(b, m->node);
    cn_enc_str(b, m->from);
    gw_close(b, at);
}

int gr_accuse(struct cn_str body, struct gmsg_accuse *m)
{
    struct cn_dec d;
    cn_dec_init(&d, body.p, body.len);
    m->inc = gr_u32var(&d);
    m->node = gr_name(&d);
    m->from = gr_name(&d);
    return cn_dec_status(&d);
}

void gw_alive(struct cn_buf *b, const struct gmsg_alive *m)
{
    size_t at = gw_open(b, GMSG_ALIVE);
    cn_enc_uvar(b, m->inc);
    cn_enc_str(b, m->node);
    gw_addr(b, &m->addr);
    cn_enc_str(b, m->tags);
    gw_vsn(b, m->vsn);
    gw_close(b, at);
}

int gr_alive(struct cn_str body, struct gmsg_alive *m)
{
    struct cn_dec d;
    cn_dec_init(&d, body.p, body.len);
    m->inc = gr_u32var(&d);
    m->node = gr_name(&d);
    gr_addr(&d, &m->addr);
    m->tags = cn_dec_bytes(&d, GOSSIP_TAGS_MAX);
    gr_vsn(&d, m->vsn);
    if (!d.err && (m->addr.family == 0 || m->tags.len == 0)) d.err = CN_ECORRUPT;
    return cn_dec_status(&d);
}

void gw_user(struct cn_buf *b, const struct gmsg_user *m)
{
    size_t at = gw_open(b, GMSG_USER);
    cn_enc_uvar(b, m->ltime);
    cn_enc_str(b, m->name);
    cn_enc_str(b, m->payload);
    cn_enc_bool(b, m->cc);
    gw_close(b, at);
}

int gr_user(struct cn_str body, struct gmsg_user *m)
{
    struct cn_dec d;
    cn_dec_init(&d, body.p, body.len);
    m->ltime = cn_dec_uvar(&d);
    m->name = cn_dec_bytes(&d, GOSSIP_USER_EVENT_MAX);
    m->payload = cn_dec_bytes(&d, GOSSIP_USER_EVENT_MAX);
    m->cc = cn_dec_bool(&d);
    if (!d.err && (m->name.len == 0 || m->name.len + m->payload.len > GOSSIP_USER_EVENT_MAX))
        d.err = CN_ECORRUPT;
    return cn_dec_status(&d);
}

void gw_leave(struct cn_buf *b, const struct gmsg_leave *m)
{
    size_t at = gw_open(b, GMSG_LEAVE_INTENT);
    cn_enc_uvar(b, m->inc);
    cn_enc_str(b, m->node);
    cn_enc_bool(b, m->prune);
    gw_close(b, at);
}

int gr_leave(struct cn_str body, struct gmsg_leave *m)
{
    struct cn_dec d;
    cn_dec_init(&d, body.p, body.len);
    m->inc = gr_u32var(&d);
    m->node = gr_name(&d);
    m->prune = cn_dec_bool(&d);
    return cn_dec_status(&d);
}

void gw_query(struct cn_buf *b, const struct gmsg_query *m)
{
    size_t at = gw_open(b, GMSG_QUERY);
    cn_enc_uvar(b, m->ltime);
    cn_enc_uvar(b, m->id);
    cn_enc_u8(b, m->op);
    cn_enc_str(b, m->origin);
    gw_addr(b, &m->origin_addr);
    cn_enc_str(b, m->key);
    gw_close(b, at);
}

int gr_query(struct cn_str body, struct gmsg_query *m)
{
    struct cn_dec d;
    cn_dec_init(&d, body.p, body.len);
    m->ltime = cn_dec_uvar(&d);
    m->id = gr_u32var(&d);
    m->op = cn_dec_u8(&d);
    m->origin = gr_name(&d);
    gr_addr(&d, &m->origin_addr);
    m->key = cn_dec_bytes(&d, 32);
    if (!d.err && (m->op > GOSSIP_KEY_REMOVE || m->origin_addr.family == 0)) d.err = CN_ECORRUPT;
    if (!d.err && m->op != GOSSIP_KEY_LIST && !gk_valid_len(m->key.len)) d.err = CN_ECORRUPT;
    return cn_dec_status(&d);
}

void gw_query_resp(struct cn_buf *b, const struct gmsg_query_resp *m)
{
    size_t at = gw_open(b, GMSG_QUERY_RESP);
    cn_enc_uvar(b, m->ltime);
    cn_enc_uvar(b, m->id);
    cn_enc_str(b, m->from);
    cn_enc_bool(b, m->ok);
    cn_enc_str(b, m->message);
    cn_enc_uvar(b, m->n_keys);
    for (uint32_t i = 0; i < m->n_keys; i++) cn_enc_str(b, m->keys[i]);
    cn_enc_str(b, m->primary);
    gw_close(b, at);
}

int gr_query_resp(struct cn_str body, struct gmsg_query_resp *m)
{
    struct cn_dec d;
    cn_dec_init(&d, body.p, body.len);
    m->ltime = cn_dec_uvar(&d);
    m->id = gr_u32var(&d);
    m->from = gr_name(&d);
    m->ok = cn_dec_bool(&d);
    m->message = cn_dec_bytes(&d, 256);
    uint64_t n = cn_dec_uvar(&d);
    if (n > GOSSIP_KEYS_MAX) d.err = CN_ECORRUPT;
    m->n_keys = d.err ? 0 : (uint32_t)n;
    for (uint32_t i = 0; i < m->n_keys && !d.err; i++) {
        m->keys[i] = cn_dec_bytes(&d, 32);
        if (!d.err && !gk_valid_len(m->keys[i].len)) d.err = CN_ECORRUPT;
    }
    m->primary = cn_dec_bytes(&d, 32);
    if (!d.err && m->primary.len && !gk_valid_len(m->primary.len)) d.err = CN_ECORRUPT;
    return cn_dec_status(&d);
}

void gw_error(struct cn_buf *b, const char *msg)
{
    size_t at = gw_open(b, GMSG_ERROR);
    cn_enc_cstr(b, msg);
    gw_close(b, at);
}

void gw_pairs_init(struct gw_pairs *p)
{
    memset(p, 0, sizeof *p);
}

void gw_pairs_release(struct gw_pairs *p)
{
    cn_free(p->slot);
    cn_free(p->pair);
    memset(p, 0, sizeof *p);
}

/* Literal pairs are found again by hash and compared in place in the output
 * buffer: no copies, two allocations however many pairs. */
static uint64_t pair_hash(struct cn_str k, struct cn_str v)
{
    uint64_t h = cn_hash_bytes(k.p, k.len);
    return (h ^ cn_hash_bytes(v.p, v.len) * 0x9e3779b97f4a7c15ULL) | 1;
}

static uint32_t pair_find(const struct gw_pairs *p, const struct cn_buf *b, uint64_t h,
                          struct cn_str k, struct cn_str v)
{
    if (!p->cap) return 0;
    uint32_t mask = p->cap - 1;
    for (uint32_t i = (uint32_t)h & mask; p->slot[i]; i = (i + 1) & mask) {
        const struct gw_pair *e = &p->pair[p->slot[i] - 1];
        if (e->hash == h && e->klen == k.len && e->vlen == v.len &&
            memcmp(b->data + e->koff, k.p, k.len) == 0 &&
            (v.len == 0 || memcmp(b->data + e->voff, v.p, v.len) == 0))
            return p->slot[i];
    }
    return 0;
}

static void pair_add(struct gw_pairs *p, uint64_t h, const struct gw_pair *e)
{
    if (p->n == p->pair_cap) {
        p->pair_cap = p->pair_cap ? 2 * p->pair_cap : 32;
        p->pair = cn_realloc(p->pair, p->pair_cap * sizeof *p->pair);
    }
    p->pair[p->n++] = *e;
    if ((uint64_t)p->n * 2 > p->cap) {
        cn_free(p->slot);
        p->cap = p->cap ? 2 * p->cap : 64;
        p->slot = cn_calloc(p->cap, sizeof *p->slot);
        for (uint32_t j = 0; j < p->n; j++) {
            uint32_t i = (uint32_t)p->pair[j].hash & (p->cap - 1);
            while (p->slot[i]) i = (i + 1) & (p->cap - 1);
            p->slot[i] = j + 1;
        }
        return;
    }
    uint32_t i = (uint32_t)h & (p->cap - 1);
    while (p->slot[i]) i = (i + 1) & (p->cap - 1);
    p->slot[i] = p->n;
}

void gr_pairs_init(struct gr_pairs *p)
{
    memset(p, 0, sizeof *p);
    cn_buf_init(&p->blob, GOSSIP_TAGS_MAX);
}

void gr_pairs_release(struct gr_pairs *p)
{
    cn_free(p->key);
    cn_free(p->value);
    cn_buf_release(&p->blob);
}

static void gw_pp_tags(struct cn_buf *b, struct cn_str blob, struct gw_pairs *pairs)
{
    struct cn_dec d;
    cn_dec_init(&d, blob.p, blob.len);
    uint64_t n = blob.len ? cn_dec_uvar(&d) : 0;
    if (d.err) n = 0;
    cn_enc_uvar(b, n);
    for (uint64_t i = 0; i < n; i++) {
        struct cn_str k = cn_dec_bytes(&d, GOSSIP_TAGS_MAX), v = cn_dec_bytes(&d, GOSSIP_TAGS_MAX);
        CN_ASSERT(d.err == 0); /* our records hold validated blobs */
        uint64_t h = pair_hash(k, v);
        uint32_t ref = pair_find(pairs, b, h, k, v);
        cn_enc_uvar(b, ref);
        if (ref) continue;
        struct gw_pair e = {.hash = h, .klen = (uint32_t)k.len, .vlen = (uint32_t)v.len};
        cn_enc_str(b, k);
        e.koff = (uint32_t)(b->len - k.len);
        cn_enc_str(b, v);
        e.voff = (uint32_t)(b->len - v.len);
        if (pairs->n < G_PP_PAIRS_MAX) pair_add(pairs, h, &e);
    }
}

void gw_pp_node(struct cn_buf *b, const struct gmsg_pp_node *n, struct gw_pairs *pairs)
{
    cn_enc_str(b, n->name);
    gw_addr(b, &n->addr);
    gw_pp_tags(b, n->tags, pairs);
    if (pairs->have_vsn && memcmp(pairs->vsn, n->vsn, 6) == 0) {
        cn_enc_u8(b, 0);
    } else {
        cn_enc_u8(b, 1);
        gw_vsn(b, n->vsn);
        memcpy(pairs->vsn, n->vsn, 6);
        pairs->have_vsn = true;
    }
    cn_enc_uvar(b, n->inc);
    cn_enc_u8(b, n->state);
}

static void gr_pp_tags(struct cn_dec *d, struct gr_pairs *p)
{
    cn_buf_reset(&p->blob);
    uint64_t n = cn_dec_uvar(d);
    if (d->err || n > GOSSIP_TAG_PAIRS_MAX) {
        d->err = CN_ECORRUPT;
        return;
    }
    cn_enc_uvar(&p->blob, n);
    for (uint64_t i = 0; i < n && !d->err; i++) {
        uint64_t ref = cn_dec_uvar(d);
        struct cn_str k, v;
        if (ref == 0) {
            k = cn_dec_bytes(d, GOSSIP_TAGS_MAX);
            v = cn_dec_bytes(d, GOSSIP_TAGS_MAX);
            if (d->err) return;
            if (p->n < G_PP_PAIRS_MAX) {
                if (p->n == p->cap) {
                    p->cap = p->cap ? 2 * p->cap : 32;
                    p->key = cn_realloc(p->key, p->cap * sizeof *p->key);
                    p->value = cn_realloc(p->value, p->cap * sizeof *p->value);
                }
                p->key[p->n] = k;
                p->value[p->n++] = v;
            }
        } else if (ref <= p->n) {
            k = p->key[ref - 1];
            v = p->value[ref - 1];
        } else {
            d->err = CN_ECORRUPT;
            return;
        }
        /* the canonical blob; its cap (512) refuses oversized tags */
        if (p->blob.len + 2 * 3 + k.len + v.len > GOSSIP_TAGS_MAX) {
            d->err = CN_ECORRUPT;
            return;
        }
        cn_enc_str(&p->blob, k);
        cn_enc_str(&p->blob, v);
    }
}

void gr_pp_node(struct cn_dec *d, struct gmsg_pp_node *n, struct gr_pairs *pairs)
{
    n->name = gr_name(d);
    gr_addr(d, &n->addr);
    gr_pp_tags(d, pairs);
    n->tags = cn_buf_str(&pairs->blob);
    uint8_t same = cn_dec_u8(d);
    if (same == 1) {
        gr_vsn(d, n->vsn);
        memcpy(pairs->vsn, n->vsn, 6);
        pairs->have_vsn = true;
    } else if (same == 0 && pairs->have_vsn) {
        memcpy(n->vsn, pairs->vsn, 6);
    } else if (!d->err) {
        d->err = CN_ECORRUPT;
    }
    n->inc = gr_u32var(d);
    n->state = cn_dec_u8(d);
    if (!d->err && (n->state > GM_LEFT || n->addr.family == 0)) d->err = CN_ECORRUPT;
}

/* ---- tags ------------------------------------------------------------------- */

static int tag_cmp(const void *a, const void *b)
{
    const struct gossip_tag *x = a, *y = b;
    return strcmp(x->key, y->key);
}

/* blob = count:uvar (key:bytes value:bytes)*, keys sorted and unique, no NULs */
int gw_tags_encode(const struct gossip_tag *tags, size_t n, struct cn_buf *out, struct cn_err *err)
{
    if (n > GOSSIP_TAG_PAIRS_MAX)
        return cn_err_set(err, CN_ETOOBIG, "too many tags: %zu (limit %d)", n, GOSSIP_TAG_PAIRS_MAX);
    struct gossip_tag sorted[GOSSIP_TAG_PAIRS_MAX];
    for (size_t i = 0; i < n; i++) {
        if (!tags[i].key || !tags[i].value || !tags[i].key[0])
            return cn_err_set(err, CN_EINVAL, "tag %zu has an empty key or no value", i);
        sorted[i] = tags[i];
    }
    qsort(sorted, n, sizeof sorted[0], tag_cmp);
    for (size_t i = 1; i < n; i++)
        if (strcmp(sorted[i - 1].key, sorted[i].key) == 0)
            return cn_err_set(err, CN_EINVAL, "duplicate tag '%s'", sorted[i].key);
    cn_buf_reset(out);
    cn_enc_uvar(out, n);
    for (size_t i = 0; i < n; i++) {
        cn_enc_cstr(out, sorted[i].key);
        cn_enc_cstr(out, sorted[i].value);
    }
    if (out->len > GOSSIP_TAGS_MAX)
        return cn_err_set(err, CN_ETOOBIG, "encoded tags are %zu bytes, limit %d", out->len,
                          GOSSIP_TAGS_MAX);
    return 0;
}

/* Parse a blob into out[] with key and value copies NUL-terminated in
 * strings (at least blob.len + 2 * max bytes). */
int gw_tags_parse(struct cn_str blob, struct gossip_tag *out, size_t max, char *strings,
                  size_t *n_out)
{
    *n_out = 0;
    if (blob.len == 0) return 0; /* no tags */
    struct cn_dec d;
    cn_dec_init(&d, blob.p, blob.len);
    uint64_t n = cn_dec_uvar(&d);
    if (d.err || n > max || n > GOSSIP_TAG_PAIRS_MAX) return CN_ECORRUPT;
    char *w = strings;
    for (uint64_t i = 0; i < n; i++) {
        struct cn_str k = cn_dec_bytes(&d, GOSSIP_TAGS_MAX);
        struct cn_str v = cn_dec_bytes(&d, GOSSIP_TAGS_MAX);
        if (d.err || k.len == 0 || memchr(k.p, 0, k.len) || (v.len && memchr(v.p, 0, v.len)))
            return CN_ECORRUPT;
        out[i].key = w;
        memcpy(w, k.p, k.len);
        w += k.len;
        *w++ = 0;
        out[i].value = w;
        if (v.len) memcpy(w, v.p, v.len);
        w += v.len;
        *w++ = 0;
        if (i > 0 && strcmp(out[i - 1].key, out[i].key) >= 0) return CN_ECORRUPT;
    }
    if (cn_dec_left(&d) != 0) return CN_ECORRUPT;
    *n_out = (size_t)n;
    return 0;
}
