/* A small interpreter for subgraphs (If branches, Loop and Scan bodies):
 * evaluates the nodes in order with kn_eval_node on tensors allocated per
 * node, freeing each intermediate after its last use. */
#ifndef KN_SUBGRAPH_H
#define KN_SUBGRAPH_H

#include "runtime/runtime.h"

/* Values of enclosing graphs the subgraph may read, by name. */
typedef struct kn_scope {
    int n;
    const char *const *names;
    const kiln_tensor *const *values;
} kn_scope;

typedef struct kn_subgraph_exec kn_subgraph_exec;

/* Prepare to run sub (compacted, ops resolved) repeatedly: binds its
 * constants and the outer-scope values it reads. The scope's tensors must
 * outlive the exec. */
kiln_status kn_subgraph_exec_new(const kn_graph *sub, const kn_scope *outer, pthreadpool_t pool,
                                 kn_isa_level isa, kn_subgraph_exec **out);
void kn_subgraph_exec_free(kn_subgraph_exec *e);

/* One evaluation: inputs bind to sub's formal inputs in order (n_inputs must
 * equal sub->n_inputs); outputs[i] (sub->n_outputs entries) receive new
 * tensors the caller frees with kn_tensor_free. */
kiln_status kn_subgraph_exec_run(kn_subgraph_exec *e, const kiln_tensor *const *inputs, int n_inputs,
                                 kiln_tensor **outputs);

#endif
