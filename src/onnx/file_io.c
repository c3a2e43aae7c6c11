/* Whole-file reads and atomic whole-file writes. */
#include "onnx/onnx_import.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static kiln_status io_error(const char *path, const char *what, int err)
{
    return kn_error(KILN_ERROR_IO, "%s: %s: %s", path, what, strerror(err));
}

/* Reads until EOF rather than trusting st_size, so pipes and files that
 * change size while being read are handled; st_size only sizes the buffer. */
static kiln_status read_all(int fd, const char *path, size_t hint, size_t max_bytes, void **data, size_t *size)
{
    size_t cap = hint + 1, len = 0;
    if (cap < 4096)
        cap = 4096;
    if (max_bytes && cap > max_bytes + 1)
        cap = max_bytes + 1;
    char *buf = kn_malloc(cap);
    if (!buf)
        return KN_NOMEM();
    for (;;) {
        if (len == cap) {
            size_t ncap;
            if (!kn_mul_size(cap, 2, &ncap)) {
                kn_free(buf);
                return kn_error(KILN_ERROR_IO, "%s: file too large", path);
            }
            char *nb = kn_realloc(buf, ncap);
            if (!nb) {
                kn_free(buf);
                return KN_NOMEM();
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int err = errno;
            kn_free(buf);
            return io_error(path, "read failed", err);
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (max_bytes && len > max_bytes) {
            kn_free(buf);
            return kn_error(KILN_ERROR_IO, "%s: file is larger than the limit of %zu bytes", path, max_bytes);
        }
    }
    *data = buf;
    *size = len;
    return KILN_OK;
}

kiln_status kn_read_file(const char *path, size_t max_bytes, void **data, size_t *size)
{
    if (!path || !data || !size)
        return kn_error(KILN_ERROR_ARGUMENT, "kn_read_file: NULL argument");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return io_error(path, "cannot open", errno);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return io_error(path, "cannot stat", err);
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return io_error(path, "cannot read", EISDIR);
    }
    if (max_bytes && S_ISREG(st.st_mode) && (uint64_t)st.st_size > max_bytes) {
        close(fd);
        return kn_error(KILN_ERROR_IO, "%s: file has %lld bytes, more than the limit of %zu", path,
                        (long long)st.st_size, max_bytes);
    }
    size_t hint = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size : 0;
    kiln_status s = read_all(fd, path, hint, max_bytes, data, size);
    close(fd);
    return s;
}

kiln_status kn_file_map(const char *path, size_t max_bytes, kn_file_bytes *out)
{
    if (!path || !out)
        return kn_error(KILN_ERROR_ARGUMENT, "kn_file_map: NULL argument");
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return io_error(path, "cannot open", errno);
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 && (uint64_t)st.st_size <= SIZE_MAX &&
        (!max_bytes || (uint64_t)st.st_size <= max_bytes)) {
        /* populated up front: one pass over the page cache instead of a
         * fault per page while protobuf-c reads */
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
        if (p != MAP_FAILED) {
            close(fd);
            out->data = p;
            out->size = (size_t)st.st_size;
            out->mapped = true;
            return KILN_OK;
        }
    }
    close(fd);
    /* pipes, empty or oversized files, mmap refused: read() tells why */
    return kn_read_file(path, max_bytes, &out->data, &out->size);
}

void kn_file_release(kn_file_bytes *f)
{
    if (!f || !f->data)
        return;
    if (f->mapped)
        munmap(f->data, f->size);
    else
        kn_free(f->data);
    memset(f, 0, sizeof *f);
}

static kiln_status write_chunks(int fd, const char *path, const kn_chunk *chunks, int n_chunks)
{
    for (int i = 0; i < n_chunks; i++) {
        const char *p = chunks[i].data;
        size_t left = chunks[i].size;
        while (left) {
            ssize_t w = write(fd, p, left);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                return io_error(path, "write failed", errno);
            }
            p += w;
            left -= (size_t)w;
        }
    }
    if (fsync(fd) != 0)
        return io_error(path, "fsync failed", errno);
    return KILN_OK;
}

kiln_status kn_write_file_atomic(const char *path, const kn_chunk *chunks, int n_chunks)
{
    size_t len = strlen(path);
    char *tmp = kn_malloc(len + 32);
    if (!tmp)
        return KN_NOMEM();
    snprintf(tmp, len + 32, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        kiln_status s = io_error(tmp, "cannot create", errno);
        kn_free(tmp);
        return s;
    }
    kiln_status s = write_chunks(fd, tmp, chunks, n_chunks);
    if (close(fd) != 0 && s == KILN_OK)
        s = io_error(tmp, "close failed", errno);
    if (s == KILN_OK && rename(tmp, path) != 0)
        s = io_error(path, "cannot rename temporary file into place", errno);
    if (s != KILN_OK)
        unlink(tmp);
    kn_free(tmp);
    return s;
}
