/*
 * simdattn-bench: every case of the suite, for every ISA this host runs.
 * The JSON context stanza records the machine and the dispatch choice so a
 * result file explains itself (scripts/bench.sh, scripts/compare.py).
 */
#include <stdio.h>
#include <string.h>

#include "bench.h"

#ifndef SAB_SIMDATTN_VERSION
#define SAB_SIMDATTN_VERSION "unknown"
#endif

/* Value of the first /proc/cpuinfo line starting with `key`, or "". */
static void cpuinfo(const char *key, char *out, size_t n) {
    char line[8192];
    out[0] = '\0';
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    size_t k = strlen(key);
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, key, k) != 0 || !colon)
            continue;
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        v[strcspn(v, "\n")] = '\0';
        snprintf(out, n, "%s", v);
        break;
    }
    fclose(f);
}

static void add_context(void) {
    char model[256], flags[8192], part[64];
    cpuinfo("model name", model, sizeof model); /* x86 */
    if (!model[0]) {                             /* Arm: the ids only */
        char impl[64];
        cpuinfo("CPU implementer", impl, sizeof impl);
        cpuinfo("CPU part", part, sizeof part);
        snprintf(model, sizeof model, "%s%s%s%s",
                 impl[0] ? "Arm implementer " : "unknown CPU", impl,
                 part[0] ? " part " : "", part);
    }
    cpuinfo("flags", flags, sizeof flags);
    if (!flags[0])
        cpuinfo("Features", flags, sizeof flags);
    sab_context("cpu_model", model);
    sab_context("cpu_flags", flags);

    char isas[128] = "", llc[32];
    simdattn_isa list[SIMDATTN_ISA_COUNT];
    int n = sab_isas(list);
    for (int i = 0; i < n; i++)
        snprintf(isas + strlen(isas), sizeof isas - strlen(isas), "%s%s",
                 i ? " " : "", simdattn_isa_name(list[i]));
    snprintf(llc, sizeof llc, "%zu", sab_llc_bytes());
    sab_context("isas_runnable", isas);
    sab_context("isa_best", simdattn_isa_name(simdattn_isa_best()));
    sab_context("isa_active", simdattn_isa_name(simdattn_isa_active()));
    sab_context("llc_bytes", llc);
    char threads[16];
    snprintf(threads, sizeof threads, "%u", sab_max_threads());
    sab_context("threads", threads); /* the most a case may use */
    sab_context("simdattn_version", SAB_SIMDATTN_VERSION);
    sab_context("compiler", __VERSION__);
}

void sab_register(void) {
    add_context();
    sab_register_peaks();
    sab_register_stages();
    sab_register_forward();
}
