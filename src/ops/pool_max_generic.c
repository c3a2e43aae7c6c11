/* The portable 2-D MaxPool plane kernel (one-float "vectors") and the
 * buffer check shared by all ISAs (sized for the widest vector). */
#include <stdbool.h>

typedef float mp_f1;
#define MP_V mp_f1
#define MP_VW 1
#define MP_LOAD(p) (*(p))
#define MP_STORE(p, v) (*(p) = (v))
#define MP_SET1(x) (x)
#define MP_MAX(a, b) ((a) > (b) ? (a) : (b))
#define MP_LOAD_T(p, n) (*(p))
#define MP_STORE_T(p, v, n) (*(p) = (v))
#define MP_DEINTERLEAVE(p, e, o) ((e) = (p)[0], (o) = (p)[1])
#define MP_HAS_NEGINF(v) ((v) == -INFINITY)
#define MP_FN kn_maxpool2d_plane_generic
#include "ops/pool_max_impl.h"

bool kn_maxpool2d_fits(const kn_maxpool2d *m)
{
    /* hostile pads or widths would overflow the row length arithmetic */
    if (m->W <= 0 || m->OW <= 0 || m->W > MP_BUF || m->OW > MP_BUF || m->PL < 0 || m->PL > MP_BUF ||
        m->KW <= 0 || m->KW > MP_BUF || m->KH <= 0 || m->PT < 0 || m->PT > MP_BUF || (m->SW != 1 && m->SW != 2) || m->SH <= 0)
        return false;
    return mp_row_len(m, 16) <= MP_BUF;
}
