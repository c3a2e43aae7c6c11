/* The operator interface. Each op family lives in one file of src/ops and
 * exports descriptors that registry.c lists in one table.
 *
 * Life of a node:
 *   load    -> upgrade(): optional; rewrites an old opset form into the
 *              current one (attributes turned into constant inputs, ...) so
 *              the other hooks see one semantics. It sets node->opset to the
 *              version whose form the node now has (and may change op_type,
 *              e.g. Upsample -> Resize); the loader then looks the op up
 *              again. A descriptor covering only old versions may therefore
 *              have just upgrade() (infer/run NULL).
 *           -> parse():   validates attributes once, fills node->params.
 *           -> finalize(): optional; after graph passes, precomputes from
 *              constant inputs (packed weights) into node->params.
 *   plan    -> infer():   given input dtypes/shapes (and values of inputs
 *              known at plan time), sets output dtypes/shapes. Returns
 *              KN_NEED_VALUE when an output shape depends on an input value
 *              that is only known at run time; the planner then calls infer
 *              again at run time with real data.
 *           -> prepare(): optional; choose a kernel for the shapes and ISA,
 *              request scratch memory, build per-step state.
 *   run     -> run():     compute outputs into preallocated buffers.
 */
#ifndef KN_OP_H
#define KN_OP_H

#include "core/core.h"
#include "graph/graph.h"

#include <pthreadpool.h>

/* Internal status (never returned through the public API): infer needs the
 * value of an input that is not known at plan time. */
#define KN_NEED_VALUE ((kiln_status)1000)

typedef enum kn_isa_level {
    KN_ISA_GENERIC = 0,
    KN_ISA_AVX2 = 1,
    KN_ISA_AVX512 = 2
} kn_isa_level;

typedef struct kn_op_ctx {
    const kn_graph *graph;
    const kn_node *node;
    const void *params;  /* node->params */
    int n_in;
    const kiln_tensor *const *in; /* NULL entries for omitted optional inputs;
                                     in infer(), data is NULL unless known */
    int n_out;
    kiln_tensor *const *out; /* NULL entries for omitted optional outputs.
                                infer() sets dtype/rank/dims via
                                kn_tensor_set_shape; run() gets allocated data */
    void *state;         /* from prepare(), freed by op->free_state */
    void *scratch;       /* scratch_size bytes, 64-byte aligned, valid in run() */
    size_t scratch_size; /* prepare() sets how much it needs */
    pthreadpool_t pool;  /* may be NULL: run single-threaded */
    kn_isa_level isa;
    /* run(), ops with strided_output only: when the planner made out[0] a
     * slice of a Concat's output, the bytes from one image (index of the
     * dims before the concat axis) of out[0] to the next; 0 = dense */
    size_t out_stride;
} kn_op_ctx;

typedef struct kn_op {
    const char *domain; /* "" = default ONNX domain */
    const char *name;
    int since_min;      /* lowest opset of this domain the descriptor handles */
    int since_max;      /* highest; 0 = no upper bound known */
    kiln_status (*upgrade)(kn_graph *g, int node);            /* optional */
    kiln_status (*parse)(kn_node *node);                      /* optional */
    void (*free_params)(void *params);                        /* optional, default kn_free */
    kiln_status (*infer)(kn_op_ctx *c);                       /* required unless upgrade-only */
    kiln_status (*prepare)(kn_op_ctx *c);                     /* optional */
    void (*free_state)(void *state);                          /* optional, default kn_free */
    kiln_status (*run)(kn_op_ctx *c);                         /* required unless upgrade-only */
    unsigned flags;
    /* optional: once, at the end of load (after graph passes), precompute
     * from constant inputs (g->values[node->in[i]].constant), e.g. pack
     * weights for the ISA, into node->params. The model is immutable and
     * shared by contexts afterwards, so this is the place for per-model
     * work; prepare() is per plan. */
    kiln_status (*finalize)(const kn_graph *g, kn_node *node, kn_isa_level isa);
    /* optional: the element types the op computes on, as seen on input
     * type_input (list ends with KILN_DTYPE_UNDEFINED). kn_op_infer refuses
     * anything else before infer() runs, and docs/operators.md is generated
     * from it, so the documented types are the enforced ones. NULL: infer()
     * checks types itself (ops defined on every type, like Identity). */
    const kiln_dtype *types;
    int type_input;
    /* optional (Concat): output 0 is the inputs side by side along one
     * axis. For planned shapes (c->in, c->out), input i's first slice
     * starts *offset bytes into the output, and its *slices slices (the
     * product of the dims before the axis) are *stride bytes apart. The
     * planner then lets an input's producer write there directly; run()
     * must skip an input whose data already is in place. */
    bool (*input_slice)(const kn_op_ctx *c, int i, size_t *offset, size_t *slices, size_t *stride);
    /* optional: whether the node's run() honours kn_op_ctx.out_stride, so
     * its output 0 can be a strided slice of a Concat's output (any op's
     * output can be a slice when there is one image) */
    bool (*strided_output)(const kn_node *node);
    /* optional: the input whose buffer output 0 may take over when the
     * node is that value's last reader (run() reads each element of it
     * before writing the same element of the output), or -1 */
    int (*in_place_input)(const kn_node *node);
} kn_op;

/* flags */
#define KN_OP_NO_FOLD 1u        /* never evaluate at plan time (random ops) */
#define KN_OP_SHAPE_ONLY 2u     /* run() reads only input shapes, never input
                                   data (Shape, Size): the planner evaluates
                                   it at plan time once shapes are known */
#define KN_OP_FAST 4u           /* float32 has a vectorized/blocked kernel
                                   (dispatched per ISA), not only the plain
                                   reference loop: shown in docs/operators.md */
#define KN_OP_CONTAINERS 8u     /* takes sequence/optional inputs (core.h);
                                   kn_op_infer refuses them for other ops.
                                   infer() sees such an input's data only
                                   when known, like any value */
#define KN_OP_BORROWS_STRINGS 16u /* run() moves STRING elements as plain
                                   pointers (borrowed from inputs, or NULL
                                   for "") through kn_elem_size copies;
                                   kn_op_own_strings (after run, from
                                   kn_eval_node) then gives every STRING
                                   output its own copies. Ops without it
                                   write owned strings themselves */

/* Common type lists for kn_op.types (defined in op_util.c). */
extern const kiln_dtype kn_types_float[];   /* float32, float64, float16, bfloat16 */
extern const kiln_dtype kn_types_numeric[]; /* kn_types_float + all integer types */
extern const kiln_dtype kn_types_signed[];  /* kn_types_float + signed integers */
extern const kiln_dtype kn_types_int[];     /* all integer types */
extern const kiln_dtype kn_types_fixed[];   /* every fixed-size type (not string): data movement */
extern const kiln_dtype kn_types_movable[]; /* kn_types_fixed + string: ops with KN_OP_BORROWS_STRINGS */
extern const kiln_dtype kn_types_cast[];    /* kn_types_plain + narrow types + string: Cast */
extern const kiln_dtype kn_types_plain[];   /* kn_types_numeric + bool */
extern const kiln_dtype kn_types_index[];   /* int32, int64 */
extern const kiln_dtype kn_types_bool[];    /* bool */

/* The planner's entry to an op: the generic type check of kn_op.types, then
 * op->infer(). A refused dtype is KILN_ERROR_UNSUPPORTED when the list has
 * another type of its kind (float, signed or unsigned integer, bool/string),
 * else KILN_ERROR_DTYPE. */
kiln_status kn_op_infer(const kn_op *op, kn_op_ctx *c);

/* The step after op->run() (or after a failure anywhere before it), for
 * every runner of ops: under KN_OP_BORROWS_STRINGS, replaces the pointers in
 * the op's allocated STRING outputs by owned copies (NULL -> "") when st is
 * KILN_OK, else clears them so freeing the outputs frees nothing borrowed.
 * Returns st, or the copy's failure (the outputs are then safe to free). */
kiln_status kn_op_own_strings(const kn_op *op, const kn_node *node, int n_out, kiln_tensor *const *out,
                              kiln_status st);

/* Registry (registry.c). NULL if kiln lacks the op at that opset. */
const kn_op *kn_op_find(const char *domain, const char *name, int64_t opset);
/* Whether any version of the op exists (to say "unsupported version"). */
bool kn_op_known(const char *domain, const char *name);
size_t kn_op_count(void);
const kn_op *kn_op_at(size_t i);

/* ---- attribute helpers (used from parse) --------------------------------
 * Each fails with a message naming node and attribute when the attribute has
 * the wrong type; missing optional attributes yield the default. */
kiln_status kn_attr_get_int(const kn_node *n, const char *name, int64_t def, int64_t *out);
kiln_status kn_attr_get_float(const kn_node *n, const char *name, float def, float *out);
/* *out points into the node (not copied); *count 0 and *out NULL if absent. */
kiln_status kn_attr_get_ints(const kn_node *n, const char *name, const int64_t **out, size_t *count);
kiln_status kn_attr_get_floats(const kn_node *n, const char *name, const float **out, size_t *count);
/* *out points into the node, or def if absent. */
kiln_status kn_attr_get_string(const kn_node *n, const char *name, const char *def, const char **out);
kiln_status kn_attr_get_tensor(const kn_node *n, const char *name, const kiln_tensor **out);
/* *out points into the node (NUL-terminated copies); *count 0 and *out NULL if absent. */
kiln_status kn_attr_get_strings(const kn_node *n, const char *name, char *const **out, size_t *count);
/* Required variants: missing -> KILN_ERROR_MODEL "node: missing attribute x". */
kiln_status kn_attr_require_int(const kn_node *n, const char *name, int64_t *out);

/* ---- infer helpers ------------------------------------------------------ */
/* Fail with KILN_ERROR_MODEL unless min_in <= present inputs <= max_in
 * (counting trailing omitted ones as absent). */
kiln_status kn_check_arity(const kn_op_ctx *c, int min_in, int max_in, int min_out, int max_out);
/* Fail with KILN_ERROR_DTYPE naming the input unless its dtype is one of the
 * list (terminated by KILN_DTYPE_UNDEFINED). */
kiln_status kn_check_dtype(const kn_op_ctx *c, int input, const kiln_dtype *allowed);
/* Normalize axis in [-rank, rank) to [0, rank); error names the node. */
kiln_status kn_norm_axis(const kn_op_ctx *c, int64_t axis, int rank, int *out);
/* Numpy broadcast of shapes a and b into out (rank/dims). */
kiln_status kn_broadcast_shape(const kn_op_ctx *c, int ra, const int64_t *da, int rb,
                               const int64_t *db, int *rout, int64_t *dout);
/* Input i's values as int64 (from an INT32/INT64 tensor whose data is known).
 * Returns KN_NEED_VALUE if the data is not known yet. vals must hold
 * max_count entries. */
kiln_status kn_input_ints(const kn_op_ctx *c, int i, int64_t *vals, size_t max_count, size_t *count);
/* KN_NEED_VALUE unless the data of every present input is known (infer of
 * ops whose outputs depend on all input values, like the sequence ops). */
kiln_status kn_inputs_known(const kn_op_ctx *c);
/* Set output i's shape (dtype, rank, dims). */
kiln_status kn_set_output(kn_op_ctx *c, int i, kiln_dtype dtype, int rank, const int64_t *dims);

/* ---- broadcasting iteration ---------------------------------------------
 * Strides (in elements) of a tensor broadcast to an output shape: 0 along
 * broadcast dimensions. rank_out >= rank_in; dims are right-aligned. */
void kn_broadcast_strides(int rank_in, const int64_t *dims_in, int rank_out,
                          const int64_t *dims_out, int64_t *strides);
/* Views: up to 2*KN_MAX_RANK dims (DepthToSpace-style reshapes add some). */
#define KN_MAX_VIEW_RANK (2 * KN_MAX_RANK)
/* Bytes an element occupies in a tensor's data: sizeof(char *) for STRING
 * (moved as pointers, see KN_OP_BORROWS_STRINGS), 0 for unknown dtypes. */
size_t kn_elem_size(kiln_dtype dt);
/* Copy one element of esz bytes. */
void kn_copy_elem(char *dst, const char *src, size_t esz);
/* Fill dense dst from a strided view of src: element (i0..in) of the view is
 * src[sum ik * strides[k]] (element strides; 0 repeats, negative reverses).
 * Serves Transpose, Expand, Tile, Slice and the DepthToSpace family. */
void kn_copy_view(void *dst, const void *src, int rank, const int64_t *dims, const int64_t *strides, size_t esz);
/* Contiguous strides for a shape. */
void kn_contiguous_strides(int rank, const int64_t *dims, int64_t *strides);

/* A parallel region costs a few microseconds (much more when a worker has
 * to be scheduled): kernels with fewer multiply-adds than this run on the
 * calling thread (small GEMMs, squeeze-excitation convs on 1x1 maps). */
#define KN_MIN_PARALLEL_MACS (128.0 * 1024.0)

/* Float kernels commonly need thread-pool style parallel loops; this runs
 * fn(ctx, i) for i in [0, n) on the pool (or inline if pool is NULL). */
typedef void (*kn_parallel_fn)(void *ctx, size_t i);
void kn_parallel_for(pthreadpool_t pool, size_t n, kn_parallel_fn fn, void *ctx);

#endif
