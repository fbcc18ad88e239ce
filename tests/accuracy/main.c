/*
 * simdattn-accuracy: measure every kernel × runnable ISA × mode × case
 * (cases.c), report, and gate against a committed baseline.
 *
 *   simdattn-accuracy [--json FILE] [--markdown FILE]
 *                     [--baseline FILE [--write-baseline]]
 *
 * --json, --markdown  write the run's figures (see cases.c for what each
 *                     figure means) as JSON and as markdown tables.
 * --baseline FILE     gate: exit 1 when
 *                      - any element's error exceeds its documented bound
 *                        (max_ratio > 1), baseline or not;
 *                      - any figure is worse than its baseline value by
 *                        more than the margin (below);
 *                      - a measured record has no baseline entry (a new
 *                        kernel, ISA or case: record it, see below), or a
 *                        baseline entry of this architecture and of an ISA
 *                        this host runs was not measured (a case removed).
 *                     Baseline entries of other architectures, or of ISAs
 *                     this host cannot run, are counted and skipped.
 * --write-baseline    replace, in FILE, the entries of this architecture
 *                     and of the ISAs measured here by this run's figures,
 *                     keeping every other entry.  Refused when a bound is
 *                     exceeded.  Never done implicitly: run it (or
 *                     ./scripts/test.sh --write-baseline), review the
 *                     diff, commit it.
 *
 * Margin: a figure fails when new > base·(1 + 1/4) + floor, floor = 2^-10
 * in the figure's unit (ULP, or err/bound) and u·2^-10 for the normwise
 * error.  Every figure is a deterministic function of the build (fixed
 * seeds, fixed operation order, -ffp-contract=off: two runs, and the
 * x86-64 and aarch64 scalar runs, give identical files), so the margin is
 * not a noise allowance: it is the smallest degradation worth a review.
 * A quarter is well below the factor 2 that one lost bit costs, and lets
 * most reshufflings of roundings through (of the 91 scalar records, an
 * equally valid sum order moved 5 by more than 25%, another ≤ 1 ULP exp
 * 4); the ones it stops change the library's numbers, and recording them
 * is a reviewed act.  The floor keeps exact results (figure 0) exact.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accuracy.h"
#include "util.h"

static const double MARGIN_REL = 0.25;
static const double MARGIN_FLOOR[FIG_COUNT] = {0x1p-10, 0x1p-10, U_F32 * 0x1p-10,
                                               0x1p-10};

/* Kernel rows of the tables, in this order. */
static const char *const KERNELS[] = {"qk", "exp", "softmax", "softmax_online",
                                      "pv", "forward"};
static const char *const MODE_ORDER[] = {"-", "fast", "fastexp", "det"};

/* Field `idx` of a key arch/isa/kernel/mode/case into buf. */
static const char *key_part(const char *key, int idx, char *buf, size_t len) {
    for (int i = 0; i < idx && key; i++) {
        key = strchr(key, '/');
        key = key ? key + 1 : NULL;
    }
    if (!key)
        key = "";
    size_t n = strcspn(key, "/");
    n = n < len - 1 ? n : len - 1;
    memcpy(buf, key, n);
    buf[n] = 0;
    return buf;
}

/* ------------------------------------------------------------------ */
/* JSON: one record per line, so the gate can read it back line by line */
/* ------------------------------------------------------------------ */
static void json_number(FILE *f, double x) {
    if (isfinite(x))
        fprintf(f, "%.4g", x);
    else
        fputs("null", f); /* read back as NaN: fails every comparison */
}

static int write_json(const char *path, const record *r, size_t n) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        perror(tmp);
        return -1;
    }
    fprintf(f, "{\n  \"format\": \"simdattn-accuracy 1\",\n  \"records\": [\n");
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "    {\"key\": \"%s\", \"shape\": \"%s\"", r[i].key, r[i].shape);
        for (int k = 0; k < FIG_COUNT; k++) {
            fprintf(f, ", \"%s\": ", fig_names[k]);
            json_number(f, r[i].fig[k]);
        }
        fprintf(f, "}%s\n", i + 1 < n ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        perror(path);
        return -1;
    }
    return 0;
}

/* Copies the string value of "name": "..." in line into buf. */
static int json_string(const char *line, const char *name, char *buf, size_t len) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": \"", name);
    const char *p = strstr(line, pat);
    if (!p)
        return 0;
    p += strlen(pat);
    size_t n = strcspn(p, "\"");
    if (n >= len)
        return 0;
    memcpy(buf, p, n);
    buf[n] = 0;
    return 1;
}

/* Reads records written by write_json.  A missing file is an empty list;
 * returns -1 on a malformed record. */
static int read_json(const char *path, record_list *out) {
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[2048];
    int bad = 0;
    while (fgets(line, sizeof line, f)) {
        if (!strstr(line, "\"key\": "))
            continue;
        record *r = record_push(out);
        if (!json_string(line, "key", r->key, sizeof r->key) ||
            !json_string(line, "shape", r->shape, sizeof r->shape))
            bad = 1;
        for (int k = 0; k < FIG_COUNT; k++) {
            char pat[64];
            snprintf(pat, sizeof pat, "\"%s\": ", fig_names[k]);
            const char *p = strstr(line, pat);
            char *end = NULL;
            r->fig[k] = p ? strtod(p + strlen(pat), &end) : NAN;
            if (!p)
                bad = 1;
            else if (end == p + strlen(pat))
                r->fig[k] = NAN; /* null */
        }
    }
    fclose(f);
    if (bad)
        fprintf(stderr, "simdattn-accuracy: %s: malformed record\n", path);
    return bad ? -1 : 0;
}

static const record *find(const record_list *l, const char *key) {
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->r[i].key, key) == 0)
            return &l->r[i];
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Markdown                                                            */
/* ------------------------------------------------------------------ */
static void fmt_fig(char *buf, size_t len, double x) {
    snprintf(buf, len, isfinite(x) ? "%.3g" : "**%g**", x);
}

/* One table: `fig` (worst over cases) per kernel/mode row and ISA column. */
static void summary_table(FILE *f, const record_list *l, int fig) {
    char isas[SIMDATTN_ISA_COUNT][16];
    int nisa = 0;
    for (size_t i = 0; i < l->n; i++) {
        char b[16];
        key_part(l->r[i].key, 1, b, sizeof b);
        int seen = 0;
        for (int k = 0; k < nisa; k++)
            seen |= strcmp(isas[k], b) == 0;
        if (!seen && nisa < SIMDATTN_ISA_COUNT)
            strcpy(isas[nisa++], b);
    }
    fprintf(f, "| kernel | mode |");
    for (int k = 0; k < nisa; k++)
        fprintf(f, " %s |", isas[k]);
    fprintf(f, "\n|---|---|");
    for (int k = 0; k < nisa; k++)
        fprintf(f, "---:|");
    fprintf(f, "\n");
    for (size_t kn = 0; kn < sizeof KERNELS / sizeof *KERNELS; kn++)
        for (size_t md = 0; md < sizeof MODE_ORDER / sizeof *MODE_ORDER; md++) {
            double worst[SIMDATTN_ISA_COUNT];
            int any = 0;
            for (int k = 0; k < nisa; k++)
                worst[k] = -1;
            for (size_t i = 0; i < l->n; i++) {
                char kern[32], mode[16], isa[16];
                key_part(l->r[i].key, 2, kern, sizeof kern);
                key_part(l->r[i].key, 3, mode, sizeof mode);
                key_part(l->r[i].key, 1, isa, sizeof isa);
                if (strcmp(kern, KERNELS[kn]) || strcmp(mode, MODE_ORDER[md]))
                    continue;
                for (int k = 0; k < nisa; k++)
                    if (strcmp(isa, isas[k]) == 0 && !(l->r[i].fig[fig] <= worst[k]))
                        worst[k] = l->r[i].fig[fig];
                any = 1;
            }
            if (!any)
                continue;
            fprintf(f, "| %s | %s |", KERNELS[kn], MODE_ORDER[md]);
            for (int k = 0; k < nisa; k++) {
                char b[32];
                fmt_fig(b, sizeof b, worst[k]);
                fprintf(f, " %s |", worst[k] < 0 ? "" : b);
            }
            fprintf(f, "\n");
        }
}

static void write_summary(FILE *f, const record_list *l) {
    fprintf(f, "Max error in ULPs of the exact result, worst case per kernel "
               "(mode: fast = flags 0, fastexp = SIMDATTN_FAST_EXP, "
               "det = SIMDATTN_DETERMINISTIC, - = no flag):\n\n");
    summary_table(f, l, FIG_MAX_ULP);
    fprintf(f, "\nMax |error| / documented bound (must be ≤ 1):\n\n");
    summary_table(f, l, FIG_MAX_RATIO);
}

static int write_markdown(const char *path, const record_list *l) {
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return -1;
    }
    fprintf(f, "# simdattn accuracy, %s\n\n", accuracy_arch());
    write_summary(f, l);
    fprintf(f, "\nNormwise relative error ‖got − ref‖₂/‖ref‖₂, worst case:\n\n");
    summary_table(f, l, FIG_REL_NORM);
    fprintf(f, "\n## Every case\n\n| ISA | kernel | mode | case | shape | max ULP | "
               "mean ULP | rel. norm | err/bound |\n|---|---|---|---|---|---:|---:|---:|---:|\n");
    for (size_t i = 0; i < l->n; i++) {
        char isa[16], kern[32], mode[16], name[48];
        fprintf(f, "| %s | %s | %s | %s | %s |", key_part(l->r[i].key, 1, isa, sizeof isa),
                key_part(l->r[i].key, 2, kern, sizeof kern),
                key_part(l->r[i].key, 3, mode, sizeof mode),
                key_part(l->r[i].key, 4, name, sizeof name), l->r[i].shape);
        for (int k = 0; k < FIG_COUNT; k++) {
            char b[32];
            fmt_fig(b, sizeof b, l->r[i].fig[k]);
            fprintf(f, " %s |", b);
        }
        fprintf(f, "\n");
    }
    return fclose(f) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* Gate                                                                */
/* ------------------------------------------------------------------ */
/* 1 if the baseline entry `key` belongs to this run's architecture and an
 * ISA this host runs, i.e. this run must have measured it. */
static int ours(const char *key) {
    char arch[16], isa_name[16];
    simdattn_isa isa;
    key_part(key, 0, arch, sizeof arch);
    key_part(key, 1, isa_name, sizeof isa_name);
    return strcmp(arch, accuracy_arch()) == 0 &&
           simdattn_isa_parse(isa_name, &isa) == SIMDATTN_OK &&
           isa != SIMDATTN_ISA_AUTO && simdattn_isa_supported(isa);
}

static int over_bound(const record *r) { return !(r->fig[FIG_MAX_RATIO] <= 1.0); }

/* Records of run with the same arch/isa prefix as r, and how many of them
 * the baseline lacks. */
static void isa_coverage(const record_list *run, const record_list *base, const record *r,
                         size_t *measured, size_t *missing) {
    char a[16], b[16], ia[16], ib[16];
    key_part(r->key, 0, a, sizeof a);
    key_part(r->key, 1, ia, sizeof ia);
    *measured = *missing = 0;
    for (size_t i = 0; i < run->n; i++)
        if (!strcmp(key_part(run->r[i].key, 0, b, sizeof b), a) &&
            !strcmp(key_part(run->r[i].key, 1, ib, sizeof ib), ia)) {
            ++*measured;
            *missing += !find(base, run->r[i].key);
        }
}

static int gate(const record_list *run, const record_list *base, const char *path) {
    int fails = 0, improved = 0, skipped = 0;
    const char *how = "record with ./scripts/test.sh --write-baseline, review and "
                      "commit the diff";
    for (size_t i = 0; i < run->n; i++) {
        const record *r = &run->r[i];
        if (over_bound(r)) {
            printf("accuracy: FAIL %s: max err/bound %.3g > 1 (documented bound "
                   "exceeded)\n", r->key, r->fig[FIG_MAX_RATIO]);
            fails++;
        }
        const record *b = find(base, r->key);
        if (!b) {
            size_t measured, missing;
            isa_coverage(run, base, r, &measured, &missing);
            char a[16], isa[16];
            if (missing < measured) /* a new kernel or case */
                printf("accuracy: FAIL %s: not in the baseline %s; %s\n", r->key, path, how);
            else if (i == 0 || strncmp(run->r[i - 1].key, r->key,
                                       strlen(key_part(r->key, 0, a, sizeof a)) + 1 +
                                           strlen(key_part(r->key, 1, isa, sizeof isa)) + 1))
                printf("accuracy: FAIL %s/%s: none of its %zu records is in the baseline "
                       "%s (a new ISA); %s\n", a, isa, measured, path, how);
            fails++;
            continue;
        }
        for (int k = 0; k < FIG_COUNT; k++) {
            double allowed = b->fig[k] * (1 + MARGIN_REL) + MARGIN_FLOOR[k];
            if (!(r->fig[k] <= allowed)) {
                printf("accuracy: FAIL %s: %s %.4g, baseline %.4g (allowed %.4g)\n",
                       r->key, fig_names[k], r->fig[k], b->fig[k], allowed);
                fails++;
            } else if (r->fig[k] * (1 + MARGIN_REL) + MARGIN_FLOOR[k] < b->fig[k]) {
                printf("  improved: %s: %s %.4g, baseline %.4g\n", r->key,
                       fig_names[k], r->fig[k], b->fig[k]);
                improved++;
            }
        }
    }
    for (size_t i = 0; i < base->n; i++) {
        if (!ours(base->r[i].key)) {
            skipped++;
        } else if (!find(run, base->r[i].key)) {
            printf("accuracy: FAIL %s: in the baseline but not measured (case "
                   "renamed or removed?); re-record with ./scripts/test.sh "
                   "--write-baseline\n", base->r[i].key);
            fails++;
        }
    }
    printf("accuracy: %zu records, %d failures, %d figures improved beyond the "
           "margin%s, %d baseline records of other ISAs/architectures not checked "
           "here\n", run->n, fails, improved,
           improved ? " (re-record to tighten the gate)" : "", skipped);
    return fails;
}

static int by_key(const void *a, const void *b) {
    return strcmp(((const record *)a)->key, ((const record *)b)->key);
}

/* This run's records replace the baseline's entries of this architecture
 * and of the ISAs run here; every other entry is kept.  Sorted by key so
 * the file's diff shows only what changed. */
static int write_baseline(const char *path, const record_list *run, const record_list *base) {
    record_list merged = {0};
    size_t kept = 0;
    for (size_t i = 0; i < base->n; i++)
        if (!ours(base->r[i].key)) {
            *record_push(&merged) = base->r[i];
            kept++;
        }
    for (size_t i = 0; i < run->n; i++)
        *record_push(&merged) = run->r[i];
    qsort(merged.r, merged.n, sizeof *merged.r, by_key);
    int rc = write_json(path, merged.r, merged.n);
    if (rc == 0)
        printf("accuracy: wrote %zu records of %s into %s (%zu other records kept); "
               "review with git diff before committing\n", run->n, accuracy_arch(),
               path, kept);
    free(merged.r);
    return rc;
}

static void usage(void) {
    fprintf(stderr, "usage: simdattn-accuracy [--json FILE] [--markdown FILE] "
                    "[--baseline FILE [--write-baseline]]\n");
}

int main(int argc, char **argv) {
    const char *json = NULL, *markdown = NULL, *baseline = NULL;
    int rewrite = 0;
    for (int i = 1; i < argc; i++) {
        const char **opt = strcmp(argv[i], "--json") == 0       ? &json
                           : strcmp(argv[i], "--markdown") == 0 ? &markdown
                           : strcmp(argv[i], "--baseline") == 0 ? &baseline
                                                                : NULL;
        if (opt && i + 1 < argc)
            *opt = argv[++i];
        else if (strcmp(argv[i], "--write-baseline") == 0)
            rewrite = 1;
        else {
            usage();
            return 2;
        }
    }
    if (rewrite && !baseline) {
        usage();
        return 2;
    }

    setvbuf(stdout, NULL, _IOLBF, 0); /* interleave with stderr in logs */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    isa_list_init();
    record_list run = {0};
    for (int i = 0; i < test_isa_count; i++)
        accuracy_run_isa(test_isas[i], &run);
    clock_gettime(CLOCK_MONOTONIC, &t1);

    write_summary(stdout, &run);
    printf("accuracy: measured %zu records on %s in %.2f s\n", run.n, accuracy_arch(),
           (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    if ((json && write_json(json, run.r, run.n) != 0) ||
        (markdown && write_markdown(markdown, &run) != 0))
        return 2;

    int fails = 0;
    for (size_t i = 0; i < run.n && !baseline; i++)
        if (over_bound(&run.r[i])) {
            printf("accuracy: FAIL %s: max err/bound %.3g > 1 (documented bound "
                   "exceeded)\n", run.r[i].key, run.r[i].fig[FIG_MAX_RATIO]);
            fails++;
        }
    if (baseline) {
        record_list base = {0};
        if (read_json(baseline, &base) != 0)
            return 2;
        if (rewrite) {
            for (size_t i = 0; i < run.n; i++)
                if (over_bound(&run.r[i])) {
                    printf("accuracy: FAIL %s: max err/bound %.3g > 1; a bound "
                           "violation cannot be recorded as a baseline\n",
                           run.r[i].key, run.r[i].fig[FIG_MAX_RATIO]);
                    fails++;
                }
            if (!fails && write_baseline(baseline, &run, &base) != 0)
                return 2;
        } else {
            fails = gate(&run, &base, baseline);
        }
        free(base.r);
    }
    free(run.r);
    return fails ? 1 : 0;
}
