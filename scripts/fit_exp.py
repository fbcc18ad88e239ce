#!/usr/bin/env python3
"""Fit the polynomial of simdattn's fast exp (SIMDATTN_FAST_EXP).

    scripts/fit_exp.py [--degree 6] [--digits 30]        (about a minute)

exp(x) = 2^n · e^r with n = round(x·log2 e) and |r| ≤ ln2/2 (plus the slack
of rounding log2 e to fp32, over |x| ≤ 104); e^r ≈ P(r) = 1 + c1·r + … +
c_d·r^d.  The constant term is fixed at 1 so that exp(0) is exactly 1 (a
row's maximum key always gets weight e^0).  The other coefficients minimise
the *relative* error max |P(r)/e^r − 1| over the interval, in `digits`-digit
arithmetic (mpmath), and are then rounded to fp32 one at a time: c1 is
rounded, c2 … c_d refitted with it fixed, c2 rounded, and so on, so each
rounding is absorbed by the coefficients above it (rounding all at once
costs the degree-6 fit a factor 9 in its error).

Prints the Cody–Waite split of ln 2, the minimax error with real and with
the fp32 coefficients (the polynomial alone, sampled in high precision),
and the fp32 coefficients as C hex-float literals in kernels/fastexp.h's
order, each next to its real-valued first fit.  The error of the whole fp32
evaluation is measured over every input by tests/exp_ulp.c.
"""
import argparse

import mpmath as mp


def f32(x):
    """x rounded to the nearest fp32, ties to even (normal range only)."""
    e = int(mp.floor(mp.log(abs(x), 2)))
    q = mp.ldexp(1, e - 23)
    m = x / q
    n = mp.nint(m)  # mpmath's nint rounds ties to even
    return n * q


def hexf(x):
    """C99 hex-float literal of an fp32 value."""
    m, _, e = float(x).hex().partition("p")
    return m.rstrip("0").rstrip(".") + "p" + e + "f"


def minimax(fixed, deg, a, points=300, iters=200):
    """Coefficients c_(K+1) ... c_deg of p(r) = 1 + sum_k c_k r^k minimising
    max |p(r)/e^r - 1| over `points` Chebyshev nodes of [-a, a], c_1 ... c_K
    given (`fixed`).  The error is linear in the free coefficients,
        p(r)/e^r - 1 = sum_free c_k·r^k·e^-r - (1 - (1 + sum_fixed)·e^-r),
    a discrete Chebyshev approximation problem, solved by Lawson's
    iteratively reweighted least squares (each weight times its point's
    error, renormalised), which converges to the minimax solution without
    the alternation bookkeeping of a Remez exchange (the basis vanishes at
    r = 0, which Remez handles badly).  Returns (free coefficients, max
    error on the nodes)."""
    K = len(fixed)
    rs = [a * mp.cos(mp.pi * (i + mp.mpf(1) / 2) / points) for i in range(points)]
    phi = [[r ** k * mp.exp(-r) for k in range(K + 1, deg + 1)] for r in rs]
    f = [1 - (1 + sum(c * r ** (k + 1) for k, c in enumerate(fixed))) * mp.exp(-r)
         for r in rs]
    nf = deg - K
    wt = [mp.mpf(1) / points] * points
    for _ in range(iters):
        A = mp.matrix(nf, nf)
        b = mp.matrix(nf, 1)
        for i in range(points):
            for j in range(nf):
                b[j] += wt[i] * phi[i][j] * f[i]
                for k in range(j, nf):
                    A[j, k] += wt[i] * phi[i][j] * phi[i][k]
        for j in range(nf):
            for k in range(j):
                A[j, k] = A[k, j]
        c = mp.lu_solve(A, b)
        err = [abs(sum(c[j] * phi[i][j] for j in range(nf)) - f[i]) for i in range(points)]
        tot = sum(wt[i] * err[i] for i in range(points))
        wt = [wt[i] * err[i] / tot for i in range(points)]
    return [c[j] for j in range(nf)], max(err)


def max_rel_err(c, a, n=20000):
    """max |p(r)/e^r − 1| on [−a, a], p(r) = 1 + Σ c_k r^k, sampled."""
    worst = mp.mpf(0)
    for i in range(n + 1):
        r = -a + 2 * a * i / n
        p = 1 + sum(ck * r ** (k + 1) for k, ck in enumerate(c))
        worst = max(worst, abs(p * mp.exp(-r) - 1))
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--degree", type=int, default=6)
    ap.add_argument("--digits", type=int, default=30)
    args = ap.parse_args()
    mp.mp.dps = args.digits

    # |r| ≤ ln2·(1/2 + |x|·|L − log2 e|) with L = fp32(log2 e), |x| ≤ 104
    L = f32(1 / mp.log(2))
    a = mp.log(2) * (mp.mpf(1) / 2 + 104 * abs(L - 1 / mp.log(2)))
    a = a * (1 + mp.mpf(2) ** -20)  # a margin for the rounding of r
    # Round c_1 to fp32, refit c_2 ... with it fixed, round c_2, ...: the
    # rounding of each coefficient is absorbed by the ones above it.
    c, E0 = minimax([], args.degree, a)
    c32 = []
    while len(c32) < args.degree:
        rest, _ = minimax(c32, args.degree, a)
        c32.append(f32(rest[0]))

    ln2 = mp.log(2)
    hi = f32(ln2)
    lo = f32(ln2 - hi)

    print(f"reduced interval |r| <= {mp.nstr(a, 12)}")
    print(f"log2e fp32   {hexf(L)}")
    print(f"ln2 hi       {hexf(hi)}   lo {hexf(lo)}   "
          f"|ln2 - hi - lo| = {mp.nstr(abs(ln2 - hi - lo), 3)}")
    print(f"minimax relative error, real coefficients: {mp.nstr(E0, 4)} "
          f"= 2^{mp.nstr(mp.log(E0, 2), 4)}")
    e32 = max_rel_err(c32, a)
    print(f"fp32 coefficients (sampled):                {mp.nstr(e32, 4)} "
          f"= 2^{mp.nstr(mp.log(e32, 2), 4)}")
    for k, (x, x32) in enumerate(zip(c, c32), start=1):
        print(f"c{k} = {hexf(x32):>18}   ({mp.nstr(x, 20)})")


if __name__ == "__main__":
    main()
