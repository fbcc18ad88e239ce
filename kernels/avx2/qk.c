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
 * Loop order: panels outer, row blocks inner, so one panel (d·64 bytes,
 * 8 KiB at d = 128) stays in L1 while the Q rows stream past it.
 * Layout: Q and S any leading dimension and alignment; Kp as in
 * simdattn.h, zero-padded to whole panels, so whole panels are read.
 * Reads m×d of Q and ⌈n/16⌉ panels of Kp; writes exactly m×n of S (a
 * short last panel is stored with lane masks).
 */
#include "helpers.h"
#include "internal.h"

enum { QK_MR = 6, QK_NR = SA_QK_NR_avx2 };
_Static_assert(QK_NR == 16, "the micro-kernel holds a panel in two ymm");

/* One mr×16 block over the whole reduction.  tail: only nc < 16 columns
 * exist in S, so the stores go through lane masks (the panel itself is
 * zero-padded and always read whole). */
ALWAYS_INLINE void qk_block(const size_t mr, const int tail, size_t d,
                            const float *q, size_t ldq, const float *panel,
                            float *s, size_t lds, size_t nc) {
    __m256 acc[QK_MR][2];
    for (size_t r = 0; r < mr; r++)
        acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (size_t k = 0; k < d; k++) {
        __m256 k0 = _mm256_loadu_ps(panel + k * QK_NR);
        __m256 k1 = _mm256_loadu_ps(panel + k * QK_NR + 8);
        for (size_t r = 0; r < mr; r++) {
            __m256 b = _mm256_broadcast_ss(q + r * ldq + k);
            acc[r][0] = _mm256_fmadd_ps(b, k0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(b, k1, acc[r][1]);
        }
    }
    __m256i lo = _mm256_setzero_si256(), hi = lo;
    if (tail) {
        lo = lanes_below(nc < 8 ? nc : 8);
        hi = lanes_below(nc > 8 ? nc - 8 : 0);
    }
    for (size_t r = 0; r < mr; r++) {
        store8(tail, s + r * lds, lo, acc[r][0]);
        store8(tail, s + r * lds + 8, hi, acc[r][1]);
    }
}

/* A block of mr ≤ 6 rows, the height turned into a compile-time constant. */
ALWAYS_INLINE void qk_rows(size_t mr, const int tail, size_t d,
                           const float *q, size_t ldq, const float *panel,
                           float *s, size_t lds, size_t nc) {
    switch (mr) {
    case 6: qk_block(6, tail, d, q, ldq, panel, s, lds, nc); break;
    case 5: qk_block(5, tail, d, q, ldq, panel, s, lds, nc); break;
    case 4: qk_block(4, tail, d, q, ldq, panel, s, lds, nc); break;
    case 3: qk_block(3, tail, d, q, ldq, panel, s, lds, nc); break;
    case 2: qk_block(2, tail, d, q, ldq, panel, s, lds, nc); break;
    case 1: qk_block(1, tail, d, q, ldq, panel, s, lds, nc); break;
    }
}

/* All m rows against one panel. */
ALWAYS_INLINE void qk_panel(const int tail, size_t m, size_t d,
                            const float *q, size_t ldq, const float *panel,
                            float *s, size_t lds, size_t nc) {
    for (size_t i = 0; i < m; i += QK_MR)
        qk_rows(m - i < QK_MR ? m - i : QK_MR, tail, d, q + i * ldq, ldq,
                panel, s + i * lds, lds, nc);
}

void sa_qk_avx2(size_t m, size_t n, size_t d, const float *q, size_t ldq,
                const float *kp, float *s, size_t lds) {
    for (size_t j0 = 0; j0 < n; j0 += QK_NR) {
        const float *panel = kp + j0 * d; /* panel j0/16 starts at j0·d */
        if (n - j0 >= QK_NR)
            qk_panel(0, m, d, q, ldq, panel, s + j0, lds, QK_NR);
        else
            qk_panel(1, m, d, q, ldq, panel, s + j0, lds, n - j0);
    }
}
