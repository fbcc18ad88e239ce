/*
 * AVX-512 widening of a 16-bit KV cache row to fp32 (contract and
 * reference: kernels/scalar/convert.c).  16 elements per step: F16 by
 * vcvtph2ps zmm (exact, quiets a signalling NaN as the reference does,
 * independent of MXCSR.DAZ), BF16 by zero-extending to 32 bits and
 * shifting left by 16 (the AVX512_BF16 extension has no widening
 * instruction: its bf16 → fp32 intrinsic is this same shift).  The last
 * n mod 16 elements use a masked load (AVX512BW) and a masked store, so
 * nothing outside src and dst is touched.
 * Reads n elements of src, writes n floats of dst; any alignment.
 */
#include "helpers.h"
#include "internal.h"

SA_INLINE __m512 widen16(simdattn_dtype dtype, __m256i h) {
    if (dtype == SIMDATTN_F16)
        return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

void sa_widen_avx512(simdattn_dtype dtype, size_t n, const uint16_t *src,
                     float *dst) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dst + i,
                         widen16(dtype, _mm256_loadu_si256((const __m256i *)(src + i))));
    if (i < n) {
        __mmask16 k = lanes(n - i);
        _mm512_mask_storeu_ps(dst + i, k,
                              widen16(dtype, _mm256_maskz_loadu_epi16(k, src + i)));
    }
}
