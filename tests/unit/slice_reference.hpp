// Python's x[start:end:step] for step >= 1, computed in 128-bit arithmetic so that it is right
// for every int64 start, end and step: the reference the slice tests hold the core's shape
// inference and the backends to.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

namespace loom::test {

// The indices x[start:end:step] takes from a dimension of size n.
inline std::vector<int64_t> python_slice(int64_t n, int64_t start, int64_t end, int64_t step) {
  auto clamp = [n](__int128 v) -> __int128 {
    if (v < 0) v += n;
    return v < 0 ? 0 : v > n ? n : v;
  };
  std::vector<int64_t> out;
  for (__int128 i = clamp(start); i < clamp(end); i += step) out.push_back(static_cast<int64_t>(i));
  return out;
}

// Start and end values at and near the int64 limits and around a dimension of size n.
inline std::vector<int64_t> extreme_bounds(int64_t n) {
  const int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
  return {lo, lo + 1, -n - 1, -n, -n + 1, -1, 0, 1, n - 1, n, n + 1, hi - 1, hi};
}
inline std::vector<int64_t> extreme_steps(int64_t n) {
  const int64_t hi = std::numeric_limits<int64_t>::max();
  return {1, 2, 3, n - 1, n, n + 1, hi / 2, hi - 1, hi};
}

}  // namespace loom::test
