#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double ulp_f32(double ref) {
    double a = fabs(ref);
    if (a < FLT_MIN)
        return FLT_TRUE_MIN;
    return ldexp(1.0, ilogb(a) - (FLT_MANT_DIG - 1));
}

const uint32_t CANARY_BITS = 0x7fa0dead;

float canary(void) {
    float f;
    memcpy(&f, &CANARY_BITS, sizeof f);
    return f;
}

int is_canary(float x) {
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    return b == CANARY_BITS;
}

rng rng_seed(uint64_t seed) {
    rng r = {seed * 0x9E3779B97F4A7C15ull + 1};
    return r;
}

static uint64_t next(rng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double rng_uniform(rng *r) { return (double)(next(r) >> 11) * 0x1p-53; }

float rng_range(rng *r, float lo, float hi) {
    return (float)(lo + (hi - lo) * rng_uniform(r));
}

void fill_uniform(rng *r, float *x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++)
        x[i] = rng_range(r, lo, hi);
}

const exp_mode exp_modes[EXP_MODE_COUNT] = {
    {"default", 0, 1.0},
    {"fastexp", SIMDATTN_FAST_EXP, SIMDATTN_FAST_EXP_ULP},
};

simdattn_isa test_isas[SIMDATTN_ISA_COUNT];
int test_isa_count;

void isa_list_init(void) {
    test_isa_count = 0;
    for (int i = SIMDATTN_ISA_SCALAR; i < SIMDATTN_ISA_COUNT; i++)
        if (simdattn_isa_supported((simdattn_isa)i))
            test_isas[test_isa_count++] = (simdattn_isa)i;
    fprintf(stderr, "testing ISAs:");
    for (int i = 0; i < test_isa_count; i++)
        fprintf(stderr, " %s", simdattn_isa_name(test_isas[i]));
    fprintf(stderr, "\n");
}

int run_suite(Suite *s) {
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed;
}

int run_tests(const char *name, double timeout, const suite_test *tests, size_t count) {
    for (size_t t = 0; t < count; t++)
        if (tests[t].loop < 0) {
            isa_list_init();
            break;
        }
    Suite *s = suite_create(name);
    TCase *tc = tcase_create(name);
    if (timeout > 0)
        tcase_set_timeout(tc, timeout);
    for (size_t t = 0; t < count; t++) {
        int loop = tests[t].loop;
        int end = loop == LOOP_ISAS        ? test_isa_count
                  : loop == LOOP_ISA_MODES ? test_isa_count * EXP_MODE_COUNT
                  : loop == LOOP_ONCE      ? 1
                                           : loop;
        _tcase_add_test(tc, tests[t].test, tests[t].signal, 0, 0, end);
    }
    suite_add_tcase(s, tc);
    return run_suite(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}

gmat gmat_new(size_t rows, size_t cols, size_t ld) {
    gmat g = {0};
    g.rows = rows;
    g.cols = cols;
    g.ld = ld;
    g.total = (rows - 1) * ld + cols + 16;
    g.base = aligned_alloc(64, ((g.total + 1) * sizeof(float) + 63) / 64 * 64);
    ck_assert_ptr_nonnull(g.base);
    g.p = g.base + 1;
    for (size_t i = 0; i < g.total; i++)
        g.p[i] = canary();
    return g;
}

int gmat_intact(const gmat *g) {
    for (size_t i = 0; i < g->total; i++) {
        size_t r = i / g->ld, c = i % g->ld;
        int inside = r < g->rows && c < g->cols;
        if (!inside && !is_canary(g->p[i]))
            return 0;
    }
    return 1;
}

void gmat_free(gmat *g) {
    free(g->base);
    g->base = g->p = NULL;
}


size_t run_tasks_reversed(const simdattn_forward_desc *d) {
    size_t count, bytes;
    ck_assert_int_eq(simdattn_forward_tasks(d, &count, &bytes), SIMDATTN_OK);
    ck_assert(count >= 1 && bytes >= sizeof(float));
    void *ws = malloc(bytes);
    ck_assert_ptr_nonnull(ws);
    for (size_t i = count; i-- > 0;)
        ck_assert_int_eq(simdattn_forward_run_task(d, i, ws), SIMDATTN_OK);
    free(ws);
    return count;
}
