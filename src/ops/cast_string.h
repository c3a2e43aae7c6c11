/* Numbers <-> text for Cast / CastLike to and from STRING. */
#ifndef KN_CAST_STRING_H
#define KN_CAST_STRING_H

#include "core/core.h"

/* Element i of a numeric tensor's data (dtype dt) as text, the way numpy's
 * str() writes it (ONNX's test data comes from numpy): integers in decimal,
 * bool as True / False, floats with the fewest digits that read back as the
 * same value of dt, positional for 1e-4 <= |x| < 1e16 ("0.5", "100.0"),
 * else scientific ("1e-05", "1.5e+16"); nan, inf, -inf. size >= 48. */
void kn_cast_format(kiln_dtype dt, const void *data, int64_t i, char *buf, size_t size);

/* Text as a number: decimal or scientific, surrounding spaces allowed;
 * "INF", "+INF", "-INF", "NaN" in any case. Integers too large for a double
 * keep their precision in *as_int (*is_int set). false if s is no number. */
bool kn_cast_parse(const char *s, double *value, int64_t *as_int, bool *is_int);

#endif
