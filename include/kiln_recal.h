/*
 * kiln — Precise-BatchNorm recalibration and calibration datasets.
 *
 * Re-estimates the population statistics (mean / var initializers) of every
 * BatchNormalization node of an ONNX model on new, unlabelled data, and
 * writes a copy of the model that differs from the original only in those
 * initializers. See docs/recalibration.md for the formulas.
 *
 * Same conventions as kiln.h: kiln_status results, kiln_last_error()
 * messages, out-parameters untouched on failure, release functions accept
 * NULL, the library never prints.
 *
 * (To be merged into kiln.h.)
 */
#ifndef KILN_RECAL_H
#define KILN_RECAL_H

#include "kiln.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- recalibration sessions --------------------------------------------- */

typedef enum kiln_recal_mode {
    /* BN layers normalize with each batch's own statistics during the pass,
     * as in training (fvcore update_bn_stats, torch swa_utils.update_bn). */
    KILN_RECAL_TRAIN = 0,
    /* Inference-exact: layers are estimated depth level by depth level,
     * upstream layers already using their new statistics; one pass over the
     * data per level. */
    KILN_RECAL_EXACT = 1
} kiln_recal_mode;

typedef enum kiln_recal_variance {
    /* Population variance of all elements seen (law of total variance). */
    KILN_RECAL_VARIANCE_POOLED = 0,
    /* torch.optim.swa_utils.update_bn: equal-weight average of batch means
     * and of unbiased batch variances. Train mode only. */
    KILN_RECAL_VARIANCE_TORCH = 1
} kiln_recal_variance;

typedef struct kiln_recal_config {
    size_t struct_size;           /* sizeof(kiln_recal_config) (set by _init) */
    kiln_recal_mode mode;         /* default KILN_RECAL_TRAIN */
    kiln_recal_variance variance; /* default KILN_RECAL_VARIANCE_POOLED */
    const char *input_name;       /* graph input fed with the data; NULL = the only one */
    int threads;                  /* 0 = CPUs available */
} kiln_recal_config;

KILN_API void kiln_recal_config_init(kiln_recal_config *config);

typedef struct kiln_recal kiln_recal;

/* A session over a model file / model bytes. Fails (KILN_ERROR_UNSUPPORTED)
 * when the model has no BatchNormalization node, or when a BN's mean/var is
 * not an initializer of its own. config may be NULL (defaults). */
KILN_API kiln_status kiln_recal_create(const char *model_path, const kiln_recal_config *config,
                                       kiln_recal **out);
KILN_API kiln_status kiln_recal_create_buffer(const void *data, size_t size, const char *base_dir,
                                              const kiln_recal_config *config, kiln_recal **out);
KILN_API void kiln_recal_release(kiln_recal *recal);

/* Passes over the data the mode needs: 1 in train mode, the number of BN
 * depth levels in exact mode. */
KILN_API size_t kiln_recal_pass_count(const kiln_recal *recal);

/* Push API (train mode): run one batch [N, ...] and accumulate statistics. */
KILN_API kiln_status kiln_recal_feed(kiln_recal *recal, const kiln_tensor *batch);

/* Callback API (both modes). next() is called repeatedly; it sets *batch to
 * a new tensor (released by the session) or NULL at the end of the data.
 * rewind is 1 on the first call of every pass: the callback must then start
 * again from the first sample (each pass must see the same data). Returning
 * an error status stops the run with that status. Finishes the session. */
typedef kiln_status (*kiln_recal_next_fn)(void *user, int rewind, kiln_tensor **batch);
KILN_API kiln_status kiln_recal_run(kiln_recal *recal, kiln_recal_next_fn next, void *user);

/* Compute the new statistics from what was fed / merged (train mode; run()
 * does it itself). Fails if some layer saw no data. */
KILN_API kiln_status kiln_recal_finish(kiln_recal *recal);

/* Samples (first-dimension entries) fed so far, counting one pass. */
KILN_API uint64_t kiln_recal_sample_count(const kiln_recal *recal);

typedef struct kiln_recal_layer {
    const char *name;      /* BatchNormalization node name */
    const char *mean_name; /* initializer names */
    const char *var_name;
    int64_t channels;
    int level;             /* BN depth level (1 = no BN upstream) */
    float epsilon;
    uint64_t count;        /* elements per channel aggregated */
    const float *old_mean, *old_var; /* channels each */
    const float *new_mean, *new_var; /* NULL before finish */
} kiln_recal_layer;

/* Layers in topological order. Pointers stay valid while the session lives. */
KILN_API size_t kiln_recal_layer_count(const kiln_recal *recal);
KILN_API kiln_status kiln_recal_layer_get(const kiln_recal *recal, size_t index, kiln_recal_layer *out);

/* Write the original model with the new statistics (finish first). The file
 * is written to a temporary file and renamed; the session's input file is
 * refused as destination unless in_place is 1. */
KILN_API kiln_status kiln_recal_write(kiln_recal *recal, const char *path, int in_place);
/* Same, to memory; free with kiln_recal_free_buffer. */
KILN_API kiln_status kiln_recal_write_buffer(kiln_recal *recal, void **data, size_t *size);
KILN_API void kiln_recal_free_buffer(void *data);

/* Mergeable partial sums (train mode): write what was accumulated so far to
 * a .kstats file, or add a .kstats file written for the same model (same BN
 * layers and channels) and variance mode to the accumulators. */
KILN_API kiln_status kiln_recal_emit_stats(const kiln_recal *recal, const char *path);
KILN_API kiln_status kiln_recal_merge_stats(kiln_recal *recal, const char *path);

/* ---- calibration datasets --------------------------------------------------
 * Iterate over samples from disk in batches, memory bounded by the batch:
 *  - a .npy file [N, ...] (float32 or float64), read batch by batch;
 *  - a folder of .npy / .pb tensor files, sorted by name, each one sample
 *    (rank sample_rank) or one batch (rank sample_rank + 1);
 *  - a folder of .jpg/.jpeg/.png images (decoded to RGB, preprocessed, NCHW).
 */
typedef struct kiln_dataset_config {
    size_t struct_size;  /* sizeof(kiln_dataset_config) (set by _init) */
    size_t batch_size;   /* samples per batch, default 32 */
    int sample_rank;     /* rank of one sample ([C,H,W] = 3); 0: each tensor file is one sample */
    /* images */
    int resize;          /* bilinear-resize the shorter side to this (0: keep) */
    int crop;            /* center-crop crop x crop (0: none) */
    float mean[3];       /* after scaling to [0,1]: (x - mean[c]) / std[c]; default 0 */
    float std[3];        /* default 1 */
    int bgr;             /* channel order BGR instead of RGB */
} kiln_dataset_config;

KILN_API void kiln_dataset_config_init(kiln_dataset_config *config);

typedef struct kiln_dataset kiln_dataset;

KILN_API kiln_status kiln_dataset_open(const char *path, const kiln_dataset_config *config, kiln_dataset **out);
/* Next batch (float32, [B, ...], B <= batch_size), owned by the caller;
 * *batch is NULL at the end. */
KILN_API kiln_status kiln_dataset_next(kiln_dataset *dataset, kiln_tensor **batch);
KILN_API kiln_status kiln_dataset_rewind(kiln_dataset *dataset);
/* Samples in the dataset when known without reading it all, else -1. */
KILN_API int64_t kiln_dataset_sample_count(const kiln_dataset *dataset);
/* "npy array", "tensor files" or "images" */
KILN_API const char *kiln_dataset_kind(const kiln_dataset *dataset);
KILN_API void kiln_dataset_release(kiln_dataset *dataset);

#ifdef __cplusplus
}
#endif

#endif /* KILN_RECAL_H */
