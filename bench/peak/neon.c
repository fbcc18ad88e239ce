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
#include <stdint.h>

#include "bench.h"

enum { CHAINS = 24, LANES = 4 };

/* Sum of every lane of v[0 … n−1]: keeps every chain's result alive. */
static float sum_of(const float32x4_t *v, int n) {
    float32x4_t s = v[0];
    for (int i = 1; i < n; i++)
        s = vaddq_f32(s, v[i]);
    return vaddvq_f32(s);
}

static float run(size_t reps) {
    const float32x4_t x = vdupq_n_f32(0.999f), y = vdupq_n_f32(1e-3f);
    float32x4_t c[CHAINS];
    for (int i = 0; i < CHAINS; i++)
        c[i] = vdupq_n_f32((float)i / CHAINS);
    for (size_t r = 0; r < reps; r++)
#pragma GCC unroll 24
        for (int i = 0; i < CHAINS; i++)
            c[i] = vfmaq_f32(y, c[i], x);
    return sum_of(c, CHAINS);
}

/* Decode ceiling (bench.h): per key the 32 q-registers of its K row and
 * of its V row, each into SAB_STREAM_ROWS FMAs; vector c into accumulator
 * c mod 8 (K) or 8 + c mod 8 (V): 16 chains.  fcvtl widens fp16. */
enum { ACC = 8 };
#define STREAM(LOAD)                                                          \
    for (size_t j = 0; j < keys; j++)                                         \
        for (int c = 0; c < SAB_STREAM_D / LANES; c++) {                      \
            size_t at = j * SAB_STREAM_D + (size_t)c * LANES;                 \
            float32x4_t x = LOAD(k, at), y = LOAD(v, at);                     \
            for (int r = 0; r < SAB_STREAM_ROWS; r++) {                       \
                a[c % ACC] = vfmaq_f32(a[c % ACC], x, q[r]);                  \
                a[ACC + c % ACC] = vfmaq_f32(a[ACC + c % ACC], y, q[r]);      \
            }                                                                 \
        }
#define LOAD32(p, at) vld1q_f32((const float *)(p) + (at))
#define LOAD16(p, at) \
    vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)(p) + (at))))

static float stream(const void *k, const void *v, size_t keys, int f16) {
    float32x4_t q[SAB_STREAM_ROWS], a[2 * ACC];
    for (int r = 0; r < SAB_STREAM_ROWS; r++)
        q[r] = vdupq_n_f32(1e-3f * (float)(r + 1));
    for (int i = 0; i < 2 * ACC; i++)
        a[i] = vdupq_n_f32(0.0f);
    if (f16)
        STREAM(LOAD16)
    else
        STREAM(LOAD32)
    return sum_of(a, 2 * ACC);
}

const sab_fma_loop sab_fma_neon = {run, 2.0 * CHAINS * LANES, stream};
