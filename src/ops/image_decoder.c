/* ImageDecoder (opset 20): a 1-D uint8 tensor holding an encoded image
 * (JPEG, PNG, BMP, PNM, TIFF, WebP, JPEG 2000) becomes [H, W, 3] RGB or BGR
 * or [H, W, 1] grey, uint8. Decoding is src/data's (kn_image_decode, also
 * used for calibration images), so both read images alike.
 *
 * The output shape is in the encoded data, so infer() waits for the data
 * (KN_NEED_VALUE), decodes once and keeps the pixels in the step state for
 * run(). Grey is computed from RGB as Pillow's convert("L") does (ITU-R
 * 601-2 luma, 16-bit fixed point, rounded), which the reference
 * implementation and the ONNX test data use; for grey sources it is exact. */
#include "ops/families.h"

#include "data/data.h"

#include <stdio.h>
#include <string.h>

typedef enum px_format { PX_RGB, PX_BGR, PX_GRAY } px_format;

typedef struct imgdec_params {
    px_format format;
} imgdec_params;

static kiln_status imgdec_parse(kn_node *n)
{
    const char *f;
    KN_TRY(kn_attr_get_string(n, "pixel_format", "RGB", &f));
    imgdec_params p;
    if (strcmp(f, "RGB") == 0)
        p.format = PX_RGB;
    else if (strcmp(f, "BGR") == 0)
        p.format = PX_BGR;
    else if (strcmp(f, "Grayscale") == 0)
        p.format = PX_GRAY;
    else
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): pixel_format '%s' is not RGB, BGR or Grayscale", n->name,
                        n->op_type, f);
    imgdec_params *q = kn_malloc(sizeof *q);
    if (!q)
        return KN_NOMEM();
    *q = p;
    n->params = q;
    return KILN_OK;
}

static void imgdec_free_state(void *state)
{
    kn_image *img = state;
    if (img)
        kn_free(img->rgb);
    kn_free(img);
}

static const kiln_dtype imgdec_types[] = {KILN_DTYPE_UINT8, KILN_DTYPE_UNDEFINED};

static kiln_status imgdec_infer(kn_op_ctx *c)
{
    const imgdec_params *p = c->params;
    KN_TRY(kn_check_arity(c, 1, 1, 1, 1));
    const kiln_tensor *x = c->in[0];
    if (x->rank != 1)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): encoded stream must be 1-D, got rank %d", c->node->name,
                        c->node->op_type, x->rank);
    if (!x->data && kn_tensor_count(x) > 0)
        return KN_NEED_VALUE;
    kn_image *img = kn_calloc(1, sizeof *img);
    if (!img)
        return KN_NOMEM();
    char label[160];
    snprintf(label, sizeof label, "node '%s' (%s)", c->node->name, c->node->op_type);
    kiln_status s = kn_image_decode(x->data, (size_t)kn_tensor_count(x), label, img);
    if (s != KILN_OK) {
        kn_free(img);
        return s;
    }
    int64_t dims[3] = {img->height, img->width, p->format == PX_GRAY ? 1 : 3};
    s = kn_set_output(c, 0, KILN_DTYPE_UINT8, 3, dims);
    if (s != KILN_OK) {
        imgdec_free_state(img);
        return s;
    }
    imgdec_free_state(c->state); /* a previous infer of the same evaluation */
    c->state = img;
    return KILN_OK;
}

static kiln_status imgdec_run(kn_op_ctx *c)
{
    const imgdec_params *p = c->params;
    const kn_image *img = c->state;
    if (!img)
        return kn_error(KILN_ERROR_INTERNAL, "node '%s' (%s): run without a decoded image", c->node->name,
                        c->node->op_type);
    uint8_t *y = c->out[0]->data;
    size_t n = (size_t)img->width * (size_t)img->height;
    const uint8_t *rgb = img->rgb;
    for (size_t i = 0; i < n; i++, rgb += 3) {
        if (p->format == PX_GRAY) {
            y[i] = (uint8_t)((rgb[0] * 19595u + rgb[1] * 38470u + rgb[2] * 7471u + 0x8000u) >> 16);
        } else if (p->format == PX_BGR) {
            y[i * 3 + 0] = rgb[2];
            y[i * 3 + 1] = rgb[1];
            y[i * 3 + 2] = rgb[0];
        } else {
            memcpy(y + i * 3, rgb, 3);
        }
    }
    return KILN_OK;
}

const kn_op kn_ops_image_decoder[] = {
    {.domain = "", .name = "ImageDecoder", .since_min = 20, .parse = imgdec_parse, .infer = imgdec_infer,
     .free_state = imgdec_free_state, .run = imgdec_run, .types = imgdec_types},
};
KN_FAMILY_COUNT(image_decoder);
