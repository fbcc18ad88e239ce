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
 * is MR rows × KR keys = 4 dot products, 16 accumulators + 2 K + 2 Q per
 * quarter-step = 20 of 32 registers.  Rows and keys past m and n repeat
 * the last one and are not stored.  The same bits as
 * kernels/scalar/decode.c (vfmaq_f32 rounds once, as fmaf).
 * pv_kv: MR = 4 rows × 4 q-registers (16 columns) of O, 16 accumulators +
 * 4 V + 1 broadcast; α·O rounded once, then one fma per key in order (the
 * scalar chain, the same bits).  Column tails through partial loads and
 * stores (O) and a zero-filled copy (V).
 * Reads m×d of Q, n×d of K, m×n of P, n×dv of V, m of alpha, nothing
 * outside them; writes exactly m×n of S and m×dv of O.
 */
#include <stdint.h>
#include <string.h>

#include "helpers.h"
#include "internal.h"

/* PF_BYTES ahead: the distance kernels/avx2/decode.c measured for tiles
 * of the same shape on x86; not tuned on Arm hardware (none here). */
enum { PF_BYTES = 32768 };

SA_INLINE void prefetch(const void *p, size_t bytes) {
    __builtin_prefetch((const void *)((uintptr_t)p + bytes), 0, 2);
}

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

/* S for rows i0 … (MR of them) and keys j0 … (KR), clamped to m, n. */
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
    const size_t es = dt == SIMDATTN_F32 ? 4 : 2, pf = PF_BYTES / (d * es) + 1;
    float32x4_t acc[4][4];
    SA_UNROLL for (size_t a = 0; a < 4; a++)
        SA_UNROLL for (size_t h = 0; h < 4; h++) acc[a][h] = vdupq_n_f32(0.0f);
    for (size_t c = 0; c < d; c += 16) {
        if (c * es % 64 == 0) /* one hint per line */
            SA_UNROLL for (size_t b = 0; b < KR; b++)
                prefetch(k, ((j0 + b + pf) * ldk + c) * es);
        SA_UNROLL for (size_t h = 0; h < 4; h++) {
            size_t left = d > c + 4 * h ? d - c - 4 * h : 0;
            float32x4_t kv[4], qv[4];
            SA_UNROLL for (size_t b = 0; b < KR; b++)
                kv[b] = load_kv(dt, k, ko[b] + c + 4 * h, left);
            SA_UNROLL for (size_t r = 0; r < MR; r++)
                qv[r] = load_kv(SIMDATTN_F32, qr[r], c + 4 * h, left);
            SA_UNROLL for (size_t b = 0; b < KR; b++)
                SA_UNROLL for (size_t r = 0; r < MR; r++)
                    acc[b * MR + r][h] = vfmaq_f32(acc[b * MR + r][h], qv[r], kv[b]);
        }
    }
    SA_UNROLL for (size_t b = 0; b < KR; b++)
        SA_UNROLL for (size_t r = 0; r < MR; r++)
            if (i0 + r < m && j0 + b < n)
                s[(i0 + r) * lds + j0 + b] = sum16(acc[b * MR + r]);
}

SA_INLINE void qk_kv(const simdattn_dtype dt, size_t m, size_t n, size_t d,
                     const float *q, size_t ldq, const void *k, size_t ldk,
                     float *s, size_t lds) {
    size_t i0 = 0;
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

enum { MR = 4, NV = 4 };

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

/* O tile of mr rows × the nc ≤ 16 columns from c0; pf > 0: also prefetch
 * pf columns of V rows ahead (the first column pass). */
SA_INLINE void pv_tile(const simdattn_dtype dt, const size_t mr, size_t nc,
                       size_t n, const float *p, size_t ldp, const void *v,
                       size_t ldv, size_t c0, const float *alpha, float *o,
                       size_t ldo, size_t pf) {
    const size_t es = dt == SIMDATTN_F32 ? 4 : 2;
    const size_t ahead = pf ? PF_BYTES / (pf * es) + 1 : 0;
    size_t w[NV];
    SA_UNROLL for (size_t c = 0; c < NV; c++)
        w[c] = nc > 4 * c ? (nc - 4 * c < 4 ? nc - 4 * c : 4) : 0;
    float32x4_t acc[MR][NV];
    SA_UNROLL for (size_t i = 0; i < mr; i++) {
        float32x4_t a = vdupq_n_f32(alpha ? alpha[i] : 1.0f);
        SA_UNROLL for (size_t c = 0; c < NV; c++)
            acc[i][c] = vmulq_f32(a, load_o(o + i * ldo + 4 * c, w[c]));
    }
    for (size_t j = 0; j < n; j++) {
        if (pf)
            for (size_t c = 0; c < pf; c += 64 / es)
                prefetch(v, ((j + ahead) * ldv + c) * es);
        float32x4_t b[NV];
        SA_UNROLL for (size_t c = 0; c < NV; c++)
            b[c] = load_kv(dt, v, j * ldv + c0 + 4 * c, w[c]);
        SA_UNROLL for (size_t i = 0; i < mr; i++) {
            float32x4_t a = vdupq_n_f32(p[i * ldp + j]);
            SA_UNROLL for (size_t c = 0; c < NV; c++)
                acc[i][c] = vfmaq_f32(acc[i][c], a, b[c]);
        }
    }
    SA_UNROLL for (size_t i = 0; i < mr; i++)
        SA_UNROLL for (size_t c = 0; c < NV; c++)
            store_o(o + i * ldo + 4 * c, acc[i][c], w[c]);
}

SA_INLINE void pv_kv(const simdattn_dtype dt, size_t m, size_t n, size_t dv,
                     const float *p, size_t ldp, const void *v, size_t ldv,
                     const float *alpha, float *o, size_t ldo) {
    for (size_t c0 = 0; c0 < dv; c0 += 4 * NV) {
        size_t nc = dv - c0 < 4 * NV ? dv - c0 : 4 * NV;
        for (size_t i0 = 0; i0 < m; i0 += MR) {
            const float *pi = p + i0 * ldp, *ai = alpha ? alpha + i0 : NULL;
            float *oi = o + i0 * ldo + c0;
            size_t pf = c0 == 0 && i0 == 0 ? dv : 0;
            switch (m - i0 < MR ? m - i0 : MR) {
            case 1: pv_tile(dt, 1, nc, n, pi, ldp, v, ldv, c0, ai, oi, ldo, pf); break;
            case 2: pv_tile(dt, 2, nc, n, pi, ldp, v, ldv, c0, ai, oi, ldo, pf); break;
            case 3: pv_tile(dt, 3, nc, n, pi, ldp, v, ldv, c0, ai, oi, ldo, pf); break;
            default: pv_tile(dt, 4, nc, n, pi, ldp, v, ldv, c0, ai, oi, ldo, pf); break;
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
