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
 * values appended at the end. Structs meant to grow (kiln_custom_op,
 * kiln_plugin_api) start with struct_size and only gain members at the end.
 * KILN_API_VERSION increases whenever something is added; the SONAME
 * (libkiln.so.0) changes only if a rule above is ever broken.
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

/* 1: the first public API. 2: host allocator, log callback, host thread
 * pool, resource limits, custom operators and plugins. 3: sequence and
 * optional values. */
#define KILN_API_VERSION 3

/* Highest tensor rank kiln handles. */
#define KILN_MAX_RANK 8

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
    KILN_DTYPE_BFLOAT16 = 16,
    /* Narrow types (ONNX 1.15+). In kiln's memory every one takes one byte
     * per element, unpacked: the float8 / float4 types hold their bit code
     * (float4e2m1 in the low nibble), INT4 / INT2 a sign-extended int8,
     * UINT4 / UINT2 a uint8. Only ONNX files pack 4-bit and 2-bit elements
     * (two resp. four per byte); kiln unpacks on reading and packs on
     * writing. */
    KILN_DTYPE_FLOAT8E4M3FN = 17,
    KILN_DTYPE_FLOAT8E4M3FNUZ = 18,
    KILN_DTYPE_FLOAT8E5M2 = 19,
    KILN_DTYPE_FLOAT8E5M2FNUZ = 20,
    KILN_DTYPE_UINT4 = 21,
    KILN_DTYPE_INT4 = 22,
    KILN_DTYPE_FLOAT4E2M1 = 23,
    KILN_DTYPE_FLOAT8E8M0 = 24,
    KILN_DTYPE_UINT2 = 25,
    KILN_DTYPE_INT2 = 26
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
/* Bytes per element in memory; 0 for STRING and unknown types. The 4-bit
 * and 2-bit types take 1 (kiln stores them unpacked, see kiln_dtype). */
KILN_API size_t kiln_dtype_size(kiln_dtype dtype);

/* ---- host integration: allocator, log --------------------------------- */

/* Memory functions kiln uses for everything it allocates (models, plans,
 * arenas, tensors it creates). malloc_fn, realloc_fn and free_fn are
 * required; realloc_fn must accept ptr NULL. aligned_alloc_fn and
 * aligned_free_fn are optional (both or neither): without them kiln
 * over-allocates with malloc_fn to get 64-byte aligned tensor storage.
 * user is passed to every call. The functions may be called from any thread
 * at once.
 * Install the allocator before any other kiln call (or while no kiln object
 * is alive): memory is always returned to the allocator it came from only if
 * the allocator does not change in between. NULL restores the C library's
 * allocator. The struct is copied. */
typedef struct kiln_allocator {
    void *(*malloc_fn)(void *user, size_t size);
    void *(*realloc_fn)(void *user, void *ptr, size_t size);
    void (*free_fn)(void *user, void *ptr);
    void *(*aligned_alloc_fn)(void *user, size_t alignment, size_t size);
    void (*aligned_free_fn)(void *user, void *ptr);
    void *user;
} kiln_allocator;

KILN_API kiln_status kiln_set_allocator(const kiln_allocator *allocator);

/* kiln never prints. Messages about loading (ops, passes applied, ISA
 * chosen), planning (steps, arena size) and failures go to this callback,
 * for levels up to max_level. It is called from the thread doing the work,
 * possibly from several threads at once; message is valid during the call
 * only. fn NULL turns logging off (the default). */
typedef enum kiln_log_level {
    KILN_LOG_ERROR = 0,
    KILN_LOG_WARNING = 1,
    KILN_LOG_INFO = 2,
    KILN_LOG_DEBUG = 3
} kiln_log_level;

typedef void (*kiln_log_fn)(void *user, kiln_log_level level, const char *message);

KILN_API void kiln_set_log_callback(kiln_log_fn fn, void *user, kiln_log_level max_level);

/* ---- tensors ---------------------------------------------------------- */

/* Data layout: dense, row-major (C order), no padding. For
 * KILN_DTYPE_STRING, kiln_tensor_data is an array of element_count
 * NUL-terminated char *. */

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
/* 0 none (and every value its own buffer: no Concat inputs or residuals
 * written in place), 1 eliminations + constant folding + BN folds, 2
 * (default) + fusion, and on AVX2 / AVX-512 CPUs the blocked channel layout
 * for conv chains (pass "nchwc"); 3 = 2 with the blocked layout on every CPU
 * (its portable kernels; for testing). A model loaded with the blocked layout cannot be
 * saved by kiln_model_save: disable pass "nchwc" for that. Pass names for
 * kiln_options_disable_pass: "eliminate", "constant-folding", "fuse-bn",
 * "fuse-epilogue", "nchwc". */
KILN_API kiln_status kiln_options_set_opt_level(kiln_options *options, int level);
KILN_API kiln_status kiln_options_disable_pass(kiln_options *options, const char *pass_name);
KILN_API kiln_status kiln_options_set_isa(kiln_options *options, kiln_isa isa);
/* Let kiln_model_load succeed on models with ops kiln lacks, so they can be
 * described (kiln_model_op_stats reports supported = 0); creating a context
 * for such a model then fails with KILN_ERROR_UNSUPPORTED. Default 0. */
KILN_API kiln_status kiln_options_set_allow_unsupported(kiln_options *options, int allow);
/* Run kernels on the host's thread pool instead of a pool kiln creates for
 * each context: pthreadpool is a pthreadpool_t (from <pthreadpool.h>) passed
 * as void *. kiln does not own it; it must outlive every context of models
 * loaded with these options. Contexts sharing one pool may run at once (the
 * pool serializes their parallel loops). NULL (default): kiln's own pools
 * of kiln_options_set_threads threads. */
KILN_API kiln_status kiln_options_set_thread_pool(kiln_options *options, void *pthreadpool);

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

/* The operator table (API version 3): every built-in kernel descriptor, one entry per
 * opset range (an op may have several; an entry that only rewrites an old
 * opset form into a newer one has upgrade_only set). Host-registered custom
 * ops (kiln_register_op) are not listed. Strings and the dtype list are
 * static: valid for the life of the process. */
typedef struct kiln_op_info {
    const char *domain;       /* "" = the default ONNX domain */
    const char *name;
    int since_min;            /* lowest opset version covered */
    int since_max;            /* highest; 0 = up to the newest kiln knows */
    const kiln_dtype *dtypes; /* the element types input dtype_input may have, */
    size_t n_dtypes;          /* 0 (dtypes NULL): any, the op checks itself */
    int dtype_input;
    int fast;                 /* float32 runs on a vectorized/blocked kernel */
    int upgrade_only;         /* no kernel: rewritten into a newer opset form at load */
} kiln_op_info;

KILN_API size_t kiln_op_count(void);
KILN_API kiln_status kiln_op_get_info(size_t index, kiln_op_info *out);

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
/* Use the host's pthreadpool_t (as void *) for this context's runs from now
 * on, replacing the pool from the model's options or kiln's own pool (freed
 * here). NULL returns to kiln's own pool. Not while the context runs. */
KILN_API kiln_status kiln_context_set_thread_pool(kiln_context *context, void *pthreadpool);

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

/* ---- sequences and optionals (API version 3) ----------------------------
 * Some ONNX values are not tensors: a sequence holds any number of tensors
 * (ONNX SequenceProto), an optional holds one value or none (OptionalProto).
 * kiln hands them over as kiln_tensor handles of another kind. Such a
 * handle has rank 0 and no elements: kiln_tensor_data returns NULL,
 * kiln_tensor_element_count and kiln_tensor_byte_size 0, and
 * kiln_tensor_dtype the items' dtype (KILN_DTYPE_UNDEFINED when unknown or
 * when the items are not tensors). Release it with kiln_tensor_release.
 *
 * kiln_context_run accepts them as inputs but refuses to return them
 * (KILN_ERROR_UNSUPPORTED "output 'y' is a sequence; ..."), so callers
 * written for tensors never receive one; kiln_context_run_values returns
 * them. */
typedef enum kiln_value_kind {
    KILN_VALUE_TENSOR = 0,
    KILN_VALUE_SEQUENCE = 1,
    KILN_VALUE_OPTIONAL = 2
} kiln_value_kind;

KILN_API kiln_value_kind kiln_tensor_kind(const kiln_tensor *value);
/* Items of a sequence; 0 or 1 for an optional; 0 for a tensor. */
KILN_API size_t kiln_tensor_item_count(const kiln_tensor *value);
/* Item index (owned by value, valid while it lives), or NULL past the end. */
KILN_API const kiln_tensor *kiln_tensor_item(const kiln_tensor *value, size_t index);
/* A sequence of copies of items[0..n) (tensors of one dtype; elem_dtype
 * names it when n is 0, or is KILN_DTYPE_UNDEFINED). */
KILN_API kiln_status kiln_sequence_create(kiln_dtype elem_dtype, size_t n, const kiln_tensor *const *items,
                                          kiln_tensor **out);
/* An optional holding a copy of value (a tensor or a sequence), or nothing
 * when value is NULL. */
KILN_API kiln_status kiln_optional_create(const kiln_tensor *value, kiln_tensor **out);
/* Kind of a graph input or output as the model declares it. */
KILN_API kiln_status kiln_model_input_kind(const kiln_model *model, size_t index, kiln_value_kind *out);
KILN_API kiln_status kiln_model_output_kind(const kiln_model *model, size_t index, kiln_value_kind *out);
/* Read a TensorProto, SequenceProto or OptionalProto file (which one the
 * bytes hold cannot be told from them: kind says). */
KILN_API kiln_status kiln_value_read_file(const char *path, kiln_value_kind kind, kiln_tensor **out);
/* kiln_context_run that also returns sequence and optional outputs; those
 * are always created by kiln (outputs[i] must be NULL on entry for them). */
KILN_API kiln_status kiln_context_run_values(kiln_context *context, size_t n_inputs,
                                             const char *const *input_names,
                                             const kiln_tensor *const *inputs, size_t n_outputs,
                                             const char *const *output_names, kiln_tensor **outputs);

/* ---- limits (untrusted models) ------------------------------------------ */

/* Resource limits a model loaded with these options must stay within. A
 * model or input that would exceed one fails with KILN_ERROR_LIMIT and a
 * message naming the limit, before the large allocation is made. */
typedef enum kiln_limit {
    /* Size of the model file or buffer (external data not included). */
    KILN_LIMIT_MODEL_BYTES = 0,
    /* Elements of any one tensor: initializers, folded constants, planned
     * intermediates and outputs, run-time (dynamic-shape) results. */
    KILN_LIMIT_TENSOR_ELEMENTS = 1,
    /* Bytes of a context's activation arena (and of one node's scratch
     * buffer outside the arena). */
    KILN_LIMIT_ARENA_BYTES = 2
} kiln_limit;

/* value 0 means no limit (the default for all three). */
KILN_API kiln_status kiln_options_set_limit(kiln_options *options, kiln_limit limit, uint64_t value);

/* ---- custom operators and plugins -------------------------------------- */

/* A node of the model as a custom operator sees it: its name and attributes. */
typedef struct kiln_op_node kiln_op_node;

/* Output element type and shape, filled by a custom op's infer. */
typedef struct kiln_shape {
    kiln_dtype dtype;
    size_t rank;
    int64_t dims[KILN_MAX_RANK];
} kiln_shape;

/* Flags of kiln_custom_op. */
#define KILN_CUSTOM_OP_NO_FOLD 1u /* never evaluate at load/plan time, even on
                                     constant inputs (random or stateful ops) */

/* A host-supplied operator kernel for nodes (domain, op_type) of models that
 * import domain at a version in [since_version, until_version].
 *
 * infer: from the inputs' dtypes and shapes, set every output's dtype, rank
 *   and dims. inputs[i] is NULL for an omitted optional input; input data
 *   (kiln_tensor_const_data) is NULL unless known when planning.
 * run: compute outputs[i] (allocated by kiln with the inferred shape; write
 *   through kiln_tensor_data) from inputs[i]. Called from the thread running
 *   a context; contexts of one model run at once, so run must be reentrant.
 * Both return KILN_OK or an error code; kiln_set_error() sets the message,
 * which kiln prefixes with the node name. */
typedef struct kiln_custom_op {
    size_t struct_size; /* sizeof(kiln_custom_op) */
    const char *domain; /* "" = the default ONNX domain; e.g. "com.example" */
    const char *op_type;
    int since_version;  /* lowest opset version of domain handled, >= 1 */
    int until_version;  /* highest; 0 = no upper bound */
    kiln_status (*infer)(void *user_data, const kiln_op_node *node, size_t n_inputs,
                         const kiln_tensor *const *inputs, size_t n_outputs, kiln_shape *outputs);
    kiln_status (*run)(void *user_data, const kiln_op_node *node, size_t n_inputs,
                       const kiln_tensor *const *inputs, size_t n_outputs, kiln_tensor *const *outputs);
    void *user_data;
    unsigned flags;     /* KILN_CUSTOM_OP_* */
} kiln_custom_op;

/* Register a custom operator, for models loaded afterwards. The descriptor
 * and its strings are copied; user_data must stay valid for the life of the
 * process (registrations are never removed). Registered ops take precedence
 * over kiln's own for the same domain, op type and version. Registering an
 * op whose version range overlaps one already registered fails with
 * KILN_ERROR_ARGUMENT. Thread-safe. */
KILN_API kiln_status kiln_register_op(const kiln_custom_op *op);

/* Set the calling thread's error message (read by kiln_last_error) and
 * return code; for custom ops reporting why they fail. */
KILN_API kiln_status kiln_set_error(kiln_status code, const char *message);

/* Node accessors for custom ops. Attribute getters return def when the
 * attribute is absent and KILN_ERROR_MODEL when it has another type. The
 * string returned stays valid while the model lives. */
KILN_API const char *kiln_op_node_name(const kiln_op_node *node);
KILN_API kiln_status kiln_op_node_attr_int(const kiln_op_node *node, const char *name, int64_t def,
                                           int64_t *out);
KILN_API kiln_status kiln_op_node_attr_float(const kiln_op_node *node, const char *name, float def,
                                             float *out);
KILN_API kiln_status kiln_op_node_attr_string(const kiln_op_node *node, const char *name, const char *def,
                                              const char **out);

/* What a plugin gets from kiln: the calls it needs, as function pointers,
 * so a plugin links against nothing and works whether the host links
 * libkiln.so or libkiln.a. New members are only ever appended; a plugin
 * checks struct_size before using one added after it was written. */
typedef struct kiln_plugin_api {
    size_t struct_size;
    int api_version; /* KILN_API_VERSION of the loading library */
    kiln_status (*register_op)(const kiln_custom_op *op);
    kiln_status (*set_error)(kiln_status code, const char *message);
    const char *(*op_node_name)(const kiln_op_node *node);
    kiln_status (*op_node_attr_int)(const kiln_op_node *node, const char *name, int64_t def, int64_t *out);
    kiln_status (*op_node_attr_float)(const kiln_op_node *node, const char *name, float def, float *out);
    kiln_status (*op_node_attr_string)(const kiln_op_node *node, const char *name, const char *def,
                                       const char **out);
    kiln_dtype (*tensor_dtype)(const kiln_tensor *tensor);
    size_t (*tensor_rank)(const kiln_tensor *tensor);
    const int64_t *(*tensor_dims)(const kiln_tensor *tensor);
    int64_t (*tensor_element_count)(const kiln_tensor *tensor);
    void *(*tensor_data)(kiln_tensor *tensor);
    const void *(*tensor_const_data)(const kiln_tensor *tensor);
} kiln_plugin_api;

/* The entry point a plugin library exports (extern "C"), by this name. It
 * registers its ops through api->register_op and returns KILN_OK. A later,
 * incompatible entry point would be kiln_plugin_init_v2. */
#define KILN_PLUGIN_INIT_V1 "kiln_plugin_init_v1"
typedef kiln_status (*kiln_plugin_init_v1_fn)(const kiln_plugin_api *api);

/* dlopen a plugin library (path as for dlopen) and call its
 * kiln_plugin_init_v1. The library stays loaded for the life of the
 * process. Loading the same library again does nothing and returns KILN_OK.
 * Thread-safe. */
KILN_API kiln_status kiln_load_plugin(const char *path);

/* ==== Precise-BatchNorm recalibration and calibration datasets ============
 * Re-estimates the population statistics (mean / var initializers) of every
 * BatchNormalization node of a model on new, unlabelled data and writes a
 * copy that differs from the original only in those initializers. See
 * docs/recalibration.md for the formulas. */

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

#endif /* KILN_H */
