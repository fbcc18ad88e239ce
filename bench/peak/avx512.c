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

#include "bench.h"

enum { CHAINS = 24, LANES = 16 };

static float run(size_t reps) {
    const __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-3f);
    __m512 c[CHAINS];
    for (int i = 0; i < CHAINS; i++)
        c[i] = _mm512_set1_ps((float)i / CHAINS);
    for (size_t r = 0; r < reps; r++)
#pragma GCC unroll 24
        for (int i = 0; i < CHAINS; i++)
            c[i] = _mm512_fmadd_ps(c[i], x, y);
    __m512 s = c[0];
    for (int i = 1; i < CHAINS; i++)
        s = _mm512_add_ps(s, c[i]);
    return _mm512_reduce_add_ps(s);
}

const sab_fma_loop sab_fma_avx512 = {run, 2.0 * CHAINS * LANES};
