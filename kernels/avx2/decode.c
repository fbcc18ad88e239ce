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
 * (1.065, 0.925), fp16 7–10 % (1.073, 0.906); 2 rows × 3 keys reading
 * chunk c of the three keys from L1 after a touch of 12 keys, as P·V
 * does below, was slower from L1 too: 17.5 against 14.6 ns a key).
 * Rows and keys past m and n repeat the last one and are not stored.
 * The same bits as kernels/scalar/decode.c.
 * pv_kv: V touched a sub-block at a time in address order, then tiles
 * of 4 rows × 3 ymm (24 columns) of O across it from L1 (see "P·V"
 * below); α·O rounded once, then one fma per key in order (the scalar
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

/* P·V.  Keys go in sub-blocks of SUBV.  Each sub-block's V rows are first
 * touched, one byte load a line, row after row: V is read from memory in
 * address order, which the hardware prefetchers follow.  Then tiles of
 * mr ≤ PR rows × cb ≤ NV ymm (12 accumulators + 3 V + 1 broadcast) go
 * across it from L1, each V vector loaded (and widened) once for the
 * rows.  Columns go in segments of SEG, so a sub-block takes at most
 * SUBV × SEG × 4 bytes (8 KiB) of L1 whatever d_v is.
 * Measured (paired A/B with bench/ab.c, D128, 1 thread unless said,
 * median time ratio old/new) against the former tiles, 4 rows × 16
 * columns over all of a call's keys with V prefetched 32 KiB ahead:
 * fp32 1.67 (new/old 0.59), 2 threads 1.66, Nk = 32768 1.71; fp16 1.23
 * (0.79), 2 threads 1.26; bf16 1.20 (0.85).
 * Tried on the way, P·V alone from memory (fraction of an adjacent plain
 * read; the former tiles 0.26): tiles reading V in place without the
 * touch, 2 rows × 6 ymm in sub-blocks of 8, 4, 2, 1 keys, 0.36 to 0.51
 * (2 keys); 4 rows × 3 ymm, slower still (its 96-byte strips cut lines);
 * prefetcht0 of the current or the next sub-block instead of the touch,
 * no better or slower; the touch one sub-block ahead, 33 % slower on the
 * whole call; copying each sub-block, widened, into an fp32 buffer in
 * address order (0.65–0.73), as fast for fp32 and 12 % slower for fp16 on
 * the whole call (16 stores a key); sub-blocks of 4 or 16 keys, 3–12 %
 * slower for fp32 or fp16. */
enum { SUBV = 8, PR = 4, NV = 3, SEG = 256 };

/* O tile of mr rows × cb vectors (the last one `lw` lanes wide) over keys
 * 0 … nk−1 of p and v (both at the tile's first key and column); alpha:
 * the tile starts the call. */
ALWAYS_INLINE void pv_tile(const simdattn_dtype dt, const size_t mr,
                           const size_t cb, size_t nk, const float *p,
                           size_t ldp, const void *v, size_t ldv,
                           const float *alpha, float *o, size_t ldo,
                           size_t lw) {
    const __m256i lm = lanes_below(lw);
    __m256 acc[PR][NV];
    UNROLL for (size_t i = 0; i < mr; i++) {
        __m256 a = _mm256_set1_ps(alpha ? alpha[i] : 1.0f);
        UNROLL for (size_t c = 0; c < cb; c++) {
            acc[i][c] = load8(c + 1 == cb && lw < 8, o + i * ldo + 8 * c, lm);
            if (alpha)
                acc[i][c] = _mm256_mul_ps(a, acc[i][c]);
        }
    }
    for (size_t j = 0; j < nk; j++) {
        __m256 b[NV];
        UNROLL for (size_t c = 0; c < cb; c++)
            b[c] = load_kv(dt, v, j * ldv + 8 * c, c + 1 == cb ? lw : 8);
        UNROLL for (size_t i = 0; i < mr; i++) {
            __m256 a = _mm256_broadcast_ss(p + i * ldp + j);
            UNROLL for (size_t c = 0; c < cb; c++)
                acc[i][c] = _mm256_fmadd_ps(a, b[c], acc[i][c]);
        }
    }
    UNROLL for (size_t i = 0; i < mr; i++)
        UNROLL for (size_t c = 0; c < cb; c++)
            store8(c + 1 == cb && lw < 8, o + i * ldo + 8 * c, lm, acc[i][c]);
}

ALWAYS_INLINE void pv_kv(const simdattn_dtype dt, size_t m, size_t n,
                         size_t dv, const float *p, size_t ldp, const void *v,
                         size_t ldv, const float *alpha, float *o,
                         size_t ldo) {
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
                for (size_t c0 = 0; c0 < sw; c0 += 8 * NV) {
                    size_t w = sw - c0 < 8 * NV ? sw - c0 : 8 * NV;
                    size_t cb = (w + 7) / 8, lw = w - 8 * (cb - 1);
                    const void *vt = vs + c0 * es;
                    float *oi = o + i0 * ldo + s0 + c0;
#define COLS(r, c)                                                             \
    case c: pv_tile(dt, r, c, nk, pi, ldp, vt, ldv, ai, oi, ldo, lw); break;
#define ROWS(r)                                                                \
    case r: switch (cb) { COLS(r, 1) COLS(r, 2) COLS(r, 3) } break;
                    switch (m - i0 < PR ? m - i0 : PR) { ROWS(1) ROWS(2) ROWS(3) ROWS(4) }
#undef ROWS
#undef COLS
                }
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
