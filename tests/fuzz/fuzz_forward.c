/*
 * libFuzzer target for the public forward API.
 *
 * Each input is read as a small program: shapes (batch, heads with GQA
 * groups, query and key counts reaching past the driver's 42-row tile and
 * 256-key block, head_dim), layout (BHSD or BSHD, padded row, head and
 * batch strides), mask (none, full, shared by batch and heads, per batch
 * entry; with a chosen density of -inf, up to fully masked rows), flags
 * (causal, deterministic; fast exp for half the non-deterministic inputs,
 * by the data seed's low bit), scale (default, moderate or large) and the
 * magnitude of the data, which a seed from the input fills.  The seed's
 * next two bits pick the K/V type (F16 or BF16 for one input in four
 * each): K and V are then rounded to it, handed over as 16-bit patterns,
 * and the oracle sees the exactly widened values.
 *
 * Valid descriptors run on every ISA this host runs; each output must
 *   - leave every float outside its window untouched (canaries),
 *   - be finite (the data are finite and no logit can overflow: |x| ≤
 *     72·2^60·256 ≪ FLT_MAX),
 *   - lie within the per-element bound of tests/oracle.c from the double
 *     oracle, and within twice it from the scalar ISA (both obey it),
 *   - with SIMDATTN_DETERMINISTIC or SIMDATTN_FAST_EXP, equal the scalar
 *     output bit for bit.
 * One input in four instead breaks the descriptor in one of the ways the
 * header lists (each guaranteed invalid): the call must return that
 * documented status and write nothing.
 * Any violation aborts, so libFuzzer saves the input.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../narrow.h"
#include "../oracle.h"
#include "internal.h"
#include "simdattn.h"

/* The driver's KV block (kernels/forward.c NB), for the oracle's count of
 * online rescales. */
enum { KV_BLOCK = SA_FORWARD_NB };

static const uint32_t CANARY = 0x7fc0dead; /* NaN payload no kernel makes */

/* Input reader: values in [0, range) from the next byte(s); 0 once the
 * input is used up, so every prefix is a valid program. */
typedef struct reader {
    const uint8_t *p;
    size_t n;
} reader;

static unsigned take(reader *r, unsigned range) {
    unsigned v = 0;
    for (unsigned span = 1; span < range; span <<= 8) {
        v = v << 8 | (r->n ? *r->p : 0);
        if (r->n) { r->p++; r->n--; }
    }
    return range ? v % range : 0;
}

static uint64_t take64(reader *r) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | take(r, 256);
    return v;
}

/* splitmix64, as tests/util.c */
static uint64_t mix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static float uniform(uint64_t *s, float lo, float hi) {
    return (float)(lo + (hi - lo) * ((double)(mix(s) >> 11) * 0x1p-53));
}

static void fail(const char *what, size_t at, double got, double want, double tol) {
    fprintf(stderr, "fuzz_forward: %s at %zu: got %.9g want %.9g tol %.3g\n", what, at, got,
            want, tol);
    abort();
}

static float canary(void) {
    float f;
    memcpy(&f, &CANARY, sizeof f);
    return f;
}

static int is_canary(float x) { return memcmp(&x, &CANARY, sizeof x) == 0; }

/* Every ISA this host runs, scalar first. */
static simdattn_isa isas[SIMDATTN_ISA_COUNT];
static int n_isas;
static simdattn_isa unsupported = SIMDATTN_ISA_AUTO; /* a valid ISA that cannot run */

/* Mutation 20's workspace request must fail like malloc does (the
 * library then returns OUT_OF_MEMORY), not abort under AddressSanitizer. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    for (int i = SIMDATTN_ISA_SCALAR; i < SIMDATTN_ISA_COUNT; i++) {
        if (simdattn_isa_supported((simdattn_isa)i))
            isas[n_isas++] = (simdattn_isa)i;
        else
            unsupported = (simdattn_isa)i;
    }
    return 0;
}

typedef struct problem {
    simdattn_forward_desc d;
    float *q, *k, *v, *mask; /* K, V: as the kernels see them (widened) */
    uint16_t *k16, *v16;     /* the 16-bit K, V given to the library */
    size_t q_n, k_n, m_n; /* floats allocated (V: k_n too) */
    size_t k_ext, v_ext;  /* floats K's and V's strides reach */
    size_t o_n;           /* floats in O's allocation (window + gaps + tail) */
} problem;

/* Strides of a [batch][heads][seq][dim] tensor, rows padded by `pad`, and
 * `gap` spare rows after each head and batch entry. */
static void layout(int bshd, size_t heads, size_t seq, size_t dim, size_t pad, size_t gap,
                   size_t s[3]) {
    size_t row = dim + pad;
    if (bshd) { /* [b][s][h][d] */
        s[1] = row;
        s[2] = heads * row + gap * row;
        s[0] = seq * s[2] + gap * row;
    } else {
        s[2] = row;
        s[1] = seq * row + gap * row;
        s[0] = heads * s[1] + gap * row;
    }
}

static size_t extent(size_t b, size_t h, size_t n, size_t dim, const size_t s[3]) {
    return (b - 1) * s[0] + (h - 1) * s[1] + (n - 1) * s[2] + dim;
}

static void make(reader *r, problem *p) {
    simdattn_forward_desc *d = &p->d;
    memset(p, 0, sizeof *p);
    int big = take(r, 8) == 7; /* one head, long sequences: several tiles/blocks */
    d->batch = big ? 1 : 1 + take(r, 2);
    d->kv_heads = big ? 1 : 1 + take(r, 2);
    d->q_heads = d->kv_heads * (big ? 1 : 1 + take(r, 3));
    d->q_len = 1 + take(r, big ? 96 : 20);
    d->kv_len = 1 + take(r, big ? 300 : 40);
    d->head_dim = 1 + take(r, big ? 40 : 72);
    /* layout bytes: Q/K/V order, then per tensor Q, K, V, O a row padding
     * and a head/batch gap; O picks its own order */
    int bshd = (int)take(r, 2), o_bshd = (int)take(r, 2);
    size_t pad[4], gap[4];
    for (int t = 0; t < 4; t++) {
        pad[t] = take(r, 4);
        gap[t] = take(r, 2);
    }
    size_t qs[3], ks[3], vs[3], os[3];
    layout(bshd, d->q_heads, d->q_len, d->head_dim, pad[0], gap[0], qs);
    layout(bshd, d->kv_heads, d->kv_len, d->head_dim, pad[1], gap[1], ks);
    layout(bshd, d->kv_heads, d->kv_len, d->head_dim, pad[2], gap[2], vs);
    layout(o_bshd, d->q_heads, d->q_len, d->head_dim, pad[3], gap[3], os);
    d->flags = take(r, 4); /* CAUSAL = 1, DETERMINISTIC = 2 */
    unsigned sc = take(r, 4);
    d->scale = sc == 0 ? 0.0f : sc == 1 ? (float)(1 + take(r, 256)) / 64 : ldexpf(1, (int)take(r, 9));
    static const float MAG[] = {1.0f, 8.0f, 0x1p10f, 0x1p30f};
    float mag = MAG[take(r, 4)];
    int mask_mode = (int)take(r, 4); /* none, full, shared, per batch entry */
    unsigned dense = take(r, 4);     /* P(-inf) = 0, 1/8, 1/2, 7/8 */
    size_t ms = d->kv_len + take(r, 3);
    uint64_t seed = take64(r);
    /* no input byte of its own, so the committed corpus decodes as before */
    if (!(d->flags & SIMDATTN_DETERMINISTIC) && (seed & 1))
        d->flags |= SIMDATTN_FAST_EXP;

    p->q_n = extent(d->batch, d->q_heads, d->q_len, d->head_dim, qs);
    p->k_ext = extent(d->batch, d->kv_heads, d->kv_len, d->head_dim, ks);
    p->v_ext = extent(d->batch, d->kv_heads, d->kv_len, d->head_dim, vs);
    p->k_n = p->k_ext > p->v_ext ? p->k_ext : p->v_ext;
    p->o_n = extent(d->batch, d->q_heads, d->q_len, d->head_dim, os) + 16;
    p->q = malloc(p->q_n * sizeof(float));
    p->k = malloc(p->k_n * sizeof(float));
    p->v = malloc(p->k_n * sizeof(float));
    for (size_t i = 0; i < p->q_n; i++) p->q[i] = uniform(&seed, -mag, mag);
    for (size_t i = 0; i < p->k_n; i++) p->k[i] = uniform(&seed, -mag, mag);
    for (size_t i = 0; i < p->k_n; i++) p->v[i] = uniform(&seed, -1, 1);
    d->q = (simdattn_tensor){p->q, qs[0], qs[1], qs[2]};
    d->k = (simdattn_tensor){p->k, ks[0], ks[1], ks[2]};
    d->v = (simdattn_tensor){p->v, vs[0], vs[1], vs[2]};
    /* fp16 holds |x| ≤ 65504: above that magnitude K stays fp32 */
    unsigned kv = (unsigned)(seed >> 1) & 3u;
    if (kv == 1 && mag <= 0x1p10f)
        d->kv_dtype = SIMDATTN_F16;
    else if (kv == 2)
        d->kv_dtype = SIMDATTN_BF16;
    if (d->kv_dtype != SIMDATTN_F32) {
        int h = d->kv_dtype == SIMDATTN_F16;
        p->k16 = malloc(p->k_n * sizeof(uint16_t));
        p->v16 = malloc(p->k_n * sizeof(uint16_t));
        for (size_t i = 0; i < p->k_n; i++) {
            p->k16[i] = h ? f32_to_f16(p->k[i]) : f32_to_bf16(p->k[i]);
            p->v16[i] = h ? f32_to_f16(p->v[i]) : f32_to_bf16(p->v[i]);
            p->k[i] = h ? sa_f16_to_f32(p->k16[i]) : sa_bf16_to_f32(p->k16[i]);
            p->v[i] = h ? sa_f16_to_f32(p->v16[i]) : sa_bf16_to_f32(p->v16[i]);
        }
        d->k.data = p->k16;
        d->v.data = p->v16;
    }
    d->o_stride_batch = os[0]; d->o_stride_head = os[1]; d->o_stride_seq = os[2];
    if (mask_mode) {
        size_t mst[3] = {0, 0, 0};
        if (mask_mode == 1) { mst[2] = ms; mst[1] = d->q_len * ms; mst[0] = d->q_heads * mst[1]; }
        if (mask_mode == 2) mst[2] = ms;
        if (mask_mode == 3) mst[0] = ms;
        p->m_n = extent(d->batch, d->q_heads, d->q_len, d->kv_len, mst);
        p->mask = malloc(p->m_n * sizeof(float));
        for (size_t i = 0; i < p->m_n; i++) {
            double u = (double)(mix(&seed) >> 11) * 0x1p-53;
            int removed = dense == 1 ? u < 0.125 : dense == 2 ? u < 0.5 : dense == 3 && u < 0.875;
            p->mask[i] = removed ? -INFINITY : uniform(&seed, -4, 4);
        }
        d->mask = (simdattn_tensor){p->mask, mst[0], mst[1], mst[2]};
    }
}

static void release(problem *p) {
    free(p->q); free(p->k); free(p->v); free(p->mask); free(p->k16); free(p->v16);
}

static float *new_output(size_t n) {
    float *o = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) o[i] = canary();
    return o;
}

/* Index of element (b, h, i, e) of O. */
static size_t o_at(const simdattn_forward_desc *d, size_t b, size_t h, size_t i, size_t e) {
    return b * d->o_stride_batch + h * d->o_stride_head + i * d->o_stride_seq + e;
}

static void check_valid(problem *p) {
    simdattn_forward_desc *d = &p->d;
    float *out[SIMDATTN_ISA_COUNT];
    for (int t = 0; t < n_isas; t++) {
        out[t] = new_output(p->o_n);
        d->o = out[t];
        d->isa = isas[t];
        simdattn_status st = simdattn_forward(d);
        if (st != SIMDATTN_OK)
            fail(simdattn_status_str(st), (size_t)isas[t], 0, 0, 0);
    }
    /* window mask: 1 where some (b, h, i, e) lands */
    unsigned char *in = calloc(p->o_n, 1);
    for (size_t b = 0; b < d->batch; b++)
        for (size_t h = 0; h < d->q_heads; h++)
            for (size_t i = 0; i < d->q_len; i++)
                for (size_t e = 0; e < d->head_dim; e++)
                    in[o_at(d, b, h, i, e)] = 1;
    for (int t = 0; t < n_isas; t++)
        for (size_t i = 0; i < p->o_n; i++)
            if (!in[i] && !is_canary(out[t][i]))
                fail("write outside O", i, out[t][i], 0, 0);
    free(in);

    size_t nq = d->q_len, dim = d->head_dim;
    double *want = malloc(nq * dim * sizeof(double)), *tol = malloc(nq * dim * sizeof(double));
    float scale = d->scale != 0 ? d->scale : 1.0f / sqrtf((float)dim);
    size_t group = d->q_heads / d->kv_heads;
    for (size_t b = 0; b < d->batch; b++)
        for (size_t h = 0; h < d->q_heads; h++) {
            size_t g = h / group;
            oracle_head oh = {
                nq, d->kv_len, dim, scale, (d->flags & SIMDATTN_CAUSAL) != 0,
                (const float *)d->q.data + b * d->q.stride_batch + h * d->q.stride_head, d->q.stride_seq,
                p->k + b * d->k.stride_batch + g * d->k.stride_head, d->k.stride_seq,
                p->v + b * d->v.stride_batch + g * d->v.stride_head, d->v.stride_seq,
                d->mask.data ? (const float *)d->mask.data + b * d->mask.stride_batch + h * d->mask.stride_head
                             : NULL,
                d->mask.stride_seq, KV_BLOCK, 0, 0.0f, 0, NULL,
                d->flags & SIMDATTN_FAST_EXP ? SIMDATTN_FAST_EXP_ULP : 1.0,
                oracle_splits(nq, group, d->kv_len)};
            oracle_attention(&oh, want, tol);
            for (size_t i = 0; i < nq; i++)
                for (size_t e = 0; e < dim; e++) {
                    size_t at = o_at(d, b, h, i, e);
                    double w = want[i * dim + e], bound = tol[i * dim + e];
                    float ref = out[0][at];
                    for (int t = 0; t < n_isas; t++) {
                        float got = out[t][at];
                        if (!isfinite(got) || !(fabs(got - w) <= bound))
                            fail(simdattn_isa_name(isas[t]), at, got, w, bound);
                        if (!(fabs(got - ref) <= 2 * bound))
                            fail("differs from scalar", at, got, ref, 2 * bound);
                        if ((d->flags & (SIMDATTN_DETERMINISTIC | SIMDATTN_FAST_EXP)) &&
                            memcmp(&got, &ref, sizeof got))
                            fail("deterministic bits differ from scalar", at, got, ref, 0);
                    }
                }
        }
    free(want); free(tol);
    for (int t = 0; t < n_isas; t++)
        free(out[t]);
}

/* Break a valid descriptor in one documented way; returns the status the
 * header promises, or -1 if this mutation does not apply to the shape. */
static int mutate(reader *r, simdattn_forward_desc *d, const problem *p, float *o,
                  int *no_desc) {
    switch (take(r, 22)) {
    case 0: d->q.data = NULL; return SIMDATTN_ERR_INVALID_ARGUMENT;
    case 1: d->k.data = NULL; return SIMDATTN_ERR_INVALID_ARGUMENT;
    case 2: d->v.data = NULL; return SIMDATTN_ERR_INVALID_ARGUMENT;
    case 3: d->o = NULL; return SIMDATTN_ERR_INVALID_ARGUMENT;
    case 4: {
        size_t *sizes[] = {&d->batch, &d->q_heads, &d->kv_heads, &d->q_len, &d->kv_len,
                           &d->head_dim};
        *sizes[take(r, 6)] = 0;
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    }
    case 5: d->kv_heads = d->q_heads + 1 + take(r, 3); return SIMDATTN_ERR_INVALID_ARGUMENT;
    case 6: /* an unknown bit, or SIMDATTN_FAST_EXP with SIMDATTN_DETERMINISTIC */
        d->flags |= 4u << take(r, 30);
        if (d->flags & SIMDATTN_FAST_EXP)
            d->flags |= SIMDATTN_DETERMINISTIC;
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    case 7: {
        static const float BAD[] = {NAN, INFINITY, -INFINITY, -1.0f, -FLT_TRUE_MIN, -0x1p100f};
        d->scale = BAD[take(r, 6)];
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    }
    case 8:
        d->isa = take(r, 2) ? (simdattn_isa)(SIMDATTN_ISA_COUNT + take(r, 100))
                            : (simdattn_isa)(-1 - (int)take(r, 100));
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    case 9:
        if (unsupported == SIMDATTN_ISA_AUTO) return -1;
        d->isa = unsupported;
        return SIMDATTN_ERR_UNSUPPORTED_ISA;
    case 10: /* O starting inside Q's, K's or V's range (not merely
                inside its allocation, which may be longer) */
        switch (take(r, 3)) {
        case 0: d->o = p->q + take(r, (unsigned)p->q_n); break;
        case 1: /* K's range in its own element type */
            d->o = p->k16 ? (float *)(void *)(p->k16 + 2 * take(r, (unsigned)p->k_ext / 2))
                          : p->k + take(r, (unsigned)p->k_ext);
            break;
        default:
            d->o = p->v16 ? (float *)(void *)(p->v16 + 2 * take(r, (unsigned)p->v_ext / 2))
                          : p->v + take(r, (unsigned)p->v_ext);
            break;
        }
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    case 11: /* the mask starting inside O's window */
        d->mask.data = o + take(r, (unsigned)d->head_dim);
        if (take(r, 2)) d->mask.stride_batch = d->mask.stride_head = d->mask.stride_seq = 0;
        else if (d->q_len > 1 && d->mask.stride_seq == 0) d->mask.stride_seq = d->kv_len;
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    case 12:
        if (d->q_len < 2) return -1;
        d->o_stride_seq = take(r, (unsigned)d->head_dim);
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    case 13:
        if (d->q_heads < 2) return -1;
        d->o_stride_head = take(r, 2) ? 0 : d->o_stride_seq; /* < a head's span */
        if (d->q_len < 2 && d->o_stride_head >= d->head_dim) d->o_stride_head = 0;
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    case 14:
        if (d->batch < 2) return -1;
        d->o_stride_batch = take(r, (unsigned)d->head_dim);
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    case 15:
        if (d->q_len < 2) return -1;
        d->q.stride_seq = take(r, (unsigned)d->head_dim);
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    case 16: {
        if (d->kv_len < 2) return -1;
        size_t *stride = take(r, 2) ? &d->k.stride_seq : &d->v.stride_seq;
        *stride = take(r, (unsigned)d->head_dim);
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    }
    case 17:
        if (!d->mask.data || d->q_len < 2 || d->kv_len < 2) return -1;
        d->mask.stride_seq = 1 + take(r, (unsigned)d->kv_len - 1);
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    case 18: { /* a stride whose extent, in bytes, reaches 2^64 − 64 or
                  beyond: past the end of the address space */
        if (d->batch < 2 && d->kv_len < 2) return -1;
        size_t back = take(r, 16), kvs = sa_dtype_size(d->kv_dtype);
        if (d->batch >= 2 && take(r, 2))
            d->q.stride_batch = SIZE_MAX / sizeof(float) - back;
        else if (d->batch >= 2)
            d->k.stride_batch = SIZE_MAX / kvs - back;
        else
            d->v.stride_seq = SIZE_MAX / kvs - back;
        return SIMDATTN_ERR_SIZE_OVERFLOW;
    }
    case 19: /* a sequence so long that its extent overflows size_t (a
                mask row stride would then be too short: skip those) */
        if (d->mask.data && d->q_len > 1 && d->mask.stride_seq) return -1;
        d->kv_len = SIZE_MAX / 2 + take(r, 1000);
        return SIMDATTN_ERR_SIZE_OVERFLOW;
    case 20: { /* one query, one key, head_dim ≥ 2^58: each tensor's
                  extent fits (≥ 2^60 bytes, so Q, K, V are placed far
                  above O, never touched); one query row takes the decode
                  path, whose workspace (a few rows of head_dim floats,
                  ≥ 2^61 bytes) fits in size_t but in no memory */
        uintptr_t base = (uintptr_t)o;
        d->batch = d->q_heads = d->kv_heads = d->q_len = d->kv_len = 1;
        d->head_dim = ((size_t)1 << 58) + take(r, 1000);
        d->q.data = (const float *)(base + ((uintptr_t)1 << 60) + 4096);
        d->k.data = (const float *)(base + ((uintptr_t)1 << 61));
        d->v.data = (const float *)(base + ((uintptr_t)1 << 62));
        d->mask.data = NULL;
        return SIMDATTN_ERR_OUT_OF_MEMORY;
    }
    default: /* no descriptor at all */
        *no_desc = 1;
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    }
}

static void check_invalid(reader *r, problem *p) {
    simdattn_forward_desc bad = p->d;
    float *o = new_output(p->o_n);
    bad.o = o;
    bad.isa = take(r, 2) ? SIMDATTN_ISA_AUTO : isas[take(r, (unsigned)n_isas)];
    int no_desc = 0;
    int want = mutate(r, &bad, p, o, &no_desc);
    if (want < 0) {
        free(o);
        return;
    }
    simdattn_status st = simdattn_forward(no_desc ? NULL : &bad);
    if ((int)st != want)
        fail("invalid descriptor: wrong status", (size_t)want, st, want, 0);
    for (size_t i = 0; i < p->o_n; i++)
        if (!is_canary(o[i]))
            fail("output written on error", i, o[i], 0, 0);
    free(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    reader r = {data, size};
    int invalid = take(&r, 4) == 0;
    problem p;
    make(&r, &p);
    if (invalid)
        check_invalid(&r, &p);
    else
        check_valid(&p);
    release(&p);
    return 0;
}
