/* The ops of the blocked layout, made only by the nchwc pass
 * (src/graph/nchwc.c); the kernels are in nchwc_*.c (nchwc.h). A blocked
 * value of logical shape [N, C, H, W] is declared to the planner as
 * [N, CB * 16, H, W] (CB = ceil(C / 16)): the same bytes, so memory
 * planning and elementwise ops (Relu, Sigmoid, ...) need no change, while
 * ops that care about the channel count get it from their weights or from
 * the "channels" attribute.
 *
 *   kiln.ReorderInput (X [N,C,H,W]) -> blocked
 *   kiln.ReorderOutput (blocked; channels) -> [N,C,H,W]
 *   kiln.NchwcConv (X, W, [B], [R]; Conv's attributes + FusedConv's
 *       activation + nchw_input) -> blocked; group 1 or depthwise
 *   kiln.NchwcMaxPool / NchwcAveragePool (pool attributes) -> blocked
 *   kiln.NchwcGlobalAveragePool / NchwcGlobalMaxPool -> blocked [N,C,1,1]
 *   kiln.NchwcChannelMul (X blocked, S blocked [N,C,1,1]) -> X * S
 */
#include "ops/conv_ref.h"
#include "ops/families.h"
#include "ops/nchwc.h"

#include <string.h>

static const kiln_dtype f32_only[] = {KILN_DTYPE_FLOAT, KILN_DTYPE_UNDEFINED};

static int64_t padded(int64_t c)
{
    return kn_nchwc_blocks(c) * KN_NCHWC_BLOCK;
}

static kiln_status need_rank4(const kn_op_ctx *c, int i, const char *what)
{
    const kiln_tensor *t = c->in[i];
    if (t->rank != 4)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): %s has %d dims, expected 4", c->node->name,
                        c->node->op_type, what, t->rank);
    return KILN_OK;
}

/* A blocked input must have a whole number of blocks of channels. */
static kiln_status need_blocked(const kn_op_ctx *c, int i, int64_t channels, const char *what)
{
    KN_TRY(need_rank4(c, i, what));
    int64_t got = c->in[i]->dims[1];
    if (got % KN_NCHWC_BLOCK || (channels >= 0 && got != padded(channels)))
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): %s has %lld blocked channels, expected %lld",
                        c->node->name, c->node->op_type, what, (long long)got,
                        (long long)(channels >= 0 ? padded(channels) : (got + 15) / 16 * 16));
    return KILN_OK;
}

/* ---- reorders ----------------------------------------------------------- */

static kiln_status reorder_in_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, 1, 1, 1));
    KN_TRY(need_rank4(c, 0, "input"));
    const int64_t *d = c->in[0]->dims;
    int64_t dims[4] = {d[0], padded(d[1]), d[2], d[3]};
    return kn_set_output(c, 0, KILN_DTYPE_FLOAT, 4, dims);
}

static kiln_status reorder_in_run(kn_op_ctx *c)
{
    const int64_t *d = c->in[0]->dims;
    kn_nchwc_reorder_in(d[0], d[1], d[2], d[3], c->in[0]->data, c->out[0]->data, c->isa, c->pool);
    return KILN_OK;
}

typedef struct channels_attr {
    int64_t channels;
} channels_attr;

static kiln_status channels_parse(kn_node *n)
{
    channels_attr *a = kn_calloc(1, sizeof *a);
    if (!a)
        return KN_NOMEM();
    kiln_status s = kn_attr_get_int(n, "channels", -1, &a->channels);
    if (s == KILN_OK && a->channels < 0)
        s = kn_error(KILN_ERROR_MODEL, "node '%s' (%s): missing attribute channels", n->name, n->op_type);
    if (s != KILN_OK) {
        kn_free(a);
        return s;
    }
    n->params = a;
    return KILN_OK;
}

static kiln_status reorder_out_infer(kn_op_ctx *c)
{
    const channels_attr *a = c->params;
    KN_TRY(kn_check_arity(c, 1, 1, 1, 1));
    KN_TRY(need_blocked(c, 0, a->channels, "input"));
    const int64_t *d = c->in[0]->dims;
    int64_t dims[4] = {d[0], a->channels, d[2], d[3]};
    return kn_set_output(c, 0, KILN_DTYPE_FLOAT, 4, dims);
}

static kiln_status reorder_out_run(kn_op_ctx *c)
{
    const channels_attr *a = c->params;
    const int64_t *d = c->in[0]->dims;
    kn_nchwc_reorder_out(d[0], a->channels, d[2], d[3], c->in[0]->data, c->out[0]->data, c->isa, c->pool);
    return KILN_OK;
}

/* ---- convolution -------------------------------------------------------- */

typedef struct nconv_attrs {
    kn_auto_pad auto_pad;
    int64_t group, nchw_input;
    size_t n_kernel, n_strides, n_dil, n_pads;
    int64_t kernel[2], strides[2], dil[2], pads[4];
    kn_epilogue act;
    kn_nchwc_conv *conv; /* group 1, from finalize */
    kn_nchwc_dw *dw;     /* depthwise, from finalize */
    kn_nchwc_wino *wino; /* group 1 3x3 stride 1 where Winograd wins, instead of conv */
} nconv_attrs;

static void nconv_free(void *params)
{
    nconv_attrs *a = params;
    if (a) {
        kn_nchwc_conv_free(a->conv);
        kn_nchwc_dw_free(a->dw);
        kn_nchwc_wino_free(a->wino);
    }
    kn_free(a);
}

static kiln_status nconv_parse_attrs(const kn_node *n, nconv_attrs *a)
{
    KN_TRY(kn_parse_auto_pad(n, &a->auto_pad));
    KN_TRY(kn_attr_get_int(n, "group", 1, &a->group));
    KN_TRY(kn_attr_get_int(n, "nchw_input", 0, &a->nchw_input));
    KN_TRY(kn_attr_get_spatial_ints(n, "kernel_shape", 2, 1, a->kernel, &a->n_kernel));
    KN_TRY(kn_attr_get_spatial_ints(n, "strides", 2, 1, a->strides, &a->n_strides));
    KN_TRY(kn_attr_get_spatial_ints(n, "dilations", 2, 1, a->dil, &a->n_dil));
    KN_TRY(kn_attr_get_spatial_ints(n, "pads", 4, 0, a->pads, &a->n_pads));
    KN_TRY(kn_conv_parse_activation(n, &a->act));
    if (a->group < 1 || (a->n_strides && a->n_strides != 2) || (a->n_dil && a->n_dil != 2) ||
        (a->n_pads && a->n_pads != 4) || (a->n_kernel && a->n_kernel != 2))
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): not a 2-D convolution", n->name, n->op_type);
    return KILN_OK;
}

static kiln_status nconv_parse(kn_node *n)
{
    nconv_attrs *a = kn_calloc(1, sizeof *a);
    if (!a)
        return KN_NOMEM();
    kiln_status s = nconv_parse_attrs(n, a);
    if (s != KILN_OK) {
        kn_free(a);
        return s;
    }
    n->params = a;
    return KILN_OK;
}

typedef struct nconv_geom {
    int64_t N, C, M, H, W, KH, KW, OH, OW;
    kn_conv2d_geom g;
    bool depthwise;
} nconv_geom;

static kiln_status nconv_geometry(const kn_op_ctx *c, nconv_geom *p)
{
    const nconv_attrs *a = c->params;
    const kn_node *n = c->node;
    const kiln_tensor *w = c->in[1];
    if (w->rank != 4)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): weight has %d dims, expected 4", n->name, n->op_type,
                        w->rank);
    memset(p, 0, sizeof *p);
    p->M = w->dims[0];
    p->C = w->dims[1] * a->group;
    p->KH = w->dims[2];
    p->KW = w->dims[3];
    p->depthwise = a->group > 1;
    if (p->depthwise && (w->dims[1] != 1 || p->M != a->group))
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): grouped weight [%lld, %lld, ...] is not depthwise", n->name,
                        n->op_type, (long long)w->dims[0], (long long)w->dims[1]);
    if (a->nchw_input) {
        KN_TRY(need_rank4(c, 0, "input"));
        if (c->in[0]->dims[1] != p->C)
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): input has %lld channels, weight expects %lld", n->name,
                            n->op_type, (long long)c->in[0]->dims[1], (long long)p->C);
    } else {
        KN_TRY(need_blocked(c, 0, p->C, "input"));
    }
    if (a->n_kernel && (a->kernel[0] != p->KH || a->kernel[1] != p->KW))
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): kernel_shape does not match the weight", n->name,
                        n->op_type);
    const kiln_tensor *b = c->n_in > 2 ? c->in[2] : NULL;
    if (b && (b->rank != 1 || b->dims[0] != p->M))
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): bias is not [%lld]", n->name, n->op_type, (long long)p->M);
    p->N = c->in[0]->dims[0];
    p->H = c->in[0]->dims[2];
    p->W = c->in[0]->dims[3];
    int64_t s[2], d[2], pad[2], pad_end, out[2], in[2] = {p->H, p->W}, k[2] = {p->KH, p->KW};
    for (int i = 0; i < 2; i++) {
        s[i] = a->n_strides ? a->strides[i] : 1;
        d[i] = a->n_dil ? a->dil[i] : 1;
        KN_TRY(kn_window_dim(n, i, 2, a->auto_pad, in[i], k[i], s[i], d[i], a->pads, a->n_pads, false, &out[i],
                             &pad[i], &pad_end));
    }
    p->OH = out[0];
    p->OW = out[1];
    p->g = (kn_conv2d_geom){s[0], s[1], d[0], d[1], pad[0], pad[1]};
    return KILN_OK;
}

static kiln_status nconv_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 2, 4, 1, 1));
    for (int i = 1; i < c->n_in; i++)
        if (c->in[i] && c->in[i]->dtype != KILN_DTYPE_FLOAT)
            return kn_error(KILN_ERROR_DTYPE, "node '%s' (%s): input %d is %s, expected float32", c->node->name,
                            c->node->op_type, i, kiln_dtype_name(c->in[i]->dtype));
    nconv_geom p;
    KN_TRY(nconv_geometry(c, &p));
    int64_t dims[4] = {p.N, padded(p.M), p.OH, p.OW};
    /* The pass joins a residual only from another blocked conv chain with
     * the same channels; a broadcasting one (a valid Add) would still land
     * here: say which pass to turn off. */
    const kiln_tensor *r = c->n_in > 3 ? c->in[3] : NULL;
    if (r && (r->rank != 4 || r->dims[0] != dims[0] || r->dims[1] != dims[1] || r->dims[2] != dims[2] ||
              r->dims[3] != dims[3])) {
        char rs[128];
        return kn_error(KILN_ERROR_UNSUPPORTED,
                        "node '%s' (%s): residual of blocked shape %s differs from the output; load with pass 'nchwc' "
                        "disabled",
                        c->node->name, c->node->op_type, kn_shape_str(r, rs, sizeof rs));
    }
    return kn_set_output(c, 0, KILN_DTYPE_FLOAT, 4, dims);
}

static kiln_status nconv_run(kn_op_ctx *c)
{
    const nconv_attrs *a = c->params;
    nconv_geom p;
    KN_TRY(nconv_geometry(c, &p));
    if (kn_tensor_count(c->out[0]) == 0)
        return KILN_OK;
    const float *r = c->n_in > 3 && c->in[3] ? c->in[3]->data : NULL;
    if (a->wino) {
        if (a->wino->isa != c->isa)
            return kn_error(KILN_ERROR_INTERNAL, "node '%s' (%s): weights not packed for this CPU", c->node->name,
                            c->node->op_type);
        return kn_nchwc_wino_run(a->wino, p.g.PT, p.g.PL, p.N, p.H, p.W, p.OH, p.OW, c->in[0]->data, c->out[0]->data,
                                 (int64_t)(c->out_stride / sizeof(float)), r, &a->act, c->pool);
    }
    if (p.depthwise ? !a->dw || a->dw->isa != c->isa : !a->conv || a->conv->isa != c->isa)
        return kn_error(KILN_ERROR_INTERNAL, "node '%s' (%s): weights not packed for this CPU", c->node->name,
                        c->node->op_type);
    if (p.depthwise)
        kn_nchwc_dw_run(a->dw, &p.g, p.N, p.H, p.W, p.OH, p.OW, c->in[0]->data, c->out[0]->data, r, &a->act, c->pool);
    else
        kn_nchwc_conv_run_strided(a->conv, &p.g, p.N, p.H, p.W, p.OH, p.OW, c->in[0]->data, c->out[0]->data,
                                  (int64_t)(c->out_stride / sizeof(float)), r, &a->act, c->pool);
    return KILN_OK;
}

/* The group-1 kernels read a pixel's residual before storing it (tested
 * with y == residual): the output may take over the residual's buffer. */
static int nconv_in_place_input(const kn_node *n)
{
    const nconv_attrs *a = n->params;
    return a && a->group == 1 && n->n_in > 3 && n->in[3] >= 0 ? 3 : -1;
}

/* Group 1 without a residual (whose reads follow y's offsets) may write a
 * strided output: a slice of a channel Concat (squeezenet's fire modules
 * at batch > 1). */
static bool nconv_strided_output(const kn_node *n)
{
    const nconv_attrs *a = n->params;
    return a && a->group == 1 && (n->n_in < 4 || n->in[3] < 0);
}

static kiln_status nconv_finalize(const kn_graph *g, kn_node *n, kn_isa_level isa)
{
    nconv_attrs *a = n->params;
    if (!a || n->n_in < 2 || n->in[1] < 0)
        return KILN_OK;
    const kiln_tensor *w = g->values[n->in[1]].constant;
    const kiln_tensor *b = n->n_in > 2 && n->in[2] >= 0 ? g->values[n->in[2]].constant : NULL;
    if (!w || w->dtype != KILN_DTYPE_FLOAT || w->rank != 4 || kn_tensor_count(w) == 0)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): weight must be a float32 4-D constant", n->name,
                        n->op_type);
    if (n->n_in > 2 && n->in[2] >= 0 &&
        (!b || b->dtype != KILN_DTYPE_FLOAT || b->rank != 1 || b->dims[0] != w->dims[0]))
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): bias must be a float32 constant of %lld values", n->name,
                        n->op_type, (long long)w->dims[0]);
    const float *bias = b ? b->data : NULL;
    kn_nchwc_conv_free(a->conv);
    kn_nchwc_dw_free(a->dw);
    kn_nchwc_wino_free(a->wino);
    a->conv = NULL;
    a->dw = NULL;
    a->wino = NULL;
    if (a->group > 1) {
        if (w->dims[1] != 1 || w->dims[0] != a->group)
            return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): grouped weight is not depthwise", n->name, n->op_type);
        return kn_nchwc_dw_pack(w->dims[0], w->dims[2], w->dims[3], w->data, bias, isa, &a->dw);
    }
    /* Winograd F(2x2, 3x3) where it measured faster (kn_nchwc_wino_wins):
     * the input's plane size, when the graph knows it, is part of the rule */
    const bool unit = (!a->n_strides || (a->strides[0] == 1 && a->strides[1] == 1)) &&
                      (!a->n_dil || (a->dil[0] == 1 && a->dil[1] == 1));
    if (unit && !a->nchw_input && w->dims[2] == 3 && w->dims[3] == 3) {
        const kn_value *xv = &g->values[n->in[0]];
        const bool known = xv->rank == 4 && !xv->dims[2].symbol && !xv->dims[3].symbol && xv->dims[2].value > 0 &&
                           xv->dims[3].value > 0;
        const int64_t H = known ? xv->dims[2].value : -1, W = known ? xv->dims[3].value : -1;
        if (kn_nchwc_wino_wins(w->dims[0], w->dims[1], H, W, isa))
            return kn_nchwc_wino_pack(w->dims[0], w->dims[1], w->data, bias, isa, &a->wino);
    }
    return kn_nchwc_conv_pack(w->dims[0], w->dims[1], w->dims[2], w->dims[3], w->data, bias, a->nchw_input != 0, isa,
                              &a->conv);
}

/* ---- pools -------------------------------------------------------------- */

typedef struct npool_attrs {
    kn_auto_pad auto_pad;
    bool global, max;
    int64_t ceil_mode, count_include_pad;
    size_t n_kernel, n_strides, n_dil, n_pads;
    int64_t kernel[2], strides[2], dil[2], pads[4];
} npool_attrs;

static kiln_status npool_parse_attrs(const kn_node *n, npool_attrs *a)
{
    a->global = strstr(n->op_type, "Global") != NULL;
    a->max = strstr(n->op_type, "Max") != NULL;
    if (a->global)
        return KILN_OK;
    KN_TRY(kn_parse_auto_pad(n, &a->auto_pad));
    KN_TRY(kn_attr_get_spatial_ints(n, "kernel_shape", 2, 1, a->kernel, &a->n_kernel));
    KN_TRY(kn_attr_get_spatial_ints(n, "strides", 2, 1, a->strides, &a->n_strides));
    KN_TRY(kn_attr_get_spatial_ints(n, "dilations", 2, 1, a->dil, &a->n_dil));
    KN_TRY(kn_attr_get_spatial_ints(n, "pads", 4, 0, a->pads, &a->n_pads));
    KN_TRY(kn_attr_get_int(n, "ceil_mode", 0, &a->ceil_mode));
    KN_TRY(kn_attr_get_int(n, "count_include_pad", 0, &a->count_include_pad));
    if (a->n_kernel != 2 || (a->n_strides && a->n_strides != 2) || (a->n_dil && a->n_dil != 2) ||
        (a->n_pads && a->n_pads != 4))
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): not a 2-D pool", n->name, n->op_type);
    return KILN_OK;
}

static kiln_status npool_parse(kn_node *n)
{
    npool_attrs *a = kn_calloc(1, sizeof *a);
    if (!a)
        return KN_NOMEM();
    kiln_status s = npool_parse_attrs(n, a);
    if (s != KILN_OK) {
        kn_free(a);
        return s;
    }
    n->params = a;
    return KILN_OK;
}

typedef struct npool_geom {
    kn_nchwc_pool p;
    int64_t N, C, H, W, OH, OW, PB, PR;
} npool_geom;

static kiln_status npool_geometry(const kn_op_ctx *c, npool_geom *q)
{
    const npool_attrs *a = c->params;
    KN_TRY(need_blocked(c, 0, -1, "input"));
    memset(q, 0, sizeof *q);
    const int64_t *d = c->in[0]->dims;
    q->N = d[0];
    q->C = d[1];
    q->H = d[2];
    q->W = d[3];
    if (a->global) {
        q->OH = q->OW = 1;
        return KILN_OK;
    }
    int64_t s[2], dl[2], pad[2], pad_end[2], out[2];
    for (int i = 0; i < 2; i++) {
        s[i] = a->n_strides ? a->strides[i] : 1;
        dl[i] = a->n_dil ? a->dil[i] : 1;
        KN_TRY(kn_window_dim(c->node, i, 2, a->auto_pad, d[2 + i], a->kernel[i], s[i], dl[i], a->pads, a->n_pads,
                             a->ceil_mode != 0, &out[i], &pad[i], &pad_end[i]));
    }
    q->p = (kn_nchwc_pool){a->kernel[0], a->kernel[1], {s[0], s[1], dl[0], dl[1], pad[0], pad[1]},
                           a->count_include_pad != 0};
    q->OH = out[0];
    q->OW = out[1];
    q->PB = pad_end[0];
    q->PR = pad_end[1];
    return KILN_OK;
}

static kiln_status npool_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, 1, 1, 1));
    npool_geom q;
    KN_TRY(npool_geometry(c, &q));
    int64_t dims[4] = {q.N, q.C, q.OH, q.OW};
    return kn_set_output(c, 0, KILN_DTYPE_FLOAT, 4, dims);
}

static kiln_status npool_run(kn_op_ctx *c)
{
    const npool_attrs *a = c->params;
    npool_geom q;
    KN_TRY(npool_geometry(c, &q));
    if (kn_tensor_count(c->out[0]) == 0)
        return KILN_OK;
    const float *x = c->in[0]->data;
    float *y = c->out[0]->data;
    if (a->global)
        kn_nchwc_global_pool(a->max, q.N, q.C, q.H, q.W, x, y, c->isa, c->pool);
    else if (a->max)
        kn_nchwc_maxpool(&q.p, q.N, q.C, q.H, q.W, q.OH, q.OW, x, y, c->isa, c->pool);
    else
        kn_nchwc_avgpool(&q.p, q.N, q.C, q.H, q.W, q.OH, q.OW, q.PB, q.PR, x, y, c->isa, c->pool);
    return KILN_OK;
}

/* ---- channel scale ------------------------------------------------------ */

static kiln_status cmul_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 2, 2, 1, 1));
    KN_TRY(need_blocked(c, 0, -1, "input"));
    KN_TRY(need_blocked(c, 1, -1, "scale"));
    const int64_t *x = c->in[0]->dims, *s = c->in[1]->dims;
    if (s[0] != x[0] || s[1] != x[1] || s[2] != 1 || s[3] != 1) {
        char xs[96], ss[96];
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): scale %s does not match input %s per channel",
                        c->node->name, c->node->op_type, kn_shape_str(c->in[1], ss, sizeof ss),
                        kn_shape_str(c->in[0], xs, sizeof xs));
    }
    if (c->in[1]->dtype != KILN_DTYPE_FLOAT)
        return kn_error(KILN_ERROR_DTYPE, "node '%s' (%s): scale is %s, expected float32", c->node->name,
                        c->node->op_type, kiln_dtype_name(c->in[1]->dtype));
    return kn_set_output(c, 0, KILN_DTYPE_FLOAT, 4, x);
}

static kiln_status cmul_run(kn_op_ctx *c)
{
    const int64_t *x = c->in[0]->dims;
    kn_nchwc_channel_mul(x[0], x[1], x[2], x[3], c->in[0]->data, c->in[1]->data, c->out[0]->data, c->isa, c->pool);
    return KILN_OK;
}

const kn_op kn_ops_nchwc[] = {
    {.domain = "kiln", .name = "ReorderInput", .since_min = 1, .infer = reorder_in_infer, .run = reorder_in_run,
     .types = f32_only, .flags = KN_OP_FAST},
    {.domain = "kiln", .name = "ReorderOutput", .since_min = 1, .parse = channels_parse, .infer = reorder_out_infer,
     .run = reorder_out_run, .types = f32_only, .flags = KN_OP_FAST},
    {.domain = "kiln", .name = "NchwcConv", .since_min = 1, .parse = nconv_parse, .free_params = nconv_free,
     .infer = nconv_infer, .run = nconv_run, .finalize = nconv_finalize, .types = f32_only, .flags = KN_OP_FAST,
     .strided_output = nconv_strided_output, .in_place_input = nconv_in_place_input},
    {.domain = "kiln", .name = "NchwcMaxPool", .since_min = 1, .parse = npool_parse, .infer = npool_infer,
     .run = npool_run, .types = f32_only, .flags = KN_OP_FAST},
    {.domain = "kiln", .name = "NchwcAveragePool", .since_min = 1, .parse = npool_parse, .infer = npool_infer,
     .run = npool_run, .types = f32_only, .flags = KN_OP_FAST},
    {.domain = "kiln", .name = "NchwcGlobalAveragePool", .since_min = 1, .parse = npool_parse, .infer = npool_infer,
     .run = npool_run, .types = f32_only, .flags = KN_OP_FAST},
    {.domain = "kiln", .name = "NchwcGlobalMaxPool", .since_min = 1, .parse = npool_parse, .infer = npool_infer,
     .run = npool_run, .types = f32_only, .flags = KN_OP_FAST},
    {.domain = "kiln", .name = "NchwcChannelMul", .since_min = 1, .infer = cmul_infer, .run = cmul_run,
     .types = f32_only, .flags = KN_OP_FAST},
};
KN_FAMILY_COUNT(nchwc);
