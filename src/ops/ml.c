/* Classic-ML ops of the ai.onnx.ml domain: LabelEncoder, TreeEnsemble,
 * Binarizer, ArrayFeatureExtractor. */
#include "ops/families.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ML "ai.onnx.ml"

static bool is_float_type(kiln_dtype dt)
{
    return dt == KILN_DTYPE_FLOAT || dt == KILN_DTYPE_DOUBLE || dt == KILN_DTYPE_FLOAT16 ||
           dt == KILN_DTYPE_BFLOAT16;
}

/* Copy element si of src into element di of dst (same dtype); strings are
 * duplicated so dst owns them. */
static kiln_status copy_elem(kiln_tensor *dst, int64_t di, const kiln_tensor *src, int64_t si)
{
    if (src->dtype == KILN_DTYPE_STRING) {
        const char *s = ((char *const *)src->data)[si];
        char *copy = kn_strdup(s ? s : "");
        if (!copy)
            return KN_NOMEM();
        char **d = dst->data;
        kn_free(d[di]);
        d[di] = copy;
        return KILN_OK;
    }
    size_t es = kiln_dtype_size(src->dtype);
    memcpy((char *)dst->data + (size_t)di * es, (const char *)src->data + (size_t)si * es, es);
    return KILN_OK;
}

/* ---- LabelEncoder (opsets 2 and 4) ---------------------------------------
 * Keys and values come from keys_* / values_* lists or, since opset 4,
 * keys_tensor / values_tensor; both become tensors here. Keys are sorted
 * once for binary search; a repeated key maps to its last value, like the
 * reference's dict. Float keys compare as doubles and NaN matches NaN. */

typedef enum key_kind { KEY_STRING, KEY_INT, KEY_FLOAT } key_kind;

typedef struct le_key {
    union {
        const char *s;
        int64_t i;
        double f;
    } v;
    int64_t index; /* into values */
} le_key;

typedef struct le_params {
    kiln_tensor *keys, *values, *def; /* owned */
    key_kind kind;
    le_key *sorted;
    int64_t n;
} le_params;

static void le_free(void *params)
{
    le_params *p = params;
    if (!p)
        return;
    kn_tensor_free(p->keys);
    kn_tensor_free(p->values);
    kn_tensor_free(p->def);
    kn_free(p->sorted);
    kn_free(p);
}

static int cmp_f(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) - isnan(b); /* NaN last, equal to NaN */
    return a < b ? -1 : a > b;
}

static int le_cmp_string(const void *a, const void *b)
{
    const le_key *x = a, *y = b;
    int c = strcmp(x->v.s, y->v.s);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

static int le_cmp_int(const void *a, const void *b)
{
    const le_key *x = a, *y = b;
    if (x->v.i != y->v.i)
        return x->v.i < y->v.i ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

static int le_cmp_float(const void *a, const void *b)
{
    const le_key *x = a, *y = b;
    int c = cmp_f(x->v.f, y->v.f);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* A tensor from one of the list attributes (strings, int64s, floats) or the
 * tensor attribute; NULL in *out if none is present. */
static kiln_status le_source(const kn_node *n, const char *prefix, kiln_tensor **out)
{
    char name[64];
    const kiln_tensor *t;
    *out = NULL;
    snprintf(name, sizeof name, "%s_tensor", prefix);
    KN_TRY(kn_attr_get_tensor(n, name, &t));
    if (t)
        return kn_tensor_clone(t, out);
    char *const *strs;
    const int64_t *ints;
    const float *floats;
    size_t ns, ni, nf;
    snprintf(name, sizeof name, "%s_strings", prefix);
    KN_TRY(kn_attr_get_strings(n, name, &strs, &ns));
    snprintf(name, sizeof name, "%s_int64s", prefix);
    KN_TRY(kn_attr_get_ints(n, name, &ints, &ni));
    snprintf(name, sizeof name, "%s_floats", prefix);
    KN_TRY(kn_attr_get_floats(n, name, &floats, &nf));
    if ((ns > 0) + (ni > 0) + (nf > 0) > 1)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): more than one %s_* attribute", n->name, n->op_type, prefix);
    int64_t count = (int64_t)(ns + ni + nf);
    kiln_dtype dt = ns ? KILN_DTYPE_STRING : ni ? KILN_DTYPE_INT64 : KILN_DTYPE_FLOAT;
    if (!count)
        return KILN_OK;
    kiln_tensor *r;
    KN_TRY(kn_tensor_new(dt, 1, &count, &r));
    if (ns) {
        char **d = r->data;
        for (size_t i = 0; i < ns; i++) {
            d[i] = kn_strdup(strs[i]);
            if (!d[i]) {
                kn_tensor_free(r);
                return KN_NOMEM();
            }
        }
    } else if (ni) {
        memcpy(r->data, ints, ni * sizeof(int64_t));
    } else {
        memcpy(r->data, floats, nf * sizeof(float));
    }
    *out = r;
    return KILN_OK;
}

/* default_tensor, else default_<type of values>, else the spec's default. */
static kiln_status le_default(const kn_node *n, const kiln_tensor *values, kiln_tensor **out)
{
    const kiln_tensor *t;
    KN_TRY(kn_attr_get_tensor(n, "default_tensor", &t));
    if (t) {
        if (t->dtype != values->dtype || kn_tensor_count(t) != 1)
            return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): default_tensor must hold one %s", n->name,
                            n->op_type, kiln_dtype_name(values->dtype));
        return kn_tensor_clone(t, out);
    }
    int64_t one = 1;
    kiln_tensor *d;
    KN_TRY(kn_tensor_new(values->dtype, 1, &one, &d));
    kiln_status s = KILN_OK;
    if (values->dtype == KILN_DTYPE_STRING) {
        const char *v;
        s = kn_attr_get_string(n, "default_string", "_Unused", &v);
        if (s == KILN_OK && !(((char **)d->data)[0] = kn_strdup(v)))
            s = KN_NOMEM();
    } else if (is_float_type(values->dtype)) {
        float v;
        s = kn_attr_get_float(n, "default_float", -0.0f, &v);
        if (s == KILN_OK)
            kn_tensor_set_f64(d, 0, v);
    } else {
        int64_t v;
        s = kn_attr_get_int(n, "default_int64", -1, &v);
        if (s == KILN_OK)
            kn_tensor_set_f64(d, 0, (double)v);
    }
    if (s != KILN_OK) {
        kn_tensor_free(d);
        return s;
    }
    *out = d;
    return KILN_OK;
}

static bool is_int_type(kiln_dtype dt)
{
    switch (dt) {
    case KILN_DTYPE_INT8: case KILN_DTYPE_INT16: case KILN_DTYPE_INT32: case KILN_DTYPE_INT64:
    case KILN_DTYPE_UINT8: case KILN_DTYPE_UINT16: case KILN_DTYPE_UINT32: case KILN_DTYPE_UINT64:
        return true;
    default:
        return false;
    }
}

static kiln_status le_parse(kn_node *n)
{
    le_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s = le_source(n, "keys", &p->keys);
    if (s == KILN_OK)
        s = le_source(n, "values", &p->values);
    if (s == KILN_OK && (!p->keys || !p->values))
        s = kn_error(KILN_ERROR_MODEL, "node '%s' (%s): keys and values are required", n->name, n->op_type);
    if (s == KILN_OK && kn_tensor_count(p->keys) != kn_tensor_count(p->values))
        s = kn_error(KILN_ERROR_MODEL, "node '%s' (%s): %lld keys but %lld values", n->name, n->op_type,
                     (long long)kn_tensor_count(p->keys), (long long)kn_tensor_count(p->values));
    if (s == KILN_OK && !(p->keys->dtype == KILN_DTYPE_STRING || is_int_type(p->keys->dtype) ||
                          is_float_type(p->keys->dtype)))
        s = kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): keys of type %s", n->name, n->op_type,
                     kiln_dtype_name(p->keys->dtype));
    if (s == KILN_OK && !(p->values->dtype == KILN_DTYPE_STRING || is_int_type(p->values->dtype) ||
                          is_float_type(p->values->dtype)))
        s = kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): values of type %s", n->name, n->op_type,
                     kiln_dtype_name(p->values->dtype));
    if (s == KILN_OK)
        s = le_default(n, p->values, &p->def);
    if (s == KILN_OK) {
        p->n = kn_tensor_count(p->keys);
        p->kind = p->keys->dtype == KILN_DTYPE_STRING ? KEY_STRING
                  : is_int_type(p->keys->dtype)      ? KEY_INT
                                                      : KEY_FLOAT;
        p->sorted = kn_malloc((size_t)(p->n ? p->n : 1) * sizeof(le_key));
        if (!p->sorted)
            s = KN_NOMEM();
    }
    if (s != KILN_OK) {
        le_free(p);
        return s;
    }
    for (int64_t i = 0; i < p->n; i++) {
        le_key *k = &p->sorted[i];
        k->index = i;
        if (p->kind == KEY_STRING) {
            const char *str = ((char *const *)p->keys->data)[i];
            k->v.s = str ? str : "";
        } else if (p->kind == KEY_INT) {
            k->v.i = kn_tensor_get_i64(p->keys, i);
        } else {
            k->v.f = kn_tensor_get_f64(p->keys, i);
        }
    }
    qsort(p->sorted, (size_t)p->n, sizeof(le_key),
          p->kind == KEY_STRING ? le_cmp_string : p->kind == KEY_INT ? le_cmp_int : le_cmp_float);
    n->params = p;
    return KILN_OK;
}

static kiln_status le_infer(kn_op_ctx *c)
{
    const le_params *p = c->params;
    KN_TRY(kn_check_arity(c, 1, 1, 1, 1));
    kiln_dtype dt = c->in[0]->dtype;
    bool ok = p->kind == KEY_STRING ? dt == KILN_DTYPE_STRING
              : p->kind == KEY_INT  ? is_int_type(dt)
                                    : is_float_type(dt);
    if (!ok)
        return kn_error(KILN_ERROR_DTYPE, "node '%s' (%s): input is %s but the keys are %s", c->node->name,
                        c->node->op_type, kiln_dtype_name(dt), kiln_dtype_name(p->keys->dtype));
    return kn_set_output(c, 0, p->values->dtype, c->in[0]->rank, c->in[0]->dims);
}

/* Index into values of the last key equal to element i of x, or -1. */
static int64_t le_find(const le_params *p, const kiln_tensor *x, int64_t i)
{
    le_key want = {.index = INT64_MAX};
    if (p->kind == KEY_STRING) {
        const char *s = ((char *const *)x->data)[i];
        want.v.s = s ? s : "";
    } else if (p->kind == KEY_INT) {
        want.v.i = kn_tensor_get_i64(x, i);
    } else {
        want.v.f = kn_tensor_get_f64(x, i);
    }
    /* first key greater than (want, INT64_MAX): its predecessor is the
     * last equal key if any */
    int64_t lo = 0, hi = p->n;
    int (*cmp)(const void *, const void *) =
        p->kind == KEY_STRING ? le_cmp_string : p->kind == KEY_INT ? le_cmp_int : le_cmp_float;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (cmp(&p->sorted[mid], &want) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return -1;
    le_key probe = p->sorted[lo - 1];
    probe.index = INT64_MAX;
    return cmp(&probe, &want) == 0 ? p->sorted[lo - 1].index : -1;
}

static kiln_status le_run(kn_op_ctx *c)
{
    const le_params *p = c->params;
    const kiln_tensor *x = c->in[0];
    int64_t n = kn_tensor_count(x);
    for (int64_t i = 0; i < n; i++) {
        int64_t k = le_find(p, x, i);
        KN_TRY(k >= 0 ? copy_elem(c->out[0], i, p->values, k) : copy_elem(c->out[0], i, p->def, 0));
    }
    return KILN_OK;
}

static const kiln_dtype le_types[] = {KILN_DTYPE_STRING, KILN_DTYPE_INT64, KILN_DTYPE_INT32, KILN_DTYPE_INT16,
                                      KILN_DTYPE_FLOAT, KILN_DTYPE_DOUBLE, KILN_DTYPE_UNDEFINED};

/* ---- TreeEnsemble (opset 5) ----------------------------------------------
 * Nodes compare one feature with a split (or test membership in a set) and
 * lead to another node or a leaf; each leaf adds its weight to one target.
 * Everything is checked at parse time (indices in range) and traversal is
 * bounded by the node count, so a cyclic tree is an error, not a hang.
 * Membership sets are listed in membership_values in node order, each
 * ended by NaN. post_transform follows onnxruntime's definitions (the
 * Python reference ignores it); PROBIT uses an exact erf^-1. */

enum { TE_LEQ, TE_LT, TE_GTE, TE_GT, TE_EQ, TE_NEQ, TE_MEMBER };
enum { TE_AVERAGE, TE_SUM, TE_MIN, TE_MAX };
enum { TE_POST_NONE, TE_POST_SOFTMAX, TE_POST_LOGISTIC, TE_POST_SOFTMAX_ZERO, TE_POST_PROBIT };

typedef struct te_params {
    int64_t n_nodes, n_leaves, n_trees, n_targets;
    int64_t aggregate, post;
    double *split;       /* per node */
    uint8_t *mode;       /* per node */
    int64_t *feature;    /* per node */
    int64_t *next[2];    /* [0] false, [1] true: node or leaf index */
    bool *is_leaf[2];    /* whether next[] names a leaf */
    bool *nan_true;      /* missing value goes to the true branch */
    int64_t *set_start, *set_len; /* MEMBER nodes: slice of members */
    double *members;
    double *weight;      /* per leaf */
    int64_t *target;     /* per leaf */
    int64_t *roots;
    int64_t max_feature;
} te_params;

static void te_free(void *params)
{
    te_params *p = params;
    if (!p)
        return;
    kn_free(p->split);
    kn_free(p->mode);
    kn_free(p->feature);
    for (int b = 0; b < 2; b++) {
        kn_free(p->next[b]);
        kn_free(p->is_leaf[b]);
    }
    kn_free(p->nan_true);
    kn_free(p->set_start);
    kn_free(p->set_len);
    kn_free(p->members);
    kn_free(p->weight);
    kn_free(p->target);
    kn_free(p->roots);
    kn_free(p);
}

static kiln_status te_required_ints(const kn_node *n, const char *name, int64_t count, const int64_t **out)
{
    size_t k;
    KN_TRY(kn_attr_get_ints(n, name, out, &k));
    if ((int64_t)k != count || (!*out && count))
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): attribute '%s' has %zu entries, expected %lld", n->name,
                        n->op_type, name, k, (long long)count);
    return KILN_OK;
}

/* A float tensor attribute as doubles (NULL, count 0 if absent). */
static kiln_status te_doubles(const kn_node *n, const char *name, double **out, int64_t *count)
{
    const kiln_tensor *t;
    KN_TRY(kn_attr_get_tensor(n, name, &t));
    *out = NULL;
    *count = 0;
    if (!t)
        return KILN_OK;
    if (!is_float_type(t->dtype))
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): attribute '%s' is %s, expected a float tensor", n->name,
                        n->op_type, name, kiln_dtype_name(t->dtype));
    int64_t k = kn_tensor_count(t);
    double *d = kn_malloc((size_t)(k ? k : 1) * sizeof(double));
    if (!d)
        return KN_NOMEM();
    for (int64_t i = 0; i < k; i++)
        d[i] = kn_tensor_get_f64(t, i);
    *out = d;
    *count = k;
    return KILN_OK;
}

static kiln_status te_parse_into(kn_node *n, te_params *p)
{
    const char *nm = n->name, *op = n->op_type;
    KN_TRY(kn_attr_get_int(n, "post_transform", TE_POST_NONE, &p->post));
    if (p->post < TE_POST_NONE || p->post > TE_POST_PROBIT)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): post_transform %lld is not 0..4", nm, op,
                        (long long)p->post);
    KN_TRY(kn_attr_get_int(n, "aggregate_function", TE_SUM, &p->aggregate));
    if (p->aggregate < TE_AVERAGE || p->aggregate > TE_MAX)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): aggregate_function %lld is not 0..3", nm, op,
                        (long long)p->aggregate);
    KN_TRY(kn_attr_require_int(n, "n_targets", &p->n_targets));
    if (p->n_targets < 1 || p->n_targets > INT32_MAX)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): n_targets %lld is out of range", nm, op,
                        (long long)p->n_targets);
    KN_TRY(te_doubles(n, "nodes_splits", &p->split, &p->n_nodes));
    const kiln_tensor *modes;
    KN_TRY(kn_attr_get_tensor(n, "nodes_modes", &modes));
    if (!modes || kn_tensor_count(modes) != p->n_nodes || !is_int_type(modes->dtype))
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): nodes_modes must be an integer tensor with one mode per "
                        "entry of nodes_splits (%lld)", nm, op, (long long)p->n_nodes);
    const int64_t *feat, *tid, *fid, *tleaf, *fleaf, *tracks, *targets, *roots;
    KN_TRY(te_required_ints(n, "nodes_featureids", p->n_nodes, &feat));
    KN_TRY(te_required_ints(n, "nodes_truenodeids", p->n_nodes, &tid));
    KN_TRY(te_required_ints(n, "nodes_falsenodeids", p->n_nodes, &fid));
    KN_TRY(te_required_ints(n, "nodes_trueleafs", p->n_nodes, &tleaf));
    KN_TRY(te_required_ints(n, "nodes_falseleafs", p->n_nodes, &fleaf));
    size_t n_tracks;
    KN_TRY(kn_attr_get_ints(n, "nodes_missing_value_tracks_true", &tracks, &n_tracks));
    if (n_tracks && (int64_t)n_tracks != p->n_nodes)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): nodes_missing_value_tracks_true has %zu entries, "
                        "expected %lld", nm, op, n_tracks, (long long)p->n_nodes);
    KN_TRY(te_doubles(n, "leaf_weights", &p->weight, &p->n_leaves));
    KN_TRY(te_required_ints(n, "leaf_targetids", p->n_leaves, &targets));
    size_t n_roots;
    KN_TRY(kn_attr_get_ints(n, "tree_roots", &roots, &n_roots));
    if (!n_roots)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): tree_roots is empty", nm, op);
    p->n_trees = (int64_t)n_roots;
    size_t nn = (size_t)(p->n_nodes ? p->n_nodes : 1), nl = (size_t)(p->n_leaves ? p->n_leaves : 1);
    p->mode = kn_malloc(nn);
    p->feature = kn_malloc(nn * sizeof(int64_t));
    p->nan_true = kn_calloc(nn, sizeof(bool));
    p->set_start = kn_calloc(nn, sizeof(int64_t));
    p->set_len = kn_calloc(nn, sizeof(int64_t));
    p->target = kn_malloc(nl * sizeof(int64_t));
    p->roots = kn_malloc(n_roots * sizeof(int64_t));
    for (int b = 0; b < 2; b++) {
        p->next[b] = kn_malloc(nn * sizeof(int64_t));
        p->is_leaf[b] = kn_malloc(nn * sizeof(bool));
        if (!p->next[b] || !p->is_leaf[b])
            return KN_NOMEM();
    }
    if (!p->mode || !p->feature || !p->nan_true || !p->set_start || !p->set_len || !p->target || !p->roots)
        return KN_NOMEM();
    for (int64_t i = 0; i < p->n_leaves; i++) {
        if (targets[i] < 0 || targets[i] >= p->n_targets)
            return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): leaf_targetids[%lld] = %lld is not below n_targets",
                            nm, op, (long long)i, (long long)targets[i]);
        p->target[i] = targets[i];
    }
    for (size_t i = 0; i < n_roots; i++) {
        if (roots[i] < 0 || roots[i] >= p->n_nodes)
            return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): tree_roots[%zu] = %lld is not a node", nm, op, i,
                            (long long)roots[i]);
        p->roots[i] = roots[i];
    }
    int64_t n_members;
    KN_TRY(te_doubles(n, "membership_values", &p->members, &n_members));
    int64_t cursor = 0;
    for (int64_t i = 0; i < p->n_nodes; i++) {
        int64_t m = kn_tensor_get_i64(modes, i);
        if (m < TE_LEQ || m > TE_MEMBER)
            return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): nodes_modes[%lld] = %lld is not 0..6", nm, op,
                            (long long)i, (long long)m);
        p->mode[i] = (uint8_t)m;
        if (feat[i] < 0)
            return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): nodes_featureids[%lld] is negative", nm, op,
                            (long long)i);
        p->feature[i] = feat[i];
        p->max_feature = KN_MAX(p->max_feature, feat[i]);
        p->nan_true[i] = n_tracks && tracks[i] != 0;
        const int64_t *ids[2] = {fid, tid}, *leafs[2] = {fleaf, tleaf};
        for (int b = 0; b < 2; b++) {
            p->is_leaf[b][i] = leafs[b][i] != 0;
            int64_t limit = p->is_leaf[b][i] ? p->n_leaves : p->n_nodes;
            if (ids[b][i] < 0 || ids[b][i] >= limit)
                return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): node %lld: %s branch %lld is not a %s", nm, op,
                                (long long)i, b ? "true" : "false", (long long)ids[b][i],
                                p->is_leaf[b][i] ? "leaf" : "node");
            p->next[b][i] = ids[b][i];
        }
        if (m == TE_MEMBER) {
            p->set_start[i] = cursor;
            while (cursor < n_members && !isnan(p->members[cursor]))
                cursor++;
            if (cursor >= n_members)
                return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): membership_values ends before the set of "
                                "node %lld (each set ends with NaN)", nm, op, (long long)i);
            p->set_len[i] = cursor - p->set_start[i];
            cursor++;
        }
    }
    return KILN_OK;
}

static kiln_status te_parse(kn_node *n)
{
    te_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s = te_parse_into(n, p);
    if (s != KILN_OK) {
        te_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

static const kiln_dtype te_types[] = {KILN_DTYPE_FLOAT, KILN_DTYPE_DOUBLE, KILN_DTYPE_FLOAT16, KILN_DTYPE_UNDEFINED};

static kiln_status te_infer(kn_op_ctx *c)
{
    const te_params *p = c->params;
    KN_TRY(kn_check_arity(c, 1, 1, 1, 1));
    const kiln_tensor *x = c->in[0];
    if (x->rank != 2)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): input must be [N, F], got rank %d", c->node->name,
                        c->node->op_type, x->rank);
    if (p->max_feature >= x->dims[1] && p->n_nodes > 0)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): feature %lld used but the input has %lld features",
                        c->node->name, c->node->op_type, (long long)p->max_feature, (long long)x->dims[1]);
    int64_t dims[2] = {x->dims[0], p->n_targets};
    return kn_set_output(c, 0, x->dtype, 2, dims);
}

static bool te_test(const te_params *p, int64_t i, double v)
{
    if (isnan(v) && p->nan_true[i])
        return true;
    double s = p->split[i];
    switch (p->mode[i]) {
    case TE_LEQ: return v <= s;
    case TE_LT: return v < s;
    case TE_GTE: return v >= s;
    case TE_GT: return v > s;
    case TE_EQ: return v == s;
    case TE_NEQ: return v != s;
    default:
        for (int64_t k = 0; k < p->set_len[i]; k++)
            if (p->members[p->set_start[i] + k] == v)
                return true;
        return false;
    }
}

/* erf^-1 by Newton's method on erf from a rough start; |x| < 1. */
static double erfinv(double x)
{
    if (x <= -1.0)
        return -INFINITY;
    if (x >= 1.0)
        return INFINITY;
    /* Winitzki's approximation (a = 0.147) to start from */
    double ln = log((1.0 - x) * (1.0 + x)), t = 2.0 / (M_PI * 0.147) + ln / 2.0;
    double y = copysign(sqrt(sqrt(t * t - ln / 0.147) - t), x);
    for (int i = 0; i < 4; i++)
        y -= (erf(y) - x) / (2.0 / sqrt(M_PI) * exp(-y * y));
    return y;
}

/* The post transforms of one row of nt targets, as onnxruntime defines
 * them: SOFTMAX_ZERO is a softmax in which zero scores stay zero. */
static void te_post(const te_params *p, kiln_tensor *y, int64_t at, int64_t nt)
{
    if (p->post == TE_POST_NONE)
        return;
    if (p->post == TE_POST_LOGISTIC || p->post == TE_POST_PROBIT) {
        for (int64_t t = 0; t < nt; t++) {
            double v = kn_tensor_get_f64(y, at + t);
            v = p->post == TE_POST_LOGISTIC ? 1.0 / (1.0 + exp(-v)) : M_SQRT2 * erfinv(2.0 * v - 1.0);
            kn_tensor_set_f64(y, at + t, v);
        }
        return;
    }
    bool zero_stays = p->post == TE_POST_SOFTMAX_ZERO;
    double mx = -INFINITY, sum = 0.0;
    for (int64_t t = 0; t < nt; t++)
        mx = KN_MAX(mx, kn_tensor_get_f64(y, at + t));
    for (int64_t t = 0; t < nt; t++) {
        double v = kn_tensor_get_f64(y, at + t);
        sum += zero_stays && v == 0.0 ? 0.0 : exp(v - mx);
    }
    for (int64_t t = 0; t < nt; t++) {
        double v = kn_tensor_get_f64(y, at + t);
        double e = zero_stays && v == 0.0 ? 0.0 : exp(v - mx);
        kn_tensor_set_f64(y, at + t, sum > 0.0 ? e / sum : 0.0);
    }
}

static kiln_status te_run(kn_op_ctx *c)
{
    const te_params *p = c->params;
    const kiln_tensor *x = c->in[0];
    kiln_tensor *y = c->out[0];
    int64_t rows = x->dims[0], feats = x->dims[1], nt = p->n_targets;
    double init = 0.0;
    if (p->aggregate == TE_MIN || p->aggregate == TE_MAX) {
        double big = x->dtype == KILN_DTYPE_DOUBLE ? DBL_MAX : x->dtype == KILN_DTYPE_FLOAT ? FLT_MAX : 65504.0;
        init = p->aggregate == TE_MIN ? big : -big;
    }
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t t = 0; t < nt; t++)
            kn_tensor_set_f64(y, r * nt + t, init);
        for (int64_t tree = 0; tree < p->n_trees; tree++) {
            int64_t node = p->roots[tree], steps = 0;
            int64_t leaf = -1;
            while (leaf < 0) {
                if (++steps > p->n_nodes)
                    return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): tree %lld has a cycle", c->node->name,
                                    c->node->op_type, (long long)tree);
                int b = te_test(p, node, kn_tensor_get_f64(x, r * feats + p->feature[node])) ? 1 : 0;
                if (p->is_leaf[b][node])
                    leaf = p->next[b][node];
                else
                    node = p->next[b][node];
            }
            int64_t at = r * nt + p->target[leaf];
            double acc = kn_tensor_get_f64(y, at), w = p->weight[leaf];
            switch (p->aggregate) {
            case TE_SUM: acc += w; break;
            case TE_AVERAGE: acc += w / (double)p->n_trees; break;
            case TE_MIN: acc = KN_MIN(acc, w); break;
            default: acc = KN_MAX(acc, w); break;
            }
            kn_tensor_set_f64(y, at, acc);
        }
        te_post(p, y, r * nt, nt);
    }
    return KILN_OK;
}

/* ---- Binarizer ----------------------------------------------------------- */

typedef struct bin_params {
    float threshold;
} bin_params;

static kiln_status bin_parse(kn_node *n)
{
    bin_params *p = kn_malloc(sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s = kn_attr_get_float(n, "threshold", 0.0f, &p->threshold);
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

static const kiln_dtype bin_types[] = {KILN_DTYPE_FLOAT, KILN_DTYPE_DOUBLE, KILN_DTYPE_INT64, KILN_DTYPE_INT32,
                                       KILN_DTYPE_UNDEFINED};

static kiln_status same_shape_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, 1, 1, 1));
    return kn_set_output(c, 0, c->in[0]->dtype, c->in[0]->rank, c->in[0]->dims);
}

static kiln_status bin_run(kn_op_ctx *c)
{
    const bin_params *p = c->params;
    const kiln_tensor *x = c->in[0];
    int64_t n = kn_tensor_count(x);
    double th = p->threshold;
    for (int64_t i = 0; i < n; i++)
        kn_tensor_set_f64(c->out[0], i, kn_tensor_get_f64(x, i) > th ? 1.0 : 0.0);
    return KILN_OK;
}

/* ---- ArrayFeatureExtractor ------------------------------------------------
 * Picks columns of the last axis: out[..., j] = x[..., y[j]] (y flattened).
 * A 1-D x gives [1, count], as in onnxruntime and the reference. */

static const kiln_dtype afe_types[] = {KILN_DTYPE_FLOAT, KILN_DTYPE_DOUBLE, KILN_DTYPE_INT64, KILN_DTYPE_INT32,
                                       KILN_DTYPE_STRING, KILN_DTYPE_UNDEFINED};

static kiln_status afe_infer(kn_op_ctx *c)
{
    static const kiln_dtype idx[] = {KILN_DTYPE_INT64, KILN_DTYPE_UNDEFINED};
    KN_TRY(kn_check_arity(c, 2, 2, 1, 1));
    KN_TRY(kn_check_dtype(c, 1, idx));
    const kiln_tensor *x = c->in[0];
    if (x->rank < 1)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): input must have at least one axis", c->node->name,
                        c->node->op_type);
    int64_t dims[KN_MAX_RANK];
    int rank = x->rank == 1 ? 2 : x->rank;
    if (x->rank == 1)
        dims[0] = 1;
    else
        memcpy(dims, x->dims, sizeof(int64_t) * (size_t)(x->rank - 1));
    dims[rank - 1] = kn_tensor_count(c->in[1]);
    return kn_set_output(c, 0, x->dtype, rank, dims);
}

static kiln_status afe_run(kn_op_ctx *c)
{
    const kiln_tensor *x = c->in[0], *y = c->in[1];
    int64_t width = x->dims[x->rank - 1], k = kn_tensor_count(y);
    int64_t rows = width ? kn_tensor_count(x) / width : 0;
    const int64_t *idx = y->data;
    for (int64_t j = 0; j < k; j++)
        if (idx[j] < 0 || idx[j] >= width)
            return kn_error(KILN_ERROR_ARGUMENT, "node '%s' (%s): index %lld is outside the last axis of %lld",
                            c->node->name, c->node->op_type, (long long)idx[j], (long long)width);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < k; j++)
            KN_TRY(copy_elem(c->out[0], r * k + j, x, r * width + idx[j]));
    return KILN_OK;
}

const kn_op kn_ops_ml[] = {
    {.domain = ML, .name = "LabelEncoder", .since_min = 2, .parse = le_parse, .free_params = le_free,
     .infer = le_infer, .run = le_run, .types = le_types},
    {.domain = ML, .name = "TreeEnsemble", .since_min = 5, .parse = te_parse, .free_params = te_free,
     .infer = te_infer, .run = te_run, .types = te_types},
    {.domain = ML, .name = "Binarizer", .since_min = 1, .parse = bin_parse, .infer = same_shape_infer,
     .run = bin_run, .types = bin_types},
    {.domain = ML, .name = "ArrayFeatureExtractor", .since_min = 1, .infer = afe_infer, .run = afe_run,
     .types = afe_types},
};
KN_FAMILY_COUNT(ml);
