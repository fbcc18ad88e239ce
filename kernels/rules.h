/*
 * The softmax rules every kernel set follows, in one place: the scalar
 * reference (kernels/scalar/softmax.c) is written with them, and each SIMD
 * set calls them for its scalar steps (per-row decisions, element tails),
 * so no ISA can drift from the reference's bits by editing a copy.
 * Plain C, static inline, compiled with each set's own flags; the build's
 * -ffp-contract=off keeps every multiply and add rounded on its own.
 */
#ifndef SA_RULES_H
#define SA_RULES_H

#include <math.h>
#include <stddef.h>

#include "simdattn.h"

/* Which exp a softmax kernel runs (simdattn.h, "Numerical policy"): the
 * SIMD sets instantiate their bodies with it as a constant.  SLEEF is
 * called by name there, never through a function pointer (clang rejects
 * converting SLEEF 3.5.1's const-qualified return types).  The checked
 * entry points refuse both flags at once (sa_exp_flags_valid). */
enum { SA_EXP_U10, SA_EXP_FINZ, SA_EXP_POLY };
static inline int sa_exp_kind(unsigned flags) {
    return flags & SIMDATTN_FAST_EXP        ? SA_EXP_POLY
           : flags & SIMDATTN_DETERMINISTIC ? SA_EXP_FINZ
                                            : SA_EXP_U10;
}
/* Runs body(kind, …) with the kind the flags choose as a constant, so
 * each exp gets its own instantiation of a SIMD kernel's inlined body. */
#define SA_EXP_DISPATCH(flags, body, ...)                                      \
    do {                                                                       \
        switch (sa_exp_kind(flags)) {                                          \
        case SA_EXP_POLY: body(SA_EXP_POLY, __VA_ARGS__); break;               \
        case SA_EXP_FINZ: body(SA_EXP_FINZ, __VA_ARGS__); break;               \
        default: body(SA_EXP_U10, __VA_ARGS__); break;                         \
        }                                                                      \
    } while (0)

/* Logits s[j] = s[j]·scale (+ mrow[j]) for j0 ≤ j < n, in place (two
 * roundings, never fused); returns the running maximum mx folded with
 * them.  `x > mx` never takes a NaN, so NaN logits cannot become the
 * max (they poison the row through exp instead): vector max scans must
 * keep that rule (maxps(x, m) / FMAXNM do). */
static inline float sa_logits_from(size_t j0, size_t n, float scale,
                                   const float *mrow, float *s, float mx) {
    for (size_t j = j0; j < n; j++) {
        float x = s[j] * scale;
        if (mrow)
            x = x + mrow[j];
        s[j] = x;
        if (x > mx)
            mx = x;
    }
    return mx;
}

/* The online kernels' new row maximum: the larger of the running and the
 * block maximum, with a zero stored as +0 (−0 + 0 = +0), so the max scan's
 * choice among ±0 (scalar keeps the first, vector max instructions differ)
 * never shows in row_max. */
static inline float sa_online_max(float row_max, float block_max) {
    return (row_max > block_max ? row_max : block_max) + 0.0f;
}

/* What exp's argument is shifted by: the row maximum, or 0 when the row
 * is fully masked (max −inf), so masked keys give exp(−inf − 0) = 0 rather
 * than exp(−inf + inf) = NaN. */
static inline float sa_exp_shift(float mx) {
    return mx == -INFINITY ? 0.0f : mx;
}

/* Normaliser of the plain softmax: 1/Σ, or 0 for a fully masked row
 * (Σ = 0), whose probabilities are all 0. */
static inline float sa_inv_sum(float sum) {
    return sum == 0.0f ? 0.0f : 1.0f / sum;
}

/* s[j] = s[j]·inv for j0 ≤ j < n: the plain softmax's last pass. */
static inline void sa_scale_from(size_t j0, size_t n, float inv, float *s) {
    for (size_t j = j0; j < n; j++)
        s[j] = s[j] * inv;
}

/* Online running sum: α·row_sum + Σ rounded once. */
static inline float sa_online_sum(float alpha, float row_sum, float sum) {
    return fmaf(alpha, row_sum, sum);
}

/* The canonical 16-lane sum every ISA reproduces: element j goes to
 * partial sum j mod 16 (a zmm, two ymm or four q-registers), and the 16
 * partials are combined by halving (lanes 0–7 + 8–15, then 0–3 + 4–7,
 * 0–1 + 2–3, 0 + 1). */
static inline float sa_sum16(const float *p, size_t n) {
    float lane[16] = {0};
    for (size_t j = 0; j < n; j++)
        lane[j % 16] += p[j];
    for (size_t w = 8; w >= 1; w /= 2)
        for (size_t l = 0; l < w; l++)
            lane[l] += lane[l + w];
    return lane[0];
}

#endif
