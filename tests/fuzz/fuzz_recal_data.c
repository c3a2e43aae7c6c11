/* libFuzzer: the recalibration readers. The first byte picks the reader,
 * the rest is the file content:
 *   0  a .npy array dataset (streamed, batch by batch)
 *   1  an image folder with one .png / .jpg (decode, resize, crop)
 *   2  a tensor-file folder with one .pb sample
 *   3  model bytes for a recalibration session (kiln_recal_create_buffer)
 * The dataset readers take paths, so the bytes go to a private temp folder. */
#include "kiln.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char folder[64];

static void write_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
}

static void drain(const char *path, const kiln_dataset_config *cfg)
{
    kiln_dataset *d = NULL;
    if (kiln_dataset_open(path, cfg, &d) != KILN_OK)
        return;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < 8; i++) {
            kiln_tensor *b = NULL;
            if (kiln_dataset_next(d, &b) != KILN_OK || !b)
                break;
            const float *p = kiln_tensor_const_data(b);
            volatile float sum = 0;
            for (int64_t k = 0; k < kiln_tensor_element_count(b); k++)
                sum += p[k];
            (void)sum;
            kiln_tensor_release(b);
        }
        if (kiln_dataset_rewind(d) != KILN_OK)
            break;
    }
    kiln_dataset_release(d);
}

static void clean_folder(void)
{
    static const char *names[] = {"a.npy", "img/x.png", "img/x.jpg", "t/s.pb"};
    char p[128];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", folder, names[i]);
        unlink(p);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!folder[0]) {
        snprintf(folder, sizeof folder, "%s/kiln-fuzz-recal-%d", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp",
                 (int)getpid());
        char p[128];
        snprintf(p, sizeof p, "mkdir -p '%s/img' '%s/t'", folder, folder);
        if (system(p) != 0)
            abort();
    }
    if (size < 1)
        return 0;
    const uint8_t *body = data + 1;
    size_t n = size - 1;
    kiln_dataset_config cfg;
    kiln_dataset_config_init(&cfg);
    cfg.batch_size = 3;
    char path[128];
    clean_folder();
    switch (data[0] & 3) {
    case 0:
        snprintf(path, sizeof path, "%s/a.npy", folder);
        write_file(path, body, n);
        drain(path, &cfg);
        break;
    case 1: {
        /* a PNG or JPEG by its magic, with small resize / crop settings */
        bool png = n >= 4 && memcmp(body, "\x89PNG", 4) == 0;
        snprintf(path, sizeof path, "%s/img/x.%s", folder, png ? "png" : "jpg");
        write_file(path, body, n);
        cfg.resize = (data[0] >> 2) & 15;
        cfg.crop = (data[0] >> 6) & 3;
        snprintf(path, sizeof path, "%s/img", folder);
        drain(path, &cfg);
        break;
    }
    case 2:
        snprintf(path, sizeof path, "%s/t/s.pb", folder);
        write_file(path, body, n);
        cfg.sample_rank = (data[0] >> 2) & 3;
        snprintf(path, sizeof path, "%s/t", folder);
        drain(path, &cfg);
        break;
    default: {
        kiln_recal_config rc;
        kiln_recal_config_init(&rc);
        rc.threads = 1;
        kiln_recal *r = NULL;
        if (kiln_recal_create_buffer(n ? (const void *)body : "", n, NULL, &rc, &r) == KILN_OK) {
            size_t layers = kiln_recal_layer_count(r);
            for (size_t i = 0; i < layers; i++) {
                kiln_recal_layer l;
                kiln_recal_layer_get(r, i, &l);
            }
            kiln_recal_release(r);
        }
        break;
    }
    }
    return 0;
}
