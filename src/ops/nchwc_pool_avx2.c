/* AVX2 forms of the blocked pools and channel scale (nchwc_pool.c has the
 * portable ones, with the same operations in the same order): every window
 * tap is a 16-channel block, two ymm loads. _mm256_max_ps(v, acc) is
 * "v > acc ? v : acc", so NaN taps never replace the running maximum;
 * lanes that end at -inf are settled by kn_nchwc_max_fixup. Called only
 * when the session's ISA is AVX2 or better. The pool and channel-scale loops are
 * nchwc_pool_simd.h's, over the vector operations defined here; the global
 * pool stays per ISA. */
#include <immintrin.h>
#include <math.h>

/* one 16-channel vector as two halves */
typedef struct v16 {
    __m256 a, b;
} v16;

static inline v16 ld(const float *p)
{
    return (v16){_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)};
}
static inline void st(float *p, v16 v)
{
    _mm256_storeu_ps(p, v.a);
    _mm256_storeu_ps(p + 8, v.b);
}
static inline v16 splat(float f)
{
    return (v16){_mm256_set1_ps(f), _mm256_set1_ps(f)};
}
static inline v16 vmax(v16 v, v16 acc)
{
    return (v16){_mm256_max_ps(v.a, acc.a), _mm256_max_ps(v.b, acc.b)};
}
static inline v16 vadd(v16 acc, v16 v)
{
    return (v16){_mm256_add_ps(acc.a, v.a), _mm256_add_ps(acc.b, v.b)};
}
static inline v16 vmul(v16 u, v16 v)
{
    return (v16){_mm256_mul_ps(u.a, v.a), _mm256_mul_ps(u.b, v.b)};
}
static inline v16 vdiv(v16 v, v16 d)
{
    return (v16){_mm256_div_ps(v.a, d.a), _mm256_div_ps(v.b, d.b)};
}
static inline v16 vmin(v16 u, v16 v)
{
    return (v16){_mm256_min_ps(u.a, v.a), _mm256_min_ps(u.b, v.b)};
}
/* bit l set: lane l is -inf */
static inline unsigned ninf_mask(v16 v)
{
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    return (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(v.a, ninf, _CMP_EQ_OQ)) |
           (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(v.b, ninf, _CMP_EQ_OQ)) << 8;
}

#define KN_POOL_ISA(name) name##_avx2
#include "ops/nchwc_pool_simd.h"

/* Each half of the block on its own (the lanes are independent), so the
 * KN_NCHWC_GLOBAL_ACC accumulators fit the 16 registers. */
void kn_nchwc_global_task_avx2(void *arg, size_t task)
{
    const kn_nchwc_plane_job *j = arg;
    const int64_t HW = j->HW;
    for (int h = 0; h < 2; h++) {
        const float *x = j->x + (int64_t)task * HW * B + h * 8;
        __m256 a[KN_NCHWC_GLOBAL_ACC];
        for (int i = 0; i < KN_NCHWC_GLOBAL_ACC; i++)
            a[i] = _mm256_set1_ps(j->max ? -INFINITY : 0.0f);
        int64_t p = 0;
        if (j->max) {
            for (; p + KN_NCHWC_GLOBAL_ACC <= HW; p += KN_NCHWC_GLOBAL_ACC)
                for (int i = 0; i < KN_NCHWC_GLOBAL_ACC; i++)
                    a[i] = _mm256_max_ps(_mm256_loadu_ps(x + (p + i) * B), a[i]);
            for (int i = 0; p < HW; p++, i++)
                a[i] = _mm256_max_ps(_mm256_loadu_ps(x + p * B), a[i]);
            for (int w = KN_NCHWC_GLOBAL_ACC / 2; w >= 1; w /= 2)
                for (int i = 0; i < w; i++)
                    a[i] = _mm256_max_ps(a[2 * i], a[2 * i + 1]);
        } else {
            for (; p + KN_NCHWC_GLOBAL_ACC <= HW; p += KN_NCHWC_GLOBAL_ACC)
                for (int i = 0; i < KN_NCHWC_GLOBAL_ACC; i++)
                    a[i] = _mm256_add_ps(a[i], _mm256_loadu_ps(x + (p + i) * B));
            for (int i = 0; p < HW; p++, i++)
                a[i] = _mm256_add_ps(a[i], _mm256_loadu_ps(x + p * B));
            for (int w = KN_NCHWC_GLOBAL_ACC / 2; w >= 1; w /= 2)
                for (int i = 0; i < w; i++)
                    a[i] = _mm256_add_ps(a[2 * i], a[2 * i + 1]);
            a[0] = _mm256_div_ps(a[0], _mm256_set1_ps((float)HW));
        }
        _mm256_storeu_ps(j->y + (int64_t)task * B + h * 8, a[0]);
    }
    if (j->max) {
        const float *x = j->x + (int64_t)task * HW * B;
        float *y = j->y + (int64_t)task * B;
        unsigned m = ninf_mask(ld(y));
        while (m) {
            int l = __builtin_ctz(m);
            y[l] = kn_nchwc_max_fixup(x, HW, 1, 1, 1, HW, l);
            m &= m - 1;
        }
    }
}
