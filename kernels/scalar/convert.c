/*
 * Scalar reference widening of a 16-bit KV cache row to fp32:
 *   dst[i] = widen(src[i])   (i < n)
 * F16 (IEEE binary16): sa_f16_to_f32 (kernels/internal.h): every half is
 * exactly representable in fp32, subnormals become normal, a signalling
 * NaN comes out quiet with its payload kept, as vcvtph2ps and fcvtl make
 * it.  BF16: the upper half of an fp32, a 16-bit shift (no quieting).
 * Exact: no rounding, so every ISA must return these bits.
 * Reads n elements of src, writes n floats of dst; any alignment.
 */
#include "internal.h"

void sa_widen_scalar(simdattn_dtype dtype, size_t n, const uint16_t *src,
                     float *dst) {
    if (dtype == SIMDATTN_F16)
        for (size_t i = 0; i < n; i++)
            dst[i] = sa_f16_to_f32(src[i]);
    else
        for (size_t i = 0; i < n; i++)
            dst[i] = sa_bf16_to_f32(src[i]);
}
