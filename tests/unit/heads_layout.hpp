// Attention's two layouts in tests: [B, H, T, W] (bhsd) and [B, T, H, W] (bshd) of f32 tensors.
#pragma once

#include <loom/tensor.hpp>

#include <algorithm>

namespace loom::test {

// [B, X, Y, W] -> [B, Y, X, W]: a tensor in one layout as the other.
inline Tensor swap_heads(const Tensor& t) {
  const auto& s = t.shape();
  Tensor out(DType::f32, {s[0], s[2], s[1], s[3]});
  for (int64_t b = 0; b < s[0]; ++b)
    for (int64_t x = 0; x < s[1]; ++x)
      for (int64_t y = 0; y < s[2]; ++y)
        std::copy_n(t.data_as<float>() + ((b * s[1] + x) * s[2] + y) * s[3], s[3],
                    out.data_as<float>() + ((b * s[2] + y) * s[1] + x) * s[3]);
  return out;
}

}  // namespace loom::test
