#include "lib/cn_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *cn_strerror(int rc)
{
    switch (rc) {
    case 0:
        return "success";
#define CN__ERR_CASE(name, text)                                                       \
    case CN_E##name:                                                                   \
        return text;
        CN_ERRNO_MAP(CN__ERR_CASE)
#undef CN__ERR_CASE
    default:
        break;
    }
    if (rc < 0 && rc > -4096) return strerror(-rc);
    return "unknown error";
}

void cn_err_clear(struct cn_err *e)
{
    e->code = 0;
    e->msg[0] = '\0';
}

int cn_err_set(struct cn_err *e, int code, const char *fmt, ...)
{
    va_list ap;
    if (!e) return code;
    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

int cn_err_wrap(struct cn_err *e, const char *fmt, ...)
{
    char prefix[CN_ERR_MSG_MAX], old[CN_ERR_MSG_MAX];
    va_list ap;
    if (!e) return CN_EINVAL;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    if (old[0])
        snprintf(e->msg, sizeof e->msg, "%s: %s", prefix, old);
    else
        snprintf(e->msg, sizeof e->msg, "%s", prefix);
    return e->code;
}
