/* Dropout. At inference (no training_mode input, or false, or ratio 0) it
 * is the identity with an all-true mask; the eliminate pass usually removes
 * it then. Before opset 12 there is no training_mode, so always identity;
 * the mask has X's type before opset 10 and is bool from 10 on.
 *
 * training_mode=true (opset 12+) drops each element with probability ratio
 * and scales the kept ones by 1 / (1 - ratio). The uniform draws come from
 * MT19937 seeded and read exactly as numpy's legacy RandomState does
 * (np.random.seed(seed); np.random.uniform(0, 1, X.shape)), the generator
 * of the ONNX reference implementation, so a model with a seed attribute
 * gives the reference's mask. Every run re-seeds, so seeded results are
 * reproducible; without a seed each run draws a fresh one (spec: "auto
 * generate"), hence KN_OP_NO_FOLD: a mask must never be frozen at plan
 * time. y = x * mask * scale like the reference, so dropped NaNs stay NaN
 * and dropped negatives give -0. */
#include "ops/elementwise.h"
#include "ops/families.h"

#include <stdatomic.h>
#include <string.h>
#include <time.h>

typedef struct dropout_params {
    bool has_seed;
    uint32_t seed;
} dropout_params;

static kiln_status dropout_parse(kn_node *n)
{
    dropout_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    int64_t seed = 0;
    kiln_status s = kn_attr_get_int(n, "seed", 0, &seed);
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    /* numpy takes seeds in [0, 2^32); other values wrap into that range */
    p->has_seed = kn_node_attr(n, "seed") != NULL;
    p->seed = (uint32_t)seed;
    n->params = p;
    return KILN_OK;
}

/* ---- MT19937 as numpy's legacy RandomState uses it --------------------- */

enum { MT_N = 624, MT_M = 397 };

typedef struct mt19937 {
    uint32_t s[MT_N];
    int pos;
} mt19937;

static void mt_seed(mt19937 *m, uint32_t seed)
{
    m->s[0] = seed;
    for (int i = 1; i < MT_N; i++)
        m->s[i] = 1812433253u * (m->s[i - 1] ^ (m->s[i - 1] >> 30)) + (uint32_t)i;
    m->pos = MT_N;
}

static uint32_t mt_next32(mt19937 *m)
{
    if (m->pos >= MT_N) {
        for (int i = 0; i < MT_N; i++) {
            uint32_t y = (m->s[i] & 0x80000000u) | (m->s[(i + 1) % MT_N] & 0x7fffffffu);
            m->s[i] = m->s[(i + MT_M) % MT_N] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
        }
        m->pos = 0;
    }
    uint32_t y = m->s[m->pos++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

/* A double in [0, 1) with 53 random bits (numpy's random_sample). */
static double mt_next_double(mt19937 *m)
{
    uint32_t a = mt_next32(m) >> 5, b = mt_next32(m) >> 6;
    return (a * 67108864.0 + b) / 9007199254740992.0;
}

/* Distinct per call and per process run, for dropout without a seed. */
static uint32_t auto_seed(void)
{
    static atomic_uint_fast64_t calls;
    uint64_t k = atomic_fetch_add(&calls, 1) + 1;
    struct timespec ts = {0};
    timespec_get(&ts, TIME_UTC);
    uint64_t v = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (k * 0x9e3779b97f4a7c15ull);
    return (uint32_t)(v ^ (v >> 32));
}

/* ---- hooks -------------------------------------------------------------- */

static kiln_status scalar_input(const kn_op_ctx *c, int i, const char *what)
{
    if (kn_tensor_count(c->in[i]) != 1)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (Dropout): %s must be a scalar, has %lld elements",
                        c->node->name, what, (long long)kn_tensor_count(c->in[i]));
    return KILN_OK;
}

static kiln_status dropout_infer(kn_op_ctx *c)
{
    const bool v12 = c->node->opset >= 12;
    KN_TRY(kn_check_arity(c, 1, v12 ? 3 : 1, 1, 2));
    const kiln_tensor *x = c->in[0];
    if (x->dtype == KILN_DTYPE_STRING || kiln_dtype_size(x->dtype) == 0)
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (Dropout): input has dtype %s, which kiln cannot move",
                        c->node->name, kiln_dtype_name(x->dtype));
    if (v12 && c->n_in > 1 && c->in[1]) {
        KN_TRY(kn_check_dtype(c, 1, kn_types_float));
        KN_TRY(scalar_input(c, 1, "ratio"));
    }
    if (v12 && c->n_in > 2 && c->in[2]) {
        static const kiln_dtype bool_only[] = {KILN_DTYPE_BOOL, KILN_DTYPE_UNDEFINED};
        KN_TRY(kn_check_dtype(c, 2, bool_only));
        KN_TRY(scalar_input(c, 2, "training_mode"));
    }
    KN_TRY(kn_set_output(c, 0, x->dtype, x->rank, x->dims));
    return kn_set_output(c, 1, c->node->opset >= 10 ? KILN_DTYPE_BOOL : x->dtype, x->rank, x->dims);
}

static void run_identity(kn_op_ctx *c)
{
    kiln_tensor *y = c->out[0], *mask = c->n_out > 1 ? c->out[1] : NULL;
    if (y->nbytes)
        memcpy(y->data, c->in[0]->data, y->nbytes);
    if (!mask)
        return;
    int64_t n = kn_tensor_count(mask);
    if (mask->dtype == KILN_DTYPE_BOOL)
        memset(mask->data, 1, (size_t)n);
    else
        for (int64_t i = 0; i < n; i++)
            kn_tensor_set_f64(mask, i, 1.0);
}

#define DROP_LOOP(T, CT, LOAD, STORE)                                                  \
    do {                                                                               \
        const T *xv = x->data;                                                         \
        T *yv = y->data;                                                               \
        const CT sc = (CT)scale;                                                       \
        for (int64_t i = 0; i < n; i++) {                                              \
            const bool keep = mt_next_double(mt) >= ratio;                             \
            yv[i] = STORE((CT)LOAD(xv[i]) * (CT)keep * sc);                            \
            if (mv)                                                                    \
                mv[i] = keep;                                                          \
        }                                                                              \
    } while (0)
#define AS_IS(v) (v)

static kiln_status dropout_run(kn_op_ctx *c)
{
    const dropout_params *p = c->params;
    const bool v12 = c->node->opset >= 12;
    const kiln_tensor *x = c->in[0];
    const kiln_tensor *r = v12 && c->n_in > 1 ? c->in[1] : NULL, *t = v12 && c->n_in > 2 ? c->in[2] : NULL;
    const double ratio = r ? kn_tensor_get_f64(r, 0) : 0.5;
    if (!t || !((const uint8_t *)t->data)[0] || ratio == 0.0) {
        run_identity(c);
        return KILN_OK;
    }
    if (!(ratio > 0.0 && ratio < 1.0))
        return kn_error(KILN_ERROR_ARGUMENT, "node '%s' (Dropout): ratio %g is outside [0, 1)", c->node->name,
                        ratio);
    if (!kn_ew_is_float(x->dtype))
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (Dropout): training mode on dtype %s is not supported",
                        c->node->name, kiln_dtype_name(x->dtype));
    kiln_tensor *y = c->out[0];
    uint8_t *mv = c->n_out > 1 && c->out[1] ? c->out[1]->data : NULL;
    mt19937 *mt = kn_malloc(sizeof *mt); /* 2.5 KB: kept off small pool-thread stacks */
    if (!mt)
        return KN_NOMEM();
    mt_seed(mt, p->has_seed ? p->seed : auto_seed());
    /* numpy forms the scale in double and multiplies in X's precision */
    const double scale = 1.0 / (1.0 - ratio);
    const int64_t n = kn_tensor_count(x);
    switch (x->dtype) {
    case KILN_DTYPE_FLOAT: DROP_LOOP(float, float, AS_IS, AS_IS); break;
    case KILN_DTYPE_DOUBLE: DROP_LOOP(double, double, AS_IS, AS_IS); break;
    case KILN_DTYPE_FLOAT16: DROP_LOOP(uint16_t, float, kn_half_to_float, kn_float_to_half); break;
    default: DROP_LOOP(uint16_t, float, kn_bf16_to_float, kn_float_to_bf16); break;
    }
    kn_free(mt);
    return KILN_OK;
}

const kn_op kn_ops_dropout[] = {
    {.domain = "", .name = "Dropout", .since_min = 1, .parse = dropout_parse, .infer = dropout_infer,
     .run = dropout_run, .flags = KN_OP_NO_FOLD},
};
KN_FAMILY_COUNT(dropout);
