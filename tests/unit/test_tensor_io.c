/* Tensor files: TensorProto and .npy round trips, hostile .npy headers,
 * atomic writes, and the official ONNX test data files. */
#include "harness.h"

#include "core/dtype_small.h"
#include "onnx/onnx_import.h"

#include <dirent.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp_root[64];

static int setup(void **state)
{
    (void)state;
    snprintf(tmp_root, sizeof tmp_root, "/tmp/kiln_tio_XXXXXX");
    return mkdtemp(tmp_root) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *tmp_path(const char *name)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s/%s", tmp_root, name);
    return buf;
}

/* Files in the temp folder whose name contains ".tmp." (leftovers). */
static int leftover_temps(void)
{
    DIR *d = opendir(tmp_root);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp."))
            n++;
    closedir(d);
    return n;
}

static kiln_tensor *patterned(kiln_dtype dt, int rank, const int64_t *dims)
{
    kiln_tensor *t;
    assert_int_equal(kn_tensor_new(dt, rank, dims, &t), KILN_OK);
    uint8_t *p = t->data;
    for (size_t i = 0; i < t->nbytes; i++)
        p[i] = (uint8_t)(i * 37 + 11);
    if (dt == KILN_DTYPE_BOOL)
        for (size_t i = 0; i < t->nbytes; i++)
            p[i] &= 1;
    return t;
}

static void assert_same_tensor(const kiln_tensor *a, const kiln_tensor *b)
{
    assert_int_equal(a->dtype, b->dtype);
    assert_int_equal(a->rank, b->rank);
    for (int i = 0; i < a->rank; i++)
        assert_int_equal(a->dims[i], b->dims[i]);
    assert_int_equal(a->nbytes, b->nbytes);
    if (a->dtype == KILN_DTYPE_STRING) {
        for (int64_t i = 0; i < kn_tensor_count(a); i++)
            assert_string_equal(((char **)a->data)[i], ((char **)b->data)[i]);
    } else if (a->nbytes) {
        assert_memory_equal(a->data, b->data, a->nbytes);
    }
}

static const kiln_dtype all_dtypes[] = {
    KILN_DTYPE_FLOAT,  KILN_DTYPE_DOUBLE, KILN_DTYPE_FLOAT16, KILN_DTYPE_INT64,     KILN_DTYPE_INT32,
    KILN_DTYPE_INT16,  KILN_DTYPE_INT8,   KILN_DTYPE_UINT8,   KILN_DTYPE_UINT16,    KILN_DTYPE_UINT32,
    KILN_DTYPE_UINT64, KILN_DTYPE_BOOL,   KILN_DTYPE_BFLOAT16, KILN_DTYPE_COMPLEX64, KILN_DTYPE_COMPLEX128,
};

static const struct {
    int rank;
    int64_t dims[KN_MAX_RANK];
} shapes[] = {
    {0, {0}}, {1, {5}}, {2, {3, 4}}, {3, {2, 0, 3}}, {4, {1, 2, 3, 2}}, {8, {1, 2, 1, 2, 1, 2, 1, 2}},
};

static void test_pb_round_trip(void **state)
{
    (void)state;
    const char *path = tmp_path("t.pb");
    for (size_t d = 0; d < sizeof all_dtypes / sizeof all_dtypes[0]; d++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            kiln_tensor *t = patterned(all_dtypes[d], shapes[s].rank, shapes[s].dims);
            assert_int_equal(kiln_tensor_write_pb(t, "my_tensor", path), KILN_OK);
            kiln_tensor *r = NULL;
            if (kiln_tensor_read_file(path, &r) != KILN_OK)
                fail_msg("dtype %d rank %d: %s", all_dtypes[d], shapes[s].rank, kiln_last_error());
            assert_same_tensor(t, r);
            assert_string_equal(kiln_tensor_name(r), "my_tensor");
            kn_tensor_free(r);
            kn_tensor_free(t);
        }
    }
    assert_int_equal(leftover_temps(), 0);
}

static void test_pb_strings_and_no_name(void **state)
{
    (void)state;
    const char *path = tmp_path("s.pb");
    kiln_tensor *t;
    assert_int_equal(kn_tensor_new(KILN_DTYPE_STRING, 1, (int64_t[]){3}, &t), KILN_OK);
    char **s = t->data;
    s[0] = kn_strdup("alpha");
    s[1] = kn_strdup("");
    s[2] = kn_strdup("gamma delta");
    assert_int_equal(kiln_tensor_write_pb(t, NULL, path), KILN_OK);
    kiln_tensor *r;
    assert_int_equal(kiln_tensor_read_file(path, &r), KILN_OK);
    assert_same_tensor(t, r);
    assert_null(kiln_tensor_name(r));
    kn_tensor_free(r);
    /* .npy has no string dtype: refused, nothing written */
    const char *npy = tmp_path("s.npy");
    assert_int_equal(kiln_tensor_write_npy(t, npy), KILN_ERROR_UNSUPPORTED);
    assert_int_equal(access(npy, F_OK), -1);
    kn_tensor_free(t);
}

/* Narrow types: packed in the file (raw_data of ceil(n/2) or ceil(n/4)
 * bytes for the 4-bit and 2-bit ones), unpacked again on reading. */
static void test_pb_narrow_types(void **state)
{
    (void)state;
    const char *path = tmp_path("n.pb");
    for (int dt = KILN_DTYPE_FLOAT8E4M3FN; dt <= KILN_DTYPE_INT2; dt++) {
        for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++) {
            kiln_tensor *t = patterned((kiln_dtype)dt, shapes[sh].rank, shapes[sh].dims);
            uint8_t *v = t->data;
            for (size_t i = 0; i < t->nbytes; i++) /* values the type can hold, as kiln keeps them */
                if (kn_dtype_is_small_int((kiln_dtype)dt))
                    v[i] = (uint8_t)kn_small_int_wrap((kiln_dtype)dt, v[i]);
                else if (dt == KILN_DTYPE_FLOAT4E2M1)
                    v[i] &= 0x0f;
            assert_int_equal(kiln_tensor_write_pb(t, "n", path), KILN_OK);
            void *bytes;
            size_t size;
            assert_int_equal(kn_read_file(path, 0, &bytes, &size), KILN_OK);
            Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, size, bytes);
            assert_non_null(tp);
            size_t n = (size_t)kn_tensor_count(t);
            assert_int_equal(tp->data_type, dt);
            assert_int_equal(tp->raw_data.len, kn_small_packed_bytes((kiln_dtype)dt, n));
            uint8_t packed[32];
            kn_small_pack((kiln_dtype)dt, t->data, n, packed);
            if (tp->raw_data.len)
                assert_memory_equal(tp->raw_data.data, packed, tp->raw_data.len);
            onnx__tensor_proto__free_unpacked(tp, NULL);
            kn_free(bytes);
            kiln_tensor *r = NULL;
            if (kiln_tensor_read_file(path, &r) != KILN_OK)
                fail_msg("%s rank %d: %s", kiln_dtype_name((kiln_dtype)dt), shapes[sh].rank, kiln_last_error());
            assert_same_tensor(t, r);
            kn_tensor_free(r);
            kn_tensor_free(t);
        }
    }
    /* .npy has no such dtypes: refused, nothing written */
    kiln_tensor *t = patterned(KILN_DTYPE_FLOAT8E5M2, 1, (int64_t[]){3});
    const char *npy = tmp_path("n.npy");
    assert_int_equal(kiln_tensor_write_npy(t, npy), KILN_ERROR_UNSUPPORTED);
    assert_int_equal(access(npy, F_OK), -1);
    kn_tensor_free(t);
}

static void test_npy_round_trip(void **state)
{
    (void)state;
    const char *path = tmp_path("t.npy");
    for (size_t d = 0; d < sizeof all_dtypes / sizeof all_dtypes[0]; d++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            kiln_tensor *t = patterned(all_dtypes[d], shapes[s].rank, shapes[s].dims);
            kiln_status st = kiln_tensor_write_npy(t, path);
            if (all_dtypes[d] == KILN_DTYPE_BFLOAT16) {
                assert_int_equal(st, KILN_ERROR_UNSUPPORTED);
                kn_tensor_free(t);
                continue;
            }
            assert_int_equal(st, KILN_OK);
            kiln_tensor *r = NULL;
            if (kiln_tensor_read_file(path, &r) != KILN_OK)
                fail_msg("dtype %d rank %d: %s", all_dtypes[d], shapes[s].rank, kiln_last_error());
            assert_same_tensor(t, r);
            kn_tensor_free(r);
            kn_tensor_free(t);
        }
    }
    assert_int_equal(leftover_temps(), 0);
}

/* The header numpy itself writes, byte for byte. */
static void test_npy_header_format(void **state)
{
    (void)state;
    kiln_tensor *t = patterned(KILN_DTYPE_FLOAT, 2, (int64_t[]){2, 3});
    char *h;
    size_t n;
    assert_int_equal(kn_npy_header(t, &h, &n), KILN_OK);
    assert_int_equal(n % 64, 0);
    assert_memory_equal(h, "\x93NUMPY\x01\x00", 8);
    assert_int_equal((size_t)(uint8_t)h[8] | (size_t)(uint8_t)h[9] << 8, n - 10);
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    assert_memory_equal(h + 10, dict, strlen(dict));
    assert_int_equal(h[n - 1], '\n');
    kn_free(h);
    kn_tensor_free(t);
    t = patterned(KILN_DTYPE_INT8, 1, (int64_t[]){7});
    assert_int_equal(kn_npy_header(t, &h, &n), KILN_OK);
    dict = "{'descr': '|i1', 'fortran_order': False, 'shape': (7,), }";
    assert_memory_equal(h + 10, dict, strlen(dict));
    kn_free(h);
    kn_tensor_free(t);
}

/* An .npy image: magic, version, header dict padded to 64, then data. */
static size_t make_npy(uint8_t *buf, int major, const char *dict, const void *data, size_t dsize)
{
    size_t pre = major == 1 ? 10 : 12;
    size_t dl = strlen(dict);
    size_t total = (pre + dl + 1 + 63) / 64 * 64;
    size_t hl = total - pre;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (uint8_t)major;
    buf[7] = 0;
    buf[8] = (uint8_t)hl;
    buf[9] = (uint8_t)(hl >> 8);
    if (major != 1) {
        buf[10] = (uint8_t)(hl >> 16);
        buf[11] = (uint8_t)(hl >> 24);
    }
    memcpy(buf + pre, dict, dl);
    memset(buf + pre + dl, ' ', hl - dl - 1);
    buf[total - 1] = '\n';
    if (dsize)
        memcpy(buf + total, data, dsize);
    return total + dsize;
}

static kiln_status parse(const uint8_t *b, size_t n, kiln_tensor **out)
{
    /* a private copy of exactly n bytes so overreads are visible to tools */
    uint8_t *c = malloc(n ? n : 1);
    memcpy(c, b, n);
    kiln_status s = kn_npy_parse(c, n, "test.npy", out);
    free(c);
    return s;
}

static void test_npy_variants(void **state)
{
    (void)state;
    uint8_t buf[512];
    kiln_tensor *t;
    const float f[2] = {1.5f, -2};
    /* version 2 and 3 headers, double quotes, Python 2 longs, no trailing comma */
    size_t n = make_npy(buf, 2, "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2L,)}", f, 8);
    assert_int_equal(parse(buf, n, &t), KILN_OK);
    kt_assert_f32_close(t, f, 2, 0, 0);
    kn_tensor_free(t);
    n = make_npy(buf, 3, "{'shape': (1, 2), 'fortran_order': False, 'descr': '<f4'}", f, 8);
    assert_int_equal(parse(buf, n, &t), KILN_OK);
    kt_assert_shape(t, 2, (int64_t[]){1, 2});
    kn_tensor_free(t);
    /* big-endian data is converted */
    const uint8_t be[8] = {0x3f, 0xc0, 0, 0, 0xc0, 0, 0, 0};
    n = make_npy(buf, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", be, 8);
    assert_int_equal(parse(buf, n, &t), KILN_OK);
    kt_assert_f32_close(t, f, 2, 0, 0);
    kn_tensor_free(t);
    const uint8_t be64[8] = {0, 0, 0, 0, 0, 0, 0x01, 0x02};
    n = make_npy(buf, 1, "{'descr': '>i8', 'fortran_order': False, 'shape': (), }", be64, 8);
    assert_int_equal(parse(buf, n, &t), KILN_OK);
    assert_int_equal(t->rank, 0);
    assert_int_equal(((int64_t *)t->data)[0], 0x0102);
    kn_tensor_free(t);
    /* bools are normalized to 0/1 */
    const uint8_t b3[3] = {0, 2, 255};
    n = make_npy(buf, 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", b3, 3);
    assert_int_equal(parse(buf, n, &t), KILN_OK);
    assert_memory_equal(t->data, "\0\1\1", 3);
    kn_tensor_free(t);
}

static void test_npy_hostile(void **state)
{
    (void)state;
    uint8_t buf[1024];
    kiln_tensor *t = (kiln_tensor *)0x1;
    const float f[6] = {0};
    struct {
        const char *dict;
        size_t data;
        kiln_status expect;
    } cases[] = {
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", 8, KILN_ERROR_UNSUPPORTED},
        {"{'descr': '<U4', 'fortran_order': False, 'shape': (2,), }", 8, KILN_ERROR_UNSUPPORTED},
        {"{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", 8, KILN_ERROR_UNSUPPORTED},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", 4, KILN_ERROR_UNSUPPORTED},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", 0,
         KILN_ERROR_PARSE},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 0, KILN_ERROR_PARSE},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", 8, KILN_ERROR_PARSE},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 8, KILN_ERROR_PARSE},  /* short data */
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 8, KILN_ERROR_PARSE},  /* extra data */
        {"{'descr': '<f4', 'fortran_order': False}", 8, KILN_ERROR_PARSE},                  /* no shape */
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 8, KILN_ERROR_PARSE},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", 8, KILN_ERROR_PARSE},
        {"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,)}", 8, KILN_ERROR_PARSE},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} trailing", 8, KILN_ERROR_PARSE},
        {"{'descr' '<f4', 'fortran_order': False, 'shape': (2,)}", 8, KILN_ERROR_PARSE},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,,)}", 8, KILN_ERROR_PARSE},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': [2]}", 8, KILN_ERROR_PARSE},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2", 8, KILN_ERROR_PARSE},
        {"['descr', '<f4']", 8, KILN_ERROR_PARSE},
        {"", 8, KILN_ERROR_PARSE},
        {"{'descr': 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'}", 0, KILN_ERROR_PARSE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = make_npy(buf, 1, cases[i].dict, f, cases[i].data);
        kiln_status s = parse(buf, n, &t);
        if (s != cases[i].expect)
            fail_msg("case %zu: got %d (%s)", i, (int)s, kiln_last_error());
        assert_ptr_equal(t, (kiln_tensor *)0x1);
        assert_non_null(strstr(kiln_last_error(), "test.npy"));
    }
    /* header length beyond the file, unknown version, every prefix of a good file */
    size_t n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f, 24);
    buf[8] = 0xff;
    buf[9] = 0xff;
    assert_int_equal(parse(buf, n, &t), KILN_ERROR_PARSE);
    n = make_npy(buf, 4, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f, 24);
    assert_int_equal(parse(buf, n, &t), KILN_ERROR_UNSUPPORTED);
    n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f, 24);
    for (size_t len = 0; len < n; len++)
        assert_int_equal(parse(buf, len, &t), KILN_ERROR_PARSE);
    assert_ptr_equal(t, (kiln_tensor *)0x1);
    assert_int_equal(parse(buf, n, &t), KILN_OK);
    kn_tensor_free(t);
    /* random mutations of the header never crash */
    uint32_t seed = 7;
    for (int it = 0; it < 5000; it++) {
        uint8_t m[512];
        memcpy(m, buf, n);
        for (int k = 0; k < 3; k++) {
            seed = seed * 1664525u + 1013904223u;
            m[(seed >> 8) % 74] = (uint8_t)(seed >> 20);
        }
        kiln_tensor *r;
        if (parse(m, n, &r) == KILN_OK)
            kn_tensor_free(r);
    }
}

static void test_official_test_data(void **state)
{
    (void)state;
    const char *dir = "/usr/share/libonnx-testdata/data/node/test_abs/test_data_set_0";
    char path[256];
    snprintf(path, sizeof path, "%s/input_0.pb", dir);
    kiln_tensor *in, *out;
    if (kiln_tensor_read_file(path, &in) != KILN_OK)
        fail_msg("%s", kiln_last_error());
    snprintf(path, sizeof path, "%s/output_0.pb", dir);
    assert_int_equal(kiln_tensor_read_file(path, &out), KILN_OK);
    kt_assert_shape(in, 3, (int64_t[]){3, 4, 5});
    assert_string_equal(kiln_tensor_name(in), "x");
    assert_int_equal(in->dtype, KILN_DTYPE_FLOAT);
    const float *x = in->data;
    float expect[60];
    for (int i = 0; i < 60; i++)
        expect[i] = x[i] < 0 ? -x[i] : x[i];
    kt_assert_f32_close(out, expect, 60, 0, 0);
    kn_tensor_free(in);
    kn_tensor_free(out);
}

/* Every input/output file of the backend tests reads, or fails cleanly (the
 * few Sequence/Optional files are not TensorProtos). */
static void test_all_backend_test_files(void **state)
{
    (void)state;
    glob_t gl;
    if (glob("/work/shared/onnx-backend-tests/node/*/test_data_set_0/*.pb", 0, NULL, &gl) != 0) {
        if (glob("/usr/share/libonnx-testdata/data/node/*/test_data_set_0/*.pb", 0, NULL, &gl) != 0)
            skip();
    }
    size_t ok = 0, refused = 0;
    for (size_t i = 0; i < gl.gl_pathc; i++) {
        kiln_tensor *t = NULL;
        kiln_status s = kiln_tensor_read_file(gl.gl_pathv[i], &t);
        if (s == KILN_OK) {
            ok++;
            kn_tensor_free(t);
        } else {
            if (s != KILN_ERROR_PARSE && s != KILN_ERROR_UNSUPPORTED)
                fail_msg("%s: %d %s", gl.gl_pathv[i], (int)s, kiln_last_error());
            assert_non_null(strstr(kiln_last_error(), gl.gl_pathv[i]));
            refused++;
        }
    }
    print_message("%zu files read, %zu refused\n", ok, refused);
    assert_true(ok > gl.gl_pathc * 9 / 10);
    globfree(&gl);
}

static void test_bad_files(void **state)
{
    (void)state;
    kiln_tensor *t = (kiln_tensor *)0x1;
    const char *p = tmp_path("garbage.pb");
    FILE *f = fopen(p, "wb");
    fwrite("\xff\xff\xff\xff garbage", 1, 12, f);
    fclose(f);
    assert_int_equal(kiln_tensor_read_file(p, &t), KILN_ERROR_PARSE);
    assert_non_null(strstr(kiln_last_error(), p));
    p = tmp_path("empty.pb");
    f = fopen(p, "wb");
    fclose(f);
    assert_int_equal(kiln_tensor_read_file(p, &t), KILN_ERROR_PARSE);
    assert_non_null(strstr(kiln_last_error(), p));
    assert_int_equal(kiln_tensor_read_file(tmp_path("missing.pb"), &t), KILN_ERROR_IO);
    assert_non_null(strstr(kiln_last_error(), "missing.pb"));
    assert_int_equal(kiln_tensor_read_file(tmp_root, &t), KILN_ERROR_IO);
    assert_ptr_equal(t, (kiln_tensor *)0x1);
    /* in-memory TensorProto with a raw_data size that does not fit */
    Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
    int64_t d[1] = {4};
    tp.n_dims = 1;
    tp.dims = d;
    tp.has_data_type = 1;
    tp.data_type = KILN_DTYPE_FLOAT;
    tp.has_raw_data = 1;
    tp.raw_data.len = 3;
    tp.raw_data.data = (uint8_t *)"abc";
    uint8_t buf[64];
    size_t n = onnx__tensor_proto__pack(&tp, buf);
    assert_int_equal(kiln_tensor_read_pb_buffer(buf, n, &t), KILN_ERROR_PARSE);
    assert_non_null(strstr(kiln_last_error(), "raw_data has 3 bytes"));
    /* external data needs a folder, which a buffer does not have */
    Onnx__StringStringEntryProto e = ONNX__STRING_STRING_ENTRY_PROTO__INIT;
    Onnx__StringStringEntryProto *ep = &e;
    e.key = "location";
    e.value = "w.bin";
    tp.has_raw_data = 0;
    tp.has_data_location = 1;
    tp.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    tp.n_external_data = 1;
    tp.external_data = &ep;
    n = onnx__tensor_proto__pack(&tp, buf);
    assert_int_not_equal(kiln_tensor_read_pb_buffer(buf, n, &t), KILN_OK);
    assert_non_null(strstr(kiln_last_error(), "external data"));
    /* ... but a file's folder is used */
    float w[4] = {1, 2, 3, 4};
    f = fopen(tmp_path("w.bin"), "wb");
    fwrite(w, 1, sizeof w, f);
    fclose(f);
    f = fopen(tmp_path("ext.pb"), "wb");
    fwrite(buf, 1, n, f);
    fclose(f);
    if (kiln_tensor_read_file(tmp_path("ext.pb"), &t) != KILN_OK)
        fail_msg("%s", kiln_last_error());
    kt_assert_f32_close(t, w, 4, 0, 0);
    kn_tensor_free(t);
}

/* Pack a TensorProto with raw_data and unpack it like the model loader. */
static Onnx__TensorProto *unpacked_raw(kiln_dtype dt, int64_t n, const void *raw, size_t len, kn_pb_alloc *a)
{
    Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
    tp.n_dims = 1;
    tp.dims = &n;
    tp.has_data_type = 1;
    tp.data_type = dt;
    tp.has_raw_data = 1;
    tp.raw_data.len = len;
    tp.raw_data.data = (uint8_t *)raw;
    uint8_t buf[256];
    size_t size = onnx__tensor_proto__pack(&tp, buf);
    ProtobufCMessage *msg;
    assert_int_equal(kn_pb_unpack(&onnx__tensor_proto__descriptor, buf, size, a, "t", &msg), KILN_OK);
    return (Onnx__TensorProto *)msg;
}

/* kn_tensor_decode_take keeps the message's raw_data buffer (the message
 * no longer holds it, so freeing both frees it once); packed 4-bit data
 * is unpacked into a new buffer and stays in the message. */
static void test_decode_take(void **state)
{
    (void)state;
    float w[5] = {1, -2, 3.5f, 4, 5};
    kn_pb_alloc a;
    Onnx__TensorProto *p = unpacked_raw(KILN_DTYPE_FLOAT, 5, w, sizeof w, &a);
    const void *buffer = p->raw_data.data;
    assert_int_equal((uintptr_t)buffer % 64, 0);
    kiln_tensor *t;
    assert_int_equal(kn_tensor_decode_take(p, NULL, "w", &t), KILN_OK);
    assert_ptr_equal(t->data, buffer);
    assert_true(t->owns_data);
    assert_null(p->raw_data.data);
    kt_assert_f32_close(t, w, 5, 0, 0);
    protobuf_c_message_free_unpacked(&p->base, &a.base);
    kn_tensor_free(t);

    uint8_t packed[2] = {0x21, 0x43};
    p = unpacked_raw(KILN_DTYPE_UINT4, 4, packed, sizeof packed, &a);
    assert_int_equal(kn_tensor_decode_take(p, NULL, "q", &t), KILN_OK);
    assert_non_null(p->raw_data.data);
    const uint8_t *q = t->data;
    assert_true(q[0] == 1 && q[1] == 2 && q[2] == 3 && q[3] == 4);
    protobuf_c_message_free_unpacked(&p->base, &a.base);
    kn_tensor_free(t);

    /* a length that does not match is refused, the buffer left in place */
    p = unpacked_raw(KILN_DTYPE_FLOAT, 4, w, sizeof w, &a);
    t = (kiln_tensor *)0x1;
    assert_int_equal(kn_tensor_decode_take(p, NULL, "bad", &t), KILN_ERROR_MODEL);
    assert_non_null(p->raw_data.data);
    assert_ptr_equal(t, (kiln_tensor *)0x1);
    protobuf_c_message_free_unpacked(&p->base, &a.base);
}

static void test_write_failures_and_nulls(void **state)
{
    (void)state;
    kiln_tensor *t = patterned(KILN_DTYPE_FLOAT, 1, (int64_t[]){4});
    kiln_tensor *r = (kiln_tensor *)0x1;
    assert_int_equal(kiln_tensor_write_pb(t, "x", "/nonexistent_dir_kiln/x.pb"), KILN_ERROR_IO);
    assert_non_null(strstr(kiln_last_error(), "/nonexistent_dir_kiln/x.pb"));
    assert_int_equal(kiln_tensor_write_npy(t, "/nonexistent_dir_kiln/x.npy"), KILN_ERROR_IO);
    /* a folder in the way of the rename: the temp file is removed */
    const char *d = tmp_path("adir");
    assert_int_equal(mkdir(d, 0755), 0);
    char inner[300];
    snprintf(inner, sizeof inner, "%s/f", d);
    FILE *f = fopen(inner, "wb");
    fclose(f);
    assert_int_equal(kiln_tensor_write_npy(t, d), KILN_ERROR_IO);
    assert_int_equal(leftover_temps(), 0);
    /* an existing file is replaced whole */
    const char *p = tmp_path("replace.npy");
    kiln_tensor *big = patterned(KILN_DTYPE_DOUBLE, 2, (int64_t[]){30, 30});
    assert_int_equal(kiln_tensor_write_npy(big, p), KILN_OK);
    assert_int_equal(kiln_tensor_write_npy(t, p), KILN_OK);
    assert_int_equal(kiln_tensor_read_file(p, &r), KILN_OK);
    assert_same_tensor(t, r);
    kn_tensor_free(r);
    kn_tensor_free(big);

    r = (kiln_tensor *)0x1;
    assert_int_equal(kiln_tensor_read_file(NULL, &r), KILN_ERROR_ARGUMENT);
    assert_int_equal(kiln_tensor_read_file(p, NULL), KILN_ERROR_ARGUMENT);
    assert_int_equal(kiln_tensor_read_pb_buffer(NULL, 4, &r), KILN_ERROR_ARGUMENT);
    assert_int_equal(kiln_tensor_read_pb_buffer("", 0, NULL), KILN_ERROR_ARGUMENT);
    assert_int_equal(kiln_tensor_write_pb(NULL, "x", p), KILN_ERROR_ARGUMENT);
    assert_int_equal(kiln_tensor_write_pb(t, "x", NULL), KILN_ERROR_ARGUMENT);
    assert_int_equal(kiln_tensor_write_npy(NULL, p), KILN_ERROR_ARGUMENT);
    assert_int_equal(kiln_tensor_write_npy(t, NULL), KILN_ERROR_ARGUMENT);
    assert_ptr_equal(r, (kiln_tensor *)0x1);
    kn_tensor_free(t);
}

/* Reads and writes survive every allocation failing in turn. */
static void test_allocation_failures(void **state)
{
    (void)state;
    kiln_tensor *t = patterned(KILN_DTYPE_INT32, 2, (int64_t[]){3, 5});
    const char *paths[2] = {tmp_path("af.pb"), tmp_path("af.npy")};
    for (int k = 0; k < 2; k++) {
        for (uint64_t nth = 1;; nth++) {
            kn_alloc_fail_at(nth);
            kiln_status s = k == 0 ? kiln_tensor_write_pb(t, "t", paths[k]) : kiln_tensor_write_npy(t, paths[k]);
            kn_alloc_fail_at(0);
            if (s == KILN_OK)
                break;
            assert_int_equal(s, KILN_ERROR_NOMEM);
        }
        for (uint64_t nth = 1;; nth++) {
            kiln_tensor *r = NULL;
            kn_alloc_fail_at(nth);
            kiln_status s = kiln_tensor_read_file(paths[k], &r);
            kn_alloc_fail_at(0);
            if (s == KILN_OK) {
                assert_same_tensor(t, r);
                kn_tensor_free(r);
                break;
            }
            assert_int_equal(s, KILN_ERROR_NOMEM);
            assert_null(r);
        }
    }
    assert_int_equal(leftover_temps(), 0);
    kn_tensor_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pb_round_trip),
        cmocka_unit_test(test_pb_strings_and_no_name),
        cmocka_unit_test(test_pb_narrow_types),
        cmocka_unit_test(test_npy_round_trip),
        cmocka_unit_test(test_npy_header_format),
        cmocka_unit_test(test_npy_variants),
        cmocka_unit_test(test_npy_hostile),
        cmocka_unit_test(test_official_test_data),
        cmocka_unit_test(test_all_backend_test_files),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_decode_take),
        cmocka_unit_test(test_write_failures_and_nulls),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
