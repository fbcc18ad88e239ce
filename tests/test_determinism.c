/*
 * Deterministic mode across ISAs: every ISA this host runs must return the
 * scalar reference's bits exactly (memcmp) for
 *  - qk and pv, always: both are one sequential FMA chain per element in
 *    every ISA (simdattn.h, "Numerical policy");
 *  - softmax, softmax_online and forward with SIMDATTN_DETERMINISTIC: the
 *    canonical 16-lane row sum (kernels/scalar/softmax.c) and SLEEF's finz
 *    exp, the same bits on every ISA; and with SIMDATTN_FAST_EXP, whose exp
 *    is the same operations on every ISA (kernels/fastexp.h).
 * Shapes are odd on purpose (n, d, dv not multiples of 4, 8 or 16, rows
 * around every register block), with masks, causal and not, and several
 * KV blocks in the forward.  Whole buffers are compared, gaps included,
 * so a difference in what is left untouched is caught too.  The native run
 * covers the x86 sets, the cross run (scripts/test.sh cross) NEON.
 *
 * Thread-count independence (forward_threads_bitwise): the forward run with
 * desc.threads = 1, 2, 3 and through the task interface with worker hints
 * 0, 1, 2, 16 (each hint splits the work into different items: whole heads,
 * or chunks of query tiles) returns, on every ISA, the bits of the scalar
 * forward on one thread; causal, GQA/MQA, sliding windows and per-entry KV
 * lengths.  Under qemu (cross run) OpenMP teams have one thread
 * (OMP_THREAD_LIMIT=1, tests/meson.build), but desc.threads still sizes
 * the items, and the task hints split them as natively, so the splits are
 * compared there too; the native run also runs them on 2 and 3 threads.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* The softmax and forward tests loop over ISA × these two flags. */
#define SAME_BITS_FLAGS (_i / test_isa_count ? SIMDATTN_FAST_EXP : SIMDATTN_DETERMINISTIC)

static float *filled(size_t n) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++)
        p[i] = canary();
    return p;
}

static float *copy(const float *src, size_t n) {
    float *p = filled(n);
    memcpy(p, src, n * sizeof(float));
    return p;
}

/* Asserts got and want hold the same bits; names the first difference. */
static void same_bits(simdattn_isa isa, const float *got, const float *want, size_t n,
                      const char *what) {
    if (memcmp(got, want, n * sizeof(float)) == 0)
        return;
    size_t i = 0;
    while (memcmp(got + i, want + i, sizeof(float)) == 0)
        i++;
    uint32_t g, w;
    memcpy(&g, got + i, 4);
    memcpy(&w, want + i, 4);
    ck_abort_msg("%s: %s differs from scalar at element %zu of %zu: %a (0x%08x) vs %a "
                 "(0x%08x)", simdattn_isa_name(isa), what, i, n, got[i], (unsigned)g,
                 want[i], (unsigned)w);
}

static const size_t QK_M[] = {1, 2, 5, 7, 13, 15, 29};
static const size_t QK_N[] = {1, 3, 17, 33, 100};
static const size_t QK_D[] = {1, 3, 9, 31, 65, 130};

START_TEST(qk_bitwise) {
    rng r = rng_seed(61);
    char what[96];
    for (size_t a = 0; a < N_OF(QK_M); a++)
        for (size_t b = 0; b < N_OF(QK_N); b++)
            for (size_t c = 0; c < N_OF(QK_D); c++) {
                size_t m = QK_M[a], n = QK_N[b], d = QK_D[c], lds = n + 3;
                float *q = filled(m * d), *k = filled(n * d);
                fill_uniform(&r, q, m * d, -2, 2);
                fill_uniform(&r, k, n * d, -2, 2);
                float *s = filled(m * lds), *ref = filled(m * lds);
                ck_assert_int_eq(simdattn_qk(ISA, m, n, d, q, d, k, d, s, lds), SIMDATTN_OK);
                ck_assert_int_eq(simdattn_qk(SIMDATTN_ISA_SCALAR, m, n, d, q, d, k, d, ref, lds),
                                 SIMDATTN_OK);
                snprintf(what, sizeof what, "qk %zux%zux%zu", m, n, d);
                same_bits(ISA, s, ref, m * lds, what);
                free(q); free(k); free(s); free(ref);
            }
}
END_TEST

static const size_t PV_M[] = {1, 2, 3, 5, 7, 13};
static const size_t PV_N[] = {1, 2, 7, 17, 33, 129};
static const size_t PV_D[] = {1, 7, 9, 15, 17, 31, 33, 65, 100};

START_TEST(pv_bitwise) {
    rng r = rng_seed(62);
    char what[96];
    for (size_t a = 0; a < N_OF(PV_M); a++)
        for (size_t b = 0; b < N_OF(PV_N); b++)
            for (size_t c = 0; c < N_OF(PV_D); c++) {
                size_t m = PV_M[a], n = PV_N[b], dv = PV_D[c], ldo = dv + 2;
                float *p = filled(m * n), *v = filled(n * dv), alpha[13];
                float *o = filled(m * ldo);
                fill_uniform(&r, p, m * n, 0, 1);
                fill_uniform(&r, v, n * dv, -2, 2);
                fill_uniform(&r, alpha, m, 0, 1);
                for (size_t i = 0; i < m; i++)
                    fill_uniform(&r, o + i * ldo, dv, -3, 3);
                float *ref = copy(o, m * ldo);
                const float *al = (a + b + c) % 2 ? alpha : NULL;
                ck_assert_int_eq(simdattn_pv(ISA, m, n, dv, p, n, v, dv, al, o, ldo),
                                 SIMDATTN_OK);
                ck_assert_int_eq(simdattn_pv(SIMDATTN_ISA_SCALAR, m, n, dv, p, n, v, dv, al,
                                             ref, ldo), SIMDATTN_OK);
                snprintf(what, sizeof what, "pv %zux%zux%zu%s", m, n, dv, al ? " alpha" : "");
                same_bits(ISA, o, ref, m * ldo, what);
                free(p); free(v); free(o); free(ref);
            }
}
END_TEST

/* Logits over ±60: differences up to 120 give subnormal and zero exps,
 * the finz paths a fast exp might take shortcuts on. */
static void logits(rng *r, float *s, size_t rows, size_t n, size_t lds, float scale) {
    for (size_t i = 0; i < rows; i++)
        fill_uniform(r, s + i * lds, n, -60 / scale, 60 / scale);
}

/* Mask per row (mode 1: 20% -inf, row 2 fully masked) or one broadcast
 * row (mode 2). */
static float *make_mask(rng *r, int mode, size_t m, size_t n, size_t *ldm) {
    if (!mode) {
        *ldm = 0;
        return NULL;
    }
    size_t rows = mode == 1 ? m : 1;
    float *mask = filled(rows * n);
    for (size_t i = 0; i < rows * n; i++)
        mask[i] = (mode == 1 && i / n == 2) || rng_uniform(r) < 0.2 ? -INFINITY
                                                                    : rng_range(r, -1, 1);
    *ldm = mode == 1 ? n : 0;
    return mask;
}

static const size_t SM_N[] = {1, 2, 3, 7, 9, 15, 17, 31, 33, 47, 100, 257, 1000};

START_TEST(softmax_det_bitwise) {
    rng r = rng_seed(63);
    const size_t m = 5;
    const float scale = 0.3f;
    char what[96];
    for (size_t a = 0; a < N_OF(SM_N); a++)
        for (int mode = 0; mode < 3; mode++) {
            size_t n = SM_N[a], lds = n + 1, ldm;
            float *s = filled(m * lds);
            logits(&r, s, m, n, lds, scale);
            float *mask = make_mask(&r, mode, m, n, &ldm);
            float *ref = copy(s, m * lds);
            ck_assert_int_eq(simdattn_softmax(ISA, m, n, scale, mask, ldm, s, lds,
                                              SAME_BITS_FLAGS), SIMDATTN_OK);
            ck_assert_int_eq(simdattn_softmax(SIMDATTN_ISA_SCALAR, m, n, scale, mask, ldm, ref,
                                              lds, SAME_BITS_FLAGS), SIMDATTN_OK);
            snprintf(what, sizeof what, "softmax flags %u n=%zu mask mode %d", SAME_BITS_FLAGS,
                     n, mode);
            same_bits(ISA, s, ref, m * lds, what);
            free(s); free(mask); free(ref);
        }
}
END_TEST

/* Blocks of odd sizes over one row set; row 1 rises so that the running
 * max moves (α ≠ 1), rows 0 and 3 are negative but for a pair of zeros of
 * opposite signs, their maximum (row_max must keep the scalar's first
 * zero, in the first row of a call and in a later one); row 2 is fully
 * masked.  S, row_max, row_sum and alpha compared after every block. */
START_TEST(softmax_online_det_bitwise) {
    static const size_t BLK[] = {1, 7, 16, 33, 128};
    rng r = rng_seed(64);
    const size_t m = 4, n = 300;
    const float scale = 0.7f;
    char what[96];
    for (size_t a = 0; a < N_OF(BLK); a++) {
        size_t ldm;
        float *s = filled(m * n);
        logits(&r, s, m, n, n, scale);
        for (size_t j = 0; j < n; j++)
            s[n + j] += 0.3f * (float)j / scale;
        float *mask = make_mask(&r, 1, m, n, &ldm);
        for (size_t i = 0; i < m; i += 3) {
            float *row = s + i * n, *mrow = mask + i * n;
            for (size_t j = 0; j < n; j++) /* x ≤ −2 + mask < 0 */
                row[j] = -fabsf(row[j]) - 2.0f / scale;
            /* keys 18, 19 in row 0 and 20, 21 in row 3: lanes 2k, 2k+1
             * of a vector, where a lane-order maximum would end on the
             * second zero */
            size_t z = 18 + 2 * (i / 3);
            for (size_t j = z; j < z + 2; j++) {
                row[j] = (j == z) == ((a + i) % 2) ? -0.0f : 0.0f;
                mrow[j] = -0.0f; /* −0 mask keeps each zero's sign */
            }
        }
        float *ref = copy(s, m * n);
        float st[3][4], rt[3][4]; /* row_max, row_sum, alpha: got, scalar */
        for (size_t i = 0; i < m; i++) {
            st[0][i] = rt[0][i] = -INFINITY;
            st[1][i] = rt[1][i] = 0;
        }
        for (size_t j0 = 0; j0 < n; j0 += BLK[a]) {
            size_t nb = n - j0 < BLK[a] ? n - j0 : BLK[a];
            ck_assert_int_eq(simdattn_softmax_online(ISA, m, nb, scale, mask + j0, ldm,
                                                     s + j0, n, st[0], st[1], st[2],
                                                     SAME_BITS_FLAGS), SIMDATTN_OK);
            ck_assert_int_eq(simdattn_softmax_online(SIMDATTN_ISA_SCALAR, m, nb, scale,
                                                     mask + j0, ldm, ref + j0, n, rt[0],
                                                     rt[1], rt[2], SAME_BITS_FLAGS),
                             SIMDATTN_OK);
            snprintf(what, sizeof what, "softmax_online flags %u block %zu at %zu: S",
                     SAME_BITS_FLAGS, BLK[a], j0);
            same_bits(ISA, s, ref, m * n, what);
            snprintf(what, sizeof what,
                     "softmax_online flags %u block %zu at %zu: max, sum, alpha",
                     SAME_BITS_FLAGS, BLK[a], j0);
            same_bits(ISA, st[0], rt[0], 3 * m, what);
        }
        free(s); free(mask); free(ref);
    }
}
END_TEST

typedef struct fw_cfg {
    size_t batch, hq, hk, nq, nk, d;
} fw_cfg;

/* Several KV blocks (the driver's is SA_FORWARD_NB = 256 keys: nk 257,
 * 300, 385), several query tiles of SA_FORWARD_MB = 42 rows and a partial
 * one (nq 85, 100), GQA, head dims off every vector width. */
static const fw_cfg FW[] = {
    {1, 1, 1, 1, 1, 1},    {1, 1, 1, 7, 17, 13},   {1, 2, 1, 85, 129, 31},
    {1, 1, 1, 100, 300, 65}, {2, 4, 2, 19, 257, 9}, {1, 1, 1, 3, 385, 130},
    /* the decode path with 3 KV splits (SIMDATTN_DECODE_SPLIT_KEYS 2048) */
    {1, 8, 2, 2, 4100, 21},
};

START_TEST(forward_det_bitwise) {
    rng r = rng_seed(65);
    char what[128];
    for (size_t a = 0; a < N_OF(FW); a++)
        for (int mode = 0; mode < 6; mode++) { /* causal × {no mask, rows, key padding} */
            fw_cfg c = FW[a];
            int causal = mode & 1, mk = mode >> 1;
            size_t nq_el = c.batch * c.hq * c.nq * c.d, nk_el = c.batch * c.hk * c.nk * c.d;
            float *q = filled(nq_el), *k = filled(nk_el), *v = filled(nk_el);
            fill_uniform(&r, q, nq_el, -2, 2);
            fill_uniform(&r, k, nk_el, -2, 2);
            fill_uniform(&r, v, nk_el, -1, 1);
            size_t ldo = c.d + 3, o_el = c.batch * c.hq * c.nq * ldo;
            float *o = filled(o_el), *ref = filled(o_el), *mask = NULL;
            simdattn_forward_desc d = {0};
            d.batch = c.batch; d.q_heads = c.hq; d.kv_heads = c.hk;
            d.q_len = c.nq; d.kv_len = c.nk; d.head_dim = c.d;
            d.flags = SAME_BITS_FLAGS | (causal ? SIMDATTN_CAUSAL : 0);
            d.q = (simdattn_tensor){q, c.hq * c.nq * c.d, c.nq * c.d, c.d};
            d.k = (simdattn_tensor){k, c.hk * c.nk * c.d, c.nk * c.d, c.d};
            d.v = (simdattn_tensor){v, c.hk * c.nk * c.d, c.nk * c.d, c.d};
            d.o = o;
            d.o_stride_batch = c.hq * c.nq * ldo; d.o_stride_head = c.nq * ldo;
            d.o_stride_seq = ldo;
            if (mk) {
                size_t rows = mk == 1 ? c.batch * c.hq * c.nq : c.batch;
                mask = filled(rows * c.nk);
                for (size_t i = 0; i < rows * c.nk; i++)
                    mask[i] = rng_uniform(&r) < 0.15 ? -INFINITY : rng_range(&r, -2, 2);
                d.mask = mk == 1 ? (simdattn_tensor){mask, c.hq * c.nq * c.nk, c.nq * c.nk, c.nk}
                                 : (simdattn_tensor){mask, c.nk, 0, 0};
            }
            d.isa = ISA;
            ck_assert_int_eq(simdattn_forward(&d), SIMDATTN_OK);
            d.o = ref;
            d.isa = SIMDATTN_ISA_SCALAR;
            ck_assert_int_eq(simdattn_forward(&d), SIMDATTN_OK);
            snprintf(what, sizeof what, "forward flags %u b=%zu hq=%zu hk=%zu nq=%zu nk=%zu d=%zu "
                     "mask=%d", d.flags, c.batch, c.hq, c.hk, c.nq, c.nk, c.d, mk);
            same_bits(ISA, o, ref, o_el, what);
            free(q); free(k); free(v); free(o); free(ref); free(mask);
        }
}
END_TEST

/* The shapes of the former tests/test_kernels.c stages_bit_identical_to_scalar:
 * rows one short, exact and one past each register block (6, 14, 28),
 * keys around every panel (8, 16, 24, 32), head dims up to 256, P·V column
 * counts around every block (8 … 256), in gmat buffers (misaligned, leading
 * dimensions past the row, canaries in the gaps), whole buffers compared. */
static const size_t BQK_M[] = {1, 2, 5, 6, 7, 13, 14, 15, 28, 29};
static const size_t BQK_N[] = {1, 3, 8, 9, 15, 16, 17, 24, 25, 31, 32, 33, 100};
static const size_t BQK_D[] = {1, 7, 8, 9, 31, 64, 80, 128, 256};
static const size_t BPV_M[] = {1, 2, 3, 4, 5, 6, 7, 12, 13, 15};
static const size_t BPV_N[] = {1, 2, 7, 16, 17, 33, 129};
static const size_t BPV_D[] = {1, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 48, 64, 65, 80, 128, 256};

START_TEST(qk_pv_bitwise_blocks) {
    rng r = rng_seed(55);
    char what[96];
    for (size_t a = 0; a < N_OF(BQK_M); a++)
        for (size_t b = 0; b < N_OF(BQK_N); b++) {
            size_t m = BQK_M[a], n = BQK_N[b], d = BQK_D[(a + b) % N_OF(BQK_D)];
            gmat q = gmat_new(m, d, d + 1), k = gmat_new(n, d, d);
            gmat s = gmat_new(m, n, n + 3), ref = gmat_new(m, n, n + 3);
            for (size_t i = 0; i < m; i++) fill_uniform(&r, q.p + i * q.ld, d, -2, 2);
            for (size_t j = 0; j < n; j++) fill_uniform(&r, k.p + j * k.ld, d, -2, 2);
            ck_assert_int_eq(simdattn_qk(ISA, m, n, d, q.p, q.ld, k.p, k.ld, s.p, s.ld), SIMDATTN_OK);
            ck_assert_int_eq(simdattn_qk(SIMDATTN_ISA_SCALAR, m, n, d, q.p, q.ld, k.p, k.ld,
                                         ref.p, ref.ld), SIMDATTN_OK);
            snprintf(what, sizeof what, "qk %zux%zux%zu (blocks)", m, n, d);
            same_bits(ISA, s.p, ref.p, s.total, what);
            gmat_free(&q); gmat_free(&k); gmat_free(&s); gmat_free(&ref);
        }
    for (size_t a = 0; a < N_OF(BPV_M); a++)
        for (size_t c = 0; c < N_OF(BPV_D); c++) {
            size_t m = BPV_M[a], dv = BPV_D[c], n = BPV_N[(a + c) % N_OF(BPV_N)];
            gmat p = gmat_new(m, n, n), v = gmat_new(n, dv, dv + 1);
            gmat o = gmat_new(m, dv, dv + 2), ref = gmat_new(m, dv, dv + 2);
            float alpha[15];
            for (size_t i = 0; i < m; i++) {
                fill_uniform(&r, p.p + i * p.ld, n, 0, 1);
                fill_uniform(&r, o.p + i * o.ld, dv, -3, 3);
                memcpy(ref.p + i * ref.ld, o.p + i * o.ld, dv * sizeof(float));
                alpha[i] = rng_range(&r, 0, 1);
            }
            for (size_t j = 0; j < n; j++) fill_uniform(&r, v.p + j * v.ld, dv, -2, 2);
            const float *al = c % 2 ? alpha : NULL;
            ck_assert_int_eq(simdattn_pv(ISA, m, n, dv, p.p, p.ld, v.p, v.ld, al, o.p, o.ld),
                             SIMDATTN_OK);
            ck_assert_int_eq(simdattn_pv(SIMDATTN_ISA_SCALAR, m, n, dv, p.p, p.ld, v.p, v.ld, al,
                                         ref.p, ref.ld), SIMDATTN_OK);
            snprintf(what, sizeof what, "pv %zux%zux%zu%s (blocks)", m, n, dv, al ? " alpha" : "");
            same_bits(ISA, o.p, ref.p, o.total, what);
            gmat_free(&p); gmat_free(&v); gmat_free(&o); gmat_free(&ref);
        }
}
END_TEST

/* Also from stages_bit_identical_to_scalar: 17 rows, one past the online
 * kernels' row groups of 8 (AVX2) and 16 (AVX-512), with row 1 fully
 * masked, a NaN logit in row 2, logits rising by row; then online over
 * blocks of 5, 11, 23, … keys of rising logits (the max moves every
 * block).  S (whole gmat buffers), row_max, row_sum and alpha compared. */
static const size_t BSM_N[] = {1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 257, 1000};

START_TEST(softmax_bitwise_row_groups) {
    enum { m = 17 };
    rng r = rng_seed(56);
    const unsigned fl = SAME_BITS_FLAGS;
    char what[128];
    for (size_t a = 0; a < N_OF(BSM_N); a++) {
        size_t n = BSM_N[a];
        gmat s = gmat_new(m, n, n + 2), ref = gmat_new(m, n, n + 2), mk = gmat_new(m, n, n);
        for (size_t i = 0; i < m; i++) {
            fill_uniform(&r, s.p + i * s.ld, n, -30, 30 + (float)i);
            for (size_t j = 0; j < n; j++)
                mk.p[i * mk.ld + j] = i == 1 || rng_uniform(&r) < 0.2 ? -INFINITY
                                                                     : rng_range(&r, -1, 1);
            memcpy(ref.p + i * ref.ld, s.p + i * s.ld, n * sizeof(float));
        }
        s.p[2 * s.ld + n / 2] = ref.p[2 * ref.ld + n / 2] = NAN;
        ck_assert_int_eq(simdattn_softmax(ISA, m, n, 0.3f, mk.p, mk.ld, s.p, s.ld, fl),
                         SIMDATTN_OK);
        ck_assert_int_eq(simdattn_softmax(SIMDATTN_ISA_SCALAR, m, n, 0.3f, mk.p, mk.ld, ref.p,
                                          ref.ld, fl), SIMDATTN_OK);
        snprintf(what, sizeof what, "softmax flags %u n=%zu m=17", fl, n);
        same_bits(ISA, s.p, ref.p, s.total, what);

        float st[3][m], rt[3][m]; /* row_max, row_sum, alpha: got, scalar */
        for (size_t i = 0; i < m; i++) {
            st[0][i] = rt[0][i] = -INFINITY;
            st[1][i] = rt[1][i] = 0;
        }
        for (size_t i = 0; i < m; i++) {
            for (size_t j = 0; j < n; j++)
                s.p[i * s.ld + j] = rng_range(&r, -20, 20) + 0.1f * (float)j;
            memcpy(ref.p + i * ref.ld, s.p + i * s.ld, n * sizeof(float));
        }
        for (size_t j0 = 0, blk = 5; j0 < n; j0 += blk, blk = blk * 2 + 1) {
            size_t nb = n - j0 < blk ? n - j0 : blk;
            ck_assert_int_eq(simdattn_softmax_online(ISA, m, nb, 0.5f, mk.p + j0, mk.ld, s.p + j0,
                                                     s.ld, st[0], st[1], st[2], fl),
                             SIMDATTN_OK);
            ck_assert_int_eq(simdattn_softmax_online(SIMDATTN_ISA_SCALAR, m, nb, 0.5f, mk.p + j0,
                                                     mk.ld, ref.p + j0, ref.ld, rt[0], rt[1],
                                                     rt[2], fl), SIMDATTN_OK);
            snprintf(what, sizeof what, "softmax_online flags %u n=%zu m=17 block at %zu: S",
                     fl, n, j0);
            same_bits(ISA, s.p, ref.p, s.total, what);
            snprintf(what, sizeof what,
                     "softmax_online flags %u n=%zu m=17 block at %zu: max, sum, alpha", fl, n, j0);
            same_bits(ISA, st[0], rt[0], 3 * m, what);
        }
        gmat_free(&s); gmat_free(&ref); gmat_free(&mk);
    }
}
END_TEST

/* The configurations of the former tests/test_forward.c
 * forward_bits_match_scalar: BSHD layouts, a mask shared by batch and heads
 * (one nq×nk matrix), an explicit scale, head dims 80, 33 and 64, and O
 * misaligned with canaries in its row gaps, besides the query tile (42)
 * and KV block (256) edges. */
typedef struct fw_layout {
    size_t batch, hq, hk, nq, nk, d;
    int causal, bshd;
    int mask; /* 1 full, 2 shared by batch and heads, 3 key padding */
    float scale;
} fw_layout;

static const fw_layout FWL[] = {
    {1, 1, 1, 100, 257, 80, 0, 0, 1, 0},
    {1, 2, 1, 85, 130, 33, 1, 1, 2, 0.2f},
    {2, 2, 2, 7, 300, 64, 1, 0, 3, 0},
};

/* Strides {batch, head, seq} of a [batch][heads][seq][d] (BHSD) or
 * [batch][seq][heads][d] (BSHD) tensor. */
static simdattn_tensor layout(const float *p, const fw_layout *c, size_t heads, size_t seq) {
    return c->bshd ? (simdattn_tensor){p, seq * heads * c->d, c->d, heads * c->d}
                   : (simdattn_tensor){p, heads * seq * c->d, seq * c->d, c->d};
}

START_TEST(forward_bitwise_layouts) {
    char what[128];
    for (size_t a = 0; a < N_OF(FWL); a++) {
        const fw_layout *c = &FWL[a];
        rng r = rng_seed(600 + a);
        size_t nq_el = c->batch * c->hq * c->nq * c->d, nk_el = c->batch * c->hk * c->nk * c->d;
        float *q = filled(nq_el), *k = filled(nk_el), *v = filled(nk_el);
        fill_uniform(&r, q, nq_el, -1, 1);
        fill_uniform(&r, k, nk_el, -1, 1);
        fill_uniform(&r, v, nk_el, -1, 1);
        size_t mrows = c->mask == 1 ? c->batch * c->hq * c->nq : c->mask == 2 ? c->nq : c->batch;
        float *mask = filled(mrows * c->nk);
        for (size_t i = 0; i < mrows * c->nk; i++)
            mask[i] = rng_uniform(&r) < 0.15 ? -INFINITY : rng_range(&r, -2, 2);
        size_t ldo = c->d + 2, o_el = c->batch * c->hq * c->nq * ldo + 8;
        float *obuf = filled(o_el + 1), *ref = filled(o_el);
        float *o = obuf + 1; /* misaligned on purpose */
        simdattn_forward_desc d = {0};
        d.batch = c->batch; d.q_heads = c->hq; d.kv_heads = c->hk;
        d.q_len = c->nq; d.kv_len = c->nk; d.head_dim = c->d;
        d.scale = c->scale;
        d.flags = SAME_BITS_FLAGS | (c->causal ? SIMDATTN_CAUSAL : 0);
        d.q = layout(q, c, c->hq, c->nq);
        d.k = layout(k, c, c->hk, c->nk);
        d.v = layout(v, c, c->hk, c->nk);
        d.mask = c->mask == 1   ? (simdattn_tensor){mask, c->hq * c->nq * c->nk, c->nq * c->nk,
                                                    c->nk}
                 : c->mask == 2 ? (simdattn_tensor){mask, 0, 0, c->nk}
                                : (simdattn_tensor){mask, c->nk, 0, 0};
        d.o_stride_batch = c->hq * c->nq * ldo; d.o_stride_head = c->nq * ldo;
        d.o_stride_seq = ldo;
        d.o = o;
        d.isa = ISA;
        ck_assert_int_eq(simdattn_forward(&d), SIMDATTN_OK);
        d.o = ref;
        d.isa = SIMDATTN_ISA_SCALAR;
        ck_assert_int_eq(simdattn_forward(&d), SIMDATTN_OK);
        snprintf(what, sizeof what, "forward flags %u layout %zu (bshd=%d mask=%d d=%zu)",
                 d.flags, a, c->bshd, c->mask, c->d);
        same_bits(ISA, o, ref, o_el, what);
        free(q); free(k); free(v); free(mask); free(obuf); free(ref);
    }
}
END_TEST

/* Shapes whose items split differently for each worker hint: several
 * tiles of 42 rows per head (over the 336 query-head rows an item keeps at
 * least), KV groups of 1–4, windows whose rows start seeing keys at
 * different points (so an item's first key and a tile's differ), ragged
 * and empty KV lengths. */
typedef struct th_cfg {
    size_t batch, hq, hk, nq, nk, d;
    unsigned flags;
    size_t window;
    size_t lens[3]; /* kv_lens when lens[0] != 0 */
} th_cfg;

static const th_cfg TH[] = {
    {1, 2, 2, 500, 500, 12, SIMDATTN_CAUSAL, 0, {0}},
    {2, 8, 2, 260, 260, 9, SIMDATTN_CAUSAL, 0, {0}},
    {2, 3, 1, 600, 700, 8, SIMDATTN_CAUSAL, 130, {0}},
    {3, 2, 2, 400, 450, 7, 0, 100, {450, 313, 0}},
    {2, 4, 2, 350, 400, 17, SIMDATTN_CAUSAL, 150, {400, 257}},
};

START_TEST(forward_threads_bitwise) {
    rng r = rng_seed(66);
    char what[160];
    for (size_t a = 0; a < N_OF(TH); a++) {
        th_cfg c = TH[a];
        size_t nq_el = c.batch * c.hq * c.nq * c.d, nk_el = c.batch * c.hk * c.nk * c.d;
        float *q = filled(nq_el), *k = filled(nk_el), *v = filled(nk_el);
        fill_uniform(&r, q, nq_el, -2, 2);
        fill_uniform(&r, k, nk_el, -2, 2);
        fill_uniform(&r, v, nk_el, -1, 1);
        size_t ldo = c.d + 3, o_el = c.batch * c.hq * c.nq * ldo;
        float *o = filled(o_el), *ref = filled(o_el);
        simdattn_forward_desc d = {0};
        d.batch = c.batch; d.q_heads = c.hq; d.kv_heads = c.hk;
        d.q_len = c.nq; d.kv_len = c.nk; d.head_dim = c.d;
        d.flags = SAME_BITS_FLAGS | c.flags;
        d.window = c.window;
        d.kv_lens = c.lens[0] ? c.lens : NULL;
        d.q = (simdattn_tensor){q, c.hq * c.nq * c.d, c.nq * c.d, c.d};
        d.k = (simdattn_tensor){k, c.hk * c.nk * c.d, c.nk * c.d, c.d};
        d.v = (simdattn_tensor){v, c.hk * c.nk * c.d, c.nk * c.d, c.d};
        d.o_stride_batch = c.hq * c.nq * ldo; d.o_stride_head = c.nq * ldo;
        d.o_stride_seq = ldo;
        d.o = ref;
        d.isa = SIMDATTN_ISA_SCALAR;
        d.threads = 1;
        ck_assert_int_eq(simdattn_forward(&d), SIMDATTN_OK);
        d.o = o;
        d.isa = ISA;
        /* runs 0-2: simdattn_forward on 1, 2, 3 threads; 3-6: the task
         * interface with worker hints 0, 1, 2, 16 */
        static const unsigned RUN_THREADS[] = {1, 2, 3, 0, 1, 2, 16};
        size_t counts[4];
        for (size_t run = 0; run < N_OF(RUN_THREADS); run++) {
            for (size_t i = 0; i < o_el; i++)
                o[i] = canary();
            d.threads = RUN_THREADS[run];
            if (run < 3)
                ck_assert_int_eq(simdattn_forward(&d), SIMDATTN_OK);
            else
                counts[run - 3] = run_tasks_reversed(&d);
            snprintf(what, sizeof what, "forward flags %u b=%zu hq=%zu hk=%zu nq=%zu nk=%zu "
                     "d=%zu window=%zu lens=%d, %s %u", d.flags, c.batch, c.hq, c.hk, c.nq,
                     c.nk, c.d, c.window, d.kv_lens != NULL,
                     run < 3 ? "threads" : "tasks with hint", d.threads);
            same_bits(ISA, o, ref, o_el, what);
        }
        /* the hints must have split the work differently, or the test
         * compares one schedule with itself */
        ck_assert_msg(counts[1] < counts[0], "shape %zu: %zu items for hint 1, %zu for hint 0",
                      a, counts[1], counts[0]);
        free(q); free(k); free(v); free(o); free(ref);
    }
}
END_TEST

int main(void) {
    isa_list_init();
    Suite *s = suite_create("determinism");
    TCase *tc = tcase_create("bitwise");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, qk_bitwise, 0, test_isa_count);
    tcase_add_loop_test(tc, pv_bitwise, 0, test_isa_count);
    tcase_add_loop_test(tc, softmax_det_bitwise, 0, 2 * test_isa_count);
    tcase_add_loop_test(tc, softmax_online_det_bitwise, 0, 2 * test_isa_count);
    tcase_add_loop_test(tc, forward_det_bitwise, 0, 2 * test_isa_count);
    tcase_add_loop_test(tc, qk_pv_bitwise_blocks, 0, test_isa_count);
    tcase_add_loop_test(tc, softmax_bitwise_row_groups, 0, 2 * test_isa_count);
    tcase_add_loop_test(tc, forward_bitwise_layouts, 0, 2 * test_isa_count);
    tcase_add_loop_test(tc, forward_threads_bitwise, 0, 2 * test_isa_count);
    suite_add_tcase(s, tc);
    return run_suite(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
