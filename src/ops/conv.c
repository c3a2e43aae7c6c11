/* Conv and ConvTranspose (1-D to 3-D spatial, groups, dilations, strides,
 * pads / auto_pad, optional bias; ConvTranspose output_padding and
 * output_shape). float32, and float16 computed in float32. 2-D float32 Conv
 * with constant weights runs on the packed GEMM (conv_fast.c), weights
 * packed once per model in finalize(); everything else on the references in
 * conv_ref.c.
 *
 * kiln.FusedConv (made by the fuse-epilogue pass) is a Conv with inputs
 * (X, W, [B], [R]) whose output is act(conv(X, W) + B + R): the residual R
 * and the activation are applied in the GEMM epilogue. */
#include "ops/conv_fast.h"
#include "ops/conv_ref.h"
#include "ops/families.h"
#include "ops/sgemv.h"

#include <string.h>

typedef struct conv_attrs {
    kn_auto_pad auto_pad;
    int64_t group;
    size_t n_kernel, n_strides, n_dil, n_pads, n_out_pad, n_out_shape;
    int64_t kernel[KN_CONV_MAX_SPATIAL], strides[KN_CONV_MAX_SPATIAL], dil[KN_CONV_MAX_SPATIAL];
    int64_t pads[2 * KN_CONV_MAX_SPATIAL], out_pad[KN_CONV_MAX_SPATIAL];
    int64_t out_shape[KN_CONV_MAX_SPATIAL + 2];
    bool fused;                 /* kiln.FusedConv */
    kn_epilogue act;            /* its activation (bias/residual unused) */
    kn_conv2d_packed *packed;   /* from finalize, or NULL */
} conv_attrs;

static void conv_free_params(void *params)
{
    conv_attrs *a = params;
    if (a)
        kn_conv2d_packed_free(a->packed);
    kn_free(a);
}

kiln_status kn_conv_parse_activation(const kn_node *n, kn_epilogue *ep)
{
    const char *act = "";
    KN_TRY(kn_attr_get_string(n, "activation", "", &act));
    KN_TRY(kn_attr_get_float(n, "activation_alpha", 0.0f, &ep->alpha));
    KN_TRY(kn_attr_get_float(n, "activation_beta", 0.0f, &ep->beta));
    static const struct {
        const char *name;
        kn_act act;
    } table[] = {{"", KN_ACT_NONE},           {"Relu", KN_ACT_RELU},       {"Clip", KN_ACT_CLIP},
                 {"LeakyRelu", KN_ACT_LEAKY_RELU}, {"Sigmoid", KN_ACT_SIGMOID}, {"HardSigmoid", KN_ACT_HARD_SIGMOID},
                 {"HardSwish", KN_ACT_HARD_SWISH}, {"SiLU", KN_ACT_SILU}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (!strcmp(act, table[i].name)) {
            ep->act = table[i].act;
            return KILN_OK;
        }
    return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): activation '%s' is not supported", n->name, n->op_type,
                    act);
}

static kiln_status conv_parse(kn_node *n)
{
    conv_attrs *a = kn_calloc(1, sizeof *a);
    if (!a)
        return KN_NOMEM();
    bool transpose = !strcmp(n->op_type, "ConvTranspose");
    kiln_status s = kn_parse_auto_pad(n, &a->auto_pad);
    if (s == KILN_OK)
        s = kn_attr_get_int(n, "group", 1, &a->group);
    if (s == KILN_OK && a->group < 1)
        s = kn_error(KILN_ERROR_MODEL, "node '%s' (%s): group is %lld, must be at least 1", n->name, n->op_type,
                     (long long)a->group);
    if (s == KILN_OK)
        s = kn_attr_get_spatial_ints(n, "kernel_shape", KN_CONV_MAX_SPATIAL, 1, a->kernel, &a->n_kernel);
    if (s == KILN_OK)
        s = kn_attr_get_spatial_ints(n, "strides", KN_CONV_MAX_SPATIAL, 1, a->strides, &a->n_strides);
    if (s == KILN_OK)
        s = kn_attr_get_spatial_ints(n, "dilations", KN_CONV_MAX_SPATIAL, 1, a->dil, &a->n_dil);
    /* ConvTranspose pads may be negative only through output_shape; the
     * attribute itself must not be. */
    if (s == KILN_OK)
        s = kn_attr_get_spatial_ints(n, "pads", 2 * KN_CONV_MAX_SPATIAL, 0, a->pads, &a->n_pads);
    if (s == KILN_OK && transpose)
        s = kn_attr_get_spatial_ints(n, "output_padding", KN_CONV_MAX_SPATIAL, 0, a->out_pad, &a->n_out_pad);
    if (s == KILN_OK && transpose)
        s = kn_attr_get_spatial_ints(n, "output_shape", KN_CONV_MAX_SPATIAL + 2, 0, a->out_shape, &a->n_out_shape);
    a->fused = !strcmp(n->op_type, "FusedConv");
    if (s == KILN_OK && a->fused)
        s = kn_conv_parse_activation(n, &a->act);
    if (s != KILN_OK) {
        kn_free(a);
        return s;
    }
    n->params = a;
    return KILN_OK;
}

static kiln_status check_len(const kn_node *n, const char *name, size_t got, size_t want)
{
    if (got != 0 && got != want)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): %s has %zu entries, expected %zu", n->name, n->op_type,
                        name, got, want);
    return KILN_OK;
}

/* Channels and kernel from X and W (and the bias check). */
static kiln_status conv_channels(const kn_op_ctx *c, bool transpose, kn_conv_params *p)
{
    const conv_attrs *a = c->params;
    const kn_node *n = c->node;
    const kiln_tensor *x = c->in[0], *w = c->in[1];
    if (x->rank < 3)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): input has %d dims, expected at least 3 (N, C, spatial...)",
                        n->name, n->op_type, x->rank);
    if (w->rank != x->rank)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): weight has %d dims, expected %d", n->name, n->op_type,
                        w->rank, x->rank);
    p->nsp = x->rank - 2;
    if (p->nsp > KN_CONV_MAX_SPATIAL)
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): %d spatial dimensions (at most %d supported)",
                        n->name, n->op_type, p->nsp, KN_CONV_MAX_SPATIAL);
    p->N = x->dims[0];
    p->C = x->dims[1];
    p->group = a->group;
    if (!transpose) {
        p->M = w->dims[0];
        if (p->M % a->group != 0)
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): weight has %lld output channels, not divisible by group %lld",
                            n->name, n->op_type, (long long)p->M, (long long)a->group);
        if (p->C != w->dims[1] * a->group)
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): input has %lld channels, weight expects %lld (group %lld)",
                            n->name, n->op_type, (long long)p->C, (long long)(w->dims[1] * a->group),
                            (long long)a->group);
    } else {
        if (p->C != w->dims[0])
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): input has %lld channels, weight expects %lld", n->name,
                            n->op_type, (long long)p->C, (long long)w->dims[0]);
        if (p->C % a->group != 0)
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): input channels %lld not divisible by group %lld",
                            n->name, n->op_type, (long long)p->C, (long long)a->group);
        p->M = w->dims[1] * a->group;
    }
    KN_TRY(check_len(n, "kernel_shape", a->n_kernel, (size_t)p->nsp));
    for (int i = 0; i < p->nsp; i++) {
        p->k[i] = w->dims[2 + i];
        if (a->n_kernel && a->kernel[i] != p->k[i])
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): kernel_shape[%d] is %lld but the weight has %lld",
                            n->name, n->op_type, i, (long long)a->kernel[i], (long long)p->k[i]);
        if (p->k[i] < 1)
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): weight has an empty kernel dimension", n->name,
                            n->op_type);
    }
    const kiln_tensor *b = c->n_in > 2 ? c->in[2] : NULL;
    if (b && (b->rank != 1 || b->dims[0] != p->M)) {
        char buf[96];
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): bias has shape %s, expected [%lld]", n->name, n->op_type,
                        kn_shape_str(b, buf, sizeof buf), (long long)p->M);
    }
    return KILN_OK;
}

static kiln_status conv_geometry(const kn_op_ctx *c, kn_conv_params *p)
{
    const conv_attrs *a = c->params;
    const kn_node *n = c->node;
    KN_TRY(conv_channels(c, false, p));
    int nsp = p->nsp;
    KN_TRY(check_len(n, "strides", a->n_strides, (size_t)nsp));
    KN_TRY(check_len(n, "dilations", a->n_dil, (size_t)nsp));
    KN_TRY(check_len(n, "pads", a->n_pads, 2 * (size_t)nsp));
    for (int i = 0; i < nsp; i++) {
        int64_t pad_end;
        p->in[i] = c->in[0]->dims[2 + i];
        p->stride[i] = a->n_strides ? a->strides[i] : 1;
        p->dil[i] = a->n_dil ? a->dil[i] : 1;
        KN_TRY(kn_window_dim(n, i, nsp, a->auto_pad, p->in[i], p->k[i], p->stride[i], p->dil[i], a->pads, a->n_pads,
                             false, &p->out[i], &p->pad[i], &pad_end));
    }
    return KILN_OK;
}

static kiln_status convt_geometry(const kn_op_ctx *c, kn_conv_params *p)
{
    const conv_attrs *a = c->params;
    const kn_node *n = c->node;
    KN_TRY(conv_channels(c, true, p));
    int nsp = p->nsp;
    KN_TRY(check_len(n, "strides", a->n_strides, (size_t)nsp));
    KN_TRY(check_len(n, "dilations", a->n_dil, (size_t)nsp));
    KN_TRY(check_len(n, "pads", a->n_pads, 2 * (size_t)nsp));
    KN_TRY(check_len(n, "output_padding", a->n_out_pad, (size_t)nsp));
    /* output_shape may list all dims (N, C, spatial...) or the spatial ones */
    const int64_t *oshape = NULL;
    if (a->n_out_shape == (size_t)nsp)
        oshape = a->out_shape;
    else if (a->n_out_shape == (size_t)nsp + 2)
        oshape = a->out_shape + 2;
    else if (a->n_out_shape != 0)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): output_shape has %zu entries, expected %d", n->name,
                        n->op_type, a->n_out_shape, nsp);
    bool same = a->auto_pad == KN_AUTO_PAD_SAME_UPPER || a->auto_pad == KN_AUTO_PAD_SAME_LOWER;
    bool explicit_pads = a->auto_pad == KN_AUTO_PAD_NOTSET && a->n_pads;
    for (int i = 0; i < nsp; i++) {
        int64_t in = c->in[0]->dims[2 + i];
        int64_t s = a->n_strides ? a->strides[i] : 1, d = a->n_dil ? a->dil[i] : 1;
        int64_t op = a->n_out_pad ? a->out_pad[i] : 0;
        int64_t full = s * (in - 1) + op + (p->k[i] - 1) * d + 1; /* unpadded output extent */
        p->in[i] = in;
        p->stride[i] = s;
        p->dil[i] = d;
        if (in == 0) {
            /* nothing to scatter: only output_shape can make the output non-empty (bias only) */
            p->out[i] = oshape ? oshape[i] : 0;
            continue;
        }
        if (explicit_pads || (!oshape && !same)) {
            p->pad[i] = explicit_pads ? a->pads[i] : 0;
            p->out[i] = oshape ? oshape[i] : full - p->pad[i] - (explicit_pads ? a->pads[i + nsp] : 0);
        } else {
            /* output_shape (or SAME: in * stride) fixes the size; the spec
             * splits the difference between both ends */
            p->out[i] = oshape ? oshape[i] : in * s;
            int64_t total = full - p->out[i];
            int64_t half = kn_floor_div(total, 2);
            p->pad[i] = a->auto_pad == KN_AUTO_PAD_SAME_UPPER ? half : total - half;
        }
        if (p->out[i] < 0)
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): output spatial dim %d would be %lld", n->name,
                            n->op_type, i, (long long)p->out[i]);
    }
    return KILN_OK;
}

static kiln_status geometry(const kn_op_ctx *c, kn_conv_params *p)
{
    memset(p, 0, sizeof *p);
    if (!strcmp(c->node->op_type, "ConvTranspose"))
        return convt_geometry(c, p);
    return conv_geometry(c, p);
}

/* X's dtypes (kn_op.types, checked before infer); W and B must match X. */
static const kiln_dtype conv_types[] = {KILN_DTYPE_FLOAT, KILN_DTYPE_FLOAT16, KILN_DTYPE_UNDEFINED};

static kiln_status conv_infer(kn_op_ctx *c)
{
    const conv_attrs *a = c->params;
    KN_TRY(kn_check_arity(c, 2, a->fused ? 4 : 3, 1, 1));
    if (a->fused && c->in[0]->dtype != KILN_DTYPE_FLOAT)
        return kn_error(KILN_ERROR_DTYPE, "node '%s' (%s): fused convolution runs on float32 only", c->node->name,
                        c->node->op_type);
    for (int i = 1; i < c->n_in; i++)
        if (c->in[i] && c->in[i]->dtype != c->in[0]->dtype)
            return kn_error(KILN_ERROR_DTYPE, "node '%s' (%s): %s is %s but the input is %s", c->node->name,
                            c->node->op_type, i == 1 ? "weight" : "bias", kiln_dtype_name(c->in[i]->dtype),
                            kiln_dtype_name(c->in[0]->dtype));
    kn_conv_params p;
    KN_TRY(geometry(c, &p));
    int64_t dims[KN_CONV_MAX_SPATIAL + 2] = {p.N, p.M};
    for (int i = 0; i < p.nsp; i++)
        dims[2 + i] = p.out[i];
    /* The fusion pass joins Conv and Add before shapes are known: the
     * residual must broadcast to the conv output, or the Add was invalid
     * (found by fuzzing: a residual wider than the output was read past
     * its end). */
    const kiln_tensor *r = a->fused && c->n_in > 3 ? c->in[3] : NULL;
    if (r) {
        bool fits = r->rank <= p.nsp + 2;
        for (int i = 0; fits && i < r->rank; i++) {
            int64_t rd = r->dims[r->rank - 1 - i], od = dims[p.nsp + 1 - i];
            fits = rd == od || rd == 1;
        }
        if (!fits) {
            char rs[128];
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): residual of shape %s does not broadcast to the output",
                            c->node->name, c->node->op_type, kn_shape_str(r, rs, sizeof rs));
        }
    }
    return kn_set_output(c, 0, c->in[0]->dtype, p.nsp + 2, dims);
}

/* float16 runs in float32 copies laid out in scratch after the conv's own
 * scratch: [conv scratch | x | w | b | y], each 64-byte aligned. */
typedef struct scratch_layout {
    size_t conv, x, w, b, y, total;
} scratch_layout;

static size_t align64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

static bool plan_scratch(const kn_op_ctx *c, const kn_conv_params *p, scratch_layout *l)
{
    memset(l, 0, sizeof *l);
    size_t conv = 0;
    if (strcmp(c->node->op_type, "ConvTranspose") && !kn_conv_ref_scratch_bytes(p, &conv))
        return false;
    l->total = align64(conv);
    if (c->in[0]->dtype != KILN_DTYPE_FLOAT16)
        return true;
    const kiln_tensor *t[3] = {c->in[0], c->in[1], c->n_in > 2 ? c->in[2] : NULL};
    size_t *off[3] = {&l->x, &l->w, &l->b};
    for (int i = 0; i < 3; i++) {
        size_t bytes = 0;
        if (t[i] && !kn_dtype_bytes(KILN_DTYPE_FLOAT, kn_tensor_count(t[i]), &bytes))
            return false;
        *off[i] = l->total;
        l->total += align64(bytes);
    }
    size_t ybytes;
    if (!kn_dtype_bytes(KILN_DTYPE_FLOAT, kn_tensor_count(c->out[0]), &ybytes))
        return false;
    l->y = l->total;
    l->total += align64(ybytes);
    return true;
}

/* The packed-GEMM path: 2-D float32 Conv whose weights finalize() packed. */
static bool use_fast(const kn_op_ctx *c, const kn_conv_params *p)
{
    const conv_attrs *a = c->params;
    return a->packed && p->nsp == 2 && c->in[0]->dtype == KILN_DTYPE_FLOAT && a->packed->isa == c->isa &&
           strcmp(c->node->op_type, "ConvTranspose") != 0;
}

/* Depthwise 2-D float32 Conv (one filter per channel): the direct kernel. */
static bool use_depthwise(const kn_op_ctx *c, const kn_conv_params *p)
{
    return p->nsp == 2 && c->in[0]->dtype == KILN_DTYPE_FLOAT && p->group == p->C && p->M == p->C &&
           strcmp(c->node->op_type, "ConvTranspose") != 0;
}

static kiln_status conv_prepare(kn_op_ctx *c)
{
    kn_conv_params p;
    scratch_layout l;
    KN_TRY(geometry(c, &p));
    if (use_depthwise(c, &p))
        return KILN_OK;
    if (use_fast(c, &p)) {
        const conv_attrs *a = c->params;
        c->scratch_size = kn_conv2d_scratch(a->packed, p.out[0], p.out[1], kn_pool_threads(c->pool));
        return KILN_OK;
    }
    if (!plan_scratch(c, &p, &l))
        return kn_error(KILN_ERROR_LIMIT, "node '%s' (%s): scratch size overflows", c->node->name, c->node->op_type);
    c->scratch_size = l.total;
    return KILN_OK;
}

static void half_to_float(const kiln_tensor *t, float *dst)
{
    const uint16_t *src = t->data;
    int64_t n = kn_tensor_count(t);
    for (int64_t i = 0; i < n; i++)
        dst[i] = kn_half_to_float(src[i]);
}

static void run_f32(const kn_op_ctx *c, const kn_conv_params *p, const float *x, const float *w, const float *b,
                    float *y, void *scratch)
{
    if (!strcmp(c->node->op_type, "ConvTranspose"))
        kn_conv_transpose_ref_f32(p, x, w, b, y, c->pool);
    else
        kn_conv_ref_f32(p, x, w, b, y, scratch, c->pool);
}

/* FusedConv outside the epilogue: y += R (broadcast), then the activation. */
static void fused_post_ops(const kn_op_ctx *c, float *y, bool residual_done)
{
    const conv_attrs *a = c->params;
    const kiln_tensor *out = c->out[0];
    const kiln_tensor *r = c->n_in > 3 ? c->in[3] : NULL;
    int64_t n = kn_tensor_count(out);
    if (r && !residual_done) {
        int64_t strides[KN_MAX_RANK], idx[KN_MAX_RANK] = {0};
        kn_broadcast_strides(r->rank, r->dims, out->rank, out->dims, strides);
        const float *rd = r->data;
        int64_t off = 0;
        for (int64_t i = 0; i < n; i++) {
            y[i] += rd[off];
            for (int d = out->rank - 1; d >= 0; d--) {
                off += strides[d];
                if (++idx[d] < out->dims[d])
                    break;
                off -= strides[d] * out->dims[d];
                idx[d] = 0;
            }
        }
    }
    kn_act_apply(&a->act, y, n);
}

static kiln_status conv_run(kn_op_ctx *c)
{
    kn_conv_params p;
    scratch_layout l;
    const conv_attrs *a = c->params;
    KN_TRY(geometry(c, &p));
    if (use_depthwise(c, &p) || use_fast(c, &p)) {
        if (kn_tensor_count(c->out[0]) == 0)
            return KILN_OK;
        const kiln_tensor *r = a->fused && c->n_in > 3 ? c->in[3] : NULL;
        bool in_epilogue = r && kn_same_shape(r, c->out[0]);
        kn_conv2d_geom g = {p.stride[0], p.stride[1], p.dil[0], p.dil[1], p.pad[0], p.pad[1]};
        if (use_depthwise(c, &p)) {
            const kiln_tensor *bt = c->n_in > 2 ? c->in[2] : NULL;
            kn_depthwise2d_run(p.N, p.C, p.in[0], p.in[1], p.k[0], p.k[1], &g, p.out[0], p.out[1], c->in[0]->data,
                               c->in[1]->data, bt ? bt->data : NULL, c->out[0]->data, in_epilogue ? r->data : NULL,
                               (a->fused && (!r || in_epilogue)) ? &a->act : NULL, c->isa, c->pool);
            if (a->fused && r && !in_epilogue)
                fused_post_ops(c, c->out[0]->data, false);
            return KILN_OK;
        }
        if (a->packed->group == 1 && p.k[0] == 1 && p.k[1] == 1 && p.in[0] == 1 && p.in[1] == 1 && p.out[0] == 1 &&
            p.out[1] == 1 && p.pad[0] == 0 && p.pad[1] == 0) {
            /* 1x1 conv of a 1x1 image (squeeze-excitation): per image a
             * matrix-vector product, not a one-column GEMM */
            kn_epilogue ep = {.bias = a->packed->bias};
            if (a->fused && (!r || in_epilogue)) {
                ep.act = a->act.act;
                ep.alpha = a->act.alpha;
                ep.beta = a->act.beta;
            }
            const float *x = c->in[0]->data;
            float *y = c->out[0]->data;
            for (int64_t n = 0; n < p.N; n++) {
                ep.residual = in_epilogue ? (const float *)r->data + n * p.M : NULL;
                kn_sgemv_packed(&a->packed->w[0], x + n * p.C, y + n * p.M, &ep, c->pool);
            }
            if (a->fused && r && !in_epilogue)
                fused_post_ops(c, c->out[0]->data, false);
            return KILN_OK;
        }
        kn_conv2d_run(a->packed, &g, p.N, p.in[0], p.in[1], p.out[0], p.out[1], c->in[0]->data, c->out[0]->data,
                      in_epilogue ? r->data : NULL, (a->fused && (!r || in_epilogue)) ? &a->act : NULL, c->scratch,
                      c->scratch_size, c->pool);
        if (a->fused && r && !in_epilogue)
            fused_post_ops(c, c->out[0]->data, false);
        return KILN_OK;
    }
    if (!plan_scratch(c, &p, &l) || l.total > c->scratch_size)
        return kn_error(KILN_ERROR_INTERNAL, "node '%s' (%s): scratch smaller than prepared", c->node->name,
                        c->node->op_type);
    if (kn_tensor_count(c->out[0]) == 0)
        return KILN_OK;
    const kiln_tensor *bt = c->n_in > 2 ? c->in[2] : NULL;
    char *scratch = c->scratch;
    if (c->in[0]->dtype == KILN_DTYPE_FLOAT) {
        run_f32(c, &p, c->in[0]->data, c->in[1]->data, bt ? bt->data : NULL, c->out[0]->data, scratch);
        if (a->fused)
            fused_post_ops(c, c->out[0]->data, false);
        return KILN_OK;
    }
    float *x = (float *)(scratch + l.x), *w = (float *)(scratch + l.w), *y = (float *)(scratch + l.y);
    float *b = bt ? (float *)(scratch + l.b) : NULL;
    half_to_float(c->in[0], x);
    half_to_float(c->in[1], w);
    if (bt)
        half_to_float(bt, b);
    run_f32(c, &p, x, w, b, y, scratch);
    uint16_t *out = c->out[0]->data;
    int64_t n = kn_tensor_count(c->out[0]);
    for (int64_t i = 0; i < n; i++)
        out[i] = kn_float_to_half(y[i]);
    return KILN_OK;
}

/* Pack constant 2-D float32 weights once per model for the GEMM path. */
static kiln_status conv_finalize(const kn_graph *g, kn_node *n, kn_isa_level isa)
{
    conv_attrs *a = n->params;
    if (!a || strcmp(n->op_type, "ConvTranspose") == 0 || n->n_in < 2 || n->in[1] < 0)
        return KILN_OK;
    const kiln_tensor *w = g->values[n->in[1]].constant;
    const kiln_tensor *b = n->n_in > 2 && n->in[2] >= 0 ? g->values[n->in[2]].constant : NULL;
    if (!w || w->dtype != KILN_DTYPE_FLOAT || w->rank != 4 || (n->n_in > 2 && n->in[2] >= 0 && !b) ||
        (b && (b->dtype != KILN_DTYPE_FLOAT || b->rank != 1 || b->dims[0] != w->dims[0])))
        return KILN_OK;
    if (w->dims[0] % a->group != 0 || kn_tensor_count(w) == 0)
        return KILN_OK; /* infer reports it with context */
    /* Depthwise (one input channel per group, one filter per channel) runs
     * on the direct kernel: packing it per group would only cost load time
     * and MR-fold padded memory. */
    if (a->group > 1 && w->dims[1] == 1 && w->dims[0] == a->group)
        return KILN_OK;
    kn_conv2d_packed_free(a->packed);
    a->packed = NULL;
    return kn_conv2d_pack(w->dims[0], w->dims[1] * a->group, a->group, w->dims[2], w->dims[3], w->data,
                          b ? b->data : NULL, isa, &a->packed);
}

const kn_op kn_ops_conv[] = {
    {.domain = "", .name = "Conv", .since_min = 1, .since_max = 0, .parse = conv_parse, .infer = conv_infer,
     .prepare = conv_prepare, .run = conv_run, .free_params = conv_free_params, .finalize = conv_finalize,
     .types = conv_types, .flags = KN_OP_FAST},
    {.domain = "", .name = "ConvTranspose", .since_min = 1, .since_max = 0, .parse = conv_parse,
     .infer = conv_infer, .prepare = conv_prepare, .run = conv_run, .free_params = conv_free_params,
     .types = conv_types},
    {.domain = "kiln", .name = "FusedConv", .since_min = 1, .since_max = 0, .parse = conv_parse,
     .infer = conv_infer, .prepare = conv_prepare, .run = conv_run, .free_params = conv_free_params,
     .finalize = conv_finalize, .types = conv_types, .flags = KN_OP_FAST},
};
KN_FAMILY_COUNT(conv);
