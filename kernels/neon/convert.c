#if !defined(__aarch64__) || !defined(__ARM_NEON)
#error "kernels/neon/convert.c needs AArch64 Advanced SIMD"
#endif
/*
 * NEON widening of a 16-bit KV cache row to fp32 (contract and reference:
 * kernels/scalar/convert.c).  8 elements per step: F16 by fcvtl/fcvtl2
 * (exact, quiets a signalling NaN as the reference does; FPCR.FZ16 is
 * clear under Linux, so subnormal halves stay exact), BF16 by shll/shll2
 * #16 (each 16-bit lane shifted into the top of a 32-bit one).  The last
 * n mod 8 elements go through an 8-element stack buffer, so nothing
 * outside src and dst is touched and the tail uses the same instructions.
 * Reads n elements of src, writes n floats of dst; any alignment.
 */
#include <arm_neon.h>
#include <string.h>

#include "internal.h"

static inline void widen8(simdattn_dtype dtype, const uint16_t *src,
                          float *dst) {
    uint16x8_t h = vld1q_u16(src);
    float32x4_t lo, hi;
    if (dtype == SIMDATTN_F16) {
        float16x8_t x = vreinterpretq_f16_u16(h);
        lo = vcvt_f32_f16(vget_low_f16(x));
        hi = vcvt_high_f32_f16(x);
    } else {
        lo = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16));
        hi = vreinterpretq_f32_u32(vshll_high_n_u16(h, 16));
    }
    vst1q_f32(dst, lo);
    vst1q_f32(dst + 4, hi);
}

void sa_widen_neon(simdattn_dtype dtype, size_t n, const uint16_t *src,
                   float *dst) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        widen8(dtype, src + i, dst + i);
    if (i < n) {
        uint16_t h[8] = {0};
        float f[8];
        memcpy(h, src + i, (n - i) * sizeof(uint16_t));
        widen8(dtype, h, f);
        memcpy(dst + i, f, (n - i) * sizeof(float));
    }
}
