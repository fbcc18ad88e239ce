/*
 * FMA throughput of AVX-512: 24 independent zmm accumulators (24 of the 32
 * zmm registers, about what the Q·Kᵀ micro-kernel keeps live).  Two
 * 512-bit FMA ports at latency 4 need 8 chains; 24 also covers cores that
 * split zmm work over 256-bit units.  Each step a = a·x + y converges to
 * y/(1−x) = 1: no overflow, no subnormals.  2 flops × 16 lanes per FMA.
 */
#ifndef __AVX512F__
#error "bench/peak/avx512.c must be compiled with -mavx512f"
#endif
#include <immintrin.h>
#include <stdint.h>

#include "bench.h"

enum { CHAINS = 24, LANES = 16 };

/* Sum of every lane of v[0 … n−1]: keeps every chain's result alive. */
static float sum_of(const __m512 *v, int n) {
    __m512 s = v[0];
    for (int i = 1; i < n; i++)
        s = _mm512_add_ps(s, v[i]);
    return _mm512_reduce_add_ps(s);
}

static float run(size_t reps) {
    const __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-3f);
    __m512 c[CHAINS];
    for (int i = 0; i < CHAINS; i++)
        c[i] = _mm512_set1_ps((float)i / CHAINS);
    for (size_t r = 0; r < reps; r++)
#pragma GCC unroll 24
        for (int i = 0; i < CHAINS; i++)
            c[i] = _mm512_fmadd_ps(c[i], x, y);
    return sum_of(c, CHAINS);
}

/* Decode ceiling (bench.h): per key the 8 zmm of its K row and of its V
 * row, each into SAB_STREAM_ROWS FMAs; 16 accumulators (one per vector of
 * the two rows) of 4 FMAs a key: 16 chains, enough for 2 ports at latency
 * 4 as above.  K and V are read side by side, in address order. */
#define STREAM(LOAD)                                                          \
    for (size_t j = 0; j < keys; j++)                                         \
        for (int c = 0; c < SAB_STREAM_D / LANES; c++) {                      \
            size_t at = j * SAB_STREAM_D + (size_t)c * LANES;                 \
            __m512 x = LOAD(k, at), y = LOAD(v, at);                          \
            for (int r = 0; r < SAB_STREAM_ROWS; r++) {                       \
                a[c] = _mm512_fmadd_ps(x, q[r], a[c]);                        \
                a[c + SAB_STREAM_D / LANES] =                                 \
                    _mm512_fmadd_ps(y, q[r], a[c + SAB_STREAM_D / LANES]);    \
            }                                                                 \
        }
#define LOAD32(p, at) _mm512_loadu_ps((const float *)(p) + (at))
#define LOAD16(p, at) \
    _mm512_cvtph_ps(_mm256_loadu_si256((const void *)((const uint16_t *)(p) + (at))))

static float stream(const void *k, const void *v, size_t keys, int f16) {
    __m512 q[SAB_STREAM_ROWS], a[2 * SAB_STREAM_D / LANES];
    for (int r = 0; r < SAB_STREAM_ROWS; r++)
        q[r] = _mm512_set1_ps(1e-3f * (float)(r + 1));
    for (int i = 0; i < 2 * SAB_STREAM_D / LANES; i++)
        a[i] = _mm512_setzero_ps();
    if (f16)
        STREAM(LOAD16)
    else
        STREAM(LOAD32)
    return sum_of(a, 2 * SAB_STREAM_D / LANES);
}

const sab_fma_loop sab_fma_avx512 = {run, 2.0 * CHAINS * LANES, stream};
