#include <doctest/doctest.h>

#include "plan/memory_plan.hpp"

#include <random>

using loom::plan::Lifetime;
using loom::plan::plan_arena;

namespace {
bool overlaps(const Lifetime& a, uint64_t oa, const Lifetime& b, uint64_t ob) {
  bool time = !(a.last < b.first || b.last < a.first);
  bool space = oa < ob + b.bytes && ob < oa + a.bytes;
  return time && space && a.bytes && b.bytes;
}
}  // namespace

TEST_CASE("memory plan: a chain reuses memory") {
  // a -> b -> c -> d, each read only by the next step: two buffers suffice.
  std::vector<Lifetime> t = {{1000, 0, 1}, {1000, 1, 2}, {1000, 2, 3}, {1000, 3, 4}};
  auto l = plan_arena(t);
  CHECK(l.size == 2 * 1024);
  CHECK(l.unplanned == 4 * 1024);
  CHECK(l.offsets[0] == l.offsets[2]);
  CHECK(l.offsets[1] == l.offsets[3]);
}

TEST_CASE("memory plan: random lifetimes never collide and offsets are aligned") {
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    std::vector<Lifetime> t;
    int n = 1 + rng() % 60;
    for (int i = 0; i < n; ++i) {
      int first = rng() % 40;
      t.push_back({uint64_t(rng() % 5000), first, first + int(rng() % 10)});
    }
    auto l = plan_arena(t);
    uint64_t peak_live = 0;
    for (int step = 0; step < 50; ++step) {
      uint64_t live = 0;
      for (auto& x : t)
        if (x.first <= step && step <= x.last) live += x.bytes;
      peak_live = std::max(peak_live, live);
    }
    CHECK(l.size >= peak_live);
    CHECK(l.size <= l.unplanned);
    for (int i = 0; i < n; ++i) {
      CHECK(l.offsets[i] % 64 == 0);
      CHECK(l.offsets[i] + t[i].bytes <= l.size);
      for (int j = i + 1; j < n; ++j) CHECK_FALSE(overlaps(t[i], l.offsets[i], t[j], l.offsets[j]));
    }
  }
}

TEST_CASE("memory plan: sizes past 2^64 saturate instead of wrapping to a small arena") {
  const uint64_t huge = uint64_t(1) << 62;
  std::vector<Lifetime> t = {{huge, 0, 4}, {huge, 0, 4}, {huge, 0, 4}, {huge, 0, 4}, {64, 0, 4}};
  auto l = plan_arena(t);
  CHECK(l.size == UINT64_MAX);
  CHECK(l.unplanned == UINT64_MAX);
}
