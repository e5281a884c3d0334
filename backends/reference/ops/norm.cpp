// layer_norm, add_layer_norm and softmax: means, variances and exponent sums in f64 (two passes,
// the variance biased), rounded once to the output dtype.
#include "kernel.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace loom::reference {
namespace {

// Normalises each row of `inner` elements of x in place; weight and bias (may be empty) hold
// `inner` values each.
void normalize_rows(std::vector<double>& x, int64_t inner, double epsilon, const std::vector<double>& weight,
                    const std::vector<double>& bias) {
  if (inner == 0) return;
  for (size_t row = 0; row < x.size() / inner; ++row) {
    double* v = x.data() + row * inner;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < inner; ++i) mean += v[i];
    mean /= inner;
    for (int64_t i = 0; i < inner; ++i) var += (v[i] - mean) * (v[i] - mean);
    var /= inner;
    const double inv = 1.0 / std::sqrt(var + epsilon);
    for (int64_t i = 0; i < inner; ++i)
      v[i] = (v[i] - mean) * inv * (weight.empty() ? 1.0 : weight[i]) + (bias.empty() ? 0.0 : bias[i]);
  }
}

// layer_norm of `x` (dims `dims`) over dims axis..; weight and bias are inputs first and first+1.
std::vector<double> layer_norm_of(const Node& node, const Io& io, std::vector<double> x, const Dims& dims, size_t first) {
  const int64_t axis = node.axis(node.attr_int("axis"), dims.size(), "axis");
  const Dims normalized(dims.begin() + axis, dims.end());
  std::vector<double> params[2];
  for (size_t p = 0; p < 2; ++p) {
    const size_t i = first + p;
    if (i >= io.in.size() || !io.in[i].present) continue;
    if (io.in[i].dims != normalized)
      node.fail("input " + std::to_string(i) + " has shape " + dims_str(io.in[i].dims) + ", expected " + dims_str(normalized));
    params[p] = read_real(io.in[i]);
  }
  normalize_rows(x, numel(normalized), node.attr_float("epsilon"), params[0], params[1]);
  return x;
}

void layer_norm(const Node& node, const Io& io) {
  const Dims& dims = io.in[0].dims;
  node.expect_dims(io.out[0], dims);
  write_real(io.out[0], layer_norm_of(node, io, read_real(io.in[0]), dims, 1));
}

// The sum is rounded to the dtype before it is normalised, as the decomposition (add, then
// layer_norm) does and as the `sum` output holds it.
void add_layer_norm(const Node& node, const Io& io) {
  const View &a = io.in[0], &b = io.in[1];
  const Dims dims = broadcast_dims(a.dims, b.dims);
  node.expect_dims(io.out[0], dims);
  if (io.out.size() > 1) node.expect_dims(io.out[1], dims);
  const auto ia = broadcast_map(a.dims, dims), ib = broadcast_map(b.dims, dims);
  const auto x = read_real(a), y = read_real(b);
  std::vector<double> sum(ia.size());
  for (size_t i = 0; i < sum.size(); ++i) sum[i] = static_cast<double>(round_to(a.dtype, x[ia[i]] + y[ib[i]]));
  const std::vector<double> out = layer_norm_of(node, io, sum, dims, 2);
  write_real(io.out[0], out);
  if (io.out.size() > 1) write_real(io.out[1], sum);
}

// rms_norm: x / sqrt(mean(x^2) + epsilon) * weight over dims axis...
void rms_norm(const Node& node, const Io& io) {
  const Dims& dims = io.in[0].dims;
  node.expect_dims(io.out[0], dims);
  const int64_t axis = node.axis(node.attr_int("axis"), dims.size(), "axis");
  const Dims normalized(dims.begin() + axis, dims.end());
  std::vector<double> weight;
  if (io.in.size() > 1 && io.in[1].present) {
    if (io.in[1].dims != normalized)
      node.fail("weight has shape " + dims_str(io.in[1].dims) + ", expected " + dims_str(normalized));
    weight = read_real(io.in[1]);
  }
  std::vector<double> x = read_real(io.in[0]);
  const int64_t inner = numel(normalized);
  for (size_t row = 0; inner && row < x.size() / inner; ++row) {
    double* v = x.data() + row * inner;
    double sq = 0;
    for (int64_t i = 0; i < inner; ++i) sq += v[i] * v[i];
    const double inv = 1.0 / std::sqrt(sq / inner + node.attr_float("epsilon"));
    for (int64_t i = 0; i < inner; ++i) v[i] = v[i] * inv * (weight.empty() ? 1.0 : weight[i]);
  }
  write_real(io.out[0], x);
}

// l2_normalize: x / max(||x||_2, epsilon) along one axis.
void l2_normalize(const Node& node, const Io& io) {
  const Dims& dims = io.in[0].dims;
  node.expect_dims(io.out[0], dims);
  const int64_t axis = node.axis(node.attr_int("axis"), dims.size(), "axis");
  const int64_t n = dims[axis];
  int64_t inner = 1;
  for (size_t d = axis + 1; d < dims.size(); ++d) inner *= dims[d];
  const int64_t outer = n * inner != 0 ? numel(dims) / (n * inner) : 0;
  std::vector<double> x = read_real(io.in[0]);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t in = 0; in < inner; ++in) {
      auto at = [&](int64_t i) { return (o * n + i) * inner + in; };
      double sq = 0;
      for (int64_t i = 0; i < n; ++i) sq += x[at(i)] * x[at(i)];
      const double norm = std::max(std::sqrt(sq), node.attr_float("epsilon"));
      for (int64_t i = 0; i < n; ++i) x[at(i)] /= norm;
    }
  write_real(io.out[0], x);
}

// softmax(x + mask) along axis; a row whose entries are all -inf gives NaN, as PyTorch.
void softmax(const Node& node, const Io& io) {
  const View& xv = io.in[0];
  const Dims& dims = xv.dims;
  node.expect_dims(io.out[0], dims);
  const int64_t axis = node.axis(node.attr_int("axis"), dims.size(), "axis");
  std::vector<double> x = read_real(xv);
  if (io.in.size() > 1 && io.in[1].present) {
    const auto map = broadcast_map(io.in[1].dims, dims);
    const auto mask = read_real(io.in[1]);
    // x + mask is a value of the dtype (the decomposition's scores), then the softmax.
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<double>(round_to(xv.dtype, x[i] + mask[map[i]]));
  }
  const int64_t n = dims[axis];
  int64_t inner = 1;
  for (size_t d = axis + 1; d < dims.size(); ++d) inner *= dims[d];
  const int64_t outer = n * inner != 0 ? numel(dims) / (n * inner) : 0;
  std::vector<double> out(x.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t in = 0; in < inner; ++in) {
      auto at = [&](int64_t i) { return (o * n + i) * inner + in; };
      double max = -std::numeric_limits<double>::infinity();
      for (int64_t i = 0; i < n; ++i) max = std::max(max, x[at(i)]);
      double sum = 0;
      for (int64_t i = 0; i < n; ++i) sum += std::exp(x[at(i)] - max);
      for (int64_t i = 0; i < n; ++i) out[at(i)] = std::exp(x[at(i)] - max) / sum;
    }
  write_real(io.out[0], out);
}

}  // namespace

std::vector<OpEntry> norm_ops() {
  return {{"layer_norm", layer_norm},
          {"add_layer_norm", add_layer_norm},
          {"rms_norm", rms_norm},
          {"l2_normalize", l2_normalize},
          {"softmax", softmax}};
}

}  // namespace loom::reference
