/*
 * Checked entry points for the stage kernels: validate, then call the
 * kernel table of the requested ISA.  Validation is shared with the fused
 * driver (sa_matrix_span / sa_spans_overlap); nothing is written on error.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"

const char *simdattn_status_str(simdattn_status status) {
    switch (status) {
    case SIMDATTN_OK: return "ok";
    case SIMDATTN_ERR_INVALID_ARGUMENT: return "invalid argument";
    case SIMDATTN_ERR_SIZE_OVERFLOW: return "size overflow";
    case SIMDATTN_ERR_OUT_OF_MEMORY: return "out of memory";
    case SIMDATTN_ERR_UNSUPPORTED_ISA: return "unsupported ISA";
    }
    return "unknown status";
}

sa_span sa_span_of(const void *p, size_t elems, int *overflow) {
    return sa_span_bytes(p, sa_mul(elems, sizeof(float), overflow), overflow);
}

sa_span sa_span_bytes(const void *p, size_t bytes, int *overflow) {
    sa_span sp = {(uintptr_t)p, (uintptr_t)p};
    if (*overflow || UINTPTR_MAX - sp.lo < bytes)
        *overflow = 1;
    else
        sp.hi = sp.lo + bytes;
    return sp;
}

sa_span sa_matrix_span(const float *p, size_t rows, size_t cols, size_t ld,
                       int *overflow) {
    /* one past the last element: (rows−1)·ld + cols */
    size_t end = sa_add(sa_mul(rows - 1, ld, overflow), cols, overflow);
    return sa_span_of(p, end, overflow);
}

int sa_spans_overlap(sa_span a, sa_span b) {
    return a.lo < b.hi && b.lo < a.hi;
}

/* Shared checks of one matrix argument: present, ld ≥ cols, extent fits. */
static simdattn_status check_matrix(const float *p, size_t rows, size_t cols,
                                    size_t ld, sa_span *span) {
    int ovf = 0;
    if (!p || ld < cols)
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    *span = sa_matrix_span(p, rows, cols, ld, &ovf);
    return ovf ? SIMDATTN_ERR_SIZE_OVERFLOW : SIMDATTN_OK;
}

static int bad_scale(float scale) { return !isfinite(scale) || scale < 0.0f; }

size_t simdattn_packed_k_size(const simdattn_kernels *kernels, size_t n,
                              size_t d) {
    int ovf = 0;
    if (!kernels || kernels->qk_nr == 0)
        return 0;
    size_t panels = n / kernels->qk_nr + (n % kernels->qk_nr != 0);
    size_t floats = sa_mul(sa_mul(panels, kernels->qk_nr, &ovf), d, &ovf);
    sa_mul(floats, sizeof(float), &ovf);
    return ovf ? 0 : floats;
}

simdattn_status simdattn_pack_k(const simdattn_kernels *kernels, size_t n,
                                size_t d, const float *k, size_t ldk,
                                float *kp) {
    sa_span sk, sp;
    int ovf = 0;
    /* qk_nr 0 can only come from a table the caller filled in */
    if (!kernels || kernels->qk_nr == 0 || !kp || n == 0 || d == 0)
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    simdattn_status st = check_matrix(k, n, d, ldk, &sk);
    if (st != SIMDATTN_OK)
        return st;
    size_t floats = simdattn_packed_k_size(kernels, n, d);
    if (floats == 0)
        return SIMDATTN_ERR_SIZE_OVERFLOW;
    sp = sa_span_of(kp, floats, &ovf);
    if (ovf)
        return SIMDATTN_ERR_SIZE_OVERFLOW;
    if (sa_spans_overlap(sp, sk))
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    sa_pack_k(kernels->qk_nr, n, d, k, ldk, kp);
    return SIMDATTN_OK;
}

simdattn_status simdattn_qk(simdattn_isa isa, size_t m, size_t n, size_t d,
                            const float *q, size_t ldq, const float *k,
                            size_t ldk, float *s, size_t lds) {
    simdattn_status st;
    sa_span sq, sk, ss;
    const simdattn_kernels *t = sa_table(isa, &st);
    if (!t)
        return st;
    if (m == 0 || n == 0 || d == 0)
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    if ((st = check_matrix(q, m, d, ldq, &sq)) != SIMDATTN_OK ||
        (st = check_matrix(k, n, d, ldk, &sk)) != SIMDATTN_OK ||
        (st = check_matrix(s, m, n, lds, &ss)) != SIMDATTN_OK)
        return st;
    if (sa_spans_overlap(ss, sq) || sa_spans_overlap(ss, sk))
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    size_t floats = simdattn_packed_k_size(t, n, d);
    if (floats == 0)
        return SIMDATTN_ERR_SIZE_OVERFLOW;
    float *kp = malloc(floats * sizeof(float));
    if (!kp)
        return SIMDATTN_ERR_OUT_OF_MEMORY;
    sa_pack_k(t->qk_nr, n, d, k, ldk, kp);
    t->qk(m, n, d, q, ldq, kp, s, lds);
    free(kp);
    return SIMDATTN_OK;
}

/* Checks common to both softmax forms; mask may be NULL, ldm 0 broadcasts.
 * Returns the spans of S and of the mask (empty without one). */
static simdattn_status check_softmax(size_t m, size_t n, float scale,
                                     const float *mask, size_t ldm,
                                     const float *s, size_t lds,
                                     unsigned flags, sa_span *ss,
                                     sa_span *sm) {
    simdattn_status st;
    sm->lo = sm->hi = 0;
    if (m == 0 || n == 0 || bad_scale(scale) || (flags & ~SA_EXP_FLAGS) != 0 ||
        !sa_exp_flags_valid(flags))
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    if ((st = check_matrix(s, m, n, lds, ss)) != SIMDATTN_OK)
        return st;
    if (mask) {
        if (ldm != 0 && ldm < n)
            return SIMDATTN_ERR_INVALID_ARGUMENT;
        if ((st = check_matrix(mask, ldm ? m : 1, n, ldm ? ldm : n, sm)) !=
            SIMDATTN_OK)
            return st;
        if (sa_spans_overlap(*ss, *sm))
            return SIMDATTN_ERR_INVALID_ARGUMENT;
    }
    return SIMDATTN_OK;
}

simdattn_status simdattn_softmax(simdattn_isa isa, size_t m, size_t n,
                                 float scale, const float *mask, size_t ldm,
                                 float *s, size_t lds, unsigned flags) {
    simdattn_status st;
    sa_span ss, sm;
    const simdattn_kernels *t = sa_table(isa, &st);
    if (!t)
        return st;
    if ((st = check_softmax(m, n, scale, mask, ldm, s, lds, flags, &ss, &sm)) !=
        SIMDATTN_OK)
        return st;
    t->softmax(m, n, scale, mask, ldm, s, lds, flags);
    return SIMDATTN_OK;
}

simdattn_status simdattn_softmax_online(simdattn_isa isa, size_t m, size_t n,
                                        float scale, const float *mask,
                                        size_t ldm, float *s, size_t lds,
                                        float *row_max, float *row_sum,
                                        float *alpha, unsigned flags) {
    simdattn_status st;
    sa_span ss, sm, sx, sl, sa;
    const simdattn_kernels *t = sa_table(isa, &st);
    if (!t)
        return st;
    if ((st = check_softmax(m, n, scale, mask, ldm, s, lds, flags, &ss, &sm)) !=
        SIMDATTN_OK)
        return st;
    if ((st = check_matrix(row_max, 1, m, m, &sx)) != SIMDATTN_OK ||
        (st = check_matrix(row_sum, 1, m, m, &sl)) != SIMDATTN_OK ||
        (st = check_matrix(alpha, 1, m, m, &sa)) != SIMDATTN_OK)
        return st;
    /* four outputs (S, row_max, row_sum, alpha): pairwise disjoint, and
     * none may overlap the mask they are computed from */
    sa_span outs[4] = {ss, sx, sl, sa};
    for (int a = 0; a < 4; a++) {
        if (sa_spans_overlap(outs[a], sm))
            return SIMDATTN_ERR_INVALID_ARGUMENT;
        for (int b = a + 1; b < 4; b++)
            if (sa_spans_overlap(outs[a], outs[b]))
                return SIMDATTN_ERR_INVALID_ARGUMENT;
    }
    t->softmax_online(m, n, scale, mask, ldm, s, lds, row_max, row_sum,
                      alpha, flags);
    return SIMDATTN_OK;
}

simdattn_status simdattn_pv(simdattn_isa isa, size_t m, size_t n, size_t dv,
                            const float *p, size_t ldp, const float *v,
                            size_t ldv, const float *alpha, float *o,
                            size_t ldo) {
    simdattn_status st;
    sa_span sp, sv, so, sa;
    const simdattn_kernels *t = sa_table(isa, &st);
    if (!t)
        return st;
    if (m == 0 || n == 0 || dv == 0)
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    if ((st = check_matrix(p, m, n, ldp, &sp)) != SIMDATTN_OK ||
        (st = check_matrix(v, n, dv, ldv, &sv)) != SIMDATTN_OK ||
        (st = check_matrix(o, m, dv, ldo, &so)) != SIMDATTN_OK)
        return st;
    if (sa_spans_overlap(so, sp) || sa_spans_overlap(so, sv))
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    if (alpha) {
        if ((st = check_matrix(alpha, 1, m, m, &sa)) != SIMDATTN_OK)
            return st;
        if (sa_spans_overlap(so, sa))
            return SIMDATTN_ERR_INVALID_ARGUMENT;
    }
    t->pv(m, n, dv, p, ldp, v, ldv, alpha, o, ldo);
    return SIMDATTN_OK;
}

simdattn_status simdattn_softcap(simdattn_isa isa, size_t m, size_t n,
                                 float scale, float cap, float *s, size_t lds,
                                 unsigned flags) {
    simdattn_status st;
    sa_span ss;
    const simdattn_kernels *t = sa_table(isa, &st);
    if (!t)
        return st;
    if (m == 0 || n == 0 || bad_scale(scale) || !isfinite(cap) ||
        cap <= 0.0f || (flags & ~SIMDATTN_DETERMINISTIC) != 0)
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    if ((st = check_matrix(s, m, n, lds, &ss)) != SIMDATTN_OK)
        return st;
    t->softcap(m, n, scale, cap, s, lds, flags);
    return SIMDATTN_OK;
}

simdattn_status simdattn_widen(simdattn_isa isa, simdattn_dtype dtype,
                               size_t n, const uint16_t *src, float *dst) {
    simdattn_status st;
    int ovf = 0;
    const simdattn_kernels *t = sa_table(isa, &st);
    if (!t)
        return st;
    if (n == 0 || !src || !dst ||
        (dtype != SIMDATTN_F16 && dtype != SIMDATTN_BF16))
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    sa_span ss = sa_span_bytes(src, sa_mul(n, sizeof(uint16_t), &ovf), &ovf);
    sa_span sd = sa_span_of(dst, n, &ovf);
    if (ovf)
        return SIMDATTN_ERR_SIZE_OVERFLOW;
    if (sa_spans_overlap(ss, sd))
        return SIMDATTN_ERR_INVALID_ARGUMENT;
    t->widen(dtype, n, src, dst);
    return SIMDATTN_OK;
}
