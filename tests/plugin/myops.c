/* A custom-operator plugin as a third party would write it: it includes only
 * kiln.h, links against nothing from kiln and reaches kiln through the
 * kiln_plugin_api table handed to its entry point.
 *
 * com.example:Scale2x (opset 1+): y = 2 * x, float tensors of any shape. An
 * optional float attribute "factor" replaces the 2. */
#include <kiln.h>

static const kiln_plugin_api *api;

static kiln_status scale_infer(void *user, const kiln_op_node *node, size_t n_inputs,
                               const kiln_tensor *const *inputs, size_t n_outputs, kiln_shape *outputs)
{
    (void)user;
    (void)node;
    if (n_inputs != 1 || n_outputs != 1 || !inputs[0])
        return api->set_error(KILN_ERROR_MODEL, "Scale2x takes one input and gives one output");
    if (api->tensor_dtype(inputs[0]) != KILN_DTYPE_FLOAT)
        return api->set_error(KILN_ERROR_DTYPE, "Scale2x takes float tensors");
    size_t rank = api->tensor_rank(inputs[0]);
    const int64_t *dims = api->tensor_dims(inputs[0]);
    outputs[0].dtype = KILN_DTYPE_FLOAT;
    outputs[0].rank = rank;
    for (size_t i = 0; i < rank; i++)
        outputs[0].dims[i] = dims[i];
    return KILN_OK;
}

static kiln_status scale_run(void *user, const kiln_op_node *node, size_t n_inputs,
                             const kiln_tensor *const *inputs, size_t n_outputs, kiln_tensor *const *outputs)
{
    (void)user;
    (void)n_inputs;
    (void)n_outputs;
    float factor;
    kiln_status s = api->op_node_attr_float(node, "factor", 2.0f, &factor);
    if (s != KILN_OK)
        return s;
    const float *x = api->tensor_const_data(inputs[0]);
    float *y = api->tensor_data(outputs[0]);
    int64_t n = api->tensor_element_count(inputs[0]);
    for (int64_t i = 0; i < n; i++)
        y[i] = factor * x[i];
    return KILN_OK;
}

__attribute__((visibility("default"))) kiln_status kiln_plugin_init_v1(const kiln_plugin_api *kiln)
{
    if (kiln->struct_size < sizeof(kiln_plugin_api))
        return KILN_ERROR_UNSUPPORTED; /* an older kiln than this plugin was built for */
    api = kiln;
    kiln_custom_op op = {
        .struct_size = sizeof op,
        .domain = "com.example",
        .op_type = "Scale2x",
        .since_version = 1,
        .infer = scale_infer,
        .run = scale_run,
    };
    return api->register_op(&op);
}
