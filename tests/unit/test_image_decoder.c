/* ImageDecoder: BMP and PNM built here byte by byte (layouts, palettes,
 * padding, grey sources), the pixel formats, and corrupt or unknown
 * streams of every format refused with an error instead of a crash. JPEG,
 * PNG, TIFF, WebP and JPEG 2000 decoding is covered by the conformance
 * data. */
#include "harness.h"

static kiln_tensor *bytes(const void *d, size_t n)
{
    int64_t dim = (int64_t)n;
    return kt_tensor(KILN_DTYPE_UINT8, 1, &dim, d);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* 2x2 BMP: 24-bit bottom-up (rows padded to 8 bytes) or 8-bit top-down
 * with a 2-entry palette. Pixels (RGB): (10,20,30) (40,50,60) / (70,80,90)
 * (100,110,120). */
static size_t make_bmp(uint8_t *b, int bpp)
{
    memset(b, 0, 128);
    b[0] = 'B';
    b[1] = 'M';
    put32(b + 14, 40);
    put32(b + 18, 2);
    put32(b + 22, bpp == 24 ? 2 : (uint32_t)-2);
    b[26] = 1;
    b[28] = (uint8_t)bpp;
    if (bpp == 24) {
        put32(b + 10, 54);
        const uint8_t rows[2][8] = {{90, 80, 70, 120, 110, 100, 0, 0}, {30, 20, 10, 60, 50, 40, 0, 0}};
        memcpy(b + 54, rows, 16);
        return 70;
    }
    put32(b + 46, 2);
    const uint8_t pal[8] = {30, 20, 10, 0, 60, 50, 40, 0};
    memcpy(b + 54, pal, 8);
    put32(b + 10, 62);
    const uint8_t px[8] = {0, 1, 0, 0, 1, 1, 0, 0};
    memcpy(b + 62, px, 8);
    return 70;
}

static void decode(const char *format, kiln_tensor *in, const uint8_t *want, int64_t h, int64_t w, int64_t c)
{
    kt_node *n = kt_node_new("ImageDecoder", 20);
    if (format)
        kt_attr_string(n, "pixel_format", format);
    kiln_tensor *out[1];
    assert_int_equal(kt_run(n, 1, &in, 1, out), KILN_OK);
    kt_assert_shape(out[0], KT_DIMS(h, w, c));
    assert_int_equal(out[0]->dtype, KILN_DTYPE_UINT8);
    assert_memory_equal(out[0]->data, want, (size_t)(h * w * c));
    kn_tensor_free(out[0]);
    kt_node_free(n);
}

static void test_bmp_layouts_and_formats(void **state)
{
    (void)state;
    uint8_t b[128];
    kiln_tensor *in = bytes(b, make_bmp(b, 24));
    const uint8_t rgb[] = {10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120};
    decode(NULL, in, rgb, 2, 2, 3); /* RGB is the default */
    decode("BGR", in, (const uint8_t[]){30, 20, 10, 60, 50, 40, 90, 80, 70, 120, 110, 100}, 2, 2, 3);
    /* Pillow's L: (19595 R + 38470 G + 7471 B + 32768) >> 16 */
    decode("Grayscale", in, (const uint8_t[]){18, 48, 78, 108}, 2, 2, 1);
    kn_tensor_free(in);
    in = bytes(b, make_bmp(b, 8));
    decode("RGB", in, (const uint8_t[]){10, 20, 30, 40, 50, 60, 40, 50, 60, 40, 50, 60}, 2, 2, 3);
    kn_tensor_free(in);
    /* a palette index past the palette */
    make_bmp(b, 8);
    b[62] = 7;
    in = bytes(b, 70);
    kt_node *n = kt_node_new("ImageDecoder", 20);
    kiln_tensor *out[1];
    assert_int_equal(kt_run(n, 1, &in, 1, out), KILN_ERROR_PARSE);
    kn_tensor_free(in);
    /* truncated pixel data */
    in = bytes(b, make_bmp(b, 24) - 4);
    assert_int_equal(kt_run(n, 1, &in, 1, out), KILN_ERROR_PARSE);
    kn_tensor_free(in);
    kt_node_free(n);
}

static void test_pnm(void **state)
{
    (void)state;
    const char p6[] = "P6\n# comment\n2 1\n255\n\x01\x02\x03\xfd\xfe\xff";
    kiln_tensor *in = bytes(p6, sizeof p6 - 1);
    decode("RGB", in, (const uint8_t[]){1, 2, 3, 253, 254, 255}, 1, 2, 3);
    kn_tensor_free(in);
    /* ASCII grey: replicated to RGB, unchanged as Grayscale */
    const char p2[] = "P2 3 1 255 0 128\n255";
    in = bytes(p2, sizeof p2 - 1);
    decode("RGB", in, (const uint8_t[]){0, 0, 0, 128, 128, 128, 255, 255, 255}, 1, 3, 3);
    decode("Grayscale", in, (const uint8_t[]){0, 128, 255}, 1, 3, 1);
    kn_tensor_free(in);
    kt_node *n = kt_node_new("ImageDecoder", 20);
    kiln_tensor *out[1];
    const char *bad[] = {"P6 2 1 255\n\x01\x02", "P3 1 1 255 1 2 300", "P6 1 1 65535\n\0\0\0\0\0\0", "P4 1 1\n\0"};
    kiln_status want[] = {KILN_ERROR_PARSE, KILN_ERROR_PARSE, KILN_ERROR_UNSUPPORTED, KILN_ERROR_UNSUPPORTED};
    for (int i = 0; i < 4; i++) {
        in = bytes(bad[i], strlen(bad[i]) + (i == 2 ? 6 : 0));
        assert_int_equal(kt_run(n, 1, &in, 1, out), want[i]);
        kn_tensor_free(in);
    }
    kt_node_free(n);
}

static void test_corrupt_streams(void **state)
{
    (void)state;
    /* signatures of each format followed by garbage */
    static const struct {
        const char *d;
        size_t n;
    } cases[] = {
        {"\xff\xd8\xff\xe0garbage-jpeg-data", 21},
        {"\x89PNG\r\n\x1a\ngarbage-png", 19},
        {"II*\0\x08\0\0\0\xff\xff garbage", 19},
        {"MM\0*\0\0\0\x08", 8},
        {"RIFF\x10\0\0\0WEBPVP8 garbage", 23},
        {"\0\0\0\x0cjP  \r\n\x87\ngarbage-jp2", 23},
        {"\xff\x4f\xff\x51\0\0", 6},
        {"GIF89a", 6},
        {"", 0},
    };
    kt_node *n = kt_node_new("ImageDecoder", 20);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kiln_tensor *in = bytes(cases[i].d, cases[i].n), *out[1];
        kiln_status s = kt_run(n, 1, &in, 1, out);
        if (s == KILN_OK)
            fail_msg("case %zu decoded", i);
        assert_true(s == KILN_ERROR_PARSE || s == KILN_ERROR_UNSUPPORTED);
        assert_non_null(strstr(kn_error_message(), "test_node"));
        kn_tensor_free(in);
    }
    kt_node_free(n);
}

static void test_refused_attributes_and_shapes(void **state)
{
    (void)state;
    uint8_t b[128];
    kiln_tensor *in = bytes(b, make_bmp(b, 24)), *out[1];
    kt_node *n = kt_node_new("ImageDecoder", 20);
    kt_attr_string(n, "pixel_format", "RGBA");
    assert_int_equal(kt_run(n, 1, &in, 1, out), KILN_ERROR_MODEL);
    kt_node_free(n);
    n = kt_node_new("ImageDecoder", 20);
    kiln_tensor *two_d = kt_tensor(KILN_DTYPE_UINT8, KT_DIMS(1, 70), b);
    assert_int_equal(kt_run(n, 1, &two_d, 1, out), KILN_ERROR_SHAPE);
    kiln_tensor *f = kt_f32(KT_DIMS(2), NULL);
    assert_int_equal(kt_run(n, 1, &f, 1, out), KILN_ERROR_DTYPE);
    kn_tensor_free(f);
    kn_tensor_free(two_d);
    kn_tensor_free(in);
    kt_node_free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bmp_layouts_and_formats),
        cmocka_unit_test(test_pnm),
        cmocka_unit_test(test_corrupt_streams),
        cmocka_unit_test(test_refused_attributes_and_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
