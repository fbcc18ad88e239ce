/* The README's engine-integration example, compiled and run as a test so
 * it cannot rot (the readme-snippets test checks that the README's copy
 * matches this file): the engine's own threads (here a minimal pthread
 * pool) run simdattn's work items, each thread with its own workspace. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simdattn.h"

typedef struct job {                 /* shared by the engine's threads */
    const simdattn_forward_desc *desc;
    size_t count, ws_bytes;
    atomic_size_t next;
    atomic_int failed;
} job;

static void *worker(void *arg) {
    job *j = arg;
    void *ws = malloc(j->ws_bytes);  /* per thread, reused for every item */
    for (size_t i; ws && (i = atomic_fetch_add(&j->next, 1)) < j->count;)
        if (simdattn_forward_run_task(j->desc, i, ws) != SIMDATTN_OK)
            atomic_store(&j->failed, 1);
    if (!ws)
        atomic_store(&j->failed, 1);
    free(ws);
    return NULL;
}

int main(void) {
    enum { B = 2, HQ = 8, HK = 2, N = 300, D = 64, T = 4 }; /* GQA 4:1, BSHD */
    size_t nq = (size_t)B * N * HQ * D, nk = (size_t)B * N * HK * D;
    float *q = malloc(nq * sizeof(float)), *k = malloc(nk * sizeof(float));
    float *v = malloc(nk * sizeof(float)), *o = malloc(nq * sizeof(float));
    float *o1 = malloc(nq * sizeof(float));
    for (size_t i = 0; i < nq; i++) q[i] = (float)(i % 17) / 17 - 0.5f;
    for (size_t i = 0; i < nk; i++) k[i] = v[i] = (float)(i % 13) / 13 - 0.5f;
    size_t kv_lens[B] = {N, 123};    /* ragged: entry 1 holds 123 keys */

    simdattn_forward_desc d = {
        .batch = B, .q_heads = HQ, .kv_heads = HK, .q_len = N, .kv_len = N, .head_dim = D,
        .flags = SIMDATTN_CAUSAL, .window = 256, .kv_lens = kv_lens,
        .threads = T,                /* how many workers: sizes the items */
        .q = {q, N * HQ * D, D, HQ * D}, .k = {k, N * HK * D, D, HK * D},
        .v = {v, N * HK * D, D, HK * D},
        .o = o, .o_stride_batch = N * HQ * D, .o_stride_head = D, .o_stride_seq = HQ * D};

    job j = {.desc = &d};
    simdattn_status st = simdattn_forward_tasks(&d, &j.count, &j.ws_bytes);
    if (st == SIMDATTN_OK) {
        pthread_t th[T];
        for (int t = 0; t < T; t++)
            pthread_create(&th[t], NULL, worker, &j);
        for (int t = 0; t < T; t++)
            pthread_join(th[t], NULL);
    }

    /* the same forward in one call: identical bits */
    simdattn_forward_desc d1 = d;
    d1.o = o1;
    int same = st == SIMDATTN_OK && !j.failed && simdattn_forward(&d1) == SIMDATTN_OK &&
               memcmp(o, o1, nq * sizeof(float)) == 0;
    printf("%s: %zu items, %zu bytes of workspace per thread, %s\n", simdattn_status_str(st),
           j.count, j.ws_bytes, same ? "same bits as simdattn_forward" : "MISMATCH");
    free(q); free(k); free(v); free(o); free(o1);
    return same ? 0 : 1;
}
