/* ONNX file formats: ModelProto -> graph IR, TensorProto <-> tensor, external
 * data, plain file reading. Everything decoded here comes from untrusted
 * bytes: sizes, names and nesting are checked before use. */
#ifndef KN_ONNX_IMPORT_H
#define KN_ONNX_IMPORT_H

#include "core/core.h"
#include "graph/graph.h"

#include "onnx/onnx.pb-c.h"

typedef struct kn_model_file {
    kn_graph *graph; /* the main graph */
    int64_t ir_version, model_version;
    char *producer_name, *producer_version, *domain, *doc_string; /* never NULL ("" if absent) */
    int64_t param_count, param_bytes;                             /* initializer elements / bytes */
    size_t node_count;
} kn_model_file;

/* Decode a serialized ModelProto and build its graph. base_dir is the folder
 * external data is resolved in (NULL: external data refused). *out is only
 * written on success; release it with kn_model_file_clear. */
kiln_status kn_onnx_import(const void *data, size_t size, const char *base_dir, kn_model_file *out);
/* The same, calling release(release_arg) once, as soon as the bytes are no
 * longer read (right after protobuf decoding, whether it succeeded or not),
 * so the caller's copy of the file can go before the graph is built. */
kiln_status kn_onnx_import_release(const void *data, size_t size, const char *base_dir, void (*release)(void *),
                                   void *release_arg, kn_model_file *out);
void kn_model_file_clear(kn_model_file *m);

/* Read a whole file into kn_malloc'd memory (free with kn_free). Fails with
 * KILN_ERROR_IO naming the path if it is missing, unreadable, a directory or
 * larger than max_bytes (0 = no limit). */
kiln_status kn_read_file(const char *path, size_t max_bytes, void **data, size_t *size);

/* A whole file's bytes: regular files are memory-mapped (read-only, no
 * copy: the pages are the page cache's), others read like kn_read_file.
 * The file must not be truncated while mapped. Free with kn_file_release
 * (idempotent). */
typedef struct kn_file_bytes {
    void *data;
    size_t size;
    bool mapped;
} kn_file_bytes;
kiln_status kn_file_map(const char *path, size_t max_bytes, kn_file_bytes *out);
void kn_file_release(kn_file_bytes *f);

/* TensorProto -> tensor owning its data (name copied when present).
 * base_dir NULL refuses external data. */
kiln_status kn_tensor_from_proto(const Onnx__TensorProto *p, const char *base_dir, kiln_tensor **out);
/* Same, with label naming the tensor in error messages, e.g.
 * "initializer 'w'" or "node 'c' (Constant) attribute 'value'". */
kiln_status kn_tensor_decode(const Onnx__TensorProto *p, const char *base_dir, const char *label,
                             kiln_tensor **out);

/* Same, but the tensor may take over p's raw_data buffer (left NULL in p)
 * instead of copying it. p must come from kn_pb_unpack, whose buffers are
 * tensor-aligned and freed like tensor data. */
kiln_status kn_tensor_decode_take(Onnx__TensorProto *p, const char *base_dir, const char *label,
                                  kiln_tensor **out);

/* A serialized SequenceProto or OptionalProto (kind KN_DTYPE_SEQUENCE /
 * KN_DTYPE_OPTIONAL) -> sequence / optional value (value_proto.c). */
kiln_status kn_value_decode(const void *data, size_t size, kiln_dtype kind, const char *base_dir, const char *label,
                            kiln_tensor **out);

/* ---- helpers shared by the files of src/onnx ---- */

/* protobuf-c allocator routed through kn_malloc/kn_free; records whether an
 * allocation failed so NULL from unpack can be told apart from bad bytes. */
typedef struct kn_pb_alloc {
    ProtobufCAllocator base;
    bool failed;
} kn_pb_alloc;
void kn_pb_alloc_init(kn_pb_alloc *a);

/* Deepest message nesting accepted: protobuf-c unpacks recursively, so a
 * hostile file of nested messages would otherwise exhaust the stack. */
#define KN_PB_MAX_DEPTH 100

/* Walk the wire format of a serialized message of type desc, checking
 * lengths and nesting depth. false when the bytes are malformed. */
bool kn_pb_wire_ok(const uint8_t *data, size_t size, const ProtobufCMessageDescriptor *desc);

/* Read one varint at *p (advanced past it); false if truncated or longer
 * than 10 bytes. For hand-decoded messages (value_proto.c). */
bool kn_pb_read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v);

/* Unpack a message of type desc from untrusted bytes: wire check, then
 * protobuf-c. Returns KILN_ERROR_PARSE "<what>: protobuf decoding failed" or
 * KILN_ERROR_NOMEM. Free with protobuf_c_message_free_unpacked(msg, &a->base). */
kiln_status kn_pb_unpack(const ProtobufCMessageDescriptor *desc, const void *data, size_t size,
                         kn_pb_alloc *a, const char *what, ProtobufCMessage **out);

/* Read the nbytes of external data described by p into a new
 * kn_aligned_alloc buffer, allocated only once the file is known to hold
 * them (see external_data.c for the path rules). label names the tensor. */
kiln_status kn_external_data_read(const Onnx__TensorProto *p, const char *base_dir, const char *label,
                                  size_t nbytes, void **out);

/* Atomically replace path with the concatenation of the chunks: a temporary
 * file in the same folder, fsync, rename. */
typedef struct kn_chunk {
    const void *data;
    size_t size;
} kn_chunk;
kiln_status kn_write_file_atomic(const char *path, const kn_chunk *chunks, int n_chunks);

/* .npy (NumPy) parsing / formatting. */
kiln_status kn_npy_parse(const void *data, size_t size, const char *label, kiln_tensor **out);
/* Header bytes (magic through the final '\n') for t; buffer from kn_malloc. */
kiln_status kn_npy_header(const kiln_tensor *t, char **header, size_t *size);

#endif
