// Liveness-based placement of tensors in one arena: tensors whose lifetimes do not overlap
// share memory. Lifetimes are in execution steps (node indices), both ends inclusive.
#pragma once

#include <cstdint>
#include <vector>

namespace loom::plan {

struct Lifetime {
  uint64_t bytes = 0;
  int first = 0;  // step that writes it
  int last = 0;   // last step that reads it
};

struct ArenaLayout {
  std::vector<uint64_t> offsets;  // per lifetime, aligned
  uint64_t size = 0;              // bytes the arena needs
  uint64_t unplanned = 0;         // sum of all sizes, as without reuse
};

// Greedy by size: largest tensors first, each at the lowest aligned offset that does not
// collide with an already placed tensor whose lifetime overlaps. Sizes and offsets saturate at
// UINT64_MAX instead of wrapping, so an absurd plan reads as too large, never as small.
ArenaLayout plan_arena(const std::vector<Lifetime>& tensors, uint64_t alignment = 64);

}  // namespace loom::plan
