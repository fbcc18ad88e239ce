/*
 * What inference engines need from the fused forward, on every ISA this
 * host runs: visibility (causal, sliding windows, per-entry KV lengths,
 * boolean key masks, additive masks broadcast through zero strides), GQA
 * and MQA at odd ratios, d_v ≠ d, logit soft-capping, and threads.
 *
 * Every configuration is checked four ways: against the double oracle
 * with the per-element bound derived in oracle.c; against the scalar
 * forward (within twice that bound, since both obey it); bit for bit
 * across desc.threads = 1, 2, 3 and the task interface run in reverse
 * order (items never share a reduction, so any schedule gives the same
 * bits); and for writes outside O (canaries).  Keys the driver promises
 * never to read (past an entry's KV length, in blocks outside every row's
 * interval, in blocks the key mask removes whole) hold NaN in K, V and
 * the mask, so reading one shows up as a NaN output.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "oracle.h"
#include "util.h"

/* engine_arguments' decode forward with a huge d_v asks for a workspace
 * that fits in size_t but not in memory (OUT_OF_MEMORY): under
 * AddressSanitizer that must fail like malloc does, not abort. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

typedef struct cfg {
    size_t batch, hq, hk, nq, nk, d, dv; /* dv 0: same as d */
    unsigned flags;                      /* CAUSAL, DETERMINISTIC */
    int bshd;
    int mask;      /* additive mask: 0 none, else 1 + bits of the axes that
                      vary (1 batch, 2 head, 4 row); the others get stride
                      0 (broadcast) */
    int keymask;   /* 0 none, 1 one row per entry, 2 one row shared */
    size_t window; /* 0 none */
    int lens;      /* per-entry KV lengths: 0 none, 1 ragged */
    float scale, cap;
    simdattn_dtype kv; /* KV element type (fp16/bf16: decode shapes) */
} cfg;

typedef struct tensors {
    float *q, *k, *v, *mask, *obuf, *o;
    uint16_t *k16, *v16; /* K and V as fp16/bf16 bits (cfg.kv ≠ F32); k
                            and v then hold them widened, for the oracle */
    unsigned char *keep;
    size_t *lens;
    size_t qs[3], ks[3], vs[3], ms[3], os[3], keep_stride;
    size_t o_total, dv;
} tensors;

static size_t block_keys(void) { return sa_forward_block_keys(); }

/* Strides of a [batch][heads][seq][dim] tensor, BHSD or BSHD. */
static void strides(int bshd, size_t heads, size_t seq, size_t dim, size_t *s) {
    if (bshd) { s[0] = seq * heads * dim; s[1] = dim; s[2] = heads * dim; }
    else { s[0] = heads * seq * dim; s[1] = seq * dim; s[2] = dim; }
}

static size_t entry_len(const cfg *c, const tensors *t, size_t b) {
    return t->lens ? t->lens[b] : c->nk;
}

/* The visible interval of row i of an entry with len keys, as simdattn.h
 * defines it, for poisoning; the oracle checks key by key on its own. */
static void interval(const cfg *c, size_t len, size_t i, long long *lo, long long *hi) {
    long long p = (long long)i + (long long)len - (long long)c->nq, w = (long long)c->window;
    int causal = (c->flags & SIMDATTN_CAUSAL) != 0;
    *lo = 0;
    *hi = (long long)len;
    if (causal && p + 1 < *hi) *hi = p + 1;
    if (w) {
        if (p - w + 1 > *lo) *lo = p - w + 1;
        if (!causal && p + w < *hi) *hi = p + w;
    }
}

/* Keys of entry b the driver may read: [*lo, *hi), from the first row's
 * first visible key rounded down to the key alignment, to the end of the
 * last row's interval (empty if no row sees a key). */
static void readable(const cfg *c, const tensors *t, size_t b, long long *lo, long long *hi) {
    size_t len = entry_len(c, t, b), nb = sa_forward_key_align();
    long long l, h;
    int any = 0;
    *lo = *hi = 0;
    for (size_t i = 0; i < c->nq; i++) {
        interval(c, len, i, &l, &h);
        if (l >= h) continue;
        if (!any) *lo = l / (long long)nb * (long long)nb;
        any = 1;
        *hi = h > *hi ? h : *hi;
    }
}

/* Key j of entry b is never read by the driver: outside readable(), or,
 * without a window (then every tile's blocks start at key 0, on the NB
 * grid), in a key block the key mask removes whole. */
static int never_read(const tensors *t, const cfg *c, size_t b, size_t j, long long lo,
                      long long hi) {
    size_t nb = block_keys();
    if ((long long)j >= hi || (long long)j < lo)
        return 1;
    if (t->keep && !c->window) {
        const unsigned char *kr = t->keep + b * t->keep_stride;
        size_t j0 = j / nb * nb;
        for (size_t x = j0; x < j0 + nb && x < c->nk; x++)
            if (kr[x]) return 0;
        return 1;
    }
    return 0;
}

static tensors make(const cfg *c, rng *r) {
    tensors t = {0};
    size_t d = c->d, dv = c->dv ? c->dv : c->d, nb = block_keys();
    t.dv = dv;
    strides(c->bshd, c->hq, c->nq, d, t.qs);
    strides(c->bshd, c->hk, c->nk, d, t.ks);
    strides(c->bshd, c->hk, c->nk, dv, t.vs);
    size_t nq_el = c->batch * c->hq * c->nq * d;
    size_t nk_el = c->batch * c->hk * c->nk * d, nv_el = c->batch * c->hk * c->nk * dv;
    t.q = malloc(nq_el * sizeof(float));
    t.k = malloc(nk_el * sizeof(float));
    t.v = malloc(nv_el * sizeof(float));
    fill_uniform(r, t.q, nq_el, -1, 1);
    fill_uniform(r, t.k, nk_el, -1, 1);
    fill_uniform(r, t.v, nv_el, -1, 1);
    /* O: BHSD with two spare floats per row, canaries in the gaps */
    size_t ld = dv + 2;
    t.os[2] = ld; t.os[1] = c->nq * ld; t.os[0] = c->hq * c->nq * ld;
    t.o_total = c->batch * t.os[0] + 8;
    t.obuf = malloc((t.o_total + 1) * sizeof(float));
    t.o = t.obuf + 1; /* misaligned on purpose */
    for (size_t i = 0; i < t.o_total; i++) t.o[i] = canary();
    if (c->mask) {
        int vary = c->mask - 1;
        size_t n = c->batch * c->hq * c->nq * c->nk;
        t.mask = malloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++)
            t.mask[i] = rng_uniform(r) < 0.15 ? -INFINITY : rng_range(r, -2, 2);
        t.ms[0] = vary & 1 ? c->hq * c->nq * c->nk : 0;
        t.ms[1] = vary & 2 ? c->nq * c->nk : 0;
        t.ms[2] = vary & 4 ? c->nk : 0;
    }
    if (c->lens) {
        t.lens = malloc(c->batch * sizeof(size_t));
        for (size_t b = 0; b < c->batch; b++) {
            static const int pick[] = {0, 1, 2, 3, 4};
            switch (pick[b % 5]) {
            case 0: t.lens[b] = c->nk - (c->nk > 1 && b > 0); break;
            case 1: t.lens[b] = 0; break; /* an empty entry: all zeros */
            case 2: t.lens[b] = 1; break;
            case 3: t.lens[b] = c->nk / 2 + 1; break;
            default: t.lens[b] = (size_t)(rng_uniform(r) * (double)c->nk); break;
            }
            if (t.lens[b] > c->nk) t.lens[b] = c->nk;
        }
    }
    if (c->keymask) {
        size_t rows = c->keymask == 1 ? c->batch : 1;
        t.keep_stride = c->keymask == 1 ? c->nk : 0;
        t.keep = malloc(rows * c->nk);
        for (size_t b = 0; b < rows; b++) {
            unsigned char *kr = t.keep + b * c->nk;
            for (size_t j = 0; j < c->nk; j++) {
                switch (b % 3) {
                case 0: kr[j] = rng_uniform(r) < 0.8; break;
                /* a whole block removed (skipped), and key 0 */
                case 1: kr[j] = j != 0 && (j < nb || j >= 2 * nb); break;
                default: kr[j] = 0; break; /* every key removed: zeros */
                }
            }
            if (b % 3 == 0) kr[0] = 7; /* any nonzero byte keeps */
        }
    }
    /* NaN where the driver must not read */
    for (size_t b = 0; b < c->batch; b++) {
        long long lo, hi;
        readable(c, &t, b, &lo, &hi);
        for (size_t j = 0; j < c->nk; j++) {
            if (!never_read(&t, c, b, j, lo, hi)) continue;
            for (size_t g = 0; g < c->hk; g++) {
                for (size_t e = 0; e < d; e++)
                    t.k[b * t.ks[0] + g * t.ks[1] + j * t.ks[2] + e] = NAN;
                for (size_t e = 0; e < dv; e++)
                    t.v[b * t.vs[0] + g * t.vs[1] + j * t.vs[2] + e] = NAN;
            }
            if (t.mask && t.ms[0]) /* only a mask this entry owns */
                for (size_t h = 0; h < c->hq; h++)
                    for (size_t i = 0; i < c->nq; i++)
                        t.mask[b * t.ms[0] + h * t.ms[1] + i * t.ms[2] + j] = NAN;
        }
    }
    if (c->kv != SIMDATTN_F32) { /* round K and V; the oracle gets the
                                    widened values (exact) */
        t.k16 = malloc(nk_el * sizeof(uint16_t));
        t.v16 = malloc(nv_el * sizeof(uint16_t));
        for (size_t i = 0; i < nk_el + nv_el; i++) {
            float *x = i < nk_el ? &t.k[i] : &t.v[i - nk_el];
            uint16_t *h = i < nk_el ? &t.k16[i] : &t.v16[i - nk_el];
            *h = c->kv == SIMDATTN_F16 ? f32_to_f16(*x) : f32_to_bf16(*x);
            *x = c->kv == SIMDATTN_F16 ? sa_f16_to_f32(*h) : sa_bf16_to_f32(*h);
        }
    }
    return t;
}

static void release(tensors *t) {
    free(t->k16); free(t->v16);
    free(t->q); free(t->k); free(t->v); free(t->mask); free(t->obuf);
    free(t->keep); free(t->lens);
}

static simdattn_forward_desc describe(const cfg *c, const tensors *t, simdattn_isa isa) {
    simdattn_forward_desc d = {0};
    d.batch = c->batch; d.q_heads = c->hq; d.kv_heads = c->hk;
    d.q_len = c->nq; d.kv_len = c->nk; d.head_dim = c->d; d.head_dim_v = c->dv;
    d.scale = c->scale; d.softcap = c->cap;
    d.flags = c->flags;
    d.q = (simdattn_tensor){t->q, t->qs[0], t->qs[1], t->qs[2]};
    d.k = (simdattn_tensor){t->k16 ? (void *)t->k16 : t->k, t->ks[0], t->ks[1], t->ks[2]};
    d.v = (simdattn_tensor){t->v16 ? (void *)t->v16 : t->v, t->vs[0], t->vs[1], t->vs[2]};
    d.kv_dtype = c->kv;
    d.o = t->o;
    d.o_stride_batch = t->os[0]; d.o_stride_head = t->os[1]; d.o_stride_seq = t->os[2];
    if (t->mask) d.mask = (simdattn_tensor){t->mask, t->ms[0], t->ms[1], t->ms[2]};
    d.key_mask = t->keep; d.key_mask_stride_batch = t->keep_stride;
    d.window = c->window;
    d.kv_lens = t->lens;
    d.isa = isa;
    return d;
}

/* The decode path's two phases (simdattn_forward_task_phases): split
 * items into caller partials, then merge items, each phase in reverse
 * order.  Returns 0 (nothing run) when the forward has nothing to split. */
static int run_two_phases_reversed(simdattn_forward_desc d) {
    size_t first, pbytes, count, bytes;
    ck_assert_int_eq(simdattn_forward_task_phases(&d, &first, &pbytes), SIMDATTN_OK);
    if (pbytes == 0) {
        ck_assert_int_eq(simdattn_forward_tasks(&d, &count, &bytes), SIMDATTN_OK);
        ck_assert_uint_eq(first, count); /* one phase */
        return 0;
    }
    d.partials = malloc(pbytes);
    ck_assert_int_eq(simdattn_forward_tasks(&d, &count, &bytes), SIMDATTN_OK);
    ck_assert_int_eq(simdattn_forward_task_phases(&d, &first, &pbytes), SIMDATTN_OK);
    ck_assert(first > 0 && first < count);
    void *ws = malloc(bytes);
    for (size_t i = first; i-- > 0;)
        ck_assert_int_eq(simdattn_forward_run_task(&d, i, ws), SIMDATTN_OK);
    for (size_t i = count; i-- > first;)
        ck_assert_int_eq(simdattn_forward_run_task(&d, i, ws), SIMDATTN_OK);
    free(ws);
    free(d.partials);
    return 1;
}

static void describe_cfg(const cfg *c, char *buf, size_t n) {
    snprintf(buf, n, "b=%zu hq=%zu hk=%zu nq=%zu nk=%zu d=%zu dv=%zu flags=%u bshd=%d mask=%d "
             "keymask=%d window=%zu lens=%d scale=%g cap=%g kv=%d",
             c->batch, c->hq, c->hk, c->nq, c->nk, c->d, c->dv, c->flags, c->bshd, c->mask,
             c->keymask, c->window, c->lens, c->scale, c->cap, (int)c->kv);
}

static void check_cfg(const cfg *c, simdattn_isa isa, uint64_t seed) {
    char what[256];
    describe_cfg(c, what, sizeof what);
    rng r = rng_seed(seed);
    tensors t = make(c, &r);
    const size_t bytes = t.o_total * sizeof(float), dv = t.dv;
    simdattn_forward_desc d = describe(c, &t, isa);

    /* threads 1, then 2, 3 and the reversed task order: the same bits */
    ck_assert_int_eq(simdattn_forward(&d), SIMDATTN_OK);
    float *got = malloc(bytes);
    memcpy(got, t.o, bytes);
    static const char *const runs[] = {"threads=2", "threads=3", "reversed tasks",
                                       "two task phases"};
    for (int run = 0; run < 4; run++) {
        for (size_t i = 0; i < t.o_total; i++) t.o[i] = canary();
        d.threads = run == 0 ? 2 : run == 1 ? 3 : 1;
        if (run < 2) ck_assert_int_eq(simdattn_forward(&d), SIMDATTN_OK);
        else if (run == 2) run_tasks_reversed(&d);
        else if (!run_two_phases_reversed(d)) continue;
        ck_assert_msg(memcmp(got, t.o, bytes) == 0, "%s %s: %s differs from threads=1",
                      simdattn_isa_name(isa), what, runs[run]);
    }
    d.threads = 1;
    const float *ref = got;
    if (isa != SIMDATTN_ISA_SCALAR) {
        d.isa = SIMDATTN_ISA_SCALAR;
        ck_assert_int_eq(simdattn_forward(&d), SIMDATTN_OK);
        ref = t.o;
    }

    /* deterministic mode: every ISA gives the scalar bits (simdattn.h),
     * windows and soft-capping included */
    if (c->flags & SIMDATTN_DETERMINISTIC)
        ck_assert_msg(memcmp(got, ref, bytes) == 0, "%s %s: deterministic result differs from scalar",
                      simdattn_isa_name(isa), what);

    size_t ld = dv + 2;
    for (size_t i = 0; i < t.o_total; i++) /* gaps and tail untouched */
        if (i >= c->batch * t.os[0] || i % ld >= dv)
            REQUIRE(is_canary(got[i]), "%s %s wrote outside O at %zu",
                          simdattn_isa_name(isa), what, i);

    double *o = malloc(c->nq * dv * sizeof(double));
    double *bound = malloc(c->nq * dv * sizeof(double));
    float scale = c->scale != 0 ? c->scale : 1.0f / sqrtf((float)c->d);
    for (size_t b = 0; b < c->batch; b++)
        for (size_t h = 0; h < c->hq; h++) {
            size_t g = h / (c->hq / c->hk);
            oracle_head oh = {
                c->nq, entry_len(c, &t, b), c->d, scale, (c->flags & SIMDATTN_CAUSAL) != 0,
                t.q + b * t.qs[0] + h * t.qs[1], t.qs[2],
                t.k + b * t.ks[0] + g * t.ks[1], t.ks[2],
                t.v + b * t.vs[0] + g * t.vs[1], t.vs[2],
                t.mask ? t.mask + b * t.ms[0] + h * t.ms[1] : NULL, t.ms[2],
                block_keys(), dv, c->cap, c->window,
                t.keep ? t.keep + b * t.keep_stride : NULL,
                c->flags & SIMDATTN_FAST_EXP ? SIMDATTN_FAST_EXP_ULP : 1.0, oracle_splits(c->nq, c->hq / c->hk, c->nk)};
            oracle_attention(&oh, o, bound);
            for (size_t i = 0; i < c->nq; i++)
                for (size_t e = 0; e < dv; e++) {
                    size_t at = b * t.os[0] + h * t.os[1] + i * t.os[2] + e;
                    double want = o[i * dv + e], tol = bound[i * dv + e];
                    REQUIRE(fabs(got[at] - want) <= tol,
                                  "%s %s: b=%zu h=%zu O[%zu][%zu]=%.9g want %.9g tol %.3g",
                                  simdattn_isa_name(isa), what, b, h, i, e, got[at], want, tol);
                    REQUIRE(fabs(ref[at] - want) <= tol, "scalar %s: O[%zu][%zu] out of bound",
                                  what, i, e);
                    REQUIRE(fabs(got[at] - ref[at]) <= 2 * tol,
                                  "%s %s differs from scalar at O[%zu][%zu]",
                                  simdattn_isa_name(isa), what, i, e);
                }
        }
    free(o); free(bound); free(got);
    release(&t);
}

/* A configuration with every feature off: 1 entry, 2 query heads on one
 * KV head, d = 8 (visibility does not depend on d; engine_head_dim_v
 * covers head sizes), BHSD.  Sizes stay small because the suite also
 * runs under qemu, where every fp32 operation is emulated. */
static cfg base(size_t nq, size_t nk) {
    cfg c = {1, 2, 1, nq, nk, 8, 0, 0, 0, 0, 0, 0, 0, 0.0f, 0.0f, SIMDATTN_F32};
    return c;
}

/* Sliding windows, causal and symmetric, with widths from 1 (only the
 * diagonal) through more than a key block to wider than the sequence, on
 * square, decode-like and Nq > Nk shapes; half of them deterministic, where
 * the tiles' block starts must not depend on the ISA. */
START_TEST(engine_windows) {
    static const size_t W[] = {1, 3, 129, 300, 100000};
    static const size_t NQ[] = {1, 40, 17, 90, 200}, NK[] = {300, 700, 17, 260, 100};
    for (size_t a = 0; a < N_OF(W); a++)
        for (size_t s = 0; s < N_OF(NQ); s++)
            for (int causal = 0; causal < 2; causal++) {
                cfg c = base(NQ[s], NK[s]);
                c.window = W[a];
                c.flags = (causal ? SIMDATTN_CAUSAL : 0) | (s % 2 ? SIMDATTN_DETERMINISTIC : 0);
                c.bshd = (int)s % 2;
                check_cfg(&c, ISA, 1000 + a * 100 + s * 10 + (size_t)causal);
            }
}
END_TEST

/* Per-entry KV lengths (ragged batch: full, 0, 1, half, random) alone and
 * with causality and a window, decode and prefill shapes. */
START_TEST(engine_kv_lens) {
    static const size_t NQ[] = {1, 7, 90, 130}, NK[] = {300, 1, 130, 260};
    for (size_t s = 0; s < N_OF(NQ); s++)
        for (int mode = 0; mode < 4; mode++) {
            cfg c = base(NQ[s], NK[s]);
            c.batch = 5;
            c.lens = 1;
            c.flags = mode & 1 ? SIMDATTN_CAUSAL : 0;
            c.window = mode & 2 ? 50 : 0;
            check_cfg(&c, ISA, 2000 + s * 10 + (size_t)mode);
        }
}
END_TEST

/* Boolean key masks: random, with a whole removed block, removing every
 * key; one row per entry or one shared row; with causality, lengths and
 * an additive mask. */
START_TEST(engine_key_mask) {
    static const size_t NQ[] = {1, 33, 130}, NK[] = {300, 300, 260};
    for (size_t s = 0; s < N_OF(NQ); s++)
        for (int mode = 0; mode < 8; mode++) {
            cfg c = base(NQ[s], NK[s]);
            c.batch = 3;
            c.keymask = 1 + (mode & 1);
            c.flags = mode & 2 ? SIMDATTN_CAUSAL : 0;
            c.lens = (mode & 4) != 0;
            c.mask = mode == 7 ? 8 : 0;
            check_cfg(&c, ISA, 3000 + s * 10 + (size_t)mode);
        }
}
END_TEST

/* The additive mask with every combination of broadcast axes (stride 0
 * on batch, heads and/or rows), causal or not, under GQA. */
START_TEST(engine_mask_broadcast) {
    for (int vary = 0; vary < 8; vary++)
        for (int causal = 0; causal < 2; causal++) {
            cfg c = base(19, 150);
            c.batch = 2; c.hq = 3; c.hk = 1; c.d = 13;
            c.mask = 1 + vary;
            c.flags = causal ? SIMDATTN_CAUSAL : 0;
            c.bshd = vary % 2;
            check_cfg(&c, ISA, 4000 + (size_t)vary * 2 + (size_t)causal);
        }
}
END_TEST

/* GQA/MQA at odd ratios (3:1, 5:1, 7:1 MQA, 3 groups of 3) and MHA. */
START_TEST(engine_gqa_odd) {
    static const size_t HQ[] = {3, 5, 15, 7, 9, 4}, HK[] = {1, 5, 5, 1, 3, 2};
    for (size_t a = 0; a < N_OF(HQ); a++)
        for (int mode = 0; mode < 2; mode++) {
            cfg c = base(mode ? 1 : 37, 140);
            c.batch = 2; c.hq = HQ[a]; c.hk = HK[a];
            c.flags = mode ? 0 : SIMDATTN_CAUSAL;
            c.lens = mode;
            c.bshd = (int)a % 2;
            check_cfg(&c, ISA, 5000 + a * 10 + (size_t)mode);
        }
}
END_TEST

/* d_v ≠ d (MLA-style), including d_v = 1 and d_v > d, and d_v = 0. */
START_TEST(engine_head_dim_v) {
    static const size_t D[] = {31, 16, 64, 1, 8, 24}, DV[] = {17, 64, 1, 33, 0, 128};
    for (size_t a = 0; a < N_OF(D); a++) {
        cfg c = base(41, 135);
        c.hq = 4; c.hk = 2; c.d = D[a]; c.dv = DV[a];
        c.flags = a % 2 ? SIMDATTN_CAUSAL : 0;
        c.bshd = (int)(a / 2) % 2;
        check_cfg(&c, ISA, 6000 + a);
    }
}
END_TEST

/* Soft-capping: caps that saturate most logits (0.5) to ones that never
 * act (1e4), with a large scale so logits reach ±10; with masks, windows,
 * and the deterministic flag (SLEEF tanh). */
START_TEST(engine_softcap) {
    static const float CAP[] = {0.5f, 5.0f, 30.0f, 1e4f};
    for (size_t a = 0; a < N_OF(CAP); a++)
        for (int mode = 0; mode < 4; mode++) {
            cfg c = base(70, 200);
            c.d = 12; c.scale = 0.7f;
            c.cap = CAP[a];
            c.flags = (mode & 1 ? SIMDATTN_CAUSAL : 0) | (mode & 2 ? SIMDATTN_DETERMINISTIC : 0);
            c.mask = mode == 3 ? 8 : 0;
            c.window = mode == 2 ? 64 : 0;
            check_cfg(&c, ISA, 7000 + a * 10 + (size_t)mode);
        }
}
END_TEST

/* Everything at once, drawn at random: 16 configurations per ISA. */
START_TEST(engine_combined) {
    rng r = rng_seed(8000);
    static const size_t N[] = {1, 2, 7, 64, 129, 200};
    for (int n = 0; n < 16; n++) {
        cfg c = base(N[(size_t)(rng_uniform(&r) * 6)], N[(size_t)(rng_uniform(&r) * 6)]);
        c.hk = 1 + (size_t)(rng_uniform(&r) * 3);
        c.hq = c.hk * (1 + (size_t)(rng_uniform(&r) * 3));
        c.batch = 1 + (size_t)(rng_uniform(&r) * 3);
        c.d = 1 + (size_t)(rng_uniform(&r) * 40);
        c.dv = (size_t)(rng_uniform(&r) * 40);
        c.flags = (rng_uniform(&r) < 0.5 ? SIMDATTN_CAUSAL : 0) |
                  (rng_uniform(&r) < 0.3 ? SIMDATTN_DETERMINISTIC : 0);
        c.bshd = rng_uniform(&r) < 0.5;
        c.mask = rng_uniform(&r) < 0.5 ? 1 + (int)(rng_uniform(&r) * 8) : 0;
        c.keymask = (int)(rng_uniform(&r) * 3);
        c.window = rng_uniform(&r) < 0.5 ? 1 + (size_t)(rng_uniform(&r) * 150) : 0;
        c.lens = rng_uniform(&r) < 0.5;
        c.cap = rng_uniform(&r) < 0.4 ? rng_range(&r, 0.2f, 20.0f) : 0.0f;
        c.scale = rng_uniform(&r) < 0.5 ? rng_range(&r, 0.05f, 2.0f) : 0.0f;
        check_cfg(&c, ISA, 8100 + (uint64_t)n);
    }
}
END_TEST

/* The decode path (q_len ≤ 8): every KV type, split counts 1 to 4 (and
 * splits past a short entry's keys), GQA ratios 1, 3, 4, 5, 7 and 8 with
 * 1 … 8 query rows, each configuration with a different mix of
 * causality, windows, ragged lengths, key masks, additive masks,
 * soft-capping, d_v ≠ d and the exp flags.  check_cfg runs each on 1, 2
 * and 3 threads, as one-phase tasks and as two task phases (split items
 * into caller partials, then merges): the same bits; against the oracle
 * on the widened K and V (widening is exact, so the fp32 bound holds
 * unchanged) with one more rescale level per split; deterministic runs
 * against the scalar bits. */
START_TEST(engine_decode) {
    const size_t S = SIMDATTN_DECODE_SPLIT_KEYS;
    const size_t NK[] = {1, 300, S, S + 1, 2 * S + 37, 3 * S + 5};
    static const size_t HQ[] = {4, 3, 8, 5, 7, 16}, HK[] = {1, 1, 8, 1, 1, 2};
    for (int kv = 0; kv < SIMDATTN_DTYPE_COUNT; kv++)
        for (size_t a = 0; a < N_OF(NK); a++) {
            size_t n = (size_t)kv * N_OF(NK) + a;
            cfg c = base(1 + n % 8, NK[a]);
            c.kv = (simdattn_dtype)kv;
            c.hq = HQ[n % N_OF(HQ)]; c.hk = HK[n % N_OF(HK)];
            c.batch = 1 + n % 2;
            c.d = n % 3 == 0 ? 16 : n % 3 == 1 ? 5 : 21;
            c.dv = n % 4 == 1 ? 19 : 0;
            c.flags = (n % 2 ? SIMDATTN_CAUSAL : 0) |
                      (n % 3 == 0 ? SIMDATTN_DETERMINISTIC : n % 3 == 1 ? SIMDATTN_FAST_EXP : 0);
            c.bshd = n % 5 == 2;
            c.window = n % 5 == 1 ? 700 : 0;
            c.lens = n % 4 == 3;
            c.keymask = n % 6 == 4 ? 1 : 0;
            c.mask = n % 7 == 5 ? 1 + (int)(n % 8) : 0;
            c.cap = n % 5 == 3 ? 4.0f : 0.0f;
            c.scale = 0.5f;
            check_cfg(&c, ISA, 8500 + n);
        }
}
END_TEST

/* How far an fp16/bf16 KV cache moves the result from the unrounded fp32
 * K and V.  Rounding to nearest gives k̃ = k(1 + θ), ṽ = v(1 + φ) with
 * |θ|, |φ| ≤ ε = 2^-11 (fp16) or 2^-8 (bf16), plus an absolute 2^-25 for
 * fp16 subnormals (none here: |k|, |v| ≥ 2^-10).  So logit j moves by at
 * most Δ_j = scale·ε·Σ_c |q_c·k_jc|; each exact weight by a factor in
 * [e^(−Δ_j−Δmax), e^(Δ_j+Δmax)] (numerator and normaliser); v_j by ε|v_j|:
 *     |O(K̃,Ṽ) − O(K,V)| ≤ Σ_j w_j·|v_j|·((1 + ε)(e^(Δ_j+Δmax) − 1) + ε).
 * The library's result on K̃, Ṽ obeys the oracle's fp32 bound on the
 * widened values (widening is exact), so the check against the unrounded
 * oracle is that bound plus this one (nearly attained in V's column 0,
 * see below).  The test also requires the
 * rounding to show somewhere (the result 8× closer to the widened inputs'
 * exact output than to the unrounded one's), so a path that did not read
 * the rounded cache would fail.
 */
START_TEST(engine_kv_rounding) {
    enum { HQ = 4, D = 64 };
    static const size_t NK[] = {600, 2 * SIMDATTN_DECODE_SPLIT_KEYS + 5};
    for (int kv = SIMDATTN_F16; kv <= SIMDATTN_BF16; kv++)
        for (size_t a = 0; a < N_OF(NK); a++) {
            size_t nk = NK[a], nq = 1 + a;
            double eps = kv == SIMDATTN_F16 ? 0x1p-11 : 0x1p-8;
            rng r = rng_seed(9300 + (uint64_t)kv * 10 + a);
            float *q = malloc(HQ * nq * D * sizeof(float)), *o = malloc(HQ * nq * D * sizeof(float));
            float *k = malloc(nk * D * sizeof(float)), *v = malloc(nk * D * sizeof(float));
            float *kw = malloc(nk * D * sizeof(float)), *vw = malloc(nk * D * sizeof(float));
            uint16_t *kh = malloc(nk * D * sizeof(uint16_t)), *vh = malloc(nk * D * sizeof(uint16_t));
            fill_uniform(&r, q, HQ * nq * D, -1, 1);
            for (size_t i = 0; i < nk * D; i++) {
                /* magnitudes in [2^-10, 1): normal fp16, relative rounding */
                k[i] = (rng_uniform(&r) < 0.5 ? -1 : 1) * rng_range(&r, 0x1p-10f, 1.0f);
                v[i] = (rng_uniform(&r) < 0.5 ? -1 : 1) * rng_range(&r, 0x1p-10f, 1.0f);
                /* column 0 of V: one value whose rounding error is all but
                 * ε (1 + ε − 2^-20 rounds down to 1), the same in every key,
                 * so O's column 0 moves by that much whatever the weights:
                 * the bound cannot be much smaller than derived */
                if (i % D == 0)
                    v[i] = (float)(1 + eps - 0x1p-20);
                kh[i] = kv == SIMDATTN_F16 ? f32_to_f16(k[i]) : f32_to_bf16(k[i]);
                vh[i] = kv == SIMDATTN_F16 ? f32_to_f16(v[i]) : f32_to_bf16(v[i]);
                kw[i] = kv == SIMDATTN_F16 ? sa_f16_to_f32(kh[i]) : sa_bf16_to_f32(kh[i]);
                vw[i] = kv == SIMDATTN_F16 ? sa_f16_to_f32(vh[i]) : sa_bf16_to_f32(vh[i]);
            }
            simdattn_forward_desc d = {0};
            d.batch = 1; d.q_heads = HQ; d.kv_heads = 1; d.q_len = nq; d.kv_len = nk;
            d.head_dim = D; d.kv_dtype = (simdattn_dtype)kv; d.isa = ISA;
            d.q = (simdattn_tensor){q, HQ * nq * D, nq * D, D};
            d.k = (simdattn_tensor){kh, nk * D, nk * D, D};
            d.v = (simdattn_tensor){vh, nk * D, nk * D, D};
            d.o = o; d.o_stride_batch = HQ * nq * D; d.o_stride_head = nq * D; d.o_stride_seq = D;
            ck_assert_int_eq(simdattn_forward(&d), SIMDATTN_OK);
            float scale = 1.0f / sqrtf((float)D);
            double *o0 = malloc(nq * D * sizeof(double)), *ow = malloc(nq * D * sizeof(double));
            double *bw = malloc(nq * D * sizeof(double)), *b0 = malloc(nq * D * sizeof(double));
            double *delta = malloc(nk * sizeof(double)), *w = malloc(nk * sizeof(double));
            int beyond = 0;
            for (size_t h = 0; h < HQ; h++) {
                oracle_head ohw = {nq, nk, D, scale, 0, q + h * nq * D, D, kw, D, vw, D,
                                   NULL, 0, block_keys(), D, 0.0f, 0, NULL, 1.0,
                                   oracle_splits(nq, HQ, nk)};
                oracle_head oh0 = ohw;
                oh0.k = k; oh0.v = v;
                oracle_attention(&ohw, ow, bw);
                oracle_attention(&oh0, o0, b0);
                for (size_t i = 0; i < nq; i++) {
                    const float *qi = q + (h * nq + i) * D;
                    double mx = -INFINITY, dmax = 0, sum = 0;
                    for (size_t j = 0; j < nk; j++) { /* exact logits, Δ_j */
                        double as, x = scale * oracle_dot(qi, k + j * D, D, &as);
                        delta[j] = scale * eps * as;
                        w[j] = x;
                        if (x > mx) mx = x;
                        if (delta[j] > dmax) dmax = delta[j];
                    }
                    for (size_t j = 0; j < nk; j++) sum += (w[j] = exp(w[j] - mx));
                    for (size_t e = 0; e < D; e++) {
                        double pert = 0;
                        for (size_t j = 0; j < nk; j++)
                            pert += w[j] / sum * fabs(v[j * D + e]) *
                                    ((1 + eps) * expm1(delta[j] + dmax) + eps);
                        double got = o[(h * nq + i) * D + e], tol = bw[i * D + e];
                        REQUIRE(fabs(got - ow[i * D + e]) <= tol, "%s kv=%d: vs widened oracle",
                                simdattn_isa_name(ISA), kv);
                        REQUIRE(fabs(got - o0[i * D + e]) <= tol + pert,
                                "%s kv=%d nk=%zu h=%zu O[%zu][%zu]=%.9g unrounded %.9g tol %.3g + %.3g",
                                simdattn_isa_name(ISA), kv, nk, h, i, e, got, o0[i * D + e], tol, pert);
                        /* the rounding shows: the result sits far closer to
                         * the widened inputs' exact output than to the
                         * unrounded ones' */
                        beyond |= fabs(got - o0[i * D + e]) > 8 * fabs(got - ow[i * D + e]);
                    }
                }
            }
            ck_assert_msg(beyond, "%s kv=%d: no sign of K/V rounding", simdattn_isa_name(ISA), kv);
            free(q); free(o); free(k); free(v); free(kw); free(vw); free(kh); free(vh);
            free(o0); free(ow); free(bw); free(b0); free(delta); free(w);
        }
}
END_TEST

/* ---------------------------------------------------------------------
 * The task interface from a pthread pool
 * --------------------------------------------------------------------- */
typedef struct pool {
    const simdattn_forward_desc *desc;
    size_t count, ws_bytes; /* items next … count − 1 */
    atomic_size_t next;
    atomic_int failures;
} pool;

static void *pool_worker(void *arg) {
    pool *p = arg;
    void *ws = malloc(p->ws_bytes);
    if (!ws) {
        atomic_fetch_add(&p->failures, 1);
        return NULL;
    }
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->count)
            break;
        if (simdattn_forward_run_task(p->desc, i, ws) != SIMDATTN_OK)
            atomic_fetch_add(&p->failures, 1);
    }
    free(ws);
    return NULL;
}

/* SIMDATTN_TEST_SERIAL (set by tests/meson.build for qemu runs): create
 * no threads; the pool's worker then runs on the calling thread. */
static int serial_only(void) {
    const char *e = getenv("SIMDATTN_TEST_SERIAL");
    return e && *e && strcmp(e, "0") != 0;
}

/* Items [first, end) of d (end 0: all) on a pool of `threads`. */
static void run_pool_range(const simdattn_forward_desc *d, int threads, size_t first,
                           size_t end) {
    pool p = {d, 0, 0, 0, 0};
    ck_assert_int_eq(simdattn_forward_tasks(d, &p.count, &p.ws_bytes), SIMDATTN_OK);
    if (end)
        p.count = end;
    atomic_store(&p.next, first);
    pthread_t th[8];
    if (serial_only()) {
        pool_worker(&p);
    } else {
        for (int i = 0; i < threads; i++)
            ck_assert_int_eq(pthread_create(&th[i], NULL, pool_worker, &p), 0);
        for (int i = 0; i < threads; i++)
            pthread_join(th[i], NULL);
    }
    ck_assert_int_eq(atomic_load(&p.failures), 0);
    ck_assert_uint_ge(atomic_load(&p.next), p.count);
}

static void run_pool(const simdattn_forward_desc *d, int threads) {
    run_pool_range(d, threads, 0, 0);
}

/* Pools of 1, 2, 3 and 7 threads give the bits of simdattn_forward, on a
 * shape with many items of unequal cost (causal, ragged, GQA). */
START_TEST(engine_task_pool) {
    cfg c = base(200, 230);
    c.batch = 3; c.hq = 6; c.hk = 2; c.d = 16;
    c.flags = SIMDATTN_CAUSAL; c.lens = 1; c.window = 200; c.mask = 2;
    rng r = rng_seed(9000);
    tensors t = make(&c, &r);
    simdattn_forward_desc d = describe(&c, &t, ISA);
    size_t bytes = t.o_total * sizeof(float);
    ck_assert_int_eq(simdattn_forward(&d), SIMDATTN_OK);
    float *want = malloc(bytes);
    memcpy(want, t.o, bytes);
    static const int POOL[] = {1, 2, 3, 7};
    for (size_t a = 0; a < N_OF(POOL); a++) {
        for (size_t i = 0; i < t.o_total; i++) t.o[i] = canary();
        run_pool(&d, POOL[a]);
        ck_assert_msg(memcmp(want, t.o, bytes) == 0, "%s: pool of %d differs",
                      simdattn_isa_name(ISA), POOL[a]);
    }
    free(want);
    release(&t);
}
END_TEST

/* The decode path's two phases from the pool: split items into the
 * caller's partials, the pool joined (the barrier), then the merge items;
 * pools of 1, 2, 3 and 7 threads give the bits of simdattn_forward on 1
 * and on 2 threads (a split per KV head of Nk = 3 splits + 11 keys, fp16
 * KV, GQA 4:1, causal, ragged). */
START_TEST(engine_task_phases) {
    cfg c = base(2, 3 * SIMDATTN_DECODE_SPLIT_KEYS + 11);
    c.batch = 2; c.hq = 8; c.hk = 2; c.d = 16;
    c.flags = SIMDATTN_CAUSAL; c.lens = 1; c.kv = SIMDATTN_F16;
    rng r = rng_seed(9100);
    tensors t = make(&c, &r);
    simdattn_forward_desc d = describe(&c, &t, ISA);
    size_t bytes = t.o_total * sizeof(float);
    ck_assert_int_eq(simdattn_forward(&d), SIMDATTN_OK);
    float *want = malloc(bytes);
    memcpy(want, t.o, bytes);
    d.threads = 2;
    ck_assert_int_eq(simdattn_forward(&d), SIMDATTN_OK);
    ck_assert_msg(memcmp(want, t.o, bytes) == 0, "threads=2 differs");
    d.threads = 0;
    size_t first, pbytes, count, ws;
    ck_assert_int_eq(simdattn_forward_task_phases(&d, &first, &pbytes), SIMDATTN_OK);
    ck_assert(pbytes > 0);
    d.partials = malloc(pbytes);
    ck_assert_int_eq(simdattn_forward_tasks(&d, &count, &ws), SIMDATTN_OK);
    ck_assert_int_eq(simdattn_forward_task_phases(&d, &first, &pbytes), SIMDATTN_OK);
    /* 2 entries × 2 KV heads × 4 splits, then 4 merges */
    ck_assert_uint_eq(first, 16);
    ck_assert_uint_eq(count, 20);
    /* partials overlapping an input, or misaligned: refused */
    simdattn_forward_desc bad = d;
    bad.partials = t.q;
    ck_assert_int_eq(simdattn_forward_run_task(&bad, 0, want),
                     SIMDATTN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(simdattn_forward_tasks(&bad, &count, &ws), SIMDATTN_ERR_INVALID_ARGUMENT);
    bad.partials = (char *)d.partials + 1;
    ck_assert_int_eq(simdattn_forward_tasks(&bad, &count, &ws), SIMDATTN_ERR_INVALID_ARGUMENT);
    static const int POOL[] = {1, 2, 3, 7};
    for (size_t a = 0; a < N_OF(POOL); a++) {
        for (size_t i = 0; i < t.o_total; i++) t.o[i] = canary();
        run_pool_range(&d, POOL[a], 0, first);
        run_pool_range(&d, POOL[a], first, count);
        ck_assert_msg(memcmp(want, t.o, bytes) == 0, "%s: two-phase pool of %d differs",
                      simdattn_isa_name(ISA), POOL[a]);
    }
    free(d.partials);
    free(want);
    release(&t);
}
END_TEST

/* ---------------------------------------------------------------------
 * The soft-capping kernel on its own
 * --------------------------------------------------------------------- */
/* |S − S*| ≤ u|y| (scale multiply) + u|y| (divide) + 5u·cap·|t| (tanh,
 * 2.5 ULP) + u|S*| (cap multiply) + 4·cap·FLT_TRUE_MIN, with y = scale·s
 * exact here (double), t = tanh(y/cap): the bound in oracle.c without the
 * Q·Kᵀ term.  SIMD tables against scalar within twice that. */
START_TEST(softcap_kernel) {
    static const size_t M[] = {1, 3, 7, 16, 17}, N[] = {1, 5, 16, 33, 100};
    static const float CAP[] = {0.25f, 1.0f, 50.0f};
    rng r = rng_seed(9500);
    for (size_t a = 0; a < N_OF(M); a++)
        for (size_t b = 0; b < N_OF(N); b++)
            for (size_t cc = 0; cc < N_OF(CAP); cc++)
                for (unsigned flags = 0; flags <= SIMDATTN_DETERMINISTIC; flags += SIMDATTN_DETERMINISTIC) {
                    size_t m = M[a], n = N[b];
                    float cap = CAP[cc], scale = 0.37f;
                    gmat s = gmat_new(m, n, n + 3), ref = gmat_new(m, n, n);
                    for (size_t i = 0; i < m; i++) {
                        fill_uniform(&r, s.p + i * s.ld, n, -200, 200);
                        memcpy(ref.p + i * ref.ld, s.p + i * s.ld, n * sizeof(float));
                    }
                    float *in = malloc(m * n * sizeof(float));
                    for (size_t i = 0; i < m; i++)
                        memcpy(in + i * n, s.p + i * s.ld, n * sizeof(float));
                    ck_assert_int_eq(simdattn_softcap(ISA, m, n, scale, cap, s.p, s.ld, flags), SIMDATTN_OK);
                    ck_assert_int_eq(simdattn_softcap(SIMDATTN_ISA_SCALAR, m, n, scale, cap, ref.p,
                                                      ref.ld, flags), SIMDATTN_OK);
                    ck_assert(gmat_intact(&s));
                    for (size_t i = 0; i < m; i++)
                        for (size_t j = 0; j < n; j++) {
                            double y = (double)scale * in[i * n + j], t = tanh(y / cap);
                            double want = cap * t, u = U_F32;
                            double tol = 2 * u * fabs(y) + 5 * u * cap * fabs(t) + u * fabs(want) +
                                         4 * cap * FLT_TRUE_MIN;
                            float got = s.p[i * s.ld + j];
                            REQUIRE(fabs(got - want) <= tol,
                                          "%s softcap cap=%g s=%.9g: %.9g want %.9g tol %.3g",
                                          simdattn_isa_name(ISA), cap, in[i * n + j], got, want, tol);
                            REQUIRE(fabs(got - ref.p[i * ref.ld + j]) <= 2 * tol,
                                    "%s softcap differs from scalar", simdattn_isa_name(ISA));
                        }
                    free(in);
                    gmat_free(&s); gmat_free(&ref);
                }
    /* special values: ±Inf and NaN logits become NaN (never ±cap), huge
     * finite ones saturate to exactly ±cap, 0 stays 0 */
    float sv[6] = {INFINITY, -INFINITY, NAN, 3e38f, -3e38f, 0.0f};
    ck_assert_int_eq(simdattn_softcap(ISA, 1, 6, 1.0f, 2.0f, sv, 6, 0), SIMDATTN_OK);
    ck_assert(isnan(sv[0]) && isnan(sv[1]) && isnan(sv[2]));
    ck_assert(sv[3] == 2.0f && sv[4] == -2.0f && sv[5] == 0.0f);
}
END_TEST

/* With capping, an Inf in Q still poisons the rows that attend to it
 * (the capped logit must not saturate to a finite ±cap). */
START_TEST(engine_softcap_inf) {
    enum { N = 9, D = 4 };
    float q[N * D], k[N * D], v[N * D], o[N * D];
    rng r = rng_seed(9600);
    fill_uniform(&r, q, N * D, -1, 1);
    fill_uniform(&r, k, N * D, -1, 1);
    fill_uniform(&r, v, N * D, -1, 1);
    q[3 * D] = INFINITY;
    k[0] = 1.0f; /* key 0 meets +Inf in row 3's logit */
    simdattn_forward_desc d = {0};
    d.batch = d.q_heads = d.kv_heads = 1;
    d.q_len = d.kv_len = N; d.head_dim = D;
    d.softcap = 3.0f;
    d.q = (simdattn_tensor){q, 0, 0, D};
    d.k = (simdattn_tensor){k, 0, 0, D};
    d.v = (simdattn_tensor){v, 0, 0, D};
    d.o = o; d.o_stride_seq = D;
    d.isa = ISA;
    ck_assert_int_eq(simdattn_forward(&d), SIMDATTN_OK);
    for (size_t i = 0; i < N; i++)
        for (size_t e = 0; e < D; e++)
            ck_assert_msg(i == 3 ? isnan(o[i * D + e]) : isfinite(o[i * D + e]),
                          "%s: row %zu col %zu = %g", simdattn_isa_name(ISA), i, e, o[i * D + e]);
}
END_TEST

/* ---------------------------------------------------------------------
 * Arguments of the new fields and calls: documented status, no writes
 * --------------------------------------------------------------------- */
enum { OUT = 256 };
static float out[OUT];
static void poison_out(void) { for (int i = 0; i < OUT; i++) out[i] = canary(); }
static int out_intact(void) {
    for (int i = 0; i < OUT; i++)
        if (!is_canary(out[i])) return 0;
    return 1;
}

static simdattn_forward_desc valid_desc(float *q, float *k, float *v) {
    simdattn_forward_desc d = {0};
    d.batch = 2; d.q_heads = 2; d.kv_heads = 1; d.q_len = 4; d.kv_len = 4; d.head_dim = 4;
    d.q = (simdattn_tensor){q, 32, 16, 4};
    d.k = (simdattn_tensor){k, 16, 16, 4};
    d.v = (simdattn_tensor){v, 16, 16, 4};
    d.o = out; d.o_stride_batch = 32; d.o_stride_head = 16; d.o_stride_seq = 4;
    return d;
}

START_TEST(engine_arguments) {
    static float q[64], k[32], v[64];
    static unsigned char keep[8] = {1, 1, 1, 1, 1, 0, 1, 1};
    static size_t lens[2] = {4, 2};
    simdattn_forward_desc d = valid_desc(q, k, v);
    d.isa = ISA;
    d.key_mask = keep; d.key_mask_stride_batch = 4;
    d.kv_lens = lens; d.window = 2; d.softcap = 1.0f; d.flags = SIMDATTN_CAUSAL;
    poison_out();
    ck_assert_int_eq(simdattn_forward(&d), SIMDATTN_OK);
    ck_assert(!is_canary(out[63]) && is_canary(out[64]));
    size_t count = 0, bytes = 0;
    ck_assert_int_eq(simdattn_forward_tasks(&d, &count, &bytes), SIMDATTN_OK);
    float *ws_store = malloc(bytes);

#define EXPECT(call, code)                                                  \
    do {                                                                    \
        poison_out();                                                       \
        ck_assert_int_eq((call), (code));                                   \
        ck_assert_msg(out_intact(), "%s wrote its output on error", #call); \
    } while (0)
#define BAD(field_change, code)                                              \
    do {                                                                     \
        simdattn_forward_desc b = d;                                         \
        size_t cnt, wsb;                                                     \
        field_change;                                                        \
        EXPECT(simdattn_forward(&b), code);                                  \
        EXPECT(simdattn_forward_tasks(&b, &cnt, &wsb), code);                \
        EXPECT(simdattn_forward_run_task(&b, 0, ws_store), code);            \
    } while (0)
    const size_t big = SIZE_MAX / 4;
    BAD(b.softcap = -1.0f, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.softcap = NAN, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.softcap = INFINITY, SIMDATTN_ERR_INVALID_ARGUMENT);
    static size_t long_lens[2] = {4, 5}; /* 5 > kv_len */
    BAD(b.kv_lens = long_lens, SIMDATTN_ERR_INVALID_ARGUMENT);
    /* key mask, kv_lens or V's d_v-wide rows overlapping O */
    BAD(b.key_mask = (const unsigned char *)(out + 60), SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.kv_lens = (const size_t *)(out + 62), SIMDATTN_ERR_INVALID_ARGUMENT);
    /* d_v = 8: O rows of 8 no longer fit its seq stride of 4 */
    BAD(b.head_dim_v = 8, SIMDATTN_ERR_INVALID_ARGUMENT);
    /* extents that overflow */
    BAD(b.key_mask_stride_batch = SIZE_MAX, SIMDATTN_ERR_SIZE_OVERFLOW);
    BAD((b.head_dim_v = 2, b.v.stride_seq = big), SIMDATTN_ERR_SIZE_OVERFLOW);
    BAD(b.kv_lens = (const size_t *)(uintptr_t)(UINTPTR_MAX - 4), SIMDATTN_ERR_SIZE_OVERFLOW);
    /* an enormous d_v: one row of V and of O (placed high, apart from the
     * inputs; never dereferenced) fits the address space.  One query row
     * decodes: its workspace (two rows of d_v + 2 floats, SIZE_MAX/2
     * bytes) fits size_t and fails to allocate; the tiled path's MB rows
     * of Õ would overflow it. */
    {
        simdattn_forward_desc b = d;
        size_t cnt, wsb;
        b.batch = 1, b.q_heads = 1, b.q_len = 1, b.kv_len = 1, b.kv_lens = NULL;
        b.head_dim_v = SIZE_MAX / 16, b.o = (float *)(uintptr_t)(UINTPTR_MAX / 2 + 64);
        EXPECT(simdattn_forward(&b), SIMDATTN_ERR_OUT_OF_MEMORY);
        EXPECT(simdattn_forward_tasks(&b, &cnt, &wsb), SIMDATTN_OK);
        ck_assert(wsb >= SIZE_MAX / 4); /* what a caller would fail to get */
    }
#undef BAD

    EXPECT(simdattn_forward_tasks(&d, NULL, &bytes), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_forward_tasks(&d, &count, NULL), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_forward_run_task(&d, count, ws_store), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_forward_run_task(&d, 0, NULL), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_forward_run_task(&d, 0, (char *)ws_store + 2), SIMDATTN_ERR_INVALID_ARGUMENT);
    /* a workspace overlapping O or an input */
    EXPECT(simdattn_forward_run_task(&d, 0, out + 8), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_forward_run_task(&d, 0, q), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_forward_run_task(NULL, 0, ws_store), SIMDATTN_ERR_INVALID_ARGUMENT);
    simdattn_forward_desc u = d;
#if defined(__x86_64__)
    u.isa = SIMDATTN_ISA_NEON;
#else
    u.isa = SIMDATTN_ISA_AVX512;
#endif
    EXPECT(simdattn_forward_tasks(&u, &count, &bytes), SIMDATTN_ERR_UNSUPPORTED_ISA);
    EXPECT(simdattn_forward_run_task(&u, 0, ws_store), SIMDATTN_ERR_UNSUPPORTED_ISA);

    /* the softcap stage kernel */
    EXPECT(simdattn_softcap(ISA, 2, 4, 1.0f, 0.0f, out, 4, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softcap(ISA, 2, 4, 1.0f, -1.0f, out, 4, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softcap(ISA, 2, 4, 1.0f, NAN, out, 4, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softcap(ISA, 2, 4, 1.0f, INFINITY, out, 4, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softcap(ISA, 2, 4, NAN, 1.0f, out, 4, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softcap(ISA, 2, 4, 1.0f, 1.0f, out, 3, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softcap(ISA, 0, 4, 1.0f, 1.0f, out, 4, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softcap(ISA, 2, 4, 1.0f, 1.0f, NULL, 4, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softcap(ISA, 2, 4, 1.0f, 1.0f, out, 4, 0x8), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softcap(ISA, 3, 4, 1.0f, 1.0f, out, SIZE_MAX / 2, 0), SIMDATTN_ERR_SIZE_OVERFLOW);
    const simdattn_kernels *t = simdattn_kernels_get(ISA);
    ck_assert(t && t->softcap);
    free(ws_store);
#undef EXPECT
}
END_TEST

int main(void) {
    isa_list_init();
    if (serial_only())
        fprintf(stderr, "testing ISAs: threads not created (SIMDATTN_TEST_SERIAL)\n");
    Suite *s = suite_create("engine");
    TCase *tc = tcase_create("engine");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, engine_arguments, 0, test_isa_count);
    tcase_add_loop_test(tc, softcap_kernel, 0, test_isa_count);
    tcase_add_loop_test(tc, engine_softcap_inf, 0, test_isa_count);
    tcase_add_loop_test(tc, engine_windows, 0, test_isa_count);
    tcase_add_loop_test(tc, engine_kv_lens, 0, test_isa_count);
    tcase_add_loop_test(tc, engine_key_mask, 0, test_isa_count);
    tcase_add_loop_test(tc, engine_mask_broadcast, 0, test_isa_count);
    tcase_add_loop_test(tc, engine_gqa_odd, 0, test_isa_count);
    tcase_add_loop_test(tc, engine_head_dim_v, 0, test_isa_count);
    tcase_add_loop_test(tc, engine_softcap, 0, test_isa_count);
    tcase_add_loop_test(tc, engine_combined, 0, test_isa_count);
    tcase_add_loop_test(tc, engine_decode, 0, test_isa_count);
    tcase_add_loop_test(tc, engine_task_phases, 0, test_isa_count);
    tcase_add_loop_test(tc, engine_kv_rounding, 0, test_isa_count);
    tcase_add_loop_test(tc, engine_task_pool, 0, test_isa_count);
    suite_add_tcase(s, tc);
    return run_suite(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
