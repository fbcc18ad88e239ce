/*
 * simdattn-accuracy: every stage kernel and the fused forward, on every ISA
 * this host runs, on a fixed seeded input set, against the double oracle
 * (tests/oracle.c).  Per kernel × ISA × mode × case it records four figures
 * (see meter_add in cases.c); main.c writes them as JSON and markdown and
 * gates them against a committed baseline.
 */
#ifndef SA_ACCURACY_H
#define SA_ACCURACY_H

#include <stddef.h>

#include "simdattn.h"

enum { FIG_MAX_ULP, FIG_MEAN_ULP, FIG_REL_NORM, FIG_MAX_RATIO, FIG_COUNT };
extern const char *const fig_names[FIG_COUNT];

/* One measured case.  key = arch/isa/kernel/mode/case, mode "-" for the
 * kernels without flags (qk, pv), "fast" (flags 0), "fastexp"
 * (SIMDATTN_FAST_EXP) or "det" (SIMDATTN_DETERMINISTIC) for the others. */
typedef struct record {
    char key[128];
    char shape[48];
    double fig[FIG_COUNT];
} record;

typedef struct record_list {
    record *r;
    size_t n, cap;
} record_list;

record *record_push(record_list *l);

/* Architecture token of the running build ("x86_64", "aarch64", ...). */
const char *accuracy_arch(void);

/* Measures every kernel, mode and case on `isa`, appending to `out`. */
void accuracy_run_isa(simdattn_isa isa, record_list *out);

#endif
