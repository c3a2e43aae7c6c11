/* GEMM driver: cache blocking (K in KC slices; M and N in tiles spread over
 * the thread pool), packing of A and B, epilogue. The inner loops are the
 * per-ISA micro-kernels. Each output tile is computed by one task with a
 * fixed order of operations, so results do not depend on thread count. */
#include "ops/sgemm.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#define KC 256
/* K slice of the transposed path: each slice ends in a transposed store of
 * the tile, so longer slices; its panels (32 rows of A, at most 8 x 16
 * columns of B) stay in L2 at 512. */
#define TR_KC 512
#define MC_PANELS_ROWS 96   /* rows of A per task (rounded to MR) */
#define NC_COLS 256         /* columns of B per task (rounded to NR) */

int kn_sgemm_mr(kn_isa_level isa)
{
    return isa == KN_ISA_AVX512 ? KN_SGEMM_MR_AVX512 : isa == KN_ISA_AVX2 ? KN_SGEMM_MR_AVX2 : KN_SGEMM_MR_GENERIC;
}

int kn_sgemm_nr(kn_isa_level isa)
{
    return isa == KN_ISA_AVX512 ? KN_SGEMM_NR_AVX512 : isa == KN_ISA_AVX2 ? KN_SGEMM_NR_AVX2 : KN_SGEMM_NR_GENERIC;
}

static kn_sgemm_kernel_fn kernel_for(kn_isa_level isa)
{
    return isa == KN_ISA_AVX512 ? kn_sgemm_kernel_avx512
           : isa == KN_ISA_AVX2 ? kn_sgemm_kernel_avx2
                                : kn_sgemm_kernel_generic;
}

float kn_act_scalar(const kn_epilogue *ep, float x)
{
    switch (ep->act) {
    case KN_ACT_NONE: return x;
    case KN_ACT_RELU: return x > 0.0f ? x : 0.0f;
    case KN_ACT_CLIP: return x < ep->alpha ? ep->alpha : (x > ep->beta ? ep->beta : x);
    case KN_ACT_LEAKY_RELU: return x < 0.0f ? ep->alpha * x : x;
    case KN_ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case KN_ACT_HARD_SIGMOID: {
        float v = ep->alpha * x + ep->beta;
        return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
    }
    case KN_ACT_HARD_SWISH: {
        float v = x / 6.0f + 0.5f;
        return x * (v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v));
    }
    case KN_ACT_SILU: return x / (1.0f + expf(-x));
    }
    return x;
}

typedef void (*act_fn)(const kn_epilogue *ep, float *x, int64_t n);
static act_fn act_vector;
static _Atomic(act_fn) act_cached;
static pthread_once_t act_once = PTHREAD_ONCE_INIT;

/* Activations are elementwise, so the vector form is picked once per
 * process from what the CPU has (not per session): results differ from the
 * scalar form only by the inline vector exp (act_avx2/512.c, <= 1.3 ulp). */
static void pick_act(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        act_vector = kn_act_apply_avx512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        act_vector = kn_act_apply_avx2;
    atomic_store_explicit(&act_cached, act_vector ? act_vector : kn_act_apply_ref, memory_order_release);
}

/* Called per tile row by the AVX2 GEMM kernel (hundreds of thousands of
 * times per run): after the first call, one atomic load instead of
 * pthread_once. */
void kn_act_apply(const kn_epilogue *ep, float *x, int64_t n)
{
    if (ep->act == KN_ACT_NONE)
        return;
    act_fn f = atomic_load_explicit(&act_cached, memory_order_acquire);
    if (!f) {
        pthread_once(&act_once, pick_act);
        f = atomic_load_explicit(&act_cached, memory_order_acquire);
    }
    f(ep, x, n);
}

void kn_act_apply_ref(const kn_epilogue *ep, float *x, int64_t n)
{
    switch (ep->act) {
    case KN_ACT_NONE: return;
    case KN_ACT_RELU:
        for (int64_t i = 0; i < n; i++)
            x[i] = x[i] > 0.0f ? x[i] : 0.0f;
        return;
    case KN_ACT_CLIP:
        for (int64_t i = 0; i < n; i++)
            x[i] = x[i] < ep->alpha ? ep->alpha : (x[i] > ep->beta ? ep->beta : x[i]);
        return;
    default:
        for (int64_t i = 0; i < n; i++)
            x[i] = kn_act_scalar(ep, x[i]);
    }
}

void kn_epilogue_tile(const kn_epilogue *ep, float *C, int64_t ldc, int64_t row0, int64_t col0, int m, int n)
{
    for (int i = 0; i < m; i++) {
        float *c = C + (int64_t)i * ldc;
        if (ep->bias) {
            float b = ep->bias[row0 + i];
            for (int j = 0; j < n; j++)
                c[j] += b;
        }
        if (ep->residual) {
            const float *r = ep->residual + (row0 + i) * ep->ldr + col0;
            for (int j = 0; j < n; j++)
                c[j] += r[j];
        }
        kn_act_apply(ep, c, n);
    }
}

kiln_status kn_sgemm_pack_a(kn_isa_level isa, int64_t M, int64_t K, const float *A, int64_t lda, bool trans_a,
                            kn_packed_a *out)
{
    int mr = kn_sgemm_mr(isa);
    int64_t panels = (M + mr - 1) / mr;
    size_t bytes;
    if (!kn_mul_size((size_t)panels * (size_t)mr, (size_t)(K ? K : 1) * sizeof(float), &bytes))
        return kn_error(KILN_ERROR_LIMIT, "weight matrix %lldx%lld is too large to pack", (long long)M, (long long)K);
    float *d = kn_aligned_alloc(bytes);
    if (!d)
        return KN_NOMEM();
    /* Row by row, each read contiguous (the per-element form with the
     * padding and transpose tests inside was a fifth of model load). */
    for (int64_t p = 0; p < panels; p++) {
        float *dst = d + p * mr * K;
        int64_t rows = M - p * mr < mr ? M - p * mr : mr;
        for (int64_t i = 0; i < rows; i++) {
            int64_t r = p * mr + i;
            if (trans_a)
                for (int64_t k = 0; k < K; k++)
                    dst[k * mr + i] = A[k * lda + r];
            else
                for (int64_t k = 0; k < K; k++)
                    dst[k * mr + i] = A[r * lda + k];
        }
        for (int64_t i = rows; i < mr; i++)
            for (int64_t k = 0; k < K; k++)
                dst[k * mr + i] = 0.0f;
    }
    out->data = d;
    out->M = M;
    out->K = K;
    out->mr = mr;
    out->isa = isa;
    return KILN_OK;
}

void kn_packed_a_free(kn_packed_a *p)
{
    if (p) {
        kn_aligned_free(p->data);
        p->data = NULL;
    }
}


/* ---- packing B ---------------------------------------------------------- */

typedef struct pack_ctx {
    const kn_bsrc *B;
    float *Bp;      /* panel panel0 goes first */
    int64_t N, k0, kc, panel0;
    int nr;
    bool avx512; /* kn_sgemm_pack_b_avx512 handles B */
} pack_ctx;

static void pack_b_matrix(const pack_ctx *p, int64_t panel)
{
    const kn_bsrc *B = p->B;
    int nr = p->nr;
    int64_t n0 = panel * nr;
    int nn = (int)KN_MIN((int64_t)nr, p->N - n0);
    float *dst = p->Bp + (panel - p->panel0) * nr * p->kc;
    for (int64_t k = 0; k < p->kc; k++, dst += nr) {
        int64_t kk = p->k0 + k;
        if (!B->trans) {
            const float *src = B->data + kk * B->ld + n0;
            memcpy(dst, src, (size_t)nn * sizeof(float));
        } else {
            for (int j = 0; j < nn; j++)
                dst[j] = B->data[(n0 + j) * B->ld + kk];
        }
        for (int j = nn; j < nr; j++)
            dst[j] = 0.0f;
    }
}

/* Implicit im2col: row k = (c, kh, kw) of the virtual matrix, columns are
 * output pixels. A panel's columns are cut once into runs within one output
 * row; for each k row, the taps of a run that fall in the padding are
 * zero-filled at its ends and the rest copied, so no per-element bounds
 * test remains. Which input row a run reads depends only on kh, and its
 * padding and source offset only on kw: for kernels up to PACK_TAPS wide
 * both are tabulated once per panel, so a k row costs little more than
 * its copies. */
#define PACK_TAPS 16

typedef struct pack_run {
    int64_t oh, ow0;
    int lane, len;
} pack_run;

/* Leading zeros, copied values and source offset of a run for one kw. */
typedef struct run_cols {
    int zeros, copy;
    int64_t src; /* of the first copied value, from the input row start */
} run_cols;

static run_cols cols_for(const kn_bsrc *B, const pack_run *r, int64_t kw)
{
    int64_t off = kw * B->DW - B->PW; /* iw = ow * SW + off */
    /* ow range with 0 <= iw < W */
    int64_t lo = off >= 0 ? 0 : (-off + B->SW - 1) / B->SW;
    int64_t hi = B->W - off <= 0 ? 0 : (B->W - off + B->SW - 1) / B->SW;
    int64_t a0 = KN_MAX(lo, r->ow0), a1 = KN_MIN(hi, r->ow0 + r->len);
    if (a1 <= a0)
        return (run_cols){r->len, 0, 0};
    return (run_cols){(int)(a0 - r->ow0), (int)(a1 - a0), a0 * B->SW + off};
}

static void pack_b_conv(const pack_ctx *p, int64_t panel)
{
    const kn_bsrc *B = p->B;
    int nr = p->nr;
    int64_t n0 = panel * nr;
    int nn = (int)KN_MIN((int64_t)nr, p->N - n0);
    float *dst = p->Bp + (panel - p->panel0) * nr * p->kc;
    pack_run runs[KN_SGEMM_NR_AVX512];
    int nruns = 0;
    for (int j = 0; j < nn;) {
        int64_t n = n0 + j, ow0 = n % B->OW;
        int len = (int)KN_MIN((int64_t)(nn - j), B->OW - ow0);
        runs[nruns++] = (pack_run){n / B->OW, ow0, j, len};
        j += len;
    }
    bool tab = B->KH <= PACK_TAPS && B->KW <= PACK_TAPS;
    int64_t rowoff[PACK_TAPS][KN_SGEMM_NR_AVX512];
    run_cols cols[PACK_TAPS][KN_SGEMM_NR_AVX512];
    for (int64_t kh = 0; tab && kh < B->KH; kh++)
        for (int r = 0; r < nruns; r++) {
            int64_t ih = runs[r].oh * B->SH - B->PH + kh * B->DH;
            rowoff[kh][r] = ih < 0 || ih >= B->H ? -1 : ih * B->W;
        }
    for (int64_t kw = 0; tab && kw < B->KW; kw++)
        for (int r = 0; r < nruns; r++)
            cols[kw][r] = cols_for(B, &runs[r], kw);
    int64_t khw = B->KH * B->KW;
    int64_t c = p->k0 / khw, kh = p->k0 % khw / B->KW, kw = p->k0 % B->KW;
    for (int64_t k = 0; k < p->kc; k++, dst += nr) {
        const float *plane = B->data + c * B->H * B->W;
        for (int r = 0; r < nruns; r++) {
            float *d = dst + runs[r].lane;
            int run = runs[r].len;
            int64_t ro;
            run_cols rc;
            if (tab) {
                ro = rowoff[kh][r];
                rc = cols[kw][r];
            } else {
                int64_t ih = runs[r].oh * B->SH - B->PH + kh * B->DH;
                ro = ih < 0 || ih >= B->H ? -1 : ih * B->W;
                rc = cols_for(B, &runs[r], kw);
            }
            if (ro < 0 || rc.copy == 0) {
                memset(d, 0, (size_t)run * sizeof(float));
                continue;
            }
            const float *src = plane + ro + rc.src;
            int i = 0;
            for (; i < rc.zeros; i++)
                d[i] = 0.0f;
            if (B->SW == 1) {
                memcpy(d + i, src, (size_t)rc.copy * sizeof(float));
                i += rc.copy;
            } else {
                for (int e = 0; e < rc.copy; e++)
                    d[i++] = src[e * B->SW];
            }
            for (; i < run; i++)
                d[i] = 0.0f;
        }
        for (int jj = nn; jj < nr; jj++)
            dst[jj] = 0.0f;
        if (++kw == B->KW) {
            kw = 0;
            if (++kh == B->KH) {
                kh = 0;
                c++;
            }
        }
    }
}

static void pack_panel(const pack_ctx *p, int64_t panel)
{
    if (p->avx512) {
        int64_t n0 = panel * p->nr;
        kn_sgemm_pack_b_avx512(p->B, n0, (int)KN_MIN((int64_t)p->nr, p->N - n0), p->k0, p->kc,
                               p->Bp + (panel - p->panel0) * p->nr * p->kc, p->nr);
        return;
    }
    if (p->B->kind == KN_BSRC_CONV2D)
        pack_b_conv(p, panel);
    else
        pack_b_matrix(p, panel);
}

/* ---- compute -----------------------------------------------------------
 * One parallel region per GEMM: each task owns a block of column panels and
 * a block of row panels, packs its own B columns for every K slice into a
 * scratch slot it holds for the task, and computes its C tiles. Fewer
 * synchronization points matter on small machines where a descheduled
 * worker stalls every region; the packing repeated across row blocks costs
 * about 1/MC of the arithmetic. */

#define KN_SGEMM_MAX_SLOTS 64

typedef struct compute_ctx {
    const kn_packed_a *A;
    const kn_bsrc *B;
    float *C;
    int64_t ldc, N;
    const kn_epilogue *ep;
    kn_sgemm_kernel_fn kernel;
    bool pack_avx512;
    int mr, nr;
    int64_t m_panels_per_task, n_panels_per_task;
    char *scratch;
    size_t slot_bytes;
    int n_slots;
    atomic_int busy[KN_SGEMM_MAX_SLOTS];
} compute_ctx;

/* At most as many tasks run at once as the pool has threads, and there is a
 * slot per thread, so a free slot is found at once in practice. */
static int take_slot(compute_ctx *c)
{
    for (;;) {
        for (int s = 0; s < c->n_slots; s++)
            if (!atomic_exchange_explicit(&c->busy[s], 1, memory_order_acquire))
                return s;
        sched_yield();
    }
}

static void compute_task(void *arg, size_t nb, size_t mb)
{
    compute_ctx *c = arg;
    const kn_packed_a *A = c->A;
    int64_t K = A->K;
    int64_t m_panels = (A->M + c->mr - 1) / c->mr, n_panels = (c->N + c->nr - 1) / c->nr;
    int64_t ip0 = (int64_t)mb * c->m_panels_per_task, ip1 = KN_MIN(ip0 + c->m_panels_per_task, m_panels);
    int64_t jp0 = (int64_t)nb * c->n_panels_per_task, jp1 = KN_MIN(jp0 + c->n_panels_per_task, n_panels);
    int slot = take_slot(c);
    float *Bp = (float *)(c->scratch + (size_t)slot * c->slot_bytes);
    for (int64_t k0 = 0; k0 < K; k0 += KC) {
        int64_t kc = KN_MIN((int64_t)KC, K - k0);
        bool last = k0 + kc >= K;
        pack_ctx pc = {c->B, Bp, c->N, k0, kc, jp0, c->nr, c->pack_avx512};
        for (int64_t jp = jp0; jp < jp1; jp++)
            pack_panel(&pc, jp);
        /* rows in blocks of about MC so the A block stays in L2 while the
         * task's column panels go by */
        int64_t mcp = KN_MAX((int64_t)1, MC_PANELS_ROWS / c->mr);
        for (int64_t ib = ip0; ib < ip1; ib += mcp) {
            int64_t ie = KN_MIN(ib + mcp, ip1);
            for (int64_t jp = jp0; jp < jp1; jp++) {
                const float *bp = Bp + (jp - jp0) * c->nr * kc;
                int64_t col = jp * c->nr;
                int n = (int)KN_MIN((int64_t)c->nr, c->N - col);
                for (int64_t ip = ib; ip < ie; ip++) {
                    int64_t row = ip * c->mr;
                    int m = (int)KN_MIN((int64_t)c->mr, A->M - row);
                    const float *ap = A->data + ip * c->mr * K + k0 * c->mr;
                    float *ct = c->C + row * c->ldc + col;
                    c->kernel(kc, ap, bp, ct, c->ldc, m, n, k0 > 0, last ? c->ep : NULL, row, col);
                }
            }
        }
    }
    atomic_store_explicit(&c->busy[slot], 0, memory_order_release);
}

/* Transposed tasks (few columns): task mb owns m_panels_per_task 16-row A
 * panels, taken two at a time (32 rows) with a lone panel at the end of an
 * odd count, and packs every column of B itself, in panels of
 * KN_SGEMM_TR_COLS columns KN_SGEMM_TR_STRIDE wide. A row's lane computes
 * the same FMA chain in a one- or two-panel call, so where a task starts
 * does not change a result. */
static void compute_task_t(void *arg, size_t mb)
{
    compute_ctx *c = arg;
    const kn_packed_a *A = c->A;
    int64_t K = A->K, M = A->M, N = c->N;
    int64_t panels = (M + 15) / 16, q0 = (int64_t)mb * c->m_panels_per_task;
    int64_t q1 = KN_MIN(q0 + c->m_panels_per_task, panels);
    int64_t n_panels = (N + KN_SGEMM_TR_COLS - 1) / KN_SGEMM_TR_COLS;
    int slot = take_slot(c);
    float *Bp = (float *)(c->scratch + (size_t)slot * c->slot_bytes);
    for (int64_t k0 = 0; k0 < K; k0 += TR_KC) {
        int64_t kc = KN_MIN((int64_t)TR_KC, K - k0);
        bool last = k0 + kc >= K;
        for (int64_t jp = 0; jp < n_panels; jp++) {
            int64_t n0 = jp * KN_SGEMM_TR_COLS;
            kn_sgemm_pack_b_avx512(c->B, n0, (int)KN_MIN((int64_t)KN_SGEMM_TR_COLS, N - n0), k0, kc,
                                   Bp + jp * KN_SGEMM_TR_STRIDE * kc, KN_SGEMM_TR_STRIDE);
        }
        for (int64_t q = q0; q < q1; q += 2) {
            int64_t row = q * 16;
            int m = (int)KN_MIN(q + 1 < q1 ? (int64_t)32 : (int64_t)16, M - row);
            const float *ap = A->data + row * K + k0 * KN_SGEMM_MR_AVX512;
            for (int64_t jp = 0; jp < n_panels; jp++) {
                int64_t col = jp * KN_SGEMM_TR_COLS;
                int n = (int)KN_MIN((int64_t)KN_SGEMM_TR_COLS, N - col);
                kn_sgemm_kernel_t_avx512(kc, ap, KN_SGEMM_MR_AVX512 * K, Bp + jp * KN_SGEMM_TR_STRIDE * kc,
                                         c->C + row * c->ldc + col, c->ldc, m, n, k0 > 0, last ? c->ep : NULL, row,
                                         col);
            }
        }
    }
    atomic_store_explicit(&c->busy[slot], 0, memory_order_release);
}

/* Columns the transposed path packs per K row, or 0 when it does not take
 * N: only for few columns, where 16-lane vectors along N would run partly
 * empty (49 columns fill 49/64 of the lanes) and vectors along M fill more. */
#define TR_MAX_COLS 112
static int64_t tr_cols(kn_isa_level isa, int64_t M, int64_t N)
{
    if (isa != KN_ISA_AVX512 || N > TR_MAX_COLS || M < 16)
        return 0;
    double fill_n = (double)N / (double)((N + 15) / 16 * 16), fill_m = (double)M / (double)((M + 15) / 16 * 16);
    if (fill_m < fill_n + 0.05)
        return 0;
    return (N + KN_SGEMM_TR_COLS - 1) / KN_SGEMM_TR_COLS * KN_SGEMM_TR_STRIDE;
}

/* Columns (rounded to whole panels) one task packs: a slot holds them for
 * one K slice. */
static int64_t task_cols(kn_isa_level isa, int64_t N)
{
    int nr = kn_sgemm_nr(isa);
    int64_t n_panels = (N + nr - 1) / nr;
    int64_t npt = KN_MAX((int64_t)1, NC_COLS / nr);
    return KN_MIN(n_panels, npt) * nr;
}

size_t kn_pool_threads(pthreadpool_t pool)
{
    return pool ? pthreadpool_get_threads_count(pool) : 1;
}

size_t kn_sgemm_scratch_bytes(kn_isa_level isa, int64_t N, int64_t K, size_t threads)
{
    /* room for the transposed path's panels too, whatever M is */
    int64_t tcols = isa == KN_ISA_AVX512 && N <= TR_MAX_COLS
                        ? (N + KN_SGEMM_TR_COLS - 1) / KN_SGEMM_TR_COLS * KN_SGEMM_TR_STRIDE
                        : 0;
    int64_t floats = KN_MAX(task_cols(isa, N) * KN_MIN((int64_t)KC, K), tcols * KN_MIN((int64_t)TR_KC, K));
    size_t slot = (size_t)KN_MAX(floats, (int64_t)1) * sizeof(float);
    slot = (slot + 63) & ~(size_t)63;
    size_t slots = KN_MAX((size_t)1, KN_MIN(threads, (size_t)KN_SGEMM_MAX_SLOTS));
    return slot * slots;
}

void kn_sgemm_run(const kn_packed_a *A, int64_t N, const kn_bsrc *B, float *C, int64_t ldc, const kn_epilogue *ep,
                  void *scratch, size_t scratch_bytes, pthreadpool_t pool)
{
    int mr = A->mr, nr = kn_sgemm_nr(A->isa);
    int64_t M = A->M, K = A->K;
    if (M == 0 || N == 0)
        return;
    if (K == 0) {
        for (int64_t i = 0; i < M; i++) {
            memset(C + i * ldc, 0, (size_t)N * sizeof(float));
            if (ep)
                kn_epilogue_tile(ep, C + i * ldc, ldc, i, 0, 1, (int)N);
        }
        return;
    }
    size_t threads = pool ? pthreadpool_get_threads_count(pool) : 1;
    /* A parallel region costs a few microseconds (much more when a worker
     * has to be scheduled): products this small run on the caller. */
    if ((double)M * (double)N * (double)K < KN_MIN_PARALLEL_MACS)
        threads = 1;
    bool pack_avx512 = A->isa == KN_ISA_AVX512 && kn_sgemm_pack_b_avx512_ok(B);
    int64_t tcols = pack_avx512 ? tr_cols(A->isa, M, N) : 0;
    if (tcols) {
        size_t slot = (size_t)(tcols * KN_MIN((int64_t)TR_KC, K)) * sizeof(float);
        slot = (slot + 63) & ~(size_t)63;
        /* Every task packs all of B (for K x 49 B and 1152 rows, packing
         * is about a seventh of a task's arithmetic), so one task per
         * thread, equal in 16-row panels: 10 panels split 5/5 rather than
         * as 32-row pairs 6/4. */
        int64_t panels = (M + 15) / 16, want = threads > 1 ? (int64_t)threads : 1;
        int64_t ppt = (panels + want - 1) / want;
        int64_t tasks = (panels + ppt - 1) / ppt;
        compute_ctx ctx, *cc = &ctx;
        *cc = (compute_ctx){.A = A, .B = B, .C = C, .ldc = ldc, .N = N, .ep = ep, .m_panels_per_task = ppt,
                            .scratch = scratch, .slot_bytes = slot,
                            .n_slots = (int)KN_MAX((size_t)1, KN_MIN(scratch_bytes / slot, (size_t)KN_SGEMM_MAX_SLOTS))};
        for (int s = 0; s < KN_SGEMM_MAX_SLOTS; s++)
            atomic_init(&cc->busy[s], 0);
        if (pool && threads > 1 && tasks > 1)
            pthreadpool_parallelize_1d(pool, compute_task_t, cc, (size_t)tasks, 0);
        else
            for (int64_t t = 0; t < tasks; t++)
                compute_task_t(cc, (size_t)t);
        return;
    }
    int64_t m_panels = (M + mr - 1) / mr, n_panels = (N + nr - 1) / nr;
    /* A task takes all rows (its B columns are packed once) unless there
     * are too few column blocks to keep the threads busy. */
    int64_t mpt = m_panels, npt = KN_MAX((int64_t)1, NC_COLS / nr);
    while (threads > 1 && ((m_panels + mpt - 1) / mpt) * ((n_panels + npt - 1) / npt) < (int64_t)threads * 4) {
        if (npt > 1)
            npt = (npt + 1) / 2;
        else if (mpt > 1)
            mpt = (mpt + 1) / 2;
        else
            break;
    }
    int64_t mtasks = (m_panels + mpt - 1) / mpt, ntasks = (n_panels + npt - 1) / npt;
    size_t slot = (size_t)(task_cols(A->isa, N) * KN_MIN((int64_t)KC, K)) * sizeof(float);
    slot = (slot + 63) & ~(size_t)63;
    compute_ctx ctx, *cc = &ctx;
    *cc = (compute_ctx){.A = A, .B = B, .C = C, .ldc = ldc, .N = N, .ep = ep, .kernel = kernel_for(A->isa),
                        .pack_avx512 = pack_avx512, .mr = mr, .nr = nr, .m_panels_per_task = mpt, .n_panels_per_task = npt,
                        .scratch = scratch, .slot_bytes = slot,
                        .n_slots = (int)KN_MAX((size_t)1, KN_MIN(scratch_bytes / slot, (size_t)KN_SGEMM_MAX_SLOTS))};
    for (int s = 0; s < KN_SGEMM_MAX_SLOTS; s++)
        atomic_init(&cc->busy[s], 0);
    if (pool && threads > 1 && mtasks * ntasks > 1)
        pthreadpool_parallelize_2d(pool, compute_task, cc, (size_t)ntasks, (size_t)mtasks, 0);
    else
        for (int64_t nb = 0; nb < ntasks; nb++)
            for (int64_t mb = 0; mb < mtasks; mb++)
                compute_task(cc, (size_t)nb, (size_t)mb);
}

void kn_sgemm_kernel_generic(int64_t K, const float *Ap, const float *Bp, float *C, int64_t ldc, int m, int n,
                             bool accumulate, const kn_epilogue *ep, int64_t row0, int64_t col0)
{
    enum { MR = KN_SGEMM_MR_GENERIC, NR = KN_SGEMM_NR_GENERIC };
    float acc[MR][NR];
    memset(acc, 0, sizeof acc);
    for (int64_t k = 0; k < K; k++) {
        const float *a = Ap + k * MR, *b = Bp + k * NR;
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++)
                acc[i][j] += a[i] * b[j];
    }
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
            C[i * ldc + j] = accumulate ? C[i * ldc + j] + acc[i][j] : acc[i][j];
    if (ep)
        kn_epilogue_tile(ep, C, ldc, row0, col0, m, n);
}

void kn_sgemm_naive(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb,
                    float *C, int64_t ldc, const kn_epilogue *ep)
{
    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < N; j++) {
            double s = 0.0;
            for (int64_t k = 0; k < K; k++)
                s += (double)A[i * lda + k] * B[k * ldb + j];
            C[i * ldc + j] = (float)s;
        }
        if (ep)
            kn_epilogue_tile(ep, C + i * ldc, ldc, i, 0, 1, (int)N);
    }
}
