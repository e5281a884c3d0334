#include <doctest/doctest.h>
#include <loom/tensor.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include <cmath>
#include <cstring>
#include <limits>

namespace {
loom::Tensor f32(std::vector<float> v) {
  loom::Tensor t(loom::DType::f32, {static_cast<int64_t>(v.size())});
  std::memcpy(t.data(), v.data(), v.size() * sizeof(float));
  return t;
}
}  // namespace

TEST_CASE("compare: tolerance, NaN and infinities") {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::nanf("");
  auto c = loom::compare(f32({1.0f, 2.0f, 100.0f}), f32({1.0f, 2.00001f, 100.001f}), 1e-5, 1e-5);
  CHECK(c.ok());
  CHECK(c.max_abs_error == doctest::Approx(0.001).epsilon(0.01));
  c = loom::compare(f32({1.0f, 2.1f, 3.0f, 4.5f}), f32({1.0f, 2.0f, 3.0f, 4.0f}), 1e-5, 1e-5);
  CHECK_FALSE(c.ok());
  CHECK(c.differing == 2);
  CHECK(c.first == 1);
  CHECK(loom::compare(f32({nan, inf, -inf}), f32({nan, inf, -inf}), 0, 0).ok());
  c = loom::compare(f32({nan, 1.0f}), f32({1.0f, nan}), 1e-5, 1e-5);
  CHECK(c.differing == 2);
  CHECK(std::isinf(c.max_abs_error));
  CHECK_FALSE(loom::compare(f32({inf}), f32({-inf}), 1e-5, 1e-5).ok());
  CHECK_FALSE(loom::compare(f32({inf}), f32({1e30f}), 1e-5, 1e-5).ok());
}

TEST_CASE("compare: shape and dtype must agree") {
  auto c = loom::compare(f32({1, 2}), f32({1, 2, 3}), 1, 1);
  CHECK_FALSE(c.ok());
  CHECK(c.mismatch == "shape [2] differs from the reference's [3]");
  loom::Tensor i(loom::DType::i64, {2});
  CHECK(loom::compare(f32({0, 0}), i, 1, 1).mismatch == "dtype f32 differs from the reference's i64");
}

TEST_CASE("element_as_double reads every dtype") {
  loom::Tensor h(loom::DType::f16, {4});
  const uint16_t halves[] = {0x3c00, 0xc000, 0x0001, 0x7c00};  // 1, -2, smallest subnormal, +inf
  std::memcpy(h.data(), halves, sizeof halves);
  CHECK(loom::element_as_double(h, 0) == 1.0);
  CHECK(loom::element_as_double(h, 1) == -2.0);
  CHECK(loom::element_as_double(h, 2) == std::ldexp(1.0, -24));
  CHECK(std::isinf(loom::element_as_double(h, 3)));
  loom::Tensor b(loom::DType::bf16, {1});
  const uint16_t bf = 0x4049;  // 3.140625
  std::memcpy(b.data(), &bf, sizeof bf);
  CHECK(loom::element_as_double(b, 0) == 3.140625);
  loom::Tensor u(loom::DType::u8, {1});
  u.data_as<uint8_t>()[0] = 250;
  CHECK(loom::element_as_double(u, 0) == 250.0);
}

namespace {
// Resident pages of [p, p + bytes), p page-aligned.
size_t resident_pages(const void* p, size_t bytes) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE)), pages = (bytes + page - 1) / page;
  std::vector<unsigned char> in(pages);
  REQUIRE(mincore(const_cast<void*>(p), bytes, in.data()) == 0);
  return static_cast<size_t>(std::count_if(in.begin(), in.end(), [](unsigned char c) { return c & 1; }));
}
}  // namespace

// A state tensor (a KV cache sized for every position) costs memory only for what is written.
TEST_CASE("Tensor::lazy_zeros reads zeros, costs pages only where written, and zero() gives them back") {
  loom::Tensor small = loom::Tensor::lazy_zeros(loom::DType::f32, {16});
  CHECK(small.data_as<float>()[15] == 0.0f);
  loom::Tensor t = loom::Tensor::lazy_zeros(loom::DType::f32, {12, 1024, 64});  // 3 MiB
  REQUIRE(reinterpret_cast<uintptr_t>(t.data()) % 64 == 0);
  CHECK(resident_pages(t.data(), t.nbytes()) == 0);
  CHECK(t.data_as<float>()[12 * 1024 * 64 - 1] == 0.0f);
  t.data_as<float>()[1000] = 3.0f;
  CHECK(resident_pages(t.data(), t.nbytes()) <= 2);  // the written page (a read may map the zero page)
  loom::Tensor copy = t;  // shares the storage
  CHECK(copy.data_as<float>()[1000] == 3.0f);
  t.zero();
  CHECK(copy.data_as<float>()[1000] == 0.0f);
  CHECK(resident_pages(t.data(), t.nbytes()) <= 1);
  loom::Tensor plain(loom::DType::f32, {12, 1024, 64});
  plain.data_as<float>()[7] = 1.0f;
  plain.zero();
  CHECK(plain.data_as<float>()[7] == 0.0f);
}
