/*
 * Internal declarations shared by the kernels, the driver and dispatch.
 * Nothing here is exported: only simdattn_* symbols leave the library.
 */
#ifndef SA_INTERNAL_H
#define SA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "simdattn.h"

#ifndef SA_HAVE_AVX2
#define SA_HAVE_AVX2 0
#endif
#ifndef SA_HAVE_AVX512
#define SA_HAVE_AVX512 0
#endif
#ifndef SA_HAVE_NEON
#define SA_HAVE_NEON 0
#endif

/* Every kernel set declares the same four functions (see simdattn_kernels
 * for their contracts) and names its panel width SA_QK_NR_<token>. */
#define SA_ISA(ENUM, tok, nr)                                                  \
    enum { SA_QK_NR_##tok = (nr) };                                            \
    void sa_qk_##tok(size_t m, size_t n, size_t d, const float *q,             \
                     size_t ldq, const float *kp, float *s, size_t lds);       \
    void sa_softmax_##tok(size_t m, size_t n, float scale, const float *mask,  \
                          size_t ldm, float *s, size_t lds, unsigned flags);   \
    void sa_softmax_online_##tok(size_t m, size_t n, float scale,              \
                                 const float *mask, size_t ldm, float *s,      \
                                 size_t lds, float *row_max, float *row_sum,   \
                                 float *alpha, unsigned flags);                \
    void sa_pv_##tok(size_t m, size_t n, size_t dv, const float *p,            \
                     size_t ldp, const float *v, size_t ldv,                   \
                     const float *alpha, float *o, size_t ldo);
#include "isa.inc"
#undef SA_ISA

/* Flags a softmax kernel accepts, and the rule both checked entry points
 * (api.c, forward.c) apply: SIMDATTN_FAST_EXP and SIMDATTN_DETERMINISTIC
 * each choose the exp, so they exclude each other. */
#define SA_EXP_FLAGS (SIMDATTN_DETERMINISTIC | SIMDATTN_FAST_EXP)
static inline int sa_exp_flags_valid(unsigned flags) {
    return (flags & SA_EXP_FLAGS) != SA_EXP_FLAGS;
}

/* The ops of kernels/extra.inc: one function type per op (the contracts
 * are those of the simdattn_kernels members of the same name), and a
 * declaration for each set that implements it. */
typedef void sa_softcap_fn(size_t m, size_t n, float scale, float cap,
                           float *s, size_t lds, unsigned flags);
typedef void sa_widen_fn(simdattn_dtype dtype, size_t n, const uint16_t *src,
                         float *dst);
typedef void sa_qk_kv_fn(size_t m, size_t n, size_t d, const float *q,
                         size_t ldq, const void *k, size_t ldk,
                         simdattn_dtype dt, float *s, size_t lds);
typedef void sa_pv_kv_fn(size_t m, size_t n, size_t dv, const float *p,
                         size_t ldp, const void *v, size_t ldv,
                         simdattn_dtype dt, const float *alpha, float *o,
                         size_t ldo);
#define SA_EXTRA(ENUM, tok, op) sa_##op##_fn sa_##op##_##tok;
#include "extra.inc"
#undef SA_EXTRA

/* Exact widening of one 16-bit KV element to fp32: the scalar reference
 * every ISA's vector conversion (F16C/AVX-512 vcvtph2ps, NEON fcvtl, the
 * bf16 16-bit shift) must match bit for bit.  A signalling NaN comes out
 * quiet, as vcvtph2ps and fcvtl make it. */
static inline float sa_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu, bits;
    if (e == 0x1f)
        bits = sign | 0x7f800000u | (m << 13) | (m ? 0x400000u : 0);
    else if (e != 0)
        bits = sign | ((e + 112) << 23) | (m << 13);
    else if (m == 0)
        bits = sign;
    else { /* subnormal: m·2^-24, normal in fp32 */
        int sh = 0;
        while (!(m & 0x400u)) {
            m <<= 1;
            sh++;
        }
        bits = sign | ((uint32_t)(113 - sh) << 23) | ((m & 0x3ffu) << 13);
    }
    union { uint32_t u; float f; } c = {bits};
    return c.f;
}
static inline float sa_bf16_to_f32(uint16_t h) {
    union { uint32_t u; float f; } c = {(uint32_t)h << 16};
    return c.f;
}

/* Which keys a query row sees (simdattn.h's definitions), shared by the
 * tiled driver and the decode path: q_len rows, causality aligned to the
 * end, window w (0: none, already clamped to q_len + kv_len). */
typedef struct sa_visibility {
    size_t q_len;
    int causal;
    ptrdiff_t window;
} sa_visibility;

/* Keys [*lo, *hi) visible to query row `row` of an entry with `len` keys,
 * the key mask aside; empty when *lo ≥ *hi.  Callers validated the sizes
 * to fit in ptrdiff_t with room for these sums. */
static inline void sa_row_keys(const sa_visibility *v, size_t len,
                               size_t row, ptrdiff_t *lo, ptrdiff_t *hi) {
    ptrdiff_t p = (ptrdiff_t)row + (ptrdiff_t)len - (ptrdiff_t)v->q_len;
    ptrdiff_t a = 0, b = (ptrdiff_t)len, w = v->window;
    if (v->causal && p + 1 < b)
        b = p + 1;
    if (w) {
        if (p - w + 1 > a)
            a = p - w + 1;
        if (!v->causal && p + w < b)
            b = p + w;
    }
    *lo = a;
    *hi = b;
}

/* What rows q0 … q0+n−1 of an entry with len keys see: the union
 * [ulo, uhi) of their intervals (empty: ulo ≥ uhi), and the tightest
 * edges any of them has, so that a block inside [lo_max, hi_min) needs no
 * −inf (kernels/visibility.c, as the three below). */
typedef struct sa_rows_keys {
    ptrdiff_t ulo, uhi, lo_max, hi_min;
} sa_rows_keys;
sa_rows_keys sa_keys_of_rows(const sa_visibility *v, size_t len, size_t q0,
                             size_t n);
/* S (rows × nb, ld lds; row i is query row q0 + i) for keys j0 … j0+nb−1:
 * −inf outside each row's interval. */
void sa_mask_outside(const sa_visibility *v, size_t len, size_t q0,
                     size_t rows, size_t j0, size_t nb, float *s, size_t lds);
/* Keys j0 … j0+nb−1 the boolean key mask keeps (keep[j] ≠ 0). */
size_t sa_keys_kept(const unsigned char *keep, size_t j0, size_t nb);
/* S (rows × nb, ld lds): −inf in the columns of the keys keep removes. */
void sa_mask_removed(const unsigned char *keep, size_t j0, size_t nb,
                     size_t rows, float *s, size_t lds);

/* Decode path (kernels/decode.c): everything a forward that decodes
 * derives from its validated descriptor.  Items are numbered as
 * simdattn.h's task phases say: with `partials`, B·H_kv·splits split
 * items then B·H_kv merge items; without, B·H_kv items that run every
 * split of their KV head (partials in their own workspace). */
typedef struct sa_decode_plan {
    const simdattn_forward_desc *d;
    const simdattn_kernels *t;
    size_t dk, dv, group, m, splits, heads; /* heads: B·H_kv */
    size_t ldq, ldp;         /* Q copy row stride; partial row stride */
    size_t run;              /* softmax blocks per streaming run (decode.c) */
    size_t part_floats;      /* one (b, g, split) partial: m·ldp */
    size_t ws_floats, partial_total, count, first_merge;
    float scale, cap;
    sa_visibility vis;
    unsigned xflags;
    float *partials;         /* caller's partials (task interface), or NULL */
} sa_decode_plan;
/* 1 and *p filled if d decodes (sizes already validated; *ovf set on
 * overflow), else 0.  partials: where split items keep their partials
 * (NULL: one phase). */
int sa_decode_plan_init(sa_decode_plan *p, const simdattn_forward_desc *d,
                        const simdattn_kernels *t, float scale,
                        sa_visibility vis, float *partials, int *ovf);
/* Switch the plan to two phases with the caller's partials (NULL: one). */
void sa_decode_set_partials(sa_decode_plan *p, float *partials);
/* Item `index` of the plan, on workspace ws (ws_floats floats). */
void sa_decode_run(const sa_decode_plan *p, size_t index, float *ws);

/* Generic K packing (layout in simdattn.h), any panel width nr. */
void sa_pack_k(size_t nr, size_t n, size_t d, const float *k, size_t ldk,
               float *kp);

/* a·b, or 0 with *overflow set when it does not fit in size_t. */
static inline size_t sa_mul(size_t a, size_t b, int *overflow) {
    size_t r;
    if (__builtin_mul_overflow(a, b, &r)) {
        *overflow = 1;
        return 0;
    }
    return r;
}
static inline size_t sa_add(size_t a, size_t b, int *overflow) {
    size_t r;
    if (__builtin_add_overflow(a, b, &r)) {
        *overflow = 1;
        return 0;
    }
    return r;
}

/* Address range [lo, hi) of an argument, as integers: comparing pointers
 * into different objects is undefined in C, comparing addresses is not. */
typedef struct sa_span {
    uintptr_t lo, hi;
} sa_span;
/* `elems` floats from p; *overflow set if the byte count or the range
 * does not fit. */
sa_span sa_span_of(const void *p, size_t elems, int *overflow);
sa_span sa_span_bytes(const void *p, size_t bytes, int *overflow);
/* Bytes of one element of a KV tensor of type t (< SIMDATTN_DTYPE_COUNT). */
static inline size_t sa_dtype_size(simdattn_dtype t) {
    return t == SIMDATTN_F32 ? sizeof(float) : sizeof(uint16_t);
}
/* One byte load every 64 bytes of `rows` rows of `bytes` bytes, `stride`
 * bytes apart, row after row: brings a block of a KV cache in in address
 * order, which hardware prefetchers follow, before kernels that read it
 * in another order work on it from L1 (the AVX2 and NEON decode P·V;
 * kernels/avx2/decode.c has the measurements). */
static inline void sa_touch_rows(const void *p, size_t rows, size_t stride,
                                 size_t bytes) {
    for (size_t j = 0; j < rows; j++)
        for (size_t c = 0; c < bytes; c += 64)
            (void)*((const volatile unsigned char *)p + j * stride + c);
}
/* Range touched by a `rows`×`cols` matrix with leading dimension ld
 * (rows ≥ 1) starting at p; *overflow set if the extent overflows. */
sa_span sa_matrix_span(const float *p, size_t rows, size_t cols, size_t ld,
                       int *overflow);
int sa_spans_overlap(sa_span a, sa_span b);

/* The fused forward's tile: SA_FORWARD_MB query rows × SA_FORWARD_NB keys
 * per online-softmax block (kernels/forward.c's MB and NB; its tile
 * comment gives the measurements behind them).  Defined here, once, so
 * that tests, the accuracy report and the stage benchmark (which links
 * the shared library and cannot call internal functions) use the
 * driver's tile. */
enum { SA_FORWARD_MB = 42, SA_FORWARD_NB = 256 };
/* SA_FORWARD_NB, as a function for tests written against it. */
size_t sa_forward_block_keys(void);
/* A tile's first key block starts at a multiple of this (forward.c). */
size_t sa_forward_key_align(void);

/* Resolve isa (AUTO allowed) to its table; sets *status on failure. */
const simdattn_kernels *sa_table(simdattn_isa isa, simdattn_status *status);

#endif
