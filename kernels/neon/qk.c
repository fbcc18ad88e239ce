/*
 * NEON Q·Kᵀ: S[i][j] = Σ_k Q[i][k]·K_j[k] on K packed in 16-key panels.
 *
 * Micro-kernel: a 6×16 block of S lives in 24 q-registers (6 rows × 4
 * vectors of 4 keys); per step k it loads the panel's 16 keys (4 more
 * registers), and each Q[i][k] is loaded into one more and broadcast by
 * FMLA-by-element: 29 of the 32 q-registers, and no shuffles.  Each
 * S element is thus one fused chain acc = fma(Q[i][k], K_j[k], acc) over
 * k = 0 … d−1 from acc = 0, exactly the scalar reference's chain:
 * the results are bit-identical to sa_qk_scalar.
 * Bound: |S − S*| ≤ γ_d Σ_k |Q[i][k]·K_j[k]|.
 * Rows: blocks of 6, then one block of m mod 6 rows (the same inlined
 * code with a smaller constant row count).  Columns: whole panels are
 * computed (packing zero-fills keys past n), only the n mod 16 valid
 * columns of the last one are stored.
 * Reads m×d of Q (any ldq, no alignment) and ⌈n/16⌉ panels of Kp; writes
 * exactly m×n of S.
 */
#if !defined(__aarch64__) || !defined(__ARM_NEON)
#error "kernels/neon/qk.c needs AArch64 Advanced SIMD"
#endif

#include "helpers.h"
#include "internal.h"

enum {
    QK_MR = 6,                /* 6×4 accumulators + 4 K + 1 Q = 29 regs */
    QK_NR = SA_QK_NR_neon,    /* keys per panel (16) */
    QK_NV = QK_NR / 4         /* q-registers per panel row */
};
_Static_assert(QK_MR == 6, "sa_qk_neon's row-tail switch covers 1 … 5 rows");

/* mr rows of S against one panel, of which nc (1 … 16) columns are kept. */
SA_INLINE void qk_tile(size_t mr, size_t nc, size_t d, const float *q,
                       size_t ldq, const float *panel, float *s, size_t lds) {
    float32x4_t acc[QK_MR][QK_NV];
    SA_UNROLL for (size_t i = 0; i < mr; i++)
        SA_UNROLL for (size_t v = 0; v < QK_NV; v++)
            acc[i][v] = vdupq_n_f32(0.0f);
    for (size_t k = 0; k < d; k++) {
        float32x4_t b[QK_NV];
        SA_UNROLL for (size_t v = 0; v < QK_NV; v++)
            b[v] = vld1q_f32(panel + k * QK_NR + 4 * v);
        SA_UNROLL for (size_t i = 0; i < mr; i++) {
            float a = q[i * ldq + k];
            SA_UNROLL for (size_t v = 0; v < QK_NV; v++)
                acc[i][v] = vfmaq_n_f32(acc[i][v], b[v], a);
        }
    }
    /* constant trip counts, so acc stays in registers after unrolling */
    SA_UNROLL for (size_t i = 0; i < mr; i++)
        SA_UNROLL for (size_t v = 0; v < QK_NV; v++) {
            float *dst = s + i * lds + 4 * v;
            if (4 * v + 4 <= nc)
                vst1q_f32(dst, acc[i][v]);
            else if (4 * v < nc)
                store_part(dst, acc[i][v], nc - 4 * v);
        }
}

/* mr rows of Q against every panel. */
SA_INLINE void qk_rows(size_t mr, size_t n, size_t d, const float *q,
                       size_t ldq, const float *kp, float *s, size_t lds) {
    for (size_t j0 = 0; j0 < n; j0 += QK_NR) {
        size_t nc = n - j0 < QK_NR ? n - j0 : QK_NR;
        qk_tile(mr, nc, d, q, ldq, kp + (j0 / QK_NR) * d * QK_NR, s + j0,
                lds);
    }
}

void sa_qk_neon(size_t m, size_t n, size_t d, const float *q, size_t ldq,
                const float *kp, float *s, size_t lds) {
    size_t i = 0;
    for (; i + QK_MR <= m; i += QK_MR)
        qk_rows(QK_MR, n, d, q + i * ldq, ldq, kp, s + i * lds, lds);
    const float *qi = q + i * ldq;
    float *si = s + i * lds;
    switch (m - i) { /* the row tail, with a constant row count each */
    case 5: qk_rows(5, n, d, qi, ldq, kp, si, lds); break;
    case 4: qk_rows(4, n, d, qi, ldq, kp, si, lds); break;
    case 3: qk_rows(3, n, d, qi, ldq, kp, si, lds); break;
    case 2: qk_rows(2, n, d, qi, ldq, kp, si, lds); break;
    case 1: qk_rows(1, n, d, qi, ldq, kp, si, lds); break;
    default: break;
    }
}
