/* Decoders behind kn_image_decode for the formats beyond JPEG and PNG:
 * BMP and PNM (simple enough to read directly), TIFF (libtiff), WebP
 * (libwebp) and JPEG 2000 (OpenJPEG). All produce 8-bit RGB; grey images
 * are replicated to three channels. The libraries' messages go to handlers
 * attached to the one decode (never to stderr) and become the error text.
 * Dimensions are checked against KN_IMAGE_MAX_PIXELS before any pixel
 * buffer is allocated. */
#include "data/data.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openjpeg.h>
#include <tiffio.h>
#include <webp/decode.h>

static kiln_status alloc_rgb(uint64_t w, uint64_t h, const char *label, const char *fmt, kn_image *out)
{
    if (w == 0 || h == 0 || w > INT32_MAX || h > INT32_MAX || w * h > KN_IMAGE_MAX_PIXELS)
        return kn_error(KILN_ERROR_UNSUPPORTED, "%s: %s of %llux%llu pixels is not supported", label, fmt,
                        (unsigned long long)w, (unsigned long long)h);
    out->rgb = kn_malloc((size_t)(w * h * 3));
    if (!out->rgb)
        return KN_NOMEM();
    out->width = (int)w;
    out->height = (int)h;
    return KILN_OK;
}

static void free_rgb(kn_image *img)
{
    kn_free(img->rgb);
    img->rgb = NULL;
}

/* ---- BMP ------------------------------------------------------------------
 * Windows bitmaps with a BITMAPINFOHEADER (or a later, longer header):
 * uncompressed 1/4/8-bit palette, 24-bit BGR and 32-bit BGRX; bottom-up
 * or top-down. RLE and bit-field layouts are refused. */

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

kiln_status kn_image_decode_bmp(const uint8_t *d, size_t size, const char *label, kn_image *out)
{
    if (size < 54)
        return kn_error(KILN_ERROR_PARSE, "%s: BMP is truncated", label);
    uint32_t data_off = le32(d + 10), hdr = le32(d + 14);
    if (hdr < 40 || hdr > size - 14)
        return kn_error(KILN_ERROR_UNSUPPORTED, "%s: BMP header of %u bytes is not supported", label, hdr);
    int32_t w = (int32_t)le32(d + 18), h = (int32_t)le32(d + 22);
    uint16_t bpp = le16(d + 28);
    uint32_t comp = le32(d + 30), colors = le32(d + 46);
    bool top_down = h < 0;
    int64_t aw = w, ah = top_down ? -(int64_t)h : h;
    if (comp != 0 && !(comp == 3 && bpp == 32))
        return kn_error(KILN_ERROR_UNSUPPORTED, "%s: compressed BMP (method %u) is not supported", label, comp);
    if (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 24 && bpp != 32)
        return kn_error(KILN_ERROR_UNSUPPORTED, "%s: %u-bit BMP is not supported", label, bpp);
    if (comp == 3) {
        /* bit fields: only the usual X8R8G8B8 layout */
        if (size < 66 || le32(d + 54) != 0xff0000u || le32(d + 58) != 0xff00u || le32(d + 62) != 0xffu)
            return kn_error(KILN_ERROR_UNSUPPORTED, "%s: BMP bit-field layout is not supported", label);
    }
    if (aw <= 0 || ah <= 0)
        return kn_error(KILN_ERROR_PARSE, "%s: BMP has size %lldx%lld", label, (long long)aw, (long long)ah);
    const uint8_t *palette = d + 14 + hdr;
    if (bpp <= 8) {
        if (colors == 0 || colors > (1u << bpp))
            colors = 1u << bpp;
        if ((size_t)(palette - d) + (size_t)colors * 4 > size)
            return kn_error(KILN_ERROR_PARSE, "%s: BMP palette is truncated", label);
    }
    uint64_t stride = (((uint64_t)aw * bpp + 31) / 32) * 4;
    if (data_off > size || (uint64_t)ah > (size - data_off) / stride)
        return kn_error(KILN_ERROR_PARSE, "%s: BMP pixel data is truncated", label);
    KN_TRY(alloc_rgb((uint64_t)aw, (uint64_t)ah, label, "BMP", out));
    for (int64_t y = 0; y < ah; y++) {
        const uint8_t *row = d + data_off + (uint64_t)(top_down ? y : ah - 1 - y) * stride;
        uint8_t *o = out->rgb + (size_t)y * (size_t)aw * 3;
        for (int64_t x = 0; x < aw; x++, o += 3) {
            const uint8_t *px;
            if (bpp >= 24) {
                px = row + x * (bpp / 8);
            } else {
                uint32_t bit = (uint32_t)(x * bpp), idx = (row[bit / 8] >> (8 - bpp - bit % 8)) & ((1u << bpp) - 1);
                if (idx >= colors) {
                    free_rgb(out);
                    return kn_error(KILN_ERROR_PARSE, "%s: BMP pixel refers to palette entry %u of %u", label, idx,
                                    colors);
                }
                px = palette + idx * 4;
            }
            o[0] = px[2];
            o[1] = px[1];
            o[2] = px[0];
        }
    }
    return KILN_OK;
}

/* ---- PNM ------------------------------------------------------------------
 * P2/P5 (grey) and P3/P6 (RGB), ASCII or binary, with maxval 255. */

static bool pnm_int(const uint8_t *d, size_t size, size_t *i, uint64_t *v)
{
    for (;;) {
        while (*i < size && (d[*i] == ' ' || (d[*i] >= '\t' && d[*i] <= '\r')))
            (*i)++;
        if (*i < size && d[*i] == '#') {
            while (*i < size && d[*i] != '\n')
                (*i)++;
            continue;
        }
        break;
    }
    if (*i >= size || d[*i] < '0' || d[*i] > '9')
        return false;
    uint64_t n = 0;
    while (*i < size && d[*i] >= '0' && d[*i] <= '9') {
        if (n > UINT32_MAX)
            return false;
        n = n * 10 + (uint64_t)(d[*i] - '0');
        (*i)++;
    }
    *v = n;
    return true;
}

kiln_status kn_image_decode_pnm(const uint8_t *d, size_t size, const char *label, kn_image *out)
{
    char kind = size >= 2 ? (char)d[1] : 0;
    if (kind != '2' && kind != '3' && kind != '5' && kind != '6')
        return kn_error(KILN_ERROR_UNSUPPORTED, "%s: PNM type P%c is not supported", label, kind ? kind : '?');
    size_t i = 2;
    uint64_t w, h, maxval;
    if (!pnm_int(d, size, &i, &w) || !pnm_int(d, size, &i, &h) || !pnm_int(d, size, &i, &maxval))
        return kn_error(KILN_ERROR_PARSE, "%s: PNM header is malformed", label);
    if (maxval != 255)
        return kn_error(KILN_ERROR_UNSUPPORTED, "%s: PNM with maxval %llu is not supported (only 255)", label,
                        (unsigned long long)maxval);
    int ch = kind == '3' || kind == '6' ? 3 : 1;
    bool binary = kind == '5' || kind == '6';
    i++; /* the single whitespace byte after maxval */
    KN_TRY(alloc_rgb(w, h, label, "PNM", out));
    size_t n = (size_t)(w * h) * (size_t)ch;
    if (binary && (i > size || size - i < n)) {
        free_rgb(out);
        return kn_error(KILN_ERROR_PARSE, "%s: PNM pixel data is truncated", label);
    }
    if (!binary)
        i--;
    for (size_t p = 0; p < (size_t)(w * h); p++)
        for (int c = 0; c < 3; c++) {
            if (c >= ch) {
                out->rgb[p * 3 + c] = out->rgb[p * 3];
                continue;
            }
            uint64_t v;
            if (binary) {
                v = d[i++];
            } else if (!pnm_int(d, size, &i, &v) || v > 255) {
                free_rgb(out);
                return kn_error(KILN_ERROR_PARSE, "%s: PNM sample %zu is missing or above 255", label, p);
            }
            out->rgb[p * 3 + c] = (uint8_t)v;
        }
    return KILN_OK;
}

/* ---- TIFF (libtiff from memory) ---------------------------------------- */

typedef struct mem_file {
    const uint8_t *data;
    size_t size, pos;
    char message[256];
} mem_file;

static tmsize_t tiff_read(thandle_t h, void *buf, tmsize_t n)
{
    mem_file *f = h;
    size_t left = f->size - f->pos, k = n < 0 ? 0 : KN_MIN((size_t)n, left);
    memcpy(buf, f->data + f->pos, k);
    f->pos += k;
    return (tmsize_t)k;
}

static tmsize_t tiff_write(thandle_t h, void *buf, tmsize_t n)
{
    KN_UNUSED(h);
    KN_UNUSED(buf);
    KN_UNUSED(n);
    return -1;
}

static toff_t tiff_seek(thandle_t h, toff_t off, int whence)
{
    mem_file *f = h;
    uint64_t base = whence == SEEK_CUR ? f->pos : whence == SEEK_END ? f->size : 0;
    if (off > UINT64_MAX - base || base + off > f->size)
        return (toff_t)-1;
    f->pos = (size_t)(base + off);
    return f->pos;
}

static int tiff_close(thandle_t h)
{
    KN_UNUSED(h);
    return 0;
}

static toff_t tiff_size(thandle_t h)
{
    return ((mem_file *)h)->size;
}

static int tiff_map(thandle_t h, void **base, toff_t *size)
{
    KN_UNUSED(h);
    KN_UNUSED(base);
    KN_UNUSED(size);
    return 0;
}

static void tiff_unmap(thandle_t h, void *base, toff_t size)
{
    KN_UNUSED(h);
    KN_UNUSED(base);
    KN_UNUSED(size);
}

static int tiff_error(TIFF *t, void *user, const char *module, const char *fmt, va_list ap)
{
    KN_UNUSED(t);
    KN_UNUSED(module);
    mem_file *f = user;
    if (!f->message[0])
        vsnprintf(f->message, sizeof f->message, fmt, ap);
    return 1; /* handled: libtiff prints nothing */
}

static int tiff_warning(TIFF *t, void *user, const char *module, const char *fmt, va_list ap)
{
    KN_UNUSED(t);
    KN_UNUSED(user);
    KN_UNUSED(module);
    KN_UNUSED(fmt);
    KN_UNUSED(ap);
    return 1;
}

kiln_status kn_image_decode_tiff(const uint8_t *d, size_t size, const char *label, kn_image *out)
{
    mem_file f = {.data = d, .size = size};
    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    if (!opts)
        return KN_NOMEM();
    TIFFOpenOptionsSetErrorHandlerExtR(opts, tiff_error, &f);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, tiff_warning, &f);
    TIFF *t = TIFFClientOpenExt(label, "rm", &f, tiff_read, tiff_write, tiff_seek, tiff_close, tiff_size, tiff_map,
                                tiff_unmap, opts);
    TIFFOpenOptionsFree(opts);
    if (!t)
        return kn_error(KILN_ERROR_PARSE, "%s: TIFF decoding failed: %s", label, f.message);
    uint32_t w = 0, h = 0;
    TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h);
    kiln_status s = alloc_rgb(w, h, label, "TIFF", out);
    uint32_t *rgba = NULL;
    if (s == KILN_OK) {
        rgba = kn_malloc((size_t)w * h * sizeof(uint32_t));
        if (!rgba)
            s = KN_NOMEM();
    }
    if (s == KILN_OK && !TIFFReadRGBAImageOriented(t, w, h, rgba, ORIENTATION_TOPLEFT, 0))
        s = kn_error(KILN_ERROR_PARSE, "%s: TIFF decoding failed: %s", label, f.message);
    if (s == KILN_OK)
        for (size_t p = 0; p < (size_t)w * h; p++) {
            out->rgb[p * 3 + 0] = (uint8_t)TIFFGetR(rgba[p]);
            out->rgb[p * 3 + 1] = (uint8_t)TIFFGetG(rgba[p]);
            out->rgb[p * 3 + 2] = (uint8_t)TIFFGetB(rgba[p]);
        }
    else
        free_rgb(out);
    kn_free(rgba);
    TIFFClose(t);
    return s;
}

/* ---- WebP -------------------------------------------------------------- */

kiln_status kn_image_decode_webp(const uint8_t *d, size_t size, const char *label, kn_image *out)
{
    int w, h;
    if (!WebPGetInfo(d, size, &w, &h))
        return kn_error(KILN_ERROR_PARSE, "%s: not a decodable WebP image", label);
    KN_TRY(alloc_rgb((uint64_t)w, (uint64_t)h, label, "WebP", out));
    if (!WebPDecodeRGBInto(d, size, out->rgb, (size_t)w * (size_t)h * 3, w * 3)) {
        free_rgb(out);
        return kn_error(KILN_ERROR_PARSE, "%s: WebP decoding failed", label);
    }
    return KILN_OK;
}

/* ---- JPEG 2000 (OpenJPEG) -------------------------------------------------
 * JP2 files and raw J2K codestreams with one (grey) or three (RGB)
 * unsubsampled components of 8-bit precision. */

static OPJ_SIZE_T jp2_read(void *buf, OPJ_SIZE_T n, void *user)
{
    mem_file *f = user;
    size_t k = KN_MIN((size_t)n, f->size - f->pos);
    if (k == 0)
        return (OPJ_SIZE_T)-1;
    memcpy(buf, f->data + f->pos, k);
    f->pos += k;
    return k;
}

static OPJ_OFF_T jp2_skip(OPJ_OFF_T n, void *user)
{
    mem_file *f = user;
    if (n < 0 || (uint64_t)n > f->size - f->pos)
        return -1;
    f->pos += (size_t)n;
    return n;
}

static OPJ_BOOL jp2_seek(OPJ_OFF_T n, void *user)
{
    mem_file *f = user;
    if (n < 0 || (uint64_t)n > f->size)
        return OPJ_FALSE;
    f->pos = (size_t)n;
    return OPJ_TRUE;
}

static void jp2_error(const char *msg, void *user)
{
    mem_file *f = user;
    if (!f->message[0]) {
        snprintf(f->message, sizeof f->message, "%s", msg);
        size_t n = strlen(f->message);
        if (n && f->message[n - 1] == '\n')
            f->message[n - 1] = 0;
    }
}

static void jp2_quiet(const char *msg, void *user)
{
    KN_UNUSED(msg);
    KN_UNUSED(user);
}

kiln_status kn_image_decode_jp2(const uint8_t *d, size_t size, const char *label, kn_image *out)
{
    mem_file f = {.data = d, .size = size};
    bool raw = size >= 4 && memcmp(d, "\xff\x4f\xff\x51", 4) == 0;
    opj_codec_t *codec = opj_create_decompress(raw ? OPJ_CODEC_J2K : OPJ_CODEC_JP2);
    opj_stream_t *st = opj_stream_create(OPJ_J2K_STREAM_CHUNK_SIZE, OPJ_TRUE);
    opj_image_t *img = NULL;
    kiln_status s = KILN_OK;
    if (!codec || !st) {
        s = KN_NOMEM();
        goto done;
    }
    opj_set_error_handler(codec, jp2_error, &f);
    opj_set_warning_handler(codec, jp2_quiet, &f);
    opj_set_info_handler(codec, jp2_quiet, &f);
    opj_stream_set_user_data(st, &f, NULL);
    opj_stream_set_user_data_length(st, size);
    opj_stream_set_read_function(st, jp2_read);
    opj_stream_set_skip_function(st, jp2_skip);
    opj_stream_set_seek_function(st, jp2_seek);
    opj_dparameters_t params;
    opj_set_default_decoder_parameters(&params);
    if (!opj_setup_decoder(codec, &params) || !opj_read_header(st, codec, &img)) {
        s = kn_error(KILN_ERROR_PARSE, "%s: JPEG 2000 header is invalid: %s", label, f.message);
        goto done;
    }
    uint64_t w = img->x1 - img->x0, h = img->y1 - img->y0;
    if (img->x1 < img->x0 || img->y1 < img->y0 || w == 0 || h == 0 || w * h > KN_IMAGE_MAX_PIXELS) {
        s = kn_error(KILN_ERROR_UNSUPPORTED, "%s: JPEG 2000 of %llux%llu pixels is not supported", label,
                     (unsigned long long)w, (unsigned long long)h);
        goto done;
    }
    if (!opj_decode(codec, st, img) || !opj_end_decompress(codec, st)) {
        s = kn_error(KILN_ERROR_PARSE, "%s: JPEG 2000 decoding failed: %s", label, f.message);
        goto done;
    }
    uint32_t nc = img->numcomps;
    if (nc != 1 && nc != 3 && nc != 4) {
        s = kn_error(KILN_ERROR_UNSUPPORTED, "%s: JPEG 2000 with %u components is not supported", label, nc);
        goto done;
    }
    for (uint32_t c = 0; c < nc; c++) {
        const opj_image_comp_t *cp = &img->comps[c];
        if (cp->dx != 1 || cp->dy != 1 || cp->prec != 8 || cp->sgnd || cp->w != w || cp->h != h || !cp->data) {
            s = kn_error(KILN_ERROR_UNSUPPORTED, "%s: JPEG 2000 component %u is subsampled, signed or not 8-bit",
                         label, c);
            goto done;
        }
    }
    s = alloc_rgb(w, h, label, "JPEG 2000", out);
    if (s != KILN_OK)
        goto done;
    for (size_t p = 0; p < (size_t)(w * h); p++)
        for (int c = 0; c < 3; c++) {
            OPJ_INT32 v = img->comps[nc == 1 ? 0 : c].data[p];
            out->rgb[p * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
done:
    if (img)
        opj_image_destroy(img);
    if (st)
        opj_stream_destroy(st);
    if (codec)
        opj_destroy_codec(codec);
    return s;
}
