/* AVX-512 forms of the blocked pools and channel scale (nchwc_pool.c has
 * the portable ones, with the same operations in the same order): every
 * window tap is one 16-channel vector load. _mm512_max_ps(v, acc) is
 * "v > acc ? v : acc", so NaN taps never replace the running maximum;
 * lanes that end at -inf are settled by kn_nchwc_max_fixup. Called only
 * when the session's ISA is AVX-512. The pool and channel-scale loops are
 * nchwc_pool_simd.h's, over the vector operations defined here; the global
 * pool stays per ISA. */
#include <immintrin.h>
#include <math.h>

typedef __m512 v16;

static inline v16 ld(const float *p)
{
    return _mm512_loadu_ps(p);
}
static inline void st(float *p, v16 v)
{
    _mm512_storeu_ps(p, v);
}
static inline v16 splat(float f)
{
    return _mm512_set1_ps(f);
}
static inline v16 vmax(v16 v, v16 acc)
{
    return _mm512_max_ps(v, acc);
}
static inline v16 vadd(v16 acc, v16 v)
{
    return _mm512_add_ps(acc, v);
}
static inline v16 vmul(v16 u, v16 v)
{
    return _mm512_mul_ps(u, v);
}
static inline v16 vdiv(v16 v, v16 d)
{
    return _mm512_div_ps(v, d);
}
static inline v16 vmin(v16 u, v16 v)
{
    return _mm512_min_ps(u, v);
}
/* bit l set: lane l is -inf */
static inline unsigned ninf_mask(v16 v)
{
    return _mm512_cmp_ps_mask(v, _mm512_set1_ps(-INFINITY), _CMP_EQ_OQ);
}

#define KN_POOL_ISA(name) name##_avx512
#include "ops/nchwc_pool_simd.h"

void kn_nchwc_global_task_avx512(void *arg, size_t task)
{
    const kn_nchwc_plane_job *j = arg;
    const float *x = j->x + (int64_t)task * j->HW * B;
    float *y = j->y + (int64_t)task * B;
    const int64_t HW = j->HW;
    __m512 a[KN_NCHWC_GLOBAL_ACC];
    for (int i = 0; i < KN_NCHWC_GLOBAL_ACC; i++)
        a[i] = _mm512_set1_ps(j->max ? -INFINITY : 0.0f);
    int64_t p = 0;
    if (j->max) {
        for (; p + KN_NCHWC_GLOBAL_ACC <= HW; p += KN_NCHWC_GLOBAL_ACC)
            for (int i = 0; i < KN_NCHWC_GLOBAL_ACC; i++)
                a[i] = _mm512_max_ps(_mm512_loadu_ps(x + (p + i) * B), a[i]);
        for (int i = 0; p < HW; p++, i++)
            a[i] = _mm512_max_ps(_mm512_loadu_ps(x + p * B), a[i]);
        for (int w = KN_NCHWC_GLOBAL_ACC / 2; w >= 1; w /= 2)
            for (int i = 0; i < w; i++)
                a[i] = _mm512_max_ps(a[2 * i], a[2 * i + 1]);
        store_max(y, a[0], x, HW, 1, 1, 1, HW);
    } else {
        for (; p + KN_NCHWC_GLOBAL_ACC <= HW; p += KN_NCHWC_GLOBAL_ACC)
            for (int i = 0; i < KN_NCHWC_GLOBAL_ACC; i++)
                a[i] = _mm512_add_ps(a[i], _mm512_loadu_ps(x + (p + i) * B));
        for (int i = 0; p < HW; p++, i++)
            a[i] = _mm512_add_ps(a[i], _mm512_loadu_ps(x + p * B));
        for (int w = KN_NCHWC_GLOBAL_ACC / 2; w >= 1; w /= 2)
            for (int i = 0; i < w; i++)
                a[i] = _mm512_add_ps(a[2 * i], a[2 * i + 1]);
        _mm512_storeu_ps(y, _mm512_div_ps(a[0], _mm512_set1_ps((float)HW)));
    }
}
