// layer_norm and softmax on oneDNN's layer_normalization_forward and softmax_v2_forward.
// The tensor is viewed as [outer, inner] for layer norm (normalising dims axis..rank-1 at once);
// softmax's additive mask is broadcast-added into the output first, then softmax runs in place.
#include "kernel.hpp"

#include <algorithm>

namespace loom::onednn {
namespace {

using dt = dnnl::memory::data_type;

class LayerNormStep final : public Step {
 public:
  LayerNormStep(const NodeInfo& info, int64_t outer, int64_t inner, float eps, bool scale, bool shift)
      : info_(info), scale_(scale), shift_(shift) {
    const int64_t dims[] = {outer, inner}, c[] = {inner};
    auto md = plain_md(dims, dt::f32), cmd = plain_md(c, dt::f32);
    auto flags = dnnl::normalization_flags::none;
    if (scale) flags |= dnnl::normalization_flags::use_scale;
    if (shift) flags |= dnnl::normalization_flags::use_shift;
    dnnl::layer_normalization_forward::primitive_desc pd(
        {dnnl::prop_kind::forward_inference, md, eps, flags}, user_scratchpad_attr(), cpu_engine());
    prim_ = dnnl::layer_normalization_forward(pd);
    scratch_ = pd.scratchpad_desc().get_size();
    memory_descs = {md, md, pd.scratchpad_desc(), cmd, cmd};
  }
  size_t scratch_bytes() const override { return scratch_; }
  void run(const RunContext& ctx) const override {
    void* src = ctx.data(info_.inputs[0]);
    void* dst = ctx.data(info_.outputs[0]);
    if (scale_ && shift_)
      execute(prim_, ctx,
              {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}, {DNNL_ARG_SCRATCHPAD, ctx.scratch},
               {DNNL_ARG_SCALE, ctx.data(info_.inputs[1])}, {DNNL_ARG_SHIFT, ctx.data(info_.inputs[2])}},
              info_);
    else if (scale_)
      execute(prim_, ctx,
              {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}, {DNNL_ARG_SCRATCHPAD, ctx.scratch},
               {DNNL_ARG_SCALE, ctx.data(info_.inputs[1])}},
              info_);
    else if (shift_)
      execute(prim_, ctx,
              {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}, {DNNL_ARG_SCRATCHPAD, ctx.scratch},
               {DNNL_ARG_SHIFT, ctx.data(info_.inputs[2])}},
              info_);
    else
      execute(prim_, ctx, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}, {DNNL_ARG_SCRATCHPAD, ctx.scratch}}, info_);
  }

 private:
  NodeInfo info_;
  dnnl::layer_normalization_forward prim_;
  size_t scratch_ = 0;
  bool scale_, shift_;
};

class LayerNormKernel final : public NodeKernel {
 public:
  LayerNormKernel(NodeInfo info, int64_t axis, float eps) : NodeKernel(std::move(info)), axis_(axis), eps_(eps) {}

  std::unique_ptr<Step> prepare(const sdk::ShapeSet& shapes) const override {
    auto x = in_dims(shapes, 0);
    expect_output(shapes, 0, x);
    auto axis = normalize_axis(axis_, static_cast<int64_t>(x.size()));
    if (!axis) info_.fail("axis " + std::to_string(axis_) + " is out of range for rank " + std::to_string(x.size()));
    auto norm = x.subspan(static_cast<size_t>(*axis));
    for (size_t i = 1; i <= 2; ++i) {
      if (!has_input(i)) continue;
      auto p = in_dims(shapes, i);
      if (!std::equal(p.begin(), p.end(), norm.begin(), norm.end()))
        info_.fail(std::string(i == 1 ? "weight " : "bias ") + dims_str(p) + " must have shape " + dims_str(norm));
    }
    const int64_t inner = count(norm), outer = count(x.first(static_cast<size_t>(*axis)));
    if (inner == 0 || outer == 0) return std::make_unique<NoStep>();
    return std::make_unique<LayerNormStep>(info_, outer, inner, eps_, has_input(1), has_input(2));
  }

 private:
  int64_t axis_;
  float eps_;
};

std::optional<std::string> check_layer_norm(const sdk::NodeView& node) {
  if (auto r = check_arity(node, 1, 3, 1)) return r;
  for (size_t i = 0; i < node.num_inputs(); ++i) {
    if (auto r = check_dtype(node, i, {LOOM_DTYPE_F32})) return r;
    if (auto r = check_rank(node, i, kMaxDnnlRank)) return r;
  }
  if (!normalize_axis(attr_int(node, "axis", -1), node.input(0).rank()))
    return "axis " + std::to_string(attr_int(node, "axis", -1)) + " is out of range for rank " +
           std::to_string(node.input(0).rank());
  return std::nullopt;
}

std::unique_ptr<NodeKernel> compile_layer_norm(const sdk::NodeView& node, NodeInfo info) {
  return std::make_unique<LayerNormKernel>(std::move(info), attr_int(node, "axis", -1),
                                           static_cast<float>(attr_float(node, "epsilon", 1e-5)));
}

// ---------------------------------------------------------------- softmax

class SoftmaxStep final : public Step {
 public:
  SoftmaxStep(const NodeInfo& info, std::span<const int64_t> x, int axis, std::optional<Broadcast> mask)
      : info_(info), mask_(mask) {
    auto md = plain_md(x, dt::f32);
    dnnl::softmax_v2_forward::primitive_desc pd(
        {dnnl::prop_kind::forward_inference, dnnl::algorithm::softmax_accurate, md, md, axis},
        user_scratchpad_attr(), cpu_engine());
    prim_ = dnnl::softmax_v2_forward(pd);
    scratch_ = pd.scratchpad_desc().get_size();
    memory_descs = {md, md, pd.scratchpad_desc()};
  }
  size_t scratch_bytes() const override { return scratch_; }
  void run(const RunContext& ctx) const override {
    float* dst = ctx.as<float>(info_.outputs[0]);
    const float* src = ctx.as<const float>(info_.inputs[0]);
    if (mask_) {
      mask_->apply(src, ctx.as<const float>(info_.inputs[1]), dst, [](float a, float b) { return a + b; });
      src = dst;
    }
    execute(prim_, ctx,
            {{DNNL_ARG_SRC, const_cast<float*>(src)}, {DNNL_ARG_DST, dst}, {DNNL_ARG_SCRATCHPAD, ctx.scratch}},
            info_);
  }

 private:
  NodeInfo info_;
  std::optional<Broadcast> mask_;
  dnnl::softmax_v2_forward prim_;
  size_t scratch_ = 0;
};

class SoftmaxKernel final : public NodeKernel {
 public:
  SoftmaxKernel(NodeInfo info, int64_t axis) : NodeKernel(std::move(info)), axis_(axis) {}

  std::unique_ptr<Step> prepare(const sdk::ShapeSet& shapes) const override {
    auto x = in_dims(shapes, 0);
    expect_output(shapes, 0, x);
    auto axis = normalize_axis(axis_, static_cast<int64_t>(x.size()));
    if (!axis) info_.fail("axis " + std::to_string(axis_) + " is out of range for rank " + std::to_string(x.size()));
    std::optional<Broadcast> mask;
    if (has_input(1)) {
      auto m = in_dims(shapes, 1);
      auto b = broadcast_dims(x, m);
      if (!b || !std::equal(b->begin(), b->end(), x.begin(), x.end()))
        info_.fail("mask " + dims_str(m) + " does not broadcast to x " + dims_str(x));
      mask = Broadcast::make(x, x, m);
      if (!mask) info_.fail("mask " + dims_str(m) + " needs more than " + std::to_string(kMaxLoopRank) + " dims");
    }
    if (count(x) == 0) return std::make_unique<NoStep>();
    return std::make_unique<SoftmaxStep>(info_, x, static_cast<int>(*axis), mask);
  }

 private:
  int64_t axis_;
};

std::optional<std::string> check_softmax(const sdk::NodeView& node) {
  if (auto r = check_arity(node, 1, 2, 1)) return r;
  for (size_t i = 0; i < node.num_inputs(); ++i) {
    if (auto r = check_dtype(node, i, {LOOM_DTYPE_F32})) return r;
    if (auto r = check_rank(node, i, kMaxLoopRank)) return r;
  }
  if (node.input(0).rank() < 1) return "input '" + std::string(node.input(0).name()) + "' is a scalar";
  if (!normalize_axis(attr_int(node, "axis", -1), node.input(0).rank()))
    return "axis " + std::to_string(attr_int(node, "axis", -1)) + " is out of range for rank " +
           std::to_string(node.input(0).rank());
  return std::nullopt;
}

std::unique_ptr<NodeKernel> compile_softmax(const sdk::NodeView& node, NodeInfo info) {
  return std::make_unique<SoftmaxKernel>(std::move(info), attr_int(node, "axis", -1));
}

}  // namespace

std::vector<OpEntry> norm_ops() {
  return {{"layer_norm", check_layer_norm, compile_layer_norm}, {"softmax", check_softmax, compile_softmax}};
}

}  // namespace loom::onednn
