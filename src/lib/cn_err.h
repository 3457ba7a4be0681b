/*
 * cn_err.h - the error codes every module returns.
 *
 * Functions return int: 0 on success, a negative CN_E* on failure (libuv's
 * convention). One X-macro table names them, so a code maps to its text in one
 * place; the HTTP layer maps them to Consul's status codes in one place too.
 * Where a user needs detail (config, JSON, rules), struct cn_err carries a
 * message that each layer may prefix (canonical/raft's wrapped messages).
 */
#ifndef CN_ERR_H
#define CN_ERR_H

#include <stddef.h>

#define CN_ERRNO_MAP(X)                                                                \
    X(NOMEM, "out of memory")                                                          \
    X(INVAL, "invalid argument")                                                       \
    X(NOENT, "not found")                                                              \
    X(EXIST, "already exists")                                                         \
    X(TOOBIG, "too large")                                                             \
    X(CORRUPT, "corrupt data")                                                         \
    X(IO, "input/output error")                                                        \
    X(AGAIN, "try again")                                                              \
    X(TIMEDOUT, "timed out")                                                           \
    X(PERM, "permission denied")                                                       \
    X(NOLEADER, "no cluster leader")                                                   \
    X(NOTLEADER, "not the leader")                                                     \
    X(CANCELED, "canceled")                                                            \
    X(CLOSED, "closed")                                                                \
    X(CONFLICT, "conflict")                                                            \
    X(UNSUPPORTED, "not supported")                                                    \
    X(PROTO, "protocol error")                                                         \
    X(SHUTDOWN, "shutting down")                                                       \
    X(NOPATH, "no path to datacenter")                                                 \
    X(NOSERVERS, "No known Consul servers")                                            \
    X(ACLNOTFOUND, "ACL not found")                                                    \
    X(ACLDISABLED, "ACL support disabled")

enum cn_errno {
    CN_OK = 0,
#define CN__ERR_ENUM(name, text) CN_E##name,
    CN__FIRST = -1000,
    CN_ERRNO_MAP(CN__ERR_ENUM) CN__LAST
#undef CN__ERR_ENUM
};

/* Text of a CN_E* code (or of a negative errno, via strerror). Never NULL. */
const char *cn_strerror(int rc);

/* A message for humans, built up as an error travels outward. */
#define CN_ERR_MSG_MAX 512
struct cn_err {
    int code;
    char msg[CN_ERR_MSG_MAX];
};

void cn_err_clear(struct cn_err *e);
/* Set code and message; returns code so callers can `return cn_err_set(...)`. */
int cn_err_set(struct cn_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefix the existing message: "prefix: old message". */
int cn_err_wrap(struct cn_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
