/* Allocation-failure sweep (SQLite style): fail the n-th library allocation
 * for n = 1, 2, ... over the whole load -> context -> run -> release (and a
 * recalibration session) until the sequence runs without hitting the
 * failure. Every failing n must give KILN_ERROR_NOMEM, leave out-parameters
 * untouched and leak nothing (LeakSanitizer checks that in the sanitizer
 * build: scripts/test.sh runs this under ASan). */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_source_file(const char *rel, size_t *size)
{
    char path[4096];
    const char *src = getenv("KILN_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/%s", src ? src : KILN_TEST_SOURCE_DIR, rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return b;
}

/* One input per model input, open dims as 1, deterministic values; made
 * with failure injection off. */
static void make_inputs(const kiln_model *m, kiln_tensor **ins, const char **names, size_t *n)
{
    *n = kiln_model_input_count(m);
    assert_true(*n <= 4);
    for (size_t i = 0; i < *n; i++) {
        kiln_value_info vi;
        assert_int_equal(kiln_model_input_info(m, i, &vi), KILN_OK);
        assert_int_equal(vi.dtype, KILN_DTYPE_FLOAT);
        int64_t dims[8];
        for (int64_t d = 0; d < vi.rank; d++)
            dims[d] = vi.dims[d] < 0 ? 2 : vi.dims[d];
        ins[i] = kt_f32_random((int)vi.rank, dims, (uint32_t)(7 + i), -1, 1);
        names[i] = vi.name;
    }
}

/* load -> context -> run -> release. Returns the first failing status; on
 * success *y is the first output. */
static kiln_status sequence(const char *data, size_t size, const kiln_options *o, kiln_tensor **ins,
                            const char **names, size_t n_in, kiln_tensor **y)
{
    kiln_model *m = (kiln_model *)0x1;
    kiln_status s = kiln_model_load_buffer(data, size, NULL, o, &m);
    if (s != KILN_OK) {
        assert_ptr_equal(m, (kiln_model *)0x1);
        return s;
    }
    kiln_context *c = (kiln_context *)0x1;
    s = kiln_context_create(m, &c);
    if (s != KILN_OK) {
        assert_ptr_equal(c, (kiln_context *)0x1);
        kiln_model_release(m);
        return s;
    }
    size_t n_out = kiln_model_output_count(m);
    kiln_tensor *outs[8] = {0};
    assert_true(n_out <= 8);
    /* twice: the second run reuses the plan */
    for (int run = 0; run < 2 && s == KILN_OK; run++) {
        s = kiln_context_run(c, n_in, names, (const kiln_tensor *const *)ins, n_out, NULL, outs);
        if (s != KILN_OK) {
            for (size_t i = 0; i < n_out; i++)
                assert_null(outs[i]);
            break;
        }
        for (size_t i = 0; i < n_out; i++) {
            if (run == 1 && i == 0)
                *y = outs[i];
            else
                kiln_tensor_release(outs[i]);
            outs[i] = NULL;
        }
    }
    kiln_context_release(c);
    kiln_model_release(m);
    return s;
}

static int sweep_model(const char *rel)
{
    size_t size;
    char *data = read_source_file(rel, &size);
    kiln_options *o;
    assert_int_equal(kiln_options_create(&o), KILN_OK);
    assert_int_equal(kiln_options_set_threads(o, 1), KILN_OK);

    /* reference run, and the inputs, without injection */
    kiln_model *m;
    assert_int_equal(kiln_model_load_buffer(data, size, NULL, o, &m), KILN_OK);
    kiln_tensor *ins[4];
    const char *names[4];
    size_t n_in;
    make_inputs(m, ins, names, &n_in);
    char *name_copy[4];
    for (size_t i = 0; i < n_in; i++)
        name_copy[i] = strdup(names[i]);
    kiln_model_release(m);
    kiln_tensor *ref = NULL;
    assert_int_equal(sequence(data, size, o, ins, (const char **)name_copy, n_in, &ref), KILN_OK);

    int failures = 0;
    for (uint64_t nth = 1;; nth++) {
        kiln_tensor *y = NULL;
        kn_alloc_fail_at(nth);
        kiln_status s = sequence(data, size, o, ins, (const char **)name_copy, n_in, &y);
        bool injected = kn_alloc_count() >= nth;
        kn_alloc_fail_at(0);
        if (s == KILN_OK) {
            /* a failure absorbed on the way (e.g. an optional fast path) must
             * not change the answer */
            kt_assert_tensors_close(y, ref, 0, 0);
            kiln_tensor_release(y);
            if (!injected)
                break;
            continue;
        }
        if (s != KILN_ERROR_NOMEM)
            fail_msg("%s: allocation %llu failed: status %s (%s), expected NOMEM", rel, (unsigned long long)nth,
                     kiln_status_string(s), kiln_last_error());
        failures++;
        assert_true(nth < 200000);
    }
    print_message("%s: %d allocation failures injected, each a clean NOMEM\n", rel, failures);
    kiln_tensor_release(ref);
    for (size_t i = 0; i < n_in; i++) {
        kiln_tensor_release(ins[i]);
        free(name_copy[i]);
    }
    kiln_options_release(o);
    free(data);
    return failures;
}

static void test_sweep_tiny_cnn(void **state)
{
    (void)state;
    assert_true(sweep_model("models/tiny_cnn/model.onnx") > 50);
}

static void test_sweep_shape_chain(void **state)
{
    (void)state;
    assert_true(sweep_model("tests/data/shape_chain.onnx") > 20);
}

static void test_sweep_tiny_mobilenet(void **state)
{
    (void)state;
    assert_true(sweep_model("models/tiny_mobilenet/model.onnx") > 100);
}

/* Recalibration: session over model bytes, one batch, finish, write to
 * memory. */
static kiln_status recal_sequence(const char *data, size_t size, const kiln_tensor *batch, void **out,
                                  size_t *out_size)
{
    kiln_recal_config cfg;
    kiln_recal_config_init(&cfg);
    cfg.threads = 1;
    kiln_recal *r = NULL;
    kiln_status s = kiln_recal_create_buffer(data, size, NULL, &cfg, &r);
    if (s == KILN_OK)
        s = kiln_recal_feed(r, batch);
    if (s == KILN_OK)
        s = kiln_recal_finish(r);
    if (s == KILN_OK)
        s = kiln_recal_write_buffer(r, out, out_size);
    kiln_recal_release(r);
    return s;
}

static void test_sweep_recalibration(void **state)
{
    (void)state;
    size_t size;
    char *data = read_source_file("models/tiny_cnn/model.onnx", &size);
    kiln_tensor *batch = kt_f32_random(KT_DIMS(2, 3, 32, 32), 11, -1, 1);
    void *ref = NULL;
    size_t ref_size = 0;
    if (recal_sequence(data, size, batch, &ref, &ref_size) != KILN_OK)
        fail_msg("recalibration: %s", kiln_last_error());
    int failures = 0;
    for (uint64_t nth = 1;; nth++) {
        void *out = NULL;
        size_t out_size = 0;
        kn_alloc_fail_at(nth);
        kiln_status s = recal_sequence(data, size, batch, &out, &out_size);
        bool injected = kn_alloc_count() >= nth;
        kn_alloc_fail_at(0);
        if (s == KILN_OK) {
            assert_int_equal(out_size, ref_size);
            assert_memory_equal(out, ref, ref_size);
            kiln_recal_free_buffer(out);
            if (!injected)
                break;
            continue;
        }
        if (s != KILN_ERROR_NOMEM)
            fail_msg("recalibration: allocation %llu failed: status %s (%s), expected NOMEM",
                     (unsigned long long)nth, kiln_status_string(s), kiln_last_error());
        failures++;
        assert_true(nth < 200000);
    }
    print_message("recalibration of tiny_cnn: %d allocation failures injected, each a clean NOMEM\n", failures);
    assert_true(failures > 50);
    kiln_recal_free_buffer(ref);
    kiln_tensor_release(batch);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sweep_shape_chain),
        cmocka_unit_test(test_sweep_tiny_cnn),
        cmocka_unit_test(test_sweep_tiny_mobilenet),
        cmocka_unit_test(test_sweep_recalibration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
