/*
 * NEON kernels of the decode path: Q·Kᵀ and P·V against K and V as they
 * lie in a KV cache (row-major, no packing), fp32 or fp16/bf16 widened in
 * registers as they stream: fcvtl (vcvt_f32_f16) for fp16 (exact), a
 * 16-bit shift left long (shll) for bf16 (exact).
 *
 * qk_kv: the canonical 16-lane order of simdattn.h on four q-registers per
 * dot product (lanes 0–3, 4–7, 8–11, 12–15): lane l accumulates
 * c ≡ l (mod 16), the last d mod 16 elements come through a zero-filled
 * copy (fma(0, 0, x), as the scalar reference pads), and each dot is
 * summed as sum16 does (0–7 + 8–15, 0–3 + 4–7, 0–1 + 2–3, 0 + 1).  A tile
 * is MR rows × KR keys = 4 dot products, 16 accumulators: 4 × 1 for a
 * 4-row GQA group (then 2 × 2, 1 × 4), key by key, each K vector loaded
 * once for the MR rows, Q read from L1 at each use, so K streams in
 * address order for the hardware prefetchers, as kernels/avx2/decode.c
 * measured on x86 (not measured on Arm hardware: none here).  Rows and
 * keys past m and n repeat the last one and are not stored.  The same
 * bits as kernels/scalar/decode.c (vfmaq_f32 rounds once, as fmaf).
 * pv_kv: as kernels/avx2/decode.c: V touched a sub-block at a time in
 * address order, then tiles of 4 rows × 4 q-registers (16 columns) of O
 * across it from L1, 16 accumulators + 4 V + 1 broadcast; α·O rounded
 * once, then one fma per key in order (the scalar chain, the same bits).
 * Column tails through partial loads and stores (O) and a zero-filled
 * copy (V).
 * Reads m×d of Q, n×d of K, m×n of P, n×dv of V, m of alpha, nothing
 * outside them; writes exactly m×n of S and m×dv of O.
 */
#include <stdint.h>
#include <string.h>

#include "helpers.h"
#include "internal.h"

/* 4 elements of a KV row from element i, widened; only the first n < 4
 * when n is smaller (the rest 0, nothing past them read). */
SA_INLINE float32x4_t load_kv(const simdattn_dtype dt, const void *p,
                              size_t i, size_t n) {
    if (dt == SIMDATTN_F32) {
        const float *f = (const float *)p + i;
        if (n >= 4)
            return vld1q_f32(f);
        return n ? load_part(f, n) : vdupq_n_f32(0.0f);
    }
    const uint16_t *h = (const uint16_t *)p + i;
    uint16x4_t x;
    if (n >= 4)
        x = vld1_u16(h);
    else {
        uint16_t t[4] = {0};
        memcpy(t, h, n * sizeof(uint16_t));
        x = vld1_u16(t);
    }
    if (dt == SIMDATTN_F16)
        return vcvt_f32_f16(vreinterpret_f16_u16(x));
    return vreinterpretq_f32_u32(vshll_n_u16(x, 16));
}

/* S for rows i0 … (MR of them) and keys j0 … (KR), clamped to m, n: key
 * by key, each K row read once in address order for the MR rows, Q read
 * from L1 at each use. */
SA_INLINE void qk_tile(const simdattn_dtype dt, const size_t MR,
                       const size_t KR, size_t m, size_t n, size_t d,
                       size_t i0, size_t j0, const float *q, size_t ldq,
                       const void *k, size_t ldk, float *s, size_t lds) {
    const float *qr[4];
    size_t ko[4];
    SA_UNROLL for (size_t r = 0; r < MR; r++)
        qr[r] = q + (i0 + r < m ? i0 + r : m - 1) * ldq;
    SA_UNROLL for (size_t b = 0; b < KR; b++)
        ko[b] = (j0 + b < n ? j0 + b : n - 1) * ldk;
    float32x4_t acc[4][4];
    SA_UNROLL for (size_t a = 0; a < 4; a++)
        SA_UNROLL for (size_t h = 0; h < 4; h++) acc[a][h] = vdupq_n_f32(0.0f);
    SA_UNROLL for (size_t b = 0; b < KR; b++)
        for (size_t c = 0; c < d; c += 16)
            SA_UNROLL for (size_t h = 0; h < 4; h++) {
                size_t left = d > c + 4 * h ? d - c - 4 * h : 0;
                float32x4_t kv = load_kv(dt, k, ko[b] + c + 4 * h, left);
                SA_UNROLL for (size_t r = 0; r < MR; r++)
                    acc[b * MR + r][h] = vfmaq_f32(
                        acc[b * MR + r][h],
                        load_kv(SIMDATTN_F32, qr[r], c + 4 * h, left), kv);
            }
    SA_UNROLL for (size_t b = 0; b < KR; b++)
        SA_UNROLL for (size_t r = 0; r < MR; r++)
            if (i0 + r < m && j0 + b < n)
                s[(i0 + r) * lds + j0 + b] = sum16(acc[b * MR + r]);
}

/* Rows in groups of 4 (one pass over K for a 4-row GQA group), then 2,
 * then 1. */
SA_INLINE void qk_kv(const simdattn_dtype dt, size_t m, size_t n, size_t d,
                     const float *q, size_t ldq, const void *k, size_t ldk,
                     float *s, size_t lds) {
    size_t i0 = 0;
    for (; i0 + 4 <= m; i0 += 4)
        for (size_t j0 = 0; j0 < n; j0++)
            qk_tile(dt, 4, 1, m, n, d, i0, j0, q, ldq, k, ldk, s, lds);
    for (; i0 + 2 <= m; i0 += 2)
        for (size_t j0 = 0; j0 < n; j0 += 2)
            qk_tile(dt, 2, 2, m, n, d, i0, j0, q, ldq, k, ldk, s, lds);
    if (i0 < m)
        for (size_t j0 = 0; j0 < n; j0 += 4)
            qk_tile(dt, 1, 4, m, n, d, i0, j0, q, ldq, k, ldk, s, lds);
}

void sa_qk_kv_neon(size_t m, size_t n, size_t d, const float *q, size_t ldq,
                   const void *k, size_t ldk, simdattn_dtype dt, float *s,
                   size_t lds) {
    switch (dt) {
    case SIMDATTN_F16: qk_kv(SIMDATTN_F16, m, n, d, q, ldq, k, ldk, s, lds); break;
    case SIMDATTN_BF16: qk_kv(SIMDATTN_BF16, m, n, d, q, ldq, k, ldk, s, lds); break;
    default: qk_kv(SIMDATTN_F32, m, n, d, q, ldq, k, ldk, s, lds); break;
    }
}

/* P·V: sub-blocks of SUBV keys, each touched (one byte load a line, row
 * after row) and then gone across by tiles of mr ≤ PR rows × cb ≤ NV
 * q-registers from L1; columns in segments of SEG (8 KiB of L1 a
 * sub-block).  The scheme and its x86 figures: kernels/avx2/decode.c.
 * NV = 4, not AVX2's 24 columns: with 6 q-registers a row GCC 12 keeps
 * the accumulators on the stack (about 570 spill stores in this file's
 * P·V against 96, all of those around the tails' memcpy). */
enum { SUBV = 8, PR = 4, NV = 4, SEG = 256 };

SA_INLINE float32x4_t load_o(const float *p, size_t w) {
    if (w >= 4)
        return vld1q_f32(p);
    return w ? load_part(p, w) : vdupq_n_f32(0.0f);
}
SA_INLINE void store_o(float *p, float32x4_t x, size_t w) {
    if (w >= 4)
        vst1q_f32(p, x);
    else if (w)
        store_part(p, x, w);
}

/* O tile of mr rows × cb vectors (the last one `lw` lanes wide) over keys
 * 0 … nk−1 of p and v (both at the tile's first key and column); alpha:
 * the tile starts the call. */
SA_INLINE void pv_tile(const simdattn_dtype dt, const size_t mr,
                       const size_t cb, size_t nk, const float *p,
                       size_t ldp, const void *v, size_t ldv,
                       const float *alpha, float *o, size_t ldo, size_t lw) {
    float32x4_t acc[PR][NV];
    SA_UNROLL for (size_t i = 0; i < mr; i++) {
        float32x4_t a = vdupq_n_f32(alpha ? alpha[i] : 1.0f);
        SA_UNROLL for (size_t c = 0; c < cb; c++) {
            acc[i][c] = load_o(o + i * ldo + 4 * c, c + 1 == cb ? lw : 4);
            if (alpha)
                acc[i][c] = vmulq_f32(a, acc[i][c]);
        }
    }
    for (size_t j = 0; j < nk; j++) {
        float32x4_t b[NV];
        SA_UNROLL for (size_t c = 0; c < cb; c++)
            b[c] = load_kv(dt, v, j * ldv + 4 * c, c + 1 == cb ? lw : 4);
        SA_UNROLL for (size_t i = 0; i < mr; i++) {
            float32x4_t a = vdupq_n_f32(p[i * ldp + j]);
            SA_UNROLL for (size_t c = 0; c < cb; c++)
                acc[i][c] = vfmaq_f32(acc[i][c], a, b[c]);
        }
    }
    SA_UNROLL for (size_t i = 0; i < mr; i++)
        SA_UNROLL for (size_t c = 0; c < cb; c++)
            store_o(o + i * ldo + 4 * c, acc[i][c], c + 1 == cb ? lw : 4);
}

SA_INLINE void pv_kv(const simdattn_dtype dt, size_t m, size_t n, size_t dv,
                     const float *p, size_t ldp, const void *v, size_t ldv,
                     const float *alpha, float *o, size_t ldo) {
    const size_t es = sa_dtype_size(dt);
    for (size_t s0 = 0; s0 < dv; s0 += SEG) {
        const size_t sw = dv - s0 < SEG ? dv - s0 : SEG;
        for (size_t j0 = 0; j0 < n; j0 += SUBV) {
            const size_t nk = n - j0 < SUBV ? n - j0 : SUBV;
            const char *vs = (const char *)v + (j0 * ldv + s0) * es;
            sa_touch_rows(vs, nk, ldv * es, sw * es);
            for (size_t i0 = 0; i0 < m; i0 += PR) {
                const float *pi = p + i0 * ldp + j0;
                const float *ai = alpha && j0 == 0 ? alpha + i0 : NULL;
                for (size_t c0 = 0; c0 < sw; c0 += 4 * NV) {
                    size_t w = sw - c0 < 4 * NV ? sw - c0 : 4 * NV;
                    size_t cb = (w + 3) / 4, lw = w - 4 * (cb - 1);
                    const void *vt = vs + c0 * es;
                    float *oi = o + i0 * ldo + s0 + c0;
#define COLS(r, c)                                                             \
    case c: pv_tile(dt, r, c, nk, pi, ldp, vt, ldv, ai, oi, ldo, lw); break;
#define ROWS(r)                                                                \
    case r:                                                                    \
        switch (cb) { COLS(r, 1) COLS(r, 2) COLS(r, 3) COLS(r, 4) }            \
        break;
                    switch (m - i0 < PR ? m - i0 : PR) { ROWS(1) ROWS(2) ROWS(3) ROWS(4) }
#undef ROWS
#undef COLS
                }
            }
        }
    }
}

void sa_pv_kv_neon(size_t m, size_t n, size_t dv, const float *p, size_t ldp,
                   const void *v, size_t ldv, simdattn_dtype dt,
                   const float *alpha, float *o, size_t ldo) {
    switch (dt) {
    case SIMDATTN_F16: pv_kv(SIMDATTN_F16, m, n, dv, p, ldp, v, ldv, alpha, o, ldo); break;
    case SIMDATTN_BF16: pv_kv(SIMDATTN_BF16, m, n, dv, p, ldp, v, ldv, alpha, o, ldo); break;
    default: pv_kv(SIMDATTN_F32, m, n, dv, p, ldp, v, ldv, alpha, o, ldo); break;
    }
}
