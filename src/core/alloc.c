/* All library allocations funnel through here so tests can inject failures
 * (SQLite-style: fail the N-th allocation) and hosts can supply their own
 * allocator (kiln_set_allocator). */
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

/* The host's allocator; set before kiln allocates anything (documented),
 * so plain reads on the allocation paths are enough. */
static kiln_allocator host;
static bool have_host;

KILN_API kiln_status kiln_set_allocator(const kiln_allocator *a)
{
    if (!a) {
        have_host = false;
        memset(&host, 0, sizeof host);
        return KILN_OK;
    }
    if (!a->malloc_fn || !a->realloc_fn || !a->free_fn)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_set_allocator: malloc_fn, realloc_fn and free_fn are required");
    if (!a->aligned_alloc_fn != !a->aligned_free_fn)
        return kn_error(KILN_ERROR_ARGUMENT,
                        "kiln_set_allocator: give both aligned_alloc_fn and aligned_free_fn, or neither");
    host = *a;
    have_host = true;
    return KILN_OK;
}

void *kn_malloc(size_t size)
{
    if (should_fail())
        return NULL;
    if (have_host)
        return host.malloc_fn(host.user, size ? size : 1);
    return malloc(size ? size : 1);
}

void *kn_calloc(size_t count, size_t size)
{
    if (should_fail())
        return NULL;
    if (count == 0 || size == 0)
        count = size = 1;
    if (have_host) {
        size_t bytes;
        if (!kn_mul_size(count, size, &bytes))
            return NULL;
        void *p = host.malloc_fn(host.user, bytes);
        if (p)
            memset(p, 0, bytes);
        return p;
    }
    return calloc(count, size);
}

void *kn_realloc(void *ptr, size_t size)
{
    if (should_fail())
        return NULL;
    if (have_host)
        return host.realloc_fn(host.user, ptr, size ? size : 1);
    return realloc(ptr, size ? size : 1);
}

void kn_free(void *ptr)
{
    if (!ptr)
        return;
    if (have_host)
        host.free_fn(host.user, ptr);
    else
        free(ptr);
}

#define KN_ALLOC_ALIGN 64

/* Without a host aligned_alloc_fn: over-allocate and keep the block start
 * just below the aligned pointer. */
static void *host_aligned_alloc(size_t size)
{
    if (host.aligned_alloc_fn)
        return host.aligned_alloc_fn(host.user, KN_ALLOC_ALIGN, size);
    size_t total;
    if (!kn_add_size(size, KN_ALLOC_ALIGN + sizeof(void *), &total))
        return NULL;
    char *block = host.malloc_fn(host.user, total);
    if (!block)
        return NULL;
    uintptr_t start = (uintptr_t)(block + sizeof(void *));
    char *aligned = (char *)((start + KN_ALLOC_ALIGN - 1) & ~(uintptr_t)(KN_ALLOC_ALIGN - 1));
    memcpy(aligned - sizeof(void *), &block, sizeof block);
    return aligned;
}

void *kn_aligned_alloc(size_t size)
{
    if (should_fail())
        return NULL;
    if (have_host)
        return host_aligned_alloc(size ? size : KN_ALLOC_ALIGN);
    void *p = NULL;
    if (posix_memalign(&p, KN_ALLOC_ALIGN, size ? size : KN_ALLOC_ALIGN) != 0)
        return NULL;
    return p;
}

void kn_aligned_free(void *ptr)
{
    if (!ptr)
        return;
    if (!have_host) {
        free(ptr);
    } else if (host.aligned_free_fn) {
        host.aligned_free_fn(host.user, ptr);
    } else {
        void *block;
        memcpy(&block, (char *)ptr - sizeof(void *), sizeof block);
        host.free_fn(host.user, block);
    }
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
