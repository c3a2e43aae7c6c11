/* The graph IR: what a loaded ONNX graph becomes, what passes rewrite and
 * what the planner compiles. Values and nodes live in arrays and refer to
 * each other by index; removed nodes are marked dead and swept by
 * kn_graph_compact(). */
#ifndef KN_GRAPH_H
#define KN_GRAPH_H

#include "core/core.h"

struct kn_op;
struct kn_graph;

/* A dimension as declared in the model: a value >= 0, or -1 with an optional
 * symbolic name. */
typedef struct kn_dim {
    int64_t value;
    char *symbol;
} kn_dim;

typedef struct kn_value {
    char *name;
    kiln_dtype dtype; /* UNDEFINED when not declared and not yet inferred */
    int rank;         /* -1 when unknown */
    kn_dim dims[KN_MAX_RANK];
    int producer;          /* node index, -1 for graph inputs and constants */
    kiln_tensor *constant; /* initializer or folded constant (owned) or NULL */
    bool is_graph_input;   /* fed by the caller (not an initializer) */
    bool is_graph_output;
    bool is_initializer;   /* came from graph.initializer */
    int n_consumers;       /* maintained by kn_graph_build_uses() */
    /* dtype KN_DTYPE_SEQUENCE / KN_DTYPE_OPTIONAL (core.h): what the value
     * holds as declared (item tensors' dtype, whether an optional holds a
     * sequence), kept to save the model with the same type. */
    kiln_dtype item_dtype;
    bool item_is_sequence;
} kn_value;

typedef enum kn_attr_type {
    KN_ATTR_UNDEFINED = 0,
    KN_ATTR_FLOAT = 1,
    KN_ATTR_INT = 2,
    KN_ATTR_STRING = 3,
    KN_ATTR_TENSOR = 4,
    KN_ATTR_GRAPH = 5,
    KN_ATTR_FLOATS = 6,
    KN_ATTR_INTS = 7,
    KN_ATTR_STRINGS = 8,
    KN_ATTR_TENSORS = 9,
    KN_ATTR_GRAPHS = 10,
    KN_ATTR_SPARSE_TENSOR = 11,
    KN_ATTR_SPARSE_TENSORS = 12,
    KN_ATTR_TYPE_PROTO = 13,
    KN_ATTR_TYPE_PROTOS = 14
} kn_attr_type;

typedef struct kn_attr {
    char *name;
    kn_attr_type type;
    float f;
    int64_t i;
    char *s;      /* NUL-terminated copy; s_len bytes (may contain NULs) */
    size_t s_len;
    kiln_tensor *t;
    struct kn_graph *g;
    float *floats;
    int64_t *ints;
    char **strings;
    size_t count; /* elements of floats / ints / strings / tensors / graphs */
    kiln_tensor **tensors;
    struct kn_graph **graphs;
} kn_attr;

typedef struct kn_node {
    char *name;    /* never NULL; "" in the file becomes "<op_type>_<index>" */
    char *op_type;
    char *domain;  /* "" for the default ONNX domain ("ai.onnx" is normalized to "") */
    int opset;     /* version of domain imported by the model */
    int n_in, n_out;
    int *in;       /* value indices; -1 marks an omitted optional input */
    int *out;      /* value indices; -1 marks an omitted optional output */
    int n_attrs;
    kn_attr *attrs;
    const struct kn_op *op; /* resolved kernel family, NULL if unsupported */
    void *params;           /* parsed attributes, owned via op->free_params */
    bool dead;
} kn_node;

typedef struct kn_opset {
    char *domain;
    int64_t version;
} kn_opset;

typedef struct kn_graph {
    char *name;
    kn_value *values;
    int n_values, cap_values;
    kn_node *nodes;
    int n_nodes, cap_nodes;
    int *inputs;  /* graph inputs in declaration order (values fed by caller) */
    int n_inputs;
    int *outputs;
    int n_outputs;
    kn_opset *opsets;
    int n_opsets;
    struct kn_graph *parent; /* for subgraphs: outer scope for name lookup */
    /* name -> value index hash (open addressing) */
    int *hash;
    int hash_cap;
    int name_counter; /* for generated unique names */
    /* What the passes did, one line per rewrite ("fuse-bn: bn1 into conv1"),
     * for `kiln info --optimized --verbose`. */
    char **log;
    int n_log;
} kn_graph;

kiln_status kn_graph_new(kn_graph **out);
void kn_graph_free(kn_graph *g);

/* Index of the value named name in this graph, or -1. */
int kn_graph_find(const kn_graph *g, const char *name);
/* Value named name, created (dtype undefined, rank -1) if absent. */
kiln_status kn_graph_value(kn_graph *g, const char *name, int *index);
/* A new value with a unique name derived from hint. */
kiln_status kn_graph_new_value(kn_graph *g, const char *hint, int *index);
/* A new constant value owning tensor t (ownership passes even on failure). */
kiln_status kn_graph_add_constant(kn_graph *g, const char *hint, kiln_tensor *t, int *index);
/* Append a node; copies op_type/domain/name; in/out arrays are copied. Node
 * pointers are invalidated by later appends: hold indices. */
kiln_status kn_graph_add_node(kn_graph *g, const char *name, const char *op_type,
                              const char *domain, int n_in, const int *in, int n_out,
                              const int *out, int *index);
/* Replace the inputs of a node. */
kiln_status kn_node_set_inputs(kn_node *n, int n_in, const int *in);
/* Attribute by name or NULL. */
const kn_attr *kn_node_attr(const kn_node *n, const char *name);
/* Remove an attribute (no-op if absent). */
void kn_node_remove_attr(kn_node *n, const char *name);
/* Append a copy of an INT/INTS/FLOAT/STRING attribute. */
kiln_status kn_node_add_attr_int(kn_node *n, const char *name, int64_t v);
kiln_status kn_node_add_attr_float(kn_node *n, const char *name, float v);
kiln_status kn_node_add_attr_ints(kn_node *n, const char *name, const int64_t *v, size_t count);
kiln_status kn_node_add_attr_string(kn_node *n, const char *name, const char *s);
void kn_attr_clear(kn_attr *a);
/* Opset the graph imports for a domain ("" = default), 0 if none. */
int64_t kn_graph_opset(const kn_graph *g, const char *domain);
/* Import domain at version unless the graph imports it already (passes
 * that add kiln.* nodes). */
kiln_status kn_graph_ensure_opset(kn_graph *g, const char *domain, int64_t version);

/* Recount consumers and producers from the nodes (after rewrites). */
void kn_graph_build_uses(kn_graph *g);
/* Node indices in topological order (live nodes only); fails on cycles or
 * inputs that nothing produces. order must have room for n_nodes ints. */
kiln_status kn_graph_topo_order(const kn_graph *g, int *order, int *count);
/* Reorder node array topologically and drop dead nodes. */
kiln_status kn_graph_compact(kn_graph *g);
/* Rewire every node input reading value `from` to read `to`. Graph outputs
 * keep their values (and so their names): a pass that removes a graph
 * output's producer must make another node produce that value instead. */
void kn_graph_replace_uses(kn_graph *g, int from, int to);
/* Attributes or op type changed: drop the parsed params (and the op), so
 * kn_graph_resolve_ops looks the node up and parses it again. */
void kn_node_unresolve(kn_node *n);
/* Make n a domain.op_type node of that opset (unresolved, as above). */
kiln_status kn_node_retype(kn_node *n, const char *domain, const char *op_type, int opset);
/* Free a node's contents (params, attributes, names). */
void kn_node_clear(kn_node *n);
/* Append a line to g->log (best effort: dropped if memory is short). */
void kn_graph_log(kn_graph *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Mark a node dead (freeing nothing yet). */
void kn_node_kill(kn_graph *g, int node);

#endif
