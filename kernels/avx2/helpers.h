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

#endif
