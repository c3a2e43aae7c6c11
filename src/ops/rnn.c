/* LSTM, GRU and RNN (ONNX semantics, opsets 1..22): forward, reverse and
 * bidirectional; optional B, sequence_lens, initial_h, initial_c and P
 * (peepholes); the spec's activation list with activation_alpha/beta; clip;
 * input_forget (LSTM); linear_before_reset (GRU); layout (opset 14).
 *
 * The reference kernel computes in double whatever the tensor dtype
 * (float32, float64, float16): every input is first copied into double
 * scratch in the layout-0 order, so the recurrence itself sees one layout
 * and one precision and the outputs are converted once at the end. The
 * input projection X * W^T + Wb of all time steps is one GEMM up front;
 * each step then adds H * R^T + Rb for the whole batch.
 *
 * With sequence_lens, batch row b runs only its first len[b] steps (the
 * reverse direction starts at len[b] - 1): Y is zero past len[b] and Y_h /
 * Y_c hold the state after the last valid step, as ONNX Runtime does.
 *
 * Clip bounds every activation input of the gates (not the cell state),
 * again matching ONNX Runtime. */
#include "ops/families.h"
#include "ops/gemm_ref.h"

#include <math.h>
#include <string.h>

typedef enum rnn_kind { RNN_SIMPLE, RNN_GRU, RNN_LSTM } rnn_kind;

typedef enum rnn_act_fn {
    ACT_RELU,
    ACT_TANH,
    ACT_SIGMOID,
    ACT_AFFINE,
    ACT_LEAKY_RELU,
    ACT_THRESHOLDED_RELU,
    ACT_SCALED_TANH,
    ACT_HARD_SIGMOID,
    ACT_ELU,
    ACT_SOFTSIGN,
    ACT_SOFTPLUS
} rnn_act_fn;

typedef struct rnn_act {
    rnn_act_fn fn;
    double alpha, beta;
} rnn_act;

#define RNN_MAX_ACTS 6 /* 3 per direction (LSTM) times 2 directions */

typedef struct rnn_params {
    rnn_kind kind;
    int64_t hidden; /* 0 when the attribute is absent: taken from R */
    int dirs;       /* 1 or 2 */
    bool reverse;   /* single direction running backwards */
    int layout;
    bool has_clip;
    double clip;
    bool input_forget;
    bool linear_before_reset;
    rnn_act act[RNN_MAX_ACTS]; /* per direction: f, g, h */
} rnn_params;

/* Gates per kind, in W/R row order: RNN i; GRU z r h; LSTM i o f c. */
static int gate_count(rnn_kind k)
{
    return k == RNN_LSTM ? 4 : k == RNN_GRU ? 3 : 1;
}

static int acts_per_dir(rnn_kind k)
{
    return k == RNN_LSTM ? 3 : k == RNN_GRU ? 2 : 1;
}

static const struct {
    const char *name;
    rnn_act_fn fn;
    bool uses_alpha, uses_beta;
    double alpha, beta; /* defaults of the corresponding ONNX operators */
} act_table[] = {
    {"Relu", ACT_RELU, false, false, 0, 0},
    {"Tanh", ACT_TANH, false, false, 0, 0},
    {"Sigmoid", ACT_SIGMOID, false, false, 0, 0},
    {"Affine", ACT_AFFINE, true, true, 1.0, 0.0},
    {"LeakyRelu", ACT_LEAKY_RELU, true, false, 0.01, 0},
    {"ThresholdedRelu", ACT_THRESHOLDED_RELU, true, false, 1.0, 0},
    {"ScaledTanh", ACT_SCALED_TANH, true, true, 1.0, 1.0},
    {"HardSigmoid", ACT_HARD_SIGMOID, true, true, 0.2, 0.5},
    {"Elu", ACT_ELU, true, false, 1.0, 0},
    {"Softsign", ACT_SOFTSIGN, false, false, 0, 0},
    {"Softplus", ACT_SOFTPLUS, false, false, 0, 0},
};

static double act_apply(const rnn_act *a, double x)
{
    switch (a->fn) {
    case ACT_RELU:
        return x > 0 ? x : 0;
    case ACT_TANH:
        return tanh(x);
    case ACT_SIGMOID:
        return 1.0 / (1.0 + exp(-x));
    case ACT_AFFINE:
        return a->alpha * x + a->beta;
    case ACT_LEAKY_RELU:
        return x >= 0 ? x : a->alpha * x;
    case ACT_THRESHOLDED_RELU:
        return x > a->alpha ? x : 0;
    case ACT_SCALED_TANH:
        return a->alpha * tanh(a->beta * x);
    case ACT_HARD_SIGMOID: {
        double v = a->alpha * x + a->beta;
        return v < 0 ? 0 : v > 1 ? 1 : v;
    }
    case ACT_ELU:
        return x >= 0 ? x : a->alpha * (exp(x) - 1.0);
    case ACT_SOFTSIGN:
        return x / (1.0 + fabs(x));
    case ACT_SOFTPLUS:
        return x > 30 ? x : log1p(exp(x));
    }
    return x;
}

/* Case-insensitive, as ONNX Runtime accepts "sigmoid" as well. */
static bool name_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char ca = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
        char cb = *b >= 'A' && *b <= 'Z' ? (char)(*b - 'A' + 'a') : *b;
        if (ca != cb)
            return false;
    }
    return *a == *b;
}

/* activations / activation_alpha / activation_beta. The alpha and beta lists
 * are consumed in order by the activations that take such a parameter. */
static kiln_status parse_activations(const kn_node *n, rnn_params *p)
{
    const kn_attr *attr = kn_node_attr(n, "activations");
    int per_dir = acts_per_dir(p->kind), want = per_dir * p->dirs;
    static const rnn_act_fn defaults[3][3] = {
        {ACT_TANH}, {ACT_SIGMOID, ACT_TANH}, {ACT_SIGMOID, ACT_TANH, ACT_TANH}};
    if (!attr) {
        for (int i = 0; i < want; i++)
            p->act[i] = (rnn_act){.fn = defaults[p->kind][i % per_dir]};
        return KILN_OK;
    }
    if (attr->type != KN_ATTR_STRINGS)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): attribute activations must be a list of strings",
                        n->name, n->op_type);
    int count = (int)attr->count;
    /* A single direction's list is reused for both directions. */
    if (count != want && !(p->dirs == 2 && count == per_dir))
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): activations has %d entries, expected %d", n->name,
                        n->op_type, count, want);
    const float *alphas, *betas;
    size_t n_alpha, n_beta, ia = 0, ib = 0;
    KN_TRY(kn_attr_get_floats(n, "activation_alpha", &alphas, &n_alpha));
    KN_TRY(kn_attr_get_floats(n, "activation_beta", &betas, &n_beta));
    for (int i = 0; i < count; i++) {
        size_t k = 0;
        while (k < sizeof act_table / sizeof act_table[0] && !name_eq(act_table[k].name, attr->strings[i]))
            k++;
        if (k == sizeof act_table / sizeof act_table[0])
            return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): activation '%s' is not supported", n->name,
                            n->op_type, attr->strings[i]);
        rnn_act a = {.fn = act_table[k].fn, .alpha = act_table[k].alpha, .beta = act_table[k].beta};
        if (act_table[k].uses_alpha && ia < n_alpha)
            a.alpha = alphas[ia++];
        if (act_table[k].uses_beta && ib < n_beta)
            a.beta = betas[ib++];
        p->act[i] = a;
    }
    for (int i = count; i < want; i++)
        p->act[i] = p->act[i - per_dir];
    return KILN_OK;
}

static kiln_status parse_fields(kn_node *n, rnn_params *p)
{
    int64_t v;
    KN_TRY(kn_attr_get_int(n, "hidden_size", 0, &p->hidden));
    if (p->hidden < 0)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): hidden_size is %lld", n->name, n->op_type,
                        (long long)p->hidden);
    const char *dir;
    KN_TRY(kn_attr_get_string(n, "direction", "forward", &dir));
    if (!strcmp(dir, "forward")) {
        p->dirs = 1;
    } else if (!strcmp(dir, "reverse")) {
        p->dirs = 1;
        p->reverse = true;
    } else if (!strcmp(dir, "bidirectional")) {
        p->dirs = 2;
    } else {
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): direction '%s' is not forward, reverse or bidirectional",
                        n->name, n->op_type, dir);
    }
    KN_TRY(kn_attr_get_int(n, "layout", 0, &v));
    if (v != 0 && v != 1)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): layout is %lld, expected 0 or 1", n->name, n->op_type,
                        (long long)v);
    p->layout = (int)v;
    const kn_attr *clip = kn_node_attr(n, "clip");
    if (clip) {
        float f;
        KN_TRY(kn_attr_get_float(n, "clip", 0.0f, &f));
        if (!(f > 0))
            return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): clip is %g, must be positive", n->name, n->op_type,
                            (double)f);
        p->has_clip = true;
        p->clip = f;
    }
    KN_TRY(kn_attr_get_int(n, "input_forget", 0, &v));
    p->input_forget = v != 0;
    KN_TRY(kn_attr_get_int(n, "linear_before_reset", 0, &v));
    p->linear_before_reset = v != 0;
    return parse_activations(n, p);
}

static kiln_status rnn_parse_kind(kn_node *n, rnn_kind kind)
{
    rnn_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    p->kind = kind;
    kiln_status s = parse_fields(n, p);
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

static kiln_status rnn_parse(kn_node *n)
{
    return rnn_parse_kind(n, RNN_SIMPLE);
}
static kiln_status gru_parse(kn_node *n)
{
    return rnn_parse_kind(n, RNN_GRU);
}
static kiln_status lstm_parse(kn_node *n)
{
    return rnn_parse_kind(n, RNN_LSTM);
}

/* ---- shapes ---------------------------------------------------------------- */

enum { IN_X, IN_W, IN_R, IN_B, IN_SEQ, IN_H0, IN_C0, IN_P };

typedef struct rnn_dims {
    int64_t seq, batch, input, hidden;
    int dirs, gates;
} rnn_dims;

static const kiln_tensor *opt_in(const kn_op_ctx *c, int i)
{
    return i < c->n_in ? c->in[i] : NULL;
}

static kiln_status expect_shape(const kn_op_ctx *c, int i, const char *what, int rank, const int64_t *dims)
{
    const kiln_tensor *t = c->in[i];
    bool ok = t->rank == rank;
    for (int d = 0; ok && d < rank; d++)
        ok = t->dims[d] == dims[d];
    if (ok)
        return KILN_OK;
    char got[96], want[96];
    kiln_tensor tmp = {.rank = rank};
    memcpy(tmp.dims, dims, sizeof(int64_t) * (size_t)rank);
    return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): %s has shape %s, expected %s", c->node->name,
                    c->node->op_type, what, kn_shape_str(t, got, sizeof got), kn_shape_str(&tmp, want, sizeof want));
}

static kiln_status rnn_geometry(const kn_op_ctx *c, rnn_dims *d)
{
    const rnn_params *p = c->params;
    const kn_node *n = c->node;
    const kiln_tensor *x = c->in[IN_X], *w = c->in[IN_W], *r = c->in[IN_R];
    if (x->rank != 3 || w->rank != 3 || r->rank != 3)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): X, W and R must have 3 dims (got %d, %d, %d)", n->name,
                        n->op_type, x->rank, w->rank, r->rank);
    d->dirs = p->dirs;
    d->gates = gate_count(p->kind);
    d->seq = x->dims[p->layout ? 1 : 0];
    d->batch = x->dims[p->layout ? 0 : 1];
    d->input = x->dims[2];
    d->hidden = p->hidden ? p->hidden : r->dims[2];
    int64_t gh = d->gates * d->hidden;
    KN_TRY(expect_shape(c, IN_W, "W", 3, (int64_t[]){d->dirs, gh, d->input}));
    KN_TRY(expect_shape(c, IN_R, "R", 3, (int64_t[]){d->dirs, gh, d->hidden}));
    if (opt_in(c, IN_B))
        KN_TRY(expect_shape(c, IN_B, "B", 2, (int64_t[]){d->dirs, 2 * gh}));
    if (opt_in(c, IN_SEQ))
        KN_TRY(expect_shape(c, IN_SEQ, "sequence_lens", 1, (int64_t[]){d->batch}));
    int64_t state[3] = {d->dirs, d->batch, d->hidden};
    if (p->layout) {
        state[0] = d->batch;
        state[1] = d->dirs;
    }
    if (opt_in(c, IN_H0))
        KN_TRY(expect_shape(c, IN_H0, "initial_h", 3, state));
    if (p->kind == RNN_LSTM && opt_in(c, IN_C0))
        KN_TRY(expect_shape(c, IN_C0, "initial_c", 3, state));
    if (p->kind == RNN_LSTM && opt_in(c, IN_P))
        KN_TRY(expect_shape(c, IN_P, "P", 2, (int64_t[]){d->dirs, 3 * d->hidden}));
    return KILN_OK;
}

/* X's dtypes (kn_op.types); the weights and states must match X. */
static const kiln_dtype rnn_types[] = {KILN_DTYPE_FLOAT, KILN_DTYPE_DOUBLE, KILN_DTYPE_FLOAT16, KILN_DTYPE_UNDEFINED};

static kiln_status rnn_infer(kn_op_ctx *c)
{
    static const kiln_dtype seq_types[] = {KILN_DTYPE_INT32, KILN_DTYPE_INT64, KILN_DTYPE_UNDEFINED};
    const rnn_params *p = c->params;
    int max_in = p->kind == RNN_LSTM ? 8 : 6;
    KN_TRY(kn_check_arity(c, 3, max_in, 0, p->kind == RNN_LSTM ? 3 : 2));
    for (int i = 1; i < c->n_in; i++) {
        if (!c->in[i])
            continue;
        if (i == IN_SEQ) {
            KN_TRY(kn_check_dtype(c, i, seq_types));
        } else if (c->in[i]->dtype != c->in[IN_X]->dtype) {
            static const char *names[] = {"X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"};
            return kn_error(KILN_ERROR_DTYPE, "node '%s' (%s): %s is %s but X is %s", c->node->name,
                            c->node->op_type, names[i], kiln_dtype_name(c->in[i]->dtype),
                            kiln_dtype_name(c->in[IN_X]->dtype));
        }
    }
    rnn_dims d;
    KN_TRY(rnn_geometry(c, &d));
    kiln_dtype dt = c->in[IN_X]->dtype;
    int64_t y[4] = {d.seq, d.dirs, d.batch, d.hidden}, st[3] = {d.dirs, d.batch, d.hidden};
    if (p->layout) {
        int64_t y1[4] = {d.batch, d.seq, d.dirs, d.hidden}, st1[3] = {d.batch, d.dirs, d.hidden};
        memcpy(y, y1, sizeof y);
        memcpy(st, st1, sizeof st);
    }
    if (c->n_out > 0 && c->out[0])
        KN_TRY(kn_set_output(c, 0, dt, 4, y));
    for (int i = 1; i < c->n_out; i++)
        if (c->out[i])
            KN_TRY(kn_set_output(c, i, dt, 3, st));
    return KILN_OK;
}

/* ---- scratch layout ---------------------------------------------------------
 * All in doubles: x [seq, batch, input], w [dirs, G*H, input],
 * r [dirs, G*H, H], b [dirs, 2*G*H], p [dirs, 3*H], h and cell state
 * [batch, H] each, xw [seq, batch, G*H] (input projection), gates
 * [batch, G*H], tmp [batch, H] (GRU reset hidden / recurrent h part),
 * y [seq, dirs, batch, H], len [batch] (int64, stored as doubles' room). */
typedef struct rnn_scratch {
    size_t x, w, r, b, p, h, cs, xw, gates, tmp, y, len, total; /* offsets in doubles */
} rnn_scratch;

static bool scratch_layout(const rnn_dims *d, rnn_scratch *s)
{
    size_t off = 0;
    int64_t gh = d->gates * d->hidden;
    int64_t sizes[12] = {
        d->seq * d->batch * d->input, d->dirs * gh * d->input, d->dirs * gh * d->hidden, d->dirs * 2 * gh,
        d->dirs * 3 * d->hidden, d->batch * d->hidden, d->batch * d->hidden, d->seq * d->batch * gh,
        d->batch * gh, d->batch * d->hidden, d->seq * d->dirs * d->batch * d->hidden, d->batch};
    size_t *fields[12] = {&s->x, &s->w, &s->r, &s->b, &s->p, &s->h, &s->cs, &s->xw, &s->gates, &s->tmp, &s->y, &s->len};
    for (int i = 0; i < 12; i++) {
        *fields[i] = off;
        /* 8-double alignment keeps every block 64-byte aligned */
        size_t n = (size_t)sizes[i];
        if (!kn_add_size(n, 7, &n))
            return false;
        n &= ~(size_t)7;
        if (!kn_add_size(off, n, &off))
            return false;
    }
    s->total = off;
    return true;
}

static kiln_status rnn_prepare(kn_op_ctx *c)
{
    rnn_dims d;
    rnn_scratch s;
    KN_TRY(rnn_geometry(c, &d));
    if (!scratch_layout(&d, &s) || !kn_mul_size(s.total, sizeof(double), &c->scratch_size))
        return kn_error(KILN_ERROR_LIMIT, "node '%s' (%s): scratch size overflows", c->node->name, c->node->op_type);
    return KILN_OK;
}

static double load(const kiln_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case KILN_DTYPE_FLOAT:
        return ((const float *)t->data)[i];
    case KILN_DTYPE_DOUBLE:
        return ((const double *)t->data)[i];
    case KILN_DTYPE_FLOAT16:
        return kn_half_to_float(((const uint16_t *)t->data)[i]);
    default:
        return 0;
    }
}

static void store(kiln_tensor *t, int64_t i, double v)
{
    switch (t->dtype) {
    case KILN_DTYPE_FLOAT:
        ((float *)t->data)[i] = (float)v;
        break;
    case KILN_DTYPE_DOUBLE:
        ((double *)t->data)[i] = v;
        break;
    case KILN_DTYPE_FLOAT16:
        ((uint16_t *)t->data)[i] = kn_float_to_half((float)v);
        break;
    default:
        break;
    }
}

static void load_all(const kiln_tensor *t, double *dst)
{
    int64_t n = kn_tensor_count(t);
    for (int64_t i = 0; i < n; i++)
        dst[i] = load(t, i);
}

/* Index of (dir, batch, k) in a state tensor of either layout. */
static int64_t state_index(const rnn_params *p, const rnn_dims *d, int dir, int64_t b, int64_t k)
{
    if (p->layout)
        return (b * d->dirs + dir) * d->hidden + k;
    return ((int64_t)dir * d->batch + b) * d->hidden + k;
}

static double clipped(const rnn_params *p, double v)
{
    if (p->has_clip)
        v = v < -p->clip ? -p->clip : v > p->clip ? p->clip : v;
    return v;
}

typedef struct rnn_work {
    const rnn_params *p;
    const rnn_dims *d;
    double *base;
    const rnn_scratch *s;
    bool has_peep;
} rnn_work;

/* One LSTM cell update for batch row b from its summed gate inputs. */
static void lstm_cell(const rnn_params *p, const rnn_act *act, int64_t H, const double *peep, double *g, double *h,
                      double *cs)
{
    const double *pi = peep, *po = peep ? peep + H : NULL, *pf = peep ? peep + 2 * H : NULL;
    for (int64_t k = 0; k < H; k++) {
        double c_prev = cs[k];
        double i_in = g[k] + (pi ? pi[k] * c_prev : 0);
        double it = act_apply(&act[0], clipped(p, i_in));
        double ft;
        if (p->input_forget) {
            ft = 1.0 - it;
        } else {
            double f_in = g[2 * H + k] + (pf ? pf[k] * c_prev : 0);
            ft = act_apply(&act[0], clipped(p, f_in));
        }
        double ct = act_apply(&act[1], clipped(p, g[3 * H + k]));
        double c_new = ft * c_prev + it * ct;
        double o_in = g[H + k] + (po ? po[k] * c_new : 0);
        double ot = act_apply(&act[0], clipped(p, o_in));
        cs[k] = c_new;
        h[k] = ot * act_apply(&act[2], c_new);
    }
}

/* Run one direction over all steps. */
static void run_direction(const rnn_work *wk, int dir, bool backwards)
{
    const rnn_params *p = wk->p;
    const rnn_dims *d = wk->d;
    const rnn_scratch *s = wk->s;
    double *base = wk->base;
    int64_t H = d->hidden, B = d->batch, I = d->input, GH = d->gates * H;
    const double *w = base + s->w + (size_t)dir * GH * I;
    const double *r = base + s->r + (size_t)dir * GH * H;
    const double *wb = base + s->b + (size_t)dir * 2 * GH, *rb = wb + GH;
    const double *peep = base + s->p + (size_t)dir * 3 * H;
    double *h = base + s->h, *cs = base + s->cs, *xw = base + s->xw, *gates = base + s->gates;
    double *tmp = base + s->tmp, *y = base + s->y;
    const double *len = base + s->len;
    const rnn_act *act = &p->act[dir * acts_per_dir(p->kind)];

    /* xw = X * W^T + Wb for every step at once. */
    if (d->seq * B > 0) {
        kn_dgemm_ref(false, true, d->seq * B, GH, I, 1.0, base + s->x, I, w, I, 0.0, xw, GH);
        for (int64_t i = 0; i < d->seq * B; i++)
            for (int64_t k = 0; k < GH; k++)
                xw[i * GH + k] += wb[k];
    }
    for (int64_t step = 0; step < d->seq; step++) {
        /* Recurrent part for all rows; rows already finished are ignored. */
        if (p->kind == RNN_GRU && !p->linear_before_reset) {
            kn_dgemm_ref(false, true, B, 2 * H, H, 1.0, h, H, r, H, 0.0, gates, GH);
        } else {
            kn_dgemm_ref(false, true, B, GH, H, 1.0, h, H, r, H, 0.0, gates, GH);
        }
        for (int64_t b = 0; b < B; b++) {
            int64_t n = (int64_t)len[b];
            if (step >= n)
                continue;
            int64_t t = backwards ? n - 1 - step : step;
            double *g = gates + b * GH;
            const double *xg = xw + (t * B + b) * GH;
            double *hb = h + b * H;
            if (p->kind == RNN_SIMPLE) {
                for (int64_t k = 0; k < H; k++)
                    hb[k] = act_apply(&act[0], clipped(p, xg[k] + g[k] + rb[k]));
            } else if (p->kind == RNN_LSTM) {
                for (int64_t k = 0; k < GH; k++)
                    g[k] += xg[k] + rb[k];
                lstm_cell(p, act, H, wk->has_peep ? peep : NULL, g, hb, cs + b * H);
            } else {
                /* z and r first; the candidate needs r. */
                double *z = g, *rr = g + H;
                for (int64_t k = 0; k < 2 * H; k++)
                    g[k] = act_apply(&act[0], clipped(p, g[k] + xg[k] + rb[k]));
                double *cand = tmp + b * H;
                if (p->linear_before_reset) {
                    for (int64_t k = 0; k < H; k++)
                        cand[k] = xg[2 * H + k] + rr[k] * (g[2 * H + k] + rb[2 * H + k]);
                } else {
                    /* (r . H) * Rh^T, one row at a time */
                    const double *rh = r + 2 * H * H;
                    for (int64_t k = 0; k < H; k++) {
                        double acc = 0;
                        for (int64_t j = 0; j < H; j++)
                            acc += rr[j] * hb[j] * rh[k * H + j];
                        cand[k] = xg[2 * H + k] + acc + rb[2 * H + k];
                    }
                }
                for (int64_t k = 0; k < H; k++) {
                    double ht = act_apply(&act[1], clipped(p, cand[k]));
                    hb[k] = (1.0 - z[k]) * ht + z[k] * hb[k];
                }
            }
            double *yo = y + ((t * d->dirs + dir) * B + b) * H;
            memcpy(yo, hb, sizeof(double) * (size_t)H);
        }
    }
}

static kiln_status rnn_run(kn_op_ctx *c)
{
    const rnn_params *p = c->params;
    rnn_dims d;
    rnn_scratch s;
    KN_TRY(rnn_geometry(c, &d));
    if (!scratch_layout(&d, &s))
        return kn_error(KILN_ERROR_LIMIT, "node '%s' (%s): scratch size overflows", c->node->name, c->node->op_type);
    double *base = c->scratch;
    int64_t H = d.hidden, B = d.batch, I = d.input, GH = d.gates * H;
    const kiln_tensor *x = c->in[IN_X];

    double *len = base + s.len;
    const kiln_tensor *seq = opt_in(c, IN_SEQ);
    for (int64_t b = 0; b < B; b++) {
        int64_t n = seq ? kn_tensor_get_i64(seq, b) : d.seq;
        if (n < 0 || n > d.seq)
            return kn_error(KILN_ERROR_ARGUMENT, "node '%s' (%s): sequence_lens[%lld] is %lld, outside [0, %lld]",
                            c->node->name, c->node->op_type, (long long)b, (long long)n, (long long)d.seq);
        len[b] = (double)n;
    }
    /* X into [seq, batch, input] order */
    for (int64_t t = 0; t < d.seq; t++)
        for (int64_t b = 0; b < B; b++) {
            int64_t src = p->layout ? (b * d.seq + t) * I : (t * B + b) * I;
            double *dst = base + s.x + (t * B + b) * I;
            for (int64_t k = 0; k < I; k++)
                dst[k] = load(x, src + k);
        }
    load_all(c->in[IN_W], base + s.w);
    load_all(c->in[IN_R], base + s.r);
    if (opt_in(c, IN_B))
        load_all(c->in[IN_B], base + s.b);
    else
        memset(base + s.b, 0, sizeof(double) * (size_t)(d.dirs * 2 * GH));
    bool has_p = p->kind == RNN_LSTM && opt_in(c, IN_P);
    if (has_p)
        load_all(c->in[IN_P], base + s.p);
    memset(base + s.y, 0, sizeof(double) * (size_t)(d.seq * d.dirs * B * H));

    const kiln_tensor *h0 = opt_in(c, IN_H0);
    const kiln_tensor *c0 = p->kind == RNN_LSTM ? opt_in(c, IN_C0) : NULL;
    kiln_tensor *yh = c->n_out > 1 ? c->out[1] : NULL, *yc = c->n_out > 2 ? c->out[2] : NULL;
    rnn_work wk = {.p = p, .d = &d, .base = base, .s = &s, .has_peep = has_p};
    for (int dir = 0; dir < d.dirs; dir++) {
        double *h = base + s.h, *cs = base + s.cs;
        for (int64_t b = 0; b < B; b++)
            for (int64_t k = 0; k < H; k++) {
                int64_t i = state_index(p, &d, dir, b, k);
                h[b * H + k] = h0 ? load(h0, i) : 0.0;
                cs[b * H + k] = c0 ? load(c0, i) : 0.0;
            }
        run_direction(&wk, dir, dir == 1 || p->reverse);
        for (int64_t b = 0; b < B; b++)
            for (int64_t k = 0; k < H; k++) {
                int64_t i = state_index(p, &d, dir, b, k);
                if (yh)
                    store(yh, i, h[b * H + k]);
                if (yc)
                    store(yc, i, cs[b * H + k]);
            }
    }
    kiln_tensor *y = c->n_out > 0 ? c->out[0] : NULL;
    if (y) {
        const double *ys = base + s.y;
        for (int64_t t = 0; t < d.seq; t++)
            for (int dir = 0; dir < d.dirs; dir++)
                for (int64_t b = 0; b < B; b++) {
                    const double *src = ys + ((t * d.dirs + dir) * B + b) * H;
                    int64_t dst = p->layout ? ((b * d.seq + t) * d.dirs + dir) * H : ((t * d.dirs + dir) * B + b) * H;
                    for (int64_t k = 0; k < H; k++)
                        store(y, dst + k, src[k]);
                }
    }
    return KILN_OK;
}

const kn_op kn_ops_rnn[] = {
    {.domain = "", .name = "RNN", .since_min = 1, .since_max = 0, .parse = rnn_parse, .infer = rnn_infer,
     .prepare = rnn_prepare, .run = rnn_run, .types = rnn_types},
    {.domain = "", .name = "GRU", .since_min = 1, .since_max = 0, .parse = gru_parse, .infer = rnn_infer,
     .prepare = rnn_prepare, .run = rnn_run, .types = rnn_types},
    {.domain = "", .name = "LSTM", .since_min = 1, .since_max = 0, .parse = lstm_parse, .infer = rnn_infer,
     .prepare = rnn_prepare, .run = rnn_run, .types = rnn_types},
};
KN_FAMILY_COUNT(rnn);
