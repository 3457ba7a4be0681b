/*
 * runner.c - the render loop (§2.3-2.8): templates are read and parsed at
 * start (and on the reload signal), a pass executes every template whose
 * data changed, writes those with all their data (quiescence per template
 * once all have rendered), starts and stops watches as the templates' needs
 * change, then runs the pass's commands; -once ends when every template
 * rendered and the commands ran. Also the signals and the log.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "lib/cn_common.h"
#include "lib/cn_time.h"
#include "tmpl/run/run_int.h"

/* ---- log ------------------------------------------------------------- */

static enum tr_level log_level = TR_WARN;
static const char *const level_names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERR"};

void tr_log_set_level(enum tr_level l)
{
    log_level = l;
}

int tr_log_level_parse(const char *s)
{
    if (!s) return -1;
    for (int i = 0; i < 5; i++)
        if (!strcasecmp(s, level_names[i])) return i;
    if (!strcasecmp(s, "error")) return TR_ERR;
    if (!strcasecmp(s, "warning")) return TR_WARN;
    return -1;
}

void tr_log(enum tr_level l, const char *component, const char *fmt, ...)
{
    if (l < log_level) return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    char ts[64], zone[16];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    long off = tm.tm_gmtoff;
    if (off == 0)
        strcpy(zone, "Z");
    else
        snprintf(zone, sizeof zone, "%c%02ld%02ld", off < 0 ? '-' : '+', labs(off) / 3600,
                 labs(off) / 60 % 60);
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s.%03ld%s [%s] (%s) %s\n", ts, (long)(tv.tv_usec / 1000), zone,
            level_names[l], component, msg);
    fflush(stderr);
}

/* ---- small helpers ---------------------------------------------------- */

uint64_t runner_now_ms(struct runner *r)
{
    return uv_now(r->loop);
}

uint32_t runner_rand(struct runner *r, uint32_t below)
{
    r->rand ^= r->rand << 13;
    r->rand ^= r->rand >> 7;
    r->rand ^= r->rand << 17;
    return below ? (uint32_t)(r->rand % below) : 0;
}

static const char *runner_getenv(void *ctx, const char *name)
{
    (void)ctx;
    return getenv(name);
}

static void on_handle_closed_noop(uv_handle_t *h)
{
    (void)h;
}

static void close_handle(uv_handle_t *h)
{
    if (h->loop && !uv_is_closing(h)) uv_close(h, on_handle_closed_noop);
}

/* Stop everything; uv_run returns once every handle is closed. */
static void runner_stop(struct runner *r, int code)
{
    if (r->stopping) return;
    r->stopping = true;
    r->exit_code = code;
    http_close(r);
    close_handle((uv_handle_t *)&r->pass_timer);
    close_handle((uv_handle_t *)&r->cmd_timer);
    for (size_t i = 0; i < CN_ARRAY_SIZE(r->sigs); i++)
        close_handle((uv_handle_t *)&r->sigs[i]);
    for (size_t i = 0; i < r->ntmpls; i++)
        if (r->tmpls[i].qtimer_init) close_handle((uv_handle_t *)&r->tmpls[i].qtimer);
    if (r->cmd_running) close_handle((uv_handle_t *)&r->proc);
}

void runner_fatal(struct runner *r, int code, const char *fmt, ...)
{
    if (r->stopping) return;
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tr_log(TR_ERR, "cli", "%s", msg);
    runner_stop(r, code);
}

/* ---- passes ------------------------------------------------------------ */

static void pass(struct runner *r);

static void on_pass_timer(uv_timer_t *t)
{
    struct runner *r = t->data;
    r->pass_pending = false;
    if (!r->stopping) pass(r);
}

void runner_schedule_pass(struct runner *r)
{
    if (r->stopping || r->pass_pending) return;
    r->pass_pending = true;
    uv_timer_start(&r->pass_timer, on_pass_timer, 0, 0);
}

static void on_quiet(uv_timer_t *t)
{
    struct rtmpl *rt = t->data;
    rt->qarmed = false;
    rt->qdue = true;
    rt->force = true;
    runner_schedule_pass(rt->r);
}

/* Arm (or re-arm) a template's quiescence timer: min from now, but never
 * past the first arming + max. */
static void quiet_arm(struct runner *r, struct rtmpl *t)
{
    uint64_t now = runner_now_ms(r);
    uint64_t mn = (uint64_t)(t->cfg->wait_min_ns / CN_NS_PER_MS);
    uint64_t mx = (uint64_t)(t->cfg->wait_max_ns / CN_NS_PER_MS);
    if (!t->qtimer_init) {
        uv_timer_init(r->loop, &t->qtimer);
        t->qtimer.data = t;
        t->qtimer_init = true;
    }
    if (!t->qarmed) {
        t->qarmed = true;
        t->qfirst_ms = now;
    }
    uint64_t due = now + mn, cap = t->qfirst_ms + mx;
    if (due > cap) due = cap;
    uv_timer_start(&t->qtimer, on_quiet, due > now ? due - now : 0, 0);
}

static void add_job(struct runner *r, struct rtmpl *t)
{
    const struct tr_template *c = t->cfg;
    if (!c->ncommand) return;
    struct job j = {.t = t};
    if (c->ncommand == 1 && strpbrk(c->command[0], " \t\n")) {
        j.argv = cn_calloc(4, sizeof *j.argv);
        j.argv[0] = "sh";
        j.argv[1] = "-c";
        j.argv[2] = c->command[0];
        j.argc = 3;
        j.shell = true;
    } else {
        j.argv = c->command;
        j.argc = c->ncommand;
    }
    /* an identical command runs once per pass */
    for (size_t i = 0; i < r->njobs; i++) {
        if (r->jobs[i].argc != j.argc) continue;
        bool same = true;
        for (size_t k = 0; k < j.argc && same; k++)
            same = !strcmp(r->jobs[i].argv[k], j.argv[k]);
        if (same) {
            if (j.shell) free(j.argv);
            return;
        }
    }
    r->jobs = cn_realloc(r->jobs, (r->njobs + 1) * sizeof *r->jobs);
    r->jobs[r->njobs++] = j;
}

static void log_missing(struct rtmpl *t)
{
    if (log_level > TR_DEBUG) return;
    for (size_t i = 0; i < t->used.n; i++)
        if (!tmpl_dep_has_data(t->used.deps[i]))
            tr_log(TR_DEBUG, "runner", "%s: missing dependency: %s", t->display,
                   tmpl_dep_id(t->used.deps[i]));
}

/* Execute one template; returns false after a fatal error. */
static bool run_template(struct runner *r, struct rtmpl *t)
{
    struct cn_buf out;
    struct tmpl_error err;
    cn_buf_init(&out, TMPL_OUTPUT_MAX);
    r->env.now_ns = cn_wall_ns();
    r->env.missing_key_error = t->cfg->error_on_missing_key == 1;
    bool quiet_due = t->qdue;
    t->force = false;
    t->qdue = false;
    int rc = tmpl_execute(t->t, r->store, &r->env, &t->used, &out, &err);
    t->executed = true;
    const char *src = t->cfg->source ? t->cfg->source : "";
    if (rc) {
        cn_buf_release(&out);
        if (t->cfg->error_fatal) {
            if (err.line) tr_log(TR_ERR, "runner", "%s:%d:%d: %s", src, err.line, err.col, err.msg);
            runner_fatal(r, TR_EXIT_RUNNER, "%s: execute: %s", src, err.msg);
            return false;
        }
        tr_log(TR_ERR, "runner", "%s: execute: %s", src, err.msg);
        t->complete = false;
        return true;
    }
    t->complete = t->used.missing == 0;
    if (!t->complete) {
        log_missing(t);
        cn_buf_release(&out);
        return true;
    }
    /* quiescence: not for the first render of all, not with -once */
    if (!quiet_due && r->all_rendered && t->cfg->wait_set && t->cfg->wait_min_ns > 0 &&
        !r->cfg.once) {
        quiet_arm(r, t);
        cn_buf_release(&out);
        return true;
    }
    if (t->qarmed) {
        uv_timer_stop(&t->qtimer);
        t->qarmed = false;
    }
    const char *data = out.data ? out.data : "";
    if (r->cfg.dry) {
        if (!t->dry_has || t->dry_len != out.len || memcmp(t->dry_last, data, out.len)) {
            printf("> %s\n%.*s", t->cfg->destination ? t->cfg->destination : "", (int)out.len,
                   data);
            fflush(stdout);
            free(t->dry_last);
            t->dry_last = cn_memdup(data, out.len + 1);
            t->dry_len = out.len;
            t->dry_has = true;
        }
        t->rendered = true;
        cn_buf_release(&out);
        return true;
    }
    struct cn_err werr;
    int w = render_file(t->cfg, data, out.len, &werr);
    cn_buf_release(&out);
    if (w < 0) {
        const char *msg = werr.msg;
        if (t->cfg->error_fatal) {
            runner_fatal(r, TR_EXIT_RUNNER, "error rendering %s: %s", t->display, msg);
            return false;
        }
        tr_log(TR_ERR, "runner", "error rendering %s: %s", t->display, msg);
        return true;
    }
    t->rendered = true;
    if (w > 0) {
        tr_log(TR_INFO, "runner", "rendered %s", t->display);
        add_job(r, t);
    } else {
        tr_log(TR_DEBUG, "runner", "%s is unchanged", t->display);
    }
    return true;
}

/* Watch what the templates need, forget what none needs any more. */
static void sync_watches(struct runner *r)
{
    struct tmpl_dep *d = tmpl_store_next(r->store, NULL);
    while (d) {
        struct tmpl_dep *next = tmpl_store_next(r->store, d);
        if (tmpl_dep_refs(d) == 0) {
            struct watch *w = tmpl_dep_user(d);
            if (w) watch_stop(w);
            tr_log(TR_DEBUG, "watcher", "remove %s", tmpl_dep_id(d));
            tmpl_store_remove(r->store, d);
        } else if (!tmpl_dep_user(d) && !(r->cfg.once && tmpl_dep_has_data(d))) {
            watch_start(r, d);
        }
        d = next;
    }
}

static void pass(struct runner *r)
{
    if (r->cmd_running) {
        r->pass_after_cmds = true;
        return;
    }
    for (size_t i = 0; i < r->ntmpls; i++) {
        struct rtmpl *t = &r->tmpls[i];
        if (!t->force && t->executed && !tmpl_used_changed(&t->used)) continue;
        if (!run_template(r, t)) return;
    }
    if (!r->all_rendered) {
        bool all = true;
        for (size_t i = 0; i < r->ntmpls; i++)
            all = all && r->tmpls[i].rendered;
        if (all) tr_log(TR_DEBUG, "runner", "all templates rendered");
        r->all_rendered = all;
    }
    sync_watches(r);
    if (r->stopping) return;
    if (r->njobs && !r->cfg.dry) {
        commands_start(r);
        return;
    }
    r->njobs = 0;
    if (r->cfg.once && r->all_rendered) {
        tr_log(TR_INFO, "runner", "once mode and all templates rendered");
        runner_stop(r, TR_EXIT_OK);
    }
}

/* ---- signals ------------------------------------------------------------- */

static void on_signal(uv_signal_t *s, int signum)
{
    struct runner *r = s->data;
    if (r->reload_sig && signum == r->reload_sig) {
        fprintf(stderr, "Reloading configuration...\n");
        r->reload = true;
        runner_stop(r, TR_EXIT_OK);
    } else if (r->kill_sig && signum == r->kill_sig) {
        fprintf(stderr, "Cleaning up...\n");
        runner_stop(r, TR_EXIT_KILLED);
    } else {
        tr_log(TR_DEBUG, "cli", "ignoring signal %d", signum);
    }
}

/* ---- setup ----------------------------------------------------------------- */

static char *read_source(const char *path, struct cn_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cn_err_set(err, CN_EIO, "failed to read template: open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct cn_buf b;
    cn_buf_init(&b, TMPL_SOURCE_MAX);
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        if (cn_buf_append(&b, tmp, n)) {
            fclose(f);
            cn_buf_release(&b);
            cn_err_set(err, CN_EIO, "failed to read template: %s: larger than %u bytes", path,
                       TMPL_SOURCE_MAX);
            return NULL;
        }
    fclose(f);
    cn_buf_putc(&b, '\0');
    b.len--;
    return cn_buf_take(&b, NULL);
}

static int load_templates(struct runner *r)
{
    r->ntmpls = r->cfg.ntemplates;
    r->tmpls = cn_calloc(r->ntmpls + 1, sizeof *r->tmpls);
    for (size_t i = 0; i < r->ntmpls; i++) {
        struct rtmpl *t = &r->tmpls[i];
        struct tr_template *c = &r->cfg.templates[i];
        t->r = r;
        t->idx = i;
        t->cfg = c;
        t->force = true;
        tmpl_used_init(&t->used);
        size_t dl =
            strlen(c->source ? c->source : "") + strlen(c->destination ? c->destination : "") + 16;
        t->display = cn_malloc(dl);
        snprintf(t->display, dl, "\"%s\" => \"%s\"", c->source ? c->source : "(dynamic)",
                 c->destination ? c->destination : "");
        struct cn_err err;
        char *text = c->contents ? cn_strdup(c->contents) : read_source(c->source, &err);
        if (!text) {
            tr_log(TR_ERR, "cli", "%s", err.msg);
            return TR_EXIT_RUNNER;
        }
        struct tmpl_parse_opts o = {c->left_delim, c->right_delim};
        struct tmpl_error perr;
        t->t = tmpl_parse(text, strlen(text), &o, &perr);
        free(text);
        if (!t->t) {
            const char *src = c->source ? c->source : "";
            if (perr.line)
                tr_log(TR_ERR, "runner", "%s:%d:%d: %s", src, perr.line, perr.col, perr.msg);
            tr_log(TR_ERR, "cli", "%s: parse: %s", src, perr.msg);
            return TR_EXIT_RUNNER;
        }
    }
    return 0;
}

static void free_templates(struct runner *r)
{
    for (size_t i = 0; i < r->ntmpls; i++) {
        struct rtmpl *t = &r->tmpls[i];
        tmpl_used_release(&t->used);
        tmpl_free(t->t);
        free(t->display);
        free(t->dry_last);
    }
    free(r->tmpls);
    r->tmpls = NULL;
    r->ntmpls = 0;
}

static void setup_signals(struct runner *r)
{
    static const int sigs[] = {SIGHUP, SIGINT, SIGTERM, SIGQUIT, SIGUSR1, SIGUSR2};
    r->reload_sig = tr_signal_parse(r->cfg.reload_signal);
    r->kill_sig = tr_signal_parse(r->cfg.kill_signal);
    for (size_t i = 0; i < CN_ARRAY_SIZE(sigs); i++) {
        uv_signal_init(r->loop, &r->sigs[i]);
        r->sigs[i].data = r;
        uv_signal_start(&r->sigs[i], on_signal, sigs[i]);
    }
}

/* One run of the configuration; returns its exit code, sets *reload. */
static int run_once(struct tr_config *cfg, bool *reload)
{
    struct runner *r = CN_NEW(struct runner);
    r->cfg = *cfg;
    r->loop = uv_default_loop();
    r->rand = (uint64_t)cn_wall_ns() ^ ((uint64_t)getpid() << 32) ^ 0x9E3779B97F4A7C15ull;
    r->env.getenv = runner_getenv;
    int code = load_templates(r);
    if (!code && r->cfg.parse_only == 1) code = -1;
    if (code) {
        free_templates(r);
        free(r);
        *reload = false;
        return code < 0 ? TR_EXIT_OK : code;
    }
    r->store = tmpl_store_new();
    r->child_env = child_env_build(&r->cfg);
    struct cn_err err;
    if (http_init(r, &err)) {
        tr_log(TR_ERR, "cli", "%s", err.msg);
        free_templates(r);
        tmpl_store_free(r->store);
        child_env_free(r->child_env);
        free(r);
        return TR_EXIT_RUNNER;
    }
    uv_timer_init(r->loop, &r->pass_timer);
    r->pass_timer.data = r;
    uv_timer_init(r->loop, &r->cmd_timer);
    r->cmd_timer.data = r;
    setup_signals(r);
    runner_schedule_pass(r);
    uv_run(r->loop, UV_RUN_DEFAULT);
    code = r->exit_code;
    *reload = r->reload;
    free_templates(r);
    tmpl_store_free(r->store);
    child_env_free(r->child_env);
    for (size_t i = 0; i < r->njobs; i++)
        if (r->jobs[i].shell) free(r->jobs[i].argv);
    free(r->jobs);
    free(r);
    return code;
}

int tr_run(tr_loader_fn loader, void *ctx)
{
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int code;
    for (;;) {
        struct tr_config cfg;
        tr_config_init(&cfg);
        code = loader(ctx, &cfg);
        if (code) {
            tr_config_release(&cfg);
            break;
        }
        tr_log_set_level((enum tr_level)tr_log_level_parse(cfg.log_level));
        if (cfg.pid_file) {
            FILE *f = fopen(cfg.pid_file, "w");
            if (f) {
                fprintf(f, "%d\n", (int)getpid());
                fclose(f);
            } else {
                tr_log(TR_WARN, "cli", "pid file %s: %s", cfg.pid_file, strerror(errno));
            }
        }
        bool reload = false;
        char *pid_file = cfg.pid_file ? cn_strdup(cfg.pid_file) : NULL;
        code = run_once(&cfg, &reload);
        tr_config_release(&cfg);
        if (!reload) {
            if (pid_file) unlink(pid_file);
            free(pid_file);
            break;
        }
        free(pid_file);
    }
    uv_loop_close(uv_default_loop());
    curl_global_cleanup();
    return code;
}
