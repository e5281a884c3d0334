// conv2d (f32, PyTorch's layouts, stride and zero padding): shaders/conv2d.comp, one invocation
// per output element.
#include "kernel.hpp"

namespace loom::vulkan {
namespace {

const ShaderInterface kConv2d{"conv2d", 4, 19 * 4};

class Conv2dKernel final : public GridKernel {
 public:
  Conv2dKernel(const sdk::NodeView& node, const CompileContext& c) : GridKernel(node, c, kConv2d, {}) {
    auto stride = node.attr_ints("stride"), padding = node.attr_ints("padding");
    stride_.assign(stride.begin(), stride.end());
    padding_.assign(padding.begin(), padding.end());
  }

  void prepare(const sdk::ShapeSet& shapes, Prepared& out) const override {
    const auto x = shapes.dims(static_cast<size_t>(node_.inputs[0]));
    const auto w = shapes.dims(static_cast<size_t>(node_.inputs[1]));
    const auto o = shapes.dims(static_cast<size_t>(node_.outputs[0]));
    const int64_t count = numel(o);
    if (count == 0) return;
    const std::string where = node_.where();
    const int32_t bias = node_.inputs.size() > 2 ? node_.inputs[2] : -1;
    const Grid g = grid(count);
    out.push_back({node_.name, pipeline_, {node_.inputs[0], node_.inputs[1], bias, node_.outputs[0]},
                   {0, 0, 0, 0, index32(count, where), g.row_groups, index32(x[1], where), index32(x[2], where), index32(x[3], where),
                    index32(o[1], where), index32(o[2], where), index32(o[3], where), index32(w[2], where), index32(w[3], where),
                    index32(stride_[0], where), index32(stride_[1], where), index32(padding_[0], where), index32(padding_[1], where),
                    bias >= 0 ? 1u : 0u},
                   {g.x, g.y, 1}});
  }

 private:
  Dims stride_, padding_;
};

std::optional<std::string> check_conv2d(const sdk::NodeView& node) {
  if (node.num_inputs() < 2 || !node.has_input(0) || !node.has_input(1) || node.num_outputs() != 1)
    return "expects inputs x, weight and one output";
  if (auto why = check_f32(node)) return why;
  if (node.input(0).rank() != 4 || node.input(1).rank() != 4) return "expects 4-D x and weight";
  if (node.attr_ints("stride").size() != 2 || node.attr_ints("padding").size() != 2) return "expects two strides and two paddings";
  return std::nullopt;
}

std::unique_ptr<NodeKernel> compile_conv2d(const sdk::NodeView& node, const CompileContext& c) {
  return std::make_unique<Conv2dKernel>(node, c);
}

}  // namespace

std::vector<OpEntry> conv_ops() { return {{"conv2d", check_conv2d, compile_conv2d}}; }

}  // namespace loom::vulkan
