/* .kstats: mergeable partial sums of a recalibration shard.
 *
 * Little-endian binary:
 *   "KILNSTAT"             8 bytes magic
 *   u32 version            1
 *   u32 flags              bit 0: torch-variance sums present
 *   u64 fingerprint        FNV-1a of the BN layer names and channel counts
 *   u32 n_layers
 *   per layer:
 *     u32 name_len, name bytes
 *     u64 channels, u64 count (elements per channel), u64 batches
 *     channels x (f64 mean, f64 m2)
 *     [torch] channels x (f64 sum of batch means, f64 sum of unbiased batch variances)
 *   u64 checksum           FNV-1a of every byte before it
 *
 * Files come from other machines and schedulers: every size is checked
 * against the bytes present before anything is allocated, values must be
 * finite, and a file is merged all or nothing. */
#include "recal/recal.h"

#include <math.h>
#include <string.h>

#define KSTATS_VERSION 1u
#define KSTATS_TORCH 1u
static const char kstats_magic[8] = {'K', 'I', 'L', 'N', 'S', 'T', 'A', 'T'};

static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

#define FNV_INIT 0xcbf29ce484222325ull

uint64_t kn_recal_fingerprint(const kn_recal_layer *layers, int n_layers)
{
    uint64_t h = FNV_INIT;
    for (int i = 0; i < n_layers; i++) {
        uint8_t c[8];
        for (int k = 0; k < 8; k++)
            c[k] = (uint8_t)((uint64_t)layers[i].channels >> (8 * k));
        h = fnv(h, layers[i].name, strlen(layers[i].name) + 1);
        h = fnv(h, c, 8);
    }
    return h;
}

/* ---- writing ---- */

typedef struct writer {
    uint8_t *p;
    size_t len;
} writer;

static void put_u(writer *w, uint64_t v, int bytes)
{
    for (int k = 0; k < bytes; k++)
        w->p[w->len++] = (uint8_t)(v >> (8 * k));
}

static void put_f64(writer *w, double d)
{
    uint64_t v;
    memcpy(&v, &d, 8);
    put_u(w, v, 8);
}

kiln_status kn_kstats_encode(uint64_t fingerprint, bool torch_variance, const kn_recal_layer *layers, int n_layers,
                             void **out, size_t *size)
{
    size_t total = 8 + 4 + 4 + 8 + 4 + 8;
    for (int i = 0; i < n_layers; i++)
        total += 4 + strlen(layers[i].name) + 24 + (size_t)layers[i].channels * (torch_variance ? 32 : 16);
    writer w = {kn_malloc(total), 0};
    if (!w.p)
        return KN_NOMEM();
    memcpy(w.p, kstats_magic, 8);
    w.len = 8;
    put_u(&w, KSTATS_VERSION, 4);
    put_u(&w, torch_variance ? KSTATS_TORCH : 0, 4);
    put_u(&w, fingerprint, 8);
    put_u(&w, (uint64_t)n_layers, 4);
    for (int i = 0; i < n_layers; i++) {
        const kn_recal_layer *l = &layers[i];
        size_t n = strlen(l->name);
        put_u(&w, n, 4);
        memcpy(w.p + w.len, l->name, n);
        w.len += n;
        put_u(&w, (uint64_t)l->channels, 8);
        put_u(&w, l->acc.count, 8);
        put_u(&w, torch_variance ? l->acc.batches : 0, 8);
        for (int64_t c = 0; c < l->channels; c++) {
            put_f64(&w, l->acc.mean[c]);
            put_f64(&w, l->acc.m2[c]);
        }
        if (torch_variance)
            for (int64_t c = 0; c < l->channels; c++) {
                put_f64(&w, l->acc.sum_bmean[c]);
                put_f64(&w, l->acc.sum_uvar[c]);
            }
    }
    put_u(&w, fnv(FNV_INIT, w.p, w.len), 8);
    *out = w.p;
    *size = w.len;
    return KILN_OK;
}

/* ---- reading ---- */

typedef struct reader {
    const uint8_t *p;
    size_t left;
} reader;

static bool get_u(reader *r, int bytes, uint64_t *v)
{
    if (r->left < (size_t)bytes)
        return false;
    uint64_t x = 0;
    for (int k = 0; k < bytes; k++)
        x |= (uint64_t)r->p[k] << (8 * k);
    r->p += bytes;
    r->left -= (size_t)bytes;
    *v = x;
    return true;
}

static bool get_f64(reader *r, double *d)
{
    uint64_t v;
    if (!get_u(r, 8, &v))
        return false;
    memcpy(d, &v, 8);
    return isfinite(*d);
}

static kiln_status read_layer(reader *r, const char *label, bool torch, kn_recal_layer *l, kn_bn_accum *acc)
{
    uint64_t name_len, channels, count, batches;
    if (!get_u(r, 4, &name_len) || name_len > r->left)
        return kn_error(KILN_ERROR_PARSE, "%s: truncated layer record", label);
    const char *name = (const char *)r->p;
    if (name_len != strlen(l->name) || memcmp(name, l->name, name_len) != 0)
        return kn_error(KILN_ERROR_ARGUMENT, "%s: layer '%.*s' does not match the model's layer '%s'", label,
                        (int)(name_len > 200 ? 200 : name_len), name, l->name);
    r->p += name_len;
    r->left -= name_len;
    if (!get_u(r, 8, &channels) || !get_u(r, 8, &count) || !get_u(r, 8, &batches))
        return kn_error(KILN_ERROR_PARSE, "%s: truncated layer record for '%s'", label, l->name);
    if (channels != (uint64_t)l->channels)
        return kn_error(KILN_ERROR_ARGUMENT, "%s: layer '%s' has %llu channels, the model %lld", label, l->name,
                        (unsigned long long)channels, (long long)l->channels);
    size_t per = torch ? 32 : 16;
    if (channels > r->left / per)
        return kn_error(KILN_ERROR_PARSE, "%s: truncated statistics for layer '%s'", label, l->name);
    if ((torch && batches > count) || (!torch && batches != 0) || (count == 0 && batches != 0))
        return kn_error(KILN_ERROR_PARSE, "%s: layer '%s': inconsistent counts", label, l->name);
    acc->count = count;
    acc->batches = batches;
    for (uint64_t c = 0; c < channels; c++) {
        if (!get_f64(r, &acc->mean[c]) || !get_f64(r, &acc->m2[c]) || acc->m2[c] < 0)
            return kn_error(KILN_ERROR_PARSE, "%s: layer '%s' channel %llu: invalid value", label, l->name,
                            (unsigned long long)c);
    }
    if (torch)
        for (uint64_t c = 0; c < channels; c++)
            if (!get_f64(r, &acc->sum_bmean[c]) || !get_f64(r, &acc->sum_uvar[c]) || acc->sum_uvar[c] < 0)
                return kn_error(KILN_ERROR_PARSE, "%s: layer '%s' channel %llu: invalid torch sums", label, l->name,
                                (unsigned long long)c);
    return KILN_OK;
}

kiln_status kn_kstats_merge(const void *data, size_t size, const char *label, uint64_t fingerprint,
                            bool torch_variance, kn_recal_layer *layers, int n_layers)
{
    reader r = {data, size};
    uint64_t version, flags, fp, n, sum;
    if (size < 8 + 8 || memcmp(data, kstats_magic, 8) != 0)
        return kn_error(KILN_ERROR_PARSE, "%s: not a kiln .kstats file", label);
    reader tail = {(const uint8_t *)data + size - 8, 8};
    get_u(&tail, 8, &sum);
    if (fnv(FNV_INIT, data, size - 8) != sum)
        return kn_error(KILN_ERROR_PARSE, "%s: checksum mismatch (truncated or corrupted file)", label);
    r.left = size - 8;
    r.p += 8;
    r.left -= 8;
    if (!get_u(&r, 4, &version) || !get_u(&r, 4, &flags) || !get_u(&r, 8, &fp) || !get_u(&r, 4, &n))
        return kn_error(KILN_ERROR_PARSE, "%s: truncated header", label);
    if (version != KSTATS_VERSION)
        return kn_error(KILN_ERROR_UNSUPPORTED, "%s: .kstats version %llu; this kiln reads version %u", label,
                        (unsigned long long)version, KSTATS_VERSION);
    if (flags & ~(uint64_t)KSTATS_TORCH)
        return kn_error(KILN_ERROR_UNSUPPORTED, "%s: unknown flags 0x%llx", label, (unsigned long long)flags);
    bool torch = (flags & KSTATS_TORCH) != 0;
    if (torch != torch_variance)
        return kn_error(KILN_ERROR_ARGUMENT, "%s: written with --variance %s, this run uses --variance %s", label,
                        torch ? "torch" : "pooled", torch_variance ? "torch" : "pooled");
    if (fp != fingerprint || n != (uint64_t)n_layers)
        return kn_error(KILN_ERROR_ARGUMENT, "%s: written for a different model (BN layers differ)", label);
    kn_bn_accum *tmp = kn_calloc((size_t)(n_layers ? n_layers : 1), sizeof *tmp);
    if (!tmp)
        return KN_NOMEM();
    kiln_status st = KILN_OK;
    int made = 0;
    for (; st == KILN_OK && made < n_layers; made++) {
        st = kn_bn_accum_init(&tmp[made], layers[made].channels, torch);
        if (st == KILN_OK)
            st = read_layer(&r, label, torch, &layers[made], &tmp[made]);
    }
    if (st == KILN_OK && r.left != 0)
        st = kn_error(KILN_ERROR_PARSE, "%s: %zu unexpected bytes after the last layer", label, r.left);
    if (st == KILN_OK)
        for (int i = 0; i < n_layers; i++)
            kn_bn_accum_merge_all(&layers[i].acc, &tmp[i]);
    for (int i = 0; i < made; i++)
        kn_bn_accum_clear(&tmp[i]);
    kn_free(tmp);
    return st;
}
