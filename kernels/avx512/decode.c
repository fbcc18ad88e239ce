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
 * unit is 16 dot products: MR = 4 rows × 4 keys, each K vector loaded
 * (and widened) once for the 4 rows, key by key, with the rows' first
 * QH_MAX chunks of Q loaded once a sub-block and the rest read from L1 at
 * each use (32 zmm of Q would not fit beside the accumulators); rows left
 * over go as 2 × 8 (then 1 × 16), with the rows' Q held in 16 zmm, 128
 * columns at a time.  The 16 sums
 * come out of one four-level shuffle tree (l + l+8, l + l+4, l + l+2,
 * l + l+1, sum16's pairs) into one zmm — 15 combines, a third of what 16
 * separate sum16 reductions take — and are put in row order for one store
 * per row (the tree's order does not depend on a dot's place in it, so
 * every unit shape gives the same bits).
 * Rows and keys past m and n repeat the last one and are not stored.
 * pv_kv: tiles of up to 24 accumulators, 3 rows × 8 zmm (a whole row of
 * d_v = 128) or 4 rows × ≤ 4 zmm, V widened at its load; α·O rounded
 * once, then one fma per key in order (the scalar chain, the same bits).
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
SA_INLINE __m512 fold8(__m512 a, __m512 b) { /* one shuffle and a blend: */
    return _mm512_add_ps(_mm512_mask_blend_ps(0xFF00, a, b), /* a_lo, b_hi */
                         _mm512_shuffle_f32x4(a, b, 0x4E)); /* a_hi, b_lo */
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

/* Memory order.  K and V are read row after row, each row's lines in
 * increasing address, so the hardware prefetchers see one plain stream
 * per call and run ahead of it; no software prefetch.  Measured on this
 * project's Zen 4 host (D128 shape, 1 thread, fp32 K/V from memory): the
 * former order — a 4×4 tile reading chunk c of four keys 512 B apart,
 * then V in two column passes of half rows — left the prefetchers idle
 * (89 ns per key and KV head without software prefetch, 54 with it 32 KiB
 * ahead), and software prefetch caps a plain stream at about 20 GB/s
 * (L1 miss buffers) where the hardware's reaches 28.  Keys go in
 * sub-blocks: each pass of a row group over a sub-block reads K (V) from
 * memory once and from L1 after that.  Small sub-blocks keep the misses
 * evenly spread — the prefetchers advance with the demand misses, and a
 * long pass from L1 lets them idle — measured (huge pages, best of 3
 * runs, D128 fp32 1 thread): V sub-blocks of 32 keys 1.50–1.69 ms, 16
 * keys 1.26–1.35, 8 keys 1.19–1.20, 4 keys 1.22 (more O loads/stores per
 * key); K sub-blocks of 8 or 16 keys alike (16: the one-row unit's
 * width).  fp16/bf16, compute-bound, do not move.
 *
 * Better than a second pass is none: the 4-row Q·K unit reads each K
 * line once for a whole 4-row GQA group.  Measured as paired A/Bs of
 * whole D128 calls (bench/ab.c: two builds alternated in one process, 300
 * pairs, median of the pairs' time ratios, both orders; A/A runs give
 * 0.98–1.00, quartiles 0.93–1.05), against two passes of the 2-row unit:
 * with all of Q read from L1 at each use (5 loads per 4 fmas; from L1,
 * m = 4, 256 keys: 15.3 against 11.1 ns a key), fp32 1 thread 6 % faster
 * (1.062, 0.940), 2 threads 6 % (1.058, 0.940), but fp16 5–8 % slower
 * (0.955, 1.080), bound by its fmas and widening.  Holding Q's first 4
 * chunks across the sub-block (11.3 ns a key from L1) gained fp32 another
 * 4–7 % (1.072, 0.964) and made fp16 7 % and bf16 10–12 % faster than
 * their 2-row units (fp16 2 threads 8–12 %); 6 chunks another 5 % for
 * fp16, 2–3 % for fp32, and 8 (the compiler spilling the rest) as 6.
 * P·V: a 4-row group as 4 rows × 8 zmm with the fourth row kept in O (L1:
 * loaded, fma'd and stored at each key) against 2 + 2 rows × 8 zmm: fp32
 * 1 thread 2–3 % faster (1.033, 0.980), 2 threads 4–6 % (1.037, 0.941),
 * D128-32k 2–3 %, fp16 2–4 %, bf16 alike (1.000, 1.002); 3 + 1 rows (the
 * second tile a short pass from L1) measured as that (fp32 1 thread
 * 0.993–1.047, fp16 0.988–1.042, 2 threads 0.962–1.023 against it) and
 * builds in a third of the time under clang's ASan (fuzz tree: 113 s
 * against 365 s for this file), so it is the one kept; 4 rows × 4 zmm
 * over half rows (each V line read once, the two halves of a row in
 * separate passes) was 42 % slower (0.705, 1.554).  Variants of Q·K that
 * read chunk c of 4 or 2 keys together were the fastest from L1 but 72–76
 * and 50–64 ns a key from memory (Q·K alone): the prefetchers follow one
 * row at a time, not rows interleaved.  Also slower from memory, measured
 * as above: prefetcht1 (Zen 4: into L2) 8–64 KiB ahead at each sub-block
 * (best calls 1.62–1.74 vs 1.41–1.45 ms); the 2-row unit with Q held in
 * registers across a sub-block (10–20 % faster from L1, 8–9 % slower from
 * memory); each block's softmax right after its Q·K instead of after the
 * run's (kernels/decode.c), 2–6 %, before and after the 4-row units;
 * prefetcht0 of K 4, 8 or 16 keys ahead in the 4-row Q·K (Q·K alone from
 * memory: 0.67, 0.74, 0.53 of an adjacent plain read against 0.78–0.82).
 * Tried for fp16/bf16, whose widening competes with the fmas (a loop of
 * 12 fmas and n vcvtph2ps zmm: 1.00, 1.15, 1.38, 1.66 cycles an fma at
 * n = 0, 6, 8, 12): each V sub-block widened once into an fp32 buffer
 * and both tiles read from it (from L1 16.0 against 12.9 ns a key: the
 * zmm stores cost more than the second widening); 4 rows × 6 zmm then
 * 4 rows × 2 zmm (each V vector widened once; from L1 fp16 11.7 against
 * 12.1 ns a key, but P·V alone from memory fp32 0.42 against 0.87: the
 * second pass's lines are not fetched in order). */
enum { SUB = 16, SUBV = 8 }; /* keys per sub-block: Q·K, P·V */
enum { QH_MAX = 6 }; /* Q chunks a 4-row Q·K unit holds (see "Memory order") */

/* Lanes of chunk i of a segment with `rem` columns left (0: none). */
SA_INLINE __mmask16 chunk_lanes(size_t rem, size_t i) {
    return rem > 16 * i ? lanes(rem - 16 * i) : 0;
}

/* Chunks c0 … c0 + 16·NC − 1 (NC even) of rows qr[0 … MR−1] against keys
 * ko[0 … KH−1] into acc[b·MR + r].  Lane masks: with ALL, chunk i's own
 * (rem columns left); else the last two chunks' are m1, m2 and the others
 * are full.  A chunk past d has no lanes: zeros on both sides, and
 * fma(0, 0, x) = x exactly, since no lane ever holds −0 (each starts at
 * +0), so one instantiation serves two chunk counts.  MR ≤ 2 holds the
 * rows' Q in registers; MR = 4 goes key by key (address order, see
 * "Memory order") with chunks i < QH from qh (loaded by the caller) and
 * the others read from L1 at each use. */
SA_INLINE __mmask16 seg_lanes(const int ALL, const size_t NC, size_t i,
                              size_t rem, __mmask16 m1, __mmask16 m2) {
    if (ALL)
        return chunk_lanes(rem, i);
    return i + 2 == NC ? m1 : i + 1 == NC ? m2 : (__mmask16)0xFFFF;
}

SA_INLINE void qk_seg(const simdattn_dtype dt, const size_t MR,
                      const size_t KH, const size_t NC, const int ALL,
                      size_t c0, size_t rem, const float *const *qr,
                      const size_t QH, __m512 (*qh)[QH_MAX],
                      const size_t *ko, const void *k, __mmask16 m1,
                      __mmask16 m2, __m512 *acc) {
    if (MR == 4) { /* key by key; Q chunks past QH from L1 each time */
        SA_UNROLL for (size_t b = 0; b < KH; b++)
            SA_UNROLL for (size_t i = 0; i < NC; i++) {
                __mmask16 l = seg_lanes(ALL, NC, i, rem, m1, m2);
                __m512 kv = load_kv(dt, k, ko[b] + c0 + 16 * i, l);
                __asm__("" : "+v"(kv)); /* (as below) */
                SA_UNROLL for (size_t r = 0; r < 4; r++) {
                    __m512 qv;
                    if (i < QH) {
                        qv = qh[r][i];
                    } else {
                        qv = _mm512_maskz_loadu_ps(l, qr[r] + c0 + 16 * i);
                        __asm__("" : "+v"(qv)); /* a fresh load, not 32 live zmm */
                    }
                    acc[b * 4 + r] = _mm512_fmadd_ps(qv, kv, acc[b * 4 + r]);
                }
            }
        return;
    }
    __m512 qv[2][8];
    SA_UNROLL for (size_t r = 0; r < MR; r++)
        SA_UNROLL for (size_t i = 0; i < NC; i++)
            qv[r][i] = _mm512_maskz_loadu_ps(seg_lanes(ALL, NC, i, rem, m1, m2),
                                             qr[r] + c0 + 16 * i);
    SA_UNROLL for (size_t b = 0; b < KH; b++)
        SA_UNROLL for (size_t i = 0; i < NC; i++) {
            __m512 kv = load_kv(dt, k, ko[b] + c0 + 16 * i,
                                seg_lanes(ALL, NC, i, rem, m1, m2));
            /* one load, kept in a register for the MR fmas (GCC would
             * otherwise fold it into each, loading it MR times) */
            __asm__("" : "+v"(kv));
            SA_UNROLL for (size_t r = 0; r < MR; r++)
                acc[b * MR + r] = _mm512_fmadd_ps(qv[r][i], kv, acc[b * MR + r]);
        }
}

/* d > 128: every segment of 128 columns, acc in memory — one copy per
 * (dtype, MR), not one per tail width, to keep the file's compile time
 * (and code size) in bounds; the calls cost little next to d > 128
 * columns of work. */
static __attribute__((noinline)) void qk_long(simdattn_dtype dt, size_t MR,
                                              size_t d, const float *const *qr,
                                              const size_t *ko, const void *k,
                                              __m512 *acc) {
    for (size_t c0 = 0; c0 < d; c0 += 128) {
#define SEG(T, R)                                                              \
    qk_seg(T, R, 8 / R, 8, 1, c0, d - c0, qr, 0, NULL, ko, k, 0, 0, acc)
        if (dt == SIMDATTN_F16)
            MR == 4 ? SEG(SIMDATTN_F16, 4) : MR == 2 ? SEG(SIMDATTN_F16, 2) : SEG(SIMDATTN_F16, 1);
        else if (dt == SIMDATTN_BF16)
            MR == 4 ? SEG(SIMDATTN_BF16, 4) : MR == 2 ? SEG(SIMDATTN_BF16, 2) : SEG(SIMDATTN_BF16, 1);
        else
            MR == 4   ? SEG(SIMDATTN_F32, 4)
            : MR == 2 ? SEG(SIMDATTN_F32, 2)
                      : SEG(SIMDATTN_F32, 1);
#undef SEG
    }
}

/* 8 dot products: rows i0 … i0+MR−1 × keys j0 … j0+8/MR−1 (clamped to
 * m, n), one chain each, folded by the first three levels of the tree
 * (v[0 … 7] → one zmm; the unit's second half folds v[8 … 15], and fold1
 * joins the two): dot a = b·MR + r.  d ≤ 128 is one segment of NT
 * chunks (NT even, masks m1, m2). */
SA_INLINE __m512 qk_half(const simdattn_dtype dt, const size_t MR,
                         const size_t NT, size_t m, size_t n, size_t d,
                         size_t i0, size_t j0, const float *q, size_t ldq,
                         const size_t QH, __m512 (*qh)[QH_MAX],
                         const void *k, size_t ldk, __mmask16 m1,
                         __mmask16 m2) {
    const size_t KH = 8 / MR;
    const float *qr[4];
    size_t ko[8];
    SA_UNROLL for (size_t r = 0; r < MR; r++)
        qr[r] = q + (i0 + r < m ? i0 + r : m - 1) * ldq;
    SA_UNROLL for (size_t b = 0; b < KH; b++)
        ko[b] = (j0 + b < n ? j0 + b : n - 1) * ldk;
    __m512 acc[8];
    SA_UNROLL for (int a = 0; a < 8; a++) acc[a] = _mm512_setzero_ps();
    if (d <= 128) {
        qk_seg(dt, MR, KH, NT, 0, 0, d, qr, QH, qh, ko, k, m1, m2, acc);
    } else { /* (acc itself stays out of memory) */
        __m512 t[8];
        SA_UNROLL for (int a = 0; a < 8; a++) t[a] = _mm512_setzero_ps();
        qk_long(dt, MR, d, qr, ko, k, t);
        SA_UNROLL for (int a = 0; a < 8; a++) acc[a] = t[a];
    }
    SA_UNROLL for (int i = 0; i < 4; i++) acc[i] = fold8(acc[2 * i], acc[2 * i + 1]);
    SA_UNROLL for (int i = 0; i < 2; i++) acc[i] = fold4(acc[2 * i], acc[2 * i + 1]);
    return fold2(acc[0], acc[1]);
}

/* S for rows i0 … i0+MR−1 and keys j0 … j0+16/MR−1 (stored only below
 * m, n): two halves (a loop, not unrolled: one copy of the half's code),
 * then the tree's last fold. */
SA_INLINE void qk_unit(const simdattn_dtype dt, const size_t MR,
                       const size_t NT, size_t m, size_t n, size_t d,
                       size_t i0, size_t j0, const float *q, size_t ldq,
                       const size_t QH, __m512 (*qh)[QH_MAX], const void *k,
                       size_t ldk, float *s, size_t lds, __mmask16 m1,
                       __mmask16 m2) {
    const size_t KH = 8 / MR;
    __m512 y[2];
    _Pragma("GCC unroll 1") for (size_t h = 0; h < 2; h++)
        y[h] = qk_half(dt, MR, NT, m, n, d, i0, j0 + h * KH, q, ldq, QH, qh,
                       k, ldk, m1, m2);
    /* dot a = 8h + b·MR + r (row r, key j0 + a / MR) sits in lane
     * 4·(a mod 4) + a / 4; gathered into row-major order (row r's keys in
     * lanes r·KU …), one store per row */
    const size_t KU = 16 / MR;
    int ix[16];
    SA_UNROLL for (size_t e = 0; e < 16; e++) {
        size_t a = e % KU * MR + e / KU;
        ix[e] = (int)(4 * (a % 4) + a / 4);
    }
    __m512 out = _mm512_permutexvar_ps(_mm512_loadu_si512(ix), fold1(y[0], y[1]));
    if (MR == 1) {
        _mm512_mask_storeu_ps(s + i0 * lds + j0, lanes(n - j0), out);
    } else if (MR == 2) {
        __mmask8 t = (__mmask8)lanes(n - j0);
        _mm256_mask_storeu_ps(s + i0 * lds + j0, t, _mm512_castps512_ps256(out));
        if (i0 + 1 < m)
            _mm256_mask_storeu_ps(s + (i0 + 1) * lds + j0, t,
                                  _mm512_extractf32x8_ps(out, 1));
    } else { /* MR = 4 */
        __mmask8 t = (__mmask8)(lanes(n - j0) & 0xF);
        _mm_mask_storeu_ps(s + i0 * lds + j0, t, _mm512_castps512_ps128(out));
        if (i0 + 1 < m)
            _mm_mask_storeu_ps(s + (i0 + 1) * lds + j0, t, _mm512_extractf32x4_ps(out, 1));
        if (i0 + 2 < m)
            _mm_mask_storeu_ps(s + (i0 + 2) * lds + j0, t, _mm512_extractf32x4_ps(out, 2));
        if (i0 + 3 < m)
            _mm_mask_storeu_ps(s + (i0 + 3) * lds + j0, t, _mm512_extractf32x4_ps(out, 3));
    }
}

SA_INLINE void qk_rows(const simdattn_dtype dt, const size_t NT, size_t m,
                       size_t n, size_t d, const float *q, size_t ldq,
                       const void *k, size_t ldk, float *s, size_t lds,
                       __mmask16 m1, __mmask16 m2) {
    /* the first QH chunks of a 4-row group's Q (d ≤ 128; qk_long reads
     * its own), reloaded at each sub-block */
    const size_t QH = NT < QH_MAX ? NT : QH_MAX;
    __m512 qh[4][QH_MAX];
    for (size_t j0 = 0; j0 < n; j0 += SUB) {
        size_t j1 = n - j0 < SUB ? n : j0 + SUB, i0 = 0;
        for (; i0 + 4 <= m; i0 += 4) {
            SA_UNROLL for (size_t r = 0; r < 4; r++)
                SA_UNROLL for (size_t i = 0; i < QH_MAX; i++)
                    qh[r][i] = i < QH && d <= 128
                                   ? _mm512_maskz_loadu_ps(
                                         seg_lanes(0, NT, i, d, m1, m2),
                                         q + (i0 + r) * ldq + 16 * i)
                                   : _mm512_setzero_ps();
            for (size_t j = j0; j < j1; j += 4)
                qk_unit(dt, 4, NT, m, n, d, i0, j, q, ldq, QH, qh, k, ldk, s,
                        lds, m1, m2);
        }
        for (; i0 + 2 <= m; i0 += 2)
            for (size_t j = j0; j < j1; j += 8)
                qk_unit(dt, 2, NT, m, n, d, i0, j, q, ldq, 0, qh, k, ldk, s,
                        lds, m1, m2);
        if (i0 < m)
            for (size_t j = j0; j < j1; j += 16)
                qk_unit(dt, 1, NT, m, n, d, i0, j, q, ldq, 0, qh, k, ldk, s,
                        lds, m1, m2);
    }
}

/* NT: the chunks of d ≤ 128 rounded up to even (d > 128: qk_long). */
SA_INLINE void qk_kv(const simdattn_dtype dt, size_t m, size_t n, size_t d,
                     const float *q, size_t ldq, const void *k, size_t ldk,
                     float *s, size_t lds) {
    size_t nt = d > 128 ? 8 : (d + 31) / 32 * 2;
    __mmask16 m1 = chunk_lanes(d, nt - 2), m2 = chunk_lanes(d, nt - 1);
    switch (nt) {
#define NT(c)                                                                  \
    case c: qk_rows(dt, c, m, n, d, q, ldq, k, ldk, s, lds, m1, m2); break;
        NT(2) NT(4) NT(6) NT(8)
#undef NT
    }
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

/* O tile of mr rows × cb vectors from column c0 (the last vector under
 * lane mask `last`) over keys j0 … j1−1: mr·cb ≤ 24 accumulators + mr
 * broadcasts + 1 V vector, each V vector loaded (and widened) once for
 * the mr rows.  alpha: the tile starts the call, so O is scaled by alpha
 * as it is loaded. */
SA_INLINE void pv_tile(const simdattn_dtype dt, const size_t mr,
                       const size_t cb, size_t j0, size_t j1, const float *p,
                       size_t ldp, const void *v, size_t ldv, size_t c0,
                       const float *alpha, float *o, size_t ldo,
                       __mmask16 last) {
    __m512 acc[4][8];
    SA_UNROLL for (size_t i = 0; i < mr; i++) {
        __m512 a = _mm512_set1_ps(alpha ? alpha[i] : 1.0f);
        SA_UNROLL for (size_t c = 0; c < cb; c++) {
            __mmask16 t = c + 1 == cb ? last : (__mmask16)0xFFFF;
            acc[i][c] = _mm512_maskz_loadu_ps(t, o + i * ldo + 16 * c);
            if (alpha)
                acc[i][c] = _mm512_mul_ps(a, acc[i][c]);
        }
    }
    for (size_t j = j0; j < j1; j++) {
        __m512 a[4];
        SA_UNROLL for (size_t i = 0; i < mr; i++) a[i] = _mm512_set1_ps(p[i * ldp + j]);
        SA_UNROLL for (size_t c = 0; c < cb; c++) {
            __mmask16 t = c + 1 == cb ? last : (__mmask16)0xFFFF;
            __m512 b = load_kv(dt, v, j * ldv + c0 + 16 * c, t);
            __asm__("" : "+v"(b)); /* one load for the mr fmas (see qk_seg) */
            SA_UNROLL for (size_t i = 0; i < mr; i++)
                acc[i][c] = _mm512_fmadd_ps(a[i], b, acc[i][c]);
        }
    }
    SA_UNROLL for (size_t i = 0; i < mr; i++)
        SA_UNROLL for (size_t c = 0; c < cb; c++) {
            __mmask16 t = c + 1 == cb ? last : (__mmask16)0xFFFF;
            _mm512_mask_storeu_ps(o + i * ldo + 16 * c, t, acc[i][c]);
        }
}

/* Columns in groups of up to 8 vectors (a whole row at d_v ≤ 128); rows
 * in groups of R: 4 rows × ≤ 4 vectors, or 3 rows × 5 … 8 vectors, the
 * most that fit in registers (a 4-row group of 8 vectors goes as 3 + 1,
 * the second tile over the same sub-block from L1). */
SA_INLINE void pv_kv(const simdattn_dtype dt, size_t m, size_t n, size_t dv,
                     const float *p, size_t ldp, const void *v, size_t ldv,
                     const float *alpha, float *o, size_t ldo) {
    for (size_t c0 = 0; c0 < dv; c0 += 128) {
        size_t w = dv - c0 < 128 ? dv - c0 : 128;
        size_t cb = (w + 15) / 16, R = cb <= 4 ? 4 : 3;
        __mmask16 last = lanes(w - 16 * (cb - 1));
        for (size_t j0 = 0; j0 < n; j0 += SUBV) {
            size_t j1 = n - j0 < SUBV ? n : j0 + SUBV;
            for (size_t i0 = 0; i0 < m; i0 += R) {
                size_t mr = m - i0 < R ? m - i0 : R;
                const float *pi = p + i0 * ldp;
                const float *ai = alpha && j0 == 0 ? alpha + i0 : NULL;
                float *oi = o + i0 * ldo + c0;
#define COLS(r, c)                                                             \
    case c:                                                                    \
        pv_tile(dt, r, c, j0, j1, pi, ldp, v, ldv, c0, ai, oi, ldo, last);     \
        break;
#define ANY_CB(r)                                                              \
    case r:                                                                    \
        switch (cb) { COLS(r, 1) COLS(r, 2) COLS(r, 3) COLS(r, 4)              \
                      COLS(r, 5) COLS(r, 6) COLS(r, 7) COLS(r, 8) }            \
        break;
#define CB4(r)                                                                 \
    case r:                                                                    \
        switch (cb) { COLS(r, 1) COLS(r, 2) COLS(r, 3) COLS(r, 4) }            \
        break;
                switch (mr) { ANY_CB(1) ANY_CB(2) ANY_CB(3) CB4(4) } /* mr ≤ R */
#undef ANY_CB
#undef CB4
#undef COLS
            }
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
