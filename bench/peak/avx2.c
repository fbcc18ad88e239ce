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
#include <stdint.h>

#include "bench.h"

enum { CHAINS = 12, LANES = 8 };

/* Sum of every lane of v[0 … n−1]: keeps every chain's result alive. */
static float sum_of(const __m256 *v, int n) {
    __m256 s = v[0];
    for (int i = 1; i < n; i++)
        s = _mm256_add_ps(s, v[i]);
    float lanes[LANES];
    _mm256_storeu_ps(lanes, s);
    float sum = 0.0f;
    for (int i = 0; i < LANES; i++)
        sum += lanes[i];
    return sum;
}

static float run(size_t reps) {
    const __m256 x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(1e-3f);
    __m256 c[CHAINS];
    for (int i = 0; i < CHAINS; i++)
        c[i] = _mm256_set1_ps((float)i / CHAINS);
    for (size_t r = 0; r < reps; r++)
#pragma GCC unroll 12
        for (int i = 0; i < CHAINS; i++)
            c[i] = _mm256_fmadd_ps(c[i], x, y);
    return sum_of(c, CHAINS);
}

/* Decode ceiling (bench.h): per key the 16 ymm of its K row and of its V
 * row, each into SAB_STREAM_ROWS FMAs.  With 16 ymm registers the
 * accumulators are 4 for K and 4 for V (vector c into c mod 4): 8 chains
 * of 16 FMAs a key, 2 ports × latency 4.  F16C widens fp16. */
enum { ACC = 4 };
#define STREAM(LOAD)                                                          \
    for (size_t j = 0; j < keys; j++)                                         \
        for (int c = 0; c < SAB_STREAM_D / LANES; c++) {                      \
            size_t at = j * SAB_STREAM_D + (size_t)c * LANES;                 \
            __m256 x = LOAD(k, at), y = LOAD(v, at);                          \
            for (int r = 0; r < SAB_STREAM_ROWS; r++) {                       \
                a[c % ACC] = _mm256_fmadd_ps(x, q[r], a[c % ACC]);            \
                a[ACC + c % ACC] = _mm256_fmadd_ps(y, q[r], a[ACC + c % ACC]); \
            }                                                                 \
        }
#define LOAD32(p, at) _mm256_loadu_ps((const float *)(p) + (at))
#define LOAD16(p, at) \
    _mm256_cvtph_ps(_mm_loadu_si128((const void *)((const uint16_t *)(p) + (at))))

static float stream(const void *k, const void *v, size_t keys, int f16) {
    __m256 q[SAB_STREAM_ROWS], a[2 * ACC];
    for (int r = 0; r < SAB_STREAM_ROWS; r++)
        q[r] = _mm256_set1_ps(1e-3f * (float)(r + 1));
    for (int i = 0; i < 2 * ACC; i++)
        a[i] = _mm256_setzero_ps();
    if (f16)
        STREAM(LOAD16)
    else
        STREAM(LOAD32)
    return sum_of(a, 2 * ACC);
}

const sab_fma_loop sab_fma_avx2 = {run, 2.0 * CHAINS * LANES, stream};
