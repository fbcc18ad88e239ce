/*
 * FMA throughput of AVX2+FMA: 12 independent ymm accumulators (12 of the
 * 16 ymm registers; the other two hold the constants).  Keeping one FMA
 * issuing per port per cycle needs latency × ports = 4 × 2 = 8 chains on
 * current x86 cores; 12 leaves margin for 5-cycle parts.  Each step
 * a = a·x + y converges to y/(1−x) = 1: no overflow, no subnormals.
 * 2 flops × 8 lanes per FMA.
 */
#ifndef __AVX2__
#error "bench/peak/avx2.c must be compiled with -mavx2 -mfma"
#endif
#ifndef __FMA__
#error "bench/peak/avx2.c must be compiled with -mfma"
#endif
#include <immintrin.h>

#include "bench.h"

enum { CHAINS = 12, LANES = 8 };

static float run(size_t reps) {
    const __m256 x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(1e-3f);
    __m256 c[CHAINS];
    for (int i = 0; i < CHAINS; i++)
        c[i] = _mm256_set1_ps((float)i / CHAINS);
    for (size_t r = 0; r < reps; r++)
#pragma GCC unroll 12
        for (int i = 0; i < CHAINS; i++)
            c[i] = _mm256_fmadd_ps(c[i], x, y);
    __m256 s = c[0];
    for (int i = 1; i < CHAINS; i++)
        s = _mm256_add_ps(s, c[i]);
    float lanes[LANES];
    _mm256_storeu_ps(lanes, s);
    float sum = 0.0f;
    for (int i = 0; i < LANES; i++)
        sum += lanes[i];
    return sum;
}

const sab_fma_loop sab_fma_avx2 = {run, 2.0 * CHAINS * LANES};
