/*
 * Helpers shared by the AVX2+FMA kernels: forced inlining (so a block
 * shape passed as a constant becomes a fully unrolled, register-allocated
 * micro-kernel) and lane masks for the tails of rows whose length is not a
 * multiple of 8.  _mm256_maskload_ps / _mm256_maskstore_ps never touch (and
 * never fault on) the masked-off lanes, which is how every tail stays inside
 * the caller's buffers.
 */
#ifndef SA_AVX2_HELPERS_H
#define SA_AVX2_HELPERS_H

#if !defined(__AVX2__) || !defined(__FMA__)
#error "kernels/avx2 must be compiled with -mavx2 -mfma"
#endif

#include <immintrin.h>
#include <stddef.h>

#include "fastexp.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))
/* Unroll a loop over a block's rows or vectors completely, so its array of
 * accumulators becomes registers (GCC does not always do it on its own,
 * and then mirrors the array to the stack at every reduction step). */
#define UNROLL _Pragma("GCC unroll 16")

/* Mask of the first `k` lanes (0 ≤ k ≤ 8): an 8-wide window slid over
 * eight all-ones words followed by eight zeros. */
ALWAYS_INLINE __m256i lanes_below(size_t k) {
    static const int bits[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                 0,  0,  0,  0,  0,  0,  0,  0};
    return _mm256_loadu_si256((const __m256i *)(bits + 8 - k));
}

/* Load / store 8 floats, or only the lanes of k when `masked` (a constant
 * in every caller, so each use compiles to one instruction). */
ALWAYS_INLINE __m256 load8(const int masked, const float *p, __m256i k) {
    return masked ? _mm256_maskload_ps(p, k) : _mm256_loadu_ps(p);
}
ALWAYS_INLINE void store8(const int masked, float *p, __m256i k, __m256 x) {
    if (masked)
        _mm256_maskstore_ps(p, k, x);
    else
        _mm256_storeu_ps(p, x);
}

/* The canonical 16-lane sum: lanes 0–7 (s0) + 8–15 (s1), then 0–3 + 4–7,
 * 0–1 + 2–3, 0 + 1, exactly the scalar sum16's order. */
ALWAYS_INLINE float sum16(__m256 s0, __m256 s1) {
    __m256 v = _mm256_add_ps(s0, s1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(v),
                          _mm256_extractf128_ps(v, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

/* ---- fast exp (SIMDATTN_FAST_EXP) --------------------------------------
 * The steps of kernels/fastexp.h on 8 lanes; the same operations as the
 * scalar exp_poly, so the same bits.  fnmadd(a, b, c) = c − a·b rounded
 * once, as fmaf(a, −b, c).  max_ps(XMIN, x) returns x when x is NaN.
 * Inlined, it keeps the caller's ymm live (a SLEEF call clobbers all 16)
 * and needs 4 of them (x/r, z, n, p) plus broadcast constants. */
ALWAYS_INLINE __m256 exp8_poly(__m256 x) {
    const __m256 shift = _mm256_set1_ps(SA_EXP_SHIFT);
    x = _mm256_max_ps(_mm256_set1_ps(SA_EXP_XMIN), x);                  /* 1 */
    __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(SA_EXP_LOG2E), shift); /* 2 */
    __m256 n = _mm256_sub_ps(z, shift);                                 /* 3 */
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(SA_EXP_LN2_HI), x);   /* 4 */
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(SA_EXP_LN2_LO), r);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(SA_EXP_P6), r,            /* 5 */
                               _mm256_set1_ps(SA_EXP_P5));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(SA_EXP_P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(SA_EXP_P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(SA_EXP_P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(SA_EXP_P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(SA_EXP_P0));
    __m256 s = _mm256_castsi256_ps(                                     /* 6 */
        _mm256_slli_epi32(_mm256_castps_si256(z), 23));
    return _mm256_mul_ps(p, s);                                         /* 7 */
}

#endif
