/*
 * AVX-512 softmax, plain and online, in place on a tile of logits: the
 * arithmetic of kernels/scalar/softmax.c, 16 keys per zmm.
 *
 *   x_j = S_j·scale (+ mask_j)    a multiply then an add, never fused
 *   m   = max_j x_j               vmaxps(x, m) keeps m when x is NaN, as the
 *                                 scalar `if (x > m)` does
 *   p_j = exp(x_j − m̂)            m̂ = m, or 0 when m = −inf
 *   Σ   = element j into lane j mod 16 of one zmm, then lanes halved
 *         8/4/2/1 (sum16 in helpers.h): the scalar order exactly
 * Plain:  S_j = p_j · (Σ = 0 ? 0 : 1/Σ).
 * Online: α = exp(row_max − m̂), row_sum = fmaf(α, row_sum, Σ), computed for
 *         16 rows at a time once their rows are done.
 * The per-row steps (the shift, a zero or −inf max, Σ = 0) are the scalar
 * rules of kernels/rules.h.
 * Each row takes three passes over L1-resident data: logits and max, exps,
 * sum (see exp_row for why the sum has its own pass); two with the inlined
 * fast exp, which sums as it goes.
 * exp is SLEEF's Sleef_expf16_u10avx512f (≤ 1 ULP), or with
 * SIMDATTN_DETERMINISTIC Sleef_finz_expf16_u10avx512f, whose bits equal the
 * scalar kernel's Sleef_finz_expf1_u10purecfma: in that mode the results
 * are bit-identical to the scalar kernel (a zero row_max is stored as +0
 * by every ISA, whichever zero the max scan kept).  Debian's SLEEF 3.5.1
 * exports both names for one function, so there the default mode costs
 * the same and gives the same bits.  With SIMDATTN_FAST_EXP it is
 * exp16_poly (helpers.h), inlined, which returns the scalar kernel's bits
 * too.  Bound: see simdattn.h.
 *
 * Tails are masked: the max ignores lanes past n (−inf), the sum adds +0
 * for them, and masked loads and stores touch only S[i][0 … n−1]
 * and mask[i][0 … n−1] (AVX-512 masked loads do not fault on masked-off
 * lanes).  Reads and writes m×n of S, reads m×n of the mask (one row when
 * ldm = 0), and m floats of each row vector.
 */
#include <math.h>

#include <sleef.h>

#include "helpers.h"
#include "internal.h"
#include "rules.h"

SA_INLINE __m512 exp16(const int kind, __m512 x) {
    return kind == SA_EXP_POLY   ? exp16_poly(x)
           : kind == SA_EXP_FINZ ? Sleef_finz_expf16_u10avx512f(x)
                                 : Sleef_expf16_u10avx512f(x);
}

/* x = s·scale (+ mask) written back into s; returns max_j x_j. */
static float logits(size_t n, float scale, const float *mrow, float *s) {
    const __m512 vscale = _mm512_set1_ps(scale);
    __m512 mx = _mm512_set1_ps(-INFINITY);
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 x = _mm512_mul_ps(_mm512_loadu_ps(s + j), vscale);
        if (mrow)
            x = _mm512_add_ps(x, _mm512_loadu_ps(mrow + j));
        _mm512_storeu_ps(s + j, x);
        mx = _mm512_max_ps(x, mx);
    }
    if (j < n) {
        __mmask16 t = lanes(n - j);
        __m512 x = _mm512_mul_ps(_mm512_maskz_loadu_ps(t, s + j), vscale);
        if (mrow)
            x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(t, mrow + j));
        _mm512_mask_storeu_ps(s + j, t, x);
        mx = _mm512_mask_max_ps(mx, t, x, mx);
    }
    return _mm512_reduce_max_ps(mx);
}

/* s_j = exp(s_j − shift).  With SLEEF no sum is carried from one exp
 * call to the next: every zmm is call-clobbered, so a running sum here is
 * spilled and reloaded around each SLEEF call, a store-load chain per
 * vector (the sum in its own pass, sum_row, made the online kernel 14%
 * faster).  The inlined SA_EXP_POLY leaves registers alone: it adds each
 * vector into the canonical accumulator as it goes (sum_row's order and
 * bits: masked-off lanes keep the lane's partial sum, as adding +0 does)
 * and returns the sum; the other kinds return 0. */
SA_INLINE float exp_row(const int kind, size_t n, float shift, float *s) {
    const __m512 vshift = _mm512_set1_ps(shift);
    __m512 acc = _mm512_setzero_ps();
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 e = exp16(kind, _mm512_sub_ps(_mm512_loadu_ps(s + j), vshift));
        _mm512_storeu_ps(s + j, e);
        if (kind == SA_EXP_POLY)
            acc = _mm512_add_ps(acc, e);
    }
    if (j < n) {
        __mmask16 t = lanes(n - j);
        __m512 x = _mm512_maskz_loadu_ps(t, s + j);
        __m512 e = exp16(kind, _mm512_sub_ps(x, vshift));
        _mm512_mask_storeu_ps(s + j, t, e);
        if (kind == SA_EXP_POLY)
            acc = _mm512_mask_add_ps(acc, t, acc, e);
    }
    return kind == SA_EXP_POLY ? sum16(acc) : 0.0f;
}

/* Canonical 16-lane sum of s_0 … s_(n−1): lanes past n add +0, which
 * leaves every partial sum (a sum of exps, never −0) unchanged. */
static float sum_row(size_t n, const float *s) {
    __m512 acc = _mm512_setzero_ps();
    size_t j = 0;
    for (; j + 16 <= n; j += 16)
        acc = _mm512_add_ps(acc, _mm512_loadu_ps(s + j));
    if (j < n)
        acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(lanes(n - j), s + j));
    return sum16(acc);
}

SA_INLINE void plain(const int kind, size_t m, size_t n, float scale,
                     const float *mask, size_t ldm, float *s, size_t lds) {
    for (size_t i = 0; i < m; i++) {
        float *row = s + i * lds;
        float mx = logits(n, scale, mask ? mask + i * ldm : NULL, row);
        float sum = exp_row(kind, n, sa_exp_shift(mx), row);
        if (kind != SA_EXP_POLY)
            sum = sum_row(n, row);
        const __m512 inv = _mm512_set1_ps(sa_inv_sum(sum));
        size_t j = 0;
        for (; j + 16 <= n; j += 16)
            _mm512_storeu_ps(row + j, _mm512_mul_ps(_mm512_loadu_ps(row + j), inv));
        if (j < n) {
            __mmask16 t = lanes(n - j);
            _mm512_mask_storeu_ps(row + j, t,
                                  _mm512_mul_ps(_mm512_maskz_loadu_ps(t, row + j), inv));
        }
    }
}

SA_INLINE void online(const int kind, size_t m, size_t n, float scale,
                      const float *mask, size_t ldm, float *s, size_t lds,
                      float *row_max, float *row_sum, float *alpha) {
    /* Rows in groups of 16, one pass at a time (maxima, exps, sums), so the
     * out-of-order core overlaps one row's reduction latency with the
     * next row's work; then α and the running state of the whole group
     * with one vector exp. */
    for (size_t i0 = 0; i0 < m; i0 += 16) {
        size_t g = m - i0 < 16 ? m - i0 : 16;
        float shift[16] = {0}, sum[16] = {0}, newmax[16] = {0};
        for (size_t r = 0; r < g; r++) {
            size_t i = i0 + r;
            float *row = s + i * lds;
            newmax[r] = sa_online_max(
                row_max[i], logits(n, scale, mask ? mask + i * ldm : NULL, row));
            shift[r] = sa_exp_shift(newmax[r]);
        }
        for (size_t r = 0; r < g; r++)
            sum[r] = exp_row(kind, n, shift[r], s + (i0 + r) * lds);
        for (size_t r = 0; r < g && kind != SA_EXP_POLY; r++)
            sum[r] = sum_row(n, s + (i0 + r) * lds);
        __mmask16 t = lanes(g);
        __m512 a = exp16(kind, _mm512_sub_ps(_mm512_maskz_loadu_ps(t, row_max + i0),
                                             _mm512_loadu_ps(shift)));
        __m512 l = _mm512_fmadd_ps(a, _mm512_maskz_loadu_ps(t, row_sum + i0),
                                   _mm512_loadu_ps(sum));
        _mm512_mask_storeu_ps(alpha + i0, t, a);
        _mm512_mask_storeu_ps(row_sum + i0, t, l);
        _mm512_mask_storeu_ps(row_max + i0, t, _mm512_loadu_ps(newmax));
    }
}

void sa_softmax_avx512(size_t m, size_t n, float scale, const float *mask,
                       size_t ldm, float *s, size_t lds, unsigned flags) {
    SA_EXP_DISPATCH(flags, plain, m, n, scale, mask, ldm, s, lds);
}

void sa_softmax_online_avx512(size_t m, size_t n, float scale,
                              const float *mask, size_t ldm, float *s,
                              size_t lds, float *row_max, float *row_sum,
                              float *alpha, unsigned flags) {
    SA_EXP_DISPATCH(flags, online, m, n, scale, mask, ldm, s, lds, row_max,
                    row_sum, alpha);
}
