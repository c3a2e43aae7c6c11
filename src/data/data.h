/* Calibration data readers behind kiln_dataset: streamed .npy arrays,
 * folders of tensor files and folders of images. */
#ifndef KN_DATA_H
#define KN_DATA_H

#include "core/core.h"

#include "kiln.h"

#include <stdio.h>

/* ---- streamed .npy (npy_stream.c) ---- */
typedef struct kn_npy_stream {
    FILE *f;
    char *path;
    kiln_dtype dtype; /* FLOAT or DOUBLE in the file */
    bool big_endian;
    int rank;
    int64_t dims[KN_MAX_RANK];
    uint64_t data_offset;
    size_t sample_bytes; /* one entry of the first axis, in the file */
} kn_npy_stream;

/* Open and check the header and the file size; nothing else is read. */
kiln_status kn_npy_stream_open(const char *path, kn_npy_stream *s);
/* Read count entries of the first axis from index first into dst as float32. */
kiln_status kn_npy_stream_read(kn_npy_stream *s, int64_t first, int64_t count, float *dst);
void kn_npy_stream_close(kn_npy_stream *s);

/* ---- images (image.c) ---- */
typedef struct kn_image {
    int width, height;
    uint8_t *rgb; /* width * height * 3, kn_malloc'd */
} kn_image;

/* Images larger than this many pixels are refused (a hostile header could
 * otherwise ask for gigabytes). */
#define KN_IMAGE_MAX_PIXELS ((size_t)1 << 28)

bool kn_image_supported(void);
/* Decode a JPEG, PNG, BMP, PNM, TIFF, WebP or JPEG 2000 image (detected
 * from the bytes) to 8-bit RGB; grey images get three equal channels. */
kiln_status kn_image_decode(const void *data, size_t size, const char *label, kn_image *out);
/* The decoders for the formats beyond JPEG and PNG (image_formats.c). */
kiln_status kn_image_decode_bmp(const uint8_t *d, size_t size, const char *label, kn_image *out);
kiln_status kn_image_decode_pnm(const uint8_t *d, size_t size, const char *label, kn_image *out);
kiln_status kn_image_decode_tiff(const uint8_t *d, size_t size, const char *label, kn_image *out);
kiln_status kn_image_decode_webp(const uint8_t *d, size_t size, const char *label, kn_image *out);
kiln_status kn_image_decode_jp2(const uint8_t *d, size_t size, const char *label, kn_image *out);
/* Output shape [3, oh, ow] of preprocess for a width x height image. */
kiln_status kn_image_out_size(const kiln_dataset_config *c, int width, int height, const char *label, int *oh,
                              int *ow);
/* Resize (shorter side), center crop, scale, normalize, CHW float32. dst
 * holds 3 * oh * ow floats as given by kn_image_out_size. */
void kn_image_preprocess(const kiln_dataset_config *c, const kn_image *img, int oh, int ow, float *dst);

#endif
