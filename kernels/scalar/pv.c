/*
 * Scalar reference P·V accumulation: O = α⊙O + P·V.
 *
 * Per output element: one rounding for α·O (skipped when alpha is NULL),
 * then a sequential fmaf chain over j = 0 … n−1, the order every SIMD
 * kernel follows (broadcast P[i][j], FMA row j of V).
 * Bound: |O − O*| ≤ γ_(n+1) (|α·O_in| + Σ_j |P[i][j]·V[j][c]|).
 * Reads m×n of P and n×dv of V; reads and writes m×dv of O.
 */
#include <math.h>

#include "internal.h"

void sa_pv_scalar(size_t m, size_t n, size_t dv, const float *p, size_t ldp,
                  const float *v, size_t ldv, const float *alpha, float *o,
                  size_t ldo) {
    for (size_t i = 0; i < m; i++) {
        float *orow = o + i * ldo;
        for (size_t c = 0; c < dv; c++) {
            float acc = alpha ? alpha[i] * orow[c] : orow[c];
            for (size_t j = 0; j < n; j++)
                acc = fmaf(p[i * ldp + j], v[j * ldv + c], acc);
            orow[c] = acc;
        }
    }
}
