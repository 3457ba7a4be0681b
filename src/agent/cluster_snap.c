/*
 * cluster_snap.c - Consul's serf snapshot, reduced to what a restart needs:
 * the addresses of the members last seen alive in each pool, in
 * <data_dir>/serf/local.snapshot (LAN) and remote.snapshot (WAN).
 *
 * Without it a restarted server knows only its -retry-join addresses and
 * learns the rest through push-pulls (30 s apart on the LAN); meanwhile
 * the leader would take the catalog's nodes for reaped ones. With it, a
 * restarted agent rejoins every member it knew at once. A graceful leave
 * removes the files, so an agent that left stays out after a restart
 * (Consul's rejoin_after_leave=false). The files are hints: written
 * without fsync, and a damaged line is skipped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/cluster_int.h"
#include "lib/cn_common.h"
#include "lib/cn_log.h"

/* Short: a server killed a moment after others joined it must still find
 * them on restart (a seed retry-joins only itself). */
#define SNAP_WRITE_DELAY_MS 100
#define SNAP_ADDRS_MAX 4096

static void snap_path(const struct cluster *cl, bool wan, char *out, size_t n)
{
    snprintf(out, n, "%s/serf/%s.snapshot", cl->cfg.data_dir, wan ? "remote" : "local");
}

static int write_pool(struct cluster *cl, bool wan)
{
    struct gossip_io *io = wan ? cl->wan : cl->lan;
    char path[4096], tmp[4200], ip[64];
    if (!io) return 0;
    snap_path(cl, wan, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return -errno;
    const struct gossip *g = gossip_io_core(io);
    struct gossip_member self;
    gossip_self(g, &self);
    size_t total = gossip_num_members(g);
    for (size_t i = 0; i < total; i++) {
        struct gossip_member m;
        gossip_member_at(g, i, &m);
        if (m.status != GOSSIP_STATUS_ALIVE || !strcmp(m.name, self.name)) continue;
        gossip_addr_format_ip(&m.addr, ip, sizeof ip);
        fprintf(f, m.addr.family == 6 ? "alive: %s [%s]:%u\n" : "alive: %s %s:%u\n", m.name, ip,
                m.addr.port);
    }
    int rc = ferror(f) ? -EIO : 0;
    if (fclose(f) && !rc) rc = -errno;
    if (!rc && rename(tmp, path)) rc = -errno;
    if (rc) unlink(tmp);
    return rc;
}

static void on_write(uv_timer_t *t)
{
    struct cluster *cl = t->data;
    for (int wan = 0; wan < 2; wan++) {
        int rc = write_pool(cl, wan);
        if (rc) CN_WARN("agent", "writing the %s member snapshot: %s", wan ? "WAN" : "LAN", strerror(-rc));
    }
}

void cluster__snap_changed(struct cluster *cl)
{
    if (!cl->snap_inited || cl->closing || cl->left) return;
    if (!uv_is_active((uv_handle_t *)&cl->snap_timer))
        uv_timer_start(&cl->snap_timer, on_write, SNAP_WRITE_DELAY_MS, 0);
}

/* The addresses in one snapshot file (arena-free: the caller frees). */
static size_t read_pool(const struct cluster *cl, bool wan, char ***out)
{
    char path[4096], line[1024];
    size_t n = 0, cap = 0;
    char **v = NULL;
    snap_path(cl, wan, path, sizeof path);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    while (fgets(line, sizeof line, f) && n < SNAP_ADDRS_MAX) {
        char name[512], addr[256];
        if (sscanf(line, "alive: %511s %255s", name, addr) != 2) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            v = cn_realloc(v, cap * sizeof *v);
        }
        v[n++] = cn_strdup(addr);
    }
    fclose(f);
    *out = v;
    return n;
}

void cluster__snap_rejoin(struct cluster *cl)
{
    if (!cl->cfg.data_dir) return;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/serf", cl->cfg.data_dir);
    if (mkdir(dir, 0700) && errno != EEXIST) {
        CN_WARN("agent", "creating %s: %s", dir, strerror(errno));
        return;
    }
    cl->snap_inited = true;
    for (int wan = 0; wan < 2; wan++) {
        struct gossip_io *io = wan ? cl->wan : cl->lan;
        char **addrs = NULL;
        size_t n = io ? read_pool(cl, wan, &addrs) : 0;
        struct cn_err err;
        if (n) {
            CN_INFO("agent", "rejoining the %zu %s members of the previous run", n,
                    wan ? "WAN" : "LAN");
            if (gossip_io_join(io, (const char *const *)addrs, n, CLUSTER_SNAP_JOIN_TOKEN, true,
                               &err))
                CN_WARN("agent", "rejoin: %s", err.msg);
        }
        for (size_t i = 0; i < n; i++) free(addrs[i]);
        free(addrs);
    }
}

void cluster__snap_forget(struct cluster *cl)
{
    char path[4096];
    if (!cl->cfg.data_dir) return;
    cl->left = true;
    uv_timer_stop(&cl->snap_timer);
    for (int wan = 0; wan < 2; wan++) {
        snap_path(cl, wan, path, sizeof path);
        unlink(path);
    }
}

void cluster__snap_close(struct cluster *cl)
{
    uv_timer_stop(&cl->snap_timer);
    uv_close((uv_handle_t *)&cl->snap_timer, NULL);
}
