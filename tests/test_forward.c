/*
 * Fused forward on every ISA this host runs, against the double oracle with
 * the per-element bound derived in oracle.c, and against the scalar forward
 * (within twice that bound, since both obey it).  Covers the shape grid of
 * the foundation issue, causal and not, Nq ≠ Nk, BHSD and BSHD, GQA,
 * broadcast masks, and the special-value policy of simdattn.h, each in
 * every exp mode (util.h: exp_modes) with the bound of that mode's exp.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "oracle.h"
#include "util.h"

/* The driver's KV block (kernels/forward.c NB): the oracle's bound counts
 * one online-softmax rescale per block. */
enum { KV_BLOCK = SA_FORWARD_NB };
/* The driver's query tile (kernels/forward.c MB), for edge shapes only. */
enum { Q_TILE = SA_FORWARD_MB };

typedef struct cfg {
    size_t batch, hq, hk, nq, nk, d;
    int causal, bshd;
    int mask; /* 0 none, 1 full, 2 shared by batch and heads, 3 key padding
                 (one row per batch entry, broadcast over heads and rows) */
    float scale;
} cfg;

typedef struct tensors {
    float *q, *k, *v, *mask, *obuf, *o;
    size_t qs[3], ks[3], ms[3], os[3]; /* batch, head, seq strides */
    size_t o_total;
} tensors;

static void strides(const cfg *c, size_t heads, size_t seq, size_t *s) {
    if (c->bshd) { s[0] = seq * heads * c->d; s[1] = c->d; s[2] = heads * c->d; }
    else { s[0] = heads * seq * c->d; s[1] = seq * c->d; s[2] = c->d; }
}

static tensors make(const cfg *c, rng *r) {
    tensors t = {0};
    strides(c, c->hq, c->nq, t.qs);
    strides(c, c->hk, c->nk, t.ks);
    size_t nq_el = c->batch * c->hq * c->nq * c->d, nk_el = c->batch * c->hk * c->nk * c->d;
    t.q = malloc(nq_el * sizeof(float));
    t.k = malloc(nk_el * sizeof(float));
    t.v = malloc(nk_el * sizeof(float));
    fill_uniform(r, t.q, nq_el, -1, 1);
    fill_uniform(r, t.k, nk_el, -1, 1);
    fill_uniform(r, t.v, nk_el, -1, 1);
    /* O: BHSD with two spare floats per row, canaries in the gaps */
    size_t ld = c->d + 2;
    t.os[2] = ld; t.os[1] = c->nq * ld; t.os[0] = c->hq * c->nq * ld;
    t.o_total = c->batch * t.os[0] + 8;
    t.obuf = malloc((t.o_total + 1) * sizeof(float));
    t.o = t.obuf + 1; /* misaligned on purpose */
    for (size_t i = 0; i < t.o_total; i++) t.o[i] = canary();
    if (c->mask) {
        size_t rows = c->mask == 1 ? c->batch * c->hq * c->nq : c->mask == 2 ? c->nq : c->batch;
        t.mask = malloc(rows * c->nk * sizeof(float));
        for (size_t i = 0; i < rows * c->nk; i++)
            t.mask[i] = rng_uniform(r) < 0.15 ? -INFINITY : rng_range(r, -2, 2);
        if (c->mask == 1) { t.ms[2] = c->nk; t.ms[1] = c->nq * c->nk; t.ms[0] = c->hq * c->nq * c->nk; }
        if (c->mask == 2) { t.ms[2] = c->nk; }
        if (c->mask == 3) { t.ms[0] = c->nk; }
    }
    return t;
}

static void release(tensors *t) {
    free(t->q); free(t->k); free(t->v); free(t->mask); free(t->obuf);
}

static simdattn_forward_desc describe(const cfg *c, const tensors *t, simdattn_isa isa) {
    simdattn_forward_desc d = {0};
    d.batch = c->batch; d.q_heads = c->hq; d.kv_heads = c->hk;
    d.q_len = c->nq; d.kv_len = c->nk; d.head_dim = c->d;
    d.scale = c->scale;
    d.flags = c->causal ? SIMDATTN_CAUSAL : 0;
    d.q = (simdattn_tensor){t->q, t->qs[0], t->qs[1], t->qs[2]};
    d.k = (simdattn_tensor){t->k, t->ks[0], t->ks[1], t->ks[2]};
    d.v = (simdattn_tensor){t->v, t->ks[0], t->ks[1], t->ks[2]};
    d.o = t->o;
    d.o_stride_batch = t->os[0]; d.o_stride_head = t->os[1]; d.o_stride_seq = t->os[2];
    if (t->mask) d.mask = (simdattn_tensor){t->mask, t->ms[0], t->ms[1], t->ms[2]};
    d.isa = isa;
    return d;
}

/* Runs the forward on `isa` and on scalar in exp mode `mode`, checks both
 * against the oracle element by element, the canaries, and returns
 * nothing: asserts. */
static void check_cfg(const cfg *c, simdattn_isa isa, const exp_mode *mode, uint64_t seed) {
    rng r = rng_seed(seed);
    tensors t = make(c, &r);
    simdattn_forward_desc d = describe(c, &t, isa);
    d.flags |= mode->flags;
    ck_assert_int_eq(simdattn_forward(&d), SIMDATTN_OK);
    float *got = malloc(t.o_total * sizeof(float));
    memcpy(got, t.o, t.o_total * sizeof(float));
    d.isa = SIMDATTN_ISA_SCALAR;
    ck_assert_int_eq(simdattn_forward(&d), SIMDATTN_OK);
    const float *ref = t.o;

    size_t ld = c->d + 2;
    for (size_t i = 0; i < t.o_total; i++) /* gaps and tail untouched */
        if (i >= c->batch * t.os[0] || i % ld >= c->d)
            ck_assert_msg(is_canary(got[i]), "%s wrote outside O at %zu", simdattn_isa_name(isa), i);

    double *o = malloc(c->nq * c->d * sizeof(double));
    double *bound = malloc(c->nq * c->d * sizeof(double));
    float scale = c->scale != 0 ? c->scale : 1.0f / sqrtf((float)c->d);
    for (size_t b = 0; b < c->batch; b++)
        for (size_t h = 0; h < c->hq; h++) {
            size_t g = h / (c->hq / c->hk);
            oracle_head oh = {
                c->nq, c->nk, c->d, scale, c->causal,
                t.q + b * t.qs[0] + h * t.qs[1], t.qs[2],
                t.k + b * t.ks[0] + g * t.ks[1], t.ks[2],
                t.v + b * t.ks[0] + g * t.ks[1], t.ks[2],
                t.mask ? t.mask + b * t.ms[0] + h * t.ms[1] : NULL, t.ms[2],
                KV_BLOCK, 0, 0.0f, 0, NULL, mode->ulp,
                oracle_splits(c->nq, c->hq / c->hk, c->nk)};
            oracle_attention(&oh, o, bound);
            for (size_t i = 0; i < c->nq; i++)
                for (size_t e = 0; e < c->d; e++) {
                    size_t at = b * t.os[0] + h * t.os[1] + i * t.os[2] + e;
                    double want = o[i * c->d + e], tol = bound[i * c->d + e];
                    ck_assert_msg(fabs(got[at] - want) <= tol,
                                  "%s %s b=%zu h=%zu nq=%zu nk=%zu d=%zu causal=%d bshd=%d "
                                  "mask=%d O[%zu][%zu]=%.9g want %.9g tol %.3g",
                                  simdattn_isa_name(isa), mode->name, b, h, c->nq, c->nk, c->d,
                                  c->causal, c->bshd, c->mask, i, e, got[at], want, tol);
                    ck_assert_msg(fabs(ref[at] - want) <= tol, "scalar O[%zu][%zu] out of bound", i, e);
                    ck_assert_msg(fabs(got[at] - ref[at]) <= 2 * tol,
                                  "%s differs from scalar at O[%zu][%zu]", simdattn_isa_name(isa), i, e);
                }
        }
    free(o); free(bound); free(got);
    release(&t);
}

static const size_t GRID_N[] = {1, 2, 3, 7, 16, 17, 64, 100, 257};
static const size_t GRID_D[] = {1, 8, 31, 64, 80, 128, 256};

/* Every (Nq, Nk) pair of the grid at d = 31, causal or not, BHSD or BSHD. */
START_TEST(forward_grid) {
    for (size_t a = 0; a < N_OF(GRID_N); a++)
        for (size_t b = 0; b < N_OF(GRID_N); b++)
            for (int mode = 0; mode < 4; mode++) {
                cfg c = {1, 1, 1, GRID_N[a], GRID_N[b], 31, mode & 1, mode >> 1, 0, 0};
                check_cfg(&c, ISA, MODE, 100 + a * 10 + b);
            }
}
END_TEST

/* Every head dim of the grid on a diagonal of shapes. */
START_TEST(forward_head_dims) {
    static const size_t NQ[] = {1, 3, 17, 100, 257}, NK[] = {1, 7, 16, 64, 257};
    for (size_t a = 0; a < N_OF(GRID_D); a++)
        for (size_t s = 0; s < N_OF(NQ); s++) {
            cfg c = {1, 1, 1, NQ[s], NK[s], GRID_D[a], (int)(s % 2), (int)(a % 2), 0, 0};
            check_cfg(&c, ISA, MODE, 200 + a * 10 + s);
        }
}
END_TEST

/* Batch 2, 4 query heads over 2 KV heads, each mask broadcast pattern,
 * explicit scale, BSHD. */
START_TEST(forward_gqa_masks) {
    for (int mask = 0; mask < 4; mask++)
        for (int causal = 0; causal < 2; causal++) {
            cfg c = {2, 4, 2, 19, 150, 24, causal, 1, mask, 0.3f};
            check_cfg(&c, ISA, MODE, 300 + mask * 2 + causal);
        }
}
END_TEST

/* One short, exact and one past the driver's query tile and KV block, and
 * two tiles/blocks plus one, causal or not: the last tile's short row
 * blocks, a block of one key, and the diagonal crossing a block edge. */
START_TEST(forward_tile_edges) {
    static const size_t NQ[] = {Q_TILE - 1, Q_TILE, Q_TILE + 1, 2 * Q_TILE + 1};
    static const size_t NK[] = {KV_BLOCK - 1, KV_BLOCK, KV_BLOCK + 1, 2 * KV_BLOCK + 1};
    for (size_t a = 0; a < N_OF(NQ); a++)
        for (size_t b = 0; b < N_OF(NK); b++)
            for (int causal = 0; causal < 2; causal++) {
                cfg c = {1, 1, 1, NQ[a], NK[b], 20, causal, 0, 0, 0};
                check_cfg(&c, ISA, MODE, 600 + a * 10 + b);
            }
}
END_TEST

/* Causal with Nq > Nk: the first Nq − Nk rows see no key and must be
 * exactly zero (the oracle's bound is 0 there). */
START_TEST(forward_causal_more_queries) {
    cfg c = {1, 2, 1, 40, 9, 16, 1, 0, 0, 0};
    check_cfg(&c, ISA, MODE, 400);
}
END_TEST

/* NaN/Inf policy: a NaN in a query row poisons that row only; a NaN in a
 * key or value poisons every row attending to it; -inf in the mask is a
 * removed key; a fully masked row is exactly zero; huge finite logits give
 * the value of the dominant key. */
START_TEST(forward_special_values) {
    enum { N = 20, D = 8 };
    float q[N * D], k[N * D], v[N * D], o[N * D], mask[N * N];
    rng r = rng_seed(500);
    simdattn_forward_desc d = {0};
    d.batch = d.q_heads = d.kv_heads = 1;
    d.q_len = d.kv_len = N; d.head_dim = D;
    d.q = (simdattn_tensor){q, 0, 0, D};
    d.k = (simdattn_tensor){k, 0, 0, D};
    d.v = (simdattn_tensor){v, 0, 0, D};
    d.o = o; d.o_stride_seq = D;
    d.isa = ISA;
    for (int what = 0; what < 3; what++) { /* NaN in Q row 5, K row 7, V row 7 */
        fill_uniform(&r, q, N * D, -1, 1);
        fill_uniform(&r, k, N * D, -1, 1);
        fill_uniform(&r, v, N * D, -1, 1);
        (what == 0 ? q + 5 * D : what == 1 ? k + 7 * D : v + 7 * D)[3] = NAN;
        d.flags = SIMDATTN_CAUSAL | MODE->flags;
        ck_assert_int_eq(simdattn_forward(&d), SIMDATTN_OK);
        for (size_t i = 0; i < N; i++) {
            int poisoned = what == 0 ? i == 5 : i >= 7;
            for (size_t e = 0; e < D; e++) {
                if (poisoned && (what < 2 || e == 3)) /* a V NaN: its column */
                    ck_assert_msg(isnan(o[i * D + e]), "%s %s: NaN (case %d) lost in row %zu",
                                  simdattn_isa_name(ISA), MODE->name, what, i);
                else if (what < 2) /* a NaN in Q reaches no other row; in K,
                                       no row that cannot see that key */
                    ck_assert_msg(isfinite(o[i * D + e]), "%s %s: NaN (case %d) reached row %zu",
                                  simdattn_isa_name(ISA), MODE->name, what, i);
            }
        }
    }
    fill_uniform(&r, q, N * D, -1, 1);
    fill_uniform(&r, k, N * D, -1, 1);
    fill_uniform(&r, v, N * D, -1, 1);
    for (size_t i = 0; i < N * N; i++)
        mask[i] = (i / N == 4 || i % N == 2) ? -INFINITY : 0.0f;
    d.mask = (simdattn_tensor){mask, 0, 0, N};
    d.flags = MODE->flags;
    ck_assert_int_eq(simdattn_forward(&d), SIMDATTN_OK);
    for (size_t e = 0; e < D; e++)
        ck_assert_msg(o[4 * D + e] == 0.0f && !signbit(o[4 * D + e]),
                      "%s %s: fully masked row not +0", simdattn_isa_name(ISA), MODE->name);
    for (size_t i = 0; i < N * D; i++)
        ck_assert(isfinite(o[i]));

    /* one dominant key per row: logits ~1e30 apart, output = that value */
    d.mask.data = NULL;
    for (size_t i = 0; i < N * D; i++) q[i] = k[i] = 0;
    for (size_t i = 0; i < N; i++) {
        q[i * D] = 1e15f;
        k[i * D] = (float)(i % 5) * 1e15f; /* keys 4, 9, 14, 19 tie for max */
    }
    ck_assert_int_eq(simdattn_forward(&d), SIMDATTN_OK);
    for (size_t e = 0; e < D; e++) {
        double want = 0, mag = 0;
        for (size_t j = 4; j < N; j += 5) {
            want += v[j * D + e] / 4.0;
            mag += fabs(v[j * D + e]) / 4.0;
        }
        /* the four tied keys get weight exactly 1 each, all others exactly
         * 0: P·V is a 4-term FMA chain plus the α multiply (γ_5), then an
         * exact division by the sum 4 */
        ck_assert_msg(fabs(o[e] - want) <= gamma_n(5) * mag, "%s %s huge logits: %.9g want %.9g",
                      simdattn_isa_name(ISA), MODE->name, o[e], want);
    }
}
END_TEST

/* One head, BHSD, N×N (mask N×N, always given so that every run takes the
 * same path), output into o; returns the status. */
static simdattn_status run_head(size_t nq, size_t nk, size_t d, const float *q, const float *k,
                                const float *v, const float *mask, float *o, unsigned flags,
                                simdattn_isa isa) {
    simdattn_forward_desc f = {0};
    f.batch = f.q_heads = f.kv_heads = 1;
    f.q_len = nq; f.kv_len = nk; f.head_dim = d;
    f.q = (simdattn_tensor){q, 0, 0, d};
    f.k = (simdattn_tensor){k, 0, 0, d};
    f.v = (simdattn_tensor){v, 0, 0, d};
    f.o = o; f.o_stride_seq = d;
    if (mask) f.mask = (simdattn_tensor){mask, 0, 0, nk};
    f.flags = flags;
    f.isa = isa;
    return simdattn_forward(&f);
}

static int same_bits(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

/* Infinities in Q and K, and +inf / NaN in the mask, follow the IEEE policy
 * of simdattn.h, checked bit-exactly against runs that express the same
 * removal through the mask.  Coordinate 2 of every query is > 0 (except
 * rows 3: < 0, and 4: 0), so K[7][2] = -inf gives logit -inf (key removed)
 * in most rows, +inf in row 3 (row NaN) and inf·0 = NaN in row 4. */
START_TEST(forward_inf_policy) {
    enum { N = 20, D = 8, KEY = 7 };
    float q[N * D], k[N * D], v[N * D], mask[N * N], o[N * D], ref[N * D];
    rng r = rng_seed(600);
    fill_uniform(&r, q, N * D, -1, 1);
    fill_uniform(&r, k, N * D, -1, 1);
    fill_uniform(&r, v, N * D, -1, 1);
    for (size_t i = 0; i < N; i++) {
        q[i * D + 2] = rng_range(&r, 0.25f, 1);
        k[i * D + 2] = rng_range(&r, 0.25f, 1);
    }
    q[3 * D + 2] = -0.5f;
    q[4 * D + 2] = 0.0f;
    for (int causal = 0; causal < 2; causal++) {
        unsigned fl = causal ? SIMDATTN_CAUSAL : 0;
        /* reference: key 7 removed by the mask in every row */
        for (size_t i = 0; i < N * N; i++) mask[i] = i % N == KEY ? -INFINITY : 0.0f;
        ck_assert_int_eq(run_head(N, N, D, q, k, v, mask, ref, fl | MODE->flags, ISA), SIMDATTN_OK);
        for (size_t i = 0; i < N * N; i++) mask[i] = 0.0f;
        float keep = k[KEY * D + 2];
        k[KEY * D + 2] = -INFINITY;
        ck_assert_int_eq(run_head(N, N, D, q, k, v, mask, o, fl | MODE->flags, ISA), SIMDATTN_OK);
        k[KEY * D + 2] = keep;
        for (size_t i = 0; i < N; i++) {
            int sees = !causal || i >= KEY;
            for (size_t e = 0; e < D; e++) {
                float got = o[i * D + e];
                if (sees && (i == 3 || i == 4))
                    ck_assert_msg(isnan(got), "%s causal=%d: +inf/NaN logit lost in row %zu",
                                  simdattn_isa_name(ISA), causal, i);
                else
                    ck_assert_msg(same_bits(got, ref[i * D + e]),
                                  "%s causal=%d: -inf logit is not a removed key (row %zu)",
                                  simdattn_isa_name(ISA), causal, i);
            }
        }
    }

    /* -inf in Q row 5 (coordinate 2, every key's is > 0): all its logits
     * are -inf, so the row is exactly 0; other rows are untouched */
    for (size_t i = 0; i < N * N; i++) mask[i] = 0.0f;
    q[3 * D + 2] = q[4 * D + 2] = 0.5f;
    ck_assert_int_eq(run_head(N, N, D, q, k, v, mask, ref, MODE->flags, ISA), SIMDATTN_OK);
    float keep = q[5 * D + 2];
    q[5 * D + 2] = -INFINITY;
    ck_assert_int_eq(run_head(N, N, D, q, k, v, mask, o, MODE->flags, ISA), SIMDATTN_OK);
    q[5 * D + 2] = keep;
    for (size_t i = 0; i < N * D; i++)
        ck_assert_msg(i / D == 5 ? same_bits(o[i], 0.0f) : same_bits(o[i], ref[i]),
                      "%s: -inf query row at %zu", simdattn_isa_name(ISA), i);

    /* +inf (row 6) and NaN (row 8) in the mask make their rows NaN and
     * leave the others alone */
    mask[6 * N + 9] = INFINITY;
    mask[8 * N + 1] = NAN;
    ck_assert_int_eq(run_head(N, N, D, q, k, v, mask, o, MODE->flags, ISA), SIMDATTN_OK);
    for (size_t i = 0; i < N * D; i++)
        ck_assert_msg(i / D == 6 || i / D == 8 ? isnan(o[i]) : same_bits(o[i], ref[i]),
                      "%s: +inf/NaN in the mask at %zu", simdattn_isa_name(ISA), i);
    mask[6 * N + 9] = mask[8 * N + 1] = 0.0f;

    /* a -inf mask value does not hide a NaN logit: K row 11 NaN, masked
     * out for row 2, still turns row 2 NaN (NaN + -inf is NaN) */
    mask[2 * N + 11] = -INFINITY;
    k[11 * D] = NAN;
    ck_assert_int_eq(run_head(N, N, D, q, k, v, mask, o, MODE->flags, ISA), SIMDATTN_OK);
    k[11 * D] = 0.5f;
    mask[2 * N + 11] = 0.0f;
    for (size_t e = 0; e < D; e++)
        ck_assert_msg(isnan(o[2 * D + e]), "%s: masked NaN key hidden", simdattn_isa_name(ISA));

    /* NaN and +inf in V (key 11): every row weighting key 11 shows it in
     * that column only; row 4, fully masked, stays exactly 0 */
    for (size_t j = 0; j < N; j++) mask[4 * N + j] = -INFINITY;
    for (int kind = 0; kind < 2; kind++) {
        v[11 * D + 6] = kind ? INFINITY : NAN;
        ck_assert_int_eq(run_head(N, N, D, q, k, v, mask, o, MODE->flags, ISA), SIMDATTN_OK);
        for (size_t i = 0; i < N; i++)
            for (size_t e = 0; e < D; e++) {
                float got = o[i * D + e];
                if (i == 4)
                    ck_assert_msg(same_bits(got, 0.0f), "%s: fully masked row %zu not +0 with %s in V",
                                  simdattn_isa_name(ISA), i, kind ? "inf" : "NaN");
                else if (e == 6)
                    ck_assert_msg(kind ? got == INFINITY : isnan(got), "%s: V %s lost in row %zu",
                                  simdattn_isa_name(ISA), kind ? "inf" : "NaN", i);
                else
                    ck_assert(isfinite(got));
            }
    }
}
END_TEST

/* Huge logits across several KV blocks and query tiles: logits m·3.5e34
 * for distinct integers m (|m| ≤ NK = 773, so |x| ≤ 2.8e37 < FLT_MAX and
 * every difference is ≥ 3.5e34), every exp of a difference is exactly 0
 * or 1:
 * each row is exactly the V row of its largest visible logit, whatever
 * block it lies in (rising: the last block; falling: the first; shuffled).
 * Any kernel that skipped the max subtraction, or rescaled wrongly across
 * blocks, gives Inf/NaN or another row. */
START_TEST(forward_huge_logits_blocks) {
    enum { NQ = 90, NK = 3 * KV_BLOCK + 5, D = 8 };
    float *q = calloc(NQ * D, sizeof(float)), *k = calloc(NK * D, sizeof(float));
    float *v = malloc(NK * D * sizeof(float)), *o = malloc(NQ * D * sizeof(float));
    rng r = rng_seed(700);
    fill_uniform(&r, v, NK * D, -1, 1);
    for (size_t i = 0; i < NQ; i++) q[i * D] = 1e15f;
    for (int order = 0; order < 3; order++)
        for (int causal = 0; causal < 2; causal++) {
            for (size_t j = 0; j < NK; j++) {
                long m = order == 0 ? (long)j : order == 1 ? (long)(NK - j)
                                                            : (long)((j * 7919) % NK) - NK / 2;
                k[j * D] = (float)m * 1e20f;
            }
            unsigned fl = (causal ? SIMDATTN_CAUSAL : 0) | MODE->flags;
            ck_assert_int_eq(run_head(NQ, NK, D, q, k, v, NULL, o, fl, ISA), SIMDATTN_OK);
            for (size_t i = 0; i < NQ; i++) {
                size_t last = causal ? i + NK - NQ : NK - 1, best = 0;
                for (size_t j = 1; j <= last; j++)
                    if (k[j * D] > k[best * D]) best = j;
                for (size_t e = 0; e < D; e++)
                    ck_assert_msg(same_bits(o[i * D + e], v[best * D + e]),
                                  "%s order=%d causal=%d O[%zu][%zu]=%.9g want V[%zu] = %.9g",
                                  simdattn_isa_name(ISA), order, causal, i, e, o[i * D + e], best,
                                  v[best * D + e]);
            }
        }
    free(q); free(k); free(v); free(o);
}
END_TEST

/* Rows left with no key only by causality and the mask together: causal
 * with Nq > Nk (the first rows see nothing) and Nq < Nk, over several
 * query tiles and KV blocks; the mask removes exactly the keys a chosen
 * row can see (keys it cannot see stay 0 in the mask).  Those rows must be
 * +0 exactly, every other row within the oracle's bound, even with a NaN in
 * a V row that the empty rows' tiles share. */
START_TEST(forward_empty_rows_combined) {
    static const size_t SHAPES[][2] = {{100, 300}, {200, 150}, {90, 90}};
    enum { D = 12 };
    for (size_t sh = 0; sh < N_OF(SHAPES); sh++)
        for (int vnan = 0; vnan < 2; vnan++) {
            size_t nq = SHAPES[sh][0], nk = SHAPES[sh][1];
            ptrdiff_t shift = (ptrdiff_t)nk - (ptrdiff_t)nq;
            float *q = malloc(nq * D * sizeof(float)), *k = malloc(nk * D * sizeof(float));
            float *v = malloc(nk * D * sizeof(float)), *o = malloc(nq * D * sizeof(float));
            float *mask = malloc(nq * nk * sizeof(float));
            double *want = malloc(nq * D * sizeof(double)), *tol = malloc(nq * D * sizeof(double));
            rng r = rng_seed(800 + sh);
            fill_uniform(&r, q, nq * D, -1, 1);
            fill_uniform(&r, k, nk * D, -1, 1);
            fill_uniform(&r, v, nk * D, -1, 1);
            for (size_t i = 0; i < nq; i++)
                for (size_t j = 0; j < nk; j++)
                    mask[i * nk + j] = i % 7 == 3 && (ptrdiff_t)j <= (ptrdiff_t)i + shift
                                           ? -INFINITY : rng_range(&r, -1, 1);
            /* NaN in V at the last key: only the last row sees it, but P·V
             * runs it through every row of the last query tile */
            size_t nan_key = nk - 1;
            if (vnan) v[nan_key * D + 5] = NAN;
            ck_assert_int_eq(run_head(nq, nk, D, q, k, v, mask, o, SIMDATTN_CAUSAL | MODE->flags, ISA),
                             SIMDATTN_OK);
            oracle_head oh = {nq, nk, D, 1.0f / sqrtf((float)D), 1, q, D, k, D, v, D,
                              mask, nk, KV_BLOCK, 0, 0.0f, 0, NULL, MODE->ulp,
                              oracle_splits(nq, 1, nk)};
            oracle_attention(&oh, want, tol);
            for (size_t i = 0; i < nq; i++) {
                int empty = i % 7 == 3 || (ptrdiff_t)i + shift < 0;
                int sees_nan = vnan && (ptrdiff_t)nan_key <= (ptrdiff_t)i + shift;
                for (size_t e = 0; e < D; e++) {
                    float got = o[i * D + e];
                    if (empty)
                        ck_assert_msg(same_bits(got, 0.0f), "%s nq=%zu nk=%zu vnan=%d: row %zu not +0",
                                      simdattn_isa_name(ISA), nq, nk, vnan, i);
                    else if (sees_nan && e == 5)
                        ck_assert(isnan(got));
                    else if (!vnan)
                        ck_assert_msg(fabs(got - want[i * D + e]) <= tol[i * D + e],
                                      "%s nq=%zu nk=%zu O[%zu][%zu]=%.9g want %.9g",
                                      simdattn_isa_name(ISA), nq, nk, i, e, got, want[i * D + e]);
                }
            }
            free(q); free(k); free(v); free(o); free(mask); free(want); free(tol);
        }
}
END_TEST

int main(void) {
    const suite_test tests[] = {
        {forward_grid, LOOP_ISA_MODES, 0},
        {forward_head_dims, LOOP_ISA_MODES, 0},
        {forward_gqa_masks, LOOP_ISA_MODES, 0},
        {forward_tile_edges, LOOP_ISA_MODES, 0},
        {forward_causal_more_queries, LOOP_ISA_MODES, 0},
        {forward_special_values, LOOP_ISA_MODES, 0},
        {forward_inf_policy, LOOP_ISA_MODES, 0},
        {forward_huge_logits_blocks, LOOP_ISA_MODES, 0},
        {forward_empty_rows_combined, LOOP_ISA_MODES, 0},
    };
    return run_tests("forward", 600, tests, N_OF(tests));
}
