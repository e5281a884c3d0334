// conv2d on oneDNN's convolution primitive, over the plain layouts the host holds (NCHW data,
// OIHW weights): the vision models' patch embedding is one such call per image batch.
#include "kernel.hpp"

namespace loom::onednn {
namespace {

using dt = dnnl::memory::data_type;

class ConvStep final : public Step {
 public:
  ConvStep(const NodeInfo& info, const Dims& x, const Dims& w, const Dims& out, const Dims& stride, const Dims& padding, bool bias)
      : info_(info), bias_(bias) {
    const auto src = plain_md(x, dt::f32), weights = plain_md(w, dt::f32), dst = plain_md(out, dt::f32);
    const int64_t b[] = {w[0]};
    const auto bias_md = plain_md(b, dt::f32);
    const dnnl::memory::dims strides(stride.begin(), stride.end()), pads(padding.begin(), padding.end());
    auto desc = bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src,
                                                       weights, bias_md, dst, strides, pads, pads)
                     : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src,
                                                       weights, dst, strides, pads, pads);
    dnnl::convolution_forward::primitive_desc pd(desc, user_scratchpad_attr(), cpu_engine());
    prim_ = dnnl::convolution_forward(pd);
    scratch_ = pd.scratchpad_desc().get_size();
    memory_descs = {src, weights, dst, pd.scratchpad_desc()};
    if (bias) memory_descs.push_back(bias_md);
  }
  size_t scratch_bytes() const override { return scratch_; }
  void run(const RunContext& ctx) const override {
    void* src = ctx.data(info_.inputs[0]);
    void* w = ctx.data(info_.inputs[1]);
    void* dst = ctx.data(info_.outputs[0]);
    if (bias_)
      execute(prim_, ctx,
              {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, dst}, {DNNL_ARG_SCRATCHPAD, ctx.scratch},
               {DNNL_ARG_BIAS, ctx.data(info_.inputs[2])}},
              info_);
    else
      execute(prim_, ctx, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, dst}, {DNNL_ARG_SCRATCHPAD, ctx.scratch}}, info_);
  }

 private:
  NodeInfo info_;
  dnnl::convolution_forward prim_;
  size_t scratch_ = 0;
  bool bias_;
};

class ConvKernel final : public NodeKernel {
 public:
  ConvKernel(NodeInfo info, Dims stride, Dims padding) : NodeKernel(std::move(info)), stride_(std::move(stride)), padding_(std::move(padding)) {}

  std::unique_ptr<Step> prepare(const sdk::ShapeSet& shapes) const override {
    auto x = in_dims(shapes, 0), w = in_dims(shapes, 1);
    if (x[1] != w[1]) info_.fail("x " + dims_str(x) + " has " + std::to_string(x[1]) + " channels, weight " + dims_str(w) + " takes " + std::to_string(w[1]));
    if (has_input(2)) {
      auto b = in_dims(shapes, 2);
      if (b.size() != 1 || b[0] != w[0]) info_.fail("bias " + dims_str(b) + " does not match weight " + dims_str(w));
    }
    Dims out = {x[0], w[0], 0, 0};
    for (int i = 0; i < 2; ++i) {
      const int64_t span = x[2 + i] + 2 * padding_[i];
      if (w[2 + i] > span || w[2 + i] < 1) info_.fail("kernel " + dims_str(w) + " does not fit the padded input " + dims_str(x));
      out[2 + i] = (span - w[2 + i]) / stride_[i] + 1;
    }
    expect_output(shapes, 0, out);
    if (count(out) == 0) return std::make_unique<NoStep>();
    if (x[1] == 0) info_.fail("x has no channels");
    return std::make_unique<ConvStep>(info_, Dims(x.begin(), x.end()), Dims(w.begin(), w.end()), out, stride_, padding_, has_input(2));
  }

 private:
  Dims stride_, padding_;
};

std::optional<std::string> check_conv(const sdk::NodeView& node) {
  if (auto r = check_arity(node, 2, 3, 1)) return r;
  for (size_t i = 0; i < node.num_inputs(); ++i)
    if (auto r = check_dtype(node, i, {LOOM_DTYPE_F32})) return r;
  if (node.input(0).rank() != 4 || node.input(1).rank() != 4) return std::string("conv2d needs 4-D x and weight");
  const auto stride = attr_ints(node, "stride"), padding = attr_ints(node, "padding");
  if (stride.size() != 2 || padding.size() != 2) return std::string("conv2d needs two strides and two paddings");
  return std::nullopt;
}

std::unique_ptr<NodeKernel> compile_conv(const sdk::NodeView& node, NodeInfo info) {
  return std::make_unique<ConvKernel>(std::move(info), attr_ints(node, "stride"), attr_ints(node, "padding"));
}

}  // namespace

std::vector<OpEntry> conv_ops() { return {{"conv2d", check_conv, compile_conv}}; }

}  // namespace loom::onednn
