/*
 * The oracle computes in double from the same fp32 inputs, so its own
 * error (≈ 1e-16 relative) is negligible against fp32 bounds (≈ 6e-8).
 * Visibility follows simdattn.h's definitions literally, key by key (the
 * driver works with intervals and blocks instead).
 *
 * Error bound of an fp32 forward, per output element O_c of one row.  With
 * u = 2^-24, x_j the exact logits, m their max, w_j = e^(x_j−m)/Σe the exact
 * weights, and A_c = Σ_j w_j |v_jc|:
 *   logit  δ_j = scale·γ_d·Σ_k|q_k k_jk|      Q·Kᵀ, sequential FMA
 *              + u·|scale·s_j| + u·|x_j|       scale multiply, mask add
 *          with soft-capping, y = scale·s_j, t = tanh(y/cap), c = cap·t:
 *              + u·|y|                         y/cap (× cap·tanh' ≤ cap)
 *              + 5u·cap·|t|                    tanh ≤ 2.5 ULP ≤ 5u·|t|
 *              + u·|c|                         cap·t
 *              + 4·cap·FLT_TRUE_MIN            y/cap or t subnormal
 *            (tanh' = 1 − t² ≤ 1, so the error of y passes through at
 *             most unchanged; the softmax then scales by 1, exactly)
 *   exp    η_j = expm1(δ_j + max_k δ_k + u·|x_j − m|) + 2u·k
 *                (argument error: own logit, the max, the subtraction;
 *                 then ≤ k ULP ≤ 2u·k relative: k = 1 for SLEEF u10 and
 *                 glibc, SIMDATTN_FAST_EXP_ULP for the fast exp; exp_ulp)
 *   common ε  = max_j η_j        the normaliser Σe inherits the worst term
 *             + γ_n              summing n positive terms
 *             + blocks·(2u·k + 2u) + u·R
 *                                per KV block: α = exp(Δm) (2u·k + u|Δm|,
 *                                Σ|Δm| ≤ R = m − min visible x) and the
 *                                α·Õ, α·l roundings
 *             + γ_(n+2·blocks)   P·V accumulation, incl. rescales
 *             + 2u               1/l and the final multiply
 *   bound_c = Σ_j w_j |v_jc| (η_j + ε) + (k + 1)·FLT_TRUE_MIN·Σ_j(1 + |v_jc|)
 *                                (exp results, k ULPs of 2^-149 there, and
 *                                P·V products in the subnormal range lose
 *                                absolute, not relative, accuracy; l ≥ 1
 *                                divides them)
 * Here n counts the keys of the row's whole interval (computed blocks may
 * hold removed keys, which add exact zeros but still count as terms) and
 * blocks = ⌈nk/block⌉ + splits (+1 with a window, whose tiles start their blocks
 * at their first visible key), at least the number the driver visits.
 * This is the first-order bound; the second-order terms (products of two
 * u-sized terms, < 1e-13 relative here) are covered by taking expm1 of the
 * argument error instead of the error itself.
 *
 * K and V rounded to fp16/bf16 (oracle_attention_kv: ρ = kv_u, a = kv_abs).  The
 * forward computes exactly the fp32 forward of the rounded values k̃, ṽ
 * (widening is exact), while o here is the exact result of the unrounded
 * k, v; each element obeys |k̃ − k| ≤ ρ|k| + a (round to nearest: ρ the
 * unit roundoff, 2^-11 for fp16, 2^-8 for bf16; a half the spacing of the
 * type's subnormals, 2^-25 fp16, 2^-134 bf16; no overflow: |x| ≤ 65504
 * for fp16).  Then
 *   - the logit moves by |scale·q·(k̃_j − k_j)| ≤ scale·Σ_k|q_k|(ρ|k_jk| + a),
 *     added to δ_j: it enters e^(x_j − m) exactly as a rounding of the
 *     logit does (own term in η_j, the normaliser's worst in ε); soft-
 *     capping passes it through unchanged (tanh' ≤ 1), the mask does not
 *     touch it; the Q·Kᵀ term γ_d·Σ|q_k k̃_jk| takes |k̃| ≤ (1+ρ)|k| + a;
 *   - ŵ_j ṽ_j − w_j v_j = (ŵ_j − w_j)·ṽ_j + w_j·(ṽ_j − v_j): the weight
 *     error (η_j + ε as above) times |ṽ_jc| ≤ (1+ρ)|v_jc| + a, plus
 *     w_j·(ρ|v_jc| + a).
 * So bound_c = Σ_j w_j [((1+ρ)|v_jc| + a)(η_j + ε) + ρ|v_jc| + a] + the
 * subnormal slack with |ṽ|, every η_j, ε from δ_j including the K term.
 */
#include "oracle.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "util.h"

double oracle_dot(const float *a, const float *b, size_t n, double *abs_sum) {
    double s = 0, as = 0;
    for (size_t i = 0; i < n; i++) {
        s += (double)a[i] * b[i];
        as += fabs((double)a[i] * b[i]);
    }
    if (abs_sum)
        *abs_sum = as;
    return s;
}

/* Key j visible to row i of h (simdattn.h, "Which keys a query row sees"). */
static int visible(const oracle_head *h, size_t i, size_t j) {
    long long p = (long long)i + (long long)h->nk - (long long)h->nq;
    long long jj = (long long)j, w = (long long)h->window;
    if (h->causal && jj > p)
        return 0;
    if (h->window && (h->causal ? jj <= p - w : llabs(p - jj) >= w))
        return 0;
    return !h->keep || h->keep[j];
}

void oracle_attention(const oracle_head *h, double *o, double *bound) {
    oracle_attention_kv(h, 0.0, 0.0, o, bound);
}

void oracle_attention_kv(const oracle_head *h, double kv_u, double kv_abs,
                         double *o, double *bound) {
    const double u = U_F32;
    /* exp_ulp 0 (an initializer that leaves it out) means 1 ULP */
    const double k_exp = h->exp_ulp > 0 ? h->exp_ulp : 1.0;
    const size_t dv = h->dv ? h->dv : h->d, nk = h->nk;
    double *x = malloc((nk + 1) * sizeof(double));
    double *delta = malloc((nk + 1) * sizeof(double));
    double *w = malloc((nk + 1) * sizeof(double));
    for (size_t i = 0; i < h->nq; i++) {
        double mx = -INFINITY, mn = INFINITY, dmax = 0;
        size_t live = 0, first = nk, last = 0;
        for (size_t j = 0; j < nk; j++) {
            x[j] = -INFINITY;
            if (!visible(h, i, j))
                continue;
            first = j < first ? j : first;
            last = j;
            double as, qa = 0;
            const float *qr = h->q + i * h->ldq;
            double s = oracle_dot(qr, h->k + j * h->ldk, h->d, &as);
            if (kv_u > 0 || kv_abs > 0)
                for (size_t e = 0; e < h->d; e++)
                    qa += fabs((double)qr[e]);
            double mk = h->mask ? h->mask[i * h->ldm + j] : 0.0;
            double y = h->scale * s;
            /* K rounding: |q·k̃| terms and the logit's shift (above) */
            double as_r = as * (1 + kv_u) + kv_abs * qa;
            delta[j] = h->scale * gamma_n((double)h->d) * as_r + u * fabs(y) +
                       h->scale * (kv_u * as + kv_abs * qa);
            if (h->softcap > 0) {
                double cap = h->softcap, t = tanh(y / cap);
                delta[j] += u * fabs(y) + 5 * u * cap * fabs(t) +
                            u * cap * fabs(t) + 4 * cap * FLT_TRUE_MIN;
                y = cap * t;
            }
            x[j] = y + mk;
            delta[j] += u * fabs(x[j]);
            if (x[j] == -INFINITY)
                continue;
            live++;
            if (x[j] > mx) mx = x[j];
            if (x[j] < mn) mn = x[j];
            if (delta[j] > dmax) dmax = delta[j];
        }
        double *orow = o + i * dv, *brow = bound + i * dv;
        for (size_t c = 0; c < dv; c++)
            orow[c] = brow[c] = 0.0;
        if (live == 0)
            continue; /* nothing to attend to: exact zeros */
        size_t span = last - first + 1; /* keys of the visited interval */
        double sum = 0, eta_max = 0;
        for (size_t j = first; j <= last; j++) {
            w[j] = x[j] == -INFINITY ? 0.0 : exp(x[j] - mx);
            sum += w[j];
            double eta = expm1(delta[j] + dmax + u * fabs(x[j] - mx)) + 2 * u * k_exp;
            if (w[j] > 0 && eta > eta_max)
                eta_max = eta;
        }
        /* a window's tiles start their blocks off the block grid; each
         * split-KV merge is one more rescale level (a_c = exp(m_c − M),
         * one rounding each for a_c·l_c and a_c·Õ_c in their fma chains
         * over the splits): counted as one more block per split */
        size_t blocks = (nk + h->block - 1) / h->block + (h->window != 0) +
                        h->splits;
        double eps = eta_max + gamma_n((double)span) +
                     blocks * (2 * u * k_exp + 2 * u) +
                     u * (mx - mn) + gamma_n((double)(span + 2 * blocks)) +
                     2 * u;
        for (size_t j = first; j <= last; j++) {
            if (x[j] == -INFINITY)
                continue;
            double wj = w[j] / sum;
            double eta = expm1(delta[j] + dmax + u * fabs(x[j] - mx)) + 2 * u * k_exp;
            const float *vr = h->v + j * h->ldv;
            /* With logits so large that η is infinite, a weight that
             * underflowed to 0 says nothing (0·∞): that key's term is
             * unbounded, not 0, unless its v is 0. */
            double rel = eta + eps;
            for (size_t c = 0; c < dv; c++) {
                double a0 = fabs((double)vr[c]);
                double av = a0 * (1 + kv_u) + kv_abs; /* |ṽ| (above) */
                orow[c] += wj * vr[c];
                brow[c] += (isinf(rel) ? (av == 0 ? 0 : INFINITY) : wj * av * rel) +
                           wj * (kv_u * a0 + kv_abs) +
                           (k_exp + 1) * FLT_TRUE_MIN * (1.0 + av);
            }
        }
    }
    free(x);
    free(delta);
    free(w);
}

/*
 * Softmax kernels, per probability p_j of a row, with δ_j the error of the
 * fp32 logit fl(fl(scale·s_j) + mask_j) and m the row maximum:
 *   logit  δ_j = u·|scale·s_j| + u·|x_j|      scale multiply, mask add
 *   exp    η_j = expm1(δ_j + max_k δ_k + u·|x_j − m|) + 2u·k
 *                (own logit, the shift, the subtraction; then k ULP)
 *   |p̂_j − p_j| ≤ p_j (η_j + max_k η_k + γ_n + 2u) + (k + 1)·FLT_TRUE_MIN
 *                (normaliser: worst term plus the n-term sum; 1/Σ and the
 *                 multiply; absolute slack for results that underflow: k
 *                 ULPs of 2^-149 from exp, divided by Σ ≥ 1, and half of
 *                 one from the multiply)
 * Online, fed in B blocks, adds p_j ((2u·k + 2u)·B + u·R): per block
 * α = exp(Δm) (exp 2u·k, its argument, the α·l rounding) and
 * Σ|Δm| ≤ R = max − min of the live logits.  k = exp_ulp: 1 for SLEEF u10
 * and glibc, SIMDATTN_FAST_EXP_ULP for the fast exp.
 */
double oracle_softmax_row(size_t n, float scale, const float *s,
                          const float *mrow, double exp_ulp, double *p,
                          double *eta) {
    const double u = U_F32;
    double mx = -INFINITY, dmax = 0, sum = 0, eta_max = 0;
    for (size_t j = 0; j < n; j++) { /* p holds x until the exponentials */
        double sc = (double)s[j] * scale;
        p[j] = sc + (mrow ? mrow[j] : 0.0);
        double dl = u * fabs(sc) + u * fabs(p[j]);
        if (p[j] == -INFINITY)
            continue;
        if (p[j] > mx) mx = p[j];
        if (dl > dmax) dmax = dl;
    }
    for (size_t j = 0; j < n; j++) {
        double x = p[j], dl = u * fabs((double)s[j] * scale) + u * fabs(x);
        p[j] = mx != -INFINITY && x != -INFINITY ? exp(x - mx) : 0.0;
        sum += p[j];
        eta[j] = p[j] > 0 ? expm1(dl + dmax + u * fabs(x - mx)) + 2 * u * exp_ulp : 0;
        if (eta[j] > eta_max) eta_max = eta[j];
    }
    for (size_t j = 0; j < n; j++)
        p[j] = sum > 0 ? p[j] / sum : 0.0;
    return mx == -INFINITY ? -1.0 : eta_max;
}

double oracle_softmax_bound(double p, double eta, double eta_max, size_t n,
                            size_t blocks, double range, double exp_ulp) {
    const double u = U_F32;
    if (eta_max < 0)
        return 0.0; /* fully masked row: exact zeros */
    double rel = eta + eta_max + gamma_n((double)n) + 2 * u;
    if (blocks)
        rel += blocks * (2 * u * exp_ulp + 2 * u) + u * range;
    return p * rel + (exp_ulp + 1) * FLT_TRUE_MIN;
}
