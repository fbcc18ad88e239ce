/*
 * simdattn — SIMD kernels for transformer self-attention on CPUs.
 *
 *     O = softmax(scale · Q·Kᵀ + mask) · V        per batch entry and head
 *
 * The whole public API is this header.  Everything works on caller-owned
 * fp32 buffers with explicit strides (counted in elements, not bytes); the
 * fused forward also reads K and V as fp16 or bf16 (a 16-bit KV cache).
 *
 * Three stage kernels, each usable on its own (simdattn_qk, simdattn_softmax,
 * simdattn_softmax_online, simdattn_pv), and a fused single-pass forward
 * (simdattn_forward) built from them: tiles of Q against blocks of K/V with
 * an online softmax, so no Nq×Nk matrix is ever stored.
 *
 * Every kernel exists as a scalar reference and as hand-written SIMD
 * versions (AVX2+FMA, AVX-512, NEON).  The best one the CPU *and* OS can run
 * is chosen once, on first use, thread-safely.  The environment variable
 * SIMDATTN_ISA=scalar|avx2|avx512|neon overrides that choice (a value the
 * CPU cannot run, or an unknown one, is reported once on stderr and
 * ignored); SIMDATTN_DEBUG=1 logs the choice.  Every call can also name an
 * ISA explicitly, so there is no global mutable state besides that one-time
 * detection, and all functions are thread-safe.
 *
 * ---------------------------------------------------------------------
 * Numerical policy (all ISAs)
 * ---------------------------------------------------------------------
 *  - Logits are x = scale·(q·k) + mask.  Every dot product (Q·Kᵀ and P·V)
 *    is one sequential chain of fused multiply-adds in its reduction
 *    index, except the decode path's Q·Kᵀ (qk_kv: 16 such chains and a
 *    fixed tree, see simdattn_kernels), and the softmax row sum follows
 *    one canonical 16-lane order, in every ISA: only exp differs between
 *    ISAs, and with SIMDATTN_DETERMINISTIC or SIMDATTN_FAST_EXP not even
 *    exp.
 *  - Error bounds, per element, against the exact result of the same fp32
 *    inputs; u = 2^-24, γ_n = n·u/(1 − n·u), m the row's largest logit,
 *    B the number of KV blocks; first order, plus an absolute slack for
 *    subnormal results (exact terms and derivation: tests/oracle.c):
 *      Q·Kᵀ     |S − S*| ≤ γ_d·Σ_k |q_k·k_k|  (both orders)
 *      P·V      |O − O*| ≤ γ_(n+1)·(|α·O_in| + Σ_j |p_j·v_j|)
 *      exp      ≤ 1 ULP on (−∞, 0], all softmax uses (glibc expf in the
 *               scalar kernel, SLEEF u10 otherwise); with SIMDATTN_FAST_EXP
 *               ≤ SIMDATTN_FAST_EXP_ULP, which replaces the 1 ULP (2u) in
 *               η_j and in the 4u per block below
 *      softmax  |p̂_j − p_j| ≤ p_j·(η_j + max_k η_k + γ_n + 2u), with
 *               δ_j = u·(|scale·s_j| + |x_j|) the logit's two roundings
 *               and η_j = δ_j + max_k δ_k + u·|x_j − m| + 2u the error of
 *               e_j (own logit, the shift, the subtraction, 1 ULP);
 *               γ_n the row sum, 2u the reciprocal and the multiply.
 *               Online over B blocks: + p_j·(4u·B + u·(m − min_j x_j)).
 *      forward  |O − O*| ≤ Σ_j w_j·|v_j|·(η_j + ε), w the exact weights,
 *               δ_j also counting the Q·Kᵀ error |scale|·γ_d·Σ_k|q_k·k_jk|,
 *               ε = max η + γ_n + 4u·B + u·(m − min x) + γ_(n+2B) + 2u
 *               (normaliser, block rescales, P·V, 1/l and the multiply).
 *      16-bit KV (kv_dtype F16 or BF16): widening is exact, so the forward
 *               returns the bits of the same call on an fp32 cache holding
 *               the widened values, and the bound above holds for them.
 *               Against the fp32 K and V before their rounding to nearest
 *               (relative ρ = 2^-11 fp16, 2^-8 bf16; absolute a = half
 *               the smallest subnormal, 2^-25 fp16, 2^-134 bf16; no
 *               overflow: |x| ≤ 65504 for fp16): δ_j gains the logit
 *               shift |scale|·Σ_k|q_k|·(ρ|k_jk| + a) (Σ|q_k·k_jk| in γ_d's
 *               term taken at (1+ρ)|k| + a), and
 *               |O − O*| ≤ Σ_j w_j·[((1+ρ)|v_j| + a)(η_j + ε) + ρ|v_j| + a].
 *               Measured on tests/accuracy's cases: ≤ 0.22 of that bound;
 *               2-norm relative error 2e-4 (fp16) and 1.5e-3 (bf16) for
 *               K, V in [−1, 1] (all of it, for fp16, when |v| < 2^-25).
 *    The tests check every bound element by element; README "Numerics"
 *    has the measured errors, and tests/accuracy gates them.
 *  - Masking: an additive mask value of -INFINITY removes a key, as do
 *    causality, sliding windows, per-entry KV lengths and the boolean key
 *    mask of simdattn_forward.  A row whose keys are all removed (by any
 *    of these, -Inf logits, or nothing to attend to) produces exactly +0
 *    in every output element, never NaN, whatever V holds.  Keys past an
 *    entry's KV length are never read, so a KV cache may hold anything
 *    there.
 *  - NaN and Inf follow IEEE arithmetic; no input is inspected.
 *     · A logit that is NaN or +Inf makes every output element of its row
 *       NaN.  It comes from a NaN in the row's query or in a key the row
 *       sees, a NaN or +Inf mask value, an Inf in Q or K whose product
 *       comes out +Inf or NaN (Inf·0), or Q·Kᵀ overflowing to +Inf.  A
 *       -INFINITY mask value does not hide a NaN logit (NaN + -Inf is
 *       NaN); causality, windows, KV lengths and the key mask do, as keys
 *       a row cannot see are never scored for it (their logits become
 *       -Inf before the mask is added, so a NaN or +Inf mask value there
 *       still counts when its key block is computed).  A NaN is never
 *       silently dropped.
 *     · A logit that is -Inf removes its key exactly as the mask does,
 *       wherever it comes from: an Inf in Q or K whose product comes out
 *       -Inf, or Q·Kᵀ overflowing to -Inf.  An Inf in Q or K therefore
 *       does not always surface in the output: check inputs if it must.
 *     · A NaN or ±Inf in V reaches its column in every row that gives its
 *       key a nonzero weight (as NaN, or as ±Inf when a single key carries
 *       it).  P·V runs on whole tiles, so it may also reach that column in
 *       rows of the same query tile that give the key weight 0 (0·Inf is
 *       NaN), but never a row with no key left (above).
 *     · Large finite logits are safe: the row maximum is subtracted before
 *       exp in every kernel, so every exp argument, and the online rescale
 *       exp(m − m'), is ≤ 0.
 *  - Nothing is written to any output when a function returns an error.
 */
#ifndef SIMDATTN_H
#define SIMDATTN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define SIMDATTN_API
#else
#define SIMDATTN_API __attribute__((visibility("default")))
#endif

/* ------------------------------------------------------------------ */
/* Status codes                                                        */
/* ------------------------------------------------------------------ */
typedef enum simdattn_status {
    SIMDATTN_OK = 0,
    /* A null pointer, a zero size where one is required, a stride smaller
     * than the row it steps over, an output overlapping an input or another
     * output, an invalid enum or flag, a non-finite or negative scale,
     * heads that do not divide. */
    SIMDATTN_ERR_INVALID_ARGUMENT = 1,
    /* A size whose element or byte count does not fit in size_t, or an
     * extent that would run past the end of the address space. */
    SIMDATTN_ERR_SIZE_OVERFLOW = 2,
    /* The workspace could not be allocated. */
    SIMDATTN_ERR_OUT_OF_MEMORY = 3,
    /* The requested ISA is not compiled in, or this CPU/OS cannot run it. */
    SIMDATTN_ERR_UNSUPPORTED_ISA = 4
} simdattn_status;

/* Short description of a status ("ok", "invalid argument", ...). */
SIMDATTN_API const char *simdattn_status_str(simdattn_status status);

/* ------------------------------------------------------------------ */
/* Instruction sets and dispatch                                       */
/* ------------------------------------------------------------------ */
typedef enum simdattn_isa {
    SIMDATTN_ISA_AUTO = 0,   /* whatever simdattn_isa_active() returns */
    SIMDATTN_ISA_SCALAR = 1, /* plain C reference, always available */
    SIMDATTN_ISA_AVX2 = 2,   /* x86-64 AVX2 + FMA */
    SIMDATTN_ISA_AVX512 = 3, /* x86-64 AVX-512 F/VL/BW/DQ */
    SIMDATTN_ISA_NEON = 4,   /* AArch64 Advanced SIMD */
    SIMDATTN_ISA_COUNT = 5
} simdattn_isa;

/* Best ISA that is compiled in and that this CPU and OS can run. */
SIMDATTN_API simdattn_isa simdattn_isa_best(void);
/* The ISA that SIMDATTN_ISA_AUTO means: simdattn_isa_best(), unless the
 * SIMDATTN_ISA environment variable (read once) names another runnable one. */
SIMDATTN_API simdattn_isa simdattn_isa_active(void);
/* 1 if `isa` is compiled in and runnable here (AUTO counts as runnable). */
SIMDATTN_API int simdattn_isa_supported(simdattn_isa isa);
/* "auto", "scalar", "avx2", "avx512", "neon"; "invalid" otherwise. */
SIMDATTN_API const char *simdattn_isa_name(simdattn_isa isa);
/* Parse a name as above into *isa.  INVALID_ARGUMENT for unknown names. */
SIMDATTN_API simdattn_status simdattn_isa_parse(const char *name, simdattn_isa *isa);

/* ------------------------------------------------------------------ */
/* KV cache element types                                              */
/* ------------------------------------------------------------------ */
/* Element type of the K and V tensors (the KV cache).  Q, O and the mask
 * are always fp32, and so is all arithmetic: F16 (IEEE binary16) and BF16
 * (bfloat16) elements are uint16_t bit patterns, widened exactly to fp32
 * as they are read (simdattn_widen); strides still count elements. */
typedef enum simdattn_dtype {
    SIMDATTN_F32 = 0,
    SIMDATTN_F16 = 1,
    SIMDATTN_BF16 = 2,
    SIMDATTN_DTYPE_COUNT = 3
} simdattn_dtype;

/* ------------------------------------------------------------------ */
/* Flags                                                               */
/* ------------------------------------------------------------------ */
/* Key j is visible to query i iff j ≤ i + (L − q_len), L the entry's KV
 * length (kv_len, or kv_lens[b]): aligned to the end, as when decoding
 * against a KV cache.  (simdattn_forward only; see "Which keys a query row
 * sees" below.) */
#define SIMDATTN_CAUSAL 1u
/* Bit-reproducible results: every ISA (and every thread count) returns the
 * same bits for the same inputs.  exp becomes SLEEF's deterministic
 * Sleef_finz_expf* in every ISA; the rest of the arithmetic already follows
 * one canonical order (see "Numerical policy").  Accepted by the softmax
 * kernels and simdattn_forward. */
#define SIMDATTN_DETERMINISTIC 2u
/* Faster softmax: exp becomes an inlined polynomial instead of SLEEF's
 * out-of-line call, which clobbers every vector register.  Zen 4, one
 * thread: the fused forward runs 2–6% faster with AVX-512 and 6–14% with
 * AVX2 at d = 64–128, the softmax kernel alone 1.5–2× faster.
 * x = n·ln2 + r (|r| ≤ ln2/2, ln2 split in two parts), a degree-6 minimax
 * polynomial for e^r, and one multiply by 2^n that rounds once into the
 * subnormal range: the same operations, hence the same bits, on every ISA
 * (kernels/fastexp.h).  Error ≤ SIMDATTN_FAST_EXP_ULP; exp(±0) = 1,
 * exp(−inf) = +0, exp(NaN) = NaN, and every x whose exp rounds to 0
 * (x ≤ −150·ln2 = −103.972…) gives +0.  The bounds under "Numerical policy"
 * hold with that figure in place of 1 ULP.  Defined for x ≤ 0 and NaN, all
 * the softmax evaluates.  Accepted by the softmax kernels and
 * simdattn_forward; with SIMDATTN_DETERMINISTIC, which names SLEEF's exp,
 * INVALID_ARGUMENT. */
#define SIMDATTN_FAST_EXP 4u
/* Max error of the SIMDATTN_FAST_EXP exp in ULPs of the exact result: the
 * maximum measured over every float in [−104, 0] against exp in double
 * (tests/exp_ulp.c), 0.891321 at x = −0x1.765026p+2, rounded up; the same
 * on every ISA.  (Measured the same way: SLEEF's u10 expf 0.9857, glibc's
 * expf 0.5016.) */
#define SIMDATTN_FAST_EXP_ULP 0.8914

/* ------------------------------------------------------------------ */
/* Kernel table: the raw, unchecked kernels of one ISA                 */
/* ------------------------------------------------------------------ */
/*
 * Every ISA provides the same function shapes.  These pointers do no
 * argument checking: the caller guarantees what the checked wrappers
 * below (simdattn_qk, ...) verify.  All sizes and leading dimensions are
 * in elements; buffers need no particular alignment.
 *
 * Packed K ("Kp"): keys are grouped in panels of `qk_nr` keys; panel p
 * stores, for each k in [0, d), the k-th element of keys p·nr … p·nr+nr−1
 * contiguously, zero-filled past the last key.  Size in floats:
 * simdattn_packed_k_size(kernels, n, d).
 */
typedef struct simdattn_kernels {
    simdattn_isa isa;
    size_t qk_nr; /* keys per packed K panel */

    /* S[i·lds + j] = Σ_k Q[i·ldq + k] · K_j[k]    (i < m, j < n)
     * with K given packed (see above), accumulated sequentially in k. */
    void (*qk)(size_t m, size_t n, size_t d, const float *q, size_t ldq,
               const float *kp, float *s, size_t lds);

    /* Softmax kernels take `flags`: 0, SIMDATTN_DETERMINISTIC or
     * SIMDATTN_FAST_EXP (not both).
     * Plain softmax, in place, row by row (i < m, j < n):
     *   x_j = scale·S_ij + M_ij   (M = mask, or 0 if mask == NULL)
     *   S_ij = exp(x_j − max x) / Σ exp(x − max x)
     * A row whose x are all -inf becomes all zeros. */
    void (*softmax)(size_t m, size_t n, float scale, const float *mask,
                    size_t ldm, float *s, size_t lds, unsigned flags);

    /* Online (streaming) softmax for one block of keys, in place.  Per row
     * i it carries the running maximum row_max[i] (start: -INFINITY) and
     * running sum row_sum[i] (start: 0) over all earlier blocks:
     *   m' = max(row_max, max_j x_j)          (x as above)
     *   S_ij = exp(x_j − m')                   (unnormalised)
     *   alpha[i] = exp(row_max − m')           (rescale for earlier blocks)
     *   row_sum = alpha·row_sum + Σ_j S_ij,  row_max = m' (a zero as +0)
     * While every x seen so far is -inf, m' is taken as 0 in the two
     * exponentials: S_ij = 0, alpha = 0 and row_sum stays 0. */
    void (*softmax_online)(size_t m, size_t n, float scale,
                           const float *mask, size_t ldm, float *s,
                           size_t lds, float *row_max, float *row_sum,
                           float *alpha, unsigned flags);

    /* O[i·ldo + c] = alpha[i]·O[i·ldo + c] + Σ_j P[i·ldp + j]·V[j·ldv + c]
     * (i < m, c < dv, j < n), accumulated sequentially in j.  alpha may be
     * NULL, meaning 1. */
    void (*pv)(size_t m, size_t n, size_t dv, const float *p, size_t ldp,
               const float *v, size_t ldv, const float *alpha, float *o,
               size_t ldo);

    /* Logit soft-capping, in place (i < m, j < n), cap > 0:
     *   y = S_ij·scale,  S_ij = cap·tanh(y / cap) + (y − y)
     * three roundings (multiply, divide, multiply) around tanh (≤ 1 ULP
     * SLEEF u10, ≤ 2.5 ULP glibc).  The (y − y) term is +0 for finite y and
     * NaN otherwise, so an infinite logit stays poisonous (NaN policy)
     * instead of saturating to ±cap.  flags: 0 or SIMDATTN_DETERMINISTIC
     * (tanh becomes SLEEF's deterministic finz variant). */
    void (*softcap)(size_t m, size_t n, float scale, float cap, float *s,
                    size_t lds, unsigned flags);

    /* dst[i] = src[i] widened to fp32 (i < n), dtype SIMDATTN_F16 or
     * SIMDATTN_BF16: exact, the same bits in every ISA (F16C/AVX-512
     * vcvtph2ps, NEON fcvtl, a 16-bit shift for BF16); a signalling F16
     * NaN comes out quiet with its payload, a BF16 one unchanged.  src and
     * dst must not overlap. */
    void (*widen)(simdattn_dtype dtype, size_t n, const uint16_t *src,
                  float *dst);
    /* Decode-path kernels (simdattn_forward with q_len ≤ 8, see "Decode
     * path" below): K and V read as they lie in a KV cache, row-major, in
     * element type `dt` (fp32, or fp16/bf16 bit patterns widened exactly
     * in registers); no packing.
     * qk_kv: S[i·lds + j] = Σ_c Q[i·ldq + c]·K_j[c]   (i < m, j < n), in
     * the canonical 16-lane order: d is padded with zeros to a multiple of
     * 16, lane l is one fma chain over c ≡ l (mod 16) in increasing c,
     * starting from +0, and the 16 lanes are summed as the softmax sums
     * (l + l+8, then l+4, l+2, l+1).  The same bits on every ISA; bound
     * |S − S*| ≤ γ_d·Σ_c |q_c·k_c| (each chain ⌈d/16⌉ terms plus the 4
     * tree additions, never more than d roundings). */
    void (*qk_kv)(size_t m, size_t n, size_t d, const float *q, size_t ldq,
                  const void *k, size_t ldk, simdattn_dtype dt, float *s,
                  size_t lds);
    /* pv_kv: pv's contract and rounding (one sequential fma chain in j
     * per element, after alpha·O), with V in element type `dt`. */
    void (*pv_kv)(size_t m, size_t n, size_t dv, const float *p, size_t ldp,
                  const void *v, size_t ldv, simdattn_dtype dt,
                  const float *alpha, float *o, size_t ldo);
} simdattn_kernels;

/* Table of `isa` (AUTO: the active one), or NULL if it is not supported. */
SIMDATTN_API const simdattn_kernels *simdattn_kernels_get(simdattn_isa isa);

/* Floats needed to hold n keys of length d packed for `kernels`; 0 if
 * kernels is NULL, n or d is 0, or the byte count overflows size_t. */
SIMDATTN_API size_t simdattn_packed_k_size(const simdattn_kernels *kernels,
                                           size_t n, size_t d);
/* Pack K (n rows of length d, row stride ldk) into kp, which holds
 * simdattn_packed_k_size(kernels, n, d) floats.  Errors:
 *   INVALID_ARGUMENT  a null pointer, kernels->qk_nr 0, n or d 0, ldk < d,
 *                     kp's address range overlapping K's;
 *   SIZE_OVERFLOW     K's extent or the packed size overflows size_t or
 *                     runs past the end of the address space. */
SIMDATTN_API simdattn_status simdattn_pack_k(const simdattn_kernels *kernels,
                                             size_t n, size_t d,
                                             const float *k, size_t ldk,
                                             float *kp);

/* ------------------------------------------------------------------ */
/* Checked stage kernels                                               */
/* ------------------------------------------------------------------ */
/*
 * These validate their arguments, then call the kernel table of `isa`
 * (SIMDATTN_ISA_AUTO for the active one).  Errors:
 *   INVALID_ARGUMENT  isa is not a simdattn_isa value; a required pointer
 *                     is NULL; m, n, d or dv is 0; a leading dimension is
 *                     smaller than its row (ldm may be 0, see below);
 *                     scale is NaN, infinite or < 0 (-0 counts as 0);
 *                     flags other than those listed; the address range of
 *                     an output (first element to one past the last, gaps
 *                     between rows included) overlaps that of an input or
 *                     of another output.
 *   SIZE_OVERFLOW     the extent (rows−1)·ld + cols of a matrix, in bytes,
 *                     or of the packed-K workspace, does not fit in size_t
 *                     or runs past the end of the address space.
 *   OUT_OF_MEMORY     (simdattn_qk) the packed-K workspace.
 *   UNSUPPORTED_ISA   isa is valid but cannot run here.
 */

/* S (m×n, ld lds) = Q (m×d, ld ldq) · Kᵀ, K being n×d with ld ldk.  K is
 * packed into a temporary buffer (OUT_OF_MEMORY if that fails); engines
 * that reuse K pack once with simdattn_pack_k and call the table. */
SIMDATTN_API simdattn_status simdattn_qk(simdattn_isa isa, size_t m, size_t n,
                                         size_t d, const float *q, size_t ldq,
                                         const float *k, size_t ldk, float *s,
                                         size_t lds);

/* Plain row softmax of scale·S + mask, in place (see simdattn_kernels).
 * mask may be NULL; otherwise it is m×n with ld ldm (ldm ≥ n, or ldm = 0
 * to broadcast one mask row to every row).  flags: 0,
 * SIMDATTN_DETERMINISTIC or SIMDATTN_FAST_EXP (any other bit, or both of
 * those: INVALID_ARGUMENT). */
SIMDATTN_API simdattn_status simdattn_softmax(simdattn_isa isa, size_t m,
                                              size_t n, float scale,
                                              const float *mask, size_t ldm,
                                              float *s, size_t lds,
                                              unsigned flags);

/* Online softmax for one key block (see simdattn_kernels); row_max,
 * row_sum and alpha each hold m floats.  S, row_max, row_sum and alpha
 * are all outputs: none may overlap another or the mask. */
SIMDATTN_API simdattn_status simdattn_softmax_online(
    simdattn_isa isa, size_t m, size_t n, float scale, const float *mask,
    size_t ldm, float *s, size_t lds, float *row_max, float *row_sum,
    float *alpha, unsigned flags);

/* O (m×dv, ld ldo) = alpha ⊙ O + P (m×n, ld ldp) · V (n×dv, ld ldv).
 * alpha may be NULL (meaning 1). */
SIMDATTN_API simdattn_status simdattn_pv(simdattn_isa isa, size_t m, size_t n,
                                         size_t dv, const float *p, size_t ldp,
                                         const float *v, size_t ldv,
                                         const float *alpha, float *o,
                                         size_t ldo);

/* Soft-capping of scale·S in place (see simdattn_kernels.softcap).
 * INVALID_ARGUMENT also for cap NaN, infinite or ≤ 0. */
SIMDATTN_API simdattn_status simdattn_softcap(simdattn_isa isa, size_t m,
                                              size_t n, float scale,
                                              float cap, float *s,
                                              size_t lds, unsigned flags);

/* Widen n 16-bit KV elements (dtype SIMDATTN_F16 or SIMDATTN_BF16) to
 * fp32, exactly (see simdattn_kernels.widen): for engines that convert
 * their own cache rows.  INVALID_ARGUMENT also for dtype SIMDATTN_F32 or
 * not a simdattn_dtype value, and for src's n elements overlapping dst's
 * n floats; SIZE_OVERFLOW when dst's bytes do not fit in size_t or run
 * past the end of the address space. */
SIMDATTN_API simdattn_status simdattn_widen(simdattn_isa isa,
                                            simdattn_dtype dtype, size_t n,
                                            const uint16_t *src, float *dst);

/* ------------------------------------------------------------------ */
/* Fused forward                                                       */
/* ------------------------------------------------------------------ */
/* A 4-d tensor [batch][head][seq][dim] given by its base pointer and the
 * element stride of each of the first three axes (the last axis is
 * contiguous).  BHSD: {H·S·D, S·D, D}; BSHD: {S·H·D, D, H·D}. */
typedef struct simdattn_tensor {
    const void *data; /* float elements; for K and V, kv_dtype's type */
    size_t stride_batch, stride_head, stride_seq;
} simdattn_tensor;

typedef struct simdattn_forward_desc {
    size_t batch;     /* ≥ 1 */
    size_t q_heads;   /* ≥ 1 */
    size_t kv_heads;  /* ≥ 1, divides q_heads (GQA/MQA: query head h uses
                         KV head h / (q_heads / kv_heads)) */
    size_t q_len;     /* Nq ≥ 1 */
    size_t kv_len;    /* Nk ≥ 1 */
    size_t head_dim;  /* d ≥ 1, for Q and K (and V, O unless head_dim_v) */
    size_t head_dim_v; /* d_v for V and O (MLA-style d_v ≠ d); 0: head_dim */
    float scale;      /* 0 means 1/sqrt(head_dim); else finite and > 0 */
    float softcap;    /* cap > 0: logits become cap·tanh(logit / cap)
                         (Gemma-2 style); 0: off; else finite and ≥ 0 */
    unsigned flags;   /* SIMDATTN_CAUSAL, and SIMDATTN_DETERMINISTIC or
                         SIMDATTN_FAST_EXP, or 0 */
    simdattn_tensor q, k, v;
    simdattn_dtype kv_dtype; /* element type of k and v (0: SIMDATTN_F32) */
    /* Output [batch][q_heads][q_len][d_v]; must not overlap any input. */
    float *o;
    size_t o_stride_batch, o_stride_head, o_stride_seq;
    /* Optional additive mask [batch][q_heads][q_len][kv_len]: data == NULL
     * for none; any of its three strides may be 0 to broadcast that axis
     * (the key axis is contiguous). */
    simdattn_tensor mask;
    /* Optional boolean key mask [batch][kv_len] (key padding): key j of
     * entry b is kept iff key_mask[b·key_mask_stride_batch + j] ≠ 0.
     * NULL for none; stride 0 shares one row across the batch.  A removed
     * key inside a computed block is still read (see the NaN policy at the
     * top); a tail of unwritten KV slots is better cut off with kv_lens. */
    const unsigned char *key_mask;
    size_t key_mask_stride_batch;
    /* Sliding window width W ≥ 1 (local attention); 0: off.  With
     * SIMDATTN_CAUSAL row i sees p − W < j ≤ p, without it |p − j| < W. */
    size_t window;
    /* Optional per-entry KV lengths [batch], each ≤ kv_len (0 allowed):
     * entry b attends to its first kv_lens[b] keys only, and its causal
     * diagonal and window are aligned to that length (ragged batches in
     * one padded KV tensor).  NULL: every entry has kv_len keys. */
    const size_t *kv_lens;
    simdattn_isa isa; /* SIMDATTN_ISA_AUTO or an explicit ISA */
    /* simdattn_forward: run on up to this many OpenMP threads (0 or 1:
     * the calling thread; builds without OpenMP run on the calling
     * thread).  Task interface: how many workers the caller will run the
     * items on, a hint that sizes the items (1: one item per batch entry
     * and KV head, K packed once; 0: unknown, the finest items).  The
     * result is the same bits for every value. */
    unsigned threads;
    /* Task interface only (ignored by simdattn_forward): caller memory of
     * simdattn_forward_task_phases' partials_bytes for the split-KV
     * partials of the decode path, which lets the splits of one KV head
     * run as separate items (two phases, see there).  NULL: each item
     * runs every split of its KV head itself (one phase). */
    void *partials;
} simdattn_forward_desc;

/*
 * Which keys a query row sees.  For batch entry b let L = kv_lens[b] (or
 * kv_len) and, for query row i, p = i + L − q_len: the row's position on
 * the key axis, aligned to the end as when decoding against a KV cache.
 * Key j is visible to row i iff every enabled condition holds:
 *     j < L                          always
 *     j ≤ p                          SIMDATTN_CAUSAL
 *     p − W < j                      window W, causal
 *     |p − j| < W                    window W, not causal (symmetric)
 *     key_mask[b][j] ≠ 0             key_mask given
 * The visible keys of a row form an interval [lo_i, hi_i) (key_mask
 * aside).  Key blocks outside every row's interval in a tile of query
 * rows, and blocks the key mask removes entirely, are neither computed
 * nor read (their K, V and mask values are never touched); blocks
 * crossing an edge have their removed logits set to −inf.  A row that
 * sees no key (or whose mask removes every visible key) gives exact
 * zeros.
 *
 * Logit of a visible key, in this order (fp32, each step rounded):
 *     s = q·k_j                      Q·Kᵀ kernel
 *     y = scale·s
 *     y = cap·tanh(y / cap)          softcap > 0 (softcap kernel)
 *     x = y + mask[b][h][i][j]       additive mask given
 * then the online softmax over the visible x and O = Σ_j w_j v_j.  With
 * soft-capping, the mask is added to the capped logit, so a −inf there
 * still removes a key.  Removed keys get −inf before the mask is added: a
 * +Inf or NaN mask value at a removed key in a block crossing an edge
 * still gives NaN (NaN policy); elsewhere removed keys' mask values are
 * unused.
 *
 * Error bound: the forward bound of the numerical policy, with the logit
 * error of soft-capping (tanh ≤ 2.5 ULP, its derivative ≤ 1, three
 * roundings) added; tests/oracle.c has the derivation.
 *
 * Work items.  A forward is split into independent items, one per (batch
 * entry, KV head, chunk of query rows): an item packs the keys its rows
 * can see once and computes every query head of that KV head's group
 * (GQA/MQA) for those rows.  Items write disjoint output rows and never
 * share a reduction, so the result is the same bits for every order of
 * execution and every thread count.  With a 16-bit kv_dtype, an item
 * widens the keys it packs, and their V rows once into its workspace,
 * which grows by kv_len·d_v floats (plus one K panel): the fp32 kernels
 * then run unchanged (forward/<isa>/P128-f16 and -bf16 run at 1.00× the
 * time of fp32 P128 with AVX-512 on Zen 4, 0.95× with AVX2).
 */

/*
 * Decode path.  When q_len ≤ SIMDATTN_DECODE_MAX_Q and the rows of one GQA
 * group, (q_heads / kv_heads)·q_len, are at most SIMDATTN_DECODE_MAX_ROWS,
 * the forward decodes: for each (batch entry, KV head) all of the group's
 * query rows go against one pass over their K and V rows, read as they
 * lie (no packing; kernels qk_kv and pv_kv), in online-softmax blocks of
 * 256 keys starting at the first visible key rounded down to 32, as the
 * tiled path's blocks.  Everything above applies
 * (visibility, masks, soft-capping, d_v, flags, NaN policy); fp16 and
 * bf16 KV (kv_dtype) are supported on this path only, and any other
 * forward with kv_dtype ≠ SIMDATTN_F32 returns UNSUPPORTED_ISA.
 *
 * Split-KV.  The blocks of a KV head are cut into splits of
 * SIMDATTN_DECODE_SPLIT_KEYS keys (the last may be shorter); a forward
 * has ⌈kv_len / SIMDATTN_DECODE_SPLIT_KEYS⌉ splits per KV head, a number
 * that depends on kv_len only, never on threads, so the bits do not
 * either.  Each split reduces its keys to a partial (max m_c, sum l_c,
 * unnormalised output Õ_c) per row, and a merge combines them exactly:
 * a_c = e^(m_c − M) with M = max m_c (the online softmax kernel on the
 * row of m_c), l = Σ a_c·l_c and O = (Σ a_c·Õ_c) / l (the pv kernel).
 * With one split the result is the tiled path's arithmetic; each further
 * split adds at most one rescale level to the forward bound (tests/
 * oracle.c, its `splits`).  simdattn_forward runs the splits of every KV
 * head as separate items when it has more than one thread.
 */
#define SIMDATTN_DECODE_MAX_Q 8
#define SIMDATTN_DECODE_MAX_ROWS 64
#define SIMDATTN_DECODE_SPLIT_KEYS 2048

/*
 * Fused attention forward.  Errors:
 *   INVALID_ARGUMENT  desc, q/k/v data or o NULL; a size 0; q_heads not a
 *                     multiple of kv_heads; scale NaN, Inf or < 0 (-0
 *                     counts as 0); softcap NaN, Inf or < 0; a kv_lens
 *                     entry > kv_len; flag bits other than SIMDATTN_CAUSAL |
 *                     SIMDATTN_DETERMINISTIC | SIMDATTN_FAST_EXP, or both
 *                     of the last two; isa not a simdattn_isa value;
 *                     kv_dtype not a simdattn_dtype value;
 *                     q.stride_seq < head_dim (when q_len > 1),
 *                     k.stride_seq < head_dim or v.stride_seq < d_v (when
 *                     kv_len > 1), a mask
 *                     stride_seq neither 0 nor ≥ kv_len (when q_len > 1);
 *                     rows of O that could share an element: sorted by
 *                     stride, each O axis with more than one index must
 *                     step over everything the smaller ones span (this
 *                     rejects every overlap, and a few exotic interleaved
 *                     layouts that do not overlap); the address range of
 *                     O overlapping that of Q, K, V or the mask (from the
 *                     first element to one past the last), or that of
 *                     the key mask or kv_lens.
 *   SIZE_OVERFLOW     the extent of a tensor (Σ (count−1)·stride + row, in
 *                     bytes: 2 per K and V element with a 16-bit
 *                     kv_dtype) or of the workspace overflows size_t or runs
 *                     past the end of the address space.
 *   OUT_OF_MEMORY     the workspace (one item's workspace per thread) could
 *                     not be allocated.
 *   UNSUPPORTED_ISA   desc->isa is valid but cannot run here.
 */
SIMDATTN_API simdattn_status simdattn_forward(const simdattn_forward_desc *desc);

/*
 * Task interface, for engines that schedule work on their own threads.
 *
 * simdattn_forward_tasks validates desc (errors as simdattn_forward, minus
 * OUT_OF_MEMORY; INVALID_ARGUMENT for a NULL count or workspace_bytes) and
 * returns the number of work items (see "Work items") and the bytes of
 * workspace one item needs.  simdattn_forward_run_task
 * runs item `index` (< count) with a caller-owned workspace of at least
 * that many bytes, aligned to at least 4 bytes (64 recommended), that no
 * other call uses at the same time and that overlaps no tensor of desc.
 *
 * Any items may run concurrently, in any order, each exactly once, on any
 * threads; once all have returned OK, O holds exactly what
 * simdattn_forward(desc) writes (same bits).  Neither call keeps state:
 * desc and the tensors must stay unchanged until the last item returns.
 * desc->threads sizes the items (see its field); both calls must see the
 * same value.  run_task validates desc again on every
 * call (O(1), plus O(batch) with kv_lens), which is what lets it keep no
 * state; it also returns INVALID_ARGUMENT for index ≥ count, a NULL or
 * misaligned workspace, or one overlapping a tensor; on error it writes
 * nothing.
 */
SIMDATTN_API simdattn_status simdattn_forward_tasks(
    const simdattn_forward_desc *desc, size_t *count,
    size_t *workspace_bytes);
/*
 * Two phases, for split-KV on the engine's threads.  partials_bytes gets
 * the bytes desc->partials must hold for the splits of a decode forward to
 * run as separate items (0 when the forward has nothing to split: then
 * desc->partials is ignored).  first_merge gets the number of items of the
 * first phase for desc as given: with desc->partials set (and
 * partials_bytes > 0) items [0, first_merge) each compute one split into
 * desc->partials, and items [first_merge, count) each merge one KV head's
 * splits into O; every item of the first phase must have returned before
 * any item of the second starts (a barrier), and within a phase the rules
 * above hold.  Otherwise first_merge = count: one phase, as above.  The
 * partials memory must be aligned to 4 bytes (64 recommended), overlap no
 * tensor of desc nor any item's workspace, and is used by the call alone
 * until its last item returns; O gets the same bits either way.  Errors
 * as simdattn_forward_tasks (INVALID_ARGUMENT for NULL outputs, and for a
 * misaligned or overlapping desc->partials when it is used; run_task
 * checks the same).
 */
SIMDATTN_API simdattn_status simdattn_forward_task_phases(
    const simdattn_forward_desc *desc, size_t *first_merge,
    size_t *partials_bytes);
SIMDATTN_API simdattn_status simdattn_forward_run_task(
    const simdattn_forward_desc *desc, size_t index, void *workspace);

#ifdef __cplusplus
}
#endif
#endif /* SIMDATTN_H */
