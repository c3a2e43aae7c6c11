/* The 2-D MaxPool plane kernel of pool_max_impl.h with 8-float vectors. */
#include <immintrin.h>
#include <stdint.h>

static inline __m256i mp_tail_avx2(int64_t n)
{
    static const int32_t ones[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(ones + 8 - n));
}

static inline void mp_split_avx2(const float *p, __m256 *e, __m256 *o)
{
    __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
    __m256 ev = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    __m256 od = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    *e = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), _MM_SHUFFLE(3, 1, 2, 0)));
    *o = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(od), _MM_SHUFFLE(3, 1, 2, 0)));
}

#define MP_V __m256
#define MP_VW 8
#define MP_LOAD(p) _mm256_loadu_ps(p)
#define MP_STORE(p, v) _mm256_storeu_ps(p, v)
#define MP_SET1(x) _mm256_set1_ps(x)
#define MP_MAX(a, b) _mm256_max_ps(a, b)
#define MP_LOAD_T(p, n) _mm256_maskload_ps(p, mp_tail_avx2(n))
#define MP_STORE_T(p, v, n) _mm256_maskstore_ps(p, mp_tail_avx2(n), v)
#define MP_DEINTERLEAVE(p, e, o) mp_split_avx2(p, &(e), &(o))
#define MP_HAS_NEGINF(v) (_mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_set1_ps(-INFINITY), _CMP_EQ_OQ)) != 0)
#define MP_FN kn_maxpool2d_plane_avx2
#include "ops/pool_max_impl.h"
