/*
 * FMA throughput of scalar code: what a loop of fmaf reaches, the ceiling
 * of the scalar reference kernels (which are built the same way, without
 * ISA flags, so fmaf is glibc's call, not an inline instruction).
 * CHAINS = 8 independent accumulators let calls overlap in the pipeline;
 * each step a = a·x + y converges to y/(1−x) = 1, so no chain overflows or
 * goes subnormal however long it runs.  2 flops per fmaf.
 */
#include <math.h>

#include "bench.h"

enum { CHAINS = 8 };

static float run(size_t reps) {
    float c[CHAINS];
    for (int i = 0; i < CHAINS; i++)
        c[i] = (float)i / CHAINS;
    for (size_t r = 0; r < reps; r++)
#pragma GCC unroll 8
        for (int i = 0; i < CHAINS; i++)
            c[i] = fmaf(c[i], 0.999f, 1e-3f);
    float sum = 0.0f;
    for (int i = 0; i < CHAINS; i++)
        sum += c[i];
    return sum;
}

/* No decode ceiling: the scalar kernels run far below memory speed. */
const sab_fma_loop sab_fma_scalar = {run, 2.0 * CHAINS, NULL};
