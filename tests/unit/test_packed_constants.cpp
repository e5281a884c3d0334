// The engine's packed-constant cache (runtime/packed_constants.cpp) as plugins reach it through
// loom_compile_options: store_packed copies a backend's buffer, adopt_packed (ABI 2.2) takes an
// anonymous mapping as it is; either way the first copy under a key wins and sessions share it.
#include "runtime/packed_constants.hpp"

#include <doctest/doctest.h>

#include <sys/mman.h>

#include <cstring>
#include <memory>
#include <vector>

namespace {

void* mapping_with(const std::vector<float>& values) {
  const size_t bytes = values.size() * sizeof(float);
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(p != MAP_FAILED);
  std::memcpy(p, values.data(), bytes);
  return p;
}

}  // namespace

TEST_CASE("packed constants: adopt_packed takes the mapping, the first copy under a key wins") {
  auto cache = std::make_shared<loom::PackedConstants>();
  const std::vector<float> constant(1000, 1.5f), packed_a(1024, 2.0f), packed_b(1024, 3.0f);
  const uint64_t bytes = packed_a.size() * sizeof(float);
  auto first = std::make_unique<loom::PackedHoldings>(cache);
  auto second = std::make_unique<loom::PackedHoldings>(cache);
  loom_compile_options o1{sizeof(loom_compile_options), "a"}, o2{sizeof(loom_compile_options), "b"};
  first->attach(o1);
  second->attach(o2);
  REQUIRE(static_cast<bool>(o1.adopt_packed));

  void* a = mapping_with(packed_a);
  const void* got = o1.adopt_packed(o1.packed_context, constant.data(), constant.size() * 4, "test.layout", a, bytes);
  CHECK(got == a);  // taken as it is, not copied
  CHECK(first->bytes() == bytes);
  CHECK(cache->bytes() == bytes);

  // Another session with the same key gets the first copy; its own mapping is unmapped at once.
  void* b = mapping_with(packed_b);
  const void* again = o2.adopt_packed(o2.packed_context, constant.data(), constant.size() * 4, "test.layout", b, bytes);
  CHECK(again == a);
  CHECK(static_cast<const float*>(again)[7] == 2.0f);
  uint64_t n = 0;
  CHECK(o2.find_packed(o2.packed_context, constant.data(), constant.size() * 4, "test.layout", &n) == a);
  CHECK(n == bytes);
  CHECK(cache->bytes() == bytes);  // counted once

  // A malformed call takes nothing.
  void* c = mapping_with(packed_b);
  CHECK(o1.adopt_packed(o1.packed_context, nullptr, 4, "test.layout", c, bytes) == nullptr);
  CHECK(o1.adopt_packed(o1.packed_context, constant.data(), 4, nullptr, c, bytes) == nullptr);
  CHECK(o1.adopt_packed(o1.packed_context, constant.data(), 4, "x", c, 0) == nullptr);
  CHECK(static_cast<const float*>(c)[0] == 3.0f);  // still the caller's, still mapped
  ::munmap(c, bytes);

  // The copy lives while a session holds it, and goes with the last one.
  first.reset();
  CHECK(cache->bytes() == bytes);
  CHECK(static_cast<const float*>(again)[1023] == 2.0f);
  second.reset();
  CHECK(cache->bytes() == 0);
}

TEST_CASE("packed constants: store_packed copies; adopt and store share one key space") {
  auto cache = std::make_shared<loom::PackedConstants>();
  const std::vector<float> constant(16, 0.25f), packed(32, 4.0f);
  loom::PackedHoldings holdings(cache);
  loom_compile_options o{sizeof(loom_compile_options), "s"};
  holdings.attach(o);
  const void* stored = o.store_packed(o.packed_context, constant.data(), 64, "k", packed.data(), 128);
  REQUIRE(stored);
  CHECK(stored != packed.data());
  void* m = mapping_with(packed);
  CHECK(o.adopt_packed(o.packed_context, constant.data(), 64, "k", m, 128) == stored);  // m unmapped by the host
  CHECK(holdings.bytes() == 128);
}

TEST_CASE("packed constants: release_constant is advisory and leaves memory that is no mapping alone") {
  auto cache = std::make_shared<loom::PackedConstants>();
  loom::PackedHoldings holdings(cache);
  loom_compile_options o{sizeof(loom_compile_options), "r"};
  holdings.attach(o);
  REQUIRE(static_cast<bool>(o.release_constant));
  std::vector<float> heap(4096, 5.0f);
  o.release_constant(o.packed_context, heap.data(), heap.size() * sizeof(float));
  o.release_constant(o.packed_context, nullptr, 64);
  o.release_constant(nullptr, heap.data(), 64);
  CHECK(heap == std::vector<float>(4096, 5.0f));
}
