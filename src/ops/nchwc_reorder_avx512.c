/* AVX-512 NCHW <-> NCHWc reorders: one pass over both tensors, 16 channel
 * rows of 16 pixels loaded, transposed in registers and stored as 16 pixel
 * vectors (and back). Partial tiles (C % 16 channels, HW % 16 pixels) use
 * masked loads and stores, so nothing outside either tensor is touched.
 * Called only when the session's ISA is AVX-512. */
#include "ops/nchwc_reorder_impl.h"

#include <immintrin.h>

/* r[i] lane j -> r[j] lane i. Always inlined with every loop unrolled, so
 * r stays in registers (an out-of-line call spills the tile to memory and
 * turns the stores into a memcpy). */
#define UNROLL _Pragma("GCC unroll 16")

__attribute__((always_inline)) static inline void transpose16(__m512 r[16])
{
    __m512 t[16];
    UNROLL for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* per 128-bit lane q, r[4 i + k] now holds rows 4 i .. 4 i + 3 of column 4 q + k */
    UNROLL for (int i = 0; i < 4; i++) {
        r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    /* a 4x4 transpose of 128-bit lanes among r[k], r[4 + k], r[8 + k], r[12 + k] */
    UNROLL for (int k = 0; k < 4; k++) {
        __m512 w0 = _mm512_shuffle_f32x4(r[k], r[4 + k], 0x44);
        __m512 w1 = _mm512_shuffle_f32x4(r[k], r[4 + k], 0xEE);
        __m512 w2 = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0x44);
        __m512 w3 = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0xEE);
        t[k] = _mm512_shuffle_f32x4(w0, w2, 0x88);
        t[4 + k] = _mm512_shuffle_f32x4(w0, w2, 0xDD);
        t[8 + k] = _mm512_shuffle_f32x4(w1, w3, 0x88);
        t[12 + k] = _mm512_shuffle_f32x4(w1, w3, 0xDD);
    }
    UNROLL for (int i = 0; i < 16; i++)
        r[i] = t[i];
}

typedef struct tile_range {
    int64_t n, cb, nc, p0, p1;
} tile_range;

static inline tile_range task_range(const kn_nchwc_reorder_job *j, size_t task)
{
    tile_range t;
    const int64_t plane = (int64_t)task / j->runs, run = (int64_t)task % j->runs;
    t.n = plane / j->CB;
    t.cb = plane % j->CB;
    t.nc = j->C - t.cb * 16 < 16 ? j->C - t.cb * 16 : 16;
    t.p0 = run * KN_NCHWC_REORDER_RUN;
    t.p1 = t.p0 + KN_NCHWC_REORDER_RUN < j->HW ? t.p0 + KN_NCHWC_REORDER_RUN : j->HW;
    return t;
}

void kn_nchwc_reorder_in_avx512(void *arg, size_t task)
{
    const kn_nchwc_reorder_job *j = arg;
    const tile_range t = task_range(j, task);
    const int64_t HW = j->HW;
    const float *x = j->x + (t.n * j->C + t.cb * 16) * HW;
    float *y = j->y + (t.n * j->CB + t.cb) * HW * 16;
    for (int64_t p = t.p0; p < t.p1; p += 16) {
        const int64_t np = t.p1 - p < 16 ? t.p1 - p : 16;
        const __mmask16 m = (__mmask16)((1u << np) - 1u);
        __m512 r[16];
        if (t.nc == 16 && np == 16) {
            UNROLL for (int l = 0; l < 16; l++)
                r[l] = _mm512_loadu_ps(x + l * HW + p);
            transpose16(r);
            UNROLL for (int i = 0; i < 16; i++)
                _mm512_storeu_ps(y + (p + i) * 16, r[i]);
        } else {
            UNROLL for (int l = 0; l < 16; l++)
                r[l] = l < t.nc ? _mm512_maskz_loadu_ps(m, x + l * HW + p) : _mm512_setzero_ps();
            transpose16(r);
            UNROLL for (int i = 0; i < 16; i++)
                if (i < np)
                    _mm512_storeu_ps(y + (p + i) * 16, r[i]);
        }
    }
}

void kn_nchwc_reorder_out_avx512(void *arg, size_t task)
{
    const kn_nchwc_reorder_job *j = arg;
    const tile_range t = task_range(j, task);
    const int64_t HW = j->HW;
    const float *x = j->x + (t.n * j->CB + t.cb) * HW * 16;
    float *y = j->y + (t.n * j->C + t.cb * 16) * HW;
    for (int64_t p = t.p0; p < t.p1; p += 16) {
        const int64_t np = t.p1 - p < 16 ? t.p1 - p : 16;
        const __mmask16 m = (__mmask16)((1u << np) - 1u);
        __m512 r[16];
        if (np == 16 && t.nc == 16) {
            UNROLL for (int i = 0; i < 16; i++)
                r[i] = _mm512_loadu_ps(x + (p + i) * 16);
            transpose16(r);
            UNROLL for (int l = 0; l < 16; l++)
                _mm512_storeu_ps(y + l * HW + p, r[l]);
        } else {
            UNROLL for (int i = 0; i < 16; i++)
                r[i] = i < np ? _mm512_loadu_ps(x + (p + i) * 16) : _mm512_setzero_ps();
            transpose16(r);
            UNROLL for (int l = 0; l < 16; l++)
                if (l < t.nc)
                    _mm512_mask_storeu_ps(y + l * HW + p, m, r[l]);
        }
    }
}
