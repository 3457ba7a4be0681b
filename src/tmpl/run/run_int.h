/* run_int.h - the runner's insides (private to src/tmpl/run). */
#ifndef TMPL_RUN_INT_H
#define TMPL_RUN_INT_H

#include "lib/cn_curl.h"
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "lib/cn_buf.h"
#include "tmpl/run/run.h"
#include "tmpl/tmpl.h"

#define TR_BODY_MAX        (64u * 1024 * 1024) /* one agent answer */
#define TR_MIN_INTERVAL_MS 100                 /* between requests of one watch */
#define TR_DC_POLL_MS      15000               /* catalog.datacenters is not blocking */
#define TR_FILE_POLL_MS    2000
#define TR_FILE_MAX        (64u * 1024 * 1024)

struct runner;

/* One template of the configuration. */
struct rtmpl {
    struct runner *r;
    size_t idx;
    struct tr_template *cfg;
    char *display; /* "src" => "dest" */
    struct tmpl *t;
    struct tmpl_used used;
    bool executed, complete, rendered, force;
    bool dry_has;
    char *dry_last;
    size_t dry_len;
    /* quiescence */
    uv_timer_t qtimer;
    bool qtimer_init, qarmed, qdue;
    uint64_t qfirst_ms;
};

/* One HTTP blocking query (or file poll) per dependency. */
struct watch {
    struct runner *r;
    struct tmpl_dep *dep;
    struct watch *prev, *next;
    CURL *easy;
    char *url;
    struct cn_buf body;
    long status;
    uint64_t hdr_index, hdr_last_contact_ms;
    bool hdr_has_index;
    uint64_t index;
    bool stale; /* this request allows stale reads */
    bool in_flight, stopped, want_self;
    char *node_name; /* node with no name: the agent's, from /v1/agent/self */
    unsigned failures;
    uint64_t last_start_ms;
    uv_timer_t timer;
    /* file polls */
    int64_t file_size, file_mtime_ns;
    bool file_seen;
};

struct job {
    struct rtmpl *t;
    char **argv; /* borrowed from the template config, or the sh -c triple */
    size_t argc;
    bool shell;
};

struct runner {
    uv_loop_t *loop;
    struct tr_config cfg;
    struct tmpl_store *store;
    struct rtmpl *tmpls;
    size_t ntmpls;
    struct tmpl_env env;
    /* HTTP */
    CURLM *multi;
    uv_timer_t curl_timer;
    char *base, *unix_path;
    struct curl_slist *headers;
    struct watch *watches;
    size_t nwatches;
    void *socks; /* watch.c's uv_poll handles */
    /* passes and commands */
    uv_timer_t pass_timer;
    bool pass_pending, pass_after_cmds, all_rendered;
    struct job *jobs;
    size_t njobs, job_i;
    uv_process_t proc;
    uv_timer_t cmd_timer;
    bool cmd_running, cmd_timed_out, cmd_failed_fatal;
    char **child_env;
    /* signals */
    uv_signal_t sigs[6];
    int reload_sig, kill_sig;
    /* ending */
    bool stopping, reload;
    int exit_code;
    uint64_t rand;
};

/* watch.c */
int http_init(struct runner *r, struct cn_err *err);
void http_close(struct runner *r);
void watch_start(struct runner *r, struct tmpl_dep *d);
void watch_stop(struct watch *w);

/* runner.c */
void runner_schedule_pass(struct runner *r);
void runner_fatal(struct runner *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
uint64_t runner_now_ms(struct runner *r);
uint32_t runner_rand(struct runner *r, uint32_t below);

/* write.c */
/* Write contents atomically when they differ from the file. Returns 1 when
 * written, 0 when identical, <0 with err set. */
int render_file(const struct tr_template *t, const char *contents, size_t len, struct cn_err *err);
int commands_start(struct runner *r);
char **child_env_build(const struct tr_config *c);
void child_env_free(char **env);

#endif
