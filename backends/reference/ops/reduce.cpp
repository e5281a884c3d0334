// reduce_mean (f64 sums), argmax and topk (torch's order: NaN above every number, the lower index
// first among equal values), over any dtype the registry allows.
#include "kernel.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

namespace loom::reference {
namespace {

void reduce_mean(const Node& node, const Io& io) {
  const Dims& dims = io.in[0].dims;
  std::set<int64_t> axes;
  for (int64_t a : node.attr_ints("axes"))
    if (!axes.insert(node.axis(a, dims.size(), "axes")).second) node.fail("axes names axis " + std::to_string(a) + " twice");
  Dims out_dims, kept;  // kept: the output's dims without the size-1 ones keepdims adds
  for (size_t d = 0; d < dims.size(); ++d) {
    if (!axes.count(static_cast<int64_t>(d))) out_dims.push_back(dims[d]), kept.push_back(dims[d]);
    else if (node.attr_bool("keepdims")) out_dims.push_back(1);
  }
  node.expect_dims(io.out[0], out_dims);
  const auto x = read_real(io.in[0]);
  std::vector<double> sum(static_cast<size_t>(numel(kept)), 0.0);
  const int64_t per_out = sum.empty() ? 0 : static_cast<int64_t>(x.size() / sum.size());
  // Walk every input index; its output index drops the reduced dims.
  Dims index(dims.size(), 0);
  for (size_t e = 0; e < x.size(); ++e) {
    int64_t at = 0;
    for (size_t d = 0; d < dims.size(); ++d)
      if (!axes.count(static_cast<int64_t>(d))) at = at * dims[d] + index[d];
    sum[at] += x[e];
    for (size_t d = dims.size(); d-- > 0;) {
      if (++index[d] < dims[d]) break;
      index[d] = 0;
    }
  }
  for (double& s : sum) s /= static_cast<double>(per_out);
  write_real(io.out[0], sum);
}

// Whether a is above b in torch's order.
bool above(double a, double b) {
  if (std::isnan(a)) return !std::isnan(b);
  if (std::isnan(b)) return false;
  return a > b;
}
bool above(int64_t a, int64_t b) { return a > b; }

// The elements of each vector along `axis`, in row-major order of the other dims: calls
// f(vector values, output offset of its first element, output stride) for each.
template <class T, class F>
void each_vector(const std::vector<T>& x, const Dims& dims, int64_t axis, int64_t out_n, F&& f) {
  const int64_t n = dims[axis];
  int64_t inner = 1;
  for (size_t d = axis + 1; d < dims.size(); ++d) inner *= dims[d];
  const int64_t outer = n * inner != 0 ? numel(dims) / (n * inner) : 0;
  std::vector<T> v(static_cast<size_t>(n));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t in = 0; in < inner; ++in) {
      for (int64_t i = 0; i < n; ++i) v[i] = x[(o * n + i) * inner + in];
      f(v, o * out_n * inner + in, inner);
    }
}

// Floats read as double (exact for every float); integers as int64_t, exact whatever their size.
void argmax(const Node& node, const Io& io) {
  const Dims& dims = io.in[0].dims;
  const int64_t axis = node.axis(node.attr_int("axis"), dims.size(), "axis");
  if (dims[axis] == 0) node.fail("argmax along an axis of size 0");
  Dims out_dims = dims;
  if (node.attr_bool("keepdims")) out_dims[axis] = 1;
  else out_dims.erase(out_dims.begin() + axis);
  node.expect_dims(io.out[0], out_dims);
  std::vector<int64_t> out(static_cast<size_t>(numel(out_dims)));
  auto best_of = [&](const auto& v, int64_t at, int64_t) {
    int64_t best = 0;
    for (size_t i = 1; i < v.size(); ++i)
      if (above(v[i], v[best])) best = static_cast<int64_t>(i);
    out[at] = best;
  };
  if (is_integer(io.in[0].dtype)) each_vector(read_int(io.in[0]), dims, axis, 1, best_of);
  else each_vector(read_real(io.in[0]), dims, axis, 1, best_of);
  write_int(io.out[0], out);
}

void topk(const Node& node, const Io& io) {
  const Dims& dims = io.in[0].dims;
  const int64_t axis = node.axis(node.attr_int("axis"), dims.size(), "axis");
  const int64_t k = node.attr_int("k");
  if (k < 1 || k > dims[axis]) node.fail("k = " + std::to_string(k) + " is outside 1.." + std::to_string(dims[axis]));
  Dims out_dims = dims;
  out_dims[axis] = k;
  node.expect_dims(io.out[0], out_dims);
  node.expect_dims(io.out[1], out_dims);
  const size_t count = static_cast<size_t>(numel(out_dims));
  std::vector<int64_t> indices(count);
  auto top = [&](const auto& x, auto& values) {
    each_vector(x, dims, axis, k, [&](const auto& v, int64_t at, int64_t stride) {
      std::vector<int64_t> order(v.size());
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int64_t p, int64_t q) { return above(v[p], v[q]); });
      for (int64_t i = 0; i < k; ++i) {
        values[at + i * stride] = v[order[i]];
        indices[at + i * stride] = order[i];
      }
    });
  };
  if (is_integer(io.in[0].dtype)) {
    std::vector<int64_t> values(count);
    top(read_int(io.in[0]), values);
    write_int(io.out[0], values);
  } else {
    std::vector<double> values(count);
    top(read_real(io.in[0]), values);
    write_real(io.out[0], values);
  }
  write_int(io.out[1], indices);
}

}  // namespace

std::vector<OpEntry> reduce_ops() { return {{"reduce_mean", reduce_mean}, {"argmax", argmax}, {"topk", topk}}; }

}  // namespace loom::reference
