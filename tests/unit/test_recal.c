/* Precise-BN recalibration: aggregation math, Chan merges, .kstats files,
 * write-back into the original model bytes, sessions and the dataset
 * readers (including hostile inputs). */
#include "harness.h"

#include "data/data.h"
#include "kiln.h"
#include "onnx/onnx_import.h"
#include "recal/recal.h"

#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef KILN_HAVE_JPEG
#include <jpeglib.h>
#endif
#ifdef KILN_HAVE_PNG
#include <png.h>
#endif

static const char *source_dir(void)
{
    const char *s = getenv("KILN_SOURCE_DIR");
    return s ? s : KILN_TEST_SOURCE_DIR;
}

static char *tmp_dir(void)
{
    char *d = strdup("/tmp/kiln_recal_test_XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static void rm_rf(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void write_bytes(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, size, f), size);
    fclose(f);
}

static void *read_bytes(const char *path, size_t *size)
{
    void *data = NULL;
    assert_int_equal(kn_read_file(path, 0, &data, size), KILN_OK);
    return data;
}

/* ---- aggregation ---------------------------------------------------------- */

static void batch_stats(const double *x, int n, double *mean, double *m2)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += x[i];
    *mean = s / n;
    *m2 = 0;
    for (int i = 0; i < n; i++)
        *m2 += (x[i] - *mean) * (x[i] - *mean);
}

/* Batches {1,2,3} and {5,7}: pooled mean 18/5, variance E[x^2] - mean^2 =
 * 88/5 - 3.6^2 = 4.64; torch: means 2 and 6 -> 4, unbiased variances 1 and
 * 2 -> 1.5. */
static void test_hand_computed(void **state)
{
    (void)state;
    const double a[] = {1, 2, 3}, b[] = {5, 7};
    kn_bn_accum acc;
    assert_int_equal(kn_bn_accum_init(&acc, 1, true), KILN_OK);
    double m, m2;
    batch_stats(a, 3, &m, &m2);
    kn_bn_accum_add_torch(&acc, 3, &m, &m2);
    kn_bn_accum_merge(&acc, 3, &m, &m2);
    batch_stats(b, 2, &m, &m2);
    kn_bn_accum_add_torch(&acc, 2, &m, &m2);
    kn_bn_accum_merge(&acc, 2, &m, &m2);
    float mean, var;
    assert_int_equal(kn_bn_accum_result(&acc, false, "t", &mean, &var), KILN_OK);
    assert_float_equal(mean, 3.6f, 1e-6);
    assert_float_equal(var, 4.64f, 1e-6);
    assert_int_equal(kn_bn_accum_result(&acc, true, "t", &mean, &var), KILN_OK);
    assert_float_equal(mean, 4.0f, 1e-6);
    assert_float_equal(var, 1.5f, 1e-6);
    kn_bn_accum_clear(&acc);
}

/* Chan merges of uneven chunks equal the one-shot two-pass statistics, in
 * any grouping (sequential or tree), even with a large mean. */
static void test_chan_merge_equals_one_shot(void **state)
{
    (void)state;
    enum { N = 10007 };
    static double x[N];
    uint64_t seed = 12345;
    for (int i = 0; i < N; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = 1e4 + (double)(seed >> 11) / (double)(1ull << 53);
    }
    double want_m, want_m2;
    batch_stats(x, N, &want_m, &want_m2);
    kn_bn_accum seq, left, right;
    assert_int_equal(kn_bn_accum_init(&seq, 1, false), KILN_OK);
    assert_int_equal(kn_bn_accum_init(&left, 1, false), KILN_OK);
    assert_int_equal(kn_bn_accum_init(&right, 1, false), KILN_OK);
    int pos = 0, chunk = 1;
    while (pos < N) {
        int n = KN_MIN(chunk, N - pos);
        double m, m2;
        batch_stats(x + pos, n, &m, &m2);
        kn_bn_accum_merge(&seq, (uint64_t)n, &m, &m2);
        kn_bn_accum_merge(pos < N / 2 ? &left : &right, (uint64_t)n, &m, &m2);
        pos += n;
        chunk = chunk * 3 % 997 + 1;
    }
    kn_bn_accum_merge_all(&left, &right);
    assert_true(seq.count == N && left.count == N);
    assert_true(fabs(seq.mean[0] - want_m) < 1e-9);
    assert_true(fabs(seq.m2[0] - want_m2) / want_m2 < 1e-9);
    assert_true(fabs(left.mean[0] - want_m) < 1e-9);
    assert_true(fabs(left.m2[0] - want_m2) / want_m2 < 1e-9);
    kn_bn_accum_clear(&seq);
    kn_bn_accum_clear(&left);
    kn_bn_accum_clear(&right);
}

static void test_empty_accumulator_refused(void **state)
{
    (void)state;
    kn_bn_accum acc;
    assert_int_equal(kn_bn_accum_init(&acc, 2, false), KILN_OK);
    float m[2], v[2];
    assert_int_equal(kn_bn_accum_result(&acc, false, "bn7", m, v), KILN_ERROR_ARGUMENT);
    assert_non_null(strstr(kiln_last_error(), "bn7"));
    kn_bn_accum_clear(&acc);
}

/* ---- .kstats ---------------------------------------------------------------- */

static void make_layers(kn_recal_layer *l, int n, bool torch)
{
    static char *names[] = {"bn_a", "bn_b", "bn_c"};
    for (int i = 0; i < n; i++) {
        memset(&l[i], 0, sizeof l[i]);
        l[i].name = names[i];
        l[i].channels = 2 + i;
        assert_int_equal(kn_bn_accum_init(&l[i].acc, l[i].channels, torch), KILN_OK);
    }
}

static void fill_layers(kn_recal_layer *l, int n, bool torch)
{
    for (int i = 0; i < n; i++) {
        double m[4], m2[4];
        for (int c = 0; c < l[i].channels; c++) {
            m[c] = 0.5 * c - i;
            m2[c] = 3.0 + c + i;
        }
        if (torch)
            kn_bn_accum_add_torch(&l[i].acc, 40, m, m2);
        kn_bn_accum_merge(&l[i].acc, 40, m, m2);
    }
}

static void clear_layers(kn_recal_layer *l, int n)
{
    for (int i = 0; i < n; i++)
        kn_bn_accum_clear(&l[i].acc);
}

static void test_kstats_round_trip(void **state)
{
    (void)state;
    for (int torch = 0; torch < 2; torch++) {
        kn_recal_layer a[3], b[3];
        make_layers(a, 3, torch);
        make_layers(b, 3, torch);
        fill_layers(a, 3, torch);
        uint64_t fp = kn_recal_fingerprint(a, 3);
        void *data;
        size_t size;
        assert_int_equal(kn_kstats_encode(fp, torch, a, 3, &data, &size), KILN_OK);
        /* merged into empty accumulators twice: counts double, stats stay */
        assert_int_equal(kn_kstats_merge(data, size, "p", fp, torch, b, 3), KILN_OK);
        assert_int_equal(kn_kstats_merge(data, size, "p", fp, torch, b, 3), KILN_OK);
        for (int i = 0; i < 3; i++) {
            assert_true(b[i].acc.count == 2 * a[i].acc.count);
            for (int c = 0; c < a[i].channels; c++) {
                assert_true(fabs(b[i].acc.mean[c] - a[i].acc.mean[c]) < 1e-12);
                assert_true(fabs(b[i].acc.m2[c] - 2 * a[i].acc.m2[c]) < 1e-9);
                if (torch)
                    assert_true(fabs(b[i].acc.sum_uvar[c] - 2 * a[i].acc.sum_uvar[c]) < 1e-9);
            }
        }
        /* mode and model mismatches */
        assert_int_equal(kn_kstats_merge(data, size, "p", fp, !torch, b, 3), KILN_ERROR_ARGUMENT);
        assert_int_equal(kn_kstats_merge(data, size, "p", fp ^ 1, torch, b, 3), KILN_ERROR_ARGUMENT);
        assert_int_equal(kn_kstats_merge(data, size, "p", kn_recal_fingerprint(a, 2), torch, b, 2),
                         KILN_ERROR_ARGUMENT);
        kn_free(data);
        clear_layers(a, 3);
        clear_layers(b, 3);
    }
}

/* Every truncation and every single-byte corruption is refused, and a
 * refused file changes no accumulator. */
static void test_kstats_hostile(void **state)
{
    (void)state;
    kn_recal_layer a[2], b[2];
    make_layers(a, 2, true);
    make_layers(b, 2, true);
    fill_layers(a, 2, true);
    uint64_t fp = kn_recal_fingerprint(a, 2);
    void *data;
    size_t size;
    assert_int_equal(kn_kstats_encode(fp, true, a, 2, &data, &size), KILN_OK);
    for (size_t len = 0; len < size; len++)
        assert_int_not_equal(kn_kstats_merge(data, len, "cut", fp, true, b, 2), KILN_OK);
    uint8_t *copy = malloc(size);
    for (size_t i = 0; i < size; i++) {
        memcpy(copy, data, size);
        copy[i] ^= 0x40;
        assert_int_not_equal(kn_kstats_merge(copy, size, "flip", fp, true, b, 2), KILN_OK);
    }
    assert_true(b[0].acc.count == 0 && b[1].acc.count == 0);
    free(copy);
    kn_free(data);
    clear_layers(a, 2);
    clear_layers(b, 2);
}

/* ---- write-back ------------------------------------------------------------- */

static void model_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/models/%s/model.onnx", source_dir(), name);
}

static Onnx__ModelProto *unpack(const void *data, size_t size, kn_pb_alloc *a)
{
    kn_pb_alloc_init(a);
    ProtobufCMessage *m = NULL;
    assert_int_equal(kn_pb_unpack(&onnx__model_proto__descriptor, data, size, a, "m", &m), KILN_OK);
    return (Onnx__ModelProto *)m;
}

static const Onnx__TensorProto *find_init(const Onnx__GraphProto *g, const char *name)
{
    for (size_t i = 0; i < g->n_initializer; i++)
        if (strcmp(g->initializer[i]->name, name) == 0)
            return g->initializer[i];
    return NULL;
}

static bool same_tensor_bytes(const Onnx__TensorProto *a, const Onnx__TensorProto *b)
{
    size_t sa = protobuf_c_message_get_packed_size(&a->base), sb = protobuf_c_message_get_packed_size(&b->base);
    if (sa != sb)
        return false;
    uint8_t *x = malloc(sa), *y = malloc(sb);
    protobuf_c_message_pack(&a->base, x);
    protobuf_c_message_pack(&b->base, y);
    bool same = memcmp(x, y, sa) == 0;
    free(x);
    free(y);
    return same;
}

static void test_writeback_changes_only_stats(void **state)
{
    (void)state;
    char path[512];
    model_path(path, sizeof path, "tiny_cnn");
    size_t size;
    void *orig = read_bytes(path, &size);
    kn_pb_alloc a1, a2;
    Onnx__ModelProto *m = unpack(orig, size, &a1);
    /* new values for every BN's mean and var */
    kn_stat_update u[64];
    float values[64][64];
    int n = 0;
    for (size_t i = 0; i < m->graph->n_node; i++) {
        const Onnx__NodeProto *node = m->graph->node[i];
        if (strcmp(node->op_type, "BatchNormalization") != 0)
            continue;
        for (int k = 3; k <= 4; k++) {
            const Onnx__TensorProto *t = find_init(m->graph, node->input[k]);
            assert_non_null(t);
            for (int c = 0; c < t->dims[0]; c++)
                values[n][c] = (float)(n * 100 + c) + 0.25f;
            u[n] = (kn_stat_update){node->name, node->input[k], values[n], t->dims[0]};
            n++;
        }
    }
    assert_true(n >= 2);
    void *out;
    size_t out_size;
    assert_int_equal(kn_recal_writeback(orig, size, u, n, &out, &out_size), KILN_OK);
    Onnx__ModelProto *o = unpack(out, out_size, &a2);
    assert_int_equal(o->graph->n_node, m->graph->n_node);
    assert_int_equal(o->graph->n_initializer, m->graph->n_initializer);
    assert_int_equal(o->n_opset_import, m->n_opset_import);
    assert_true(o->ir_version == m->ir_version);
    assert_string_equal(o->producer_name, m->producer_name);
    for (size_t i = 0; i < m->graph->n_node; i++) {
        const Onnx__NodeProto *x = m->graph->node[i], *y = o->graph->node[i];
        assert_string_equal(x->name, y->name);
        assert_int_equal(x->n_attribute, y->n_attribute);
    }
    for (size_t i = 0; i < m->graph->n_initializer; i++) {
        const Onnx__TensorProto *x = m->graph->initializer[i], *y = o->graph->initializer[i];
        assert_string_equal(x->name, y->name);
        int k = -1;
        for (int j = 0; j < n; j++)
            if (strcmp(u[j].init_name, x->name) == 0)
                k = j;
        if (k < 0) {
            assert_true(same_tensor_bytes(x, y));
            continue;
        }
        kiln_tensor *t = NULL;
        assert_int_equal(kn_tensor_from_proto(y, NULL, &t), KILN_OK);
        assert_int_equal(t->dtype, KILN_DTYPE_FLOAT);
        assert_true(t->rank == 1 && t->dims[0] == u[k].count && y->n_float_data == 0 && y->has_raw_data);
        assert_memory_equal(t->data, values[k], (size_t)u[k].count * sizeof(float));
        kn_tensor_free(t);
    }
    protobuf_c_message_free_unpacked(&o->base, &a2.base);
    kn_free(out);

    /* a non-BN initializer, an unknown name, a wrong length are refused */
    const char *conv_w = m->graph->node[0]->input[1];
    for (size_t i = 0; i < m->graph->n_node; i++)
        if (strcmp(m->graph->node[i]->op_type, "Conv") == 0) {
            conv_w = m->graph->node[i]->input[1];
            break;
        }
    kn_stat_update bad = {"x", conv_w, values[0], 3};
    assert_int_not_equal(kn_recal_writeback(orig, size, &bad, 1, &out, &out_size), KILN_OK);
    bad.init_name = "no_such_tensor";
    assert_int_not_equal(kn_recal_writeback(orig, size, &bad, 1, &out, &out_size), KILN_OK);
    bad = u[0];
    bad.count = u[0].count + 1;
    assert_int_not_equal(kn_recal_writeback(orig, size, &bad, 1, &out, &out_size), KILN_OK);
    /* truncated model bytes */
    assert_int_equal(kn_recal_writeback(orig, size / 2, u, n, &out, &out_size), KILN_ERROR_PARSE);
    protobuf_c_message_free_unpacked(&m->base, &a1.base);
    kn_free(orig);
}

/* ---- sessions ---------------------------------------------------------------- */

static kiln_tensor *random_batch(int n, uint64_t seed)
{
    int64_t dims[4] = {n, 3, 32, 32};
    kiln_tensor *t = NULL;
    assert_int_equal(kiln_tensor_create(KILN_DTYPE_FLOAT, 4, dims, &t), KILN_OK);
    float *p = kiln_tensor_data(t);
    for (int64_t i = 0; i < kiln_tensor_element_count(t); i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (float)((double)(seed >> 11) / (double)(1ull << 53)) * 2.0f + 0.5f;
    }
    return t;
}

static void test_session_push_emit_merge(void **state)
{
    (void)state;
    char path[512];
    model_path(path, sizeof path, "tiny_cnn");
    kiln_recal *r = NULL, *r2 = NULL;
    assert_int_equal(kiln_recal_create(path, NULL, &r), KILN_OK);
    assert_int_equal(kiln_recal_layer_count(r), 4);
    assert_int_equal(kiln_recal_pass_count(r), 1);
    kiln_recal_layer l;
    assert_int_equal(kiln_recal_layer_get(r, 0, &l), KILN_OK);
    assert_null(l.new_mean);
    assert_int_equal(kiln_recal_layer_get(r, 9, &l), KILN_ERROR_ARGUMENT);
    /* nothing fed yet */
    assert_int_equal(kiln_recal_finish(r), KILN_ERROR_ARGUMENT);
    kiln_tensor *b1 = random_batch(5, 1), *b2 = random_batch(3, 2);
    assert_int_equal(kiln_recal_feed(r, b1), KILN_OK);
    char *dir = tmp_dir();
    char part[600];
    snprintf(part, sizeof part, "%s/p1.kstats", dir);
    assert_int_equal(kiln_recal_emit_stats(r, part), KILN_OK);
    assert_int_equal(kiln_recal_feed(r, b2), KILN_OK);
    assert_int_equal(kiln_recal_finish(r), KILN_OK);
    assert_int_equal(kiln_recal_feed(r, b2), KILN_ERROR_ARGUMENT);
    assert_true(kiln_recal_sample_count(r) == 8);

    /* a second session: merge shard 1, feed shard 2 -> same statistics */
    assert_int_equal(kiln_recal_create(path, NULL, &r2), KILN_OK);
    assert_int_equal(kiln_recal_merge_stats(r2, part), KILN_OK);
    assert_int_equal(kiln_recal_feed(r2, b2), KILN_OK);
    assert_int_equal(kiln_recal_finish(r2), KILN_OK);
    for (size_t i = 0; i < kiln_recal_layer_count(r); i++) {
        kiln_recal_layer x, y;
        assert_int_equal(kiln_recal_layer_get(r, i, &x), KILN_OK);
        assert_int_equal(kiln_recal_layer_get(r2, i, &y), KILN_OK);
        assert_true(x.count == y.count && x.count > 0);
        for (int64_t c = 0; c < x.channels; c++) {
            assert_true(isfinite(x.new_var[c]) && x.new_var[c] >= 0);
            assert_float_equal(x.new_mean[c], y.new_mean[c], 1e-6 * (1 + fabsf(x.new_mean[c])));
            assert_float_equal(x.new_var[c], y.new_var[c], 1e-6 * (1 + x.new_var[c]));
        }
    }
    /* writing: never over the input without in_place */
    assert_int_equal(kiln_recal_write(r, path, 0), KILN_ERROR_ARGUMENT);
    char out[600];
    snprintf(out, sizeof out, "%s/out.onnx", dir);
    assert_int_equal(kiln_recal_write(r, out, 0), KILN_OK);
    kiln_model *m = NULL;
    assert_int_equal(kiln_model_load(out, NULL, &m), KILN_OK);
    kiln_model_release(m);
    kiln_tensor_release(b1);
    kiln_tensor_release(b2);
    kiln_recal_release(r);
    kiln_recal_release(r2);
    rm_rf(dir);
    free(dir);
}

typedef struct replay {
    int calls, rewinds, pos;
} replay;

static kiln_status replay_next(void *user, int rewind, kiln_tensor **batch)
{
    replay *s = user;
    s->calls++;
    if (rewind) {
        s->rewinds++;
        s->pos = 0;
    }
    *batch = s->pos < 3 ? random_batch(4, (uint64_t)s->pos + 7) : NULL;
    s->pos++;
    return KILN_OK;
}

static void test_session_exact_mode(void **state)
{
    (void)state;
    char path[512];
    model_path(path, sizeof path, "tiny_cnn");
    kiln_recal_config cfg;
    kiln_recal_config_init(&cfg);
    cfg.mode = KILN_RECAL_EXACT;
    cfg.variance = KILN_RECAL_VARIANCE_TORCH;
    kiln_recal *r = NULL;
    assert_int_equal(kiln_recal_create(path, &cfg, &r), KILN_ERROR_ARGUMENT);
    cfg.variance = KILN_RECAL_VARIANCE_POOLED;
    assert_int_equal(kiln_recal_create(path, &cfg, &r), KILN_OK);
    size_t passes = kiln_recal_pass_count(r);
    assert_true(passes >= 2);
    kiln_tensor *b = random_batch(2, 3);
    assert_int_equal(kiln_recal_feed(r, b), KILN_ERROR_ARGUMENT);
    kiln_tensor_release(b);
    replay s = {0, 0, 0};
    assert_int_equal(kiln_recal_run(r, replay_next, &s), KILN_OK);
    assert_int_equal(s.rewinds, (int)passes);
    assert_true(kiln_recal_sample_count(r) == 12);
    for (size_t i = 0; i < kiln_recal_layer_count(r); i++) {
        kiln_recal_layer l;
        assert_int_equal(kiln_recal_layer_get(r, i, &l), KILN_OK);
        assert_non_null(l.new_mean);
        assert_true(l.level >= 1 && (size_t)l.level <= passes);
    }
    kiln_recal_release(r);
}

static void test_session_refusals(void **state)
{
    (void)state;
    char path[512];
    model_path(path, sizeof path, "tiny_mlp_ln");
    kiln_recal *r = NULL;
    assert_int_equal(kiln_recal_create(path, NULL, &r), KILN_ERROR_UNSUPPORTED);
    assert_non_null(strstr(kiln_last_error(), "no BatchNormalization"));
    assert_null(r);
    assert_int_equal(kiln_recal_create("/nonexistent/model.onnx", NULL, &r), KILN_ERROR_IO);
    const char junk[] = "not a model";
    assert_int_not_equal(kiln_recal_create_buffer(junk, sizeof junk, NULL, NULL, &r), KILN_OK);
    kiln_recal_config cfg;
    kiln_recal_config_init(&cfg);
    cfg.input_name = "nope";
    model_path(path, sizeof path, "tiny_cnn");
    assert_int_equal(kiln_recal_create(path, &cfg, &r), KILN_ERROR_ARGUMENT);
    kiln_recal_release(NULL);
}

/* ---- datasets ------------------------------------------------------------------ */

static void save_npy(const char *path, int rank, const int64_t *dims, float first)
{
    kiln_tensor *t = NULL;
    assert_int_equal(kiln_tensor_create(KILN_DTYPE_FLOAT, (size_t)rank, dims, &t), KILN_OK);
    float *p = kiln_tensor_data(t);
    for (int64_t i = 0; i < kiln_tensor_element_count(t); i++)
        p[i] = first + (float)i;
    assert_int_equal(kiln_tensor_write_npy(t, path), KILN_OK);
    kiln_tensor_release(t);
}

static kiln_dataset *open_ds(const char *path, size_t batch, int sample_rank)
{
    kiln_dataset_config c;
    kiln_dataset_config_init(&c);
    c.batch_size = batch;
    c.sample_rank = sample_rank;
    kiln_dataset *d = NULL;
    assert_int_equal(kiln_dataset_open(path, &c, &d), KILN_OK);
    return d;
}

static void test_npy_stream(void **state)
{
    (void)state;
    char *dir = tmp_dir();
    char path[600];
    snprintf(path, sizeof path, "%s/a.npy", dir);
    int64_t dims[3] = {10, 2, 3};
    save_npy(path, 3, dims, 0.0f);
    kiln_dataset *d = open_ds(path, 4, 0);
    assert_int_equal(kiln_dataset_sample_count(d), 10);
    for (int round = 0; round < 2; round++) {
        int64_t seen = 0;
        kiln_tensor *b;
        int64_t expect[] = {4, 4, 2};
        for (int k = 0;; k++) {
            assert_int_equal(kiln_dataset_next(d, &b), KILN_OK);
            if (!b)
                break;
            assert_true(kiln_tensor_dims(b)[0] == expect[k] && kiln_tensor_dims(b)[2] == 3);
            const float *p = kiln_tensor_const_data(b);
            for (int64_t i = 0; i < kiln_tensor_element_count(b); i++)
                assert_float_equal(p[i], (float)(seen * 6 + i), 0);
            seen += kiln_tensor_dims(b)[0];
            kiln_tensor_release(b);
        }
        assert_int_equal(seen, 10);
        assert_int_equal(kiln_dataset_rewind(d), KILN_OK);
    }
    kiln_dataset_release(d);

    /* truncated data, truncated header, wrong rank, not npy */
    size_t size;
    void *bytes = read_bytes(path, &size);
    char bad[600];
    snprintf(bad, sizeof bad, "%s/bad.npy", dir);
    kiln_dataset_config c;
    kiln_dataset_config_init(&c);
    size_t cuts[] = {size - 1, 140, 60, 9, 0};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_bytes(bad, bytes, cuts[i]);
        assert_int_not_equal(kiln_dataset_open(bad, &c, &d), KILN_OK);
        assert_non_null(strstr(kiln_last_error(), "bad.npy"));
    }
    ((char *)bytes)[20] = '!'; /* damage the header text */
    write_bytes(bad, bytes, size);
    kiln_dataset *d2 = NULL;
    kiln_status st = kiln_dataset_open(bad, &c, &d2);
    if (st == KILN_OK) /* the damaged byte may sit in padding */
        kiln_dataset_release(d2);
    c.sample_rank = 3;
    assert_int_equal(kiln_dataset_open(path, &c, &d), KILN_ERROR_SHAPE);
    kn_free(bytes);
    rm_rf(dir);
    free(dir);
}

static void test_tensor_folder(void **state)
{
    (void)state;
    char *dir = tmp_dir();
    char path[600];
    /* a batch of 3 and two single samples, sample shape [2,2] */
    int64_t batch_dims[3] = {3, 2, 2}, sample_dims[2] = {2, 2};
    snprintf(path, sizeof path, "%s/a.npy", dir);
    save_npy(path, 3, batch_dims, 0.0f);
    snprintf(path, sizeof path, "%s/b.npy", dir);
    save_npy(path, 2, sample_dims, 100.0f);
    snprintf(path, sizeof path, "%s/c.npy", dir);
    save_npy(path, 2, sample_dims, 200.0f);
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    write_bytes(path, "x", 1);
    kiln_dataset *d = open_ds(dir, 2, 2);
    assert_string_equal(kiln_dataset_kind(d), "tensor files");
    float firsts[5];
    int64_t n = 0;
    kiln_tensor *b;
    while (kiln_dataset_next(d, &b) == KILN_OK && b) {
        assert_true(kiln_tensor_dims(b)[0] <= 2);
        for (int64_t i = 0; i < kiln_tensor_dims(b)[0]; i++)
            firsts[n++] = ((const float *)kiln_tensor_const_data(b))[i * 4];
        kiln_tensor_release(b);
    }
    assert_int_equal(n, 5);
    assert_float_equal(firsts[0], 0, 0);
    assert_float_equal(firsts[2], 8, 0);
    assert_float_equal(firsts[3], 100, 0);
    assert_float_equal(firsts[4], 200, 0);
    kiln_dataset_release(d);

    /* a mixed shape is named */
    int64_t other[2] = {3, 2};
    snprintf(path, sizeof path, "%s/d.npy", dir);
    save_npy(path, 2, other, 0.0f);
    d = open_ds(dir, 8, 2);
    kiln_status st;
    while ((st = kiln_dataset_next(d, &b)) == KILN_OK && b)
        kiln_tensor_release(b);
    assert_int_equal(st, KILN_ERROR_SHAPE);
    assert_non_null(strstr(kiln_last_error(), "d.npy"));
    kiln_dataset_release(d);
    /* wrong rank */
    int64_t deep[4] = {1, 1, 2, 2};
    save_npy(path, 4, deep, 0.0f);
    d = open_ds(dir, 8, 2);
    while ((st = kiln_dataset_next(d, &b)) == KILN_OK && b)
        kiln_tensor_release(b);
    assert_int_equal(st, KILN_ERROR_SHAPE);
    kiln_dataset_release(d);
    /* unreadable tensor file */
    write_bytes(path, "\x93NUMPY garbage", 14);
    d = open_ds(dir, 8, 2);
    while ((st = kiln_dataset_next(d, &b)) == KILN_OK && b)
        kiln_tensor_release(b);
    assert_int_not_equal(st, KILN_OK);
    assert_non_null(strstr(kiln_last_error(), "d.npy"));
    kiln_dataset_release(d);
    rm_rf(dir);

    /* empty folder */
    assert_int_equal(mkdir(dir, 0700), 0);
    kiln_dataset_config c;
    kiln_dataset_config_init(&c);
    assert_int_equal(kiln_dataset_open(dir, &c, &d), KILN_ERROR_ARGUMENT);
    assert_non_null(strstr(kiln_last_error(), "no .npy"));
    rm_rf(dir);
    free(dir);
}

static void test_image_preprocess(void **state)
{
    (void)state;
    /* 4 wide, 2 high: pixel (x, y) = (10x + y, 50, 200) */
    uint8_t rgb[2 * 4 * 3];
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 4; x++) {
            rgb[(y * 4 + x) * 3] = (uint8_t)(10 * x + y);
            rgb[(y * 4 + x) * 3 + 1] = 50;
            rgb[(y * 4 + x) * 3 + 2] = 200;
        }
    kn_image img = {4, 2, rgb};
    kiln_dataset_config c;
    kiln_dataset_config_init(&c);
    c.crop = 2;
    c.mean[1] = 0.5f;
    c.std[1] = 0.25f;
    int oh, ow;
    assert_int_equal(kn_image_out_size(&c, 4, 2, "t", &oh, &ow), KILN_OK);
    assert_true(oh == 2 && ow == 2);
    float out[12];
    kn_image_preprocess(&c, &img, oh, ow, out);
    assert_float_equal(out[0], 10 / 255.0f, 1e-6);  /* crop starts at x = 1 */
    assert_float_equal(out[3], 21 / 255.0f, 1e-6);
    assert_float_equal(out[4], (50 / 255.0f - 0.5f) / 0.25f, 1e-5);
    assert_float_equal(out[8], 200 / 255.0f, 1e-6);
    c.bgr = 1;
    c.mean[1] = 0;
    c.std[1] = 1;
    kn_image_preprocess(&c, &img, oh, ow, out);
    assert_float_equal(out[0], 200 / 255.0f, 1e-6);
    assert_float_equal(out[8], 10 / 255.0f, 1e-6);
    /* resize the shorter side 2 -> 4: 8 x 4, a constant channel stays */
    c.bgr = 0;
    c.crop = 0;
    c.resize = 4;
    assert_int_equal(kn_image_out_size(&c, 4, 2, "t", &oh, &ow), KILN_OK);
    assert_true(oh == 4 && ow == 8);
    float big[3 * 32];
    kn_image_preprocess(&c, &img, oh, ow, big);
    for (int i = 0; i < 32; i++)
        assert_float_equal(big[32 + i], 50 / 255.0f, 1e-6);
    c.resize = 0;
    c.crop = 3;
    assert_int_equal(kn_image_out_size(&c, 4, 2, "t", &oh, &ow), KILN_ERROR_SHAPE);
}

#if defined(KILN_HAVE_JPEG) && defined(KILN_HAVE_PNG)
static void make_rgb(uint8_t *rgb, int w, int h)
{
    for (int i = 0; i < w * h * 3; i++)
        rgb[i] = (uint8_t)(i * 7 % 251);
}

static unsigned char *encode_jpeg(const uint8_t *rgb, int w, int h, unsigned long *size)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    unsigned char *buf = NULL;
    *size = 0;
    jpeg_mem_dest(&c, &buf, size);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)c.next_scanline * w * 3);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return buf;
}

static void *encode_png(const uint8_t *rgb, int w, int h, size_t *size)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)w;
    img.height = (png_uint_32)h;
    img.format = PNG_FORMAT_RGB;
    *size = 0;
    assert_true(png_image_write_to_memory(&img, NULL, size, 0, rgb, 0, NULL));
    void *buf = malloc(*size);
    assert_true(png_image_write_to_memory(&img, buf, size, 0, rgb, 0, NULL));
    return buf;
}

static void test_image_folder(void **state)
{
    (void)state;
    enum { W = 20, H = 12 };
    uint8_t rgb[W * H * 3];
    make_rgb(rgb, W, H);
    unsigned long jsize;
    unsigned char *jpg = encode_jpeg(rgb, W, H, &jsize);
    size_t psize;
    void *png = encode_png(rgb, W, H, &psize);
    /* PNG is lossless: decoding gives the pixels back */
    kn_image img;
    assert_int_equal(kn_image_decode(png, psize, "p.png", &img), KILN_OK);
    assert_true(img.width == W && img.height == H);
    assert_memory_equal(img.rgb, rgb, sizeof rgb);
    kn_free(img.rgb);
    assert_int_equal(kn_image_decode(jpg, jsize, "j.jpg", &img), KILN_OK);
    assert_true(img.width == W && img.height == H);
    kn_free(img.rgb);

    char *dir = tmp_dir();
    char path[600];
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/img%d.%s", dir, i, i == 1 ? "png" : "jpg");
        if (i == 1)
            write_bytes(path, png, psize);
        else
            write_bytes(path, jpg, jsize);
    }
    kiln_dataset_config c;
    kiln_dataset_config_init(&c);
    c.batch_size = 2;
    c.resize = 8;
    c.crop = 6;
    kiln_dataset *d = NULL;
    assert_int_equal(kiln_dataset_open(dir, &c, &d), KILN_OK);
    assert_string_equal(kiln_dataset_kind(d), "images");
    assert_int_equal(kiln_dataset_sample_count(d), 3);
    kiln_tensor *b;
    int64_t n = 0;
    while (kiln_dataset_next(d, &b) == KILN_OK && b) {
        const int64_t *dims = kiln_tensor_dims(b);
        assert_true(kiln_tensor_rank(b) == 4 && dims[1] == 3 && dims[2] == 6 && dims[3] == 6);
        n += dims[0];
        kiln_tensor_release(b);
    }
    assert_int_equal(n, 3);
    kiln_dataset_release(d);

    /* truncated JPEG and PNG: errors naming the file, never an exit */
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/img1.%s", dir, k ? "png" : "jpg");
        char other[600];
        snprintf(other, sizeof other, "%s/img1.%s", dir, k ? "jpg" : "png");
        unlink(other);
        if (k)
            write_bytes(path, png, psize / 2);
        else
            write_bytes(path, jpg, jsize / 2);
        assert_int_equal(kiln_dataset_open(dir, &c, &d), KILN_OK);
        kiln_status st;
        while ((st = kiln_dataset_next(d, &b)) == KILN_OK && b)
            kiln_tensor_release(b);
        assert_int_equal(st, KILN_ERROR_PARSE);
        assert_non_null(strstr(kiln_last_error(), "img1"));
        kiln_dataset_release(d);
    }
    /* garbage with an image name */
    write_bytes(path, "hello", 5);
    assert_int_equal(kn_image_decode("hello", 5, "x.png", &img), KILN_ERROR_PARSE);
    /* mixed image sizes without resize/crop */
    rm_rf(dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof path, "%s/a.png", dir);
    write_bytes(path, png, psize);
    void *png2 = encode_png(rgb, H, W, &psize);
    snprintf(path, sizeof path, "%s/b.png", dir);
    write_bytes(path, png2, psize);
    kiln_dataset_config_init(&c);
    assert_int_equal(kiln_dataset_open(dir, &c, &d), KILN_OK);
    kiln_status st;
    while ((st = kiln_dataset_next(d, &b)) == KILN_OK && b)
        kiln_tensor_release(b);
    assert_int_equal(st, KILN_ERROR_SHAPE);
    assert_non_null(strstr(kiln_last_error(), "b.png"));
    kiln_dataset_release(d);
    free(png2);
    free(png);
    free(jpg);
    rm_rf(dir);
    free(dir);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_computed),
        cmocka_unit_test(test_chan_merge_equals_one_shot),
        cmocka_unit_test(test_empty_accumulator_refused),
        cmocka_unit_test(test_kstats_round_trip),
        cmocka_unit_test(test_kstats_hostile),
        cmocka_unit_test(test_writeback_changes_only_stats),
        cmocka_unit_test(test_session_push_emit_merge),
        cmocka_unit_test(test_session_exact_mode),
        cmocka_unit_test(test_session_refusals),
        cmocka_unit_test(test_npy_stream),
        cmocka_unit_test(test_tensor_folder),
        cmocka_unit_test(test_image_preprocess),
#if defined(KILN_HAVE_JPEG) && defined(KILN_HAVE_PNG)
        cmocka_unit_test(test_image_folder),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
