// bf16 rounding by its definition, for tests that hold bf16 arithmetic to a double-precision loop.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace loom::test {

// bf16 by the definition: of the two bf16 values around v (v's upper 16 bits, and one step away
// from zero), the nearer one, the even one on a tie. NaN stays NaN.
inline float bf16_reference(float v) {
  if (std::isnan(v) || std::isinf(v)) return v;
  uint32_t u;
  std::memcpy(&u, &v, 4);
  uint32_t down = u & 0xffff0000u, up = down + 0x10000u;
  float d, e;
  std::memcpy(&d, &down, 4);
  std::memcpy(&e, &up, 4);
  // Past the largest finite bf16, the step up is to 2^128, which is infinity.
  const double ev = std::isinf(e) && !std::isinf(v) ? std::copysign(std::ldexp(1.0, 128), v) : static_cast<double>(e);
  const double dd = std::fabs(static_cast<double>(v) - d), de = std::fabs(static_cast<double>(v) - ev);
  return dd < de || (dd == de && ((down >> 16) & 1u) == 0) ? d : e;
}

}  // namespace loom::test
