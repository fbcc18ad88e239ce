/*
 * The exp of SIMDATTN_FAST_EXP: its constants and the one sequence of
 * operations every ISA performs (kernels/scalar/softmax.c in C, the "fast
 * exp" section of each kernels/<isa>/helpers.h with intrinsics).  Every
 * step is an fp32 operation that rounds identically on every ISA (FMA,
 * add, multiply, max, an integer shift), so every ISA returns the same
 * bits, which tests/test_kernels.c and tests/test_determinism.c check.
 *
 * Domain: x ≤ 0, and NaN: the softmax only takes exp of x − max(x) and of
 * row_max − m' ≤ 0.  (Positive x, which only masked-off tail lanes ever
 * see and discard, give unspecified values: no trap, no undefined
 * behaviour.)
 *
 *   1. x ← max(XMIN, x), XMIN = −104: −inf and every x < −104 give +0, as
 *      exp(x) < 2^−150 rounds to 0 there (e^x ≤ 2^−150, half the smallest
 *      subnormal, for x ≤ −150·ln2 = −103.97…).  NaN passes: the vector max
 *      returns its second operand when one is NaN, and the scalar code is
 *      `x < XMIN ? XMIN : x`.
 *   2. z = fma(x, LOG2E, SHIFT), SHIFT = 1.5·2^23 + 152.  For x ∈ [−104, 0],
 *      x·LOG2E + SHIFT lies in [2^23, 2^24), where fp32 numbers are the
 *      integers, so z = SHIFT + n with n = round(x·LOG2E) ∈ [−150, 0], and
 *      the low mantissa bits of z hold n + 152 ∈ [2, 152].
 *   3. n = z − SHIFT, exact.
 *   4. r = fma(n, −LN2_HI, x), then r = fma(n, −LN2_LO, r), with
 *      LN2_HI = fp32(ln 2) and LN2_LO = fp32(ln 2 − LN2_HI) (Cody–Waite,
 *      |ln 2 − HI − LO| < 1e-16).
 *      The first FMA is exact: x − n·HI is a multiple of 2^−25 (x is one
 *      when |x| ≥ 1/4, i.e. whenever n ≠ 0; n·HI one of 2^−24) below 1/2
 *      in magnitude.  The second rounds once.  |r| ≤ 0.34658 (ln2/2 plus
 *      the rounding of LOG2E over |x| ≤ 104).
 *   5. p = P(r)·2^−25 by Horner, one FMA per coefficient, with
 *      P(r) = 1 + c1·r + … + c6·r^6 minimax for the relative error of e^r
 *      on |r| ≤ 0.34658, coefficients rounded to fp32 one at a time with
 *      the higher ones refitted (scripts/fit_exp.py): 3.1e-9 = 2^−28.3
 *      relative, sampled.  c0 = 1 makes exp(0) = 1 exactly.  Every
 *      coefficient is stored times 2^−25, which scales every Horner step
 *      exactly (all intermediates stay far above the subnormal range), so p
 *      is 2^−25 times the unscaled evaluation, bit for bit.
 *   6. s = bits(z) << 23 = 2^(n+25): the shift moves n + 152 = (n + 25) + 127
 *      into the exponent field (and every higher bit of z out); it is in
 *      [2, 152], so s is a normal power of two for every n.
 *   7. exp = p·s: exact when the result is normal, one rounding to nearest
 *      when it is subnormal or 0 (where a plain exponent-field add would
 *      produce garbage).  A NaN x makes p NaN and so the result.
 *
 * 13 vector operations, no table, no branch, no call.  Error, measured
 * over every float in [−104, 0] against a double exp (tests/exp_ulp.c):
 * max 0.891321 ULP (at x = −0x1.765026p+2), the same on every ISA;
 * simdattn.h states it as SIMDATTN_FAST_EXP_ULP.  Subnormal results: max
 * 0.8578 ULP (of 2^−149).  The error is the last rounding of p (0.5),
 * the rounding of r and of the Horner steps; the polynomial's own error
 * is 0.05 ULP.  A degree-5 P, one FMA less, measured 1.975 ULP.
 */
#ifndef SA_FASTEXP_H
#define SA_FASTEXP_H

#define SA_EXP_XMIN (-104.0f)
#define SA_EXP_SHIFT (0x1.8p23f + 152.0f)
#define SA_EXP_LOG2E 0x1.715476p+0f
#define SA_EXP_LN2_HI 0x1.62e43p-1f
#define SA_EXP_LN2_LO (-0x1.05c61p-29f)

/* P's coefficients c_k (scripts/fit_exp.py --degree 6), times 2^−25. */
#define SA_EXP_P(c) ((c) * 0x1p-25f)
#define SA_EXP_P0 SA_EXP_P(0x1p+0f)
#define SA_EXP_P1 SA_EXP_P(0x1p+0f)
#define SA_EXP_P2 SA_EXP_P(0x1.fffffcp-2f)
#define SA_EXP_P3 SA_EXP_P(0x1.555494p-3f)
#define SA_EXP_P4 SA_EXP_P(0x1.5558bep-5f)
#define SA_EXP_P5 SA_EXP_P(0x1.123856p-7f)
#define SA_EXP_P6 SA_EXP_P(0x1.6a3d02p-10f)

#endif
