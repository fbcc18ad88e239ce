/*
 * Scalar reference Q·Kᵀ: S[i][j] = Σ_k Q[i][k]·K_j[k] on packed K.
 *
 * Each S element is one sequential chain of fmaf over k = 0 … d−1.  That
 * order and the fused rounding are deliberate: every SIMD micro-kernel
 * broadcasts Q[i][k] and FMAs a panel of keys at step k, which is the same
 * chain per element, so all ISAs round Q·Kᵀ identically.
 * Bound: |S − S*| ≤ γ_d Σ_k |Q[i][k]·K_j[k]|  (sequential FMA summation).
 * Layout: any leading dimensions; reads m×d of Q and ⌈n/NR⌉ panels of Kp;
 * writes exactly m×n of S.
 */
#include <math.h>

#include "internal.h"

enum { NR = SA_QK_NR_scalar };

void sa_qk_scalar(size_t m, size_t n, size_t d, const float *q, size_t ldq,
                  const float *kp, float *s, size_t lds) {
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            const float *panel = kp + (j / NR) * d * NR + j % NR;
            float acc = 0.0f;
            for (size_t k = 0; k < d; k++)
                acc = fmaf(q[i * ldq + k], panel[k * NR], acc);
            s[i * lds + j] = acc;
        }
    }
}
