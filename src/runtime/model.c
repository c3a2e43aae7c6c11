/* kiln_model: load bytes, build the IR, resolve ops, optimize; then the
 * model is immutable and any number of contexts may run it. */
#include "graph/passes.h"
#include "graph/scope.h"
#include "onnx/onnx_export.h"
#include "onnx/onnx_import.h"
#include "runtime/runtime.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static void free_stats(kn_op_tally *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        kn_free(s[i].domain);
        kn_free(s[i].op_type);
    }
    kn_free(s);
}

KILN_API void kiln_model_release(kiln_model *m)
{
    if (!m)
        return;
    kn_graph_free(m->graph);
    kn_free(m->producer_name);
    kn_free(m->producer_version);
    kn_free(m->domain);
    kn_free(m->doc_string);
    kn_free(m->opset_domains);
    kn_free(m->opset_versions);
    kn_free(m->inputs);
    kn_free(m->outputs);
    for (int i = 0; i < 2; i++)
        free_stats(m->stats[i], m->n_stats[i]);
    kn_free(m->unsupported);
    for (int i = 0; i < m->options.n_disabled; i++)
        kn_free(m->options.disabled[i]);
    kn_free(m);
}

static kiln_status op_histogram(const kn_graph *g, kn_op_tally **out, size_t *count)
{
    kn_op_tally *s = NULL;
    size_t n = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const kn_node *node = &g->nodes[i];
        if (node->dead)
            continue;
        size_t k = 0;
        while (k < n && !(strcmp(s[k].op_type, node->op_type) == 0 && strcmp(s[k].domain, node->domain) == 0))
            k++;
        if (k == n) {
            kn_op_tally *ns = kn_realloc(s, (n + 1) * sizeof *ns);
            if (!ns) {
                free_stats(s, n);
                return KN_NOMEM();
            }
            s = ns;
            s[n].domain = kn_strdup(node->domain);
            s[n].op_type = kn_strdup(node->op_type);
            s[n].count = 0;
            s[n].supported = 1;
            n++;
            if (!s[k].domain || !s[k].op_type) {
                free_stats(s, n);
                return KN_NOMEM();
            }
        }
        s[k].count++;
        if (!node->op)
            s[k].supported = 0;
    }
    *out = s;
    *count = n;
    return KILN_OK;
}

kiln_status kn_model_io_info(const kn_graph *g, const int *values, int n, kn_io_info **out)
{
    kn_io_info *io = kn_calloc((size_t)(n ? n : 1), sizeof *io);
    if (!io)
        return KN_NOMEM();
    for (int i = 0; i < n; i++) {
        const kn_value *v = &g->values[values[i]];
        io[i].value = values[i];
        io[i].info.name = v->name;
        /* sequences and optionals: the kind says it (kiln_model_input_kind) */
        io[i].info.dtype = kn_dtype_is_container(v->dtype) ? KILN_DTYPE_UNDEFINED : v->dtype;
        io[i].info.rank = v->rank;
        for (int d = 0; d < v->rank && d < KN_MAX_RANK; d++) {
            io[i].dims[d] = v->dims[d].symbol ? -1 : v->dims[d].value;
            io[i].dim_names[d] = v->dims[d].symbol;
        }
    }
    *out = io;
    return KILN_OK;
}

/* After a pass rewrote nodes (MatMul -> Gemm, Conv -> kiln.FusedConv, ...):
 * look the rewritten ones up and parse them; nodes unsupported before stay
 * listed in the model. */
static kiln_status reresolve(kn_graph *g)
{
    char *unsupported = NULL;
    kiln_status s = kn_graph_resolve_ops(g, true, &unsupported);
    kn_free(unsupported);
    return s;
}

kiln_status kn_graph_optimize(kn_graph *g, const struct kiln_options *o)
{
    if (o->opt_level < 1)
        return KILN_OK;
    for (int round = 0; round < 4; round++) {
        bool any = false, changed = false;
        if (kn_options_pass_enabled(o, "eliminate")) {
            KN_TRY(kn_pass_eliminate(g, &changed));
            any |= changed;
        }
        if (kn_options_pass_enabled(o, "constant-folding")) {
            KN_TRY(kn_pass_const_fold(g, &changed));
            any |= changed;
        }
        if (kn_options_pass_enabled(o, "fuse-bn")) {
            KN_TRY(kn_pass_fuse_bn(g, &changed));
            if (changed)
                KN_TRY(reresolve(g));
            any |= changed;
        }
        if (!any)
            break;
    }
    if (o->opt_level >= 2 && kn_options_pass_enabled(o, "fuse-epilogue")) {
        bool changed = false;
        KN_TRY(kn_pass_fuse_epilogue(g, &changed));
        if (changed)
            KN_TRY(reresolve(g));
    }
    return KILN_OK;
}

static kiln_status copy_options(struct kiln_options *dst, const kiln_options *src)
{
    kn_options_defaults(dst);
    if (!src)
        return KILN_OK;
    *dst = *src;
    dst->n_disabled = 0;
    for (int i = 0; i < src->n_disabled; i++) {
        dst->disabled[i] = kn_strdup(src->disabled[i]);
        if (!dst->disabled[i])
            return KN_NOMEM();
        dst->n_disabled++;
    }
    return KILN_OK;
}

/* Initializers are bounded by the model bytes, except external data. */
static kiln_status check_initializers(const kn_graph *g, const struct kiln_options *o)
{
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].constant)
            KN_TRY(kn_limit_tensor(o, NULL, g->values[v].name, g->values[v].constant));
    return KILN_OK;
}

static kiln_status check_model_bytes(const struct kiln_options *o, uint64_t size)
{
    uint64_t max = o ? o->limits[KILN_LIMIT_MODEL_BYTES] : 0;
    if (max && size > max)
        return kn_error(KILN_ERROR_LIMIT, "model is %llu bytes, above the limit of %llu (%s)",
                        (unsigned long long)size, (unsigned long long)max, kn_limit_name(KILN_LIMIT_MODEL_BYTES));
    return KILN_OK;
}

/* The blocked layout pays where its vector kernels run (AVX2 or
 * AVX-512); level 3 also takes it on other CPUs (its portable kernels:
 * slower there, but the same results, which is what tests on such machines
 * need). */
static kiln_status blocked_layout(kn_graph *g, const struct kiln_options *o, kn_isa_level isa)
{
    if (o->opt_level < 2 || !kn_options_pass_enabled(o, "nchwc") || (isa < KN_ISA_AVX2 && o->opt_level < 3))
        return KILN_OK;
    bool changed = false;
    KN_TRY(kn_pass_nchwc(g, &changed));
    return changed ? reresolve(g) : KILN_OK;
}

static kiln_status build_model(kiln_model *m, kn_model_file *mf)
{
    m->graph = mf->graph;
    mf->graph = NULL;
    m->ir_version = mf->ir_version;
    m->model_version = mf->model_version;
    m->producer_name = mf->producer_name;
    m->producer_version = mf->producer_version;
    m->domain = mf->domain;
    m->doc_string = mf->doc_string;
    mf->producer_name = mf->producer_version = mf->domain = mf->doc_string = NULL;
    m->param_count = mf->param_count;
    m->param_bytes = mf->param_bytes;
    m->node_count = mf->node_count;

    kn_graph *g = m->graph;
    m->opset_count = (size_t)g->n_opsets;
    m->opset_domains = kn_calloc(m->opset_count ? m->opset_count : 1, sizeof(char *));
    m->opset_versions = kn_calloc(m->opset_count ? m->opset_count : 1, sizeof(int64_t));
    if (!m->opset_domains || !m->opset_versions)
        return KN_NOMEM();
    for (size_t i = 0; i < m->opset_count; i++) {
        m->opset_domains[i] = g->opsets[i].domain;
        m->opset_versions[i] = g->opsets[i].version;
    }
    for (int i = 0; i < g->n_outputs; i++)
        g->values[g->outputs[i]].is_graph_output = true;

    KN_TRY(check_initializers(g, &m->options));
    KN_TRY(kn_graph_compact(g));
    KN_TRY(kn_graph_resolve_ops(g, m->options.allow_unsupported != 0, &m->unsupported));
    KN_TRY(op_histogram(g, &m->stats[0], &m->n_stats[0]));
    KN_TRY(kn_graph_optimize(g, &m->options));
    m->isa = kn_cpu_isa(m->options.isa);
    KN_TRY(blocked_layout(g, &m->options, m->isa));
    KN_TRY(kn_graph_restore_scope_names(g));
    KN_TRY(op_histogram(g, &m->stats[1], &m->n_stats[1]));
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
    return KILN_OK;
}

static const char *const isa_names[] = {"generic", "avx2", "avx512"};

/* What the host's log hears about a loaded model. */
static void log_loaded(const kiln_model *m)
{
    if (!kn_log_enabled(KILN_LOG_WARNING))
        return;
    if (m->unsupported)
        kn_log(KILN_LOG_WARNING, "model loaded with unsupported ops: %s", m->unsupported);
    size_t live = 0;
    for (int i = 0; i < m->graph->n_nodes; i++)
        live += !m->graph->nodes[i].dead;
    kn_log(KILN_LOG_INFO, "model loaded: %zu nodes, %zu after optimization (level %d), %lld parameters, ISA %s, %d threads",
           m->node_count, live, m->options.opt_level, (long long)m->param_count,
           isa_names[(unsigned)m->isa <= 2 ? (unsigned)m->isa : 0], m->threads);
    for (int i = 0; i < m->graph->n_log; i++)
        kn_log(KILN_LOG_DEBUG, "%s", m->graph->log[i]);
}

static kiln_status load(const void *data, size_t size, void (*release)(void *), void *release_arg,
                        const char *base_dir, const kiln_options *options, kiln_model **out)
{
    kiln_model *m = kn_calloc(1, sizeof *m);
    if (!m)
        return KN_NOMEM();
    kiln_status s = copy_options(&m->options, options);
    kn_model_file mf;
    memset(&mf, 0, sizeof mf);
    /* Constant folding during the optimization passes evaluates nodes. */
    const struct kiln_options *outer = kn_limits_enter(&m->options);
    if (s == KILN_OK)
        s = kn_onnx_import_release(data, size, base_dir, release, release_arg, &mf);
    else if (release)
        release(release_arg);
    if (s == KILN_OK)
        s = build_model(m, &mf);
    kn_limits_leave(outer);
    kn_model_file_clear(&mf);
    if (s != KILN_OK) {
        kiln_model_release(m);
        return s;
    }
    log_loaded(m);
    *out = m;
    return KILN_OK;
}

KILN_API kiln_status kiln_model_load_buffer(const void *data, size_t size, const char *base_dir,
                                            const kiln_options *options, kiln_model **out)
{
    if (!data || !out)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_model_load_buffer: NULL argument");
    kiln_status s = check_model_bytes(options, size);
    if (s == KILN_OK)
        s = load(data, size, NULL, NULL, base_dir, options, out);
    if (s != KILN_OK)
        kn_log(KILN_LOG_ERROR, "loading a model from memory failed: %s", kn_error_message());
    return s;
}

/* The file's bytes are needed only until protobuf decoding is done. */
static void free_file_bytes(void *arg)
{
    kn_file_release(arg);
}

KILN_API kiln_status kiln_model_load(const char *path, const kiln_options *options, kiln_model **out)
{
    if (!path || !out)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_model_load: NULL argument");
    kn_file_bytes file;
    /* Refuse an oversized file before reading it (stat), and cap the read
     * for files whose size stat cannot tell (pipes). */
    uint64_t max = options ? options->limits[KILN_LIMIT_MODEL_BYTES] : 0;
    struct stat st;
    if (max && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
        kiln_status s = check_model_bytes(options, (uint64_t)st.st_size);
        if (s != KILN_OK)
            return kn_error_prefix(s, "%s", path);
    }
    KN_TRY(kn_file_map(path, max > SIZE_MAX ? 0 : (size_t)max, &file));
    /* External data lives next to the model file. */
    char *dir = kn_strdup(path);
    if (!dir) {
        kn_file_release(&file);
        return KN_NOMEM();
    }
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[slash == dir ? 1 : 0] = 0;
    else
        strcpy(dir, ".");
    kiln_status s = load(file.data, file.size, free_file_bytes, &file, dir, options, out);
    if (s != KILN_OK) {
        kn_error_prefix(s, "%s", path);
        kn_log(KILN_LOG_ERROR, "loading a model failed: %s", kn_error_message());
    }
    kn_free(dir);
    kn_file_release(&file);
    return s;
}

KILN_API size_t kiln_model_input_count(const kiln_model *m)
{
    return m ? m->n_inputs : 0;
}

KILN_API size_t kiln_model_output_count(const kiln_model *m)
{
    return m ? m->n_outputs : 0;
}

KILN_API kiln_status kiln_model_input_info(const kiln_model *m, size_t i, kiln_value_info *out)
{
    if (!m || !out)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_model_input_info: NULL argument");
    if (i >= m->n_inputs)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_model_input_info: index %zu out of range (%zu inputs)", i,
                        m->n_inputs);
    *out = m->inputs[i].info;
    out->dims = m->inputs[i].dims;
    out->dim_names = m->inputs[i].dim_names;
    return KILN_OK;
}

KILN_API kiln_status kiln_model_output_info(const kiln_model *m, size_t i, kiln_value_info *out)
{
    if (!m || !out)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_model_output_info: NULL argument");
    if (i >= m->n_outputs)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_model_output_info: index %zu out of range (%zu outputs)", i,
                        m->n_outputs);
    *out = m->outputs[i].info;
    out->dims = m->outputs[i].dims;
    out->dim_names = m->outputs[i].dim_names;
    return KILN_OK;
}

static kiln_status io_kind(const kiln_model *m, const kn_io_info *io, size_t n, size_t i, const char *fn,
                           kiln_value_kind *out)
{
    if (!m || !out)
        return kn_error(KILN_ERROR_ARGUMENT, "%s: NULL argument", fn);
    if (i >= n)
        return kn_error(KILN_ERROR_ARGUMENT, "%s: index %zu out of range (%zu values)", fn, i, n);
    kiln_dtype dt = m->graph->values[io[i].value].dtype;
    *out = dt == KN_DTYPE_SEQUENCE ? KILN_VALUE_SEQUENCE : dt == KN_DTYPE_OPTIONAL ? KILN_VALUE_OPTIONAL
                                                                                   : KILN_VALUE_TENSOR;
    return KILN_OK;
}

KILN_API kiln_status kiln_model_input_kind(const kiln_model *m, size_t i, kiln_value_kind *out)
{
    return io_kind(m, m ? m->inputs : NULL, m ? m->n_inputs : 0, i, "kiln_model_input_kind", out);
}

KILN_API kiln_status kiln_model_output_kind(const kiln_model *m, size_t i, kiln_value_kind *out)
{
    return io_kind(m, m ? m->outputs : NULL, m ? m->n_outputs : 0, i, "kiln_model_output_kind", out);
}

KILN_API kiln_status kiln_model_meta_get(const kiln_model *m, kiln_model_meta *out)
{
    if (!m || !out)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_model_meta_get: NULL argument");
    kiln_model_meta r;
    memset(&r, 0, sizeof r);
    r.ir_version = m->ir_version;
    r.producer_name = m->producer_name ? m->producer_name : "";
    r.producer_version = m->producer_version ? m->producer_version : "";
    r.domain = m->domain ? m->domain : "";
    r.model_version = m->model_version;
    r.doc_string = m->doc_string ? m->doc_string : "";
    r.opset_count = m->opset_count;
    r.opset_domains = m->opset_domains;
    r.opset_versions = m->opset_versions;
    r.parameter_count = m->param_count;
    r.parameter_bytes = m->param_bytes;
    r.node_count = m->node_count;
    *out = r;
    return KILN_OK;
}

KILN_API kiln_status kiln_model_op_stats(const kiln_model *m, int optimized, size_t *count)
{
    if (!m || !count)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_model_op_stats: NULL argument");
    *count = m->n_stats[optimized ? 1 : 0];
    return KILN_OK;
}

KILN_API kiln_status kiln_model_op_stat(const kiln_model *m, int optimized, size_t index, kiln_op_stat *out)
{
    if (!m || !out)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_model_op_stat: NULL argument");
    int k = optimized ? 1 : 0;
    if (index >= m->n_stats[k])
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_model_op_stat: index %zu out of range", index);
    const kn_op_tally *s = &m->stats[k][index];
    out->domain = s->domain;
    out->op_type = s->op_type;
    out->count = s->count;
    out->supported = s->supported;
    return KILN_OK;
}

KILN_API size_t kiln_model_pass_log_count(const kiln_model *m)
{
    return m ? (size_t)m->graph->n_log : 0;
}

KILN_API const char *kiln_model_pass_log_line(const kiln_model *m, size_t index)
{
    return m && index < (size_t)m->graph->n_log ? m->graph->log[index] : NULL;
}

KILN_API kiln_status kiln_model_save(const kiln_model *m, const char *path)
{
    if (!m || !path)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_model_save: NULL argument");
    for (int i = 0; i < m->graph->n_nodes; i++) {
        const kn_node *n = &m->graph->nodes[i];
        if (!n->dead && !strcmp(n->domain, "kiln") &&
            (!strncmp(n->op_type, "Nchwc", 5) || !strncmp(n->op_type, "Reorder", 7)))
            return kn_error(KILN_ERROR_UNSUPPORTED,
                            "kiln_model_save: node '%s' (kiln.%s) is in kiln's blocked layout, which ONNX cannot "
                            "express; load the model with pass 'nchwc' disabled to save it",
                            n->name, n->op_type);
    }
    kn_export_meta meta = {m->ir_version, m->model_version, m->producer_name, m->producer_version, m->domain,
                           m->doc_string};
    void *data = NULL;
    size_t size = 0;
    KN_TRY(kn_onnx_export(m->graph, &meta, &data, &size));
    kn_chunk chunk = {data, size};
    kiln_status s = kn_write_file_atomic(path, &chunk, 1);
    kn_free(data);
    return s;
}
