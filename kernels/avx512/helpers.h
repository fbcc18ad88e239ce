/*
 * Small AVX-512 helpers shared by the kernels of kernels/avx512/.
 * Included only from files compiled with the AVX-512 flags.
 */
#ifndef SA_AVX512_HELPERS_H
#define SA_AVX512_HELPERS_H

#ifndef __AVX512F__
#error "kernels/avx512 needs -mavx512f -mavx512vl -mavx512bw -mavx512dq -mfma"
#endif

#include <immintrin.h>
#include <stddef.h>

/* Every micro-kernel body is instantiated with compile-time tile shapes
 * through this attribute, so its accumulator arrays become registers. */
#define SA_INLINE static inline __attribute__((always_inline))
/* Placed on every loop over a tile's rows or vectors: fully unrolled early,
 * the accumulator arrays are split into registers (GCC 12 otherwise keeps
 * them in memory when the tile also contains masked loads). */
#define SA_UNROLL _Pragma("GCC unroll 32")

/* Lanes 0 … r−1 set (r ≤ 16; r ≥ 16 gives all 16). */
SA_INLINE __mmask16 lanes(size_t r) {
    return r >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << r) - 1u);
}

/* The canonical 16-lane sum of kernels/scalar/softmax.c (sum16): lane l
 * already holds the partial sum of elements j ≡ l (mod 16); combine lanes
 * l and l+8, then l and l+4, l and l+2, l and l+1, in that order. */
SA_INLINE float sum16(__m512 acc) {
    __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(acc),
                              _mm512_extractf32x8_ps(acc, 1));
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8),
                           _mm256_extractf128_ps(s8, 1));
    __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    __m128 s1 = _mm_add_ss(s2, _mm_movehdup_ps(s2));
    return _mm_cvtss_f32(s1);
}

#endif
