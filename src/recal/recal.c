/* Recalibration sessions: a private copy of the model whose
 * BatchNormalization nodes are replaced by kiln.BatchNormStats, the passes
 * over the data each mode needs, and the aggregation of per-batch channel
 * statistics in double with Chan et al.'s pairwise merge. */
#include "recal/recal.h"

#include "onnx/onnx_import.h"
#include "runtime/runtime.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

struct kiln_recal {
    kiln_model *model;
    pthreadpool_t pool;
    kn_plan *plan;
    void *orig; /* the original model bytes, for write-back */
    size_t orig_size;
    char *path; /* input file, to refuse overwriting it; NULL for buffers */
    kiln_recal_mode mode;
    bool torch_variance;
    int input; /* index among the model inputs */
    kn_recal_layer *layers;
    int n_layers;
    int n_levels;
    uint64_t samples;
    bool finished;
};

/* ---- aggregation ---------------------------------------------------------- */

kiln_status kn_bn_accum_init(kn_bn_accum *a, int64_t channels, bool torch_variance)
{
    memset(a, 0, sizeof *a);
    a->channels = channels;
    size_t n = (size_t)(channels > 0 ? channels : 1);
    a->mean = kn_calloc(n, sizeof(double));
    a->m2 = kn_calloc(n, sizeof(double));
    if (torch_variance) {
        a->sum_bmean = kn_calloc(n, sizeof(double));
        a->sum_uvar = kn_calloc(n, sizeof(double));
    }
    if (!a->mean || !a->m2 || (torch_variance && (!a->sum_bmean || !a->sum_uvar))) {
        kn_bn_accum_clear(a);
        return KN_NOMEM();
    }
    return KILN_OK;
}

void kn_bn_accum_clear(kn_bn_accum *a)
{
    kn_free(a->mean);
    kn_free(a->m2);
    kn_free(a->sum_bmean);
    kn_free(a->sum_uvar);
    memset(a, 0, sizeof *a);
}

void kn_chan_merge(uint64_t na, double ma, double m2a, uint64_t nb, double mb, double m2b, double *m, double *m2)
{
    if (nb == 0) {
        *m = ma;
        *m2 = m2a;
        return;
    }
    if (na == 0) {
        *m = mb;
        *m2 = m2b;
        return;
    }
    double n = (double)na + (double)nb;
    double delta = mb - ma;
    *m = ma + delta * ((double)nb / n);
    *m2 = m2a + m2b + delta * delta * ((double)na * (double)nb / n);
}

void kn_bn_accum_merge(kn_bn_accum *a, uint64_t n, const double *mean, const double *m2)
{
    for (int64_t c = 0; c < a->channels; c++)
        kn_chan_merge(a->count, a->mean[c], a->m2[c], n, mean[c], m2[c], &a->mean[c], &a->m2[c]);
    a->count += n;
}

void kn_bn_accum_add_torch(kn_bn_accum *a, uint64_t n, const double *mean, const double *m2)
{
    for (int64_t c = 0; c < a->channels; c++) {
        a->sum_bmean[c] += mean[c];
        a->sum_uvar[c] += m2[c] / (double)(n - 1);
    }
    a->batches++;
}

void kn_bn_accum_merge_all(kn_bn_accum *a, const kn_bn_accum *b)
{
    kn_bn_accum_merge(a, b->count, b->mean, b->m2);
    if (a->sum_bmean && b->sum_bmean) {
        for (int64_t c = 0; c < a->channels; c++) {
            a->sum_bmean[c] += b->sum_bmean[c];
            a->sum_uvar[c] += b->sum_uvar[c];
        }
        a->batches += b->batches;
    }
}

kiln_status kn_bn_accum_result(const kn_bn_accum *a, bool torch_variance, const char *layer, float *mean, float *var)
{
    if (a->count == 0 || (torch_variance && a->batches == 0))
        return kn_error(KILN_ERROR_ARGUMENT, "layer '%s': no data was aggregated", layer);
    for (int64_t c = 0; c < a->channels; c++) {
        double m, v;
        if (torch_variance) {
            m = a->sum_bmean[c] / (double)a->batches;
            v = a->sum_uvar[c] / (double)a->batches;
        } else {
            m = a->mean[c];
            v = a->m2[c] / (double)a->count;
        }
        if (!isfinite(m) || !isfinite(v))
            return kn_error(KILN_ERROR_ARGUMENT, "layer '%s': channel %lld statistics are not finite (inputs hold NaN "
                                                 "or Inf?)",
                            layer, (long long)c);
        mean[c] = (float)m;
        var[c] = (float)(v < 0 ? 0 : v);
    }
    return KILN_OK;
}

/* ---- building the session's model ----------------------------------------- */

static void layer_clear(kn_recal_layer *l)
{
    kn_free(l->name);
    kn_free(l->mean_name);
    kn_free(l->var_name);
    kn_free(l->old_mean);
    kn_free(l->old_var);
    kn_free(l->new_mean);
    kn_free(l->new_var);
    kn_free(l->b_mean);
    kn_free(l->b_m2);
    kn_bn_accum_clear(&l->acc);
}

static const kiln_tensor *bn_param(const kn_graph *g, const kn_node *n, int i, const char *what, int64_t *channels,
                                   kiln_status *st)
{
    int v = i < n->n_in ? n->in[i] : -1;
    const kn_value *val = v >= 0 ? &g->values[v] : NULL;
    if (!val || !val->constant) {
        const kn_node *p = val && val->producer >= 0 ? &g->nodes[val->producer] : NULL;
        *st = kn_error(KILN_ERROR_UNSUPPORTED,
                       "node '%s' (BatchNormalization): %s '%s' is not an initializer%s%s%s%s; only initializer "
                       "statistics can be recalibrated (PyTorch's exporter routes identical tensors, such as "
                       "untrained all-zero means, through Identity nodes)",
                       n->name, what, val ? val->name : "(missing)", p ? " (computed by node '" : "",
                       p ? p->name : "", p ? "' " : "", p ? p->op_type : "");
        return NULL;
    }
    const kiln_tensor *t = val->constant;
    if (t->dtype != KILN_DTYPE_FLOAT || t->rank != 1) {
        *st = kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (BatchNormalization): %s '%s' must be float32[C]", n->name,
                       what, val->name);
        return NULL;
    }
    if (*channels < 0)
        *channels = t->dims[0];
    if (t->dims[0] != *channels) {
        *st = kn_error(KILN_ERROR_MODEL, "node '%s' (BatchNormalization): %s '%s' has %lld entries, expected %lld",
                       n->name, what, val->name, (long long)t->dims[0], (long long)*channels);
        return NULL;
    }
    return t;
}

/* Mean and var must be initializers read by this node only, so changing
 * them changes nothing else. */
static kiln_status check_own_initializer(const kn_graph *g, const kn_node *n, int i, const char *what)
{
    const kn_value *v = &g->values[n->in[i]];
    if (!v->is_initializer)
        return kn_error(KILN_ERROR_UNSUPPORTED,
                        "node '%s' (BatchNormalization): %s '%s' is not an initializer; only initializer statistics "
                        "can be recalibrated",
                        n->name, what, v->name);
    int uses = 0;
    for (int k = 0; k < g->n_nodes; k++) {
        const kn_node *o = &g->nodes[k];
        if (o->dead)
            continue;
        for (int j = 0; j < o->n_in; j++)
            if (o->in[j] == n->in[i])
                uses++;
    }
    if (uses > 1 || v->is_graph_output)
        return kn_error(KILN_ERROR_UNSUPPORTED,
                        "node '%s' (BatchNormalization): %s initializer '%s' is shared (%d uses%s); "
                        "recalibrating it would change other nodes",
                        n->name, what, v->name, uses, v->is_graph_output ? ", graph output" : "");
    return KILN_OK;
}

static kiln_status make_layer(kn_graph *g, int index, bool torch_variance, kn_recal_layer *l)
{
    kn_node *n = &g->nodes[index];
    if (n->n_in != 5 || n->in[0] < 0)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (BatchNormalization): expected 5 inputs, got %d", n->name, n->n_in);
    int64_t spatial = 1, training = 0;
    const kn_attr *a = kn_node_attr(n, "spatial");
    if (a && a->type == KN_ATTR_INT)
        spatial = a->i;
    a = kn_node_attr(n, "training_mode");
    if (a && a->type == KN_ATTR_INT)
        training = a->i;
    if (spatial == 0)
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (BatchNormalization): spatial=0 is not supported", n->name);
    if (training != 0)
        return kn_error(KILN_ERROR_UNSUPPORTED,
                        "node '%s' (BatchNormalization): training_mode=1; only inference-mode BN has population "
                        "statistics to recalibrate",
                        n->name);
    for (int i = 1; i < n->n_out; i++) {
        int v = n->out[i];
        if (v >= 0 && (g->values[v].n_consumers > 0 || g->values[v].is_graph_output))
            return kn_error(KILN_ERROR_UNSUPPORTED,
                            "node '%s' (BatchNormalization): optional output %d is used; not supported", n->name, i);
    }
    kiln_status st = KILN_OK;
    int64_t channels = -1;
    const kiln_tensor *mean = bn_param(g, n, 3, "mean", &channels, &st);
    const kiln_tensor *var = mean ? bn_param(g, n, 4, "var", &channels, &st) : NULL;
    /* scale and B may be computed (torch's exporter routes duplicate
     * tensors through Identity nodes); the op checks them at run time. */
    if (!var)
        return st;
    if (n->in[3] == n->in[4])
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (BatchNormalization): mean and var are the same initializer",
                        n->name);
    KN_TRY(check_own_initializer(g, n, 3, "mean"));
    KN_TRY(check_own_initializer(g, n, 4, "var"));
    float eps = 1e-5f;
    a = kn_node_attr(n, "epsilon");
    if (a && a->type == KN_ATTR_FLOAT)
        eps = a->f;

    memset(l, 0, sizeof *l);
    l->channels = channels;
    l->epsilon = eps;
    l->torch_variance = torch_variance;
    size_t cb = (size_t)(channels ? channels : 1);
    l->name = kn_strdup(n->name);
    l->mean_name = kn_strdup(g->values[n->in[3]].name);
    l->var_name = kn_strdup(g->values[n->in[4]].name);
    l->old_mean = kn_malloc(cb * sizeof(float));
    l->old_var = kn_malloc(cb * sizeof(float));
    l->new_mean = kn_calloc(cb, sizeof(float));
    l->new_var = kn_calloc(cb, sizeof(float));
    l->b_mean = kn_calloc(cb, sizeof(double));
    l->b_m2 = kn_calloc(cb, sizeof(double));
    if (!l->name || !l->mean_name || !l->var_name || !l->old_mean || !l->old_var || !l->new_mean || !l->new_var ||
        !l->b_mean || !l->b_m2 || kn_bn_accum_init(&l->acc, channels, torch_variance) != KILN_OK) {
        layer_clear(l);
        return KN_NOMEM();
    }
    memcpy(l->old_mean, mean->data, (size_t)channels * sizeof(float));
    memcpy(l->old_var, var->data, (size_t)channels * sizeof(float));
    return KILN_OK;
}

/* Turn node index into a BatchNormStats node bound to layer l. */
static kiln_status replace_node(kn_graph *g, int index, kn_recal_layer *l)
{
    kn_node *n = &g->nodes[index];
    kn_bn_stats_params *p = kn_calloc(1, sizeof *p);
    char *type = kn_strdup(kn_recal_bn_stats_op.name), *dom = kn_strdup(kn_recal_bn_stats_op.domain);
    if (!p || !type || !dom) {
        kn_free(p);
        kn_free(type);
        kn_free(dom);
        return KN_NOMEM();
    }
    if (n->params) {
        if (n->op && n->op->free_params)
            n->op->free_params(n->params);
        else
            kn_free(n->params);
    }
    p->layer = l;
    kn_free(n->op_type);
    kn_free(n->domain);
    n->op_type = type;
    n->domain = dom;
    n->op = &kn_recal_bn_stats_op;
    n->params = p;
    /* Unused optional outputs (training-mode running stats) are dropped. */
    for (int i = 1; i < n->n_out; i++)
        n->out[i] = -1;
    return KILN_OK;
}

static bool is_bn(const kn_node *n)
{
    return !n->dead && n->domain[0] == 0 && strcmp(n->op_type, "BatchNormalization") == 0;
}

static kiln_status collect_layers(kiln_recal *r, kn_graph *g)
{
    int count = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (is_bn(&g->nodes[i]))
            count++;
    if (count == 0)
        return kn_error(KILN_ERROR_UNSUPPORTED,
                        "the model has no BatchNormalization nodes (already folded into the convolutions?); "
                        "nothing to recalibrate");
    r->layers = kn_calloc((size_t)count, sizeof *r->layers);
    if (!r->layers)
        return KN_NOMEM();
    kn_graph_build_uses(g);
    /* Nodes are in topological order after kn_graph_compact. */
    for (int i = 0; i < g->n_nodes; i++) {
        if (!is_bn(&g->nodes[i]))
            continue;
        kn_recal_layer *l = &r->layers[r->n_layers];
        KN_TRY(make_layer(g, i, r->torch_variance, l));
        r->n_layers++;
        KN_TRY(replace_node(g, i, l));
    }
    kn_graph_build_uses(g);
    return KILN_OK;
}

/* BN depth level: 1 + the deepest BN level upstream. */
static kiln_status assign_levels(kiln_recal *r, const kn_graph *g)
{
    int *order = kn_malloc((size_t)(g->n_nodes ? g->n_nodes : 1) * sizeof(int));
    int *depth = kn_calloc((size_t)(g->n_values ? g->n_values : 1), sizeof(int));
    kiln_status st = order && depth ? KILN_OK : KN_NOMEM();
    int count = 0;
    if (st == KILN_OK)
        st = kn_graph_topo_order(g, order, &count);
    r->n_levels = 0;
    for (int k = 0; st == KILN_OK && k < count; k++) {
        const kn_node *n = &g->nodes[order[k]];
        int d = 0;
        for (int i = 0; i < n->n_in; i++)
            if (n->in[i] >= 0 && depth[n->in[i]] > d)
                d = depth[n->in[i]];
        if (n->op == &kn_recal_bn_stats_op) {
            kn_recal_layer *l = ((const kn_bn_stats_params *)n->params)->layer;
            l->level = ++d;
            if (d > r->n_levels)
                r->n_levels = d;
        }
        for (int i = 0; i < n->n_out; i++)
            if (n->out[i] >= 0)
                depth[n->out[i]] = d;
    }
    kn_free(order);
    kn_free(depth);
    return st;
}

static kiln_status check_all_supported(const kn_graph *g)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const kn_node *n = &g->nodes[i];
        if (!n->dead && !n->op)
            return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s': op %s%s%s (opset %d) is not supported", n->name,
                            n->domain, n->domain[0] ? "." : "", n->op_type, n->opset);
    }
    return KILN_OK;
}

/* The load pipeline of kiln_model_load, with BN nodes swapped for
 * BatchNormStats before the passes run and BN folding disabled. */
static kiln_status build_model(kiln_recal *r, const kiln_recal_config *cfg, const char *base_dir)
{
    kiln_model *m = kn_calloc(1, sizeof *m);
    if (!m)
        return KN_NOMEM();
    r->model = m;
    kn_options_defaults(&m->options);
    m->options.threads = cfg->threads;
    m->options.disabled[0] = kn_strdup("fuse-bn");
    if (!m->options.disabled[0])
        return KN_NOMEM();
    m->options.n_disabled = 1;

    kn_model_file mf;
    memset(&mf, 0, sizeof mf);
    KN_TRY(kn_onnx_import(r->orig, r->orig_size, base_dir, &mf));
    m->graph = mf.graph;
    mf.graph = NULL;
    kn_model_file_clear(&mf);
    kn_graph *g = m->graph;
    for (int i = 0; i < g->n_outputs; i++)
        g->values[g->outputs[i]].is_graph_output = true;
    /* Exported models often pin the batch dimension to 1; calibration
     * batches are larger, so the session's copy leaves it open. */
    for (int i = 0; i < g->n_inputs; i++) {
        kn_value *v = &g->values[g->inputs[i]];
        if (v->rank >= 1 && !v->dims[0].symbol) {
            v->dims[0].symbol = kn_strdup("N");
            if (!v->dims[0].symbol)
                return KN_NOMEM();
            v->dims[0].value = -1;
        }
    }
    KN_TRY(kn_graph_compact(g));
    char *unsupported = NULL;
    KN_TRY(kn_graph_resolve_ops(g, true, &unsupported));
    kn_free(unsupported);
    KN_TRY(collect_layers(r, g));
    KN_TRY(check_all_supported(g));
    KN_TRY(kn_graph_optimize(g, &m->options));
    KN_TRY(check_all_supported(g));
    m->isa = kn_cpu_isa(m->options.isa);
    for (int i = 0; i < g->n_nodes; i++) {
        kn_node *n = &g->nodes[i];
        if (!n->dead && n->op && n->op->finalize)
            KN_TRY(n->op->finalize(g, n, m->isa));
    }
    KN_TRY(kn_model_io_info(g, g->inputs, g->n_inputs, &m->inputs));
    m->n_inputs = (size_t)g->n_inputs;
    KN_TRY(kn_model_io_info(g, g->outputs, g->n_outputs, &m->outputs));
    m->n_outputs = (size_t)g->n_outputs;
    m->threads = m->options.threads > 0 ? m->options.threads : kn_cpu_available();
    return assign_levels(r, g);
}

static kiln_status pick_input(kiln_recal *r, const char *name)
{
    const kiln_model *m = r->model;
    if (m->n_inputs == 0)
        return kn_error(KILN_ERROR_MODEL, "the model has no inputs to feed");
    if (m->n_inputs > 1) {
        char list[256] = "";
        for (size_t i = 0; i < m->n_inputs; i++) {
            size_t len = strlen(list);
            snprintf(list + len, sizeof list - len, "%s'%s'", i ? ", " : "", m->inputs[i].info.name);
        }
        return kn_error(KILN_ERROR_UNSUPPORTED, "the model has %zu inputs (%s); recalibration feeds exactly one",
                        m->n_inputs, list);
    }
    if (name && strcmp(name, m->inputs[0].info.name) != 0)
        return kn_error(KILN_ERROR_ARGUMENT, "unknown input '%s' (the model's input is '%s')", name,
                        m->inputs[0].info.name);
    r->input = 0;
    return KILN_OK;
}

/* ---- public API -------------------------------------------------------------- */

KILN_API void kiln_recal_config_init(kiln_recal_config *c)
{
    if (!c)
        return;
    memset(c, 0, sizeof *c);
    c->struct_size = sizeof *c;
    c->mode = KILN_RECAL_TRAIN;
    c->variance = KILN_RECAL_VARIANCE_POOLED;
}

KILN_API void kiln_recal_release(kiln_recal *r)
{
    if (!r)
        return;
    if (r->model)
        kn_plan_free(r->plan, r->model->graph);
    kiln_model_release(r->model);
    if (r->pool)
        pthreadpool_destroy(r->pool);
    for (int i = 0; i < r->n_layers; i++)
        layer_clear(&r->layers[i]);
    kn_free(r->layers);
    kn_free(r->orig);
    kn_free(r->path);
    kn_free(r);
}

static kiln_status create(void *bytes, size_t size, const char *base_dir, const char *path,
                          const kiln_recal_config *config, kiln_recal **out)
{
    kiln_recal_config cfg;
    kiln_recal_config_init(&cfg);
    if (config) {
        if (config->struct_size < sizeof cfg) {
            kn_free(bytes);
            return kn_error(KILN_ERROR_ARGUMENT, "kiln_recal_config: struct_size %zu is too small; use "
                                                 "kiln_recal_config_init", config->struct_size);
        }
        cfg = *config;
    }
    if (cfg.mode != KILN_RECAL_TRAIN && cfg.mode != KILN_RECAL_EXACT) {
        kn_free(bytes);
        return kn_error(KILN_ERROR_ARGUMENT, "unknown recalibration mode %d", (int)cfg.mode);
    }
    if (cfg.variance != KILN_RECAL_VARIANCE_POOLED && cfg.variance != KILN_RECAL_VARIANCE_TORCH) {
        kn_free(bytes);
        return kn_error(KILN_ERROR_ARGUMENT, "unknown variance mode %d", (int)cfg.variance);
    }
    if (cfg.mode == KILN_RECAL_EXACT && cfg.variance == KILN_RECAL_VARIANCE_TORCH) {
        kn_free(bytes);
        return kn_error(KILN_ERROR_ARGUMENT, "torch variance applies to train mode only; exact mode stores the "
                                             "biased variance of the deployed model");
    }
    if (cfg.threads < 0) {
        kn_free(bytes);
        return kn_error(KILN_ERROR_ARGUMENT, "threads must be >= 0, got %d", cfg.threads);
    }
    kiln_recal *r = kn_calloc(1, sizeof *r);
    if (!r) {
        kn_free(bytes);
        return KN_NOMEM();
    }
    r->orig = bytes;
    r->orig_size = size;
    r->mode = cfg.mode;
    r->torch_variance = cfg.variance == KILN_RECAL_VARIANCE_TORCH;
    kiln_status st = KILN_OK;
    if (path && !(r->path = kn_strdup(path)))
        st = KN_NOMEM();
    if (st == KILN_OK)
        st = build_model(r, &cfg, base_dir);
    if (st == KILN_OK)
        st = pick_input(r, cfg.input_name);
    if (st == KILN_OK && r->model->threads > 1) {
        r->pool = pthreadpool_create((size_t)r->model->threads);
        if (!r->pool)
            st = kn_error(KILN_ERROR_NOMEM, "cannot create a pool of %d threads", r->model->threads);
    }
    if (st != KILN_OK) {
        kiln_recal_release(r);
        return st;
    }
    *out = r;
    return KILN_OK;
}

KILN_API kiln_status kiln_recal_create_buffer(const void *data, size_t size, const char *base_dir,
                                              const kiln_recal_config *config, kiln_recal **out)
{
    if (!data || !out)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_recal_create_buffer: NULL argument");
    void *copy = kn_malloc(size ? size : 1);
    if (!copy)
        return KN_NOMEM();
    memcpy(copy, data, size);
    return create(copy, size, base_dir, NULL, config, out);
}

KILN_API kiln_status kiln_recal_create(const char *path, const kiln_recal_config *config, kiln_recal **out)
{
    if (!path || !out)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_recal_create: NULL argument");
    void *data = NULL;
    size_t size = 0;
    KN_TRY(kn_read_file(path, 0, &data, &size));
    char *dir = kn_strdup(path);
    if (!dir) {
        kn_free(data);
        return KN_NOMEM();
    }
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[slash == dir ? 1 : 0] = 0;
    else
        strcpy(dir, ".");
    kiln_status st = create(data, size, dir, path, config, out);
    kn_free(dir);
    if (st != KILN_OK)
        kn_error_prefix(st, "%s", path);
    return st;
}

KILN_API size_t kiln_recal_pass_count(const kiln_recal *r)
{
    if (!r)
        return 0;
    return r->mode == KILN_RECAL_EXACT ? (size_t)r->n_levels : 1;
}

KILN_API uint64_t kiln_recal_sample_count(const kiln_recal *r)
{
    return r ? r->samples : 0;
}

static kiln_status run_batch(kiln_recal *r, const kiln_tensor *batch)
{
    const kiln_model *m = r->model;
    if (batch->rank < 1 || batch->dims[0] < 1)
        return kn_error(KILN_ERROR_SHAPE, "batch has no samples");
    const kiln_tensor *ins[1] = {batch};
    if (r->plan && !kn_plan_matches(r->plan, ins)) {
        kn_plan_free(r->plan, m->graph);
        r->plan = NULL;
    }
    if (!r->plan)
        KN_TRY(kn_plan_build(m, ins, r->pool, &r->plan));
    kiln_status st = kn_plan_run(r->plan, m, ins, r->pool, NULL);
    kn_plan_release_dynamic(r->plan);
    return st;
}

static void set_actions(kiln_recal *r, int pass)
{
    for (int i = 0; i < r->n_layers; i++) {
        kn_recal_layer *l = &r->layers[i];
        if (r->mode == KILN_RECAL_TRAIN)
            l->action = KN_BN_BATCH_ACCUM;
        else if (l->level < pass)
            l->action = KN_BN_NEW;
        else if (l->level == pass)
            l->action = KN_BN_OLD_ACCUM;
        else
            l->action = KN_BN_OLD;
    }
}

KILN_API kiln_status kiln_recal_feed(kiln_recal *r, const kiln_tensor *batch)
{
    if (!r || !batch)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_recal_feed: NULL argument");
    if (r->mode != KILN_RECAL_TRAIN)
        return kn_error(KILN_ERROR_ARGUMENT, "exact mode needs one pass over the data per BN level; use "
                                             "kiln_recal_run with a rewindable source");
    if (r->finished)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_recal_feed: the session is already finished");
    set_actions(r, 1);
    KN_TRY(run_batch(r, batch));
    r->samples += (uint64_t)batch->dims[0];
    return KILN_OK;
}

static kiln_status finish_layer(kn_recal_layer *l)
{
    KN_TRY(kn_bn_accum_result(&l->acc, l->torch_variance, l->name, l->new_mean, l->new_var));
    l->has_new = true;
    return KILN_OK;
}

KILN_API kiln_status kiln_recal_finish(kiln_recal *r)
{
    if (!r)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_recal_finish: NULL argument");
    if (r->finished)
        return KILN_OK;
    if (r->mode != KILN_RECAL_TRAIN)
        return kn_error(KILN_ERROR_ARGUMENT, "exact mode finishes in kiln_recal_run");
    for (int i = 0; i < r->n_layers; i++)
        KN_TRY(finish_layer(&r->layers[i]));
    r->finished = true;
    return KILN_OK;
}

static kiln_status run_pass(kiln_recal *r, int pass, kiln_recal_next_fn next, void *user, uint64_t *samples)
{
    set_actions(r, pass);
    *samples = 0;
    for (int rewind = 1;; rewind = 0) {
        kiln_tensor *batch = NULL;
        kiln_status st = next(user, rewind, &batch);
        if (st != KILN_OK)
            return st;
        if (!batch)
            return KILN_OK;
        st = run_batch(r, batch);
        if (st == KILN_OK)
            *samples += (uint64_t)batch->dims[0];
        kn_tensor_free(batch);
        if (st != KILN_OK)
            return st;
    }
}

KILN_API kiln_status kiln_recal_run(kiln_recal *r, kiln_recal_next_fn next, void *user)
{
    if (!r || !next)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_recal_run: NULL argument");
    if (r->finished)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_recal_run: the session is already finished");
    int passes = (int)kiln_recal_pass_count(r);
    uint64_t first = 0;
    for (int pass = 1; pass <= passes; pass++) {
        uint64_t samples = 0;
        KN_TRY(run_pass(r, pass, next, user, &samples));
        if (pass == 1)
            first = samples;
        if (samples == 0 && r->samples == 0)
            return kn_error(KILN_ERROR_ARGUMENT, "the data source gave no samples");
        if (samples != first)
            return kn_error(KILN_ERROR_ARGUMENT,
                            "the data source gave %llu samples in pass 1 but %llu in pass %d; exact mode needs "
                            "the same data in every pass",
                            (unsigned long long)first, (unsigned long long)samples, pass);
        if (r->mode == KILN_RECAL_EXACT)
            for (int i = 0; i < r->n_layers; i++)
                if (r->layers[i].level == pass)
                    KN_TRY(finish_layer(&r->layers[i]));
    }
    r->samples += first;
    if (r->mode == KILN_RECAL_EXACT) {
        r->finished = true;
        return KILN_OK;
    }
    return kiln_recal_finish(r);
}

KILN_API size_t kiln_recal_layer_count(const kiln_recal *r)
{
    return r ? (size_t)r->n_layers : 0;
}

KILN_API kiln_status kiln_recal_layer_get(const kiln_recal *r, size_t index, kiln_recal_layer *out)
{
    if (!r || !out)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_recal_layer_get: NULL argument");
    if (index >= (size_t)r->n_layers)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_recal_layer_get: index %zu out of range (%d layers)", index,
                        r->n_layers);
    const kn_recal_layer *l = &r->layers[index];
    kiln_recal_layer o;
    memset(&o, 0, sizeof o);
    o.name = l->name;
    o.mean_name = l->mean_name;
    o.var_name = l->var_name;
    o.channels = l->channels;
    o.level = l->level;
    o.epsilon = l->epsilon;
    o.count = l->acc.count;
    o.old_mean = l->old_mean;
    o.old_var = l->old_var;
    o.new_mean = l->has_new ? l->new_mean : NULL;
    o.new_var = l->has_new ? l->new_var : NULL;
    *out = o;
    return KILN_OK;
}

KILN_API kiln_status kiln_recal_write_buffer(kiln_recal *r, void **data, size_t *size)
{
    if (!r || !data || !size)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_recal_write_buffer: NULL argument");
    if (!r->finished)
        return kn_error(KILN_ERROR_ARGUMENT, "no new statistics yet: feed data and finish the session first");
    kn_stat_update *u = kn_calloc((size_t)r->n_layers * 2, sizeof *u);
    if (!u)
        return KN_NOMEM();
    for (int i = 0; i < r->n_layers; i++) {
        const kn_recal_layer *l = &r->layers[i];
        u[2 * i] = (kn_stat_update){l->name, l->mean_name, l->new_mean, l->channels};
        u[2 * i + 1] = (kn_stat_update){l->name, l->var_name, l->new_var, l->channels};
    }
    kiln_status st = kn_recal_writeback(r->orig, r->orig_size, u, r->n_layers * 2, data, size);
    kn_free(u);
    return st;
}

KILN_API void kiln_recal_free_buffer(void *data)
{
    kn_free(data);
}

static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

KILN_API kiln_status kiln_recal_write(kiln_recal *r, const char *path, int in_place)
{
    if (!r || !path)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_recal_write: NULL argument");
    if (r->path && !in_place && (strcmp(r->path, path) == 0 || same_file(r->path, path)))
        return kn_error(KILN_ERROR_ARGUMENT, "refusing to overwrite the input model %s (ask for in-place writing)",
                        path);
    void *data = NULL;
    size_t size = 0;
    KN_TRY(kiln_recal_write_buffer(r, &data, &size));
    kn_chunk chunk = {data, size};
    kiln_status st = kn_write_file_atomic(path, &chunk, 1);
    kn_free(data);
    return st;
}

KILN_API kiln_status kiln_recal_emit_stats(const kiln_recal *r, const char *path)
{
    if (!r || !path)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_recal_emit_stats: NULL argument");
    if (r->mode != KILN_RECAL_TRAIN)
        return kn_error(KILN_ERROR_ARGUMENT, "partial statistics are for train mode; exact mode needs one merge "
                                             "round per BN level (see docs/recalibration.md)");
    void *data = NULL;
    size_t size = 0;
    KN_TRY(kn_kstats_encode(kn_recal_fingerprint(r->layers, r->n_layers), r->torch_variance, r->layers, r->n_layers,
                            &data, &size));
    kn_chunk chunk = {data, size};
    kiln_status st = kn_write_file_atomic(path, &chunk, 1);
    kn_free(data);
    return st;
}

KILN_API kiln_status kiln_recal_merge_stats(kiln_recal *r, const char *path)
{
    if (!r || !path)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_recal_merge_stats: NULL argument");
    if (r->mode != KILN_RECAL_TRAIN)
        return kn_error(KILN_ERROR_ARGUMENT, "partial statistics are for train mode");
    if (r->finished)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_recal_merge_stats: the session is already finished");
    void *data = NULL;
    size_t size = 0;
    KN_TRY(kn_read_file(path, (size_t)1 << 31, &data, &size));
    kiln_status st = kn_kstats_merge(data, size, path, kn_recal_fingerprint(r->layers, r->n_layers),
                                     r->torch_variance, r->layers, r->n_layers);
    kn_free(data);
    return st;
}
