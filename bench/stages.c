/*
 * The three stage kernels on their own, for every runnable ISA, head_dim
 * 128, on two tiles of query rows × keys:
 *   - the tile the fused forward feeds them: SA_FORWARD_MB × SA_FORWARD_NB
 *     (kernels/internal.h, the constants kernels/forward.c tiles with;
 *     42 × 256 today), so this case follows the driver's tile;
 *   - 84 × 128, the forward's tile when issue 3 set its stage targets
 *     ("each ≥ 0.85 of peak on their own for the P128 tile sizes"): kept so
 *     that target keeps its meaning; labelled "issue-3 tile".
 * They call the raw kernel table, as the forward does, so no argument
 * checking is timed.  For a tile m × n:
 *   qk/<isa>/m<m>n<n>d128      S = Q·Kᵀ on K packed once in setup
 *   softmax/<isa>/m<m>n<n>     online softmax of one key block, in place
 *   softmax/<isa>/m<m>n<n>-fastexp   the same with SIMDATTN_FAST_EXP
 *   pv/<isa>/m<m>n<n>d128      O = α⊙O + P·V
 * Flops: Q·Kᵀ and P·V 2·m·n·d (the α scaling, 1/n of P·V, is not
 * counted); softmax counts 5 per logit (scale, max, subtract, exp, sum),
 * exp as one, so its peak_frac is a throughput index, not comparable with
 * the matrix kernels'.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "internal.h"

enum { D = 128, SOFTMAX_FLOPS_PER_LOGIT = 5 };
/* Issue 3's stage targets were set on this tile (see the header). */
enum { ISSUE3_MB = 84, ISSUE3_NB = 128 };

/* What a case runs on: an ISA and a tile of MB query rows × NB keys. */
typedef struct stage_arg {
    simdattn_isa isa;
    int MB, NB;
} stage_arg;

typedef struct stage_ctx {
    const simdattn_kernels *t;
    int MB, NB;
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
    const stage_arg *a = arg;
    stage_ctx *c = calloc(1, sizeof *c);
    if (c) {
        c->t = simdattn_kernels_get(a->isa);
        c->MB = a->MB;
        c->NB = a->NB;
    }
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
    float *k = sab_floats((size_t)c->NB * D);
    c->a = sab_floats((size_t)c->MB * D);
    c->b = sab_floats(simdattn_packed_k_size(c->t, c->NB, D));
    c->c = sab_floats((size_t)c->MB * c->NB);
    if (!k || !c->a || !c->b || !c->c) {
        free(k);
        stage_teardown(c);
        return NULL;
    }
    sab_fill(c->a, (size_t)c->MB * D, -1.0f, 1.0f, 1);
    sab_fill(k, (size_t)c->NB * D, -1.0f, 1.0f, 2);
    simdattn_pack_k(c->t, c->NB, D, k, D, c->b);
    free(k);
    return c;
}

static const char *qk_run(void *ctx) {
    stage_ctx *c = ctx;
    c->t->qk(c->MB, c->NB, D, c->a, D, c->b, c->c, c->NB);
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
    c->a = sab_floats((size_t)c->MB * c->NB);
    c->row_max = sab_floats(c->MB);
    c->row_sum = sab_floats(c->MB);
    c->alpha = sab_floats(c->MB);
    if (!c->a || !c->row_max || !c->row_sum || !c->alpha) {
        stage_teardown(c);
        return NULL;
    }
    sab_fill(c->a, (size_t)c->MB * c->NB, -6.5f, 6.5f, 3);
    return c;
}

static void softmax_block(stage_ctx *c, unsigned flags) {
    for (int i = 0; i < c->MB; i++) { /* a fresh row state: first key block */
        c->row_max[i] = -INFINITY;
        c->row_sum[i] = 0.0f;
    }
    c->t->softmax_online(c->MB, c->NB, 1.0f / sqrtf((float)D), NULL, 0, c->a,
                         c->NB, c->row_max, c->row_sum, c->alpha, flags);
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
    c->a = sab_floats((size_t)c->MB * c->NB);
    c->b = sab_floats((size_t)c->NB * D);
    c->c = sab_floats((size_t)c->MB * D);
    c->alpha = sab_floats(c->MB);
    if (!c->a || !c->b || !c->c || !c->alpha) {
        stage_teardown(c);
        return NULL;
    }
    sab_fill(c->a, (size_t)c->MB * c->NB, 0.0f, 2.0f / c->NB, 4);
    sab_fill(c->b, (size_t)c->NB * D, -1.0f, 1.0f, 5);
    for (int i = 0; i < c->MB; i++)
        c->alpha[i] = 0.5f;
    return c;
}

static const char *pv_run(void *ctx) {
    stage_ctx *c = ctx;
    c->t->pv(c->MB, c->NB, D, c->a, c->NB, c->b, D, c->alpha, c->c, D);
    return NULL;
}

/* The four stage cases of one ISA on one tile; `tile` prefixes their
 * labels ("" or "issue-3 tile; "). */
static void register_tile(const stage_arg *a, const char *tile) {
    const char *isa = simdattn_isa_name(a->isa);
    const double matmul = 2.0 * a->MB * a->NB * D;
    const double logits = (double)SOFTMAX_FLOPS_PER_LOGIT * a->MB * a->NB;
    char name[64], lab[3][96];
    snprintf(lab[0], sizeof lab[0], "%spacked K", tile);
    snprintf(lab[1], sizeof lab[1], "%sonline; 5 flop/logit, exp as 1", tile);
    snprintf(lab[2], sizeof lab[2], "%sonline, SIMDATTN_FAST_EXP; 5 flop/logit", tile);
    snprintf(name, sizeof name, "qk/%s/m%dn%dd%d", isa, a->MB, a->NB, D);
    sab_add(&(sab_case){.name = name, .setup = qk_setup, .run = qk_run,
                        .teardown = stage_teardown, .arg = a, .flops = matmul,
                        .flop_peak = sab_fma_peak(a->isa), .label = lab[0]});
    snprintf(name, sizeof name, "softmax/%s/m%dn%d", isa, a->MB, a->NB);
    sab_add(&(sab_case){.name = name, .setup = softmax_setup,
                        .run = softmax_run, .teardown = stage_teardown, .arg = a,
                        .flops = logits, .flop_peak = sab_fma_peak(a->isa),
                        .label = lab[1]});
    snprintf(name, sizeof name, "softmax/%s/m%dn%d-fastexp", isa, a->MB, a->NB);
    sab_add(&(sab_case){.name = name, .setup = softmax_setup,
                        .run = softmax_fastexp_run, .teardown = stage_teardown,
                        .arg = a, .flops = logits,
                        .flop_peak = sab_fma_peak(a->isa), .label = lab[2]});
    snprintf(name, sizeof name, "pv/%s/m%dn%dd%d", isa, a->MB, a->NB, D);
    sab_add(&(sab_case){.name = name, .setup = pv_setup, .run = pv_run,
                        .teardown = stage_teardown, .arg = a, .flops = matmul,
                        .flop_peak = sab_fma_peak(a->isa),
                        .label = *tile ? "issue-3 tile" : NULL});
}

void sab_register_stages(void) {
    static simdattn_isa isas[SIMDATTN_ISA_COUNT];
    static stage_arg args[SIMDATTN_ISA_COUNT][2];
    int n = sab_isas(isas);
    for (int i = 0; i < n; i++) {
        args[i][0] = (stage_arg){isas[i], SA_FORWARD_MB, SA_FORWARD_NB};
        args[i][1] = (stage_arg){isas[i], ISSUE3_MB, ISSUE3_NB};
        register_tile(&args[i][0], "");
        register_tile(&args[i][1], "issue-3 tile; ");
    }
}
