/* libFuzzer: model bytes -> kiln_model_load_buffer -> context -> one run on
 * a small deterministic input when the model's input shapes are known and
 * small. Limits keep a hostile model from asking for gigabytes (that is a
 * clean KILN_ERROR_LIMIT, not a finding). */
#include "kiln.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUT_ELEMENTS 4096

static kiln_options *make_options(void)
{
    kiln_options *o = NULL;
    if (kiln_options_create(&o) != KILN_OK)
        abort();
    kiln_options_set_threads(o, 1);
    kiln_options_set_limit(o, KILN_LIMIT_MODEL_BYTES, 4u << 20);
    kiln_options_set_limit(o, KILN_LIMIT_TENSOR_ELEMENTS, 1u << 20);
    kiln_options_set_limit(o, KILN_LIMIT_ARENA_BYTES, 64u << 20);
    return o;
}

/* Input i of the model as a tensor, or NULL when its shape is open, too big
 * or its dtype cannot be made. Open dims (-1) become 1. */
static kiln_tensor *make_input(const kiln_value_info *vi, const uint8_t *data, size_t size)
{
    if (vi->rank < 0 || vi->rank > 8 || kiln_dtype_size(vi->dtype) == 0)
        return NULL;
    int64_t dims[8], count = 1;
    for (int64_t d = 0; d < vi->rank; d++) {
        dims[d] = vi->dims[d] < 0 ? 1 : vi->dims[d];
        if (dims[d] > MAX_INPUT_ELEMENTS)
            return NULL;
        count *= dims[d];
        if (count > MAX_INPUT_ELEMENTS)
            return NULL;
    }
    kiln_tensor *t = NULL;
    if (kiln_tensor_create(vi->dtype, (size_t)vi->rank, dims, &t) != KILN_OK)
        return NULL;
    /* Small integer bytes from the model itself: deterministic, and mostly
     * valid indices for Gather-like ops. */
    uint8_t *p = kiln_tensor_data(t);
    size_t bytes = kiln_tensor_byte_size(t), esize = kiln_dtype_size(vi->dtype);
    for (size_t i = 0; size && i < bytes; i += esize)
        p[i] = (uint8_t)(vi->dtype == KILN_DTYPE_FLOAT ? 0 : data[i % size] & 3);
    if (vi->dtype == KILN_DTYPE_FLOAT) {
        float *f = (float *)p;
        for (size_t i = 0; i < bytes / 4; i++)
            f[i] = size ? (float)((int)data[i % size] - 128) / 64.0f : 0.5f;
    }
    return t;
}

static void run_once(const kiln_model *m, const uint8_t *data, size_t size)
{
    size_t n_in = kiln_model_input_count(m), n_out = kiln_model_output_count(m);
    if (n_in > 16 || n_out == 0 || n_out > 16)
        return;
    kiln_context *c = NULL;
    if (kiln_context_create(m, &c) != KILN_OK)
        return;
    const char *names[16];
    kiln_tensor *ins[16] = {0};
    size_t made = 0;
    for (; made < n_in; made++) {
        kiln_value_info vi;
        if (kiln_model_input_info(m, made, &vi) != KILN_OK)
            break;
        names[made] = vi.name;
        if (!(ins[made] = make_input(&vi, data, size)))
            break;
    }
    if (made == n_in) {
        kiln_tensor *outs[16] = {0};
        if (kiln_context_run(c, n_in, names, (const kiln_tensor *const *)ins, n_out, NULL, outs) == KILN_OK) {
            for (size_t i = 0; i < n_out; i++) {
                /* touch every output byte so ASan checks the copy */
                const uint8_t *o = kiln_tensor_const_data(outs[i]);
                size_t b = kiln_tensor_byte_size(outs[i]);
                volatile uint8_t sum = 0;
                for (size_t k = 0; o && k < b; k++)
                    sum ^= o[k];
                (void)sum;
                kiln_tensor_release(outs[i]);
            }
        }
    }
    for (size_t i = 0; i < n_in; i++)
        kiln_tensor_release(ins[i]);
    kiln_context_release(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static kiln_options *options;
    if (!options)
        options = make_options();
    kiln_model *m = NULL;
    if (kiln_model_load_buffer(data ? (const void *)data : "", size, NULL, options, &m) != KILN_OK)
        return 0;
    /* The describe path (kiln info) reads everything the model reports. */
    kiln_model_meta meta;
    kiln_model_meta_get(m, &meta);
    size_t n_ops = 0;
    kiln_model_op_stats(m, 1, &n_ops);
    for (size_t i = 0; i < n_ops; i++) {
        kiln_op_stat st;
        kiln_model_op_stat(m, 1, i, &st);
    }
    run_once(m, data, size);
    kiln_model_release(m);
    return 0;
}
