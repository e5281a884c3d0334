// rms_norm and l2_normalize: each vector is divided by a norm of itself, as plain loops over
// [outer, n, inner] views with double accumulation (one pass to sum squares, one to scale).
// Neither is in oneDNN 2.6 as a primitive; both read each element twice and are memory-bound.
#include "kernel.hpp"

#include <algorithm>
#include <cmath>

namespace loom::onednn {
namespace {

// rms_norm: x / sqrt(mean(x^2) + eps) * weight over dims axis.. (one contiguous run per row).
class RmsNormStep final : public Step {
 public:
  RmsNormStep(const NodeInfo& info, AxisView v, float eps) : info_(info), v_(v), eps_(eps) {}
  void run(const RunContext& ctx) const override {
    const float* x = ctx.as<const float>(info_.inputs[0]);
    const float* w = info_.inputs.size() > 1 && info_.inputs[1] >= 0 ? ctx.as<const float>(info_.inputs[1]) : nullptr;
    float* y = ctx.as<float>(info_.outputs[0]);
    for (int64_t r = 0; r < v_.outer; ++r) {
      const float* xr = x + r * v_.n;
      float* yr = y + r * v_.n;
      double sq = 0;
      for (int64_t i = 0; i < v_.n; ++i) sq += static_cast<double>(xr[i]) * xr[i];
      const float inv = static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(v_.n) + eps_));
      for (int64_t i = 0; i < v_.n; ++i) yr[i] = xr[i] * inv * (w ? w[i] : 1.0f);
    }
  }

 private:
  NodeInfo info_;
  AxisView v_;
  float eps_;
};

// l2_normalize: x / max(||x||, eps) along one axis.
class L2NormalizeStep final : public Step {
 public:
  L2NormalizeStep(const NodeInfo& info, AxisView v, double eps) : info_(info), v_(v), eps_(eps) {}
  void run(const RunContext& ctx) const override {
    const float* x = ctx.as<const float>(info_.inputs[0]);
    float* y = ctx.as<float>(info_.outputs[0]);
    for (int64_t o = 0; o < v_.outer; ++o)
      for (int64_t j = 0; j < v_.inner; ++j) {
        const float* xv = x + o * v_.n * v_.inner + j;
        float* yv = y + o * v_.n * v_.inner + j;
        double sq = 0;
        for (int64_t i = 0; i < v_.n; ++i) sq += static_cast<double>(xv[i * v_.inner]) * xv[i * v_.inner];
        const double norm = std::max(std::sqrt(sq), eps_);
        for (int64_t i = 0; i < v_.n; ++i) yv[i * v_.inner] = static_cast<float>(xv[i * v_.inner] / norm);
      }
  }

 private:
  NodeInfo info_;
  AxisView v_;
  double eps_;
};

class VectorNormKernel final : public NodeKernel {
 public:
  VectorNormKernel(NodeInfo info, bool rms, int64_t axis, double eps) : NodeKernel(std::move(info)), rms_(rms), axis_(axis), eps_(eps) {}

  std::unique_ptr<Step> prepare(const sdk::ShapeSet& shapes) const override {
    auto x = in_dims(shapes, 0);
    expect_output(shapes, 0, x);
    const auto axis = normalize_axis(axis_, static_cast<int64_t>(x.size()));
    if (!axis) info_.fail("axis " + std::to_string(axis_) + " is out of range for " + dims_str(x));
    if (rms_ && has_input(1)) {
      auto w = in_dims(shapes, 1);
      if (!std::equal(w.begin(), w.end(), x.begin() + *axis, x.end()))
        info_.fail("weight " + dims_str(w) + " must be the normalised dims of " + dims_str(x));
    }
    if (count(x) == 0) return std::make_unique<NoStep>();
    const AxisView v = view_around(x, *axis, rms_);
    if (rms_) return std::make_unique<RmsNormStep>(info_, v, static_cast<float>(eps_));
    return std::make_unique<L2NormalizeStep>(info_, v, eps_);
  }

 private:
  bool rms_;
  int64_t axis_;
  double eps_;
};

std::optional<std::string> check_vector_norm(const sdk::NodeView& node) {
  const bool rms = node.op() == "rms_norm";
  if (auto r = check_arity(node, 1, rms ? 2 : 1, 1)) return r;
  for (size_t i = 0; i < node.num_inputs(); ++i)
    if (auto r = check_dtype(node, i, {LOOM_DTYPE_F32})) return r;
  return std::nullopt;
}

std::unique_ptr<NodeKernel> compile_vector_norm(const sdk::NodeView& node, NodeInfo info) {
  const bool rms = node.op() == "rms_norm";
  return std::make_unique<VectorNormKernel>(std::move(info), rms, attr_int(node, "axis", -1),
                                            attr_float(node, "epsilon", rms ? 1e-5 : 0.0));
}

}  // namespace

std::vector<OpEntry> vector_norm_ops() {
  return {{"rms_norm", check_vector_norm, compile_vector_norm}, {"l2_normalize", check_vector_norm, compile_vector_norm}};
}

}  // namespace loom::onednn
