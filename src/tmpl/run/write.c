/*
 * write.c - the renderer's file writes and the commands (§2.4, §2.5):
 * identical bytes are not written; otherwise a temp file in the destination
 * directory is written, fsynced, given the configured or the old mode (and
 * the old owner when possible), the old file optionally hard-linked to
 * .bak, and renamed over the destination. Commands run one by one after a
 * pass, `sh -c` for a string with white space, in their own process group,
 * killed after their timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cn_common.h"
#include "lib/cn_time.h"
#include "tmpl/run/run_int.h"

extern char **environ;

/* mkdir -p with 0755. */
static int make_dirs(const char *dir)
{
    char *p = cn_strdup(dir);
    int rc = 0;
    for (char *s = p + 1; *s && !rc; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, 0755) && errno != EEXIST) rc = -errno;
        *s = '/';
    }
    if (!rc && mkdir(p, 0755) && errno != EEXIST) rc = -errno;
    free(p);
    return rc;
}

static bool same_contents(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct stat st;
    bool same = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == len;
    char buf[65536];
    size_t off = 0;
    while (same && off < len) {
        ssize_t n = read(fd, buf, CN_MIN(sizeof buf, len - off));
        if (n <= 0 || memcmp(buf, data + off, (size_t)n)) same = false;
        off += n > 0 ? (size_t)n : 0;
    }
    if (same) {
        ssize_t n = read(fd, buf, 1); /* grew meanwhile? */
        same = n == 0;
    }
    close(fd);
    return same;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int render_file(const struct tr_template *t, const char *data, size_t len, struct cn_err *err)
{
    const char *dest = t->destination ? t->destination : "";
    if (same_contents(dest, data, len)) return 0;
    char *dir = cn_strdup(dest), *slash = strrchr(dir, '/');
    if (slash && slash != dir)
        *slash = '\0';
    else if (slash)
        strcpy(dir, "/");
    else
        strcpy(dir, ".");
    int rc;
    if (t->create_dest_dirs && (rc = make_dirs(dir)) < 0) {
        cn_err_set(err, CN_EIO, "failed writing file: mkdir %s: %s", dir, strerror(-rc));
        free(dir);
        return CN_EIO;
    }
    const char *base = strrchr(dest, '/') ? strrchr(dest, '/') + 1 : dest;
    char *tmp = cn_malloc(strlen(dir) + strlen(base) + 32);
    sprintf(tmp, "%s/.%s.cairn-XXXXXX", dir, base);
    free(dir);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        cn_err_set(err, CN_EIO, "failed writing file: open %s: %s", tmp, strerror(errno));
        free(tmp);
        return CN_EIO;
    }
    struct stat old;
    bool exists = stat(dest, &old) == 0;
    mode_t mode = t->perms > 0 ? (mode_t)t->perms : exists ? old.st_mode & 07777 : 0644;
    rc = write_all(fd, data, len);
    if (!rc && fsync(fd)) rc = -errno;
    if (!rc && fchmod(fd, mode)) rc = -errno;
    if (!rc && exists && (old.st_uid != geteuid() || old.st_gid != getegid()))
        (void)!fchown(fd, old.st_uid, old.st_gid); /* keep the owner when we may */
    if (close(fd) && !rc) rc = -errno;
    if (!rc && exists && t->backup == 1) {
        char *bak = cn_malloc(strlen(dest) + 8);
        sprintf(bak, "%s.bak", dest);
        unlink(bak);
        if (link(dest, bak)) rc = -errno;
        free(bak);
    }
    if (!rc && rename(tmp, dest)) rc = -errno;
    if (rc) {
        unlink(tmp);
        cn_err_set(err, CN_EIO, "failed writing file: %s: %s", dest, strerror(-rc));
        free(tmp);
        return CN_EIO;
    }
    free(tmp);
    return 1;
}

/* ---- child environment ------------------------------------------------- */

char **child_env_build(const struct tr_config *c)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = cn_calloc(n + 8, sizeof *env);
    size_t k = 0;
    static const char *const ours[] = {
        "CONSUL_HTTP_ADDR=", "CONSUL_HTTP_TOKEN=", "CONSUL_HTTP_TOKEN_FILE=",
        "CONSUL_HTTP_AUTH=", "CONSUL_HTTP_SSL=",   "CONSUL_HTTP_SSL_VERIFY="};
    for (size_t i = 0; i < n; i++) {
        bool skip = false;
        for (size_t o = 0; o < CN_ARRAY_SIZE(ours); o++)
            if (!strncmp(environ[i], ours[o], strlen(ours[o]))) skip = true;
        if (!skip) env[k++] = cn_strdup(environ[i]);
    }
    char buf[4096];
    snprintf(buf, sizeof buf, "CONSUL_HTTP_ADDR=%s", c->address);
    env[k++] = cn_strdup(buf);
    if (c->token) {
        snprintf(buf, sizeof buf, "CONSUL_HTTP_TOKEN=%s", c->token);
        env[k++] = cn_strdup(buf);
    }
    if (c->token_file) {
        snprintf(buf, sizeof buf, "CONSUL_HTTP_TOKEN_FILE=%s", c->token_file);
        env[k++] = cn_strdup(buf);
    }
    if (c->auth_user) {
        snprintf(buf, sizeof buf, "CONSUL_HTTP_AUTH=%s%s%s", c->auth_user, c->auth_pass ? ":" : "",
                 c->auth_pass ? c->auth_pass : "");
        env[k++] = cn_strdup(buf);
    }
    env[k++] = cn_strdup(c->ssl_enabled == 1 ? "CONSUL_HTTP_SSL=true" : "CONSUL_HTTP_SSL=false");
    env[k++] = cn_strdup(c->ssl_verify == 0 ? "CONSUL_HTTP_SSL_VERIFY=false"
                                            : "CONSUL_HTTP_SSL_VERIFY=true");
    env[k] = NULL;
    return env;
}

void child_env_free(char **env)
{
    if (!env) return;
    for (size_t i = 0; env[i]; i++)
        free(env[i]);
    free(env);
}

/* ---- commands ---------------------------------------------------------- */

static void run_next(struct runner *r);

static void job_text(const struct job *j, char *out, size_t n)
{
    out[0] = '\0';
    for (size_t i = j->shell ? 2 : 0; i < j->argc; i++) {
        size_t l = strlen(out);
        snprintf(out + l, n - l, "%s%s", l ? " " : "", j->argv[i]);
    }
}

static void on_proc_closed(uv_handle_t *h)
{
    struct runner *r = h->data;
    if (r->stopping) return;
    run_next(r);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
    struct runner *r = p->data;
    struct job *j = &r->jobs[r->job_i];
    char cmd[1024];
    job_text(j, cmd, sizeof cmd);
    uv_timer_stop(&r->cmd_timer);
    bool failed = r->cmd_timed_out || status != 0 || sig != 0;
    if (failed) {
        char d[CN_DUR_STR_MAX];
        if (r->cmd_timed_out)
            tr_log(TR_ERR, "runner",
                   "failed to execute command \"%s\" from %s: command did not exit "
                   "within time limit (\"%s\"): %s",
                   cmd, j->t->display, cn_dur_format(j->t->cfg->command_timeout_ns, d, sizeof d),
                   cmd);
        else
            tr_log(TR_ERR, "runner",
                   "failed to execute command \"%s\" from %s: child: command "
                   "exited with a non-zero exit status: %s (exit status %lld%s)",
                   cmd, j->t->display, cmd, (long long)status, sig ? ", killed by a signal" : "");
        if (j->t->cfg->error_fatal) r->cmd_failed_fatal = true;
    } else {
        tr_log(TR_DEBUG, "runner", "command \"%s\" from %s exited 0", cmd, j->t->display);
    }
    r->job_i++;
    uv_close((uv_handle_t *)p, on_proc_closed);
}

static void on_cmd_timeout(uv_timer_t *t)
{
    struct runner *r = t->data;
    r->cmd_timed_out = true;
    /* the whole process group: sh -c and what it started */
    if (r->proc.pid > 0) kill(-r->proc.pid, SIGKILL);
    uv_process_kill(&r->proc, SIGKILL);
}

static void commands_done(struct runner *r)
{
    r->cmd_running = false;
    for (size_t i = 0; i < r->njobs; i++)
        if (r->jobs[i].shell) free(r->jobs[i].argv);
    free(r->jobs);
    r->jobs = NULL;
    r->njobs = r->job_i = 0;
    if (r->cmd_failed_fatal) {
        runner_fatal(r, TR_EXIT_RUNNER, "one or more commands failed (see above)");
        return;
    }
    runner_schedule_pass(r); /* updates that arrived meanwhile, -once completion */
}

static void run_next(struct runner *r)
{
    while (r->job_i < r->njobs) {
        struct job *j = &r->jobs[r->job_i];
        char cmd[1024];
        job_text(j, cmd, sizeof cmd);
        tr_log(TR_INFO, "runner", "executing command \"%s\" from %s", cmd, j->t->display);
        uv_process_options_t o;
        memset(&o, 0, sizeof o);
        uv_stdio_container_t stdio[3];
        for (int i = 0; i < 3; i++) {
            stdio[i].flags = UV_INHERIT_FD;
            stdio[i].data.fd = i;
        }
        o.file = j->argv[0];
        o.args = j->argv;
        o.env = r->child_env;
        o.flags = UV_PROCESS_DETACHED; /* own session and process group */
        o.stdio_count = 3;
        o.stdio = stdio;
        o.exit_cb = on_exit_cb;
        r->cmd_timed_out = false;
        r->proc.data = r;
        int rc = uv_spawn(r->loop, &r->proc, &o);
        if (rc) {
            tr_log(TR_ERR, "runner", "failed to execute command \"%s\" from %s: child: exec: %s",
                   cmd, j->t->display, uv_strerror(rc));
            if (j->t->cfg->error_fatal) r->cmd_failed_fatal = true;
            r->job_i++;
            uv_close((uv_handle_t *)&r->proc, on_proc_closed);
            return;
        }
        uv_timer_start(&r->cmd_timer, on_cmd_timeout,
                       (uint64_t)(j->t->cfg->command_timeout_ns / CN_NS_PER_MS), 0);
        return;
    }
    commands_done(r);
}

int commands_start(struct runner *r)
{
    if (!r->njobs) return 0;
    r->cmd_running = true;
    r->job_i = 0;
    r->cmd_failed_fatal = false;
    run_next(r);
    return 0;
}
