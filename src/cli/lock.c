/*
 * lock.c - `cairn lock PREFIX CHILD...` (Consul's command/lock over
 * api/lock.go and api/semaphore.go): run a child while holding a lock (or
 * one of -n semaphore slots) in the KV store.
 *
 * A session (TTL 15s, renewed every TTL/2 by its own thread) holds the lock
 * key PREFIX/.lock (flags 0x2ddccbc058a50c18) through ?acquire; with -n > 1
 * each contender holds PREFIX/<session> and the slot holders are listed in
 * PREFIX/.lock as {"Limit": n, "Holders": {"<session>": true}}, updated by
 * CAS (flags 0xe0f69a2baa414de0). Waiting is a blocking GET on the key; a
 * refused acquire on a free key is the lock-delay, retried after 5s. Once
 * held, a monitor thread watches the key with consistent blocking reads;
 * if the lock is lost the child gets SIGTERM, then SIGKILL after 5s. On
 * exit (child done, interrupt) the lock is released, the session destroyed
 * and the key removed if no one else uses it.
 *
 * Threads talk to the main one through a pipe (one byte per event); each
 * has its own HTTP client.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/cn_base64.h"
#include "lib/cn_common.h"
#include "lib/cn_json.h"
#include "lib/cn_time.h"

int cli_lock(int argc, char **argv);

extern char **environ;

#define LOCK_FLAGS       0x2ddccbc058a50c18ULL /* api.LockFlagValue */
#define SEM_FLAGS        0xe0f69a2baa414de0ULL /* api.SemaphoreFlagValue */
#define SESSION_TTL      "15s"
#define RENEW_MS         7500  /* TTL / 2 */
#define LOCK_WAIT        "15s" /* api.DefaultLockWaitTime */
#define LOCK_RETRY_MS    5000  /* api.DefaultLockRetryTime (lock-delay) */
#define MONITOR_RETRY_MS 1000
#define KILL_GRACE_MS    5000

enum { EV_ACQUIRED = 'A', EV_ERROR = 'E', EV_LOST = 'L', EV_SIGNAL = 'S', EV_CHILD = 'C' };

struct lock {
    struct cli_http_opts *o;
    const char *prefix;
    char *key;       /* PREFIX/.lock */
    char *contender; /* PREFIX/<session> (semaphore) */
    char *name;
    int limit;
    bool verbose;
    int monitor_retry;
    char session[64];
    char error[512];
    atomic_bool done; /* threads: stop at the next chance */
};

static int evpipe[2] = {-1, -1};

static void post(char ev)
{
    ssize_t rc;
    do
        rc = write(evpipe[1], &ev, 1);
    while (rc < 0 && errno == EINTR);
}

static void on_signal(int sig)
{
    int saved = errno;
    post(sig == SIGCHLD ? EV_CHILD : EV_SIGNAL);
    errno = saved;
}

static void say(const struct lock *l, const char *fmt, ...) CN_PRINTF(2, 3);
static void say(const struct lock *l, const char *fmt, ...)
{
    va_list ap;
    if (!l->verbose) return;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void nap(const struct lock *l, uint64_t ms)
{
    uint64_t end = cn_now_ms() + ms;
    while (!l->done && cn_now_ms() < end) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* ---- HTTP helpers ------------------------------------------------------ */

/* Semaphore flags exceed int64, which jansson's integers cannot hold. */
static json_t *parse(const char *p, size_t n)
{
    json_error_t e;
    return json_loadb(p ? p : "", n, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &e);
}

/* GET path: 200 -> JSON (*out), 404 -> NULL with rc 0; else -1 and a
 * message in l->error. *index gets X-Consul-Index. */
static int get_json(struct lock *l, struct cli_client *c, const char *path, json_t **out,
                    uint64_t *index)
{
    struct cli_resp r;
    *out = NULL;
    if (cli_http(c, "GET", path, NULL, 0, &r, "Error querying the lock key")) {
        snprintf(l->error, sizeof l->error, "failed to read lock: agent unreachable");
        return -1;
    }
    int rc = 0;
    if (index) *index = r.index;
    if (r.status == 200) {
        *out = parse(r.body.data, r.body.len);
        if (!*out) {
            snprintf(l->error, sizeof l->error, "bad JSON from the agent");
            rc = -1;
        }
    } else if (r.status != 404) {
        snprintf(l->error, sizeof l->error, "Unexpected response code: %ld (%.*s)", r.status,
                 (int)r.body.len, r.body.data ? r.body.data : "");
        rc = -1;
    }
    cli_resp_release(&r);
    return rc;
}

/* PUT: 1 for a `true` answer, 0 for `false`, -1 on an error. */
static int put_bool(struct lock *l, struct cli_client *c, const char *path, const char *body)
{
    struct cli_resp r;
    if (cli_http(c, "PUT", path, body, body ? strlen(body) : 0, &r, "Error writing the lock key")) {
        snprintf(l->error, sizeof l->error, "agent unreachable");
        return -1;
    }
    int rc = -1;
    if (r.status == 200)
        rc = r.body.len >= 4 && !memcmp(cn_str_trim(cn_buf_str(&r.body)).p, "true", 4);
    else
        snprintf(l->error, sizeof l->error, "Unexpected response code: %ld (%.*s)", r.status,
                 (int)r.body.len, r.body.data ? r.body.data : "");
    cli_resp_release(&r);
    return rc;
}

static void http_simple(struct cli_client *c, const char *method, const char *path)
{
    struct cli_resp r;
    if (cli_http(c, method, path, NULL, 0, &r, "Error cleaning up") == 0) cli_resp_release(&r);
}

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : "";
}

/* Numbers are read as doubles (see parse): exact below 2^53, which covers
 * indexes; flags are only compared with doubles of the same constants. */
static uint64_t jnum(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? (uint64_t)json_number_value(v) : 0;
}

static bool jflags(json_t *o, uint64_t flags)
{
    json_t *v = json_object_get(o, "Flags");
    return json_is_number(v) && json_number_value(v) == (double)flags;
}

static char *kv_path(const char *key, const char *fmt, ...) CN_PRINTF(2, 3);
static char *kv_path(const char *key, const char *fmt, ...)
{
    struct cn_buf b;
    va_list ap;
    char *e = cli_escape_path(key), *q;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_buf_putf(&b, "/v1/kv/%s", e);
    free(e);
    va_start(ap, fmt);
    if (vasprintf(&q, fmt, ap) < 0) q = NULL;
    va_end(ap);
    if (q) cn_buf_puts(&b, q);
    free(q);
    size_t n;
    return cn_buf_take(&b, &n);
}

/* ---- one holder: PREFIX/.lock ------------------------------------------- */

static int acquire_one(struct lock *l, struct cli_client *c, uint64_t *index)
{
    uint64_t idx = 0;
    while (!l->done) {
        json_t *v;
        char *p = idx ? kv_path(l->key, "?index=%" PRIu64 "&wait=" LOCK_WAIT, idx)
                      : kv_path(l->key, "%s", "");
        int rc = get_json(l, c, p, &v, &idx);
        free(p);
        if (rc) return -1;
        json_t *pair = json_array_get(v, 0);
        if (pair && !jflags(pair, LOCK_FLAGS)) {
            json_decref(v);
            snprintf(l->error, sizeof l->error, "Existing key does not match lock use");
            return -1;
        }
        const char *holder = pair ? jstr(pair, "Session") : "";
        bool held = *holder && strcmp(holder, l->session);
        json_decref(v);
        if (held) continue; /* wait for a change */
        say(l, "Attempting lock acquisition");
        p = kv_path(l->key, "?acquire=%s&flags=%llu", l->session, (unsigned long long)LOCK_FLAGS);
        rc = put_bool(l, c, p, "");
        free(p);
        if (rc < 0) return -1;
        if (rc == 1) {
            *index = idx;
            return 0;
        }
        /* Refused on a free key: the lock-delay after an invalidation. */
        say(l, "Lock acquisition refused (held or in lock-delay), retrying");
        json_t *again;
        p = kv_path(l->key, "%s", "");
        rc = get_json(l, c, p, &again, &idx);
        free(p);
        json_t *ap = json_array_get(again, 0);
        bool now_held = ap && *jstr(ap, "Session");
        json_decref(again);
        if (rc) return -1;
        if (!now_held) nap(l, LOCK_RETRY_MS), idx = 0;
    }
    return -1;
}

static bool still_held_one(struct lock *l, json_t *v)
{
    json_t *pair = json_array_get(v, 0);
    return pair && !strcmp(jstr(pair, "Session"), l->session);
}

/* ---- semaphore: PREFIX/<session> + PREFIX/.lock ------------------------- */

static json_t *find_pair(json_t *pairs, const char *key)
{
    size_t i;
    json_t *p;
    json_array_foreach(pairs, i, p) if (!strcmp(jstr(p, "Key"), key)) return p;
    return NULL;
}

/* The .lock document (a new one when absent); NULL on a conflict. */
static json_t *sem_doc(struct lock *l, json_t *lock_pair)
{
    if (!lock_pair) {
        json_t *d = json_pack("{s:i,s:{}}", "Limit", l->limit, "Holders");
        return d;
    }
    if (!jflags(lock_pair, SEM_FLAGS)) {
        snprintf(l->error, sizeof l->error, "Existing key does not match semaphore use");
        return NULL;
    }
    const char *b64 = jstr(lock_pair, "Value");
    size_t n = strlen(b64);
    char *raw = cn_malloc(n + 4);
    long k = cn_base64_decode(b64, n, raw);
    struct cn_err err;
    json_t *d = k >= 0 ? cn_json_parse(raw, (size_t)k, &err) : NULL;
    free(raw);
    if (!json_is_object(d)) {
        json_decref(d);
        snprintf(l->error, sizeof l->error, "Failed to decode semaphore lock");
        return NULL;
    }
    if ((int)jnum(d, "Limit") != l->limit) {
        snprintf(l->error, sizeof l->error, "semaphore limit conflict (lock: %d, local: %d)",
                 (int)jnum(d, "Limit"), l->limit);
        json_decref(d);
        return NULL;
    }
    if (!json_is_object(json_object_get(d, "Holders")))
        json_object_set_new(d, "Holders", json_object());
    return d;
}

/* Drop holders whose contender entry no longer carries their session. */
static void sem_prune(json_t *doc, json_t *pairs)
{
    json_t *holders = json_object_get(doc, "Holders");
    json_t *dead = json_array(), *v, *p;
    const char *sid;
    size_t i;
    json_object_foreach(holders, sid, v)
    {
        bool alive = false;
        json_array_foreach(pairs, i, p) alive |= !strcmp(jstr(p, "Session"), sid);
        if (!alive) json_array_append_new(dead, json_string(sid));
    }
    json_array_foreach(dead, i, p) json_object_del(holders, json_string_value(p));
    json_decref(dead);
}

static char *prefix_dir(const struct lock *l)
{
    size_t n = strlen(l->prefix);
    char *d = cn_malloc(n + 2);
    memcpy(d, l->prefix, n);
    d[n] = '/';
    d[n + 1] = '\0';
    return d;
}

static int sem_write(struct lock *l, struct cli_client *c, json_t *doc, uint64_t cas)
{
    char *body = json_dumps(doc, JSON_COMPACT);
    char *p = kv_path(l->key, "?cas=%" PRIu64 "&flags=%llu", cas, (unsigned long long)SEM_FLAGS);
    int rc = put_bool(l, c, p, body);
    free(p);
    free(body);
    return rc;
}

static int acquire_sem(struct lock *l, struct cli_client *c, uint64_t *index)
{
    char *p =
        kv_path(l->contender, "?acquire=%s&flags=%llu", l->session, (unsigned long long)SEM_FLAGS);
    int rc = put_bool(l, c, p, "");
    free(p);
    if (rc != 1) {
        if (rc == 0) snprintf(l->error, sizeof l->error, "failed to make contender entry");
        return -1;
    }
    char *dir = prefix_dir(l);
    uint64_t idx = 0;
    while (!l->done) {
        json_t *pairs;
        p = idx ? kv_path(dir, "?recurse=&index=%" PRIu64 "&wait=" LOCK_WAIT, idx)
                : kv_path(dir, "?recurse=");
        rc = get_json(l, c, p, &pairs, &idx);
        free(p);
        if (rc) break;
        json_t *lp = find_pair(pairs, l->key);
        json_t *doc = sem_doc(l, lp);
        if (!doc) {
            json_decref(pairs);
            rc = -1;
            break;
        }
        sem_prune(doc, pairs);
        json_t *holders = json_object_get(doc, "Holders");
        if ((int)json_object_size(holders) >= l->limit) {
            json_decref(doc);
            json_decref(pairs);
            continue;
        }
        say(l, "Attempting semaphore slot acquisition");
        json_object_set_new(holders, l->session, json_true());
        rc = sem_write(l, c, doc, lp ? jnum(lp, "ModifyIndex") : 0);
        json_decref(doc);
        json_decref(pairs);
        if (rc < 0) break;
        if (rc == 1) {
            *index = 0;
            free(dir);
            return 0;
        }
        idx = 0; /* lost the CAS race: look again at once */
    }
    free(dir);
    return -1;
}

static bool still_held_sem(struct lock *l, json_t *pairs)
{
    json_t *lp = find_pair(pairs, l->key);
    if (!lp) return false;
    json_t *doc = sem_doc(l, lp);
    bool held = doc && json_object_get(json_object_get(doc, "Holders"), l->session);
    json_decref(doc);
    return held;
}

static void release_sem(struct lock *l, struct cli_client *c)
{
    for (int tries = 0; tries < 10; tries++) {
        json_t *v;
        uint64_t idx;
        char *p = kv_path(l->key, "%s", "");
        int rc = get_json(l, c, p, &v, &idx);
        free(p);
        json_t *lp = json_array_get(v, 0);
        json_t *doc = rc == 0 && lp ? sem_doc(l, lp) : NULL;
        if (!doc) {
            json_decref(v);
            break;
        }
        json_object_del(json_object_get(doc, "Holders"), l->session);
        rc = sem_write(l, c, doc, jnum(lp, "ModifyIndex"));
        json_decref(doc);
        json_decref(v);
        if (rc != 0) break;
    }
    char *p = kv_path(l->contender, "%s", "");
    http_simple(c, "DELETE", p);
    free(p);
}

/* The .lock entry goes when no holder and no contender is left. */
static void cleanup_sem(struct lock *l, struct cli_client *c)
{
    char *dir = prefix_dir(l);
    char *p = kv_path(dir, "?recurse=");
    json_t *pairs;
    uint64_t idx;
    int rc = get_json(l, c, p, &pairs, &idx);
    free(p);
    free(dir);
    json_t *lp = rc == 0 ? find_pair(pairs, l->key) : NULL;
    json_t *doc = lp ? sem_doc(l, lp) : NULL;
    if (doc && json_array_size(pairs) == 1 &&
        json_object_size(json_object_get(doc, "Holders")) == 0) {
        p = kv_path(l->key, "?cas=%" PRIu64, jnum(lp, "ModifyIndex"));
        http_simple(c, "DELETE", p);
        free(p);
    }
    json_decref(doc);
    json_decref(pairs);
}

/* ---- threads -------------------------------------------------------------- */

struct worker {
    struct lock *l;
    struct cli_client *c;
};

/* Acquire, then watch the key (consistent blocking reads) until the lock
 * is lost or the main thread is done with it. */
static void *acquire_main(void *arg)
{
    struct worker *w = arg;
    struct lock *l = w->l;
    uint64_t idx = 0;
    int rc = l->limit > 1 ? acquire_sem(l, w->c, &idx) : acquire_one(l, w->c, &idx);
    if (l->done) return NULL;
    if (rc) {
        post(EV_ERROR);
        return NULL;
    }
    post(EV_ACQUIRED);
    int retries = l->monitor_retry;
    char *dir = prefix_dir(l);
    while (!l->done) {
        json_t *v;
        const char *target = l->limit > 1 ? dir : l->key;
        char *p = kv_path(target, "?consistent=%s&index=%" PRIu64 "&wait=" LOCK_WAIT,
                          l->limit > 1 ? "&recurse=" : "", idx);
        rc = get_json(l, w->c, p, &v, &idx);
        free(p);
        if (l->done) {
            json_decref(v);
            break;
        }
        if (rc) {
            if (retries-- > 0) {
                idx = 0;
                nap(l, MONITOR_RETRY_MS);
                continue;
            }
            post(EV_LOST);
            break;
        }
        bool held = l->limit > 1 ? still_held_sem(l, v) : still_held_one(l, v);
        json_decref(v);
        if (!held) {
            post(EV_LOST);
            break;
        }
    }
    free(dir);
    return NULL;
}

static void *renew_main(void *arg)
{
    struct worker *w = arg;
    struct lock *l = w->l;
    char path[128];
    snprintf(path, sizeof path, "/v1/session/renew/%s", l->session);
    while (!l->done) {
        nap(l, RENEW_MS);
        if (l->done) break;
        struct cli_resp r;
        if (cli_http(w->c, "PUT", path, NULL, 0, &r, "Error renewing the session")) continue;
        long status = r.status;
        cli_resp_release(&r);
        if (status == 404) { /* the session is gone: so is the lock */
            post(EV_LOST);
            break;
        }
    }
    return NULL;
}

/* ---- the child ------------------------------------------------------------ */

static pid_t spawn_child(char **args, int nargs, bool shell, bool pass_stdin)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = cn_calloc(n + 2, sizeof *env);
    for (size_t i = 0; i < n; i++)
        env[i] = environ[i];
    env[n] = "CONSUL_LOCK_HELD=true";
    struct cn_buf joined;
    cn_buf_init(&joined, CN_BUF_UNLIMITED);
    char *sh_argv[4] = {"/bin/sh", "-c", NULL, NULL};
    char **argv = cn_calloc((size_t)nargs + 1, sizeof *argv);
    for (int i = 0; i < nargs; i++)
        argv[i] = args[i];
    if (shell) {
        for (int i = 0; i < nargs; i++) {
            if (i) cn_buf_putc(&joined, ' ');
            cn_buf_puts(&joined, args[i]);
        }
        sh_argv[2] = joined.data;
    }
    posix_spawnattr_t at;
    posix_spawn_file_actions_t fa;
    sigset_t def, none;
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_init(&fa);
    sigemptyset(&none);
    sigemptyset(&def);
    sigaddset(&def, SIGINT);
    sigaddset(&def, SIGTERM);
    sigaddset(&def, SIGHUP);
    sigaddset(&def, SIGCHLD);
    sigaddset(&def, SIGPIPE);
    posix_spawnattr_setsigdefault(&at, &def);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETPGROUP);
    if (!pass_stdin) posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    int rc =
        posix_spawnp(&pid, shell ? sh_argv[0] : argv[0], &fa, &at, shell ? sh_argv : argv, env);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    cn_buf_release(&joined);
    free(argv);
    free(env);
    if (rc) {
        fprintf(stderr, "Error! Failed to start child: %s\n", strerror(rc));
        return -1;
    }
    return pid;
}

/* Next event byte, or 0 after timeout_ms (-1: none). */
static char next_event(int timeout_ms)
{
    struct pollfd p = {.fd = evpipe[0], .events = POLLIN};
    char ev = 0;
    int rc = poll(&p, 1, timeout_ms);
    if (rc > 0 && read(evpipe[0], &ev, 1) == 1) return ev;
    return 0;
}

static bool reap(pid_t pid, int *status)
{
    pid_t rc;
    do
        rc = waitpid(pid, status, WNOHANG);
    while (rc < 0 && errno == EINTR);
    return rc == pid;
}

/* SIGTERM to the child's process group, SIGKILL after the grace period. */
static void kill_child(pid_t pid, int *status)
{
    if (reap(pid, status)) return;
    kill(-pid, SIGTERM);
    uint64_t deadline = cn_now_ms() + KILL_GRACE_MS;
    while (!reap(pid, status)) {
        uint64_t now = cn_now_ms();
        if (now >= deadline) {
            kill(-pid, SIGKILL);
            while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
            }
            return;
        }
        next_event((int)CN_MIN(deadline - now, 200u));
    }
}

/* ---- the command ---------------------------------------------------------- */

static int create_session(struct lock *l, struct cli_client *c)
{
    json_t *body = json_pack("{s:s,s:s}", "Name", l->name, "TTL", SESSION_TTL);
    char *text = json_dumps(body, JSON_COMPACT);
    struct cli_resp r;
    struct cn_err err;
    int rc = -1;
    json_decref(body);
    if (cli_http(c, "PUT", "/v1/session/create", text, strlen(text), &r,
                 "Error! Lock acquisition failed: failed to create session") == 0) {
        json_t *v = r.status == 200 ? cn_json_parse(r.body.data, r.body.len, &err) : NULL;
        const char *id = jstr(v, "ID");
        if (*id) {
            snprintf(l->session, sizeof l->session, "%s", id);
            rc = 0;
        } else {
            fprintf(stderr,
                    "Error! Lock acquisition failed: failed to create session: "
                    "Unexpected response code: %ld (%.*s)\n",
                    r.status, (int)r.body.len, r.body.data ? r.body.data : "");
        }
        json_decref(v);
        cli_resp_release(&r);
    }
    free(text);
    return rc;
}

static void release(struct lock *l, struct cli_client *c)
{
    l->done = true;
    if (l->limit > 1) {
        release_sem(l, c);
    } else {
        char *p =
            kv_path(l->key, "?release=%s&flags=%llu", l->session, (unsigned long long)LOCK_FLAGS);
        put_bool(l, c, p, "");
        free(p);
    }
    char path[128];
    snprintf(path, sizeof path, "/v1/session/destroy/%s", l->session);
    http_simple(c, "PUT", path);
    if (l->limit > 1) {
        cleanup_sem(l, c);
    } else { /* remove the key unless someone else holds it */
        json_t *v;
        uint64_t idx;
        char *p = kv_path(l->key, "%s", "");
        int rc = get_json(l, c, p, &v, &idx);
        free(p);
        json_t *pair = json_array_get(v, 0);
        if (rc == 0 && pair && !*jstr(pair, "Session")) {
            p = kv_path(l->key, "?cas=%" PRIu64, jnum(pair, "ModifyIndex"));
            http_simple(c, "DELETE", p);
            free(p);
        }
        json_decref(v);
    }
}

static void destroy_session(struct lock *l, struct cli_client *c)
{
    char path[128];
    l->done = true;
    if (l->limit > 1) {
        char *p = kv_path(l->contender, "%s", "");
        http_simple(c, "DELETE", p);
        free(p);
    }
    snprintf(path, sizeof path, "/v1/session/destroy/%s", l->session);
    http_simple(c, "PUT", path);
}

static void install_signals(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);
}

static int hold(struct lock *l, struct cli_client *c, char **child, int nchild, bool shell,
                bool pass_stdin, bool child_exit_code)
{
    say(l, "Lock acquired, starting handler");
    pid_t pid = spawn_child(child, nchild, shell, pass_stdin);
    int status = 0;
    if (pid < 0) {
        release(l, c);
        return 1;
    }
    for (;;) {
        char ev = next_event(500);
        if (reap(pid, &status)) break;
        if (ev == EV_LOST) {
            fprintf(stderr, "Lock lost, killing child\n");
            kill_child(pid, &status);
            break;
        }
        if (ev == EV_SIGNAL) {
            fprintf(stderr, "Shutdown triggered, killing child\n");
            kill_child(pid, &status);
            break;
        }
    }
    say(l, "Child terminated, releasing lock");
    release(l, c);
    bool failed = !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    if (failed && child_exit_code) return 2;
    return 0;
}

static char *default_name(const char *prefix, char **child, int nchild)
{
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_buf_puts(&b, "Consul lock for '");
    for (int i = 0; i < nchild; i++) {
        if (i) cn_buf_putc(&b, ' ');
        cn_buf_puts(&b, child[i]);
    }
    cn_buf_putf(&b, "' at '%s'", prefix);
    size_t n;
    return cn_buf_take(&b, &n);
}

int cli_lock(int argc, char **argv)
{
    /* Reachable for the process's life: detached threads may still read it
     * while the process exits. */
    static struct lock *live;
    static struct cli_http_opts o;
    struct lock *lp = live = CN_NEW(struct lock);
    struct lock l_init = {.o = &o, .limit = 1, .monitor_retry = 3};
    *lp = l_init;
#define l (*lp)
    int64_t limit = 1, retry = 3;
    const char *name = NULL, *timeout = NULL, *try_ = NULL;
    bool shell = true, pass_stdin = false, child_exit_code = false;
    const struct cli_flag flags[] = {
        {"n", CF_INT, &limit, "number of lock holders (semaphore when > 1)", NULL},
        {"name", CF_STR, &name, "name of the lock session", NULL},
        {"shell", CF_BOOL, &shell, "run the child through the shell (default true)", NULL},
        {"pass-stdin", CF_BOOL, &pass_stdin, "pass stdin to the child", NULL},
        {"timeout", CF_STR, &timeout, "maximum time to wait for the lock (0 = forever)", NULL},
        {"try", CF_STR, &try_, "legacy: same as -timeout", NULL},
        {"monitor-retry", CF_INT, &retry, "retries on errors while monitoring the lock", NULL},
        {"child-exit-code", CF_BOOL, &child_exit_code, "exit 2 if the child fails", NULL},
        {"verbose", CF_BOOL, &l.verbose, "print what happens", NULL},
        CLI_HTTP_FLAGS(&o),
        {0}};
    int i = cli_parse_flags("lock", flags, argc, argv);
    if (i < 0) return i == -2 ? 0 : 1;
    if (argc - i < 2) {
        fprintf(stderr, "Error! Missing prefix and/or command\n");
        return 1;
    }
    if (limit < 1) {
        fprintf(stderr, "Lock holder limit must be positive\n");
        return 1;
    }
    int64_t wait_ns = 0;
    const char *tw = timeout ? timeout : try_;
    if (tw && (cn_dur_parse(cn_str_from(tw), &wait_ns) || wait_ns < 0)) {
        fprintf(stderr, "Error! Invalid timeout \"%s\"\n", tw);
        return 1;
    }
    l.limit = (int)limit;
    l.monitor_retry = (int)retry;
    const char *prefix = argv[i];
    while (*prefix == '/')
        prefix++;
    l.prefix = prefix;
    char **child = argv + i + 1;
    int nchild = argc - i - 1;
    l.name = name ? cn_strdup(name) : default_name(prefix, child, nchild);
    l.key = cn_malloc(strlen(prefix) + 8);
    sprintf(l.key, "%s/.lock", prefix);
    if (pipe(evpipe)) return 1;
    fcntl(evpipe[0], F_SETFD, FD_CLOEXEC);
    fcntl(evpipe[1], F_SETFD, FD_CLOEXEC);
    install_signals();
    struct cli_client *c = cli_client_new(&o), *ca = cli_client_new(&o), *cr = cli_client_new(&o);
    if (!c || !ca || !cr) return 1;
    say(&l, "Setting up lock at path: %s", l.key);
    if (create_session(&l, c)) {
        cli_client_free(c);
        return 1;
    }
    if (l.limit > 1) {
        l.contender = cn_malloc(strlen(prefix) + strlen(l.session) + 2);
        sprintf(l.contender, "%s/%s", prefix, l.session);
    }
    static struct worker wa, wr;
    wa = (struct worker){&l, ca};
    wr = (struct worker){&l, cr};
    pthread_t ta, tr;
    pthread_create(&tr, NULL, renew_main, &wr);
    pthread_create(&ta, NULL, acquire_main, &wa);
    pthread_detach(tr);
    pthread_detach(ta);
    uint64_t deadline = wait_ns > 0 ? cn_now_ms() + (uint64_t)(wait_ns / 1000000) : 0;
    for (;;) {
        int ms = -1;
        if (deadline) {
            uint64_t now = cn_now_ms();
            ms = now >= deadline ? 0 : (int)(deadline - now);
        }
        char ev = next_event(ms);
        if (ev == EV_ACQUIRED) break;
        if (ev == EV_CHILD) continue;
        if (ev == EV_ERROR) {
            fprintf(stderr, "Lock acquisition failed: %s\n", l.error);
            destroy_session(&l, c);
            cli_client_free(c);
            return 1;
        }
        if (ev == EV_SIGNAL || ev == EV_LOST || (ev == 0 && deadline)) {
            fprintf(stderr, "Shutdown triggered or timeout during lock acquisition\n");
            destroy_session(&l, c);
            cli_client_free(c);
            return 1;
        }
    }
    /* Held: nothing else may talk on the main client's connection now but
     * this thread. */
    int rc = hold(&l, c, child, nchild, shell, pass_stdin, child_exit_code);
    cli_client_free(c);
    return rc;
#undef l
}
