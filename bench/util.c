/* Shared helpers of the benchmark cases (see bench.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench.h"

/* Buffers of HUGE bytes or more are HUGE-aligned and asked for transparent
 * huge pages, as an inference engine's KV cache or weights would be: with
 * 4 KiB pages the hardware prefetchers stop at every page edge and every
 * page costs a TLB miss, which puts a ceiling on a core's streaming rate
 * below what the memory delivers (measured here: a plain one-thread read
 * 27.6 -> 29.7 GB/s, the D128 fp32 decode 1.54-1.65 -> 1.43-1.47 ms).
 * The read-bandwidth calibration comes from this allocator too, so
 * bw_frac compares like with like.  Where madvise or THP is missing the
 * pages stay small, on both sides. */
enum { HUGE = 2u << 20 };

float *sab_floats(size_t n) {
    size_t bytes;
    if (n == 0 || __builtin_mul_overflow(n, sizeof(float), &bytes) ||
        bytes > SIZE_MAX - HUGE)
        return NULL;
    size_t align = bytes >= HUGE ? HUGE : 64;
    bytes = (bytes + align - 1) / align * align; /* aligned_alloc wants a multiple */
    float *p = aligned_alloc(align, bytes);
    if (!p)
        return NULL;
#ifdef MADV_HUGEPAGE
    if (align == HUGE)
        (void)madvise(p, bytes, MADV_HUGEPAGE); /* a hint: failure is fine */
#endif
    memset(p, 0, bytes);
    return p;
}

void sab_fill(float *x, size_t n, float lo, float hi, unsigned long long seed) {
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        /* splitmix64, top 24 bits as a uniform fraction in [0, 1) */
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        x[i] = lo + (hi - lo) * (float)(z >> 40) * 0x1p-24f;
    }
}

/* Highest cache level that holds data, from sysfs (Linux, x86 and Arm
 * alike; sysconf's cache queries return 0 on many Arm systems). */
size_t sab_llc_bytes(void) {
    size_t best = 0;
    int best_level = 0;
    for (int i = 0; i < 16; i++) {
        char path[96], buf[64];
        int level = 0;
        snprintf(path, sizeof path,
                 "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
        FILE *f = fopen(path, "r");
        if (!f)
            break;
        int data = fgets(buf, sizeof buf, f) && strncmp(buf, "Instruction", 11) != 0;
        fclose(f);
        snprintf(path, sizeof path,
                 "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        if (!(f = fopen(path, "r")))
            continue;
        if (fscanf(f, "%d", &level) != 1)
            level = 0;
        fclose(f);
        snprintf(path, sizeof path,
                 "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        if (!data || !(f = fopen(path, "r")))
            continue;
        unsigned long size = 0;
        char unit = 0;
        if (fscanf(f, "%lu%c", &size, &unit) >= 1 && level > best_level) {
            best_level = level;
            best = size * (unit == 'K' ? 1024ul : unit == 'M' ? 1048576ul : 1ul);
        }
        fclose(f);
    }
    return best;
}

size_t sab_kv_copies(double kv_bytes, double llc) {
    /* reuse distance (copies − 1)·K/V ≥ 2·LLC evicts a set before its next
     * use under any replacement policy close to LRU */
    return llc == 0 || kv_bytes >= 2 * llc ? 1 : (size_t)(2 * llc / kv_bytes) + 2;
}

uint64_t sab_xor_words(const uint64_t *words, size_t n) {
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (size_t i = 0; i + 4 <= n; i += 4) {
        a0 ^= words[i];
        a1 ^= words[i + 1];
        a2 ^= words[i + 2];
        a3 ^= words[i + 3];
    }
    return a0 ^ a1 ^ a2 ^ a3;
}

int sab_isas(simdattn_isa out[SIMDATTN_ISA_COUNT]) {
    int n = 0;
    for (int i = SIMDATTN_ISA_SCALAR; i < SIMDATTN_ISA_COUNT; i++)
        if (simdattn_isa_supported((simdattn_isa)i))
            out[n++] = (simdattn_isa)i;
    return n;
}

const char *sab_fma_peak(simdattn_isa isa) {
    static char names[SIMDATTN_ISA_COUNT][24];
    if ((int)isa < 0 || isa >= SIMDATTN_ISA_COUNT)
        return "";
    snprintf(names[isa], sizeof names[isa], "fma/%s", simdattn_isa_name(isa));
    return names[isa];
}
