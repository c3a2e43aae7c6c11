/* Helpers every op family shares: attribute access with type checks,
 * arity/dtype checks, axis normalization, broadcasting, parallel loops. */
#include "ops/op.h"

#include <stdio.h>
#include <string.h>

static kiln_status attr_typed(const kn_node *n, const char *name, kn_attr_type type, const kn_attr **out)
{
    const kn_attr *a = kn_node_attr(n, name);
    if (a && a->type != type) {
        static const char *names[] = {"undefined", "float", "int", "string", "tensor", "graph", "floats", "ints",
                                      "strings", "tensors", "graphs", "sparse_tensor", "sparse_tensors",
                                      "type_proto", "type_protos"};
        const char *have = (unsigned)a->type < sizeof names / sizeof names[0] ? names[a->type] : "unknown";
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): attribute '%s' is %s, expected %s", n->name, n->op_type,
                        name, have, names[type]);
    }
    *out = a;
    return KILN_OK;
}

kiln_status kn_attr_get_int(const kn_node *n, const char *name, int64_t def, int64_t *out)
{
    const kn_attr *a = NULL;
    KN_TRY(attr_typed(n, name, KN_ATTR_INT, &a));
    *out = a ? a->i : def;
    return KILN_OK;
}

kiln_status kn_attr_require_int(const kn_node *n, const char *name, int64_t *out)
{
    const kn_attr *a = NULL;
    KN_TRY(attr_typed(n, name, KN_ATTR_INT, &a));
    if (!a)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): missing required attribute '%s'", n->name, n->op_type, name);
    *out = a->i;
    return KILN_OK;
}

kiln_status kn_attr_get_float(const kn_node *n, const char *name, float def, float *out)
{
    const kn_attr *a = NULL;
    KN_TRY(attr_typed(n, name, KN_ATTR_FLOAT, &a));
    *out = a ? a->f : def;
    return KILN_OK;
}

kiln_status kn_attr_get_ints(const kn_node *n, const char *name, const int64_t **out, size_t *count)
{
    const kn_attr *a = NULL;
    KN_TRY(attr_typed(n, name, KN_ATTR_INTS, &a));
    *out = a ? a->ints : NULL;
    *count = a ? a->count : 0;
    return KILN_OK;
}

kiln_status kn_attr_get_floats(const kn_node *n, const char *name, const float **out, size_t *count)
{
    const kn_attr *a = NULL;
    KN_TRY(attr_typed(n, name, KN_ATTR_FLOATS, &a));
    *out = a ? a->floats : NULL;
    *count = a ? a->count : 0;
    return KILN_OK;
}

kiln_status kn_attr_get_string(const kn_node *n, const char *name, const char *def, const char **out)
{
    const kn_attr *a = NULL;
    KN_TRY(attr_typed(n, name, KN_ATTR_STRING, &a));
    *out = a ? a->s : def;
    return KILN_OK;
}

kiln_status kn_attr_get_strings(const kn_node *n, const char *name, char *const **out, size_t *count)
{
    const kn_attr *a = NULL;
    KN_TRY(attr_typed(n, name, KN_ATTR_STRINGS, &a));
    *out = a ? a->strings : NULL;
    *count = a ? a->count : 0;
    return KILN_OK;
}

kiln_status kn_attr_get_tensor(const kn_node *n, const char *name, const kiln_tensor **out)
{
    const kn_attr *a = NULL;
    KN_TRY(attr_typed(n, name, KN_ATTR_TENSOR, &a));
    *out = a ? a->t : NULL;
    return KILN_OK;
}

kiln_status kn_check_arity(const kn_op_ctx *c, int min_in, int max_in, int min_out, int max_out)
{
    int n_in = c->n_in;
    while (n_in > 0 && c->in[n_in - 1] == NULL)
        n_in--;
    int n_out = c->n_out;
    while (n_out > 0 && c->out[n_out - 1] == NULL)
        n_out--;
    const kn_node *n = c->node;
    if (n_in < min_in || n_in > max_in)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): has %d inputs, expected %d to %d", n->name, n->op_type,
                        n_in, min_in, max_in);
    for (int i = 0; i < min_in; i++)
        if (!c->in[i])
            return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): required input %d is missing", n->name,
                            n->op_type, i);
    if (n_out < min_out || c->n_out > max_out)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): has %d outputs, expected %d to %d", n->name,
                        n->op_type, c->n_out, min_out, max_out);
    return KILN_OK;
}

kiln_status kn_check_dtype(const kn_op_ctx *c, int input, const kiln_dtype *allowed)
{
    if (input >= c->n_in)
        return KILN_OK; /* an optional input beyond those given */
    const kiln_tensor *t = c->in[input];
    if (!t)
        return KILN_OK;
    for (const kiln_dtype *a = allowed; *a != KILN_DTYPE_UNDEFINED; a++)
        if (*a == t->dtype)
            return KILN_OK;
    return kn_error(KILN_ERROR_DTYPE, "node '%s' (%s): input %d has dtype %s, which this op does not support",
                    c->node->name, c->node->op_type, input, kiln_dtype_name(t->dtype));
}

#define KN_FLOATS KILN_DTYPE_FLOAT, KILN_DTYPE_DOUBLE, KILN_DTYPE_FLOAT16, KILN_DTYPE_BFLOAT16
#define KN_SIGNED_INTS KILN_DTYPE_INT8, KILN_DTYPE_INT16, KILN_DTYPE_INT32, KILN_DTYPE_INT64
#define KN_UNSIGNED_INTS KILN_DTYPE_UINT8, KILN_DTYPE_UINT16, KILN_DTYPE_UINT32, KILN_DTYPE_UINT64
const kiln_dtype kn_types_float[] = {KN_FLOATS, KILN_DTYPE_UNDEFINED};
const kiln_dtype kn_types_numeric[] = {KN_FLOATS, KN_SIGNED_INTS, KN_UNSIGNED_INTS, KILN_DTYPE_UNDEFINED};
const kiln_dtype kn_types_signed[] = {KN_FLOATS, KN_SIGNED_INTS, KILN_DTYPE_UNDEFINED};
const kiln_dtype kn_types_int[] = {KN_SIGNED_INTS, KN_UNSIGNED_INTS, KILN_DTYPE_UNDEFINED};
/* The 1-byte-per-element narrow types (float8, float4, int4, int2): moved
 * and cast, never computed on. */
#define KN_NARROW                                                                                          \
    KILN_DTYPE_FLOAT8E4M3FN, KILN_DTYPE_FLOAT8E4M3FNUZ, KILN_DTYPE_FLOAT8E5M2, KILN_DTYPE_FLOAT8E5M2FNUZ, \
        KILN_DTYPE_UINT4, KILN_DTYPE_INT4, KILN_DTYPE_FLOAT4E2M1, KILN_DTYPE_FLOAT8E8M0, KILN_DTYPE_UINT2,  \
        KILN_DTYPE_INT2
const kiln_dtype kn_types_cast[] = {KN_FLOATS, KN_SIGNED_INTS, KN_UNSIGNED_INTS, KILN_DTYPE_BOOL,
                                    KN_NARROW, KILN_DTYPE_STRING, KILN_DTYPE_UNDEFINED};
const kiln_dtype kn_types_fixed[] = {KN_FLOATS, KN_SIGNED_INTS, KN_UNSIGNED_INTS, KILN_DTYPE_BOOL, KN_NARROW,
                                     KILN_DTYPE_COMPLEX64, KILN_DTYPE_COMPLEX128, KILN_DTYPE_UNDEFINED};
const kiln_dtype kn_types_movable[] = {KN_FLOATS, KN_SIGNED_INTS, KN_UNSIGNED_INTS, KILN_DTYPE_BOOL, KN_NARROW,
                                       KILN_DTYPE_COMPLEX64, KILN_DTYPE_COMPLEX128, KILN_DTYPE_STRING,
                                       KILN_DTYPE_UNDEFINED};
const kiln_dtype kn_types_plain[] = {KN_FLOATS, KN_SIGNED_INTS, KN_UNSIGNED_INTS, KILN_DTYPE_BOOL,
                                     KILN_DTYPE_UNDEFINED};
const kiln_dtype kn_types_index[] = {KILN_DTYPE_INT32, KILN_DTYPE_INT64, KILN_DTYPE_UNDEFINED};
const kiln_dtype kn_types_bool[] = {KILN_DTYPE_BOOL, KILN_DTYPE_UNDEFINED};

size_t kn_elem_size(kiln_dtype dt)
{
    return dt == KILN_DTYPE_STRING ? sizeof(char *) : kiln_dtype_size(dt);
}

/* Kinds of dtype for telling "kiln lacks this member of a kind the op
 * computes on" (unsupported: a valid model kiln cannot run, e.g. a float64
 * Conv) from "the op is not defined on this kind at all" (a dtype error, e.g.
 * an int64 Conv): float, signed integer, unsigned integer, bool/string. bool
 * and string share a kind: an op that moves bools (a data-movement op) is
 * one ONNX also defines on strings. */
static int dtype_kind(kiln_dtype dt)
{
    switch (dt) {
    case KILN_DTYPE_FLOAT: case KILN_DTYPE_DOUBLE: case KILN_DTYPE_FLOAT16: case KILN_DTYPE_BFLOAT16:
    case KILN_DTYPE_COMPLEX64: case KILN_DTYPE_COMPLEX128:
        return 1;
    case KILN_DTYPE_INT8: case KILN_DTYPE_INT16: case KILN_DTYPE_INT32: case KILN_DTYPE_INT64:
        return 2;
    case KILN_DTYPE_UINT8: case KILN_DTYPE_UINT16: case KILN_DTYPE_UINT32: case KILN_DTYPE_UINT64:
        return 3;
    case KILN_DTYPE_BOOL: case KILN_DTYPE_STRING:
        return 4;
    default:
        return 0;
    }
}

/* Copies every element of one STRING output in place; a failure clears the
 * elements not copied yet, so the tensor owns exactly what it points to. */
static kiln_status own_strings(const kn_node *node, kiln_tensor *t)
{
    char **d = t->data;
    size_t n = t->nbytes / sizeof(char *);
    for (size_t i = 0; i < n; i++) {
        char *copy = kn_strdup(d[i] ? d[i] : "");
        if (!copy) {
            memset(d + i, 0, (n - i) * sizeof(char *));
            return kn_error(KILN_ERROR_NOMEM, "node '%s' (%s): out of memory copying %zu strings", node->name,
                            node->op_type, n);
        }
        d[i] = copy;
    }
    return KILN_OK;
}

/* Kernels of KN_OP_BORROWS_STRINGS ops move STRING elements as plain
 * pointers, borrowed from inputs or parameters (fill values), possibly the
 * same one many times (Expand, Tile); the copies make every output own its
 * strings, so outputs never share pointers with inputs. */
kiln_status kn_op_own_strings(const kn_op *op, const kn_node *node, int n_out, kiln_tensor *const *out,
                              kiln_status st)
{
    if (!(op->flags & KN_OP_BORROWS_STRINGS))
        return st;
    for (int i = 0; i < n_out; i++) {
        kiln_tensor *t = out[i];
        if (!t || t->dtype != KILN_DTYPE_STRING || !t->data)
            continue;
        if (st == KILN_OK)
            st = own_strings(node, t);
        else
            memset(t->data, 0, t->nbytes);
    }
    return st;
}

kiln_status kn_op_infer(const kn_op *op, kn_op_ctx *c)
{
    /* Kernels read tensors as element arrays: a sequence or optional
     * reaching one that does not expect it must fail here, not be read. */
    for (int i = 0; !(op->flags & KN_OP_CONTAINERS) && i < c->n_in; i++)
        if (c->in[i] && kn_dtype_is_container(c->in[i]->dtype))
            return kn_error(KILN_ERROR_DTYPE, "node '%s' (%s): input %d is a%s %s, expected a tensor", c->node->name,
                            c->node->op_type, i, c->in[i]->dtype == KN_DTYPE_OPTIONAL ? "n" : "",
                            kiln_dtype_name(c->in[i]->dtype));
    if (op->types && op->type_input < c->n_in && c->in[op->type_input]) {
        kiln_dtype dt = c->in[op->type_input]->dtype;
        bool same_kind = false;
        const kiln_dtype *a = op->types;
        for (; *a != KILN_DTYPE_UNDEFINED && *a != dt; a++)
            same_kind = same_kind || (dtype_kind(*a) != 0 && dtype_kind(*a) == dtype_kind(dt));
        if (*a == KILN_DTYPE_UNDEFINED) {
            char list[160];
            size_t used = 0;
            list[0] = 0;
            for (a = op->types; *a != KILN_DTYPE_UNDEFINED && used < sizeof list; a++) {
                int w = snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", kiln_dtype_name(*a));
                used += w > 0 ? (size_t)w : 0;
            }
            return kn_error(same_kind ? KILN_ERROR_UNSUPPORTED : KILN_ERROR_DTYPE,
                            "node '%s' (%s): input %d has dtype %s, which %s (it takes %s)", c->node->name,
                            c->node->op_type, op->type_input, kiln_dtype_name(dt),
                            same_kind ? "kiln does not support for this op" : "this op does not support", list);
        }
    }
    return op->infer(c);
}

kiln_status kn_norm_axis(const kn_op_ctx *c, int64_t axis, int rank, int *out)
{
    if (axis < -(int64_t)rank || axis >= rank)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): axis %lld out of range for rank %d", c->node->name,
                        c->node->op_type, (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return KILN_OK;
}

kiln_status kn_broadcast_shape(const kn_op_ctx *c, int ra, const int64_t *da, int rb, const int64_t *db,
                               int *rout, int64_t *dout)
{
    int r = KN_MAX(ra, rb);
    int64_t tmp[KN_MAX_RANK];
    for (int i = 0; i < r; i++) {
        int ia = i - (r - ra), ib = i - (r - rb);
        int64_t a = ia >= 0 ? da[ia] : 1;
        int64_t b = ib >= 0 ? db[ib] : 1;
        if (a == b || b == 1)
            tmp[i] = a;
        else if (a == 1)
            tmp[i] = b;
        else
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): shapes cannot broadcast: dim %d is %lld vs %lld",
                            c->node->name, c->node->op_type, i, (long long)a, (long long)b);
    }
    for (int i = 0; i < r; i++)
        dout[i] = tmp[i];
    *rout = r;
    return KILN_OK;
}

kiln_status kn_input_ints(const kn_op_ctx *c, int i, int64_t *vals, size_t max_count, size_t *count)
{
    const kiln_tensor *t = c->in[i];
    if (!t)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): input %d is missing", c->node->name, c->node->op_type, i);
    if (t->dtype != KILN_DTYPE_INT64 && t->dtype != KILN_DTYPE_INT32)
        return kn_error(KILN_ERROR_DTYPE, "node '%s' (%s): input %d must be int64 or int32, got %s",
                        c->node->name, c->node->op_type, i, kiln_dtype_name(t->dtype));
    if (!t->data)
        return KN_NEED_VALUE;
    int64_t n = kn_tensor_count(t);
    if (n < 0 || (size_t)n > max_count)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): input %d has %lld values, at most %zu allowed",
                        c->node->name, c->node->op_type, i, (long long)n, max_count);
    for (int64_t k = 0; k < n; k++)
        vals[k] = kn_tensor_get_i64(t, k);
    *count = (size_t)n;
    return KILN_OK;
}

kiln_status kn_inputs_known(const kn_op_ctx *c)
{
    for (int i = 0; i < c->n_in; i++)
        if (c->in[i] && !c->in[i]->data && c->in[i]->nbytes) /* empty tensors need no data */
            return KN_NEED_VALUE;
    return KILN_OK;
}

kiln_status kn_set_output(kn_op_ctx *c, int i, kiln_dtype dtype, int rank, const int64_t *dims)
{
    if (i >= c->n_out || !c->out[i])
        return KILN_OK; /* omitted optional output */
    kiln_status s = kn_tensor_set_shape(c->out[i], dtype, rank, dims);
    if (s != KILN_OK)
        return kn_error_prefix(s, "node '%s' (%s): output %d", c->node->name, c->node->op_type, i);
    return KILN_OK;
}

void kn_broadcast_strides(int rank_in, const int64_t *dims_in, int rank_out, const int64_t *dims_out,
                          int64_t *strides)
{
    int64_t s = 1;
    for (int o = rank_out - 1; o >= 0; o--) {
        int i = o - (rank_out - rank_in);
        if (i < 0) {
            strides[o] = 0;
            continue;
        }
        strides[o] = (dims_in[i] == 1 && dims_out[o] != 1) ? 0 : s;
        s *= dims_in[i];
    }
}

void kn_contiguous_strides(int rank, const int64_t *dims, int64_t *strides)
{
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        strides[i] = s;
        s *= dims[i];
    }
}

typedef struct pf_ctx {
    kn_parallel_fn fn;
    void *ctx;
} pf_ctx;

static void pf_trampoline(void *arg, size_t i)
{
    pf_ctx *p = arg;
    p->fn(p->ctx, i);
}

void kn_parallel_for(pthreadpool_t pool, size_t n, kn_parallel_fn fn, void *ctx)
{
    if (!pool || n <= 1) {
        for (size_t i = 0; i < n; i++)
            fn(ctx, i);
        return;
    }
    pf_ctx p = {fn, ctx};
    pthreadpool_parallelize_1d(pool, pf_trampoline, &p, n, 0);
}

void kn_copy_elem(char *dst, const char *src, size_t esz)
{
    switch (esz) {
    case 1: *(uint8_t *)dst = *(const uint8_t *)src; break;
    case 2: memcpy(dst, src, 2); break;
    case 4: memcpy(dst, src, 4); break;
    case 8: memcpy(dst, src, 8); break;
    default: memcpy(dst, src, esz); break;
    }
}

void kn_copy_view(void *dst, const void *src, int rank, const int64_t *dims, const int64_t *strides, size_t esz)
{
    int64_t count = 1;
    for (int k = 0; k < rank; k++)
        count *= dims[k];
    if (count == 0)
        return;
    char *d = dst;
    const char *s = src;
    if (rank == 0) {
        kn_copy_elem(d, s, esz);
        return;
    }
    int64_t idx[KN_MAX_VIEW_RANK] = {0};
    int last = rank - 1;
    int64_t n_inner = dims[last], st_inner = strides[last];
    int64_t off = 0;
    for (;;) {
        const char *row = s + off * (int64_t)esz;
        if (st_inner == 1) {
            memcpy(d, row, (size_t)n_inner * esz);
            d += (size_t)n_inner * esz;
        } else {
            for (int64_t j = 0; j < n_inner; j++, d += esz)
                kn_copy_elem(d, row + j * st_inner * (int64_t)esz, esz);
        }
        int k = last - 1;
        for (; k >= 0; k--) {
            idx[k]++;
            off += strides[k];
            if (idx[k] < dims[k])
                break;
            off -= strides[k] * dims[k];
            idx[k] = 0;
        }
        if (k < 0)
            return;
    }
}
