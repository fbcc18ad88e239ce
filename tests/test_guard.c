/*
 * Guard-page harness: every stage kernel (raw, through the kernel table, as
 * engines call it), K packing and the fused forward, on every ISA this host
 * runs, with each input and output in its own mapping placed so that
 *   - its last element ends exactly at a PROT_NONE page (variant "end"), or
 *   - its first element starts right after a PROT_NONE page ("start").
 * A SIMD tail that loads or stores one float too many (or a peeled head
 * that steps below the first element) faults.  Check's fork mode reports
 * the signal as an error of that test; without fork (CK_FORK=no under
 * qemu) the suite process dies and meson counts the crash as a failure.
 * Shapes: sizes that are not multiples of 4, 8 or 16 (and a few that are),
 * leading dimensions larger than the row, so every tail path runs.
 * Besides not faulting, each kernel must write every element of its output
 * window (canaries replaced by finite values) and none of the gaps.
 * guard_block_edges adds every register-block edge with tight operands.
 */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util.h"

enum { AT_END = 0, AT_START = 1 };

/* Under AddressSanitizer a fault must stay a plain SIGSEGV, which is what
 * Check reports (and what guard_fires expects), not ASan's own report and
 * abort: ASan does not watch these mappings anyway, the guard pages do. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "handle_segv=0"; }

/* n floats in a private mapping between two PROT_NONE pages. */
typedef struct guarded {
    char *map;
    size_t len;
    float *p;
    size_t n;
} guarded;

static guarded guard_new(size_t n, int where) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t bytes = n * sizeof(float);
    size_t body = (bytes + page - 1) / page * page;
    guarded g = {0};
    g.len = body + 2 * page;
    g.n = n;
    g.map = mmap(NULL, g.len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert(g.map != MAP_FAILED);
    ck_assert(mprotect(g.map, page, PROT_NONE) == 0);
    ck_assert(mprotect(g.map + page + body, page, PROT_NONE) == 0);
    g.p = (float *)(where == AT_START ? g.map + page : g.map + page + body - bytes);
    return g;
}

static void guard_free(guarded *g) {
    ck_assert(munmap(g->map, g->len) == 0);
    g->map = NULL;
}

/* A rows×cols matrix with leading dimension ld, exactly (rows−1)·ld + cols
 * floats: values in [lo, hi) inside the window, canaries in the gaps. */
static guarded guard_matrix(rng *r, size_t rows, size_t cols, size_t ld, int where, float lo,
                            float hi) {
    guarded g = guard_new((rows - 1) * ld + cols, where);
    for (size_t i = 0; i < g.n; i++)
        g.p[i] = i % ld < cols ? rng_range(r, lo, hi) : canary();
    return g;
}

/* 1 if every window element is finite (written, not a canary) and every
 * gap element is still a canary. */
static int window_written(const guarded *g, size_t cols, size_t ld) {
    for (size_t i = 0; i < g->n; i++) {
        int in = i % ld < cols;
        if (in ? !isfinite(g->p[i]) : !is_canary(g->p[i]))
            return 0;
    }
    return 1;
}

static void fill_canary(guarded *g) {
    for (size_t i = 0; i < g->n; i++)
        g->p[i] = canary();
}

static const size_t M[] = {1, 2, 3, 5, 7, 13, 15, 17};
static const size_t N[] = {1, 3, 5, 7, 9, 15, 16, 17, 31, 33, 63};
static const size_t D[] = {1, 3, 5, 7, 9, 15, 17, 31, 32, 33, 65};

/* Leading dimension of the c-th case: the row itself, or up to 3 more. */
static size_t pad_of(size_t c) { return (c * 7) % 4; }

/* K packing (public, checked) and the raw Q·Kᵀ kernel. */
START_TEST(guard_qk) {
    const simdattn_kernels *t = simdattn_kernels_get(ISA);
    rng r = rng_seed(900);
    size_t c = 0;
    for (int where = AT_END; where <= AT_START; where++)
        for (size_t a = 0; a < N_OF(M); a++)
            for (size_t b = 0; b < N_OF(N); b++)
                for (size_t e = 0; e < N_OF(D); e++, c++) {
                    size_t m = M[a], n = N[b], d = D[e];
                    size_t ldq = d + pad_of(c), ldk = d + pad_of(c + 1), lds = n + pad_of(c + 2);
                    guarded q = guard_matrix(&r, m, d, ldq, where, -1, 1);
                    guarded k = guard_matrix(&r, n, d, ldk, where, -1, 1);
                    guarded kp = guard_new(simdattn_packed_k_size(t, n, d), where);
                    guarded s = guard_new((m - 1) * lds + n, where);
                    fill_canary(&s);
                    ck_assert_int_eq(simdattn_pack_k(t, n, d, k.p, ldk, kp.p), SIMDATTN_OK);
                    t->qk(m, n, d, q.p, ldq, kp.p, s.p, lds);
                    ck_assert_msg(window_written(&s, n, lds), "%s qk m=%zu n=%zu d=%zu: S window",
                                  simdattn_isa_name(ISA), m, n, d);
                    guard_free(&q); guard_free(&k); guard_free(&kp); guard_free(&s);
                }
}
END_TEST

/* Plain and online softmax, mask per row, broadcast (ldm 0) or none. */
START_TEST(guard_softmax) {
    const simdattn_kernels *t = simdattn_kernels_get(ISA);
    rng r = rng_seed(901);
    size_t c = 0;
    for (int where = AT_END; where <= AT_START; where++)
        for (size_t a = 0; a < N_OF(M); a++)
            for (size_t b = 0; b < N_OF(N); b++, c++) {
                size_t m = M[a], n = N[b], lds = n + pad_of(c);
                int mode = (int)(c % 3); /* 0 none, 1 per row, 2 broadcast */
                size_t ldm = mode == 1 ? n + pad_of(c + 1) : 0;
                guarded mk = guard_matrix(&r, mode == 1 ? m : 1, n, mode == 1 ? ldm : n, where,
                                          -1, 1);
                const float *mask = mode ? mk.p : NULL;
                /* every exp, each with every mask mode over 9 cases */
                static const unsigned EXPS[] = {0, SIMDATTN_DETERMINISTIC, SIMDATTN_FAST_EXP};
                unsigned flags = EXPS[c / 3 % 3];
                for (int online = 0; online < 2; online++) {
                    guarded s = guard_matrix(&r, m, n, lds, where, -4, 4);
                    if (!online) {
                        t->softmax(m, n, 0.5f, mask, ldm, s.p, lds, flags);
                    } else {
                        guarded mx = guard_new(m, where), sum = guard_new(m, where);
                        guarded al = guard_new(m, where);
                        for (size_t i = 0; i < m; i++) {
                            mx.p[i] = i % 2 ? -INFINITY : 1.0f;
                            sum.p[i] = i % 2 ? 0.0f : 2.0f;
                        }
                        fill_canary(&al);
                        t->softmax_online(m, n, 0.5f, mask, ldm, s.p, lds, mx.p, sum.p, al.p,
                                          flags);
                        ck_assert_msg(window_written(&mx, m, m) && window_written(&sum, m, m) &&
                                          window_written(&al, m, m),
                                      "%s online m=%zu n=%zu: row vectors", simdattn_isa_name(ISA),
                                      m, n);
                        guard_free(&mx); guard_free(&sum); guard_free(&al);
                    }
                    ck_assert_msg(window_written(&s, n, lds), "%s softmax online=%d m=%zu n=%zu",
                                  simdattn_isa_name(ISA), online, m, n);
                    guard_free(&s);
                }
                guard_free(&mk);
            }
}
END_TEST

/* P·V with and without alpha. */
START_TEST(guard_pv) {
    const simdattn_kernels *t = simdattn_kernels_get(ISA);
    rng r = rng_seed(902);
    size_t c = 0;
    for (int where = AT_END; where <= AT_START; where++)
        for (size_t a = 0; a < N_OF(M); a++)
            for (size_t b = 0; b < N_OF(N); b++)
                for (size_t e = 0; e < N_OF(D); e++, c++) {
                    size_t m = M[a], n = N[b], dv = D[e];
                    size_t ldp = n + pad_of(c), ldv = dv + pad_of(c + 1), ldo = dv + pad_of(c + 2);
                    guarded p = guard_matrix(&r, m, n, ldp, where, 0, 1);
                    guarded v = guard_matrix(&r, n, dv, ldv, where, -1, 1);
                    guarded o = guard_matrix(&r, m, dv, ldo, where, -1, 1);
                    guarded al = guard_matrix(&r, 1, m, m, where, 0, 1);
                    t->pv(m, n, dv, p.p, ldp, v.p, ldv, c % 2 ? al.p : NULL, o.p, ldo);
                    ck_assert_msg(window_written(&o, dv, ldo), "%s pv m=%zu n=%zu dv=%zu",
                                  simdattn_isa_name(ISA), m, n, dv);
                    guard_free(&p); guard_free(&v); guard_free(&o); guard_free(&al);
                }
}
END_TEST

/* Fused forward: batch 2, 2 query heads over 1 or 2 KV heads, BHSD with
 * padded rows, every tensor guarded; query and key counts one past the
 * driver's tile (42) and block (256) sizes included. */
START_TEST(guard_forward) {
    static const size_t NQ[] = {1, 5, 17, 43}, NK[] = {1, 7, 33, 257};
    static const size_t FD[] = {1, 3, 7, 17, 33};
    rng r = rng_seed(903);
    size_t c = 0;
    for (int where = AT_END; where <= AT_START; where++)
        for (size_t a = 0; a < N_OF(NQ); a++)
            for (size_t b = 0; b < N_OF(NK); b++)
                for (size_t e = 0; e < N_OF(FD); e++, c++) {
                    size_t nq = NQ[a], nk = NK[b], d = FD[e], B = 2, hq = 2, hk = 1 + c % 2;
                    size_t qs = d + pad_of(c), ks = d + pad_of(c + 1), vs = d + pad_of(c + 2);
                    size_t os = d + pad_of(c + 3), ms = nk + pad_of(c + 4);
                    int mode = (int)(c % 3); /* 0 none, 1 full, 2 per batch (padding) */
                    simdattn_forward_desc f = {0};
                    f.batch = B; f.q_heads = hq; f.kv_heads = hk;
                    f.q_len = nq; f.kv_len = nk; f.head_dim = d;
                    f.flags = (c / 3) % 2 ? SIMDATTN_CAUSAL : 0;
                    f.isa = ISA;
                    guarded q = guard_matrix(&r, B * hq * nq, d, qs, where, -1, 1);
                    guarded k = guard_matrix(&r, B * hk * nk, d, ks, where, -1, 1);
                    guarded v = guard_matrix(&r, B * hk * nk, d, vs, where, -1, 1);
                    guarded o = guard_new((B * hq * nq - 1) * os + d, where);
                    guarded mk = guard_matrix(&r, mode == 1 ? B * hq * nq : B, nk, ms, where,
                                              -1, 1);
                    fill_canary(&o);
                    f.q = (simdattn_tensor){q.p, hq * nq * qs, nq * qs, qs};
                    f.k = (simdattn_tensor){k.p, hk * nk * ks, nk * ks, ks};
                    f.v = (simdattn_tensor){v.p, hk * nk * vs, nk * vs, vs};
                    f.o = o.p;
                    f.o_stride_batch = hq * nq * os; f.o_stride_head = nq * os; f.o_stride_seq = os;
                    if (mode == 1)
                        f.mask = (simdattn_tensor){mk.p, hq * nq * ms, nq * ms, ms};
                    if (mode == 2)
                        f.mask = (simdattn_tensor){mk.p, ms, 0, 0};
                    ck_assert_int_eq(simdattn_forward(&f), SIMDATTN_OK);
                    ck_assert_msg(window_written(&o, d, os), "%s forward nq=%zu nk=%zu d=%zu",
                                  simdattn_isa_name(ISA), nq, nk, d);
                    guard_free(&q); guard_free(&k); guard_free(&v); guard_free(&o);
                    guard_free(&mk);
                }
}
END_TEST

/* Every register-block edge with operands packed tight (leading dimension
 * = row length, so a row's end is the next row's start and the last row
 * ends at the guard): rows 1 … 15 (blocks of 6 and 14, one short, exact
 * and one past, twice), keys 4, 8, 32, 35 and dims 2, 4, 8, 16 beside
 * the odd sizes above, through the kernel table as an engine chains the
 * stages: pack, Q·Kᵀ, each softmax on the previous one's output, P·V with
 * the online α and without.  Inputs hold a −inf every 13 elements (S and
 * mask included), so masked and fully masked paths run at the edges too.
 * Only faults are checked here: what the kernels compute is checked by
 * the other suites. */
START_TEST(guard_block_edges) {
    static const size_t EN[] = {1, 3, 4, 5, 8, 15, 16, 17, 31, 32, 33, 35};
    static const size_t ED[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33};
    const simdattn_kernels *t = simdattn_kernels_get(ISA);
    for (int where = AT_END; where <= AT_START; where++)
        for (size_t m = 1; m <= 15; m++)
            for (size_t a = 0; a < N_OF(EN); a++)
                for (size_t b = 0; b < N_OF(ED); b++) {
                    size_t n = EN[a], d = ED[b];
                    enum { Q, K, KP, S, MASK, MX, SUM, ALPHA, V, O, BUFS };
                    guarded g[BUFS];
                    const size_t len[BUFS] = {m * d, n * d, simdattn_packed_k_size(t, n, d), m * n, m * n,
                                      m, m, m, n * d, m * d};
                    for (size_t i = 0; i < BUFS; i++) {
                        g[i] = guard_new(len[i], where);
                        for (size_t e = 0; e < len[i]; e++) /* small values, a few −inf */
                            g[i].p[e] = e % 13 == 5 ? -INFINITY : (float)(e % 7) * 0.25f - 0.75f;
                    }
                    float *q = g[Q].p, *k = g[K].p, *kp = g[KP].p, *s = g[S].p, *mask = g[MASK].p;
                    float *mx = g[MX].p, *sum = g[SUM].p, *alpha = g[ALPHA].p, *v = g[V].p;
                    float *o = g[O].p;
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
                    for (size_t i = 0; i < BUFS; i++)
                        guard_free(&g[i]);
                }
}
END_TEST

/* n 16-bit elements (an fp16/bf16 KV cache) placed like guard_new's
 * floats: ending exactly at, or starting right after, a PROT_NONE page;
 * values: a finite fp16/bf16 of magnitude < 1 (any sign, every
 * exponent down to subnormal fp16), or NaN in the gaps (never read). */
typedef struct guarded16 {
    char *map;
    size_t len;
    uint16_t *p;
} guarded16;

static guarded16 guard_kv16(rng *r, size_t rows, size_t cols, size_t ld, int where) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t n = (rows - 1) * ld + cols, bytes = n * sizeof(uint16_t);
    size_t body = (bytes + page - 1) / page * page;
    guarded16 g = {0};
    g.len = body + 2 * page;
    g.map = mmap(NULL, g.len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert(g.map != MAP_FAILED);
    ck_assert(mprotect(g.map, page, PROT_NONE) == 0);
    ck_assert(mprotect(g.map + page + body, page, PROT_NONE) == 0);
    g.p = (uint16_t *)(void *)(where == AT_START ? g.map + page : g.map + page + body - bytes);
    for (size_t i = 0; i < n; i++) /* sign, exponent 0…14 (fp16 < 1; as bf16 tiny) */
        g.p[i] = i % ld < cols ? (uint16_t)((uint16_t)(rng_uniform(r) * 65536) & 0xbbffu)
                               : (uint16_t)0x7e00u;
    return g;
}

/* The fused forward on fp16 and bf16 K/V in guarded mappings, through
 * simdattn_forward and through the task interface on a workspace of
 * exactly workspace_bytes that ends at (or starts after) a guard page:
 * the K panel buffer and the widened V (kernels/forward.c) must fit in
 * what the task interface asks for.  d_v ≠ d, strides larger than rows,
 * causal or not, GQA. */
START_TEST(guard_forward_kv16) {
    static const size_t NQ[] = {1, 5, 43}, NK[] = {1, 7, 33, 257};
    static const size_t FD[] = {1, 3, 17, 33};
    rng r = rng_seed(904);
    size_t c = 0;
    for (int where = AT_END; where <= AT_START; where++)
        for (size_t a = 0; a < N_OF(NQ); a++)
            for (size_t b = 0; b < N_OF(NK); b++)
                for (size_t e = 0; e < N_OF(FD); e++, c++) {
                    size_t nq = NQ[a], nk = NK[b], d = FD[e], dv = FD[(e + c) % N_OF(FD)];
                    size_t B = 2, hq = 2, hk = 1 + c % 2;
                    size_t qs = d + pad_of(c), ks = d + pad_of(c + 1), vs = dv + pad_of(c + 2);
                    simdattn_forward_desc f = {0};
                    f.batch = B; f.q_heads = hq; f.kv_heads = hk;
                    f.q_len = nq; f.kv_len = nk; f.head_dim = d; f.head_dim_v = dv;
                    f.flags = (c / 2) % 2 ? SIMDATTN_CAUSAL : 0;
                    f.kv_dtype = c % 2 ? SIMDATTN_BF16 : SIMDATTN_F16;
                    f.isa = ISA;
                    guarded q = guard_matrix(&r, B * hq * nq, d, qs, where, -1, 1);
                    guarded16 k = guard_kv16(&r, B * hk * nk, d, ks, where);
                    guarded16 v = guard_kv16(&r, B * hk * nk, dv, vs, where);
                    guarded o = guard_new((B * hq * nq - 1) * dv + dv, where);
                    f.q = (simdattn_tensor){q.p, hq * nq * qs, nq * qs, qs};
                    f.k = (simdattn_tensor){k.p, hk * nk * ks, nk * ks, ks};
                    f.v = (simdattn_tensor){v.p, hk * nk * vs, nk * vs, vs};
                    f.o = o.p;
                    f.o_stride_batch = hq * nq * dv; f.o_stride_head = nq * dv; f.o_stride_seq = dv;
                    fill_canary(&o);
                    ck_assert_int_eq(simdattn_forward(&f), SIMDATTN_OK);
                    ck_assert_msg(window_written(&o, dv, dv), "%s forward kv16 nq=%zu nk=%zu d=%zu",
                                  simdattn_isa_name(ISA), nq, nk, d);
                    size_t count, bytes;
                    ck_assert_int_eq(simdattn_forward_tasks(&f, &count, &bytes), SIMDATTN_OK);
                    ck_assert(bytes % sizeof(float) == 0);
                    guarded ws = guard_new(bytes / sizeof(float), where);
                    fill_canary(&o);
                    for (size_t i = 0; i < count; i++)
                        ck_assert_int_eq(simdattn_forward_run_task(&f, i, ws.p), SIMDATTN_OK);
                    ck_assert_msg(window_written(&o, dv, dv), "%s tasks kv16 nq=%zu nk=%zu d=%zu",
                                  simdattn_isa_name(ISA), nq, nk, d);
                    guard_free(&q); guard_free(&o); guard_free(&ws);
                    ck_assert(munmap(k.map, k.len) == 0);
                    ck_assert(munmap(v.map, v.len) == 0);
                }
}
END_TEST

/* The harness itself: touching one float past either end must fault (a
 * harness whose guards do not fire proves nothing).  Runs only in fork
 * mode, where Check turns the signal into the expected outcome. */
START_TEST(guard_fires) {
    guarded g = guard_new(5, _i == 0 ? AT_END : AT_START);
    volatile float *p = g.p;
    p[_i == 0 ? 5 : -1] = 1.0f;
}
END_TEST

int main(void) {
    const suite_test tests[] = {
        {guard_qk, LOOP_ISAS, 0},      {guard_softmax, LOOP_ISAS, 0},
        {guard_pv, LOOP_ISAS, 0},      {guard_forward, LOOP_ISAS, 0},
        {guard_block_edges, LOOP_ISAS, 0}, {guard_forward_kv16, LOOP_ISAS, 0},
        {guard_fires, 2, SIGSEGV}, /* last: fork mode only */
    };
    const char *fork = getenv("CK_FORK");
    int forking = !fork || strcmp(fork, "no") != 0;
    return run_tests("guard", 300, tests, N_OF(tests) - !forking);
}
