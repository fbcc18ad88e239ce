#if !defined(__AVX2__) || !defined(__F16C__)
#error "kernels/avx2/convert.c must be compiled with -mavx2 -mf16c"
#endif
/*
 * AVX2 widening of a 16-bit KV cache row to fp32 (contract and reference:
 * kernels/scalar/convert.c).  8 elements per step: F16 by F16C's
 * vcvtph2ps (exact, quiets a signalling NaN as the reference does, and
 * does not consult MXCSR.DAZ, so subnormal halves stay exact), BF16 by
 * zero-extending to 32 bits and shifting left by 16.  The last n mod 8
 * elements go through an 8-element stack buffer, so nothing outside src
 * and dst is touched and the tail uses the same instructions.
 * Reads n elements of src, writes n floats of dst; any alignment.
 */
#include <immintrin.h>
#include <string.h>

#include "internal.h"

static inline __m256 widen8(simdattn_dtype dtype, __m128i h) {
    if (dtype == SIMDATTN_F16)
        return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

void sa_widen_avx2(simdattn_dtype dtype, size_t n, const uint16_t *src,
                   float *dst) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i,
                         widen8(dtype, _mm_loadu_si128((const __m128i *)(src + i))));
    if (i < n) {
        uint16_t h[8] = {0};
        float f[8];
        memcpy(h, src + i, (n - i) * sizeof(uint16_t));
        _mm256_storeu_ps(f, widen8(dtype, _mm_loadu_si128((const __m128i *)h)));
        memcpy(dst + i, f, (n - i) * sizeof(float));
    }
}
