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
 * last one masked when dv is not a multiple of 16.  The last m mod 6
 * rows (all of them when decoding) take several column blocks per block
 * (PV_NB) to keep 12 accumulator chains against the 4-cycle FMA latency.
 * Each O element: one multiply by α (skipped when alpha is NULL), then one
 * sequential FMA chain over j = 0 … n−1, as in kernels/scalar/pv.c, so the
 * results are bit-identical to the scalar reference; bound
 * |O − O*| ≤ γ_(n+1) (|α·O_in| + Σ_j |P[i][j]·V[j][c]|).
 *
 * Loop order: row blocks outer, so the block's rows of P (6·n floats,
 * 3 KiB at n = 128) stay in L1 while V streams from L2.  The other order
 * (one 16-column strip of V kept in L1) loses: V rows 512 bytes apart
 * (dv = 128) fall into 8 of L1's 64 sets, 16 lines to a set of 8 ways, so
 * the strip never stays (measured 0.915 vs 0.940 of peak at 84×128×128,
 * buffers at 16 mod 64 bytes; 0.939 vs 0.941 aligned).
 * Layout: any leading dimensions and alignment.  Reads m×n of P, n×dv of
 * V and m of alpha; reads and writes exactly m×dv of O (masked loads and
 * stores in the last column block).
 */
#include "helpers.h"
#include "internal.h"

enum { PV_MR = 6, PV_NC = 16 };

/* Column blocks per block for the last m mod 6 rows: as in the Q·Kᵀ
 * kernel, short blocks take several 16-column blocks at once to keep 12
 * accumulator chains in flight (Nq = 1 decoding lives on mr = 1). */
#define PV_NB(mr) ((mr) == 1 ? 6 : (mr) == 2 ? 3 : (mr) == 3 ? 2 : 1)
enum { PV_ACC = 12 }; /* accumulators of any block: mr·2·PV_NB(mr) ≤ 12 */

/* One block of mr rows × nv vectors of 8 columns of O over all n keys,
 * prefetching the lines of pf (same row stride as V) as it goes.  tail:
 * the last vector holds only the columns below nc − 8·(nv−1), and O and V
 * are accessed there through that lane mask.  Registers: mr·nv
 * accumulators + nv V vectors + 1 broadcast (+ 1 mask) ≤ 16 for every
 * block used. */
ALWAYS_INLINE void pv_block(const size_t mr, const size_t nv, const int tail,
                            size_t n, const float *p, size_t ldp,
                            const float *v, const float *pf, size_t ldv,
                            const float *alpha, float *o, size_t ldo,
                            size_t nc) {
    __m256i last = tail ? lanes_below(nc - 8 * (nv - 1)) : _mm256_setzero_si256();
    /* row r, vector c at acc[r·nv + c]: a flat array of exactly the live
     * accumulators stays in registers (see qk.c) */
    __m256 acc[PV_ACC];
    UNROLL
    for (size_t r = 0; r < mr; r++)
        UNROLL
        for (size_t c = 0; c < nv; c++)
            acc[r * nv + c] =
                load8(tail && c + 1 == nv, o + r * ldo + c * 8, last);
    if (alpha)
        UNROLL
        for (size_t r = 0; r < mr; r++) {
            __m256 a = _mm256_broadcast_ss(alpha + r);
            UNROLL
            for (size_t c = 0; c < nv; c++)
                acc[r * nv + c] = _mm256_mul_ps(a, acc[r * nv + c]);
        }
    for (size_t j = 0; j < n; j++) {
        _mm_prefetch((const char *)(pf + j * ldv), _MM_HINT_T0);
        __m256 vv[PV_ACC];
        UNROLL
        for (size_t c = 0; c < nv; c++)
            vv[c] = load8(tail && c + 1 == nv, v + j * ldv + c * 8, last);
        UNROLL
        for (size_t r = 0; r < mr; r++) {
            __m256 b = _mm256_broadcast_ss(p + r * ldp + j);
            UNROLL
            for (size_t c = 0; c < nv; c++)
                acc[r * nv + c] = _mm256_fmadd_ps(b, vv[c], acc[r * nv + c]);
        }
    }
    UNROLL
    for (size_t r = 0; r < mr; r++)
        UNROLL
        for (size_t c = 0; c < nv; c++)
            store8(tail && c + 1 == nv, o + r * ldo + c * 8, last,
                   acc[r * nv + c]);
}

/* V columns from c on, for the prefetch stream of the block before them;
 * past dv the block's own columns (no address outside V). */
ALWAYS_INLINE const float *ahead(const float *v, size_t c, size_t c0,
                                 size_t dv) {
    return v + (c < dv ? c : c0);
}

/* mr ≤ 6 rows over every column: PV_NB(mr) blocks of 16 columns at a
 * time while whole groups remain, then one at a time, then the last
 * nc < 16 columns as one or two vectors, the last one masked.  Each block
 * prefetches the next block's first 16 columns, one line per key, so a V
 * that sits in L3 arrives in time (the first row block is the one that
 * pulls V in; measured P·V 84×128×128 with V cycling through 4 MiB: 0.83
 * vs 0.75 of peak). */
ALWAYS_INLINE void pv_rows(const size_t mr, size_t n, size_t dv,
                           const float *p, size_t ldp, const float *v,
                           size_t ldv, const float *alpha, float *o,
                           size_t ldo) {
    const size_t nb = PV_NB(mr);
    size_t c0 = 0;
    if (nb > 1)
        for (; c0 + nb * PV_NC <= dv; c0 += nb * PV_NC)
            pv_block(mr, 2 * nb, 0, n, p, ldp, v + c0,
                     ahead(v, c0 + nb * PV_NC, c0, dv), ldv, alpha, o + c0,
                     ldo, 0);
    for (; c0 + PV_NC <= dv; c0 += PV_NC)
        pv_block(mr, 2, 0, n, p, ldp, v + c0, ahead(v, c0 + PV_NC, c0, dv),
                 ldv, alpha, o + c0, ldo, 0);
    if (dv - c0 > 8)
        pv_block(mr, 2, 1, n, p, ldp, v + c0, v + c0, ldv, alpha, o + c0,
                 ldo, dv - c0);
    else if (c0 < dv)
        pv_block(mr, 1, 1, n, p, ldp, v + c0, v + c0, ldv, alpha, o + c0,
                 ldo, dv - c0);
}

void sa_pv_avx2(size_t m, size_t n, size_t dv, const float *p, size_t ldp,
                const float *v, size_t ldv, const float *alpha, float *o,
                size_t ldo) {
    size_t i = 0;
    for (; i + PV_MR <= m; i += PV_MR)
        pv_rows(PV_MR, n, dv, p + i * ldp, ldp, v, ldv,
                alpha ? alpha + i : NULL, o + i * ldo, ldo);
    const float *pt = p + i * ldp, *at = alpha ? alpha + i : NULL;
    float *ot = o + i * ldo;
    switch (m - i) {
    case 1: pv_rows(1, n, dv, pt, ldp, v, ldv, at, ot, ldo); break;
    case 2: pv_rows(2, n, dv, pt, ldp, v, ldv, at, ot, ldo); break;
    case 3: pv_rows(3, n, dv, pt, ldp, v, ldv, at, ot, ldo); break;
    case 4: pv_rows(4, n, dv, pt, ldp, v, ldv, at, ot, ldo); break;
    case 5: pv_rows(5, n, dv, pt, ldp, v, ldv, at, ot, ldo); break;
    }
}
