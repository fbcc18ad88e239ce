/*
 * Dispatch queries and the argument contract of every public entry point:
 * each invalid input returns its documented status and writes nothing.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"


START_TEST(isa_queries) {
    ck_assert(simdattn_isa_supported(SIMDATTN_ISA_SCALAR));
    ck_assert(simdattn_isa_supported(SIMDATTN_ISA_AUTO));
    ck_assert(simdattn_isa_supported(simdattn_isa_best()));
    ck_assert(simdattn_isa_supported(simdattn_isa_active()));
    ck_assert(simdattn_isa_active() != SIMDATTN_ISA_AUTO);
    ck_assert(!simdattn_isa_supported((simdattn_isa)-1));
    ck_assert(!simdattn_isa_supported(SIMDATTN_ISA_COUNT));
    ck_assert_str_eq(simdattn_isa_name(SIMDATTN_ISA_AVX512), "avx512");
    ck_assert_str_eq(simdattn_isa_name((simdattn_isa)99), "invalid");
    for (int i = 0; i < SIMDATTN_ISA_COUNT; i++) {
        simdattn_isa back;
        ck_assert_int_eq(simdattn_isa_parse(simdattn_isa_name((simdattn_isa)i), &back), SIMDATTN_OK);
        ck_assert_int_eq(back, i);
        const simdattn_kernels *t = simdattn_kernels_get((simdattn_isa)i);
        ck_assert_int_eq(t != NULL, simdattn_isa_supported((simdattn_isa)i));
        if (t && i != SIMDATTN_ISA_AUTO) {
            ck_assert_int_eq(t->isa, i);
            ck_assert(t->qk && t->softmax && t->softmax_online && t->pv && t->qk_nr > 0);
        }
    }
    simdattn_isa x;
    ck_assert_int_eq(simdattn_isa_parse("sse9", &x), SIMDATTN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(simdattn_isa_parse(NULL, &x), SIMDATTN_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(simdattn_kernels_get((simdattn_isa)7));
    ck_assert_str_eq(simdattn_status_str(SIMDATTN_ERR_SIZE_OVERFLOW), "size overflow");
    /* an ISA of the other architecture is never runnable */
#if defined(__x86_64__)
    ck_assert(!simdattn_isa_supported(SIMDATTN_ISA_NEON));
#elif defined(__aarch64__)
    ck_assert(!simdattn_isa_supported(SIMDATTN_ISA_AVX2));
#endif
}
END_TEST

/* A buffer full of canaries; intact() says whether any was overwritten. */
enum { BUF = 256 };
static float out[BUF];
static void poison(void) { for (int i = 0; i < BUF; i++) out[i] = canary(); }
static int intact(void) {
    for (int i = 0; i < BUF; i++)
        if (!is_canary(out[i])) return 0;
    return 1;
}
#define EXPECT(call, code)                                                  \
    do {                                                                    \
        poison();                                                           \
        ck_assert_int_eq((call), (code));                                   \
        ck_assert_msg(intact(), "%s wrote its output on error", #call);     \
    } while (0)

START_TEST(stage_arguments) {
    static float q[64], k[64], v[64], mk[64], rm[8], rs[8], al[8];
    const size_t big = SIZE_MAX / 2;
    simdattn_isa isa = ISA;
    EXPECT(simdattn_qk(isa, 2, 2, 4, NULL, 4, k, 4, out, 2), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_qk(isa, 2, 2, 4, q, 4, NULL, 4, out, 2), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_qk(isa, 0, 2, 4, q, 4, k, 4, out, 2), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_qk(isa, 2, 2, 0, q, 4, k, 4, out, 2), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_qk(isa, 2, 2, 4, q, 3, k, 4, out, 2), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_qk(isa, 2, 2, 4, q, 4, k, 4, out, 1), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_qk(isa, big, 2, 4, q, big, k, 4, out, 2), SIMDATTN_ERR_SIZE_OVERFLOW);
    EXPECT(simdattn_qk(isa, 2, 2, 4, out, 4, k, 4, out + 4, 2), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_qk((simdattn_isa)42, 2, 2, 4, q, 4, k, 4, out, 2), SIMDATTN_ERR_INVALID_ARGUMENT);

    EXPECT(simdattn_softmax(isa, 2, 4, NAN, NULL, 0, out, 4, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softmax(isa, 2, 4, -1.0f, NULL, 0, out, 4, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softmax(isa, 2, 4, INFINITY, NULL, 0, out, 4, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softmax(isa, 2, 4, 1.0f, mk, 3, out, 4, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softmax(isa, 2, 4, 1.0f, out + 2, 4, out, 4, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softmax(isa, 2, 0, 1.0f, NULL, 0, out, 4, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softmax(isa, 2, 4, 1.0f, NULL, 0, out, 4, 0x10), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softmax(isa, 2, 4, 1.0f, NULL, 0, out, 4, SIMDATTN_CAUSAL),
           SIMDATTN_ERR_INVALID_ARGUMENT);
    /* each of these two names the exp: together they contradict */
    EXPECT(simdattn_softmax(isa, 2, 4, 1.0f, NULL, 0, out, 4,
                            SIMDATTN_FAST_EXP | SIMDATTN_DETERMINISTIC),
           SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softmax_online(isa, 2, 4, 1.0f, NULL, 0, out, 4, rm, rs, al,
                                   SIMDATTN_FAST_EXP | SIMDATTN_DETERMINISTIC),
           SIMDATTN_ERR_INVALID_ARGUMENT);
    poison();
    ck_assert_int_eq(simdattn_softmax(isa, 2, 4, 1.0f, NULL, 0, out, 4, SIMDATTN_FAST_EXP),
                     SIMDATTN_OK);
    for (size_t i = 0; i < 3; i++) { rm[i] = -INFINITY; rs[i] = 0; }
    ck_assert_int_eq(simdattn_softmax_online(isa, 3, 4, 1.0f, NULL, 0, out, 4, rm, rs, al,
                                             SIMDATTN_FAST_EXP), SIMDATTN_OK);
    EXPECT(simdattn_softmax(isa, 2, 4, 1.0f, NULL, 0, NULL, 4, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softmax(isa, 3, 4, 1.0f, NULL, 0, out, big, 0), SIMDATTN_ERR_SIZE_OVERFLOW);
    EXPECT(simdattn_softmax_online(isa, 2, 4, 1.0f, NULL, 0, out, 4, NULL, rs, al, 0),
           SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softmax_online(isa, 2, 4, 1.0f, NULL, 0, out, 4, rm, rm + 1, al, 0),
           SIMDATTN_ERR_INVALID_ARGUMENT);

    EXPECT(simdattn_pv(isa, 2, 3, 4, q, 3, v, 4, NULL, out, 2), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_pv(isa, 2, 3, 4, q, 3, out + 4, 4, NULL, out, 4), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_pv(isa, 2, 3, 4, q, 3, v, 4, out + 17, out + 16, 4), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_pv(isa, 2, 3, 0, q, 3, v, 4, NULL, out, 4), SIMDATTN_ERR_INVALID_ARGUMENT);

    const simdattn_kernels *t = simdattn_kernels_get(isa);
    ck_assert_int_eq(simdattn_packed_k_size(t, big, big), 0);
    EXPECT(simdattn_pack_k(t, 3, 4, k, 2, out), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_pack_k(NULL, 3, 4, k, 4, out), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_pack_k(t, big, big, k, big, out), SIMDATTN_ERR_SIZE_OVERFLOW);
    (void)mk; (void)rm;
}
END_TEST

static simdattn_forward_desc valid_desc(float *q, float *k, float *v) {
    simdattn_forward_desc d = {0};
    d.batch = 1; d.q_heads = 2; d.kv_heads = 1; d.q_len = 4; d.kv_len = 4; d.head_dim = 4;
    d.q = (simdattn_tensor){q, 32, 16, 4};
    d.k = (simdattn_tensor){k, 16, 16, 4};
    d.v = (simdattn_tensor){v, 16, 16, 4};
    d.o = out; d.o_stride_batch = 32; d.o_stride_head = 16; d.o_stride_seq = 4;
    return d;
}

START_TEST(forward_arguments) {
    static float q[32], k[16], v[16], mk[16];
    simdattn_forward_desc d = valid_desc(q, k, v);
    d.isa = ISA;
    poison();
    ck_assert_int_eq(simdattn_forward(&d), SIMDATTN_OK);
    ck_assert(!is_canary(out[31]) && is_canary(out[32]));
    d.flags = SIMDATTN_CAUSAL | SIMDATTN_FAST_EXP;
    ck_assert_int_eq(simdattn_forward(&d), SIMDATTN_OK);
    d.flags = 0;

#define BAD(field_change, code)                                              \
    do {                                                                     \
        simdattn_forward_desc b = valid_desc(q, k, v);                       \
        b.isa = ISA;                                                         \
        field_change;                                                        \
        EXPECT(simdattn_forward(&b), code);                                  \
    } while (0)
    const size_t big = SIZE_MAX / 4;
    EXPECT(simdattn_forward(NULL), SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.q.data = NULL, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.k.data = NULL, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.v.data = NULL, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.o = NULL, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.batch = 0, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.q_len = 0, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.kv_len = 0, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.head_dim = 0, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.kv_heads = 0, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD((b.q_heads = 3, b.kv_heads = 2), SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.flags = 0x80, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.flags = SIMDATTN_FAST_EXP | SIMDATTN_DETERMINISTIC, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.flags = SIMDATTN_CAUSAL | SIMDATTN_FAST_EXP | SIMDATTN_DETERMINISTIC,
        SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.scale = NAN, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.scale = -0.5f, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.scale = INFINITY, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.isa = (simdattn_isa)-3, SIMDATTN_ERR_INVALID_ARGUMENT);
    /* output rows overlapping each other: seq stride below the row */
    BAD(b.o_stride_seq = 3, SIMDATTN_ERR_INVALID_ARGUMENT);
    /* heads stepping into each other */
    BAD(b.o_stride_head = 8, SIMDATTN_ERR_INVALID_ARGUMENT);
    /* output overlapping an input (in place over Q) */
    BAD(b.o = q, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD((b.mask = (simdattn_tensor){out + 20, 0, 0, 4}), SIMDATTN_ERR_INVALID_ARGUMENT);
    /* extents that overflow size_t */
    BAD(b.q.stride_seq = big, SIMDATTN_ERR_SIZE_OVERFLOW);
    BAD((b.batch = 2, b.k.stride_batch = big * 2), SIMDATTN_ERR_SIZE_OVERFLOW);
    BAD((b.kv_len = big, b.k.stride_seq = 4), SIMDATTN_ERR_SIZE_OVERFLOW);
    BAD((b.mask = (simdattn_tensor){mk, 0, 0, big}), SIMDATTN_ERR_SIZE_OVERFLOW);
    /* an ISA of the other architecture */
#if defined(__x86_64__)
    BAD(b.isa = SIMDATTN_ISA_NEON, SIMDATTN_ERR_UNSUPPORTED_ISA);
#else
    BAD(b.isa = SIMDATTN_ISA_AVX512, SIMDATTN_ERR_UNSUPPORTED_ISA);
#endif
#undef BAD
}
END_TEST

int main(void) {
    isa_list_init();
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("api");
    tcase_add_test(tc, isa_queries);
    tcase_add_loop_test(tc, stage_arguments, 0, test_isa_count);
    tcase_add_loop_test(tc, forward_arguments, 0, test_isa_count);
    suite_add_tcase(s, tc);
    return run_suite(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
