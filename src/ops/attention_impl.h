/* The Attention head kernel, written once and compiled for float (float32,
 * float16 and bfloat16 inputs) and double: attention.c includes this file
 * twice with AT_REAL / AT_SFX / AT_GEMM / AT_EXP / AT_TANH defined.
 *
 * Inputs arrive converted into dense [B, heads, seq, head_size] buffers of
 * AT_REAL (at_work), so one task is one (batch, query head) pair: scores of
 * a block of query rows against all keys in the task's slot, then the
 * row-wise softcap / bias / softmax, then the probabilities times V. */

#define AT_CAT2(a, b) a##b
#define AT_CAT(a, b) AT_CAT2(a, b)
#define AT_FN(name) AT_CAT(name, AT_SFX)

/* Softmax of one row in place; sums run in double so long rows keep the
 * working precision. A row whose bias is -inf everywhere (fully masked)
 * gives zeros, not NaN, as the operator's function body does. */
static void AT_FN(at_softmax_row)(AT_REAL *row, int64_t n, bool fully_masked, bool in_double)
{
    if (fully_masked) {
        for (int64_t j = 0; j < n; j++)
            row[j] = 0;
        return;
    }
    AT_REAL mx = row[0];
    for (int64_t j = 1; j < n; j++)
        if (row[j] > mx)
            mx = row[j];
    double sum = 0.0;
    if (in_double) {
        /* softmax_precision = double: exponentials and their quotients stay
         * double; each is rounded once when stored. */
        double dmx = (double)mx;
        for (int64_t j = 0; j < n; j++)
            sum += exp((double)row[j] - dmx);
        for (int64_t j = 0; j < n; j++)
            row[j] = (AT_REAL)(exp((double)row[j] - dmx) / sum);
        return;
    }
    for (int64_t j = 0; j < n; j++) {
        AT_REAL e = AT_EXP(row[j] - mx);
        row[j] = e;
        sum += e;
    }
    AT_REAL inv = (AT_REAL)(1.0 / sum);
    for (int64_t j = 0; j < n; j++)
        row[j] *= inv;
}

static void AT_FN(at_store_row)(const at_work *w, int64_t off, const AT_REAL *row)
{
    for (int64_t j = 0; j < w->g.T; j++)
        kn_tensor_set_f64(w->qk_out, off + j, (double)row[j]);
}

/* Bias of key j for query row i of batch b / head h: the mask (padded with
 * -inf past its last dimension), the causal frontier, the nonpad limit. */
static AT_REAL AT_FN(at_bias)(const at_work *w, const AT_REAL *mrow, int64_t b, int64_t i, int64_t j)
{
    AT_REAL v = 0;
    if (mrow)
        v = j < w->mask_len ? mrow[j] : (AT_REAL)-INFINITY;
    if (w->causal && j > i + w->causal_off[b])
        v += (AT_REAL)-INFINITY;
    if (w->nonpad && j >= w->nonpad[b])
        v += (AT_REAL)-INFINITY;
    return v;
}

static void AT_FN(at_pair)(const at_work *w, int64_t b, int64_t h, AT_REAL *S)
{
    const at_geom *g = &w->g;
    int64_t rep = g->qH / g->kvH;
    int64_t kvh = h / rep;
    const AT_REAL *Qp = (const AT_REAL *)w->q + (b * g->qH + h) * g->Sq * g->D;
    const AT_REAL *Kp = (const AT_REAL *)w->k + (b * g->kvH + kvh) * g->T * g->D;
    const AT_REAL *Vp = (const AT_REAL *)w->v + (b * g->kvH + kvh) * g->T * g->Dv;
    AT_REAL *Yp = (AT_REAL *)w->y + (b * g->qH + h) * g->Sq * g->Dv;
    const AT_REAL *M = w->mask;
    AT_REAL softcap = (AT_REAL)w->p->softcap;
    int mode = (int)w->p->qk_mode;
    for (int64_t i0 = 0; i0 < g->Sq; i0 += AT_QBLOCK) {
        int64_t m = KN_MIN((int64_t)AT_QBLOCK, g->Sq - i0);
        AT_GEMM(false, true, m, g->T, g->D, (AT_REAL)w->scale, Qp + i0 * g->D, g->D, Kp, g->D, 0, S, g->T);
        for (int64_t r = 0; r < m; r++) {
            int64_t i = i0 + r;
            AT_REAL *row = S + r * g->T;
            int64_t qk_off = ((b * g->qH + h) * g->Sq + i) * g->T;
            if (w->qk_out && mode == 0)
                AT_FN(at_store_row)(w, qk_off, row);
            if (softcap > 0)
                for (int64_t j = 0; j < g->T; j++)
                    row[j] = softcap * AT_TANH(row[j] / softcap);
            if (w->qk_out && mode == 1)
                AT_FN(at_store_row)(w, qk_off, row);
            bool has_bias = M || w->causal || w->nonpad;
            bool fully_masked = g->T == 0;
            if (has_bias) {
                const AT_REAL *mrow = M ? M + b * w->mstride[0] + h * w->mstride[1] + i * w->mstride[2] : NULL;
                AT_REAL bmax = (AT_REAL)-INFINITY;
                for (int64_t j = 0; j < g->T; j++) {
                    AT_REAL bj = AT_FN(at_bias)(w, mrow, b, i, j);
                    row[j] += bj;
                    if (bj > bmax)
                        bmax = bj;
                }
                fully_masked = bmax == (AT_REAL)-INFINITY;
            }
            if (w->qk_out && mode == 2)
                AT_FN(at_store_row)(w, qk_off, row);
            AT_FN(at_softmax_row)(row, g->T, fully_masked, w->softmax_double);
            if (w->qk_out && mode == 3)
                AT_FN(at_store_row)(w, qk_off, row);
        }
        AT_GEMM(false, false, m, g->Dv, g->T, 1, S, g->T, Vp, g->Dv, 0, Yp + i0 * g->Dv, g->Dv);
    }
}

static void AT_FN(at_task)(void *arg, size_t task)
{
    const at_work *w = arg;
    int64_t pairs = w->g.B * w->g.qH;
    int64_t per = (pairs + (int64_t)w->n_tasks - 1) / (int64_t)w->n_tasks;
    int64_t p0 = (int64_t)task * per, p1 = KN_MIN(p0 + per, pairs);
    AT_REAL *S = (AT_REAL *)((char *)w->slots + task * w->slot_bytes);
    for (int64_t p = p0; p < p1; p++)
        AT_FN(at_pair)(w, p / w->g.qH, p % w->g.qH, S);
}

#undef AT_FN
#undef AT_CAT
#undef AT_CAT2
