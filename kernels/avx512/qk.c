/*
 * AVX-512 Q·Kᵀ: S[i][j] = Σ_k Q[i][k]·K_j[k] on K packed in panels of
 * NR = 32 keys (layout in simdattn.h).
 *
 * Micro-kernel: a tile of MR = 14 query rows × one panel (32 keys, two zmm).
 * At each step k it loads the panel's two vectors of keys, broadcasts
 * Q[i][k] for each row and issues 28 FMAs into 28 zmm accumulators: 28 + 2
 * key vectors = 30 of the 32 zmm, the broadcasts being folded into the FMAs
 * as {1to16} memory operands.  Each accumulator lane starts at 0 and takes
 * one FMA per k in order, so every S element is the same sequential fmaf
 * chain as kernels/scalar/qk.c: bit-identical results, same bound
 *     |S − S*| ≤ γ_d Σ_k |Q[i][k]·K_j[k]|.
 * Row tails use the same body with MR = 1 … 13 (compile-time constants),
 * column tails compute the whole zero-padded panel and store through a lane
 * mask, and a panel with at most 16 live keys computes only its first zmm.
 *
 * Reads: Q[i][k] for i < m, k < d (scalar broadcasts, any alignment or
 * stride) and ⌈n/32⌉ whole panels of Kp (padded, so always in bounds).
 * Writes: exactly S[i][j], i < m, j < n.
 */
#include "helpers.h"
#include "internal.h"

enum { NR = SA_QK_NR_avx512 };
/* 14 rows × 2 zmm = 28 accumulators + 2 key vectors = 30 of 32 zmm. */
enum { MR = 14 };

_Static_assert(NR == 32, "the tile below holds a panel in two zmm");

/* S tile of mr rows × nv·16 columns of one panel, stored through masks
 * m0 (columns 0–15) and m1 (16–31). */
SA_INLINE void tile(const size_t mr, const size_t nv, size_t d,
                    const float *q, size_t ldq, const float *panel, float *s,
                    size_t lds, __mmask16 m0, __mmask16 m1) {
    __m512 acc[MR][2];
    SA_UNROLL
    for (size_t i = 0; i < mr; i++)
        SA_UNROLL
        for (size_t v = 0; v < nv; v++)
            acc[i][v] = _mm512_setzero_ps();
    for (size_t k = 0; k < d; k++) {
        __m512 b[2];
        SA_UNROLL
        for (size_t v = 0; v < nv; v++)
            b[v] = _mm512_loadu_ps(panel + k * NR + 16 * v);
        SA_UNROLL
        for (size_t i = 0; i < mr; i++) {
            __m512 a = _mm512_set1_ps(q[i * ldq + k]);
            SA_UNROLL
            for (size_t v = 0; v < nv; v++)
                acc[i][v] = _mm512_fmadd_ps(a, b[v], acc[i][v]);
        }
    }
    SA_UNROLL
    for (size_t i = 0; i < mr; i++) {
        _mm512_mask_storeu_ps(s + i * lds, m0, acc[i][0]);
        if (nv == 2)
            _mm512_mask_storeu_ps(s + i * lds + 16, m1, acc[i][1]);
    }
}

/* tile() with its row count (1 … MR) and vector count made constants. */
static void tile_rows(size_t mr, size_t nv, size_t d, const float *q,
                      size_t ldq, const float *panel, float *s, size_t lds,
                      __mmask16 m0, __mmask16 m1) {
#define ROWS(r)                                                                \
    case r:                                                                    \
        if (nv == 2)                                                           \
            tile(r, 2, d, q, ldq, panel, s, lds, m0, m1);                      \
        else                                                                   \
            tile(r, 1, d, q, ldq, panel, s, lds, m0, m1);                      \
        break;
    switch (mr) {
        ROWS(1) ROWS(2) ROWS(3) ROWS(4) ROWS(5) ROWS(6) ROWS(7)
        ROWS(8) ROWS(9) ROWS(10) ROWS(11) ROWS(12) ROWS(13) ROWS(14)
    }
#undef ROWS
}

void sa_qk_avx512(size_t m, size_t n, size_t d, const float *q, size_t ldq,
                  const float *kp, float *s, size_t lds) {
    /* Panel outer, rows inner: the panel (32·d floats, 16 KiB at d = 128)
     * stays in L1 while every row tile of Q streams past it. */
    for (size_t j0 = 0; j0 < n; j0 += NR) {
        const float *panel = kp + (j0 / NR) * d * NR;
        size_t w = n - j0 < NR ? n - j0 : NR;
        size_t nv = w > 16 ? 2 : 1;
        __mmask16 m0 = lanes(w), m1 = lanes(w > 16 ? w - 16 : 0);
        for (size_t i0 = 0; i0 < m; i0 += MR)
            tile_rows(m - i0 < MR ? m - i0 : MR, nv, d, q + i0 * ldq, ldq,
                      panel, s + i0 * lds + j0, lds, m0, m1);
    }
}
