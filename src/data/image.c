/* JPEG (libjpeg-turbo) and PNG (libpng) decoding to 8-bit RGB, and the
 * usual classification preprocessing: resize the shorter side (bilinear,
 * half-pixel centres, no antialiasing), center crop, scale to [0,1],
 * per-channel mean/std, CHW float32.
 *
 * Both decoders report errors through longjmp-based handlers, so a corrupt
 * file becomes an error message, never an exit. libjpeg's corrupt-data
 * warnings ("premature end of data") are errors here too: a truncated image
 * silently padded with grey would bias the statistics.
 *
 * Built only when the build defines KILN_HAVE_JPEG / KILN_HAVE_PNG. */
#include "data/data.h"

#include <math.h>
#include <setjmp.h>
#include <string.h>

#ifdef KILN_HAVE_JPEG
#include <jpeglib.h>
#endif
#ifdef KILN_HAVE_PNG
#include <png.h>
#endif

bool kn_image_supported(void)
{
#if defined(KILN_HAVE_JPEG) && defined(KILN_HAVE_PNG)
    return true;
#else
    return false;
#endif
}

#ifdef KILN_HAVE_JPEG
typedef struct jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} jpeg_err;

static void jpeg_fail(j_common_ptr cinfo)
{
    jpeg_err *e = (jpeg_err *)cinfo->err;
    cinfo->err->format_message(cinfo, e->message);
    longjmp(e->jump, 1);
}

static void jpeg_message(j_common_ptr cinfo, int level)
{
    if (level < 0) /* a warning: corrupt data */
        jpeg_fail(cinfo);
}

static kiln_status decode_jpeg(const void *data, size_t size, const char *label, kn_image *out)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_err err;
    uint8_t *volatile rgb = NULL;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = jpeg_fail;
    err.pub.emit_message = jpeg_message;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        kn_free(rgb);
        return kn_error(KILN_ERROR_PARSE, "%s: JPEG decoding failed: %s", label, err.message);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, (const unsigned char *)data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    size_t w = cinfo.output_width, h = cinfo.output_height;
    if (cinfo.output_components != 3 || w == 0 || h == 0 || w * h > KN_IMAGE_MAX_PIXELS) {
        jpeg_destroy_decompress(&cinfo);
        return kn_error(KILN_ERROR_UNSUPPORTED, "%s: JPEG of %zux%zu pixels, %d components is not supported", label,
                        w, h, cinfo.output_components);
    }
    rgb = kn_malloc(w * h * 3);
    if (!rgb) {
        jpeg_destroy_decompress(&cinfo);
        return KN_NOMEM();
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = rgb + (size_t)cinfo.output_scanline * w * 3;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    out->width = (int)w;
    out->height = (int)h;
    out->rgb = rgb;
    return KILN_OK;
}
#endif

#ifdef KILN_HAVE_PNG
/* The simplified libpng API does the setjmp/longjmp error handling itself
 * and reports failures in image.message. */
static kiln_status decode_png(const void *data, size_t size, const char *label, kn_image *out)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, data, size))
        return kn_error(KILN_ERROR_PARSE, "%s: PNG decoding failed: %s", label, img.message);
    size_t w = img.width, h = img.height;
    if (w == 0 || h == 0 || w * h > KN_IMAGE_MAX_PIXELS) {
        png_image_free(&img);
        return kn_error(KILN_ERROR_UNSUPPORTED, "%s: PNG of %zux%zu pixels is not supported", label, w, h);
    }
    img.format = PNG_FORMAT_RGB;
    uint8_t *rgb = kn_malloc(w * h * 3);
    if (!rgb) {
        png_image_free(&img);
        return KN_NOMEM();
    }
    if (!png_image_finish_read(&img, NULL, rgb, (png_int_32)(w * 3), NULL)) {
        kn_free(rgb);
        kiln_status st = kn_error(KILN_ERROR_PARSE, "%s: PNG decoding failed: %s", label, img.message);
        png_image_free(&img);
        return st;
    }
    png_image_free(&img);
    out->width = (int)w;
    out->height = (int)h;
    out->rgb = rgb;
    return KILN_OK;
}
#endif

kiln_status kn_image_decode(const void *data, size_t size, const char *label, kn_image *out)
{
    const uint8_t *p = data;
    bool jpeg = size >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff;
    bool png = size >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0;
    if (size >= 2 && p[0] == 'B' && p[1] == 'M')
        return kn_image_decode_bmp(p, size, label, out);
    if (size >= 2 && p[0] == 'P' && p[1] >= '1' && p[1] <= '7')
        return kn_image_decode_pnm(p, size, label, out);
    if (size >= 4 && (memcmp(p, "II*\0", 4) == 0 || memcmp(p, "MM\0*", 4) == 0))
        return kn_image_decode_tiff(p, size, label, out);
    if (size >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
        return kn_image_decode_webp(p, size, label, out);
    if ((size >= 12 && memcmp(p, "\0\0\0\x0cjP  \r\n\x87\n", 12) == 0) ||
        (size >= 4 && memcmp(p, "\xff\x4f\xff\x51", 4) == 0))
        return kn_image_decode_jp2(p, size, label, out);
    if (!jpeg && !png)
        return kn_error(KILN_ERROR_PARSE, "%s: not a JPEG, PNG, BMP, PNM, TIFF, WebP or JPEG 2000 image", label);
#ifdef KILN_HAVE_JPEG
    if (jpeg)
        return decode_jpeg(data, size, label, out);
#endif
#ifdef KILN_HAVE_PNG
    if (png)
        return decode_png(data, size, label, out);
#endif
    KN_UNUSED(out);
    return kn_error(KILN_ERROR_UNSUPPORTED, "%s: this kiln was built without %s support", label,
                    jpeg ? "JPEG (libjpeg-turbo)" : "PNG (libpng)");
}

/* Size after resizing the shorter side to r, as torchvision's Resize(int):
 * the longer side scales proportionally (truncated). */
static void resized(int r, int w, int h, int *rw, int *rh)
{
    if (r <= 0) {
        *rw = w;
        *rh = h;
    } else if (w <= h) {
        *rw = r;
        *rh = (int)((int64_t)r * h / w);
    } else {
        *rh = r;
        *rw = (int)((int64_t)r * w / h);
    }
}

kiln_status kn_image_out_size(const kiln_dataset_config *c, int width, int height, const char *label, int *oh,
                              int *ow)
{
    int rw, rh;
    resized(c->resize, width, height, &rw, &rh);
    if (rw < 1 || rh < 1)
        return kn_error(KILN_ERROR_SHAPE, "%s: image %dx%d resizes to nothing", label, width, height);
    if (c->crop > 0 && (c->crop > rw || c->crop > rh))
        return kn_error(KILN_ERROR_SHAPE, "%s: crop %d is larger than the %s image (%dx%d)", label, c->crop,
                        c->resize > 0 ? "resized" : "", rw, rh);
    *ow = c->crop > 0 ? c->crop : rw;
    *oh = c->crop > 0 ? c->crop : rh;
    return KILN_OK;
}

/* Source coordinate of output pixel i (half-pixel centres), clamped. */
static void bilinear_index(int i, int in, int out, int *i0, int *i1, float *frac)
{
    double s = ((double)i + 0.5) * (double)in / (double)out - 0.5;
    if (s < 0)
        s = 0;
    int a = (int)s;
    if (a > in - 1)
        a = in - 1;
    *i0 = a;
    *i1 = a + 1 < in ? a + 1 : in - 1;
    *frac = (float)(s - a);
}

void kn_image_preprocess(const kiln_dataset_config *c, const kn_image *img, int oh, int ow, float *dst)
{
    int rw, rh;
    resized(c->resize, img->width, img->height, &rw, &rh);
    /* torchvision CenterCrop: offset round((size - crop) / 2). */
    int top = (int)lround((rh - oh) / 2.0), left = (int)lround((rw - ow) / 2.0);
    size_t plane = (size_t)oh * (size_t)ow;
    float scale[3], shift[3];
    for (int k = 0; k < 3; k++) {
        float sd = c->std[k] != 0 ? c->std[k] : 1.0f;
        scale[k] = 1.0f / (255.0f * sd);
        shift[k] = -c->mean[k] / sd;
    }
    for (int y = 0; y < oh; y++) {
        int y0, y1;
        float fy;
        bilinear_index(y + top, img->height, rh, &y0, &y1, &fy);
        const uint8_t *r0 = img->rgb + (size_t)y0 * img->width * 3, *r1 = img->rgb + (size_t)y1 * img->width * 3;
        for (int x = 0; x < ow; x++) {
            int x0, x1;
            float fx;
            bilinear_index(x + left, img->width, rw, &x0, &x1, &fx);
            for (int k = 0; k < 3; k++) {
                float top_v = r0[x0 * 3 + k] + (r0[x1 * 3 + k] - r0[x0 * 3 + k]) * fx;
                float bot_v = r1[x0 * 3 + k] + (r1[x1 * 3 + k] - r1[x0 * 3 + k]) * fx;
                float v = top_v + (bot_v - top_v) * fy;
                int ch = c->bgr ? 2 - k : k; /* mean/std follow the output order */
                dst[(size_t)ch * plane + (size_t)y * ow + x] = v * scale[ch] + shift[ch];
            }
        }
    }
}
