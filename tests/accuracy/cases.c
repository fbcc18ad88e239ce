/*
 * The measured input set and one runner per kernel.
 *
 * Every case has a fixed seed, so each ISA sees the same inputs and every
 * figure is reproducible bit for bit on a given build.  The set is built
 * to be adversarial: logits near the fp32 exp overflow range (80…88.7) and
 * near FLT_MAX, one dominant key per row (also in the last KV block, so
 * every earlier block is rescaled), nearly uniform rows, rising rows that
 * rescale at every block, 32k-key rows (few rows, to keep the run short),
 * d up to 256, subnormal inputs and results, and ±0 (including all-zero
 * rows, which must give exact zeros).
 *
 * Figures of one case, over every output element (meter_add):
 *   max_ulp, mean_ulp  |got − ref| / ulp(ref), ref the double oracle value
 *                      before any rounding to fp32, ulp(ref) the spacing of
 *                      fp32 numbers in ref's binade (2^-149 below FLT_MIN),
 *                      as optimized-routines' ulp tool measures: a
 *                      correctly rounded result scores ≤ 0.5
 *   rel_norm           ‖got − ref‖₂ / ‖ref‖₂ over the case's whole output
 *   max_ratio          max |got − ref| / bound, bound the per-element bound
 *                      documented in simdattn.h and derived in oracle.c;
 *                      must be ≤ 1
 * The online softmax's result is the probability it implies,
 * S_j·Π(later α)/row_sum, formed in double.  "exp" is measured through
 * softmax_online with row_max preset to 0 (so S_j = exp(x_j) exactly as
 * the kernel evaluates it, x_j ≤ 0: the whole domain softmax uses) against
 * its documented bound: 1 ULP, or SIMDATTN_FAST_EXP_ULP in fastexp mode.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accuracy.h"
#include "internal.h"
#include "oracle.h"
#include "util.h"

/* The fused driver's KV block (kernels/forward.c NB): the oracle's forward
 * bound counts one online-softmax rescale per block. */
enum { KV_BLOCK = SA_FORWARD_NB };

const char *const fig_names[FIG_COUNT] = {"max_ulp", "mean_ulp", "rel_norm",
                                          "max_ratio"};

const char *accuracy_arch(void) {
#if defined(__x86_64__)
    return "x86_64";
#elif defined(__aarch64__)
    return "aarch64";
#else
    return "other";
#endif
}

record *record_push(record_list *l) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->r = realloc(l->r, l->cap * sizeof *l->r);
        if (!l->r) {
            fprintf(stderr, "simdattn-accuracy: out of memory\n");
            exit(2);
        }
    }
    memset(&l->r[l->n], 0, sizeof *l->r);
    return &l->r[l->n++];
}

/* ------------------------------------------------------------------ */
/* Figures                                                             */
/* ------------------------------------------------------------------ */
typedef struct meter {
    double max_ulp, sum_ulp, err2, ref2, max_ratio;
    size_t n;
} meter;

/* Spacing of fp32 numbers in the binade of the exact value |ref|. */
static double ulp_of(double ref) {
    double a = fabs(ref);
    if (a < FLT_MIN)
        return FLT_TRUE_MIN;
    return ldexp(1.0, ilogb(a) - (FLT_MANT_DIG - 1));
}

static void meter_add(meter *m, double got, double ref, double bound) {
    double err;
    if (got == ref || (isnan(got) && isnan(ref)))
        err = 0;
    else if (!isfinite(got) || !isfinite(ref))
        err = INFINITY;
    else
        err = fabs(got - ref);
    double ulps = err / ulp_of(ref);
    double ratio = bound > 0 ? err / bound : err == 0 ? 0 : INFINITY;
    if (!(ulps <= m->max_ulp))
        m->max_ulp = ulps;
    if (!(ratio <= m->max_ratio))
        m->max_ratio = ratio;
    m->sum_ulp += ulps;
    m->err2 += err * err;
    if (isfinite(ref))
        m->ref2 += ref * ref;
    m->n++;
}

static void emit(record_list *out, simdattn_isa isa, const char *kernel,
                 const char *mode, const char *name, const char *shape,
                 const meter *m) {
    record *r = record_push(out);
    snprintf(r->key, sizeof r->key, "%s/%s/%s/%s/%s", accuracy_arch(),
             simdattn_isa_name(isa), kernel, mode, name);
    snprintf(r->shape, sizeof r->shape, "%s", shape);
    r->fig[FIG_MAX_ULP] = m->max_ulp;
    r->fig[FIG_MEAN_ULP] = m->n ? m->sum_ulp / m->n : 0;
    r->fig[FIG_REL_NORM] = m->ref2 > 0   ? sqrt(m->err2 / m->ref2)
                           : m->err2 > 0 ? INFINITY
                                         : 0;
    r->fig[FIG_MAX_RATIO] = m->max_ratio;
}

/* The modes of the kernels that take flags, with the exp error (ULPs) their
 * bounds assume: "fast" is flags 0 (glibc expf in the scalar kernel, SLEEF
 * u10 elsewhere), "fastexp" SIMDATTN_FAST_EXP's inlined polynomial, "det"
 * SIMDATTN_DETERMINISTIC (SLEEF finz). */
static const struct {
    const char *name;
    unsigned flags;
    double exp_ulp;
} MODES[] = {{"fast", 0, 1.0},
             {"fastexp", SIMDATTN_FAST_EXP, SIMDATTN_FAST_EXP_ULP},
             {"det", SIMDATTN_DETERMINISTIC, 1.0}};

/* ------------------------------------------------------------------ */
/* Inputs                                                              */
/* ------------------------------------------------------------------ */
/* Uniform in [lo, hi); with `zeros`, a third of the elements are +0 and a
 * third −0.  A range inside ±2^-126 gives subnormals. */
typedef struct fill {
    float lo, hi;
    int zeros;
} fill;

static void fill_with(rng *r, float *x, size_t n, fill f) {
    for (size_t i = 0; i < n; i++) {
        double z = f.zeros ? rng_uniform(r) : 1.0;
        /* in double: hi − lo may overflow fp32 (the "huge" case) */
        x[i] = z < 1.0 / 3   ? 0.0f
               : z < 2.0 / 3 ? -0.0f
                             : (float)(f.lo + ((double)f.hi - f.lo) * rng_uniform(r));
    }
}

/* Alternating ±0: an all-zero row, whose results must be exact zeros. */
static void zero_row(float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        x[i] = i % 2 ? -0.0f : 0.0f;
}

static float *fmalloc(size_t n) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    if (!p) {
        fprintf(stderr, "simdattn-accuracy: out of memory\n");
        exit(2);
    }
    return p;
}

static double *dmalloc(size_t n) {
    double *p = malloc((n ? n : 1) * sizeof(double));
    if (!p) {
        fprintf(stderr, "simdattn-accuracy: out of memory\n");
        exit(2);
    }
    return p;
}

static void check(simdattn_status st, const char *what, simdattn_isa isa) {
    if (st != SIMDATTN_OK) {
        fprintf(stderr, "simdattn-accuracy: %s on %s: %s\n", what,
                simdattn_isa_name(isa), simdattn_status_str(st));
        exit(2);
    }
}

/* ------------------------------------------------------------------ */
/* Q·Kᵀ: bound γ_d Σ|q_k·k_k| + d·2^-149                               */
/* ------------------------------------------------------------------ */
typedef struct qk_case {
    const char *name;
    size_t m, n, d;
    fill q, k;
} qk_case;

static const qk_case QK[] = {
    {"uniform", 7, 33, 64, {-1, 1, 0}, {-1, 1, 0}},
    {"odd", 13, 17, 31, {-2, 2, 0}, {-2, 2, 0}},
    {"d1", 3, 5, 1, {-2, 2, 0}, {-2, 2, 0}},
    {"d256", 5, 40, 256, {-1, 1, 0}, {-1, 1, 0}},
    {"long32k", 2, 32768, 64, {-1, 1, 0}, {-1, 1, 0}},
    {"large", 4, 20, 64, {-1e18f, 1e18f, 0}, {-1e18f, 1e18f, 0}},
    {"denormal", 5, 17, 31, {-0x1p-126f, 0x1p-126f, 0}, {-1, 1, 0}},
    {"signed-zero", 5, 17, 31, {-1, 1, 1}, {-1, 1, 1}},
};

static void run_qk(simdattn_isa isa, record_list *out) {
    for (size_t c = 0; c < N_OF(QK); c++) {
        const qk_case *qc = &QK[c];
        size_t m = qc->m, n = qc->n, d = qc->d;
        rng r = rng_seed(100 + c);
        float *q = fmalloc(m * d), *k = fmalloc(n * d), *s = fmalloc(m * n);
        fill_with(&r, q, m * d, qc->q);
        fill_with(&r, k, n * d, qc->k);
        if (qc->q.zeros)
            zero_row(q, d);
        check(simdattn_qk(isa, m, n, d, q, d, k, d, s, n), "qk", isa);
        meter me = {0};
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                double as, want = oracle_dot(q + i * d, k + j * d, d, &as);
                double bound = gamma_n((double)d) * as + subnormal_slack((double)d);
                meter_add(&me, s[i * n + j], want, bound);
            }
        char shape[48];
        snprintf(shape, sizeof shape, "%zux%zux%zu", m, n, d);
        emit(out, isa, "qk", "-", qc->name, shape, &me);
        free(q); free(k); free(s);
    }
}

/* ------------------------------------------------------------------ */
/* Softmax, plain and online (same inputs): bound oracle_softmax_bound  */
/* ------------------------------------------------------------------ */
enum { ROW_PLAIN, ROW_DOMINANT, ROW_RISING };
enum { MASK_NONE, MASK_ROWS, MASK_BROADCAST, MASK_ZEROS };

typedef struct sm_case {
    const char *name;
    size_t m, n, block; /* block: keys per softmax_online call */
    float scale;
    int row;  /* ROW_*: the logit pattern */
    fill x;   /* the logits x = scale·s before any pattern */
    int mask; /* MASK_* */
} sm_case;

static const sm_case SM[] = {
    {"uniform", 4, 1000, 128, 1.0f, ROW_PLAIN, {-8, 8, 0}, MASK_NONE},
    {"masked", 5, 257, 128, 0.3f, ROW_PLAIN, {-8, 8, 0}, MASK_ROWS},
    {"broadcast-mask", 3, 100, 33, 0.125f, ROW_PLAIN, {-20, 20, 0}, MASK_BROADCAST},
    {"near-overflow", 3, 300, 128, 1.0f, ROW_PLAIN, {80, 88.7f, 0}, MASK_NONE},
    {"wide-range", 3, 300, 128, 1.0f, ROW_PLAIN, {-88, 88, 0}, MASK_NONE},
    {"huge", 2, 64, 16, 1.0f, ROW_PLAIN, {-3e38f, 3e38f, 0}, MASK_NONE},
    {"dominant", 3, 500, 128, 1.0f, ROW_DOMINANT, {-2, 2, 0}, MASK_NONE},
    {"nearly-uniform", 3, 400, 128, 1.0f, ROW_PLAIN, {3, 3.0001f, 0}, MASK_NONE},
    {"rising", 2, 1000, 128, 1.0f, ROW_RISING, {-4, 4, 0}, MASK_NONE},
    {"long32k", 2, 32768, 128, 1.0f, ROW_PLAIN, {-8, 8, 0}, MASK_NONE},
    {"denormal", 2, 100, 33, 1.0f, ROW_PLAIN, {-0x1p-126f, 0x1p-126f, 0}, MASK_NONE},
    {"signed-zero", 3, 50, 16, 1.0f, ROW_PLAIN, {-1, 1, 1}, MASK_ZEROS},
};

typedef struct sm_inputs {
    float *s, *mask;
    size_t ldm;
} sm_inputs;

static sm_inputs sm_make(const sm_case *c, size_t idx) {
    rng r = rng_seed(200 + idx);
    sm_inputs in = {fmalloc(c->m * c->n), NULL, 0};
    for (size_t i = 0; i < c->m; i++) {
        float *x = in.s + i * c->n;
        fill_with(&r, x, c->n, c->x);
        if (c->row == ROW_DOMINANT) /* row 0: last key, later rows earlier */
            x[c->n - 1 - i * c->n / c->m] = c->x.hi + 30.0f;
        for (size_t j = 0; c->row == ROW_RISING && j < c->n; j++)
            x[j] += 16.0f * (float)j / (float)c->n;
        for (size_t j = 0; j < c->n; j++)
            x[j] = x[j] / c->scale;
    }
    if (c->mask == MASK_NONE)
        return in;
    size_t rows = c->mask == MASK_BROADCAST ? 1 : c->m;
    in.mask = fmalloc(rows * c->n);
    in.ldm = c->mask == MASK_BROADCAST ? 0 : c->n;
    for (size_t i = 0; i < rows * c->n; i++)
        in.mask[i] = c->mask == MASK_ZEROS ? (i % 3 ? 0.0f : -0.0f)
                     : (c->mask == MASK_ROWS && i / c->n == 1) ||
                             rng_uniform(&r) < 0.2
                         ? -INFINITY
                         : rng_range(&r, -1, 1);
    return in;
}

static void run_softmax(simdattn_isa isa, record_list *out) {
    for (size_t c = 0; c < N_OF(SM); c++) {
        const sm_case *sc = &SM[c];
        size_t m = sc->m, n = sc->n, nblocks = (n + sc->block - 1) / sc->block;
        sm_inputs in = sm_make(sc, c);
        float *t = fmalloc(m * n);
        double *p = dmalloc(n), *eta = dmalloc(n), *later = dmalloc(m * n);
        float *row_max = fmalloc(m), *row_sum = fmalloc(m), *alpha = fmalloc(m);
        char shape[48];
        snprintf(shape, sizeof shape, "%zux%zu /%zu", m, n, sc->block);
        for (size_t md = 0; md < N_OF(MODES); md++) {
            /* plain */
            memcpy(t, in.s, m * n * sizeof(float));
            check(simdattn_softmax(isa, m, n, sc->scale, in.mask, in.ldm, t, n,
                                   MODES[md].flags), "softmax", isa);
            meter plain = {0};
            for (size_t i = 0; i < m; i++) {
                const float *mrow = in.mask ? in.mask + i * in.ldm : NULL;
                double em = oracle_softmax_row(n, sc->scale, in.s + i * n, mrow,
                                               MODES[md].exp_ulp, p, eta);
                for (size_t j = 0; j < n; j++)
                    meter_add(&plain, t[i * n + j], p[j],
                              oracle_softmax_bound(p[j], eta[j], em, n, 0, 0,
                                                   MODES[md].exp_ulp));
            }
            emit(out, isa, "softmax", MODES[md].name, sc->name, shape, &plain);

            /* online, block by block; later[] = Π of the α that followed */
            memcpy(t, in.s, m * n * sizeof(float));
            for (size_t i = 0; i < m; i++) {
                row_max[i] = -INFINITY;
                row_sum[i] = 0;
            }
            for (size_t j0 = 0; j0 < n; j0 += sc->block) {
                size_t nb = n - j0 < sc->block ? n - j0 : sc->block;
                check(simdattn_softmax_online(isa, m, nb, sc->scale,
                                              in.mask ? in.mask + j0 : NULL, in.ldm,
                                              t + j0, n, row_max, row_sum, alpha,
                                              MODES[md].flags), "softmax_online", isa);
                for (size_t i = 0; i < m; i++) {
                    for (size_t j = 0; j < j0; j++)
                        later[i * n + j] *= alpha[i];
                    for (size_t j = j0; j < j0 + nb; j++)
                        later[i * n + j] = 1.0;
                }
            }
            meter online = {0};
            for (size_t i = 0; i < m; i++) {
                const float *mrow = in.mask ? in.mask + i * in.ldm : NULL;
                double em = oracle_softmax_row(n, sc->scale, in.s + i * n, mrow,
                                               MODES[md].exp_ulp, p, eta);
                double lo = INFINITY, hi = -INFINITY;
                for (size_t j = 0; j < n; j++) {
                    double x = (double)in.s[i * n + j] * sc->scale + (mrow ? mrow[j] : 0.0);
                    if (x == -INFINITY)
                        continue;
                    lo = x < lo ? x : lo;
                    hi = x > hi ? x : hi;
                }
                for (size_t j = 0; j < n; j++) {
                    double got = row_sum[i] != 0
                                     ? t[i * n + j] * later[i * n + j] / row_sum[i]
                                     : t[i * n + j];
                    meter_add(&online, got, p[j],
                              oracle_softmax_bound(p[j], eta[j], em, n, nblocks, hi - lo,
                                                   MODES[md].exp_ulp));
                }
            }
            emit(out, isa, "softmax_online", MODES[md].name, sc->name, shape, &online);
        }
        free(in.s); free(in.mask); free(t); free(p); free(eta); free(later);
        free(row_max); free(row_sum); free(alpha);
    }
}

/* ------------------------------------------------------------------ */
/* exp, through softmax_online: bound 1 ULP, SIMDATTN_FAST_EXP_ULP     */
/* ------------------------------------------------------------------ */
typedef struct exp_case {
    const char *name;
    size_t n;
    fill x;
} exp_case;

static const exp_case EXPC[] = {
    {"unit", 8192, {-1, 0, 0}},                  /* [-1, 0] */
    {"normal", 8192, {-87.33f, -1, 0}},          /* normal results */
    {"subnormal", 8192, {-103.9f, -87.34f, 0}},  /* subnormal results */
    {"tiny", 4096, {-0x1p-20f, 0, 1}},           /* near 0, and ±0 */
};

static void run_exp(simdattn_isa isa, record_list *out) {
    for (size_t c = 0; c < N_OF(EXPC); c++) {
        size_t n = EXPC[c].n;
        rng r = rng_seed(300 + c);
        float *x = fmalloc(n), *t = fmalloc(n);
        fill_with(&r, x, n, EXPC[c].x);
        char shape[48];
        snprintf(shape, sizeof shape, "[%g, %g]", EXPC[c].x.lo, EXPC[c].x.hi);
        for (size_t md = 0; md < N_OF(MODES); md++) {
            /* row_max 0 ≥ every x: the kernel's shift is 0, S_j = exp(x_j) */
            float row_max = 0, row_sum = 0, alpha;
            memcpy(t, x, n * sizeof(float));
            check(simdattn_softmax_online(isa, 1, n, 1.0f, NULL, 0, t, n, &row_max,
                                          &row_sum, &alpha, MODES[md].flags),
                  "softmax_online (exp)", isa);
            meter me = {0};
            for (size_t j = 0; j < n; j++) {
                double want = exp((double)x[j]);
                meter_add(&me, t[j], want, MODES[md].exp_ulp * ulp_of(want));
            }
            emit(out, isa, "exp", MODES[md].name, EXPC[c].name, shape, &me);
        }
        free(x); free(t);
    }
}

/* ------------------------------------------------------------------ */
/* P·V: bound γ_(n+1)(|α·O_in| + Σ|p_j·v_j|) + (n+1)·2^-149            */
/* ------------------------------------------------------------------ */
typedef struct pv_case {
    const char *name;
    size_t m, n, dv;
    fill p, v, o;
    int alpha; /* 1: alpha in [0, 1); 0: NULL */
} pv_case;

static const pv_case PV[] = {
    {"uniform", 5, 129, 64, {0, 1, 0}, {-2, 2, 0}, {-3, 3, 0}, 1},
    {"odd", 7, 17, 31, {0, 1, 0}, {-2, 2, 0}, {-3, 3, 0}, 0},
    {"d256", 4, 100, 256, {0, 1, 0}, {-1, 1, 0}, {0, 0, 0}, 0},
    {"long32k", 2, 32768, 64, {0, 0x1p-14f, 0}, {-1, 1, 0}, {-1, 1, 0}, 1},
    {"large", 3, 50, 16, {0, 1, 0}, {-1e36f, 1e36f, 0}, {-1e36f, 1e36f, 0}, 1},
    {"denormal", 5, 64, 33, {0, 1, 0}, {-0x1p-126f, 0x1p-126f, 0}, {0, 0, 0}, 1},
    {"signed-zero", 5, 33, 17, {0, 1, 1}, {-1, 1, 1}, {-1, 1, 1}, 1},
};

static void run_pv(simdattn_isa isa, record_list *out) {
    for (size_t c = 0; c < N_OF(PV); c++) {
        const pv_case *pc = &PV[c];
        size_t m = pc->m, n = pc->n, dv = pc->dv;
        rng r = rng_seed(400 + c);
        float *p = fmalloc(m * n), *v = fmalloc(n * dv), *o0 = fmalloc(m * dv);
        float *o = fmalloc(m * dv), *alpha = fmalloc(m);
        fill_with(&r, p, m * n, pc->p);
        fill_with(&r, v, n * dv, pc->v);
        fill_with(&r, o0, m * dv, pc->o);
        fill_with(&r, alpha, m, (fill){0, 1, pc->o.zeros});
        if (pc->p.zeros) {
            zero_row(p, n);
            zero_row(o0, dv);
        }
        const float *al = pc->alpha ? alpha : NULL;
        memcpy(o, o0, m * dv * sizeof(float));
        check(simdattn_pv(isa, m, n, dv, p, n, v, dv, al, o, dv), "pv", isa);
        meter me = {0};
        for (size_t i = 0; i < m; i++)
            for (size_t e = 0; e < dv; e++) {
                double a0 = (al ? al[i] : 1.0) * o0[i * dv + e]; /* exact */
                double want = a0, mag = fabs(a0);
                for (size_t j = 0; j < n; j++) {
                    double t = (double)p[i * n + j] * v[j * dv + e];
                    want += t;
                    mag += fabs(t);
                }
                double bound = gamma_n((double)n + 1) * mag + subnormal_slack(n + 1.0);
                meter_add(&me, o[i * dv + e], want, bound);
            }
        char shape[48];
        snprintf(shape, sizeof shape, "%zux%zux%zu%s", m, n, dv, al ? " α" : "");
        emit(out, isa, "pv", "-", pc->name, shape, &me);
        free(p); free(v); free(o0); free(o); free(alpha);
    }
}

/* ------------------------------------------------------------------ */
/* Forward: bound oracle_attention                                     */
/* ------------------------------------------------------------------ */
enum { FM_NONE, FM_ROWS, FM_DOMINANT, FM_OFFSET };

typedef struct fw_case {
    const char *name;
    size_t nq, nk, d;
    int causal;
    int mask;    /* FM_*: rows with -inf; +30 on one key; +80…88 on all */
    float scale; /* 0: 1/sqrt(d) */
    fill q, k, v;
} fw_case;

static const fw_case FW[] = {
    {"base", 100, 257, 64, 0, FM_NONE, 0, {-1, 1, 0}, {-1, 1, 0}, {-1, 1, 0}},
    {"causal-masked", 37, 300, 31, 1, FM_ROWS, 0.3f, {-1, 1, 0}, {-1, 1, 0}, {-1, 1, 0}},
    {"d256", 9, 300, 256, 0, FM_NONE, 0, {-1, 1, 0}, {-1, 1, 0}, {-1, 1, 0}},
    {"long32k", 2, 32768, 64, 0, FM_NONE, 0, {-1, 1, 0}, {-1, 1, 0}, {-1, 1, 0}},
    {"large-logits", 20, 300, 64, 0, FM_NONE, 8.0f, {-1, 1, 0}, {-1, 1, 0}, {-1, 1, 0}},
    {"near-overflow", 20, 300, 32, 0, FM_OFFSET, 0, {-1, 1, 0}, {-1, 1, 0}, {-1, 1, 0}},
    {"dominant", 20, 300, 32, 0, FM_DOMINANT, 0, {-1, 1, 0}, {-1, 1, 0}, {-1, 1, 0}},
    {"nearly-uniform", 20, 300, 32, 0, FM_NONE, 0, {-1e-4f, 1e-4f, 0}, {-1, 1, 0}, {-1, 1, 0}},
    {"denormal", 10, 150, 33, 0, FM_NONE, 0, {-0x1p-126f, 0x1p-126f, 0}, {-1, 1, 0},
     {-0x1p-126f, 0x1p-126f, 0}},
    {"signed-zero", 10, 50, 16, 1, FM_NONE, 0, {-1, 1, 1}, {-1, 1, 1}, {-1, 1, 1}},
};

/* One forward of case fc in mode MODES[md], one head of nq × nk, K and V
 * of type dt, into o (nq × d); records its error against want and bound
 * as kernel `kernel`. */
static void forward_record(simdattn_isa isa, record_list *out, const char *kernel, size_t md,
                           const fw_case *fc, const char *shape, size_t nq, size_t nk,
                           size_t d, const float *q, const void *k, const void *v,
                           simdattn_dtype dt, const float *mask, float *o,
                           const double *want, const double *bound) {
    simdattn_forward_desc desc = {0};
    desc.batch = desc.q_heads = desc.kv_heads = 1;
    desc.q_len = nq;
    desc.kv_len = nk;
    desc.head_dim = d;
    desc.scale = fc->scale;
    desc.flags = (fc->causal ? SIMDATTN_CAUSAL : 0) | MODES[md].flags;
    desc.q = (simdattn_tensor){q, nq * d, nq * d, d};
    desc.k = (simdattn_tensor){k, nk * d, nk * d, d};
    desc.v = (simdattn_tensor){v, nk * d, nk * d, d};
    desc.kv_dtype = dt;
    desc.o = o;
    desc.o_stride_batch = desc.o_stride_head = nq * d;
    desc.o_stride_seq = d;
    if (mask)
        desc.mask = (simdattn_tensor){mask, nq * nk, nq * nk, nk};
    desc.isa = isa;
    check(simdattn_forward(&desc), "forward", isa);
    meter me = {0};
    for (size_t i = 0; i < nq * d; i++)
        meter_add(&me, o[i], want[i], bound[i]);
    emit(out, isa, kernel, MODES[md].name, fc->name, shape, &me);
}

static void run_forward(simdattn_isa isa, record_list *out) {
    for (size_t c = 0; c < N_OF(FW); c++) {
        const fw_case *fc = &FW[c];
        size_t nq = fc->nq, nk = fc->nk, d = fc->d;
        rng r = rng_seed(500 + c);
        float *q = fmalloc(nq * d), *k = fmalloc(nk * d), *v = fmalloc(nk * d);
        float *o = fmalloc(nq * d), *mask = NULL;
        fill_with(&r, q, nq * d, fc->q);
        fill_with(&r, k, nk * d, fc->k);
        fill_with(&r, v, nk * d, fc->v);
        if (fc->q.zeros)
            zero_row(q, d);
        if (fc->mask != FM_NONE) {
            mask = fmalloc(nq * nk);
            for (size_t i = 0; i < nq; i++)
                for (size_t j = 0; j < nk; j++) {
                    float *x = &mask[i * nk + j];
                    if (fc->mask == FM_ROWS)
                        *x = rng_uniform(&r) < 0.15 ? -INFINITY : rng_range(&r, -2, 2);
                    else if (fc->mask == FM_OFFSET)
                        *x = rng_range(&r, 80, 88);
                    else /* row 0: the last key, in the last KV block */
                        *x = j == nk - 1 - (i * 131) % nk ? 30.0f : 0.0f;
                }
        }
        float scale = fc->scale != 0 ? fc->scale : 1.0f / sqrtf((float)d);
        double *want = dmalloc(nq * d), *bound = dmalloc(nq * d);
        char shape[48];
        snprintf(shape, sizeof shape, "%zux%zux%zu%s", nq, nk, d,
                 fc->causal ? " causal" : "");
        for (size_t md = 0; md < N_OF(MODES); md++) {
            oracle_head h = {nq, nk, d, scale, fc->causal, q, d, k, d, v, d,
                             mask, nk, KV_BLOCK, 0, 0.0f, 0, NULL,
                             MODES[md].exp_ulp, oracle_splits(nq, 1, nk)};
            oracle_attention(&h, want, bound);
            forward_record(isa, out, "forward", md, fc, shape, nq, nk, d, q, k, v,
                           SIMDATTN_F32, mask, o, want, bound);
        }
        /* The same with K and V rounded to an fp16 or bf16 cache, against
         * the exact result of the unrounded K and V: the bound adds their
         * rounding (oracle_attention_kv; relative 2^-11 / 2^-8, absolute
         * half the type's smallest subnormal, 2^-25 / 2^-134). */
        uint16_t *k16 = malloc(nk * d * sizeof(uint16_t));
        uint16_t *v16 = malloc(nk * d * sizeof(uint16_t));
        if (!k16 || !v16) {
            fprintf(stderr, "simdattn-accuracy: out of memory\n");
            exit(2);
        }
        for (int t = 0; t < 2; t++) {
            const simdattn_dtype dt = t ? SIMDATTN_BF16 : SIMDATTN_F16;
            for (size_t i = 0; i < nk * d; i++) {
                k16[i] = t ? f32_to_bf16(k[i]) : f32_to_f16(k[i]);
                v16[i] = t ? f32_to_bf16(v[i]) : f32_to_f16(v[i]);
            }
            for (size_t md = 0; md < N_OF(MODES); md++) {
                oracle_head h = {nq, nk, d, scale, fc->causal, q, d, k, d, v, d,
                                 mask, nk, KV_BLOCK, 0, 0.0f, 0, NULL,
                                 MODES[md].exp_ulp, oracle_splits(nq, 1, nk)};
                oracle_attention_kv(&h, t ? 0x1p-8 : 0x1p-11, t ? 0x1p-134 : 0x1p-25,
                                    want, bound);
                forward_record(isa, out, t ? "forward-bf16" : "forward-f16", md, fc, shape,
                               nq, nk, d, q, k16, v16, dt, mask, o, want, bound);
            }
        }
        free(k16); free(v16);
        free(q); free(k); free(v); free(o); free(mask); free(want); free(bound);
    }
}

void accuracy_run_isa(simdattn_isa isa, record_list *out) {
    run_qk(isa, out);
    run_exp(isa, out);
    run_softmax(isa, out);
    run_pv(isa, out);
    run_forward(isa, out);
}
