/*
 * cluster_keyring.c - the gossip keyring of each pool: where it starts from,
 * where it is kept, and keyring operations across a pool.
 *
 * As Consul's setupBaseKeyrings: with `encrypt` and no keyring file yet, the
 * file is created holding that key; an existing file wins over `encrypt`
 * (a rotated key must survive a restart whose config still names the old
 * one); without `encrypt` an existing file still turns encryption on. LAN:
 * <data_dir>/serf/local.keyring, WAN: remote.keyring; a JSON array of base64
 * keys, primary first. `disable_keyring_file` (and -dev, which has no
 * data_dir here) keeps the keyring in memory only. Every change the core
 * reports (our own operations and those other members start) rewrites the
 * file; unlike the member snapshot it is fsynced, since a member restarted
 * with a keyring older than the pool's cannot rejoin it.
 *
 * Operations go through the core's keyring query (src/gossip/query.c): the
 * answer arrives in the pool's key_result callback, matched by token.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/cluster_int.h"
#include "lib/cn_common.h"
#include "lib/cn_json.h"
#include "lib/cn_log.h"

struct key_wait {
    uint64_t id;
    cluster_key_fn done;
    void *ctx;
    struct cn_list node;
};

static void keyring_path(const struct cluster *cl, bool wan, char *out, size_t n)
{
    snprintf(out, n, "%s/serf/%s.keyring", cl->cfg.data_dir, wan ? "remote" : "local");
}

/* ---- the file ------------------------------------------------------------------ */

static int write_file(const char *path, const char *text, struct cn_err *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return cn_err_set(err, CN_EIO, "Failed to write keyring file: %s", strerror(errno));
    size_t len = strlen(text), off = 0;
    int rc = 0;
    while (off < len && !rc) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno != EINTR) rc = -errno;
        if (w > 0) off += (size_t)w;
    }
    if (!rc && fsync(fd)) rc = -errno;
    if (close(fd) && !rc) rc = -errno;
    if (!rc && rename(tmp, path)) rc = -errno;
    if (rc) {
        unlink(tmp);
        return cn_err_set(err, CN_EIO, "Failed to write keyring file: %s", strerror(-rc));
    }
    return 0;
}

/* Consul's writeKeyringFile: json.MarshalIndent(keys, "", "  "). */
static int save(const char *path, const struct gossip_key *keys, size_t n, struct cn_err *err)
{
    struct cn_buf b;
    cn_buf_init(&b, 64 * GOSSIP_KEYS_MAX + 16);
    cn_buf_puts(&b, n ? "[\n" : "[]");
    for (size_t i = 0; i < n; i++) {
        char k[GOSSIP_KEY_B64_LEN + 1];
        gossip_key_encode(&keys[i], k, sizeof k);
        cn_buf_putf(&b, "  \"%s\"%s\n", k, i + 1 < n ? "," : "");
    }
    if (n) cn_buf_puts(&b, "]");
    int rc = write_file(path, b.data, err);
    cn_buf_release(&b);
    return rc;
}

static int load(const char *path, struct gossip_key *keys, size_t *n, struct cn_err *err)
{
    json_error_t jerr;
    json_t *arr = json_load_file(path, 0, &jerr);
    *n = 0;
    if (!arr) return cn_err_set(err, CN_EINVAL, "Error loading keyring %s: %s", path, jerr.text);
    int rc = 0;
    size_t i;
    json_t *v;
    if (!json_is_array(arr))
        rc = cn_err_set(err, CN_EINVAL, "Error loading keyring %s: not a JSON array of keys", path);
    json_array_foreach(arr, i, v)
    {
        if (rc) break;
        if (!json_is_string(v) || *n >= GOSSIP_KEYS_MAX) {
            rc = cn_err_set(err, CN_EINVAL, "Error loading keyring %s: key %zu is %s", path, i,
                            json_is_string(v) ? "one too many" : "not a string");
            break;
        }
        if ((rc = gossip_key_decode(cn_str_from(json_string_value(v)), &keys[*n], err))) {
            cn_err_wrap(err, "Error loading keyring %s", path);
            break;
        }
        (*n)++;
    }
    if (!rc && *n == 0) rc = cn_err_set(err, CN_EINVAL, "no keys present in keyring: %s", path);
    json_decref(arr);
    return rc;
}

int cluster__keyring_load(struct cluster *cl, bool wan, struct gossip_key *keys, size_t *n,
                          struct cn_err *err)
{
    const char *enc = cl->cfg.encrypt && *cl->cfg.encrypt ? cl->cfg.encrypt : NULL;
    int rc;
    *n = 0;
    if (enc && (rc = gossip_key_decode(cn_str_from(enc), &keys[0], err)))
        return cn_err_wrap(err, "Invalid key");
    if (!cl->cfg.data_dir || cl->cfg.disable_keyring_file) {
        *n = enc ? 1 : 0;
        return 0;
    }
    char path[4096], dir[4096];
    struct stat st;
    keyring_path(cl, wan, path, sizeof path);
    bool exists = stat(path, &st) == 0;
    if (!exists && enc) {
        snprintf(dir, sizeof dir, "%s/serf", cl->cfg.data_dir);
        if (mkdir(dir, 0700) && errno != EEXIST)
            return cn_err_set(err, CN_EIO, "creating %s: %s", dir, strerror(errno));
        if ((rc = save(path, keys, 1, err))) return rc;
        exists = true;
    }
    if (!exists) return 0;
    struct gossip_key want = enc ? keys[0] : (struct gossip_key){0};
    if ((rc = load(path, keys, n, err))) return rc;
    bool has = false;
    for (size_t i = 0; i < *n && enc; i++)
        has |= keys[i].len == want.len && !memcmp(keys[i].bytes, want.bytes, want.len);
    if (enc && !has)
        CN_WARN("agent", "%s keyring doesn't include key provided with -encrypt, using keyring",
                wan ? "WAN" : "LAN");
    free(cl->keyring_file[wan]);
    cl->keyring_file[wan] = cn_strdup(path);
    return 0;
}

static void keyring_changed(struct cluster *cl, bool wan, const struct gossip_key *keys, size_t n)
{
    struct cn_err err;
    if (!cl->keyring_file[wan]) return;
    if (save(cl->keyring_file[wan], keys, n, &err))
        CN_ERROR("agent", "%s keyring: %s", wan ? "WAN" : "LAN", err.msg);
}

void cluster__keyring_changed_lan(void *ctx, const struct gossip_key *keys, size_t n)
{
    keyring_changed(ctx, false, keys, n);
}

void cluster__keyring_changed_wan(void *ctx, const struct gossip_key *keys, size_t n)
{
    keyring_changed(ctx, true, keys, n);
}

/* ---- operations ------------------------------------------------------------------- */

static struct key_wait *wait_find(struct cluster *cl, uint64_t id)
{
    struct cn_list *l;
    cn_list_foreach(l, &cl->key_waits)
    {
        struct key_wait *w = cn_list_entry(l, struct key_wait, node);
        if (w->id == id) return w;
    }
    return NULL;
}

void cluster__key_result(void *ctx, const struct gossip_key_result *r)
{
    struct key_wait *w = wait_find(ctx, r->token);
    if (!w) return; /* cancelled */
    cn_list_remove(&w->node);
    w->done(w->ctx, r);
    free(w);
}

bool cluster_has_pool(const struct cluster *cl, bool wan)
{
    return cl && (wan ? cl->wan : cl->lan) != NULL;
}

int cluster_key_op(struct cluster *cl, bool wan, enum gossip_key_op op,
                   const struct gossip_key *key, cluster_key_fn done, void *ctx, uint64_t *id,
                   struct cn_err *err)
{
    struct gossip_io *io = wan ? cl->wan : cl->lan;
    if (!io) return cn_err_set(err, CN_ENOENT, "no %s gossip pool", wan ? "WAN" : "LAN");
    struct key_wait *w = CN_NEW(struct key_wait);
    w->id = ++cl->next_key_id;
    w->done = done;
    w->ctx = ctx;
    cn_list_insert_tail(&cl->key_waits, &w->node);
    *id = w->id;
    /* done() may run before this returns (a pool of one answers at once) */
    int rc = gossip_io_key_op(io, op, key, false, w->id, err);
    if (rc) cluster_key_cancel(cl, *id);
    return rc;
}

void cluster_key_cancel(struct cluster *cl, uint64_t id)
{
    struct key_wait *w = wait_find(cl, id);
    if (!w) return;
    cn_list_remove(&w->node);
    free(w);
}
