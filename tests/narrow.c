/* fp32 → fp16/bf16 narrowing for the tests (declared in narrow.h): no
 * Check dependency, so the fuzz target links it too. */
#include "narrow.h"

#include <math.h>
#include <string.h>

uint16_t f32_to_f16(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    double v = fabs((double)x);
    if (isnan(x))
        return (uint16_t)(sign | 0x7e00u | ((u >> 13) & 0x3ffu));
    if (v < 0x1p-14) /* subnormal range: a multiple of 2^-24 (1024 = the
                        smallest normal, whose bits are also 1024) */
        return (uint16_t)(sign | (uint16_t)nearbyint(v * 0x1p24));
    int e;
    frexp(v, &e); /* v in [2^(e−1), 2^e) */
    int e2 = e - 1;
    double q = nearbyint(ldexp(v, 10 - e2)); /* in [1024, 2048]; exact */
    if (q == 2048.0) {
        q = 1024.0;
        e2++;
    }
    if (e2 > 15 || isinf(x))
        return (uint16_t)(sign | 0x7c00u);
    return (uint16_t)(sign | (uint16_t)((e2 + 15) << 10) | (uint16_t)(q - 1024.0));
}

uint16_t f32_to_bf16(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if (isnan(x))
        return (uint16_t)((u >> 16) | 0x40u);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
