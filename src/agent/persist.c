/*
 * persist.c - API-registered services and checks in data_dir, restored at
 * start (Consul's persistService/persistCheck/loadCheckState):
 *
 *   data_dir/services/<hex id>.json       {"Service": <definition>}
 *   data_dir/checks/<hex id>.json         {"Check": <definition>}
 *   data_dir/checks/state/<hex id>.json   {"Status", "Output", "Expires"} (TTL checks)
 *
 * One small file per record, written to a temporary name and renamed, so a
 * crash leaves the old or the new definition, and a change costs one file
 * however many services the agent has. Nothing is written in -dev mode.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/local_int.h"
#include "lib/cn_common.h"
#include "lib/cn_json.h"
#include "lib/cn_log.h"
#include "lib/cn_time.h"

#define PERSIST_FILE_MAX (1024 * 1024)

static void hex_name(const char *id, char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)id; *p && k + 3 < n; p++) {
        out[k++] = hex[*p >> 4];
        out[k++] = hex[*p & 15];
    }
    out[k] = '\0';
}

static bool path_for(struct agent_local *l, const char *dir, const char *id, char *out, size_t n)
{
    char name[1024];
    if (!l->data_dir) return false;
    hex_name(id, name, sizeof name);
    return (size_t)snprintf(out, n, "%s/%s/%s.json", l->data_dir, dir, name) < n;
}

static void ensure_dir(struct agent_local *l, const char *dir)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/checks", l->data_dir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/%s", l->data_dir, dir);
    mkdir(p, 0700);
}

static void write_file(const char *path, const struct cn_buf *b)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        CN_ERROR("agent", "failed persisting %s: %s", path, strerror(errno));
        return;
    }
    ssize_t w = write(fd, b->data, b->len);
    close(fd);
    if (w != (ssize_t)b->len || rename(tmp, path)) {
        CN_ERROR("agent", "failed persisting %s: %s", path, strerror(errno));
        unlink(tmp);
    }
}

static void persist(struct agent_local *l, const char *dir, const char *id, struct cn_buf *b)
{
    char path[4096];
    if (!path_for(l, dir, id, path, sizeof path)) return;
    ensure_dir(l, dir);
    write_file(path, b);
}

static void unpersist(struct agent_local *l, const char *dir, const char *id)
{
    char path[4096];
    if (path_for(l, dir, id, path, sizeof path)) unlink(path);
}

void persist_service(struct agent_local *l, const struct local_service *s)
{
    struct cn_buf b;
    struct cn_jw w;
    if (!l->data_dir) return;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_jw_init(&w, &b, false);
    cn_jw_obj_begin(&w);
    cn_jw_key(&w, "Service");
    agent_service_def_json(&w, &s->svc, s->token);
    cn_jw_obj_end(&w);
    persist(l, "services", s->svc.id, &b);
    cn_buf_release(&b);
}

void persist_service_remove(struct agent_local *l, const char *id)
{
    unpersist(l, "services", id);
}

void persist_check(struct agent_local *l, const struct local_check *c)
{
    struct cn_buf b;
    struct cn_jw w;
    if (!l->data_dir) return;
    struct agent_check_def d = c->def;
    d.token = c->token;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_jw_init(&w, &b, false);
    cn_jw_obj_begin(&w);
    cn_jw_key(&w, "Check");
    agent_check_def_json(&w, &d);
    cn_jw_obj_end(&w);
    persist(l, "checks", c->hc.check_id, &b);
    cn_buf_release(&b);
}

void persist_check_remove(struct agent_local *l, const char *id)
{
    unpersist(l, "checks", id);
    unpersist(l, "checks/state", id);
}

void persist_check_state(struct agent_local *l, const struct local_check *c, int64_t expires_wall_ns)
{
    struct cn_buf b;
    struct cn_jw w;
    if (!l->data_dir || c->from_file) return;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_jw_init(&w, &b, false);
    cn_jw_obj_begin(&w);
    cn_jw_key_str(&w, "Status", c->hc.status);
    cn_jw_key_str(&w, "Output", c->hc.output);
    cn_jw_key_i64(&w, "Expires", expires_wall_ns);
    cn_jw_obj_end(&w);
    persist(l, "checks/state", c->hc.check_id, &b);
    cn_buf_release(&b);
}

static json_t *read_json(const char *path)
{
    struct cn_err err;
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char *buf = cn_malloc(PERSIST_FILE_MAX);
    size_t n = fread(buf, 1, PERSIST_FILE_MAX, f);
    fclose(f);
    json_t *v = n < PERSIST_FILE_MAX ? cn_json_parse(buf, n, &err) : NULL;
    free(buf);
    return v;
}

int persist_check_state_load(struct agent_local *l, struct local_check *c, int64_t *remaining_ms)
{
    char path[4096];
    if (!path_for(l, "checks/state", c->hc.check_id, path, sizeof path)) return -1;
    json_t *v = read_json(path);
    if (!v) return -1;
    const char *status = NULL, *output = NULL;
    int64_t expires = 0;
    struct cn_err err;
    cn_json_str(v, "Status", &status, &err);
    cn_json_str(v, "Output", &output, &err);
    cn_json_i64(v, "Expires", &expires, &err);
    int64_t left = expires - cn_wall_ns();
    int rc = -1;
    if (status && output && left > 0) {
        c->hc.status = cn_arena_strdup(&c->arena, status);
        c->hc.output = cn_arena_strdup(&c->arena, output);
        c->critical_since_ms = strcmp(status, "critical") ? 0 : local_now_ms();
        *remaining_ms = left / CN_NS_PER_MS;
        rc = 0;
    } else {
        unlink(path);
    }
    json_decref(v);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

typedef void (*load_fn)(struct agent_local *l, json_t *v, const char *path);

static void scan(struct agent_local *l, const char *dir, load_fn fn)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", l->data_dir, dir);
    DIR *d = opendir(p);
    struct dirent *e;
    if (!d) return;
    /* sorted, so restores happen in a stable order */
    char **names = NULL;
    size_t n = 0, cap = 0;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json")) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            names = cn_realloc(names, cap * sizeof *names);
        }
        names[n++] = cn_strdup(e->d_name);
    }
    closedir(d);
    if (n > 1) qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n; i++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", p, names[i]);
        json_t *v = read_json(path);
        if (v)
            fn(l, v, path);
        else
            CN_WARN("agent", "failed reading persisted definition, skipped: file=%s", path);
        json_decref(v);
        free(names[i]);
    }
    free(names);
}

static void load_service(struct agent_local *l, json_t *v, const char *path)
{
    struct cn_arena a;
    struct agent_service_def def;
    struct cn_err err;
    cn_arena_init(&a, 4096);
    cn_err_clear(&err);
    if (agent_service_def_decode(cn_json_get(v, "Service"), &a, &def, &err) ||
        local_add_service(l, &def, false, LOCAL_SRC_RESTORE, &err))
        CN_WARN("agent", "failed restoring service, skipped: file=%s error=%s", path, err.msg);
    cn_arena_release(&a);
}

static void load_check(struct agent_local *l, json_t *v, const char *path)
{
    struct cn_arena a;
    struct agent_check_def def;
    struct cn_err err;
    cn_arena_init(&a, 4096);
    cn_err_clear(&err);
    int rc = agent_check_def_decode(cn_json_get(v, "Check"), &a, &def, &err);
    if (rc == 0) {
        /* Maintenance checks have no type fields: restore them as such. */
        if (!strcmp(def.id, LOCAL_NODE_MAINT))
            rc = agent_local_node_maintenance(l, NULL, true, def.notes, &err);
        else if (!strncmp(def.id, LOCAL_SERVICE_MAINT_PREFIX, strlen(LOCAL_SERVICE_MAINT_PREFIX)))
            rc = agent_local_service_maintenance(l, NULL, def.service_id, true, def.notes, &err);
        else
            rc = local_add_check(l, &def, LOCAL_SRC_RESTORE, &err);
    }
    if (rc) CN_WARN("agent", "failed restoring check, skipped: file=%s error=%s", path, err.msg);
    cn_arena_release(&a);
}

int persist_load(struct agent_local *l, struct cn_err *err)
{
    (void)err;
    if (!l->data_dir) return 0;
    scan(l, "services", load_service);
    scan(l, "checks", load_check);
    return 0;
}
