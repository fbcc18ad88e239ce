/*
 * The SIMDATTN_ISA override end to end: meson runs this with SIMDATTN_ISA
 * set and the ISA that must end up active as the argument ("best": the
 * override must be refused and simdattn_isa_best() used).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simdattn.h"

int main(int argc, char **argv) {
    simdattn_isa want;
    if (argc != 2)
        return 2;
    if (strcmp(argv[1], "best") == 0)
        want = simdattn_isa_best();
    else if (simdattn_isa_parse(argv[1], &want) != SIMDATTN_OK)
        return 2;
    simdattn_isa got = simdattn_isa_active();
    const simdattn_kernels *t = simdattn_kernels_get(SIMDATTN_ISA_AUTO);
    printf("SIMDATTN_ISA=%s: active %s (table %s), want %s\n", getenv("SIMDATTN_ISA"),
           simdattn_isa_name(got), t ? simdattn_isa_name(t->isa) : "none",
           simdattn_isa_name(want));
    return got == want && t && t->isa == want ? 0 : 1;
}
