/* AVX2+FMA kernel of the blocked convolution (nchwc_conv.c), on the same
 * packed weights as the AVX-512 one (nchwc_conv_impl.h). A 16-channel
 * output block is two ymm, so with 16 registers a tile is one output block
 * by up to P = 6 consecutive output pixels (row-major, so a tile may
 * continue on the next row): 12 accumulators, per input step (block cb,
 * tap kh kw, lane ic) two weight loads from the block's column of the
 * group's [nfg][16] rows and one broadcast per pixel. (2 blocks x 3 pixels
 * needs 17 registers and measured 30% slower.)
 *
 * Unlike the AVX-512 kernel, which sweeps all blocks of the group per
 * tile, the loop runs block by block: for each output block, over passes
 * of input blocks whose weights for that block take at most
 * KN_NCHWC_PASS_W bytes, over the task's pixels, so the block's weights
 * for the pass are reused from cache by every tile of the chunk. A 1x6
 * tile uses a weight vector only 6 times: streaming the whole group's
 * weights per tile (the AVX-512 order) left 1x1 convs about 10% slower.
 * Partial sums stay in y between passes (stored and reloaded exactly: the
 * same operations as one pass). While a pass computes, the weights of the
 * next one are prefetched to L2 (without it, ResNet-50's convs with cold
 * caches took 118 instead of 97 ms).
 *
 * Tiles whose pixels have every tap inside the input run with no checks;
 * when their windows are also evenly spaced in x (one output row, or a
 * 1x1 stride-1 map, stride 1 or 2) the broadcasts use constant offsets
 * from one pointer, which frees the general-purpose registers GCC
 * otherwise spills around the input steps, and 1x1 kernels run the whole
 * reduction as one loop (tile1x1). Border tiles run over the
 * union of their pixels' valid taps, a tap in the padding broadcasting a
 * zero. Bias plus residual starts the accumulators; ReLU / Clip are
 * applied before the one store of each vector, other activations through
 * kn_act_apply_avx2 over the stored tile, as the NCHW AVX2 path applies
 * them. Called only when the session's ISA is AVX2 or better. */
#include "ops/nchwc_conv_impl.h"
#include "ops/sgemm.h"

#include <immintrin.h>

#define PMAX 6
/* Bytes of one block's weights per pass: a quarter of a 256 KiB L2 (the
 * smallest of AVX2 CPUs). 16 KiB (L1) made 3x3 convs 15% slower from the
 * passes' partial-sum round trips; 64 to 200 KiB measured alike. */
#define KN_NCHWC_PASS_W (64 * 1024)

typedef struct tile_args {
    const kn_nchwc_conv_ctx *c;
    const float *x;     /* image n */
    const float *w;     /* the group's weights, offset to the block's column */
    const float *bias;  /* the block's */
    float *y;           /* the tile's first pixel in the block */
    const float *res;   /* likewise, or NULL */
    const float *zeros; /* what a tap in the padding broadcasts */
    int64_t vs;         /* floats between input steps' weight vectors: nfg * 16 */
    int64_t cb0, cb1;
    bool first, last; /* first pass starts from bias + residual, last applies the activation */
    /* the block's lanes 8 .. 15 are padding (the last block when M % 16 is
     * 1 to 8): their weights are zero, so their sums stay at bias (0) plus
     * residual, and 1x1 tiles run the input steps for lanes 0 .. 7 only */
    bool lo_only;
    const struct tile_geom *gm;
} tile_args;

/* Where a tile's pixels read: computed once per task, used by every block
 * and pass. */
typedef struct tile_geom {
    int64_t kh_lo, kh_hi, kw_lo, kw_hi; /* taps to run */
    /* per pixel: window origin (input row, column; offset in x) */
    int64_t ih[PMAX], iw[PMAX], xo[PMAX];
    int kind, np;
} tile_geom;

/* tiles whose geometry is computed at once (a task's chunk is at most
 * 1.5 * KN_NCHWC_CHUNK pixels: 24 tiles) */
#define GEOM_TILES 24

static const float zeros[16] __attribute__((aligned(64)));

/* N input steps from wq (weight vectors vs floats apart) against the
 * pixels' input lanes xp[q][0 .. N). */
static inline __attribute__((always_inline)) void steps(__m256 *acc, const float *const *xp, const float *wq,
                                                        int64_t vs, const int N, const int P, const bool lo_only)
{
#pragma GCC unroll 16
    for (int ic = 0; ic < N; ic++, wq += vs) {
        const __m256 w0 = _mm256_loadu_ps(wq);
        const __m256 w1 = lo_only ? w0 : _mm256_loadu_ps(wq + 8);
#pragma GCC unroll 6
        for (int q = 0; q < P; q++) {
            const __m256 xv = _mm256_broadcast_ss(xp[q] + ic);
            acc[2 * q] = _mm256_fmadd_ps(w0, xv, acc[2 * q]);
            if (!lo_only)
                acc[2 * q + 1] = _mm256_fmadd_ps(w1, xv, acc[2 * q + 1]);
        }
    }
}

/* Activation (ReLU / Clip in registers) and the one store of the tile. */
static inline __attribute__((always_inline)) void store(const tile_args *a, const __m256 *acc, const int P)
{
    const kn_nchwc_conv_ctx *c = a->c;
    const kn_epilogue *act = a->last ? c->act : NULL;
    const kn_act kind = act ? act->act : KN_ACT_NONE;
    const __m256 lo = _mm256_set1_ps(kind == KN_ACT_CLIP ? act->alpha : 0.0f);
    const __m256 hi = _mm256_set1_ps(kind == KN_ACT_CLIP ? act->beta : __builtin_inff());
#pragma GCC unroll 6
    for (int q = 0; q < P; q++) {
        __m256 v0 = acc[2 * q], v1 = acc[2 * q + 1];
        if (kind == KN_ACT_RELU || kind == KN_ACT_CLIP) {
            v0 = _mm256_min_ps(_mm256_max_ps(v0, lo), hi);
            v1 = _mm256_min_ps(_mm256_max_ps(v1, lo), hi);
        }
        _mm256_storeu_ps(a->y + q * 16, v0);
        _mm256_storeu_ps(a->y + q * 16 + 8, v1);
    }
    if (kind != KN_ACT_NONE && kind != KN_ACT_RELU && kind != KN_ACT_CLIP)
        kn_act_apply_avx2(act, a->y, (int64_t)P * 16);
}

/* A tile's accumulators: bias plus residual in the first pass (the
 * residual read before this tile's y is first written, so y may be the
 * residual), the partial sums kept in y in later ones. */
static inline __attribute__((always_inline)) void acc_init(const tile_args *a, __m256 *acc, const int P)
{
    if (a->first) {
        const __m256 b0 = _mm256_loadu_ps(a->bias), b1 = _mm256_loadu_ps(a->bias + 8);
#pragma GCC unroll 6
        for (int q = 0; q < P; q++) {
            __m256 v0 = b0, v1 = b1;
            if (a->res) {
                v0 = _mm256_add_ps(v0, _mm256_loadu_ps(a->res + q * 16));
                v1 = _mm256_add_ps(v1, _mm256_loadu_ps(a->res + q * 16 + 8));
            }
            acc[2 * q] = v0;
            acc[2 * q + 1] = v1;
        }
    } else {
#pragma GCC unroll 6
        for (int q = 0; q < P; q++) {
            acc[2 * q] = _mm256_loadu_ps(a->y + q * 16);
            acc[2 * q + 1] = _mm256_loadu_ps(a->y + q * 16 + 8);
        }
    }
}

/* XS: 0 for windows anywhere (a pointer per pixel), else the constant
 * distance in floats between consecutive pixels' windows (unchecked
 * tiles only). */
static inline __attribute__((always_inline)) void tile(const tile_args *a, const int LC, const int P, const int XS,
                                                       const bool checked)
{
    const kn_nchwc_conv_ctx *c = a->c;
    const tile_geom *gm = a->gm;
    const int64_t KH = c->p->KH, KW = c->p->KW, vs = a->vs, ws = LC * vs;
    const int64_t rs = c->DH * c->xs_row, cs = c->DW * c->xs_pix;
    const uint64_t H = (uint64_t)c->H, W = (uint64_t)c->W;
    __m256 acc[2 * PMAX];
    acc_init(a, acc, P);
    const float *base[PMAX];
#pragma GCC unroll 6
    for (int q = 0; q < P; q++)
        base[q] = checked ? a->x : a->x + gm->xo[q];
    for (int64_t cb = a->cb0; cb < a->cb1; cb++) {
        const float *wc = a->w + cb * KH * KW * ws;
        for (int64_t kh = gm->kh_lo; kh < gm->kh_hi; kh++) {
            const float *wr = wc + kh * KW * ws;
            const int64_t tr = cb * c->xs_cb + kh * rs;
            bool rok[PMAX];
            if (checked) {
#pragma GCC unroll 6
                for (int q = 0; q < P; q++)
                    rok[q] = (uint64_t)(gm->ih[q] + kh * c->DH) < H;
            }
            for (int64_t kw = gm->kw_lo; kw < gm->kw_hi; kw++) {
                const int64_t t = tr + kw * cs;
                const float *xp[PMAX];
#pragma GCC unroll 6
                for (int q = 0; q < P; q++) {
                    if (checked) {
                        /* a select in integers, not a branch per load */
                        const uintptr_t ok =
                            (uintptr_t)0 - (uintptr_t)(rok[q] & ((uint64_t)(gm->iw[q] + kw * c->DW) < W));
                        const uintptr_t in = (uintptr_t)a->x + (uintptr_t)(gm->xo[q] + t) * sizeof(float);
                        const uintptr_t z = (uintptr_t)a->zeros;
                        xp[q] = (const float *)(z ^ ((in ^ z) & ok));
                    } else if (XS) {
                        xp[q] = base[0] + t + q * XS;
                    } else {
                        xp[q] = base[q] + t;
                    }
                }
                steps(acc, xp, wr + kw * ws, vs, LC, P, false);
            }
        }
    }
    store(a, acc, P);
}

/* A 1x1 tile of evenly spaced pixels (XS floats apart), LC = 16: the
 * whole reduction as one run of input steps, the weights of consecutive
 * input blocks being contiguous, with no tap loops around it: ResNet's and
 * the inverted residuals' 1x1 convs reduce over as few as 24 channels, and
 * the general tile's loops around 16 input steps (and GCC's spills there)
 * held them to 55-68 GFLOP/s where this runs 84-108 on cached data. The
 * padding lanes of a last input block with C % 16 <= 8 are skipped. */
static inline __attribute__((always_inline)) void tile1x1(const tile_args *a, const int P, const int XS)
{
    const kn_nchwc_conv_ctx *c = a->c;
    const int64_t vs = a->vs, ws = 16 * vs, xs = c->xs_cb;
    const int64_t cb_half = (c->p->C & 15) && (c->p->C & 15) <= 8 ? c->CBn - 1 : -1;
    __m256 acc[2 * PMAX];
    acc_init(a, acc, P);
    const float *x0 = a->x + a->gm->xo[0] + a->cb0 * xs, *wq = a->w + a->cb0 * ws;
    const int64_t cbf = cb_half >= a->cb0 && cb_half < a->cb1 ? cb_half : a->cb1;
    for (int64_t cb = a->cb0; cb < cbf; cb++, x0 += xs, wq += ws) {
        const float *xp[PMAX];
#pragma GCC unroll 6
        for (int q = 0; q < P; q++)
            xp[q] = x0 + q * XS;
        if (a->lo_only)
            steps(acc, xp, wq, vs, 16, P, true);
        else
            steps(acc, xp, wq, vs, 16, P, false);
    }
    if (cbf < a->cb1) {
        const float *xp[PMAX];
#pragma GCC unroll 6
        for (int q = 0; q < P; q++)
            xp[q] = x0 + q * XS;
        if (a->lo_only)
            steps(acc, xp, wq, vs, 8, P, true);
        else
            steps(acc, xp, wq, vs, 8, P, false);
    }
    store(a, acc, P);
}

typedef void (*tile_fn)(const tile_args *a);

/* kinds of tile: window pointers per pixel, checked, evenly spaced by one
 * or two pixels */
enum { ANY, CHECKED, STEP1, STEP2, ONE1, ONE2, KINDS };

#define TILE_DEF(LC, P)                                                                                 \
    __attribute__((noinline)) static void tile_##LC##_##P(const tile_args *a)                          \
    {                                                                                                   \
        tile(a, LC, P, 0, false);                                                                       \
    }                                                                                                   \
    __attribute__((noinline)) static void tilec_##LC##_##P(const tile_args *a)                         \
    {                                                                                                   \
        tile(a, LC, P, 0, true);                                                                        \
    }                                                                                                   \
    __attribute__((noinline)) static void tile1_##LC##_##P(const tile_args *a)                         \
    {                                                                                                   \
        tile(a, LC, P, LC, false);                                                                      \
    }                                                                                                   \
    __attribute__((noinline)) static void tile2_##LC##_##P(const tile_args *a)                         \
    {                                                                                                   \
        tile(a, LC, P, 2 * LC, false);                                                                  \
    }
#define TILE_ROW(LC) TILE_DEF(LC, 1) TILE_DEF(LC, 2) TILE_DEF(LC, 3) TILE_DEF(LC, 4) TILE_DEF(LC, 5) TILE_DEF(LC, 6)
TILE_ROW(16)
TILE_ROW(1)

#define ONE_DEF(P)                                                                                      \
    __attribute__((noinline)) static void one1_16_##P(const tile_args *a)                              \
    {                                                                                                   \
        tile1x1(a, P, 16);                                                                              \
    }                                                                                                   \
    __attribute__((noinline)) static void one2_16_##P(const tile_args *a)                              \
    {                                                                                                   \
        tile1x1(a, P, 32);                                                                              \
    }
ONE_DEF(1)
ONE_DEF(2)
ONE_DEF(3)
ONE_DEF(4)
ONE_DEF(5)
ONE_DEF(6)

#define TILE_PTRS(T, LC) {T##_##LC##_1, T##_##LC##_2, T##_##LC##_3, T##_##LC##_4, T##_##LC##_5, T##_##LC##_6}

/* [kind][LC == 1][P - 1] */
static const tile_fn tiles[KINDS][2][PMAX] = {
    {TILE_PTRS(tile, 16), TILE_PTRS(tile, 1)},
    {TILE_PTRS(tilec, 16), TILE_PTRS(tilec, 1)},
    {TILE_PTRS(tile1, 16), TILE_PTRS(tile1, 1)},
    {TILE_PTRS(tile2, 16), TILE_PTRS(tile2, 1)},
    /* 1x1 tiles for LC = 16 only (pixels() never picks them for LC = 1) */
    {TILE_PTRS(one1, 16), TILE_PTRS(tile1, 1)},
    {TILE_PTRS(one2, 16), TILE_PTRS(tile2, 1)},
};

/* The np pixels from output row oh, column ow into a's geometry; true if
 * every tap of every pixel is inside the input. */
static void pixels(const kn_nchwc_conv_ctx *c, tile_geom *a, int64_t oh, int64_t ow, int np)
{
    const kn_nchwc_conv *p = c->p;
    bool inside = true;
    a->np = np;
    for (int q = 0; q < np; q++) {
        inside &= oh >= c->oh_a && oh < c->oh_b && ow >= c->ow_a && ow < c->ow_b;
        a->ih[q] = oh * c->SH - c->PT;
        a->iw[q] = ow * c->SW - c->PL;
        a->xo[q] = a->ih[q] * c->xs_row + a->iw[q] * c->xs_pix;
        if (++ow == c->OW)
            ow = 0, oh++;
    }
    if (inside) {
        a->kh_lo = 0, a->kh_hi = p->KH, a->kw_lo = 0, a->kw_hi = p->KW;
        const bool one = p->KH == 1 && p->KW == 1 && c->Lc == KN_NCHWC_BLOCK;
        a->kind = c->SW == 1 ? (one ? ONE1 : STEP1) : c->SW == 2 ? (one ? ONE2 : STEP2) : ANY;
        const int64_t step = c->SW * c->xs_pix;
        for (int q = 1; q < np; q++)
            if (a->xo[q] != a->xo[0] + q * step)
                a->kind = ANY;
        return;
    }
    /* the union of the pixels' valid taps */
    a->kind = CHECKED;
    a->kh_lo = p->KH, a->kh_hi = 0, a->kw_lo = p->KW, a->kw_hi = 0;
    for (int q = 0; q < np; q++) {
        int64_t lo, hi;
        kn_nchwc_taps(a->ih[q], c->DH, p->KH, c->H, &lo, &hi);
        if (lo < hi)
            a->kh_lo = KN_MIN(a->kh_lo, lo), a->kh_hi = KN_MAX(a->kh_hi, hi);
        kn_nchwc_taps(a->iw[q], c->DW, p->KW, c->W, &lo, &hi);
        if (lo < hi)
            a->kw_lo = KN_MIN(a->kw_lo, lo), a->kw_hi = KN_MAX(a->kw_hi, hi);
    }
}

void kn_nchwc_conv_range_avx2(const kn_nchwc_conv_ctx *c, int64_t n, int64_t g, int64_t s, int64_t e)
{
    const kn_nchwc_conv *p = c->p;
    const int64_t nfg = kn_nchwc_group_blocks(c, g);
    const float *w = p->w + g * KN_NCHWC_GROUP * KN_NCHWC_BLOCK * c->KK;
    const float *bias = p->bias + g * KN_NCHWC_GROUP * KN_NCHWC_BLOCK;
    const int64_t y0 = n * c->ys_img + g * KN_NCHWC_GROUP * c->ys_blk;
    /* passes of equal length (the last one not left short) */
    const int64_t per_cb = p->KH * p->KW * c->Lc * KN_NCHWC_BLOCK * (int64_t)sizeof(float);
    const int64_t cbmax = KN_MAX((int64_t)1, KN_NCHWC_PASS_W / per_cb);
    const int64_t npass = (c->CBn + cbmax - 1) / cbmax, cbc = (c->CBn + npass - 1) / npass;
    tile_args a = {.c = c, .x = c->x + n * c->xs_img, .zeros = zeros, .vs = nfg * KN_NCHWC_BLOCK};
    const int lc1 = c->Lc == 1;
    tile_geom geom[GEOM_TILES];
    /* windows of up to GEOM_TILES tiles (one for the chunks the driver
     * makes); the pass split is the same in each, so the operations per
     * output element depend only on the shape */
    for (int64_t ws = s; ws < e; ws += GEOM_TILES * PMAX) {
        const int64_t we = KN_MIN(e, ws + GEOM_TILES * PMAX);
        const int nt = (int)((we - ws + PMAX - 1) / PMAX);
        int64_t oh = ws / c->OW, ow = ws % c->OW;
        for (int t = 0; t < nt; t++) {
            const int np = (int)KN_MIN(we - ws - t * PMAX, (int64_t)PMAX);
            pixels(c, &geom[t], oh, ow, np);
            ow += np;
            oh += ow / c->OW;
            ow %= c->OW;
        }
        for (int64_t f = 0; f < nfg; f++) {
            a.w = w + f * KN_NCHWC_BLOCK;
            a.bias = bias + f * KN_NCHWC_BLOCK;
            a.lo_only = g * KN_NCHWC_GROUP + f == c->MB - 1 && (p->M & 15) && (p->M & 15) <= 8;
            for (a.cb0 = 0; a.cb0 < c->CBn; a.cb0 += cbc) {
                a.cb1 = KN_MIN(a.cb0 + cbc, c->CBn);
                a.first = a.cb0 == 0;
                a.last = a.cb1 == c->CBn;
                const int64_t off = y0 + f * c->ys_blk + ws * KN_NCHWC_BLOCK;
                /* the weights of the next pass (or the next block's first,
                 * or after the last the first of the group the thread's
                 * next task likely runs), one input step's vector per
                 * line, prefetched to L2 a share per tile while this pass
                 * computes */
                const int64_t taps = p->KH * p->KW * c->Lc, first_steps = KN_MIN(cbc, c->CBn) * taps;
                int64_t nsteps = first_steps, pstride = a.vs * (int64_t)sizeof(float);
                const char *pf = (const char *)(a.w + KN_NCHWC_BLOCK);
                if (a.cb1 < c->CBn) {
                    nsteps = KN_MIN(cbc, c->CBn - a.cb1) * taps;
                    pf = (const char *)(a.w + a.cb1 * taps * a.vs);
                } else if (f + 1 == nfg) {
                    /* tasks run (image, chunk, group) or (image, group,
                     * chunk), see conv_task_run */
                    const int64_t g2 = c->chunk_outer || e == c->OH * c->OW ? (g + 1 < c->G ? g + 1 : 0) : g;
                    const int64_t nfg2 = kn_nchwc_group_blocks(c, g2);
                    pf = (const char *)(p->w + g2 * KN_NCHWC_GROUP * KN_NCHWC_BLOCK * c->KK);
                    pstride = nfg2 * KN_NCHWC_BLOCK * (int64_t)sizeof(float);
                    nsteps = KN_MIN(KN_MAX((int64_t)1, KN_NCHWC_PASS_W / (taps * KN_NCHWC_BLOCK * (int64_t)sizeof(float))),
                                    c->CBn) * taps;
                }
                const int64_t share = (nsteps + nt - 1) / nt;
                int64_t done = 0;
                for (int t = 0; t < nt; t++) {
                    for (int64_t k = 0; k < share && done < nsteps; k++, done++)
                        _mm_prefetch(pf + done * pstride, _MM_HINT_T1);
                    a.gm = &geom[t];
                    a.y = c->y + off + t * PMAX * KN_NCHWC_BLOCK;
                    a.res = c->res ? c->res + off + t * PMAX * KN_NCHWC_BLOCK : NULL;
                    tiles[geom[t].kind][lc1][geom[t].np - 1](&a);
                }
            }
        }
    }
}
