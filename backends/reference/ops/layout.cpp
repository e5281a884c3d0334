// roll and pad: each output element's source index, computed one element at a time.
#include "kernel.hpp"

#include <cstring>

namespace loom::reference {
namespace {

// Writes out[i] = x[source(i)] for every row-major index of `out`, or the `fill` element's bytes
// where source gives -1 on some axis.
template <class Source>
void move_elements(const Node& node, const Io& io, const Dims& out_dims, Source&& source, const std::vector<std::byte>& fill) {
  node.expect_dims(io.out[0], out_dims);
  const View& x = io.in[0];
  const auto src = read_raw(x);
  const size_t size = sdk::dtype_size(x.dtype);
  const Dims strides = dense_strides(x.dims);
  std::vector<std::byte> out(static_cast<size_t>(numel(out_dims)) * size);
  Dims index(out_dims.size(), 0);
  for (size_t e = 0; e < out.size() / size; ++e) {
    int64_t from = 0;
    bool inside = true;
    for (size_t d = 0; d < out_dims.size(); ++d) {
      const int64_t s = source(d, index[d]);
      if (s < 0) inside = false;
      from += s * strides[d];
    }
    std::memcpy(out.data() + e * size, inside ? src.data() + from * size : fill.data(), size);
    for (size_t d = out_dims.size(); d-- > 0;) {
      if (++index[d] < out_dims[d]) break;
      index[d] = 0;
    }
  }
  write_raw(io.out[0], out);
}

void roll(const Node& node, const Io& io) {
  const Dims& dims = io.in[0].dims;
  const auto& shifts = node.attr_ints("shifts");
  const auto& axes = node.attr_ints("axes");
  if (axes.empty() || shifts.size() != axes.size()) node.fail("shifts and axes must be as many, at least one");
  Dims shift(dims.size(), 0);
  for (size_t k = 0; k < axes.size(); ++k) shift[node.axis(axes[k], dims.size(), "axes")] += shifts[k];
  move_elements(node, io, dims, [&](size_t d, int64_t i) {
    const int64_t n = dims[d];
    // Python's modulo: the source of out[i] is x[(i - shift) mod n].
    const int64_t s = (i - shift[d] % n) % n;
    return s < 0 ? s + n : s;
  }, {});
}

void pad(const Node& node, const Io& io) {
  const Dims& dims = io.in[0].dims;
  const auto& before = node.attr_ints("before");
  const auto& after = node.attr_ints("after");
  if (before.size() != dims.size() || after.size() != dims.size()) node.fail("before and after need one entry per axis");
  Dims out = dims;
  for (size_t d = 0; d < dims.size(); ++d) {
    if (before[d] < 0 || after[d] < 0) node.fail("padding must not be negative");
    out[d] += before[d] + after[d];
  }
  // The fill value as one element of the dtype, written through the reference's own rounding.
  std::vector<std::byte> fill(sdk::dtype_size(io.in[0].dtype));
  View one{true, io.in[0].dtype, {1}, {}, fill.data()};
  write_real(one, {node.attr_float("value")});
  move_elements(node, io, out, [&](size_t d, int64_t i) {
    const int64_t s = i - before[d];
    return s >= 0 && s < dims[d] ? s : int64_t(-1);
  }, fill);
}

}  // namespace

std::vector<OpEntry> layout_ops() { return {{"roll", roll}, {"pad", pad}}; }

}  // namespace loom::reference
