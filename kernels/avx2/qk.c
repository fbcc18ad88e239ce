#if !defined(__AVX2__) || !defined(__FMA__)
#error "kernels/avx2/qk.c must be compiled with -mavx2 -mfma"
#endif
/*
 * AVX2+FMA Q·Kᵀ micro-kernel: S[i][j] = Σ_k Q[i][k]·K_j[k] on packed K.
 *
 * Tile: QK_MR = 6 query rows × QK_NR = 16 keys (one packed panel).  Per
 * reduction step k the kernel loads the panel's 16 values (two ymm),
 * broadcasts Q[i][k] for each of the 6 rows and issues 12 FMAs into 12
 * accumulators: 12 + 2 + 1 broadcast = 15 of the 16 ymm, and 12
 * independent chains cover Zen 4's 2 FMA pipes × 4-cycle latency (8).
 * Each S element is one sequential FMA chain over k = 0 … d−1 from +0, the
 * same chain as kernels/scalar/qk.c, so the results are bit-identical to
 * the scalar reference; bound |S − S*| ≤ γ_d Σ_k |Q[i][k]·K_j[k]|.
 *
 * The last m mod 6 rows (all of them when decoding, m = 1) would have only
 * 2·mr chains per panel, too few to hide the 4-cycle FMA latency, so they
 * take several panels per block (QK_NP) to keep 12 chains.
 *
 * Loop order: panels outer, row blocks inner, so one panel (d·64 bytes,
 * 8 KiB at d = 128, contiguous) stays in L1 while the Q rows stream past.
 * Layout: Q and S any leading dimension and alignment; Kp as in
 * simdattn.h, zero-padded to whole panels, so whole panels are read.
 * Reads m×d of Q and ⌈n/16⌉ panels of Kp; writes exactly m×n of S (a
 * short last panel is stored with lane masks).
 */
#include "helpers.h"
#include "internal.h"

enum { QK_MR = 6, QK_NR = SA_QK_NR_avx2 };
_Static_assert(QK_NR == 16, "the micro-kernel holds a panel in two ymm");

/* Panels per block for the last m mod 6 rows: a block of mr rows and one
 * panel has only 2·mr accumulator chains, too few to hide the FMA latency
 * (2 pipes × 4 cycles = 8 in flight), so short blocks take several panels
 * at once to keep 12 chains (Nq = 1 decoding lives on mr = 1). */
#define QK_NP(mr) ((mr) == 1 ? 6 : (mr) == 2 ? 3 : (mr) == 3 ? 2 : 1)
enum { QK_ACC = 12 }; /* accumulators of any block: mr·2·QK_NP(mr) ≤ 12 */

/* One block of mr rows × nv vectors of 8 keys (vector c: half c%2 of
 * panel c/2) over the whole reduction, prefetching line k of pf at step k.
 * tail: the last vector holds only the keys below nc − 8·(nv−1) and is
 * stored through that lane mask (the panel itself is zero-padded and read
 * whole).  Registers: mr·nv accumulators + nv panel vectors + 1
 * broadcast (+ 1 mask) ≤ 16 for every block used. */
ALWAYS_INLINE void qk_block(const size_t mr, const size_t nv, const int tail,
                            size_t d, const float *q, size_t ldq,
                            const float *panel, const float *pf, float *s,
                            size_t lds, size_t nc) {
    /* row r, vector c at acc[r·nv + c]: one flat array of exactly the live
     * accumulators, which GCC keeps in registers (a [6][12] array was
     * partly mirrored to the stack at every step) */
    __m256 acc[QK_ACC];
    UNROLL
    for (size_t r = 0; r < mr; r++)
        UNROLL
        for (size_t c = 0; c < nv; c++)
            acc[r * nv + c] = _mm256_setzero_ps();
    for (size_t k = 0; k < d; k++) {
        _mm_prefetch((const char *)(pf + k * QK_NR), _MM_HINT_T0);
        __m256 kv[QK_ACC];
        UNROLL
        for (size_t c = 0; c < nv; c++)
            kv[c] = _mm256_loadu_ps(panel + (c / 2) * d * QK_NR +
                                    k * QK_NR + (c % 2) * 8);
        UNROLL
        for (size_t r = 0; r < mr; r++) {
            __m256 b = _mm256_broadcast_ss(q + r * ldq + k);
            UNROLL
            for (size_t c = 0; c < nv; c++)
                acc[r * nv + c] = _mm256_fmadd_ps(b, kv[c], acc[r * nv + c]);
        }
    }
    __m256i last = tail ? lanes_below(nc - 8 * (nv - 1)) : _mm256_setzero_si256();
    UNROLL
    for (size_t r = 0; r < mr; r++)
        UNROLL
        for (size_t c = 0; c < nv; c++)
            store8(tail && c + 1 == nv, s + r * lds + c * 8, last,
                   acc[r * nv + c]);
}

/* The last nc < 16 keys (one short panel): one or two vectors, the last
 * one masked. */
ALWAYS_INLINE void qk_short_panel(const size_t mr, size_t d, const float *q,
                                  size_t ldq, const float *panel, float *s,
                                  size_t lds, size_t nc) {
    if (nc > 8)
        qk_block(mr, 2, 1, d, q, ldq, panel, panel, s, lds, nc);
    else
        qk_block(mr, 1, 1, d, q, ldq, panel, panel, s, lds, nc);
}

/* Panel of key jn, for the prefetch stream of the block before it; past
 * n the block's own panel at key j0 (no address outside Kp). */
ALWAYS_INLINE const float *ahead(const float *kp, size_t jn, size_t j0,
                                 size_t n, size_t d) {
    return kp + (jn < n ? jn : j0) * d;
}

/* mr < 6 rows against every panel, QK_NP(mr) panels per block while whole
 * groups remain, then one panel at a time (the last one maybe short). */
ALWAYS_INLINE void qk_short(const size_t mr, size_t n, size_t d,
                            const float *q, size_t ldq, const float *kp,
                            float *s, size_t lds) {
    const size_t np = QK_NP(mr);
    size_t j0 = 0;
    if (np > 1)
        for (; j0 + np * QK_NR <= n; j0 += np * QK_NR)
            qk_block(mr, 2 * np, 0, d, q, ldq, kp + j0 * d,
                     ahead(kp, j0 + np * QK_NR, j0, n, d), s + j0, lds, 0);
    for (; j0 + QK_NR <= n; j0 += QK_NR)
        qk_block(mr, 2, 0, d, q, ldq, kp + j0 * d,
                 ahead(kp, j0 + QK_NR, j0, n, d), s + j0, lds, 0);
    if (j0 < n)
        qk_short_panel(mr, d, q, ldq, kp + j0 * d, s + j0, lds, n - j0);
}

/* Panels outer: while the 6-row blocks sweep panel j0 (from L1 after the
 * first block), they prefetch the next panel, so a K that sits in L3 is in
 * L1 before it is needed (measured Q·Kᵀ 84×128×128 with K cycling through
 * 4 MiB: 0.87 vs 0.83 of peak; the first panel of a call stays cold). */
void sa_qk_avx2(size_t m, size_t n, size_t d, const float *q, size_t ldq,
                const float *kp, float *s, size_t lds) {
    size_t mfull = m - m % QK_MR;
    for (size_t j0 = 0; j0 < n; j0 += QK_NR) {
        const float *panel = kp + j0 * d; /* panel j0/16 starts at j0·d */
        const float *pf = ahead(kp, j0 + QK_NR, j0, n, d);
        for (size_t i = 0; i < mfull; i += QK_MR) {
            const float *qi = q + i * ldq;
            float *si = s + i * lds + j0;
            if (n - j0 >= QK_NR)
                qk_block(QK_MR, 2, 0, d, qi, ldq, panel, pf, si, lds, 0);
            else
                qk_short_panel(QK_MR, d, qi, ldq, panel, si, lds, n - j0);
        }
    }
    const float *qt = q + mfull * ldq;
    float *st = s + mfull * lds;
    switch (m - mfull) {
    case 1: qk_short(1, n, d, qt, ldq, kp, st, lds); break;
    case 2: qk_short(2, n, d, qt, ldq, kp, st, lds); break;
    case 3: qk_short(3, n, d, qt, ldq, kp, st, lds); break;
    case 4: qk_short(4, n, d, qt, ldq, kp, st, lds); break;
    case 5: qk_short(5, n, d, qt, ldq, kp, st, lds); break;
    }
}
