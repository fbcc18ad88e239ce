/*
 * No kernel reads or writes outside its operands.  The canaries of the
 * other suites catch stray writes but not stray reads (a SIMD tail that
 * loads a whole vector past the end of a row, say); here every operand is
 * packed tight (leading dimension = row length) against an inaccessible
 * page, once ending right before it and once starting right after one, so
 * any access past either end faults.  Shapes cover 1 to past two of every
 * register block: rows up to 15 (blocks of 6 and 14), keys and columns up
 * to 35 (panels of 16 and 32, vectors of 4, 8 and 16).
 */
#include <math.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util.h"


enum { MAX_BUFS = 16 };

/* n floats flush against a PROT_NONE page: after them (at_end) or before. */
typedef struct guarded {
    void *maps[MAX_BUFS];
    size_t sizes[MAX_BUFS];
    int count, at_end;
} guarded;

static float *guarded_floats(guarded *g, size_t n) {
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t bytes = (n * sizeof(float) + pg - 1) / pg * pg;
    ck_assert_int_lt(g->count, MAX_BUFS);
    char *b = mmap(NULL, bytes + 2 * pg, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert(b != MAP_FAILED);
    ck_assert_int_eq(mprotect(b, pg, PROT_NONE), 0);
    ck_assert_int_eq(mprotect(b + pg + bytes, pg, PROT_NONE), 0);
    g->maps[g->count] = b;
    g->sizes[g->count++] = bytes + 2 * pg;
    float *p = g->at_end ? (float *)(b + pg + bytes) - n : (float *)(b + pg);
    for (size_t i = 0; i < n; i++) /* small finite values, a few −inf */
        p[i] = i % 13 == 5 ? -INFINITY : (float)(i % 7) * 0.25f - 0.75f;
    return p;
}

static void guarded_free(guarded *g) {
    while (g->count > 0) {
        g->count--;
        munmap(g->maps[g->count], g->sizes[g->count]);
    }
}

START_TEST(kernels_stay_inside_operands) {
    static const size_t N[] = {1, 3, 4, 5, 8, 15, 16, 17, 31, 32, 33, 35};
    static const size_t D[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33};
    const simdattn_kernels *t = simdattn_kernels_get(ISA);
    for (int at_end = 0; at_end < 2; at_end++)
        for (size_t m = 1; m <= 15; m++)
            for (size_t a = 0; a < sizeof N / sizeof N[0]; a++)
                for (size_t b = 0; b < sizeof D / sizeof D[0]; b++) {
                    size_t n = N[a], d = D[b];
                    guarded g = {.at_end = at_end};
                    const float *q = guarded_floats(&g, m * d);
                    const float *k = guarded_floats(&g, n * d);
                    float *kp = guarded_floats(&g, simdattn_packed_k_size(t, n, d));
                    float *s = guarded_floats(&g, m * n);
                    const float *mask = guarded_floats(&g, m * n);
                    float *mx = guarded_floats(&g, m), *sum = guarded_floats(&g, m);
                    float *alpha = guarded_floats(&g, m);
                    const float *v = guarded_floats(&g, n * d);
                    float *o = guarded_floats(&g, m * d);
                    for (size_t i = 0; i < m; i++) {
                        mx[i] = -INFINITY;
                        sum[i] = 0.0f;
                    }
                    ck_assert_int_eq(simdattn_pack_k(t, n, d, k, d, kp), SIMDATTN_OK);
                    t->qk(m, n, d, q, d, kp, s, n);
                    t->softmax(m, n, 0.5f, mask, n, s, n, 0);
                    t->softmax_online(m, n, 0.5f, mask, n, s, n, mx, sum, alpha,
                                      SIMDATTN_DETERMINISTIC);
                    t->softmax(m, n, 0.5f, NULL, 0, s, n, SIMDATTN_DETERMINISTIC);
                    t->softmax_online(m, n, 0.5f, mask, n, s, n, mx, sum, alpha,
                                      SIMDATTN_FAST_EXP);
                    t->softmax(m, n, 0.5f, NULL, 0, s, n, SIMDATTN_FAST_EXP);
                    t->pv(m, n, d, s, n, v, d, alpha, o, d);
                    t->pv(m, n, d, s, n, v, d, NULL, o, d);
                    guarded_free(&g);
                }
}
END_TEST

int main(void) {
    isa_list_init();
    Suite *s = suite_create("bounds");
    TCase *tc = tcase_create("bounds");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, kernels_stay_inside_operands, 0, test_isa_count);
    suite_add_tcase(s, tc);
    return run_suite(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
