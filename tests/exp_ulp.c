/*
 * simdattn-exp-ulp: the error of the softmax's exp, in ULPs, over every
 * float in [−104, 0] (1 120 927 745 values, both zeros counted once), on
 * every ISA this host runs, against exp() in double.
 *
 *   simdattn-exp-ulp [--step K] [--mode fastexp|default|det]
 *
 * --step K   take every K-th float (by bit pattern) instead of all of them,
 *            plus the interval's ends (the meson test uses a step)
 * --mode     which exp: SIMDATTN_FAST_EXP (the default), flags 0, or
 *            SIMDATTN_DETERMINISTIC
 *
 * The exp is measured where the library evaluates it: simdattn_softmax_online
 * on one row of x with row_max preset to 0 ≥ every x, scale 1, so the
 * kernel's shift is 0 and it stores S_j = exp(x_j − 0) = exp(x_j).  The
 * error of a result is |got − exp(x)| / ulp(exp(x)), the reference unrounded
 * and ulp its fp32 binade's spacing (2^−149 below FLT_MIN), as in
 * tests/accuracy.  Reported per ISA: the max (and where), the max among
 * subnormal results, and how many results differ in bits from the scalar
 * kernel's (the fast exp and SLEEF's finz must give none).
 *
 * Exits 1 when an ISA exceeds the documented bound (SIMDATTN_FAST_EXP_ULP
 * in fast-exp mode, 1 ULP otherwise) or, in the fast-exp and deterministic
 * modes, differs from scalar anywhere.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "simdattn.h"

enum { CHUNK = 1 << 16 };

static float from_bits(unsigned u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static unsigned to_bits(float f) {
    unsigned u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static double ulp_of(double ref) {
    double a = fabs(ref);
    if (a < FLT_MIN)
        return FLT_TRUE_MIN;
    return ldexp(1.0, ilogb(a) - (FLT_MANT_DIG - 1));
}

typedef struct stats {
    double max, max_sub, sum;
    float at, at_sub;
    size_t n, differ;
} stats;

int main(int argc, char **argv) {
    unsigned step = 1, flags = SIMDATTN_FAST_EXP;
    const char *mode = "fastexp";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--step") == 0 && i + 1 < argc)
            step = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
            mode = argv[++i];
            flags = strcmp(mode, "fastexp") == 0   ? SIMDATTN_FAST_EXP
                    : strcmp(mode, "det") == 0     ? SIMDATTN_DETERMINISTIC
                    : strcmp(mode, "default") == 0 ? 0u
                                                   : ~0u;
        } else
            flags = ~0u;
        if (flags == ~0u || step == 0) {
            fprintf(stderr, "usage: simdattn-exp-ulp [--step K] "
                            "[--mode fastexp|default|det]\n");
            return 2;
        }
    }
    const double bound = flags & SIMDATTN_FAST_EXP ? SIMDATTN_FAST_EXP_ULP : 1.0;
    const int same_bits = (flags & (SIMDATTN_FAST_EXP | SIMDATTN_DETERMINISTIC)) != 0;

    simdattn_isa isas[SIMDATTN_ISA_COUNT];
    int nisa = 0; /* scalar first: the others are compared with it */
    for (int i = SIMDATTN_ISA_SCALAR; i < SIMDATTN_ISA_COUNT; i++)
        if (simdattn_isa_supported((simdattn_isa)i))
            isas[nisa++] = (simdattn_isa)i;
    stats st[SIMDATTN_ISA_COUNT] = {0};
    float *x = malloc(CHUNK * sizeof(float));
    float *got = malloc((size_t)nisa * CHUNK * sizeof(float));
    double *want = malloc(CHUNK * sizeof(double));
    if (!x || !got || !want)
        return 2;

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* −x runs over the bit patterns 0 (+0 → x = −0) … bits(104), then 104
     * itself when the step skips it */
    const unsigned last = to_bits(104.0f);
    unsigned u = 0;
    int done = 0;
    while (!done) {
        size_t n = 0;
        for (; n < CHUNK && !done; n++) {
            x[n] = -from_bits(u);
            want[n] = exp((double)x[n]);
            if (u == last)
                done = 1;
            else
                u = last - u <= step ? last : u + step;
        }
        for (int k = 0; k < nisa; k++) {
            float row_max = 0.0f, row_sum = 0.0f, alpha;
            float *g = got + (size_t)k * CHUNK;
            memcpy(g, x, n * sizeof(float));
            if (simdattn_softmax_online(isas[k], 1, n, 1.0f, NULL, 0, g, n, &row_max,
                                        &row_sum, &alpha, flags) != SIMDATTN_OK) {
                fprintf(stderr, "simdattn-exp-ulp: softmax_online failed on %s\n",
                        simdattn_isa_name(isas[k]));
                return 2;
            }
            stats *s = &st[k];
            for (size_t j = 0; j < n; j++) {
                double e = g[j] == want[j] ? 0 : fabs(g[j] - want[j]) / ulp_of(want[j]);
                if (!(e <= s->max)) {
                    s->max = e;
                    s->at = x[j];
                }
                if (want[j] < FLT_MIN && !(e <= s->max_sub)) {
                    s->max_sub = e;
                    s->at_sub = x[j];
                }
                s->sum += e;
                s->differ += k > 0 && to_bits(g[j]) != to_bits(got[j]);
            }
            s->n += n;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);

    int fail = 0;
    printf("exp (mode %s) over %zu floats in [-104, 0], step %u, %.1f s:\n", mode,
           st[0].n, step,
           (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    for (int k = 0; k < nisa; k++) {
        const stats *s = &st[k];
        int bad = !(s->max <= bound) || (same_bits && s->differ);
        printf("  %-7s max %.6f ULP at x = %a; subnormal results max %.4f ULP at %a; "
               "mean %.4f; %zu differ from scalar%s\n",
               simdattn_isa_name(isas[k]), s->max, s->at, s->max_sub, s->at_sub,
               s->sum / (double)s->n, s->differ, bad ? "  FAIL" : "");
        fail |= bad;
    }
    printf("bound %.4g ULP%s: %s\n", bound, same_bits ? ", same bits on every ISA" : "",
           fail ? "FAIL" : "ok");
    free(x);
    free(got);
    free(want);
    return fail;
}
