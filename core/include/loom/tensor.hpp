// Element types and host tensors.
#pragma once

#include <loom/abi.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loom {

enum class DType : int32_t {
  f32 = LOOM_DTYPE_F32,
  f16 = LOOM_DTYPE_F16,
  bf16 = LOOM_DTYPE_BF16,
  i64 = LOOM_DTYPE_I64,
  i32 = LOOM_DTYPE_I32,
  u8 = LOOM_DTYPE_U8,
};

size_t dtype_size(DType t);
std::string_view dtype_name(DType t);                     // "f32", "i64", ...
std::optional<DType> parse_dtype(std::string_view name);  // inverse of dtype_name

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& s);                    // "[1, 128, 768]"
// Number of elements; throws loom::Error on negative dims or overflow past 2^62 bytes.
int64_t shape_numel(const Shape& s);

// A dense row-major host tensor. Copies share storage (like a shared_ptr); clone() copies data.
class Tensor {
 public:
  Tensor() = default;
  // Allocates zero-filled, 64-byte aligned storage.
  Tensor(DType dtype, Shape shape);
  // The same, but from 1 MiB on an anonymous mapping whose pages are made when first written:
  // a tensor that is mostly never written (a KV cache sized for every position) costs memory
  // only for the part that is.
  static Tensor lazy_zeros(DType dtype, Shape shape);
  // The same storage as Tensor(dtype, shape), left unwritten: for a tensor about to be filled
  // whole (a run's outputs, copied out of its plan).
  static Tensor uninitialized(DType dtype, Shape shape);
  // Borrows `data`; `keepalive` (may be null) is held for as long as the tensor lives.
  static Tensor view(DType dtype, Shape shape, const void* data, std::shared_ptr<const void> keepalive);

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t numel() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  bool defined() const { return data_ != nullptr || numel() == 0; }

  void* data() { return data_; }
  const void* data() const { return data_; }
  template <class T> T* data_as() { return static_cast<T*>(data_); }
  template <class T> const T* data_as() const { return static_cast<const T*>(data_); }

  Tensor clone() const;
  // Sets every element to zero (a lazy_zeros tensor gives its pages back instead).
  void zero();

 private:
  DType dtype_ = DType::f32;
  Shape shape_;
  std::shared_ptr<const void> owner_;
  void* data_ = nullptr;
  bool mapped_ = false;  // storage from lazy_zeros' mapping
};

// Element i (row-major) of any dtype, as a double.
double element_as_double(const Tensor& t, int64_t i);

// How `out` compares with a reference: every element must satisfy
// |out - ref| <= atol + rtol * |ref|, a NaN matching only a NaN.
struct Comparison {
  std::string mismatch;      // why the tensors cannot be compared (shape or dtype), else empty
  int64_t differing = 0;     // elements beyond the tolerance
  int64_t first = -1;        // flat index of the first of them
  double max_abs_error = 0;  // NaN against a number counts as infinite, NaN against NaN as 0
  bool ok() const { return mismatch.empty() && differing == 0; }
};
Comparison compare(const Tensor& out, const Tensor& ref, double atol, double rtol);

}  // namespace loom
