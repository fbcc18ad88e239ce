/*
 * AVX2 kernels of the decode path: Q·Kᵀ and P·V against K and V as they
 * lie in a KV cache (row-major, no packing), fp32 or fp16/bf16 widened in
 * registers as they stream: F16C's vcvtph2ps for fp16 (exact), a 16-bit
 * shift of the zero-extended pattern for bf16 (exact).  The set needs
 * F16C, which dispatch checks with AVX2 and FMA.
 *
 * qk_kv: the canonical 16-lane order of simdattn.h on two ymm per dot
 * product (lanes 0–7 and 8–15): lane l accumulates c ≡ l (mod 16), the
 * last d mod 16 elements come through a zero-filled copy (fma(0, 0, x),
 * as the scalar reference pads), and each dot is summed as sum16 does
 * (0–7 + 8–15, 0–3 + 4–7, 0–1 + 2–3, 0 + 1).  A tile is MR rows × KR keys
 * = 4 dot products, 8 accumulators, 4 × 1 for a 4-row GQA group (then
 * 2 × 2, 1 × 4): key by key, each K vector loaded once for the MR rows,
 * Q read from L1 at each use, so K streams in address order (measured,
 * paired A/B with bench/ab.c against 2 × 2 tiles that read chunk c of two
 * keys together with software prefetch: D128 fp32 1 thread 6–8 % faster
 * (1.065, 0.925), fp16 7–10 % (1.073, 0.906)).  Rows and keys past m and
 * n repeat the last one and are not stored.  The same bits as
 * kernels/scalar/decode.c.
 * pv_kv: MR = 4 rows × 2 ymm (16 columns) of O, 8 accumulators + 2 V + 1
 * broadcast; α·O rounded once, then one fma per key in order (the scalar
 * chain, the same bits).  Tails of d_v go through lane masks (O) and a
 * zero-filled copy (V).
 * Reads m×d of Q, n×d of K, m×n of P, n×dv of V, m of alpha, nothing
 * outside them; writes exactly m×n of S and m×dv of O.
 */
#include <stdint.h>
#include <string.h>

#include "helpers.h"
#include "internal.h"

#ifndef __F16C__
#error "kernels/avx2/decode.c needs -mf16c"
#endif

/* Software prefetch PF_BYTES ahead into L2 (P·V).  With 16 ymm its tiles
 * read V in 16-column strips, an order the hardware prefetchers do not
 * follow (kernels/avx512/decode.c, whose whole-row tiles need no software
 * prefetch, has the measurements); the distance was measured on such
 * tiles (Q·K then had them too) at D128 fp32, 1 thread: 16 or 32
 * keys ahead into L1 0.43 / 0.42 of the read bandwidth, 64 keys (32 KiB)
 * into L2 0.65, 128 keys 0.60, none 0.34.  Sub-blocks with the next one
 * prefetched in address order were tried instead: slower (128 vs 82 ns
 * per key and KV head from memory). */
enum { PF_BYTES = 32768 };

ALWAYS_INLINE void prefetch(const void *p, size_t bytes) {
    _mm_prefetch((const char *)((uintptr_t)p + bytes), _MM_HINT_T1);
}

/* 8 elements of a KV row from element i, widened; only the first n < 8
 * when n is smaller (the rest 0, nothing past them read). */
ALWAYS_INLINE __m256 load_kv(const simdattn_dtype dt, const void *p,
                             size_t i, size_t n) {
    if (dt == SIMDATTN_F32) {
        const float *f = (const float *)p + i;
        return n >= 8 ? _mm256_loadu_ps(f) : _mm256_maskload_ps(f, lanes_below(n));
    }
    const uint16_t *h = (const uint16_t *)p + i;
    __m128i x;
    if (n >= 8)
        x = _mm_loadu_si128((const __m128i *)(const void *)h);
    else {
        uint16_t t[8] = {0};
        memcpy(t, h, n * sizeof(uint16_t));
        x = _mm_loadu_si128((const __m128i *)(const void *)t);
    }
    if (dt == SIMDATTN_F16)
        return _mm256_cvtph_ps(x);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(x), 16));
}

/* S for rows i0 … (MR of them) and keys j0 … (KR), clamped to m, n: key
 * by key, each K row read once in address order for the MR rows (the
 * hardware prefetchers follow that), Q read from L1 at each use. */
ALWAYS_INLINE void qk_tile(const simdattn_dtype dt, const size_t MR,
                           const size_t KR, size_t m, size_t n, size_t d,
                           size_t i0, size_t j0, const float *q, size_t ldq,
                           const void *k, size_t ldk, float *s, size_t lds) {
    const float *qr[4];
    size_t ko[4];
    UNROLL for (size_t r = 0; r < MR; r++)
        qr[r] = q + (i0 + r < m ? i0 + r : m - 1) * ldq;
    UNROLL for (size_t b = 0; b < KR; b++)
        ko[b] = (j0 + b < n ? j0 + b : n - 1) * ldk;
    __m256 acc[4][2];
    UNROLL for (size_t a = 0; a < 4; a++) acc[a][0] = acc[a][1] = _mm256_setzero_ps();
    UNROLL for (size_t b = 0; b < KR; b++)
        for (size_t c = 0; c < d; c += 16)
            UNROLL for (size_t h = 0; h < 2; h++) {
                size_t left = d - c - 8 * h; /* may wrap: then no lanes */
                if (d <= c + 8 * h)
                    left = 0;
                __m256 kv = load_kv(dt, k, ko[b] + c + 8 * h, left);
                __asm__("" : "+x"(kv)); /* one load for the MR fmas */
                UNROLL for (size_t r = 0; r < MR; r++)
                    acc[b * MR + r][h] = _mm256_fmadd_ps(
                        load_kv(SIMDATTN_F32, qr[r], c + 8 * h, left), kv,
                        acc[b * MR + r][h]);
            }
    UNROLL for (size_t b = 0; b < KR; b++)
        UNROLL for (size_t r = 0; r < MR; r++)
            if (i0 + r < m && j0 + b < n)
                s[(i0 + r) * lds + j0 + b] = sum16(acc[b * MR + r][0], acc[b * MR + r][1]);
}

/* Rows in groups of 4 (one pass over K for a 4-row GQA group), then 2,
 * then 1. */
ALWAYS_INLINE void qk_kv(const simdattn_dtype dt, size_t m, size_t n, size_t d,
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

void sa_qk_kv_avx2(size_t m, size_t n, size_t d, const float *q, size_t ldq,
                   const void *k, size_t ldk, simdattn_dtype dt, float *s,
                   size_t lds) {
    switch (dt) {
    case SIMDATTN_F16: qk_kv(SIMDATTN_F16, m, n, d, q, ldq, k, ldk, s, lds); break;
    case SIMDATTN_BF16: qk_kv(SIMDATTN_BF16, m, n, d, q, ldq, k, ldk, s, lds); break;
    default: qk_kv(SIMDATTN_F32, m, n, d, q, ldq, k, ldk, s, lds); break;
    }
}

enum { MR = 4, NV = 2 };

/* O tile of mr rows × the nc ≤ 16 columns from c0; pf > 0: also prefetch
 * pf columns of V rows ahead (the first column pass). */
ALWAYS_INLINE void pv_tile(const simdattn_dtype dt, const size_t mr,
                           size_t nc, size_t n, const float *p, size_t ldp,
                           const void *v, size_t ldv, size_t c0,
                           const float *alpha, float *o, size_t ldo,
                           size_t pf) {
    const size_t es = dt == SIMDATTN_F32 ? 4 : 2;
    const size_t ahead = pf ? PF_BYTES / (pf * es) + 1 : 0;
    size_t w[NV] = {nc < 8 ? nc : 8, nc > 8 ? nc - 8 : 0};
    __m256 acc[MR][NV];
    UNROLL for (size_t i = 0; i < mr; i++) {
        __m256 a = _mm256_set1_ps(alpha ? alpha[i] : 1.0f);
        UNROLL for (size_t c = 0; c < NV; c++)
            acc[i][c] = _mm256_mul_ps(a, load8(w[c] < 8, o + i * ldo + 8 * c,
                                               lanes_below(w[c])));
    }
    for (size_t j = 0; j < n; j++) {
        if (pf)
            for (size_t c = 0; c < pf; c += 64 / es)
                prefetch(v, ((j + ahead) * ldv + c) * es);
        __m256 b[NV];
        UNROLL for (size_t c = 0; c < NV; c++)
            b[c] = load_kv(dt, v, j * ldv + c0 + 8 * c, w[c]);
        UNROLL for (size_t i = 0; i < mr; i++) {
            __m256 a = _mm256_broadcast_ss(p + i * ldp + j);
            UNROLL for (size_t c = 0; c < NV; c++)
                acc[i][c] = _mm256_fmadd_ps(a, b[c], acc[i][c]);
        }
    }
    UNROLL for (size_t i = 0; i < mr; i++)
        UNROLL for (size_t c = 0; c < NV; c++)
            store8(w[c] < 8, o + i * ldo + 8 * c, lanes_below(w[c]), acc[i][c]);
}

ALWAYS_INLINE void pv_kv(const simdattn_dtype dt, size_t m, size_t n,
                         size_t dv, const float *p, size_t ldp, const void *v,
                         size_t ldv, const float *alpha, float *o,
                         size_t ldo) {
    for (size_t c0 = 0; c0 < dv; c0 += 8 * NV) {
        size_t nc = dv - c0 < 8 * NV ? dv - c0 : 8 * NV;
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

void sa_pv_kv_avx2(size_t m, size_t n, size_t dv, const float *p, size_t ldp,
                   const void *v, size_t ldv, simdattn_dtype dt,
                   const float *alpha, float *o, size_t ldo) {
    switch (dt) {
    case SIMDATTN_F16: pv_kv(SIMDATTN_F16, m, n, dv, p, ldp, v, ldv, alpha, o, ldo); break;
    case SIMDATTN_BF16: pv_kv(SIMDATTN_BF16, m, n, dv, p, ldp, v, ldv, alpha, o, ldo); break;
    default: pv_kv(SIMDATTN_F32, m, n, dv, p, ldp, v, ldv, alpha, o, ldo); break;
    }
}
