/*
 * Decode path of the fused forward, ISA-independent (it calls only the
 * kernel table): q_len ≤ SIMDATTN_DECODE_MAX_Q query rows against a KV
 * cache, a bandwidth-bound problem whose cost is one read of K and V.
 *
 * Per batch entry b and KV head g the m = (q_heads/kv_heads)·q_len query
 * rows of the whole GQA group (row r = local head·q_len + i) go together,
 * so each K and V row is read once for all of them:
 *   Q  = the group's rows, copied once per item (m × d, fp32);
 *   for each block of NB keys of the split:
 *     S  = Q·K_blockᵀ            (kernels->qk_kv: K as it lies, any dtype)
 *     S  = cap·tanh(scale·S/cap) (kernels->softcap, if capping)
 *     logits outside each row's interval, and removed keys: −inf
 *     S  = online softmax of scale·S + mask (kernels->softmax_online, one
 *          call per query head when a mask gives each head its own rows)
 *     Õ  = α ⊙ Õ + S·V_block     (kernels->pv_kv)
 * Blocks start at the first key any row sees rounded down to KEY_ALIGN
 * and follow every NB keys, as the tiled path's do (forward.c), so with
 * one split the online softmax rounds as there.
 *
 * Streaming runs.  The steps go in runs of up to `run` blocks (RUN_S
 * floats of S, at most a split): Q·K of every block of the run, then
 * their softmaxes (each block's α kept), then their P·V.  Each block sees
 * the same operations in the same order as above, so the same bits; but
 * K and V are read as runs of up to 2048 keys, not alternating every 256:
 * each switch between the K and the V stream restarts the hardware
 * prefetcher (measured at D128 fp32, 1 thread, huge pages, with the
 * AVX-512 kernels' 32-key sub-blocks of the time: 58–62 ns per key and
 * KV head with 256-key alternation, 51 with 2048, from memory).  Nor do
 * two streams read side by side help: block b's Q·K interleaved with
 * block b−1's P·V (the same bits) in chunks of 32, 64 or 128 keys made
 * D128 fp32 (AVX-512, 1 thread) 42 %, 23 % and 15 % slower (paired A/B,
 * bench/ab.c: time ratios 0.705, 0.812, 0.872).
 *
 * Split-KV.  Split c takes the SPLIT keys from j_first + c·SPLIT (whole
 * blocks) and leaves per row its partial maximum m_c, sum
 * l_c = Σ_{j∈c} e^(x_j − m_c) and unnormalised output
 * Õ_c = Σ_{j∈c} e^(x_j − m_c)·v_j.  With M = max_c m_c the merge
 *     a_c = e^(m_c − M),   l = Σ_c a_c·l_c,   O = (Σ_c a_c·Õ_c) / l
 * is exact algebra (e^(x_j − M) = a_c·e^(x_j − m_c)), so splitting changes
 * only rounding: a_c is the online softmax kernel run on the row of m_c
 * (its exp, flags included; a split that saw nothing has m_c = −inf and
 * a_c = 0, and when all have, M is taken as 0 and l = 0: exact zeros),
 * and Σ a_c·[Õ_c | l_c] is the pv kernel (one fma chain over c).  Each
 * element thus passes one more rescale (exp, subtraction, fma) than
 * inside its split: one more block level per split in the forward bound.
 * The split count, ⌈kv_len / SPLIT⌉, depends on the descriptor only, so
 * the bits depend on neither the thread count nor the item schedule.
 *
 * Partials: one row of ldp floats per (b, g, split, row): Õ (d_v floats),
 * then l, then m, so that one pv call over d_v + 1 columns merges Õ and l
 * together.  Split items of the task interface write them into the
 * caller's memory; a one-phase item keeps its KV head's in its workspace.
 */
#include <math.h>
#include <string.h>

#include "internal.h"

/* NB and KEY_ALIGN: the tiled path's (forward.c), so one split rounds as
 * it does.  SPLIT: whole blocks; 2048 keys of d = 128 fp32 K+V are 2 MiB,
 * enough to hide an item's fixed costs (Q copy, m·(d_v+2) partials), and
 * Nk = 32768 gives 16 items per KV head. */
enum { NB = 256, KEY_ALIGN = 32, LINE = 16, SPLIT = SIMDATTN_DECODE_SPLIT_KEYS };
_Static_assert(SPLIT % NB == 0, "splits are whole blocks");
/* S of one streaming run: 32 KiB, the L1 data cache of current x86 and
 * Arm cores (m = 4 rows: 8 blocks, a whole split). */
enum { RUN_S = 8192, MAX_RUN = SPLIT / NB };

static size_t lines(size_t n, int *ovf) {
    return sa_add(n, LINE - 1, ovf) / LINE * LINE;
}

static void set_phases(sa_decode_plan *p, float *partials, int *ovf) {
    p->partials = p->splits > 1 ? partials : NULL;
    if (p->partials) {
        p->first_merge = sa_mul(p->heads, p->splits, ovf);
        p->count = sa_add(p->first_merge, p->heads, ovf);
    } else {
        p->count = p->first_merge = p->heads;
    }
}

int sa_decode_plan_init(sa_decode_plan *p, const simdattn_forward_desc *d,
                        const simdattn_kernels *t, float scale,
                        sa_visibility vis, float *partials, int *ovf) {
    const size_t nq = d->q_len, group = d->q_heads / d->kv_heads;
    if (nq > SIMDATTN_DECODE_MAX_Q || group > SIMDATTN_DECODE_MAX_ROWS ||
        group * nq > SIMDATTN_DECODE_MAX_ROWS)
        return 0;
    p->d = d;
    p->t = t;
    p->dk = d->head_dim;
    p->dv = d->head_dim_v ? d->head_dim_v : d->head_dim;
    p->group = group;
    p->m = group * nq;
    p->splits = d->kv_len / SPLIT + (d->kv_len % SPLIT != 0);
    p->heads = sa_mul(d->batch, d->kv_heads, ovf);
    p->ldq = lines(p->dk, ovf);
    p->ldp = lines(sa_add(p->dv, 2, ovf), ovf);
    p->run = RUN_S / NB / p->m;
    p->run = p->run < 1 ? 1 : p->run > MAX_RUN ? MAX_RUN : p->run;
    p->part_floats = sa_mul(p->m, p->ldp, ovf);
    /* workspace: Q, S, rmax, rsum, alpha, the merge's weights and output
     * row, then the item's own partials (one-phase items) */
    size_t ws = sa_mul(p->m, p->ldq, ovf);
    ws = sa_add(ws, lines(p->m * NB * p->run, ovf), ovf);
    ws = sa_add(ws, (2 + p->run) * lines(p->m, ovf), ovf);
    ws = sa_add(ws, lines(p->splits, ovf), ovf);
    ws = sa_add(ws, p->ldp, ovf);
    ws = sa_add(ws, sa_mul(p->splits, p->part_floats, ovf), ovf);
    p->ws_floats = ws;
    sa_mul(ws, sizeof(float), ovf);
    p->partial_total = sa_mul(sa_mul(p->heads, p->splits, ovf),
                              p->part_floats, ovf);
    sa_mul(p->partial_total, sizeof(float), ovf);
    p->scale = scale;
    p->cap = d->softcap;
    p->vis = vis;
    p->xflags = d->flags & SA_EXP_FLAGS;
    set_phases(p, partials, ovf);
    return 1;
}

void sa_decode_set_partials(sa_decode_plan *p, float *partials) {
    int ovf = 0; /* sizes were checked by sa_decode_plan_init */
    set_phases(p, partials, &ovf);
}

typedef struct scratch {
    float *q, *s, *rmax, *rsum, *alpha, *a, *out, *own;
} scratch;

static scratch carve(const sa_decode_plan *p, float *ws) {
    int ovf = 0;
    scratch x;
    x.q = ws;
    x.s = x.q + p->m * p->ldq;
    x.rmax = x.s + lines(p->m * NB * p->run, &ovf);
    x.rsum = x.rmax + lines(p->m, &ovf);
    x.alpha = x.rsum + lines(p->m, &ovf); /* run blocks of lines(m) */
    x.a = x.alpha + p->run * lines(p->m, &ovf);
    x.out = x.a + lines(p->splits, &ovf);
    x.own = x.out + p->ldp;
    return x;
}

/* The group's query rows of (b, g) into x->q (row stride ldq). */
static void copy_q(const sa_decode_plan *p, size_t b, size_t g,
                   const scratch *x) {
    const simdattn_forward_desc *d = p->d;
    for (size_t r = 0; r < p->m; r++) {
        size_t h = g * p->group + r / d->q_len, i = r % d->q_len;
        memcpy(x->q + r * p->ldq,
               (const float *)d->q.data + b * d->q.stride_batch +
                   h * d->q.stride_head + i * d->q.stride_seq,
               p->dk * sizeof(float));
    }
}

/* Split c of (b, g) into part (m rows of ldp floats: Õ, l, m). */
static void run_split(const sa_decode_plan *p, size_t b, size_t g, size_t c,
                      float *part, const scratch *x) {
    const simdattn_forward_desc *d = p->d;
    const simdattn_kernels *t = p->t;
    const size_t m = p->m, nq = d->q_len, es = sa_dtype_size(d->kv_dtype);
    const size_t len = d->kv_lens ? d->kv_lens[b] : d->kv_len;
    const unsigned char *keep =
        d->key_mask ? d->key_mask + b * d->key_mask_stride_batch : NULL;
    float *s = x->s;
    for (size_t r = 0; r < m; r++) {
        memset(part + r * p->ldp, 0, p->dv * sizeof(float));
        x->rmax[r] = -INFINITY;
        x->rsum[r] = 0.0f;
    }
    /* the union of the rows' intervals, and their tightest edges */
    const sa_rows_keys rk = sa_keys_of_rows(&p->vis, len, 0, nq);
    size_t s0 = 0, s1 = 0;
    if (rk.ulo < rk.uhi) { /* (splits past the last visible key stay empty) */
        s0 = (size_t)rk.ulo / KEY_ALIGN * KEY_ALIGN + c * SPLIT;
        s1 = s0 >= (size_t)rk.uhi          ? s0
             : (size_t)rk.uhi - s0 < SPLIT ? (size_t)rk.uhi
                                           : s0 + SPLIT;
    }
    const char *kh = (const char *)d->k.data +
                     (b * d->k.stride_batch + g * d->k.stride_head) * es;
    const char *vh = (const char *)d->v.data +
                     (b * d->v.stride_batch + g * d->v.stride_head) * es;
    const float sm_scale = p->cap > 0.0f ? 1.0f : p->scale;
    const size_t lds = NB * p->run, lda = lines(m, &(int){0});
    size_t keys[MAX_RUN], kept[MAX_RUN]; /* per block of the run */
    for (size_t r0 = s0; r0 < s1; r0 += lds) {
        size_t nblk = (s1 - r0 + NB - 1) / NB;
        nblk = nblk < p->run ? nblk : p->run;
        for (size_t bi = 0; bi < nblk; bi++) { /* Q·K of the run's blocks */
            size_t j0 = r0 + bi * NB, nb = s1 - j0 < NB ? s1 - j0 : NB;
            keys[bi] = nb;
            kept[bi] = keep ? sa_keys_kept(keep, j0, nb) : nb;
            if (kept[bi]) /* (a block the key mask removes is not read) */
                t->qk_kv(m, nb, p->dk, x->q, p->ldq,
                         kh + j0 * d->k.stride_seq * es, d->k.stride_seq,
                         d->kv_dtype, s + bi * NB, lds);
        }
        for (size_t bi = 0; bi < nblk; bi++) { /* their softmaxes, in order */
            size_t j0 = r0 + bi * NB, nb = keys[bi];
            float *sb = s + bi * NB, *ab = x->alpha + bi * lda;
            if (kept[bi] == 0)
                continue;
            if (p->cap > 0.0f)
                t->softcap(m, nb, p->scale, p->cap, sb, lds,
                           p->xflags & SIMDATTN_DETERMINISTIC);
            /* rows h·nq … h·nq + nq − 1 of S: query head h's rows 0 … nq − 1 */
            if ((ptrdiff_t)j0 < rk.lo_max || (ptrdiff_t)(j0 + nb) > rk.hi_min)
                for (size_t h = 0; h < p->group; h++)
                    sa_mask_outside(&p->vis, len, 0, nq, j0, nb,
                                    sb + h * nq * lds, lds);
            if (kept[bi] < nb)
                sa_mask_removed(keep, j0, nb, m, sb, lds);
            if (d->mask.data) /* each query head has its own mask rows */
                for (size_t h = 0; h < p->group; h++)
                    t->softmax_online(
                        nq, nb, sm_scale,
                        (const float *)d->mask.data + b * d->mask.stride_batch +
                            (g * p->group + h) * d->mask.stride_head + j0,
                        d->mask.stride_seq, sb + h * nq * lds, lds,
                        x->rmax + h * nq, x->rsum + h * nq, ab + h * nq,
                        p->xflags);
            else
                t->softmax_online(m, nb, sm_scale, NULL, 0, sb, lds, x->rmax,
                                  x->rsum, ab, p->xflags);
        }
        for (size_t bi = 0; bi < nblk; bi++) { /* their P·V, in order */
            size_t j0 = r0 + bi * NB;
            if (kept[bi])
                t->pv_kv(m, keys[bi], p->dv, s + bi * NB, lds,
                         vh + j0 * d->v.stride_seq * es, d->v.stride_seq,
                         d->kv_dtype, x->alpha + bi * lda, part, p->ldp);
        }
    }
    for (size_t r = 0; r < m; r++) {
        part[r * p->ldp + p->dv] = x->rsum[r];
        part[r * p->ldp + p->dv + 1] = x->rmax[r];
    }
}

/* O rows of (b, g) from its splits' partials (split c at parts +
 * c·part_floats). */
static void merge(const sa_decode_plan *p, size_t b, size_t g,
                  const float *parts, const scratch *x) {
    const simdattn_forward_desc *d = p->d;
    const size_t C = p->splits, dv = p->dv;
    for (size_t r = 0; r < p->m; r++) {
        const float *row = parts + r * p->ldp;
        for (size_t c = 0; c < C; c++)
            x->a[c] = row[c * p->part_floats + dv + 1];
        float mx = -INFINITY, sum = 0.0f, alpha;
        p->t->softmax_online(1, C, 1.0f, NULL, 0, x->a, C, &mx, &sum, &alpha,
                             p->xflags); /* a_c = e^(m_c − M) */
        memset(x->out, 0, (dv + 1) * sizeof(float));
        p->t->pv(1, C, dv + 1, x->a, C, row, p->part_floats, NULL, x->out,
                 p->ldp);
        size_t h = g * p->group + r / d->q_len, i = r % d->q_len;
        float *orow = d->o + b * d->o_stride_batch + h * d->o_stride_head +
                      i * d->o_stride_seq;
        float l = x->out[dv];
        if (l == 0.0f) { /* nothing visible: exact zeros */
            memset(orow, 0, dv * sizeof(float));
            continue;
        }
        float inv = 1.0f / l;
        for (size_t e = 0; e < dv; e++)
            orow[e] = x->out[e] * inv;
    }
}

void sa_decode_run(const sa_decode_plan *p, size_t index, float *ws) {
    const size_t hk = p->d->kv_heads;
    const scratch x = carve(p, ws);
    if (p->partials && index >= p->first_merge) { /* second phase */
        size_t bg = index - p->first_merge;
        merge(p, bg / hk, bg % hk,
              p->partials + bg * p->splits * p->part_floats, &x);
    } else if (p->partials) { /* first phase: one split */
        size_t bg = index / p->splits, c = index % p->splits;
        copy_q(p, bg / hk, bg % hk, &x);
        run_split(p, bg / hk, bg % hk, c,
                  p->partials + index * p->part_floats, &x);
    } else { /* one phase: every split, then the merge */
        copy_q(p, index / hk, index % hk, &x);
        for (size_t c = 0; c < p->splits; c++)
            run_split(p, index / hk, index % hk, c,
                      x.own + c * p->part_floats, &x);
        merge(p, index / hk, index % hk, x.own, &x);
    }
}
