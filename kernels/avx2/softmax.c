#if !defined(__AVX2__) || !defined(__FMA__)
#error "kernels/avx2/softmax.c must be compiled with -mavx2 -mfma"
#endif
/*
 * AVX2+FMA softmax, plain and online, in place on a tile of logits; the
 * arithmetic of kernels/scalar/softmax.c, 8 lanes at a time, per row:
 *
 *   pass 1  x_j = S_j·scale (+ mask_j), stored back (two roundings, never
 *           fused: the build uses -ffp-contract=off), and max_j x_j
 *   pass 2  e_j = exp(x_j − m̂), stored back, and the row sum in the
 *           canonical 16-lane order: element j into lane j mod 16 (two
 *           ymm: lanes 0–7 and 8–15), then halved 8/4/2/1 as sum16 does
 *   pass 3  (plain) p_j = e_j · (Σ = 0 ? 0 : 1/Σ)
 * The row stays in L1 between passes (a 128-key row is 512 bytes), and
 * pass 1 of row i + 1 runs inside the loop of pass 2 of row i, where
 * exp's long dependency chains leave the pipes idle.  The cost is exp:
 * SLEEF's call is ~0.65 ns per logit on Zen 4 out of ~0.72 for the whole
 * online softmax at 84×128.
 *
 * exp is SLEEF's Sleef_expf8_u10avx2 (≤ 1 ULP), or with
 * SIMDATTN_DETERMINISTIC Sleef_finz_expf8_u10avx2, which returns the same
 * bits as the scalar kernel's Sleef_finz_expf1_u10purecfma, or with
 * SIMDATTN_FAST_EXP exp8_poly (helpers.h), inlined, which returns the
 * scalar exp_poly's bits.  The max is exact, the scaling, shift, sum and
 * α/row_sum updates round exactly as the scalar code does, so in the
 * deterministic and fast-exp modes every output (S, row_max, row_sum,
 * alpha) is bit-identical to the scalar kernel's.  The per-row steps (the
 * shift, a zero or −inf max, Σ = 0) are the scalar rules of kernels/rules.h.
 * Bound per probability: see simdattn.h.
 *
 * Tails (n not a multiple of 8) use masked loads and stores: the max sees
 * −inf and the sum sees 0 in the unused lanes, and nothing outside the m×n
 * window of S (or of the mask) is read or written.  The online form batches
 * the per-row α = exp(row_max − m̂) of up to 8 rows into one vector exp.
 */
#include <math.h>
#include <sleef.h>

#include "helpers.h"
#include "internal.h"
#include "rules.h"

ALWAYS_INLINE __m256 vexp(const int kind, __m256 x) {
    return kind == SA_EXP_POLY   ? exp8_poly(x)
           : kind == SA_EXP_FINZ ? Sleef_finz_expf8_u10avx2(x)
                                 : Sleef_expf8_u10avx2(x);
}

/* Horizontal max of lanes that are never NaN (pass 1 never lets one in). */
ALWAYS_INLINE float hmax(__m256 v) {
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(v),
                          _mm256_extractf128_ps(v, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

/* Pass 1 on c logits at p (8, or c < 8 through lane masks): scaled,
 * masked, stored back and folded into the running max.  max_ps(x, mx)
 * returns mx when x is NaN, so NaN never becomes the max, as with the
 * scalar `if (x > mx) mx = x`; unused lanes enter as −inf. */
ALWAYS_INLINE void logits8(const int has_mask, size_t c, float *p,
                           const float *mp, __m256 scale, __m256 *mx) {
    if (c >= 8) {
        __m256 x = _mm256_mul_ps(_mm256_loadu_ps(p), scale);
        if (has_mask)
            x = _mm256_add_ps(x, _mm256_loadu_ps(mp));
        _mm256_storeu_ps(p, x);
        *mx = _mm256_max_ps(x, *mx);
        return;
    }
    __m256i k = lanes_below(c);
    __m256 x = _mm256_mul_ps(_mm256_maskload_ps(p, k), scale);
    if (has_mask)
        x = _mm256_add_ps(x, _mm256_maskload_ps(mp, k));
    _mm256_maskstore_ps(p, k, x);
    x = _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), x, _mm256_castsi256_ps(k));
    *mx = _mm256_max_ps(x, *mx);
}


/* Pass 1 alone (the first row of a call). */
ALWAYS_INLINE float logits(const int has_mask, size_t n, float scale,
                           const float *mrow, float *row) {
    const __m256 vs = _mm256_set1_ps(scale);
    __m256 mx = _mm256_set1_ps(-INFINITY);
    size_t j = 0;
    for (; j + 8 <= n; j += 8)
        logits8(has_mask, 8, row + j, has_mask ? mrow + j : NULL, vs, &mx);
    if (j < n)
        logits8(has_mask, n - j, row + j, has_mask ? mrow + j : NULL, vs, &mx);
    return hmax(mx);
}

/* exp(x − shift) of c elements at p (8, or c < 8 through lane masks),
 * stored back; returns them with unused lanes 0, ready for a partial sum. */
ALWAYS_INLINE __m256 exp8(const int kind, size_t c, float *p, __m256 shift) {
    if (c >= 8) {
        __m256 e = vexp(kind, _mm256_sub_ps(_mm256_loadu_ps(p), shift));
        _mm256_storeu_ps(p, e);
        return e;
    }
    __m256i k = lanes_below(c);
    __m256 e = vexp(kind, _mm256_sub_ps(_mm256_maskload_ps(p, k), shift));
    _mm256_maskstore_ps(p, k, e);
    return _mm256_and_ps(e, _mm256_castsi256_ps(k));
}

/* Pass 2: row = exp(row − shift), returns the canonical sum (element j in
 * s0/s1 lane j mod 16).  With has_next, pass 1 of the next row (`next`,
 * its mask `nmask`) rides along and its maximum goes to *next_max: exp is
 * a long dependency chain whose waiting operations fill the scheduler, and
 * pass 1's independent loads, multiplies and maxima run in the gaps
 * (softmax_online at 84×128: 0.75 vs 0.83 ns per logit as two passes). */
ALWAYS_INLINE float exp_sum(const int kind, const int has_mask, const int has_next,
                            size_t n, float shift, float *row, float scale,
                            float *next, const float *nmask,
                            float *next_max) {
    const __m256 vsh = _mm256_set1_ps(shift), vs = _mm256_set1_ps(scale);
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 mx = _mm256_set1_ps(-INFINITY);
#define NMASK(j) (has_mask ? nmask + (j) : NULL)
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        if (has_next) {
            logits8(has_mask, 8, next + j, NMASK(j), vs, &mx);
            logits8(has_mask, 8, next + j + 8, NMASK(j + 8), vs, &mx);
        }
        s0 = _mm256_add_ps(s0, exp8(kind, 8, row + j, vsh));
        s1 = _mm256_add_ps(s1, exp8(kind, 8, row + j + 8, vsh));
    }
    if (j < n) {
        if (has_next)
            logits8(has_mask, n - j, next + j, NMASK(j), vs, &mx);
        s0 = _mm256_add_ps(s0, exp8(kind, n - j, row + j, vsh));
    }
    if (j + 8 < n) {
        if (has_next)
            logits8(has_mask, n - j - 8, next + j + 8, NMASK(j + 8), vs, &mx);
        s1 = _mm256_add_ps(s1, exp8(kind, n - j - 8, row + j + 8, vsh));
    }
#undef NMASK
    if (has_next)
        *next_max = hmax(mx);
    return sum16(s0, s1);
}

/* Pass 2 of row i of the tile, with pass 1 of row i + 1 when there is one;
 * mx holds row i's maximum on entry and row i + 1's on return. */
ALWAYS_INLINE float exp_row(const int kind, const int has_mask, size_t m,
                            size_t n, size_t i, float shift, float scale,
                            const float *mask, size_t ldm, float *s,
                            size_t lds, float *mx) {
    float *row = s + i * lds;
    if (i + 1 == m)
        return exp_sum(kind, has_mask, 0, n, shift, row, scale, NULL, NULL, NULL);
    return exp_sum(kind, has_mask, 1, n, shift, row, scale, row + lds,
                   has_mask ? mask + (i + 1) * ldm : NULL, mx);
}

/* Pass 3 (plain): row *= inv. */
ALWAYS_INLINE void scale_row(size_t n, float inv, float *row) {
    const __m256 vi = _mm256_set1_ps(inv);
    size_t j = 0;
    for (; j + 8 <= n; j += 8)
        _mm256_storeu_ps(row + j, _mm256_mul_ps(_mm256_loadu_ps(row + j), vi));
    if (j < n) {
        __m256i k = lanes_below(n - j);
        _mm256_maskstore_ps(row + j, k,
                            _mm256_mul_ps(_mm256_maskload_ps(row + j, k), vi));
    }
}

ALWAYS_INLINE void plain(const int kind, const int has_mask, size_t m, size_t n,
                         float scale, const float *mask, size_t ldm, float *s,
                         size_t lds) {
    float mx = logits(has_mask, n, scale, mask, s);
    for (size_t i = 0; i < m; i++) {
        float sum = exp_row(kind, has_mask, m, n, i, sa_exp_shift(mx), scale,
                            mask, ldm, s, lds, &mx);
        scale_row(n, sa_inv_sum(sum), s + i * lds);
    }
}

/* α = exp(row_max − m̂) of rows i0 … i0+g−1 in one vector exp, and
 * row_sum = fmaf(α, row_sum, Σ): the scalar kernel's single rounding. */
ALWAYS_INLINE void online_flush(const int kind, size_t i0, size_t g,
                                const float *delta, const float *sum,
                                float *row_sum, float *alpha) {
    __m256i k = lanes_below(g);
    __m256 a = vexp(kind, _mm256_loadu_ps(delta));
    __m256 l = _mm256_fmadd_ps(a, _mm256_maskload_ps(row_sum + i0, k),
                               _mm256_loadu_ps(sum));
    _mm256_maskstore_ps(alpha + i0, k, a);
    _mm256_maskstore_ps(row_sum + i0, k, l);
}

ALWAYS_INLINE void online(const int kind, const int has_mask, size_t m, size_t n,
                          float scale, const float *mask, size_t ldm,
                          float *s, size_t lds, float *row_max,
                          float *row_sum, float *alpha) {
    /* per row of a group of 8: α's argument row_max − m̂, and Σ (lanes
     * past the group's end are never stored) */
    float delta[8] = {0}, sum[8] = {0};
    float mx = logits(has_mask, n, scale, mask, s);
    for (size_t i = 0; i < m; i++) {
        float m_new = sa_online_max(row_max[i], mx);
        float shift = sa_exp_shift(m_new);
        sum[i % 8] = exp_row(kind, has_mask, m, n, i, shift, scale, mask, ldm,
                             s, lds, &mx);
        delta[i % 8] = row_max[i] - shift;
        row_max[i] = m_new;
        if (i % 8 == 7 || i + 1 == m)
            online_flush(kind, i - i % 8, i % 8 + 1, delta, sum, row_sum, alpha);
    }
}

/* Each public kernel instantiates its body for the exp the flags select
 * and for the presence of a mask, all constants inside the body. */
void sa_softmax_avx2(size_t m, size_t n, float scale, const float *mask,
                     size_t ldm, float *s, size_t lds, unsigned flags) {
    if (mask)
        SA_EXP_DISPATCH(flags, plain, 1, m, n, scale, mask, ldm, s, lds);
    else
        SA_EXP_DISPATCH(flags, plain, 0, m, n, scale, mask, ldm, s, lds);
}

void sa_softmax_online_avx2(size_t m, size_t n, float scale,
                            const float *mask, size_t ldm, float *s,
                            size_t lds, float *row_max, float *row_sum,
                            float *alpha, unsigned flags) {
    if (mask)
        SA_EXP_DISPATCH(flags, online, 1, m, n, scale, mask, ldm, s, lds,
                        row_max, row_sum, alpha);
    else
        SA_EXP_DISPATCH(flags, online, 0, m, n, scale, mask, ldm, s, lds,
                        row_max, row_sum, alpha);
}
