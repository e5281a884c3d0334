// gather (any dtype, i64 or i32 indices, any axis, negative indices), gather_rows and positions.
#include "kernel.hpp"

#include <cstring>

namespace loom::reference {
namespace {

void gather(const Node& node, const Io& io) {
  const View &data = io.in[0], &indices = io.in[1];
  const int64_t axis = node.axis(node.attr_int("axis"), data.dims.size(), "axis");
  Dims dims(data.dims.begin(), data.dims.begin() + axis);
  dims.insert(dims.end(), indices.dims.begin(), indices.dims.end());
  dims.insert(dims.end(), data.dims.begin() + axis + 1, data.dims.end());
  node.expect_dims(io.out[0], dims);

  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= data.dims[d];
  for (size_t d = axis + 1; d < data.dims.size(); ++d) inner *= data.dims[d];
  const int64_t n = data.dims[axis];
  const auto idx = read_int(indices);
  const auto src = read_raw(data);
  const size_t size = sdk::dtype_size(data.dtype);
  std::vector<std::byte> out(static_cast<size_t>(numel(dims)) * size);
  for (int64_t o = 0; o < outer; ++o)
    for (size_t t = 0; t < idx.size(); ++t) {
      int64_t i = idx[t];
      if (i < -n || i >= n)
        node.fail("index " + std::to_string(i) + " is out of range for axis " + std::to_string(axis) + " of size " + std::to_string(n));
      if (i < 0) i += n;
      std::memcpy(out.data() + ((o * idx.size() + t) * inner) * size, src.data() + ((o * n + i) * inner) * size, inner * size);
    }
  write_raw(io.out[0], out);
}

// out[b] = data[b, indices[b]].
void gather_rows(const Node& node, const Io& io) {
  const View &data = io.in[0], &indices = io.in[1];
  if (data.dims.size() < 2 || indices.dims != Dims{data.dims[0]})
    node.fail("indices " + dims_str(indices.dims) + " must hold one index per batch entry of data " + dims_str(data.dims));
  Dims dims = data.dims;
  dims.erase(dims.begin() + 1);
  node.expect_dims(io.out[0], dims);
  const int64_t batch = data.dims[0], rows = data.dims[1];
  const int64_t inner = batch ? numel(dims) / batch : 0;
  const auto idx = read_int(indices);
  const auto src = read_raw(data);
  const size_t size = sdk::dtype_size(data.dtype);
  std::vector<std::byte> out(static_cast<size_t>(numel(dims)) * size);
  for (int64_t b = 0; b < batch; ++b) {
    int64_t i = idx[b];
    if (i < -rows || i >= rows) node.fail("index " + std::to_string(i) + " of batch entry " + std::to_string(b) + " is out of range for " + std::to_string(rows) + " rows");
    if (i < 0) i += rows;
    std::memcpy(out.data() + b * inner * size, src.data() + (b * rows + i) * inner * size, inner * size);
  }
  write_raw(io.out[0], out);
}

void positions(const Node& node, const Io& io) {
  const Dims& like = io.in[0].dims;
  const int64_t axis = node.axis(node.attr_int("axis"), like.size(), "axis");
  const bool per_row = node.attr_bool("per_row");
  const bool has_offset = io.in.size() > 1 && io.in[1].present;
  if (per_row && (!has_offset || axis == 0)) node.fail("per_row needs an offset per batch row and an axis other than 0");
  const std::vector<int64_t> offset = has_offset ? read_int(io.in[1]) : std::vector<int64_t>{0};
  const int64_t rows = per_row ? like[0] : 1, n = like[axis];
  if (static_cast<int64_t>(offset.size()) != rows) node.fail("offset has " + std::to_string(offset.size()) + " elements, expected " + std::to_string(rows));
  node.expect_dims(io.out[0], per_row ? Dims{rows, n} : Dims{n});
  std::vector<int64_t> out;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < n; ++i) out.push_back(offset[r] + i);
  write_int(io.out[0], out);
}

}  // namespace

std::vector<OpEntry> indexing_ops() { return {{"gather", gather}, {"gather_rows", gather_rows}, {"positions", positions}}; }

}  // namespace loom::reference
