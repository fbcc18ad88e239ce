/*
 * Fused attention forward, ISA-independent: it calls only the kernel table.
 *
 * Algorithm (flash attention with an online softmax).  For one query row q
 * and keys/values k_j, v_j, with logits x_j = scale·q·k_j + mask_j:
 *
 *     O = Σ_j e^(x_j − m) v_j / Σ_j e^(x_j − m),   m = max_j x_j.
 *
 * Keys are visited in blocks B_1, B_2, … while three running quantities are
 * kept per row: m (max so far), l (Σ e^(x − m) so far) and the unnormalised
 * output Õ (Σ e^(x − m) v so far).  A new block with block max m_B gives
 *
 *     m' = max(m, m_B),   α = e^(m − m'),
 *     l' = α·l + Σ_{j∈B} e^(x_j − m'),   Õ' = α·Õ + Σ_{j∈B} e^(x_j − m') v_j,
 *
 * and after the last block O = Õ / l.  Every rescale is exact algebra, so
 * the result equals the three-pass softmax up to rounding, while only one
 * MB×NB tile of logits ever exists (no Nq×Nk matrix).
 *
 * Loop nest, per batch entry b and KV head g:
 *   pack K[b,g] once (kernels->qk_nr-wide panels) — reused by every query
 *   head of the GQA group and every query tile;
 *   for each query head h of the group, each tile of MB query rows:
 *     for each block of NB keys that the tile can see:
 *       S  = Q_tile · K_blockᵀ          (kernels->qk)
 *       causal diagonal blocks: logits above the diagonal set to −inf
 *       S  = online softmax of scale·S + mask   (kernels->softmax_online)
 *       Õ  = α ⊙ Õ + S · V_block        (kernels->pv)
 *     O_tile = Õ / l  (0 for rows with nothing to attend to)
 * Causal attention (key j visible to query i iff j ≤ i + Nk − Nq) stops
 * each tile at its last visible key, so blocks wholly above the diagonal
 * are never computed, and masks only the blocks the diagonal crosses.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/*
 * Tile sizes, measured with AVX-512 on Zen 4 (1 MiB L2 per core).
 * MB = 42 query rows: a multiple of every micro-kernel's row block
 * (AVX-512 Q·Kᵀ 14, P·V 6; AVX2 and NEON 6), so only a head's last tile
 * ends in a short block.  A causal tile computes the keys up to its last
 * row, so its diagonal block wastes MB/2 keys per row on average: 2% of
 * P128c at MB = 42 against 4% at 84 (measured: P128c +1–2%, P64 and P128
 * unchanged; 126 and 168 were slower on all three).
 * NB = 256 keys: a multiple of every panel width (4, 16, 32); the softmax's
 * fixed cost per row and block (two reductions, the α exp) and the α
 * rescale of Õ spread over 256 keys (128 → 256: +1–2% on P64, P128 and
 * P128c; 512 gained nothing more).
 * Working set of one block step at d = 128: Q tile 21 KiB + S tile 42 KiB
 * + Õ 21 KiB stay in L1/L2; the K and V blocks (128 KiB each) come from
 * L2, or from L3 once per tile when a head's K and V exceed L2: 2·Nk·d·4
 * bytes per 4·MB·Nk·d flops, about 5 GB/s at 100 GFLOP/s.  Total 340 KiB,
 * a third of L2.
 */
enum { MB = 42, NB = 256 };
/* Floats per 64-byte cache line. */
enum { LINE = 16 };
_Static_assert(MB * NB % LINE == 0, "the logits tile ends on a line");

/* n floats rounded up to whole lines; *ovf on overflow. */
static size_t whole_lines(size_t n, int *ovf) {
    return sa_add(n, LINE - 1, ovf) / LINE * LINE;
}

/* One past the furthest element a [n0][n1][n2][dim] strided tensor
 * touches, in elements; *ovf on overflow. */
static size_t extent(size_t n0, size_t s0, size_t n1, size_t s1, size_t n2,
                     size_t s2, size_t dim, int *ovf) {
    size_t e = sa_mul(n0 - 1, s0, ovf);
    e = sa_add(e, sa_mul(n1 - 1, s1, ovf), ovf);
    e = sa_add(e, sa_mul(n2 - 1, s2, ovf), ovf);
    e = sa_add(e, dim, ovf);
    sa_mul(e, sizeof(float), ovf);
    return e;
}

/* Distinct (b, h, s) rows of the output must not share an element: sort
 * the axes that have more than one index by stride; each stride must step
 * over everything the smaller axes span. */
static int output_rows_disjoint(const simdattn_forward_desc *d) {
    size_t ext[3] = {d->batch, d->q_heads, d->q_len};
    size_t str[3] = {d->o_stride_batch, d->o_stride_head, d->o_stride_seq};
    for (int a = 0; a < 3; a++) /* insertion sort by stride */
        for (int b = a; b > 0 && str[b] < str[b - 1]; b--) {
            size_t t = str[b]; str[b] = str[b - 1]; str[b - 1] = t;
            t = ext[b]; ext[b] = ext[b - 1]; ext[b - 1] = t;
        }
    size_t span = d->head_dim; /* already checked not to overflow */
    for (int a = 0; a < 3; a++) {
        if (ext[a] <= 1)
            continue;
        if (str[a] < span)
            return 0;
        span = str[a] * (ext[a] - 1) + span;
    }
    return 1;
}

static simdattn_status validate(const simdattn_forward_desc *d) {
    if (!d || !d->q.data || !d->k.data || !d->v.data || !d->o)
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    if (!d->batch || !d->q_heads || !d->kv_heads || !d->q_len ||
        !d->kv_len || !d->head_dim || d->q_heads % d->kv_heads != 0)
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    if ((d->flags & ~(SIMDATTN_CAUSAL | SA_EXP_FLAGS)) != 0 ||
        !sa_exp_flags_valid(d->flags))
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    if (!isfinite(d->scale) || d->scale < 0.0f)
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    size_t dim = d->head_dim, b = d->batch, hq = d->q_heads;
    size_t hk = d->kv_heads, nq = d->q_len, nk = d->kv_len;
    /* Input rows step over a whole row, as ld ≥ cols in the stage API; a
     * sequence axis with one index has no step to check.  The mask's
     * stride 0 broadcasts one row. */
    if ((nq > 1 && d->q.stride_seq < dim) ||
        (nk > 1 && (d->k.stride_seq < dim || d->v.stride_seq < dim)) ||
        (d->mask.data && nq > 1 && d->mask.stride_seq != 0 &&
         d->mask.stride_seq < nk))
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    int ovf = 0;
    sa_span q = sa_span_of(d->q.data,
                           extent(b, d->q.stride_batch, hq, d->q.stride_head,
                                  nq, d->q.stride_seq, dim, &ovf), &ovf);
    sa_span k = sa_span_of(d->k.data,
                           extent(b, d->k.stride_batch, hk, d->k.stride_head,
                                  nk, d->k.stride_seq, dim, &ovf), &ovf);
    sa_span v = sa_span_of(d->v.data,
                           extent(b, d->v.stride_batch, hk, d->v.stride_head,
                                  nk, d->v.stride_seq, dim, &ovf), &ovf);
    sa_span o = sa_span_of(d->o,
                           extent(b, d->o_stride_batch, hq, d->o_stride_head,
                                  nq, d->o_stride_seq, dim, &ovf), &ovf);
    sa_span m = {0, 0};
    if (d->mask.data)
        m = sa_span_of(d->mask.data,
                       extent(b, d->mask.stride_batch, hq,
                              d->mask.stride_head, nq, d->mask.stride_seq,
                              nk, &ovf), &ovf);
    if (ovf)
        return SIMDATTN_ERR_SIZE_OVERFLOW;
    if (!output_rows_disjoint(d))
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    if (sa_spans_overlap(o, q) || sa_spans_overlap(o, k) ||
        sa_spans_overlap(o, v) || sa_spans_overlap(o, m))
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    return SIMDATTN_OK;
}

/* Logits of row i (query q0+i) at key j0+j are removed when
 * j0 + j > q0 + i + shift (causal, shift = Nk − Nq). */
static void mask_diagonal(size_t mb, size_t nb, ptrdiff_t q0, ptrdiff_t j0,
                          ptrdiff_t shift, float *s) {
    for (size_t i = 0; i < mb; i++) {
        ptrdiff_t last = q0 + (ptrdiff_t)i + shift - j0; /* last visible j */
        size_t from = last < 0 ? 0 : (size_t)last + 1;
        for (size_t j = from; j < nb; j++)
            s[i * NB + j] = -INFINITY;
    }
}

simdattn_status simdattn_forward(const simdattn_forward_desc *d) {
    simdattn_status st = validate(d);
    if (st != SIMDATTN_OK)
        return st;
    const simdattn_kernels *t = sa_table(d->isa, &st);
    if (!t)
        return st;

    const size_t dim = d->head_dim, nq = d->q_len, nk = d->kv_len;
    const size_t group = d->q_heads / d->kv_heads;
    const float scale = d->scale != 0.0f ? d->scale : 1.0f / sqrtf((float)dim);
    const int causal = (d->flags & SIMDATTN_CAUSAL) != 0;
    const ptrdiff_t shift = (ptrdiff_t)nk - (ptrdiff_t)nq;

    /* Workspace: packed K, the logits tile, Õ (rows padded to whole lines)
     * and three row vectors, each piece starting on a 64-byte line, so the
     * kernels' vector loads of them never straddle two lines. */
    int ovf = 0;
    const size_t kp_floats = simdattn_packed_k_size(t, nk, dim);
    const size_t kp_space = whole_lines(kp_floats, &ovf);
    const size_t ldacc = whole_lines(dim, &ovf);
    const size_t acc_floats = sa_mul(MB, ldacc, &ovf);
    size_t ws_floats = sa_add(sa_add(kp_space, MB * NB, &ovf), acc_floats, &ovf);
    ws_floats = whole_lines(sa_add(ws_floats, 3 * MB, &ovf), &ovf);
    sa_mul(ws_floats, sizeof(float), &ovf);
    if (!kp_floats || ovf)
        return SIMDATTN_ERR_SIZE_OVERFLOW;
    float *ws = aligned_alloc(LINE * sizeof(float), ws_floats * sizeof(float));
    if (!ws)
        return SIMDATTN_ERR_OUT_OF_MEMORY;
    float *kp = ws, *s = kp + kp_space, *acc = s + MB * NB;
    float *row_max = acc + acc_floats, *row_sum = row_max + MB;
    float *alpha = row_sum + MB;

    for (size_t b = 0; b < d->batch; b++) {
        for (size_t g = 0; g < d->kv_heads; g++) {
            const float *kh = d->k.data + b * d->k.stride_batch +
                              g * d->k.stride_head;
            const float *vh = d->v.data + b * d->v.stride_batch +
                              g * d->v.stride_head;
            sa_pack_k(t->qk_nr, nk, dim, kh, d->k.stride_seq, kp);
            for (size_t h = g * group; h < (g + 1) * group; h++) {
                const float *qh = d->q.data + b * d->q.stride_batch +
                                  h * d->q.stride_head;
                float *oh = d->o + b * d->o_stride_batch +
                            h * d->o_stride_head;
                const float *mh =
                    d->mask.data ? d->mask.data + b * d->mask.stride_batch +
                                       h * d->mask.stride_head
                                 : NULL;
                for (size_t q0 = 0; q0 < nq; q0 += MB) {
                    size_t mb = nq - q0 < MB ? nq - q0 : MB;
                    /* keys visible to the tile's last row */
                    size_t kend = nk;
                    if (causal) {
                        ptrdiff_t e = (ptrdiff_t)(q0 + mb) + shift;
                        kend = e <= 0 ? 0 : (size_t)e < nk ? (size_t)e : nk;
                    }
                    memset(acc, 0, mb * ldacc * sizeof(float));
                    for (size_t i = 0; i < mb; i++) {
                        row_max[i] = -INFINITY;
                        row_sum[i] = 0.0f;
                    }
                    for (size_t j0 = 0; j0 < kend; j0 += NB) {
                        size_t nb = kend - j0 < NB ? kend - j0 : NB;
                        t->qk(mb, nb, dim, qh + q0 * d->q.stride_seq,
                              d->q.stride_seq, kp + j0 * dim, s, NB);
                        if (causal &&
                            (ptrdiff_t)(j0 + nb) - 1 > (ptrdiff_t)q0 + shift)
                            mask_diagonal(mb, nb, (ptrdiff_t)q0,
                                          (ptrdiff_t)j0, shift, s);
                        const float *mt =
                            mh ? mh + q0 * d->mask.stride_seq + j0 : NULL;
                        t->softmax_online(mb, nb, scale, mt,
                                          d->mask.stride_seq, s, NB, row_max,
                                          row_sum, alpha,
                                          d->flags & SA_EXP_FLAGS);
                        t->pv(mb, nb, dim, s, NB,
                              vh + j0 * d->v.stride_seq, d->v.stride_seq,
                              alpha, acc, ldacc);
                    }
                    /* l = 0 only when every key of the row was removed
                     * (otherwise its max key adds e^0 = 1): write exact
                     * zeros, not acc·0, which a NaN or Inf in a V row the
                     * tile shares would turn into NaN. */
                    for (size_t i = 0; i < mb; i++) {
                        float l = row_sum[i];
                        float inv = l == 0.0f ? 0.0f : 1.0f / l;
                        float *orow = oh + (q0 + i) * d->o_stride_seq;
                        for (size_t c = 0; c < dim; c++)
                            orow[c] = l == 0.0f ? 0.0f : acc[i * ldacc + c] * inv;
                    }
                }
            }
        }
    }
    free(ws);
    return SIMDATTN_OK;
}
