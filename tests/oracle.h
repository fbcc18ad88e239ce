/*
 * Double-precision oracle: naive three-pass attention (logits, softmax,
 * weighted sum) in double for one head, plus, for every output element,
 * the error bound an fp32 forward must meet (derivation in oracle.c).
 */
#ifndef SA_TEST_ORACLE_H
#define SA_TEST_ORACLE_H

#include <stddef.h>

#include "simdattn.h"

typedef struct oracle_head {
    size_t nq, nk, d;  /* nk: this entry's KV length (kv_lens[b] if given;
                          0 allowed) */
    float scale;       /* already resolved (never 0 meaning default) */
    int causal;        /* key j visible to row i iff j ≤ p = i + nk − nq */
    const float *q; size_t ldq;
    const float *k; size_t ldk;
    const float *v; size_t ldv;
    const float *mask; size_t ldm; /* NULL for none; ldm 0 broadcasts */
    size_t block;      /* keys per online-softmax block of the kernel */
    size_t dv;         /* columns of V and O; 0 means d */
    float softcap;     /* cap > 0: logit y becomes cap·tanh(y/cap) */
    size_t window;     /* W > 0: causal p − W < j, else |p − j| < W */
    const unsigned char *keep; /* NULL, or key j visible only if keep[j] */
    double exp_ulp;    /* the exp's error bound in ULPs (exp_mode.ulp);
                          0 means 1 (SLEEF u10, glibc) */
    size_t splits;     /* split-KV partials the forward merges (decode
                          path, simdattn.h); 0 or 1: none */
} oracle_head;

/* oracle_head.splits for a forward of nq query rows, `group` query heads
 * per KV head and nk keys: the decode path's split count (simdattn.h), 0
 * when the tiled path runs it. */
static inline size_t oracle_splits(size_t nq, size_t group, size_t nk) {
    int decode = nq <= SIMDATTN_DECODE_MAX_Q && group <= SIMDATTN_DECODE_MAX_ROWS &&
                 group * nq <= SIMDATTN_DECODE_MAX_ROWS;
    return decode ? (nk + SIMDATTN_DECODE_SPLIT_KEYS - 1) / SIMDATTN_DECODE_SPLIT_KEYS : 0;
}

/* o and bound: nq×dv, row-major.  A row with no visible key gets o = 0 and
 * bound = 0: the library must return exact zeros there. */
void oracle_attention(const oracle_head *h, double *o, double *bound);
/* The same for a forward that reads K and V rounded to a 16-bit type (an
 * fp16/bf16 KV cache) while h holds them in fp32 before rounding: o is
 * the exact result of h's values, bound adds the rounding, each element
 * within kv_u·|x| + kv_abs of x (derivation in oracle.c). */
void oracle_attention_kv(const oracle_head *h, double kv_u, double kv_abs,
                         double *o, double *bound);

/* Q·Kᵀ of one pair of rows, with Σ|q_k·k_k| for the bound. */
double oracle_dot(const float *a, const float *b, size_t n, double *abs_sum);

/* Softmax of one row from a softmax kernel's own fp32 inputs: with
 * x_j = scale·s_j + mrow_j exact in double (mrow may be NULL),
 * p_j = e^(x_j − max x) / Σ.  eta[j] gets the relative error bound of the
 * kernel's e_j (derivation in oracle.c), its exp being within exp_ulp
 * ULPs.  Returns max_j eta[j], or −1 when every key is masked (p = 0: the
 * kernel must return exact zeros). */
double oracle_softmax_row(size_t n, float scale, const float *s,
                          const float *mrow, double exp_ulp, double *p,
                          double *eta);

/* Bound on |p̂_j − p_j| for a row of n keys fed to a softmax kernel in
 * `blocks` online blocks (0: the plain kernel), `range` being max − min of
 * its live logits, its exp within exp_ulp ULPs; eta_max is
 * oracle_softmax_row's return value. */
double oracle_softmax_bound(double p, double eta, double eta_max, size_t n,
                            size_t blocks, double range, double exp_ulp);

#endif
