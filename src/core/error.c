/* Thread-local last-error message: the library never prints, it returns a
 * status and leaves one line here for the caller. */
#include "core/core.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define KN_ERROR_LEN 1024

static _Thread_local char error_buf[KN_ERROR_LEN];

kiln_status kn_error(kiln_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_buf, sizeof error_buf, fmt, ap);
    va_end(ap);
    /* One line, always: the message may embed names taken from the model. */
    for (char *p = error_buf; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    return code;
}

kiln_status kn_error_prefix(kiln_status code, const char *fmt, ...)
{
    char prefix[KN_ERROR_LEN];
    char old[KN_ERROR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, error_buf, sizeof old);
    return kn_error(code, "%s: %s", prefix, old);
}

void kn_error_clear(void)
{
    error_buf[0] = 0;
}

const char *kn_error_message(void)
{
    return error_buf;
}

KILN_API const char *kiln_last_error(void)
{
    return error_buf;
}

KILN_API const char *kiln_status_string(kiln_status status)
{
    switch (status) {
    case KILN_OK: return "ok";
    case KILN_ERROR_ARGUMENT: return "invalid argument";
    case KILN_ERROR_IO: return "i/o error";
    case KILN_ERROR_PARSE: return "parse error";
    case KILN_ERROR_MODEL: return "invalid model";
    case KILN_ERROR_UNSUPPORTED: return "unsupported";
    case KILN_ERROR_SHAPE: return "shape mismatch";
    case KILN_ERROR_DTYPE: return "dtype mismatch";
    case KILN_ERROR_NOMEM: return "out of memory";
    case KILN_ERROR_LIMIT: return "limit exceeded";
    case KILN_ERROR_INTERRUPTED: return "interrupted";
    case KILN_ERROR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

KILN_API const char *kiln_version(void)
{
    return KILN_VERSION_STRING;
}

KILN_API int kiln_api_version(void)
{
    return KILN_API_VERSION;
}
