/*
 * fp16/bf16 KV caches (simdattn_forward_desc.kv_dtype) and the widening
 * kernel behind them, on every ISA this host runs:
 *   - widening: all 65536 bit patterns of each type widen to values that
 *     tests/util's independent narrowing (f32_to_f16 / f32_to_bf16, round
 *     to nearest even) takes back to the same bits (NaNs stay NaN), and
 *     every ISA gives the scalar reference's bits (sa_f16_to_f32 /
 *     sa_bf16_to_f32, signalling-NaN quieting included) at odd lengths and
 *     misaligned pointers, writing nothing outside dst (canaries);
 *   - the forward on a 16-bit cache gives exactly the bits of the same
 *     forward on an fp32 cache holding the widened values (widening is
 *     exact, the fp32 kernels then run unchanged): every exp mode, odd
 *     shapes, row strides larger than the row, GQA/MQA, causal, windows,
 *     per-entry KV lengths, d_v ≠ d, soft-capping, additive and key masks,
 *     threads and the task interface;
 *   - against the fp32 K and V before rounding, within the bound of
 *     oracle.c that propagates the 2^-11 (fp16) / 2^-8 (bf16) relative
 *     rounding of K and V through the logits and the weighted sum.
 * Keys past an entry's KV length, and the gaps between rows, hold NaN in
 * both caches: reading one shows up as a non-finite output.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "oracle.h"
#include "util.h"

static const simdattn_dtype DTYPES[] = {SIMDATTN_F16, SIMDATTN_BF16};

static const char *dtype_name(simdattn_dtype t) {
    return t == SIMDATTN_F16 ? "f16" : "bf16";
}
/* The test side's narrowing (util.c), written apart from the library. */
static uint16_t narrow(simdattn_dtype t, float x) {
    return t == SIMDATTN_F16 ? f32_to_f16(x) : f32_to_bf16(x);
}
/* The library's scalar reference widening (kernels/internal.h). */
static float widen_ref(simdattn_dtype t, uint16_t h) {
    return t == SIMDATTN_F16 ? sa_f16_to_f32(h) : sa_bf16_to_f32(h);
}
static int is_nan_pattern(simdattn_dtype t, uint16_t h) {
    return t == SIMDATTN_F16 ? (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu)
                             : (h & 0x7f80u) == 0x7f80u && (h & 0x7fu);
}
static uint32_t bits_of(float x) {
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}
/* A quiet NaN of type t (never a value the inputs round to). */
static uint16_t nan_pattern(simdattn_dtype t) {
    return t == SIMDATTN_F16 ? 0x7e00u : 0x7fc0u;
}

/* ---------------------------------------------------------------------
 * The widening kernel
 * --------------------------------------------------------------------- */
/* All 65536 patterns in one call: round trip through the independent
 * narrowing, and the reference's bits (a signalling fp16 NaN comes out
 * quiet with its payload, as vcvtph2ps and fcvtl make it). */
START_TEST(widen_round_trip) {
    enum { ALL = 65536 };
    uint16_t *src = malloc(ALL * sizeof(uint16_t));
    float *dst = malloc(ALL * sizeof(float));
    for (size_t i = 0; i < ALL; i++)
        src[i] = (uint16_t)i;
    for (size_t t = 0; t < N_OF(DTYPES); t++) {
        simdattn_dtype dt = DTYPES[t];
        ck_assert_int_eq(simdattn_widen(ISA, dt, ALL, src, dst), SIMDATTN_OK);
        for (size_t i = 0; i < ALL; i++) {
            uint16_t h = (uint16_t)i;
            float x = dst[i];
            if (is_nan_pattern(dt, h))
                REQUIRE(isnan(x), "%s %s: NaN 0x%04x widened to %a", simdattn_isa_name(ISA),
                        dtype_name(dt), h, x);
            else
                REQUIRE(narrow(dt, x) == h, "%s %s: 0x%04x widened to %a, which narrows to 0x%04x",
                        simdattn_isa_name(ISA), dtype_name(dt), h, x, narrow(dt, x));
            REQUIRE(bits_of(x) == bits_of(widen_ref(dt, h)),
                    "%s %s: 0x%04x widened to 0x%08x, reference 0x%08x", simdattn_isa_name(ISA),
                    dtype_name(dt), h, bits_of(x), bits_of(widen_ref(dt, h)));
        }
    }
    free(src);
    free(dst);
}
END_TEST

/* Odd lengths around every vector width (4, 8, 16) and misaligned src and
 * dst; canaries on both sides of dst; random patterns (NaNs included). */
START_TEST(widen_lengths) {
    static const size_t LEN[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 65, 100, 257};
    enum { PAD = 16 };
    rng r = rng_seed(11000);
    for (size_t t = 0; t < N_OF(DTYPES); t++)
        for (size_t a = 0; a < N_OF(LEN); a++)
            for (size_t off = 0; off < 3; off++) {
                simdattn_dtype dt = DTYPES[t];
                size_t n = LEN[a], so = off * 3 % 4, dof = off;
                uint16_t *sbuf = malloc((n + 4) * sizeof(uint16_t));
                float *dbuf = aligned_alloc(64, ((n + 2 * PAD) * sizeof(float) + 63) / 64 * 64);
                const uint16_t *src = sbuf + so;
                float *dst = dbuf + PAD + dof;
                for (size_t i = 0; i < n + 4; i++)
                    sbuf[i] = (uint16_t)(rng_uniform(&r) * 65536);
                for (size_t i = 0; i < n + 2 * PAD; i++)
                    dbuf[i] = canary();
                ck_assert_int_eq(simdattn_widen(ISA, dt, n, src, dst), SIMDATTN_OK);
                for (size_t i = 0; i < n + 2 * PAD; i++) {
                    int inside = i >= PAD + dof && i < PAD + dof + n;
                    if (!inside)
                        REQUIRE(is_canary(dbuf[i]), "%s %s n=%zu: wrote outside dst at %zu",
                                simdattn_isa_name(ISA), dtype_name(dt), n, i);
                    else {
                        uint16_t h = src[i - PAD - dof];
                        REQUIRE(bits_of(dbuf[i]) == bits_of(widen_ref(dt, h)),
                                "%s %s n=%zu: 0x%04x at %zu widened to 0x%08x", simdattn_isa_name(ISA),
                                dtype_name(dt), n, h, i - PAD - dof, bits_of(dbuf[i]));
                    }
                }
                free(sbuf);
                free(dbuf);
            }
}
END_TEST

/* ---------------------------------------------------------------------
 * The forward on a 16-bit cache
 * --------------------------------------------------------------------- */
typedef struct cfg {
    size_t batch, hq, hk, nq, nk, d, dv; /* dv 0: d */
    int causal;
    size_t window;
    int lens;      /* per-entry KV lengths */
    size_t pad;    /* extra elements per K and V row (stride > row) */
    float cap;
    int masks;     /* an additive mask [b][h][i][j] and a key mask [b][j] */
} cfg;

static const cfg CFGS[] = {
    {1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0},
    {2, 4, 2, 19, 150, 24, 0, 1, 0, 0, 3, 0, 0},
    {1, 2, 1, 100, 300, 33, 17, 1, 40, 0, 1, 0, 0},
    {3, 3, 1, 45, 257, 31, 80, 0, 0, 1, 5, 0, 0},
    {1, 1, 1, 85, 513, 128, 0, 1, 0, 0, 0, 0, 0},
    {2, 2, 2, 7, 90, 16, 0, 0, 30, 1, 2, 2.5f, 0},
    {2, 2, 1, 50, 300, 20, 12, 1, 0, 0, 1, 0, 1},
};

/* Inputs of one configuration: fp32 K/V before rounding, the 16-bit
 * cache, and the fp32 cache of the widened values, the caches with the
 * same strides (row stride d + pad, BHSD). */
typedef struct inputs {
    float *q, *k, *v, *kw, *vw, *o, *mask;
    uint16_t *k16, *v16;
    unsigned char *keep;
    size_t *lens;
    size_t ks[3], vs[3], k_total, v_total, o_total, dv;
} inputs;

static inputs make(const cfg *c, simdattn_dtype dt, rng *r) {
    inputs in = {0};
    size_t d = c->d, dv = c->dv ? c->dv : d;
    in.dv = dv;
    in.ks[2] = d + c->pad; in.ks[1] = c->nk * in.ks[2]; in.ks[0] = c->hk * in.ks[1];
    in.vs[2] = dv + c->pad; in.vs[1] = c->nk * in.vs[2]; in.vs[0] = c->hk * in.vs[1];
    in.k_total = c->batch * in.ks[0];
    in.v_total = c->batch * in.vs[0];
    in.o_total = c->batch * c->hq * c->nq * dv;
    size_t nq_el = c->batch * c->hq * c->nq * d;
    in.q = malloc(nq_el * sizeof(float));
    fill_uniform(r, in.q, nq_el, -1, 1);
    in.o = malloc(in.o_total * sizeof(float));
    if (c->masks) {
        size_t n = c->batch * c->hq * c->nq * c->nk;
        in.mask = malloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++)
            in.mask[i] = rng_uniform(r) < 0.15 ? -INFINITY : rng_range(r, -2, 2);
        in.keep = malloc(c->batch * c->nk);
        for (size_t i = 0; i < c->batch * c->nk; i++) /* key 256 on: removed */
            in.keep[i] = i % c->nk < 256 && rng_uniform(r) < 0.8;
    }
    if (c->lens) {
        in.lens = malloc(c->batch * sizeof(size_t));
        for (size_t b = 0; b < c->batch; b++) /* full, empty, short */
            in.lens[b] = b % 3 == 0 ? c->nk : b % 3 == 1 ? 0 : c->nk / 3 + 1;
    }
    for (int kv = 0; kv < 2; kv++) {
        size_t total = kv ? in.v_total : in.k_total, ld = kv ? in.vs[2] : in.ks[2];
        size_t row = kv ? dv : d, per_entry = kv ? in.vs[0] : in.ks[0];
        float *x = malloc(total * sizeof(float)), *w = malloc(total * sizeof(float));
        uint16_t *h = malloc(total * sizeof(uint16_t));
        for (size_t i = 0; i < total; i++) {
            size_t b = i / per_entry, j = i % (c->nk * ld) / ld;
            size_t len = in.lens ? in.lens[b] : c->nk;
            if (i % ld >= row || j >= len) { /* never read: NaN */
                x[i] = w[i] = NAN;
                h[i] = nan_pattern(dt);
            } else {
                x[i] = rng_range(r, -1, 1);
                h[i] = narrow(dt, x[i]);
                w[i] = widen_ref(dt, h[i]);
            }
        }
        if (kv) { in.v = x; in.vw = w; in.v16 = h; }
        else { in.k = x; in.kw = w; in.k16 = h; }
    }
    return in;
}

static void release(inputs *in) {
    free(in->q); free(in->k); free(in->v); free(in->kw); free(in->vw); free(in->o);
    free(in->k16); free(in->v16); free(in->lens); free(in->mask); free(in->keep);
}

static simdattn_forward_desc describe(const cfg *c, const inputs *in, simdattn_isa isa) {
    simdattn_forward_desc d = {0};
    d.batch = c->batch; d.q_heads = c->hq; d.kv_heads = c->hk;
    d.q_len = c->nq; d.kv_len = c->nk; d.head_dim = c->d; d.head_dim_v = c->dv;
    d.flags = c->causal ? SIMDATTN_CAUSAL : 0;
    d.window = c->window;
    d.softcap = c->cap;
    d.q = (simdattn_tensor){in->q, c->hq * c->nq * c->d, c->nq * c->d, c->d};
    d.k = (simdattn_tensor){in->kw, in->ks[0], in->ks[1], in->ks[2]};
    d.v = (simdattn_tensor){in->vw, in->vs[0], in->vs[1], in->vs[2]};
    d.o = in->o;
    d.o_stride_batch = c->hq * c->nq * in->dv; d.o_stride_head = c->nq * in->dv;
    d.o_stride_seq = in->dv;
    d.kv_lens = in->lens;
    if (in->mask) {
        d.mask = (simdattn_tensor){in->mask, c->hq * c->nq * c->nk, c->nq * c->nk, c->nk};
        d.key_mask = in->keep;
        d.key_mask_stride_batch = c->nk;
    }
    d.isa = isa;
    return d;
}

/* The three exp modes: each gives its own bits, and the 16-bit cache
 * must reproduce them. */
static const unsigned MODES[] = {0, SIMDATTN_DETERMINISTIC, SIMDATTN_FAST_EXP};

START_TEST(forward_bits_match_widened) {
    for (size_t n = 0; n < N_OF(CFGS); n++)
        for (size_t t = 0; t < N_OF(DTYPES); t++)
            for (size_t md = 0; md < N_OF(MODES); md++) {
                const cfg *c = &CFGS[n];
                simdattn_dtype dt = DTYPES[t];
                rng r = rng_seed(12000 + n);
                inputs in = make(c, dt, &r);
                simdattn_forward_desc d = describe(c, &in, ISA);
                d.flags |= MODES[md];
                const size_t bytes = in.o_total * sizeof(float);
                ck_assert_int_eq(simdattn_forward(&d), SIMDATTN_OK);
                float *want = malloc(bytes);
                memcpy(want, in.o, bytes);
                for (size_t i = 0; i < in.o_total; i++)
                    REQUIRE(isfinite(want[i]), "config %zu: fp32 forward read a NaN key", n);
                d.kv_dtype = dt;
                d.k.data = in.k16;
                d.v.data = in.v16;
                for (int run = 0; run < 3; run++) { /* threads 1, 2, tasks */
                    for (size_t i = 0; i < in.o_total; i++)
                        in.o[i] = canary();
                    d.threads = run == 1 ? 2 : 1;
                    if (run < 2)
                        ck_assert_int_eq(simdattn_forward(&d), SIMDATTN_OK);
                    else
                        run_tasks_reversed(&d);
                    for (size_t i = 0; i < in.o_total; i++)
                        REQUIRE(bits_of(in.o[i]) == bits_of(want[i]),
                                "%s %s config %zu flags %u run %d: O[%zu] = %a, widened fp32 %a",
                                simdattn_isa_name(ISA), dtype_name(dt), n, d.flags, run, i,
                                in.o[i], want[i]);
                }
                free(want);
                release(&in);
            }
}
END_TEST

/* Against the fp32 K and V before rounding: the oracle's exact result of
 * those, within its fp32 bound extended by the rounding of K and V
 * (oracle.c: relative ρ = 2^-11 fp16, 2^-8 bf16, the unit roundoff of an
 * 11- or 8-bit significand; absolute a = 2^-25 fp16, half its subnormal
 * spacing 2^-24, 2^-134 bf16; inputs in [-1, 1], far from fp16
 * overflow). */
START_TEST(forward_vs_unrounded) {
    for (size_t n = 0; n < N_OF(CFGS); n++)
        for (size_t t = 0; t < N_OF(DTYPES); t++) {
            const cfg *c = &CFGS[n];
            simdattn_dtype dt = DTYPES[t];
            rng r = rng_seed(13000 + n);
            inputs in = make(c, dt, &r);
            simdattn_forward_desc d = describe(c, &in, ISA);
            d.flags |= MODE->flags;
            d.kv_dtype = dt;
            d.k.data = in.k16;
            d.v.data = in.v16;
            ck_assert_int_eq(simdattn_forward(&d), SIMDATTN_OK);
            size_t dv = in.dv;
            double *o = malloc(c->nq * dv * sizeof(double));
            double *bound = malloc(c->nq * dv * sizeof(double));
            float scale = 1.0f / sqrtf((float)c->d);
            for (size_t b = 0; b < c->batch; b++)
                for (size_t h = 0; h < c->hq; h++) {
                    size_t g = h / (c->hq / c->hk);
                    oracle_head oh = {
                        c->nq, in.lens ? in.lens[b] : c->nk, c->d, scale, c->causal,
                        in.q + b * d.q.stride_batch + h * d.q.stride_head, c->d,
                        in.k + b * in.ks[0] + g * in.ks[1], in.ks[2],
                        in.v + b * in.vs[0] + g * in.vs[1], in.vs[2],
                        in.mask ? in.mask + b * d.mask.stride_batch + h * d.mask.stride_head
                                : NULL,
                        c->nk, sa_forward_block_keys(), dv, c->cap, c->window,
                        in.keep ? in.keep + b * c->nk : NULL, MODE->ulp,
                        oracle_splits(c->nq, c->hq / c->hk, in.lens ? in.lens[b] : c->nk)};
                    oracle_attention_kv(&oh, dt == SIMDATTN_F16 ? 0x1p-11 : 0x1p-8,
                                        dt == SIMDATTN_F16 ? 0x1p-25 : 0x1p-134, o, bound);
                    for (size_t i = 0; i < c->nq; i++)
                        for (size_t e = 0; e < dv; e++) {
                            float got = in.o[b * d.o_stride_batch + h * d.o_stride_head +
                                             i * dv + e];
                            double want = o[i * dv + e], tol = bound[i * dv + e];
                            REQUIRE(fabs(got - want) <= tol,
                                    "%s %s %s config %zu b=%zu h=%zu O[%zu][%zu] = %.9g want "
                                    "%.9g tol %.3g",
                                    simdattn_isa_name(ISA), dtype_name(dt), MODE->name, n, b, h,
                                    i, e, got, want, tol);
                        }
                }
            free(o);
            free(bound);
            release(&in);
        }
}
END_TEST

int main(void) {
    const suite_test tests[] = {
        {widen_round_trip, LOOP_ISAS, 0},
        {widen_lengths, LOOP_ISAS, 0},
        {forward_bits_match_widened, LOOP_ISAS, 0},
        {forward_vs_unrounded, LOOP_ISA_MODES, 0},
    };
    return run_tests("kvtype", 600, tests, sizeof tests / sizeof tests[0]);
}
