#include "lib/cn_log.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "lib/cn_buf.h"
#include "lib/cn_jw.h"

enum cn_log_level cn_log_threshold = CN_LOG_INFO;
static bool log_json;
static FILE *log_file;
static cn_log_hook_fn log_hook;
static void *log_hook_ctx;

static const char *const level_tag[] = {"[TRACE]", "[DEBUG]", "[INFO] ", "[WARN] ",
                                        "[ERROR]"};
static const char *const level_name[] = {"trace", "debug", "info", "warn", "error", "off"};

void cn_log_set_level(enum cn_log_level lvl)
{
    cn_log_threshold = lvl;
}

void cn_log_set_json(bool json)
{
    log_json = json;
}

void cn_log_set_file(FILE *f)
{
    log_file = f;
}

void cn_log_set_hook(cn_log_hook_fn fn, void *ctx)
{
    log_hook = fn;
    log_hook_ctx = ctx;
}

int cn_log_level_parse(const char *s)
{
    if (!strcasecmp(s, "trace")) return CN_LOG_TRACE;
    if (!strcasecmp(s, "debug")) return CN_LOG_DEBUG;
    if (!strcasecmp(s, "info")) return CN_LOG_INFO;
    if (!strcasecmp(s, "warn") || !strcasecmp(s, "warning")) return CN_LOG_WARN;
    if (!strcasecmp(s, "err") || !strcasecmp(s, "error")) return CN_LOG_ERROR;
    return -1;
}

const char *cn_log_level_name(enum cn_log_level lvl)
{
    return lvl <= CN_LOG_OFF ? level_name[lvl] : "unknown";
}

static void timestamp(char *out, size_t n)
{
    struct timeval tv;
    struct tm tm;
    char zone[8];
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    strftime(zone, sizeof zone, "%z", &tm);
    /* hclog writes Z for UTC and +hhmm otherwise. */
    if (!strcmp(zone, "+0000")) strcpy(zone, "Z");
    snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03ld%s", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(tv.tv_usec / 1000), zone);
}

void cn_log_write(enum cn_log_level lvl, const char *subsys, const char *fmt, ...)
{
    char ts[48], msg[2048];
    struct cn_buf line;
    va_list ap;
    if (lvl >= CN_LOG_OFF) return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    timestamp(ts, sizeof ts);
    cn_buf_init(&line, CN_BUF_UNLIMITED);
    if (log_json) {
        struct cn_jw w;
        cn_jw_init(&w, &line, false);
        cn_jw_obj_begin(&w);
        cn_jw_key_str(&w, "@level", level_name[lvl]);
        cn_jw_key_str(&w, "@message", msg);
        cn_jw_key_str(&w, "@module", subsys);
        cn_jw_key_str(&w, "@timestamp", ts);
        cn_jw_obj_end(&w);
    } else {
        cn_buf_putf(&line, "%s %s %s: %s", ts, level_tag[lvl], subsys, msg);
    }
    cn_buf_putc(&line, '\n');
    fwrite(line.data, 1, line.len, log_file ? log_file : stderr);
    fflush(log_file ? log_file : stderr);
    if (log_hook) log_hook(log_hook_ctx, lvl, line.data, line.len);
    cn_buf_release(&line);
}
