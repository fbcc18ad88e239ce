/*
 * Which keys each query row sees, as blocks of logits need it: shared by
 * the tiled driver (forward.c) and the decode path (decode.c), so both
 * remove exactly the keys simdattn.h's definitions remove.
 */
#include <math.h>
#include <stdint.h>

#include "internal.h"

sa_rows_keys sa_keys_of_rows(const sa_visibility *v, size_t len, size_t q0,
                             size_t n) {
    sa_rows_keys r = {PTRDIFF_MAX, 0, 0, PTRDIFF_MAX};
    for (size_t i = 0; i < n; i++) {
        ptrdiff_t lo, hi;
        sa_row_keys(v, len, q0 + i, &lo, &hi);
        r.lo_max = lo > r.lo_max ? lo : r.lo_max;
        r.hi_min = hi < r.hi_min ? hi : r.hi_min;
        if (lo < hi) {
            r.ulo = lo < r.ulo ? lo : r.ulo;
            r.uhi = hi > r.uhi ? hi : r.uhi;
        }
    }
    return r;
}

void sa_mask_outside(const sa_visibility *v, size_t len, size_t q0,
                     size_t rows, size_t j0, size_t nb, float *s,
                     size_t lds) {
    for (size_t i = 0; i < rows; i++) {
        ptrdiff_t lo, hi;
        sa_row_keys(v, len, q0 + i, &lo, &hi);
        lo -= (ptrdiff_t)j0;
        hi -= (ptrdiff_t)j0;
        for (ptrdiff_t j = 0; j < (ptrdiff_t)nb; j++)
            if (j < lo || j >= hi)
                s[i * lds + (size_t)j] = -INFINITY;
    }
}

size_t sa_keys_kept(const unsigned char *keep, size_t j0, size_t nb) {
    size_t kept = 0;
    for (size_t j = 0; j < nb; j++)
        kept += keep[j0 + j] != 0;
    return kept;
}

void sa_mask_removed(const unsigned char *keep, size_t j0, size_t nb,
                     size_t rows, float *s, size_t lds) {
    for (size_t j = 0; j < nb; j++)
        if (!keep[j0 + j])
            for (size_t i = 0; i < rows; i++)
                s[i * lds + j] = -INFINITY;
}
