/* Precise-BN recalibration internals: the per-layer accumulators, the
 * kiln.BatchNormStats op that replaces BatchNormalization in the session's
 * private copy of the graph, aggregation math, write-back into the original
 * model bytes and the .kstats partial-sums format. */
#ifndef KN_RECAL_H
#define KN_RECAL_H

#include "core/core.h"
#include "graph/graph.h"
#include "ops/op.h"

#include "kiln.h"

/* What a BatchNormStats node does in the current pass. */
typedef enum kn_bn_action {
    KN_BN_BATCH_ACCUM, /* normalize with batch statistics, accumulate (train) */
    KN_BN_OLD_ACCUM,   /* normalize with stored statistics, accumulate (exact, this level) */
    KN_BN_OLD,         /* normalize with stored statistics (exact, deeper levels) */
    KN_BN_NEW          /* normalize with the new statistics (exact, shallower levels) */
} kn_bn_action;

/* Per-channel accumulators of one layer. count is the same for every
 * channel (N * spatial elements of every batch). */
typedef struct kn_bn_accum {
    int64_t channels;
    uint64_t count;   /* elements per channel */
    double *mean;     /* running mean (Chan et al. merges) */
    double *m2;       /* sum of squared deviations from the mean */
    uint64_t batches; /* torch variance: batches seen */
    double *sum_bmean; /* torch variance: sum of batch means */
    double *sum_uvar;  /* torch variance: sum of unbiased batch variances */
} kn_bn_accum;

typedef struct kn_recal_layer {
    char *name, *mean_name, *var_name;
    int64_t channels;
    float epsilon;
    int level;
    kn_bn_action action;
    bool torch_variance;
    float *old_mean, *old_var;
    float *new_mean, *new_var; /* valid when has_new */
    bool has_new;
    kn_bn_accum acc;
    /* per-batch per-channel results, filled by the channel tasks */
    double *b_mean, *b_m2;
} kn_recal_layer;

/* node->params of a BatchNormStats node. */
typedef struct kn_bn_stats_params {
    kn_recal_layer *layer;
} kn_bn_stats_params;

extern const kn_op kn_recal_bn_stats_op;

/* ---- aggregation (recal.c) ---- */
kiln_status kn_bn_accum_init(kn_bn_accum *a, int64_t channels, bool torch_variance);
void kn_bn_accum_clear(kn_bn_accum *a);
/* Merge one set of per-channel partials (n elements each) into a. */
void kn_bn_accum_merge(kn_bn_accum *a, uint64_t n, const double *mean, const double *m2);
/* Add one batch to the torch-variance sums (n elements per channel, n > 1). */
void kn_bn_accum_add_torch(kn_bn_accum *a, uint64_t n, const double *mean, const double *m2);
/* Merge accumulator b into a (same channels). */
void kn_bn_accum_merge_all(kn_bn_accum *a, const kn_bn_accum *b);
/* Chan et al.: combine (na, ma, m2a) with (nb, mb, m2b) into *n, *m, *m2. */
void kn_chan_merge(uint64_t na, double ma, double m2a, uint64_t nb, double mb, double m2b, double *m,
                   double *m2);
/* Population statistics: pooled (mean, M2/n) or torch (equal-weight
 * averages of batch means and unbiased variances). */
kiln_status kn_bn_accum_result(const kn_bn_accum *a, bool torch_variance, const char *layer, float *mean,
                               float *var);

/* ---- write-back (writeback.c) ----
 * Decode the original ModelProto, replace the data of the named float32
 * initializers (raw_data, typed float_data cleared), repack. Refuses a
 * mean/var that is not an initializer of a main-graph BatchNormalization,
 * or that any other node (or slot) also reads. */
typedef struct kn_stat_update {
    const char *bn_name;
    const char *init_name;
    const float *values;
    int64_t count;
} kn_stat_update;

kiln_status kn_recal_writeback(const void *model, size_t size, const kn_stat_update *updates, int n_updates,
                               void **out, size_t *out_size);

/* ---- .kstats (stats_file.c) ---- */
typedef struct kn_kstats_layer {
    const char *name;
    const kn_bn_accum *acc;
} kn_kstats_layer;

/* 64-bit fingerprint of the BN layers (names and channel counts, in order). */
uint64_t kn_recal_fingerprint(const kn_recal_layer *layers, int n_layers);
kiln_status kn_kstats_encode(uint64_t fingerprint, bool torch_variance, const kn_recal_layer *layers, int n_layers,
                             void **out, size_t *size);
/* Decode and add into the layers' accumulators (all or nothing). */
kiln_status kn_kstats_merge(const void *data, size_t size, const char *label, uint64_t fingerprint,
                            bool torch_variance, kn_recal_layer *layers, int n_layers);

#endif
