/* watch.c - the agent's configured watches as child `cairn watch`
 * processes (watch.h). */
#include "agent/watch.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "agent/agent.h"
#include "agent/local.h"
#include "lib/cn_common.h"
#include "lib/cn_log.h"

#define RESTART_MS 2000
#define ARGS_MAX   64

extern char **environ;

struct plan {
    struct agent_watches *ws;
    char *argv[ARGS_MAX + 1];
    int argc;
    uv_process_t proc;
    uv_timer_t restart;
    bool running;
};

struct agent_watches {
    uv_loop_t *loop;
    struct plan *plans;
    size_t n;
    char **env;
    bool stopping;
    size_t open; /* handles still open */
};

static void add_arg(struct plan *p, const char *fmt, const char *v)
{
    if (p->argc >= ARGS_MAX) return;
    size_t n = strlen(fmt) + (v ? strlen(v) : 0) + 1;
    p->argv[p->argc] = cn_malloc(n);
    snprintf(p->argv[p->argc], n, fmt, v ? v : "");
    p->argc++;
}

static const char *str_of(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void free_watches(struct agent_watches *ws)
{
    for (size_t i = 0; i < ws->n; i++)
        for (int k = 0; k < ws->plans[i].argc; k++)
            free(ws->plans[i].argv[k]);
    free(ws->plans);
    for (size_t i = 0; ws->env && ws->env[i]; i++)
        free(ws->env[i]);
    free(ws->env);
    free(ws);
}

static void handle_closed(uv_handle_t *h)
{
    struct plan *p = h->data;
    struct agent_watches *ws = p->ws;
    if (--ws->open == 0 && ws->stopping) free_watches(ws);
}

static void spawn(struct plan *p);

static void on_restart(uv_timer_t *t)
{
    struct plan *p = t->data;
    if (!p->ws->stopping) spawn(p);
}

static void plan_exited(uv_process_t *proc, int64_t status, int sig)
{
    struct plan *p = proc->data;
    p->running = false;
    if (!p->ws->stopping)
        CN_WARN("agent", "watch (%s) exited (status %lld, signal %d), restarting", p->argv[2],
                (long long)status, sig);
    uv_close((uv_handle_t *)proc, handle_closed);
    if (!p->ws->stopping) uv_timer_start(&p->restart, on_restart, RESTART_MS, 0);
}

static void spawn(struct plan *p)
{
    struct agent_watches *ws = p->ws;
    uv_process_options_t o = {0};
    uv_stdio_container_t stdio[3] = {{.flags = UV_IGNORE},
                                     {.flags = UV_INHERIT_FD, .data.fd = 1},
                                     {.flags = UV_INHERIT_FD, .data.fd = 2}};
    o.file = "/proc/self/exe";
    o.args = p->argv;
    o.env = ws->env;
    o.exit_cb = plan_exited;
    o.stdio = stdio;
    o.stdio_count = 3;
    p->proc.data = p;
    int rc = uv_spawn(ws->loop, &p->proc, &o);
    if (rc) {
        CN_WARN("agent", "cannot start watch: %s", uv_strerror(rc));
        uv_close((uv_handle_t *)&p->proc, handle_closed);
        ws->open++;
        uv_timer_start(&p->restart, on_restart, RESTART_MS, 0);
        return;
    }
    ws->open++;
    p->running = true;
}

static int plan_from(struct agent *a, struct plan *p, json_t *o, const char *addr,
                     struct cn_err *err)
{
    static const char *const flags[][2] = {
        {"key", "-key=%s"},
        {"prefix", "-prefix=%s"},
        {"service", "-service=%s"},
        {"state", "-state=%s"},
        {"name", "-name=%s"},
        {"node", "-node=%s"},
        {"datacenter", "-datacenter=%s"},
        {"token", "-token=%s"},
    };
    const char *type = str_of(o, "type"), *ht = str_of(o, "handler_type");
    if (!type)
        return cn_err_set(err, CN_EINVAL, "Failed to parse watch: Watch type must be specified");
    if (ht && strcmp(ht, "script"))
        return cn_err_set(err, CN_EINVAL,
                          "Failed to parse watch: handler type '%s' is not "
                          "supported by cairn",
                          ht);
    add_arg(p, "%s", "cairn");
    add_arg(p, "%s", "watch");
    add_arg(p, "-type=%s", type);
    add_arg(p, "-http-addr=%s", addr);
    for (size_t i = 0; i < CN_ARRAY_SIZE(flags); i++) {
        const char *v = str_of(o, flags[i][0]);
        if (v) add_arg(p, flags[i][1], v);
    }
    json_t *tag = json_object_get(o, "tag"), *t;
    size_t i;
    if (json_is_string(tag)) add_arg(p, "-tag=%s", json_string_value(tag));
    json_array_foreach(tag, i, t) if (json_is_string(t))
        add_arg(p, "-tag=%s", json_string_value(t));
    json_t *po = json_object_get(o, "passingonly");
    if (json_is_true(po)) add_arg(p, "%s", "-passingonly");
    json_t *args = json_object_get(o, "args");
    const char *handler = str_of(o, "handler");
    if (json_is_array(args) && json_array_size(args)) {
        add_arg(p, "%s", "-shell=false");
        add_arg(p, "%s", "--");
        json_array_foreach(args, i, t) if (json_is_string(t))
            add_arg(p, "%s", json_string_value(t));
    } else if (handler && *handler) {
        add_arg(p, "%s", "--");
        add_arg(p, "%s", handler);
    } else {
        return cn_err_set(err, CN_EINVAL,
                          "Failed to parse watch: handler or args is required "
                          "(watch type %s)",
                          type);
    }
    (void)a;
    return 0;
}

static char **make_env(void)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = cn_calloc(n + 2, sizeof *env);
    for (size_t i = 0; i < n; i++)
        env[i] = cn_strdup(environ[i]);
    char buf[64];
    snprintf(buf, sizeof buf, "CAIRN_WATCH_PARENT=%d", (int)getpid());
    env[n] = cn_strdup(buf);
    return env;
}

int agent_watches_start(struct agent *a, struct agent_watches **out, struct cn_err *err)
{
    const struct agent_config *cfg = agent_cfg(a);
    json_t *arr = agent_config_get(cfg, "watches"), *o;
    size_t i;
    *out = NULL;
    if (!json_is_array(arr) || json_array_size(arr) == 0) return 0;
    if (cfg->http_port <= 0)
        return cn_err_set(err, CN_EINVAL, "watches need the HTTP API (ports.http)");
    char addr[128], host[64];
    snprintf(host, sizeof host, "%s", cfg->http_addr ? cfg->http_addr : "127.0.0.1");
    host[strcspn(host, " ")] = '\0';
    if (!strcmp(host, "0.0.0.0") || !*host) snprintf(host, sizeof host, "127.0.0.1");
    if (!strncmp(host, "unix:", 5))
        snprintf(addr, sizeof addr, "unix://%s", host + 5);
    else
        snprintf(addr, sizeof addr, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, cfg->http_port);
    struct agent_watches *ws = CN_NEW(struct agent_watches);
    ws->loop = agent_loop(a);
    ws->n = json_array_size(arr);
    ws->plans = cn_calloc(ws->n, sizeof *ws->plans);
    json_array_foreach(arr, i, o)
    {
        struct plan *p = &ws->plans[i];
        p->ws = ws;
        int rc = json_is_object(o) ? plan_from(a, p, o, addr, err)
                                   : cn_err_set(err, CN_EINVAL, "Failed to parse watch");
        if (rc) {
            free_watches(ws);
            return rc;
        }
    }
    ws->env = make_env();
    for (i = 0; i < ws->n; i++) {
        struct plan *p = &ws->plans[i];
        uv_timer_init(ws->loop, &p->restart);
        p->restart.data = p;
        ws->open++;
        spawn(p);
    }
    CN_INFO("agent", "started %zu watch(es)", ws->n);
    *out = ws;
    return 0;
}

void agent_watches_stop(struct agent_watches *ws)
{
    if (!ws || ws->stopping) return;
    ws->stopping = true;
    for (size_t i = 0; i < ws->n; i++) {
        struct plan *p = &ws->plans[i];
        if (p->running) uv_process_kill(&p->proc, SIGTERM);
        uv_timer_stop(&p->restart);
        uv_close((uv_handle_t *)&p->restart, handle_closed);
    }
}
