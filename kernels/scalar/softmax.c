/*
 * Scalar reference softmax, plain and online, in place on a tile of logits.
 *
 *   x_j = S_j·scale (+ mask_j)       two roundings, never fused
 *   m   = max_j x_j                   exact
 *   p_j = exp(x_j − m̂)               m̂ = m, or 0 when m = −inf (all masked),
 *                                     so masked keys give exp(−inf) = 0 and a
 *                                     NaN logit still gives NaN
 *   Σ   = canonical 16-lane sum (sa_sum16)
 * Plain:  S_j = p_j · (1/Σ)  (0 when Σ = 0, i.e. the row is fully masked).
 * Online: α = exp(row_max − m̂), row_sum = fmaf(α, row_sum, Σ).
 *
 * Every step but exp is a rule of kernels/rules.h (logits, the shift, the
 * zero-max and fully-masked-row cases, the canonical 16-lane sum that
 * every ISA reproduces), which the SIMD sets call for their scalar steps.
 * exp here is libm's expf (glibc: < 1 ULP), the most accurate one at hand;
 * with SIMDATTN_DETERMINISTIC it is SLEEF's Sleef_finz_expf1_u10purecfma,
 * which returns the same bits as the finz vector variants of every ISA;
 * with SIMDATTN_FAST_EXP it is exp_poly below, the operations of
 * kernels/fastexp.h in C, whose bits every ISA's vector version returns
 * (fmaf is glibc's, correctly rounded with or without an FMA unit).
 * Bound per probability: see simdattn.h.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fastexp.h"
#include "internal.h"
#include "rules.h"

/* Debian's sleef.h declares the purecfma variants only when FP_FAST_FMA is
 * defined (it is not in this FMA-free file), so declare the one we use. */
float Sleef_finz_expf1_u10purecfma(float);

/* The SIMDATTN_FAST_EXP exp, step by step as kernels/fastexp.h numbers
 * them.  Step 4 negates the constant, not n: −n would flip the sign of a
 * NaN, which the vector FNMADD/FMLS forms never return (they propagate the
 * addend's or the first NaN unchanged), and NaN bits must match too. */
static float exp_poly(float x) {
    x = x < SA_EXP_XMIN ? SA_EXP_XMIN : x;                     /* 1 */
    float z = fmaf(x, SA_EXP_LOG2E, SA_EXP_SHIFT);              /* 2 */
    float n = z - SA_EXP_SHIFT;                                 /* 3 */
    float r = fmaf(n, -SA_EXP_LN2_HI, x);                       /* 4 */
    r = fmaf(n, -SA_EXP_LN2_LO, r);
    float p = fmaf(SA_EXP_P6, r, SA_EXP_P5);                    /* 5 */
    p = fmaf(p, r, SA_EXP_P4);
    p = fmaf(p, r, SA_EXP_P3);
    p = fmaf(p, r, SA_EXP_P2);
    p = fmaf(p, r, SA_EXP_P1);
    p = fmaf(p, r, SA_EXP_P0);
    uint32_t bits;                                              /* 6 */
    memcpy(&bits, &z, sizeof bits);
    bits <<= 23;
    float s;
    memcpy(&s, &bits, sizeof s);
    return p * s;                                               /* 7 */
}

static float exp1(float x, unsigned flags) {
    switch (sa_exp_kind(flags)) {
    case SA_EXP_POLY:
        return exp_poly(x);
    case SA_EXP_FINZ:
        return Sleef_finz_expf1_u10purecfma(x);
    default:
        return expf(x);
    }
}

static void exp_shift(size_t n, float shift, float *s, unsigned flags) {
    for (size_t j = 0; j < n; j++)
        s[j] = exp1(s[j] - shift, flags);
}

void sa_softmax_scalar(size_t m, size_t n, float scale, const float *mask,
                       size_t ldm, float *s, size_t lds, unsigned flags) {
    for (size_t i = 0; i < m; i++) {
        float *row = s + i * lds;
        float mx = sa_logits_from(0, n, scale, mask ? mask + i * ldm : NULL,
                                  row, -INFINITY);
        exp_shift(n, sa_exp_shift(mx), row, flags);
        sa_scale_from(0, n, sa_inv_sum(sa_sum16(row, n)), row);
    }
}

void sa_softmax_online_scalar(size_t m, size_t n, float scale,
                              const float *mask, size_t ldm, float *s,
                              size_t lds, float *row_max, float *row_sum,
                              float *alpha, unsigned flags) {
    for (size_t i = 0; i < m; i++) {
        float *row = s + i * lds;
        float mx = sa_online_max(
            row_max[i], sa_logits_from(0, n, scale, mask ? mask + i * ldm : NULL,
                                       row, -INFINITY));
        float shift = sa_exp_shift(mx);
        exp_shift(n, shift, row, flags);
        alpha[i] = exp1(row_max[i] - shift, flags);
        row_sum[i] = sa_online_sum(alpha[i], row_sum[i], sa_sum16(row, n));
        row_max[i] = mx;
    }
}
