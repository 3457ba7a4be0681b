/*
 * cn_time.h - clocks and Go-style durations.
 *
 * Only I/O layers read clocks; pure cores are handed "now" by their caller.
 * Durations are int64 nanoseconds, parsed and printed exactly as Go's
 * time.ParseDuration and Duration.String do, because clients send "9.994s",
 * "120000ms" or "15.0s" and read "10s" or "1m30s" back.
 */
#ifndef CN_TIME_H
#define CN_TIME_H

#include <stddef.h>
#include <stdint.h>

#include "lib/cn_str.h"

#define CN_NS_PER_US 1000LL
#define CN_NS_PER_MS 1000000LL
#define CN_NS_PER_S 1000000000LL

/* Monotonic clock. */
uint64_t cn_now_ns(void);
uint64_t cn_now_ms(void);
/* Wall clock, Unix epoch. */
int64_t cn_wall_ns(void);

/* Go time.ParseDuration; CN_EINVAL on bad syntax or overflow. */
int cn_dur_parse(struct cn_str s, int64_t *ns);
/* Go Duration.String into out (at least 32 bytes); returns out. */
char *cn_dur_format(int64_t ns, char *out, size_t n);
#define CN_DUR_STR_MAX 40

/* RFC 3339 with nanoseconds and zone as Go's time.RFC3339Nano prints it. */
char *cn_time_format_rfc3339(int64_t wall_ns, char *out, size_t n);

#endif
