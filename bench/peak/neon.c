/*
 * FMA throughput of AArch64 Advanced SIMD: 24 independent q-register
 * accumulators (24 of 32, as the Q·Kᵀ micro-kernel uses).  Cores with four
 * 128-bit FMA pipes at latency 4 need 16 chains; 24 leaves margin.  Each
 * step a = a·x + y converges to y/(1−x) = 1: no overflow, no subnormals.
 * 2 flops × 4 lanes per FMA.
 */
#ifndef __aarch64__
#error "bench/peak/neon.c is AArch64 Advanced SIMD code"
#endif
#include <arm_neon.h>

#include "bench.h"

enum { CHAINS = 24, LANES = 4 };

static float run(size_t reps) {
    const float32x4_t x = vdupq_n_f32(0.999f), y = vdupq_n_f32(1e-3f);
    float32x4_t c[CHAINS];
    for (int i = 0; i < CHAINS; i++)
        c[i] = vdupq_n_f32((float)i / CHAINS);
    for (size_t r = 0; r < reps; r++)
#pragma GCC unroll 24
        for (int i = 0; i < CHAINS; i++)
            c[i] = vfmaq_f32(y, c[i], x);
    float32x4_t s = c[0];
    for (int i = 1; i < CHAINS; i++)
        s = vaddq_f32(s, c[i]);
    return vaddvq_f32(s);
}

const sab_fma_loop sab_fma_neon = {run, 2.0 * CHAINS * LANES};
