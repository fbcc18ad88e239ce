/*
 * Scalar reference kernels of the decode path: Q·Kᵀ and P·V against K and
 * V as they lie in a KV cache (row-major, no packing), in fp32 or in fp16 /
 * bf16 bit patterns widened exactly (sa_f16_to_f32, sa_bf16_to_f32).
 *
 * qk_kv: the canonical 16-lane dot product of simdattn.h.  d is padded with
 * zeros to a multiple of 16; lane l is the fmaf chain over c ≡ l (mod 16)
 * in increasing c from +0 (padding included: fmaf(0, 0, x), exactly what
 * a SIMD kernel's zero-filled tail load does), then lanes are combined as
 * sum16 (l + l+8, l + l+4, l + l+2, l + l+1).  Every ISA returns these
 * bits.  Bound: |S − S*| ≤ γ_d·Σ_c |q_c·k_c|: an element passes ⌈d/16⌉
 * chain roundings and 4 tree additions (fewer that are exact additions of
 * +0 when d < 16), never more than d.
 * pv_kv: kernels/scalar/pv.c's chain with V widened: α·O rounded once,
 * then one fmaf per j in order; bound γ_(n+1)·(|α·O| + Σ_j |p_j·v_j|).
 * Reads m×d of Q, n×d of K, m×n of P, n×dv of V, m of alpha; writes
 * exactly m×n of S, m×dv of O.
 */
#include <math.h>
#include <stdint.h>

#include "internal.h"

static float widen(const void *p, size_t i, simdattn_dtype dt) {
    switch (dt) {
    case SIMDATTN_F16: return sa_f16_to_f32(((const uint16_t *)p)[i]);
    case SIMDATTN_BF16: return sa_bf16_to_f32(((const uint16_t *)p)[i]);
    default: return ((const float *)p)[i];
    }
}

void sa_qk_kv_scalar(size_t m, size_t n, size_t d, const float *q,
                     size_t ldq, const void *k, size_t ldk, simdattn_dtype dt,
                     float *s, size_t lds) {
    const size_t dpad = (d + 15) / 16 * 16;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            float lane[16] = {0};
            for (size_t c = 0; c < dpad; c++) {
                float a = c < d ? q[i * ldq + c] : 0.0f;
                float b = c < d ? widen(k, j * ldk + c, dt) : 0.0f;
                lane[c % 16] = fmaf(a, b, lane[c % 16]);
            }
            for (size_t w = 8; w >= 1; w /= 2)
                for (size_t l = 0; l < w; l++)
                    lane[l] += lane[l + w];
            s[i * lds + j] = lane[0];
        }
}

void sa_pv_kv_scalar(size_t m, size_t n, size_t dv, const float *p,
                     size_t ldp, const void *v, size_t ldv, simdattn_dtype dt,
                     const float *alpha, float *o, size_t ldo) {
    for (size_t i = 0; i < m; i++) {
        float *orow = o + i * ldo;
        for (size_t c = 0; c < dv; c++) {
            float acc = alpha ? alpha[i] * orow[c] : orow[c];
            for (size_t j = 0; j < n; j++)
                acc = fmaf(p[i * ldp + j], widen(v, j * ldv + c, dt), acc);
            orow[c] = acc;
        }
    }
}
