/*
 * snapshot.c - the store as a byte stream, and back.
 *
 * Layout (version 1), all through cn_codec:
 *   "CNST" u32 version, uvar last_index, uvar count, count x (u8 table,
 *   uvar index), then rows: u8 table, bytes row ... and u8 0xff at the end.
 * Rows stream out in chunks of about 64 KiB, so a million keys never sit in
 * one buffer. A restore rebuilds every table through the tables' own
 * restore_row, which maintains their secondary indexes.
 */
#include <string.h>

#include "lib/cn_common.h"
#include "lib/cn_limits.h"
#include "state/state_int.h"

#define SNAP_MAGIC "CNST"
#define SNAP_VERSION 1
#define SNAP_END 0xff
#define CHUNK (64 * 1024)

int state_snapshot_write(struct state_store *st, state_write_fn write, void *ctx)
{
    struct cn_buf out, row;
    int rc = 0;
    CN_ASSERT(!st->tx_open);
    cn_buf_init(&out, CN_BUF_UNLIMITED);
    cn_buf_init(&row, CN_BUF_UNLIMITED);
    cn_buf_put(&out, SNAP_MAGIC, 4);
    cn_enc_u32(&out, SNAP_VERSION);
    cn_enc_uvar(&out, st->last_index);
    cn_enc_uvar(&out, STATE_T__COUNT);
    for (int t = 0; t < STATE_T__COUNT; t++) {
        cn_enc_u8(&out, (uint8_t)t);
        cn_enc_uvar(&out, st->tables[t].index);
    }
    for (int t = 0; t < STATE_T__COUNT && rc == 0; t++) {
        const struct state_table *tab = &st->tables[t];
        struct cn_omap_iter it;
        const void *r;
        if (!tab->ops->encode_row) continue;
        cn_omap_seek(&tab->rows, CN_STR_NULL, &it);
        while (rc == 0 && (r = cn_omap_next(&it))) {
            cn_buf_reset(&row);
            tab->ops->encode_row(r, &row);
            cn_enc_u8(&out, (uint8_t)t);
            cn_enc_bytes(&out, row.data, row.len);
            if (out.len >= CHUNK) {
                rc = write(ctx, out.data, out.len);
                cn_buf_reset(&out);
            }
        }
    }
    if (rc == 0) {
        cn_enc_u8(&out, SNAP_END);
        rc = write(ctx, out.data, out.len);
    }
    cn_buf_release(&out);
    cn_buf_release(&row);
    return rc;
}

/* A small pull reader over the caller's read function. */
struct reader {
    state_read_fn read;
    void *ctx;
    struct cn_buf buf;
    size_t pos;
    bool eof;
    uint64_t consumed;
};

/* Make at least n bytes available (unless the input ends first). */
static int fill(struct reader *r, size_t n)
{
    while (r->buf.len - r->pos < n && !r->eof) {
        char *at;
        if (r->pos > 0) {
            r->consumed += r->pos;
            cn_buf_consume(&r->buf, r->pos);
            r->pos = 0;
        }
        if (cn_buf_reserve(&r->buf, CHUNK, &at)) return CN_ETOOBIG;
        long got = r->read(r->ctx, at, CHUNK);
        if (got < 0) return (int)got;
        if (got == 0) r->eof = true;
        r->buf.len += (size_t)got;
    }
    return r->buf.len - r->pos >= n ? 0 : CN_ECORRUPT;
}

/* Decode one varint-prefixed row or header field straight from the buffer. */
static int next_row(struct reader *r, uint8_t *table, struct cn_str *row)
{
    struct cn_dec d;
    int rc = fill(r, 1 + 10);
    if (rc && rc != CN_ECORRUPT) return rc;
    if (r->buf.len - r->pos < 1) return CN_ECORRUPT;
    cn_dec_init(&d, r->buf.data + r->pos, r->buf.len - r->pos);
    *table = cn_dec_u8(&d);
    if (*table == SNAP_END) {
        r->pos += 1;
        return 0;
    }
    uint64_t len = cn_dec_uvar(&d);
    if (cn_dec_status(&d) || len > CN_CODEC_FIELD_MAX + 1024) return CN_ECORRUPT;
    size_t head = d.pos;
    if ((rc = fill(r, head + (size_t)len))) return rc;
    *row = cn_str_make(r->buf.data + r->pos + head, (size_t)len);
    r->pos += head + (size_t)len;
    return 0;
}

static void clear_tables(struct state_store *st)
{
    for (int t = 0; t < STATE_T__COUNT; t++) {
        state__table_release(&st->tables[t]);
        state__table_init(&st->tables[t], st->tables[t].ops);
    }
    st->last_index = 0;
}

static int restore_header(struct state_store *st, struct reader *r, struct cn_err *err)
{
    struct cn_dec d;
    int rc = fill(r, 8 + 10 + 10);
    if (rc && rc != CN_ECORRUPT) return cn_err_set(err, rc, "reading snapshot header");
    cn_dec_init(&d, r->buf.data, r->buf.len);
    if (r->buf.len < 8 || memcmp(r->buf.data, SNAP_MAGIC, 4))
        return cn_err_set(err, CN_ECORRUPT, "not a cairn state snapshot (bad magic)");
    d.pos = 4;
    uint32_t version = cn_dec_u32(&d);
    if (version != SNAP_VERSION)
        return cn_err_set(err, CN_EUNSUPPORTED, "unsupported state snapshot version %u", version);
    st->last_index = cn_dec_uvar(&d);
    uint64_t count = cn_dec_uvar(&d);
    if (cn_dec_status(&d) || count > 255)
        return cn_err_set(err, CN_ECORRUPT, "corrupt state snapshot header");
    r->pos = d.pos;
    for (uint64_t i = 0; i < count; i++) {
        if ((rc = fill(r, 1 + 10)) && rc != CN_ECORRUPT) return cn_err_set(err, rc, "reading");
        cn_dec_init(&d, r->buf.data + r->pos, r->buf.len - r->pos);
        uint8_t t = cn_dec_u8(&d);
        uint64_t idx = cn_dec_uvar(&d);
        if (cn_dec_status(&d) || idx > st->last_index)
            return cn_err_set(err, CN_ECORRUPT, "corrupt table index in snapshot header");
        if (t < STATE_T__COUNT) st->tables[t].index = idx;
        r->pos += d.pos;
    }
    return 0;
}

int state_snapshot_restore(struct state_store *st, state_read_fn read, void *ctx,
                           struct cn_err *err)
{
    struct reader r = {.read = read, .ctx = ctx};
    int rc;
    CN_ASSERT(!st->tx_open);
    cn_buf_init(&r.buf, CN_CODEC_FIELD_MAX + 2 * CHUNK);
    clear_tables(st);
    rc = restore_header(st, &r, err);
    while (rc == 0) {
        uint8_t t;
        struct cn_str row;
        if ((rc = next_row(&r, &t, &row))) {
            cn_err_set(err, rc, "truncated or corrupt row at offset %llu",
                       (unsigned long long)(r.consumed + r.pos));
            break;
        }
        if (t == SNAP_END) break;
        if (t >= STATE_T__COUNT || !st->tables[t].ops->restore_row) {
            rc = cn_err_set(err, CN_ECORRUPT, "row of unknown table %u in snapshot", t);
            break;
        }
        struct cn_dec d;
        cn_dec_init(&d, row.p, row.len);
        rc = st->tables[t].ops->restore_row(st, &d);
        if (rc == 0 && cn_dec_left(&d) != 0) rc = CN_ECORRUPT;
        if (rc) cn_err_set(err, rc, "corrupt %s row in snapshot", state_table_name(t));
    }
    cn_buf_release(&r.buf);
    if (rc) clear_tables(st);
    state__watch_fire_all(st);
    return rc;
}
