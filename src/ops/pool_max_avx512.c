/* The 2-D MaxPool plane kernel of pool_max_impl.h with 16-float vectors. */
#include <immintrin.h>
#include <stdint.h>

static inline void mp_split_avx512(const float *p, __m512 *e, __m512 *o)
{
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    __m512 a = _mm512_loadu_ps(p), b = _mm512_loadu_ps(p + 16);
    *e = _mm512_permutex2var_ps(a, ie, b);
    *o = _mm512_permutex2var_ps(a, io, b);
}

#define MP_TAIL(n) ((__mmask16)((1u << (n)) - 1u))
#define MP_V __m512
#define MP_VW 16
#define MP_LOAD(p) _mm512_loadu_ps(p)
#define MP_STORE(p, v) _mm512_storeu_ps(p, v)
#define MP_SET1(x) _mm512_set1_ps(x)
#define MP_MAX(a, b) _mm512_max_ps(a, b)
#define MP_LOAD_T(p, n) _mm512_maskz_loadu_ps(MP_TAIL(n), p)
#define MP_STORE_T(p, v, n) _mm512_mask_storeu_ps(p, MP_TAIL(n), v)
#define MP_DEINTERLEAVE(p, e, o) mp_split_avx512(p, &(e), &(o))
#define MP_HAS_NEGINF(v) (_mm512_cmp_ps_mask(v, _mm512_set1_ps(-INFINITY), _CMP_EQ_OQ) != 0)
#define MP_FN kn_maxpool2d_plane_avx512
#include "ops/pool_max_impl.h"
