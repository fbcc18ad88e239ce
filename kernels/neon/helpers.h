/*
 * Helpers shared by the NEON kernels: forced inlining and unrolling (so a
 * helper called with a constant row count becomes a fully unrolled,
 * register-resident block) and loads/stores of the first r < 4 lanes that touch only those r
 * floats, for tails at the very end of a caller's buffer.
 */
#if !defined(__aarch64__) || !defined(__ARM_NEON)
#error "kernels/neon needs AArch64 Advanced SIMD"
#endif
#ifndef SA_NEON_HELPERS_H
#define SA_NEON_HELPERS_H

#include <arm_neon.h>
#include <stddef.h>

#include "fastexp.h"

#define SA_INLINE static inline __attribute__((always_inline))
/* Unroll a loop over register-block rows or vectors completely and early:
 * GCC 12 scalarises an accumulator array (keeps it in registers) only
 * when its indices are constants by then; otherwise acc[6][4] lives in
 * memory and is stored back on every step. */
#define SA_UNROLL _Pragma("GCC unroll 8")

/* p[0 … r−1] into lanes 0 … r−1 (1 ≤ r ≤ 3), zeros above. */
SA_INLINE float32x4_t load_part(const float *p, size_t r) {
    float32x4_t x = vld1q_lane_f32(p, vdupq_n_f32(0.0f), 0);
    if (r > 1)
        x = vld1q_lane_f32(p + 1, x, 1);
    if (r > 2)
        x = vld1q_lane_f32(p + 2, x, 2);
    return x;
}

/* Lanes 0 … r−1 of x into p[0 … r−1] (1 ≤ r ≤ 3). */
SA_INLINE void store_part(float *p, float32x4_t x, size_t r) {
    vst1q_lane_f32(p, x, 0);
    if (r > 1)
        vst1q_lane_f32(p + 1, x, 1);
    if (r > 2)
        vst1q_lane_f32(p + 2, x, 2);
}

/* The canonical 16-lane sum of v[0..3] (lanes 0–3, 4–7, 8–11, 12–15):
 * 0–7 + 8–15, then 0–3 + 4–7, 0–1 + 2–3, 0 + 1, the scalar sum16's order. */
SA_INLINE float sum16(const float32x4_t *v) {
    float32x4_t h = vaddq_f32(vaddq_f32(v[0], v[2]), vaddq_f32(v[1], v[3]));
    float32x2_t l = vadd_f32(vget_low_f32(h), vget_high_f32(h));
    return vget_lane_f32(l, 0) + vget_lane_f32(l, 1);
}

/* ---- fast exp (SIMDATTN_FAST_EXP) --------------------------------------
 * The steps of kernels/fastexp.h on 4 lanes; the same operations as the
 * scalar exp_poly, so the same bits.  vfmsq(c, a, b) = c − a·b rounded
 * once, as fmaf(a, −b, c); of NaN operands it returns the addend c's.  FMAX (vmaxq, not the NaN-dropping vmaxnmq)
 * returns NaN when x is NaN. */
SA_INLINE float32x4_t exp4_poly(float32x4_t x) {
    const float32x4_t shift = vdupq_n_f32(SA_EXP_SHIFT);
    x = vmaxq_f32(vdupq_n_f32(SA_EXP_XMIN), x);                         /* 1 */
    float32x4_t z = vfmaq_f32(shift, x, vdupq_n_f32(SA_EXP_LOG2E));     /* 2 */
    float32x4_t n = vsubq_f32(z, shift);                                /* 3 */
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(SA_EXP_LN2_HI));        /* 4 */
    r = vfmsq_f32(r, n, vdupq_n_f32(SA_EXP_LN2_LO));
    float32x4_t p = vfmaq_f32(vdupq_n_f32(SA_EXP_P5),                   /* 5 */
                              vdupq_n_f32(SA_EXP_P6), r);
    p = vfmaq_f32(vdupq_n_f32(SA_EXP_P4), p, r);
    p = vfmaq_f32(vdupq_n_f32(SA_EXP_P3), p, r);
    p = vfmaq_f32(vdupq_n_f32(SA_EXP_P2), p, r);
    p = vfmaq_f32(vdupq_n_f32(SA_EXP_P1), p, r);
    p = vfmaq_f32(vdupq_n_f32(SA_EXP_P0), p, r);
    float32x4_t s = vreinterpretq_f32_u32(                              /* 6 */
        vshlq_n_u32(vreinterpretq_u32_f32(z), 23));
    return vmulq_f32(p, s);                                             /* 7 */
}

#endif
