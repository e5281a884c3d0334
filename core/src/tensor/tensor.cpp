#include <loom/error.hpp>
#include <loom/tensor.hpp>

#include "runtime/memory_limit.hpp"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>

namespace loom {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: case DType::i32: return 4;
    case DType::f16: case DType::bf16: return 2;
    case DType::i64: return 8;
    case DType::u8: return 1;
  }
  return 0;
}

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f16: return "f16";
    case DType::bf16: return "bf16";
    case DType::i64: return "i64";
    case DType::i32: return "i32";
    case DType::u8: return "u8";
  }
  return "invalid";
}

std::optional<DType> parse_dtype(std::string_view name) {
  for (DType t : {DType::f32, DType::f16, DType::bf16, DType::i64, DType::i32, DType::u8})
    if (dtype_name(t) == name) return t;
  return std::nullopt;
}

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

int64_t shape_numel(const Shape& s) {
  constexpr int64_t limit = int64_t(1) << 62;
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0) throw Error("shape " + shape_str(s) + " has a negative dimension");
    if (d != 0 && n > limit / d) throw Error("shape " + shape_str(s) + " is too large");
    n *= d;
  }
  return n;
}

int64_t Tensor::numel() const { return shape_numel(shape_); }

namespace {

// From this size on, lazy_zeros maps pages rather than allocating them.
constexpr size_t kLazyBytes = size_t{1} << 20;

size_t checked_bytes(DType dtype, const Shape& shape) {
  const int64_t n = shape_numel(shape);
  if (static_cast<uint64_t>(n) > (uint64_t(1) << 62) / dtype_size(dtype))
    throw Error("tensor of shape " + shape_str(shape) + " is too large");
  const size_t bytes = static_cast<size_t>(n) * dtype_size(dtype);
  // Every page may be written: a size past physical memory is refused, not attempted.
  check_fits_in_memory(bytes, "a tensor of shape " + shape_str(shape) + " of " + std::string(dtype_name(dtype)));
  return bytes;
}

}  // namespace

Tensor Tensor::lazy_zeros(DType dtype, Shape shape) {
  const size_t bytes = checked_bytes(dtype, shape);
  if (bytes < kLazyBytes) return Tensor(dtype, std::move(shape));
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    throw Error("cannot map " + std::to_string(bytes) + " bytes for a tensor of shape " + shape_str(shape) + " of " +
                std::string(dtype_name(dtype)) + " (out of memory)");
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.owner_ = std::shared_ptr<const void>(p, [bytes](const void* q) { munmap(const_cast<void*>(q), bytes); });
  t.data_ = p;
  t.mapped_ = true;
  return t;
}

void Tensor::zero() {
  if (!nbytes()) return;
  // A private anonymous mapping reads as zeros again once its pages are given back.
  if (mapped_ && madvise(data_, nbytes(), MADV_DONTNEED) == 0) return;
  std::memset(data_, 0, nbytes());
}

Tensor::Tensor(DType dtype, Shape shape) : Tensor(uninitialized(dtype, std::move(shape))) {
  std::memset(data_, 0, nbytes());
}

Tensor Tensor::uninitialized(DType dtype, Shape shape) {
  const size_t bytes = checked_bytes(dtype, shape);
  size_t alloc = (bytes + 63) / 64 * 64;
  if (alloc == 0) alloc = 64;
  void* p = std::aligned_alloc(64, alloc);
  if (!p) throw Error("cannot allocate " + std::to_string(bytes) + " bytes for a tensor of shape " + shape_str(shape) + " of " +
                      std::string(dtype_name(dtype)) + " (out of memory)");
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.owner_ = std::shared_ptr<const void>(p, [](const void* q) { std::free(const_cast<void*>(q)); });
  t.data_ = p;
  return t;
}

Tensor Tensor::view(DType dtype, Shape shape, const void* data, std::shared_ptr<const void> keepalive) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  shape_numel(t.shape_);
  t.owner_ = std::move(keepalive);
  t.data_ = const_cast<void*>(data);
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = uninitialized(dtype_, shape_);
  if (nbytes()) std::memcpy(t.data_, data_, nbytes());
  return t;
}

}  // namespace loom
