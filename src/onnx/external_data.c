/* External tensor data: bytes kept in a separate file next to the model.
 * The location comes from an untrusted model, so it must stay inside the
 * model's folder: relative, no "..", and after resolving symlinks still under
 * the folder. */
#include "onnx/onnx_import.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct ext_ref {
    const char *location;
    uint64_t offset;
    bool has_length;
    uint64_t length;
} ext_ref;

static bool parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static kiln_status parse_ref(const Onnx__TensorProto *p, const char *label, ext_ref *r)
{
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < p->n_external_data; i++) {
        const Onnx__StringStringEntryProto *e = p->external_data[i];
        const char *key = e->key ? e->key : "", *val = e->value ? e->value : "";
        if (strcmp(key, "location") == 0) {
            r->location = val;
        } else if (strcmp(key, "offset") == 0) {
            if (!parse_u64(val, &r->offset))
                return kn_error(KILN_ERROR_MODEL, "%s: external data offset '%s' is not a valid number", label, val);
        } else if (strcmp(key, "length") == 0) {
            if (!parse_u64(val, &r->length))
                return kn_error(KILN_ERROR_MODEL, "%s: external data length '%s' is not a valid number", label, val);
            r->has_length = true;
        }
        /* "checksum" and unknown keys carry nothing kiln needs */
    }
    if (!r->location || !*r->location)
        return kn_error(KILN_ERROR_MODEL, "%s: external data has no location", label);
    return KILN_OK;
}

static bool has_dotdot_component(const char *path)
{
    const char *p = path;
    while (*p) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return true;
        if (!end)
            break;
        p = end + 1;
    }
    return false;
}

/* The real path of base_dir/location, refused unless it lies inside the
 * real base_dir. resolved must hold PATH_MAX bytes. */
static kiln_status resolve_inside(const char *base_dir, const char *location, const char *label, char *resolved)
{
    if (location[0] == '/')
        return kn_error(KILN_ERROR_MODEL, "%s: external data path '%s' is absolute", label, location);
    if (has_dotdot_component(location))
        return kn_error(KILN_ERROR_MODEL, "%s: external data path '%s' contains '..'", label, location);
    size_t blen = strlen(base_dir), llen = strlen(location);
    char *joined = kn_malloc(blen + llen + 2);
    char *base_real = kn_malloc(PATH_MAX);
    kiln_status s = KILN_OK;
    if (!joined || !base_real) {
        s = KN_NOMEM();
        goto done;
    }
    memcpy(joined, base_dir, blen);
    joined[blen] = '/';
    memcpy(joined + blen + 1, location, llen + 1);
    if (!realpath(base_dir, base_real)) {
        s = kn_error(KILN_ERROR_IO, "%s: model folder '%s': %s", label, base_dir, strerror(errno));
        goto done;
    }
    if (!realpath(joined, resolved)) {
        s = kn_error(KILN_ERROR_IO, "%s: external data file '%s': %s", label, joined, strerror(errno));
        goto done;
    }
    size_t rlen = strlen(base_real);
    /* base "/" is the one real path that already ends in '/' */
    bool inside = strncmp(resolved, base_real, rlen) == 0 &&
                  (resolved[rlen] == '/' || (rlen == 1 && resolved[rlen] != 0));
    if (!inside)
        s = kn_error(KILN_ERROR_MODEL, "%s: external data path '%s' resolves outside the model folder", label,
                     location);
done:
    kn_free(joined);
    kn_free(base_real);
    return s;
}

static kiln_status read_range(int fd, const char *path, const char *label, uint64_t offset, void *dst,
                              size_t nbytes)
{
    char *d = dst;
    size_t done = 0;
    while (done < nbytes) {
        ssize_t r = pread(fd, d + done, nbytes - done, (off_t)(offset + done));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return kn_error(KILN_ERROR_IO, "%s: reading external data '%s': %s", label, path, strerror(errno));
        }
        if (r == 0)
            return kn_error(KILN_ERROR_IO, "%s: external data '%s' ended early", label, path);
        done += (size_t)r;
    }
    return KILN_OK;
}

kiln_status kn_external_data_read(const Onnx__TensorProto *p, const char *base_dir, const char *label,
                                  size_t nbytes, void **out)
{
    ext_ref ref;
    KN_TRY(parse_ref(p, label, &ref));
    if (!base_dir)
        return kn_error(KILN_ERROR_MODEL,
                        "%s: uses external data '%s' but the model was loaded without a folder to resolve it in",
                        label, ref.location);
    if (ref.has_length && ref.length != nbytes)
        return kn_error(KILN_ERROR_MODEL, "%s: external data length %llu does not match the %zu bytes of its dims",
                        label, (unsigned long long)ref.length, nbytes);
    char *path = kn_malloc(PATH_MAX);
    if (!path)
        return KN_NOMEM();
    kiln_status s = resolve_inside(base_dir, ref.location, label, path);
    if (s != KILN_OK) {
        kn_free(path);
        return s;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
        s = kn_error(KILN_ERROR_IO, "%s: external data '%s': %s", label, ref.location, strerror(errno));
    } else if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        s = kn_error(KILN_ERROR_MODEL, "%s: external data '%s' is not a regular file", label, ref.location);
    } else if (ref.offset > (uint64_t)st.st_size || nbytes > (uint64_t)st.st_size - ref.offset) {
        s = kn_error(KILN_ERROR_MODEL, "%s: external data '%s': offset %llu + %zu bytes is past its end (%lld bytes)",
                     label, ref.location, (unsigned long long)ref.offset, nbytes, (long long)st.st_size);
    } else {
        void *dst = kn_aligned_alloc(nbytes);
        s = dst ? read_range(fd, ref.location, label, ref.offset, dst, nbytes) : KN_NOMEM();
        if (s == KILN_OK)
            *out = dst;
        else
            kn_aligned_free(dst);
    }
    if (fd >= 0)
        close(fd);
    kn_free(path);
    return s;
}
