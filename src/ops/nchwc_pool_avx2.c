/* AVX2 forms of the blocked pools and channel scale (nchwc_pool.c has the
 * portable ones, with the same operations in the same order): every window
 * tap is a 16-channel block, two ymm loads. _mm256_max_ps(v, acc) is
 * "v > acc ? v : acc", so NaN taps never replace the running maximum;
 * lanes that end at -inf are settled by kn_nchwc_max_fixup. Called only
 * when the session's ISA is AVX2 or better. */
#include "ops/nchwc_pool_impl.h"

#include <immintrin.h>

#define B KN_NCHWC_BLOCK

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
static inline v16 vdiv(v16 v, __m256 d)
{
    return (v16){_mm256_div_ps(v.a, d), _mm256_div_ps(v.b, d)};
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

static inline void store_max(float *yo, v16 acc, const float *xw, int64_t W, int64_t DH, int64_t DW, int64_t nh,
                             int64_t nw)
{
    st(yo, acc);
    unsigned m = ninf_mask(acc);
    while (m) {
        int l = __builtin_ctz(m);
        yo[l] = kn_nchwc_max_fixup(xw, W, DH, DW, nh, nw, l);
        m &= m - 1;
    }
}

/* One output vector, any window position (the columns near the left and
 * right edges, rows without a tap list). */
static void pool_one(const kn_nchwc_pool_job *j, const float *x, float *yo, int64_t ih0, int64_t khl, int64_t nh,
                     int64_t cnt_h, int64_t ow)
{
    const int64_t W = j->W, DH = j->DH, DW = j->DW;
    const int64_t iw0 = ow * j->SW - j->PL;
    int64_t kwl, kwh;
    kn_nchwc_taps(iw0, DW, j->KW, W, &kwl, &kwh);
    const int64_t nw = kwh - kwl;
    /* an empty window reads nothing (its result is NaN): keep xw inside x */
    const float *xw = nh && nw ? x + ((ih0 + khl * DH) * W + iw0 + kwl * DW) * B : x;
    if (j->max) {
        v16 acc = splat(-INFINITY);
        for (int64_t kh = 0; kh < nh; kh++)
            for (int64_t kw = 0; kw < nw; kw++)
                acc = vmax(ld(xw + (kh * DH * W + kw * DW) * B), acc);
        store_max(yo, acc, xw, W, DH, DW, nh, nw);
    } else {
        v16 acc = splat(0.0f);
        for (int64_t kh = 0; kh < nh; kh++)
            for (int64_t kw = 0; kw < nw; kw++)
                acc = vadd(acc, ld(xw + (kh * DH * W + kw * DW) * B));
        const int64_t cnt_w = j->count_include_pad ? kn_nchwc_taps_in_pad(iw0, DW, j->KW, W, j->PR) : nw;
        st(yo, vdiv(acc, _mm256_set1_ps((float)(cnt_h * cnt_w))));
    }
}

/* taps of a window held in the offset list of the interior loop */
#define MAX_TAPS 64

void kn_nchwc_pool_task_avx2(void *arg, size_t task)
{
    const kn_nchwc_pool_job *j = arg;
    const int64_t plane = (int64_t)task / j->chunks, chunk = (int64_t)task % j->chunks;
    const int64_t oh0 = chunk * j->rows, oh1 = oh0 + j->rows < j->OH ? oh0 + j->rows : j->OH;
    const int64_t W = j->W, OW = j->OW, KW = j->KW, DH = j->DH, DW = j->DW, SW = j->SW;
    const float *x = j->x + plane * j->H * W * B;
    float *y = j->y + plane * j->OH * OW * B;
    int64_t owa, owb;
    kn_nchwc_interior(j->PL, SW, DW, KW, W, OW, &owa, &owb);
    int64_t off[MAX_TAPS];
    for (int64_t oh = oh0; oh < oh1; oh++) {
        const int64_t ih0 = oh * j->SH - j->PT;
        int64_t khl, khh;
        kn_nchwc_taps(ih0, DH, j->KH, j->H, &khl, &khh);
        const int64_t nh = khh - khl, nt = nh * KW;
        const int64_t cnt_h = j->count_include_pad ? kn_nchwc_taps_in_pad(ih0, DH, j->KH, j->H, j->PB) : nh;
        float *yr = y + oh * OW * B;
        int64_t a = owa, b = owb;
        if (nt == 0 || nt > MAX_TAPS)
            a = b = OW;
        for (int64_t ow = 0; ow < a; ow++)
            pool_one(j, x, yr + ow * B, ih0, khl, nh, cnt_h, ow);
        for (int64_t kh = 0, t = 0; kh < nh && nt <= MAX_TAPS; kh++)
            for (int64_t kw = 0; kw < KW; kw++)
                off[t++] = (kh * DH * W + kw * DW) * B;
        /* the window of column ow (interior) starts at xr + (ow - a) * SW * B */
        const float *xr = a < b ? x + ((ih0 + khl * DH) * W + a * SW - j->PL) * B : x;
        const int64_t step = SW * B;
        int64_t ow = a;
        if (j->max) {
            const v16 ninf = splat(-INFINITY);
            for (; ow + 4 <= b; ow += 4, xr += 4 * step) {
                v16 a0 = ninf, a1 = ninf, a2 = ninf, a3 = ninf;
                for (int64_t t = 0; t < nt; t++) {
                    const float *q = xr + off[t];
                    a0 = vmax(ld(q), a0);
                    a1 = vmax(ld(q + step), a1);
                    a2 = vmax(ld(q + 2 * step), a2);
                    a3 = vmax(ld(q + 3 * step), a3);
                }
                float *yo = yr + ow * B;
                st(yo, a0);
                st(yo + B, a1);
                st(yo + 2 * B, a2);
                st(yo + 3 * B, a3);
                if (ninf_mask(vmin(vmin(a0, a1), vmin(a2, a3))))
                    for (int q = 0; q < 4; q++)
                        store_max(yo + q * B, ld(yo + q * B), xr + q * step, W, DH, DW, nh, KW);
            }
            for (; ow < b; ow++, xr += step) {
                v16 a0 = ninf;
                for (int64_t t = 0; t < nt; t++)
                    a0 = vmax(ld(xr + off[t]), a0);
                store_max(yr + ow * B, a0, xr, W, DH, DW, nh, KW);
            }
        } else {
            const __m256 div = _mm256_set1_ps((float)(cnt_h * KW));
            for (; ow + 4 <= b; ow += 4, xr += 4 * step) {
                v16 a0 = splat(0.0f), a1 = a0, a2 = a0, a3 = a0;
                for (int64_t t = 0; t < nt; t++) {
                    const float *q = xr + off[t];
                    a0 = vadd(a0, ld(q));
                    a1 = vadd(a1, ld(q + step));
                    a2 = vadd(a2, ld(q + 2 * step));
                    a3 = vadd(a3, ld(q + 3 * step));
                }
                float *yo = yr + ow * B;
                st(yo, vdiv(a0, div));
                st(yo + B, vdiv(a1, div));
                st(yo + 2 * B, vdiv(a2, div));
                st(yo + 3 * B, vdiv(a3, div));
            }
            for (; ow < b; ow++, xr += step) {
                v16 a0 = splat(0.0f);
                for (int64_t t = 0; t < nt; t++)
                    a0 = vadd(a0, ld(xr + off[t]));
                st(yr + ow * B, vdiv(a0, div));
            }
        }
        for (ow = b; ow < OW; ow++)
            pool_one(j, x, yr + ow * B, ih0, khl, nh, cnt_h, ow);
    }
}

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

void kn_nchwc_mul_task_avx2(void *arg, size_t task)
{
    const kn_nchwc_plane_job *j = arg;
    const int64_t plane = (int64_t)task / j->runs, run = (int64_t)task % j->runs;
    const int64_t p0 = run * KN_NCHWC_MUL_RUN, p1 = p0 + KN_NCHWC_MUL_RUN < j->HW ? p0 + KN_NCHWC_MUL_RUN : j->HW;
    const float *x = j->x + plane * j->HW * B;
    float *y = j->y + plane * j->HW * B;
    const __m256 s0 = _mm256_loadu_ps(j->s + plane * B), s1 = _mm256_loadu_ps(j->s + plane * B + 8);
    for (int64_t p = p0; p < p1; p++) {
        _mm256_storeu_ps(y + p * B, _mm256_mul_ps(_mm256_loadu_ps(x + p * B), s0));
        _mm256_storeu_ps(y + p * B + 8, _mm256_mul_ps(_mm256_loadu_ps(x + p * B + 8), s1));
    }
}
