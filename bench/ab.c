/*
 * simdattn-ab: a paired A/B of two builds of the library on the decode
 * workload of forward/<isa>/D128 (32 query heads over 8 KV heads, d = 128,
 * one query row, K and V from memory).
 *
 * This host's memory bandwidth moves with other tenants: the same build's
 * D128 call took 1.3–3.2 ms within a minute, so two benchmark runs, one
 * per build, compare moments rather than builds.  Here both builds are
 * loaded into one process (dlopen, each with its own symbols) and their
 * calls alternate, A B, B A, A B, …, each pair followed by a plain read of
 * the same number of bytes; each call reads a K/V set the last calls did
 * not touch.  Reported: each build's median and best call, the median of
 * the pairs' time ratios A/B with its quartiles (A/A runs on this host:
 * medians 0.98–1.00, quartiles 0.93–1.05), and each build's median of
 * read/call, the fraction of an adjacent read's speed (the read is one
 * thread's, so with threads > 1 it is a ratio, not a bandwidth fraction).
 * Speed is reported, never judged.
 *
 * Usage: simdattn-ab LIB_A LIB_B [keys [f32|f16|bf16 [threads [pairs]]]]
 *        (defaults 4096 f32 1 300: forward/<isa>/D128; the best ISA of
 *        each build, or SIMDATTN_ISA as the library reads it)
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

typedef int (*forward_fn)(const simdattn_forward_desc *);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static volatile uint64_t sink; /* keeps the reads' result alive */

static int by_value(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static double quantile(double *v, size_t n, size_t num, size_t den) {
    qsort(v, n, sizeof *v, by_value);
    return v[n * num / den];
}

static forward_fn load(const char *path) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    forward_fn f = h ? (forward_fn)(uintptr_t)dlsym(h, "simdattn_forward") : NULL;
    if (!f)
        fprintf(stderr, "simdattn-ab: %s: %s\n", path, dlerror());
    return f;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: simdattn-ab LIB_A LIB_B [keys [f32|f16|bf16 "
                        "[threads [pairs]]]]\n");
        return 2;
    }
    forward_fn f[2] = {load(argv[1]), load(argv[2])};
    if (!f[0] || !f[1])
        return 1;
    const size_t nk = argc > 3 ? strtoul(argv[3], NULL, 10) : 4096;
    const char *ty = argc > 4 ? argv[4] : "f32";
    const simdattn_dtype dt = !strcmp(ty, "f16")    ? SIMDATTN_F16
                              : !strcmp(ty, "bf16") ? SIMDATTN_BF16
                                                    : SIMDATTN_F32;
    const unsigned threads = argc > 5 ? (unsigned)strtoul(argv[5], NULL, 10) : 1;
    const size_t pairs = argc > 6 ? strtoul(argv[6], NULL, 10) : 300;
    if (nk == 0 || nk > (1u << 24) || pairs < 4 || pairs > 100000 ||
        strcmp(ty, dt == SIMDATTN_F16 ? "f16" : dt == SIMDATTN_BF16 ? "bf16" : "f32")) {
        fprintf(stderr, "simdattn-ab: keys 1 … 2^24, type f32|f16|bf16, "
                        "pairs 4 … 100000\n");
        return 2;
    }
    enum { HQ = 32, HK = 8, D = 128 };
    const size_t es = sa_dtype_size(dt);
    const size_t half = HK * nk * D * es, bytes = 2 * half; /* K, then V */
    const size_t copies = /* as forward.c */
        sab_kv_copies((double)bytes, (double)sab_llc_bytes());
    float *kv = sab_floats(copies * bytes / 4);
    float *q = sab_floats(HQ * D), *o = sab_floats(HQ * D);
    double *t[2] = {malloc(pairs * sizeof(double)), malloc(pairs * sizeof(double))};
    double *ratio = malloc(pairs * sizeof(double));
    double *frac[2] = {malloc(pairs * sizeof(double)), malloc(pairs * sizeof(double))};
    if (!kv || !q || !o || !t[0] || !t[1] || !ratio || !frac[0] || !frac[1]) {
        fprintf(stderr, "simdattn-ab: out of memory\n");
        return 1;
    }
    sab_fill(q, HQ * D, -1.0f, 1.0f, 1);
    uint16_t *u = (uint16_t *)kv; /* 1.0 … 1.09 in fp16 and bf16 alike */
    for (size_t i = 0; i < copies * bytes / 2; i++)
        u[i] = (uint16_t)(dt == SIMDATTN_BF16 ? 0x3F80 + i % 11 : 0x3C00 + i % 97);

    simdattn_forward_desc d = {0};
    d.batch = 1, d.q_heads = HQ, d.kv_heads = HK, d.q_len = 1, d.kv_len = nk;
    d.head_dim = D, d.kv_dtype = dt, d.threads = threads;
    d.q = (simdattn_tensor){q, HQ * D, D, D};
    d.k = (simdattn_tensor){NULL, HK * nk * D, nk * D, D};
    d.v = d.k;
    d.o = o, d.o_stride_batch = HQ * D, d.o_stride_head = D, d.o_stride_seq = D;
    size_t next = 0;
    for (size_t p = 0; p < pairs + 2; p++) { /* 2 warm-up pairs */
        double dt_call[2];
        for (int s = 0; s < 2; s++) {
            int w = p % 2 ? 1 - s : s;
            const char *set = (const char *)kv + next++ % copies * bytes;
            d.k.data = set, d.v.data = set + half;
            double t0 = now();
            int st = f[w](&d);
            dt_call[w] = now() - t0;
            if (st) {
                fprintf(stderr, "simdattn-ab: %s returned %d\n", argv[1 + w], st);
                return 1;
            }
        }
        /* the plain read of peak/read_bw, over the same number of bytes */
        const void *set = (const char *)kv + next++ % copies * bytes;
        double t0 = now();
        sink = sab_xor_words(set, bytes / sizeof(uint64_t));
        double rd = now() - t0;
        if (p < 2)
            continue;
        for (int w = 0; w < 2; w++) {
            t[w][p - 2] = dt_call[w];
            frac[w][p - 2] = rd / dt_call[w];
        }
        ratio[p - 2] = dt_call[0] / dt_call[1];
    }
    printf("D128 shape, %zu keys, %s K/V (%.1f MiB), %u thread(s), %zu pairs, "
           "%zu K/V sets rotated\n",
           nk, ty, (double)bytes / 1048576, threads, pairs, copies);
    for (int w = 0; w < 2; w++) {
        double best = quantile(t[w], pairs, 0, 1);
        printf("%c %s: median %.3f ms, best %.3f ms (%.1f GB/s); "
               "read/call median %.3f\n",
               "AB"[w], argv[1 + w], 1e3 * quantile(t[w], pairs, 1, 2), 1e3 * best,
               (double)bytes / best * 1e-9, quantile(frac[w], pairs, 1, 2));
    }
    printf("time A/B: median %.3f, quartiles %.3f %.3f\n",
           quantile(ratio, pairs, 1, 2), quantile(ratio, pairs, 1, 4),
           quantile(ratio, pairs, 3, 4));
    return 0;
}
