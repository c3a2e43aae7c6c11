/* Depthwise plane kernels compiled with AVX2 enabled: the vector kernel of
 * conv_dw_simd.h with 8-float vectors (also used by the AVX-512 build for
 * planes at most 8 wide, where 16 lanes would be mostly idle). Called only
 * when the session's ISA is AVX2 or AVX-512. */
#include <immintrin.h>

#define KN_DW_V __m256
#define KN_DW_VW 8
#define KN_DW_LOAD(p) _mm256_loadu_ps(p)
#define KN_DW_STORE(p, v) _mm256_storeu_ps(p, v)
#define KN_DW_SET1(x) _mm256_set1_ps(x)
#define KN_DW_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define KN_DW_ADD(a, b) _mm256_add_ps(a, b)
#define KN_DW_MIN(a, b) _mm256_min_ps(a, b)
#define KN_DW_MAX(a, b) _mm256_max_ps(a, b)
#define KN_DW_MASK __m256i
#define KN_DW_TAIL(n) dw_tail_avx2(n)
#define KN_DW_LOAD_M(p, m) _mm256_maskload_ps(p, m)
#define KN_DW_STORE_M(p, v, m) _mm256_maskstore_ps(p, m, v)
#define KN_DW_DEINTERLEAVE(p, e, o) dw_deinterleave_avx2(p, &(e), &(o))
#define KN_DW_DEINTERLEAVE_M(p, n, e, o) dw_deinterleave_m_avx2(p, n, &(e), &(o))
#define KN_DW_ACT kn_act_apply_avx2

/* the first n lanes, 0 <= n <= 8 */
static inline __m256i dw_tail_avx2(int64_t n)
{
    static const int32_t ones[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(ones + 8 - n));
}

static inline void dw_split_avx2(__m256 a, __m256 b, __m256 *e, __m256 *o)
{
    /* per 128-bit lane [a0 a2 b0 b2 | a4 a6 b4 b6], then the 64-bit pieces
     * reordered to [a0 a2 a4 a6 b0 b2 b4 b6] */
    __m256 ev = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    __m256 od = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    *e = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), _MM_SHUFFLE(3, 1, 2, 0)));
    *o = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(od), _MM_SHUFFLE(3, 1, 2, 0)));
}

static inline void dw_deinterleave_avx2(const float *p, __m256 *e, __m256 *o)
{
    dw_split_avx2(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), e, o);
}

/* n in (0, 16): p[n ..] is not read */
static inline void dw_deinterleave_m_avx2(const float *p, int64_t n, __m256 *e, __m256 *o)
{
    __m256 a = _mm256_maskload_ps(p, dw_tail_avx2(n < 8 ? n : 8));
    __m256 b = n > 8 ? _mm256_maskload_ps(p + 8, dw_tail_avx2(n - 8)) : _mm256_setzero_ps();
    dw_split_avx2(a, b, e, o);
}

#include "ops/conv_dw_simd.h"

KN_DW_SIMD_DEFINE(, kn_dw_plane_avx2)
