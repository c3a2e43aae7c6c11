/* A program built against an installed kiln: load a model (x: [4,16] float), run it once,
 * print the output checksum. usage: consumer MODEL */
#include <kiln.h>

#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: consumer MODEL\n");
        return 2;
    }
    kiln_model *model = NULL;
    kiln_context *ctx = NULL;
    kiln_tensor *x = NULL, *y = NULL;
    int64_t dims[2] = {4, 16};
    const char *name = "x";
    int rc = 1;
    if (kiln_model_load(argv[1], NULL, &model) == KILN_OK && kiln_context_create(model, &ctx) == KILN_OK &&
        kiln_tensor_create(KILN_DTYPE_FLOAT, 2, dims, &x) == KILN_OK) {
        float *xd = kiln_tensor_data(x);
        for (int i = 0; i < 64; i++)
            xd[i] = (float)(i - 16);
        const kiln_tensor *in = x;
        if (kiln_context_run(ctx, 1, &name, &in, 1, NULL, &y) == KILN_OK) {
            const float *yd = kiln_tensor_const_data(y);
            double sum = 0;
            for (int i = 0; i < 64; i++)
                sum += yd[i];
            printf("kiln %s (API %d): sum %.1f\n", kiln_version(), kiln_api_version(), sum);
            rc = 0;
        }
    }
    if (rc)
        fprintf(stderr, "consumer: %s\n", kiln_last_error());
    kiln_tensor_release(y);
    kiln_tensor_release(x);
    kiln_context_release(ctx);
    kiln_model_release(model);
    return rc;
}
