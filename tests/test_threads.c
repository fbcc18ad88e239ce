/*
 * Concurrency of the public API (scripts/test.sh also runs this suite under
 * ThreadSanitizer, part `tsan`).
 *   dispatcher_race     threads released together by a barrier make the
 *                       process's first simdattn calls, each a different
 *                       entry point, so the one-time CPU detection races;
 *                       afterwards all must agree on the active ISA, its
 *                       table and the output of the same AUTO forward.
 *   concurrent_forward  threads run simdattn_forward at the same time,
 *                       thread t forcing ISA t mod (ISAs here) through
 *                       desc.isa, with and without SIMDATTN_DETERMINISTIC,
 *                       on shared inputs; every result must equal, bit for
 *                       bit, the one computed serially for that ISA and
 *                       flag (same code and inputs: same bits), and with
 *                       SIMDATTN_DETERMINISTIC the bits of every ISA equal
 *                       the scalar ones (simdattn.h's promise).
 * dispatcher_race must be the process's first use of the library: main()
 * calls nothing before running the suite, and in no-fork mode it runs
 * first; in fork mode every test runs in a fresh child.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

enum { THREADS = 8, REPEAT = 3 };

/* One problem shared by every thread: GQA, causal, a key-padding mask,
 * query/key counts past one tile (42) and block (256). */
enum { B = 1, HQ = 4, HK = 2, NQ = 90, NK = 270, DIM = 40 };
static float q[B * HQ * NQ * DIM], k[B * HK * NK * DIM], v[B * HK * NK * DIM];
static float mask[B * NK];

static void inputs(void) {
    rng r = rng_seed(1000);
    fill_uniform(&r, q, sizeof q / sizeof q[0], -1, 1);
    fill_uniform(&r, k, sizeof k / sizeof k[0], -1, 1);
    fill_uniform(&r, v, sizeof v / sizeof v[0], -1, 1);
    for (size_t j = 0; j < NK; j++)
        mask[j] = j % 11 == 4 ? -INFINITY : 0.0f;
}

static simdattn_forward_desc problem(float *o, simdattn_isa isa, unsigned flags) {
    simdattn_forward_desc d = {0};
    d.batch = B; d.q_heads = HQ; d.kv_heads = HK;
    d.q_len = NQ; d.kv_len = NK; d.head_dim = DIM;
    d.flags = SIMDATTN_CAUSAL | flags;
    d.q = (simdattn_tensor){q, HQ * NQ * DIM, NQ * DIM, DIM};
    d.k = (simdattn_tensor){k, HK * NK * DIM, NK * DIM, DIM};
    d.v = (simdattn_tensor){v, HK * NK * DIM, NK * DIM, DIM};
    d.mask = (simdattn_tensor){mask, NK, 0, 0};
    d.o = o;
    d.o_stride_batch = HQ * NQ * DIM; d.o_stride_head = NQ * DIM; d.o_stride_seq = DIM;
    d.isa = isa;
    return d;
}

#define O_ELEMS (B * HQ * NQ * DIM)

typedef struct first_use {
    pthread_barrier_t *start;
    int which;
    simdattn_isa active;
    const simdattn_kernels *table;
    simdattn_status status;
    float o[O_ELEMS];
} first_use;

static void *race(void *arg) {
    first_use *f = arg;
    pthread_barrier_wait(f->start);
    simdattn_forward_desc d = problem(f->o, SIMDATTN_ISA_AUTO, 0);
    switch (f->which % 5) { /* the first call differs per thread */
    case 0: f->status = simdattn_forward(&d); break;
    case 1: (void)simdattn_isa_active(); break;
    case 2: (void)simdattn_isa_best(); break;
    case 3: (void)simdattn_kernels_get(SIMDATTN_ISA_AUTO); break;
    default: (void)simdattn_isa_supported(SIMDATTN_ISA_SCALAR); break;
    }
    f->active = simdattn_isa_active();
    f->table = simdattn_kernels_get(SIMDATTN_ISA_AUTO);
    if (f->which % 5 != 0)
        f->status = simdattn_forward(&d);
    return NULL;
}

START_TEST(dispatcher_race) {
    static first_use f[THREADS];
    pthread_t th[THREADS];
    pthread_barrier_t start;
    inputs();
    ck_assert_int_eq(pthread_barrier_init(&start, NULL, THREADS), 0);
    for (int t = 0; t < THREADS; t++) {
        f[t].start = &start;
        f[t].which = t;
        ck_assert_int_eq(pthread_create(&th[t], NULL, race, &f[t]), 0);
    }
    for (int t = 0; t < THREADS; t++)
        ck_assert_int_eq(pthread_join(th[t], NULL), 0);
    pthread_barrier_destroy(&start);
    for (int t = 0; t < THREADS; t++) {
        ck_assert_int_eq(f[t].status, SIMDATTN_OK);
        ck_assert_int_eq(f[t].active, f[0].active);
        ck_assert_ptr_eq(f[t].table, f[0].table);
        ck_assert_int_eq(f[t].table->isa, f[t].active);
        ck_assert_msg(memcmp(f[t].o, f[0].o, sizeof f[0].o) == 0,
                      "thread %d's AUTO forward differs from thread 0's", t);
    }
    ck_assert_int_eq(f[0].active, simdattn_isa_active());
}
END_TEST

typedef struct worker {
    pthread_barrier_t *start;
    simdattn_isa isa;
    unsigned flags;
    const float *want; /* serial result for (isa, flags) */
    int mismatches;
    simdattn_status status;
    float o[O_ELEMS];
} worker;

static void *work(void *arg) {
    worker *w = arg;
    pthread_barrier_wait(w->start);
    for (int rep = 0; rep < REPEAT; rep++) {
        memset(w->o, 0xff, sizeof w->o); /* NaN: a row left unwritten shows */
        simdattn_forward_desc d = problem(w->o, w->isa, w->flags);
        w->status = simdattn_forward(&d);
        if (w->status != SIMDATTN_OK)
            return NULL;
        w->mismatches += memcmp(w->o, w->want, sizeof w->o) != 0;
    }
    return NULL;
}

START_TEST(concurrent_forward) {
    static float serial[SIMDATTN_ISA_COUNT][2][O_ELEMS];
    static worker w[THREADS];
    pthread_t th[THREADS];
    pthread_barrier_t start;
    inputs();
    isa_list_init();
    for (int i = 0; i < test_isa_count; i++)
        for (int det = 0; det < 2; det++) {
            simdattn_forward_desc d = problem(serial[i][det], test_isas[i],
                                              det ? SIMDATTN_DETERMINISTIC : 0);
            ck_assert_int_eq(simdattn_forward(&d), SIMDATTN_OK);
            if (det)
                ck_assert_msg(memcmp(serial[i][1], serial[0][1], sizeof serial[0][1]) == 0,
                              "%s: SIMDATTN_DETERMINISTIC bits differ from scalar",
                              simdattn_isa_name(test_isas[i]));
        }
    ck_assert_int_eq(pthread_barrier_init(&start, NULL, THREADS), 0);
    for (int t = 0; t < THREADS; t++) {
        int i = t % test_isa_count, det = (t / test_isa_count) % 2;
        w[t] = (worker){&start, test_isas[i], det ? SIMDATTN_DETERMINISTIC : 0, serial[i][det],
                        0, SIMDATTN_OK, {0}};
        ck_assert_int_eq(pthread_create(&th[t], NULL, work, &w[t]), 0);
    }
    for (int t = 0; t < THREADS; t++)
        ck_assert_int_eq(pthread_join(th[t], NULL), 0);
    pthread_barrier_destroy(&start);
    for (int t = 0; t < THREADS; t++) {
        ck_assert_int_eq(w[t].status, SIMDATTN_OK);
        ck_assert_msg(w[t].mismatches == 0, "thread %d (%s, flags %u): %d of %d results differ "
                      "from the serial one", t, simdattn_isa_name(w[t].isa), w[t].flags,
                      w[t].mismatches, REPEAT);
    }
}
END_TEST

int main(void) {
    const suite_test tests[] = {
        {dispatcher_race, LOOP_ONCE, 0}, /* first: see the header comment */
        {concurrent_forward, LOOP_ONCE, 0},
    };
    return run_tests("threads", 300, tests, sizeof tests / sizeof tests[0]);
}
