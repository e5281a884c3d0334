// matmul (batched, broadcast batch dims, transposes, alpha) and linear (bias, activation, either
// weight layout): every dot product summed in f64, rounded once to the output dtype.
#include "kernel.hpp"

#include <cmath>

namespace loom::reference {
namespace {

void matmul(const Node& node, const Io& io) {
  const View &a = io.in[0], &b = io.in[1];
  const bool ta = node.attr_bool("transpose_a"), tb = node.attr_bool("transpose_b");
  const double alpha = node.attr_float("alpha");
  if (a.dims.size() < 2 || b.dims.size() < 2) node.fail("matmul needs inputs of rank >= 2");
  const int64_t ra = a.dims.size(), rb = b.dims.size();
  // a is [.., M, K] (or [.., K, M] transposed); b is [.., K, N] (or [.., N, K]).
  const int64_t m = ta ? a.dims[ra - 1] : a.dims[ra - 2], k = ta ? a.dims[ra - 2] : a.dims[ra - 1];
  const int64_t k2 = tb ? b.dims[rb - 1] : b.dims[rb - 2], n = tb ? b.dims[rb - 2] : b.dims[rb - 1];
  if (k != k2) node.fail("inner dimensions differ: " + dims_str(a.dims) + " @ " + dims_str(b.dims));
  const Dims batch_a(a.dims.begin(), a.dims.end() - 2), batch_b(b.dims.begin(), b.dims.end() - 2);
  Dims dims = broadcast_dims(batch_a, batch_b);
  const auto map_a = broadcast_map(batch_a, dims), map_b = broadcast_map(batch_b, dims);
  const int64_t batches = numel(dims);
  dims.push_back(m);
  dims.push_back(n);
  node.expect_dims(io.out[0], dims);

  const auto x = read_real(a), y = read_real(b);
  std::vector<double> out(static_cast<size_t>(numel(dims)));
  for (int64_t t = 0; t < batches; ++t) {
    const double* pa = x.data() + map_a[t] * m * k;
    const double* pb = y.data() + map_b[t] * k * n;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0;
        for (int64_t p = 0; p < k; ++p) sum += (ta ? pa[p * m + i] : pa[i * k + p]) * (tb ? pb[j * k + p] : pb[p * n + j]);
        out[(t * m + i) * n + j] = alpha * sum;
      }
  }
  write_real(io.out[0], out);
}

double activate(const std::string& act, double v) {
  if (act == "relu") return v > 0 ? v : (std::isnan(v) ? v : 0.0);
  if (act == "gelu") return gelu_erf(v);
  if (act == "gelu_tanh") return gelu_tanh(v);
  if (act == "quick_gelu") return quick_gelu(v);
  if (act == "silu") return silu(v);
  if (act == "tanh") return std::tanh(v);
  return v;
}

std::optional<std::string> check_linear(const Node& node) {
  const std::string& act = node.attr_string("activation");
  for (const char* known : {"none", "relu", "gelu", "gelu_tanh", "quick_gelu", "silu", "tanh"})
    if (act == known) return std::nullopt;
  return "activation '" + act + "' is not one of none, relu, gelu, gelu_tanh, quick_gelu, silu, tanh";
}

void linear(const Node& node, const Io& io) {
  const View &x = io.in[0], &w = io.in[1];
  const bool kn = node.attr_bool("weight_transposed");  // w is [K, N] rather than [N, K]
  if (x.dims.empty() || w.dims.size() != 2) node.fail("linear needs x of rank >= 1 and a 2-D weight");
  const int64_t k = x.dims.back(), n = kn ? w.dims[1] : w.dims[0];
  if ((kn ? w.dims[0] : w.dims[1]) != k) node.fail("x " + dims_str(x.dims) + " does not match weight " + dims_str(w.dims));
  Dims dims = x.dims;
  dims.back() = n;
  node.expect_dims(io.out[0], dims);
  const bool has_bias = io.in.size() > 2 && io.in[2].present;
  if (has_bias && io.in[2].dims != Dims{n}) node.fail("bias " + dims_str(io.in[2].dims) + " must be [" + std::to_string(n) + "]");

  const auto xs = read_real(x), ws = read_real(w);
  const auto bias = has_bias ? read_real(io.in[2]) : std::vector<double>(static_cast<size_t>(n), 0.0);
  const std::string& act = node.attr_string("activation");
  const int64_t rows = numel(std::span<const int64_t>(x.dims).first(x.dims.size() - 1));
  std::vector<double> out(static_cast<size_t>(numel(dims)));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0;
      for (int64_t p = 0; p < k; ++p) sum += xs[r * k + p] * (kn ? ws[p * n + j] : ws[j * k + p]);
      out[r * n + j] = activate(act, sum + bias[j]);
    }
  write_real(io.out[0], out);
}

}  // namespace

std::vector<OpEntry> linalg_ops() { return {{"matmul", matmul}, {"linear", linear, check_linear}}; }

}  // namespace loom::reference
