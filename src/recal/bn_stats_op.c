/* kiln.BatchNormStats: stands in for BatchNormalization in a recalibration
 * session's copy of the graph. Inputs and attributes are those of the BN it
 * replaces (X, scale, B, mean, var; epsilon). Depending on the layer's
 * current action it measures per-channel statistics of X in double and
 * normalizes X with the batch's own statistics (train mode), with the stored
 * statistics or with the newly estimated ones (exact mode).
 *
 * Each channel is handled start to end by one task, and the per-batch
 * results are merged into the accumulators sequentially in channel order,
 * so results do not depend on the thread count. */
#include "recal/recal.h"

#include <math.h>
#include <string.h>

static kiln_status bn_infer(kn_op_ctx *c)
{
    const kn_bn_stats_params *p = c->params;
    const kn_recal_layer *l = p->layer;
    const kiln_tensor *x = c->in[0];
    if (x->dtype != KILN_DTYPE_FLOAT)
        return kn_error(KILN_ERROR_DTYPE, "node '%s' (BatchNormalization): input is %s; recalibration supports float32",
                        l->name, kiln_dtype_name(x->dtype));
    if (x->rank < 2)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (BatchNormalization): input has rank %d, expected >= 2", l->name,
                        x->rank);
    if (x->dims[1] != l->channels)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (BatchNormalization): input has %lld channels, mean has %lld",
                        l->name, (long long)x->dims[1], (long long)l->channels);
    return kn_set_output(c, 0, KILN_DTYPE_FLOAT, x->rank, x->dims);
}

typedef struct channel_job {
    kn_recal_layer *layer;
    const float *x;
    float *y;
    const float *scale, *bias;
    int64_t n, inner, channels;
    bool measure;
} channel_job;

/* Sum over n blocks of inner contiguous elements, block_stride apart; four
 * independent accumulators for throughput (fixed order: deterministic). */
static double channel_sum(const float *x, int64_t n, int64_t inner, int64_t block_stride)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int64_t b = 0; b < n; b++) {
        const float *p = x + b * block_stride;
        int64_t i = 0;
        for (; i + 4 <= inner; i += 4) {
            s0 += (double)p[i];
            s1 += (double)p[i + 1];
            s2 += (double)p[i + 2];
            s3 += (double)p[i + 3];
        }
        for (; i < inner; i++)
            s0 += (double)p[i];
    }
    return (s0 + s1) + (s2 + s3);
}

static double channel_m2(const float *x, int64_t n, int64_t inner, int64_t block_stride, double mean)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int64_t b = 0; b < n; b++) {
        const float *p = x + b * block_stride;
        int64_t i = 0;
        for (; i + 4 <= inner; i += 4) {
            double d0 = (double)p[i] - mean, d1 = (double)p[i + 1] - mean;
            double d2 = (double)p[i + 2] - mean, d3 = (double)p[i + 3] - mean;
            s0 += d0 * d0;
            s1 += d1 * d1;
            s2 += d2 * d2;
            s3 += d3 * d3;
        }
        for (; i < inner; i++) {
            double d = (double)p[i] - mean;
            s0 += d * d;
        }
    }
    return (s0 + s1) + (s2 + s3);
}

static void channel_task(void *ctx, size_t ci)
{
    const channel_job *j = ctx;
    kn_recal_layer *l = j->layer;
    int64_t c = (int64_t)ci;
    int64_t stride = j->channels * j->inner;
    const float *x = j->x + c * j->inner;
    float *y = j->y + c * j->inner;
    double count = (double)(j->n * j->inner);
    double bmean = 0, bm2 = 0;
    if (j->measure) {
        /* Two passes (mean, then squared deviations): exact enough in double
         * even for channels whose mean is large against their spread. */
        bmean = channel_sum(x, j->n, j->inner, stride) / count;
        bm2 = channel_m2(x, j->n, j->inner, stride, bmean);
        l->b_mean[c] = bmean;
        l->b_m2[c] = bm2;
    }
    double mean, var;
    switch (j->layer->action) {
    case KN_BN_BATCH_ACCUM:
        mean = bmean;
        var = bm2 / count; /* training-mode BN normalizes with the biased variance */
        break;
    case KN_BN_NEW:
        mean = j->layer->new_mean[c];
        var = j->layer->new_var[c];
        break;
    default:
        mean = j->layer->old_mean[c];
        var = j->layer->old_var[c];
        break;
    }
    float a = (float)((double)j->scale[c] / sqrt(var + (double)j->layer->epsilon));
    float b = (float)((double)j->bias[c] - mean * (double)a);
    for (int64_t k = 0; k < j->n; k++) {
        const float *px = x + k * stride;
        float *py = y + k * stride;
        for (int64_t i = 0; i < j->inner; i++)
            py[i] = px[i] * a + b;
    }
}

static kiln_status bn_run(kn_op_ctx *c)
{
    const kn_bn_stats_params *p = c->params;
    kn_recal_layer *l = p->layer;
    const kiln_tensor *x = c->in[0];
    for (int i = 1; i <= 2; i++)
        if (!c->in[i] || c->in[i]->dtype != KILN_DTYPE_FLOAT || kn_tensor_count(c->in[i]) != l->channels)
            return kn_error(KILN_ERROR_MODEL, "node '%s' (BatchNormalization): %s must be float32[%lld]", l->name,
                            i == 1 ? "scale" : "B", (long long)l->channels);
    int64_t inner = 1;
    for (int d = 2; d < x->rank; d++)
        inner *= x->dims[d];
    int64_t n = x->dims[0];
    bool measure = l->action == KN_BN_BATCH_ACCUM || l->action == KN_BN_OLD_ACCUM;
    uint64_t count = (uint64_t)(n * inner);
    if (measure && count == 0)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (BatchNormalization): empty batch", l->name);
    if (measure && l->torch_variance && count < 2)
        return kn_error(KILN_ERROR_SHAPE,
                        "node '%s' (BatchNormalization): the unbiased variance needs more than 1 value per channel "
                        "(batch gives %llu); use a larger batch",
                        l->name, (unsigned long long)count);
    if (l->action == KN_BN_NEW && !l->has_new)
        return kn_error(KILN_ERROR_INTERNAL, "node '%s': new statistics used before they were computed", l->name);
    channel_job job = {l, x->data, c->out[0]->data, c->in[1]->data, c->in[2]->data, n, inner, l->channels, measure};
    if (count > 0)
        kn_parallel_for(c->pool, (size_t)l->channels, channel_task, &job);
    if (measure) {
        if (l->torch_variance)
            kn_bn_accum_add_torch(&l->acc, count, l->b_mean, l->b_m2);
        kn_bn_accum_merge(&l->acc, count, l->b_mean, l->b_m2);
    }
    return KILN_OK;
}

const kn_op kn_recal_bn_stats_op = {
    .domain = "kiln",
    .name = "BatchNormStats",
    .since_min = 1,
    .since_max = 0,
    .infer = bn_infer,
    .run = bn_run,
    .flags = KN_OP_NO_FOLD,
};
