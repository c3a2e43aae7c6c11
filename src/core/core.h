/* Internal foundations shared by every part of the library: allocation,
 * error reporting and the tensor type. Not part of the public API. */
#ifndef KN_CORE_H
#define KN_CORE_H

#include "kiln.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Tensors of higher rank are refused with KILN_ERROR_UNSUPPORTED. */
#define KN_MAX_RANK 8

#define KN_UNUSED(x) ((void)(x))
#define KN_MIN(a, b) ((a) < (b) ? (a) : (b))
#define KN_MAX(a, b) ((a) > (b) ? (a) : (b))

/* ---- allocation -------------------------------------------------------
 * Every allocation in the library goes through these, so a host allocator
 * and allocation-failure injection (tests) see all of them. */
void *kn_malloc(size_t size);
void *kn_calloc(size_t count, size_t size);
void *kn_realloc(void *ptr, size_t size);
void kn_free(void *ptr);
/* 64-byte aligned, for kernels; free with kn_aligned_free. */
void *kn_aligned_alloc(size_t size);
void kn_aligned_free(void *ptr);
char *kn_strdup(const char *s);
char *kn_strndup(const char *s, size_t n);

/* Test hook: fail the allocation with this 1-based sequence number (0 = off).
 * Returns the number of allocations made since the counter was last reset. */
void kn_alloc_fail_at(uint64_t nth);
uint64_t kn_alloc_count(void);

/* ---- errors -------------------------------------------------------------
 * kn_error formats the thread's last-error message and returns code, so a
 * failing path reads: return kn_error(KILN_ERROR_MODEL, "%s: ...", name); */
kiln_status kn_error(kiln_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefix the current message with context: "node conv1: <old message>". */
kiln_status kn_error_prefix(kiln_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kn_error_clear(void);
const char *kn_error_message(void);

#define KN_TRY(expr)                        \
    do {                                    \
        kiln_status kn_try_s_ = (expr);     \
        if (kn_try_s_ != KILN_OK)           \
            return kn_try_s_;               \
    } while (0)

#define KN_NOMEM() kn_error(KILN_ERROR_NOMEM, "out of memory at %s:%d", __FILE__, __LINE__)

/* ---- checked arithmetic ------------------------------------------------ */
/* false on overflow; *out untouched then. */
bool kn_mul_size(size_t a, size_t b, size_t *out);
bool kn_add_size(size_t a, size_t b, size_t *out);
bool kn_mul_i64(int64_t a, int64_t b, int64_t *out);

/* ---- tensors -------------------------------------------------------------
 * The public kiln_tensor is this struct. data is owned when owns_data is set
 * (freed with kn_aligned_free). STRING tensors hold char* per element, each
 * owned by the tensor when owns_data is set. */
struct kiln_tensor {
    kiln_dtype dtype;
    int rank;
    int64_t dims[KN_MAX_RANK];
    void *data;
    size_t nbytes;
    bool owns_data;
    char *name; /* optional, owned */
};

/* Element count from dims; false if negative or overflowing. */
bool kn_shape_count(int rank, const int64_t *dims, int64_t *count);
int64_t kn_tensor_count(const kiln_tensor *t);
/* Byte size of count elements of dtype (strings count pointer size); false on overflow. */
bool kn_dtype_bytes(kiln_dtype dtype, int64_t count, size_t *bytes);
bool kn_dtype_known(kiln_dtype dtype);

/* Allocate a tensor (struct and zeroed, aligned data). */
kiln_status kn_tensor_new(kiln_dtype dtype, int rank, const int64_t *dims, kiln_tensor **out);
/* Struct only, data NULL, not owned; for views and descriptors. */
kiln_status kn_tensor_new_view(kiln_dtype dtype, int rank, const int64_t *dims, void *data,
                               kiln_tensor **out);
/* Deep copy (data owned by the copy). */
kiln_status kn_tensor_clone(const kiln_tensor *src, kiln_tensor **out);
void kn_tensor_free(kiln_tensor *t);
/* Set dtype/rank/dims and compute nbytes (no allocation); fails on overflow
 * or rank > KN_MAX_RANK. */
kiln_status kn_tensor_set_shape(kiln_tensor *t, kiln_dtype dtype, int rank, const int64_t *dims);
/* Allocate owned storage for the shape already set. */
kiln_status kn_tensor_alloc_data(kiln_tensor *t);
bool kn_same_shape(const kiln_tensor *a, const kiln_tensor *b);
/* "[1,3,224,224]" into buf. */
const char *kn_shape_str(const kiln_tensor *t, char *buf, size_t size);

/* ---- sequences and optionals ---------------------------------------------
 * ONNX values that are not tensors travel through the runtime as tensors of
 * these internal dtypes (outside TensorProto's range): rank 0, and data is a
 * kn_list allocated like any tensor storage (nbytes = sizeof(kn_list)), so
 * plans, the subgraph interpreter and control flow pass them like tensors.
 * The list owns its items, which may be lists themselves (an optional
 * sequence). Only ops flagged KN_OP_CONTAINERS accept them (kn_op_infer
 * refuses the rest) and the planner never places them in the arena. */
#define KN_DTYPE_SEQUENCE ((kiln_dtype)0x5351)
#define KN_DTYPE_OPTIONAL ((kiln_dtype)0x4f50)

typedef struct kn_list {
    kiln_dtype elem;     /* items' dtype (UNDEFINED when not known yet) */
    int64_t n, cap;      /* an optional holds 0 or 1 item */
    kiln_tensor **items; /* owned */
} kn_list;

bool kn_dtype_is_container(kiln_dtype dtype);
/* The list of a sequence/optional tensor with data, else NULL. */
kn_list *kn_list_of(const kiln_tensor *t);
/* A new empty sequence or optional (kind is KN_DTYPE_SEQUENCE/OPTIONAL). */
kiln_status kn_list_new(kiln_dtype kind, kiln_dtype elem, kiln_tensor **out);
/* Insert item at pos in [0, n] (takes ownership, also on failure). */
kiln_status kn_list_insert(kn_list *l, int64_t pos, kiln_tensor *item);
/* Append a deep copy of item. */
kiln_status kn_list_push_copy(kn_list *l, const kiln_tensor *item);
/* Make dst (an allocated, empty container) a deep copy of src's items. */
kiln_status kn_list_copy(kn_list *dst, const kn_list *src);
void kn_list_clear(kn_list *l);
/* Copy src's elements into dst, allocated with the same dtype and shape
 * (strings duplicated, sequence/optional items deep-copied). */
kiln_status kn_tensor_copy_data(kiln_tensor *dst, const kiln_tensor *src);

/* float16 / bfloat16 conversions (round to nearest even). */
float kn_half_to_float(uint16_t h);
uint16_t kn_float_to_half(float f);
float kn_bf16_to_float(uint16_t h);
uint16_t kn_float_to_bf16(float f);

/* Read element i of a numeric tensor as double / int64 (for shape tensors
 * and generic code that is not on a hot path). */
double kn_tensor_get_f64(const kiln_tensor *t, int64_t i);
int64_t kn_tensor_get_i64(const kiln_tensor *t, int64_t i);
void kn_tensor_set_f64(kiln_tensor *t, int64_t i, double v);

#endif
