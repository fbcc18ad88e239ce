#if !defined(__AVX2__) || !defined(__FMA__)
#error "kernels/avx2/pv.c must be compiled with -mavx2 -mfma"
#endif
/*
 * AVX2+FMA P·V accumulation: O = α⊙O + P·V.
 *
 * Tile: PV_MR = 6 rows × PV_NC = 16 output columns.  The block of O is
 * loaded once into 12 ymm accumulators (scaled by α), then per key j the
 * kernel loads 16 values of V's row j (two ymm), broadcasts P[i][j] for
 * each of the 6 rows and issues 12 FMAs: 12 + 2 + 1 = 15 of the 16 ymm,
 * the same shape as the Q·Kᵀ kernel.  Any dv is covered by 16-column
 * blocks (dv = 64, 128, 256 exactly; no block needs more registers), the
 * last one masked when dv is not a multiple of 16.
 * Each O element: one multiply by α (skipped when alpha is NULL), then one
 * sequential FMA chain over j = 0 … n−1, as in kernels/scalar/pv.c, so the
 * results are bit-identical to the scalar reference; bound
 * |O − O*| ≤ γ_(n+1) (|α·O_in| + Σ_j |P[i][j]·V[j][c]|).
 *
 * Loop order: column blocks outer, row blocks inner, so one 16-column
 * strip of V (n·64 bytes, 8 KiB at n = 128) stays in L1 while the rows of
 * P stream past it.
 * Layout: any leading dimensions and alignment.  Reads m×n of P, n×dv of
 * V and m of alpha; reads and writes exactly m×dv of O (masked loads and
 * stores in the last column block).
 */
#include "helpers.h"
#include "internal.h"

enum { PV_MR = 6, PV_NC = 16 };

/* One mr×16 block of O over all n keys.  tail: only nc < 16 columns exist,
 * so O and V are accessed through lane masks. */
ALWAYS_INLINE void pv_block(const size_t mr, const int tail, size_t n,
                            const float *p, size_t ldp, const float *v,
                            size_t ldv, const float *alpha, float *o,
                            size_t ldo, size_t nc) {
    __m256i lo = _mm256_setzero_si256(), hi = lo;
    if (tail) {
        lo = lanes_below(nc < 8 ? nc : 8);
        hi = lanes_below(nc > 8 ? nc - 8 : 0);
    }
    __m256 acc[PV_MR][2];
    for (size_t r = 0; r < mr; r++) {
        acc[r][0] = load8(tail, o + r * ldo, lo);
        acc[r][1] = load8(tail, o + r * ldo + 8, hi);
    }
    if (alpha)
        for (size_t r = 0; r < mr; r++) {
            __m256 a = _mm256_broadcast_ss(alpha + r);
            acc[r][0] = _mm256_mul_ps(a, acc[r][0]);
            acc[r][1] = _mm256_mul_ps(a, acc[r][1]);
        }
    for (size_t j = 0; j < n; j++) {
        __m256 v0 = load8(tail, v + j * ldv, lo);
        __m256 v1 = load8(tail, v + j * ldv + 8, hi);
        for (size_t r = 0; r < mr; r++) {
            __m256 b = _mm256_broadcast_ss(p + r * ldp + j);
            acc[r][0] = _mm256_fmadd_ps(b, v0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(b, v1, acc[r][1]);
        }
    }
    for (size_t r = 0; r < mr; r++) {
        store8(tail, o + r * ldo, lo, acc[r][0]);
        store8(tail, o + r * ldo + 8, hi, acc[r][1]);
    }
}

/* A block of mr ≤ 6 rows, the height turned into a compile-time constant. */
ALWAYS_INLINE void pv_rows(size_t mr, const int tail, size_t n,
                           const float *p, size_t ldp, const float *v,
                           size_t ldv, const float *alpha, float *o,
                           size_t ldo, size_t nc) {
    switch (mr) {
    case 6: pv_block(6, tail, n, p, ldp, v, ldv, alpha, o, ldo, nc); break;
    case 5: pv_block(5, tail, n, p, ldp, v, ldv, alpha, o, ldo, nc); break;
    case 4: pv_block(4, tail, n, p, ldp, v, ldv, alpha, o, ldo, nc); break;
    case 3: pv_block(3, tail, n, p, ldp, v, ldv, alpha, o, ldo, nc); break;
    case 2: pv_block(2, tail, n, p, ldp, v, ldv, alpha, o, ldo, nc); break;
    case 1: pv_block(1, tail, n, p, ldp, v, ldv, alpha, o, ldo, nc); break;
    }
}

ALWAYS_INLINE void pv_strip(const int tail, size_t m, size_t n,
                            const float *p, size_t ldp, const float *v,
                            size_t ldv, const float *alpha, float *o,
                            size_t ldo, size_t nc) {
    for (size_t i = 0; i < m; i += PV_MR)
        pv_rows(m - i < PV_MR ? m - i : PV_MR, tail, n, p + i * ldp, ldp, v,
                ldv, alpha ? alpha + i : NULL, o + i * ldo, ldo, nc);
}

void sa_pv_avx2(size_t m, size_t n, size_t dv, const float *p, size_t ldp,
                const float *v, size_t ldv, const float *alpha, float *o,
                size_t ldo) {
    for (size_t c0 = 0; c0 < dv; c0 += PV_NC) {
        if (dv - c0 >= PV_NC)
            pv_strip(0, m, n, p, ldp, v + c0, ldv, alpha, o + c0, ldo, PV_NC);
        else
            pv_strip(1, m, n, p, ldp, v + c0, ldv, alpha, o + c0, ldo, dv - c0);
    }
}
