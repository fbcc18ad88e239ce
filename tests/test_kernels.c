/*
 * Stage kernels (Q·Kᵀ, softmax plain and online, P·V) on every ISA this host
 * runs, through the checked API, against the double oracle with the bounds
 * stated in simdattn.h (bitwise agreement with the scalar kernels is
 * tests/test_determinism.c's).
 * Shapes: 1, primes, and one short / exact / one past every register block
 * (rows 6 and 14, panels 16 and 32, vectors 4, 8 and 16, P·V column
 * blocks of 64, softmax row groups of 16).  Every output
 * sits in a canary-guarded, misaligned buffer with ld > row length.  The
 * softmax tests run in every exp mode (util.h: exp_modes), with the bound
 * of that mode's exp.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "oracle.h"
#include "util.h"

static const size_t QK_M[] = {1, 2, 5, 6, 7, 13, 14, 15, 28, 29};
static const size_t QK_N[] = {1, 3, 8, 9, 15, 16, 17, 24, 25, 31, 32, 33, 100};
static const size_t QK_D[] = {1, 7, 8, 9, 31, 64, 80, 128, 256};

/* Q·Kᵀ: |S − S*| ≤ γ_d Σ|q·k| (sequential FMA chain of d roundings) plus
 * subnormal slack; SIMD vs scalar within twice that (both obey it). */
START_TEST(qk_matches_oracle) {
    rng r = rng_seed(11);
    for (size_t a = 0; a < N_OF(QK_M); a++)
        for (size_t b = 0; b < N_OF(QK_N); b++)
            for (size_t c = 0; c < N_OF(QK_D); c++) {
                size_t m = QK_M[a], n = QK_N[b], d = QK_D[c];
                size_t pad = (a + b + c) % 2 ? 3 : 0;
                gmat q = gmat_new(m, d, d + pad), k = gmat_new(n, d, d + 2 * pad);
                gmat s = gmat_new(m, n, n + 5), ref = gmat_new(m, n, n);
                for (size_t i = 0; i < m; i++)
                    fill_uniform(&r, q.p + i * q.ld, d, -2, 2);
                for (size_t j = 0; j < n; j++)
                    fill_uniform(&r, k.p + j * k.ld, d, -2, 2);
                ck_assert_int_eq(simdattn_qk(ISA, m, n, d, q.p, q.ld, k.p, k.ld,
                                             s.p, s.ld), SIMDATTN_OK);
                ck_assert_int_eq(simdattn_qk(SIMDATTN_ISA_SCALAR, m, n, d, q.p,
                                             q.ld, k.p, k.ld, ref.p, ref.ld),
                                 SIMDATTN_OK);
                ck_assert_msg(gmat_intact(&s), "%s qk %zux%zux%zu wrote outside S",
                              simdattn_isa_name(ISA), m, n, d);
                for (size_t i = 0; i < m; i++)
                    for (size_t j = 0; j < n; j++) {
                        double as;
                        double want = oracle_dot(q.p + i * q.ld, k.p + j * k.ld, d, &as);
                        double tol = gamma_n((double)d) * as + subnormal_slack((double)d);
                        float got = s.p[i * s.ld + j];
                        ck_assert_msg(fabs(got - want) <= tol,
                                      "%s qk m=%zu n=%zu d=%zu S[%zu][%zu]=%.9g want %.9g tol %.3g",
                                      simdattn_isa_name(ISA), m, n, d, i, j, got, want, tol);
                        ck_assert_msg(fabs(got - ref.p[i * ref.ld + j]) <= 2 * tol,
                                      "%s qk differs from scalar at [%zu][%zu]",
                                      simdattn_isa_name(ISA), i, j);
                    }
                gmat_free(&q); gmat_free(&k); gmat_free(&s); gmat_free(&ref);
            }
}
END_TEST

/* Softmax bounds: oracle_softmax_row / oracle_softmax_bound (oracle.c). */
static const size_t SM_N[] = {1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 257, 1000};

/* Logits spread over [-8, 8] after scaling, keys masked with probability
 * 1/5, one row fully masked, masks per row and broadcast (ldm = 0); each
 * exp mode with its exp bound. */
START_TEST(softmax_matches_oracle) {
    rng r = rng_seed(22);
    const size_t m = 5;
    for (size_t a = 0; a < N_OF(SM_N); a++)
        for (int mode = 0; mode < 3; mode++) { /* no mask, per row, broadcast */
            size_t n = SM_N[a];
            float scale = mode == 1 ? 0.125f : 0.7f;
            gmat s = gmat_new(m, n, n + 5);
            gmat mk = gmat_new(m, n, n + 1);
            float *in = malloc(m * n * sizeof(float));
            double *p = malloc(n * sizeof(double)), *eta = malloc(n * sizeof(double));
            for (size_t i = 0; i < m; i++) {
                fill_uniform(&r, in + i * n, n, -8 / scale, 8 / scale);
                memcpy(s.p + i * s.ld, in + i * n, n * sizeof(float));
                for (size_t j = 0; j < n; j++)
                    mk.p[i * mk.ld + j] = (i == 3 && mode == 1) || rng_uniform(&r) < 0.2
                                              ? -INFINITY : rng_range(&r, -1, 1);
            }
            const float *mask = mode ? mk.p : NULL;
            size_t ldm = mode == 2 ? 0 : mk.ld;
            ck_assert_int_eq(simdattn_softmax(ISA, m, n, scale, mask, ldm, s.p, s.ld,
                                              MODE->flags), SIMDATTN_OK);
            ck_assert_msg(gmat_intact(&s), "%s %s softmax n=%zu wrote outside",
                          simdattn_isa_name(ISA), MODE->name, n);
            for (size_t i = 0; i < m; i++) {
                const float *mrow = mask ? mask + i * ldm : NULL;
                double eta_max = oracle_softmax_row(n, scale, in + i * n, mrow, MODE->ulp, p,
                                                    eta);
                for (size_t j = 0; j < n; j++) {
                    float got = s.p[i * s.ld + j];
                    double tol = oracle_softmax_bound(p[j], eta[j], eta_max, n, 0, 0,
                                                      MODE->ulp);
                    ck_assert_msg(fabs(got - p[j]) <= tol,
                                  "%s %s softmax n=%zu mode=%d p[%zu][%zu]=%.9g want %.9g "
                                  "tol %.3g", simdattn_isa_name(ISA), MODE->name, n, mode, i,
                                  j, got, p[j], tol);
                }
            }
            free(in); free(p); free(eta);
            gmat_free(&s);
            gmat_free(&mk);
        }
}
END_TEST

/* The online form fed block by block must give the plain softmax: each
 * probability is rebuilt as S_j · Π(later α) / row_sum.  Bound: the plain
 * one plus, per block, 2u·k + 2u (α's exp, k its ULPs; its argument, α·sum)
 * and u·R for the α arguments (Σ|Δm| ≤ R, the logit range).  row_max must equal the max of
 * the fp32 logits exactly. */
START_TEST(softmax_online_matches_plain) {
    rng r = rng_seed(33);
    static const size_t BLK[] = {1, 7, 16, 33, 128};
    const size_t n = 300, m = 3;
    const float scale = 0.3f;
    float *in = malloc(m * n * sizeof(float));
    double *p = malloc(n * sizeof(double)), *eta = malloc(n * sizeof(double));
    for (size_t a = 0; a < N_OF(BLK); a++) {
        size_t blk = BLK[a], nblocks = (n + blk - 1) / blk;
        /* rising logits force a rescale at almost every block */
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++)
                in[i * n + j] = (rng_range(&r, -6, 6) + (i == 1 ? 0.05f * j : 0)) / scale;
        float *s = malloc(m * n * sizeof(float));
        memcpy(s, in, m * n * sizeof(float));
        float mx[3], sum[3], alpha[3];
        double *later = malloc(m * n * sizeof(double)); /* Π of later α */
        for (size_t i = 0; i < m; i++) { mx[i] = -INFINITY; sum[i] = 0; }
        for (size_t j0 = 0; j0 < n; j0 += blk) {
            size_t nb = n - j0 < blk ? n - j0 : blk;
            ck_assert_int_eq(simdattn_softmax_online(ISA, m, nb, scale, NULL, 0, s + j0, n,
                                                     mx, sum, alpha, MODE->flags),
                             SIMDATTN_OK);
            for (size_t i = 0; i < m; i++) {
                for (size_t j = 0; j < j0; j++)
                    later[i * n + j] *= alpha[i];
                for (size_t j = j0; j < j0 + nb; j++)
                    later[i * n + j] = 1.0;
            }
        }
        for (size_t i = 0; i < m; i++) {
            double eta_max = oracle_softmax_row(n, scale, in + i * n, NULL, MODE->ulp, p, eta);
            float want_max = -INFINITY;
            double lo = INFINITY, hi = -INFINITY;
            for (size_t j = 0; j < n; j++) {
                float x = in[i * n + j] * scale;
                if (x > want_max) want_max = x;
                if (x < lo) lo = x;
                if (x > hi) hi = x;
            }
            ck_assert_msg(mx[i] == want_max, "%s online row_max %.9g != %.9g",
                          simdattn_isa_name(ISA), mx[i], want_max);
            for (size_t j = 0; j < n; j++) {
                double got = s[i * n + j] * later[i * n + j] / sum[i];
                double tol = oracle_softmax_bound(p[j], eta[j], eta_max, n, nblocks, hi - lo,
                                                  MODE->ulp);
                ck_assert_msg(fabs(got - p[j]) <= tol,
                              "%s %s online blk=%zu p[%zu][%zu]=%.9g want %.9g tol %.3g",
                              simdattn_isa_name(ISA), MODE->name, blk, i, j, got, p[j], tol);
            }
        }
        free(s);
        free(later);
    }
    free(in); free(p); free(eta);
}
END_TEST

/* Special values, bit-exact, in every exp mode: a fully masked row is
 * exactly 0 (plain) and keeps the online state at (-inf, 0) with zero
 * probabilities; its neighbours are unaffected (lane interference); a NaN
 * or +inf logit turns its whole row NaN; logits near the fp32 limit stay
 * finite. */
START_TEST(softmax_special_values) {
    const size_t n = 37, m = 3;
    float s[3 * 37], mask[3 * 37];
    for (size_t j = 0; j < m * n; j++) {
        s[j] = (float)(j % 11) - 5.0f;
        mask[j] = j / n == 1 ? -INFINITY : 0.0f; /* middle row fully masked */
    }
    float ref[3 * 37];
    memcpy(ref, s, sizeof s);
    ck_assert_int_eq(simdattn_softmax(ISA, m, n, 1.0f, mask, n, s, n, MODE->flags),
                     SIMDATTN_OK);
    ck_assert_int_eq(simdattn_softmax(SIMDATTN_ISA_SCALAR, m, n, 1.0f, NULL, 0, ref, n,
                                      MODE->flags), SIMDATTN_OK);
    for (size_t j = 0; j < n; j++) {
        ck_assert_msg(s[n + j] == 0.0f && !signbit(s[n + j]), "masked row not +0");
        ck_assert(isfinite(s[j]) && s[j] > 0);
        ck_assert(fabsf(s[j] - ref[j]) <= ref[j] * 1e-6f);
    }

    float mx[3] = {-INFINITY, -INFINITY, -INFINITY}, sum[3] = {0, 0, 0}, al[3];
    for (size_t j = 0; j < m * n; j++) s[j] = 1.0f;
    ck_assert_int_eq(simdattn_softmax_online(ISA, m, n, 1.0f, mask, n, s, n, mx, sum, al,
                                             MODE->flags), SIMDATTN_OK);
    ck_assert(mx[1] == -INFINITY && sum[1] == 0.0f && al[1] == 0.0f);
    for (size_t j = 0; j < n; j++)
        ck_assert(s[n + j] == 0.0f);
    ck_assert(mx[0] == 1.0f && sum[0] == (float)n && al[0] == 0.0f);

    for (int kind = 0; kind < 2; kind++) { /* NaN, +inf */
        for (size_t j = 0; j < m * n; j++) s[j] = (float)(j % 5);
        s[n + 17] = kind ? INFINITY : NAN;
        ck_assert_int_eq(simdattn_softmax(ISA, m, n, 1.0f, NULL, 0, s, n, MODE->flags),
                         SIMDATTN_OK);
        for (size_t j = 0; j < n; j++) {
            ck_assert_msg(isnan(s[n + j]), "%s %s: %s logit did not poison its row at %zu",
                          simdattn_isa_name(ISA), MODE->name, kind ? "inf" : "NaN", j);
            ck_assert(!isnan(s[j]) && !isnan(s[2 * n + j]));
        }
    }

    for (size_t j = 0; j < m * n; j++) s[j] = (j % 2 ? 3.0e38f : -3.0e38f) * (j % 7 ? 0.5f : 1.0f);
    ck_assert_int_eq(simdattn_softmax(ISA, m, n, 1.0f, NULL, 0, s, n, MODE->flags),
                     SIMDATTN_OK);
    for (size_t i = 0; i < m; i++) {
        double tot = 0;
        for (size_t j = 0; j < n; j++) {
            ck_assert(isfinite(s[i * n + j]));
            tot += s[i * n + j];
        }
        /* every e_j here is exactly 0 or 1, so Σp = 1 up to the row sum
         * (γ_n) and the normalising multiply and reciprocal (2u) */
        ck_assert_msg(fabs(tot - 1.0) <= gamma_n(n) + 2 * U_F32, "huge logits sum %.9g", tot);
    }
}
END_TEST

static int bits_eq(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

/* Special values in the mask and in S, plain softmax, bit-exact, in every
 * exp mode: +inf or NaN in the mask turns its row NaN (and only that row);
 * a -inf logit in S is a removed key, exactly like a -inf mask value. */
START_TEST(softmax_mask_special_values) {
    enum { M = 4, N = 37 };
    float in[M * N], s[M * N], ref[M * N], mask[M * N];
    rng r = rng_seed(55);
    fill_uniform(&r, in, M * N, -3, 3);
    for (size_t j = 0; j < M * N; j++) mask[j] = 0.0f;
    mask[0 * N + 30] = INFINITY;
    mask[2 * N + 4] = NAN;
    mask[3 * N + 17] = -INFINITY; /* reference for row 1's -inf logit */
    memcpy(s, in, sizeof s);
    s[1 * N + 17] = -INFINITY;
    ck_assert_int_eq(simdattn_softmax(ISA, M, N, 0.5f, mask, N, s, N, MODE->flags), SIMDATTN_OK);
    memcpy(ref, in, sizeof ref);
    float ref_mask[N];
    for (size_t j = 0; j < N; j++) ref_mask[j] = j == 17 ? -INFINITY : 0.0f;
    ck_assert_int_eq(simdattn_softmax(ISA, 1, N, 0.5f, ref_mask, 0, ref + 1 * N, N, MODE->flags),
                     SIMDATTN_OK);
    for (size_t j = 0; j < N; j++) {
        ck_assert_msg(isnan(s[j]) && isnan(s[2 * N + j]), "%s: +inf/NaN mask lost at %zu",
                      simdattn_isa_name(ISA), j);
        ck_assert_msg(bits_eq(s[N + j], ref[N + j]), "%s: -inf logit is not a removed key at %zu",
                      simdattn_isa_name(ISA), j);
        ck_assert(isfinite(s[3 * N + j]));
    }
    ck_assert(s[N + 17] == 0.0f && s[3 * N + 17] == 0.0f);
}
END_TEST

/* The online state under special values, in every exp mode, over three
 * blocks of 37 keys (scale 1, bit-exact):
 *   row 0  maxima 1e30 apart, rising per block: every exp is exactly 0 or
 *          1, so α = 0 at each new max, the final S has a single 1, and
 *          row_sum is exactly 1 (no Inf/NaN from the huge logits);
 *   row 1  a NaN in block 0: row_sum is NaN from then on;
 *   row 2  +inf in the mask of block 1: row_sum NaN from then on;
 *   row 3  fully masked in blocks 0 and 2: (-inf, 0) after block 0, α = 0
 *          exactly when block 1 brings live keys, α = 1 and an unchanged
 *          row_sum after block 2. */
START_TEST(softmax_online_special_values) {
    enum { M = 4, N = 37, BLOCKS = 3 };
    float s[M * N], mask[M * N], mx[M], sum[M], al[M], sum_after1 = 0;
    rng r = rng_seed(66);
    for (size_t i = 0; i < M; i++) { mx[i] = -INFINITY; sum[i] = 0.0f; }
    for (int b = 0; b < BLOCKS; b++) {
        fill_uniform(&r, s, M * N, -2, 2);
        for (size_t j = 0; j < M * N; j++) mask[j] = 0.0f;
        for (size_t j = 0; j < N; j++) s[j] = j == 5 ? (float)(b + 1) * 1e30f : -1e30f;
        if (b == 0) s[N + 9] = NAN;
        if (b == 1) mask[2 * N + 36] = INFINITY;
        if (b != 1)
            for (size_t j = 0; j < N; j++) mask[3 * N + j] = -INFINITY;
        ck_assert_int_eq(simdattn_softmax_online(ISA, M, N, 1.0f, mask, N, s, N, mx, sum, al,
                                                 MODE->flags),
                         SIMDATTN_OK);
        const char *isa = simdattn_isa_name(ISA);
        ck_assert_msg(al[0] == 0.0f && sum[0] == 1.0f && mx[0] == (float)(b + 1) * 1e30f,
                      "%s block %d: huge logits α=%g sum=%g", isa, b, al[0], sum[0]);
        for (size_t j = 0; j < N; j++)
            ck_assert_msg(bits_eq(s[j], j == 5 ? 1.0f : 0.0f), "%s block %d: S[0][%zu]=%g",
                          isa, b, j, s[j]);
        ck_assert_msg(isnan(sum[1]), "%s block %d: NaN logit left row_sum %g", isa, b, sum[1]);
        ck_assert_msg(b == 0 || isnan(sum[2]), "%s block %d: +inf mask left row_sum %g", isa, b,
                      sum[2]);
        if (b == 0)
            ck_assert(mx[3] == -INFINITY && bits_eq(sum[3], 0.0f) && bits_eq(al[3], 0.0f));
        if (b == 1) {
            ck_assert_msg(bits_eq(al[3], 0.0f) && isfinite(sum[3]) && sum[3] >= 1.0f,
                          "%s: first live block α=%g sum=%g", isa, al[3], sum[3]);
            sum_after1 = sum[3];
        }
        if (b == 2) {
            ck_assert_msg(al[3] == 1.0f && bits_eq(sum[3], sum_after1),
                          "%s: fully masked later block α=%g sum=%g", isa, al[3], sum[3]);
            for (size_t j = 0; j < N; j++)
                ck_assert(bits_eq(s[3 * N + j], 0.0f));
        }
    }
}
END_TEST

/* exp itself at its edges, in every exp mode, through softmax_online with
 * row_max preset to 0 ≥ every x (the kernel's shift is then 0, and it stores
 * S_j = exp(x_j)), each value at every lane position of a 16-wide vector
 * and in the masked tails: within the mode's ULP bound of exp in double
 * (ULP of the unrounded result, 2^-149 below FLT_MIN), which forces +0
 * wherever exp(x) < 2^-150; exactly 1 at ±0, +0 at −inf, NaN at NaN.
 * The finite values: both ends of the reduction interval, the edges of the
 * subnormal range and of the underflow to 0 (−150·ln2 = −103.972…), the
 * fast exp's clamp (−104) and far below it. */
START_TEST(exp_special_values) {
    static const float X[] = {-0.0f, 0.0f, -0x1p-149f, -0x1p-25f, -0x1p-24f,
                              -0x1.62e42ep-2f, -0x1.62e432p-2f, -1.0f, -0x1.5d589ep+6f,
                              -0x1.5d58ap+6f, -0x1.5e0000p+6f, -103.9f, -0x1.9fe368p+6f,
                              -0x1.9fe36ap+6f, -104.0f, -0x1.a00002p+6f, -150.0f, -1e30f,
                              -FLT_MAX, -INFINITY, NAN};
    enum { NX = sizeof X / sizeof X[0], LEAD = 16 };
    float row[LEAD + NX], st[3];
    for (size_t lead = 0; lead < LEAD; lead++) {
        for (size_t len = 1; len <= NX; len++) { /* rows ending at every tail width */
            size_t n = lead + len;
            for (size_t j = 0; j < lead; j++)
                row[j] = -0.5f;
            memcpy(row + lead, X, len * sizeof(float));
            st[0] = 0.0f; /* row_max: the shift is 0 */
            st[1] = 0.0f;
            ck_assert_int_eq(simdattn_softmax_online(ISA, 1, n, 1.0f, NULL, 0, row, n, &st[0],
                                                     &st[1], &st[2], MODE->flags), SIMDATTN_OK);
            for (size_t j = 0; j < n; j++) {
                float x = j < lead ? -0.5f : X[j - lead], got = row[j];
                double want = exp((double)x);
                if (isnan(x)) {
                    ck_assert_msg(isnan(got), "%s %s exp(NaN) = %a", simdattn_isa_name(ISA),
                                  MODE->name, got);
                    continue;
                }
                ck_assert_msg(fabs(got - want) <= MODE->ulp * ulp_f32(want) &&
                                  !signbit(got) && (x != 0 || got == 1.0f),
                              "%s %s exp(%a) = %a, want %a (±%g ULP), lane %zu of %zu",
                              simdattn_isa_name(ISA), MODE->name, x, got, want, MODE->ulp, j,
                              n);
            }
        }
    }
}
END_TEST

static const size_t PV_M[] = {1, 2, 3, 4, 5, 6, 7, 12, 13, 15};
static const size_t PV_N[] = {1, 2, 7, 16, 17, 33, 129};
static const size_t PV_D[] = {1, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 48, 64, 65, 80, 128, 256};

/* P·V: |O − O*| ≤ γ_(n+1) (|α·O_in| + Σ_j |p_j v_j|) — the α multiply and
 * n FMAs on one chain — plus subnormal slack. */
START_TEST(pv_matches_oracle) {
    rng r = rng_seed(44);
    for (size_t a = 0; a < N_OF(PV_M); a++)
        for (size_t b = 0; b < N_OF(PV_N); b++)
            for (size_t c = 0; c < N_OF(PV_D); c++) {
                size_t m = PV_M[a], n = PV_N[b], dv = PV_D[c];
                int with_alpha = (a + b + c) % 2;
                gmat p = gmat_new(m, n, n + 1), v = gmat_new(n, dv, dv + 3);
                gmat o = gmat_new(m, dv, dv + 2), o0 = gmat_new(m, dv, dv + 2);
                float alpha[15];
                for (size_t i = 0; i < m; i++) {
                    fill_uniform(&r, p.p + i * p.ld, n, 0, 1);
                    fill_uniform(&r, o.p + i * o.ld, dv, -3, 3);
                    memcpy(o0.p + i * o0.ld, o.p + i * o.ld, dv * sizeof(float));
                    alpha[i] = rng_range(&r, 0, 1);
                }
                for (size_t j = 0; j < n; j++)
                    fill_uniform(&r, v.p + j * v.ld, dv, -2, 2);
                const float *al = with_alpha ? alpha : NULL;
                ck_assert_int_eq(simdattn_pv(ISA, m, n, dv, p.p, p.ld, v.p, v.ld, al, o.p, o.ld),
                                 SIMDATTN_OK);
                ck_assert_msg(gmat_intact(&o), "%s pv %zux%zux%zu wrote outside O",
                              simdattn_isa_name(ISA), m, n, dv);
                for (size_t i = 0; i < m; i++)
                    for (size_t cc = 0; cc < dv; cc++) {
                        double a0 = (al ? al[i] : 1.0) * o0.p[i * o0.ld + cc];
                        double want = a0, mag = fabs(a0);
                        for (size_t j = 0; j < n; j++) {
                            double t = (double)p.p[i * p.ld + j] * v.p[j * v.ld + cc];
                            want += t;
                            mag += fabs(t);
                        }
                        double tol = gamma_n((double)n + 1) * mag + subnormal_slack(n + 1.0);
                        float got = o.p[i * o.ld + cc];
                        ck_assert_msg(fabs(got - want) <= tol,
                                      "%s pv m=%zu n=%zu dv=%zu O[%zu][%zu]=%.9g want %.9g tol %.3g",
                                      simdattn_isa_name(ISA), m, n, dv, i, cc, got, want, tol);
                    }
                gmat_free(&p); gmat_free(&v); gmat_free(&o); gmat_free(&o0);
            }
}
END_TEST

/* Bit-identity with the scalar kernels, as simdattn.h promises: Q·Kᵀ and
 * P·V follow one sequential FMA chain per element in every ISA, and with
 * SIMDATTN_DETERMINISTIC (SLEEF finz exp) or SIMDATTN_FAST_EXP (the same
 * polynomial operations in every ISA) the softmax kernels, with their
 * canonical 16-lane sum, return the scalar kernel's bits too.  No
 * tolerance: any reordered sum, fused scale+mask or different exp shows up
 * as a bit. */
static int same_bits(const float *a, const float *b, size_t rows, size_t cols, size_t ld) {
    for (size_t i = 0; i < rows; i++)
        if (memcmp(a + i * ld, b + i * ld, cols * sizeof(float)) != 0)
            return 0;
    return 1;
}

/* The decode path's kernels (qk_kv, pv_kv), every KV type, through the
 * kernel table: K and V rounded to fp16/bf16 and widened for the oracle
 * (exact, so fp32's bounds hold unchanged): qk_kv within γ_d·Σ|q·k| (its
 * 16 chains and 4 tree additions never round more than d times), pv_kv
 * within γ_(n+1)·(|α·O| + Σ|p·v|); both bit-identical to the scalar
 * table (one canonical order on every ISA); outputs canary-guarded.
 * Shapes: rows 1 … 5 and 8 (tiles of 1, 2 and 4 rows), keys 1 … 17 (tiles
 * of 2, 4, 8, 16) and 40, 70 (past the 8- and 16-key sub-blocks of the AVX2
 * and AVX-512 kernels, whose α·O applies in the first only), d and d_v
 * with every tail of 4, 8 and 16 lanes, past 128 (Q held 128 columns at
 * a time, AVX-512 P·V tiles of 128 columns) and past 256 (AVX2 P·V's
 * segments of 256 columns). */
static const size_t DK_M[] = {1, 2, 3, 4, 5, 6, 7, 8};
static const size_t DK_N[] = {1, 3, 4, 5, 9, 17, 40, 70};
static const size_t DK_D[] = {1, 5, 16, 17, 33, 70, 128, 200, 300};

START_TEST(decode_kernels) {
    rng r = rng_seed(55);
    const simdattn_kernels *t = simdattn_kernels_get(ISA);
    const simdattn_kernels *ts = simdattn_kernels_get(SIMDATTN_ISA_SCALAR);
    for (int dt = 0; dt < SIMDATTN_DTYPE_COUNT; dt++)
        for (size_t a = 0; a < N_OF(DK_M); a++)
            for (size_t b = 0; b < N_OF(DK_N); b++)
                for (size_t c = 0; c < N_OF(DK_D); c++) {
                    size_t m = DK_M[a], n = DK_N[b], d = DK_D[c], ld = d + 3;
                    gmat q = gmat_new(m, d, d + 1), kf = gmat_new(n, d, ld);
                    gmat s = gmat_new(m, n, n + 5), ref = gmat_new(m, n, n + 5);
                    gmat p = gmat_new(m, n, n + 1);
                    gmat o = gmat_new(m, d, d + 2), o0 = gmat_new(m, d, d + 2);
                    uint16_t *kh = malloc(n * ld * sizeof(uint16_t));
                    float alpha[8];
                    for (size_t i = 0; i < m; i++) {
                        fill_uniform(&r, q.p + i * q.ld, d, -2, 2);
                        fill_uniform(&r, p.p + i * p.ld, n, 0, 1);
                        fill_uniform(&r, o.p + i * o.ld, d, -3, 3);
                        memcpy(o0.p + i * o0.ld, o.p + i * o.ld, d * sizeof(float));
                        alpha[i] = rng_range(&r, 0, 1);
                    }
                    for (size_t j = 0; j < n; j++)
                        for (size_t e = 0; e < d; e++) {
                            float x = rng_range(&r, -2, 2);
                            uint16_t h = dt == SIMDATTN_F16 ? f32_to_f16(x) : f32_to_bf16(x);
                            kh[j * ld + e] = h;
                            kf.p[j * ld + e] = dt == SIMDATTN_F32 ? x
                                               : dt == SIMDATTN_F16 ? sa_f16_to_f32(h)
                                                                    : sa_bf16_to_f32(h);
                        }
                    const void *kv = dt == SIMDATTN_F32 ? (const void *)kf.p : kh;
                    const float *al = (a + b + c) % 2 ? alpha : NULL;
                    t->qk_kv(m, n, d, q.p, q.ld, kv, ld, dt, s.p, s.ld);
                    ts->qk_kv(m, n, d, q.p, q.ld, kv, ld, dt, ref.p, ref.ld);
                    ck_assert_msg(gmat_intact(&s), "%s qk_kv wrote outside S", simdattn_isa_name(ISA));
                    ck_assert_msg(same_bits(s.p, ref.p, m, n, s.ld),
                                  "%s qk_kv dt=%d %zux%zux%zu differs from scalar",
                                  simdattn_isa_name(ISA), dt, m, n, d);
                    for (size_t i = 0; i < m; i++)
                        for (size_t j = 0; j < n; j++) {
                            double as, want = oracle_dot(q.p + i * q.ld, kf.p + j * ld, d, &as);
                            double tol = gamma_n((double)d) * as + subnormal_slack((double)d);
                            ck_assert_msg(fabs(s.p[i * s.ld + j] - want) <= tol,
                                          "%s qk_kv dt=%d m=%zu n=%zu d=%zu S[%zu][%zu]=%.9g want %.9g",
                                          simdattn_isa_name(ISA), dt, m, n, d, i, j,
                                          s.p[i * s.ld + j], want);
                        }
                    /* P·V with the same rows as V (n × d_v = n × d) */
                    t->pv_kv(m, n, d, p.p, p.ld, kv, ld, dt, al, o.p, o.ld);
                    ck_assert_msg(gmat_intact(&o), "%s pv_kv wrote outside O", simdattn_isa_name(ISA));
                    for (size_t i = 0; i < m; i++)
                        for (size_t e = 0; e < d; e++) {
                            double a0 = (al ? al[i] : 1.0) * o0.p[i * o0.ld + e];
                            double want = a0, mag = fabs(a0);
                            for (size_t j = 0; j < n; j++) {
                                double x = (double)p.p[i * p.ld + j] * kf.p[j * ld + e];
                                want += x;
                                mag += fabs(x);
                            }
                            double tol = gamma_n((double)n + 1) * mag + subnormal_slack(n + 1.0);
                            ck_assert_msg(fabs(o.p[i * o.ld + e] - want) <= tol,
                                          "%s pv_kv dt=%d m=%zu n=%zu dv=%zu O[%zu][%zu]",
                                          simdattn_isa_name(ISA), dt, m, n, d, i, e);
                        }
                    ts->pv_kv(m, n, d, p.p, p.ld, kv, ld, dt, al, o0.p, o0.ld);
                    ck_assert_msg(same_bits(o.p, o0.p, m, d, o.ld),
                                  "%s pv_kv dt=%d %zux%zux%zu differs from scalar",
                                  simdattn_isa_name(ISA), dt, m, n, d);
                    free(kh);
                    gmat_free(&q); gmat_free(&kf); gmat_free(&s); gmat_free(&ref);
                    gmat_free(&p); gmat_free(&o); gmat_free(&o0);
                }
}
END_TEST

int main(void) {
    const suite_test tests[] = {
        {qk_matches_oracle, LOOP_ISAS, 0},
        {softmax_matches_oracle, LOOP_ISA_MODES, 0},
        {softmax_online_matches_plain, LOOP_ISA_MODES, 0},
        {softmax_special_values, LOOP_ISA_MODES, 0},
        {softmax_mask_special_values, LOOP_ISA_MODES, 0},
        {softmax_online_special_values, LOOP_ISA_MODES, 0},
        {exp_special_values, LOOP_ISA_MODES, 0},
        {pv_matches_oracle, LOOP_ISAS, 0},
        {decode_kernels, LOOP_ISAS, 0},
    };
    return run_tests("kernels", 120, tests, N_OF(tests));
}
