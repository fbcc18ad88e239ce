/*
 * The fused forward (simdattn_forward) for every runnable ISA, fp32,
 * scale = 1/sqrt(d), contiguous [head][seq][dim] tensors; one thread
 * unless the name ends in /t<n>:
 *   forward/<isa>/P64        1 head, Nq = Nk = 1024, d = 64
 *   forward/<isa>/P128       1 head, Nq = Nk = 2048, d = 128
 *   forward/<isa>/P128c      P128, causal
 *   forward/<isa>/P64-fastexp, P128-fastexp, P128c-fastexp
 *                            the same with SIMDATTN_FAST_EXP (the inlined
 *                            polynomial exp instead of SLEEF's call)
 *   forward/<isa>/P128-f16, P128-bf16
 *                            P128 with an fp16 / bf16 KV cache
 *                            (desc.kv_dtype): the cost of widening K as it
 *                            is packed and V once per work item
 *   forward/<isa>/D128       decode: 32 query heads over 8 KV heads (GQA),
 *                            Nq = 1, Nk = 4096, d = 128, fp32 K/V
 *   forward/<isa>/D128-f16, D128-bf16
 *                            the same with an fp16 / bf16 KV cache
 *   forward/<isa>/D128-32k, D128-f16-32k, D128-bf16-32k
 *                            Nk = 32768 (split-KV: 16 splits per KV head)
 *   forward/<isa>/D128…/t2   each decode case on 2 threads, bw_frac against
 *                            peak/read_bw/t2 (the scalar set runs the
 *                            Nk = 4096 ones on one thread only)
 *   forward/<isa>/N<n>_d<d>  1 head, Nq = Nk = n: a head_dim sweep at
 *                            n = 1024 and a sequence sweep at d = 128
 * Threads, GQA, windows and deterministic mode:
 *   forward/<isa>/P64-det, P128-det, P128c-det
 *                            the same with SIMDATTN_DETERMINISTIC (SLEEF's
 *                            finz exp): the cost of bit-reproducibility
 *   forward/<isa>/H32        32 heads (MHA), Nq = Nk = 1024, d = 128
 *   forward/<isa>/H32-kv8    the same 32 query heads over 8 KV heads (GQA
 *                            4:1): same flops, so the time ratio is the
 *                            per-query-head time GQA / MHA
 *   forward/<isa>/N4096c     1 head, Nq = Nk = 4096, d = 128, causal
 *   forward/<isa>/N4096c-w512  the same with a sliding window W = 512
 *   forward/<isa>/P128x8/t<n>  8 heads, Nq = Nk = 2048, d = 128, on
 *                            desc.threads = n, n = 1, 2, 4, 8, 16
 *   forward/<isa>/P64/t2, P128/t2, P128c/t2
 *                            the one-head workloads on 2 threads (one head
 *                            has 4–7 work items, so more threads would idle)
 * Thread counts above sab_max_threads() (the CPUs available, or
 * --sab_threads) are not registered, nor any above 1 when the library has
 * no OpenMP.  Cases on more than one thread are timed in wall time
 * (shim.h), and bench_report.py prints their scaling efficiency against
 * the same workload on one thread (both over wall time).
 * Flops per query head = 4·Nq·Nk·d (Q·Kᵀ and P·V); causal cases count half
 * of that, the work a causal kernel has to do ("effective" GFLOP/s), and
 * windowed ones 4·d per visible (row, key) pair.
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
} workload;

static const workload named[] = {
    {"P64", 1, 1, 1024, 1024, 64, 0, 0},
    {"P128", 1, 1, 2048, 2048, 128, 0, 0},
    {"P128c", 1, 1, 2048, 2048, 128, SIMDATTN_CAUSAL, 0},
    {"P64-fastexp", 1, 1, 1024, 1024, 64, SIMDATTN_FAST_EXP, 0},
    {"P128-fastexp", 1, 1, 2048, 2048, 128, SIMDATTN_FAST_EXP, 0},
    {"P128c-fastexp", 1, 1, 2048, 2048, 128, SIMDATTN_CAUSAL | SIMDATTN_FAST_EXP, 0},
};
/* P128 with a 16-bit KV cache, next to P128 */
static const workload p128_f16 = {"P128-f16", 1, 1, 2048, 2048, 128, 0, 0};
static const workload p128_bf16 = {"P128-bf16", 1, 1, 2048, 2048, 128, 0, 0};
static const size_t dim_sweep[] = {32, 64, 80, 96, 128, 256};
enum { DIM_SWEEP_N = 1024, SEQ_SWEEP_D = 128 };
static const size_t seq_sweep[] = {128, 256, 512, 1024, 2048, 4096, 8192, 16384};
/* The scalar reference runs near 1 GFLOP/s: N = 4096 at d = 128 is already
 * 8.6 GFLOP a call, so its sequence sweep stops at 2048, and it skips the
 * -fastexp workloads (its fast exp is a reference for the tests, not a
 * speed path), to keep the suite short (every vector ISA runs them all). */
enum { SCALAR_MAX_N = 2048 };

/* Threads, GQA, windows and deterministic mode (see the header): each
 * runs with sliding window `window` (0: none) at every count of
 * thread_counts in [lo, hi] (named /t<n>), or on one thread, unnamed, for
 * lo = 0.  The one-thread figure of the one-head workloads' /t2 is the
 * plain case above. */
typedef struct engine_case {
    workload w;
    size_t window;
    unsigned lo, hi;
} engine_case;
static const engine_case engine[] = {
    {{"P64-det", 1, 1, 1024, 1024, 64, SIMDATTN_DETERMINISTIC, 0}, 0, 0, 0},
    {{"P128-det", 1, 1, 2048, 2048, 128, SIMDATTN_DETERMINISTIC, 0}, 0, 0, 0},
    {{"P128c-det", 1, 1, 2048, 2048, 128, SIMDATTN_CAUSAL | SIMDATTN_DETERMINISTIC, 0}, 0, 0, 0},
    {{"H32", 32, 32, 1024, 1024, 128, 0, 0}, 0, 0, 0},
    {{"H32-kv8", 32, 8, 1024, 1024, 128, 0, 0}, 0, 0, 0},
    {{"N4096c", 1, 1, 4096, 4096, 128, SIMDATTN_CAUSAL, 0}, 0, 0, 0},
    {{"N4096c-w512", 1, 1, 4096, 4096, 128, SIMDATTN_CAUSAL, 0}, 512, 0, 0},
    {{"P128x8", 8, 8, 2048, 2048, 128, 0, 0}, 0, 1, 16},
    {{"P64", 1, 1, 1024, 1024, 64, 0, 0}, 0, 2, 2},
    {{"P128", 1, 1, 2048, 2048, 128, 0, 0}, 0, 2, 2},
    {{"P128c", 1, 1, 2048, 2048, 128, SIMDATTN_CAUSAL, 0}, 0, 2, 2},
};
static const unsigned thread_counts[] = {1, 2, 4, 8, 16};

/* Decode (D128 and its K/V types and lengths), each on 1 and 2 threads. */
typedef struct decode_case {
    const char *name;
    size_t nk;
    simdattn_dtype kv;
} decode_case;
static const decode_case decode[] = {
    {"D128", 4096, SIMDATTN_F32},      {"D128-f16", 4096, SIMDATTN_F16},
    {"D128-bf16", 4096, SIMDATTN_BF16}, {"D128-32k", 32768, SIMDATTN_F32},
    {"D128-f16-32k", 32768, SIMDATTN_F16}, {"D128-bf16-32k", 32768, SIMDATTN_BF16},
};
/* The scalar reference runs near 1 GFLOP/s: of these it runs only
 * workloads of at most P128's 2.1 GFLOP a call (counted without causality
 * or windows, so a causal or windowed case keeps its full-attention
 * partner): the -det and /t2 one-head ones, not H32, N4096c or P128x8. */
#define SCALAR_MAX_FLOPS (4.0 * 2048 * 2048 * 128)

static int scalar_runs(const workload *w) {
    return 4.0 * (double)w->q_heads * (double)w->nq * (double)w->nk * (double)w->d <=
           SCALAR_MAX_FLOPS;
}

/* (query row, key) pairs a query head computes: Nq·Nk, half of it when
 * causal (the convention above); with a window, exactly the visible ones
 * (simdattn.h, "Which keys a query row sees"). */
static double visible_pairs(const workload *w, size_t window) {
    if (!window)
        return (double)w->nq * (double)w->nk / (w->flags & SIMDATTN_CAUSAL ? 2 : 1);
    double pairs = 0;
    for (size_t i = 0; i < w->nq; i++) {
        double p = (double)i + (double)w->nk - (double)w->nq, wd = (double)window;
        double lo = p - wd + 1, hi = w->flags & SIMDATTN_CAUSAL ? p + 1 : p + wd;
        lo = lo < 0 ? 0 : lo;
        hi = hi > (double)w->nk ? (double)w->nk : hi;
        pairs += hi > lo ? hi - lo : 0;
    }
    return pairs;
}

typedef struct fwd_arg {
    workload w;
    simdattn_isa isa;
    size_t copies; /* K/V sets rotated through (1: no rotation) */
    simdattn_dtype kv; /* K/V element type */
    size_t window; /* desc.window */
    unsigned threads; /* desc.threads; 0: one thread, as timed by default */
} fwd_arg;

typedef struct fwd_ctx {
    simdattn_forward_desc desc;
    float *q, *kv, *o;
    uint16_t *kv16; /* the K/V sets in 16 bits, for kv_dtype F16/BF16 */
    size_t copies, next, kv_floats; /* elements of one K+V set */
} fwd_ctx;

static void fwd_teardown(void *ctx) {
    fwd_ctx *c = ctx;
    free(c->q);
    free(c->kv);
    free(c->kv16);
    free(c->o);
    free(c);
}

/* x in (−1, 1) to fp16 (truncated; below 2^-14 flushed to 0) or bf16
 * (truncated): inputs for timing, any nearby value does. */
static uint16_t narrow16(simdattn_dtype t, float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if (t == SIMDATTN_BF16)
        return (uint16_t)(u >> 16);
    int e = (int)((u >> 23) & 0xff) - 127 + 15;
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    if (e <= 0)
        return sign;
    return (uint16_t)(sign | (unsigned)e << 10 | ((u >> 13) & 0x3ffu));
}

/* Base of K/V set i (elements of the set's type). */
static const void *kv_set(const fwd_ctx *c, size_t i) {
    if (c->kv16)
        return c->kv16 + i * c->kv_floats;
    return c->kv + i * c->kv_floats;
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
    c->kv = sab_floats(c->kv_floats * c->copies);
    if (!c->q || !c->o || !c->kv) {
        fwd_teardown(c);
        return NULL;
    }
    sab_fill(c->q, qn, -1.0f, 1.0f, 11);
    for (size_t i = 0; i < c->copies; i++)
        sab_fill(c->kv + i * c->kv_floats, c->kv_floats, -1.0f, 1.0f, 12);
    simdattn_forward_desc *d = &c->desc;
    if (a->kv != SIMDATTN_F32) {
        size_t n = c->kv_floats * c->copies;
        c->kv16 = (uint16_t *)(void *)sab_floats((n + 1) / 2); /* as c->kv */
        if (!c->kv16) {
            fwd_teardown(c);
            return NULL;
        }
        for (size_t i = 0; i < n; i++)
            c->kv16[i] = narrow16(a->kv, c->kv[i]);
        d->kv_dtype = a->kv;
    }
    d->batch = 1;
    d->q_heads = w->q_heads;
    d->kv_heads = w->kv_heads;
    d->q_len = w->nq;
    d->kv_len = w->nk;
    d->head_dim = w->d;
    d->scale = 0.0f; /* 1/sqrt(d) */
    d->flags = w->flags;
    d->window = a->window;
    d->threads = a->threads;
    d->q = (simdattn_tensor){c->q, qn, w->nq * w->d, w->d};
    const char *set = kv_set(c, 0);
    size_t es = sa_dtype_size(a->kv);
    d->k = (simdattn_tensor){set, 2 * kn, w->nk * w->d, w->d};
    d->v = (simdattn_tensor){set + kn * es, 2 * kn, w->nk * w->d, w->d};
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
        const char *set = kv_set(c, c->next);
        size_t es = c->kv16 ? sizeof(uint16_t) : sizeof(float);
        c->desc.k.data = set;
        c->desc.v.data = set + c->kv_floats / 2 * es;
        c->next = (c->next + 1) % c->copies;
    }
    simdattn_status st = simdattn_forward(&c->desc);
    return st == SIMDATTN_OK ? NULL : simdattn_status_str(st);
}

/* Static storage: the shim hands these to setup for the whole run. */
static fwd_arg args[SIMDATTN_ISA_COUNT * 64];
static size_t nargs;

/* Registers workload w with window `window` on `threads` threads (0: one
 * thread, the name without /t<n>) and K/V of type kv_dtype. */
static void add_case(simdattn_isa isa, workload w, size_t window, unsigned threads,
                     simdattn_dtype kv_dtype) {
    if (nargs == sizeof args / sizeof args[0])
        return;
    fwd_arg *a = &args[nargs++];
    a->w = w;
    a->isa = isa;
    a->copies = 1;
    a->kv = kv_dtype;
    a->window = window;
    a->threads = threads;
    double flops = 4.0 * (double)w.q_heads * (double)w.d * visible_pairs(&w, window);
    char name[64], label[160] = "";
    if (w.name && threads)
        snprintf(name, sizeof name, "forward/%s/%s/t%u", simdattn_isa_name(isa),
                 w.name, threads);
    else if (w.name)
        snprintf(name, sizeof name, "forward/%s/%s", simdattn_isa_name(isa),
                 w.name);
    else
        snprintf(name, sizeof name, "forward/%s/N%zu_d%zu",
                 simdattn_isa_name(isa), w.nq, w.d);
    double kv = 2.0 * w.kv_heads * w.nk * w.d * sa_dtype_size(kv_dtype);
    double bytes = kv + 2.0 * w.q_heads * w.nq * w.d * sizeof(float);
    if (w.decode) {
        double llc = (double)sab_llc_bytes();
        a->copies = sab_kv_copies(kv, llc);
        if (llc == 0)
            snprintf(label, sizeof label,
                     "K/V %.1f MiB; LLC size unknown: may be cached", kv / 1048576);
        else if (kv >= 2 * llc)
            snprintf(label, sizeof label, "K/V %.1f MiB > LLC %.1f MiB",
                     kv / 1048576, llc / 1048576);
        else
            snprintf(label, sizeof label,
                     "K/V %.1f MiB fit in LLC %.1f MiB; rotating %zu copies "
                     "so they are read from memory",
                     kv / 1048576, llc / 1048576, a->copies);
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
        .byte_peak = !w.decode ? NULL : threads > 1 ? SAB_READ_BW_T2 : SAB_READ_BW,
        .label = label,
        .threads = threads > 1 ? threads : 0, /* /t1 runs on the calling thread */
    });
}

static void add(simdattn_isa isa, workload w) { add_case(isa, w, 0, 0, SIMDATTN_F32); }
static void add_kv(simdattn_isa isa, workload w, simdattn_dtype kv_dtype) {
    add_case(isa, w, 0, 0, kv_dtype);
}

void sab_register_forward(void) {
    simdattn_isa isas[SIMDATTN_ISA_COUNT];
    int n = sab_isas(isas);
    unsigned max_threads = sab_max_threads();
#ifndef SAB_OPENMP
    max_threads = 1; /* the library runs every forward on the calling thread */
#endif
    for (int i = 0; i < n; i++) {
        for (size_t k = 0; k < sizeof named / sizeof named[0]; k++)
            if (isas[i] != SIMDATTN_ISA_SCALAR || !(named[k].flags & SIMDATTN_FAST_EXP))
                add(isas[i], named[k]);
        add_kv(isas[i], p128_f16, SIMDATTN_F16);
        add_kv(isas[i], p128_bf16, SIMDATTN_BF16);
        for (size_t k = 0; k < sizeof dim_sweep / sizeof dim_sweep[0]; k++)
            add(isas[i], (workload){NULL, 1, 1, DIM_SWEEP_N, DIM_SWEEP_N,
                                    dim_sweep[k], 0, 0});
        for (size_t k = 0; k < sizeof seq_sweep / sizeof seq_sweep[0]; k++) {
            size_t len = seq_sweep[k];
            if (len == DIM_SWEEP_N) /* already in the head_dim sweep */
                continue;
            if (isas[i] == SIMDATTN_ISA_SCALAR && len > SCALAR_MAX_N)
                continue;
            add(isas[i], (workload){NULL, 1, 1, len, len, SEQ_SWEEP_D, 0, 0});
        }
        for (size_t k = 0; k < sizeof decode / sizeof decode[0]; k++) {
            const decode_case *e = &decode[k];
            workload w = {e->name, 32, 8, 1, e->nk, 128, 0, 1};
            int scalar = isas[i] == SIMDATTN_ISA_SCALAR;
            if (scalar && e->nk > 2 * SCALAR_MAX_N)
                continue;
            add_case(isas[i], w, 0, 0, e->kv);
            if (!scalar && max_threads >= 2)
                add_case(isas[i], w, 0, 2, e->kv);
        }
        /* threads, GQA, windows, deterministic mode */
        for (size_t k = 0; k < sizeof engine / sizeof engine[0]; k++) {
            const engine_case *e = &engine[k];
            if (isas[i] == SIMDATTN_ISA_SCALAR && !scalar_runs(&e->w))
                continue;
            if (e->lo == 0)
                add_case(isas[i], e->w, e->window, 0, SIMDATTN_F32);
            for (size_t t = 0; t < sizeof thread_counts / sizeof thread_counts[0]; t++) {
                unsigned nt = thread_counts[t];
                if (e->lo != 0 && nt >= e->lo && nt <= e->hi && nt <= max_threads)
                    add_case(isas[i], e->w, e->window, nt, SIMDATTN_F32);
            }
        }
    }
}
