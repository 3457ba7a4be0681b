/*
 * acl_meta.c - the META table: small named cluster-wide facts replicated
 * like any other table (name -> number and bytes).
 *
 * Generic on purpose. The ACL bootstrap index ("acl-bootstrap") is its first
 * user; autopilot configuration and the like can keep their rows here too
 * (move the file to meta.c when a second family does).
 */
#include <string.h>

#include "lib/cn_common.h"
#include "state/state_int.h"

struct meta_row {
    uint64_t num;
    uint32_t name_len;
    uint32_t len;
    char data[]; /* name, NUL, bytes */
};

static struct cn_str meta_key(const void *row)
{
    const struct meta_row *m = row;
    return cn_str_make(m->data, m->name_len);
}

static struct meta_row *meta_new(struct cn_str name, uint64_t num, struct cn_str bytes)
{
    struct meta_row *m = cn_malloc(sizeof *m + name.len + 1 + bytes.len);
    m->num = num;
    m->name_len = (uint32_t)name.len;
    m->len = (uint32_t)bytes.len;
    if (name.len) memcpy(m->data, name.p, name.len);
    m->data[name.len] = '\0';
    if (bytes.len) memcpy(m->data + name.len + 1, bytes.p, bytes.len);
    return m;
}

static void meta_encode(const void *row, struct cn_buf *out)
{
    const struct meta_row *m = row;
    cn_enc_bytes(out, m->data, m->name_len);
    cn_enc_uvar(out, m->num);
    cn_enc_bytes(out, m->data + m->name_len + 1, m->len);
}

static int meta_restore(struct state_store *st, struct cn_dec *d)
{
    struct cn_str name = cn_dec_bytes(d, 256);
    uint64_t num = cn_dec_uvar(d);
    struct cn_str bytes = cn_dec_bytes(d, 1024 * 1024);
    if (cn_dec_status(d)) return CN_ECORRUPT;
    free(cn_omap_put(&st->tables[STATE_T_META].rows, meta_new(name, num, bytes)));
    return 0;
}

const struct state_table_ops state__meta_ops = {"meta", meta_key, free, meta_encode, meta_restore};

bool state_meta_get(struct state_store *st, const char *name, uint64_t *num, struct cn_str *bytes)
{
    const struct meta_row *m = state__get(&st->tables[STATE_T_META], cn_str_from(name));
    if (!m) return false;
    if (num) *num = m->num;
    if (bytes) *bytes = cn_str_make(m->data + m->name_len + 1, m->len);
    return true;
}

int state_meta_set_txn(struct state_txn *tx, const char *name, uint64_t num, struct cn_str bytes)
{
    struct cn_str n = cn_str_from(name);
    state__put(tx, &tx->st->tables[STATE_T_META], meta_new(n, num, bytes));
    state__touch(tx, STATE_T_META);
    state__notify(tx, STATE_W_OTHER, n);
    return 0;
}
