/*
 * Fused attention forward, ISA-independent: it calls only the kernel table.
 * This file is the tiled (prefill) path and the entry points; a forward of
 * at most SIMDATTN_DECODE_MAX_Q query rows runs the decode path of
 * kernels/decode.c (one pass over K/V per GQA group, split-KV with a
 * log-sum-exp merge: the formulas are there), chosen in prepare().
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
 * Visibility (definitions in simdattn.h).  Causality, the sliding window
 * and the per-entry KV length give each query row i one interval of
 * visible keys [lo_i, hi_i); lo_i and hi_i never decrease with i.  So a
 * tile of rows sees the union [lo of its first non-empty row, hi of its
 * last row), and only the key blocks meeting that union are computed.  A
 * block that some row's interval does not cover whole (it crosses an
 * edge) gets −inf written into S outside each row's interval before the
 * softmax; the boolean key mask writes −inf into its removed columns, and
 * a block it removes whole is skipped.  −inf logits get weight exactly 0.
 *
 * Work items: one per (chunk of query tiles, batch entry b, KV head g).
 * An item
 *   packs the keys of K[b,g] its rows can see (kernels->qk_nr-wide panels)
 *   once — reused by every tile of the chunk and every query head h of
 *   the GQA group; with an fp16/bf16 cache (desc->kv_dtype) it widens
 *   each panel's keys first (kernels->widen) and those keys' V rows once
 *   into its workspace, so the fp32 kernels below run unchanged, and,
 *   widening being exact, give the bits of an fp32 cache of those values;
 *   for each tile of MB rows, each query head h of the group:
 *     for each block of NB keys the tile can see:
 *       S  = Q_tile · K_blockᵀ          (kernels->qk)
 *       S  = cap·tanh(scale·S / cap)    (kernels->softcap, if capping)
 *       crossing blocks: logits outside each row's interval set to −inf
 *       S  = online softmax of scale·S + mask   (kernels->softmax_online;
 *            scale 1 when softcap already applied it)
 *       Õ  = α ⊙ Õ + S · V_block        (kernels->pv)
 *     O_tile = Õ / l  (exact 0 for rows with nothing to attend to)
 * A tile's key blocks start at its first visible key rounded down to a
 * multiple of 32 and follow every NB keys, whatever ISA or item runs it,
 * so the blocking — and with it the rounding of the online softmax — is
 * the same for every ISA and every item schedule.  Items write disjoint rows of O
 * and share nothing but read-only inputs, which is what makes the task
 * interface and the OpenMP loop give identical bits for any thread count.
 *
 * Item granularity.  Packing K once per item costs about as much as a
 * quarter of one 84-row tile's work: on P128x8 (8 heads, Nq = Nk = 2048,
 * d = 128, AVX-512, CPU time, then MB = 84) items of 84 query rows took
 * 26% longer than packing once per head, 168 rows 13%, 336 rows 4.5%,
 * 672 rows 1.5%; GQA 4:1 with 84 rows (336 head-rows) 7%.  Whole-head
 * items, though, leave B·H_kv items (8 here), too few for 16 threads.  So
 * items are sized for the number of workers W (desc->threads; the task
 * interface takes it as a hint, 0 = unknown): one worker gets whole heads;
 * W > 1 get about 4·W items, as long as each packing still serves at
 * least ITEM_HEAD_ROWS = 336 query-head rows, the finest split, which is
 * also what W = 0 gets (P128x8 on 16 threads: 56 items, a simulated
 * dynamic schedule at 96% efficiency).  The split changes which item
 * packs K, never a tile or its key blocks, so the bits stay the same for
 * every W.  Items are numbered
 * from the last chunk: under causality later rows see more keys, so a
 * dynamic scheduler taking items in index order runs the longest first,
 * and the short chunk left over (the first rows) last.
 */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

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
enum { MB = SA_FORWARD_MB, NB = SA_FORWARD_NB };
/* Floats per 64-byte cache line. */
enum { LINE = 16 };
_Static_assert(MB * NB % LINE == 0, "the logits tile ends on a line");

/* n floats rounded up to whole lines; *ovf on overflow. */
static size_t whole_lines(size_t n, int *ovf) {
    return sa_add(n, LINE - 1, ovf) / LINE * LINE;
}

/* One past the furthest element a [n0][n1][n2][dim] strided tensor of
 * `size`-byte elements touches, in bytes; *ovf on overflow. */
static size_t extent(size_t n0, size_t s0, size_t n1, size_t s1, size_t n2,
                     size_t s2, size_t dim, size_t size, int *ovf) {
    size_t e = sa_mul(n0 - 1, s0, ovf);
    e = sa_add(e, sa_mul(n1 - 1, s1, ovf), ovf);
    e = sa_add(e, sa_mul(n2 - 1, s2, ovf), ovf);
    e = sa_add(e, dim, ovf);
    return sa_mul(e, size, ovf);
}

/* Distinct (b, h, s) rows of the output must not share an element: sort
 * the axes that have more than one index by stride; each stride must step
 * over everything the smaller axes span. */
static int output_rows_disjoint(const simdattn_forward_desc *d, size_t dv) {
    size_t ext[3] = {d->batch, d->q_heads, d->q_len};
    size_t str[3] = {d->o_stride_batch, d->o_stride_head, d->o_stride_seq};
    for (int a = 0; a < 3; a++) /* insertion sort by stride */
        for (int b = a; b > 0 && str[b] < str[b - 1]; b--) {
            size_t t = str[b]; str[b] = str[b - 1]; str[b - 1] = t;
            t = ext[b]; ext[b] = ext[b - 1]; ext[b - 1] = t;
        }
    size_t span = dv; /* already checked not to overflow */
    for (int a = 0; a < 3; a++) {
        if (ext[a] <= 1)
            continue;
        if (str[a] < span)
            return 0;
        span = str[a] * (ext[a] - 1) + span;
    }
    return 1;
}

size_t sa_forward_block_keys(void) { return NB; }

/* A work item covers ⌈ITEM_HEAD_ROWS / (group·MB)⌉ query tiles, so that
 * each packing of K serves at least ITEM_HEAD_ROWS query-head rows
 * (measured choice: see the header comment). */
enum { ITEM_HEAD_ROWS = 336, ITEMS_PER_WORKER = 4 };

/* A tile's first key block starts at its first visible key rounded down
 * to KEY_ALIGN, then blocks follow every NB keys.  32 is a multiple of
 * every panel width (kernels/isa.inc), so block offsets in packed K are
 * whole panels, and it depends on no ISA, so neither does the blocking.
 * Aligning to NB instead would compute up to NB − 1 extra keys per row of
 * a sliding-window tile. */
enum { KEY_ALIGN = 32 };

size_t sa_forward_key_align(void) { return KEY_ALIGN; }

/* Everything a call derives from its descriptor, computed once and then
 * only read by the work items. */
typedef struct plan {
    const simdattn_forward_desc *d;
    const simdattn_kernels *t;
    size_t dk, dv, group, count;
    size_t tiles, chunks; /* query tiles; items (chunks of tiles) per
                             (b, g) */
    float scale, cap;   /* resolved scale; cap 0 = no soft-capping */
    sa_visibility vis;  /* window 0 = none; clamped to q_len + kv_len */
    unsigned xflags;    /* SA_EXP_FLAGS bits for the softmax/softcap kernels */
    size_t ldacc;       /* row stride of Õ: d_v rounded up to whole lines */
    size_t kp_floats, s_floats, acc_floats, row_floats, ws_floats;
    size_t tile_floats;           /* S, Õ and the three row vectors */
    size_t kbuf_floats, vw_floats; /* 16-bit K/V only: one K panel widened,
                                      and V widened (0 for fp32) */
    sa_span in[6], out; /* q, k, v, mask, key_mask, kv_lens; o */
    int decode;         /* the decode path (kernels/decode.c) runs it */
    sa_decode_plan dp;
} plan;

/* Validates d, resolves its ISA and sizes items for `workers` threads
 * (0: unknown, the finest items); nothing is written. */
static simdattn_status prepare(const simdattn_forward_desc *d, plan *pl,
                               size_t workers) {
    if (!d || !d->q.data || !d->k.data || !d->v.data || !d->o)
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    if (!d->batch || !d->q_heads || !d->kv_heads || !d->q_len ||
        !d->kv_len || !d->head_dim || d->q_heads % d->kv_heads != 0)
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    if ((d->flags & ~(SIMDATTN_CAUSAL | SA_EXP_FLAGS)) != 0 ||
        !sa_exp_flags_valid(d->flags))
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    if ((unsigned)d->kv_dtype >= SIMDATTN_DTYPE_COUNT)
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    if (!isfinite(d->scale) || d->scale < 0.0f || !isfinite(d->softcap) ||
        d->softcap < 0.0f)
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    int ovf = 0;
    size_t dk = d->head_dim, dv = d->head_dim_v ? d->head_dim_v : dk;
    size_t b = d->batch, hq = d->q_heads;
    size_t hk = d->kv_heads, nq = d->q_len, nk = d->kv_len;
    /* Input rows step over a whole row, as ld ≥ cols in the stage API; a
     * sequence axis with one index has no step to check.  The mask's
     * stride 0 broadcasts one row. */
    if ((nq > 1 && d->q.stride_seq < dk) ||
        (nk > 1 && (d->k.stride_seq < dk || d->v.stride_seq < dv)) ||
        (d->mask.data && nq > 1 && d->mask.stride_seq != 0 &&
         d->mask.stride_seq < nk))
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    const size_t fs = sizeof(float), kvs = sa_dtype_size(d->kv_dtype);
    sa_span none = {0, 0};
    sa_span q = sa_span_bytes(d->q.data,
                              extent(b, d->q.stride_batch, hq, d->q.stride_head,
                                     nq, d->q.stride_seq, dk, fs, &ovf), &ovf);
    sa_span k = sa_span_bytes(d->k.data,
                              extent(b, d->k.stride_batch, hk, d->k.stride_head,
                                     nk, d->k.stride_seq, dk, kvs, &ovf), &ovf);
    sa_span v = sa_span_bytes(d->v.data,
                              extent(b, d->v.stride_batch, hk, d->v.stride_head,
                                     nk, d->v.stride_seq, dv, kvs, &ovf), &ovf);
    sa_span o = sa_span_bytes(d->o,
                              extent(b, d->o_stride_batch, hq, d->o_stride_head,
                                     nq, d->o_stride_seq, dv, fs, &ovf), &ovf);
    sa_span m = none, km = none, kl = none;
    if (d->mask.data)
        m = sa_span_bytes(d->mask.data,
                          extent(b, d->mask.stride_batch, hq,
                                 d->mask.stride_head, nq, d->mask.stride_seq,
                                 nk, fs, &ovf), &ovf);
    if (d->key_mask) /* (b − 1)·stride + nk bytes */
        km = sa_span_bytes(d->key_mask,
                           sa_add(sa_mul(b - 1, d->key_mask_stride_batch, &ovf),
                                  nk, &ovf), &ovf);
    if (d->kv_lens) /* batch size_t values */
        kl = sa_span_bytes(d->kv_lens, sa_mul(b, sizeof(size_t), &ovf), &ovf);
    if (ovf)
        return SIMDATTN_ERR_SIZE_OVERFLOW;
    if (!output_rows_disjoint(d, dv))
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    if (sa_spans_overlap(o, q) || sa_spans_overlap(o, k) ||
        sa_spans_overlap(o, v) || sa_spans_overlap(o, m) ||
        sa_spans_overlap(o, km) || sa_spans_overlap(o, kl))
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    if (d->kv_lens)
        for (size_t i = 0; i < b; i++)
            if (d->kv_lens[i] > nk)
                return SIMDATTN_ERR_INVALID_ARGUMENT;

    simdattn_status st;
    const simdattn_kernels *t = sa_table(d->isa, &st);
    if (!t)
        return st;
    if (KEY_ALIGN % t->qk_nr != 0) /* a kernel set isa.inc must not list */
        return SIMDATTN_ERR_UNSUPPORTED_ISA;

    pl->d = d;
    pl->t = t;
    pl->dk = dk;
    pl->dv = dv;
    pl->group = hq / hk;
    pl->tiles = nq / MB + (nq % MB != 0);
    /* Chunks of query tiles per (b, g), their sizes differing by at most
     * one tile.  The finest allowed keeps ITEM_HEAD_ROWS query-head rows
     * per packing of K; one worker takes whole heads (K packed once: P128
     * on AVX-512 measured 0.82 → 0.86 of peak, P64 0.75 → 0.80); W workers
     * get about ITEMS_PER_WORKER·W items for the dynamic schedule to
     * balance, never finer than the finest.  When every item costs the
     * same (no causality, window or ragged lengths) the item count is
     * instead the smallest multiple of W, as every extra item re-packs K
     * (P128 on 2 threads: 7 equal items can reach at most 1.75×, and 6
     * measured 1.83× with 8% more CPU time than 1 thread, the packing). */
    size_t bg = sa_mul(b, hk, &ovf);
    size_t min_tiles = (ITEM_HEAD_ROWS + pl->group * MB - 1) / (pl->group * MB);
    size_t most = pl->tiles / min_tiles + (pl->tiles % min_tiles != 0);
    size_t chunks = most;
    if (workers == 1)
        chunks = 1;
    else if (workers > 1 && bg != 0) {
        size_t want = sa_mul(workers, ITEMS_PER_WORKER, &ovf);
        chunks = want / bg + (want % bg != 0);
        if (chunks > most)
            chunks = most;
        if (!(d->flags & SIMDATTN_CAUSAL) && !d->window && !d->kv_lens) {
            /* equal items: the fewest chunks that make bg·chunks a
             * multiple of W, W / gcd(bg, W), if allowed */
            size_t x = bg % workers, y = workers;
            while (x) {
                size_t t = y % x;
                y = x;
                x = t;
            }
            if (workers / y <= most)
                chunks = workers / y;
        }
    }
    pl->chunks = chunks;
    pl->count = sa_mul(bg, chunks, &ovf);
    pl->scale = d->scale != 0.0f ? d->scale : 1.0f / sqrtf((float)dk);
    pl->cap = d->softcap;
    pl->vis.q_len = nq;
    pl->vis.causal = (d->flags & SIMDATTN_CAUSAL) != 0;
    pl->vis.window = (ptrdiff_t)(d->window < nq + nk ? d->window : nq + nk);
    pl->xflags = d->flags & SA_EXP_FLAGS;
    pl->in[0] = q; pl->in[1] = k; pl->in[2] = v;
    pl->in[3] = m; pl->in[4] = km; pl->in[5] = kl;
    pl->out = o;
    pl->decode = sa_decode_plan_init(&pl->dp, d, t, pl->scale, pl->vis,
                                     NULL, &ovf);
    if (pl->decode) {
        if (ovf)
            return SIMDATTN_ERR_SIZE_OVERFLOW;
        pl->count = pl->dp.count;
        pl->ws_floats = pl->dp.ws_floats;
        return SIMDATTN_OK;
    }
    size_t kp = simdattn_packed_k_size(t, nk, dk);
    if (kp == 0)
        ovf = 1;
    /* every workspace piece (and every thread's workspace) starts on its
     * own 64-byte line, and Õ's rows too, so the kernels' vector loads of
     * them never straddle two lines */
    pl->ldacc = whole_lines(dv, &ovf);
    pl->kp_floats = whole_lines(kp, &ovf);
    pl->s_floats = whole_lines(MB * NB, &ovf);
    pl->acc_floats = sa_mul(MB, pl->ldacc, &ovf);
    pl->row_floats = whole_lines(MB, &ovf);
    pl->tile_floats = sa_add(sa_add(pl->s_floats, pl->acc_floats, &ovf),
                             3 * pl->row_floats, &ovf);
    /* A 16-bit KV cache is widened as the item reads it (widening is
     * exact, so the fp32 kernels then give the bits of an fp32 cache
     * holding the same values): K one panel of qk_nr keys at a time into
     * kbuf, then packed from there; V once per item, the rows [k0, k1) its
     * tiles read, d_v floats apart, so every tile and every query head of
     * the group reuses it.  Both are sized for the most an item reads: a
     * panel of head_dim floats per key, and all kv_len keys. */
    pl->kbuf_floats = pl->vw_floats = 0;
    if (d->kv_dtype != SIMDATTN_F32) {
        pl->kbuf_floats = whole_lines(sa_mul(t->qk_nr, dk, &ovf), &ovf);
        pl->vw_floats = whole_lines(sa_mul(nk, dv, &ovf), &ovf);
    }
    pl->ws_floats = sa_add(sa_add(pl->kp_floats, pl->tile_floats, &ovf),
                           sa_add(pl->kbuf_floats, pl->vw_floats, &ovf),
                           &ovf);
    sa_mul(pl->ws_floats, sizeof(float), &ovf);
    if (ovf)
        return SIMDATTN_ERR_SIZE_OVERFLOW;
    return SIMDATTN_OK;
}

/* Rows q0 … q0+mb−1 of query heads h0 … h0+n−1 of entry b become 0. */
static void zero_rows(const plan *pl, size_t b, size_t h0, size_t n,
                      size_t q0, size_t mb) {
    const simdattn_forward_desc *d = pl->d;
    for (size_t h = h0; h < h0 + n; h++)
        for (size_t i = q0; i < q0 + mb; i++)
            memset(d->o + b * d->o_stride_batch + h * d->o_stride_head +
                       i * d->o_stride_seq,
                   0, pl->dv * sizeof(float));
}

/* One tile: rows q0 … q0+mb−1 of every query head of KV head g's group
 * in entry b, on keys packed from key k0 (a multiple of KEY_ALIGN) in kp,
 * and V rows from key k0 on at v (ld ldv). */
static void run_tile(const plan *pl, size_t b, size_t g, size_t q0,
                     size_t mb, const float *kp, size_t k0, const float *v,
                     size_t ldv, float *ws) {
    const simdattn_forward_desc *d = pl->d;
    const simdattn_kernels *t = pl->t;
    const size_t dk = pl->dk, dv = pl->dv, h0 = g * pl->group;
    const size_t len = d->kv_lens ? d->kv_lens[b] : d->kv_len;
    const unsigned char *keep =
        d->key_mask ? d->key_mask + b * d->key_mask_stride_batch : NULL;
    const sa_rows_keys rk = sa_keys_of_rows(&pl->vis, len, q0, mb);
    if (rk.ulo >= rk.uhi) { /* no row sees a key */
        zero_rows(pl, b, h0, pl->group, q0, mb);
        return;
    }
    float *s = ws, *acc = s + pl->s_floats;
    float *row_max = acc + pl->acc_floats, *row_sum = row_max + pl->row_floats;
    float *alpha = row_sum + pl->row_floats;
    const size_t j_first = (size_t)rk.ulo / KEY_ALIGN * KEY_ALIGN;
    const size_t j_end = (size_t)rk.uhi;
    const float sm_scale = pl->cap > 0.0f ? 1.0f : pl->scale;

    for (size_t h = h0; h < h0 + pl->group; h++) {
        const float *qt_rows = (const float *)d->q.data + b * d->q.stride_batch +
                               h * d->q.stride_head + q0 * d->q.stride_seq;
        float *oh = d->o + b * d->o_stride_batch + h * d->o_stride_head;
        const float *mh =
            d->mask.data ? (const float *)d->mask.data + b * d->mask.stride_batch +
                               h * d->mask.stride_head +
                               q0 * d->mask.stride_seq
                         : NULL;
        memset(acc, 0, mb * pl->ldacc * sizeof(float));
        for (size_t i = 0; i < mb; i++) {
            row_max[i] = -INFINITY;
            row_sum[i] = 0.0f;
        }
        for (size_t j0 = j_first; j0 < j_end; j0 += NB) {
            size_t nb = j_end - j0 < NB ? j_end - j0 : NB;
            size_t kept = keep ? sa_keys_kept(keep, j0, nb) : nb;
            if (kept == 0)
                continue; /* the key mask removes the whole block */
            t->qk(mb, nb, dk, qt_rows, d->q.stride_seq, kp + (j0 - k0) * dk,
                  s, NB);
            if (pl->cap > 0.0f)
                t->softcap(mb, nb, pl->scale, pl->cap, s, NB,
                           pl->xflags & SIMDATTN_DETERMINISTIC);
            if ((ptrdiff_t)j0 < rk.lo_max || (ptrdiff_t)(j0 + nb) > rk.hi_min)
                sa_mask_outside(&pl->vis, len, q0, mb, j0, nb, s, NB);
            if (kept < nb)
                sa_mask_removed(keep, j0, nb, mb, s, NB);
            t->softmax_online(mb, nb, sm_scale, mh ? mh + j0 : NULL,
                              d->mask.stride_seq, s, NB, row_max, row_sum,
                              alpha, pl->xflags);
            t->pv(mb, nb, dv, s, NB, v + (j0 - k0) * ldv, ldv, alpha, acc,
                  pl->ldacc);
        }
        for (size_t i = 0; i < mb; i++) {
            float l = row_sum[i];
            float *orow = oh + (q0 + i) * d->o_stride_seq;
            if (l == 0.0f) { /* nothing visible: exact zeros, even if a
                                removed V value was Inf or NaN */
                memset(orow, 0, dv * sizeof(float));
                continue;
            }
            float inv = 1.0f / l;
            for (size_t c = 0; c < dv; c++)
                orow[c] = acc[i * pl->ldacc + c] * inv;
        }
    }
}

/* n keys of a 16-bit cache from k (row stride k.stride_seq) packed into
 * kp through kbuf, one panel of qk_nr widened rows at a time, and their V
 * rows widened into vw (ld d_v). */
static void widen_item(const plan *pl, const uint16_t *k, const uint16_t *v,
                       size_t n, float *kp, float *kbuf, float *vw) {
    const simdattn_forward_desc *d = pl->d;
    const simdattn_kernels *t = pl->t;
    const size_t nr = t->qk_nr, dk = pl->dk, dv = pl->dv;
    for (size_t j0 = 0; j0 < n; j0 += nr) {
        size_t w = n - j0 < nr ? n - j0 : nr;
        for (size_t j = 0; j < w; j++)
            t->widen(d->kv_dtype, dk, k + (j0 + j) * d->k.stride_seq,
                     kbuf + j * dk);
        sa_pack_k(nr, w, dk, kbuf, dk, kp + j0 * dk);
    }
    for (size_t j = 0; j < n; j++)
        t->widen(d->kv_dtype, dv, v + j * d->v.stride_seq, vw + j * dv);
}

/* Work item `index` (see the header comment) on workspace ws: packs the
 * keys its rows see once, then runs its tiles.  Chunk r (from the first
 * rows) has tiles/chunks tiles, one more for r < tiles % chunks; index 0
 * is the last chunk, the one whose rows see the most keys under
 * causality, so a scheduler taking items in order starts the longest. */
static void run_item(const plan *pl, size_t index, float *ws) {
    if (pl->decode) {
        sa_decode_run(&pl->dp, index, ws);
        return;
    }
    const simdattn_forward_desc *d = pl->d;
    const size_t hk = d->kv_heads, per_chunk = d->batch * hk;
    const size_t c = index / per_chunk;
    const size_t b = index % per_chunk / hk, g = index % hk;
    const size_t r = pl->chunks - 1 - c, base = pl->tiles / pl->chunks;
    const size_t extra = pl->tiles % pl->chunks;
    const size_t t0 = r * base + (r < extra ? r : extra);
    const size_t t1 = t0 + base + (r < extra);
    const size_t r0 = t0 * MB, r1 = t1 * MB < d->q_len ? t1 * MB : d->q_len;
    const size_t len = d->kv_lens ? d->kv_lens[b] : d->kv_len;
    const sa_rows_keys rk = sa_keys_of_rows(&pl->vis, len, r0, r1 - r0);
    if (rk.ulo >= rk.uhi) { /* no row sees a key */
        zero_rows(pl, b, g * pl->group, pl->group, r0, r1 - r0);
        return;
    }
    const size_t k0 = (size_t)rk.ulo / KEY_ALIGN * KEY_ALIGN;
    const size_t k1 = (size_t)rk.uhi;
    float *tile_ws = ws + pl->kp_floats;
    const size_t koff = b * d->k.stride_batch + g * d->k.stride_head +
                      k0 * d->k.stride_seq;
    const size_t voff = b * d->v.stride_batch + g * d->v.stride_head +
                      k0 * d->v.stride_seq;
    const float *v;
    size_t ldv;
    if (d->kv_dtype == SIMDATTN_F32) {
        sa_pack_k(pl->t->qk_nr, k1 - k0, pl->dk,
                  (const float *)d->k.data + koff, d->k.stride_seq, ws);
        v = (const float *)d->v.data + voff;
        ldv = d->v.stride_seq;
    } else {
        float *kbuf = tile_ws + pl->tile_floats, *vw = kbuf + pl->kbuf_floats;
        widen_item(pl, (const uint16_t *)d->k.data + koff,
                   (const uint16_t *)d->v.data + voff, k1 - k0, ws, kbuf, vw);
        v = vw;
        ldv = pl->dv;
    }
    for (size_t q0 = r0; q0 < r1; q0 += MB)
        run_tile(pl, b, g, q0, r1 - q0 < MB ? r1 - q0 : MB, ws, k0, v, ldv,
                 tile_ws);
}

/* 1 if caller memory s (a workspace, the partials) overlaps O or any
 * input tensor of the plan. */
static int touches_tensors(const plan *pl, sa_span s) {
    if (sa_spans_overlap(s, pl->out))
        return 1;
    for (size_t i = 0; i < sizeof pl->in / sizeof pl->in[0]; i++)
        if (sa_spans_overlap(s, pl->in[i]))
            return 1;
    return 0;
}

/* prepare() for the task interface: also takes up desc->partials (the
 * decode path's two phases) after checking it. */
static simdattn_status prepare_tasks(const simdattn_forward_desc *d,
                                     plan *pl) {
    simdattn_status st = prepare(d, pl, d ? d->threads : 0);
    if (st != SIMDATTN_OK || !pl->decode || pl->dp.splits < 2 ||
        !d->partials)
        return st;
    int ovf = 0;
    sa_span ps = sa_span_of(d->partials, pl->dp.partial_total, &ovf);
    if (ovf || (uintptr_t)d->partials % sizeof(float) != 0 ||
        touches_tensors(pl, ps))
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    sa_decode_set_partials(&pl->dp, d->partials);
    pl->count = pl->dp.count;
    return SIMDATTN_OK;
}

simdattn_status simdattn_forward_tasks(const simdattn_forward_desc *d,
                                       size_t *count,
                                       size_t *workspace_bytes) {
    plan pl;
    if (!count || !workspace_bytes)
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    simdattn_status st = prepare_tasks(d, &pl);
    if (st != SIMDATTN_OK)
        return st;
    *count = pl.count;
    *workspace_bytes = pl.ws_floats * sizeof(float);
    return SIMDATTN_OK;
}

simdattn_status simdattn_forward_task_phases(const simdattn_forward_desc *d,
                                             size_t *first_merge,
                                             size_t *partials_bytes) {
    plan pl;
    if (!first_merge || !partials_bytes)
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    simdattn_status st = prepare_tasks(d, &pl);
    if (st != SIMDATTN_OK)
        return st;
    int split = pl.decode && pl.dp.splits > 1;
    *first_merge = pl.decode ? pl.dp.first_merge : pl.count;
    *partials_bytes = split ? pl.dp.partial_total * sizeof(float) : 0;
    return SIMDATTN_OK;
}

simdattn_status simdattn_forward_run_task(const simdattn_forward_desc *d,
                                          size_t index, void *workspace) {
    plan pl;
    simdattn_status st = prepare_tasks(d, &pl);
    if (st != SIMDATTN_OK)
        return st;
    if (index >= pl.count || !workspace ||
        (uintptr_t)workspace % sizeof(float) != 0)
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    int ovf = 0;
    sa_span ws = sa_span_of(workspace, pl.ws_floats, &ovf);
    if (ovf || touches_tensors(&pl, ws))
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    if (pl.decode && pl.dp.partials) {
        sa_span ps = sa_span_of(pl.dp.partials, pl.dp.partial_total, &ovf);
        if (sa_spans_overlap(ws, ps))
            return SIMDATTN_ERR_INVALID_ARGUMENT;
    }
    run_item(&pl, index, workspace);
    return SIMDATTN_OK;
}

simdattn_status simdattn_forward(const simdattn_forward_desc *d) {
    plan pl;
    size_t threads = d && d->threads > 1 ? d->threads : 1;
#ifndef _OPENMP
    threads = 1; /* built without OpenMP: one thread */
#endif
    simdattn_status st = prepare(d, &pl, threads);
    if (st != SIMDATTN_OK)
        return st;
    /* the most items a phase can have: a decode forward's splits */
    size_t most = pl.decode ? pl.dp.heads * pl.dp.splits : pl.count;
    if (threads > most)
        threads = most;
    if (threads > INT_MAX)
        threads = INT_MAX;
    int ovf = 0;
    size_t bytes = sa_mul(sa_mul(threads, pl.ws_floats, &ovf),
                          sizeof(float), &ovf);
    if (ovf)
        return SIMDATTN_ERR_SIZE_OVERFLOW;
    float *ws = aligned_alloc(64, bytes); /* bytes: whole 64-byte lines */
    if (!ws)
        return SIMDATTN_ERR_OUT_OF_MEMORY;
    /* Decoding on several threads: each split its own item, then the
     * merges (the same bits as one item per KV head running its splits). */
    float *partials = NULL;
    if (threads > 1 && pl.decode && pl.dp.splits > 1) {
        partials = aligned_alloc(64, pl.dp.partial_total * sizeof(float));
        if (!partials) {
            free(ws);
            return SIMDATTN_ERR_OUT_OF_MEMORY;
        }
        sa_decode_set_partials(&pl.dp, partials);
        pl.count = pl.dp.count;
    }
    const size_t first = pl.decode ? pl.dp.first_merge : pl.count;
    if (threads == 1) {
        for (size_t i = 0; i < pl.count; i++)
            run_item(&pl, i, ws);
    } else {
#ifdef _OPENMP
        /* dynamic, one item at a time: items differ in cost (causal tiles,
         * ragged lengths) and are numbered heaviest first; the loop's end
         * is the barrier between the decode path's two phases */
#pragma omp parallel num_threads((int)threads)
        {
            float *mine = ws + (size_t)omp_get_thread_num() * pl.ws_floats;
#pragma omp for schedule(dynamic, 1)
            for (size_t i = 0; i < first; i++)
                run_item(&pl, i, mine);
#pragma omp for schedule(dynamic, 1)
            for (size_t i = first; i < pl.count; i++)
                run_item(&pl, i, mine);
        }
#endif
    }
    free(partials);
    free(ws);
    return SIMDATTN_OK;
}
