/*
 * NEON P·V accumulation: O = α⊙O + P·V.
 *
 * Micro-kernel: a 6×16 block of O lives in 24 q-registers (6 rows × 4
 * vectors of 4 columns); per step j it loads 16 columns of V row j (4 more
 * registers) and broadcasts each P[i][j] (one more) by FMLA-by-element:
 * 29 of 32 registers, V read once per 6 rows.  Per output element: one rounding
 * for α·O (skipped when alpha is NULL), then the fused chain over
 * j = 0 … n−1 — the scalar reference's order, so the results are
 * bit-identical to sa_pv_scalar.
 * Bound: |O − O*| ≤ γ_(n+1) (|α·O_in| + Σ_j |P[i][j]·V[j][c]|).
 * Rows: blocks of 6, then one block of m mod 6 rows (same inlined code,
 * smaller constant row count).  Columns: blocks of 16, then of 4, then one
 * vector of the last dv mod 4 columns loaded and stored lane by lane, so
 * nothing past row ends of V or O is touched (ld = dv is fine).
 * Reads m×n of P and n×dv of V; reads and writes m×dv of O.
 */
#if !defined(__aarch64__) || !defined(__ARM_NEON)
#error "kernels/neon/pv.c needs AArch64 Advanced SIMD"
#endif

#include "helpers.h"
#include "internal.h"

enum {
    PV_MR = 6, /* 6×4 accumulators + 4 V + 1 P = 29 of 32 q-registers */
    PV_NV = 4  /* q-registers of columns per row: 16 columns */
};
_Static_assert(PV_MR == 6, "sa_pv_neon's row-tail switch covers 1 … 5 rows");

/* Vector c of a tile row: whole, or the first `part` lanes when it is the
 * last vector (c == nv − 1) of a tile with part ≠ 0. */
SA_INLINE float32x4_t load_vec(const float *p, size_t c, size_t nv,
                               size_t part) {
    return part && c == nv - 1 ? load_part(p, part) : vld1q_f32(p);
}

SA_INLINE void store_vec(float *p, float32x4_t x, size_t c, size_t nv,
                         size_t part) {
    if (part && c == nv - 1)
        store_part(p, x, part);
    else
        vst1q_f32(p, x);
}

/* mr rows × nv vectors of O (the last holding `part` columns if part ≠ 0),
 * accumulated over all n rows of V. */
SA_INLINE void pv_tile(size_t mr, size_t nv, size_t part, size_t n,
                       const float *p, size_t ldp, const float *v,
                       size_t ldv, const float *alpha, float *o,
                       size_t ldo) {
    float32x4_t acc[PV_MR][PV_NV];
    SA_UNROLL for (size_t i = 0; i < mr; i++)
        SA_UNROLL for (size_t c = 0; c < nv; c++) {
            float32x4_t x = load_vec(o + i * ldo + 4 * c, c, nv, part);
            acc[i][c] = alpha ? vmulq_n_f32(x, alpha[i]) : x;
        }
    for (size_t j = 0; j < n; j++) {
        float32x4_t b[PV_NV];
        SA_UNROLL for (size_t c = 0; c < nv; c++)
            b[c] = load_vec(v + j * ldv + 4 * c, c, nv, part);
        SA_UNROLL for (size_t i = 0; i < mr; i++) {
            float a = p[i * ldp + j];
            SA_UNROLL for (size_t c = 0; c < nv; c++)
                acc[i][c] = vfmaq_n_f32(acc[i][c], b[c], a);
        }
    }
    SA_UNROLL for (size_t i = 0; i < mr; i++)
        SA_UNROLL for (size_t c = 0; c < nv; c++)
            store_vec(o + i * ldo + 4 * c, acc[i][c], c, nv, part);
}

/* mr rows of O, every column. */
SA_INLINE void pv_rows(size_t mr, size_t n, size_t dv, const float *p,
                       size_t ldp, const float *v, size_t ldv,
                       const float *alpha, float *o, size_t ldo) {
    size_t c = 0;
    for (; c + 4 * PV_NV <= dv; c += 4 * PV_NV)
        pv_tile(mr, PV_NV, 0, n, p, ldp, v + c, ldv, alpha, o + c, ldo);
    for (; c + 4 <= dv; c += 4)
        pv_tile(mr, 1, 0, n, p, ldp, v + c, ldv, alpha, o + c, ldo);
    if (c < dv)
        pv_tile(mr, 1, dv - c, n, p, ldp, v + c, ldv, alpha, o + c, ldo);
}

void sa_pv_neon(size_t m, size_t n, size_t dv, const float *p, size_t ldp,
                const float *v, size_t ldv, const float *alpha, float *o,
                size_t ldo) {
    size_t i = 0;
    for (; i + PV_MR <= m; i += PV_MR)
        pv_rows(PV_MR, n, dv, p + i * ldp, ldp, v, ldv,
                alpha ? alpha + i : NULL, o + i * ldo, ldo);
    const float *pi = p + i * ldp;
    const float *ai = alpha ? alpha + i : NULL;
    float *oi = o + i * ldo;
    switch (m - i) { /* the row tail, with a constant row count each */
    case 5: pv_rows(5, n, dv, pi, ldp, v, ldv, ai, oi, ldo); break;
    case 4: pv_rows(4, n, dv, pi, ldp, v, ldv, ai, oi, ldo); break;
    case 3: pv_rows(3, n, dv, pi, ldp, v, ldv, ai, oi, ldo); break;
    case 2: pv_rows(2, n, dv, pi, ldp, v, ldv, ai, oi, ldo); break;
    case 1: pv_rows(1, n, dv, pi, ldp, v, ldv, ai, oi, ldo); break;
    default: break;
    }
}
