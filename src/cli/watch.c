/*
 * watch.c - `cairn watch` (Consul's command/watch and api/watch plans): a
 * loop of blocking queries for one view (key, keyprefix, services, nodes,
 * service, checks, event) that prints each new result as JSON or runs a
 * handler with the JSON on stdin and CONSUL_INDEX in its environment.
 *
 * Client rules (shared/spec/blocking-and-consistency.md §3): the index goes
 * back -> start again from 0; 0 is read as 1; re-queries are rate-limited
 * by a token bucket (burst 2); errors back off. The handler runs once per
 * change: a first result, then whenever the index moved and the result
 * differs (Consul's plan skips identical results). Event watches hand the
 * handler only the events after the last one seen.
 *
 * Run by the agent for its configured `watches` (agent/watch.c): then
 * CAIRN_WATCH_PARENT names the agent, the process dies with it, and a
 * failing handler is logged instead of ending the watch.
 */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/cn_common.h"
#include "lib/cn_json.h"
#include "lib/cn_time.h"

int cli_watch(int argc, char **argv);

extern char **environ;

#define WAIT         "60s"
#define BUCKET_BURST 2.0
#define BUCKET_RATE  10.0 /* queries per second once the burst is spent */

enum wtype { W_KEY, W_KEYPREFIX, W_SERVICES, W_NODES, W_SERVICE, W_CHECKS, W_EVENT };

struct watch {
    enum wtype type;
    const char *key, *prefix, *service, *state, *name, *node;
    struct cli_list tags;
    bool passing;
    char **handler;
    int nhandler;
    bool shell;
    bool agent_mode;
};

static volatile sig_atomic_t stop;

/* Interrupted: leave at once, even from inside a blocking query (a running
 * handler finishes on its own, as with Consul). */
static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
    _exit(0);
}

static void query_escape(struct cn_buf *b, const char *k, const char *v, bool *first)
{
    static const char hex[] = "0123456789ABCDEF";
    cn_buf_putf(b, "%s%s=", *first ? "?" : "&", k);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p)) {
            cn_buf_putc(b, (char)*p);
        } else {
            cn_buf_putc(b, '%');
            cn_buf_putc(b, hex[*p >> 4]);
            cn_buf_putc(b, hex[*p & 15]);
        }
    }
    *first = false;
}

static void path_of(const struct watch *w, uint64_t index, struct cn_buf *b)
{
    char *e = NULL;
    bool first = true;
    switch (w->type) {
    case W_KEY:
    case W_KEYPREFIX:
        e = cli_escape_path(w->type == W_KEY ? w->key : w->prefix);
        cn_buf_putf(b, "/v1/kv/%s", e);
        if (w->type == W_KEYPREFIX) {
            cn_buf_puts(b, "?recurse=");
            first = false;
        }
        break;
    case W_SERVICES:
        cn_buf_puts(b, "/v1/catalog/services");
        break;
    case W_NODES:
        cn_buf_puts(b, "/v1/catalog/nodes");
        break;
    case W_SERVICE:
        e = cli_escape_path(w->service);
        cn_buf_putf(b, "/v1/health/service/%s", e);
        for (size_t i = 0; i < w->tags.n; i++)
            query_escape(b, "tag", w->tags.items[i], &first);
        if (w->passing) query_escape(b, "passing", "1", &first);
        break;
    case W_CHECKS:
        if (w->service) {
            e = cli_escape_path(w->service);
            cn_buf_putf(b, "/v1/health/checks/%s", e);
        } else {
            e = cli_escape_path(w->state ? w->state : "any");
            cn_buf_putf(b, "/v1/health/state/%s", e);
        }
        break;
    case W_EVENT:
        cn_buf_puts(b, "/v1/event/list");
        if (w->name) query_escape(b, "name", w->name, &first);
        break;
    }
    free(e);
    if (index) {
        char v[32];
        snprintf(v, sizeof v, "%llu", (unsigned long long)index);
        query_escape(b, "index", v, &first);
        query_escape(b, "wait", WAIT, &first);
    }
}

/* The view's value from a response as JSON text (heap; NULL on an error
 * answer). Kept as the agent wrote it, so numbers beyond int64 (semaphore
 * flags) survive; a single key is the one element of the list. */
static char *result_of(const struct watch *w, const struct cli_resp *r)
{
    if (r->status == 404 && (w->type == W_KEY || w->type == W_KEYPREFIX)) return cn_strdup("null");
    if (r->status != 200) return NULL;
    struct cn_str body = cn_str_trim(cn_buf_str(&r->body));
    if (w->type == W_KEY && body.len >= 2 && body.p[0] == '[' && body.p[body.len - 1] == ']') {
        body = cn_str_trim(cn_str_sub(body, 1, body.len - 2));
        if (!body.len) return cn_strdup("null");
    }
    return cn_strndup(body.p ? body.p : "", body.len);
}

/* Events after the one whose index is last (all when none matches). */
static json_t *new_events(json_t *events, uint64_t last)
{
    size_t n = json_array_size(events), from = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *id = json_object_get(json_array_get(events, i), "ID");
        char buf[64];
        snprintf(buf, sizeof buf, "%s", json_is_string(id) ? json_string_value(id) : "");
        /* Consul's uuidToUint64 */
        if (strlen(buf) != 36) continue;
        char lo[17], hi[17];
        memcpy(lo, buf, 8);
        memcpy(lo + 8, buf + 9, 4);
        memcpy(lo + 12, buf + 14, 4);
        lo[16] = '\0';
        memcpy(hi, buf + 19, 4);
        memcpy(hi + 4, buf + 24, 12);
        hi[16] = '\0';
        if ((strtoull(lo, NULL, 16) ^ strtoull(hi, NULL, 16)) == last) from = i + 1;
    }
    json_t *out = json_array();
    for (size_t i = from; i < n; i++)
        json_array_append(out, json_array_get(events, i));
    return out;
}

static int run_handler(const struct watch *w, uint64_t index, const char *input)
{
    char idx[64], *sh_argv[4] = {"/bin/sh", "-c", NULL, NULL};
    char **args = w->handler;
    struct cn_buf joined;
    cn_buf_init(&joined, CN_BUF_UNLIMITED);
    if (w->shell) {
        for (int i = 0; i < w->nhandler; i++) {
            if (i) cn_buf_putc(&joined, ' ');
            cn_buf_puts(&joined, w->handler[i]);
        }
        sh_argv[2] = joined.data;
        args = sh_argv;
    }
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = cn_calloc(n + 2, sizeof *env);
    for (size_t i = 0; i < n; i++)
        env[i] = environ[i];
    snprintf(idx, sizeof idx, "CONSUL_INDEX=%llu", (unsigned long long)index);
    env[n] = idx;
    int fds[2];
    pid_t pid;
    int rc = -1, status;
    if (pipe(fds) == 0) {
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
        posix_spawn_file_actions_addclose(&fa, fds[1]);
        if (posix_spawnp(&pid, args[0], &fa, NULL, args, env) == 0) {
            close(fds[0]);
            size_t len = strlen(input), off = 0;
            signal(SIGPIPE, SIG_IGN);
            while (off < len) {
                ssize_t k = write(fds[1], input + off, len - off);
                if (k <= 0 && errno != EINTR) break;
                if (k > 0) off += (size_t)k;
            }
            close(fds[1]);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            if (rc) fprintf(stderr, "Error executing handler: exit status %d\n", rc);
        } else {
            fprintf(stderr, "Error executing handler: %s\n", strerror(errno));
            close(fds[0]);
            close(fds[1]);
        }
        posix_spawn_file_actions_destroy(&fa);
    }
    free(env);
    cn_buf_release(&joined);
    return rc;
}

/* Printed indented, handed to a handler compact (Consul's json.Encoder);
 * text jansson cannot hold (integers beyond int64) goes as the agent wrote it. */
static int deliver(const struct watch *w, uint64_t index, const char *text)
{
    struct cn_err err;
    json_t *v = cn_json_parse(text, strlen(text), &err);
    char *fmt = v ? json_dumps(v, (w->nhandler ? JSON_COMPACT : JSON_INDENT(4)) |
                                      JSON_PRESERVE_ORDER | JSON_ENCODE_ANY)
                  : NULL;
    json_decref(v);
    if (fmt) text = fmt;
    if (!w->nhandler) {
        printf("%s\n", text);
        fflush(stdout);
        free(fmt);
        return 0;
    }
    struct cn_buf in;
    cn_buf_init(&in, CN_BUF_UNLIMITED);
    cn_buf_puts(&in, text);
    free(fmt);
    cn_buf_putc(&in, '\n');
    int rc = run_handler(w, index, in.data);
    cn_buf_release(&in);
    return rc;
}

/* An event watch hands on only the events after the last one seen. */
static char *events_after(const char *text, uint64_t last)
{
    struct cn_err err;
    json_t *v = cn_json_parse(text, strlen(text), &err);
    if (!v) return cn_strdup(text);
    json_t *out = new_events(v, last);
    char *s = json_array_size(out) ? json_dumps(out, JSON_INDENT(4) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(out);
    json_decref(v);
    return s;
}

static void nap_ms(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (!stop && nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static int loop(struct cli_client *c, struct watch *w)
{
    uint64_t index = 0, fails = 0;
    char *last = NULL;
    bool have_last = false;
    double tokens = BUCKET_BURST;
    uint64_t refill_at = cn_now_ms();
    while (!stop) {
        uint64_t now = cn_now_ms();
        tokens += (double)(now - refill_at) * BUCKET_RATE / 1000.0;
        if (tokens > BUCKET_BURST) tokens = BUCKET_BURST;
        refill_at = now;
        if (tokens < 1.0) {
            nap_ms((uint64_t)((1.0 - tokens) * 1000.0 / BUCKET_RATE) + 1);
            continue;
        }
        tokens -= 1.0;
        struct cn_buf path;
        struct cli_resp r;
        cn_buf_init(&path, CN_BUF_UNLIMITED);
        path_of(w, index, &path);
        int hrc = cli_http(c, "GET", path.data, NULL, 0, &r, "Error querying Consul agent");
        cn_buf_release(&path);
        if (stop) {
            if (!hrc) cli_resp_release(&r);
            break;
        }
        char *text = hrc ? NULL : result_of(w, &r);
        if (!text) {
            if (!hrc)
                fprintf(stderr,
                        "Error querying Consul agent: Unexpected response code: %ld "
                        "(%.*s)\n",
                        r.status, (int)r.body.len, r.body.data ? r.body.data : "");
            if (!hrc) cli_resp_release(&r);
            fails++;
            nap_ms(CN_MIN(1000ull << CN_MIN(fails, 5ull), 20000ull));
            continue;
        }
        fails = 0;
        uint64_t got = r.index ? r.index : 1;
        cli_resp_release(&r);
        uint64_t old = index;
        bool moved = !have_last || got != old;
        index = got;
        if (w->type != W_EVENT && got < old) index = 0; /* went back: start over */
        bool same = have_last && last && !strcmp(text, last);
        if (moved && !same) {
            char *out = w->type == W_EVENT && have_last ? events_after(text, old) : cn_strdup(text);
            int rc = out ? deliver(w, got, out) : 0;
            free(out);
            if (rc && !w->agent_mode) {
                free(text);
                free(last);
                return 1;
            }
        }
        free(last);
        last = text;
        have_last = true;
    }
    free(last);
    return 0;
}

static int parse_type(const char *t, enum wtype *out)
{
    static const char *const names[] = {"key",     "keyprefix", "services", "nodes",
                                        "service", "checks",    "event"};
    for (size_t i = 0; i < CN_ARRAY_SIZE(names); i++)
        if (t && !strcmp(t, names[i])) {
            *out = (enum wtype)i;
            return 0;
        }
    return -1;
}

int cli_watch(int argc, char **argv)
{
    struct cli_http_opts o = {0};
    struct watch w = {.shell = true};
    const char *type = NULL;
    const struct cli_flag flags[] = {
        {"type", CF_STR, &type,
         "watch type: key, keyprefix, services, nodes, service, checks, event", NULL},
        {"key", CF_STR, &w.key, "key to watch (type key)", NULL},
        {"prefix", CF_STR, &w.prefix, "key prefix to watch (type keyprefix)", NULL},
        {"service", CF_STR, &w.service, "service to watch (types service, checks)", NULL},
        {"tag", CF_LIST, &w.tags, "service tag to filter on (repeatable)", NULL},
        {"passingonly", CF_BOOL, &w.passing, "only passing instances (type service)", NULL},
        {"state", CF_STR, &w.state, "check state to filter on (type checks)", NULL},
        {"node", CF_STR, &w.node, "node to watch (accepted)", NULL},
        {"name", CF_STR, &w.name, "event name to watch (type event)", NULL},
        {"stale", CF_BOOL, &o.stale, "allow stale reads", NULL},
        {"shell", CF_BOOL, &w.shell, "run the handler through the shell (default true)", NULL},
        CLI_HTTP_FLAGS(&o),
        {0}};
    int i = cli_parse_flags("watch", flags, argc, argv);
    if (i < 0) return i == -2 ? 0 : 1;
    if (!type) {
        fprintf(stderr, "Error: Watch type must be specified\n");
        return 1;
    }
    if (parse_type(type, &w.type)) {
        fprintf(stderr, "Error: Unsupported watch type: %s\n", type);
        return 1;
    }
    if ((w.type == W_KEY && !w.key) || (w.type == W_KEYPREFIX && !w.prefix) ||
        (w.type == W_SERVICE && !w.service)) {
        fprintf(stderr, "Error: Must specify a single %s to watch\n",
                w.type == W_KEY         ? "key"
                : w.type == W_KEYPREFIX ? "prefix"
                                        : "service");
        return 1;
    }
    if (w.type == W_CHECKS && w.service && w.state) {
        fprintf(stderr, "Error: Cannot specify service and state\n");
        return 1;
    }
    w.handler = argv + i;
    w.nhandler = argc - i;
    const char *parent = getenv("CAIRN_WATCH_PARENT");
    if (parent && *parent) {
        w.agent_mode = true;
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != (pid_t)atoi(parent)) return 0; /* the agent is already gone */
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct cli_client *c = cli_client_new(&o);
    if (!c) return 1;
    int rc = loop(c, &w);
    cli_client_free(c);
    return rc;
}
