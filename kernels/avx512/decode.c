/*
 * AVX-512 kernels of the decode path: Q·Kᵀ and P·V against K and V as they
 * lie in a KV cache (row-major, no packing), fp32 or fp16/bf16 widened in
 * registers as they stream: vcvtph2ps for fp16 (exact), a 16-bit shift of
 * the zero-extended pattern for bf16 (exact: bf16 is the top half of an
 * fp32).  AVX-512 BF16's vdpbf16ps is not used: it takes both operands in
 * bf16, so Q would be rounded to 8 bits of mantissa (and it sums pairs in
 * its own order), breaking the fp32 bound and the bits every ISA shares.
 *
 * qk_kv: the canonical 16-lane order of simdattn.h, one zmm per (row, key)
 * dot product: lane l accumulates c ≡ l (mod 16), a masked zero-filled
 * load covers d mod 16 (fma(0, 0, x) as the scalar reference pads).  A
 * tile is MR rows × KR keys = 16 accumulators (4×4, or 2×8 / 1×16 for
 * fewer rows), 16 + KR + 1 zmm; each K vector serves MR rows, so K is
 * read once per 4 query rows of a GQA group.  The 16 sums come out of one
 * four-level shuffle tree (l + l+8, l + l+4, l + l+2, l + l+1, sum16's
 * pairs) into one zmm: 15 combines of 2 shuffles and 1 add, a third of
 * what 16 separate sum16 reductions take.  Rows and keys past m and n
 * repeat the last one and are not stored.
 * pv_kv: kernels/avx512/pv.c's 6-row × 4-zmm tile with V widened at its
 * load; α·O rounded once, then one fma per key in order (the scalar
 * chain, the same bits).
 * Reads m×d of Q, n×d of K (lanes past d masked, never touched), m×n of
 * P, n×dv of V, m of alpha; writes exactly m×n of S and m×dv of O.
 */
#include <stdint.h>

#include "helpers.h"
#include "internal.h"

/* 16 elements of a KV row from element i, the lanes of k (others 0). */
SA_INLINE __m512 load_kv(const simdattn_dtype dt, const void *p, size_t i,
                         __mmask16 k) {
    if (dt == SIMDATTN_F32)
        return _mm512_maskz_loadu_ps(k, (const float *)p + i);
    __m256i h = _mm256_maskz_loadu_epi16(k, (const uint16_t *)p + i);
    if (dt == SIMDATTN_F16)
        return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* Pairs (a, b) → lanes 0–7: a_l + a_(l+8), lanes 8–15: b_l + b_(l+8). */
SA_INLINE __m512 fold8(__m512 a, __m512 b) {
    return _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44),
                         _mm512_shuffle_f32x4(a, b, 0xEE));
}
/* Each 8-lane half of a and b → its two 4-lane halves added. */
SA_INLINE __m512 fold4(__m512 a, __m512 b) {
    return _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x88),
                         _mm512_shuffle_f32x4(a, b, 0xDD));
}
SA_INLINE __m512 fold2(__m512 a, __m512 b) { /* l + l+2 in each 4 lanes */
    return _mm512_add_ps(_mm512_shuffle_ps(a, b, 0x44),
                         _mm512_shuffle_ps(a, b, 0xEE));
}
SA_INLINE __m512 fold1(__m512 a, __m512 b) { /* l + l+1 in each pair */
    return _mm512_add_ps(_mm512_shuffle_ps(a, b, 0x88),
                         _mm512_shuffle_ps(a, b, 0xDD));
}

/* sum16 of each of v[0 … 15]: that of v[4t + k] ends in lane 4k + t. */
SA_INLINE __m512 sum16x16(const __m512 *v) {
    __m512 w[8], x[4], y[2];
    SA_UNROLL for (int i = 0; i < 8; i++) w[i] = fold8(v[2 * i], v[2 * i + 1]);
    SA_UNROLL for (int i = 0; i < 4; i++) x[i] = fold4(w[2 * i], w[2 * i + 1]);
    SA_UNROLL for (int i = 0; i < 2; i++) y[i] = fold2(x[2 * i], x[2 * i + 1]);
    return fold1(y[0], y[1]);
}

/* Software prefetch, PF_BYTES ahead in K (and, in pv_kv's first column
 * pass, in V), into L2 (prefetcht1).  The hardware prefetchers alone left
 * the kernels waiting on every K load (perf: 0.34 of the read bandwidth
 * at D128 fp32); measured at D128 fp32, 1 thread: 16 keys ahead into L1
 * 0.43, 32 keys 0.42, 64 keys (32 KiB) into L2 0.65, 128 keys 0.60; V
 * 64 or 128 KiB ahead instead of 32 changed nothing beyond the noise
 * (±0.05 on this shared machine), nor did 64-key blocks in the driver.  A
 * distance in bytes keeps fp16/bf16 as far ahead in time.  Addresses past
 * the end of K or V are only prefetched, never loaded (a prefetch never
 * faults), and are formed as integers. */
enum { PF_BYTES = 32768 };

SA_INLINE void prefetch(const void *p, size_t bytes) {
    _mm_prefetch((const char *)((uintptr_t)p + bytes), _MM_HINT_T1);
}

/* S for rows i0 … (MR of them) and keys j0 … (KR), clamped to m, n. */
SA_INLINE void qk_tile(const simdattn_dtype dt, const size_t MR,
                       const size_t KR, size_t m, size_t n, size_t d,
                       size_t i0, size_t j0, const float *q, size_t ldq,
                       const void *k, size_t ldk, float *s, size_t lds) {
    const float *qr[16];
    size_t ko[16];
    SA_UNROLL for (size_t r = 0; r < MR; r++)
        qr[r] = q + (i0 + r < m ? i0 + r : m - 1) * ldq;
    SA_UNROLL for (size_t b = 0; b < KR; b++)
        ko[b] = (j0 + b < n ? j0 + b : n - 1) * ldk;
    __m512 acc[16];
    SA_UNROLL for (int a = 0; a < 16; a++) acc[a] = _mm512_setzero_ps();
    const size_t es = dt == SIMDATTN_F32 ? 4 : 2, pf = PF_BYTES / (d * es) + 1;
    for (size_t c = 0; c < d; c += 16) {
        __mmask16 t = lanes(d - c);
        if (c * es % 64 == 0) /* one hint per line */
            SA_UNROLL for (size_t b = 0; b < KR; b++)
                prefetch(k, ((j0 + b + pf) * ldk + c) * es);
        if (MR == 1) { /* one Q vector, each K vector used once */
            __m512 qv = _mm512_maskz_loadu_ps(t, qr[0] + c);
            SA_UNROLL for (size_t b = 0; b < KR; b++)
                acc[b] = _mm512_fmadd_ps(qv, load_kv(dt, k, ko[b] + c, t), acc[b]);
            continue;
        }
        __m512 kv[16];
        SA_UNROLL for (size_t b = 0; b < KR; b++) kv[b] = load_kv(dt, k, ko[b] + c, t);
        SA_UNROLL for (size_t r = 0; r < MR; r++) {
            __m512 qv = _mm512_maskz_loadu_ps(t, qr[r] + c);
            SA_UNROLL for (size_t b = 0; b < KR; b++)
                acc[b * MR + r] = _mm512_fmadd_ps(qv, kv[b], acc[b * MR + r]);
        }
    }
    float out[16];
    _mm512_storeu_ps(out, sum16x16(acc));
    SA_UNROLL for (size_t b = 0; b < KR; b++)
        SA_UNROLL for (size_t r = 0; r < MR; r++) {
            size_t a = b * MR + r;
            if (i0 + r < m && j0 + b < n)
                s[(i0 + r) * lds + j0 + b] = out[4 * (a % 4) + a / 4];
        }
}

SA_INLINE void qk_kv(const simdattn_dtype dt, size_t m, size_t n, size_t d,
                     const float *q, size_t ldq, const void *k, size_t ldk,
                     float *s, size_t lds) {
    size_t i0 = 0;
    for (; i0 + 4 <= m; i0 += 4)
        for (size_t j0 = 0; j0 < n; j0 += 4)
            qk_tile(dt, 4, 4, m, n, d, i0, j0, q, ldq, k, ldk, s, lds);
    if (m - i0 >= 2) {
        for (size_t j0 = 0; j0 < n; j0 += 8)
            qk_tile(dt, 2, 8, m, n, d, i0, j0, q, ldq, k, ldk, s, lds);
        i0 += 2;
    }
    if (i0 < m)
        for (size_t j0 = 0; j0 < n; j0 += 16)
            qk_tile(dt, 1, 16, m, n, d, i0, j0, q, ldq, k, ldk, s, lds);
}

void sa_qk_kv_avx512(size_t m, size_t n, size_t d, const float *q,
                     size_t ldq, const void *k, size_t ldk, simdattn_dtype dt,
                     float *s, size_t lds) {
    switch (dt) {
    case SIMDATTN_F16: qk_kv(SIMDATTN_F16, m, n, d, q, ldq, k, ldk, s, lds); break;
    case SIMDATTN_BF16: qk_kv(SIMDATTN_BF16, m, n, d, q, ldq, k, ldk, s, lds); break;
    default: qk_kv(SIMDATTN_F32, m, n, d, q, ldq, k, ldk, s, lds); break;
    }
}

/* 6 rows × 4 zmm = 24 accumulators + 4 V vectors + 1 broadcast = 29 zmm. */
enum { MR = 6, CB = 4 };

/* O tile of mr rows × cb vectors (columns from c0); the last vector uses
 * lane mask `last`. */
SA_INLINE void pv_tile(const simdattn_dtype dt, const size_t mr,
                       const size_t cb, size_t n, const float *p, size_t ldp,
                       const void *v, size_t ldv, size_t c0,
                       const float *alpha, float *o, size_t ldo,
                       __mmask16 last, size_t pf) {
    __m512 acc[MR][CB];
    SA_UNROLL for (size_t i = 0; i < mr; i++) {
        __m512 a = _mm512_set1_ps(alpha ? alpha[i] : 1.0f);
        SA_UNROLL for (size_t c = 0; c < cb; c++) {
            __mmask16 t = c + 1 == cb ? last : (__mmask16)0xFFFF;
            acc[i][c] = _mm512_mul_ps(a, _mm512_maskz_loadu_ps(t, o + i * ldo + 16 * c));
        }
    }
    const size_t es = dt == SIMDATTN_F32 ? 4 : 2, ahead = pf ? PF_BYTES / (pf * es) + 1 : 0;
    for (size_t j = 0; j < n; j++) {
        if (pf) /* the first column pass pulls whole rows in */
            for (size_t c = 0; c < pf; c += 64 / es)
                prefetch(v, ((j + ahead) * ldv + c) * es);
        __m512 b[CB];
        SA_UNROLL for (size_t c = 0; c < cb; c++) {
            __mmask16 t = c + 1 == cb ? last : (__mmask16)0xFFFF;
            b[c] = load_kv(dt, v, j * ldv + c0 + 16 * c, t);
        }
        SA_UNROLL for (size_t i = 0; i < mr; i++) {
            __m512 a = _mm512_set1_ps(p[i * ldp + j]);
            SA_UNROLL for (size_t c = 0; c < cb; c++)
                acc[i][c] = _mm512_fmadd_ps(a, b[c], acc[i][c]);
        }
    }
    SA_UNROLL for (size_t i = 0; i < mr; i++)
        SA_UNROLL for (size_t c = 0; c < cb; c++) {
            __mmask16 t = c + 1 == cb ? last : (__mmask16)0xFFFF;
            _mm512_mask_storeu_ps(o + i * ldo + 16 * c, t, acc[i][c]);
        }
}

SA_INLINE void pv_kv(const simdattn_dtype dt, size_t m, size_t n, size_t dv,
                     const float *p, size_t ldp, const void *v, size_t ldv,
                     const float *alpha, float *o, size_t ldo) {
    for (size_t c0 = 0; c0 < dv; c0 += 16 * CB) {
        size_t w = dv - c0 < 16 * CB ? dv - c0 : 16 * CB;
        size_t cb = (w + 15) / 16;
        __mmask16 last = lanes(w - 16 * (cb - 1));
        for (size_t i0 = 0; i0 < m; i0 += MR) {
            size_t mr = m - i0 < MR ? m - i0 : MR;
            const float *pi = p + i0 * ldp, *ai = alpha ? alpha + i0 : NULL;
            float *oi = o + i0 * ldo + c0;
            size_t pf = c0 == 0 && i0 == 0 ? dv : 0; /* columns to prefetch */
#define COLS(r, c)                                                             \
    case c:                                                                    \
        pv_tile(dt, r, c, n, pi, ldp, v, ldv, c0, ai, oi, ldo, last, pf);      \
        break;
#define ROWS(r)                                                                \
    case r:                                                                    \
        switch (cb) { COLS(r, 1) COLS(r, 2) COLS(r, 3) COLS(r, 4) }            \
        break;
            switch (mr) { ROWS(1) ROWS(2) ROWS(3) ROWS(4) ROWS(5) ROWS(6) }
#undef ROWS
#undef COLS
        }
    }
}

void sa_pv_kv_avx512(size_t m, size_t n, size_t dv, const float *p,
                     size_t ldp, const void *v, size_t ldv, simdattn_dtype dt,
                     const float *alpha, float *o, size_t ldo) {
    switch (dt) {
    case SIMDATTN_F16: pv_kv(SIMDATTN_F16, m, n, dv, p, ldp, v, ldv, alpha, o, ldo); break;
    case SIMDATTN_BF16: pv_kv(SIMDATTN_BF16, m, n, dv, p, ldp, v, ldv, alpha, o, ldo); break;
    default: pv_kv(SIMDATTN_F32, m, n, dv, p, ldp, v, ldv, alpha, o, ldo); break;
    }
}
