// add sub mul div (float and integer, broadcasting), relu tanh sigmoid exp quick_gelu silu gelu, cast.
#include "kernel.hpp"

#include <cmath>
#include <limits>

namespace loom::reference {

double gelu_erf(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
double gelu_tanh(double x) {
  const double c = std::sqrt(2.0 / M_PI);
  return 0.5 * x * (1.0 + std::tanh(c * (x + 0.044715 * x * x * x)));
}
double quick_gelu(double x) { return x / (1.0 + std::exp(-1.702 * x)); }
double silu(double x) { return x / (1.0 + std::exp(-x)); }

namespace {

enum class Arith { add, sub, mul, div };

// Integer arithmetic wraps (computed on uint64, then cut to the dtype's width by write_int);
// division truncates toward zero and refuses zero, as docs/ops.md says.
int64_t int_op(const Node& node, Arith op, int64_t a, int64_t b) {
  const auto ua = static_cast<uint64_t>(a), ub = static_cast<uint64_t>(b);
  switch (op) {
    case Arith::add: return static_cast<int64_t>(ua + ub);
    case Arith::sub: return static_cast<int64_t>(ua - ub);
    case Arith::mul: return static_cast<int64_t>(ua * ub);
    case Arith::div:
      if (b == 0) node.fail("integer division by zero");
      if (b == -1) return static_cast<int64_t>(0 - ua);  // INT64_MIN / -1 wraps
      return a / b;
  }
  return 0;
}

double real_op(Arith op, double a, double b) {
  switch (op) {
    case Arith::add: return a + b;
    case Arith::sub: return a - b;
    case Arith::mul: return a * b;
    case Arith::div: return a / b;
  }
  return 0;
}

template <Arith op>
void binary(const Node& node, const Io& io) {
  const View &a = io.in[0], &b = io.in[1], &out = io.out[0];
  const Dims dims = broadcast_dims(a.dims, b.dims);
  node.expect_dims(out, dims);
  const auto ia = broadcast_map(a.dims, dims), ib = broadcast_map(b.dims, dims);
  if (is_integer(a.dtype)) {
    const auto x = read_int(a), y = read_int(b);
    std::vector<int64_t> r(ia.size());
    for (size_t i = 0; i < r.size(); ++i) r[i] = int_op(node, op, x[ia[i]], y[ib[i]]);
    return write_int(out, r);
  }
  const auto x = read_real(a), y = read_real(b);
  std::vector<double> r(ia.size());
  for (size_t i = 0; i < r.size(); ++i) r[i] = real_op(op, x[ia[i]], y[ib[i]]);
  write_real(out, r);
}

template <double (*f)(double)>
void unary(const Node& node, const Io& io) {
  node.expect_dims(io.out[0], io.in[0].dims);
  std::vector<double> x = read_real(io.in[0]);
  for (double& v : x) v = f(v);
  write_real(io.out[0], x);
}

double relu(double x) { return x > 0 ? x : (std::isnan(x) ? x : 0.0); }
double tanh_(double x) { return std::tanh(x); }
double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double exp_(double x) { return std::exp(x); }

void gelu(const Node& node, const Io& io) {
  const bool approximate = node.attr_string("approximate") == "tanh";
  node.expect_dims(io.out[0], io.in[0].dims);
  std::vector<double> x = read_real(io.in[0]);
  for (double& v : x) v = approximate ? gelu_tanh(v) : gelu_erf(v);
  write_real(io.out[0], x);
}

std::optional<std::string> check_gelu(const Node& node) {
  const std::string& a = node.attr_string("approximate");
  if (a != "none" && a != "tanh") return "approximate must be \"none\" or \"tanh\", not \"" + a + "\"";
  return std::nullopt;
}

// Float to integer truncates, saturates and maps NaN to 0 (write_real's rounding); integer to
// integer keeps the low bits, as PyTorch's .to() does; to a float rounds to nearest-even.
void cast(const Node& node, const Io& io) {
  node.expect_dims(io.out[0], io.in[0].dims);
  if (is_integer(io.in[0].dtype)) return write_int(io.out[0], read_int(io.in[0]));
  write_real(io.out[0], read_real(io.in[0]));
}

}  // namespace

std::vector<OpEntry> elementwise_ops() {
  return {{"add", binary<Arith::add>},
          {"sub", binary<Arith::sub>},
          {"mul", binary<Arith::mul>},
          {"div", binary<Arith::div>},
          {"relu", unary<relu>},
          {"tanh", unary<tanh_>},
          {"sigmoid", unary<sigmoid>},
          {"exp", unary<exp_>},
          {"quick_gelu", unary<quick_gelu>},
          {"silu", unary<silu>},
          {"gelu", gelu, check_gelu},
          {"cast", cast}};
}

}  // namespace loom::reference
