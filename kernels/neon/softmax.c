/*
 * NEON softmax, plain and online, in place on a tile of logits; the same
 * arithmetic as kernels/scalar/softmax.c, four lanes at a time:
 *
 *   x_j = S_j·scale (+ mask_j)       two roundings (FMUL then FADD)
 *   m   = max_j x_j                   FMAXNM ignores NaN, like the scalar
 *                                     x > m scan; a NaN x still poisons
 *                                     the row through exp below
 *   p_j = exp(x_j − m̂)               m̂ = m, or 0 when m = −inf
 *   Σ   = canonical 16-lane sum: element j is added into lane j mod 16,
 *         held in four q-registers (lanes 0–3, 4–7, 8–11, 12–15), then
 *         (acc0+acc2) + (acc1+acc3), lanes [0,1]+[2,3], lane 0+1: exactly
 *         the scalar sum16's halving 8/4/2/1.
 * Plain: S_j = p_j·(1/Σ) (0 when Σ = 0).  Online: α = exp(row_max − m̂),
 * row_sum = fma(α, row_sum, Σ).
 * exp: Sleef_expf4_u10advsimd (≤ 1 ULP), or Sleef_finz_expf4_u10advsimd
 * with SIMDATTN_DETERMINISTIC, which returns the bits of the scalar
 * kernel's Sleef_finz_expf1_u10purecfma, or exp4_poly (helpers.h, inlined)
 * with SIMDATTN_FAST_EXP, which returns the scalar exp_poly's bits; every
 * other operation is the scalar one in the scalar order, so deterministic
 * and fast-exp results are bit-identical to sa_softmax_scalar /
 * sa_softmax_online_scalar.  (Among
 * logits +0 and −0 the scalar scan keeps the first as m, FMAXNM returns
 * +0; exp arguments are the same either way, and every ISA stores a zero
 * row_max as +0.)
 * Bound per probability: see simdattn.h (exp 1 ULP, logits 2u relative,
 * sum γ_n, divide u).
 * Tails: the last n mod 16 logits go through a 16-float stack copy padded
 * with −inf (exp gives +0 there, which leaves every lane sum unchanged);
 * elementwise passes end with the scalar rules of kernels/rules.h, as do
 * the per-row steps (shift, zero max, fully masked row, running sum).
 * Reads and writes exactly m×n of S (any lds), reads m×n of the mask (ldm, 0 broadcasts),
 * and m floats of row_max / row_sum / alpha.
 */
#if !defined(__aarch64__) || !defined(__ARM_NEON)
#error "kernels/neon/softmax.c needs AArch64 Advanced SIMD"
#endif

#include <math.h>
#include <sleef.h>
#include <string.h>

#include "helpers.h"
#include "internal.h"
#include "rules.h"

SA_INLINE float32x4_t vexp(const int kind, float32x4_t x) {
    return kind == SA_EXP_POLY   ? exp4_poly(x)
           : kind == SA_EXP_FINZ ? Sleef_finz_expf4_u10advsimd(x)
                                 : Sleef_expf4_u10advsimd(x);
}

/* Logits of one row into s, returns their maximum (−inf if all are −inf
 * or NaN, as the scalar scan). */
static float logits(size_t n, float scale, const float *mrow, float *s) {
    float32x4_t mx4 = vdupq_n_f32(-INFINITY);
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
        float32x4_t x = vmulq_n_f32(vld1q_f32(s + j), scale);
        if (mrow)
            x = vaddq_f32(x, vld1q_f32(mrow + j));
        vst1q_f32(s + j, x);
        mx4 = vmaxnmq_f32(mx4, x);
    }
    return sa_logits_from(j, n, scale, mrow, s, vmaxnmvq_f32(mx4));
}

/* x[0 … 15] = exp(x − shift), each added into its lane of acc. */
SA_INLINE void exp16(const int kind, float *x, float32x4_t shift,
                     float32x4_t acc[4]) {
    for (size_t v = 0; v < 4; v++) {
        float32x4_t e = vexp(kind, vsubq_f32(vld1q_f32(x + 4 * v), shift));
        vst1q_f32(x + 4 * v, e);
        acc[v] = vaddq_f32(acc[v], e);
    }
}

/* s = exp(s − shift) over one row; returns the canonical 16-lane sum. */
SA_INLINE float exp_sum(const int kind, size_t n, float shift, float *s) {
    float32x4_t acc[4], sh = vdupq_n_f32(shift);
    for (size_t v = 0; v < 4; v++)
        acc[v] = vdupq_n_f32(0.0f);
    size_t j = 0;
    for (; j + 16 <= n; j += 16)
        exp16(kind, s + j, sh, acc);
    if (j < n) {
        float buf[16];
        size_t r = n - j;
        memcpy(buf, s + j, r * sizeof(float));
        for (size_t t = r; t < 16; t++)
            buf[t] = -INFINITY; /* shift is never NaN: exp(−inf) = +0 */
        exp16(kind, buf, sh, acc);
        memcpy(s + j, buf, r * sizeof(float));
    }
    return sum16(acc);
}

static void scale_row(size_t n, float inv, float *s) {
    size_t j = 0;
    for (; j + 4 <= n; j += 4)
        vst1q_f32(s + j, vmulq_n_f32(vld1q_f32(s + j), inv));
    sa_scale_from(j, n, inv, s);
}

SA_INLINE void plain(const int kind, size_t m, size_t n, float scale,
                     const float *mask, size_t ldm, float *s, size_t lds) {
    for (size_t i = 0; i < m; i++) {
        float *row = s + i * lds;
        float mx = logits(n, scale, mask ? mask + i * ldm : NULL, row);
        scale_row(n, sa_inv_sum(exp_sum(kind, n, sa_exp_shift(mx), row)), row);
    }
}

SA_INLINE void online(const int kind, size_t m, size_t n, float scale,
                      const float *mask, size_t ldm, float *s, size_t lds,
                      float *row_max, float *row_sum, float *alpha) {
    for (size_t i = 0; i < m; i++) {
        float *row = s + i * lds;
        float mx = sa_online_max(
            row_max[i], logits(n, scale, mask ? mask + i * ldm : NULL, row));
        float shift = sa_exp_shift(mx);
        float sum = exp_sum(kind, n, shift, row);
        alpha[i] = vgetq_lane_f32(vexp(kind, vdupq_n_f32(row_max[i] - shift)), 0);
        row_sum[i] = sa_online_sum(alpha[i], row_sum[i], sum);
        row_max[i] = mx;
    }
}

void sa_softmax_neon(size_t m, size_t n, float scale, const float *mask,
                     size_t ldm, float *s, size_t lds, unsigned flags) {
    SA_EXP_DISPATCH(flags, plain, m, n, scale, mask, ldm, s, lds);
}

void sa_softmax_online_neon(size_t m, size_t n, float scale,
                            const float *mask, size_t ldm, float *s,
                            size_t lds, float *row_max, float *row_sum,
                            float *alpha, unsigned flags) {
    SA_EXP_DISPATCH(flags, online, m, n, scale, mask, ldm, s, lds, row_max,
                    row_sum, alpha);
}
