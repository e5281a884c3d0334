// Element-wise ops: add, sub, mul, div (f32, i64, i32) and relu, tanh, sigmoid, exp, gelu, quick_gelu, silu (f32).
// Small tensors take direct loops: a oneDNN primitive call costs about as much as a few
// hundred elements of work, and graphs are full of tiny element-wise nodes. Large f32 tensors
// go to oneDNN's binary and eltwise primitives, which are vectorised and threaded, but for relu
// and exp, whose primitives lose NaN (threaded loops).
#include "kernel.hpp"
#include "rows.hpp"
#include "threads.hpp"

#include <cmath>
#include <type_traits>

namespace loom::onednn {
namespace {

// From this many output elements on, oneDNN's primitives beat a plain loop.
constexpr int64_t kDnnlBinaryMin = 1 << 15;
constexpr int64_t kDnnlEltwiseMin = 1 << 14;

enum class BinOp { add, sub, mul, div };

BinOp bin_op(std::string_view op) {
  if (op == "add") return BinOp::add;
  if (op == "sub") return BinOp::sub;
  if (op == "mul") return BinOp::mul;
  return BinOp::div;
}

// Integer arithmetic wraps like PyTorch's (two's complement), without C++'s signed overflow.
template <class T>
T wrap(std::make_unsigned_t<T> v) { return static_cast<T>(v); }

template <class T, BinOp O>
struct Arith {
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      if constexpr (O == BinOp::add) return a + b;
      if constexpr (O == BinOp::sub) return a - b;
      if constexpr (O == BinOp::mul) return a * b;
      if constexpr (O == BinOp::div) return a / b;
    } else {
      using U = std::make_unsigned_t<T>;
      if constexpr (O == BinOp::add) return wrap<T>(static_cast<U>(a) + static_cast<U>(b));
      if constexpr (O == BinOp::sub) return wrap<T>(static_cast<U>(a) - static_cast<U>(b));
      if constexpr (O == BinOp::mul) return wrap<T>(static_cast<U>(a) * static_cast<U>(b));
    }
  }
};

template <class T, BinOp O>
class BinaryLoop final : public Step {
 public:
  BinaryLoop(const NodeInfo& info, Broadcast bc)
      : bc_(bc), a_(info.inputs[0]), b_(info.inputs[1]), o_(info.outputs[0]) {}
  void run(const RunContext& ctx) const override {
    bc_.apply(ctx.as<const T>(a_), ctx.as<const T>(b_), ctx.as<T>(o_), Arith<T, O>{});
  }

 private:
  Broadcast bc_;
  int32_t a_, b_, o_;
};

// Integer division truncates toward zero (torch.div(..., rounding_mode="trunc")); a zero
// divisor is an error rather than a crash.
template <class T>
class IntDivLoop final : public Step {
 public:
  IntDivLoop(const NodeInfo& info, Broadcast bc) : info_(info), bc_(bc) {}
  void run(const RunContext& ctx) const override {
    bool by_zero = false;
    bc_.apply(ctx.as<const T>(info_.inputs[0]), ctx.as<const T>(info_.inputs[1]), ctx.as<T>(info_.outputs[0]),
              [&by_zero](T a, T b) -> T {
                if (b == 0) { by_zero = true; return 0; }
                if (b == -1) return wrap<T>(std::make_unsigned_t<T>(0) - static_cast<std::make_unsigned_t<T>>(a));
                return a / b;
              });
    if (by_zero) info_.fail("integer division by zero");
  }

 private:
  NodeInfo info_;
  Broadcast bc_;
};

class DnnlBinary final : public Step {
 public:
  DnnlBinary(const NodeInfo& info, dnnl::algorithm alg, std::span<const int64_t> out,
             std::span<const int64_t> full, std::span<const int64_t> other, bool swapped)
      : info_(info) {
    Dims padded(out.size() - other.size(), 1);
    padded.insert(padded.end(), other.begin(), other.end());
    auto f32 = dnnl::memory::data_type::f32;
    auto src0 = plain_md(full, f32), src1 = plain_md(padded, f32), dst = plain_md(out, f32);
    dnnl::binary::primitive_desc pd({alg, src0, src1, dst}, user_scratchpad_attr(), cpu_engine());
    prim_ = dnnl::binary(pd);
    scratch_ = pd.scratchpad_desc().get_size();
    memory_descs = {src0, src1, dst, pd.scratchpad_desc()};
    src0_ = info.inputs[swapped ? 1 : 0];
    src1_ = info.inputs[swapped ? 0 : 1];
  }
  size_t scratch_bytes() const override { return scratch_; }
  void run(const RunContext& ctx) const override {
    execute(prim_, ctx,
            {{DNNL_ARG_SRC_0, ctx.data(src0_)}, {DNNL_ARG_SRC_1, ctx.data(src1_)},
             {DNNL_ARG_DST, ctx.data(info_.outputs[0])}, {DNNL_ARG_SCRATCHPAD, ctx.scratch}},
            info_);
  }

 private:
  NodeInfo info_;
  dnnl::binary prim_;
  size_t scratch_ = 0;
  int32_t src0_ = 0, src1_ = 0;
};

class BinaryKernel final : public NodeKernel {
 public:
  BinaryKernel(NodeInfo info) : NodeKernel(std::move(info)), op_(bin_op(info_.op)) {}

  std::unique_ptr<Step> prepare(const sdk::ShapeSet& shapes) const override {
    auto a = in_dims(shapes, 0), b = in_dims(shapes, 1);
    auto out = broadcast_dims(a, b);
    if (!out) info_.fail("shapes " + dims_str(a) + " and " + dims_str(b) + " do not broadcast");
    expect_output(shapes, 0, *out);
    const int32_t dt = info_.input_dtypes[0];
    const int64_t n = count(*out);
    if (dt == LOOM_DTYPE_F32 && n >= kDnnlBinaryMin && out->size() <= static_cast<size_t>(kMaxDnnlRank)) {
      static constexpr dnnl::algorithm algs[] = {dnnl::algorithm::binary_add, dnnl::algorithm::binary_sub,
                                                 dnnl::algorithm::binary_mul, dnnl::algorithm::binary_div};
      auto alg = algs[static_cast<int>(op_)];
      // oneDNN broadcasts only its second source, so the first must have the output's shape.
      if (count(a) == n) return std::make_unique<DnnlBinary>(info_, alg, *out, *out, b, false);
      bool commutes = op_ == BinOp::add || op_ == BinOp::mul;
      if (commutes && count(b) == n) return std::make_unique<DnnlBinary>(info_, alg, *out, *out, a, true);
    }
    auto bc = Broadcast::make(*out, a, b);
    if (!bc) info_.fail("broadcast of " + dims_str(a) + " and " + dims_str(b) + " needs more than " +
                        std::to_string(kMaxLoopRank) + " dims");
    switch (dt) {
      case LOOM_DTYPE_F32: return make<float>(*bc);
      case LOOM_DTYPE_I64: return make<int64_t>(*bc);
      case LOOM_DTYPE_I32: return make<int32_t>(*bc);
      default: info_.fail("dtype " + dtype_name(dt) + " is not supported", LOOM_STATUS_UNSUPPORTED);
    }
  }

 private:
  template <class T>
  std::unique_ptr<Step> make(const Broadcast& bc) const {
    switch (op_) {
      case BinOp::add: return std::make_unique<BinaryLoop<T, BinOp::add>>(info_, bc);
      case BinOp::sub: return std::make_unique<BinaryLoop<T, BinOp::sub>>(info_, bc);
      case BinOp::mul: return std::make_unique<BinaryLoop<T, BinOp::mul>>(info_, bc);
      case BinOp::div:
        if constexpr (std::is_floating_point_v<T>) return std::make_unique<BinaryLoop<T, BinOp::div>>(info_, bc);
        else return std::make_unique<IntDivLoop<T>>(info_, bc);
    }
    return nullptr;
  }
  BinOp op_;
};

std::optional<std::string> check_binary(const sdk::NodeView& node) {
  if (auto r = check_arity(node, 2, 2, 1)) return r;
  if (auto r = check_dtype(node, 0, {LOOM_DTYPE_F32, LOOM_DTYPE_I64, LOOM_DTYPE_I32})) return r;
  if (node.input(1).dtype() != node.input(0).dtype())
    return "inputs have different dtypes (" + dtype_name(node.input(0).dtype()) + ", " +
           dtype_name(node.input(1).dtype()) + ")";
  if (auto r = check_rank(node, 0, kMaxLoopRank)) return r;
  if (auto r = check_rank(node, 1, kMaxLoopRank)) return r;
  return std::nullopt;
}

// ---------------------------------------------------------------- unary

enum class UnOp { relu, tanh, sigmoid, gelu_erf, gelu_tanh, exp, quick_gelu, silu };


template <UnOp O>
class UnaryLoop final : public Step {
 public:
  // `threads` > 1: large tensors are cut between them (split_rows).
  UnaryLoop(const NodeInfo& info, int64_t n, int threads) : n_(n), threads_(threads), x_(info.inputs[0]), y_(info.outputs[0]) {}
  void run(const RunContext& ctx) const override {
    const float* x = ctx.as<const float>(x_);
    float* y = ctx.as<float>(y_);
    split_rows(n_, n_, threads_, [&](int64_t begin, int64_t end) { run(x, y, begin, end); });
  }

 private:
  static void run(const float* x, float* y, int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float v = x[i];
      if constexpr (O == UnOp::relu) y[i] = relu(v);
      if constexpr (O == UnOp::tanh) y[i] = std::tanh(v);
      if constexpr (O == UnOp::sigmoid) y[i] = 1.0f / (1.0f + std::exp(-v));
      if constexpr (O == UnOp::gelu_erf) y[i] = gelu_erf(v);
      if constexpr (O == UnOp::gelu_tanh) y[i] = gelu_tanh(v);
      if constexpr (O == UnOp::exp) y[i] = std::exp(v);
      if constexpr (O == UnOp::quick_gelu) y[i] = quick_gelu(v);
      if constexpr (O == UnOp::silu) y[i] = silu(v);
    }
  }

  int64_t n_;
  int threads_;
  int32_t x_, y_;
};

class DnnlEltwise final : public Step {
 public:
  DnnlEltwise(const NodeInfo& info, dnnl::algorithm alg, float alpha, int64_t n) : info_(info) {
    const int64_t dims[] = {n};
    auto md = plain_md(dims, dnnl::memory::data_type::f32);
    dnnl::eltwise_forward::primitive_desc pd({dnnl::prop_kind::forward_inference, alg, md, alpha, 0.0f},
                                             user_scratchpad_attr(), cpu_engine());
    prim_ = dnnl::eltwise_forward(pd);
    scratch_ = pd.scratchpad_desc().get_size();
    memory_descs = {md, md, pd.scratchpad_desc()};
  }
  size_t scratch_bytes() const override { return scratch_; }
  void run(const RunContext& ctx) const override {
    execute(prim_, ctx,
            {{DNNL_ARG_SRC, ctx.data(info_.inputs[0])}, {DNNL_ARG_DST, ctx.data(info_.outputs[0])},
             {DNNL_ARG_SCRATCHPAD, ctx.scratch}},
            info_);
  }

 private:
  NodeInfo info_;
  dnnl::eltwise_forward prim_;
  size_t scratch_ = 0;
};

class UnaryKernel final : public NodeKernel {
 public:
  UnaryKernel(NodeInfo info, UnOp op) : NodeKernel(std::move(info)), op_(op) {}

  std::unique_ptr<Step> prepare(const sdk::ShapeSet& shapes) const override {
    auto x = in_dims(shapes, 0);
    expect_output(shapes, 0, x);
    const int64_t n = count(x);
    // oneDNN 2.6's relu and exp lose a NaN (relu gives 0, exp +inf) where PyTorch keeps it: those
    // two stay on the loop, cut between the threads.
    const bool keeps_nan = op_ != UnOp::relu && op_ != UnOp::exp;
    if (n >= kDnnlEltwiseMin && keeps_nan) {
      static constexpr dnnl::algorithm algs[] = {dnnl::algorithm::eltwise_relu, dnnl::algorithm::eltwise_tanh,
                                                 dnnl::algorithm::eltwise_logistic, dnnl::algorithm::eltwise_gelu_erf,
                                                 dnnl::algorithm::eltwise_gelu_tanh, dnnl::algorithm::eltwise_exp,
                                                 dnnl::algorithm::eltwise_swish, dnnl::algorithm::eltwise_swish};
      const float alpha = op_ == UnOp::quick_gelu ? kQuickGeluAlpha : op_ == UnOp::silu ? 1.0f : 0.0f;
      return std::make_unique<DnnlEltwise>(info_, algs[static_cast<int>(op_)], alpha, n);
    }
    const int threads = n >= kDnnlEltwiseMin ? resolved_threads(info_.threads) : 1;
    switch (op_) {
      case UnOp::relu: return std::make_unique<UnaryLoop<UnOp::relu>>(info_, n, threads);
      case UnOp::tanh: return std::make_unique<UnaryLoop<UnOp::tanh>>(info_, n, threads);
      case UnOp::sigmoid: return std::make_unique<UnaryLoop<UnOp::sigmoid>>(info_, n, threads);
      case UnOp::gelu_erf: return std::make_unique<UnaryLoop<UnOp::gelu_erf>>(info_, n, threads);
      case UnOp::gelu_tanh: return std::make_unique<UnaryLoop<UnOp::gelu_tanh>>(info_, n, threads);
      case UnOp::exp: return std::make_unique<UnaryLoop<UnOp::exp>>(info_, n, threads);
      case UnOp::quick_gelu: return std::make_unique<UnaryLoop<UnOp::quick_gelu>>(info_, n, threads);
      case UnOp::silu: return std::make_unique<UnaryLoop<UnOp::silu>>(info_, n, threads);
    }
    return nullptr;
  }

 private:
  UnOp op_;
};

std::optional<std::string> check_unary(const sdk::NodeView& node) {
  if (auto r = check_arity(node, 1, 1, 1)) return r;
  if (auto r = check_dtype(node, 0, {LOOM_DTYPE_F32})) return r;
  if (node.op() == "gelu") {
    std::string a = attr_string(node, "approximate", "none");
    if (a != "none" && a != "tanh") return "approximate='" + a + "' is not one of none, tanh";
  }
  return std::nullopt;
}

std::unique_ptr<NodeKernel> compile_unary(const sdk::NodeView& node, NodeInfo info) {
  UnOp op = UnOp::relu;
  if (node.op() == "tanh") op = UnOp::tanh;
  else if (node.op() == "sigmoid") op = UnOp::sigmoid;
  else if (node.op() == "exp") op = UnOp::exp;
  else if (node.op() == "quick_gelu") op = UnOp::quick_gelu;
  else if (node.op() == "silu") op = UnOp::silu;
  else if (node.op() == "gelu") op = attr_string(node, "approximate", "none") == "tanh" ? UnOp::gelu_tanh : UnOp::gelu_erf;
  return std::make_unique<UnaryKernel>(std::move(info), op);
}

std::unique_ptr<NodeKernel> compile_binary(const sdk::NodeView&, NodeInfo info) {
  return std::make_unique<BinaryKernel>(std::move(info));
}

}  // namespace

std::vector<OpEntry> elementwise_ops() {
  return {{"add", check_binary, compile_binary},   {"sub", check_binary, compile_binary},
          {"mul", check_binary, compile_binary},   {"div", check_binary, compile_binary},
          {"relu", check_unary, compile_unary},    {"tanh", check_unary, compile_unary},
          {"sigmoid", check_unary, compile_unary}, {"gelu", check_unary, compile_unary},
          {"exp", check_unary, compile_unary},     {"quick_gelu", check_unary, compile_unary},
          {"silu", check_unary, compile_unary}};
}

}  // namespace loom::onednn
