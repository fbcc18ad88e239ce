/*
 * K packing for the Q·Kᵀ micro-kernels, any panel width nr (layout in
 * simdattn.h): panel p holds keys p·nr … p·nr+nr−1, interleaved so that the
 * nr values a micro-kernel needs at reduction step k are contiguous.  Keys
 * past n are zero, so kernels may compute whole panels; their results for
 * those columns are simply never stored.
 * Plain C, compiled without ISA flags: packing moves n·d floats once per
 * head and is amortised over every query row of that head.
 */
#include <string.h>

#include "internal.h"

void sa_pack_k(size_t nr, size_t n, size_t d, const float *k, size_t ldk,
               float *kp) {
    for (size_t j0 = 0; j0 < n; j0 += nr) {
        size_t w = n - j0 < nr ? n - j0 : nr;
        float *panel = kp + (j0 / nr) * d * nr;
        for (size_t kk = 0; kk < d; kk++) {
            float *dst = panel + kk * nr;
            for (size_t j = 0; j < w; j++)
                dst[j] = k[(j0 + j) * ldk + kk];
            for (size_t j = w; j < nr; j++)
                dst[j] = 0.0f;
        }
    }
}
