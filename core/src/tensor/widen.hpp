// Exact widening of 16-bit floats to f32, for weights stored as F16 or BF16 that a graph
// declares as f32 (docs/graph-format.md, "Initializers"). Every f16 and bf16 value, subnormals,
// infinities and NaN payloads included, has an f32 with the same value, so nothing is rounded.
#pragma once

#include <loom/tensor.hpp>

#include <cstdint>

namespace loom {

float f16_bits_to_f32(uint16_t bits);
float bf16_bits_to_f32(uint16_t bits);

// `t` (f16 or bf16; any alignment) as a new f32 tensor of the same shape.
Tensor widen_to_f32(const Tensor& t);

}  // namespace loom
