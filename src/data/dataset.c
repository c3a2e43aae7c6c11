/* kiln_dataset: batches of float32 samples from a .npy array, a folder of
 * tensor files or a folder of images. At most one batch and one source file
 * are held in memory at a time. All samples must share one shape; the
 * first sample fixes it and any other shape is refused naming the file. */
#include "data/data.h"

#include "onnx/onnx_import.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

typedef enum ds_kind { DS_NPY, DS_TENSORS, DS_IMAGES } ds_kind;

struct kiln_dataset {
    ds_kind kind;
    kiln_dataset_config cfg;
    char *path;
    /* npy array */
    kn_npy_stream npy;
    int64_t next_index;
    /* folders */
    char **files;
    size_t n_files, next_file;
    kiln_tensor *cur; /* tensor file being consumed */
    int64_t cur_pos, cur_count;
    const char *cur_name;
    /* sample shape, fixed by the first sample */
    bool have_shape;
    int s_rank;
    int64_t s_dims[KN_MAX_RANK];
    size_t s_elems;
    char *shape_from;
};

static bool has_ext(const char *name, const char *ext)
{
    size_t n = strlen(name), e = strlen(ext);
    return n > e && strcasecmp(name + n - e, ext) == 0;
}

static bool is_tensor_file(const char *name)
{
    return has_ext(name, ".npy") || has_ext(name, ".pb");
}

static bool is_image_file(const char *name)
{
    return has_ext(name, ".jpg") || has_ext(name, ".jpeg") || has_ext(name, ".png");
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = kn_malloc(a + b + 2);
    if (!p)
        return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

static kiln_status list_folder(kiln_dataset *d)
{
    DIR *dir = opendir(d->path);
    if (!dir)
        return kn_error(KILN_ERROR_IO, "%s: cannot open folder: %s", d->path, strerror(errno));
    size_t n_tensor = 0, n_image = 0, cap = 0;
    kiln_status st = KILN_OK;
    struct dirent *e;
    while (st == KILN_OK && (e = readdir(dir))) {
        if (e->d_name[0] == '.')
            continue;
        bool t = is_tensor_file(e->d_name), im = is_image_file(e->d_name);
        if (!t && !im)
            continue;
        n_tensor += t;
        n_image += im;
        if (d->n_files == cap) {
            cap = cap ? cap * 2 : 64;
            char **f = kn_realloc(d->files, cap * sizeof *f);
            if (!f) {
                st = KN_NOMEM();
                break;
            }
            d->files = f;
        }
        d->files[d->n_files] = join(d->path, e->d_name);
        if (!d->files[d->n_files])
            st = KN_NOMEM();
        else
            d->n_files++;
    }
    closedir(dir);
    if (st != KILN_OK)
        return st;
    if (d->n_files == 0)
        return kn_error(KILN_ERROR_ARGUMENT, "%s: the folder has no .npy, .pb, .jpg, .jpeg or .png files", d->path);
    if (n_tensor && n_image)
        return kn_error(KILN_ERROR_ARGUMENT, "%s: the folder mixes tensor files (%zu) and images (%zu)", d->path,
                        n_tensor, n_image);
    d->kind = n_image ? DS_IMAGES : DS_TENSORS;
    if (d->kind == DS_IMAGES && !kn_image_supported())
        return kn_error(KILN_ERROR_UNSUPPORTED, "%s: this kiln was built without libjpeg/libpng image support", d->path);
    qsort(d->files, d->n_files, sizeof *d->files, by_name);
    return KILN_OK;
}

KILN_API void kiln_dataset_config_init(kiln_dataset_config *c)
{
    if (!c)
        return;
    memset(c, 0, sizeof *c);
    c->struct_size = sizeof *c;
    c->batch_size = 32;
    for (int k = 0; k < 3; k++)
        c->std[k] = 1.0f;
}

KILN_API void kiln_dataset_release(kiln_dataset *d)
{
    if (!d)
        return;
    kn_npy_stream_close(&d->npy);
    for (size_t i = 0; i < d->n_files; i++)
        kn_free(d->files[i]);
    kn_free(d->files);
    kn_tensor_free(d->cur);
    kn_free(d->shape_from);
    kn_free(d->path);
    kn_free(d);
}

static kiln_status check_config(const kiln_dataset_config *c)
{
    if (c->struct_size < sizeof *c)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_dataset_config: struct_size %zu is too small; use "
                                             "kiln_dataset_config_init", c->struct_size);
    if (c->batch_size == 0 || c->batch_size > (1u << 24))
        return kn_error(KILN_ERROR_ARGUMENT, "batch size %zu out of range [1, %u]", c->batch_size, 1u << 24);
    if (c->sample_rank < 0 || c->sample_rank >= KN_MAX_RANK)
        return kn_error(KILN_ERROR_ARGUMENT, "sample rank %d out of range [0, %d]", c->sample_rank, KN_MAX_RANK - 1);
    if (c->resize < 0 || c->crop < 0 || c->resize > 65536 || c->crop > 65536)
        return kn_error(KILN_ERROR_ARGUMENT, "resize %d / crop %d out of range", c->resize, c->crop);
    for (int k = 0; k < 3; k++)
        if (c->std[k] == 0 || c->std[k] != c->std[k])
            return kn_error(KILN_ERROR_ARGUMENT, "std[%d] must be a nonzero number", k);
    return KILN_OK;
}

KILN_API kiln_status kiln_dataset_open(const char *path, const kiln_dataset_config *config, kiln_dataset **out)
{
    if (!path || !out)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_dataset_open: NULL argument");
    kiln_dataset_config cfg;
    kiln_dataset_config_init(&cfg);
    if (config)
        cfg = *config;
    KN_TRY(check_config(&cfg));
    struct stat sb;
    if (stat(path, &sb) != 0)
        return kn_error(KILN_ERROR_IO, "%s: %s", path, strerror(errno));
    kiln_dataset *d = kn_calloc(1, sizeof *d);
    if (!d)
        return KN_NOMEM();
    d->cfg = cfg;
    kiln_status st = (d->path = kn_strdup(path)) ? KILN_OK : KN_NOMEM();
    if (st == KILN_OK && S_ISDIR(sb.st_mode)) {
        st = list_folder(d);
    } else if (st == KILN_OK) {
        d->kind = DS_NPY;
        st = kn_npy_stream_open(path, &d->npy);
        if (st == KILN_OK && cfg.sample_rank > 0 && d->npy.rank != cfg.sample_rank + 1)
            st = kn_error(KILN_ERROR_SHAPE, "%s: array has rank %d; expected [N, ...] of rank %d", path, d->npy.rank,
                          cfg.sample_rank + 1);
        if (st == KILN_OK) {
            d->have_shape = true;
            d->s_rank = d->npy.rank - 1;
            memcpy(d->s_dims, d->npy.dims + 1, (size_t)d->s_rank * sizeof(int64_t));
            d->s_elems = d->npy.sample_bytes / (d->npy.dtype == KILN_DTYPE_FLOAT ? 4 : 8);
        }
    }
    if (st != KILN_OK) {
        kiln_dataset_release(d);
        return st;
    }
    *out = d;
    return KILN_OK;
}

KILN_API kiln_status kiln_dataset_rewind(kiln_dataset *d)
{
    if (!d)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_dataset_rewind: NULL argument");
    d->next_index = 0;
    d->next_file = 0;
    kn_tensor_free(d->cur);
    d->cur = NULL;
    d->cur_pos = d->cur_count = 0;
    return KILN_OK;
}

KILN_API int64_t kiln_dataset_sample_count(const kiln_dataset *d)
{
    if (!d)
        return -1;
    if (d->kind == DS_NPY)
        return d->npy.dims[0];
    if (d->kind == DS_IMAGES || d->cfg.sample_rank == 0)
        return (int64_t)d->n_files;
    return -1;
}

KILN_API const char *kiln_dataset_kind(const kiln_dataset *d)
{
    if (!d)
        return "";
    return d->kind == DS_NPY ? "npy array" : d->kind == DS_IMAGES ? "images" : "tensor files";
}

static kiln_status set_or_check_shape(kiln_dataset *d, int rank, const int64_t *dims, const char *file)
{
    if (!d->have_shape) {
        size_t elems = 1;
        for (int i = 0; i < rank; i++)
            if (dims[i] < 0 || !kn_mul_size(elems, (size_t)dims[i], &elems))
                return kn_error(KILN_ERROR_SHAPE, "%s: sample size overflows", file);
        if (elems == 0)
            return kn_error(KILN_ERROR_SHAPE, "%s: samples are empty", file);
        d->have_shape = true;
        d->s_rank = rank;
        memcpy(d->s_dims, dims, (size_t)rank * sizeof(int64_t));
        d->s_elems = elems;
        kn_free(d->shape_from);
        d->shape_from = kn_strdup(file);
        return d->shape_from ? KILN_OK : KN_NOMEM();
    }
    bool same = rank == d->s_rank;
    for (int i = 0; same && i < rank; i++)
        same = dims[i] == d->s_dims[i];
    if (!same) {
        kiln_tensor a, b;
        memset(&a, 0, sizeof a);
        memset(&b, 0, sizeof b);
        a.rank = rank;
        memcpy(a.dims, dims, (size_t)rank * sizeof(int64_t));
        b.rank = d->s_rank;
        memcpy(b.dims, d->s_dims, (size_t)d->s_rank * sizeof(int64_t));
        char sa[128], sb[128];
        return kn_error(KILN_ERROR_SHAPE, "%s: sample shape %s differs from %s in %s (mixed shapes)", file,
                        kn_shape_str(&a, sa, sizeof sa), kn_shape_str(&b, sb, sizeof sb),
                        d->shape_from ? d->shape_from : "the first file");
    }
    return KILN_OK;
}

/* Load the next tensor file as float32 into d->cur; false at the end. */
static kiln_status load_tensor_file(kiln_dataset *d, bool *done)
{
    if (d->next_file >= d->n_files) {
        *done = true;
        return KILN_OK;
    }
    const char *file = d->files[d->next_file++];
    kiln_tensor *t = NULL;
    KN_TRY(kiln_tensor_read_file(file, &t));
    kiln_status st = KILN_OK;
    if (t->dtype == KILN_DTYPE_DOUBLE) {
        kiln_tensor *f = NULL;
        st = kn_tensor_new(KILN_DTYPE_FLOAT, t->rank, t->dims, &f);
        if (st == KILN_OK) {
            int64_t n = kn_tensor_count(t);
            for (int64_t i = 0; i < n; i++)
                ((float *)f->data)[i] = (float)((const double *)t->data)[i];
            kn_tensor_free(t);
            t = f;
        }
    } else if (t->dtype != KILN_DTYPE_FLOAT) {
        st = kn_error(KILN_ERROR_DTYPE, "%s: tensor is %s; expected float32 or float64", file,
                      kiln_dtype_name(t->dtype));
    }
    int sr = d->cfg.sample_rank;
    bool batch = false;
    if (st == KILN_OK) {
        if (sr == 0 || t->rank == sr)
            batch = false;
        else if (t->rank == sr + 1)
            batch = true;
        else
            st = kn_error(KILN_ERROR_SHAPE, "%s: tensor has rank %d; expected one sample of rank %d or a batch of "
                                            "rank %d", file, t->rank, sr, sr + 1);
    }
    if (st == KILN_OK && batch && t->dims[0] < 1)
        st = kn_error(KILN_ERROR_SHAPE, "%s: batch holds no samples", file);
    if (st == KILN_OK)
        st = batch ? set_or_check_shape(d, t->rank - 1, t->dims + 1, file) : set_or_check_shape(d, t->rank, t->dims, file);
    if (st != KILN_OK) {
        kn_tensor_free(t);
        return st;
    }
    kn_tensor_free(d->cur);
    d->cur = t;
    d->cur_pos = 0;
    d->cur_count = batch ? t->dims[0] : 1;
    d->cur_name = file;
    *done = false;
    return KILN_OK;
}

static kiln_status load_image(kiln_dataset *d, const char *file, float **sample, size_t *elems)
{
    void *bytes = NULL;
    size_t size = 0;
    KN_TRY(kn_read_file(file, (size_t)1 << 30, &bytes, &size));
    kn_image img = {0, 0, NULL};
    kiln_status st = kn_image_decode(bytes, size, file, &img);
    kn_free(bytes);
    if (st != KILN_OK)
        return st;
    int oh = 0, ow = 0;
    st = kn_image_out_size(&d->cfg, img.width, img.height, file, &oh, &ow);
    if (st == KILN_OK) {
        int64_t dims[3] = {3, oh, ow};
        st = set_or_check_shape(d, 3, dims, file);
    }
    float *buf = NULL;
    if (st == KILN_OK && !(buf = kn_malloc(d->s_elems * sizeof(float))))
        st = KN_NOMEM();
    if (st == KILN_OK)
        kn_image_preprocess(&d->cfg, &img, oh, ow, buf);
    kn_free(img.rgb);
    if (st != KILN_OK)
        return st;
    *sample = buf;
    *elems = d->s_elems;
    return KILN_OK;
}

static kiln_status new_batch(kiln_dataset *d, int64_t n, kiln_tensor **out)
{
    int64_t dims[KN_MAX_RANK];
    if (d->s_rank + 1 > KN_MAX_RANK)
        return kn_error(KILN_ERROR_UNSUPPORTED, "%s: samples of rank %d are too deep", d->path, d->s_rank);
    dims[0] = n;
    memcpy(dims + 1, d->s_dims, (size_t)d->s_rank * sizeof(int64_t));
    return kn_tensor_new(KILN_DTYPE_FLOAT, d->s_rank + 1, dims, out);
}

/* A batch tensor built before the sample count was known is shrunk to n. */
static void shrink(kiln_tensor *t, int64_t n, size_t elems)
{
    t->dims[0] = n;
    t->nbytes = (size_t)n * elems * sizeof(float);
}

static kiln_status next_npy(kiln_dataset *d, kiln_tensor **out)
{
    int64_t left = d->npy.dims[0] - d->next_index;
    if (left <= 0) {
        *out = NULL;
        return KILN_OK;
    }
    int64_t n = (int64_t)d->cfg.batch_size < left ? (int64_t)d->cfg.batch_size : left;
    kiln_tensor *t = NULL;
    KN_TRY(new_batch(d, n, &t));
    kiln_status st = kn_npy_stream_read(&d->npy, d->next_index, n, t->data);
    if (st != KILN_OK) {
        kn_tensor_free(t);
        return st;
    }
    d->next_index += n;
    *out = t;
    return KILN_OK;
}

static kiln_status next_tensors(kiln_dataset *d, kiln_tensor **out)
{
    kiln_tensor *t = NULL;
    int64_t have = 0, want = (int64_t)d->cfg.batch_size;
    while (have < want) {
        if (!d->cur || d->cur_pos >= d->cur_count) {
            bool done = false;
            kiln_status st = load_tensor_file(d, &done);
            if (st != KILN_OK) {
                kn_tensor_free(t);
                return st;
            }
            if (done)
                break;
        }
        if (!t) {
            kiln_status st = new_batch(d, want, &t);
            if (st != KILN_OK)
                return st;
        }
        int64_t take = d->cur_count - d->cur_pos;
        if (take > want - have)
            take = want - have;
        memcpy((float *)t->data + (size_t)have * d->s_elems, (const float *)d->cur->data + (size_t)d->cur_pos * d->s_elems,
               (size_t)take * d->s_elems * sizeof(float));
        have += take;
        d->cur_pos += take;
    }
    if (t)
        shrink(t, have, d->s_elems);
    *out = t;
    return KILN_OK;
}

static kiln_status next_images(kiln_dataset *d, kiln_tensor **out)
{
    kiln_tensor *t = NULL;
    int64_t have = 0, want = (int64_t)d->cfg.batch_size;
    while (have < want && d->next_file < d->n_files) {
        const char *file = d->files[d->next_file];
        float *sample = NULL;
        size_t elems = 0;
        kiln_status st = load_image(d, file, &sample, &elems);
        if (st == KILN_OK && !t)
            st = new_batch(d, want, &t);
        if (st != KILN_OK) {
            kn_free(sample);
            kn_tensor_free(t);
            return st;
        }
        memcpy((float *)t->data + (size_t)have * elems, sample, elems * sizeof(float));
        kn_free(sample);
        have++;
        d->next_file++;
    }
    if (t)
        shrink(t, have, d->s_elems);
    *out = t;
    return KILN_OK;
}

KILN_API kiln_status kiln_dataset_next(kiln_dataset *d, kiln_tensor **batch)
{
    if (!d || !batch)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_dataset_next: NULL argument");
    switch (d->kind) {
    case DS_NPY:
        return next_npy(d, batch);
    case DS_TENSORS:
        return next_tensors(d, batch);
    default:
        return next_images(d, batch);
    }
}
