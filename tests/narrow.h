#ifndef SA_TEST_NARROW_H
#define SA_TEST_NARROW_H

#include <stdint.h>

/* fp32 → IEEE binary16 / bfloat16 bit patterns, rounded to nearest even
 * (overflow to ±Inf, NaN stays a quiet NaN): the narrowing that makes the
 * tests' fp16/bf16 KV inputs.  Written independently of the library's
 * widening (kernels/internal.h), so round trips check one against the
 * other. */
uint16_t f32_to_f16(float x);
uint16_t f32_to_bf16(float x);

#endif
