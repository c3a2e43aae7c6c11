/* The host's log callback. kiln never prints: load and plan report what they
 * did through kn_log, which formats only when someone listens. */
#include "runtime/runtime.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static kiln_log_fn log_fn;
static void *log_user;
/* -1 = off; read without the lock so a silent kn_log costs one load. */
static atomic_int log_max = -1;

KILN_API void kiln_set_log_callback(kiln_log_fn fn, void *user, kiln_log_level max_level)
{
    pthread_mutex_lock(&log_lock);
    log_fn = fn;
    log_user = user;
    atomic_store(&log_max, fn ? (int)max_level : -1);
    pthread_mutex_unlock(&log_lock);
}

bool kn_log_enabled(kiln_log_level level)
{
    return (int)level <= atomic_load_explicit(&log_max, memory_order_relaxed);
}

void kn_log(kiln_log_level level, const char *fmt, ...)
{
    if (!kn_log_enabled(level))
        return;
    pthread_mutex_lock(&log_lock);
    kiln_log_fn fn = log_fn;
    void *user = log_user;
    bool wanted = fn && (int)level <= atomic_load(&log_max);
    pthread_mutex_unlock(&log_lock);
    if (!wanted)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* Outside the lock: the callback may log from other threads or even
     * change the callback. */
    fn(user, level, msg);
}
