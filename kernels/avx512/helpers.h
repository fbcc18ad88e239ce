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

#include "fastexp.h"

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

/* ---- fast exp (SIMDATTN_FAST_EXP) --------------------------------------
 * The steps of kernels/fastexp.h on 16 lanes; the same operations as the
 * scalar exp_poly, so the same bits.  fnmadd(a, b, c) = c − a·b rounded
 * once, as fmaf(a, −b, c).  max_ps(XMIN, x) returns x when x is NaN. */
SA_INLINE __m512 exp16_poly(__m512 x) {
    const __m512 shift = _mm512_set1_ps(SA_EXP_SHIFT);
    x = _mm512_max_ps(_mm512_set1_ps(SA_EXP_XMIN), x);                  /* 1 */
    __m512 z = _mm512_fmadd_ps(x, _mm512_set1_ps(SA_EXP_LOG2E), shift); /* 2 */
    __m512 n = _mm512_sub_ps(z, shift);                                 /* 3 */
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(SA_EXP_LN2_HI), x);   /* 4 */
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(SA_EXP_LN2_LO), r);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(SA_EXP_P6), r,            /* 5 */
                               _mm512_set1_ps(SA_EXP_P5));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(SA_EXP_P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(SA_EXP_P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(SA_EXP_P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(SA_EXP_P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(SA_EXP_P0));
    __m512 s = _mm512_castsi512_ps(                                     /* 6 */
        _mm512_slli_epi32(_mm512_castps_si512(z), 23));
    return _mm512_mul_ps(p, s);                                         /* 7 */
}

#endif
