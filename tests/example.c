/* The README's usage example, compiled and run as a test so it cannot rot
 * (the readme-snippets test checks that the README's copy matches). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "simdattn.h"

int main(void) {
    enum { B = 1, H = 8, N = 256, D = 64 };        /* BHSD tensors */
    float *q = calloc(B * H * N * D, sizeof(float)), *k = calloc(B * H * N * D, sizeof(float));
    float *v = calloc(B * H * N * D, sizeof(float)), *o = calloc(B * H * N * D, sizeof(float));
    for (int i = 0; i < B * H * N * D; i++) q[i] = k[i] = v[i] = sinf((float)i);
    simdattn_forward_desc d = {
        .batch = B, .q_heads = H, .kv_heads = H, .q_len = N, .kv_len = N, .head_dim = D,
        .flags = SIMDATTN_CAUSAL,                   /* scale 0: 1/sqrt(D) */
        .q = {q, H * N * D, N * D, D}, .k = {k, H * N * D, N * D, D}, .v = {v, H * N * D, N * D, D},
        .o = o, .o_stride_batch = H * N * D, .o_stride_head = N * D, .o_stride_seq = D};
    simdattn_status st = simdattn_forward(&d);
    int ok = st == SIMDATTN_OK && o[0] == 0.0f; /* row 0 sees key 0 only: v[0] = sin 0 */
    printf("%s on %s\n", simdattn_status_str(st), simdattn_isa_name(simdattn_isa_active()));
    printf("o[0] = %f\n", o[0]);
    free(q); free(k); free(v); free(o);
    return ok ? 0 : 1;
}
