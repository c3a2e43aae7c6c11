/*
 * kiln — an ONNX inference runtime in C.
 *
 * This is the whole public API. Everything else in the library is internal.
 *
 * Conventions (borrowed from SQLite and ONNX Runtime's C API):
 *  - Every fallible call returns a kiln_status. KILN_OK is 0.
 *  - On failure, kiln_last_error() returns a one-line message for the calling
 *    thread naming what went wrong ("conv1: weight has 3 dims, expected 4").
 *  - On failure, out-parameters are left untouched.
 *  - Release functions accept NULL.
 *  - Sizes are size_t, dimensions int64_t.
 *  - The library never prints, never exits, never aborts on bad input.
 *
 * Evolution rule: existing functions never change signature or meaning;
 * new behaviour arrives as new functions (suffix _v2, ...) and new enum
 * values appended at the end. KILN_API_VERSION increases whenever something
 * is added.
 */
#ifndef KILN_H
#define KILN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(KILN_BUILDING_LIBRARY)
#define KILN_API __attribute__((visibility("default")))
#else
#define KILN_API
#endif

#define KILN_API_VERSION 1

typedef enum kiln_status {
    KILN_OK = 0,
    KILN_ERROR_ARGUMENT = 1,     /* bad argument from the caller (NULL, unknown name) */
    KILN_ERROR_IO = 2,           /* file missing, unreadable, unwritable */
    KILN_ERROR_PARSE = 3,        /* bytes are not a valid protobuf / npy */
    KILN_ERROR_MODEL = 4,        /* model is structurally invalid */
    KILN_ERROR_UNSUPPORTED = 5,  /* valid ONNX, but an op/dtype/feature kiln lacks */
    KILN_ERROR_SHAPE = 6,        /* shapes do not fit */
    KILN_ERROR_DTYPE = 7,        /* element types do not fit */
    KILN_ERROR_NOMEM = 8,        /* an allocation failed */
    KILN_ERROR_LIMIT = 9,        /* a configured limit would be exceeded */
    KILN_ERROR_INTERRUPTED = 10, /* kiln_context_interrupt() stopped the run */
    KILN_ERROR_INTERNAL = 11     /* a bug in kiln */
} kiln_status;

/* Element types; the numeric values are ONNX TensorProto.DataType. */
typedef enum kiln_dtype {
    KILN_DTYPE_UNDEFINED = 0,
    KILN_DTYPE_FLOAT = 1,
    KILN_DTYPE_UINT8 = 2,
    KILN_DTYPE_INT8 = 3,
    KILN_DTYPE_UINT16 = 4,
    KILN_DTYPE_INT16 = 5,
    KILN_DTYPE_INT32 = 6,
    KILN_DTYPE_INT64 = 7,
    KILN_DTYPE_STRING = 8,
    KILN_DTYPE_BOOL = 9,
    KILN_DTYPE_FLOAT16 = 10,
    KILN_DTYPE_DOUBLE = 11,
    KILN_DTYPE_UINT32 = 12,
    KILN_DTYPE_UINT64 = 13,
    KILN_DTYPE_COMPLEX64 = 14,
    KILN_DTYPE_COMPLEX128 = 15,
    KILN_DTYPE_BFLOAT16 = 16
} kiln_dtype;

/* Instruction sets kiln can dispatch to. */
typedef enum kiln_isa {
    KILN_ISA_AUTO = 0,    /* best the CPU supports */
    KILN_ISA_GENERIC = 1, /* portable C */
    KILN_ISA_AVX2 = 2,    /* AVX2 + FMA */
    KILN_ISA_AVX512 = 3   /* AVX-512F */
} kiln_isa;

typedef struct kiln_tensor kiln_tensor;
typedef struct kiln_options kiln_options;
typedef struct kiln_model kiln_model;
typedef struct kiln_context kiln_context;

/* ---- library ---------------------------------------------------------- */

/* "MAJOR.MINOR.PATCH" */
KILN_API const char *kiln_version(void);
KILN_API int kiln_api_version(void);
KILN_API const char *kiln_status_string(kiln_status status);
/* Message of the last failed call made by this thread ("" if none). */
KILN_API const char *kiln_last_error(void);
KILN_API const char *kiln_dtype_name(kiln_dtype dtype);
/* Bytes per element; 0 for STRING and unknown types. */
KILN_API size_t kiln_dtype_size(kiln_dtype dtype);

/* ---- tensors ---------------------------------------------------------- */

/* A new tensor owning zero-filled storage. rank may be 0 (a scalar). */
KILN_API kiln_status kiln_tensor_create(kiln_dtype dtype, size_t rank, const int64_t *dims,
                                        kiln_tensor **out);
/* A tensor viewing caller memory (not copied, not freed by kiln). bytes must
 * equal element count * dtype size. */
KILN_API kiln_status kiln_tensor_wrap(kiln_dtype dtype, size_t rank, const int64_t *dims,
                                      void *data, size_t bytes, kiln_tensor **out);
KILN_API void kiln_tensor_release(kiln_tensor *tensor);
KILN_API kiln_dtype kiln_tensor_dtype(const kiln_tensor *tensor);
KILN_API size_t kiln_tensor_rank(const kiln_tensor *tensor);
KILN_API const int64_t *kiln_tensor_dims(const kiln_tensor *tensor);
KILN_API int64_t kiln_tensor_element_count(const kiln_tensor *tensor);
KILN_API size_t kiln_tensor_byte_size(const kiln_tensor *tensor);
KILN_API void *kiln_tensor_data(kiln_tensor *tensor);
KILN_API const void *kiln_tensor_const_data(const kiln_tensor *tensor);
/* Name stored in a TensorProto file, or NULL. */
KILN_API const char *kiln_tensor_name(const kiln_tensor *tensor);

/* Read a tensor from an ONNX TensorProto (.pb) or NumPy (.npy) file; the
 * format is detected from the content. */
KILN_API kiln_status kiln_tensor_read_file(const char *path, kiln_tensor **out);
/* Parse a serialized TensorProto from memory. */
KILN_API kiln_status kiln_tensor_read_pb_buffer(const void *data, size_t size, kiln_tensor **out);
/* Write as TensorProto / .npy. Written to a temporary file and renamed. */
KILN_API kiln_status kiln_tensor_write_pb(const kiln_tensor *tensor, const char *name, const char *path);
KILN_API kiln_status kiln_tensor_write_npy(const kiln_tensor *tensor, const char *path);

/* ---- options ---------------------------------------------------------- */

KILN_API kiln_status kiln_options_create(kiln_options **out);
KILN_API void kiln_options_release(kiln_options *options);
/* 0 = CPUs available to the process (affinity and cgroup quota respected). */
KILN_API kiln_status kiln_options_set_threads(kiln_options *options, int threads);
/* 0 none, 1 eliminations + constant folding + BN folds, 2 (default) + fusion. */
KILN_API kiln_status kiln_options_set_opt_level(kiln_options *options, int level);
KILN_API kiln_status kiln_options_disable_pass(kiln_options *options, const char *pass_name);
KILN_API kiln_status kiln_options_set_isa(kiln_options *options, kiln_isa isa);
/* Let kiln_model_load succeed on models with ops kiln lacks, so they can be
 * described (kiln_model_op_stats reports supported = 0); creating a context
 * for such a model then fails with KILN_ERROR_UNSUPPORTED. Default 0. */
KILN_API kiln_status kiln_options_set_allow_unsupported(kiln_options *options, int allow);

/* ---- models ----------------------------------------------------------- */

/* Load, validate and optimize a model. External data is resolved relative to
 * the model's folder and never outside it. options may be NULL. */
KILN_API kiln_status kiln_model_load(const char *path, const kiln_options *options, kiln_model **out);
/* Same, from memory. base_dir is used for external data (NULL: external data
 * refused). The buffer is not referenced after the call returns. */
KILN_API kiln_status kiln_model_load_buffer(const void *data, size_t size, const char *base_dir,
                                            const kiln_options *options, kiln_model **out);
KILN_API void kiln_model_release(kiln_model *model);

/* Description of a graph input or output. dims[i] is -1 where the model
 * leaves the dimension open; dim_names[i] is then its symbolic name or NULL.
 * rank is -1 when the model does not declare a shape. Pointers stay valid
 * while the model lives. */
typedef struct kiln_value_info {
    const char *name;
    kiln_dtype dtype;
    int64_t rank;
    const int64_t *dims;
    const char *const *dim_names;
} kiln_value_info;

KILN_API size_t kiln_model_input_count(const kiln_model *model);
KILN_API size_t kiln_model_output_count(const kiln_model *model);
KILN_API kiln_status kiln_model_input_info(const kiln_model *model, size_t index, kiln_value_info *out);
KILN_API kiln_status kiln_model_output_info(const kiln_model *model, size_t index, kiln_value_info *out);

/* Facts about the model file, for `kiln info`. Strings stay valid while the
 * model lives. */
typedef struct kiln_model_meta {
    int64_t ir_version;
    const char *producer_name;
    const char *producer_version;
    const char *domain;
    int64_t model_version;
    const char *doc_string;
    size_t opset_count;
    const char *const *opset_domains; /* "" is the default ONNX domain */
    const int64_t *opset_versions;
    int64_t parameter_count;         /* elements in initializers */
    int64_t parameter_bytes;
    size_t node_count;               /* nodes in the graph as loaded, before optimization */
} kiln_model_meta;

KILN_API kiln_status kiln_model_meta_get(const kiln_model *model, kiln_model_meta *out);

/* Ops of the graph: as loaded (optimized = 0) or as kiln will run it
 * (optimized = 1). Returns the number of distinct (domain, op) pairs through
 * *count; index them with kiln_model_op_stat. */
typedef struct kiln_op_stat {
    const char *domain;
    const char *op_type;
    size_t count;
    int supported; /* kiln has a kernel for it at this opset */
} kiln_op_stat;

KILN_API kiln_status kiln_model_op_stats(const kiln_model *model, int optimized, size_t *count);
KILN_API kiln_status kiln_model_op_stat(const kiln_model *model, int optimized, size_t index,
                                        kiln_op_stat *out);

/* What the optimizer did while loading: one line per rewrite
 * ("fuse-bn: bn1 folded into Conv 'conv1'"). Lines stay valid while the model
 * lives; NULL past the end. */
KILN_API size_t kiln_model_pass_log_count(const kiln_model *model);
KILN_API const char *kiln_model_pass_log_line(const kiln_model *model, size_t index);

/* Write the model as kiln runs it (after optimization) as an ONNX file of
 * standard ops, atomically (temporary file + rename). */
KILN_API kiln_status kiln_model_save(const kiln_model *model, const char *path);

/* ---- contexts (per-request state) -------------------------------------- */

/* A context runs a model. Many contexts can run one model at once from
 * different threads; one context is used by one thread at a time. */
KILN_API kiln_status kiln_context_create(const kiln_model *model, kiln_context **out);
KILN_API void kiln_context_release(kiln_context *context);

/* Run the model.
 * inputs[i] is bound to the graph input named input_names[i]; every graph
 * input without an initializer must be given. Shapes may change between runs
 * (the context re-plans).
 * For each requested output: if outputs[i] is NULL on entry, kiln creates a
 * tensor the caller releases; otherwise it must be a tensor of the right
 * dtype and shape (e.g. from kiln_tensor_wrap) and kiln writes into it.
 * output_names may be NULL with n_outputs equal to the model's output count:
 * outputs then follow the model's output order. */
KILN_API kiln_status kiln_context_run(kiln_context *context, size_t n_inputs,
                                      const char *const *input_names,
                                      const kiln_tensor *const *inputs, size_t n_outputs,
                                      const char *const *output_names, kiln_tensor **outputs);

/* Ask a run in progress on this context to stop; safe from any thread. The
 * run returns KILN_ERROR_INTERRUPTED and the context stays usable. */
KILN_API void kiln_context_interrupt(kiln_context *context);

/* Peak bytes of the activation arena of the current plan (0 before a run). */
KILN_API size_t kiln_context_arena_bytes(const kiln_context *context);

/* Per-node profiling. While enabled, each run adds every executed node's
 * wall time; entries follow execution order and are reset when the context
 * re-plans or profiling is enabled again. flops is the node's arithmetic
 * per run (multiply-adds count 2) where kiln knows it (Conv, Gemm, MatMul),
 * else 0. */
typedef struct kiln_profile_entry {
    const char *node_name;
    const char *op_type;
    uint64_t calls;
    double total_ms;
    double flops;
} kiln_profile_entry;

KILN_API kiln_status kiln_context_enable_profiling(kiln_context *context, int enable);
KILN_API size_t kiln_context_profile_count(const kiln_context *context);
KILN_API kiln_status kiln_context_profile_entry(const kiln_context *context, size_t index,
                                               kiln_profile_entry *out);

#ifdef __cplusplus
}
#endif

#endif /* KILN_H */
