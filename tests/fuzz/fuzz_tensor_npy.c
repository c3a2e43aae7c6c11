/* libFuzzer: .npy bytes -> the .npy parser behind kiln_tensor_read_file
 * (kn_npy_parse, the same entry point the file reader uses after reading
 * the file). */
#include "kiln.h"
#include "onnx/onnx_import.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kiln_tensor *t = NULL;
    if (kn_npy_parse(data ? (const void *)data : "", size, "fuzz.npy", &t) != KILN_OK)
        return 0;
    int64_t count = kiln_tensor_element_count(t);
    size_t esize = kiln_dtype_size(kiln_tensor_dtype(t));
    if (esize && (uint64_t)count * esize != kiln_tensor_byte_size(t))
        abort();
    const uint8_t *p = kiln_tensor_const_data(t);
    volatile uint8_t sum = 0;
    for (size_t i = 0; p && i < kiln_tensor_byte_size(t); i++)
        sum ^= p[i];
    (void)sum;
    kiln_tensor_release(t);
    return 0;
}
