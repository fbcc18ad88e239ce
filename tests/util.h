/*
 * Shared test helpers: a seeded generator, guarded buffers (canaries around
 * and between rows), the list of ISAs this host can run, and the rounding
 * constants every derived tolerance is built from.
 */
#ifndef SA_TEST_UTIL_H
#define SA_TEST_UTIL_H

#include <check.h>
#include <float.h>
#include <stddef.h>
#include <stdint.h>

#include "simdattn.h"

/* Elements of an array. */
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
/* ck_assert_msg for per-element loops: Check records every passing
 * ck_assert (a write to its log), which dominated the suite's run time
 * under qemu; this only calls into Check on failure. */
#define REQUIRE(cond, ...)                                                  \
    do {                                                                    \
        if (!(cond))                                                        \
            ck_abort_msg(__VA_ARGS__);                                      \
    } while (0)

/* Unit roundoff of fp32 (round to nearest): u = 2^-24. */
#define U_F32 (0x1p-24)
/* γ_n = n·u / (1 − n·u): the classical bound factor for n roundings. */
static inline double gamma_n(double n) { return n * U_F32 / (1.0 - n * U_F32); }
/* Absolute slack for results near the subnormal range: each of n
 * operations may lose up to half a subnormal ULP. */
static inline double subnormal_slack(double n) { return n * FLT_TRUE_MIN; }

/* Spacing of fp32 numbers in the binade of the exact value |ref| (2^-149
 * below FLT_MIN): the unit of an error in ULPs, measured before rounding. */
double ulp_f32(double ref);

/* Canary value written around and between outputs: a NaN payload no
 * kernel can produce from the inputs the tests use.  It is a signalling
 * NaN, so a kernel that reads a canary, does arithmetic on it and writes
 * it back (an O += P·V block running past dv) returns it quieted, another
 * bit pattern, and is caught like any other stray write. */
#include "narrow.h"

extern const uint32_t CANARY_BITS;
float canary(void);
int is_canary(float x);

/* Deterministic generator (splitmix64). */
typedef struct rng { uint64_t s; } rng;
rng rng_seed(uint64_t seed);
double rng_uniform(rng *r);                  /* [0, 1) */
float rng_range(rng *r, float lo, float hi); /* [lo, hi) */
void fill_uniform(rng *r, float *x, size_t n, float lo, float hi);

/* Every ISA this host can run, scalar first; set up by isa_list_init(). */
extern simdattn_isa test_isas[SIMDATTN_ISA_COUNT];
extern int test_isa_count;
void isa_list_init(void);

/* The exp modes every softmax and forward test runs in, with the exp
 * error (ULPs) their bounds take: flags 0 (glibc expf in the scalar
 * kernel, SLEEF u10 elsewhere: ≤ 1 ULP) and SIMDATTN_FAST_EXP (≤
 * SIMDATTN_FAST_EXP_ULP, measured by tests/exp_ulp.c). */
typedef struct exp_mode {
    const char *name;
    unsigned flags;
    double ulp;
} exp_mode;
enum { EXP_MODE_COUNT = 2 };
extern const exp_mode exp_modes[EXP_MODE_COUNT];
/* A test looped over ISA × exp mode (tcase_add_loop_test from 0 to
 * test_isa_count · EXP_MODE_COUNT) reads its pair from the loop index _i;
 * a test looped over ISAs only sees mode 0. */
#define ISA test_isas[_i % test_isa_count]
#define MODE (&exp_modes[_i / test_isa_count])

/* Runs every work item of d through the task interface, last first, on
 * one thread and one workspace of exactly the size it asks for; returns
 * the item count. */
size_t run_tasks_reversed(const simdattn_forward_desc *d);

/* Runs a suite with the given name and returns the number of failures. */
int run_suite(Suite *s);

/* A suite's tests and what each loops over: LOOP_ONCE runs it once,
 * LOOP_ISAS once per ISA (_i from 0 to test_isa_count), LOOP_ISA_MODES
 * once per ISA × exp mode (ISA and MODE above); a positive loop runs it
 * for _i = 0 … loop − 1.  `signal`, when not 0, is the signal the test
 * must end with. */
enum { LOOP_ONCE = 0, LOOP_ISAS = -1, LOOP_ISA_MODES = -2 };
typedef struct suite_test {
    const TTest *test;
    int loop;
    int signal;
} suite_test;
/* Registers `count` tests in suite `name` (one test case, `timeout`
 * seconds per test, 0 for Check's default), runs it and returns the exit
 * status for main.  The ISA list is set up only when a test loops over
 * it: test_threads' first test must be the first to call the library. */
int run_tests(const char *name, double timeout, const suite_test *tests, size_t count);



/* A matrix inside a canary-filled allocation: p is deliberately misaligned
 * (one float past a 64-byte boundary), the ld−cols gap of each row and 16
 * floats after the last row hold canaries, so an out-of-window write is
 * seen by gmat_intact and a SIMD tail cannot rely on alignment. */
typedef struct gmat {
    float *base, *p;
    size_t rows, cols, ld, total;
} gmat;
gmat gmat_new(size_t rows, size_t cols, size_t ld);
int gmat_intact(const gmat *g); /* 1 if every out-of-window float is a canary */
void gmat_free(gmat *g);
#endif
