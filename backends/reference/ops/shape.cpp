// reshape, transpose, slice, concat for every dtype: elements move as bytes, by index arithmetic
// on row-major coordinates.
#include "kernel.hpp"

#include <cstring>

namespace loom::reference {
namespace {

// The row-major coordinates of flat index i in `dims`.
Dims coords(int64_t i, const Dims& dims) {
  Dims c(dims.size());
  for (size_t d = dims.size(); d-- > 0;) {
    c[d] = i % dims[d];
    i /= dims[d];
  }
  return c;
}

int64_t flat(const Dims& c, const Dims& dims) {
  int64_t i = 0;
  for (size_t d = 0; d < dims.size(); ++d) i = i * dims[d] + c[d];
  return i;
}

void reshape(const Node& node, const Io& io) {
  const View& x = io.in[0];
  const auto& spec = node.attr_ints("shape");
  const auto dims = sdk::reshape_dims(x.dims, spec);
  if (!dims) node.fail("cannot reshape " + dims_str(x.dims) + " to " + dims_str(spec));
  node.expect_dims(io.out[0], *dims);
  write_raw(io.out[0], read_raw(x));
}

void transpose(const Node& node, const Io& io) {
  const View& x = io.in[0];
  const auto& perm = node.attr_ints("perm");
  if (perm.size() != x.dims.size()) node.fail("perm has " + std::to_string(perm.size()) + " entries for rank " + std::to_string(x.dims.size()));
  Dims dims;
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(x.dims.size())) node.fail("perm is not a permutation");
    dims.push_back(x.dims[p]);
  }
  node.expect_dims(io.out[0], dims);
  const auto src = read_raw(x);
  const size_t size = sdk::dtype_size(x.dtype);
  std::vector<std::byte> out(src.size());
  for (int64_t i = 0; i < numel(dims); ++i) {
    const Dims c = coords(i, dims);  // out[c] = x[c'] with c'[perm[d]] = c[d]
    Dims from(c.size());
    for (size_t d = 0; d < c.size(); ++d) from[perm[d]] = c[d];
    std::memcpy(out.data() + i * size, src.data() + flat(from, x.dims) * size, size);
  }
  write_raw(io.out[0], out);
}

void slice(const Node& node, const Io& io) {
  const View& x = io.in[0];
  const int64_t axis = node.axis(node.attr_int("axis"), x.dims.size(), "axis");
  const int64_t step = node.attr_int("step");
  if (step < 1) node.fail("step must be >= 1");
  const sdk::SliceRange r = sdk::slice_range(x.dims[axis], node.attr_int("start"), node.attr_int("end"), step);
  Dims dims = x.dims;
  dims[axis] = r.count;
  node.expect_dims(io.out[0], dims);
  const auto src = read_raw(x);
  const size_t size = sdk::dtype_size(x.dtype);
  std::vector<std::byte> out(static_cast<size_t>(numel(dims)) * size);
  for (int64_t i = 0; i < numel(dims); ++i) {
    Dims c = coords(i, dims);
    c[axis] = r.first + c[axis] * step;
    std::memcpy(out.data() + i * size, src.data() + flat(c, x.dims) * size, size);
  }
  write_raw(io.out[0], out);
}

void concat(const Node& node, const Io& io) {
  const Dims& first = io.in[0].dims;
  const int64_t axis = node.axis(node.attr_int("axis"), first.size(), "axis");
  Dims dims = first;
  dims[axis] = 0;
  for (const View& v : io.in) {
    Dims other = v.dims;
    if (other.size() != first.size()) node.fail("inputs differ in rank");
    dims[axis] += other[axis];
    other[axis] = first[axis];
    if (other != first) node.fail("input " + dims_str(v.dims) + " differs from " + dims_str(first) + " outside the axis");
  }
  node.expect_dims(io.out[0], dims);
  const size_t size = sdk::dtype_size(io.in[0].dtype);
  std::vector<std::byte> out(static_cast<size_t>(numel(dims)) * size);
  int64_t start = 0;  // where the current input begins along the axis
  for (const View& v : io.in) {
    const auto src = read_raw(v);
    for (int64_t i = 0; i < v.numel(); ++i) {
      Dims c = coords(i, v.dims);
      c[axis] += start;
      std::memcpy(out.data() + flat(c, dims) * size, src.data() + i * size, size);
    }
    start += v.dims[axis];
  }
  write_raw(io.out[0], out);
}

}  // namespace

std::vector<OpEntry> shape_ops() {
  return {{"reshape", reshape}, {"transpose", transpose}, {"slice", slice}, {"concat", concat}};
}

}  // namespace loom::reference
