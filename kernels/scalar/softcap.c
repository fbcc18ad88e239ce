/*
 * Scalar reference logit soft-capping (Gemma-2 style), in place on a tile:
 *
 *   y = S_ij·scale          rounded
 *   z = y / cap             rounded (a true division, not y·(1/cap): one
 *                           rounding instead of two)
 *   S_ij = cap·tanh(z) + (y − y)
 *
 * The (y − y) term is +0 for every finite y and NaN for ±Inf or NaN, so a
 * logit that overflowed (or came from an Inf in Q or K) stays NaN instead
 * of saturating to ±cap: the NaN policy of simdattn.h holds with capping.
 * Adding +0 is exact, so it costs no accuracy.
 *
 * tanh is libm's tanhf (glibc 2.36: ≤ 2.19 ULP, measured against double
 * tanh over every positive float; tanh is odd and glibc mirrors it); with
 * SIMDATTN_DETERMINISTIC it is SLEEF's Sleef_finz_tanhf1_u10purecfma
 * (≤ 1 ULP), which returns the same bits as the finz vector variants.
 * Error of the capped logit against cap·tanh(ŷ/cap), ŷ the exact scaled logit:
 *   |δ_out| ≤ |δ_y| + u|y| + cap·|t|·(2.5·2u) + u·|S_ij|
 * (2.5 ULP: the measured 2.19 with a margin; 1 ULP ≤ 2u relative)
 * (tanh' ≤ 1 carries the input error through unchanged; the divide, tanh
 * and the final multiply each add their own rounding).
 * Reads and writes m×n of S (leading dimension lds); nothing else.
 */
#include <math.h>

#include "internal.h"

/* See softmax.c: Debian's sleef.h hides the purecfma prototypes here. */
float Sleef_finz_tanhf1_u10purecfma(float);

void sa_softcap_scalar(size_t m, size_t n, float scale, float cap, float *s,
                       size_t lds, unsigned flags) {
    for (size_t i = 0; i < m; i++) {
        float *row = s + i * lds;
        for (size_t j = 0; j < n; j++) {
            float y = row[j] * scale;
            float z = y / cap;
            float t = flags & SIMDATTN_DETERMINISTIC
                          ? Sleef_finz_tanhf1_u10purecfma(z)
                          : tanhf(z);
            row[j] = cap * t + (y - y);
        }
    }
}
