/*
 * cn_log.h - leveled logging in Consul's line shape.
 *
 *   2026-11-26T00:34:18.123Z [INFO]  agent: Started HTTP server: address=127.0.0.1:8500
 *
 * or, with JSON output, {"@level":"info","@message":...,"@module":...,"@timestamp":...}.
 * CN_LOG checks the level before formatting, so a disabled debug line costs a
 * compare. One process-wide logger: logging is configuration, not state worth
 * threading through every call. Pure cores do not log; they emit trace events.
 */
#ifndef CN_LOG_H
#define CN_LOG_H

#include <stdbool.h>
#include <stdio.h>

#include "lib/cn_common.h"

enum cn_log_level {
    CN_LOG_TRACE = 0,
    CN_LOG_DEBUG,
    CN_LOG_INFO,
    CN_LOG_WARN,
    CN_LOG_ERROR,
    CN_LOG_OFF,
};

extern enum cn_log_level cn_log_threshold;

/* A second sink (e.g. /v1/agent/monitor streams); gets the formatted line. */
typedef void (*cn_log_hook_fn)(void *ctx, enum cn_log_level lvl, const char *line, size_t len);

void cn_log_set_level(enum cn_log_level lvl);
void cn_log_set_json(bool json);
void cn_log_set_file(FILE *f);
void cn_log_set_hook(cn_log_hook_fn fn, void *ctx);
/* "trace"/"debug"/"info"/"warn"/"err"/"error" (case-insensitive); -1 if unknown. */
int cn_log_level_parse(const char *s);
const char *cn_log_level_name(enum cn_log_level lvl);

void cn_log_write(enum cn_log_level lvl, const char *subsys, const char *fmt, ...) CN_PRINTF(3, 4);

#define CN_LOG(lvl, subsys, ...)                                                       \
    do {                                                                               \
        if ((lvl) >= cn_log_threshold) cn_log_write((lvl), (subsys), __VA_ARGS__);     \
    } while (0)

#define CN_TRACE(subsys, ...) CN_LOG(CN_LOG_TRACE, subsys, __VA_ARGS__)
#define CN_DEBUG(subsys, ...) CN_LOG(CN_LOG_DEBUG, subsys, __VA_ARGS__)
#define CN_INFO(subsys, ...) CN_LOG(CN_LOG_INFO, subsys, __VA_ARGS__)
#define CN_WARN(subsys, ...) CN_LOG(CN_LOG_WARN, subsys, __VA_ARGS__)
#define CN_ERROR(subsys, ...) CN_LOG(CN_LOG_ERROR, subsys, __VA_ARGS__)

#endif
