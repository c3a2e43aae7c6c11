/* Gemm and MatMul. Both reduce to row-major GEMM calls on 2-D slices:
 * float32 runs on the cache-blocked reference kn_sgemm_ref (gemm_ref.c),
 * float64 on kn_dgemm_ref, float16 is widened to float32 in scratch memory,
 * and MatMul on int32/int64 uses a plain loop with wrap-around arithmetic.
 * Work is cut into independent (batch, row block, column block) items that
 * the thread pool runs; kn_sgemm_ref's per-element arithmetic does not
 * depend on the cut, so results are identical for any thread count. */
#include "ops/families.h"
#include "ops/sgemm.h"
#include "ops/sgemv.h"
#include "ops/gemm_ref.h"

#include <string.h>

/* ---- shared: splitting GEMM work into items --------------------------- */

#define ROW_BLOCK 64  /* kn_sgemm_ref's MC */
#define COL_BLOCK 128 /* kn_sgemm_ref's NC */
#define MIN_PARALLEL_FLOPS 262144.0

typedef struct mm_job {
    kiln_dtype dtype; /* FLOAT, DOUBLE, INT32 or INT64 (FLOAT16 is widened) */
    bool ta, tb;
    int64_t M, N, K;
    double alpha, beta;
    const void *A, *B;
    void *C;
    int64_t lda, ldb, ldc;
    /* batches: slice b reads A + a_off[b], B + b_off[b], writes C + b * c_stride */
    int64_t batches;
    int batch_rank;
    int64_t batch_dims[KN_MAX_RANK];
    int64_t a_bstride[KN_MAX_RANK], b_bstride[KN_MAX_RANK];
    int64_t c_stride;
    int64_t m_blk, n_blk, m_items, n_items;
} mm_job;

static void batch_offsets(const mm_job *j, int64_t b, int64_t *a_off, int64_t *b_off)
{
    int64_t ao = 0, bo = 0;
    for (int k = j->batch_rank - 1; k >= 0; k--) {
        int64_t i = b % j->batch_dims[k];
        b /= j->batch_dims[k];
        ao += i * j->a_bstride[k];
        bo += i * j->b_bstride[k];
    }
    *a_off = ao;
    *b_off = bo;
}

#define INT_GEMM(name, T, UT)                                                                                  \
    static void name(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T *A, int64_t lda, const T *B,  \
                     int64_t ldb, T *C, int64_t ldc)                                                            \
    {                                                                                                          \
        for (int64_t i = 0; i < M; i++)                                                                        \
            for (int64_t j = 0; j < N; j++) {                                                                  \
                UT s = 0;                                                                                      \
                for (int64_t p = 0; p < K; p++)                                                                \
                    s += (UT)(ta ? A[p * lda + i] : A[i * lda + p]) * (UT)(tb ? B[j * ldb + p] : B[p * ldb + j]); \
                C[i * ldc + j] = (T)s;                                                                         \
            }                                                                                                  \
    }
INT_GEMM(gemm_i32, int32_t, uint32_t)
INT_GEMM(gemm_i64, int64_t, uint64_t)

/* One GEMM on element offsets (in elements of the job's dtype). */
static void gemm_slice(const mm_job *j, int64_t a_off, int64_t b_off, int64_t c_off, int64_t m, int64_t n)
{
    switch (j->dtype) {
    case KILN_DTYPE_FLOAT:
        kn_sgemm_ref(j->ta, j->tb, m, n, j->K, (float)j->alpha, (const float *)j->A + a_off, j->lda,
                     (const float *)j->B + b_off, j->ldb, (float)j->beta, (float *)j->C + c_off, j->ldc);
        break;
    case KILN_DTYPE_DOUBLE:
        kn_dgemm_ref(j->ta, j->tb, m, n, j->K, j->alpha, (const double *)j->A + a_off, j->lda,
                     (const double *)j->B + b_off, j->ldb, j->beta, (double *)j->C + c_off, j->ldc);
        break;
    case KILN_DTYPE_INT32:
        gemm_i32(j->ta, j->tb, m, n, j->K, (const int32_t *)j->A + a_off, j->lda, (const int32_t *)j->B + b_off,
                 j->ldb, (int32_t *)j->C + c_off, j->ldc);
        break;
    case KILN_DTYPE_INT64:
        gemm_i64(j->ta, j->tb, m, n, j->K, (const int64_t *)j->A + a_off, j->lda, (const int64_t *)j->B + b_off,
                 j->ldb, (int64_t *)j->C + c_off, j->ldc);
        break;
    default:
        break;
    }
}

static void mm_item(void *ctx, size_t item)
{
    const mm_job *j = ctx;
    int64_t per_batch = j->m_items * j->n_items;
    int64_t b = (int64_t)item / per_batch, r = (int64_t)item % per_batch;
    int64_t mi = r / j->n_items, ni = r % j->n_items;
    int64_t m0 = mi * j->m_blk, n0 = ni * j->n_blk;
    int64_t m = KN_MIN(j->m_blk, j->M - m0), n = KN_MIN(j->n_blk, j->N - n0);
    int64_t a_off, b_off;
    batch_offsets(j, b, &a_off, &b_off);
    /* Row m0 of op(A) starts at A[m0 * lda] or, transposed, at column m0. */
    a_off += j->ta ? m0 : m0 * j->lda;
    b_off += j->tb ? n0 * j->ldb : n0;
    gemm_slice(j, a_off, b_off, b * j->c_stride + m0 * j->ldc + n0, m, n);
}

static void mm_run_job(mm_job *j, pthreadpool_t pool)
{
    j->m_blk = KN_MAX(j->M, 1);
    j->n_blk = KN_MAX(j->N, 1);
    size_t threads = pool ? pthreadpool_get_threads_count(pool) : 1;
    double flops = 2.0 * (double)j->M * (double)j->N * (double)j->K * (double)j->batches;
    if (threads > 1 && flops >= MIN_PARALLEL_FLOPS) {
        /* Halve blocks (keeping kernel-friendly multiples) until there are a
         * few items per thread. */
        for (;;) {
            int64_t items = j->batches * ((j->M + j->m_blk - 1) / j->m_blk) * ((j->N + j->n_blk - 1) / j->n_blk);
            if (items >= 4 * (int64_t)threads)
                break;
            if (j->m_blk > ROW_BLOCK && j->m_blk >= j->n_blk / 2)
                j->m_blk = (j->m_blk / 2 + ROW_BLOCK - 1) / ROW_BLOCK * ROW_BLOCK;
            else if (j->n_blk > COL_BLOCK)
                j->n_blk = (j->n_blk / 2 + COL_BLOCK - 1) / COL_BLOCK * COL_BLOCK;
            else if (j->m_blk > ROW_BLOCK)
                j->m_blk = (j->m_blk / 2 + ROW_BLOCK - 1) / ROW_BLOCK * ROW_BLOCK;
            else
                break;
        }
    }
    j->m_items = (j->M + j->m_blk - 1) / j->m_blk;
    j->n_items = (j->N + j->n_blk - 1) / j->n_blk;
    if (j->M == 0 || j->N == 0 || j->batches == 0)
        return;
    kn_parallel_for(pool, (size_t)(j->batches * j->m_items * j->n_items), mm_item, j);
}

static void widen_f16(const uint16_t *src, float *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dst[i] = kn_half_to_float(src[i]);
}

static void narrow_f16(const float *src, uint16_t *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dst[i] = kn_float_to_half(src[i]);
}

static size_t f16_scratch(const kn_op_ctx *c, int n_tensors)
{
    size_t total = 0;
    for (int i = 0; i < n_tensors; i++) {
        const kiln_tensor *t = i < c->n_in ? c->in[i] : NULL;
        if (t)
            total += ((size_t)kn_tensor_count(t) * sizeof(float) + 63) / 64 * 64;
    }
    return total + ((size_t)kn_tensor_count(c->out[0]) * sizeof(float) + 63) / 64 * 64;
}

static float *scratch_take(char **cursor, int64_t count)
{
    float *p = (float *)*cursor;
    *cursor += ((size_t)count * sizeof(float) + 63) / 64 * 64;
    return p;
}

/* ---- Gemm ------------------------------------------------------------- */

typedef struct gemm_params {
    int64_t trans_a, trans_b;
    float alpha, beta;
    /* Fully connected layers (constant float B, A not transposed, alpha 1):
     * Y^T = B'^T A^T on the packed GEMM, B' packed once in finalize and
     * beta * C folded into a per-output bias. */
    kn_packed_a *packed;
    float *bias; /* [N] or NULL */
} gemm_params;

static void gemm_free_params(void *params)
{
    gemm_params *p = params;
    if (p) {
        if (p->packed) {
            kn_packed_a_free(p->packed);
            kn_free(p->packed);
        }
        kn_free(p->bias);
    }
    kn_free(p);
}

static kiln_status gemm_finalize(const kn_graph *g, kn_node *n, kn_isa_level isa)
{
    gemm_params *p = n->params;
    if (!p || p->trans_a || p->alpha != 1.0f || n->n_in < 2 || n->in[1] < 0)
        return KILN_OK;
    const kiln_tensor *b = g->values[n->in[1]].constant;
    const kiln_tensor *cc = n->n_in > 2 && n->in[2] >= 0 ? g->values[n->in[2]].constant : NULL;
    if (!b || b->dtype != KILN_DTYPE_FLOAT || b->rank != 2 || (n->n_in > 2 && n->in[2] >= 0 && !cc))
        return KILN_OK;
    int64_t N = p->trans_b ? b->dims[0] : b->dims[1], K = p->trans_b ? b->dims[1] : b->dims[0];
    /* C must be per output column: [N], [1,N] or a scalar */
    if (cc && (cc->dtype != KILN_DTYPE_FLOAT || cc->rank > 2 || (cc->rank == 2 && cc->dims[0] != 1) ||
               (kn_tensor_count(cc) != N && kn_tensor_count(cc) != 1)))
        return KILN_OK;
    kn_packed_a *pa = kn_calloc(1, sizeof *pa);
    float *bias = cc && p->beta != 0.0f ? kn_malloc((size_t)(N ? N : 1) * sizeof(float)) : NULL;
    if (!pa || (cc && p->beta != 0.0f && !bias)) {
        kn_free(pa);
        kn_free(bias);
        return KN_NOMEM();
    }
    /* rows of the packed matrix are output features: B^T when B is [K, N] */
    kiln_status s = kn_sgemm_pack_a(isa, N, K, b->data, b->dims[1], !p->trans_b, pa);
    if (s != KILN_OK) {
        kn_free(pa);
        kn_free(bias);
        return s;
    }
    for (int64_t j = 0; bias && j < N; j++)
        bias[j] = p->beta * ((const float *)cc->data)[kn_tensor_count(cc) == 1 ? 0 : j];
    p->packed = pa;
    p->bias = bias;
    return KILN_OK;
}

static bool gemm_fast(const kn_op_ctx *c)
{
    const gemm_params *p = c->params;
    return p->packed && p->packed->isa == c->isa && c->in[0]->dtype == KILN_DTYPE_FLOAT;
}

static kiln_status gemm_parse(kn_node *n)
{
    gemm_params p = {0};
    KN_TRY(kn_attr_get_int(n, "transA", 0, &p.trans_a));
    KN_TRY(kn_attr_get_int(n, "transB", 0, &p.trans_b));
    KN_TRY(kn_attr_get_float(n, "alpha", 1.0f, &p.alpha));
    KN_TRY(kn_attr_get_float(n, "beta", 1.0f, &p.beta));
    /* Opsets 1..6 "broadcast": C is broadcast either way here, which is a
     * superset of broadcast=0 (C already [M, N]). */
    int64_t bcast;
    KN_TRY(kn_attr_get_int(n, "broadcast", 0, &bcast));
    gemm_params *pp = kn_calloc(1, sizeof *pp);
    if (!pp)
        return KN_NOMEM();
    *pp = p;
    n->params = pp;
    return KILN_OK;
}

/* The dtypes of A (kn_op.types; B and C must match A). */
static const kiln_dtype gemm_types[] = {KILN_DTYPE_FLOAT, KILN_DTYPE_DOUBLE, KILN_DTYPE_FLOAT16, KILN_DTYPE_UNDEFINED};
static const kiln_dtype matmul_types[] = {KILN_DTYPE_FLOAT, KILN_DTYPE_DOUBLE, KILN_DTYPE_FLOAT16, KILN_DTYPE_INT32,
                                          KILN_DTYPE_INT64, KILN_DTYPE_UNDEFINED};

static kiln_status gemm_infer(kn_op_ctx *c)
{
    const gemm_params *p = c->params;
    const kn_node *n = c->node;
    KN_TRY(kn_check_arity(c, n->opset < 11 ? 3 : 2, 3, 1, 1));
    for (int i = 1; i < 3; i++)
        KN_TRY(kn_check_dtype(c, i, gemm_types));
    const kiln_tensor *a = c->in[0], *b = c->in[1], *cc = c->n_in > 2 ? c->in[2] : NULL;
    if (a->rank != 2 || b->rank != 2)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (Gemm): A and B must be 2-D, got rank %d and %d", n->name,
                        a->rank, b->rank);
    if (b->dtype != a->dtype || (cc && cc->dtype != a->dtype))
        return kn_error(KILN_ERROR_DTYPE, "node '%s' (Gemm): A, B and C must have one dtype", n->name);
    int64_t M = p->trans_a ? a->dims[1] : a->dims[0], K = p->trans_a ? a->dims[0] : a->dims[1];
    int64_t Kb = p->trans_b ? b->dims[1] : b->dims[0], N = p->trans_b ? b->dims[0] : b->dims[1];
    if (K != Kb)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (Gemm): inner dimensions differ: A gives K=%lld, B gives %lld",
                        n->name, (long long)K, (long long)Kb);
    int64_t out[2] = {M, N};
    if (cc) {
        if (cc->rank > 2)
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (Gemm): C has rank %d, at most 2 allowed", n->name,
                            cc->rank);
        for (int i = 0; i < cc->rank; i++) {
            int64_t want = out[2 - cc->rank + i];
            if (cc->dims[i] != want && cc->dims[i] != 1)
                return kn_error(KILN_ERROR_SHAPE,
                                "node '%s' (Gemm): C dim %d is %lld, cannot broadcast to [%lld,%lld]", n->name, i,
                                (long long)cc->dims[i], (long long)M, (long long)N);
        }
    }
    return kn_set_output(c, 0, a->dtype, 2, out);
}

static kiln_status gemm_prepare(kn_op_ctx *c)
{
    if (gemm_fast(c)) {
        const gemm_params *p = c->params;
        int64_t M = c->out[0]->dims[0], N = c->out[0]->dims[1];
        size_t sz = kn_sgemm_scratch_bytes(c->isa, M, p->packed->K, kn_pool_threads(c->pool));
        /* Y^T lands in scratch and is transposed unless M == 1 */
        size_t yt = M > 1 ? (size_t)(M * N) * sizeof(float) : 0;
        c->scratch_size = ((sz + 63) & ~(size_t)63) + yt;
        return KILN_OK;
    }
    if (c->in[0]->dtype == KILN_DTYPE_FLOAT16)
        c->scratch_size = f16_scratch(c, 2);
    return KILN_OK;
}

/* Y = broadcast(C) of element size esz. */
static void fill_bias(const kiln_tensor *cc, int64_t M, int64_t N, void *y, size_t esz)
{
    int64_t cm = cc->rank == 2 ? cc->dims[0] : 1;
    int64_t cn = cc->rank >= 1 ? cc->dims[cc->rank - 1] : 1;
    int64_t si = cm == 1 ? 0 : cn, sj = cn == 1 ? 0 : 1;
    const char *src = cc->data;
    char *dst = y;
    for (int64_t i = 0; i < M; i++) {
        if (sj == 1) {
            memcpy(dst + (size_t)(i * N) * esz, src + (size_t)(i * si) * esz, (size_t)N * esz);
            continue;
        }
        for (int64_t j = 0; j < N; j++)
            memcpy(dst + (size_t)(i * N + j) * esz, src + (size_t)(i * si) * esz, esz);
    }
}

static kiln_status gemm_run(kn_op_ctx *c)
{
    const gemm_params *p = c->params;
    const kiln_tensor *a = c->in[0], *b = c->in[1], *cc = c->n_in > 2 ? c->in[2] : NULL;
    kiln_tensor *y = c->out[0];
    int64_t M = y->dims[0], N = y->dims[1];
    if (gemm_fast(c)) {
        if (M == 0 || N == 0)
            return KILN_OK;
        kn_epilogue ep = {.bias = p->bias};
        if (M == 1) {
            /* batch 1: a matrix-vector product, not a one-column GEMM */
            kn_sgemv_packed(p->packed, a->data, y->data, p->bias ? &ep : NULL, c->pool);
            return KILN_OK;
        }
        size_t gemm_bytes = kn_sgemm_scratch_bytes(c->isa, M, p->packed->K, kn_pool_threads(c->pool));
        size_t sz = (gemm_bytes + 63) & ~(size_t)63;
        float *yt = M > 1 ? (float *)((char *)c->scratch + sz) : y->data;
        kn_bsrc src = {.kind = KN_BSRC_MATRIX, .data = a->data, .ld = p->packed->K, .trans = true};
        kn_sgemm_run(p->packed, M, &src, yt, M, p->bias ? &ep : NULL, c->scratch, gemm_bytes, c->pool);
        if (M > 1) {
            float *yd = y->data;
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < N; j++)
                    yd[i * N + j] = yt[j * M + i];
        }
        return KILN_OK;
    }
    mm_job j = {.dtype = a->dtype, .ta = p->trans_a != 0, .tb = p->trans_b != 0, .M = M, .N = N,
                .K = p->trans_a ? a->dims[0] : a->dims[1], .alpha = p->alpha, .A = a->data, .B = b->data,
                .C = y->data, .lda = a->dims[1], .ldb = b->dims[1], .ldc = N, .batches = 1, .c_stride = 0};
    bool use_c = cc && p->beta != 0.0f;
    j.beta = use_c ? p->beta : 0.0;
    if (a->dtype == KILN_DTYPE_FLOAT16) {
        char *cur = c->scratch;
        float *af = scratch_take(&cur, kn_tensor_count(a)), *bf = scratch_take(&cur, kn_tensor_count(b));
        float *yf = scratch_take(&cur, M * N);
        widen_f16(a->data, af, kn_tensor_count(a));
        widen_f16(b->data, bf, kn_tensor_count(b));
        if (use_c) {
            fill_bias(cc, M, N, y->data, sizeof(uint16_t));
            widen_f16(y->data, yf, M * N);
        }
        j.dtype = KILN_DTYPE_FLOAT;
        j.A = af;
        j.B = bf;
        j.C = yf;
        mm_run_job(&j, c->pool);
        narrow_f16(yf, y->data, M * N);
        return KILN_OK;
    }
    if (use_c)
        fill_bias(cc, M, N, y->data, kiln_dtype_size(y->dtype));
    mm_run_job(&j, c->pool);
    return KILN_OK;
}

/* ---- MatMul ----------------------------------------------------------- */

/* Numpy matmul geometry: 1-D A is [1, K] and 1-D B is [K, 1] with that dim
 * dropped from the result; leading dims broadcast. */
typedef struct mm_geom {
    int64_t M, N, K;
    int batch_rank;
    int64_t batch[KN_MAX_RANK];
    int64_t a_bstride[KN_MAX_RANK], b_bstride[KN_MAX_RANK];
    int out_rank;
    int64_t out[KN_MAX_RANK];
} mm_geom;

static kiln_status matmul_geom(const kn_op_ctx *c, mm_geom *g)
{
    const kiln_tensor *a = c->in[0], *b = c->in[1];
    const char *name = c->node->name;
    if (a->rank < 1 || b->rank < 1)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (MatMul): inputs must have rank >= 1, got %d and %d", name,
                        a->rank, b->rank);
    int64_t ad[KN_MAX_RANK + 1], bd[KN_MAX_RANK + 1];
    int ar = a->rank, br = b->rank;
    memcpy(ad, a->dims, sizeof(int64_t) * (size_t)ar);
    memcpy(bd, b->dims, sizeof(int64_t) * (size_t)br);
    if (ar == 1) {
        ad[1] = ad[0];
        ad[0] = 1;
        ar = 2;
    }
    if (br == 1) {
        bd[1] = 1;
        br = 2;
    }
    g->M = ad[ar - 2];
    g->K = ad[ar - 1];
    g->N = bd[br - 1];
    if (bd[br - 2] != g->K)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (MatMul): inner dimensions differ: %lld vs %lld", name,
                        (long long)g->K, (long long)bd[br - 2]);
    KN_TRY(kn_broadcast_shape(c, ar - 2, ad, br - 2, bd, &g->batch_rank, g->batch));
    int64_t a_mat = g->M * g->K, b_mat = g->K * g->N;
    kn_broadcast_strides(ar - 2, ad, g->batch_rank, g->batch, g->a_bstride);
    kn_broadcast_strides(br - 2, bd, g->batch_rank, g->batch, g->b_bstride);
    for (int i = 0; i < g->batch_rank; i++) {
        g->a_bstride[i] *= a_mat;
        g->b_bstride[i] *= b_mat;
    }
    g->out_rank = 0;
    for (int i = 0; i < g->batch_rank; i++)
        g->out[g->out_rank++] = g->batch[i];
    if (a->rank > 1)
        g->out[g->out_rank++] = g->M;
    if (b->rank > 1) {
        if (g->out_rank >= KN_MAX_RANK)
            return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (MatMul): result rank exceeds %d", name, KN_MAX_RANK);
        g->out[g->out_rank++] = g->N;
    }
    return KILN_OK;
}

static kiln_status matmul_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 2, 2, 1, 1));
    KN_TRY(kn_check_dtype(c, 1, matmul_types));
    if (c->in[0]->dtype != c->in[1]->dtype)
        return kn_error(KILN_ERROR_DTYPE, "node '%s' (MatMul): inputs have dtypes %s and %s", c->node->name,
                        kiln_dtype_name(c->in[0]->dtype), kiln_dtype_name(c->in[1]->dtype));
    mm_geom g;
    KN_TRY(matmul_geom(c, &g));
    return kn_set_output(c, 0, c->in[0]->dtype, g.out_rank, g.out);
}

static kiln_status matmul_prepare(kn_op_ctx *c)
{
    if (c->in[0]->dtype == KILN_DTYPE_FLOAT16)
        c->scratch_size = f16_scratch(c, 2);
    return KILN_OK;
}

static kiln_status matmul_run(kn_op_ctx *c)
{
    const kiln_tensor *a = c->in[0], *b = c->in[1];
    kiln_tensor *y = c->out[0];
    mm_geom g;
    KN_TRY(matmul_geom(c, &g));
    mm_job j = {.dtype = a->dtype, .M = g.M, .N = g.N, .K = g.K, .alpha = 1.0, .beta = 0.0, .A = a->data,
                .B = b->data, .C = y->data, .lda = g.K, .ldb = g.N, .ldc = g.N, .batches = 1,
                .batch_rank = g.batch_rank, .c_stride = g.M * g.N};
    bool a_dense = true, b_shared = true;
    int64_t expect = g.M * g.K;
    for (int i = g.batch_rank - 1; i >= 0; i--) {
        j.batches *= g.batch[i];
        j.batch_dims[i] = g.batch[i];
        j.a_bstride[i] = g.a_bstride[i];
        j.b_bstride[i] = g.b_bstride[i];
        if (g.batch[i] != 1 && g.a_bstride[i] != expect)
            a_dense = false;
        if (g.batch[i] != 1 && g.b_bstride[i] != 0)
            b_shared = false;
        expect *= g.batch[i];
    }
    /* A stack of A slices against one B is one tall GEMM: better blocking
     * and fewer, larger work items. */
    if (j.batches > 1 && a_dense && b_shared) {
        j.M *= j.batches;
        j.batches = 1;
        j.batch_rank = 0;
    }
    if (a->dtype != KILN_DTYPE_FLOAT16) {
        mm_run_job(&j, c->pool);
        return KILN_OK;
    }
    char *cur = c->scratch;
    float *af = scratch_take(&cur, kn_tensor_count(a)), *bf = scratch_take(&cur, kn_tensor_count(b));
    float *yf = scratch_take(&cur, kn_tensor_count(y));
    widen_f16(a->data, af, kn_tensor_count(a));
    widen_f16(b->data, bf, kn_tensor_count(b));
    j.dtype = KILN_DTYPE_FLOAT;
    j.A = af;
    j.B = bf;
    j.C = yf;
    mm_run_job(&j, c->pool);
    narrow_f16(yf, y->data, kn_tensor_count(y));
    return KILN_OK;
}

const kn_op kn_ops_gemm[] = {
    {.domain = "", .name = "Gemm", .since_min = 1, .since_max = 0, .parse = gemm_parse, .infer = gemm_infer,
     .prepare = gemm_prepare, .run = gemm_run, .free_params = gemm_free_params, .finalize = gemm_finalize,
     .types = gemm_types, .flags = KN_OP_FAST},
    /* fast: float32 runs on the packed, cache-blocked kn_sgemm_ref */
    {.domain = "", .name = "MatMul", .since_min = 1, .since_max = 0, .infer = matmul_infer,
     .prepare = matmul_prepare, .run = matmul_run, .types = matmul_types, .flags = KN_OP_FAST},
};
KN_FAMILY_COUNT(gemm);
