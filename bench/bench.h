/*
 * Shared pieces of the benchmark cases: buffers, inputs, the machine facts
 * the report needs, and the per-ISA FMA loops of bench/peak/.
 */
#ifndef SAB_BENCH_H
#define SAB_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "shim.h"

/* 64-byte aligned (2 MiB and transparent huge pages from 2 MiB up, see
 * util.c), zero-filled (so every page is touched before timing); NULL on
 * failure or overflow.  Free with free(). */
float *sab_floats(size_t n);
/* Deterministic uniform [lo, hi) fill: the same inputs every run. */
void sab_fill(float *x, size_t n, float lo, float hi, unsigned long long seed);

/* Size in bytes of the last-level data cache of CPU 0, or 0 if unknown. */
size_t sab_llc_bytes(void);
/* How many copies of a K/V set of kv_bytes a decode case rotates through
 * so that each call reads its set from memory, given llc = sab_llc_bytes():
 * 1 when the set is at least twice the LLC (or the LLC is unknown, 0),
 * else enough for a reuse distance of 2·LLC. */
size_t sab_kv_copies(double kv_bytes, double llc);
/* XOR of words[0 … n−1] (n rounded down to a multiple of 4) into four
 * independent accumulators: the plain streaming read of peak/read_bw,
 * integer work far below one op per byte, so only the memory system
 * limits it. */
uint64_t sab_xor_words(const uint64_t *words, size_t n);
/* Every runnable ISA, worst to best (scalar first); returns the count. */
int sab_isas(simdattn_isa out[SIMDATTN_ISA_COUNT]);

/* Register the cases of each family, in the order they run. */
void sab_register_peaks(void);
void sab_register_stages(void);
void sab_register_forward(void);

/* Calibration names: "fma/<isa>" is the FMA peak of that ISA, "read_bw"
 * the streaming read bandwidth. */
#define SAB_READ_BW "read_bw"
#define SAB_READ_BW_T2 "read_bw_t2" /* two threads, one half each */
const char *sab_fma_peak(simdattn_isa isa); /* "fma/<isa>" */

/*
 * One FMA-throughput loop per kernel set (bench/peak/<token>.c, compiled
 * with that set's flags only, like kernels/<token>/).  run(reps) performs
 * reps × flops_per_rep floating-point operations as independent FMA chains
 * and returns a value derived from every chain, so none can be dropped.
 */
typedef struct sab_fma_loop {
    float (*run)(size_t reps);
    double flops_per_rep;
    /* The decode ceiling (peak/stream/<isa>, NULL for scalar): stream
     * `keys` rows of SAB_STREAM_D elements of K and of V (fp32, or fp16
     * when f16), each vector of a row feeding SAB_STREAM_ROWS FMAs, one per
     * query row of a GQA group, and nothing else: the FMAs D128 cannot do
     * without (Q·K and P·V of 4 rows), none of its reductions, softmax or
     * stores.  Returns a value derived from every accumulator. */
    float (*stream)(const void *k, const void *v, size_t keys, int f16);
} sab_fma_loop;
enum { SAB_STREAM_D = 128, SAB_STREAM_ROWS = 4 };
#define SA_ISA(ENUM, tok, nr) extern const sab_fma_loop sab_fma_##tok;
#include "isa.inc"
#undef SA_ISA

#endif
