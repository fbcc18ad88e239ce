/*
 * AVX-512 P·V accumulation: O[i][c] = α[i]·O[i][c] + Σ_j P[i][j]·V[j][c].
 *
 * Micro-kernel: MR = 6 rows × CB = 4 zmm (64 columns) of O held in 24 zmm
 * accumulators.  At each j it loads row j of V for those columns (4 zmm),
 * broadcasts P[i][j] for each row and issues 24 FMAs: 24 + 4 + 1 broadcast
 * = 29 of 32 zmm.  Wider dv is covered by column blocks of 64 (dv = 256:
 * four blocks), so the register file, not dv, fixes the tile.
 * Each accumulator starts as α[i]·O[i][c] (one rounding; O·1, exact, when
 * alpha is NULL) and takes one FMA per j in order: the sequential chain of
 * kernels/scalar/pv.c, bit for bit, with its bound
 *     |O − O*| ≤ γ_(n+1) (|α·O_in| + Σ_j |P[i][j]·V[j][c]|).
 * Tails: fewer rows use the same body with MR = 1 … 5, fewer vectors with
 * CB = 1 … 3, and the last vector of a row is loaded and stored through a
 * lane mask (dv not a multiple of 16).
 *
 * Reads P[i][j] (i < m, j < n) as scalar broadcasts, V[j][c] and O[i][c]
 * for c < dv only (masked loads do not touch the lanes they skip), and
 * writes exactly O[i][c], i < m, c < dv.  No alignment required.
 */
#include "helpers.h"
#include "internal.h"

/* 6 rows × 4 zmm = 24 accumulators + 4 V vectors + 1 broadcast = 29 zmm. */
enum { MR = 6, CB = 4 };

/* O tile of mr rows × cb vectors; the last vector uses lane mask `last`. */
SA_INLINE void tile(const size_t mr, const size_t cb, size_t n,
                    const float *p, size_t ldp, const float *v, size_t ldv,
                    const float *alpha, float *o, size_t ldo,
                    __mmask16 last) {
    /* Without alpha, O is multiplied by 1: exact, so the same bits as
     * taking O as it is, and no branch inside the unrolled tile. */
    __m512 acc[MR][CB];
    SA_UNROLL
    for (size_t i = 0; i < mr; i++) {
        __m512 a = _mm512_set1_ps(alpha ? alpha[i] : 1.0f);
        SA_UNROLL
        for (size_t c = 0; c < cb; c++) {
            __mmask16 t = c + 1 == cb ? last : (__mmask16)0xFFFF;
            acc[i][c] = _mm512_mul_ps(a, _mm512_maskz_loadu_ps(t, o + i * ldo + 16 * c));
        }
    }
    for (size_t j = 0; j < n; j++) {
        __m512 b[CB];
        SA_UNROLL
        for (size_t c = 0; c < cb; c++) {
            __mmask16 t = c + 1 == cb ? last : (__mmask16)0xFFFF;
            b[c] = _mm512_maskz_loadu_ps(t, v + j * ldv + 16 * c);
        }
        SA_UNROLL
        for (size_t i = 0; i < mr; i++) {
            __m512 a = _mm512_set1_ps(p[i * ldp + j]);
            SA_UNROLL
            for (size_t c = 0; c < cb; c++)
                acc[i][c] = _mm512_fmadd_ps(a, b[c], acc[i][c]);
        }
    }
    SA_UNROLL
    for (size_t i = 0; i < mr; i++)
        SA_UNROLL
        for (size_t c = 0; c < cb; c++) {
            __mmask16 t = c + 1 == cb ? last : (__mmask16)0xFFFF;
            _mm512_mask_storeu_ps(o + i * ldo + 16 * c, t, acc[i][c]);
        }
}

/* tile() with its row count (1 … MR) and vector count (1 … CB) constant. */
static void tile_rows(size_t mr, size_t cb, size_t n, const float *p,
                      size_t ldp, const float *v, size_t ldv,
                      const float *alpha, float *o, size_t ldo,
                      __mmask16 last) {
#define COLS(r, c)                                                             \
    case c:                                                                    \
        tile(r, c, n, p, ldp, v, ldv, alpha, o, ldo, last);                    \
        break;
#define ROWS(r)                                                                \
    case r:                                                                    \
        switch (cb) { COLS(r, 1) COLS(r, 2) COLS(r, 3) COLS(r, 4) }            \
        break;
    switch (mr) { ROWS(1) ROWS(2) ROWS(3) ROWS(4) ROWS(5) ROWS(6) }
#undef ROWS
#undef COLS
}

void sa_pv_avx512(size_t m, size_t n, size_t dv, const float *p, size_t ldp,
                  const float *v, size_t ldv, const float *alpha, float *o,
                  size_t ldo) {
    /* Column block outer: its slice of V (n × 64 floats, 32 KiB at n = 128)
     * is reused from cache by every row tile. */
    for (size_t c0 = 0; c0 < dv; c0 += 16 * CB) {
        size_t w = dv - c0 < 16 * CB ? dv - c0 : 16 * CB;
        size_t cb = (w + 15) / 16;
        __mmask16 last = lanes(w - 16 * (cb - 1));
        for (size_t i0 = 0; i0 < m; i0 += MR)
            tile_rows(m - i0 < MR ? m - i0 : MR, cb, n, p + i0 * ldp, ldp,
                      v + c0, ldv, alpha ? alpha + i0 : NULL,
                      o + i0 * ldo + c0, ldo, last);
    }
}
