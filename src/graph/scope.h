/* Outer-scope values of subgraphs (If/Loop/Scan bodies).
 *
 * A subgraph may read any value of an enclosing graph by name. At load,
 * kn_graph_bind_scopes() appends every such value as an extra, hidden input
 * of the node owning the subgraph, so topological order, dead-node
 * elimination and buffer liveness see the dependency without knowing about
 * subgraphs. The hidden inputs follow the node's declared inputs, in the
 * order kn_node_outer_names() lists them; the node records their count in
 * the internal attribute KN_ATTR_HIDDEN_INPUTS (never exported). */
#ifndef KN_SCOPE_H
#define KN_SCOPE_H

#include "graph/graph.h"

#define KN_ATTR_HIDDEN_INPUTS "kiln.hidden_inputs"

/* Recursively: compact every subgraph and give each node owning subgraphs
 * its hidden outer-scope inputs (nodes bound already are skipped). The
 * graph itself then needs kn_graph_compact(); *bound tells whether any
 * node was bound. */
kiln_status kn_graph_bind_scopes(kn_graph *g, bool *bound);

/* Graph passes run after binding may rewire a hidden input to another
 * value (Identity elimination): the runtime binds hidden inputs by
 * position, but a saved model reads outer values by name. Where a hidden
 * input's name no longer matches the name the subgraph reads, an Identity
 * producing that name is put back. Run after the passes. */
kiln_status kn_graph_restore_scope_names(kn_graph *g);

/* Names (sorted, unique) of the enclosing-scope values that the node's
 * subgraphs read, directly or through nested subgraphs. *names points into
 * the subgraphs' value names (valid while they live); free the array with
 * kn_free. */
kiln_status kn_node_outer_names(const kn_node *n, const char ***names, int *count);

/* Inputs as declared in the model (n_in minus hidden ones). */
int kn_node_declared_inputs(const kn_node *n);

/* Attributes kiln adds for itself, which an exported model must not carry. */
bool kn_attr_is_internal(const kn_attr *a);

#endif
