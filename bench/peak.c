/*
 * Calibration cases: the ceilings the other cases are measured against.
 *   peak/fma/<isa>  independent FMA chains filling that ISA's register file
 *                   (bench/peak/<isa>.c): the flop rate peak_frac divides by
 *   peak/read_bw    one thread streaming through a buffer of at least
 *                   1 GiB and 8× the last-level cache, so every byte comes
 *                   from memory: the byte rate bw_frac divides by
 *   peak/read_bw/t2 the same buffer read by two threads, one half each:
 *                   the ceiling of the two-thread (/t2) cases
 *   peak/stream/<isa>, peak/stream-f16/<isa>
 *                   the decode ceiling of that ISA on one core: K and V
 *                   streamed from memory (fp32, fp16) while doing only the
 *                   FMAs D128 needs per key (bench.h); not a calibration,
 *                   an ordinary case whose GBps and bw_frac say how much of
 *                   read_bw a core keeps while its FMA units are that busy,
 *                   the most a decode kernel on this core can expect
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

/* FMA steps per call: 2^16 × (chains × lanes) FMAs, about half a
 * millisecond on every ISA, long against the call and timer overhead. */
enum { FMA_REPS = 1 << 16 };

static const struct {
    simdattn_isa isa;
    const sab_fma_loop *loop;
} fma_loops[] = {
#define SA_ISA(ENUM, tok, nr) {SIMDATTN_ISA_##ENUM, &sab_fma_##tok},
#include "isa.inc"
#undef SA_ISA
};

static volatile float sink; /* keeps every loop's result alive */

static void *fma_setup(const void *arg) { return (void *)arg; }

static const char *fma_run(void *ctx) {
    const sab_fma_loop *loop = ctx;
    sink = loop->run(FMA_REPS);
    return NULL;
}

typedef struct read_ctx {
    uint64_t *p;
    size_t words;
} read_ctx;

static size_t read_bytes(void) {
    size_t gib = (size_t)1 << 30, llc8 = 8 * sab_llc_bytes();
    return llc8 > gib ? llc8 : gib;
}

static void *read_setup(const void *arg) {
    (void)arg;
    read_ctx *c = malloc(sizeof *c);
    size_t bytes = read_bytes();
    float *p = c ? sab_floats(bytes / sizeof(float)) : NULL; /* touched */
    if (!p) {
        free(c);
        return NULL;
    }
    c->p = (uint64_t *)(void *)p;
    c->words = bytes / sizeof(uint64_t);
    return c;
}

static const char *read_run(void *ctx) {
    const read_ctx *c = ctx;
    sink = (float)sab_xor_words(c->p, c->words);
    return NULL;
}

/* Half `h` of the buffer, for the two-thread read. */
typedef struct read_half {
    const read_ctx *c;
    int h;
    uint64_t x;
} read_half;

static void *read_half_run(void *arg) {
    read_half *r = arg;
    size_t n = r->c->words / 8 * 4, lo = r->h ? n : 0;
    size_t hi = r->h ? r->c->words / 4 * 4 : n;
    r->x = sab_xor_words(r->c->p + lo, hi - lo);
    return NULL;
}

static const char *read_run_t2(void *ctx) {
    read_half r[2] = {{ctx, 0, 0}, {ctx, 1, 0}};
    pthread_t th;
    if (pthread_create(&th, NULL, read_half_run, &r[1]) != 0)
        return "pthread_create failed";
    read_half_run(&r[0]);
    pthread_join(th, NULL);
    sink = (float)(r[0].x ^ r[1].x);
    return NULL;
}

static void read_teardown(void *ctx) {
    read_ctx *c = ctx;
    free(c->p);
    free(c);
}

typedef struct stream_arg {
    const sab_fma_loop *loop;
    int f16;
} stream_arg;

typedef struct stream_ctx {
    stream_arg a;
    void *k, *v;
    size_t keys;
} stream_ctx;

/* Keys of the ceiling's K/V: D128-32k's, 8 KV heads × 32768 keys (256 MiB
 * of fp32 K+V), or more where 4× the LLC is larger, so they come from
 * memory as the forward's do. */
static size_t stream_keys(int f16) {
    size_t row = 2 * SAB_STREAM_D * (f16 ? sizeof(uint16_t) : sizeof(float));
    size_t keys = (size_t)8 * 32768, llc4 = 4 * sab_llc_bytes();
    return keys * row >= llc4 ? keys : llc4 / row + 1;
}

static void stream_teardown(void *ctx) {
    stream_ctx *c = ctx;
    free(c->k);
    free(c->v);
    free(c);
}

static void *stream_setup(const void *arg) {
    stream_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->a = *(const stream_arg *)arg;
    c->keys = stream_keys(c->a.f16);
    size_t n = c->keys * SAB_STREAM_D; /* elements of K, of V */
    size_t floats = c->a.f16 ? (n + 1) / 2 : n;
    c->k = sab_floats(floats);
    c->v = sab_floats(floats);
    if (!c->k || !c->v) {
        stream_teardown(c);
        return NULL;
    }
    if (!c->a.f16) {
        sab_fill(c->k, n, -1.0f, 1.0f, 21);
        sab_fill(c->v, n, -1.0f, 1.0f, 22);
    } else { /* normal fp16 values of both signs, magnitudes in [1/8, 1/4) */
        uint16_t *k = c->k, *v = c->v;
        for (size_t i = 0; i < n; i++) {
            k[i] = (uint16_t)(0x3000u | (i * 7 % 1024) | (i & 1) << 15);
            v[i] = (uint16_t)(0x3000u | (i * 13 % 1024) | (i >> 1 & 1) << 15);
        }
    }
    return c;
}

static const char *stream_run(void *ctx) {
    stream_ctx *c = ctx;
    sink = c->a.loop->stream(c->k, c->v, c->keys, c->a.f16);
    return NULL;
}

void sab_register_peaks(void) {
    for (size_t i = 0; i < sizeof fma_loops / sizeof fma_loops[0]; i++) {
        simdattn_isa isa = fma_loops[i].isa;
        if (!simdattn_isa_supported(isa))
            continue;
        char name[64];
        snprintf(name, sizeof name, "peak/%s", sab_fma_peak(isa));
        sab_add(&(sab_case){
            .name = name,
            .setup = fma_setup,
            .run = fma_run,
            .arg = fma_loops[i].loop,
            .flops = fma_loops[i].loop->flops_per_rep * FMA_REPS,
            .calibrates = sab_fma_peak(isa),
            .flop_peak = sab_fma_peak(isa),
        });
    }
    static stream_arg stream_args[SIMDATTN_ISA_COUNT][2];
    for (size_t i = 0; i < sizeof fma_loops / sizeof fma_loops[0]; i++) {
        simdattn_isa isa = fma_loops[i].isa;
        if (!simdattn_isa_supported(isa) || !fma_loops[i].loop->stream)
            continue;
        for (int f16 = 0; f16 < 2; f16++) {
            size_t keys = stream_keys(f16), es = f16 ? sizeof(uint16_t) : sizeof(float);
            double bytes = 2.0 * (double)keys * SAB_STREAM_D * (double)es;
            char name[64], note[96];
            snprintf(name, sizeof name, "peak/stream%s/%s", f16 ? "-f16" : "",
                     simdattn_isa_name(isa));
            snprintf(note, sizeof note, "K/V %.0f MiB; %d multiply-adds a key, nothing else",
                     bytes / 1048576, 2 * SAB_STREAM_ROWS * SAB_STREAM_D);
            stream_args[isa][f16] = (stream_arg){fma_loops[i].loop, f16};
            sab_add(&(sab_case){
                .name = name,
                .setup = stream_setup,
                .run = stream_run,
                .teardown = stream_teardown,
                .arg = &stream_args[isa][f16],
                .flops = 2.0 * 2 * SAB_STREAM_ROWS * SAB_STREAM_D * (double)keys,
                .bytes = bytes,
                .flop_peak = sab_fma_peak(isa),
                .byte_peak = SAB_READ_BW,
                .label = note,
            });
        }
    }
    char label[64];
    snprintf(label, sizeof label, "%zu MiB buffer, 1 thread",
             read_bytes() >> 20);
    sab_add(&(sab_case){
        .name = "peak/read_bw",
        .setup = read_setup,
        .run = read_run,
        .teardown = read_teardown,
        .bytes = (double)(read_bytes() / 32 * 32),
        .calibrates = SAB_READ_BW,
        .byte_peak = SAB_READ_BW,
        .label = label,
    });
    snprintf(label, sizeof label, "%zu MiB buffer, 2 threads",
             read_bytes() >> 20);
    sab_add(&(sab_case){
        .name = "peak/read_bw/t2",
        .setup = read_setup,
        .run = read_run_t2,
        .teardown = read_teardown,
        .bytes = (double)(read_bytes() / 32 * 32),
        .calibrates = SAB_READ_BW_T2,
        .byte_peak = SAB_READ_BW_T2,
        .label = label,
        .threads = 2, /* timed in wall time */
    });
}
