/* The loops behind every elementwise op. The broadcasting loop first drops
 * size-1 dimensions and merges neighbours that are contiguous (or broadcast)
 * in every operand, so [N,C,H,W] + [C,1,1] becomes rows of H*W with the
 * bias fixed per row, and same-shape or scalar cases become one long row.
 * Work is split into flat element ranges, which parallelizes both many short
 * rows and one long row. */
#include "ops/elementwise.h"

#include <pthreadpool.h>

/* Below this many elements per task, threading costs more than it saves. */
#define EW_MIN_TASK 16384

typedef struct bc_plan {
    int n_in;
    int rank; /* >= 1 */
    int64_t dims[KN_MAX_RANK];
    int64_t strides[KN_EW_MAX_INPUTS][KN_MAX_RANK];
    const char *in[KN_EW_MAX_INPUTS];
    size_t in_elem[KN_EW_MAX_INPUTS];
    char *out;
    size_t out_elem;
    kn_ew_row_fn fn;
    const void *ctx;
    int64_t total;
    int64_t chunk;
} bc_plan;

bool kn_ew_is_float(kiln_dtype dt)
{
    return dt == KILN_DTYPE_FLOAT || dt == KILN_DTYPE_DOUBLE || dt == KILN_DTYPE_FLOAT16 ||
           dt == KILN_DTYPE_BFLOAT16;
}

bool kn_ew_is_signed_int(kiln_dtype dt)
{
    return dt == KILN_DTYPE_INT8 || dt == KILN_DTYPE_INT16 || dt == KILN_DTYPE_INT32 || dt == KILN_DTYPE_INT64;
}

bool kn_ew_is_int(kiln_dtype dt)
{
    return kn_ew_is_signed_int(dt) || dt == KILN_DTYPE_UINT8 || dt == KILN_DTYPE_UINT16 ||
           dt == KILN_DTYPE_UINT32 || dt == KILN_DTYPE_UINT64;
}

/* Process flat output elements [e0, e1): a partial first row, whole rows,
 * a partial last row, advancing an odometer over the outer dimensions. */
static void bc_range(const bc_plan *p, int64_t e0, int64_t e1)
{
    int r = p->rank;
    int64_t inner = p->dims[r - 1];
    int64_t row = e0 / inner, col = e0 % inner;
    int64_t idx[KN_MAX_RANK] = {0};
    int64_t off[KN_EW_MAX_INPUTS] = {0};
    int64_t inner_st[KN_EW_MAX_INPUTS] = {0};
    for (int d = r - 2; d >= 0; d--) {
        idx[d] = row % p->dims[d];
        row /= p->dims[d];
    }
    for (int k = 0; k < p->n_in; k++) {
        inner_st[k] = p->strides[k][r - 1];
        for (int d = 0; d < r - 1; d++)
            off[k] += idx[d] * p->strides[k][d];
    }
    int64_t e = e0;
    while (e < e1) {
        int64_t n = KN_MIN(inner - col, e1 - e);
        const void *ptrs[KN_EW_MAX_INPUTS] = {0};
        for (int k = 0; k < p->n_in; k++)
            ptrs[k] = p->in[k] + (size_t)(off[k] + col * inner_st[k]) * p->in_elem[k];
        p->fn(p->out + (size_t)e * p->out_elem, ptrs, inner_st, n, p->ctx);
        e += n;
        col = 0;
        for (int d = r - 2; d >= 0; d--) {
            idx[d]++;
            for (int k = 0; k < p->n_in; k++)
                off[k] += p->strides[k][d];
            if (idx[d] < p->dims[d])
                break;
            for (int k = 0; k < p->n_in; k++)
                off[k] -= p->strides[k][d] * p->dims[d];
            idx[d] = 0;
        }
    }
}

static void bc_task(void *arg, size_t t)
{
    const bc_plan *p = arg;
    int64_t e0 = (int64_t)t * p->chunk;
    bc_range(p, e0, KN_MIN(p->total, e0 + p->chunk));
}

static int64_t task_chunk(pthreadpool_t pool, int64_t total)
{
    if (!pool || total < 2 * EW_MIN_TASK)
        return total;
    int64_t threads = (int64_t)pthreadpool_get_threads_count(pool);
    int64_t chunk = (total + threads * 4 - 1) / (threads * 4);
    return KN_MAX(chunk, EW_MIN_TASK);
}

static void run_tasks(bc_plan *p, pthreadpool_t pool)
{
    p->chunk = task_chunk(pool, p->total);
    size_t tasks = (size_t)((p->total + p->chunk - 1) / p->chunk);
    kn_parallel_for(pool, tasks, bc_task, p);
}

void kn_ew_broadcast(int n_in, const kn_ew_operand *in, void *out, size_t out_elem, int rank_out,
                     const int64_t *dims_out, kn_ew_row_fn fn, const void *ctx, pthreadpool_t pool)
{
    int64_t total = 1;
    for (int d = 0; d < rank_out; d++)
        total *= dims_out[d];
    if (total == 0)
        return;

    int64_t full[KN_EW_MAX_INPUTS][KN_MAX_RANK];
    for (int k = 0; k < n_in; k++)
        kn_broadcast_strides(in[k].rank, in[k].dims, rank_out, dims_out, full[k]);

    bc_plan p = {.n_in = n_in, .out = out, .out_elem = out_elem, .fn = fn, .ctx = ctx, .total = total};
    for (int k = 0; k < n_in; k++) {
        p.in[k] = in[k].data;
        p.in_elem[k] = in[k].elem_size;
    }
    /* Outermost first: drop size-1 dims, merge a dim into the previous kept
     * one when every operand steps through both as one contiguous run. */
    int r = 0;
    for (int d = 0; d < rank_out; d++) {
        if (dims_out[d] == 1)
            continue;
        bool merge = r > 0;
        for (int k = 0; k < n_in && merge; k++)
            merge = p.strides[k][r - 1] == full[k][d] * dims_out[d];
        if (merge) {
            p.dims[r - 1] *= dims_out[d];
            for (int k = 0; k < n_in; k++)
                p.strides[k][r - 1] = full[k][d];
            continue;
        }
        p.dims[r] = dims_out[d];
        for (int k = 0; k < n_in; k++)
            p.strides[k][r] = full[k][d];
        r++;
    }
    if (r == 0) {
        p.dims[0] = 1;
        for (int k = 0; k < n_in; k++)
            p.strides[k][0] = 0;
        r = 1;
    }
    p.rank = r;
    run_tasks(&p, pool);
}

void kn_ew_map(const void *in, size_t in_elem, void *out, size_t out_elem, int64_t n, kn_ew_row_fn fn,
               const void *ctx, pthreadpool_t pool)
{
    if (n == 0)
        return;
    bc_plan p = {.n_in = 1, .rank = 1, .out = out, .out_elem = out_elem, .fn = fn, .ctx = ctx, .total = n};
    p.dims[0] = n;
    p.strides[0][0] = 1;
    p.in[0] = in;
    p.in_elem[0] = in_elem;
    run_tasks(&p, pool);
}
