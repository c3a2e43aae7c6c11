/* Graph IR -> serialized ModelProto (for `kiln optimize`). */
#ifndef KN_ONNX_EXPORT_H
#define KN_ONNX_EXPORT_H

#include "core/core.h"
#include "graph/graph.h"

typedef struct kn_export_meta {
    int64_t ir_version, model_version;
    const char *producer_name, *producer_version, *domain, *doc_string;
} kn_export_meta;

/* Serialize g (live nodes, the constants they read, graph inputs and
 * outputs with declared types) into kn_malloc'd bytes. Nodes of kiln's own
 * domain cannot be written: the caller exports a graph of standard ops. */
kiln_status kn_onnx_export(const kn_graph *g, const kn_export_meta *meta, void **data, size_t *size);

#endif
