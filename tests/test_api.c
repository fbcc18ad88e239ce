/*
 * Dispatch queries and the argument contract of every public entry point:
 * each invalid input returns its documented status and writes nothing.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"


/* An ISA value that is valid but cannot run here (always exists: the list
 * holds ISAs of two architectures). */
static simdattn_isa other_isa;
#define OTHER_ISA other_isa
static void other_isa_init(void) {
    for (int i = SIMDATTN_ISA_SCALAR; i < SIMDATTN_ISA_COUNT; i++)
        if (!simdattn_isa_supported((simdattn_isa)i))
            other_isa = (simdattn_isa)i;
    if (other_isa == SIMDATTN_ISA_AUTO)
        abort();
}

/* The OUT_OF_MEMORY test asks for 256 TiB: under AddressSanitizer that
 * must fail like malloc does, not abort the process. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

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
            ck_assert(t->softcap && t->widen);
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

/* Sizes that overflow: `big` rows of a big ld overflow size_t outright;
 * `wrap` elements fit in size_t as bytes (2^64 − 4) but no buffer can end
 * there, so base + bytes runs past the end of the address space. */
static const size_t big = SIZE_MAX / 2;
static const size_t wrap = SIZE_MAX / sizeof(float);

/* An address 2^shift bytes above p, for arguments whose claimed extent is
 * too large to overlap nothing yet that validation rejects before any
 * access: it is never dereferenced. */
static float *far(const float *p, int shift) {
    return (float *)((uintptr_t)p + ((uintptr_t)1 << shift));
}

START_TEST(qk_arguments) {
    static float q[64], k[64];
    simdattn_isa isa = ISA;
    ck_assert_int_eq(simdattn_qk(isa, 2, 2, 4, q, 4, k, 4, out, 2), SIMDATTN_OK);
    EXPECT(simdattn_qk(isa, 2, 2, 4, NULL, 4, k, 4, out, 2), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_qk(isa, 2, 2, 4, q, 4, NULL, 4, out, 2), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_qk(isa, 2, 2, 4, q, 4, k, 4, NULL, 2), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_qk(isa, 0, 2, 4, q, 4, k, 4, out, 2), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_qk(isa, 2, 0, 4, q, 4, k, 4, out, 2), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_qk(isa, 2, 2, 0, q, 4, k, 4, out, 2), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_qk(isa, 2, 2, 4, q, 3, k, 4, out, 2), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_qk(isa, 2, 2, 4, q, 4, k, 3, out, 2), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_qk(isa, 2, 2, 4, q, 4, k, 4, out, 1), SIMDATTN_ERR_INVALID_ARGUMENT);
    /* S overlapping Q, K */
    EXPECT(simdattn_qk(isa, 2, 2, 4, out, 4, k, 4, out + 4, 2), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_qk(isa, 2, 2, 4, q, 4, out + 7, 4, out, 8), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_qk(isa, 2, 2, 4, q, big, k, 4, out, 2), SIMDATTN_ERR_SIZE_OVERFLOW);
    EXPECT(simdattn_qk(isa, big, 2, 4, q, 4, k, 4, out, 2), SIMDATTN_ERR_SIZE_OVERFLOW);
    EXPECT(simdattn_qk(isa, 2, 2, 4, q, 4, k, big, out, 2), SIMDATTN_ERR_SIZE_OVERFLOW);
    EXPECT(simdattn_qk(isa, 2, 2, 4, q, wrap - 4, k, 4, out, 2), SIMDATTN_ERR_SIZE_OVERFLOW);
    EXPECT(simdattn_qk(isa, 2, 2, 4, q, 4, k, 4, out, wrap - 2), SIMDATTN_ERR_SIZE_OVERFLOW);
    EXPECT(simdattn_qk((simdattn_isa)42, 2, 2, 4, q, 4, k, 4, out, 2), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_qk((simdattn_isa)-1, 2, 2, 4, q, 4, k, 4, out, 2), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_qk(OTHER_ISA, 2, 2, 4, q, 4, k, 4, out, 2), SIMDATTN_ERR_UNSUPPORTED_ISA);
}
END_TEST

START_TEST(softmax_arguments) {
    static float mk[64];
    simdattn_isa isa = ISA;
    EXPECT(simdattn_softmax(isa, 2, 4, NAN, NULL, 0, out, 4, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softmax(isa, 2, 4, -1.0f, NULL, 0, out, 4, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softmax(isa, 2, 4, -FLT_TRUE_MIN, NULL, 0, out, 4, 0),
           SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softmax(isa, 2, 4, INFINITY, NULL, 0, out, 4, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softmax(isa, 2, 4, -INFINITY, NULL, 0, out, 4, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softmax(isa, 2, 4, 1.0f, mk, 3, out, 4, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softmax(isa, 2, 4, 1.0f, out + 2, 4, out, 4, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    /* a broadcast mask row (ldm 0) inside S's range */
    EXPECT(simdattn_softmax(isa, 2, 4, 1.0f, out + 4, 0, out, 4, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softmax(isa, 0, 4, 1.0f, NULL, 0, out, 4, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softmax(isa, 2, 0, 1.0f, NULL, 0, out, 4, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softmax(isa, 2, 4, 1.0f, NULL, 0, out, 3, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    for (unsigned bit = 1; bit; bit <<= 1)
        if (bit != SIMDATTN_DETERMINISTIC && bit != SIMDATTN_FAST_EXP)
            EXPECT(simdattn_softmax(isa, 2, 4, 1.0f, NULL, 0, out, 4, bit),
                   SIMDATTN_ERR_INVALID_ARGUMENT);
    /* each of these two names the exp: together they contradict */
    EXPECT(simdattn_softmax(isa, 2, 4, 1.0f, NULL, 0, out, 4,
                            SIMDATTN_FAST_EXP | SIMDATTN_DETERMINISTIC),
           SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softmax(isa, 2, 4, 1.0f, NULL, 0, NULL, 4, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softmax(isa, 3, 4, 1.0f, NULL, 0, out, big, 0), SIMDATTN_ERR_SIZE_OVERFLOW);
    EXPECT(simdattn_softmax(isa, 2, 4, 1.0f, NULL, 0, out, wrap - 4, 0), SIMDATTN_ERR_SIZE_OVERFLOW);
    EXPECT(simdattn_softmax(isa, 2, 4, 1.0f, mk, big, out, 4, 0), SIMDATTN_ERR_SIZE_OVERFLOW);
    EXPECT(simdattn_softmax((simdattn_isa)SIMDATTN_ISA_COUNT, 2, 4, 1.0f, NULL, 0, out, 4, 0),
           SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softmax(OTHER_ISA, 2, 4, 1.0f, NULL, 0, out, 4, 0), SIMDATTN_ERR_UNSUPPORTED_ISA);

    /* accepted: -0 counts as 0 (every logit 0: uniform rows), ldm 0 */
    poison();
    for (int i = 0; i < 8; i++) out[i] = (float)i;
    ck_assert_int_eq(simdattn_softmax(isa, 2, 4, -0.0f, mk, 0, out, 4, 0), SIMDATTN_OK);
    for (int i = 0; i < 8; i++) ck_assert(out[i] == 0.25f);
    ck_assert(is_canary(out[8]));
    for (int i = 0; i < 8; i++) out[i] = (float)i;
    ck_assert_int_eq(simdattn_softmax(isa, 2, 4, -0.0f, mk, 0, out, 4, SIMDATTN_FAST_EXP),
                     SIMDATTN_OK);
    for (int i = 0; i < 8; i++) ck_assert(out[i] == 0.25f);
    ck_assert(is_canary(out[8]));
}
END_TEST

/* The online softmax has four outputs: S (out[0..7]), row_max, row_sum
 * and alpha (2 floats each at out[16], [20], [24]); each pair must be
 * disjoint and none may overlap the mask. */
START_TEST(online_arguments) {
    static float mk[64];
    simdattn_isa isa = ISA;
    float *s = out, *rm = out + 16, *rs = out + 20, *al = out + 24;
#define ONLINE(mask, ldm, s_, rm_, rs_, al_, flags)                          \
    simdattn_softmax_online(isa, 2, 4, 1.0f, mask, ldm, s_, 4, rm_, rs_, al_, flags)
    rm[0] = rm[1] = -INFINITY;
    rs[0] = rs[1] = 0;
    for (int i = 0; i < 8; i++) s[i] = 0;
    ck_assert_int_eq(ONLINE(mk, 4, s, rm, rs, al, 0), SIMDATTN_OK);
    ck_assert_int_eq(ONLINE(mk, 4, s, rm, rs, al, SIMDATTN_FAST_EXP), SIMDATTN_OK);
    EXPECT(ONLINE(NULL, 0, s, NULL, rs, al, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(ONLINE(NULL, 0, s, rm, NULL, al, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(ONLINE(NULL, 0, s, rm, rs, NULL, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(ONLINE(NULL, 0, NULL, rm, rs, al, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    /* outputs overlapping each other */
    EXPECT(ONLINE(NULL, 0, s, rm, rm + 1, al, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(ONLINE(NULL, 0, s, rm, rs, rm + 1, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(ONLINE(NULL, 0, s, rm, rs, rs, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(ONLINE(NULL, 0, s, s + 7, rs, al, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(ONLINE(NULL, 0, s, rm, s, al, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(ONLINE(NULL, 0, s, rm, rs, s + 3, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    /* the mask overlapping S, then each row vector alone (out[39..42],
     * [48..55], [60..63] against row vectors at [40], [52], [62]) */
    EXPECT(ONLINE(s + 4, 4, s, rm, rs, al, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(ONLINE(out + 39, 0, s, out + 40, rs, al, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(ONLINE(out + 48, 4, s, rm, out + 52, al, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(ONLINE(out + 60, 0, s, rm, rs, out + 62, 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(ONLINE(NULL, 0, s, rm, rs, al, 8), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(ONLINE(NULL, 0, s, rm, rs, al, SIMDATTN_FAST_EXP | SIMDATTN_DETERMINISTIC),
           SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softmax_online(isa, 2, 4, NAN, NULL, 0, s, 4, rm, rs, al, 0),
           SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_softmax_online(isa, 0, 4, 1.0f, NULL, 0, s, 4, rm, rs, al, 0),
           SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(ONLINE(NULL, 0, s, rm, rs, (float *)(uintptr_t)-4, 0), SIMDATTN_ERR_SIZE_OVERFLOW);
    EXPECT(simdattn_softmax_online(OTHER_ISA, 2, 4, 1.0f, NULL, 0, s, 4, rm, rs, al, 0),
           SIMDATTN_ERR_UNSUPPORTED_ISA);
#undef ONLINE
}
END_TEST

START_TEST(pv_arguments) {
    static float p[64], v[64], al[8];
    simdattn_isa isa = ISA;
    EXPECT(simdattn_pv(isa, 2, 3, 4, NULL, 3, v, 4, NULL, out, 4), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_pv(isa, 2, 3, 4, p, 3, NULL, 4, NULL, out, 4), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_pv(isa, 2, 3, 4, p, 3, v, 4, NULL, NULL, 4), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_pv(isa, 0, 3, 4, p, 3, v, 4, NULL, out, 4), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_pv(isa, 2, 0, 4, p, 3, v, 4, NULL, out, 4), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_pv(isa, 2, 3, 0, p, 3, v, 4, NULL, out, 4), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_pv(isa, 2, 3, 4, p, 2, v, 4, NULL, out, 4), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_pv(isa, 2, 3, 4, p, 3, v, 3, NULL, out, 4), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_pv(isa, 2, 3, 4, p, 3, v, 4, NULL, out, 2), SIMDATTN_ERR_INVALID_ARGUMENT);
    /* O overlapping P, V, alpha */
    EXPECT(simdattn_pv(isa, 2, 3, 4, out + 7, 3, v, 4, NULL, out, 4), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_pv(isa, 2, 3, 4, p, 3, out + 4, 4, NULL, out, 4), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_pv(isa, 2, 3, 4, p, 3, v, 4, out + 17, out + 16, 4), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_pv(isa, 2, 3, 4, p, big, v, 4, NULL, out, 4), SIMDATTN_ERR_SIZE_OVERFLOW);
    EXPECT(simdattn_pv(isa, 2, 3, 4, p, 3, v, big, NULL, out, 4), SIMDATTN_ERR_SIZE_OVERFLOW);
    EXPECT(simdattn_pv(isa, 2, 3, 4, p, 3, v, 4, NULL, out, wrap - 4), SIMDATTN_ERR_SIZE_OVERFLOW);
    EXPECT(simdattn_pv(isa, 2, 3, 4, p, 3, v, 4, (float *)(uintptr_t)-4, out, 4),
           SIMDATTN_ERR_SIZE_OVERFLOW);
    EXPECT(simdattn_pv((simdattn_isa)99, 2, 3, 4, p, 3, v, 4, al, out, 4),
           SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_pv(OTHER_ISA, 2, 3, 4, p, 3, v, 4, al, out, 4), SIMDATTN_ERR_UNSUPPORTED_ISA);
}
END_TEST

/* simdattn_widen: a valid call, then each invalid argument. */
START_TEST(widen_arguments) {
    static uint16_t h[16];
    for (int i = 0; i < 16; i++)
        h[i] = (uint16_t)(0x3c00 + i); /* fp16 1 + i·2^-10 */
    poison();
    ck_assert_int_eq(simdattn_widen(ISA, SIMDATTN_F16, 16, h, out), SIMDATTN_OK);
    ck_assert(out[0] == 1.0f && out[15] == 1.0f + 15 * 0x1p-10f && is_canary(out[16]));
    EXPECT(simdattn_widen(ISA, SIMDATTN_F16, 16, NULL, out), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_widen(ISA, SIMDATTN_F16, 16, h, NULL), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_widen(ISA, SIMDATTN_BF16, 0, h, out), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_widen(ISA, SIMDATTN_F32, 16, h, out), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_widen(ISA, SIMDATTN_DTYPE_COUNT, 16, h, out), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_widen(ISA, (simdattn_dtype)-1, 16, h, out), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_widen((simdattn_isa)9, SIMDATTN_F16, 16, h, out), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_widen(OTHER_ISA, SIMDATTN_F16, 16, h, out), SIMDATTN_ERR_UNSUPPORTED_ISA);
    /* src and dst overlapping: in place, src's last element on dst's
     * first, dst's last float on src's first element */
    const uint16_t *in_out = (const uint16_t *)(const void *)(out + 16);
    EXPECT(simdattn_widen(ISA, SIMDATTN_F16, 16, in_out, out + 16), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_widen(ISA, SIMDATTN_F16, 16, in_out - 15, out + 16),
           SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_widen(ISA, SIMDATTN_BF16, 16, in_out, out + 1), SIMDATTN_ERR_INVALID_ARGUMENT);
    /* just apart: accepted */
    poison();
    ck_assert_int_eq(simdattn_widen(ISA, SIMDATTN_F16, 16, in_out - 16, out + 16), SIMDATTN_OK);
    ck_assert_int_eq(simdattn_widen(ISA, SIMDATTN_BF16, 16, in_out, out), SIMDATTN_OK);
    /* dst's bytes overflowing size_t, or running past the address space */
    EXPECT(simdattn_widen(ISA, SIMDATTN_F16, big, h, out), SIMDATTN_ERR_SIZE_OVERFLOW);
    EXPECT(simdattn_widen(ISA, SIMDATTN_F16, wrap, h, out), SIMDATTN_ERR_SIZE_OVERFLOW);
}
END_TEST

START_TEST(pack_arguments) {
    static float k[64];
    const simdattn_kernels *t = simdattn_kernels_get(ISA);
    simdattn_kernels zero_nr = *t;
    zero_nr.qk_nr = 0;
    ck_assert_int_eq(simdattn_packed_k_size(t, big, big), 0);
    ck_assert_int_eq(simdattn_packed_k_size(t, 0, 4), 0);
    ck_assert_int_eq(simdattn_packed_k_size(NULL, 3, 4), 0);
    ck_assert_int_eq(simdattn_packed_k_size(t, 3, 4), ((3 + t->qk_nr - 1) / t->qk_nr) * t->qk_nr * 4);
    EXPECT(simdattn_pack_k(t, 3, 4, k, 2, out), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_pack_k(NULL, 3, 4, k, 4, out), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_pack_k(&zero_nr, 3, 4, k, 4, out), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_pack_k(t, 3, 4, NULL, 4, out), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_pack_k(t, 3, 4, k, 4, NULL), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_pack_k(t, 0, 4, k, 4, out), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_pack_k(t, 3, 0, k, 4, out), SIMDATTN_ERR_INVALID_ARGUMENT);
    /* Kp overlapping K: in place, and K starting inside Kp's range */
    EXPECT(simdattn_pack_k(t, 3, 4, out, 4, out), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_pack_k(t, 3, 4, out + 11, 4, out), SIMDATTN_ERR_INVALID_ARGUMENT);
    EXPECT(simdattn_pack_k(t, big, big, k, big, out), SIMDATTN_ERR_SIZE_OVERFLOW);
    EXPECT(simdattn_pack_k(t, 3, 4, k, wrap - 4, out), SIMDATTN_ERR_SIZE_OVERFLOW);
    EXPECT(simdattn_pack_k(t, 3, 4, k, 4, (float *)(uintptr_t)-64), SIMDATTN_ERR_SIZE_OVERFLOW);
}
END_TEST

/* OUT_OF_MEMORY: sizes whose byte counts fit in size_t and in the address
 * space, but whose workspace (packed K: 2^44 keys × 4 floats = 256 TiB)
 * exceeds any x86-64 or AArch64 user address space, so malloc fails even
 * with overcommit.  Validation only does arithmetic on the claimed
 * extents; no kernel runs, so nothing is read.  S claims 2^46 bytes and
 * K, V 2^48: every argument sits (far) apart, so no range covers another
 * whatever the linker's placement of static buffers. */
START_TEST(out_of_memory) {
    const size_t keys = (size_t)1 << 44;
    const float *q = far(out, 47), *k = far(out, 50), *v = far(out, 52);
    EXPECT(simdattn_qk(ISA, 1, keys, 4, q, 4, k, 4, out, keys), SIMDATTN_ERR_OUT_OF_MEMORY);
    simdattn_forward_desc d = {0};
    d.batch = d.q_heads = d.kv_heads = d.q_len = 1;
    d.kv_len = keys;
    d.head_dim = 4;
    d.q = (simdattn_tensor){q, 0, 0, 4};
    d.k = (simdattn_tensor){k, 0, 0, 4};
    d.v = (simdattn_tensor){v, 0, 0, 4};
    d.o = out;
    d.isa = ISA;
    EXPECT(simdattn_forward(&d), SIMDATTN_ERR_OUT_OF_MEMORY);
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
    const size_t quarter = SIZE_MAX / 4;
    EXPECT(simdattn_forward(NULL), SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.q.data = NULL, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.k.data = NULL, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.v.data = NULL, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.o = NULL, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.batch = 0, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.q_heads = 0, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.q_len = 0, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.kv_len = 0, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.head_dim = 0, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.kv_heads = 0, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD((b.q_heads = 3, b.kv_heads = 2), SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.kv_heads = 4, SIMDATTN_ERR_INVALID_ARGUMENT); /* more KV than Q heads */
    for (unsigned bit = 1; bit; bit <<= 1)
        if (bit != SIMDATTN_CAUSAL && bit != SIMDATTN_DETERMINISTIC && bit != SIMDATTN_FAST_EXP)
            BAD(b.flags = bit | SIMDATTN_CAUSAL, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.flags = SIMDATTN_FAST_EXP | SIMDATTN_DETERMINISTIC, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.flags = SIMDATTN_CAUSAL | SIMDATTN_FAST_EXP | SIMDATTN_DETERMINISTIC,
        SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.scale = NAN, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.scale = -0.5f, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.scale = -FLT_TRUE_MIN, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.scale = INFINITY, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.isa = (simdattn_isa)-3, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.isa = SIMDATTN_ISA_COUNT, SIMDATTN_ERR_INVALID_ARGUMENT);
    /* input rows stepping into each other */
    BAD(b.q.stride_seq = 3, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.k.stride_seq = 0, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.v.stride_seq = 2, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD((b.mask = (simdattn_tensor){mk, 0, 0, 3}), SIMDATTN_ERR_INVALID_ARGUMENT);
    /* output rows overlapping each other: seq stride below the row, heads
     * or batch entries stepping into each other, a broadcast output axis */
    BAD(b.o_stride_seq = 3, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.o_stride_head = 8, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.o_stride_head = 0, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD((b.q_heads = 1, b.o_stride_seq = 0), SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD((b.batch = 2, b.q.stride_batch = 0, b.k.stride_batch = b.v.stride_batch = 0,
         b.o_stride_batch = 31), SIMDATTN_ERR_INVALID_ARGUMENT);
    /* interleaved: heads 4 apart, rows 8 apart, head_dim 4 — disjoint only
     * if rows of head 1 fall in the gaps of head 0, which they do not */
    BAD((b.o_stride_head = 4, b.o_stride_seq = 6), SIMDATTN_ERR_INVALID_ARGUMENT);
    /* output overlapping an input: in place over Q, one float into K, V,
     * the mask */
    BAD(b.o = q, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.k.data = out + 31, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.v.data = out + 20, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD((b.mask = (simdattn_tensor){out + 20, 0, 0, 4}), SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD((b.mask = (simdattn_tensor){out + 31, 0, 0, 0}), SIMDATTN_ERR_INVALID_ARGUMENT);
    /* extents that overflow size_t */
    BAD(b.q.stride_seq = quarter, SIMDATTN_ERR_SIZE_OVERFLOW);
    BAD((b.batch = 2, b.k.stride_batch = quarter * 2), SIMDATTN_ERR_SIZE_OVERFLOW);
    BAD((b.kv_len = quarter, b.k.stride_seq = 4), SIMDATTN_ERR_SIZE_OVERFLOW);
    BAD((b.mask = (simdattn_tensor){mk, 0, 0, quarter}), SIMDATTN_ERR_SIZE_OVERFLOW);
    BAD(b.o_stride_head = quarter, SIMDATTN_ERR_SIZE_OVERFLOW);
    /* extents that fit in size_t but run past the end of the address
     * space: (3·(2^62 − 6) + 4)·4 bytes = 2^64 − 56 */
    BAD(b.v.stride_seq = wrap / 3 - 5, SIMDATTN_ERR_SIZE_OVERFLOW);
    BAD(b.o_stride_seq = wrap / 3 - 5, SIMDATTN_ERR_SIZE_OVERFLOW);
    /* head_dim 2^58: every tensor extent fits (2^60 bytes).  One query row
     * decodes (kernels/decode.c), whose workspace (a copy of Q's row and
     * one partial row: about 2^61 bytes) fits size_t but not in memory;
     * the tiled path's (packed K plus a tile of Õ rows: at least 16·2^58
     * floats for any tile of 12 rows or more) would not fit size_t. */
    BAD((b.head_dim = (size_t)1 << 58, b.q_heads = b.q_len = b.kv_len = 1,
         b.o_stride_seq = b.o_stride_head = b.o_stride_batch = 0,
         b.q.data = far(out, 60), b.k.data = far(out, 61), b.v.data = far(out, 62)),
        SIMDATTN_ERR_OUT_OF_MEMORY);
    BAD(b.isa = OTHER_ISA, SIMDATTN_ERR_UNSUPPORTED_ISA);
    /* the KV element type */
    BAD(b.kv_dtype = SIMDATTN_DTYPE_COUNT, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD(b.kv_dtype = (simdattn_dtype)-1, SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD((b.kv_dtype = SIMDATTN_F16, b.k.data = NULL), SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD((b.kv_dtype = SIMDATTN_BF16, b.v.data = NULL), SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD((b.kv_dtype = SIMDATTN_F16, b.v.stride_seq = 3), SIMDATTN_ERR_INVALID_ARGUMENT);
    /* K and V extents count 2-byte elements with a 16-bit cache: 16
     * halves (32 bytes) ending where O starts do not overlap it, one half
     * further does, and so do 16 floats at the same place */
    const char *o8 = (const char *)(out + 8);
    {
        simdattn_forward_desc b = valid_desc(q, k, v);
        b.isa = ISA;
        b.o = out + 8;
        b.kv_dtype = SIMDATTN_F16;
        b.k.data = o8 - 32;
        poison();
        ck_assert_int_eq(simdattn_forward(&b), SIMDATTN_OK);
        b.kv_dtype = SIMDATTN_BF16;
        b.k.data = k;
        b.v.data = o8 - 32;
        ck_assert_int_eq(simdattn_forward(&b), SIMDATTN_OK);
    }
    BAD((b.o = out + 8, b.kv_dtype = SIMDATTN_F16, b.k.data = o8 - 30), SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD((b.o = out + 8, b.kv_dtype = SIMDATTN_BF16, b.v.data = o8 - 30),
        SIMDATTN_ERR_INVALID_ARGUMENT);
    BAD((b.o = out + 8, b.k.data = o8 - 32), SIMDATTN_ERR_INVALID_ARGUMENT);
    /* an extent of 2^63 + 10 bytes in halves fits (validation only, no
     * item runs); in floats it overflows size_t */
    {
        simdattn_forward_desc b = valid_desc(q, k, v);
        size_t count, bytes;
        b.isa = ISA;
        b.kv_len = 2;
        b.k.stride_seq = SIZE_MAX / 4 + 1;
        b.k.data = far(out, 62);
        b.kv_dtype = SIMDATTN_F16;
        ck_assert_int_eq(simdattn_forward_tasks(&b, &count, &bytes), SIMDATTN_OK);
        b.kv_dtype = SIMDATTN_F32;
        ck_assert_int_eq(simdattn_forward_tasks(&b, &count, &bytes), SIMDATTN_ERR_SIZE_OVERFLOW);
    }
#undef BAD
}
END_TEST

/* Layouts at the edge of the contract that must be accepted: a single
 * query row with no row strides at all (decode), a single key with K/V
 * strides 0, a mask broadcast over everything, scale −0 (= default). */
START_TEST(forward_edge_layouts) {
    static float q[32], k[16], v[16], mk[16];
    for (int i = 0; i < 16; i++) { k[i] = (float)i; v[i] = 0.5f * i; mk[i] = 0; }
    simdattn_forward_desc d = valid_desc(q, k, v);
    d.isa = ISA;
    d.q_len = 1; d.q.stride_seq = 0; d.o_stride_seq = 0;
    d.kv_len = 1; d.k.stride_seq = d.v.stride_seq = 0;
    d.mask = (simdattn_tensor){mk, 0, 0, 0};
    d.scale = -0.0f;
    poison();
    ck_assert_int_eq(simdattn_forward(&d), SIMDATTN_OK);
    /* one key: each head's output is exactly V's first row */
    for (int h = 0; h < 2; h++)
        for (int c = 0; c < 4; c++)
            ck_assert(out[16 * h + c] == v[c]);
    ck_assert(is_canary(out[4]) && is_canary(out[20]));
}
END_TEST

int main(void) {
    other_isa_init();
    const suite_test tests[] = {
        {isa_queries, LOOP_ONCE, 0},         {qk_arguments, LOOP_ISAS, 0},
        {softmax_arguments, LOOP_ISAS, 0},   {online_arguments, LOOP_ISAS, 0},
        {pv_arguments, LOOP_ISAS, 0},        {pack_arguments, LOOP_ISAS, 0},
        {widen_arguments, LOOP_ISAS, 0},
        {out_of_memory, LOOP_ISAS, 0},       {forward_arguments, LOOP_ISAS, 0},
        {forward_edge_layouts, LOOP_ISAS, 0},
    };
    return run_tests("api", 0, tests, sizeof tests / sizeof tests[0]);
}
