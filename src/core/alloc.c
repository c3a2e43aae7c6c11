/* All library allocations funnel through here so tests can inject failures
 * (SQLite-style: fail the N-th allocation) and hosts can later supply their
 * own allocator. */
#include "core/core.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static _Atomic uint64_t alloc_counter;
static _Atomic uint64_t alloc_fail_nth;

void kn_alloc_fail_at(uint64_t nth)
{
    atomic_store(&alloc_counter, 0);
    atomic_store(&alloc_fail_nth, nth);
}

uint64_t kn_alloc_count(void)
{
    return atomic_load(&alloc_counter);
}

static bool should_fail(void)
{
    uint64_t n = atomic_fetch_add(&alloc_counter, 1) + 1;
    uint64_t f = atomic_load(&alloc_fail_nth);
    return f != 0 && n == f;
}

void *kn_malloc(size_t size)
{
    if (should_fail())
        return NULL;
    return malloc(size ? size : 1);
}

void *kn_calloc(size_t count, size_t size)
{
    if (should_fail())
        return NULL;
    if (count == 0 || size == 0)
        return calloc(1, 1);
    return calloc(count, size);
}

void *kn_realloc(void *ptr, size_t size)
{
    if (should_fail())
        return NULL;
    return realloc(ptr, size ? size : 1);
}

void kn_free(void *ptr)
{
    free(ptr);
}

void *kn_aligned_alloc(size_t size)
{
    if (should_fail())
        return NULL;
    void *p = NULL;
    if (posix_memalign(&p, 64, size ? size : 64) != 0)
        return NULL;
    return p;
}

void kn_aligned_free(void *ptr)
{
    free(ptr);
}

char *kn_strndup(const char *s, size_t n)
{
    char *d = kn_malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

char *kn_strdup(const char *s)
{
    return kn_strndup(s, strlen(s));
}

bool kn_mul_size(size_t a, size_t b, size_t *out)
{
    size_t r;
    if (__builtin_mul_overflow(a, b, &r))
        return false;
    *out = r;
    return true;
}

bool kn_add_size(size_t a, size_t b, size_t *out)
{
    size_t r;
    if (__builtin_add_overflow(a, b, &r))
        return false;
    *out = r;
    return true;
}

bool kn_mul_i64(int64_t a, int64_t b, int64_t *out)
{
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r))
        return false;
    *out = r;
    return true;
}
