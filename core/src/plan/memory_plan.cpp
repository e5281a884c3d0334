#include "plan/memory_plan.hpp"

#include <algorithm>
#include <cstdint>
#include <numeric>

namespace loom::plan {

ArenaLayout plan_arena(const std::vector<Lifetime>& tensors, uint64_t alignment) {
  ArenaLayout layout;
  layout.offsets.assign(tensors.size(), 0);
  auto add = [](uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; };
  auto aligned = [&](uint64_t n) { return n > UINT64_MAX - (alignment - 1) ? UINT64_MAX : (n + alignment - 1) / alignment * alignment; };
  std::vector<size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return tensors[a].bytes > tensors[b].bytes; });

  std::vector<size_t> placed;  // indices, kept sorted by offset
  for (size_t i : order) {
    const Lifetime& t = tensors[i];
    layout.unplanned = add(layout.unplanned, aligned(t.bytes));
    if (t.bytes == 0) continue;
    const uint64_t need = aligned(t.bytes);
    uint64_t candidate = 0;
    for (size_t j : placed) {
      const Lifetime& o = tensors[j];
      if (o.last < t.first || t.last < o.first) continue;  // lifetimes do not overlap
      const uint64_t o_begin = layout.offsets[j], o_end = add(o_begin, aligned(o.bytes));
      if (add(candidate, need) <= o_begin) break;  // fits in the gap before this one
      candidate = std::max(candidate, o_end);
    }
    layout.offsets[i] = candidate;
    layout.size = std::max(layout.size, add(candidate, need));
    placed.insert(std::upper_bound(placed.begin(), placed.end(), i,
                                   [&](size_t a, size_t b) { return layout.offsets[a] < layout.offsets[b]; }),
                  i);
  }
  return layout;
}

}  // namespace loom::plan
