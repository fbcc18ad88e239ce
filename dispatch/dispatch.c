/*
 * CPU feature detection and the kernel tables.
 *
 * Detection runs once (pthread_once) and is the library's only mutable
 * global state.  A table is filled from the scalar set first and then from
 * each better set in kernels/isa.inc order, so every slot always holds a
 * valid function, and no code outside that list names an ISA.
 *
 * x86: an instruction set is usable only if CPUID reports it *and* the OS
 * saves its register state (XGETBV reads XCR0).  Hypervisors can disable
 * AVX-512 state while CPUID still reports AVX-512; skipping XCR0 is how
 * other dispatchers end up raising SIGILL.
 * Arm: AArch64 always has Advanced SIMD; HWCAP_ASIMD is checked anyway.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1 << 1)
#endif
#endif

static const char *const isa_names[SIMDATTN_ISA_COUNT] = {
    "auto", "scalar", "avx2", "avx512", "neon"};

static simdattn_kernels tables[SIMDATTN_ISA_COUNT];
static int runnable[SIMDATTN_ISA_COUNT];
static simdattn_isa best_isa = SIMDATTN_ISA_SCALAR;
static simdattn_isa active_isa = SIMDATTN_ISA_SCALAR;
static pthread_once_t once = PTHREAD_ONCE_INIT;

#if defined(__x86_64__) || defined(__i386__)
static unsigned long long xgetbv0(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static void detect(int *avx2, int *avx512) {
    unsigned a, b, c, d;
    *avx2 = *avx512 = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return;
    int fma = (c >> 12) & 1;     /* CPUID.1:ECX.FMA[12] */
    int osxsave = (c >> 27) & 1; /* CPUID.1:ECX.OSXSAVE[27]: XGETBV usable */
    int avx = (c >> 28) & 1;     /* CPUID.1:ECX.AVX[28] */
    int f16c = (c >> 29) & 1;    /* CPUID.1:ECX.F16C[29]: vcvtph2ps (the
                                    AVX2 set's fp16 KV cache) */
    if (!osxsave || !avx)
        return;
    unsigned long long xcr0 = xgetbv0();
    /* XCR0 bit 1 = SSE (XMM) state, bit 2 = AVX (upper YMM) state. */
    int os_ymm = (xcr0 & 0x6) == 0x6;
    /* 0xE6 = bits 1,2 plus bit 5 opmask (k0–k7), bit 6 upper halves of
     * ZMM0–15, bit 7 ZMM16–31. */
    int os_zmm = (xcr0 & 0xE6) == 0xE6;
    if (__get_cpuid_max(0, NULL) < 7)
        return;
    __cpuid_count(7, 0, a, b, c, d);
    int cpu_avx2 = (b >> 5) & 1;   /* CPUID.7.0:EBX.AVX2[5] */
    int f = (b >> 16) & 1;         /* AVX512F[16] */
    int dq = (b >> 17) & 1;        /* AVX512DQ[17] */
    int bw = (b >> 30) & 1;        /* AVX512BW[30] */
    int vl = (b >> 31) & 1;        /* AVX512VL[31] */
    *avx2 = os_ymm && cpu_avx2 && fma && f16c;
    *avx512 = *avx2 && os_zmm && f && dq && bw && vl;
}
#endif

static void detect_runnable(void) {
    runnable[SIMDATTN_ISA_SCALAR] = 1;
#if defined(__x86_64__) || defined(__i386__)
    int avx2, avx512;
    detect(&avx2, &avx512);
    runnable[SIMDATTN_ISA_AVX2] = SA_HAVE_AVX2 && avx2;
    runnable[SIMDATTN_ISA_AVX512] = SA_HAVE_AVX512 && avx512;
#endif
#if defined(__aarch64__)
    runnable[SIMDATTN_ISA_NEON] =
        SA_HAVE_NEON && (getauxval(AT_HWCAP) & HWCAP_ASIMD) != 0;
#endif
}

static void init(void) {
    detect_runnable();
    /* Fill each table from the scalar set, then overwrite with its own. */
    simdattn_kernels base = {0};
    base.isa = SIMDATTN_ISA_SCALAR;
    /* The scalar set's extra ops (kernels/extra.inc) go into the base, so
     * every table starts with them; the sets listed there override below. */
#define SA_EXTRA(ENUM, tok, op)                                                \
    if (SIMDATTN_ISA_##ENUM == SIMDATTN_ISA_SCALAR)                            \
        base.op = sa_##op##_##tok;
#include "extra.inc"
#undef SA_EXTRA
#define SA_ISA(ENUM, tok, nr)                                                  \
    {                                                                          \
        simdattn_kernels t = base;                                             \
        t.isa = SIMDATTN_ISA_##ENUM;                                           \
        t.qk_nr = (nr);                                                        \
        t.qk = sa_qk_##tok;                                                    \
        t.softmax = sa_softmax_##tok;                                          \
        t.softmax_online = sa_softmax_online_##tok;                            \
        t.pv = sa_pv_##tok;                                                    \
        tables[SIMDATTN_ISA_##ENUM] = t;                                       \
        if (SIMDATTN_ISA_##ENUM == SIMDATTN_ISA_SCALAR)                        \
            base = t;                                                          \
        if (runnable[SIMDATTN_ISA_##ENUM])                                     \
            best_isa = SIMDATTN_ISA_##ENUM;                                    \
    }
#include "isa.inc"
#undef SA_ISA
#define SA_EXTRA(ENUM, tok, op)                                                \
    tables[SIMDATTN_ISA_##ENUM].op = sa_##op##_##tok;
#include "extra.inc"
#undef SA_EXTRA
    active_isa = best_isa;

    const char *env = getenv("SIMDATTN_ISA");
    if (env && *env) {
        simdattn_isa want;
        if (simdattn_isa_parse(env, &want) != SIMDATTN_OK ||
            want == SIMDATTN_ISA_AUTO)
            fprintf(stderr, "simdattn: SIMDATTN_ISA=%s is not an ISA name "
                            "(scalar, avx2, avx512, neon); using %s\n",
                    env, isa_names[best_isa]);
        else if (!runnable[want])
            fprintf(stderr, "simdattn: SIMDATTN_ISA=%s cannot run on this "
                            "CPU/build; using %s\n",
                    env, isa_names[best_isa]);
        else
            active_isa = want;
    }
    const char *dbg = getenv("SIMDATTN_DEBUG");
    if (dbg && strcmp(dbg, "0") != 0 && *dbg) {
        for (int i = SIMDATTN_ISA_SCALAR; i < SIMDATTN_ISA_COUNT; i++)
            fprintf(stderr, "simdattn: %-6s %s\n", isa_names[i],
                    runnable[i] ? "runnable" : "unavailable");
        fprintf(stderr, "simdattn: best %s, active %s (Q.K^T panels of %zu keys)\n",
                isa_names[best_isa], isa_names[active_isa],
                tables[active_isa].qk_nr);
    }
}

static void ensure_init(void) { pthread_once(&once, init); }

simdattn_isa simdattn_isa_best(void) {
    ensure_init();
    return best_isa;
}

simdattn_isa simdattn_isa_active(void) {
    ensure_init();
    return active_isa;
}

int simdattn_isa_supported(simdattn_isa isa) {
    ensure_init();
    if (isa == SIMDATTN_ISA_AUTO)
        return 1;
    if ((int)isa < 0 || isa >= SIMDATTN_ISA_COUNT)
        return 0;
    return runnable[isa];
}

const char *simdattn_isa_name(simdattn_isa isa) {
    if ((int)isa < 0 || isa >= SIMDATTN_ISA_COUNT)
        return "invalid";
    return isa_names[isa];
}

simdattn_status simdattn_isa_parse(const char *name, simdattn_isa *isa) {
    if (!name || !isa)
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    for (int i = 0; i < SIMDATTN_ISA_COUNT; i++) {
        if (strcmp(name, isa_names[i]) == 0) {
            *isa = (simdattn_isa)i;
            return SIMDATTN_OK;
        }
    }
    return SIMDATTN_ERR_INVALID_ARGUMENT;
}

const simdattn_kernels *sa_table(simdattn_isa isa, simdattn_status *status) {
    ensure_init();
    if ((int)isa < 0 || isa >= SIMDATTN_ISA_COUNT) {
        *status = SIMDATTN_ERR_INVALID_ARGUMENT;
        return NULL;
    }
    if (isa == SIMDATTN_ISA_AUTO)
        isa = active_isa;
    if (!runnable[isa]) {
        *status = SIMDATTN_ERR_UNSUPPORTED_ISA;
        return NULL;
    }
    *status = SIMDATTN_OK;
    return &tables[isa];
}

const simdattn_kernels *simdattn_kernels_get(simdattn_isa isa) {
    simdattn_status st;
    return sa_table(isa, &st);
}
