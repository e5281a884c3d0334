#include "tensor/widen.hpp"

#include <loom/error.hpp>

#include <bit>
#include <cstring>

namespace loom {

float f16_bits_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exponent = (h >> 10) & 0x1f;
  uint32_t mantissa = h & 0x3ff;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000 | (mantissa << 13);  // infinity, or NaN with its payload
  } else if (exponent != 0) {
    bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;  // signed zero
  } else {
    // Subnormal: shift the mantissa up to its leading 1, which becomes the implicit bit.
    int e = 127 - 15 + 1;
    while (!(mantissa & 0x400)) {
      mantissa <<= 1;
      --e;
    }
    bits = sign | (static_cast<uint32_t>(e) << 23) | ((mantissa & 0x3ff) << 13);
  }
  return std::bit_cast<float>(bits);
}

float bf16_bits_to_f32(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }

Tensor widen_to_f32(const Tensor& t) {
  if (t.dtype() != DType::f16 && t.dtype() != DType::bf16)
    throw Error("cannot widen a tensor of " + std::string(dtype_name(t.dtype())) + " to f32 (only f16 and bf16)");
  Tensor out(DType::f32, t.shape());
  const auto* in = static_cast<const unsigned char*>(t.data());
  float* o = out.data_as<float>();
  const int64_t n = t.numel();
  const bool half = t.dtype() == DType::f16;
  for (int64_t i = 0; i < n; ++i) {
    uint16_t bits;
    std::memcpy(&bits, in + 2 * i, 2);  // mapped bytes need not be 2-byte aligned
    o[i] = half ? f16_bits_to_f32(bits) : bf16_bits_to_f32(bits);
  }
  return out;
}

}  // namespace loom
