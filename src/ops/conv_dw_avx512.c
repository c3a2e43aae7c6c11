/* Depthwise plane kernel compiled with AVX-512 enabled: the vector kernel
 * of conv_dw_simd.h with 16-float vectors; planes at most 8 wide go to the
 * AVX2 build, whose 8 lanes they fill better. Called only when the
 * session's ISA is AVX-512. */
#include <immintrin.h>

#define KN_DW_V __m512
#define KN_DW_VW 16
#define KN_DW_LOAD(p) _mm512_loadu_ps(p)
#define KN_DW_STORE(p, v) _mm512_storeu_ps(p, v)
#define KN_DW_SET1(x) _mm512_set1_ps(x)
#define KN_DW_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define KN_DW_ADD(a, b) _mm512_add_ps(a, b)
#define KN_DW_MIN(a, b) _mm512_min_ps(a, b)
#define KN_DW_MAX(a, b) _mm512_max_ps(a, b)
#define KN_DW_MASK __mmask16
#define KN_DW_TAIL(n) ((__mmask16)((1u << (n)) - 1u))
#define KN_DW_LOAD_M(p, m) _mm512_maskz_loadu_ps(m, p)
#define KN_DW_STORE_M(p, v, m) _mm512_mask_storeu_ps(p, m, v)
#define KN_DW_DEINTERLEAVE(p, e, o) dw_deinterleave_avx512(p, &(e), &(o))
#define KN_DW_DEINTERLEAVE_M(p, n, e, o) dw_deinterleave_m_avx512(p, n, &(e), &(o))
#define KN_DW_ACT kn_act_apply_avx512

static inline void dw_split_avx512(__m512 a, __m512 b, __m512 *e, __m512 *o)
{
    const __m512i ei = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i oi = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    *e = _mm512_permutex2var_ps(a, ei, b);
    *o = _mm512_permutex2var_ps(a, oi, b);
}

static inline void dw_deinterleave_avx512(const float *p, __m512 *e, __m512 *o)
{
    dw_split_avx512(_mm512_loadu_ps(p), _mm512_loadu_ps(p + 16), e, o);
}

/* n in (0, 32): p[n ..] is not read */
static inline void dw_deinterleave_m_avx512(const float *p, int64_t n, __m512 *e, __m512 *o)
{
    __m512 a = _mm512_maskz_loadu_ps((__mmask16)((1u << (n < 16 ? n : 16)) - 1u), p);
    __m512 b = n > 16 ? _mm512_maskz_loadu_ps((__mmask16)((1u << (n - 16)) - 1u), p + 16) : _mm512_setzero_ps();
    dw_split_avx512(a, b, e, o);
}

#include "ops/conv_dw_simd.h"

KN_DW_SIMD_DEFINE(static, dw_plane_avx512_wide)

void kn_dw_plane_avx512(void *arg, size_t plane)
{
    const kn_dw_ctx *d = arg;
    if (d->OW <= 8)
        kn_dw_plane_avx2(arg, plane);
    else
        dw_plane_avx512_wide(arg, plane);
}
