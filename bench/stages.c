/*
 * The three stage kernels on their own, for every runnable ISA, at the tile
 * the fused forward feeds them on P128: MB = 84 query rows against NB = 128
 * keys, head_dim 128 (MB and NB as in kernels/forward.c).  They call the
 * raw kernel table, as the forward does, so no argument checking is timed.
 *   qk/<isa>/m84n128d128       S = Q·Kᵀ on K packed once in setup
 *   softmax/<isa>/m84n128      online softmax of one key block, in place
 *   softmax/<isa>/m84n128-fastexp   the same with SIMDATTN_FAST_EXP
 *   pv/<isa>/m84n128d128       O = α⊙O + P·V
 * Flops: Q·Kᵀ and P·V 2·m·n·d (the α scaling, 1/n of P·V, is not
 * counted); softmax counts 5 per logit (scale, max, subtract, exp, sum),
 * exp as one, so its peak_frac is a throughput index, not comparable with
 * the matrix kernels'.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

enum { MB = 84, NB = 128, D = 128, SOFTMAX_FLOPS_PER_LOGIT = 5 };

typedef struct stage_ctx {
    const simdattn_kernels *t;
    float *a, *b, *c; /* qk: Q, packed K, S; softmax: S; pv: P, V, O */
    float *row_max, *row_sum, *alpha;
} stage_ctx;

static void stage_teardown(void *ctx) {
    stage_ctx *c = ctx;
    free(c->a);
    free(c->b);
    free(c->c);
    free(c->row_max);
    free(c->row_sum);
    free(c->alpha);
    free(c);
}

static stage_ctx *stage_new(const void *arg) {
    stage_ctx *c = calloc(1, sizeof *c);
    if (c)
        c->t = simdattn_kernels_get(*(const simdattn_isa *)arg);
    if (c && !c->t) {
        free(c);
        return NULL;
    }
    return c;
}

static void *qk_setup(const void *arg) {
    stage_ctx *c = stage_new(arg);
    if (!c)
        return NULL;
    float *k = sab_floats((size_t)NB * D);
    c->a = sab_floats((size_t)MB * D);
    c->b = sab_floats(simdattn_packed_k_size(c->t, NB, D));
    c->c = sab_floats((size_t)MB * NB);
    if (!k || !c->a || !c->b || !c->c) {
        free(k);
        stage_teardown(c);
        return NULL;
    }
    sab_fill(c->a, (size_t)MB * D, -1.0f, 1.0f, 1);
    sab_fill(k, (size_t)NB * D, -1.0f, 1.0f, 2);
    simdattn_pack_k(c->t, NB, D, k, D, c->b);
    free(k);
    return c;
}

static const char *qk_run(void *ctx) {
    stage_ctx *c = ctx;
    c->t->qk(MB, NB, D, c->a, D, c->b, c->c, NB);
    return NULL;
}

/* Logits as Q·Kᵀ gives them for inputs in [-1, 1] at d = 128 (spread about
 * ±sqrt(d/3) ≈ ±6.5).  The kernel works in place, so later calls see its
 * own outputs (probabilities) as logits: exp's cost does not depend on
 * the value, and refreshing the tile would time a copy instead. */
static void *softmax_setup(const void *arg) {
    stage_ctx *c = stage_new(arg);
    if (!c)
        return NULL;
    c->a = sab_floats((size_t)MB * NB);
    c->row_max = sab_floats(MB);
    c->row_sum = sab_floats(MB);
    c->alpha = sab_floats(MB);
    if (!c->a || !c->row_max || !c->row_sum || !c->alpha) {
        stage_teardown(c);
        return NULL;
    }
    sab_fill(c->a, (size_t)MB * NB, -6.5f, 6.5f, 3);
    return c;
}

static void softmax_block(stage_ctx *c, unsigned flags) {
    for (int i = 0; i < MB; i++) { /* a fresh row state: first key block */
        c->row_max[i] = -INFINITY;
        c->row_sum[i] = 0.0f;
    }
    c->t->softmax_online(MB, NB, 1.0f / sqrtf((float)D), NULL, 0, c->a, NB,
                         c->row_max, c->row_sum, c->alpha, flags);
}

static const char *softmax_run(void *ctx) {
    softmax_block(ctx, 0);
    return NULL;
}

static const char *softmax_fastexp_run(void *ctx) {
    softmax_block(ctx, SIMDATTN_FAST_EXP);
    return NULL;
}

/* P holds probabilities (about 1/NB each), α = 0.5 so that O, updated in
 * place call after call, stays bounded (|O| ≤ 2·max|P·V|). */
static void *pv_setup(const void *arg) {
    stage_ctx *c = stage_new(arg);
    if (!c)
        return NULL;
    c->a = sab_floats((size_t)MB * NB);
    c->b = sab_floats((size_t)NB * D);
    c->c = sab_floats((size_t)MB * D);
    c->alpha = sab_floats(MB);
    if (!c->a || !c->b || !c->c || !c->alpha) {
        stage_teardown(c);
        return NULL;
    }
    sab_fill(c->a, (size_t)MB * NB, 0.0f, 2.0f / NB, 4);
    sab_fill(c->b, (size_t)NB * D, -1.0f, 1.0f, 5);
    for (int i = 0; i < MB; i++)
        c->alpha[i] = 0.5f;
    return c;
}

static const char *pv_run(void *ctx) {
    stage_ctx *c = ctx;
    c->t->pv(MB, NB, D, c->a, NB, c->b, D, c->alpha, c->c, D);
    return NULL;
}

void sab_register_stages(void) {
    static simdattn_isa isas[SIMDATTN_ISA_COUNT];
    int n = sab_isas(isas);
    const double matmul = 2.0 * MB * NB * D;
    for (int i = 0; i < n; i++) {
        const char *isa = simdattn_isa_name(isas[i]);
        char name[64];
        snprintf(name, sizeof name, "qk/%s/m%dn%dd%d", isa, MB, NB, D);
        sab_add(&(sab_case){.name = name, .setup = qk_setup, .run = qk_run,
                            .teardown = stage_teardown, .arg = &isas[i],
                            .flops = matmul,
                            .flop_peak = sab_fma_peak(isas[i]),
                            .label = "packed K"});
        snprintf(name, sizeof name, "softmax/%s/m%dn%d", isa, MB, NB);
        sab_add(&(sab_case){.name = name, .setup = softmax_setup,
                            .run = softmax_run, .teardown = stage_teardown,
                            .arg = &isas[i],
                            .flops = (double)SOFTMAX_FLOPS_PER_LOGIT * MB * NB,
                            .flop_peak = sab_fma_peak(isas[i]),
                            .label = "online; 5 flop/logit, exp as 1"});
        snprintf(name, sizeof name, "softmax/%s/m%dn%d-fastexp", isa, MB, NB);
        sab_add(&(sab_case){.name = name, .setup = softmax_setup,
                            .run = softmax_fastexp_run, .teardown = stage_teardown,
                            .arg = &isas[i],
                            .flops = (double)SOFTMAX_FLOPS_PER_LOGIT * MB * NB,
                            .flop_peak = sab_fma_peak(isas[i]),
                            .label = "online, SIMDATTN_FAST_EXP; 5 flop/logit"});
        snprintf(name, sizeof name, "pv/%s/m%dn%dd%d", isa, MB, NB, D);
        sab_add(&(sab_case){.name = name, .setup = pv_setup, .run = pv_run,
                            .teardown = stage_teardown, .arg = &isas[i],
                            .flops = matmul,
                            .flop_peak = sab_fma_peak(isas[i])});
    }
}
