// Attention's two layouts in tests: [B, H, T, W] (bhsd) and [B, T, H, W] (bshd), of any dtype.
#pragma once

#include <loom/tensor.hpp>

#include <algorithm>
#include <cstddef>

namespace loom::test {

// [B, X, Y, W] -> [B, Y, X, W]: a tensor in one layout as the other.
inline Tensor swap_heads(const Tensor& t) {
  const auto& s = t.shape();
  Tensor out(t.dtype(), {s[0], s[2], s[1], s[3]});
  const size_t row = static_cast<size_t>(s[3]) * dtype_size(t.dtype());
  const auto* from = static_cast<const std::byte*>(t.data());
  auto* to = static_cast<std::byte*>(out.data());
  for (int64_t b = 0; b < s[0]; ++b)
    for (int64_t x = 0; x < s[1]; ++x)
      for (int64_t y = 0; y < s[2]; ++y)
        std::copy_n(from + static_cast<size_t>((b * s[1] + x) * s[2] + y) * row, row, to + static_cast<size_t>((b * s[2] + y) * s[1] + x) * row);
  return out;
}

}  // namespace loom::test
