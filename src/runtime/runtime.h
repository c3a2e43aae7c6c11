/* Runtime internals: options, the immutable model, the per-request context
 * and the plan a context compiles for its current input shapes. */
#ifndef KN_RUNTIME_H
#define KN_RUNTIME_H

#include "core/core.h"
#include "graph/graph.h"
#include "ops/op.h"

#include <stdatomic.h>

#define KN_MAX_DISABLED_PASSES 16

struct kiln_options {
    int threads;   /* 0 = CPUs available */
    int opt_level; /* 0..3 */
    kiln_isa isa;
    int allow_unsupported;
    int n_disabled;
    char *disabled[KN_MAX_DISABLED_PASSES];
    uint64_t limits[3]; /* by kiln_limit; 0 = none */
    void *host_pool;    /* pthreadpool_t owned by the host, or NULL */
};

/* Defaults used when the caller passes NULL options. */
void kn_options_defaults(struct kiln_options *o);
bool kn_options_pass_enabled(const struct kiln_options *o, const char *pass);

/* Limits of the load / plan / run in progress on this thread. kn_eval_node
 * checks them before allocating outputs, which also covers constant folding
 * at load, where no model is at hand. enter returns the previous setting for
 * leave (NULL: no limits). */
const struct kiln_options *kn_limits_enter(const struct kiln_options *o);
void kn_limits_leave(const struct kiln_options *previous);
const struct kiln_options *kn_limits_active(void);
/* KILN_ERROR_LIMIT when t (an output of node, or an initializer when node is
 * NULL) has more elements than o allows. o may be NULL. */
kiln_status kn_limit_tensor(const struct kiln_options *o, const kn_node *node, const char *value_name,
                            const kiln_tensor *t);
/* KILN_ERROR_LIMIT when a buffer of bytes exceeds the arena limit. */
kiln_status kn_limit_arena(const struct kiln_options *o, size_t bytes, const char *what);
/* Largest output kn_eval_node may allocate on this thread (0: no cap), so
 * constant folding gives up on a huge constant before allocating it. enter
 * returns the previous cap for leave. */
size_t kn_fold_cap_enter(size_t max_bytes);
void kn_fold_cap_leave(size_t previous);
size_t kn_fold_cap_get(void);
/* "KILN_LIMIT_MODEL_BYTES", ... for messages. */
const char *kn_limit_name(kiln_limit limit);

typedef struct kn_op_tally {
    char *domain;
    char *op_type;
    size_t count;
    int supported;
} kn_op_tally;

typedef struct kn_io_info {
    kiln_value_info info;
    int64_t dims[KN_MAX_RANK];
    const char *dim_names[KN_MAX_RANK];
    int value; /* value index in the graph */
} kn_io_info;

struct kiln_model {
    kn_graph *graph; /* after passes; immutable once loaded */
    struct kiln_options options;
    kn_isa_level isa;
    int threads;
    /* metadata */
    int64_t ir_version, model_version;
    char *producer_name, *producer_version, *domain, *doc_string;
    int64_t param_count, param_bytes;
    size_t node_count;
    const char **opset_domains;
    int64_t *opset_versions;
    size_t opset_count;
    kn_io_info *inputs, *outputs;
    size_t n_inputs, n_outputs;
    kn_op_tally *stats[2]; /* [0] as loaded, [1] optimized */
    size_t n_stats[2];
    char *unsupported; /* "Foo (opset 13), Bar" or NULL */
};

/* ---- plans -------------------------------------------------------------- */

typedef enum kn_slot_kind {
    KN_SLOT_UNUSED = 0,
    KN_SLOT_CONST,   /* model constant (shared, read-only) */
    KN_SLOT_FOLDED,  /* evaluated at plan time; owned by the plan */
    KN_SLOT_INPUT,   /* bound to the caller's tensor at run time */
    KN_SLOT_ARENA,   /* planned buffer in the arena */
    KN_SLOT_DYNAMIC  /* shape known only at run time; allocated per run */
} kn_slot_kind;

typedef struct kn_slot {
    kn_slot_kind kind;
    kiln_tensor t;       /* descriptor; t.data points at the storage */
    kiln_tensor *folded; /* KN_SLOT_FOLDED: owned tensor */
    size_t offset;       /* KN_SLOT_ARENA */
    int def_step, last_step;
    /* KN_SLOT_ARENA: 1 + the slot of the Concat output this value is a
     * slice of (its producer writes in place, at alias_offset), or 0 */
    int alias;
    size_t alias_offset;
    bool has_aliases; /* some input slots are slices of this one */
    bool in_place; /* the alias is an output written over its input (kn_op.in_place_input) */
} kn_slot;

typedef struct kn_step {
    int node;
    const kn_op *op;
    void *state;
    size_t scratch_size;
    size_t scratch_offset; /* in the arena */
    size_t out_stride;     /* kn_op_ctx.out_stride */
    bool dynamic;
    /* profiling */
    uint64_t calls;
    double total_ms;
    double flops;
} kn_step;

typedef struct kn_plan {
    kn_slot *slots; /* one per graph value */
    int n_slots;
    kn_step *steps;
    int n_steps;
    size_t arena_size;
    void *arena;
    /* shapes the plan was made for, per model input */
    kiln_tensor *input_shapes;
    size_t n_inputs;
} kn_plan;

struct kiln_context {
    const struct kiln_model *model;
    kn_plan *plan;
    pthreadpool_t pool;
    bool own_pool; /* pool was created by kiln (not the host's) */
    atomic_int interrupt;
    bool profiling;
};

/* Evaluate one node on tensors whose data is all available. Outputs are
 * newly allocated (caller frees with kn_tensor_free). Used for constant
 * folding and for dynamic-shape steps. */
kiln_status kn_eval_node(const kn_graph *g, const kn_node *node, const kiln_tensor *const *in, kiln_tensor **out,
                         pthreadpool_t pool, kn_isa_level isa);

/* Build a plan for the inputs' shapes (inputs in model input order). */
kiln_status kn_plan_build(const struct kiln_model *m, const kiln_tensor *const *inputs, pthreadpool_t pool,
                          kn_plan **out);
void kn_plan_free(kn_plan *p, const kn_graph *g);
/* Whether the plan fits these inputs' dtypes and shapes. */
bool kn_plan_matches(const kn_plan *p, const kiln_tensor *const *inputs);
/* Execute. Output tensors of the graph are then readable in their slots. */
kiln_status kn_plan_run(kn_plan *p, const struct kiln_model *m, const kiln_tensor *const *inputs,
                        pthreadpool_t pool, atomic_int *interrupt);
/* Same, adding each step's wall time to its profile counters when profile. */
kiln_status kn_plan_run_ex(kn_plan *p, const struct kiln_model *m, const kiln_tensor *const *inputs,
                           pthreadpool_t pool, atomic_int *interrupt, bool profile);
/* Zero the profile counters and compute each step's flops. */
void kn_plan_reset_profile(kn_plan *p, const kn_graph *g);
/* Free per-run allocations of dynamic slots. */
void kn_plan_release_dynamic(kn_plan *p);

/* ---- log (log.c) --------------------------------------------------------- */
/* Whether a message at level would reach the host's callback. */
bool kn_log_enabled(kiln_log_level level);
/* Format and hand a message to the host's log callback, if any. */
void kn_log(kiln_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- cpu ------------------------------------------------------------------ */
kn_isa_level kn_cpu_isa(kiln_isa requested);
/* CPUs this process may use (affinity mask and cgroup CPU quota). */
int kn_cpu_available(void);

/* ---- load pipeline (model.c) --------------------------------------------- */
/* Resolve ops, upgrade old forms, parse attributes; list unsupported ops. */
kiln_status kn_graph_resolve_ops(kn_graph *g, bool allow_unsupported, char **unsupported);
/* Describe graph values (inputs or outputs) for kiln_value_info. */
kiln_status kn_model_io_info(const kn_graph *g, const int *values, int n, kn_io_info **out);
/* Graph passes by optimization level. */
kiln_status kn_graph_optimize(kn_graph *g, const struct kiln_options *o);

#endif
