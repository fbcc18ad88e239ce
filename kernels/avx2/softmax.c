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
 * The row stays in L1 between passes (a 128-key row is 512 bytes).
 *
 * exp is SLEEF's Sleef_expf8_u10avx2 (≤ 1 ULP), or with
 * SIMDATTN_DETERMINISTIC Sleef_finz_expf8_u10avx2, which returns the same
 * bits as the scalar kernel's Sleef_finz_expf1_u10purecfma.  The max is
 * exact, the scaling, shift, sum and α/row_sum updates round exactly as the
 * scalar code does, so in deterministic mode every output (S, row_max,
 * row_sum, alpha) is bit-identical to the scalar kernel's.
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

typedef __m256 (*exp8_fn)(__m256);

/* Horizontal max of lanes that are never NaN (pass 1 never lets one in). */
ALWAYS_INLINE float hmax(__m256 v) {
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

/* The canonical 16-lane sum: lanes 0–7 (s0) + 8–15 (s1), then 0–3 + 4–7,
 * 0–1 + 2–3, 0 + 1, exactly the scalar sum16's order. */
ALWAYS_INLINE float sum16(__m256 s0, __m256 s1) {
    __m256 v = _mm256_add_ps(s0, s1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

/* Pass 1: logits of one row into row, returns their maximum as the scalar
 * `if (x > mx) mx = x` finds it: max_ps(x, mx) returns mx when x is NaN,
 * so NaN never becomes the max. */
ALWAYS_INLINE float logits(const int has_mask, size_t n, float scale,
                           const float *mrow, float *row) {
    const __m256 vs = _mm256_set1_ps(scale);
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    __m256 mx = ninf;
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 x = _mm256_mul_ps(_mm256_loadu_ps(row + j), vs);
        if (has_mask)
            x = _mm256_add_ps(x, _mm256_loadu_ps(mrow + j));
        _mm256_storeu_ps(row + j, x);
        mx = _mm256_max_ps(x, mx);
    }
    if (j < n) {
        __m256i k = lanes_below(n - j);
        __m256 x = _mm256_mul_ps(_mm256_maskload_ps(row + j, k), vs);
        if (has_mask)
            x = _mm256_add_ps(x, _mm256_maskload_ps(mrow + j, k));
        _mm256_maskstore_ps(row + j, k, x);
        mx = _mm256_max_ps(_mm256_blendv_ps(ninf, x, _mm256_castsi256_ps(k)), mx);
    }
    float r = hmax(mx);
    /* A zero max may be +0 or −0; the scalar loop keeps the first zero it
     * meets, which lane order cannot tell, so look it up (rare). */
    if (r == 0.0f)
        for (j = 0; j < n; j++)
            if (row[j] == 0.0f)
                return row[j];
    return r;
}

/* exp(x − shift) of c ≤ 8 elements at p, stored back; returns them with
 * unused lanes 0, ready to add into a partial sum. */
ALWAYS_INLINE __m256 exp_part(exp8_fn ex, size_t c, float *p, __m256 shift) {
    if (c >= 8) {
        __m256 e = ex(_mm256_sub_ps(_mm256_loadu_ps(p), shift));
        _mm256_storeu_ps(p, e);
        return e;
    }
    __m256i k = lanes_below(c);
    __m256 e = ex(_mm256_sub_ps(_mm256_maskload_ps(p, k), shift));
    _mm256_maskstore_ps(p, k, e);
    return _mm256_and_ps(e, _mm256_castsi256_ps(k));
}

/* Pass 2: row = exp(row − shift), returns the canonical sum. */
ALWAYS_INLINE float exp_sum(exp8_fn ex, size_t n, float shift, float *row) {
    const __m256 vsh = _mm256_set1_ps(shift);
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        s0 = _mm256_add_ps(s0, exp_part(ex, 8, row + j, vsh));
        s1 = _mm256_add_ps(s1, exp_part(ex, 8, row + j + 8, vsh));
    }
    if (j < n)
        s0 = _mm256_add_ps(s0, exp_part(ex, n - j, row + j, vsh));
    if (j + 8 < n)
        s1 = _mm256_add_ps(s1, exp_part(ex, n - j - 8, row + j + 8, vsh));
    return sum16(s0, s1);
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

ALWAYS_INLINE void plain(exp8_fn ex, const int has_mask, size_t m, size_t n,
                         float scale, const float *mask, size_t ldm, float *s,
                         size_t lds) {
    for (size_t i = 0; i < m; i++) {
        float *row = s + i * lds;
        float mx = logits(has_mask, n, scale, has_mask ? mask + i * ldm : NULL,
                          row);
        float sum = exp_sum(ex, n, mx == -INFINITY ? 0.0f : mx, row);
        scale_row(n, sum == 0.0f ? 0.0f : 1.0f / sum, row);
    }
}

ALWAYS_INLINE void online(exp8_fn ex, const int has_mask, size_t m, size_t n,
                          float scale, const float *mask, size_t ldm,
                          float *s, size_t lds, float *row_max,
                          float *row_sum, float *alpha) {
    for (size_t i0 = 0; i0 < m; i0 += 8) {
        size_t g = m - i0 < 8 ? m - i0 : 8;
        /* per row of the group: row_max − m̂ (α's argument) and Σ; unused
         * lanes stay 0 and are never stored */
        float delta[8] = {0}, sum[8] = {0};
        for (size_t r = 0; r < g; r++) {
            size_t i = i0 + r;
            float *row = s + i * lds;
            float mx = logits(has_mask, n, scale,
                              has_mask ? mask + i * ldm : NULL, row);
            if (row_max[i] > mx)
                mx = row_max[i];
            float shift = mx == -INFINITY ? 0.0f : mx;
            sum[r] = exp_sum(ex, n, shift, row);
            delta[r] = row_max[i] - shift;
            row_max[i] = mx;
        }
        __m256i k = lanes_below(g);
        __m256 a = ex(_mm256_loadu_ps(delta));
        /* row_sum = fmaf(α, row_sum, Σ): the same single rounding */
        __m256 l = _mm256_fmadd_ps(a, _mm256_maskload_ps(row_sum + i0, k),
                                   _mm256_loadu_ps(sum));
        _mm256_maskstore_ps(alpha + i0, k, a);
        _mm256_maskstore_ps(row_sum + i0, k, l);
    }
}

void sa_softmax_avx2(size_t m, size_t n, float scale, const float *mask,
                     size_t ldm, float *s, size_t lds, unsigned flags) {
    if (flags & SIMDATTN_DETERMINISTIC) {
        if (mask)
            plain(Sleef_finz_expf8_u10avx2, 1, m, n, scale, mask, ldm, s, lds);
        else
            plain(Sleef_finz_expf8_u10avx2, 0, m, n, scale, mask, ldm, s, lds);
    } else {
        if (mask)
            plain(Sleef_expf8_u10avx2, 1, m, n, scale, mask, ldm, s, lds);
        else
            plain(Sleef_expf8_u10avx2, 0, m, n, scale, mask, ldm, s, lds);
    }
}

void sa_softmax_online_avx2(size_t m, size_t n, float scale,
                            const float *mask, size_t ldm, float *s,
                            size_t lds, float *row_max, float *row_sum,
                            float *alpha, unsigned flags) {
    if (flags & SIMDATTN_DETERMINISTIC) {
        if (mask)
            online(Sleef_finz_expf8_u10avx2, 1, m, n, scale, mask, ldm, s,
                   lds, row_max, row_sum, alpha);
        else
            online(Sleef_finz_expf8_u10avx2, 0, m, n, scale, mask, ldm, s,
                   lds, row_max, row_sum, alpha);
    } else {
        if (mask)
            online(Sleef_expf8_u10avx2, 1, m, n, scale, mask, ldm, s, lds,
                   row_max, row_sum, alpha);
        else
            online(Sleef_expf8_u10avx2, 0, m, n, scale, mask, ldm, s, lds,
                   row_max, row_sum, alpha);
    }
}
