/*
 * The fused forward (simdattn_forward) for every runnable ISA, fp32, one
 * thread, scale = 1/sqrt(d), contiguous [head][seq][dim] tensors:
 *   forward/<isa>/P64        1 head, Nq = Nk = 1024, d = 64
 *   forward/<isa>/P128       1 head, Nq = Nk = 2048, d = 128
 *   forward/<isa>/P128c      P128, causal
 *   forward/<isa>/P64-fastexp, P128-fastexp, P128c-fastexp
 *                            the same with SIMDATTN_FAST_EXP (the inlined
 *                            polynomial exp instead of SLEEF's call)
 *   forward/<isa>/D128       decode: 32 query heads over 8 KV heads (GQA),
 *                            Nq = 1, Nk = 4096, d = 128, fp32 K/V
 *   forward/<isa>/D128-f16, D128-bf16
 *                            the same with an fp16 / bf16 KV cache
 *   forward/<isa>/D128-32k, D128-f16-32k, D128-bf16-32k
 *                            Nk = 32768 (split-KV: 16 splits per KV head)
 *   …/t2                     each decode case on 2 threads (desc.threads),
 *                            bw_frac against peak/read_bw/t2
 *   forward/<isa>/N<n>_d<d>  1 head, Nq = Nk = n: a head_dim sweep at
 *                            n = 1024 and a sequence sweep at d = 128
 * Flops per query head = 4·Nq·Nk·d (Q·Kᵀ and P·V); causal cases count half
 * of that, the work a causal kernel has to do ("effective" GFLOP/s).
 * Decode also reports GBps/bw_frac over the bytes it must move: K and V of
 * every KV head (2 bytes an element in fp16/bf16), Q and O.  When those K/V would fit in the last-level cache
 * the case rotates over enough copies that each call finds its K/V evicted,
 * as a model's decode step does (every layer has its own cache), and the
 * label says so.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

typedef struct workload {
    const char *name; /* NULL: named N<nq>_d<d> */
    size_t q_heads, kv_heads, nq, nk, d;
    unsigned flags;
    int decode; /* report GBps/bw_frac */
    simdattn_dtype kv; /* K/V element type */
    unsigned threads;  /* desc.threads (0: 1) */
} workload;

static const workload named[] = {
    {"P64", 1, 1, 1024, 1024, 64, 0, 0, SIMDATTN_F32, 0},
    {"P128", 1, 1, 2048, 2048, 128, 0, 0, SIMDATTN_F32, 0},
    {"P128c", 1, 1, 2048, 2048, 128, SIMDATTN_CAUSAL, 0, SIMDATTN_F32, 0},
    {"D128", 32, 8, 1, 4096, 128, 0, 1, SIMDATTN_F32, 0},
    {"D128-f16", 32, 8, 1, 4096, 128, 0, 1, SIMDATTN_F16, 0},
    {"D128-bf16", 32, 8, 1, 4096, 128, 0, 1, SIMDATTN_BF16, 0},
    {"D128-32k", 32, 8, 1, 32768, 128, 0, 1, SIMDATTN_F32, 0},
    {"D128-f16-32k", 32, 8, 1, 32768, 128, 0, 1, SIMDATTN_F16, 0},
    {"D128-bf16-32k", 32, 8, 1, 32768, 128, 0, 1, SIMDATTN_BF16, 0},
    {"D128/t2", 32, 8, 1, 4096, 128, 0, 1, SIMDATTN_F32, 2},
    {"D128-f16/t2", 32, 8, 1, 4096, 128, 0, 1, SIMDATTN_F16, 2},
    {"D128-bf16/t2", 32, 8, 1, 4096, 128, 0, 1, SIMDATTN_BF16, 2},
    {"D128-32k/t2", 32, 8, 1, 32768, 128, 0, 1, SIMDATTN_F32, 2},
    {"D128-f16-32k/t2", 32, 8, 1, 32768, 128, 0, 1, SIMDATTN_F16, 2},
    {"D128-bf16-32k/t2", 32, 8, 1, 32768, 128, 0, 1, SIMDATTN_BF16, 2},
    {"P64-fastexp", 1, 1, 1024, 1024, 64, SIMDATTN_FAST_EXP, 0, SIMDATTN_F32, 0},
    {"P128-fastexp", 1, 1, 2048, 2048, 128, SIMDATTN_FAST_EXP, 0, SIMDATTN_F32, 0},
    {"P128c-fastexp", 1, 1, 2048, 2048, 128, SIMDATTN_CAUSAL | SIMDATTN_FAST_EXP, 0, SIMDATTN_F32, 0},
};
static const size_t dim_sweep[] = {32, 64, 80, 96, 128, 256};
enum { DIM_SWEEP_N = 1024, SEQ_SWEEP_D = 128 };
static const size_t seq_sweep[] = {128, 256, 512, 1024, 2048, 4096, 8192, 16384};
/* The scalar reference runs near 1 GFLOP/s: N = 4096 at d = 128 is already
 * 8.6 GFLOP a call, so its sequence sweep stops at 2048, and it skips the
 * -fastexp workloads (its fast exp is a reference for the tests, not a
 * speed path), to keep the suite short (every vector ISA runs them all). */
enum { SCALAR_MAX_N = 2048 };

typedef struct fwd_arg {
    workload w;
    simdattn_isa isa;
    size_t copies; /* K/V sets rotated through (1: no rotation) */
} fwd_arg;

typedef struct fwd_ctx {
    simdattn_forward_desc desc;
    float *q, *kv, *o;
    size_t copies, next, kv_floats; /* elements of one K+V set */
    size_t es;                      /* bytes per K/V element */
} fwd_ctx;

/* x narrowed to fp16 / bf16 bits by truncation, magnitudes below fp16's
 * normal range to ±0: bench data in [-1, 1] only needs plausible values
 * (the tests check rounding; tests/util.c). */
static uint16_t narrow(float x, simdattn_dtype t) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if (t == SIMDATTN_BF16)
        return (uint16_t)(u >> 16);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    int e = (int)((u >> 23) & 0xffu) - 127 + 15;
    if (e <= 0)
        return sign;
    return (uint16_t)(sign | (uint32_t)e << 10 | ((u >> 13) & 0x3ffu));
}

static void fwd_teardown(void *ctx) {
    fwd_ctx *c = ctx;
    free(c->q);
    free(c->kv);
    free(c->o);
    free(c);
}

static void *fwd_setup(const void *arg) {
    const fwd_arg *a = arg;
    const workload *w = &a->w;
    fwd_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    size_t qn = w->q_heads * w->nq * w->d, kn = w->kv_heads * w->nk * w->d;
    c->copies = a->copies;
    c->kv_floats = 2 * kn;
    c->q = sab_floats(qn);
    c->o = sab_floats(qn);
    c->es = w->kv == SIMDATTN_F32 ? sizeof(float) : sizeof(uint16_t);
    /* fp16/bf16 sets are packed two elements to a float slot */
    c->kv = sab_floats(c->kv_floats * c->copies * c->es / sizeof(float));
    if (!c->q || !c->o || !c->kv) {
        fwd_teardown(c);
        return NULL;
    }
    sab_fill(c->q, qn, -1.0f, 1.0f, 11);
    for (size_t i = 0; i < c->copies; i++) {
        if (c->es == sizeof(float)) {
            sab_fill(c->kv + i * c->kv_floats, c->kv_floats, -1.0f, 1.0f, 12);
            continue;
        }
        float *tmp = sab_floats(c->kv_floats);
        if (!tmp) {
            fwd_teardown(c);
            return NULL;
        }
        sab_fill(tmp, c->kv_floats, -1.0f, 1.0f, 12);
        uint16_t *h = (uint16_t *)(void *)c->kv + i * c->kv_floats;
        for (size_t j = 0; j < c->kv_floats; j++)
            h[j] = narrow(tmp[j], w->kv);
        free(tmp);
    }
    simdattn_forward_desc *d = &c->desc;
    d->batch = 1;
    d->q_heads = w->q_heads;
    d->kv_heads = w->kv_heads;
    d->q_len = w->nq;
    d->kv_len = w->nk;
    d->head_dim = w->d;
    d->scale = 0.0f; /* 1/sqrt(d) */
    d->flags = w->flags;
    d->q = (simdattn_tensor){c->q, qn, w->nq * w->d, w->d};
    d->k = (simdattn_tensor){c->kv, 2 * kn, w->nk * w->d, w->d};
    d->v = (simdattn_tensor){(const char *)c->kv + kn * c->es, 2 * kn,
                             w->nk * w->d, w->d};
    d->kv_dtype = w->kv;
    d->threads = w->threads;
    d->o = c->o;
    d->o_stride_batch = qn;
    d->o_stride_head = w->nq * w->d;
    d->o_stride_seq = w->d;
    d->isa = a->isa;
    return c;
}

static const char *fwd_run(void *ctx) {
    fwd_ctx *c = ctx;
    if (c->copies > 1) {
        const char *set = (const char *)c->kv + c->next * c->kv_floats * c->es;
        c->desc.k.data = set;
        c->desc.v.data = set + c->kv_floats / 2 * c->es;
        c->next = (c->next + 1) % c->copies;
    }
    simdattn_status st = simdattn_forward(&c->desc);
    return st == SIMDATTN_OK ? NULL : simdattn_status_str(st);
}

/* Static storage: the shim hands these to setup for the whole run. */
static fwd_arg args[SIMDATTN_ISA_COUNT * 48];
static size_t nargs;

static void add(simdattn_isa isa, workload w) {
    if (nargs == sizeof args / sizeof args[0])
        return;
    fwd_arg *a = &args[nargs++];
    a->w = w;
    a->isa = isa;
    a->copies = 1;
    double flops = 4.0 * w.q_heads * w.nq * w.nk * w.d;
    if (w.flags & SIMDATTN_CAUSAL)
        flops /= 2;
    char name[64], label[160] = "";
    if (w.name)
        snprintf(name, sizeof name, "forward/%s/%s", simdattn_isa_name(isa),
                 w.name);
    else
        snprintf(name, sizeof name, "forward/%s/N%zu_d%zu",
                 simdattn_isa_name(isa), w.nq, w.d);
    double kv = 2.0 * w.kv_heads * w.nk * w.d *
                (w.kv == SIMDATTN_F32 ? sizeof(float) : sizeof(uint16_t));
    double bytes = kv + 2.0 * w.q_heads * w.nq * w.d * sizeof(float);
    if (w.decode) {
        double llc = (double)sab_llc_bytes();
        if (llc == 0)
            snprintf(label, sizeof label,
                     "K/V %.1f MiB; LLC size unknown: may be cached", kv / 1048576);
        else if (kv >= 2 * llc)
            snprintf(label, sizeof label, "K/V %.1f MiB > LLC %.1f MiB",
                     kv / 1048576, llc / 1048576);
        else {
            /* reuse distance (copies − 1)·K/V ≥ 2·LLC evicts a set before
             * its next use under any replacement policy close to LRU */
            a->copies = (size_t)(2 * llc / kv) + 2;
            snprintf(label, sizeof label,
                     "K/V %.1f MiB fit in LLC %.1f MiB; rotating %zu copies "
                     "so they are read from memory",
                     kv / 1048576, llc / 1048576, a->copies);
        }
    }
    sab_add(&(sab_case){
        .name = name,
        .setup = fwd_setup,
        .run = fwd_run,
        .teardown = fwd_teardown,
        .arg = a,
        .flops = flops,
        .bytes = w.decode ? bytes : 0,
        .flop_peak = sab_fma_peak(isa),
        .byte_peak = !w.decode ? NULL : w.threads > 1 ? SAB_READ_BW_T2 : SAB_READ_BW,
        .label = label,
    });
}

void sab_register_forward(void) {
    simdattn_isa isas[SIMDATTN_ISA_COUNT];
    int n = sab_isas(isas);
    for (int i = 0; i < n; i++) {
        for (size_t k = 0; k < sizeof named / sizeof named[0]; k++)
            if (isas[i] != SIMDATTN_ISA_SCALAR ||
                (!(named[k].flags & SIMDATTN_FAST_EXP) && named[k].nk <= SCALAR_MAX_N * 2))
                add(isas[i], named[k]);
        for (size_t k = 0; k < sizeof dim_sweep / sizeof dim_sweep[0]; k++)
            add(isas[i], (workload){NULL, 1, 1, DIM_SWEEP_N, DIM_SWEEP_N,
                                    dim_sweep[k], 0, 0, SIMDATTN_F32, 0});
        for (size_t k = 0; k < sizeof seq_sweep / sizeof seq_sweep[0]; k++) {
            size_t len = seq_sweep[k];
            if (len == DIM_SWEEP_N) /* already in the head_dim sweep */
                continue;
            if (isas[i] == SIMDATTN_ISA_SCALAR && len > SCALAR_MAX_N)
                continue;
            add(isas[i], (workload){NULL, 1, 1, len, len, SEQ_SWEEP_D, 0, 0, SIMDATTN_F32, 0});
        }
    }
}
