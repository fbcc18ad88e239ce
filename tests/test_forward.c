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

#include "oracle.h"
#include "util.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* The driver's KV block (kernels/forward.c NB): the oracle's bound counts
 * one online-softmax rescale per block. */
enum { KV_BLOCK = 256 };
/* The driver's query tile (kernels/forward.c MB), for edge shapes only. */
enum { Q_TILE = 42 };

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
                KV_BLOCK, mode->ulp};
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
                else if (what == 0) /* a NaN query row reaches no other row */
                    ck_assert(isfinite(o[i * D + e]));
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

/* SIMDATTN_DETERMINISTIC and SIMDATTN_FAST_EXP: every ISA returns the
 * scalar forward's bits (simdattn.h).  Shapes cross the tile (42 rows) and
 * KV block (256 keys) edges, with a mask, causal and not, GQA. */
START_TEST(forward_bits_match_scalar) {
    static const cfg CFG[] = {
        {1, 1, 1, 100, 257, 80, 0, 0, 1, 0},
        {1, 2, 1, 85, 130, 33, 1, 1, 2, 0.2f},
        {2, 2, 2, 7, 300, 64, 1, 0, 3, 0},
    };
    static const unsigned SAME_BITS[] = {SIMDATTN_DETERMINISTIC, SIMDATTN_FAST_EXP};
    for (size_t n = 0; n < N_OF(CFG) * N_OF(SAME_BITS); n++) {
        const cfg *c = &CFG[n % N_OF(CFG)];
        rng r = rng_seed(600 + n % N_OF(CFG));
        tensors t = make(c, &r);
        simdattn_forward_desc d = describe(c, &t, ISA);
        d.flags |= SAME_BITS[n / N_OF(CFG)];
        ck_assert_int_eq(simdattn_forward(&d), SIMDATTN_OK);
        float *got = malloc(t.o_total * sizeof(float));
        memcpy(got, t.o, t.o_total * sizeof(float));
        d.isa = SIMDATTN_ISA_SCALAR;
        ck_assert_int_eq(simdattn_forward(&d), SIMDATTN_OK);
        for (size_t i = 0; i < t.o_total; i++)
            ck_assert_msg(memcmp(&got[i], &t.o[i], sizeof(float)) == 0,
                          "%s forward (flags %u, config %zu) differs from scalar at %zu: "
                          "%a != %a", simdattn_isa_name(ISA), d.flags, n % N_OF(CFG), i, got[i],
                          t.o[i]);
        free(got);
        release(&t);
    }
}
END_TEST

int main(void) {
    isa_list_init();
    Suite *s = suite_create("forward");
    TCase *tc = tcase_create("forward");
    tcase_set_timeout(tc, 600);
    const int modes = test_isa_count * EXP_MODE_COUNT; /* every ISA × exp mode */
    tcase_add_loop_test(tc, forward_grid, 0, modes);
    tcase_add_loop_test(tc, forward_head_dims, 0, modes);
    tcase_add_loop_test(tc, forward_gqa_masks, 0, modes);
    tcase_add_loop_test(tc, forward_tile_edges, 0, modes);
    tcase_add_loop_test(tc, forward_causal_more_queries, 0, modes);
    tcase_add_loop_test(tc, forward_special_values, 0, modes);
    tcase_add_loop_test(tc, forward_bits_match_scalar, 0, test_isa_count);
    suite_add_tcase(s, tc);
    return run_suite(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
