/* msg.c - the versioned wire encoding of Raft messages and configurations.
 *
 * Decoding is the trust boundary for bytes from the network: it never reads
 * past its input (lib/cn_codec cursors), bounds every count and length before
 * allocating, and rejects anything a correct peer cannot have sent (terms out
 * of order, zero ids, unknown versions, trailing bytes) with CN_ECORRUPT, so
 * the core can assert on what it receives. */
#include <string.h>

#include "lib/cn_codec.h"
#include "raft/raft_int.h"

#define MSG_VERSION  1
#define CONF_VERSION 1

static const char *const type_names[] = {
    [RAFT_MSG_APPEND] = "append",
    [RAFT_MSG_APPEND_RESP] = "append_resp",
    [RAFT_MSG_VOTE] = "vote",
    [RAFT_MSG_VOTE_RESP] = "vote_resp",
    [RAFT_MSG_PREVOTE] = "prevote",
    [RAFT_MSG_PREVOTE_RESP] = "prevote_resp",
    [RAFT_MSG_HEARTBEAT] = "heartbeat",
    [RAFT_MSG_HEARTBEAT_RESP] = "heartbeat_resp",
    [RAFT_MSG_SNAPSHOT] = "snapshot",
    [RAFT_MSG_SNAPSHOT_RESP] = "snapshot_resp",
    [RAFT_MSG_TIMEOUT_NOW] = "timeout_now",
};

const char *raft_msg_type_name(int type)
{
    if (type < 1 || type > RAFT_MSG_TYPE_MAX) return "?";
    return type_names[type];
}

/* ---- canonical varints ---------------------------------------------------- */

/* lib/cn_codec accepts padded varints (0x80 0x00 for 0); the Raft decoder
 * refuses them so that every message has exactly one encoding. */
static size_t uvar_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint64_t dec_uvar(struct cn_dec *d)
{
    size_t at = d->pos;
    uint64_t v = cn_dec_uvar(d);
    if (!d->err && d->pos - at != uvar_len(v)) d->err = CN_ECORRUPT;
    return v;
}

/* A length-prefixed view (cn_dec_bytes with a canonical length). */
static struct cn_str dec_bytes(struct cn_dec *d, size_t max_len)
{
    uint64_t n = dec_uvar(d);
    if (d->err || n > max_len || n > cn_dec_left(d)) {
        d->err = CN_ECORRUPT;
        return CN_STR_NULL;
    }
    struct cn_str s = {(const char *)d->p + d->pos, (size_t)n};
    d->pos += (size_t)n;
    return s;
}

/* ---- configurations ----------------------------------------------------- */

const struct raft_server *raft_config_get(const struct raft_config *c, raft_id id)
{
    for (uint32_t i = 0; i < c->n; i++)
        if (c->servers[i].id == id) return &c->servers[i];
    return NULL;
}

bool raft_config_is_voter(const struct raft_config *c, raft_id id)
{
    const struct raft_server *s = raft_config_get(c, id);
    return s && s->role == RAFT_VOTER;
}

uint32_t raft_config_voters(const struct raft_config *c)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < c->n; i++)
        n += c->servers[i].role == RAFT_VOTER;
    return n;
}

void raft_config_encode(const struct raft_config *c, struct cn_buf *out)
{
    cn_enc_u8(out, CONF_VERSION);
    cn_enc_uvar(out, c->n);
    for (uint32_t i = 0; i < c->n; i++) {
        cn_enc_uvar(out, c->servers[i].id);
        cn_enc_u8(out, c->servers[i].role);
    }
}

static int conf_decode(struct cn_dec *d, struct raft_config *out)
{
    memset(out, 0, sizeof *out);
    if (cn_dec_u8(d) != CONF_VERSION) return CN_ECORRUPT;
    uint64_t n = dec_uvar(d);
    if (d->err || n > RAFT_SERVERS_MAX) return CN_ECORRUPT;
    for (uint64_t i = 0; i < n; i++) {
        raft_id id = dec_uvar(d);
        uint8_t role = cn_dec_u8(d);
        if (d->err || id == 0 || (role != RAFT_VOTER && role != RAFT_LEARNER)) return CN_ECORRUPT;
        if (raft_config_get(out, id)) return CN_ECORRUPT;
        out->servers[out->n++] = (struct raft_server){id, role};
    }
    return d->err;
}

int raft_config_decode(const void *p, size_t len, struct raft_config *out)
{
    struct cn_dec d;
    cn_dec_init(&d, p, len);
    int rc = conf_decode(&d, out);
    if (rc == 0 && cn_dec_left(&d) != 0) rc = CN_ECORRUPT;
    return rc;
}

/* ---- encoding ----------------------------------------------------------- */

static void enc_append(const struct raft_msg_append *a, struct cn_buf *out)
{
    cn_enc_uvar(out, a->prev_index);
    cn_enc_uvar(out, a->prev_term);
    cn_enc_uvar(out, a->commit);
    cn_enc_uvar(out, a->n_entries);
    for (uint32_t i = 0; i < a->n_entries; i++) {
        const struct raft_entry *e = &a->entries[i];
        cn_enc_uvar(out, e->term);
        cn_enc_u8(out, e->type);
        cn_enc_bytes(out, e->data, e->len);
    }
}

static void enc_snapshot(const struct raft_msg_snapshot *s, struct cn_buf *out)
{
    cn_enc_uvar(out, s->index);
    cn_enc_uvar(out, s->snap_term);
    struct raft_config empty = {0};
    raft_config_encode(s->conf ? s->conf : &empty, out);
    cn_enc_uvar(out, s->offset);
    cn_enc_bool(out, s->last);
    cn_enc_bytes(out, s->data, s->len);
}

void raft_msg_encode(const struct raft_msg *m, struct cn_buf *out)
{
    cn_enc_u8(out, MSG_VERSION);
    cn_enc_u8(out, m->type);
    cn_enc_uvar(out, m->term);
    cn_enc_uvar(out, m->from);
    cn_enc_uvar(out, m->to);
    switch (m->type) {
    case RAFT_MSG_APPEND:
        enc_append(&m->append, out);
        break;
    case RAFT_MSG_APPEND_RESP:
        cn_enc_bool(out, m->append_resp.reject);
        cn_enc_uvar(out, m->append_resp.index);
        cn_enc_uvar(out, m->append_resp.hint_index);
        cn_enc_uvar(out, m->append_resp.hint_term);
        break;
    case RAFT_MSG_VOTE:
    case RAFT_MSG_PREVOTE:
        cn_enc_uvar(out, m->vote.last_index);
        cn_enc_uvar(out, m->vote.last_term);
        cn_enc_bool(out, m->vote.transfer);
        break;
    case RAFT_MSG_VOTE_RESP:
    case RAFT_MSG_PREVOTE_RESP:
        cn_enc_bool(out, m->vote_resp.granted);
        break;
    case RAFT_MSG_HEARTBEAT:
        cn_enc_uvar(out, m->hb.commit);
        cn_enc_uvar(out, m->hb.seq);
        cn_enc_uvar(out, m->hb.ts);
        break;
    case RAFT_MSG_HEARTBEAT_RESP:
        cn_enc_uvar(out, m->hb_resp.seq);
        cn_enc_uvar(out, m->hb_resp.ts);
        cn_enc_uvar(out, m->hb_resp.match);
        break;
    case RAFT_MSG_SNAPSHOT:
        enc_snapshot(&m->snap, out);
        break;
    case RAFT_MSG_SNAPSHOT_RESP:
        cn_enc_uvar(out, m->snap_resp.index);
        cn_enc_uvar(out, m->snap_resp.next_offset);
        cn_enc_bool(out, m->snap_resp.done);
        break;
    case RAFT_MSG_TIMEOUT_NOW:
        break;
    default:
        CN_BUG("encoding raft message of type %d", m->type);
    }
}

/* ---- decoding ----------------------------------------------------------- */

static int dec_append(struct cn_dec *d, struct raft_buf *frame, struct raft_msg *m)
{
    struct raft_msg_append *a = &m->append;
    a->prev_index = dec_uvar(d);
    a->prev_term = dec_uvar(d);
    a->commit = dec_uvar(d);
    uint64_t n = dec_uvar(d);
    if (d->err) return CN_ECORRUPT;
    /* Each entry takes at least 3 bytes: bound n before allocating for it. */
    if (n > RAFT_MSG_ENTRIES_MAX || n > cn_dec_left(d) / 3) return CN_ECORRUPT;
    if (a->prev_term > m->term || (a->prev_index == 0) != (a->prev_term == 0)) return CN_ECORRUPT;
    if (a->prev_index > UINT64_MAX - RAFT_MSG_ENTRIES_MAX) return CN_ECORRUPT;
    a->n_entries = (uint32_t)n;
    a->entries = n ? cn_calloc((size_t)n, sizeof *a->entries) : NULL;
    raft_term prev = a->prev_term;
    for (uint64_t i = 0; i < n; i++) {
        struct raft_entry *e = &a->entries[i];
        e->term = dec_uvar(d);
        e->type = cn_dec_u8(d);
        struct cn_str s = dec_bytes(d, RAFT_ENTRY_DATA_MAX);
        if (d->err) return CN_ECORRUPT;
        /* Terms never decrease along a log and never pass the sender's term. */
        if (e->term == 0 || e->term < prev || e->term > m->term) return CN_ECORRUPT;
        if (e->type < RAFT_ENTRY_NORMAL || e->type > RAFT_ENTRY_CONFIG) return CN_ECORRUPT;
        prev = e->term;
        e->index = a->prev_index + 1 + i;
        e->len = (uint32_t)s.len;
        e->data = s.len ? (const uint8_t *)s.p : NULL;
        e->buf = frame;
        if (e->type == RAFT_ENTRY_CONFIG) {
            struct raft_config c;
            if (raft_config_decode(s.p, s.len, &c) != 0) return CN_ECORRUPT;
        }
    }
    return 0;
}

static int dec_snapshot(struct cn_dec *d, struct raft_buf *frame, struct raft_msg *m,
                        struct raft_config *conf)
{
    struct raft_msg_snapshot *s = &m->snap;
    s->index = dec_uvar(d);
    s->snap_term = dec_uvar(d);
    if (d->err || s->index == 0 || s->snap_term == 0 || s->snap_term > m->term) return CN_ECORRUPT;
    if (conf_decode(d, conf) != 0) return CN_ECORRUPT;
    s->conf = conf;
    s->offset = dec_uvar(d);
    s->last = cn_dec_bool(d);
    struct cn_str data = dec_bytes(d, RAFT_CHUNK_MAX);
    if (d->err) return CN_ECORRUPT;
    if (s->offset > UINT64_MAX - data.len) return CN_ECORRUPT;
    s->len = (uint32_t)data.len;
    s->data = data.len ? (const uint8_t *)data.p : NULL;
    s->buf = frame;
    return 0;
}

static int dec_body(struct cn_dec *d, struct raft_buf *frame, struct raft_msg *m,
                    struct raft_config **conf)
{
    switch (m->type) {
    case RAFT_MSG_APPEND:
        return dec_append(d, frame, m);
    case RAFT_MSG_APPEND_RESP:
        m->append_resp.reject = cn_dec_bool(d);
        m->append_resp.index = dec_uvar(d);
        m->append_resp.hint_index = dec_uvar(d);
        m->append_resp.hint_term = dec_uvar(d);
        if (!d->err && m->append_resp.hint_term > m->term) return CN_ECORRUPT;
        return d->err;
    case RAFT_MSG_VOTE:
    case RAFT_MSG_PREVOTE:
        m->vote.last_index = dec_uvar(d);
        m->vote.last_term = dec_uvar(d);
        m->vote.transfer = cn_dec_bool(d);
        if (d->err || m->vote.last_term > m->term) return CN_ECORRUPT;
        if ((m->vote.last_index == 0) != (m->vote.last_term == 0)) return CN_ECORRUPT;
        return 0;
    case RAFT_MSG_VOTE_RESP:
    case RAFT_MSG_PREVOTE_RESP:
        m->vote_resp.granted = cn_dec_bool(d);
        return d->err;
    case RAFT_MSG_HEARTBEAT:
        m->hb.commit = dec_uvar(d);
        m->hb.seq = dec_uvar(d);
        m->hb.ts = dec_uvar(d);
        return d->err;
    case RAFT_MSG_HEARTBEAT_RESP:
        m->hb_resp.seq = dec_uvar(d);
        m->hb_resp.ts = dec_uvar(d);
        m->hb_resp.match = dec_uvar(d);
        return d->err;
    case RAFT_MSG_SNAPSHOT:
        *conf = cn_malloc(sizeof **conf);
        return dec_snapshot(d, frame, m, *conf);
    case RAFT_MSG_SNAPSHOT_RESP:
        m->snap_resp.index = dec_uvar(d);
        m->snap_resp.next_offset = dec_uvar(d);
        m->snap_resp.done = cn_dec_bool(d);
        return d->err;
    case RAFT_MSG_TIMEOUT_NOW:
        return 0;
    default:
        return CN_ECORRUPT;
    }
}

int raft_msg_decode(const void *p, size_t len, struct raft_buf *frame, struct raft_msg *out)
{
    struct cn_dec d;
    struct raft_config *conf = NULL;
    memset(out, 0, sizeof *out);
    cn_dec_init(&d, p, len);
    uint8_t version = cn_dec_u8(&d);
    out->type = cn_dec_u8(&d);
    out->term = dec_uvar(&d);
    out->from = dec_uvar(&d);
    out->to = dec_uvar(&d);
    int rc = CN_ECORRUPT;
    if (!d.err && version == MSG_VERSION && out->type >= 1 && out->type <= RAFT_MSG_TYPE_MAX &&
        out->from != 0 && out->to != 0 && out->from != out->to) {
        rc = dec_body(&d, frame, out, &conf);
        if (rc == 0 && (d.err || cn_dec_left(&d) != 0)) rc = CN_ECORRUPT;
    }
    if (rc != 0) {
        if (out->type == RAFT_MSG_APPEND) cn_free(out->append.entries);
        cn_free(conf);
        memset(out, 0, sizeof *out);
        return CN_ECORRUPT;
    }
    return 0;
}

void raft_msg_release(struct raft_msg *m)
{
    if (m->type == RAFT_MSG_APPEND) {
        cn_free(m->append.entries);
        m->append.entries = NULL;
        m->append.n_entries = 0;
    } else if (m->type == RAFT_MSG_SNAPSHOT) {
        cn_free((void *)m->snap.conf);
        m->snap.conf = NULL;
    }
}
