// One value from one type to another as the cast op converts it: float to integer truncates
// toward zero (as PyTorch), NaN becomes 0 and out-of-range values saturate (where C++'s
// conversion is undefined).
#pragma once

#include <cmath>
#include <limits>
#include <type_traits>

namespace loom::onednn {

template <class To, class From>
To convert(From v) {
  if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
    if (std::isnan(v)) return 0;
    // The bounds are exactly representable as float (powers of two), so the comparison is exact.
    constexpr auto lo = static_cast<From>(std::numeric_limits<To>::min());
    constexpr auto hi = static_cast<From>(std::numeric_limits<To>::max());
    if (v <= lo) return std::numeric_limits<To>::min();
    if (v >= hi) return std::numeric_limits<To>::max();
    return static_cast<To>(v);
  } else {
    return static_cast<To>(v);
  }
}

}  // namespace loom::onednn
