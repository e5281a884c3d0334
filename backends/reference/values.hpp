// The reference backend's view of tensors: every element is read into a double (float dtypes) or
// an int64 (integer dtypes), computed on there, and rounded once to the output's dtype when it is
// written. Data movement reads and writes raw elements, so it is exact for every dtype. Slow on
// purpose: each kernel is a few plain loops over dense vectors that anyone can check by eye.
#pragma once

#include <loom/plugin_sdk.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace loom::reference {

using sdk::Error;
using Dims = std::vector<int64_t>;

using sdk::dims_str;
using sdk::dtype_name;
int64_t numel(std::span<const int64_t> dims);
bool is_float(int32_t dtype);
bool is_integer(int32_t dtype);

// The value of `x` in `dtype`: rounded to nearest-even at the dtype's precision, overflowing to
// ±inf and keeping subnormals (floats); truncated toward zero, NaN as 0 and saturated (integers,
// the rule of `cast`). Long double holds every double and int64 exactly, so this rounds once.
long double round_to(int32_t dtype, long double x);

// One tensor of a run: its dtype, dims, and data; strides in elements (empty: dense row-major).
struct View {
  bool present = false;
  int32_t dtype = 0;
  Dims dims;
  Dims strides;
  void* data = nullptr;
  int64_t numel() const { return reference::numel(dims); }
};

// Elements in row-major order, whatever the strides.
std::vector<double> read_real(const View& v);     // any dtype, as double (exact for floats)
std::vector<int64_t> read_int(const View& v);     // integer dtypes only
std::vector<std::byte> read_raw(const View& v);   // elements' bytes, dense

// Writes row-major elements; the caller has checked that v.dims are the output's.
void write_real(const View& v, const std::vector<double>& values);   // rounded by round_to
void write_int(const View& v, const std::vector<int64_t>& values);   // integers wrap to the width
void write_raw(const View& v, const std::vector<std::byte>& bytes);  // dense bytes of v's dtype

// For every row-major index of `out`, the row-major index of the element of `in` that NumPy
// broadcasting pairs with it (`in` has at most out's rank; its dims are 1 or out's).
std::vector<int64_t> broadcast_map(const Dims& in, const Dims& out);
// NumPy broadcast of two shapes; throws when they do not broadcast.
Dims broadcast_dims(const Dims& a, const Dims& b);
// Row-major strides of dense `dims`.
Dims dense_strides(const Dims& dims);

}  // namespace loom::reference
