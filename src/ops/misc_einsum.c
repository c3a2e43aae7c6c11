/* Einsum: a general reference kernel. Every label (letter, or one per
 * dimension covered by "...") gets a size and, per operand, a stride (the
 * sum of the strides of its axes, so a repeated label walks a diagonal; 0
 * where a size-1 ellipsis dimension broadcasts). One odometer over output
 * labels then summed labels accumulates the products in double. */
#include "ops/misc_ops.h"

#include <string.h>

#define EIN_MAX_IN 16
#define EIN_ELL 128 /* label codes: ASCII letters, then EIN_ELL + j for ellipsis dim j */
#define EIN_LABELS (EIN_ELL + KN_MAX_RANK)
#define EIN_MAX_TERM 64

typedef struct ein_term {
    int n;                 /* letters in the term */
    unsigned char l[EIN_MAX_TERM];
    int ell;               /* position of "..." among the letters, -1 if none */
} ein_term;

typedef struct einsum_params {
    int n_in;
    ein_term in[EIN_MAX_IN];
    bool explicit_out;
    ein_term out;
} einsum_params;

static kiln_status parse_term(const kn_node *nd, const char *s, size_t len, ein_term *t)
{
    t->n = 0;
    t->ell = -1;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (ch == ' ')
            continue;
        if (ch == '.') {
            if (t->ell >= 0 || i + 2 >= len || s[i + 1] != '.' || s[i + 2] != '.')
                return kn_misc_node_error(nd, KILN_ERROR_MODEL, "malformed ellipsis in equation");
            t->ell = t->n;
            i += 2;
            continue;
        }
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')))
            return kn_misc_node_error(nd, KILN_ERROR_MODEL, "invalid character '%c' in equation", ch);
        if (t->n >= EIN_MAX_TERM)
            return kn_misc_node_error(nd, KILN_ERROR_UNSUPPORTED, "equation term too long");
        t->l[t->n++] = (unsigned char)ch;
    }
    return KILN_OK;
}

kiln_status kn_misc_einsum_parse(kn_node *n)
{
    const char *eq;
    KN_TRY(kn_attr_get_string(n, "equation", NULL, &eq));
    if (!eq)
        return kn_misc_node_error(n, KILN_ERROR_MODEL, "missing required attribute 'equation'");
    einsum_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    const char *arrow = strstr(eq, "->");
    size_t lhs_len = arrow ? (size_t)(arrow - eq) : strlen(eq);
    kiln_status s = KILN_OK;
    size_t start = 0;
    for (size_t i = 0; i <= lhs_len && s == KILN_OK; i++) {
        if (i < lhs_len && eq[i] != ',')
            continue;
        if (p->n_in >= EIN_MAX_IN)
            s = kn_misc_node_error(n, KILN_ERROR_UNSUPPORTED, "more than %d operands", EIN_MAX_IN);
        else
            s = parse_term(n, eq + start, i - start, &p->in[p->n_in++]);
        start = i + 1;
    }
    if (s == KILN_OK && arrow) {
        p->explicit_out = true;
        s = parse_term(n, arrow + 2, strlen(arrow + 2), &p->out);
        for (int i = 0; s == KILN_OK && i < p->out.n; i++)
            for (int j = i + 1; j < p->out.n; j++)
                if (p->out.l[i] == p->out.l[j]) {
                    s = kn_misc_node_error(n, KILN_ERROR_MODEL, "output label '%c' repeats", p->out.l[i]);
                    break;
                }
    }
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

/* Everything run needs once input shapes are known. */
typedef struct ein_plan {
    int n_lab;               /* output labels first, then summed ones */
    int n_out_lab;
    int64_t size[EIN_LABELS];  /* by position in lab[] */
    int64_t stride[EIN_MAX_IN][EIN_LABELS];
    int64_t ostride[EIN_LABELS];
    int out_rank;
    int64_t out_dims[KN_MAX_RANK];
} ein_plan;

/* Label codes of operand axes, with the ellipsis expanded right-aligned to ell_rank. */
static int term_axes(const ein_term *t, int ell_dims, int ell_rank, int *codes)
{
    int k = 0;
    for (int i = 0; i <= t->n; i++) {
        if (i == t->ell)
            for (int j = 0; j < ell_dims; j++)
                codes[k++] = EIN_ELL + ell_rank - ell_dims + j;
        if (i < t->n)
            codes[k++] = t->l[i];
    }
    return k;
}

static kiln_status ein_make_plan(const kn_op_ctx *c, ein_plan *pl)
{
    const einsum_params *p = c->params;
    if (c->n_in != p->n_in)
        return kn_misc_error(c, KILN_ERROR_MODEL, "equation has %d operands, node has %d inputs", p->n_in, c->n_in);
    int ell_rank = 0, ell_dims[EIN_MAX_IN];
    for (int i = 0; i < p->n_in; i++) {
        const kiln_tensor *x = c->in[i];
        int extra = x->rank - p->in[i].n;
        if (extra < 0 || (extra > 0 && p->in[i].ell < 0))
            return kn_misc_error(c, KILN_ERROR_SHAPE, "operand %d has rank %d, equation term has %d labels", i,
                                 x->rank, p->in[i].n);
        ell_dims[i] = extra;
        ell_rank = KN_MAX(ell_rank, extra);
    }
    int64_t lsize[EIN_LABELS];
    int count[EIN_LABELS] = {0};
    for (int l = 0; l < EIN_LABELS; l++)
        lsize[l] = -1;
    int codes[EIN_MAX_IN][EIN_MAX_TERM + KN_MAX_RANK];
    for (int i = 0; i < p->n_in; i++) {
        int n = term_axes(&p->in[i], ell_dims[i], ell_rank, codes[i]);
        for (int a = 0; a < n; a++) {
            int l = codes[i][a];
            int64_t d = c->in[i]->dims[a];
            count[l]++;
            if (lsize[l] < 0 || d == lsize[l])
                lsize[l] = d;
            else if (l >= EIN_ELL && lsize[l] == 1) /* ellipsis dims broadcast */
                lsize[l] = d;
            else if (!(l >= EIN_ELL && d == 1))
                return kn_misc_error(c, KILN_ERROR_SHAPE, "label '%c' has sizes %lld and %lld",
                                     l < EIN_ELL ? l : '.', (long long)lsize[l], (long long)d);
        }
    }
    /* output labels */
    int out_codes[EIN_MAX_TERM + KN_MAX_RANK], n_out = 0;
    if (p->explicit_out) {
        if (p->out.ell < 0 && ell_rank > 0)
            for (int j = 0; j < ell_rank; j++)
                if (lsize[EIN_ELL + j] != 1)
                    return kn_misc_error(c, KILN_ERROR_MODEL, "output drops the ellipsis dimensions");
        n_out = term_axes(&p->out, ell_rank, ell_rank, out_codes);
        for (int a = 0; a < n_out; a++)
            if (lsize[out_codes[a]] < 0)
                return kn_misc_error(c, KILN_ERROR_MODEL, "output label '%c' is not in any input", out_codes[a]);
    } else {
        for (int j = 0; j < ell_rank; j++)
            out_codes[n_out++] = EIN_ELL + j;
        for (int l = 0; l < EIN_ELL; l++)
            if (count[l] == 1)
                out_codes[n_out++] = l;
    }
    if (n_out > KN_MAX_RANK)
        return kn_misc_error(c, KILN_ERROR_UNSUPPORTED, "output rank %d exceeds %d", n_out, KN_MAX_RANK);
    /* order: output labels, then the remaining (summed) ones */
    int pos[EIN_LABELS];
    for (int l = 0; l < EIN_LABELS; l++)
        pos[l] = -1;
    pl->n_lab = 0;
    for (int a = 0; a < n_out; a++) {
        pos[out_codes[a]] = pl->n_lab;
        pl->size[pl->n_lab++] = lsize[out_codes[a]];
    }
    pl->n_out_lab = n_out;
    for (int l = 0; l < EIN_LABELS; l++)
        if (lsize[l] >= 0 && pos[l] < 0) {
            pos[l] = pl->n_lab;
            pl->size[pl->n_lab++] = lsize[l];
        }
    pl->out_rank = n_out;
    for (int a = 0; a < n_out; a++)
        pl->out_dims[a] = lsize[out_codes[a]];
    memset(pl->stride, 0, sizeof pl->stride);
    memset(pl->ostride, 0, sizeof pl->ostride);
    int64_t st = 1;
    for (int a = n_out - 1; a >= 0; a--) {
        pl->ostride[a] = st;
        st *= pl->out_dims[a];
    }
    for (int i = 0; i < p->n_in; i++) {
        const kiln_tensor *x = c->in[i];
        int64_t xs[KN_MAX_RANK];
        kn_contiguous_strides(x->rank, x->dims, xs);
        for (int a = 0; a < x->rank; a++) {
            int at = pos[codes[i][a]];
            if (x->dims[a] != 1 || pl->size[at] == 1)
                pl->stride[i][at] += xs[a];
        }
    }
    return KILN_OK;
}

/* Operand 0's dtypes (kn_op.types; the others must match it). */
const kiln_dtype kn_misc_einsum_types[] = {KILN_DTYPE_FLOAT, KILN_DTYPE_DOUBLE, KILN_DTYPE_FLOAT16, KILN_DTYPE_BFLOAT16,
                                           KILN_DTYPE_INT32, KILN_DTYPE_INT64, KILN_DTYPE_UNDEFINED};

kiln_status kn_misc_einsum_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, EIN_MAX_IN, 1, 1));
    for (int i = 0; i < c->n_in; i++) {
        if (!c->in[i])
            return kn_misc_error(c, KILN_ERROR_MODEL, "operand %d is missing", i);
        if (c->in[i]->dtype != c->in[0]->dtype)
            return kn_misc_error(c, KILN_ERROR_DTYPE, "operands have different dtypes");
    }
    ein_plan pl;
    KN_TRY(ein_make_plan(c, &pl));
    return kn_set_output(c, 0, c->in[0]->dtype, pl.out_rank, pl.out_dims);
}

kiln_status kn_misc_einsum_run(kn_op_ctx *c)
{
    ein_plan pl;
    KN_TRY(ein_make_plan(c, &pl));
    kiln_tensor *y = c->out[0];
    int64_t ny = kn_tensor_count(y), total = 1;
    for (int l = 0; l < pl.n_lab; l++)
        total *= pl.size[l];
    double *acc = kn_calloc((size_t)(ny > 0 ? ny : 1), sizeof(double));
    if (!acc)
        return KN_NOMEM();
    int n = c->n_in;
    int64_t idx[EIN_LABELS] = {0}, off[EIN_MAX_IN] = {0}, ooff = 0;
    for (int64_t k = 0; k < total; k++) {
        double v = 1.0;
        for (int i = 0; i < n; i++)
            v *= kn_tensor_get_f64(c->in[i], off[i]);
        acc[ooff] += v;
        for (int l = pl.n_lab - 1; l >= 0; l--) {
            idx[l]++;
            for (int i = 0; i < n; i++)
                off[i] += pl.stride[i][l];
            if (l < pl.n_out_lab)
                ooff += pl.ostride[l];
            if (idx[l] < pl.size[l])
                break;
            for (int i = 0; i < n; i++)
                off[i] -= pl.stride[i][l] * pl.size[l];
            if (l < pl.n_out_lab)
                ooff -= pl.ostride[l] * pl.size[l];
            idx[l] = 0;
        }
    }
    for (int64_t i = 0; i < ny; i++)
        kn_tensor_set_f64(y, i, acc[i]);
    kn_free(acc);
    return KILN_OK;
}
