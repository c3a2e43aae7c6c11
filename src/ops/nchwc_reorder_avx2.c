/* AVX2 NCHW <-> NCHWc reorders: one pass over both tensors in tiles of 8
 * channels by 8 pixels, transposed in registers (a 16-channel block is two
 * such tiles side by side). Partial tiles (C % 16 channels, HW % 8 pixels)
 * use masked loads and stores, so nothing outside either tensor is
 * touched. Called only when the session's ISA is AVX2 or better. */
#include "ops/nchwc_reorder_impl.h"

#include <immintrin.h>

#define UNROLL _Pragma("GCC unroll 8")

/* r[i] lane j -> r[j] lane i; always inlined so r stays in registers. */
__attribute__((always_inline)) static inline void transpose8(__m256 r[8])
{
    __m256 t[8], u[8];
    UNROLL for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    UNROLL for (int i = 0; i < 2; i++) {
        u[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    UNROLL for (int k = 0; k < 4; k++) {
        r[k] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x20);
        r[4 + k] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x31);
    }
}

/* lanes [0, n) set */
static inline __m256i lanes(int64_t n)
{
    static const int32_t ones[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(ones + 8 - n));
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

void kn_nchwc_reorder_in_avx2(void *arg, size_t task)
{
    const kn_nchwc_reorder_job *j = arg;
    const tile_range t = task_range(j, task);
    const int64_t HW = j->HW;
    const float *x = j->x + (t.n * j->C + t.cb * 16) * HW;
    float *y = j->y + (t.n * j->CB + t.cb) * HW * 16;
    for (int64_t p = t.p0; p < t.p1; p += 8) {
        const int64_t np = t.p1 - p < 8 ? t.p1 - p : 8;
        const __m256i m = lanes(np);
        for (int h = 0; h < 2; h++) {
            const float *xh = x + h * 8 * HW;
            const int64_t nc = t.nc - h * 8;
            __m256 r[8];
            if (nc >= 8 && np == 8) {
                UNROLL for (int l = 0; l < 8; l++)
                    r[l] = _mm256_loadu_ps(xh + l * HW + p);
            } else {
                UNROLL for (int l = 0; l < 8; l++)
                    r[l] = l < nc ? _mm256_maskload_ps(xh + l * HW + p, m) : _mm256_setzero_ps();
            }
            transpose8(r);
            UNROLL for (int i = 0; i < 8; i++)
                if (i < np)
                    _mm256_storeu_ps(y + (p + i) * 16 + h * 8, r[i]);
        }
    }
}

void kn_nchwc_reorder_out_avx2(void *arg, size_t task)
{
    const kn_nchwc_reorder_job *j = arg;
    const tile_range t = task_range(j, task);
    const int64_t HW = j->HW;
    const float *x = j->x + (t.n * j->CB + t.cb) * HW * 16;
    float *y = j->y + (t.n * j->C + t.cb * 16) * HW;
    for (int64_t p = t.p0; p < t.p1; p += 8) {
        const int64_t np = t.p1 - p < 8 ? t.p1 - p : 8;
        const __m256i m = lanes(np);
        for (int h = 0; h < 2; h++) {
            const int64_t nc = t.nc - h * 8;
            if (nc <= 0)
                break;
            float *yh = y + h * 8 * HW;
            __m256 r[8];
            UNROLL for (int i = 0; i < 8; i++)
                r[i] = i < np ? _mm256_loadu_ps(x + (p + i) * 16 + h * 8) : _mm256_setzero_ps();
            transpose8(r);
            if (np == 8 && nc >= 8) {
                UNROLL for (int l = 0; l < 8; l++)
                    _mm256_storeu_ps(yh + l * HW + p, r[l]);
            } else {
                UNROLL for (int l = 0; l < 8; l++)
                    if (l < nc)
                        _mm256_maskstore_ps(yh + l * HW + p, m, r[l]);
            }
        }
    }
}
