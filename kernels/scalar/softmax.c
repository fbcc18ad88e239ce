/*
 * Scalar reference softmax, plain and online, in place on a tile of logits.
 *
 *   x_j = S_j·scale (+ mask_j)       two roundings, never fused
 *   m   = max_j x_j                   exact
 *   p_j = exp(x_j − m̂)               m̂ = m, or 0 when m = −inf (all masked),
 *                                     so masked keys give exp(−inf) = 0 and a
 *                                     NaN logit still gives NaN
 *   Σ   = canonical 16-lane sum (sa_sum16 below)
 * Plain:  S_j = p_j · (1/Σ)  (0 when Σ = 0, i.e. the row is fully masked).
 * Online: α = exp(row_max − m̂), row_sum = fmaf(α, row_sum, Σ).
 *
 * The sum order is shared by every ISA: element j goes to partial sum
 * j mod 16 (a zmm, two ymm or four q-registers), and the 16 partials are
 * combined by halving (lanes 0–7 + 8–15, then 0–3 + 4–7, 0–1 + 2–3, 0 + 1).
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

static float sum16(const float *p, size_t n) {
    float lane[16] = {0};
    for (size_t j = 0; j < n; j++)
        lane[j % 16] += p[j];
    for (size_t w = 8; w >= 1; w /= 2)
        for (size_t l = 0; l < w; l++)
            lane[l] += lane[l + w];
    return lane[0];
}

/* Logits of one row into s, returns their maximum. */
static float logits(size_t n, float scale, const float *mrow, float *s) {
    float mx = -INFINITY;
    for (size_t j = 0; j < n; j++) {
        float x = s[j] * scale;
        if (mrow)
            x = x + mrow[j];
        s[j] = x;
        if (x > mx)
            mx = x;
    }
    return mx;
}

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
    if (flags & SIMDATTN_FAST_EXP)
        return exp_poly(x);
    return flags & SIMDATTN_DETERMINISTIC ? Sleef_finz_expf1_u10purecfma(x)
                                          : expf(x);
}

static void exp_shift(size_t n, float shift, float *s, unsigned flags) {
    for (size_t j = 0; j < n; j++)
        s[j] = exp1(s[j] - shift, flags);
}

void sa_softmax_scalar(size_t m, size_t n, float scale, const float *mask,
                       size_t ldm, float *s, size_t lds, unsigned flags) {
    for (size_t i = 0; i < m; i++) {
        float *row = s + i * lds;
        float mx = logits(n, scale, mask ? mask + i * ldm : NULL, row);
        exp_shift(n, mx == -INFINITY ? 0.0f : mx, row, flags);
        float sum = sum16(row, n);
        float inv = sum == 0.0f ? 0.0f : 1.0f / sum;
        for (size_t j = 0; j < n; j++)
            row[j] = row[j] * inv;
    }
}

void sa_softmax_online_scalar(size_t m, size_t n, float scale,
                              const float *mask, size_t ldm, float *s,
                              size_t lds, float *row_max, float *row_sum,
                              float *alpha, unsigned flags) {
    for (size_t i = 0; i < m; i++) {
        float *row = s + i * lds;
        float mx = logits(n, scale, mask ? mask + i * ldm : NULL, row);
        if (row_max[i] > mx)
            mx = row_max[i];
        mx = mx + 0.0f; /* −0 → +0: every ISA stores a zero max as +0 */
        float shift = mx == -INFINITY ? 0.0f : mx;
        exp_shift(n, shift, row, flags);
        alpha[i] = exp1(row_max[i] - shift, flags);
        row_sum[i] = fmaf(alpha[i], row_sum[i], sum16(row, n));
        row_max[i] = mx;
    }
}
