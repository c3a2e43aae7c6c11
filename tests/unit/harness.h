/* Test harness: run one op node directly through its descriptor hooks
 * (upgrade, parse, infer, prepare, run) without loader or planner, plus
 * tensor builders and comparisons. Include after <cmocka.h>'s prerequisites. */
#ifndef KT_HARNESS_H
#define KT_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"
#include "graph/graph.h"
#include "ops/conv_fast.h"
#include "ops/op.h"

typedef struct kt_node kt_node;

/* A one-node graph for op_type at the given default-domain opset. */
kt_node *kt_node_new(const char *op_type, int opset);
kt_node *kt_node_new_domain(const char *domain, const char *op_type, int opset);
void kt_node_free(kt_node *n);
void kt_attr_int(kt_node *n, const char *name, int64_t v);
void kt_attr_float(kt_node *n, const char *name, float v);
void kt_attr_ints(kt_node *n, const char *name, const int64_t *v, size_t count);
void kt_attr_floats(kt_node *n, const char *name, const float *v, size_t count);
void kt_attr_string(kt_node *n, const char *name, const char *s);
void kt_attr_strings(kt_node *n, const char *name, const char *const *s, size_t count);
void kt_attr_tensor(kt_node *n, const char *name, const kiln_tensor *t); /* copied */
/* The node inside (to poke at attributes directly). */
kn_node *kt_node_get(kt_node *n);

/* Run the node. inputs[i] may be NULL (omitted optional input). outputs are
 * created by the harness (caller frees with kn_tensor_free). n_out outputs
 * are declared on the node. Returns the status of the first failing hook.
 * isa: which kernel level prepare() may choose; threads: 0/1 = no pool. */
kiln_status kt_run(kt_node *n, int n_in, kiln_tensor *const *inputs, int n_out, kiln_tensor **outputs);
kiln_status kt_run_ex(kt_node *n, kn_isa_level isa, int threads, int n_in, kiln_tensor *const *inputs, int n_out,
                      kiln_tensor **outputs);

/* Like kt_run_ex, but inputs whose bit is set in const_mask become
 * initializers of the graph and the op's finalize() hook runs first (weight
 * packing), as when a model is loaded. */
kiln_status kt_run_const(kt_node *n, kn_isa_level isa, unsigned const_mask, int n_in, kiln_tensor *const *inputs,
                         int n_out, kiln_tensor **outputs);

/* Tensor builders (abort the test on allocation failure). data may be NULL
 * for zeros. */
/* Run a one-input, one-output model through the public API (a context of
 * its own); fails the test on error. */
kiln_tensor *kt_run_model(const kiln_model *m, const kiln_tensor *x);
kiln_tensor *kt_f32(int rank, const int64_t *dims, const float *data);
kiln_tensor *kt_i64(int rank, const int64_t *dims, const int64_t *data);
kiln_tensor *kt_i32(int rank, const int64_t *dims, const int32_t *data);
kiln_tensor *kt_tensor(kiln_dtype dtype, int rank, const int64_t *dims, const void *data);
/* STRING tensor owning copies of s (count from dims). */
kiln_tensor *kt_strings(int rank, const int64_t *dims, const char *const *s);
/* Deterministic pseudo-random floats in [lo, hi). */
kiln_tensor *kt_f32_random(int rank, const int64_t *dims, uint32_t seed, float lo, float hi);
/* The plain 2-D convolution reference (kn_conv_ref_f32), what the fast conv
 * kernels are tested against: x [N, C, H, W], w [M, C/group, KH, KW], b [M]
 * or NULL, y [N, M, OH, OW]; g: strides, dilations, top/left pads. */
void kt_conv2d_ref(int64_t N, int64_t C, int64_t M, int64_t group, int64_t H, int64_t W, int64_t KH, int64_t KW,
                   const kn_conv2d_geom *g, int64_t OH, int64_t OW, const float *x, const float *w, const float *b,
                   float *y);
/* Shorthand: KT_DIMS(1,3,4) -> rank, dims pointer */
#define KT_DIMS(...) (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__}

/* Assertions (fail the cmocka test with a message naming the index). */
void kt_assert_shape(const kiln_tensor *t, int rank, const int64_t *dims);
void kt_assert_f32_close(const kiln_tensor *t, const float *expect, int64_t count, double rtol, double atol);
void kt_assert_tensors_close(const kiln_tensor *got, const kiln_tensor *expect, double rtol, double atol);
void kt_assert_i64_equal(const kiln_tensor *t, const int64_t *expect, int64_t count);

#endif
